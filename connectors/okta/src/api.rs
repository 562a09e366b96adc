//! Okta provider logic, free of I/O.
//!
//! Everything the connector knows about Okta lives here as pure functions: the
//! settings it accepts, the tasks a scan runs and the one URL each task fetches, how a
//! response becomes grants and follow-up tasks, how a failed response becomes an
//! error, and which calls a revocation makes and how their answers read. The WIT glue
//! in `lib.rs` only moves bytes between these functions and the host's egress.
//!
//! The mapping from Okta objects to grants is the contract in the crate's `README.md`;
//! the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings
//! copied into grants are clipped, URLs from it are checked before use, and fields the
//! connector has no use for are never deserialised — in particular an app's
//! `credentials.oauthClient.client_secret`, which `GET /api/v1/apps` can return: it is
//! not a field of any type here, so it is dropped while parsing and cannot reach a
//! grant, a log line or an error message.

use std::collections::BTreeSet;

use grantscope_connector_sdk::clip;
use grantscope_connector_sdk::http::origin;
use grantscope_connector_sdk::http::{self, Response};
use grantscope_connector_sdk::time::{from_epoch_seconds, rfc3339_utc};
use grantscope_connector_sdk::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Manifest, Method, Permission,
    Principal, PrincipalKind, Quota, Revocation, RevocationStatus, RevocationTarget, Setting,
    TargetState, Task,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The connector's version, as declared in its manifest and `User-Agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("grantscope-connector-okta/", env!("CARGO_PKG_VERSION"));

/// Page size for every listing that takes one: Okta's maximum (API.md §5).
pub const LIMIT: u32 = 200;

/// Most pages one listing may have; only stops a provider whose `next` links never end.
pub const MAX_PAGES: u32 = 50_000;

/// Provider strings copied into grants and messages are clipped to this many characters.
const MAX_TEXT: usize = 256;

/// Longest URL accepted from a response or a task.
const MAX_URL: usize = 2048;

/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

// ---------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------

/// The `okta.*` scopes a read-only audit needs, in the order the manifest lists them.
pub const READ_SCOPES: [&str; 4] = [
    "okta.apps.read",
    "okta.appGrants.read",
    "okta.users.read",
    "okta.oauthIntegrations.read",
];

/// What the connector is and needs. Depends on no input.
pub fn manifest() -> Manifest {
    let permission = |name: &str, reason: &str, revoke_only: bool| Permission {
        name: name.to_owned(),
        reason: reason.to_owned(),
        revoke_only,
    };
    Manifest {
        id: "okta".to_owned(),
        name: "Okta organisations".to_owned(),
        version: VERSION.to_owned(),
        provider: "okta".to_owned(),
        hosts: vec![
            "*.okta.com".to_owned(),
            "*.oktapreview.com".to_owned(),
            "*.okta-emea.com".to_owned(),
        ],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["client-credentials".to_owned(), "static-token".to_owned()],
        permissions: vec![
            permission(
                "okta.apps.read",
                "list the org's app integrations (GET /api/v1/apps)",
                false,
            ),
            permission(
                "okta.appGrants.read",
                "list the okta.* scopes granted to each OAuth app (GET /api/v1/apps/{id}/grants)",
                false,
            ),
            permission(
                "okta.users.read",
                "list users and, per user, the clients, consent grants and refresh tokens they \
                 hold (GET /api/v1/users, /api/v1/users/{id}/clients/…)",
                false,
            ),
            permission(
                "okta.oauthIntegrations.read",
                "list API service integrations (GET /integrations/api/v1/api-services)",
                false,
            ),
            permission(
                "okta.appGrants.manage",
                "delete an okta.* scope grant of an app",
                true,
            ),
            permission(
                "okta.users.manage",
                "delete a user's consent grant or refresh token",
                true,
            ),
            permission(
                "okta.oauthIntegrations.manage",
                "delete an API service integration",
                true,
            ),
            permission(
                "okta.apps.manage",
                "deactivate an app listed in `vendor_owned_apps` when one of its grants is \
                 revoked (not needed without that setting)",
                true,
            ),
        ],
        settings: vec![
            Setting {
                name: "org_url".to_owned(),
                description: "the org URL, e.g. `https://acme.okta.com` (the host must be one \
                              of the tenant's `hosts`)"
                    .to_owned(),
                required: true,
            },
            Setting {
                name: "vendor_owned_apps".to_owned(),
                description: "comma-separated app ids (`0oa…`) the organisation keeps only for \
                              a third-party vendor: revoking any grant of one of them also \
                              deactivates the app. Never list the auditor's own app."
                    .to_owned(),
                required: false,
            },
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// How long Okta's lists may still show a grant or token after its deletion returned:
/// Okta reads its own writes within an org; a few seconds cover its caches.
pub const CONSISTENCY_WINDOW_MS: u32 = 10_000;

/// Okta's per-minute buckets per endpoint family (API.md §6), at the 50 % of each bucket
/// one app may use by default, from the smallest paid plan's published numbers. The
/// org's real values arrive in the `X-Rate-Limit-*` headers of every answer, and the
/// host believes those.
pub fn quotas() -> Vec<Quota> {
    const DOC: &str = "developer.okta.com: Management rate limits (rl-global-mgmt), 50 % per app";
    vec![
        Quota::new("app", 250, 60, &["/api/v1/apps/*"], DOC),
        Quota::new("apps", 50, 60, &["/api/v1/apps", "/api/v1/apps/**"], DOC),
        Quota::new("users-list", 300, 60, &["/api/v1/users"], DOC),
        Quota::new("user", 500, 60, &["/api/v1/users/*"], DOC),
        Quota::new(
            "clients",
            50,
            60,
            &["/oauth2/v1/clients", "/oauth2/v1/clients/**"],
            DOC,
        ),
        Quota::new("api", 300, 60, &[], DOC),
    ]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    tenant: String,
    org_url: String,
    vendor_owned: BTreeSet<String>,
}

impl Settings {
    /// Reads and validates `org_url` and `vendor_owned_apps` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        let org_url = ctx.require("org_url")?;
        Self::new(&ctx.tenant, org_url, ctx.setting("vendor_owned_apps"))
    }

    /// Validates an org URL and an optional vendor-owned app list.
    pub fn new(tenant: &str, org_url: &str, vendor_owned: Option<&str>) -> Result<Self, Error> {
        let config = |message: String| Error::new(ErrorCode::Config, message);
        let raw = org_url.trim();
        let base = raw.trim_end_matches('/');
        let ok = base.len() <= 512
            && origin(base).is_some()
            && !base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "?#\\".contains(c));
        if !ok {
            let shown = if raw.contains('@') {
                "(redacted: it contains `@`)".to_owned()
            } else {
                format!("`{}`", clip(raw, 80))
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `org_url` = {shown} is not an http(s) URL with a \
                 host and no credentials, query or fragment: use e.g. `https://acme.okta.com`"
            )));
        }
        // Scheme and host are case-insensitive: normalise them so links compare.
        let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
        let end = rest.find('/').unwrap_or(rest.len());
        let org_url = format!(
            "{}://{}{}",
            scheme.to_ascii_lowercase(),
            rest[..end].to_ascii_lowercase(),
            &rest[end..]
        );
        let mut set = BTreeSet::new();
        for id in vendor_owned
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            if !is_id(id) {
                return Err(config(format!(
                    "tenant `{tenant}`: `vendor_owned_apps` holds `{}`, which is not an Okta \
                     app id: list ids such as `0oa1abcdEFGH2345ijk6`, separated by commas",
                    clip(id, 40)
                )));
            }
            set.insert(id.to_owned());
        }
        Ok(Settings {
            tenant: tenant.to_owned(),
            org_url,
            vendor_owned: set,
        })
    }

    /// The org URL, without a trailing slash.
    pub fn org_url(&self) -> &str {
        &self.org_url
    }

    /// Whether revoking a grant of this app (by client id or app id) deactivates it.
    pub fn vendor_owned(&self, client_id: &str, app_id: &str) -> bool {
        self.vendor_owned.contains(client_id) || self.vendor_owned.contains(app_id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.org_url)
    }

    /// Accepts a URL from a response or a task only under the org URL, so a hostile
    /// response cannot make the connector fetch from elsewhere.
    fn own(&self, url: &str) -> Option<String> {
        if url.len() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let absolute = if url.starts_with('/') && !url.starts_with("//") {
            let origin = origin(&self.org_url)?;
            format!("{origin}{url}")
        } else {
            url.to_owned()
        };
        let (scheme, rest) = absolute.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let normal = format!(
            "{}://{}{}",
            scheme.to_ascii_lowercase(),
            rest[..end].to_ascii_lowercase(),
            &rest[end..]
        );
        let under = normal
            .strip_prefix(&self.org_url)
            .is_some_and(|tail| tail.starts_with('/'));
        (under && !normal.contains("/../")).then_some(normal)
    }
}

