//! `GET /api/v1/apps` can return `credentials.oauthClient.client_secret`: it is dropped
//! at parse time and appears in no task, grant, warning or error.

use grantscope_connector_sdk::ErrorCode;

use crate::{ORG, err, ok, response, run, settings, task};

const SECRET: &str = "wj9bOsLK0BRNJqy7KMMnaE7m8qrW51bPO2n1-PYvkOmhHRYgcuOecQkEwq9MPYa5";

fn apps_task() -> grantscope_connector_sdk::Task {
    task(
        "apps",
        serde_json::json!({"url": format!("{ORG}/api/v1/apps?limit=200"), "page": 1}),
    )
}

fn app_with_secret(secret: &serde_json::Value) -> String {
    serde_json::json!([{
        "id": "0oaSecret1", "name": "oidc_client", "label": "Has a secret", "status": "ACTIVE",
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"client_id": "0oaSecret1", "client_secret": secret,
                                        "token_endpoint_auth_method": "client_secret_post"}},
        "settings": {"oauthClient": {"application_type": "web", "grant_types": ["authorization_code"]}}
    }])
    .to_string()
}

#[test]
fn a_client_secret_is_dropped_while_parsing() {
    let body = app_with_secret(&serde_json::Value::String(SECRET.to_owned()));
    assert!(body.contains(SECRET));
    let page = ok(run(
        &settings(),
        &apps_task(),
        &response(200, &[], body.as_bytes()),
    ));
    assert_eq!(page.tasks.len(), 1);
    let everything = format!("{:?}{:?}{:?}", page.tasks, page.grants, page.warnings);
    assert!(
        !everything.contains(SECRET),
        "the secret leaked: {everything}"
    );
}

#[test]
fn a_secret_in_a_broken_body_does_not_reach_the_error() {
    // A secret of an unexpected type, a truncated body, and a body whose `id` is wrong:
    // none of the errors may quote the secret.
    let odd = app_with_secret(&serde_json::json!({"value": SECRET}));
    let page = ok(run(
        &settings(),
        &apps_task(),
        &response(200, &[], odd.as_bytes()),
    ));
    assert!(!format!("{:?}", page.tasks).contains(SECRET));
    let full = app_with_secret(&serde_json::Value::String(SECRET.to_owned()));
    let cut = &full.as_bytes()[..full.find(SECRET).unwrap_or(0) + 20];
    let e = err(run(&settings(), &apps_task(), &response(200, &[], cut)));
    assert_eq!(e.code, ErrorCode::Malformed);
    assert!(!e.message.contains(&SECRET[..20]), "{}", e.message);
    let wrong_id = full.replace("\"0oaSecret1\", \"name\"", "7, \"name\"");
    let wrong_id = wrong_id.replace("\"id\":\"0oaSecret1\"", "\"id\":7");
    let e = err(run(
        &settings(),
        &apps_task(),
        &response(200, &[], wrong_id.as_bytes()),
    ));
    assert_eq!(e.code, ErrorCode::Malformed);
    assert!(!e.message.contains(SECRET), "{}", e.message);
    // Errors quote Okta's error body, never the request's: a secret there is absent too.
    let e = err(run(
        &settings(),
        &apps_task(),
        &response(500, &[], br#"{"errorCode":"E0000009","errorSummary":"x"}"#),
    ));
    assert!(!e.message.contains(SECRET));
}
