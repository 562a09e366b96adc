//! Salesforce provider logic, free of I/O.
//!
//! Everything the connector knows about Salesforce lives here as pure functions: the
//! settings it accepts, the SOQL it sends, how a query page becomes grants and
//! follow-up tasks, how a failed response becomes an error, and how revocation answers
//! become a [`Revocation`]. The WIT glue in `lib.rs` only moves bytes between these
//! functions and the host's egress, so every decision here is unit-tested natively
//! against `testdata/providers/salesforce/examples/`.
//!
//! The mapping from Salesforce objects to grants is the contract in the crate's
//! `README.md`; the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings
//! copied into grants are clipped, and URLs from it are checked before use. The one
//! credential-like value the connector ever reads, `OauthToken.DeleteToken`, is only
//! fetched at revocation time, handed straight to the revoke call and never copied
//! into a grant, a handle, an error or a log line.

use std::collections::BTreeMap;

pub use grantscope_connector_sdk::clip;
use grantscope_connector_sdk::http::origin;
use grantscope_connector_sdk::http::{self, Response};
use grantscope_connector_sdk::time::rfc3339_utc;
use grantscope_connector_sdk::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Manifest, Permission, Principal,
    PrincipalKind, Quota, Revocation, RevocationStatus, RevocationTarget, Setting, TargetState,
    Task,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The connector's version, as declared in its manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The REST API version used when the tenant sets none: the newest in the examples
/// (API.md asks for 59.0 or later).
pub const DEFAULT_API_VERSION: &str = "64.0";

/// Oldest API version accepted (API.md, section 3).
const MIN_API_VERSION: u32 = 59;

/// Above this many `OauthToken` rows the connector partitions by app name: older
/// object references cap an `OauthToken` query at 2,500 rows in total (API.md 3.4),
/// and API.md recommends staying clearly below that.
pub const TOKEN_PARTITION_THRESHOLD: u64 = 2_000;

/// Most pages one query may have. Far above any real org, it only stops a provider
/// whose `nextRecordsUrl`s never end.
pub const MAX_PAGES: u32 = 100_000;

/// Provider strings copied into attributes and messages are clipped to this many
/// characters, so one odd value cannot push a grant over the host's field cap.
const MAX_TEXT: usize = 256;

/// Longest URL accepted from a response (`nextRecordsUrl`).
const MAX_URL: usize = 2048;

/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

/// `api-usage` share above which a scan warns: the allocation is shared with every
/// integration in the org (API.md 6).
const USAGE_WARN_PERCENT: u64 = 80;

/// The connected-app listing (API.md 3.1, examples/query-connectedapplication.json).
pub const SOQL_CONNECTED_APPS: &str = "SELECT Id, Name, CreatedDate, CreatedById, \
     LastModifiedDate, OptionsAllowAdminApprovedUsersOnly, OptionsRefreshTokenValidityMetric, \
     RefreshTokenValidityPeriod, OptionsHasSessionLevelPolicy, OptionsIsInternal, \
     OptionsTokenExchangeManageBitEnabled, OptionsCodeCredentialGuestEnabled, \
     OptionsFullContentPushNotifications, MobileSessionTimeout, PinLength, StartUrl, \
     MobileStartUrl FROM ConnectedApplication ORDER BY Name";

/// The App Launcher items of connected apps: the join from tokens to apps (API.md 3.2).
pub const SOQL_APP_MENU_ITEMS: &str = "SELECT Id, ApplicationId, Name, Label, Type, \
     NamespacePrefix, IsAccessible, IsVisible, IsUsingAdminAuthorization, StartUrl, InfoUrl, \
     Description FROM AppMenuItem WHERE Type = 'ConnectedApplication'";

/// Who is pre-authorized for which connected app (API.md 3.3).
pub const SOQL_SETUP_ENTITY_ACCESS: &str = "SELECT Id, ParentId, SetupEntityId, \
     SetupEntityType, Parent.Name, Parent.IsOwnedByProfile, Parent.Profile.Name FROM \
     SetupEntityAccess WHERE SetupEntityType = 'ConnectedApplication'";

/// How many token approvals there are (API.md 3.4: count before paging).
pub const SOQL_TOKEN_COUNT: &str = "SELECT COUNT() FROM OauthToken";

/// Token approvals per app name, for partitioning (API.md 3.4). The count has no
/// alias, so Salesforce names it `expr0` (SOQL reference, "Use Aliases with GROUP BY").
pub const SOQL_TOKEN_GROUPS: &str =
    "SELECT AppName, COUNT(UserId) FROM OauthToken GROUP BY AppName";

