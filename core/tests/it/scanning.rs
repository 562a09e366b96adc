//! A scan finds exactly what the provider holds, with and without a flaky provider.

use grantscope::config::ScanSettings;

use crate::support::{Fixture, check_scans};

#[tokio::test]
async fn scan_equals_truth() {
    let f = Fixture::start(7, 500, 0.0).await;
    let config = f.config();
    assert!(config.tenants.len() >= 2, "the simulator serves two orgs");
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
}

#[tokio::test]
async fn scan_equals_truth_with_faults() {
    // 2,000 members make about thirty requests a round, so at a 20% fault rate
    // the provider is all but certain to misbehave in every round.
    let f = Fixture::start(7, 2000, 0.2).await;
    let config = f.config();
    assert_eq!(
        config.scan.task_attempts,
        ScanSettings::default().task_attempts,
        "the host's default retries must absorb the faults"
    );
    let truth = f.sim.truth();
    for _ in 1..=2 {
        let scans = f.scan(&config).await;
        check_scans(&scans, &truth);
    }
    assert!(
        f.sim.stats().faults > 0,
        "no fault was injected, so the scans proved nothing"
    );
    // Scanning changes nothing at the provider.
    assert_eq!(f.sim.truth(), truth);
}
