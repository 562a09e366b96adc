//! Blast-radius scoring: what a grant can reach, and which grants to cut first.
//!
//! **Architecture invariant:** scoring is pure and deterministic. The clock is a
//! parameter ([`Scorer::new`]), nothing is read from the environment, and the same
//! grants, catalog, policy and time always give the same scores, factors and sentences.
//!
//! A grant's value (0–100) is the sum of its factors' points, capped at 100; a Tier-0
//! permission (a path to tenant admin) lifts it to at least the policy's floor. The
//! factors, in their canonical order:
//!
//! | factor | what it measures |
//! |---|---|
//! | `capability` | the most sensitive scope, and breadth across data domains |
//! | `privilege` | the highest access level; Tier-1 and Tier-0 permissions |
//! | `reach` | app-only > admin consent > org-wide installation > one user; principals sharing the app |
//! | `persistence` | offline access, non-expiring and long-lived tokens and keys |
//! | `staleness` | never used, or unused for long, while still live |
//! | `trust` | unverified publisher, foreign multi-tenant app, vendor unknown, ownerless, offboarded, past contract |
//! | `unclassified` | scopes the catalog does not know: visible, never zero |
//!
//! Each factor names the framework controls it relates to: entries of the OWASP
//! Non-Human Identities Top 10 (2025) and NIST CSF 2.0 subcategories ([`controls`]).
//! Weights and thresholds are in [`Policy`] (`config/scoring.toml`); SCORING.md explains
//! the model with a worked example.
//!
//! [`Scorer::aggregate_by`] scores apps (tenant-wide) and vendors (across tenants) as the
//! union of what all their grants reach.

mod policy;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::catalog::{Access, Catalog, CatalogEntry, Domain};
use crate::model::{Factor, GrantKind, GrantRecord, PrincipalKind, Score, Tier};
use crate::plural;

pub use policy::{
    CapabilityWeights, PersistenceWeights, Policy, PrivilegeWeights, ReachWeights, ScoreError,
    StalenessStep, StalenessWeights, Tiers, TrustWeights, UnclassifiedWeights,
};

/// Factor id: the most sensitive scope and breadth across data domains.
pub const CAPABILITY: &str = "capability";
/// Factor id: read < write < admin; Tier-0 permissions dominate.
pub const PRIVILEGE: &str = "privilege";
/// Factor id: who and how many the grant acts over.
pub const REACH: &str = "reach";
/// Factor id: refresh tokens, long-lived or non-expiring credentials.
pub const PERSISTENCE: &str = "persistence";
/// Factor id: live but unused.
pub const STALENESS: &str = "staleness";
/// Factor id: who stands behind the app.
pub const TRUST: &str = "trust";
/// Factor id: scopes the catalog does not know.
pub const UNCLASSIFIED: &str = "unclassified";

/// Every factor id, in canonical order (the order of equal-point factors in a score).
pub const FACTORS: [&str; 7] = [
    CAPABILITY,
    PRIVILEGE,
    REACH,
    PERSISTENCE,
    STALENESS,
    TRUST,
    UNCLASSIFIED,
];

/// Framework controls the factors cite.
///
/// OWASP entries use the names of the OWASP Non-Human Identities Top 10 – 2025,
/// <https://owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025>
/// (NHI1:2025 Improper Offboarding, NHI3:2025 Vulnerable Third-Party NHI, NHI5:2025
/// Overprivileged NHI, NHI7:2025 Long-Lived Secrets). NIST entries are NIST CSF 2.0
/// subcategories (NIST CSWP 29): PR.AA-01 identities and credentials are managed,
/// PR.AA-05 access permissions follow least privilege, GV.SC-07 supplier risks are
/// assessed and monitored over the relationship, GV.SC-10 plans cover the end of a
/// supplier relationship.
pub mod controls {
    /// Unused or orphaned identities left active.
    pub const OWASP_NHI1: &str = "OWASP-NHI1 Improper Offboarding";
    /// Third-party apps holding your access.
    pub const OWASP_NHI3: &str = "OWASP-NHI3 Vulnerable Third-Party NHI";
    /// More privilege than the job needs.
    pub const OWASP_NHI5: &str = "OWASP-NHI5 Overprivileged NHI";
    /// Credentials that live too long.
    pub const OWASP_NHI7: &str = "OWASP-NHI7 Long-Lived Secrets";
    /// Identities and credentials are managed.
    pub const NIST_PR_AA_01: &str = "NIST-CSF-2.0 PR.AA-01";
    /// Access permissions: least privilege, reviewed.
    pub const NIST_PR_AA_05: &str = "NIST-CSF-2.0 PR.AA-05";
    /// Supplier risk assessed and monitored over the relationship.
    pub const NIST_GV_SC_07: &str = "NIST-CSF-2.0 GV.SC-07";
    /// Supplier relationship end covered.
    pub const NIST_GV_SC_10: &str = "NIST-CSF-2.0 GV.SC-10";
}

use controls::*;

/// Where a vendor stands with the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VendorStatus {
    /// In use, approved.
    Active,
    /// Under review.
    Review,
    /// Being offboarded.
    Offboarding,
    /// Offboarded: its grants should be gone.
    Offboarded,
}

