//! Every payload in `testdata/providers/microsoft-entra/examples/`, parsed as it is.
//!
//! Each exchange the connector makes is replayed through `api` with the example's
//! response as the answer, and concrete values are asserted; the others (the token
//! endpoint, which the host handles, and calls the connector does not make) are at
//! least deserialised, so a broken or renamed file fails here rather than in a scan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grantscope_connector_microsoft_entra::api::{
    self, ACTION_APP_ROLE_ASSIGNMENT, ACTION_PERMISSION_GRANT, Job, PageTask, graph_error,
};
use grantscope_connector_sdk::{
    Grant, GrantKind, Method, PrincipalKind, RevocationStatus, RevocationTarget, TargetState,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Fake, Reply, ok, reply, settings};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "_meta")]
    meta: Meta,
    request: Request,
    response: ReplyJson,
}

#[derive(Deserialize)]
struct Meta {
    source: String,
    verbatim_body: bool,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    host: String,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ReplyJson {
    status: u16,
    body: Value,
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/microsoft-entra/examples")
}

fn load_all() -> BTreeMap<String, Envelope> {
    let dir = examples_dir();
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let env: Envelope = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not an example envelope: {e}", path.display()));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        out.insert(name, env);
    }
    out
}

fn example(name: &str) -> Envelope {
    load_all()
        .remove(name)
        .unwrap_or_else(|| panic!("no example {name}"))
}

/// The example's response as a canned reply (a 204's `null` body is empty).
fn answer(env: &Envelope) -> Reply {
    let body = if env.response.body.is_null() {
        String::new()
    } else {
        env.response.body.to_string()
    };
    reply(env.response.status, &body)
}

fn body(name: &str) -> Value {
    example(name).response.body
}

/// `getByIds` answering with the example service principals (and Graph's own).
fn directory() -> Reply {
    let mut value: Vec<Value> = body("servicePrincipals-list.json")["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    value.push(body("servicePrincipal-graph-permissions.json"));
    for v in &mut value {
        v["@odata.type"] = json!("#microsoft.graph.servicePrincipal");
    }
    reply(200, &json!({"value": value}).to_string())
}

fn by_id(grants: &[Grant]) -> BTreeMap<String, &Grant> {
    grants.iter().map(|g| (g.id.clone(), g)).collect()
}

fn attr<'a>(g: &'a Grant, key: &str) -> Option<&'a str> {
    g.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn app_attr<'a>(g: &'a Grant, key: &str) -> Option<&'a str> {
    g.app
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn every_example_is_a_well_formed_exchange() {
    let all = load_all();
    assert_eq!(all.len(), 16, "{:?}", all.keys().collect::<Vec<_>>());
    for (name, env) in &all {
        assert!(!env.meta.source.is_empty(), "{name}");
        assert!(!env.meta.verbatim_body, "{name}: synthetic bodies");
        assert!(
            ["GET", "POST", "PATCH", "DELETE"].contains(&env.request.method.as_str()),
            "{name}"
        );
        assert!(
            ["graph.microsoft.com", "login.microsoftonline.com"]
                .contains(&env.request.host.as_str()),
            "{name}: the manifest declares every host the examples use"
        );
        let hosts = api::manifest().hosts;
        assert!(hosts.contains(&env.request.host), "{name}");
        assert!(env.request.path.starts_with('/'), "{name}");
        // Every list example is a Graph collection page.
        if env.response.status == 200
            && env.request.method == "GET"
            && !env.request.path.contains("(appId=")
        {
            assert!(
                env.response.body.get("value").is_some(),
                "{name} has a `value`"
            );
        }
    }
}

#[test]
fn the_scan_asks_for_what_the_examples_show() {
    let s = settings();
    let tasks = api::start_tasks(&s);
    let grants = example("oauth2PermissionGrants-list.json");
    let first: PageTask = ok(tasks[0].decode());
    assert_eq!(
        first.url,
        format!(
            "https://graph.microsoft.com{}?$top={}",
            grants.request.path, grants.request.query["$top"]
        )
    );
    let sps = example("servicePrincipals-list.json");
    let second: PageTask = ok(tasks[1].decode());
    assert!(second.url.starts_with(&format!(
        "https://graph.microsoft.com{}?$select=",
        sps.request.path
    )));
    assert!(
        second
            .url
            .ends_with(&format!("&$top={}", sps.request.query["$top"]))
    );
    assert!(
        second.url.contains("appRoles"),
        "resources are found by their app roles"
    );
}

