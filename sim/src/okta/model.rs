//! Okta's side of the synthetic world: one organisation with its people, app
//! integrations, Okta-API scope grants, end-user consent grants, refresh tokens and API
//! service integrations, generated from the seed, and their mapping to ground truth.
//!
//! The truth mapping follows `connectors/okta/README.md` exactly: a test checks set
//! equality between what the connector finds and what [`Model::truth`] says.

use std::collections::BTreeMap;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{self, DAY, HISTORY, World};

/// Provider id used in truth ids and revocation stats.
pub(crate) const PROVIDER: &str = "okta";
/// The simulated organisation's tenant name.
pub(crate) const TENANT: &str = "acme-okta";
/// People sign in with `{login}@acme.com`.
pub(crate) const LOGIN_DOMAIN: &str = "acme.com";

/// The `okta.*` scopes the auditor's service app holds (read for the audit, manage for
/// revocation); the config asks for all of them.
pub(crate) const AUDITOR_SCOPES: [&str; 8] = [
    "okta.appGrants.manage",
    "okta.appGrants.read",
    "okta.apps.manage",
    "okta.apps.read",
    "okta.oauthIntegrations.manage",
    "okta.oauthIntegrations.read",
    "okta.users.manage",
    "okta.users.read",
];

/// Management scopes a vendor's service app or API service integration may hold.
const MANAGEMENT_SCOPES: &[&str] = &[
    "okta.apps.read",
    "okta.groups.manage",
    "okta.groups.read",
    "okta.logs.read",
    "okta.policies.read",
    "okta.roles.read",
    "okta.users.manage",
    "okta.users.read",
    "okta.devices.read",
    "okta.idps.read",
    "okta.sessions.manage",
    "okta.userTypes.read",
];

/// Scopes end users consent to on the default authorization server.
const USER_SCOPES: &[&str] = &[
    "profile",
    "email",
    "phone",
    "address",
    "groups",
    "offline_access",
    "okta.myAccount.read",
    "okta.myAccount.profile.read",
];

/// A user id: `00u` + a seed-derived tag + the person's index, so it is stable,
/// unique, 20 characters like Okta's, and maps back to the person without storage.
pub(crate) fn user_id(tag: &str, index: u32) -> String {
    format!("00u{tag}{index:010}")
}

/// The person behind a user id made by [`user_id`].
pub(crate) fn user_index(tag: &str, id: &str) -> Option<u32> {
    let digits = id.strip_prefix("00u")?.strip_prefix(tag)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A person's Okta login (also their email).
pub(crate) fn login(index: u32) -> String {
    format!("{}@{LOGIN_DOMAIN}", World::login(index))
}

/// An Okta-style id: a three-character type prefix and 17 alphanumerics.
fn okta_id(rng: &mut StdRng, prefix: &str) -> String {
    format!("{prefix}{}", world::alphanumeric(rng, 17))
}

/// What kind of app integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppType {
    /// OIDC web app with refresh tokens: users consent to it.
    Web,
    /// OIDC native app: users consent to it.
    Native,
    /// OAuth service app (client credentials) holding `okta.*` scope grants.
    Service,
    /// An API service integration from the Okta Integration Network.
    ApiService,
    /// A SAML app: not OAuth, never holds grants.
    Saml,
}

/// An app integration.
#[derive(Clone, Debug)]
pub(crate) struct App {
    /// App id, which is also its OAuth `client_id`.
    pub id: String,
    /// `label`.
    pub label: String,
    /// `name`: the template or OIN key (`oidc_client`, `driftwood_chat_sync`).
    pub name: String,
    pub app_type: AppType,
    /// `ACTIVE`, or `INACTIVE` after a deactivation.
    pub active: bool,
    pub created: i64,
    /// Index into `world.vendors`; `None` for internal or unknown apps.
    pub vendor: Option<usize>,
    /// `consent_method`: `REQUIRED` (users see a consent screen) or `TRUSTED`.
    pub trusted: bool,
    /// The person who created an API service integration.
    pub created_by: u32,
    /// `grantedScopes` of an API service integration.
    pub granted_scopes: Vec<&'static str>,
}

impl App {
    /// Whether the app is one the organisation keeps only for its vendor, so revoking
    /// its grants may deactivate it (what the config's `vendor_owned_apps` lists).
    pub(crate) fn vendor_owned(&self) -> bool {
        self.vendor.is_some_and(|v| v > 0)
            && matches!(
                self.app_type,
                AppType::Web | AppType::Native | AppType::Service
            )
    }
}

/// An `okta.*` scope grant on an app (`source = ADMIN`).
#[derive(Clone, Debug)]
pub(crate) struct AppGrant {
    pub id: String,
    pub scope: &'static str,
    pub created: i64,
    pub created_by: u32,
}

