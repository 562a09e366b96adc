//! The Salesforce API simulator.
//!
//! Served under `/salesforce` on the simulator (the tenant's `instance_url` is the
//! simulator URL plus that prefix), speaking the endpoints of
//! `testdata/providers/salesforce/API.md` with the shapes of its `examples/`: the JWT
//! bearer token endpoint, SOQL queries with `nextRecordsUrl` paging (500-row batches
//! and a 2,500-row cap for `OauthToken`), the revoke endpoint fed with a `DeleteToken`,
//! and `DELETE` of `SetupEntityAccess` rows.

mod model;
mod soql;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

pub(crate) use model::Model;
use model::{AUDIENCE, AUDITOR_USER_ID, AUDITOR_USERNAME, ORG_ID, PROVIDER, TENANT};
use soql::{Lit, Query};

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::http::{QueryParams, base_url};
use crate::provider::{ConfigEnv, Dialect, Keys, Provider, Tenants, inject};
use crate::world::Stamp;

/// Rows per page of the setup-object queries: small, so that paging is exercised
/// ("batches are up to 2,000 records, often fewer", API.md 5).
const SETUP_BATCH: usize = 10;
/// `OauthToken` rows per page and in total (API.md 3.4).
const TOKEN_BATCH: usize = 500;
const TOKEN_CAP: usize = 2_500;
/// Aggregate rows per page.
const AGGREGATE_BATCH: usize = 2_000;
/// The daily allocation shown in `Sforce-Limit-Info` (Enterprise, 5,000 licenses).
const DAILY_MAX: u64 = 5_100_000;
/// How long a simulated session lives.
const SESSION_TTL: i64 = 2 * 3600;
/// Longest JWT lifetime accepted (Salesforce: `exp` at most about 3 minutes out).
const MAX_JWT_LIFETIME: i64 = 300;

/// Run-time state: the model behind a lock, live sessions and query cursors.
pub(crate) struct Sim {
    model: Mutex<Model>,
    sessions: Mutex<HashMap<String, i64>>,
    cursors: Mutex<HashMap<String, String>>,
    /// DeleteTokens already used, mapped to (grant id, app id), so a repeat is counted
    /// against its grant.
    revoked: Mutex<HashMap<String, (String, String)>>,
    api_usage: AtomicU64,
    cursor_seq: AtomicU64,
    key: DecodingKey,
}

impl Sim {
    /// Serves `model`, checking the auditor's JWTs against `keys`. The DeleteTokens
    /// (secrets) are drawn here from the OS RNG, never from the seed.
    pub(crate) fn new(mut model: Model, keys: &Keys) -> Self {
        let mut rng = rand::rng();
        for t in &mut model.tokens {
            t.delete_token = format!("{ORG_ID}!{}", crate::world::alphanumeric(&mut rng, 60));
        }
        Self {
            model: Mutex::new(model),
            sessions: Mutex::default(),
            cursors: Mutex::default(),
            revoked: Mutex::default(),
            api_usage: AtomicU64::new(1_800),
            cursor_seq: AtomicU64::new(1),
            key: keys.public.clone(),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The org's config entry: the JWT bearer credential of the auditor's connected app.
    pub(crate) fn tenants(&self, env: &ConfigEnv<'_>) -> Tenants {
        let base = env.provider_base(Provider::Salesforce);
        let consumer_key = self.model().consumer_key.clone();
        Ok(vec![TenantEntry {
            name: TENANT.to_owned(),
            connector: PROVIDER,
            host: env.host.clone(),
            settings: vec![
                ("instance_url", base.clone()),
                ("api_version", "64.0".to_owned()),
            ],
            credential: vec![
                ("kind", "jwt-bearer".to_owned()),
                ("token_url", format!("{base}/services/oauth2/token")),
                ("issuer", consumer_key),
                ("subject", AUDITOR_USERNAME.to_owned()),
                ("audience", AUDIENCE.to_owned()),
                ("private_key_file", env.key_file.clone()),
            ],
        }])
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sim(shared: &Shared) -> Option<&Sim> {
    shared.salesforce.as_ref()
}

/// The routes, relative to `/salesforce`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/oauth2/revoke", post(revoke))
        .route("/services/data/", get(versions))
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route(
            "/services/data/{version}/sobjects/{object}/{id}",
            delete(delete_record),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(shared, layer))
}

/// Fault injection in the right dialect, and the usage header on REST answers.
async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let oauth = path.starts_with("/services/oauth2/");
    let mutation = *req.method() == Method::DELETE
        || (*req.method() == Method::POST && path == "/services/oauth2/revoke");
    let dialect: &dyn Dialect = if oauth { &OauthDialect } else { &RestDialect };
    let mut resp = inject(&shared, dialect, mutation, req, next).await;
    if !oauth && let Some(s) = sim(&shared) {
        let used = s.api_usage.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{DAILY_MAX}")) {
            resp.headers_mut().insert("sforce-limit-info", v);
        }
    }
    resp
}

/// REST errors: a JSON array of `{message, errorCode}` (API.md 7).
struct RestDialect;

impl Dialect for RestDialect {
    fn throttled(&self, _kind: FaultKind) -> Response {
        // Salesforce has no 429 on REST: an exhausted allocation is a 403 (API.md 6).
        rest_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
            ("SERVER_UNAVAILABLE", "Server is temporarily unavailable.")
        } else {
            (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1186457210-4181 (-1551294652)",
            )
        };
        rest_error(status, code, message)
    }
}

