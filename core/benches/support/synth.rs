//! Synthetic grants for the scoring benchmark and `examples/score_million.rs`: built in
//! memory from a seed over the real embedded catalogs, shaped like a large estate
//! (six providers, ten tenants, thousands of apps, a hundred thousand people).

use std::collections::BTreeMap;

use grantscope::catalog::Catalog;
use grantscope::model::{AppRef, GrantKind, GrantRecord, PrincipalKind, PrincipalRef};
use grantscope::score::{VendorFacts, VendorStatus, Vendors};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

/// The benchmark's "now".
pub const NOW: OffsetDateTime = datetime!(2026-11-28 00:00:00 UTC);

const TENANTS: usize = 10;
const APPS_PER_PROVIDER: usize = 2_000;
const PEOPLE: usize = 100_000;
const VENDORS: usize = 300;

/// Scopes of one provider, split by whether they serve app-only grants.
struct Pools<'a> {
    provider: &'a str,
    delegated: Vec<&'a str>,
    application: Vec<&'a str>,
}

fn stamp(rng: &mut StdRng, max_days_ago: i64) -> Option<String> {
    let t = NOW - time::Duration::seconds(rng.random_range(0..max_days_ago * 86_400));
    t.format(&Rfc3339).ok()
}

/// `n` grants from `seed`; the same arguments give the same grants.
pub fn grants(catalog: &Catalog, n: usize, seed: u64) -> Vec<GrantRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    let pools: Vec<Pools<'_>> = catalog
        .providers()
        .filter_map(|p| catalog.provider(p))
        .map(|pc| {
            let (application, delegated): (Vec<_>, Vec<_>) =
                pc.entries().iter().partition(|e| e.kind == "application");
            Pools {
                provider: pc.provider(),
                delegated: delegated.iter().map(|e| e.scope.as_str()).collect(),
                application: application.iter().map(|e| e.scope.as_str()).collect(),
            }
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let pool = &pools[i % pools.len()];
        let kind = match (pool.provider, rng.random_range(0..10)) {
            ("github", 0..=2) => GrantKind::Installation,
            ("github", 3..=5) => GrantKind::PersonalToken,
            ("github", 6) => GrantKind::ApiKey,
            ("microsoft-entra", 0..=2) => GrantKind::Application,
            (_, 0) => GrantKind::AdminConsent,
            _ => GrantKind::Delegated,
        };
        let from = if kind == GrantKind::Application {
            &pool.application
        } else {
            &pool.delegated
        };
        let mut scopes: Vec<String> = if kind == GrantKind::ApiKey {
            Vec::new()
        } else {
            let count = rng.random_range(1..=8);
            from.choose_multiple(&mut rng, count)
                .map(|s| (*s).to_owned())
                .collect()
        };
        if rng.random_bool(0.03) {
            scopes.push(format!("custom.scope.{}", rng.random_range(0..50)));
        }
        scopes.sort();
        scopes.dedup();
        let tenant = format!("tenant-{}", rng.random_range(0..TENANTS));
        let app = rng.random_range(0..APPS_PER_PROVIDER);
        let tenant_wide = matches!(
            kind,
            GrantKind::Installation | GrantKind::AdminConsent | GrantKind::Application
        );
        let principal = if tenant_wide {
            PrincipalRef {
                kind: PrincipalKind::Tenant,
                id: tenant.clone(),
                display: None,
            }
        } else {
            PrincipalRef {
                kind: PrincipalKind::User,
                id: format!("user{}", rng.random_range(0..PEOPLE)),
                display: None,
            }
        };
        let mut attributes = BTreeMap::new();
        if kind == GrantKind::Installation {
            let selection = if rng.random_bool(0.5) {
                "all"
            } else {
                "selected"
            };
            attributes.insert("repository_selection".to_owned(), selection.to_owned());
        }
        let used = rng.random_bool(0.8) && kind != GrantKind::Installation;
        out.push(GrantRecord {
            id: format!("{}/{tenant}/{i}", pool.provider),
            provider: pool.provider.to_owned(),
            tenant,
            app: AppRef {
                id: format!("app-{app}"),
                name: format!("App {app}"),
                publisher: None,
                attributes: BTreeMap::new(),
            },
            principal,
            kind,
            scopes,
            created_at: stamp(&mut rng, 1_000),
            last_used_at: if used { stamp(&mut rng, 400) } else { None },
            // A third expire, between a month ago and two years ahead.
            expires_at: rng.random_bool(0.3).then(|| {
                let days = rng.random_range(-30..800);
                (NOW + time::Duration::days(days))
                    .format(&Rfc3339)
                    .unwrap_or_default()
            }),
            // Apps belong to vendors; a tenth of grants are people's own credentials.
            vendor: (!matches!(kind, GrantKind::PersonalToken | GrantKind::ApiKey))
                .then(|| format!("vendor-{}", app % VENDORS)),
            score: None,
            revocation: None,
            attributes,
            notes: Vec::new(),
            plugin: None,
        });
    }
    out
}

/// Registry facts for two thirds of the synthetic vendors, with every status.
pub fn vendors() -> Vendors {
    let statuses = [
        VendorStatus::Active,
        VendorStatus::Active,
        VendorStatus::Review,
        VendorStatus::Offboarding,
        VendorStatus::Offboarded,
    ];
    (0..VENDORS)
        .filter(|v| v % 3 != 0)
        .map(|v| {
            let name = format!("vendor-{v}");
            let facts = VendorFacts {
                name: name.clone(),
                owner: (v % 4 != 0).then(|| format!("owner{v}@example.com")),
                status: statuses[v % statuses.len()],
                contract_end: (v % 7 == 0).then(|| NOW.date()),
            };
            (name, facts)
        })
        .collect()
}
