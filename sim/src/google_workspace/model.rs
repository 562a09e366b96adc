//! Google Workspace's side of the synthetic world: one customer (`acme-workspace`), its
//! users, the OAuth tokens they granted, their app-specific passwords and the token audit
//! log the Reports API serves, generated from the seed; and the mapping of that state to
//! ground truth.
//!
//! The truth mapping follows `connectors/google-workspace/README.md` exactly: a token grant
//! is one user x one OAuth client, its times come from the audit log's `authorize` and
//! `activity` events inside the 180-day window (the only events the simulator keeps, as
//! Google keeps no more), and an app-specific password is an `api_key` grant.

use std::collections::HashMap;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{self, DAY, HISTORY, Stamp, World};

/// Provider id used in truth ids and revocation stats.
pub(crate) const PROVIDER: &str = "google-workspace";
/// The one simulated customer.
pub(crate) const TENANT: &str = "acme-workspace";
/// Its primary (and only) domain.
pub(crate) const DOMAIN: &str = "acme-workspace.example";
/// How far back the Reports API keeps token audit events.
pub(crate) const WINDOW: i64 = 180 * DAY;
/// The Google APIs Explorer, a Google first-party client that shows up in token lists.
const APIS_EXPLORER: &str = "292824132082.apps.googleusercontent.com";
/// Users with more than one page (1000) of audit events, so paging is exercised.
const HEAVY_USERS: &[u32] = &[3, 57, 150, 260, 333];

const OPENID: &str = "openid";
const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// An OAuth client as users see it at consent.
#[derive(Clone, Debug)]
pub(crate) struct App {
    pub client_id: String,
    pub name: String,
    /// The synthetic vendor's name, `None` for Google's own, internal and unknown apps.
    pub vendor: Option<&'static str>,
    pub native: bool,
    pub anonymous: bool,
    /// The Reports API's `client_type`.
    pub client_type: &'static str,
    /// Scopes every grant to the app holds.
    pub scopes: Vec<&'static str>,
    /// Scopes some users add by incremental consent.
    pub extra: Vec<&'static str>,
    /// Relative popularity.
    pub weight: u32,
}

/// One person in the customer.
#[derive(Clone, Debug)]
pub(crate) struct User {
    /// Numeric user id (`userKey` on tokens).
    pub id: String,
    pub email: String,
    pub given: String,
    pub family: String,
    pub is_admin: bool,
    pub delegated_admin: bool,
    pub suspended: bool,
    pub archived: bool,
    pub org_unit: &'static str,
    pub created: i64,
    pub last_login: Option<i64>,
    pub two_sv: bool,
    pub tokens: Vec<Token>,
    pub asps: Vec<Asp>,
    /// Token audit events about this user, newest first.
    pub events: Vec<Event>,
}

/// One OAuth grant: the user authorised `app` for `scopes`.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// Index into [`Model::apps`].
    pub app: usize,
    /// Sorted, no duplicates.
    pub scopes: Vec<&'static str>,
}

/// An app-specific password.
#[derive(Clone, Debug)]
pub(crate) struct Asp {
    pub code_id: i32,
    pub name: &'static str,
    /// Epoch milliseconds.
    pub created_ms: i64,
    /// Epoch milliseconds; 0 = never used.
    pub last_used_ms: i64,
}

/// What a token audit event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    Authorize,
    Activity,
    Revoke,
}

impl EventKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            EventKind::Authorize => "authorize",
            EventKind::Activity => "activity",
            EventKind::Revoke => "revoke",
        }
    }
}

/// One token audit event (`applicationName=token`).
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Unix seconds.
    pub time: i64,
    pub millis: u32,
    pub unique: i64,
    pub kind: EventKind,
    /// Index into [`Model::apps`].
    pub app: usize,
    pub ip: String,
    /// Scopes of an authorize or revoke event.
    pub scopes: Vec<&'static str>,
    /// (api_name, method_name, product_bucket, bytes) of an activity event.
    pub call: Option<(&'static str, &'static str, &'static str, u32)>,
}

/// The simulated customer.
#[derive(Debug)]
pub(crate) struct Model {
    /// The world's "now".
    pub epoch: i64,
    /// `C0…`, the real id behind `my_customer`.
    pub customer_id: String,
    pub apps: Vec<App>,
    pub users: Vec<User>,
    /// Lower-cased email and numeric id → index into `users`.
    index: HashMap<String, usize>,
}

/// (name, scopes, extra scopes, native client type or `None` for web).
type Profile = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
);

