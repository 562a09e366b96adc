//! Revocation runs: plan, execute exactly once, verify.
//!
//! A [`Plan`] is the set of live grants to revoke (a vendor's, or what the policies
//! select), each with the connector's revocation target, plus what no API can do.
//! Executing it goes through the journal in [`crate::store`]:
//!
//! 1. Before a revoke call leaves, its action is journaled `in_flight` (with an audit
//!    entry); after the answer it is journaled `done`, `gone`, `manual`, `failed` or
//!    `ambiguous` (with the provider's answer in the audit log).
//! 2. An action that may have reached the provider without a clear answer
//!    (`in_flight` after a crash, `ambiguous` after a timeout, reset or 5xx) is never
//!    sent again blindly: the connector's `probe` re-reads the target first, and a
//!    target already gone counts as done. Before that re-read the host waits
//!    `[offboard] settle_secs` (on `--resume`, once for what the dead process left in
//!    flight; in a run, after each unanswered attempt), so a request already on its way
//!    lands before the re-read looks.
//! 3. After the run, the tenants concerned are scanned again (and the scan recorded),
//!    and each planned grant is verified `gone`, `present` or `unverified`.
//!
//! **Invariant:** a revoke call is made only for an action whose journal says nothing
//! was sent (`pending`) or whose target a re-read has just found present. Only the
//! grants in the approved plan are ever addressed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, TenantConfig};
use crate::egress::TenantEgress;
use crate::model::{GrantRecord, RevocationTarget};
use crate::plugin::{
    CallError, Connector, ErrorCode, Failure, Revocation, RevocationStatus, Runtime, TenantContext,
};
use crate::scan::{Progress, TenantScan, load_connectors, scan_tenants, tenant_egress};
use crate::store::{ActionRow, ActionState, RunLease, Store, StoreError};

/// Why a run could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// The journal could not be read or written: the run stops, since an action
    /// that cannot be journaled must not be sent.
    #[error("revocation journal")]
    Store(#[from] StoreError),
    /// The runtime could not be built.
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(String),
}

/// What a person must do after the API calls, per provider: facts of each provider's
/// model that no revocation call changes.
pub fn provider_followups(provider: &str) -> &'static [&'static str] {
    match provider {
        "google-workspace" => &[
            "Google lets users consent to the app again: block it in the Admin console \
             (Security > Access and data control > API controls > Manage third-party app \
             access > set the app to Blocked). No API does this.",
        ],
        "microsoft-entra" => &[
            "Refresh tokens already issued to the app stay valid until they expire: revoke \
             the affected users' sessions (revokeSignInSessions) if the vendor is distrusted.",
        ],
        "slack" => &[
            "Restricting an app does not uninstall it; the uninstall calls do. Check the \
             workspace's app directory for copies installed outside the enterprise.",
        ],
        "salesforce" => &[
            "Blocking or uninstalling the connected app is console-only: Setup > Connected \
             Apps OAuth Usage > Block (or uninstall the package).",
        ],
        "github" => &[
            "GitHub App installations can only be removed in the organisation's settings \
             (Settings > GitHub Apps > Configure > Uninstall).",
        ],
        "okta" => &[
            "Deactivating an app the vendor does not own is left to a person: review the \
             app in the Okta Admin Console (Applications).",
        ],
        _ => &[],
    }
}

/// How to review a grant whose provider lists it without naming its app, so that it
/// could belong to any vendor with an app there; `None` for an attributable app.
///
/// Connector knowledge kept in the host until the contract lets a manifest declare it.
pub fn unattributed_review(provider: &str, app_id: &str) -> Option<&'static str> {
    match (provider, app_id) {
        ("github", "unidentified-oauth-app" | "unidentified-github-app") => Some(
            "GitHub's SSO listing does not name the app behind an OAuth-app or GitHub-App \
             token. Find it in the organisation's audit log (Settings > Audit log, \
             `action:org_credential_authorization` and `action:oauth_authorization`, by \
             the member and the time the credential was authorized); if it is the \
             vendor's, remove the SSO authorization (Settings > People > the member > SSO \
             identity, or DELETE /orgs/{org}/credential-authorizations/{credential_id}) \
             and have the member revoke the token.",
        ),
        _ => None,
    }
}

