//! Replay: serve a folder of recorded request/response pairs instead of a synthetic world.
//!
//! A connector author records what a real tenant answered (with the secrets taken out),
//! or takes the providers' documented examples in `testdata/providers/*/examples/`, and
//! runs the connector against them on loopback. Every recording is one JSON file in the
//! envelope the examples use:
//!
//! ```json
//! { "_meta": { ... },
//!   "request":  { "method": "GET", "host": "acme.okta.com", "path": "/api/v1/apps/{appId}/grants",
//!                 "query": { "limit": "200" } },
//!   "response": { "status": 200, "headers": { "Content-Type": "application/json" }, "body": [] } }
//! ```
//!
//! # Matching
//!
//! A request matches a recording when the method is the same, the paths have as many
//! segments and agree on each (after percent-decoding; a `{name}` segment in the
//! recording matches any one segment), and every recorded query parameter is in the
//! request with the same value (`{name}` again matches any). Extra request parameters
//! are allowed: connectors add `$select`, cursors and the like. The request body is not
//! compared. The most specific match wins: the same host (below), then most literal path
//! segments, then most query parameters. Recordings that tie (the same request recorded
//! more than once, a session) are served in file order, one per request, and the last
//! one repeats.
//!
//! # Hosts
//!
//! Every host arrives as the replay's own address, so a request names its host in the
//! path when it matters: `http://127.0.0.1:PORT/oauth2.googleapis.com/token` is
//! `/token` on `oauth2.googleapis.com`. The first segment counts as a host only when a
//! recording names that `request.host`. A host-addressed request matches recordings of
//! that host, or of none; a plain request matches recordings of any host. A connector
//! whose provider splits one API over several hosts (Google's `oauth2.` and `admin.`)
//! gets one base URL per host.
//!
//! # Rewriting
//!
//! Absolute URLs to any host named in a recording's `request.host` (`@odata.nextLink`,
//! Okta's `Link` headers) are rewritten to the replay, so pagination stays on the
//! replay instead of leaving for the real provider: to `{replay}/{host}/…` when the
//! request came host-addressed, to `{replay}/…` when it came plain.
//!
//! A request nothing matches gets a 404 with a JSON body naming it, and is listed in
//! [`ReplayReport::misses`] (`GET /_sim/replay`), so an author sees which calls the
//! recordings do not cover.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{QueryParams, Serving, base_url, loopback_if_unspecified, percent_decode};
use crate::{ShutdownSignal, SimError};

/// How many distinct missed requests [`ReplayReport::misses`] keeps; the count goes on.
const MAX_MISSES_KEPT: usize = 1000;
/// Recordings larger than this are refused: a replay folder is hand-made test data.
const MAX_RECORDING_BYTES: u64 = 16 * 1024 * 1024;
/// How deep [`Replay::load`] descends into sub-folders.
const MAX_DEPTH: usize = 8;
/// Headers that describe the recorded transfer, not the response; hyper sets its own.
const HOP_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// A folder of recordings, loaded and checked, not yet serving.
#[derive(Debug)]
pub struct Replay {
    dir: PathBuf,
    recordings: Vec<Recording>,
    /// Every `request.host` named, with its origins (`https://{host}`, `http://{host}`):
    /// absolute URLs starting so are rewritten to the replay.
    hosts: Vec<RecordedHost>,
}

/// A host some recording names.
#[derive(Debug)]
struct RecordedHost {
    name: String,
    /// `https://{name}` and `http://{name}`, built once rather than per response.
    origins: [String; 2],
}

#[derive(Debug)]
struct Recording {
    /// The file, relative to the replay folder (`okta/examples/apps-list.json`).
    file: String,
    method: String,
    /// `request.host`, lowercased; `None` matches a request for any host.
    host: Option<String>,
    path: Vec<Segment>,
    query: Vec<(String, Pattern)>,
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
    /// Whether `body` came from a JSON value (a default content type applies).
    json: bool,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Any,
}

#[derive(Debug, PartialEq)]
enum Pattern {
    Exactly(String),
    Any,
}

impl Pattern {
    fn parse(s: String) -> Self {
        if is_placeholder(&s) {
            Self::Any
        } else {
            Self::Exactly(s)
        }
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            Self::Exactly(x) => x == v,
            Self::Any => true,
        }
    }
}

