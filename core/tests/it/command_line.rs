//! The `grantscope` binary: exit codes, error messages and JSON output, against the
//! simulator in this process or in a child process.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{
    Fixture, check, check_subset, grants_of, grantscope, ids, read_text, read_truth, run,
    run_async, write_text,
};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn arg(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", p.display()))
}

#[test]
fn a_missing_config_is_an_error_naming_the_file() {
    let home = tempdir();
    let db = home.path().join("grantscope.db");
    let config = home.path().join("no-such-config.toml");
    let mut cmd = grantscope(home.path());
    cmd.args(["--db", arg(&db), "scan", "--config", arg(&config)]);
    let out = run(cmd);
    out.expect_code(2);
    assert!(out.stderr.starts_with("error:"), "{}", out.stderr);
    assert!(out.stderr.contains(arg(&config)), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(!db.exists(), "nothing is written on bad input");
}

#[test]
fn an_unknown_config_key_is_an_error_naming_the_key() {
    let home = tempdir();
    let db = home.path().join("grantscope.db");
    let config = home.path().join("grantscope.toml");
    write_text(&config, "[scan]\nconcurrency = 4\nparalellism = 2\n");
    let mut cmd = grantscope(home.path());
    cmd.args(["--db", arg(&db), "scan", "--config", arg(&config)]);
    let out = run(cmd);
    out.expect_code(2);
    assert!(out.stderr.starts_with("error:"), "{}", out.stderr);
    assert!(out.stderr.contains("paralellism"), "{}", out.stderr);
    assert!(out.stderr.contains(arg(&config)), "{}", out.stderr);
    assert!(!db.exists(), "nothing is written on bad input");
}

#[tokio::test]
async fn scan_json_prints_every_grant() {
    let f = Fixture::start(7, 60, 0.0).await;
    let db = f.path("grantscope.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.args([
        "--db",
        arg(&db),
        "scan",
        "--config",
        arg(&f.config_path),
        "--json",
    ]);
    let out = run_async(cmd).await;
    out.expect_code(0);
    let doc = out.json();
    let truth = f.sim.truth();
    let found = grants_of(&doc);
    assert_eq!(found.len(), truth.grants.len());
    check(&found, &truth);
    let tenants = doc
        .get("tenants")
        .and_then(serde_json::Value::as_array)
        .unwrap_or_else(|| panic!("no `tenants` array"));
    assert!(
        tenants
            .iter()
            .all(|t| t.get("complete") == Some(&serde_json::Value::Bool(true))),
        "{tenants:?}"
    );
    assert!(db.exists(), "the scan is recorded where --db says");
}

