//! Shared helpers: start a simulator, authenticate like the host does, walk pages.

use std::collections::HashMap;
use std::path::PathBuf;

use grantscope_sim::{RunningSim, SimOptions, Simulator};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A running simulator plus what a client needs to talk to it.
pub struct Harness {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub key: EncodingKey,
    pub dir: tempfile::TempDir,
}

pub async fn start(seed: u64, users: u32) -> Harness {
    // reqwest is built without a default TLS provider; plain http needs none, but the
    // client builder wants a process default to exist.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = SimOptions {
        providers: vec![grantscope_sim::Provider::Github],
        seed,
        users,
        ..SimOptions::default()
    };
    let sim = Simulator::new(opts)
        .expect("valid options")
        .start()
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sim.toml");
    sim.write_config(&config).expect("config written");
    let pem = std::fs::read(dir.path().join("sim.keys/github-app.pem")).expect("key written");
    let key = EncodingKey::from_rsa_pem(&pem).expect("PKCS#1 PEM");
    let http = reqwest::Client::builder().build().expect("client");
    Harness {
        sim,
        http,
        key,
        dir,
    }
}

pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time fits")
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// An app JWT with these claims, signed with the simulator's app key.
    pub fn jwt_with(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &self.key).expect("sign")
    }

    /// A JWT the way GitHub documents it: iat back-dated 60 s, exp 9 minutes ahead.
    pub fn jwt(&self) -> String {
        let now = now();
        self.jwt_with(&json!({"iss": "900001", "iat": now - 60, "exp": now + 540}))
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        req.send().await.expect("request sent")
    }

    /// The JWT → installation → access-token dance the host performs.
    pub async fn token(&self, org: &str) -> String {
        let jwt = self.jwt();
        let inst: Value = self
            .get(&format!("/orgs/{org}/installation"), Some(&jwt))
            .await
            .json()
            .await
            .expect("installation json");
        let id = inst["id"].as_u64().expect("installation id");
        let resp = self
            .http
            .post(self.url(&format!("/app/installations/{id}/access_tokens")))
            .bearer_auth(&jwt)
            .send()
            .await
            .expect("token request");
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.expect("token json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Follows `Link: rel="next"` from `path` and returns every item (the installation
    /// list's items are unwrapped from its object).
    pub async fn get_all(&self, path: &str, token: &str) -> Vec<Value> {
        let mut url = self.url(path);
        let mut out = Vec::new();
        loop {
            let resp = self
                .http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .expect("page");
            assert_eq!(resp.status(), 200, "{url}");
            let next = links(resp.headers()).remove("next");
            let body: Value = resp.json().await.expect("page json");
            match body {
                Value::Array(items) => out.extend(items),
                Value::Object(mut o) => match o.remove("installations") {
                    Some(Value::Array(items)) => out.extend(items),
                    _ => panic!("unexpected page {o:?}"),
                },
                other => panic!("unexpected page {other}"),
            }
            match next {
                Some(n) => url = n,
                None => return out,
            }
        }
    }
}

/// rel → URL from a `Link` header.
pub fn links(headers: &reqwest::header::HeaderMap) -> HashMap<String, String> {
    let Some(link) = headers.get("link").and_then(|v| v.to_str().ok()) else {
        return HashMap::new();
    };
    link.split(", ")
        .filter_map(|part| {
            let (url, rel) = part.split_once("; rel=")?;
            Some((
                rel.trim_matches('"').to_owned(),
                url.trim_start_matches('<').trim_end_matches('>').to_owned(),
            ))
        })
        .collect()
}

/// GitHub's reference data in the workspace (`testdata/providers/github`).
pub fn github_shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/providers/github")
}

/// An example file, parsed as it is.
pub fn example(name: &str) -> Value {
    let path = github_shared().join("examples").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// RFC 3339 in any offset → UTC, whole seconds, `Z`.
pub fn utc(s: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s}: {e}"));
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("zero nanos");
    t.format(&Rfc3339).expect("format")
}

/// `Response::json` (reqwest is built without its `json` feature in this workspace).
pub trait JsonResponse {
    fn json<T: serde::de::DeserializeOwned>(
        self,
    ) -> impl std::future::Future<Output = Result<T, String>>;
}

impl JsonResponse for reqwest::Response {
    async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, String> {
        let bytes = self.bytes().await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&bytes)))
    }
}

/// `RequestBuilder::json` for the same reason.
pub trait JsonRequest {
    fn json(self, body: &Value) -> Self;
}

impl JsonRequest for reqwest::RequestBuilder {
    fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}
