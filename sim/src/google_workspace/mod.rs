//! The Google Workspace API simulator.
//!
//! Served under `/google-workspace` on the simulator (the tenant's base URL is the simulator URL
//! plus that prefix), speaking the endpoints of `testdata/providers/google-workspace/API.md` with the
//! shapes of its `examples/`: the service account's token endpoint (`POST /token`, an RS256 JWT
//! bearer assertion with domain-wide delegation), Directory API `users`, `tokens` and `asps`,
//! and the Reports API's token audit log.

mod auth;
mod handlers;
mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::DecodingKey;
use rand::Rng;
use serde_json::json;

pub(crate) use model::Model;

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::provider::{ConfigEnv, Dialect, Keys, Provider, Tenants};

/// The auditor's service account (JWT `iss`).
const SERVICE_ACCOUNT: &str = "grantscope-auditor@grantscope-audit-381204.iam.gserviceaccount.com";

const SCOPE_USER_READONLY: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
const SCOPE_USER: &str = "https://www.googleapis.com/auth/admin.directory.user";
const SCOPE_USER_SECURITY: &str = "https://www.googleapis.com/auth/admin.directory.user.security";
const SCOPE_AUDIT: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";

/// The scopes the connector declares, which the config asks for.
const CONNECTOR_SCOPES: [&str; 3] = [SCOPE_USER_READONLY, SCOPE_USER_SECURITY, SCOPE_AUDIT];

/// The admin console's domain-wide delegation entry for the service account's client:
/// what a super admin allowlisted (API.md §2), a little more than the connector asks for.
const DELEGATED: &[&str] = &[
    SCOPE_USER_READONLY,
    SCOPE_USER_SECURITY,
    SCOPE_AUDIT,
    "https://www.googleapis.com/auth/cloud-identity.policies.readonly",
];

/// An access token the token endpoint minted.
#[derive(Clone, Debug)]
struct Minted {
    /// Index of the impersonated user.
    user: usize,
    scopes: Vec<String>,
    expires_at: i64,
}

/// Run-time state: the model behind a lock, and what the auth endpoints check.
pub(crate) struct Sim {
    model: Mutex<Model>,
    key: DecodingKey,
    /// The service account key's id (JWT header `kid`).
    key_id: String,
    tokens: Mutex<HashMap<String, Minted>>,
}

impl Sim {
    /// Serves `model`, checking the auditor's credentials against `keys`.
    pub(crate) fn new(model: Model, keys: &Keys) -> Self {
        let mut rng = rand::rng();
        let key_id: String = (0..40)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
            .collect();
        Self {
            model: Mutex::new(model),
            key: keys.public.clone(),
            key_id,
            tokens: Mutex::default(),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tokens(&self) -> MutexGuard<'_, HashMap<String, Minted>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenants' config entries: one customer, a JWT bearer credential impersonating
    /// its super admin with exactly the connector's scopes.
    pub(crate) fn tenants(&self, env: &ConfigEnv<'_>) -> Tenants {
        let base = env.provider_base(Provider::GoogleWorkspace);
        let token_url = format!("{base}/token");
        let admin = self
            .model()
            .admin()
            .map(|u| u.email.clone())
            .unwrap_or_default();
        Ok(vec![TenantEntry {
            name: model::TENANT.to_owned(),
            connector: "google-workspace",
            host: env.host.clone(),
            settings: vec![
                ("customer", "my_customer".to_owned()),
                ("domain", model::DOMAIN.to_owned()),
                ("api_base", base),
            ],
            credential: vec![
                ("kind", "jwt-bearer".to_owned()),
                ("token_url", token_url.clone()),
                ("issuer", SERVICE_ACCOUNT.to_owned()),
                ("subject", admin),
                ("audience", token_url),
                ("scope", CONNECTOR_SCOPES.join(" ")),
                ("private_key_file", env.key_file.clone()),
                ("key_id", self.key_id.clone()),
            ],
        }])
    }
}

/// Google's API error answers (the legacy v1 `error` object).
#[derive(Debug)]
enum ApiError {
    /// 401: no, unknown or expired access token.
    Unauthenticated,
    /// 403: the token lacks the scope the method needs.
    InsufficientScopes,
    /// 403: the impersonated user is no admin, or another domain was asked for.
    NotAuthorized,
    /// 404 naming what was not found (`userKey`, `clientId`, `codeId`).
    NotFound(&'static str),
    /// 400 naming the bad parameter.
    Invalid(&'static str),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthenticated => google_error(
                StatusCode::UNAUTHORIZED,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, \
                 login cookie or other valid authentication credential. See \
                 https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "global",
                "authError",
                Some("UNAUTHENTICATED"),
            ),
            ApiError::InsufficientScopes => google_error(
                StatusCode::FORBIDDEN,
                "Request had insufficient authentication scopes.",
                "global",
                "insufficientPermissions",
                Some("PERMISSION_DENIED"),
            ),
            ApiError::NotAuthorized => google_error(
                StatusCode::FORBIDDEN,
                "Not Authorized to access this resource/api",
                "global",
                "forbidden",
                None,
            ),
            ApiError::NotFound(what) => google_error(
                StatusCode::NOT_FOUND,
                &format!("Resource Not Found: {what}"),
                "global",
                "notFound",
                None,
            ),
            ApiError::Invalid(what) => google_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid Input: {what}"),
                "global",
                "invalid",
                None,
            ),
        }
    }
}

