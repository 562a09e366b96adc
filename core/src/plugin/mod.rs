//! The wasmtime host for connector components.
//!
//! **Architecture invariants:**
//! - A component is checked before it runs: size cap before compiling, the
//!   `grantscope:connector` contract version it was built for, and its imports
//!   (WASI minus `wasi:sockets` and `wasi:http`, plus our own interfaces — nothing
//!   else).
//! - Every call gets a fresh instance from the pooling allocator, in a store that
//!   serves one tenant and is dropped after the call: nothing one tenant's data
//!   taught a plugin survives into another tenant's scan.
//! - Every call is bounded: linear memory, guest CPU time (epoch interruption, time
//!   spent in host calls excluded), wall-clock time, egress calls, log bytes, bytes
//!   moved into the host, component handles, random bytes. A breach traps the call
//!   and becomes a [`CallError`] naming connector, tenant and task; the host goes on.
//! - Guest output is untrusted input: it is validated and bounded before it becomes
//!   a [`GrantRecord`]; nothing a guest returns can panic the host.
//!
//! Compiled components are cached on disk, named by the SHA-256 of the component and
//! the engine's compatibility hash, and carry a SHA-256 of their own contents that is
//! checked before loading. The cache directory must be private to the operator
//! (it is created with mode 0700): a compiled artifact is native code.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config as EngineConfig, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ResourceLimiter, Store, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::config::Limits;
use crate::egress::{GuestEgressError, HostRequest, TenantEgress, TransportError};
use crate::model::{AppRef, GrantKind, GrantRecord, PrincipalKind, PrincipalRef, RevocationTarget};

/// The current contract (`wit/since_v0.2.0`): the host's own types are these.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

mod v0_1;

use bindings::grantscope::connector::types as wit;

/// The contract version new connectors are built against.
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Every contract version this host loads, newest first. A connector built against
/// an older one keeps working (its calls are translated at the boundary, see
/// `v0_1`): the scheme Zed uses for its extension API.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.2.0", "0.1.0"];
const PACKAGE: &str = "grantscope:connector";

/// Longest wait a connector may ask for in one rate-limit error; the host's own
/// retry budget bounds the total.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Epoch ticks are 10 ms; the CPU budget is checked every tick.
const TICK: Duration = Duration::from_millis(10);
/// Largest string accepted from a guest in a record field.
const MAX_FIELD: usize = 4096;
/// Largest log line kept.
const MAX_LOG_LINE: usize = 4096;
/// Component handles a guest may hold at once.
const MAX_HANDLES: usize = 1000;
/// Random bytes a guest may ask for in one call.
const MAX_RANDOM: u64 = 4096;
/// Captured guest stderr (panic messages), bytes.
const STDERR_CAP: usize = 16 * 1024;

/// A problem loading a component.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Larger than the cap.
    #[error("plugin {source_name} is {size} bytes, over the {cap}-byte limit")]
    TooLarge {
        /// Where it came from.
        source_name: String,
        /// Its size.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// Not a valid component.
    #[error("plugin {source_name} is not a valid WebAssembly component: {reason}")]
    Invalid {
        /// Where it came from.
        source_name: String,
        /// Compiler message.
        reason: String,
    },
    /// Built for a contract version this host does not implement.
    #[error(
        "plugin {source_name} was built for contract {PACKAGE}@{found}; this grantscope loads {PACKAGE}@0.2.0 and @0.1.0: rebuild it against wit/since_v{CONTRACT_VERSION}"
    )]
    UnsupportedContract {
        /// Where it came from.
        source_name: String,
        /// The version it was built for.
        found: String,
    },
    /// It needs something the sandbox does not give.
    #[error("plugin {source_name} imports `{import}`, which the sandbox does not provide: {why}")]
    ForbiddenImport {
        /// Where it came from.
        source_name: String,
        /// The import.
        import: String,
        /// Why not.
        why: &'static str,
    },
    /// The manifest is unusable.
    #[error("plugin {source_name} has an invalid manifest: {reason}")]
    Manifest {
        /// Where it came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// The engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Category of a connector-reported failure (mirrors the WIT `error-code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Settings wrong.
    Config,
    /// Credential refused.
    Unauthenticated,
    /// Permission missing.
    Permission,
    /// Not offered for this tenant.
    Unsupported,
    /// Rate-limited after retries.
    RateLimited,
    /// Unparsable provider answer.
    Malformed,
    /// Provider failure.
    Provider,
    /// Egress failure.
    Egress,
    /// Unknown task or action.
    InvalidInput,
}

impl From<wit::ErrorCode> for ErrorCode {
    fn from(c: wit::ErrorCode) -> Self {
        use wit::ErrorCode as W;
        match c {
            W::Config => ErrorCode::Config,
            W::Unauthenticated => ErrorCode::Unauthenticated,
            W::Permission => ErrorCode::Permission,
            W::Unsupported => ErrorCode::Unsupported,
            W::RateLimited => ErrorCode::RateLimited,
            W::Malformed => ErrorCode::Malformed,
            W::Provider => ErrorCode::Provider,
            W::Egress => ErrorCode::Egress,
            W::InvalidInput => ErrorCode::InvalidInput,
        }
    }
}

/// Why a call into a guest failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Failure {
    /// The connector returned an error.
    #[error("{code:?}: {message}")]
    Connector {
        /// Category.
        code: ErrorCode,
        /// Its message, on one line: the guest's controls, line breaks and
        /// bidirectional overrides are shown as visible escapes.
        message: String,
        /// With [`ErrorCode::RateLimited`]: the wait the provider asked for in a
        /// body only the connector can read (at most [`MAX_RETRY_AFTER`]).
        retry_after: Option<Duration>,
    },
    /// Linear memory cap reached.
    #[error("memory limit of {0} bytes exceeded")]
    Memory(usize),
    /// Guest CPU budget spent.
    #[error("CPU limit of {0:?} exceeded")]
    Cpu(Duration),
    /// Wall-clock budget spent.
    #[error("wall-clock limit of {0:?} exceeded")]
    Wall(Duration),
    /// Too much logging.
    #[error("log limit of {0} bytes exceeded")]
    Log(usize),
    /// The guest returned something the host refuses.
    #[error("invalid output: {0}")]
    Output(String),
    /// Any other trap (unreachable, stack overflow, a panic in the guest, ...).
    #[error("trapped: {0}")]
    Trap(String),
    /// No instance could be made.
    #[error("could not instantiate: {0}")]
    Instantiate(String),
}

impl Failure {
    /// Whether running the same task again may succeed (a flaky provider, not a
    /// broken plugin).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Failure::Connector {
                code: ErrorCode::Malformed | ErrorCode::Provider | ErrorCode::RateLimited,
                ..
            }
        )
    }
}

