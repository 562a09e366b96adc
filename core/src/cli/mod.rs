//! The command line.
//!
//! **Architecture invariant:** this module alone prints to stdout and alone uses
//! `anyhow`. Exit codes (documented in README.md): 0 success, 1 findings at or
//! above `--fail-on` (reserved for `report`), 2 error, 3 partial scan.
//!
//! **Architecture invariant:** every third-party string printed as text — anything
//! from a grant, a provider, a connector or its manifest, the vendor registry or
//! the journal — goes through [`Shown`] (errors through [`ShownLines`]), so no
//! control, C1 or bidirectional formatting character reaches the terminal raw.
//! JSON output is escaped by serde_json instead.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod govern;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, TenantConfig};
use crate::model::{GrantRecord, Tier};
use crate::plugin::Runtime;
use crate::report;
use crate::scan::{Progress, TenantScan, scan_tenants};
use crate::store::Store;
use crate::text::{Shown, ShownLines};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: error (bad input, unreachable store, ...).
pub const EXIT_ERROR: u8 = 2;
/// Exit code: the scan is partial (some task or tenant failed); what was found is
/// still recorded and printed.
pub const EXIT_PARTIAL: u8 = 3;

/// Audit, score and revoke third-party OAuth grants across SaaS tenants.
#[derive(Debug, Parser)]
#[command(name = "grantscope", version, about, max_term_width = 100)]
pub struct Cli {
    /// The inventory store (SQLite file). Default: `[store] path` in the config,
    /// else the platform data directory.
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enumerate the grants in every configured tenant and record them.
    Scan(ScanArgs),
    /// Run the provider simulator (synthetic tenants on loopback).
    Sim(SimArgs),
    /// No credentials needed: simulate, scan and summarise.
    Demo(DemoArgs),
    /// Score the live inventory and write a report (json, jsonl, csv, md, html).
    Report(ReportArgs),
    /// New, removed and widened grants between two scans (default: the last two).
    Diff(DiffArgs),
    /// Inspect connector plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Verify or export the append-only, hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The vendor registry: list, show, set, unmapped apps, findings.
    Vendors(govern::VendorsArgs),
    /// Plan (default) or execute (`--execute`) the revocation of every grant a vendor
    /// holds, across every tenant; exactly once, journaled, verified by a rescan.
    Offboard(govern::OffboardArgs),
    /// Evaluate the config's [[policy]] rules: a plan by default, revocation with
    /// `--execute`.
    Enforce(govern::RunArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain, and the store against it (SQLite's quick_check, an
    /// entry for every scan and run, the scans' grant digests, the inventory rows);
    /// exit 2 naming the first tampered entry and every other problem.
    Verify {
        /// An anchor printed by an earlier `verify` (`SEQ:HASH`), kept outside the
        /// store: detects entries removed from the end, which the chain alone cannot.
        #[arg(long, value_name = "SEQ:HASH", value_parser = crate::audit::parse_anchor)]
        anchor: Option<(i64, String)>,
    },
    /// Write the log as JSON lines (one entry per line) for a SIEM.
    Export {
        /// Write here instead of stdout (`-`: stdout). A file is replaced atomically
        /// (a new one is created 0600); a device or FIFO is written in place.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Configuration file (for `[store] path`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = report::Format::Json)]
    format: report::Format,
    /// Write here instead of stdout (`-`: stdout). A file is replaced atomically (a
    /// new one is created 0600); a device or FIFO is written in place.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Leave out grants below this tier (and unscored ones).
    #[arg(long, value_name = "TIER", value_parser = report::parse_tier)]
    min_tier: Option<Tier>,
    /// Exit 1 when any grant is at or above this tier.
    #[arg(long, value_name = "TIER", value_parser = report::parse_tier)]
    fail_on: Option<Tier>,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The earlier scan id.
    #[arg(requires = "to")]
    from: Option<i64>,
    /// The later scan id.
    to: Option<i64>,
    /// List the recorded scans instead.
    #[arg(long, conflicts_with = "from")]
    list: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Scan only this tenant (repeatable).
    #[arg(long, value_name = "NAME")]
    tenant: Vec<String>,
    /// Print `{"grants": [...], "tenants": [...]}` instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed of the synthetic world.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Members of the main simulated organisation.
    #[arg(long, default_value_t = 50)]
    users: u32,
    /// Probability of an injected fault per request (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Requests per second one credential may make to one provider (advertised in
    /// `RateLimit-Policy`, enforced with 429s); 0 for no quota.
    #[arg(long, default_value_t = grantscope_sim::DEFAULT_RATE.get())]
    rate: u32,
    /// Write a config for the simulated tenants here.
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
    /// Write the ground truth (every grant) here.
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Serve only these providers (comma-separated ids, e.g. `github,okta`); all by
    /// default.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    providers: Option<Vec<grantscope_sim::Provider>>,
    /// Serve the recorded request/response pairs (`*.json`) in DIR instead of a
    /// synthetic world, e.g. a provider's `examples/` folder.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["seed", "users", "faults", "rate", "write_config", "truth", "providers"]
    )]
    replay: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Directory for the demo's config, store and grants.
    #[arg(long, default_value = "grantscope-demo")]
    out: PathBuf,
    /// Members of the simulated organisation.
    #[arg(long, default_value_t = 200)]
    users: u32,
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// List the built-in connectors and the ones a config names.
    List {
        /// Configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Show a connector's manifest: hosts, credentials, permissions.
    Inspect {
        /// A built-in connector id or a .wasm path.
        connector: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            // The chain quotes ids, names and connector messages; our own messages
            // may span lines (an example config), so line breaks are kept.
            eprintln!("error: {}", ShownLines(&format!("{e:#}")));
            EXIT_ERROR
        }
    }
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_env("GRANTSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(args) => scan(cli.db, args).await,
        Command::Sim(args) => sim(args).await,
        Command::Demo(args) => demo(cli.db, args).await,
        Command::Report(args) => report_cmd(cli.db, &args),
        Command::Diff(args) => diff(cli.db, &args),
        Command::Plugins(cmd) => plugins(cmd).await,
        Command::Audit(cmd) => audit(cli.db, &cmd),
        Command::Vendors(args) => govern::vendors(cli.db, args),
        Command::Offboard(args) => govern::offboard(cli.db, args).await,
        Command::Enforce(args) => govern::enforce(cli.db, args).await,
    }
}

fn store_path(db: Option<PathBuf>, config: Option<&Config>) -> Result<PathBuf> {
    if let Some(p) = db.or_else(|| config.and_then(|c| c.store_path.clone())) {
        return Ok(p);
    }
    crate::config::default_data_dir()
        .map(|d| d.join("grantscope.db"))
        .context("no store path: pass --db PATH or set [store] path in the config")
}

async fn scan(db: Option<PathBuf>, args: ScanArgs) -> Result<u8> {
    let config = Config::load(&args.config)?;
    let tenants = select_tenants(&config, &args.tenant)?;
    let mut store = Store::open(&store_path(db, Some(&config))?)?;
    let mut scans = run_scans(&config, &tenants).await?;
    let recorded = store.record_scan(&scans)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        score_scans(&mut scans, Some(&config))?;
        print_json(&mut out, &scans)?;
    } else {
        print_summary(&mut out, &scans, recorded.added, recorded.removed)?;
    }
    Ok(exit_for(&scans))
}

