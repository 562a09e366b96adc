//! The scorer as it was before scores became compact (issue 13, part 6): every
//! factor's sentence built as a `String` while scoring. Kept, for tests only, as the
//! reference the compact scorer's rendered output must equal byte for byte
//! (`score::tests::equivalence`), so a change to a sentence cannot slip in unnoticed.
//! Do not change it; it is the old behaviour by definition.

#![allow(dead_code, reason = "only what the equivalence tests call is used")]
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::{Access, Catalog, CatalogEntry, Domain};
use crate::model::{Factor, GrantKind, GrantRecord, PrincipalKind, Score};
use crate::plural;

use super::controls::*;
use super::{
    Aggregate, CAPABILITY, Context, FACTORS, GroupBy, PERSISTENCE, PRIVILEGE, Policy, REACH,
    STALENESS, TRUST, UNCLASSIFIED, VendorStatus, Vendors,
};

/// Scores grants against a catalog and a policy at a fixed time.
#[derive(Debug, Clone, Copy)]
pub struct RefScorer<'a> {
    catalog: &'a Catalog,
    policy: &'a Policy,
    now: OffsetDateTime,
}

/// A catalog entry with the provider it belongs to.
#[derive(Debug, Clone, Copy)]
struct Pick<'a> {
    provider: &'a str,
    entry: &'a CatalogEntry,
    /// Listed by the grant itself rather than implied by another scope; sentences
    /// prefer to name what the grant lists.
    direct: bool,
}

impl<'a> Pick<'a> {
    /// Tie-break among equally ranked entries: the smallest name, so the choice does
    /// not depend on scope order or grant order.
    fn name_key(&self) -> (&'a str, &'a str, &'a str) {
        (self.provider, &self.entry.scope, &self.entry.kind)
    }
}

/// Keeps the higher-ranked of `slot` and `cand`.
fn keep<'a, K: Ord>(slot: &mut Option<Pick<'a>>, cand: Pick<'a>, rank: impl Fn(&Pick<'a>) -> K) {
    let replace = match slot {
        None => true,
        Some(cur) => match rank(&cand).cmp(&rank(cur)) {
            Ordering::Greater => true,
            Ordering::Equal => cand.name_key() < cur.name_key(),
            Ordering::Less => false,
        },
    };
    if replace {
        *slot = Some(cand);
    }
}

/// What the scopes of a grant (or a group) reach.
#[derive(Debug, Default)]
struct Reached<'a, 'g> {
    /// The most sensitive entry.
    top: Option<Pick<'a>>,
    /// Counted domains (see [`counts`]).
    domains: u32,
    /// The entry with the highest access.
    max_access: Option<Pick<'a>>,
    /// An azure-tiering Tier-1 entry.
    tier1: Option<Pick<'a>>,
    /// A Tier-0 entry.
    admin_path: Option<Pick<'a>>,
    /// An entry granting offline access.
    offline: Option<Pick<'a>>,
    /// A grant listed no scopes at all.
    no_scopes: bool,
    /// Unknown (provider, scope) pairs.
    unknown: BTreeSet<(&'g str, &'g str)>,
    /// Providers with no catalog at all.
    uncatalogued: BTreeSet<&'g str>,
}

/// Whether an entry widens reach: sign-in basics and trivial scopes do not.
fn counts(e: &CatalogEntry) -> bool {
    e.domain != Domain::Basic && e.sensitivity >= 2
}

impl<'a, 'g> Reached<'a, 'g> {
    fn add(&mut self, p: Pick<'a>) {
        let e = p.entry;
        if counts(e) {
            self.domains |= e.domain.bit();
        }
        let by_sensitivity = |p: &Pick<'a>| (p.entry.sensitivity, p.entry.access, p.direct);
        keep(&mut self.top, p, by_sensitivity);
        keep(&mut self.max_access, p, |p| {
            (p.entry.access, p.entry.sensitivity, p.direct)
        });
        if e.azure_tier == Some(1) {
            keep(&mut self.tier1, p, by_sensitivity);
        }
        if e.admin_path {
            keep(&mut self.admin_path, p, by_sensitivity);
        }
        if e.offline {
            // Name the scope the grant lists, not the one it implies.
            keep(&mut self.offline, p, |p| (p.direct, p.entry.sensitivity));
        }
    }