/// OAuth endpoint errors: `{error, error_description}`.
struct OauthDialect;

impl Dialect for OauthDialect {
    fn throttled(&self, _kind: FaultKind) -> Response {
        let mut r = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "too many requests, retry later",
        );
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        oauth_error(status, "server_error", "internal server error")
    }
}

fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!([{ "message": message, "errorCode": code }])),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn not_found() -> Response {
    rest_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------
// OAuth
// ---------------------------------------------------------------------------------

/// Why a JWT bearer assertion was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Assertion,
    Client,
    Audience,
    NotApproved,
}

fn check_claims(claims: &Value, consumer_key: &str, now: i64) -> Result<(), Refusal> {
    if claims.get("iss").and_then(Value::as_str) != Some(consumer_key) {
        return Err(Refusal::Client);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !aud_ok {
        return Err(Refusal::Audience);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(Refusal::Assertion)?;
    if exp <= now || exp > now + MAX_JWT_LIFETIME {
        return Err(Refusal::Assertion);
    }
    if claims.get("sub").and_then(Value::as_str) != Some(AUDITOR_USERNAME) {
        return Err(Refusal::NotApproved);
    }
    Ok(())
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    if form.get("grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type not supported",
        );
    }
    let assertion = form.get("assertion").unwrap_or_default();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let verdict = match jsonwebtoken::decode::<Value>(assertion, &s.key, &validation) {
        Err(_) => Err(Refusal::Assertion),
        Ok(data) => {
            let m = s.model();
            check_claims(&data.claims, &m.consumer_key, unix_now()).and_then(|()| {
                if m.auditor_authorized() {
                    Ok(())
                } else {
                    Err(Refusal::NotApproved)
                }
            })
        }
    };
    if let Err(why) = verdict {
        tracing::debug!(?why, "salesforce JWT bearer assertion refused");
        let (error, description) = match why {
            Refusal::Assertion => ("invalid_grant", "invalid assertion"),
            Refusal::Client => ("invalid_client_id", "client identifier invalid"),
            Refusal::Audience => ("invalid_grant", "audience is invalid"),
            Refusal::NotApproved => ("invalid_grant", "user hasn't approved this consumer"),
        };
        return oauth_error(StatusCode::BAD_REQUEST, error, description);
    }
    let access = format!(
        "{}!{}",
        &ORG_ID[..15],
        crate::world::alphanumeric(&mut rand::rng(), 96)
    );
    let now = unix_now();
    {
        let mut sessions = Sim::lock(&s.sessions);
        sessions.retain(|_, exp| *exp > now);
        sessions.insert(access.clone(), now + SESSION_TTL);
    }
    let instance = format!(
        "{}{}",
        base_url(&headers, shared.bound),
        Provider::Salesforce.prefix()
    );
    axum::Json(json!({
        "access_token": access,
        "scope": "api",
        "instance_url": instance,
        "id": format!("https://login.salesforce.com/id/{ORG_ID}/{AUDITOR_USER_ID}"),
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let token = form.get("token").unwrap_or_default().to_owned();
    let invalid = || oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "invalid token");
    if token.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "this token type is not supported",
        );
    }
    // The revoke endpoint needs no session: the token is its own authority.
    let removed = {
        let mut m = s.model();
        m.tokens
            .iter()
            .position(|t| t.delete_token == token)
            .map(|i| m.tokens.remove(i))
    };
    if let Some(t) = removed {
        let (grant, app) = (t.grant_id(), t.app_id.clone());
        shared.stats.revocation(PROVIDER, grant.clone(), Some(&app));
        Sim::lock(&s.revoked).insert(token, (grant, app));
        return (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/html;charset=UTF-8")],
            "",
        )
            .into_response();
    }
    if let Some((grant, app)) = Sim::lock(&s.revoked).get(&token).cloned() {
        shared.stats.revocation(PROVIDER, grant, Some(&app));
        return invalid();
    }
    if Sim::lock(&s.sessions).remove(&token).is_some() {
        return StatusCode::OK.into_response();
    }
    invalid()
}

// ---------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------

/// Checks the session; Salesforce's 401 otherwise.
fn session(s: &Sim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let live = Sim::lock(&s.sessions)
        .get(bearer)
        .is_some_and(|exp| *exp > unix_now());
    if live {
        Ok(())
    } else {
        Err(Box::new(rest_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )))
    }
}

