//! The configuration file.
//!
//! **Architecture invariant:** this module alone reads environment variables and
//! files named by the operator. Secrets are read here and immediately wrapped in
//! [`Secret`]; everything downstream gets typed, validated values.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{Assertion, ClientAuth, Credential, Secret};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the config file lives (relative paths in it are resolved against this).
    pub dir: PathBuf,
    /// `[store] path`, if set.
    pub store_path: Option<PathBuf>,
    /// `[plugins] cache_dir`, if set.
    pub cache_dir: Option<PathBuf>,
    /// Scheduler settings.
    pub scan: ScanSettings,
    /// Sandbox limits.
    pub limits: Limits,
    /// `[scoring] policy`: weights replacing the built-in `config/scoring.toml`, as
    /// (path, text) — read here, parsed by `score::Policy::from_toml`.
    pub scoring_policy: Option<(PathBuf, String)>,
    /// `[scoring] catalogs`: extra scope catalogs (a connector author's provider), as
    /// (path, text) — read here, parsed by `catalog::Catalog::add_json`.
    pub scoring_catalogs: Vec<(PathBuf, String)>,
    /// The tenants, in file order.
    pub tenants: Vec<TenantConfig>,
    /// `[vendors] registry`: the vendor registry file, if the config names one.
    pub vendor_registry: Option<PathBuf>,
    /// `[offboard]` settings.
    pub offboard: OffboardSettings,
    /// `[[policy]]` rules `grantscope enforce` evaluates, in file order.
    pub policies: Vec<PolicyRule>,
}

/// How revocation runs (`[offboard]`).
#[derive(Debug, Clone)]
pub struct OffboardSettings {
    /// Revocations in flight at once per tenant (the egress rate limit still holds).
    pub concurrency: usize,
    /// Attempts per action before it is left failed (each retry after a probe).
    pub attempts: u32,
    /// How long a re-read may still show a target as present after a revocation was
    /// sent (`settle_secs`). Unset, each tenant uses its connector's declared
    /// consistency window ([`DEFAULT_SETTLE`] when a connector declares none). After an
    /// unanswered attempt the target is re-read with short growing waits: gone ends it
    /// at once, and only a target still present once this has passed is sent again.
    pub settle: Option<Duration>,
    /// How a run is verified (`verify`): re-reading each target, or rescanning every
    /// tenant concerned.
    pub verify: Verify,
    /// How long a run's owner holds it without renewing (it renews every quarter of
    /// this). Another process takes over only after the lease lapsed (or, on the same
    /// host, once the owner's process is gone), so it must outlast any stall of a live
    /// owner: a request timeout and the settle time, with room to spare.
    pub lease: Duration,
}

impl Default for OffboardSettings {
    fn default() -> Self {
        OffboardSettings {
            concurrency: 4,
            attempts: 4,
            settle: None,
            verify: Verify::Probe,
            lease: Duration::from_secs(120),
        }
    }
}

/// The settle time for a connector that declares no consistency window (a 0.1.0
/// connector, or one whose provider documents none).
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// How a revocation run is verified once its actions settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Re-read each planned target through the connector's `probe` (a request or a few
    /// per grant): fast, and proves exactly what the run addressed.
    Probe,
    /// Rescan every tenant concerned and record the scan: slow on a large tenant, and
    /// also shows grants of the vendor created since the plan.
    Rescan,
}

impl Verify {
    /// The name used in the config and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Verify::Probe => "probe",
            Verify::Rescan => "rescan",
        }
    }
}

/// A `[[policy]]` rule: which grants it selects and what `enforce` does with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Name, for plans, the journal and the audit log.
    pub name: String,
    /// What selects a grant.
    pub when: PolicyCondition,
    /// Revoke the selected grants (`enforce --execute`), or only report them.
    pub revoke: bool,
}

/// The condition of a [`PolicyRule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyCondition {
    /// The grant's vendor is offboarded (or offboarding).
    VendorOffboarded,
    /// The grant's vendor's contract ended.
    ContractEnded,
    /// The grant was not used for this many days (grants the provider reports no use
    /// for are judged by their creation date; never-dated grants are not selected).
    UnusedDays(u32),
    /// The grant's app has no vendor, or its vendor has no business owner.
    NoOwner,
}