    fn merge(&mut self, other: Reached<'a, 'g>) {
        for p in [
            other.top,
            other.max_access,
            other.tier1,
            other.admin_path,
            other.offline,
        ]
        .into_iter()
        .flatten()
        {
            self.add(p);
        }
        self.domains |= other.domains;
        self.no_scopes |= other.no_scopes;
        self.unknown.extend(other.unknown);
        self.uncatalogued.extend(other.uncatalogued);
    }
}

/// A factor computed whole for one grant; groups keep their worst.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    points: u32,
    detail: String,
    controls: &'static [&'static str],
}

impl Part {
    /// Keeps the worse of two: more points, then the smaller sentence (order-free).
    fn worst(self, other: Part) -> Part {
        match self.points.cmp(&other.points) {
            Ordering::Greater => self,
            Ordering::Less => other,
            Ordering::Equal if other.detail < self.detail => other,
            Ordering::Equal => self,
        }
    }
}

/// How a grant reaches the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReachClass {
    points: u32,
    what: &'static str,
}

/// One grant, digested.
#[derive(Debug)]
struct View<'a, 'g> {
    reached: Reached<'a, 'g>,
    reach: ReachClass,
    persistence: Part,
    staleness: Part,
    trust: Part,
}

fn pts(p: u32) -> i32 {
    i32::try_from(p).unwrap_or(i32::MAX)
}

fn factor(id: &str, points: u32, detail: String, controls: &[&str]) -> Factor {
    Factor {
        factor: id.to_owned(),
        points: pts(points),
        detail,
        controls: controls.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary, marked when cut. Provider
/// strings reach sentences; a hostile one must not make them huge.
fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// A grant's timestamps, parsed once (`None`: absent or not RFC 3339).
#[derive(Debug, Clone, Copy)]
struct Times {
    expires: Option<OffsetDateTime>,
    last_used: Option<OffsetDateTime>,
    created: Option<OffsetDateTime>,
}

fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    s.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

fn attribute<'g>(grant: &'g GrantRecord, key: &str) -> Option<&'g str> {
    grant
        .attributes
        .get(key)
        .or_else(|| grant.app.attributes.get(key))
        .map(String::as_str)
}

/// Personal credentials: a person's own token or key, not an app's grant.
fn is_personal(kind: GrantKind) -> bool {
    matches!(kind, GrantKind::PersonalToken | GrantKind::ApiKey)
}

fn kind_name(kind: GrantKind) -> &'static str {
    match kind {
        GrantKind::Delegated => "delegated grant",
        GrantKind::AdminConsent => "admin-consent grant",
        GrantKind::Application => "application grant",
        GrantKind::Installation => "installation",
        GrantKind::PersonalToken => "personal token",
        GrantKind::ApiKey => "key",
    }
}

/// `a` or `an` before one of [`kind_name`]'s names.
fn article(what: &str) -> &'static str {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn domain_list(bits: u32) -> Vec<Domain> {
    Domain::ALL
        .into_iter()
        .filter(|d| bits & d.bit() != 0)
        .collect()
}

impl<'a> RefScorer<'a> {
    /// A scorer for `catalog` and `policy` as of `now`.
    pub fn new(catalog: &'a Catalog, policy: &'a Policy, now: OffsetDateTime) -> Self {
        RefScorer {
            catalog,
            policy,
            now,
        }
    }

    /// Scores one grant.
    pub fn score(&self, grant: &GrantRecord, ctx: &Context<'_>) -> Score {
        let view = self.view(grant, ctx);
        let principals = ctx.principals_sharing_app.max(1);
        self.assemble(
            &view.reached,
            &view.reach,
            principals,
            1,
            [view.persistence, view.staleness, view.trust],
        )
    }