/// The token columns read during a scan. `DeleteToken`, `AccessToken` and
/// `RequestToken` are deliberately absent (API.md 3.4).
const TOKEN_FIELDS: &str = "Id, AppName, AppMenuItemId, UserId, User.Username, User.IsActive, \
     CreatedDate, LastUsedDate, UseCount";

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
    let setting = |name: &str, description: String, required: bool| Setting {
        name: name.to_owned(),
        description,
        required,
    };
    Manifest {
        id: "salesforce".to_owned(),
        name: "Salesforce orgs".to_owned(),
        version: VERSION.to_owned(),
        provider: "salesforce".to_owned(),
        hosts: vec![
            "login.salesforce.com".to_owned(),
            "test.salesforce.com".to_owned(),
            "*.my.salesforce.com".to_owned(),
        ],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["jwt-bearer".to_owned()],
        permissions: vec![
            permission(
                "API Enabled",
                "call the REST API (SOQL queries) as the integration user",
                false,
            ),
            permission(
                "View Setup and Configuration",
                "read ConnectedApplication, AppMenuItem and SetupEntityAccess",
                false,
            ),
            permission(
                "Customize Application",
                "see every user's OauthToken rows; without it Salesforce silently returns \
                 only the integration user's own tokens. It is write-capable: Salesforce offers \
                 no read-only permission for this",
                false,
            ),
            permission(
                "Manage Connected Apps",
                "delete SetupEntityAccess rows (pre-authorizations) and read the DeleteToken \
                 of other users' tokens when revoking them",
                true,
            ),
        ],
        settings: vec![
            setting(
                "instance_url",
                "the org's My Domain URL, e.g. `https://acme.my.salesforce.com`; every query \
                 and the revoke call go there (the token response's instance_url is not used)"
                    .to_owned(),
                true,
            ),
            setting(
                "api_version",
                format!("REST API version, default `{DEFAULT_API_VERSION}` (at least 59.0)"),
                false,
            ),
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// How long Salesforce may still return a token row after its deletion returned: the
/// org's database reads its own writes, so only a short window is needed.
pub const CONSISTENCY_WINDOW_MS: u32 = 5_000;

/// Salesforce meters no per-minute rate on REST (API.md §6), only a rolling 24-hour
/// allocation per org, of at least 100,000 requests. It is declared as one day's
/// allocation that may be spent at any pace; the real allocation and what other
/// integrations already used arrive in `Sforce-Limit-Info` on every answer, and the
/// host stops a scan before it eats the reserve the org's other integrations need.
pub fn quotas() -> Vec<Quota> {
    vec![
        Quota::new(
            "daily",
            100_000,
            86_400,
            &[],
            "developer.salesforce.com: API Request Limits and Allocations",
        )
        .with_burst(100_000),
    ]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    tenant: String,
    instance_url: String,
    origin: String,
    api_version: String,
}

impl Settings {
    /// Reads and validates `instance_url` and `api_version` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        let url = ctx.require("instance_url")?;
        Self::new(&ctx.tenant, url, ctx.setting("api_version"))
    }

    /// Validates an instance URL and an optional API version (blank means the
    /// default). `tenant` names the tenant in messages.
    pub fn new(tenant: &str, instance_url: &str, api_version: Option<&str>) -> Result<Self, Error> {
        let config = |message: String| Error::new(ErrorCode::Config, message);
        let raw = instance_url.trim();
        let base = raw.trim_end_matches('/');
        let origin = origin(base).filter(|_| {
            !base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        });
        let Some(origin) = origin else {
            let shown = if raw.contains('@') {
                "(redacted: it contains `@`)".to_owned()
            } else {
                format!("`{}`", clip(raw, 80))
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `instance_url` = {shown} is not an http:// or \
                 https:// URL with a host and no credentials, query or fragment: use the org's \
                 My Domain URL, e.g. `https://acme.my.salesforce.com`"
            )));
        };
        let version = api_version
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_API_VERSION);
        let version = version.strip_prefix('v').unwrap_or(version);
        let major = version
            .split_once('.')
            .filter(|(a, b)| {
                !a.is_empty() && a.len() <= 4 && a.bytes().all(|c| c.is_ascii_digit()) && b == &"0"
            })
            .and_then(|(a, _)| a.parse::<u32>().ok());
        match major {
            Some(m) if m >= MIN_API_VERSION => {}
            _ => {
                return Err(config(format!(
                    "tenant `{tenant}`: setting `api_version` = `{}` is not a REST API version \
                     of at least {MIN_API_VERSION}.0: use e.g. `{DEFAULT_API_VERSION}`",
                    clip(version, 20)
                )));
            }
        }
        Ok(Settings {
            tenant: tenant.to_owned(),
            instance_url: base.to_owned(),
            origin,
            api_version: version.to_owned(),
        })
    }

    /// The instance URL, without a trailing slash.
    pub fn instance_url(&self) -> &str {
        &self.instance_url
    }

    /// The API version, e.g. `64.0`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `GET {instance}/services/data/v{version}/query?q={soql}`.
    pub fn query_url(&self, soql: &str) -> String {
        format!(
            "{}/services/data/v{}/query?q={}",
            self.instance_url,
            self.api_version,
            http::encode(soql)
        )
    }

    /// The revoke endpoint on the instance (API.md 4).
    pub fn revoke_url(&self) -> String {
        format!("{}/services/oauth2/revoke", self.instance_url)
    }

    /// The sObject URL of one `SetupEntityAccess` row.
    pub fn setup_entity_access_url(&self, id: &str) -> String {
        format!(
            "{}/services/data/v{}/sobjects/SetupEntityAccess/{}",
            self.instance_url,
            self.api_version,
            http::encode(id)
        )
    }

    /// Resolves a `nextRecordsUrl` (Salesforce sends an origin-relative path) and
    /// checks that it stays on the instance's origin and under `/services/data/`.
    fn next_url(&self, url: &str) -> Option<String> {
        if url.len() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let absolute = if url.starts_with('/') && !url.starts_with("//") {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        };
        (origin(&absolute)? == self.origin && absolute.contains("/services/data/"))
            .then_some(absolute)
    }

    /// Whether a task URL is one this connector would build or follow.
    fn owns(&self, url: &str) -> bool {
        self.next_url(url).as_deref() == Some(url) && url.starts_with(&self.instance_url)
    }
}

/// Headers for every REST request. Never `Authorization`: the host attaches it.
pub fn headers() -> Vec<(&'static str, &'static str)> {
    vec![("accept", "application/json")]
}

// ---------------------------------------------------------------------------------
// SOQL
// ---------------------------------------------------------------------------------

/// A SOQL string literal: quoted, with `\` and `'` (and control characters)
/// escaped as the SOQL reference's "Quoted String Escape Sequences" lists.
pub fn soql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The scan's token query, for all tokens or one app's.
pub fn token_query(app_name: Option<&str>) -> String {
    match app_name {
        None => format!("SELECT {TOKEN_FIELDS} FROM OauthToken ORDER BY AppName, UserId"),
        Some(name) => format!(
            "SELECT {TOKEN_FIELDS} FROM OauthToken WHERE AppName = {} ORDER BY UserId",
            soql_string(name)
        ),
    }
}

/// The `WHERE` clause naming one token approval by its key.
fn token_key_filter(key: &TokenKey) -> String {
    format!(
        "UserId = {} AND AppName = {} AND CreatedDate = {}",
        soql_string(&key.user_id),
        soql_string(&key.app_name),
        key.created
    )
}

// ---------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------

/// The kinds of enumeration task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Pages of `ConnectedApplication` rows, collected into the directory.
    Apps,
    /// Pages of `AppMenuItem` rows, collected into the directory.
    MenuItems,
    /// `SELECT COUNT() FROM OauthToken`, then the plan.
    TokenCount,
    /// Pages of the per-app-name token counts (partitioned scans only).
    TokenGroups,
    /// Pages of `OauthToken` rows.
    Tokens,
    /// Pages of `SetupEntityAccess` rows.
    SetupEntityAccess,
}

impl TaskKind {
    const ALL: [TaskKind; 6] = [
        TaskKind::Apps,
        TaskKind::MenuItems,
        TaskKind::TokenCount,
        TaskKind::TokenGroups,
        TaskKind::Tokens,
        TaskKind::SetupEntityAccess,
    ];

    /// The task kind's name.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Apps => "apps",
            TaskKind::MenuItems => "menu-items",
            TaskKind::TokenCount => "token-count",
            TaskKind::TokenGroups => "token-groups",
            TaskKind::Tokens => "tokens",
            TaskKind::SetupEntityAccess => "setup-entity-access",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the task needs the app directory (connected apps and menu items).
    pub fn needs_directory(self) -> bool {
        matches!(self, TaskKind::Tokens | TaskKind::SetupEntityAccess)
    }
}