/// `v64.0` → `64.0`, for versions this org serves.
fn version(v: &str) -> Option<&str> {
    let n = v.strip_prefix('v')?;
    let (major, minor) = n.split_once('.')?;
    (minor == "0" && major.parse::<u32>().is_ok_and(|m| (20..=64).contains(&m))).then_some(n)
}

async fn versions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    if let Err(r) = session(s, &headers) {
        return *r;
    }
    axum::Json(json!([
        {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"},
        {"label": "Spring '25", "url": "/services/data/v63.0", "version": "63.0"},
        {"label": "Summer '25", "url": "/services/data/v64.0", "version": "64.0"},
    ]))
    .into_response()
}

async fn query(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(v): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    if let Err(r) = session(s, &headers) {
        return *r;
    }
    let Some(v) = version(&v) else {
        return not_found().await;
    };
    let params = QueryParams::parse(raw.as_deref().unwrap_or_default());
    let Some(q) = params.get("q") else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    run(s, v, q, 0)
}

async fn query_more(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((v, locator)): Path<(String, String)>,
) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    if let Err(r) = session(s, &headers) {
        return *r;
    }
    let Some(v) = version(&v) else {
        return not_found().await;
    };
    let expired = || {
        rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return expired();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return expired();
    };
    let Some(soql) = Sim::lock(&s.cursors).get(id).cloned() else {
        return expired();
    };
    run(s, v, &soql, offset)
}