/// Okta ids (`0oa…`, `00u…`, `oag…`, `oar…`) are short alphanumerics. Anything
/// bounded and free of URL structure is accepted (Okta's own examples use
/// placeholders such as `{clientId}`), and every id is percent-encoded into a path.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#%\\,".contains(c))
}

/// An id as a path segment.
fn seg(id: &str) -> String {
    http::encode(id)
}

// ---------------------------------------------------------------------------------
// Requests and tasks
// ---------------------------------------------------------------------------------

/// Headers for every Okta request. Never `Authorization`: the host attaches the
/// tenant's credential (`SSWS …` or `Bearer …`).
pub fn headers() -> Vec<(&'static str, &'static str)> {
    vec![("accept", "application/json"), ("user-agent", USER_AGENT)]
}

/// A listing page: its URL and 1-based number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTask {
    /// Absolute URL under the org URL.
    pub url: String,
    /// 1-based page number.
    pub page: u32,
    /// API service integration ids seen so far: their app grants are not repeated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

/// A page of one app's scope grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppTask {
    /// The page.
    pub url: String,
    /// 1-based page number.
    pub page: u32,
    /// The app's id (what `/api/v1/apps/{id}` takes).
    pub app_id: String,
    /// Its OAuth client id (the grant's `app.id`).
    pub client_id: String,
    /// Its label.
    pub label: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Facts about the app copied to its grants.
    #[serde(default)]
    pub facts: Vec<(String, String)>,
}

/// One user, as the users listing names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTask {
    /// The page (`/api/v1/users/{id}/clients`, or a later page of a per-client list).
    pub url: String,
    /// 1-based page number.
    pub page: u32,
    /// `00u…`.
    pub user_id: String,
    /// `profile.login`: the principal id.
    pub login: String,
    /// First and last name.
    #[serde(default)]
    pub name: Option<String>,
    /// The client, for per-client lists.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client's name, for per-client lists.
    #[serde(default)]
    pub client_name: Option<String>,
}

/// What a task does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// A page of `GET /integrations/api/v1/api-services`; the last one starts the apps.
    ApiServices(PageTask),
    /// A page of `GET /api/v1/apps`.
    Apps(PageTask),
    /// A page of `GET /api/v1/apps/{id}/grants`.
    AppGrants(AppTask),
    /// A page of `GET /api/v1/users`.
    Users(PageTask),
    /// `GET /api/v1/users/{id}/clients`.
    User(UserTask),
    /// A page of `GET /api/v1/users/{id}/clients/{clientId}/grants`.
    UserGrants(UserTask),
    /// A page of `GET /api/v1/users/{id}/clients/{clientId}/tokens`.
    UserTokens(UserTask),
}

const KINDS: [&str; 7] = [
    "api-services",
    "apps",
    "app-grants",
    "users",
    "user",
    "user-grants",
    "user-tokens",
];

impl Job {
    /// The task kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::ApiServices(_) => KINDS[0],
            Job::Apps(_) => KINDS[1],
            Job::AppGrants(_) => KINDS[2],
            Job::Users(_) => KINDS[3],
            Job::User(_) => KINDS[4],
            Job::UserGrants(_) => KINDS[5],
            Job::UserTokens(_) => KINDS[6],
        }
    }

    /// The URL this task fetches.
    pub fn url(&self) -> &str {
        match self {
            Job::ApiServices(p) | Job::Apps(p) | Job::Users(p) => &p.url,
            Job::AppGrants(a) => &a.url,
            Job::User(u) | Job::UserGrants(u) | Job::UserTokens(u) => &u.url,
        }
    }

    fn page(&self) -> u32 {
        match self {
            Job::ApiServices(p) | Job::Apps(p) | Job::Users(p) => p.page,
            Job::AppGrants(a) => a.page,
            Job::User(u) | Job::UserGrants(u) | Job::UserTokens(u) => u.page,
        }
    }

    /// As a host task.
    pub fn task(&self) -> Task {
        match self {
            Job::ApiServices(p) | Job::Apps(p) | Job::Users(p) => Task::json(self.kind(), p),
            Job::AppGrants(a) => Task::json(self.kind(), a),
            Job::User(u) | Job::UserGrants(u) | Job::UserTokens(u) => Task::json(self.kind(), u),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Job::ApiServices(_) => "API service integrations",
            Job::Apps(_) => "app integrations",
            Job::AppGrants(_) => "an app's scope grants",
            Job::Users(_) => "users",
            Job::User(_) => "a user's clients",
            Job::UserGrants(_) => "a user's consent grants",
            Job::UserTokens(_) => "a user's refresh tokens",
        }
    }

    /// The scope a read of this listing needs.
    fn scope(&self) -> &'static str {
        match self {
            Job::ApiServices(_) => "okta.oauthIntegrations.read",
            Job::Apps(_) => "okta.apps.read",
            Job::AppGrants(_) => "okta.appGrants.read",
            _ => "okta.users.read",
        }
    }
}

/// The first tasks of a scan: API service integrations (whose last page starts the
/// app listing, so integrations are not repeated as app grants) and users.
pub fn start_tasks(settings: &Settings) -> Vec<Task> {
    vec![
        Job::ApiServices(PageTask {
            url: settings.url("/integrations/api/v1/api-services"),
            page: 1,
            skip: Vec::new(),
        })
        .task(),
        Job::Users(PageTask {
            url: settings.url(&format!("/api/v1/users?limit={LIMIT}")),
            page: 1,
            skip: Vec::new(),
        })
        .task(),
    ]
}

