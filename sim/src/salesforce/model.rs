//! The synthetic Salesforce org: connected apps, their App Launcher items, token
//! approvals and pre-authorizations, generated from the world, and the ground truth
//! a perfect connector reports for them (`connectors/salesforce/README.md`).

use std::collections::{BTreeSet, HashSet};

use rand::Rng;
use rand::rngs::StdRng;

use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{AUDITOR_VENDOR, DAY, HISTORY, World, rng_for};

/// The provider id.
pub(crate) const PROVIDER: &str = "salesforce";
/// The one simulated org's tenant name.
pub(crate) const TENANT: &str = "acme-salesforce";
/// The org's username domain.
pub(crate) const DOMAIN: &str = "acme.example";
/// The integration user the auditor's JWT names as `sub`.
pub(crate) const AUDITOR_USERNAME: &str = "grantscope-audit@acme.example";
/// The auditor's user id.
pub(crate) const AUDITOR_USER_ID: &str = "0055g00000AudItAAA";
/// The audience the simulated token endpoint accepts (the real login host).
pub(crate) const AUDIENCE: &str = "https://login.salesforce.com";
/// The org id (in access tokens and identity URLs).
pub(crate) const ORG_ID: &str = "00D5g000008XYZaEAO";

/// First-party Salesforce clients people use with their own accounts. Their tokens
/// have no App Launcher item (API.md 1).
const FIRST_PARTY: &[&str] = &[
    "Salesforce CLI",
    "Salesforce for Outlook",
    "Salesforce Mobile",
    "Data Loader",
];

/// An 18-character record id: key prefix, pod, a number, a fixed checksum suffix.
pub(crate) fn sf_id(prefix: &str, n: u64) -> String {
    format!("{prefix}5g{n:010}AAA")
}

/// A person's Salesforce username.
pub(crate) fn username(index: u32) -> String {
    format!("{}@{DOMAIN}", World::login(index))
}

/// A person's user id.
pub(crate) fn user_id(index: u32) -> String {
    sf_id("005", u64::from(index) + 1)
}

/// A connected app installed in the org (a `ConnectedApplication` row plus its
/// `AppMenuItem`).
#[derive(Clone, Debug)]
pub(crate) struct ConnectedApp {
    /// `0H4…`.
    pub id: String,
    /// The label (`ConnectedApplication.Name`, `AppMenuItem.Label`, `OauthToken.AppName`).
    pub name: String,
    /// `0DS…`.
    pub menu_id: String,
    /// `AppMenuItem.Name` (API name).
    pub menu_name: String,
    /// Managed-package namespace.
    pub namespace: Option<String>,
    /// `OptionsAllowAdminApprovedUsersOnly`.
    pub admin_only: bool,
    /// `RefreshTokenValidityPeriod`.
    pub validity: Option<u32>,
    /// `OptionsRefreshTokenValidityMetric`.
    pub validity_from_use: bool,
    /// `OptionsIsInternal`.
    pub internal: bool,
    /// `CreatedDate`.
    pub created: i64,
    /// The synthetic vendor, by name.
    pub vendor: Option<&'static str>,
}

/// One `OauthToken` row.
#[derive(Clone)]
pub(crate) struct Token {
    /// The person (index into the world's people).
    pub user: u32,
    /// `AppName`.
    pub app_name: String,
    /// `AppMenuItemId`; `None` for uninstalled and first-party apps, and for a few
    /// rows of installed apps, which then link only by name.
    pub menu_id: Option<String>,
    /// The app id the connector reports (README: connected-app id or `app-name:…`).
    pub app_id: String,
    /// The vendor behind the app.
    pub vendor: Option<&'static str>,
    /// `CreatedDate`, Unix seconds.
    pub created: i64,
    /// `LastUsedDate`.
    pub last_used: Option<i64>,
    /// `UseCount`.
    pub use_count: u64,
    /// `DeleteToken`: a secret, filled in at `Sim::new` from the OS RNG.
    pub delete_token: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The DeleteToken is left out on purpose.
        f.debug_struct("Token")
            .field("user", &self.user)
            .field("app_name", &self.app_name)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The local grant id (README): `oauth-token:{UserId}:{yyyymmddThhmmssZ}:{AppName
    /// percent-encoded}`.
    pub(crate) fn local_id(&self) -> String {
        let created = crate::world::Stamp::utc(self.created).rfc3339();
        let compact: String = created.chars().filter(|c| *c != '-' && *c != ':').collect();
        format!(
            "oauth-token:{}:{compact}:{}",
            user_id(self.user),
            encode(&self.app_name)
        )
    }

