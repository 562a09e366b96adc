//! Request handlers: the token endpoint, Graph's listings (with `$top`, `$select`,
//! `$filter` and `@odata.nextLink` paging) and the revocation calls.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::auth::{self, Expected};
use super::catalog::AUDITOR_CERT_THUMBPRINT;
use super::model::{
    Assignment, Holder, Model, PROVIDER, PermissionGrant, Sp, graph_time, sign_in_id,
};
use super::{GraphError, PREFIX, Sim, unix_now};
use crate::Shared;
use crate::http::{self, QueryParams};
use crate::world::Stamp;

/// Graph's largest page for directory objects.
const MAX_TOP: usize = 999;
/// The sign-in activity report's largest page.
const MAX_REPORT_TOP: usize = 1000;
/// Page size when `$top` is absent.
const DEFAULT_TOP: usize = 100;
/// Most ids one `getByIds` call takes.
const MAX_IDS: usize = 1000;

type Answer = Result<Response, GraphError>;

/// The request line and bearer token.
pub(crate) struct Ctx {
    base: String,
    path: String,
    raw_query: String,
    query: QueryParams,
    token: Option<String>,
}

impl FromRequestParts<Arc<Shared>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        sim: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let raw_query = parts.uri.query().unwrap_or_default().to_owned();
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned());
        Ok(Self {
            base: http::base_url(&parts.headers, sim.bound),
            path: parts.uri.path().to_owned(),
            query: QueryParams::parse(&raw_query),
            raw_query,
            token,
        })
    }
}

/// The provider's state, once the bearer token is checked.
fn entra<'a>(shared: &'a Shared, ctx: &Ctx) -> Result<&'a Sim, GraphError> {
    let sim = shared.microsoft_entra.as_ref().ok_or(GraphError::NoRoute)?;
    let token = ctx.token.as_deref().ok_or(GraphError::Unauthenticated)?;
    let live = sim
        .tokens()
        .get(token)
        .is_some_and(|expiry| *expiry > unix_now());
    if live {
        Ok(sim)
    } else {
        Err(GraphError::Unauthenticated)
    }
}

fn answer(r: Answer) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

// --- token endpoint --------------------------------------------------------------

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(sim) = shared.microsoft_entra.as_ref() else {
        return GraphError::NoRoute.into_response();
    };
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let (tenant_id, client_id) = {
        let m = sim.model();
        (m.tenant_id.clone(), m.auditor_app_id.clone())
    };
    let base = http::base_url(&headers, shared.bound);
    let audiences = [
        format!("{base}{PREFIX}/{tenant}/oauth2/v2.0/token"),
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
    ];
    let x5t = auth::x5t_of(AUDITOR_CERT_THUMBPRINT);
    let want = Expected {
        tenant_id: &tenant_id,
        client_id: &client_id,
        secret: &sim.secret,
        key: &sim.key,
        x5t: &x5t,
        audiences: &audiences,
        now: unix_now(),
    };
    if let Err(e) = auth::check_request(&tenant, &form, &want) {
        tracing::debug!(code = e.code, "token request refused");
        return e.into_response();
    }
    let token = auth::new_access_token();
    sim.tokens()
        .insert(token.clone(), unix_now() + auth::TOKEN_TTL);
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": auth::TOKEN_TTL,
        "ext_expires_in": auth::TOKEN_TTL,
        "access_token": token,
    }))
    .into_response()
}

// --- paging ----------------------------------------------------------------------

/// Where a page starts, and whether the listing already served its empty page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    offset: usize,
    served_empty: bool,
}

fn encode_cursor(c: Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("RFNwdA:{}:{}", c.offset, u8::from(c.served_empty)))
}

fn decode_cursor(token: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.split(':');
    (parts.next()? == "RFNwdA").then_some(())?;
    let offset = parts.next()?.parse().ok()?;
    let served_empty = parts.next()? == "1";
    Some(Cursor {
        offset,
        served_empty,
    })
}

/// How one listing pages.
struct Paging {
    max_top: usize,
    /// Serve an empty first page that still carries a next link, as Graph does when
    /// a directory partition holds nothing for the caller (API.md §4).
    empty_first: bool,
    context: &'static str,
}

