//! Request handlers and JSON rendering: thin async shells around synchronous functions
//! that hold the model lock for the whole operation (never across an await). Shapes
//! follow `testdata/providers/okta/examples/`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::LINK;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{self, App, AppType, Model, PROVIDER, TENANT};
use super::{ApiError, Sim, json_response, oauth_error, unix_now};
use crate::Shared;
use crate::http::{self, QueryParams};
use crate::provider::Provider;
use crate::world::Stamp;

type Reply = Result<Response, ApiError>;

fn reply(r: Reply) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// What a handler needs from the request line.
struct Req {
    /// `http://host:port/okta`: the org URL as the client reached it.
    org: String,
    /// The path below the prefix.
    path: String,
    raw_query: String,
    query: QueryParams,
}

impl Req {
    fn new(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> Self {
        let raw_query = uri.query().unwrap_or_default().to_owned();
        Self {
            org: format!(
                "{}{}",
                http::base_url(headers, shared.bound),
                Provider::Okta.prefix()
            ),
            path: uri.path().to_owned(),
            query: QueryParams::parse(&raw_query),
            raw_query,
        }
    }

    fn expand_scope(&self) -> bool {
        self.query.get("expand") == Some("scope")
    }

    /// A JSON list with Okta's `Link` headers: one `self` line and, when more items
    /// follow, one `next` line whose `after` is the last item's id.
    fn paged(&self, body: &Value, next_after: Option<&str>) -> Response {
        let mut r = json_response(StatusCode::OK, body);
        let query = if self.raw_query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.raw_query)
        };
        let mut links = vec![format!("<{}{}{query}>; rel=\"self\"", self.org, self.path)];
        if let Some(after) = next_after {
            let mut kept: Vec<&str> = self
                .raw_query
                .split('&')
                .filter(|p| !p.is_empty() && p.split('=').next() != Some("after"))
                .collect();
            let cursor = format!("after={after}");
            kept.push(&cursor);
            links.push(format!(
                "<{}{}?{}>; rel=\"next\"",
                self.org,
                self.path,
                kept.join("&")
            ));
        }
        for l in links {
            if let Ok(v) = HeaderValue::from_str(&l) {
                r.headers_mut().append(LINK, v);
            }
        }
        r
    }
}

/// `limit` and `after` of a list request.
struct PageReq {
    limit: usize,
    after: Option<String>,
}

impl PageReq {
    fn from(q: &QueryParams, default: usize) -> Self {
        let limit = q
            .get("limit")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map_or(default, |n| n.min(200));
        Self {
            limit,
            after: q.get("after").map(str::to_owned),
        }
    }

    /// The items after the cursor (items are sorted by `key`), and whether more follow.
    fn window<'a, T>(&self, items: &'a [T], key: impl Fn(&T) -> &str) -> (&'a [T], bool) {
        let start = self
            .after
            .as_deref()
            .map_or(0, |a| items.partition_point(|x| key(x) <= a));
        let rest = items.get(start..).unwrap_or_default();
        let end = rest.len().min(self.limit);
        (rest.get(..end).unwrap_or_default(), rest.len() > end)
    }
}

fn sim(shared: &Shared) -> Result<&Sim, ApiError> {
    shared
        .okta
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("okta".to_owned()))
}

/// Okta's timestamp style: UTC with milliseconds.
fn ts(unix: i64) -> String {
    let z = Stamp::utc(unix).wire();
    format!("{}.000Z", z.trim_end_matches('Z'))
}

/// The person of a user id, or Okta's 404.
fn person(m: &Model, id: &str) -> Result<u32, ApiError> {
    model::user_index(&m.user_tag, id)
        .filter(|u| *u < m.users)
        .ok_or_else(|| ApiError::NotFound(format!("{id} (User)")))
}

fn display_name(u: u32) -> (String, String) {
    let login = crate::world::World::login(u);
    let (first, number) = login.split_once('-').unwrap_or((&login, ""));
    let mut chars = first.chars();
    let first = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    (first, format!("Example-{number}"))
}