/// One app profile per synthetic vendor (index 1..=11), in `world::VENDORS` order; a
/// second, native app for some of them.
const VENDOR_APPS: &[(usize, Profile)] = &[
    (
        1,
        (
            "Driftwood Chat",
            &[
                OPENID,
                EMAIL,
                PROFILE,
                "https://www.googleapis.com/auth/calendar.readonly",
                "https://www.googleapis.com/auth/contacts.readonly",
            ],
            &["https://www.googleapis.com/auth/chat.messages"],
            None,
        ),
    ),
    (
        1,
        (
            "Driftwood Chat for iOS",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/contacts.readonly",
            ],
            &[],
            Some("NATIVE_IOS"),
        ),
    ),
    (
        2,
        (
            "Quillstack Docs",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/drive",
                "https://www.googleapis.com/auth/documents",
            ],
            &["https://www.googleapis.com/auth/spreadsheets"],
            None,
        ),
    ),
    (
        3,
        (
            "Beaconly CI",
            &[
                OPENID,
                EMAIL,
                PROFILE,
                "https://www.googleapis.com/auth/cloud-platform",
            ],
            &[],
            None,
        ),
    ),
    (
        4,
        (
            "Nimbusforge Deploy",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/cloud-platform",
                "https://www.googleapis.com/auth/admin.directory.user.readonly",
            ],
            &["https://www.googleapis.com/auth/admin.directory.group.readonly"],
            None,
        ),
    ),
    (
        5,
        (
            "Latticeworks Metrics",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/spreadsheets.readonly",
                "https://www.googleapis.com/auth/drive.file",
            ],
            &[],
            None,
        ),
    ),
    (
        6,
        (
            "Orchardline CRM",
            &[
                OPENID,
                EMAIL,
                PROFILE,
                "https://mail.google.com/",
                "https://www.googleapis.com/auth/calendar",
                "https://www.googleapis.com/auth/contacts",
            ],
            &["https://www.googleapis.com/auth/gmail.settings.basic"],
            None,
        ),
    ),
    (
        6,
        (
            "Orchardline CRM Mobile",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/gmail.readonly",
            ],
            &[],
            Some("NATIVE_ANDROID"),
        ),
    ),
    (
        7,
        (
            "Sentryfold Security",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/admin.directory.user.readonly",
                "https://www.googleapis.com/auth/admin.reports.audit.readonly",
                "https://www.googleapis.com/auth/gmail.metadata",
            ],
            &[],
            None,
        ),
    ),
    (
        8,
        (
            "Tidewater Analytics",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/analytics.readonly",
                "https://www.googleapis.com/auth/drive.readonly",
            ],
            &[],
            None,
        ),
    ),
    (
        9,
        (
            "Corvidae Review",
            &[
                OPENID,
                EMAIL,
                PROFILE,
                "https://www.googleapis.com/auth/drive.file",
            ],
            &["https://www.googleapis.com/auth/documents.readonly"],
            None,
        ),
    ),
    (
        10,
        (
            "Keystone Vaultworks",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/drive.appdata",
            ],
            &[],
            Some("NATIVE_DESKTOP"),
        ),
    ),
    (
        11,
        (
            "Mosaicly Planning",
            &[
                OPENID,
                EMAIL,
                "https://www.googleapis.com/auth/calendar.events",
                "https://www.googleapis.com/auth/tasks",
            ],
            &["https://www.googleapis.com/auth/drive.file"],
            None,
        ),
    ),
];

/// Apps no vendor stands behind: internal tools, an unknown web app, a legacy anonymous
/// client. (The Google APIs Explorer is added separately with its real client id.)
const OTHER_APPS: &[Profile] = &[
    (
        "Acme Expense Reports",
        &[
            OPENID,
            EMAIL,
            "https://www.googleapis.com/auth/drive.file",
            "https://www.googleapis.com/auth/spreadsheets",
        ],
        &[],
        None,
    ),
    (
        "PDF Docs Sync",
        &[
            OPENID,
            EMAIL,
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/drive",
            "https://www.googleapis.com/auth/contacts.readonly",
        ],
        &[],
        None,
    ),
    (
        "Mail Merge for iOS",
        &[
            "https://www.googleapis.com/auth/gmail.send",
            "https://www.googleapis.com/auth/spreadsheets.readonly",
        ],
        &[],
        Some("NATIVE_IOS"),
    ),
    (
        "Legacy Calendar Sync",
        &["https://www.google.com/calendar/feeds"],
        &[],
        None,
    ),
];

