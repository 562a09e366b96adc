//! The synthetic Slack Enterprise Grid organisation: workspaces, apps, app
//! resolutions (approved / restricted at org and workspace level), pending requests,
//! each workspace's integration log, and the installations that log describes.
//!
//! Everything is a pure function of the world (seed, users). The installations are
//! explicit state; the integration log is generated to tell their history, and
//! revocations append to it, the way Slack records an uninstall.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{self, AUDITOR_VENDOR, DAY, HISTORY, World};

/// The provider id.
pub(crate) const PROVIDER: &str = "slack";
/// The one simulated tenant (an Enterprise Grid organisation).
pub(crate) const TENANT: &str = "acme-slack";

/// Bot scopes an app may request (real Slack scope names).
const BOT_SCOPES: &[&str] = &[
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "incoming-webhook",
    "links:read",
    "links:write",
    "reactions:read",
    "reactions:write",
    "team:read",
    "users:read",
    "users:read.email",
    "usergroups:read",
];

/// User scopes an app may request.
const USER_SCOPES: &[&str] = &[
    "channels:history",
    "channels:read",
    "chat:write",
    "files:read",
    "groups:history",
    "identity.basic",
    "im:history",
    "search:read",
    "stars:read",
    "users.profile:write",
    "users:read",
];

/// Scopes Slack flags `is_sensitive` (message content, files, search, admin).
const SENSITIVE: &[&str] = &[
    "admin",
    "admin.apps:write",
    "channels:history",
    "files:read",
    "files:write",
    "groups:history",
    "im:history",
    "search:read",
    "users:read.email",
];

/// Legacy custom integrations ("services") a workspace may carry.
const SERVICES: &[(&str, &str)] = &[
    ("Incoming WebHooks", "incoming-webhook"),
    ("Google Calendar", "incoming-webhook"),
    ("Airbrake", "incoming-webhook"),
    ("Outgoing WebHooks", "commands"),
    ("Slash Commands", "commands"),
    ("RSS", "incoming-webhook"),
];

const TEAMS: &[(&str, &str)] = &[
    ("Acme HQ", "acme-hq"),
    ("Acme Engineering", "acme-eng"),
    ("Acme Sales", "acme-sales"),
    ("Acme Support", "acme-support"),
    ("Acme Labs", "acme-labs"),
];

/// Apps without a vendor: (name, internal).
const NO_VENDOR_APPS: &[(&str, bool)] = &[
    ("Acme Standup Bot", true),
    ("Acme Deploy Notifier", true),
    ("Pixel Poll", false),
];

/// Apps that were installed once and removed everywhere (history only).
const CHURN_APPS: &[&str] = &["Gifly", "Old Sales Bot"];

const REQUEST_MESSAGES: &[&str] = &[
    "We use this for sprint planning",
    "Needed for the customer escalation channel",
    "Trial for Q3",
    "",
];

/// The Enterprise Grid organisation.
#[derive(Clone, Debug)]
pub(crate) struct Enterprise {
    pub id: String,
}

/// One workspace of the organisation.
#[derive(Clone, Debug)]
pub(crate) struct Team {
    pub id: String,
    pub name: &'static str,
    pub domain: &'static str,
    pub owner: u32,
    pub discoverability: &'static str,
}

/// A Slack app (`A…`).
#[derive(Clone, Debug)]
pub(crate) struct App {
    pub id: String,
    pub name: String,
    pub vendor: Option<&'static str>,
    pub homepage: String,
    pub description: String,
    pub directory_approved: bool,
    pub internal: bool,
    pub developer_type: Option<&'static str>,
    pub bot_scopes: Vec<&'static str>,
    pub user_scopes: Vec<&'static str>,
}

impl App {
    /// The scope string Slack writes in an integration log entry (bot then user
    /// scopes, comma-separated).
    pub(crate) fn log_scope(&self) -> String {
        let mut all: Vec<&str> = self.bot_scopes.clone();
        all.extend(self.user_scopes.iter().copied());
        all.join(",")
    }

    /// Every scope name, sorted, without repeats (a scope held as bot and as user
    /// scope appears once): the truth's normalisation.
    pub(crate) fn scope_set(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .bot_scopes
            .iter()
            .chain(self.user_scopes.iter())
            .copied()
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }
}

