//! Revocation targets, the DeleteToken read, and how answers map to results.

use grantscope_connector_salesforce::api::{self, RevokeCall, Target, TokenKey};
use grantscope_connector_sdk::{ErrorCode, RevocationStatus, RevocationTarget, TargetState};

use crate::{assert_error, err, ok, response, settings};

fn key() -> TokenKey {
    TokenKey {
        user_id: "0055g00000Ab12cAAB".to_owned(),
        app_name: "Bob's App".to_owned(),
        created: "2023-02-07T16:11:09Z".to_owned(),
    }
}

fn token_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: key().grant_id(),
        action: "oauth-token".to_owned(),
        handle: serde_json::to_string(&key()).unwrap_or_default(),
    }
}

fn sea_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: "salesforce/acme/setup-entity-access:0J05g00000Aa1bCCAR".to_owned(),
        action: "setup-entity-access".to_owned(),
        handle: r#"{"id":"0J05g00000Aa1bCCAR"}"#.to_owned(),
    }
}

#[test]
fn targets_are_checked_against_their_grant() {
    assert_eq!(
        key().grant_id(),
        "oauth-token:0055g00000Ab12cAAB:20230207T161109Z:Bob%27s%20App"
    );
    assert_eq!(
        ok(Target::parse(&token_target())),
        Target::OauthToken(key())
    );
    let mut qualified = token_target();
    qualified.grant_id = format!("salesforce/acme/{}", qualified.grant_id);
    ok(Target::parse(&qualified));
    ok(Target::parse(&sea_target()));

    let mut other = token_target();
    other.grant_id = "oauth-token:005X:20230207T161109Z:Bob%27s%20App".to_owned();
    assert_error(
        &err(Target::parse(&other)),
        ErrorCode::InvalidInput,
        &["does not match"],
    );
    let mut bad_time = token_target();
    bad_time.handle = bad_time.handle.replace("16:11:09Z", "16:11:09.000+0000");
    assert_error(
        &err(Target::parse(&bad_time)),
        ErrorCode::InvalidInput,
        &["UTC creation time"],
    );
    let mut injected = sea_target();
    injected.handle = r#"{"id":"0J0' OR Id != '"}"#.to_owned();
    assert_error(
        &err(Target::parse(&injected)),
        ErrorCode::InvalidInput,
        &["record id"],
    );
    let mut action = sea_target();
    action.action = "uninstall".to_owned();
    assert_error(
        &err(Target::parse(&action)),
        ErrorCode::InvalidInput,
        &["unknown action"],
    );
}

#[test]
fn probes_and_delete_token_reads_name_the_row_by_its_key() {
    let s = settings();
    let t = ok(Target::parse(&token_target()));
    let probe = t.probe_url(&s);
    let q = "SELECT UserId, AppName, CreatedDate FROM OauthToken WHERE UserId = '0055g00000Ab12cAAB' \
             AND AppName = 'Bob\\'s App' AND CreatedDate = 2023-02-07T16:11:09Z";
    assert_eq!(probe, s.query_url(q));
    assert!(
        !probe.contains("DeleteToken"),
        "a probe never reads the DeleteToken"
    );
    let read = t.delete_token_url(&s).unwrap_or_default();
    assert!(read.starts_with(&s.query_url("SELECT DeleteToken FROM OauthToken WHERE UserId")));
    let sea = ok(Target::parse(&sea_target()));
    assert_eq!(
        sea.probe_url(&s),
        s.query_url("SELECT Id FROM SetupEntityAccess WHERE Id = '0J05g00000Aa1bCCAR'")
    );
    assert_eq!(
        api::sea_delete_url(&s, &sea).as_deref(),
        Some(
            "https://acme.my.salesforce.com/services/data/v64.0/sobjects/SetupEntityAccess/0J05g00000Aa1bCCAR"
        )
    );
    let present = br#"{"totalSize":1,"done":true,"records":[{"attributes":{"type":"OauthToken"},"UserId":"x"}]}"#;
    let gone = br#"{"totalSize":0,"done":true,"records":[]}"#;
    assert_eq!(
        ok(api::read_probe(&s, &t, &response(200, &[], present))),
        TargetState::Present
    );
    assert_eq!(
        ok(api::read_probe(&s, &t, &response(200, &[], gone))),
        TargetState::Gone
    );
    assert_eq!(
        err(api::read_probe(
            &s,
            &t,
            &response(
                403,
                &[],
                br#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"x"}]"#
            )
        ))
        .code,
        ErrorCode::RateLimited
    );
}

