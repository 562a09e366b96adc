//! Google Workspace provider logic, free of I/O.
//!
//! Everything the connector knows about Google Workspace lives here as pure functions:
//! the settings it accepts, the URLs it builds, how a response becomes grants and
//! follow-up tasks, how a failed response becomes an error, and how a revocation call's
//! answer becomes a [`Revocation`]. The WIT glue in `lib.rs` only moves bytes between
//! these functions and the host's egress, so every decision here is unit-tested natively
//! against the documented payloads in `testdata/providers/google-workspace/examples/`.
//!
//! The mapping from Google objects to grants is the contract in the crate's `README.md`;
//! the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings copied
//! into grants are clipped, and identifiers are checked before they go into a URL.

use std::collections::BTreeMap;

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

/// The connector's version, as declared in its manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The API root used when the tenant sets no `api_base`.
pub const DEFAULT_API_BASE: &str = "https://admin.googleapis.com";

/// The customer used when the tenant sets no `customer`: the calling admin's own.
pub const DEFAULT_CUSTOMER: &str = "my_customer";

/// `users.list` page size: Google's maximum, so the user walk needs the fewest calls.
pub const USERS_PAGE: u32 = 500;

/// `activities.list` page size: Google's maximum.
pub const EVENTS_PAGE: u32 = 1000;

/// Most `users.list` pages (five million users); only stops a `nextPageToken` that
/// never ends.
pub const MAX_USER_PAGES: u32 = 10_000;

/// Most audit-log pages read for one user. Past it the grants are reported with what
/// was found, newest first, and say so.
pub const MAX_EVENT_PAGES: u32 = 100;

/// How long Google keeps token audit events, in days (API.md §4).
pub const REPORTS_WINDOW_DAYS: u32 = 180;

/// Follow-up task payloads above this size are run within the current call instead
/// (the host caps a payload at 64 KiB).
pub const MAX_PAYLOAD: usize = 48 * 1024;

/// The scope that lists users.
pub const SCOPE_USER_READONLY: &str =
    "https://www.googleapis.com/auth/admin.directory.user.readonly";
/// The scope that lists, reads and deletes tokens and app-specific passwords. Google
/// has no read-only scope for them.
pub const SCOPE_USER_SECURITY: &str =
    "https://www.googleapis.com/auth/admin.directory.user.security";
/// The scope that reads the token audit log.
pub const SCOPE_AUDIT: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";

/// Google first-party clients the documentation names; reported as such, never hidden.
const GOOGLE_CLIENTS: &[&str] = &["292824132082.apps.googleusercontent.com"];

/// The app id and name every app-specific password is reported under.
pub const ASP_APP_ID: &str = "app-specific-password";
const ASP_APP_NAME: &str = "App-specific password";

/// Provider strings copied into grants are clipped to this many characters.
const MAX_TEXT: usize = 256;
/// Longest identifier accepted from a response (ids, emails, client ids).
const MAX_ID: usize = 256;
/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

// ---------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------

