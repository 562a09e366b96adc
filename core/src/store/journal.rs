//! The revocation journal: runs, their actions, and each action's state, written
//! before and after every provider call.
//!
//! Every journal write lands in the same transaction as its audit-log entry, so the
//! journal and the log never disagree: a crash leaves both at the last committed step.
//! The journal is what makes revocation exactly-once across crashes: an action whose
//! state says a request may have left (`in_flight`, `ambiguous`) is re-read at the
//! provider before anyone sends it again (see [`crate::revoke`]).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::lease::{OWNER_COLUMNS, now_ms, owner_from};
use super::{RunOwner, Store, StoreError, append_audit_in};
use crate::model::{GrantRecord, RevocationTarget};
use crate::scan::now_rfc3339;

/// Where one action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// Planned; nothing sent yet.
    Pending,
    /// Journaled as started: a request may have left. Re-read before any retry.
    InFlight,
    /// The last attempt failed in a way that does not say whether the provider acted
    /// (a timeout, a reset, a 5xx). Re-read before any retry.
    Ambiguous,
    /// The provider confirmed the revocation.
    Done,
    /// The target was already gone (a re-read or the provider said so): done too.
    Gone,
    /// No API can revoke it; the manual steps say what a person must do.
    Manual,
    /// Failed for a reason a retry cannot cure (a permission, a setting); a re-read
    /// comes first when it is tried again.
    Failed,
}

impl ActionState {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ActionState::Pending => "pending",
            ActionState::InFlight => "in_flight",
            ActionState::Ambiguous => "ambiguous",
            ActionState::Done => "done",
            ActionState::Gone => "gone",
            ActionState::Manual => "manual",
            ActionState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<ActionState> {
        [
            ActionState::Pending,
            ActionState::InFlight,
            ActionState::Ambiguous,
            ActionState::Done,
            ActionState::Gone,
            ActionState::Manual,
            ActionState::Failed,
        ]
        .into_iter()
        .find(|a| a.name() == s)
    }

    /// True once nothing more will be sent for the action.
    pub fn finished(self) -> bool {
        matches!(
            self,
            ActionState::Done | ActionState::Gone | ActionState::Manual
        )
    }

    /// True when a request may have reached the provider without an answer: the
    /// target must be re-read before it is sent again.
    pub fn needs_probe(self) -> bool {
        matches!(
            self,
            ActionState::InFlight | ActionState::Ambiguous | ActionState::Failed
        )
    }
}

/// A journaled run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// `vendor:ID` or `enforce`.
    pub label: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// SHA-256 of the approved plan.
    pub plan_hash: String,
    /// When it was approved, if it was.
    pub approved_at: Option<String>,
    /// Who approved it: the OS account (`user:NAME` or `uid:N`).
    pub approved_by: Option<String>,
    /// The approval as recorded: how it was given, the OS account (verified) and the
    /// approver and ticket the command line claimed.
    pub approval: Option<serde_json::Value>,
    /// When verification finished, if it did.
    pub finished_at: Option<String>,
    /// The process that executes (or last executed) it.
    pub owner: Option<RunOwner>,
}

/// A journaled action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    /// Position in the run.
    pub seq: i64,
    /// The grant as planned.
    pub grant: GrantRecord,
    /// The connector's revocation target.
    pub target: RevocationTarget,
    /// Where it stands.
    pub state: ActionState,
    /// Revoke calls made so far.
    pub attempts: u32,
    /// The last outcome, in a sentence.
    pub detail: Option<String>,
    /// What a person must still do.
    pub manual_steps: Vec<String>,
    /// `gone`, `present` or `unverified`, once verified.
    pub verified: Option<String>,
}

/// The newest action of another run (not `?2`) on grant `?1` that may have sent
/// something. Asked once per grant of every new plan (and again when it is approved),
/// so it must be an index lookup (`revocation_actions_grant`), never a scan of the
/// whole journal.
pub(super) const PRIOR_ATTEMPT: &str = "SELECT run_id, state FROM revocation_actions \
     WHERE grant_id = ?1 AND run_id <> ?2 AND state NOT IN ('pending', 'manual') \
     ORDER BY run_id DESC LIMIT 1";

/// The run columns [`run_row`] reads, in its order.
fn run_columns() -> String {
    format!(
        "id, label, created_at, plan_hash, approved_at, approved_by, approval, finished_at, \
         {OWNER_COLUMNS}"
    )
}

