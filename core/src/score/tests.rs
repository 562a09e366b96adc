//! Scoring: data-driven cases, policy checks, aggregates and the scorer's laws as
//! property tests (bounds, monotonicity in scopes, principals and access, determinism,
//! order independence, tiers monotone in value).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::*;
use crate::model::{AppRef, PrincipalKind, PrincipalRef, Tier};

/// The benchmarks' synthetic estate, for the equivalence tests below.
#[path = "../../benches/support/synth.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmark; not every helper is used"
)]
mod synth;

/// The fixed "now" of every case.
const NOW: OffsetDateTime = datetime!(2026-11-28 00:00:00 UTC);

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}")))
}

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::builtin().unwrap_or_else(|e| panic!("policy: {e}")))
}

fn scorer() -> Scorer<'static> {
    Scorer::new(catalog(), policy(), NOW)
}

fn days_ago(days: i64) -> Option<String> {
    let t = NOW - time::Duration::days(days);
    t.format(&Rfc3339).ok()
}

/// A grant of `kind` with `scopes`, held by user `alice` (or the tenant, for kinds a
/// tenant holds), created 100 days ago, used yesterday.
fn grant(provider: &str, kind: GrantKind, scopes: &[&str]) -> GrantRecord {
    let principal = match kind {
        GrantKind::Installation | GrantKind::AdminConsent | GrantKind::Application => {
            PrincipalRef {
                kind: PrincipalKind::Tenant,
                id: "acme".to_owned(),
                display: None,
            }
        }
        _ => PrincipalRef {
            kind: PrincipalKind::User,
            id: "alice".to_owned(),
            display: None,
        },
    };
    GrantRecord {
        id: format!("{provider}/acme/1"),
        provider: provider.to_owned(),
        tenant: "acme".to_owned(),
        app: AppRef {
            id: "app-1".to_owned(),
            name: "App One".to_owned(),
            publisher: None,
            attributes: BTreeMap::new(),
        },
        principal,
        kind,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        created_at: days_ago(100),
        last_used_at: days_ago(1),
        expires_at: None,
        vendor: None,
        score: None,
        revocation: None,
        attributes: BTreeMap::new(),
        notes: Vec::new(),
        plugin: None,
    }
}

fn vendor(
    owner: Option<&str>,
    status: VendorStatus,
    contract_end: Option<time::Date>,
) -> VendorFacts {
    VendorFacts {
        name: "Acme Analytics".to_owned(),
        owner: owner.map(str::to_owned),
        status,
        contract_end,
    }
}

fn sum(score: &Score) -> i32 {
    score.factors.iter().map(|f| f.points).sum()
}

/// Scores `g` and compares the tier and every factor's points, in order.
fn check(name: &str, g: &GrantRecord, ctx: &Context<'_>, tier: Tier, want: &[(&str, i32)]) {
    let score = scorer().score_explained(g, ctx);
    let got: Vec<(&str, i32)> = score
        .factors
        .iter()
        .map(|f| (f.factor.as_str(), f.points))
        .collect();
    assert_eq!(got, want, "{name}: factors\n{score:#?}");
    assert_eq!(score.tier, tier, "{name}: tier\n{score:#?}");
    assert_eq!(
        i32::from(score.value),
        sum(&score).min(100),
        "{name}: the value is the sum of the points, capped at 100"
    );
    for f in &score.factors {
        assert!(
            f.detail.ends_with('.'),
            "{name}: {} detail: {}",
            f.factor,
            f.detail
        );
        assert!(
            f.controls.iter().any(|c| c.starts_with("OWASP-NHI"))
                && f.controls.iter().any(|c| c.starts_with("NIST-CSF-2.0")),
            "{name}: {} controls {:?}",
            f.factor,
            f.controls
        );
    }
}

