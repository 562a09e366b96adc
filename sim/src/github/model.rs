//! GitHub's side of the synthetic world: vendor apps, orgs and their grants, generated
//! from the seed, and the mapping of that state to ground truth.
//!
//! The truth mapping follows `connectors/github/README.md` exactly: a test checks set
//! equality between what the connector finds and what [`GithubState::truth`] says.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use super::catalog;
use crate::truth::{TruthApp, TruthGrant, TruthPrincipal};
use crate::world::{self, AUDITOR_VENDOR, DAY, HISTORY, Stamp, Vendor, World};

/// The auditor app's numeric id (what `write_config` hands to the host).
pub(crate) const AUDITOR_APP_ID: u64 = 900_001;
/// The auditor app's slug.
const AUDITOR_SLUG: &str = "grantscope-auditor";
/// Provider id used in truth ids and revocation stats.
pub(crate) const PROVIDER: &str = "github";

/// (permission, level) pairs, sorted by permission name.
pub(crate) type Permissions = Vec<(&'static str, &'static str)>;

/// Hands out unique random ids within a range.
#[derive(Debug, Default)]
pub(crate) struct IdPool {
    used: HashSet<u64>,
}

impl IdPool {
    /// A fresh id in `range` never returned before.
    fn fresh(&mut self, rng: &mut StdRng, range: std::ops::RangeInclusive<u64>) -> u64 {
        loop {
            let id = rng.random_range(range.clone());
            if id != AUDITOR_APP_ID && self.used.insert(id) {
                return id;
            }
        }
    }
}

/// A vendor's GitHub identities.
#[derive(Clone, Debug)]
pub(crate) struct VendorApps {
    /// GitHub Apps the vendor publishes.
    pub apps: Vec<GithubApp>,
    /// The vendor's OAuth app, if it has one. GitHub never names it to an org auditor.
    pub oauth_app: Option<OAuthApp>,
}

/// A GitHub App as registered by its vendor.
#[derive(Clone, Debug)]
pub(crate) struct GithubApp {
    pub app_id: u64,
    pub slug: String,
    pub client_id: String,
    pub permissions: Permissions,
    pub events: Vec<&'static str>,
    /// `all` or `selected`.
    pub repository_selection: &'static str,
}

/// An OAuth app; only its scopes matter to the org-level view.
#[derive(Clone, Debug)]
pub(crate) struct OAuthApp {
    #[allow(
        dead_code,
        reason = "kept for the vendor-side endpoints a later issue adds"
    )]
    pub client_id: String,
    pub scopes: Vec<&'static str>,
}

impl VendorApps {
    /// The auditor vendor's identities: just the auditor app.
    pub(crate) fn auditor(rng: &mut StdRng) -> Self {
        Self {
            apps: vec![auditor_app(rng)],
            oauth_app: None,
        }
    }

    /// A third-party vendor's apps: zero to two GitHub Apps, maybe an OAuth app.
    pub(crate) fn generate(rng: &mut StdRng, ids: &mut IdPool, vendor: &str) -> Self {
        let count = match rng.random_range(0..4) {
            0 => 0,
            1 | 2 => 1,
            _ => 2,
        };
        let apps = (0..count)
            .map(|i| github_app(rng, ids, vendor, i))
            .collect();
        let oauth_app = rng.random_bool(0.5).then(|| oauth_app(rng));
        Self { apps, oauth_app }
    }

    /// Guarantees at least one third-party GitHub App and one OAuth app, so every
    /// credential type has an owner whatever the seed.
    pub(crate) fn ensure_variety(vendors: &mut [Vendor], rng: &mut StdRng, ids: &mut IdPool) {
        if !vendors.iter().skip(1).any(|v| !v.github.apps.is_empty())
            && let Some(v) = vendors.get_mut(1)
        {
            v.github.apps.push(github_app(rng, ids, v.name, 0));
        }
        if !vendors.iter().any(|v| v.github.oauth_app.is_some())
            && let Some(v) = vendors.get_mut(2)
        {
            v.github.oauth_app = Some(oauth_app(rng));
        }
    }
}

/// The auditor's own app, with the permissions API.md says an auditor needs.
fn auditor_app(rng: &mut StdRng) -> GithubApp {
    GithubApp {
        app_id: AUDITOR_APP_ID,
        slug: AUDITOR_SLUG.to_owned(),
        client_id: format!("Iv23li{}", world::alphanumeric(rng, 14)),
        permissions: vec![
            ("members", "read"),
            ("metadata", "read"),
            ("organization_administration", "write"),
            ("organization_personal_access_token_requests", "read"),
            ("organization_personal_access_tokens", "write"),
        ],
        events: vec!["organization"],
        repository_selection: "all",
    }
}