fn is_placeholder(s: &str) -> bool {
    s.len() > 2 && s.starts_with('{') && s.ends_with('}') && !s[1..s.len() - 1].contains('/')
}

/// The part of a recording file [`Replay`] reads; `_meta` and anything else is ignored.
#[derive(Deserialize)]
struct Envelope {
    request: RecordedRequest,
    response: RecordedResponse,
}

#[derive(Deserialize)]
struct RecordedRequest {
    method: String,
    #[serde(default)]
    host: Option<String>,
    path: String,
    #[serde(default)]
    query: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct RecordedResponse {
    status: u16,
    #[serde(default)]
    headers: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    body: Value,
}

impl Replay {
    /// Loads every `*.json` file under `dir` (recursively, in path order; other files
    /// such as `SOURCES.md` are skipped). A JSON file that is not a recording is an
    /// error naming it: a silently skipped recording would make a replay test lie.
    pub fn load(dir: &Path) -> Result<Self, SimError> {
        let mut files = Vec::new();
        collect_json(dir, 0, &mut files)?;
        files.sort();
        let mut recordings = Vec::with_capacity(files.len());
        let mut hosts = BTreeSet::new();
        for path in files {
            let bad = |reason: String| SimError::ReplayFile {
                path: path.clone(),
                reason,
            };
            let size = std::fs::metadata(&path)
                .map_err(|source| SimError::ReplayRead {
                    path: path.clone(),
                    source,
                })?
                .len();
            if size > MAX_RECORDING_BYTES {
                return Err(bad(format!(
                    "{size} bytes is more than the {MAX_RECORDING_BYTES} a recording may have"
                )));
            }
            let text = std::fs::read(&path).map_err(|source| SimError::ReplayRead {
                path: path.clone(),
                source,
            })?;
            let env: Envelope = serde_json::from_slice(&text).map_err(|e| {
                bad(format!(
                    "not a recording ({e}); expected {{\"request\": {{\"method\", \"path\", \
                     \"query\"?}}, \"response\": {{\"status\", \"headers\"?, \"body\"?}}}}"
                ))
            })?;
            let file = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let recording = Recording::new(file, env).map_err(bad)?;
            hosts.extend(recording.host.clone());
            recordings.push(recording);
        }
        if recordings.is_empty() {
            return Err(SimError::ReplayEmpty {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            recordings,
            hosts: recorded_hosts(hosts),
        })
    }

    /// How many recordings were loaded.
    pub fn len(&self) -> usize {
        self.recordings.len()
    }

    /// Whether no recording was loaded (never true of a [`Replay::load`] result).
    pub fn is_empty(&self) -> bool {
        self.recordings.is_empty()
    }

    /// Binds `listen` and serves the recordings in a tokio task.
    pub async fn start(self, listen: SocketAddr) -> Result<RunningReplay, SimError> {
        let (listener, addr) = crate::http::bind(listen).await?;
        let state = Arc::new(ReplayState::new(addr, self));
        let app = Router::new()
            .route("/_sim/replay", get(report))
            .fallback(serve)
            .with_state(state.clone());
        let serving = Serving::start(listener, app);
        tracing::info!(
            %addr,
            recordings = state.replay.len(),
            dir = %state.replay.dir.display(),
            "replay listening"
        );
        Ok(RunningReplay {
            state,
            addr,
            serving,
        })
    }
}

impl Recording {
    /// Checks one envelope; the error is the reason, the caller adds the file.
    fn new(file: String, env: Envelope) -> Result<Self, String> {
        let req = env.request;
        let method = req.method.trim().to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "`request.method` {:?} is not an HTTP method",
                req.method
            ));
        }
        let (raw_path, inline_query) = match req.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (req.path.as_str(), None),
        };
        if !raw_path.starts_with('/') {
            return Err(format!("`request.path` {:?} must start with `/`", req.path));
        }
        let path = segments(raw_path)
            .map(|s| {
                if is_placeholder(&s) {
                    Segment::Any
                } else {
                    Segment::Literal(s)
                }
            })
            .collect();
        let mut query: Vec<(String, Pattern)> = inline_query
            .map(QueryParams::parse)
            .map(QueryParams::into_pairs)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Pattern::parse(v)))
            .collect();
        for (k, v) in req.query.unwrap_or_default() {
            let v = scalar(&v).ok_or_else(|| {
                format!("query parameter `{k}` must be a string, number or boolean")
            })?;
            query.push((k, Pattern::parse(v)));
        }
        let res = env.response;
        let status = StatusCode::from_u16(res.status)
            .ok()
            .filter(|s| (100..=599).contains(&s.as_u16()))
            .ok_or_else(|| format!("`response.status` {} is not an HTTP status", res.status))?;
        let mut headers = Vec::new();
        for (k, v) in res.headers.unwrap_or_default() {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("`{k}` is not a header name"))?;
            if HOP_HEADERS.contains(&name.as_str()) {
                continue;
            }
            let v = scalar(&v).ok_or_else(|| format!("header `{k}` must be a string"))?;
            HeaderValue::from_str(&v).map_err(|_| format!("header `{k}` has a bad value"))?;
            headers.push((name, v));
        }
        let (body, json) = match res.body {
            Value::Null => (Vec::new(), false),
            Value::String(s) => (s.into_bytes(), false),
            other => (
                serde_json::to_vec(&other).map_err(|e| format!("body: {e}"))?,
                true,
            ),
        };
        let host = req
            .host
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        Ok(Self {
            file,
            method,
            host,
            path,
            query,
            status,
            headers,
            body,
            json,
        })
    }

    /// How specifically this recording matches, or `None`: (the request named this
    /// recording's host, literal path segments, query parameters).
    fn score(&self, req: &Incoming<'_>) -> Option<(bool, usize, usize)> {
        let Incoming {
            method,
            host,
            path,
            query,
        } = req;
        let same_host = match (host, &self.host) {
            (Some(asked), Some(recorded)) if asked != recorded => return None,
            (Some(_), Some(_)) => true,
            _ => false,
        };
        if self.method != *method || self.path.len() != path.len() {
            return None;
        }
        let mut literal = 0;
        for (want, have) in self.path.iter().zip(path.iter()) {
            match want {
                Segment::Literal(s) if s == have => literal += 1,
                Segment::Literal(_) => return None,
                Segment::Any => {}
            }
        }
        for (k, want) in &self.query {
            if !query.all(&[k.as_str()]).any(|v| want.matches(v)) {
                return None;
            }
        }
        Some((same_host, literal, self.query.len()))
    }
}

