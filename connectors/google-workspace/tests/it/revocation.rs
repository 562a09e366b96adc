//! Revocation targets, outcomes and probes.

use grantscope_connector_google_workspace::api::{Probe, Target, plan_revocation};
use grantscope_connector_sdk::{
    ErrorCode, Method, RevocationStatus, RevocationTarget, TargetState,
};
use serde_json::json;

use crate::{assert_error, err, json_response, ok, response, settings};

fn token_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: "google-workspace/acme/token:42:c1.apps.googleusercontent.com".to_owned(),
        action: "token".to_owned(),
        handle: r#"{"user_key":"42","client_id":"c1.apps.googleusercontent.com"}"#.to_owned(),
    }
}

fn asp_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: "asp:42:7".to_owned(),
        action: "asp".to_owned(),
        handle: r#"{"user_key":"42","code_id":7}"#.to_owned(),
    }
}

#[test]
fn deleting_a_token_and_deleting_it_again() {
    let call = ok(plan_revocation(&settings(), &token_target()));
    assert_eq!(call.method, Method::Delete);
    assert_eq!(
        call.url,
        "https://admin.googleapis.com/admin/directory/v1/users/42/tokens/c1.apps.googleusercontent.com"
    );
    let done = ok(call.outcome(&response(204, b"")));
    assert_eq!(done.status, RevocationStatus::Revoked);
    assert!(
        done.manual_steps
            .iter()
            .any(|s| s.contains("Blocked") && s.contains("no API"))
    );
    let gone = json!({"error": {"code": 404, "message": "Resource Not Found: clientId", "errors": [{"reason": "notFound"}]}});
    let again = ok(call.outcome(&json_response(404, &gone)));
    assert_eq!(again.status, RevocationStatus::AlreadyGone);
    assert!(!again.manual_steps.is_empty());
}

#[test]
fn failed_deletes_are_errors_not_successes() {
    let call = ok(plan_revocation(&settings(), &token_target()));
    let limited = json!({"error": {"code": 403, "errors": [{"reason": "userRateLimitExceeded"}]}});
    assert_eq!(
        err(call.outcome(&json_response(403, &limited))).code,
        ErrorCode::RateLimited
    );
    assert_eq!(
        err(call.outcome(&response(429, b""))).code,
        ErrorCode::RateLimited
    );
    assert_eq!(
        err(call.outcome(&response(500, b"{}"))).code,
        ErrorCode::Provider
    );
    let denied = json!({"error": {"code": 403, "errors": [{"reason": "forbidden"}]}});
    assert_eq!(
        err(call.outcome(&json_response(403, &denied))).code,
        ErrorCode::Permission
    );
}

#[test]
fn app_specific_passwords_are_deleted_too() {
    let call = ok(plan_revocation(&settings(), &asp_target()));
    assert!(
        call.url.ends_with("/admin/directory/v1/users/42/asps/7"),
        "{}",
        call.url
    );
    assert_eq!(
        ok(call.outcome(&response(204, b""))).status,
        RevocationStatus::Revoked
    );
    assert_eq!(
        ok(call.outcome(&response(404, b"{}"))).status,
        RevocationStatus::AlreadyGone
    );
}

#[test]
fn probes_read_without_changing_anything() {
    let token = br#"{"kind":"admin#directory#token","clientId":"c1.apps.googleusercontent.com"}"#;
    let asp = br#"{"kind":"admin#directory#asp","codeId":7,"userKey":"42"}"#;
    for (target, body) in [(token_target(), &token[..]), (asp_target(), &asp[..])] {
        let probe = ok(Probe::new(&settings(), &target));
        assert_eq!(ok(probe.read(&response(200, body))), TargetState::Present);
        assert_eq!(ok(probe.read(&response(404, b"{}"))), TargetState::Gone);
        // A 200 that does not show this resource proves nothing.
        for unproven in [&b"{}"[..], b"", &body[..body.len() / 2]] {
            assert_eq!(
                err(probe.read(&response(200, unproven))).code,
                ErrorCode::Malformed
            );
        }
        assert_eq!(
            err(probe.read(&response(429, b""))).code,
            ErrorCode::RateLimited
        );
    }
}

#[test]
fn targets_must_match_their_grant() {
    let mut t = token_target();
    t.grant_id = "token:43:c1.apps.googleusercontent.com".to_owned();
    assert_error(
        &err(Target::parse(&t)),
        ErrorCode::InvalidInput,
        &["does not match"],
    );
    let mut t = token_target();
    t.action = "installation".to_owned();
    assert_error(
        &err(Target::parse(&t)),
        ErrorCode::InvalidInput,
        &["unknown action"],
    );
    let mut t = token_target();
    t.handle = r#"{"user_key":"42","client_id":"c","extra":1}"#.to_owned();
    assert_error(
        &err(Target::parse(&t)),
        ErrorCode::InvalidInput,
        &["bad handle"],
    );
    let mut t = asp_target();
    t.handle = r#"{"user_key":"","code_id":7}"#.to_owned();
    t.grant_id = "asp::7".to_owned();
    assert_error(
        &err(Target::parse(&t)),
        ErrorCode::InvalidInput,
        &["no user"],
    );
    // An odd client id is encoded in the grant id and the URL alike.
    let t = RevocationTarget {
        grant_id: "token:42:a%2Fb".to_owned(),
        action: "token".to_owned(),
        handle: r#"{"user_key":"42","client_id":"a/b"}"#.to_owned(),
    };
    let call = ok(plan_revocation(&settings(), &t));
    assert!(call.url.ends_with("/tokens/a%2Fb"), "{}", call.url);
}
