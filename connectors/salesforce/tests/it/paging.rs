//! Query paging, the task chain, app links by name, and error classification.

use grantscope_connector_salesforce::api::{self, Directory, TaskKind};
use grantscope_connector_sdk::ErrorCode;

use crate::{
    assert_error, attrs, decode, err, example_directory, ok, page_task, response, settings,
};

fn token_row(user: &str, app: &str, menu: Option<&str>, created: &str) -> serde_json::Value {
    serde_json::json!({
        "attributes": {"type": "OauthToken"},
        "Id": null,
        "AppName": app,
        "AppMenuItemId": menu,
        "UserId": user,
        "User": {"attributes": {"type": "User"}, "Username": format!("{user}@x.example"), "IsActive": false},
        "CreatedDate": created,
        "LastUsedDate": null,
        "UseCount": 0,
    })
}

fn page(records: &[serde_json::Value], total: usize, next: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({"totalSize": total, "done": next.is_none(), "records": records});
    if let Some(n) = next {
        v["nextRecordsUrl"] = serde_json::json!(n);
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

#[test]
fn next_records_url_is_followed_on_the_instance_only() {
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let rows = [token_row(
        "005A",
        "Salesloft",
        Some("0DS5g000000abcdGAA"),
        "2024-01-01T00:00:00.000+0000",
    )];
    let body = page(
        &rows,
        3,
        Some("/services/data/v64.0/query/01gD0000002HU6KIAW-500"),
    );
    let out = ok(api::read_tokens(
        &s,
        &example_directory(),
        &page_task(&url),
        &response(200, &[], &body),
    ));
    assert_eq!(out.tasks.len(), 1);
    let next = decode(&out.tasks[0]);
    assert_eq!(
        next.url,
        "https://acme.my.salesforce.com/services/data/v64.0/query/01gD0000002HU6KIAW-500"
    );
    assert_eq!((next.page, next.seen), (2, 1));
    for bad in [
        "https://evil.example/services/data/v64.0/query/x-1",
        "//evil.example/x",
        "/other/path",
    ] {
        let body = page(&rows, 3, Some(bad));
        let e = err(api::read_tokens(
            &s,
            &Directory::default(),
            &page_task(&url),
            &response(200, &[], &body),
        ));
        assert_error(&e, ErrorCode::Malformed, &["refusing to follow"]);
    }
    let body = page(
        &rows,
        3,
        Some(&url.replace("https://acme.my.salesforce.com", "")),
    );
    let e = err(api::read_tokens(
        &s,
        &Directory::default(),
        &page_task(&url),
        &response(200, &[], &body),
    ));
    assert_error(&e, ErrorCode::Malformed, &[]);
}

#[test]
fn a_query_cut_short_is_an_error_not_a_complete_scan() {
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let rows = [token_row("005A", "X", None, "2024-01-01T00:00:00.000+0000")];
    let mut t = page_task(&url);
    t.seen = 2_499;
    let e = err(api::read_tokens(
        &s,
        &Directory::default(),
        &t,
        &response(200, &[], &page(&rows, 2_600, None)),
    ));
    assert_error(&e, ErrorCode::Unsupported, &["2500 of 2600"]);
}

#[test]
fn links_by_name_say_what_they_cannot_tell() {
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let mut dir = example_directory();
    // A second connected app under Salesloft's label.
    let twin: Vec<api::MenuItem> = serde_json::from_value(serde_json::json!([
        {"Id": "0DS5g000000twinGAA", "ApplicationId": "0H45g000000twinCAG", "Label": "Salesloft", "NamespacePrefix": null}
    ]))
    .unwrap_or_default();
    dir.add_menu_items(twin);
    let rows = [
        token_row("005A", "Salesloft", None, "2024-01-01T00:00:00.000+0000"),
        token_row(
            "005B",
            "Gong for Salesforce",
            None,
            "2024-01-01T00:00:00.000+0000",
        ),
        token_row("005C", "Data Loader", None, "2024-01-01T00:00:00.000+0000"),
        // A menu item the directory does not know links by name too.
        token_row(
            "005D",
            "Unknown App",
            Some("0DSnope"),
            "2024-01-01T00:00:00.000+0000",
        ),
    ];
    let out = ok(api::read_tokens(
        &s,
        &dir,
        &page_task(&url),
        &response(200, &[], &page(&rows, 4, None)),
    ));
    let by_user = |u: &str| {
        out.grants
            .iter()
            .find(|g| attrs(g)["user_id"] == u)
            .unwrap_or_else(|| panic!("no grant of {u}"))
    };
    let ambiguous = by_user("005A");
    assert_eq!(ambiguous.app.id, "app-name:Salesloft");
    assert_eq!(
        attrs(ambiguous)["name_matches"],
        "0H45g000000PQRsCAG,0H45g000000twinCAG"
    );
    assert!(
        ambiguous
            .notes
            .iter()
            .any(|n| n.contains("cannot say which one"))
    );
    let single = by_user("005B");
    assert_eq!(single.app.id, "app-name:Gong for Salesforce");
    assert_eq!(attrs(single)["name_matches"], "0H45g000000PQRtCAG");
    assert!(single.notes.iter().any(|n| n.contains("look-alike")));
    let none = by_user("005C");
    assert_eq!(none.app.id, "app-name:Data Loader");
    assert!(none.notes.iter().any(|n| n.contains("uninstalled app")));
    assert_eq!(by_user("005D").app.id, "app-name:Unknown App");
    for g in &out.grants {
        assert_eq!(attrs(g)["app_link"], "name");
        assert_eq!(attrs(g)["user_active"], "false");
        assert!(g.last_used_at.is_none());
        assert!(g.notes.iter().any(|n| n.contains("no last-use date")));
    }
}

#[test]
fn rows_sharing_a_key_become_one_grant() {
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let row = token_row("005A", "X", None, "2024-01-01T00:00:00.000+0000");
    let out = ok(api::read_tokens(
        &s,
        &Directory::default(),
        &page_task(&url),
        &response(200, &[], &page(&[row.clone(), row], 2, None)),
    ));
    assert_eq!(out.grants.len(), 1);
    assert_eq!(attrs(&out.grants[0])["approvals"], "2");
}

#[test]
fn the_task_chain_carries_the_directory() {
    let s = settings();
    let tasks = api::start_tasks(&s);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, "apps");
    let first = ok(api::decode_task(&s, &tasks[0])).1;
    let apps = crate::example("query-connectedapplication.json");
    let out = ok(api::read_directory_page(
        &s,
        TaskKind::Apps,
        &first,
        &apps.response(),
    ));
    assert_eq!(out.tasks[0].kind, "menu-items");
    let menu_task = ok(api::decode_task(&s, &out.tasks[0])).1;
    let menu = crate::example("query-appmenuitem-connected-apps.json");
    let out = ok(api::read_directory_page(
        &s,
        TaskKind::MenuItems,
        &menu_task,
        &menu.response(),
    ));
    let kinds: Vec<&str> = out.tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["token-count", "setup-entity-access"]);
    let count = ok(api::decode_task(&s, &out.tasks[0])).1;
    assert_eq!(count.dir.as_ref(), Some(&example_directory()));

    // A small count is one query; the directory goes along.
    let small =
        serde_json::to_vec(&serde_json::json!({"totalSize": 12, "done": true, "records": []}))
            .unwrap_or_default();
    let out = ok(api::read_token_count(
        &s,
        &count,
        &response(200, &[], &small),
    ));
    let tokens = ok(api::decode_task(&s, &out.tasks[0]));
    assert_eq!(tokens.0, TaskKind::Tokens);
    assert_eq!(tokens.1.url, s.query_url(&api::token_query(None)));
    assert!(tokens.1.dir.is_some());

    // Groups become one query per app name.
    let groups = serde_json::to_vec(
        &serde_json::json!({"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "AggregateResult"}, "AppName": "Salesloft", "expr0": 1900},
            {"attributes": {"type": "AggregateResult"}, "AppName": "O'Hare", "expr0": 3},
        ]}),
    )
    .unwrap_or_default();
    let out = ok(api::read_token_groups(
        &s,
        &page_task(&s.query_url(api::SOQL_TOKEN_GROUPS)),
        &response(200, &[], &groups),
    ));
    let urls: Vec<String> = out.tasks.iter().map(|t| decode(t).url).collect();
    assert_eq!(
        urls,
        [
            s.query_url(&api::token_query(Some("Salesloft"))),
            s.query_url(&api::token_query(Some("O'Hare")))
        ]
    );

    // Tasks off the instance are refused.
    let mut bad = decode(&out.tasks[0]);
    bad.url = "https://evil.example/services/data/v64.0/query?q=x".to_owned();
    let t = grantscope_connector_sdk::Task::json("tokens", &bad);
    assert_error(
        &err(api::decode_task(&s, &t)),
        ErrorCode::InvalidInput,
        &["points outside"],
    );
    let t = grantscope_connector_sdk::Task::json("nope", &bad);
    assert_error(
        &err(api::decode_task(&s, &t)),
        ErrorCode::InvalidInput,
        &["unknown task kind"],
    );
}

