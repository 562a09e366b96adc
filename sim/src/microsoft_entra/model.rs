//! The synthetic Microsoft Entra tenant: users, service principals, delegated permission
//! grants, app role assignments and sign-in activity, generated from the world, and the
//! mapping of that state to ground truth.
//!
//! The truth mapping follows `connectors/microsoft-entra/README.md` exactly: one grant per
//! third-party `oAuth2PermissionGrant` row and one per third-party app role assignment.

use std::collections::{BTreeSet, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::catalog::{self, GRAPH_APP_ID};
use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{AUDITOR_VENDOR, DAY, HISTORY, Stamp, World, rng_for};

/// Provider id used in truth ids and revocation stats.
pub(crate) const PROVIDER: &str = "microsoft-entra";
/// The one simulated tenant's name (the config's `[[tenant]] name`).
pub(crate) const TENANT: &str = "acme-entra";
/// The verified domain of the tenant's users.
pub(crate) const DOMAIN: &str = "acme.example";
/// The role id Entra uses for "default access" (a user assigned to an app, no role).
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";
/// A Microsoft Graph permission id that no longer exists (retired): assignments to it
/// cannot be resolved to a name.
pub(crate) const RETIRED_ROLE_ID: &str = "5d3b6c2e-91a4-4f0e-b7d8-2c6e1f9a0b47";

/// A user of the tenant.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: String,
    pub upn: String,
    pub display_name: String,
}

/// An app role a resource service principal exposes.
#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub id: String,
    pub value: String,
    /// `Application`, `User` or both.
    pub member_types: &'static [&'static str],
}

/// A delegated permission a resource exposes.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub id: String,
    pub value: String,
    pub admin: bool,
}

/// A verified publisher (Microsoft Partner Network id).
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    pub name: String,
    pub id: String,
    pub added: i64,
}

/// Last sign-ins from the service-principal sign-in activity report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignIns {
    /// Last delegated sign-in as a client (a user signed in to the app).
    pub delegated: Option<i64>,
    /// Last app-only token request as a client.
    pub app_only: Option<i64>,
}

/// A service principal: an app's instance in the tenant.
#[derive(Clone, Debug)]
pub(crate) struct Sp {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub publisher: String,
    pub verified: Option<Verified>,
    pub audience: &'static str,
    pub enabled: bool,
    pub tags: Vec<&'static str>,
    pub homepage: Option<String>,
    pub roles: Vec<Role>,
    pub scopes: Vec<Scope>,
    /// Index into `world.vendors` (0 = the auditor); `None` for Microsoft's, internal
    /// and unknown apps.
    pub vendor: Option<usize>,
    /// The vendor's name, for the truth.
    pub vendor_name: Option<&'static str>,
    /// Microsoft's own app: never reported.
    pub first_party: bool,
    pub sign_ins: Option<SignIns>,
}

/// One `oAuth2PermissionGrant`.
#[derive(Clone, Debug)]
pub(crate) struct PermissionGrant {
    pub id: String,
    /// Client service principal (index into `sps`).
    pub client: usize,
    /// Resource service principal.
    pub resource: usize,
    /// `None` for `AllPrincipals` (admin consent).
    pub principal: Option<usize>,
    /// The `scope` string as served (odd spacing and repeats included).
    pub scope: String,
}

/// Who holds an app role assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A service principal (an application permission).
    App(usize),
    /// A user assigned to the resource app (not a permission).
    User(usize),
}

/// One `appRoleAssignment`.
#[derive(Clone, Debug)]
pub(crate) struct Assignment {
    pub id: String,
    pub holder: Holder,
    pub resource: usize,
    pub role_id: String,
    pub created: i64,
    /// 100-ns ticks past the second, as Graph writes them (`.1843225Z`).
    pub ticks: u32,
}

/// The simulated tenant.
#[derive(Debug)]
pub(crate) struct Model {
    pub tenant_id: String,
    pub auditor_app_id: String,
    pub users: Vec<User>,
    pub sps: Vec<Sp>,
    pub grants: Vec<PermissionGrant>,
    pub assignments: Vec<Assignment>,
}