#[tokio::test]
async fn a_partial_scan_exits_3_and_prints_only_true_grants() {
    let f = Fixture::start(7, 60, 0.0).await;
    let config = f.write_config_with(
        "strict.toml",
        "[limits]\nhttp_attempts = 1\n\n[scan]\ntask_attempts = 1\n",
    );
    f.sim.set_faults(1.0);
    let db = f.path("grantscope.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.args(["--db", arg(&db), "scan", "--config", arg(&config), "--json"]);
    let out = run_async(cmd).await;
    out.expect_code(3);
    check_subset(&out.grants(), &f.sim.truth());
}

#[tokio::test]
async fn a_tenant_named_twice_is_scanned_once() {
    let f = Fixture::start(7, 20, 0.0).await;
    let config = f.config();
    let tenant = config
        .tenants
        .last()
        .unwrap_or_else(|| panic!("no tenant"))
        .name
        .clone();
    let db = f.path("grantscope.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.args(["--db", arg(&db), "scan", "--config", arg(&f.config_path)])
        .args(["--tenant", &tenant, "--tenant", &tenant, "--json"]);
    let out = run_async(cmd).await;
    out.expect_code(0);
    let doc = out.json();
    let tenants = doc
        .get("tenants")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(tenants, 1, "one scan of {tenant}");
    let mut truth = f.sim.truth();
    truth.grants.retain(|g| g.tenant == tenant);
    check(&grants_of(&doc), &truth);
}

#[test]
fn plugins_inspect_github_json() {
    let home = tempdir();
    let db = home.path().join("grantscope.db");
    let mut cmd = grantscope(home.path());
    cmd.args(["--db", arg(&db), "plugins", "inspect", "github", "--json"]);
    let out = run(cmd);
    out.expect_code(0);
    let m = out.json();
    assert_eq!(m.get("provider").and_then(|v| v.as_str()), Some("github"));
    let strings = |key: &str| -> Vec<String> {
        m.get(key)
            .and_then(serde_json::Value::as_array)
            .unwrap_or_else(|| panic!("no `{key}` array in {m}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        strings("hosts").iter().any(|h| h == "api.github.com"),
        "{m}"
    );
    let permissions = m
        .get("permissions")
        .and_then(serde_json::Value::as_array)
        .unwrap_or_else(|| panic!("no permissions in {m}"));
    let mut revoke_only = BTreeSet::new();
    let mut write = BTreeSet::new();
    for p in permissions {
        let name = p
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("permission without a name: {p}"));
        if p.get("revoke_only").and_then(serde_json::Value::as_bool) == Some(true) {
            revoke_only.insert(name);
        }
        if name.ends_with(":write") {
            write.insert(name);
        }
    }
    assert!(!write.is_empty(), "{m}");
    assert_eq!(
        revoke_only, write,
        "revoke-only permissions are the :write ones"
    );
    assert!(
        permissions.len() > revoke_only.len(),
        "auditing needs some permission"
    );
}

#[test]
fn demo_writes_config_store_grants_and_truth() {
    let home = tempdir();
    let out_dir = home.path().join("demo");
    let db = out_dir.join("grantscope.db");
    let mut cmd = grantscope(home.path());
    cmd.args([
        "--db",
        arg(&db),
        "demo",
        "--out",
        arg(&out_dir),
        "--users",
        "40",
    ]);
    let out = run(cmd);
    out.expect_code(0);
    for name in [
        "grantscope.toml",
        "grantscope.db",
        "grants.json",
        "truth.json",
    ] {
        assert!(out_dir.join(name).is_file(), "demo did not write {name}");
    }
    let doc: serde_json::Value = serde_json::from_str(&read_text(&out_dir.join("grants.json")))
        .unwrap_or_else(|e| panic!("grants.json: {e}"));
    let found = grants_of(&doc);
    let truth = read_truth(&out_dir.join("truth.json"));
    let truth_ids: BTreeSet<String> = truth.grants.iter().map(|g| g.id.clone()).collect();
    assert!(!truth_ids.is_empty());
    assert_eq!(ids(&found), truth_ids);
    check(&found, &truth);
}

#[test]
fn help_lists_the_commands() {
    let home = tempdir();
    let db = home.path().join("grantscope.db");
    let mut cmd = grantscope(home.path());
    cmd.args(["--db", arg(&db), "--help"]);
    let out = run(cmd);
    out.expect_code(0);
    for command in ["scan", "sim", "demo"] {
        assert!(out.stdout.contains(command), "{command}: {}", out.stdout);
    }
}

/// Kills and reaps the child if the test ends before it did.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn sim_in_a_child_process_serves_a_scan() {
    let home = tempdir();
    let db = home.path().join("grantscope.db");
    let config = home.path().join("sim.toml");
    let truth = home.path().join("truth.json");
    let sim_log = home.path().join("sim.log");
    let log = std::fs::File::create(&sim_log).unwrap_or_else(|e| panic!("sim log: {e}"));
    let mut cmd = grantscope(home.path());
    cmd.args([
        "--db",
        arg(&db),
        "sim",
        "--users",
        "60",
        "--write-config",
        arg(&config),
        "--truth",
        arg(&truth),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::from(log));
    let mut child = Reaper(cmd.spawn().unwrap_or_else(|e| panic!("spawn sim: {e}")));
    let stdout = child
        .0
        .stdout
        .take()
        .unwrap_or_else(|| panic!("no stdout pipe"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(line)) => {
                if let Some((_, url)) = line.split_once("grantscope-sim listening on ") {
                    break url.trim().to_owned();
                }
            }
            other => panic!(
                "the simulator never said it was listening ({other:?}); its stderr:\n{}",
                std::fs::read_to_string(&sim_log).unwrap_or_default()
            ),
        }
    };
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        read_text(&config).contains(&url),
        "the config points at {url}"
    );

    let mut scan = grantscope(home.path());
    scan.args(["--db", arg(&db), "scan", "--config", arg(&config), "--json"]);
    let out = run(scan);
    out.expect_code(0);
    let truth = read_truth(&truth);
    let found = out.grants();
    assert_eq!(found.len(), truth.grants.len());
    check(&found, &truth);

    // SIGTERM by PID: the simulator shuts down cleanly and exits 0.
    let pid = child.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("kill -TERM {pid}: {e}"));
    assert!(status.success(), "kill -TERM {pid}: {status}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        match child.0.try_wait() {
            Ok(Some(exit)) => break exit,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => panic!("the simulator did not stop after SIGTERM: {other:?}"),
        }
    };
    assert_eq!(exit.code(), Some(0), "sim exit after SIGTERM");
}

