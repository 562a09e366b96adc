//! Slack provider logic, free of I/O.
//!
//! Everything the connector knows about Slack lives here as pure functions: the
//! settings, the Web API URLs, how a response page becomes grants, log lines and
//! follow-up tasks, how `{"ok": false, "error": ...}` becomes an error, and how the
//! answers of `admin.apps.uninstall` and `admin.apps.restrict` become a
//! [`Revocation`]. `lib.rs` only moves bytes between these functions and the host.
//!
//! The mapping from Slack objects to grants is the contract in the crate's
//! `README.md`; the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings
//! copied into grants are clipped, and ids are checked before they go into a URL.

use std::collections::{BTreeMap, BTreeSet};

use grantscope_connector_sdk::clip;
use grantscope_connector_sdk::http::{self, Response};
use grantscope_connector_sdk::time::from_epoch_seconds;
use grantscope_connector_sdk::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Manifest, Permission, Principal,
    PrincipalKind, Quota, Revocation, RevocationStatus, RevocationTarget, Setting, TargetState,
    Task,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The connector's version, as declared in its manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Web API root used when the tenant sets no `api_base`.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// `limit` for cursor listings: the `admin.apps` lists accept up to 1000, so a scan
/// spends the fewest calls of their Tier 2 budget (20+ per minute).
pub const LIMIT: u32 = 1000;

/// `count` for `team.integrationLogs`: Slack documents 100 as the default and no
/// maximum, so the connector does not ask for more.
pub const LOG_COUNT: u32 = 100;

/// Most pages one listing may have; only stops a provider whose cursors never end.
pub const MAX_PAGES: u32 = 10_000;

/// Provider strings copied into grants and messages are clipped to this length.
const MAX_TEXT: usize = 256;

/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

/// Largest task payload the connector builds (the host refuses more than 64 KiB).
const MAX_PAYLOAD: usize = 60 * 1024;

/// Longest cursor accepted from a response.
const MAX_CURSOR: usize = 2048;

/// The message for a tenant that is not an Enterprise Grid organisation.
const NOT_GRID: &str = "the Slack admin app APIs (admin.apps.*, admin.teams.list) exist only on \
     Enterprise Grid: point the tenant at an Enterprise Grid org with an org admin's user token \
     installed at org level";

// ---------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------

/// What the connector is and needs. Depends on no input.
pub fn manifest() -> Manifest {
    let permission = |name: &str, reason: &str, revoke_only: bool| Permission {
        name: name.to_owned(),
        reason: reason.to_owned(),
        revoke_only,
    };
    Manifest {
        id: "slack".to_owned(),
        name: "Slack Enterprise Grid organisations".to_owned(),
        version: VERSION.to_owned(),
        provider: "slack".to_owned(),
        hosts: vec!["slack.com".to_owned(), "slack-gov.com".to_owned()],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["static-token".to_owned()],
        permissions: vec![
            permission(
                "admin.apps:read",
                "list approved and restricted apps and pending app requests at org and \
                 workspace level (user token of an org admin, app installed on the org)",
                false,
            ),
            permission(
                "admin.teams:read",
                "list the organisation's workspaces",
                false,
            ),
            permission(
                "admin",
                "read each workspace's integration log (team.integrationLogs), the only \
                 record of which apps are installed where",
                false,
            ),
            permission(
                "admin.apps:write",
                "uninstall an app (admin.apps.uninstall) and restrict it org-wide \
                 (admin.apps.restrict) when revoking; using it makes the auditor app the \
                 org's app manager, so keep it in a separate remediation app",
                true,
            ),
        ],
        settings: vec![
            Setting {
                name: "enterprise_id".to_owned(),
                description: "the Enterprise Grid organisation id, `E…`".to_owned(),
                required: true,
            },
            Setting {
                name: "api_base".to_owned(),
                description: format!(
                    "Web API root, default `{DEFAULT_API_BASE}` (GovSlack: \
                     `https://slack-gov.com/api`)"
                ),
                required: false,
            },
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// How long Slack's lists may still show an app after `admin.apps.uninstall` returned:
/// uninstalls fan out to the org's workspaces asynchronously.
pub const CONSISTENCY_WINDOW_MS: u32 = 30_000;

/// Slack's method tiers (API.md §7): each Web API method has its own budget per app and
/// workspace, so each method the connector calls is a class of its own. Tier 1 is
/// "1+ per minute with small bursts"; Slack does not publish the burst size, and 10 is
/// our reading (a 429 with `Retry-After` covers a smaller one). Tiers 2 and 3 allow a
/// minute's budget at once.
pub fn quotas() -> Vec<Quota> {
    const DOC: &str = "api.slack.com: Rate limits (Web API method tiers)";
    let method = |name: &str, per_minute: u32, burst: u32| {
        Quota::new(
            &name.replace('.', "-").to_ascii_lowercase(),
            per_minute,
            60,
            &[&format!("/api/{name}")],
            DOC,
        )
        .with_burst(burst)
    };
    vec![
        method("admin.apps.uninstall", 1, 10),
        method("apps.uninstall", 1, 10),
        method("admin.apps.approved.list", 20, 20),
        method("admin.apps.restricted.list", 20, 20),
        method("admin.apps.requests.list", 20, 20),
        method("admin.apps.restrict", 20, 20),
        method("admin.apps.approve", 20, 20),
        method("admin.apps.config.lookup", 20, 20),
        method("team.integrationLogs", 20, 20),
        method("admin.teams.list", 50, 50),
        method("admin.apps.activities.list", 50, 50),
        method("auth.teams.list", 50, 50),
        Quota::new("other", 100, 60, &[], DOC).with_burst(100),
    ]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    enterprise_id: String,
    api_base: String,
}

/// Whether `s` is a Slack object id (`E…`, `T…`, `A…`, `W…`): letters and digits.
fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Settings {
    /// Reads and validates `enterprise_id` and `api_base` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        let e = ctx.require("enterprise_id")?;
        Self::new(&ctx.tenant, e, ctx.setting("api_base"))
    }

    /// Validates an enterprise id and an optional API root (blank means the default).
    pub fn new(tenant: &str, enterprise_id: &str, api_base: Option<&str>) -> Result<Self, Error> {
        let config = |m: String| Error::new(ErrorCode::Config, m);
        let e = enterprise_id.trim();
        if !is_id(e) || !e.starts_with('E') {
            return Err(config(format!(
                "tenant `{tenant}`: setting `enterprise_id` = `{}` is not an Enterprise Grid \
                 org id: use the `E…` id shown in the org's admin dashboard",
                clip(e, 40)
            )));
        }
        let raw = api_base.map(str::trim).filter(|s| !s.is_empty());
        let base = raw.unwrap_or(DEFAULT_API_BASE).trim_end_matches('/');
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        let host = base.split_once("://").map_or("", |(_, r)| r);
        let host = host.split('/').next().unwrap_or_default();
        let bad = base
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#@\\".contains(c));
        if !scheme_ok || host.is_empty() || bad {
            let shown = match raw.unwrap_or_default() {
                v if v.contains('@') => "(redacted: it contains `@`)".to_owned(),
                v => format!("`{}`", clip(v, 80)),
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `api_base` = {shown} is not an http(s) URL with a \
                 host and no credentials, query or fragment: use e.g. `{DEFAULT_API_BASE}`"
            )));
        }
        Ok(Settings {
            enterprise_id: e.to_owned(),
            api_base: base.to_owned(),
        })
    }

    /// The organisation id.
    pub fn enterprise_id(&self) -> &str {
        &self.enterprise_id
    }

    /// `{api_base}/{method}?{query}`, every value percent-encoded.
    pub fn url(&self, method: &str, query: &[(&str, &str)]) -> String {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", http::encode(v)))
            .collect();
        if q.is_empty() {
            format!("{}/{method}", self.api_base)
        } else {
            format!("{}/{method}?{}", self.api_base, q.join("&"))
        }
    }
}

