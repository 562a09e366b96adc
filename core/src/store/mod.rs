//! The inventory store (SQLite).
//!
//! **Architecture invariants:**
//! - A scan is recorded in one transaction: a crash or an interrupt leaves the
//!   previous state intact, never half of a scan.
//! - A grant leaves the live inventory only when a *complete* scan of its tenant no
//!   longer sees it; a partial or failed scan adds and refreshes, never removes.
//! - The schema is versioned (`PRAGMA user_version`) and migrated forward in order.
//!   The version is read before anything is written, on both open paths: a store
//!   from a newer grantscope is refused byte for byte untouched.
//! - [`Store::open_read_only`] writes nothing: no migration, no journal-mode change,
//!   no directory, and no `-wal` or `-shm` file that was not already there.
//! - Records hold no secrets: they are built from guest output, which never had any.
//! - `audit_log` is append-only and hash-chained (see [`crate::audit`]): entries are
//!   written only by [`Store::append_audit`] (or inside a recording's transaction),
//!   and triggers refuse `UPDATE` and `DELETE`.
//! - Every recorded scan has a `scan.recorded` entry carrying its counts and the
//!   digest of its grant records ([`crate::audit::GrantsDigest`]), and every
//!   revocation run a `revocation.plan` entry with its plan hash; each `grants` row
//!   holds the record its `last_scan` stored in `scan_grants`. The facts
//!   [`crate::audit::check_store`] compares come from here.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

mod journal;
mod lease;

pub use journal::{ActionRow, ActionState, RunRow};
pub use lease::{RunLease, RunOwner};

