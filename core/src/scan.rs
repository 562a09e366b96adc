//! The scan scheduler.
//!
//! One tenant's scan: `start` plans the first tasks, then tasks run concurrently (up
//! to the tenant's concurrency), each in a fresh instance, each follow-up task queued
//! as it arrives. Identical tasks run once (a connector's pagination cannot loop
//! forever), a retryable failure (a flaky provider) is retried with backoff, and a
//! task that still fails is recorded while the others go on. Partial success is
//! data: a [`TenantScan`] says what was found, what failed and whether it is
//! complete. Nothing is written anywhere here; [`crate::store`] records a finished
//! scan in one transaction.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::auth::Authenticator;
use crate::config::{Config, ConnectorSource, ScanSettings, TenantConfig};
use crate::egress::{Policy, TenantEgress, Transport};
use crate::model::GrantRecord;
use crate::pace::{PaceConfig, Rate};
use crate::plugin::{
    CallError, Connector, ErrorCode, Failure, LoadError, Runtime, Step, Task, TenantContext,
};

/// A task or tenant-level failure.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFailure {
    /// What failed (`start`, `task list-installations`, `setup`).
    pub call: String,
    /// Why, for an operator.
    pub error: String,
}

/// The outcome of one tenant's scan.
#[derive(Debug, Clone, Serialize)]
pub struct TenantScan {
    /// Tenant name.
    pub tenant: String,
    /// Provider id (empty when the connector could not be loaded).
    pub provider: String,
    /// Connector id or path.
    pub connector: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC.
    pub finished_at: String,
    /// True when every task succeeded.
    pub complete: bool,
    /// Tasks run (retries not counted).
    pub tasks: u64,
    /// HTTP attempts, retries and rate-limit answers seen.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// Rate-limit answers.
    pub throttled: u64,
    /// What failed.
    pub failures: Vec<ScanFailure>,
    /// What was found.
    #[serde(skip)]
    pub grants: Vec<GrantRecord>,
}

/// Progress callbacks, for a progress bar or logs.
pub trait Progress: Send + Sync {
    /// A task finished; `done` of `known` tasks so far, `grants` found so far.
    fn task_done(&self, tenant: &str, done: u64, known: u64, grants: u64);
    /// A tenant's scan finished.
    fn tenant_done(&self, scan: &TenantScan);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn task_done(&self, _: &str, _: u64, _: u64, _: u64) {}
    fn tenant_done(&self, _: &TenantScan) {}
}

