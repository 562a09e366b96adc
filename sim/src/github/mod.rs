//! The GitHub REST API simulator: routes, auth, rate limits and fault rendering.
//!
//! Served at the root of the simulator (the tenant's `api_base` is the simulator URL),
//! speaking the org-scope endpoints of `shared/providers/github/API.md`.

mod auth;
mod catalog;
mod model;
mod page;
mod render;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LINK, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::DecodingKey;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) use model::{AUDITOR_APP_ID, GithubState, IdPool, VendorApps};

use crate::Shared;
use crate::faults::{Fault, FaultKind};
use crate::http::{self, QueryParams};
use auth::JwtRejection;
use model::{FineGrained, Org, PROVIDER};
use page::PageReq;

/// Primary rate limit of an installation token on a GHEC org, per hour.
const HOURLY_LIMIT: u64 = 15_000;
const DOCS: &str = "https://docs.github.com/rest";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// GitHub-specific run-time state.
pub(crate) struct GithubSim {
    state: Mutex<GithubState>,
    budgets: Mutex<HashMap<String, Budget>>,
    app_key: DecodingKey,
    /// JWT `iss` values accepted: the app id and the client id.
    issuers: [String; 2],
}

impl GithubSim {
    pub(crate) fn new(state: GithubState, app_key: DecodingKey) -> Self {
        let issuers = [AUDITOR_APP_ID.to_string(), state.auditor_client_id.clone()];
        Self { state: Mutex::new(state), budgets: Mutex::default(), app_key, issuers }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, GithubState> {
        // Handlers never leave the state half-updated across a panic point, so a poisoned
        // lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Org logins, in config order.
    pub(crate) fn org_logins(&self) -> Vec<String> {
        self.state().orgs.iter().map(|o| o.login.clone()).collect()
    }

    fn check_jwt(&self, ctx: &Ctx) -> Result<(), ApiError> {
        let token = ctx.credential.as_deref().ok_or(ApiError::BadJwt)?;
        let issuers = [self.issuers[0].as_str(), self.issuers[1].as_str()];
        auth::verify_app_jwt(token, &self.app_key, &issuers, unix_now()).map_err(|why: JwtRejection| {
            tracing::debug!(?why, "app JWT refused");
            ApiError::BadJwt
        })
    }
}

/// Which hourly budget a request draws from.
enum Bucket {
    Installation { token: String, id: u64 },
    App,
    Anonymous(String),
}

impl Bucket {
    fn key(&self) -> String {
        match self {
            Self::Installation { token, .. } => format!("token:{token}"),
            Self::App => "app".to_owned(),
            Self::Anonymous(ip) => format!("ip:{ip}"),
        }
    }

    fn exceeded(&self) -> String {
        match self {
            Self::Installation { id, .. } => format!("API rate limit exceeded for installation ID {id}."),
            Self::App => format!("API rate limit exceeded for app ID {AUDITOR_APP_ID}."),
            Self::Anonymous(ip) => format!("API rate limit exceeded for {ip}."),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Budget {
    used: u64,
    reset: i64,
}

/// Values of the `x-ratelimit-*` headers.
#[derive(Clone, Copy, Debug)]
struct Rate {
    remaining: u64,
    used: u64,
    reset: i64,
}

impl GithubSim {
    fn bucket(&self, req: &Request) -> Bucket {
        let cred = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(auth::bearer);
        if let Some(cred) = cred {
            if let Some(t) = self.state().tokens.get(cred) {
                return Bucket::Installation { token: cred.to_owned(), id: t.installation_id };
            }
            if auth::looks_like_jwt(cred) {
                return Bucket::App;
            }
        }
        let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        Bucket::Anonymous(ip.unwrap_or_else(|| "127.0.0.1".to_owned()))
    }

    /// Spends one request from the bucket; `Err` when the hour's budget is gone.
    fn spend(&self, bucket: &Bucket, now: i64, spend: bool) -> Result<Rate, Rate> {
        let mut budgets = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = budgets.entry(bucket.key()).or_insert(Budget { used: 0, reset: now + 3600 });
        if now >= b.reset {
            *b = Budget { used: 0, reset: now + 3600 };
        }
        if spend && b.used >= HOURLY_LIMIT {
            return Err(Rate { remaining: 0, used: b.used, reset: b.reset });
        }
        b.used += u64::from(spend);
        Ok(Rate { remaining: HOURLY_LIMIT.saturating_sub(b.used), used: b.used, reset: b.reset })
    }
}

/// Everything a handler needs from the request line and headers.
struct Ctx {
    base: String,
    path: String,
    raw_query: String,
    query: QueryParams,
    credential: Option<String>,
}

impl FromRequestParts<Arc<Shared>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let raw_query = parts.uri.query().unwrap_or_default().to_owned();
        let credential = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::bearer)
            .map(str::to_owned);
        Ok(Self {
            base: http::base_url(&parts.headers, sim.bound),
            path: parts.uri.path().to_owned(),
            query: QueryParams::parse(&raw_query),
            raw_query,
            credential,
        })
    }
}

/// GitHub's error answers.
#[derive(Debug)]
enum ApiError {
    BadCredentials,
    BadJwt,
    NotAccessible,
    NotFound,
    BadJson,
    Invalid { field: &'static str, code: &'static str, message: String },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                json!({"message": "Bad credentials", "documentation_url": DOCS}),
            ),
            Self::BadJwt => (
                StatusCode::UNAUTHORIZED,
                json!({"message": "A JSON web token could not be decoded", "documentation_url": DOCS}),
            ),
            Self::NotAccessible => (
                StatusCode::FORBIDDEN,
                json!({"message": "Resource not accessible by integration", "documentation_url": DOCS}),
            ),
            Self::NotFound => return basic_error(StatusCode::NOT_FOUND, "Not Found"),
            Self::BadJson => return basic_error(StatusCode::BAD_REQUEST, "Problems parsing JSON"),
            Self::Invalid { field, code, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "message": "Validation Failed",
                    "errors": [{"resource": "Request", "field": field, "code": code, "message": message}],
                    "documentation_url": DOCS,
                    "status": "422",
                }),
            ),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A `basic-error` body (the shape of `examples/error-404-not-found.json`).
