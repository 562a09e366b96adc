//! Microsoft Entra (Microsoft Graph) provider logic, free of I/O.
//!
//! Everything the connector knows about Graph lives here: the settings it accepts, the
//! URLs it builds, how listing pages become grants and follow-up tasks, how errors are
//! classified, and how revocations and probes proceed. Requests go through a
//! [`Transport`], which the WIT glue implements with the host's egress and the tests
//! with canned responses, so every decision is unit-tested natively against Graph's
//! documented payloads (`testdata/providers/microsoft-entra/examples/`).
//!
//! The mapping from Entra objects to grants is the contract in the crate's `README.md`;
//! the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings copied
//! into grants are clipped, ids are checked before they go into a URL, and next links
//! must stay on the configured Graph origin.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use grantscope_connector_sdk::clip;
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::http::origin;
use grantscope_connector_sdk::time::rfc3339_utc;
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
pub const USER_AGENT: &str = concat!(
    "grantscope-connector-microsoft-entra/",
    env!("CARGO_PKG_VERSION")
);

/// The Graph root used when the tenant sets no `graph_base`.
pub const DEFAULT_GRAPH_BASE: &str = "https://graph.microsoft.com";

/// Page size for directory listings: Graph's maximum (API.md §4). For
/// `oauth2PermissionGrants` it is also what avoids the documented incomplete results of
/// smaller pages (API.md §6).
pub const PAGE_SIZE: u32 = 999;

/// Page size of the sign-in activity report (its maximum).
pub const REPORT_PAGE_SIZE: u32 = 1000;

/// Most pages one listing may have; only stops a provider whose next links never end.
pub const MAX_PAGES: u32 = 50_000;

/// Most report pages read in one task (the host caps egress calls per task).
pub const MAX_REPORT_PAGES: u32 = 12;

/// Most pages read when revoking or probing one target.
pub const MAX_WALK_PAGES: u32 = 12;

/// Most ids in one `directoryObjects/getByIds` call.
pub const MAX_IDS: usize = 1000;

/// Microsoft's own tenants: apps they own are first-party (API.md §1).
pub const MICROSOFT_TENANTS: [&str; 2] = [
    "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    "72f988bf-86f1-41af-91ab-2d7cd011db47",
];

/// Microsoft's first-party appIds, from `microsoft_first_party_apps.json` (one a line).
const FIRST_PARTY: &str = include_str!("../data/microsoft_first_party_app_ids.txt");

/// Provider strings copied into grants are clipped to this many characters.
const MAX_TEXT: usize = 256;

/// Longest URL accepted from a response.
const MAX_URL: usize = 4096;

/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

/// Action names of revocation targets.
pub const ACTION_PERMISSION_GRANT: &str = "delete-permission-grant";
/// Action name for application permissions.
pub const ACTION_APP_ROLE_ASSIGNMENT: &str = "delete-app-role-assignment";

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
        id: "microsoft-entra".to_owned(),
        name: "Microsoft Entra ID tenants (Microsoft Graph)".to_owned(),
        version: VERSION.to_owned(),
        provider: "microsoft-entra".to_owned(),
        hosts: vec![
            "graph.microsoft.com".to_owned(),
            "login.microsoftonline.com".to_owned(),
        ],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["client-credentials".to_owned(), "static-token".to_owned()],
        permissions: vec![
            permission(
                "Application.Read.All",
                "list service principals, their app roles and who holds them \
                 (appRoleAssignedTo, appRoleAssignments)",
                false,
            ),
            permission(
                "Directory.Read.All",
                "list oauth2PermissionGrants and resolve client apps and users by id \
                 (directoryObjects/getByIds)",
                false,
            ),
            permission(
                "AuditLog.Read.All",
                "read the service-principal sign-in activity report (last use; needs an \
                 Entra ID P1/P2 licence, otherwise usage is reported as unknown)",
                false,
            ),
            permission(
                "DelegatedPermissionGrant.ReadWrite.All",
                "delete delegated permission grants (user and admin consent)",
                true,
            ),
            permission(
                "AppRoleAssignment.ReadWrite.All",
                "delete app role assignments (application permissions)",
                true,
            ),
            permission(
                "Application.ReadWrite.All",
                "disable a service principal (accountEnabled=false) once its last grant is \
                 revoked",
                true,
            ),
        ],
        settings: vec![
            Setting {
                name: "tenant_id".to_owned(),
                description: "Entra tenant id (GUID) or primary domain, e.g. \
                              `9b1c7a2e-4f3d-4c55-8e21-0d6a3f7b9c10`"
                    .to_owned(),
                required: true,
            },
            Setting {
                name: "graph_base".to_owned(),
                description: format!(
                    "Microsoft Graph root, default `{DEFAULT_GRAPH_BASE}`; the host reaches \
                     only the hosts this manifest declares (or a simulator on loopback)"
                ),
                required: false,
            },
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// How long Microsoft Graph may still list a grant after its deletion returned: Entra
/// replicates directory writes between data centres, which Microsoft documents as taking
/// up to a couple of minutes.
pub const CONSISTENCY_WINDOW_MS: u32 = 120_000;

/// Microsoft Graph's identity and access throttling (API.md §6): 8,000 resource units
/// per 10 s per app and tenant for a large tenant, where the reads the connector makes
/// cost 2 units (so 4,000 requests), and 3,000 writes per 150 s. Graph answers past the
/// limit with 429 and `Retry-After`, which the host honours.
pub fn quotas() -> Vec<Quota> {
    const DOC: &str = "learn.microsoft.com: Microsoft Graph service-specific throttling limits, \
                       identity and access";
    vec![
        Quota::new(
            "writes",
            3_000,
            150,
            &[
                "/v1.0/oauth2PermissionGrants/*",
                "/v1.0/servicePrincipals/*/appRoleAssignedTo/*",
            ],
            DOC,
        ),
        Quota::new("identity", 4_000, 10, &[], DOC),
    ]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    tenant: String,
    tenant_id: String,
    graph_base: String,
    origin: String,
}

impl Settings {
    /// Reads and validates `tenant_id` and `graph_base` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        let tenant_id = ctx.require("tenant_id")?;
        Self::new(&ctx.tenant, tenant_id, ctx.setting("graph_base"))
    }

    /// Validates a tenant id and an optional Graph root (blank means the default).
    /// `tenant` is the configured tenant name: the principal id of admin consents.
    pub fn new(tenant: &str, tenant_id: &str, graph_base: Option<&str>) -> Result<Self, Error> {
        let config = |message: String| Error::new(ErrorCode::Config, message);
        let tenant_id = tenant_id.trim();
        if tenant_id.is_empty()
            || tenant_id.len() > 253
            || !tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(config(format!(
                "tenant `{tenant}`: setting `tenant_id` = `{}` is not an Entra tenant id: use \
                 the directory (tenant) id GUID from the Entra admin center",
                clip(tenant_id, 80)
            )));
        }
        let raw = graph_base.map(str::trim).filter(|s| !s.is_empty());
        let base = raw.unwrap_or(DEFAULT_GRAPH_BASE).trim_end_matches('/');
        let origin = origin(base).filter(|_| {
            !base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        });
        let Some(origin) = origin else {
            let shown = match raw.unwrap_or_default() {
                v if v.contains('@') => "(redacted: it contains `@`)".to_owned(),
                v => format!("`{}`", clip(v, 80)),
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `graph_base` = {shown} is not an http:// or \
                 https:// URL with a host and no credentials, query or fragment: use e.g. \
                 `{DEFAULT_GRAPH_BASE}`"
            )));
        };
        Ok(Settings {
            tenant: tenant.to_owned(),
            tenant_id: tenant_id.to_ascii_lowercase(),
            graph_base: base.to_owned(),
            origin,
        })
    }

    /// The configured tenant name.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The Graph root, without a trailing slash.
    pub fn graph_base(&self) -> &str {
        &self.graph_base
    }

    /// `{graph_base}/v1.0/{rest}`.
    pub fn v1(&self, rest: &str) -> String {
        format!("{}/v1.0/{rest}", self.graph_base)
    }

    /// `{graph_base}/beta/{rest}`.
    pub fn beta(&self, rest: &str) -> String {
        format!("{}/beta/{rest}", self.graph_base)
    }

    /// A URL from a response, if it stays on the Graph origin.
    fn same_origin(&self, url: &str) -> Option<String> {
        if url.len() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let absolute = if url.starts_with('/') && !url.starts_with("//") {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        };
        (origin(&absolute)? == self.origin).then_some(absolute)
    }
}