/// Scheduler settings (`[scan]`).
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Tasks of one tenant that run at once.
    pub concurrency: usize,
    /// Most attempts per task for retryable connector errors; the time budget
    /// (`[limits] max_rate_limit_wait_secs`) ends the retries first, as a rule.
    pub task_attempts: u32,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            concurrency: 8,
            task_attempts: 30,
        }
    }
}

/// Limits on every guest call (`[limits]`). Defaults are DESIGN.md's starting points.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory per instance, bytes.
    pub memory_bytes: usize,
    /// CPU time a guest may spend in one call (time in host calls excluded).
    pub cpu_per_call: Duration,
    /// Wall-clock time for one call, host calls included.
    pub wall_per_call: Duration,
    /// Egress requests per call.
    pub egress_calls: u32,
    /// Largest response body delivered to a guest, bytes.
    pub response_bytes: u64,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// Log bytes per call before the call is failed.
    pub log_bytes: usize,
    /// Largest component accepted, bytes (checked before compiling).
    pub component_bytes: usize,
    /// Bytes a guest may move into the host per call.
    pub hostcall_fuel: usize,
    /// Grants one step may return.
    pub grants_per_step: usize,
    /// Follow-up tasks one step may return.
    pub tasks_per_step: usize,
    /// Tasks one tenant scan may run in all.
    pub tasks_per_scan: usize,
    /// Grants one tenant scan may return; past it the tenant is partial, never cut
    /// silently. Sized above the largest real tenants (a 300,000-person Google
    /// Workspace with a few tokens each), far below what would exhaust the store or a
    /// report.
    pub grants_per_scan: usize,
    /// Bytes of grant records one tenant scan may return (the text a connector handed
    /// over: ids, names, scopes, notes, attributes); past it the tenant is partial.
    pub scan_bytes: u64,
    /// HTTP attempts per request (first try included) for retryable failures.
    pub http_attempts: u32,
    /// Longest wait the host accepts for one rate limit, and a task's time budget
    /// for retries: past it the task fails.
    pub max_rate_limit_wait: Duration,
    /// Requests per second for the requests no quota of the connector covers (a
    /// connector that declares none, such as one built for contract 0.1.0).
    pub requests_per_second: u32,
    /// Consecutive connection failures, timeouts or 5xx answers from one tenant
    /// after which its circuit opens and its remaining work fails at once.
    pub breaker_failures: u32,
    /// How long an open circuit stays open before a request may try again.
    pub breaker_cooldown: Duration,
    /// Share of a shared daily API allocation (Salesforce's) a scan leaves for the
    /// org's other integrations, percent.
    pub quota_reserve_percent: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            cpu_per_call: Duration::from_secs(2),
            wall_per_call: Duration::from_secs(60),
            egress_calls: 50,
            response_bytes: 8 << 20,
            request_timeout: Duration::from_secs(30),
            log_bytes: 1 << 20,
            component_bytes: 20 << 20,
            hostcall_fuel: 8 << 20,
            grants_per_step: 10_000,
            tasks_per_step: 10_000,
            tasks_per_scan: 1_000_000,
            grants_per_scan: 2_000_000,
            scan_bytes: 2 << 30,
            http_attempts: 5,
            max_rate_limit_wait: Duration::from_secs(120),
            requests_per_second: 20,
            breaker_failures: 8,
            breaker_cooldown: Duration::from_secs(30),
            quota_reserve_percent: 10,
        }
    }
}

/// Where a tenant's connector comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectorSource {
    /// A first-party connector embedded in the binary, by id.
    Embedded(String),
    /// A third-party component file.
    File(PathBuf),
}

/// One tenant (`[[tenant]]`).
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// Unique name.
    pub name: String,
    /// The connector that serves it.
    pub connector: ConnectorSource,
    /// Plain http to loopback is allowed (simulated tenants only).
    pub simulator: bool,
    /// Destinations the operator allows (`host` or `host:port`); empty means the
    /// connector's declared exact hosts.
    pub hosts: Vec<String>,
    /// Non-secret settings handed to the connector.
    pub settings: BTreeMap<String, String>,
    /// How to authenticate.
    pub credential: Credential,
    /// Overrides `[scan] concurrency`.
    pub concurrency: Option<usize>,
    /// A ceiling on all of this tenant's requests, whatever its quotas allow (an
    /// operator sharing the provider's quota with other integrations).
    pub requests_per_second: Option<u32>,
    /// The operator's rates for the connector's quota classes (`[tenant.quotas]`,
    /// `directory = "1200/min"`), over what the connector declares and the provider
    /// says.
    pub quotas: BTreeMap<String, crate::pace::Rate>,
}