/// Runs a query and renders the page at `offset`.
fn run(s: &Sim, v: &str, soql: &str, offset: usize) -> Response {
    let q = match soql::parse(soql) {
        Ok(q) => q,
        Err(msg) => return rest_error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", &msg),
    };
    let (rows, total, batch) = match evaluate(&s.model(), &q, v) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let end = (offset + batch).min(rows.len());
    let page: Vec<Value> = rows
        .get(offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({ "totalSize": total, "done": end >= rows.len(), "records": page });
    if end < rows.len() {
        let id = {
            let mut cursors = Sim::lock(&s.cursors);
            if cursors.len() > 100_000 {
                cursors.clear();
            }
            let n = s.cursor_seq.fetch_add(1, Ordering::Relaxed);
            let id = model::sf_id("01g", n);
            cursors.insert(id.clone(), soql.to_owned());
            id
        };
        body["nextRecordsUrl"] = json!(format!(
            "{}/services/data/v{v}/query/{id}-{end}",
            Provider::Salesforce.prefix()
        ));
    }
    axum::Json(body).into_response()
}

/// Salesforce's `+0000` timestamp style.
fn sf_time(unix: i64) -> String {
    let z = Stamp::utc(unix).rfc3339();
    format!("{}.000+0000", z.trim_end_matches('Z'))
}

fn str_matches(c: &soql::Cond, value: &str) -> bool {
    match &c.value {
        Lit::Str(s) => c.op.holds(value.cmp(s.as_str())),
        _ => false,
    }
}

fn invalid_field(object: &str, field: &str) -> Box<Response> {
    Box::new(rest_error(
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        &format!("No such column '{field}' on entity '{object}'."),
    ))
}

type Evaluated = (Vec<Value>, usize, usize);

/// The rows of a query (all of them, in the org's order), its `totalSize` and the
/// batch size.
fn evaluate(m: &Model, q: &Query, v: &str) -> Result<Evaluated, Box<Response>> {
    let attrs = |ty: &str, id: Option<&str>| match id {
        Some(id) => json!({"type": ty, "url": format!("/services/data/v{v}/sobjects/{ty}/{id}")}),
        None => json!({"type": ty}),
    };
    match q.object.as_str() {
        "ConnectedApplication" => {
            if let Some(c) = q.conds.first() {
                return Err(invalid_field("ConnectedApplication", &c.field));
            }
            let mut apps: Vec<&model::ConnectedApp> = m.apps.iter().collect();
            apps.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            let rows: Vec<Value> = apps
                .iter()
                .map(|a| {
                    json!({
                        "attributes": attrs("ConnectedApplication", Some(&a.id)),
                        "Id": a.id,
                        "Name": a.name,
                        "CreatedDate": sf_time(a.created),
                        "CreatedById": "0055g00000AdminAAA",
                        "LastModifiedDate": sf_time(a.created),
                        "OptionsAllowAdminApprovedUsersOnly": a.admin_only,
                        "OptionsRefreshTokenValidityMetric": a.validity_from_use,
                        "RefreshTokenValidityPeriod": a.validity,
                        "OptionsHasSessionLevelPolicy": false,
                        "OptionsIsInternal": a.internal,
                        "OptionsTokenExchangeManageBitEnabled": false,
                        "OptionsCodeCredentialGuestEnabled": false,
                        "OptionsFullContentPushNotifications": false,
                        "MobileSessionTimeout": null,
                        "PinLength": null,
                        "StartUrl": null,
                        "MobileStartUrl": null,
                    })
                })
                .collect();
            let n = rows.len();
            Ok((rows, n, SETUP_BATCH))
        }
        "AppMenuItem" => {
            let mut keep = true;
            for c in &q.conds {
                match c.field.as_str() {
                    "Type" => keep &= str_matches(c, "ConnectedApplication"),
                    f => return Err(invalid_field("AppMenuItem", f)),
                }
            }
            let rows: Vec<Value> = m
                .apps
                .iter()
                .filter(|_| keep)
                .map(|a| {
                    json!({
                        "attributes": attrs("AppMenuItem", Some(&a.menu_id)),
                        "Id": a.menu_id,
                        "ApplicationId": a.id,
                        "Name": a.menu_name,
                        "Label": a.name,
                        "Type": "ConnectedApplication",
                        "NamespacePrefix": a.namespace,
                        "IsAccessible": true,
                        "IsVisible": false,
                        "IsUsingAdminAuthorization": a.admin_only,
                        "StartUrl": null,
                        "InfoUrl": null,
                        "Description": null,
                    })
                })
                .collect();
            let n = rows.len();
            Ok((rows, n, SETUP_BATCH))
        }
        "SetupEntityAccess" => {
            let mut rows = Vec::new();
            'rows: for sea in &m.seas {
                let Some(app) = m.apps.get(sea.app) else {
                    continue;
                };
                for c in &q.conds {
                    let value = match c.field.as_str() {
                        "SetupEntityType" => "ConnectedApplication",
                        "Id" => sea.id.as_str(),
                        "ParentId" => sea.parent_id.as_str(),
                        "SetupEntityId" => app.id.as_str(),
                        f => return Err(invalid_field("SetupEntityAccess", f)),
                    };
                    if !str_matches(c, value) {
                        continue 'rows;
                    }
                }
                let profile = sea.profile.as_ref().map(|p| {
                    json!({
                        "attributes": attrs("Profile", Some("00e5g000001SysAAA")),
                        "Name": p,
                    })
                });
                rows.push(json!({
                    "attributes": attrs("SetupEntityAccess", Some(&sea.id)),
                    "Id": sea.id,
                    "ParentId": sea.parent_id,
                    "SetupEntityId": app.id,
                    "SetupEntityType": "ConnectedApplication",
                    "Parent": {
                        "attributes": attrs("PermissionSet", Some(&sea.parent_id)),
                        "Name": sea.parent_name,
                        "IsOwnedByProfile": sea.profile.is_some(),
                        "Profile": profile,
                    },
                }));
            }
            let n = rows.len();
            Ok((rows, n, SETUP_BATCH))
        }
        "OauthToken" => tokens(m, q, v),
        other => Err(Box::new(rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            &format!("sObject type '{other}' is not supported."),
        ))),
    }
}

