//! Scoring end to end: every scope the GitHub simulator can emit is in the catalog, a
//! real scan's grants all score with no unclassified factor, and SCORING.md's worked
//! example is exactly what the scorer computes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use grantscope::catalog::Catalog;
use grantscope::model::{AppRef, GrantKind, GrantRecord, PrincipalKind, PrincipalRef, Score};
use grantscope::score::{
    self, Context, GroupBy, Policy, Scorer, VendorFacts, VendorStatus, Vendors,
};
use grantscope_sim::{Provider, SimOptions, Simulator};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::{date, datetime};

use crate::support::{Fixture, assert_complete, grants};

fn catalog() -> Catalog {
    Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}"))
}

fn policy() -> Policy {
    Policy::builtin().unwrap_or_else(|e| panic!("policy: {e}"))
}

fn kind_of(wire: &str) -> GrantKind {
    serde_json::from_value(serde_json::Value::String(wire.to_owned()))
        .unwrap_or_else(|e| panic!("grant kind `{wire}`: {e}"))
}

#[test]
fn every_simulated_github_scope_is_in_the_catalog() {
    let catalog = catalog();
    let mut seen = BTreeSet::new();
    for seed in [1, 7, 42, 1234, 99_991] {
        let opts = SimOptions {
            seed,
            users: 400,
            providers: vec![Provider::Github],
            ..SimOptions::default()
        };
        let truth = Simulator::new(opts)
            .unwrap_or_else(|e| panic!("simulator: {e}"))
            .truth();
        assert!(!truth.grants.is_empty(), "seed {seed}: no grants");
        for g in &truth.grants {
            let kind = kind_of(&g.kind);
            for s in &g.scopes {
                assert!(
                    catalog.lookup(&g.provider, s, kind).is_some(),
                    "seed {seed}: {} scope `{s}` ({}) is not in the {} catalog",
                    g.id,
                    g.kind,
                    g.provider
                );
                seen.insert(s.clone());
            }
        }
    }
    // The simulator draws on dozens of permissions and classic scopes; a handful would
    // mean the truth lost its scopes, not that the catalog is complete.
    assert!(seen.len() > 40, "only {} distinct scopes seen", seen.len());
}

#[tokio::test]
async fn a_real_scan_scores_with_no_unclassified_factor() {
    let f = Fixture::start(11, 300, 0.0).await;
    let config = f.config();
    let scans = f.scan(&config).await;
    assert_complete(&scans);
    let mut found = grants(&scans);
    assert!(!found.is_empty());
    // The connector does not map vendors yet; take the simulator's, and register half
    // of them so both known and unknown vendors are scored.
    let truth: BTreeMap<String, Option<String>> = f
        .sim
        .truth()
        .grants
        .into_iter()
        .map(|g| (g.id, g.vendor))
        .collect();
    let mut vendors = Vendors::new();
    for g in &mut found {
        g.vendor = truth.get(&g.id).cloned().flatten();
        if let Some(v) = &g.vendor
            && v.len() % 2 == 0
        {
            vendors.entry(v.clone()).or_insert_with(|| VendorFacts {
                name: v.clone(),
                owner: Some("owner@example.com".into()),
                status: VendorStatus::Active,
                contract_end: None,
            });
        }
    }
    let catalog = catalog();
    let policy = policy();
    let scorer = Scorer::new(&catalog, &policy, OffsetDateTime::now_utc());
    let scores = scorer.score_all(&found, &vendors);
    assert_eq!(scores.len(), found.len());
    for (g, s) in found.iter().zip(&scores) {
        let s = &scorer.explain(s, g);
        let ids: BTreeSet<&str> = s.factors.iter().map(|f| f.factor.as_str()).collect();
        assert!(
            !ids.contains(score::UNCLASSIFIED),
            "{} ({:?} {:?}) has unclassified scopes: {s:#?}",
            g.id,
            g.kind,
            g.scopes
        );
        for id in &score::FACTORS[..6] {
            assert!(ids.contains(id), "{}: no {id} factor: {s:#?}", g.id);
        }
        assert!(s.value <= 100);
        assert_eq!(s.tier, policy.tier_for(s.value), "{}", g.id);
        if g.kind == GrantKind::Installation {
            let staleness = s
                .factors
                .iter()
                .find(|f| f.factor == score::STALENESS)
                .unwrap_or_else(|| panic!("{}: staleness", g.id));
            assert!(
                staleness.detail.contains("does not report"),
                "{}: {}",
                g.id,
                staleness.detail
            );
        }
    }
    for group in [GroupBy::App, GroupBy::Vendor] {
        let rows = scorer.aggregate_by(group, &found, &vendors);
        assert_eq!(
            rows.iter().map(|r| r.grants).sum::<usize>(),
            found.len(),
            "{group:?}: every grant in one row"
        );
    }
}