/// Decodes and checks a task before anything is fetched for it: its URL must stay
/// under the org URL and its ids must be ids.
pub fn decode_task(settings: &Settings, task: &Task) -> Result<Job, Error> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidInput, message);
    let job = match task.kind.as_str() {
        "api-services" => Job::ApiServices(task.decode()?),
        "apps" => Job::Apps(task.decode()?),
        "users" => Job::Users(task.decode()?),
        "app-grants" => Job::AppGrants(task.decode()?),
        "user" => Job::User(task.decode()?),
        "user-grants" => Job::UserGrants(task.decode()?),
        "user-tokens" => Job::UserTokens(task.decode()?),
        other => {
            return Err(invalid(format!(
                "unknown task kind `{}`: this connector runs {}",
                clip(other, 64),
                KINDS.join(", ")
            )));
        }
    };
    if settings.own(job.url()).as_deref() != Some(job.url()) {
        return Err(invalid(format!(
            "task `{}` points outside {}: start a new scan",
            task.kind, settings.org_url
        )));
    }
    if job.page() == 0 || job.page() > MAX_PAGES {
        return Err(invalid(format!(
            "task `{}` has page number {}, outside 1–{MAX_PAGES}",
            task.kind,
            job.page()
        )));
    }
    let ids_ok = match &job {
        Job::AppGrants(a) => is_id(&a.app_id) && is_id(&a.client_id),
        Job::User(u) | Job::UserGrants(u) | Job::UserTokens(u) => {
            is_id(&u.user_id) && u.client_id.as_deref().is_none_or(is_id)
        }
        Job::ApiServices(p) | Job::Apps(p) | Job::Users(p) => p.skip.iter().all(|s| is_id(s)),
    };
    if !ids_ok {
        return Err(invalid(format!(
            "task `{}` carries an id that is not an Okta id: start a new scan",
            task.kind
        )));
    }
    Ok(job)
}

// ---------------------------------------------------------------------------------
// Responses → grants
// ---------------------------------------------------------------------------------

/// What one task produced.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The grants on the page.
    pub grants: Vec<Grant>,
    /// Follow-up tasks.
    pub tasks: Vec<Task>,
    /// Lines for the operator (logged at `warn` by the glue).
    pub warnings: Vec<String>,
}

/// Turns the answer to a task's request into grants and follow-up tasks.
pub fn read(settings: &Settings, job: &Job, resp: &Response) -> Result<Page, Error> {
    match resp.status {
        200 => {}
        // A user or app deleted between the listing and this read has nothing left.
        404 if matches!(
            job,
            Job::AppGrants(_) | Job::User(_) | Job::UserGrants(_) | Job::UserTokens(_)
        ) =>
        {
            return Ok(Page {
                warnings: vec![format!(
                    "okta answered 404 while listing {} in `{}`: it was deleted during the \
                     scan, so there is nothing to list",
                    job.what(),
                    settings.tenant
                )],
                ..Page::default()
            });
        }
        _ => return Err(classify(settings, &Operation::List(job.clone()), resp)),
    }
    let next = next_url(settings, job, resp)?;
    let mut page = match job {
        Job::ApiServices(_) => parse_api_services(settings, &resp.body)?,
        Job::Apps(p) => parse_apps(settings, p, &resp.body)?,
        Job::AppGrants(a) => parse_app_grants(settings, a, &resp.body)?,
        Job::Users(_) => parse_users(settings, &resp.body)?,
        Job::User(u) => parse_user_clients(settings, u, &resp.body)?,
        Job::UserGrants(u) => parse_user_grants(settings, u, &resp.body)?,
        Job::UserTokens(u) => parse_user_tokens(settings, u, &resp.body)?,
    };
    if let Some(url) = next {
        let page_no = job.page() + 1;
        let follow = match job {
            Job::ApiServices(p) => Job::ApiServices(PageTask {
                url,
                page: page_no,
                skip: page.skipped(p),
            }),
            Job::Apps(p) => Job::Apps(PageTask {
                url,
                page: page_no,
                skip: p.skip.clone(),
            }),
            Job::Users(_) => Job::Users(PageTask {
                url,
                page: page_no,
                skip: Vec::new(),
            }),
            Job::AppGrants(a) => Job::AppGrants(AppTask {
                url,
                page: page_no,
                ..a.clone()
            }),
            Job::User(u) => Job::User(UserTask {
                url,
                page: page_no,
                ..u.clone()
            }),
            Job::UserGrants(u) => Job::UserGrants(UserTask {
                url,
                page: page_no,
                ..u.clone()
            }),
            Job::UserTokens(u) => Job::UserTokens(UserTask {
                url,
                page: page_no,
                ..u.clone()
            }),
        };
        page.tasks.push(follow.task());
    } else if let Job::ApiServices(p) = job {
        // The integrations are all known: list the apps, skipping them.
        page.tasks.push(
            Job::Apps(PageTask {
                url: settings.url(&format!(
                    "/api/v1/apps?limit={LIMIT}&includeNonDeleted=true"
                )),
                page: 1,
                skip: page.skipped(p),
            })
            .task(),
        );
    }
    Ok(page)
}

impl Page {
    /// The integration ids of an API services page plus those of earlier pages.
    fn skipped(&self, p: &PageTask) -> Vec<String> {
        let mut ids: BTreeSet<String> = p.skip.iter().cloned().collect();
        ids.extend(
            self.grants
                .iter()
                .filter(|g| g.kind == GrantKind::Application)
                .map(|g| g.app.id.clone()),
        );
        ids.into_iter().collect()
    }
}

/// The `rel="next"` target among every `Link` header line (Okta sends `self` and
/// `next` as separate lines), checked to stay under the org URL.
fn next_url(settings: &Settings, job: &Job, resp: &Response) -> Result<Option<String>, Error> {
    let link = resp.next_link();
    let Some(link) = link else {
        return Ok(None);
    };
    let malformed = |why: String| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "okta's next-page link for {} in `{}` {why}; the listing is incomplete",
                job.what(),
                settings.tenant
            ),
        )
    };
    let Some(url) = settings.own(&link) else {
        return Err(malformed(format!(
            "(`{}`) is not under {}: refusing to follow it",
            clip(&link, 120),
            settings.org_url
        )));
    };
    if url == job.url() {
        return Err(malformed("points back to the same page".to_owned()));
    }
    if job.page() >= MAX_PAGES {
        return Err(malformed(format!("goes past {MAX_PAGES} pages")));
    }
    Ok(Some(url))
}

/// Deserialises `null` as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Decodes a response body, with a clipped message.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse okta's {what}: {}; if this persists, check that `org_url` is \
                 the Okta org URL",
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

/// A required identity string from a response: an Okta id.
fn required_id<'a>(what: &str, field: &str, value: Option<&'a str>) -> Result<&'a str, Error> {
    match value.map(str::trim) {
        Some(v) if is_id(v) => Ok(v),
        _ => Err(Error::new(
            ErrorCode::Malformed,
            format!("okta's {what} has a missing or malformed `{field}`"),
        )),
    }
}

fn handle_json(value: &impl Serialize) -> String {
    // Plain structs of strings and booleans cannot fail to serialise.
    serde_json::to_string(value).unwrap_or_default()
}

fn not_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

const NO_USAGE: &str = "Okta does not report when a grant or token was last used; only the \
                        System Log (about 90 days) shows its use.";

#[derive(Default, Deserialize)]
struct Href {
    href: Option<String>,
    title: Option<String>,
}

/// The last path segment of a `_links.*.href` (e.g. the app id of `…/apps/{id}`).
fn last_segment(h: Option<&Href>) -> Option<String> {
    let href = h?.href.as_deref()?;
    let seg = href.trim_end_matches('/').rsplit('/').next()?;
    is_id(seg).then(|| seg.to_owned())
}

