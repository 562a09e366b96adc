//! Tasks, pagination and the per-user flow: users → tokens → audit log → grants.

use std::collections::BTreeMap;

use grantscope_connector_google_workspace::api::{
    self, EventsTask, MAX_EVENT_PAGES, UsersTask, Work, decode_task, read,
};
use grantscope_connector_sdk::{ErrorCode, Task};
use serde_json::json;

use crate::{assert_error, attr, err, json_response, noa, ok, settings, token};

fn users_page(next: Option<&str>) -> serde_json::Value {
    let mut v = json!({"kind": "admin#directory#users", "users": [
        {"id": "1", "primaryEmail": "a@x.example", "suspended": true},
    ]});
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v
}

#[test]
fn the_last_user_page_ends_the_walk_and_loops_are_caught() {
    let work = Work::Users(UsersTask::default());
    let out = ok(read(
        &settings(),
        &work,
        &json_response(200, &users_page(None)),
    ));
    assert_eq!(out.tasks.len(), 2);
    let Work::Asps(u) = ok(decode_task(&out.tasks[1])) else {
        panic!("asps task");
    };
    assert!(u.suspended);
    // An empty customer has no `users` key.
    let out = ok(read(
        &settings(),
        &work,
        &json_response(200, &json!({"kind": "x"})),
    ));
    assert!(out.tasks.is_empty());
    // A token that points back at the same page, or past the bound, is an error.
    let same = Work::Users(UsersTask {
        page_token: Some("t".into()),
        page: 3,
    });
    let e = err(read(
        &settings(),
        &same,
        &json_response(200, &users_page(Some("t"))),
    ));
    assert_error(&e, ErrorCode::Malformed, &["same page"]);
    let last = Work::Users(UsersTask {
        page_token: Some("t".into()),
        page: api::MAX_USER_PAGES,
    });
    let e = err(read(
        &settings(),
        &last,
        &json_response(200, &users_page(Some("u"))),
    ));
    assert_error(&e, ErrorCode::Malformed, &["pages"]);
    // A user without an email cannot be a principal.
    let bad = json!({"users": [{"id": "1"}]});
    let e = err(read(&settings(), &work, &json_response(200, &bad)));
    assert_error(&e, ErrorCode::Malformed, &["primaryEmail"]);
    let e = err(read(
        &settings(),
        &work,
        &json_response(200, &json!({"users": 7})),
    ));
    assert_error(&e, ErrorCode::Malformed, &["user list"]);
}

#[test]
fn no_items_means_no_grants_and_no_lookup() {
    let empty = json!({"kind": "admin#directory#tokenList", "etag": "e"});
    let out = ok(read(
        &settings(),
        &Work::Tokens(noa()),
        &json_response(200, &empty),
    ));
    assert!(out.tasks.is_empty() && out.grants.is_empty() && out.inline.is_none());
    let out = ok(read(
        &settings(),
        &Work::Asps(noa()),
        &json_response(200, &empty),
    ));
    assert!(out.grants.is_empty());
    // A user deleted since the listing holds nothing.
    let gone = json!({"error": {"code": 404, "message": "Resource Not Found: userKey"}});
    let out = ok(read(
        &settings(),
        &Work::Tokens(noa()),
        &json_response(404, &gone),
    ));
    assert!(out.tasks.is_empty() && out.warnings.len() == 1);
}

fn events(task: &EventsTask) -> Work {
    Work::Events(task.clone())
}

fn task_with(tokens: Vec<api::TokenRef>) -> EventsTask {
    EventsTask {
        user: noa(),
        tokens,
        page_token: None,
        page: 1,
        authorized: BTreeMap::new(),
        used: BTreeMap::new(),
    }
}

fn activity(time: &str, name: &str, client: &str, actor: &str) -> serde_json::Value {
    json!({"id": {"time": time, "applicationName": "token"},
           "actor": {"callerType": "USER", "email": "noa.friedman@example-corp.com", "profileId": actor},
           "events": [{"type": "auth", "name": name, "parameters": [{"name": "client_id", "value": client}]}]})
}

