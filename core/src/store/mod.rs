//! The inventory store (SQLite).
//!
//! **Architecture invariants:**
//! - A scan is recorded in one transaction: a crash or an interrupt leaves the
//!   previous state intact, never half of a scan.
//! - A grant leaves the live inventory only when a *complete* scan of its tenant no
//!   longer sees it; a partial or failed scan adds and refreshes, never removes.
//! - The schema is versioned (`PRAGMA user_version`) and migrated forward in order.
//! - Records hold no secrets: they are built from guest output, which never had any.
//! - `audit_log` is append-only and hash-chained (see [`crate::audit`]): entries are
//!   written only by [`Store::append_audit`] (or inside a recording's transaction),
//!   and triggers refuse `UPDATE` and `DELETE`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

mod journal;
mod lease;

pub use journal::{ActionRow, ActionState, RunRow};
pub use lease::{RunLease, RunOwner};

use crate::audit::{AuditEntry, GENESIS, entry_hash};
use crate::model::GrantRecord;
use crate::scan::{TenantScan, now_rfc3339};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("inventory store {path}")]
    Sqlite {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer grantscope.
    #[error(
        "inventory store {path} has schema version {found}, newer than this grantscope understands ({supported}); upgrade grantscope"
    )]
    TooNew {
        /// Database file.
        path: String,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// One scan named a tenant twice.
    #[error(
        "inventory store {path}: tenant `{tenant}` appears twice in one scan; scan each tenant once"
    )]
    DuplicateTenant {
        /// Database file.
        path: String,
        /// The tenant.
        tenant: String,
    },
    /// No scan with this id.
    #[error("inventory store {path} has no scan {scan}; `grantscope diff --list` shows the scans")]
    NoSuchScan {
        /// Database file.
        path: String,
        /// The id asked for.
        scan: i64,
    },
    /// A stored record does not parse.
    #[error("inventory store {path}: a stored grant is corrupt: {reason}")]
    Corrupt {
        /// Database file.
        path: String,
        /// Parser message.
        reason: String,
    },
    /// Another live process executes the run (or one sharing a grant with it).
    #[error(
        "run {run} is being executed by {owner}; wait for it to finish (a second process would revoke the same grants again)"
    )]
    RunOwned {
        /// Database file.
        path: String,
        /// The run that is owned.
        run: i64,
        /// Its owner.
        owner: RunOwner,
    },
    /// An interrupted run with the same label shares grants with a new one.
    #[error(
        "run {run} with the same grants was interrupted; resume it with `--resume` instead of starting another"
    )]
    RunInterrupted {
        /// Database file.
        path: String,
        /// The interrupted run.
        run: i64,
    },
    /// The run cannot be claimed as it stands.
    #[error("run {run} cannot be executed: {reason}")]
    RunState {
        /// Database file.
        path: String,
        /// The run.
        run: i64,
        /// Why not.
        reason: String,
    },
    /// A journal write found the action or the run no longer this process's: another
    /// process took the run over after this one's lease lapsed, so nothing more may be
    /// sent from here.
    #[error("run {run}, action {seq}: {reason}; nothing more is sent from this process")]
    Superseded {
        /// Database file.
        path: String,
        /// The run.
        run: i64,
        /// The action.
        seq: i64,
        /// What was found.
        reason: String,
    },
    /// The directory for the database could not be created.
    #[error("cannot create the directory for {path}")]
    Dir {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be created.
    #[error("cannot create the inventory store {path}")]
    Create {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Migrations, in order; index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE scans (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    complete    INTEGER NOT NULL,
    grants      INTEGER NOT NULL,
    failures    INTEGER NOT NULL
);
CREATE TABLE tenant_scans (
    scan_id     INTEGER NOT NULL REFERENCES scans(id),
    tenant      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    connector   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    complete    INTEGER NOT NULL,
    tasks       INTEGER NOT NULL,
    grants      INTEGER NOT NULL,
    failures    TEXT NOT NULL,
    PRIMARY KEY (scan_id, tenant)
);
CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    record       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    last_scan    INTEGER NOT NULL,
    removed_at   TEXT,
    removed_scan INTEGER
);
CREATE INDEX grants_tenant ON grants(tenant);
CREATE TABLE scan_grants (
    scan_id  INTEGER NOT NULL REFERENCES scans(id),
    grant_id TEXT NOT NULL,
    record   TEXT NOT NULL,
    PRIMARY KEY (scan_id, grant_id)
);
"#,
    r#"
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    data      TEXT NOT NULL, -- JSON
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#,
    r#"
CREATE TABLE revocation_runs (
    id          INTEGER PRIMARY KEY,
    label       TEXT NOT NULL,   -- `vendor:ID` or `enforce`
    created_at  TEXT NOT NULL,
    plan_hash   TEXT NOT NULL,   -- SHA-256 of the plan as approved
    approved_at TEXT,
    approved_by TEXT,
    finished_at TEXT,
    outcome     TEXT             -- JSON verification summary
);
CREATE TABLE revocation_actions (
    run_id       INTEGER NOT NULL REFERENCES revocation_runs(id),
    seq          INTEGER NOT NULL,
    grant_id     TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    app_id       TEXT NOT NULL,
    action       TEXT NOT NULL,
    handle       TEXT NOT NULL,
    record       TEXT NOT NULL,  -- the grant as planned (JSON)
    state        TEXT NOT NULL,  -- see journal::ActionState
    attempts     INTEGER NOT NULL DEFAULT 0,
    detail       TEXT,
    manual_steps TEXT NOT NULL DEFAULT '[]',
    verified     TEXT,           -- gone | present | unverified
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"#,
    // A new run asks, per grant, whether an earlier run touched it: without this the
    // question scans every journaled action, once per grant of the plan.
    r#"
CREATE INDEX revocation_actions_grant ON revocation_actions(grant_id, run_id);
"#,
    // A run is executed by one process at a time (store/lease.rs): its owner, and how
    // long the owner holds it without renewing (Unix milliseconds). `approval` is the
    // approval as recorded: the OS account (verified) and what the approver claimed.
    r#"
ALTER TABLE revocation_runs ADD COLUMN owner_token TEXT;
ALTER TABLE revocation_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE revocation_runs ADD COLUMN owner_host TEXT;
ALTER TABLE revocation_runs ADD COLUMN owner_since TEXT;
ALTER TABLE revocation_runs ADD COLUMN lease_until INTEGER;
ALTER TABLE revocation_runs ADD COLUMN approval TEXT;
"#,
];

/// The inventory.
pub struct Store {
    conn: Connection,
    path: String,
    /// The database file, for connections of its own (the run lease's renewer).
    file: PathBuf,
    actor: String,
    /// Names this store handle as a run's owner: random, so two handles (or two
    /// processes that happen to share a pid) never mistake each other's runs.
    owner_token: String,
}

/// One recorded scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// Scan id (for `grantscope diff`).
    pub id: i64,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC.
    pub finished_at: String,
    /// Every tenant complete.
    pub complete: bool,
    /// Grants seen.
    pub grants: u64,
    /// Failures recorded.
    pub failures: u64,
}