// --- token endpoint ------------------------------------------------------------------

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(sim) = sim(&shared) else {
        return ApiError::NotFound("okta".to_owned()).into_response();
    };
    let form = QueryParams::parse(std::str::from_utf8(&body).unwrap_or_default());
    if form.get("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. \
             Configured grant types: [client_credentials].",
        );
    }
    let invalid_client = |why: &str| {
        tracing::debug!(why, "okta client assertion refused");
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are \
             invalid.",
        )
    };
    let assertion = match (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) {
        (Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), Some(a)) => a.to_owned(),
        _ => return invalid_client("no private_key_jwt client assertion"),
    };
    let (client_id, granted) = {
        let m = sim.model();
        let granted: Vec<String> = m
            .app_grants
            .get(&m.auditor_client_id)
            .into_iter()
            .flatten()
            .map(|g| g.scope.to_owned())
            .collect();
        (m.auditor_client_id.clone(), granted)
    };
    if form.get("client_id").is_some_and(|c| c != client_id) {
        return invalid_client("client_id is not the auditor's");
    }
    let audience = format!(
        "{}{}/oauth2/v1/token",
        http::base_url(&headers, shared.bound),
        Provider::Okta.prefix()
    );
    let now = unix_now();
    if let Err(why) = sim.verify_assertion(&assertion, &client_id, &audience, now) {
        return invalid_client(&format!("{why:?}"));
    }
    let requested: Vec<String> = form
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if requested.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, \
             'scope' must be provided.",
        );
    }
    let refused: Vec<&str> = requested
        .iter()
        .filter(|s| !granted.contains(s))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "The following scopes are requested, but not allowed by the client: {}",
                refused.join(" ")
            ),
        );
    }
    let scope = requested.join(" ");
    let access_token = sim.issue(requested, now);
    json_response(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": super::TOKEN_TTL,
            "access_token": access_token,
            "scope": scope,
        }),
    )
}

// --- apps ----------------------------------------------------------------------------