impl VendorStatus {
    /// The wire name (`active`, `review`, `offboarding`, `offboarded`).
    pub const fn name(self) -> &'static str {
        match self {
            VendorStatus::Active => "active",
            VendorStatus::Review => "review",
            VendorStatus::Offboarding => "offboarding",
            VendorStatus::Offboarded => "offboarded",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [
            VendorStatus::Active,
            VendorStatus::Review,
            VendorStatus::Offboarding,
            VendorStatus::Offboarded,
        ]
        .into_iter()
        .find(|v| v.name() == s)
    }
}

/// What the vendor registry knows about a vendor. A vendor with no entry is unknown,
/// which the trust factor scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFacts {
    /// The vendor's name, as in `GrantRecord::vendor`.
    pub name: String,
    /// Who in the organization owns the relationship.
    pub owner: Option<String>,
    /// Where the relationship stands.
    pub status: VendorStatus,
    /// When the contract ends (or ended).
    pub contract_end: Option<time::Date>,
}

/// Vendor facts by vendor name.
pub type Vendors = BTreeMap<String, VendorFacts>;

/// What one grant cannot say about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// How many principals hold grants of the same app in the same tenant (at least 1;
    /// 0 is read as 1).
    pub principals_sharing_app: u64,
    /// The vendor's facts; `None` is an unknown vendor.
    pub vendor: Option<&'a VendorFacts>,
}

impl Default for Context<'_> {
    fn default() -> Self {
        Context {
            principals_sharing_app: 1,
            vendor: None,
        }
    }
}

/// How [`Scorer::aggregate_by`] groups grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// One row per app per tenant: `provider/tenant/app.id`.
    App,
    /// One row per vendor across all tenants; grants without a vendor form one row with
    /// an empty key.
    Vendor,
}

/// A scored group of grants: the union of what they reach.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Aggregate {
    /// `provider/tenant/app.id` for apps; the vendor name for vendors (empty for grants
    /// without a vendor).
    pub key: String,
    /// The app's name, or the vendor's (`(no vendor)` for the empty key).
    pub name: String,
    /// How many grants contributed.
    pub grants: usize,
    /// Providers the grants are in, sorted.
    pub providers: Vec<String>,
    /// Distinct tenants (provider, tenant).
    pub tenants: usize,
    /// Distinct principals (provider, tenant, principal).
    pub principals: usize,
    /// The union of counted data domains, in [`Domain`] order.
    pub domains: Vec<Domain>,
    /// The highest access level any grant holds.
    pub max_access: Option<Access>,
    /// Whether any grant holds a Tier-0 permission.
    pub admin_path: bool,
    /// The group's score.
    pub score: Score,
}
/// Scores grants against a catalog and a policy at a fixed time.
#[derive(Debug, Clone, Copy)]
pub struct Scorer<'a> {
    catalog: &'a Catalog,
    policy: &'a Policy,
    now: OffsetDateTime,
}

/// A grant's score as numbers and codes: what [`Scorer::score`] keeps.
///
/// It holds no text of its own — catalog entries and vendor facts by reference, days
/// and dates as numbers, the rest as small codes — because a million kept scores with
/// their sentences as `String`s cost gigabytes (BENCHMARKS.md). The sentences are
/// written only when a score is shown: [`Scorer::explain`] turns it, with the grant it
/// was computed from, into the full [`Score`] of the inventory's JSON shape, the same
/// bytes the scorer used to build eagerly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compact<'a> {
    value: u8,
    tier: Tier,
    /// Points per factor, in the order of [`FACTORS`]; `unclassified` is 0 when no
    /// scope is unknown (and the factor is then left out).
    points: [u32; 7],
    /// Catalogued data domains reached ([`Domain::bit`]s).
    domains: u32,
    /// The grant lists no scopes at all.
    no_scopes: bool,
    /// Its provider has no catalog.
    uncatalogued: bool,
    reach: ReachClass,
    expiry: Expiry,
    usage: Usage,
    /// Distinct scopes the catalog does not know.
    unknown: u32,
    entries: Entries<'a>,
    principals: u64,
    vendor: Option<&'a VendorFacts>,
}

impl Compact<'_> {
    /// 0–100.
    pub fn value(&self) -> u8 {
        self.value
    }

    /// The tier of [`Compact::value`].
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Points of each factor of [`FACTORS`], in that order (`unclassified` is 0 when
    /// no scope is unknown): for sorting or filtering by factor without writing the
    /// sentences.
    pub fn factor_points(&self) -> [u32; 7] {
        self.points
    }
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
#[inline]
fn keep<'a, K: Ord>(slot: &mut Option<Pick<'a>>, cand: Pick<'a>, rank: impl Fn(&Pick<'a>) -> K) {
    let replace = match slot {
        None => true,
        Some(cur) => match rank(&cand).cmp(&rank(cur)) {
            Ordering::Greater => true,
            // Same entry (a scope listed and also implied): nothing to break.
            Ordering::Equal if std::ptr::eq(cand.entry, cur.entry) => false,
            // Picks of one grant share their provider's string: skip comparing it
            // (ties are common, and string compares were a fifth of the time).
            Ordering::Equal if std::ptr::eq(cand.provider, cur.provider) => {
                (&cand.entry.scope, &cand.entry.kind) < (&cur.entry.scope, &cur.entry.kind)
            }
            Ordering::Equal => cand.name_key() < cur.name_key(),
            Ordering::Less => false,
        },
    };
    if replace {
        *slot = Some(cand);
    }
}

