//! Who executes a revocation run: one process at a time, by lease.
//!
//! Two processes that execute the same grants at once would both send (in trials
//! before this existed, 60–92% of the targets were revoked twice). So a run is
//! *claimed* before any action starts: inside one `BEGIN IMMEDIATE` transaction the
//! claimer checks that no live process owns this run, nor any other unfinished run
//! sharing one of its grants, and writes itself in as owner with a lease. The owner
//! renews the lease from a thread of its own (a second SQLite connection) every
//! quarter of its length; every action start is a compare-and-set that also requires
//! the lease to be held (see [`Store::action_started`]).
//!
//! An owner is live while its lease has not lapsed and, when it runs on this host,
//! while its process exists: a crashed process's run can be resumed at once on the
//! same host, and after the lease lapses from anywhere else. Hosts sharing a store
//! must keep their clocks within a fraction of the lease of each other.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, append_audit_in};
use crate::identity;

/// The process that owns (or last owned) a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOwner {
    /// Its process id on `host`.
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
    /// When it claimed the run (RFC 3339 UTC).
    pub since: String,
    /// Whether it still holds the run: lease not lapsed and, on this host, the process
    /// still there. Computed when the row was read.
    pub live: bool,
}

impl std::fmt::Display for RunOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {} since {}", self.pid, self.host, self.since)
    }
}

/// The right to execute one run, held while this value lives. Dropping it stops the
/// renewals and gives the run up at once (it is then interrupted, and resumable).
pub struct RunLease {
    run: i64,
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

impl RunLease {
    /// The run it is for.
    pub fn run(&self) -> i64 {
        self.run
    }

    /// True once a renewal found the run owned by someone else (the lease had lapsed
    /// and another process took over): nothing more may be sent.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for RunLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.renewer.take() {
            // The renewer gives the run up before it exits; a panic there is logged.
            if t.join().is_err() {
                tracing::warn!(run = self.run, "the lease renewer panicked");
            }
        }
    }
}

/// Milliseconds since the Unix epoch, the lease clock.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether an owner with this pid, host and lease still holds its run at `now`.
pub(super) fn live(pid: u32, host: &str, lease_until: i64, now: i64, this_host: &str) -> bool {
    lease_until > now && (host != this_host || identity::process_alive(pid))
}

/// Reads the owner columns (`owner_pid, owner_host, owner_since, lease_until`,
/// starting at `first`) of a run row.
pub(super) fn owner_from(
    r: &rusqlite::Row<'_>,
    first: usize,
    this_host: &str,
) -> rusqlite::Result<Option<RunOwner>> {
    let pid: Option<i64> = r.get(first)?;
    let host: Option<String> = r.get(first + 1)?;
    let since: Option<String> = r.get(first + 2)?;
    let lease_until: Option<i64> = r.get(first + 3)?;
    Ok(match (pid, host, since) {
        (Some(pid), Some(host), Some(since)) => {
            let pid = u32::try_from(pid).unwrap_or(u32::MAX);
            let live = live(pid, &host, lease_until.unwrap_or(0), now_ms(), this_host);
            Some(RunOwner {
                pid,
                host,
                since,
                live,
            })
        }
        _ => None,
    })
}

/// The owner columns, for `SELECT` lists read with [`owner_from`].
pub(super) const OWNER_COLUMNS: &str = "owner_pid, owner_host, owner_since, lease_until";
/// The same, of a `revocation_runs` table aliased `r`.
const OWNER_COLUMNS_OF_R: &str = "r.owner_pid, r.owner_host, r.owner_since, r.lease_until";

/// What a claim found standing in its way, decided inside the claiming transaction.
enum Blocked {
    Owned { run: i64, owner: RunOwner },
    Interrupted { run: i64 },
    Finished,
    Missing,
    NotApproved,
}