/// A random version-4 GUID.
pub(crate) fn guid(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn guid_bytes(g: &str) -> Vec<u8> {
    hex::decode(g.replace('-', "")).unwrap_or_default()
}

/// A GUID that depends on `purpose` only: vendor apps carry the same appId in every
/// tenant and every run, like real multi-tenant apps.
fn stable_guid(purpose: &str) -> String {
    guid(&mut rng_for(0, purpose))
}

/// Graph's timestamp style: seven fractional digits, `Z`.
pub(crate) fn graph_time(unix: i64, ticks: u32) -> String {
    let whole = Stamp::utc(unix).rfc3339();
    format!("{}.{ticks:07}Z", whole.trim_end_matches('Z'))
}

struct Builder<'w> {
    world: &'w World,
    rng: StdRng,
    model: Model,
}

impl Model {
    /// Builds the tenant from the world (deterministic in seed and user count).
    pub(crate) fn generate(world: &World) -> Self {
        let mut rng = rng_for(world.seed, "microsoft-entra-model");
        let tenant_id = guid(&mut rng);
        let auditor_app_id = stable_guid("microsoft-entra-app:grantscope");
        let mut b = Builder {
            world,
            rng,
            model: Model {
                tenant_id,
                auditor_app_id,
                users: Vec::new(),
                sps: Vec::new(),
                grants: Vec::new(),
                assignments: Vec::new(),
            },
        };
        b.users();
        b.apps();
        b.grants();
        b.sign_ins();
        b.model
    }

    /// Index of the service principal with object id `id`.
    pub(crate) fn sp_index(&self, id: &str) -> Option<usize> {
        self.sps.iter().position(|s| s.id.eq_ignore_ascii_case(id))
    }

    /// The normalized grant id of a local id.
    pub(crate) fn grant_target(local: &str) -> String {
        format!("{PROVIDER}/{TENANT}/{local}")
    }

    /// Appends the grants a perfect connector would report for the current state.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        for g in &self.grants {
            let client = &self.sps[g.client];
            if client.first_party {
                continue;
            }
            let (principal, kind, last_used) = match g.principal {
                Some(u) => (
                    TruthPrincipal {
                        kind: "user".to_owned(),
                        id: self.users[u].upn.clone(),
                    },
                    "delegated",
                    None,
                ),
                None => (
                    TruthPrincipal {
                        kind: "tenant".to_owned(),
                        id: TENANT.to_owned(),
                    },
                    "admin_consent",
                    client.sign_ins.and_then(|s| s.delegated),
                ),
            };
            let scopes: BTreeSet<String> = g.scope.split_whitespace().map(str::to_owned).collect();
            out.push(TruthGrant {
                id: Self::grant_target(&format!("permission-grant:{}", g.id)),
                provider: PROVIDER.to_owned(),
                tenant: TENANT.to_owned(),
                app: app_of(client),
                principal,
                kind: kind.to_owned(),
                scopes: scopes.into_iter().collect(),
                created_at: None,
                last_used_at: last_used.map(|t| Stamp::utc(t).rfc3339()),
                vendor: client.vendor_name.map(str::to_owned),
            });
        }
        for a in &self.assignments {
            let Holder::App(c) = a.holder else { continue };
            let client = &self.sps[c];
            if client.first_party {
                continue;
            }
            let resource = &self.sps[a.resource];
            let scope = resource
                .roles
                .iter()
                .find(|r| r.id == a.role_id)
                .map_or_else(|| a.role_id.clone(), |r| r.value.clone());
            out.push(TruthGrant {
                id: Self::grant_target(&format!("app-role-assignment:{}", a.id)),
                provider: PROVIDER.to_owned(),
                tenant: TENANT.to_owned(),
                app: app_of(client),
                principal: TruthPrincipal {
                    kind: "service".to_owned(),
                    id: client.id.clone(),
                },
                kind: "application".to_owned(),
                scopes: vec![scope],
                created_at: Some(Stamp::utc(a.created).rfc3339()),
                last_used_at: client
                    .sign_ins
                    .and_then(|s| s.app_only)
                    .map(|t| Stamp::utc(t).rfc3339()),
                vendor: client.vendor_name.map(str::to_owned),
            });
        }
    }
}

fn app_of(sp: &Sp) -> TruthApp {
    TruthApp {
        id: sp.app_id.clone(),
        name: sp.name.clone(),
    }
}