#[tokio::test]
async fn report_scores_every_grant_in_every_format_and_fails_on_a_tier() {
    let f = Fixture::start(7, 60, 0.0).await;
    let db = f.path("grantscope.db");
    let mut cmd = grantscope(f.dir.path());
    cmd.args(["--db", arg(&db), "scan", "--config", arg(&f.config_path)]);
    run_async(cmd).await.expect_code(0);
    let truth = f.sim.truth();
    let report = |extra: &[&str]| {
        let mut cmd = grantscope(f.dir.path());
        cmd.args(["--db", arg(&db), "report"]).args(extra);
        cmd
    };

    // JSON: every grant of the truth, each with a score, a tier and its factors.
    let out = run_async(report(&["--format", "json"])).await;
    out.expect_code(0);
    let doc = out.json();
    let found = grants_of(&doc);
    check(&found, &truth);
    // Aggregates: every app of every tenant, scored as the union of its grants, never
    // below its worst grant.
    let apps = doc["apps"].as_array().cloned().unwrap_or_default();
    let app_keys: BTreeSet<String> = found
        .iter()
        .map(|g| format!("{}/{}/{}", g.provider, g.tenant, g.app.id))
        .collect();
    assert_eq!(apps.len(), app_keys.len());
    for a in &apps {
        let key = a["key"].as_str().unwrap_or_default();
        let worst = found
            .iter()
            .filter(|g| format!("{}/{}/{}", g.provider, g.tenant, g.app.id) == key)
            .filter_map(|g| g.score.as_ref().map(|s| u64::from(s.value)))
            .max()
            .unwrap_or(0);
        assert!(a["score"]["value"].as_u64().unwrap_or(0) >= worst, "{key}");
    }
    assert!(
        !doc["vendors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .is_empty()
    );
    for g in &found {
        let s = g
            .score
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no score", g.id));
        assert!(s.value <= 100 && !s.factors.is_empty(), "{}: {s:?}", g.id);
    }

    // CSV: a header and one row per grant (no field of the simulator's data holds a
    // newline, so lines are rows).
    let out = run_async(report(&["--format", "csv"])).await;
    out.expect_code(0);
    assert_eq!(out.stdout.lines().count(), truth.grants.len() + 1);
    assert!(
        out.stdout.starts_with("id,"),
        "{}",
        &out.stdout[..80.min(out.stdout.len())]
    );

    // HTML to a file, self-contained.
    let html = f.path("report.html");
    run_async(report(&["--format", "html", "--out", arg(&html)]))
        .await
        .expect_code(0);
    let text = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("data-chart=\"tier-by-vendor\"") && text.contains("grants-table"));

    // --fail-on: exit 1 when any grant is at or above the tier, 0 otherwise.
    let worst = found
        .iter()
        .filter_map(|g| g.score.as_ref().map(|s| s.tier))
        .max()
        .unwrap_or_else(|| panic!("no tiers"));
    let name = |t: grantscope::model::Tier| grantscope::report::tier_name(t).to_owned();
    let out = run_async(report(&["--format", "md", "--fail-on", &name(worst)])).await;
    out.expect_code(1);
    if worst < grantscope::model::Tier::Critical {
        let above = match worst {
            grantscope::model::Tier::Low => grantscope::model::Tier::Medium,
            grantscope::model::Tier::Medium => grantscope::model::Tier::High,
            _ => grantscope::model::Tier::Critical,
        };
        run_async(report(&["--format", "md", "--fail-on", &name(above)]))
            .await
            .expect_code(0);
    }
    // A bad tier is a clear usage error.
    let out = run_async(report(&["--fail-on", "severe"])).await;
    out.expect_code(2);
}