/// An object id safe to put in a URL path: GUIDs and Entra's base64url grant ids.
pub fn safe_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

// ---------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------

/// Sends one request: the host's egress in the connector, canned answers in tests.
pub trait Transport {
    /// Sends `method url` with `headers` and an optional body.
    fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, Error>;
}

/// Headers for every Graph request. Never `Authorization`: the host attaches the
/// tenant's credential.
pub fn headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/json"),
        ("user-agent", USER_AGENT),
        // Recommended for oauth2PermissionGrants (API.md §6); harmless elsewhere.
        ("consistencylevel", "eventual"),
    ]
}

fn get(t: &mut dyn Transport, url: &str) -> Result<Response, Error> {
    t.send(Method::Get, url, &headers(), None)
}

fn send_json(
    t: &mut dyn Transport,
    method: Method,
    url: &str,
    body: &serde_json::Value,
) -> Result<Response, Error> {
    let mut h = headers();
    h.push(("content-type", "application/json"));
    t.send(method, url, &h, Some(body.to_string().into_bytes()))
}

// ---------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------

/// Task kind: a page of `GET /oauth2PermissionGrants`.
pub const TASK_DELEGATED: &str = "delegated-grants";
/// Task kind: a page of `GET /servicePrincipals` (finding resources with app roles).
pub const TASK_SERVICE_PRINCIPALS: &str = "service-principals";
/// Task kind: a page of `GET /servicePrincipals/{resource}/appRoleAssignedTo`.
pub const TASK_APP_ROLE_HOLDERS: &str = "app-role-holders";

/// A page to fetch, as carried in a task's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTask {
    /// Absolute URL on the Graph origin.
    pub url: String,
    /// 1-based page number, for messages and the page cap.
    pub page: u32,
    /// The resource service principal, for `app-role-holders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// A decoded task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// A page of delegated grants.
    Delegated(PageTask),
    /// A page of service principals.
    ServicePrincipals(PageTask),
    /// A page of one resource's app role holders.
    AppRoleHolders {
        /// The resource service principal's object id.
        resource_id: String,
        /// The page.
        page: PageTask,
    },
}

/// The scan's first tasks: the delegated grants and the service principals.
pub fn start_tasks(settings: &Settings) -> Vec<Task> {
    vec![
        Task::json(
            TASK_DELEGATED,
            &PageTask {
                url: settings.v1(&format!("oauth2PermissionGrants?$top={PAGE_SIZE}")),
                page: 1,
                resource_id: None,
            },
        ),
        Task::json(
            TASK_SERVICE_PRINCIPALS,
            &PageTask {
                url: settings.v1(&format!(
                    "servicePrincipals?$select=id,appId,displayName,appRoles&$top={PAGE_SIZE}"
                )),
                page: 1,
                resource_id: None,
            },
        ),
    ]
}

fn holders_task(settings: &Settings, resource_id: &str) -> Task {
    Task::json(
        TASK_APP_ROLE_HOLDERS,
        &PageTask {
            url: settings.v1(&format!(
                "servicePrincipals/{resource_id}/appRoleAssignedTo?$top={PAGE_SIZE}"
            )),
            page: 1,
            resource_id: Some(resource_id.to_owned()),
        },
    )
}

/// Decodes a task and checks it: it round-trips through the host's checkpoint store,
/// so its URL must still be on the Graph origin.
pub fn decode_task(settings: &Settings, task: &Task) -> Result<Job, Error> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidInput, message);
    let page: PageTask = task.decode()?;
    if settings.same_origin(&page.url).as_deref() != Some(page.url.as_str()) {
        return Err(invalid(format!(
            "task `{}` points outside {}: start a new scan",
            clip(&task.kind, 64),
            settings.graph_base
        )));
    }
    if page.page == 0 || page.page > MAX_PAGES {
        return Err(invalid(format!(
            "task `{}` has page number {}, outside 1–{MAX_PAGES}",
            clip(&task.kind, 64),
            page.page
        )));
    }
    match task.kind.as_str() {
        TASK_DELEGATED => Ok(Job::Delegated(page)),
        TASK_SERVICE_PRINCIPALS => Ok(Job::ServicePrincipals(page)),
        TASK_APP_ROLE_HOLDERS => {
            let resource_id = page
                .resource_id
                .clone()
                .filter(|r| safe_id(r))
                .ok_or_else(|| {
                    invalid("task `app-role-holders` has no usable resource id".to_owned())
                })?;
            Ok(Job::AppRoleHolders { resource_id, page })
        }
        other => Err(invalid(format!(
            "unknown task kind `{}`: this connector runs `{TASK_DELEGATED}`, \
             `{TASK_SERVICE_PRINCIPALS}` and `{TASK_APP_ROLE_HOLDERS}`",
            clip(other, 64)
        ))),
    }
}

/// What one task produced.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The grants found.
    pub grants: Vec<Grant>,
    /// Follow-up tasks (the next page, resources to read).
    pub tasks: Vec<Task>,
    /// Lines for the operator (logged at `warn` by the glue).
    pub warnings: Vec<String>,
}

/// Runs one task against `t`.
pub fn run(settings: &Settings, job: &Job, t: &mut dyn Transport) -> Result<Output, Error> {
    match job {
        Job::Delegated(page) => run_delegated(settings, page, t),
        Job::ServicePrincipals(page) => run_service_principals(settings, page, t),
        Job::AppRoleHolders { resource_id, page } => {
            run_app_role_holders(settings, resource_id, page, t)
        }
    }
}

// ---------------------------------------------------------------------------------
// Response shapes
// ---------------------------------------------------------------------------------

/// A Graph collection page.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Collection<T> {
    #[serde(default = "Vec::new", deserialize_with = "nullable_vec")]
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// One `oAuth2PermissionGrant`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGrantRow {
    /// Grant id.
    pub id: String,
    /// Client service principal id.
    pub client_id: String,
    /// `AllPrincipals` or `Principal`.
    pub consent_type: Option<String>,
    /// The user, for `Principal`.
    pub principal_id: Option<String>,
    /// Resource service principal id.
    pub resource_id: Option<String>,
    /// Space-separated permission values.
    pub scope: Option<String>,
}

