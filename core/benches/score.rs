//! Blast-radius scoring throughput over 1,000,000 synthetic grants built from the real
//! catalogs (`support/synth.rs`): one grant at a time with a given context (the compact
//! score alone, and written out with its sentences), the whole estate with `score_all`
//! (sharing counts and vendor lookup included, every compact score kept), and the
//! vendor aggregate. Method and figures: BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grantscope::catalog::Catalog;
use grantscope::score::{Context, GroupBy, Policy, Scorer};

#[path = "support/synth.rs"]
mod synth;

const GRANTS: usize = 1_000_000;

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}"));
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("policy: {e}"));
    let grants = synth::grants(&catalog, GRANTS, 42);
    let vendors = synth::vendors();
    let scorer = Scorer::new(&catalog, &policy, synth::NOW);

    let mut group = c.benchmark_group("score_1m");
    group.throughput(Throughput::Elements(GRANTS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("score_each", |b| {
        let ctx = Context::default();
        b.iter(|| {
            for g in &grants {
                black_box(scorer.score(black_box(g), &ctx));
            }
        });
    });
    // What a report pays per row it shows, and what every score cost before scores
    // became compact: the score written out with its sentences and controls.
    group.bench_function("score_each_explained", |b| {
        let ctx = Context::default();
        b.iter(|| {
            for g in &grants {
                black_box(scorer.score_explained(black_box(g), &ctx));
            }
        });
    });
    // Every score kept, as a report does; dropping the million scores is left out of
    // the timing.
    group.bench_function("score_all", |b| {
        b.iter_with_large_drop(|| scorer.score_all(black_box(&grants), &vendors));
    });
    group.bench_function("aggregate_by_vendor", |b| {
        b.iter(|| black_box(scorer.aggregate_by(GroupBy::Vendor, black_box(&grants), &vendors)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
