//! Every payload in `testdata/providers/okta/examples/`, parsed as it is.
//!
//! Each example the connector reads goes through the matching `api` function with
//! concrete values asserted; the rest (surfaces this connector does not enumerate yet)
//! are at least deserialised, so a broken or renamed file fails here.

use std::path::{Path, PathBuf};

use grantscope_connector_okta::api::{self, Job};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{GrantKind, PrincipalKind};
use serde::Deserialize;

use crate::{job, ok, response, run, settings, task, user_task};

#[derive(Deserialize)]
struct Envelope {
    request: Request,
    response: Reply,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    path: String,
}

#[derive(Deserialize)]
struct Reply {
    status: u16,
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    body: serde_json::Value,
}

impl Reply {
    fn to_response(&self) -> Response {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        response(self.status, &refs, self.body.to_string().as_bytes())
    }
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/okta/examples")
}

fn load(name: &str) -> Envelope {
    let path = dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

#[test]
fn every_example_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap_or_else(|e| panic!("examples: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("entry: {e}")).path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let env = load(&name);
        assert_eq!(env.request.method, "GET", "{name}");
        assert_eq!(env.response.status, 200, "{name}");
        assert!(env.response.body.is_array(), "{name}: a list");
        match name.as_str() {
            "list-apps.json" => apps(&env),
            "list-app-grants.json" => app_grants(&env),
            "list-user-grants.json" => user_grants(&env),
            "list-user-clients.json" => user_clients(&env),
            "list-user-client-refresh-tokens.json"
            | "list-app-refresh-tokens.json"
            | "list-authorization-server-client-refresh-tokens.json" => tokens(&name, &env),
            "list-api-service-integrations.json" => api_services(&env),
            // Surfaces not enumerated (yet): SSWS tokens, client roles, DCR clients,
            // authorization servers and their clients, the System Log.
            _ => assert!(env.request.path.starts_with('/'), "{name}"),
        }
        seen += 1;
    }
    assert!(seen >= 14, "only {seen} examples");
}

fn apps(env: &Envelope) {
    let s = settings();
    let t = task(
        "apps",
        serde_json::json!({"url": format!("{}/api/v1/apps?limit=200", crate::ORG), "page": 1}),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    assert!(page.grants.is_empty(), "apps are not grants themselves");
    // The OIDC app gets a grants task; the SAML app does not.
    assert_eq!(page.tasks.len(), 1, "{:?}", page.tasks);
    let Job::AppGrants(a) = job(&s, &page.tasks[0]) else {
        panic!("not an app-grants task: {:?}", page.tasks[0]);
    };
    assert_eq!(a.app_id, "0oafxqCAJWWGELFTYASJ");
    assert_eq!(
        a.client_id, "0oahonkqCRR6TSNlg4",
        "the OAuth client id is the app id"
    );
    assert_eq!(a.label, "Sample Client profile");
    assert_eq!(a.status, "ACTIVE");
    assert!(
        a.url
            .ends_with("/api/v1/apps/0oafxqCAJWWGELFTYASJ/grants?expand=scope"),
        "{}",
        a.url
    );
    assert!(
        a.facts
            .iter()
            .any(|(k, v)| k == "application_type" && v == "native")
    );
}

fn app_grants(env: &Envelope) {
    let s = settings();
    let t = task(
        "app-grants",
        serde_json::json!({
            "url": format!("{}/api/v1/apps/0oa1/grants?expand=scope", crate::ORG), "page": 1,
            "app_id": "0oa1", "client_id": "0oa1", "label": "Application name", "status": "ACTIVE",
        }),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    let got: Vec<(&str, Vec<String>)> = page
        .grants
        .iter()
        .map(|g| (g.id.as_str(), g.scopes.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "app-grant:oag91n9ruw3dsaXzP0h6",
                vec!["okta.users.read".to_owned()]
            ),
            (
                "app-grant:oaghm3sh9ukdkvDmO0h6",
                vec!["okta.apps.manage".to_owned()]
            ),
        ]
    );
    let g = &page.grants[0];
    assert_eq!(g.kind, GrantKind::AdminConsent);
    assert_eq!(g.principal.kind, PrincipalKind::Tenant);
    assert_eq!(g.principal.id, "acme");
    assert_eq!(
        (g.app.id.as_str(), g.app.name.as_str()),
        ("0oa1", "Application name")
    );
    assert_eq!(g.created_at.as_deref(), Some("2023-02-21T16:54:00Z"));
    assert_eq!(g.last_used_at, None);
    assert!(
        g.attributes
            .contains(&("usage_reported".to_owned(), "false".to_owned()))
    );
    let r = g.revocation.as_ref().unwrap_or_else(|| panic!("no target"));
    assert_eq!(r.action, "app-grant");
}

fn user_grants(env: &Envelope) {
    let s = settings();
    let t = user_task(
        "user-grants",
        &format!(
            "{}/api/v1/users/00u5t60iloOHN9pBi0h7/clients/0oabskvc6442nkvQO0h7/grants",
            crate::ORG
        ),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    assert_eq!(page.grants.len(), 2);
    let a = &page.grants[0];
    assert_eq!(a.id, "user-grant:oag3ih1zrm1cBFOiq0h6");
    assert_eq!(a.kind, GrantKind::Delegated);
    assert_eq!(a.principal.kind, PrincipalKind::User);
    assert_eq!(a.principal.id, "saml.jackson@acme.com");
    // A custom authorization server's scope id is opaque: the scope link's title names it.
    assert_eq!(a.scopes, ["My phone"]);
    assert_eq!(a.app.id, "0oabskvc6442nkvQO0h7");
    assert_eq!(a.created_at.as_deref(), Some("2017-10-30T22:06:53Z"));
    let b = &page.grants[1];
    assert_eq!(b.scopes, ["phone"]);
    assert_eq!(
        b.app.id, "0oaosna3ilNxgPTmk0h7",
        "the grant's own clientId wins"
    );
    assert!(
        b.attributes
            .contains(&("source".to_owned(), "END_USER".to_owned()))
    );
    let h: serde_json::Value = serde_json::from_str(
        &b.revocation
            .as_ref()
            .unwrap_or_else(|| panic!("no target"))
            .handle,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h["app_id"], "0oaosna3ilNxgPTmk0h7", "from _links.app");
}

fn user_clients(env: &Envelope) {
    let s = settings();
    let t = task(
        "user",
        serde_json::json!({
            "url": format!("{}/api/v1/users/00u5t60iloOHN9pBi0h7/clients", crate::ORG),
            "page": 1, "user_id": "00u5t60iloOHN9pBi0h7", "login": "saml.jackson@acme.com",
        }),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    let kinds: Vec<&str> = page.tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["user-grants", "user-tokens"]);
    for t in &page.tasks {
        let (Job::UserGrants(u) | Job::UserTokens(u)) = job(&s, t) else {
            panic!("{t:?}");
        };
        assert_eq!(u.client_id.as_deref(), Some("0oabskvc6442nkvQO0h7"));
        assert_eq!(u.client_name.as_deref(), Some("My App"));
        assert_eq!(u.login, "saml.jackson@acme.com");
        assert!(u.url.contains("limit=200"), "{}", u.url);
    }
}

fn tokens(name: &str, env: &Envelope) {
    let s = settings();
    let t = user_task(
        "user-tokens",
        &format!(
            "{}/api/v1/users/00u5t60iloOHN9pBi0h7/clients/0oabskvc6442nkvQO0h7/tokens",
            crate::ORG
        ),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    assert_eq!(page.grants.len(), 1, "{name}");
    let g = &page.grants[0];
    assert!(g.id.starts_with("refresh-token:"), "{name}");
    assert_eq!(g.kind, GrantKind::Delegated, "{name}");
    assert!(g.scopes.contains(&"offline_access".to_owned()), "{name}");
    assert!(g.expires_at.is_some(), "{name}");
    assert!(
        g.attributes.iter().any(|(k, _)| k == "last_updated"),
        "{name}"
    );
    if name == "list-authorization-server-client-refresh-tokens.json" {
        // `client_id` spelling, with a placeholder value.
        assert_eq!(g.app.id, "{clientId}");
        let r = g.revocation.as_ref().unwrap_or_else(|| panic!("no target"));
        let plan = ok(api::plan_revocation(&s, r));
        assert!(
            plan.delete.url.contains("%7BrefreshTokenId%7D"),
            "{}",
            plan.delete.url
        );
    } else {
        assert_eq!(g.id, "refresh-token:oar579Mcp7OUsNTlo0g3");
        assert_eq!(g.scopes, ["offline_access", "car:drive"]);
    }
}

fn api_services(env: &Envelope) {
    let s = settings();
    let t = task(
        "api-services",
        serde_json::json!({"url": format!("{}/integrations/api/v1/api-services", crate::ORG), "page": 1}),
    );
    let page = ok(run(&s, &t, &env.response.to_response()));
    assert_eq!(page.grants.len(), 1);
    let g = &page.grants[0];
    assert_eq!(g.id, "api-service:0oa72lrepvp4WqEET1d9");
    assert_eq!(g.kind, GrantKind::Application);
    assert_eq!(g.principal.kind, PrincipalKind::Service);
    assert_eq!(g.app.name, "My App Cloud Identity Engine");
    assert_eq!(
        g.scopes,
        ["okta.logs.read", "okta.groups.read", "okta.users.read"]
    );
    assert_eq!(g.created_at.as_deref(), Some("2023-02-21T20:08:24Z"));
    // The last page starts the app listing, skipping the integration.
    assert_eq!(page.tasks.len(), 1);
    let Job::Apps(p) = job(&s, &page.tasks[0]) else {
        panic!("{:?}", page.tasks[0]);
    };
    assert_eq!(p.skip, ["0oa72lrepvp4WqEET1d9"]);
    assert!(p.url.contains("includeNonDeleted=true"), "{}", p.url);
}
