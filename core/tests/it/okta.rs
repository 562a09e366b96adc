//! End-to-end tests of the Okta connector against its simulator: the real connector
//! (wasm) in the real host, a `private_key_jwt` client-credentials token (and an SSWS
//! API token), `Link` paging, per-user tasks, and revocation that deletes grants and
//! tokens and deactivates vendor-owned apps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};

use grantscope::config::Config;
use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope_sim::Provider;

use crate::support::{
    Fixture, Target, assert_same_records, by_id, check_scans, grants, ids, read_text,
};

/// The seed and size of the acceptance run.
const SEED: u64 = 12;
const USERS: u32 = 400;
/// The simulated org's rate limits are generous; the host's default 20 requests per
/// second would only make these tests slow.
const FAST: &str = "[limits]\nrequests_per_second = 400\n";

async fn fixture(faults: f64) -> Fixture {
    Fixture::start_providers(SEED, USERS, faults, &[Provider::Okta]).await
}

#[tokio::test]
async fn scan_with_a_private_key_jwt_service_app_equals_the_truth() {
    let f = fixture(0.0).await;
    assert!(
        f.config_text().contains("kind = \"client-credentials\""),
        "the simulator writes the private_key_jwt credential by default"
    );
    let config = f.config_with(FAST);
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let found = grants(&scans);
    for kind in [
        "app-grant:",
        "user-grant:",
        "refresh-token:",
        "api-service:",
    ] {
        assert!(
            found.iter().any(|g| g.id.contains(kind)),
            "no {kind} grant in the scan"
        );
    }
    // One task per user, so the host runs the per-user sweep concurrently.
    assert!(
        scans[0].tasks > u64::from(USERS),
        "{} tasks",
        scans[0].tasks
    );
}

#[tokio::test]
async fn scan_under_faults_equals_the_truth() {
    let f = fixture(0.2).await;
    let config = f.config_with(FAST);
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let stats = f.sim.stats();
    assert!(stats.faults > 0, "{stats:?}");
    assert!(stats.throttled > 0, "429 E0000047 answers were injected");
}

#[tokio::test]
async fn scan_with_an_ssws_token_equals_the_truth() {
    let f = fixture(0.0).await;
    let text = f.config_text();
    let (head, _) = text
        .split_once("[tenant.credential]")
        .unwrap_or_else(|| panic!("no credential block in\n{text}"));
    let ssws = format!(
        "{head}[tenant.credential]\nkind = \"static-token\"\n\
         token_file = \"grantscope.keys/okta-api-token\"\nscheme = \"SSWS\"\n\n{FAST}"
    );
    let path = f.path("ssws.toml");
    crate::support::write_text(&path, &ssws);
    let config = Config::load(&path).unwrap_or_else(|e| panic!("config: {e}"));
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
}

/// `GET {org}/api/v1/apps` with the SSWS token, over plain HTTP/1.1: the simulator
/// hands out client secrets there as Okta can.
fn client_secrets(addr: std::net::SocketAddr, token: &str) -> Vec<String> {
    let mut stream =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let request = format!(
        "GET /okta/api/v1/apps?limit=200&includeNonDeleted=true HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: SSWS {token}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("send: {e}"));
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let apps: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("apps: {e}\n{raw}"));
    apps.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.pointer("/credentials/oauthClient/client_secret"))
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn client_secrets_from_the_app_list_reach_no_record() {
    let f = fixture(0.0).await;
    let token = read_text(&f.path("grantscope.keys/okta-api-token"));
    let addr = f.sim.addr();
    let secrets = tokio::task::spawn_blocking(move || client_secrets(addr, &token))
        .await
        .unwrap_or_else(|e| panic!("secrets: {e}"));
    assert!(!secrets.is_empty(), "the simulator serves client secrets");
    let config = f.config_with(FAST);
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let everything = format!(
        "{}{:?}",
        serde_json::to_string(&grants(&scans)).unwrap_or_default(),
        scans
    );
    for s in &secrets {
        assert!(!everything.contains(s.as_str()), "a client secret leaked");
    }
}

fn handle(g: &GrantRecord) -> serde_json::Value {
    let r = g.revocation.as_ref().unwrap_or_else(|| panic!("{}", g.id));
    serde_json::from_str(&r.handle).unwrap_or_else(|e| panic!("{}: {e}", g.id))
}

#[tokio::test]
async fn revoking_every_grant_of_one_app_removes_exactly_those() {
    let f = fixture(0.0).await;
    let config = f.config_with(FAST);
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    // A vendor-owned app whose users hold both consent grants and refresh tokens: every
    // revocation also deactivates it.
    let mut by_app: BTreeMap<&str, Vec<&GrantRecord>> = BTreeMap::new();
    for g in &found {
        by_app.entry(g.app.id.as_str()).or_default().push(g);
    }
    let (app_id, app_grants) = by_app
        .iter()
        .filter(|(_, gs)| {
            let actions: BTreeSet<&str> = gs
                .iter()
                .filter_map(|g| g.revocation.as_ref().map(|r| r.action.as_str()))
                .collect();
            actions.contains("user-grant")
                && actions.contains("refresh-token")
                && gs.iter().all(|g| handle(g)["deactivate_app"] == true)
        })
        .min_by_key(|(_, gs)| gs.len())
        .unwrap_or_else(|| panic!("no vendor-owned app with consents and tokens"));
    // And, of other apps, one API service integration and one okta.* scope grant of a
    // service app the tenant does not list as vendor-owned.
    let api_service = found
        .iter()
        .find(|g| g.id.contains("/api-service:"))
        .unwrap_or_else(|| panic!("no API service integration"));
    let scope_grant = found
        .iter()
        .find(|g| {
            g.id.contains("/app-grant:")
                && g.app.id != *app_id
                && handle(g)["deactivate_app"] == false
                && g.app.name != "grantscope auditor"
        })
        .unwrap_or_else(|| panic!("no scope grant of an internal service app"));
    let mut revoked: Vec<&GrantRecord> = app_grants.clone();
    revoked.push(api_service);
    revoked.push(scope_grant);

    for grant in &revoked {
        let t = Target::new(&runtime, &config, grant).await;
        assert!(t.present().await, "{} is present before", grant.id);
        let first = t.revoke().await;
        assert_eq!(first.status, RevocationStatus::Revoked, "{first:?}");
        assert!(!t.present().await, "{} is gone after revoking", grant.id);
        let second = t.revoke().await;
        assert_eq!(second.status, RevocationStatus::AlreadyGone, "{second:?}");
    }

    // Each grant target was addressed exactly twice; the deactivation, a call on the
    // app with its own target, ran once: later revokes read the app and found it
    // inactive already.
    let stats = f.sim.stats();
    let got: BTreeMap<&str, u64> = stats
        .revocations
        .iter()
        .map(|r| (r.target.as_str(), r.calls))
        .collect();
    let deactivation = format!("okta/acme-okta/app-deactivation:{app_id}");
    let mut want: BTreeMap<&str, u64> = revoked.iter().map(|g| (g.id.as_str(), 2)).collect();
    want.insert(&deactivation, 1);
    assert_eq!(got, want);

    // A rescan misses exactly the revoked grants; everything else is identical.
    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let want_gone: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    assert_eq!(gone, want_gone, "exactly the revoked grants are missing");
    let mut expected = by_id(&found);
    for g in &revoked {
        expected.remove(&g.id);
    }
    assert_same_records("rescan", &by_id(&grants(&after)), &expected);
}