/// What the scopes of a grant (or a group) reach. No sets: a grant's is built without
/// allocating; groups keep their unknown scopes beside it.
#[derive(Debug, Default, Clone, Copy)]
struct Reached<'a> {
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
}

/// The entries of [`Reached`] without their providers: what the sentences name, and
/// half the size to keep.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Entries<'a> {
    top: Option<&'a CatalogEntry>,
    max_access: Option<&'a CatalogEntry>,
    tier1: Option<&'a CatalogEntry>,
    admin_path: Option<&'a CatalogEntry>,
    offline: Option<&'a CatalogEntry>,
}

/// Whether an entry widens reach: sign-in basics and trivial scopes do not.
fn counts(e: &CatalogEntry) -> bool {
    e.domain != Domain::Basic && e.sensitivity >= 2
}

impl<'a> Reached<'a> {
    #[inline]
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

    fn merge(&mut self, other: Reached<'a>) {
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
    }

    fn entries(&self) -> Entries<'a> {
        let e = |p: Option<Pick<'a>>| p.map(|p| p.entry);
        Entries {
            top: e(self.top),
            max_access: e(self.max_access),
            tier1: e(self.tier1),
            admin_path: e(self.admin_path),
            offline: e(self.offline),
        }
    }
}

/// A factor written out for one grant; groups keep their worst.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReachClass {
    Application,
    AdminConsent,
    InstallationAll,
    InstallationSelected,
    Installation,
    Tenant,
    Service,
    User,
    /// Only for a group without grants, which does not occur.
    Nothing,
}

impl ReachClass {
    fn points(self, w: &ReachWeights) -> u32 {
        match self {
            ReachClass::Application => w.application,
            ReachClass::AdminConsent => w.admin_consent,
            ReachClass::InstallationAll => w.installation_all,
            ReachClass::InstallationSelected => w.installation_selected,
            ReachClass::Installation => w.installation,
            ReachClass::Tenant => w.tenant,
            ReachClass::Service => w.service,
            ReachClass::User => w.user,
            ReachClass::Nothing => 0,
        }
    }

    fn what(self) -> &'static str {
        match self {
            ReachClass::Application => "app-only access across the tenant, with no user present",
            ReachClass::AdminConsent => "an administrator consented on behalf of every user",
            ReachClass::InstallationAll => {
                "installed on the whole organization with access to all repositories"
            }
            ReachClass::InstallationSelected => "installed on selected repositories",
            ReachClass::Installation => {
                "installed on the tenant (which repositories is not reported)"
            }
            ReachClass::Tenant => "held by the tenant as a whole",
            ReachClass::Service => "held by a service identity",
            ReachClass::User => "held by one user",
            ReachClass::Nothing => "",
        }
    }
}

/// What the grant's expiry says (persistence). Dates are in the timestamp's own offset,
/// as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Expired on that date.
    Expired(Date),
    /// The provider says it expired (`token_expired`).
    ReportedExpired,
    /// Expires on that date, more than `long_lived_days` away.
    LongLived(Date),
    /// Expires on that date, in that many days.
    Soon(Date, i64),
    /// `expires_at` is not RFC 3339: treated as never expiring.
    Unreadable,
    /// A personal credential without expiry.
    Never,
    /// Any other grant without expiry.
    Standing,
}

/// What the grant's use says (staleness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usage {
    /// Expired: no longer live.
    Expired,
    /// Last used that many days ago, on that date.
    LastUsed(i64, Date),
    /// The provider does not report use.
    Unreported,
    /// Never used, created that many days ago (within the grace period), on that date.
    NewUnused(i64, Date),
    /// Never used, created that many days ago, on that date.
    NeverUsed(i64, Date),
    /// Never used, creation unknown.
    NeverUsedAgeUnknown,
}

/// One grant, digested: everything its points depend on.
#[derive(Debug)]
struct View<'a> {
    reached: Reached<'a>,
    reach: ReachClass,
    expiry: Expiry,
    usage: Usage,
    /// Points of persistence, staleness and trust.
    parts: [u32; 3],
    /// Distinct unknown scopes.
    unknown: u32,
    uncatalogued: bool,
}

/// What the points of capability, privilege, reach and unclassified depend on, for a
/// grant or a group.
struct Basis<'r, 'a> {
    reached: &'r Reached<'a>,
    reach: ReachClass,
    principals: u64,
    tenants: u64,
    unknown: u64,
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

/// Two ASCII digits at `b[i..i + 2]`.
fn two_digits(b: &[u8], i: usize) -> Option<u8> {
    let (h, l) = (*b.get(i)?, *b.get(i + 1)?);
    (h.is_ascii_digit() && l.is_ascii_digit()).then(|| (h - b'0') * 10 + (l - b'0'))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form connectors normalise to, read without the general
/// RFC 3339 parser (a third of the scorer's time went there); `None` for anything
/// else, which the general parser then decides. A leap second (`:60`) goes there too,
/// so both paths agree on every input.
fn parse_plain_utc(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let year = i32::from(two_digits(b, 0)?) * 100 + i32::from(two_digits(b, 2)?);
    let month = time::Month::try_from(two_digits(b, 5)?).ok()?;
    let date = Date::from_calendar_date(year, month, two_digits(b, 8)?).ok()?;
    let (h, m, sec) = (two_digits(b, 11)?, two_digits(b, 14)?, two_digits(b, 17)?);
    if sec > 59 {
        return None;
    }
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(date.with_time(t).assume_utc())
}

fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    let s = s?;
    parse_plain_utc(s).or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok())
}

