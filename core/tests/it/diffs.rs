//! `grantscope diff` shows exactly what changed at the provider between two scans.

use std::collections::BTreeSet;

use grantscope::store::Store;

use crate::support::{Fixture, grantscope};

/// Asks the simulator to drift; returns its account of what changed.
async fn mutate(f: &Fixture, body: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!("{}/_sim/mutate", f.sim.base_url()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap_or_else(|e| panic!("mutate: {e}"));
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("mutation answer: {e}"))
}

fn id_set(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().or_else(|| x["id"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn diff_shows_exactly_the_drift() {
    let f = Fixture::start(5, 150, 0.0).await;
    let config = f.config();
    let mut store = Store::open(&f.path("g.db")).unwrap_or_else(|e| panic!("{e}"));
    let first = f.scan(&config).await;
    store.record_scan(&first).unwrap_or_else(|e| panic!("{e}"));

    let changed = mutate(&f, r#"{"seed": 3, "add": 3, "remove": 2, "widen": 2}"#).await;
    let second = f.scan(&config).await;
    let recorded = store.record_scan(&second).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recorded.added, 3);
    assert_eq!(recorded.removed, 2);

    let scans = store.scans().unwrap_or_else(|e| panic!("{e}"));
    let d = store
        .diff(scans[0].id, scans[1].id)
        .unwrap_or_else(|e| panic!("{e}"));
    let ids = |g: &[grantscope::model::GrantRecord]| -> BTreeSet<String> {
        g.iter().map(|g| g.id.clone()).collect()
    };
    assert_eq!(ids(&d.added), id_set(&changed["added"]));
    assert_eq!(ids(&d.removed), id_set(&changed["removed"]));
    let widened: BTreeSet<String> = d.changed.iter().map(|c| c.grant.id.clone()).collect();
    assert_eq!(widened, id_set(&changed["widened"]));
    for c in &d.changed {
        let want = changed["widened"]
            .as_array()
            .and_then(|w| w.iter().find(|x| x["id"] == c.grant.id.as_str()))
            .map(|x| x["scopes_added"].clone())
            .unwrap_or_default();
        assert_eq!(serde_json::to_value(&c.gained).ok(), Some(want));
        assert!(c.lost.is_empty());
    }
    assert!(d.partial.is_empty() && d.not_compared.is_empty());

    // The command line says the same, by default for the last two scans.
    let out = grantscope(f.dir.path())
        .arg("--db")
        .arg(f.path("g.db"))
        .args(["diff", "--json"])
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(id_set(&doc["added"]), id_set(&changed["added"]));
    assert_eq!(id_set(&doc["removed"]), id_set(&changed["removed"]));
}

#[tokio::test]
async fn a_partial_scan_reports_no_removals() {
    let f = Fixture::start(6, 60, 0.0).await;
    let config = f.config();
    let mut store = Store::open(&f.path("g.db")).unwrap_or_else(|e| panic!("{e}"));
    let first = f.scan(&config).await;
    store.record_scan(&first).unwrap_or_else(|e| panic!("{e}"));
    mutate(&f, r#"{"seed": 1, "remove": 3}"#).await;
    f.sim.set_faults(1.0);
    let flaky = f.config_with("[limits]\nhttp_attempts = 1\n[scan]\ntask_attempts = 1\n");
    let partial = f.scan(&flaky).await;
    assert!(partial.iter().any(|s| !s.complete));
    store
        .record_scan(&partial)
        .unwrap_or_else(|e| panic!("{e}"));
    let scans = store.scans().unwrap_or_else(|e| panic!("{e}"));
    let d = store
        .diff(scans[0].id, scans[1].id)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        d.removed.is_empty(),
        "absence in a partial scan is not removal"
    );
    assert!(!d.partial.is_empty());
    // And a diff against a scan that does not exist is a clear error.
    let err = store.diff(scans[0].id, 999).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("no scan 999")));
}