use crate::audit::{AuditEntry, GENESIS, GrantsDigest, StoreProblem, entry_hash};
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
    /// A store opened read-only has an older schema than this grantscope's, and the
    /// command needs a table that only a migration adds.
    #[error(
        "inventory store {path} has schema version {found}, older than this grantscope's ({supported}), and no table `{table}` yet; run a command that writes to it, such as `grantscope scan`, to upgrade it first"
    )]
    Outdated {
        /// Database file.
        path: String,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
        /// The table the command needed.
        table: String,
    },
    /// A read-only open found committed changes in the `-wal` file that SQLite cannot
    /// read, because no `-shm` index can be created next to it (a read-only medium
    /// or directory). Reading the main file alone would silently miss them.
    #[error(
        "inventory store {path}: its write-ahead log {wal} holds changes that cannot be read here without creating {path}-shm; open the store once where it is writable (any command that writes, such as `grantscope scan`, folds the log into the store), or copy it together with its -wal file to a writable directory"
    )]
    WalUnreadable {
        /// Database file.
        path: String,
        /// The `-wal` file.
        wal: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
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
    /// The schema version: [`MIGRATIONS`]`.len()` once migrated; a store opened
    /// read-only keeps the one it has.
    version: i64,
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
    /// Opens (creating and migrating as needed) the store at `path`. A store from a
    /// newer grantscope is refused before anything is written to it.
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
        let sqlite = |source| StoreError::Sqlite {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        // Connection settings only: nothing is written yet.
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .map_err(sqlite)?;
        // Before `journal_mode = WAL`, which rewrites the header, and before any
        // migration: a newer grantscope's store must stay exactly as it was.
        let version = checked_version(&conn, &name)?;
        let mut store = Store {
            conn,
            path: name,
            file: path.to_path_buf(),
            actor: crate::identity::OsUser::current().actor(),
            owner_token: hex::encode(rand::random::<[u8; 16]>()),
            version,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store for reading only, for commands that only read
    /// (`report`, `diff`, `audit verify`, `audit export`; an offboarding plan).
    /// SQLite opens it read-only (`SQLITE_OPEN_READ_ONLY`); nothing is migrated,
    /// the journal mode is left as it is, no directory is created, and no `-wal` or
    /// `-shm` file appears that was not there before. A store from a newer
    /// grantscope is refused ([`StoreError::TooNew`]); an older one is read as it
    /// is, and a command that needs a table it does not have yet fails with
    /// [`StoreError::Outdated`], which says to run a writing command first.
    ///
    /// WAL mode needs care. A WAL-mode store without a `-wal` file holds every
    /// committed transaction in the main file, but an ordinary read-only open would
    /// still create a `-wal` and a `-shm` next to it — which a read-only connection
    /// can never remove again — and fails outright where they cannot be created (a
    /// read-only medium, a read-only directory). Such a store is therefore opened
    /// `immutable=1`: SQLite reads the main file without sidecar files or locks.
    /// The price is that an immutable reader is not protected from a writer that
    /// *starts* while it reads and checkpoints before it is done; grantscope's
    /// writers keep the store (and its `-wal`) open from start to end, so a writer
    /// already running is seen, and the store is then read with ordinary locking.
    /// When a `-wal` file exists, it may hold committed changes, so the ordinary
    /// open is used; if that fails because no `-shm` can be created, an empty
    /// `-wal` is retried immutable, and one with content is
    /// [`StoreError::WalUnreadable`] rather than silently ignored.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let name = path.display().to_string();
        let wal = sidecar(path, "-wal");
        let wal_len = std::fs::metadata(&wal).ok().map(|m| m.len());
        let immutable = wal_len.is_none() && header_says_wal(path);
        match Self::read_only(path, &name, immutable) {
            Err(StoreError::Sqlite { source, .. })
                if wal_len.is_some() && cannot_index_wal(&source) =>
            {
                if wal_len == Some(0) {
                    // An empty log holds nothing the main file lacks.
                    Self::read_only(path, &name, true)
                } else {
                    Err(StoreError::WalUnreadable {
                        path: name,
                        wal: wal.display().to_string(),
                        source,
                    })
                }
            }
            other => other,
        }
    }

    fn read_only(path: &Path, name: &str, immutable: bool) -> Result<Store, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: name.to_owned(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(read_only_uri(path, immutable), flags).map_err(sqlite)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")
            .map_err(sqlite)?;
        // The first read: it also opens the write-ahead log, if there is one.
        let version = checked_version(&conn, name)?;
        Ok(Store {
            conn,
            path: name.to_owned(),
            file: path.to_path_buf(),
            actor: crate::identity::OsUser::current().actor(),
            owner_token: hex::encode(rand::random::<[u8; 16]>()),
            version,
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        // Only a store opened read-only keeps an older schema; a missing table there
        // means "not migrated yet", which a writing command fixes.
        let supported = MIGRATIONS.len() as i64;
        if self.version < supported
            && let Some(table) = missing_table(&source)
        {
            return StoreError::Outdated {
                path: self.path.clone(),
                found: self.version,
                supported,
                table,
            };
        }
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        // Switching a new file to WAL takes an exclusive lock, and SQLite answers
        // SQLITE_BUSY at once (without the busy handler) while another process does
        // the same: try again for a few seconds.
        let mut tries = 0;
        loop {
            match self.conn.execute_batch("PRAGMA journal_mode = WAL;") {
                Ok(()) => break,
                Err(e) if tries < 100 && e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        let supported = MIGRATIONS.len() as i64;
        // One migration per immediate transaction, the version read inside it: two
        // processes opening an old store at once would otherwise both apply the same
        // step (the second failing on a duplicate column, or worse).
        loop {
            let path = self.path.clone();
            let wrap = |source| StoreError::Sqlite {
                path: path.clone(),
                source,
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(wrap)?;
            let version = checked_version(&tx, &self.path)?;
            let Some(sql) = MIGRATIONS.get(version as usize) else {
                break;
            };
            tx.execute_batch(sql).map_err(wrap)?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(wrap)?;
            tx.commit().map_err(wrap)?;
        }
        self.version = supported;
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
        // Of the rows as written (a repeated grant id keeps its last record), so that
        // `audit verify` can tell later whether they are still what this scan saw.
        let (_, grants_digest) = scan_grants_digest(&tx, scan_id).map_err(wrap)?;
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
            "grants_digest": grants_digest,
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

/// A recorded scan as the store holds it now, for comparison with its
/// `scan.recorded` entry ([`crate::audit::check_store`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedScan {
    /// The `scans` row.
    pub summary: ScanSummary,
    /// Its `tenant_scans` rows, by tenant.
    pub tenants: Vec<TenantSummary>,
    /// Its `scan_grants` rows.
    pub grant_rows: u64,
    /// [`crate::audit::GrantsDigest`] of those rows, computed now.
    pub grants_digest: String,
}

/// One tenant of a recorded scan, in the terms its `scan.recorded` entry uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    /// Tenant name.
    pub tenant: String,
    /// Provider id.
    pub provider: String,
    /// Every task succeeded.
    pub complete: bool,
    /// Grants seen.
    pub grants: u64,
    /// Failures recorded (`None` when the stored list does not parse).
    pub failures: Option<u64>,
}

impl Store {
    /// What SQLite's `PRAGMA quick_check` says about the file: `["ok"]` when its
    /// pages, records and indexes are sound, otherwise one line per problem. A file
    /// too damaged for the check to run is one such line, not an error.
    pub fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.conn.prepare("PRAGMA quick_check")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        };
        match run() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) =>
            {
                Ok(vec![e.to_string()])
            }
            other => other.map_err(|e| self.err(e)),
        }
    }

    /// True when the store has table `name` (a store opened read-only may predate
    /// the migration that adds it).
    pub fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    /// Every recorded scan with its tenants and the digest of its grant records as
    /// they are now, oldest first. Reads every `scan_grants` row.
    pub fn recorded_scans(&self) -> Result<Vec<RecordedScan>, StoreError> {
        let mut tenants: BTreeMap<i64, Vec<TenantSummary>> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT scan_id, tenant, provider, complete, grants, failures FROM tenant_scans
                     ORDER BY scan_id, tenant",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    let failures: String = r.get(5)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        TenantSummary {
                            tenant: r.get(1)?,
                            provider: r.get(2)?,
                            complete: r.get(3)?,
                            grants: r.get::<_, i64>(4)? as u64,
                            failures: serde_json::from_str::<Vec<serde_json::Value>>(&failures)
                                .ok()
                                .map(|f| f.len() as u64),
                        },
                    ))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (scan, tenant) = row.map_err(|e| self.err(e))?;
                tenants.entry(scan).or_default().push(tenant);
            }
        }
        let mut out = Vec::new();
        for summary in self.scans()? {
            let (grant_rows, grants_digest) =
                scan_grants_digest(&self.conn, summary.id).map_err(|e| self.err(e))?;
            out.push(RecordedScan {
                tenants: tenants.remove(&summary.id).unwrap_or_default(),
                summary,
                grant_rows,
                grants_digest,
            });
        }
        Ok(out)
    }

    /// Where the `grants` table — what `report` reads — disagrees with the scans
    /// that wrote it: a record that is not what its `last_scan` stored in
    /// `scan_grants`, a grant still live although a later complete scan of its
    /// tenant did not see it, or one marked removed by a scan that is not a later
    /// complete scan of its tenant. Each kind by grant id.
    pub fn grant_problems(&self) -> Result<Vec<StoreProblem>, StoreError> {
        let mut problems = Vec::new();
        // Every row, live or removed: removal leaves the record as last seen.
        for (grant, scan, missing) in self.grant_rows(
            "SELECT g.id, g.last_scan, s.record IS NULL FROM grants g
             LEFT JOIN scan_grants s ON s.scan_id = g.last_scan AND s.grant_id = g.id
             WHERE s.record IS NULL OR s.record IS NOT g.record ORDER BY g.id",
        )? {
            let scan = scan.unwrap_or_default();
            problems.push(if missing {
                StoreProblem::GrantNotInScan { grant, scan }
            } else {
                StoreProblem::GrantEdited { grant, scan }
            });
        }
        // `record_scan` removes, for each complete tenant scan, every grant of the
        // tenant that the scan did not see.
        for (grant, scan, _) in self.grant_rows(
            "WITH latest AS (SELECT tenant, MAX(scan_id) AS scan FROM tenant_scans
                             WHERE complete GROUP BY tenant)
             SELECT g.id, latest.scan, 0 FROM grants g JOIN latest ON latest.tenant = g.tenant
             WHERE g.removed_at IS NULL AND latest.scan > g.last_scan ORDER BY g.id",
        )? {
            let scan = scan.unwrap_or_default();
            problems.push(StoreProblem::GrantNotRemoved { grant, scan });
        }
        for (grant, scan, _) in self.grant_rows(
            "SELECT g.id, g.removed_scan, 0 FROM grants g
             WHERE g.removed_at IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM tenant_scans t WHERE t.scan_id = g.removed_scan
                 AND t.tenant = g.tenant AND t.complete AND t.scan_id > g.last_scan)
             ORDER BY g.id",
        )? {
            problems.push(StoreProblem::GrantRemovedWithoutScan { grant, scan });
        }
        Ok(problems)
    }

    /// `(grant id, scan, flag)` rows of one of [`Store::grant_problems`]' queries.
    fn grant_rows(&self, sql: &str) -> Result<Vec<(String, Option<i64>, bool)>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
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