/// The worked example of SCORING.md: a Salesforce connected app holding `api` and
/// `refresh_token` (the scopes of the 2025 Drift tokens), consented by 40 people.
fn worked_example() -> (GrantRecord, VendorFacts, u64, OffsetDateTime) {
    let now = datetime!(2026-11-28 00:00:00 UTC);
    let at = |t: OffsetDateTime| t.format(&Rfc3339).ok();
    let grant = GrantRecord {
        id: "salesforce/acme/0Ci5e000000001".into(),
        provider: "salesforce".into(),
        tenant: "acme".into(),
        app: AppRef {
            id: "3MVG9chatbot".into(),
            name: "Chat Assist".into(),
            publisher: None,
            attributes: BTreeMap::new(),
        },
        principal: PrincipalRef {
            kind: PrincipalKind::User,
            id: "integration@acme.example".into(),
            display: None,
        },
        kind: GrantKind::Delegated,
        scopes: vec!["api".into(), "refresh_token".into()],
        created_at: at(datetime!(2025-09-01 09:00:00 UTC)),
        last_used_at: at(datetime!(2026-07-20 14:30:00 UTC)),
        expires_at: None,
        vendor: Some("Chat Assist Inc".into()),
        score: None,
        revocation: None,
        attributes: BTreeMap::new(),
        notes: Vec::new(),
        plugin: None,
    };
    let vendor = VendorFacts {
        name: "Chat Assist Inc".into(),
        owner: None,
        status: VendorStatus::Active,
        contract_end: Some(date!(2026 - 06 - 30)),
    };
    (grant, vendor, 40, now)
}

/// The example's score as the Markdown table SCORING.md shows.
fn render(score: &Score) -> String {
    let mut out = String::from("| factor | points | why | controls |\n|---|---:|---|---|\n");
    for f in &score.factors {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            f.factor,
            f.points,
            f.detail.replace('|', "\\|"),
            f.controls.join(", ")
        ));
    }
    let tier = match score.tier {
        grantscope::model::Tier::Critical => "critical",
        grantscope::model::Tier::High => "high",
        grantscope::model::Tier::Medium => "medium",
        grantscope::model::Tier::Low => "low",
    };
    out.push_str(&format!(
        "| **value** | **{}** | tier **{tier}** | |\n",
        score.value
    ));
    out
}

const BEGIN: &str = "<!-- worked-example:begin (generated by core/tests/it/scoring.rs) -->\n";
const END: &str = "<!-- worked-example:end -->";

/// SCORING.md's worked example is the scorer's output, so the document cannot rot.
/// Regenerate the table with
/// `GRANTSCOPE_REGENERATE_DOCS=1 cargo test -p grantscope --test it scoring`.
#[test]
fn the_scoring_md_worked_example_is_computed() {
    let (grant, vendor, sharing, now) = worked_example();
    let catalog = catalog();
    let policy = policy();
    let ctx = Context {
        principals_sharing_app: sharing,
        vendor: Some(&vendor),
    };
    let score = Scorer::new(&catalog, &policy, now).score_explained(&grant, &ctx);
    let table = render(&score);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../SCORING.md");
    let doc =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{} has no worked-example markers", path.display())
    };
    let have = &doc[start + BEGIN.len()..end];
    if have != table {
        if std::env::var_os("GRANTSCOPE_REGENERATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..start + BEGIN.len()], &doc[end..]);
            std::fs::write(&path, updated)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        } else {
            panic!(
                "SCORING.md's worked example is out of date; regenerate with\n  GRANTSCOPE_REGENERATE_DOCS=1 cargo test -p grantscope --test it scoring\nwant:\n{table}\nhave:\n{have}"
            );
        }
    }
    // The prose around the table quotes the total.
    assert!(
        doc.contains(&format!("adds up to **{}**", score.value)),
        "SCORING.md must say the example adds up to **{}**",
        score.value
    );
}