#[test]
fn service_principals_are_classified() {
    let list: Vec<api::ServicePrincipal> =
        serde_json::from_value(body("servicePrincipals-list.json")["value"].clone())
            .unwrap_or_else(|e| panic!("{e}"));
    let microsoft: Vec<(String, bool)> = list
        .iter()
        .map(|s| (s.id.clone(), s.is_microsoft()))
        .collect();
    assert_eq!(
        microsoft,
        [
            ("3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5".to_owned(), false),
            ("8c1d3e5f-2a4b-4c6d-9e8f-7a6b5c4d3e2f".to_owned(), false),
            ("c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f".to_owned(), true),
            ("5e7f9a1b-3c5d-4e7f-8a9b-1c3d5e7f9a1b".to_owned(), false),
        ]
    );
    // The service principal page needs no further call; its next link is followed.
    let env = example("servicePrincipals-list.json");
    let mut t = Fake::default().on(Method::Get, "/servicePrincipals", vec![answer(&env)]);
    let job = Job::ServicePrincipals(PageTask {
        url: "https://graph.microsoft.com/v1.0/servicePrincipals?$top=999".to_owned(),
        page: 1,
        resource_id: None,
    });
    let out = ok(api::run(&settings(), &job, &mut t));
    assert!(out.grants.is_empty());
    assert_eq!(
        out.tasks.len(),
        1,
        "only the next page: no SP here has app roles"
    );
    assert_eq!(out.tasks[0].kind, "service-principals");
    let next: PageTask = ok(out.tasks[0].decode());
    assert!(next.url.contains("$skiptoken=RFNwdA"));
    assert_eq!(next.page, 2);
    // Graph's own service principal exposes app roles: it becomes a holders task.
    let graph = body("servicePrincipal-graph-permissions.json");
    let page = json!({"value": [graph]}).to_string();
    let mut t = Fake::default().on(Method::Get, "/servicePrincipals", vec![reply(200, &page)]);
    let out = ok(api::run(&settings(), &job, &mut t));
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(out.tasks[0].kind, "app-role-holders");
    let holders: PageTask = ok(out.tasks[0].decode());
    assert_eq!(
        holders.url,
        "https://graph.microsoft.com/v1.0/servicePrincipals/6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63/appRoleAssignedTo?$top=999"
    );
}