/// Whether a scope is flagged sensitive.
pub(crate) fn sensitive(scope: &str) -> bool {
    SENSITIVE.contains(&scope)
}

/// An app resolution (approval or restriction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Approved,
    Restricted,
}

/// An admin's decision about an app at org or workspace level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolution {
    pub status: Status,
    pub date: i64,
    pub actor: u32,
}

/// A pending install request.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub id: String,
    pub app: usize,
    pub team: usize,
    pub user: u32,
    pub message: &'static str,
    pub date: i64,
}

/// A legacy custom integration configured in one workspace.
#[derive(Clone, Debug)]
pub(crate) struct Service {
    pub id: u64,
    pub kind: &'static str,
    pub scope: &'static str,
    /// Slack serves `service_id` sometimes as a number, sometimes as a string.
    pub numeric_id: bool,
    pub channel: String,
}

/// What an installation or log entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    App(usize),
    Service(usize),
}

/// One integration log change type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Removed,
    Enabled,
    Disabled,
    Updated,
}

impl Change {
    pub(crate) fn wire(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Enabled => "enabled",
            Change::Disabled => "disabled",
            Change::Updated => "updated",
        }
    }
}

/// One integration log entry.
#[derive(Clone, Debug)]
pub(crate) struct LogEntry {
    pub key: Key,
    pub change: Change,
    pub date: i64,
    pub user: u32,
    pub scope: String,
    pub reason: Option<&'static str>,
}

/// A current installation in a workspace.
#[derive(Clone, Debug)]
pub(crate) struct Install {
    pub since: i64,
    pub scope: String,
}

/// The organisation.
#[derive(Debug)]
pub(crate) struct Model {
    pub enterprise: Enterprise,
    pub teams: Vec<Team>,
    pub apps: Vec<App>,
    pub services: Vec<Service>,
    /// Org-level resolutions by app index.
    pub org: BTreeMap<usize, Resolution>,
    /// Apps deployed at org level (uninstalled by `admin.apps.uninstall` with
    /// `enterprise_id`).
    pub org_deployed: BTreeSet<usize>,
    /// Workspace-level resolutions by (team, app).
    pub team_res: BTreeMap<(usize, usize), Resolution>,
    pub requests: Vec<Request>,
    /// Each workspace's integration log, oldest first.
    pub logs: Vec<Vec<LogEntry>>,
    /// Current installations by (team, key).
    pub installs: BTreeMap<(usize, Key), Install>,
    /// The latest log date so far; appended entries come after it.
    pub clock: i64,
    /// The person the auditor's token belongs to (an org admin).
    pub admin: u32,
    pub users: u32,
}

/// A Slack-style id: `prefix` then `n` uppercase letters and digits.
fn slack_id(rng: &mut StdRng, prefix: &str, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = prefix.to_owned();
    for _ in 0..n {
        s.push(char::from(CHARS[rng.random_range(0..CHARS.len())]));
    }
    s
}

/// A person's Slack user id (Enterprise Grid users start with `W`).
pub(crate) fn user_id(index: u32) -> String {
    format!("W0{index:08X}")
}