/// The payload of every task: one query page to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTask {
    /// The page's absolute URL on the instance.
    pub url: String,
    /// 1-based page number, counted so pagination that never ends is caught.
    pub page: u32,
    /// Rows read on earlier pages of the same query (token pages only).
    #[serde(default)]
    pub seen: u64,
    /// How many rows the query should return in total, when known beforehand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    /// The app name a partitioned token query is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// The app directory read by the first tasks, carried along so a page needs
    /// one request; `None` when it is too large for a task (the task then reads
    /// it itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<Directory>,
}

impl PageTask {
    fn first(url: String) -> Self {
        PageTask {
            url,
            page: 1,
            seen: 0,
            expected: None,
            app_name: None,
            dir: None,
        }
    }

    fn with_dir(mut self, dir: Option<&Directory>) -> Self {
        self.dir = dir.cloned();
        self
    }

    fn task(&self, kind: TaskKind) -> Task {
        Task::json(kind.name(), self)
    }
}

/// The first task of a scan: the connected apps, which lead to the menu items,
/// which lead to the token count and the pre-authorizations.
pub fn start_tasks(settings: &Settings) -> Vec<Task> {
    vec![
        PageTask::first(settings.query_url(SOQL_CONNECTED_APPS))
            .with_dir(Some(&Directory::default()))
            .task(TaskKind::Apps),
    ]
}

/// Largest directory carried in a task payload (the host caps payloads at 64 KiB).
const MAX_DIR_JSON: usize = 48 * 1024;

/// Reads one page of connected apps or menu items into the directory the task
/// carries, and plans what follows.
pub fn read_directory_page(
    settings: &Settings,
    kind: TaskKind,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "listing connected apps", resp));
    }
    let mut dir = page.dir.clone().unwrap_or_default();
    let next = if kind == TaskKind::Apps {
        let q: QueryPage<ConnectedApp> = decode_page("ConnectedApplication page", &resp.body)?;
        let next = next_url(settings, "connected apps", &page.url, page.page, &q)?;
        dir.add_apps(q.records);
        next
    } else {
        let q: QueryPage<MenuItem> = decode_page("AppMenuItem page", &resp.body)?;
        let next = next_url(settings, "App Launcher items", &page.url, page.page, &q)?;
        dir.add_menu_items(q.records);
        next
    };
    let mut out = Page {
        warnings: usage_warning(settings, resp).into_iter().collect(),
        ..Page::default()
    };
    let fits = serde_json::to_vec(&dir).map_or(0, |v| v.len()) <= MAX_DIR_JSON;
    // Past the cap the directory is no longer carried; the grant tasks read it.
    let carried = fits.then_some(&dir);
    match (kind, next) {
        (_, Some(url)) => out.tasks.push(
            PageTask {
                url,
                page: page.page + 1,
                ..PageTask::first(String::new())
            }
            .with_dir(carried)
            .task(kind),
        ),
        (TaskKind::Apps, None) => out.tasks.push(
            PageTask::first(settings.query_url(SOQL_APP_MENU_ITEMS))
                .with_dir(carried)
                .task(TaskKind::MenuItems),
        ),
        (_, None) => {
            out.tasks.push(
                PageTask::first(settings.query_url(SOQL_TOKEN_COUNT))
                    .with_dir(carried)
                    .task(TaskKind::TokenCount),
            );
            out.tasks.push(
                PageTask::first(settings.query_url(SOQL_SETUP_ENTITY_ACCESS))
                    .with_dir(carried)
                    .task(TaskKind::SetupEntityAccess),
            );
        }
    }
    Ok(out)
}

/// Decodes and checks a task. Tasks round-trip through the host, so the URL is
/// re-validated rather than trusted.
pub fn decode_task(settings: &Settings, task: &Task) -> Result<(TaskKind, PageTask), Error> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidInput, message);
    let kind = TaskKind::from_name(&task.kind).ok_or_else(|| {
        invalid(format!(
            "unknown task kind `{}`: this connector runs `token-count`, `token-groups`, \
             `tokens` and `setup-entity-access`",
            clip(&task.kind, 64)
        ))
    })?;
    let page: PageTask = task.decode()?;
    if !settings.owns(&page.url) {
        return Err(invalid(format!(
            "task `{}` points outside {}: start a new scan",
            task.kind, settings.instance_url
        )));
    }
    if page.page == 0 || page.page > MAX_PAGES {
        return Err(invalid(format!(
            "task `{}` has page number {}, outside 1–{MAX_PAGES}",
            task.kind, page.page
        )));
    }
    Ok((kind, page))
}

// ---------------------------------------------------------------------------------
// Query envelopes
// ---------------------------------------------------------------------------------

/// One page of a SOQL query result (REST API guide, "Query").
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage<T> {
    /// Rows matching the query (for `COUNT()`, the count).
    pub total_size: u64,
    /// False while there are more pages.
    pub done: bool,
    /// The next page's path, when `done` is false.
    #[serde(default)]
    pub next_records_url: Option<String>,
    /// The rows.
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
}

/// Decodes one query page.
pub fn decode_page<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<QueryPage<T>, Error> {
    decode(what, body)
}

/// The URL of the page after `page`, or `None` when the query is done.
///
/// A `nextRecordsUrl` off the instance is an error, not the end of the listing:
/// stopping quietly would make an incomplete scan look complete.
pub fn next_url<T>(
    settings: &Settings,
    what: &str,
    page_url: &str,
    page: u32,
    q: &QueryPage<T>,
) -> Result<Option<String>, Error> {
    if q.done {
        return Ok(None);
    }
    let malformed = |why: String| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "salesforce's next page of {what} in `{}` {why}; the listing is incomplete",
                settings.tenant
            ),
        )
    };
    let Some(raw) = q.next_records_url.as_deref() else {
        return Err(malformed("is missing although `done` is false".to_owned()));
    };
    let Some(url) = settings.next_url(raw) else {
        return Err(malformed(format!(
            "(`{}`) is not on {}: refusing to follow it",
            clip(raw, 120),
            settings.origin
        )));
    };
    if url == page_url {
        return Err(malformed("points back to the same page".to_owned()));
    }
    if page >= MAX_PAGES {
        return Err(malformed(format!("goes past {MAX_PAGES} pages")));
    }
    Ok(Some(url))
}

// ---------------------------------------------------------------------------------
// The app directory
// ---------------------------------------------------------------------------------

/// A `ConnectedApplication` row (the fields the mapping uses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectedApp {
    /// `0H4…`: the app id of every grant linked to this app.
    pub id: String,
    /// The app's label.
    pub name: Option<String>,
    /// Only pre-authorized profiles and permission sets may use the app.
    pub options_allow_admin_approved_users_only: Option<bool>,
    /// Refresh-token validity counts from last use rather than from issue.
    pub options_refresh_token_validity_metric: Option<bool>,
    /// Refresh-token validity period (null: valid until revoked).
    pub refresh_token_validity_period: Option<serde_json::Number>,
    /// A Salesforce-internal app.
    pub options_is_internal: Option<bool>,
}

