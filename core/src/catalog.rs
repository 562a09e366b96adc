//! Scope catalogs: what each provider scope or permission reaches.
//!
//! One catalog per provider id, in `config/catalog/<provider>.json`, generated from the
//! provider reference pack (`testdata/providers/<provider>/scopes.json`) by the unit test
//! `catalog_files_are_up_to_date` below and embedded in the binary, so scoring needs no
//! files at run time. A connector author ships a catalog for a new provider as a file of
//! the same format and loads it with [`Catalog::load_extra`] (the format is documented in
//! SCORING.md).
//!
//! Every entry carries the provider's own facts (access, data domain, sensitivity,
//! Google's restricted/sensitive class, Microsoft's privilege level, azure-tiering tier
//! and admin-consent flag) plus two that grantscope derives: a provider-neutral
//! [`Domain`] so breadth can be compared across providers, and `admin_path`, the
//! Tier-0 mark for a path to tenant admin.
//!
//! Lookup ([`Catalog::lookup`]) handles exact names, aliases, a case-insensitive
//! fallback, GitHub's `{permission}:{level}` spelling (entries are stored that way), and
//! Microsoft names that exist both as delegated and as application permissions (the
//! grant's kind picks the row). An unknown scope is `None`: the scorer marks it
//! unclassified, never as harmless.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::GrantKind;

/// The catalog file format this build reads and writes.
pub const FORMAT: u32 = 1;

/// Most entries one catalog may hold. The largest provider (Microsoft Graph) has about
/// 1,600; the cap keeps a plugin-supplied file from making lookup tables huge.
pub const MAX_ENTRIES: usize = 20_000;

/// Most implied-entry links one catalog may expand to in all, so that a long or
/// deliberately tangled `implies` chain cannot make loading quadratic.
const MAX_IMPLIED_LINKS: usize = 2_000_000;

/// The first-party catalogs, embedded at build time (provider id, file text).
const EMBEDDED: &[(&str, &str)] = &[
    ("github", include_str!("../../config/catalog/github.json")),
    (
        "google-workspace",
        include_str!("../../config/catalog/google-workspace.json"),
    ),
    (
        "microsoft-entra",
        include_str!("../../config/catalog/microsoft-entra.json"),
    ),
    ("okta", include_str!("../../config/catalog/okta.json")),
    (
        "salesforce",
        include_str!("../../config/catalog/salesforce.json"),
    ),
    ("slack", include_str!("../../config/catalog/slack.json")),
];

/// What a scope lets its holder do, lowest first (so `>=` compares privilege).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read data or settings.
    Read,
    /// Create, change or delete data.
    Write,
    /// Change who can do what, or the tenant's configuration.
    Admin,
}

impl Access {
    /// The wire name (`read`, `write`, `admin`).
    pub const fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A provider-neutral data domain. Providers name their domains differently (GitHub has
/// 47, Microsoft 22); these classes make "breadth" and a vendor's union across
/// providers comparable. The mapping from each provider's `data_domain` is in the
/// generator below and in SCORING.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Mailboxes and mail settings.
    Mail,
    /// Calendars, bookings.
    Calendar,
    /// Address books.
    Contacts,
    /// Files, documents, notes, drives, sites.
    Files,
    /// Source code, repositories, CI/CD, packages, scripts.
    Code,
    /// CRM, customer, marketing and service data.
    Crm,
    /// Chat, channels, meetings and calls.
    Chat,
    /// Users, groups, members and the directory.
    Directory,
    /// Secrets, keys, tokens, authentication methods, sessions.
    Credentials,
    /// Tenant configuration, roles, policies, app and consent management.
    Admin,
    /// Security alerts, audit logs, compliance.
    Security,
    /// Managed devices and printers.
    Devices,
    /// Cloud infrastructure (e.g. Google Cloud).
    Cloud,
    /// Issues, projects, tasks, discussions.
    WorkItems,
    /// AI assistants and models.
    Ai,
    /// Webhooks, workflows, connectors, add-ons.
    Integrations,
    /// A person's own data outside work systems (health, profile details, exports).
    Personal,
    /// Sign-in basics and public or minimal metadata; does not widen reach.
    Basic,
    /// Anything else.
    Other,
}

impl Domain {
    /// Every domain, in declaration order (bit `i` of a domain set is `ALL[i]`).
    pub const ALL: [Domain; 19] = [
        Domain::Mail,
        Domain::Calendar,
        Domain::Contacts,
        Domain::Files,
        Domain::Code,
        Domain::Crm,
        Domain::Chat,
        Domain::Directory,
        Domain::Credentials,
        Domain::Admin,
        Domain::Security,
        Domain::Devices,
        Domain::Cloud,
        Domain::WorkItems,
        Domain::Ai,
        Domain::Integrations,
        Domain::Personal,
        Domain::Basic,
        Domain::Other,
    ];

    /// The wire name (`mail`, `work_items`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Domain::Mail => "mail",
            Domain::Calendar => "calendar",
            Domain::Contacts => "contacts",
            Domain::Files => "files",
            Domain::Code => "code",
            Domain::Crm => "crm",
            Domain::Chat => "chat",
            Domain::Directory => "directory",
            Domain::Credentials => "credentials",
            Domain::Admin => "admin",
            Domain::Security => "security",
            Domain::Devices => "devices",
            Domain::Cloud => "cloud",
            Domain::WorkItems => "work_items",
            Domain::Ai => "ai",
            Domain::Integrations => "integrations",
            Domain::Personal => "personal",
            Domain::Basic => "basic",
            Domain::Other => "other",
        }
    }

    /// This domain's bit in a domain set.
    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// serde's `skip_serializing_if` takes a path to a function of `&T`.
fn is_false(b: &bool) -> bool {
    !*b
}