impl Ctx {
    fn top(&self, max: usize) -> Result<usize, GraphError> {
        match self.query.get("$top") {
            None => Ok(DEFAULT_TOP.min(max)),
            Some(t) => t
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    GraphError::BadRequest(format!(
                        "Invalid page size specified: '{t}'. Must be between 1 and {max} inclusive."
                    ))
                }),
        }
    }

    /// This request's URL with `$skiptoken` replaced.
    fn next_link(&self, cursor: Cursor) -> String {
        let kept: Vec<&str> = self
            .raw_query
            .split('&')
            .filter(|p| {
                !p.is_empty() && !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken=")
            })
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!(
            "{}{PREFIX}{}?{query}$skiptoken={}",
            self.base,
            self.path,
            encode_cursor(cursor)
        )
    }

    /// One page of `items`, with `@odata.nextLink` when more follow.
    fn page(&self, items: Vec<Value>, paging: &Paging) -> Answer {
        let top = self.top(paging.max_top)?;
        let cursor = match self.query.get("$skiptoken") {
            None => Cursor {
                offset: 0,
                served_empty: false,
            },
            Some(t) => decode_cursor(t).ok_or_else(|| {
                GraphError::BadRequest("Invalid or expired $skiptoken value.".to_owned())
            })?,
        };
        let mut body = Map::new();
        body.insert(
            "@odata.context".to_owned(),
            Value::String(format!(
                "https://graph.microsoft.com/v1.0/$metadata#{}",
                paging.context
            )),
        );
        if paging.empty_first && !cursor.served_empty {
            body.insert(
                "@odata.nextLink".to_owned(),
                Value::String(self.next_link(Cursor {
                    offset: cursor.offset,
                    served_empty: true,
                })),
            );
            body.insert("value".to_owned(), Value::Array(Vec::new()));
            return Ok(axum::Json(Value::Object(body)).into_response());
        }
        let total = items.len();
        let start = cursor.offset.min(total);
        let end = start.saturating_add(top).min(total);
        let page: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
        if end < total {
            body.insert(
                "@odata.nextLink".to_owned(),
                Value::String(self.next_link(Cursor {
                    offset: end,
                    served_empty: true,
                })),
            );
        }
        body.insert("value".to_owned(), Value::Array(page));
        Ok(axum::Json(Value::Object(body)).into_response())
    }
}

/// Keeps only the `$select`ed properties (and `id`, which Graph always returns).
fn select(ctx: &Ctx, mut v: Value) -> Value {
    let Some(list) = ctx.query.get("$select") else {
        return v;
    };
    let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
    if let Value::Object(map) = &mut v {
        map.retain(|k, _| k == "id" || k.starts_with('@') || wanted.contains(&k.as_str()));
    }
    v
}

/// `$filter=name eq 'value'` (the only form these listings accept here).
fn filter(ctx: &Ctx, allowed: &[&str]) -> Result<Option<(String, String)>, GraphError> {
    let Some(f) = ctx.query.get("$filter") else {
        return Ok(None);
    };
    let unsupported = || GraphError::BadRequest(format!("Unsupported filter: '{f}'."));
    let (name, rest) = f.trim().split_once(' ').ok_or_else(unsupported)?;
    let value = rest
        .trim()
        .strip_prefix("eq ")
        .map(str::trim)
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(unsupported)?;
    if !allowed.contains(&name) {
        return Err(unsupported());
    }
    Ok(Some((name.to_owned(), value.to_owned())))
}

// --- JSON shapes -----------------------------------------------------------------

