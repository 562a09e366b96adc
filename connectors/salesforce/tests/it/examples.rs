//! Every file of `testdata/providers/salesforce/examples`, parsed as it is.

use grantscope_connector_salesforce::api::{self, TaskKind};
use grantscope_connector_sdk::{GrantKind, PrincipalKind};

use crate::{
    app_attrs, attrs, decode, example, example_directory, examples_dir, ok, page_task, settings,
};

#[test]
fn every_example_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap_or_else(|e| panic!("examples: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "limits.json",
            "list-api-versions.json",
            "oauth-token-jwt-bearer.json",
            "query-appmenuitem-connected-apps.json",
            "query-connectedapplication.json",
            "query-oauthcustomscope.json",
            "query-oauthtoken-count.json",
            "query-oauthtoken.json",
            "query-setupentityaccess-connected-apps.json",
            "revoke-token-200.json",
        ],
        "a new example needs a test here"
    );
}

#[test]
fn the_connector_sends_the_documented_queries() {
    let pairs = [
        (
            "query-connectedapplication.json",
            api::SOQL_CONNECTED_APPS.to_owned(),
        ),
        (
            "query-appmenuitem-connected-apps.json",
            api::SOQL_APP_MENU_ITEMS.to_owned(),
        ),
        (
            "query-setupentityaccess-connected-apps.json",
            api::SOQL_SETUP_ENTITY_ACCESS.to_owned(),
        ),
        (
            "query-oauthtoken-count.json",
            api::SOQL_TOKEN_COUNT.to_owned(),
        ),
        ("query-oauthtoken.json", api::token_query(None)),
    ];
    for (file, soql) in pairs {
        let ex = example(file);
        assert_eq!(ex.soql(), soql, "{file}");
        assert_eq!(
            settings().query_url(&soql),
            format!(
                "https://{}{}?q={}",
                ex.request["host"].as_str().unwrap_or_default(),
                ex.request["path"].as_str().unwrap_or_default(),
                grantscope_connector_sdk::http::encode(&soql)
            ),
            "{file}"
        );
    }
}

#[test]
fn oauth_tokens_become_delegated_grants() {
    let ex = example("query-oauthtoken.json");
    let dir = example_directory();
    let s = settings();
    let url = s.query_url(&api::token_query(None));
    let out = ok(api::read_tokens(&s, &dir, &page_task(&url), &ex.response()));
    assert!(out.tasks.is_empty(), "one page");
    assert_eq!(out.grants.len(), 3);
    let g = &out.grants[0];
    assert_eq!(
        g.id,
        "oauth-token:0055g00000Ab12cAAB:20230207T161109Z:Salesloft"
    );
    assert_eq!(g.kind, GrantKind::Delegated);
    assert_eq!(g.app.id, "0H45g000000PQRsCAG");
    assert_eq!(g.app.name, "Salesloft");
    assert_eq!(g.principal.kind, PrincipalKind::User);
    assert_eq!(g.principal.id, "jlee@acme.example");
    assert!(g.scopes.is_empty());
    assert_eq!(g.created_at.as_deref(), Some("2023-02-07T16:11:09Z"));
    assert_eq!(g.last_used_at.as_deref(), Some("2025-08-17T03:41:52Z"));
    let a = attrs(g);
    assert_eq!(a["user_id"], "0055g00000Ab12cAAB");
    assert_eq!(a["use_count"], "18833");
    assert_eq!(a["app_link"], "app-menu-item");
    assert_eq!(a["scopes_reported"], "false");
    assert_eq!(a["user_active"], "true");
    let app = app_attrs(g);
    assert_eq!(app["installed"], "true");
    assert_eq!(app["admin_approved_users_only"], "false");
    assert_eq!(app["refresh_token_validity"], "until revoked");
    let r = g.revocation.as_ref().unwrap_or_else(|| panic!("no target"));
    assert_eq!(r.action, "oauth-token");
    assert_eq!(r.grant_id, g.id);
    assert_eq!(
        r.handle,
        r#"{"user_id":"0055g00000Ab12cAAB","app_name":"Salesloft","created":"2023-02-07T16:11:09Z"}"#
    );
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("does not report a token's scopes"))
    );

    let gong = &out.grants[2];
    assert_eq!(gong.app.id, "0H45g000000PQRtCAG");
    assert_eq!(
        gong.id,
        "oauth-token:0055g00000Ab12dAAB:20250114T093000Z:Gong%20for%20Salesforce"
    );
    assert_eq!(app_attrs(gong)["namespace_prefix"], "gong");
    assert_eq!(app_attrs(gong)["refresh_token_validity"], "90");
}