    /// The normalized grant id.
    pub(crate) fn grant_id(&self) -> String {
        format!("{PROVIDER}/{TENANT}/{}", self.local_id())
    }
}

/// One `SetupEntityAccess` row pre-authorizing a permission set (or a profile's
/// permission set) for a connected app.
#[derive(Clone, Debug)]
pub(crate) struct Sea {
    /// `0J0…`.
    pub id: String,
    /// `ParentId`: the permission set, `0PS…`.
    pub parent_id: String,
    /// `Parent.Name`.
    pub parent_name: String,
    /// `Parent.Profile.Name` when the permission set is a profile's.
    pub profile: Option<String>,
    /// Index into [`Model::apps`].
    pub app: usize,
}

impl Sea {
    /// The normalized grant id.
    pub(crate) fn grant_id(&self) -> String {
        format!("{PROVIDER}/{TENANT}/setup-entity-access:{}", self.id)
    }
}

/// The synthetic org.
#[derive(Debug)]
pub(crate) struct Model {
    /// Inactive people.
    pub inactive: BTreeSet<u32>,
    /// Installed connected apps, by label.
    pub apps: Vec<ConnectedApp>,
    /// Token approvals, sorted by (AppName, UserId, CreatedDate): the query order.
    pub tokens: Vec<Token>,
    /// Pre-authorizations.
    pub seas: Vec<Sea>,
    /// The auditor app's consumer key (the JWT `iss`).
    pub consumer_key: String,
    /// The auditor's connected app (index into `apps`).
    pub auditor_app: usize,
}

/// Percent-encodes like the connector SDK's `http::encode` (RFC 3986 unreserved kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// How a vendor's main app reaches the org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// Installed; any user may self-authorize.
    SelfAuthorize,
    /// Installed from a managed package; only pre-authorized users.
    AdminApproved,
    /// Authorized by users without an install: no `ConnectedApplication` row.
    Uninstalled,
}

/// A token-holding app to draw from: (label, menu item, app id, vendor).
#[derive(Clone, Debug)]
struct Holder {
    name: String,
    menu_id: Option<String>,
    app_id: String,
    vendor: Option<&'static str>,
    weight: u32,
}

