//! Fixtures: a simulator with its config in a temporary directory, scanning helpers,
//! the comparison of a scan with the simulator's truth, and the `grantscope` binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use grantscope::config::Config;
use std::sync::Arc;

use grantscope::egress::TenantEgress;
use grantscope::model::{GrantRecord, RevocationTarget};
use grantscope::plugin::{Connector, Revocation, Runtime, TenantContext};
use grantscope::scan::{
    Progress, Silent, TenantScan, capacity, load_connectors, scan_tenants, tenant_egress,
};
use grantscope_sim::{Provider, RunningSim, SimOptions, Simulator, Truth};

/// A running simulator and a temporary directory holding the config it wrote
/// (`grantscope.toml`, its key in `grantscope.keys/`).
pub struct Fixture {
    pub sim: RunningSim,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Fixture {
    /// A GitHub-only simulator: the host behaviours these tests prove do not depend on
    /// the provider, and one provider keeps them quick.
    pub async fn start(seed: u64, users: u32, faults: f64) -> Fixture {
        Self::start_providers(seed, users, faults, &[Provider::Github]).await
    }

    /// A simulator serving `providers`, its config written to the temporary directory.
    pub async fn start_providers(
        seed: u64,
        users: u32,
        faults: f64,
        providers: &[Provider],
    ) -> Fixture {
        Self::start_with(SimOptions {
            seed,
            users,
            faults,
            providers: providers.to_vec(),
            ..SimOptions::default()
        })
        .await
    }

    /// A simulator built from `opts`, its config written to the temporary directory.
    pub async fn start_with(opts: SimOptions) -> Fixture {
        let sim = Simulator::new(opts)
            .unwrap_or_else(|e| panic!("simulator: {e}"))
            .start()
            .await
            .unwrap_or_else(|e| panic!("start simulator: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let config_path = dir.path().join("grantscope.toml");
        sim.write_config(&config_path)
            .unwrap_or_else(|e| panic!("write config: {e}"));
        Fixture {
            sim,
            dir,
            config_path,
        }
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The config text the simulator wrote.
    pub fn config_text(&self) -> String {
        read_text(&self.config_path)
    }

    /// The config the simulator wrote, loaded as the CLI loads it.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap_or_else(|e| panic!("config: {e}"))
    }

    /// The written config with `extra` appended (top-level tables such as
    /// `[limits]` and `[scan]`).
    pub fn config_with(&self, extra: &str) -> Config {
        let text = format!("{}\n{extra}", self.config_text());
        Config::parse(&text, &self.config_path, self.dir.path())
            .unwrap_or_else(|e| panic!("config: {e}\n{text}"))
    }

    /// Writes the config with `extra` appended to `name` and returns its path.
    pub fn write_config_with(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.path(name);
        // The key path in the config is relative to the config's directory, which
        // is the same directory.
        write_text(&path, &format!("{}\n{extra}", self.config_text()));
        path
    }

    /// A runtime for `config`, caching compiled components in the temporary
    /// directory so that a test's second scan does not compile again.
    pub fn runtime(&self, config: &Config) -> Runtime {
        Runtime::new(
            &config.limits,
            Some(self.path("compiled")),
            capacity(config, &config.tenants),
        )
        .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    /// Scans every tenant of `config` with a fresh runtime.
    pub async fn scan(&self, config: &Config) -> Vec<TenantScan> {
        self.scan_reporting(config, &Silent).await
    }

    /// Scans every tenant of `config`, reporting progress to `progress`.
    pub async fn scan_reporting(
        &self,
        config: &Config,
        progress: &dyn Progress,
    ) -> Vec<TenantScan> {
        let runtime = self.runtime(config);
        let scans = scan_tenants(&runtime, config, &config.tenants, progress).await;
        let names: Vec<&str> = scans.iter().map(|s| s.tenant.as_str()).collect();
        let want: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, want, "one scan per configured tenant, in order");
        scans
    }
}

pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn write_text(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Every grant of every tenant scan, in scan order.
pub fn grants(scans: &[TenantScan]) -> Vec<GrantRecord> {
    scans
        .iter()
        .flat_map(|s| s.grants.iter().cloned())
        .collect()
}

/// Grants by id.
pub fn by_id(grants: &[GrantRecord]) -> BTreeMap<String, GrantRecord> {
    grants.iter().map(|g| (g.id.clone(), g.clone())).collect()
}

/// The ids of `grants`.
pub fn ids(grants: &[GrantRecord]) -> BTreeSet<String> {
    grants.iter().map(|g| g.id.clone()).collect()
}

/// Panics, naming the failures, unless every tenant scan is complete.
pub fn assert_complete(scans: &[TenantScan]) {
    for s in scans {
        assert!(
            s.complete && s.failures.is_empty(),
            "tenant {} incomplete after {} tasks: {:#?}",
            s.tenant,
            s.tasks,
            s.failures
        );
    }
}

/// Every scan is complete and what it found is exactly the truth.
pub fn check_scans(scans: &[TenantScan], truth: &Truth) {
    assert_complete(scans);
    check(&grants(scans), truth);
}

/// A serde enum's wire name (`personal_token`, `user`).
pub fn wire<T: serde::Serialize + Debug>(v: T) -> String {
    match serde_json::to_value(&v) {
        Ok(serde_json::Value::String(s)) => s,
        other => panic!("{v:?} does not serialise to a string: {other:?}"),
    }
}

type Key = (String, String, String, String, String);

fn key(g: &GrantRecord) -> Key {
    (
        g.provider.clone(),
        g.tenant.clone(),
        g.app.id.clone(),
        g.principal.id.clone(),
        wire(g.kind),
    )
}

fn truth_key(g: &grantscope_sim::TruthGrant) -> Key {
    (
        g.provider.clone(),
        g.tenant.clone(),
        g.app.id.clone(),
        g.principal.id.clone(),
        g.kind.clone(),
    )
}

/// Panics with samples of what is missing and what is unexpected unless the sets
/// are equal.
fn same_set<T: Ord + Debug>(what: &str, found: &BTreeSet<T>, truth: &BTreeSet<T>) {
    if found == truth {
        return;
    }
    let missing: Vec<&T> = truth.difference(found).collect();
    let unexpected: Vec<&T> = found.difference(truth).collect();
    panic!(
        "{what} differ from the truth: {} missing, {} unexpected (found {}, truth {})\nmissing: {:#?}\nunexpected: {:#?}",
        missing.len(),
        unexpected.len(),
        found.len(),
        truth.len(),
        &missing[..missing.len().min(10)],
        &unexpected[..unexpected.len().min(10)],
    );
}

/// What a scan found is exactly the truth: the same set of (provider, tenant,
/// app.id, principal.id, kind), the same set of ids without duplicates, and for
/// every id the same scopes, timestamps, app name and principal kind.
pub fn check(found: &[GrantRecord], truth: &Truth) {
    let found_ids = ids(found);
    assert_eq!(found_ids.len(), found.len(), "the scan repeats grant ids");
    let truth_ids: BTreeSet<String> = truth.grants.iter().map(|g| g.id.clone()).collect();
    assert_eq!(truth_ids.len(), truth.grants.len(), "the truth repeats ids");
    same_set(
        "(provider, tenant, app.id, principal.id, kind)",
        &found.iter().map(key).collect(),
        &truth.grants.iter().map(truth_key).collect(),
    );
    same_set("grant ids", &found_ids, &truth_ids);
    let found = by_id(found);
    for want in &truth.grants {
        let Some(got) = found.get(&want.id) else {
            unreachable!("ids compared above")
        };
        let id = &want.id;
        assert_eq!(key(got), truth_key(want), "{id}: key");
        // The host normalises scopes to a sorted set; the truth keeps the
        // provider's order for SSO credentials. Compare them as sets, duplicates
        // included.
        let mut want_scopes = want.scopes.clone();
        want_scopes.sort();
        assert_eq!(got.scopes, want_scopes, "{id}: scopes");
        assert_eq!(got.created_at, want.created_at, "{id}: created_at");
        assert_eq!(got.last_used_at, want.last_used_at, "{id}: last_used_at");
        assert_eq!(got.app.name, want.app.name, "{id}: app.name");
        assert_eq!(
            wire(got.principal.kind),
            want.principal.kind,
            "{id}: principal.kind"
        );
    }
}

/// The same records under the same ids.
pub fn assert_same_records(
    what: &str,
    got: &BTreeMap<String, GrantRecord>,
    want: &BTreeMap<String, GrantRecord>,
) {
    same_set(
        &format!("{what}: ids"),
        &got.keys().collect(),
        &want.keys().collect(),
    );
    for (id, w) in want {
        let g = got
            .get(id)
            .unwrap_or_else(|| unreachable!("ids compared above"));
        assert!(
            g == w,
            "{what}: {id} differs
got: {g:#?}
want: {w:#?}"
        );
    }
}

/// `found` holds only grants of the truth, each exactly as the truth has it.
pub fn check_subset(found: &[GrantRecord], truth: &Truth) {
    let truth_ids: BTreeSet<String> = truth.grants.iter().map(|g| g.id.clone()).collect();
    let found_ids = ids(found);
    assert_eq!(found_ids.len(), found.len(), "the scan repeats grant ids");
    let unexpected: Vec<&String> = found_ids.difference(&truth_ids).collect();
    assert!(unexpected.is_empty(), "not in the truth: {unexpected:?}");
    let subset = Truth {
        grants: truth
            .grants
            .iter()
            .filter(|g| found_ids.contains(&g.id))
            .cloned()
            .collect(),
    };
    check(found, &subset);
}

/// Scans `config` until the simulator has injected a fault (eight rounds at most),
/// checking each round against `truth`. A provider that needs few requests per scan
/// can go a whole round unfaulted at 20%, and a faultless round proves nothing.
pub async fn scan_until_a_fault(f: &Fixture, config: &Config, truth: &Truth) {
    for _ in 0..8 {
        let scans = f.scan(config).await;
        check_scans(&scans, truth);
        if f.sim.stats().faults > 0 {
            return;
        }
    }
    panic!("no fault was injected in eight scans, so the test proved nothing");
}

/// Reads a truth file written by `--truth` or `write_truth`.
pub fn read_truth(path: &Path) -> Truth {
    serde_json::from_str(&read_text(path))
        .unwrap_or_else(|e| panic!("truth {}: {e}", path.display()))
}

/// The `grantscope` binary with a private home: caches, data and `HOME` in `home`,
/// no log filter from the environment.
pub fn grantscope(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grantscope"));
    cmd.env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HOME", home)
        .env_remove("GRANTSCOPE_LOG")
        .env_remove("RUST_LOG");
    cmd
}

/// What a finished command said.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<&Output> for Ran {
    fn from(out: &Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Ran {
    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Ran {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            clip(&self.stdout),
            clip(&self.stderr)
        );
        self
    }

    /// Stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON: {e}\nstdout:\n{}\nstderr:\n{}",
                clip(&self.stdout),
                clip(&self.stderr)
            )
        })
    }

    /// The `grants` array of a `scan --json` document, as records.
    pub fn grants(&self) -> Vec<GrantRecord> {
        grants_of(&self.json())
    }
}

/// The `grants` array of a `{"grants": [...]}` document, as records.
pub fn grants_of(doc: &serde_json::Value) -> Vec<GrantRecord> {
    let array = doc
        .get("grants")
        .and_then(serde_json::Value::as_array)
        .unwrap_or_else(|| panic!("no `grants` array in {}", clip(&doc.to_string())));
    array
        .iter()
        .map(|g| {
            serde_json::from_value(g.clone()).unwrap_or_else(|e| panic!("grant record {g}: {e}"))
        })
        .collect()
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(4000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Runs a command to the end.
pub fn run(mut cmd: Command) -> Ran {
    Ran::from(&cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}")))
}

/// Runs a command to the end off the async runtime, so an in-process simulator on
/// the same runtime keeps serving it.
pub async fn run_async(cmd: Command) -> Ran {
    tokio::task::spawn_blocking(move || run(cmd))
        .await
        .unwrap_or_else(|e| panic!("command thread: {e}"))
}

/// Every byte of a SQLite database: the file and its `-wal` / `-shm` / `-journal`
/// companions.
pub fn database_bytes(db: &Path) -> Vec<u8> {
    let name = db
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("{} has no name", db.display()))
        .to_owned();
    let dir = db.parent().unwrap_or_else(|| Path::new("."));
    let mut bytes = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        if entry.file_name().to_string_lossy().starts_with(&name) {
            bytes.extend(
                std::fs::read(entry.path())
                    .unwrap_or_else(|e| panic!("read {}: {e}", entry.path().display())),
            );
            files += 1;
        }
    }
    assert!(files > 0, "no database at {}", db.display());
    bytes
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// What a revocation call through the real host needs for one grant's tenant: the
/// loaded connector, the tenant's egress and context, and the grant's target.
pub struct Target {
    pub connector: Arc<Connector>,
    pub egress: Arc<TenantEgress>,
    pub ctx: TenantContext,
    pub grant_id: String,
    pub target: RevocationTarget,
}

impl Target {
    pub async fn new(runtime: &Runtime, config: &Config, grant: &GrantRecord) -> Target {
        let tenant = config
            .tenants
            .iter()
            .find(|t| t.name == grant.tenant)
            .unwrap_or_else(|| panic!("no tenant {}", grant.tenant));
        let connectors = load_connectors(runtime, std::slice::from_ref(tenant)).await;
        let connector = connectors
            .get(&tenant.connector)
            .cloned()
            .unwrap_or_else(|| panic!("connector of {} not loaded", tenant.name))
            .unwrap_or_else(|e| panic!("load connector: {e}"));
        let egress = tenant_egress(&connector, tenant, runtime, 1)
            .unwrap_or_else(|e| panic!("egress for {}: {e}", tenant.name));
        Target {
            connector,
            egress,
            ctx: TenantContext {
                tenant: tenant.name.clone(),
                settings: tenant.settings.clone(),
            },
            grant_id: grant.id.clone(),
            target: grant
                .revocation
                .clone()
                .unwrap_or_else(|| panic!("{} has no revocation target", grant.id)),
        }
    }

    pub async fn revoke(&self) -> Revocation {
        self.connector
            .revoke(
                Arc::clone(&self.egress),
                &self.ctx,
                &self.grant_id,
                &self.target,
            )
            .await
            .unwrap_or_else(|e| panic!("revoke {}: {e}", self.grant_id))
    }

    pub async fn present(&self) -> bool {
        self.connector
            .probe(
                Arc::clone(&self.egress),
                &self.ctx,
                &self.grant_id,
                &self.target,
            )
            .await
            .unwrap_or_else(|e| panic!("probe {}: {e}", self.grant_id))
    }
}
