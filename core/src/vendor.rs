//! The vendor registry: which company stands behind each app, who owns the
//! relationship, and where it stands.
//!
//! The registry is a TOML file the config names (`[vendors] registry = "vendors.toml"`),
//! kept by people (and by `grantscope vendors set`), one `[[vendor]]` table per vendor:
//!
//! ```toml
//! [[vendor]]
//! id = "driftwood-chat"                 # what `offboard` and `vendors show` take
//! name = "Driftwood Chat"               # what grant records and reports show
//! domains = ["driftwoodchat.io"]
//! business_owner = "dana@acme.example"
//! technical_steward = "sre@acme.example"
//! purpose = "Team chat bridge"
//! status = "active"                     # active | review | offboarding | offboarded
//! contract_end = "2026-12-31"
//! [vendor.apps]                         # per provider: app ids, or `slug:` / `client_id:` /
//! github = ["210466", "slug:driftwood-chat"]   # `app_id:` / `name:` and an exact value
//! google-workspace = ["1234-abc.apps.googleusercontent.com"]
//! [vendor.allowed_scopes]               # per provider; wider grants are findings
//! github = ["contents:read", "metadata:read"]
//! ```
//!
//! Mapping happens when grants are read, not when they are stored: editing the registry
//! re-maps every grant at once, with no rescan. An app belongs to at most one vendor;
//! a registry that claims an app twice is refused, because offboarding one vendor must
//! never touch another's grants.
//!
//! Keys are exact and namespaced. A bare key matches only the provider's app id (the
//! record's `app.id`); any other attribute only with its prefix: `slug:` and
//! `client_id:` and `app_id:` match the app attribute of that name, `name:` the app's
//! display name. Nothing is case-folded. A vendor-chosen string (a slug, a name) can
//! therefore never stand in for another vendor's app id: a foreign app whose slug equals
//! a vendor's app id used to map to that vendor, inherit its trust, and join its
//! offboarding plan. An app that keys of two vendors both match is refused when grants
//! are mapped ([`Registry::map`]), naming both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::GrantRecord;
use crate::score::{VendorFacts, VendorStatus, Vendors};

/// Prefixes of registry keys that name an app by an attribute rather than its id,
/// each with the app attribute it matches (`name` is the display name, not an
/// attribute). Which ones a provider's records carry: README, "Vendor registry".
const KEY_PREFIXES: &[&str] = &["slug", "client_id", "app_id", "name"];

/// The first-party providers; a registry key for a provider a letter or two away from
/// one of them is a typo, refused with the right name.
const FIRST_PARTY_PROVIDERS: &[&str] = crate::FIRST_PARTY;