fn basic_error(status: StatusCode, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": DOCS, "status": status.as_str()});
    (status, axum::Json(body)).into_response()
}

fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid { field, code: "invalid", message: message.into() }
}

/// The routes, wrapped in the GitHub layer (rate limits, faults, headers).
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/installation", get(get_org_installation))
        .route("/app/installations/{id}/access_tokens", post(create_token))
        .route("/orgs/{org}/installations", get(list_installations))
        .route("/orgs/{org}/credential-authorizations", get(list_credentials))
        .route("/orgs/{org}/credential-authorizations/{id}", axum::routing::delete(delete_credential))
        .route("/orgs/{org}/personal-access-tokens", get(list_pat_grants).post(revoke_pats))
        .route("/orgs/{org}/personal-access-tokens/{id}", post(revoke_pat))
        .route("/orgs/{org}/personal-access-token-requests", get(list_pat_requests))
        .route(
            "/orgs/{org}/personal-access-tokens/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: Path<(String, String)>| repos(s, c, p, false, false)),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: Path<(String, String)>| repos(s, c, p, false, true)),
        )
        .route(
            "/organizations/{org}/personal-access-tokens/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: Path<(String, String)>| repos(s, c, p, true, false)),
        )
        .route(
            "/organizations/{org}/personal-access-token-requests/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: Path<(String, String)>| repos(s, c, p, true, true)),
        )
        // GitHub answers unknown paths and methods alike with a 404 body.
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(shared, layer))
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// Mutations are the revocation endpoints; only they can fail after changing state.
fn is_mutation(method: &Method, path: &str) -> bool {
    *method == Method::DELETE || (*method == Method::POST && path.starts_with("/orgs/"))
}