fn github_app(rng: &mut StdRng, ids: &mut IdPool, vendor: &str, index: usize) -> GithubApp {
    let base: String = vendor
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    let slug = match index {
        0 => base,
        _ => format!(
            "{base}-{}",
            ["sync", "ci", "bot", "insights"]
                .choose(rng)
                .unwrap_or(&"bot")
        ),
    };
    let mut permissions = pick_permissions(rng, catalog::APP_PERMISSIONS, 2..=6);
    permissions.push(("metadata", "read"));
    permissions.sort_unstable();
    let n_events = rng.random_range(1..=4);
    let mut events: Vec<&'static str> = catalog::EVENTS
        .choose_multiple(rng, n_events)
        .copied()
        .collect();
    events.sort_unstable();
    GithubApp {
        app_id: ids.fresh(rng, 100_000..=899_999),
        slug,
        client_id: format!("Iv23li{}", world::alphanumeric(rng, 14)),
        permissions,
        events,
        repository_selection: if rng.random_bool(0.5) {
            "all"
        } else {
            "selected"
        },
    }
}

fn oauth_app(rng: &mut StdRng) -> OAuthApp {
    let n = rng.random_range(1..=3);
    OAuthApp {
        client_id: format!("Ov23li{}", world::alphanumeric(rng, 14)),
        scopes: catalog::OAUTH_SCOPES
            .choose_multiple(rng, n)
            .copied()
            .collect(),
    }
}

/// `count` distinct permissions from `table`, each at a random allowed level, sorted.
fn pick_permissions(
    rng: &mut StdRng,
    table: &[(&'static str, &'static [&'static str])],
    count: std::ops::RangeInclusive<usize>,
) -> Permissions {
    let n = rng.random_range(count);
    let mut out: Permissions = table
        .choose_multiple(rng, n)
        .map(|(name, levels)| (*name, *levels.choose(rng).unwrap_or(&"read")))
        .collect();
    out.sort_unstable();
    out
}

/// The whole GitHub state: orgs plus issued installation tokens.
#[derive(Debug)]
pub(crate) struct GithubState {
    pub orgs: Vec<Org>,
    /// Installation tokens by token string.
    pub tokens: HashMap<String, IssuedToken>,
    /// Salt for values derived from ids (token suffixes, fingerprints).
    pub seed: u64,
    /// The world's "now": `token_expired` is judged against it.
    pub epoch: i64,
    /// The auditor app's client id (accepted as JWT `iss`).
    pub auditor_client_id: String,
    /// The auditor app (served by `GET /orgs/{org}/installation`).
    pub auditor: GithubApp,
}

/// An installation token the simulator minted.
#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    /// Index into [`GithubState::orgs`].
    pub org: usize,
    pub installation_id: u64,
    /// Wall-clock expiry, Unix seconds.
    pub expires_at: i64,
}

/// One organization (tenant).
#[derive(Debug)]
pub(crate) struct Org {
    pub login: String,
    pub id: u64,
    pub repos: Vec<Repo>,
    pub installations: Vec<Installation>,
    /// Sorted by `credential_id` (binary search on revoke).
    pub credentials: Vec<Credential>,
    /// Sorted by id; ids were assigned in `access_granted_at` order.
    pub pat_grants: Vec<FineGrained>,
    /// Pending requests; not grants. Sorted by id.
    pub pat_requests: Vec<FineGrained>,
    pub auditor_installation: u64,
}

/// A repository of an org.
#[derive(Debug)]
pub(crate) struct Repo {
    pub id: u64,
    pub name: String,
    pub private: bool,
    pub created: Stamp,
    pub pushed: Stamp,
}

/// A GitHub App installed on an org.
#[derive(Debug)]
pub(crate) struct Installation {
    pub id: u64,
    pub app: GithubApp,
    pub vendor: &'static str,
    pub created: Stamp,
    pub updated: Stamp,
    /// When and by which member (user index) the installation was suspended.
    pub suspended: Option<(Stamp, u32)>,
}

/// The four credential types of SAML SSO authorizations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CredKind {
    Pat,
    Ssh,
    OAuth,
    GithubApp,
}

impl CredKind {
    /// GitHub's human-readable `credential_type`.
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Self::Pat => "personal access token",
            Self::Ssh => "SSH key",
            Self::OAuth => "OAuth app token",
            Self::GithubApp => "GitHub app token",
        }
    }

    /// (grant kind, app id, app name) per the connector README.
    pub(crate) fn truth_app(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Pat => (
                "personal_token",
                "personal-access-token",
                "Classic personal access token",
            ),
            Self::Ssh => ("api_key", "ssh-key", "SSH key"),
            Self::OAuth => (
                "delegated",
                "unidentified-oauth-app",
                "OAuth app (GitHub does not name it)",
            ),
            Self::GithubApp => (
                "delegated",
                "unidentified-github-app",
                "GitHub App user token (GitHub does not name the app)",
            ),
        }
    }
}