/// One `appRoleAssignment`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentRow {
    /// Assignment id.
    pub id: String,
    /// The app role's id on the resource.
    pub app_role_id: Option<String>,
    /// When it was made.
    pub created_date_time: Option<String>,
    /// Who holds it.
    pub principal_id: Option<String>,
    /// `ServicePrincipal`, `User` or `Group`.
    pub principal_type: Option<String>,
    /// Its display name.
    pub principal_display_name: Option<String>,
    /// The resource service principal id.
    pub resource_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedPublisher {
    display_name: Option<String>,
    verified_publisher_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppRole {
    id: Option<String>,
    value: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_member_types: Vec<String>,
    is_enabled: Option<bool>,
}

/// A service principal, as much of it as the connector reads.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id in this tenant.
    pub id: String,
    /// The application's id (the same in every tenant).
    pub app_id: Option<String>,
    display_name: Option<String>,
    app_display_name: Option<String>,
    app_owner_organization_id: Option<String>,
    publisher_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    verified_publisher: VerifiedPublisher,
    sign_in_audience: Option<String>,
    service_principal_type: Option<String>,
    account_enabled: Option<bool>,
    disabled_by_microsoft_status: Option<String>,
    homepage: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    app_roles: Vec<AppRole>,
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
}

impl ServicePrincipal {
    fn app_id(&self) -> &str {
        self.app_id.as_deref().unwrap_or_default().trim()
    }

    fn name(&self) -> String {
        [&self.display_name, &self.app_display_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .map_or_else(|| self.app_id().to_owned(), |s| clip(s, MAX_TEXT))
    }

    /// Microsoft's own app: listed in `microsoft_first_party_apps.json` or owned by a
    /// Microsoft tenant.
    pub fn is_microsoft(&self) -> bool {
        is_first_party_app(self.app_id())
            || self.app_owner_organization_id.as_deref().is_some_and(|o| {
                MICROSOFT_TENANTS.contains(&o.trim().to_ascii_lowercase().as_str())
            })
    }

    /// Whether it exposes an enabled app role that applications can hold.
    fn exposes_app_roles(&self) -> bool {
        self.app_roles.iter().any(|r| {
            r.is_enabled != Some(false) && r.allowed_member_types.iter().any(|m| m == "Application")
        })
    }

    /// `appRoleId → value`.
    fn role_names(&self) -> HashMap<String, String> {
        self.app_roles
            .iter()
            .filter_map(|r| {
                let id = r.id.as_deref()?.trim().to_ascii_lowercase();
                let value = r.value.as_deref()?.trim();
                (!value.is_empty()).then(|| (id, clip(value, MAX_TEXT)))
            })
            .collect()
    }
}

/// Whether `app_id` is in Microsoft's first-party list.
pub fn is_first_party_app(app_id: &str) -> bool {
    // Built once per instance: a task classifies hundreds of service principals, and a
    // linear scan of 4,400 ids each time costs seconds of guest CPU.
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let mut ids: Vec<&str> = FIRST_PARTY
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        ids.sort_unstable();
        ids
    });
    let id = app_id.trim().to_ascii_lowercase();
    !id.is_empty() && list.binary_search(&id.as_str()).is_ok()
}

/// A directory user as `getByIds` returns it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    /// Object id.
    pub id: String,
    /// Sign-in name, e.g. `alice@contoso.com`.
    pub user_principal_name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    last_sign_in_date_time: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInActivity {
    app_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    delegated_client_sign_in_activity: Activity,
    #[serde(default, deserialize_with = "nullable")]
    application_authentication_client_sign_in_activity: Activity,
}

/// Deserialises `null` as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Deserialises a `null` list as empty.
fn nullable_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(Option::unwrap_or_default)
}

/// Decodes a response body with a clipped message.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse Microsoft Graph's {what}: {}; if this persists, check that \
                 `graph_base` is a Microsoft Graph root",
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

// ---------------------------------------------------------------------------------
// Paging
// ---------------------------------------------------------------------------------

/// The page after `page`, from `@odata.nextLink` followed verbatim. Graph can answer an
/// empty page that still links on (API.md §4), so an empty `value` never ends a listing;
/// only a missing link does. A link off the Graph origin, back to the same page or past
/// [`MAX_PAGES`] is an error: stopping quietly would make an incomplete scan look
/// complete.
fn next_page(
    settings: &Settings,
    what: &str,
    page: &PageTask,
    link: Option<&str>,
) -> Result<Option<PageTask>, Error> {
    let Some(link) = link.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let malformed = |why: String| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "Microsoft Graph's next link for {what} in `{}` {why}; the listing is incomplete",
                settings.tenant
            ),
        )
    };
    let Some(url) = settings.same_origin(link) else {
        return Err(malformed(format!(
            "(`{}`) is not on {}: refusing to follow it",
            clip(link, 120),
            settings.origin
        )));
    };
    if url == page.url {
        return Err(malformed("points back to the same page".to_owned()));
    }
    let number = page.page.saturating_add(1);
    if number > MAX_PAGES {
        return Err(malformed(format!("goes past {MAX_PAGES} pages")));
    }
    Ok(Some(PageTask {
        url,
        page: number,
        resource_id: page.resource_id.clone(),
    }))
}

fn next_task(kind: &str, next: Option<PageTask>) -> Vec<Task> {
    next.map(|p| Task::json(kind, &p)).into_iter().collect()
}

// ---------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------

/// Resolves directory objects by id, at most [`MAX_IDS`] a call.
fn get_by_ids<T: DeserializeOwned>(
    settings: &Settings,
    t: &mut dyn Transport,
    ids: &BTreeSet<String>,
    kind: &str,
) -> Result<Vec<T>, Error> {
    let ids: Vec<&String> = ids.iter().filter(|i| safe_id(i)).collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_IDS) {
        let body = serde_json::json!({"ids": chunk, "types": [kind]});
        let url = settings.v1("directoryObjects/getByIds");
        let resp = send_json(t, Method::Post, &url, &body)?;
        if resp.status != 200 {
            return Err(classify(settings, Operation::GetByIds, &resp));
        }
        let page: Collection<serde_json::Value> = decode("directory objects", &resp.body)?;
        for v in page.value {
            // Objects of another type (or that fail to parse) are left out: the caller
            // treats them as unknown.
            if let Ok(x) = serde_json::from_value::<T>(v) {
                out.push(x);
            }
        }
    }
    Ok(out)
}

fn service_principals(
    settings: &Settings,
    t: &mut dyn Transport,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, ServicePrincipal>, Error> {
    let list: Vec<ServicePrincipal> = get_by_ids(settings, t, ids, "servicePrincipal")?;
    Ok(list
        .into_iter()
        .filter(|s| {
            s.odata_type
                .as_deref()
                .is_none_or(|o| o.eq_ignore_ascii_case("#microsoft.graph.servicePrincipal"))
        })
        .map(|s| (s.id.to_ascii_lowercase(), s))
        .collect())
}

fn users(
    settings: &Settings,
    t: &mut dyn Transport,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, DirectoryUser>, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<DirectoryUser> = get_by_ids(settings, t, ids, "user")?;
    Ok(list
        .into_iter()
        .filter(|u| {
            u.odata_type
                .as_deref()
                .is_none_or(|o| o.eq_ignore_ascii_case("#microsoft.graph.user"))
        })
        .map(|u| (u.id.to_ascii_lowercase(), u))
        .collect())
}

/// Last sign-ins per app from the service-principal sign-in activity report.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Whether the report could be read at all.
    pub available: bool,
    /// Why not, when it could not.
    pub reason: Option<String>,
    /// `appId` (lower case) → (last delegated sign-in, last app-only sign-in).
    pub by_app: HashMap<String, (Option<String>, Option<String>)>,
}

