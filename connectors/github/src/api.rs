//! GitHub provider logic, free of I/O.
//!
//! Everything the connector knows about GitHub lives here as pure functions: the
//! settings it accepts, the URLs it builds, how a response page becomes grants and
//! follow-up tasks, how a failed response becomes an error, and how a revocation
//! call's answer becomes a [`Revocation`]. The WIT glue in `lib.rs` only moves bytes
//! between these functions and the host's egress, so every decision here is
//! unit-tested natively against GitHub's own documented payloads.
//!
//! The mapping from GitHub objects to grants is the contract in the crate's
//! `README.md`; the simulator's ground truth follows it, so change both together.
//!
//! Everything a response carries is untrusted: nothing here panics on it, strings
//! copied into grants are clipped, and URLs from it are checked before use.

use std::collections::BTreeMap;
use std::time::Duration;

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

/// The `User-Agent` GitHub requires on every request.
pub const USER_AGENT: &str = concat!("grantscope-connector-github/", env!("CARGO_PKG_VERSION"));

/// The REST API version the mapping was written against, pinned so GitHub cannot
/// change a payload's shape under us.
pub const API_VERSION: &str = "2022-11-28";

/// The API root used when the tenant sets no `api_base`.
pub const DEFAULT_API_BASE: &str = "https://api.github.com";

/// Page size for every listing: GitHub's maximum, so a scan needs the fewest calls.
pub const PER_PAGE: u32 = 100;

/// Most pages one listing may have. Far above any real organisation (five million
/// records), it only stops a provider whose `next` links never end.
pub const MAX_PAGES: u32 = 50_000;

/// Provider strings copied into attributes and messages are clipped to this many
/// characters: the host rejects a whole grant over its field cap, and one odd
/// token name must not hide the grant.
const MAX_TEXT: usize = 256;

/// Longest URL accepted from a response (a `Link` target or an `html_url`).
const MAX_URL: usize = 2048;

/// Longest provider message quoted in an error.
const MAX_EXCERPT: usize = 160;

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
        id: "github".to_owned(),
        name: "GitHub organisations".to_owned(),
        version: VERSION.to_owned(),
        provider: "github".to_owned(),
        hosts: vec!["api.github.com".to_owned()],
        capabilities: vec![Capability::Enumerate, Capability::Revoke],
        credential_kinds: vec!["github-app".to_owned(), "static-token".to_owned()],
        permissions: vec![
            permission(
                Operation::List(Listing::Installations).permission(),
                "list the organisation's GitHub App installations and, on GitHub Enterprise \
                 Cloud with SAML single sign-on, its members' SSO credential authorizations \
                 (with an owner's classic token: read:org)",
                false,
            ),
            permission(
                Operation::List(Listing::PatGrants).permission(),
                "list the fine-grained personal access tokens approved for the organisation \
                 (GitHub App credentials only)",
                false,
            ),
            permission(
                "metadata:read",
                "granted to every GitHub App; listed so the app's permission set is complete",
                false,
            ),
            permission(
                Operation::RemoveCredentialAuthorization.permission(),
                "remove a member's SSO credential authorization when revoking it \
                 (with an owner's classic token: admin:org)",
                true,
            ),
            permission(
                Operation::RevokePatGrant.permission(),
                "revoke a fine-grained personal access token's access to the organisation",
                true,
            ),
        ],
        settings: vec![
            Setting {
                name: "org".to_owned(),
                description: "organisation login, e.g. `octo-org`".to_owned(),
                required: true,
            },
            Setting {
                name: "api_base".to_owned(),
                description: format!(
                    "REST API root, default `{DEFAULT_API_BASE}`; the host reaches only the \
                     hosts this manifest declares (or a simulator on loopback)"
                ),
                required: false,
            },
        ],
        quotas: quotas(),
        consistency_window_ms: CONSISTENCY_WINDOW_MS,
    }
}

/// The time GitHub may take, after a revocation call returned, before its lists stop
/// showing the credential: its REST API reads its own writes, so a short window covers
/// replication between its front ends.
pub const CONSISTENCY_WINDOW_MS: u32 = 10_000;

/// GitHub's documented limits (API.md §7). The hourly primary limit (5,000 to 15,000 by
/// token kind and plan) is read from the `x-ratelimit-*` headers of every answer, and
/// the host pauses before it runs out; what the headers do not show is the secondary
/// limit of 900 points a minute per REST endpoint (a read costs 1 point, a write 5),
/// which is the pace declared here.
pub fn quotas() -> Vec<Quota> {
    const DOC: &str =
        "docs.github.com: Rate limits for the REST API (primary and secondary limits)";
    vec![
        Quota::new(
            "writes",
            180,
            60,
            &[
                "/orgs/*/credential-authorizations/*",
                "/orgs/*/personal-access-tokens/*",
            ],
            DOC,
        ),
        Quota::new("core", 900, 60, &[], DOC),
    ]
}

// ---------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------

/// A tenant's validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    org: String,
    api_base: String,
    origin: String,
}

impl Settings {
    /// Reads and validates `org` and `api_base` from the call's context.
    pub fn from_context(ctx: &Context) -> Result<Self, Error> {
        let org = ctx.require("org")?;
        Self::new(&ctx.tenant, org, ctx.setting("api_base"))
    }

