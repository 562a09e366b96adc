//! The endpoint handlers and the JSON they answer with (the shapes of
//! `testdata/providers/google-workspace/examples/`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::auth::{self, Expect, GRANT_TYPE};
use super::model::{Asp, Model, PROVIDER, TENANT, Token, User, asp_local_id, token_local_id};
use super::{ApiError, DELEGATED, Minted, SCOPE_AUDIT, SCOPE_USER, SCOPE_USER_READONLY};
use super::{SCOPE_USER_SECURITY, SERVICE_ACCOUNT, Sim, unix_now};
use crate::Shared;
use crate::http::{self, QueryParams};
use crate::provider::Provider;
use crate::world::Stamp;

type Result<T> = std::result::Result<T, ApiError>;

/// Largest `maxResults` of `users.list`.
const MAX_USERS_PAGE: usize = 500;
/// Default `maxResults` of `users.list`.
const DEFAULT_USERS_PAGE: usize = 100;
/// Largest (and default) `maxResults` of `activities.list`.
const MAX_ACTIVITIES_PAGE: usize = 1000;
const ETAG: &str = "nMr6wZ8b1aKp3yQvR0t5xL2cJhE";

fn gw(shared: &Shared) -> Result<&Sim> {
    // The router is only mounted when the provider is served.
    shared
        .google_workspace
        .as_ref()
        .ok_or(ApiError::NotFound("service"))
}

/// The impersonated user's index, if the request's access token is live and holds one of
/// `scopes`. A token of a user who is no admin is refused like Google does.
fn authorize(sim: &Sim, headers: &HeaderMap, scopes: &[&str]) -> Result<usize> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer)
        .ok_or(ApiError::Unauthenticated)?;
    let minted: Minted = sim
        .tokens()
        .get(token)
        .filter(|m| m.expires_at > unix_now())
        .cloned()
        .ok_or(ApiError::Unauthenticated)?;
    if !minted.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        return Err(ApiError::InsufficientScopes);
    }
    let model = sim.model();
    if !model.users.get(minted.user).is_some_and(|u| u.is_admin) {
        return Err(ApiError::NotAuthorized);
    }
    Ok(minted.user)
}

fn query(uri: &Uri) -> QueryParams {
    QueryParams::parse(uri.query().unwrap_or_default())
}

/// RFC 3339 with milliseconds and `Z`, as Google writes times.
fn google_time(secs: i64, millis: u32) -> String {
    let s = Stamp::utc(secs).rfc3339();
    format!("{}.{millis:03}Z", s.trim_end_matches('Z'))
}

fn etag(tail: &str) -> String {
    format!("\"{ETAG}/{tail}\"")
}

fn page_token(kind: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{offset}"))
}

fn page_offset(kind: &str, q: &QueryParams) -> Result<usize> {
    let Some(token) = q.get("pageToken").filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(&format!("{kind}:"))?.parse().ok())
        .ok_or(ApiError::Invalid("pageToken"))
}

fn max_results(q: &QueryParams, default: usize, max: usize) -> Result<usize> {
    match q.get("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::Invalid("maxResults")),
        },
    }
}

// --- token endpoint ----------------------------------------------------------------