impl Store {
    pub(super) fn with_tx<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let out = f(&tx, &self.actor).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(out)
    }

    /// Journals a new run with its actions and logs the plan. An action starts
    /// `pending`, or `ambiguous` when an earlier run already tried that grant (so it is
    /// re-read before anything is sent). `summary` is the plan's audit-log payload.
    pub fn create_run(
        &mut self,
        label: &str,
        plan_hash: &str,
        actions: &[(GrantRecord, RevocationTarget)],
        summary: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        self.with_tx(|tx, actor| {
            let now = now_rfc3339();
            tx.execute(
                "INSERT INTO revocation_runs (label, created_at, plan_hash) VALUES (?1, ?2, ?3)",
                params![label, now, plan_hash],
            )?;
            let run = tx.last_insert_rowid();
            let mut insert = tx.prepare(
                "INSERT INTO revocation_actions (run_id, seq, grant_id, tenant, provider, app_id, \
                 action, handle, record, state, detail, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut earlier = tx.prepare(PRIOR_ATTEMPT)?;
            for (i, (g, t)) in actions.iter().enumerate() {
                let record = serde_json::to_string(g).unwrap_or_default();
                // Exactly once holds across runs too: a grant an earlier run may have
                // sent a revocation for (whatever that run's journal says) starts out
                // needing a re-read, never as untouched.
                let prior: Option<(i64, String)> = earlier
                    .query_row(params![g.id, run], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let (state, detail) = match prior {
                    Some((run, state)) => (
                        ActionState::Ambiguous,
                        Some(format!(
                            "run {run} left it {state}: re-read before anything is sent"
                        )),
                    ),
                    _ => (ActionState::Pending, None),
                };
                insert.execute(params![
                    run,
                    i as i64 + 1,
                    g.id,
                    g.tenant,
                    g.provider,
                    g.app.id,
                    t.action,
                    t.handle,
                    record,
                    state.name(),
                    detail,
                    now
                ])?;
            }
            let mut data = summary.clone();
            data["run"] = run.into();
            data["plan_hash"] = plan_hash.into();
            append_audit_in(tx, "revocation.plan", actor, &data)?;
            Ok(run)
        })
    }

    /// Journals that action `seq` is about to be sent (state `in_flight`, one more
    /// attempt), before the request leaves. A compare-and-set: it changes the action
    /// only while it is still `expected` and this store handle holds the run's lease
    /// ([`Store::claim_run`]); otherwise nothing is written and the answer is
    /// [`StoreError::Superseded`], and the caller must not send.
    pub fn action_started(
        &mut self,
        run: i64,
        seq: i64,
        expected: ActionState,
    ) -> Result<(), StoreError> {
        let token = self.owner_token.clone();
        let started = self.with_tx(|tx, actor| {
            let row: Option<(String, i64)> = tx
                .query_row(
                    "UPDATE revocation_actions SET state = 'in_flight', attempts = attempts + 1, \
                     updated_at = ?3 WHERE run_id = ?1 AND seq = ?2 AND state = ?4 AND EXISTS \
                     (SELECT 1 FROM revocation_runs WHERE id = ?1 AND owner_token = ?5 \
                      AND lease_until > ?6 AND finished_at IS NULL) \
                     RETURNING grant_id, attempts",
                    params![run, seq, now_rfc3339(), expected.name(), token, now_ms()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((grant, attempts)) = row else {
                return why_not(tx, run, seq, &token, Some(expected)).map(Err);
            };
            append_audit_in(
                tx,
                "revocation.action",
                actor,
                &serde_json::json!({ "run": run, "seq": seq, "grant": grant, "attempt": attempts }),
            )?;
            Ok(Ok(()))
        })?;
        started.map_err(|reason| self.superseded(run, seq, reason))
    }

    fn superseded(&self, run: i64, seq: i64, reason: String) -> StoreError {
        StoreError::Superseded {
            path: self.path.clone(),
            run,
            seq,
            reason,
        }
    }

    /// Logs a re-read whose answer changes nothing in the journal (the target is still
    /// there, or the re-read failed): every re-read is in the audit log, whatever it
    /// found, since a `present` is what licenses the next revoke call.
    pub fn action_probed(
        &mut self,
        run: i64,
        seq: i64,
        found: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.with_tx(|tx, actor| {
            let grant: String = tx.query_row(
                "SELECT grant_id FROM revocation_actions WHERE run_id = ?1 AND seq = ?2",
                params![run, seq],
                |r| r.get(0),
            )?;
            append_audit_in(
                tx,
                "revocation.probe",
                actor,
                &serde_json::json!({
                    "run": run, "seq": seq, "grant": grant, "found": found, "detail": detail,
                }),
            )?;
            Ok(())
        })
    }

    /// Journals an action's outcome: its new state, the provider's answer in a
    /// sentence, and what stays manual. `event` is the audit kind
    /// (`revocation.response` after a revoke call, `revocation.probe` after a re-read).
    pub fn action_settled(
        &mut self,
        run: i64,
        seq: i64,
        state: ActionState,
        detail: &str,
        manual_steps: &[String],
        event: &str,
    ) -> Result<(), StoreError> {
        let token = self.owner_token.clone();
        let settled = self.with_tx(|tx, actor| {
            let steps = serde_json::to_string(manual_steps).unwrap_or_else(|_| "[]".into());
            // The answer is journaled while the run is still ours, even a little past
            // the lease: what the provider said is the truth about this action.
            let grant: Option<String> = tx
                .query_row(
                    "UPDATE revocation_actions SET state = ?3, detail = ?4, manual_steps = ?5, \
                     updated_at = ?6 WHERE run_id = ?1 AND seq = ?2 AND EXISTS \
                     (SELECT 1 FROM revocation_runs WHERE id = ?1 AND owner_token = ?7 \
                      AND finished_at IS NULL) RETURNING grant_id",
                    params![run, seq, state.name(), detail, steps, now_rfc3339(), token],
                    |r| r.get(0),
                )
                .optional()?;
            let superseded = grant.is_none();
            // Taken over meanwhile: the journal is the new owner's now, but the answer
            // this process got still goes into the audit log.
            let grant = match grant {
                Some(g) => g,
                None => tx.query_row(
                    "SELECT grant_id FROM revocation_actions WHERE run_id = ?1 AND seq = ?2",
                    params![run, seq],
                    |r| r.get(0),
                )?,
            };
            append_audit_in(
                tx,
                event,
                actor,
                &serde_json::json!({
                    "run": run, "seq": seq, "grant": grant, "state": state.name(), "detail": detail,
                    "superseded": superseded,
                }),
            )?;
            if superseded {
                return why_not(tx, run, seq, &token, None).map(Err);
            }
            Ok(Ok(()))
        })?;
        settled.map_err(|reason| self.superseded(run, seq, reason))
    }

    /// Records the verification of a run: each action's `gone`/`present`/`unverified`,
    /// the summary in the audit log, and the run as finished.
    pub fn finish_run(
        &mut self,
        run: i64,
        verified: &[(i64, &str)],
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let token = self.owner_token.clone();
        let finished = self.with_tx(|tx, actor| {
            let ours: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM revocation_runs WHERE id = ?1 AND owner_token = ?2 \
                 AND finished_at IS NULL)",
                params![run, token],
                |r| r.get(0),
            )?;
            if !ours {
                return why_not(tx, run, 0, &token, None).map(Err);
            }
            let mut update = tx.prepare(
                "UPDATE revocation_actions SET verified = ?3 WHERE run_id = ?1 AND seq = ?2",
            )?;
            for (seq, v) in verified {
                update.execute(params![run, seq, v])?;
            }
            tx.execute(
                "UPDATE revocation_runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
                params![run, now_rfc3339(), summary.to_string()],
            )?;
            let mut data = summary.clone();
            data["run"] = run.into();
            append_audit_in(tx, "revocation.verification", actor, &data)?;
            Ok(Ok(()))
        })?;
        finished.map_err(|reason| self.superseded(run, 0, reason))
    }

    /// The newest approved run with this label that has not finished verification.
    pub fn unfinished_run(&self, label: &str) -> Result<Option<RunRow>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {} FROM revocation_runs WHERE label = ?1 AND approved_at IS NOT NULL \
                     AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                    run_columns()
                ),
                [label],
                run_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Run `id`, if there is one.
    pub fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {} FROM revocation_runs WHERE id = ?1",
                    run_columns()
                ),
                [id],
                run_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM revocation_runs ORDER BY id DESC",
                run_columns()
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], run_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// A run's actions, in order.
    pub fn run_actions(&self, run: i64) -> Result<Vec<ActionRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, record, action, handle, state, attempts, detail, manual_steps, verified \
                 FROM revocation_actions WHERE run_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let mut out = Vec::new();
        for row in rows {
            let (seq, record, action, handle, state, attempts, detail, steps, verified) =
                row.map_err(|e| self.err(e))?;
            out.push(ActionRow {
                seq,
                grant: serde_json::from_str(&record).map_err(|e| corrupt(e.to_string()))?,
                target: RevocationTarget { action, handle },
                state: ActionState::parse(&state)
                    .ok_or_else(|| corrupt(format!("unknown action state `{state}`")))?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                detail,
                manual_steps: serde_json::from_str(&steps).unwrap_or_default(),
                verified,
            });
        }
        Ok(out)
    }
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let approval: Option<String> = r.get(6)?;
    Ok(RunRow {
        id: r.get(0)?,
        label: r.get(1)?,
        created_at: r.get(2)?,
        plan_hash: r.get(3)?,
        approved_at: r.get(4)?,
        approved_by: r.get(5)?,
        approval: approval.and_then(|a| serde_json::from_str(&a).ok()),
        finished_at: r.get(7)?,
        owner: owner_from(r, 8, &crate::identity::hostname())?,
    })
}

