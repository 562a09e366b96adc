//! The normalized inventory records.
//!
//! **API boundary:** the JSON shape of [`GrantRecord`] is a contract with users and
//! checks (DESIGN.md: `id`, `provider`, `tenant`, `app.id`, `app.name`,
//! `principal.kind`, `principal.id`, `kind`, `scopes`, `created_at`, `last_used_at`,
//! `vendor`, `score`). Add fields; never rename or remove one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who holds a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// One person.
    User,
    /// The whole tenant.
    Tenant,
    /// A non-human identity.
    Service,
}

impl PrincipalKind {
    /// The wire name (`user`, `tenant`, `service`).
    pub fn name(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Tenant => "tenant",
            PrincipalKind::Service => "service",
        }
    }
}

/// How access was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// A user consented for themself.
    Delegated,
    /// An admin consented for every user.
    AdminConsent,
    /// App-only permissions.
    Application,
    /// An app installed on the tenant.
    Installation,
    /// A user's personal token.
    PersonalToken,
    /// A key or app password.
    ApiKey,
}

impl GrantKind {
    /// The wire name (`delegated`, `admin_consent`, ...).
    pub fn name(self) -> &'static str {
        match self {
            GrantKind::Delegated => "delegated",
            GrantKind::AdminConsent => "admin_consent",
            GrantKind::Application => "application",
            GrantKind::Installation => "installation",
            GrantKind::PersonalToken => "personal_token",
            GrantKind::ApiKey => "api_key",
        }
    }
}

/// The app behind a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRef {
    /// Stable provider id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Publisher, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Provider-specific facts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Who holds a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRef {
    /// Kind.
    pub kind: PrincipalKind,
    /// Stable provider id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// How to revoke a grant later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationTarget {
    /// Connector-defined action.
    pub action: String,
    /// Connector-defined handle (ids only).
    pub handle: String,
}

/// One grant, normalized across providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// `{provider}/{tenant}/{connector's grant id}`.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// Tenant name.
    pub tenant: String,
    /// The app.
    pub app: AppRef,
    /// The holder.
    pub principal: PrincipalRef,
    /// How it was granted.
    pub kind: GrantKind,
    /// Scopes as the provider spells them, sorted, without repeats.
    pub scopes: Vec<String>,
    /// RFC 3339 UTC.
    pub created_at: Option<String>,
    /// RFC 3339 UTC.
    pub last_used_at: Option<String>,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The vendor the app belongs to, once mapped.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Blast-radius score, once scored.
    #[serde(default)]
    pub score: Option<Score>,
    /// How to revoke it, when an API can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationTarget>,
    /// Provider-specific facts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// What the record cannot say, in plain sentences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The third-party plugin that reported it (absent for the built-in connectors),
    /// so a plan or report shows whose code vouches for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginSource>,
}

/// A third-party plugin file, as loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSource {
    /// The file it was loaded from.
    pub path: String,
    /// SHA-256 of its bytes (lowercase hex).
    pub sha256: String,
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (sha256 {})",
            self.path,
            &self.sha256[..self.sha256.len().min(16)]
        )
    }
}

impl GrantRecord {
    /// The bytes of text the record holds (ids, names, scopes, attributes, notes, the
    /// revocation target): what `[limits] scan_mib` counts, without serialising.
    pub fn text_bytes(&self) -> u64 {
        let map = |m: &BTreeMap<String, String>| -> usize {
            m.iter().map(|(k, v)| k.len() + v.len()).sum()
        };
        let opt = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        let n = self.id.len()
            + self.provider.len()
            + self.tenant.len()
            + self.app.id.len()
            + self.app.name.len()
            + opt(&self.app.publisher)
            + map(&self.app.attributes)
            + self.principal.id.len()
            + opt(&self.principal.display)
            + self.scopes.iter().map(String::len).sum::<usize>()
            + opt(&self.created_at)
            + opt(&self.last_used_at)
            + opt(&self.expires_at)
            + self
                .revocation
                .as_ref()
                .map_or(0, |r| r.action.len() + r.handle.len())
            + map(&self.attributes)
            + self.notes.iter().map(String::len).sum::<usize>();
        n as u64
    }
}

/// Blast-radius tier, lowest first (so `>=` compares severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Little reach.
    Low,
    /// Worth a review.
    Medium,
    /// Cut soon.
    High,
    /// Cut first.
    Critical,
}

/// One reason a grant scored what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    /// Stable factor id, e.g. `capability`, `privilege`, `reach`.
    pub factor: String,
    /// Points it added (or, for a mitigating factor, removed).
    pub points: i32,
    /// One plain sentence.
    pub detail: String,
    /// Framework controls it relates to (e.g. `OWASP-NHI3`, `NIST-CSF-2.0 PR.AA-05`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
}

/// A grant's blast-radius score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// 0–100.
    pub value: u8,
    /// Tier from the value's thresholds.
    pub tier: Tier,
    /// The factors that produced it, largest first.
    pub factors: Vec<Factor>,
}
