//! Test fixtures: a recording HTTP server and a harness that scans with the hostile
//! plugin.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use grantscope::config::Config;
use grantscope::plugin::Runtime;
use grantscope::scan::{Silent, TenantScan, scan_tenants};

/// The credential every harness tenant is configured with.
pub const SECRET: &str = "gs-test-secret-4f9c2e7a1b";
/// The egress budget per call in the harness.
pub const EGRESS_CALLS: u32 = 5;

#[derive(Default)]
struct Seen {
    hits: usize,
    authorizations: Vec<String>,
}

/// A loopback HTTP server that records what reaches it. `/redirect?to=URL`
/// redirects, `/slow` answers after five seconds, anything else answers 200.
pub struct Echo {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Echo {
    pub async fn start() -> Echo {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Echo { addr, seen }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().map(|s| s.hits).unwrap_or(0)
    }

    pub fn authorizations(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|s| s.authorizations.clone())
            .unwrap_or_default()
    }
}

async fn handle(
    State(seen): State<Arc<Mutex<Seen>>>,
    uri: Uri,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Ok(mut s) = seen.lock() {
        s.hits += 1;
        if let Some(a) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
            s.authorizations.push(a.to_owned());
        }
    }
    match uri.path() {
        "/redirect" => (
            StatusCode::FOUND,
            [("location", q.get("to").cloned().unwrap_or_default())],
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (StatusCode::OK, "late").into_response()
        }
        // Deliberately no echo of request headers: a provider that reflected the
        // credential back would be the provider's leak, not the host's.
        _ => (StatusCode::OK, "{\"ok\":true}").into_response(),
    }
}

/// One or more tenants served by the hostile plugin.
pub struct Harness {
    tenants: usize,
    simulator: bool,
    hosts: Vec<String>,
    settings: Vec<(String, String)>,
    /// Overrides of the harness's `[limits]`.
    pub limits: Vec<(&'static str, String)>,
    /// The component every tenant runs (the hostile plugin unless a test says).
    pub plugin: &'static str,
    dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(simulator: bool, hosts: &[&str], settings: &[(&str, &str)]) -> Harness {
        Self::with_tenants(1, simulator, hosts, settings)
    }

    pub fn with_tenants(
        tenants: usize,
        simulator: bool,
        hosts: &[&str],
        settings: &[(&str, &str)],
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        std::fs::write(dir.path().join("token"), SECRET).unwrap_or_else(|e| panic!("{e}"));
        Harness {
            tenants,
            simulator,
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            limits: Vec::new(),
            plugin: grantscope_sandbox_tests::HOSTILE,
            dir,
        }
    }

    pub fn config(&self) -> Config {
        let q = |s: &str| format!("{s:?}");
        let mut limits = vec![
            ("cpu_ms_per_call", "300".to_owned()),
            ("memory_mib", "16".to_owned()),
            ("wall_secs_per_call", "20".to_owned()),
            ("log_kib_per_call", "64".to_owned()),
            ("egress_calls_per_call", EGRESS_CALLS.to_string()),
            ("http_attempts", "1".to_owned()),
        ];
        for (k, v) in &self.limits {
            limits.retain(|(key, _)| key != k);
            limits.push((k, v.clone()));
        }
        let mut text = String::from("[limits]\n");
        for (k, v) in limits {
            text.push_str(&format!("{k} = {v}\n"));
        }
        for i in 1..=self.tenants {
            text.push_str(&format!(
                "[[tenant]]\nname = \"t{i}\"\nplugin = {}\nsimulator = {}\nhosts = [{}]\n[tenant.settings]\n{}\n[tenant.credential]\nkind = \"static-token\"\ntoken_file = \"token\"\n\n",
                q(self.plugin),
                self.simulator,
                self.hosts.iter().map(|h| q(h)).collect::<Vec<_>>().join(", "),
                self.settings
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", q(v)))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        let path = self.dir.path().join("c.toml");
        Config::parse(&text, &path, self.dir.path())
            .unwrap_or_else(|e| panic!("config: {e}\n{text}"))
    }

    pub async fn scan_all(&self) -> Vec<TenantScan> {
        let config = self.config();
        let runtime =
            Runtime::new(&config.limits, None, 32).unwrap_or_else(|e| panic!("runtime: {e}"));
        scan_tenants(&runtime, &config, &config.tenants, &Silent).await
    }

    pub async fn scan(&self) -> TenantScan {
        self.scan_all()
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no scan"))
    }
}

/// The `attribute` of the evidence grant a mode produced.
pub fn attribute(scan: &TenantScan, mode: &str, attribute: &str) -> String {
    scan.grants
        .iter()
        .find(|g| g.principal.id == mode)
        .and_then(|g| g.attributes.get(attribute).cloned())
        .unwrap_or_else(|| panic!("no evidence from {mode}; failures: {:?}", scan.failures))
}

/// What a mode reported as its outcome.
pub fn outcome(scan: &TenantScan, mode: &str) -> String {
    attribute(scan, mode, "outcome")
}

pub fn hostile_bytes() -> Vec<u8> {
    std::fs::read(grantscope_sandbox_tests::HOSTILE).unwrap_or_else(|e| panic!("read guest: {e}"))
}

pub fn runtime() -> Runtime {
    Runtime::new(&grantscope::config::Limits::default(), None, 2)
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Replaces every occurrence of `from` with `to` (same length).
pub fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut n = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
            n += 1;
        } else {
            i += 1;
        }
    }
    assert!(n > 0, "pattern not found");
    out
}