/// Request headers. Never `Authorization`: the host attaches the token.
pub fn headers() -> Vec<(&'static str, &'static str)> {
    vec![("accept", "application/json")]
}

/// Headers of a write (form-encoded body, as Slack's `admin.apps` writes accept).
pub fn form_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/json"),
        ("content-type", "application/x-www-form-urlencoded"),
    ]
}

/// A form body, every value percent-encoded.
pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", http::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

// ---------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------

/// The cursor listings a scan walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listing {
    /// `admin.teams.list`: the workspaces.
    Teams,
    /// `admin.apps.approved.list`.
    Approved,
    /// `admin.apps.restricted.list`.
    Restricted,
    /// `admin.apps.requests.list`.
    Requests,
}

impl Listing {
    /// The task kind that pages through this listing.
    pub fn task_kind(self) -> &'static str {
        match self {
            Listing::Teams => "teams",
            Listing::Approved => "approved",
            Listing::Restricted => "restricted",
            Listing::Requests => "requests",
        }
    }

    /// The Web API method.
    pub fn method(self) -> &'static str {
        match self {
            Listing::Teams => "admin.teams.list",
            Listing::Approved => "admin.apps.approved.list",
            Listing::Restricted => "admin.apps.restricted.list",
            Listing::Requests => "admin.apps.requests.list",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Listing::Teams => "workspaces",
            Listing::Approved => "approved apps",
            Listing::Restricted => "restricted apps",
            Listing::Requests => "pending app requests",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Listing::Teams => "admin.teams:read",
            _ => "admin.apps:read",
        }
    }
}

/// The workspace a task is about (from `admin.teams.list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRef {
    /// `T…`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Web address, e.g. `https://acme.slack.com/`.
    #[serde(default)]
    pub url: String,
}

/// One page of a cursor listing, at org level (`team` = `None`) or for a workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorTask {
    /// Which listing.
    pub listing: Listing,
    /// The workspace, or `None` for the organisation.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// Slack's cursor; `None` for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// 1-based page number, counted so that endless cursors are caught.
    pub page: u32,
}

/// One page of a workspace's integration log, with the replay so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTask {
    /// The workspace.
    pub team: TeamRef,
    /// 1-based page.
    pub page: u32,
    /// Entries seen so far (for tie-breaking equal dates by listing order).
    #[serde(default)]
    pub seen: u32,
    /// The replay so far, by `app:{id}` / `service:{id}`.
    #[serde(default)]
    pub state: BTreeMap<String, Replay>,
}

/// A task, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// A cursor page.
    Cursor(CursorTask),
    /// An integration-log page.
    Logs(LogTask),
}

impl CursorTask {
    /// The task for this page.
    pub fn task(&self) -> Task {
        Task::json(self.listing.task_kind(), self)
    }

    /// The page's URL.
    pub fn url(&self, settings: &Settings) -> String {
        let limit = LIMIT.to_string();
        let mut q: Vec<(&str, &str)> = vec![("limit", &limit)];
        match (&self.team, self.listing) {
            (_, Listing::Teams) => {}
            (Some(t), _) => q.push(("team_id", &t.id)),
            (None, _) => q.push(("enterprise_id", &settings.enterprise_id)),
        }
        if let Some(c) = &self.cursor {
            q.push(("cursor", c));
        }
        settings.url(self.listing.method(), &q)
    }
}

impl LogTask {
    /// The task for this page.
    pub fn task(&self) -> Task {
        Task::json("integration-logs", self)
    }

    /// The page's URL.
    pub fn url(&self, settings: &Settings) -> String {
        let count = LOG_COUNT.to_string();
        let page = self.page.to_string();
        settings.url(
            "team.integrationLogs",
            &[
                ("team_id", &self.team.id),
                ("count", &count),
                ("page", &page),
            ],
        )
    }
}

/// The first tasks of a scan: the workspaces, and the org-level resolutions.
pub fn start_tasks() -> Vec<Task> {
    [Listing::Teams, Listing::Approved, Listing::Restricted]
        .into_iter()
        .map(|listing| {
            CursorTask {
                listing,
                team: None,
                cursor: None,
                page: 1,
            }
            .task()
        })
        .collect()
}

/// Decodes and checks a task. Payloads round-trip through the host, so ids are
/// re-validated before they go into a URL.
pub fn decode_task(task: &Task) -> Result<Job, Error> {
    let invalid = |m: String| Error::new(ErrorCode::InvalidInput, m);
    let check_team = |t: &TeamRef| {
        if is_id(&t.id) {
            Ok(())
        } else {
            Err(invalid(format!(
                "task `{}` has a bad workspace id",
                task.kind
            )))
        }
    };
    match task.kind.as_str() {
        "teams" | "approved" | "restricted" | "requests" => {
            let t: CursorTask = task.decode()?;
            if t.listing.task_kind() != task.kind {
                return Err(invalid(format!(
                    "task `{}` names another listing",
                    task.kind
                )));
            }
            if let Some(team) = &t.team {
                check_team(team)?;
            }
            if t.page == 0 || t.page > MAX_PAGES {
                return Err(invalid(format!(
                    "task `{}` has a bad page number",
                    task.kind
                )));
            }
            Ok(Job::Cursor(t))
        }
        "integration-logs" => {
            let t: LogTask = task.decode()?;
            check_team(&t.team)?;
            if t.page == 0 || t.page > MAX_PAGES {
                return Err(invalid(
                    "task `integration-logs` has a bad page number".into(),
                ));
            }
            Ok(Job::Logs(t))
        }
        other => Err(invalid(format!(
            "unknown task kind `{}`: this connector runs `teams`, `approved`, `restricted`, \
             `requests` and `integration-logs`",
            clip(other, 64)
        ))),
    }
}

// ---------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------

/// What one page produced.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Grants on the page.
    pub grants: Vec<Grant>,
    /// Follow-up tasks.
    pub tasks: Vec<Task>,
    /// Lines for the operator at `info` (restrictions, requests: not grants).
    pub info: Vec<String>,
    /// Lines for the operator at `warn`.
    pub warnings: Vec<String>,
}