#[test]
fn delegated_grants_map_as_the_readme_says() {
    let env = example("oauth2PermissionGrants-list.json");
    let mut t = Fake::default()
        .on(Method::Get, "/oauth2PermissionGrants", vec![answer(&env)])
        .on(
            Method::Post,
            "/directoryObjects/getByIds",
            vec![directory()],
        )
        .on(
            Method::Get,
            "/beta/reports/servicePrincipalSignInActivities",
            vec![answer(&example(
                "servicePrincipalSignInActivities-list.json",
            ))],
        );
    let job = Job::Delegated(PageTask {
        url: "https://graph.microsoft.com/v1.0/oauth2PermissionGrants?$top=999".to_owned(),
        page: 1,
        resource_id: None,
    });
    let out = ok(api::run(&settings(), &job, &mut t));
    assert!(out.tasks.is_empty(), "the example page is the last");
    assert_eq!(out.grants.len(), 3);
    let grants = by_id(&out.grants);
    let contoso = grants["permission-grant:IVyPOk59mkumwpHg9NO3pZorHm9EPI5NmlErfA1Oj2M"];
    assert_eq!(contoso.kind, GrantKind::AdminConsent);
    assert_eq!(contoso.principal.kind, PrincipalKind::Tenant);
    assert_eq!(contoso.principal.id, "acme");
    assert_eq!(contoso.app.id, "b7e2c9d4-5a1f-4e3b-8c6d-2f9a0e1b4c73");
    assert_eq!(contoso.app.name, "Contoso Notes AI");
    assert_eq!(contoso.app.publisher.as_deref(), Some("Contoso Notes Inc."));
    assert_eq!(app_attr(contoso, "verified_publisher"), Some("true"));
    assert_eq!(app_attr(contoso, "verified_publisher_id"), Some("6104387"));
    assert_eq!(
        app_attr(contoso, "sign_in_audience"),
        Some("AzureADMultipleOrgs")
    );
    assert_eq!(app_attr(contoso, "account_enabled"), Some("true"));
    assert_eq!(app_attr(contoso, "home_tenant"), Some("false"));
    assert_eq!(
        contoso.scopes,
        [
            "Calendars.Read",
            "Files.Read.All",
            "Mail.Read",
            "User.Read",
            "email",
            "offline_access",
            "openid",
            "profile"
        ]
    );
    assert_eq!(contoso.created_at, None);
    assert_eq!(
        contoso.last_used_at.as_deref(),
        Some("2026-06-01T07:41:12Z")
    );
    assert_eq!(attr(contoso, "resource_name"), Some("Microsoft Graph"));
    assert_eq!(
        attr(contoso, "resource_app_id"),
        Some("00000003-0000-0000-c000-000000000000")
    );
    let target = contoso
        .revocation
        .as_ref()
        .unwrap_or_else(|| panic!("target"));
    assert_eq!(target.action, ACTION_PERMISSION_GRANT);
    assert_eq!(
        target.handle,
        r#"{"grant_id":"IVyPOk59mkumwpHg9NO3pZorHm9EPI5NmlErfA1Oj2M","client_id":"3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5"}"#
    );
    // Exchange Online is a resource here, not a client: its grant to Contoso is kept.
    let exo = grants["permission-grant:IVyPOk59mkumwpHg9NO3pfjm1MI7Gl1Mjp8KGyw9Tl8"];
    assert_eq!(exo.scopes, ["EWS.AccessAsUser.All"]);
    assert_eq!(
        attr(exo, "resource_name"),
        Some("Office 365 Exchange Online")
    );
    // Fabrikam is unverified: its publisher is its self-declared name; and it has no
    // delegated sign-in in the report.
    let fabrikam = grants["permission-grant:Xz4djEsqbUyej3prXE0-L5orHm9EPI5NmlErfA1Oj2M"];
    assert_eq!(fabrikam.app.publisher.as_deref(), Some("Fabrikam"));
    assert_eq!(app_attr(fabrikam, "verified_publisher"), Some("false"));
    assert_eq!(fabrikam.last_used_at, None);
    assert_eq!(fabrikam.scopes, ["Directory.Read.All", "User.Read"]);
    assert!(
        fabrikam
            .notes
            .iter()
            .any(|n| n.contains("no delegated sign-in")),
        "{:?}",
        fabrikam.notes
    );
    // One lookup for the page's service principals; no user lookup (admin consents).
    assert_eq!(t.calls_to(Method::Post, "getByIds"), 1);
    let lookup = t
        .calls
        .iter()
        .find(|c| c.method == Method::Post)
        .and_then(|c| c.body.clone())
        .unwrap_or_default();
    assert!(
        lookup.contains(r#""types":["servicePrincipal"]"#),
        "{lookup}"
    );
}

#[test]
fn application_grants_map_as_the_readme_says() {
    let env = example("servicePrincipal-appRoleAssignedTo-list.json");
    let graph = example("servicePrincipal-graph-permissions.json");
    let mut t = Fake::default()
        .on(Method::Get, "/appRoleAssignedTo", vec![answer(&env)])
        .on(
            Method::Get,
            "/servicePrincipals/6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63?$select=",
            vec![answer(&graph)],
        )
        .on(
            Method::Post,
            "/directoryObjects/getByIds",
            vec![directory()],
        )
        .on(
            Method::Get,
            "/beta/reports/servicePrincipalSignInActivities",
            vec![answer(&example(
                "servicePrincipalSignInActivities-list.json",
            ))],
        );
    let resource = "6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63".to_owned();
    let job = Job::AppRoleHolders {
        resource_id: resource.clone(),
        page: PageTask {
            url: format!(
                "https://graph.microsoft.com/v1.0/servicePrincipals/{resource}/appRoleAssignedTo?$top=999"
            ),
            page: 1,
            resource_id: Some(resource),
        },
    };
    let out = ok(api::run(&settings(), &job, &mut t));
    assert!(out.tasks.is_empty());
    let grants = by_id(&out.grants);
    assert_eq!(grants.len(), 3);
    let read_all = grants["app-role-assignment:Xz4djEsqbUyej3prXE0-L2Xt21GMNGxGreA4yQG53zU"];
    assert_eq!(read_all.kind, GrantKind::Application);
    assert_eq!(read_all.principal.kind, PrincipalKind::Service);
    assert_eq!(
        read_all.principal.id,
        "8c1d3e5f-2a4b-4c6d-9e8f-7a6b5c4d3e2f"
    );
    assert_eq!(
        read_all.principal.display.as_deref(),
        Some("Fabrikam HR Sync")
    );
    assert_eq!(read_all.app.id, "e4a1b2c3-d5e6-4f70-8192-a3b4c5d6e7f8");
    assert_eq!(read_all.scopes, ["User.Read.All"]);
    assert_eq!(read_all.created_at.as_deref(), Some("2024-02-06T11:31:07Z"));
    assert_eq!(
        read_all.last_used_at.as_deref(),
        Some("2026-05-31T23:00:04Z")
    );
    let target = read_all
        .revocation
        .as_ref()
        .unwrap_or_else(|| panic!("target"));
    assert_eq!(target.action, ACTION_APP_ROLE_ASSIGNMENT);
    assert_eq!(
        target.handle,
        r#"{"assignment_id":"Xz4djEsqbUyej3prXE0-L2Xt21GMNGxGreA4yQG53zU","resource_id":"6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63","client_id":"8c1d3e5f-2a4b-4c6d-9e8f-7a6b5c4d3e2f"}"#
    );
    // User.ReadWrite.All is not among the trimmed example's app roles: kept by id.
    let unresolved = grants["app-role-assignment:Xz4djEsqbUyej3prXE0-L1cGaVCVMrhPpqyO5ROdmGQ"];
    assert_eq!(unresolved.scopes, ["741f803b-c850-494e-b5df-cde7c675a1ca"]);
    assert!(
        unresolved
            .notes
            .iter()
            .any(|n| n.contains("reported by id"))
    );
    // The home-tenant app is reported (it is not Microsoft's) and marked as internal.
    let etl = grants["app-role-assignment:G5p_Xl08f06Kmxw9Xn-aG__AIOz2UgxChUYiz-f9zco"];
    assert_eq!(etl.scopes, ["Mail.Read"]);
    assert_eq!(app_attr(etl, "home_tenant"), Some("true"));
    assert_eq!(etl.created_at.as_deref(), Some("2022-10-19T08:02:55Z"));
    assert_eq!(etl.last_used_at, None, "no report entry for it");
}

fn grant_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: "microsoft-entra/acme/permission-grant:IVyPOk59mkumwpHg9NO3pZorHm9EPI5NmlErfA1Oj2M"
            .to_owned(),
        action: ACTION_PERMISSION_GRANT.to_owned(),
        handle: r#"{"grant_id":"IVyPOk59mkumwpHg9NO3pZorHm9EPI5NmlErfA1Oj2M","client_id":"3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5"}"#.to_owned(),
    }
}