impl Model {
    /// Builds the org from the world (deterministic in seed and user count).
    pub(crate) fn generate(world: &World) -> Self {
        let mut rng = rng_for(world.seed, "salesforce-apps");
        let mut apps: Vec<ConnectedApp> = Vec::new();
        let mut seas: Vec<Sea> = Vec::new();
        let mut holders: Vec<Holder> = Vec::new();
        let now = world.epoch;
        let mut next_app = 1u64;
        let mut new_app = |rng: &mut StdRng,
                           name: &str,
                           namespace: Option<String>,
                           admin_only: bool,
                           internal: bool,
                           vendor: Option<&'static str>|
         -> ConnectedApp {
            let n = next_app;
            next_app += 1;
            let validity = match rng.random_range(0..4) {
                0 => Some(90),
                1 => Some(0),
                _ => None,
            };
            ConnectedApp {
                id: sf_id("0H4", n),
                name: name.to_owned(),
                menu_id: sf_id("0DS", n),
                menu_name: name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
                namespace,
                admin_only,
                validity,
                validity_from_use: validity.is_some() && rng.random_bool(0.5),
                internal,
                created: rng.random_range(now - HISTORY..now - 30 * DAY),
                vendor,
            }
        };

        // The auditor's own connected app: pre-authorized for its permission set, which
        // is what lets the JWT bearer flow succeed.
        let auditor = new_app(
            &mut rng,
            "Grantscope Auditor",
            None,
            true,
            false,
            Some(AUDITOR_VENDOR),
        );
        apps.push(auditor);
        let auditor_app = 0;

        // One main app per synthetic vendor, in a variety of styles.
        let mut main_of_vendor: Vec<Holder> = Vec::new();
        let mut ambiguous_label: Option<String> = None;
        let mut single_label: Option<String> = None;
        for (k, v) in world.vendors.iter().enumerate().skip(1) {
            let style = match k % 3 {
                1 => Style::SelfAuthorize,
                2 => Style::AdminApproved,
                _ => Style::Uninstalled,
            };
            let name = if rng.random_bool(0.4) {
                format!("{} for Salesforce", v.name)
            } else {
                v.name.to_owned()
            };
            let holder = match style {
                Style::Uninstalled => Holder {
                    app_id: format!("app-name:{name}"),
                    name,
                    menu_id: None,
                    vendor: Some(v.name),
                    weight: 3,
                },
                Style::SelfAuthorize | Style::AdminApproved => {
                    let admin = style == Style::AdminApproved;
                    let ns = admin.then(|| {
                        v.name
                            .split_whitespace()
                            .next()
                            .unwrap_or("vendor")
                            .to_ascii_lowercase()
                    });
                    let app = new_app(&mut rng, &name, ns, admin, false, Some(v.name));
                    let h = Holder {
                        name: name.clone(),
                        menu_id: Some(app.menu_id.clone()),
                        app_id: app.id.clone(),
                        vendor: Some(v.name),
                        weight: 4,
                    };
                    apps.push(app);
                    // The fourth vendor ships a second package under the same label:
                    // tokens without an App Launcher link are then ambiguous.
                    if k == 4 {
                        let twin = new_app(
                            &mut rng,
                            &name,
                            Some("v2".to_owned()),
                            false,
                            false,
                            Some(v.name),
                        );
                        holders.push(Holder {
                            name: name.clone(),
                            menu_id: Some(twin.menu_id.clone()),
                            app_id: twin.id.clone(),
                            vendor: Some(v.name),
                            weight: 1,
                        });
                        apps.push(twin);
                        ambiguous_label = Some(name.clone());
                    } else if k == 1 {
                        single_label = Some(name.clone());
                    }
                    h
                }
            };
            main_of_vendor.push(holder.clone());
            holders.push(holder);
        }

        // The org's own integration, admin-approved for one permission set.
        let etl = new_app(&mut rng, "Acme Internal ETL", None, true, true, None);
        holders.push(Holder {
            name: etl.name.clone(),
            menu_id: Some(etl.menu_id.clone()),
            app_id: etl.id.clone(),
            vendor: None,
            weight: 1,
        });
        apps.push(etl);
        for name in FIRST_PARTY {
            holders.push(Holder {
                name: (*name).to_owned(),
                menu_id: None,
                app_id: format!("app-name:{name}"),
                vendor: None,
                weight: 5,
            });
        }

        // Pre-authorizations: every admin-approved app gets one to three parents.
        let profiles = ["System Administrator", "Standard User", "Sales User"];
        let mut sea_n = 1u64;
        for (i, app) in apps.iter().enumerate().filter(|(_, a)| a.admin_only) {
            let short: String = app
                .name
                .split_whitespace()
                .next()
                .unwrap_or("App")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let mut parents: Vec<(String, String, Option<String>)> = vec![(
                sf_id("0PS", 1000 + i as u64),
                format!("{short}_Users"),
                None,
            )];
            if i != auditor_app {
                let extra = rng.random_range(0..=2usize);
                for (p, profile) in profiles.iter().enumerate().take(extra) {
                    parents.push((
                        sf_id("0PS", 10 + p as u64),
                        format!("X00e5g00000{p}ProfilePs"),
                        Some((*profile).to_owned()),
                    ));
                }
            }
            for (parent_id, parent_name, profile) in parents {
                seas.push(Sea {
                    id: sf_id("0J0", sea_n),
                    parent_id,
                    parent_name,
                    profile,
                    app: i,
                });
                sea_n += 1;
            }
        }

        // People and their approvals.
        let mut urng = rng_for(world.seed, "salesforce-tokens");
        let mut inactive = BTreeSet::new();
        let mut tokens: Vec<Token> = Vec::new();
        let mut keys: HashSet<(u32, String, i64)> = HashSet::new();
        let total_weight: u32 = holders.iter().map(|h| h.weight).sum();
        let mut push = |rng: &mut StdRng,
                        user: u32,
                        h: &Holder,
                        menu: Option<String>,
                        tokens: &mut Vec<Token>| {
            let mut created = rng.random_range(now - HISTORY..now - DAY);
            while !keys.insert((user, h.name.clone(), created)) {
                created += 1;
            }
            let last_used = rng.random_bool(0.8).then(|| rng.random_range(created..now));
            let use_count = match last_used {
                Some(_) => rng.random_range(1..20_000),
                None => rng.random_range(0..3),
            };
            let app_id = if menu.is_some() {
                h.app_id.clone()
            } else {
                format!("app-name:{}", h.name)
            };
            tokens.push(Token {
                user,
                app_name: h.name.clone(),
                menu_id: menu,
                app_id,
                vendor: h.vendor,
                created,
                last_used,
                use_count,
                delete_token: String::new(),
            });
        };
        for user in 0..world.users {
            if urng.random_bool(0.04) {
                inactive.insert(user);
            }
            let n = match urng.random_range(0..10) {
                0..=1 => 0,
                2..=4 => 1,
                5..=7 => 2,
                8 => 3,
                _ => 4,
            };
            for _ in 0..n {
                let mut pick = urng.random_range(0..total_weight);
                let h = holders
                    .iter()
                    .find(|h| {
                        if pick < h.weight {
                            true
                        } else {
                            pick -= h.weight;
                            false
                        }
                    })
                    .unwrap_or(&holders[0]);
                // A few rows of installed apps carry no App Launcher link.
                let menu = h.menu_id.clone().filter(|_| !urng.random_bool(0.05));
                push(&mut urng, user, h, menu, &mut tokens);
            }
        }
        // Coverage that must not depend on luck: every vendor's main app holds a token,
        // and both name-only link cases (one match, several matches) exist.
        if world.users >= 20 {
            for (i, h) in main_of_vendor.iter().enumerate() {
                push(&mut urng, i as u32, h, h.menu_id.clone(), &mut tokens);
            }
            for (user, label) in [(11, &ambiguous_label), (12, &single_label)] {
                if let Some(h) = label
                    .as_ref()
                    .and_then(|l| holders.iter().find(|h| &h.name == l))
                {
                    push(&mut urng, user, h, None, &mut tokens);
                }
            }
        }
        tokens.sort_by(|a, b| {
            (a.app_name.as_str(), user_id(a.user), a.created).cmp(&(
                b.app_name.as_str(),
                user_id(b.user),
                b.created,
            ))
        });
        let consumer_key = format!(
            "3MVG9{}",
            crate::world::alphanumeric(&mut rng_for(world.seed, "salesforce-consumer-key"), 40)
        );
        Self {
            inactive,
            apps,
            tokens,
            seas,
            consumer_key,
            auditor_app,
        }
    }