/// A configuration problem, with the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("config {path} is not valid: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Parser message, with line and column.
        message: String,
    },
    /// A value is wrong.
    #[error("config {path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    plugins: RawPlugins,
    #[serde(default)]
    scan: RawScan,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    scoring: RawScoring,
    #[serde(default)]
    vendors: RawVendors,
    #[serde(default)]
    offboard: RawOffboard,
    #[serde(default)]
    policy: Vec<RawPolicy>,
    #[serde(default)]
    tenant: Vec<RawTenant>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVendors {
    registry: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOffboard {
    concurrency: Option<usize>,
    attempts: Option<u32>,
    settle_secs: Option<u64>,
    lease_secs: Option<u64>,
    verify: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    when: String,
    days: Option<u32>,
    action: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScoring {
    policy: Option<PathBuf>,
    #[serde(default)]
    catalogs: Vec<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    cache_dir: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScan {
    concurrency: Option<usize>,
    task_attempts: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<usize>,
    cpu_ms_per_call: Option<u64>,
    wall_secs_per_call: Option<u64>,
    egress_calls_per_call: Option<u32>,
    response_mib: Option<u64>,
    request_timeout_secs: Option<u64>,
    log_kib_per_call: Option<usize>,
    requests_per_second: Option<u32>,
    http_attempts: Option<u32>,
    max_rate_limit_wait_secs: Option<u64>,
    breaker_failures: Option<u32>,
    breaker_cooldown_secs: Option<u64>,
    quota_reserve_percent: Option<u32>,
    grants_per_scan: Option<u64>,
    scan_mib: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: String,
    connector: Option<String>,
    plugin: Option<PathBuf>,
    #[serde(default)]
    simulator: bool,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    credential: RawCredential,
    concurrency: Option<usize>,
    requests_per_second: Option<u32>,
    #[serde(default)]
    quotas: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    kind: String,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    scheme: Option<String>,
    app_id: Option<String>,
    private_key_file: Option<PathBuf>,
    private_key_env: Option<String>,
    installation_id: Option<u64>,
    token_url: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    key_id: Option<String>,
    certificate_thumbprint: Option<String>,
}

impl Config {
    /// Reads and validates a config file, loading the secrets it names.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, path, &dir)
    }

    /// Parses config text; `dir` anchors relative paths, `path` names the file in
    /// errors.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };

        let mut scan = ScanSettings::default();
        if let Some(c) = raw.scan.concurrency {
            if !(1..=256).contains(&c) {
                return Err(invalid(format!(
                    "[scan] concurrency = {c}: use a value from 1 to 256"
                )));
            }
            scan.concurrency = c;
        }
        if let Some(a) = raw.scan.task_attempts {
            if !(1..=100).contains(&a) {
                return Err(invalid(format!(
                    "[scan] task_attempts = {a}: use a value from 1 to 100"
                )));
            }
            scan.task_attempts = a;
        }
        let limits = limits(&raw.limits).map_err(invalid)?;

        let mut names = HashSet::new();
        let mut tenants = Vec::with_capacity(raw.tenant.len());
        for t in raw.tenant {
            let ctx = |m: String| invalid(format!("tenant `{}`: {m}", t.name));
            if t.name.is_empty()
                || t.name.len() > 64
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(invalid(format!(
                    "tenant name `{}` must be 1–64 characters of letters, digits, `-`, `_`, `.`",
                    t.name
                )));
            }
            if !names.insert(t.name.clone()) {
                return Err(invalid(format!(
                    "tenant `{}` is defined twice; tenant names must be unique",
                    t.name
                )));
            }
            let connector = match (&t.connector, &t.plugin) {
                (Some(id), None) => ConnectorSource::Embedded(id.clone()),
                (None, Some(p)) => ConnectorSource::File(resolve(p)),
                _ => {
                    return Err(ctx(
                        "set exactly one of `connector` (a built-in id such as \"github\") or `plugin` (a .wasm path)".into(),
                    ));
                }
            };
            for h in &t.hosts {
                validate_host_entry(h).map_err(|m| ctx(format!("hosts entry `{h}`: {m}")))?;
            }
            if let Some(c) = t.concurrency
                && !(1..=256).contains(&c)
            {
                return Err(ctx(format!("concurrency = {c}: use a value from 1 to 256")));
            }
            if let Some(r) = t.requests_per_second
                && !(1..=10_000).contains(&r)
            {
                return Err(ctx(format!(
                    "requests_per_second = {r}: use a value from 1 to 10000"
                )));
            }
            let mut quotas = BTreeMap::new();
            for (class, rate) in &t.quotas {
                let rate = crate::pace::Rate::parse(rate)
                    .map_err(|m| ctx(format!("[tenant.quotas] {class}: {m}")))?;
                quotas.insert(class.clone(), rate);
            }
            let credential = credential(&t.credential, &t.settings, &resolve).map_err(ctx)?;
            tenants.push(TenantConfig {
                name: t.name,
                connector,
                simulator: t.simulator,
                hosts: t.hosts,
                settings: t.settings,
                credential,
                concurrency: t.concurrency,
                requests_per_second: t.requests_per_second,
                quotas,
            });
        }
        let mut offboard = OffboardSettings::default();
        if let Some(c) = raw.offboard.concurrency {
            if !(1..=64).contains(&c) {
                return Err(invalid(format!(
                    "[offboard] concurrency = {c}: use a value from 1 to 64"
                )));
            }
            offboard.concurrency = c;
        }
        if let Some(a) = raw.offboard.attempts {
            if !(1..=10).contains(&a) {
                return Err(invalid(format!(
                    "[offboard] attempts = {a}: use a value from 1 to 10"
                )));
            }
            offboard.attempts = a;
        }
        if let Some(s) = raw.offboard.settle_secs {
            if s > 3600 {
                return Err(invalid(format!(
                    "[offboard] settle_secs = {s}: use at most 3600"
                )));
            }
            offboard.settle = Some(Duration::from_secs(s));
        }
        if let Some(v) = raw.offboard.verify.as_deref() {
            offboard.verify = match v {
                "probe" => Verify::Probe,
                "rescan" => Verify::Rescan,
                other => {
                    return Err(invalid(format!(
                        "[offboard] verify = \"{other}\": use \"probe\" (re-read each revoked target) \
                         or \"rescan\" (rescan every tenant concerned)"
                    )));
                }
            };
        }
        if let Some(l) = raw.offboard.lease_secs {
            if !(4..=86_400).contains(&l) {
                return Err(invalid(format!(
                    "[offboard] lease_secs = {l}: use a value from 4 to 86400"
                )));
            }
            offboard.lease = Duration::from_secs(l);
        }
        let mut policies = Vec::with_capacity(raw.policy.len());
        for p in raw.policy {
            let ctx = |m: String| invalid(format!("policy `{}`: {m}", p.name));
            if p.name.trim().is_empty() {
                return Err(invalid("a [[policy]] has an empty `name`".to_owned()));
            }
            if policies.iter().any(|q: &PolicyRule| q.name == p.name) {
                return Err(ctx("is defined twice; policy names must be unique".into()));
            }
            let when = match (p.when.as_str(), p.days) {
                ("vendor-offboarded", None) => PolicyCondition::VendorOffboarded,
                ("contract-ended", None) => PolicyCondition::ContractEnded,
                ("no-owner", None) => PolicyCondition::NoOwner,
                ("unused", Some(d)) if d > 0 => PolicyCondition::UnusedDays(d),
                ("unused", _) => return Err(ctx("`unused` needs `days` of at least 1".into())),
                (w @ ("vendor-offboarded" | "contract-ended" | "no-owner"), Some(_)) => {
                    return Err(ctx(format!("`days` applies to `unused`, not `{w}`")));
                }
                (other, _) => {
                    return Err(ctx(format!(
                        "unknown condition `when = \"{other}\"`: use vendor-offboarded, \
                         contract-ended, unused (with days) or no-owner"
                    )));
                }
            };
            let revoke = match p.action.as_deref() {
                None | Some("revoke") => true,
                Some("report") => false,
                Some(other) => {
                    return Err(ctx(format!(
                        "unknown action `{other}`: use revoke or report"
                    )));
                }
            };
            policies.push(PolicyRule {
                name: p.name,
                when,
                revoke,
            });
        }
        Ok(Config {
            vendor_registry: raw.vendors.registry.as_deref().map(resolve),
            offboard,
            policies,
            dir: dir.to_path_buf(),
            store_path: raw.store.path.as_deref().map(resolve),
            cache_dir: raw.plugins.cache_dir.as_deref().map(resolve),
            scan,
            limits,
            scoring_policy: raw
                .scoring
                .policy
                .as_deref()
                .map(|p| read_named(&resolve(p), "[scoring] policy"))
                .transpose()
                .map_err(invalid)?,
            scoring_catalogs: raw
                .scoring
                .catalogs
                .iter()
                .map(|p| read_named(&resolve(p), "[scoring] catalogs"))
                .collect::<Result<_, _>>()
                .map_err(invalid)?,
            tenants,
        })
    }
}