const ASP_NAMES: &[&str] = &[
    "Thunderbird laptop",
    "old printer scan-to-mail",
    "Apple Mail",
    "Outlook 2016",
    "CalDAV on phone",
];

const ORG_UNITS: &[&str] = &["/", "/Engineering", "/Sales", "/Finance", "/Support", "/IT"];

const FAMILY_NAMES: &[&str] = &[
    "Friedman",
    "Patel",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Haddad",
    "Nguyen",
];

/// (api_name, method_name, product_bucket) of synthetic API calls.
const CALLS: &[(&str, &str, &str)] = &[
    ("gmail", "gmail.users.messages.list", "GMAIL"),
    ("drive", "drive.files.list", "DRIVE"),
    ("calendar", "calendar.events.list", "CALENDAR"),
    ("people", "people.people.connections.list", "CONTACTS"),
];

impl Model {
    /// Builds the customer from the world (deterministic in seed and user count).
    pub(crate) fn generate(world: &World) -> Self {
        let mut rng = world::rng_for(world.seed, "google-workspace-apps");
        let apps = generate_apps(&mut rng, world);
        let customer_id = format!(
            "C0{}",
            world::alphanumeric(&mut rng, 7).to_ascii_lowercase()
        );
        let id_prefix: u32 = rng.random_range(100_000..1_000_000);

        let mut rng = world::rng_for(world.seed, "google-workspace-users");
        let epoch = world.epoch;
        let vendor_first: Vec<usize> = (1..=11)
            .filter_map(|v| {
                let name = world.vendors.get(v)?.name;
                apps.iter().position(|a| a.vendor == Some(name))
            })
            .collect();
        let weights: Vec<u32> = apps.iter().map(|a| a.weight).collect();
        let mut users = Vec::with_capacity(world.users as usize);
        for i in 0..world.users {
            let login = World::login(i);
            let mut user = User {
                id: format!("1{id_prefix:06}{:014}", u64::from(i) * 7_919 + 104_729),
                email: format!("{login}@{DOMAIN}"),
                given: capitalise(login.split('-').next().unwrap_or("user")),
                family: (*FAMILY_NAMES.choose(&mut rng).unwrap_or(&"Smith")).to_owned(),
                // The first person is the super admin the auditor impersonates.
                is_admin: i == 0,
                delegated_admin: i != 0 && rng.random_bool(0.02),
                suspended: i != 0 && rng.random_bool(0.03),
                archived: i != 0 && rng.random_bool(0.01),
                org_unit: ORG_UNITS.choose(&mut rng).copied().unwrap_or("/"),
                created: rng.random_range(epoch - HISTORY..epoch - 30 * DAY),
                last_login: rng
                    .random_bool(0.9)
                    .then(|| rng.random_range(epoch - 60 * DAY..epoch - 60)),
                two_sv: rng.random_bool(0.7),
                tokens: Vec::new(),
                asps: Vec::new(),
                events: Vec::new(),
            };
            // Every vendor holds a grant in this customer: user i has vendor i+1's app.
            let mut held: Vec<usize> = Vec::new();
            if let Some(&app) = vendor_first.get(i as usize) {
                held.push(app);
            }
            let n = match rng.random_range(0..100) {
                0..=24 => 0,
                25..=54 => 1,
                55..=79 => 2,
                80..=92 => 3,
                _ => 5,
            };
            for _ in 0..n {
                if let Some(app) = pick_weighted(&mut rng, &weights)
                    && !held.contains(&app)
                {
                    held.push(app);
                }
            }
            for &app in &held {
                let a = &apps[app];
                let mut scopes = a.scopes.clone();
                if !a.extra.is_empty() && rng.random_bool(0.3) {
                    scopes.extend(a.extra.iter().copied());
                }
                scopes.sort_unstable();
                scopes.dedup();
                user.tokens.push(Token { app, scopes });
            }
            if rng.random_bool(0.07) {
                let mut codes: Vec<i32> = (1..=40).collect();
                codes.shuffle(&mut rng);
                for &code_id in codes.iter().take(rng.random_range(1..=2)) {
                    let created = rng.random_range(user.created..epoch - DAY);
                    let created_ms = created * 1000 + rng.random_range(0..1000);
                    let last_used_ms = if rng.random_bool(0.6) {
                        rng.random_range(created..epoch - 60) * 1000 + rng.random_range(0..1000)
                    } else {
                        0
                    };
                    user.asps.push(Asp {
                        code_id,
                        name: ASP_NAMES.choose(&mut rng).copied().unwrap_or("Mail client"),
                        created_ms,
                        last_used_ms,
                    });
                }
            }
            generate_events(&mut rng, &apps, &mut user, epoch, HEAVY_USERS.contains(&i));
            users.push(user);
        }
        let index = users
            .iter()
            .enumerate()
            .flat_map(|(i, u)| [(u.email.to_ascii_lowercase(), i), (u.id.clone(), i)])
            .collect();
        Self {
            epoch,
            customer_id,
            apps,
            users,
            index,
        }
    }