/// A SAML SSO credential authorization.
#[derive(Debug)]
pub(crate) struct Credential {
    pub credential_id: u64,
    pub user: u32,
    pub kind: CredKind,
    pub authorized_at: Stamp,
    pub accessed_at: Option<Stamp>,
    pub authorized_credential_id: u64,
    /// Never set for SSH keys (GitHub omits the field).
    pub expires_at: Option<Stamp>,
    pub scopes: Vec<&'static str>,
    /// The vendor whose app holds the token (OAuth / GitHub App tokens only).
    pub vendor: Option<&'static str>,
}

/// Which repositories a fine-grained token reaches.
#[derive(Debug)]
pub(crate) enum Selection {
    All,
    /// Indices into [`Org::repos`].
    Subset(Vec<usize>),
    None,
}

impl Selection {
    pub(crate) fn api_name(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Subset(_) => "subset",
            Self::None => "none",
        }
    }
}

/// An approved fine-grained PAT grant, or a pending request (`reason` set).
#[derive(Debug)]
pub(crate) struct FineGrained {
    pub id: u64,
    pub user: u32,
    pub token_id: u64,
    pub token_name: &'static str,
    pub selection: Selection,
    pub org_perms: Permissions,
    pub repo_perms: Permissions,
    /// `access_granted_at` for grants, `created_at` for requests.
    pub at: Stamp,
    pub expires_at: Option<Stamp>,
    pub last_used_at: Option<Stamp>,
    /// Requests only; `Some(None)` is a request without a reason.
    pub reason: Option<Option<&'static str>>,
}

/// Sequential ids with random gaps, shared across orgs so ids are globally unique.
struct Seq(u64);

impl Seq {
    fn next(&mut self, rng: &mut StdRng) -> u64 {
        self.0 += rng.random_range(1..=9);
        self.0
    }
}

impl GithubState {
    /// Builds both orgs from the world. Pure in (seed, users).
    pub(crate) fn generate(world: &World) -> Self {
        let users = world.users;
        let specs: [(&str, Vec<u32>, f64); 2] = [
            ("acme-corp", (0..users).collect(), 0.6),
            (
                "acme-labs",
                (0..(users / 4).max(1)).map(|i| i * 4).collect(),
                0.35,
            ),
        ];
        // The world always puts the auditor first; rebuilding it is only a fallback.
        let auditor = world
            .vendors
            .first()
            .and_then(|v| v.github.apps.first())
            .cloned();
        let auditor =
            auditor.unwrap_or_else(|| auditor_app(&mut world::rng_for(world.seed, "vendors")));
        let mut ids = Ids {
            pool: IdPool::default(),
            credential: Seq(160_000),
            authorized_credential: Seq(12_000_000),
            pat: Seq(25_000),
            token: Seq(98_000),
            repo: Seq(1_296_000),
        };
        let orgs = specs
            .into_iter()
            .map(|(login, members, install_p)| {
                let mut rng = world::rng_for(world.seed, login);
                generate_org(
                    world, &auditor, &mut rng, &mut ids, login, &members, install_p,
                )
            })
            .collect();
        Self {
            orgs,
            tokens: HashMap::new(),
            seed: world.seed,
            epoch: world.epoch,
            auditor_client_id: auditor.client_id.clone(),
            auditor,
        }
    }

    /// Index of the org with this login (case-insensitive, like GitHub).
    pub(crate) fn org_index(&self, login: &str) -> Option<usize> {
        self.orgs
            .iter()
            .position(|o| o.login.eq_ignore_ascii_case(login))
    }

