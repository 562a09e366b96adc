//! Link pagination, task validation, error classification and settings.

use grantscope_connector_okta::api::{self, Job, Settings};
use grantscope_connector_sdk::{ErrorCode, Task};

use crate::{ORG, assert_error, err, job, ok, response, run, settings, task};

fn users_task() -> Task {
    task(
        "users",
        serde_json::json!({"url": format!("{ORG}/api/v1/users?limit=200"), "page": 1}),
    )
}

const USERS: &str = r#"[
  {"id": "00ub0oNGTSWTBKOLGLNR", "status": "ACTIVE",
   "profile": {"firstName": "Isaac", "lastName": "Brock", "login": "isaac.brock@example.com", "email": "isaac.brock@example.com"}},
  {"id": "00ub0oNGTSWTBKOLGLNS", "status": "DEPROVISIONED", "profile": {"login": "gone@example.com"}},
  {"id": "00ub0oNGTSWTBKOLGLNT", "status": "ACTIVE", "profile": null}
]"#;

#[test]
fn start_lists_integrations_and_users() {
    let tasks = api::start_tasks(&settings());
    let kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["api-services", "users"]);
    for t in &tasks {
        job(&settings(), t);
    }
}

#[test]
fn users_become_one_task_each_and_separate_link_lines_are_followed() {
    let s = settings();
    let next = format!("{ORG}/api/v1/users?limit=200&after=00ub0oNGTSWTBKOLGLNT");
    let resp = response(
        200,
        &[
            (
                "link",
                &format!("<{ORG}/api/v1/users?limit=200>; rel=\"self\""),
            ),
            ("link", &format!("<{next}>; rel=\"next\"")),
        ],
        USERS.as_bytes(),
    );
    let page = ok(run(&s, &users_task(), &resp));
    let users: Vec<(String, String)> = page
        .tasks
        .iter()
        .filter_map(|t| match job(&s, t) {
            Job::User(u) => Some((u.user_id, u.login)),
            _ => None,
        })
        .collect();
    assert_eq!(
        users,
        [
            (
                "00ub0oNGTSWTBKOLGLNR".to_owned(),
                "isaac.brock@example.com".to_owned()
            ),
            // No login: the id names the principal.
            (
                "00ub0oNGTSWTBKOLGLNT".to_owned(),
                "00ub0oNGTSWTBKOLGLNT".to_owned()
            ),
        ]
    );
    let Some(Job::Users(p)) = page.tasks.last().map(|t| job(&s, t)) else {
        panic!("no next page: {:?}", page.tasks);
    };
    assert_eq!((p.url.as_str(), p.page), (next.as_str(), 2));
}

#[test]
fn a_link_off_the_org_or_back_to_the_same_page_is_an_error() {
    let s = settings();
    for link in [
        "<https://evil.example/api/v1/users?after=x>; rel=\"next\"".to_owned(),
        format!("<{ORG}/api/v1/users?limit=200>; rel=\"next\""),
    ] {
        let resp = response(200, &[("link", &link)], b"[]");
        let e = err(run(&s, &users_task(), &resp));
        assert_error(&e, ErrorCode::Malformed, &["next-page link"]);
    }
    // A relative link is resolved against the org.
    let resp = response(
        200,
        &[("link", "</api/v1/users?after=00u1>; rel=\"next\"")],
        b"[]",
    );
    let page = ok(run(&s, &users_task(), &resp));
    assert_eq!(page.tasks.len(), 1);
}

#[test]
fn tasks_are_checked_before_anything_is_fetched() {
    let s = settings();
    let bad = [
        task("nope", serde_json::json!({})),
        task(
            "users",
            serde_json::json!({"url": "https://evil.example/api/v1/users", "page": 1}),
        ),
        task(
            "users",
            serde_json::json!({"url": format!("{ORG}/api/v1/users"), "page": 0}),
        ),
        task(
            "user",
            serde_json::json!({"url": format!("{ORG}/api/v1/users/a/clients"), "page": 1,
                               "user_id": "../x", "login": "x"}),
        ),
    ];
    for t in &bad {
        let e = err(api::decode_task(&s, t));
        assert_eq!(e.code, ErrorCode::InvalidInput, "{t:?}: {}", e.message);
    }
}