/// What the connector is and needs. Depends on no input.
pub fn manifest() -> Manifest {
    let permission = |name: &str, reason: &str| Permission {
        name: name.to_owned(),
        reason: reason.to_owned(),
        revoke_only: false,
    };
    let setting = |name: &str, description: String, required: bool| Setting {
        name: name.to_owned(),
        description,
        required,
    };
    Manifest {
        id: "google-workspace".to_owned(),
        name: "Google Workspace domains".to_owned(),
        version: VERSION.to_owned(),
        provider: "google-workspace".to_owned(),
        hosts: vec![
            "admin.googleapis.com".to_owned(),
            "oauth2.googleapis.com".to_owned(),
        ],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["jwt-bearer".to_owned()],
        permissions: vec![
            permission(
                SCOPE_USER_READONLY,
                "list the customer's users (users.list), delegated to the service account \
                 and used as a super admin (JWT `sub`)",
            ),
            permission(
                SCOPE_USER_SECURITY,
                "list each user's OAuth tokens and app-specific passwords; Google has no \
                 read-only scope for them, so the same scope also deletes them when revoking",
            ),
            permission(
                SCOPE_AUDIT,
                "read the token audit log (Reports API, applicationName=token) for when a \
                 grant was authorised and last used",
            ),
        ],
        settings: vec![
            setting(
                "customer",
                format!(
                    "customer id such as `C03az79cb`, default `{DEFAULT_CUSTOMER}` (the \
                     impersonated admin's customer)"
                ),
                false,
            ),
            setting(
                "domain",
                "scan only the users of this domain (e.g. `example.com`); leave it out to scan \
                 every domain of the customer"
                    .to_owned(),
                false,
            ),
            setting(
                "api_base",
                format!(
                    "Admin SDK root, default `{DEFAULT_API_BASE}`; the host reaches only the hosts \
                     this manifest declares (or a simulator on loopback)"
                ),
                false,
            ),
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// How long Google's token lists may still show a token after `tokens.delete` returned:
/// the Admin SDK is eventually consistent across its replicas, and a minute covers what
/// its documentation calls a short delay.
pub const CONSISTENCY_WINDOW_MS: u32 = 60_000;

/// The Admin SDK's documented quota (API.md §6): 2,400 queries a minute per user per
/// project for the Directory API, which `tokens.list` and `tokens.delete` count against.
/// The per-customer concurrency limit (429 `rateLimitExceeded`) has no published number:
/// the host meets it with the scan's concurrency and `Retry-After`.
pub fn quotas() -> Vec<Quota> {
    vec![Quota::new(
        "directory",
        2_400,
        60,
        &["/admin/directory/v1/**"],
        "developers.google.com: Admin SDK Directory API, Limits and quotas",
    )]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    tenant: String,
    customer: String,
    domain: Option<String>,
    api_base: String,
}

impl Settings {
    /// Reads and validates `customer`, `domain` and `api_base` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        Self::new(
            &ctx.tenant,
            ctx.setting("customer"),
            ctx.setting("domain"),
            ctx.setting("api_base"),
        )
    }

    /// Validates the settings (blank means the default). `tenant` names the tenant in
    /// messages.
    pub fn new(
        tenant: &str,
        customer: Option<&str>,
        domain: Option<&str>,
        api_base: Option<&str>,
    ) -> Result<Self, Error> {
        let config = |message: String| Error::new(ErrorCode::Config, message);
        let customer = blank(customer).unwrap_or(DEFAULT_CUSTOMER);
        if customer.len() > 64
            || !customer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(config(format!(
                "tenant `{tenant}`: setting `customer` = `{}` is not a customer id: use \
                 `{DEFAULT_CUSTOMER}` or the id from the Admin console (Account → Account settings)",
                clip(customer, 80)
            )));
        }
        let domain = blank(domain).map(str::to_ascii_lowercase);
        if let Some(d) = &domain
            && (d.len() > 253
                || d.starts_with(['.', '-'])
                || !d.contains('.')
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err(config(format!(
                "tenant `{tenant}`: setting `domain` = `{}` is not a domain name: use e.g. \
                 `example.com`, or leave it out to scan the whole customer",
                clip(d, 80)
            )));
        }
        let raw = blank(api_base);
        let base = raw.unwrap_or(DEFAULT_API_BASE).trim_end_matches('/');
        let usable = origin(base).is_some()
            && !base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
        if !usable {
            let shown = match raw.unwrap_or_default() {
                v if v.contains('@') => "(redacted: it contains `@`)".to_owned(),
                v => format!("`{}`", clip(v, 80)),
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `api_base` = {shown} is not an http:// or https:// \
                 URL with a host and no credentials, query or fragment: use e.g. \
                 `{DEFAULT_API_BASE}`"
            )));
        }
        Ok(Settings {
            tenant: tenant.to_owned(),
            customer: customer.to_owned(),
            domain,
            api_base: base.to_owned(),
        })
    }

    /// The API root, without a trailing slash.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    fn directory(&self, rest: &str) -> String {
        format!("{}/admin/directory/v1/{rest}", self.api_base)
    }

    fn user_url(&self, user_key: &str, rest: &str) -> String {
        self.directory(&format!("users/{}/{rest}", http::encode(user_key)))
    }

    /// `users.list`, one page.
    pub fn users_url(&self, page_token: Option<&str>) -> String {
        let scope = match &self.domain {
            Some(d) => format!("domain={}", http::encode(d)),
            None => format!("customer={}", http::encode(&self.customer)),
        };
        let mut url = self.directory(&format!(
            "users?{scope}&maxResults={USERS_PAGE}&projection=basic"
        ));
        if let Some(t) = page_token {
            url.push_str(&format!("&pageToken={}", http::encode(t)));
        }
        url
    }

    /// `tokens.list` of one user.
    pub fn tokens_url(&self, user_key: &str) -> String {
        self.user_url(user_key, "tokens")
    }

    /// `tokens.get` / `tokens.delete` of one grant.
    pub fn token_url(&self, user_key: &str, client_id: &str) -> String {
        self.user_url(user_key, &format!("tokens/{}", http::encode(client_id)))
    }

    /// `asps.list` of one user.
    pub fn asps_url(&self, user_key: &str) -> String {
        self.user_url(user_key, "asps")
    }

    /// `asps.get` / `asps.delete` of one password.
    pub fn asp_url(&self, user_key: &str, code_id: i64) -> String {
        self.user_url(user_key, &format!("asps/{code_id}"))
    }

    /// The token audit log of one user, one page, newest first. No `startTime`: the
    /// default is the whole retention window, and the connector's clock is not Google's.
    pub fn events_url(&self, user_key: &str, page_token: Option<&str>) -> String {
        let mut url = format!(
            "{}/admin/reports/v1/activity/users/{}/applications/token?maxResults={EVENTS_PAGE}",
            self.api_base,
            http::encode(user_key)
        );
        if let Some(t) = page_token {
            url.push_str(&format!("&pageToken={}", http::encode(t)));
        }
        url
    }
}

/// A setting's value, `None` when absent or blank.
fn blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------

/// A user as the per-user tasks need them: the immutable id for URLs, the email as the
/// principal, and the facts that make a grant riskier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// Numeric user id (`userKey`).
    pub id: String,
    /// Primary email: the grant's principal.
    pub email: String,
    /// Full name, when Google gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Super admin.
    #[serde(default)]
    pub admin: bool,
    /// Delegated admin.
    #[serde(default)]
    pub delegated_admin: bool,
    /// Suspended (grants persist).
    #[serde(default)]
    pub suspended: bool,
    /// Archived.
    #[serde(default)]
    pub archived: bool,
    /// Organisational unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit: Option<String>,
}

/// A token as carried from `tokens.list` to the audit-log lookup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// OAuth client id.
    pub client_id: String,
    /// Consent-screen name.
    pub name: String,
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    /// Installed / mobile / desktop client.
    #[serde(default)]
    pub native_app: bool,
    /// Client not registered with Google.
    #[serde(default)]
    pub anonymous: bool,
}

/// One page of `users.list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersTask {
    /// `pageToken`, none on the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// 1-based page number, so a `nextPageToken` that never ends is caught.
    #[serde(default = "first_page")]
    pub page: u32,
}

/// One page of a user's token audit log, with what earlier pages found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsTask {
    /// Whose log.
    pub user: UserRef,
    /// The user's current tokens.
    pub tokens: Vec<TokenRef>,
    /// `pageToken`, none on the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// 1-based page number.
    #[serde(default = "first_page")]
    pub page: u32,
    /// Client id → latest `authorize` time (RFC 3339 UTC) found so far.
    #[serde(default)]
    pub authorized: BTreeMap<String, String>,
    /// Client id → latest `activity` time found so far.
    #[serde(default)]
    pub used: BTreeMap<String, String>,
}

fn first_page() -> u32 {
    1
}

impl Default for UsersTask {
    /// The first page.
    fn default() -> Self {
        UsersTask {
            page_token: None,
            page: 1,
        }
    }
}