#[test]
fn grants_score_as_documented() {
    let active = vendor(Some("risk@acme.example"), VendorStatus::Active, None);
    let gone = vendor(None, VendorStatus::Offboarded, Some(date!(2026 - 06 - 30)));

    // A GitHub App installed org-wide, from a vendor the registry does not know.
    let mut g = grant(
        "github",
        GrantKind::Installation,
        &["contents:write", "issues:write", "metadata:read"],
    );
    g.attributes
        .insert("repository_selection".into(), "all".into());
    g.last_used_at = None;
    g.vendor = Some("Acme Analytics".into());
    check(
        "github installation",
        &g,
        &Context::default(),
        Tier::High,
        &[
            (CAPABILITY, 30),
            (REACH, 10),
            (PRIVILEGE, 6),
            (TRUST, 5),
            (PERSISTENCE, 4),
            (STALENESS, 0),
        ],
    );

    // Tier-0 dominates: the privilege factor lifts the value to the floor.
    let g = grant(
        "microsoft-entra",
        GrantKind::Application,
        &["RoleManagement.ReadWrite.Directory"],
    );
    let ctx = Context {
        principals_sharing_app: 1,
        vendor: Some(&active),
    };
    check(
        "tier-0 application permission",
        &g,
        &ctx,
        Tier::Critical,
        &[
            (CAPABILITY, 28),
            (PRIVILEGE, 24),
            (REACH, 14),
            (PERSISTENCE, 4),
            (STALENESS, 0),
            (TRUST, 0),
        ],
    );

    // Sign-in only, shared by 300 users: little capability, some reach.
    let g = grant(
        "google-workspace",
        GrantKind::Delegated,
        &["email", "openid", "profile"],
    );
    let ctx = Context {
        principals_sharing_app: 300,
        vendor: Some(&active),
    };
    check(
        "sign-in only",
        &g,
        &ctx,
        Tier::Low,
        &[
            (REACH, 10),
            (PERSISTENCE, 4),
            (CAPABILITY, 2),
            (PRIVILEGE, 0),
            (STALENESS, 0),
            (TRUST, 0),
        ],
    );

    // An SSH key lists no scopes: it acts with its holder's access, forever, unused.
    let mut g = grant("github", GrantKind::ApiKey, &[]);
    g.created_at = days_ago(500);
    g.last_used_at = days_ago(400);
    check(
        "ssh key",
        &g,
        &Context::default(),
        Tier::Medium,
        &[
            (CAPABILITY, 15),
            (STALENESS, 10),
            (PERSISTENCE, 8),
            (REACH, 2),
            (PRIVILEGE, 0),
            (TRUST, 0),
        ],
    );

    // A classic token with `repo` (which implies four more scopes) and a scope no
    // catalog knows; it expires soon and is new.
    let mut g = grant("github", GrantKind::PersonalToken, &["made:up", "repo"]);
    g.expires_at = NOW
        .checked_add(time::Duration::days(30))
        .and_then(|t| t.format(&Rfc3339).ok());
    g.created_at = days_ago(10);
    g.last_used_at = None;
    check(
        "classic token with an unknown scope",
        &g,
        &Context::default(),
        Tier::High,
        &[
            (CAPABILITY, 32),
            (PRIVILEGE, 12),
            (UNCLASSIFIED, 8),
            (REACH, 2),
            (PERSISTENCE, 0),
            (STALENESS, 0),
            (TRUST, 0),
        ],
    );

    // The Drift pattern: Salesforce `api` + `refresh_token` from an offboarded vendor.
    let mut g = grant(
        "salesforce",
        GrantKind::Delegated,
        &["api", "refresh_token"],
    );
    g.last_used_at = days_ago(200);
    g.vendor = Some("Acme Analytics".into());
    let ctx = Context {
        principals_sharing_app: 1,
        vendor: Some(&gone),
    };
    check(
        "offboarded vendor with offline access",
        &g,
        &ctx,
        Tier::Critical,
        &[
            (CAPABILITY, 30),
            (TRUST, 20),
            (PERSISTENCE, 10),
            (STALENESS, 8),
            (PRIVILEGE, 6),
            (REACH, 2),
        ],
    );

    // A provider without a catalog: unclassified, visible, never zero.
    let mut g = grant("acme-crm", GrantKind::Delegated, &["records.read"]);
    g.created_at = None;
    g.last_used_at = None;
    check(
        "provider without a catalog",
        &g,
        &Context::default(),
        Tier::Low,
        &[
            (UNCLASSIFIED, 8),
            (STALENESS, 6),
            (TRUST, 5),
            (PERSISTENCE, 4),
            (REACH, 2),
            (CAPABILITY, 0),
            (PRIVILEGE, 0),
        ],
    );
}

#[test]
fn sentences_say_why() {
    let mut g = grant("github", GrantKind::Installation, &["contents:write"]);
    g.last_used_at = None;
    let score = scorer().score_explained(&g, &Context::default());
    let detail = |id: &str| {
        score
            .factors
            .iter()
            .find(|f| f.factor == id)
            .map(|f| f.detail.clone())
            .unwrap_or_else(|| panic!("no {id} factor"))
    };
    assert_eq!(
        detail(STALENESS),
        "github does not report when an installation was last used, so its staleness is unknown."
    );
    // A connector can say its provider reports no use, for any kind of grant.
    let mut g = grant("google-workspace", GrantKind::Delegated, &["email"]);
    g.last_used_at = None;
    g.attributes.insert("usage_reported".into(), "false".into());
    let unreported = scorer().score_explained(&g, &Context::default());
    let staleness = unreported
        .factors
        .iter()
        .find(|f| f.factor == STALENESS)
        .unwrap_or_else(|| panic!("staleness"));
    assert_eq!(
        (staleness.points, staleness.detail.as_str()),
        (
            0,
            "google-workspace does not report when a delegated grant was last used, so its staleness is unknown."
        )
    );
    assert_eq!(
        detail(CAPABILITY),
        "Its most sensitive scope is `contents:write` (code, write, sensitivity 5/5), and it reaches 1 data domain: code."
    );
    assert_eq!(
        detail(REACH),
        "Installed on the tenant (which repositories is not reported); 1 principal in the tenant holds grants of this app."
    );
    let g = grant(
        "google-workspace",
        GrantKind::Delegated,
        &["https://mail.google.com/"],
    );
    let score = scorer().score_explained(&g, &Context::default());
    assert!(
        score.factors[0]
            .detail
            .contains("sensitivity 5/5, provider class restricted"),
        "{score:#?}"
    );
    // Hostile provider strings are clipped in sentences.
    let long = "x".repeat(10_000);
    let g = grant("github", GrantKind::Delegated, &[long.as_str()]);
    let score = scorer().score_explained(&g, &Context::default());
    assert!(
        score.factors.iter().all(|f| f.detail.len() < 600),
        "{score:#?}"
    );
}