/// The live grants that could be `vendor`'s but cannot be attributed to anyone: in a
/// provider where the vendor has an app, grants the provider lists without naming
/// their app. An offboarding is not complete while any remains.
pub fn unattributed_candidates(
    vendor: &crate::vendor::Vendor,
    grants: &[GrantRecord],
) -> Vec<GrantRecord> {
    let mut out: Vec<GrantRecord> = grants
        .iter()
        .filter(|g| {
            g.vendor.is_none()
                && vendor.apps.get(&g.provider).is_some_and(|a| !a.is_empty())
                && unattributed_review(&g.provider, &g.app.id).is_some()
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
    out
}

/// A revocation plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// `vendor:ID` or `enforce`; resumable runs are found by it.
    pub label: String,
    /// What the plan is for, in words.
    pub title: String,
    /// Grants revocable through a connector, with their targets, in a stable order.
    pub actions: Vec<(GrantRecord, RevocationTarget)>,
    /// Grants no API can revoke (the connector gave no target); their notes say why.
    pub manual: Vec<GrantRecord>,
    /// Per provider concerned, what a person must still do.
    pub followups: BTreeMap<String, Vec<String>>,
    /// Live grants that could be the vendor's but name no app
    /// ([`unattributed_candidates`]): listed for review, never revoked by the plan.
    pub unattributed: Vec<GrantRecord>,
}

impl Plan {
    /// Splits `grants` into actions and manual items, ordered by tenant then id.
    pub fn new(label: &str, title: &str, mut grants: Vec<GrantRecord>) -> Plan {
        grants.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
        let mut actions = Vec::new();
        let mut manual = Vec::new();
        let mut followups = BTreeMap::new();
        for g in grants {
            followups.entry(g.provider.clone()).or_insert_with(|| {
                provider_followups(&g.provider)
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>()
            });
            match g.revocation.clone() {
                Some(t) => actions.push((g, t)),
                None => manual.push(g),
            }
        }
        Plan {
            label: label.to_owned(),
            title: title.to_owned(),
            actions,
            manual,
            followups,
            unattributed: Vec::new(),
        }
    }

    /// The plan with `candidates` listed for review (they change nothing it does, so
    /// they are not in its hash).
    pub fn with_unattributed(mut self, candidates: Vec<GrantRecord>) -> Plan {
        self.unattributed = candidates;
        self
    }

    /// SHA-256 over what the plan will do (grant, action, handle per line), so the
    /// approval in the audit log names exactly one plan.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.label.as_bytes());
        for (g, t) in &self.actions {
            h.update(b"\n");
            h.update(g.id.as_bytes());
            h.update(b"\t");
            h.update(t.action.as_bytes());
            h.update(b"\t");
            h.update(t.handle.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Tenants the plan touches.
    pub fn tenants(&self) -> BTreeSet<String> {
        self.actions
            .iter()
            .map(|(g, _)| g.tenant.clone())
            .chain(self.manual.iter().map(|g| g.tenant.clone()))
            .collect()
    }

    /// The plan's audit-log payload: counts per provider and tenant, never handles.
    pub fn summary(&self) -> serde_json::Value {
        let mut per: BTreeMap<String, u64> = BTreeMap::new();
        for (g, _) in &self.actions {
            *per.entry(format!("{}/{}", g.provider, g.tenant))
                .or_default() += 1;
        }
        serde_json::json!({
            "label": self.label,
            "title": self.title,
            "actions": self.actions.len(),
            "manual": self.manual.len(),
            "unattributed": self.unattributed.len(),
            "per_tenant": per,
        })
    }
}

/// An approval of a run, as the journal and the audit log record it.
///
/// The OS account comes from the kernel and is labelled verified; what the person
/// said about themselves (`--approver`, `--ticket`) is recorded as claimed, since
/// nothing checks it. `$USER` is not used: it is whatever the caller set.
#[derive(Debug, Clone, Copy)]
pub struct Approval<'a> {
    /// How it was given: `--yes` or `interactive`.
    pub how: &'a str,
    /// Who the approver says they are.
    pub approver: Option<&'a str>,
    /// The change ticket they name.
    pub ticket: Option<&'a str>,
}

impl Approval<'_> {
    /// The recorded form (JSON), with each identity labelled verified or claimed.
    pub fn record(&self) -> serde_json::Value {
        let os = crate::identity::OsUser::current();
        serde_json::json!({
            "how": self.how,
            "os_user": { "uid": os.uid, "name": os.name, "source": "kernel", "verified": true },
            "approver": self.approver.map(|name| {
                serde_json::json!({ "name": name, "source": "--approver", "verified": false })
            }),
            "ticket": self.ticket.map(|id| {
                serde_json::json!({ "id": id, "source": "--ticket", "verified": false })
            }),
        })
    }
}

/// Progress of a run, for a bar or log lines.
pub trait RunProgress: Send + Sync {
    /// The run starts with `total` actions, `done` of them already finished.
    fn begin(&self, total: u64, done: u64);
    /// One action reached a settled state.
    fn action(&self, row: &ActionRow, state: ActionState);
    /// Verification scanning begins.
    fn verifying(&self, tenants: usize);
}

/// Reports nothing.
pub struct Quiet;

impl RunProgress for Quiet {
    fn begin(&self, _: u64, _: u64) {}
    fn action(&self, _: &ActionRow, _: ActionState) {}
    fn verifying(&self, _: usize) {}
}

/// The outcome of a run, per action and overall.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id.
    pub run: i64,
    /// Its label.
    pub label: String,
    /// The approval as recorded: how it was given, the OS account that gave it
    /// (`verified`: from the kernel) and the approver and ticket the command line
    /// claimed (`verified: false`).
    pub approval: Option<serde_json::Value>,
    /// Every action, as journaled and verified.
    pub actions: Vec<ActionRow>,
    /// Tenants whose verification scan was partial.
    pub unverified_tenants: Vec<String>,
    /// Counts by verification (`gone`, `present`, `unverified`).
    pub verified: BTreeMap<String, u64>,
    /// Counts by final action state.
    pub states: BTreeMap<String, u64>,
    /// Manual steps the connectors reported, deduplicated.
    pub manual_steps: Vec<String>,
    /// Live grants that could be the vendor's and cannot be attributed, as of the
    /// verification rescan (filled in by the caller, which knows the vendor).
    pub unattributed: Vec<GrantRecord>,
}