/// One scope or permission of one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// The name as a grant spells it. GitHub App and fine-grained token permissions are
    /// stored as `{permission}:{level}` (e.g. `contents:write`), as the connector reports
    /// them.
    pub scope: String,
    /// Other spellings of the same scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The provider's kind of scope (`delegated`, `application`, `oauth_scope`,
    /// `app_permission:repository`, `bot`, ...). Microsoft names that exist twice are told
    /// apart by it: `application` rows serve grants of kind `application`.
    pub kind: String,
    /// Read, write or admin.
    pub access: Access,
    /// grantscope's provider-neutral domain.
    pub domain: Domain,
    /// The provider pack's own data domain, kept for reports.
    pub data_domain: String,
    /// 1 (public or trivial) to 5 (everything of that kind, or a takeover path).
    pub sensitivity: u8,
    /// The provider's own class, where it has one (Google: `restricted`, `sensitive`,
    /// `non-sensitive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// `class` was inferred by the reference pack, not published by the provider.
    #[serde(default, skip_serializing_if = "is_false")]
    pub class_inferred: bool,
    /// Microsoft's own privilege level (1–4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_privilege_level: Option<u8>,
    /// The azure-tiering attack-path tier of a Graph permission: 0 (a path to Global
    /// Admin), 1 (restricted) or 2 (unprivileged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_tier: Option<u8>,
    /// Whether the provider requires an admin to consent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_consent: Option<bool>,
    /// Tier-0: holding it is a path to tenant admin (Microsoft: azure-tiering Tier-0;
    /// other providers: grantscope's curated list, see SCORING.md).
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin_path: bool,
    /// It yields refresh tokens or long-lived sessions (offline access).
    #[serde(default, skip_serializing_if = "is_false")]
    pub offline: bool,
    /// Scopes this one includes (names as in this catalog).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implies: Vec<String>,
    /// What it allows, in one sentence.
    pub description: String,
}

/// A catalog file: `{"format": 1, "provider": "...", "source": "...", "entries": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    format: u32,
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    entries: Vec<CatalogEntry>,
}

/// What is wrong with one catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryProblem {
    /// `scope` is empty.
    EmptyScope,
    /// `sensitivity` is outside 1–5.
    Sensitivity(u8),
    /// Another entry of the same kind already answers to this name.
    Duplicate(String),
    /// An `implies` name is not in the catalog.
    ImpliesUnknown(String),
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryProblem::EmptyScope => f.write_str("its scope is empty"),
            EntryProblem::Sensitivity(s) => {
                write!(f, "its sensitivity {s} is outside 1 to 5")
            }
            EntryProblem::Duplicate(name) => write!(
                f,
                "another entry of the same kind already answers to `{name}`; give each name to one entry"
            ),
            EntryProblem::ImpliesUnknown(name) => write!(
                f,
                "it implies `{name}`, which is not in the catalog; add that entry or drop the name"
            ),
        }
    }
}

/// Errors from reading or checking a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read the scope catalog {}: check the path and its permissions", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a catalog document.
    #[error("scope catalog {origin} is not a valid catalog document (format: SCORING.md)")]
    Parse {
        /// File name or `embedded:<provider>`.
        origin: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A format version this build does not read.
    #[error("scope catalog {origin} has format {found}; this grantscope reads format {FORMAT}")]
    Format {
        /// File name.
        origin: String,
        /// The file's `format`.
        found: u32,
    },
    /// The provider id is not a kebab-case id.
    #[error(
        "scope catalog {origin} names provider `{provider}`: use the connector's provider id, lowercase letters, digits and dashes"
    )]
    BadProvider {
        /// File name.
        origin: String,
        /// The id given.
        provider: String,
    },
    /// No entries.
    #[error("scope catalog {origin} has no entries")]
    Empty {
        /// File name.
        origin: String,
    },
    /// More entries or implied links than a catalog may hold.
    #[error(
        "scope catalog {origin} is too large: at most {MAX_ENTRIES} entries and {MAX_IMPLIED_LINKS} implied links in all"
    )]
    TooLarge {
        /// File name.
        origin: String,
    },
    /// A catalog for this provider is already loaded.
    #[error(
        "a scope catalog for provider `{provider}` is already loaded, so {origin} is refused: built-in catalogs cannot be replaced"
    )]
    DuplicateProvider {
        /// File name.
        origin: String,
        /// The provider id.
        provider: String,
    },
    /// One entry is invalid.
    #[error("scope catalog {origin}: entry `{scope}` is invalid: {problem}")]
    Entry {
        /// File name.
        origin: String,
        /// The entry's scope.
        scope: String,
        /// What is wrong.
        problem: EntryProblem,
    },
}

/// FxHash, the multiply-rotate hash rustc uses: several times cheaper than SipHash on
/// short strings, and name lookup is the scorer's hottest path. SipHash's resistance to
/// flooding buys nothing here: the tables are built once from catalog files (at most
/// [`MAX_ENTRIES`] names) and only read afterwards, so crafted scope names can at worst
/// lengthen one lookup's probe, never grow a table.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Name → entry indices.
type NameIndex = HashMap<String, Vec<u32>, BuildHasherDefault<FxHasher>>;

/// The catalog of one provider, indexed for lookup.
#[derive(Debug, Clone)]
pub struct ProviderCatalog {
    provider: String,
    entries: Vec<CatalogEntry>,
    /// Name or alias → entry indices (several only for names with several kinds).
    names: NameIndex,
    /// Lowercased name → entry indices, for names that stay unambiguous when folded.
    folded: NameIndex,
    /// Entry index → every entry it implies, transitively, without itself.
    implied: Vec<Box<[u32]>>,
}

/// A scope resolved in a catalog, with what it implies.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    catalog: &'a ProviderCatalog,
    index: u32,
}

