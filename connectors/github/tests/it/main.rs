//! Native tests of the GitHub connector's provider logic (`api`), against GitHub's
//! documented payloads and hand-written edge cases. No network, no wasm.

mod errors;
mod examples;
mod links;
mod pages;
mod probe;
mod revocation;
mod settings;

use std::collections::BTreeMap;

use grantscope_connector_github::api::Settings;
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Context, Error, ErrorCode, Grant, GrantKind, PrincipalKind};

/// Settings for `octo-org` on api.github.com.
fn settings() -> Settings {
    settings_for("octo-org", None)
}

fn settings_for(org: &str, api_base: Option<&str>) -> Settings {
    match Settings::new("test", org, api_base) {
        Ok(s) => s,
        Err(e) => panic!("valid settings were refused: {e}"),
    }
}

fn context(settings: &[(&str, &str)]) -> Context {
    Context {
        tenant: "acme".to_owned(),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
    }
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

/// The parts of a grant the README mapping fixes, in a comparable shape.
#[derive(Debug, PartialEq, Eq)]
struct GrantView {
    id: String,
    kind: GrantKind,
    app_id: String,
    app_name: String,
    principal_kind: PrincipalKind,
    principal_id: String,
    scopes: Vec<String>,
    created_at: Option<String>,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    /// (action, handle).
    revocation: Option<(String, String)>,
}

impl GrantView {
    fn of(g: &Grant) -> Self {
        GrantView {
            id: g.id.clone(),
            kind: g.kind,
            app_id: g.app.id.clone(),
            app_name: g.app.name.clone(),
            principal_kind: g.principal.kind,
            principal_id: g.principal.id.clone(),
            scopes: g.scopes.clone(),
            created_at: g.created_at.clone(),
            last_used_at: g.last_used_at.clone(),
            expires_at: g.expires_at.clone(),
            revocation: g
                .revocation
                .as_ref()
                .map(|r| (r.action.clone(), r.handle.clone())),
        }
    }
}

fn attrs(g: &Grant) -> BTreeMap<&str, &str> {
    g.attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
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
    out.extend(
        g.attributes
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()]),
    );
    out.extend(
        g.app
            .attributes
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()]),
    );
    if let Some(r) = &g.revocation {
        out.extend([r.grant_id.clone(), r.action.clone(), r.handle.clone()]);
    }
    out
}