fn sp_json(sp: &Sp) -> Value {
    let verified = match &sp.verified {
        Some(v) => json!({"displayName": v.name, "verifiedPublisherId": v.id,
            "addedDateTime": Stamp::utc(v.added).rfc3339()}),
        None => json!({"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}),
    };
    let roles: Vec<Value> = sp
        .roles
        .iter()
        .map(|r| {
            json!({"allowedMemberTypes": r.member_types, "description": format!("Allows the app to {}.", r.value),
                "displayName": r.value, "id": r.id, "isEnabled": true, "origin": "Application", "value": r.value})
        })
        .collect();
    let scopes: Vec<Value> = sp
        .scopes
        .iter()
        .map(|s| {
            let text = format!("Delegated permission {}", s.value);
            json!({"adminConsentDescription": text, "adminConsentDisplayName": text, "id": s.id,
                "isEnabled": true, "type": if s.admin { "Admin" } else { "User" },
                "userConsentDescription": if s.admin { Value::Null } else { json!(text) },
                "userConsentDisplayName": if s.admin { Value::Null } else { json!(text) },
                "value": s.value})
        })
        .collect();
    json!({
        "id": sp.id,
        "appId": sp.app_id,
        "displayName": sp.name,
        "appDisplayName": sp.name,
        "appOwnerOrganizationId": sp.owner,
        "publisherName": sp.publisher,
        "verifiedPublisher": verified,
        "signInAudience": sp.audience,
        "servicePrincipalType": "Application",
        "accountEnabled": sp.enabled,
        "tags": sp.tags,
        "appRoleAssignmentRequired": false,
        "disabledByMicrosoftStatus": null,
        "homepage": sp.homepage,
        "replyUrls": sp.homepage.iter().map(|h| format!("{h}auth/callback")).collect::<Vec<_>>(),
        "info": {"termsOfServiceUrl": null, "supportUrl": null, "privacyStatementUrl": null,
            "marketingUrl": null, "logoUrl": null},
        "appRoles": roles,
        "oauth2PermissionScopes": scopes,
    })
}

fn grant_json(m: &Model, g: &PermissionGrant) -> Value {
    json!({
        "clientId": m.sps[g.client].id,
        "consentType": if g.principal.is_some() { "Principal" } else { "AllPrincipals" },
        "id": g.id,
        "principalId": g.principal.map(|u| m.users[u].id.clone()),
        "resourceId": m.sps[g.resource].id,
        "scope": g.scope,
    })
}

fn assignment_json(m: &Model, a: &Assignment) -> Value {
    let (principal_id, principal_name, principal_type) = match a.holder {
        Holder::App(c) => (&m.sps[c].id, &m.sps[c].name, "ServicePrincipal"),
        Holder::User(u) => (&m.users[u].id, &m.users[u].display_name, "User"),
    };
    let resource = &m.sps[a.resource];
    json!({
        "id": a.id,
        "deletedDateTime": null,
        "appRoleId": a.role_id,
        "createdDateTime": graph_time(a.created, a.ticks),
        "principalDisplayName": principal_name,
        "principalId": principal_id,
        "principalType": principal_type,
        "resourceDisplayName": resource.name,
        "resourceId": resource.id,
    })
}

fn sign_in_json(sp: &Sp) -> Option<Value> {
    let s = sp.sign_ins?;
    let activity = |t: Option<i64>| match t {
        Some(t) => json!({"lastSignInDateTime": Stamp::utc(t).rfc3339(),
            "lastSignInRequestId": super::request_id()}),
        None => json!({"lastSignInDateTime": null, "lastSignInRequestId": null}),
    };
    let last = s.delegated.max(s.app_only);
    Some(json!({
        "id": sign_in_id(&sp.app_id),
        "appId": sp.app_id,
        "delegatedClientSignInActivity": activity(s.delegated),
        "delegatedResourceSignInActivity": activity(None),
        "applicationAuthenticationClientSignInActivity": activity(s.app_only),
        "applicationAuthenticationResourceSignInActivity": activity(None),
        "lastSignInActivity": activity(last),
    }))
}

// --- listings --------------------------------------------------------------------

const DIRECTORY: Paging = Paging {
    max_top: MAX_TOP,
    empty_first: false,
    context: "servicePrincipals",
};

/// `GET /v1.0/servicePrincipals`.
pub(crate) async fn list_service_principals(
    State(shared): State<Arc<Shared>>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let items: Vec<Value> = sim
            .model()
            .sps
            .iter()
            .map(|s| select(&ctx, sp_json(s)))
            .collect();
        ctx.page(items, &DIRECTORY)
    })())
}

fn sp_of(m: &Model, id: &str) -> Result<usize, GraphError> {
    m.sp_index(id)
        .ok_or_else(|| GraphError::NotFound(id.to_owned()))
}

/// `GET /v1.0/servicePrincipals/{id}`.
pub(crate) async fn get_service_principal(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let m = sim.model();
        let i = sp_of(&m, &id)?;
        let mut v = select(&ctx, sp_json(&m.sps[i]));
        v["@odata.context"] =
            json!("https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity");
        Ok(axum::Json(v).into_response())
    })())
}

