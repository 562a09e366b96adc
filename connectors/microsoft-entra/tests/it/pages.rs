//! Paging: empty pages that link on, next links that leave the origin or loop, page
//! caps, lookups in chunks, usage when the report is unavailable, and errors.

use grantscope_connector_microsoft_entra::api::{
    self, Job, Operation, PageTask, classify, decode_task,
};
use grantscope_connector_sdk::{ErrorCode, Method, PrincipalKind, Task};
use serde_json::json;

use crate::{Fake, assert_error, err, ok, reply, settings};

const GRANTS: &str = "https://graph.microsoft.com/v1.0/oauth2PermissionGrants?$top=999";

fn delegated(url: &str, page: u32) -> Job {
    Job::Delegated(PageTask {
        url: url.to_owned(),
        page,
        resource_id: None,
    })
}

const CLIENT: &str = "3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5";
const USER: &str = "2b7d9f1a-4c6e-48a0-b2d4-f6a8c0e2b4d6";

fn vendor_sp(owner: &str) -> serde_json::Value {
    json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": CLIENT,
        "appId": "b7e2c9d4-5a1f-4e3b-8c6d-2f9a0e1b4c73", "displayName": "Contoso Notes AI",
        "appOwnerOrganizationId": owner, "publisherName": "Contoso",
        "verifiedPublisher": null, "accountEnabled": false})
}