/// A failed call, with the context an operator needs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("connector `{connector}`, tenant `{tenant}`, {call}: {failure}")]
pub struct CallError {
    /// Connector id.
    pub connector: String,
    /// Tenant name.
    pub tenant: String,
    /// Which call (`start`, `task list-installations`, `revoke ...`).
    pub call: String,
    /// What went wrong.
    pub failure: Failure,
}

/// A connector's self-description, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Connector id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Connector version.
    pub version: String,
    /// Provider id.
    pub provider: String,
    /// Host patterns it may call.
    pub hosts: Vec<String>,
    /// `enumerate`, `revoke`.
    pub capabilities: Vec<String>,
    /// Credential kinds it works with.
    pub credential_kinds: Vec<String>,
    /// Provider permissions the auditor needs.
    pub permissions: Vec<Permission>,
    /// Settings it reads.
    pub settings: Vec<SettingSpec>,
    /// The provider's documented quotas, first match first; empty: the host's
    /// default rate paces every request.
    pub quotas: Vec<QuotaSpec>,
    /// How long reads may still show a revoked grant after the provider confirmed
    /// the revocation, in milliseconds (0: the connector did not say).
    pub consistency_window_ms: u32,
    /// The contract version it was built for.
    pub contract: String,
}

/// A provider's documented quota for one class of endpoints, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaSpec {
    /// Class name, kebab-case, unique in the manifest.
    pub name: String,
    /// Requests allowed per window, for one tenant.
    pub requests: u32,
    /// The window, in seconds (1 to 86,400).
    pub window_secs: u32,
    /// Requests let through back to back (at least 1).
    pub burst: u32,
    /// Path patterns of the class (see the contract's `quota`); empty: every request
    /// no other class claims.
    pub paths: Vec<String>,
    /// Where the provider documents it.
    pub source: String,
}

/// Largest consistency window a connector may declare: ten minutes. Longer would
/// let a connector hold an offboarding's re-reads for hours.
pub const MAX_CONSISTENCY_WINDOW_MS: u32 = 600_000;

/// A provider permission.
#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// Provider's name for it.
    pub name: String,
    /// Why it is needed.
    pub reason: String,
    /// Only revocation needs it.
    pub revoke_only: bool,
}

/// A setting a connector reads.
#[derive(Debug, Clone, Serialize)]
pub struct SettingSpec {
    /// Key.
    pub name: String,
    /// Meaning.
    pub description: String,
    /// Required.
    pub required: bool,
}

/// A unit of enumeration work, opaque to the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct Task {
    /// Name for logs and errors.
    pub kind: String,
    /// Connector-defined payload.
    pub payload: String,
}

/// What one task produced.
#[derive(Debug, Clone)]
pub struct Step {
    /// Grants found (validated, ids already qualified).
    pub grants: Vec<GrantRecord>,
    /// Follow-up tasks.
    pub tasks: Vec<Task>,
}

/// Outcome of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// Provider confirmed.
    Revoked,
    /// Already gone.
    AlreadyGone,
    /// Needs a human.
    ManualRequired,
}

/// The result of `revoke`.
#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    /// Outcome.
    pub status: RevocationStatus,
    /// One sentence, on one line (a guest's controls shown as visible escapes).
    pub detail: String,
    /// What stays for a human, each on one line like `detail`.
    pub manual_steps: Vec<String>,
}

/// The tenant a call is for.
#[derive(Debug, Clone)]
pub struct TenantContext {
    /// Tenant name.
    pub tenant: String,
    /// Non-secret settings.
    pub settings: BTreeMap<String, String>,
}