impl<'a> Resolution<'a> {
    /// The entry the scope names.
    pub fn entry(&self) -> &'a CatalogEntry {
        // Indices come from the catalog's own index, built with the entries.
        &self.catalog.entries[self.index as usize]
    }

    /// Every entry the scope includes, transitively (GitHub `repo` → `repo:status`, ...;
    /// a write level → the read level), without the entry itself.
    pub fn implied(&self) -> impl Iterator<Item = &'a CatalogEntry> + 'a {
        let catalog = self.catalog;
        catalog.implied[self.index as usize]
            .iter()
            .map(move |&i| &catalog.entries[i as usize])
    }
}

/// Whether a catalog row of `entry_kind` serves a grant of `grant` kind: Microsoft has
/// the same names as delegated and as application permissions, and only an app-only
/// grant holds application permissions.
fn kind_matches(entry_kind: &str, grant: GrantKind) -> bool {
    (entry_kind == "application") == (grant == GrantKind::Application)
}

fn is_provider_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl ProviderCatalog {
    /// Checks and indexes one catalog document.
    fn build(file: CatalogFile, origin: &str) -> Result<Self, CatalogError> {
        if file.format != FORMAT {
            return Err(CatalogError::Format {
                origin: origin.to_owned(),
                found: file.format,
            });
        }
        if !is_provider_id(&file.provider) {
            return Err(CatalogError::BadProvider {
                origin: origin.to_owned(),
                provider: file.provider,
            });
        }
        if file.entries.is_empty() {
            return Err(CatalogError::Empty {
                origin: origin.to_owned(),
            });
        }
        let bad = |scope: &str, problem| CatalogError::Entry {
            origin: origin.to_owned(),
            scope: scope.to_owned(),
            problem,
        };
        let entries = file.entries;
        let too_large = || CatalogError::TooLarge {
            origin: origin.to_owned(),
        };
        if entries.len() > MAX_ENTRIES {
            return Err(too_large());
        }
        let mut names = NameIndex::with_capacity_and_hasher(entries.len(), Default::default());
        for (i, e) in entries.iter().enumerate() {
            if e.scope.is_empty() {
                return Err(bad(&e.scope, EntryProblem::EmptyScope));
            }
            if !(1..=5).contains(&e.sensitivity) {
                return Err(bad(&e.scope, EntryProblem::Sensitivity(e.sensitivity)));
            }
            // Fits: at most MAX_ENTRIES entries.
            let index = i as u32;
            for name in std::iter::once(&e.scope).chain(&e.aliases) {
                let slot = names.entry(name.clone()).or_default();
                if slot.iter().any(|&j| entries[j as usize].kind == e.kind) {
                    return Err(bad(&e.scope, EntryProblem::Duplicate(name.clone())));
                }
                slot.push(index);
            }
        }
        // Case-insensitive fallback: only names that no other name folds onto.
        let mut folded = NameIndex::default();
        let mut ambiguous: Vec<String> = Vec::new();
        let mut spelled: HashMap<String, &str> = HashMap::new();
        for (name, indices) in &names {
            let key = name.to_lowercase();
            match spelled.get(&key) {
                Some(other) if *other != name.as_str() => ambiguous.push(key),
                Some(_) => {}
                None => {
                    spelled.insert(key.clone(), name);
                    folded.insert(key, indices.clone());
                }
            }
        }
        for key in ambiguous {
            folded.remove(&key);
        }
        let mut catalog = ProviderCatalog {
            provider: file.provider,
            entries,
            names,
            folded,
            implied: Vec::new(),
        };
        // Direct implications, resolved with the implying entry's own kind.
        let mut direct: Vec<Vec<u32>> = Vec::with_capacity(catalog.entries.len());
        for e in &catalog.entries {
            let mut out = Vec::with_capacity(e.implies.len());
            for name in &e.implies {
                let Some(candidates) = catalog.names.get(name) else {
                    return Err(bad(&e.scope, EntryProblem::ImpliesUnknown(name.clone())));
                };
                let pick = candidates
                    .iter()
                    .copied()
                    .find(|&j| catalog.entries[j as usize].kind == e.kind)
                    .or_else(|| candidates.first().copied());
                out.extend(pick);
            }
            direct.push(out);
        }
        // Transitive closure; implications may form cycles (Salesforce `refresh_token`
        // ↔ `offline_access`), so walk with a visited set.
        let n = catalog.entries.len();
        let mut implied = Vec::with_capacity(n);
        let mut links = 0usize;
        let mut seen = vec![false; n];
        for start in 0..n {
            let mut stack: Vec<u32> = direct[start].clone();
            let mut out: Vec<u32> = Vec::new();
            seen[start] = true;
            while let Some(j) = stack.pop() {
                let ju = j as usize;
                if !seen[ju] {
                    seen[ju] = true;
                    out.push(j);
                    stack.extend(direct[ju].iter().copied());
                }
            }
            seen[start] = false;
            for &j in &out {
                seen[j as usize] = false;
            }
            links += out.len();
            if links > MAX_IMPLIED_LINKS {
                return Err(too_large());
            }
            out.sort_unstable();
            implied.push(out.into_boxed_slice());
        }
        catalog.implied = implied;
        Ok(catalog)
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    fn pick(&self, candidates: &[u32], kind: GrantKind) -> Option<u32> {
        // Most names have one row: it is the answer whatever the kind (the scorer's
        // hot path; comparing the kind's name cost a string compare per scope).
        if let [only] = candidates {
            return Some(*only);
        }
        candidates
            .iter()
            .copied()
            .find(|&i| kind_matches(&self.entries[i as usize].kind, kind))
            .or_else(|| candidates.first().copied())
    }

    /// Resolves a scope as a grant of `kind` spells it: exact name or alias first, then
    /// ignoring case. `None` when the catalog does not know it.
    pub fn resolve(&self, scope: &str, kind: GrantKind) -> Option<Resolution<'_>> {
        let index = match self.names.get(scope) {
            Some(candidates) => self.pick(candidates, kind),
            None => self
                .folded
                .get(&scope.to_lowercase())
                .and_then(|c| self.pick(c, kind)),
        }?;
        Some(Resolution {
            catalog: self,
            index,
        })
    }
}