impl RunReport {
    /// True when every action a connector could revoke is verified gone.
    pub fn all_gone(&self) -> bool {
        self.actions
            .iter()
            .filter(|a| a.state != ActionState::Manual)
            .all(|a| a.verified.as_deref() == Some("gone"))
    }

    /// True when nothing more is known to be left: everything revocable is gone and
    /// no credential that could be the vendor's is left unattributed.
    pub fn complete(&self) -> bool {
        self.all_gone() && self.unattributed.is_empty()
    }
}

/// One tenant's loaded connector and egress, shared by its actions.
struct TenantRig {
    connector: Arc<Connector>,
    egress: Arc<TenantEgress>,
    ctx: TenantContext,
}

/// The two connector calls the protocol makes. [`TenantRig`] (the wasm connector) is
/// the only implementation outside tests; [`run_action`]'s state machine is also
/// tested against scripted answers, so each path through it is shown, not left to
/// which faults a simulator happens to draw.
trait Revoker {
    /// Sends the revocation.
    async fn revoke(&self, row: &ActionRow) -> Result<Revocation, CallError>;
    /// Re-reads the target: `true` while it is present.
    async fn probe(&self, row: &ActionRow) -> Result<bool, CallError>;
}

impl Revoker for TenantRig {
    async fn revoke(&self, row: &ActionRow) -> Result<Revocation, CallError> {
        let egress = Arc::clone(&self.egress);
        self.connector
            .revoke(egress, &self.ctx, &row.grant.id, &row.target)
            .await
    }

    async fn probe(&self, row: &ActionRow) -> Result<bool, CallError> {
        let egress = Arc::clone(&self.egress);
        self.connector
            .probe(egress, &self.ctx, &row.grant.id, &row.target)
            .await
    }
}