#[test]
fn timestamps_that_do_not_parse_are_said_not_guessed() {
    let mut g = grant("github", GrantKind::PersonalToken, &["read:org"]);
    g.expires_at = Some("next tuesday".into());
    g.last_used_at = Some("yesterday".into());
    let score = scorer().score_explained(&g, &Context::default());
    let text: Vec<&str> = score.factors.iter().map(|f| f.detail.as_str()).collect();
    assert!(
        text.iter()
            .any(|d| d.contains("`next tuesday` is not an RFC 3339 time")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|d| d.contains("`yesterday` is not an RFC 3339 time")),
        "{text:?}"
    );
}

#[test]
fn every_catalogued_scope_is_classified() {
    for provider in catalog().providers() {
        let Some(pc) = catalog().provider(provider) else {
            unreachable!("listed providers have catalogs")
        };
        for e in pc.entries() {
            for kind in [GrantKind::Delegated, GrantKind::Application] {
                let g = grant(provider, kind, &[e.scope.as_str()]);
                let score = scorer().score_explained(&g, &Context::default());
                assert!(
                    score.factors.iter().all(|f| f.factor != UNCLASSIFIED),
                    "{provider} `{}` ({kind:?}) scored as unclassified",
                    e.scope
                );
            }
        }
    }
}

#[test]
fn score_all_counts_principals_sharing_an_app() {
    let mut grants = Vec::new();
    for (i, user) in ["a", "b", "c", "d", "a"].iter().enumerate() {
        let mut g = grant("google-workspace", GrantKind::Delegated, &["email"]);
        g.id = format!("google-workspace/acme/{i}");
        g.principal.id = (*user).to_owned();
        grants.push(g);
    }
    // Personal tokens and placeholder app ids are not one app.
    for user in ["a", "b", "c", "d"] {
        let mut g = grant("github", GrantKind::PersonalToken, &["read:org"]);
        g.app.id = "personal-access-token".into();
        g.principal.id = user.to_owned();
        grants.push(g);
        let mut g = grant("github", GrantKind::Delegated, &["read:org"]);
        g.app.id = "unidentified-oauth-app".into();
        g.principal.id = user.to_owned();
        grants.push(g);
    }
    let none = Vendors::new();
    let compact = scorer().score_all(&grants, &none);
    assert_eq!(compact.len(), grants.len());
    let scores: Vec<Score> = grants
        .iter()
        .zip(&compact)
        .map(|(g, s)| scorer().explain(s, g))
        .collect();
    for (g, s) in grants.iter().zip(&scores) {
        let reach = s
            .factors
            .iter()
            .find(|f| f.factor == REACH)
            .unwrap_or_else(|| panic!("reach"));
        let want = if g.provider == "google-workspace" {
            // Four distinct users: 2 + ilog2(4) = 4.
            4
        } else {
            2
        };
        assert_eq!(reach.points, want, "{}: {}", g.app.id, reach.detail);
        // The same as scoring one by one with the count given.
        let ctx = Context {
            principals_sharing_app: if want == 4 { 4 } else { 1 },
            vendor: None,
        };
        assert_eq!(*s, scorer().score_explained(g, &ctx));
    }
}