#[test]
fn delete_tokens_stay_secret() {
    let s = settings();
    let secret = "00D5g000008XYZa!SECRETVALUE+/=";
    let body = format!(
        r#"{{"totalSize":1,"done":true,"records":[{{"attributes":{{"type":"OauthToken"}},"DeleteToken":"{secret}"}}]}}"#
    );
    let tokens = ok(api::read_delete_tokens(
        &s,
        &response(200, &[], body.as_bytes()),
    ));
    assert_eq!(tokens.len(), 1);
    assert!(!format!("{tokens:?}").contains("SECRET"));
    assert_eq!(
        String::from_utf8_lossy(&tokens[0].form_body()),
        "token=00D5g000008XYZa%21SECRETVALUE%2B%2F%3D"
    );
    // A malformed answer does not quote the body.
    let cut = &body.as_bytes()[..body.len() - 10];
    let e = err(api::read_delete_tokens(&s, &response(200, &[], cut)));
    assert_eq!(e.code, ErrorCode::Malformed);
    assert!(!e.message.contains("SECRET"), "{}", e.message);
    // A row without its DeleteToken means the user may not read it.
    let hidden = br#"{"totalSize":1,"done":true,"records":[{"attributes":{"type":"OauthToken"},"DeleteToken":null}]}"#;
    assert_error(
        &err(api::read_delete_tokens(&s, &response(200, &[], hidden))),
        ErrorCode::Permission,
        &["Manage Connected Apps"],
    );
    let none = br#"{"totalSize":0,"done":true,"records":[]}"#;
    assert!(ok(api::read_delete_tokens(&s, &response(200, &[], none))).is_empty());
}

#[test]
fn revoke_answers_map_to_results() {
    let s = settings();
    assert_eq!(
        ok(api::read_revoke(&s, &response(200, &[], b""))),
        RevokeCall::Revoked
    );
    assert_eq!(
        ok(api::read_revoke(
            &s,
            &response(
                400,
                &[],
                br#"{"error":"invalid_token","error_description":"invalid token"}"#
            )
        )),
        RevokeCall::AlreadyGone
    );
    assert_eq!(
        err(api::read_revoke(
            &s,
            &response(
                400,
                &[],
                br#"{"error":"unsupported_token_type","error_description":"x"}"#
            )
        ))
        .code,
        ErrorCode::Provider
    );
    assert_eq!(
        err(api::read_revoke(&s, &response(500, &[], b""))).code,
        ErrorCode::Provider
    );

    let r = api::token_revocation(&key(), "acme", &[RevokeCall::Revoked]);
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(
        r.manual_steps
            .iter()
            .any(|m| m.contains("Connected Apps OAuth Usage"))
    );
    assert_eq!(
        api::token_revocation(&key(), "acme", &[]).status,
        RevocationStatus::AlreadyGone
    );
    assert_eq!(
        api::token_revocation(&key(), "acme", &[RevokeCall::AlreadyGone]).status,
        RevocationStatus::AlreadyGone
    );

    let id = "0J05g00000Aa1bCCAR";
    assert_eq!(
        ok(api::read_sea_delete(&s, id, &response(204, &[], b""))).status,
        RevocationStatus::Revoked
    );
    let nf = br#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#;
    let gone = ok(api::read_sea_delete(&s, id, &response(404, &[], nf)));
    assert_eq!(gone.status, RevocationStatus::AlreadyGone);
    assert!(
        gone.manual_steps
            .iter()
            .any(|m| m.contains("keep the tokens"))
    );
    let denied = br#"[{"errorCode":"INSUFFICIENT_ACCESS_OR_READONLY","message":"no"}]"#;
    assert_eq!(
        err(api::read_sea_delete(&s, id, &response(403, &[], denied))).code,
        ErrorCode::Permission
    );
}