/// Scope catalogs for every known provider.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    providers: BTreeMap<String, ProviderCatalog>,
}

impl Catalog {
    /// An empty catalog (every scope unclassified); mostly for tests.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The six first-party catalogs embedded in the binary.
    ///
    /// Fails only if the embedded files are broken, which the unit tests rule out.
    pub fn builtin() -> Result<Self, CatalogError> {
        let mut catalog = Catalog::empty();
        for (provider, text) in EMBEDDED {
            catalog.add_json(text, &format!("embedded:{provider}"))?;
        }
        Ok(catalog)
    }

    /// Adds a catalog document for a provider not yet loaded. `origin` names it in
    /// errors (a file name).
    pub fn add_json(&mut self, text: &str, origin: &str) -> Result<(), CatalogError> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|source| CatalogError::Parse {
                origin: origin.to_owned(),
                source,
            })?;
        if self.providers.contains_key(&file.provider) {
            return Err(CatalogError::DuplicateProvider {
                origin: origin.to_owned(),
                provider: file.provider,
            });
        }
        let built = ProviderCatalog::build(file, origin)?;
        self.providers.insert(built.provider.clone(), built);
        Ok(())
    }

    /// Loads a connector author's catalog file for a new provider (same format as
    /// `config/catalog/*.json`). A provider that already has a catalog is refused, so a
    /// plugin cannot quietly downgrade the built-in classification.
    pub fn load_extra(&mut self, path: &Path) -> Result<(), CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.add_json(&text, &path.display().to_string())
    }

    /// The catalog of one provider.
    pub fn provider(&self, provider: &str) -> Option<&ProviderCatalog> {
        self.providers.get(provider)
    }

    /// Provider ids with a catalog, sorted.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Resolves a scope of a `provider` grant of `kind`, with what it implies.
    pub fn resolve(&self, provider: &str, scope: &str, kind: GrantKind) -> Option<Resolution<'_>> {
        self.providers.get(provider)?.resolve(scope, kind)
    }

    /// The entry for a scope of a `provider` grant of `kind`; `None` when unknown.
    pub fn lookup(&self, provider: &str, scope: &str, kind: GrantKind) -> Option<&CatalogEntry> {
        self.resolve(provider, scope, kind).map(|r| r.entry())
    }
}

/// The generator: builds `config/catalog/*.json` from the provider reference pack.
///
/// Compiled for tests only: the catalogs are generated, checked in and embedded, and the
/// test `catalog_files_are_up_to_date` regenerates them in memory on every run. With
/// `GRANTSCOPE_REGENERATE_CATALOGS=1` it writes them instead.
#[cfg(test)]
mod generator {
    use std::collections::{BTreeSet, HashSet};

    use serde::Deserialize;

    use super::{Access, CatalogEntry, CatalogFile, Domain, FORMAT};

    /// The providers of the reference pack, in file order.
    pub(super) const PROVIDERS: [&str; 6] = [
        "github",
        "google-workspace",
        "microsoft-entra",
        "okta",
        "salesforce",
        "slack",
    ];

    /// A row of `testdata/providers/*/scopes.json` (only the fields the catalog keeps).
    #[derive(Debug, Deserialize)]
    struct Row {
        scope: String,
        kind: String,
        access: Access,
        data_domain: String,
        description: String,
        sensitivity: u8,
        #[serde(default)]
        aliases: Option<Vec<String>>,
        #[serde(default)]
        implies: Option<Vec<String>>,
        #[serde(default)]
        vendor_classification: Option<String>,
        #[serde(default)]
        inferred_google_classification: Option<String>,
        #[serde(default)]
        azure_tiering_tier: Option<u8>,
        #[serde(default)]
        ms_privilege_level: Option<u8>,
        #[serde(default)]
        requires_admin_consent: Option<bool>,
    }

    /// Tier-0 scopes outside Microsoft (whose Tier-0 comes from azure-tiering): each is a
    /// documented path to the tenant's administrators' powers. Names as in the catalog.
    /// Salesforce has none: its scopes act with the consenting user's own profile, so
    /// admin power depends on who consented, which no scope says.
    const ADMIN_PATHS: &[(&str, &str)] = &[
        // Owners' powers over the organization, enterprise or GHES instance; `members`
        // write can make any member an owner.
        ("github", "admin:org"),
        ("github", "admin:enterprise"),
        ("github", "site_admin"),
        ("github", "organization_administration:write"),
        ("github", "enterprise_administration:write"),
        ("github", "members:write"),
        // Reset any user's password or sign-in factors, assign admin roles, or replace
        // the tenant's SSO provider.
        (
            "google-workspace",
            "https://www.googleapis.com/auth/admin.directory.user",
        ),
        (
            "google-workspace",
            "https://www.googleapis.com/auth/admin.directory.user.security",
        ),
        (
            "google-workspace",
            "https://www.googleapis.com/auth/admin.directory.rolemanagement",
        ),
        (
            "google-workspace",
            "https://www.googleapis.com/auth/cloud-identity.inboundsso",
        ),
        // Assign admin roles, take over users, groups (which carry roles), API tokens,
        // identity providers, sign-on policies or authenticators.
        ("okta", "okta.roles.manage"),
        ("okta", "okta.users.manage"),
        ("okta", "okta.groups.manage"),
        ("okta", "okta.apiTokens.manage"),
        ("okta", "okta.idps.manage"),
        ("okta", "okta.policies.manage"),
        ("okta", "okta.authenticators.manage"),
        // Workspace admin (legacy), role assignment, and making a user an admin or owner.
        ("slack", "admin"),
        ("slack", "admin.roles:write"),
        ("slack", "admin.users:write"),
    ];

