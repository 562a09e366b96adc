//! The audit log through the `grantscope` binary: two real scans against the
//! simulator are chained and verify; each way of tampering with the SQLite file
//! (through a separate connection, triggers dropped) is detected and named — in the
//! log, and in the store the log vouches for; an export is one JSON object per line
//! whose hashes re-verify; the commands that only read leave the store as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grantscope::audit::{entry_hash, verify_export};
use grantscope::store::Store;

use crate::support::{Fixture, Ran, grantscope, read_text, run, run_async};

fn arg(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", p.display()))
}

fn audit(home: &Path, db: &Path, args: &[&str]) -> Ran {
    let mut cmd = grantscope(home);
    cmd.args(["--db", arg(db), "audit"]).args(args);
    run(cmd)
}

/// A copy of `db` named `name`, tampered with by `sql` after dropping the triggers.
fn tampered(f: &Fixture, db: &Path, name: &str, sql: &str) -> PathBuf {
    let copy = f.path(name);
    let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("open: {e}"));
    conn.execute("VACUUM INTO ?1", [arg(&copy)])
        .unwrap_or_else(|e| panic!("copy: {e}"));
    let conn = rusqlite::Connection::open(&copy).unwrap_or_else(|e| panic!("open: {e}"));
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; {sql}"
    ))
    .unwrap_or_else(|e| panic!("tamper {name}: {e}"));
    copy
}

#[tokio::test]
async fn tampering_with_the_audit_log_is_detected() {
    let (f, db) = scanned_twice().await;
    {
        let store = Store::open(&db).unwrap_or_else(|e| panic!("store: {e}"));
        let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["scan.recorded", "scan.recorded"]);
    }
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("store: {e}"));
    for i in 0..3 {
        store
            .append_audit("test.note", "it", &serde_json::json!({ "i": i }))
            .unwrap_or_else(|e| panic!("append: {e}"));
    }
    let entries = store.audit_entries().unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    assert_eq!(entries.len(), 5);

    let out = audit(f.dir.path(), &db, &["verify"]);
    out.expect_code(0);
    let head = &entries[4].hash;
    assert_eq!(
        out.stdout.trim(),
        format!(
            "audit log intact: 5 entries, head {head}\nstore intact: 2 scans (2 grant digests), 0 runs"
        )
    );

    // An anchor kept outside the store catches what the chain cannot: a cut tail.
    let anchor = format!("5:{head}");
    audit(f.dir.path(), &db, &["verify", "--anchor", &anchor]).expect_code(0);
    let cut = tampered(&f, &db, "cut.db", "DELETE FROM audit_log WHERE seq >= 4");
    audit(f.dir.path(), &cut, &["verify"]).expect_code(0);
    let out = audit(f.dir.path(), &cut, &["verify", "--anchor", &anchor]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("entry 5") && out.stderr.contains("removed from the end"),
        "{}",
        out.stderr
    );
    let rewritten = audit(
        f.dir.path(),
        &db,
        &["verify", "--anchor", &format!("4:{head}")],
    );
    rewritten.expect_code(2);
    assert!(
        rewritten.stderr.contains("rewritten"),
        "{}",
        rewritten.stderr
    );
    let bad = audit(f.dir.path(), &db, &["verify", "--anchor", "five:abc"]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("SEQ:HASH"), "{}", bad.stderr);

    let forged_hash = entry_hash(
        6,
        "2026-01-01T00:00:00Z",
        "scan.recorded",
        "x",
        "{}",
        &entries[3].hash,
    );
    let cases = [
        (
            "edited",
            "UPDATE audit_log SET data = replace(data, '\"complete\":true', '\"complete\":false') WHERE seq = 2".to_owned(),
            2,
            "edited",
        ),
        (
            "removed",
            "DELETE FROM audit_log WHERE seq = 3".to_owned(),
            3,
            "missing",
        ),
        (
            "swapped",
            "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1".to_owned(),
            2,
            "prev_hash",
        ),
        (
            "forged",
            format!(
                "INSERT INTO audit_log VALUES (6, '2026-01-01T00:00:00Z', 'scan.recorded', 'x', '{{}}', '{}', '{forged_hash}')",
                entries[3].hash
            ),
            6,
            "prev_hash",
        ),
    ];
    for (name, sql, seq, why) in &cases {
        let copy = tampered(&f, &db, &format!("{name}.db"), sql);
        let out = audit(f.dir.path(), &copy, &["verify"]);
        out.expect_code(2);
        let want = format!("error: audit log tampered at entry {seq}: ");
        assert!(out.stderr.starts_with(&want), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
    }

    let file = f.path("audit.jsonl");
    audit(f.dir.path(), &db, &["export", "--out", arg(&file)]).expect_code(0);
    let text = read_text(&file);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 5);
    for (line, entry) in lines.iter().zip(&entries) {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {line}"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = ["seq", "at", "kind", "actor", "data", "prev_hash", "hash"];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(line["seq"], serde_json::json!(entry.seq));
        assert_eq!(line["hash"], serde_json::json!(entry.hash));
        assert!(line["data"].is_object(), "{line}");
    }
    assert_eq!(lines[0]["data"]["scan_id"], serde_json::json!(1));
    let v = verify_export(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.entries, v.head_hash.as_str()), (5, head.as_str()));

    let stdout = audit(f.dir.path(), &db, &["export"]);
    stdout.expect_code(0);
    assert_eq!(stdout.stdout, text, "stdout and --out agree");
}