/// Deserialises `null` as the default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[derive(Deserialize)]
struct Envelope {
    ok: Option<bool>,
    error: Option<String>,
    needed: Option<String>,
}

/// The parts of a Slack failure an error message needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackFailure {
    /// HTTP status.
    pub status: u16,
    /// Slack's `error` code, when the body had one.
    pub code: Option<String>,
    /// The `needed` scope of `missing_scope`.
    pub needed: Option<String>,
    /// `Retry-After`, seconds.
    pub retry_after: Option<u64>,
    /// A short excerpt when the body was not Slack's JSON.
    pub excerpt: String,
}

/// Checks a Web API answer: `Ok(())` for HTTP 200 with `"ok": true`; otherwise the
/// failure. Slack reports errors as HTTP 200 with `"ok": false`, so the status alone
/// says nothing.
pub fn check(resp: &Response) -> Result<(), SlackFailure> {
    let env: Option<Envelope> = serde_json::from_slice(&resp.body).ok();
    if resp.status == 200 && env.as_ref().and_then(|e| e.ok) == Some(true) {
        return Ok(());
    }
    let code = env
        .as_ref()
        .and_then(|e| e.error.as_deref())
        .map(|c| clip(&flat(c), 64));
    Err(SlackFailure {
        status: resp.status,
        code,
        needed: env
            .as_ref()
            .and_then(|e| e.needed.as_deref())
            .map(|n| clip(&flat(n), 120)),
        retry_after: resp
            .header("retry-after")
            .and_then(|s| s.trim().parse().ok()),
        excerpt: clip(&flat(&resp.excerpt()), MAX_EXCERPT),
    })
}

fn flat(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Turns a failure into an error naming what failed and what to do. `what` says
/// what the call was ("listing approved apps of workspace T1"), `scope` the OAuth
/// scope it needs.
pub fn classify(f: &SlackFailure, what: &str, scope: &str) -> Error {
    let code = f.code.as_deref().unwrap_or("");
    let said = match &f.code {
        Some(c) => format!("`{c}`"),
        None => format!("HTTP {}: {}", f.status, f.excerpt),
    };
    if f.status == 429 || code == "ratelimited" {
        let wait = f
            .retry_after
            .map(|s| format!("; retry after {s} s"))
            .unwrap_or_default();
        return Error::new(
            ErrorCode::RateLimited,
            format!(
                "slack rate-limited {what} ({said}{wait}): each method has a per-minute tier \
                 budget; lower `[limits] requests_per_second` or the tenant's `concurrency` \
                 and run again"
            ),
        );
    }
    let (c, hint) = match code {
        "not_authed" | "invalid_auth" | "account_inactive" | "token_revoked" | "token_expired"
        | "no_such_token" => (
            ErrorCode::Unauthenticated,
            "check the tenant's token: an org admin's user token (xoxp-) from an app installed \
             on the whole org"
                .to_owned(),
        ),
        "missing_scope" => (
            ErrorCode::Permission,
            format!(
                "add the user scope `{}` to the auditor app and reinstall it on the org",
                f.needed.as_deref().unwrap_or(scope)
            ),
        ),
        "no_permission"
        | "not_an_admin"
        | "not_allowed_token_type"
        | "permission_denied"
        | "access_denied"
        | "restricted_action"
        | "ekm_access_denied"
        | "app_management_app_not_installed_on_org" => (
            ErrorCode::Permission,
            format!(
                "the token needs the user scope `{scope}` and must belong to an org admin or \
                 owner, from an app installed at org level"
            ),
        ),
        "feature_not_enabled"
        | "not_an_enterprise"
        | "not_enterprise_team"
        | "paid_only"
        | "team_not_on_enterprise" => (ErrorCode::Unsupported, NOT_GRID.to_owned()),
        "enterprise_not_found" | "invalid_arguments" | "missing_argument" | "team_not_found" => (
            ErrorCode::Config,
            "check the tenant's `enterprise_id` setting against the org the token belongs to"
                .to_owned(),
        ),
        "invalid_cursor" => (
            ErrorCode::Provider,
            "slack refused its own cursor; run the scan again".to_owned(),
        ),
        _ if f.status >= 500 || f.code.is_none() => (
            ErrorCode::Provider,
            "slack failed; try again later".to_owned(),
        ),
        _ => (
            ErrorCode::Provider,
            "slack refused the call; if it persists, report it to the connector's maintainers"
                .to_owned(),
        ),
    };
    Error::new(c, format!("slack refused {what} ({said}): {hint}"))
}

/// Decodes a body with a clipped message.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse slack's {what}: {}; check that `api_base` is a Slack Web API \
                 root",
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default, deserialize_with = "nullable")]
    next_cursor: String,
}

#[derive(Deserialize)]
struct TeamsPage {
    #[serde(default, deserialize_with = "nullable")]
    teams: Vec<TeamItem>,
    #[serde(default, deserialize_with = "nullable")]
    response_metadata: Metadata,
}

#[derive(Deserialize)]
struct TeamItem {
    id: String,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    team_url: String,
}

#[derive(Deserialize)]
struct ResolutionsPage {
    #[serde(default, alias = "restricted_apps", alias = "app_requests")]
    approved_apps: Option<Vec<Resolution>>,
    #[serde(default, deserialize_with = "nullable")]
    response_metadata: Metadata,
}

#[derive(Deserialize)]
struct Resolution {
    /// Only on requests: `Ar…`.
    id: Option<String>,
    app: SlackApp,
    #[serde(default, deserialize_with = "nullable")]
    scopes: Vec<Scope>,
    date_updated: Option<i64>,
    date_created: Option<i64>,
    last_resolved_by: Option<Actor>,
    user: Option<Person>,
}

#[derive(Deserialize)]
struct SlackApp {
    id: String,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    is_app_directory_approved: Option<bool>,
    is_internal: Option<bool>,
    developer_type: Option<String>,
    app_homepage_url: Option<String>,
    app_directory_url: Option<String>,
}

#[derive(Deserialize)]
struct Scope {
    name: String,
    #[serde(default)]
    is_sensitive: bool,
    #[serde(default, deserialize_with = "nullable")]
    token_type: String,
}

#[derive(Deserialize)]
struct Actor {
    actor_id: Option<String>,
    actor_type: Option<String>,
}

#[derive(Deserialize)]
struct Person {
    id: Option<String>,
}

