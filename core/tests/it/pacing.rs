//! Pacing at the providers' quotas (issue 13, parts 1-3): the simulator's advertised
//! quota is adopted and never exceeded, the operator's `[tenant.quotas]` are checked
//! against the connector's classes, and a provider that stops answering ends the
//! tenant's scan at once with one error instead of minutes of retries.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use grantscope::config::Config;
use grantscope_sim::{Provider, SimOptions};

use crate::support::{Fixture, check_scans};

/// A scan that goes as fast as the simulator lets it never hits the simulator's
/// limit: the host adopts the advertised `RateLimit-Policy` and paces under it.
#[tokio::test]
async fn the_advertised_quota_is_paced_under_and_never_exceeded() {
    let f = Fixture::start_with(SimOptions {
        seed: 11,
        users: 300,
        providers: vec![Provider::GoogleWorkspace],
        // Well above the Directory API's documented 40/s, so the adopted policy
        // is what paces, and low enough that an unpaced scan of 16 in flight
        // would overrun it at once.
        rate: NonZeroU32::new(60),
        ..SimOptions::default()
    })
    .await;
    let config = f.config_with("[scan]\nconcurrency = 16\n");
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());
    let stats = f.sim.stats();
    assert!(stats.requests > 300, "{stats:?}");
    assert_eq!(stats.throttled, 0, "the host overran the quota: {stats:?}");
    assert_eq!(scans[0].throttled, 0, "{:?}", scans[0]);
}

/// `[tenant.quotas]` sets a class's rate; a name that is no class of the connector
/// is refused with the names there are, rather than silently ignored.
#[tokio::test]
async fn tenant_quotas_name_the_connectors_classes() {
    let f = Fixture::start_providers(11, 40, 0.0, &[Provider::GoogleWorkspace]).await;
    let text = f.config_text();
    let with = |quotas: &str| {
        let text = format!("{text}\n[tenant.quotas]\n{quotas}\n");
        Config::parse(&text, &f.config_path, f.dir.path())
            .unwrap_or_else(|e| panic!("config: {e}\n{text}"))
    };

    let raised = with("directory = \"6000/min\"");
    assert_eq!(raised.tenants.len(), 1);
    let scans = f.scan(&raised).await;
    check_scans(&scans, &f.sim.truth());

    let typo = with("directroy = \"6000/min\"");
    let scans = f.scan(&typo).await;
    assert!(!scans[0].complete);
    let error = &scans[0].failures[0].error;
    assert!(
        error.contains("`directroy`") && error.contains("directory"),
        "the error names the typo and the classes: {error}"
    );
    assert_eq!(scans[0].requests, 0, "nothing was sent: {:?}", scans[0]);

    let bad = format!("{text}\n[tenant.quotas]\ndirectory = \"fast\"\n");
    let err = Config::parse(&bad, &f.config_path, f.dir.path())
        .err()
        .unwrap_or_else(|| panic!("`fast` is not a rate"));
    assert!(err.to_string().contains("directory"), "{err}");
}

/// A server that answers every request with a 503 and counts them.
async fn unavailable_server() -> (SocketAddr, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move || {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "{\"ok\":false,\"error\":\"service_unavailable\"}",
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

/// A provider that only answers 503 opens the tenant's circuit after
/// `breaker_failures` answers: the scan ends with one "unreachable since" failure,
/// having sent no more than the failures that opened it and those already in flight.
#[tokio::test]
async fn a_provider_that_stopped_answering_ends_the_scan_with_one_error() {
    let f = Fixture::start_providers(12, 40, 0.0, &[Provider::Slack]).await;
    let (dead, hits) = unavailable_server().await;
    let live = f
        .sim
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let text = f.config_text().replace(&live, &dead.to_string());
    assert!(text.contains(&dead.to_string()), "{text}");
    let concurrency = 4;
    let failures = 5;
    let text = format!(
        "{text}\n[limits]\nbreaker_failures = {failures}\n\n[scan]\nconcurrency = {concurrency}\n"
    );
    let config = Config::parse(&text, &f.config_path, f.dir.path())
        .unwrap_or_else(|e| panic!("config: {e}\n{text}"));
    let scans = f.scan(&config).await;
    let scan = &scans[0];
    assert!(!scan.complete, "{scan:?}");
    let unreachable: Vec<_> = scan
        .failures
        .iter()
        .filter(|x| x.error.contains("unreachable since"))
        .collect();
    assert_eq!(unreachable.len(), 1, "{:?}", scan.failures);
    assert_eq!(scan.failures.len(), 1, "{:?}", scan.failures);
    let sent = hits.load(Ordering::Relaxed);
    assert!(
        (failures..=failures + concurrency).contains(&sent),
        "{sent} requests reached the dead provider"
    );
    // Nothing of the live simulator was touched.
    assert_eq!(f.sim.stats().requests, 0);
}