    /// Whether the auditor's connected app is still pre-authorized for someone.
    pub(crate) fn auditor_authorized(&self) -> bool {
        self.seas.iter().any(|s| s.app == self.auditor_app)
    }

    /// Appends the grants a perfect connector reports for the current state.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        for t in &self.tokens {
            let name = match &t.menu_id {
                Some(m) => self
                    .apps
                    .iter()
                    .find(|a| &a.menu_id == m)
                    .map_or_else(|| t.app_name.clone(), |a| a.name.clone()),
                None => t.app_name.clone(),
            };
            out.push(TruthGrant {
                id: t.grant_id(),
                provider: PROVIDER.to_owned(),
                tenant: TENANT.to_owned(),
                app: TruthApp {
                    id: t.app_id.clone(),
                    name,
                },
                principal: TruthPrincipal {
                    kind: "user".to_owned(),
                    id: username(t.user),
                },
                kind: "delegated".to_owned(),
                scopes: Vec::new(),
                created_at: Some(crate::world::Stamp::utc(t.created).rfc3339()),
                last_used_at: t.last_used.map(|u| crate::world::Stamp::utc(u).rfc3339()),
                vendor: t.vendor.map(str::to_owned),
            });
        }
        for s in &self.seas {
            let Some(app) = self.apps.get(s.app) else {
                continue;
            };
            let principal = match &s.profile {
                Some(p) => format!("profile:{p}"),
                None => format!("permission-set:{}", s.parent_name),
            };
            out.push(TruthGrant {
                id: s.grant_id(),
                provider: PROVIDER.to_owned(),
                tenant: TENANT.to_owned(),
                app: TruthApp {
                    id: app.id.clone(),
                    name: app.name.clone(),
                },
                principal: TruthPrincipal {
                    kind: "tenant".to_owned(),
                    id: principal,
                },
                kind: "admin_consent".to_owned(),
                scopes: Vec::new(),
                created_at: None,
                last_used_at: None,
                vendor: app.vendor.map(str::to_owned),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn generation_is_deterministic() {
        let w = World::new(12, 400);
        let mut a = Vec::new();
        let mut b = Vec::new();
        Model::generate(&w).truth(&mut a);
        Model::generate(&w).truth(&mut b);
        assert_eq!(a, b);
        let mut c = Vec::new();
        Model::generate(&World::new(13, 400)).truth(&mut c);
        assert_ne!(a, c);
    }

    #[test]
    fn every_vendor_holds_a_grant_and_ids_are_unique() {
        for (seed, users) in [(12, 400), (7, 20), (1, 50)] {
            let w = World::new(seed, users);
            let m = Model::generate(&w);
            let mut truth = Vec::new();
            m.truth(&mut truth);
            let ids: HashSet<&str> = truth.iter().map(|g| g.id.as_str()).collect();
            assert_eq!(ids.len(), truth.len(), "unique ids");
            let keys: HashSet<(&str, &str, &str)> = truth
                .iter()
                .map(|g| (g.app.id.as_str(), g.principal.id.as_str(), g.kind.as_str()))
                .filter(|k| k.2 == "admin_consent")
                .collect();
            assert_eq!(
                keys.len(),
                truth.iter().filter(|g| g.kind == "admin_consent").count()
            );
            let mut by_vendor: BTreeMap<&str, usize> = BTreeMap::new();
            for g in &truth {
                if let Some(v) = &g.vendor {
                    *by_vendor.entry(v.as_str()).or_default() += 1;
                }
            }
            for v in w.vendors.iter() {
                assert!(by_vendor.contains_key(v.name), "{} has no grant", v.name);
            }
            assert!(truth.iter().any(|g| g.vendor.is_none()), "unvendored apps");
            assert!(m.auditor_authorized());
            // Both name-only link cases exist.
            assert!(m.tokens.iter().any(|t| t.menu_id.is_none()
                && m.apps.iter().filter(|a| a.name == t.app_name).count() > 1));
            assert!(m.tokens.iter().any(|t| t.menu_id.is_none()
                && m.apps.iter().filter(|a| a.name == t.app_name).count() == 1));
        }
    }
}