/// How a registry key names an app: `(attribute, value)`, with `id` for a bare key.
fn parse_key(key: &str) -> Result<(&'static str, &str), String> {
    let (attr, value) = match key.split_once(':') {
        Some((prefix, value))
            if !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
        {
            let attr = KEY_PREFIXES.iter().find(|p| **p == prefix).ok_or_else(|| {
                format!(
                    "app key `{key}`: `{prefix}:` is not a key prefix; use a bare app id, \
                         or one of {}",
                    KEY_PREFIXES
                        .iter()
                        .map(|p| format!("`{p}:`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            (*attr, value)
        }
        _ => ("id", key),
    };
    if value.trim().is_empty() || value.trim() != value {
        return Err(format!(
            "app key `{key}`: the value must not be empty or have surrounding spaces"
        ));
    }
    Ok((attr, value))
}

/// Whether `provider` may appear in a registry: a first-party id, or a third-party one
/// that is not a near-miss of a first-party id (`gihub`).
fn check_provider(provider: &str) -> Result<(), String> {
    if FIRST_PARTY_PROVIDERS.contains(&provider) {
        return Ok(());
    }
    if let Some(near) = FIRST_PARTY_PROVIDERS
        .iter()
        .find(|p| edit_distance(p, provider) <= 2)
    {
        return Err(format!(
            "unknown provider `{provider}`: did you mean `{near}`? (first-party providers: {})",
            FIRST_PARTY_PROVIDERS.join(", ")
        ));
    }
    if provider.is_empty()
        || !provider
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "provider `{provider}` must be a connector's provider id (a-z, 0-9, -)"
        ));
    }
    Ok(())
}

/// Levenshtein distance, for typo suggestions over short ids.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Attributes that may carry the vendor's web domain (homepage, publisher domain).
const DOMAIN_ATTRIBUTES: &[&str] = &[
    "homepage",
    "homepage_url",
    "website",
    "publisher_domain",
    "domain",
    "html_url",
    "external_url",
    "app_homepage_url",
    "verified_publisher",
];

/// Why the registry could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file could not be read or written.
    #[error("cannot {action} the vendor registry {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The registry file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry could not be written back (the cause names the file and step).
    #[error("cannot save the vendor registry")]
    Save {
        /// Why.
        #[source]
        source: crate::files::FileError,
    },
    /// The file is not a valid registry; the message says where and what to fix.
    #[error("vendor registry {}: {message}", path.display())]
    Invalid {
        /// The registry file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Keys of two vendors match one app: which vendor's grants it holds is unknown,
    /// so nothing may be decided (or revoked) on it.
    #[error(
        "{} app `{}` is matched by vendor `{}` (key `{}`) and by vendor `{}` (key `{}`): an \
         app belongs to one vendor; fix the registry",
        .0.provider, .0.app, .0.first, .0.first_key, .0.second, .0.second_key
    )]
    Ambiguous(Box<AmbiguousApp>),
}

/// An app that keys of two vendors both match.
#[derive(Debug)]
pub struct AmbiguousApp {
    /// The provider.
    pub provider: String,
    /// The app id.
    pub app: String,
    /// One vendor's id.
    pub first: String,
    /// Its matching key, as written.
    pub first_key: String,
    /// The other vendor's id.
    pub second: String,
    /// Its matching key, as written.
    pub second_key: String,
}

/// Where a vendor relationship stands (the registry's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In use, approved.
    #[default]
    Active,
    /// Under review.
    Review,
    /// Being offboarded.
    Offboarding,
    /// Offboarded: none of its grants should remain.
    Offboarded,
}

impl Status {
    fn scoring(self) -> VendorStatus {
        match self {
            Status::Active => VendorStatus::Active,
            Status::Review => VendorStatus::Review,
            Status::Offboarding => VendorStatus::Offboarding,
            Status::Offboarded => VendorStatus::Offboarded,
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        self.scoring().name()
    }

    /// Parses a wire name, with an error that lists the valid ones.
    pub fn parse(s: &str) -> Result<Status, String> {
        match s {
            "active" => Ok(Status::Active),
            "review" => Ok(Status::Review),
            "offboarding" => Ok(Status::Offboarding),
            "offboarded" => Ok(Status::Offboarded),
            other => Err(format!(
                "unknown vendor status `{other}`: use active, review, offboarding or offboarded"
            )),
        }
    }
}

/// One vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    /// Stable id, kebab-case.
    pub id: String,
    /// Display name; what grant records carry as `vendor`.
    pub name: String,
    /// The vendor's web domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Who in the organization owns the relationship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_owner: Option<String>,
    /// Who looks after the integration technically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_steward: Option<String>,
    /// Why the organization uses the vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Where the relationship stands.
    #[serde(default)]
    pub status: Status,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<String>,
    /// Per provider id: the app ids, client ids or slugs that belong to the vendor.
    #[serde(default)]
    pub apps: BTreeMap<String, Vec<String>>,
    /// Per provider id: the scopes the vendor may hold; absent means not reviewed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allowed_scopes: BTreeMap<String, Vec<String>>,
}

impl Vendor {
    /// The contract end as a date (validated at load).
    pub fn contract_end_date(&self) -> Option<time::Date> {
        self.contract_end
            .as_deref()
            .and_then(|d| parse_date(d).ok())
    }

