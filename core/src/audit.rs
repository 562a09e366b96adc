//! The audit log: append-only and hash-chained, kept in the store (`audit_log`).
//!
//! Each entry's `hash` is SHA-256 over a canonical, length-prefixed encoding of
//! `(seq, at, kind, actor, data, prev_hash)`, and `prev_hash` is the previous
//! entry's `hash` ([`GENESIS`] for the first). Entries are numbered 1, 2, 3, …
//! without gaps.
//!
//! **Architecture invariants:**
//! - The log is append-only: [`crate::store::Store::append_audit`] is the only
//!   writer, and SQLite triggers refuse `UPDATE` and `DELETE` on the table. The
//!   triggers are defence in depth; [`verify`] does not trust them.
//! - [`verify`] detects an edited entry (hash mismatch), a removed entry (a gap in
//!   `seq`), reordered entries and an entry forged without the chain (a `prev_hash`
//!   that is not the previous entry's hash).
//! - **Limit:** removing entries from the *tail* leaves a shorter chain that is
//!   still valid. Only an anchor kept outside the store detects it: record
//!   [`Verification::head_hash`] (and `entries`) elsewhere — a ticket, a SIEM, a
//!   signed note — and check later that the entry with that `seq` still has that
//!   hash.
//! - [`check_store`] holds the rest of the store to the log: SQLite's
//!   `quick_check` must pass; every recorded scan has its `scan.recorded` entry
//!   (so a log emptied or replaced wholesale is caught, not taken for a short one)
//!   whose counts match the scan's rows and whose `grants_digest`
//!   ([`GrantsDigest`]) matches its `scan_grants` records; every row of `grants`
//!   (what `report` reads) is the record its last scan stored and live exactly when
//!   no later complete scan of its tenant missed it; every revocation run has its
//!   `revocation.plan` entry with the same plan hash. Scans logged before the
//!   digest existed are counted, not failed ([`StoreCheck::undigested`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{RecordedScan, Store, StoreError, TenantSummary};

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation for [`entry_hash`]: the format version of the encoding.
const DOMAIN: &[u8] = b"grantscope.audit.v1";

/// Domain separation for [`GrantsDigest`], so that no grant list hashes like an
/// entry.
const GRANTS_DOMAIN: &[u8] = b"grantscope.scan-grants.v1";

/// One audit-log entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When it was appended (RFC 3339 UTC).
    pub at: String,
    /// What happened (`scan.recorded`, …).
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Details: compact JSON text, exactly the bytes that were hashed.
    pub data: String,
    /// The previous entry's `hash` ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// [`entry_hash`] of this entry's fields.
    pub hash: String,
}

impl AuditEntry {
    /// The hash its fields should have.
    pub fn computed_hash(&self) -> String {
        entry_hash(
            self.seq,
            &self.at,
            &self.kind,
            &self.actor,
            &self.data,
            &self.prev_hash,
        )
    }
}

/// SHA-256 (lowercase hex) over the domain tag and each field as an 8-byte
/// big-endian length followed by its bytes (`seq` in decimal), so no two distinct
/// field tuples encode alike.
pub fn entry_hash(
    seq: i64,
    at: &str,
    kind: &str,
    actor: &str,
    data: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    for field in [
        DOMAIN,
        seq.as_bytes(),
        at.as_bytes(),
        kind.as_bytes(),
        actor.as_bytes(),
        data.as_bytes(),
        prev_hash.as_bytes(),
    ] {
        put(&mut h, field);
    }
    hex::encode(h.finalize())
}

/// Feeds one field: its length as 8 bytes big-endian, then its bytes.
fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// SHA-256 (lowercase hex) over one scan's grant records as `scan_grants` holds
/// them, kept in the scan's `scan.recorded` entry as `grants_digest` so that
/// [`check_store`] can tell whether they changed afterwards. Encoded like
/// [`entry_hash`]: a domain tag, the scan id in decimal, then each record's grant id
/// and stored JSON text, every field length-prefixed. Records must be added in
/// grant-id order, bytewise (as SQLite's `ORDER BY grant_id` returns them), so that
/// the same rows always give the same digest.
pub struct GrantsDigest(Sha256);

impl GrantsDigest {
    /// Starts the digest of scan `scan`.
    pub fn new(scan: i64) -> GrantsDigest {
        let mut h = Sha256::new();
        put(&mut h, GRANTS_DOMAIN);
        put(&mut h, scan.to_string().as_bytes());
        GrantsDigest(h)
    }

    /// Adds the next record.
    pub fn add(&mut self, grant_id: &str, record: &str) {
        put(&mut self.0, grant_id.as_bytes());
        put(&mut self.0, record.as_bytes());
    }