/// Every file beside `db` whose name starts with its name — the database and its
/// `-wal`, `-shm` and `-journal` companions — with its bytes.
fn store_files(db: &Path) -> BTreeMap<String, Vec<u8>> {
    let name = db
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("{} has no name", db.display()));
    let dir = db.parent().unwrap_or_else(|| Path::new("."));
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")))
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(name))
        .map(|entry| {
            let bytes = std::fs::read(entry.path()).unwrap_or_else(|e| panic!("{e}"));
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// An estate scanned twice through the real binary, and its store.
async fn scanned_twice() -> (Fixture, PathBuf) {
    let f = Fixture::start(7, 20, 0.0).await;
    let db = f.path("grantscope.db");
    for _ in 0..2 {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&db), "scan", "--config", arg(&f.config_path)]);
        run_async(cmd).await.expect_code(0);
    }
    (f, db)
}

#[tokio::test]
async fn reading_commands_write_nothing() {
    let (f, db) = scanned_twice().await;
    // The writer has exited: its log is folded into the store and removed.
    let before = store_files(&db);
    let names: Vec<&String> = before.keys().collect();
    assert_eq!(names, ["grantscope.db"]);
    let reads: [&[&str]; 7] = [
        &["report"],
        &["report", "--format", "html"],
        &["diff"],
        &["diff", "--list", "--json"],
        &["audit", "verify"],
        &["audit", "export"],
        &["diff", "1", "2", "--json"],
    ];
    // An offboarding plan and the vendor list only read too.
    let config = arg(&f.config_path);
    let planning: [&[&str]; 3] = [
        &["offboard", "driftwood-chat", "--config", config],
        &["offboard", "driftwood-chat", "--config", config, "--json"],
        &["vendors", "--config", config, "list"],
    ];
    for &args in reads.iter().chain(&planning) {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&db)]).args(args);
        run(cmd).expect_code(0);
        assert!(
            store_files(&db) == before,
            "`{}` changed the store or left a file beside it",
            args.join(" ")
        );
    }
    // A copy of a store whose writer died with a committed entry still in its log:
    // readers read the log, and leave it, the store and the file set as they were
    // (a writable open would fold the log into the store and delete it).
    let crash = f.path("crash");
    std::fs::create_dir(&crash).unwrap_or_else(|e| panic!("{e}"));
    let live = f.path("live.db");
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute("VACUUM INTO ?1", [arg(&live)]))
        .unwrap_or_else(|e| panic!("copy: {e}"));
    let mut writer = Store::open(&live).unwrap_or_else(|e| panic!("store: {e}"));
    writer
        .append_audit("test.note", "it", &serde_json::json!({ "unfolded": true }))
        .unwrap_or_else(|e| panic!("append: {e}"));
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("live.db{suffix}");
        std::fs::copy(f.path(&name), crash.join(&name))
            .unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    drop(writer);
    let crashed = crash.join("live.db");
    let data = |files: &BTreeMap<String, Vec<u8>>| {
        let mut files = files.clone();
        // The wal-index is shared memory that any reader rebuilds, not data.
        files.get_mut("live.db-shm").map(Vec::clear);
        files
    };
    let before_crash = data(&store_files(&crashed));
    for args in reads {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&crashed)]).args(args);
        let out = run(cmd);
        out.expect_code(0);
        if args == ["audit", "verify"] {
            assert!(
                out.stdout.starts_with("audit log intact: 3 entries"),
                "{}",
                out.stdout
            );
        }
        assert!(
            data(&store_files(&crashed)) == before_crash,
            "`{}` changed a crashed writer's store or log",
            args.join(" ")
        );
    }

    // A store from a newer grantscope is refused by readers and writers alike, and
    // left as it was.
    let newer = tampered(&f, &db, "newer.db", "PRAGMA user_version = 99");
    let untouched = store_files(&newer);
    for args in [
        &["audit", "verify"][..],
        &["report"],
        &["scan", "--config", arg(&f.config_path)],
    ] {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&newer)]).args(args);
        let out = run_async(cmd).await;
        out.expect_code(2);
        assert!(
            out.stderr.contains("newer than this grantscope"),
            "{}",
            out.stderr
        );
        assert!(
            store_files(&newer) == untouched,
            "`{}` changed a newer store",
            args.join(" ")
        );
    }
}