#[test]
fn an_empty_page_that_links_on_is_followed() {
    let next = "https://graph.microsoft.com/v1.0/oauth2PermissionGrants?$top=999&$skiptoken=abc";
    let page = json!({"value": [], "@odata.nextLink": next}).to_string();
    let mut t = Fake::default().on(
        Method::Get,
        "oauth2PermissionGrants",
        vec![reply(200, &page)],
    );
    let out = ok(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
    assert!(out.grants.is_empty());
    assert_eq!(out.tasks.len(), 1);
    let task: PageTask = ok(out.tasks[0].decode());
    assert_eq!((task.url.as_str(), task.page), (next, 2));
    assert_eq!(t.calls.len(), 1, "nothing to look up on an empty page");
}

#[test]
fn bad_next_links_fail_the_page() {
    for (link, why) in [
        (
            "https://evil.example/v1.0/oauth2PermissionGrants",
            "refusing",
        ),
        (GRANTS, "same page"),
    ] {
        let page = json!({"value": [], "@odata.nextLink": link}).to_string();
        let mut t = Fake::default().on(Method::Get, "", vec![reply(200, &page)]);
        let e = err(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
        assert_error(&e, ErrorCode::Malformed, &[why, "incomplete"]);
    }
    let page = json!({"value": [], "@odata.nextLink": format!("{GRANTS}&x=1")}).to_string();
    let mut t = Fake::default().on(Method::Get, "", vec![reply(200, &page)]);
    let e = err(api::run(
        &settings(),
        &delegated(GRANTS, api::MAX_PAGES),
        &mut t,
    ));
    assert_error(&e, ErrorCode::Malformed, &["pages"]);
    // A truncated body is malformed (the host retries the task).
    let mut t = Fake::default().on(Method::Get, "", vec![reply(200, r#"{"value":[{"id":"#)]);
    let e = err(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
    assert_error(
        &e,
        ErrorCode::Malformed,
        &["delegated permission grant list"],
    );
}

#[test]
fn tasks_are_rechecked() {
    let s = settings();
    let task = |kind: &str, url: &str, page: u32| Task {
        kind: kind.to_owned(),
        payload: json!({"url": url, "page": page}).to_string(),
    };
    assert!(decode_task(&s, &task("delegated-grants", GRANTS, 1)).is_ok());
    let e = err(decode_task(
        &s,
        &task("delegated-grants", "https://evil.example/x", 1),
    ));
    assert_error(&e, ErrorCode::InvalidInput, &["outside"]);
    let e = err(decode_task(&s, &task("delegated-grants", GRANTS, 0)));
    assert_error(&e, ErrorCode::InvalidInput, &["page number"]);
    let e = err(decode_task(&s, &task("bogus", GRANTS, 1)));
    assert_error(&e, ErrorCode::InvalidInput, &["unknown task kind"]);
    let e = err(decode_task(&s, &task("app-role-holders", GRANTS, 1)));
    assert_error(&e, ErrorCode::InvalidInput, &["resource id"]);
}

#[test]
fn user_consents_name_the_user_and_skip_microsoft_apps() {
    let rows = json!({"value": [
        {"id": "AAAA", "clientId": CLIENT, "consentType": "Principal", "principalId": USER,
         "resourceId": "6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63", "scope": "User.Read  Mail.Read User.Read"},
        {"id": "BBBB", "clientId": CLIENT, "consentType": "Principal",
         "principalId": "99999999-4c6e-48a0-b2d4-f6a8c0e2b4d6", "resourceId": null, "scope": "openid"},
        {"id": "CCCC", "clientId": "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", "consentType": "Principal",
         "principalId": USER, "resourceId": null, "scope": "openid"},
        {"id": "DDDD", "clientId": "0000dead-1a3b-4c5d-8e9f-0a1b2c3d4e5f", "consentType": "AllPrincipals",
         "principalId": null, "resourceId": null, "scope": "openid"},
        {"id": "../evil", "clientId": CLIENT, "consentType": "AllPrincipals", "principalId": null,
         "resourceId": null, "scope": "openid"},
    ]})
    .to_string();
    // The second client is Microsoft's (Graph CLI tools: listed, owner not Microsoft).
    let cli = json!({"@odata.type": "#microsoft.graph.servicePrincipal",
        "id": "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", "appId": "14d82eec-204b-4c2f-b7e8-296a70dab67e",
        "displayName": "Microsoft Graph Command Line Tools",
        "appOwnerOrganizationId": "cdc5aeea-15c5-4db6-b079-fcadd2505dc2"});
    let sps =
        json!({"value": [vendor_sp("4d2e8a16-9c3b-47f1-b5e0-6a7c9d1f2e84"), cli]}).to_string();
    let users = json!({"value": [{"@odata.type": "#microsoft.graph.user", "id": USER,
        "userPrincipalName": "megan.b@contoso.example", "displayName": "Megan B"}]})
    .to_string();
    let report = json!({"value": [{"appId": "b7e2c9d4-5a1f-4e3b-8c6d-2f9a0e1b4c73",
        "delegatedClientSignInActivity": {"lastSignInDateTime": "2026-06-01T07:41:12.5Z"}}]})
    .to_string();
    let mut t = Fake::default()
        .on(
            Method::Get,
            "oauth2PermissionGrants",
            vec![reply(200, &rows)],
        )
        .on(
            Method::Post,
            "getByIds",
            vec![reply(200, &sps), reply(200, &users)],
        )
        .on(
            Method::Get,
            "servicePrincipalSignInActivities",
            vec![reply(200, &report)],
        );
    let out = ok(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
    let ids: Vec<&str> = out.grants.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["permission-grant:AAAA", "permission-grant:BBBB"]);
    let a = &out.grants[0];
    assert_eq!(a.principal.kind, PrincipalKind::User);
    assert_eq!(a.principal.id, "megan.b@contoso.example");
    assert_eq!(a.principal.display.as_deref(), Some("Megan B"));
    assert_eq!(a.scopes, ["Mail.Read", "User.Read"]);
    assert_eq!(a.last_used_at, None, "no per-user last use");
    assert!(a.attributes.contains(&(
        "app_last_delegated_sign_in".to_owned(),
        "2026-06-01T07:41:12Z".to_owned()
    )));
    assert!(
        a.attributes
            .contains(&("usage_reported".to_owned(), "false".to_owned()))
    );
    assert!(
        a.notes.iter().any(|n| n.contains("disabled")),
        "the SP is disabled"
    );
    // An unknown user is named by object id, with a note.
    let b = &out.grants[1];
    assert_eq!(b.principal.id, "99999999-4c6e-48a0-b2d4-f6a8c0e2b4d6");
    assert!(b.notes.iter().any(|n| n.contains("not found")));
    // The unknown client and the unusable id are warnings, not grants.
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    // The users were looked up once, with the user type.
    let bodies: Vec<String> = t.calls.iter().filter_map(|c| c.body.clone()).collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[1].contains(r#""types":["user"]"#) && bodies[1].contains(USER));
}

#[test]
fn a_missing_sign_in_report_is_a_note_not_a_failure() {
    let rows = json!({"value": [{"id": "AAAA", "clientId": CLIENT, "consentType": "AllPrincipals",
        "principalId": null, "resourceId": null, "scope": "openid"}]})
    .to_string();
    let sps = json!({"value": [vendor_sp("4d2e8a16-9c3b-47f1-b5e0-6a7c9d1f2e84")]}).to_string();
    let denied = r#"{"error":{"code":"Authentication_RequestFromNonPremiumTenantOrB2CTenant","message":"Neither tenant is B2C or tenant doesn't have premium license"}}"#;
    let mut t = Fake::default()
        .on(
            Method::Get,
            "oauth2PermissionGrants",
            vec![reply(200, &rows)],
        )
        .on(Method::Post, "getByIds", vec![reply(200, &sps)])
        .on(
            Method::Get,
            "servicePrincipalSignInActivities",
            vec![reply(403, denied)],
        );
    let out = ok(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
    let g = &out.grants[0];
    assert_eq!(g.last_used_at, None);
    assert!(
        g.attributes
            .contains(&("usage_reported".to_owned(), "false".to_owned()))
    );
    assert!(g.notes.iter().any(|n| n.contains("P1/P2")));
    assert!(out.warnings.iter().any(|w| w.contains("NonPremium")));
    // A throttled report is a rate limit: the host retries the task.
    let mut t = Fake::default()
        .on(
            Method::Get,
            "oauth2PermissionGrants",
            vec![reply(200, &rows)],
        )
        .on(Method::Post, "getByIds", vec![reply(200, &sps)])
        .on(
            Method::Get,
            "servicePrincipalSignInActivities",
            vec![
                reply(
                    429,
                    r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#,
                )
                .header("Retry-After", "2"),
            ],
        );
    let e = err(api::run(&settings(), &delegated(GRANTS, 1), &mut t));
    assert_error(
        &e,
        ErrorCode::RateLimited,
        &["TooManyRequests", "retry after 2 s"],
    );
}

#[test]
fn errors_name_the_permission_and_what_to_do() {
    let s = settings();
    let body = |code: &str| {
        format!(
            r#"{{"error":{{"code":"{code}","message":"m","innerError":{{"date":"2026-01-01T00:00:00"}}}}}}"#
        )
    };
    let cases = [
        (
            401,
            "InvalidAuthenticationToken",
            ErrorCode::Unauthenticated,
            "client id",
        ),
        (
            403,
            "Authorization_RequestDenied",
            ErrorCode::Permission,
            "Directory.Read.All",
        ),
        (
            404,
            "Request_ResourceNotFound",
            ErrorCode::Config,
            "tenant_id",
        ),
        (
            503,
            "ServiceUnavailable",
            ErrorCode::Provider,
            "try again later",
        ),
        (418, "Teapot", ErrorCode::Provider, "unexpected 418"),
    ];
    for (status, code, want, needle) in cases {
        let e = classify(
            &s,
            Operation::ListDelegated,
            &reply(status, &body(code)).response(),
        );
        assert_error(&e, want, &[code, needle, "acme"]);
    }
    let e = classify(
        &s,
        Operation::DeletePermissionGrant,
        &reply(403, &body("Authorization_RequestDenied")).response(),
    );
    assert_error(
        &e,
        ErrorCode::Permission,
        &["DelegatedPermissionGrant.ReadWrite.All"],
    );
    // A body that is not Graph's is quoted, clipped.
    let e = classify(
        &s,
        Operation::GetByIds,
        &reply(502, &"x".repeat(1000)).response(),
    );
    assert!(e.message.len() < 600, "{}", e.message);
}

#[test]
fn resources_without_holders_and_gone_resources() {
    let resource = "6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63";
    let job = Job::AppRoleHolders {
        resource_id: resource.to_owned(),
        page: PageTask {
            url: format!(
                "https://graph.microsoft.com/v1.0/servicePrincipals/{resource}/appRoleAssignedTo?$top=999"
            ),
            page: 1,
            resource_id: Some(resource.to_owned()),
        },
    };
    // Deleted since it was listed: nothing to report, no failure.
    let mut t = Fake::default();
    let out = ok(api::run(&settings(), &job, &mut t));
    assert!(out.grants.is_empty() && out.tasks.is_empty());
    assert_eq!(out.warnings.len(), 1);
    // Users assigned to an app are not application permissions: no lookups at all.
    let users =
        json!({"value": [{"id": "Zm9v", "appRoleId": "00000000-0000-0000-0000-000000000000",
        "principalId": USER, "principalType": "User", "resourceId": resource}]})
        .to_string();
    let mut t = Fake::default()
        .on(
            Method::Get,
            "?$select=",
            vec![reply(
                200,
                &json!({"id": resource, "appRoles": []}).to_string(),
            )],
        )
        .on(Method::Get, "appRoleAssignedTo", vec![reply(200, &users)]);
    let out = ok(api::run(&settings(), &job, &mut t));
    assert!(out.grants.is_empty());
    assert_eq!(t.calls.len(), 2);
}
