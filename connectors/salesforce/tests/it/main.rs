//! Native tests of the Salesforce connector's provider logic (`api`), against the
//! documented payloads in `testdata/providers/salesforce/examples` and hand-written
//! edge cases. No network, no wasm.

mod examples;
mod paging;
mod revocation;
mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grantscope_connector_salesforce::api::{self, Directory, PageTask, Settings};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{Error, ErrorCode, Grant, Task};

/// Settings for `acme` on acme.my.salesforce.com.
fn settings() -> Settings {
    ok(Settings::new(
        "acme",
        "https://acme.my.salesforce.com",
        None,
    ))
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

/// Unwraps an `Err`.
fn err<T: std::fmt::Debug>(r: Result<T, Error>) -> Error {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

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

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/salesforce/examples")
}

/// One example file: (request, response status, headers, body bytes).
struct Example {
    request: serde_json::Value,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn example(name: &str) -> Example {
    let path = examples_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let resp = &doc["response"];
    let headers = resp["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = match &resp["body"] {
        serde_json::Value::Null => Vec::new(),
        b => serde_json::to_vec(b).unwrap_or_default(),
    };
    Example {
        request: doc["request"].clone(),
        status: u16::try_from(resp["status"].as_u64().unwrap_or(0)).unwrap_or(0),
        headers,
        body,
    }
}

impl Example {
    fn response(&self) -> Response {
        Response {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn soql(&self) -> String {
        self.request["query"]["q"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The directory built from the connected-app and menu-item examples.
fn example_directory() -> Directory {
    let mut dir = Directory::default();
    let apps = example("query-connectedapplication.json");
    let q = ok(api::decode_page::<api::ConnectedApp>("apps", &apps.body));
    dir.add_apps(q.records);
    let menu = example("query-appmenuitem-connected-apps.json");
    let q = ok(api::decode_page::<api::MenuItem>("menu", &menu.body));
    dir.add_menu_items(q.records);
    dir
}

fn page_task(url: &str) -> PageTask {
    PageTask {
        url: url.to_owned(),
        page: 1,
        seen: 0,
        expected: None,
        app_name: None,
        dir: None,
    }
}

fn decode(task: &Task) -> PageTask {
    ok(task.decode())
}

fn attrs(g: &Grant) -> BTreeMap<&str, &str> {
    g.attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn app_attrs(g: &Grant) -> BTreeMap<&str, &str> {
    g.app
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
