//! The Okta API simulator.
//!
//! Served under `/okta` on the simulator (the tenant's base URL is the simulator URL
//! plus that prefix), speaking the endpoints of `testdata/providers/okta/API.md` with the
//! shapes of its `examples/`: the org authorization server's token endpoint (client
//! credentials with a `private_key_jwt` client assertion, verified like Okta does) and
//! SSWS API tokens, app integrations with their `okta.*` scope grants, users with their
//! clients, consent grants and refresh tokens, API service integrations, `Link`
//! pagination with `after` cursors, `X-Rate-Limit-*` headers and Okta's error bodies.
//! Revocation deletes state and counts each call under the grant it addresses; an app
//! deactivation is counted under `okta/{tenant}/app-deactivation:{app_id}`.

mod handlers;
mod model;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

pub(crate) use model::Model;

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::provider::{self, ConfigEnv, Dialect, Keys, Provider, Tenants};
use model::{AUDITOR_SCOPES, PROVIDER, TENANT};

/// The key id the auditor's service app registered its public key under (the JWT
/// header `kid` Okta uses to pick the key).
pub(crate) const KEY_ID: &str = "grantscope-sim-key";
/// Access tokens from the org authorization server live one hour (API.md §2.1).
const TOKEN_TTL: i64 = 3600;
/// Okta refuses client assertions whose `exp` is more than an hour ahead.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// The file the SSWS API token is written to (next to the config's key), for configs
/// that use `kind = "static-token"` with `scheme = "SSWS"` instead.
pub(crate) const SSWS_FILE: &str = "okta-api-token";

/// Okta-specific run-time state.
pub(crate) struct Sim {
    model: Mutex<Model>,
    key: DecodingKey,
    /// The SSWS API token the auditor may use instead of OAuth.
    ssws: String,
    /// `client_secret` of the vendor apps that use one; `GET /api/v1/apps` shows them
    /// (as Okta can), and the connector must drop them.
    secrets: BTreeMap<String, String>,
    issued: Mutex<HashMap<String, Issued>>,
    /// Client assertion ids already used, with their expiry: Okta refuses a replay.
    jtis: Mutex<HashMap<String, i64>>,
    buckets: Mutex<HashMap<&'static str, Window>>,
}

/// An access token the token endpoint issued.
#[derive(Clone, Debug)]
struct Issued {
    scopes: Vec<String>,
    expires: i64,
}

/// One rate-limit bucket's current minute.
#[derive(Clone, Copy, Debug)]
struct Window {
    used: u64,
    reset: i64,
}

impl Sim {
    /// Serves `model`, checking the auditor's credentials against `keys`.
    pub(crate) fn new(model: Model, keys: &Keys) -> Self {
        let mut rng = rand::rng();
        let ssws = format!("00{}", crate::world::alphanumeric(&mut rng, 40));
        let secrets = model
            .apps
            .iter()
            .filter(|a| matches!(a.app_type, model::AppType::Web | model::AppType::Service))
            .filter(|a| a.id != model.auditor_client_id)
            .map(|a| (a.id.clone(), crate::world::alphanumeric(&mut rng, 64)))
            .collect();
        Self {
            model: Mutex::new(model),
            key: keys.public.clone(),
            ssws,
            secrets,
            issued: Mutex::default(),
            jtis: Mutex::default(),
            buckets: Mutex::default(),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's config entry: the auditor's service app with `private_key_jwt`.
    /// The SSWS token is written beside it ([`SSWS_FILE`]) for the alternative.
    pub(crate) fn tenants(&self, env: &ConfigEnv<'_>) -> Tenants {
        env.secret(SSWS_FILE, &self.ssws)?;
        let base = env.provider_base(Provider::Okta);
        let model = self.model();
        Ok(vec![TenantEntry {
            name: TENANT.to_owned(),
            connector: PROVIDER,
            host: env.host.clone(),
            settings: vec![
                ("org_url", base.clone()),
                ("vendor_owned_apps", model.vendor_owned_apps().join(",")),
            ],
            credential: vec![
                ("kind", "client-credentials".to_owned()),
                ("token_url", format!("{base}/oauth2/v1/token")),
                ("client_id", model.auditor_client_id.clone()),
                ("scope", AUDITOR_SCOPES.join(" ")),
                ("private_key_file", env.key_file.clone()),
                ("key_id", KEY_ID.to_owned()),
            ],
        }])
    }

    /// Checks the request's credential against the scope the endpoint needs. An SSWS
    /// token carries its admin's privileges (every scope here); an access token only
    /// the scopes it was issued with, where `.manage` implies `.read`.
    fn authorize(&self, headers: &HeaderMap, scope: &str) -> Result<(), ApiError> {
        let value = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
        let credential = credential.trim();
        if scheme.eq_ignore_ascii_case("ssws") {
            return if !credential.is_empty() && credential == self.ssws {
                Ok(())
            } else {
                Err(ApiError::InvalidToken)
            };
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::InvalidToken);
        }
        let issued = self
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(credential)
            .cloned()
            .filter(|t| t.expires > unix_now())
            .ok_or(ApiError::InvalidToken)?;
        let manage = scope.strip_suffix(".read").map(|s| format!("{s}.manage"));
        let ok = issued
            .scopes
            .iter()
            .any(|s| s == scope || manage.as_deref() == Some(s.as_str()));
        if ok {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope)
        }
    }