impl Usage {
    fn of(&self, app_id: &str) -> (Option<String>, Option<String>) {
        self.by_app
            .get(&app_id.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }
}

/// Reads the report for `apps`. A tenant without the licence (403) or without the
/// beta endpoint (404) has no usage data, which is a note on each grant, not a failure.
fn usage(
    settings: &Settings,
    t: &mut dyn Transport,
    apps: &BTreeSet<String>,
) -> Result<Usage, Error> {
    let mut out = Usage {
        available: true,
        ..Usage::default()
    };
    if apps.is_empty() {
        return Ok(out);
    }
    let mut page = PageTask {
        url: settings.beta(&format!(
            "reports/servicePrincipalSignInActivities?$top={REPORT_PAGE_SIZE}"
        )),
        page: 1,
        resource_id: None,
    };
    loop {
        let resp = get(t, &page.url)?;
        match resp.status {
            200 => {}
            400 | 403 | 404 => {
                return Ok(Usage {
                    available: false,
                    reason: Some(format!(
                        "the service-principal sign-in activity report answered {} ({}); it \
                         needs AuditLog.Read.All and an Entra ID P1/P2 licence",
                        resp.status,
                        excerpt(&resp)
                    )),
                    by_app: HashMap::new(),
                });
            }
            _ => return Err(classify(settings, Operation::ReadSignIns, &resp)),
        }
        let list: Collection<SignInActivity> = decode("sign-in activity report", &resp.body)?;
        for a in list.value {
            let Some(app) = a.app_id.map(|x| x.trim().to_ascii_lowercase()) else {
                continue;
            };
            if apps.contains(&app) {
                let when = |x: &Activity| x.last_sign_in_date_time.as_deref().and_then(rfc3339_utc);
                out.by_app.insert(
                    app,
                    (
                        when(&a.delegated_client_sign_in_activity),
                        when(&a.application_authentication_client_sign_in_activity),
                    ),
                );
            }
        }
        match next_page(
            settings,
            "sign-in activity",
            &page,
            list.next_link.as_deref(),
        )? {
            Some(next) if next.page <= MAX_REPORT_PAGES => page = next,
            Some(_) => {
                out.reason = Some(format!(
                    "the sign-in activity report is longer than {MAX_REPORT_PAGES} pages; apps \
                     past them show no last use"
                ));
                return Ok(out);
            }
            None => return Ok(out),
        }
    }
}

// ---------------------------------------------------------------------------------
// Delegated grants
// ---------------------------------------------------------------------------------

fn run_delegated(
    settings: &Settings,
    page: &PageTask,
    t: &mut dyn Transport,
) -> Result<Output, Error> {
    let resp = get(t, &page.url)?;
    if resp.status != 200 {
        return Err(classify(settings, Operation::ListDelegated, &resp));
    }
    let list: Collection<PermissionGrantRow> =
        decode("delegated permission grant list", &resp.body)?;
    let next = next_page(
        settings,
        "delegated permission grants",
        page,
        list.next_link.as_deref(),
    )?;
    let mut out = Output {
        tasks: next_task(TASK_DELEGATED, next),
        ..Output::default()
    };
    let mut rows = Vec::new();
    for r in list.value {
        if safe_id(&r.id) && safe_id(&r.client_id) {
            rows.push(r);
        } else {
            out.warnings.push(format!(
                "skipped a delegated permission grant with an unusable id (`{}`)",
                clip(&r.id, 64)
            ));
        }
    }
    if rows.is_empty() {
        return Ok(out);
    }
    let mut sp_ids: BTreeSet<String> = rows
        .iter()
        .map(|r| r.client_id.to_ascii_lowercase())
        .collect();
    sp_ids.extend(
        rows.iter()
            .filter_map(|r| r.resource_id.as_deref())
            .map(str::to_ascii_lowercase),
    );
    let sps = service_principals(settings, t, &sp_ids)?;
    let third_party = |r: &PermissionGrantRow| {
        sps.get(&r.client_id.to_ascii_lowercase())
            .filter(|s| !s.is_microsoft())
    };
    let kept: Vec<&PermissionGrantRow> = rows.iter().filter(|r| third_party(r).is_some()).collect();
    for r in &rows {
        if !sps.contains_key(&r.client_id.to_ascii_lowercase()) {
            out.warnings.push(format!(
                "skipped delegated permission grant `{}`: its client service principal `{}` \
                 was not found (deleted since?)",
                clip(&r.id, 64),
                clip(&r.client_id, 64)
            ));
        }
    }
    if kept.is_empty() {
        return Ok(out);
    }
    let user_ids: BTreeSet<String> = kept
        .iter()
        .filter(|r| !is_admin_consent(r))
        .filter_map(|r| r.principal_id.as_deref())
        .map(str::to_ascii_lowercase)
        .collect();
    let people = users(settings, t, &user_ids)?;
    let apps: BTreeSet<String> = kept
        .iter()
        .filter_map(|r| third_party(r))
        .map(|s| s.app_id().to_ascii_lowercase())
        .collect();
    let usage = usage(settings, t, &apps)?;
    if let Some(why) = &usage.reason {
        out.warnings.push(why.clone());
    }
    for r in kept {
        let Some(client) = third_party(r) else {
            continue;
        };
        let resource = r
            .resource_id
            .as_deref()
            .and_then(|id| sps.get(&id.to_ascii_lowercase()));
        let user = r
            .principal_id
            .as_deref()
            .and_then(|id| people.get(&id.to_ascii_lowercase()));
        match delegated_grant(settings, r, client, resource, user, &usage) {
            Ok(g) => out.grants.push(g),
            Err(e) => out.warnings.push(e.message),
        }
    }
    Ok(out)
}

fn is_admin_consent(r: &PermissionGrantRow) -> bool {
    r.consent_type
        .as_deref()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("AllPrincipals"))
}

/// The scope string split on whitespace, without repeats, sorted.
pub fn split_scopes(scope: &str) -> Vec<String> {
    scope
        .split_whitespace()
        .map(|s| clip(s, MAX_TEXT))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The handle of a `delete-permission-grant` target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionGrantHandle {
    /// The grant's id.
    pub grant_id: String,
    /// The client service principal's object id.
    pub client_id: String,
}

/// The handle of a `delete-app-role-assignment` target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentHandle {
    /// The assignment's id.
    pub assignment_id: String,
    /// The resource service principal's object id.
    pub resource_id: String,
    /// The client service principal's object id.
    pub client_id: String,
}

