//! End-to-end tests of the Google Workspace connector (wasm, in the real host) against its
//! simulator: the service account's JWT bearer assertion, the per-user token, password and
//! audit-log tasks, and revocation of every grant of one OAuth client.

use std::collections::BTreeSet;

use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope_sim::Provider;

use crate::support::{Fixture, Target, assert_same_records, by_id, check_scans, grants, ids};

/// The world: seed 11, 400 users.
const SEED: u64 = 11;
const USERS: u32 = 400;
/// The default 20 requests per second would make each scan take about a minute.
const FAST: &str = "[limits]\nrequests_per_second = 400\n\n[scan]\nconcurrency = 16\n";

#[tokio::test]
async fn scan_equals_the_truth() {
    let f = Fixture::start_providers(SEED, USERS, 0.0, &[Provider::GoogleWorkspace]).await;
    let text = f.config_text();
    assert!(text.contains("kind = \"jwt-bearer\""), "{text}");
    let config = f.config_with(FAST);
    let scans = f.scan(&config).await;
    let truth = f.sim.truth();
    check_scans(&scans, &truth);
    let found = grants(&scans);
    assert!(
        found.len() > 400,
        "a realistic tenant: {} grants",
        found.len()
    );
    // Both kinds, times from the audit log where it has them and none where it does not.
    for kind in ["delegated", "api_key"] {
        assert!(found.iter().any(|g| crate::support::wire(g.kind) == kind));
    }
    assert!(found.iter().any(|g| g.created_at.is_none()));
    assert!(found.iter().any(|g| g.last_used_at.is_some()));
    // No secret material and no access token in any record.
    let json = serde_json::to_string(&found).unwrap_or_default();
    assert!(
        !json.contains("ya29."),
        "an access token leaked into a record"
    );
}

#[tokio::test]
async fn scan_equals_the_truth_despite_faults() {
    let f = Fixture::start_providers(SEED, USERS, 0.2, &[Provider::GoogleWorkspace]).await;
    let config = f.config_with(FAST);
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let stats = f.sim.stats();
    assert!(stats.faults > 0, "{stats:?}");
    assert!(stats.throttled > 0, "{stats:?}");
}

#[tokio::test]
async fn revoking_one_client_removes_exactly_its_grants() {
    let f = Fixture::start_providers(SEED, 120, 0.0, &[Provider::GoogleWorkspace]).await;
    let config = f.config_with(FAST);
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    // The vendor client with the most users: one grant per user, each its own DELETE.
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for g in found
        .iter()
        .filter(|g| g.app.id.ends_with(".apps.googleusercontent.com"))
    {
        *counts.entry(g.app.id.as_str()).or_default() += 1;
    }
    let (client, n) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| ((*c).to_owned(), *n))
        .unwrap_or_else(|| panic!("no OAuth client in the scan"));
    assert!(n >= 2, "{client} has {n} grants");
    let revoked: Vec<&GrantRecord> = found.iter().filter(|g| g.app.id == client).collect();
    for grant in &revoked {
        let t = Target::new(&runtime, &config, grant).await;
        assert!(t.present().await, "{} is present before", grant.id);
        let first = t.revoke().await;
        assert_eq!(first.status, RevocationStatus::Revoked, "{first:?}");
        assert!(
            first.manual_steps.iter().any(|s| s.contains("Blocked")),
            "the answer says how to stop re-consent: {first:?}"
        );
        assert!(!t.present().await, "{} is gone after revoking", grant.id);
        let second = t.revoke().await;
        assert_eq!(second.status, RevocationStatus::AlreadyGone, "{second:?}");
    }
    let stats = f.sim.stats();
    let mut want: Vec<(String, u64, String)> = revoked
        .iter()
        .map(|g| (g.id.clone(), 2, client.clone()))
        .collect();
    want.sort();
    let got: Vec<(String, u64, String)> = stats
        .revocations
        .iter()
        .map(|r| (r.target.clone(), r.calls, r.app_id.clone()))
        .collect();
    assert_eq!(
        got, want,
        "each grant addressed exactly twice, nothing else"
    );

    // An app-specific password is revoked the same way.
    let asp = found
        .iter()
        .find(|g| g.revocation.as_ref().is_some_and(|r| r.action == "asp"))
        .unwrap_or_else(|| panic!("no app-specific password in the scan"));
    let t = Target::new(&runtime, &config, asp).await;
    assert_eq!(t.revoke().await.status, RevocationStatus::Revoked);
    assert!(!t.present().await);

    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let mut expected = by_id(&found);
    for g in &revoked {
        expected.remove(&g.id);
    }
    expected.remove(&asp.id);
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let mut want_gone: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    want_gone.insert(asp.id.clone());
    assert_eq!(gone, want_gone, "exactly the revoked grants are missing");
    assert_same_records("rescan", &by_id(&grants(&after)), &expected);
}