/// Largest file the config may name for scoring (a catalog is well under 1 MiB).
const MAX_NAMED_FILE: u64 = 16 << 20;

/// Reads a file the config names, with the key in the error.
fn read_named(path: &Path, key: &str) -> Result<(PathBuf, String), String> {
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_NAMED_FILE);
    if too_big {
        return Err(format!(
            "{key}: {} is larger than {} MiB",
            path.display(),
            MAX_NAMED_FILE >> 20
        ));
    }
    std::fs::read_to_string(path)
        .map(|text| (path.to_path_buf(), text))
        .map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))
}

fn limits(raw: &RawLimits) -> Result<Limits, String> {
    let mut l = Limits::default();
    let range = |name: &str, v: u64, lo: u64, hi: u64| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "[limits] {name} = {v}: use a value from {lo} to {hi}"
            ))
        }
    };
    if let Some(v) = raw.memory_mib {
        l.memory_bytes = range("memory_mib", v as u64, 2, 4096)? as usize * (1 << 20);
    }
    if let Some(v) = raw.cpu_ms_per_call {
        l.cpu_per_call = Duration::from_millis(range("cpu_ms_per_call", v, 10, 600_000)?);
    }
    if let Some(v) = raw.wall_secs_per_call {
        l.wall_per_call = Duration::from_secs(range("wall_secs_per_call", v, 1, 3600)?);
    }
    if let Some(v) = raw.egress_calls_per_call {
        l.egress_calls = range("egress_calls_per_call", v.into(), 1, 10_000)? as u32;
    }
    if let Some(v) = raw.response_mib {
        l.response_bytes = range("response_mib", v, 1, 1024)? << 20;
    }
    if let Some(v) = raw.request_timeout_secs {
        l.request_timeout = Duration::from_secs(range("request_timeout_secs", v, 1, 600)?);
    }
    if let Some(v) = raw.log_kib_per_call {
        l.log_bytes = range("log_kib_per_call", v as u64, 1, 65_536)? as usize * 1024;
    }
    if let Some(v) = raw.requests_per_second {
        l.requests_per_second = range("requests_per_second", v.into(), 1, 10_000)? as u32;
    }
    if let Some(v) = raw.http_attempts {
        l.http_attempts = range("http_attempts", v.into(), 1, 20)? as u32;
    }
    if let Some(v) = raw.grants_per_scan {
        l.grants_per_scan = range("grants_per_scan", v, 1, 100_000_000)? as usize;
    }
    if let Some(v) = raw.scan_mib {
        l.scan_bytes = range("scan_mib", v, 1, 65_536)? << 20;
    }
    if let Some(v) = raw.breaker_failures {
        l.breaker_failures = range("breaker_failures", v.into(), 1, 1000)? as u32;
    }
    if let Some(v) = raw.breaker_cooldown_secs {
        l.breaker_cooldown = Duration::from_secs(range("breaker_cooldown_secs", v, 1, 3600)?);
    }
    if let Some(v) = raw.quota_reserve_percent {
        l.quota_reserve_percent = range("quota_reserve_percent", v.into(), 0, 90)? as u32;
    }
    if let Some(v) = raw.max_rate_limit_wait_secs {
        l.max_rate_limit_wait = Duration::from_secs(range("max_rate_limit_wait_secs", v, 0, 3600)?);
    }
    Ok(l)
}