    /// Whether the contract ended before `today`.
    pub fn contract_ended(&self, today: time::Date) -> bool {
        self.contract_end_date().is_some_and(|d| d < today)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    vendor: Vec<Vendor>,
}

/// The vendor registry, validated and indexed.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Where it was read from (and is written back to).
    pub path: Option<PathBuf>,
    /// The vendors, in file order.
    pub vendors: Vec<Vendor>,
    /// (provider, lower-cased app key) → index into `vendors`.
    /// `(provider, attribute, value)` → (vendor index, the key as written).
    index: HashMap<(String, &'static str, String), (usize, String)>,
}

impl Registry {
    /// Reads and validates a registry file.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = Registry::parse(&text).map_err(|message| RegistryError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        r.path = Some(path.to_path_buf());
        Ok(r)
    }

    /// Parses and validates registry text.
    pub fn parse(text: &str) -> Result<Registry, String> {
        let raw: RawRegistry = toml::from_str(text).map_err(|e| e.to_string())?;
        Registry::from_vendors(raw.vendor)
    }

    /// Validates `vendors` and builds the app index.
    pub fn from_vendors(vendors: Vec<Vendor>) -> Result<Registry, String> {
        let mut ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut index: HashMap<(String, &'static str, String), (usize, String)> = HashMap::new();
        for (i, v) in vendors.iter().enumerate() {
            if v.id.is_empty()
                || !v
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "vendor id `{}` must be kebab-case (a-z, 0-9, -)",
                    v.id
                ));
            }
            if !ids.insert(v.id.clone()) {
                return Err(format!("vendor id `{}` appears twice", v.id));
            }
            if v.name.trim().is_empty() {
                return Err(format!("vendor `{}` has no name", v.id));
            }
            if !names.insert(v.name.to_lowercase()) {
                return Err(format!("vendor name `{}` appears twice", v.name));
            }
            if let Some(d) = &v.contract_end {
                parse_date(d).map_err(|e| {
                    format!(
                        "vendor `{}`: contract_end `{d}` is not a date (YYYY-MM-DD): {e}",
                        v.id
                    )
                })?;
            }
            for (provider, keys) in &v.apps {
                check_provider(provider).map_err(|e| format!("vendor `{}`: {e}", v.id))?;
                for key in keys {
                    let (attr, value) = parse_key(key)
                        .map_err(|e| format!("vendor `{}`, {provider}: {e}", v.id))?;
                    let k = (provider.clone(), attr, value.to_owned());
                    if let Some((other, _)) = index.get(&k)
                        && *other != i
                    {
                        return Err(format!(
                            "app `{key}` ({provider}) is claimed by both `{}` and `{}`: an app \
                             belongs to one vendor",
                            vendors[*other].id, v.id
                        ));
                    }
                    index.insert(k, (i, key.clone()));
                }
            }
        }
        Ok(Registry {
            path: None,
            vendors,
            index,
        })
    }

    /// Writes the registry back to its file atomically (comments are not kept); a new
    /// registry file is created 0600, an existing one keeps its mode.
    pub fn save(&self) -> Result<(), RegistryError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let raw = RawRegistry {
            vendor: self.vendors.clone(),
        };
        let text = toml::to_string_pretty(&raw).map_err(|e| RegistryError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let text =
            format!("# grantscope vendor registry (see `grantscope vendors --help`).\n\n{text}");
        // Through a private temporary file in the registry's directory, renamed over
        // it (`files`): a planted link is never followed, the registry keeps its mode.
        crate::files::write(path, text.as_bytes()).map_err(|source| RegistryError::Save { source })
    }

    /// The vendor with this id or (case-insensitive) name.
    pub fn find(&self, key: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.id == key).or_else(|| {
            self.vendors
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(key))
        })
    }

    /// Every vendor key matching the grant's app, with the key: its id exactly, and
    /// each prefixed attribute exactly.
    fn matches<'a>(&'a self, grant: &GrantRecord) -> Vec<(usize, &'a str)> {
        let mut out: Vec<(usize, &str)> = Vec::new();
        let mut probe = |attr: &'static str, value: &str| {
            if let Some((i, key)) =
                self.index
                    .get(&(grant.provider.clone(), attr, value.to_owned()))
                && !out.iter().any(|(j, _)| j == i)
            {
                out.push((*i, key.as_str()));
            }
        };
        probe("id", &grant.app.id);
        probe("name", &grant.app.name);
        for attr in KEY_PREFIXES.iter().filter(|a| **a != "name") {
            if let Some(v) = grant.app.attributes.get(*attr) {
                probe(attr, v);
            }
        }
        out
    }

    /// The vendor an app belongs to, when exactly one vendor's keys match it.
    pub fn vendor_of(&self, grant: &GrantRecord) -> Option<&Vendor> {
        match self.matches(grant).as_slice() {
            [(i, _)] => Some(&self.vendors[*i]),
            _ => None,
        }
    }

    /// Fills every grant's `vendor` with its vendor's name (`None` when unmapped).
    /// Refused when keys of two vendors match one app: which vendor holds it is then
    /// unknown, and a plan for either must not include it.
    pub fn map(&self, grants: &mut [GrantRecord]) -> Result<(), RegistryError> {
        for g in grants.iter() {
            if let [(a, ka), (b, kb), ..] = self.matches(g).as_slice() {
                return Err(RegistryError::Ambiguous(Box::new(AmbiguousApp {
                    provider: g.provider.clone(),
                    app: g.app.id.clone(),
                    first: self.vendors[*a].id.clone(),
                    first_key: (*ka).to_owned(),
                    second: self.vendors[*b].id.clone(),
                    second_key: (*kb).to_owned(),
                })));
            }
        }
        for g in grants {
            g.vendor = self.vendor_of(g).map(|v| v.name.clone());
        }
        Ok(())
    }

    /// What scoring needs to know about each vendor, by name.
    pub fn facts(&self) -> Vendors {
        self.vendors
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    VendorFacts {
                        name: v.name.clone(),
                        owner: v.business_owner.clone(),
                        status: v.status.scoring(),
                        contract_end: v.contract_end_date(),
                    },
                )
            })
            .collect()
    }

    /// Apps with no vendor, with suggestions, most-granted first.
    pub fn unmapped(&self, grants: &[GrantRecord]) -> Vec<UnmappedApp> {
        let mut apps: BTreeMap<(String, String), UnmappedApp> = BTreeMap::new();
        for g in grants.iter().filter(|g| self.vendor_of(g).is_none()) {
            if is_personal(g) {
                continue;
            }
            let entry = apps
                .entry((g.provider.clone(), g.app.id.clone()))
                .or_insert_with(|| UnmappedApp {
                    provider: g.provider.clone(),
                    app_id: g.app.id.clone(),
                    app_name: g.app.name.clone(),
                    publisher: g.app.publisher.clone(),
                    grants: 0,
                    tenants: BTreeSet::new(),
                    suggestions: self.suggest(g),
                });
            entry.grants += 1;
            entry.tenants.insert(g.tenant.clone());
        }
        let mut out: Vec<UnmappedApp> = apps.into_values().collect();
        out.sort_by(|a, b| {
            b.grants
                .cmp(&a.grants)
                .then_with(|| a.app_id.cmp(&b.app_id))
        });
        out
    }

    /// Vendors that plausibly own an unmapped app: its publisher or a homepage on one
    /// of their domains, or its name containing theirs.
    fn suggest(&self, g: &GrantRecord) -> Vec<Suggestion> {
        let mut out = Vec::new();
        let texts: Vec<String> = g
            .app
            .publisher
            .iter()
            .chain(
                DOMAIN_ATTRIBUTES
                    .iter()
                    .filter_map(|a| g.app.attributes.get(*a)),
            )
            .map(|s| s.to_lowercase())
            .collect();
        let app_name = squash(&g.app.name);
        for v in &self.vendors {
            if let Some(d) = v
                .domains
                .iter()
                .find(|d| texts.iter().any(|t| mentions_domain(t, &d.to_lowercase())))
            {
                out.push(Suggestion {
                    vendor: v.id.clone(),
                    reason: format!("the app's publisher or homepage is on {d}"),
                });
                continue;
            }
            let vendor_name = squash(&v.name);
            let first_word = v
                .name
                .split_whitespace()
                .next()
                .map(squash)
                .unwrap_or_default();
            if !vendor_name.is_empty()
                && (app_name.contains(&vendor_name)
                    || (first_word.len() >= 5 && app_name.contains(&first_word)))
            {
                out.push(Suggestion {
                    vendor: v.id.clone(),
                    reason: format!("the app's name resembles \"{}\"", v.name),
                });
            }
        }
        out
    }

    /// Governance findings over `grants` as of `today`: unmapped apps, vendors with
    /// no owner, grants wider than the vendor's allowed scopes, and live grants of
    /// vendors that are offboarded or whose contract ended.
    pub fn findings(&self, grants: &[GrantRecord], today: time::Date) -> Vec<Finding> {
        let mut out = Vec::new();
        for g in grants {
            let Some(v) = self.vendor_of(g) else {
                if !is_personal(g) {
                    out.push(Finding::new(
                        FindingKind::NoVendor,
                        g,
                        None,
                        format!(
                            "app \"{}\" ({}) is not in the vendor registry",
                            g.app.name, g.app.id
                        ),
                    ));
                }
                continue;
            };
            if v.business_owner
                .as_deref()
                .is_none_or(|o| o.trim().is_empty())
            {
                out.push(Finding::new(
                    FindingKind::NoOwner,
                    g,
                    Some(v),
                    format!("vendor {} has no business owner", v.name),
                ));
            }
            if let Some(allowed) = v.allowed_scopes.get(&g.provider) {
                let extra: Vec<&str> = g
                    .scopes
                    .iter()
                    .filter(|s| !allowed.contains(s))
                    .map(String::as_str)
                    .collect();
                if !extra.is_empty() {
                    out.push(Finding::new(
                        FindingKind::OverWide,
                        g,
                        Some(v),
                        format!(
                            "holds {} beyond what {} is allowed: {}",
                            if extra.len() == 1 {
                                "a scope"
                            } else {
                                "scopes"
                            },
                            v.name,
                            extra.join(", ")
                        ),
                    ));
                }
            }
            if matches!(v.status, Status::Offboarding | Status::Offboarded) {
                out.push(Finding::new(
                    FindingKind::VendorOffboarded,
                    g,
                    Some(v),
                    format!(
                        "vendor {} is {} but this grant is live",
                        v.name,
                        v.status.name()
                    ),
                ));
            }
            if v.contract_ended(today) {
                out.push(Finding::new(
                    FindingKind::ContractEnded,
                    g,
                    Some(v),
                    format!(
                        "vendor {}'s contract ended on {}",
                        v.name,
                        v.contract_end.as_deref().unwrap_or("?")
                    ),
                ));
            }
        }
        out
    }
}