    /// Validates an organisation login and an optional API root (blank means the
    /// default). `tenant` only names the tenant in error messages.
    pub fn new(tenant: &str, org: &str, api_base: Option<&str>) -> Result<Self, Error> {
        let config = |message: String| Error::new(ErrorCode::Config, message);
        let org = org.trim();
        // Logins are ASCII letters, digits and hyphens; anything that could change a
        // URL's structure is a configuration mistake, not something to encode away.
        if org.is_empty()
            || org.len() > 100
            || org
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/?#%\\".contains(c))
        {
            return Err(config(format!(
                "tenant `{tenant}`: setting `org` = `{}` is not an organisation login: use the \
                 name in https://github.com/<org>",
                clip(org, 80)
            )));
        }
        let raw = api_base.map(str::trim).filter(|s| !s.is_empty());
        let base = raw.unwrap_or(DEFAULT_API_BASE).trim_end_matches('/');
        let origin = origin(base).filter(|_| {
            // The root is a prefix for paths: a query, a fragment or whitespace in it
            // would corrupt every URL built from it.
            !base
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        });
        let Some(origin) = origin else {
            // Echo the value to help fix a typo, unless it may carry credentials.
            let shown = match raw.unwrap_or_default() {
                v if v.contains('@') => "(redacted: it contains `@`)".to_owned(),
                v => format!("`{}`", clip(v, 80)),
            };
            return Err(config(format!(
                "tenant `{tenant}`: setting `api_base` = {shown} is not an http:// or https:// \
                 URL with a host and no credentials, query or fragment: use e.g. \
                 `{DEFAULT_API_BASE}`"
            )));
        };
        Ok(Settings {
            org: org.to_owned(),
            api_base: base.to_owned(),
            origin,
        })
    }

    /// The organisation login.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The API root, without a trailing slash.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// `{api_base}/orgs/{org}/{rest}`, the organisation encoded.
    fn org_url(&self, rest: &str) -> String {
        format!("{}/orgs/{}/{rest}", self.api_base, http::encode(&self.org))
    }

    /// Where an installation's settings page is when a response does not say.
    /// github.com serves the API from `api.` and GitHub Enterprise Server from
    /// `/api/v3`; the web UI lives at the bare host.
    fn installation_page(&self, installation_id: u64) -> String {
        let web = self
            .api_base
            .trim_end_matches("/api/v3")
            .replacen("://api.", "://", 1);
        format!(
            "{web}/organizations/{}/settings/installations/{installation_id}",
            http::encode(&self.org)
        )
    }

    /// Resolves a URL a response handed us (a `Link` target) and checks it stays on
    /// the API's scheme and host, so a hostile or misconfigured response cannot make
    /// the connector fetch from elsewhere. `None` when it is unusable.
    fn same_origin(&self, url: &str) -> Option<String> {
        if url.len() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        // RFC 8288 allows references relative to the request; GitHub sends absolute
        // URLs, but an origin-relative path is unambiguous, so accept it.
        let absolute = if url.starts_with('/') && !url.starts_with("//") {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        };
        (origin(&absolute)? == self.origin).then_some(absolute)
    }
}

// ---------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------

/// Headers for every GitHub request. Never `Authorization`: the host attaches the
/// tenant's credential and refuses one supplied by a plugin.
pub fn headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", API_VERSION),
        ("user-agent", USER_AGENT),
    ]
}

/// One of the organisation listings a scan walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// `GET /orgs/{org}/installations`: GitHub App installations.
    Installations,
    /// `GET /orgs/{org}/credential-authorizations`: SAML SSO credential
    /// authorizations (GitHub Enterprise Cloud only).
    CredentialAuthorizations,
    /// `GET /orgs/{org}/personal-access-tokens`: approved fine-grained token grants.
    PatGrants,
}

impl Listing {
    /// Every listing, in the order a scan starts them.
    pub const ALL: [Listing; 3] = [
        Listing::Installations,
        Listing::CredentialAuthorizations,
        Listing::PatGrants,
    ];

    /// The task kind that pages through this listing.
    pub fn task_kind(self) -> &'static str {
        match self {
            Listing::Installations => "installations",
            Listing::CredentialAuthorizations => "credential-authorizations",
            Listing::PatGrants => "pat-grants",
        }
    }

    /// The listing a task kind pages through.
    pub fn from_task_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.task_kind() == kind)
    }

    fn path(self) -> &'static str {
        match self {
            Listing::Installations => "installations",
            Listing::CredentialAuthorizations => "credential-authorizations",
            Listing::PatGrants => "personal-access-tokens",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Listing::Installations => "app installations",
            Listing::CredentialAuthorizations => "SSO credential authorizations",
            Listing::PatGrants => "fine-grained token grants",
        }
    }

    /// The first page's URL.
    pub fn first_url(self, settings: &Settings) -> String {
        settings.org_url(&format!("{}?per_page={PER_PAGE}", self.path()))
    }
}

/// The payload of a listing task: one page to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTask {
    /// The page's absolute URL, on the API's origin.
    pub url: String,
    /// 1-based page number, counted so pagination that never ends is caught.
    #[serde(default = "first_page")]
    pub page: u32,
}

fn first_page() -> u32 {
    1
}

impl PageTask {
    fn task(&self, listing: Listing) -> Task {
        Task::json(listing.task_kind(), self)
    }
}

/// The first tasks of a scan: the first page of every listing.
pub fn start_tasks(settings: &Settings) -> Vec<Task> {
    Listing::ALL
        .into_iter()
        .map(|l| {
            PageTask {
                url: l.first_url(settings),
                page: 1,
            }
            .task(l)
        })
        .collect()
}

/// Decodes and checks a task before anything is fetched for it. Tasks round-trip
/// through the host's checkpoint store, so their payload is re-validated rather
/// than trusted: the URL must stay on the API's origin.
pub fn decode_task(settings: &Settings, task: &Task) -> Result<(Listing, PageTask), Error> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidInput, message);
    let listing = Listing::from_task_kind(&task.kind).ok_or_else(|| {
        invalid(format!(
            "unknown task kind `{}`: this connector runs `installations`, \
             `credential-authorizations` and `pat-grants`",
            clip(&task.kind, 64)
        ))
    })?;
    let page: PageTask = task.decode()?;
    if settings.same_origin(&page.url).as_deref() != Some(page.url.as_str()) {
        return Err(invalid(format!(
            "task `{}` points outside {}: start a new scan",
            task.kind, settings.api_base
        )));
    }
    if page.page == 0 || page.page > MAX_PAGES {
        return Err(invalid(format!(
            "task `{}` has page number {}, outside 1–{MAX_PAGES}",
            task.kind, page.page
        )));
    }
    Ok((listing, page))
}

