//! Ground truth: the grants a perfect connector would report for the current state.

use serde::{Deserialize, Serialize};

/// Every grant in every simulated tenant, sorted by id.
///
/// Serialized as `{"grants": [...]}`, the same keys as `grantscope scan --json` minus
/// `score`, so tests can compare the two directly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// The grants, sorted by [`TruthGrant::id`].
    pub grants: Vec<TruthGrant>,
}

/// One grant, in the normalized record shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthGrant {
    /// `{provider}/{tenant}/{local id}`, e.g. `github/acme-corp/installation:25381`.
    pub id: String,
    /// Provider id, kebab-case (`github`).
    pub provider: String,
    /// Tenant name (for GitHub, the org login).
    pub tenant: String,
    /// The app holding the grant.
    pub app: TruthApp,
    /// Who granted it / on whose behalf it acts.
    pub principal: TruthPrincipal,
    /// `installation`, `personal_token`, `api_key`, `delegated`, ... (snake_case).
    pub kind: String,
    /// Scopes as the connector normalizes them.
    pub scopes: Vec<String>,
    /// RFC 3339 UTC, whole seconds; `None` when the provider does not say.
    pub created_at: Option<String>,
    /// RFC 3339 UTC, whole seconds; `None` when never used or not reported.
    pub last_used_at: Option<String>,
    /// The synthetic vendor behind the app, `None` for people's own credentials.
    pub vendor: Option<String>,
}

/// The app of a [`TruthGrant`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthApp {
    /// Provider-side app id (or a fixed placeholder the connector README defines).
    pub id: String,
    /// Human name or slug.
    pub name: String,
}

/// The principal of a [`TruthGrant`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthPrincipal {
    /// `user`, `tenant` or `service`.
    pub kind: String,
    /// Login, tenant name or service id.
    pub id: String,
}