/// Loads each distinct connector once; tenants share the compiled component, never
/// an instance.
pub async fn load_connectors(
    runtime: &Runtime,
    tenants: &[TenantConfig],
) -> HashMap<ConnectorSource, Result<Arc<Connector>, Arc<LoadError>>> {
    let mut out = HashMap::new();
    for t in tenants {
        if out.contains_key(&t.connector) {
            continue;
        }
        let loaded = match &t.connector {
            ConnectorSource::Embedded(id) => match crate::embedded::get(id) {
                Some(bytes) => runtime.load(id, bytes).await,
                None => Err(LoadError::Invalid {
                    source_name: id.clone(),
                    reason: format!(
                        "no built-in connector is called `{id}`; built in: {}",
                        crate::embedded::EMBEDDED
                            .iter()
                            .map(|(i, _)| *i)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            },
            ConnectorSource::File(path) => runtime.load_file(path).await,
        };
        out.insert(t.connector.clone(), loaded.map(Arc::new).map_err(Arc::new));
    }
    out
}

/// Instances the runtime must be able to hold at once for these tenants.
pub fn capacity(config: &Config, tenants: &[TenantConfig]) -> u32 {
    let total: usize = tenants
        .iter()
        .map(|t| t.concurrency.unwrap_or(config.scan.concurrency))
        .sum();
    (total + 2).min(1024) as u32
}

/// Builds the egress (allowlist, transport, credential) for one tenant.
pub fn tenant_egress(
    connector: &Connector,
    tenant: &TenantConfig,
    runtime: &Runtime,
    concurrency: usize,
) -> Result<Arc<TenantEgress>, String> {
    let m = connector.manifest();
    if !m
        .credential_kinds
        .iter()
        .any(|k| k == tenant.credential.kind())
    {
        return Err(format!(
            "connector `{}` does not accept credential kind `{}`; it accepts {}",
            m.id,
            tenant.credential.kind(),
            m.credential_kinds.join(", ")
        ));
    }
    for s in m.settings.iter().filter(|s| s.required) {
        if !tenant.settings.contains_key(&s.name) {
            return Err(format!(
                "connector `{}` needs the setting `{}` ({}); add it under [tenant.settings]",
                m.id, s.name, s.description
            ));
        }
    }
    let policy = Policy::for_tenant(
        &tenant.name,
        &m.id,
        &m.hosts,
        &tenant.hosts,
        tenant.simulator,
    )
    .map_err(|e| e.to_string())?;
    let limits = runtime.limits();
    let pace = PaceConfig {
        quotas: m.quotas.clone(),
        overrides: tenant.quotas.clone(),
        default_rate: Rate::per_second(limits.requests_per_second),
        ceiling: tenant.requests_per_second.map(Rate::per_second),
        reserve: u32::try_from(concurrency).unwrap_or(u32::MAX),
        reserve_percent: limits.quota_reserve_percent,
    };
    let transport = Transport::with_pace(policy, limits, pace).map_err(|e| e.to_string())?;
    Ok(Arc::new(TenantEgress::new(
        &tenant.name,
        transport,
        Authenticator::new(tenant.credential.clone()),
    )))
}

/// Scans one tenant to the end (or to its task cap) and returns what happened.
pub async fn scan_tenant(
    runtime: &Runtime,
    connector: Result<Arc<Connector>, Arc<LoadError>>,
    tenant: &TenantConfig,
    settings: &ScanSettings,
    progress: &dyn Progress,
) -> TenantScan {
    let mut scan = TenantScan {
        tenant: tenant.name.clone(),
        provider: String::new(),
        connector: match &tenant.connector {
            ConnectorSource::Embedded(id) => id.clone(),
            ConnectorSource::File(p) => p.display().to_string(),
        },
        started_at: now_rfc3339(),
        finished_at: String::new(),
        complete: false,
        tasks: 0,
        requests: 0,
        retries: 0,
        throttled: 0,
        failures: Vec::new(),
        grants: Vec::new(),
    };
    let setup = |scan: &mut TenantScan, error: String| {
        scan.failures.push(ScanFailure {
            call: "setup".into(),
            error,
        });
        scan.finished_at = now_rfc3339();
        progress.tenant_done(scan);
    };
    let connector = match connector {
        Ok(c) => c,
        Err(e) => {
            setup(&mut scan, e.to_string());
            return scan;
        }
    };
    scan.provider = connector.manifest().provider.clone();
    if !connector
        .manifest()
        .capabilities
        .iter()
        .any(|c| c == "enumerate")
    {
        setup(
            &mut scan,
            format!("connector `{}` cannot enumerate", connector.manifest().id),
        );
        return scan;
    }
    let concurrency = tenant.concurrency.unwrap_or(settings.concurrency).max(1);
    let egress = match tenant_egress(&connector, tenant, runtime, concurrency) {
        Ok(e) => e,
        Err(e) => {
            setup(&mut scan, format!("tenant `{}`: {e}", tenant.name));
            return scan;
        }
    };
    let ctx = Arc::new(TenantContext {
        tenant: tenant.name.clone(),
        settings: tenant.settings.clone(),
    });

    let attempts = settings.task_attempts.max(1);
    let max_tasks = runtime.limits().tasks_per_scan;
    let max_grants = runtime.limits().grants_per_scan;
    let max_bytes = runtime.limits().scan_bytes;
    let mut bytes = 0u64;

    let retry = Retry {
        egress: Arc::clone(&egress),
        attempts,
        budget: runtime.limits().max_rate_limit_wait,
    };
    let first = retry
        .run(|| connector.start(Arc::clone(&egress), &ctx))
        .await;
    let mut queue: VecDeque<Task> = VecDeque::new();
    let mut seen: HashSet<Task> = HashSet::new();
    match first {
        Ok(tasks) => {
            for t in tasks {
                if seen.insert(t.clone()) {
                    queue.push_back(t);
                }
            }
        }
        Err(e) => {
            scan.failures.push(ScanFailure {
                call: e.call.clone(),
                error: e.to_string(),
            });
        }
    }
    let start_failed = !scan.failures.is_empty();

    let mut running: JoinSet<Result<Step, CallError>> = JoinSet::new();
    let mut capped = false;
    // Past a grant or byte cap the scan stops, and says so: a hostile or broken
    // connector must not fill the store (a million grants made a 690 MB store and a
    // 6.3 GB HTML report), and a cut must never pass for a complete scan.
    let mut over: Option<String> = None;
    // Set when the tenant's transport stops every request (its provider is
    // unreachable, or a shared allocation is down to its reserve): the tasks left
    // fail together, in one failure, instead of each retrying into the same wall.
    let mut halted: Option<(String, u64)> = None;
    loop {
        if over.is_some() || halted.is_some() {
            let not_run = (queue.len() + running.len()) as u64;
            queue.clear();
            running.abort_all();
            while running.join_next().await.is_some() {}
            if let Some((_, n)) = &mut halted {
                *n += not_run;
            }
            break;
        }
        while running.len() < concurrency {
            let Some(task) = queue.pop_front() else { break };
            let (connector, egress, ctx, retry) = (
                Arc::clone(&connector),
                Arc::clone(&egress),
                Arc::clone(&ctx),
                retry.clone(),
            );
            running.spawn(async move {
                retry
                    .run(|| connector.run(Arc::clone(&egress), &ctx, &task))
                    .await
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        scan.tasks += 1;
        match joined {
            Ok(Ok(step)) => {
                for g in step.grants {
                    if scan.grants.len() >= max_grants {
                        over = Some(format!(
                            "stopped at the limit of {max_grants} grants per scan \
                             ([limits] grants_per_scan): the tenant is partial and nothing is \
                             removed from the inventory; raise the limit if it really holds more"
                        ));
                        break;
                    }
                    bytes += g.text_bytes();
                    if bytes > max_bytes {
                        over = Some(format!(
                            "stopped at the limit of {} MiB of grant records per scan \
                             ([limits] scan_mib): the tenant is partial and nothing is removed \
                             from the inventory; raise the limit if it really holds more",
                            max_bytes >> 20
                        ));
                        break;
                    }
                    scan.grants.push(g);
                }
                if over.is_some() {
                    continue;
                }
                for t in step.tasks {
                    if seen.len() >= max_tasks {
                        capped = true;
                        break;
                    }
                    if seen.insert(t.clone()) {
                        queue.push_back(t);
                    }
                }
            }
            Ok(Err(e)) => match egress.transport().stopped() {
                Some(stop) => {
                    let n = halted.get_or_insert_with(|| (stop.to_string(), 0));
                    n.1 += 1;
                }
                None => scan.failures.push(ScanFailure {
                    call: e.call.clone(),
                    error: e.to_string(),
                }),
            },
            Err(join) => scan.failures.push(ScanFailure {
                call: "task".into(),
                error: format!("task aborted: {join}"),
            }),
        }
        progress.task_done(
            &tenant.name,
            scan.tasks,
            seen.len() as u64,
            scan.grants.len() as u64,
        );
    }
    if let Some(why) = over {
        scan.failures.push(ScanFailure {
            call: "scheduler".into(),
            error: why,
        });
    }
    if let Some((why, not_run)) = halted {
        scan.failures.push(ScanFailure {
            call: "scheduler".into(),
            error: format!(
                "{why}: {not_run} task{} not run; the tenant is partial and nothing is removed \
                 from the inventory",
                if not_run == 1 { "" } else { "s" }
            ),
        });
    }
    if capped {
        scan.failures.push(ScanFailure {
            call: "scheduler".into(),
            error: format!("stopped at the limit of {max_tasks} tasks per scan"),
        });
    }
    if let Some(origin) = connector.origin() {
        for g in &mut scan.grants {
            g.plugin = Some(origin.clone());
        }
    }
    // A connector may report a grant twice (overlapping pages); keep the first.
    let mut seen_ids = HashSet::new();
    scan.grants.retain(|g| seen_ids.insert(g.id.clone()));
    scan.grants.sort_by(|a, b| a.id.cmp(&b.id));
    let stats = &egress.transport().stats;
    scan.requests = stats.attempts.load(Ordering::Relaxed);
    scan.retries = stats.retries.load(Ordering::Relaxed);
    scan.throttled = stats.throttled.load(Ordering::Relaxed);
    scan.complete = scan.failures.is_empty() && !start_failed;
    scan.finished_at = now_rfc3339();
    progress.tenant_done(&scan);
    scan
}

/// How a tenant's calls are retried: while they fail in a retryable way, within a
/// time budget (`[limits] max_rate_limit_wait_secs`) and at most `attempts` times.
/// A provider that is slow to recover gets minutes, not four quick tries; one that
/// is down stops it at once (the transport's circuit is open).
#[derive(Clone)]
pub struct Retry {
    /// The tenant's egress: its pacer takes a connector's rate-limit waits, its
    /// transport says when to stop.
    pub egress: Arc<TenantEgress>,
    /// Most attempts, the first included.
    pub attempts: u32,
    /// Time from the first attempt after which no retry starts.
    pub budget: Duration,
}

impl Retry {
    /// Runs `call` until it succeeds, fails for good, or the budget is spent.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let e = match call().await {
                Err(e) => e,
                ok => return ok,
            };
            if !e.failure.retryable()
                || attempt >= self.attempts.max(1)
                || self.egress.transport().stopped().is_some()
            {
                return Err(e);
            }
            let wait = match &e.failure {
                // The provider said "slow down, for this long" in a body only the
                // connector reads: every request of the tenant waits, not just this
                // task's. A limit that names no wait (Google's 403s) is the
                // provider's cue for backing off the request (its documented
                // exponential backoff): pausing the whole tenant on each would halt
                // a large scan whenever any one request is refused.
                Failure::Connector {
                    code: ErrorCode::RateLimited,
                    retry_after: Some(wait),
                    ..
                } => {
                    self.egress.transport().pacer().pause_all(*wait);
                    *wait
                }
                _ => backoff(attempt),
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(e);
            }
            tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// A growing wait with jitter: about 0.5 s, 1 s, 2 s, … up to 15 s.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (500u64 << attempt.saturating_sub(1).min(5)).min(15_000);
    Duration::from_millis(rand::Rng::random_range(
        &mut rand::rng(),
        ceiling / 2..=ceiling,
    ))
}

/// Scans the given tenants concurrently.
pub async fn scan_tenants(
    runtime: &Runtime,
    config: &Config,
    tenants: &[TenantConfig],
    progress: &dyn Progress,
) -> Vec<TenantScan> {
    let connectors = load_connectors(runtime, tenants).await;
    let scans = tenants.iter().map(|t| {
        let connector = connectors
            .get(&t.connector)
            .cloned()
            .unwrap_or_else(|| Err(Arc::new(LoadError::Engine("connector not loaded".into()))));
        scan_tenant(runtime, connector, t, &config.scan, progress)
    });
    futures_util::future::join_all(scans).await
}

/// Now, RFC 3339 UTC, whole seconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