fn assignment_target() -> RevocationTarget {
    RevocationTarget {
        grant_id: "app-role-assignment:G5p_Xl08f06Kmxw9Xn-aG__AIOz2UgxChUYiz-f9zco".to_owned(),
        action: ACTION_APP_ROLE_ASSIGNMENT.to_owned(),
        handle: r#"{"assignment_id":"G5p_Xl08f06Kmxw9Xn-aG__AIOz2UgxChUYiz-f9zco","resource_id":"6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63","client_id":"5e7f9a1b-3c5d-4e7f-8a9b-1c3d5e7f9a1b"}"#.to_owned(),
    }
}

#[test]
fn revocation_calls_are_the_documented_ones() {
    let delete = example("oauth2PermissionGrant-delete.json");
    let disable = example("servicePrincipal-disable.json");
    let empty = reply(200, r#"{"value": []}"#);
    let mut t = Fake::default()
        .on(
            Method::Delete,
            "/oauth2PermissionGrants/",
            vec![answer(&delete)],
        )
        .on(Method::Get, "/oauth2PermissionGrants", vec![empty.clone()])
        .on(Method::Get, "/appRoleAssignments", vec![empty])
        .on(
            Method::Get,
            "?$select=id,accountEnabled",
            vec![reply(200, r#"{"id":"x","accountEnabled":true}"#)],
        )
        .on(Method::Patch, "/servicePrincipals/", vec![answer(&disable)]);
    let done = ok(api::revoke(&settings(), &grant_target(), &mut t));
    assert_eq!(done.status, RevocationStatus::Revoked, "{done:?}");
    assert!(done.detail.contains("disabled"), "{}", done.detail);
    let delete_call = &t.calls[0];
    assert_eq!(delete_call.method, Method::Delete);
    assert_eq!(
        delete_call.url,
        format!("https://graph.microsoft.com{}", delete.request.path)
    );
    let patch = t
        .calls
        .iter()
        .find(|c| c.method == Method::Patch)
        .unwrap_or_else(|| panic!("no PATCH: {:?}", t.calls));
    assert_eq!(
        patch.url,
        "https://graph.microsoft.com/v1.0/servicePrincipals/3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5"
    );
    let sent: Value = serde_json::from_str(patch.body.as_deref().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent, disable_body());

    let delete = example("appRoleAssignedTo-delete.json");
    let mut t = Fake::default()
        .on(Method::Delete, "/appRoleAssignedTo/", vec![answer(&delete)])
        .on(
            Method::Get,
            "/oauth2PermissionGrants",
            vec![reply(200, r#"{"value":[]}"#)],
        )
        .on(
            Method::Get,
            "/appRoleAssignments",
            vec![answer(&example(
                "servicePrincipal-appRoleAssignments-list.json",
            ))],
        );
    let done = ok(api::revoke(&settings(), &assignment_target(), &mut t));
    assert_eq!(done.status, RevocationStatus::Revoked);
    assert_eq!(
        t.calls[0].url,
        format!("https://graph.microsoft.com{}", delete.request.path)
    );
    assert!(done.detail.contains("stays enabled"), "{}", done.detail);
    assert_eq!(t.calls_to(Method::Patch, ""), 0);
}

fn disable_body() -> Value {
    let env: Value = serde_json::from_str(
        &std::fs::read_to_string(examples_dir().join("servicePrincipal-disable.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    env["request"]["body"].clone()
}

#[test]
fn probing_reads_the_client_listings() {
    let held = example("servicePrincipal-appRoleAssignments-list.json");
    let target = RevocationTarget {
        grant_id: "app-role-assignment:Xz4djEsqbUyej3prXE0-L2Xt21GMNGxGreA4yQG53zU".to_owned(),
        action: ACTION_APP_ROLE_ASSIGNMENT.to_owned(),
        handle: r#"{"assignment_id":"Xz4djEsqbUyej3prXE0-L2Xt21GMNGxGreA4yQG53zU","resource_id":"6f1e2b9a-3c44-4d8e-9a51-2b7c0d4e8f63","client_id":"8c1d3e5f-2a4b-4c6d-9e8f-7a6b5c4d3e2f"}"#.to_owned(),
    };
    let mut t = Fake::default().on(Method::Get, "/appRoleAssignments", vec![answer(&held)]);
    assert_eq!(
        ok(api::probe(&settings(), &target, &mut t)),
        TargetState::Present
    );
    assert_eq!(
        t.calls[0].url,
        format!("https://graph.microsoft.com{}?$top=999", held.request.path)
    );
    let grants = example("oauth2PermissionGrants-list.json");
    let mut t = Fake::default().on(
        Method::Get,
        "/oauth2PermissionGrants",
        vec![answer(&grants)],
    );
    assert_eq!(
        ok(api::probe(&settings(), &grant_target(), &mut t)),
        TargetState::Present
    );
    let mut t = Fake::default().on(
        Method::Get,
        "/oauth2PermissionGrants",
        vec![reply(200, r#"{"value":[]}"#)],
    );
    assert_eq!(
        ok(api::probe(&settings(), &grant_target(), &mut t)),
        TargetState::Gone
    );
}

#[test]
fn examples_the_connector_does_not_call_still_parse() {
    // The token exchange is the host's (`client-credentials`); the connector never sees it.
    let token = body("oauth-token-client-credentials.json");
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].is_u64());
    // Applications, sign-in events, audits, deletion of the SP, session revocation and
    // batching are documented but not needed for the mapping.
    for name in [
        "applications-list.json",
        "auditLogs-directoryAudits-consent.json",
        "auditLogs-signIns-servicePrincipal.json",
    ] {
        assert!(body(name)["value"].is_array(), "{name}");
    }
    assert_eq!(example("servicePrincipal-delete.json").response.status, 204);
    assert_eq!(body("user-revokeSignInSessions.json")["value"], true);
    let batch = body("batch-appRoleAssignments.json");
    assert_eq!(batch["responses"].as_array().map(Vec::len), Some(3));
    // An error body in Graph's shape is read for messages.
    assert_eq!(
        graph_error(br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#),
        Some((
            "Authorization_RequestDenied".to_owned(),
            "Insufficient privileges".to_owned()
        ))
    );
}