    /// Spends one request from a bucket; `Err` with the window when it is spent.
    fn spend(&self, bucket: &'static str, now: i64) -> Result<(u64, Window), (u64, Window)> {
        let limit = bucket_limit(bucket);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let w = buckets.entry(bucket).or_insert(Window {
            used: 0,
            reset: now + 60,
        });
        if now >= w.reset {
            *w = Window {
                used: 0,
                reset: now + 60,
            };
        }
        if w.used >= limit {
            return Err((limit, *w));
        }
        w.used += 1;
        Ok((limit, *w))
    }
}

/// Okta's rate limits are per endpoint family per minute (API.md §6). The simulated
/// org's limits are the Workforce numbers raised tenfold, so a test's scans never wait
/// a minute; the headers and the 429 behave as Okta's do.
fn bucket_of(path: &str) -> &'static str {
    if path.starts_with("/api/v1/apps") {
        "apps"
    } else if path == "/api/v1/users" {
        "users"
    } else if path.starts_with("/oauth2/") {
        "oauth2"
    } else {
        "default"
    }
}

fn bucket_limit(bucket: &str) -> u64 {
    match bucket {
        "apps" => 1_000,
        "users" => 6_000,
        "oauth2" => 2_000,
        _ => 12_000,
    }
}

/// Okta's error answers.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 401 E0000011.
    InvalidToken,
    /// 403 E0000006 with `WWW-Authenticate: … insufficient_scope`.
    InsufficientScope,
    /// 404 E0000007 naming the resource.
    NotFound(String),
    /// 405 E0000022.
    MethodNotAllowed,
    /// 400 E0000001.
    Invalid(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidToken => error_body(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
                &[],
            ),
            Self::InsufficientScope => {
                let mut r = error_body(
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                    &[],
                );
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"IdpMyAccountAPI\", error=\"insufficient_scope\", \
                         error_description=\"The access token provided does not contain the \
                         required scopes.\"",
                    ),
                );
                r
            }
            Self::NotFound(what) => error_body(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {what}"),
                &[],
            ),
            Self::MethodNotAllowed => error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            ),
            Self::Invalid(why) => error_body(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed",
                &[why.as_str()],
            ),
        }
    }
}

/// Okta's error body (API.md §7).
fn error_body(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    let body = json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", crate::world::alphanumeric(&mut rand::rng(), 19)),
        "errorCauses": causes,
    });
    (status, axum::Json(body)).into_response()
}

/// How Okta renders injected faults.
struct OktaDialect;

impl Dialect for OktaDialect {
    fn throttled(&self, _kind: FaultKind) -> Response {
        // Okta sends no Retry-After; the reset (epoch seconds) says when to come back.
        let mut r = error_body(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        );
        rate_headers(r.headers_mut(), 600, 0, unix_now() + 1);
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        error_body(status, "E0000009", "Internal Server Error", &[])
    }
}