    /// Maps a provider's `data_domain` onto grantscope's domains. Every value in the
    /// reference pack must be listed, so a new one fails the generator instead of
    /// landing in `other` unnoticed.
    fn domain(provider: &str, data_domain: &str) -> Option<Domain> {
        use Domain::*;
        let d = match (provider, data_domain) {
            ("github", d) => match d {
                "repository" | "source_code" | "repository_admin" | "code_quality" | "pages"
                | "gists" | "codespaces" | "ci_config" | "ci_runners" | "ci_status"
                | "ci_workflows" | "deployments" | "packages" | "supply_chain" => Code,
                "collaboration" | "projects" | "team_discussions" => WorkItems,
                "identity" => Directory,
                "secrets" | "credentials" | "user_ssh_keys" | "user_gpg_keys"
                | "user_signing_keys" => Credentials,
                "organization" | "organization_admin" | "enterprise" | "enterprise_server"
                | "access_control" | "app_governance" | "billing" | "network" | "moderation"
                | "communication" | "telemetry" => Admin,
                "security_alerts" | "audit_log" | "activity" => Security,
                "ai" | "ai_context" | "copilot" => Ai,
                "webhooks" => Integrations,
                "notifications" | "social" | "user_profile" => Personal,
                "public_data" | "metadata" => Basic,
                "legacy" => Other,
                _ => return None,
            },
            ("google-workspace", d) => match d {
                "mail" => Mail,
                "calendar" => Calendar,
                "contacts" => Contacts,
                "files" | "documents" | "notes" => Files,
                "apps_script" => Code,
                "ads_marketing" => Crm,
                "chat" | "meetings" => Chat,
                "directory" => Directory,
                "workspace_admin" => Admin,
                "device_management" => Devices,
                "cloud_platform" => Cloud,
                "tasks" => WorkItems,
                "add_ons" => Integrations,
                "health_fitness" | "profile_pii" | "data_portability" | "youtube"
                | "consumer_other" => Personal,
                "identity" => Basic,
                "education" => Other,
                _ => return None,
            },
            ("microsoft-entra", d) => match d {
                "mail" => Mail,
                "calendar" | "bookings" => Calendar,
                "contacts" => Contacts,
                "files" | "notes" => Files,
                // Teams chats and channels.
                "collaboration" | "meetings_calls" => Chat,
                "directory" => Directory,
                "credentials_auth" => Credentials,
                "tenant_config" | "privileged_roles" | "apps_consent" => Admin,
                "security_compliance" | "audit_reports" => Security,
                "device_management" | "printing" => Devices,
                "tasks" => WorkItems,
                "search_connectors" => Integrations,
                "identity" => Basic,
                "education" | "other" => Other,
                _ => return None,
            },
            ("okta", d) => match d {
                "directory" | "directory_agents" | "directory_schema" | "groups" | "identities" => {
                    Directory
                }
                "credentials" | "mfa" | "sessions" => Credentials,
                "admin_roles" | "applications" | "auth_policy" | "branding" | "federation"
                | "governance" | "network_policy" | "oauth_grants" | "oauth_servers"
                | "org_config" | "rate_limits" | "risk_policy" => Admin,
                "logging" => Security,
                "devices" | "device_policy" => Devices,
                "automation" | "integrations" => Integrations,
                "self" => Personal,
                "identity" | "session_persistence" => Basic,
                _ => return None,
            },
            ("salesforce", d) => match d {
                "crm_data" | "customer_data_platform" | "marketing" | "service" | "analytics" => {
                    Crm
                }
                "files" => Files,
                "collaboration" | "conversations" => Chat,
                "identities" => Directory,
                "ai_platform" => Ai,
                "automation" => Integrations,
                "identity" | "session_persistence" | "authorization_metadata" => Basic,
                "external_resource" => Other,
                _ => return None,
            },
            ("slack", d) => match d {
                "messages" | "channels" | "calls" | "search" | "external_sharing" | "legacy" => {
                    Chat
                }
                "files" | "documents" => Files,
                "identity" => Directory,
                "workspace_admin" | "workspaces" | "access_control" | "app_governance"
                | "billing" | "analytics" => Admin,
                "audit_log" | "compliance" => Security,
                "ai" => Ai,
                "workflows" | "app_config" | "app_internal" | "interaction" => Integrations,
                "personal" => Personal,
                "workspace" | "none" => Basic,
                _ => return None,
            },
            _ => return None,
        };
        Some(d)
    }

    fn is_permission(provider: &str, kind: &str) -> bool {
        provider == "github" && kind.starts_with("app_permission:")
    }