/// An `AppMenuItem` row of type `ConnectedApplication`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MenuItem {
    /// `0DS…`, what `OauthToken.AppMenuItemId` holds.
    pub id: String,
    /// The `ConnectedApplication.Id` it stands for.
    pub application_id: Option<String>,
    /// The label, which is what `OauthToken.AppName` holds.
    pub label: Option<String>,
    /// Set for apps installed from a managed package.
    pub namespace_prefix: Option<String>,
}

/// What the token and pre-authorization mappings join against: connected apps by
/// id, menu items by id, and connected-app ids by label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    apps: BTreeMap<String, ConnectedApp>,
    menu: BTreeMap<String, MenuItem>,
}

impl Directory {
    /// Adds one page of `ConnectedApplication` rows.
    pub fn add_apps(&mut self, rows: Vec<ConnectedApp>) {
        for a in rows {
            if !a.id.trim().is_empty() {
                self.apps.insert(a.id.trim().to_owned(), a);
            }
        }
    }

    /// Adds one page of `AppMenuItem` rows.
    pub fn add_menu_items(&mut self, rows: Vec<MenuItem>) {
        for m in rows {
            if !m.id.trim().is_empty() {
                self.menu.insert(m.id.trim().to_owned(), m);
            }
        }
    }

    /// The connected-app id behind a menu item, when the item is known and linked.
    fn app_of_menu_item(&self, menu_item_id: &str) -> Option<&str> {
        self.menu
            .get(menu_item_id)
            .and_then(|m| m.application_id.as_deref())
            .map(str::trim)
            .filter(|id| !id.is_empty() && id.len() <= MAX_TEXT)
    }

    /// Connected-app ids whose label (menu item label or app name) equals `name`,
    /// sorted and without repeats.
    fn ids_labelled(&self, name: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .menu
            .values()
            .filter(|m| m.label.as_deref() == Some(name))
            .filter_map(|m| m.application_id.clone())
            .chain(
                self.apps
                    .values()
                    .filter(|a| a.name.as_deref() == Some(name))
                    .map(|a| a.id.clone()),
            )
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The display name of a connected app: its `Name`, else a menu item's label.
    fn app_name(&self, app_id: &str) -> Option<String> {
        self.apps
            .get(app_id)
            .and_then(|a| a.name.clone())
            .or_else(|| {
                self.menu
                    .values()
                    .find(|m| m.application_id.as_deref() == Some(app_id))
                    .and_then(|m| m.label.clone())
            })
            .map(|n| clip(n.trim(), MAX_TEXT))
            .filter(|n| !n.is_empty())
    }

    /// The `app.attributes` of a linked connected app.
    fn app_attributes(&self, app_id: &str) -> Vec<(String, String)> {
        let mut out = vec![attr("connected_application_id", app_id)];
        let bool_attr =
            |k: &str, v: Option<bool>| v.map(|v| attr(k, if v { "true" } else { "false" }));
        match self.apps.get(app_id) {
            Some(a) => {
                out.push(attr("installed", "true"));
                out.extend(bool_attr(
                    "admin_approved_users_only",
                    a.options_allow_admin_approved_users_only,
                ));
                out.extend(bool_attr("is_internal", a.options_is_internal));
                let period = a
                    .refresh_token_validity_period
                    .as_ref()
                    .map_or_else(|| "until revoked".to_owned(), ToString::to_string);
                out.push(attr("refresh_token_validity", period));
                out.extend(bool_attr(
                    "refresh_token_validity_from_last_use",
                    a.options_refresh_token_validity_metric,
                ));
            }
            None => out.push(attr("installed", "unknown")),
        }
        if let Some(ns) = self
            .menu
            .values()
            .find(|m| m.application_id.as_deref() == Some(app_id))
            .and_then(|m| m.namespace_prefix.as_deref())
            .filter(|ns| !ns.trim().is_empty())
        {
            out.push(attr("namespace_prefix", ns.trim()));
        }
        out
    }
}

// ---------------------------------------------------------------------------------
// Token count and groups
// ---------------------------------------------------------------------------------

/// What one page produced.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Grants on the page.
    pub grants: Vec<Grant>,
    /// Follow-up tasks.
    pub tasks: Vec<Task>,
    /// Lines for the operator (logged at `warn` by the glue).
    pub warnings: Vec<String>,
}

/// Reads the `COUNT()` answer: one token query when the count is small, else the
/// per-app-name counts to partition by.
pub fn read_token_count(
    settings: &Settings,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "counting OAuth tokens", resp));
    }
    let q: QueryPage<serde_json::Value> = decode_page("OauthToken count", &resp.body)?;
    let mut out = Page {
        warnings: usage_warning(settings, resp).into_iter().collect(),
        ..Page::default()
    };
    if q.total_size <= TOKEN_PARTITION_THRESHOLD {
        let mut first =
            PageTask::first(settings.query_url(&token_query(None))).with_dir(page.dir.as_ref());
        first.expected = Some(q.total_size);
        out.tasks.push(first.task(TaskKind::Tokens));
    } else {
        out.tasks.push(
            PageTask::first(settings.query_url(SOQL_TOKEN_GROUPS))
                .with_dir(page.dir.as_ref())
                .task(TaskKind::TokenGroups),
        );
    }
    Ok(out)
}

#[derive(Deserialize)]
struct TokenGroup {
    #[serde(rename = "AppName")]
    app_name: Option<String>,
    expr0: Option<u64>,
}

/// Reads one page of per-app-name counts: one token query per app name.
pub fn read_token_groups(
    settings: &Settings,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "counting OAuth tokens per app", resp));
    }
    let q: QueryPage<TokenGroup> = decode_page("OauthToken counts per app", &resp.body)?;
    let mut out = Page::default();
    for g in &q.records {
        let Some(name) = g.app_name.as_deref() else {
            out.warnings.push(format!(
                "salesforce reported {} OAuth tokens without an app name in `{}`; they cannot be \
                 queried by app name and are missing from this scan",
                g.expr0.unwrap_or(0),
                settings.tenant
            ));
            continue;
        };
        let count = g.expr0.unwrap_or(0);
        if count > TOKEN_PARTITION_THRESHOLD {
            out.warnings.push(format!(
                "app `{}` holds {count} OAuth tokens in `{}`, above the {TOKEN_PARTITION_THRESHOLD}-row \
                 partition size; older Salesforce versions stop an OauthToken query at 2,500 rows",
                clip(name, 80),
                settings.tenant
            ));
        }
        let mut first = PageTask::first(settings.query_url(&token_query(Some(name))))
            .with_dir(page.dir.as_ref());
        first.expected = Some(count);
        first.app_name = Some(name.to_owned());
        out.tasks.push(first.task(TaskKind::Tokens));
    }
    if let Some(url) = next_url(settings, "OAuth token counts", &page.url, page.page, &q)? {
        out.tasks.push(
            PageTask {
                url,
                page: page.page + 1,
                ..PageTask::first(String::new())
            }
            .with_dir(page.dir.as_ref())
            .task(TaskKind::TokenGroups),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Tokens → grants
// ---------------------------------------------------------------------------------

/// An `OauthToken` row as the scan reads it (never with its token-valued fields).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenRow {
    /// The app's label: the only link every row has to its app.
    pub app_name: Option<String>,
    /// The App Launcher item, when Salesforce links one.
    pub app_menu_item_id: Option<String>,
    /// The approving user.
    pub user_id: Option<String>,
    /// The user, through the relationship.
    pub user: Option<TokenUser>,
    /// When the user authorized (Salesforce's `+0000` style).
    pub created_date: Option<String>,
    /// Last use; updated even by failed attempts.
    pub last_used_date: Option<String>,
    /// Uses, refreshes included.
    pub use_count: Option<serde_json::Number>,
}

/// The `User` relationship of a token row.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenUser {
    /// The login username.
    pub username: Option<String>,
    /// Whether the user is active.
    pub is_active: Option<bool>,
}