/// Task kinds.
const USERS: &str = "users";
const TOKENS: &str = "tokens";
const ASPS: &str = "asps";
const EVENTS: &str = "token-events";

/// A decoded task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// A page of users.
    Users(UsersTask),
    /// One user's OAuth tokens.
    Tokens(UserRef),
    /// One user's app-specific passwords.
    Asps(UserRef),
    /// One page of one user's token audit log.
    Events(EventsTask),
}

impl Work {
    /// The task that runs this work.
    pub fn task(&self) -> Task {
        match self {
            Work::Users(t) => Task::json(USERS, t),
            Work::Tokens(u) => Task::json(TOKENS, u),
            Work::Asps(u) => Task::json(ASPS, u),
            Work::Events(t) => Task::json(EVENTS, t),
        }
    }

    /// The one GET this work needs.
    pub fn url(&self, settings: &Settings) -> String {
        match self {
            Work::Users(t) => settings.users_url(t.page_token.as_deref()),
            Work::Tokens(u) => settings.tokens_url(&u.id),
            Work::Asps(u) => settings.asps_url(&u.id),
            Work::Events(t) => settings.events_url(&t.user.id, t.page_token.as_deref()),
        }
    }
}

/// The first task of a scan: the first page of users.
pub fn start_tasks() -> Vec<Task> {
    vec![Work::Users(UsersTask::default()).task()]
}

/// Decodes and checks a task. Tasks round-trip through the host, so their payload is
/// re-validated rather than trusted: ids must be usable in a URL.
pub fn decode_task(task: &Task) -> Result<Work, Error> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidInput, message);
    let work = match task.kind.as_str() {
        USERS => Work::Users(task.decode()?),
        TOKENS => Work::Tokens(task.decode()?),
        ASPS => Work::Asps(task.decode()?),
        EVENTS => Work::Events(task.decode()?),
        other => {
            return Err(invalid(format!(
                "unknown task kind `{}`: this connector runs `{USERS}`, `{TOKENS}`, `{ASPS}` \
                 and `{EVENTS}`",
                clip(other, 64)
            )));
        }
    };
    let (page, limit) = match &work {
        Work::Users(t) => (t.page, MAX_USER_PAGES),
        Work::Events(t) => (t.page, MAX_EVENT_PAGES),
        Work::Tokens(_) | Work::Asps(_) => (1, 1),
    };
    if page == 0 || page > limit {
        return Err(invalid(format!(
            "task `{}` has page number {page}, outside 1–{limit}",
            task.kind
        )));
    }
    let user = match &work {
        Work::Tokens(u) | Work::Asps(u) => Some(u),
        Work::Events(t) => Some(&t.user),
        Work::Users(_) => None,
    };
    if let Some(u) = user
        && (checked_id(&u.id).is_none() || checked_id(&u.email).is_none())
    {
        return Err(invalid(format!(
            "task `{}` names no usable user: start a new scan",
            task.kind
        )));
    }
    Ok(work)
}

// ---------------------------------------------------------------------------------
// Responses → grants and tasks
// ---------------------------------------------------------------------------------

/// What one call produced.
#[derive(Clone, Debug, Default)]
pub struct Out {
    /// Grants found.
    pub grants: Vec<Grant>,
    /// Follow-up tasks for the host.
    pub tasks: Vec<Task>,
    /// Follow-up work too large for a task payload: the glue runs it in this call.
    pub inline: Option<Work>,
    /// Lines for the operator (logged at `warn` by the glue).
    pub warnings: Vec<String>,
}

impl Out {
    /// Queues `work` as a task, or inline when its payload is too large for one.
    fn follow(&mut self, work: Work) {
        let task = work.task();
        if task.payload.len() > MAX_PAYLOAD {
            self.inline = Some(work);
        } else {
            self.tasks.push(task);
        }
    }
}

/// Turns the answer to `work`'s GET into grants and follow-up work.
pub fn read(settings: &Settings, work: &Work, resp: &Response) -> Result<Out, Error> {
    match work {
        Work::Users(t) => read_users(settings, t, resp),
        Work::Tokens(u) => read_tokens(settings, u, resp),
        Work::Asps(u) => read_asps(settings, u, resp),
        Work::Events(t) => read_events(settings, t, resp),
    }
}

/// Deserialises `null` as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Decodes a response body with a clipped message: serde quotes the offending value.
fn decode<T: DeserializeOwned>(settings: &Settings, what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse google's {what} in `{}`: {}; if this persists, check that \
                 `api_base` is the Admin SDK root",
                settings.tenant,
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

/// An identifier from a response: trimmed, not blank, bounded, no control characters.
fn checked_id(value: &str) -> Option<&str> {
    let v = value.trim();
    (!v.is_empty() && v.len() <= MAX_ID && !v.chars().any(char::is_control)).then_some(v)
}

fn required<'a>(
    settings: &Settings,
    what: &str,
    field: &str,
    value: Option<&'a str>,
) -> Result<&'a str, Error> {
    value.and_then(checked_id).ok_or_else(|| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "google's {what} in `{}` has a missing, empty or oversized `{field}`",
                settings.tenant
            ),
        )
    })
}

// --- users -----------------------------------------------------------------------