/// The next cursor page after `task`, if Slack gave a cursor.
fn next_cursor(task: &CursorTask, cursor: &str) -> Result<Option<CursorTask>, Error> {
    let cursor = cursor.trim();
    if cursor.is_empty() {
        return Ok(None);
    }
    let malformed = |why: &str| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "slack's next cursor for {} {why}; the listing is incomplete",
                task.listing.what()
            ),
        )
    };
    if cursor.len() > MAX_CURSOR || cursor.chars().any(char::is_control) {
        return Err(malformed("is unusable"));
    }
    if task.cursor.as_deref() == Some(cursor) {
        return Err(malformed("repeats the current one"));
    }
    let page = task.page.saturating_add(1);
    if page > MAX_PAGES {
        return Err(malformed("goes on past the page limit"));
    }
    Ok(Some(CursorTask {
        cursor: Some(cursor.to_owned()),
        page,
        ..task.clone()
    }))
}

/// Where a task's listing is, for messages.
fn place(settings: &Settings, team: Option<&TeamRef>) -> String {
    match team {
        Some(t) => format!("workspace {}", t.id),
        None => format!("org {}", settings.enterprise_id),
    }
}

/// Turns one cursor page into grants, log lines and follow-up tasks.
pub fn read_cursor_page(
    settings: &Settings,
    task: &CursorTask,
    resp: &Response,
) -> Result<Page, Error> {
    let what = format!(
        "{} of {} (page {})",
        task.listing.what(),
        place(settings, task.team.as_ref()),
        task.page
    );
    if let Err(f) = check(resp) {
        // A workspace deleted since `admin.teams.list` holds no grants.
        if task.team.is_some() && f.code.as_deref() == Some("team_not_found") {
            return Ok(Page {
                warnings: vec![format!(
                    "slack no longer knows {}: skipping its {}",
                    place(settings, task.team.as_ref()),
                    task.listing.what()
                )],
                ..Page::default()
            });
        }
        return Err(classify(
            &f,
            &format!("listing {what}"),
            task.listing.scope(),
        ));
    }
    let mut page = Page::default();
    let cursor = match task.listing {
        Listing::Teams => {
            let p: TeamsPage = decode(&what, &resp.body)?;
            for t in &p.teams {
                let id = t.id.trim();
                if !is_id(id) {
                    page.warnings.push(format!(
                        "slack listed a workspace with an unusable id `{}`; skipped",
                        clip(id, 40)
                    ));
                    continue;
                }
                let team = TeamRef {
                    id: id.to_owned(),
                    name: clip(&t.name, 100),
                    url: web_url(&t.team_url).unwrap_or_default(),
                };
                for listing in [Listing::Approved, Listing::Restricted, Listing::Requests] {
                    page.tasks.push(
                        CursorTask {
                            listing,
                            team: Some(team.clone()),
                            cursor: None,
                            page: 1,
                        }
                        .task(),
                    );
                }
                page.tasks.push(
                    LogTask {
                        team,
                        page: 1,
                        seen: 0,
                        state: BTreeMap::new(),
                    }
                    .task(),
                );
            }
            p.response_metadata.next_cursor
        }
        Listing::Approved | Listing::Restricted | Listing::Requests => {
            let p: ResolutionsPage = decode(&what, &resp.body)?;
            let items = p.approved_apps.unwrap_or_default();
            match (task.listing, &task.team) {
                (Listing::Approved, None) => {
                    for r in &items {
                        page.grants.push(org_approval(settings, r)?);
                    }
                }
                _ => {
                    if !items.is_empty() {
                        page.info.push(summary(settings, task, &items));
                    }
                }
            }
            p.response_metadata.next_cursor
        }
    };
    if let Some(next) = next_cursor(task, &cursor)? {
        page.tasks.push(next.task());
    }
    Ok(page)
}

/// One line on resolutions that are not grants.
fn summary(settings: &Settings, task: &CursorTask, items: &[Resolution]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(20)
        .map(|r| {
            let who = r
                .user
                .as_ref()
                .and_then(|u| u.id.as_deref())
                .map(|u| format!(", requested by {}", clip(u, 20)))
                .unwrap_or_default();
            let req =
                r.id.as_deref()
                    .map(|id| format!("{} ", clip(id, 20)))
                    .unwrap_or_default();
            format!(
                "{req}{} ({}{who})",
                clip(&r.app.id, 20),
                clip(&r.app.name, 60)
            )
        })
        .collect();
    let more = items.len().saturating_sub(20);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let why = match task.listing {
        Listing::Restricted => "restricted (not grants: a restriction blocks new installs only)",
        Listing::Requests => "pending requests (not grants until approved and installed)",
        _ => "approved in the workspace (not grants: installations come from the integration log)",
    };
    format!(
        "slack {} page {}: {} {why}: {}{tail}",
        place(settings, task.team.as_ref()),
        task.page,
        items.len(),
        shown.join(", ")
    )
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

/// An id from a response that must be usable (non-empty, letters and digits).
fn required_id(what: &str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    if is_id(v) {
        Ok(v.to_owned())
    } else {
        Err(Error::new(
            ErrorCode::Malformed,
            format!(
                "slack's {what} has an empty or unusable id `{}`",
                clip(v, 40)
            ),
        ))
    }
}

/// A web URL safe to show an operator.
fn web_url(url: &str) -> Option<String> {
    let url = url.trim();
    let ok = url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c));
    ok.then(|| url.to_owned())
}

fn handle_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// An app name, falling back to the id when Slack gives none.
fn app_name(name: &str, id: &str) -> String {
    let n = flat(name);
    if n.is_empty() {
        id.to_owned()
    } else {
        clip(&n, MAX_TEXT)
    }
}