/// Executes (or resumes) the journaled run `lease` holds, then verifies it by
/// rescanning. `settle` is waited first when a crash left actions in flight. Only the
/// holder of a run's lease ([`Store::claim_run`]) may execute it, and every action
/// start checks the lease again, so two processes never send for one run.
pub async fn execute(
    config: &Config,
    store: &mut Store,
    lease: &RunLease,
    label: &str,
    settle: Option<Duration>,
    progress: &dyn RunProgress,
    scan_progress: &dyn Progress,
) -> Result<RunReport, RevokeError> {
    let run = lease.run();
    let rows = store.run_actions(run)?;
    let tenant_names: BTreeSet<&str> = rows.iter().map(|r| r.grant.tenant.as_str()).collect();
    let tenants: Vec<TenantConfig> = config
        .tenants
        .iter()
        .filter(|t| tenant_names.contains(t.name.as_str()))
        .cloned()
        .collect();
    let runtime = Runtime::new(
        &config.limits,
        config.cache_dir_or_default(),
        crate::scan::capacity(config, &tenants) + config.offboard.concurrency as u32,
    )
    .map_err(|e| RevokeError::Runtime(crate::error_chain(&e)))?;
    let connectors = load_connectors(&runtime, &tenants).await;
    let mut rigs: HashMap<String, Result<TenantRig, String>> = HashMap::new();
    for t in &tenants {
        let rig = match connectors.get(&t.connector) {
            Some(Ok(c)) => {
                tenant_egress(c, t, &runtime, config.offboard.concurrency).map(|egress| TenantRig {
                    connector: Arc::clone(c),
                    egress,
                    ctx: TenantContext {
                        tenant: t.name.clone(),
                        settings: t.settings.clone(),
                    },
                })
            }
            Some(Err(e)) => Err(crate::error_chain(e.as_ref())),
            None => Err("connector not loaded".to_owned()),
        };
        rigs.insert(t.name.clone(), rig);
    }

    if let Some(wait) = settle
        && rows.iter().any(|r| r.state == ActionState::InFlight)
    {
        tracing::info!(
            seconds = wait.as_secs(),
            "waiting for requests an interrupted run may have sent to land before re-reading"
        );
        tokio::time::sleep(wait).await;
    }

    let done = rows.iter().filter(|r| r.state.finished()).count() as u64;
    progress.begin(rows.len() as u64, done);
    let journal = Mutex::new(&mut *store);
    let attempts = config.offboard.attempts;
    let unanswered = config.offboard.settle;
    let width = config.offboard.concurrency * tenants.len().max(1);
    let permits = tokio::sync::Semaphore::new(width);
    let one = |row: ActionRow| {
        let rig = rigs.get(&row.grant.tenant);
        let (journal, permits) = (&journal, &permits);
        async move {
            // `acquire` fails only on a closed semaphore, and this one is never closed.
            let _permit = permits.acquire().await.ok();
            let state = match rig {
                Some(Ok(rig)) => run_action(rig, journal, run, &row, attempts, unanswered).await?,
                Some(Err(why)) => {
                    let detail = format!("tenant `{}` cannot be reached: {why}", row.grant.tenant);
                    settle_action(journal, run, &row, ActionState::Failed, &detail, &[])?;
                    ActionState::Failed
                }
                None => {
                    let detail = format!(
                        "tenant `{}` is not in the config any more; add it back to revoke this grant",
                        row.grant.tenant
                    );
                    settle_action(journal, run, &row, ActionState::Failed, &detail, &[])?;
                    ActionState::Failed
                }
            };
            progress.action(&row, state);
            Ok::<_, RevokeError>(())
        }
    };
    // Within one app, the first action runs alone, then the middle ones together, then
    // the last alone. A revocation may act on the whole app: Okta deactivates a
    // vendor-owned app on its first grant (the others then find it inactive instead of
    // racing to deactivate it again), and Entra disables the service principal once
    // its last grant is gone (revoked side by side, the last grants each saw the others
    // and none disabled it). Apps still proceed side by side, `width` actions at a
    // time; the semaphore is fair, so first actions go in plan order.
    let unfinished = rows.into_iter().filter(|r| !r.state.finished());
    let work = by_app(unfinished).into_iter().map(|group| {
        let one = &one;
        async move {
            let mut group = group.into_iter();
            let first = group.next();
            let last = group.next_back();
            if let Some(row) = first {
                one(row).await?;
            }
            let middle = futures_util::future::join_all(group.map(one)).await;
            middle.into_iter().collect::<Result<(), RevokeError>>()?;
            match last {
                Some(row) => one(row).await,
                None => Ok(()),
            }
        }
    });
    let results: Vec<Result<(), RevokeError>> = futures_util::future::join_all(work).await;
    for r in results {
        r?;
    }

    progress.verifying(tenants.len());
    let scans = verify_scans(&runtime, config, &tenants, scan_progress).await;
    store.record_scan(&scans)?;
    let rows = store.run_actions(run)?;
    let approval = store.run(run)?.and_then(|r| r.approval);
    let mut seen: HashMap<&str, (bool, BTreeSet<&str>)> = HashMap::new();
    for s in &scans {
        seen.insert(
            s.tenant.as_str(),
            (s.complete, s.grants.iter().map(|g| g.id.as_str()).collect()),
        );
    }
    let verdicts: Vec<(i64, &'static str)> = rows
        .iter()
        .map(|r| {
            let v = match seen.get(r.grant.tenant.as_str()) {
                Some((_, ids)) if ids.contains(r.grant.id.as_str()) => "present",
                Some((true, _)) => "gone",
                _ => "unverified",
            };
            (r.seq, v)
        })
        .collect();
    let mut verified: BTreeMap<String, u64> = BTreeMap::new();
    for (_, v) in &verdicts {
        *verified.entry((*v).to_owned()).or_default() += 1;
    }
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *states.entry(r.state.name().to_owned()).or_default() += 1;
    }
    let unverified_tenants: Vec<String> = scans
        .iter()
        .filter(|s| !s.complete)
        .map(|s| s.tenant.clone())
        .collect();
    let summary = serde_json::json!({
        "label": label,
        "verified": verified,
        "states": states,
        "unverified_tenants": unverified_tenants,
    });
    let pairs: Vec<(i64, &str)> = verdicts.iter().map(|(s, v)| (*s, *v)).collect();
    store.finish_run(run, &pairs, &summary)?;
    let mut actions = rows;
    for (a, (_, v)) in actions.iter_mut().zip(&verdicts) {
        a.verified = Some((*v).to_owned());
    }
    let mut manual_steps = Vec::new();
    for a in &actions {
        for s in &a.manual_steps {
            if !manual_steps.contains(s) {
                manual_steps.push(s.clone());
            }
        }
    }
    Ok(RunReport {
        run,
        label: label.to_owned(),
        approval,
        actions,
        unverified_tenants,
        verified,
        states,
        manual_steps,
        unattributed: Vec::new(),
    })
}