fn rate_headers(h: &mut HeaderMap, limit: u64, remaining: u64, reset: i64) {
    for (name, value) in [
        ("x-rate-limit-limit", limit.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
}

/// The routes, relative to `/okta`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    use handlers as h;
    Router::new()
        .route("/oauth2/v1/token", post(h::token))
        .route("/api/v1/apps", get(h::list_apps))
        .route("/api/v1/apps/{app}", get(h::get_app))
        .route("/api/v1/apps/{app}/grants", get(h::list_app_grants))
        .route(
            "/api/v1/apps/{app}/grants/{grant}",
            get(h::get_app_grant).delete(h::delete_app_grant),
        )
        .route(
            "/api/v1/apps/{app}/lifecycle/deactivate",
            post(h::deactivate_app),
        )
        .route("/api/v1/users", get(h::list_users))
        .route("/api/v1/users/{user}/clients", get(h::list_user_clients))
        .route(
            "/api/v1/users/{user}/clients/{client}/grants",
            get(h::list_user_client_grants),
        )
        .route(
            "/api/v1/users/{user}/clients/{client}/tokens",
            get(h::list_user_client_tokens),
        )
        .route(
            "/api/v1/users/{user}/clients/{client}/tokens/{token}",
            get(h::get_user_token).delete(h::delete_user_token),
        )
        .route(
            "/api/v1/users/{user}/grants/{grant}",
            get(h::get_user_grant).delete(h::delete_user_grant),
        )
        .route(
            "/integrations/api/v1/api-services",
            get(h::list_api_services),
        )
        .route(
            "/integrations/api/v1/api-services/{id}",
            get(h::get_api_service).delete(h::delete_api_service),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared, layer))
}

async fn not_found(req: Request) -> Response {
    ApiError::NotFound(req.uri().path().to_owned()).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// Mutations are the revocation endpoints; only they can fail after changing state.
fn is_mutation(method: &Method, path: &str) -> bool {
    *method == Method::DELETE || (*method == Method::POST && path.contains("/lifecycle/"))
}

/// Real rate limits, fault injection and the headers every Okta response carries.
async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(sim) = shared.okta.as_ref() else {
        return ApiError::NotFound("okta".to_owned()).into_response();
    };
    let bucket = bucket_of(req.uri().path());
    let mutation = is_mutation(req.method(), req.uri().path());
    let (limit, window) = match sim.spend(bucket, unix_now()) {
        Ok(w) => w,
        Err((limit, w)) => {
            shared.stats.request();
            shared.stats.throttled();
            let mut r = OktaDialect.throttled(FaultKind::SecondaryRateLimit);
            rate_headers(r.headers_mut(), limit, 0, w.reset);
            return r;
        }
    };
    let mut response = provider::inject(&shared, &OktaDialect, mutation, req, next).await;
    // Okta states only the bare numbers; the simulator also names each bucket's
    // policy the standard way, so a client paces each bucket at its limit instead of
    // the simulator's overall quota.
    if let Ok(v) = HeaderValue::from_str(&format!("\"{bucket}\";q={limit};w=60")) {
        response.headers_mut().insert(crate::quota::POLICY, v);
    }
    if !response.headers().contains_key("x-rate-limit-limit") {
        rate_headers(
            response.headers_mut(),
            limit,
            limit.saturating_sub(window.used),
            window.reset,
        );
    }
    response
}

/// Wall-clock seconds (tokens and assertions live in real time, unlike the history).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An RFC 6749 §5.2 error from the token endpoint.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, axum::Json(body)).into_response()
}

/// Why a client assertion was refused (the reason goes to the log; the client sees
/// Okta's `invalid_client`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AssertionRejection {
    Undecodable,
    WrongKey,
    WrongIssuer,
    WrongAudience,
    MissingTimes,
    Expired,
    TooLong,
    Replayed,
}

