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
//!    sent again blindly: the connector's `probe` re-reads the target first, with
//!    short growing waits (¼ s, ½ s, 1 s, …), and a target found gone counts as done
//!    at once. Only a target still present once the tenant's settle time has passed
//!    — the connector's declared consistency window, or `[offboard] settle_secs` —
//!    is sent again, so a request already on its way lands, and shows, first.
//! 3. After the run each planned target is re-read the same way (`[offboard] verify
//!    = "probe"`, the default: a confirmed revocation may still show for the
//!    consistency window), or the tenants concerned are scanned again and the scan
//!    recorded (`"rescan"`, which also shows grants created since the plan), and each
//!    planned grant is verified `gone`, `present` or `unverified`.
//!
//! **Invariant:** a revoke call is made only for an action whose journal says nothing
//! was sent (`pending`) or whose target a re-read has just found present. Only the
//! grants in the approved plan are ever addressed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, DEFAULT_SETTLE, TenantConfig, Verify};
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
    /// Verification begins: `count` targets to re-read, or tenants to rescan.
    fn verifying(&self, how: Verify, count: usize);
}

/// Reports nothing.
pub struct Quiet;

impl RunProgress for Quiet {
    fn begin(&self, _: u64, _: u64) {}
    fn action(&self, _: &ActionRow, _: ActionState) {}
    fn verifying(&self, _: Verify, _: usize) {}
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
    /// How the actions were verified.
    #[serde(serialize_with = "verify_name")]
    pub verified_by: Verify,
    /// Tenants where something could not be verified: the rescan was partial, or a
    /// target could not be re-read.
    pub unverified_tenants: Vec<String>,
    /// Counts by verification (`gone`, `present`, `unverified`).
    pub verified: BTreeMap<String, u64>,
    /// Counts by final action state.
    pub states: BTreeMap<String, u64>,
    /// Manual steps the connectors reported, deduplicated.
    pub manual_steps: Vec<String>,
    /// Live grants that could be the vendor's and cannot be attributed, as of the
    /// newest recorded scan (filled in by the caller, which knows the vendor).
    pub unattributed: Vec<GrantRecord>,
}

fn verify_name<S: serde::Serializer>(v: &Verify, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
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
    /// How long a re-read may still show a revoked target: see [`settle_time`].
    settle: Duration,
}