fn tokens(m: &Model, q: &Query, v: &str) -> Result<Evaluated, Box<Response>> {
    let mut matching: Vec<&model::Token> = Vec::new();
    'rows: for t in &m.tokens {
        for c in &q.conds {
            let ok = match c.field.as_str() {
                "UserId" => str_matches(c, &model::user_id(t.user)),
                "AppName" => str_matches(c, &t.app_name),
                "CreatedDate" => match c.value {
                    Lit::DateTime(at) => c.op.holds(t.created.cmp(&at)),
                    _ => false,
                },
                f => return Err(invalid_field("OauthToken", f)),
            };
            if !ok {
                continue 'rows;
            }
        }
        matching.push(t);
    }
    let fields: Vec<&str> = q.fields.iter().map(String::as_str).collect();
    if fields == ["COUNT()"] {
        return Ok((Vec::new(), matching.len(), AGGREGATE_BATCH));
    }
    if let Some(group) = &q.group_by {
        if group != "AppName" || fields.len() != 2 || fields[0] != "AppName" {
            return Err(Box::new(rest_error(
                StatusCode::BAD_REQUEST,
                "MALFORMED_QUERY",
                "the simulator groups OauthToken only by AppName",
            )));
        }
        let mut counts: Vec<(String, usize)> = Vec::new();
        for t in &matching {
            match counts.iter_mut().find(|(n, _)| *n == t.app_name) {
                Some((_, c)) => *c += 1,
                None => counts.push((t.app_name.clone(), 1)),
            }
        }
        let rows: Vec<Value> = counts
            .into_iter()
            .map(|(name, n)| json!({"attributes": {"type": "AggregateResult"}, "AppName": name, "expr0": n}))
            .collect();
        let n = rows.len();
        return Ok((rows, n, AGGREGATE_BATCH));
    }
    const KNOWN: [&str; 10] = [
        "Id",
        "AppName",
        "AppMenuItemId",
        "UserId",
        "User.Username",
        "User.IsActive",
        "CreatedDate",
        "LastUsedDate",
        "UseCount",
        "DeleteToken",
    ];
    if let Some(f) = fields.iter().find(|f| !KNOWN.contains(f)) {
        return Err(invalid_field("OauthToken", f));
    }
    let has = |f: &str| fields.contains(&f);
    let total = matching.len();
    let rows: Vec<Value> = matching
        .iter()
        .take(TOKEN_CAP)
        .map(|t| {
            let mut r = serde_json::Map::new();
            r.insert("attributes".into(), json!({"type": "OauthToken"}));
            let uid = model::user_id(t.user);
            let mut put = |k: &str, v: Value| {
                if has(k) {
                    r.insert(k.to_owned(), v);
                }
            };
            put("Id", Value::Null);
            put("AppName", json!(t.app_name));
            put("AppMenuItemId", json!(t.menu_id));
            put("UserId", json!(uid));
            put("CreatedDate", json!(sf_time(t.created)));
            put("LastUsedDate", json!(t.last_used.map(sf_time)));
            put("UseCount", json!(t.use_count));
            put("DeleteToken", json!(t.delete_token));
            if has("User.Username") || has("User.IsActive") {
                let mut u = serde_json::Map::new();
                u.insert(
                    "attributes".into(),
                    json!({"type": "User", "url": format!("/services/data/v{v}/sobjects/User/{uid}")}),
                );
                if has("User.Username") {
                    u.insert("Username".into(), json!(model::username(t.user)));
                }
                if has("User.IsActive") {
                    u.insert("IsActive".into(), json!(!m.inactive.contains(&t.user)));
                }
                r.insert("User".into(), Value::Object(u));
            }
            Value::Object(r)
        })
        .collect();
    Ok((rows, total, TOKEN_BATCH))
}