/// The grant of an org-level approval (`org-approval:{app_id}`).
fn org_approval(settings: &Settings, r: &Resolution) -> Result<Grant, Error> {
    let app_id = required_id("approved app", &r.app.id)?;
    let name = app_name(&r.app.name, &app_id);
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut sensitive = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for s in &r.scopes {
        let n = s.name.trim();
        if n.is_empty() {
            continue;
        }
        scopes.insert(clip(n, MAX_TEXT));
        let t = match s.token_type.as_str() {
            "bot" => "bot",
            "user" => "user",
            "app" => "app",
            _ => "other",
        };
        by_type.entry(t).or_default().push(n);
        if s.is_sensitive {
            sensitive.insert(n);
        }
    }
    let mut app_attributes = Vec::new();
    if let Some(v) = r.app.is_app_directory_approved {
        app_attributes.push(attr("is_app_directory_approved", v.to_string()));
    }
    if let Some(v) = r.app.is_internal {
        app_attributes.push(attr("is_internal", v.to_string()));
    }
    if let Some(v) = r.app.developer_type.as_deref() {
        app_attributes.push(attr("developer_type", flat(v)));
    }
    if let Some(v) = r.app.app_homepage_url.as_deref().and_then(web_url) {
        app_attributes.push(attr("app_homepage_url", v));
    }
    if let Some(v) = r.app.app_directory_url.as_deref().and_then(web_url) {
        app_attributes.push(attr("app_directory_url", v));
    }
    let mut attributes = vec![
        attr("level", "enterprise"),
        attr("enterprise_id", &settings.enterprise_id),
        attr("resolution", "approved"),
    ];
    for t in ["bot", "user", "app", "other"] {
        if let Some(list) = by_type.get(t) {
            attributes.push(attr(&format!("{t}_scopes"), list.join(",")));
        }
    }
    if !sensitive.is_empty() {
        attributes.push(attr(
            "sensitive_scopes",
            sensitive.into_iter().collect::<Vec<_>>().join(","),
        ));
    }
    if let Some(a) = &r.last_resolved_by {
        if let Some(id) = a.actor_id.as_deref() {
            attributes.push(attr("last_resolved_by", flat(id)));
        }
        if let Some(t) = a.actor_type.as_deref() {
            attributes.push(attr("last_resolved_by_type", flat(t)));
        }
    }
    attributes.push(attr("usage_reported", "false"));
    let grant_id = format!("org-approval:{app_id}");
    Ok(Grant {
        id: grant_id.clone(),
        app: App {
            id: app_id.clone(),
            name,
            publisher: None,
            attributes: app_attributes,
        },
        principal: Principal {
            kind: PrincipalKind::Tenant,
            id: settings.enterprise_id.clone(),
            display: None,
        },
        kind: GrantKind::AdminConsent,
        scopes: scopes.into_iter().collect(),
        created_at: r
            .date_updated
            .or(r.date_created)
            .and_then(from_epoch_seconds),
        last_used_at: None,
        expires_at: None,
        revocation: Some(RevocationTarget {
            grant_id,
            action: Action::OrgApproval.name().to_owned(),
            handle: handle_json(&AppHandle {
                app_id: app_id.clone(),
                team_id: None,
            }),
        }),
        attributes,
        notes: vec![
            "An org-level approval lets every workspace of the organisation install the app \
             with these bot and user scopes; Slack lists which workspaces did in their \
             integration logs (the installation grants)."
                .to_owned(),
            "created_at is the time of the latest resolution of the app (date_updated); Slack \
             does not report when the app was last used."
                .to_owned(),
        ],
    })
}

// --- integration logs --------------------------------------------------------------

/// One live-history event of an app or service in a workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Epoch seconds.
    pub date: i64,
    /// Order in the listing (ties of `date` are broken by it).
    pub seq: u32,
    /// `added`, `updated`, `enabled` or `disabled`.
    pub change: String,
    /// The comma-separated scope string, when the entry had one.
    #[serde(default)]
    pub scope: String,
    /// Who made the change.
    #[serde(default)]
    pub user: String,
    /// `app_type` / `service_type`: the app's or service's name.
    #[serde(default)]
    pub name: String,
}

/// The replay of one app's or service's log in a workspace: the latest removal, and
/// the events since. Order-independent: pages may come newest or oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// `(date, seq)` of the latest `removed` entry.
    #[serde(default)]
    pub removed: Option<(i64, u32)>,
    /// Events after it.
    #[serde(default)]
    pub events: Vec<Event>,
}

impl Replay {
    fn add(&mut self, e: Event) {
        let at = (e.date, e.seq);
        if e.change == "removed" {
            if self.removed.is_none_or(|r| r < at) {
                self.removed = Some(at);
                self.events.retain(|x| (x.date, x.seq) > at);
            }
        } else if self.removed.is_none_or(|r| r < at) {
            self.events.push(e);
        }
    }

    /// The current installation, if any: (first event, latest event, latest scope,
    /// disabled).
    fn current(&self) -> Option<Current<'_>> {
        let mut ev: Vec<&Event> = self.events.iter().collect();
        ev.sort_by_key(|e| (e.date, e.seq));
        let first = *ev.first()?;
        let last = *ev.last()?;
        let scope = ev
            .iter()
            .rev()
            .find(|e| !e.scope.trim().is_empty())
            .map_or("", |e| e.scope.as_str());
        let disabled = ev
            .iter()
            .rev()
            .find_map(|e| match e.change.as_str() {
                "disabled" => Some(true),
                "enabled" | "added" => Some(false),
                _ => None,
            })
            .unwrap_or(false);
        let name = ev
            .iter()
            .rev()
            .find(|e| !e.name.trim().is_empty())
            .map_or("", |e| e.name.as_str());
        Some(Current {
            first,
            last,
            scope,
            name,
            disabled,
        })
    }
}

struct Current<'a> {
    first: &'a Event,
    last: &'a Event,
    scope: &'a str,
    name: &'a str,
    disabled: bool,
}

#[derive(Deserialize)]
struct LogsPage {
    #[serde(default, deserialize_with = "nullable")]
    logs: Vec<LogItem>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u32>,
    pages: Option<u32>,
}

/// `service_id` is a number in some entries and a string in others.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(u64),
    Str(String),
}