fn render_app(org: &str, m: &Model, a: &App, secret: Option<&str>) -> Value {
    let status = if a.active { "ACTIVE" } else { "INACTIVE" };
    let lifecycle = if a.active { "deactivate" } else { "activate" };
    let links = json!({
        "appLinks": [{
            "name": format!("{}_link", a.name),
            "href": format!("{org}/home/{}/{}/aln{}", a.name, a.id, &a.id[3..]),
            "type": "text/html",
        }],
        "groups": {"href": format!("{org}/api/v1/apps/{}/groups", a.id)},
        "logo": [{"name": "medium", "href": format!("{org}/assets/img/logos/default.png"), "type": "image/png"}],
        "users": {"href": format!("{org}/api/v1/apps/{}/users", a.id)},
        lifecycle: {"href": format!("{org}/api/v1/apps/{}/lifecycle/{lifecycle}", a.id)},
    });
    let orn = format!("orn:okta:idp:00o{}:apps:{}:{}", m.user_tag, a.name, a.id);
    if a.app_type == AppType::Saml {
        return json!({
            "id": a.id, "orn": orn, "name": a.name, "label": a.label, "status": status,
            "lastUpdated": ts(a.created), "created": ts(a.created),
            "accessibility": {"selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null},
            "visibility": {"autoSubmitToolbar": false, "hide": {"iOS": false, "web": false}, "appLinks": {}},
            "features": [],
            "signOnMode": "SAML_2_0",
            "credentials": {"userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"}, "signing": {}},
            "settings": {"app": {}, "signOn": {"defaultRelayState": "", "ssoAcsUrl": "https://sso.acme.example/acs", "audience": "https://sso.acme.example", "responseSigned": true, "assertionSigned": true, "signatureAlgorithm": "RSA_SHA256", "digestAlgorithm": "SHA256"}},
            "_links": links,
        });
    }
    let (app_type, grant_types, response_types, auth_method): (&str, Vec<&str>, Vec<&str>, &str) =
        match a.app_type {
            AppType::Service | AppType::ApiService => (
                "service",
                vec!["client_credentials"],
                vec!["token"],
                if secret.is_some() {
                    "client_secret_basic"
                } else {
                    "private_key_jwt"
                },
            ),
            AppType::Native => (
                "native",
                vec!["authorization_code", "refresh_token"],
                vec!["code"],
                "none",
            ),
            _ => (
                "web",
                vec!["authorization_code", "refresh_token"],
                vec!["code"],
                "client_secret_basic",
            ),
        };
    let mut oauth_client = json!({
        "autoKeyRotation": true,
        "client_id": a.id,
        "token_endpoint_auth_method": auth_method,
        "pkce_required": a.app_type == AppType::Native,
    });
    if let Some(s) = secret {
        oauth_client["client_secret"] = Value::String(s.to_owned());
    }
    let redirect = if a.app_type == AppType::Service || a.app_type == AppType::ApiService {
        json!([])
    } else {
        json!([format!("https://app.{}.example/oauth2/callback", a.name)])
    };
    json!({
        "id": a.id, "orn": orn, "name": a.name, "label": a.label, "status": status,
        "lastUpdated": ts(a.created), "created": ts(a.created),
        "accessibility": {"selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null},
        "visibility": {"autoLaunch": false, "autoSubmitToolbar": false, "hide": {"iOS": true, "web": true}, "appLinks": {"oidc_client_link": true}},
        "features": [],
        "signOnMode": "OPENID_CONNECT",
        "credentials": {
            "userNameTemplate": {"template": "${source.email}", "type": "BUILT_IN"},
            "signing": {"kid": format!("k{}", &a.id[3..])},
            "oauthClient": oauth_client,
        },
        "settings": {
            "app": {},
            "oauthClient": {
                "client_uri": null,
                "logo_uri": null,
                "redirect_uris": redirect,
                "response_types": response_types,
                "grant_types": grant_types,
                "application_type": app_type,
                "consent_method": if a.trusted { "TRUSTED" } else { "REQUIRED" },
                "issuer_mode": "DYNAMIC",
                "idp_initiated_login": {"mode": "DISABLED", "default_scope": []},
                "wildcard_redirect": "DISABLED",
                "dpop_bound_access_tokens": false,
            },
            "notifications": {"vpn": {"network": {"connection": "DISABLED"}, "message": null, "helpUrl": null}},
            "manualProvisioning": false,
            "implicitAssignment": false,
            "notes": {"admin": null, "enduser": null},
        },
        "_links": links,
    })
}

pub(super) async fn list_apps(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.apps.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let all = r.query.get("includeNonDeleted") == Some("true");
        let apps: Vec<&App> = m.apps.iter().filter(|a| all || a.active).collect();
        let (page, more) = PageReq::from(&r.query, 20).window(&apps, |a| a.id.as_str());
        let body: Vec<Value> = page
            .iter()
            .map(|a| render_app(&r.org, &m, a, sim.secrets.get(&a.id).map(String::as_str)))
            .collect();
        let next = more.then(|| page.last().map(|a| a.id.as_str())).flatten();
        Ok(r.paged(&body.into(), next))
    })())
}

/// `GET /api/v1/apps/{id}`: one app, deactivated ones included (its `status` says).
pub(super) async fn get_app(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(app): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.apps.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let a = m
            .app(&app)
            .ok_or_else(|| ApiError::NotFound(format!("{app} (AppInstance)")))?;
        let body = render_app(&r.org, &m, a, sim.secrets.get(&a.id).map(String::as_str));
        Ok(json_response(StatusCode::OK, &body))
    })())
}

fn render_app_grant(r: &Req, m: &Model, a: &App, g: &model::AppGrant) -> Value {
    let org = &r.org;
    let mut v = json!({
        "id": g.id,
        "status": "ACTIVE",
        "created": ts(g.created),
        "createdBy": {"id": model::user_id(&m.user_tag, g.created_by), "type": "User"},
        "lastUpdated": ts(g.created),
        "issuer": org,
        "clientId": a.id,
        "scopeId": g.scope,
        "source": "ADMIN",
        "_links": {
            "app": {"href": format!("{org}/api/v1/apps/{}", a.id), "title": a.label},
            "self": {"href": format!("{org}/api/v1/apps/{}/grants/{}", a.id, g.id), "hints": {"allow": ["GET", "DELETE"]}},
            "client": {"href": format!("{org}/oauth2/v1/clients/{}", a.id), "title": a.label},
        },
    });
    if r.expand_scope() {
        v["_embedded"] = json!({"scope": {"id": g.scope}});
    }
    v
}