/// An end user's consent to one scope for one client.
#[derive(Clone, Debug)]
pub(crate) struct UserGrant {
    pub id: String,
    pub scope: &'static str,
    /// The scope's id on the default authorization server.
    pub scope_id: String,
    pub created: i64,
}

/// A refresh token a client holds for a user.
#[derive(Clone, Debug)]
pub(crate) struct RefreshToken {
    pub id: String,
    /// Sorted.
    pub scopes: Vec<&'static str>,
    pub created: i64,
    pub updated: i64,
    pub expires: i64,
}

/// What one user has granted one client.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserClient {
    /// Sorted by id (the listing's cursor order).
    pub grants: Vec<UserGrant>,
    /// Sorted by id.
    pub tokens: Vec<RefreshToken>,
}

/// The organisation.
#[derive(Debug)]
pub(crate) struct Model {
    pub users: u32,
    pub epoch: i64,
    /// Seed-derived part of every user id.
    pub user_tag: String,
    /// Vendor names by `world.vendors` index.
    pub vendors: Vec<&'static str>,
    /// Sorted by id (the listing's cursor order).
    pub apps: Vec<App>,
    /// Scope grants by app id, each list sorted by grant id.
    pub app_grants: BTreeMap<String, Vec<AppGrant>>,
    /// Consent grants and refresh tokens by (person, app id).
    pub user_clients: BTreeMap<(u32, String), UserClient>,
    /// The auditor's service app.
    pub auditor_client_id: String,
    /// Scope ids on the default authorization server, by scope name.
    pub scope_ids: BTreeMap<&'static str, String>,
}

/// Per-vendor app plan: what each vendor runs in the org.
fn vendor_app_types(rng: &mut StdRng) -> Vec<AppType> {
    let first = *[
        AppType::Web,
        AppType::Service,
        AppType::ApiService,
        AppType::Native,
    ]
    .choose(rng)
    .unwrap_or(&AppType::Web);
    let mut out = vec![first];
    if rng.random_bool(0.5) {
        out.push(
            *[AppType::Web, AppType::Service, AppType::ApiService]
                .choose(rng)
                .unwrap_or(&AppType::Service),
        );
    }
    out
}