#[test]
fn errors_are_classified() {
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let cases: [(u16, &[u8], ErrorCode); 7] = [
        (403, br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#, ErrorCode::RateLimited),
        (401, br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#, ErrorCode::Unauthenticated),
        (403, br#"[{"message":"Insufficient access","errorCode":"INSUFFICIENT_ACCESS"}]"#, ErrorCode::Permission),
        (400, br#"[{"message":"No such column","errorCode":"INVALID_FIELD"}]"#, ErrorCode::Unsupported),
        (500, br#"[{"message":"oops","errorCode":"UNKNOWN_EXCEPTION"}]"#, ErrorCode::Provider),
        (503, b"<html>down</html>", ErrorCode::Provider),
        (200, b"{\"totalSize\": 1, \"done\": tr", ErrorCode::Malformed),
    ];
    for (status, body, code) in cases {
        let e = err(api::read_tokens(
            &s,
            &Directory::default(),
            &page_task(&url),
            &response(status, &[], body),
        ));
        assert_eq!(e.code, code, "{status}: {}", e.message);
    }
    // A usage header near the allocation warns.
    let body = page(&[], 0, None);
    let out = ok(api::read_tokens(
        &s,
        &Directory::default(),
        &page_task(&url),
        &response(
            200,
            &[("Sforce-Limit-Info", "api-usage=4900000/5100000")],
            &body,
        ),
    ));
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("4900000 of its 5100000"))
    );
}