fn app_of<'a>(m: &'a Model, id: &str) -> Result<&'a App, ApiError> {
    m.app(id)
        .ok_or_else(|| ApiError::NotFound(format!("{id} (AppInstance)")))
}

pub(super) async fn list_app_grants(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(app): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.appGrants.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let a = app_of(&m, &app)?;
        // The spec gives this list no paging parameters: one answer holds it all.
        let body: Vec<Value> = m
            .app_grants
            .get(&a.id)
            .into_iter()
            .flatten()
            .map(|g| render_app_grant(&r, &m, a, g))
            .collect();
        Ok(r.paged(&body.into(), None))
    })())
}

pub(super) async fn get_app_grant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((app, grant)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.appGrants.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let a = app_of(&m, &app)?;
        let g = m
            .app_grants
            .get(&a.id)
            .and_then(|list| list.iter().find(|g| g.id == grant))
            .ok_or_else(|| ApiError::NotFound(format!("{grant} (OAuth2ScopeConsentGrant)")))?;
        Ok(json_response(
            StatusCode::OK,
            &render_app_grant(&r, &m, a, g),
        ))
    })())
}

pub(super) async fn delete_app_grant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((app, grant)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.appGrants.manage")?;
        let mut m = sim.model();
        let known = m.app(&app).map(|a| a.id.clone());
        shared.stats.revocation(
            PROVIDER,
            format!("{PROVIDER}/{TENANT}/app-grant:{grant}"),
            known.as_deref(),
        );
        let list = m
            .app_grants
            .get_mut(&app)
            .ok_or_else(|| ApiError::NotFound(format!("{grant} (OAuth2ScopeConsentGrant)")))?;
        let pos = list
            .iter()
            .position(|g| g.id == grant)
            .ok_or_else(|| ApiError::NotFound(format!("{grant} (OAuth2ScopeConsentGrant)")))?;
        list.remove(pos);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

pub(super) async fn deactivate_app(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.apps.manage")?;
        let mut m = sim.model();
        let known = m.app(&app).map(|a| a.id.clone());
        // An idempotent lifecycle call on an app, not on a grant: its own target.
        shared.stats.revocation(
            PROVIDER,
            format!("{PROVIDER}/{TENANT}/app-deactivation:{app}"),
            known.as_deref(),
        );
        let a = m
            .app_mut(&app)
            .ok_or_else(|| ApiError::NotFound(format!("{app} (AppInstance)")))?;
        a.active = false;
        Ok(json_response(StatusCode::OK, &json!({})))
    })())
}

// --- users ---------------------------------------------------------------------------

fn render_user(r: &Req, m: &Model, u: u32) -> Value {
    let id = model::user_id(&m.user_tag, u);
    let login = model::login(u);
    let (first, last) = display_name(u);
    let created = m.epoch - crate::world::HISTORY + i64::from(u % 10_000) * 3600;
    json!({
        "id": id,
        "status": "ACTIVE",
        "created": ts(created),
        "activated": ts(created),
        "statusChanged": ts(created),
        "lastLogin": null,
        "lastUpdated": ts(created),
        "passwordChanged": ts(created),
        "type": {"id": format!("oty{}", m.user_tag)},
        "profile": {
            "firstName": first,
            "lastName": last,
            "mobilePhone": null,
            "secondEmail": null,
            "login": login,
            "email": login,
        },
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("{}/api/v1/users/{id}", r.org)}},
    })
}

pub(super) async fn list_users(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let page = PageReq::from(&r.query, 200);
        let start = match page.after.as_deref() {
            None => 0,
            Some(a) => model::user_index(&m.user_tag, a)
                .map(|u| u.saturating_add(1))
                .ok_or_else(|| ApiError::Invalid(format!("after: {a} is not a cursor")))?,
        };
        let end = start
            .saturating_add(u32::try_from(page.limit).unwrap_or(200))
            .min(m.users);
        let body: Vec<Value> = (start..end).map(|u| render_user(&r, &m, u)).collect();
        let next = (end < m.users && end > start).then(|| model::user_id(&m.user_tag, end - 1));
        Ok(r.paged(&body.into(), next.as_deref()))
    })())
}