impl Sim {
    /// Verifies a `private_key_jwt` client assertion as Okta does: RS256 with the
    /// registered key (`kid`, when given, must name it), `iss` = `sub` = the client id,
    /// `aud` = the token endpoint, `exp` in the future and at most an hour ahead, a
    /// `jti` never seen before.
    fn verify_assertion(
        &self,
        jwt: &str,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<(), AssertionRejection> {
        let header =
            jsonwebtoken::decode_header(jwt).map_err(|_| AssertionRejection::Undecodable)?;
        if header.kid.as_deref().is_some_and(|k| k != KEY_ID) {
            return Err(AssertionRejection::WrongKey);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(jwt, &self.key, &validation)
            .map_err(|_| AssertionRejection::Undecodable)?;
        check_claims(&data.claims, client_id, audience, now)?;
        let jti = data
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !jti.is_empty() {
            let exp = data
                .claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or(now);
            let mut seen = self.jtis.lock().unwrap_or_else(PoisonError::into_inner);
            seen.retain(|_, e| *e > now);
            if seen.insert(jti, exp).is_some() {
                return Err(AssertionRejection::Replayed);
            }
        }
        Ok(())
    }

    /// Issues an access token for `scopes`.
    fn issue(&self, scopes: Vec<String>, now: i64) -> String {
        let token = format!(
            "eyJraWQiOiJzaW0ifQ.{}.{}",
            crate::world::alphanumeric(&mut rand::rng(), 48),
            crate::world::alphanumeric(&mut rand::rng(), 32)
        );
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued.retain(|_, t| t.expires + 3600 > now);
        issued.insert(
            token.clone(),
            Issued {
                scopes,
                expires: now + TOKEN_TTL,
            },
        );
        token
    }
}

/// The assertion's claims, separate from the signature so they can be unit-tested.
pub(crate) fn check_claims(
    claims: &Value,
    client_id: &str,
    audience: &str,
    now: i64,
) -> Result<(), AssertionRejection> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(AssertionRejection::WrongIssuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(AssertionRejection::WrongAudience);
    }
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err(AssertionRejection::MissingTimes);
    };
    if exp <= now {
        return Err(AssertionRejection::Expired);
    }
    if exp - now > MAX_ASSERTION_LIFETIME {
        return Err(AssertionRejection::TooLong);
    }
    Ok(())
}

/// `application/json` content type, for answers built by hand.
fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_okta_rules() {
        let now = 1_000_000;
        let aud = "http://h/okta/oauth2/v1/token";
        let ok = json!({"iss": "0oa1", "sub": "0oa1", "aud": aud, "iat": now, "exp": now + 300});
        assert_eq!(check_claims(&ok, "0oa1", aud, now), Ok(()));
        let cases = [
            (
                json!({"iss": "0oa2", "sub": "0oa1", "aud": aud, "exp": now + 60}),
                AssertionRejection::WrongIssuer,
            ),
            (
                json!({"iss": "0oa1", "sub": "0oa1", "aud": "http://other", "exp": now + 60}),
                AssertionRejection::WrongAudience,
            ),
            (
                json!({"iss": "0oa1", "sub": "0oa1", "aud": aud}),
                AssertionRejection::MissingTimes,
            ),
            (
                json!({"iss": "0oa1", "sub": "0oa1", "aud": aud, "exp": now}),
                AssertionRejection::Expired,
            ),
            (
                json!({"iss": "0oa1", "sub": "0oa1", "aud": aud, "exp": now + 3601}),
                AssertionRejection::TooLong,
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(
                check_claims(&claims, "0oa1", aud, now),
                Err(want),
                "{claims}"
            );
        }
    }

    #[test]
    fn buckets_and_mutations() {
        assert_eq!(bucket_of("/api/v1/apps/0oa1/grants"), "apps");
        assert_eq!(bucket_of("/api/v1/users"), "users");
        assert_eq!(bucket_of("/api/v1/users/00u1/clients"), "default");
        assert!(is_mutation(&Method::DELETE, "/api/v1/users/1/grants/2"));
        assert!(is_mutation(
            &Method::POST,
            "/api/v1/apps/0oa1/lifecycle/deactivate"
        ));
        assert!(!is_mutation(&Method::POST, "/oauth2/v1/token"));
    }
}