fn handle_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Maps one delegated permission grant of a third-party client to a grant.
pub fn delegated_grant(
    settings: &Settings,
    r: &PermissionGrantRow,
    client: &ServicePrincipal,
    resource: Option<&ServicePrincipal>,
    user: Option<&DirectoryUser>,
    usage: &Usage,
) -> Result<Grant, Error> {
    let admin = is_admin_consent(r);
    let (delegated_use, _) = usage.of(client.app_id());
    let mut attributes = vec![
        attr(
            "consent_type",
            r.consent_type.as_deref().unwrap_or("unknown"),
        ),
        attr("client_service_principal_id", &client.id),
    ];
    add_resource(&mut attributes, r.resource_id.as_deref(), resource);
    let mut notes = vec![
        "Entra records no creation date for a delegated permission grant; directory audits \
         (\"Consent to application\") keep it only for 7–30 days."
            .to_owned(),
    ];
    let principal = if admin {
        notes.push(
            "An administrator consented on behalf of every user in the tenant (AllPrincipals)."
                .to_owned(),
        );
        Principal {
            kind: PrincipalKind::Tenant,
            id: settings.tenant.clone(),
            display: None,
        }
    } else {
        let user_id = r.principal_id.as_deref().map(str::trim).unwrap_or_default();
        match user {
            Some(u) => Principal {
                kind: PrincipalKind::User,
                id: clip(
                    u.user_principal_name.as_deref().unwrap_or(&u.id).trim(),
                    MAX_TEXT,
                ),
                display: u.display_name.as_deref().map(|d| clip(d, MAX_TEXT)),
            },
            None if !user_id.is_empty() => {
                notes.push(format!(
                    "The user `{}` was not found in the directory, so the grant names their \
                     object id instead of their user principal name.",
                    clip(user_id, 64)
                ));
                Principal {
                    kind: PrincipalKind::User,
                    id: clip(user_id, MAX_TEXT),
                    display: None,
                }
            }
            None => {
                return Err(Error::new(
                    ErrorCode::Malformed,
                    format!(
                        "skipped delegated permission grant `{}`: it names no user and is not an \
                         admin consent",
                        clip(&r.id, 64)
                    ),
                ));
            }
        }
    };
    if let Some(u) = user {
        attributes.push(attr("user_object_id", &u.id));
    }
    let last_used = if admin {
        usage_notes(
            &mut attributes,
            &mut notes,
            usage,
            delegated_use.as_deref(),
            true,
        );
        delegated_use
    } else {
        attributes.push(attr("usage_reported", "false"));
        if let Some(t) = &delegated_use {
            attributes.push(attr("app_last_delegated_sign_in", t));
        }
        notes.push(
            "Entra reports sign-ins per app, not per user consent, so this user's last use of \
             the app is unknown (see app_last_delegated_sign_in for the app's)."
                .to_owned(),
        );
        None
    };
    app_notes(&mut notes, client);
    let local = format!("permission-grant:{}", r.id);
    Ok(Grant {
        id: local.clone(),
        app: app(settings, client),
        principal,
        kind: if admin {
            GrantKind::AdminConsent
        } else {
            GrantKind::Delegated
        },
        scopes: split_scopes(r.scope.as_deref().unwrap_or_default()),
        created_at: None,
        last_used_at: last_used,
        expires_at: None,
        revocation: Some(RevocationTarget {
            grant_id: local,
            action: ACTION_PERMISSION_GRANT.to_owned(),
            handle: handle_json(&PermissionGrantHandle {
                grant_id: r.id.clone(),
                client_id: client.id.clone(),
            }),
        }),
        attributes,
        notes,
    })
}

fn add_resource(
    attributes: &mut Vec<(String, String)>,
    resource_id: Option<&str>,
    resource: Option<&ServicePrincipal>,
) {
    if let Some(id) = resource_id {
        attributes.push(attr("resource_service_principal_id", id));
    }
    if let Some(r) = resource {
        attributes.push(attr("resource_app_id", r.app_id()));
        attributes.push(attr("resource_name", r.name()));
    }
}

fn usage_notes(
    attributes: &mut Vec<(String, String)>,
    notes: &mut Vec<String>,
    usage: &Usage,
    when: Option<&str>,
    delegated: bool,
) {
    if usage.available {
        attributes.push(attr("usage_reported", "true"));
        if when.is_none() {
            notes.push(format!(
                "The sign-in activity report shows no {} sign-in of this app in its retention \
                 window.",
                if delegated { "delegated" } else { "app-only" }
            ));
        }
    } else {
        attributes.push(attr("usage_reported", "false"));
        notes.push(
            "Last use is unknown: the service-principal sign-in activity report was not \
             available (it needs AuditLog.Read.All and an Entra ID P1/P2 licence)."
                .to_owned(),
        );
    }
}

fn app_notes(notes: &mut Vec<String>, client: &ServicePrincipal) {
    if client.account_enabled == Some(false) {
        notes.push(
            "The app's service principal is disabled (accountEnabled=false): it gets no new \
             tokens in this tenant, but the grant remains and applies again if it is \
             re-enabled."
                .to_owned(),
        );
    }
    if client
        .disabled_by_microsoft_status
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
    {
        notes.push("Microsoft has disabled this app (disabledByMicrosoftStatus).".to_owned());
    }
}

/// The app record of a client service principal.
fn app(settings: &Settings, sp: &ServicePrincipal) -> App {
    let verified = sp
        .verified_publisher
        .verified_publisher_id
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty());
    let publisher = if verified {
        sp.verified_publisher.display_name.as_deref()
    } else {
        None
    }
    .or(sp.publisher_name.as_deref())
    .map(str::trim)
    .filter(|p| !p.is_empty())
    .map(|p| clip(p, MAX_TEXT));
    let owner = sp
        .app_owner_organization_id
        .as_deref()
        .map(|o| o.trim().to_ascii_lowercase());
    let mut attributes = vec![
        attr("service_principal_id", &sp.id),
        attr(
            "verified_publisher",
            if verified { "true" } else { "false" },
        ),
    ];
    if let Some(p) = &sp.publisher_name {
        attributes.push(attr("publisher_name", p));
    }
    if verified {
        if let Some(id) = &sp.verified_publisher.verified_publisher_id {
            attributes.push(attr("verified_publisher_id", id));
        }
        if let Some(n) = &sp.verified_publisher.display_name {
            attributes.push(attr("verified_publisher_name", n));
        }
    }
    if let Some(a) = &sp.sign_in_audience {
        attributes.push(attr("sign_in_audience", a));
    }
    attributes.push(attr(
        "account_enabled",
        match sp.account_enabled {
            Some(true) => "true",
            Some(false) => "false",
            None => "unknown",
        },
    ));
    if let Some(t) = &sp.service_principal_type {
        attributes.push(attr("service_principal_type", t));
    }
    if let Some(o) = &owner {
        attributes.push(attr("app_owner_organization_id", o));
        attributes.push(attr(
            "home_tenant",
            if *o == settings.tenant_id {
                "true"
            } else {
                "false"
            },
        ));
    }
    if let Some(h) = sp
        .homepage
        .as_deref()
        .filter(|h| origin(h.trim()).is_some())
    {
        attributes.push(attr("homepage", h.trim()));
    }
    App {
        id: clip(sp.app_id(), MAX_TEXT),
        name: sp.name(),
        publisher,
        attributes,
    }
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

// ---------------------------------------------------------------------------------
// Application permissions
// ---------------------------------------------------------------------------------

fn run_service_principals(
    settings: &Settings,
    page: &PageTask,
    t: &mut dyn Transport,
) -> Result<Output, Error> {
    let resp = get(t, &page.url)?;
    if resp.status != 200 {
        return Err(classify(settings, Operation::ListServicePrincipals, &resp));
    }
    let list: Collection<ServicePrincipal> = decode("service principal list", &resp.body)?;
    let next = next_page(
        settings,
        "service principals",
        page,
        list.next_link.as_deref(),
    )?;
    let mut out = Output {
        tasks: next_task(TASK_SERVICE_PRINCIPALS, next),
        ..Output::default()
    };
    for sp in &list.value {
        if !sp.exposes_app_roles() {
            continue;
        }
        if safe_id(&sp.id) {
            out.tasks.push(holders_task(settings, &sp.id));
        } else {
            out.warnings.push(format!(
                "skipped resource service principal with an unusable id (`{}`)",
                clip(&sp.id, 64)
            ));
        }
    }
    Ok(out)
}