    /// The user a `userKey` (primary email, any case, or numeric id) names.
    pub(crate) fn user_index(&self, key: &str) -> Option<usize> {
        self.index.get(&key.to_ascii_lowercase()).copied()
    }

    /// The admin the auditor's service account impersonates.
    pub(crate) fn admin(&self) -> Option<&User> {
        self.users.iter().find(|u| u.is_admin)
    }

    /// Deletes `user`'s token for `client_id`; `Some(app index)` when it existed. Google
    /// logs a `revoke` event for it.
    pub(crate) fn delete_token(&mut self, user: usize, client_id: &str) -> Option<usize> {
        let app = self.apps.iter().position(|a| a.client_id == client_id)?;
        let epoch = self.epoch;
        let u = self.users.get_mut(user)?;
        let pos = u.tokens.iter().position(|t| t.app == app)?;
        let token = u.tokens.remove(pos);
        let unique = -(i64::try_from(u.events.len()).unwrap_or(0) + 1);
        u.events.insert(
            0,
            Event {
                time: epoch,
                millis: 0,
                unique,
                kind: EventKind::Revoke,
                app,
                ip: "192.0.2.10".to_owned(),
                scopes: token.scopes,
                call: None,
            },
        );
        Some(app)
    }

    /// Deletes `user`'s app-specific password `code_id`; true when it existed.
    pub(crate) fn delete_asp(&mut self, user: usize, code_id: i32) -> bool {
        let Some(u) = self.users.get_mut(user) else {
            return false;
        };
        let before = u.asps.len();
        u.asps.retain(|a| a.code_id != code_id);
        u.asps.len() != before
    }

    /// Appends the grants a perfect connector would report for the current state.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        for u in &self.users {
            let principal = || TruthPrincipal {
                kind: "user".to_owned(),
                id: u.email.clone(),
            };
            for t in &u.tokens {
                let app = &self.apps[t.app];
                let latest = |kind: EventKind| {
                    u.events
                        .iter()
                        .filter(|e| e.app == t.app && e.kind == kind)
                        .map(|e| e.time)
                        .max()
                        .map(|s| Stamp::utc(s).rfc3339())
                };
                out.push(TruthGrant {
                    id: format!(
                        "{PROVIDER}/{TENANT}/{}",
                        token_local_id(&u.id, &app.client_id)
                    ),
                    provider: PROVIDER.to_owned(),
                    tenant: TENANT.to_owned(),
                    app: TruthApp {
                        id: app.client_id.clone(),
                        name: app.name.clone(),
                    },
                    principal: principal(),
                    kind: "delegated".to_owned(),
                    scopes: t.scopes.iter().map(|s| (*s).to_owned()).collect(),
                    created_at: latest(EventKind::Authorize),
                    last_used_at: latest(EventKind::Activity),
                    vendor: app.vendor.map(str::to_owned),
                });
            }
            for a in &u.asps {
                out.push(TruthGrant {
                    id: format!("{PROVIDER}/{TENANT}/{}", asp_local_id(&u.id, a.code_id)),
                    provider: PROVIDER.to_owned(),
                    tenant: TENANT.to_owned(),
                    app: TruthApp {
                        id: "app-specific-password".to_owned(),
                        name: "App-specific password".to_owned(),
                    },
                    principal: principal(),
                    kind: "api_key".to_owned(),
                    scopes: Vec::new(),
                    created_at: Some(Stamp::utc(a.created_ms.div_euclid(1000)).rfc3339()),
                    last_used_at: (a.last_used_ms > 0)
                        .then(|| Stamp::utc(a.last_used_ms.div_euclid(1000)).rfc3339()),
                    vendor: None,
                });
            }
        }
    }
}