/// How long, after a revocation was sent, reads of `connector`'s provider may still
/// show the target: `[offboard] settle_secs` when set, else the connector's declared
/// consistency window, else [`DEFAULT_SETTLE`].
fn settle_time(config: &Config, connector: &Connector) -> Duration {
    config
        .offboard
        .settle
        .unwrap_or_else(|| match connector.manifest().consistency_window_ms {
            0 => DEFAULT_SETTLE,
            ms => Duration::from_millis(u64::from(ms)),
        })
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

/// Executes (or resumes) the journaled run `lease` holds, then verifies it as
/// `[offboard] verify` says. What a crash left in flight is re-read before anything
/// is sent. Only the holder of a run's lease ([`Store::claim_run`]) may execute it,
/// and every action start checks the lease again, so two processes never send for
/// one run.
pub async fn execute(
    config: &Config,
    store: &mut Store,
    lease: &RunLease,
    label: &str,
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
                    settle: settle_time(config, c),
                })
            }
            Some(Err(e)) => Err(crate::error_chain(e.as_ref())),
            None => Err("connector not loaded".to_owned()),
        };
        rigs.insert(t.name.clone(), rig);
    }

    let done = rows.iter().filter(|r| r.state.finished()).count() as u64;
    progress.begin(rows.len() as u64, done);
    let journal = Mutex::new(&mut *store);
    let attempts = config.offboard.attempts;
    let width = config.offboard.concurrency * tenants.len().max(1);
    let permits = tokio::sync::Semaphore::new(width);
    let one = |row: ActionRow| {
        let rig = rigs.get(&row.grant.tenant);
        let (journal, permits) = (&journal, &permits);
        async move {
            let state = match rig {
                Some(Ok(rig)) => {
                    let rig = Permitted { rig, permits };
                    run_action(&rig, journal, run, &row, attempts, rig.rig.settle).await?
                }
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
    // A permit is held only while a call is out, not while an action waits to re-read
    // a target, so a few unclear answers do not hold up everyone else's revocations.
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

    let rows = store.run_actions(run)?;
    let how = config.offboard.verify;
    let (verdicts, unverified_tenants) = match how {
        Verify::Probe => {
            progress.verifying(how, rows.len());
            let verdicts = verify_reads(&rigs, &rows, &permits, attempts).await;
            let mut partial: BTreeSet<&str> = BTreeSet::new();
            for (row, (_, v)) in rows.iter().zip(&verdicts) {
                if *v == "unverified" {
                    partial.insert(&row.grant.tenant);
                }
            }
            let partial = partial.into_iter().map(str::to_owned).collect();
            (verdicts, partial)
        }
        Verify::Rescan => {
            progress.verifying(how, tenants.len());
            let scans = verify_scans(&runtime, config, &tenants, scan_progress).await;
            store.record_scan(&scans)?;
            (verdicts_of(&rows, &scans), unverified_of(&scans))
        }
    };
    let approval = store.run(run)?.and_then(|r| r.approval);
    let mut verified: BTreeMap<String, u64> = BTreeMap::new();
    for (_, v) in &verdicts {
        *verified.entry((*v).to_owned()).or_default() += 1;
    }
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *states.entry(r.state.name().to_owned()).or_default() += 1;
    }
    let summary = serde_json::json!({
        "label": label,
        "verified_by": how.name(),
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
        verified_by: how,
        unverified_tenants,
        verified,
        states,
        manual_steps,
        unattributed: Vec::new(),
    })
}

/// Each action's verdict from re-reading its target: `gone`, `present`, or
/// `unverified` when its tenant cannot be reached or the target cannot be read. A
/// revocation the provider confirmed may still show for the tenant's settle time,
/// so such a target is read until it is gone or that time has passed; any other is
/// read once (it is expected present, or nothing is known).
async fn verify_reads(
    rigs: &HashMap<String, Result<TenantRig, String>>,
    rows: &[ActionRow],
    permits: &tokio::sync::Semaphore,
    attempts: u32,
) -> Vec<(i64, &'static str)> {
    let reads = rows.iter().map(|row| async move {
        let verdict = match rigs.get(&row.grant.tenant) {
            Some(Ok(rig)) => {
                let settle = match row.state {
                    ActionState::Done | ActionState::Gone => rig.settle,
                    _ => Duration::ZERO,
                };
                let rig = Permitted { rig, permits };
                match read_until_gone(&rig, row, settle, attempts * 2, |_, _| Ok(())).await {
                    Ok(Read::Gone) => "gone",
                    Ok(Read::Present) => "present",
                    Ok(Read::Unknown) | Err(_) => "unverified",
                }
            }
            _ => "unverified",
        };
        (row.seq, verdict)
    });
    futures_util::future::join_all(reads).await
}

/// Each action's verdict from a verification rescan.
fn verdicts_of(rows: &[ActionRow], scans: &[TenantScan]) -> Vec<(i64, &'static str)> {
    let mut seen: HashMap<&str, (bool, BTreeSet<&str>)> = HashMap::new();
    for s in scans {
        seen.insert(
            s.tenant.as_str(),
            (s.complete, s.grants.iter().map(|g| g.id.as_str()).collect()),
        );
    }
    rows.iter()
        .map(|r| {
            let v = match seen.get(r.grant.tenant.as_str()) {
                Some((_, ids)) if ids.contains(r.grant.id.as_str()) => "present",
                Some((true, _)) => "gone",
                _ => "unverified",
            };
            (r.seq, v)
        })
        .collect()
}

fn unverified_of(scans: &[TenantScan]) -> Vec<String> {
    scans
        .iter()
        .filter(|s| !s.complete)
        .map(|s| s.tenant.clone())
        .collect()
}

/// A [`Revoker`] whose calls each hold one of the run's permits while they are out.
struct Permitted<'a, R> {
    rig: &'a R,
    permits: &'a tokio::sync::Semaphore,
}

impl<R: Revoker> Revoker for Permitted<'_, R> {
    async fn revoke(&self, row: &ActionRow) -> Result<Revocation, CallError> {
        // `acquire` fails only on a closed semaphore, and this one is never closed.
        let _permit = self.permits.acquire().await.ok();
        self.rig.revoke(row).await
    }

    async fn probe(&self, row: &ActionRow) -> Result<bool, CallError> {
        let _permit = self.permits.acquire().await.ok();
        self.rig.probe(row).await
    }
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

/// What re-reading a target found.
#[derive(Debug)]
enum Read {
    /// The target is gone.
    Gone,
    /// Still present after the settle time.
    Present,
    /// No read succeeded often enough to say (each failure is logged).
    Unknown,
}

/// The first wait before re-reading a target; each later wait doubles, up to
/// [`REREAD_MAX_WAIT`].
const REREAD_FIRST_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between two re-reads of one target.
const REREAD_MAX_WAIT: Duration = Duration::from_secs(15);