/// A token approval's key: `OauthToken.Id` is documented as always null, so the
/// row is named by (UserId, AppName, CreatedDate) (API.md 3.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    /// `005…`.
    pub user_id: String,
    /// The exact `AppName`.
    pub app_name: String,
    /// `CreatedDate` as RFC 3339 UTC, whole seconds (also a SOQL datetime literal).
    pub created: String,
}

impl TokenKey {
    /// The local grant id: `oauth-token:{UserId}:{yyyymmddThhmmssZ}:{AppName
    /// percent-encoded}`.
    pub fn grant_id(&self) -> String {
        let compact: String = self
            .created
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        format!(
            "oauth-token:{}:{compact}:{}",
            self.user_id,
            http::encode(&self.app_name)
        )
    }
}

/// The app id of a token whose app is known only by name.
pub fn name_app_id(app_name: &str) -> String {
    format!("app-name:{app_name}")
}

/// Salesforce timestamps (`2023-02-07T16:11:09.000+0000`) as RFC 3339 UTC.
pub fn sf_time(s: &str) -> Option<String> {
    let s = s.trim();
    // Salesforce writes the offset without a colon, which RFC 3339 requires.
    let fixed = match s
        .len()
        .checked_sub(5)
        .and_then(|i| s.get(i..).map(|t| (i, t)))
    {
        Some((i, tail))
            if (tail.starts_with('+') || tail.starts_with('-'))
                && tail[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{}{}:{}", &s[..i], &tail[..3], &tail[3..])
        }
        _ => s.to_owned(),
    };
    rfc3339_utc(&fixed)
}