// ---------------------------------------------------------------------------------
// Listing pages → grants
// ---------------------------------------------------------------------------------

/// What one listing page produced.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The grants on the page.
    pub grants: Vec<Grant>,
    /// The task for the next page, when there is one.
    pub next: Option<Task>,
    /// Lines for the operator (logged at `warn` by the glue).
    pub warnings: Vec<String>,
}

/// Turns the response to one listing page into grants and the next page's task.
///
/// 200 is parsed; a 404 on credential authorizations means the organisation does
/// not use SAML SSO on GitHub Enterprise Cloud, which is an empty listing with a
/// warning, not a failure; anything else is classified by [`classify`].
pub fn read_page(
    settings: &Settings,
    listing: Listing,
    page: &PageTask,
    resp: &Response,
) -> Result<Page, Error> {
    match resp.status {
        200 => {}
        404 if listing == Listing::CredentialAuthorizations => {
            return Ok(Page {
                warnings: vec![format!(
                    "github answered 404 for SSO credential authorizations in `{}`: the \
                     organisation does not use SAML single sign-on on GitHub Enterprise Cloud \
                     (or the auditor is not an owner), so there are none to list",
                    settings.org
                )],
                ..Page::default()
            });
        }
        _ => return Err(classify(settings, Operation::List(listing), resp)),
    }
    let parsed = match listing {
        Listing::Installations => parse_installations(settings, &resp.body),
        Listing::CredentialAuthorizations => parse_credential_authorizations(&resp.body),
        Listing::PatGrants => parse_pat_grants(&resp.body),
    };
    let mut out = parsed.map_err(|e| {
        Error::new(
            e.code,
            format!(
                "{} (organisation `{}`, page {})",
                e.message, settings.org, page.page
            ),
        )
    })?;
    out.next = next_page(settings, listing, page, resp)?.map(|p| p.task(listing));
    Ok(out)
}

/// The next page after `page`, from the response's `Link: <…>; rel="next"`.
///
/// A link off the API's origin is an error, not the end of the listing: stopping
/// quietly would make an incomplete scan look complete, and a complete scan is
/// what lets the host forget grants it no longer sees.
fn next_page(
    settings: &Settings,
    listing: Listing,
    page: &PageTask,
    resp: &Response,
) -> Result<Option<PageTask>, Error> {
    let Some(link) = resp.next_link() else {
        return Ok(None);
    };
    let malformed = |why: String| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "github's next-page link for {} in `{}` {why}; the listing is incomplete",
                listing.what(),
                settings.org
            ),
        )
    };
    let Some(url) = settings.same_origin(&link) else {
        return Err(malformed(format!(
            "(`{}`) is not on {}: refusing to follow it",
            clip(&link, 120),
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
    Ok(Some(PageTask { url, page: number }))
}

/// Deserialises `null` as the type's default, so a `null` list or map in a
/// response reads as empty rather than failing the page.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Decodes a response body, with a clipped message: serde's errors quote the
/// offending value, and a response is not something to copy into logs wholesale.
fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorCode::Malformed,
            format!(
                "could not parse github's {what}: {}; if this persists, check that `api_base` \
                 is a GitHub REST API root",
                clip(&e.to_string(), MAX_EXCERPT)
            ),
        )
    })
}

/// `{name}:{level}` for each entry, sorted: the scope spelling in the README.
fn permission_scopes<'a>(
    maps: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> Vec<String> {
    let mut scopes: Vec<String> = maps
        .into_iter()
        .flatten()
        .map(|(name, level)| format!("{name}:{level}"))
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

fn user(login: &str) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: login.to_owned(),
        display: None,
    }
}

fn app(id: &str, name: &str, attributes: Vec<(String, String)>) -> App {
    App {
        id: id.to_owned(),
        name: name.to_owned(),
        // GitHub names no publisher in any of these listings.
        publisher: None,
        attributes,
    }
}

/// A `(key, value)` attribute, the value clipped.
fn attr(key: &str, value: impl AsRef<str>) -> (String, String) {
    (key.to_owned(), clip(value.as_ref(), MAX_TEXT))
}

/// A JSON handle for a revocation target. Serialising these plain structs (integers
/// and strings only) cannot fail; an empty handle would be refused by `revoke`.
fn handle_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// An identity string from a response that must not be blank (the host refuses a
/// grant with an empty app or principal id).
fn required<'a>(what: &str, field: &str, value: &'a str) -> Result<&'a str, Error> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_TEXT {
        Err(Error::new(
            ErrorCode::Malformed,
            format!("github's {what} has an empty or oversized `{field}`"),
        ))
    } else {
        Ok(value)
    }
}

// --- installations ---------------------------------------------------------------

#[derive(Deserialize)]
struct InstallationList {
    // `total_count` is ignored: pagination follows `Link`, which is authoritative.
    installations: Vec<Installation>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    app_id: u64,
    app_slug: String,
    client_id: Option<String>,
    account: Option<Account>,
    repository_selection: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    permissions: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<String>,
    created_at: Option<String>,
    suspended_at: Option<String>,
    html_url: Option<String>,
    target_type: Option<String>,
}

#[derive(Deserialize)]
struct Account {
    // Enterprise accounts have a `slug` and no `login`.
    login: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallationHandle {
    installation_id: u64,
    html_url: String,
}

/// Parses one page of `GET /orgs/{org}/installations` (an object
/// `{total_count, installations}`) into `installation:{id}` grants.
pub fn parse_installations(settings: &Settings, body: &[u8]) -> Result<Page, Error> {
    let list: InstallationList = decode("app installation list", body)?;
    let grants = list
        .installations
        .iter()
        .map(|i| installation_grant(settings, i))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        grants,
        ..Page::default()
    })
}

