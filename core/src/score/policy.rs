//! The scoring policy: weights and tier thresholds (`config/scoring.toml`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{GrantKind, Tier};

/// The policy embedded in the binary.
const DEFAULT: &str = include_str!("../../../config/scoring.toml");

/// Largest number any single weight may be: a factor worth more than the whole scale
/// is a typo.
const MAX_WEIGHT: u32 = 100;

/// Errors from reading or checking a scoring policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The file could not be read.
    #[error("cannot read the scoring policy {}: check the path and its permissions", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a policy (syntax, a missing or unknown key, a wrong type).
    #[error("scoring policy {origin} does not parse; compare it with config/scoring.toml")]
    Parse {
        /// File name or `embedded`.
        origin: String,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A value breaks one of the scorer's laws.
    #[error("scoring policy {origin}: `{key}` {rule}")]
    Invalid {
        /// File name or `embedded`.
        origin: String,
        /// The offending key.
        key: &'static str,
        /// What it must satisfy.
        rule: &'static str,
    },
}

/// Lowest value of each tier (`[tiers]`); below `medium` is low.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    /// Lowest critical value.
    pub critical: u8,
    /// Lowest high value.
    pub high: u8,
    /// Lowest medium value.
    pub medium: u8,
}

/// `[capability]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityWeights {
    /// Points for the most sensitive scope, by sensitivity 1–5.
    pub sensitivity: [u32; 5],
    /// Points per counted data domain beyond the first.
    pub per_extra_domain: u32,
    /// Cap on breadth points.
    pub max_breadth: u32,
    /// Points for a grant whose provider lists no scopes.
    pub no_scopes_listed: u32,
}

/// `[privilege]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivilegeWeights {
    /// Highest access read.
    pub read: u32,
    /// Highest access write.
    pub write: u32,
    /// Highest access admin.
    pub admin: u32,
    /// An azure-tiering Tier-1 Graph permission.
    pub azure_tier1: u32,
    /// A Tier-0 permission (a path to tenant admin).
    pub admin_path: u32,
    /// The least value of a grant holding a Tier-0 permission.
    pub admin_path_floor: u8,
}

/// `[reach]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachWeights {
    /// App-only grants.
    pub application: u32,
    /// Admin consent for every user.
    pub admin_consent: u32,
    /// Installations on all repositories.
    pub installation_all: u32,
    /// Installations whose repository selection is not reported.
    pub installation: u32,
    /// Installations on selected repositories.
    pub installation_selected: u32,
    /// Other grants held by the tenant.
    pub tenant: u32,
    /// Grants held by a service identity.
    pub service: u32,
    /// One user's grant.
    pub user: u32,
    /// Points per doubling of principals sharing the app.
    pub per_principal_doubling: u32,
    /// Cap on principal points.
    pub max_principal_points: u32,
    /// Points per tenant beyond the first.
    pub per_extra_tenant: u32,
    /// Cap on tenant points.
    pub max_tenant_points: u32,
    /// Placeholder app ids that do not identify one app.
    pub ungrouped_app_ids: Vec<String>,
}

/// `[persistence]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistenceWeights {
    /// A scope granting refresh tokens or long sessions.
    pub offline_access: u32,
    /// A personal token or key that never expires.
    pub no_expiry_token: u32,
    /// Any other grant without expiry.
    pub no_expiry_grant: u32,
    /// A personal token or key expiring after `long_lived_days`.
    pub long_lived_token: u32,
    /// Any other grant expiring after `long_lived_days`.
    pub long_lived_grant: u32,
    /// Days from now beyond which an expiry counts as long-lived.
    pub long_lived_days: u32,
    /// Cap on persistence points.
    pub max: u32,
}

/// One staleness step: at least `days` unused earns `points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StalenessStep {
    /// Days since last use (or creation).
    pub days: u32,
    /// Points from that many days on.
    pub points: u32,
}

/// `[staleness]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StalenessWeights {
    /// Steps, ascending in days and points.
    pub steps: Vec<StalenessStep>,
    /// Least points for a grant never used after the grace period.
    pub never_used: u32,
    /// Days a new grant may go unused without points.
    pub grace_days: u32,
    /// Points for a kind whose provider reports no use.
    pub no_usage_data: u32,
    /// Kinds whose provider reports no use.
    pub no_usage_data_kinds: Vec<GrantKind>,
}

/// `[trust]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustWeights {
    /// The publisher is not verified.
    pub unverified_publisher: u32,
    /// A multi-tenant app registered in another organization's tenant.
    pub foreign_tenant: u32,
    /// No vendor facts for a third-party app.
    pub unknown_vendor: u32,
    /// The vendor has no owner.
    pub no_owner: u32,
    /// Vendor status review.
    pub review: u32,
    /// Vendor status offboarding.
    pub offboarding: u32,
    /// Vendor status offboarded.
    pub offboarded: u32,
    /// The vendor's contract has ended.
    pub past_contract_end: u32,
    /// Cap on trust points.
    pub max: u32,
}

/// `[unclassified]` weights.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnclassifiedWeights {
    /// Points for the first unknown scope (never zero).
    pub first: u32,
    /// Points for each further unknown scope.
    pub each_more: u32,
    /// Cap on unclassified points.
    pub max: u32,
}