/// Reads one page of `OauthToken` rows into `delegated` grants and the next page.
pub fn read_tokens(
    settings: &Settings,
    dir: &Directory,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "listing OAuth tokens", resp));
    }
    let q: QueryPage<TokenRow> = decode_page("OauthToken page", &resp.body)?;
    let mut out = Page {
        warnings: usage_warning(settings, resp).into_iter().collect(),
        ..Page::default()
    };
    // Rows that share a key are indistinguishable through the API: one grant
    // stands for all of them, and revoking it revokes each.
    let mut by_id: BTreeMap<String, (Grant, u32)> = BTreeMap::new();
    let mut skipped = 0u32;
    for row in &q.records {
        match token_grant(dir, row) {
            Some(g) => {
                by_id
                    .entry(g.id.clone())
                    .and_modify(|(_, n)| *n += 1)
                    .or_insert((g, 1));
            }
            None => skipped += 1,
        }
    }
    for (_, (mut g, n)) in by_id {
        if n > 1 {
            g.attributes.push(attr("approvals", n.to_string()));
            g.notes.push(format!(
                "{n} token approvals share this user, app name and creation second; Salesforce \
                 cannot tell them apart, so this record stands for all of them and revoking it \
                 revokes each."
            ));
        }
        out.grants.push(g);
    }
    if skipped > 0 {
        out.warnings.push(format!(
            "{skipped} OAuth token rows in `{}` had no user id or app name and were skipped",
            settings.tenant
        ));
    }
    let seen = page.seen + q.records.len() as u64;
    match next_url(settings, "OAuth tokens", &page.url, page.page, &q)? {
        Some(url) => out.tasks.push(
            PageTask {
                url,
                page: page.page + 1,
                seen,
                expected: page.expected,
                app_name: page.app_name.clone(),
                dir: page.dir.clone(),
            }
            .task(TaskKind::Tokens),
        ),
        None => {
            // Compare with the query's own count, not the earlier COUNT(): tokens
            // revoked in between must not look like a truncated answer.
            let expected = q.total_size;
            if seen < expected {
                // The documented 2,500-row cap ends a query early without saying so.
                let scope = page
                    .app_name
                    .as_deref()
                    .map(|n| format!(" for app `{}`", clip(n, 80)))
                    .unwrap_or_default();
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    format!(
                        "salesforce ended the OAuth token query{scope} in `{}` after {seen} of \
                         {expected} rows (the OauthToken row cap); the scan is incomplete: \
                         revoke stale tokens or report it to the connector's maintainers",
                        settings.tenant
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn token_grant(dir: &Directory, row: &TokenRow) -> Option<Grant> {
    let user_id = row
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= MAX_TEXT)?;
    let app_name = row
        .app_name
        .as_deref()
        .filter(|n| !n.trim().is_empty() && n.len() <= 1024)?;
    let created = row.created_date.as_deref().and_then(sf_time);
    let last_used = row.last_used_date.as_deref().and_then(sf_time);
    let username = row
        .user
        .as_ref()
        .and_then(|u| u.username.as_deref())
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= MAX_TEXT);
    let menu_item = row
        .app_menu_item_id
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());

    let mut notes = vec![
        "Salesforce does not report a token's scopes: OauthToken has no scope column, and the \
         connected app's configured scopes are only in the Metadata API, which this connector \
         does not read."
            .to_owned(),
    ];
    let mut attributes = vec![attr("user_id", user_id), attr("scopes_reported", "false")];
    if let Some(active) = row.user.as_ref().and_then(|u| u.is_active) {
        attributes.push(attr("user_active", if active { "true" } else { "false" }));
        if !active {
            notes.push("The user is inactive, but the approval is still in place.".to_owned());
        }
    }
    if let Some(n) = &row.use_count {
        attributes.push(attr("use_count", n.to_string()));
    }
    if let Some(m) = menu_item {
        attributes.push(attr("app_menu_item_id", m));
    }
    if last_used.is_none() {
        notes.push("Salesforce has no last-use date for this token.".to_owned());
    } else {
        notes.push(
            "LastUsedDate and UseCount also move on failed attempts to use the token.".to_owned(),
        );
    }

    // The link to the app: the menu item when Salesforce gives one that resolves,
    // else only the name, which several apps (or a look-alike) may share.
    let linked = menu_item.and_then(|m| dir.app_of_menu_item(m));
    let (app_id, name, app_attributes) = match linked {
        Some(id) => {
            attributes.push(attr("app_link", "app-menu-item"));
            let name = dir
                .app_name(id)
                .unwrap_or_else(|| clip(app_name.trim(), MAX_TEXT));
            let mut a = dir.app_attributes(id);
            a.push(attr("app_link", "app-menu-item"));
            (id.to_owned(), name, a)
        }
        None => {
            attributes.push(attr("app_link", "name"));
            let matches = dir.ids_labelled(app_name);
            let mut a = vec![attr("app_link", "name")];
            match matches.len() {
                0 => {
                    a.push(attr("installed", "false"));
                    notes.push(
                        "Salesforce links this token to its app only by name, and no connected \
                         app with that name is installed in the org: it is an uninstalled app \
                         (or a first-party Salesforce client), whose name is all the API \
                         reports."
                            .to_owned(),
                    );
                }
                1 => {
                    attributes.push(attr("name_matches", &matches[0]));
                    notes.push(format!(
                        "Salesforce links this token to its app only by name. An installed \
                         connected app ({}) has this name, but the token carries no App Launcher \
                         link to it, so it may be a different app with the same label (for \
                         example a look-alike).",
                        matches[0]
                    ));
                }
                _ => {
                    attributes.push(attr("name_matches", matches.join(",")));
                    notes.push(format!(
                        "Salesforce links this token to its app only by name, and {} installed \
                         connected apps share that name ({}); the API cannot say which one holds \
                         the token.",
                        matches.len(),
                        matches.join(", ")
                    ));
                }
            }
            (name_app_id(app_name), clip(app_name.trim(), MAX_TEXT), a)
        }
    };
    attributes.push(attr("app_name", app_name));

    let revocation = created.as_ref().map(|created| {
        let key = TokenKey {
            user_id: user_id.to_owned(),
            app_name: app_name.to_owned(),
            created: created.clone(),
        };
        RevocationTarget {
            grant_id: key.grant_id(),
            action: Action::OauthToken.name().to_owned(),
            handle: handle_json(&key),
        }
    });
    let id = match &revocation {
        Some(r) => r.grant_id.clone(),
        None => {
            notes.push(
                "Salesforce gave no creation date for this token, so it cannot be named for \
                 revocation; revoke it in Setup → Connected Apps OAuth Usage."
                    .to_owned(),
            );
            format!("oauth-token:{user_id}:unknown:{}", http::encode(app_name))
        }
    };
    notes.push(
        "OauthToken rows have no usable Id; this grant is named by user, app name and creation \
         time, and revocation re-reads the row's DeleteToken by that key."
            .to_owned(),
    );
    Some(Grant {
        id,
        app: App {
            id: app_id,
            name,
            publisher: None,
            attributes: app_attributes,
        },
        principal: Principal {
            kind: PrincipalKind::User,
            id: username.unwrap_or(user_id).to_owned(),
            display: None,
        },
        kind: GrantKind::Delegated,
        scopes: Vec::new(),
        created_at: created,
        last_used_at: last_used,
        expires_at: None,
        revocation,
        attributes,
        notes,
    })
}

// ---------------------------------------------------------------------------------
// Pre-authorizations → grants
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SeaRow {
    id: Option<String>,
    parent_id: Option<String>,
    setup_entity_id: Option<String>,
    parent: Option<SeaParent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SeaParent {
    name: Option<String>,
    is_owned_by_profile: Option<bool>,
    profile: Option<SeaProfile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SeaProfile {
    name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeaHandle {
    id: String,
}

/// Reads one page of `SetupEntityAccess` rows into `admin_consent` grants.
pub fn read_setup_entity_access(
    settings: &Settings,
    dir: &Directory,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    if resp.status != 200 {
        return Err(classify(
            settings,
            "listing connected-app pre-authorizations",
            resp,
        ));
    }
    let q: QueryPage<SeaRow> = decode_page("SetupEntityAccess page", &resp.body)?;
    let mut out = Page {
        warnings: usage_warning(settings, resp).into_iter().collect(),
        ..Page::default()
    };
    for row in &q.records {
        let valid = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= MAX_TEXT)
                .map(str::to_owned)
        };
        let (Some(id), Some(app_id)) = (valid(&row.id), valid(&row.setup_entity_id)) else {
            out.warnings.push(format!(
                "a SetupEntityAccess row in `{}` had no id or no connected app and was skipped",
                settings.tenant
            ));
            continue;
        };
        out.grants.push(sea_grant(dir, &id, &app_id, row));
    }
    if let Some(url) = next_url(settings, "pre-authorizations", &page.url, page.page, &q)? {
        out.tasks.push(
            PageTask {
                url,
                page: page.page + 1,
                ..PageTask::first(String::new())
            }
            .with_dir(page.dir.as_ref())
            .task(TaskKind::SetupEntityAccess),
        );
    }
    Ok(out)
}

fn sea_grant(dir: &Directory, id: &str, app_id: &str, row: &SeaRow) -> Grant {
    let parent = row.parent.as_ref();
    let profile = parent
        .filter(|p| p.is_owned_by_profile == Some(true))
        .and_then(|p| p.profile.as_ref())
        .and_then(|p| p.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let permset = parent
        .and_then(|p| p.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let parent_id = row.parent_id.as_deref().map(str::trim).unwrap_or_default();
    let (principal, what) = match (profile, permset) {
        (Some(p), _) => (
            format!("profile:{}", clip(p, MAX_TEXT)),
            format!("profile {p}"),
        ),
        (None, Some(ps)) => (
            format!("permission-set:{}", clip(ps, MAX_TEXT)),
            format!("permission set {ps}"),
        ),
        (None, None) => (
            format!(
                "permission-set:{}",
                clip(if parent_id.is_empty() { id } else { parent_id }, MAX_TEXT)
            ),
            "an unnamed permission set".to_owned(),
        ),
    };
    let mut attributes = vec![
        attr("setup_entity_access_id", id),
        attr("permission_set_id", parent_id),
        attr(
            "owned_by_profile",
            if profile.is_some() { "true" } else { "false" },
        ),
        attr("scopes_reported", "false"),
        attr("usage_reported", "false"),
    ];
    if let Some(ps) = permset {
        attributes.push(attr("permission_set_name", ps));
    }
    let name = dir.app_name(app_id).unwrap_or_else(|| app_id.to_owned());
    Grant {
        id: format!("setup-entity-access:{id}"),
        app: App {
            id: app_id.to_owned(),
            name,
            publisher: None,
            attributes: dir.app_attributes(app_id),
        },
        principal: Principal {
            kind: PrincipalKind::Tenant,
            id: principal,
            display: None,
        },
        kind: GrantKind::AdminConsent,
        scopes: Vec::new(),
        created_at: None,
        last_used_at: None,
        expires_at: None,
        revocation: Some(RevocationTarget {
            grant_id: format!("setup-entity-access:{id}"),
            action: Action::SetupEntityAccess.name().to_owned(),
            handle: handle_json(&SeaHandle { id: id.to_owned() }),
        }),
        attributes,
        notes: vec![
            format!(
                "Every user with {} is pre-authorized to use this connected app without \
                 approving it; the users are in PermissionSetAssignment, which this connector \
                 does not read.",
                clip(&what, MAX_TEXT)
            ),
            "Salesforce reports neither scopes nor use for a pre-authorization; the tokens its \
             users hold are listed as separate grants."
                .to_owned(),
        ],
    }
}

// ---------------------------------------------------------------------------------
// Errors and limits
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct RestError {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct OauthError {
    error: Option<String>,
    error_description: Option<String>,
}

/// `(errorCode, message)` of a REST error body (a JSON array) or an OAuth error
/// body (`{error, error_description}`), clipped.
fn error_parts(resp: &Response) -> (String, String) {
    if let Ok(list) = serde_json::from_slice::<Vec<RestError>>(&resp.body)
        && let Some(first) = list.into_iter().next()
    {
        return (
            clip(first.error_code.as_deref().unwrap_or(""), 64),
            clip(first.message.as_deref().unwrap_or(""), MAX_EXCERPT),
        );
    }
    if let Ok(e) = serde_json::from_slice::<OauthError>(&resp.body) {
        return (
            clip(e.error.as_deref().unwrap_or(""), 64),
            clip(e.error_description.as_deref().unwrap_or(""), MAX_EXCERPT),
        );
    }
    (String::new(), String::new())
}

/// Turns a failed REST response into an error naming what was being done.
pub fn classify(settings: &Settings, doing: &str, resp: &Response) -> Error {
    let (code, message) = error_parts(resp);
    let tenant = &settings.tenant;
    let status = resp.status;
    let said = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {code}: {message}")
    };
    match (status, code.as_str()) {
        // The org's rolling 24-hour allocation (or the long-request concurrency cap)
        // is spent: a rate limit, not a permission problem (API.md 6).
        (_, "REQUEST_LIMIT_EXCEEDED") | (429, _) => Error::new(
            ErrorCode::RateLimited,
            format!(
                "salesforce refused {doing} in `{tenant}` because the org's API allocation is \
                 used up ({said}); retry later and check DailyApiRequests in /limits"
            ),
        ),
        (401, _) => Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "salesforce refused the session while {doing} in `{tenant}` ({said}); check the \
                 jwt-bearer credential (consumer key, username, certificate)"
            ),
        ),
        (403, _) => Error::new(
            ErrorCode::Permission,
            format!(
                "salesforce denied {doing} in `{tenant}` ({said}); give the integration user API \
                 Enabled, View Setup and Configuration and Customize Application (and Manage \
                 Connected Apps to revoke)"
            ),
        ),
        (_, "INVALID_TYPE" | "INVALID_FIELD") => Error::new(
            ErrorCode::Unsupported,
            format!(
                "salesforce does not offer what {doing} needs in `{tenant}` ({said}); check \
                 `api_version` (at least 59.0) and the integration user's permissions"
            ),
        ),
        (500..=599, _) => Error::new(
            ErrorCode::Provider,
            format!("salesforce failed while {doing} in `{tenant}` ({said}); retry later"),
        ),
        _ => Error::new(
            ErrorCode::Provider,
            format!(
                "salesforce answered an unexpected {said} while {doing} in `{tenant}`; report it \
                 to the connector's maintainers"
            ),
        ),
    }
}

/// A warning when `Sforce-Limit-Info` shows the org's daily allocation mostly used.
pub fn usage_warning(settings: &Settings, resp: &Response) -> Option<String> {
    let (used, max) = api_usage(resp.header("sforce-limit-info")?)?;
    (max > 0 && used.saturating_mul(100) / max >= USAGE_WARN_PERCENT).then(|| {
        format!(
            "salesforce org `{}` has used {used} of its {max} daily API requests; the allocation \
             is shared with every integration in the org",
            settings.tenant
        )
    })
}

/// `(used, max)` from a `Sforce-Limit-Info` value such as `api-usage=1841/5100000`.
pub fn api_usage(value: &str) -> Option<(u64, u64)> {
    value.split([',', ';']).find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        if k.trim() != "api-usage" {
            return None;
        }
        let (used, max) = v.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

// ---------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------

/// A revocation action, as named in a [`RevocationTarget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    OauthToken,
    SetupEntityAccess,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::OauthToken => "oauth-token",
            Action::SetupEntityAccess => "setup-entity-access",
        }
    }
}

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One token approval, by its key.
    OauthToken(TokenKey),
    /// One pre-authorization row.
    SetupEntityAccess {
        /// `0J0…`.
        id: String,
    },
}