fn pick_scopes(rng: &mut StdRng, from: &[&'static str], n: usize) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = from.choose_multiple(rng, n).copied().collect();
    v.sort_unstable();
    v
}

impl Model {
    /// Builds the organisation from the world (deterministic in seed and user count).
    pub(crate) fn generate(world: &World) -> Self {
        let mut rng = world::rng_for(world.seed, "slack-model");
        let now = world.epoch;
        let users = world.users.max(1);
        let person = |rng: &mut StdRng| rng.random_range(0..users);

        let enterprise = Enterprise {
            id: slack_id(&mut rng, "E0", 8),
        };
        let team_count = 3 + usize::from(world.users >= 100);
        let teams: Vec<Team> = TEAMS
            .iter()
            .take(team_count)
            .map(|&(name, domain)| Team {
                id: slack_id(&mut rng, "T0", 8),
                name,
                domain,
                owner: person(&mut rng),
                discoverability: if rng.random_bool(0.7) {
                    "open"
                } else {
                    "hidden"
                },
            })
            .collect();

        // Apps: the auditor, one or two per vendor, apps without a vendor, churn.
        let mut apps = Vec::new();
        let mut app = |rng: &mut StdRng,
                       name: String,
                       vendor: Option<&'static str>,
                       domain: &str,
                       internal: bool| {
            let bot_n = rng.random_range(1..=5);
            let bot_scopes = pick_scopes(rng, BOT_SCOPES, bot_n);
            let user_scopes = if rng.random_bool(0.4) {
                let n = rng.random_range(1..=3);
                pick_scopes(rng, USER_SCOPES, n)
            } else {
                Vec::new()
            };
            let developer_type = match rng.random_range(0..3) {
                0 => None,
                _ if internal => Some("internal"),
                _ => Some("third_party"),
            };
            apps.push(App {
                id: slack_id(rng, "A0", 9),
                description: format!("{name} for Slack"),
                homepage: format!("https://{domain}/"),
                name,
                vendor,
                directory_approved: !internal && rng.random_bool(0.6),
                internal,
                developer_type,
                bot_scopes,
                user_scopes,
            });
        };
        app(
            &mut rng,
            "grantscope auditor".to_owned(),
            Some(AUDITOR_VENDOR),
            "grantscope.dev",
            false,
        );
        for (i, v) in world.vendors.iter().enumerate().skip(1) {
            app(&mut rng, v.name.to_owned(), Some(v.name), v.domain, false);
            if i % 3 == 1 {
                app(
                    &mut rng,
                    format!("{} Notifications", v.name),
                    Some(v.name),
                    v.domain,
                    false,
                );
            }
        }
        for &(name, internal) in NO_VENDOR_APPS {
            app(&mut rng, name.to_owned(), None, "example.invalid", internal);
        }
        let churn_start =
            1 + (world.vendors.len() - 1) + (world.vendors.len() + 1) / 3 + NO_VENDOR_APPS.len();
        for &name in CHURN_APPS {
            app(&mut rng, name.to_owned(), None, "example.invalid", false);
        }
        debug_assert_eq!(churn_start + CHURN_APPS.len(), apps.len());
        // The auditor holds admin user scopes and no bot.
        if let Some(a) = apps.first_mut() {
            a.bot_scopes = Vec::new();
            a.user_scopes = vec![
                "admin",
                "admin.apps:read",
                "admin.apps:write",
                "admin.teams:read",
            ];
            a.developer_type = Some("third_party");
        }

        let admin = person(&mut rng);
        let mut model = Model {
            enterprise,
            teams,
            apps,
            services: Vec::new(),
            org: BTreeMap::new(),
            org_deployed: BTreeSet::new(),
            team_res: BTreeMap::new(),
            requests: Vec::new(),
            logs: Vec::new(),
            installs: BTreeMap::new(),
            clock: now,
            admin,
            users,
        };
        model.logs = vec![Vec::new(); model.teams.len()];
        let start = now - HISTORY;
        let team_n = model.teams.len();

        // Org-level resolutions.
        let resolution = |rng: &mut StdRng, status| Resolution {
            status,
            date: rng.random_range(start..now - DAY),
            actor: rng.random_range(0..users),
        };
        model.org.insert(0, resolution(&mut rng, Status::Approved));
        model.org_deployed.insert(0);
        for a in 1..churn_start {
            if rng.random_bool(0.3) {
                model.org.insert(a, resolution(&mut rng, Status::Approved));
                model.org_deployed.insert(a);
            }
        }
        for a in churn_start..model.apps.len() {
            model
                .org
                .insert(a, resolution(&mut rng, Status::Restricted));
        }

        // Installations with their history, per workspace.
        for a in 1..churn_start {
            let mut teams_of: Vec<usize> = (0..team_n).filter(|_| rng.random_bool(0.45)).collect();
            if teams_of.is_empty() && !model.org.contains_key(&a) {
                teams_of.push(a % team_n);
            }
            for t in teams_of {
                model.history(&mut rng, t, Key::App(a), start, now);
                if rng.random_bool(0.6) {
                    model
                        .team_res
                        .insert((t, a), resolution(&mut rng, Status::Approved));
                }
            }
        }
        // Churn: installed once, removed, restricted in the workspace.
        for a in churn_start..model.apps.len() {
            let t = a % team_n;
            let scope = model.apps[a].log_scope();
            let added = rng.random_range(start..now - 200 * DAY);
            let removed = rng.random_range(added + DAY..now - 100 * DAY);
            let (u1, u2) = (person(&mut rng), person(&mut rng));
            model.logs[t].push(entry(Key::App(a), Change::Added, added, u1, &scope, None));
            model.logs[t].push(entry(
                Key::App(a),
                Change::Removed,
                removed,
                u2,
                "",
                Some("user"),
            ));
            model
                .team_res
                .insert((t, a), resolution(&mut rng, Status::Restricted));
        }
        // One vendor app stays installed although restricted org-wide: restricting
        // alone leaves installs in place.
        if let Some(&(_, Key::App(a))) = model
            .installs
            .keys()
            .find(|(_, k)| matches!(k, Key::App(a) if *a > 0 && !model.org.contains_key(a)))
        {
            let r = resolution(&mut rng, Status::Restricted);
            model.org.insert(a, r);
        }

        // Legacy custom integrations: up to two per workspace, one removed.
        for t in 0..team_n {
            let n = rng.random_range(0..=2);
            for j in 0..n {
                let &(kind, scope) = SERVICES.choose(&mut rng).unwrap_or(&SERVICES[0]);
                let s = model.services.len();
                model.services.push(Service {
                    id: rng.random_range(1_000_000_000..9_999_999_999),
                    kind,
                    scope,
                    numeric_id: rng.random_bool(0.5),
                    channel: slack_id(&mut rng, "C0", 9),
                });
                if j == 1 && rng.random_bool(0.5) {
                    let added = rng.random_range(start..now - 100 * DAY);
                    let u = person(&mut rng);
                    model.logs[t].push(entry(
                        Key::Service(s),
                        Change::Added,
                        added,
                        u,
                        scope,
                        None,
                    ));
                    model.logs[t].push(entry(
                        Key::Service(s),
                        Change::Removed,
                        added + 5 * DAY,
                        u,
                        scope,
                        Some("user"),
                    ));
                } else {
                    model.history(&mut rng, t, Key::Service(s), start, now);
                }
            }
        }

        // Pending requests, about one per 150 people per workspace.
        let requestable: Vec<usize> = (1..churn_start).collect();
        for t in 0..team_n {
            let n = 1 + world.users as usize / 150;
            for _ in 0..n {
                let Some(&a) = requestable.choose(&mut rng) else {
                    break;
                };
                if model.installs.contains_key(&(t, Key::App(a))) {
                    continue;
                }
                let id = slack_id(&mut rng, "Ar0", 8);
                let user = person(&mut rng);
                let message = REQUEST_MESSAGES.choose(&mut rng).copied().unwrap_or("");
                let date = rng.random_range(now - 60 * DAY..now);
                model.requests.push(Request {
                    id,
                    app: a,
                    team: t,
                    user,
                    message,
                    date,
                });
            }
        }

        for log in &mut model.logs {
            log.sort_by_key(|e| e.date);
        }
        model.clock = model
            .logs
            .iter()
            .flatten()
            .map(|e| e.date)
            .max()
            .unwrap_or(now)
            .max(now);
        model
    }

    /// Writes the history of one installation that is current today: maybe an
    /// earlier install that was removed, then `added`, maybe scope `updated`s, and for
    /// services maybe `disabled`/`enabled`.
    fn history(&mut self, rng: &mut StdRng, t: usize, key: Key, start: i64, now: i64) {
        let users = self.users;
        let scope = match key {
            Key::App(a) => self.apps[a].log_scope(),
            Key::Service(s) => self.services[s].scope.to_owned(),
        };
        let log = &mut self.logs[t];
        let mut at = rng.random_range(start..now - 60 * DAY);
        if rng.random_bool(0.2) {
            let u = rng.random_range(0..users);
            log.push(entry(key, Change::Added, at, u, &scope, None));
            at += rng.random_range(DAY..20 * DAY);
            log.push(entry(key, Change::Removed, at, u, "", Some("user")));
            at += rng.random_range(DAY..20 * DAY);
        }
        let since = at;
        let installer = rng.random_range(0..users);
        // An app added with fewer scopes and widened later.
        let first_scope = match key {
            Key::App(_) if rng.random_bool(0.3) && scope.contains(',') => {
                scope.split(',').next().unwrap_or_default().to_owned()
            }
            _ => scope.clone(),
        };
        log.push(entry(
            key,
            Change::Added,
            since,
            installer,
            &first_scope,
            None,
        ));
        if first_scope != scope {
            at += rng.random_range(DAY..30 * DAY);
            let u = rng.random_range(0..users);
            log.push(entry(key, Change::Updated, at, u, &scope, None));
        }
        if matches!(key, Key::Service(_)) && rng.random_bool(0.3) {
            at += rng.random_range(DAY..10 * DAY);
            log.push(entry(
                key,
                Change::Disabled,
                at,
                installer,
                &scope,
                Some("user"),
            ));
            if rng.random_bool(0.5) {
                at += rng.random_range(DAY..10 * DAY);
                log.push(entry(key, Change::Enabled, at, installer, &scope, None));
            }
        }
        self.installs.insert((t, key), Install { since, scope });
    }

    /// The app with this id.
    pub(crate) fn app_index(&self, id: &str) -> Option<usize> {
        self.apps.iter().position(|a| a.id == id)
    }

    /// The workspace with this id.
    pub(crate) fn team_index(&self, id: &str) -> Option<usize> {
        self.teams.iter().position(|t| t.id == id)
    }

    fn append(&mut self, t: usize, key: Key) {
        self.clock += 1;
        let e = entry(key, Change::Removed, self.clock, self.admin, "", None);
        self.logs[t].push(e);
    }

    /// `admin.apps.uninstall` with `team_ids`: removes the app from those
    /// workspaces; true when it was installed in at least one.
    pub(crate) fn uninstall_teams(&mut self, app: usize, teams: &[usize]) -> bool {
        let mut any = false;
        for &t in teams {
            if self.installs.remove(&(t, Key::App(app))).is_some() {
                self.append(t, Key::App(app));
                any = true;
            }
        }
        any
    }

    /// `admin.apps.uninstall` with `enterprise_id`: removes the app from every
    /// workspace and the org; true when anything was removed.
    pub(crate) fn uninstall_everywhere(&mut self, app: usize) -> bool {
        let teams: Vec<usize> = (0..self.teams.len()).collect();
        let any = self.uninstall_teams(app, &teams);
        self.org_deployed.remove(&app) || any
    }

    /// `admin.apps.restrict` with `enterprise_id`: the org resolution becomes a
    /// restriction, which voids workspace approvals. Installations stay.
    pub(crate) fn restrict_org(&mut self, app: usize, now: i64) {
        let actor = self.admin;
        self.org.insert(
            app,
            Resolution {
                status: Status::Restricted,
                date: now,
                actor,
            },
        );
        self.team_res
            .retain(|&(_, a), r| a != app || r.status != Status::Approved);
        self.requests.retain(|r| r.app != app);
    }

    /// `admin.apps.restrict` with `team_id`.
    pub(crate) fn restrict_team(&mut self, app: usize, team: usize, now: i64) {
        let actor = self.admin;
        self.team_res.insert(
            (team, app),
            Resolution {
                status: Status::Restricted,
                date: now,
                actor,
            },
        );
        self.requests.retain(|r| r.app != app || r.team != team);
    }

    /// The grant id (local) of an app's installation in a workspace.
    pub(crate) fn installation_id(&self, t: usize, app: usize) -> String {
        format!("installation:{}:{}", self.teams[t].id, self.apps[app].id)
    }

    /// The grant id (local) of an app's org-level approval.
    pub(crate) fn org_approval_id(&self, app: usize) -> String {
        format!("org-approval:{}", self.apps[app].id)
    }

    /// Ground truth of the current state, per the connector README mapping.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        let grant = |local: String,
                     app: (String, String),
                     principal: String,
                     kind: &str,
                     scopes: Vec<String>,
                     created: i64,
                     vendor: Option<&str>| TruthGrant {
            id: format!("{PROVIDER}/{TENANT}/{local}"),
            provider: PROVIDER.to_owned(),
            tenant: TENANT.to_owned(),
            app: TruthApp {
                id: app.0,
                name: app.1,
            },
            principal: TruthPrincipal {
                kind: "tenant".to_owned(),
                id: principal,
            },
            kind: kind.to_owned(),
            scopes,
            created_at: Some(world::Stamp::utc(created).rfc3339()),
            last_used_at: None,
            vendor: vendor.map(str::to_owned),
        };
        for (&a, r) in &self.org {
            if r.status != Status::Approved {
                continue;
            }
            let app = &self.apps[a];
            out.push(grant(
                self.org_approval_id(a),
                (app.id.clone(), app.name.clone()),
                self.enterprise.id.clone(),
                "admin_consent",
                app.scope_set(),
                r.date,
                app.vendor,
            ));
        }
        for (&(t, key), inst) in &self.installs {
            let team = self.teams[t].id.clone();
            let scopes = split_scopes(&inst.scope);
            match key {
                Key::App(a) => {
                    let app = &self.apps[a];
                    out.push(grant(
                        self.installation_id(t, a),
                        (app.id.clone(), app.name.clone()),
                        team,
                        "installation",
                        scopes,
                        inst.since,
                        app.vendor,
                    ));
                }
                Key::Service(s) => {
                    let svc = &self.services[s];
                    out.push(grant(
                        format!("service:{team}:{}", svc.id),
                        (format!("service-{}", svc.id), svc.kind.to_owned()),
                        team,
                        "installation",
                        scopes,
                        inst.since,
                        None,
                    ));
                }
            }
        }
    }
}