/// A validated scoring policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Tier thresholds.
    pub tiers: Tiers,
    /// Capability weights.
    pub capability: CapabilityWeights,
    /// Privilege weights.
    pub privilege: PrivilegeWeights,
    /// Reach weights.
    pub reach: ReachWeights,
    /// Persistence weights.
    pub persistence: PersistenceWeights,
    /// Staleness weights.
    pub staleness: StalenessWeights,
    /// Trust weights.
    pub trust: TrustWeights,
    /// Unclassified-scope weights.
    pub unclassified: UnclassifiedWeights,
}

impl Policy {
    /// The default policy embedded from `config/scoring.toml`.
    ///
    /// Fails only if the embedded file is broken, which the unit tests rule out.
    pub fn builtin() -> Result<Self, ScoreError> {
        Self::from_toml(DEFAULT, "embedded config/scoring.toml")
    }

    /// Parses and checks a policy; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScoreError> {
        let policy: Policy = toml::from_str(text).map_err(|source| ScoreError::Parse {
            origin: origin.to_owned(),
            source,
        })?;
        policy.check().map_err(|(key, rule)| ScoreError::Invalid {
            origin: origin.to_owned(),
            key,
            rule,
        })?;
        Ok(policy)
    }

    /// Reads a policy file that replaces the default.
    pub fn load(path: &Path) -> Result<Self, ScoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScoreError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The tier of a value.
    pub fn tier_for(&self, value: u8) -> Tier {
        let t = &self.tiers;
        if value >= t.critical {
            Tier::Critical
        } else if value >= t.high {
            Tier::High
        } else if value >= t.medium {
            Tier::Medium
        } else {
            Tier::Low
        }
    }

    /// Checks the laws the scorer's guarantees rest on (bounds, monotonicity).
    fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let t = &self.tiers;
        if !(0 < t.medium && t.medium < t.high && t.high < t.critical && t.critical <= 100) {
            return Err(("tiers", "must satisfy 0 < medium < high < critical <= 100"));
        }
        let c = &self.capability;
        if c.sensitivity.windows(2).any(|w| w[0] > w[1]) {
            return Err((
                "capability.sensitivity",
                "must not decrease: a more sensitive scope is never worth less",
            ));
        }
        let p = &self.privilege;
        if !(p.read <= p.write && p.write <= p.admin) {
            return Err(("privilege", "must satisfy read <= write <= admin"));
        }
        if p.admin_path_floor > 100 {
            return Err(("privilege.admin_path_floor", "must be at most 100"));
        }
        let s = &self.staleness;
        if s.steps
            .windows(2)
            .any(|w| w[0].days >= w[1].days || w[0].points > w[1].points)
        {
            return Err((
                "staleness.steps",
                "must ascend: more days, and never fewer points",
            ));
        }
        if self.unclassified.first == 0 || self.unclassified.max < self.unclassified.first {
            return Err((
                "unclassified",
                "must satisfy 0 < first <= max: an unknown scope is never scored as harmless",
            ));
        }
        let r = &self.reach;
        let tr = &self.trust;
        let pe = &self.persistence;
        let u = &self.unclassified;
        let weights = [
            ("capability.sensitivity", c.sensitivity[4]),
            ("capability.per_extra_domain", c.per_extra_domain),
            ("capability.max_breadth", c.max_breadth),
            ("capability.no_scopes_listed", c.no_scopes_listed),
            ("privilege.admin", p.admin),
            ("privilege.azure_tier1", p.azure_tier1),
            ("privilege.admin_path", p.admin_path),
            ("reach.application", r.application),
            ("reach.admin_consent", r.admin_consent),
            ("reach.installation_all", r.installation_all),
            ("reach.installation", r.installation),
            ("reach.installation_selected", r.installation_selected),
            ("reach.tenant", r.tenant),
            ("reach.service", r.service),
            ("reach.user", r.user),
            ("reach.per_principal_doubling", r.per_principal_doubling),
            ("reach.max_principal_points", r.max_principal_points),
            ("reach.per_extra_tenant", r.per_extra_tenant),
            ("reach.max_tenant_points", r.max_tenant_points),
            ("persistence.offline_access", pe.offline_access),
            ("persistence.no_expiry_token", pe.no_expiry_token),
            ("persistence.no_expiry_grant", pe.no_expiry_grant),
            ("persistence.long_lived_token", pe.long_lived_token),
            ("persistence.long_lived_grant", pe.long_lived_grant),
            ("persistence.max", pe.max),
            ("staleness.never_used", s.never_used),
            ("staleness.no_usage_data", s.no_usage_data),
            ("trust.unverified_publisher", tr.unverified_publisher),
            ("trust.foreign_tenant", tr.foreign_tenant),
            ("trust.unknown_vendor", tr.unknown_vendor),
            ("trust.no_owner", tr.no_owner),
            ("trust.review", tr.review),
            ("trust.offboarding", tr.offboarding),
            ("trust.offboarded", tr.offboarded),
            ("trust.past_contract_end", tr.past_contract_end),
            ("trust.max", tr.max),
            ("unclassified.first", u.first),
            ("unclassified.each_more", u.each_more),
            ("unclassified.max", u.max),
        ];
        for (key, w) in weights {
            if w > MAX_WEIGHT {
                return Err((key, "must be at most 100"));
            }
        }
        if s.steps.iter().any(|st| st.points > MAX_WEIGHT) {
            return Err(("staleness.steps", "points must be at most 100"));
        }
        Ok(())
    }
}
