//! Native tests of the Okta connector's provider logic (`api`), against Okta's
//! documented payloads and hand-written edge cases. No network, no wasm.

mod examples;
mod paging;
mod revocation;
mod secrets;

use grantscope_connector_okta::api::{self, Job, Page, Settings};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Error, ErrorCode, Task};

const ORG: &str = "https://acme.okta.com";

/// Settings for `acme` at acme.okta.com, with `vendor_owned` listed.
fn settings_with(vendor_owned: Option<&str>) -> Settings {
    match Settings::new("acme", ORG, vendor_owned) {
        Ok(s) => s,
        Err(e) => panic!("valid settings were refused: {e}"),
    }
}

fn settings() -> Settings {
    settings_with(None)
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

/// Decodes a task the connector produced, as the next `run` would.
fn job(settings: &Settings, task: &Task) -> Job {
    ok(api::decode_task(settings, task))
}

/// Runs one task against a canned response.
fn run(settings: &Settings, task: &Task, resp: &Response) -> Result<Page, Error> {
    let j = job(settings, task);
    api::read(settings, &j, resp)
}

/// A task of `kind` with this JSON payload.
#[allow(
    clippy::needless_pass_by_value,
    reason = "callers build the JSON inline"
)]
fn task(kind: &str, payload: serde_json::Value) -> Task {
    Task {
        kind: kind.to_owned(),
        payload: payload.to_string(),
    }
}

fn user_task(kind: &str, url: &str) -> Task {
    task(
        kind,
        serde_json::json!({
            "url": url, "page": 1, "user_id": "00u5t60iloOHN9pBi0h7",
            "login": "saml.jackson@acme.com", "name": "Saml Jackson",
            "client_id": "0oabskvc6442nkvQO0h7", "client_name": "My App",
        }),
    )
}