    /// Scores every grant, working out the sharing counts from `grants` themselves and
    /// each grant's vendor facts from `vendors` by `GrantRecord::vendor`. The scores are
    /// in the order of `grants`.
    pub fn score_all(&self, grants: &[GrantRecord], vendors: &Vendors) -> Vec<Score> {
        let sharing = self.sharing_counts(grants);
        grants
            .iter()
            .zip(sharing)
            .map(|(g, principals_sharing_app)| {
                let ctx = Context {
                    principals_sharing_app,
                    vendor: g.vendor.as_ref().and_then(|v| vendors.get(v)),
                };
                self.score(g, &ctx)
            })
            .collect()
    }

    /// Scores groups of grants as the union of what they reach: data domains and the
    /// highest sensitivity and privilege across all providers, the widest reach, the
    /// distinct principals and tenants, and the worst persistence, staleness and trust.
    /// Rows come highest value first, then by key.
    pub fn aggregate_by(
        &self,
        group: GroupBy,
        grants: &[GrantRecord],
        vendors: &Vendors,
    ) -> Vec<Aggregate> {
        struct Acc<'a, 'g> {
            name: &'g str,
            grants: usize,
            reached: Reached<'a, 'g>,
            reach: Option<ReachClass>,
            parts: [Option<Part>; 3],
            providers: BTreeSet<&'g str>,
            tenants: HashSet<(&'g str, &'g str)>,
            principals: HashSet<(&'g str, &'g str, &'g str)>,
        }
        // Borrowed keys: the row key is formatted once per group, not once per grant.
        let mut groups: HashMap<(&str, &str, &str), Acc<'a, '_>> = HashMap::new();
        for g in grants {
            let key = match group {
                GroupBy::App => (g.provider.as_str(), g.tenant.as_str(), g.app.id.as_str()),
                GroupBy::Vendor => (g.vendor.as_deref().unwrap_or(""), "", ""),
            };
            let name: &str = match group {
                GroupBy::App => &g.app.name,
                GroupBy::Vendor => g.vendor.as_deref().unwrap_or("(no vendor)"),
            };
            let ctx = Context {
                principals_sharing_app: 1,
                vendor: g.vendor.as_ref().and_then(|v| vendors.get(v)),
            };
            let view = self.view(g, &ctx);
            let acc = groups.entry(key).or_insert_with(|| Acc {
                name,
                grants: 0,
                reached: Reached::default(),
                reach: None,
                parts: [None, None, None],
                providers: BTreeSet::new(),
                tenants: HashSet::new(),
                principals: HashSet::new(),
            });
            // Names may differ between grants of one app; keep the smallest so the row
            // does not depend on input order.
            acc.name = acc.name.min(name);
            acc.grants += 1;
            acc.reached.merge(view.reached);
            acc.reach = Some(match acc.reach.take() {
                Some(r) if (r.points, r.what) >= (view.reach.points, view.reach.what) => r,
                _ => view.reach,
            });
            for (slot, part) in
                acc.parts
                    .iter_mut()
                    .zip([view.persistence, view.staleness, view.trust])
            {
                *slot = Some(match slot.take() {
                    Some(cur) => cur.worst(part),
                    None => part,
                });
            }
            acc.providers.insert(g.provider.as_str());
            acc.tenants.insert((g.provider.as_str(), g.tenant.as_str()));
            acc.principals.insert((
                g.provider.as_str(),
                g.tenant.as_str(),
                g.principal.id.as_str(),
            ));
        }
        let mut rows: Vec<Aggregate> = groups
            .into_iter()
            .map(|(key, acc)| {
                let key = match group {
                    GroupBy::App => format!("{}/{}/{}", key.0, key.1, key.2),
                    GroupBy::Vendor => key.0.to_owned(),
                };
                let domains = domain_list(acc.reached.domains);
                let max_access = acc.reached.max_access.map(|p| p.entry.access);
                let admin_path = acc.reached.admin_path.is_some();
                let reach = acc.reach.unwrap_or(ReachClass {
                    points: 0,
                    what: "",
                });
                // Every group has at least one grant, so every part is set.
                let parts = acc.parts.map(|p| {
                    p.unwrap_or(Part {
                        points: 0,
                        detail: String::new(),
                        controls: &[],
                    })
                });
                let score = self.assemble(
                    &acc.reached,
                    &reach,
                    acc.principals.len() as u64,
                    acc.tenants.len() as u64,
                    parts,
                );
                Aggregate {
                    key,
                    name: acc.name.to_owned(),
                    grants: acc.grants,
                    providers: acc.providers.iter().map(|p| (*p).to_owned()).collect(),
                    tenants: acc.tenants.len(),
                    principals: acc.principals.len(),
                    domains,
                    max_access,
                    admin_path,
                    score,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.score
                .value
                .cmp(&a.score.value)
                .then_with(|| a.key.cmp(&b.key))
        });
        rows
    }

    /// The app a grant shares with other principals, if it names one.
    fn sharing_key<'g>(&self, g: &'g GrantRecord) -> Option<(&'g str, &'g str, &'g str)> {
        let placeholder = self.policy.reach.ungrouped_app_ids.contains(&g.app.id);
        (!is_personal(g.kind) && !placeholder).then_some((
            g.provider.as_str(),
            g.tenant.as_str(),
            g.app.id.as_str(),
        ))
    }

    /// For each grant, how many distinct principals hold grants of its app in its tenant
    /// (1 for grants that name no shared app). One hash lookup per grant, then a sort:
    /// cheaper than a set of principals per app for a million grants.
    fn sharing_counts(&self, grants: &[GrantRecord]) -> Vec<u64> {
        let mut apps: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let mut app_of: Vec<Option<usize>> = Vec::with_capacity(grants.len());
        let mut holders: Vec<(usize, &str)> = Vec::with_capacity(grants.len());
        for g in grants {
            let app = self.sharing_key(g).map(|key| {
                let next = apps.len();
                *apps.entry(key).or_insert(next)
            });
            if let Some(app) = app {
                holders.push((app, g.principal.id.as_str()));
            }
            app_of.push(app);
        }
        holders.sort_unstable();
        holders.dedup();
        let mut counts = vec![0u64; apps.len()];
        for (app, _) in holders {
            if let Some(c) = counts.get_mut(app) {
                *c += 1;
            }
        }
        app_of
            .into_iter()
            .map(|app| app.and_then(|a| counts.get(a).copied()).unwrap_or(1))
            .collect()
    }

    fn view<'g>(&self, grant: &'g GrantRecord, ctx: &Context<'_>) -> View<'a, 'g> {
        let reached = self.reached(grant);
        let times = Times {
            expires: parse_time(grant.expires_at.as_deref()),
            last_used: parse_time(grant.last_used_at.as_deref()),
            created: parse_time(grant.created_at.as_deref()),
        };
        let persistence = self.persistence(grant, &times, &reached);
        View {
            reach: self.reach_class(grant),
            persistence,
            staleness: self.staleness(grant, &times),
            trust: self.trust(grant, ctx),
            reached,
        }
    }

