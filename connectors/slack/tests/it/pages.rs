//! Settings, pagination (cursors and page/count), the integration-log replay, and
//! how Slack's errors are classified.

use std::collections::BTreeMap;

use grantscope_connector_sdk::{ErrorCode, Task};
use grantscope_connector_slack::api::{
    self, CursorTask, Job, Listing, LogTask, Settings, TeamRef, check, classify,
};
use serde_json::json;

use crate::{assert_error, attrs, err, json, ok, response, settings};

#[test]
fn settings_are_validated() {
    let s = ok(Settings::new(
        "t",
        " E0AS553RN ",
        Some("https://slack-gov.com/api/"),
    ));
    assert_eq!(s.enterprise_id(), "E0AS553RN");
    assert_eq!(
        s.url("admin.teams.list", &[("cursor", "dXNlcjpV=")]),
        "https://slack-gov.com/api/admin.teams.list?cursor=dXNlcjpV%3D"
    );
    for bad in ["", "T0123", "E0/../x", "E 1"] {
        let e = err(Settings::new("t", bad, None));
        assert_error(&e, ErrorCode::Config, &["enterprise_id"]);
    }
    for bad in [
        "ftp://x",
        "https://",
        "https://a b",
        "https://user@slack.com/api",
        "https://x/?q",
    ] {
        let e = err(Settings::new("t", "E1", Some(bad)));
        assert_error(&e, ErrorCode::Config, &["api_base"]);
        assert!(!e.message.contains("user@"), "{}", e.message);
    }
}

#[test]
fn manifest_declares_least_privilege() {
    let m = api::manifest();
    assert_eq!(m.id, "slack");
    assert_eq!(m.credential_kinds, ["static-token"]);
    let revoke_only: Vec<&str> = m
        .permissions
        .iter()
        .filter(|p| p.revoke_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(revoke_only, ["admin.apps:write"]);
    assert!(
        m.settings
            .iter()
            .any(|s| s.name == "enterprise_id" && s.required)
    );
}

#[test]
fn start_lists_workspaces_and_org_resolutions() {
    let tasks = api::start_tasks();
    let kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["teams", "approved", "restricted"]);
    let s = settings();
    let Job::Cursor(t) = ok(api::decode_task(&tasks[1])) else {
        panic!("cursor task")
    };
    assert_eq!(
        t.url(&s),
        "https://slack.com/api/admin.apps.approved.list?limit=1000&enterprise_id=E0AS553RN"
    );
    for bad in [
        Task {
            kind: "nope".into(),
            payload: "{}".into(),
        },
        Task {
            kind: "approved".into(),
            payload: r#"{"listing":"teams","page":1}"#.into(),
        },
        Task {
            kind: "integration-logs".into(),
            payload: r#"{"team":{"id":"T1&x=y"},"page":1}"#.into(),
        },
        Task {
            kind: "teams".into(),
            payload: r#"{"listing":"teams","page":0}"#.into(),
        },
    ] {
        assert_eq!(err(api::decode_task(&bad)).code, ErrorCode::InvalidInput);
    }
}

fn approved(ids: &[&str], cursor: &str) -> serde_json::Value {
    let apps: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            json!({
                "app": {"id": id, "name": format!("App {id}")},
                "scopes": [
                    {"name": "chat:write", "is_sensitive": false, "token_type": "bot"},
                    {"name": "chat:write", "is_sensitive": false, "token_type": "user"},
                    {"name": "search:read", "is_sensitive": true, "token_type": "user"},
                ],
                "date_updated": 1_700_000_000,
            })
        })
        .collect();
    json!({"ok": true, "approved_apps": apps, "response_metadata": {"next_cursor": cursor}})
}

