//! Files the binary writes and reads for the user: `--out -` is stdout, `--out
//! /dev/null` stays a device, new reports, exports, registries and stores are 0600
//! (the store's -wal and -shm too), and a secret file other users can read is
//! warned about on a real scan's stderr. The write helper's own cases (planted
//! links, failed writes, FIFOs, symlinked targets) are unit tests in
//! `core/src/files.rs`.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::Path;

use grantscope::store::Store;

use crate::support::{Fixture, grantscope, run, run_async};

fn arg(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", p.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A simulator, its config, and one scan recorded in `grantscope.db` by the binary.
async fn scanned() -> Fixture {
    let f = Fixture::start(5, 12, 0.0).await;
    let mut cmd = grantscope(f.dir.path());
    cmd.args(["--db", arg(&f.path("grantscope.db"))]).args([
        "scan",
        "--config",
        arg(&f.config_path),
    ]);
    run_async(cmd).await.expect_code(0);
    f
}

#[tokio::test]
async fn out_dash_is_stdout_and_no_file_is_written() {
    let f = scanned().await;
    let db = f.path("grantscope.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.current_dir(f.dir.path()).args([
        "--db",
        arg(&db),
        "report",
        "--format",
        "csv",
        "--out",
        "-",
    ]);
    let out = run_async(cmd).await;
    out.expect_code(0);
    assert!(out.stdout.starts_with("id,provider,"), "{}", out.stdout);
    assert!(out.stdout.lines().count() > 1, "{}", out.stdout);

    let mut cmd = grantscope(f.dir.path());
    cmd.current_dir(f.dir.path())
        .args(["--db", arg(&db), "audit", "export", "--out", "-"]);
    let out = run_async(cmd).await;
    out.expect_code(0);
    let first = out.stdout.lines().next().unwrap_or_default();
    let entry: serde_json::Value =
        serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(entry["kind"], "scan.recorded", "{first}");

    assert!(!f.path("-").exists(), "`-` is stdout, not a file named -");
}

#[tokio::test]
async fn new_outputs_are_private_replaced_ones_keep_their_mode_and_dev_null_stays() {
    let f = scanned().await;
    let db = f.path("grantscope.db");
    assert_eq!(mode(&db), 0o600, "the store is created 0600");
    let report = |out: &Path| {
        let mut cmd = grantscope(f.dir.path());
        cmd.args([
            "--db",
            arg(&db),
            "report",
            "--format",
            "json",
            "--out",
            arg(out),
        ]);
        cmd
    };

    let new = f.path("report.json");
    run_async(report(&new)).await.expect_code(0);
    assert_eq!(mode(&new), 0o600);

    let shared = f.path("shared.json");
    std::fs::write(&shared, "old").unwrap_or_else(|e| panic!("{e}"));
    chmod(&shared, 0o644);
    run_async(report(&shared)).await.expect_code(0);
    assert_eq!(mode(&shared), 0o644, "a replaced file keeps its mode");
    assert!(std::fs::read_to_string(&shared).is_ok_and(|t| t.starts_with('{')));

    let export = f.path("audit.jsonl");
    let mut cmd = grantscope(f.dir.path());
    cmd.args(["--db", arg(&db), "audit", "export", "--out", arg(&export)]);
    run_async(cmd).await.expect_code(0);
    assert_eq!(mode(&export), 0o600);

    // CI runs as root, where renaming over /dev/null would replace the device.
    let null = Path::new("/dev/null");
    run_async(report(null)).await.expect_code(0);
    let t = std::fs::symlink_metadata(null)
        .unwrap_or_else(|e| panic!("{e}"))
        .file_type();
    assert!(t.is_char_device(), "/dev/null is now {t:?}");

    let leftovers: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_new_registry_is_private() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry = home.path().join("vendors.toml");
    let mut cmd = grantscope(home.path());
    cmd.args(["vendors", "--registry", arg(&registry)]).args([
        "set",
        "acme",
        "--name",
        "Acme",
        "--owner",
        "dana@acme.example",
    ]);
    run(cmd).expect_code(0);
    assert_eq!(mode(&registry), 0o600);
    let text = std::fs::read_to_string(&registry).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("dana@acme.example"), "{text}");
}

#[test]
fn the_store_and_its_wal_and_shm_are_private() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("inventory").join("grantscope.db");
    // Opening migrates, which writes through the WAL: all three files exist while
    // the store is open (SQLite removes -wal and -shm when the last connection closes).
    let store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    for suffix in ["", "-wal", "-shm"] {
        let path = dir
            .path()
            .join("inventory")
            .join(format!("grantscope.db{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    drop(store);
}

#[tokio::test]
async fn a_secret_file_others_can_read_is_warned_about() {
    let f = Fixture::start(5, 8, 0.0).await;
    let key = f.path("grantscope.keys/github-app.pem");
    let scan = || {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&f.path("grantscope.db"))]).args([
            "scan",
            "--config",
            arg(&f.config_path),
        ]);
        cmd
    };
    assert_eq!(mode(&key), 0o600, "the simulator writes its key private");
    let quiet = run_async(scan()).await;
    quiet.expect_code(0);
    assert!(
        !quiet.stderr.contains("readable by other users"),
        "{}",
        quiet.stderr
    );

    chmod(&key, 0o644);
    let warned = run_async(scan()).await;
    warned.expect_code(0);
    assert!(
        warned.stderr.contains("WARN")
            && warned.stderr.contains("readable by other users")
            && warned.stderr.contains(&format!("chmod 600 {}", arg(&key))),
        "{}",
        warned.stderr
    );
}