impl TenantContext {
    fn to_wit(&self) -> wit::Context {
        wit::Context {
            tenant: self.tenant.clone(),
            settings: self
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Which limit a call hit, recorded by the host side before it traps.
#[derive(Debug, Clone, Copy)]
enum Breach {
    Cpu,
    Log,
}

/// A call's guest CPU time: the CPU time of the thread polling the call's future,
/// summed over polls. Wasm runs only inside a poll; a host call that waits (an egress
/// request, a WASI sleep or poll) leaves the future pending, and a thread preempted
/// by others does not advance its CPU clock, so neither counts against the guest.
/// (Wall time minus egress time, the earlier measure, charged a WASI sleep and CPU
/// contention from other tasks to the guest.)
#[derive(Default)]
pub(crate) struct CpuMeter {
    /// Nanoseconds of completed polls.
    spent: std::sync::atomic::AtomicU64,
    /// The thread CPU clock when the running poll began; 0 between polls.
    poll_began: std::sync::atomic::AtomicU64,
}

impl CpuMeter {
    /// CPU time so far, the running poll included (read on the polling thread, as the
    /// epoch callback is).
    fn used(&self) -> Duration {
        use std::sync::atomic::Ordering::Relaxed;
        let began = self.poll_began.load(Relaxed);
        let running = if began == 0 {
            0
        } else {
            thread_cpu_ns().saturating_sub(began)
        };
        Duration::from_nanos(self.spent.load(Relaxed).saturating_add(running))
    }
}

/// The calling thread's CPU clock in nanoseconds (never 0), or a monotonic wall
/// clock where no thread CPU clock exists.
fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            let ns = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
                + u64::try_from(ts.tv_nsec).unwrap_or(0);
            return ns.max(1);
        }
    }
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let origin = ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A guest call's future, metered by [`CpuMeter`] on every poll.
struct Metered<F> {
    inner: std::pin::Pin<Box<F>>,
    meter: Arc<CpuMeter>,
}

impl<F> Metered<F> {
    fn new(meter: Arc<CpuMeter>, inner: F) -> Self {
        Metered {
            inner: Box::pin(inner),
            meter,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        use std::sync::atomic::Ordering::Relaxed;
        let began = thread_cpu_ns();
        self.meter.poll_began.store(began, Relaxed);
        let out = self.inner.as_mut().poll(cx);
        let spent = thread_cpu_ns().saturating_sub(began);
        self.meter.spent.fetch_add(spent, Relaxed);
        self.meter.poll_began.store(0, Relaxed);
        out
    }
}

/// Per-call store data.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    egress: Option<Arc<TenantEgress>>,
    calls_left: u32,
    log_left: usize,
    /// The guest's CPU time in this call (see [`CpuMeter`]).
    meter: Arc<CpuMeter>,
    cpu_limit: Duration,
    breach: Option<Breach>,
    connector: String,
    tenant: String,
    call: String,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and tables, and remembers that it refused.
struct Limiter {
    max_memory: usize,
    hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes exceeded",
                self.max_memory
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl wit::Host for HostState {}

impl bindings::grantscope::connector::egress::Host for HostState {
    async fn send(
        &mut self,
        req: wit::Request,
    ) -> wasmtime::Result<Result<wit::Response, wit::EgressError>> {
        let Some(egress) = self.egress.clone() else {
            return Ok(Err(wit::EgressError::Denied(
                "no network during this call".into(),
            )));
        };
        if self.calls_left == 0 {
            return Ok(Err(wit::EgressError::BudgetExhausted));
        }
        self.calls_left -= 1;
        let method = match req.method {
            wit::Method::Get => reqwest::Method::GET,
            wit::Method::Head => reqwest::Method::HEAD,
            wit::Method::Post => reqwest::Method::POST,
            wit::Method::Put => reqwest::Method::PUT,
            wit::Method::Patch => reqwest::Method::PATCH,
            wit::Method::Delete => reqwest::Method::DELETE,
        };
        let host_req = HostRequest {
            method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            retry_unsafe: false,
        };
        // Waiting on the network leaves the call pending, so the meter does not run.
        let result = egress.send_for_guest(host_req).await;
        Ok(match result {
            Ok(r) => Ok(wit::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(egress_error(e)),
        })
    }
}

fn egress_error(e: GuestEgressError) -> wit::EgressError {
    use wit::EgressError as W;
    match e {
        GuestEgressError::BudgetExhausted => W::BudgetExhausted,
        GuestEgressError::Credential(m) => W::Credential(m),
        GuestEgressError::Transport(t) => match t {
            TransportError::Denied(m) => W::Denied(m),
            TransportError::InvalidUrl(m) => W::InvalidUrl(m),
            TransportError::ForbiddenHeader(h) => W::ForbiddenHeader(h),
            TransportError::TooLarge(n) => W::TooLarge(n),
            TransportError::Timeout => W::Timeout,
            TransportError::Connection(m) => W::Connection(m),
            TransportError::RateLimited => W::RateLimited,
            // The contract has no words for these; to a guest the provider is
            // unreachable. The scheduler reads the transport itself to stop the scan.
            e @ (TransportError::Unreachable { .. } | TransportError::QuotaReserve(_)) => {
                W::Connection(e.to_string())
            }
        },
    }
}

impl bindings::grantscope::connector::log::Host for HostState {
    async fn log(&mut self, level: wit::Level, message: String) -> wasmtime::Result<()> {
        let cost = message.len().max(1);
        if cost > self.log_left {
            self.breach = Some(Breach::Log);
            return Err(wasmtime::format_err!("log limit exceeded"));
        }
        self.log_left -= cost;
        let line = log_line(&message);
        let (connector, tenant, call) = (&self.connector, &self.tenant, &self.call);
        match level {
            wit::Level::Trace => tracing::trace!(connector, tenant, call, "{line}"),
            wit::Level::Debug => tracing::debug!(connector, tenant, call, "{line}"),
            wit::Level::Info => tracing::info!(connector, tenant, call, "{line}"),
            wit::Level::Warn => tracing::warn!(connector, tenant, call, "{line}"),
            wit::Level::Error => tracing::error!(connector, tenant, call, "{line}"),
        }
        Ok(())
    }
}

/// A guest's log message as the host logs it: at most [`MAX_LOG_LINE`] characters
/// on one line. Controls would let a guest forge log lines or drive the operator's
/// terminal: they are shown escaped, like every guest text the host keeps.
fn log_line(message: &str) -> String {
    one_line(message.chars().take(MAX_LOG_LINE).collect())
}

/// Increments the engine epoch every [`TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("grantscope-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine, the linker and the limits, shared by every connector.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache_dir: Option<PathBuf>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Builds the engine with the pooling allocator sized for `capacity` instances
    /// alive at once. `cache_dir` holds compiled components (none: compile each run).
    pub fn new(
        limits: &Limits,
        cache_dir: Option<PathBuf>,
        capacity: u32,
    ) -> Result<Runtime, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(e.to_string());
        let capacity = capacity.max(1);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(capacity)
            .total_core_instances(capacity * 16)
            .max_core_instances_per_component(16)
            .total_memories(capacity * 2)
            .max_memories_per_component(2)
            .total_tables(capacity * 16)
            .max_tables_per_component(16)
            .total_stacks(capacity)
            .total_gc_heaps(capacity)
            .max_memory_size(limits.memory_bytes);
        let mut cfg = EngineConfig::new();
        cfg.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(1 << 20)
            .async_stack_size(2 << 20)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&cfg).map_err(engine_err)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_err)?;
        bindings::Connector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        v0_1::bindings::Connector::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(engine_err)?;
        if let Some(dir) = &cache_dir {
            create_private_dir(dir)
                .map_err(|e| LoadError::Engine(format!("cache dir {}: {e}", dir.display())))?;
        }
        Ok(Runtime {
            _ticker: EpochTicker::start(&engine),
            engine,
            linker,
            limits: limits.clone(),
            cache_dir,
        })
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Loads a connector from a file.
    pub async fn load_file(&self, path: &Path) -> Result<Connector, LoadError> {
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        // Refuse before reading a huge file into memory.
        if meta.len() > self.limits.component_bytes as u64 {
            return Err(LoadError::TooLarge {
                source_name: path.display().to_string(),
                size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
                cap: self.limits.component_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let source_name = path.display().to_string();
        let mut connector = self.load(&source_name, &bytes).await?;
        let m = connector.manifest();
        // First-party ids and providers belong to the embedded connectors: a plugin
        // calling itself `github` would have its grants mapped to GitHub vendors and
        // joined to their offboarding plans.
        for (what, value) in [("id", &m.id), ("provider", &m.provider)] {
            if crate::FIRST_PARTY.contains(&value.as_str()) {
                return Err(LoadError::Manifest {
                    source_name,
                    reason: format!(
                        "declares {what} `{value}`, which is reserved for grantscope's built-in \
                         connector; a third-party connector needs an id and a provider of its own"
                    ),
                });
            }
        }
        connector.origin = Some(crate::model::PluginSource {
            path: source_name,
            sha256: hex::encode(Sha256::digest(&bytes)),
        });
        Ok(connector)
    }

    /// Loads a connector: checks size, compiles (or loads the cached compile),
    /// checks contract version and imports, then reads and validates its manifest.
    pub async fn load(&self, source_name: &str, bytes: &[u8]) -> Result<Connector, LoadError> {
        if bytes.len() > self.limits.component_bytes {
            return Err(LoadError::TooLarge {
                source_name: source_name.to_owned(),
                size: bytes.len(),
                cap: self.limits.component_bytes,
            });
        }
        let component = self.compile(source_name, bytes)?;
        let contract = check_component(&self.engine, &component, source_name)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Invalid {
                source_name: source_name.to_owned(),
                reason: e.to_string(),
            })?;
        let invalid = |e: wasmtime::Error| LoadError::Invalid {
            source_name: source_name.to_owned(),
            reason: e.to_string(),
        };
        let pre = if contract == CONTRACT_VERSION {
            Pre::Now(bindings::ConnectorPre::new(pre).map_err(invalid)?)
        } else {
            Pre::V0_1(v0_1::bindings::ConnectorPre::new(pre).map_err(invalid)?)
        };
        let mut connector = Connector {
            pre,
            engine: self.engine.clone(),
            limits: self.limits.clone(),
            manifest: None,
            source_name: source_name.to_owned(),
            origin: None,
        };
        let manifest = connector
            .call_manifest()
            .await
            .map_err(|e| LoadError::Manifest {
                source_name: source_name.to_owned(),
                reason: e.failure.to_string(),
            })?;
        let manifest =
            validate_manifest(manifest, contract).map_err(|reason| LoadError::Manifest {
                source_name: source_name.to_owned(),
                reason,
            })?;
        connector.manifest = Some(manifest);
        Ok(connector)
    }

    fn compile(&self, source_name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid {
            source_name: source_name.to_owned(),
            reason: e.to_string(),
        };
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, bytes).map_err(invalid);
        };
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let name = format!(
            "{}-{:016x}.cwasm",
            hex::encode(Sha256::digest(bytes)),
            engine_hash.finish()
        );
        let path = dir.join(name);
        if let Ok(data) = std::fs::read(&path)
            && data.len() > 32
            && Sha256::digest(&data[32..])[..] == data[..32]
        {
            // SAFETY: the artifact was written by `serialize` below for this exact
            // component and engine (both in its name), and its checksum matches, so
            // it is the bytes we produced. Foreign artifacts are never loaded.
            if let Ok(c) = unsafe { Component::deserialize(&self.engine, &data[32..]) } {
                return Ok(c);
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        if let Ok(serialized) = component.serialize() {
            let mut data = Sha256::digest(&serialized).to_vec();
            data.extend_from_slice(&serialized);
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            // A cache that cannot be written only costs a recompile next time.
            if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, &path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(component)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Checks the component's contract version and imports without instantiating it.
/// Returns the contract version.
fn check_component(
    engine: &Engine,
    component: &Component,
    source_name: &str,
) -> Result<String, LoadError> {
    let ty = component.component_type();
    let plugin_prefix = format!("{PACKAGE}/plugin@");
    let mut contract = None;
    for (name, _) in ty.exports(engine) {
        if let Some(version) = name.strip_prefix(&plugin_prefix) {
            contract = Some(version.to_owned());
        }
    }
    let Some(contract) = contract else {
        return Err(LoadError::Invalid {
            source_name: source_name.to_owned(),
            reason: format!(
                "it exports no `{PACKAGE}/plugin` interface: is it a grantscope connector?"
            ),
        });
    };
    if !SUPPORTED_CONTRACTS.contains(&contract.as_str()) {
        return Err(LoadError::UnsupportedContract {
            source_name: source_name.to_owned(),
            found: contract,
        });
    }
    for (name, _) in ty.imports(engine) {
        let forbidden = |why| LoadError::ForbiddenImport {
            source_name: source_name.to_owned(),
            import: name.to_owned(),
            why,
        };
        if name.starts_with("wasi:sockets/") {
            return Err(forbidden(
                "connectors reach the network only through grantscope:connector/egress",
            ));
        }
        if name.starts_with("wasi:http/") {
            return Err(forbidden(
                "connectors reach the network only through grantscope:connector/egress",
            ));
        }
        if name.starts_with("wasi:") {
            continue;
        }
        if let Some(rest) = name.strip_prefix(&format!("{PACKAGE}/")) {
            match rest.split_once('@') {
                // Its imports must be of the contract it exports: the host binds one
                // version per instance.
                Some((_, v)) if v == contract => continue,
                Some((_, v)) => {
                    return Err(LoadError::UnsupportedContract {
                        source_name: source_name.to_owned(),
                        found: v.to_owned(),
                    });
                }
                None => return Err(forbidden("imports of the contract must be versioned")),
            }
        }
        return Err(forbidden(
            "only WASI and the grantscope contract are provided",
        ));
    }
    Ok(contract)
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// Names of cloud metadata services, which no connector has a reason to declare: a
/// manifest naming one is refused at load, before any resolver is asked.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "metadata.packet.net",
    "metadata.platformequinix.com",
];

/// Refuses a declared host (already a syntactic DNS name, lowercase) that is a
/// numeric address in a non-canonical form, a metadata service, or a wildcard over a
/// public suffix.
fn check_manifest_host(h: &str) -> Result<(), String> {
    let bare = h.strip_prefix("*.").unwrap_or(h);
    // `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`: resolvers (and URL parsers)
    // read these as IPv4 addresses, so they would slip past a check on names. A
    // canonical dotted quad is left to the egress policy, which classifies addresses.
    let last = bare.rsplit('.').next().unwrap_or(bare);
    let numeric = |l: &str| {
        !l.is_empty()
            && (l.bytes().all(|b| b.is_ascii_digit())
                || (l.len() > 2
                    && l.starts_with("0x")
                    && l[2..].bytes().all(|b| b.is_ascii_hexdigit())))
    };
    if numeric(last) {
        let canonical = bare.split('.').count() == 4
            && bare.split('.').all(|l| {
                l.bytes().all(|b| b.is_ascii_digit())
                    && l.parse::<u8>().is_ok()
                    && (l == "0" || !l.starts_with('0'))
            });
        if h.starts_with("*.") || !canonical {
            return Err(format!(
                "host `{}` is a numeric address in a form resolvers read as IPv4; declare a DNS name",
                clip(h)
            ));
        }
    }
    if METADATA_NAMES.contains(&bare) || bare.ends_with(".internal") {
        return Err(format!(
            "host `{}` names a cloud metadata service or an internal zone",
            clip(h)
        ));
    }
    if h.starts_with("*.") {
        use psl::Psl as _;
        let is_suffix = psl::List
            .suffix(bare.as_bytes())
            .is_some_and(|s| s.is_known() && s.as_bytes() == bare.as_bytes());
        if is_suffix {
            return Err(format!(
                "host `{}` wildcards a public suffix, which would reach every site under it; \
                 declare the provider's own domain",
                clip(h)
            ));
        }
    }
    Ok(())
}

fn validate_manifest(m: wit::PluginManifest, contract: String) -> Result<Manifest, String> {
    if !is_kebab(&m.id) {
        return Err(format!("id `{}` must be kebab-case", clip(&m.id)));
    }
    if !is_kebab(&m.provider) {
        return Err(format!(
            "provider `{}` must be kebab-case",
            clip(&m.provider)
        ));
    }
    if m.hosts.is_empty() || m.hosts.len() > 64 {
        return Err("it must declare between 1 and 64 hosts".into());
    }
    for h in &m.hosts {
        let bare = h.strip_prefix("*.").unwrap_or(h);
        let ok = !bare.is_empty()
            && bare.len() <= 253
            && (bare.contains('.') || !h.starts_with("*."))
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(format!(
                "host `{}` must be a DNS name or `*.` + a DNS name",
                clip(h)
            ));
        }
        check_manifest_host(&h.to_ascii_lowercase())?;
    }
    if m.credential_kinds.is_empty() {
        return Err("it declares no credential kind".into());
    }
    let text_ok = |s: &str| s.len() <= MAX_FIELD;
    let all_text = [&m.name, &m.version]
        .into_iter()
        .chain(&m.credential_kinds)
        .chain(m.permissions.iter().flat_map(|p| [&p.name, &p.reason]))
        .chain(m.settings.iter().flat_map(|s| [&s.name, &s.description]))
        .all(|s| text_ok(s));
    if !all_text || m.permissions.len() > 256 || m.settings.len() > 256 {
        return Err("a field is too long or a list too large".into());
    }
    let quotas = validate_quotas(m.quotas)?;
    if m.consistency_window_ms > MAX_CONSISTENCY_WINDOW_MS {
        return Err(format!(
            "consistency window of {} ms is over the limit of {MAX_CONSISTENCY_WINDOW_MS} ms",
            m.consistency_window_ms
        ));
    }
    Ok(Manifest {
        id: m.id,
        name: m.name,
        version: m.version,
        provider: m.provider,
        hosts: m
            .hosts
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        capabilities: m
            .capabilities
            .into_iter()
            .map(|c| match c {
                wit::Capability::Enumerate => "enumerate".to_owned(),
                wit::Capability::Revoke => "revoke".to_owned(),
            })
            .collect(),
        credential_kinds: m.credential_kinds,
        permissions: m
            .permissions
            .into_iter()
            .map(|p| Permission {
                name: p.name,
                reason: p.reason,
                revoke_only: p.revoke_only,
            })
            .collect(),
        settings: m
            .settings
            .into_iter()
            .map(|s| SettingSpec {
                name: s.name,
                description: s.description,
                required: s.required,
            })
            .collect(),
        quotas,
        consistency_window_ms: m.consistency_window_ms,
        contract,
    })
}

/// Checks a manifest's quotas: what the pacer will trust to decide how fast to
/// call a provider, so a nonsensical one is refused at load rather than guessed at.
fn validate_quotas(quotas: Vec<wit::Quota>) -> Result<Vec<QuotaSpec>, String> {
    if quotas.len() > 64 {
        return Err(format!("{} quotas, over the limit of 64", quotas.len()));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(quotas.len());
    for q in quotas {
        let name = clip(&q.name);
        if !is_kebab(&q.name) {
            return Err(format!("quota `{name}` must be kebab-case"));
        }
        if !seen.insert(q.name.clone()) {
            return Err(format!("quota `{name}` is declared twice"));
        }
        if q.requests == 0 {
            return Err(format!("quota `{name}` allows no request"));
        }
        if !(1..=86_400).contains(&q.window_secs) {
            return Err(format!(
                "quota `{name}` has a window of {} s; it must be 1 to 86400 s",
                q.window_secs
            ));
        }
        if q.paths.len() > 64 {
            return Err(format!("quota `{name}` has over 64 path patterns"));
        }
        for p in &q.paths {
            if !p.starts_with('/') || p.len() > 512 || p.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "quota `{name}` path pattern `{}` must start with `/`, be at most 512 \
                     bytes and hold no control character",
                    clip(p)
                ));
            }
        }
        if q.source.len() > MAX_FIELD {
            return Err(format!(
                "quota `{name}` has a source over {MAX_FIELD} bytes"
            ));
        }
        out.push(QuotaSpec {
            name: q.name,
            requests: q.requests,
            window_secs: q.window_secs,
            burst: q.burst.clamp(1, 1_000_000),
            paths: q.paths,
            source: one_line(q.source),
        });
    }
    Ok(out)
}

/// A guest string quoted in a host message (an id, a task kind): at most 80
/// characters, on one line.
fn clip(s: &str) -> String {
    one_line(s.chars().take(80).collect())
}

/// A guest's text made one line with nothing a terminal acts on (controls, line
/// breaks, bidirectional overrides shown as visible escapes), before it becomes
/// part of an error, a log line or the journal: wherever it is printed later, it
/// cannot hide or forge what surrounds it.
fn one_line(s: String) -> String {
    match crate::text::escape(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// A component ready to instantiate, bound to the contract version it was built for.
enum Pre {
    Now(bindings::ConnectorPre<HostState>),
    V0_1(v0_1::bindings::ConnectorPre<HostState>),
}

/// One instance; its calls take and return the current contract's types, whatever
/// version the component speaks.
enum Instance {
    Now(bindings::Connector),
    V0_1(v0_1::bindings::Connector),
}

impl Instance {
    async fn manifest(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<wit::PluginManifest> {
        match self {
            Instance::Now(i) => i.grantscope_connector_plugin().call_manifest(store).await,
            Instance::V0_1(i) => {
                let m = i.grantscope_connector_plugin().call_manifest(store).await?;
                Ok(v0_1::manifest(m))
            }
        }
    }

    async fn start(
        &self,
        store: &mut Store<HostState>,
        ctx: &wit::Context,
    ) -> wasmtime::Result<Result<Vec<wit::Task>, wit::Error>> {
        match self {
            Instance::Now(i) => i.grantscope_connector_plugin().call_start(store, ctx).await,
            Instance::V0_1(i) => {
                let r = i
                    .grantscope_connector_plugin()
                    .call_start(store, &v0_1::context(ctx))
                    .await?;
                Ok(r.map(v0_1::tasks).map_err(v0_1::error))
            }
        }
    }

    async fn run(
        &self,
        store: &mut Store<HostState>,
        ctx: &wit::Context,
        task: &wit::Task,
    ) -> wasmtime::Result<Result<wit::Step, wit::Error>> {
        match self {
            Instance::Now(i) => {
                i.grantscope_connector_plugin()
                    .call_run(store, ctx, task)
                    .await
            }
            Instance::V0_1(i) => {
                let r = i
                    .grantscope_connector_plugin()
                    .call_run(store, &v0_1::context(ctx), &v0_1::task_to(task))
                    .await?;
                Ok(r.map(v0_1::step).map_err(v0_1::error))
            }
        }
    }

    async fn revoke(
        &self,
        store: &mut Store<HostState>,
        ctx: &wit::Context,
        target: &wit::RevocationTarget,
    ) -> wasmtime::Result<Result<wit::Revocation, wit::Error>> {
        match self {
            Instance::Now(i) => {
                i.grantscope_connector_plugin()
                    .call_revoke(store, ctx, target)
                    .await
            }
            Instance::V0_1(i) => {
                let r = i
                    .grantscope_connector_plugin()
                    .call_revoke(store, &v0_1::context(ctx), &v0_1::target_to(target))
                    .await?;
                Ok(r.map(v0_1::revocation).map_err(v0_1::error))
            }
        }
    }

    async fn probe(
        &self,
        store: &mut Store<HostState>,
        ctx: &wit::Context,
        target: &wit::RevocationTarget,
    ) -> wasmtime::Result<Result<wit::TargetState, wit::Error>> {
        match self {
            Instance::Now(i) => {
                i.grantscope_connector_plugin()
                    .call_probe(store, ctx, target)
                    .await
            }
            Instance::V0_1(i) => {
                let r = i
                    .grantscope_connector_plugin()
                    .call_probe(store, &v0_1::context(ctx), &v0_1::target_to(target))
                    .await?;
                Ok(r.map(v0_1::target_state).map_err(v0_1::error))
            }
        }
    }
}

/// A loaded, checked connector. Each call instantiates it afresh.
pub struct Connector {
    pre: Pre,
    engine: Engine,
    limits: Limits,
    manifest: Option<Manifest>,
    source_name: String,
    origin: Option<crate::model::PluginSource>,
}

impl Connector {
    /// The file a third-party connector came from, with its hash; `None` for an
    /// embedded one.
    pub fn origin(&self) -> Option<&crate::model::PluginSource> {
        self.origin.as_ref()
    }

    /// Its validated manifest.
    pub fn manifest(&self) -> &Manifest {
        // Set by `Runtime::load` before the connector is handed out.
        self.manifest
            .as_ref()
            .unwrap_or_else(|| unreachable!("manifest is set at load"))
    }

    fn id(&self) -> String {
        self.manifest
            .as_ref()
            .map(|m| m.id.clone())
            .unwrap_or_else(|| self.source_name.clone())
    }

    async fn instantiate(
        &self,
        egress: Option<Arc<TenantEgress>>,
        tenant: &str,
        call: &str,
    ) -> Result<(Store<HostState>, Instance), CallError> {
        let stderr = MemoryOutputPipe::new(STDERR_CAP);
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM)
            .stderr(stderr)
            .build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory: self.limits.memory_bytes,
                hit: false,
            },
            egress,
            calls_left: self.limits.egress_calls,
            log_left: self.limits.log_bytes,
            meter: Arc::new(CpuMeter::default()),
            cpu_limit: self.limits.cpu_per_call,
            breach: None,
            connector: self.id(),
            tenant: tenant.to_owned(),
            call: call.to_owned(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(self.limits.hostcall_fuel);
        store.set_max_component_handles(MAX_HANDLES);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            if s.meter.used() > s.cpu_limit {
                s.breach = Some(Breach::Cpu);
                return Err(wasmtime::format_err!("CPU limit exceeded"));
            }
            // Yielding lets other tasks on this worker thread make progress while a
            // guest computes.
            Ok(UpdateDeadline::Yield(1))
        });
        let instance = match &self.pre {
            Pre::Now(pre) => pre.instantiate_async(&mut store).await.map(Instance::Now),
            Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(Instance::V0_1),
        }
        .map_err(|e| self.error(tenant, call, Failure::Instantiate(one_line(e.to_string()))))?;
        Ok((store, instance))
    }

    fn error(&self, tenant: &str, call: &str, failure: Failure) -> CallError {
        CallError {
            connector: self.id(),
            tenant: tenant.to_owned(),
            call: call.to_owned(),
            failure,
        }
    }

    /// Turns the outcome of a guest call (with its wall-clock timeout) into a value
    /// or a [`Failure`] that names the limit breached.
    fn settle<R>(
        &self,
        store: &Store<HostState>,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, Failure> {
        let result = match outcome {
            Err(_) => return Err(Failure::Wall(self.limits.wall_per_call)),
            Ok(r) => r,
        };
        result.map_err(|e| {
            let state = store.data();
            if state.limiter.hit {
                return Failure::Memory(self.limits.memory_bytes);
            }
            match state.breach {
                Some(Breach::Cpu) => Failure::Cpu(self.limits.cpu_per_call),
                Some(Breach::Log) => Failure::Log(self.limits.log_bytes),
                // wasmtime's hostcall-fuel error type is private; its message is
                // the only way to tell a transfer-size breach from other traps.
                None if e.to_string().contains("fuel allocated for hostcalls") => {
                    Failure::Output(format!(
                        "the guest moved more than {} bytes into the host in one call",
                        self.limits.hostcall_fuel
                    ))
                }
                None => Failure::Trap(trap_message(&e)),
            }
        })
    }

    async fn call_manifest(&self) -> Result<wit::PluginManifest, CallError> {
        let call = "manifest";
        let (mut store, inst) = self.instantiate(None, "-", call).await?;
        let meter = Arc::clone(&store.data().meter);
        let outcome = tokio::time::timeout(
            self.limits.wall_per_call,
            Metered::new(meter, inst.manifest(&mut store)),
        )
        .await;
        self.settle(&store, outcome)
            .map_err(|f| self.error("-", call, f))
    }

    /// Plans a scan: the first tasks.
    pub async fn start(
        &self,
        egress: Arc<TenantEgress>,
        ctx: &TenantContext,
    ) -> Result<Vec<Task>, CallError> {
        let call = "start";
        let tenant = ctx.tenant.as_str();
        let (mut store, inst) = self.instantiate(Some(egress), tenant, call).await?;
        let meter = Arc::clone(&store.data().meter);
        let outcome = tokio::time::timeout(
            self.limits.wall_per_call,
            Metered::new(meter, inst.start(&mut store, &ctx.to_wit())),
        )
        .await;
        let tasks = self
            .settle(&store, outcome)
            .and_then(connector_result)
            .map_err(|f| self.error(tenant, call, f))?;
        self.check_tasks(&tasks)
            .map_err(|f| self.error(tenant, call, f))?;
        Ok(tasks.into_iter().map(task_from_wit).collect())
    }

    /// Runs one task.
    pub async fn run(
        &self,
        egress: Arc<TenantEgress>,
        ctx: &TenantContext,
        task: &Task,
    ) -> Result<Step, CallError> {
        let call = format!("task {}", clip(&task.kind));
        let tenant = ctx.tenant.as_str();
        let (mut store, inst) = self.instantiate(Some(egress), tenant, &call).await?;
        let wit_task = wit::Task {
            kind: task.kind.clone(),
            payload: task.payload.clone(),
        };
        let meter = Arc::clone(&store.data().meter);
        let outcome = tokio::time::timeout(
            self.limits.wall_per_call,
            Metered::new(meter, inst.run(&mut store, &ctx.to_wit(), &wit_task)),
        )
        .await;
        let step = self
            .settle(&store, outcome)
            .and_then(connector_result)
            .map_err(|f| self.error(tenant, &call, f))?;
        self.step_from_wit(tenant, step)
            .map_err(|f| self.error(tenant, &call, f))
    }

    /// Revokes one grant.
    pub async fn revoke(
        &self,
        egress: Arc<TenantEgress>,
        ctx: &TenantContext,
        grant_id: &str,
        target: &RevocationTarget,
    ) -> Result<Revocation, CallError> {
        let call = format!("revoke {}", clip(grant_id));
        let tenant = ctx.tenant.as_str();
        let (mut store, inst) = self.instantiate(Some(egress), tenant, &call).await?;
        let t = wit_target(grant_id, target);
        let meter = Arc::clone(&store.data().meter);
        let outcome = tokio::time::timeout(
            self.limits.wall_per_call,
            Metered::new(meter, inst.revoke(&mut store, &ctx.to_wit(), &t)),
        )
        .await;
        let r = self
            .settle(&store, outcome)
            .and_then(connector_result)
            .map_err(|f| self.error(tenant, &call, f))?;
        Ok(revocation_from_wit(r))
    }

    /// Re-reads a target: `true` when it still exists.
    pub async fn probe(
        &self,
        egress: Arc<TenantEgress>,
        ctx: &TenantContext,
        grant_id: &str,
        target: &RevocationTarget,
    ) -> Result<bool, CallError> {
        let call = format!("probe {}", clip(grant_id));
        let tenant = ctx.tenant.as_str();
        let (mut store, inst) = self.instantiate(Some(egress), tenant, &call).await?;
        let t = wit_target(grant_id, target);
        let meter = Arc::clone(&store.data().meter);
        let outcome = tokio::time::timeout(
            self.limits.wall_per_call,
            Metered::new(meter, inst.probe(&mut store, &ctx.to_wit(), &t)),
        )
        .await;
        let state = self
            .settle(&store, outcome)
            .and_then(connector_result)
            .map_err(|f| self.error(tenant, &call, f))?;
        Ok(matches!(state, wit::TargetState::Present))
    }

    fn check_tasks(&self, tasks: &[wit::Task]) -> Result<(), Failure> {
        if tasks.len() > self.limits.tasks_per_step {
            return Err(Failure::Output(format!(
                "{} tasks in one step, over the limit of {}",
                tasks.len(),
                self.limits.tasks_per_step
            )));
        }
        for t in tasks {
            if t.kind.is_empty() || t.kind.len() > 128 || t.payload.len() > 64 * 1024 {
                return Err(Failure::Output(
                    "a task kind must be 1–128 bytes and its payload at most 64 KiB".into(),
                ));
            }
        }
        Ok(())
    }

    fn step_from_wit(&self, tenant: &str, step: wit::Step) -> Result<Step, Failure> {
        self.check_tasks(&step.tasks)?;
        if step.grants.len() > self.limits.grants_per_step {
            return Err(Failure::Output(format!(
                "{} grants in one step, over the limit of {}",
                step.grants.len(),
                self.limits.grants_per_step
            )));
        }
        let provider = self.manifest().provider.clone();
        let grants = step
            .grants
            .into_iter()
            .map(|g| grant_from_wit(&provider, tenant, g))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::Output)?;
        Ok(Step {
            grants,
            tasks: step.tasks.into_iter().map(task_from_wit).collect(),
        })
    }
}

fn connector_result<T>(r: Result<T, wit::Error>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Connector {
        retry_after: e
            .retry_after_ms
            .map(|ms| Duration::from_millis(ms).min(MAX_RETRY_AFTER)),
        code: e.code.into(),
        message: one_line(clip_field(e.message)),
    })
}

/// A guest's revocation outcome, bounded, each text on one line: the journal keeps
/// it and every run report prints it.
fn revocation_from_wit(r: wit::Revocation) -> Revocation {
    Revocation {
        status: match r.status {
            wit::RevocationStatus::Revoked => RevocationStatus::Revoked,
            wit::RevocationStatus::AlreadyGone => RevocationStatus::AlreadyGone,
            wit::RevocationStatus::ManualRequired => RevocationStatus::ManualRequired,
        },
        detail: one_line(clip_field(r.detail)),
        manual_steps: r
            .manual_steps
            .into_iter()
            .take(32)
            .map(|s| one_line(clip_field(s)))
            .collect(),
    }
}

fn task_from_wit(t: wit::Task) -> Task {
    Task {
        kind: t.kind,
        payload: t.payload,
    }
}

fn wit_target(grant_id: &str, target: &RevocationTarget) -> wit::RevocationTarget {
    let local = grant_id.splitn(3, '/').nth(2).unwrap_or(grant_id);
    wit::RevocationTarget {
        grant_id: local.to_owned(),
        action: target.action.clone(),
        handle: target.handle.clone(),
    }
}

fn clip_field(s: String) -> String {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The most useful line of a trap: the guest's panic message when there is one.
fn trap_message(e: &wasmtime::Error) -> String {
    let mut msg = e.to_string();
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        msg = format!("{trap}");
    }
    clip(&msg)
}

/// Validates one guest grant and qualifies its id as `{provider}/{tenant}/{id}`.
fn grant_from_wit(provider: &str, tenant: &str, g: wit::Grant) -> Result<GrantRecord, String> {
    let field = |name: &str, v: &str| -> Result<(), String> {
        if v.is_empty() || v.len() > MAX_FIELD {
            Err(format!("grant field `{name}` must be 1–{MAX_FIELD} bytes"))
        } else {
            Ok(())
        }
    };
    field("id", &g.id)?;
    field("app.id", &g.app.id)?;
    field("app.name", &g.app.name)?;
    field("principal.id", &g.principal.id)?;
    if g.scopes.len() > 1000 || g.attributes.len() > 100 || g.notes.len() > 32 {
        return Err(format!(
            "grant `{}` carries too many scopes, attributes or notes",
            clip(&g.id)
        ));
    }
    let long = g
        .scopes
        .iter()
        .chain(g.notes.iter())
        .chain(g.attributes.iter().flat_map(|(k, v)| [k, v]))
        .chain(g.app.attributes.iter().flat_map(|(k, v)| [k, v]))
        .any(|s| s.len() > MAX_FIELD);
    if long {
        return Err(format!(
            "grant `{}` has a field over {MAX_FIELD} bytes",
            clip(&g.id)
        ));
    }
    let timestamp = |v: Option<String>| {
        v.filter(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        })
    };
    let mut scopes = g.scopes;
    scopes.sort();
    scopes.dedup();
    let mut notes = g.notes;
    let now = time::OffsetDateTime::now_utc();
    let created_at = not_in_future("creation", timestamp(g.created_at), now, &mut notes);
    let last_used_at = not_in_future("last use", timestamp(g.last_used_at), now, &mut notes);
    Ok(GrantRecord {
        id: format!("{provider}/{tenant}/{}", g.id),
        provider: provider.to_owned(),
        tenant: tenant.to_owned(),
        app: AppRef {
            id: g.app.id,
            name: g.app.name,
            publisher: g.app.publisher.map(clip_field),
            attributes: g.app.attributes.into_iter().collect(),
        },
        principal: PrincipalRef {
            kind: match g.principal.kind {
                wit::PrincipalKind::User => PrincipalKind::User,
                wit::PrincipalKind::Tenant => PrincipalKind::Tenant,
                wit::PrincipalKind::Service => PrincipalKind::Service,
            },
            id: g.principal.id,
            display: g.principal.display.map(clip_field),
        },
        kind: match g.kind {
            wit::GrantKind::Delegated => GrantKind::Delegated,
            wit::GrantKind::AdminConsent => GrantKind::AdminConsent,
            wit::GrantKind::Application => GrantKind::Application,
            wit::GrantKind::Installation => GrantKind::Installation,
            wit::GrantKind::PersonalToken => GrantKind::PersonalToken,
            wit::GrantKind::ApiKey => GrantKind::ApiKey,
        },
        scopes,
        created_at,
        last_used_at,
        expires_at: timestamp(g.expires_at),
        vendor: None,
        score: None,
        revocation: g
            .revocation
            .filter(|r| r.action.len() <= 128 && r.handle.len() <= MAX_FIELD)
            .map(|r| RevocationTarget {
                action: r.action,
                handle: r.handle,
            }),
        attributes: g.attributes.into_iter().collect(),
        notes,
        plugin: None,
    })
}

/// How far ahead of our clock a provider's timestamp may be (clock skew) before it is
/// taken for what it is: not a time anything happened.
const FUTURE_SKEW: time::Duration = time::Duration::hours(1);

/// `at` unless it lies in the future: then `None`, with a note saying what the
/// provider reported. A last use "tomorrow" would make a stale grant look fresh (and
/// print as used 0 days ago); without it, staleness is judged from what is known.
fn not_in_future(
    what: &str,
    at: Option<String>,
    now: time::OffsetDateTime,
    notes: &mut Vec<String>,
) -> Option<String> {
    let t = at.as_deref().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    })?;
    if t > now + FUTURE_SKEW {
        notes.push(format!(
            "The provider reported a {what} time in the future ({}); it is ignored.",
            at.as_deref().map(clip).unwrap_or_default()
        ));
        return None;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_in_the_future_is_dropped_with_a_note() {
        let now = time::macros::datetime!(2026-12-02 12:00 UTC);
        let mut notes = Vec::new();
        let past = Some("2026-11-30T08:00:00Z".to_owned());
        assert_eq!(
            not_in_future("last use", past.clone(), now, &mut notes),
            past
        );
        // Within the skew allowance: a provider clock a little ahead.
        let skew = Some("2026-12-02T12:30:00Z".to_owned());
        assert_eq!(
            not_in_future("last use", skew.clone(), now, &mut notes),
            skew
        );
        assert!(notes.is_empty());
        let future = Some("2027-06-01T00:00:00Z".to_owned());
        assert_eq!(not_in_future("last use", future, now, &mut notes), None);
        assert_eq!(
            notes,
            [
                "The provider reported a last use time in the future (2027-06-01T00:00:00Z); it is ignored."
            ]
        );
    }

    #[test]
    fn manifest_hosts_refuse_numeric_forms_metadata_names_and_public_suffix_wildcards() {
        for bad in [
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "010.0.0.1",
            "*.1.2.3.4",
            "metadata.google.internal",
            "METADATA.GOOGLE.INTERNAL",
            "instance-data",
            "vault.corp.internal",
            "*.co.uk",
            "*.github.io",
            "*.com.au",
        ] {
            assert!(
                check_manifest_host(&bad.to_ascii_lowercase()).is_err(),
                "{bad} was accepted"
            );
        }
        // What real connectors declare (Okta's and Salesforce's per-customer hosts).
        for good in [
            "api.github.com",
            "*.okta.com",
            "*.oktapreview.com",
            "*.okta-emea.com",
            "*.my.salesforce.com",
            "graph.microsoft.com",
            "10.0.0.1",
            "localhost",
        ] {
            assert_eq!(check_manifest_host(good), Ok(()), "{good}");
        }
    }

    const HOSTILE: &str =
        "denied\r\n\u{1b}[1A\u{1b}[2Kall fine \u{1b}]52;c;SGVsbG8=\u{7}\u{202e}\u{9b}2K";

    /// Nothing a terminal acts on, and no line break.
    fn assert_one_safe_line(s: &str) {
        assert!(!s.chars().any(crate::text::is_unsafe), "{s:?}");
        assert!(s.contains("\\x1b[1A"), "the escape is shown: {s:?}");
    }

    #[test]
    fn a_guest_error_message_is_one_line_without_controls() {
        let failure = match connector_result::<()>(Err(wit::Error {
            code: wit::ErrorCode::Permission,
            message: HOSTILE.into(),
            retry_after_ms: None,
        })) {
            Err(f) => f,
            Ok(()) => panic!("an error stays an error"),
        };
        let Failure::Connector { message, .. } = &failure else {
            panic!("{failure:?}")
        };
        assert_one_safe_line(message);
        assert_eq!(
            message,
            "denied\\r\\n\\x1b[1A\\x1b[2Kall fine \\x1b]52;c;SGVsbG8=\\x07\\u{202e}\\u{9b}2K"
        );
        let error = CallError {
            connector: "hostile".into(),
            tenant: "t".into(),
            call: format!("task {}", clip(HOSTILE)),
            failure,
        };
        assert_one_safe_line(&error.to_string());
    }

    #[test]
    fn a_revocation_detail_and_its_manual_steps_are_one_line_without_controls() {
        let r = revocation_from_wit(wit::Revocation {
            status: wit::RevocationStatus::ManualRequired,
            detail: HOSTILE.into(),
            manual_steps: vec![
                HOSTILE.into(),
                "Remove the app in the admin console.".into(),
            ],
        });
        assert_one_safe_line(&r.detail);
        assert_one_safe_line(&r.manual_steps[0]);
        assert_eq!(r.manual_steps[1], "Remove the app in the admin console.");
    }

    #[test]
    fn a_guest_log_line_is_one_line_without_controls() {
        assert_one_safe_line(&log_line(HOSTILE));
        assert_eq!(log_line(&"x".repeat(10_000)).len(), MAX_LOG_LINE);
        assert_eq!(log_line("page 2 of 3"), "page 2 of 3");
    }

    #[test]
    fn guest_ids_quoted_in_host_messages_are_one_line_without_controls() {
        assert_one_safe_line(&clip(HOSTILE));
        let long = format!("{HOSTILE}{}", "x".repeat(200));
        assert!(clip(&long).chars().count() < long.chars().count());
        assert_one_safe_line(&clip(&long));
        // Ordinary text is kept as it is.
        assert_eq!(clip("list-installations"), "list-installations");
        assert_eq!(one_line("Zürich 🚀".into()), "Zürich 🚀");
    }
}
