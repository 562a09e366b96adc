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

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation for [`entry_hash`]: the format version of the encoding.
const DOMAIN: &[u8] = b"grantscope.audit.v1";

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
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    hex::encode(h.finalize())
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
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; {sql}"
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
}