fn run_app_role_holders(
    settings: &Settings,
    resource_id: &str,
    page: &PageTask,
    t: &mut dyn Transport,
) -> Result<Output, Error> {
    let resource_url = settings.v1(&format!(
        "servicePrincipals/{resource_id}?$select=id,appId,displayName,appRoles"
    ));
    let resp = get(t, &resource_url)?;
    let resource: ServicePrincipal = match resp.status {
        200 => decode("resource service principal", &resp.body)?,
        // Deleted since the service principals were listed: it has no holders left.
        404 => {
            return Ok(Output {
                warnings: vec![format!(
                    "resource service principal `{resource_id}` disappeared during the scan"
                )],
                ..Output::default()
            });
        }
        _ => return Err(classify(settings, Operation::ReadServicePrincipal, &resp)),
    };
    let resp = get(t, &page.url)?;
    if resp.status != 200 {
        return Err(classify(settings, Operation::ListAppRoleHolders, &resp));
    }
    let list: Collection<AssignmentRow> = decode("app role assignment list", &resp.body)?;
    let next = next_page(
        settings,
        "app role assignments",
        page,
        list.next_link.as_deref(),
    )?;
    let mut out = Output {
        tasks: next_task(TASK_APP_ROLE_HOLDERS, next),
        ..Output::default()
    };
    // Users and groups assigned to an app are access to it, not permissions of an app.
    let rows: Vec<AssignmentRow> = list
        .value
        .into_iter()
        .filter(|a| {
            a.principal_type
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("ServicePrincipal"))
        })
        .filter(|a| {
            let ok = safe_id(&a.id) && a.principal_id.as_deref().is_some_and(safe_id);
            if !ok {
                out.warnings.push(format!(
                    "skipped an app role assignment with an unusable id (`{}`)",
                    clip(&a.id, 64)
                ));
            }
            ok
        })
        .collect();
    if rows.is_empty() {
        return Ok(out);
    }
    let ids: BTreeSet<String> = rows
        .iter()
        .filter_map(|a| a.principal_id.as_deref())
        .map(str::to_ascii_lowercase)
        .collect();
    let sps = service_principals(settings, t, &ids)?;
    let client_of = |a: &AssignmentRow| {
        a.principal_id
            .as_deref()
            .and_then(|p| sps.get(&p.to_ascii_lowercase()))
    };
    let apps: BTreeSet<String> = rows
        .iter()
        .filter_map(&client_of)
        .filter(|s| !s.is_microsoft())
        .map(|s| s.app_id().to_ascii_lowercase())
        .collect();
    if apps.is_empty() {
        return Ok(out);
    }
    let usage = usage(settings, t, &apps)?;
    if let Some(why) = &usage.reason {
        out.warnings.push(why.clone());
    }
    let roles = resource.role_names();
    for a in &rows {
        match client_of(a) {
            Some(c) if c.is_microsoft() => {}
            Some(c) => out
                .grants
                .push(application_grant(settings, a, c, &resource, &roles, &usage)),
            None => out.warnings.push(format!(
                "skipped app role assignment `{}`: its service principal `{}` was not found",
                clip(&a.id, 64),
                clip(a.principal_id.as_deref().unwrap_or_default(), 64)
            )),
        }
    }
    Ok(out)
}

/// Maps one app role assignment held by a third-party service principal to a grant.
fn application_grant(
    settings: &Settings,
    a: &AssignmentRow,
    client: &ServicePrincipal,
    resource: &ServicePrincipal,
    roles: &HashMap<String, String>,
    usage: &Usage,
) -> Grant {
    let role_id = a
        .app_role_id
        .as_deref()
        .map(|r| r.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut notes = Vec::new();
    let scope = match roles.get(&role_id) {
        Some(name) => name.clone(),
        None => {
            notes.push(format!(
                "App role `{}` is not among {}'s app roles (a retired permission or a custom \
                 API); it is reported by id.",
                clip(&role_id, 64),
                resource.name()
            ));
            clip(&role_id, MAX_TEXT)
        }
    };
    let mut attributes = vec![
        attr("app_role_id", &role_id),
        attr("client_service_principal_id", &client.id),
    ];
    add_resource(&mut attributes, Some(&resource.id), Some(resource));
    let (_, app_use) = usage.of(client.app_id());
    usage_notes(
        &mut attributes,
        &mut notes,
        usage,
        app_use.as_deref(),
        false,
    );
    notes.push(
        "An application permission acts without a signed-in user, across the whole tenant."
            .to_owned(),
    );
    app_notes(&mut notes, client);
    let local = format!("app-role-assignment:{}", a.id);
    Grant {
        id: local.clone(),
        app: app(settings, client),
        principal: Principal {
            kind: PrincipalKind::Service,
            id: clip(&client.id, MAX_TEXT),
            display: a
                .principal_display_name
                .as_deref()
                .map(|d| clip(d, MAX_TEXT)),
        },
        kind: GrantKind::Application,
        scopes: if scope.is_empty() {
            Vec::new()
        } else {
            vec![scope]
        },
        created_at: a.created_date_time.as_deref().and_then(rfc3339_utc),
        last_used_at: app_use,
        expires_at: None,
        revocation: Some(RevocationTarget {
            grant_id: local,
            action: ACTION_APP_ROLE_ASSIGNMENT.to_owned(),
            handle: handle_json(&AssignmentHandle {
                assignment_id: a.id.clone(),
                resource_id: resource.id.clone(),
                client_id: client.id.clone(),
            }),
        }),
        attributes,
        notes,
    }
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A call the connector makes, for error messages and the permission it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `GET /oauth2PermissionGrants`.
    ListDelegated,
    /// `GET /servicePrincipals`.
    ListServicePrincipals,
    /// `GET /servicePrincipals/{id}`.
    ReadServicePrincipal,
    /// `GET /servicePrincipals/{id}/appRoleAssignedTo`.
    ListAppRoleHolders,
    /// `POST /directoryObjects/getByIds`.
    GetByIds,
    /// `GET /beta/reports/servicePrincipalSignInActivities`.
    ReadSignIns,
    /// `GET /servicePrincipals/{id}/oauth2PermissionGrants` or `/appRoleAssignments`.
    ReadClientGrants,
    /// `DELETE /oauth2PermissionGrants/{id}`.
    DeletePermissionGrant,
    /// `DELETE /servicePrincipals/{id}/appRoleAssignedTo/{id}`.
    DeleteAssignment,
    /// `PATCH /servicePrincipals/{id}`.
    DisableServicePrincipal,
}

impl Operation {
    fn what(self) -> &'static str {
        match self {
            Operation::ListDelegated => "listing delegated permission grants",
            Operation::ListServicePrincipals => "listing service principals",
            Operation::ReadServicePrincipal => "reading a resource service principal",
            Operation::ListAppRoleHolders => "listing app role assignments",
            Operation::GetByIds => "resolving directory objects by id",
            Operation::ReadSignIns => "reading the sign-in activity report",
            Operation::ReadClientGrants => "reading a service principal's grants",
            Operation::DeletePermissionGrant => "deleting a delegated permission grant",
            Operation::DeleteAssignment => "deleting an app role assignment",
            Operation::DisableServicePrincipal => "disabling a service principal",
        }
    }

    /// The Graph application permission the call needs (API.md §2).
    pub fn permission(self) -> &'static str {
        match self {
            Operation::ListServicePrincipals
            | Operation::ReadServicePrincipal
            | Operation::ListAppRoleHolders
            | Operation::ReadClientGrants => "Application.Read.All",
            Operation::ListDelegated | Operation::GetByIds => "Directory.Read.All",
            Operation::ReadSignIns => "AuditLog.Read.All",
            Operation::DeletePermissionGrant => "DelegatedPermissionGrant.ReadWrite.All",
            Operation::DeleteAssignment => "AppRoleAssignment.ReadWrite.All",
            Operation::DisableServicePrincipal => "Application.ReadWrite.All",
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

/// `(code, message)` of Graph's error body, if the body is one.
pub fn graph_error(body: &[u8]) -> Option<(String, String)> {
    let e = serde_json::from_slice::<ErrorBody>(body).ok()?.error?;
    Some((e.code.unwrap_or_default(), e.message.unwrap_or_default()))
}

fn excerpt(resp: &Response) -> String {
    let text = match graph_error(&resp.body) {
        Some((code, message)) if !code.is_empty() => format!("{code}: {message}"),
        Some((_, message)) => message,
        None => resp.excerpt(),
    };
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(flat.trim(), MAX_EXCERPT)
}

/// Turns a response that is not the expected success into an error naming what failed
/// and what to do.
pub fn classify(settings: &Settings, op: Operation, resp: &Response) -> Error {
    let status = resp.status;
    let tenant = &settings.tenant;
    let what = op.what();
    let message = excerpt(resp);
    let permission = op.permission();
    match status {
        429 => {
            let after = resp
                .header("retry-after")
                .map(|s| format!("; retry after {} s", clip(s.trim(), 16)))
                .unwrap_or_default();
            Error::new(
                ErrorCode::RateLimited,
                format!(
                    "Microsoft Graph throttled {what} in `{tenant}` (429: {message}{after}): \
                     run again later or lower the tenant's request rate"
                ),
            )
        }
        401 => Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "Microsoft Graph refused the token while {what} in `{tenant}` (401: {message}): \
                 check the app registration's client id, secret or certificate and that it \
                 belongs to tenant `{}`",
                settings.tenant_id
            ),
        ),
        403 => Error::new(
            ErrorCode::Permission,
            format!(
                "Microsoft Graph denied {what} in `{tenant}` (403: {message}): grant the \
                 auditor app the application permission `{permission}` and have an \
                 administrator consent to it"
            ),
        ),
        404 => Error::new(
            ErrorCode::Config,
            format!(
                "Microsoft Graph answered 404 while {what} in `{tenant}` ({message}): check \
                 the `tenant_id` and `graph_base` settings"
            ),
        ),
        500..=599 => Error::new(
            ErrorCode::Provider,
            format!(
                "Microsoft Graph failed while {what} in `{tenant}` ({status}: {message}): try \
                 again later"
            ),
        ),
        _ => Error::new(
            ErrorCode::Provider,
            format!(
                "Microsoft Graph answered an unexpected {status} while {what} in `{tenant}` \
                 ({message}): report it to the connector's maintainers"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A delegated permission grant (user or admin consent).
    PermissionGrant(PermissionGrantHandle),
    /// An app role assignment (an application permission).
    Assignment(AssignmentHandle),
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id and that
    /// every id in it is safe to put in a URL.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let handle = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            ACTION_PERMISSION_GRANT => {
                let h: PermissionGrantHandle =
                    serde_json::from_str(&target.handle).map_err(handle)?;
                if !safe_id(&h.grant_id) || !safe_id(&h.client_id) {
                    return Err(invalid("has an unusable id in its handle".to_owned()));
                }
                Target::PermissionGrant(h)
            }
            ACTION_APP_ROLE_ASSIGNMENT => {
                let h: AssignmentHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                if !safe_id(&h.assignment_id) || !safe_id(&h.resource_id) || !safe_id(&h.client_id)
                {
                    return Err(invalid("has an unusable id in its handle".to_owned()));
                }
                Target::Assignment(h)
            }
            _ => {
                return Err(invalid(format!(
                    "has an unknown action: this connector revokes `{ACTION_PERMISSION_GRANT}` \
                     and `{ACTION_APP_ROLE_ASSIGNMENT}`"
                )));
            }
        };
        // The host may pass the qualified id (`microsoft-entra/{tenant}/{local}`); local
        // ids contain no `/`.
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
            Target::PermissionGrant(h) => format!("permission-grant:{}", h.grant_id),
            Target::Assignment(h) => format!("app-role-assignment:{}", h.assignment_id),
        }
    }

    fn object_id(&self) -> &str {
        match self {
            Target::PermissionGrant(h) => &h.grant_id,
            Target::Assignment(h) => &h.assignment_id,
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Target::PermissionGrant(h) => &h.client_id,
            Target::Assignment(h) => &h.client_id,
        }
    }
}

