//! Nothing is lost: a partial, interrupted or failed recording never removes what
//! the last good scan stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use grantscope::scan::{Progress, TenantScan};
use grantscope::store::Store;
use tokio::sync::Notify;

use crate::support::{Fixture, assert_same_records, by_id, check_scans, check_subset, grants};

/// Signals once a task has returned grants.
struct FirstGrants {
    seen: Notify,
    fired: AtomicBool,
}

impl Progress for FirstGrants {
    fn task_done(&self, _: &str, _: u64, _: u64, grants: u64) {
        if grants > 0 && !self.fired.swap(true, Ordering::Relaxed) {
            self.seen.notify_one();
        }
    }

    fn tenant_done(&self, _: &TenantScan) {}
}

fn open(f: &Fixture) -> Store {
    Store::open(&f.path("inventory.db")).unwrap_or_else(|e| panic!("open store: {e}"))
}

#[tokio::test]
async fn partial_and_interrupted_scans_never_remove_anything() {
    let f = Fixture::start(7, 100, 0.0).await;
    let config = f.config();
    let truth = f.sim.truth();
    let good = f.scan(&config).await;
    check_scans(&good, &truth);
    let mut store = open(&f);
    let recorded = store
        .record_scan(&good)
        .unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(recorded.added, grants(&good).len() as u64);
    let live = by_id(&store.live_grants().unwrap_or_else(|e| panic!("{e}")));
    assert_same_records("after the good scan", &live, &by_id(&grants(&good)));
    let counts = || store_counts(&f);

    // A partial scan: every request faults and nothing is retried.
    f.sim.set_faults(1.0);
    let strict = f.config_with("[limits]\nhttp_attempts = 1\n\n[scan]\ntask_attempts = 1\n");
    let partial = f.scan(&strict).await;
    assert!(
        partial
            .iter()
            .any(|s| !s.complete && !s.failures.is_empty()),
        "with every request faulting the scan cannot be complete"
    );
    check_subset(&grants(&partial), &truth);
    let recorded = store
        .record_scan(&partial)
        .unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!((recorded.added, recorded.removed), (0, 0));
    let after = by_id(&store.live_grants().unwrap_or_else(|e| panic!("{e}")));
    assert_same_records("after the partial scan", &after, &live);
    assert_eq!(counts(), (2, 1));

    // Interrupted scans record nothing: one stopped within a few milliseconds, one
    // stopped as soon as a task had returned grants.
    f.sim.set_faults(0.3);
    let interrupted = tokio::time::timeout(Duration::from_millis(5), f.scan(&config)).await;
    assert!(interrupted.is_err(), "the scan finished within 5 ms");
    let progress = FirstGrants {
        seen: Notify::new(),
        fired: AtomicBool::new(false),
    };
    let scan = f.scan_reporting(&config, &progress);
    tokio::select! {
        biased;
        () = progress.seen.notified() => {}
        scans = scan => panic!(
            "the scan finished before it could be interrupted ({} grants)",
            grants(&scans).len()
        ),
    }
    assert_eq!(counts(), (2, 1));

    // A recording that fails midway leaves the previous state. A trigger stands in
    // for a crash: it aborts the insert of the *second* tenant, after the first
    // tenant's grants were written and its missing grants marked removed; the
    // transaction must roll all of that back.
    let mut shrunk = good.clone();
    for s in &mut shrunk {
        s.grants.truncate(s.grants.len() / 2);
    }
    let second = shrunk[1].tenant.clone();
    let db = rusqlite::Connection::open(f.path("inventory.db"))
        .unwrap_or_else(|e| panic!("second connection: {e}"));
    db.execute_batch(&format!(
        "CREATE TRIGGER crash_midway BEFORE INSERT ON tenant_scans WHEN NEW.tenant = '{second}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
    ))
    .unwrap_or_else(|e| panic!("trigger: {e}"));
    let err = store
        .record_scan(&shrunk)
        .err()
        .map(|e| grantscope::error_chain(&e))
        .unwrap_or_else(|| panic!("the injected failure must fail the recording"));
    assert!(err.contains("injected failure"), "{err}");
    db.execute_batch("DROP TRIGGER crash_midway")
        .unwrap_or_else(|e| panic!("drop trigger: {e}"));
    drop(db);
    // A tenant named twice in one recording is refused before anything is written.
    let mut doubled = shrunk.clone();
    doubled.push(shrunk[0].clone());
    let err = store.record_scan(&doubled).err().map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("appears twice")),
        "{err:?}"
    );
    let after = by_id(&store.live_grants().unwrap_or_else(|e| panic!("{e}")));
    assert_same_records("after a failed recording", &after, &live);
    assert_eq!(counts(), (2, 1));

    // The store reopens with the same inventory.
    drop(store);
    let mut store = open(&f);
    let reopened = by_id(&store.live_grants().unwrap_or_else(|e| panic!("{e}")));
    assert_same_records("after reopening", &reopened, &live);
    assert_eq!(counts(), (2, 1));

    // Had that recording committed, it would have removed grants: the same scans,
    // recorded once each, do.
    let recorded = store
        .record_scan(&shrunk)
        .unwrap_or_else(|e| panic!("record: {e}"));
    let kept = grants(&shrunk).len();
    assert_eq!(recorded.removed as usize, live.len() - kept);
    assert_eq!(
        store.live_grants().unwrap_or_else(|e| panic!("{e}")).len(),
        kept
    );
    assert_eq!(counts(), (3, 2));
}

/// Scan counts as a second connection sees them (what is committed).
fn store_counts(f: &Fixture) -> (u64, u64) {
    open(f)
        .scan_counts()
        .unwrap_or_else(|e| panic!("scan counts: {e}"))
}