    /// Generates one provider's catalog text from its `scopes.json` text.
    pub(super) fn generate(provider: &str, scopes_json: &str) -> Result<String, String> {
        let rows: Vec<Row> = serde_json::from_str(scopes_json)
            .map_err(|e| format!("{provider}/scopes.json does not parse: {e}"))?;
        // GitHub permission levels present, to derive write → read, admin → write.
        let levels: HashSet<(String, Access)> = rows
            .iter()
            .filter(|r| is_permission(provider, &r.kind))
            .map(|r| (r.scope.clone(), r.access))
            .collect();
        // (name, kind) of every row, to derive Microsoft ReadWrite → Read.
        let by_kind: HashSet<(String, String)> = rows
            .iter()
            .map(|r| (r.scope.clone(), r.kind.clone()))
            .collect();
        let names: HashSet<&str> = rows.iter().map(|r| r.scope.as_str()).collect();
        let mut admin_paths: BTreeSet<&str> = ADMIN_PATHS
            .iter()
            .filter(|(p, _)| *p == provider)
            .map(|(_, s)| *s)
            .collect();
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            let domain = domain(provider, &r.data_domain).ok_or_else(|| {
                format!(
                    "{provider}: data_domain `{}` (scope `{}`) has no grantscope domain; add it to catalog::generator::domain",
                    r.data_domain, r.scope
                )
            })?;
            let permission = is_permission(provider, &r.kind);
            let spell = |name: &str| {
                if permission {
                    format!("{name}:{}", r.access)
                } else {
                    name.to_owned()
                }
            };
            let scope = spell(&r.scope);
            let aliases: Vec<String> = r.aliases.iter().flatten().map(|a| spell(a)).collect();
            let mut implies: Vec<String> = r.implies.clone().unwrap_or_default();
            if permission {
                // A higher GitHub level includes the lower one.
                let lower = match r.access {
                    Access::Admin => [Access::Write, Access::Read]
                        .into_iter()
                        .find(|a| levels.contains(&(r.scope.clone(), *a))),
                    Access::Write => {
                        Some(Access::Read).filter(|a| levels.contains(&(r.scope.clone(), *a)))
                    }
                    Access::Read => None,
                };
                implies.extend(lower.map(|a| format!("{}:{a}", r.scope)));
            }
            if provider == "microsoft-entra" && r.scope.contains(".ReadWrite") {
                // Graph's ReadWrite permissions include the matching Read permission.
                let read = r.scope.replacen(".ReadWrite", ".Read", 1);
                if by_kind.contains(&(read.clone(), r.kind.clone())) {
                    implies.push(read);
                }
            }
            if provider == "google-workspace" {
                // A full Google scope includes its `.readonly` variant.
                let read = format!("{}.readonly", r.scope);
                if names.contains(read.as_str()) {
                    implies.push(read);
                }
            }
            let (class, class_inferred) = match (
                r.vendor_classification.as_deref(),
                r.inferred_google_classification.as_deref(),
            ) {
                _ if provider != "google-workspace" => (None, false),
                (Some(c), _) => (Some(c.to_owned()), false),
                (None, Some(c)) => (Some(c.to_owned()), true),
                (None, None) => (None, false),
            };
            let microsoft = provider == "microsoft-entra";
            let admin_path = if microsoft {
                r.azure_tiering_tier == Some(0)
            } else {
                admin_paths.remove(scope.as_str())
            };
            entries.push(CatalogEntry {
                scope,
                aliases,
                kind: r.kind.clone(),
                access: r.access,
                domain,
                data_domain: r.data_domain.clone(),
                sensitivity: r.sensitivity,
                class,
                class_inferred,
                ms_privilege_level: r.ms_privilege_level.filter(|_| microsoft),
                azure_tier: r.azure_tiering_tier.filter(|_| microsoft),
                admin_consent: r.requires_admin_consent.filter(|_| microsoft),
                admin_path,
                offline: r.scope == "offline_access"
                    || r.scope == "refresh_token"
                    || r.data_domain == "session_persistence",
                implies,
                description: r.description.clone(),
            });
        }
        if let Some(missing) = admin_paths.first() {
            return Err(format!(
                "{provider}: ADMIN_PATHS names `{missing}`, which is not in scopes.json"
            ));
        }
        let file = CatalogFile {
            format: FORMAT,
            provider: provider.to_owned(),
            source: Some(format!("testdata/providers/{provider}/scopes.json")),
            entries,
        };
        render(&file)
    }

    fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
        serde_json::to_string(v).map_err(|e| e.to_string())
    }

    /// One entry per line: compact, diff-friendly, still one JSON document.
    fn render(file: &CatalogFile) -> Result<String, String> {
        let mut out = format!(
            "{{\"format\": {}, \"provider\": {}, \"source\": {}, \"entries\": [\n",
            file.format,
            json(&file.provider)?,
            json(&file.source)?,
        );
        let last = file.entries.len().saturating_sub(1);
        for (i, e) in file.entries.iter().enumerate() {
            out.push_str(&json(e)?);
            out.push_str(if i == last { "\n" } else { ",\n" });
        }
        out.push_str("]}\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn reference_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/providers")
    }

    fn catalog_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/catalog")
    }

    fn builtin() -> Catalog {
        Catalog::builtin().unwrap_or_else(|e| panic!("embedded catalogs: {e}"))
    }

    /// The checked-in catalogs are exactly what the generator makes from the reference
    /// pack. Regenerate with:
    /// `GRANTSCOPE_REGENERATE_CATALOGS=1 cargo test -p grantscope --lib catalog`
    #[test]
    fn catalog_files_are_up_to_date() {
        let regenerate = std::env::var_os("GRANTSCOPE_REGENERATE_CATALOGS").is_some();
        for provider in generator::PROVIDERS {
            let source = reference_dir().join(provider).join("scopes.json");
            let scopes = std::fs::read_to_string(&source).unwrap_or_else(|e| {
                panic!(
                    "cannot read {}: {e}; the provider reference data lives in testdata/providers/",
                    source.display()
                )
            });
            let want = generator::generate(provider, &scopes)
                .unwrap_or_else(|e| panic!("generating the {provider} catalog: {e}"));
            let path = catalog_dir().join(format!("{provider}.json"));
            if regenerate {
                std::fs::write(&path, &want)
                    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                continue;
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            if have != want {
                let line = have
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
                panic!(
                    "{} is out of date with {} (first difference at line {}):\n  have: {}\n  want: {}\nregenerate with: GRANTSCOPE_REGENERATE_CATALOGS=1 cargo test -p grantscope --lib catalog",
                    path.display(),
                    source.display(),
                    line + 1,
                    have.lines().nth(line).unwrap_or("<end of file>"),
                    want.lines().nth(line).unwrap_or("<end of file>"),
                );
            }
        }
    }

    #[test]
    fn every_reference_row_is_in_its_catalog() {
        let catalog = builtin();
        let mut total = 0;
        for provider in generator::PROVIDERS {
            let path = reference_dir().join(provider).join("scopes.json");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let rows: Vec<serde_json::Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{provider}: {e}"));
            let pc = catalog
                .provider(provider)
                .unwrap_or_else(|| panic!("no catalog for {provider}"));
            assert_eq!(pc.entries().len(), rows.len(), "{provider}: entry count");
            total += rows.len();
        }
        assert_eq!(total, 220 + 548 + 1614 + 158 + 37 + 133);
    }

    /// `(provider, scope, grant kind, expected scope, kind, access)`.
    type Case = (
        &'static str,
        &'static str,
        GrantKind,
        &'static str,
        &'static str,
        Access,
    );

    fn check(cases: &[Case]) {
        let catalog = builtin();
        for &(provider, scope, kind, want_scope, want_kind, want_access) in cases {
            let e = catalog
                .lookup(provider, scope, kind)
                .unwrap_or_else(|| panic!("{provider} `{scope}` ({kind:?}) not found"));
            assert_eq!(
                (e.scope.as_str(), e.kind.as_str(), e.access),
                (want_scope, want_kind, want_access),
                "{provider} `{scope}` ({kind:?})"
            );
        }
    }

    #[test]
    fn lookup_handles_every_spelling() {
        use GrantKind::*;
        #[rustfmt::skip]
        const CASES: &[Case] = &[
            // GitHub permission:level → the row with that access.
            ("github", "contents:write", Installation, "contents:write", "app_permission:repository", Access::Write),
            ("github", "contents:read", PersonalToken, "contents:read", "app_permission:repository", Access::Read),
            ("github", "organization_projects:admin", Installation, "organization_projects:admin", "app_permission:organization", Access::Admin),
            // A classic scope and a permission of the same name stay apart.
            ("github", "security_events", PersonalToken, "security_events", "oauth_scope", Access::Write),
            ("github", "security_events:write", Installation, "security_events:write", "app_permission:repository", Access::Write),
            ("github", "read:org", Delegated, "read:org", "oauth_scope", Access::Read),
            // Aliases (GitHub's older permission names).
            ("github", "emails:read", PersonalToken, "email_addresses:read", "app_permission:account", Access::Read),
            ("github", "custom_properties:write", Installation, "repository_custom_properties:write", "app_permission:repository", Access::Write),
            // Google scope URLs as given, and case-insensitively.
            ("google-workspace", "https://mail.google.com/", Delegated, "https://mail.google.com/", "delegated", Access::Write),
            ("google-workspace", "https://www.googleapis.com/auth/Drive.Readonly", Delegated, "https://www.googleapis.com/auth/drive.readonly", "delegated", Access::Read),
            // Microsoft: the grant kind picks delegated or application rows.
            ("microsoft-entra", "Mail.Read", Application, "Mail.Read", "application", Access::Read),
            ("microsoft-entra", "Mail.Read", Delegated, "Mail.Read", "delegated", Access::Read),
            ("microsoft-entra", "Mail.Read", AdminConsent, "Mail.Read", "delegated", Access::Read),
            ("microsoft-entra", "mail.read", Application, "Mail.Read", "application", Access::Read),
            // A name with only one kind serves either grant kind.
            ("microsoft-entra", "offline_access", Application, "offline_access", "delegated", Access::Read),
            ("okta", "okta.users.manage", Application, "okta.users.manage", "okta_management", Access::Admin),
            ("salesforce", "refresh_token", Delegated, "refresh_token", "offline", Access::Read),
            ("slack", "channels:history", Delegated, "channels:history", "bot_and_user", Access::Read),
        ];
        check(CASES);
        let catalog = builtin();
        for (provider, scope) in [
            ("github", "contents"),
            ("github", "contents:owner"),
            ("github", "no-such-scope"),
            ("slack", "https://mail.google.com/"),
            ("no-such-provider", "openid"),
        ] {
            assert!(
                catalog
                    .lookup(provider, scope, GrantKind::Delegated)
                    .is_none(),
                "{provider} `{scope}` must be unknown"
            );
        }
    }

    #[test]
    fn provider_classes_are_kept() {
        let catalog = builtin();
        let get = |p, s, k| {
            catalog
                .lookup(p, s, k)
                .unwrap_or_else(|| panic!("{p} {s}"))
                .clone()
        };
        let gmail = get(
            "google-workspace",
            "https://mail.google.com/",
            GrantKind::Delegated,
        );
        assert_eq!(gmail.class.as_deref(), Some("restricted"));
        assert!(!gmail.class_inferred);
        let rm = get(
            "microsoft-entra",
            "RoleManagement.ReadWrite.Directory",
            GrantKind::Application,
        );
        assert_eq!(rm.azure_tier, Some(0));
        assert!(rm.admin_path);
        assert_eq!(rm.admin_consent, Some(true));
        assert!(rm.ms_privilege_level.is_some());
        let offline = get("microsoft-entra", "offline_access", GrantKind::Delegated);
        assert!(offline.offline);
        assert_eq!(offline.admin_consent, Some(false));
        assert!(get("github", "members:write", GrantKind::Installation).admin_path);
        assert!(!get("github", "members:read", GrantKind::Installation).admin_path);
    }

    #[test]
    fn implications_are_transitive_and_follow_levels() {
        let catalog = builtin();
        let implied = |p: &str, s: &str, k| -> Vec<String> {
            let r = catalog
                .resolve(p, s, k)
                .unwrap_or_else(|| panic!("{p} {s}"));
            r.implied().map(|e| e.scope.clone()).collect()
        };
        let write = implied("github", "contents:write", GrantKind::Installation);
        assert_eq!(write, ["contents:read"]);
        let admin = implied(
            "github",
            "organization_projects:admin",
            GrantKind::Installation,
        );
        assert!(
            admin.contains(&"organization_projects:write".to_owned()),
            "{admin:?}"
        );
        assert!(
            admin.contains(&"organization_projects:read".to_owned()),
            "{admin:?}"
        );
        let repo = implied("github", "repo", GrantKind::PersonalToken);
        assert!(repo.contains(&"repo:status".to_owned()), "{repo:?}");
        // Microsoft ReadWrite includes Read, of the same kind.
        let rw = catalog
            .resolve("microsoft-entra", "Mail.ReadWrite", GrantKind::Application)
            .unwrap_or_else(|| panic!("Mail.ReadWrite"));
        let kinds: Vec<(&str, &str)> = rw
            .implied()
            .map(|e| (e.scope.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(kinds, [("Mail.Read", "application")]);
        // Cycles terminate and never list the entry itself.
        let rt = implied("salesforce", "refresh_token", GrantKind::Delegated);
        assert_eq!(rt, ["offline_access"]);
        let full = implied("salesforce", "full", GrantKind::Delegated);
        assert!(
            full.contains(&"chatter_api".to_owned()),
            "api → chatter_api: {full:?}"
        );
    }

    fn doc(entries: &str) -> String {
        format!("{{\"format\": 1, \"provider\": \"acme-crm\", \"entries\": [{entries}]}}")
    }

    const ENTRY: &str = r#"{"scope": "records.read", "kind": "delegated", "access": "read", "domain": "crm", "data_domain": "records", "sensitivity": 3, "description": "Read records."}"#;

    #[test]
    fn extra_catalogs_load_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("acme-crm.json");
        let good = doc(&format!(
            "{ENTRY}, {}",
            r#"{"scope": "records.write", "kind": "delegated", "access": "write", "domain": "crm", "data_domain": "records", "sensitivity": 4, "implies": ["records.read"], "description": "Change records."}"#
        ));
        std::fs::write(&path, &good).unwrap_or_else(|e| panic!("write: {e}"));
        let mut catalog = builtin();
        catalog
            .load_extra(&path)
            .unwrap_or_else(|e| panic!("load: {e}"));
        let e = catalog
            .lookup("acme-crm", "records.write", GrantKind::Delegated)
            .unwrap_or_else(|| panic!("records.write"));
        assert_eq!((e.access, e.domain), (Access::Write, Domain::Crm));
        // Loading it twice, or over a built-in provider, is refused.
        let again = catalog.load_extra(&path);
        assert!(
            matches!(again, Err(CatalogError::DuplicateProvider { .. })),
            "{again:?}"
        );
        let github = good.replace("acme-crm", "github");
        let over = catalog.add_json(&github, "github.json");
        assert!(
            matches!(over, Err(CatalogError::DuplicateProvider { .. })),
            "{over:?}"
        );

        let missing = Catalog::empty().load_extra(&dir.path().join("nope.json"));
        assert!(
            matches!(missing, Err(CatalogError::Read { .. })),
            "{missing:?}"
        );
        type Expect = fn(&CatalogError) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            ("not json".to_owned(), |e| {
                matches!(e, CatalogError::Parse { .. })
            }),
            (good.replace("\"format\": 1", "\"format\": 2"), |e| {
                matches!(e, CatalogError::Format { found: 2, .. })
            }),
            (good.replace("acme-crm", "Acme CRM"), |e| {
                matches!(e, CatalogError::BadProvider { .. })
            }),
            (doc(""), |e| matches!(e, CatalogError::Empty { .. })),
            (
                doc(&ENTRY.replace("\"sensitivity\": 3", "\"sensitivity\": 9")),
                |e| {
                    matches!(
                        e,
                        CatalogError::Entry {
                            problem: EntryProblem::Sensitivity(9),
                            ..
                        }
                    )
                },
            ),
            (doc(&format!("{ENTRY}, {ENTRY}")), |e| {
                matches!(
                    e,
                    CatalogError::Entry {
                        problem: EntryProblem::Duplicate(_),
                        ..
                    }
                )
            }),
            (
                doc(&ENTRY.replace("\"scope\": \"records.read\"", "\"scope\": \"\"")),
                |e| {
                    matches!(
                        e,
                        CatalogError::Entry {
                            problem: EntryProblem::EmptyScope,
                            ..
                        }
                    )
                },
            ),
            (
                doc(&ENTRY.replace(
                    "\"description\"",
                    "\"implies\": [\"nope\"], \"description\"",
                )),
                |e| {
                    matches!(
                        e,
                        CatalogError::Entry {
                            problem: EntryProblem::ImpliesUnknown(_),
                            ..
                        }
                    )
                },
            ),
            (
                doc(&ENTRY.replace("\"domain\": \"crm\"", "\"domain\": \"crm\", \"colour\": 1")),
                |e| matches!(e, CatalogError::Parse { .. }),
            ),
            (
                doc(&ENTRY.replace("\"access\": \"read\"", "\"access\": \"owner\"")),
                |e| matches!(e, CatalogError::Parse { .. }),
            ),
        ];
        for (text, want) in cases {
            let got = Catalog::empty().add_json(&text, "test.json");
            match got {
                Err(e) if want(&e) => {
                    // Every message names the file.
                    assert!(e.to_string().contains("test.json"), "{e}");
                }
                other => panic!("{text}\n→ {other:?}"),
            }
        }
    }

    #[test]
    fn every_embedded_catalog_loads() {
        let catalog = builtin();
        let providers: Vec<&str> = catalog.providers().collect();
        assert_eq!(providers, generator::PROVIDERS);
    }
}