/// The schema version in `conn`'s file, refused when newer than ours. A read, so it
/// can come before anything that writes.
fn checked_version(conn: &Connection, path: &str) -> Result<i64, StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        })?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    Ok(found)
}

/// `path` with `suffix` appended to its file name (`-wal`, `-shm`), as SQLite names
/// its sidecar files.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// True when the database header says WAL mode: byte 19, the file format read
/// version, is 2 (<https://www.sqlite.org/fileformat2.html#database_header>). A file
/// that cannot be read is left for SQLite to report.
fn header_says_wal(path: &Path) -> bool {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && header[19] == 2
}

/// True when SQLite could not open or create what it needs beside the database
/// (the `-shm` index of a write-ahead log) for a read-only connection.
fn cannot_index_wal(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
    )
}

/// The table SQLite says does not exist, if that is what `e` says.
fn missing_table(e: &rusqlite::Error) -> Option<String> {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message
            .strip_prefix("no such table: ")
            .map(|t| t.strip_prefix("main.").unwrap_or(t).to_owned()),
        _ => None,
    }
}

/// `path` as an SQLite URI (<https://www.sqlite.org/uri.html>) that opens it
/// read-only, and `immutable=1` when asked. Every byte but letters, digits, `-._~`
/// and the separators `/` and `:` is percent-encoded, so `?`, `#` and `%` in a path
/// stay part of it.
fn read_only_uri(path: &Path, immutable: bool) -> String {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt as _;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = {
        let text = path.to_string_lossy().replace('\\', "/");
        // `C:/x` becomes `file:///C:/x`, the form SQLite expects for a drive.
        if path.is_absolute() && !text.starts_with('/') {
            format!("/{text}").into_bytes()
        } else {
            text.into_bytes()
        }
    };
    // An absolute path gets the empty authority (`file:///abs`), so that one that
    // itself starts with `//` is not read as a host name.
    let mut uri = String::from(if bytes.first() == Some(&b'/') {
        "file://"
    } else {
        "file:"
    });
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/-._~:".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str(if immutable {
        "?mode=ro&immutable=1"
    } else {
        "?mode=ro"
    });
    uri
}