    /// The digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: u64,
    /// The hash of the last entry ([`GENESIS`] when the log is empty). Record it
    /// outside the store: it is the only way to detect a truncated tail later.
    pub head_hash: String,
    /// The first entry that breaks the chain, and why; `None` when intact.
    pub first_bad: Option<(i64, String)>,
}

impl Verification {
    /// True when no entry breaks the chain.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// An audit failure.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing or reading a stream failed.
    #[error("audit log I/O")]
    Io(#[from] std::io::Error),
    /// An entry's data is not JSON, so it cannot be exported as such.
    #[error("audit log entry {seq} holds data that is not JSON: {reason}")]
    BadData {
        /// The entry.
        seq: i64,
        /// Parser message.
        reason: String,
    },
    /// A line of an export does not parse.
    #[error("audit export line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// Parser message.
        reason: String,
    },
}

/// Checks the chain of `entries`, given in stored order (by `seq`).
pub fn verify_entries(entries: impl IntoIterator<Item = AuditEntry>) -> Verification {
    let mut count = 0u64;
    let mut head = GENESIS.to_owned();
    let mut first_bad = None;
    for e in entries {
        count += 1;
        let expected = count as i64;
        if first_bad.is_none() {
            first_bad = if e.seq > expected {
                Some((
                    expected,
                    format!(
                        "entry {expected} is missing (the log goes from {} to {})",
                        expected - 1,
                        e.seq
                    ),
                ))
            } else if e.seq != expected {
                Some((
                    e.seq,
                    format!(
                        "out of order: entry {} found where {expected} belongs",
                        e.seq
                    ),
                ))
            } else if e.prev_hash != head {
                Some((
                    e.seq,
                    "prev_hash is not the previous entry's hash (an entry was removed, reordered or forged)".to_owned(),
                ))
            } else if e.computed_hash() != e.hash {
                Some((
                    e.seq,
                    "hash does not match the entry's contents (the entry was edited)".to_owned(),
                ))
            } else {
                None
            };
        }
        head = e.hash;
    }
    Verification {
        entries: count,
        head_hash: head,
        first_bad,
    }
}

/// Checks the store's audit log, and `anchor` — a `(seq, hash)` recorded earlier
/// outside the store — against it: the one tampering a chain cannot show by itself is
/// entries removed from its end.
pub fn verify(store: &Store, anchor: Option<(i64, &str)>) -> Result<Verification, AuditError> {
    let entries = store.audit_entries()?;
    let anchored = anchor.and_then(|(seq, hash)| check_anchor(&entries, seq, hash));
    let mut v = verify_entries(entries);
    if v.first_bad.is_none() {
        v.first_bad = anchored;
    }
    Ok(v)
}

/// Why `entries` disagree with an anchor `(seq, hash)`, if they do.
pub fn check_anchor(entries: &[AuditEntry], seq: i64, hash: &str) -> Option<(i64, String)> {
    match entries.iter().find(|e| e.seq == seq) {
        Some(e) if e.hash.eq_ignore_ascii_case(hash) => None,
        Some(_) => Some((
            seq,
            "its hash is not the anchor's (the log was rewritten from here on)".to_owned(),
        )),
        None => Some((
            seq,
            format!(
                "the anchor names entry {seq}, but the log ends at entry {} (entries were removed from the end)",
                entries.last().map_or(0, |e| e.seq)
            ),
        )),
    }
}

/// Something in the store that its audit log (or SQLite) does not vouch for, found
/// by [`check_store`]. Displayed as a sentence naming the scan, run, grant or entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum StoreProblem {
    /// SQLite's `PRAGMA quick_check` did not say `ok`; its message. Nothing else is
    /// checked then: what damaged pages say is no evidence.
    Damaged {
        /// What `quick_check` said, its lines joined by `; `.
        message: String,
    },
    /// A recorded scan has no `scan.recorded` entry.
    ScanNotLogged {
        /// The scan.
        scan: i64,
    },
    /// A revocation run has no `revocation.plan` entry.
    RunNotLogged {
        /// The run.
        run: i64,
    },
    /// A `scan.recorded` or `revocation.plan` entry names a scan or run the store
    /// does not have, or none at all.
    EntryWithoutRecord {
        /// The entry.
        seq: i64,
        /// Its kind.
        kind: String,
        /// The scan or run it names, if any.
        id: Option<i64>,
    },
    /// A second entry of the same kind names a scan or run an earlier one recorded.
    LoggedTwice {
        /// The later entry.
        seq: i64,
        /// The earlier entry.
        first: i64,
        /// Their kind.
        kind: String,
        /// The scan or run.
        id: i64,
    },
    /// A scan's row or its tenants' rows disagree with its entry's counts.
    ScanSummary {
        /// The scan.
        scan: i64,
        /// Its entry.
        seq: i64,
        /// What differs (`completeness`, `grant count`, `failure count`, `tenants`).
        what: &'static str,
    },
    /// A scan's `scan_grants` records do not match the digest in its entry.
    GrantsDigest {
        /// The scan.
        scan: i64,
        /// Its entry.
        seq: i64,
        /// Records the store holds for the scan now.
        grants: u64,
    },
    /// A `grants` row's record is not what its last scan recorded for it.
    GrantEdited {
        /// The grant.
        grant: String,
        /// Its `last_scan`.
        scan: i64,
    },
    /// A `grants` row names a last scan that recorded no such grant.
    GrantNotInScan {
        /// The grant.
        grant: String,
        /// Its `last_scan`.
        scan: i64,
    },
    /// A grant is live although a later complete scan of its tenant did not see it.
    GrantNotRemoved {
        /// The grant.
        grant: String,
        /// The latest complete scan of its tenant.
        scan: i64,
    },
    /// A grant is marked removed by a scan that is not a later complete scan of its
    /// tenant.
    GrantRemovedWithoutScan {
        /// The grant.
        grant: String,
        /// Its `removed_scan`.
        scan: Option<i64>,
    },
    /// A revocation run's plan hash is not the one its entry recorded.
    RunPlanHash {
        /// The run.
        run: i64,
        /// Its entry.
        seq: i64,
    },
}