/// The connector's local id of a token grant (README: `token:{userKey}:{clientId}`).
pub(crate) fn token_local_id(user_id: &str, client_id: &str) -> String {
    format!("token:{user_id}:{client_id}")
}

/// The connector's local id of an app-specific password.
pub(crate) fn asp_local_id(user_id: &str, code_id: i32) -> String {
    format!("asp:{user_id}:{code_id}")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `{project number}-{32 lowercase alphanumerics}.apps.googleusercontent.com`.
fn client_id(rng: &mut StdRng) -> String {
    let project: u64 = rng.random_range(100_000_000_000..1_000_000_000_000);
    let suffix: String = (0..32)
        .map(|_| {
            let i = rng.random_range(0..36u8);
            char::from(if i < 10 { b'0' + i } else { b'a' + i - 10 })
        })
        .collect();
    format!("{project}-{suffix}.apps.googleusercontent.com")
}

fn generate_apps(rng: &mut StdRng, world: &World) -> Vec<App> {
    let mut apps = Vec::new();
    let make = |rng: &mut StdRng, p: &Profile, vendor: Option<&'static str>, id: String| App {
        client_id: id,
        name: p.0.to_owned(),
        vendor,
        native: p.3.is_some(),
        anonymous: false,
        client_type: p.3.unwrap_or("WEB"),
        scopes: p.1.to_vec(),
        extra: p.2.to_vec(),
        weight: rng.random_range(1..=10),
    };
    for (v, p) in VENDOR_APPS {
        let id = client_id(rng);
        let vendor = world.vendors.get(*v).map(|x| x.name);
        apps.push(make(rng, p, vendor, id));
    }
    for p in OTHER_APPS {
        let legacy = p.0 == "Legacy Calendar Sync";
        let id = if legacy {
            // Old clients are a bare project number.
            format!(
                "{}.apps.googleusercontent.com",
                rng.random_range(100_000_000_000u64..1_000_000_000_000)
            )
        } else {
            client_id(rng)
        };
        let mut app = make(rng, p, None, id);
        app.anonymous = legacy;
        apps.push(app);
    }
    apps.push(App {
        client_id: APIS_EXPLORER.to_owned(),
        name: "Google APIs Explorer".to_owned(),
        vendor: None,
        native: false,
        anonymous: false,
        client_type: "WEB",
        scopes: vec![OPENID, "https://www.googleapis.com/auth/calendar"],
        extra: Vec::new(),
        weight: 2,
    });
    apps
}

fn pick_weighted(rng: &mut StdRng, weights: &[u32]) -> Option<usize> {
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return Some(i);
        }
        x -= w;
    }
    None
}

fn ip(rng: &mut StdRng) -> String {
    let net = ["203.0.113", "198.51.100", "192.0.2"]
        .choose(rng)
        .copied()
        .unwrap_or("192.0.2");
    format!("{net}.{}", rng.random_range(1..255))
}

