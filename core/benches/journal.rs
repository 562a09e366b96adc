//! What exactly-once costs: the revocation journal's writes around each revocation, and
//! journaling a large plan in a store that already holds earlier runs. Every write is
//! its own SQLite transaction with an audit-log entry, committed before the request it
//! guards leaves. Method and figures: BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use grantscope::catalog::Catalog;
use grantscope::model::{GrantRecord, RevocationTarget};
use grantscope::store::{ActionState, Store};

#[path = "support/synth.rs"]
#[allow(
    dead_code,
    reason = "the scoring benchmark uses the vendors, this one only grants"
)]
mod synth;

/// Actions in one plan: a vendor with a grant in every corner of a large estate.
const ACTIONS: usize = 2_000;
/// Earlier runs in the store before the measured one (each of `ACTIONS` actions).
const EARLIER_RUNS: usize = 25;

fn plan(grants: &[GrantRecord], tag: &str) -> Vec<(GrantRecord, RevocationTarget)> {
    grants
        .iter()
        .map(|g| {
            let mut g = g.clone();
            g.id = format!("{}#{tag}", g.id);
            let target = RevocationTarget {
                action: "delete-grant".to_owned(),
                handle: g.id.clone(),
            };
            (g, target)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}"));
    let grants = synth::grants(&catalog, ACTIONS, 42);
    // On the target directory's file system, not a tmpfs: commits must reach a disk
    // as they do for a user.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut store =
        Store::open(&dir.path().join("journal.db")).unwrap_or_else(|e| panic!("store: {e}"));
    let summary = serde_json::json!({ "actions": ACTIONS });
    for i in 0..EARLIER_RUNS {
        store
            .create_run(
                "vendor:earlier",
                "h",
                &plan(&grants, &i.to_string()),
                &summary,
            )
            .unwrap_or_else(|e| panic!("history: {e}"));
    }

    let mut group = c.benchmark_group("journal");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));

    // A new plan of 2,000 grants over 50,000 journaled actions: one transaction that
    // inserts every action after asking whether an earlier run touched its grant.
    group.throughput(Throughput::Elements(ACTIONS as u64));
    let mut n = 0_u64;
    group.bench_function("create_run_2000_over_50000", |b| {
        b.iter_batched(
            || {
                n += 1;
                plan(&grants, &format!("new{n}"))
            },
            |actions| {
                black_box(
                    store
                        .create_run("vendor:new", "h", &actions, &summary)
                        .unwrap_or_else(|e| panic!("create: {e}")),
                )
            },
            BatchSize::LargeInput,
        );
    });

    // The bookkeeping around one revocation: `in_flight` before the request leaves,
    // the outcome after; two commits and two audit entries.
    let run = store
        .create_run("vendor:steps", "h", &plan(&grants, "steps"), &summary)
        .unwrap_or_else(|e| panic!("create: {e}"));
    // Executing needs the run's lease: the start is a compare-and-set on the action's
    // state and the lease, as in a real run.
    let approval = serde_json::json!({ "how": "--yes" });
    let _lease = store
        .claim_run(run, Duration::from_secs(600), Some(&approval))
        .unwrap_or_else(|e| panic!("claim: {e}"));
    group.throughput(Throughput::Elements(1));
    let mut seq = 0_i64;
    let mut touched = vec![false; ACTIONS + 1];
    group.bench_function("action_started_and_settled", |b| {
        b.iter(|| {
            seq = seq % ACTIONS as i64 + 1;
            // Each action is settled `ambiguous`, so the compare-and-set has a known
            // state to expect when the iterations come round to it again.
            let slot = &mut touched[seq as usize];
            let expected = if *slot {
                ActionState::Ambiguous
            } else {
                ActionState::Pending
            };
            *slot = true;
            store
                .action_started(run, seq, expected)
                .unwrap_or_else(|e| panic!("started: {e}"));
            store
                .action_settled(
                    run,
                    seq,
                    ActionState::Ambiguous,
                    "no clear answer (HTTP 502)",
                    &[],
                    "revocation.response",
                )
                .unwrap_or_else(|e| panic!("settled: {e}"));
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