#[derive(Deserialize)]
struct UserList {
    #[serde(default, deserialize_with = "nullable")]
    users: Vec<DirectoryUser>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryUser {
    id: Option<String>,
    primary_email: Option<String>,
    name: Option<UserName>,
    #[serde(default, deserialize_with = "nullable")]
    is_admin: bool,
    #[serde(default, deserialize_with = "nullable")]
    is_delegated_admin: bool,
    #[serde(default, deserialize_with = "nullable")]
    suspended: bool,
    #[serde(default, deserialize_with = "nullable")]
    archived: bool,
    org_unit_path: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserName {
    full_name: Option<String>,
}

fn read_users(settings: &Settings, task: &UsersTask, resp: &Response) -> Result<Out, Error> {
    if resp.status != 200 {
        return Err(classify(settings, Operation::ListUsers, resp));
    }
    let list: UserList = decode(settings, "user list", &resp.body)?;
    let mut out = Out::default();
    for u in &list.users {
        let id = required(settings, "user list", "id", u.id.as_deref())?;
        let email = required(
            settings,
            "user list",
            "primaryEmail",
            u.primary_email.as_deref(),
        )?;
        let user = UserRef {
            id: id.to_owned(),
            email: email.to_owned(),
            name: u
                .name
                .as_ref()
                .and_then(|n| n.full_name.as_deref())
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| clip(n, MAX_TEXT)),
            admin: u.is_admin,
            delegated_admin: u.is_delegated_admin,
            suspended: u.suspended,
            archived: u.archived,
            org_unit: u.org_unit_path.as_deref().map(|o| clip(o, MAX_TEXT)),
        };
        out.tasks.push(Work::Tokens(user.clone()).task());
        out.tasks.push(Work::Asps(user).task());
    }
    if let Some(next) = list.next_page_token.as_deref().filter(|t| !t.is_empty()) {
        let malformed = |why: &str| {
            Error::new(
                ErrorCode::Malformed,
                format!(
                    "google's user list in `{}` {why}; the listing is incomplete",
                    settings.tenant
                ),
            )
        };
        if next.len() > 4096 {
            return Err(malformed("has an oversized nextPageToken"));
        }
        if task.page_token.as_deref() == Some(next) {
            return Err(malformed("points back to the same page"));
        }
        let page = task.page.saturating_add(1);
        if page > MAX_USER_PAGES {
            return Err(malformed(&format!("goes past {MAX_USER_PAGES} pages")));
        }
        out.tasks.push(
            Work::Users(UsersTask {
                page_token: Some(next.to_owned()),
                page,
            })
            .task(),
        );
    }
    Ok(out)
}

// --- tokens ----------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenList {
    /// Absent (not empty) when the user has no grants.
    #[serde(default, deserialize_with = "nullable")]
    items: Vec<DirectoryToken>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryToken {
    client_id: Option<String>,
    display_text: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    native_app: bool,
    #[serde(default, deserialize_with = "nullable")]
    anonymous: bool,
}

/// Parses a `tokens.list` body into the user's tokens, scopes sorted.
pub fn parse_tokens(settings: &Settings, body: &[u8]) -> Result<Vec<TokenRef>, Error> {
    let list: TokenList = decode(settings, "token list", body)?;
    let mut tokens: Vec<TokenRef> = Vec::with_capacity(list.items.len());
    for t in &list.items {
        let client_id = required(settings, "token list", "clientId", t.client_id.as_deref())?;
        if tokens.iter().any(|x| x.client_id == client_id) {
            // One grant per user and client; a repeat adds nothing.
            continue;
        }
        let mut scopes: Vec<String> = t
            .scopes
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| clip(s, MAX_TEXT))
            .collect();
        scopes.sort();
        scopes.dedup();
        let name = t
            .display_text
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(client_id);
        tokens.push(TokenRef {
            client_id: client_id.to_owned(),
            name: clip(name, MAX_TEXT),
            scopes,
            native_app: t.native_app,
            anonymous: t.anonymous,
        });
    }
    Ok(tokens)
}

fn read_tokens(settings: &Settings, user: &UserRef, resp: &Response) -> Result<Out, Error> {
    match resp.status {
        200 => {}
        // Deleted since users.list: its grants went with it.
        404 => return Ok(gone_user(settings, user, "tokens")),
        _ => return Err(classify(settings, Operation::ListTokens, resp)),
    }
    let tokens = parse_tokens(settings, &resp.body)?;
    let mut out = Out::default();
    if !tokens.is_empty() {
        out.follow(Work::Events(EventsTask {
            user: user.clone(),
            tokens,
            page_token: None,
            page: 1,
            authorized: BTreeMap::new(),
            used: BTreeMap::new(),
        }));
    }
    Ok(out)
}

fn gone_user(settings: &Settings, user: &UserRef, what: &str) -> Out {
    Out {
        warnings: vec![format!(
            "google no longer knows user {} in `{}` (404 listing {what}): deleted during the \
             scan, so it holds no grants",
            user.email, settings.tenant
        )],
        ..Out::default()
    }
}

// --- token audit log ---------------------------------------------------------------

#[derive(Deserialize)]
struct Activities {
    #[serde(default, deserialize_with = "nullable")]
    items: Vec<Activity>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    id: Option<ActivityId>,
    actor: Option<Actor>,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<ActivityEvent>,
}