fn attribute<'g>(grant: &'g GrantRecord, key: &str) -> Option<&'g str> {
    // Most grants have no attributes at all: skip the lookups then.
    if grant.attributes.is_empty() && grant.app.attributes.is_empty() {
        return None;
    }
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

/// The unknown (provider, scope) pairs of a grant, and its provider when it has no
/// catalog at all: what the unclassified sentence lists. Built only for sentences and
/// groups; scoring one grant counts them without a set ([`Scorer::view`]).
fn unknown_of<'g>(
    catalog: &Catalog,
    grant: &'g GrantRecord,
    unknown: &mut BTreeSet<(&'g str, &'g str)>,
    uncatalogued: &mut BTreeSet<&'g str>,
) {
    let provider = grant.provider.as_str();
    match catalog.provider(provider) {
        None => {
            if !grant.scopes.is_empty() {
                uncatalogued.insert(provider);
            }
            unknown.extend(grant.scopes.iter().map(|s| (provider, s.as_str())));
        }
        Some(pc) => unknown.extend(
            grant
                .scopes
                .iter()
                .filter(|s| pc.resolve(s, grant.kind).is_none())
                .map(|s| (provider, s.as_str())),
        ),
    }
}

impl<'a> Scorer<'a> {
    /// A scorer for `catalog` and `policy` as of `now`.
    pub fn new(catalog: &'a Catalog, policy: &'a Policy, now: OffsetDateTime) -> Self {
        Scorer {
            catalog,
            policy,
            now,
        }
    }