#[test]
fn cursors_are_followed_until_empty() {
    let s = settings();
    let task = CursorTask {
        listing: Listing::Approved,
        team: None,
        cursor: None,
        page: 1,
    };
    let page = ok(api::read_cursor_page(
        &s,
        &task,
        &json(&approved(&["A1", "A2"], "b2Zm+/==")),
    ));
    assert_eq!(page.grants.len(), 2);
    let g = &page.grants[0];
    // A scope held as bot and as user scope appears once; attributes keep the split.
    assert_eq!(g.scopes, ["chat:write", "search:read"]);
    assert_eq!(attrs(g).get("bot_scopes"), Some(&"chat:write"));
    assert_eq!(attrs(g).get("user_scopes"), Some(&"chat:write,search:read"));
    assert_eq!(attrs(g).get("sensitive_scopes"), Some(&"search:read"));
    assert_eq!(page.tasks.len(), 1);
    let Job::Cursor(next) = ok(api::decode_task(&page.tasks[0])) else {
        panic!("cursor task")
    };
    assert_eq!(next.page, 2);
    assert!(
        next.url(&s).ends_with("&cursor=b2Zm%2B%2F%3D%3D"),
        "{}",
        next.url(&s)
    );
    // A page may be empty while a cursor remains.
    let empty = ok(api::read_cursor_page(
        &s,
        &next,
        &json(&approved(&[], "more")),
    ));
    assert!(empty.grants.is_empty());
    assert_eq!(empty.tasks.len(), 1);
    // A cursor that repeats itself would loop forever.
    let e = err(api::read_cursor_page(
        &s,
        &next,
        &json(&approved(&[], "b2Zm+/==")),
    ));
    assert_eq!(e.code, ErrorCode::Malformed);
    // No metadata at all ends the listing.
    let last = ok(api::read_cursor_page(
        &s,
        &next,
        &json(&json!({"ok": true, "approved_apps": []})),
    ));
    assert!(last.tasks.is_empty());
}

fn log_entry(app: &str, change: &str, date: i64, scope: &str) -> serde_json::Value {
    json!({
        "app_id": app, "app_type": format!("App {app}"), "user_id": "W1",
        "user_name": "alice", "date": date.to_string(), "change_type": change, "scope": scope,
    })
}

fn logs(entries: &[serde_json::Value], page: u32, pages: u32) -> serde_json::Value {
    json!({"ok": true, "logs": entries, "paging": {"count": 2, "total": 4, "page": page, "pages": pages}})
}

fn log_task() -> LogTask {
    LogTask {
        team: TeamRef {
            id: "T1".to_owned(),
            name: String::new(),
            url: String::new(),
        },
        page: 1,
        seen: 0,
        state: BTreeMap::new(),
    }
}

/// Reads every page in turn, following the tasks the connector returns.
fn replay(pages: &[serde_json::Value]) -> Vec<grantscope_connector_sdk::Grant> {
    let s = settings();
    let mut task = log_task();
    for (i, body) in pages.iter().enumerate() {
        let page = ok(api::read_logs_page(&s, &task, &json(body)));
        if i + 1 == pages.len() {
            assert!(page.tasks.is_empty());
            return page.grants;
        }
        assert!(page.grants.is_empty(), "grants only after the last page");
        let Job::Logs(next) = ok(api::decode_task(&page.tasks[0])) else {
            panic!("log task")
        };
        assert_eq!(next.page, task.page + 1);
        task = next;
    }
    Vec::new()
}

#[test]
fn the_integration_log_is_replayed_in_any_order() {
    // A1: added, removed, added again with fewer scopes, then widened.
    // A2: added then removed. A3: only an update (the add is older than the log).
    let entries = vec![
        log_entry("A1", "added", 100, "chat:write"),
        log_entry("A1", "removed", 200, ""),
        log_entry("A1", "added", 300, "channels:read"),
        log_entry("A1", "updated", 400, "channels:read,chat:write"),
        log_entry("A2", "added", 150, "commands"),
        log_entry("A2", "removed", 250, ""),
        log_entry("A3", "updated", 120, "files:read"),
    ];
    let oldest_first = entries.clone();
    let mut newest_first = entries;
    newest_first.reverse();
    for order in [oldest_first, newest_first] {
        let (a, b) = order.split_at(3);
        let grants = replay(&[logs(a, 1, 2), logs(b, 2, 2)]);
        let ids: Vec<&str> = grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["installation:T1:A1", "installation:T1:A3"]);
        let a1 = &grants[0];
        assert_eq!(a1.scopes, ["channels:read", "chat:write"]);
        // The installation began with the add after the last removal.
        assert_eq!(a1.created_at.as_deref(), Some("1970-01-01T00:05:00Z"));
        assert_eq!(attrs(a1).get("last_change"), Some(&"updated"));
        assert_eq!(
            grants[1].created_at.as_deref(),
            Some("1970-01-01T00:02:00Z")
        );
    }
}