/// Why a compare-and-set on action `seq` of `run` changed nothing, in words.
fn why_not(
    tx: &rusqlite::Transaction<'_>,
    run: i64,
    seq: i64,
    token: &str,
    expected: Option<ActionState>,
) -> rusqlite::Result<String> {
    let host = crate::identity::hostname();
    let (finished, owner_token, owner, lease_until): (
        bool,
        Option<String>,
        Option<RunOwner>,
        Option<i64>,
    ) = tx.query_row(
        &format!(
            "SELECT finished_at IS NOT NULL, owner_token, {OWNER_COLUMNS}, lease_until \
                 FROM revocation_runs WHERE id = ?1"
        ),
        [run],
        |r| Ok((r.get(0)?, r.get(1)?, owner_from(r, 2, &host)?, r.get(6)?)),
    )?;
    if finished {
        return Ok("the run has finished".into());
    }
    if owner_token.as_deref() != Some(token) {
        return Ok(match owner {
            Some(o) => format!("the run was taken over by {o}"),
            None => "the run was never claimed by this process".into(),
        });
    }
    if lease_until.unwrap_or(0) <= now_ms() {
        return Ok("this process's lease on the run lapsed (it was not renewed in time)".into());
    }
    let state: Option<String> = tx
        .query_row(
            "SELECT state FROM revocation_actions WHERE run_id = ?1 AND seq = ?2",
            params![run, seq],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match (state, expected) {
        (Some(s), Some(e)) => format!(
            "the action is `{s}`, not `{}` as this process last saw it",
            e.name()
        ),
        (Some(s), None) => format!("the action is `{s}`"),
        (None, _) => "there is no such action".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::action as grant;

    #[test]
    fn the_prior_attempt_lookup_uses_the_grant_index() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let mut plan = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PRIOR_ATTEMPT}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let steps: Vec<String> = plan
            .query_map(params!["p/t/1", 7], |r| r.get::<_, String>(3))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX revocation_actions_grant")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }

    use std::time::Duration;

    #[test]
    fn a_grant_an_earlier_run_tried_starts_out_needing_a_re_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let actions = [grant("p/t/1"), grant("p/t/2")];
        let summary = serde_json::json!({});
        let first = store
            .create_run("vendor:x", "h", &actions, &summary)
            .unwrap_or_else(|e| panic!("{e}"));
        let lease = store
            .claim_run(first, Duration::from_secs(60), Some(&serde_json::json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        // The first action was sent (a crash followed); the second never was.
        store
            .action_started(first, 1, ActionState::Pending)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(lease);
        // A plan-only run in between must not hide what the first run did.
        store
            .create_run("vendor:x", "h", &actions, &summary)
            .unwrap_or_else(|e| panic!("{e}"));
        let third = store
            .create_run("vendor:x", "h", &actions, &summary)
            .unwrap_or_else(|e| panic!("{e}"));
        let states: Vec<ActionState> = store
            .run_actions(third)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|a| a.state)
            .collect();
        assert_eq!(states, [ActionState::Ambiguous, ActionState::Pending]);
        let kinds: Vec<String> = store
            .audit_entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "revocation.plan",
                "revocation.approval",
                "revocation.action",
                "revocation.plan",
                "revocation.plan"
            ]
        );
    }
}