    /// Ground truth of the current state, per the connector README mapping.
    pub(crate) fn truth(&self, out: &mut Vec<TruthGrant>) {
        for org in &self.orgs {
            let grant = |local: String, app: (&str, &str), principal: (&str, String)| TruthGrant {
                id: format!("{PROVIDER}/{}/{local}", org.login),
                provider: PROVIDER.to_owned(),
                tenant: org.login.clone(),
                app: TruthApp {
                    id: app.0.to_owned(),
                    name: app.1.to_owned(),
                },
                principal: TruthPrincipal {
                    kind: principal.0.to_owned(),
                    id: principal.1,
                },
                kind: String::new(),
                scopes: Vec::new(),
                created_at: None,
                last_used_at: None,
                vendor: None,
            };
            for inst in &org.installations {
                let app_id = inst.app.app_id.to_string();
                out.push(TruthGrant {
                    kind: "installation".to_owned(),
                    scopes: flatten(&[&inst.app.permissions]),
                    created_at: Some(inst.created.rfc3339()),
                    vendor: Some(inst.vendor.to_owned()),
                    ..grant(
                        format!("installation:{}", inst.id),
                        (&app_id, &inst.app.slug),
                        ("tenant", org.login.clone()),
                    )
                });
            }
            for c in &org.credentials {
                let (kind, app_id, app_name) = c.kind.truth_app();
                out.push(TruthGrant {
                    kind: kind.to_owned(),
                    // Normalized records carry scopes sorted and without repeats.
                    scopes: {
                        let mut s: Vec<String> = c.scopes.iter().map(|s| (*s).to_owned()).collect();
                        s.sort();
                        s.dedup();
                        s
                    },
                    created_at: Some(c.authorized_at.rfc3339()),
                    last_used_at: c.accessed_at.map(Stamp::rfc3339),
                    vendor: c.vendor.map(str::to_owned),
                    ..grant(
                        format!("credential-authorization:{}", c.credential_id),
                        (app_id, app_name),
                        ("user", World::login(c.user)),
                    )
                });
            }
            for g in &org.pat_grants {
                out.push(TruthGrant {
                    kind: "personal_token".to_owned(),
                    scopes: flatten(&[&g.org_perms, &g.repo_perms]),
                    created_at: Some(g.at.rfc3339()),
                    last_used_at: g.last_used_at.map(Stamp::rfc3339),
                    ..grant(
                        format!("pat-grant:{}", g.id),
                        ("fine-grained-pat", "Fine-grained personal access token"),
                        ("user", World::login(g.user)),
                    )
                });
            }
        }
    }
}

/// `{name}:{level}` for every entry, sorted.
pub(crate) fn flatten(maps: &[&Permissions]) -> Vec<String> {
    let mut out: Vec<String> = maps
        .iter()
        .flat_map(|m| m.iter())
        .map(|(n, l)| format!("{n}:{l}"))
        .collect();
    out.sort_unstable();
    out
}

/// Every id source of one world, shared across orgs so ids are globally unique.
struct Ids {
    pool: IdPool,
    credential: Seq,
    authorized_credential: Seq,
    pat: Seq,
    token: Seq,
    repo: Seq,
}