/// `PATCH /v1.0/servicePrincipals/{id}`: only `accountEnabled` matters here. Counted in
/// the stats under `service-principal:{id}`, its own target, so grant targets stay
/// exactly-once countable.
pub(crate) async fn update_service_principal(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
    body: Bytes,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let mut m = sim.model();
        let found = m.sp_index(&id);
        shared.stats.revocation(
            PROVIDER,
            Model::grant_target(&format!("service-principal:{id}")),
            found.map(|i| m.sps[i].app_id.as_str()),
        );
        let i = found.ok_or_else(|| GraphError::NotFound(id.clone()))?;
        let patch: Value = serde_json::from_slice(&body).map_err(|_| {
            GraphError::BadRequest("Unable to read JSON request payload.".to_owned())
        })?;
        let Value::Object(patch) = patch else {
            return Err(GraphError::BadRequest(
                "The request body must be a JSON object.".to_owned(),
            ));
        };
        if let Some(v) = patch.get("accountEnabled") {
            let enabled = v.as_bool().ok_or_else(|| {
                GraphError::BadRequest("Invalid value for property 'accountEnabled'.".to_owned())
            })?;
            m.sps[i].enabled = enabled;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

const ASSIGNMENTS: Paging = Paging {
    max_top: MAX_TOP,
    empty_first: false,
    context: "appRoleAssignments",
};

/// `GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo`: who holds roles on a resource.
pub(crate) async fn list_assigned_to(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let m = sim.model();
        let r = sp_of(&m, &id)?;
        let items = m
            .assignments
            .iter()
            .filter(|a| a.resource == r)
            .map(|a| assignment_json(&m, a))
            .collect();
        ctx.page(items, &ASSIGNMENTS)
    })())
}

/// `GET /v1.0/servicePrincipals/{id}/appRoleAssignments`: roles a client holds.
pub(crate) async fn list_assignments(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let m = sim.model();
        let c = sp_of(&m, &id)?;
        let items = m
            .assignments
            .iter()
            .filter(|a| a.holder == Holder::App(c))
            .map(|a| assignment_json(&m, a))
            .collect();
        ctx.page(items, &ASSIGNMENTS)
    })())
}

