//! Native tests of the Google Workspace connector's provider logic (`api`), against the
//! documented payloads in `testdata/providers/google-workspace/examples/` and hand-written edge
//! cases. No network, no wasm.

mod errors;
mod examples;
mod pages;
mod revocation;
mod settings;

use grantscope_connector_google_workspace::api::{Settings, TokenRef, UserRef};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Error, ErrorCode, Grant};

/// Settings for the real Admin SDK root and `my_customer`.
fn settings() -> Settings {
    ok(Settings::new("acme", None, None, None))
}

fn response(status: u16, body: &[u8]) -> Response {
    Response {
        status,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.to_vec(),
    }
}

fn json_response(status: u16, body: &serde_json::Value) -> Response {
    response(status, body.to_string().as_bytes())
}

/// Unwraps an `Ok`, failing the test with the connector's error message.
fn ok<T>(r: Result<T, Error>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("expected success, got {:?}: {}", e.code, e.message),
    }
}

/// Unwraps an `Err`, failing the test if the call succeeded.
fn err<T: std::fmt::Debug>(r: Result<T, Error>) -> Error {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// Asserts an error's code and that its message mentions each of `needles`.
fn assert_error(e: &Error, code: ErrorCode, needles: &[&str]) {
    assert_eq!(e.code, code, "wrong code for: {}", e.message);
    for n in needles {
        assert!(
            e.message.contains(n),
            "message should mention `{n}`: {}",
            e.message
        );
    }
}

/// Noa from the examples (`users-list.json`).
fn noa() -> UserRef {
    UserRef {
        id: "104729385610473829156".to_owned(),
        email: "noa.friedman@example-corp.com".to_owned(),
        name: Some("Noa Friedman".to_owned()),
        org_unit: Some("/Engineering".to_owned()),
        ..UserRef::default()
    }
}

fn token(client_id: &str, scopes: &[&str]) -> TokenRef {
    TokenRef {
        client_id: client_id.to_owned(),
        name: format!("app {client_id}"),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        native_app: false,
        anonymous: false,
    }
}

fn attr<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every string a grant carries, for "this must appear nowhere" checks.
fn all_text(g: &Grant) -> Vec<String> {
    let mut out = vec![
        g.id.clone(),
        g.app.id.clone(),
        g.app.name.clone(),
        g.principal.id.clone(),
    ];
    out.extend(g.scopes.iter().cloned());
    out.extend(g.notes.iter().cloned());
    for (k, v) in g.attributes.iter().chain(g.app.attributes.iter()) {
        out.extend([k.clone(), v.clone()]);
    }
    if let Some(r) = &g.revocation {
        out.extend([r.grant_id.clone(), r.action.clone(), r.handle.clone()]);
    }
    out
}
