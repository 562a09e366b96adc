//! `grantscope-sim`: run the provider simulators until Ctrl-C / SIGTERM.

#![allow(
    clippy::print_stdout,
    reason = "the binary's contract is one line on stdout"
)]
#![allow(
    clippy::print_stderr,
    reason = "errors go to stderr at the binary edge"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use grantscope_sim::{Provider, RunningReplay, ShutdownSignal, SimError, SimOptions, Simulator};

/// Serve simulated SaaS provider APIs (GitHub, Google Workspace, Microsoft Entra, Slack,
/// Okta, Salesforce) with synthetic tenants on loopback.
#[derive(Debug, Parser)]
#[command(name = "grantscope-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed of the synthetic world.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Members of the main tenant (1 to 1000000).
    #[arg(long, default_value_t = 50)]
    users: u32,
    /// Probability (0 to 1) that an API request suffers an injected fault.
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Requests per second one credential may make to one provider (advertised in
    /// `RateLimit-Policy`, enforced with 429s); 0 for no quota.
    #[arg(long, default_value_t = grantscope_sim::DEFAULT_RATE.get())]
    rate: u32,
    /// Write a `grantscope scan` config for the simulated tenants to FILE.
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
    /// Write the ground truth (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Serve only these providers (comma-separated ids, e.g. `github,okta`); all by
    /// default.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    providers: Option<Vec<Provider>>,
    /// Serve the recorded request/response pairs (`*.json`) in DIR instead of a
    /// synthetic world, e.g. a provider's `examples/` folder.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["seed", "users", "faults", "rate", "write_config", "truth", "providers"]
    )]
    replay: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // clap exits with 2 on bad flags and 0 on --help/--version.
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<(), SimError> {
    if let Some(dir) = &cli.replay {
        return RunningReplay::run_command(dir, cli.listen).await;
    }
    let opts = SimOptions {
        seed: cli.seed,
        users: cli.users,
        faults: cli.faults,
        listen: cli.listen,
        providers: cli.providers.unwrap_or_else(|| Provider::ALL.to_vec()),
        rate: std::num::NonZeroU32::new(cli.rate),
    };
    // Caught before the address is announced: see `ShutdownSignal`.
    let signal = ShutdownSignal::install()?;
    let running = Simulator::new(opts)?.start().await?;
    if let Some(path) = &cli.write_config {
        running.write_config(path)?;
    }
    if let Some(path) = &cli.truth {
        running.write_truth(path)?;
    }
    println!("grantscope-sim listening on {}", running.base_url());
    running.serve_until(signal).await
}