    /// Scores one grant: numbers and codes, no sentences ([`Compact`]); the
    /// explanation is [`Scorer::explain`]. Allocates nothing for a grant whose scopes
    /// are sorted (as the inventory keeps them).
    pub fn score<'v>(&self, grant: &GrantRecord, ctx: &Context<'v>) -> Compact<'v>
    where
        'a: 'v,
    {
        let view = self.view(grant, ctx);
        let principals = ctx.principals_sharing_app.max(1);
        let (points, value) = self.points(
            &Basis {
                reached: &view.reached,
                reach: view.reach,
                principals,
                tenants: 1,
                unknown: u64::from(view.unknown),
            },
            view.parts,
        );
        Compact {
            value,
            tier: self.policy.tier_for(value),
            points,
            domains: view.reached.domains,
            no_scopes: view.reached.no_scopes,
            uncatalogued: view.uncatalogued,
            reach: view.reach,
            expiry: view.expiry,
            usage: view.usage,
            unknown: view.unknown,
            entries: view.reached.entries(),
            principals,
            vendor: ctx.vendor,
        }
    }

    /// The full explanation of `score`, which must come from this scorer and `grant`:
    /// every factor with its points, one sentence and its controls, largest first.
    /// Provider text the sentences quote (scope names, the vendor, a timestamp that
    /// does not parse) is read from `grant` again rather than kept in the score.
    pub fn explain(&self, score: &Compact<'_>, grant: &GrantRecord) -> Score {
        let mut unknown = BTreeSet::new();
        let mut uncatalogued = BTreeSet::new();
        if score.unknown > 0 {
            unknown_of(self.catalog, grant, &mut unknown, &mut uncatalogued);
        }
        let e = score.entries;
        let parts = [
            Part {
                points: score.points[3],
                detail: self.persistence_detail(grant, score.expiry, e.offline),
                controls: &[OWASP_NHI7, NIST_PR_AA_01],
            },
            Part {
                points: score.points[4],
                detail: self.staleness_detail(grant, score.usage),
                controls: &[OWASP_NHI1, NIST_PR_AA_01],
            },
            self.trust_part(grant, score.vendor, score.points[5]),
        ];
        self.write_out(
            Written {
                entries: e,
                domains: score.domains,
                no_scopes: score.no_scopes,
                reach: score.reach,
                principals: score.principals,
                tenants: 1,
                unknown: &unknown,
                uncatalogued: &uncatalogued,
            },
            score.points,
            score.value,
            parts,
        )
    }

    /// [`Scorer::score`] and [`Scorer::explain`] in one: the full score of one grant.
    pub fn score_explained(&self, grant: &GrantRecord, ctx: &Context<'_>) -> Score {
        self.explain(&self.score(grant, ctx), grant)
    }

    /// Scores every grant, working out the sharing counts from `grants` themselves and
    /// each grant's vendor facts from `vendors` by `GrantRecord::vendor`. The scores are
    /// in the order of `grants`; [`Scorer::explain`] with the same grant writes one out.
    pub fn score_all<'v>(&self, grants: &[GrantRecord], vendors: &'v Vendors) -> Vec<Compact<'v>>
    where
        'a: 'v,
    {
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
            reached: Reached<'a>,
            unknown: BTreeSet<(&'g str, &'g str)>,
            uncatalogued: BTreeSet<&'g str>,
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
            let vendor = g.vendor.as_ref().and_then(|v| vendors.get(v));
            let ctx = Context {
                principals_sharing_app: 1,
                vendor,
            };
            let view = self.view(g, &ctx);
            let acc = groups.entry(key).or_insert_with(|| Acc {
                name,
                grants: 0,
                reached: Reached::default(),
                unknown: BTreeSet::new(),
                uncatalogued: BTreeSet::new(),
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
            if view.unknown > 0 {
                unknown_of(self.catalog, g, &mut acc.unknown, &mut acc.uncatalogued);
            }
            acc.reach = Some(match acc.reach.take() {
                Some(r)
                    if (r.points(&self.policy.reach), r.what())
                        >= (view.reach.points(&self.policy.reach), view.reach.what()) =>
                {
                    r
                }
                _ => view.reach,
            });
            // A group keeps its worst part, sentences compared on equal points, so
            // these are written out per grant.
            let parts = [
                Part {
                    points: view.parts[0],
                    detail: self.persistence_detail(
                        g,
                        view.expiry,
                        view.reached.offline.map(|p| p.entry),
                    ),
                    controls: &[OWASP_NHI7, NIST_PR_AA_01],
                },
                Part {
                    points: view.parts[1],
                    detail: self.staleness_detail(g, view.usage),
                    controls: &[OWASP_NHI1, NIST_PR_AA_01],
                },
                self.trust_part(g, vendor, view.parts[2]),
            ];
            for (slot, part) in acc.parts.iter_mut().zip(parts) {
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
                let reach = acc.reach.unwrap_or(ReachClass::Nothing);
                // Every group has at least one grant, so every part is set.
                let parts = acc.parts.map(|p| {
                    p.unwrap_or(Part {
                        points: 0,
                        detail: String::new(),
                        controls: &[],
                    })
                });
                let principals = acc.principals.len() as u64;
                let tenants = acc.tenants.len() as u64;
                let (points, value) = self.points(
                    &Basis {
                        reached: &acc.reached,
                        reach,
                        principals: principals.max(1),
                        tenants,
                        unknown: acc.unknown.len() as u64,
                    },
                    [parts[0].points, parts[1].points, parts[2].points],
                );
                let score = self.write_out(
                    Written {
                        entries: acc.reached.entries(),
                        domains: acc.reached.domains,
                        no_scopes: acc.reached.no_scopes,
                        reach,
                        principals: principals.max(1),
                        tenants,
                        unknown: &acc.unknown,
                        uncatalogued: &acc.uncatalogued,
                    },
                    points,
                    value,
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

    fn view(&self, grant: &GrantRecord, ctx: &Context<'_>) -> View<'a> {
        let (reached, unknown, uncatalogued) = self.reached(grant);
        let expires = parse_time(grant.expires_at.as_deref());
        // `token_expired` decides two factors; read it once.
        let expired_flag = attribute(grant, "token_expired") == Some("true");
        let (expiry, persistence) = self.expiry(grant, expires, expired_flag, &reached);
        let (usage, staleness) = self.usage(grant, expires, expired_flag);
        View {
            reached,
            reach: self.reach_class(grant),
            expiry,
            usage,
            parts: [persistence, staleness, self.trust_points(grant, ctx.vendor)],
            unknown,
            uncatalogued,
        }
    }

    /// What the grant's scopes reach, how many distinct scopes are unknown, and whether
    /// its provider has no catalog.
    fn reached(&self, grant: &GrantRecord) -> (Reached<'a>, u32, bool) {
        let mut r = Reached {
            no_scopes: grant.scopes.is_empty(),
            ..Reached::default()
        };
        let Some(pc) = self.catalog.provider(&grant.provider) else {
            let n = distinct(&grant.scopes, |_| true);
            return (r, n, !grant.scopes.is_empty());
        };
        let provider = pc.provider();
        let mut any_unknown = false;
        // Counted here when the scopes are sorted (as the inventory keeps them): a
        // repeat is then the previous scope.
        let sorted = grant.scopes.windows(2).all(|w| w[0] <= w[1]);
        let mut unknown = 0u32;
        let mut prev: Option<&str> = None;
        for s in &grant.scopes {
            let repeat = prev == Some(s.as_str());
            prev = Some(s);
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
                    any_unknown = true;
                    if !repeat {
                        unknown = unknown.saturating_add(1);
                    }
                }
            }
        }
        if any_unknown && !sorted {
            unknown = distinct(&grant.scopes, |s| pc.resolve(s, grant.kind).is_none());
        }
        (r, unknown, false)
    }

    fn reach_class(&self, grant: &GrantRecord) -> ReachClass {
        match grant.kind {
            GrantKind::Application => ReachClass::Application,
            GrantKind::AdminConsent => ReachClass::AdminConsent,
            GrantKind::Installation => match attribute(grant, "repository_selection") {
                Some("all") => ReachClass::InstallationAll,
                Some("selected") => ReachClass::InstallationSelected,
                _ => ReachClass::Installation,
            },
            _ => match grant.principal.kind {
                PrincipalKind::Tenant => ReachClass::Tenant,
                PrincipalKind::Service => ReachClass::Service,
                PrincipalKind::User => ReachClass::User,
            },
        }
    }

    /// The persistence code and points.
    fn expiry(
        &self,
        grant: &GrantRecord,
        expires: Option<OffsetDateTime>,
        expired_flag: bool,
        reached: &Reached<'_>,
    ) -> (Expiry, u32) {
        let w = &self.policy.persistence;
        let personal = is_personal(grant.kind);
        let (expiry, mut points) = match (expires, &grant.expires_at) {
            (Some(t), _) if t <= self.now => (Expiry::Expired(t.date()), 0),
            _ if expired_flag => (Expiry::ReportedExpired, 0),
            (Some(t), _) => {
                let days = (t - self.now).whole_days();
                if days > i64::from(w.long_lived_days) {
                    let p = if personal {
                        w.long_lived_token
                    } else {
                        w.long_lived_grant
                    };
                    (Expiry::LongLived(t.date()), p)
                } else {
                    (Expiry::Soon(t.date(), days), 0)
                }
            }
            (None, Some(_)) => (
                Expiry::Unreadable,
                if personal {
                    w.no_expiry_token
                } else {
                    w.no_expiry_grant
                },
            ),
            (None, None) if personal => (Expiry::Never, w.no_expiry_token),
            (None, None) => (Expiry::Standing, w.no_expiry_grant),
        };
        if reached.offline.is_some() {
            points += w.offline_access;
        }
        (expiry, points.min(w.max))
    }

    fn persistence_detail(
        &self,
        grant: &GrantRecord,
        expiry: Expiry,
        offline: Option<&CatalogEntry>,
    ) -> String {
        let what = kind_name(grant.kind);
        let mut detail = match expiry {
            Expiry::Expired(d) => format!("The {what} expired on {d}"),
            Expiry::ReportedExpired => format!("The provider reports the {what} as expired"),
            Expiry::LongLived(d) => format!(
                "The {what} expires on {d}, more than {} days away",
                self.policy.persistence.long_lived_days
            ),
            Expiry::Soon(d, days) => format!("The {what} expires on {d} (in {days} days)"),
            Expiry::Unreadable => format!(
                "The {what}'s expiry `{}` is not an RFC 3339 time, so it is treated as never expiring",
                clip(grant.expires_at.as_deref().unwrap_or_default(), 40)
            ),
            Expiry::Never => format!("The {what} never expires"),
            Expiry::Standing => format!("The {what} has no expiry: it stands until revoked"),
        };
        if let Some(e) = offline {
            detail.push_str(&format!(
                ", and `{}` lets it renew its access while the user is away",
                clip(&e.scope, 80)
            ));
        }
        detail.push('.');
        detail
    }

    /// The staleness code and points.
    fn usage(
        &self,
        grant: &GrantRecord,
        expires: Option<OffsetDateTime>,
        expired_flag: bool,
    ) -> (Usage, u32) {
        let w = &self.policy.staleness;
        let step = |days: i64| {
            w.steps
                .iter()
                .filter(|s| days >= i64::from(s.days))
                .map(|s| s.points)
                .max()
                .unwrap_or(0)
        };
        if expires.is_some_and(|t| t <= self.now) || expired_flag {
            return (Usage::Expired, 0);
        }
        if let Some(t) = parse_time(grant.last_used_at.as_deref()) {
            let days = (self.now - t).whole_days().max(0);
            return (Usage::LastUsed(days, t.date()), step(days));
        }
        // Kinds the policy lists, or any grant whose connector says its provider reports
        // no use: say so rather than call it "never used".
        let unreported = w.no_usage_data_kinds.contains(&grant.kind)
            || attribute(grant, "usage_reported") == Some("false");
        if grant.last_used_at.is_none() && unreported {
            return (Usage::Unreported, w.no_usage_data);
        }
        match parse_time(grant.created_at.as_deref()) {
            Some(c) => {
                let age = (self.now - c).whole_days().max(0);
                if age < i64::from(w.grace_days) {
                    (Usage::NewUnused(age, c.date()), 0)
                } else {
                    (Usage::NeverUsed(age, c.date()), step(age).max(w.never_used))
                }
            }
            None => (Usage::NeverUsedAgeUnknown, w.never_used),
        }
    }

    fn staleness_detail(&self, grant: &GrantRecord, usage: Usage) -> String {
        let what = kind_name(grant.kind);
        // Reached only when the last use is absent or does not parse.
        let bad = || {
            grant
                .last_used_at
                .as_deref()
                .map(|raw| {
                    format!(
                        " (its last use `{}` is not an RFC 3339 time)",
                        clip(raw, 40)
                    )
                })
                .unwrap_or_default()
        };
        let days = |n: i64| plural(n.unsigned_abs(), "day", "days");
        match usage {
            Usage::Expired => {
                format!("The {what} has expired, so it is no longer live and cannot go stale.")
            }
            Usage::LastUsed(n, on) => format!("Last used {} ago, on {on}.", days(n)),
            Usage::Unreported => format!(
                "{} does not report when {} {what} was last used, so its staleness is unknown.",
                clip(&grant.provider, 40),
                article(what)
            ),
            Usage::NewUnused(age, on) => format!(
                "Never used{}, but created only {} ago, on {on}.",
                bad(),
                days(age)
            ),
            Usage::NeverUsed(age, on) => format!(
                "Never used{} in the {} since it was created on {on}.",
                bad(),
                days(age)
            ),
            Usage::NeverUsedAgeUnknown => {
                format!("Never used{}, and when it was created is not known.", bad())
            }
        }
    }

    fn trust_points(&self, grant: &GrantRecord, vendor: Option<&VendorFacts>) -> u32 {
        let w = &self.policy.trust;
        let mut points = 0u32;
        if attribute(grant, "publisher_verified") == Some("false") {
            points += w.unverified_publisher;
        }
        if attribute(grant, "foreign_tenant") == Some("true") {
            points += w.foreign_tenant;
        }
        match (vendor, &grant.vendor) {
            (Some(v), _) => {
                if v.owner.as_deref().is_none_or(str::is_empty) {
                    points += w.no_owner;
                }
                points += match v.status {
                    VendorStatus::Active => 0,
                    VendorStatus::Review => w.review,
                    VendorStatus::Offboarding => w.offboarding,
                    VendorStatus::Offboarded => w.offboarded,
                };
                if v.contract_end.is_some_and(|d| d < self.now.date()) {
                    points += w.past_contract_end;
                }
            }
            (None, None) if is_personal(grant.kind) => {}
            (None, _) => points += w.unknown_vendor,
        }
        points.min(w.max)
    }

    /// The trust factor written out; `points` from [`Scorer::trust_points`].
    fn trust_part(&self, grant: &GrantRecord, vendor: Option<&VendorFacts>, points: u32) -> Part {
        let mut clauses: Vec<String> = Vec::new();
        let mut ended = false;
        if attribute(grant, "publisher_verified") == Some("false") {
            clauses.push("its publisher is not verified".to_owned());
        }
        if attribute(grant, "foreign_tenant") == Some("true") {
            clauses.push(
                "it is a multi-tenant app registered in another organization's tenant".to_owned(),
            );
        }
        match (vendor, &grant.vendor) {
            (Some(v), _) => {
                let name = clip(&v.name, 80);
                if v.owner.as_deref().is_none_or(str::is_empty) {
                    clauses.push(format!("vendor {name} has no owner"));
                }
                let said = match v.status {
                    VendorStatus::Active => None,
                    VendorStatus::Review => Some("is under review"),
                    VendorStatus::Offboarding => Some("is being offboarded"),
                    VendorStatus::Offboarded => {
                        Some("was offboarded, yet this grant is still live")
                    }
                };
                if let Some(said) = said {
                    clauses.push(format!("vendor {name} {said}"));
                    ended |= v.status >= VendorStatus::Offboarding;
                }
                if let Some(end) = v.contract_end.filter(|d| *d < self.now.date()) {
                    clauses.push(format!("vendor {name}'s contract ended on {end}"));
                    ended = true;
                }
            }
            (None, Some(name)) => clauses.push(format!(
                "vendor {} is not in the vendor registry",
                clip(name, 80)
            )),
            (None, None) if is_personal(grant.kind) => {}
            (None, None) => clauses.push("no vendor is known for this app".to_owned()),
        }
        let detail = if clauses.is_empty() {
            if is_personal(grant.kind) && vendor.is_none() {
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
            points,
            detail,
            controls,
        }
    }

    /// Points of every factor (in [`FACTORS`] order) and the value, from what they
    /// depend on: the one computation both a compact score and a written-out one use,
    /// so the two cannot disagree.
    fn points(&self, b: &Basis<'_, 'a>, parts: [u32; 3]) -> ([u32; 7], u8) {
        let p = self.policy;
        let r = b.reached;
        let cw = &p.capability;
        let n = r.domains.count_ones();
        let capability = match r.top {
            Some(top) => {
                let base = cw.sensitivity[usize::from(top.entry.sensitivity.clamp(1, 5) - 1)];
                let breadth = (cw.per_extra_domain * n.saturating_sub(1)).min(cw.max_breadth);
                let points = base + breadth;
                if r.no_scopes {
                    // A group that also holds scope-less grants reaches at least as far.
                    points.max(cw.no_scopes_listed)
                } else {
                    points
                }
            }
            None if r.no_scopes => cw.no_scopes_listed,
            None => 0,
        };
        let pw = &p.privilege;
        let access_points = |a: Access| match a {
            Access::Read => pw.read,
            Access::Write => pw.write,
            Access::Admin => pw.admin,
        };
        let mut privilege = match (r.admin_path, r.tier1, r.max_access) {
            (Some(_), _, max) => pw
                .admin_path
                .max(max.map_or(0, |m| access_points(m.entry.access))),
            (None, Some(_), Some(max)) if pw.azure_tier1 > access_points(max.entry.access) => {
                pw.azure_tier1
            }
            (None, _, Some(max)) => access_points(max.entry.access),
            (None, _, None) => 0,
        };
        let rw = &p.reach;
        let principal_points =
            (rw.per_principal_doubling * b.principals.max(1).ilog2()).min(rw.max_principal_points);
        let tenant_points = u32::try_from(b.tenants.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .saturating_mul(rw.per_extra_tenant)
            .min(rw.max_tenant_points);
        let reach = b.reach.points(rw) + principal_points + tenant_points;
        let uw = &p.unclassified;
        let unclassified = if b.unknown == 0 {
            0
        } else {
            let more = u32::try_from(b.unknown - 1).unwrap_or(u32::MAX);
            uw.each_more
                .saturating_mul(more)
                .saturating_add(uw.first)
                .min(uw.max)
        };
        let [persistence, staleness, trust] = parts;
        let others = capability + reach + persistence + staleness + trust + unclassified;
        // A Tier-0 permission dominates: lift the total to the floor through the
        // privilege factor, so the factors still add up to the value.
        if r.admin_path.is_some() {
            let floor = u32::from(pw.admin_path_floor);
            if others + privilege < floor {
                privilege = floor - others;
            }
        }
        let total = others + privilege;
        let value = u8::try_from(total.min(100)).unwrap_or(100);
        (
            [
                capability,
                privilege,
                reach,
                persistence,
                staleness,
                trust,
                unclassified,
            ],
            value,
        )
    }

    /// Writes out the score of a grant or group: the sentences of capability,
    /// privilege, reach and unclassified, the three parts given, in order of points.
    fn write_out(
        &self,
        w: Written<'_, '_>,
        points: [u32; 7],
        value: u8,
        parts: [Part; 3],
    ) -> Score {
        let p = self.policy;
        let mut factors: Vec<Factor> = Vec::with_capacity(FACTORS.len());

        // Capability.
        let domains = domain_list(w.domains);
        let n = domains.len() as u32;
        let capability = match w.entries.top {
            Some(e) => {
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
                format!(
                    "Its most sensitive scope is `{}` ({}, {}, sensitivity {}/5{class}), and {reach_text}.",
                    clip(&e.scope, 100),
                    e.domain,
                    e.access,
                    e.sensitivity,
                )
            }
            None if w.no_scopes => "The provider lists no scopes for it, so it is scored as acting with everything its holder can reach.".to_owned(),
            None => "None of its scopes is in the catalog; what they reach is counted under unclassified.".to_owned(),
        };

        // Privilege.
        let pw = &p.privilege;
        let access_points = |a: Access| match a {
            Access::Read => pw.read,
            Access::Write => pw.write,
            Access::Admin => pw.admin,
        };
        let privilege = match (w.entries.admin_path, w.entries.tier1, w.entries.max_access) {
            (Some(t0), _, _) => format!(
                "`{}` is a Tier-0 permission, a path to tenant admin, so the grant counts as at least {} whatever else it holds.",
                clip(&t0.scope, 100),
                pw.admin_path_floor
            ),
            (None, Some(t1), Some(max)) if pw.azure_tier1 > access_points(max.access) => format!(
                "`{}` is an azure-tiering Tier-1 (restricted) Graph permission; the highest access level is {}.",
                clip(&t1.scope, 100),
                max.access
            ),
            (None, _, Some(max)) => format!(
                "Its highest access level is {} (`{}`).",
                max.access,
                clip(&max.scope, 100)
            ),
            (None, _, None) => "No catalogued scope says what access level it has.".to_owned(),
        };

        // Reach.
        let principals = w.principals.max(1);
        let tenants = w.tenants;
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
        let mut what = w.reach.what().to_owned();
        if let Some(first) = what.get(..1) {
            let upper = first.to_uppercase();
            what.replace_range(..1, &upper);
        }
        let reach = format!("{what}; {who}.");

        // Unclassified.
        let unclassified = if w.unknown.is_empty() {
            None
        } else {
            let n = w.unknown.len() as u64;
            let shown: Vec<String> = w
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
            let catalogs: Vec<Cow<'_, str>> = w
                .unknown
                .iter()
                .map(|(provider, _)| clip(provider, 40))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let detail = if !w.uncatalogued.is_empty() && w.uncatalogued.len() == catalogs.len() {
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
            Some(detail)
        };

        let [persistence, staleness, trust] = parts;
        factors.push(factor(
            CAPABILITY,
            points[0],
            capability,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        factors.push(factor(
            PRIVILEGE,
            points[1],
            privilege,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        factors.push(factor(
            REACH,
            points[2],
            reach,
            &[OWASP_NHI5, NIST_PR_AA_05],
        ));
        for (id, part) in [
            (PERSISTENCE, persistence),
            (STALENESS, staleness),
            (TRUST, trust),
        ] {
            factors.push(factor(id, part.points, part.detail, part.controls));
        }
        if let Some(detail) = unclassified {
            factors.push(factor(
                UNCLASSIFIED,
                points[6],
                detail,
                &[OWASP_NHI5, NIST_PR_AA_05],
            ));
        }
        // Largest first; the sort is stable, so equal points keep the canonical order.
        factors.sort_by_key(|f| std::cmp::Reverse(f.points));
        Score {
            value,
            tier: p.tier_for(value),
            factors,
        }
    }
}

/// What the sentences of a grant or group are written from.
#[derive(Clone, Copy)]
struct Written<'s, 'g> {
    entries: Entries<'s>,
    domains: u32,
    no_scopes: bool,
    reach: ReachClass,
    principals: u64,
    tenants: u64,
    unknown: &'s BTreeSet<(&'g str, &'g str)>,
    uncatalogued: &'s BTreeSet<&'g str>,
}

/// How many distinct scopes of `scopes` satisfy `pred`, allocating only when the
/// scopes are not sorted (the inventory keeps them sorted; a test may not).
fn distinct(scopes: &[String], pred: impl Fn(&str) -> bool) -> u32 {
    let sorted = scopes.windows(2).all(|w| w[0] <= w[1]);
    let n = if sorted {
        scopes
            .iter()
            .enumerate()
            .filter(|(i, s)| pred(s) && (*i == 0 || scopes[i - 1] != **s))
            .count()
    } else {
        scopes
            .iter()
            .filter(|s| pred(s))
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .len()
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
