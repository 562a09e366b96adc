//! The GitHub REST API simulator: routes, auth, rate limits and fault rendering.
//!
//! Served at the root of the simulator (the tenant's `api_base` is the simulator URL),
//! speaking the org-scope endpoints of `testdata/providers/github/API.md`.

mod auth;
mod catalog;
mod handlers;
mod model;
mod mutate;
mod page;
mod render;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::DecodingKey;
use rand::Rng;
use serde_json::{Value, json};

pub(crate) use model::{AUDITOR_APP_ID, GithubState, IdPool, VendorApps};
pub(crate) use mutate::{MAX_CHANGES, Mutation, MutationRequest};

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::http::{self, QueryParams};
use auth::JwtRejection;
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
        Self {
            state: Mutex::new(state),
            budgets: Mutex::default(),
            app_key,
            issuers,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, GithubState> {
        // Handlers never leave the state half-updated across a panic point, so a poisoned
        // lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One config entry per org, in config order: the auditor app's JWT credential.
    pub(crate) fn tenants(&self, env: &crate::provider::ConfigEnv<'_>) -> Vec<TenantEntry> {
        self.state()
            .orgs
            .iter()
            .map(|o| TenantEntry {
                name: o.login.clone(),
                connector: "github",
                host: env.host.clone(),
                settings: vec![("org", o.login.clone()), ("api_base", env.base_url.clone())],
                credential: vec![
                    ("kind", "github-app".to_owned()),
                    ("app_id", AUDITOR_APP_ID.to_string()),
                    ("private_key_file", env.key_file.clone()),
                ],
            })
            .collect()
    }

    fn check_jwt(&self, ctx: &Ctx) -> Result<(), ApiError> {
        let token = ctx.credential.as_deref().ok_or(ApiError::BadJwt)?;
        let issuers = [self.issuers[0].as_str(), self.issuers[1].as_str()];
        auth::verify_app_jwt(token, &self.app_key, &issuers, unix_now()).map_err(
            |why: JwtRejection| {
                tracing::debug!(?why, "app JWT refused");
                ApiError::BadJwt
            },
        )
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
            Self::Installation { id, .. } => {
                format!("API rate limit exceeded for installation ID {id}.")
            }
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
        let cred = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::bearer);
        if let Some(cred) = cred {
            if let Some(t) = self.state().tokens.get(cred) {
                return Bucket::Installation {
                    token: cred.to_owned(),
                    id: t.installation_id,
                };
            }
            if auth::looks_like_jwt(cred) {
                return Bucket::App;
            }
        }
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Bucket::Anonymous(ip.unwrap_or_else(|| "127.0.0.1".to_owned()))
    }

    /// Spends one request from the bucket; `Err` when the hour's budget is gone.
    fn spend(&self, bucket: &Bucket, now: i64, spend: bool) -> Result<Rate, Rate> {
        let mut budgets = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = budgets.entry(bucket.key()).or_insert(Budget {
            used: 0,
            reset: now + 3600,
        });
        if now >= b.reset {
            *b = Budget {
                used: 0,
                reset: now + 3600,
            };
        }
        if spend && b.used >= HOURLY_LIMIT {
            return Err(Rate {
                remaining: 0,
                used: b.used,
                reset: b.reset,
            });
        }
        b.used += u64::from(spend);
        Ok(Rate {
            remaining: HOURLY_LIMIT.saturating_sub(b.used),
            used: b.used,
            reset: b.reset,
        })
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

    async fn from_request_parts(
        parts: &mut Parts,
        sim: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
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

/// `Path`, but a segment that does not decode (bad UTF-8, wrong arity) is GitHub's 404
/// JSON rather than axum's plain-text 400.
struct P<T>(T);

impl<T> FromRequestParts<Arc<Shared>> for P<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        sim: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, sim).await {
            Ok(Path(v)) => Ok(Self(v)),
            Err(_) => Err(ApiError::NotFound),
        }
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
    Invalid {
        field: &'static str,
        code: &'static str,
        message: String,
    },
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
            Self::Invalid {
                field,
                code,
                message,
            } => (
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
    ApiError::Invalid {
        field,
        code: "invalid",
        message: message.into(),
    }
}

/// The routes, wrapped in the GitHub layer (rate limits, faults, headers).
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/orgs/{org}/installation",
            get(handlers::get_org_installation),
        )
        .route(
            "/app/installations/{id}/access_tokens",
            post(handlers::create_token),
        )
        .route(
            "/orgs/{org}/installations",
            get(handlers::list_installations),
        )
        .route(
            "/orgs/{org}/credential-authorizations",
            get(handlers::list_credentials),
        )
        .route(
            "/orgs/{org}/credential-authorizations/{id}",
            axum::routing::delete(handlers::delete_credential),
        )
        .route(
            "/orgs/{org}/personal-access-tokens",
            get(handlers::list_pat_grants).post(handlers::revoke_pats),
        )
        .route(
            "/orgs/{org}/personal-access-tokens/{id}",
            post(handlers::revoke_pat),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests",
            get(handlers::list_pat_requests),
        )
        .route(
            "/orgs/{org}/personal-access-tokens/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: P<(String, String)>| {
                handlers::repos(s, c, p, false, false)
            }),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: P<(String, String)>| {
                handlers::repos(s, c, p, false, true)
            }),
        )
        .route(
            "/organizations/{org}/personal-access-tokens/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: P<(String, String)>| {
                handlers::repos(s, c, p, true, false)
            }),
        )
        .route(
            "/organizations/{org}/personal-access-token-requests/{id}/repositories",
            get(|s: State<Arc<Shared>>, c: Ctx, p: P<(String, String)>| {
                handlers::repos(s, c, p, true, true)
            }),
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
        Some(f) if f.kind == FaultKind::PrimaryRateLimit => {
            rate = Rate {
                remaining: 0,
                used: HOURLY_LIMIT,
                reset: now + 1,
            };
            rate_limited(&bucket)
        }
        Some(f) if !f.after_state && f.kind != FaultKind::Slow => {
            fault_response(f.kind, None).await
        }
        _ => {
            if fault.is_some_and(|f| f.kind == FaultKind::Slow) {
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
                        Some(f) if f.after_state => fault_response(f.kind, Some(response)).await,
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
    match kind {
        FaultKind::SecondaryRateLimit => {
            let body = json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            });
            (
                [(RETRY_AFTER, "1")],
                (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)),
            )
                .into_response()
        }
        // Rendered by the layer (it needs the bucket) / pure latency: nothing to change.
        FaultKind::PrimaryRateLimit | FaultKind::Slow => processed
            .unwrap_or_else(|| basic_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")),
        FaultKind::ServerError => basic_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        FaultKind::BadGateway => basic_error(StatusCode::BAD_GATEWAY, "Bad Gateway"),
        FaultKind::Unavailable => {
            basic_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        FaultKind::ConnectionReset => {
            crate::provider::reset(crate::provider::processed_or(processed, STAND_IN).await)
        }
        FaultKind::Malformed => {
            crate::provider::truncated(crate::provider::processed_or(processed, STAND_IN).await)
        }
    }
}

/// What a damaged empty answer (204) carries instead, so the damage shows.
const STAND_IN: &[u8] = br#"{"message":"OK","documentation_url":"https://docs.github.com/rest"}"#;

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
    let token = gh
        .tokens
        .get(cred)
        .filter(|t| t.expires_at > unix_now())
        .ok_or(ApiError::BadCredentials)?;
    let index = if by_id {
        let id: u64 = org.parse().map_err(|_| ApiError::NotFound)?;
        gh.orgs.iter().position(|o| o.id == id)
    } else {
        gh.org_index(org)
    };
    let index = index.ok_or(ApiError::NotFound)?;
    if token.org == index {
        Ok(index)
    } else {
        Err(ApiError::NotAccessible)
    }
}

fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::NotFound)
}

impl Ctx {
    /// A JSON page with the `Link` header for page `req` of `total` items, built from
    /// this request's base URL, path and query.
    fn paged(&self, body: Value, req: page::PageReq, total: usize) -> Response {
        let link = page::link_header(&self.base, &self.path, &self.raw_query, req, total);
        paged(body, link)
    }
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
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::BadJson)?;
    serde_json::from_value(value).map_err(|e| invalid("body", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_budget_runs_out_then_resets() {
        let state = GithubState::generate(&crate::world::World::new(1, 1));
        let gh = GithubSim::new(state, DecodingKey::from_secret(b"unused"));
        let bucket = Bucket::Installation {
            token: "ghs_x".into(),
            id: 42,
        };
        let now = 1_000;
        for _ in 0..HOURLY_LIMIT {
            assert!(gh.spend(&bucket, now, true).is_ok());
        }
        let peek = gh.spend(&bucket, now, false).expect("peeking never fails");
        assert_eq!(
            (peek.remaining, peek.used, peek.reset),
            (0, HOURLY_LIMIT, now + 3600)
        );
        let out = gh
            .spend(&bucket, now + 10, true)
            .expect_err("budget exhausted");
        assert_eq!(out.remaining, 0);
        assert_eq!(
            bucket.exceeded(),
            "API rate limit exceeded for installation ID 42."
        );
        // Other buckets are independent, and the window resets after an hour.
        assert!(gh.spend(&Bucket::App, now, true).is_ok());
        let fresh = gh.spend(&bucket, now + 3600, true).expect("new window");
        assert_eq!((fresh.used, fresh.remaining), (1, HOURLY_LIMIT - 1));
    }

    #[test]
    fn only_revocations_are_mutations() {
        assert!(is_mutation(
            &Method::DELETE,
            "/orgs/a/credential-authorizations/1"
        ));
        assert!(is_mutation(&Method::POST, "/orgs/a/personal-access-tokens"));
        assert!(!is_mutation(
            &Method::POST,
            "/app/installations/1/access_tokens"
        ));
        assert!(!is_mutation(&Method::GET, "/orgs/a/personal-access-tokens"));
    }
}