/// Rate limits, fault injection and the headers every GitHub response carries.
async fn layer(State(sim): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    sim.stats.request();
    let now = unix_now();
    let gh = &sim.github;
    let bucket = gh.bucket(&req);
    let fault = sim.faults.draw(is_mutation(req.method(), req.uri().path()));
    if let Some(f) = fault {
        sim.stats.fault(f.throttles());
        tracing::debug!(kind = ?f.kind, after_state = f.after_state, path = %req.uri().path(), "injecting fault");
    }
    let mut rate = gh.spend(&bucket, now, false).unwrap_or_else(|r| r);
    let response = match fault {
        Some(Fault { kind: FaultKind::PrimaryRateLimit, .. }) => {
            rate = Rate { remaining: 0, used: HOURLY_LIMIT, reset: now + 1 };
            rate_limited(&bucket)
        }
        Some(Fault { kind, after_state: false }) if kind != FaultKind::Slow => fault_response(kind, None).await,
        _ => {
            if matches!(fault, Some(Fault { kind: FaultKind::Slow, .. })) {
                let ms = rand::rng().random_range(1000..=2000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            match gh.spend(&bucket, now, true) {
                Err(r) => {
                    sim.stats.throttled();
                    rate = r;
                    rate_limited(&bucket)
                }
                Ok(r) => {
                    rate = r;
                    let response = next.run(req).await;
                    match fault {
                        Some(Fault { kind, after_state: true }) => fault_response(kind, Some(response)).await,
                        _ => response,
                    }
                }
            }
        }
    };
    decorate(response, rate)
}

/// The primary rate-limit answer.
fn rate_limited(bucket: &Bucket) -> Response {
    let body = json!({
        "message": bucket.exceeded(),
        "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// Renders an injected fault. `processed` is the real response when the fault strikes
/// after the handler ran (its body is what gets truncated).
async fn fault_response(kind: FaultKind, processed: Option<Response>) -> Response {
    let body_of = |r: Option<Response>| async move {
        match r {
            Some(r) => axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap_or_default(),
            None => Bytes::new(),
        }
    };
    match kind {
        FaultKind::SecondaryRateLimit => {
            let body = json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            });
            ([(RETRY_AFTER, "1")], (StatusCode::TOO_MANY_REQUESTS, axum::Json(body))).into_response()
        }
        // Rendered by the layer (it needs the bucket) / pure latency: nothing to change.
        FaultKind::PrimaryRateLimit | FaultKind::Slow => {
            processed.unwrap_or_else(|| basic_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"))
        }
        FaultKind::ServerError => basic_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        FaultKind::BadGateway => basic_error(StatusCode::BAD_GATEWAY, "Bad Gateway"),
        FaultKind::Unavailable => basic_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        FaultKind::ConnectionReset => {
            let full = truncatable(body_of(processed).await);
            let half = full.slice(..full.len() / 2);
            // Announce the full length, send half, then fail the stream: hyper aborts the
            // connection, which is what a reset looks like to the client.
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(half), Err(std::io::ErrorKind::ConnectionReset.into())];
            let mut r = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(full.len()));
            r
        }
        FaultKind::Malformed => {
            let full = truncatable(body_of(processed).await);
            // Any strict prefix of a JSON object or array is invalid JSON.
            let half = full.slice(..full.len() / 2);
            (StatusCode::OK, half).into_response()
        }
    }
}

/// A body worth truncating: empty answers (204) get a stand-in so the damage shows.
fn truncatable(body: Bytes) -> Bytes {
    if body.len() < 2 {
        Bytes::from_static(br#"{"message":"OK","documentation_url":"https://docs.github.com/rest"}"#)
    } else {
        body
    }
}

/// Adds the headers GitHub puts on every API response.
fn decorate(mut response: Response, rate: Rate) -> Response {
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-ratelimit-limit", HOURLY_LIMIT.to_string());
    set("x-ratelimit-remaining", rate.remaining.to_string());
    set("x-ratelimit-used", rate.used.to_string());
    set("x-ratelimit-reset", rate.reset.to_string());
    set("x-ratelimit-resource", "core".to_owned());
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    let mut rng = rand::rng();
    set(
        "x-github-request-id",
        format!(
            "{:04X}:{:04X}:{:06X}:{:07X}:{:08X}",
            rng.random::<u16>(),
            rng.random::<u16>(),
            rng.random_range(0..0x100_0000u32),
            rng.random_range(0..0x1000_0000u32),
            rng.random::<u32>()
        ),
    );
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// Wall-clock seconds (tokens and JWTs live in real time, unlike the synthetic history).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The org a valid installation token may read: 401 without a live token, 404 for an
/// unknown org, 403 for another org's token.
fn token_org(gh: &GithubState, ctx: &Ctx, org: &str, by_id: bool) -> Result<usize, ApiError> {
    let cred = ctx.credential.as_deref().ok_or(ApiError::BadCredentials)?;
    let token = gh.tokens.get(cred).filter(|t| t.expires_at > unix_now()).ok_or(ApiError::BadCredentials)?;
    let index = if by_id {
        let id: u64 = org.parse().map_err(|_| ApiError::NotFound)?;
        gh.orgs.iter().position(|o| o.id == id)
    } else {
        gh.org_index(org)
    };
    let index = index.ok_or(ApiError::NotFound)?;
    if token.org == index { Ok(index) } else { Err(ApiError::NotAccessible) }
}

fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::NotFound)
}

/// A JSON page with its `Link` header.
fn paged(body: Value, link: Option<String>) -> Response {
    let mut r = axum::Json(body).into_response();
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(LINK, v);
    }
    r
}

/// One page of `items` (optionally filtered and reversed) plus the matching count.
fn page_of<'a, T>(
    items: &'a [T],
    filter: Option<&dyn Fn(&T) -> bool>,
    desc: bool,
    req: PageReq,
) -> (Vec<&'a T>, usize) {
    match filter {
        None => {
            let total = items.len();
            let w = req.window(total);
            let pick = |i: usize| items.get(if desc { total - 1 - i } else { i });
            (w.filter_map(pick).collect(), total)
        }
        Some(keep) => {
            let mut all: Vec<&T> = items.iter().filter(|t| keep(t)).collect();
            if desc {
                all.reverse();
            }
            let total = all.len();
            let w = req.window(total);
            (all.get(w).map(<[&T]>::to_vec).unwrap_or_default(), total)
        }
    }
}

