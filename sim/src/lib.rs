//! `grantscope-sim`: provider API simulators and synthetic tenants for grantscope.
//!
//! A [`Simulator`] is built deterministically from a seed and a user count, then
//! [started](Simulator::start) as a real HTTP server on loopback that speaks the
//! providers' APIs (GitHub, Google Workspace, Microsoft Entra, Slack, Okta,
//! Salesforce) — paths, JSON shapes, pagination, token endpoints that
//! verify JWT signatures, rate-limit headers, revocation that really removes state, and
//! injected faults. The [`Truth`] it reports is what a perfect connector would find in the
//! *current* state, so tests can compare scans against it exactly.
//!
//! ```no_run
//! # async fn demo() -> Result<(), grantscope_sim::SimError> {
//! let sim = grantscope_sim::Simulator::new(grantscope_sim::SimOptions::default())?;
//! let running = sim.start().await?;
//! running.write_config(std::path::Path::new("sim.toml"))?;
//! println!("{}", running.base_url());
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # What the GitHub simulator serves
//!
//! Two orgs, `acme-corp` (`users` members) and `acme-labs` (a quarter of them), each with
//! the auditor app `grantscope-auditor` (app id `900001`) installed. The auditor signs an
//! RS256 JWT with the key [`RunningSim::write_config`] writes, calls
//! `GET /orgs/{org}/installation` and `POST /app/installations/{id}/access_tokens`, then
//! reads `/orgs/{org}/installations`, `/credential-authorizations`,
//! `/personal-access-tokens`, `/personal-access-token-requests` and grant repositories,
//! and revokes through `DELETE .../credential-authorizations/{id}` and
//! `POST .../personal-access-tokens[/{id}]`. `GET /_sim/stats` and `GET /_sim/truth`
//! expose [`Stats`] and [`Truth`] without auth or faults.
//!
//! # Faults
//!
//! With probability `faults` a request gets one of: 429 secondary rate limit, 403 primary
//! rate limit, 500, 502, 503, a connection reset mid-body, 1-2 s of latency, or a 200
//! with truncated JSON. For revocations, half of the 5xx and resets strike *after* the
//! state changed (and are counted in [`RevocationStat::calls`]); a truncated body always
//! follows a processed request. Faults never corrupt state.
//!
//! # Quota
//!
//! Every answer states the simulator's own quota, [`SimOptions::rate`] requests per
//! second per provider and credential, as `RateLimit-Policy: "sim";q=N;w=1`, and a
//! client that goes faster gets a 429 with `Retry-After`; Slack's answers state each
//! method's tier and Okta's each endpoint bucket instead. A client that paces itself by
//! what it is told never sees a 429 it did not draw as a fault.
//!
//! # Layout
//!
//! `world` holds what is provider-neutral (the clock, people, vendors with one identity per
//! provider); `github` is the first provider module (router, auth, model, JSON shapes);
//! `faults`, `stats`, `truth` and `config` are shared. A new provider adds a sibling
//! module with its own router and truth mapping, and its identities on the vendors.
//! `replay` is the other kind of server: a folder of recorded request/response pairs
//! ([`Replay`]) instead of a synthetic world.

#![deny(missing_docs)]
// `json!` for the 75-key minimal-repository object needs a deeper macro expansion.
#![recursion_limit = "256"]

mod config;
mod faults;
mod github;
mod google_workspace;
mod http;
mod microsoft_entra;
mod okta;
mod provider;
mod quota;
mod replay;
mod salesforce;
mod slack;
mod stats;
mod truth;
mod world;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rsa::pkcs1::{EncodeRsaPrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;

pub use provider::Provider;
pub use replay::{FileHits, Replay, ReplayReport, RunningReplay};
pub use stats::{RevocationStat, Stats};
pub use truth::{Truth, TruthApp, TruthGrant, TruthPrincipal};

/// Largest supported tenant.
const MAX_USERS: u32 = 1_000_000;

/// How to build and run a simulator.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOptions {
    /// Seed of the synthetic world; the same seed and user count give the same truth.
    pub seed: u64,
    /// Members of the main tenant (1 to 1,000,000).
    pub users: u32,
    /// Probability in `[0, 1]` that an API request suffers an injected fault.
    pub faults: f64,
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The providers to serve, write into the config and report in the truth
    /// (all of them by default). The world is the same whichever are chosen.
    pub providers: Vec<Provider>,
    /// Requests per second one credential may make to one provider, advertised in
    /// `RateLimit-Policy` and enforced with 429s; `None` for neither.
    pub rate: Option<NonZeroU32>,
}