/// `POST /token`: exchanges a JWT bearer assertion for an access token.
pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let oauth_error = |status: u16, error: &str, description: &str| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let Ok(sim) = gw(&shared) else {
        return oauth_error(404, "invalid_request", "Not Found");
    };
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    if form.get("grant_type") != Some(GRANT_TYPE) {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "Invalid grant_type: use urn:ietf:params:oauth:grant-type:jwt-bearer",
        );
    }
    let Some(assertion) = form.get("assertion").filter(|a| !a.is_empty()) else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let audience = format!(
        "{}{}/token",
        http::base_url(&headers, shared.bound),
        Provider::GoogleWorkspace.prefix()
    );
    let expect = Expect {
        key: &sim.key,
        key_id: &sim.key_id,
        issuer: SERVICE_ACCOUNT,
        audience: &audience,
        delegated: DELEGATED,
        now: unix_now(),
    };
    let verified = auth::verify(assertion, &expect).and_then(|a| {
        let user = sim
            .model()
            .user_index(&a.subject)
            .ok_or(auth::Rejection::UnknownSubject)?;
        Ok((a, user))
    });
    let (assertion, user) = match verified {
        Ok(v) => v,
        Err(why) => {
            tracing::debug!(?why, "service account assertion refused");
            let (status, error, description) = why.answer();
            return oauth_error(status, error, description);
        }
    };
    let access = auth::new_access_token();
    sim.tokens().insert(
        access.clone(),
        Minted {
            user,
            scopes: assertion.scopes,
            expires_at: unix_now() + auth::TOKEN_TTL,
        },
    );
    (
        [(
            CACHE_CONTROL,
            "no-cache, no-store, max-age=0, must-revalidate",
        )],
        axum::Json(json!({
            "access_token": access,
            "expires_in": auth::TOKEN_TTL,
            "token_type": "Bearer",
        })),
    )
        .into_response()
}

// --- users -----------------------------------------------------------------------

fn user_json(model: &Model, u: &User) -> Value {
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "etag": etag(&format!("{}kQ9sPz", &u.id[u.id.len().saturating_sub(6)..])),
        "primaryEmail": u.email,
        "name": {
            "givenName": u.given,
            "familyName": u.family,
            "fullName": format!("{} {}", u.given, u.family),
        },
        "isAdmin": u.is_admin,
        "isDelegatedAdmin": u.delegated_admin,
        "lastLoginTime": google_time(u.last_login.unwrap_or(0), 0),
        "creationTime": google_time(u.created, 0),
        "agreedToTerms": true,
        "suspended": u.suspended,
        "archived": u.archived,
        "changePasswordAtNextLogin": false,
        "ipWhitelisted": false,
        "emails": [{"address": u.email, "primary": true}],
        "customerId": model.customer_id,
        "orgUnitPath": u.org_unit,
        "isMailboxSetup": true,
        "isEnrolledIn2Sv": u.two_sv,
        "isEnforcedIn2Sv": u.two_sv,
        "includeInGlobalAddressList": true,
    });
    if u.suspended {
        v["suspensionReason"] = json!("ADMIN");
    }
    v
}

/// `GET /admin/directory/v1/users?customer=my_customer|domain=…`.
pub(super) async fn list_users(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_READONLY, SCOPE_USER])?;
    let q = query(&uri);
    let model = sim.model();
    match (q.get("customer"), q.get("domain")) {
        (None, None) => return Err(ApiError::Invalid("customer")),
        (Some(c), _) if c != "my_customer" && c != model.customer_id => {
            return Err(ApiError::NotAuthorized);
        }
        (_, Some(d)) if !d.eq_ignore_ascii_case(super::model::DOMAIN) => {
            return Err(ApiError::NotAuthorized);
        }
        _ => {}
    }
    let size = max_results(&q, DEFAULT_USERS_PAGE, MAX_USERS_PAGE)?;
    let offset = page_offset("users", &q)?;
    let end = offset.saturating_add(size).min(model.users.len());
    let users: Vec<Value> = model
        .users
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|u| user_json(&model, u))
        .collect();
    let mut body = json!({
        "kind": "admin#directory#users",
        "etag": etag(&format!("users{offset}")),
        "users": users,
    });
    if end < model.users.len() {
        body["nextPageToken"] = json!(page_token("users", end));
    }
    Ok(axum::Json(body).into_response())
}

// --- tokens ----------------------------------------------------------------------

fn token_json(model: &Model, u: &User, t: &Token) -> Value {
    let app = &model.apps[t.app];
    json!({
        "kind": "admin#directory#token",
        "etag": etag(&format!("{}{}", t.app, &u.id[u.id.len().saturating_sub(4)..])),
        "clientId": app.client_id,
        "displayText": app.name,
        "scopes": t.scopes,
        "userKey": u.id,
        "anonymous": app.anonymous,
        "nativeApp": app.native,
    })
}