#[test]
fn vendor_aggregates_are_the_union_of_their_grants() {
    let active = vendor(Some("risk@acme.example"), VendorStatus::Active, None);
    let vendors: Vendors = [(active.name.clone(), active.clone())].into();
    let mut grants = Vec::new();
    let mut gh = grant("github", GrantKind::Installation, &["contents:read"]);
    gh.attributes
        .insert("repository_selection".into(), "selected".into());
    grants.push(gh);
    for (i, user) in ["a", "b", "c"].iter().enumerate() {
        let mut g = grant(
            "google-workspace",
            GrantKind::Delegated,
            &["https://www.googleapis.com/auth/gmail.readonly"],
        );
        g.id = format!("google-workspace/acme-eu/{i}");
        g.tenant = "acme-eu".into();
        g.principal.id = (*user).to_owned();
        grants.push(g);
    }
    for g in &mut grants {
        g.vendor = Some(active.name.clone());
    }
    let mut other = grant("slack", GrantKind::Delegated, &["channels:history"]);
    other.vendor = Some("Other Co".into());
    grants.push(other);

    let rows = scorer().aggregate_by(GroupBy::Vendor, &grants, &vendors);
    assert_eq!(rows.len(), 2);
    let acme = rows
        .iter()
        .find(|r| r.key == "Acme Analytics")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(acme.grants, 4);
    assert_eq!(acme.tenants, 2);
    assert_eq!(acme.principals, 4);
    assert_eq!(acme.providers, ["github", "google-workspace"]);
    assert_eq!(acme.domains, [Domain::Mail, Domain::Code]);
    assert_eq!(acme.max_access, Some(Access::Read));
    assert!(!acme.admin_path);
    let scores = scorer().score_all(&grants, &vendors);
    let best = grants
        .iter()
        .zip(&scores)
        .filter(|(g, _)| g.vendor.as_deref() == Some("Acme Analytics"))
        .map(|(_, s)| s.value())
        .max()
        .unwrap_or(0);
    assert!(acme.score.value > best, "{} <= {best}", acme.score.value);
    let reach = acme
        .score
        .factors
        .iter()
        .find(|f| f.factor == REACH)
        .unwrap_or_else(|| panic!("reach"));
    assert!(
        reach.detail.contains("4 principals across 2 tenants"),
        "{}",
        reach.detail
    );

    let apps = scorer().aggregate_by(GroupBy::App, &grants, &vendors);
    let keys: Vec<&str> = apps.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(apps.len(), 3, "{keys:?}");
    assert!(keys.contains(&"google-workspace/acme-eu/app-1"), "{keys:?}");
    // Rows are ordered by value, then key; the order of the grants does not matter.
    let mut reversed = grants.clone();
    reversed.reverse();
    assert_eq!(
        scorer().aggregate_by(GroupBy::Vendor, &reversed, &vendors),
        rows
    );
    assert!(
        rows.windows(2)
            .all(|w| w[0].score.value >= w[1].score.value)
    );
}

#[test]
fn policies_that_break_the_laws_are_refused() {
    let text = include_str!("../../../config/scoring.toml");
    let cases = [
        ("critical = 70", "critical = 40", "tiers"),
        (
            "sensitivity = [2, 6, 12, 20, 28]",
            "sensitivity = [2, 6, 12, 28, 20]",
            "capability.sensitivity",
        ),
        ("write = 6", "write = 20", "privilege"),
        (
            "admin_path_floor = 70",
            "admin_path_floor = 120",
            "privilege.admin_path_floor",
        ),
        (
            "{ days = 90, points = 5 }",
            "{ days = 20, points = 5 }",
            "staleness.steps",
        ),
        ("first = 8", "first = 0", "unclassified"),
        ("offboarded = 12", "offboarded = 500", "trust.offboarded"),
    ];
    for (from, to, key) in cases {
        assert!(text.contains(from), "{from}");
        match Policy::from_toml(&text.replacen(from, to, 1), "test.toml") {
            Err(ScoreError::Invalid { key: k, .. }) if k == key => {}
            other => panic!("{to}: {other:?}"),
        }
    }
    for broken in [
        text.replacen("[trust]", "[trust]\ncolour = 1", 1),
        text.replacen("max = 20\n", "", 1),
        "not toml".to_owned(),
    ] {
        let got = Policy::from_toml(&broken, "test.toml");
        assert!(matches!(got, Err(ScoreError::Parse { .. })), "{got:?}");
    }
    let missing = Policy::load(std::path::Path::new("/nonexistent/scoring.toml"));
    assert!(
        matches!(missing, Err(ScoreError::Read { .. })),
        "{missing:?}"
    );
}

#[test]
fn tiers_follow_the_thresholds() {
    let p = policy();
    let tiers: Vec<Tier> = (0..=100u8).map(|v| p.tier_for(v)).collect();
    assert!(tiers.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(p.tier_for(29), Tier::Low);
    assert_eq!(p.tier_for(30), Tier::Medium);
    assert_eq!(p.tier_for(50), Tier::High);
    assert_eq!(p.tier_for(70), Tier::Critical);
}

#[test]
fn vendor_status_round_trips() {
    for s in [
        VendorStatus::Active,
        VendorStatus::Review,
        VendorStatus::Offboarding,
        VendorStatus::Offboarded,
    ] {
        assert_eq!(VendorStatus::parse(s.name()), Some(s));
    }
    assert_eq!(VendorStatus::parse("gone"), None);
}

// ---------------------------------------------------------------------------------
// Laws.

const KINDS: [GrantKind; 6] = [
    GrantKind::Delegated,
    GrantKind::AdminConsent,
    GrantKind::Application,
    GrantKind::Installation,
    GrantKind::PersonalToken,
    GrantKind::ApiKey,
];

const PROVIDERS: [&str; 7] = [
    "github",
    "google-workspace",
    "microsoft-entra",
    "okta",
    "salesforce",
    "slack",
    // No catalog: every scope is unclassified.
    "acme-crm",
];

fn entries(provider: &str) -> &'static [crate::catalog::CatalogEntry] {
    catalog().provider(provider).map_or(&[], |p| p.entries())
}

