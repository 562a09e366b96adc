//! Revocation outcomes: the deletion, the check by reading whether the service
//! principal keeps other grants, the idempotent disable, and failures after the grant
//! is gone (reads tried again, the write never; what failed is reported).

use grantscope_connector_microsoft_entra::api::{
    self, ACTION_APP_ROLE_ASSIGNMENT, ACTION_PERMISSION_GRANT, Target,
};
use grantscope_connector_sdk::{
    ErrorCode, Method, RevocationStatus, RevocationTarget, TargetState,
};

use crate::{Fake, assert_error, err, ok, reply, settings};

const CLIENT: &str = "3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5";

fn grant(id: &str) -> RevocationTarget {
    RevocationTarget {
        grant_id: format!("permission-grant:{id}"),
        action: ACTION_PERMISSION_GRANT.to_owned(),
        handle: format!(r#"{{"grant_id":"{id}","client_id":"{CLIENT}"}}"#),
    }
}

fn empty() -> crate::Reply {
    reply(200, r#"{"value":[]}"#)
}

fn enabled(on: bool) -> crate::Reply {
    reply(
        200,
        &format!(r#"{{"id":"{CLIENT}","accountEnabled":{on}}}"#),
    )
}

/// A fake whose deletion of delegated grant AAAA answers `answer`; tests add the reads.
fn deleting(answer: crate::Reply) -> Fake {
    Fake::default().on(Method::Delete, "oauth2PermissionGrants/AAAA", vec![answer])
}

/// Grant AAAA is its enabled service principal's last: its deletion answers `delete`,
/// and the listing still shows it (replication delay, or a deletion that did not
/// land), which the check must ignore.
fn last_grant(delete: crate::Reply) -> Fake {
    deleting(delete)
        .on(
            Method::Get,
            "/oauth2PermissionGrants",
            vec![reply(200, r#"{"value":[{"id":"AAAA"}]}"#)],
        )
        .on(Method::Get, "/appRoleAssignments", vec![empty()])
        .on(
            Method::Get,
            "$select=id,accountEnabled",
            vec![enabled(true)],
        )
        .on(Method::Patch, "/servicePrincipals/", vec![reply(204, "")])
}

#[test]
fn the_last_grant_disables_the_service_principal_once() {
    let mut t = last_grant(reply(204, ""));
    let r = ok(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(r.detail.contains("was disabled"), "{}", r.detail);
    assert!(
        r.manual_steps
            .iter()
            .any(|s| s.contains("revokeSignInSessions"))
    );
    assert!(
        r.manual_steps
            .iter()
            .any(|s| s.contains("accountEnabled=true"))
    );
    assert_eq!(t.calls_to(Method::Patch, CLIENT), 1);
    assert_eq!(t.calls_to(Method::Delete, ""), 1);

    // Already disabled (e.g. revoking again): no PATCH.
    let mut t = deleting(reply(
        404,
        r#"{"error":{"code":"Request_ResourceNotFound","message":"gone"}}"#,
    ))
    .on(Method::Get, "/oauth2PermissionGrants", vec![empty()])
    .on(Method::Get, "/appRoleAssignments", vec![empty()])
    .on(
        Method::Get,
        "$select=id,accountEnabled",
        vec![enabled(false)],
    );
    let r = ok(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(r.status, RevocationStatus::AlreadyGone);
    assert!(r.detail.contains("already disabled"), "{}", r.detail);
    assert_eq!(t.calls_to(Method::Patch, ""), 0);
}

#[test]
fn a_garbled_read_before_the_disable_is_read_again() {
    let garbled = || reply(200, r#"{"value":[{"id":"#);
    let mut t = deleting(reply(204, ""))
        .on(
            Method::Get,
            "/oauth2PermissionGrants",
            vec![garbled(), empty()],
        )
        .on(Method::Get, "/appRoleAssignments", vec![empty()])
        .on(
            Method::Get,
            "$select=id,accountEnabled",
            vec![reply(502, "<html>Bad Gateway</html>"), enabled(true)],
        )
        .on(Method::Patch, "/servicePrincipals/", vec![reply(204, "")]);
    let r = ok(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert!(r.detail.contains("was disabled"), "{}", r.detail);
    assert_eq!(t.calls_to(Method::Get, "/oauth2PermissionGrants"), 3);
    assert_eq!(t.calls_to(Method::Patch, CLIENT), 1);

    // Garbled every time: reported with the manual step, and nothing written.
    let mut t =
        deleting(reply(204, "")).on(Method::Get, "/oauth2PermissionGrants", vec![garbled()]);
    let r = ok(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(r.detail.contains("failed"), "{}", r.detail);
    assert!(r.manual_steps.iter().any(|s| s.contains("by hand")));
    assert_eq!(t.calls_to(Method::Get, "/oauth2PermissionGrants"), 3);
    assert_eq!(t.calls_to(Method::Patch, ""), 0);
    assert_eq!(t.calls_to(Method::Delete, ""), 1);
}

#[test]
fn an_unanswered_deletion_of_the_last_grant_still_disables_the_service_principal() {
    // The host re-reads an unanswered target and sends nothing more when it is gone,
    // so this call is the only chance to disable the service principal.
    let mut t = last_grant(reply(502, "<html>Bad Gateway</html>"));
    let e = err(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(
        e.code,
        ErrorCode::Provider,
        "still unanswered: the host re-reads"
    );
    assert!(e.message.contains("was disabled"), "{}", e.message);
    assert_eq!(t.calls_to(Method::Patch, CLIENT), 1);

    // A refusal says nothing was done, and a rate limit asks for quiet: nothing more.
    for (status, body) in [
        (
            403,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        ),
        (
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        ),
    ] {
        let mut t = deleting(reply(status, body));
        err(api::revoke(&settings(), &grant("AAAA"), &mut t));
        assert_eq!(t.calls_to(Method::Delete, ""), 1);
        assert_eq!(t.calls_to(Method::Get, ""), 0, "HTTP {status}");
        assert_eq!(t.calls_to(Method::Patch, ""), 0, "HTTP {status}");
    }
}

#[test]
fn other_grants_keep_the_service_principal_enabled() {
    // Another delegated grant on the second page (after an empty first page).
    let first = format!(
        r#"{{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/servicePrincipals/{CLIENT}/oauth2PermissionGrants?$top=999&$skiptoken=x"}}"#
    );
    let mut t = deleting(reply(204, ""))
        .on(
            Method::Get,
            "skiptoken=x",
            vec![reply(200, r#"{"value":[{"id":"BBBB"}]}"#)],
        )
        .on(
            Method::Get,
            "/oauth2PermissionGrants",
            vec![reply(200, &first)],
        );
    let r = ok(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(r.detail.contains("stays enabled"), "{}", r.detail);
    assert_eq!(t.calls_to(Method::Patch, ""), 0);
    assert_eq!(t.calls_to(Method::Get, "appRoleAssignments"), 0);
}

#[test]
fn a_failure_after_the_deletion_is_reported_not_raised() {
    let mut t = Fake::default()
        .on(Method::Delete, "appRoleAssignedTo/QUFB", vec![reply(204, "")])
        .on(Method::Get, "/oauth2PermissionGrants", vec![empty()])
        .on(Method::Get, "/appRoleAssignments", vec![empty()])
        .on(Method::Get, "$select=id,accountEnabled", vec![enabled(true)])
        .on(Method::Patch, "/servicePrincipals/", vec![reply(403, r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#)]);
    let target = RevocationTarget {
        grant_id: "microsoft-entra/acme/app-role-assignment:QUFB".to_owned(),
        action: ACTION_APP_ROLE_ASSIGNMENT.to_owned(),
        handle: format!(
            r#"{{"assignment_id":"QUFB","resource_id":"6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63","client_id":"{CLIENT}"}}"#
        ),
    };
    let r = ok(api::revoke(&settings(), &target, &mut t));
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(
        r.detail.contains("Application.ReadWrite.All"),
        "{}",
        r.detail
    );
    assert!(r.manual_steps.iter().any(|s| s.contains("by hand")));
    assert!(
        r.manual_steps
            .iter()
            .any(|s| s.contains("App-only access tokens"))
    );
}

#[test]
fn a_refused_deletion_is_an_error() {
    let mut t = Fake::default().on(
        Method::Delete,
        "",
        vec![reply(
            403,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"no"}}"#,
        )],
    );
    let e = err(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_error(
        &e,
        ErrorCode::Permission,
        &["DelegatedPermissionGrant.ReadWrite.All"],
    );
    assert_eq!(t.calls.len(), 1, "nothing after a refused deletion");
    let mut t = Fake::default().on(Method::Delete, "", vec![reply(500, "{}")]);
    let e = err(api::revoke(&settings(), &grant("AAAA"), &mut t));
    assert_eq!(e.code, ErrorCode::Provider);
}

#[test]
fn targets_are_checked_before_any_call() {
    let bad = [
        RevocationTarget {
            action: "uninstall".to_owned(),
            ..grant("AAAA")
        },
        RevocationTarget {
            handle: "{}".to_owned(),
            ..grant("AAAA")
        },
        RevocationTarget {
            grant_id: "permission-grant:BBBB".to_owned(),
            ..grant("AAAA")
        },
        grant("../../users"),
    ];
    for target in bad {
        let mut t = Fake::default();
        let e = err(api::revoke(&settings(), &target, &mut t));
        assert_eq!(e.code, ErrorCode::InvalidInput, "{}", e.message);
        assert!(t.calls.is_empty());
        let e = err(api::probe(&settings(), &target, &mut t));
        assert_eq!(e.code, ErrorCode::InvalidInput);
    }
    let t = ok(Target::parse(&grant("AAAA")));
    assert_eq!(t.grant_id(), "permission-grant:AAAA");
}

#[test]
fn probing_a_deleted_service_principal_says_gone() {
    let mut t = Fake::default();
    assert_eq!(
        ok(api::probe(&settings(), &grant("AAAA"), &mut t)),
        TargetState::Gone
    );
    let mut t = Fake::default().on(Method::Get, "", vec![reply(503, "{}")]);
    assert_eq!(
        err(api::probe(&settings(), &grant("AAAA"), &mut t)).code,
        ErrorCode::Provider
    );
}