/// People's own credentials (personal tokens, keys) are not vendor apps.
fn is_personal(g: &GrantRecord) -> bool {
    matches!(
        g.kind,
        crate::model::GrantKind::PersonalToken | crate::model::GrantKind::ApiKey
    ) && g.app.publisher.is_none()
}

/// Lower-case alphanumerics only: "Driftwood-Chat App" → "driftwoodchatapp".
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True when `text` names `domain` or a subdomain of it as a whole host, not as a
/// substring of another name (`notdriftwoodchat.io` does not count).
fn mentions_domain(text: &str, domain: &str) -> bool {
    let name = |c: char| c.is_ascii_alphanumeric() || c == '-';
    text.match_indices(domain).any(|(i, _)| {
        // A label boundary before (start, `.`, `/`, `@`...), and the host ends after:
        // `app.driftwoodchat.io/` counts, `driftwoodchat.io.evil.example` does not.
        let before = text[..i].chars().next_back();
        let after = text[i + domain.len()..].chars().next();
        before.is_none_or(|c| !name(c)) && after.is_none_or(|c| !name(c) && c != '.')
    })
}

fn parse_date(s: &str) -> Result<time::Date, time::error::Parse> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
}

/// An app no registry entry claims.
#[derive(Debug, Clone, Serialize)]
pub struct UnmappedApp {
    /// Provider id.
    pub provider: String,
    /// The app's id.
    pub app_id: String,
    /// The app's name.
    pub app_name: String,
    /// Publisher as the provider reports it.
    pub publisher: Option<String>,
    /// Live grants of the app.
    pub grants: u64,
    /// Tenants it holds grants in.
    pub tenants: BTreeSet<String>,
    /// Vendors that may own it.
    pub suggestions: Vec<Suggestion>,
}