/// What became of the client's service principal after a grant was revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpOutcome {
    /// Other grants remain, so it stays enabled.
    GrantsRemain,
    /// It was disabled now.
    Disabled,
    /// It was already disabled.
    AlreadyDisabled,
    /// It no longer exists.
    Gone,
    /// The check or the update failed (the grant itself is revoked).
    Failed(String),
}

/// Revokes one target: deletes the grant, then disables the client's service principal
/// when (by reading) no other grant of it remains. The deletion is the only call that
/// addresses the grant; the disabling is an idempotent `PATCH` counted by the provider
/// under the service principal, so a grant's revocation stays exactly-once countable.
pub fn revoke(
    settings: &Settings,
    target: &RevocationTarget,
    t: &mut dyn Transport,
) -> Result<Revocation, Error> {
    let target = Target::parse(target)?;
    let (url, op) = match &target {
        Target::PermissionGrant(h) => (
            settings.v1(&format!("oauth2PermissionGrants/{}", h.grant_id)),
            Operation::DeletePermissionGrant,
        ),
        Target::Assignment(h) => (
            settings.v1(&format!(
                "servicePrincipals/{}/appRoleAssignedTo/{}",
                h.resource_id, h.assignment_id
            )),
            Operation::DeleteAssignment,
        ),
    };
    let status = match t.send(Method::Delete, &url, &headers(), None) {
        Ok(resp) => match resp.status {
            200 | 204 => RevocationStatus::Revoked,
            404 => RevocationStatus::AlreadyGone,
            _ => {
                return Err(unanswered(
                    settings,
                    &target,
                    t,
                    classify(settings, op, &resp),
                ));
            }
        },
        Err(e) => return Err(unanswered(settings, &target, t, e)),
    };
    // The grant is gone whatever happens next: a failure below is reported in the
    // answer, never as an error that would make the host try the deletion again.
    let sp = finish_service_principal(settings, &target, t);
    Ok(revocation_answer(settings, &target, status, &sp))
}

/// A deletion without a clear answer may still have landed, and the host will learn
/// the grant's fate only by re-reading it (no second `revoke` when it is gone). So the
/// service principal is finished now: the check ignores this grant, so if no other
/// grant remains it is disabled whatever became of this one (a disabled service
/// principal gets no tokens, so that is safe even if the deletion did not land and
/// is tried again). A refusal or a rate limit says nothing was done: nothing more is
/// sent.
fn unanswered(settings: &Settings, target: &Target, t: &mut dyn Transport, e: Error) -> Error {
    if !matches!(
        e.code,
        ErrorCode::Provider | ErrorCode::Malformed | ErrorCode::Egress
    ) {
        return e;
    }
    let sp = match finish_service_principal(settings, target, t) {
        SpOutcome::Disabled => "; no other grant remains, so the service principal was disabled",
        SpOutcome::AlreadyDisabled => "; the service principal is already disabled",
        SpOutcome::GrantsRemain | SpOutcome::Gone | SpOutcome::Failed(_) => "",
    };
    Error::new(e.code, format!("{}{sp}", e.message))
}

/// Whether any grant other than `except` remains in a walk of `first_url`; `None` when
/// the service principal is gone (404).
fn any_other(
    settings: &Settings,
    t: &mut dyn Transport,
    first_url: String,
    except: &str,
) -> Result<Option<bool>, Error> {
    let mut page = PageTask {
        url: first_url,
        page: 1,
        resource_id: None,
    };
    loop {
        let resp = get(t, &page.url)?;
        match resp.status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(classify(settings, Operation::ReadClientGrants, &resp)),
        }
        let list: Collection<IdOnly> = decode("grant list", &resp.body)?;
        if list.value.iter().any(|g| g.id != except) {
            return Ok(Some(true));
        }
        match next_page(
            settings,
            "a service principal's grants",
            &page,
            list.next_link.as_deref(),
        )? {
            Some(next) if next.page <= MAX_WALK_PAGES => page = next,
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::Malformed,
                    format!("the grant listing goes past {MAX_WALK_PAGES} pages"),
                ));
            }
            None => return Ok(Some(false)),
        }
    }
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnabledOnly {
    account_enabled: Option<bool>,
}