pub(super) async fn list_user_clients(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(user): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let u = person(&m, &user)?;
        let org = &r.org;
        let body: Vec<Value> = m
            .user_clients
            .range((u, String::new())..(u + 1, String::new()))
            .filter_map(|((_, app), _)| m.app(app))
            .map(|a| {
                json!({
                    "client_id": a.id,
                    "client_name": a.label,
                    "client_uri": null,
                    "logo_uri": null,
                    "_links": {
                        "grants": {"href": format!("{org}/api/v1/users/{user}/clients/{}/grants", a.id)},
                        "tokens": {"href": format!("{org}/api/v1/users/{user}/clients/{}/tokens", a.id)},
                    },
                })
            })
            .collect();
        Ok(r.paged(&body.into(), None))
    })())
}

fn render_user_grant(r: &Req, m: &Model, u: u32, a: &App, g: &model::UserGrant) -> Value {
    let org = &r.org;
    let uid = model::user_id(&m.user_tag, u);
    let (first, last) = display_name(u);
    let mut v = json!({
        "id": g.id,
        "status": "ACTIVE",
        "created": ts(g.created),
        "createdBy": {"id": uid, "type": "User"},
        "lastUpdated": ts(g.created),
        "issuer": format!("{org}/oauth2/default"),
        "clientId": a.id,
        "userId": uid,
        "scopeId": g.scope_id,
        "source": "END_USER",
        "_links": {
            "app": {"href": format!("{org}/api/v1/apps/{}", a.id), "title": a.label},
            "authorizationServer": {"href": format!("{org}/api/v1/authorizationServers/default"), "title": "default"},
            "scope": {"href": format!("{org}/api/v1/authorizationServers/default/scopes/{}", g.scope_id), "title": g.scope},
            "self": {"href": format!("{org}/api/v1/users/{uid}/grants/{}", g.id), "hints": {"allow": ["GET", "DELETE"]}},
            "client": {"href": format!("{org}/oauth2/v1/clients/{}", a.id), "title": a.label},
            "user": {"href": format!("{org}/api/v1/users/{uid}"), "title": format!("{first} {last}")},
        },
    });
    if r.expand_scope() {
        v["_embedded"] = json!({"scope": {"id": g.scope_id}});
    }
    v
}

fn render_token(r: &Req, m: &Model, u: u32, a: &App, t: &model::RefreshToken) -> Value {
    let org = &r.org;
    let uid = model::user_id(&m.user_tag, u);
    let (first, last) = display_name(u);
    let self_href = format!("{org}/api/v1/users/{uid}/clients/{}/tokens/{}", a.id, t.id);
    let mut v = json!({
        "id": t.id,
        "status": "ACTIVE",
        "created": ts(t.created),
        "lastUpdated": ts(t.updated),
        "expiresAt": ts(t.expires),
        "issuer": format!("{org}/oauth2/default"),
        "clientId": a.id,
        "userId": uid,
        "scopes": t.scopes,
        "_links": {
            "app": {"href": format!("{org}/api/v1/apps/{}", a.id), "title": a.label},
            "self": {"href": self_href},
            "revoke": {"href": self_href, "hints": {"allow": ["DELETE"]}},
            "client": {"href": format!("{org}/oauth2/v1/clients/{}", a.id), "title": a.label},
            "user": {"href": format!("{org}/api/v1/users/{uid}"), "title": format!("{first} {last}")},
            "authorizationServer": {"href": format!("{org}/api/v1/authorizationServers/default"), "title": "default"},
        },
    });
    if r.expand_scope() {
        let scopes: Vec<Value> = t
            .scopes
            .iter()
            .map(|s| {
                let id = m.scope_ids.get(s).cloned().unwrap_or_else(|| format!("scp{s}"));
                json!({
                    "id": id,
                    "name": s,
                    "displayName": s,
                    "_links": {"scope": {"href": format!("{org}/api/v1/authorizationServers/default/scopes/{id}"), "title": s}},
                })
            })
            .collect();
        v["_embedded"] = json!({ "scopes": scopes });
    }
    v
}

