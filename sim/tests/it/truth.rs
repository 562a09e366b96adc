//! Ground truth equals what the API serves, mapped per `connectors/github/README.md`.

use std::collections::BTreeMap;

use grantscope_sim::{SimOptions, Simulator, Truth, TruthApp, TruthGrant, TruthPrincipal};
use serde_json::Value;

use crate::common::JsonResponse as _;
use crate::common::{self, Harness, utc};

fn perms(p: &Value) -> Vec<String> {
    p.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}:{}", v.as_str().expect("level")))
        .collect()
}

fn opt_time(v: &Value) -> Option<String> {
    v.as_str().map(utc)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().expect("scope").to_owned())
        .collect()
}

/// An independent implementation of the README mapping (the connector's job).
async fn scan(h: &Harness, org: &str) -> Vec<TruthGrant> {
    let token = h.token(org).await;
    let mut out = Vec::new();
    let grant =
        |local: String, app: (String, String), principal: (&str, String), kind: &str| TruthGrant {
            id: format!("github/{org}/{local}"),
            provider: "github".into(),
            tenant: org.into(),
            app: TruthApp {
                id: app.0,
                name: app.1,
            },
            principal: TruthPrincipal {
                kind: principal.0.into(),
                id: principal.1,
            },
            kind: kind.into(),
            scopes: Vec::new(),
            created_at: None,
            last_used_at: None,
            vendor: None,
        };
    for i in h
        .get_all(&format!("/orgs/{org}/installations?per_page=100"), &token)
        .await
    {
        let mut scopes = perms(&i["permissions"]);
        scopes.sort();
        out.push(TruthGrant {
            scopes,
            created_at: opt_time(&i["created_at"]),
            ..grant(
                format!("installation:{}", i["id"]),
                (
                    i["app_id"].to_string(),
                    i["app_slug"].as_str().expect("slug").into(),
                ),
                ("tenant", org.into()),
                "installation",
            )
        });
    }
    for c in h
        .get_all(
            &format!("/orgs/{org}/credential-authorizations?per_page=100"),
            &token,
        )
        .await
    {
        let (kind, app_id, app_name) = match c["credential_type"].as_str().expect("type") {
            "personal access token" => (
                "personal_token",
                "personal-access-token",
                "Classic personal access token",
            ),
            "SSH key" => ("api_key", "ssh-key", "SSH key"),
            "OAuth app token" => (
                "delegated",
                "unidentified-oauth-app",
                "OAuth app (GitHub does not name it)",
            ),
            "GitHub app token" => (
                "delegated",
                "unidentified-github-app",
                "GitHub App user token (GitHub does not name the app)",
            ),
            other => panic!("unknown credential type {other}"),
        };
        out.push(TruthGrant {
            scopes: {
                let mut s = strings(&c["scopes"]);
                s.sort();
                s.dedup();
                s
            },
            created_at: opt_time(&c["credential_authorized_at"]),
            last_used_at: opt_time(&c["credential_accessed_at"]),
            ..grant(
                format!("credential-authorization:{}", c["credential_id"]),
                (app_id.into(), app_name.into()),
                ("user", c["login"].as_str().expect("login").into()),
                kind,
            )
        });
    }
    for g in h
        .get_all(
            &format!("/orgs/{org}/personal-access-tokens?per_page=100"),
            &token,
        )
        .await
    {
        let p = &g["permissions"];
        let mut scopes: Vec<String> = ["organization", "repository", "other"]
            .iter()
            .flat_map(|k| perms(&p[*k]))
            .collect();
        scopes.sort();
        out.push(TruthGrant {
            scopes,
            created_at: opt_time(&g["access_granted_at"]),
            last_used_at: opt_time(&g["token_last_used_at"]),
            ..grant(
                format!("pat-grant:{}", g["id"]),
                (
                    "fine-grained-pat".into(),
                    "Fine-grained personal access token".into(),
                ),
                ("user", g["owner"]["login"].as_str().expect("login").into()),
                "personal_token",
            )
        });
    }
    out
}