#[derive(Deserialize)]
struct ActivityId {
    time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Actor {
    email: Option<String>,
    profile_id: Option<String>,
}

#[derive(Deserialize)]
struct ActivityEvent {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parameters: Vec<Parameter>,
}

#[derive(Deserialize)]
struct Parameter {
    name: Option<String>,
    value: Option<serde_json::Value>,
}

/// Folds one page of the token audit log into `task`'s findings: the latest
/// `authorize` and `activity` time per client the user holds. Returns the next page
/// token, if any.
pub fn fold_events(
    settings: &Settings,
    task: &mut EventsTask,
    body: &[u8],
) -> Result<Option<String>, Error> {
    let page: Activities = decode(settings, "token audit log", body)?;
    for a in &page.items {
        // A per-user query returns the user's events; anything else is not theirs.
        if let Some(actor) = &a.actor {
            let id_ok = actor
                .profile_id
                .as_deref()
                .is_none_or(|p| p == task.user.id);
            let email_ok = actor
                .email
                .as_deref()
                .is_none_or(|e| e.eq_ignore_ascii_case(&task.user.email));
            if !(id_ok && email_ok) {
                continue;
            }
        }
        let Some(time) =
            a.id.as_ref()
                .and_then(|i| i.time.as_deref())
                .and_then(rfc3339_utc)
        else {
            continue;
        };
        for e in &a.events {
            let found = match e.name.as_deref() {
                Some("authorize") => &mut task.authorized,
                Some("activity") => &mut task.used,
                _ => continue,
            };
            let client = e
                .parameters
                .iter()
                .find(|p| p.name.as_deref() == Some("client_id"))
                .and_then(|p| p.value.as_ref())
                .and_then(serde_json::Value::as_str);
            let Some(client) = client else { continue };
            if !task.tokens.iter().any(|t| t.client_id == client) {
                continue;
            }
            // RFC 3339 UTC with whole seconds sorts as text.
            let newer = found.get(client).is_none_or(|t| time.as_str() > t.as_str());
            if newer {
                found.insert(client.to_owned(), time.clone());
            }
        }
    }
    Ok(page.next_page_token.filter(|t| !t.is_empty()))
}

fn read_events(settings: &Settings, task: &EventsTask, resp: &Response) -> Result<Out, Error> {
    let mut task = task.clone();
    match resp.status {
        200 => {}
        // No audit access (the reports privilege or scope is missing) or the user is
        // gone from the log: the grants are still real; report them without times.
        403 | 404 if rate_limit(resp).is_none() => {
            let why = format!("{}: {}", resp.status, excerpt(resp));
            let mut out = Out {
                warnings: vec![format!(
                    "google refused the token audit log for {} in `{}` ({why}); grant and \
                     last-use times are left out: delegate `{SCOPE_AUDIT}` and give the admin \
                     the Reports privilege",
                    task.user.email, settings.tenant
                )],
                ..Out::default()
            };
            out.grants = token_grants(&task, &Audit::Unavailable(why));
            return Ok(out);
        }
        _ => return Err(classify(settings, Operation::ListEvents, resp)),
    }
    let next = fold_events(settings, &mut task, &resp.body)?;
    let mut out = Out::default();
    match next {
        Some(token)
            if task.page < MAX_EVENT_PAGES && task.page_token.as_deref() != Some(&token) =>
        {
            task.page += 1;
            task.page_token = Some(token);
            out.follow(Work::Events(task));
        }
        Some(_) => {
            out.warnings.push(format!(
                "the token audit log of {} in `{}` goes past {MAX_EVENT_PAGES} pages; times \
                 are taken from the newest events only",
                task.user.email, settings.tenant
            ));
            out.grants = token_grants(&task, &Audit::Truncated);
        }
        None => out.grants = token_grants(&task, &Audit::Complete),
    }
    Ok(out)
}

/// How much of the audit log backs a token grant's times.
enum Audit {
    Complete,
    Truncated,
    Unavailable(String),
}

fn user_principal(user: &UserRef) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: user.email.clone(),
        display: user.name.clone(),
    }
}