impl fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreProblem::Damaged { message } => {
                write!(
                    f,
                    "the store file is damaged: SQLite quick_check says {message}"
                )
            }
            StoreProblem::ScanNotLogged { scan } => write!(
                f,
                "scan {scan} has no `scan.recorded` entry in the audit log (entries were removed or the log was replaced)"
            ),
            StoreProblem::RunNotLogged { run } => write!(
                f,
                "revocation run {run} has no `revocation.plan` entry in the audit log (entries were removed or the log was replaced)"
            ),
            StoreProblem::EntryWithoutRecord { seq, kind, id } => {
                let what = subject(kind);
                match id {
                    Some(id) => write!(
                        f,
                        "audit entry {seq} (`{kind}`) records {what} {id}, which the store does not have"
                    ),
                    None => write!(f, "audit entry {seq} (`{kind}`) names no {what}"),
                }
            }
            StoreProblem::LoggedTwice {
                seq,
                first,
                kind,
                id,
            } => write!(
                f,
                "audit entry {seq} (`{kind}`) records {} {id} again, which entry {first} already recorded",
                subject(kind)
            ),
            StoreProblem::ScanSummary { scan, seq, what } => write!(
                f,
                "scan {scan}: its {what} in the store differs from audit entry {seq}"
            ),
            StoreProblem::GrantsDigest { scan, seq, grants } => write!(
                f,
                "scan {scan}: its {grants} grant records do not match the digest in audit entry {seq} (a record was edited, added or removed)"
            ),
            StoreProblem::GrantEdited { grant, scan } => write!(
                f,
                "grant {grant}: the inventory's record differs from what scan {scan} recorded for it"
            ),
            StoreProblem::GrantNotInScan { grant, scan } => write!(
                f,
                "grant {grant}: the inventory names scan {scan} as its last, which recorded no such grant"
            ),
            StoreProblem::GrantNotRemoved { grant, scan } => write!(
                f,
                "grant {grant} is live in the inventory, but the later complete scan {scan} of its tenant did not see it"
            ),
            StoreProblem::GrantRemovedWithoutScan { grant, scan } => match scan {
                Some(scan) => write!(
                    f,
                    "grant {grant} is marked removed by scan {scan}, which is not a later complete scan of its tenant"
                ),
                None => write!(f, "grant {grant} is marked removed by no scan"),
            },
            StoreProblem::RunPlanHash { run, seq } => write!(
                f,
                "revocation run {run}: its plan hash differs from audit entry {seq}"
            ),
        }
    }
}

/// What an entry of `kind` records: a scan or a revocation run.
fn subject(kind: &str) -> &'static str {
    if kind == "scan.recorded" {
        "scan"
    } else {
        "revocation run"
    }
}

/// The outcome of [`check_store`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    /// Recorded scans (rows in `scans`).
    pub scans: u64,
    /// Scans whose grant records were checked against the digest in their entry.
    pub digests: u64,
    /// Scans whose entry has no digest (logged before grantscope kept one): their
    /// grant records could not be checked.
    pub undigested: u64,
    /// Revocation runs (rows in `revocation_runs`).
    pub runs: u64,
    /// Everything found, in the order checked; empty when the store agrees with its
    /// log.
    pub problems: Vec<StoreProblem>,
}

impl StoreCheck {
    /// True when nothing was found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// True when SQLite found the file damaged (and nothing else was checked).
    pub fn is_damaged(&self) -> bool {
        self.problems
            .iter()
            .any(|p| matches!(p, StoreProblem::Damaged { .. }))
    }
}