/// Scores every grant of `scans` (across tenants, so shared apps count together).
fn score_scans(scans: &mut [TenantScan], config: Option<&Config>) -> Result<()> {
    let lens: Vec<usize> = scans.iter().map(|s| s.grants.len()).collect();
    let mut all: Vec<GrantRecord> = scans
        .iter_mut()
        .flat_map(|s| std::mem::take(&mut s.grants))
        .collect();
    score(&mut all, config)?;
    let mut rest = all.into_iter();
    for (s, n) in scans.iter_mut().zip(lens) {
        s.grants = rest.by_ref().take(n).collect();
    }
    Ok(())
}

/// Opens the inventory for a command that reads and writes it; a missing file is an
/// error that says what to run, not an empty store created by accident.
pub(super) fn open_existing_store(
    db: Option<PathBuf>,
    config: Option<&Config>,
) -> Result<(PathBuf, Store)> {
    let path = existing_store_path(db, config)?;
    let store = Store::open(&path)?;
    Ok((path, store))
}

/// Opens the inventory read-only for a command that only reads it: nothing is
/// migrated or written, and no file is created next to it.
pub(super) fn open_store_read_only(
    db: Option<PathBuf>,
    config: Option<&Config>,
) -> Result<(PathBuf, Store)> {
    let path = existing_store_path(db, config)?;
    let store = Store::open_read_only(&path)?;
    Ok((path, store))
}

fn existing_store_path(db: Option<PathBuf>, config: Option<&Config>) -> Result<PathBuf> {
    let path = store_path(db, config)?;
    if !path.exists() {
        bail!(
            "no inventory at {}: run `grantscope scan` first (or pass --db)",
            path.display()
        );
    }
    Ok(path)
}