fn bool_attr(key: &str, v: bool) -> (String, String) {
    (key.to_owned(), v.to_string())
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

fn user_attributes(user: &UserRef) -> Vec<(String, String)> {
    let mut a = vec![
        attr("user_key", &user.id),
        bool_attr("user_is_admin", user.admin),
        bool_attr("user_is_delegated_admin", user.delegated_admin),
        bool_attr("user_suspended", user.suspended),
        bool_attr("user_archived", user.archived),
    ];
    if let Some(ou) = &user.org_unit {
        a.push(attr("org_unit_path", ou));
    }
    a
}

/// A grant-id segment: ids from responses are percent-encoded, so one cannot carry a
/// `/` or `:` into the id's structure. Google's ids are unchanged by it.
fn segment(s: &str) -> String {
    http::encode(s)
}

/// The local id of a token grant: `token:{userKey}:{clientId}`.
pub fn token_grant_id(user_key: &str, client_id: &str) -> String {
    format!("token:{}:{}", segment(user_key), segment(client_id))
}

/// The local id of an app-specific password: `asp:{userKey}:{codeId}`.
pub fn asp_grant_id(user_key: &str, code_id: i64) -> String {
    format!("asp:{}:{code_id}", segment(user_key))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenHandle {
    user_key: String,
    client_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AspHandle {
    user_key: String,
    code_id: i64,
}

/// A JSON handle. Serialising these plain structs cannot fail.
fn handle_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The numeric Cloud project that owns a client id (`{project}-….apps.googleusercontent.com`
/// or `{project}.apps.googleusercontent.com`).
fn project_number(client_id: &str) -> Option<&str> {
    let head = client_id.strip_suffix(".apps.googleusercontent.com")?;
    let number = head.split('-').next()?;
    (!number.is_empty() && number.len() <= 20 && number.bytes().all(|b| b.is_ascii_digit()))
        .then_some(number)
}

fn token_grants(task: &EventsTask, audit: &Audit) -> Vec<Grant> {
    let user = &task.user;
    task.tokens
        .iter()
        .map(|t| {
            let first_party = GOOGLE_CLIENTS.contains(&t.client_id.as_str());
            let mut app_attributes = vec![
                attr("client_id", &t.client_id),
                bool_attr("native_app", t.native_app),
                bool_attr("anonymous", t.anonymous),
            ];
            if let Some(p) = project_number(&t.client_id) {
                app_attributes.push(attr("project_number", p));
            }
            if first_party {
                app_attributes.push(bool_attr("google_first_party", true));
            }
            let (created_at, last_used_at) = match audit {
                Audit::Unavailable(_) => (None, None),
                _ => (
                    task.authorized.get(&t.client_id).cloned(),
                    task.used.get(&t.client_id).cloned(),
                ),
            };
            let mut attributes = vec![
                attr("client_id", &t.client_id),
                bool_attr("native_app", t.native_app),
                bool_attr("anonymous", t.anonymous),
            ];
            attributes.extend(user_attributes(user));
            attributes.push(attr("reports_window_days", REPORTS_WINDOW_DAYS.to_string()));
            attributes.push(bool_attr("usage_reported", last_used_at.is_some()));

            let mut notes = Vec::new();
            match audit {
                Audit::Unavailable(why) => notes.push(format!(
                    "Google's token audit log could not be read ({}), so when this grant was \
                     authorised and last used is unknown.",
                    clip(why, MAX_EXCERPT)
                )),
                Audit::Complete | Audit::Truncated => {
                    if created_at.is_none() {
                        notes.push(format!(
                            "Google's token audit log (Reports API) keeps about \
                             {REPORTS_WINDOW_DAYS} days and has no authorize event for this \
                             grant: it was authorised earlier, so the grant time is unknown."
                        ));
                    }
                    if last_used_at.is_none() {
                        notes.push(format!(
                            "Google's token audit log shows no use of this grant in the last \
                             {REPORTS_WINDOW_DAYS} days: the app has not called Google with it \
                             since, or the edition records no usage (activity events exist \
                             only on Enterprise, Education and Cloud Identity Premium)."
                        ));
                    }
                    if matches!(audit, Audit::Truncated) {
                        notes.push(format!(
                            "The user's audit log is longer than {MAX_EVENT_PAGES} pages; times \
                             come from its newest events only."
                        ));
                    }
                }
            }
            if first_party {
                notes.push("The client is a Google first-party tool.".to_owned());
            }
            if user.suspended {
                notes.push(
                    "The user is suspended; the grant persists and works again if the user is \
                     restored."
                        .to_owned(),
                );
            }
            notes.push(
                "Revoking deletes the whole grant (every scope); Google lets the user consent \
                 again unless an admin blocks the app in the Admin console."
                    .to_owned(),
            );
            let id = token_grant_id(&user.id, &t.client_id);
            Grant {
                id: id.clone(),
                app: App {
                    id: t.client_id.clone(),
                    name: t.name.clone(),
                    // Google exposes no publisher or verification status (API.md §8).
                    publisher: None,
                    attributes: app_attributes,
                },
                principal: user_principal(user),
                kind: GrantKind::Delegated,
                scopes: t.scopes.clone(),
                created_at,
                last_used_at,
                // Grants last until revoked.
                expires_at: None,
                revocation: Some(RevocationTarget {
                    grant_id: id,
                    action: Action::Token.name().to_owned(),
                    handle: handle_json(&TokenHandle {
                        user_key: user.id.clone(),
                        client_id: t.client_id.clone(),
                    }),
                }),
                attributes,
                notes,
            }
        })
        .collect()
}

// --- app-specific passwords -----------------------------------------------------------

#[derive(Deserialize)]
struct AspList {
    #[serde(default, deserialize_with = "nullable")]
    items: Vec<DirectoryAsp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryAsp {
    code_id: Option<i64>,
    name: Option<String>,
    creation_time: Option<serde_json::Value>,
    last_time_used: Option<serde_json::Value>,
}

/// Epoch milliseconds (an int64 Google writes as a string) to RFC 3339; 0 means never.
fn epoch_millis(v: Option<&serde_json::Value>) -> Option<String> {
    let ms = match v? {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        serde_json::Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (ms > 0)
        .then(|| from_epoch_seconds(ms.div_euclid(1000)))
        .flatten()
}

/// Parses an `asps.list` body into `asp:{userKey}:{codeId}` grants.
pub fn parse_asps(settings: &Settings, user: &UserRef, body: &[u8]) -> Result<Vec<Grant>, Error> {
    let list: AspList = decode(settings, "app-specific password list", body)?;
    let mut grants = Vec::with_capacity(list.items.len());
    for a in &list.items {
        let Some(code_id) = a.code_id else {
            return Err(Error::new(
                ErrorCode::Malformed,
                format!(
                    "google's app-specific password list in `{}` has an entry without `codeId`",
                    settings.tenant
                ),
            ));
        };
        let id = asp_grant_id(&user.id, code_id);
        let last_used_at = epoch_millis(a.last_time_used.as_ref());
        let mut attributes = vec![attr("code_id", code_id.to_string())];
        if let Some(n) = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            attributes.push(attr("asp_name", n));
        }
        attributes.extend(user_attributes(user));
        attributes.push(bool_attr("usage_reported", true));
        let mut notes = vec![
            "An app-specific password signs in to Gmail (IMAP, POP, SMTP), Calendar (CalDAV) \
             and Contacts (CardDAV) as the user without 2-Step Verification; it carries no \
             OAuth scopes."
                .to_owned(),
        ];
        if last_used_at.is_none() {
            notes.push("Google records no use of this password.".to_owned());
        }
        grants.push(Grant {
            id: id.clone(),
            app: App {
                id: ASP_APP_ID.to_owned(),
                name: ASP_APP_NAME.to_owned(),
                publisher: None,
                attributes: Vec::new(),
            },
            principal: user_principal(user),
            kind: GrantKind::ApiKey,
            scopes: Vec::new(),
            created_at: epoch_millis(a.creation_time.as_ref()),
            last_used_at,
            expires_at: None,
            revocation: Some(RevocationTarget {
                grant_id: id,
                action: Action::Asp.name().to_owned(),
                handle: handle_json(&AspHandle {
                    user_key: user.id.clone(),
                    code_id,
                }),
            }),
            attributes,
            notes,
        });
    }
    Ok(grants)
}

fn read_asps(settings: &Settings, user: &UserRef, resp: &Response) -> Result<Out, Error> {
    match resp.status {
        200 => Ok(Out {
            grants: parse_asps(settings, user, &resp.body)?,
            ..Out::default()
        }),
        404 => Ok(gone_user(settings, user, "app-specific passwords")),
        _ => Err(classify(settings, Operation::ListAsps, resp)),
    }
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A call the connector makes, for error messages and the scope it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `users.list`.
    ListUsers,
    /// `tokens.list`.
    ListTokens,
    /// `asps.list`.
    ListAsps,
    /// Reports `activities.list` for the token application.
    ListEvents,
    /// `tokens.get` (probe).
    GetToken,
    /// `asps.get` (probe).
    GetAsp,
    /// `tokens.delete`.
    DeleteToken,
    /// `asps.delete`.
    DeleteAsp,
}

impl Operation {
    fn what(self) -> &'static str {
        match self {
            Operation::ListUsers => "listing users",
            Operation::ListTokens => "listing a user's OAuth tokens",
            Operation::ListAsps => "listing a user's app-specific passwords",
            Operation::ListEvents => "reading the token audit log",
            Operation::GetToken => "reading an OAuth token",
            Operation::GetAsp => "reading an app-specific password",
            Operation::DeleteToken => "deleting an OAuth token",
            Operation::DeleteAsp => "deleting an app-specific password",
        }
    }

    /// The OAuth scope the call needs.
    pub fn scope(self) -> &'static str {
        match self {
            Operation::ListUsers => SCOPE_USER_READONLY,
            Operation::ListEvents => SCOPE_AUDIT,
            _ => SCOPE_USER_SECURITY,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    message: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    errors: Vec<ErrorItem>,
    #[serde(default, deserialize_with = "nullable")]
    details: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    reason: Option<String>,
}

/// Google's error `reason`: `error.errors[0].reason` first, then `error.status`, then
/// `error.details[].reason` (API.md §6). Never the message.
pub fn google_reason(body: &[u8]) -> Option<String> {
    let e = serde_json::from_slice::<ErrorBody>(body).ok()?.error?;
    e.errors
        .iter()
        .find_map(|i| i.reason.clone())
        .or(e.status)
        .or_else(|| e.details.iter().find_map(|i| i.reason.clone()))
}

/// Google's reasons and statuses that mean "slow down".
const RATE_LIMIT_REASONS: &[&str] = &[
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "RESOURCE_EXHAUSTED",
    "RATE_LIMIT_EXCEEDED",
];

/// Whether the answer is a rate limit: any 429, or a 403 whose reason says so.
fn rate_limit(resp: &Response) -> Option<String> {
    if resp.status == 429 {
        return Some(google_reason(&resp.body).unwrap_or_else(|| "429".to_owned()));
    }
    if resp.status != 403 {
        return None;
    }
    let body: ErrorBody = serde_json::from_slice(&resp.body).ok()?;
    let e = body.error?;
    let reasons = e
        .errors
        .iter()
        .chain(e.details.iter())
        .filter_map(|i| i.reason.as_deref())
        .chain(e.status.as_deref());
    let mut found = None;
    for r in reasons {
        if RATE_LIMIT_REASONS.contains(&r) {
            found = Some(r.to_owned());
            break;
        }
    }
    found
}

/// A short, single-line excerpt of an error answer: Google's `message` when the body
/// has one, else the start of the body.
fn excerpt(resp: &Response) -> String {
    let message = serde_json::from_slice::<ErrorBody>(&resp.body)
        .ok()
        .and_then(|b| b.error?.message);
    let text = message.unwrap_or_else(|| resp.excerpt());
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(flat.trim(), MAX_EXCERPT)
}

/// Turns an answer that is not the expected success into an error naming what failed
/// and what to do.
pub fn classify(settings: &Settings, op: Operation, resp: &Response) -> Error {
    let status = resp.status;
    let tenant = &settings.tenant;
    let what = op.what();
    let message = excerpt(resp);
    if let Some(reason) = rate_limit(resp) {
        return Error::new(
            ErrorCode::RateLimited,
            format!(
                "google rate-limited {what} in `{tenant}` ({status} {reason}: {message}): wait \
                 and run again, or lower the tenant's request rate or concurrency"
            ),
        );
    }
    let reason = google_reason(&resp.body).unwrap_or_default();
    let scope = op.scope();
    match status {
        // The Reports API signals quota exhaustion with 503 (API.md §6).
        503 if op == Operation::ListEvents => Error::new(
            ErrorCode::RateLimited,
            format!(
                "google's Reports API is out of quota while {what} in `{tenant}` (503: \
                 {message}): wait and run again"
            ),
        ),
        401 => Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "google refused the access token while {what} in `{tenant}` (401: {message}): \
                 check the service account key and that its client is allowed domain-wide \
                 delegation"
            ),
        ),
        403 if reason == "insufficientPermissions" || reason == "PERMISSION_DENIED" => Error::new(
            ErrorCode::Permission,
            format!(
                "google denied {what} in `{tenant}` (403: {message}): add `{scope}` to the \
                     credential's `scope` and to the service account's domain-wide delegation \
                     in the Admin console"
            ),
        ),
        403 => Error::new(
            ErrorCode::Permission,
            format!(
                "google denied {what} in `{tenant}` (403: {message}): the impersonated user \
                 (the credential's `subject`) must be a super admin, or hold the admin \
                 privileges behind `{scope}`"
            ),
        ),
        400 | 404 if op == Operation::ListUsers => Error::new(
            ErrorCode::Config,
            format!(
                "google answered {status} while {what} in `{tenant}` ({message}): check the \
                 `customer` and `domain` settings"
            ),
        ),
        500..=599 => Error::new(
            ErrorCode::Provider,
            format!(
                "google failed while {what} in `{tenant}` ({status}: {message}): try again later"
            ),
        ),
        _ => Error::new(
            ErrorCode::Provider,
            format!(
                "google answered an unexpected {status} while {what} in `{tenant}` ({message}): \
                 report it to the connector's maintainers"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Token,
    Asp,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Token => "token",
            Action::Asp => "asp",
        }
    }
}

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One user's grant to one OAuth client.
    Token {
        /// The user's numeric id.
        user_key: String,
        /// The OAuth client id.
        client_id: String,
    },
    /// One app-specific password.
    Asp {
        /// The user's numeric id.
        user_key: String,
        /// The password's id.
        code_id: i64,
    },
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id, so a mixed-up
    /// plan cannot revoke another grant than the one it names.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let handle = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            "token" => {
                let h: TokenHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::Token {
                    user_key: h.user_key,
                    client_id: h.client_id,
                }
            }
            "asp" => {
                let h: AspHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::Asp {
                    user_key: h.user_key,
                    code_id: h.code_id,
                }
            }
            _ => {
                return Err(invalid(
                    "has an unknown action: this connector revokes `token` and `asp`".to_owned(),
                ));
            }
        };
        let (Target::Token { user_key, .. } | Target::Asp { user_key, .. }) = &parsed;
        if checked_id(user_key).is_none() {
            return Err(invalid("has no user in its handle".to_owned()));
        }
        if let Target::Token { client_id, .. } = &parsed
            && checked_id(client_id).is_none()
        {
            return Err(invalid("has no client id in its handle".to_owned()));
        }
        // The host may pass the qualified id (`google-workspace/{tenant}/{id}`); local ids
        // contain no `/`, so the last segment is the local id either way.
        let local = target.grant_id.rsplit('/').next().unwrap_or_default();
        if local != parsed.grant_id() {
            return Err(invalid(format!(
                "does not match its handle, which is for `{}`",
                parsed.grant_id()
            )));
        }
        Ok(parsed)
    }

    /// The local grant id this target revokes.
    pub fn grant_id(&self) -> String {
        match self {
            Target::Token {
                user_key,
                client_id,
            } => token_grant_id(user_key, client_id),
            Target::Asp { user_key, code_id } => asp_grant_id(user_key, *code_id),
        }
    }

    /// The resource's URL: `DELETE` revokes it, `GET` reads it.
    pub fn url(&self, settings: &Settings) -> String {
        match self {
            Target::Token {
                user_key,
                client_id,
            } => settings.token_url(user_key, client_id),
            Target::Asp { user_key, code_id } => settings.asp_url(user_key, *code_id),
        }
    }
}

