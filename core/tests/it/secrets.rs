//! Secrets (the GitHub App's private key, the installation tokens minted with it)
//! never reach the inventory store or the command's output, even at debug level.

use std::path::PathBuf;

use grantscope::store::Store;

use crate::support::{
    Fixture, check, check_scans, contains, database_bytes, grants, grantscope, read_text, run_async,
};

/// The private key file the config names, resolved against the config's directory.
fn key_file(f: &Fixture) -> PathBuf {
    let config: toml::Table = toml::from_str(&f.config_text())
        .unwrap_or_else(|e| panic!("the written config is not TOML: {e}"));
    let files: Vec<&str> = config
        .get("tenant")
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("no tenants in the config"))
        .iter()
        .filter_map(|t| t.get("credential")?.get("private_key_file")?.as_str())
        .collect();
    assert!(!files.is_empty(), "no private_key_file in the config");
    f.path(files[0])
}

/// Fails naming `what` if any secret occurs in `bytes`.
fn assert_clean(what: &str, bytes: &[u8], key_lines: &[String]) {
    assert!(!bytes.is_empty(), "{what} is empty: nothing was checked");
    for line in key_lines {
        assert!(
            !contains(bytes, line.as_bytes()),
            "{what} contains a line of the private key"
        );
    }
    assert!(
        !contains(bytes, b"ghs_"),
        "{what} contains an installation token (ghs_...)"
    );
    // An app JWT starts with the base64 of `{"`.
    assert!(!contains(bytes, b"eyJ"), "{what} contains a JWT");
}

#[tokio::test]
async fn secrets_never_reach_the_store_or_output() {
    let f = Fixture::start(7, 60, 0.0).await;
    let pem = read_text(&key_file(&f));
    assert!(pem.contains("PRIVATE KEY-----"), "not a PEM key");
    // Every base64 line of the body: a leak of any part of the key is caught.
    let key_lines: Vec<String> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    assert!(key_lines.len() > 10, "{} key lines", key_lines.len());

    // Through the library, into a store.
    let config = f.config();
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let db = f.path("inventory.db");
    {
        let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
        store
            .record_scan(&scans)
            .unwrap_or_else(|e| panic!("record: {e}"));
        assert_eq!(
            store.live_grants().unwrap_or_else(|e| panic!("{e}")).len(),
            grants(&scans).len()
        );
    }
    assert_clean("the store", &database_bytes(&db), &key_lines);

    // Through the binary at debug level.
    let cli_db = f.path("cli.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.args([
        "-vv",
        "--db",
        cli_db.to_str().unwrap_or_else(|| panic!("path not UTF-8")),
        "scan",
        "--config",
        f.config_path
            .to_str()
            .unwrap_or_else(|| panic!("path not UTF-8")),
        "--json",
    ]);
    let out = run_async(cmd).await;
    out.expect_code(0);
    check(&out.grants(), &f.sim.truth());
    assert!(
        out.stderr.contains("DEBUG"),
        "-vv logs at debug level:\n{}",
        out.stderr
    );
    assert_clean("scan --json stdout", out.stdout.as_bytes(), &key_lines);
    assert_clean("scan -vv stderr", out.stderr.as_bytes(), &key_lines);
    assert_clean("the CLI's store", &database_bytes(&cli_db), &key_lines);
}