/// Checks the store against its audit log (see the module's invariants). The chain
/// itself is [`verify`]'s; a broken chain does not stop this check, which takes the
/// entries as they are.
pub fn check_store(store: &Store) -> Result<StoreCheck, AuditError> {
    let damage = store.quick_check()?;
    if damage != ["ok"] {
        return Ok(StoreCheck {
            problems: vec![StoreProblem::Damaged {
                message: damage.join("; "),
            }],
            ..StoreCheck::default()
        });
    }
    let mut problems = Vec::new();
    let mut scan_entries = BTreeMap::new();
    let mut run_entries = BTreeMap::new();
    for e in store.audit_entries()? {
        let (key, logged) = match e.kind.as_str() {
            "scan.recorded" => ("scan_id", &mut scan_entries),
            "revocation.plan" => ("run", &mut run_entries),
            _ => continue,
        };
        let data: serde_json::Value =
            serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null);
        let Some(id) = data.get(key).and_then(serde_json::Value::as_i64) else {
            problems.push(StoreProblem::EntryWithoutRecord {
                seq: e.seq,
                kind: e.kind,
                id: None,
            });
            continue;
        };
        match logged.entry(id) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert((e.seq, data));
            }
            std::collections::btree_map::Entry::Occupied(o) => {
                problems.push(StoreProblem::LoggedTwice {
                    seq: e.seq,
                    first: o.get().0,
                    kind: e.kind,
                    id,
                });
            }
        }
    }

    let scans = store.recorded_scans()?;
    let mut check = StoreCheck {
        scans: scans.len() as u64,
        ..StoreCheck::default()
    };
    for scan in &scans {
        let id = scan.summary.id;
        let Some((seq, data)) = scan_entries.remove(&id) else {
            problems.push(StoreProblem::ScanNotLogged { scan: id });
            continue;
        };
        for what in summary_differences(scan, &data) {
            problems.push(StoreProblem::ScanSummary {
                scan: id,
                seq,
                what,
            });
        }
        match data
            .get("grants_digest")
            .and_then(serde_json::Value::as_str)
        {
            None => check.undigested += 1,
            Some(digest) => {
                check.digests += 1;
                if digest != scan.grants_digest {
                    problems.push(StoreProblem::GrantsDigest {
                        scan: id,
                        seq,
                        grants: scan.grant_rows,
                    });
                }
            }
        }
    }
    for (id, (seq, _)) in scan_entries {
        problems.push(StoreProblem::EntryWithoutRecord {
            seq,
            kind: "scan.recorded".into(),
            id: Some(id),
        });
    }
    problems.extend(store.grant_problems()?);

    // A store from before the journal (opened read-only) has no runs to check.
    let mut runs = if store.has_table("revocation_runs")? {
        store.runs()?
    } else {
        Vec::new()
    };
    runs.sort_by_key(|r| r.id);
    check.runs = runs.len() as u64;
    for run in &runs {
        match run_entries.remove(&run.id) {
            None => problems.push(StoreProblem::RunNotLogged { run: run.id }),
            Some((seq, data)) => {
                if data.get("plan_hash").and_then(serde_json::Value::as_str)
                    != Some(run.plan_hash.as_str())
                {
                    problems.push(StoreProblem::RunPlanHash { run: run.id, seq });
                }
            }
        }
    }
    for (id, (seq, _)) in run_entries {
        problems.push(StoreProblem::EntryWithoutRecord {
            seq,
            kind: "revocation.plan".into(),
            id: Some(id),
        });
    }
    check.problems = problems;
    Ok(check)
}

/// What of a scan's rows differs from the counts its `scan.recorded` entry holds.
/// A key the entry lacks is not compared.
fn summary_differences(scan: &RecordedScan, data: &serde_json::Value) -> Vec<&'static str> {
    let s = &scan.summary;
    let mut out = Vec::new();
    let number = |key: &str| data.get(key).and_then(serde_json::Value::as_u64);
    if data
        .get("complete")
        .and_then(serde_json::Value::as_bool)
        .is_some_and(|c| c != s.complete)
    {
        out.push("completeness");
    }
    if number("grants").is_some_and(|n| n != s.grants) {
        out.push("grant count");
    }
    if number("failures").is_some_and(|n| n != s.failures) {
        out.push("failure count");
    }
    if let Some(logged) = data.get("tenants").and_then(serde_json::Value::as_array) {
        let mut logged: Vec<TenantSummary> = logged
            .iter()
            .map(|t| TenantSummary {
                tenant: t["tenant"].as_str().unwrap_or_default().to_owned(),
                provider: t["provider"].as_str().unwrap_or_default().to_owned(),
                complete: t["complete"].as_bool().unwrap_or_default(),
                grants: t["grants"].as_u64().unwrap_or_default(),
                failures: t["failures"].as_u64(),
            })
            .collect();
        logged.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        if logged != scan.tenants {
            out.push("tenants");
        }
    }
    out
}