fn slug(name: &str) -> String {
    name.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

impl Model {
    /// Builds the organisation from the world (deterministic in seed and user count).
    pub(crate) fn generate(world: &World) -> Self {
        let mut rng = world::rng_for(world.seed, "okta-model");
        let user_tag = world::alphanumeric(&mut rng, 7);
        let users = world.users;
        let epoch = world.epoch;
        let person = |rng: &mut StdRng| rng.random_range(0..users.max(1));

        let mut scope_ids = BTreeMap::new();
        for s in USER_SCOPES {
            scope_ids.insert(*s, okta_id(&mut rng, "scp"));
        }

        let app = |rng: &mut StdRng,
                   label: String,
                   name: String,
                   app_type: AppType,
                   vendor: Option<usize>| {
            let created = rng.random_range(epoch - HISTORY..epoch - 30 * DAY);
            let granted_scopes = if app_type == AppType::ApiService {
                let n = rng.random_range(1..=3);
                let mut s: Vec<&'static str> =
                    MANAGEMENT_SCOPES.choose_multiple(rng, n).copied().collect();
                s.sort_unstable();
                s
            } else {
                Vec::new()
            };
            App {
                id: okta_id(rng, "0oa"),
                label,
                name,
                app_type,
                active: true,
                created,
                vendor,
                trusted: rng.random_bool(0.25),
                created_by: person(rng),
                granted_scopes,
            }
        };

        // The auditor's own service app.
        let auditor = app(
            &mut rng,
            "grantscope auditor".to_owned(),
            "oidc_client".to_owned(),
            AppType::Service,
            Some(0),
        );
        let auditor_client_id = auditor.id.clone();
        let mut list = vec![auditor];
        for (v, vendor) in world.vendors.iter().enumerate().skip(1) {
            for (i, t) in vendor_app_types(&mut rng).into_iter().enumerate() {
                let label = match (i, t) {
                    (_, AppType::ApiService) => format!("{} Okta Connector", vendor.name),
                    (0, _) => vendor.name.to_owned(),
                    (_, AppType::Service) => format!("{} Sync", vendor.name),
                    _ => format!("{} Mobile", vendor.name),
                };
                let name = match t {
                    AppType::ApiService => format!("{}_api", slug(vendor.name)),
                    _ if rng.random_bool(0.5) => slug(vendor.name),
                    _ => "oidc_client".to_owned(),
                };
                list.push(app(&mut rng, label, name, t, Some(v)));
            }
        }
        // Apps with no vendor: internal tools, an unknown client, SAML apps.
        for (label, t) in [
            ("Acme Intranet", AppType::Web),
            ("Acme Data Sync", AppType::Service),
            ("Legacy Reporting Client", AppType::Native),
            ("Acme HR Portal", AppType::Saml),
            ("Acme Expenses", AppType::Saml),
        ] {
            let name = if t == AppType::Saml {
                format!("acme_{}", slug(label))
            } else {
                "oidc_client".to_owned()
            };
            list.push(app(&mut rng, label.to_owned(), name, t, None));
        }
        let mut apps = list;

        // Okta-API scope grants: the auditor's, then every service app's and every API
        // service integration's (the integration's grants are its `grantedScopes`).
        let mut app_grants: BTreeMap<String, Vec<AppGrant>> = BTreeMap::new();
        for a in &apps {
            let scopes: Vec<&'static str> = match a.app_type {
                AppType::Service if a.id == auditor_client_id => AUDITOR_SCOPES.to_vec(),
                AppType::Service => {
                    let n = rng.random_range(1..=4);
                    MANAGEMENT_SCOPES
                        .choose_multiple(&mut rng, n)
                        .copied()
                        .collect()
                }
                AppType::ApiService => a.granted_scopes.clone(),
                _ => Vec::new(),
            };
            let mut grants: Vec<AppGrant> = scopes
                .into_iter()
                .map(|scope| AppGrant {
                    id: okta_id(&mut rng, "oag"),
                    scope,
                    created: rng.random_range(a.created..epoch - DAY),
                    created_by: person(&mut rng),
                })
                .collect();
            grants.sort_by(|x, y| x.id.cmp(&y.id));
            if !grants.is_empty() {
                app_grants.insert(a.id.clone(), grants);
            }
        }

        // End users' consents and refresh tokens for the web and native apps. Each app
        // reaches a few per cent of the people; the first apps are guaranteed a user so
        // that every vendor holds a grant whatever the seed.
        let mut user_clients: BTreeMap<(u32, String), UserClient> = BTreeMap::new();
        let consent_apps: Vec<&App> = apps
            .iter()
            .filter(|a| matches!(a.app_type, AppType::Web | AppType::Native))
            .collect();
        let mut user_rng = world::rng_for(world.seed, "okta-user-grants");
        for (k, a) in consent_apps.iter().enumerate() {
            let share = user_rng.random_range(0.02..0.07);
            let forced = u32::try_from(k).unwrap_or(0).wrapping_mul(7) % users.max(1);
            for u in 0..users {
                if u != forced && !user_rng.random_bool(share) {
                    continue;
                }
                let uc = Self::user_client(&mut user_rng, a, &scope_ids, epoch);
                user_clients.insert((u, a.id.clone()), uc);
            }
        }

        apps.sort_by(|x, y| x.id.cmp(&y.id));
        Self {
            users,
            epoch,
            user_tag,
            vendors: world.vendors.iter().map(|v| v.name).collect(),
            apps,
            app_grants,
            user_clients,
            auditor_client_id,
            scope_ids,
        }
    }

    /// One person's consents and token for one app: consent grants unless the app is
    /// trusted (no consent screen), a refresh token when `offline_access` is in play.
    fn user_client(
        rng: &mut StdRng,
        app: &App,
        scope_ids: &BTreeMap<&'static str, String>,
        epoch: i64,
    ) -> UserClient {
        let n = rng.random_range(1..=4);
        let mut scopes: Vec<&'static str> = USER_SCOPES.choose_multiple(rng, n).copied().collect();
        scopes.sort_unstable();
        let created = rng.random_range(app.created..epoch - DAY);
        let mut uc = UserClient::default();
        if !app.trusted {
            for scope in &scopes {
                uc.grants.push(UserGrant {
                    id: okta_id(rng, "oag"),
                    scope,
                    scope_id: scope_ids.get(scope).cloned().unwrap_or_default(),
                    created,
                });
            }
            uc.grants.sort_by(|x, y| x.id.cmp(&y.id));
        }
        if app.trusted || scopes.contains(&"offline_access") || rng.random_bool(0.3) {
            let mut token_scopes = scopes.clone();
            if !token_scopes.contains(&"offline_access") {
                token_scopes.push("offline_access");
            }
            token_scopes.push("openid");
            token_scopes.sort_unstable();
            let updated = rng.random_range(created..epoch);
            uc.tokens.push(RefreshToken {
                id: okta_id(rng, "oar"),
                scopes: token_scopes,
                created,
                updated,
                expires: updated + 90 * DAY,
            });
        }
        uc
    }

    /// The app with this id.
    pub(crate) fn app(&self, id: &str) -> Option<&App> {
        self.apps
            .binary_search_by(|a| a.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.apps.get(i))
    }

    /// The app with this id, mutably.
    pub(crate) fn app_mut(&mut self, id: &str) -> Option<&mut App> {
        self.apps
            .binary_search_by(|a| a.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.apps.get_mut(i))
    }

    /// The vendor name of an app.
    fn vendor_of(&self, app: &App) -> Option<String> {
        app.vendor
            .and_then(|v| self.vendors.get(v))
            .map(|n| (*n).to_owned())
    }

    /// The app ids the config lists as `vendor_owned_apps`.
    pub(crate) fn vendor_owned_apps(&self) -> Vec<String> {
        self.apps
            .iter()
            .filter(|a| a.vendor_owned())
            .map(|a| a.id.clone())
            .collect()
    }

    /// Appends the grants a perfect connector would report for the current state.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        let grant = |local: String,
                     app: &App,
                     name: &str,
                     principal: (&str, String),
                     kind: &str,
                     scopes: Vec<String>,
                     created: i64| TruthGrant {
            id: format!("{PROVIDER}/{TENANT}/{local}"),
            provider: PROVIDER.to_owned(),
            tenant: TENANT.to_owned(),
            app: TruthApp {
                id: app.id.clone(),
                name: name.to_owned(),
            },
            principal: TruthPrincipal {
                kind: principal.0.to_owned(),
                id: principal.1,
            },
            kind: kind.to_owned(),
            scopes,
            created_at: Some(world::Stamp::utc(created).rfc3339()),
            last_used_at: None,
            vendor: self.vendor_of(app),
        };
        for a in &self.apps {
            if a.app_type == AppType::ApiService {
                // Reported once, as the integration; its scope grants are the same consent.
                out.push(grant(
                    format!("api-service:{}", a.id),
                    a,
                    &a.label,
                    ("service", a.id.clone()),
                    "application",
                    a.granted_scopes.iter().map(|s| (*s).to_owned()).collect(),
                    a.created,
                ));
                continue;
            }
            for g in self.app_grants.get(&a.id).into_iter().flatten() {
                out.push(grant(
                    format!("app-grant:{}", g.id),
                    a,
                    &a.label,
                    ("tenant", TENANT.to_owned()),
                    "admin_consent",
                    vec![g.scope.to_owned()],
                    g.created,
                ));
            }
        }
        for ((u, app_id), uc) in &self.user_clients {
            let Some(a) = self.app(app_id) else { continue };
            for g in &uc.grants {
                out.push(grant(
                    format!("user-grant:{}", g.id),
                    a,
                    &a.label,
                    ("user", login(*u)),
                    "delegated",
                    vec![g.scope.to_owned()],
                    g.created,
                ));
            }
            for t in &uc.tokens {
                out.push(grant(
                    format!("refresh-token:{}", t.id),
                    a,
                    &a.label,
                    ("user", login(*u)),
                    "delegated",
                    t.scopes.iter().map(|s| (*s).to_owned()).collect(),
                    t.created,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::AUDITOR_VENDOR;

    fn truth(seed: u64, users: u32) -> Vec<TruthGrant> {
        let mut out = Vec::new();
        Model::generate(&World::new(seed, users)).truth(&mut out);
        out
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(truth(12, 400), truth(12, 400));
        assert_ne!(truth(12, 400), truth(13, 400));
    }

    #[test]
    fn every_vendor_holds_a_grant_and_some_apps_have_none() {
        for seed in [1, 7, 12, 99] {
            let t = truth(seed, 20);
            let world = World::new(seed, 20);
            for v in world.vendors.iter().skip(1) {
                assert!(
                    t.iter().any(|g| g.vendor.as_deref() == Some(v.name)),
                    "seed {seed}: {} holds no okta grant",
                    v.name
                );
            }
            assert!(t.iter().any(|g| g.vendor.is_none()), "seed {seed}");
            assert!(
                t.iter()
                    .any(|g| g.vendor.as_deref() == Some(AUDITOR_VENDOR))
            );
            let ids: std::collections::BTreeSet<&str> = t.iter().map(|g| g.id.as_str()).collect();
            assert_eq!(ids.len(), t.len(), "ids are unique");
        }
    }

    #[test]
    fn every_grant_kind_appears_and_user_ids_round_trip() {
        let t = truth(12, 400);
        for kind in ["admin_consent", "delegated", "application"] {
            assert!(t.iter().any(|g| g.kind == kind), "{kind}");
        }
        assert!(t.iter().any(|g| g.id.contains("/refresh-token:")));
        assert!(t.iter().any(|g| g.id.contains("/user-grant:")));
        let id = user_id("AbC1234", 42);
        assert_eq!(id.len(), 20);
        assert_eq!(user_index("AbC1234", &id), Some(42));
        assert_eq!(user_index("AbC1234", "00uAbC123400000000x2"), None);
        assert_eq!(user_index("zzzzzzz", &id), None);
    }
}
