//! End-to-end tests of the Microsoft Entra connector against its simulator: the real
//! connector (wasm) in the real host, a client-credentials token (client secret, and a
//! certificate assertion), `@odata.nextLink` paging that starts with an empty page, and
//! revocation that deletes grants and disables the emptied service principal.

use std::collections::BTreeSet;

use grantscope::config::Config;
use grantscope::model::GrantRecord;
use grantscope::plugin::RevocationStatus;
use grantscope_sim::Provider;

use crate::support::{Fixture, Target, by_id, check_scans, grants, ids, scan_until_a_fault, wire};

/// The world.
const SEED: u64 = 11;
const USERS: u32 = 400;
/// The certificate the simulator registers for the auditor app (a public thumbprint,
/// the simulator's `AUDITOR_CERT_THUMBPRINT`).
const THUMBPRINT: &str = "84E05C1D98BCE3A5421D225B140B36E86A3D5534";

async fn fixture(faults: f64) -> Fixture {
    Fixture::start_providers(SEED, USERS, faults, &[Provider::MicrosoftEntra]).await
}

#[tokio::test]
async fn scan_equals_truth() {
    let f = fixture(0.0).await;
    let config = f.config();
    assert_eq!(config.tenants.len(), 1);
    let scans = f.scan(&config).await;
    let truth = f.sim.truth();
    check_scans(&scans, &truth);
    let found = grants(&scans);
    for kind in ["delegated", "admin_consent", "application"] {
        assert!(
            found.iter().any(|g| wire(g.kind) == kind),
            "no {kind} grant"
        );
    }
    // Every synthetic vendor shows up, Microsoft's own apps never do.
    let vendors: BTreeSet<&str> = truth
        .grants
        .iter()
        .filter_map(|g| g.vendor.as_deref())
        .collect();
    assert_eq!(vendors.len(), 12, "{vendors:?}");
    for microsoft in [
        "00000003-0000-0000-c000-000000000000",
        "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        "73c2949e-da2d-457a-9607-fcc665198967",
        "5c0e5b1a-3f7d-4c1e-9a2b-6d8e0f1a2b3c",
    ] {
        assert!(found.iter().all(|g| g.app.id != microsoft), "{microsoft}");
    }
}

#[tokio::test]
async fn scan_equals_truth_with_faults() {
    let f = fixture(0.2).await;
    let config = f.config();
    let truth = f.sim.truth();
    scan_until_a_fault(&f, &config, &truth).await;
    assert_eq!(f.sim.truth(), truth, "scanning changes nothing");
}

#[tokio::test]
async fn a_certificate_assertion_works_too() {
    let f = fixture(0.0).await;
    let text = f.config_text();
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("client_secret_file"))
        .unwrap_or_else(|| panic!("no client secret in the config:\n{text}"));
    let key_line = format!(
        "private_key_file = \"grantscope.keys/github-app.pem\"\ncertificate_thumbprint = \"{THUMBPRINT}\""
    );
    let path = f.path("certificate.toml");
    std::fs::write(&path, text.replace(secret_line, &key_line))
        .unwrap_or_else(|e| panic!("write: {e}"));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("config: {e}"));
    let scans = f.scan(&config).await;
    check_scans(&scans, &f.sim.truth());

    // A wrong thumbprint names a certificate the app does not have: refused.
    let wrong = text.replace(
        secret_line,
        &key_line.replace(THUMBPRINT, "0000000000000000000000000000000000000000"),
    );
    std::fs::write(&path, wrong).unwrap_or_else(|e| panic!("write: {e}"));
    let config = Config::load(&path).unwrap_or_else(|e| panic!("config: {e}"));
    let scans = f.scan(&config).await;
    assert!(
        scans.iter().all(|s| !s.complete && s.grants.is_empty()),
        "a wrong certificate must not scan"
    );
}

#[tokio::test]
async fn revoking_one_app_removes_exactly_its_grants_and_disables_it() {
    let f = fixture(0.0).await;
    let config = f.config();
    let runtime = f.runtime(&config);
    let before = f.scan(&config).await;
    check_scans(&before, &f.sim.truth());
    let found = grants(&before);

    // A vendor app holding both delegated and application grants, still enabled.
    let apps: BTreeSet<&str> = found.iter().map(|g| g.app.id.as_str()).collect();
    let app_id = apps
        .into_iter()
        .filter(|a| {
            let of: Vec<&GrantRecord> = found.iter().filter(|g| g.app.id == *a).collect();
            of.iter().any(|g| wire(g.kind) == "application")
                && of.iter().any(|g| wire(g.kind) != "application")
                && of.iter().all(|g| {
                    g.app.attributes.get("account_enabled").map(String::as_str) == Some("true")
                })
                && of.iter().all(|g| g.app.name != "grantscope auditor")
        })
        .max_by_key(|a| found.iter().filter(|g| g.app.id == *a).count())
        .unwrap_or_else(|| panic!("no enabled app holds both kinds of grant"))
        .to_owned();
    let revoked: Vec<&GrantRecord> = found.iter().filter(|g| g.app.id == app_id).collect();
    let sp_id = revoked[0]
        .app
        .attributes
        .get("service_principal_id")
        .unwrap_or_else(|| panic!("no service principal id"))
        .clone();

    let mut details = Vec::new();
    for (i, grant) in revoked.iter().enumerate() {
        let t = Target::new(&runtime, &config, grant).await;
        assert!(t.present().await, "{} is present before", grant.id);
        let first = t.revoke().await;
        assert_eq!(first.status, RevocationStatus::Revoked, "{first:?}");
        assert!(
            first.manual_steps.iter().any(|s| s.contains("expire")),
            "what stays: {first:?}"
        );
        if i + 1 == revoked.len() {
            assert!(first.detail.contains("disabled"), "{first:?}");
        } else {
            assert!(first.detail.contains("stays enabled"), "{first:?}");
        }
        details.push(first.detail);
        assert!(!t.present().await, "{} is gone after revoking", grant.id);
    }
    for grant in &revoked {
        let t = Target::new(&runtime, &config, grant).await;
        let again = t.revoke().await;
        assert_eq!(again.status, RevocationStatus::AlreadyGone, "{again:?}");
    }

    // Each grant was addressed exactly twice (revoke, revoke again); the service
    // principal was disabled exactly once, under its own target.
    let stats = f.sim.stats();
    let mut want: Vec<(String, u64)> = revoked.iter().map(|g| (g.id.clone(), 2)).collect();
    want.push((
        format!("microsoft-entra/acme-entra/service-principal:{sp_id}"),
        1,
    ));
    want.sort();
    let got: Vec<(String, u64)> = stats
        .revocations
        .iter()
        .map(|r| (r.target.clone(), r.calls))
        .collect();
    assert_eq!(got, want, "{details:#?}");
    assert!(stats.revocations.iter().all(|r| r.app_id == app_id));

    // A rescan misses exactly that app's grants.
    let after = f.scan(&config).await;
    check_scans(&after, &f.sim.truth());
    let gone: BTreeSet<String> = ids(&found)
        .difference(&ids(&grants(&after)))
        .cloned()
        .collect();
    let want_gone: BTreeSet<String> = revoked.iter().map(|g| g.id.clone()).collect();
    assert_eq!(gone, want_gone);
    let mut expected = by_id(&found);
    for g in &revoked {
        expected.remove(&g.id);
    }
    assert_eq!(
        by_id(&grants(&after)).keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
}