/// `host` or `host:port`, no scheme, path or wildcard.
fn validate_host_entry(h: &str) -> Result<(), String> {
    if h.contains("://") || h.contains('/') || h.contains('@') || h.contains('*') {
        return Err("write a bare host or host:port, e.g. api.github.com".into());
    }
    let (host, port) = crate::egress::split_host_port(h);
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!("`{p}` is not a port number"));
    }
    Ok(())
}

fn credential(
    raw: &RawCredential,
    settings: &BTreeMap<String, String>,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<Credential, String> {
    let secret = |what: &str,
                  env: &Option<String>,
                  file: &Option<PathBuf>|
     -> Result<Secret, String> {
        match (env, file) {
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
                _ => Err(format!(
                    "the {what} comes from environment variable `{var}`, which is not set: export it"
                )),
            },
            (None, Some(f)) => {
                let path = resolve(f);
                match std::fs::read_to_string(&path) {
                    Ok(v) if !v.trim().is_empty() => {
                        warn_if_others_can_read(&path, what);
                        Ok(Secret::new(v))
                    }
                    Ok(_) => Err(format!("the {what} file {} is empty", path.display())),
                    Err(e) => Err(format!(
                        "cannot read the {what} file {}: {e}",
                        path.display()
                    )),
                }
            }
            _ => Err(format!(
                "name exactly one source for the {what}: an environment variable or a file"
            )),
        }
    };
    match raw.kind.as_str() {
        "static-token" => Ok(Credential::StaticToken {
            token: secret("token", &raw.token_env, &raw.token_file)?,
            scheme: raw.scheme.clone().unwrap_or_else(|| "Bearer".to_owned()),
        }),
        "github-app" => {
            let app_id = raw
                .app_id
                .clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or("credential kind github-app needs `app_id`")?;
            let org = settings
                .get("org")
                .cloned()
                .ok_or("credential kind github-app needs the `org` setting")?;
            let api_base = settings
                .get("api_base")
                .map(|s| s.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| "https://api.github.com".to_owned());
            Ok(Credential::GitHubApp {
                app_id,
                private_key: secret("private key", &raw.private_key_env, &raw.private_key_file)?,
                installation_id: raw.installation_id,
                api_base,
                org,
            })
        }
        "jwt-bearer" => {
            let token_url = token_url(raw)?;
            let issuer = required(&raw.issuer, "jwt-bearer", "issuer")?;
            Ok(Credential::JwtBearer {
                assertion: Assertion {
                    issuer,
                    subject: raw.subject.clone().filter(|s| !s.trim().is_empty()),
                    audience: raw.audience.clone().unwrap_or_else(|| token_url.clone()),
                    private_key: secret(
                        "private key",
                        &raw.private_key_env,
                        &raw.private_key_file,
                    )?,
                    key_id: raw.key_id.clone(),
                    x5t: thumbprint(raw)?,
                },
                token_url,
                scope: raw.scope.clone(),
            })
        }
        "client-credentials" => {
            let token_url = token_url(raw)?;
            let client_id = required(&raw.client_id, "client-credentials", "client_id")?;
            let has_secret = raw.client_secret_env.is_some() || raw.client_secret_file.is_some();
            let has_key = raw.private_key_env.is_some() || raw.private_key_file.is_some();
            let auth = match (has_secret, has_key) {
                (true, false) => ClientAuth::Secret(secret(
                    "client secret",
                    &raw.client_secret_env,
                    &raw.client_secret_file,
                )?),
                (false, true) => ClientAuth::PrivateKeyJwt(Assertion {
                    issuer: client_id.clone(),
                    subject: Some(client_id.clone()),
                    audience: raw.audience.clone().unwrap_or_else(|| token_url.clone()),
                    private_key: secret(
                        "private key",
                        &raw.private_key_env,
                        &raw.private_key_file,
                    )?,
                    key_id: raw.key_id.clone(),
                    x5t: thumbprint(raw)?,
                }),
                _ => {
                    return Err("credential kind client-credentials needs exactly one of a \
                         client secret (`client_secret_file`/`client_secret_env`) or a private \
                         key (`private_key_file`/`private_key_env`)"
                        .to_owned());
                }
            };
            Ok(Credential::ClientCredentials {
                token_url,
                client_id,
                scope: raw.scope.clone(),
                auth,
            })
        }
        other => Err(format!(
            "unknown credential kind `{other}`: use `static-token`, `github-app`, \
             `jwt-bearer` or `client-credentials`"
        )),
    }
}