async fn delete_record(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((v, object, id)): Path<(String, String, String)>,
) -> Response {
    let Some(s) = sim(&shared) else {
        return not_found().await;
    };
    if let Err(r) = session(s, &headers) {
        return *r;
    }
    if version(&v).is_none() {
        return not_found().await;
    }
    if object == "OauthToken" {
        // OauthToken supports describe and query only (API.md 3.4).
        return rest_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "HTTP Method 'DELETE' not allowed. Allowed are HEAD,GET",
        );
    }
    if object != "SetupEntityAccess" {
        return not_found().await;
    }
    let target = format!("{PROVIDER}/{TENANT}/setup-entity-access:{id}");
    let removed = {
        let mut m = s.model();
        let found = m.seas.iter().position(|x| x.id == id);
        found.map(|i| {
            let sea = m.seas.remove(i);
            m.apps.get(sea.app).map(|a| a.id.clone())
        })
    };
    match removed {
        Some(app) => {
            shared.stats.revocation(PROVIDER, target, app.as_deref());
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            shared.stats.revocation(PROVIDER, target, None);
            not_found().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_the_jwt_bearer_rules() {
        let now = 1_000_000;
        let ok = json!({"iss": "ck", "sub": AUDITOR_USERNAME, "aud": AUDIENCE, "exp": now + 180});
        assert_eq!(check_claims(&ok, "ck", now), Ok(()));
        let cases = [
            (
                json!({"iss": "x", "sub": AUDITOR_USERNAME, "aud": AUDIENCE, "exp": now + 60}),
                Refusal::Client,
            ),
            (
                json!({"iss": "ck", "sub": AUDITOR_USERNAME, "aud": "https://x", "exp": now + 60}),
                Refusal::Audience,
            ),
            (
                json!({"iss": "ck", "sub": AUDITOR_USERNAME, "aud": AUDIENCE, "exp": now}),
                Refusal::Assertion,
            ),
            (
                json!({"iss": "ck", "sub": AUDITOR_USERNAME, "aud": AUDIENCE, "exp": now + 3600}),
                Refusal::Assertion,
            ),
            (
                json!({"iss": "ck", "sub": "eve@acme.example", "aud": AUDIENCE, "exp": now + 60}),
                Refusal::NotApproved,
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(check_claims(&claims, "ck", now), Err(want), "{claims}");
        }
    }

    #[test]
    fn timestamps_use_the_salesforce_style() {
        assert_eq!(sf_time(1_675_786_269), "2023-02-07T16:11:09.000+0000");
        assert_eq!(version("v64.0"), Some("64.0"));
        assert_eq!(version("64.0"), None);
        assert_eq!(version("v65.0"), None);
    }
}