fn installation_grant(settings: &Settings, i: &Installation) -> Result<Grant, Error> {
    let slug = required("app installation", "app_slug", &i.app_slug)?;
    let app_id = i.app_id.to_string();
    // The account is the organisation itself; its login is GitHub's own spelling,
    // which the configured `org` may differ from in case.
    let org = i
        .account
        .as_ref()
        .and_then(|a| a.login.as_deref())
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.len() <= MAX_TEXT)
        .unwrap_or(&settings.org);
    let html_url = i
        .html_url
        .as_deref()
        .and_then(web_url)
        .unwrap_or_else(|| settings.installation_page(i.id));
    let selection = i.repository_selection.as_deref().unwrap_or("unknown");
    let suspended = i
        .suspended_at
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let client_id = i.client_id.as_deref().filter(|c| !c.trim().is_empty());

    let mut app_attributes = vec![attr("slug", slug)];
    let mut attributes = vec![attr("app_id", &app_id), attr("app_slug", slug)];
    if let Some(c) = client_id {
        app_attributes.push(attr("client_id", c));
        attributes.push(attr("client_id", c));
    }
    attributes.extend([
        attr("repository_selection", selection),
        attr("suspended", if suspended { "true" } else { "false" }),
        attr("html_url", &html_url),
        attr("target_type", i.target_type.as_deref().unwrap_or("unknown")),
        attr("events", i.events.join(",")),
    ]);

    let mut notes =
        vec!["GitHub does not report when an app installation was last used.".to_owned()];
    if selection == "selected" {
        notes.push(
            "The installation reaches only selected repositories; GitHub does not list them \
             here."
                .to_owned(),
        );
    }
    if suspended {
        notes.push(format!(
            "The installation is suspended{}, so the app cannot use it now, but it still holds \
             this grant and regains it if unsuspended.",
            i.suspended_at
                .as_deref()
                .and_then(rfc3339_utc)
                .map(|t| format!(" since {t}"))
                .unwrap_or_default()
        ));
    }
    notes.push(format!(
        "GitHub offers no API to uninstall it; an organisation owner must do so at {html_url}."
    ));

    Ok(Grant {
        id: format!("installation:{}", i.id),
        app: app(&app_id, slug, app_attributes),
        principal: Principal {
            kind: PrincipalKind::Tenant,
            id: org.to_owned(),
            display: None,
        },
        kind: GrantKind::Installation,
        scopes: permission_scopes([&i.permissions]),
        created_at: i.created_at.as_deref().and_then(rfc3339_utc),
        // GitHub keeps no last-use record for installations.
        last_used_at: None,
        // Installations do not expire.
        expires_at: None,
        revocation: Some(RevocationTarget {
            grant_id: format!("installation:{}", i.id),
            action: Action::Installation.name().to_owned(),
            handle: handle_json(&InstallationHandle {
                installation_id: i.id,
                html_url,
            }),
        }),
        attributes,
        notes,
    })
}

/// A web URL from a response that is safe to show an operator as a place to click:
/// http(s) with a host, bounded, with no characters that could break out of the
/// text around it.
fn web_url(url: &str) -> Option<String> {
    let url = url.trim();
    let ok = url.len() <= MAX_URL
        && origin(url).is_some()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c));
    ok.then(|| url.to_owned())
}

// --- SSO credential authorizations -----------------------------------------------

// `token_last_eight` is deliberately not read: grantscope keeps no token material,
// not even a fragment of it.
#[derive(Deserialize)]
struct CredentialAuthorization {
    login: String,
    credential_id: u64,
    credential_type: String,
    #[serde(default, deserialize_with = "nullable")]
    scopes: Vec<String>,
    fingerprint: Option<String>,
    authorized_credential_title: Option<String>,
    authorized_credential_note: Option<String>,
    authorized_credential_id: Option<u64>,
    credential_authorized_at: Option<String>,
    credential_accessed_at: Option<String>,
    authorized_credential_expires_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialHandle {
    credential_id: u64,
    login: String,
}

/// The kinds of credential GitHub's SSO listing reports, as the README maps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    ClassicPat,
    SshKey,
    OAuthAppToken,
    GitHubAppToken,
    /// A `credential_type` this connector does not know. Reported rather than
    /// dropped: an inventory that silently loses a credential is worse than one
    /// that shows it under a generic name.
    Unrecognised,
}

impl Credential {
    fn of(credential_type: &str) -> Self {
        // GitHub spells these as human phrases; compare loosely so a change of case
        // or spacing does not turn a known credential into an unknown one.
        let t: String = credential_type
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase();
        match t.as_str() {
            "personal access token" => Credential::ClassicPat,
            "ssh key" => Credential::SshKey,
            "oauth app token" => Credential::OAuthAppToken,
            "github app token" => Credential::GitHubAppToken,
            _ => Credential::Unrecognised,
        }
    }

    /// (grant kind, app id, app name).
    fn mapping(self) -> (GrantKind, &'static str, &'static str) {
        match self {
            Credential::ClassicPat => (
                GrantKind::PersonalToken,
                "personal-access-token",
                "Classic personal access token",
            ),
            Credential::SshKey => (GrantKind::ApiKey, "ssh-key", "SSH key"),
            Credential::OAuthAppToken => (
                GrantKind::Delegated,
                "unidentified-oauth-app",
                "OAuth app (GitHub does not name it)",
            ),
            Credential::GitHubAppToken => (
                GrantKind::Delegated,
                "unidentified-github-app",
                "GitHub App user token (GitHub does not name the app)",
            ),
            Credential::Unrecognised => (
                GrantKind::ApiKey,
                "unrecognised-credential",
                "SSO credential of a type this connector does not recognise",
            ),
        }
    }
}