/// Warns (the log reaches stderr) when a secret file is readable by its group or by
/// everyone: the scan still runs — refusing would break a working setup over a
/// finding the operator can fix in a second — but the finding is named with its fix.
/// The mode is that of the file a symlink names, since that is what holds the secret.
#[cfg(unix)]
fn warn_if_others_can_read(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o044 != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the {what} file {} is readable by other users: run `chmod 600 {}`",
            path.display(),
            shell_word(&path.display().to_string())
        );
    }
}

/// `word` as one shell word, so the suggested command can be pasted as it is.
#[cfg(unix)]
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@,=%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(not(unix))]
fn warn_if_others_can_read(_path: &Path, _what: &str) {}

fn required(value: &Option<String>, kind: &str, key: &str) -> Result<String, String> {
    value
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("credential kind {kind} needs `{key}`"))
}

/// `token_url`, which must be an absolute http(s) URL (the egress policy decides
/// whether plain http is allowed).
fn token_url(raw: &RawCredential) -> Result<String, String> {
    let url = required(&raw.token_url, &raw.kind, "token_url")?;
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(format!(
            "`token_url` must be an absolute https URL, got `{url}`"
        ))
    }
}

/// The certificate's SHA-1 thumbprint as Entra shows it (hex, colons allowed), turned
/// into the JWT `x5t` header value (base64url, no padding).
fn thumbprint(raw: &RawCredential) -> Result<Option<String>, String> {
    let Some(hex_text) = &raw.certificate_thumbprint else {
        return Ok(None);
    };
    let clean: String = hex_text.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&clean).ok().filter(|b| b.len() == 20).ok_or(
        "`certificate_thumbprint` must be the certificate's SHA-1 thumbprint: 40 hex digits",
    )?;
    Ok(Some(base64url(&bytes)))
}

