//! Bytes per kept score, for BENCHMARKS.md: scores 1,000,000 synthetic grants
//! (`benches/support/synth.rs`) with `score_all` under a counting global allocator and
//! divides the heap the scores hold by their number; then does the same for the
//! written-out `Score`s (sentences and controls as strings, what the scorer kept for
//! every grant before scores became compact) of the first 100,000, and counts the
//! allocations of scoring one grant at a time.
//!
//! ```text
//! cargo run --release -p grantscope --example score_memory
//! ```

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measuring tool: its output is the point"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use grantscope::catalog::Catalog;
use grantscope::model::Score;
use grantscope::score::{Context, Policy, Scorer};

#[path = "../benches/support/synth.rs"]
mod synth;

const GRANTS: usize = 1_000_000;
const WRITTEN: usize = 100_000;

/// The system allocator, counting the bytes live and the calls made: the heap a value
/// holds is the difference in live bytes across building it.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// the counters are only arithmetic on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        let out = unsafe { System.realloc(ptr, layout, new_size) };
        if !out.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        out
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn calls() -> usize {
    CALLS.load(Ordering::Relaxed)
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
    let grants = synth::grants(&catalog, GRANTS, 42);
    let vendors = synth::vendors();
    let scorer = Scorer::new(&catalog, &policy, synth::NOW);
    println!(
        "grants: {GRANTS}, {:.0} bytes each on the heap with their Vec",
        live() as f64 / GRANTS as f64
    );

    // One at a time, each dropped: how often the scorer itself allocates.
    let ctx = Context::default();
    let (before, start) = (calls(), Instant::now());
    let mut sum = 0u64;
    for g in &grants {
        sum += u64::from(std::hint::black_box(scorer.score(g, &ctx)).value());
    }
    let each = start.elapsed();
    let each_calls = calls() - before;
    println!(
        "score each: {:.2} s, {:.0} grants/s, {each_calls} allocations ({:.3} per grant), mean value {:.1}",
        each.as_secs_f64(),
        GRANTS as f64 / each.as_secs_f64(),
        each_calls as f64 / GRANTS as f64,
        sum as f64 / GRANTS as f64
    );

    // Every score kept, as a report does.
    let before = live();
    let start = Instant::now();
    let scores = scorer.score_all(&grants, &vendors);
    let all = start.elapsed();
    let kept = live() - before;
    println!(
        "score_all (kept): {:.2} s, {kept} bytes for {} scores: {:.1} bytes per kept score (size_of {})",
        all.as_secs_f64(),
        scores.len(),
        kept as f64 / scores.len() as f64,
        std::mem::size_of_val(&scores[0])
    );

    // The same scores written out, as they were kept before.
    let before = live();
    let start = Instant::now();
    let written: Vec<Score> = grants
        .iter()
        .zip(&scores)
        .take(WRITTEN)
        .map(|(g, s)| scorer.explain(s, g))
        .collect();
    let took = start.elapsed();
    let bytes = live() - before;
    println!(
        "written out (first {}): {:.2} s, {:.1} bytes per score",
        written.len(),
        took.as_secs_f64(),
        bytes as f64 / written.len() as f64
    );
    ExitCode::SUCCESS
}