/// Re-reads `row`'s target with short, growing waits until it is gone, or until it
/// has been found present with `settle` passed since the first read was due (a
/// provider may show a revoked target for its consistency window, and a request
/// that got no answer may still land), or until `failures` reads in a row have
/// failed. A clear refusal to read (a permission, an unsupported target) ends it at
/// once. `log` hears each read's outcome first (`present`, or `unknown` with why).
async fn read_until_gone(
    rig: &impl Revoker,
    row: &ActionRow,
    settle: Duration,
    failures: u32,
    mut log: impl FnMut(&str, &str) -> Result<(), RevokeError>,
) -> Result<Read, RevokeError> {
    let deadline = tokio::time::Instant::now() + REREAD_FIRST_WAIT + settle;
    let mut wait = REREAD_FIRST_WAIT;
    let mut failed = 0u32;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Until the deadline, the last wait lands on it; after it, only failed reads
        // are retried, with the wait still growing.
        tokio::time::sleep(if left.is_zero() { wait } else { wait.min(left) }).await;
        wait = (wait * 2).min(REREAD_MAX_WAIT);
        match rig.probe(row).await {
            Ok(false) => return Ok(Read::Gone),
            Ok(true) if tokio::time::Instant::now() >= deadline => return Ok(Read::Present),
            Ok(true) => {
                failed = 0;
                let detail = format!(
                    "re-read: still there, within the {} s it may take to show; reading again",
                    settle.as_secs_f32()
                );
                log("present", &detail)?;
            }
            Err(e) => {
                let why = crate::error_chain(&e);
                tracing::warn!(grant = %row.grant.id, error = %why, "re-read failed");
                log("unknown", &format!("re-read failed: {why}"))?;
                failed += 1;
                if failed >= failures || permanent(&e) {
                    return Ok(Read::Unknown);
                }
            }
        }
    }
}

/// When `e` is the provider refusing for a rate limit: the wait it named, or zero.
fn rate_limited(e: &CallError) -> Option<Duration> {
    match &e.failure {
        Failure::Connector {
            code: ErrorCode::RateLimited,
            retry_after,
            ..
        } => Some(retry_after.unwrap_or_default()),
        _ => None,
    }
}

fn backoff_delay(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5))
}