/// Rescans `tenants`; a tenant whose scan is partial is scanned again (twice at
/// most), so one flaky page does not leave a revocation unverified.
async fn verify_scans(
    runtime: &Runtime,
    config: &Config,
    tenants: &[TenantConfig],
    progress: &dyn Progress,
) -> Vec<TenantScan> {
    let mut scans = scan_tenants(runtime, config, tenants, progress).await;
    for _ in 0..2 {
        let again: Vec<TenantConfig> = tenants
            .iter()
            .filter(|t| scans.iter().any(|s| s.tenant == t.name && !s.complete))
            .cloned()
            .collect();
        if again.is_empty() {
            break;
        }
        for fresh in scan_tenants(runtime, config, &again, progress).await {
            if let Some(slot) = scans.iter_mut().find(|s| s.tenant == fresh.tenant) {
                *slot = fresh;
            }
        }
    }
    scans
}

/// Actions grouped by (tenant, app), each group in plan order, groups in order of
/// their first action.
fn by_app(rows: impl Iterator<Item = ActionRow>) -> Vec<Vec<ActionRow>> {
    let mut groups: Vec<Vec<ActionRow>> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for row in rows {
        let key = (row.grant.tenant.clone(), row.grant.app.id.clone());
        match index.get(&key) {
            Some(&i) => groups[i].push(row),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

type Journal<'a> = Mutex<&'a mut Store>;

fn settle_action(
    journal: &Journal<'_>,
    run: i64,
    row: &ActionRow,
    state: ActionState,
    detail: &str,
    steps: &[String],
) -> Result<(), RevokeError> {
    let event = "revocation.response";
    journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .action_settled(run, row.seq, state, detail, steps, event)?;
    Ok(())
}

/// Whether a failure says nothing reached the provider and a retry cannot help: a
/// setting, a permission, an unknown action. Everything else may have left.
fn permanent(e: &CallError) -> bool {
    matches!(
        &e.failure,
        Failure::Connector {
            code: ErrorCode::Config
                | ErrorCode::Permission
                | ErrorCode::Unauthenticated
                | ErrorCode::Unsupported
                | ErrorCode::InvalidInput,
            ..
        } | Failure::Instantiate(_)
    )
}

/// Drives one action to a settled state, journaling every step. Returns its final
/// state.
async fn run_action(
    rig: &impl Revoker,
    journal: &Journal<'_>,
    run: i64,
    row: &ActionRow,
    max_attempts: u32,
    settle: Duration,
) -> Result<ActionState, RevokeError> {
    let mut state = row.state;
    // Attempts count per invocation: `--resume` is an operator asking to try again,
    // and a crash must not use up the budget (the journal keeps the total).
    let mut attempts = 0;
    let mut probes = 0u32;
    let lock = || journal.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if state.needs_probe() {
            if probes >= max_attempts * 2 {
                return Ok(state);
            }
            probes += 1;
            match rig.probe(row).await {
                Ok(false) => {
                    lock().action_settled(
                        run,
                        row.seq,
                        ActionState::Gone,
                        "re-read after an unanswered attempt: the grant is gone",
                        &[],
                        "revocation.probe",
                    )?;
                    return Ok(ActionState::Gone);
                }
                Ok(true) => {
                    // Out of attempts, the re-read settles the action (one entry);
                    // otherwise it is logged as what licenses the next revoke call.
                    if attempts < max_attempts {
                        lock().action_probed(
                            run,
                            row.seq,
                            "present",
                            "re-read after an unanswered attempt: the grant is still there",
                        )?;
                    }
                    if attempts >= max_attempts {
                        lock().action_settled(
                            run,
                            row.seq,
                            ActionState::Failed,
                            &format!(
                                "still present after {attempts} attempts; run `--resume` to try again"
                            ),
                            &[],
                            "revocation.probe",
                        )?;
                        return Ok(ActionState::Failed);
                    }
                }
                Err(e) => {
                    // The state stays as it was: nothing is known yet.
                    let why = crate::error_chain(&e);
                    tracing::warn!(grant = %row.grant.id, error = %why, "re-read failed");
                    lock().action_probed(
                        run,
                        row.seq,
                        "unknown",
                        &format!("re-read failed: {why}"),
                    )?;
                    backoff(probes).await;
                    continue;
                }
            }
        }
        lock().action_started(run, row.seq, state)?;
        attempts += 1;
        let outcome = rig.revoke(row).await;
        match outcome {
            Ok(r) => {
                let state = match r.status {
                    RevocationStatus::Revoked => ActionState::Done,
                    RevocationStatus::AlreadyGone => ActionState::Gone,
                    RevocationStatus::ManualRequired => ActionState::Manual,
                };
                lock().action_settled(
                    run,
                    row.seq,
                    state,
                    &r.detail,
                    &r.manual_steps,
                    "revocation.response",
                )?;
                return Ok(state);
            }
            Err(e) if permanent(&e) => {
                let detail = crate::error_chain(&e);
                lock().action_settled(
                    run,
                    row.seq,
                    ActionState::Failed,
                    &detail,
                    &[],
                    "revocation.response",
                )?;
                return Ok(ActionState::Failed);
            }
            Err(e) => {
                let detail = format!("no clear answer: {}", crate::error_chain(&e));
                lock().action_settled(
                    run,
                    row.seq,
                    ActionState::Ambiguous,
                    &detail,
                    &[],
                    "revocation.response",
                )?;
                state = ActionState::Ambiguous;
                // A request that timed out here may still be on its way to the provider:
                // give it the settle time to land before the re-read, or the re-read
                // could see the grant present and a retry would revoke it twice.
                tokio::time::sleep(settle.max(backoff_delay(attempts))).await;
            }
        }
    }
}

fn backoff_delay(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(backoff_delay(attempt)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, tenant: &str, target: Option<(&str, &str)>) -> GrantRecord {
        let mut g = crate::test_support::grant(id);
        g.provider = "github".into();
        g.tenant = tenant.into();
        g.app.id = "1".into();
        g.revocation = target.map(|(a, h)| RevocationTarget {
            action: a.into(),
            handle: h.into(),
        });
        g
    }

    #[test]
    fn plans_split_revocable_from_manual_and_hash_what_they_do() {
        let p = Plan::new(
            "vendor:x",
            "t",
            vec![
                grant("g/b/2", "b", Some(("pat-grant", "2"))),
                grant("g/a/1", "a", Some(("pat-grant", "1"))),
                grant("g/a/3", "a", None),
            ],
        );
        let ids: Vec<&str> = p.actions.iter().map(|(g, _)| g.id.as_str()).collect();
        assert_eq!(ids, ["g/a/1", "g/b/2"]);
        assert_eq!(p.manual.len(), 1);
        assert_eq!(p.tenants().len(), 2);
        assert!(!p.followups["github"].is_empty());
        let same = Plan::new(
            "vendor:x",
            "t",
            vec![
                grant("g/a/1", "a", Some(("pat-grant", "1"))),
                grant("g/b/2", "b", Some(("pat-grant", "2"))),
            ],
        );
        assert_eq!(p.hash(), same.hash(), "order of input does not matter");
        let other = Plan::new(
            "vendor:x",
            "t",
            vec![grant("g/a/1", "a", Some(("pat-grant", "9")))],
        );
        assert_ne!(p.hash(), other.hash());
    }

    #[test]
    fn actions_group_by_tenant_and_app_in_plan_order() {
        let row = |seq: i64, tenant: &str, app: &str| {
            let mut g = grant(&format!("g/{tenant}/{seq}"), tenant, None);
            g.app.id = app.into();
            ActionRow {
                seq,
                grant: g,
                target: RevocationTarget {
                    action: "pat-grant".into(),
                    handle: seq.to_string(),
                },
                state: ActionState::Pending,
                attempts: 0,
                detail: None,
                manual_steps: Vec::new(),
                verified: None,
            }
        };
        let rows = [
            row(1, "a", "x"),
            row(2, "b", "x"),
            row(3, "a", "y"),
            row(4, "a", "x"),
            row(5, "b", "x"),
        ];
        let groups: Vec<Vec<i64>> = by_app(rows.into_iter())
            .iter()
            .map(|g| g.iter().map(|r| r.seq).collect())
            .collect();
        // The same app in another tenant is another group: its effects are separate.
        assert_eq!(groups, [vec![1, 4], vec![2, 5], vec![3]]);
    }

    /// Answers from a script and counts the calls; a call past the end of its script
    /// is a test failure, so "exactly this many revoke calls" is checked by
    /// construction.
    #[derive(Default)]
    struct Scripted {
        revokes: Mutex<std::collections::VecDeque<Result<RevocationStatus, ErrorCode>>>,
        probes: Mutex<std::collections::VecDeque<Result<bool, ErrorCode>>>,
    }

    impl Scripted {
        fn new(
            revokes: impl IntoIterator<Item = Result<RevocationStatus, ErrorCode>>,
            probes: impl IntoIterator<Item = Result<bool, ErrorCode>>,
        ) -> Self {
            Scripted {
                revokes: Mutex::new(revokes.into_iter().collect()),
                probes: Mutex::new(probes.into_iter().collect()),
            }
        }

        /// Whether every scripted answer was asked for.
        fn used_up(&self) -> bool {
            let revokes = self.revokes.lock().unwrap_or_else(PoisonError::into_inner);
            let probes = self.probes.lock().unwrap_or_else(PoisonError::into_inner);
            revokes.is_empty() && probes.is_empty()
        }
    }

    fn failed(code: ErrorCode) -> CallError {
        CallError {
            connector: "c".into(),
            tenant: "t".into(),
            call: "scripted".into(),
            failure: Failure::Connector {
                code,
                message: format!("{code:?}"),
                retry_after: None,
            },
        }
    }

    /// The next scripted answer; a call past the end of the script fails the test.
    fn next<T>(script: &Mutex<std::collections::VecDeque<T>>, call: &str, row: &ActionRow) -> T {
        let next = script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        next.unwrap_or_else(|| panic!("an unscripted {call} for {}", row.grant.id))
    }

    impl Revoker for Scripted {
        async fn revoke(&self, row: &ActionRow) -> Result<Revocation, CallError> {
            next(&self.revokes, "revoke call", row)
                .map(|status| Revocation {
                    status,
                    detail: format!("{status:?}"),
                    manual_steps: Vec::new(),
                })
                .map_err(failed)
        }

        async fn probe(&self, row: &ActionRow) -> Result<bool, CallError> {
            next(&self.probes, "probe", row).map_err(failed)
        }
    }

    /// A journal with one approved action, `in_flight` first when `crashed` (a
    /// process died after sending it); runs `rig` on it with 3 attempts, and returns
    /// the final state and the journal's attempt count.
    async fn drive(rig: &Scripted, crashed: bool) -> (ActionState, u32) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let g = grant("github/t/pat-grant:1", "t", Some(("pat-grant", "1")));
        let target = g.revocation.clone().unwrap_or_else(|| panic!("a target"));
        let summary = serde_json::json!({});
        let run = store
            .create_run("vendor:x", "h", &[(g, target)], &summary)
            .unwrap_or_else(|e| panic!("{e}"));
        let approval = Approval {
            how: "--yes",
            approver: None,
            ticket: None,
        };
        let _lease = store
            .claim_run(run, Duration::from_secs(60), Some(&approval.record()))
            .unwrap_or_else(|e| panic!("{e}"));
        if crashed {
            store
                .action_started(run, 1, ActionState::Pending)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let rows = store.run_actions(run).unwrap_or_else(|e| panic!("{e}"));
        let probes = rig
            .probes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let journal = Mutex::new(&mut store);
        let state = run_action(rig, &journal, run, &rows[0], 3, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = store.run_actions(run).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rows[0].state, state,
            "the journal says what run_action says"
        );
        assert!(rig.used_up(), "a scripted call was never made");
        // Every re-read is in the audit log, whatever it found.
        let logged = store
            .audit_entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter(|e| e.kind == "revocation.probe")
            .count();
        assert_eq!(logged, probes, "one audit entry per re-read");
        (state, rows[0].attempts)
    }

    use ErrorCode::{Permission, Provider};
    use RevocationStatus::{AlreadyGone, Revoked};

    #[tokio::test(start_paused = true)]
    async fn an_answered_revoke_is_sent_once() {
        let rig = Scripted::new([Ok(Revoked)], []);
        assert_eq!(drive(&rig, false).await, (ActionState::Done, 1));
        let rig = Scripted::new([Ok(AlreadyGone)], []);
        assert_eq!(drive(&rig, false).await, (ActionState::Gone, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_revoke_whose_target_is_gone_is_not_sent_again() {
        let rig = Scripted::new([Err(Provider)], [Ok(false)]);
        assert_eq!(drive(&rig, false).await, (ActionState::Gone, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_re_read_is_read_again_never_taken_for_present() {
        // Two re-reads fail (a garbled body, a 5xx): nothing is known, so nothing is
        // sent; the third finds the target present, and only then is it sent again.
        let rig = Scripted::new(
            [Err(Provider), Ok(Revoked)],
            [Err(ErrorCode::Malformed), Err(Provider), Ok(true)],
        );
        assert_eq!(drive(&rig, false).await, (ActionState::Done, 2));
        // Re-reads that never succeed leave the action unanswered, not re-sent.
        let rig = Scripted::new([Err(Provider)], std::iter::repeat_n(Err(Provider), 6));
        assert_eq!(drive(&rig, false).await, (ActionState::Ambiguous, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_still_present_after_every_attempt_fails_the_action() {
        let rig = Scripted::new(
            [Err(Provider), Err(Provider), Err(Provider)],
            [Ok(true), Ok(true), Ok(true)],
        );
        assert_eq!(drive(&rig, false).await, (ActionState::Failed, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_clear_refusal_is_not_retried() {
        let rig = Scripted::new([Err(Permission)], []);
        assert_eq!(drive(&rig, false).await, (ActionState::Failed, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_action_a_crash_left_in_flight_is_re_read_before_anything_is_sent() {
        // The dead process's request landed: nothing more is sent.
        let rig = Scripted::new([], [Ok(false)]);
        assert_eq!(drive(&rig, true).await, (ActionState::Gone, 1));
        // It did not: one more revoke call, the second in the journal.
        let rig = Scripted::new([Ok(Revoked)], [Ok(true)]);
        assert_eq!(drive(&rig, true).await, (ActionState::Done, 2));
    }

    #[test]
    fn only_clear_refusals_are_permanent() {
        let err = |failure| CallError {
            connector: "c".into(),
            tenant: "t".into(),
            call: "revoke".into(),
            failure,
        };
        let conn = |code| Failure::Connector {
            code,
            message: String::new(),
            retry_after: None,
        };
        assert!(permanent(&err(conn(ErrorCode::Permission))));
        assert!(permanent(&err(conn(ErrorCode::Config))));
        for ambiguous in [
            conn(ErrorCode::Egress),
            conn(ErrorCode::Provider),
            conn(ErrorCode::RateLimited),
            conn(ErrorCode::Malformed),
            Failure::Wall(Duration::from_secs(1)),
            Failure::Trap("x".into()),
        ] {
            assert!(!permanent(&err(ambiguous.clone())), "{ambiguous:?}");
        }
    }
}
