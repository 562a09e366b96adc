//! Native tests of the Microsoft Entra connector's provider logic (`api`), against Graph's
//! documented payloads and hand-written edge cases. No network, no wasm: requests go to
//! a [`Fake`] transport that answers from canned responses and records every call.

mod examples;
mod pages;
mod revocation;
mod settings;

use std::collections::VecDeque;

use grantscope_connector_microsoft_entra::api::{Settings, Transport};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Error, ErrorCode, Method};

/// Settings for tenant `acme` on graph.microsoft.com.
fn settings() -> Settings {
    ok(Settings::new(
        "acme",
        "9b1c7a2e-4f3d-4c55-8e21-0d6a3f7b9c10",
        None,
    ))
}

/// A canned answer: status, headers, body.
#[derive(Clone, Debug)]
struct Reply(u16, Vec<(String, String)>, String);

fn reply(status: u16, body: &str) -> Reply {
    Reply(status, Vec::new(), body.to_owned())
}

impl Reply {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.1.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    fn response(&self) -> Response {
        let mut headers = self.1.clone();
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        Response {
            status: self.0,
            headers,
            body: self.2.as_bytes().to_vec(),
        }
    }
}

/// A recorded request.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    url: String,
    body: Option<String>,
}

/// Answers requests from routes: the first route whose method matches and whose
/// pattern occurs in the URL answers with its next response (the last one repeats).
#[derive(Default)]
struct Fake {
    routes: Vec<(Method, String, VecDeque<Reply>)>,
    calls: Vec<Call>,
}

impl Fake {
    fn on(mut self, method: Method, pattern: &str, responses: Vec<Reply>) -> Self {
        self.routes
            .push((method, pattern.to_owned(), responses.into_iter().collect()));
        self
    }

    fn calls_to(&self, method: Method, pattern: &str) -> usize {
        self.calls
            .iter()
            .filter(|c| c.method == method && c.url.contains(pattern))
            .count()
    }
}

impl Transport for Fake {
    fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, Error> {
        assert!(
            headers
                .iter()
                .all(|(k, _)| !k.eq_ignore_ascii_case("authorization")),
            "the connector must never set Authorization"
        );
        self.calls.push(Call {
            method,
            url: url.to_owned(),
            body: body.map(|b| String::from_utf8_lossy(&b).into_owned()),
        });
        for (m, pattern, responses) in &mut self.routes {
            if *m == method && url.contains(pattern.as_str()) {
                let r = if responses.len() > 1 {
                    responses.pop_front()
                } else {
                    responses.front().cloned()
                };
                return r
                    .map(|r| r.response())
                    .ok_or_else(|| Error::new(ErrorCode::Provider, "route has no answer"));
            }
        }
        Ok(reply(
            404,
            r#"{"error":{"code":"Request_ResourceNotFound","message":"no route in the fake"}}"#,
        )
        .response())
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