/// Parses one page of `GET /orgs/{org}/credential-authorizations` (a bare array)
/// into `credential-authorization:{credential_id}` grants.
pub fn parse_credential_authorizations(body: &[u8]) -> Result<Page, Error> {
    let list: Vec<CredentialAuthorization> = decode("SSO credential authorization list", body)?;
    let mut page = Page::default();
    for c in &list {
        let credential = Credential::of(&c.credential_type);
        if credential == Credential::Unrecognised {
            page.warnings.push(format!(
                "github reported SSO credential {} of unrecognised type `{}`; it is listed as \
                 `unrecognised-credential`: update the connector",
                c.credential_id,
                clip(&c.credential_type, 64)
            ));
        }
        page.grants.push(credential_grant(c, credential)?);
    }
    Ok(page)
}

fn credential_grant(c: &CredentialAuthorization, credential: Credential) -> Result<Grant, Error> {
    let login = required("SSO credential authorization", "login", &c.login)?;
    let (kind, app_id, app_name) = credential.mapping();
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };

    let mut attributes = vec![
        attr("credential_type", &c.credential_type),
        attr("credential_id", c.credential_id.to_string()),
    ];
    if let Some(id) = c.authorized_credential_id {
        attributes.push(attr("authorized_credential_id", id.to_string()));
    }
    for (key, value) in [
        ("fingerprint", &c.fingerprint),
        (
            "authorized_credential_title",
            &c.authorized_credential_title,
        ),
        ("authorized_credential_note", &c.authorized_credential_note),
    ] {
        if let Some(v) = present(value) {
            attributes.push(attr(key, v));
        }
    }

    let mut notes = Vec::new();
    match credential {
        Credential::OAuthAppToken => notes.push(
            "GitHub's SSO listing does not name the OAuth app that holds this token; the \
             organisation audit log can identify it."
                .to_owned(),
        ),
        Credential::GitHubAppToken => notes.push(
            "GitHub's SSO listing does not name the GitHub App that holds this user token, and \
             its access comes from the app's permissions, not from OAuth scopes; the \
             organisation audit log can identify the app."
                .to_owned(),
        ),
        Credential::Unrecognised => notes.push(format!(
            "GitHub reported a credential type this connector does not recognise (`{}`).",
            clip(&c.credential_type, 64)
        )),
        Credential::ClassicPat | Credential::SshKey => {}
    }
    if c.credential_accessed_at.is_none() {
        notes.push(
            "GitHub records no use of this credential in the organisation since it was \
             authorized for SSO."
                .to_owned(),
        );
    }

    Ok(Grant {
        id: format!("credential-authorization:{}", c.credential_id),
        app: app(app_id, app_name, Vec::new()),
        principal: user(login),
        kind,
        // An SSH key has no scopes; anything else is taken as GitHub gives it.
        scopes: if credential == Credential::SshKey {
            Vec::new()
        } else {
            c.scopes.iter().map(|s| clip(s, MAX_TEXT)).collect()
        },
        created_at: c.credential_authorized_at.as_deref().and_then(rfc3339_utc),
        last_used_at: c.credential_accessed_at.as_deref().and_then(rfc3339_utc),
        expires_at: c
            .authorized_credential_expires_at
            .as_deref()
            .and_then(rfc3339_utc),
        revocation: Some(RevocationTarget {
            grant_id: format!("credential-authorization:{}", c.credential_id),
            action: Action::CredentialAuthorization.name().to_owned(),
            handle: handle_json(&CredentialHandle {
                credential_id: c.credential_id,
                login: login.to_owned(),
            }),
        }),
        attributes,
        notes,
    })
}

// --- fine-grained token grants ---------------------------------------------------

#[derive(Deserialize)]
struct PatGrant {
    id: u64,
    owner: Owner,
    token_id: u64,
    token_name: Option<String>,
    token_expired: Option<bool>,
    repository_selection: Option<String>,
    repositories_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    permissions: PatPermissions,
    access_granted_at: Option<String>,
    token_expires_at: Option<String>,
    token_last_used_at: Option<String>,
}

#[derive(Deserialize)]
struct Owner {
    login: String,
}

#[derive(Default, Deserialize)]
struct PatPermissions {
    #[serde(default, deserialize_with = "nullable")]
    organization: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    repository: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    other: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatHandle {
    pat_id: u64,
    token_id: u64,
}

/// Parses one page of `GET /orgs/{org}/personal-access-tokens` (a bare array) into
/// `pat-grant:{id}` grants.
pub fn parse_pat_grants(body: &[u8]) -> Result<Page, Error> {
    let list: Vec<PatGrant> = decode("fine-grained token grant list", body)?;
    let grants = list.iter().map(pat_grant).collect::<Result<_, _>>()?;
    Ok(Page {
        grants,
        ..Page::default()
    })
}

fn pat_grant(p: &PatGrant) -> Result<Grant, Error> {
    let login = required("fine-grained token grant", "owner.login", &p.owner.login)?;
    let selection = p.repository_selection.as_deref().unwrap_or("unknown");
    let mut attributes = vec![
        attr("pat_id", p.id.to_string()),
        attr("token_id", p.token_id.to_string()),
    ];
    if let Some(name) = &p.token_name {
        attributes.push(attr("token_name", name));
    }
    if let Some(expired) = p.token_expired {
        attributes.push(attr("token_expired", expired.to_string()));
    }
    attributes.push(attr("repository_selection", selection));
    if let Some(url) = p.repositories_url.as_deref().and_then(web_url) {
        attributes.push(attr("repositories_url", url));
    }

    let mut notes = Vec::new();
    if selection == "subset" {
        notes.push(
            "The grant reaches a subset of repositories; GitHub lists them at repositories_url, \
             not here."
                .to_owned(),
        );
    }

    let perms = &p.permissions;
    Ok(Grant {
        id: format!("pat-grant:{}", p.id),
        app: app(
            "fine-grained-pat",
            "Fine-grained personal access token",
            Vec::new(),
        ),
        principal: user(login),
        kind: GrantKind::PersonalToken,
        scopes: permission_scopes([&perms.organization, &perms.repository, &perms.other]),
        created_at: p.access_granted_at.as_deref().and_then(rfc3339_utc),
        last_used_at: p.token_last_used_at.as_deref().and_then(rfc3339_utc),
        expires_at: p.token_expires_at.as_deref().and_then(rfc3339_utc),
        revocation: Some(RevocationTarget {
            grant_id: format!("pat-grant:{}", p.id),
            action: Action::PatGrant.name().to_owned(),
            handle: handle_json(&PatHandle {
                pat_id: p.id,
                token_id: p.token_id,
            }),
        }),
        attributes,
        notes,
    })
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A call the connector makes, for error messages and the permission it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Reading a page of a listing.
    List(Listing),
    /// `DELETE /orgs/{org}/credential-authorizations/{credential_id}`.
    RemoveCredentialAuthorization,
    /// `POST /orgs/{org}/personal-access-tokens/{pat_id}`.
    RevokePatGrant,
}

impl Operation {
    fn what(self) -> String {
        match self {
            Operation::List(l) => format!("listing {}", l.what()),
            Operation::RemoveCredentialAuthorization => {
                "removing an SSO credential authorization".to_owned()
            }
            Operation::RevokePatGrant => "revoking a fine-grained token grant".to_owned(),
        }
    }