/// One revocation request and how to read its answer.
#[derive(Clone, Debug)]
pub struct RevocationCall {
    /// HTTP method (`DELETE`).
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    target: Target,
    settings: Settings,
}

/// Plans the revocation of one target: one `DELETE`.
pub fn plan_revocation(
    settings: &Settings,
    target: &RevocationTarget,
) -> Result<RevocationCall, Error> {
    let target = Target::parse(target)?;
    Ok(RevocationCall {
        method: Method::Delete,
        url: target.url(settings),
        target,
        settings: settings.clone(),
    })
}

/// What stays possible after deleting a user's grant to `client_id`.
fn token_steps(client_id: &str) -> Vec<String> {
    vec![
        format!(
            "Google lets the user authorise client {client_id} again at any time. To prevent \
             it, an admin must set the app to Blocked in the Admin console (Security → Access \
             and data control → API controls → Manage third-party app access); there is no API \
             for this."
        ),
        "Data the app already copied stays with its vendor; ask the vendor to delete it."
            .to_owned(),
    ]
}

fn asp_steps() -> Vec<String> {
    vec![
        "The user can create a new app-specific password; only the Admin console's 2-Step \
         Verification settings can stop that, not an API."
            .to_owned(),
    ]
}

impl RevocationCall {
    /// Maps Google's answer: 2xx is `revoked`, 404 `already-gone` (the token or the user is
    /// gone), anything else an error from [`classify`].
    pub fn outcome(&self, resp: &Response) -> Result<Revocation, Error> {
        let done = (200..300).contains(&resp.status);
        let gone = resp.status == 404;
        let status = if done {
            RevocationStatus::Revoked
        } else {
            RevocationStatus::AlreadyGone
        };
        match &self.target {
            Target::Token {
                user_key,
                client_id,
            } if done || gone => Ok(Revocation {
                status,
                detail: if done {
                    format!(
                        "Deleted user {user_key}'s OAuth grant to client {client_id}: all its \
                         scopes, refresh and access tokens are revoked."
                    )
                } else {
                    format!("User {user_key}'s OAuth grant to client {client_id} was already gone.")
                },
                manual_steps: token_steps(client_id),
            }),
            Target::Asp { user_key, code_id } if done || gone => Ok(Revocation {
                status,
                detail: if done {
                    format!("Deleted user {user_key}'s app-specific password {code_id}.")
                } else {
                    format!("User {user_key}'s app-specific password {code_id} was already gone.")
                },
                manual_steps: asp_steps(),
            }),
            Target::Token { .. } => Err(classify(&self.settings, Operation::DeleteToken, resp)),
            Target::Asp { .. } => Err(classify(&self.settings, Operation::DeleteAsp, resp)),
        }
    }
}