/// The simulator's default quota per credential and provider: fast enough that a
/// demo takes seconds, finite so that pacing is exercised on every run.
pub const DEFAULT_RATE: NonZeroU32 = NonZeroU32::new(1000).expect("non-zero");

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 7,
            users: 50,
            faults: 0.0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            providers: Provider::ALL.to_vec(),
            rate: Some(DEFAULT_RATE),
        }
    }
}

/// Errors from building, running or writing out a simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The fault rate is not a probability.
    #[error("fault rate {0} is out of range: pass a probability between 0 and 1")]
    InvalidFaultRate(f64),
    /// The user count is out of range.
    #[error("user count {0} is out of range: pass between 1 and {MAX_USERS} users")]
    InvalidUsers(u32),
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: choose another address or port (127.0.0.1:0 picks a free one)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// RSA key generation for the simulated GitHub App failed.
    #[error("cannot generate the simulated GitHub App key")]
    KeyGeneration(#[source] rsa::Error),
    /// The key could not be encoded as PEM.
    #[error("cannot encode the simulated GitHub App key as PEM")]
    KeyEncoding(#[source] rsa::pkcs1::Error),
    /// The key generation task died.
    #[error("the key generation task failed")]
    KeyTask(#[source] tokio::task::JoinError),
    /// A file could not be written.
    #[error("cannot write {}: check that the directory exists and is writable", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
    /// A path cannot name an output file (no file name, or not UTF-8 where it must go into
    /// the config).
    #[error("{} cannot be used as an output file: give a file path with a UTF-8 name", path.display())]
    BadPath {
        /// The offending path.
        path: PathBuf,
    },
    /// No provider was chosen.
    #[error("no provider to simulate: name at least one")]
    NoProviders,
    /// A replay folder or one of its files could not be read.
    #[error("cannot read {}: check the replay folder", path.display())]
    ReplayRead {
        /// The file or directory.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A replay file is not a usable recording.
    #[error("{}: {reason}", path.display())]
    ReplayFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A replay folder holds no recording.
    #[error("{} holds no recording (`*.json` request/response files)", dir.display())]
    ReplayEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// Shutdown signal handlers could not be installed.
    #[error("cannot listen for Ctrl-C / SIGTERM")]
    Signal(#[source] std::io::Error),
}

/// A simulator built from a seed, not yet serving.
pub struct Simulator {
    opts: SimOptions,
    world: world::World,
    models: Models,
}

/// The synthetic tenants of every enabled provider (GitHub's always exist: the
/// mutation endpoint addresses them; they are only served when enabled).
struct Models {
    github: github::GithubState,
    google_workspace: Option<google_workspace::Model>,
    microsoft_entra: Option<microsoft_entra::Model>,
    slack: Option<slack::Model>,
    okta: Option<okta::Model>,
    salesforce: Option<salesforce::Model>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Validates the options and builds the synthetic world (deterministic in seed and
    /// user count).
    pub fn new(opts: SimOptions) -> Result<Self, SimError> {
        if !(0.0..=1.0).contains(&opts.faults) {
            return Err(SimError::InvalidFaultRate(opts.faults));
        }
        if !(1..=MAX_USERS).contains(&opts.users) {
            return Err(SimError::InvalidUsers(opts.users));
        }
        if opts.providers.is_empty() {
            return Err(SimError::NoProviders);
        }
        let world = world::World::new(opts.seed, opts.users);
        let on = |p: Provider| opts.providers.contains(&p);
        let models = Models {
            github: github::GithubState::generate(&world),
            google_workspace: on(Provider::GoogleWorkspace)
                .then(|| google_workspace::Model::generate(&world)),
            microsoft_entra: on(Provider::MicrosoftEntra)
                .then(|| microsoft_entra::Model::generate(&world)),
            slack: on(Provider::Slack).then(|| slack::Model::generate(&world)),
            okta: on(Provider::Okta).then(|| okta::Model::generate(&world)),
            salesforce: on(Provider::Salesforce).then(|| salesforce::Model::generate(&world)),
        };
        Ok(Self {
            opts,
            world,
            models,
        })
    }

    /// The ground truth of the initial state (what [`RunningSim::truth`] returns before
    /// any revocation).
    pub fn truth(&self) -> Truth {
        let m = &self.models;
        let mut grants = Vec::new();
        if self.opts.providers.contains(&Provider::Github) {
            m.github.truth(&mut grants);
        }
        if let Some(x) = &m.google_workspace {
            x.truth(&mut grants);
        }
        if let Some(x) = &m.microsoft_entra {
            x.truth(&mut grants);
        }
        if let Some(x) = &m.slack {
            x.truth(&mut grants);
        }
        if let Some(x) = &m.okta {
            x.truth(&mut grants);
        }
        if let Some(x) = &m.salesforce {
            x.truth(&mut grants);
        }
        sorted(grants)
    }

    /// Generates the auditor app's key, binds the listener and serves in a tokio task.
    pub async fn start(self) -> Result<RunningSim, SimError> {
        // 2048-bit generation takes a while; keep it off the async worker threads.
        let key = tokio::task::spawn_blocking(|| {
            rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        })
        .await
        .map_err(SimError::KeyTask)?
        .map_err(SimError::KeyGeneration)?;
        let pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(SimError::KeyEncoding)?
            .to_string();
        let public = key.to_public_key();
        let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(
            &public.n().to_bytes_be(),
            &public.e().to_bytes_be(),
        );

        let listen = self.opts.listen;
        let (listener, addr) = http::bind(listen).await?;

        let keys = provider::Keys {
            public: decoding.clone(),
        };
        let m = self.models;
        let shared = Arc::new(Shared {
            bound: addr,
            providers: self.opts.providers.clone(),
            faults: faults::Faults::new(self.opts.faults),
            quota: quota::Quota::new(self.opts.rate),
            stats: stats::StatsRecorder::default(),
            github: github::GithubSim::new(m.github, decoding),
            google_workspace: m
                .google_workspace
                .map(|x| google_workspace::Sim::new(x, &keys)),
            microsoft_entra: m
                .microsoft_entra
                .map(|x| microsoft_entra::Sim::new(x, &keys)),
            slack: m.slack.map(|x| slack::Sim::new(x, &keys)),
            okta: m.okta.map(|x| okta::Sim::new(x, &keys)),
            salesforce: m.salesforce.map(|x| salesforce::Sim::new(x, &keys)),
        });
        let mut app = Router::new()
            .route("/_sim/stats", get(sim_stats))
            .route("/_sim/truth", get(sim_truth))
            .route("/_sim/mutate", axum::routing::post(sim_mutate));
        for p in &self.opts.providers {
            let routes = match p {
                Provider::Github => github::router(shared.clone()),
                Provider::GoogleWorkspace => google_workspace::router(shared.clone()),
                Provider::MicrosoftEntra => microsoft_entra::router(shared.clone()),
                Provider::Slack => slack::router(shared.clone()),
                Provider::Okta => okta::router(shared.clone()),
                Provider::Salesforce => salesforce::router(shared.clone()),
            };
            app = if p.prefix().is_empty() {
                app.merge(routes)
            } else {
                app.nest(p.prefix(), routes)
            };
        }
        let app = app.layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            quota::layer,
        ));
        let serving = http::Serving::start(listener, app.with_state(shared.clone()));
        tracing::info!(%addr, seed = self.opts.seed, users = self.opts.users, "simulator listening");
        Ok(RunningSim {
            shared,
            addr,
            seed: self.world.seed,
            vendors: self
                .world
                .vendors
                .iter()
                .map(|v| (v.name, v.domain))
                .collect(),
            users: self.world.users,
            private_key_pem: pem,
            serving,
        })
    }
}

/// State shared by every request handler.
pub(crate) struct Shared {
    /// The address actually bound (fallback for building absolute URLs).
    pub bound: SocketAddr,
    /// The providers served.
    pub providers: Vec<Provider>,
    pub faults: faults::Faults,
    /// The simulator's own quota per credential and provider.
    pub quota: quota::Quota,
    pub stats: stats::StatsRecorder,
    pub github: github::GithubSim,
    pub google_workspace: Option<google_workspace::Sim>,
    pub microsoft_entra: Option<microsoft_entra::Sim>,
    pub slack: Option<slack::Sim>,
    pub okta: Option<okta::Sim>,
    pub salesforce: Option<salesforce::Sim>,
}

impl Shared {
    /// The truth of the current state of every served provider.
    fn truth(&self) -> Truth {
        let mut grants = Vec::new();
        if self.providers.contains(&Provider::Github) {
            self.github.state().truth(&mut grants);
        }
        if let Some(x) = &self.google_workspace {
            x.model().truth(&mut grants);
        }
        if let Some(x) = &self.microsoft_entra {
            x.model().truth(&mut grants);
        }
        if let Some(x) = &self.slack {
            x.model().truth(&mut grants);
        }
        if let Some(x) = &self.okta {
            x.model().truth(&mut grants);
        }
        if let Some(x) = &self.salesforce {
            x.model().truth(&mut grants);
        }
        sorted(grants)
    }

    /// The config entries of every served provider, in [`Provider::ALL`] order.
    fn tenants(&self, env: &provider::ConfigEnv<'_>) -> Result<Vec<config::TenantEntry>, SimError> {
        let mut out = Vec::new();
        if self.providers.contains(&Provider::Github) {
            out.extend(self.github.tenants(env));
        }
        if let Some(x) = &self.google_workspace {
            out.extend(x.tenants(env)?);
        }
        if let Some(x) = &self.microsoft_entra {
            out.extend(x.tenants(env)?);
        }
        if let Some(x) = &self.slack {
            out.extend(x.tenants(env)?);
        }
        if let Some(x) = &self.okta {
            out.extend(x.tenants(env)?);
        }
        if let Some(x) = &self.salesforce {
            out.extend(x.tenants(env)?);
        }
        Ok(out)
    }
}

fn sorted(mut grants: Vec<TruthGrant>) -> Truth {
    grants.sort_by(|a, b| a.id.cmp(&b.id));
    Truth { grants }
}

async fn sim_stats(State(sim): State<Arc<Shared>>) -> Response {
    axum::Json(sim.stats.snapshot()).into_response()
}

async fn sim_truth(State(sim): State<Arc<Shared>>) -> Response {
    axum::Json(sim.truth()).into_response()
}

/// `POST /_sim/mutate` `{"seed", "add", "remove", "widen"}`: changes the main tenant
/// the way real organisations drift, and answers with what changed (normalized grant
/// ids), so a test can check that a rescan and `grantscope diff` see exactly that.
async fn sim_mutate(State(sim): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let req: github::MutationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "message": format!("bad mutation: {e}") })),
            )
                .into_response();
        }
    };
    if req.add.max(req.remove).max(req.widen) > github::MAX_CHANGES {
        return (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({ "message": format!("at most {} changes of each kind", github::MAX_CHANGES) })),
        )
            .into_response();
    }
    let changed: github::Mutation = sim.github.state().mutate(&req);
    axum::Json(changed).into_response()
}

