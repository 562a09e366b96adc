//! Revocation plans and outcomes, and probes.

use grantscope_connector_okta::api::{self, Probe};
use grantscope_connector_sdk::{
    ErrorCode, Method, RevocationStatus, RevocationTarget, TargetState,
};

use crate::{ORG, err, ok, response, settings, settings_with};

#[allow(
    clippy::needless_pass_by_value,
    reason = "callers build the JSON inline"
)]
fn target(grant_id: &str, action: &str, handle: serde_json::Value) -> RevocationTarget {
    RevocationTarget {
        grant_id: grant_id.to_owned(),
        action: action.to_owned(),
        handle: handle.to_string(),
    }
}

fn token_target(deactivate: bool) -> RevocationTarget {
    target(
        "okta/acme/refresh-token:oar1",
        "refresh-token",
        serde_json::json!({"user_id": "00u1", "client_id": "0oa1", "app_id": "0oa1",
                           "token_id": "oar1", "deactivate_app": deactivate}),
    )
}

#[test]
fn each_target_deletes_its_one_object() {
    let s = settings();
    let cases = [
        (
            target(
                "app-grant:oag1",
                "app-grant",
                serde_json::json!({"app_id": "0oa1", "client_id": "0oa1", "grant_id": "oag1", "deactivate_app": false}),
            ),
            "/api/v1/apps/0oa1/grants/oag1",
        ),
        (
            target(
                "user-grant:oag2",
                "user-grant",
                serde_json::json!({"user_id": "00u1", "client_id": "0oa1", "app_id": "0oa1", "grant_id": "oag2", "deactivate_app": false}),
            ),
            "/api/v1/users/00u1/grants/oag2",
        ),
        (
            token_target(false),
            "/api/v1/users/00u1/clients/0oa1/tokens/oar1",
        ),
        (
            target(
                "api-service:0oa9",
                "api-service",
                serde_json::json!({"id": "0oa9"}),
            ),
            "/integrations/api/v1/api-services/0oa9",
        ),
    ];
    for (t, path) in cases {
        let plan = ok(api::plan_revocation(&s, &t));
        assert_eq!(plan.deactivate, None);
        assert_eq!(plan.delete.method, Method::Delete);
        assert_eq!(plan.delete.url, format!("{ORG}{path}"));
        let done = ok(plan.outcome(&response(204, &[], b"")));
        assert_eq!(done.status, RevocationStatus::Revoked);
        assert!(!done.manual_steps.is_empty());
        let gone = ok(plan.outcome(&response(404, &[], br#"{"errorCode":"E0000007"}"#)));
        assert_eq!(gone.status, RevocationStatus::AlreadyGone);
        let denied = err(plan.outcome(&response(403, &[], br#"{"errorCode":"E0000006"}"#)));
        assert_eq!(denied.code, ErrorCode::Permission);
        assert!(denied.message.contains(".manage"), "{}", denied.message);
        let probe = ok(Probe::new(&s, &t));
        assert_eq!(probe.url(), format!("{ORG}{path}"));
        let id = path.rsplit('/').next().unwrap_or_default();
        let active = format!(r#"{{"id":"{id}","status":"ACTIVE"}}"#);
        assert_eq!(
            ok(probe.read(&response(200, &[], active.as_bytes()))),
            TargetState::Present
        );
        let revoked = format!(r#"{{"id":"{id}","status":"REVOKED"}}"#);
        assert_eq!(
            ok(probe.read(&response(200, &[], revoked.as_bytes()))),
            TargetState::Gone
        );
        // A 200 that does not show this object proves nothing either way.
        let other = br#"{"id":"oagOTHER","status":"ACTIVE"}"#;
        let half = &active.as_bytes()[..active.len() / 2];
        for unproven in [&b"{}"[..], b"", half, other] {
            assert_eq!(
                err(probe.read(&response(200, &[], unproven))).code,
                ErrorCode::Malformed
            );
        }
        assert_eq!(
            ok(probe.read(&response(404, &[], b"{}"))),
            TargetState::Gone
        );
        assert_eq!(
            err(probe.read(&response(500, &[], b"{}"))).code,
            ErrorCode::Provider
        );
    }
}

#[test]
fn a_vendor_owned_app_is_deactivated_only_when_handle_and_settings_agree() {
    let owned = settings_with(Some("0oa1"));
    let plan = ok(api::plan_revocation(&owned, &token_target(true)));
    let call = plan
        .deactivate
        .clone()
        .unwrap_or_else(|| panic!("no deactivation"));
    assert_eq!(call.method, Method::Post);
    assert_eq!(
        call.url,
        format!("{ORG}/api/v1/apps/0oa1/lifecycle/deactivate")
    );
    ok(plan.check_deactivation(&response(200, &[], b"{}")));
    ok(plan.check_deactivation(&response(404, &[], b"{}")));
    let e = err(plan.check_deactivation(&response(403, &[], br#"{"errorCode":"E0000006"}"#)));
    assert!(e.message.contains("okta.apps.manage"), "{}", e.message);
    let done = ok(plan.outcome(&response(204, &[], b"")));
    assert!(done.detail.contains("deactivated"), "{}", done.detail);
    // The setting no longer lists the app, or the handle did not ask: no deactivation.
    assert!(
        ok(api::plan_revocation(&settings(), &token_target(true)))
            .deactivate
            .is_none()
    );
    assert!(
        ok(api::plan_revocation(&owned, &token_target(false)))
            .deactivate
            .is_none()
    );
}

#[test]
fn mismatched_or_malformed_targets_are_refused() {
    let s = settings();
    let mut t = token_target(false);
    t.grant_id = "refresh-token:oarOTHER".to_owned();
    assert_eq!(
        err(api::plan_revocation(&s, &t)).code,
        ErrorCode::InvalidInput
    );
    let t = target("x:1", "uninstall", serde_json::json!({}));
    assert_eq!(
        err(api::plan_revocation(&s, &t)).code,
        ErrorCode::InvalidInput
    );
    let t = target(
        "api-service:a/b",
        "api-service",
        serde_json::json!({"id": "a/b"}),
    );
    assert_eq!(
        err(api::plan_revocation(&s, &t)).code,
        ErrorCode::InvalidInput
    );
    let t = target(
        "api-service:x",
        "api-service",
        serde_json::json!({"id": "x", "extra": 1}),
    );
    assert_eq!(err(Probe::new(&s, &t)).code, ErrorCode::InvalidInput);
}