#[test]
fn audit_pages_carry_findings_and_keep_the_latest() {
    let task = task_with(vec![token("a", &["openid"]), token("b", &[])]);
    let me = "104729385610473829156";
    let page1 = json!({"items": [
        activity("2026-01-02T03:04:05.678Z", "activity", "a", me),
        activity("2026-01-01T00:00:00.000Z", "authorize", "a", me),
        activity("2026-01-03T00:00:00.000Z", "activity", "b", "someone-else"),
        activity("2026-01-03T00:00:00.000Z", "authorize", "zzz", me),
        activity("garbage", "activity", "b", me),
    ], "nextPageToken": "p2"});
    let out = ok(read(
        &settings(),
        &events(&task),
        &json_response(200, &page1),
    ));
    assert!(out.grants.is_empty());
    let Work::Events(next) = ok(decode_task(&out.tasks[0])) else {
        panic!("next audit page");
    };
    assert_eq!((next.page, next.page_token.as_deref()), (2, Some("p2")));
    assert_eq!(
        next.used.get("a").map(String::as_str),
        Some("2026-01-02T03:04:05Z")
    );
    assert!(
        !next.used.contains_key("b"),
        "another actor's event does not count"
    );
    assert!(
        !next.authorized.contains_key("zzz"),
        "only held clients are kept"
    );
    // Page two is older, except one later event out of order: the latest wins.
    let page2 = json!({"items": [
        activity("2025-12-01T00:00:00Z", "activity", "a", me),
        activity("2026-02-01T00:00:00-05:00", "authorize", "a", me),
    ]});
    let out = ok(read(
        &settings(),
        &events(&next),
        &json_response(200, &page2),
    ));
    assert!(out.tasks.is_empty());
    let a = &out.grants[0];
    assert_eq!(a.created_at.as_deref(), Some("2026-02-01T05:00:00Z"));
    assert_eq!(a.last_used_at.as_deref(), Some("2026-01-02T03:04:05Z"));
    let b = &out.grants[1];
    assert_eq!((b.created_at.clone(), b.last_used_at.clone()), (None, None));
    assert_eq!(attr(&b.attributes, "reports_window_days"), Some("180"));
}

#[test]
fn a_log_past_the_page_bound_reports_what_it_has() {
    let mut task = task_with(vec![token("a", &[])]);
    task.page = MAX_EVENT_PAGES;
    let page = json!({"items": [activity("2026-01-01T00:00:00Z", "activity", "a", "104729385610473829156")], "nextPageToken": "more"});
    let out = ok(read(
        &settings(),
        &events(&task),
        &json_response(200, &page),
    ));
    assert!(out.tasks.is_empty());
    assert_eq!(
        out.grants[0].last_used_at.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert!(
        out.grants[0]
            .notes
            .iter()
            .any(|n| n.contains("newest events"))
    );
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn no_audit_access_still_reports_the_grants() {
    let task = task_with(vec![token("a", &["openid"])]);
    let body = json!({"error": {"code": 403, "message": "Not Authorized to access this resource/api",
        "errors": [{"reason": "forbidden"}]}});
    let out = ok(read(
        &settings(),
        &events(&task),
        &json_response(403, &body),
    ));
    assert_eq!(out.grants.len(), 1);
    assert_eq!(out.grants[0].created_at, None);
    assert!(
        out.grants[0]
            .notes
            .iter()
            .any(|n| n.contains("could not be read"))
    );
    assert_eq!(out.warnings.len(), 1);
    // A rate limit on the same call is not that: the host retries the task.
    let limited = json!({"error": {"code": 403, "errors": [{"reason": "userRateLimitExceeded"}]}});
    let e = err(read(
        &settings(),
        &events(&task),
        &json_response(403, &limited),
    ));
    assert_eq!(e.code, ErrorCode::RateLimited);
}

#[test]
fn oversized_follow_ups_run_inline() {
    let scopes: Vec<String> = (0..40)
        .map(|i| format!("https://www.googleapis.com/auth/scope{i:03}"))
        .collect();
    let items: Vec<serde_json::Value> = (0..40)
        .map(|i| json!({"clientId": format!("{i}-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"),
                        "displayText": "x", "scopes": scopes}))
        .collect();
    let out = ok(read(
        &settings(),
        &Work::Tokens(noa()),
        &json_response(200, &json!({"items": items})),
    ));
    assert!(out.tasks.is_empty());
    let Some(Work::Events(t)) = out.inline else {
        panic!("too large for a task, so it runs inline");
    };
    assert_eq!(t.tokens.len(), 40);
}

#[test]
fn tasks_are_checked_before_use() {
    let bad = |kind: &str, payload: &str| {
        err(decode_task(&Task {
            kind: kind.to_owned(),
            payload: payload.to_owned(),
        }))
    };
    assert_error(
        &bad("nope", "{}"),
        ErrorCode::InvalidInput,
        &["unknown task kind"],
    );
    assert_error(
        &bad("users", "7"),
        ErrorCode::InvalidInput,
        &["bad payload"],
    );
    assert_error(
        &bad("users", r#"{"page": 0}"#),
        ErrorCode::InvalidInput,
        &["page number"],
    );
    assert_error(
        &bad("tokens", r#"{"id": " ", "email": "a@b"}"#),
        ErrorCode::InvalidInput,
        &["no usable user"],
    );
    assert_eq!(api::start_tasks().len(), 1);
    assert_eq!(
        ok(decode_task(&api::start_tasks()[0])),
        Work::Users(UsersTask::default())
    );
}
