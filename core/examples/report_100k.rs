//! Writes the reports of 100,000 synthetic grants (`benches/support/synth.rs`) as HTML,
//! JSON, JSON lines, CSV and Markdown, and prints each file's size and the time it took, for
//! BENCHMARKS.md:
//!
//! ```text
//! cargo build --release -p grantscope --example report_100k
//! /usr/bin/time -v target/release/examples/report_100k [DIR] [GRANTS]
//! ```
//!
//! The files go to `DIR` (default: `grantscope-report-100k` in the temporary
//! directory) and stay there, so the HTML can be opened in a browser afterwards.
//! Scores stay compact, as `grantscope report` keeps them: each format writes a
//! grant's sentences out when it reaches the grant.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measuring tool: its output is the point"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use grantscope::catalog::Catalog;
use grantscope::report::{self, Format, ReportMeta, ReportOptions, Scores};
use grantscope::score::{GroupBy, Policy, Scorer};

#[path = "../benches/support/synth.rs"]
mod synth;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || std::env::temp_dir().join("grantscope-report-100k"),
        PathBuf::from,
    );
    let n: usize = match args.next().map(|a| a.parse()) {
        None => 100_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("error: GRANTS must be a number: {e}");
            return ExitCode::from(2);
        }
    };
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
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let grants = synth::grants(&catalog, n, 42);
    let vendors = synth::vendors();
    let scorer = Scorer::new(&catalog, &policy, synth::NOW);
    let scores = scorer.score_all(&grants, &vendors);
    let mut meta = ReportMeta::new(synth::NOW);
    meta.vendors = scorer.aggregate_by(GroupBy::Vendor, &grants, &vendors);
    meta.apps = scorer.aggregate_by(GroupBy::App, &grants, &vendors);
    println!(
        "{n} grants built and scored in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    for format in [
        Format::Html,
        Format::Json,
        Format::Jsonl,
        Format::Csv,
        Format::Markdown,
    ] {
        let path = dir.join(format!("report.{}", format.extension()));
        let start = Instant::now();
        let written = std::fs::File::create(&path)
            .map_err(report::ReportError::Write)
            .and_then(|mut file| {
                report::render_scored(
                    format,
                    &grants,
                    Scores::Compact {
                        scorer: &scorer,
                        scores: &scores,
                    },
                    &meta,
                    &ReportOptions::default(),
                    &mut file,
                )
            });
        if let Err(e) = written {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        let took = start.elapsed();
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!(
            "{format}: {:.1} MB ({bytes} bytes, {:.0} per grant) in {:.2} s: {}",
            bytes as f64 / 1e6,
            bytes as f64 / n.max(1) as f64,
            took.as_secs_f64(),
            path.display()
        );
    }
    ExitCode::SUCCESS
}
