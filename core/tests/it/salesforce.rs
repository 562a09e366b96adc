//! End-to-end tests of the Salesforce connector against its simulator: the real
//! connector (wasm) in the real host, JWT bearer flow, SOQL paging, revocation
//! through `DeleteToken` and `SetupEntityAccess` deletes.

use std::collections::BTreeSet;

use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope_sim::Provider;

use crate::support::{Fixture, Target, by_id, check_scans, grants, ids, scan_until_a_fault};

async fn fixture(users: u32, faults: f64) -> Fixture {
    Fixture::start_providers(12, users, faults, &[Provider::Salesforce]).await
}

#[tokio::test]
async fn scan_equals_truth() {
    let f = fixture(400, 0.0).await;
    let scans = f.scan(&f.config()).await;
    check_scans(&scans, &f.sim.truth());
    let found = grants(&scans);
    // Both kinds of grant, and both ways a token links to its app.
    assert!(found.iter().any(|g| g.id.contains("/setup-entity-access:")));
    let link = |g: &GrantRecord| g.attributes.get("app_link").cloned().unwrap_or_default();
    assert!(found.iter().any(|g| link(g) == "app-menu-item"));
    assert!(found.iter().any(|g| link(g) == "name"));
    assert!(
        found.iter().any(|g| g
            .attributes
            .get("name_matches")
            .is_some_and(|m| m.contains(','))),
        "an ambiguous app name is reported"
    );
}

#[tokio::test]
async fn scan_equals_truth_under_faults() {
    let f = fixture(400, 0.2).await;
    // A scan takes about ten requests: one round at 20% is unfaulted one time in ten.
    scan_until_a_fault(&f, &f.config(), &f.sim.truth()).await;
}

#[tokio::test]
async fn large_orgs_are_partitioned_by_app_name() {
    // Enough people for more than 2,000 token approvals: the connector counts first
    // and queries each app name on its own (the simulator stops a query at 2,500).
    let f = fixture(1_300, 0.0).await;
    let truth = f.sim.truth();
    let tokens = truth
        .grants
        .iter()
        .filter(|g| g.kind == "delegated")
        .count();
    assert!(tokens > 2_000, "only {tokens} tokens");
    let scans = f.scan(&f.config()).await;
    check_scans(&scans, &truth);
}

#[tokio::test]
async fn revoking_every_grant_of_one_app_removes_exactly_those() {
    let f = fixture(400, 0.0).await;
    let config = f.config();
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    // An admin-approved vendor app: it has both token grants and pre-authorizations.
    let app_id = found
        .iter()
        .filter(|g| g.id.contains("/setup-entity-access:"))
        .map(|g| g.app.id.clone())
        .find(|id| {
            found
                .iter()
                .any(|g| &g.app.id == id && g.id.contains("/oauth-token:"))
                && found
                    .iter()
                    .any(|g| &g.app.id == id && g.vendor.as_deref() != Some("grantscope"))
        })
        .unwrap_or_else(|| panic!("no admin-approved app with tokens"));
    let truth_vendor = f
        .sim
        .truth()
        .grants
        .iter()
        .find(|g| g.app.id == app_id)
        .and_then(|g| g.vendor.clone());
    assert_ne!(
        truth_vendor.as_deref(),
        Some("grantscope"),
        "not the auditor"
    );
    let revoked: Vec<&GrantRecord> = found.iter().filter(|g| g.app.id == app_id).collect();
    assert!(revoked.len() >= 2);

    for grant in &revoked {
        let t = Target::new(&runtime, &config, grant).await;
        assert!(t.present().await, "{} is present before", grant.id);
        let first = t.revoke().await;
        assert_eq!(first.status, RevocationStatus::Revoked, "{first:?}");
        assert!(
            first
                .manual_steps
                .iter()
                .any(|s| s.contains("Connected Apps OAuth Usage")),
            "the console-only block is listed: {first:?}"
        );
        assert!(!t.present().await, "{} is gone after revoking", grant.id);
        let second = t.revoke().await;
        assert_eq!(second.status, RevocationStatus::AlreadyGone, "{second:?}");
    }
    // Each target was mutated: tokens once (the second revoke finds no row and sends
    // nothing), pre-authorizations twice (the second DELETE answers 404).
    let stats = f.sim.stats();
    for grant in &revoked {
        let stat = stats
            .revocations
            .iter()
            .find(|r| r.target == grant.id)
            .unwrap_or_else(|| panic!("{} never reached the simulator", grant.id));
        let want = if grant.id.contains("/oauth-token:") {
            1
        } else {
            2
        };
        assert_eq!(stat.calls, want, "{}", grant.id);
        assert_eq!(stat.app_id, app_id);
    }
    assert_eq!(
        stats.revocations.len(),
        revoked.len(),
        "nothing else was touched"
    );

    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let want: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    assert_eq!(gone, want, "exactly the app's grants are missing");
    let mut expected = by_id(&found);
    for g in &revoked {
        expected.remove(&g.id);
    }
    assert_eq!(
        by_id(&grants(&after)).keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn delete_tokens_never_leave_the_connector() {
    let f = fixture(60, 0.0).await;
    let scans = f.scan(&f.config()).await;
    let found = grants(&scans);
    let text = serde_json::to_string(&found).unwrap_or_default();
    // The simulator's DeleteTokens start with the org id and a `!`.
    assert!(
        !text.contains("00D5g000008XYZaEAO!"),
        "a DeleteToken leaked"
    );
    for g in &found {
        if let Some(r) = &g.revocation {
            assert!(!r.handle.contains('!'), "{}", r.handle);
        }
    }
}