fn plain_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let handle = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            "oauth-token" => {
                let key: TokenKey = serde_json::from_str(&target.handle).map_err(handle)?;
                if !plain_id(&key.user_id)
                    || key.app_name.trim().is_empty()
                    || key.app_name.len() > 1024
                    || sf_time(&key.created).as_deref() != Some(key.created.as_str())
                {
                    return Err(invalid(
                        "has a handle without a user id, an app name or a UTC creation time"
                            .to_owned(),
                    ));
                }
                Target::OauthToken(key)
            }
            "setup-entity-access" => {
                let h: SeaHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                if !plain_id(&h.id) {
                    return Err(invalid("has a handle without a record id".to_owned()));
                }
                Target::SetupEntityAccess { id: h.id }
            }
            _ => {
                return Err(invalid(
                    "has an unknown action: this connector revokes `oauth-token` and \
                     `setup-entity-access`"
                        .to_owned(),
                ));
            }
        };
        // The host may pass the qualified id (`salesforce/{tenant}/{id}`). Local ids
        // percent-encode the app name, so they contain no `/`.
        let local = target.grant_id.rsplit('/').next().unwrap_or_default();
        if local != parsed.grant_id() {
            return Err(invalid(format!(
                "does not match its handle, which is for `{}`",
                clip(&parsed.grant_id(), 120)
            )));
        }
        Ok(parsed)
    }

    /// The local grant id this target revokes.
    pub fn grant_id(&self) -> String {
        match self {
            Target::OauthToken(key) => key.grant_id(),
            Target::SetupEntityAccess { id } => format!("setup-entity-access:{id}"),
        }
    }

    /// The query that reads whether the target still exists (never `DeleteToken`).
    pub fn probe_url(&self, settings: &Settings) -> String {
        match self {
            Target::OauthToken(key) => settings.query_url(&format!(
                "SELECT UserId, AppName, CreatedDate FROM OauthToken WHERE {}",
                token_key_filter(key)
            )),
            Target::SetupEntityAccess { id } => settings.query_url(&format!(
                "SELECT Id FROM SetupEntityAccess WHERE Id = {}",
                soql_string(id)
            )),
        }
    }

    /// The just-in-time query for a token's `DeleteToken` (token targets only).
    pub fn delete_token_url(&self, settings: &Settings) -> Option<String> {
        match self {
            Target::OauthToken(key) => Some(settings.query_url(&format!(
                "SELECT DeleteToken FROM OauthToken WHERE {}",
                token_key_filter(key)
            ))),
            Target::SetupEntityAccess { .. } => None,
        }
    }
}