/// The JSON report of `db`: each grant's score by id.
fn scores(home: &Path, db: &Path) -> BTreeMap<String, u64> {
    let mut cmd = grantscope(home);
    cmd.args(["--db", arg(db), "report", "--format", "json"]);
    let out = run(cmd);
    out.expect_code(0);
    out.json()["grants"]
        .as_array()
        .unwrap_or_else(|| panic!("no grants in the report"))
        .iter()
        .map(|g| {
            let id = g["id"].as_str().unwrap_or_default().to_owned();
            (id, g["score"]["value"].as_u64().unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
async fn tampering_with_the_store_is_detected() {
    let (f, db) = scanned_twice().await;
    let out = audit(f.dir.path(), &db, &["verify"]);
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("audit log intact: 2 entries, head "),
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "store intact: 2 scans (2 grant digests), 0 runs");

    // Scans logged before the digest existed: the same entries, re-chained without
    // it, are counted as unchecked, not as tampering.
    let old = tampered(&f, &db, "old.db", "DELETE FROM audit_log");
    let mut store = Store::open(&old).unwrap_or_else(|e| panic!("store: {e}"));
    for e in Store::open_read_only(&db)
        .and_then(|s| s.audit_entries())
        .unwrap_or_else(|e| panic!("{e}"))
    {
        let mut data: serde_json::Value =
            serde_json::from_str(&e.data).unwrap_or_else(|e| panic!("{e}"));
        data.as_object_mut().map(|d| d.remove("grants_digest"));
        store
            .append_audit(&e.kind, &e.actor, &data)
            .unwrap_or_else(|e| panic!("append: {e}"));
    }
    drop(store);
    let out = audit(f.dir.path(), &old, &["verify"]);
    out.expect_code(0);
    assert_eq!(
        out.stdout.lines().nth(1),
        Some(
            "store intact: 2 scans (0 grant digests; 2 recorded without one could not be checked), 0 runs"
        )
    );

    // Widen the least dangerous grant in the inventory `report` reads: its score
    // goes up, and only the store check can tell.
    let original = scores(f.dir.path(), &db);
    let (grant, score) = original
        .iter()
        .min_by_key(|(_, score)| **score)
        .unwrap_or_else(|| panic!("no grants"));
    let quoted = grant.replace('\'', "''");
    let widened = tampered(
        &f,
        &db,
        "widened.db",
        &format!(
            "UPDATE grants SET record = json_set(record, '$.scopes', json_array('admin:org', 'delete_repo', 'repo')) WHERE id = '{quoted}'"
        ),
    );
    let edited = scores(f.dir.path(), &widened);
    assert!(
        edited[grant] > *score,
        "{grant}: {score} → {}",
        edited[grant]
    );

    let create_log = "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, \
        kind TEXT NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, \
        hash TEXT NOT NULL)";
    let unlogged = [
        "scan 1 has no `scan.recorded` entry",
        "scan 2 has no `scan.recorded` entry",
    ];
    let grant_line = format!(
        "error: grant {grant}: the inventory's record differs from what scan 2 recorded for it"
    );
    let cases: Vec<(&str, Option<String>, Vec<&str>)> = vec![
        (
            "emptied",
            Some("DELETE FROM audit_log".to_owned()),
            unlogged.to_vec(),
        ),
        (
            "replaced",
            Some(format!("DROP TABLE audit_log; {create_log}")),
            unlogged.to_vec(),
        ),
        ("widened", None, vec![grant_line.as_str()]),
        (
            "rescoped",
            Some(format!(
                "UPDATE scan_grants SET record = json_set(record, '$.scopes', json_array('x-tampered')) \
                 WHERE scan_id = 1 AND grant_id = '{quoted}'"
            )),
            vec![
                "error: scan 1: its ",
                "do not match the digest in audit entry 1",
            ],
        ),
    ];
    for (name, sql, want) in &cases {
        let copy = match sql {
            Some(sql) => tampered(&f, &db, &format!("{name}.db"), sql),
            None => widened.clone(),
        };
        let out = audit(f.dir.path(), &copy, &["verify"]);
        out.expect_code(2);
        for w in want {
            assert!(
                out.stderr.contains(w),
                "{name}: want {w:?} in\n{}",
                out.stderr
            );
        }
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
    }
}