/// The token audit log of one user, inside the 180-day window only (Google keeps no more).
fn generate_events(rng: &mut StdRng, apps: &[App], user: &mut User, epoch: i64, heavy: bool) {
    let start = epoch - WINDOW + 3600;
    let end = epoch - 3600;
    let mut events = Vec::new();
    let event = |rng: &mut StdRng, time: i64, kind: EventKind, app: usize, scopes| Event {
        time,
        millis: rng.random_range(0..1000),
        unique: rng.random(),
        kind,
        app,
        ip: ip(rng),
        scopes,
        call: (kind == EventKind::Activity).then(|| {
            let (api, method, bucket) = CALLS.choose(rng).copied().unwrap_or(CALLS[0]);
            (api, method, bucket, rng.random_range(200..200_000))
        }),
    };
    for (n, t) in user.tokens.iter().enumerate() {
        let granted = rng.random_range(epoch - 2 * 365 * DAY..end);
        let from = granted.max(start);
        if granted >= start {
            events.push(event(
                rng,
                granted,
                EventKind::Authorize,
                t.app,
                t.scopes.clone(),
            ));
        }
        if from + DAY < end && rng.random_bool(0.15) {
            // Incremental consent: a later authorize of the same client.
            let again = rng.random_range(from + 1..end);
            events.push(event(
                rng,
                again,
                EventKind::Authorize,
                t.app,
                t.scopes.clone(),
            ));
        }
        let busy = heavy && n == 0;
        if from < end && (busy || rng.random_bool(0.65)) {
            let calls = if busy {
                rng.random_range(1100..1300)
            } else {
                rng.random_range(1..=3)
            };
            for _ in 0..calls {
                let at = rng.random_range(from..end);
                events.push(event(rng, at, EventKind::Activity, t.app, Vec::new()));
            }
        }
    }
    // A client the user authorised, used and revoked again: in the log, not a grant.
    if rng.random_bool(0.1) {
        let held: Vec<usize> = user.tokens.iter().map(|t| t.app).collect();
        let others: Vec<usize> = (0..apps.len()).filter(|a| !held.contains(a)).collect();
        if let Some(&app) = others.choose(rng) {
            let scopes = apps[app].scopes.clone();
            let t1 = rng.random_range(start..end - 2 * DAY);
            let t2 = rng.random_range(t1 + 1..end);
            events.push(event(rng, t1, EventKind::Authorize, app, scopes.clone()));
            events.push(event(
                rng,
                (t1 + t2) / 2,
                EventKind::Activity,
                app,
                Vec::new(),
            ));
            events.push(event(rng, t2, EventKind::Revoke, app, scopes));
        }
    }
    events.sort_by_key(|e| std::cmp::Reverse((e.time, e.millis, e.unique)));
    user.events = events;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(seed: u64, users: u32) -> Vec<TruthGrant> {
        let mut out = Vec::new();
        Model::generate(&World::new(seed, users)).truth(&mut out);
        out
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(truth(11, 400), truth(11, 400));
        assert_ne!(truth(11, 400), truth(12, 400));
    }

    #[test]
    fn every_vendor_holds_a_grant_and_some_apps_have_none() {
        let world = World::new(11, 400);
        let grants = truth(11, 400);
        for v in world.vendors.iter().skip(1) {
            assert!(
                grants.iter().any(|g| g.vendor.as_deref() == Some(v.name)),
                "{} holds no grant",
                v.name
            );
        }
        // Small tenants too, as soon as there are 20 users.
        let small = truth(3, 20);
        for v in world.vendors.iter().skip(1) {
            assert!(small.iter().any(|g| g.vendor.as_deref() == Some(v.name)));
        }
        assert!(
            grants
                .iter()
                .any(|g| g.vendor.is_none() && g.kind == "delegated")
        );
        assert!(grants.iter().any(|g| g.kind == "api_key"));
        // The auditor is a domain-wide delegation client, which no API lists.
        assert!(
            grants
                .iter()
                .all(|g| g.vendor.as_deref() != Some("grantscope"))
        );
    }

    #[test]
    fn ids_are_unique_and_times_are_varied() {
        let grants = truth(11, 400);
        let ids: std::collections::HashSet<&str> = grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids.len(), grants.len());
        let tokens: Vec<&TruthGrant> = grants.iter().filter(|g| g.kind == "delegated").collect();
        assert!(tokens.iter().any(|g| g.created_at.is_some()));
        assert!(tokens.iter().any(|g| g.created_at.is_none()));
        assert!(tokens.iter().any(|g| g.last_used_at.is_some()));
        assert!(tokens.iter().any(|g| g.last_used_at.is_none()));
        for g in &tokens {
            let mut sorted = g.scopes.clone();
            sorted.sort();
            assert_eq!(sorted, g.scopes);
        }
    }

    #[test]
    fn heavy_users_need_two_pages_of_events() {
        let m = Model::generate(&World::new(11, 400));
        assert!(m.users.iter().any(|u| u.events.len() > 1000));
        assert!(m.users.iter().all(|u| {
            u.events
                .windows(2)
                .all(|w| (w[0].time, w[0].millis) >= (w[1].time, w[1].millis))
        }));
    }

    #[test]
    fn deleting_removes_the_grant_from_the_truth() {
        let mut m = Model::generate(&World::new(11, 50));
        let (u, client) = m
            .users
            .iter()
            .enumerate()
            .find_map(|(i, u)| {
                u.tokens
                    .first()
                    .map(|t| (i, m.apps[t.app].client_id.clone()))
            })
            .expect("some token");
        let id = token_local_id(&m.users[u].id, &client);
        let before = {
            let mut out = Vec::new();
            m.truth(&mut out);
            out
        };
        assert!(before.iter().any(|g| g.id.ends_with(&id)));
        assert!(m.delete_token(u, &client).is_some());
        assert!(m.delete_token(u, &client).is_none());
        let mut after = Vec::new();
        m.truth(&mut after);
        assert_eq!(after.len() + 1, before.len());
        assert!(!after.iter().any(|g| g.id.ends_with(&id)));
    }
}