    /// The GitHub App permission the call needs (API.md §3.1).
    pub fn permission(self) -> &'static str {
        match self {
            Operation::List(Listing::Installations | Listing::CredentialAuthorizations) => {
                "organization_administration:read"
            }
            Operation::List(Listing::PatGrants) => "organization_personal_access_tokens:read",
            Operation::RemoveCredentialAuthorization => "organization_administration:write",
            Operation::RevokePatGrant => "organization_personal_access_tokens:write",
        }
    }

    /// What else to check when the permission is missing.
    fn hint(self) -> &'static str {
        match self {
            Operation::List(Listing::PatGrants) | Operation::RevokePatGrant => {
                "grant it to the auditor's GitHub App (only GitHub App credentials can use this \
                 endpoint)"
            }
            _ => "grant it to the auditor's GitHub App, or use an organisation owner's token",
        }
    }
}

#[derive(Deserialize)]
struct BasicError {
    message: Option<String>,
}

/// The `message` of GitHub's `basic-error` body, if the body is one.
pub fn github_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<BasicError>(body).ok()?.message
}

/// A short, single-line excerpt of an error response for a message: GitHub's
/// `message` when the body has one, else the start of the body.
fn excerpt(resp: &Response) -> String {
    let text = github_message(&resp.body).unwrap_or_else(|| resp.excerpt());
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(flat.trim(), MAX_EXCERPT)
}

/// Why GitHub throttled a response, when it did. GitHub answers 403 for both a
/// missing permission and a rate limit (API.md §7); only the headers and the
/// message tell them apart. The wait is what GitHub asks for: its `retry-after`, or,
/// for a secondary limit that names no wait, at least a minute ("Best practices for
/// using the REST API": wait one minute before retrying when neither `retry-after`
/// nor `x-ratelimit-remaining: 0` is present). A spent primary quota has no wait
/// here: the host already paused the class until `x-ratelimit-reset`.
fn rate_limit(resp: &Response, message: &str) -> Option<(String, Option<Duration>)> {
    let remaining = resp.header("x-ratelimit-remaining").map(str::trim);
    let retry_after = resp.header("retry-after").map(str::trim);
    let limited = resp.status == 429
        || (resp.status == 403
            && (remaining == Some("0")
                || retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    let mut why = Vec::new();
    let retry_after = retry_after.and_then(|s| s.parse::<u64>().ok());
    if let Some(secs) = retry_after {
        why.push(format!("retry after {secs} s"));
    }
    let wait = match retry_after {
        Some(secs) => Some(Duration::from_secs(secs)),
        None if remaining == Some("0") => None,
        None => Some(SECONDARY_LIMIT_WAIT),
    };
    if remaining == Some("0") {
        let reset = resp
            .header("x-ratelimit-reset")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(from_epoch_seconds);
        why.push(match reset {
            Some(t) => format!("quota spent until {t}"),
            None => "quota spent".to_owned(),
        });
    }
    Some((why.join(", "), wait))
}

/// How long a secondary rate limit that names no wait lasts at least.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Turns a response that is not the expected success into an error naming what
/// failed and what to do.
pub fn classify(settings: &Settings, op: Operation, resp: &Response) -> Error {
    let status = resp.status;
    let org = &settings.org;
    let what = op.what();
    let message = excerpt(resp);
    if let Some((why, wait)) = rate_limit(resp, &message) {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!("; {why}")
        };
        let text = format!(
            "github rate-limited {what} in `{org}` ({status}: {message}{why}): wait for the \
             quota to reset and run again, or lower the tenant's request rate"
        );
        return match wait {
            Some(wait) => Error::rate_limited(text, wait),
            None => Error::new(ErrorCode::RateLimited, text),
        };
    }
    let needed = match resp.header("x-accepted-github-permissions").map(str::trim) {
        // GitHub writes `name=level`; the manifest writes `name:level`.
        Some(h) if !h.is_empty() => format!(
            "`{}` (github asks for `{}`)",
            op.permission(),
            clip(&h.replace('=', ":"), 120)
        ),
        _ => format!("`{}`", op.permission()),
    };
    let hint = op.hint();
    match status {
        401 => Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "github refused the credential while {what} in `{org}` (401: {message}): check \
                 that the tenant's GitHub App installation or token is valid and not expired"
            ),
        ),
        403 => Error::new(
            ErrorCode::Permission,
            format!(
                "github denied {what} in `{org}` (403: {message}): the auditor needs {needed}; \
                 {hint}"
            ),
        ),
        // GitHub answers 404 rather than 403 to callers who may not see a resource.
        404 => Error::new(
            ErrorCode::Permission,
            format!(
                "github answered 404 while {what} in `{org}` ({message}): check the `org` \
                 setting; if it is right, the auditor lacks {needed}: {hint}"
            ),
        ),
        500..=599 => Error::new(
            ErrorCode::Provider,
            format!("github failed while {what} in `{org}` ({status}: {message}): try again later"),
        ),
        _ => Error::new(
            ErrorCode::Provider,
            format!(
                "github answered an unexpected {status} while {what} in `{org}` ({message}): \
                 report it to the connector's maintainers"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------

/// A revocation action, as named in a [`RevocationTarget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    CredentialAuthorization,
    PatGrant,
    Installation,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::CredentialAuthorization => "credential-authorization",
            Action::PatGrant => "pat-grant",
            Action::Installation => "installation",
        }
    }
}