/// Parses an anchor as `audit verify` prints it: `SEQ:HASH`.
pub fn parse_anchor(s: &str) -> Result<(i64, String), String> {
    let (seq, hash) = s.split_once(':').ok_or_else(|| {
        format!("anchor `{s}`: write it as SEQ:HASH, as `audit verify` prints it")
    })?;
    let seq: i64 = seq
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("anchor `{s}`: SEQ must be an entry number (1 or more)"))?;
    if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("anchor `{s}`: HASH must be 64 hex digits"));
    }
    Ok((seq, hash.to_owned()))
}

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    seq: i64,
    at: String,
    kind: String,
    actor: String,
    data: serde_json::Value,
    prev_hash: String,
    hash: String,
}

/// Writes the log as JSON lines, one entry per line (`seq`, `at`, `kind`, `actor`,
/// `data` as a JSON value, `prev_hash`, `hash`), for a SIEM; returns the number
/// of entries. [`verify_export`] re-checks such a stream.
pub fn export(store: &Store, mut out: impl Write) -> Result<u64, AuditError> {
    let entries = store.audit_entries()?;
    for e in &entries {
        let data = serde_json::from_str(&e.data).map_err(|err| AuditError::BadData {
            seq: e.seq,
            reason: err.to_string(),
        })?;
        let line = Line {
            seq: e.seq,
            at: e.at.clone(),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            data,
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        };
        serde_json::to_writer(&mut out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(entries.len() as u64)
}

/// Re-checks the chain of an [`export`]: `data` is hashed in its compact JSON
/// form, which is how the store keeps it.
pub fn verify_export(input: impl BufRead) -> Result<Verification, AuditError> {
    let mut entries = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| AuditError::BadLine {
            line: i + 1,
            reason: e.to_string(),
        })?;
        entries.push(AuditEntry {
            seq: l.seq,
            at: l.at,
            kind: l.kind,
            actor: l.actor,
            data: l.data.to_string(),
            prev_hash: l.prev_hash,
            hash: l.hash,
        });
    }
    Ok(verify_entries(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("grantscope.db");
        let store = Store::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
        (dir, path, store)
    }

    fn append(store: &mut Store, n: i64) {
        for i in 0..n {
            store
                .append_audit("test.event", "tester", &json!({ "i": i, "note": "x" }))
                .unwrap_or_else(|e| panic!("append: {e}"));
        }
    }

    /// A second connection with the triggers dropped, as an attacker would.
    fn tamper(path: &std::path::Path, sql: &str) {
        let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("open: {e}"));
        conn.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; {sql}"
        ))
        .unwrap_or_else(|e| panic!("tamper: {e}"));
    }

    fn bad(store: &Store) -> (i64, String) {
        verify(store, None)
            .unwrap_or_else(|e| panic!("verify: {e}"))
            .first_bad
            .unwrap_or_else(|| panic!("tampering not detected"))
    }

    #[test]
    fn the_encoding_is_length_prefixed() {
        assert_ne!(
            entry_hash(1, "a", "bc", "d", "{}", GENESIS),
            entry_hash(1, "ab", "c", "d", "{}", GENESIS)
        );
        assert_ne!(
            entry_hash(12, "a", "b", "c", "{}", GENESIS),
            entry_hash(1, "2a", "b", "c", "{}", GENESIS)
        );
        assert_eq!(entry_hash(1, "a", "b", "c", "{}", GENESIS).len(), 64);
    }

    #[test]
    fn an_appended_chain_verifies() {
        let (_dir, _path, mut store) = store();
        let empty = verify(&store, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((empty.entries, empty.head_hash.as_str()), (0, GENESIS));
        append(&mut store, 3);
        let v = verify(&store, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.is_intact(), "{v:?}");
        assert_eq!(v.entries, 3);
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[1].prev_hash, entries[0].hash);
        assert_eq!(v.head_hash, entries[2].hash);
    }

    #[test]
    fn triggers_refuse_update_and_delete() {
        let (_dir, path, mut store) = store();
        append(&mut store, 1);
        let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"] {
            let err = conn
                .execute(sql, [])
                .err()
                .unwrap_or_else(|| panic!("{sql} succeeded"));
            assert!(err.to_string().contains("append-only"), "{err}");
        }
    }

    #[test]
    fn each_tampering_is_detected() {
        let cases: &[(&str, i64)] = &[
            ("UPDATE audit_log SET data = '{\"i\":9}' WHERE seq = 2", 2),
            ("DELETE FROM audit_log WHERE seq = 2", 2),
            ("DELETE FROM audit_log WHERE seq = 1", 1),
            (
                "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1",
                2,
            ),
        ];
        for (sql, seq) in cases {
            let (_dir, path, mut store) = store();
            append(&mut store, 4);
            tamper(&path, sql);
            let (at, reason) = bad(&store);
            assert_eq!(at, *seq, "{sql}: {reason}");
        }
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let (_dir, path, mut store) = store();
        append(&mut store, 3);
        let e = &store.audit_entries().unwrap_or_else(|e| panic!("{e}"))[1];
        let data = "{\"i\":42}";
        let hash = entry_hash(e.seq, &e.at, &e.kind, &e.actor, data, &e.prev_hash);
        tamper(
            &path,
            &format!("UPDATE audit_log SET data = '{data}', hash = '{hash}' WHERE seq = 2"),
        );
        let (at, reason) = bad(&store);
        assert_eq!(at, 3, "{reason}");
        assert!(reason.contains("prev_hash"), "{reason}");
    }

    #[test]
    fn a_forged_entry_outside_the_chain_is_detected() {
        let (_dir, path, mut store) = store();
        append(&mut store, 3);
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        let prev = &entries[0].hash; // not the head
        let hash = entry_hash(4, "2026-01-01T00:00:00Z", "x", "y", "{}", prev);
        tamper(
            &path,
            &format!(
                "INSERT INTO audit_log VALUES (4, '2026-01-01T00:00:00Z', 'x', 'y', '{{}}', '{prev}', '{hash}')"
            ),
        );
        let (at, reason) = bad(&store);
        assert_eq!(at, 4, "{reason}");
    }

    #[test]
    fn tail_truncation_is_caught_only_by_the_head_anchor() {
        let (_dir, path, mut store) = store();
        append(&mut store, 3);
        let anchor = verify(&store, None).unwrap_or_else(|e| panic!("{e}"));
        tamper(&path, "DELETE FROM audit_log WHERE seq = 3");
        let after = verify(&store, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(after.is_intact(), "a shorter chain is still a chain");
        assert_ne!(after.head_hash, anchor.head_hash, "the anchor shows it");
    }

    #[test]
    fn a_scan_and_its_audit_entry_land_together_or_not_at_all() {
        let (_dir, path, mut store) = store();
        let recorded = store.record_scan(&[]).unwrap_or_else(|e| panic!("{e}"));
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, "scan.recorded");
        let data: serde_json::Value =
            serde_json::from_str(&entries[0].data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data["scan_id"], json!(recorded.scan_id));

        let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(store.record_scan(&[]).is_err());
        let (scans, _) = store.scan_counts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scans, 1, "the scan rolled back with its audit entry");
    }

    #[test]
    fn an_export_re_verifies() {
        let (_dir, _path, mut store) = store();
        append(&mut store, 3);
        let mut buf = Vec::new();
        assert_eq!(
            export(&store, &mut buf).unwrap_or_else(|e| panic!("{e}")),
            3
        );
        let text = String::from_utf8(buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.lines().count(), 3);
        let v = verify_export(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.is_intact(), "{v:?}");
        assert_eq!(v, verify(&store, None).unwrap_or_else(|e| panic!("{e}")));
        let edited = text.replacen("\"note\":\"x\"", "\"note\":\"y\"", 1);
        let v = verify_export(edited.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.first_bad.map(|b| b.0), Some(1));
    }

    /// A store with two complete scans of tenant `t` (the second no longer sees
    /// `p/t/1`, which is removed) and one revocation run, all logged.
    fn recorded() -> (tempfile::TempDir, std::path::PathBuf, Store) {
        use crate::test_support::{grant, tenant_scan};
        let (dir, path, mut store) = store();
        for ids in [["p/t/1", "p/t/2"], ["p/t/2", "p/t/3"]] {
            let scan = tenant_scan(true, ids.into_iter().map(grant).collect());
            store.record_scan(&[scan]).unwrap_or_else(|e| panic!("{e}"));
        }
        let target = crate::model::RevocationTarget {
            action: "token".into(),
            handle: "p/t/2".into(),
        };
        store
            .create_run("vendor:x", "plan", &[(grant("p/t/2"), target)], &json!({}))
            .unwrap_or_else(|e| panic!("{e}"));
        (dir, path, store)
    }

    fn problems(store: &Store) -> Vec<StoreProblem> {
        check_store(store)
            .unwrap_or_else(|e| panic!("check: {e}"))
            .problems
    }

    /// `tamper`s a fresh [`recorded`] store with each case's SQL and checks what
    /// [`check_store`] finds.
    fn check_cases(cases: Vec<(&str, Vec<StoreProblem>)>) {
        for (sql, want) in cases {
            let (_dir, path, store) = recorded();
            tamper(&path, sql);
            assert_eq!(problems(&store), want, "{sql}");
        }
    }

    #[test]
    fn a_sound_store_passes_the_store_check() {
        let (_dir, _path, store) = recorded();
        let check = check_store(&store).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            check,
            StoreCheck {
                scans: 2,
                digests: 2,
                undigested: 0,
                runs: 1,
                problems: Vec::new(),
            }
        );
    }

    #[test]
    fn the_grants_digest_is_length_prefixed_and_scan_bound() {
        let digest = |scan: i64, rows: &[(&str, &str)]| {
            let mut d = GrantsDigest::new(scan);
            for (id, record) in rows {
                d.add(id, record);
            }
            d.finish()
        };
        assert_ne!(digest(1, &[("a", "bc")]), digest(1, &[("ab", "c")]));
        assert_ne!(digest(1, &[("a", "b")]), digest(2, &[("a", "b")]));
        assert_ne!(digest(1, &[]), digest(1, &[("", "")]));
        assert_eq!(digest(1, &[]).len(), 64);
    }

    #[test]
    fn an_emptied_audit_log_is_detected() {
        let emptied = vec![
            StoreProblem::ScanNotLogged { scan: 1 },
            StoreProblem::ScanNotLogged { scan: 2 },
            StoreProblem::RunNotLogged { run: 1 },
        ];
        for sql in [
            "DELETE FROM audit_log",
            "DROP TABLE audit_log; CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL,
             kind TEXT NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL,
             hash TEXT NOT NULL)",
        ] {
            let (_dir, path, store) = recorded();
            tamper(&path, sql);
            // The chain alone cannot tell an empty log from a new one.
            let chain = verify(&store, None).unwrap_or_else(|e| panic!("{e}"));
            assert!(chain.is_intact() && chain.entries == 0, "{chain:?}");
            assert_eq!(problems(&store), emptied, "{sql}");
        }
    }

    #[test]
    fn an_edited_inventory_row_is_detected() {
        // `a` → `A` in the app name: one bit of the record `report` reads.
        let flip = "UPDATE grants SET record = replace(record, '\"name\":\"a\"', '\"name\":\"A\"') WHERE id = 'p/t/3'";
        let (_dir, path, store) = recorded();
        tamper(&path, flip);
        let live = store.live_grants().unwrap_or_else(|e| panic!("{e}"));
        assert!(live.iter().any(|g| g.app.name == "A"), "the edit took");
        assert_eq!(
            problems(&store),
            [StoreProblem::GrantEdited {
                grant: "p/t/3".into(),
                scan: 2
            }]
        );
    }

    #[test]
    fn an_edited_scan_record_is_detected() {
        let flip = |scan: i64, grant: &str| {
            format!(
                "UPDATE scan_grants SET record = replace(record, '\"name\":\"a\"', '\"name\":\"A\"') WHERE scan_id = {scan} AND grant_id = '{grant}'"
            )
        };
        let digest =
            |scan: i64, seq: i64, grants: u64| StoreProblem::GrantsDigest { scan, seq, grants };
        let (older, latest, removed) = (flip(1, "p/t/2"), flip(2, "p/t/3"), flip(1, "p/t/1"));
        check_cases(vec![
            // Nobody's last scan: only the digest shows it.
            (&older, vec![digest(1, 1, 2)]),
            // The inventory row no longer matches either, which names the grant.
            (
                &latest,
                vec![
                    digest(2, 2, 2),
                    StoreProblem::GrantEdited {
                        grant: "p/t/3".into(),
                        scan: 2,
                    },
                ],
            ),
            (
                &removed,
                vec![
                    digest(1, 1, 2),
                    StoreProblem::GrantEdited {
                        grant: "p/t/1".into(),
                        scan: 1,
                    },
                ],
            ),
            (
                "DELETE FROM scan_grants WHERE scan_id = 2 AND grant_id = 'p/t/3'",
                vec![
                    digest(2, 2, 1),
                    StoreProblem::GrantNotInScan {
                        grant: "p/t/3".into(),
                        scan: 2,
                    },
                ],
            ),
            (
                "INSERT INTO scan_grants SELECT 1, 'p/t/9', record FROM scan_grants WHERE scan_id = 1 LIMIT 1",
                vec![digest(1, 1, 3)],
            ),
        ]);
    }

    #[test]
    fn a_revived_or_hidden_grant_is_detected() {
        check_cases(vec![
            (
                "UPDATE grants SET removed_at = NULL, removed_scan = NULL WHERE id = 'p/t/1'",
                vec![StoreProblem::GrantNotRemoved {
                    grant: "p/t/1".into(),
                    scan: 2,
                }],
            ),
            (
                "UPDATE grants SET removed_at = '2026-01-01T00:00:00Z', removed_scan = 2 WHERE id = 'p/t/3'",
                vec![StoreProblem::GrantRemovedWithoutScan {
                    grant: "p/t/3".into(),
                    scan: Some(2),
                }],
            ),
        ]);
    }

    #[test]
    fn scan_rows_and_runs_are_held_to_their_entries() {
        let summary = |scan: i64, what: &'static str| StoreProblem::ScanSummary {
            scan,
            seq: scan,
            what,
        };
        check_cases(vec![
            (
                "UPDATE scans SET complete = 0 WHERE id = 2",
                vec![summary(2, "completeness")],
            ),
            (
                "UPDATE scans SET grants = 7 WHERE id = 1",
                vec![summary(1, "grant count")],
            ),
            (
                "UPDATE tenant_scans SET complete = 0 WHERE scan_id = 1",
                vec![summary(1, "tenants")],
            ),
            (
                "UPDATE tenant_scans SET failures = '[{}]' WHERE scan_id = 1",
                vec![summary(1, "tenants")],
            ),
            (
                // An attacker's connection need not enforce foreign keys.
                "PRAGMA foreign_keys = OFF; DELETE FROM scans WHERE id = 2",
                vec![StoreProblem::EntryWithoutRecord {
                    seq: 2,
                    kind: "scan.recorded".into(),
                    id: Some(2),
                }],
            ),
            (
                "UPDATE revocation_runs SET plan_hash = 'other'",
                vec![StoreProblem::RunPlanHash { run: 1, seq: 3 }],
            ),
            (
                "PRAGMA foreign_keys = OFF; UPDATE revocation_runs SET id = 2",
                vec![
                    StoreProblem::RunNotLogged { run: 2 },
                    StoreProblem::EntryWithoutRecord {
                        seq: 3,
                        kind: "revocation.plan".into(),
                        id: Some(1),
                    },
                ],
            ),
        ]);
    }

    #[test]
    fn entries_that_name_nothing_or_repeat_a_scan_are_reported() {
        let (_dir, _path, mut store) = recorded();
        for data in [json!({}), json!({ "scan_id": 1 })] {
            store
                .append_audit("scan.recorded", "tester", &data)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            problems(&store),
            [
                StoreProblem::EntryWithoutRecord {
                    seq: 4,
                    kind: "scan.recorded".into(),
                    id: None,
                },
                StoreProblem::LoggedTwice {
                    seq: 5,
                    first: 1,
                    kind: "scan.recorded".into(),
                    id: 1,
                },
            ]
        );
    }

    #[test]
    fn scans_logged_without_a_digest_are_counted_not_failed() {
        // A store whose scans were logged before the digest existed: the same
        // entries, re-chained without `grants_digest`.
        let (_dir, path, mut store) = recorded();
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        tamper(&path, "DELETE FROM audit_log");
        for e in &entries {
            let mut data: serde_json::Value =
                serde_json::from_str(&e.data).unwrap_or_else(|e| panic!("{e}"));
            if let Some(map) = data.as_object_mut() {
                map.remove("grants_digest");
            }
            store
                .append_audit(&e.kind, &e.actor, &data)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let check = check_store(&store).unwrap_or_else(|e| panic!("{e}"));
        assert!(check.is_intact(), "{check:?}");
        assert_eq!((check.scans, check.digests, check.undigested), (2, 0, 2));
        // Their inventory rows are still held to the scans.
        tamper(
            &path,
            "UPDATE grants SET record = replace(record, '\"a\"', '\"b\"')",
        );
        assert_eq!(problems(&store).len(), 3, "one per grant row");
    }

    #[test]
    fn a_damaged_file_fails_the_quick_check() {
        use crate::test_support::{grant, tenant_scan};
        let (dir, path, mut store) = store();
        // Enough records for the table to need interior pages.
        let grants = (0..300)
            .map(|i| crate::model::GrantRecord {
                scopes: vec![format!("scope-{i}-{}", "x".repeat(200))],
                ..grant(&format!("p/t/{i:04}"))
            })
            .collect();
        store
            .record_scan(&[tenant_scan(true, grants)])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(store);
        let (root, page_size): (i64, i64) = rusqlite::Connection::open(&path)
            .and_then(|c| {
                c.query_row(
                    "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master
                     WHERE name = 'scan_grants'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let copy = dir.path().join("damaged.db");
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        // The root page's header: page type, then the first freeblock and the cell
        // count, all made nonsense.
        let page = ((root - 1) * page_size) as usize;
        bytes[page..page + 8].copy_from_slice(&[0x0d, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
        std::fs::write(&copy, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let damaged = Store::open_read_only(&copy).unwrap_or_else(|e| panic!("{e}"));
        let check = check_store(&damaged).unwrap_or_else(|e| panic!("{e}"));
        assert!(check.is_damaged(), "{check:?}");
        match check.problems.as_slice() {
            [StoreProblem::Damaged { message }] => assert_ne!(message, "ok"),
            other => panic!("{other:?}"),
        }
        let sound = Store::open_read_only(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            check_store(&sound)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_intact()
        );
    }
}