/// Reads a probe query: present while it returns a row.
pub fn read_probe(
    settings: &Settings,
    target: &Target,
    resp: &Response,
) -> Result<TargetState, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "re-reading a revocation target", resp));
    }
    let q: QueryPage<serde_json::Value> = decode_page("probe query", &resp.body)?;
    let _ = target;
    Ok(if q.total_size > 0 || !q.records.is_empty() {
        TargetState::Present
    } else {
        TargetState::Gone
    })
}

/// A `DeleteToken`, kept out of `Debug` and never written anywhere but the revoke
/// call's body.
pub struct DeleteToken(String);

impl std::fmt::Debug for DeleteToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeleteToken([redacted])")
    }
}

impl DeleteToken {
    /// The revoke call's form body, `token=<value>`.
    pub fn form_body(&self) -> Vec<u8> {
        format!("token={}", http::encode(&self.0)).into_bytes()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteTokenRow {
    delete_token: Option<String>,
}

/// Reads the `DeleteToken` query. Errors never quote the body: it holds the tokens.
pub fn read_delete_tokens(settings: &Settings, resp: &Response) -> Result<Vec<DeleteToken>, Error> {
    if resp.status != 200 {
        return Err(classify(settings, "reading a token's DeleteToken", resp));
    }
    let q: QueryPage<DeleteTokenRow> = serde_json::from_slice(&resp.body).map_err(|_| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse salesforce's DeleteToken query answer in `{}` (body withheld: \
                 it carries token values); retry",
                settings.tenant
            ),
        )
    })?;
    let tokens: Vec<DeleteToken> = q
        .records
        .into_iter()
        .filter_map(|r| r.delete_token)
        .filter(|t| !t.trim().is_empty() && t.len() <= 4096)
        .map(DeleteToken)
        .collect();
    if tokens.is_empty() && q.total_size > 0 {
        return Err(Error::new(
            ErrorCode::Permission,
            format!(
                "salesforce returned the token in `{}` without a DeleteToken; the integration \
                 user needs Manage Connected Apps and Customize Application to revoke it",
                settings.tenant
            ),
        ));
    }
    Ok(tokens)
}

/// What one revoke call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeCall {
    /// 200: revoked.
    Revoked,
    /// 400 `invalid_token`: someone revoked it since the query.
    AlreadyGone,
}

/// Reads the answer to `POST /services/oauth2/revoke` (examples/revoke-token-200.json).
pub fn read_revoke(settings: &Settings, resp: &Response) -> Result<RevokeCall, Error> {
    match resp.status {
        200 => Ok(RevokeCall::Revoked),
        400 if error_parts(resp).0 == "invalid_token" => Ok(RevokeCall::AlreadyGone),
        _ => Err(classify(settings, "revoking an OAuth token", resp)),
    }
}

/// What stays in place after revoking tokens or pre-authorizations of a classic
/// connected app, which no API can block or uninstall.
fn manual_steps(app_name: &str) -> Vec<String> {
    vec![
        format!(
            "Salesforce offers no API to block or uninstall a classic connected app: an admin \
             must block `{app_name}` in Setup → Connected Apps OAuth Usage (or uninstall it) so \
             users cannot authorize it again."
        ),
        "Access tokens already minted stay valid until their session ends; delete the users' \
         AuthSession rows to end them sooner."
            .to_owned(),
    ]
}

/// The result of revoking a token approval: `revoked` when at least one call
/// revoked, `already-gone` when no row matched or every call said so.
pub fn token_revocation(key: &TokenKey, tenant: &str, calls: &[RevokeCall]) -> Revocation {
    let revoked = calls.iter().filter(|c| **c == RevokeCall::Revoked).count();
    let user = &key.user_id;
    let app = clip(&key.app_name, 80);
    let (status, detail) = if revoked > 0 {
        (
            RevocationStatus::Revoked,
            format!(
                "Revoked {user}'s OAuth approval of `{app}` from {} in {tenant}{}.",
                key.created,
                if revoked > 1 {
                    format!(" ({revoked} approvals shared its key)")
                } else {
                    String::new()
                }
            ),
        )
    } else {
        (
            RevocationStatus::AlreadyGone,
            format!(
                "{user}'s OAuth approval of `{app}` from {} was already gone from {tenant}.",
                key.created
            ),
        )
    };
    Revocation {
        status,
        detail,
        manual_steps: manual_steps(&app),
    }
}

/// The `DELETE` of a pre-authorization row.
pub fn sea_delete_url(settings: &Settings, target: &Target) -> Option<String> {
    match target {
        Target::SetupEntityAccess { id } => Some(settings.setup_entity_access_url(id)),
        Target::OauthToken(_) => None,
    }
}

/// Maps the answer to `DELETE …/sobjects/SetupEntityAccess/{id}`: 204 revoked, 404
/// already gone.
pub fn read_sea_delete(
    settings: &Settings,
    id: &str,
    resp: &Response,
) -> Result<Revocation, Error> {
    let tenant = &settings.tenant;
    let (code, _) = error_parts(resp);
    let status = match (resp.status, code.as_str()) {
        (200 | 204, _) => RevocationStatus::Revoked,
        (404, _) | (_, "ENTITY_IS_DELETED") => RevocationStatus::AlreadyGone,
        _ => {
            return Err(classify(
                settings,
                "removing a connected-app pre-authorization",
                resp,
            ));
        }
    };
    let detail = if status == RevocationStatus::Revoked {
        format!("Removed pre-authorization {id} from {tenant}.")
    } else {
        format!("Pre-authorization {id} was already gone from {tenant}.")
    };
    let mut steps = vec![
        "Users of that profile or permission set keep the tokens they already hold; revoke the \
         app's OAuth token grants too."
            .to_owned(),
    ];
    steps.extend(manual_steps("the app"));
    Ok(Revocation {
        status,
        detail,
        manual_steps: steps,
    })
}

// ---------------------------------------------------------------------------------

/// Decodes a response body, with a clipped message.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse salesforce's {what}: {}; if this persists, check that \
                 `instance_url` is the org's My Domain URL",
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

/// A JSON handle. Serialising these plain string structs cannot fail.
fn handle_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