/// A decoded, checked revocation target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A member's SSO authorization of a credential.
    CredentialAuthorization {
        /// The organisation's authorization id (what `DELETE` takes).
        credential_id: u64,
        /// The member, for `probe`'s filtered listing.
        login: String,
    },
    /// A fine-grained token's approved access to the organisation.
    PatGrant {
        /// The grant id (what the revoke call takes).
        pat_id: u64,
        /// The token's id, for `probe`'s filtered listing.
        token_id: u64,
    },
    /// A GitHub App installation.
    Installation {
        /// The installation id.
        installation_id: u64,
        /// Its settings page, where an owner uninstalls it.
        html_url: String,
    },
}

impl Target {
    /// Decodes a target and checks that its handle belongs to its grant id, so a
    /// mixed-up plan cannot revoke a different grant than the one it names.
    pub fn parse(target: &RevocationTarget) -> Result<Self, Error> {
        let invalid = |why: String| target.invalid(why);
        let handle = |e: serde_json::Error| target.bad_handle(&e);
        let parsed = match target.action.as_str() {
            "credential-authorization" => {
                let h: CredentialHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                let login = h.login.trim();
                if login.is_empty() || login.len() > MAX_TEXT {
                    return Err(invalid("has no login in its handle".to_owned()));
                }
                Target::CredentialAuthorization {
                    credential_id: h.credential_id,
                    login: login.to_owned(),
                }
            }
            "pat-grant" => {
                let h: PatHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::PatGrant {
                    pat_id: h.pat_id,
                    token_id: h.token_id,
                }
            }
            "installation" => {
                let h: InstallationHandle = serde_json::from_str(&target.handle).map_err(handle)?;
                Target::Installation {
                    installation_id: h.installation_id,
                    // An unusable URL is replaced by the settings page at plan time.
                    html_url: web_url(&h.html_url).unwrap_or_default(),
                }
            }
            _ => {
                return Err(invalid(
                    "has an unknown action: this connector revokes `credential-authorization`, \
                     `pat-grant` and `installation`"
                        .to_owned(),
                ));
            }
        };
        // The host may pass the qualified id (`github/{tenant}/{id}`); local ids
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
            Target::CredentialAuthorization { credential_id, .. } => {
                format!("credential-authorization:{credential_id}")
            }
            Target::PatGrant { pat_id, .. } => format!("pat-grant:{pat_id}"),
            Target::Installation {
                installation_id, ..
            } => format!("installation:{installation_id}"),
        }
    }
}

/// What `revoke` must do for a target.
#[derive(Clone, Debug)]
pub enum RevocationPlan {
    /// Send this request, then map its answer with [`RevocationCall::outcome`].
    Call(RevocationCall),
    /// No API can do it; this is the answer.
    Manual(Revocation),
}

/// One revocation request and how to read its answer.
#[derive(Clone, Debug)]
pub struct RevocationCall {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL on the API's origin.
    pub url: String,
    /// JSON body, when the call has one.
    pub body: Option<Vec<u8>>,
    target: Target,
    settings: Settings,
}

