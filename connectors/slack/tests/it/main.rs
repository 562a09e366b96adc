//! Native tests of the Slack connector's provider logic (`api`), against Slack's
//! documented payloads and hand-written edge cases. No network, no wasm.

mod examples;
mod pages;
mod revocation;

use std::collections::BTreeMap;

use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Error, ErrorCode, Grant};
use grantscope_connector_slack::api::Settings;

/// Settings for org `E0AS553RN` on slack.com.
fn settings() -> Settings {
    ok(Settings::new("test", "E0AS553RN", None))
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

/// A 200 answer with a JSON body.
fn json(body: &serde_json::Value) -> Response {
    response(
        200,
        &[("content-type", "application/json; charset=utf-8")],
        body.to_string().as_bytes(),
    )
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

fn attrs(g: &Grant) -> BTreeMap<&str, &str> {
    g.attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