/// Drives one action to a settled state, journaling every step; `settle` is how
/// long the tenant's reads may lag a revocation. Returns its final state.
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
    let lock = || journal.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if state.needs_probe() {
            // Every read is in the audit log, whatever it found: a `present` after the
            // settle time is what licenses the next revoke call.
            let log = |found: &str, detail: &str| {
                lock().action_probed(run, row.seq, found, detail)?;
                Ok(())
            };
            match read_until_gone(rig, row, settle, max_attempts * 2, log).await? {
                Read::Gone => {
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
                // Nothing is known: the state stays as it was, for `--resume`.
                Read::Unknown => return Ok(state),
                Read::Present if attempts >= max_attempts => {
                    // Out of attempts, the re-read settles the action (one entry).
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
                Read::Present => {
                    lock().action_probed(
                        run,
                        row.seq,
                        "present",
                        &format!(
                            "re-read after an unanswered attempt: the grant is still there \
                             after {} s",
                            settle.as_secs_f32()
                        ),
                    )?;
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
            // A rate limit is a refusal before anything was done: the provider says so
            // (429, Slack's `ratelimited`, Google's `rateLimitExceeded`), so the action
            // is pending again and is sent after the wait the provider named, without
            // waiting out the settle time. It still counts as an attempt.
            Err(e) if rate_limited(&e).is_some() && attempts < max_attempts => {
                let wait = rate_limited(&e)
                    .unwrap_or_default()
                    .max(backoff_delay(attempts));
                let detail = format!(
                    "rate limited, not processed; sending again in {:.1} s: {}",
                    wait.as_secs_f32(),
                    crate::error_chain(&e)
                );
                lock().action_settled(
                    run,
                    row.seq,
                    ActionState::Pending,
                    &detail,
                    &[],
                    "revocation.response",
                )?;
                state = ActionState::Pending;
                tokio::time::sleep(wait).await;
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
                // The request may still be on its way to the provider: the re-read
                // above waits out the settle time before it may be sent again.
                state = ActionState::Ambiguous;
            }
        }
    }
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
        /// When each call was made, in (paused) test time, in order.
        calls: Mutex<Vec<(&'static str, tokio::time::Instant)>>,
    }

    impl Scripted {
        fn new(
            revokes: impl IntoIterator<Item = Result<RevocationStatus, ErrorCode>>,
            probes: impl IntoIterator<Item = Result<bool, ErrorCode>>,
        ) -> Self {
            Scripted {
                revokes: Mutex::new(revokes.into_iter().collect()),
                probes: Mutex::new(probes.into_iter().collect()),
                calls: Mutex::default(),
            }
        }

        fn called(&self, call: &'static str) {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            calls.push((call, tokio::time::Instant::now()));
        }

        /// Seconds from the first call to each revoke call.
        fn revoke_times(&self) -> Vec<f64> {
            let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            let Some((_, first)) = calls.first() else {
                return Vec::new();
            };
            calls
                .iter()
                .filter(|(c, _)| *c == "revoke")
                .map(|(_, at)| at.duration_since(*first).as_secs_f64())
                .collect()
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
            self.called("revoke");
            next(&self.revokes, "revoke call", row)
                .map(|status| Revocation {
                    status,
                    detail: format!("{status:?}"),
                    manual_steps: Vec::new(),
                })
                .map_err(failed)
        }

        async fn probe(&self, row: &ActionRow) -> Result<bool, CallError> {
            self.called("probe");
            next(&self.probes, "probe", row).map_err(failed)
        }
    }

    /// A journal with one approved action, `in_flight` first when `crashed` (a
    /// process died after sending it); runs `rig` on it with 3 attempts and no settle
    /// time, and returns the final state and the journal's attempt count.
    async fn drive(rig: &Scripted, crashed: bool) -> (ActionState, u32) {
        drive_settling(rig, crashed, Duration::ZERO).await
    }

    /// [`drive`], with reads that may lag a revocation by `settle`.
    async fn drive_settling(rig: &Scripted, crashed: bool, settle: Duration) -> (ActionState, u32) {
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
        let state = run_action(rig, &journal, run, &rows[0], 3, settle)
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
    async fn an_unanswered_revoke_is_re_read_with_growing_waits_and_gone_ends_it_early() {
        // Reads still show the target (the provider lags), then it is gone: done,
        // nothing sent twice, and long before the 60 s settle time.
        let rig = Scripted::new([Err(Provider)], [Ok(true), Ok(true), Ok(true), Ok(false)]);
        let started = tokio::time::Instant::now();
        let settle = Duration::from_secs(60);
        assert_eq!(
            drive_settling(&rig, false, settle).await,
            (ActionState::Gone, 1)
        );
        // ¼ s, ½ s, 1 s, 2 s between reads.
        assert_eq!(started.elapsed(), Duration::from_millis(3_750));
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_is_sent_again_only_once_the_settle_time_has_passed() {
        // Present on every read within 10 s: the second revoke call waits for all of
        // them (¼, ½, 1, 2, 4 s, then the rest of the 10 s), never sooner.
        let present = std::iter::repeat_n(Ok(true), 6);
        let rig = Scripted::new([Err(Provider), Ok(Revoked)], present);
        let settle = Duration::from_secs(10);
        assert_eq!(
            drive_settling(&rig, false, settle).await,
            (ActionState::Done, 2)
        );
        let times = rig.revoke_times();
        assert_eq!(times.len(), 2, "{times:?}");
        assert!(times[1] - times[0] >= 10.25, "sent again after {times:?}");
        // A crash: the same, from the first read on.
        let rig = Scripted::new([Ok(Revoked)], std::iter::repeat_n(Ok(true), 6));
        assert_eq!(
            drive_settling(&rig, true, settle).await,
            (ActionState::Done, 2)
        );
        assert!(rig.revoke_times()[0] >= 10.0, "{:?}", rig.revoke_times());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_revoke_is_sent_again_after_the_wait_without_a_re_read() {
        let rig = Scripted::new([Err(ErrorCode::RateLimited), Ok(Revoked)], []);
        assert_eq!(
            drive_settling(&rig, false, Duration::from_secs(60)).await,
            (ActionState::Done, 2)
        );
        let times = rig.revoke_times();
        assert!(times[1] < 5.0, "waited {times:?}");
        // Rate limited on the last attempt: unclear like any other failure, so re-read.
        let limited = std::iter::repeat_n(Err(ErrorCode::RateLimited), 3);
        let rig = Scripted::new(limited, [Ok(false)]);
        assert_eq!(drive(&rig, false).await, (ActionState::Gone, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_clear_refusal_to_read_is_not_read_again() {
        let rig = Scripted::new([Err(Provider)], [Err(Permission)]);
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