// --- API service integrations ------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiService {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    created_at: Option<String>,
    created_by: Option<String>,
    config_guide_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    granted_scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiServiceHandle {
    id: String,
}

/// Parses a page of `GET /integrations/api/v1/api-services` into `api-service:{id}`
/// grants.
pub fn parse_api_services(settings: &Settings, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<ApiService> = decode("API service integration list", body)?;
    let mut page = Page::default();
    for s in &list {
        let id = required_id("API service integration", "id", s.id.as_deref())?;
        let name = not_blank(s.name.as_deref())
            .or(not_blank(s.kind.as_deref()))
            .unwrap_or(id);
        let mut app_attributes = vec![attr("client_id", id)];
        let mut attributes = vec![attr("integration_id", id), attr("usage_reported", "false")];
        if let Some(t) = not_blank(s.kind.as_deref()) {
            app_attributes.push(attr("type", t));
            attributes.push(attr("type", t));
        }
        if let Some(u) = not_blank(s.config_guide_url.as_deref()) {
            app_attributes.push(attr("config_guide_url", u));
        }
        if let Some(c) = not_blank(s.created_by.as_deref()) {
            attributes.push(attr("created_by", c));
        }
        let local = format!("api-service:{id}");
        page.grants.push(Grant {
            id: local.clone(),
            app: App {
                id: id.to_owned(),
                name: clip(name, MAX_TEXT),
                publisher: None,
                attributes: app_attributes,
            },
            principal: Principal {
                kind: PrincipalKind::Service,
                id: id.to_owned(),
                display: Some(clip(name, MAX_TEXT)),
            },
            kind: GrantKind::Application,
            scopes: s.granted_scopes.iter().map(|x| clip(x, MAX_TEXT)).collect(),
            created_at: s.created_at.as_deref().and_then(rfc3339_utc),
            last_used_at: None,
            expires_at: None,
            revocation: Some(RevocationTarget {
                grant_id: local,
                action: "api-service".to_owned(),
                handle: handle_json(&ApiServiceHandle { id: id.to_owned() }),
            }),
            attributes,
            notes: vec![
                format!(
                    "An admin authorized this API service integration for the whole {} org; it \
                     acts as itself with these okta.* scopes.",
                    settings.tenant
                ),
                NO_USAGE.to_owned(),
            ],
        });
    }
    Ok(page)
}

// --- apps ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppObj {
    id: Option<String>,
    name: Option<String>,
    label: Option<String>,
    status: Option<String>,
    sign_on_mode: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    credentials: AppCredentials,
    #[serde(default, deserialize_with = "nullable")]
    settings: AppSettings,
}

/// Only the two fields the mapping uses. `client_secret` is deliberately absent:
/// serde skips it without copying it anywhere.
#[derive(Default, Deserialize)]
struct AppCredentials {
    #[serde(rename = "oauthClient", default, deserialize_with = "nullable")]
    oauth_client: OAuthCredentials,
}

#[derive(Default, Deserialize)]
struct OAuthCredentials {
    client_id: Option<String>,
    token_endpoint_auth_method: Option<String>,
}

#[derive(Default, Deserialize)]
struct AppSettings {
    #[serde(rename = "oauthClient", default, deserialize_with = "nullable")]
    oauth_client: OAuthSettings,
}

#[derive(Default, Deserialize)]
struct OAuthSettings {
    application_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    grant_types: Vec<String>,
    consent_method: Option<String>,
}

/// Parses a page of `GET /api/v1/apps` into one `app-grants` task per OAuth app that is
/// not an API service integration. Apps themselves are not grants.
pub fn parse_apps(settings: &Settings, p: &PageTask, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<AppObj> = decode("app list", body)?;
    let mut page = Page::default();
    for a in &list {
        let id = required_id("app", "id", a.id.as_deref())?;
        let oauth = &a.credentials.oauth_client;
        let is_oauth = a.sign_on_mode.as_deref() == Some("OPENID_CONNECT")
            || not_blank(oauth.client_id.as_deref()).is_some();
        if !is_oauth || p.skip.iter().any(|s| s == id) {
            continue;
        }
        let client_id = match not_blank(oauth.client_id.as_deref()) {
            Some(c) if is_id(c) => c,
            _ => id,
        };
        let label = not_blank(a.label.as_deref())
            .or(not_blank(a.name.as_deref()))
            .unwrap_or(id);
        let s = &a.settings.oauth_client;
        let mut facts = Vec::new();
        if let Some(n) = not_blank(a.name.as_deref()) {
            facts.push(attr("name", n));
        }
        if let Some(t) = not_blank(s.application_type.as_deref()) {
            facts.push(attr("application_type", t));
        }
        if !s.grant_types.is_empty() {
            facts.push(attr("grant_types", s.grant_types.join(",")));
        }
        if let Some(c) = not_blank(s.consent_method.as_deref()) {
            facts.push(attr("consent_method", c));
        }
        if let Some(m) = not_blank(oauth.token_endpoint_auth_method.as_deref()) {
            facts.push(attr("token_endpoint_auth_method", m));
        }
        page.tasks.push(
            Job::AppGrants(AppTask {
                url: settings.url(&format!("/api/v1/apps/{}/grants?expand=scope", seg(id))),
                page: 1,
                app_id: id.to_owned(),
                client_id: client_id.to_owned(),
                label: clip(label, MAX_TEXT),
                status: clip(a.status.as_deref().unwrap_or("UNKNOWN"), 32),
                facts,
            })
            .task(),
        );
    }
    Ok(page)
}

// --- scope consent grants ------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsentGrant {
    id: Option<String>,
    status: Option<String>,
    created: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    created_by: CreatedBy,
    issuer: Option<String>,
    client_id: Option<String>,
    user_id: Option<String>,
    scope_id: Option<String>,
    source: Option<String>,
    #[serde(rename = "_embedded", default, deserialize_with = "nullable")]
    embedded: GrantEmbedded,
    #[serde(rename = "_links", default, deserialize_with = "nullable")]
    links: GrantLinks,
}

#[derive(Default, Deserialize)]
struct CreatedBy {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Default, Deserialize)]
struct GrantEmbedded {
    #[serde(default, deserialize_with = "nullable")]
    scope: ScopeRef,
}

#[derive(Default, Deserialize)]
struct ScopeRef {
    id: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantLinks {
    app: Option<Href>,
    scope: Option<Href>,
    authorization_server: Option<Href>,
}

impl ConsentGrant {
    fn active(&self) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
    }

    /// The scope's name: `scopeId` on the org authorization server is the name
    /// (`okta.users.read`); on a custom one it is an id (`scp…`) and the scope link's
    /// title carries the name (API.md §3.4; see the README).
    fn scope(&self) -> Option<String> {
        let id =
            not_blank(self.scope_id.as_deref()).or(not_blank(self.embedded.scope.id.as_deref()))?;
        let title = self
            .links
            .scope
            .as_ref()
            .and_then(|h| not_blank(h.title.as_deref()));
        let opaque = id.starts_with("scp") && id.len() == 20 && is_id(id);
        Some(clip(
            match title {
                Some(t) if opaque => t,
                _ => id,
            },
            MAX_TEXT,
        ))
    }