#[test]
fn unusable_log_entries_are_skipped_with_a_warning() {
    let s = settings();
    let body = logs(
        &[
            json!({"change_type": "added", "date": "1"}),
            json!({"app_id": "A1", "change_type": "exploded", "date": "1"}),
            json!({"app_id": "A1", "change_type": "added", "date": "yesterday"}),
            log_entry("A2", "added", 5, " a , b ,,a "),
        ],
        1,
        1,
    );
    let page = ok(api::read_logs_page(&s, &log_task(), &json(&body)));
    assert_eq!(page.grants.len(), 1);
    assert_eq!(page.grants[0].scopes, ["a", "b"]);
    assert!(
        page.warnings[0].contains("3 entries"),
        "{:?}",
        page.warnings
    );
}

#[test]
fn slack_errors_are_classified() {
    let s = settings();
    let task = CursorTask {
        listing: Listing::Approved,
        team: None,
        cursor: None,
        page: 1,
    };
    let read = |status: u16, headers: &[(&str, &str)], body: &str| {
        err(api::read_cursor_page(
            &s,
            &task,
            &response(status, headers, body.as_bytes()),
        ))
    };
    for code in ["not_an_enterprise", "feature_not_enabled"] {
        let e = read(200, &[], &format!(r#"{{"ok":false,"error":"{code}"}}"#));
        assert_error(&e, ErrorCode::Unsupported, &["Enterprise Grid", code]);
    }
    let e = read(
        200,
        &[],
        r#"{"ok":false,"error":"missing_scope","needed":"admin.apps:read","provided":"admin"}"#,
    );
    assert_error(&e, ErrorCode::Permission, &["admin.apps:read"]);
    let e = read(200, &[], r#"{"ok":false,"error":"not_an_admin"}"#);
    assert_error(&e, ErrorCode::Permission, &["org admin"]);
    let e = read(
        429,
        &[("retry-after", "7")],
        r#"{"ok":false,"error":"ratelimited"}"#,
    );
    assert_error(
        &e,
        ErrorCode::RateLimited,
        &["retry after 7 s", "requests_per_second"],
    );
    let e = read(503, &[], "<html>down</html>");
    assert_error(&e, ErrorCode::Provider, &["503"]);
    let e = read(200, &[], r#"{"ok":false,"error":"enterprise_not_found"}"#);
    assert_error(&e, ErrorCode::Config, &["enterprise_id"]);
    // 200 that is not JSON, or JSON without `ok`.
    assert!(check(&response(200, &[], b"{\"approved_apps\":[]}")).is_err());
    let e = read(200, &[], "{\"approved_apps\":[");
    assert_eq!(e.code, ErrorCode::Provider, "{}", e.message);
    // A body that is `ok` but not the listing's shape is malformed.
    let e = read(200, &[], r#"{"ok":true,"approved_apps":[{"nope":1}]}"#);
    assert_eq!(e.code, ErrorCode::Malformed, "{}", e.message);
    // Messages quote Slack's code, never the body wholesale.
    let f = check(&response(200, &[], b"{\"ok\":false,\"error\":\"x\\ny\"}")).err();
    let e = classify(&f.unwrap_or_else(|| panic!("not ok")), "listing", "admin");
    assert!(!e.message.contains('\n'));
}

#[test]
fn a_deleted_workspace_is_skipped() {
    let s = settings();
    let task = CursorTask {
        listing: Listing::Restricted,
        team: Some(TeamRef {
            id: "T9".into(),
            ..TeamRef::default()
        }),
        cursor: None,
        page: 1,
    };
    let gone = response(200, &[], br#"{"ok":false,"error":"team_not_found"}"#);
    let page = ok(api::read_cursor_page(&s, &task, &gone));
    assert!(page.grants.is_empty() && page.tasks.is_empty());
    assert!(page.warnings[0].contains("T9"));
    let page = ok(api::read_logs_page(&s, &log_task(), &gone));
    assert!(page.grants.is_empty());
}