/// A simulator serving on loopback. Dropping it stops the server; prefer
/// [`RunningSim::shutdown`] to wait for it.
pub struct RunningSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    seed: u64,
    users: u32,
    /// (name, domain) of every synthetic vendor, for the registry.
    vendors: Vec<(&'static str, &'static str)>,
    private_key_pem: String,
    serving: http::Serving,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key is deliberately left out.
        f.debug_struct("RunningSim")
            .field("addr", &self.addr)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl RunningSim {
    /// The bound address (the real port when `:0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (an unspecified listen IP is reported as loopback).
    pub fn base_url(&self) -> String {
        format!("http://{}", http::loopback_if_unspecified(self.addr))
    }

    /// Ground truth of the current state: revoked grants are gone.
    pub fn truth(&self) -> Truth {
        self.shared.truth()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Changes the fault rate at run time; clamped to `[0, 1]`, NaN means 0.
    pub fn set_faults(&self, rate: f64) {
        self.shared.faults.set(rate);
    }

    /// Writes a `grantscope scan` config for every simulated tenant, the auditor's
    /// private key (PKCS#1 PEM, mode 0600) to `{stem}.keys/github-app.pem` beside it,
    /// the other secrets the providers' credentials name (client secrets, static
    /// tokens) into the same directory, and the vendor registry of the synthetic
    /// vendors to `{stem}.vendors.toml` (named by the config's `[vendors] registry`).
    pub fn write_config(&self, path: &Path) -> Result<(), SimError> {
        let (key_path, key_rel) = config::key_paths(path)?;
        let key_dir = key_path.parent().unwrap_or(Path::new(""));
        config::create_private_dir(key_dir)?;
        config::write_atomic(&key_path, true, |w| {
            w.write_all(self.private_key_pem.as_bytes())
        })?;
        let key_dir_rel = key_rel.rsplit_once('/').map_or("", |(d, _)| d);
        let env = provider::ConfigEnv {
            base_url: self.base_url(),
            host: http::loopback_if_unspecified(self.addr).to_string(),
            key_file: key_rel.clone(),
            key_dir,
            key_dir_rel,
        };
        let tenants = self.shared.tenants(&env)?;
        let registry = config::registry_paths(path)?;
        let truth = self.truth();
        config::write_atomic(&registry.0, false, |w| {
            w.write_all(config::render_registry(&self.vendors, &truth).as_bytes())
        })?;
        let text = config::render(self.seed, self.users, &registry.1, &tenants);
        config::write_atomic(path, false, |w| w.write_all(text.as_bytes()))
    }

    /// Writes [`RunningSim::truth`] as JSON.
    pub fn write_truth(&self, path: &Path) -> Result<(), SimError> {
        let truth = self.truth();
        config::write_atomic(path, false, |w| {
            serde_json::to_writer_pretty(&mut *w, &truth)?;
            w.write_all(b"\n")
        })
    }

    /// Stops serving and waits (briefly) for in-flight requests.
    pub async fn shutdown(mut self) {
        self.serving.shutdown().await;
    }

    /// Serves until `signal` fires, then shuts down. What `grantscope-sim` and
    /// `grantscope sim` do after printing their address.
    pub async fn serve_until(self, signal: ShutdownSignal) -> Result<(), SimError> {
        let result = signal.wait().await;
        self.shutdown().await;
        result
    }
}

/// Ctrl-C and (on Unix) SIGTERM, caught from the moment this is installed.
///
/// Install it before announcing the address: a supervisor that reads the "listening
/// on" line and stops the process at once must get a clean shutdown, not the default
/// signal action.
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Registers the handlers now.
    pub fn install() -> Result<Self, SimError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).map_err(SimError::Signal)?,
                interrupt: signal(SignalKind::interrupt()).map_err(SimError::Signal)?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves when a signal arrives.
    pub async fn wait(mut self) -> Result<(), SimError> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Ok(()),
                _ = self.interrupt.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            tokio::signal::ctrl_c().await.map_err(SimError::Signal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        let bad = |f: fn(&mut SimOptions)| {
            let mut o = SimOptions::default();
            f(&mut o);
            Simulator::new(o).map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(bad(|_| {}).is_ok());
        assert!(bad(|o| o.faults = 1.5).is_err_and(|e| e.contains("between 0 and 1")));
        assert!(bad(|o| o.faults = f64::NAN).is_err());
        assert!(bad(|o| o.users = 0).is_err_and(|e| e.contains("1000000")));
        assert!(bad(|o| o.users = MAX_USERS + 1).is_err());
    }
}