fn without_vendor(t: &Truth) -> BTreeMap<String, TruthGrant> {
    t.grants
        .iter()
        .map(|g| {
            (
                g.id.clone(),
                TruthGrant {
                    vendor: None,
                    ..g.clone()
                },
            )
        })
        .collect()
}

#[tokio::test]
async fn truth_equals_what_the_api_serves() {
    let h = common::start(21, 120).await;
    let mut scanned = scan(&h, "acme-corp").await;
    scanned.extend(scan(&h, "acme-labs").await);
    let truth = h.sim.truth();
    let scanned: BTreeMap<String, TruthGrant> =
        scanned.into_iter().map(|g| (g.id.clone(), g)).collect();
    let want = without_vendor(&truth);
    for (id, g) in &want {
        assert_eq!(scanned.get(id), Some(g), "{id}");
    }
    assert_eq!(scanned.len(), want.len());

    // Vendors: every app-held grant names a synthetic vendor; people's own credentials
    // (classic and fine-grained PATs, SSH keys) do not. The auditor is a vendor too.
    for g in &truth.grants {
        let app_held = g.kind == "installation" || g.kind == "delegated";
        assert_eq!(g.vendor.is_some(), app_held, "{}", g.id);
        assert!(
            g.created_at
                .as_deref()
                .is_some_and(|t| t.ends_with('Z') && t.len() == 20),
            "{}",
            g.id
        );
    }
    let auditor: Vec<_> = truth
        .grants
        .iter()
        .filter(|g| g.app.id == "900001")
        .collect();
    assert_eq!(auditor.len(), 2);
    assert!(
        auditor.iter().all(
            |g| g.vendor.as_deref() == Some("grantscope") && g.app.name == "grantscope-auditor"
        )
    );
    let vendors: std::collections::HashSet<_> = truth
        .grants
        .iter()
        .filter_map(|g| g.vendor.as_deref())
        .collect();
    assert!(vendors.len() >= 4, "{vendors:?}");
    // Suspended installations are still listed, and still grants.
    let insts = h
        .get_all("/orgs/acme-corp/installations", &h.token("acme-corp").await)
        .await;
    let suspended = insts
        .iter()
        .find(|i| !i["suspended_at"].is_null())
        .expect("a suspended installation");
    assert!(suspended["suspended_by"]["login"].is_string());
    assert!(want.contains_key(&format!(
        "github/acme-corp/installation:{}",
        suspended["id"]
    )));

    // The same truth over HTTP and on disk.
    let over_http: Truth = h
        .http
        .get(h.url("/_sim/truth"))
        .send()
        .await
        .expect("truth")
        .json()
        .await
        .expect("json");
    assert_eq!(over_http, truth);
    let path = h.dir.path().join("truth.json");
    h.sim.write_truth(&path).expect("written");
    let on_disk: Truth =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_eq!(on_disk, truth);
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let first = &raw["grants"][0];
    for key in [
        "id",
        "provider",
        "tenant",
        "app",
        "principal",
        "kind",
        "scopes",
        "created_at",
        "last_used_at",
        "vendor",
    ] {
        assert!(first.get(key).is_some(), "truth JSON has {key}");
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_gives_the_same_truth_and_another_seed_does_not() {
    let truth = |seed: u64, users: u32| {
        Simulator::new(SimOptions {
            seed,
            users,
            providers: vec![grantscope_sim::Provider::Github],
            ..SimOptions::default()
        })
        .expect("valid")
        .truth()
    };
    let a = truth(42, 80);
    assert_eq!(a, truth(42, 80));
    assert_ne!(a, truth(43, 80));
    assert_ne!(a, truth(42, 81));
    // Starting a simulator does not change the world it was built from.
    let h = common::start(42, 80).await;
    assert_eq!(h.sim.truth(), a);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_large_tenant_builds_quickly_enough() {
    let started = std::time::Instant::now();
    let sim = Simulator::new(SimOptions {
        users: 20_000,
        ..SimOptions::default()
    })
    .expect("valid");
    let truth = sim.truth();
    assert!(truth.grants.len() > 20_000, "{}", truth.grants.len());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