impl NumOrString {
    fn text(&self) -> String {
        match self {
            NumOrString::Num(n) => n.to_string(),
            NumOrString::Str(s) => s.trim().to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct LogItem {
    app_id: Option<NumOrString>,
    app_type: Option<String>,
    service_id: Option<NumOrString>,
    service_type: Option<String>,
    user_id: Option<String>,
    date: Option<NumOrString>,
    change_type: Option<String>,
    scope: Option<String>,
}

/// The replay key of a log item: `app:{id}` or `service:{id}`.
fn log_key(item: &LogItem) -> Option<String> {
    if let Some(id) = item
        .app_id
        .as_ref()
        .map(NumOrString::text)
        .filter(|s| is_id(s))
    {
        return Some(format!("app:{id}"));
    }
    item.service_id
        .as_ref()
        .map(NumOrString::text)
        .filter(|s| is_id(s))
        .map(|id| format!("service:{id}"))
}

const CHANGES: [&str; 5] = ["added", "removed", "enabled", "disabled", "updated"];

/// Folds one page of `team.integrationLogs` into the replay.
fn fold_logs(task: &mut LogTask, body: &[u8], what: &str) -> Result<(u32, u32, usize), Error> {
    let p: LogsPage = decode(what, body)?;
    let mut skipped = 0;
    for item in &p.logs {
        let seq = task.seen;
        task.seen = task.seen.saturating_add(1);
        let date = item
            .date
            .as_ref()
            .and_then(|d| d.text().parse::<i64>().ok());
        let change = item.change_type.as_deref().map(str::trim).unwrap_or("");
        let (Some(key), Some(date), true) = (log_key(item), date, CHANGES.contains(&change)) else {
            skipped += 1;
            continue;
        };
        let name = item
            .app_type
            .as_deref()
            .or(item.service_type.as_deref())
            .unwrap_or("");
        task.state.entry(key).or_default().add(Event {
            date,
            seq,
            change: change.to_owned(),
            scope: clip(item.scope.as_deref().unwrap_or(""), 2048),
            user: clip(item.user_id.as_deref().unwrap_or(""), 32),
            name: clip(&flat(name), 100),
        });
    }
    let paging = p.paging.unwrap_or(Paging {
        page: None,
        pages: None,
    });
    let page = paging.page.unwrap_or(task.page);
    let pages = paging.pages.unwrap_or(page);
    Ok((page, pages, skipped))
}

/// Sorted, de-duplicated scopes of a comma-separated scope string.
pub fn split_scopes(s: &str) -> Vec<String> {
    let set: BTreeSet<String> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| clip(x, MAX_TEXT))
        .collect();
    set.into_iter().collect()
}

/// Reads one page of a workspace's integration log. Until the last page it returns
/// the next page's task carrying the replay; on the last page, the grants.
pub fn read_logs_page(settings: &Settings, task: &LogTask, resp: &Response) -> Result<Page, Error> {
    let what = format!(
        "integration log of workspace {} (page {})",
        task.team.id, task.page
    );
    if let Err(f) = check(resp) {
        if f.code.as_deref() == Some("team_not_found") {
            return Ok(Page {
                warnings: vec![format!(
                    "slack no longer knows workspace {}: skipping its integration log",
                    task.team.id
                )],
                ..Page::default()
            });
        }
        return Err(classify(&f, &format!("reading the {what}"), "admin"));
    }
    let mut next = task.clone();
    let (page, pages, skipped) = fold_logs(&mut next, &resp.body, &what)?;
    let mut out = Page::default();
    if skipped > 0 {
        out.warnings.push(format!(
            "slack's {what} had {skipped} entries without an app or service id, a date or a \
             known change type; they are ignored"
        ));
    }
    if page < pages && task.page < MAX_PAGES {
        next.page = task.page + 1;
        let t = next.task();
        if t.payload.len() > MAX_PAYLOAD {
            return Err(Error::new(
                ErrorCode::Malformed,
                format!(
                    "the {what} holds more live history than one task can carry; report it to \
                     the connector's maintainers"
                ),
            ));
        }
        out.tasks.push(t);
        return Ok(out);
    }
    for (key, replay) in &next.state {
        if let Some(cur) = replay.current() {
            out.grants
                .push(installation(settings, &task.team, key, &cur)?);
        }
    }
    Ok(out)
}

fn installation(
    settings: &Settings,
    team: &TeamRef,
    key: &str,
    cur: &Current<'_>,
) -> Result<Grant, Error> {
    let (service, id) = match key.split_once(':') {
        Some(("app", id)) => (false, id),
        Some(("service", id)) => (true, id),
        _ => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("bad replay key `{}`", clip(key, 40)),
            ));
        }
    };
    let team_id = team.id.clone();
    let (grant_id, app_id, name) = if service {
        (
            format!("service:{team_id}:{id}"),
            format!("service-{id}"),
            app_name(cur.name, &format!("service-{id}")),
        )
    } else {
        (
            format!("installation:{team_id}:{id}"),
            id.to_owned(),
            app_name(cur.name, id),
        )
    };
    let mut attributes = vec![
        attr("team_id", &team_id),
        attr("enterprise_id", &settings.enterprise_id),
        attr("installed_by", &cur.first.user),
        attr("last_change", &cur.last.change),
        attr(
            "last_change_at",
            from_epoch_seconds(cur.last.date).unwrap_or_default(),
        ),
        attr("usage_reported", "false"),
    ];
    if service {
        attributes.push(attr("service_id", id));
        attributes.push(attr("disabled", cur.disabled.to_string()));
    }
    let mut notes = vec![
        "Reconstructed from the workspace's integration log (team.integrationLogs): Slack has \
         no list of installed apps. The scopes are the latest scope string the log records, bot \
         and user scopes together as Slack writes them."
            .to_owned(),
        "Slack does not report when an installation was last used, nor which members \
         authorised user scopes."
            .to_owned(),
    ];
    let revocation = if service {
        notes.push(
            "A legacy custom integration: no API removes it; a workspace admin removes it in \
             the workspace's app management page."
                .to_owned(),
        );
        if cur.disabled {
            notes.push(
                "The integration is disabled now, but stays configured and can be re-enabled."
                    .to_owned(),
            );
        }
        Some(RevocationTarget {
            grant_id: grant_id.clone(),
            action: Action::Service.name().to_owned(),
            handle: handle_json(&ServiceHandle {
                team_id: team_id.clone(),
                service_id: id.to_owned(),
                team_url: team.url.clone(),
            }),
        })
    } else {
        Some(RevocationTarget {
            grant_id: grant_id.clone(),
            action: Action::Installation.name().to_owned(),
            handle: handle_json(&AppHandle {
                app_id: id.to_owned(),
                team_id: Some(team_id.clone()),
            }),
        })
    };
    Ok(Grant {
        id: grant_id,
        app: App {
            id: app_id,
            name,
            publisher: None,
            attributes: Vec::new(),
        },
        principal: Principal {
            kind: PrincipalKind::Tenant,
            id: team_id,
            display: (!team.name.is_empty()).then(|| team.name.clone()),
        },
        kind: GrantKind::Installation,
        scopes: split_scopes(cur.scope),
        created_at: from_epoch_seconds(cur.first.date),
        last_used_at: None,
        expires_at: None,
        revocation,
        attributes,
        notes,
    })
}

// ---------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------

/// A revocation action, as named in a [`RevocationTarget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Installation,
    OrgApproval,
    Service,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Installation => "installation",
            Action::OrgApproval => "org-approval",
            Action::Service => "service",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppHandle {
    app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceHandle {
    team_id: String,
    service_id: String,
    #[serde(default)]
    team_url: String,
}

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An app installed in one workspace.
    Installation {
        /// `A…`.
        app_id: String,
        /// `T…`.
        team_id: String,
    },
    /// An app approved at org level.
    OrgApproval {
        /// `A…`.
        app_id: String,
    },
    /// A legacy custom integration (no API removes it).
    Service {
        /// `T…`.
        team_id: String,
        /// The service id.
        service_id: String,
        /// The workspace's web address, when known.
        team_url: String,
    },
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let bad = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            "installation" | "org-approval" => {
                let h: AppHandle = serde_json::from_str(&target.handle).map_err(bad)?;
                if !is_id(&h.app_id) || h.team_id.as_deref().is_some_and(|t| !is_id(t)) {
                    return Err(invalid("has an unusable id in its handle".to_owned()));
                }
                match (target.action.as_str(), h.team_id) {
                    ("installation", Some(team_id)) => Target::Installation {
                        app_id: h.app_id,
                        team_id,
                    },
                    ("org-approval", None) => Target::OrgApproval { app_id: h.app_id },
                    _ => return Err(invalid("has a handle for another action".to_owned())),
                }
            }
            "service" => {
                let h: ServiceHandle = serde_json::from_str(&target.handle).map_err(bad)?;
                if !is_id(&h.team_id) || !is_id(&h.service_id) {
                    return Err(invalid("has an unusable id in its handle".to_owned()));
                }
                Target::Service {
                    team_id: h.team_id,
                    service_id: h.service_id,
                    team_url: web_url(&h.team_url).unwrap_or_default(),
                }
            }
            _ => {
                return Err(invalid(
                    "has an unknown action: this connector revokes `installation`, \
                     `org-approval` and `service`"
                        .to_owned(),
                ));
            }
        };
        // The host may pass the qualified id (`slack/{tenant}/{id}`).
        let local = target.grant_id.rsplit('/').next().unwrap_or_default();
        if local != parsed.grant_id() {
            return Err(invalid(format!(
                "does not match its handle, which is for `{}`",
                parsed.grant_id()
            )));
        }
        Ok(parsed)
    }

    /// The local grant id.
    pub fn grant_id(&self) -> String {
        match self {
            Target::Installation { app_id, team_id } => format!("installation:{team_id}:{app_id}"),
            Target::OrgApproval { app_id } => format!("org-approval:{app_id}"),
            Target::Service {
                team_id,
                service_id,
                ..
            } => format!("service:{team_id}:{service_id}"),
        }
    }

    fn app_id(&self) -> &str {
        match self {
            Target::Installation { app_id, .. } | Target::OrgApproval { app_id } => app_id,
            Target::Service { .. } => "",
        }
    }
}