/// A scope of `provider`: a catalog entry or one of its aliases, or now and then a
/// name no catalog knows.
fn scope_of(provider: &'static str) -> BoxedStrategy<String> {
    let known = entries(provider);
    let unknown = prop::sample::select(vec!["made:up", "x.unknown", "https://example.com/scope"])
        .prop_map(str::to_owned);
    if known.is_empty() {
        return unknown.boxed();
    }
    prop_oneof![
        9 => prop::sample::select(known).prop_map(|e| e.aliases.first().cloned().unwrap_or(e.scope)),
        1 => unknown,
    ]
    .boxed()
}

/// Any timestamp within three years of now, or none, or garbage.
fn stamp() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        6 => (-1100i64..1100).prop_map(days_ago),
        1 => Just(Some("not a time".to_owned())),
    ]
}

fn vendor_facts() -> impl Strategy<Value = Option<VendorFacts>> {
    let status = prop::sample::select(vec![
        VendorStatus::Active,
        VendorStatus::Review,
        VendorStatus::Offboarding,
        VendorStatus::Offboarded,
    ]);
    prop::option::of(
        (any::<bool>(), status, prop::option::of(-800i64..800)).prop_map(|(owner, status, end)| {
            vendor(
                owner.then_some("owner@acme.example"),
                status,
                end.map(|d| (NOW - time::Duration::days(d)).date()),
            )
        }),
    )
}

/// A random grant with a non-empty scope list, its sharing count and vendor.
fn case() -> impl Strategy<Value = (GrantRecord, u64, Option<VendorFacts>)> {
    prop::sample::select(PROVIDERS.to_vec())
        .prop_flat_map(|provider| {
            (
                Just(provider),
                prop::sample::select(KINDS.to_vec()),
                prop::collection::vec(scope_of(provider), 1..6),
                (stamp(), stamp(), stamp()),
                prop::sample::select(vec!["all", "selected", "none"]),
                (any::<bool>(), any::<bool>()),
                1u64..100_000,
                vendor_facts(),
                prop::option::of(Just("Acme Analytics".to_owned())),
            )
        })
        .prop_map(
            |(
                provider,
                kind,
                scopes,
                (created, used, expires),
                selection,
                (unverified, foreign),
                n,
                facts,
                vendor_name,
            )| {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                let mut g = grant(provider, kind, &scopes);
                g.created_at = created;
                g.last_used_at = used;
                g.expires_at = expires;
                g.vendor = vendor_name;
                g.attributes
                    .insert("repository_selection".into(), selection.into());
                if unverified {
                    g.app
                        .attributes
                        .insert("publisher_verified".into(), "false".into());
                }
                if foreign {
                    g.attributes.insert("foreign_tenant".into(), "true".into());
                }
                (g, n, facts)
            },
        )
}

fn value(g: &GrantRecord, n: u64, facts: Option<&VendorFacts>) -> u8 {
    let ctx = Context {
        principals_sharing_app: n,
        vendor: facts,
    };
    scorer().score_explained(g, &ctx).value
}

