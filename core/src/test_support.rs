//! Fixtures for the library's unit tests.

use std::net::SocketAddr;

/// Serves `app` on a free loopback port for the rest of the test.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A bare grant for unit tests: provider `p`, tenant `t`, app `a`, held by user `u`,
/// delegated, no scopes, times or target. Tests change what they are about with
/// struct update syntax.
pub(crate) fn grant(id: &str) -> crate::model::GrantRecord {
    use crate::model::{AppRef, GrantKind, GrantRecord, PrincipalKind, PrincipalRef};
    GrantRecord {
        id: id.into(),
        provider: "p".into(),
        tenant: "t".into(),
        app: AppRef {
            id: "a".into(),
            name: "a".into(),
            publisher: None,
            attributes: std::collections::BTreeMap::new(),
        },
        principal: PrincipalRef {
            kind: PrincipalKind::User,
            id: "u".into(),
            display: None,
        },
        kind: GrantKind::Delegated,
        scopes: Vec::new(),
        created_at: None,
        last_used_at: None,
        expires_at: None,
        vendor: None,
        score: None,
        revocation: None,
        attributes: std::collections::BTreeMap::new(),
        notes: Vec::new(),
        plugin: None,
    }
}

/// A tenant-wide installation of app `app` (named the same) at `provider`, with the id
/// `{provider}/t/{app}`: the grant the policy and vendor tests reason about.
pub(crate) fn installation(provider: &str, app: &str) -> crate::model::GrantRecord {
    use crate::model::{GrantKind, PrincipalKind, PrincipalRef};
    let mut g = grant(&format!("{provider}/t/{app}"));
    g.provider = provider.into();
    g.app.id = app.into();
    g.app.name = app.into();
    g.principal = PrincipalRef {
        kind: PrincipalKind::Tenant,
        id: "t".into(),
        display: None,
    };
    g.kind = GrantKind::Installation;
    g
}

/// One tenant's scan as [`crate::store::Store::record_scan`] takes it: tenant `t` of
/// provider `p`, complete or not, finding `grants`.
pub(crate) fn tenant_scan(
    complete: bool,
    grants: Vec<crate::model::GrantRecord>,
) -> crate::scan::TenantScan {
    crate::scan::TenantScan {
        tenant: "t".into(),
        provider: "p".into(),
        connector: "p".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:00:01Z".into(),
        complete,
        tasks: 1,
        requests: 1,
        retries: 0,
        throttled: 0,
        failures: Vec::new(),
        grants,
    }
}

/// A planned action for journal tests: [`grant`] `id` with a `token` target whose
/// handle is the id.
pub(crate) fn action(id: &str) -> (crate::model::GrantRecord, crate::model::RevocationTarget) {
    let target = crate::model::RevocationTarget {
        action: "token".into(),
        handle: id.into(),
    };
    let g = crate::model::GrantRecord {
        revocation: Some(target.clone()),
        ..grant(id)
    };
    (g, target)
}