/// How a client app came to hold delegated access.
#[derive(Clone, Copy, PartialEq)]
enum Consent {
    /// Users consent one by one with this probability each.
    Users(f64),
    /// An admin consented for everyone.
    Admin,
    /// Both: an admin consent plus earlier user consents.
    Both(f64),
    /// No delegated access.
    None,
}

impl Builder<'_> {
    fn users(&mut self) {
        let mut rng = rng_for(self.world.seed, "microsoft-entra-users");
        for i in 0..self.world.users {
            let login = World::login(i);
            let (first, number) = login.split_once('-').unwrap_or((&login, ""));
            let mut name = first.to_owned();
            if let Some(c) = name.get_mut(..1) {
                c.make_ascii_uppercase();
            }
            self.model.users.push(User {
                id: guid(&mut rng),
                upn: format!("{login}@{DOMAIN}"),
                display_name: format!("{name} {number}"),
            });
        }
    }

    #[allow(clippy::too_many_arguments, reason = "a plain constructor")]
    fn sp(
        &mut self,
        app_id: String,
        name: &str,
        owner: Option<String>,
        publisher: &str,
        audience: &'static str,
        vendor: Option<usize>,
        first_party: bool,
    ) -> usize {
        let id = guid(&mut self.rng);
        self.model.sps.push(Sp {
            id,
            app_id,
            name: name.to_owned(),
            owner,
            publisher: publisher.to_owned(),
            verified: None,
            audience,
            enabled: true,
            tags: vec!["WindowsAzureActiveDirectoryIntegratedApp"],
            homepage: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            vendor,
            vendor_name: vendor.map(|v| self.world.vendors[v].name),
            first_party,
            sign_ins: None,
        });
        self.model.sps.len() - 1
    }

    /// Service principals, in the order the listing serves them.
    fn apps(&mut self) {
        let ms = Some(catalog::MICROSOFT_SERVICES_TENANT.to_owned());
        // Microsoft's resource apps.
        let graph = self.sp(
            GRAPH_APP_ID.to_owned(),
            "Microsoft Graph",
            ms.clone(),
            "Microsoft Services",
            "AzureADMultipleOrgs",
            None,
            true,
        );
        self.model.sps[graph].roles = catalog::GRAPH_APP_ROLES
            .iter()
            .map(|(id, value)| Role {
                id: (*id).to_owned(),
                value: (*value).to_owned(),
                member_types: &["Application"],
            })
            .collect();
        self.model.sps[graph].scopes = catalog::GRAPH_DELEGATED
            .iter()
            .map(|(id, value, admin)| Scope {
                id: (*id).to_owned(),
                value: (*value).to_owned(),
                admin: *admin,
            })
            .collect();
        let exchange = self.sp(
            catalog::EXCHANGE_APP_ID.to_owned(),
            "Office 365 Exchange Online",
            ms.clone(),
            "Microsoft Services",
            "AzureADMultipleOrgs",
            None,
            true,
        );
        let roles = ["full_access_as_app", "Mail.Read", "Exchange.ManageAsApp"];
        self.model.sps[exchange].roles = roles
            .iter()
            .map(|v| Role {
                id: stable_guid(&format!("microsoft-entra-exo-role:{v}")),
                value: (*v).to_owned(),
                member_types: &["Application"],
            })
            .collect();
        self.model.sps[exchange].scopes = vec![Scope {
            id: stable_guid("microsoft-entra-exo-scope:EWS.AccessAsUser.All"),
            value: "EWS.AccessAsUser.All".to_owned(),
            admin: false,
        }];
        let sharepoint = self.sp(
            catalog::SHAREPOINT_APP_ID.to_owned(),
            "Office 365 SharePoint Online",
            ms,
            "Microsoft Services",
            "AzureADMultipleOrgs",
            None,
            true,
        );
        self.model.sps[sharepoint].roles = ["Sites.FullControl.All", "Sites.Read.All"]
            .iter()
            .map(|v| Role {
                id: stable_guid(&format!("microsoft-entra-spo-role:{v}")),
                value: (*v).to_owned(),
                member_types: &["Application"],
            })
            .collect();
        for s in &mut self.model.sps {
            s.tags.clear();
        }
        // Microsoft's client apps.
        for (app_id, name, owner) in catalog::FIRST_PARTY_CLIENTS {
            self.sp(
                (*app_id).to_owned(),
                name,
                Some((*owner).to_owned()),
                "Microsoft Services",
                "AzureADMultipleOrgs",
                None,
                true,
            );
        }
        // The auditor.
        let auditor = self.sp(
            self.model.auditor_app_id.clone(),
            "grantscope auditor",
            Some(stable_guid("microsoft-entra-tenant:grantscope")),
            "grantscope",
            "AzureADMultipleOrgs",
            Some(0),
            false,
        );
        debug_assert_eq!(self.world.vendors[0].name, AUDITOR_VENDOR);
        self.model.sps[auditor].homepage = Some("https://grantscope.dev/".to_owned());
        // Vendors' apps.
        const SUFFIXES: &[&str] = &["Sync", "Connector", "Reports", "for Outlook"];
        for v in 1..self.world.vendors.len() {
            let vendor = &self.world.vendors[v];
            let (vname, domain) = (vendor.name, vendor.domain);
            let owner = stable_guid(&format!("microsoft-entra-tenant:{vname}"));
            let count = if self.rng.random_bool(0.4) { 2 } else { 1 };
            for k in 0..count {
                let name = if k == 0 {
                    vname.to_owned()
                } else {
                    format!("{vname} {}", SUFFIXES[(v + k) % SUFFIXES.len()])
                };
                let audience = if self.rng.random_bool(0.85) {
                    "AzureADMultipleOrgs"
                } else {
                    "AzureADandPersonalMicrosoftAccount"
                };
                let i = self.sp(
                    stable_guid(&format!("microsoft-entra-app:{vname}:{k}")),
                    &name,
                    Some(owner.clone()),
                    vname,
                    audience,
                    Some(v),
                    false,
                );
                let verified = self.rng.random_bool(0.6).then(|| Verified {
                    name: format!("{vname} Inc."),
                    id: self.rng.random_range(1_000_000..9_999_999u32).to_string(),
                    added: self
                        .rng
                        .random_range(self.world.epoch - HISTORY..self.world.epoch - DAY),
                });
                // One app is always disabled: its grants stay and must still be reported.
                let enabled = !(self.rng.random_bool(0.1) || (v == 5 && k == 0));
                let s = &mut self.model.sps[i];
                s.verified = verified;
                s.enabled = enabled;
                s.homepage = Some(format!("https://{domain}/"));
            }
        }
        // The organisation's own apps and an app nobody knows.
        let home = Some(self.model.tenant_id.clone());
        for name in ["acme-billing-etl", "acme-hr-portal"] {
            let i = self.sp(
                stable_guid(&format!("microsoft-entra-app:{}:{name}", self.world.seed)),
                name,
                home.clone(),
                "Acme",
                "AzureADMyOrg",
                None,
                false,
            );
            self.model.sps[i].tags.push("HideApp");
        }
        let api = self.sp(
            stable_guid(&format!(
                "microsoft-entra-app:{}:acme-internal-api",
                self.world.seed
            )),
            "acme-internal-api",
            home,
            "Acme",
            "AzureADMyOrg",
            None,
            false,
        );
        self.model.sps[api].roles = vec![
            Role {
                id: stable_guid("microsoft-entra-acme-role:Reports.Read"),
                value: "Reports.Read".to_owned(),
                member_types: &["Application", "User"],
            },
            Role {
                id: stable_guid("microsoft-entra-acme-role:Admin"),
                value: "Admin".to_owned(),
                member_types: &["User"],
            },
        ];
        self.sp(
            stable_guid("microsoft-entra-app:pdf-wizard-pro"),
            "PDF Wizard Pro",
            Some(stable_guid("microsoft-entra-tenant:pdf-wizard-pro")),
            "PDF Wizard Pro",
            "AzureADandPersonalMicrosoftAccount",
            None,
            false,
        );
    }

    fn find(&self, app_id: &str) -> usize {
        self.model
            .sps
            .iter()
            .position(|s| s.app_id == app_id)
            .unwrap_or_default()
    }

    fn find_name(&self, name: &str) -> usize {
        self.model
            .sps
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_default()
    }

    fn grants(&mut self) {
        let mut rng = rng_for(self.world.seed, "microsoft-entra-grants");
        let graph = self.find(GRAPH_APP_ID);
        let exchange = self.find(catalog::EXCHANGE_APP_ID);
        let sharepoint = self.find(catalog::SHAREPOINT_APP_ID);
        let users = self.model.users.len();
        let user_scopes: Vec<&str> = catalog::GRAPH_DELEGATED
            .iter()
            .filter(|(_, v, admin)| !admin && !catalog::SIGN_IN_SCOPES.contains(v))
            .map(|(_, v, _)| *v)
            .collect();
        let all_scopes: Vec<&str> = catalog::GRAPH_DELEGATED
            .iter()
            .filter(|(_, v, _)| !catalog::SIGN_IN_SCOPES.contains(v))
            .map(|(_, v, _)| *v)
            .collect();

        // Delegated access: who consents to what.
        let mut plans: Vec<(usize, Consent, bool)> = Vec::new();
        for (i, s) in self.model.sps.iter().enumerate() {
            let consent = match (s.vendor, s.name.as_str()) {
                (Some(0), _) => Consent::None,
                (Some(_), _) => match rng.random_range(0..10) {
                    0..=5 => Consent::Users(rng.random_range(0.05..0.45)),
                    6 => Consent::Admin,
                    7 => Consent::Both(rng.random_range(0.02..0.15)),
                    _ => Consent::None,
                },
                (None, "Graph Explorer") => Consent::Users(0.2),
                (None, "Microsoft Graph Command Line Tools") => Consent::Both(0.05),
                (None, "acme-hr-portal") => Consent::Admin,
                (None, "PDF Wizard Pro") => Consent::Users(0.1),
                _ => Consent::None,
            };
            // Some mail apps also hold Exchange Web Services access.
            let exo = !matches!(consent, Consent::None) && rng.random_bool(0.25);
            plans.push((i, consent, exo));
        }
        // Every vendor's first app holds at least one grant: its own first user.
        let mut ensured: Vec<(usize, usize)> = Vec::new();
        if users > 0 {
            for v in 1..self.world.vendors.len() {
                if let Some(first) = self.model.sps.iter().position(|s| s.vendor == Some(v)) {
                    ensured.push((first, (v - 1) % users));
                }
            }
        }
        for &(client, consent, exo) in &plans {
            if matches!(consent, Consent::Admin | Consent::Both(_)) {
                let mut scopes: Vec<&str> = catalog::SIGN_IN_SCOPES.to_vec();
                let n = rng.random_range(1..=4);
                scopes.extend(all_scopes.choose_multiple(&mut rng, n).copied());
                let scope = self.scope_string(&mut rng, &scopes);
                self.push_grant(client, graph, None, scope);
                if exo {
                    self.push_grant(client, exchange, None, "EWS.AccessAsUser.All".to_owned());
                }
            }
            let p = match consent {
                Consent::Users(p) | Consent::Both(p) => p,
                Consent::Admin | Consent::None => 0.0,
            };
            let forced: Vec<usize> = ensured
                .iter()
                .filter(|(c, _)| *c == client)
                .map(|(_, u)| *u)
                .collect();
            if p <= 0.0 && forced.is_empty() {
                continue;
            }
            // The app asks every user for the same scopes (the consent prompt).
            let mut asked: Vec<&str> = catalog::SIGN_IN_SCOPES.to_vec();
            let n = rng.random_range(0..=3);
            asked.extend(user_scopes.choose_multiple(&mut rng, n).copied());
            for u in 0..users {
                if !(forced.contains(&u) || (p > 0.0 && rng.random_bool(p))) {
                    continue;
                }
                // Older consents lack the newer scopes.
                let mut scopes = asked.clone();
                if scopes.len() > 4 && rng.random_bool(0.2) {
                    scopes.pop();
                }
                let scope = self.scope_string(&mut rng, &scopes);
                self.push_grant(client, graph, Some(u), scope);
                if exo {
                    self.push_grant(client, exchange, Some(u), "EWS.AccessAsUser.All".to_owned());
                }
            }
        }
        // The listing order is Entra's, not creation order.
        self.model.grants.shuffle(&mut rng);

        // Application permissions.
        let auditor = self.find(&self.model.auditor_app_id.clone());
        for role in catalog::AUDITOR_ROLES {
            self.assign_named(&mut rng, auditor, graph, role);
        }
        let vendor_apps: Vec<usize> = (0..self.model.sps.len())
            .filter(|&i| self.model.sps[i].vendor.is_some_and(|v| v > 0))
            .collect();
        for client in vendor_apps {
            if rng.random_bool(0.45) {
                let n = rng.random_range(1..=4);
                let picks: Vec<&str> = catalog::GRAPH_APP_ROLES
                    .choose_multiple(&mut rng, n)
                    .map(|(_, v)| *v)
                    .collect();
                for role in picks {
                    self.assign_named(&mut rng, client, graph, role);
                }
            }
            if rng.random_bool(0.15) {
                self.assign_named(&mut rng, client, exchange, "full_access_as_app");
            }
            if rng.random_bool(0.1) {
                self.assign_named(&mut rng, client, sharepoint, "Sites.Read.All");
            }
        }
        let etl = self.find_name("acme-billing-etl");
        let api = self.find_name("acme-internal-api");
        self.assign_named(&mut rng, etl, graph, "Mail.Read");
        self.assign_named(&mut rng, etl, api, "Reports.Read");
        self.assign(
            &mut rng,
            Holder::App(etl),
            graph,
            RETIRED_ROLE_ID.to_owned(),
        );
        let purview = self.find_name("Azure Purview");
        self.assign_named(&mut rng, purview, graph, "Directory.Read.All");
        let insights = self.find_name("Microsoft Insights Connector (preview)");
        self.assign_named(&mut rng, insights, graph, "AuditLog.Read.All");
        // Users assigned to the internal API: access to it, not permissions.
        let admin_role = self.model.sps[api].roles[1].id.clone();
        for u in 0..users.min(5) {
            let role = if u % 2 == 0 {
                admin_role.clone()
            } else {
                DEFAULT_ACCESS.to_owned()
            };
            self.assign(&mut rng, Holder::User(u), api, role);
        }
    }

    /// A `scope` string the way Entra stores them: usually single spaces, sometimes
    /// padded or with a scope repeated.
    fn scope_string(&self, rng: &mut StdRng, scopes: &[&str]) -> String {
        let mut s = scopes.join(" ");
        match rng.random_range(0..10) {
            0 => s = format!(" {s} "),
            1 => s = s.replacen(' ', "  ", 1),
            2 => {
                if let Some(first) = scopes.first() {
                    s = format!("{s} {first}");
                }
            }
            _ => {}
        }
        s
    }

    fn push_grant(
        &mut self,
        client: usize,
        resource: usize,
        principal: Option<usize>,
        scope: String,
    ) {
        // Entra's ids are the GUID bytes of client, resource (and user), base64url.
        let mut bytes = guid_bytes(&self.model.sps[client].id);
        bytes.extend(guid_bytes(&self.model.sps[resource].id));
        if let Some(u) = principal {
            bytes.extend(guid_bytes(&self.model.users[u].id));
        }
        self.model.grants.push(PermissionGrant {
            id: URL_SAFE_NO_PAD.encode(bytes),
            client,
            resource,
            principal,
            scope,
        });
    }

    fn assign_named(&mut self, rng: &mut StdRng, client: usize, resource: usize, value: &str) {
        let id = self.model.sps[resource]
            .roles
            .iter()
            .find(|r| r.value == value)
            .map(|r| r.id.clone());
        if let Some(id) = id {
            self.assign(rng, Holder::App(client), resource, id);
        }
    }

    fn assign(&mut self, rng: &mut StdRng, holder: Holder, resource: usize, role_id: String) {
        let principal_id = match holder {
            Holder::App(c) => self.model.sps[c].id.clone(),
            Holder::User(u) => self.model.users[u].id.clone(),
        };
        let exists = self
            .model
            .assignments
            .iter()
            .any(|a| a.holder == holder && a.resource == resource && a.role_id == role_id);
        if exists {
            return;
        }
        // Entra's ids start with the principal's GUID bytes.
        let mut bytes = guid_bytes(&principal_id);
        bytes.extend(rng.random::<[u8; 16]>());
        let epoch = self.world.epoch;
        self.model.assignments.push(Assignment {
            id: URL_SAFE_NO_PAD.encode(bytes),
            holder,
            resource,
            role_id,
            created: rng.random_range(epoch - HISTORY..epoch - DAY),
            ticks: rng.random_range(0..10_000_000),
        });
    }

    /// Sign-in activity: most apps have an entry; Microsoft's too (ignored by the
    /// connector, which only looks up the apps it reports).
    fn sign_ins(&mut self) {
        let mut rng = rng_for(self.world.seed, "microsoft-entra-sign-ins");
        let epoch = self.world.epoch;
        let delegated: HashSet<usize> = self.model.grants.iter().map(|g| g.client).collect();
        let app_only: HashSet<usize> = self
            .model
            .assignments
            .iter()
            .filter_map(|a| match a.holder {
                Holder::App(c) => Some(c),
                Holder::User(_) => None,
            })
            .collect();
        for (i, s) in self.model.sps.iter_mut().enumerate() {
            if !rng.random_bool(0.85) {
                continue;
            }
            let when = |has: bool, rng: &mut StdRng| {
                (has && rng.random_bool(0.8)).then(|| rng.random_range(epoch - 90 * DAY..epoch))
            };
            let d = when(delegated.contains(&i), &mut rng);
            let a = when(app_only.contains(&i), &mut rng);
            if d.is_some() || a.is_some() {
                s.sign_ins = Some(SignIns {
                    delegated: d,
                    app_only: a,
                });
            }
        }
    }
}