fn entry(
    key: Key,
    change: Change,
    date: i64,
    user: u32,
    scope: &str,
    reason: Option<&'static str>,
) -> LogEntry {
    LogEntry {
        key,
        change,
        date,
        user,
        scope: scope.to_owned(),
        reason,
    }
}

/// A comma-separated scope string as a sorted set.
pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    let set: BTreeSet<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let w = World::new(12, 400);
        let (a, b) = (Model::generate(&w), Model::generate(&w));
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        a.truth(&mut ta);
        b.truth(&mut tb);
        assert_eq!(ta, tb);
        assert_eq!(format!("{:?}", a.logs), format!("{:?}", b.logs));
        let mut tc = Vec::new();
        Model::generate(&World::new(13, 400)).truth(&mut tc);
        assert_ne!(ta, tc);
    }

    #[test]
    fn every_vendor_holds_a_grant() {
        for (seed, users) in [(12, 400), (7, 20), (1, 50), (99, 1000)] {
            let w = World::new(seed, users);
            let m = Model::generate(&w);
            let mut truth = Vec::new();
            m.truth(&mut truth);
            for v in &w.vendors {
                assert!(
                    truth.iter().any(|g| g.vendor.as_deref() == Some(v.name)),
                    "seed {seed}: vendor {} has no grant",
                    v.name
                );
            }
            assert!(truth.iter().any(|g| g.vendor.is_none()));
            assert!(truth.iter().any(|g| g.kind == "admin_consent"));
            assert!(truth.iter().any(|g| g.id.contains("/service:")));
            let ids: BTreeSet<&str> = truth.iter().map(|g| g.id.as_str()).collect();
            assert_eq!(ids.len(), truth.len(), "unique ids");
            // Some vendor app is restricted org-wide yet still installed.
            assert!(m.org.iter().any(|(&a, r)| r.status == Status::Restricted
                && m.installs.keys().any(|(_, k)| *k == Key::App(a))));
        }
    }

    #[test]
    fn uninstall_and_restrict_change_the_truth() {
        let w = World::new(12, 400);
        let mut m = Model::generate(&w);
        let (&(t, key), _) = m
            .installs
            .iter()
            .find(|(_, _)| true)
            .unwrap_or_else(|| panic!("no installation"));
        let Key::App(a) = key else {
            panic!("first install is an app")
        };
        assert!(m.uninstall_teams(a, &[t]));
        assert!(!m.uninstall_teams(a, &[t]));
        m.restrict_org(a, m.clock);
        let mut truth = Vec::new();
        m.truth(&mut truth);
        let gone = format!("{PROVIDER}/{TENANT}/{}", m.installation_id(t, a));
        assert!(truth.iter().all(|g| g.id != gone));
        let org = format!("{PROVIDER}/{TENANT}/{}", m.org_approval_id(a));
        assert!(truth.iter().all(|g| g.id != org));
    }
}