/// Plans the revocation of one target.
pub fn plan_revocation(
    settings: &Settings,
    target: &RevocationTarget,
) -> Result<RevocationPlan, Error> {
    let target = Target::parse(target)?;
    let org = settings.org.as_str();
    let (method, url, body) = match &target {
        Target::CredentialAuthorization { credential_id, .. } => (
            Method::Delete,
            settings.org_url(&format!("credential-authorizations/{credential_id}")),
            None,
        ),
        Target::PatGrant { pat_id, .. } => (
            Method::Post,
            settings.org_url(&format!("personal-access-tokens/{pat_id}")),
            Some(br#"{"action":"revoke"}"#.to_vec()),
        ),
        Target::Installation {
            installation_id,
            html_url,
        } => {
            let url = if html_url.is_empty() {
                settings.installation_page(*installation_id)
            } else {
                html_url.clone()
            };
            return Ok(RevocationPlan::Manual(Revocation {
                status: RevocationStatus::ManualRequired,
                detail: format!(
                    "GitHub offers an organisation owner no API to uninstall app installation \
                     {installation_id} from {org}."
                ),
                manual_steps: vec![format!(
                    "An organisation owner must uninstall the app at {url} (GitHub offers no API \
                     for this outside GitHub Enterprise Cloud enterprise apps)."
                )],
            }));
        }
    };
    Ok(RevocationPlan::Call(RevocationCall {
        method,
        url,
        body,
        target,
        settings: settings.clone(),
    }))
}

impl RevocationCall {
    /// The request's headers: [`headers`], plus `Content-Type` when there is a body.
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut h = headers();
        if self.body.is_some() {
            h.push(("content-type", "application/json"));
        }
        h
    }

    /// Maps GitHub's answer: a 2xx is `revoked`, a 404 `already-gone` (the call is
    /// idempotent), anything else an error from [`classify`].
    pub fn outcome(&self, resp: &Response) -> Result<Revocation, Error> {
        let org = self.settings.org.as_str();
        let gone = resp.status == 404;
        let done = matches!(resp.status, 200 | 202 | 204);
        match &self.target {
            Target::CredentialAuthorization {
                credential_id,
                login,
            } if done || gone => {
                let detail = if done {
                    format!("Removed {login}'s SSO authorization {credential_id} from {org}.")
                } else {
                    format!(
                        "{login}'s SSO authorization {credential_id} was already gone from {org}."
                    )
                };
                Ok(Revocation {
                    status: if done {
                        RevocationStatus::Revoked
                    } else {
                        RevocationStatus::AlreadyGone
                    },
                    detail,
                    manual_steps: vec![
                        "Removing the SSO authorization does not revoke the token itself; the \
                         user or the app owner must revoke it."
                            .to_owned(),
                        format!(
                            "Until the credential is revoked, {login} can authorize it for SSO \
                             in {org} again."
                        ),
                    ],
                })
            }
            Target::PatGrant { pat_id, token_id } if done || gone => {
                let detail = match resp.status {
                    202 => format!(
                        "GitHub accepted the revocation of grant {pat_id} (token {token_id}) in \
                         {org} and applies it asynchronously."
                    ),
                    404 => {
                        format!("Grant {pat_id} (token {token_id}) was already gone from {org}.")
                    }
                    _ => format!("Revoked grant {pat_id} (token {token_id}) in {org}."),
                };
                Ok(Revocation {
                    status: if done {
                        RevocationStatus::Revoked
                    } else {
                        RevocationStatus::AlreadyGone
                    },
                    detail,
                    manual_steps: vec![format!(
                        "The token keeps working outside {org}; only its owner can delete it."
                    )],
                })
            }
            Target::CredentialAuthorization { .. } => Err(classify(
                &self.settings,
                Operation::RemoveCredentialAuthorization,
                resp,
            )),
            Target::PatGrant { .. } => {
                Err(classify(&self.settings, Operation::RevokePatGrant, resp))
            }
            // Never planned as a call; kept total rather than panicking.
            Target::Installation { .. } => Err(Error::new(
                ErrorCode::InvalidInput,
                "an installation is revoked by hand, not by a call",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------
// Probe
// ---------------------------------------------------------------------------------

/// A re-read of one revocation target: the listing that would show it.
#[derive(Clone, Debug)]
pub struct Probe {
    target: Target,
    first_url: String,
    settings: Settings,
}

/// What one probed page says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeStep {
    /// Decided.
    Done(TargetState),
    /// Not on this page; read this one next.
    Next(String),
}

#[derive(Deserialize)]
struct IdOnly {
    id: u64,
}

#[derive(Deserialize)]
struct InstallationIds {
    installations: Vec<IdOnly>,
}

#[derive(Deserialize)]
struct CredentialIdOnly {
    credential_id: u64,
}

impl Probe {
    /// Plans the re-read of a target.
    pub fn new(settings: &Settings, target: &RevocationTarget) -> Result<Self, Error> {
        let target = Target::parse(target)?;
        let first_url = match &target {
            Target::CredentialAuthorization { login, .. } => settings.org_url(&format!(
                "credential-authorizations?login={}&per_page={PER_PAGE}",
                http::encode(login)
            )),
            // `token_id[]` with its brackets percent-encoded, as RFC 3986 wants.
            Target::PatGrant { token_id, .. } => settings.org_url(&format!(
                "personal-access-tokens?token_id%5B%5D={token_id}&per_page={PER_PAGE}"
            )),
            Target::Installation { .. } => Listing::Installations.first_url(settings),
        };
        Ok(Probe {
            target,
            first_url,
            settings: settings.clone(),
        })
    }

    /// The first page to read.
    pub fn first_url(&self) -> &str {
        &self.first_url
    }

    /// Reads one page fetched from `url`: present if the target is on it, gone if
    /// it is not and there is no next page.
    pub fn read(&self, url: &str, page: u32, resp: &Response) -> Result<ProbeStep, Error> {
        let listing = match self.target {
            Target::CredentialAuthorization { .. } => Listing::CredentialAuthorizations,
            Target::PatGrant { .. } => Listing::PatGrants,
            Target::Installation { .. } => Listing::Installations,
        };
        match resp.status {
            200 => {}
            // No SAML SSO (any more): no authorization can exist, which is also what
            // the removal call itself would answer (404, already gone).
            404 if listing == Listing::CredentialAuthorizations => {
                return Ok(ProbeStep::Done(TargetState::Gone));
            }
            _ => return Err(classify(&self.settings, Operation::List(listing), resp)),
        }
        let found = match &self.target {
            Target::CredentialAuthorization { credential_id, .. } => {
                decode::<Vec<CredentialIdOnly>>("SSO credential authorization list", &resp.body)?
                    .iter()
                    .any(|c| c.credential_id == *credential_id)
            }
            Target::PatGrant { pat_id, .. } => {
                decode::<Vec<IdOnly>>("fine-grained token grant list", &resp.body)?
                    .iter()
                    .any(|g| g.id == *pat_id)
            }
            Target::Installation {
                installation_id, ..
            } => decode::<InstallationIds>("app installation list", &resp.body)?
                .installations
                .iter()
                .any(|i| i.id == *installation_id),
        };
        if found {
            return Ok(ProbeStep::Done(TargetState::Present));
        }
        let current = PageTask {
            url: url.to_owned(),
            page,
        };
        Ok(match next_page(&self.settings, listing, &current, resp)? {
            Some(next) => ProbeStep::Next(next.url),
            None => ProbeStep::Done(TargetState::Gone),
        })
    }
}

// ---------------------------------------------------------------------------------