/// A vendor that may own an unmapped app, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// Vendor id.
    pub vendor: String,
    /// Why it is suggested.
    pub reason: String,
}

/// What a governance finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The app has no vendor in the registry.
    NoVendor,
    /// The vendor has no business owner.
    NoOwner,
    /// The grant holds scopes the vendor is not allowed.
    OverWide,
    /// The vendor is offboarding or offboarded, yet the grant is live.
    VendorOffboarded,
    /// The vendor's contract ended.
    ContractEnded,
}

/// One governance finding about one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// The grant's id.
    pub grant: String,
    /// Provider id.
    pub provider: String,
    /// Tenant.
    pub tenant: String,
    /// App id.
    pub app_id: String,
    /// Vendor id, when mapped.
    pub vendor: Option<String>,
    /// One sentence.
    pub detail: String,
}

impl Finding {
    pub(crate) fn new(
        kind: FindingKind,
        g: &GrantRecord,
        v: Option<&Vendor>,
        detail: String,
    ) -> Self {
        Finding {
            kind,
            grant: g.id.clone(),
            provider: g.provider.clone(),
            tenant: g.tenant.clone(),
            app_id: g.app.id.clone(),
            vendor: v.map(|v| v.id.clone()),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(provider: &str, app: &str, name: &str, scopes: &[&str]) -> GrantRecord {
        let mut g = crate::test_support::installation(provider, app);
        g.id = format!("{provider}/t/{app}:{}", scopes.len());
        g.app.name = name.into();
        g.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        g
    }

    const TEXT: &str = r#"
[[vendor]]
id = "driftwood-chat"
name = "Driftwood Chat"
domains = ["driftwoodchat.io"]
business_owner = "dana@acme.example"
contract_end = "2024-01-31"
[vendor.apps]
github = ["210466", "slug:driftwood-chat-bot"]
slack = ["A0DRIFT"]
[vendor.allowed_scopes]
github = ["metadata:read"]

[[vendor]]
id = "quillstack"
name = "Quillstack Docs"
status = "offboarded"
[vendor.apps]
github = ["77"]
"#;

    #[test]
    fn apps_map_by_id_or_identifying_attribute() {
        let r = Registry::parse(TEXT).unwrap_or_else(|e| panic!("{e}"));
        let mut by_slug = grant("github", "999", "x", &[]);
        by_slug
            .app
            .attributes
            .insert("slug".into(), "driftwood-chat-bot".into());
        let mut grants = vec![
            grant("github", "210466", "Driftwood", &["metadata:read"]),
            grant("slack", "A0DRIFT", "Driftwood", &[]),
            by_slug,
            // Same id, other provider: not the same app.
            grant("okta", "210466", "Other", &[]),
        ];
        r.map(&mut grants).unwrap_or_else(|e| panic!("{e}"));
        let vendors: Vec<Option<&str>> = grants.iter().map(|g| g.vendor.as_deref()).collect();
        assert_eq!(
            vendors,
            [
                Some("Driftwood Chat"),
                Some("Driftwood Chat"),
                Some("Driftwood Chat"),
                None
            ]
        );
        assert_eq!(
            r.find("quillstack").map(|v| v.status),
            Some(Status::Offboarded)
        );
        assert_eq!(
            r.find("DRIFTWOOD CHAT").map(|v| v.id.as_str()),
            Some("driftwood-chat")
        );
        let facts = r.facts();
        assert_eq!(
            facts.get("Quillstack Docs").map(|f| f.status),
            Some(VendorStatus::Offboarded)
        );
    }

    /// Issue 12: a foreign app whose slug (or name, or client id) equals a vendor's app
    /// id used to map to that vendor, inherit its trust and join its offboarding plan.
    #[test]
    fn a_foreign_app_named_like_a_vendors_app_id_is_not_the_vendors() {
        let r = Registry::parse(TEXT).unwrap_or_else(|e| panic!("{e}"));
        let mut foreign = grant("github", "31337", "210466", &["contents:write"]);
        for attr in ["slug", "client_id", "app_id", "client_name"] {
            foreign.app.attributes.insert(attr.into(), "210466".into());
        }
        // Case is not folded either: `DRIFTWOOD-CHAT-BOT` is another slug.
        let mut shouting = grant("github", "31338", "x", &[]);
        shouting
            .app
            .attributes
            .insert("slug".into(), "DRIFTWOOD-CHAT-BOT".into());
        let mut grants = vec![
            grant("github", "210466", "Driftwood", &["metadata:read"]),
            foreign,
            shouting,
        ];
        r.map(&mut grants).unwrap_or_else(|e| panic!("{e}"));
        let vendors: Vec<Option<&str>> = grants.iter().map(|g| g.vendor.as_deref()).collect();
        assert_eq!(vendors, [Some("Driftwood Chat"), None, None]);
        // So it is listed as unmapped, and the vendor's offboarding plan leaves it out.
        let unmapped: Vec<String> = r.unmapped(&grants).into_iter().map(|u| u.app_id).collect();
        assert_eq!(unmapped, ["31337", "31338"]);
        let theirs: Vec<GrantRecord> = grants
            .iter()
            .filter(|g| g.vendor.as_deref() == Some("Driftwood Chat"))
            .cloned()
            .map(|mut g| {
                g.revocation = Some(crate::model::RevocationTarget {
                    action: "installation".into(),
                    handle: g.app.id.clone(),
                });
                g
            })
            .collect();
        let plan = crate::revoke::Plan::new("vendor:driftwood-chat", "t", theirs);
        let planned: Vec<&str> = plan
            .actions
            .iter()
            .map(|(g, _)| g.app.id.as_str())
            .collect();
        assert_eq!(planned, ["210466"]);
    }

    #[test]
    fn keys_of_two_vendors_matching_one_app_are_an_error_naming_both() {
        let text = "[[vendor]]\nid='a'\nname='A'\n[vendor.apps]\ngithub=['1']\n\
                    [[vendor]]\nid='b'\nname='B'\n[vendor.apps]\ngithub=['slug:shared']\n";
        let r = Registry::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let mut g = grant("github", "1", "x", &[]);
        g.app.attributes.insert("slug".into(), "shared".into());
        let err = r
            .map(&mut [g])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("vendor `a` (key `1`)") && err.contains("vendor `b` (key `slug:shared`)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_providers_and_prefixes_are_refused() {
        for (apps, want) in [
            (
                "gihub=['1']",
                "unknown provider `gihub`: did you mean `github`?",
            ),
            ("okat=['1']", "did you mean `okta`?"),
            ("github=['slg:x']", "`slg:` is not a key prefix"),
            ("github=['slug:']", "must not be empty"),
            ("github=[' 1']", "surrounding spaces"),
            ("'Git Hub'=['1']", "must be a connector's provider id"),
        ] {
            let text = format!("[[vendor]]\nid='a'\nname='A'\n[vendor.apps]\n{apps}\n");
            let err = Registry::parse(&text).err().unwrap_or_default();
            assert!(err.contains(want), "{apps}: {err}");
        }
        // A third-party provider is fine, and so is an id with a colon in a known prefix.
        let ok = "[[vendor]]\nid='a'\nname='A'\n[vendor.apps]\nacme-crm=['1']\n\
                  github=['client_id:Iv1.8a61f9b3a7aba766', 'name:Driftwood: Bot']\n";
        Registry::parse(ok).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn an_app_claimed_twice_is_refused() {
        let text = "[[vendor]]\nid='a'\nname='A'\n[vendor.apps]\ngithub=['1']\n\
                    [[vendor]]\nid='b'\nname='B'\n[vendor.apps]\ngithub=['1']\n";
        let err = Registry::parse(text).err().unwrap_or_default();
        assert!(err.contains("claimed by both `a` and `b`"), "{err}");
        for (text, want) in [
            ("[[vendor]]\nid='A b'\nname='x'\n", "kebab-case"),
            (
                "[[vendor]]\nid='a'\nname='x'\n[[vendor]]\nid='a'\nname='y'\n",
                "appears twice",
            ),
            (
                "[[vendor]]\nid='a'\nname='x'\ncontract_end='soon'\n",
                "is not a date",
            ),
            (
                "[[vendor]]\nid='a'\nname='x'\nstatus='gone'\n",
                "unknown variant",
            ),
            (
                "[[vendor]]\nid='a'\nname='x'\nowner='me'\n",
                "unknown field",
            ),
        ] {
            let err = Registry::parse(text).err().unwrap_or_default();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn findings_name_what_is_wrong() {
        let r = Registry::parse(TEXT).unwrap_or_else(|e| panic!("{e}"));
        let today = time::macros::date!(2025 - 06 - 01);
        let grants = vec![
            grant(
                "github",
                "210466",
                "Driftwood",
                &["contents:write", "metadata:read"],
            ),
            grant("github", "77", "Quill", &[]),
            grant("github", "5", "Mystery", &[]),
        ];
        let kinds: Vec<(FindingKind, String)> = r
            .findings(&grants, today)
            .into_iter()
            .map(|f| (f.kind, f.app_id))
            .collect();
        assert_eq!(
            kinds,
            [
                (FindingKind::OverWide, "210466".to_owned()),
                (FindingKind::ContractEnded, "210466".to_owned()),
                (FindingKind::NoOwner, "77".to_owned()),
                (FindingKind::VendorOffboarded, "77".to_owned()),
                (FindingKind::NoVendor, "5".to_owned()),
            ]
        );
    }

    #[test]
    fn unmapped_apps_get_suggestions_by_domain_or_name() {
        let r = Registry::parse(TEXT).unwrap_or_else(|e| panic!("{e}"));
        let mut by_domain = grant("google-workspace", "123.apps", "Chat Bridge", &[]);
        by_domain
            .app
            .attributes
            .insert("homepage".into(), "https://app.driftwoodchat.io/".into());
        let by_name = grant("okta", "0oa1", "Quillstack Docs for Okta", &[]);
        let lookalike = {
            let mut g = grant("okta", "0oa2", "Other", &[]);
            g.app.publisher = Some("notdriftwoodchat.io".into());
            g
        };
        let prefix = {
            let mut g = grant("okta", "0oa3", "Other", &[]);
            g.app.attributes.insert(
                "homepage".into(),
                "https://driftwoodchat.io.evil.example/".into(),
            );
            g
        };
        let unmapped = r.unmapped(&[by_domain, by_name, lookalike, prefix]);
        let got: BTreeMap<&str, Vec<&str>> = unmapped
            .iter()
            .map(|u| {
                (
                    u.app_id.as_str(),
                    u.suggestions.iter().map(|s| s.vendor.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(got["123.apps"], ["driftwood-chat"]);
        assert_eq!(got["0oa1"], ["quillstack"]);
        assert!(got["0oa2"].is_empty(), "{got:?}");
        assert!(got["0oa3"].is_empty(), "{got:?}");
    }

    #[test]
    fn save_round_trips() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("vendors.toml");
        std::fs::write(&path, TEXT).unwrap_or_else(|e| panic!("{e}"));
        let mut r = Registry::load(&path).unwrap_or_else(|e| panic!("{e}"));
        r.vendors[1].business_owner = Some("lee@acme.example".into());
        r.save().unwrap_or_else(|e| panic!("{e}"));
        let again = Registry::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.vendors, r.vendors);
    }
}