/// A `userKey` path segment: its user, or Google's 404.
fn user_of(model: &Model, key: &str) -> Result<usize> {
    model.user_index(key).ok_or(ApiError::NotFound("userKey"))
}

/// `GET …/users/{userKey}/tokens`: every grant, no paging; no `items` key when none.
pub(super) async fn list_tokens(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let model = sim.model();
    let u = &model.users[user_of(&model, &user)?];
    let mut body =
        json!({"kind": "admin#directory#tokenList", "etag": etag(&format!("tokens{}", u.id))});
    if !u.tokens.is_empty() {
        let items: Vec<Value> = u.tokens.iter().map(|t| token_json(&model, u, t)).collect();
        body["items"] = json!(items);
    }
    Ok(axum::Json(body).into_response())
}

/// `GET …/users/{userKey}/tokens/{clientId}`.
pub(super) async fn get_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, client)): Path<(String, String)>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let model = sim.model();
    let u = &model.users[user_of(&model, &user)?];
    let t = u
        .tokens
        .iter()
        .find(|t| model.apps[t.app].client_id == client)
        .ok_or(ApiError::NotFound("clientId"))?;
    Ok(axum::Json(token_json(&model, u, t)).into_response())
}

/// `DELETE …/users/{userKey}/tokens/{clientId}`: 204, or 404 when already gone.
pub(super) async fn delete_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, client)): Path<(String, String)>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let mut model = sim.model();
    let target =
        |user_id: &str| format!("{PROVIDER}/{TENANT}/{}", token_local_id(user_id, &client));
    let Some(index) = model.user_index(&user) else {
        shared.stats.revocation(PROVIDER, target(&user), None);
        return Err(ApiError::NotFound("userKey"));
    };
    let user_id = model.users[index].id.clone();
    let deleted = model.delete_token(index, &client);
    shared
        .stats
        .revocation(PROVIDER, target(&user_id), deleted.map(|_| client.as_str()));
    match deleted {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::NotFound("clientId")),
    }
}

// --- app-specific passwords ----------------------------------------------------------

fn asp_json(u: &User, a: &Asp) -> Value {
    json!({
        "kind": "admin#directory#asp",
        "etag": etag(&format!("asp{}{}", a.code_id, &u.id[u.id.len().saturating_sub(4)..])),
        "codeId": a.code_id,
        "name": a.name,
        "creationTime": a.created_ms.to_string(),
        "lastTimeUsed": a.last_used_ms.to_string(),
        "userKey": u.id,
    })
}

fn code_id(s: &str) -> Result<i32> {
    s.parse().map_err(|_| ApiError::Invalid("codeId"))
}

/// `GET …/users/{userKey}/asps`: no paging; no `items` key when none.
pub(super) async fn list_asps(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let model = sim.model();
    let u = &model.users[user_of(&model, &user)?];
    let mut body =
        json!({"kind": "admin#directory#aspList", "etag": etag(&format!("asps{}", u.id))});
    if !u.asps.is_empty() {
        let items: Vec<Value> = u.asps.iter().map(|a| asp_json(u, a)).collect();
        body["items"] = json!(items);
    }
    Ok(axum::Json(body).into_response())
}

/// `GET …/users/{userKey}/asps/{codeId}`.
pub(super) async fn get_asp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, code)): Path<(String, String)>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let code = code_id(&code)?;
    let model = sim.model();
    let u = &model.users[user_of(&model, &user)?];
    let a = u
        .asps
        .iter()
        .find(|a| a.code_id == code)
        .ok_or(ApiError::NotFound("codeId"))?;
    Ok(axum::Json(asp_json(u, a)).into_response())
}

