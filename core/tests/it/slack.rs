//! End-to-end tests of the Slack connector against its simulator: the real wasm
//! connector in the real host, over HTTP on loopback.

use std::collections::{BTreeMap, BTreeSet};

use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope_sim::Provider;

use crate::support::{Fixture, Target, by_id, check_scans, grants, ids, scan_until_a_fault};

/// The seed and size of the CLI check.
const SEED: u64 = 12;
const USERS: u32 = 400;

#[tokio::test]
async fn scan_equals_truth_without_faults() {
    let f = Fixture::start_providers(SEED, USERS, 0.0, &[Provider::Slack]).await;
    let config = f.config();
    let scans = f.scan(&config).await;
    let truth = f.sim.truth();
    assert!(
        truth.grants.len() > 20,
        "a sizeable org: {}",
        truth.grants.len()
    );
    check_scans(&scans, &truth);
    let found = grants(&scans);
    // Every kind of grant the README maps is there.
    for action in ["installation", "org-approval", "service"] {
        assert!(
            found
                .iter()
                .any(|g| g.revocation.as_ref().is_some_and(|r| r.action == action)),
            "no `{action}` grant"
        );
    }
}

#[tokio::test]
async fn scan_equals_truth_with_faults() {
    let f = Fixture::start_providers(SEED, USERS, 0.2, &[Provider::Slack]).await;
    scan_until_a_fault(&f, &f.config(), &f.sim.truth()).await;
}

#[tokio::test]
async fn revoking_every_grant_of_one_app_removes_exactly_those() {
    let f = Fixture::start_providers(SEED, USERS, 0.0, &[Provider::Slack]).await;
    let config = f.config();
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    // An app with an org-level approval and installations, so both revocation paths
    // and their interplay (the restriction ends the approval) are exercised.
    let mut by_app: BTreeMap<&str, Vec<&GrantRecord>> = BTreeMap::new();
    for g in &found {
        by_app.entry(g.app.id.as_str()).or_default().push(g);
    }
    let action = |g: &GrantRecord| g.revocation.as_ref().map(|r| r.action.clone());
    let (app_id, revoked) = by_app
        .iter()
        .filter(|(_, gs)| {
            gs.len() <= 4
                && gs
                    .iter()
                    .any(|g| action(g).as_deref() == Some("org-approval"))
                && gs
                    .iter()
                    .any(|g| action(g).as_deref() == Some("installation"))
        })
        .map(|(a, gs)| (a.to_string(), gs.clone()))
        .next()
        .unwrap_or_else(|| panic!("no app with an org approval and an installation"));

    let mut targets = Vec::new();
    for g in &revoked {
        let t = Target::new(&runtime, &config, g).await;
        assert!(t.present().await, "{} is present before", g.id);
        targets.push(t);
    }
    for t in &targets {
        let first = t.revoke().await;
        // Revoking an installation restricts the app org-wide, which ends its
        // org-level approval; an org-level uninstall removes every installation.
        assert!(
            matches!(
                first.status,
                RevocationStatus::Revoked | RevocationStatus::AlreadyGone
            ),
            "{first:?}"
        );
        assert!(!t.present().await, "{} is gone after revoking", t.grant_id);
    }
    for t in &targets {
        let second = t.revoke().await;
        assert_eq!(second.status, RevocationStatus::AlreadyGone, "{second:?}");
    }

    // Each grant's uninstall is addressed exactly twice (revoke, revoke again); the
    // idempotent restriction is counted under its own target, once per revoke.
    let stats = f.sim.stats();
    let counted: BTreeMap<&str, u64> = stats
        .revocations
        .iter()
        .map(|r| (r.target.as_str(), r.calls))
        .collect();
    let restriction = format!("slack/acme-slack/app-restriction:{app_id}");
    let mut want: BTreeMap<&str, u64> = revoked.iter().map(|g| (g.id.as_str(), 2)).collect();
    want.insert(restriction.as_str(), 2 * revoked.len() as u64);
    assert_eq!(counted, want);

    // A rescan misses exactly that app's grants.
    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let want_gone: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    assert_eq!(gone, want_gone, "exactly the app's grants are missing");
    let mut expected = by_id(&found);
    for g in &revoked {
        expected.remove(&g.id);
    }
    assert_eq!(
        by_id(&grants(&after)).keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );

    // A legacy integration cannot be removed through the API: no call is sent.
    if let Some(service) = found
        .iter()
        .find(|g| action(g).as_deref() == Some("service"))
    {
        let t = Target::new(&runtime, &config, service).await;
        let requests = f.sim.stats().requests;
        let manual = t.revoke().await;
        assert_eq!(
            manual.status,
            RevocationStatus::ManualRequired,
            "{manual:?}"
        );
        assert_eq!(f.sim.stats().requests, requests, "no provider call");
        assert!(t.present().await);
    }
}