impl Store {
    /// Claims run `run` for this process, or refuses: another live process owns it
    /// ([`StoreError::RunOwned`]), or owns another unfinished run that shares one of
    /// its grants. With `approval` (a new run) the run is approved in the same
    /// transaction, an interrupted run with the same label is refused
    /// ([`StoreError::RunInterrupted`]: resume that one instead), and each pending
    /// action whose grant another run has touched since the plan was made is set to be
    /// re-read first. Without it (`--resume`), the run must be approved already, and a
    /// dead owner's run is taken over (logged as `revocation.claim`).
    pub fn claim_run(
        &mut self,
        run: i64,
        lease: Duration,
        approval: Option<&serde_json::Value>,
    ) -> Result<RunLease, StoreError> {
        let host = identity::hostname();
        let pid = std::process::id();
        let token = self.owner_token.clone();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let blocked = self.with_tx(|tx, actor| {
            let now = now_ms();
            let row = tx
                .query_row(
                    &format!(
                        "SELECT label, approved_at IS NOT NULL, finished_at IS NOT NULL, \
                         owner_token, {OWNER_COLUMNS} FROM revocation_runs WHERE id = ?1"
                    ),
                    [run],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, bool>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            owner_from(r, 4, &host)?,
                        ))
                    },
                )
                .optional()?;
            let Some((label, approved, finished, owner_token, owner)) = row else {
                return Ok(Some(Blocked::Missing));
            };
            if finished {
                return Ok(Some(Blocked::Finished));
            }
            if approval.is_none() && !approved {
                return Ok(Some(Blocked::NotApproved));
            }
            if let Some(o) = &owner
                && o.live
                && owner_token.as_deref() != Some(token.as_str())
            {
                return Ok(Some(Blocked::Owned {
                    run,
                    owner: o.clone(),
                }));
            }
            // Any other unfinished run that shares a grant with this one: a live owner
            // blocks us; for a new run, an interrupted one with the same label must be
            // resumed instead (its journal knows what was sent).
            let mut others = tx.prepare(&format!(
                "SELECT DISTINCT r.id, r.label, r.owner_token, {OWNER_COLUMNS_OF_R} \
                 FROM revocation_runs r JOIN revocation_actions a ON a.run_id = r.id \
                 WHERE r.id <> ?1 AND r.approved_at IS NOT NULL AND r.finished_at IS NULL \
                 AND a.grant_id IN (SELECT grant_id FROM revocation_actions WHERE run_id = ?1) \
                 ORDER BY r.id"
            ))?;
            let rows = others.query_map([run], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    owner_from(r, 3, &host)?,
                ))
            })?;
            for row in rows {
                let (other, other_label, other_token, other_owner) = row?;
                match other_owner {
                    Some(o) if o.live && other_token.as_deref() != Some(token.as_str()) => {
                        return Ok(Some(Blocked::Owned {
                            run: other,
                            owner: o,
                        }));
                    }
                    _ if approval.is_some() && other_label == label => {
                        return Ok(Some(Blocked::Interrupted { run: other }));
                    }
                    _ => {}
                }
            }
            drop(others);
            let since = crate::scan::now_rfc3339();
            let took_over = owner
                .filter(|_| owner_token.as_deref() != Some(token.as_str()))
                .map(|o| serde_json::json!({ "pid": o.pid, "host": o.host, "since": o.since }));
            tx.execute(
                "UPDATE revocation_runs SET owner_token = ?2, owner_pid = ?3, owner_host = ?4, \
                 owner_since = ?5, lease_until = ?6 WHERE id = ?1",
                params![run, token, pid, host, since, now.saturating_add(lease_ms)],
            )?;
            let owner_json = serde_json::json!({ "pid": pid, "host": host });
            if let Some(approval) = approval {
                refresh_prior_attempts(tx, run)?;
                tx.execute(
                    "UPDATE revocation_runs SET approved_at = ?2, approved_by = ?3, approval = ?4 \
                     WHERE id = ?1",
                    params![run, since, actor, approval.to_string()],
                )?;
                let hash: String = tx.query_row(
                    "SELECT plan_hash FROM revocation_runs WHERE id = ?1",
                    [run],
                    |r| r.get(0),
                )?;
                append_audit_in(
                    tx,
                    "revocation.approval",
                    actor,
                    &serde_json::json!({
                        "run": run, "plan_hash": hash, "approval": approval, "owner": owner_json,
                    }),
                )?;
            } else {
                append_audit_in(
                    tx,
                    "revocation.claim",
                    actor,
                    &serde_json::json!({
                        "run": run, "owner": owner_json, "took_over": took_over,
                        "lease_secs": lease.as_secs(),
                    }),
                )?;
            }
            Ok(None)
        })?;
        if let Some(b) = blocked {
            let path = self.path.clone();
            return Err(match b {
                Blocked::Owned { run, owner } => StoreError::RunOwned { path, run, owner },
                Blocked::Interrupted { run } => StoreError::RunInterrupted { path, run },
                Blocked::Finished => StoreError::RunState {
                    path,
                    run,
                    reason: "it has finished".into(),
                },
                Blocked::Missing => StoreError::RunState {
                    path,
                    run,
                    reason: "there is no such run".into(),
                },
                Blocked::NotApproved => StoreError::RunState {
                    path,
                    run,
                    reason: "it was never approved".into(),
                },
            });
        }
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel();
        let renewer = spawn_renewer(
            self.file.clone(),
            run,
            token,
            lease_ms,
            Arc::clone(&lost),
            stopped,
        );
        Ok(RunLease {
            run,
            lost,
            stop: Some(stop),
            renewer,
        })
    }
}