/// The digest of scan `scan`'s records in `scan_grants`, in grant-id order, and how
/// many there are: computed by [`Store::record_scan`] inside its transaction, after
/// the rows are written, and again by [`Store::recorded_scans`] from what the store
/// holds now — one function, so the two can only differ when the rows did.
fn scan_grants_digest(conn: &Connection, scan: i64) -> rusqlite::Result<(u64, String)> {
    let mut stmt = conn.prepare_cached(
        "SELECT grant_id, record FROM scan_grants WHERE scan_id = ?1 ORDER BY grant_id",
    )?;
    let mut rows = stmt.query(params![scan])?;
    let mut digest = GrantsDigest::new(scan);
    let mut count = 0;
    while let Some(row) = rows.next()? {
        digest.add(row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_str()?);
        count += 1;
    }
    Ok((count, digest.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two processes starting on a new (or old) store at once both migrate it: each
    /// step is applied once, and both open.
    #[test]
    fn concurrent_opens_migrate_once() {
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join(format!("s{round}.db"));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), std::sync::Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        Store::open(&path)
                            .map(|_| ())
                            .map_err(|e| crate::error_chain(&e))
                    })
                })
                .collect();
            for t in opens {
                let opened = t.join().unwrap_or_else(|_| panic!("an open panicked"));
                assert_eq!(opened, Ok(()), "round {round}");
            }
        }
    }
    use crate::test_support::{grant, tenant_scan};

    /// Every file in `dir` by name, with its bytes: the database and any sidecar.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|entry| {
                let entry = entry.unwrap_or_else(|e| panic!("{e}"));
                let bytes = std::fs::read(entry.path()).unwrap_or_else(|e| panic!("{e}"));
                (entry.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect()
    }

    /// A store in `dir` with two complete scans (the second no longer sees `p/t/1`),
    /// closed again, so that only the database file is left.
    fn recorded(dir: &Path) -> PathBuf {
        let path = dir.join("s.db");
        let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        for ids in [["p/t/1", "p/t/2"], ["p/t/2", "p/t/3"]] {
            let scan = tenant_scan(true, ids.into_iter().map(grant).collect());
            store.record_scan(&[scan]).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(store);
        let names: Vec<String> = files(dir).into_keys().collect();
        assert_eq!(names, ["s.db"], "the closed writer left its log behind");
        path
    }

    fn open_read_only(path: &Path) -> Store {
        Store::open_read_only(path).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_store_from_a_newer_grantscope_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.db");
        // A rollback-journal file, as SQLite makes it: `journal_mode = WAL` would
        // rewrite its header.
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;"))
            .unwrap_or_else(|e| panic!("{e}"));
        let before = files(dir.path());
        type Open = fn(&Path) -> Result<Store, StoreError>;
        let opens: [(&str, Open); 2] = [
            ("open", Store::open),
            ("open_read_only", Store::open_read_only),
        ];
        for (how, open) in opens {
            match open(&path) {
                Err(StoreError::TooNew { found: 99, .. }) => {}
                Err(e) => panic!("{how}: {e}"),
                Ok(_) => panic!("{how} accepted a store from a newer grantscope"),
            }
            assert!(files(dir.path()) == before, "{how} changed the store");
        }
    }

    #[test]
    fn a_read_only_open_writes_nothing_and_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = recorded(dir.path());
        let before = files(dir.path());
        {
            let mut store = open_read_only(&path);
            assert_eq!(
                store.live_grants().unwrap_or_else(|e| panic!("{e}")).len(),
                2
            );
            assert_eq!(store.scans().unwrap_or_else(|e| panic!("{e}")).len(), 2);
            assert_eq!(
                store
                    .audit_entries()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .len(),
                2
            );
            let diff = store.diff(1, 2).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((diff.added.len(), diff.removed.len()), (1, 1));
            assert_eq!(
                store.quick_check().unwrap_or_else(|e| panic!("{e}")),
                ["ok"]
            );
            assert!(store.recorded_scans().is_ok() && store.runs().is_ok());
            match store.append_audit("test.event", "tester", &serde_json::json!({})) {
                Err(StoreError::Sqlite { source, .. }) => assert_eq!(
                    source.sqlite_error_code(),
                    Some(ErrorCode::ReadOnly),
                    "{source}"
                ),
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("a read-only store took a write"),
            }
            assert!(files(dir.path()) == before, "changed while open");
        }
        assert!(files(dir.path()) == before, "changed once closed");
    }

    #[test]
    fn a_reader_sees_what_a_running_writer_committed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = recorded(dir.path());
        let mut writer = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        writer
            .record_scan(&[tenant_scan(false, vec![grant("p/t/4")])])
            .unwrap_or_else(|e| panic!("{e}"));
        // The third scan is in the writer's log, not yet in the main file.
        let reader = open_read_only(&path);
        assert_eq!(reader.scans().unwrap_or_else(|e| panic!("{e}")).len(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_file_in_a_read_only_directory_is_readable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sub = dir.path().join("ro");
        std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
        let path = recorded(&sub);
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        };
        mode(&path, 0o444);
        mode(&sub, 0o555);
        // Root ignores permission bits; then this shows only that nothing is written.
        let enforced = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .is_err();
        let before = files(&sub);
        let read = Store::open_read_only(&path)
            .and_then(|s| Ok((s.live_grants()?.len(), s.audit_entries()?.len())));
        let writable = Store::open(&path).is_ok();
        mode(&sub, 0o755);
        let after = files(&sub);
        assert_eq!(
            read.unwrap_or_else(|e| panic!("{e} (permissions enforced: {enforced})")),
            (2, 2)
        );
        assert!(!(enforced && writable), "the setup does not stop a writer");
        if !writable {
            assert!(after == before, "a read-only open changed the directory");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_write_ahead_log_that_cannot_be_indexed_is_read_only_when_empty() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = recorded(dir.path());
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).unwrap_or_else(|e| panic!("{e}"));
        // Copied while a writer has a committed scan in its log, not checkpointed.
        let mut writer = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        writer
            .conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .unwrap_or_else(|e| panic!("{e}"));
        writer
            .record_scan(&[tenant_scan(false, vec![grant("p/t/4")])])
            .unwrap_or_else(|e| panic!("{e}"));
        for name in ["s.db", "s.db-wal"] {
            std::fs::copy(dir.path().join(name), copy.join(name))
                .unwrap_or_else(|e| panic!("copy {name}: {e}"));
        }
        drop(writer);
        // No `-shm` can be made: its name is a dangling symbolic link, which SQLite
        // will not follow (whoever runs the test, root included).
        std::os::unix::fs::symlink(copy.join("nowhere"), copy.join("s.db-shm"))
            .unwrap_or_else(|e| panic!("{e}"));
        let db = copy.join("s.db");
        match Store::open_read_only(&db) {
            Err(e @ StoreError::WalUnreadable { .. }) => {
                assert!(e.to_string().contains("s.db-wal"), "{e}");
            }
            Err(e) => panic!("{e}"),
            Ok(s) => panic!(
                "read {} scans, ignoring or misreading the log",
                s.scans().map(|s| s.len()).unwrap_or_default()
            ),
        }
        // An empty log holds nothing the main file lacks.
        std::fs::write(copy.join("s.db-wal"), b"").unwrap_or_else(|e| panic!("{e}"));
        let store = open_read_only(&db);
        assert_eq!(store.scans().unwrap_or_else(|e| panic!("{e}")).len(), 2);
    }

    #[test]
    fn an_older_schema_is_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.db");
        Connection::open(&path)
            .and_then(|c| {
                c.execute_batch(MIGRATIONS[0])?;
                c.execute_batch(
                    "PRAGMA user_version = 1;
                     INSERT INTO scans (started_at, finished_at, complete, grants, failures)
                     VALUES ('2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 1, 0, 0);",
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let before = files(dir.path());
        let store = open_read_only(&path);
        assert_eq!(store.scans().unwrap_or_else(|e| panic!("{e}")).len(), 1);
        assert!(
            !store
                .has_table("revocation_runs")
                .unwrap_or_else(|e| panic!("{e}"))
        );
        match store.audit_entries() {
            Err(e @ StoreError::Outdated { found: 1, .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains("`audit_log`") && message.contains("grantscope scan"),
                    "{message}"
                );
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a version-1 store has no audit log"),
        }
        drop(store);
        assert!(files(dir.path()) == before, "an old store was migrated");
    }

    #[test]
    fn every_scan_logs_the_digest_of_its_grant_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = recorded(dir.path());
        let store = open_read_only(&path);
        let scans = store.recorded_scans().unwrap_or_else(|e| panic!("{e}"));
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scans.len(), entries.len());
        for (scan, entry) in scans.iter().zip(&entries) {
            let data: serde_json::Value =
                serde_json::from_str(&entry.data).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(data["scan_id"], serde_json::json!(scan.summary.id));
            assert_eq!(data["grants_digest"], serde_json::json!(scan.grants_digest));
            assert_eq!(scan.grant_rows, 2);
            // The digest is over the records as stored, in grant-id order.
            let mut digest = GrantsDigest::new(scan.summary.id);
            let records = store
                .scan_records(scan.summary.id)
                .unwrap_or_else(|e| panic!("{e}"));
            for (id, record) in &records {
                let text = serde_json::to_string(record).unwrap_or_else(|e| panic!("{e}"));
                digest.add(id, &text);
            }
            assert_eq!(digest.finish(), scan.grants_digest);
        }
        assert_ne!(scans[0].grants_digest, scans[1].grants_digest);
    }
}