/// A request as matching sees it.
struct Incoming<'a> {
    method: &'a str,
    /// The host named by the path's first segment, when a recording names it.
    host: Option<&'a str>,
    /// The path after the host segment, percent-decoded.
    path: &'a [String],
    query: &'a QueryParams,
}

fn recorded_hosts(hosts: BTreeSet<String>) -> Vec<RecordedHost> {
    hosts
        .into_iter()
        .map(|name| RecordedHost {
            origins: [format!("https://{name}"), format!("http://{name}")],
            name,
        })
        .collect()
}

/// A JSON scalar as the text a query string or header carries.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Path segments after the leading `/`, each percent-decoded (a `+` in a path is a
/// plus, not a space).
fn segments(path: &str) -> impl Iterator<Item = String> + '_ {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|s| percent_decode(&s.replace('+', "%2B")))
}

/// Collects `*.json` under `dir`, following symbolic links (a replay folder is often a
/// set of links to recordings kept elsewhere) down to [`MAX_DEPTH`] levels, which also
/// stops a link loop.
fn collect_json(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SimError> {
    let read = |source| SimError::ReplayRead {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            if depth >= MAX_DEPTH {
                return Err(SimError::ReplayFile {
                    path,
                    reason: format!(
                        "folders nest deeper than {MAX_DEPTH} levels (a symbolic link loop?)"
                    ),
                });
            }
            collect_json(&path, depth + 1, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// What a replay served so far (`GET /_sim/replay`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Recordings loaded.
    pub recordings: usize,
    /// Requests answered from a recording.
    pub served: u64,
    /// Requests no recording matched.
    pub missed: u64,
    /// Per recording file (relative to the folder), how often it answered; files never
    /// used are listed with 0.
    pub hits: Vec<FileHits>,
    /// The distinct unmatched requests (`GET /path?query`), first seen first, at most
    /// 1000.
    pub misses: Vec<String>,
}

impl ReplayReport {
    /// A few lines for a person: totals, the recordings never used, every miss.
    pub fn summary(&self) -> String {
        let unused: Vec<&str> = self
            .hits
            .iter()
            .filter(|h| h.hits == 0)
            .map(|h| h.file.as_str())
            .collect();
        let mut out = format!(
            "replay: {} requests answered from {} recordings, {} matched none; {} recordings \
             never used",
            self.served,
            self.recordings,
            self.missed,
            unused.len()
        );
        for m in &self.misses {
            out.push_str(&format!("\n  no recording for {m}"));
        }
        if self.misses.len() >= MAX_MISSES_KEPT {
            out.push_str(&format!(
                "\n  (only the first {MAX_MISSES_KEPT} distinct misses are listed)"
            ));
        }
        out
    }
}

/// How often one recording answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHits {
    /// The file, relative to the replay folder.
    pub file: String,
    /// Requests it answered.
    pub hits: u64,
}

struct ReplayState {
    bound: SocketAddr,
    replay: Replay,
    log: Mutex<Log>,
}

struct Log {
    /// Hits per recording, by index.
    hits: Vec<u64>,
    /// Requests served per tie group (the best candidates' indices), for sequencing.
    sequence: HashMap<Vec<usize>, usize>,
    missed: u64,
    /// Distinct misses, first seen first (at most [`MAX_MISSES_KEPT`]).
    misses: Vec<String>,
}

impl ReplayState {
    fn new(bound: SocketAddr, replay: Replay) -> Self {
        let log = Log {
            hits: vec![0; replay.len()],
            sequence: HashMap::new(),
            missed: 0,
            misses: Vec::new(),
        };
        Self {
            bound,
            replay,
            log: Mutex::new(log),
        }
    }

    fn report(&self) -> ReplayReport {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        ReplayReport {
            recordings: self.replay.len(),
            served: log.hits.iter().sum(),
            missed: log.missed,
            hits: self
                .replay
                .recordings
                .iter()
                .zip(&log.hits)
                .map(|(r, &hits)| FileHits {
                    file: r.file.clone(),
                    hits,
                })
                .collect(),
            misses: log.misses.clone(),
        }
    }

    /// The recording that answers, advancing the tie group's sequence.
    fn pick(&self, req: &Incoming<'_>) -> Option<&Recording> {
        let scored: Vec<(usize, (bool, usize, usize))> = self
            .replay
            .recordings
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.score(req).map(|s| (i, s)))
            .collect();
        let best = scored.iter().map(|(_, s)| *s).max()?;
        let group: Vec<usize> = scored
            .into_iter()
            .filter(|(_, s)| *s == best)
            .map(|(i, _)| i)
            .collect();
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let turn = log.sequence.entry(group.clone()).or_insert(0);
        let index = group[(*turn).min(group.len() - 1)];
        *turn += 1;
        if let Some(h) = log.hits.get_mut(index) {
            *h += 1;
        }
        self.replay.recordings.get(index)
    }

    fn miss(&self, what: String) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.missed += 1;
        if log.misses.len() < MAX_MISSES_KEPT && !log.misses.contains(&what) {
            log.misses.push(what);
        }
    }

    /// `text` with every absolute URL to a recorded host pointed at the replay at
    /// `base`: at `{base}/{host}` when `addressed` (the client names hosts), else at
    /// `base`.
    fn rewrite(&self, text: &str, base: &str, addressed: bool) -> String {
        let mut out = text.to_owned();
        for host in &self.replay.hosts {
            for origin in &host.origins {
                if out.contains(origin.as_str()) {
                    let to = if addressed {
                        format!("{base}/{}", host.name)
                    } else {
                        base.to_owned()
                    };
                    out = out.replace(origin.as_str(), &to);
                }
            }
        }
        out
    }

    /// Splits a host-addressed path (`/{host}/rest`) when a recording names that host
    /// (host names are case-insensitive).
    fn split_host<'s, 'p>(&'s self, path: &'p [String]) -> (Option<&'s str>, &'p [String]) {
        if let Some((first, rest)) = path.split_first()
            && let Some(host) = self
                .replay
                .hosts
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(first))
        {
            return (Some(host.name.as_str()), rest);
        }
        (None, path)
    }
}

