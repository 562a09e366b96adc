//! Scores 1,000,000 synthetic grants in one process, for the whole-process time and
//! peak-memory figure in BENCHMARKS.md:
//!
//! ```text
//! cargo build --release -p grantscope --example score_million
//! /usr/bin/time -v target/release/examples/score_million
//! ```
//!
//! It builds the grants (`benches/support/synth.rs`), scores them all with `score_all`
//! (keeping every score, as a report does), aggregates by vendor, and prints the timings
//! and the tier counts.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measuring tool: its output is the point"
)]

use std::process::ExitCode;
use std::time::Instant;

use grantscope::catalog::Catalog;
use grantscope::model::Tier;
use grantscope::score::{Context, GroupBy, Policy, Scorer};

#[path = "../benches/support/synth.rs"]
mod synth;

const GRANTS: usize = 1_000_000;

/// Resident memory now, in MiB (Linux `/proc`; `None` elsewhere).
fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn mib(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_owned(), |m| format!("{m} MiB"))
}

fn main() -> ExitCode {
    let (catalog, policy) = match (Catalog::builtin(), Policy::builtin()) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(e), _) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let grants = synth::grants(&catalog, GRANTS, 42);
    let vendors = synth::vendors();
    let built = start.elapsed();
    let rss_built = rss_mib();

    let scorer = Scorer::new(&catalog, &policy, synth::NOW);
    // One at a time, each score dropped: the scorer's own cost.
    let start = Instant::now();
    let ctx = Context::default();
    let mut sum = 0u64;
    for g in &grants {
        sum += u64::from(scorer.score(g, &ctx).value());
    }
    let streamed = start.elapsed();

    // All at once, every score kept, as a report does.
    let start = Instant::now();
    let scores = scorer.score_all(&grants, &vendors);
    let scored = start.elapsed();
    let rss_scored = rss_mib();

    let start = Instant::now();
    let rows = scorer.aggregate_by(GroupBy::Vendor, &grants, &vendors);
    let aggregated = start.elapsed();

    let mut tiers = [0usize; 4];
    for s in &scores {
        tiers[s.tier() as usize] += 1;
    }
    let rate = |d: std::time::Duration| GRANTS as f64 / d.as_secs_f64();
    println!(
        "grants built: {GRANTS} in {:.2} s (resident {})",
        built.as_secs_f64(),
        mib(rss_built)
    );
    println!(
        "score each (dropped): {:.2} s ({:.0} grants/s, mean value {:.1})",
        streamed.as_secs_f64(),
        rate(streamed),
        sum as f64 / GRANTS as f64
    );
    println!(
        "score_all (kept): {:.2} s ({:.0} grants/s, resident {})",
        scored.as_secs_f64(),
        rate(scored),
        mib(rss_scored)
    );
    println!(
        "aggregate_by vendor: {} rows in {:.2} s",
        rows.len(),
        aggregated.as_secs_f64()
    );
    println!(
        "tiers: critical {} high {} medium {} low {}",
        tiers[Tier::Critical as usize],
        tiers[Tier::High as usize],
        tiers[Tier::Medium as usize],
        tiers[Tier::Low as usize]
    );
    ExitCode::SUCCESS
}