#[test]
fn apps_skip_integrations_and_non_oauth_apps() {
    let s = settings();
    let body = r#"[
      {"id": "0oaA", "label": "Svc", "status": "INACTIVE", "signOnMode": "OPENID_CONNECT",
       "credentials": {"oauthClient": {"client_id": "0oaA"}}, "settings": {"oauthClient": {"application_type": "service"}}},
      {"id": "0oaB", "label": "Integration", "signOnMode": "OPENID_CONNECT"},
      {"id": "0oaC", "label": "Saml", "signOnMode": "SAML_2_0", "credentials": null, "settings": null}
    ]"#;
    let t = task(
        "apps",
        serde_json::json!({"url": format!("{ORG}/api/v1/apps"), "page": 1, "skip": ["0oaB"]}),
    );
    let page = ok(run(&s, &t, &response(200, &[], body.as_bytes())));
    let ids: Vec<String> = page
        .tasks
        .iter()
        .filter_map(|t| match job(&s, t) {
            Job::AppGrants(a) => Some(format!("{}:{}", a.app_id, a.status)),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["0oaA:INACTIVE"]);
}

#[test]
fn errors_are_classified_by_okta_error_code() {
    let s = settings();
    let body = |code: &str| {
        format!(
            r#"{{"errorCode":"{code}","errorSummary":"summary","errorLink":"{code}","errorId":"oae1","errorCauses":[]}}"#
        )
    };
    let cases = [
        (429, "E0000047", ErrorCode::RateLimited, "rate-limited"),
        (401, "E0000011", ErrorCode::Unauthenticated, "credential"),
        (403, "E0000006", ErrorCode::Permission, "okta.users.read"),
        (404, "E0000007", ErrorCode::Config, "org_url"),
        (500, "E0000009", ErrorCode::Provider, "try again"),
    ];
    for (status, code, want, needle) in cases {
        let resp = response(status, &[], body(code).as_bytes());
        let e = err(run(&s, &users_task(), &resp));
        assert_error(&e, want, &[needle, code]);
    }
    let resp = response(
        403,
        &[("www-authenticate", "Bearer error=\"insufficient_scope\"")],
        body("E0000006").as_bytes(),
    );
    let e = err(run(&s, &users_task(), &resp));
    assert_error(&e, ErrorCode::Permission, &["lacks `okta.users.read`"]);
    // A user deleted mid-scan: nothing to list, a warning, no failure.
    let t = task(
        "user",
        serde_json::json!({"url": format!("{ORG}/api/v1/users/00u1/clients"), "page": 1,
                           "user_id": "00u1", "login": "a@b"}),
    );
    let page = ok(run(
        &s,
        &t,
        &response(404, &[], body("E0000007").as_bytes()),
    ));
    assert!(page.grants.is_empty() && page.tasks.is_empty());
    assert_eq!(page.warnings.len(), 1);
    // Garbage is malformed, not a panic.
    let e = err(run(&s, &users_task(), &response(200, &[], b"{\"truncated")));
    assert_eq!(e.code, ErrorCode::Malformed);
}

#[test]
fn settings_are_validated() {
    for bad in [
        "",
        "acme.okta.com",
        "ftp://acme.okta.com",
        "https://user@acme.okta.com",
        "https://acme.okta.com/?x",
    ] {
        let e = err(Settings::new("t", bad, None));
        assert_eq!(e.code, ErrorCode::Config, "{bad}");
        assert!(!e.message.contains("user@"), "credentials are not echoed");
    }
    let s = ok(Settings::new(
        "t",
        "HTTPS://Acme.Okta.com/",
        Some("0oa1, 0oa2"),
    ));
    assert_eq!(s.org_url(), "https://acme.okta.com");
    assert!(s.vendor_owned("0oa2", "x") && !s.vendor_owned("0oa3", "0oa4"));
    let e = err(Settings::new("t", ORG, Some("0oa1,a/b")));
    assert_error(&e, ErrorCode::Config, &["vendor_owned_apps"]);
}

#[test]
fn manifest_declares_okta_hosts_and_flags_revoke_only_scopes() {
    let m = api::manifest();
    assert_eq!(m.id, "okta");
    assert_eq!(
        m.hosts,
        ["*.okta.com", "*.oktapreview.com", "*.okta-emea.com"]
    );
    assert_eq!(m.credential_kinds, ["client-credentials", "static-token"]);
    let read: Vec<&str> = m
        .permissions
        .iter()
        .filter(|p| !p.revoke_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(read, api::READ_SCOPES);
    assert!(
        m.permissions
            .iter()
            .filter(|p| p.revoke_only)
            .all(|p| p.name.ends_with(".manage"))
    );
}