/// The (person, app) of a per-client URL, or Okta's 404.
fn user_client<'a>(m: &'a Model, user: &str, client: &str) -> Result<(u32, &'a App), ApiError> {
    let u = person(m, user)?;
    let a = m
        .app(client)
        .ok_or_else(|| ApiError::NotFound(format!("{client} (OAuth2Client)")))?;
    Ok((u, a))
}

pub(super) async fn list_user_client_grants(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((user, client)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let (u, a) = user_client(&m, &user, &client)?;
        let grants = m
            .user_clients
            .get(&(u, a.id.clone()))
            .map(|c| c.grants.as_slice())
            .unwrap_or_default();
        let (page, more) = PageReq::from(&r.query, 20).window(grants, |g| g.id.as_str());
        let body: Vec<Value> = page
            .iter()
            .map(|g| render_user_grant(&r, &m, u, a, g))
            .collect();
        let next = more.then(|| page.last().map(|g| g.id.as_str())).flatten();
        Ok(r.paged(&body.into(), next))
    })())
}

pub(super) async fn list_user_client_tokens(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((user, client)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let (u, a) = user_client(&m, &user, &client)?;
        let tokens = m
            .user_clients
            .get(&(u, a.id.clone()))
            .map(|c| c.tokens.as_slice())
            .unwrap_or_default();
        let (page, more) = PageReq::from(&r.query, 20).window(tokens, |t| t.id.as_str());
        let body: Vec<Value> = page.iter().map(|t| render_token(&r, &m, u, a, t)).collect();
        let next = more.then(|| page.last().map(|t| t.id.as_str())).flatten();
        Ok(r.paged(&body.into(), next))
    })())
}

pub(super) async fn get_user_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((user, client, token)): Path<(String, String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let (u, a) = user_client(&m, &user, &client)?;
        let t = m
            .user_clients
            .get(&(u, a.id.clone()))
            .and_then(|c| c.tokens.iter().find(|t| t.id == token))
            .ok_or_else(|| ApiError::NotFound(format!("{token} (OAuth2RefreshToken)")))?;
        Ok(json_response(
            StatusCode::OK,
            &render_token(&r, &m, u, a, t),
        ))
    })())
}

/// Removes a (person, app) entry that holds nothing any more, so `/clients` stops
/// listing the client.
fn prune(m: &mut Model, key: &(u32, String)) {
    if m.user_clients
        .get(key)
        .is_some_and(|c| c.grants.is_empty() && c.tokens.is_empty())
    {
        m.user_clients.remove(key);
    }
}

pub(super) async fn delete_user_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, client, token)): Path<(String, String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.manage")?;
        let mut m = sim.model();
        let known = m.app(&client).map(|a| a.id.clone());
        shared.stats.revocation(
            PROVIDER,
            format!("{PROVIDER}/{TENANT}/refresh-token:{token}"),
            known.as_deref(),
        );
        let gone = || ApiError::NotFound(format!("{token} (OAuth2RefreshToken)"));
        let u = person(&m, &user)?;
        let key = (u, client);
        let c = m.user_clients.get_mut(&key).ok_or_else(gone)?;
        let pos = c
            .tokens
            .iter()
            .position(|t| t.id == token)
            .ok_or_else(gone)?;
        c.tokens.remove(pos);
        prune(&mut m, &key);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

pub(super) async fn get_user_grant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((user, grant)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let u = person(&m, &user)?;
        let found = m
            .user_clients
            .range((u, String::new())..(u + 1, String::new()))
            .find_map(|((_, app), c)| {
                let g = c.grants.iter().find(|g| g.id == grant)?;
                Some((m.app(app)?, g))
            });
        let (a, g) = found
            .ok_or_else(|| ApiError::NotFound(format!("{grant} (OAuth2ScopeConsentGrant)")))?;
        Ok(json_response(
            StatusCode::OK,
            &render_user_grant(&r, &m, u, a, g),
        ))
    })())
}