/// A re-read of one revocation target: `tokens.get` or `asps.get`.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Absolute URL to `GET`.
    pub url: String,
    target: Target,
    settings: Settings,
}

impl Probe {
    /// Plans the re-read of a target.
    pub fn new(settings: &Settings, target: &RevocationTarget) -> Result<Self, Error> {
        let target = Target::parse(target)?;
        Ok(Probe {
            url: target.url(settings),
            target,
            settings: settings.clone(),
        })
    }

    /// 404 is gone; 200 is present only when its body is the resource asked for.
    ///
    /// A probe's "present" licenses a second revoke call, so the status line alone is
    /// not enough: a 200 whose body is cut short, or names another token (a proxy's
    /// page, a garbled answer), is an error and the host re-reads again.
    pub fn read(&self, resp: &Response) -> Result<TargetState, Error> {
        let (operation, noun) = match self.target {
            Target::Token { .. } => (Operation::GetToken, "token (tokens.get)"),
            Target::Asp { .. } => (Operation::GetAsp, "app-specific password (asps.get)"),
        };
        match resp.status {
            200 => {}
            404 => return Ok(TargetState::Gone),
            _ => return Err(classify(&self.settings, operation, resp)),
        }
        let found: ProbedResource = decode(&self.settings, noun, &resp.body)?;
        let same = match &self.target {
            Target::Token { client_id, .. } => found.client_id.as_deref() == Some(client_id),
            Target::Asp { code_id, .. } => found.code_id == Some(*code_id),
        };
        if same {
            Ok(TargetState::Present)
        } else {
            Err(Error::new(
                ErrorCode::Malformed,
                format!(
                    "google answered the re-read of `{}` in `{}` with another resource; its \
                     state is unknown",
                    self.target.grant_id(),
                    self.settings.tenant
                ),
            ))
        }
    }
}

/// The identifying fields of a `tokens.get` or `asps.get` answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProbedResource {
    client_id: Option<String>,
    code_id: Option<i64>,
}

// ---------------------------------------------------------------------------------