#[test]
fn pre_authorizations_become_admin_consents() {
    let ex = example("query-setupentityaccess-connected-apps.json");
    let s = settings();
    let url = s.query_url(api::SOQL_SETUP_ENTITY_ACCESS);
    let out = ok(api::read_setup_entity_access(
        &s,
        &example_directory(),
        &page_task(&url),
        &ex.response(),
    ));
    let view: Vec<(&str, &str, &str, &str)> = out
        .grants
        .iter()
        .map(|g| {
            assert_eq!(g.kind, GrantKind::AdminConsent);
            assert_eq!(g.principal.kind, PrincipalKind::Tenant);
            (
                g.id.as_str(),
                g.app.id.as_str(),
                g.app.name.as_str(),
                g.principal.id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            (
                "setup-entity-access:0J05g00000Aa1bCCAR",
                "0H45g000000PQRtCAG",
                "Gong for Salesforce",
                "profile:System Administrator"
            ),
            (
                "setup-entity-access:0J05g00000Aa1bDCAR",
                "0H45g000000PQRtCAG",
                "Gong for Salesforce",
                "permission-set:Gong_Users"
            ),
            (
                "setup-entity-access:0J05g00000Aa1bECAR",
                "0H45g000000PQRuCAG",
                "Acme Internal ETL",
                "permission-set:ETL_Integration"
            ),
        ]
    );
    let r = out.grants[0]
        .revocation
        .as_ref()
        .unwrap_or_else(|| panic!("no target"));
    assert_eq!(r.action, "setup-entity-access");
    assert_eq!(r.handle, r#"{"id":"0J05g00000Aa1bCCAR"}"#);
}

#[test]
fn a_large_count_partitions_by_app_name() {
    let ex = example("query-oauthtoken-count.json");
    let s = settings();
    let out = ok(api::read_token_count(
        &s,
        &page_task(&s.query_url(api::SOQL_TOKEN_COUNT)),
        &ex.response(),
    ));
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(out.tasks[0].kind, TaskKind::TokenGroups.name());
    assert_eq!(
        decode(&out.tasks[0]).url,
        s.query_url(api::SOQL_TOKEN_GROUPS)
    );
    // The usage header of the example is far below the warning threshold.
    assert!(out.warnings.is_empty());
}

#[test]
fn other_examples_parse() {
    let versions = example("list-api-versions.json");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&versions.body).unwrap_or_default();
    assert!(
        list.iter()
            .any(|v| v["version"] == api::DEFAULT_API_VERSION),
        "the default version is offered"
    );
    let scopes = example("query-oauthcustomscope.json");
    let q = ok(api::decode_page::<serde_json::Value>(
        "custom scopes",
        &scopes.body,
    ));
    assert_eq!(q.total_size, 1);
    let limits = example("limits.json");
    let v: serde_json::Value = serde_json::from_slice(&limits.body).unwrap_or_default();
    assert_eq!(v["DailyApiRequests"]["Max"], 15000);
    let token = example("oauth-token-jwt-bearer.json");
    let v: serde_json::Value = serde_json::from_slice(&token.body).unwrap_or_default();
    let instance = v["instance_url"].as_str().unwrap_or_default();
    assert!(ok(api::Settings::new("acme", instance, None)).instance_url() == instance);
    let revoke = example("revoke-token-200.json");
    assert_eq!(
        ok(api::read_revoke(&settings(), &revoke.response())),
        api::RevokeCall::Revoked
    );
    assert_eq!(
        api::api_usage("api-usage=1841/5100000"),
        Some((1841, 5_100_000))
    );
}