async fn report(State(state): State<Arc<ReplayState>>) -> Response {
    axum::Json(state.report()).into_response()
}

async fn serve(State(state): State<Arc<ReplayState>>, req: Request) -> Response {
    let method = req.method().as_str().to_ascii_uppercase();
    let uri = req.uri().clone();
    let segments: Vec<String> = segments(uri.path()).collect();
    let query = QueryParams::parse(uri.query().unwrap_or(""));
    let (host, path) = state.split_host(&segments);
    let incoming = Incoming {
        method: &method,
        host,
        path,
        query: &query,
    };
    let Some(rec) = state.pick(&incoming) else {
        let what = describe(&method, uri.path(), &query);
        tracing::warn!(request = %what, "replay: no recording matches");
        state.miss(what.clone());
        let body = serde_json::json!({
            "error": "no_recording",
            "message": format!("grantscope replay: no recording matches {what}"),
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let base = base_url(req.headers(), state.bound);
    let mut headers = HeaderMap::new();
    for (name, value) in &rec.headers {
        // Checked at load; a rewritten URL only swaps one valid host for another.
        if let Ok(v) = HeaderValue::from_str(&state.rewrite(value, &base, host.is_some())) {
            headers.append(name.clone(), v);
        }
    }
    if rec.json && !headers.contains_key(axum::http::header::CONTENT_TYPE) {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&rec.file) {
        headers.insert(HeaderName::from_static("x-grantscope-replay"), v);
    }
    let body = match std::str::from_utf8(&rec.body) {
        Ok(text) if !state.replay.hosts.is_empty() => {
            state.rewrite(text, &base, host.is_some()).into_bytes()
        }
        _ => rec.body.clone(),
    };
    (rec.status, headers, Body::from(body)).into_response()
}

/// Query parameter names whose values are credentials (Slack's `apps.uninstall` takes
/// `client_secret` in the query): a miss names them but never echoes the value.
const SECRET_PARAMS: [&str; 7] = [
    "secret",
    "token",
    "password",
    "assertion",
    "code",
    "key",
    "signature",
];

/// `GET /path?a=1&client_secret=<redacted>`: a miss as it is logged and listed.
fn describe(method: &str, path: &str, query: &QueryParams) -> String {
    let pairs: Vec<String> = query
        .pairs()
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            if SECRET_PARAMS.iter().any(|s| lower.contains(s)) {
                format!("{k}=<redacted>")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    if pairs.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{}", pairs.join("&"))
    }
}

/// A replay serving on loopback. Dropping it stops the server.
pub struct RunningReplay {
    state: Arc<ReplayState>,
    addr: SocketAddr,
    serving: Serving,
}

impl std::fmt::Debug for RunningReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningReplay")
            .field("addr", &self.addr)
            .field("recordings", &self.state.replay.len())
            .finish_non_exhaustive()
    }
}

impl RunningReplay {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", loopback_if_unspecified(self.addr))
    }

    /// What was served and missed so far.
    pub fn report(&self) -> ReplayReport {
        self.state.report()
    }

    /// Stops serving and waits (briefly) for in-flight requests.
    pub async fn shutdown(mut self) {
        self.serving.shutdown().await;
    }

    /// Serves until `signal` fires, then shuts down and returns the final report.
    pub async fn serve_until(mut self, signal: ShutdownSignal) -> Result<ReplayReport, SimError> {
        let result = signal.wait().await;
        self.serving.shutdown().await;
        result.map(|()| self.state.report())
    }

    /// `--replay DIR` for both command lines (`grantscope sim`, `grantscope-sim`): load,
    /// install the signal handlers (before announcing, see [`ShutdownSignal`]), start,
    /// print the address line their contract promises on stdout, serve until Ctrl-C /
    /// SIGTERM, then print what was served and missed on stderr.
    #[allow(
        clippy::print_stdout,
        clippy::print_stderr,
        reason = "the command lines' shared contract: one line on stdout, the rest on stderr"
    )]
    pub async fn run_command(dir: &Path, listen: SocketAddr) -> Result<(), SimError> {
        use std::io::Write as _;
        let replay = Replay::load(dir)?;
        let signal = ShutdownSignal::install()?;
        let running = replay.start(listen).await?;
        eprintln!(
            "replaying {} recordings from {}",
            running.state.replay.len(),
            dir.display()
        );
        println!("grantscope-sim listening on {}", running.base_url());
        let _ = std::io::stdout().flush();
        let report = running.serve_until(signal).await?;
        eprintln!("{}", report.summary());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(path: &str, query: &Value) -> Recording {
        let env: Envelope = serde_json::from_value(serde_json::json!({
            "request": {"method": "get", "path": path, "query": query},
            "response": {"status": 200, "body": {}},
        }))
        .expect("envelope");
        Recording::new("r.json".into(), env).expect("valid")
    }

    fn score(r: &Recording, path: &str, query: &str) -> Option<(usize, usize)> {
        let path: Vec<String> = segments(path).collect();
        let query = QueryParams::parse(query);
        let req = Incoming {
            method: "GET",
            host: None,
            path: &path,
            query: &query,
        };
        r.score(&req).map(|(_, literal, params)| (literal, params))
    }

    #[test]
    fn placeholders_match_one_segment_and_literals_score() {
        let r = recording(
            "/api/v1/apps/{appId}/grants",
            &serde_json::json!({"limit": 200}),
        );
        assert_eq!(
            score(&r, "/api/v1/apps/0oa1/grants", "limit=200&after=x"),
            Some((4, 1))
        );
        assert_eq!(score(&r, "/api/v1/apps/0oa1/grants", "limit=20"), None);
        assert_eq!(score(&r, "/api/v1/apps/0oa1/x/grants", "limit=200"), None);
        assert_eq!(score(&r, "/api/v1/apps/0oa1/grants", ""), None);
        let r = recording("/users/a%40b.com/tokens", &Value::Null);
        assert_eq!(score(&r, "/users/a@b.com/tokens", ""), Some((3, 0)));
        let r = recording("/q?x={any}", &Value::Null);
        assert_eq!(score(&r, "/q", "x=1"), Some((1, 1)));
        assert_eq!(score(&r, "/q", "y=1"), None);
    }

    #[test]
    fn bad_envelopes_say_why() {
        let bad = |v: Value| {
            let env: Envelope = serde_json::from_value(v).expect("shape");
            Recording::new("r.json".into(), env).expect_err("refused")
        };
        let ok = serde_json::json!({"status": 200});
        assert!(
            bad(serde_json::json!({"request": {"method": "G T", "path": "/"}, "response": ok}))
                .contains("not an HTTP method")
        );
        assert!(
            bad(serde_json::json!({"request": {"method": "GET", "path": "x"}, "response": ok}))
                .contains("must start with")
        );
        assert!(
            bad(
                serde_json::json!({"request": {"method": "GET", "path": "/"},
            "response": {"status": 42}})
            )
            .contains("not an HTTP status")
        );
        assert!(
            bad(serde_json::json!({"request": {"method": "GET", "path": "/",
            "query": {"a": [1]}}, "response": ok}))
            .contains("`a`")
        );
    }

    fn state(recordings: Vec<Recording>, hosts: &[&str]) -> ReplayState {
        let hosts: BTreeSet<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let replay = Replay {
            dir: PathBuf::from("r"),
            recordings,
            hosts: recorded_hosts(hosts),
        };
        ReplayState::new(SocketAddr::from(([127, 0, 0, 1], 9)), replay)
    }

    fn named(file: &str, path: &str, query: &Value) -> Recording {
        Recording {
            file: file.to_owned(),
            ..recording(path, query)
        }
    }

    fn picked(s: &ReplayState, path: &str, query: &str) -> Option<String> {
        let segments: Vec<String> = segments(path).collect();
        let query = QueryParams::parse(query);
        let (host, path) = s.split_host(&segments);
        let req = Incoming {
            method: "GET",
            host,
            path,
            query: &query,
        };
        s.pick(&req).map(|r| r.file.clone())
    }

    #[test]
    fn the_most_specific_recording_answers_and_ties_play_in_order() {
        let s = state(
            vec![
                named(
                    "page-1.json",
                    "/api/list",
                    &serde_json::json!({"org": "E1"}),
                ),
                named(
                    "page-2.json",
                    "/api/list",
                    &serde_json::json!({"org": "E1"}),
                ),
                named(
                    "limited.json",
                    "/api/list",
                    &serde_json::json!({"org": "E1", "limit": 100}),
                ),
                named("any.json", "/api/{method}", &Value::Null),
            ],
            &[],
        );
        // A session: the same request answered by each recording in turn, then the
        // last one again.
        assert_eq!(
            picked(&s, "/api/list", "org=E1").as_deref(),
            Some("page-1.json")
        );
        assert_eq!(
            picked(&s, "/api/list", "org=E1").as_deref(),
            Some("page-2.json")
        );
        assert_eq!(
            picked(&s, "/api/list", "org=E1").as_deref(),
            Some("page-2.json")
        );
        // More query parameters matched wins; a literal segment beats a placeholder.
        assert_eq!(
            picked(&s, "/api/list", "limit=100&org=E1&cursor=x").as_deref(),
            Some("limited.json")
        );
        assert_eq!(
            picked(&s, "/api/list", "org=E2").as_deref(),
            Some("any.json")
        );
        assert_eq!(picked(&s, "/other/list", ""), None);
        let report = s.report();
        assert_eq!(report.served, 5);
        let hits: Vec<u64> = report.hits.iter().map(|h| h.hits).collect();
        assert_eq!(hits, [1, 2, 1, 1]);
    }

    #[test]
    fn urls_to_recorded_hosts_lead_back_to_the_replay() {
        let s = state(Vec::new(), &["acme.okta.com", "graph.microsoft.com"]);
        let base = "http://127.0.0.1:9";
        let link = "<https://acme.okta.com/api/v1/apps?after=x>; rel=\"next\"";
        assert_eq!(
            s.rewrite(link, base, false),
            "<http://127.0.0.1:9/api/v1/apps?after=x>; rel=\"next\""
        );
        // A client that names hosts keeps naming them.
        assert_eq!(
            s.rewrite(link, base, true),
            "<http://127.0.0.1:9/acme.okta.com/api/v1/apps?after=x>; rel=\"next\""
        );
        assert_eq!(
            s.rewrite(
                "{\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/x\"}",
                base,
                false
            ),
            "{\"@odata.nextLink\":\"http://127.0.0.1:9/v1.0/x\"}"
        );
        assert_eq!(
            s.rewrite("https://evil.example/x", base, true),
            "https://evil.example/x"
        );
    }

    #[test]
    fn a_request_may_name_its_host_in_the_path() {
        let hosted = |file: &str, host: &str| {
            let env: Envelope = serde_json::from_value(serde_json::json!({
                "request": {"method": "GET", "host": host, "path": "/v1/me"},
                "response": {"status": 200, "body": {}},
            }))
            .expect("envelope");
            Recording::new(file.into(), env).expect("valid")
        };
        let s = state(
            vec![
                hosted("oauth.json", "Oauth2.googleapis.com"),
                hosted("admin.json", "admin.googleapis.com"),
                named("anywhere.json", "/v1/me", &Value::Null),
            ],
            &["oauth2.googleapis.com", "admin.googleapis.com"],
        );
        // Host-addressed: that host's recording beats the one that names no host.
        assert_eq!(
            picked(&s, "/admin.googleapis.com/v1/me", "").as_deref(),
            Some("admin.json")
        );
        assert_eq!(
            picked(&s, "/OAUTH2.googleapis.com/v1/me", "").as_deref(),
            Some("oauth.json")
        );
        // A recording of another host never answers; one of no host still may.
        let s = state(
            vec![
                hosted("admin.json", "admin.googleapis.com"),
                named("anywhere.json", "/v1/me", &Value::Null),
            ],
            &["oauth2.googleapis.com", "admin.googleapis.com"],
        );
        assert_eq!(
            picked(&s, "/oauth2.googleapis.com/v1/me", "").as_deref(),
            Some("anywhere.json")
        );
        // Plain: any host's recording matches, ties in file order.
        assert_eq!(picked(&s, "/v1/me", "").as_deref(), Some("admin.json"));
        // A first segment that no recording names is just a path segment.
        assert_eq!(picked(&s, "/example.com/v1/me", ""), None);
    }

    #[test]
    fn misses_never_echo_credentials() {
        let q = QueryParams::parse("client_id=1&client_secret=s3cr3t&access_token=t0k&limit=5");
        let d = describe("GET", "/api/apps.uninstall", &q);
        assert_eq!(
            d,
            "GET /api/apps.uninstall?client_id=1&client_secret=<redacted>&\
             access_token=<redacted>&limit=5"
        );
    }

    #[test]
    fn misses_are_counted_and_listed_once() {
        let s = state(Vec::new(), &[]);
        s.miss("GET /a".into());
        s.miss("GET /a".into());
        s.miss("DELETE /b".into());
        let r = s.report();
        assert_eq!((r.missed, r.misses.len()), (3, 2));
        assert!(r.summary().contains("no recording for DELETE /b"));
    }
}