/// A pending action whose grant another run has since tried starts needing a re-read,
/// as it would have had that run come first (see `PRIOR_ATTEMPT` in the journal).
fn refresh_prior_attempts(tx: &rusqlite::Transaction<'_>, run: i64) -> rusqlite::Result<()> {
    let mut pending = tx.prepare(
        "SELECT seq, grant_id FROM revocation_actions WHERE run_id = ?1 AND state = 'pending'",
    )?;
    let rows: Vec<(i64, String)> = pending
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut earlier = tx.prepare(super::journal::PRIOR_ATTEMPT)?;
    let mut update = tx.prepare(
        "UPDATE revocation_actions SET state = 'ambiguous', detail = ?3 WHERE run_id = ?1 AND seq = ?2",
    )?;
    for (seq, grant) in rows {
        let prior: Option<(i64, String)> = earlier
            .query_row(params![grant, run], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((other, state)) = prior {
            let detail = format!("run {other} left it {state}: re-read before anything is sent");
            update.execute(params![run, seq, detail])?;
        }
    }
    Ok(())
}

/// Renews the lease every quarter of its length until told to stop (or the sender is
/// dropped), then gives the run up. On its own connection, so a long provider call
/// holding the journal's lock cannot starve it.
fn spawn_renewer(
    file: PathBuf,
    run: i64,
    token: String,
    lease_ms: i64,
    lost: Arc<AtomicBool>,
    stopped: mpsc::Receiver<()>,
) -> Option<JoinHandle<()>> {
    let every = Duration::from_millis(u64::try_from(lease_ms / 4).unwrap_or(1000).max(250));
    let spawned = std::thread::Builder::new()
        .name(format!("lease-run-{run}"))
        .spawn(move || {
            let conn = match Connection::open(&file)
                .and_then(|c| c.busy_timeout(Duration::from_secs(5)).map(|()| c))
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(run, error = %e, "cannot open the store to renew the run's lease; it will lapse");
                    return;
                }
            };
            // Until the lease is dropped (which drops the sender).
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                match conn.execute(
                    "UPDATE revocation_runs SET lease_until = ?3 \
                     WHERE id = ?1 AND owner_token = ?2 AND finished_at IS NULL",
                    params![run, token, now_ms().saturating_add(lease_ms)],
                ) {
                    Ok(0) => {
                        // Finished (nothing to hold) or taken over (we stalled past the
                        // lease): either way there is nothing left to renew.
                        let finished: bool = conn
                            .query_row(
                                "SELECT finished_at IS NOT NULL FROM revocation_runs WHERE id = ?1",
                                [run],
                                |r| r.get(0),
                            )
                            .unwrap_or(false);
                        if !finished {
                            lost.store(true, Ordering::SeqCst);
                            tracing::error!(run, "another process took over this run");
                        }
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(run, error = %e, "renewing the run's lease failed; retrying"),
                }
            }
            // Give the run up now rather than when the lease lapses: it is resumable
            // at once, from any host.
            if let Err(e) = conn.execute(
                "UPDATE revocation_runs SET lease_until = 0 WHERE id = ?1 AND owner_token = ?2",
                params![run, token],
            ) {
                tracing::warn!(run, error = %e, "releasing the run's lease failed; it lapses by itself");
            }
        });
    match spawned {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(run, error = %e, "cannot start the lease renewer; the lease will lapse");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GrantRecord, RevocationTarget};
    use crate::store::ActionState;

    const LEASE: Duration = Duration::from_secs(60);

    fn actions(ids: &[&str]) -> Vec<(GrantRecord, RevocationTarget)> {
        ids.iter()
            .map(|id| crate::test_support::action(id))
            .collect()
    }

    struct Two {
        _dir: tempfile::TempDir,
        a: Store,
        b: Store,
    }

    /// Two handles on one store, as two processes would have.
    fn two() -> Two {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.db");
        let a = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let b = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        Two { _dir: dir, a, b }
    }

    fn new_run(store: &mut Store, ids: &[&str]) -> i64 {
        labelled(store, "vendor:x", ids)
    }

    fn labelled(store: &mut Store, label: &str, ids: &[&str]) -> i64 {
        store
            .create_run(label, "h", &actions(ids), &serde_json::json!({}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn approval() -> serde_json::Value {
        serde_json::json!({ "how": "--yes" })
    }

    fn kinds(store: &Store) -> Vec<String> {
        store
            .audit_entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn a_run_is_executed_by_one_process_at_a_time() {
        let Two { _dir, mut a, mut b } = two();
        let run = new_run(&mut a, &["p/t/1", "p/t/2"]);
        let lease = a
            .claim_run(run, LEASE, Some(&approval()))
            .unwrap_or_else(|e| panic!("{e}"));
        // `--resume` from another process while the owner lives: refused, naming it.
        match b.claim_run(run, LEASE, None) {
            Err(StoreError::RunOwned { run: r, owner, .. }) => {
                assert_eq!(r, run);
                assert_eq!(owner.pid, std::process::id());
                assert_eq!(owner.host, identity::hostname());
                assert!(owner.live);
            }
            Err(e) => panic!("refused for the wrong reason: {e}"),
            Ok(_) => panic!("a second owner"),
        }
        // A second `--execute` started at the same moment made its own plan (run 2,
        // one grant in common): approving it is refused too, whatever its label (an
        // `enforce` run overlapping an offboarding).
        let other = labelled(&mut b, "enforce", &["p/t/2", "p/t/3"]);
        let err = b
            .claim_run(other, LEASE, Some(&approval()))
            .err()
            .unwrap_or_else(|| panic!("an overlapping run was claimed"));
        assert!(
            err.to_string().starts_with(&format!(
                "run {run} is being executed by pid {} on ",
                std::process::id()
            )),
            "{err}"
        );
        // Not approved, so nothing of it can ever be executed or resumed.
        assert_eq!(
            b.unfinished_run("enforce")
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|r| r.id),
            None
        );
        // A run sharing no grant goes ahead beside it.
        let apart = labelled(&mut b, "vendor:y", &["p/t/9"]);
        drop(
            b.claim_run(apart, LEASE, Some(&approval()))
                .unwrap_or_else(|e| panic!("a disjoint run was refused: {e}")),
        );
        // The owner sends; the other handle cannot start anything of its run.
        a.action_started(run, 1, ActionState::Pending)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            b.action_started(run, 2, ActionState::Pending),
            Err(StoreError::Superseded { .. })
        ));
        drop(lease);
        // Given up (the process ends, or stops with an error): resumable at once.
        let taken = b
            .claim_run(run, LEASE, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let err = a
            .action_started(run, 2, ActionState::Pending)
            .err()
            .unwrap_or_else(|| panic!("the old owner started an action"));
        assert!(err.to_string().contains("taken over by pid"), "{err}");
        // The answer the old owner got still reaches the audit log, flagged.
        assert!(matches!(
            a.action_settled(run, 1, ActionState::Done, "204", &[], "revocation.response"),
            Err(StoreError::Superseded { .. })
        ));
        let rows = b.run_actions(run).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rows[0].state,
            ActionState::InFlight,
            "the new owner's journal"
        );
        assert_eq!(rows[1].attempts, 0, "no refused start was counted");
        drop(taken);
        assert_eq!(
            kinds(&a),
            [
                "revocation.plan",
                "revocation.approval",
                "revocation.plan",
                "revocation.plan",
                "revocation.approval",
                "revocation.action",
                "revocation.claim",
                "revocation.response"
            ]
        );
        let entries = a.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        let last = entries.last().unwrap_or_else(|| panic!("an audit log"));
        assert!(last.data.contains("\"superseded\":true"), "{}", last.data);
    }

    #[test]
    fn starting_an_action_is_a_compare_and_set_on_its_state() {
        let Two { _dir, mut a, .. } = two();
        let run = new_run(&mut a, &["p/t/1"]);
        let _lease = a
            .claim_run(run, LEASE, Some(&approval()))
            .unwrap_or_else(|e| panic!("{e}"));
        a.action_started(run, 1, ActionState::Pending)
            .unwrap_or_else(|e| panic!("{e}"));
        // Believing it still pending (a stale read) must not send it again.
        let err = a
            .action_started(run, 1, ActionState::Pending)
            .err()
            .unwrap_or_else(|| panic!("started twice"));
        assert!(
            err.to_string()
                .contains("the action is `in_flight`, not `pending`"),
            "{err}"
        );
        let rows = a.run_actions(run).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0].attempts, 1);
        assert_eq!(
            kinds(&a)
                .iter()
                .filter(|k| *k == "revocation.action")
                .count(),
            1
        );
    }

    /// Writes a foreign owner into run `run`, as another process would have.
    fn foreign_owner(store: &Store, run: i64, pid: u32, host: &str, lease_until: i64) {
        store
            .conn
            .execute(
                "UPDATE revocation_runs SET owner_token = 'elsewhere', owner_pid = ?2, \
                 owner_host = ?3, owner_since = '2026-12-01T00:00:00Z', lease_until = ?4 \
                 WHERE id = ?1",
                params![run, pid, host, lease_until],
            )
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn only_a_run_whose_owner_is_gone_is_interrupted() {
        let Two { _dir, mut a, mut b } = two();
        let run = new_run(&mut a, &["p/t/1"]);
        drop(
            a.claim_run(run, LEASE, Some(&approval()))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        // Another host, lease current: live, whatever its pid means here.
        foreign_owner(&a, run, 1, "build-7", now_ms() + 60_000);
        let owner = b
            .unfinished_run("vendor:x")
            .unwrap_or_else(|e| panic!("{e}"))
            .and_then(|r| r.owner)
            .unwrap_or_else(|| panic!("an owner"));
        assert!(owner.live);
        assert_eq!(
            owner.to_string(),
            "pid 1 on build-7 since 2026-12-01T00:00:00Z"
        );
        assert!(matches!(
            b.claim_run(run, LEASE, None),
            Err(StoreError::RunOwned { .. })
        ));
        // Its lease lapsed: interrupted, and taken over.
        foreign_owner(&a, run, 1, "build-7", now_ms() - 1);
        drop(
            b.claim_run(run, LEASE, None)
                .unwrap_or_else(|e| panic!("{e}")),
        );

        // This host, lease current, but the process is gone (crashed): taken over at
        // once rather than after the lease.
        let mut child = std::process::Command::new("true")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let dead = child.id();
        child.wait().unwrap_or_else(|e| panic!("{e}"));
        foreign_owner(&a, run, dead, &identity::hostname(), now_ms() + 60_000);
        let lease = b
            .claim_run(run, LEASE, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let claims: Vec<String> = b
            .audit_entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|e| e.kind == "revocation.claim")
            .map(|e| e.data)
            .collect();
        assert_eq!(claims.len(), 2);
        assert!(
            claims[1].contains(&format!(
                "\"took_over\":{{\"host\":\"{}\"",
                identity::hostname()
            )) && claims[1].contains(&format!("\"pid\":{dead}")),
            "{}",
            claims[1]
        );
        drop(lease);
        // A new run for the same label while this one is interrupted: resume instead.
        let again = new_run(&mut a, &["p/t/1"]);
        assert!(matches!(
            a.claim_run(again, LEASE, Some(&approval())),
            Err(StoreError::RunInterrupted { run: r, .. }) if r == run
        ));
    }

    #[test]
    fn a_grant_another_run_tried_since_the_plan_is_re_read_first() {
        let Two { _dir, mut a, mut b } = two();
        let first = new_run(&mut a, &["p/t/1"]);
        // Planned while the first run had sent nothing yet.
        let second = new_run(&mut b, &["p/t/1", "p/t/2"]);
        let lease = a
            .claim_run(first, LEASE, Some(&approval()))
            .unwrap_or_else(|e| panic!("{e}"));
        a.action_started(first, 1, ActionState::Pending)
            .unwrap_or_else(|e| panic!("{e}"));
        a.action_settled(
            first,
            1,
            ActionState::Done,
            "204",
            &[],
            "revocation.response",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        a.finish_run(first, &[(1, "gone")], &serde_json::json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(lease);
        let _lease = b
            .claim_run(second, LEASE, Some(&approval()))
            .unwrap_or_else(|e| panic!("{e}"));
        let states: Vec<ActionState> = b
            .run_actions(second)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|r| r.state)
            .collect();
        assert_eq!(states, [ActionState::Ambiguous, ActionState::Pending]);
    }

    #[test]
    fn the_owner_renews_its_lease_and_gives_it_up_when_done() {
        let Two { _dir, mut a, b } = two();
        let run = new_run(&mut a, &["p/t/1"]);
        let lease_until = |s: &Store| -> i64 {
            s.conn
                .query_row(
                    "SELECT lease_until FROM revocation_runs WHERE id = ?1",
                    [run],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("{e}"))
        };
        // Renewed every quarter of the lease (250 ms at least).
        let lease = a
            .claim_run(run, Duration::from_secs(1), Some(&approval()))
            .unwrap_or_else(|e| panic!("{e}"));
        let first = lease_until(&b);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while lease_until(&b) == first {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease was never renewed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!lease.lost());
        drop(lease);
        assert_eq!(lease_until(&b), 0, "given up when dropped");
    }
}