/// Pairs (lower, higher) of one provider's entries where the higher one has more access
/// and includes the lower one: raising a scope's access means swapping them.
type Raise = (&'static str, GrantKind, &'static str, &'static str);

fn raises() -> &'static [Raise] {
    static RAISES: OnceLock<Vec<Raise>> = OnceLock::new();
    RAISES.get_or_init(|| {
        let mut out = Vec::new();
        for provider in PROVIDERS {
            let Some(pc) = catalog().provider(provider) else {
                continue;
            };
            for e in pc.entries() {
                let kind = if e.kind == "application" {
                    GrantKind::Application
                } else {
                    GrantKind::Delegated
                };
                let Some(res) = pc.resolve(&e.scope, kind) else {
                    continue;
                };
                for low in res.implied() {
                    if low.access < e.access {
                        out.push((provider, kind, low.scope.as_str(), e.scope.as_str()));
                    }
                }
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_value_stays_in_range_and_matches_its_factors((g, n, facts) in case()) {
        let ctx = Context { principals_sharing_app: n, vendor: facts.as_ref() };
        let score = scorer().score_explained(&g, &ctx);
        prop_assert!(score.value <= 100);
        prop_assert_eq!(i32::from(score.value), sum(&score).min(100));
        prop_assert_eq!(score.tier, policy().tier_for(score.value));
        prop_assert!(score.factors.iter().all(|f| f.points >= 0));
        prop_assert!(score.factors.windows(2).all(|w| w[0].points >= w[1].points));
        let unknown = score.factors.iter().find(|f| f.factor == UNCLASSIFIED);
        prop_assert!(unknown.is_none_or(|f| f.points > 0), "an unknown scope is never zero");
    }

    #[test]
    fn scoring_is_deterministic_and_ignores_scope_order((g, n, facts) in case()) {
        let ctx = Context { principals_sharing_app: n, vendor: facts.as_ref() };
        let once = scorer().score_explained(&g, &ctx);
        prop_assert_eq!(&once, &scorer().score_explained(&g, &ctx));
        let mut reversed = g.clone();
        reversed.scopes.reverse();
        prop_assert_eq!(&once, &scorer().score_explained(&reversed, &ctx));
    }

    #[test]
    fn adding_a_scope_never_lowers_the_value(
        (g, n, facts) in case(),
        extra in prop::sample::select(PROVIDERS.to_vec()).prop_flat_map(scope_of),
        pick in any::<prop::sample::Index>(),
    ) {
        // The extra scope is of the grant's own provider most of the time.
        let own = entries(&g.provider);
        let extra = if own.is_empty() || pick.index(4) == 0 {
            extra
        } else {
            pick.get(own).scope.clone()
        };
        let before = value(&g, n, facts.as_ref());
        let mut wider = g.clone();
        wider.scopes.push(extra.clone());
        let after = value(&wider, n, facts.as_ref());
        prop_assert!(after >= before, "adding `{}`: {} → {}", extra, before, after);
    }

    #[test]
    fn more_principals_never_lower_the_value((g, n, facts) in case(), more in 1u64..1_000_000) {
        let before = value(&g, n, facts.as_ref());
        let after = value(&g, n.saturating_add(more), facts.as_ref());
        prop_assert!(after >= before, "{} → {} principals: {} → {}", n, n + more, before, after);
    }

    #[test]
    fn raising_access_never_lowers_the_value(
        (g, n, facts) in case(),
        raise in any::<prop::sample::Index>(),
    ) {
        let &(provider, kind, low, high) = raise.get(raises());
        let mut g = g;
        if g.provider != provider {
            // Keep the grant's shape, move it to the raise's provider.
            g.provider = provider.to_owned();
            g.scopes.clear();
        }
        if (g.kind == GrantKind::Application) != (kind == GrantKind::Application) {
            // Microsoft rows differ by kind: raise within the rows the grant resolves to.
            g.kind = kind;
        }
        g.scopes.push(low.to_owned());
        let before = value(&g, n, facts.as_ref());
        let mut raised = g.clone();
        raised.scopes.retain(|s| s != low);
        raised.scopes.push(high.to_owned());
        let after = value(&raised, n, facts.as_ref());
        prop_assert!(after >= before, "{}: `{}` → `{}`: {} → {}", provider, low, high, before, after);
    }

    #[test]
    fn an_aggregate_is_never_below_its_grants(
        cases in prop::collection::vec(case(), 1..8),
        by_vendor in any::<bool>(),
    ) {
        let mut vendors = Vendors::new();
        let grants: Vec<GrantRecord> = cases
            .into_iter()
            .enumerate()
            .map(|(i, (mut g, _, facts))| {
                g.id = format!("{}/{i}", g.id);
                g.principal.id = format!("p{}", i % 3);
                // One app belongs to one vendor, as in a real inventory.
                g.app.id = format!("app-{}", g.vendor.as_deref().unwrap_or("none"));
                if let (Some(f), Some(name)) = (facts, &g.vendor) {
                    vendors.entry(name.clone()).or_insert(f);
                }
                g
            })
            .collect();
        let group = if by_vendor { GroupBy::Vendor } else { GroupBy::App };
        let rows = scorer().aggregate_by(group, &grants, &vendors);
        let scores = scorer().score_all(&grants, &vendors);
        prop_assert_eq!(rows.iter().map(|r| r.grants).sum::<usize>(), grants.len());
        for (g, s) in grants.iter().zip(&scores) {
            let key = match group {
                GroupBy::App => format!("{}/{}/{}", g.provider, g.tenant, g.app.id),
                GroupBy::Vendor => g.vendor.clone().unwrap_or_default(),
            };
            let row = rows.iter().find(|r| r.key == key);
            prop_assert!(row.is_some_and(|r| r.score.value >= s.value()), "{} below {}", key, s.value());
        }
    }

    #[test]
    fn tiers_are_monotone_in_the_value_for_any_valid_thresholds(
        (medium, high, critical) in (1u8..=98)
            .prop_flat_map(|m| (Just(m), m + 1..=99))
            .prop_flat_map(|(m, h)| (Just(m), Just(h), h + 1..=100)),
        a in 0u8..=100,
        b in 0u8..=100,
    ) {
        let mut p = policy().clone();
        p.tiers = Tiers { critical, high, medium };
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assert!(p.tier_for(lo) <= p.tier_for(hi));
    }
}

// ---------------------------------------------------------------------------
// The compact scorer against the reference: the scorer as it was, which built every
// sentence while scoring (`reference.rs`). Written out, a compact score must be the
// same `Score`, byte for byte, for any grant, context, group and policy.

mod equivalence {
    use super::*;
    use crate::score::reference::RefScorer;

    use super::synth;

    fn reference() -> RefScorer<'static> {
        RefScorer::new(catalog(), policy(), NOW)
    }

    /// Timestamps of every shape a provider or a hostile plugin may send: the form
    /// connectors normalise to (the scorer's fast path), offsets, fractions, lowercase,
    /// a leap second, impossible dates and garbage (the general parser's cases).
    fn odd_stamp() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            4 => stamp(),
            1 => prop::sample::select(vec![
                "2026-11-27T23:59:60Z",
                "2026-02-30T00:00:00Z",
                "2026-11-27t10:00:00z",
                "2026-11-27T10:00:00.123456Z",
                "2026-11-27T10:00:00+05:30",
                "2026-11-27T10:00:00-23:59",
                "2026-11-27T24:00:00Z",
                "2026-13-01T00:00:00Z",
                "0000-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "2026-11-27T10:00:00",
                "2026-11-27 10:00:00Z",
                "+2026-11-27T10:00:00Z",
                "2026-11-2710:00:00Z",
                "",
            ])
            .prop_map(|s| Some(s.to_owned())),
        ]
    }

    /// [`case`] and more: unsorted and repeated scopes, no scopes, personal kinds,
    /// principals of every kind, the attributes the scorer reads, odd timestamps and a
    /// sharing count up to `u64::MAX`.
    fn wide_case() -> impl Strategy<Value = (GrantRecord, u64, Option<VendorFacts>)> {
        (
            case(),
            (odd_stamp(), odd_stamp(), odd_stamp()),
            prop::sample::select(vec![
                PrincipalKind::User,
                PrincipalKind::Tenant,
                PrincipalKind::Service,
            ]),
            (0u8..4, any::<bool>(), any::<bool>(), any::<bool>()),
            prop_oneof![8 => Just(None), 1 => Just(Some(0u64)), 1 => Just(Some(u64::MAX))],
            prop::sample::select(vec![
                "acme",
                "a-very-long-principal-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-beyond-eighty-bytes",
                "héllo\u{202e}wörld",
            ]),
        )
            .prop_map(
                |(
                    (mut g, mut n, facts),
                    (created, used, expires),
                    principal,
                    (scopes, token_expired, unreported, personal),
                    sharing,
                    name,
                )| {
                    g.created_at = created;
                    g.last_used_at = used;
                    g.expires_at = expires;
                    g.principal.kind = principal;
                    g.principal.id = name.to_owned();
                    match scopes {
                        0 => g.scopes.clear(),
                        1 => g.scopes.reverse(),
                        2 => {
                            if let Some(first) = g.scopes.first().cloned() {
                                g.scopes.push(first);
                            }
                        }
                        _ => {}
                    }
                    if token_expired {
                        g.attributes.insert("token_expired".into(), "true".into());
                    }
                    if unreported {
                        g.app
                            .attributes
                            .insert("usage_reported".into(), "false".into());
                    }
                    if personal {
                        g.kind = GrantKind::PersonalToken;
                    }
                    if let Some(s) = sharing {
                        n = s;
                    }
                    (g, n, facts)
                },
            )
    }

    fn check_one(g: &GrantRecord, ctx: &Context<'_>) -> Result<(), TestCaseError> {
        let compact = scorer().score(g, ctx);
        let written = scorer().explain(&compact, g);
        prop_assert_eq!(&written, &reference().score(g, ctx), "{:#?}", g);
        prop_assert_eq!(compact.value(), written.value);
        prop_assert_eq!(compact.tier(), written.tier);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn a_written_out_score_is_the_reference_score((g, n, facts) in wide_case()) {
            let ctx = Context { principals_sharing_app: n, vendor: facts.as_ref() };
            check_one(&g, &ctx)?;
        }

        #[test]
        fn the_fast_timestamp_reader_agrees_with_the_rfc3339_parser(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..61, s in 0u32..62,
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            let general = OffsetDateTime::parse(&text, &Rfc3339).ok();
            if let Some(fast) = super::super::parse_plain_utc(&text) {
                prop_assert_eq!(Some(fast), general, "{}", text);
            }
            prop_assert_eq!(super::super::parse_time(Some(&text)), general, "{}", text);
        }

        #[test]
        fn groups_and_whole_estates_are_the_reference(
            cases in prop::collection::vec(wide_case(), 1..24),
        ) {
            let mut vendors = Vendors::new();
            let grants: Vec<GrantRecord> = cases
                .into_iter()
                .enumerate()
                .map(|(i, (mut g, _, facts))| {
                    g.id = format!("{}/{i}", g.id);
                    g.principal.id = format!("p{}", i % 3);
                    g.app.id = format!("app-{}", i % 4);
                    g.tenant = format!("t{}", i % 2);
                    if let (Some(f), Some(name)) = (facts, &g.vendor) {
                        vendors.entry(name.clone()).or_insert(f);
                    }
                    g
                })
                .collect();
            let compact = scorer().score_all(&grants, &vendors);
            let old = reference().score_all(&grants, &vendors);
            for ((g, c), o) in grants.iter().zip(&compact).zip(&old) {
                prop_assert_eq!(&scorer().explain(c, g), o);
            }
            for group in [GroupBy::App, GroupBy::Vendor] {
                prop_assert_eq!(
                    scorer().aggregate_by(group, &grants, &vendors),
                    reference().aggregate_by(group, &grants, &vendors)
                );
            }
        }
    }

    /// Every entry of every real catalog, alone, in each kind of grant.
    #[test]
    fn every_catalogued_scope_scores_as_the_reference() {
        for provider in catalog().providers() {
            for e in entries(provider) {
                for kind in KINDS {
                    let g = grant(provider, kind, &[&e.scope]);
                    let r = check_one(&g, &Context::default());
                    assert!(r.is_ok(), "{provider} {} {kind:?}: {r:?}", e.scope);
                }
            }
        }
    }

    /// The benchmark's synthetic estate (real catalogs, every provider, vendors of every
    /// status): the whole-estate scores and both aggregates.
    #[test]
    fn the_synthetic_estate_scores_as_the_reference() {
        let grants = synth::grants(catalog(), 20_000, 7);
        let vendors = synth::vendors();
        let scorer = Scorer::new(catalog(), policy(), synth::NOW);
        let reference = RefScorer::new(catalog(), policy(), synth::NOW);
        let compact = scorer.score_all(&grants, &vendors);
        let old = reference.score_all(&grants, &vendors);
        for ((g, c), o) in grants.iter().zip(&compact).zip(&old) {
            assert_eq!(&scorer.explain(c, g), o, "{}", g.id);
        }
        for group in [GroupBy::App, GroupBy::Vendor] {
            assert!(
                scorer.aggregate_by(group, &grants, &vendors)
                    == reference.aggregate_by(group, &grants, &vendors),
                "{group:?}"
            );
        }
    }

    /// Every report format, from compact scores, is byte for byte the report of the
    /// same grants carrying the reference scorer's scores: a small estate (static HTML)
    /// and one past the HTML paging threshold.
    #[test]
    fn every_report_format_is_the_same_bytes_as_with_the_reference_scores() {
        use crate::report::{self, Format, ReportMeta, ReportOptions, Scores};
        for n in [300, crate::report::PAGED_ABOVE + 500] {
            let mut grants = synth::grants(catalog(), n, 11);
            let vendors = synth::vendors();
            let scorer = Scorer::new(catalog(), policy(), synth::NOW);
            let reference = RefScorer::new(catalog(), policy(), synth::NOW);
            let compact = scorer.score_all(&grants, &vendors);
            let mut meta = ReportMeta::new(synth::NOW);
            meta.vendors = scorer.aggregate_by(GroupBy::Vendor, &grants, &vendors);
            meta.apps = scorer.aggregate_by(GroupBy::App, &grants, &vendors);
            let mut with_reference = grants.clone();
            for (g, s) in with_reference
                .iter_mut()
                .zip(reference.score_all(&grants, &vendors))
            {
                g.score = Some(s);
            }
            // A stale embedded score must not leak into a compact report.
            for g in &mut grants {
                g.score = None;
            }
            for format in Format::ALL {
                for min_tier in [None, Some(Tier::High)] {
                    let options = ReportOptions {
                        min_tier,
                        ..ReportOptions::default()
                    };
                    let mut old = Vec::new();
                    let mut new = Vec::new();
                    let a = report::render(format, &with_reference, &meta, &options, &mut old);
                    let b = report::render_scored(
                        format,
                        &grants,
                        Scores::Compact {
                            scorer: &scorer,
                            scores: &compact,
                        },
                        &meta,
                        &options,
                        &mut new,
                    );
                    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
                    assert!(
                        old == new,
                        "{format} of {n} grants ({min_tier:?}) differs at byte {}",
                        old.iter().zip(&new).take_while(|(x, y)| x == y).count()
                    );
                }
            }
        }
    }

    /// A kept score stays small: it holds references and numbers, never text.
    #[test]
    fn a_compact_score_is_small() {
        assert!(
            std::mem::size_of::<Compact<'_>>() <= 160,
            "{}",
            std::mem::size_of::<Compact<'_>>()
        );
    }
}