/// Parses a JSON request body: 400 for bad syntax, 422 for the wrong shape.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], field: &'static str) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadJson)?;
    serde_json::from_value(value).map_err(|e| invalid(field, e.to_string()))
}

async fn get_org_installation(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>) -> Response {
    if let Err(e) = sim.github.check_jwt(&ctx) {
        return e.into_response();
    }
    let gh = sim.github.state();
    let Some(org) = gh.org_index(&org).and_then(|i| gh.orgs.get(i)) else {
        return ApiError::NotFound.into_response();
    };
    match org.installations.iter().find(|i| i.id == org.auditor_installation) {
        Some(inst) => axum::Json(render::installation(&ctx.base, org, inst, true)).into_response(),
        None => ApiError::NotFound.into_response(),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    repositories: Option<Vec<String>>,
    repository_ids: Option<Vec<u64>>,
    permissions: Option<BTreeMap<String, String>>,
}

async fn create_token(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    if let Err(e) = sim.github.check_jwt(&ctx) {
        return e.into_response();
    }
    let result = (|| {
        let id = parse_id(&id)?;
        let request: Option<TokenRequest> = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(json_body(&body, "body")?)
        };
        let mut gh = sim.github.state();
        let org_index = gh.orgs.iter().position(|o| o.auditor_installation == id).ok_or(ApiError::NotFound)?;
        let org = &gh.orgs[org_index];
        let mut permissions = gh.auditor.permissions.clone();
        let mut repos = Vec::new();
        if let Some(req) = request {
            if let Some(wanted) = req.permissions {
                let rank = |l: &str| ["read", "write", "admin"].iter().position(|x| *x == l);
                let granted: HashMap<_, _> = permissions.iter().copied().collect();
                let mut narrowed = Vec::new();
                for (name, level) in &wanted {
                    let ok = granted.get_key_value(name.as_str()).filter(|(_, g)| {
                        matches!((rank(level), rank(g)), (Some(w), Some(g)) if w <= g)
                    });
                    let Some((name, _)) = ok else {
                        return Err(invalid("permissions", "The permissions requested are not granted to this installation."));
                    };
                    let level = ["read", "write", "admin"].into_iter().find(|l| l == level).unwrap_or("read");
                    narrowed.push((*name, level));
                }
                permissions = narrowed;
            }
            let names = req.repositories.unwrap_or_default();
            let ids = req.repository_ids.unwrap_or_default();
            if names.len() + ids.len() > 500 {
                return Err(invalid("repositories", "Too many repositories; the maximum is 500."));
            }
            for name in &names {
                let r = org.repos.iter().find(|r| r.name.eq_ignore_ascii_case(name));
                repos.push(r.ok_or_else(|| invalid("repositories", format!("There is at least one repository that does not exist or is not accessible to the parent installation: {name}")))?);
            }
            for rid in &ids {
                let r = org.repos.iter().find(|r| r.id == *rid);
                repos.push(r.ok_or_else(|| invalid("repository_ids", format!("There is at least one repository that does not exist or is not accessible to the parent installation: {rid}")))?);
            }
        }
        let mut body = json!({
            "token": "",
            "expires_at": "",
            "permissions": render::permissions(&permissions),
            "repository_selection": if repos.is_empty() { "all" } else { "selected" },
        });
        if !repos.is_empty() {
            body["repositories"] = repos.iter().map(|r| render::minimal_repo(&ctx.base, org, r)).collect();
        }
        let now = unix_now();
        let token = auth::new_installation_token();
        body["token"] = token.clone().into();
        body["expires_at"] = crate::world::Stamp::utc(now + auth::TOKEN_TTL).wire().into();
        // Forget tokens that expired over an hour ago, so long runs do not grow forever.
        gh.tokens.retain(|_, t| t.expires_at + 3600 > now);
        gh.tokens.insert(token, model::IssuedToken { org: org_index, installation_id: id, expires_at: now + auth::TOKEN_TTL });
        Ok(body)
    })();
    match result {
        Ok(body) => (StatusCode::CREATED, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_installations(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>) -> Response {
    let gh = sim.github.state();
    let org = match token_org(&gh, &ctx, &org, false) {
        Ok(i) => &gh.orgs[i],
        Err(e) => return e.into_response(),
    };
    let req = PageReq::from_query(&ctx.query);
    let (items, total) = page_of(&org.installations, None, false, req);
    let body = json!({
        "total_count": total,
        "installations": items.iter().map(|i| render::installation(&ctx.base, org, i, false)).collect::<Vec<_>>(),
    });
    paged(body, page::link_header(&ctx.base, &ctx.path, &ctx.raw_query, req, total))
}

async fn list_credentials(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>) -> Response {
    let gh = sim.github.state();
    let org = match token_org(&gh, &ctx, &org, false) {
        Ok(i) => &gh.orgs[i],
        Err(e) => return e.into_response(),
    };
    let req = PageReq::from_query(&ctx.query);
    let login = ctx.query.get("login").map(str::to_ascii_lowercase);
    let keep = |c: &model::Credential| login.as_deref().is_none_or(|l| crate::world::World::login(c.user) == l);
    let filter = login.is_some().then_some(&keep as &dyn Fn(&model::Credential) -> bool);
    let (items, total) = page_of(&org.credentials, filter, false, req);
    let body: Vec<Value> = items.iter().map(|c| render::credential(c, gh.seed)).collect();
    paged(body.into(), page::link_header(&ctx.base, &ctx.path, &ctx.raw_query, req, total))
}

async fn delete_credential(State(sim): State<Arc<Shared>>, ctx: Ctx, Path((org, id)): Path<(String, String)>) -> Response {
    let mut gh = sim.github.state();
    let index = match token_org(&gh, &ctx, &org, false).and_then(|i| parse_id(&id).map(|id| (i, id))) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let (index, id) = index;
    let org = &mut gh.orgs[index];
    let pos = org.credentials.binary_search_by_key(&id, |c| c.credential_id).ok();
    let app_id = pos.and_then(|p| org.credentials.get(p)).map(|c| c.kind.truth_app().1);
    let target = format!("{PROVIDER}/{}/credential-authorization:{id}", org.login);
    sim.stats.revocation(PROVIDER, target, app_id);
    match pos {
        Some(p) => {
            org.credentials.remove(p);
            StatusCode::NO_CONTENT.into_response()
        }
        None => ApiError::NotFound.into_response(),
    }
}

/// Filters shared by the grant and request lists.
fn fine_grained_list(sim: &Shared, ctx: &Ctx, org: &str, requests: bool) -> Result<Response, ApiError> {
    let gh = sim.github.state();
    let org = &gh.orgs[token_org(&gh, ctx, org, false)?];
    let owners: HashSet<String> =
        ctx.query.all(&["owner[]", "owner"]).flat_map(|v| v.split(',')).map(str::to_ascii_lowercase).collect();
    if owners.len() > 10 {
        return Err(invalid("owner", "No more than 10 owners may be given."));
    }
    let token_ids = ctx
        .query
        .all(&["token_id[]", "token_id"])
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().parse::<u64>().map_err(|_| invalid("token_id", format!("{v} is not a token id."))))
        .collect::<Result<HashSet<u64>, ApiError>>()?;
    if token_ids.len() > 50 {
        return Err(invalid("token_id", "No more than 50 token ids may be given."));
    }
    if ctx.query.get("sort").is_some_and(|s| s != "created_at") {
        return Err(invalid("sort", "sort must be created_at."));
    }
    let desc = match ctx.query.get("direction") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(invalid("direction", "direction must be asc or desc.")),
    };
    let keep = |g: &FineGrained| {
        (owners.is_empty() || owners.contains(&crate::world::World::login(g.user)))
            && (token_ids.is_empty() || token_ids.contains(&g.token_id))
    };
    let filtered = !owners.is_empty() || !token_ids.is_empty();
    let filter = filtered.then_some(&keep as &dyn Fn(&FineGrained) -> bool);
    let req = PageReq::from_query(&ctx.query);
    let list = if requests { &org.pat_requests } else { &org.pat_grants };
    let (items, total) = page_of(list, filter, desc, req);
    let body: Vec<Value> = items.iter().map(|g| render::fine_grained(&ctx.base, org, g, gh.epoch)).collect();
    Ok(paged(body.into(), page::link_header(&ctx.base, &ctx.path, &ctx.raw_query, req, total)))
}

async fn list_pat_grants(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>) -> Response {
    fine_grained_list(&sim, &ctx, &org, false).unwrap_or_else(IntoResponse::into_response)
}

async fn list_pat_requests(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>) -> Response {
    fine_grained_list(&sim, &ctx, &org, true).unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct RevokeOne {
    action: String,
}

#[derive(Deserialize)]
struct RevokeMany {
    action: String,
    pat_ids: Vec<u64>,
}

/// Removes one fine-grained grant, counting the call; `true` if it existed.
fn revoke_grant(sim: &Shared, org: &mut Org, id: u64) -> bool {
    let target = format!("{PROVIDER}/{}/pat-grant:{id}", org.login);
    sim.stats.revocation(PROVIDER, target, Some("fine-grained-pat"));
    match org.pat_grants.binary_search_by_key(&id, |g| g.id) {
        Ok(p) => {
            org.pat_grants.remove(p);
            true
        }
        Err(_) => false,
    }
}

async fn revoke_pat(State(sim): State<Arc<Shared>>, ctx: Ctx, Path((org, id)): Path<(String, String)>, body: Bytes) -> Response {
    let result = (|| {
        let mut gh = sim.github.state();
        let index = token_org(&gh, &ctx, &org, false)?;
        let id = parse_id(&id)?;
        let req: RevokeOne = json_body(&body, "action")?;
        if req.action != "revoke" {
            return Err(invalid("action", "action must be revoke."));
        }
        Ok(revoke_grant(&sim, &mut gh.orgs[index], id))
    })();
    match result {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::NotFound.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_pats(State(sim): State<Arc<Shared>>, ctx: Ctx, Path(org): Path<String>, body: Bytes) -> Response {
    let result = (|| {
        let mut gh = sim.github.state();
        let index = token_org(&gh, &ctx, &org, false)?;
        let req: RevokeMany = json_body(&body, "pat_ids")?;
        if req.action != "revoke" {
            return Err(invalid("action", "action must be revoke."));
        }
        if req.pat_ids.is_empty() || req.pat_ids.len() > 100 {
            return Err(invalid("pat_ids", "pat_ids must hold between 1 and 100 ids."));
        }
        let mut seen = HashSet::new();
        // Bulk revocation removes what exists and ignores the rest (it is asynchronous on
        // GitHub); every distinct id counts as one call for its target.
        for id in req.pat_ids.into_iter().filter(|id| seen.insert(*id)) {
            revoke_grant(&sim, &mut gh.orgs[index], id);
        }
        Ok(())
    })();
    match result {
        Ok(()) => (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn repos(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    Path((org, id)): Path<(String, String)>,
    by_id: bool,
    requests: bool,
) -> Response {
    let result = (|| {
        let gh = sim.github.state();
        let org = &gh.orgs[token_org(&gh, &ctx, &org, by_id)?];
        let id = parse_id(&id)?;
        let list = if requests { &org.pat_requests } else { &org.pat_grants };
        let grant = list.binary_search_by_key(&id, |g| g.id).ok().and_then(|p| list.get(p)).ok_or(ApiError::NotFound)?;
        let all = render::selected_repos(org, grant);
        let req = PageReq::from_query(&ctx.query);
        let (items, total) = page_of(&all, None, false, req);
        let body: Vec<Value> = items.iter().map(|r| render::minimal_repo(&ctx.base, org, r)).collect();
        Ok(paged(body.into(), page::link_header(&ctx.base, &ctx.path, &ctx.raw_query, req, total)))
    })();
    result.unwrap_or_else(|e: ApiError| e.into_response())
}