/// `{"error":{"code","message","errors":[{message,domain,reason}],"status"?}}`.
fn google_error(
    status: StatusCode,
    message: &str,
    domain: &str,
    reason: &str,
    rpc_status: Option<&str>,
) -> Response {
    let mut error = json!({
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    });
    if let Some(s) = rpc_status {
        error["status"] = json!(s);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// How the Admin SDK spells injected faults.
struct ApiDialect;

impl Dialect for ApiDialect {
    fn throttled(&self, kind: FaultKind) -> Response {
        let mut r = if kind == FaultKind::SecondaryRateLimit {
            // The per-customer concurrency limit (API.md §6).
            let mut r = google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of \
                 service 'admin.googleapis.com' for consumer 'project_number:381204'.",
                "usageLimits",
                "rateLimitExceeded",
                Some("RESOURCE_EXHAUSTED"),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            r
        } else if rand::rng().random_bool(0.5) {
            // The per-user rate, legacy form.
            google_error(
                StatusCode::FORBIDDEN,
                "User Rate Limit Exceeded",
                "usageLimits",
                "userRateLimitExceeded",
                None,
            )
        } else {
            // The per-user rate, newer form.
            google_error(
                StatusCode::FORBIDDEN,
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per \
                 user' of service 'admin.googleapis.com' for consumer 'project_number:381204'.",
                "usageLimits",
                "rateLimitExceeded",
                Some("PERMISSION_DENIED"),
            )
        };
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        match status {
            // Google's front end answers a 502 with an HTML page, not JSON.
            StatusCode::BAD_GATEWAY => (
                status,
                [(CONTENT_TYPE, "text/html; charset=UTF-8")],
                "<!DOCTYPE html><html lang=en><title>Error 502 (Server Error)!!1</title>\
                 <p><b>502.</b> <ins>That's an error.</ins><p>The server encountered a temporary \
                 error and could not complete your request.<p>Please try again in 30 seconds.  \
                 <ins>That's all we know.</ins></html>",
            )
                .into_response(),
            StatusCode::SERVICE_UNAVAILABLE => google_error(
                status,
                "The service is currently unavailable.",
                "global",
                "backendError",
                Some("UNAVAILABLE"),
            ),
            _ => google_error(status, "Backend Error", "global", "backendError", None),
        }
    }
}

/// How the OAuth token endpoint spells injected faults (RFC 6749 error bodies).
struct TokenDialect;

impl Dialect for TokenDialect {
    fn throttled(&self, _kind: FaultKind) -> Response {
        let body =
            json!({"error": "rate_limit_exceeded", "error_description": "Rate Limit Exceeded"});
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, "1")],
            axum::Json(body),
        )
            .into_response()
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let body = json!({"error": "internal_failure", "error_description": "Backend Error"});
        (status, axum::Json(body)).into_response()
    }
}

const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// The routes, relative to `/google-workspace`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    const USER: &str = "/admin/directory/v1/users/{user}";
    Router::new()
        .route("/token", post(handlers::token))
        .route("/admin/directory/v1/users", get(handlers::list_users))
        .route(&format!("{USER}/tokens"), get(handlers::list_tokens))
        .route(
            &format!("{USER}/tokens/{{client}}"),
            get(handlers::get_token).delete(handlers::delete_token),
        )
        .route(&format!("{USER}/asps"), get(handlers::list_asps))
        .route(
            &format!("{USER}/asps/{{code}}"),
            get(handlers::get_asp).delete(handlers::delete_asp),
        )
        .route(
            "/admin/reports/v1/activity/users/{user}/applications/{app}",
            get(handlers::list_activities),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(shared, layer))
}

async fn not_found() -> Response {
    google_error(
        StatusCode::NOT_FOUND,
        "Not Found",
        "global",
        "notFound",
        None,
    )
}

/// Fault injection in the right dialect, and the headers Google puts on every answer.
async fn layer(State(sim): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mutation = *req.method() == Method::DELETE;
    let dialect: &dyn Dialect = if req.uri().path() == "/token" {
        &TokenDialect
    } else {
        &ApiDialect
    };
    let mut response = crate::provider::inject(&sim, dialect, mutation, req, next).await;
    let h = response.headers_mut();
    for (name, value) in [("vary", "Origin, X-Origin, Referer"), ("server", "ESF")] {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Wall-clock seconds (tokens and JWTs live in real time, unlike the synthetic history).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