    fn reached<'g>(&self, grant: &'g GrantRecord) -> Reached<'a, 'g> {
        let mut r = Reached {
            no_scopes: grant.scopes.is_empty(),
            ..Reached::default()
        };
        let Some(pc) = self.catalog.provider(&grant.provider) else {
            if !grant.scopes.is_empty() {
                r.uncatalogued.insert(grant.provider.as_str());
            }
            for s in &grant.scopes {
                r.unknown.insert((grant.provider.as_str(), s.as_str()));
            }
            return r;
        };
        let provider = pc.provider();
        for s in &grant.scopes {
            match pc.resolve(s, grant.kind) {
                Some(res) => {
                    r.add(Pick {
                        provider,
                        entry: res.entry(),
                        direct: true,
                    });
                    for entry in res.implied() {
                        r.add(Pick {
                            provider,
                            entry,
                            direct: false,
                        });
                    }
                }
                None => {
                    r.unknown.insert((grant.provider.as_str(), s.as_str()));
                }
            }
        }
        r
    }

    fn reach_class(&self, grant: &GrantRecord) -> ReachClass {
        let w = &self.policy.reach;
        let (points, what) = match grant.kind {
            GrantKind::Application => (
                w.application,
                "app-only access across the tenant, with no user present",
            ),
            GrantKind::AdminConsent => (
                w.admin_consent,
                "an administrator consented on behalf of every user",
            ),
            GrantKind::Installation => match attribute(grant, "repository_selection") {
                Some("all") => (
                    w.installation_all,
                    "installed on the whole organization with access to all repositories",
                ),
                Some("selected") => (
                    w.installation_selected,
                    "installed on selected repositories",
                ),
                _ => (
                    w.installation,
                    "installed on the tenant (which repositories is not reported)",
                ),
            },
            _ => match grant.principal.kind {
                PrincipalKind::Tenant => (w.tenant, "held by the tenant as a whole"),
                PrincipalKind::Service => (w.service, "held by a service identity"),
                PrincipalKind::User => (w.user, "held by one user"),
            },
        };
        ReachClass { points, what }
    }

    fn persistence(&self, grant: &GrantRecord, times: &Times, reached: &Reached<'_, '_>) -> Part {
        let w = &self.policy.persistence;
        let personal = is_personal(grant.kind);
        let what = kind_name(grant.kind);
        let expires = times.expires;
        let expired_flag = attribute(grant, "token_expired") == Some("true");
        let (mut points, mut detail) = match (expires, &grant.expires_at) {
            (Some(t), _) if t <= self.now => (0, format!("The {what} expired on {}", t.date())),
            _ if expired_flag => (0, format!("The provider reports the {what} as expired")),
            (Some(t), _) => {
                let days = (t - self.now).whole_days();
                if days > i64::from(w.long_lived_days) {
                    let p = if personal {
                        w.long_lived_token
                    } else {
                        w.long_lived_grant
                    };
                    (
                        p,
                        format!(
                            "The {what} expires on {}, more than {} days away",
                            t.date(),
                            w.long_lived_days
                        ),
                    )
                } else {
                    (
                        0,
                        format!("The {what} expires on {} (in {days} days)", t.date()),
                    )
                }
            }
            (None, Some(raw)) => (
                if personal {
                    w.no_expiry_token
                } else {
                    w.no_expiry_grant
                },
                format!(
                    "The {what}'s expiry `{}` is not an RFC 3339 time, so it is treated as never expiring",
                    clip(raw, 40)
                ),
            ),
            (None, None) if personal => (w.no_expiry_token, format!("The {what} never expires")),
            (None, None) => (
                w.no_expiry_grant,
                format!("The {what} has no expiry: it stands until revoked"),
            ),
        };
        if let Some(p) = reached.offline {
            points += w.offline_access;
            detail.push_str(&format!(
                ", and `{}` lets it renew its access while the user is away",
                clip(&p.entry.scope, 80)
            ));
        }
        detail.push('.');
        Part {
            points: points.min(w.max),
            detail,
            controls: &[OWASP_NHI7, NIST_PR_AA_01],
        }
    }

    fn staleness(&self, grant: &GrantRecord, times: &Times) -> Part {
        let w = &self.policy.staleness;
        let what = kind_name(grant.kind);
        let controls: &'static [&'static str] = &[OWASP_NHI1, NIST_PR_AA_01];
        let part = |points: u32, detail: String| Part {
            points,
            detail,
            controls,
        };
        let step = |days: i64| {
            w.steps
                .iter()
                .filter(|s| days >= i64::from(s.days))
                .map(|s| s.points)
                .max()
                .unwrap_or(0)
        };
        let expired = times.expires.is_some_and(|t| t <= self.now)
            || attribute(grant, "token_expired") == Some("true");
        if expired {
            return part(
                0,
                format!("The {what} has expired, so it is no longer live and cannot go stale."),
            );
        }
        let last_used = times.last_used;
        if let Some(t) = last_used {
            let days = (self.now - t).whole_days().max(0);
            return part(
                step(days),
                format!(
                    "Last used {} ago, on {}.",
                    plural(days.unsigned_abs(), "day", "days"),
                    t.date()
                ),
            );
        }
        // Kinds the policy lists, or any grant whose connector says its provider reports
        // no use: say so rather than call it "never used".
        let unreported = w.no_usage_data_kinds.contains(&grant.kind)
            || attribute(grant, "usage_reported") == Some("false");
        if grant.last_used_at.is_none() && unreported {
            return part(
                w.no_usage_data,
                format!(
                    "{} does not report when {} {what} was last used, so its staleness is unknown.",
                    clip(&grant.provider, 40),
                    article(what)
                ),
            );
        }
        let bad = grant
            .last_used_at
            .as_deref()
            .map(|raw| {
                format!(
                    " (its last use `{}` is not an RFC 3339 time)",
                    clip(raw, 40)
                )
            })
            .unwrap_or_default();
        match times.created {
            Some(c) => {
                let age = (self.now - c).whole_days().max(0);
                let age_text = plural(age.unsigned_abs(), "day", "days");
                if age < i64::from(w.grace_days) {
                    part(
                        0,
                        format!(
                            "Never used{bad}, but created only {age_text} ago, on {}.",
                            c.date()
                        ),
                    )
                } else {
                    part(
                        step(age).max(w.never_used),
                        format!(
                            "Never used{bad} in the {age_text} since it was created on {}.",
                            c.date()
                        ),
                    )
                }
            }
            None => part(
                w.never_used,
                format!("Never used{bad}, and when it was created is not known."),
            ),
        }
    }

    fn trust(&self, grant: &GrantRecord, ctx: &Context<'_>) -> Part {
        let w = &self.policy.trust;
        let mut points = 0u32;
        let mut clauses: Vec<String> = Vec::new();
        let mut ended = false;
        if attribute(grant, "publisher_verified") == Some("false") {
            points += w.unverified_publisher;
            clauses.push("its publisher is not verified".to_owned());
        }
        if attribute(grant, "foreign_tenant") == Some("true") {
            points += w.foreign_tenant;
            clauses.push(
                "it is a multi-tenant app registered in another organization's tenant".to_owned(),
            );
        }
        match (ctx.vendor, &grant.vendor) {
            (Some(v), _) => {
                let name = clip(&v.name, 80);
                if v.owner.as_deref().is_none_or(str::is_empty) {
                    points += w.no_owner;
                    clauses.push(format!("vendor {name} has no owner"));
                }
                let (p, said) = match v.status {
                    VendorStatus::Active => (0, None),
                    VendorStatus::Review => (w.review, Some("is under review")),
                    VendorStatus::Offboarding => (w.offboarding, Some("is being offboarded")),
                    VendorStatus::Offboarded => (
                        w.offboarded,
                        Some("was offboarded, yet this grant is still live"),
                    ),
                };
                if let Some(said) = said {
                    points += p;
                    clauses.push(format!("vendor {name} {said}"));
                    ended |= v.status >= VendorStatus::Offboarding;
                }
                if let Some(end) = v.contract_end.filter(|d| *d < self.now.date()) {
                    points += w.past_contract_end;
                    clauses.push(format!("vendor {name}'s contract ended on {end}"));
                    ended = true;
                }
            }
            (None, Some(name)) => {
                points += w.unknown_vendor;
                clauses.push(format!(
                    "vendor {} is not in the vendor registry",
                    clip(name, 80)
                ));
            }
            (None, None) if is_personal(grant.kind) => {}
            (None, None) => {
                points += w.unknown_vendor;
                clauses.push("no vendor is known for this app".to_owned());
            }
        }
        let detail = if clauses.is_empty() {
            if is_personal(grant.kind) && ctx.vendor.is_none() {
                format!(
                    "A personal credential of {}, with no third-party vendor behind it.",
                    clip(&grant.principal.id, 80)
                )
            } else {
                "Nothing counts against the vendor or publisher.".to_owned()
            }
        } else {
            let mut s = clauses.join("; ");
            if let Some(first) = s.get(..1) {
                let upper = first.to_uppercase();
                s.replace_range(..1, &upper);
            }
            s.push('.');
            s
        };
        let controls: &'static [&'static str] = if ended {
            &[OWASP_NHI3, OWASP_NHI1, NIST_GV_SC_07, NIST_GV_SC_10]
        } else {
            &[OWASP_NHI3, NIST_GV_SC_07]
        };
        Part {
            points: points.min(w.max),
            detail,
            controls,
        }
    }

    /// Builds the score from the digested parts of a grant or group.
    fn assemble(
        &self,
        r: &Reached<'a, '_>,
        reach: &ReachClass,
        principals: u64,
        tenants: u64,
        parts: [Part; 3],
    ) -> Score {
        let p = self.policy;
        let mut factors: Vec<Factor> = Vec::with_capacity(FACTORS.len());

        // Capability.
        let cw = &p.capability;
        let domains = domain_list(r.domains);
        let n = domains.len() as u32;
        let capability = match r.top {
            Some(top) => {
                let e = top.entry;
                let base = cw.sensitivity[usize::from(e.sensitivity.clamp(1, 5) - 1)];
                let breadth = (cw.per_extra_domain * n.saturating_sub(1)).min(cw.max_breadth);
                let mut points = base + breadth;
                if r.no_scopes {
                    // A group that also holds scope-less grants reaches at least as far.
                    points = points.max(cw.no_scopes_listed);
                }
                let mut class = String::new();
                if let Some(c) = &e.class {
                    class.push_str(&format!(", provider class {}", clip(c, 40)));
                    if e.class_inferred {
                        class.push_str(" (inferred)");
                    }
                }
                if let Some(t) = e.azure_tier {
                    class.push_str(&format!(", azure-tiering Tier-{t}"));
                }
                let reach_text = if n == 0 {
                    "it reaches no data domain beyond sign-in basics".to_owned()
                } else {
                    let names: Vec<&str> = domains.iter().map(|d| d.name()).collect();
                    format!(
                        "it reaches {}: {}",
                        plural(u64::from(n), "data domain", "data domains"),
                        names.join(", ")
                    )
                };
                (
                    points,
                    format!(
                        "Its most sensitive scope is `{}` ({}, {}, sensitivity {}/5{class}), and {reach_text}.",
                        clip(&e.scope, 100),
                        e.domain,
                        e.access,
                        e.sensitivity,
                    ),
                )
            }
            None if r.no_scopes => (
                cw.no_scopes_listed,
                "The provider lists no scopes for it, so it is scored as acting with everything its holder can reach.".to_owned(),
            ),
            None => (
                0,
                "None of its scopes is in the catalog; what they reach is counted under unclassified.".to_owned(),
            ),
        };

        // Privilege.
        let pw = &p.privilege;
        let access_points = |a: Access| match a {
            Access::Read => pw.read,
            Access::Write => pw.write,
            Access::Admin => pw.admin,
        };
        let mut privilege = match (r.admin_path, r.tier1, r.max_access) {
            (Some(t0), _, max) => (
                pw.admin_path
                    .max(max.map_or(0, |m| access_points(m.entry.access))),
                format!(
                    "`{}` is a Tier-0 permission, a path to tenant admin, so the grant counts as at least {} whatever else it holds.",
                    clip(&t0.entry.scope, 100),
                    pw.admin_path_floor
                ),
            ),
            (None, Some(t1), Some(max)) if pw.azure_tier1 > access_points(max.entry.access) => (
                pw.azure_tier1,
                format!(
                    "`{}` is an azure-tiering Tier-1 (restricted) Graph permission; the highest access level is {}.",
                    clip(&t1.entry.scope, 100),
                    max.entry.access
                ),
            ),
            (None, _, Some(max)) => (
                access_points(max.entry.access),
                format!(
                    "Its highest access level is {} (`{}`).",
                    max.entry.access,
                    clip(&max.entry.scope, 100)
                ),
            ),
            (None, _, None) => (
                0,
                "No catalogued scope says what access level it has.".to_owned(),
            ),
        };

        // Reach.
        let rw = &p.reach;
        let principals = principals.max(1);
        let principal_points =
            (rw.per_principal_doubling * principals.ilog2()).min(rw.max_principal_points);
        let tenant_points = u32::try_from(tenants.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .saturating_mul(rw.per_extra_tenant)
            .min(rw.max_tenant_points);
        let who = if tenants > 1 {
            format!(
                "{} across {} hold it",
                plural(principals, "principal", "principals"),
                plural(tenants, "tenant", "tenants")
            )
        } else {
            format!(
                "{} in the tenant hold{} grants of this app",
                plural(principals, "principal", "principals"),
                if principals == 1 { "s" } else { "" }
            )
        };
        let mut what = reach.what.to_owned();
        if let Some(first) = what.get(..1) {
            let upper = first.to_uppercase();
            what.replace_range(..1, &upper);
        }
        let reach_factor = (
            reach.points + principal_points + tenant_points,
            format!("{what}; {who}."),
        );

        // Unclassified.
        let uw = &p.unclassified;
        let unclassified = if r.unknown.is_empty() {
            None
        } else {
            let n = r.unknown.len() as u64;
            let more = u32::try_from(n - 1).unwrap_or(u32::MAX);
            let points = uw
                .each_more
                .saturating_mul(more)
                .saturating_add(uw.first)
                .min(uw.max);
            let shown: Vec<String> = r
                .unknown
                .iter()
                .take(3)
                .map(|(_, s)| format!("`{}`", clip(s, 60)))
                .collect();
            let rest = if n > 3 {
                format!(" and {} more", n - 3)
            } else {
                String::new()
            };
            let catalogs: Vec<Cow<'_, str>> = r
                .unknown
                .iter()
                .map(|(provider, _)| clip(provider, 40))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let detail = if !r.uncatalogued.is_empty() && r.uncatalogued.len() == catalogs.len() {
                format!(
                    "There is no scope catalog for {}, so {} ({}{rest}) cannot be classified and what {} reach is unknown.",
                    catalogs.join(", "),
                    plural(n, "scope", "scopes"),
                    shown.join(", "),
                    if n == 1 { "it may" } else { "they may" }
                )
            } else {
                format!(
                    "{} not in the {} catalog ({}{rest}), so what {} reach is unknown.",
                    if n == 1 {
                        "1 scope is".to_owned()
                    } else {
                        format!("{n} scopes are")
                    },
                    catalogs.join(", "),
                    shown.join(", "),
                    if n == 1 { "it may" } else { "they may" }
                )
            };
            Some((points, detail))
        };

        // A Tier-0 permission dominates: lift the total to the floor through the
        // privilege factor, so the factors still add up to the value.
        let [persistence, staleness, trust] = parts;
        let others = capability.0
            + reach_factor.0
            + persistence.points
            + staleness.points
            + trust.points
            + unclassified.as_ref().map_or(0, |u| u.0);
        if r.admin_path.is_some() {
            let floor = u32::from(pw.admin_path_floor);
            if others + privilege.0 < floor {
                privilege.0 = floor - others;
            }
        }
        let total = others + privilege.0;

        factors.push(factor(
            CAPABILITY,
            capability.0,
            capability.1,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        factors.push(factor(
            PRIVILEGE,
            privilege.0,
            privilege.1,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        factors.push(factor(
            REACH,
            reach_factor.0,
            reach_factor.1,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        for (id, part) in [
            (PERSISTENCE, persistence),
            (STALENESS, staleness),
            (TRUST, trust),
        ] {
            factors.push(factor(id, part.points, part.detail, part.controls));
        }
        if let Some((points, detail)) = unclassified {
            factors.push(factor(
                UNCLASSIFIED,
                points,
                detail,
                &[OWASP_NHI5, NIST_PR_AA_05],
            ));
        }
        // Largest first; the sort is stable, so equal points keep the canonical order.
        factors.sort_by_key(|f| std::cmp::Reverse(f.points));
        let value = u8::try_from(total.min(100)).unwrap_or(100);
        Score {
            value,
            tier: p.tier_for(value),
            factors,
        }
    }
}