/// How many times the read-only check before a disable is tried. Reading is safe to
/// repeat, and a garbled page (which the host's egress cannot tell from a good one)
/// would otherwise leave the service principal enabled with only a manual step.
const SP_CHECK_TRIES: u32 = 3;

/// What the reads before a disable found.
enum SpCheck {
    /// Settled without a write: other grants remain, it is gone, or already disabled.
    Settled(SpOutcome),
    /// No other grant remains and it is enabled: disable it.
    Disable,
}

fn finish_service_principal(
    settings: &Settings,
    target: &Target,
    t: &mut dyn Transport,
) -> SpOutcome {
    let client = target.client_id();
    let mut tries = 0;
    let check = loop {
        tries += 1;
        match check_service_principal(settings, target, t) {
            Err(e)
                if tries < SP_CHECK_TRIES
                    && matches!(e.code, ErrorCode::Malformed | ErrorCode::Provider) => {}
            other => break other,
        }
    };
    match check {
        Ok(SpCheck::Settled(outcome)) => outcome,
        Err(e) => SpOutcome::Failed(e.message),
        // The write is sent once: a failure after it may have landed, and the answer
        // says so instead of guessing.
        Ok(SpCheck::Disable) => {
            let url = settings.v1(&format!("servicePrincipals/{client}"));
            let body = serde_json::json!({"accountEnabled": false});
            match send_json(t, Method::Patch, &url, &body) {
                Ok(resp) => match resp.status {
                    200 | 204 => SpOutcome::Disabled,
                    404 => SpOutcome::Gone,
                    _ => SpOutcome::Failed(
                        classify(settings, Operation::DisableServicePrincipal, &resp).message,
                    ),
                },
                Err(e) => SpOutcome::Failed(e.message),
            }
        }
    }
}

/// The reads before a disable: any other grant of the client, then its enabled state.
fn check_service_principal(
    settings: &Settings,
    target: &Target,
    t: &mut dyn Transport,
) -> Result<SpCheck, Error> {
    let client = target.client_id();
    let except = target.object_id();
    for listing in ["oauth2PermissionGrants", "appRoleAssignments"] {
        let url = settings.v1(&format!(
            "servicePrincipals/{client}/{listing}?$top={PAGE_SIZE}"
        ));
        match any_other(settings, t, url, except)? {
            None => return Ok(SpCheck::Settled(SpOutcome::Gone)),
            Some(true) => return Ok(SpCheck::Settled(SpOutcome::GrantsRemain)),
            Some(false) => {}
        }
    }
    let url = settings.v1(&format!(
        "servicePrincipals/{client}?$select=id,accountEnabled"
    ));
    let resp = get(t, &url)?;
    match resp.status {
        200 => {}
        404 => return Ok(SpCheck::Settled(SpOutcome::Gone)),
        _ => return Err(classify(settings, Operation::ReadServicePrincipal, &resp)),
    }
    let sp: EnabledOnly = decode("service principal", &resp.body)?;
    Ok(if sp.account_enabled == Some(false) {
        SpCheck::Settled(SpOutcome::AlreadyDisabled)
    } else {
        SpCheck::Disable
    })
}

fn revocation_answer(
    settings: &Settings,
    target: &Target,
    status: RevocationStatus,
    sp: &SpOutcome,
) -> Revocation {
    let tenant = &settings.tenant;
    let client = target.client_id();
    let what = match target {
        Target::PermissionGrant(h) => format!("delegated permission grant {}", h.grant_id),
        Target::Assignment(h) => format!("app role assignment {}", h.assignment_id),
    };
    let done = if status == RevocationStatus::Revoked {
        format!("Deleted {what} of service principal {client} in {tenant}")
    } else {
        format!("The {what} of service principal {client} was already gone from {tenant}")
    };
    let after = match sp {
        SpOutcome::GrantsRemain => {
            "; the service principal still holds other grants, so it stays enabled".to_owned()
        }
        SpOutcome::Disabled => "; it held no other grant, so the service principal was disabled \
             (accountEnabled=false, counted under the service principal, not the grant)"
            .to_owned(),
        SpOutcome::AlreadyDisabled => {
            "; it holds no other grant and the service principal is already disabled".to_owned()
        }
        SpOutcome::Gone => "; the service principal no longer exists".to_owned(),
        SpOutcome::Failed(why) => format!(
            "; checking or disabling the service principal failed ({})",
            clip(why, 2 * MAX_EXCERPT)
        ),
    };
    let mut steps = Vec::new();
    match target {
        Target::PermissionGrant(_) => steps.push(
            "Refresh tokens already issued to the app for this grant stay valid until they \
             expire or until the affected users' sessions are revoked (POST \
             /users/{id}/revokeSignInSessions signs a user out of every app); access tokens \
             stay valid for up to about 90 minutes."
                .to_owned(),
        ),
        Target::Assignment(_) => steps.push(
            "App-only access tokens the app already holds stay valid until they expire \
             (about an hour)."
                .to_owned(),
        ),
    }
    match sp {
        SpOutcome::Disabled | SpOutcome::AlreadyDisabled => steps.push(format!(
            "Service principal {client} stays in the tenant, disabled; delete it once it is no \
             longer needed (deleting lets users re-create it by consenting again), or set \
             accountEnabled=true to undo."
        )),
        SpOutcome::Failed(_) => steps.push(format!(
            "Disable service principal {client} by hand if none of its grants should remain \
             (Enterprise applications → Properties → Enabled for users to sign in = No), or \
             revoke this grant again to retry."
        )),
        SpOutcome::GrantsRemain | SpOutcome::Gone => {}
    }
    steps.push(
        "Users may consent to the app again unless user consent is restricted \
         (Enterprise applications → Consent and permissions)."
            .to_owned(),
    );
    Revocation {
        status,
        detail: format!("{done}{after}."),
        manual_steps: steps,
    }
}

/// Reads whether a target still exists, without changing anything.
pub fn probe(
    settings: &Settings,
    target: &RevocationTarget,
    t: &mut dyn Transport,
) -> Result<TargetState, Error> {
    let target = Target::parse(target)?;
    let listing = match target {
        Target::PermissionGrant(_) => "oauth2PermissionGrants",
        Target::Assignment(_) => "appRoleAssignments",
    };
    let mut page = PageTask {
        url: settings.v1(&format!(
            "servicePrincipals/{}/{listing}?$top={PAGE_SIZE}",
            target.client_id()
        )),
        page: 1,
        resource_id: None,
    };
    loop {
        let resp = get(t, &page.url)?;
        match resp.status {
            200 => {}
            // The client's service principal is gone, and its grants with it.
            404 => return Ok(TargetState::Gone),
            _ => return Err(classify(settings, Operation::ReadClientGrants, &resp)),
        }
        let list: Collection<IdOnly> = decode("grant list", &resp.body)?;
        if list.value.iter().any(|g| g.id == target.object_id()) {
            return Ok(TargetState::Present);
        }
        match next_page(
            settings,
            "a service principal's grants",
            &page,
            list.next_link.as_deref(),
        )? {
            Some(next) if next.page <= MAX_WALK_PAGES * 3 => page = next,
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::Malformed,
                    format!(
                        "the listing for `{}` goes past {} pages; its state is unknown",
                        target.grant_id(),
                        MAX_WALK_PAGES * 3
                    ),
                ));
            }
            None => return Ok(TargetState::Gone),
        }
    }
}

// ---------------------------------------------------------------------------------