/// Base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

impl Config {
    /// Where compiled components are cached: `[plugins] cache_dir`, else the platform
    /// cache directory.
    pub fn cache_dir_or_default(&self) -> Option<PathBuf> {
        self.cache_dir.clone().or_else(default_cache_dir)
    }
}

/// The platform data directory for the default store (`$XDG_DATA_HOME/grantscope`,
/// else `~/.local/share/grantscope`).
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("grantscope"))
}

/// The platform cache directory for compiled components (`$XDG_CACHE_HOME/grantscope`,
/// else `~/.cache/grantscope`).
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("grantscope").join("compiled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("t.toml"), Path::new("/nonexistent"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_tenant_can_set_its_own_request_rate() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::fs::write(dir.path().join("tok"), "xoxp-1").unwrap_or_else(|e| panic!("{e}"));
        let text = "[limits]\nrequests_per_second = 50\n\
                    [[tenant]]\nname='s'\nconnector='slack'\nrequests_per_second=1\n\
                    [tenant.credential]\nkind='static-token'\ntoken_file='tok'\n\
                    [[tenant]]\nname='o'\nconnector='okta'\n\
                    [tenant.credential]\nkind='static-token'\ntoken_file='tok'\nscheme='SSWS'\n";
        let c =
            Config::parse(text, Path::new("c.toml"), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.limits.requests_per_second, 50);
        let rates: Vec<Option<u32>> = c.tenants.iter().map(|t| t.requests_per_second).collect();
        assert_eq!(rates, [Some(1), None]);
    }

    #[test]
    fn certificate_thumbprints_become_x5t() {
        // RFC 4648 test vectors, then a real-looking SHA-1 thumbprint.
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        let raw = |t: &str| RawCredential {
            certificate_thumbprint: Some(t.to_owned()),
            ..toml::from_str("kind = 'client-credentials'").unwrap_or_else(|e| panic!("{e}"))
        };
        let x5t = thumbprint(&raw(
            "84:E0:5C:1D:98:BC:E3:A5:42:1D:22:5B:14:0B:36:E8:6A:3D:55:34",
        ));
        assert_eq!(x5t, Ok(Some("hOBcHZi846VCHSJbFAs26Go9VTQ".to_owned())));
        assert!(thumbprint(&raw("abcd")).is_err());
    }

    #[test]
    fn errors_say_what_to_fix() {
        let cases = [
            ("[[tenant]]\nname='a'\n", "missing field `credential`"),
            (
                "[[tenant]]\nname='a'\nconnector='github'\n[tenant.credential]\nkind='magic'\n",
                "unknown credential kind `magic`",
            ),
            (
                "[[tenant]]\nname='a'\n[tenant.credential]\nkind='static-token'\ntoken_env='X'\n",
                "set exactly one of `connector`",
            ),
            (
                "[[tenant]]\nname='a b'\nconnector='github'\n[tenant.credential]\nkind='static-token'\ntoken_env='X'\n",
                "must be 1–64 characters",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='github'\n[tenant.credential]\nkind='static-token'\ntoken_env='GRANTSCOPE_TEST_UNSET_VAR'\n",
                "`GRANTSCOPE_TEST_UNSET_VAR`, which is not set",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='github'\nhosts=['https://x']\n[tenant.credential]\nkind='static-token'\ntoken_env='X'\n",
                "write a bare host",
            ),
            ("[scan]\nconcurrency=0\n", "use a value from 1 to 256"),
            ("[scan]\nbogus=1\n", "unknown field `bogus`"),
            (
                "[limits]\ngrants_per_scan=0\n",
                "[limits] grants_per_scan = 0: use a value from 1 to 100000000",
            ),
            (
                "[limits]\nscan_mib=0\n",
                "[limits] scan_mib = 0: use a value from 1 to 65536",
            ),
            (
                "[offboard]\nverify='scan'\n",
                "[offboard] verify = \"scan\": use \"probe\"",
            ),
            (
                "[offboard]\nlease_secs=1\n",
                "[offboard] lease_secs = 1: use a value from 4",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='github'\n[tenant.credential]\nkind='github-app'\napp_id='1'\nprivate_key_file='k.pem'\n",
                "needs the `org` setting",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='slack'\nrequests_per_second=0\n[tenant.credential]\nkind='static-token'\ntoken_env='X'\n",
                "requests_per_second = 0: use a value from 1 to 10000",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='okta'\n[tenant.credential]\nkind='client-credentials'\ntoken_url='https://x/token'\nclient_id='c'\n",
                "needs exactly one of a client secret",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='okta'\n[tenant.credential]\nkind='client-credentials'\ntoken_url='x/token'\nclient_id='c'\nclient_secret_env='X'\n",
                "must be an absolute https URL",
            ),
            (
                "[[tenant]]\nname='a'\nconnector='salesforce'\n[tenant.credential]\nkind='jwt-bearer'\ntoken_url='https://x/token'\nprivate_key_env='X'\n",
                "needs `issuer`",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).err().unwrap_or_default();
            assert!(
                err.contains(want),
                "for {text:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn scoring_files_are_read_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("weights.toml"), "x = 1").unwrap_or_else(|e| panic!("{e}"));
        let text = "[scoring]\npolicy = 'weights.toml'\n";
        let cfg =
            Config::parse(text, Path::new("t.toml"), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.scoring_policy,
            Some((dir.path().join("weights.toml"), "x = 1".to_owned()))
        );
        let missing = parse("[scoring]\ncatalogs = ['nope.json']\n")
            .err()
            .unwrap_or_default();
        assert!(
            missing.contains("[scoring] catalogs: cannot read"),
            "{missing}"
        );
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../config/example.toml");
        // The example takes its keys from environment variables the test does not
        // set; that must be the only complaint.
        let err = parse(text).err().unwrap_or_default();
        assert!(
            err.contains("`GRANTSCOPE_GITHUB_APP_KEY`, which is not set"),
            "{err}"
        );
        // With the keys in files instead, everything else is valid.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::fs::write(dir.path().join("k.pem"), "not checked until signing")
            .unwrap_or_else(|e| panic!("write: {e}"));
        let with_files: String = text
            .lines()
            .map(|l| {
                if l.starts_with("private_key_env") {
                    "private_key_file = \"k.pem\"".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::parse(&with_files, Path::new("example.toml"), dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.tenants.len(), 3);
        assert_eq!(c.policies.len(), 2);
        assert_eq!(c.vendor_registry, Some(dir.path().join("vendors.toml")));
    }

    #[test]
    fn secret_from_file_is_loaded_and_redacted() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("tempdir") };
        std::fs::write(dir.path().join("tok"), "s3cr3t-token\n").ok();
        let text = "[[tenant]]\nname='a'\nconnector='github'\n[tenant.settings]\norg='o'\n[tenant.credential]\nkind='static-token'\ntoken_file='tok'\n";
        let cfg = Config::parse(text, Path::new("t.toml"), dir.path());
        let cfg = cfg.map_err(|e| e.to_string());
        assert!(cfg.is_ok(), "{cfg:?}");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
    }

    #[cfg(unix)]
    #[test]
    fn the_suggested_chmod_can_be_pasted() {
        assert_eq!(shell_word("/etc/grantscope/tok"), "/etc/grantscope/tok");
        assert_eq!(shell_word("my keys/tok"), "'my keys/tok'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
    }
}