/// Removes assignment `assignment` if `keep` says it belongs to the addressed service
/// principal; counts the call under the assignment's grant id either way.
fn remove_assignment(
    shared: &Shared,
    ctx: &Ctx,
    id: &str,
    assignment: &str,
    on_resource: bool,
) -> Answer {
    let sim = entra(shared, ctx)?;
    let mut m = sim.model();
    let sp = m.sp_index(id);
    let pos = m.assignments.iter().position(|a| {
        a.id == assignment
            && sp.is_some_and(|s| {
                if on_resource {
                    a.resource == s
                } else {
                    a.holder == Holder::App(s)
                }
            })
    });
    let app_id = pos.and_then(|p| match m.assignments[p].holder {
        Holder::App(c) => Some(m.sps[c].app_id.clone()),
        Holder::User(_) => None,
    });
    shared.stats.revocation(
        PROVIDER,
        Model::grant_target(&format!("app-role-assignment:{assignment}")),
        app_id.as_deref(),
    );
    let p = pos.ok_or_else(|| GraphError::NotFound(assignment.to_owned()))?;
    m.assignments.remove(p);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1.0/servicePrincipals/{resource}/appRoleAssignedTo/{assignment}`.
pub(crate) async fn delete_assigned_to(
    State(shared): State<Arc<Shared>>,
    Path((id, assignment)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    answer(remove_assignment(&shared, &ctx, &id, &assignment, true))
}

/// `DELETE /v1.0/servicePrincipals/{client}/appRoleAssignments/{assignment}`.
pub(crate) async fn delete_assignment(
    State(shared): State<Arc<Shared>>,
    Path((id, assignment)): Path<(String, String)>,
    ctx: Ctx,
) -> Response {
    answer(remove_assignment(&shared, &ctx, &id, &assignment, false))
}

const GRANTS: Paging = Paging {
    max_top: MAX_TOP,
    empty_first: true,
    context: "oauth2PermissionGrants",
};

/// `GET /v1.0/servicePrincipals/{id}/oauth2PermissionGrants`: one client's grants.
pub(crate) async fn list_client_grants(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let m = sim.model();
        let c = sp_of(&m, &id)?;
        let items = m
            .grants
            .iter()
            .filter(|g| g.client == c)
            .map(|g| grant_json(&m, g))
            .collect();
        ctx.page(
            items,
            &Paging {
                empty_first: false,
                ..GRANTS
            },
        )
    })())
}

/// `GET /v1.0/oauth2PermissionGrants`. Models two documented quirks (API.md §4, §6):
/// the first page is empty but links to the next, and a page size other than 999
/// silently misses some grants.
pub(crate) async fn list_grants(State(shared): State<Arc<Shared>>, ctx: Ctx) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let f = filter(
            &ctx,
            &["clientId", "resourceId", "principalId", "consentType"],
        )?;
        let full = ctx.query.get("$top").map(str::trim) == Some("999");
        let m = sim.model();
        let items = m
            .grants
            .iter()
            .enumerate()
            .filter(|(i, _)| full || i % 37 != 36)
            .map(|(_, g)| grant_json(&m, g))
            .filter(|v| match &f {
                Some((name, value)) => v[name.as_str()].as_str() == Some(value.as_str()),
                None => true,
            })
            .collect();
        ctx.page(items, &GRANTS)
    })())
}

/// `DELETE /v1.0/oauth2PermissionGrants/{id}`.
pub(crate) async fn delete_grant(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ctx: Ctx,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let mut m = sim.model();
        let pos = m.grants.iter().position(|g| g.id == id);
        let app_id = pos.map(|p| m.sps[m.grants[p].client].app_id.clone());
        shared.stats.revocation(
            PROVIDER,
            Model::grant_target(&format!("permission-grant:{id}")),
            app_id.as_deref(),
        );
        let p = pos.ok_or_else(|| GraphError::NotFound(id.clone()))?;
        m.grants.remove(p);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

/// `POST /v1.0/directoryObjects/getByIds` with `{"ids": [...], "types": [...]}`.
pub(crate) async fn get_by_ids(
    State(shared): State<Arc<Shared>>,
    ctx: Ctx,
    body: Bytes,
) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let req: Value = serde_json::from_slice(&body).map_err(|_| {
            GraphError::BadRequest("Unable to read JSON request payload.".to_owned())
        })?;
        let strings = |k: &str| -> Vec<String> {
            req.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let ids = strings("ids");
        if ids.is_empty() || ids.len() > MAX_IDS {
            return Err(GraphError::BadRequest(format!(
                "Invalid number of ids: specify from 1 to {MAX_IDS}."
            )));
        }
        let types: Vec<String> = strings("types")
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        let wants = |t: &str| types.is_empty() || types.iter().any(|x| x == t);
        let m = sim.model();
        let mut value = Vec::new();
        for id in &ids {
            if wants("serviceprincipal")
                && let Some(i) = m.sp_index(id)
            {
                let mut v = sp_json(&m.sps[i]);
                v["@odata.type"] = json!("#microsoft.graph.servicePrincipal");
                value.push(v);
            } else if wants("user")
                && let Some(u) = m.users.iter().find(|u| u.id.eq_ignore_ascii_case(id))
            {
                value.push(json!({
                    "@odata.type": "#microsoft.graph.user",
                    "id": u.id,
                    "businessPhones": [],
                    "displayName": u.display_name,
                    "mail": u.upn,
                    "userPrincipalName": u.upn,
                }));
            }
        }
        Ok(axum::Json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
            "value": value,
        }))
        .into_response())
    })())
}

/// `GET /beta/reports/servicePrincipalSignInActivities`.
pub(crate) async fn sign_in_activities(State(shared): State<Arc<Shared>>, ctx: Ctx) -> Response {
    answer((|| {
        let sim = entra(&shared, &ctx)?;
        let f = filter(&ctx, &["appId"])?;
        let items = sim
            .model()
            .sps
            .iter()
            .filter(|s| {
                f.as_ref()
                    .is_none_or(|(_, v)| s.app_id.eq_ignore_ascii_case(v))
            })
            .filter_map(sign_in_json)
            .collect();
        ctx.page(
            items,
            &Paging {
                max_top: MAX_REPORT_TOP,
                empty_first: false,
                context: "reports/servicePrincipalSignInActivities",
            },
        )
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor {
            offset: 1998,
            served_empty: true,
        };
        assert_eq!(decode_cursor(&encode_cursor(c)), Some(c));
        assert_eq!(decode_cursor("garbage"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:1:1")), None);
    }
}