/// `DELETE …/users/{userKey}/asps/{codeId}`: 204, or 404 when already gone.
pub(super) async fn delete_asp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, code)): Path<(String, String)>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_USER_SECURITY])?;
    let code = code_id(&code)?;
    let mut model = sim.model();
    let target = |user_id: &str| format!("{PROVIDER}/{TENANT}/{}", asp_local_id(user_id, code));
    let Some(index) = model.user_index(&user) else {
        shared.stats.revocation(PROVIDER, target(&user), None);
        return Err(ApiError::NotFound("userKey"));
    };
    let user_id = model.users[index].id.clone();
    let deleted = model.delete_asp(index, code);
    shared.stats.revocation(
        PROVIDER,
        target(&user_id),
        deleted.then_some("app-specific-password"),
    );
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound("codeId"))
    }
}

// --- Reports API: token audit events ---------------------------------------------------

fn param(name: &str, value: Value) -> Value {
    let mut p = json!({ "name": name });
    match value {
        Value::Array(_) => p["multiValue"] = value,
        v => p["value"] = v,
    }
    p
}

fn activity_json(model: &Model, u: &User, e: &super::model::Event) -> Value {
    let app = &model.apps[e.app];
    let mut params = Vec::new();
    if let Some((api, method, _, _)) = e.call {
        params.push(param("api_name", json!(api)));
        params.push(param("method_name", json!(method)));
    }
    params.push(param("client_id", json!(app.client_id)));
    params.push(param("app_name", json!(app.name)));
    params.push(param("client_type", json!(app.client_type)));
    match e.call {
        Some((_, _, bucket, bytes)) => {
            params.push(json!({"name": "num_response_bytes", "intValue": bytes.to_string()}));
            params.push(param("product_bucket", json!(bucket)));
        }
        None => {
            let data: Vec<Value> = e
                .scopes
                .iter()
                .map(|s| {
                    json!({"parameter": [
                        {"name": "scope_name", "value": s},
                        {"name": "product_bucket", "multiValue": [bucket_of(s)]},
                    ]})
                })
                .collect();
            params.push(json!({"name": "scope_data", "multiMessageValue": data}));
            params.push(param("scope", json!(e.scopes)));
        }
    }
    json!({
        "kind": "admin#reports#activity",
        "id": {
            "time": google_time(e.time, e.millis),
            "uniqueQualifier": e.unique.to_string(),
            "applicationName": "token",
            "customerId": model.customer_id,
        },
        "etag": format!("\"Hq9sLm2Xv4bN7cR1tY6uW0zA3dF5gJ8k/{:x}\"", e.unique.unsigned_abs()),
        "actor": {"callerType": "USER", "email": u.email, "profileId": u.id},
        "ownerDomain": super::model::DOMAIN,
        "ipAddress": e.ip,
        "events": [{"type": "auth", "name": e.kind.name(), "parameters": params}],
    })
}

fn bucket_of(scope: &str) -> &'static str {
    let s = scope.to_ascii_lowercase();
    if s.contains("mail") {
        "GMAIL"
    } else if s.contains("drive") || s.contains("documents") || s.contains("spreadsheets") {
        "DRIVE"
    } else if s.contains("calendar") {
        "CALENDAR"
    } else if s.contains("contacts") {
        "CONTACTS"
    } else if s == "openid" || s.contains("userinfo") {
        "IDENTITY"
    } else {
        "OTHER"
    }
}

/// Parses an optional RFC 3339 query time to Unix seconds.
fn query_time(q: &QueryParams, key: &'static str) -> Result<Option<i64>> {
    let Some(v) = q.get(key) else {
        return Ok(None);
    };
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(|t| Some(t.unix_timestamp()))
        .map_err(|_| ApiError::Invalid(key))
}

