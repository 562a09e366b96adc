//! Google's error answers become the right error codes.

use grantscope_connector_google_workspace::api::{Operation, classify, google_reason};
use grantscope_connector_sdk::ErrorCode;
use serde_json::json;

use crate::{assert_error, json_response, response, settings};

fn google(code: u16, reason: &str, status: Option<&str>) -> serde_json::Value {
    let mut e = json!({"code": code, "message": format!("{reason} happened"),
        "errors": [{"message": "m", "domain": "usageLimits", "reason": reason}]});
    if let Some(s) = status {
        e["status"] = json!(s);
    }
    json!({ "error": e })
}

#[test]
fn rate_limits_in_every_form() {
    for (status, body) in [
        (403, google(403, "userRateLimitExceeded", None)),
        (
            403,
            google(403, "rateLimitExceeded", Some("PERMISSION_DENIED")),
        ),
        (403, google(403, "quotaExceeded", None)),
        (
            429,
            google(429, "rateLimitExceeded", Some("RESOURCE_EXHAUSTED")),
        ),
        (
            403,
            json!({"error": {"code": 403, "message": "x", "status": "PERMISSION_DENIED",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]}}),
        ),
    ] {
        let e = classify(
            &settings(),
            Operation::ListTokens,
            &json_response(status, &body),
        );
        assert_error(&e, ErrorCode::RateLimited, &["rate-limited", "acme"]);
    }
    // A bare 429 without a Google body is still a rate limit.
    let e = classify(&settings(), Operation::DeleteToken, &response(429, b""));
    assert_eq!(e.code, ErrorCode::RateLimited);
    // The Reports API's quota answer is a 503.
    let e = classify(
        &settings(),
        Operation::ListEvents,
        &json_response(503, &google(503, "backendError", None)),
    );
    assert_eq!(e.code, ErrorCode::RateLimited);
}

#[test]
fn permissions_name_the_scope_or_the_admin() {
    let body = google(403, "insufficientPermissions", Some("PERMISSION_DENIED"));
    let e = classify(
        &settings(),
        Operation::ListEvents,
        &json_response(403, &body),
    );
    assert_error(
        &e,
        ErrorCode::Permission,
        &["admin.reports.audit.readonly", "delegation"],
    );
    let body = google(403, "forbidden", None);
    let e = classify(
        &settings(),
        Operation::ListTokens,
        &json_response(403, &body),
    );
    assert_error(&e, ErrorCode::Permission, &["super admin", "subject"]);
    let e = classify(
        &settings(),
        Operation::ListUsers,
        &json_response(401, &google(401, "authError", None)),
    );
    assert_error(&e, ErrorCode::Unauthenticated, &["domain-wide delegation"]);
    let e = classify(
        &settings(),
        Operation::ListUsers,
        &json_response(400, &google(400, "invalid", None)),
    );
    assert_error(&e, ErrorCode::Config, &["customer"]);
}

#[test]
fn server_errors_and_html_bodies() {
    let html = b"<!DOCTYPE html><html><title>Error 502 (Server Error)!!1</title></html>";
    let e = classify(&settings(), Operation::ListTokens, &response(502, html));
    assert_error(&e, ErrorCode::Provider, &["502", "try again"]);
    let e = classify(
        &settings(),
        Operation::ListTokens,
        &response(418, b"\x00\x01 odd"),
    );
    assert_error(&e, ErrorCode::Provider, &["unexpected 418"]);
    assert!(!e.message.contains('\u{0}'));
    // The reason comes from errors[0], then status, then details; never the message.
    assert_eq!(
        google_reason(google(403, "forbidden", Some("X")).to_string().as_bytes()).as_deref(),
        Some("forbidden")
    );
    assert_eq!(
        google_reason(br#"{"error":{"status":"UNAVAILABLE"}}"#).as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(google_reason(b"not json"), None);
}

#[test]
fn long_messages_are_clipped() {
    let long = "x".repeat(5000);
    let body = json!({"error": {"code": 500, "message": long}});
    let e = classify(&settings(), Operation::ListAsps, &json_response(500, &body));
    assert!(e.message.len() < 1000, "{}", e.message.len());
}