fn generate_org(
    world: &World,
    auditor: &GithubApp,
    rng: &mut StdRng,
    ids: &mut Ids,
    login: &str,
    members: &[u32],
    install_p: f64,
) -> Org {
    let now = world.epoch;
    let start = now - HISTORY;
    let pick_member = |rng: &mut StdRng| members.choose(rng).copied().unwrap_or(0);

    // Repositories: enough for subset grants to vary, capped for huge tenants.
    let repo_count = (8 + members.len() / 20).min(300);
    let repos = (0..repo_count)
        .map(|i| {
            let stem = catalog::REPO_STEMS[i % catalog::REPO_STEMS.len()];
            let name = match i / catalog::REPO_STEMS.len() {
                0 => stem.to_owned(),
                n => format!("{stem}-{}", n + 1),
            };
            let created = Stamp::between(rng, start - HISTORY, now - 30 * DAY);
            Repo {
                id: ids.repo.next(rng),
                name,
                private: rng.random_bool(0.8),
                created,
                pushed: Stamp::between(rng, created.unix, now),
            }
        })
        .collect();

    // Installations: the auditor, then a random subset of third-party apps.
    let mut installations = Vec::new();
    let auditor_installation = ids.pool.fresh(rng, 10_000_000..=99_999_999);
    let created = Stamp::between(rng, now - 30 * DAY, now - DAY);
    installations.push(Installation {
        id: auditor_installation,
        app: auditor.clone(),
        vendor: AUDITOR_VENDOR,
        created,
        updated: created,
        suspended: None,
    });
    let third_party: Vec<(&'static str, &GithubApp)> = world
        .vendors
        .iter()
        .skip(1)
        .flat_map(|v| v.github.apps.iter().map(move |a| (v.name, a)))
        .collect();
    for (i, (vendor, app)) in third_party.iter().enumerate() {
        // At least one third-party installation per org, whatever the dice say.
        let last_chance = i + 1 == third_party.len() && installations.len() == 1;
        if !last_chance && !rng.random_bool(install_p) {
            continue;
        }
        let created = Stamp::between(rng, start, now - 7 * DAY);
        let updated = Stamp::between(rng, created.unix, now);
        let suspended = rng
            .random_bool(0.15)
            .then(|| (Stamp::between(rng, updated.unix, now), pick_member(rng)));
        installations.push(Installation {
            id: ids.pool.fresh(rng, 10_000_000..=99_999_999),
            app: (*app).clone(),
            vendor,
            created,
            updated,
            suspended,
        });
    }
    // Every org shows at least one suspended installation: connectors must keep them.
    if installations.iter().all(|i| i.suspended.is_none())
        && let Some(last) = installations
            .last_mut()
            .filter(|i| i.app.app_id != AUDITOR_APP_ID)
    {
        last.suspended = Some((
            Stamp::between(rng, last.updated.unix, now),
            pick_member(rng),
        ));
    }
    installations.sort_by_key(|i| i.id);

    // Credential authorizations: zero to three per member.
    let oauth_vendors: Vec<&Vendor> = world
        .vendors
        .iter()
        .filter(|v| v.github.oauth_app.is_some())
        .collect();
    let app_vendors: Vec<&Vendor> = world
        .vendors
        .iter()
        .skip(1)
        .filter(|v| !v.github.apps.is_empty())
        .collect();
    let mut credentials = Vec::new();
    for &user in members {
        let count = match rng.random_range(0..10) {
            0..=3 => 0,
            4..=6 => 1,
            7 | 8 => 2,
            _ => 3,
        };
        for _ in 0..count {
            let kind = match rng.random_range(0..20) {
                0..=6 => CredKind::Pat,
                7..=11 => CredKind::Ssh,
                12..=16 => CredKind::OAuth,
                _ => CredKind::GithubApp,
            };
            let (vendor, scopes): (Option<&Vendor>, Vec<&'static str>) = match kind {
                CredKind::Pat => {
                    let n = rng.random_range(1..=4);
                    (
                        None,
                        catalog::OAUTH_SCOPES
                            .choose_multiple(rng, n)
                            .copied()
                            .collect(),
                    )
                }
                CredKind::Ssh => (None, Vec::new()),
                CredKind::OAuth => {
                    let v = oauth_vendors.choose(rng).copied();
                    let scopes = v
                        .and_then(|v| v.github.oauth_app.as_ref())
                        .map(|a| a.scopes.clone())
                        .unwrap_or_default();
                    (v, scopes)
                }
                CredKind::GithubApp => (app_vendors.choose(rng).copied(), Vec::new()),
            };
            let authorized_at = Stamp::between(rng, start, now - DAY);
            let accessed_at = rng
                .random_bool(0.8)
                .then(|| Stamp::between(rng, authorized_at.unix, now));
            let expires_at = match kind {
                CredKind::Ssh => None,
                _ if rng.random_bool(0.35) => None,
                _ => {
                    let days = [7, 30, 60, 90, 365].choose(rng).copied().unwrap_or(30);
                    Some(Stamp::styled(rng, authorized_at.unix + days * DAY))
                }
            };
            credentials.push(Credential {
                credential_id: ids.credential.next(rng),
                user,
                kind,
                authorized_at,
                accessed_at,
                authorized_credential_id: ids.authorized_credential.next(rng),
                expires_at,
                scopes,
                vendor: vendor.map(|v| v.name),
            });
        }
    }

    // Fine-grained PAT grants (~20% of members) and pending requests (~5%).
    let mut grants = Vec::new();
    let mut requests = Vec::new();
    for &user in members {
        let roll = rng.random_range(0..100);
        let n = match roll {
            0..=17 => 1,
            18..=19 => 2,
            _ => 0,
        };
        for _ in 0..n {
            grants.push(fine_grained(rng, ids, user, repo_count, now, None));
        }
        if rng.random_range(0..100) < 5 {
            let reason = Some(
                catalog::REQUEST_REASONS
                    .choose(rng)
                    .copied()
                    .filter(|_| rng.random_bool(0.8)),
            );
            requests.push(fine_grained(rng, ids, user, repo_count, now, reason));
        }
    }
    // Ids follow approval time, as on GitHub, so `direction` sorting is a reversal.
    for list in [&mut grants, &mut requests] {
        list.sort_by_key(|g| g.at.unix);
        for g in list.iter_mut() {
            g.id = ids.pat.next(rng);
        }
    }

    Org {
        login: login.to_owned(),
        id: ids.pool.fresh(rng, 6_000_000..=9_999_999),
        repos,
        installations,
        credentials,
        pat_grants: grants,
        pat_requests: requests,
        auditor_installation,
    }
}

fn fine_grained(
    rng: &mut StdRng,
    ids: &mut Ids,
    user: u32,
    repo_count: usize,
    now: i64,
    reason: Option<Option<&'static str>>,
) -> FineGrained {
    let selection = match rng.random_range(0..20) {
        0..=5 => Selection::All,
        6..=16 => {
            let n = rng.random_range(1..=5).min(repo_count);
            let mut picked = rand::seq::index::sample(rng, repo_count, n).into_vec();
            picked.sort_unstable();
            Selection::Subset(picked)
        }
        _ => Selection::None,
    };
    let mut repo_perms = Permissions::new();
    if !matches!(selection, Selection::None) {
        repo_perms = pick_permissions(rng, catalog::PAT_REPOSITORY_PERMISSIONS, 1..=4);
        repo_perms.push(("metadata", "read"));
        repo_perms.sort_unstable();
    }
    let mut org_perms = pick_permissions(rng, catalog::PAT_ORGANIZATION_PERMISSIONS, 0..=2);
    if org_perms.is_empty() && repo_perms.is_empty() {
        org_perms.push(("members", "read"));
    }
    let at = Stamp::between(rng, now - HISTORY, now - DAY);
    let expires_at = rng.random_bool(0.85).then(|| {
        let days = [7, 30, 60, 90, 366].choose(rng).copied().unwrap_or(30);
        Stamp::styled(rng, at.unix + days * DAY)
    });
    let last_used_end = expires_at.map_or(now, |e| e.unix.min(now));
    let last_used_at = rng
        .random_bool(0.75)
        .then(|| Stamp::between(rng, at.unix, last_used_end));
    FineGrained {
        id: 0,
        user,
        token_id: ids.token.next(rng),
        token_name: catalog::TOKEN_NAMES.choose(rng).copied().unwrap_or("token"),
        selection,
        org_perms,
        repo_perms,
        at,
        expires_at,
        last_used_at,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_sorted() {
        let state = GithubState::generate(&World::new(7, 400));
        let mut creds = HashSet::new();
        for org in &state.orgs {
            assert!(
                org.credentials
                    .windows(2)
                    .all(|w| w[0].credential_id < w[1].credential_id)
            );
            assert!(org.pat_grants.windows(2).all(|w| w[0].id < w[1].id));
            assert!(
                org.pat_grants
                    .windows(2)
                    .all(|w| w[0].at.unix <= w[1].at.unix)
            );
            for c in &org.credentials {
                assert!(creds.insert(c.credential_id));
                if matches!(c.kind, CredKind::Ssh | CredKind::GithubApp) {
                    assert!(c.scopes.is_empty());
                }
                assert_eq!(
                    c.kind == CredKind::Ssh,
                    c.expires_at.is_none() && c.kind == CredKind::Ssh
                );
            }
            assert!(
                org.installations
                    .iter()
                    .any(|i| i.app.app_id == AUDITOR_APP_ID)
            );
            assert!(org.installations.len() >= 2);
        }
        assert_eq!(state.orgs[1].login, "acme-labs");
    }

    #[test]
    fn flatten_sorts_across_maps() {
        let a: Permissions = vec![("members", "read")];
        let b: Permissions = vec![("contents", "write"), ("metadata", "read")];
        assert_eq!(
            flatten(&[&a, &b]),
            ["contents:write", "members:read", "metadata:read"]
        );
    }
}