fn select_tenants(config: &Config, names: &[String]) -> Result<Vec<TenantConfig>> {
    if config.tenants.is_empty() {
        bail!("the config defines no tenant: add a [[tenant]] section");
    }
    if names.is_empty() {
        return Ok(config.tenants.clone());
    }
    // A tenant named twice is scanned once: the store records one scan per tenant.
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .map(|n| {
            config
                .tenants
                .iter()
                .find(|t| &t.name == n)
                .cloned()
                .with_context(|| {
                    format!(
                        "no tenant `{n}` in the config; it defines {}",
                        config
                            .tenants
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
        })
        .collect()
}

/// Scans `tenants` with a progress bar on a terminal, log lines otherwise.
async fn run_scans(config: &Config, tenants: &[TenantConfig]) -> Result<Vec<TenantScan>> {
    let runtime = Runtime::new(
        &config.limits,
        config.cache_dir_or_default(),
        crate::scan::capacity(config, tenants),
    )?;
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Logged)
    };
    let scans = scan_tenants(&runtime, config, tenants, progress.as_ref()).await;
    drop(progress);
    Ok(scans)
}

fn exit_for(scans: &[TenantScan]) -> u8 {
    if scans.iter().all(|s| s.complete) {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }
}

fn print_json(out: &mut impl Write, scans: &[TenantScan]) -> Result<()> {
    let grants: Vec<&GrantRecord> = scans.iter().flat_map(|s| &s.grants).collect();
    let doc = serde_json::json!({ "grants": grants, "tenants": scans });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn print_summary(
    out: &mut impl Write,
    scans: &[TenantScan],
    added: u64,
    removed: u64,
) -> Result<()> {
    writeln!(
        out,
        "{:<24} {:<16} {:>7} {:>7} {:>8} {:>9}  status",
        "tenant", "provider", "grants", "tasks", "requests", "throttled"
    )?;
    for s in scans {
        let status = if s.complete {
            "complete".to_owned()
        } else {
            format!("PARTIAL ({} failed)", s.failures.len())
        };
        writeln!(
            out,
            "{:<24} {:<16} {:>7} {:>7} {:>8} {:>9}  {status}",
            Shown(&s.tenant),
            Shown(&s.provider),
            s.grants.len(),
            s.tasks,
            s.requests,
            s.throttled
        )?;
    }
    writeln!(
        out,
        "\nnew in the inventory: {added}; removed (complete scans only): {removed}"
    )?;
    let failures: Vec<_> = scans
        .iter()
        .flat_map(|s| s.failures.iter().map(move |f| (s, f)))
        .collect();
    if !failures.is_empty() {
        writeln!(out, "\nfailures:")?;
        for (s, f) in failures.iter().take(20) {
            writeln!(out, "  {}: {}", Shown(&s.tenant), Shown(&f.error))?;
        }
        if failures.len() > 20 {
            writeln!(out, "  … and {} more", failures.len() - 20)?;
        }
    }
    Ok(())
}

/// A progress bar on stderr.
struct Bar {
    bar: indicatif::ProgressBar,
    tenants: Mutex<BTreeMap<String, (u64, u64, u64)>>,
}

impl Bar {
    fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning [{bar:30}] {pos}/{len} tasks  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Bar {
            bar,
            tenants: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Progress for Bar {
    fn task_done(&self, tenant: &str, done: u64, known: u64, grants: u64) {
        let mut t = self
            .tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        t.insert(tenant.to_owned(), (done, known, grants));
        let (d, k, g) = t
            .values()
            .fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
        self.bar.set_length(k);
        self.bar.set_position(d);
        self.bar.set_message(format!("{g} grants"));
    }

    fn tenant_done(&self, scan: &TenantScan) {
        self.bar.println(format!(
            "{} {}: {}{}",
            if scan.complete { "✓" } else { "✗" },
            Shown(&scan.tenant),
            crate::plural(scan.grants.len(), "grant", "grants"),
            if scan.complete {
                String::new()
            } else {
                format!(
                    ", {}",
                    crate::plural(scan.failures.len(), "failure", "failures")
                )
            }
        ));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Structured log lines instead of a bar.
struct Logged;

impl Progress for Logged {
    fn task_done(&self, tenant: &str, done: u64, known: u64, grants: u64) {
        if done.is_multiple_of(50) {
            tracing::info!(tenant, done, known, grants, "scan progress");
        }
    }

    fn tenant_done(&self, scan: &TenantScan) {
        for f in &scan.failures {
            tracing::warn!(
                tenant = %Shown(&scan.tenant),
                call = %Shown(&f.call),
                "{}",
                Shown(&f.error)
            );
        }
        tracing::info!(
            tenant = %Shown(&scan.tenant),
            grants = scan.grants.len(),
            tasks = scan.tasks,
            complete = scan.complete,
            "tenant scanned"
        );
    }
}

/// What scoring the inventory produced besides the scores themselves.
struct Scored {
    /// Per-vendor blast radius.
    by_vendor: Vec<crate::score::Aggregate>,
    /// Per-app blast radius.
    by_app: Vec<crate::score::Aggregate>,
    /// The registry the grants were mapped with, when the config names one.
    registry: Option<crate::vendor::Registry>,
}

impl Scored {
    /// The registry's governance findings about `grants` as of today; `None` without
    /// a registry (a report then says nothing rather than "no findings").
    fn governance(&self, grants: &[GrantRecord]) -> Option<Vec<crate::vendor::Finding>> {
        let today = time::OffsetDateTime::now_utc().date();
        self.registry.as_ref().map(|r| r.findings(grants, today))
    }
}

/// What scoring needs besides the grants: the built-in catalogs and policy plus what
/// the config's `[scoring]` adds or replaces, and the config's vendor registry with the
/// facts it gives.
struct Scoring {
    catalog: crate::catalog::Catalog,
    policy: crate::score::Policy,
    registry: Option<crate::vendor::Registry>,
    vendors: crate::score::Vendors,
}

impl Scoring {
    /// The registry's governance findings about `grants` as of today; `None` without
    /// a registry (a report then says nothing rather than "no findings").
    fn governance(&self, grants: &[GrantRecord]) -> Option<Vec<crate::vendor::Finding>> {
        let today = time::OffsetDateTime::now_utc().date();
        self.registry.as_ref().map(|r| r.findings(grants, today))
    }
}

/// Loads what scoring needs and maps `grants` to vendors with the config's registry.
fn scoring(grants: &mut [GrantRecord], config: Option<&Config>) -> Result<Scoring> {
    let mut catalog = crate::catalog::Catalog::builtin()?;
    let mut policy = crate::score::Policy::builtin()?;
    if let Some(c) = config {
        for (path, text) in &c.scoring_catalogs {
            catalog.add_json(text, &path.display().to_string())?;
        }
        if let Some((path, text)) = &c.scoring_policy {
            policy = crate::score::Policy::from_toml(text, &path.display().to_string())?;
        }
    }
    // Grants are mapped to vendors when read, so an edited registry applies at once.
    let registry = config
        .and_then(|c| c.vendor_registry.as_deref())
        .map(crate::vendor::Registry::load)
        .transpose()?;
    let vendors = match &registry {
        Some(registry) => {
            registry.map(grants)?;
            registry.facts()
        }
        None => crate::score::Vendors::new(),
    };
    Ok(Scoring {
        catalog,
        policy,
        registry,
        vendors,
    })
}

/// Scores `grants` in place as of now (each grant's `score` written out, for commands
/// that print the records), after mapping them to vendors; returns the vendor and app
/// aggregates (each the union of what its grants reach) and the registry.
fn score(grants: &mut [GrantRecord], config: Option<&Config>) -> Result<Scored> {
    let s = scoring(grants, config)?;
    let scorer = crate::score::Scorer::new(&s.catalog, &s.policy, time::OffsetDateTime::now_utc());
    let scores = scorer.score_all(grants, &s.vendors);
    let by_vendor = scorer.aggregate_by(crate::score::GroupBy::Vendor, grants, &s.vendors);
    let by_app = scorer.aggregate_by(crate::score::GroupBy::App, grants, &s.vendors);
    let written: Vec<crate::model::Score> = grants
        .iter()
        .zip(&scores)
        .map(|(g, s)| scorer.explain(s, g))
        .collect();
    drop(scores);
    for (g, w) in grants.iter_mut().zip(written) {
        g.score = Some(w);
    }
    Ok(Scored {
        by_vendor,
        by_app,
        registry: s.registry,
    })
}

/// Writes what `render` produces to `out`, an `--out` argument: `-` is stdout;
/// anything else goes through [`crate::files::Output`] (a regular file is replaced
/// through a private temporary file in its directory, so a failure never leaves half
/// a report or a stray file behind; a device or FIFO is written in place).
fn write_out(out: &Path, render: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if out == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        render(&mut stdout)?;
        stdout.flush()?;
        return Ok(());
    }
    let mut file = crate::files::Output::create(out)?;
    render(&mut file)?;
    file.commit()?;
    Ok(())
}

fn report_cmd(db: Option<PathBuf>, args: &ReportArgs) -> Result<u8> {
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let (_, store) = open_store_read_only(db, config.as_ref())?;
    let mut grants = store.live_grants()?;
    // Scores stay compact; each format writes a grant's sentences out as it reaches
    // the grant, so a large inventory is never held with every sentence at once.
    let scoring = scoring(&mut grants, config.as_ref())?;
    let scorer = crate::score::Scorer::new(
        &scoring.catalog,
        &scoring.policy,
        time::OffsetDateTime::now_utc(),
    );
    let scores = scorer.score_all(&grants, &scoring.vendors);
    let mut meta = report::ReportMeta::new(time::OffsetDateTime::now_utc());
    meta.governance = scoring.governance(&grants);
    meta.vendors = scorer.aggregate_by(crate::score::GroupBy::Vendor, &grants, &scoring.vendors);
    meta.apps = scorer.aggregate_by(crate::score::GroupBy::App, &grants, &scoring.vendors);
    meta.tenants = store
        .latest_tenant_scans()?
        .into_iter()
        .map(
            |(tenant, provider, finished, complete)| report::TenantStatus {
                tenant,
                provider,
                last_scan_at: Some(finished),
                complete,
            },
        )
        .collect();
    let options = report::ReportOptions {
        min_tier: args.min_tier,
        ..Default::default()
    };
    let with = report::Scores::Compact {
        scorer: &scorer,
        scores: &scores,
    };
    match &args.out {
        Some(p) => write_out(p, |out| {
            Ok(report::render_scored(
                args.format,
                &grants,
                with,
                &meta,
                &options,
                out,
            )?)
        })?,
        None => report::render_scored(
            args.format,
            &grants,
            with,
            &meta,
            &options,
            &mut std::io::stdout().lock(),
        )?,
    }
    // All grants, not the --min-tier selection: the exit code must not depend on the filter.
    let worst = scores.iter().map(crate::score::Compact::tier).max();
    let fail = args.fail_on.is_some_and(|t| worst.is_some_and(|w| w >= t));
    Ok(if fail { EXIT_FINDINGS } else { EXIT_OK })
}

fn diff(db: Option<PathBuf>, args: &DiffArgs) -> Result<u8> {
    let (path, store) = open_store_read_only(db, None)?;
    let scans = store.scans()?;
    let mut out = std::io::stdout().lock();
    if args.list {
        if args.json {
            serde_json::to_writer_pretty(&mut out, &scans)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:>6}  {:<21} {:>7} {:>8}  status",
                "scan", "finished", "grants", "failures"
            )?;
            for s in &scans {
                writeln!(
                    out,
                    "{:>6}  {:<21} {:>7} {:>8}  {}",
                    s.id,
                    s.finished_at,
                    s.grants,
                    s.failures,
                    if s.complete { "complete" } else { "partial" }
                )?;
            }
        }
        return Ok(EXIT_OK);
    }
    let (from, to) = match (args.from, args.to) {
        (Some(a), Some(b)) => (a, b),
        _ => match scans.as_slice() {
            [.., a, b] => (a.id, b.id),
            _ => bail!(
                "{} scan(s) recorded in {}; diff needs two: run `grantscope scan` again",
                scans.len(),
                path.display()
            ),
        },
    };
    let d = store.diff(from, to)?;
    if args.json {
        serde_json::to_writer_pretty(&mut out, &d)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }
    let line = |g: &GrantRecord| {
        format!(
            "{}  {} → {} {}  [{}]",
            Shown(&g.id),
            Shown(&g.app.name),
            g.principal.kind.name(),
            Shown(&g.principal.id),
            Shown(&g.scopes.join(", "))
        )
    };
    writeln!(out, "scan {from} → scan {to}")?;
    writeln!(out, "\nnew grants ({}):", d.added.len())?;
    for g in &d.added {
        writeln!(out, "  + {}", line(g))?;
    }
    writeln!(out, "\nremoved grants ({}):", d.removed.len())?;
    for g in &d.removed {
        writeln!(out, "  - {}", line(g))?;
    }
    writeln!(out, "\nscopes changed ({}):", d.changed.len())?;
    for c in &d.changed {
        let mut delta: Vec<String> = c.gained.iter().map(|s| format!("+{s}")).collect();
        delta.extend(c.lost.iter().map(|s| format!("-{s}")));
        let widened = if c.gained.is_empty() { "" } else { "  WIDENED" };
        writeln!(
            out,
            "  ~ {}  {}  {}{widened}",
            Shown(&c.grant.id),
            Shown(&c.grant.app.name),
            Shown(&delta.join(" "))
        )?;
    }
    if !d.partial.is_empty() {
        writeln!(
            out,
            "\nnot counted as removed (the later scan of these tenants was partial): {}",
            Shown(&d.partial.join(", "))
        )?;
    }
    if !d.not_compared.is_empty() {
        writeln!(
            out,
            "not compared (not in the earlier scan): {}",
            Shown(&d.not_compared.join(", "))
        )?;
    }
    Ok(EXIT_OK)
}

fn audit(db: Option<PathBuf>, cmd: &AuditCommand) -> Result<u8> {
    let (_, store) = open_store_read_only(db, None)?;
    match cmd {
        AuditCommand::Verify { anchor } => {
            let check = crate::audit::check_store(&store)?;
            // A damaged file is read no further: what its pages say proves nothing.
            if check.is_damaged() {
                for p in &check.problems {
                    eprintln!("error: {p}");
                }
                return Ok(EXIT_ERROR);
            }
            let anchor = anchor.as_ref().map(|(seq, hash)| (*seq, hash.as_str()));
            let v = crate::audit::verify(&store, anchor)?;
            if let Some((seq, reason)) = &v.first_bad {
                eprintln!("error: audit log tampered at entry {seq}: {reason}");
            }
            for p in &check.problems {
                eprintln!("error: {p}");
            }
            if !v.is_intact() || !check.is_intact() {
                return Ok(EXIT_ERROR);
            }
            println!(
                "audit log intact: {} entries, head {}",
                v.entries, v.head_hash
            );
            let unchecked = match check.undigested {
                0 => String::new(),
                n => format!("; {n} recorded without one could not be checked"),
            };
            println!(
                "store intact: {} scans ({} grant digests{unchecked}), {} runs",
                check.scans, check.digests, check.runs
            );
            eprintln!(
                "anchor {}:{} — keep it outside the store; `grantscope audit verify --anchor {0}:{1}` later also detects entries removed from the end",
                v.entries, v.head_hash
            );
        }
        AuditCommand::Export { out: Some(p) } => write_out(p, |out| {
            crate::audit::export(&store, out)?;
            Ok(())
        })?,
        AuditCommand::Export { out: None } => {
            crate::audit::export(&store, std::io::stdout().lock())?;
        }
    }
    Ok(EXIT_OK)
}

async fn sim(args: SimArgs) -> Result<u8> {
    if let Some(dir) = &args.replay {
        grantscope_sim::RunningReplay::run_command(dir, args.listen).await?;
        return Ok(EXIT_OK);
    }
    let opts = grantscope_sim::SimOptions {
        seed: args.seed,
        users: args.users,
        faults: args.faults,
        listen: args.listen,
        providers: args
            .providers
            .unwrap_or_else(|| grantscope_sim::Provider::ALL.to_vec()),
        rate: std::num::NonZeroU32::new(args.rate),
    };
    // Caught before the address is announced, so a supervisor that stops us as
    // soon as it reads the line still gets a clean shutdown.
    let signal = grantscope_sim::ShutdownSignal::install()?;
    let sim = grantscope_sim::Simulator::new(opts)?.start().await?;
    if let Some(path) = &args.write_config {
        sim.write_config(path)?;
    }
    if let Some(path) = &args.truth {
        sim.write_truth(path)?;
    }
    println!("grantscope-sim listening on {}", sim.base_url());
    let _ = std::io::stdout().flush();
    sim.serve_until(signal).await?;
    Ok(EXIT_OK)
}

async fn demo(db: Option<PathBuf>, args: DemoArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let opts = grantscope_sim::SimOptions {
        seed: 7,
        users: args.users,
        faults: 0.05,
        listen: "127.0.0.1:0".parse()?,
        ..grantscope_sim::SimOptions::default()
    };
    let sim = grantscope_sim::Simulator::new(opts)?.start().await?;
    let config_path = args.out.join("grantscope.toml");
    sim.write_config(&config_path)?;
    sim.write_truth(&args.out.join("truth.json"))?;
    let config = Config::load(&config_path)?;
    let db_path = db.unwrap_or_else(|| args.out.join("grantscope.db"));
    let mut store = Store::open(&db_path)?;
    println!(
        "grantscope demo: a simulated estate in GitHub, Google Workspace, Microsoft Entra, \
         Slack, Okta and Salesforce ({} tenants, {} people, 5% injected faults)\n",
        config.tenants.len(),
        args.users
    );
    let mut scans = run_scans(&config, &config.tenants).await?;
    let recorded = store.record_scan(&scans)?;
    sim.shutdown().await;
    let mut owned: Vec<GrantRecord> = scans
        .iter()
        .flat_map(|s| s.grants.iter().cloned())
        .collect();
    let scored = score(&mut owned, Some(&config))?;
    let governance = scored.governance(&owned);
    let (vendors, apps) = (scored.by_vendor, scored.by_app);
    let mut rest = owned.iter();
    for s in &mut scans {
        s.grants = rest.by_ref().take(s.grants.len()).cloned().collect();
    }
    write_out(&args.out.join("grants.json"), |mut out| {
        print_json(&mut out, &scans)
    })?;
    let mut meta = report::ReportMeta::new(time::OffsetDateTime::now_utc());
    meta.vendors = vendors.clone();
    meta.apps = apps;
    meta.title = Some("grantscope demo: a simulated six-provider estate".into());
    meta.governance = governance;
    meta.tenants = scans.iter().map(report::TenantStatus::from).collect();
    let report_path = args.out.join("report.html");
    write_out(&report_path, |out| {
        Ok(report::render(
            report::Format::Html,
            &owned,
            &meta,
            &report::ReportOptions::default(),
            out,
        )?)
    })?;

    let grants: Vec<&GrantRecord> = owned.iter().collect();
    let mut out = std::io::stdout().lock();
    print_summary(&mut out, &scans, recorded.added, recorded.removed)?;
    demo_digest(&mut out, &grants, &vendors)?;
    writeln!(
        out,
        "\nwritten to {}: report.html (open it in a browser), grants.json, grantscope.db (inventory), grantscope.toml (config), grantscope.vendors.toml (vendor registry), truth.json",
        args.out.display()
    )?;
    writeln!(
        out,
        "next: grantscope --db {db} vendors --config {cfg} list\n      \
         grantscope --db {db} offboard driftwood-chat --config {cfg}   (the plan; the \
         demo's simulator has stopped, so there is nothing to execute against)",
        db = db_path.display(),
        cfg = config_path.display()
    )?;
    Ok(exit_for(&scans))
}

/// A short reading of the inventory for a person: the installed apps with what
/// they can do, then the members' tokens and keys.
fn demo_digest(
    out: &mut impl Write,
    grants: &[&GrantRecord],
    vendors: &[crate::score::Aggregate],
) -> Result<()> {
    use crate::model::GrantKind;
    const KINDS: [GrantKind; 6] = [
        GrantKind::Delegated,
        GrantKind::AdminConsent,
        GrantKind::Application,
        GrantKind::Installation,
        GrantKind::PersonalToken,
        GrantKind::ApiKey,
    ];
    let mut by_provider: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for g in grants {
        let row = by_provider.entry(g.provider.as_str()).or_default();
        if let Some(i) = KINDS.iter().position(|k| *k == g.kind) {
            row[i] += 1;
        }
    }
    writeln!(
        out,
        "
{:<18} {:>9} {:>13} {:>11} {:>12} {:>14} {:>7}",
        "grants by kind",
        "delegated",
        "admin_consent",
        "application",
        "installation",
        "personal_token",
        "api_key"
    )?;
    for (provider, row) in &by_provider {
        writeln!(
            out,
            "{:<18} {:>9} {:>13} {:>11} {:>12} {:>14} {:>7}",
            Shown(provider),
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5]
        )?;
    }

    let mut by_tier: BTreeMap<Tier, usize> = BTreeMap::new();
    for g in grants {
        if let Some(s) = &g.score {
            *by_tier.entry(s.tier).or_default() += 1;
        }
    }
    writeln!(
        out,
        "
blast radius of the grants: {}",
        by_tier
            .iter()
            .rev()
            .map(|(t, n)| format!("{n} {}", report::tier_name(*t)))
            .collect::<Vec<_>>()
            .join(", ")
    )?;

    writeln!(
        out,
        "
vendors by blast radius (the union of what their grants reach, across providers):"
    )?;
    let mut ranked: Vec<&crate::score::Aggregate> =
        vendors.iter().filter(|v| !v.key.is_empty()).collect();
    ranked.sort_by_key(|v| std::cmp::Reverse(v.score.value));
    for v in ranked.iter().take(8) {
        let domains: Vec<&str> = v.domains.iter().take(5).map(|d| d.name()).collect();
        writeln!(
            out,
            "  {:>3} {:<8} {:<22} {:>4} grants, {}, {:>4} people · {}",
            v.score.value,
            report::tier_name(v.score.tier),
            Shown(&v.name),
            v.grants,
            crate::plural(v.providers.len(), "provider", "providers"),
            v.principals,
            Shown(&domains.join(", "))
        )?;
    }
    if let Some(none) = vendors.iter().find(|v| v.key.is_empty()) {
        writeln!(
            out,
            "  and {} grants of apps no vendor in the registry claims (`grantscope vendors unmapped`)",
            none.grants
        )?;
    }

    let mut top: Vec<&&GrantRecord> = grants.iter().filter(|g| g.score.is_some()).collect();
    top.sort_by_key(|g| std::cmp::Reverse(g.score.as_ref().map(|s| s.value)));
    writeln!(
        out,
        "
widest single grants:"
    )?;
    for g in top.iter().take(5) {
        let (value, tier, why) = g
            .score
            .as_ref()
            .map(|s| {
                (
                    s.value,
                    report::tier_name(s.tier),
                    s.factors
                        .first()
                        .map(|f| f.detail.clone())
                        .unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "  {value:>3} {tier:<8} {} in {} ({}): {}",
            Shown(&g.app.name),
            Shown(&g.tenant),
            Shown(&g.principal.id),
            Shown(&why)
        )?;
    }
    let count = |f: &dyn Fn(&GrantRecord) -> bool| grants.iter().filter(|g| f(g)).count();
    writeln!(
        out,
        "
no recorded use since granted: {}; no expiry: {}",
        count(&|g| g.kind != GrantKind::Installation && g.last_used_at.is_none()),
        count(&|g| g.kind != GrantKind::Installation && g.expires_at.is_none())
    )?;
    Ok(())
}

async fn plugins(cmd: PluginsCommand) -> Result<u8> {
    let limits = crate::config::Limits::default();
    let runtime = Runtime::new(&limits, crate::config::default_cache_dir(), 2)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        PluginsCommand::List { config } => {
            writeln!(
                out,
                "{:<20} {:<20} {:<10} source",
                "id", "provider", "version"
            )?;
            for (id, bytes) in crate::embedded::EMBEDDED {
                let c = runtime.load(id, bytes).await?;
                let m = c.manifest();
                writeln!(
                    out,
                    "{:<20} {:<20} {:<10} built in",
                    Shown(&m.id),
                    Shown(&m.provider),
                    Shown(&m.version)
                )?;
            }
            if let Some(path) = config {
                let config = Config::load(&path)?;
                for t in &config.tenants {
                    if let crate::config::ConnectorSource::File(p) = &t.connector {
                        let c = runtime.load_file(p).await?;
                        let m = c.manifest();
                        writeln!(
                            out,
                            "{:<20} {:<20} {:<10} {}",
                            Shown(&m.id),
                            Shown(&m.provider),
                            Shown(&m.version),
                            p.display()
                        )?;
                    }
                }
            }
        }
        PluginsCommand::Inspect { connector, json } => {
            let c = match crate::embedded::get(&connector) {
                Some(bytes) => runtime.load(&connector, bytes).await?,
                None if Path::new(&connector).exists() => {
                    runtime.load_file(Path::new(&connector)).await?
                }
                None => bail!(
                    "`{connector}` is neither a built-in connector nor a file; see `grantscope plugins list`"
                ),
            };
            let m = c.manifest();
            if json {
                serde_json::to_writer_pretty(&mut out, m)?;
                writeln!(out)?;
            } else {
                print_manifest(&mut out, m)?;
            }
        }
    }
    Ok(EXIT_OK)
}

/// A manifest for a person. Every field is the plugin's own text.
fn print_manifest(out: &mut impl Write, m: &crate::plugin::Manifest) -> Result<()> {
    writeln!(
        out,
        "{} {} ({}), contract {}",
        Shown(&m.id),
        Shown(&m.version),
        Shown(&m.name),
        Shown(&m.contract)
    )?;
    writeln!(out, "provider:     {}", Shown(&m.provider))?;
    writeln!(out, "hosts:        {}", Shown(&m.hosts.join(", ")))?;
    writeln!(out, "capabilities: {}", Shown(&m.capabilities.join(", ")))?;
    writeln!(
        out,
        "credentials:  {}",
        Shown(&m.credential_kinds.join(", "))
    )?;
    writeln!(out, "settings:")?;
    for s in &m.settings {
        writeln!(
            out,
            "  {}{}: {}",
            Shown(&s.name),
            if s.required { " (required)" } else { "" },
            Shown(&s.description)
        )?;
    }
    writeln!(out, "permissions to audit:")?;
    for p in m.permissions.iter().filter(|p| !p.revoke_only) {
        writeln!(out, "  {}: {}", Shown(&p.name), Shown(&p.reason))?;
    }
    writeln!(out, "permissions to revoke (only for offboarding):")?;
    for p in m.permissions.iter().filter(|p| p.revoke_only) {
        writeln!(out, "  {}: {}", Shown(&p.name), Shown(&p.reason))?;
    }
    if m.quotas.is_empty() {
        writeln!(
            out,
            "quotas:       none declared ([limits] requests_per_second paces every request)"
        )?;
    } else {
        writeln!(
            out,
            "quotas (override with [tenant.quotas] NAME = \"N/min\"):"
        )?;
        for q in &m.quotas {
            let rate = crate::pace::Rate {
                requests: q.requests,
                window: std::time::Duration::from_secs(u64::from(q.window_secs)),
            };
            let paths = if q.paths.is_empty() {
                "every other request".to_owned()
            } else {
                q.paths.join(" ")
            };
            let burst = if q.burst > 1 {
                format!(", bursts of {}", q.burst)
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {}: {rate}{burst}: {} ({})",
                Shown(&q.name),
                Shown(&paths),
                Shown(&q.source)
            )?;
        }
    }
    if m.consistency_window_ms > 0 {
        writeln!(
            out,
            "consistency:  reads may show a revoked grant for up to {} ms",
            m.consistency_window_ms
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_codes_are_distinct() {
        let codes = [EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_PARTIAL];
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), codes.len());
    }

    /// Cursor up and erase the line, an OSC 52 clipboard write, a right-to-left
    /// override, a line break and a tab: what a hostile provider or plugin sends.
    pub(super) const HOSTILE: &str =
        "x\u{1b}[1A\u{1b}[2K\u{1b}]52;c;SGVsbG8=\u{7}\u{202e}gpj.exe\n\tforged line \u{9b}2K";

    /// `out` is UTF-8 whose only control is the line break, with no bidirectional
    /// formatting character, and shows the escaped hostile text `times` times.
    pub(super) fn assert_terminal_safe(out: &[u8], times: usize) -> String {
        let text = String::from_utf8(out.to_vec()).unwrap_or_else(|e| panic!("{e}"));
        let raw: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && crate::text::is_unsafe(*c))
            .collect();
        assert!(raw.is_empty(), "raw {raw:?} in\n{text}");
        assert_eq!(
            text.matches("x\\x1b[1A\\x1b[2K\\x1b]52;c;SGVsbG8=\\x07\\u{202e}gpj.exe\\n\\tforged line \\u{9b}2K")
                .count(),
            times,
            "{text}"
        );
        text
    }

    #[test]
    fn a_manifest_is_printed_without_terminal_controls() {
        use crate::plugin::{Manifest, Permission, SettingSpec};
        let h = || HOSTILE.to_owned();
        let m = Manifest {
            id: "hostile".into(),
            name: h(),
            version: h(),
            provider: "hostile".into(),
            hosts: vec!["api.example.com".into()],
            capabilities: vec!["enumerate".into()],
            credential_kinds: vec![h()],
            permissions: vec![
                Permission {
                    name: h(),
                    reason: h(),
                    revoke_only: false,
                },
                Permission {
                    name: h(),
                    reason: h(),
                    revoke_only: true,
                },
            ],
            settings: vec![SettingSpec {
                name: h(),
                description: h(),
                required: true,
            }],
            quotas: vec![crate::plugin::QuotaSpec {
                name: "tier-1".into(),
                requests: 1,
                window_secs: 60,
                burst: 10,
                paths: vec![h()],
                source: h(),
            }],
            consistency_window_ms: 30_000,
            contract: "0.2.0".into(),
        };
        let mut out = Vec::new();
        print_manifest(&mut out, &m).unwrap_or_else(|e| panic!("{e}"));
        let text = assert_terminal_safe(&out, 11);
        // One line per field: nothing the plugin wrote started a line of its own.
        assert_eq!(text.lines().count(), 14, "{text}");
    }

    #[test]
    fn a_scan_summary_and_its_failures_are_printed_without_terminal_controls() {
        let scan = TenantScan {
            tenant: "acme".into(),
            provider: "okta".into(),
            connector: "okta".into(),
            started_at: String::new(),
            finished_at: String::new(),
            complete: false,
            tasks: 1,
            requests: 1,
            retries: 0,
            throttled: 0,
            failures: vec![crate::scan::ScanFailure {
                call: "start".into(),
                error: HOSTILE.into(),
            }],
            grants: Vec::new(),
        };
        let mut out = Vec::new();
        print_summary(&mut out, &[scan], 0, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_terminal_safe(&out, 1);
    }

    #[test]
    fn an_error_chain_is_printed_without_terminal_controls() {
        // Messages this program writes may span lines (an example config), so an
        // error keeps its line breaks; connector messages reach it on one line
        // already (`plugin::one_line`).
        let hostile = HOSTILE.replace('\n', "\\n");
        let e = anyhow::anyhow!("{hostile}")
            .context("the config has no rules: add one, e.g.\n\n[[policy]]");
        let shown = ShownLines(&format!("{e:#}")).to_string();
        assert_terminal_safe(shown.as_bytes(), 1);
        assert!(
            shown.starts_with("the config has no rules: add one, e.g.\n\n[[policy]]: x\\x1b"),
            "{shown}"
        );
    }
}