/// A grant whose scopes changed between two scans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeChange {
    /// The grant as the later scan saw it.
    pub grant: GrantRecord,
    /// Scopes it gained (widened).
    pub gained: Vec<String>,
    /// Scopes it lost (narrowed).
    pub lost: Vec<String>,
}

/// What changed between two scans.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanDiff {
    /// The earlier scan.
    pub from: i64,
    /// The later scan.
    pub to: i64,
    /// Grants the later scan saw and the earlier did not.
    pub added: Vec<GrantRecord>,
    /// Grants the earlier scan saw and the later, complete scan of their tenant did not.
    pub removed: Vec<GrantRecord>,
    /// Grants whose scopes changed.
    pub changed: Vec<ScopeChange>,
    /// Tenants whose later scan was partial: absences there are not removals.
    pub partial: Vec<String>,
    /// Tenants scanned only in the later scan.
    pub not_compared: Vec<String>,
}

/// What recording a scan changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The scan's id.
    pub scan_id: i64,
    /// Grants seen for the first time (or again after removal).
    pub added: u64,
    /// Grants removed because a complete scan no longer saw them.
    pub removed: u64,
}

impl Store {
    /// Opens (creating and migrating as needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let name = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: name.clone(),
                source,
            })?;
        }
        // SQLite would create the file 0644; the inventory is nobody else's business.
        // Its -wal and -shm files copy the database file's mode.
        crate::files::create_private(path).map_err(|source| StoreError::Create {
            path: name.clone(),
            source,
        })?;
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: name.clone(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: name,
            file: path.to_path_buf(),
            actor: crate::identity::OsUser::current().actor(),
            owner_token: hex::encode(rand::random::<[u8; 16]>()),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.err(e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let path = self.path.clone();
            let wrap = |source| StoreError::Sqlite {
                path: path.clone(),
                source,
            };
            let tx = self.conn.transaction().map_err(wrap)?;
            tx.execute_batch(sql).map_err(wrap)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(wrap)?;
            tx.commit().map_err(wrap)?;
        }
        Ok(())
    }

    /// Records a scan of some tenants, all or nothing. Each tenant may appear once.
    pub fn record_scan(&mut self, scans: &[TenantScan]) -> Result<Recorded, StoreError> {
        let mut names = std::collections::HashSet::new();
        if let Some(dup) = scans.iter().find(|s| !names.insert(s.tenant.as_str())) {
            return Err(StoreError::DuplicateTenant {
                path: self.path.clone(),
                tenant: dup.tenant.clone(),
            });
        }
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let now = now_rfc3339();
        let started = scans
            .iter()
            .map(|s| s.started_at.as_str())
            .min()
            .unwrap_or(now.as_str())
            .to_owned();
        let grants: usize = scans.iter().map(|s| s.grants.len()).sum();
        let failures: usize = scans.iter().map(|s| s.failures.len()).sum();
        let complete = scans.iter().all(|s| s.complete);

        // Immediate: a deferred transaction that turns into a write while another
        // process writes (two runs verifying at once) fails at once with SQLITE_BUSY
        // instead of waiting its turn.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        tx.execute(
            "INSERT INTO scans (started_at, finished_at, complete, grants, failures) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![started, now, complete, grants as i64, failures as i64],
        )
        .map_err(wrap)?;
        let scan_id = tx.last_insert_rowid();
        let mut recorded = Recorded {
            scan_id,
            ..Recorded::default()
        };
        for s in scans {
            let failures_json = serde_json::to_string(&s.failures).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO tenant_scans (scan_id, tenant, provider, connector, started_at, finished_at, complete, tasks, grants, failures)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![scan_id, s.tenant, s.provider, s.connector, s.started_at, s.finished_at, s.complete, s.tasks as i64, s.grants.len() as i64, failures_json],
            )
            .map_err(wrap)?;
            for g in &s.grants {
                let record = serde_json::to_string(g).unwrap_or_default();
                let existing: Option<Option<String>> = tx
                    .query_row(
                        "SELECT removed_at FROM grants WHERE id = ?1",
                        params![g.id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(wrap)?;
                match existing {
                    None => {
                        recorded.added += 1;
                        tx.execute(
                            "INSERT INTO grants (id, tenant, provider, record, first_seen, last_seen, last_scan)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                            params![g.id, g.tenant, g.provider, record, now, scan_id],
                        )
                        .map_err(wrap)?;
                    }
                    Some(removed) => {
                        if removed.is_some() {
                            recorded.added += 1;
                        }
                        tx.execute(
                            "UPDATE grants SET record = ?2, last_seen = ?3, last_scan = ?4, removed_at = NULL, removed_scan = NULL WHERE id = ?1",
                            params![g.id, record, now, scan_id],
                        )
                        .map_err(wrap)?;
                    }
                }
                tx.execute(
                    "INSERT OR REPLACE INTO scan_grants (scan_id, grant_id, record) VALUES (?1, ?2, ?3)",
                    params![scan_id, g.id, record],
                )
                .map_err(wrap)?;
            }
            if s.complete {
                recorded.removed += tx
                    .execute(
                        "UPDATE grants SET removed_at = ?2, removed_scan = ?3
                         WHERE tenant = ?1 AND removed_at IS NULL AND last_scan <> ?3",
                        params![s.tenant, now, scan_id],
                    )
                    .map_err(wrap)? as u64;
            }
        }
        let tenants: Vec<serde_json::Value> = scans
            .iter()
            .map(|s| {
                serde_json::json!({
                    "tenant": s.tenant,
                    "provider": s.provider,
                    "complete": s.complete,
                    "grants": s.grants.len(),
                    "failures": s.failures.len(),
                })
            })
            .collect();
        let data = serde_json::json!({
            "scan_id": scan_id,
            "tenants": tenants,
            "grants": grants,
            "failures": failures,
            "added": recorded.added,
            "removed": recorded.removed,
            "complete": complete,
        });
        append_audit_in(&tx, "scan.recorded", &self.actor, &data).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(recorded)
    }

    /// Appends an entry to the audit log, chained to the current head, in its own
    /// transaction. (Recordings such as [`Store::record_scan`] append theirs inside
    /// their own transaction, so both land or neither does.)
    pub fn append_audit(
        &mut self,
        kind: &str,
        actor: &str,
        data: &serde_json::Value,
    ) -> Result<AuditEntry, StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let entry = append_audit_in(&tx, kind, actor, data).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(entry)
    }

    /// Every audit-log entry, by `seq`, as stored (unverified: see
    /// [`crate::audit::verify`]).
    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, kind, actor, data, prev_hash, hash FROM audit_log ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    actor: r.get(3)?,
                    data: r.get(4)?,
                    prev_hash: r.get(5)?,
                    hash: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every live grant, ordered by id.
    pub fn live_grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM grants WHERE removed_at IS NULL ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.err(e))?;
            out.push(
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?,
            );
        }
        Ok(out)
    }

    /// Every recorded scan, oldest first.
    pub fn scans(&self) -> Result<Vec<ScanSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_at, finished_at, complete, grants, failures FROM scans ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ScanSummary {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    finished_at: r.get(2)?,
                    complete: r.get(3)?,
                    grants: r.get::<_, i64>(4)? as u64,
                    failures: r.get::<_, i64>(5)? as u64,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// What changed between two recorded scans: grants new in `b`, grants gone in
    /// `b`, and grants whose scopes grew or shrank. Only tenants scanned in both are
    /// compared, and a grant counts as removed only when `b`'s scan of its tenant was
    /// complete — a partial scan proves nothing about absence.
    pub fn diff(&self, a: i64, b: i64) -> Result<ScanDiff, StoreError> {
        let tenants = |scan: i64| -> Result<BTreeMap<String, bool>, StoreError> {
            let mut stmt = self
                .conn
                .prepare("SELECT tenant, complete FROM tenant_scans WHERE scan_id = ?1")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![scan], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
        };
        let (ta, tb) = (tenants(a)?, tenants(b)?);
        for (scan, t) in [(a, &ta), (b, &tb)] {
            if t.is_empty() {
                return Err(StoreError::NoSuchScan {
                    path: self.path.clone(),
                    scan,
                });
            }
        }
        let (ga, gb) = (self.scan_records(a)?, self.scan_records(b)?);
        let mut diff = ScanDiff {
            from: a,
            to: b,
            ..ScanDiff::default()
        };
        for (tenant, complete_b) in &tb {
            if !ta.contains_key(tenant) {
                diff.not_compared.push(tenant.clone());
                continue;
            }
            if !complete_b {
                diff.partial.push(tenant.clone());
            }
        }
        for (id, new) in &gb {
            if !ta.contains_key(&new.tenant) {
                continue;
            }
            match ga.get(id) {
                None => diff.added.push(new.clone()),
                Some(old) => {
                    let before: BTreeSet<&String> = old.scopes.iter().collect();
                    let after: BTreeSet<&String> = new.scopes.iter().collect();
                    let gained: Vec<String> =
                        after.difference(&before).map(|s| (*s).clone()).collect();
                    let lost: Vec<String> =
                        before.difference(&after).map(|s| (*s).clone()).collect();
                    if !gained.is_empty() || !lost.is_empty() {
                        diff.changed.push(ScopeChange {
                            grant: new.clone(),
                            gained,
                            lost,
                        });
                    }
                }
            }
        }
        for (id, old) in &ga {
            if tb.get(&old.tenant) == Some(&true) && !gb.contains_key(id) {
                diff.removed.push(old.clone());
            }
        }
        Ok(diff)
    }

    fn scan_records(&self, scan: i64) -> Result<BTreeMap<String, GrantRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT grant_id, record FROM scan_grants WHERE scan_id = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![scan], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, text) = row.map_err(|e| self.err(e))?;
            let record = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
            out.insert(id, record);
        }
        Ok(out)
    }

    /// The latest recorded scan of each tenant: (tenant, provider, finished_at,
    /// complete), by tenant name.
    pub fn latest_tenant_scans(&self) -> Result<Vec<(String, String, String, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.tenant, t.provider, t.finished_at, t.complete FROM tenant_scans t
                 WHERE t.scan_id = (SELECT MAX(scan_id) FROM tenant_scans u WHERE u.tenant = t.tenant)
                 ORDER BY t.tenant",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Number of scans recorded, and how many of them were complete.
    pub fn scan_counts(&self) -> Result<(u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(complete), 0) FROM scans",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.err(e))
    }
}

/// Appends an audit entry on `conn`, which should be inside a write transaction
/// (the head is read, then the entry inserted). `data` is stored as compact JSON,
/// the bytes that are hashed.
fn append_audit_in(
    conn: &Connection,
    kind: &str,
    actor: &str,
    data: &serde_json::Value,
) -> rusqlite::Result<AuditEntry> {
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let at = now_rfc3339();
    let data = data.to_string();
    let hash = entry_hash(seq, &at, kind, actor, &data, &prev_hash);
    conn.execute(
        "INSERT INTO audit_log (seq, at, kind, actor, data, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, at, kind, actor, data, prev_hash, hash],
    )?;
    Ok(AuditEntry {
        seq,
        at,
        kind: kind.to_owned(),
        actor: actor.to_owned(),
        data,
        prev_hash,
        hash,
    })
}