pub(super) async fn delete_user_grant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((user, grant)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.users.manage")?;
        let mut m = sim.model();
        let u = model::user_index(&m.user_tag, &user).filter(|u| *u < m.users);
        let key = u.and_then(|u| {
            m.user_clients
                .range((u, String::new())..(u + 1, String::new()))
                .find(|(_, c)| c.grants.iter().any(|g| g.id == grant))
                .map(|(k, _)| k.clone())
        });
        shared.stats.revocation(
            PROVIDER,
            format!("{PROVIDER}/{TENANT}/user-grant:{grant}"),
            key.as_ref().map(|k| k.1.as_str()),
        );
        person(&m, &user)?;
        let key =
            key.ok_or_else(|| ApiError::NotFound(format!("{grant} (OAuth2ScopeConsentGrant)")))?;
        if let Some(c) = m.user_clients.get_mut(&key) {
            c.grants.retain(|g| g.id != grant);
        }
        prune(&mut m, &key);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

// --- API service integrations --------------------------------------------------------

fn render_api_service(r: &Req, m: &Model, a: &App) -> Value {
    let org = &r.org;
    json!({
        "id": a.id,
        "type": a.name,
        "name": a.label,
        "createdAt": ts(a.created),
        "createdBy": model::user_id(&m.user_tag, a.created_by),
        "configGuideUrl": format!("https://docs.{}.example/okta/configuration-guide", a.name),
        "grantedScopes": a.granted_scopes,
        "_links": {
            "self": {"href": format!("{org}/integrations/api/v1/api-services/{}", a.id), "hints": {"allow": ["GET", "DELETE"]}},
            "client": {"href": format!("{org}/oauth2/v1/clients/{}", a.id), "hints": {"allow": ["GET"]}},
            "logo": {"name": "small", "href": format!("{org}/assets/img/logos/{}_small_logo", a.name)},
        },
    })
}

pub(super) async fn list_api_services(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.oauthIntegrations.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let list: Vec<&App> = m
            .apps
            .iter()
            .filter(|a| a.app_type == AppType::ApiService)
            .collect();
        // `after` is the only documented parameter; pages hold 20.
        let (page, more) = PageReq::from(&QueryParams::default(), 20)
            .with_after(r.query.get("after"))
            .window(&list, |a| a.id.as_str());
        let body: Vec<Value> = page.iter().map(|a| render_api_service(&r, &m, a)).collect();
        let next = more.then(|| page.last().map(|a| a.id.as_str())).flatten();
        Ok(r.paged(&body.into(), next))
    })())
}

impl PageReq {
    fn with_after(mut self, after: Option<&str>) -> Self {
        self.after = after.map(str::to_owned);
        self
    }
}

pub(super) async fn get_api_service(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.oauthIntegrations.read")?;
        let r = Req::new(&shared, &headers, &uri);
        let m = sim.model();
        let a = m
            .app(&id)
            .filter(|a| a.app_type == AppType::ApiService)
            .ok_or_else(|| ApiError::NotFound(format!("{id} (APIServiceIntegrationInstance)")))?;
        Ok(json_response(
            StatusCode::OK,
            &render_api_service(&r, &m, a),
        ))
    })())
}

pub(super) async fn delete_api_service(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    reply((|| {
        let sim = sim(&shared)?;
        sim.authorize(&headers, "okta.oauthIntegrations.manage")?;
        let mut m = sim.model();
        let exists = m
            .app(&id)
            .is_some_and(|a| a.app_type == AppType::ApiService);
        shared.stats.revocation(
            PROVIDER,
            format!("{PROVIDER}/{TENANT}/api-service:{id}"),
            exists.then_some(id.as_str()),
        );
        if !exists {
            return Err(ApiError::NotFound(format!(
                "{id} (APIServiceIntegrationInstance)"
            )));
        }
        // Deleting the integration revokes every scope granted to it and removes its app.
        m.apps.retain(|a| a.id != id);
        m.app_grants.remove(&id);
        m.user_clients.retain(|(_, app), _| *app != id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}
