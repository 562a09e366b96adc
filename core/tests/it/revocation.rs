//! Revoking through the connector removes exactly the grant it names, at the
//! provider and then in the inventory.

use std::collections::BTreeSet;

use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope::store::Store;

use crate::support::{Fixture, Target, assert_same_records, by_id, check_scans, grants, ids};

fn pick<'a>(grants: &'a [GrantRecord], action: &str) -> &'a GrantRecord {
    grants
        .iter()
        .find(|g| g.revocation.as_ref().is_some_and(|r| r.action == action))
        .unwrap_or_else(|| panic!("no grant is revoked by `{action}`"))
}

#[tokio::test]
async fn revoking_one_grant_removes_exactly_that_grant() {
    let f = Fixture::start(7, 100, 0.0).await;
    let config = f.config();
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    let revoked = [
        pick(&found, "credential-authorization"),
        pick(&found, "pat-grant"),
    ];
    for grant in revoked {
        let t = Target::new(&runtime, &config, grant).await;
        assert!(t.present().await, "{} is present before", grant.id);
        let first = t.revoke().await;
        assert_eq!(first.status, RevocationStatus::Revoked, "{first:?}");
        assert!(!t.present().await, "{} is gone after revoking", grant.id);
        let second = t.revoke().await;
        assert_eq!(second.status, RevocationStatus::AlreadyGone, "{second:?}");
    }
    let stats = f.sim.stats();
    let targets: Vec<(&str, u64)> = stats
        .revocations
        .iter()
        .map(|r| (r.target.as_str(), r.calls))
        .collect();
    let mut want: Vec<(&str, u64)> = revoked.iter().map(|g| (g.id.as_str(), 2)).collect();
    want.sort();
    assert_eq!(
        targets, want,
        "each target is addressed exactly twice (revoke, revoke again), nothing else"
    );

    // An installation cannot be removed through the API: the answer says where a
    // person does it, and nothing is sent to the provider.
    let installation = pick(&found, "installation");
    let html_url = installation
        .attributes
        .get("html_url")
        .unwrap_or_else(|| panic!("{} has no html_url", installation.id));
    let t = Target::new(&runtime, &config, installation).await;
    let requests = f.sim.stats().requests;
    let manual = t.revoke().await;
    assert_eq!(
        manual.status,
        RevocationStatus::ManualRequired,
        "{manual:?}"
    );
    assert!(
        manual
            .manual_steps
            .iter()
            .any(|s| s.contains(html_url.as_str())),
        "no step names {html_url}: {manual:?}"
    );
    let after_manual = f.sim.stats();
    assert_eq!(after_manual.requests, requests, "no provider call");
    assert_eq!(after_manual.revocations, stats.revocations);
    assert!(t.present().await, "the installation is still there");

    // A rescan misses exactly the two revoked grants; everything else is identical.
    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let mut expected = by_id(&found);
    for g in revoked {
        expected.remove(&g.id);
    }
    let rescanned = by_id(&grants(&after));
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let want_gone: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    assert_eq!(gone, want_gone, "exactly the revoked grants are missing");
    assert_same_records("rescan", &rescanned, &expected);

    // Recording the complete rescan removes exactly those two from the inventory.
    let mut store = Store::open(&f.path("inventory.db")).unwrap_or_else(|e| panic!("{e}"));
    let first = store
        .record_scan(&before)
        .unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!((first.added, first.removed), (found.len() as u64, 0));
    let second = store
        .record_scan(&after)
        .unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!((second.added, second.removed), (0, 2));
    let live = store.live_grants().unwrap_or_else(|e| panic!("{e}"));
    assert_same_records("live inventory", &by_id(&live), &expected);
    assert_eq!(
        store.scan_counts().unwrap_or_else(|e| panic!("{e}")),
        (2, 2)
    );
}
