//! Contract versions: a connector built against an older contract keeps loading and
//! working, translated at the boundary; one that mixes versions is refused.

use grantscope::plugin::{LoadError, SUPPORTED_CONTRACTS};
use grantscope::scan::tenant_egress;

use crate::support::{self, Echo, Harness};

#[tokio::test]
async fn a_connector_built_for_contract_0_1_0_loads_scans_revokes_and_probes() {
    let echo = Echo::start().await;
    let mut h = Harness::new(
        true,
        &[&echo.host()],
        &[("url", &format!("{}/x", echo.url()))],
    );
    h.plugin = grantscope_sandbox_tests::LEGACY_V0_1;

    let scan = h.scan().await;
    assert!(scan.complete, "{:?}", scan.failures);
    assert_eq!(scan.grants.len(), 1);
    let g = &scan.grants[0];
    // Its request went out through the 0.1.0 egress import and came back.
    assert_eq!(
        g.attributes.get("observed").map(String::as_str),
        Some("status=200")
    );
    assert_eq!(echo.hits(), 1);
    assert_eq!(g.app.name, "Legacy app");

    // Its manifest says what it was built for and gets the host's defaults for what
    // 0.1.0 cannot say.
    let runtime = support::runtime();
    let c = runtime
        .load_file(std::path::Path::new(grantscope_sandbox_tests::LEGACY_V0_1))
        .await
        .unwrap_or_else(|e| panic!("a 0.1.0 connector must load: {e}"));
    let m = c.manifest();
    assert_eq!(m.contract, "0.1.0");
    assert!(SUPPORTED_CONTRACTS.contains(&"0.1.0"));
    assert!(m.quotas.is_empty());
    assert_eq!(m.consistency_window_ms, 0);

    // Revoke and probe go through the 0.1.0 exports too.
    let config = h.config();
    let tenant = &config.tenants[0];
    let egress = tenant_egress(&c, tenant, &runtime, 1).unwrap_or_else(|e| panic!("{e}"));
    let ctx = grantscope::plugin::TenantContext {
        tenant: tenant.name.clone(),
        settings: tenant.settings.clone(),
    };
    let target = g.revocation.clone().unwrap_or_else(|| panic!("a target"));
    let r = c
        .revoke(std::sync::Arc::clone(&egress), &ctx, &g.id, &target)
        .await
        .unwrap_or_else(|e| panic!("revoke: {e}"));
    assert_eq!(r.detail, "revoked h1");
    let present = c
        .probe(std::sync::Arc::clone(&egress), &ctx, &g.id, &target)
        .await
        .unwrap_or_else(|e| panic!("probe: {e}"));
    assert!(present);
    let gone = grantscope::model::RevocationTarget {
        handle: "gone".into(),
        ..target
    };
    let present = c
        .probe(egress, &ctx, &g.id, &gone)
        .await
        .unwrap_or_else(|e| panic!("probe: {e}"));
    assert!(!present);
}

#[tokio::test]
async fn a_component_whose_imports_and_exports_name_different_contracts_is_refused() {
    // The current hostile plugin, its export relabelled 0.1.0 while its imports stay
    // 0.2.0: the host binds one version per instance, so this cannot be served.
    let bytes = support::hostile_bytes();
    let patched = support::replace_all(
        &bytes,
        b"grantscope:connector/plugin@0.2.0",
        b"grantscope:connector/plugin@0.1.0",
    );
    match support::runtime().load("patched", &patched).await {
        Err(LoadError::UnsupportedContract { found, .. }) => assert_eq!(found, "0.2.0"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a component mixing contract versions must be refused"),
    }
}