/// `GET /admin/reports/v1/activity/users/{userKey|all}/applications/{applicationName}`:
/// newest first, at most 180 days back.
pub(super) async fn list_activities(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((user, app)): Path<(String, String)>,
) -> Result<Response> {
    let sim = gw(&shared)?;
    authorize(sim, &headers, &[SCOPE_AUDIT])?;
    let q = query(&uri);
    let size = max_results(&q, MAX_ACTIVITIES_PAGE, MAX_ACTIVITIES_PAGE)?;
    let offset = page_offset("activities", &q)?;
    let model = sim.model();
    let start = query_time(&q, "startTime")?.unwrap_or(i64::MIN);
    let end = query_time(&q, "endTime")?.unwrap_or(i64::MAX);
    let event_name = q.get("eventName");
    let users: Vec<usize> = if user == "all" {
        (0..model.users.len()).collect()
    } else {
        vec![user_of(&model, &user)?]
    };
    // Only the token application is modelled; other applications have no events here.
    let mut events: Vec<(usize, &super::model::Event)> = if app == "token" {
        users
            .iter()
            .flat_map(|&i| model.users[i].events.iter().map(move |e| (i, e)))
            .filter(|(_, e)| e.time >= start && e.time <= end)
            .filter(|(_, e)| event_name.is_none_or(|n| n == e.kind.name()))
            .collect()
    } else {
        Vec::new()
    };
    if users.len() > 1 {
        events.sort_by_key(|e| std::cmp::Reverse((e.1.time, e.1.millis)));
    }
    let stop = offset.saturating_add(size).min(events.len());
    let items: Vec<Value> = events
        .get(offset..stop)
        .unwrap_or_default()
        .iter()
        .map(|(i, e)| activity_json(&model, &model.users[*i], e))
        .collect();
    let mut body = json!({
        "kind": "admin#reports#activities",
        "etag": format!("\"Hq9sLm2Xv4bN7cR1tY6uW0zA3dF5gJ8k/{offset}\""),
    });
    if !items.is_empty() {
        body["items"] = json!(items);
    }
    if stop < events.len() {
        body["nextPageToken"] = json!(page_token("activities", stop));
    }
    Ok(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::google_workspace::model;
    use crate::world::World;

    fn example(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/providers/google-workspace/examples")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        v["response"]["body"].clone()
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every key the documented object has, the simulator's object has too.
    fn same_shape(ours: &Value, documented: &Value, what: &str) {
        let missing: Vec<String> = keys(documented).difference(&keys(ours)).cloned().collect();
        assert!(missing.is_empty(), "{what} lacks {missing:?}");
    }

    #[test]
    fn bodies_have_the_examples_shapes() {
        let model = Model::generate(&World::new(11, 400));
        let with_everything = model
            .users
            .iter()
            .find(|u| !u.tokens.is_empty() && !u.asps.is_empty())
            .expect("a user with tokens and passwords");
        let u = with_everything;
        same_shape(
            &user_json(&model, u),
            &example("users-list.json")["users"][0],
            "user",
        );
        same_shape(
            &token_json(&model, u, &u.tokens[0]),
            &example("tokens-list.json")["items"][0],
            "token",
        );
        same_shape(
            &asp_json(u, &u.asps[0]),
            &example("asps-list.json")["items"][0],
            "asp",
        );
        let reports = example("reports-activities-token.json");
        for (kind, item) in [
            (model::EventKind::Authorize, 0),
            (model::EventKind::Activity, 1),
        ] {
            let (owner, e) = model
                .users
                .iter()
                .find_map(|u| u.events.iter().find(|e| e.kind == kind).map(|e| (u, e)))
                .expect("an event of each kind");
            let ours = activity_json(&model, owner, e);
            let documented = &reports["items"][item];
            same_shape(&ours, documented, "activity");
            same_shape(&ours["id"], &documented["id"], "activity id");
            same_shape(&ours["actor"], &documented["actor"], "actor");
            let names = |v: &Value| -> BTreeSet<String> {
                v["events"][0]["parameters"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p["name"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            assert_eq!(names(&ours), names(documented), "{kind:?} parameters");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_bad_ones_are_refused() {
        let q = QueryParams::parse(&format!("pageToken={}", page_token("users", 500)));
        assert_eq!(page_offset("users", &q).ok(), Some(500));
        assert!(page_offset("activities", &q).is_err());
        assert!(page_offset("users", &QueryParams::parse("pageToken=%%%")).is_err());
        assert_eq!(google_time(0, 7), "1970-01-01T00:00:00.007Z");
    }
}