/// What `revoke` must do.
#[derive(Clone, Debug)]
pub enum RevocationPlan {
    /// Uninstall, then restrict, then [`Uninstall::finish`].
    Calls(Uninstall),
    /// No API can do it; this is the answer.
    Manual(Revocation),
}

/// The two calls of an app revocation.
#[derive(Clone, Debug)]
pub struct Uninstall {
    target: Target,
    settings: Settings,
}

/// A POST to the Web API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// Absolute URL.
    pub url: String,
    /// Form body.
    pub body: Vec<u8>,
}

/// Plans the revocation of one target.
pub fn plan_revocation(
    settings: &Settings,
    target: &RevocationTarget,
) -> Result<RevocationPlan, Error> {
    let target = Target::parse(target)?;
    if let Target::Service {
        team_id,
        service_id,
        team_url,
    } = &target
    {
        let page = if team_url.is_empty() {
            "the workspace's Manage apps > Custom Integrations page".to_owned()
        } else {
            format!("{}apps/manage/custom-integrations", ensure_slash(team_url))
        };
        return Ok(RevocationPlan::Manual(Revocation {
            status: RevocationStatus::ManualRequired,
            detail: format!(
                "Slack offers no API to remove legacy custom integration {service_id} from \
                 workspace {team_id}."
            ),
            manual_steps: vec![format!(
                "A workspace admin of {team_id} must remove integration {service_id} at {page}."
            )],
        }));
    }
    Ok(RevocationPlan::Calls(Uninstall {
        target,
        settings: settings.clone(),
    }))
}

fn ensure_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// How the uninstall call ended, as `finish` needs it.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Slack removed it.
    Removed,
    /// Nothing of the app was there (`app_not_found`).
    AlreadyGone,
    /// A definite refusal (permission, configuration, cannot uninstall): nothing
    /// changed, do not restrict.
    Refused(Error),
    /// The answer is unknown or a provider failure: the call may have acted.
    Ambiguous(Error),
}

impl Uninstall {
    /// `admin.apps.uninstall`: `team_ids` for an installation, `enterprise_id` for
    /// an org-level approval.
    pub fn uninstall(&self) -> Post {
        let app = self.target.app_id();
        let body = match &self.target {
            Target::Installation { team_id, .. } => form(&[("app_id", app), ("team_ids", team_id)]),
            _ => form(&[
                ("app_id", app),
                ("enterprise_id", &self.settings.enterprise_id),
            ]),
        };
        Post {
            url: self.settings.url("admin.apps.uninstall", &[]),
            body,
        }
    }

    /// `admin.apps.restrict` at org level, so the app cannot be installed again.
    pub fn restrict(&self) -> Post {
        Post {
            url: self.settings.url("admin.apps.restrict", &[]),
            body: form(&[
                ("app_id", self.target.app_id()),
                ("enterprise_id", &self.settings.enterprise_id),
            ]),
        }
    }

    /// Reads the uninstall answer (`Err` from the egress counts as ambiguous).
    pub fn uninstall_outcome(&self, resp: Result<&Response, Error>) -> Outcome {
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Outcome::Ambiguous(e),
        };
        let what = format!("uninstalling {}", self.describe());
        match check(resp) {
            Ok(()) => Outcome::Removed,
            Err(f) if f.code.as_deref() == Some("app_not_found") => Outcome::AlreadyGone,
            Err(f) if f.code.as_deref() == Some("must_revoke_access") => {
                Outcome::Refused(Error::new(
                    ErrorCode::Unsupported,
                    format!(
                        "slack cannot uninstall app {} from one workspace because it is deployed \
                         to the whole org (`must_revoke_access`): revoke its org-level grant \
                         `org-approval:{}`, which uninstalls it from every workspace",
                        self.target.app_id(),
                        self.target.app_id()
                    ),
                ))
            }
            Err(f) if f.code.as_deref() == Some("can_not_uninstall") => {
                Outcome::Refused(Error::new(
                    ErrorCode::Unsupported,
                    format!(
                        "slack refused {what} (`can_not_uninstall`): admin apps using SCIM, app \
                         management or other org features cannot be uninstalled through the \
                         API; contact Slack support"
                    ),
                ))
            }
            Err(f) => {
                let e = classify(&f, &what, "admin.apps:write");
                match e.code {
                    ErrorCode::Provider | ErrorCode::Malformed | ErrorCode::RateLimited => {
                        Outcome::Ambiguous(e)
                    }
                    _ => Outcome::Refused(e),
                }
            }
        }
    }

    /// Whether to send the restriction after this uninstall outcome: always, unless
    /// Slack definitely refused (the restriction would be refused the same way).
    pub fn should_restrict(outcome: &Outcome) -> bool {
        !matches!(outcome, Outcome::Refused(_))
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Installation { app_id, team_id } => {
                format!("app {app_id} from workspace {team_id}")
            }
            _ => format!(
                "app {} from org {}",
                self.target.app_id(),
                self.settings.enterprise_id
            ),
        }
    }

    /// Combines the two answers. `restrict` is `None` when it was not sent.
    pub fn finish(
        &self,
        outcome: Outcome,
        restrict: Option<Result<&Response, Error>>,
    ) -> Result<Revocation, Error> {
        let app = self.target.app_id();
        let org = &self.settings.enterprise_id;
        let restricted: Option<Result<(), Error>> = restrict.map(|r| match r {
            Err(e) => Err(e),
            Ok(resp) => check(resp).map_err(|f| {
                classify(
                    &f,
                    &format!("restricting app {app} in org {org}"),
                    "admin.apps:write",
                )
            }),
        });
        let status = match outcome {
            Outcome::Refused(e) | Outcome::Ambiguous(e) => {
                let note = match &restricted {
                    Some(Ok(())) => format!(" (the app is now restricted org-wide in {org})"),
                    _ => String::new(),
                };
                return Err(Error::new(e.code, format!("{}{note}", e.message)));
            }
            Outcome::Removed => RevocationStatus::Revoked,
            Outcome::AlreadyGone => RevocationStatus::AlreadyGone,
        };
        let mut manual_steps = Vec::new();
        match restricted {
            Some(Ok(())) | None => manual_steps.push(format!(
                "App {app} is restricted org-wide in {org}, so it cannot be installed again; \
                 the restriction also voids its workspace approvals. Clear it with \
                 admin.apps.clearResolution to allow the app again."
            )),
            Some(Err(e)) => {
                // An org-level approval is only gone once the restriction replaces it.
                if matches!(self.target, Target::OrgApproval { .. }) {
                    return Err(Error::new(
                        e.code,
                        format!(
                            "uninstalled app {app} from org {org}, but restricting it failed, so \
                             its org-level approval remains: {}",
                            e.message
                        ),
                    ));
                }
                manual_steps.push(format!(
                    "Restricting app {app} org-wide failed ({}); until an admin restricts it, \
                     members can install it again.",
                    e.message
                ));
            }
        }
        let detail = match (&self.target, status) {
            (Target::Installation { team_id, .. }, RevocationStatus::Revoked) => {
                manual_steps.push(format!(
                    "Installations of app {app} in other workspaces stay until revoked; \
                     restricting alone does not remove them."
                ));
                format!("Uninstalled app {app} from workspace {team_id}.")
            }
            (Target::Installation { team_id, .. }, _) => {
                format!("App {app} was already gone from workspace {team_id}.")
            }
            (_, RevocationStatus::Revoked) => {
                format!("Uninstalled app {app} from every workspace of org {org}.")
            }
            _ => format!("App {app} was already uninstalled from org {org}."),
        };
        manual_steps.push(
            "Uninstalling revokes the app's bot and user tokens in those workspaces; data the \
             app already copied stays with its vendor."
                .to_owned(),
        );
        Ok(Revocation {
            status,
            detail,
            manual_steps,
        })
    }
}

