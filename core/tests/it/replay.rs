//! `grantscope sim --replay`: the real Okta connector (wasm) in the real host, scanning
//! the provider's own documented payloads (`testdata/providers/okta/examples/`) served
//! over loopback HTTP by the replay server, not by the synthetic simulator.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use grantscope_sim::Replay;
use serde_json::{Value, json};

use crate::support::{grantscope, run_async, write_text};

fn okta_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/providers/okta/examples")
}

/// The example's response body, as it is.
fn body(name: &str) -> Vec<Value> {
    let path = okta_examples().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    doc["response"]["body"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{name}: the body is not a list"))
}

/// The grant ids the connector gives the objects of an example's body:
/// `okta/acme-okta/{kind}:{id}`.
fn local_ids(example: &str, kind: &str) -> Vec<String> {
    body(example)
        .iter()
        .map(|o| {
            format!(
                "okta/acme-okta/{kind}:{}",
                o["id"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// A replay folder: every Okta example, plus the two calls the examples do not cover:
/// the user list the connector iterates (one user in Okta's documented user shape) and
/// a user's grants for one client (the documented user-grants body).
fn recordings(dir: &Path) -> PathBuf {
    let rec = dir.join("recordings");
    let okta = rec.join("okta");
    std::fs::create_dir_all(&okta).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for entry in std::fs::read_dir(okta_examples()).unwrap_or_else(|e| panic!("examples: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("examples: {e}")).path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, okta.join(name)).unwrap_or_else(|e| panic!("copy: {e}"));
        }
    }
    let users = json!({
        "request": {"method": "GET", "host": "acme.okta.com", "path": "/api/v1/users",
                    "query": {"limit": "200"}},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": [{
            "id": "00ub0oNGTSWTBKOLGLNR",
            "status": "ACTIVE",
            "created": "2024-06-02T17:16:39.000Z",
            "profile": {"login": "isaac.brock@example.com", "email": "isaac.brock@example.com"},
            "_links": {"self": {"href": "https://acme.okta.com/api/v1/users/00ub0oNGTSWTBKOLGLNR"}}
        }]}
    });
    // A user's grants for one client are `OAuth2ScopeConsentGrant` objects like the
    // user's grants in general (API.md §3.4), whose documented example this reuses.
    let mut per_client: Value = serde_json::from_str(
        &std::fs::read_to_string(okta_examples().join("list-user-grants.json"))
            .unwrap_or_else(|e| panic!("read: {e}")),
    )
    .unwrap_or_else(|e| panic!("json: {e}"));
    per_client["request"]["path"] = json!("/api/v1/users/{userId}/clients/{clientId}/grants");
    write_text(
        &rec.join("user-client-grants.json"),
        &serde_json::to_string_pretty(&per_client).unwrap_or_default(),
    );
    write_text(
        &rec.join("users.json"),
        &serde_json::to_string_pretty(&users).unwrap_or_default(),
    );
    rec
}

fn config(dir: &Path, base: &str, host: &str) -> PathBuf {
    write_text(&dir.join("okta-token"), "00a-replayed-token\n");
    let path = dir.join("replay.toml");
    write_text(
        &path,
        &format!(
            "[[tenant]]\nname = \"acme-okta\"\nconnector = \"okta\"\nsimulator = true\n\
             hosts = [\"{host}\"]\n\n[tenant.settings]\norg_url = \"{base}\"\n\n\
             [tenant.credential]\nkind = \"static-token\"\nscheme = \"SSWS\"\n\
             token_file = \"okta-token\"\n"
        ),
    );
    path
}

#[tokio::test]
async fn the_okta_connector_scans_the_documented_payloads_replayed() {
    scan_replayed(false).await;
}

/// The same, with the org URL naming the recorded host (`{replay}/acme.okta.com`):
/// recordings match on that host, and the `Link` headers keep naming it.
#[tokio::test]
async fn a_host_addressed_org_url_is_replayed_the_same() {
    scan_replayed(true).await;
}

async fn scan_replayed(host_addressed: bool) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let rec = recordings(dir.path());
    let replay = Replay::load(&rec).unwrap_or_else(|e| panic!("load: {e}"));
    let replay = replay
        .start("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let base = if host_addressed {
        format!("{}/acme.okta.com", replay.base_url())
    } else {
        replay.base_url()
    };
    let config = config(dir.path(), &base, &replay.addr().to_string());

    let mut cmd = grantscope(dir.path());
    cmd.arg("--db").arg(dir.path().join("g.db"));
    cmd.args(["scan", "--json", "--config"]).arg(&config);
    let ran = run_async(cmd).await;
    ran.expect_code(0);
    let grants = ran.grants();
    let ids: BTreeSet<&str> = grants.iter().map(|g| g.id.as_str()).collect();

    // Every documented grant and integration reached the inventory, under its own id.
    let want = [
        local_ids("list-app-grants.json", "app-grant"),
        local_ids("list-api-service-integrations.json", "api-service"),
    ]
    .concat();
    for id in &want {
        assert!(ids.contains(id.as_str()), "{id} is missing from {ids:#?}");
    }
    // Every call the connector made was answered from a recording.
    let report = replay.report();
    assert!(report.misses.is_empty(), "{:#?}", report.misses);
    assert_eq!(report.missed, 0);
    assert!(report.served > 0);
    // The user's documented grants and refresh token, reached through the `{userId}`
    // and `{clientId}` placeholders, are there too, each attributed to the user.
    let of_user = [
        local_ids("list-user-grants.json", "user-grant"),
        local_ids("list-user-client-refresh-tokens.json", "refresh-token"),
    ]
    .concat();
    for id in &of_user {
        let g = grants
            .iter()
            .find(|g| &g.id == id)
            .unwrap_or_else(|| panic!("{id} is missing from {ids:#?}"));
        assert_eq!(g.principal.id, "isaac.brock@example.com", "{id}");
    }
    let used: BTreeSet<&str> = report
        .hits
        .iter()
        .filter(|h| h.hits > 0)
        .map(|h| h.file.as_str())
        .collect();
    for file in [
        "users.json",
        "okta/list-apps.json",
        "okta/list-app-grants.json",
        "okta/list-user-clients.json",
        "user-client-grants.json",
    ] {
        assert!(used.contains(file), "{file} was never served: {used:?}");
    }
    replay.shutdown().await;
}

#[tokio::test]
async fn sim_replay_reports_misses_and_refuses_bad_folders() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let rec = recordings(dir.path());

    // The command prints the usual line, answers from the folder, and lists what no
    // recording matched when it stops.
    let mut cmd = grantscope(dir.path());
    cmd.args(["sim", "--replay"]).arg(&rec);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let base = line
        .trim()
        .strip_prefix("grantscope-sim listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    // reqwest is built without a default crypto provider (plain http needs none, but
    // the builder wants a process default to exist).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let apps = client
        .get(format!("{base}/api/v1/apps?limit=200"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET: {e}"));
    assert_eq!(apps.status(), 200);
    // Okta's `Link` header named the real org; it now leads back to the replay.
    let link = apps
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(link.contains(&format!("<{base}/api/v1/apps")), "{link}");
    let served = apps.bytes().await.unwrap_or_else(|e| panic!("body: {e}"));
    let served: Value = serde_json::from_slice(&served).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(
        served.as_array().map(Vec::len),
        Some(body("list-apps.json").len())
    );
    let miss = client
        .delete(format!("{base}/api/v1/apps/0oa1"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("DELETE: {e}"));
    assert_eq!(miss.status(), 404);
    #[allow(clippy::cast_possible_wrap)]
    let pid = child.id() as i32;
    // SIGTERM: a clean stop that prints the summary.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no recording for DELETE /api/v1/apps/0oa1"),
        "{stderr}"
    );
    assert!(stderr.contains("1 requests answered"), "{stderr}");

    // A JSON file that is not a recording is named, not skipped.
    write_text(&rec.join("okta/scopes.json"), "{\"scopes\": []}");
    let mut cmd = grantscope(dir.path());
    cmd.args(["sim", "--replay"]).arg(&rec);
    let ran = run_async(cmd).await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("scopes.json: not a recording"),
        "{}",
        ran.stderr
    );

    // An empty folder, and flags that mean nothing to a replay, are refused.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let mut cmd = grantscope(dir.path());
    cmd.args(["sim", "--replay"]).arg(&empty);
    let ran = run_async(cmd).await;
    assert!(ran.stderr.contains("holds no recording"), "{}", ran.stderr);
    let mut cmd = grantscope(dir.path());
    cmd.args(["sim", "--seed", "3", "--replay"]).arg(&rec);
    let ran = run_async(cmd).await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("cannot be used with"), "{}", ran.stderr);
}