    fn common_attributes(&self) -> Vec<(String, String)> {
        let mut out = vec![attr("usage_reported", "false")];
        for (k, v) in [
            ("source", &self.source),
            ("issuer", &self.issuer),
            ("scope_id", &self.scope_id),
        ] {
            if let Some(v) = not_blank(v.as_deref()) {
                out.push(attr(k, v));
            }
        }
        if let Some(t) = self
            .links
            .authorization_server
            .as_ref()
            .and_then(|h| not_blank(h.title.as_deref()))
        {
            out.push(attr("authorization_server", t));
        }
        if let (Some(id), kind) = (
            not_blank(self.created_by.id.as_deref()),
            self.created_by.kind.as_deref(),
        ) {
            out.push(attr(
                "created_by",
                format!("{id} ({})", kind.unwrap_or("unknown")),
            ));
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppGrantHandle {
    app_id: String,
    client_id: String,
    grant_id: String,
    deactivate_app: bool,
}

/// Parses `GET /api/v1/apps/{id}/grants` into `app-grant:{id}` grants: one per `okta.*`
/// scope an admin granted the app, held by the whole tenant.
pub fn parse_app_grants(settings: &Settings, a: &AppTask, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<ConsentGrant> = decode("app grant list", body)?;
    let mut page = Page::default();
    let deactivate = settings.vendor_owned(&a.client_id, &a.app_id);
    for g in &list {
        let id = required_id("app grant", "id", g.id.as_deref())?;
        // End-user consents are reported by the per-user sweep; revoked ones are gone.
        if !g.active() || g.source.as_deref() == Some("END_USER") {
            continue;
        }
        let Some(scope) = g.scope() else {
            page.warnings.push(format!(
                "okta's app grant {id} of app {} names no scope; it is skipped",
                a.app_id
            ));
            continue;
        };
        let mut app_attributes = vec![attr("app_id", &a.app_id), attr("client_id", &a.client_id)];
        app_attributes.extend(a.facts.iter().cloned());
        app_attributes.push(attr("status", &a.status));
        let mut attributes = g.common_attributes();
        attributes.push(attr("app_status", &a.status));
        let mut notes = vec![
            format!(
                "An admin granted this okta.* scope to the app for the whole {} org.",
                settings.tenant
            ),
            NO_USAGE.to_owned(),
        ];
        if !a.status.eq_ignore_ascii_case("ACTIVE") {
            notes.push(format!(
                "The app is {}; the grant stays in place and takes effect again if the app is \
                 reactivated.",
                a.status.to_ascii_lowercase()
            ));
        }
        if deactivate {
            notes.push(
                "The app is listed in `vendor_owned_apps`: revoking this grant also deactivates \
                 the app."
                    .to_owned(),
            );
        }
        let local = format!("app-grant:{id}");
        page.grants.push(Grant {
            id: local.clone(),
            app: App {
                id: a.client_id.clone(),
                name: a.label.clone(),
                publisher: None,
                attributes: app_attributes,
            },
            principal: Principal {
                kind: PrincipalKind::Tenant,
                id: settings.tenant.clone(),
                display: None,
            },
            kind: GrantKind::AdminConsent,
            scopes: vec![scope],
            created_at: g.created.as_deref().and_then(rfc3339_utc),
            last_used_at: None,
            expires_at: None,
            revocation: Some(RevocationTarget {
                grant_id: local,
                action: "app-grant".to_owned(),
                handle: handle_json(&AppGrantHandle {
                    app_id: a.app_id.clone(),
                    client_id: a.client_id.clone(),
                    grant_id: id.to_owned(),
                    deactivate_app: deactivate,
                }),
            }),
            attributes,
            notes,
        });
    }
    Ok(page)
}

// --- users -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct UserObj {
    id: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    profile: UserProfile,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserProfile {
    login: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// Parses a page of `GET /api/v1/users` into one `user` task per user.
pub fn parse_users(settings: &Settings, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<UserObj> = decode("user list", body)?;
    let mut page = Page::default();
    for u in &list {
        let id = required_id("user", "id", u.id.as_deref())?;
        if u.status.as_deref() == Some("DEPROVISIONED") {
            continue;
        }
        // The login is the principal; an account without one is named by its id.
        let login = not_blank(u.profile.login.as_deref())
            .map(|l| clip(l, MAX_TEXT))
            .unwrap_or_else(|| id.to_owned());
        let name = [&u.profile.first_name, &u.profile.last_name]
            .iter()
            .filter_map(|s| not_blank(s.as_deref()))
            .collect::<Vec<_>>()
            .join(" ");
        page.tasks.push(
            Job::User(UserTask {
                url: settings.url(&format!("/api/v1/users/{}/clients", seg(id))),
                page: 1,
                user_id: id.to_owned(),
                login,
                name: (!name.is_empty()).then(|| clip(&name, MAX_TEXT)),
                client_id: None,
                client_name: None,
            })
            .task(),
        );
    }
    Ok(page)
}

#[derive(Deserialize)]
struct ClientObj {
    client_id: Option<String>,
    client_name: Option<String>,
}

/// Parses `GET /api/v1/users/{id}/clients` into a consent-grant task and a
/// refresh-token task per client.
pub fn parse_user_clients(settings: &Settings, u: &UserTask, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<ClientObj> = decode("user client list", body)?;
    let mut page = Page::default();
    for c in &list {
        let cid = required_id("user client", "client_id", c.client_id.as_deref())?;
        let name = not_blank(c.client_name.as_deref()).map(|n| clip(n, MAX_TEXT));
        let base = format!("/api/v1/users/{}/clients/{}", seg(&u.user_id), seg(cid));
        for (grants, path) in [(true, "grants"), (false, "tokens")] {
            let t = UserTask {
                url: settings.url(&format!("{base}/{path}?expand=scope&limit={LIMIT}")),
                page: 1,
                client_id: Some(cid.to_owned()),
                client_name: name.clone(),
                ..u.clone()
            };
            page.tasks.push(
                if grants {
                    Job::UserGrants(t)
                } else {
                    Job::UserTokens(t)
                }
                .task(),
            );
        }
    }
    Ok(page)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserGrantHandle {
    user_id: String,
    client_id: String,
    app_id: String,
    grant_id: String,
    deactivate_app: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenHandle {
    user_id: String,
    client_id: String,
    app_id: String,
    token_id: String,
    deactivate_app: bool,
}

fn user_principal(u: &UserTask) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: u.login.clone(),
        display: u.name.clone(),
    }
}

fn client_app(client_id: &str, app_id: &str, name: Option<&str>) -> App {
    App {
        id: client_id.to_owned(),
        name: name.unwrap_or(client_id).to_owned(),
        publisher: None,
        attributes: vec![attr("app_id", app_id), attr("client_id", client_id)],
    }
}

/// Parses a page of `GET /api/v1/users/{id}/clients/{clientId}/grants` into
/// `user-grant:{id}` grants: one per scope the user consented to.
pub fn parse_user_grants(settings: &Settings, u: &UserTask, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<ConsentGrant> = decode("user grant list", body)?;
    let mut page = Page::default();
    for g in &list {
        let id = required_id("user grant", "id", g.id.as_deref())?;
        if !g.active() {
            continue;
        }
        let client_id = match not_blank(g.client_id.as_deref()).filter(|c| is_id(c)) {
            Some(c) => c.to_owned(),
            None => u.client_id.clone().unwrap_or_default(),
        };
        required_id("user grant", "clientId", Some(&client_id))?;
        let app_id = last_segment(g.links.app.as_ref()).unwrap_or_else(|| client_id.clone());
        let Some(scope) = g.scope() else {
            page.warnings.push(format!(
                "okta's user grant {id} names no scope; it is skipped"
            ));
            continue;
        };
        let name = u.client_name.clone().or_else(|| {
            g.links
                .app
                .as_ref()
                .and_then(|h| not_blank(h.title.as_deref()))
                .map(|t| clip(t, MAX_TEXT))
        });
        let deactivate = settings.vendor_owned(&client_id, &app_id);
        let mut attributes = g.common_attributes();
        attributes.push(attr("user_id", &u.user_id));
        if let Some(uid) = not_blank(g.user_id.as_deref())
            && uid != u.user_id
        {
            page.warnings.push(format!(
                "okta listed grant {id} of user {} under user {}; it is reported for the \
                 latter",
                clip(uid, 40),
                u.user_id
            ));
        }
        let mut notes = vec![NO_USAGE.to_owned()];
        if deactivate {
            notes.push(
                "The app is listed in `vendor_owned_apps`: revoking this grant also deactivates \
                 the app."
                    .to_owned(),
            );
        }
        let local = format!("user-grant:{id}");
        page.grants.push(Grant {
            id: local.clone(),
            app: client_app(&client_id, &app_id, name.as_deref()),
            principal: user_principal(u),
            kind: GrantKind::Delegated,
            scopes: vec![scope],
            created_at: g.created.as_deref().and_then(rfc3339_utc),
            last_used_at: None,
            expires_at: None,
            revocation: Some(RevocationTarget {
                grant_id: local,
                action: "user-grant".to_owned(),
                handle: handle_json(&UserGrantHandle {
                    user_id: u.user_id.clone(),
                    client_id: client_id.clone(),
                    app_id,
                    grant_id: id.to_owned(),
                    deactivate_app: deactivate,
                }),
            }),
            attributes,
            notes,
        });
    }
    Ok(page)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenObj {
    id: Option<String>,
    status: Option<String>,
    created: Option<String>,
    last_updated: Option<String>,
    expires_at: Option<String>,
    issuer: Option<String>,
    // The spec's examples spell it both ways (API.md §3.5).
    client_id: Option<String>,
    #[serde(rename = "client_id")]
    client_id_snake: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    scopes: Vec<String>,
    #[serde(rename = "_links", default, deserialize_with = "nullable")]
    links: GrantLinks,
}

/// Parses a page of `GET /api/v1/users/{id}/clients/{clientId}/tokens` into
/// `refresh-token:{id}` grants.
pub fn parse_user_tokens(settings: &Settings, u: &UserTask, body: &[u8]) -> Result<Page, Error> {
    let list: Vec<TokenObj> = decode("refresh token list", body)?;
    let mut page = Page::default();
    for t in &list {
        let id = required_id("refresh token", "id", t.id.as_deref())?;
        if !t
            .status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
        {
            continue;
        }
        let client_id = not_blank(t.client_id.as_deref())
            .or(not_blank(t.client_id_snake.as_deref()))
            .filter(|c| is_id(c))
            .map(str::to_owned)
            .or_else(|| u.client_id.clone())
            .unwrap_or_default();
        required_id("refresh token", "clientId", Some(&client_id))?;
        let app_id = last_segment(t.links.app.as_ref()).unwrap_or_else(|| client_id.clone());
        let name = u.client_name.clone().or_else(|| {
            t.links
                .app
                .as_ref()
                .and_then(|h| not_blank(h.title.as_deref()))
                .map(|s| clip(s, MAX_TEXT))
        });
        let deactivate = settings.vendor_owned(&client_id, &app_id);
        let mut attributes = vec![attr("usage_reported", "false"), attr("user_id", &u.user_id)];
        if let Some(i) = not_blank(t.issuer.as_deref()) {
            attributes.push(attr("issuer", i));
        }
        if let Some(l) = t.last_updated.as_deref().and_then(rfc3339_utc) {
            attributes.push(attr("last_updated", l));
        }
        if let Some(h) = t
            .links
            .authorization_server
            .as_ref()
            .and_then(|h| not_blank(h.title.as_deref()))
        {
            attributes.push(attr("authorization_server", h));
        }
        let mut notes = vec![
            "Okta keeps no last-use time for refresh tokens; `last_updated` moves when the token \
             rotates, which is a weak sign of use."
                .to_owned(),
            "Access tokens already minted from this refresh token stay valid until they expire."
                .to_owned(),
        ];
        if deactivate {
            notes.push(
                "The app is listed in `vendor_owned_apps`: revoking this token also deactivates \
                 the app."
                    .to_owned(),
            );
        }
        let local = format!("refresh-token:{id}");
        page.grants.push(Grant {
            id: local.clone(),
            app: client_app(&client_id, &app_id, name.as_deref()),
            principal: user_principal(u),
            kind: GrantKind::Delegated,
            scopes: t.scopes.iter().map(|s| clip(s, MAX_TEXT)).collect(),
            created_at: t.created.as_deref().and_then(rfc3339_utc),
            last_used_at: None,
            expires_at: t.expires_at.as_deref().and_then(rfc3339_utc),
            revocation: Some(RevocationTarget {
                grant_id: local,
                action: "refresh-token".to_owned(),
                handle: handle_json(&TokenHandle {
                    user_id: u.user_id.clone(),
                    client_id: client_id.clone(),
                    app_id,
                    token_id: id.to_owned(),
                    deactivate_app: deactivate,
                }),
            }),
            attributes,
            notes,
        });
    }
    Ok(page)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A call the connector makes, for error messages and the scope it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Reading a task's page.
    List(Job),
    /// A revocation call.
    Revoke(&'static str, &'static str),
    /// A probe read.
    Probe(&'static str, &'static str),
}

impl Operation {
    fn what(&self) -> String {
        match self {
            Operation::List(j) => format!("listing {}", j.what()),
            Operation::Revoke(what, _) => format!("revoking {what}"),
            Operation::Probe(what, _) => format!("re-reading {what}"),
        }
    }

    /// The `okta.*` scope the call needs.
    pub fn scope(&self) -> &'static str {
        match self {
            Operation::List(j) => j.scope(),
            Operation::Revoke(_, s) | Operation::Probe(_, s) => s,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaError {
    error_code: Option<String>,
    error_summary: Option<String>,
}

/// `errorCode` and `errorSummary` of Okta's error body, if the body is one.
pub fn okta_error(body: &[u8]) -> Option<(String, String)> {
    let e: OktaError = serde_json::from_slice(body).ok()?;
    Some((e.error_code?, e.error_summary.unwrap_or_default()))
}

/// A short, single-line excerpt of an error response.
fn excerpt(resp: &Response) -> String {
    let text = match okta_error(&resp.body) {
        Some((code, summary)) => format!("{code}: {summary}"),
        None => resp.excerpt(),
    };
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(flat.trim(), MAX_EXCERPT)
}

/// Turns a response that is not the expected success into an error naming what failed
/// and what to do. Okta's `errorCode` decides, never the summary text (API.md §7).
pub fn classify(settings: &Settings, op: &Operation, resp: &Response) -> Error {
    let status = resp.status;
    let tenant = &settings.tenant;
    let what = op.what();
    let message = excerpt(resp);
    let code = okta_error(&resp.body).map(|(c, _)| c).unwrap_or_default();
    if status == 429 || code == "E0000047" {
        let reset = resp
            .header("x-rate-limit-reset")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(from_epoch_seconds)
            .map(|t| format!("; the limit resets at {t}"))
            .unwrap_or_default();
        return Error::new(
            ErrorCode::RateLimited,
            format!(
                "okta rate-limited {what} in `{tenant}` ({status}: {message}{reset}): wait and \
                 run again, or raise the auditor app's share of the rate limit"
            ),
        );
    }
    let scope = op.scope();
    match status {
        401 => Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "okta refused the credential while {what} in `{tenant}` (401: {message}): check \
                 the service app's key and client id, or that the SSWS token is still valid \
                 (it expires after 30 days without use)"
            ),
        ),
        403 => {
            let insufficient = resp
                .header("www-authenticate")
                .is_some_and(|h| h.contains("insufficient_scope"));
            let hint = if insufficient {
                format!(
                    "the access token lacks `{scope}`: grant it to the service app and add it to the credential's `scope`"
                )
            } else {
                format!(
                    "the auditor needs `{scope}` and an admin role that allows it (for an SSWS \
                     token: its admin's role)"
                )
            };
            Error::new(
                ErrorCode::Permission,
                format!("okta denied {what} in `{tenant}` (403: {message}): {hint}"),
            )
        }
        401..=404 if code == "E0000015" => Error::new(
            ErrorCode::Unsupported,
            format!(
                "okta does not offer {what} in `{tenant}` ({status}: {message}): the org lacks \
                 the feature"
            ),
        ),
        404 => Error::new(
            ErrorCode::Config,
            format!(
                "okta answered 404 while {what} in `{tenant}` ({message}): check that `org_url` \
                 ({}) is the org URL",
                settings.org_url
            ),
        ),
        500..=599 => Error::new(
            ErrorCode::Provider,
            format!(
                "okta failed while {what} in `{tenant}` ({status}: {message}): try again later"
            ),
        ),
        _ => Error::new(
            ErrorCode::Provider,
            format!(
                "okta answered an unexpected {status} while {what} in `{tenant}` ({message}): \
                 report it to the connector's maintainers"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------
// Revocation and probe
// ---------------------------------------------------------------------------------

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An `okta.*` scope grant on an app.
    AppGrant {
        /// App id.
        app_id: String,
        /// Client id.
        client_id: String,
        /// `oag…`.
        grant_id: String,
        /// The handle asks to deactivate the app.
        deactivate_app: bool,
    },
    /// A user's consent grant.
    UserGrant {
        /// `00u…`.
        user_id: String,
        /// Client id.
        client_id: String,
        /// App id.
        app_id: String,
        /// `oag…`.
        grant_id: String,
        /// The handle asks to deactivate the app.
        deactivate_app: bool,
    },
    /// A user's refresh token for a client.
    RefreshToken {
        /// `00u…`.
        user_id: String,
        /// Client id.
        client_id: String,
        /// App id.
        app_id: String,
        /// `oar…`.
        token_id: String,
        /// The handle asks to deactivate the app.
        deactivate_app: bool,
    },
    /// An API service integration.
    ApiService {
        /// Its id (also its client id).
        id: String,
    },
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let handle = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            "app-grant" => {
                let h: AppGrantHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::AppGrant {
                    app_id: h.app_id,
                    client_id: h.client_id,
                    grant_id: h.grant_id,
                    deactivate_app: h.deactivate_app,
                }
            }
            "user-grant" => {
                let h: UserGrantHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::UserGrant {
                    user_id: h.user_id,
                    client_id: h.client_id,
                    app_id: h.app_id,
                    grant_id: h.grant_id,
                    deactivate_app: h.deactivate_app,
                }
            }
            "refresh-token" => {
                let h: TokenHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::RefreshToken {
                    user_id: h.user_id,
                    client_id: h.client_id,
                    app_id: h.app_id,
                    token_id: h.token_id,
                    deactivate_app: h.deactivate_app,
                }
            }
            "api-service" => {
                let h: ApiServiceHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::ApiService { id: h.id }
            }
            _ => {
                return Err(invalid(
                    "has an unknown action: this connector revokes `app-grant`, `user-grant`, \
                     `refresh-token` and `api-service`"
                        .to_owned(),
                ));
            }
        };
        if !parsed.ids().iter().all(|s| is_id(s)) {
            return Err(invalid(
                "has an id in its handle that is not an Okta id".to_owned(),
            ));
        }
        // The host may pass the qualified id (`okta/{tenant}/{id}`); local ids contain
        // no `/`, so the last segment is the local id either way.
        let local = target.grant_id.rsplit('/').next().unwrap_or_default();
        if local != parsed.grant_id() {
            return Err(invalid(format!(
                "does not match its handle, which is for `{}`",
                parsed.grant_id()
            )));
        }
        Ok(parsed)
    }

    fn ids(&self) -> Vec<&str> {
        match self {
            Target::AppGrant {
                app_id,
                client_id,
                grant_id,
                ..
            } => vec![app_id, client_id, grant_id],
            Target::UserGrant {
                user_id,
                client_id,
                app_id,
                grant_id,
                ..
            } => vec![user_id, client_id, app_id, grant_id],
            Target::RefreshToken {
                user_id,
                client_id,
                app_id,
                token_id,
                ..
            } => vec![user_id, client_id, app_id, token_id],
            Target::ApiService { id } => vec![id],
        }
    }

    /// The local grant id this target revokes.
    pub fn grant_id(&self) -> String {
        let kind = match self {
            Target::AppGrant { .. } => "app-grant",
            Target::UserGrant { .. } => "user-grant",
            Target::RefreshToken { .. } => "refresh-token",
            Target::ApiService { .. } => "api-service",
        };
        format!("{kind}:{}", self.object_id())
    }

    /// The id of the one object [`Target::object_url`] names.
    fn object_id(&self) -> &str {
        match self {
            Target::AppGrant { grant_id, .. } | Target::UserGrant { grant_id, .. } => grant_id,
            Target::RefreshToken { token_id, .. } => token_id,
            Target::ApiService { id } => id,
        }
    }

    /// The URL of the one object the target names (GET reads it, DELETE removes it).
    fn object_url(&self, settings: &Settings) -> String {
        settings.url(&match self {
            Target::AppGrant {
                app_id, grant_id, ..
            } => format!("/api/v1/apps/{}/grants/{}", seg(app_id), seg(grant_id)),
            Target::UserGrant {
                user_id, grant_id, ..
            } => format!("/api/v1/users/{}/grants/{}", seg(user_id), seg(grant_id)),
            Target::RefreshToken {
                user_id,
                client_id,
                token_id,
                ..
            } => format!(
                "/api/v1/users/{}/clients/{}/tokens/{}",
                seg(user_id),
                seg(client_id),
                seg(token_id)
            ),
            Target::ApiService { id } => {
                format!("/integrations/api/v1/api-services/{}", seg(id))
            }
        })
    }

    fn what(&self) -> &'static str {
        match self {
            Target::AppGrant { .. } => "an app's scope grant",
            Target::UserGrant { .. } => "a user's consent grant",
            Target::RefreshToken { .. } => "a user's refresh token",
            Target::ApiService { .. } => "an API service integration",
        }
    }

    fn scopes(&self) -> (&'static str, &'static str) {
        match self {
            Target::AppGrant { .. } => ("okta.appGrants.read", "okta.appGrants.manage"),
            Target::UserGrant { .. } | Target::RefreshToken { .. } => {
                ("okta.users.read", "okta.users.manage")
            }
            Target::ApiService { .. } => (
                "okta.oauthIntegrations.read",
                "okta.oauthIntegrations.manage",
            ),
        }
    }

    /// The app to deactivate, when both the handle and the current settings say the
    /// vendor owns it.
    fn deactivation(&self, settings: &Settings) -> Option<&str> {
        match self {
            Target::AppGrant {
                app_id,
                client_id,
                deactivate_app,
                ..
            }
            | Target::UserGrant {
                app_id,
                client_id,
                deactivate_app,
                ..
            }
            | Target::RefreshToken {
                app_id,
                client_id,
                deactivate_app,
                ..
            } => (*deactivate_app && settings.vendor_owned(client_id, app_id))
                .then_some(app_id.as_str()),
            Target::ApiService { .. } => None,
        }
    }
}

/// One request of a revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL under the org URL.
    pub url: String,
}

/// The calls that revoke one target, in order: when the vendor owns the app, a read of
/// the app and (if it is still active) its deactivation, then the deletion of the grant
/// or token itself. Reading first keeps a vendor with many grants from deactivating its
/// app once per grant: one lifecycle call, not hundreds, in the org's System Log.
#[derive(Clone, Debug)]
pub struct RevocationPlan {
    /// `GET /api/v1/apps/{id}`, when the vendor owns the app.
    pub app_status: Option<Call>,
    /// `POST /api/v1/apps/{id}/lifecycle/deactivate`, when the vendor owns the app.
    pub deactivate: Option<Call>,
    /// The `DELETE` of the target.
    pub delete: Call,
    target: Target,
    settings: Settings,
}

/// Plans the revocation of one target.
pub fn plan_revocation(
    settings: &Settings,
    target: &RevocationTarget,
) -> Result<RevocationPlan, Error> {
    let target = Target::parse(target)?;
    let app = target.deactivation(settings);
    let app_status = app.map(|app| Call {
        method: Method::Get,
        url: settings.url(&format!("/api/v1/apps/{}", seg(app))),
    });
    let deactivate = app.map(|app| Call {
        method: Method::Post,
        url: settings.url(&format!("/api/v1/apps/{}/lifecycle/deactivate", seg(app))),
    });
    Ok(RevocationPlan {
        app_status,
        deactivate,
        delete: Call {
            method: Method::Delete,
            url: target.object_url(settings),
        },
        target,
        settings: settings.clone(),
    })
}

impl RevocationPlan {
    /// Reads the app: `true` when it is still `ACTIVE` and needs deactivating; a 404
    /// (the app is gone) or any other status needs nothing.
    pub fn app_active(&self, resp: &Response) -> Result<bool, Error> {
        #[derive(Deserialize)]
        struct AppStatus {
            status: Option<String>,
        }
        match resp.status {
            200 => {
                let app: AppStatus = decode("okta's app", &resp.body)?;
                Ok(app.status.as_deref() == Some("ACTIVE"))
            }
            404 => Ok(false),
            _ => Err(classify(
                &self.settings,
                &Operation::Revoke("an app (status)", "okta.apps.read"),
                resp,
            )),
        }
    }

    /// Reads the deactivation's answer: 200 (or 404, the app is gone) lets the deletion
    /// go ahead; anything else stops the revocation before it deletes anything.
    pub fn check_deactivation(&self, resp: &Response) -> Result<(), Error> {
        match resp.status {
            200 | 204 | 404 => Ok(()),
            _ => Err(classify(
                &self.settings,
                &Operation::Revoke("an app (deactivation)", "okta.apps.manage"),
                resp,
            )),
        }
    }

    /// Maps the deletion's answer: 2xx is `revoked`, 404 `already-gone`.
    pub fn outcome(&self, resp: &Response) -> Result<Revocation, Error> {
        let status = match resp.status {
            200 | 202 | 204 => RevocationStatus::Revoked,
            404 => RevocationStatus::AlreadyGone,
            _ => {
                return Err(classify(
                    &self.settings,
                    &Operation::Revoke(self.target.what(), self.target.scopes().1),
                    resp,
                ));
            }
        };
        let org = &self.settings.tenant;
        let done = status == RevocationStatus::Revoked;
        let id = self.target.grant_id();
        let mut detail = if done {
            format!("Deleted {} `{id}` in {org}.", self.target.what())
        } else {
            format!("{} `{id}` was already gone from {org}.", self.target.what())
        };
        let mut manual_steps = Vec::new();
        match &self.target {
            Target::AppGrant { client_id, .. } => manual_steps.push(format!(
                "Access tokens the app already holds with this scope stay valid until they \
                 expire (one hour); the app {client_id} itself, its other grants and its \
                 admin roles stay in place."
            )),
            Target::UserGrant { client_id, .. } => manual_steps.push(format!(
                "The user's other grants and refresh tokens for client {client_id} stay in \
                 place, and issued access tokens stay valid until they expire; the user can \
                 consent again unless the app is deactivated."
            )),
            Target::RefreshToken { client_id, .. } => manual_steps.push(format!(
                "Access tokens minted from this refresh token die with it; the user's consent \
                 grants for client {client_id} stay in place, so the client can ask for a new \
                 token at the user's next sign-in."
            )),
            Target::ApiService { .. } => manual_steps.push(
                "Deleting the integration revoked every scope granted to it; the vendor's own \
                 copy of any data it read stays with the vendor."
                    .to_owned(),
            ),
        }
        if let (Some(_), Some(app)) = (&self.deactivate, self.target.deactivation(&self.settings)) {
            detail.push_str(&format!(" The app {app} was deactivated first."));
            manual_steps.push(format!(
                "The app {app} is deactivated, not deleted: delete it in the Admin Console \
                 when the vendor is offboarded (DELETE /api/v1/apps/{app} is irreversible)."
            ));
        }
        Ok(Revocation {
            status,
            detail,
            manual_steps,
        })
    }
}

/// The re-read of one target.
#[derive(Clone, Debug)]
pub struct Probe {
    target: Target,
    settings: Settings,
}

/// The fields of a re-read object that decide its state.
#[derive(Deserialize)]
struct ProbedObject {
    id: Option<String>,
    status: Option<String>,
}

impl Probe {
    /// Plans the re-read of a target.
    pub fn new(settings: &Settings, target: &RevocationTarget) -> Result<Self, Error> {
        Ok(Probe {
            target: Target::parse(target)?,
            settings: settings.clone(),
        })
    }

    /// The one URL to read.
    pub fn url(&self) -> String {
        self.target.object_url(&self.settings)
    }

    /// 200 with this active object is present; 404 (or a revoked status) is gone.
    ///
    /// "Present" licenses a second revoke call, so a 200 must show the object itself:
    /// a body cut short or about another object leaves the state unknown (an error).
    pub fn read(&self, resp: &Response) -> Result<TargetState, Error> {
        match resp.status {
            200 => {
                let s: ProbedObject = decode(self.target.what(), &resp.body)?;
                if s.id.as_deref() != Some(self.target.object_id()) {
                    return Err(Error::new(
                        ErrorCode::Malformed,
                        format!(
                            "okta answered the re-read of {} `{}` with another object; its \
                             state is unknown",
                            self.target.what(),
                            self.target.object_id()
                        ),
                    ));
                }
                let active = s
                    .status
                    .as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"));
                Ok(if active {
                    TargetState::Present
                } else {
                    TargetState::Gone
                })
            }
            404 => Ok(TargetState::Gone),
            _ => Err(classify(
                &self.settings,
                &Operation::Probe(self.target.what(), self.target.scopes().0),
                resp,
            )),
        }
    }
}

// ---------------------------------------------------------------------------------