/// The report entry's `id`: base64 of the appId string.
pub(crate) fn sign_in_id(app_id: &str) -> String {
    STANDARD.encode(app_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(m: &Model) -> Vec<TruthGrant> {
        let mut out = Vec::new();
        m.truth(&mut out);
        out
    }

    #[test]
    fn generation_is_deterministic() {
        let w = World::new(11, 400);
        let a = truth(&Model::generate(&w));
        let b = truth(&Model::generate(&w));
        assert_eq!(a, b);
        assert_ne!(a, truth(&Model::generate(&World::new(12, 400))));
        let ids: HashSet<&str> = a.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids.len(), a.len(), "truth ids are unique");
    }

    #[test]
    fn every_vendor_holds_a_grant_and_microsoft_apps_are_left_out() {
        for seed in [1, 7, 11, 12345] {
            let w = World::new(seed, 20);
            let m = Model::generate(&w);
            let t = truth(&m);
            for v in &w.vendors {
                assert!(
                    t.iter().any(|g| g.vendor.as_deref() == Some(v.name)),
                    "seed {seed}: {} has no grant",
                    v.name
                );
            }
            assert!(t.iter().any(|g| g.vendor.is_none()), "internal apps");
            let microsoft: HashSet<&str> = m
                .sps
                .iter()
                .filter(|s| s.first_party)
                .map(|s| s.app_id.as_str())
                .collect();
            assert!(t.iter().all(|g| !microsoft.contains(g.app.id.as_str())));
            // ...while Microsoft's apps do hold grants the connector must skip.
            assert!(m.grants.iter().any(|g| m.sps[g.client].first_party));
            assert!(m.assignments.iter().any(|a| match a.holder {
                Holder::App(c) => m.sps[c].first_party,
                Holder::User(_) => false,
            }));
        }
    }

    #[test]
    fn the_issue_world_has_every_kind_and_two_pages_of_grants() {
        let w = World::new(11, 400);
        let m = Model::generate(&w);
        let t = truth(&m);
        for kind in ["delegated", "admin_consent", "application"] {
            assert!(t.iter().any(|g| g.kind == kind), "{kind}");
        }
        assert!(m.grants.len() > 999, "{} grants", m.grants.len());
        assert!(
            t.iter().any(|g| g.scopes == [RETIRED_ROLE_ID]),
            "an unresolvable role"
        );
        assert!(m.sps.iter().any(|s| !s.enabled && s.vendor.is_some()));
        assert!(
            t.iter().any(|g| g.last_used_at.is_some())
                && t.iter().any(|g| g.last_used_at.is_none())
        );
        assert_eq!(graph_time(0, 1_843_225), "1970-01-01T00:00:00.1843225Z");
    }
}