// ---------------------------------------------------------------------------------
// Probe
// ---------------------------------------------------------------------------------

/// A re-read of one revocation target.
#[derive(Clone, Debug)]
pub struct Probe {
    target: Target,
    settings: Settings,
}

/// What one probed page says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeStep {
    /// Decided.
    Done(TargetState),
    /// Read this URL next.
    Next(String),
}

#[derive(Deserialize)]
struct IdsPage {
    #[serde(default)]
    approved_apps: Option<Vec<IdOnly>>,
    #[serde(default, deserialize_with = "nullable")]
    response_metadata: Metadata,
}

#[derive(Deserialize)]
struct IdOnly {
    app: AppId,
}

#[derive(Deserialize)]
struct AppId {
    id: String,
}

impl Probe {
    /// Plans the re-read.
    pub fn new(settings: &Settings, target: &RevocationTarget) -> Result<Self, Error> {
        Ok(Probe {
            target: Target::parse(target)?,
            settings: settings.clone(),
        })
    }

    fn log_url(&self, page: u32) -> String {
        let count = LOG_COUNT.to_string();
        let page = page.to_string();
        match &self.target {
            Target::Installation { app_id, team_id } => self.settings.url(
                "team.integrationLogs",
                &[
                    ("team_id", team_id),
                    ("app_id", app_id),
                    ("count", &count),
                    ("page", &page),
                ],
            ),
            Target::Service {
                team_id,
                service_id,
                ..
            } => self.settings.url(
                "team.integrationLogs",
                &[
                    ("team_id", team_id),
                    ("service_id", service_id),
                    ("count", &count),
                    ("page", &page),
                ],
            ),
            Target::OrgApproval { .. } => String::new(),
        }
    }

    fn approved_url(&self, cursor: Option<&str>) -> String {
        let limit = LIMIT.to_string();
        let mut q = vec![
            ("enterprise_id", self.settings.enterprise_id.as_str()),
            ("limit", limit.as_str()),
        ];
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        self.settings.url("admin.apps.approved.list", &q)
    }

    /// The first page to read.
    pub fn first_url(&self) -> String {
        match self.target {
            Target::OrgApproval { .. } => self.approved_url(None),
            _ => self.log_url(1),
        }
    }

    /// Starts the replay a probe of an installation or service accumulates.
    pub fn start(&self) -> LogTask {
        let team_id = match &self.target {
            Target::Installation { team_id, .. } | Target::Service { team_id, .. } => {
                team_id.clone()
            }
            Target::OrgApproval { .. } => String::new(),
        };
        LogTask {
            team: TeamRef {
                id: team_id,
                ..TeamRef::default()
            },
            page: 1,
            seen: 0,
            state: BTreeMap::new(),
        }
    }

    /// Reads one page: `replay` carries the integration-log replay across pages.
    pub fn read(
        &self,
        replay: &mut LogTask,
        page: u32,
        resp: &Response,
    ) -> Result<ProbeStep, Error> {
        let what = format!("re-reading {}", self.target.grant_id());
        if let Err(f) = check(resp) {
            if f.code.as_deref() == Some("team_not_found") {
                return Ok(ProbeStep::Done(TargetState::Gone));
            }
            let scope = match self.target {
                Target::OrgApproval { .. } => "admin.apps:read",
                _ => "admin",
            };
            return Err(classify(&f, &what, scope));
        }
        match &self.target {
            Target::OrgApproval { app_id } => {
                let p: IdsPage = decode("approved app list", &resp.body)?;
                if p.approved_apps
                    .unwrap_or_default()
                    .iter()
                    .any(|a| a.app.id.trim() == app_id)
                {
                    return Ok(ProbeStep::Done(TargetState::Present));
                }
                let c = p.response_metadata.next_cursor;
                let c = c.trim();
                if c.is_empty() || page >= MAX_PAGES {
                    Ok(ProbeStep::Done(TargetState::Gone))
                } else {
                    Ok(ProbeStep::Next(self.approved_url(Some(c))))
                }
            }
            Target::Installation { app_id, .. } => {
                let (p, pages, _) = fold_logs(replay, &resp.body, "integration log")?;
                if p < pages && page < MAX_PAGES {
                    return Ok(ProbeStep::Next(self.log_url(page + 1)));
                }
                let key = format!("app:{app_id}");
                Ok(ProbeStep::Done(state_of(replay, &key)))
            }
            Target::Service { service_id, .. } => {
                let (p, pages, _) = fold_logs(replay, &resp.body, "integration log")?;
                if p < pages && page < MAX_PAGES {
                    return Ok(ProbeStep::Next(self.log_url(page + 1)));
                }
                let key = format!("service:{service_id}");
                Ok(ProbeStep::Done(state_of(replay, &key)))
            }
        }
    }
}

fn state_of(replay: &LogTask, key: &str) -> TargetState {
    match replay.state.get(key).and_then(Replay::current) {
        Some(_) => TargetState::Present,
        None => TargetState::Gone,
    }
}

// ---------------------------------------------------------------------------------
