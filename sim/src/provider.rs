//! What every provider simulator shares: the provider list, the key material the
//! auditor's credentials are checked against, writing a provider's tenants into the
//! config, and fault injection rendered in the provider's own error dialect.

use std::path::Path;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use crate::config::{self, TenantEntry};
use crate::faults::{Fault, FaultKind};
use crate::{Shared, SimError};

/// A provider the simulator can serve. The id is the normalized record's `provider`,
/// the connector id and the folder name under `testdata/providers/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub organisations, served at the simulator's root.
    Github,
    /// Google Workspace, under `/google-workspace`.
    GoogleWorkspace,
    /// Microsoft Entra ID (Microsoft Graph), under `/microsoft-entra`.
    MicrosoftEntra,
    /// Slack Enterprise Grid, under `/slack`.
    Slack,
    /// Okta, under `/okta`.
    Okta,
    /// Salesforce, under `/salesforce`.
    Salesforce,
}

impl Provider {
    /// Every provider, in the order tenants appear in a written config.
    pub const ALL: [Provider; 6] = [
        Provider::Github,
        Provider::GoogleWorkspace,
        Provider::MicrosoftEntra,
        Provider::Slack,
        Provider::Okta,
        Provider::Salesforce,
    ];

    /// The kebab-case provider id (`google-workspace`).
    pub fn id(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::GoogleWorkspace => "google-workspace",
            Provider::MicrosoftEntra => "microsoft-entra",
            Provider::Slack => "slack",
            Provider::Okta => "okta",
            Provider::Salesforce => "salesforce",
        }
    }

    /// The path prefix the provider's API is served under (empty for GitHub, whose
    /// tenants predate the prefixes and whose `api_base` is the simulator's root).
    pub fn prefix(self) -> &'static str {
        match self {
            Provider::Github => "",
            Provider::GoogleWorkspace => "/google-workspace",
            Provider::MicrosoftEntra => "/microsoft-entra",
            Provider::Slack => "/slack",
            Provider::Okta => "/okta",
            Provider::Salesforce => "/salesforce",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.id() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Provider::ALL.iter().map(|p| p.id()).collect();
                format!("unknown provider `{s}`: use one of {}", known.join(", "))
            })
    }
}

/// Key material shared by the provider simulators, made once per run.
///
/// One RSA key pair stands for every auditor identity that signs a JWT (the GitHub
/// App, the Google service account, the Okta service app, the Salesforce connected
/// app certificate): the config points each credential at the same PEM file. Real
/// deployments have one key per identity; the simulator only needs to verify.
pub(crate) struct Keys {
    /// Verifies the auditor's RS256 signatures.
    pub public: jsonwebtoken::DecodingKey,
}

/// What a provider needs to write its tenants into a `grantscope scan` config.
pub(crate) struct ConfigEnv<'a> {
    /// `http://127.0.0.1:PORT`, the simulator's root; a provider appends its
    /// [`Provider::prefix`].
    pub base_url: String,
    /// `127.0.0.1:PORT`, the only host a simulated tenant may reach.
    pub host: String,
    /// The auditor's private key (PKCS#1 PEM), relative to the config's directory.
    pub key_file: String,
    /// The config's key directory, where [`ConfigEnv::secret`] writes.
    pub(crate) key_dir: &'a Path,
    /// The key directory's name relative to the config.
    pub(crate) key_dir_rel: &'a str,
}

impl ConfigEnv<'_> {
    /// Writes a secret (a client secret, a static token) to `{keys}/{name}` with mode
    /// 0600 and returns its path relative to the config, for a `*_file` key.
    pub(crate) fn secret(&self, name: &str, value: &str) -> Result<String, SimError> {
        config::write_atomic(&self.key_dir.join(name), true, |w| {
            w.write_all(value.as_bytes())
        })?;
        Ok(format!("{}/{name}", self.key_dir_rel))
    }

    /// The base URL of `provider`'s API on this simulator.
    pub(crate) fn provider_base(&self, provider: Provider) -> String {
        format!("{}{}", self.base_url, provider.prefix())
    }
}

/// How a provider spells the errors fault injection produces.
pub(crate) trait Dialect: Sync {
    /// The answer to an injected rate-limit fault ([`FaultKind::SecondaryRateLimit`] or
    /// [`FaultKind::PrimaryRateLimit`]): the provider's 429 (or 403) with its headers
    /// (`Retry-After` of at most 2 s, so tests stay quick) and body.
    fn throttled(&self, kind: FaultKind) -> Response;

    /// The answer to an injected 500, 502 or 503, in the provider's error shape.
    fn server_error(&self, status: StatusCode) -> Response;
}

/// Runs `next` with whatever fault `sim.faults` draws for this request, rendered in
/// `dialect`. Counts the request (and the fault) in the stats. `mutation` marks the
/// revocation endpoints: only they can fail after the state changed.
///
/// A provider's middleware calls this and then adds its own headers; providers with
/// their own real rate limits check those before calling.
pub(crate) async fn inject(
    sim: &Shared,
    dialect: &dyn Dialect,
    mutation: bool,
    req: Request,
    next: Next,
) -> Response {
    sim.stats.request();
    let fault = sim.faults.draw(mutation);
    if let Some(f) = fault {
        sim.stats.fault(f.throttles());
        tracing::debug!(kind = ?f.kind, after_state = f.after_state, path = %req.uri().path(), "injecting fault");
    }
    match fault {
        Some(f) if f.throttles() => dialect.throttled(f.kind),
        Some(Fault {
            kind: FaultKind::Slow,
            ..
        }) => {
            let ms = rand::rng().random_range(1000..=2000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(f) if !f.after_state => render(dialect, f.kind, None).await,
        Some(f) => {
            let processed = next.run(req).await;
            render(dialect, f.kind, Some(processed)).await
        }
        None => next.run(req).await,
    }
}

/// Renders a non-throttle fault; `processed` is the real answer when the fault strikes
/// after the handler ran.
async fn render(dialect: &dyn Dialect, kind: FaultKind, processed: Option<Response>) -> Response {
    match kind {
        FaultKind::ServerError => dialect.server_error(StatusCode::INTERNAL_SERVER_ERROR),
        FaultKind::BadGateway => dialect.server_error(StatusCode::BAD_GATEWAY),
        FaultKind::Unavailable => dialect.server_error(StatusCode::SERVICE_UNAVAILABLE),
        FaultKind::ConnectionReset => reset(processed_or(processed, STAND_IN).await),
        FaultKind::Malformed => truncated(processed_or(processed, STAND_IN).await),
        // Handled by `inject`; kept total so a new kind cannot slip through silently.
        FaultKind::SecondaryRateLimit | FaultKind::PrimaryRateLimit => dialect.throttled(kind),
        FaultKind::Slow => {
            processed.unwrap_or_else(|| dialect.server_error(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// The stand-in body a damaged empty answer carries, so the damage shows.
const STAND_IN: &[u8] = br#"{"ok":true,"simulated":"stand-in body"}"#;

/// The status and body a fault damages: the real answer's, or when it has no body to
/// damage (a 204, or a fault before the handler), a 200 with `stand_in`.
pub(crate) async fn processed_or(
    processed: Option<Response>,
    stand_in: &'static [u8],
) -> (StatusCode, Bytes) {
    let (status, body) = match processed {
        Some(r) => {
            let status = r.status();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            (status, body)
        }
        None => (StatusCode::OK, Bytes::new()),
    };
    if body.len() < 2 {
        (StatusCode::OK, Bytes::from_static(stand_in))
    } else {
        (status, body)
    }
}

/// Announces the full length, sends half, then fails the stream: hyper aborts the
/// connection, which is what a reset looks like to the client.
pub(crate) fn reset((status, full): (StatusCode, Bytes)) -> Response {
    let half = full.slice(..full.len() / 2);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(half), Err(std::io::ErrorKind::ConnectionReset.into())];
    let mut r = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(full.len()));
    r
}

/// The real status line with its JSON cut in half (any strict prefix of a JSON object
/// or array is invalid JSON). A garbled body never changes the status: a 404 stays a
/// 404, so a client reading only the status sees the truth, and one reading the body
/// must notice it is broken.
pub(crate) fn truncated((status, full): (StatusCode, Bytes)) -> Response {
    let half = full.slice(..full.len() / 2);
    (status, half).into_response()
}

/// A provider's tenants for the written config; `Ok(vec![])` while it has none.
pub(crate) type Tenants = Result<Vec<TenantEntry>, SimError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn damaged(status: StatusCode, body: &'static str) -> (StatusCode, Bytes) {
        let real = (status, body).into_response();
        let r = truncated(processed_or(Some(real), STAND_IN).await);
        let status = r.status();
        (
            status,
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn a_garbled_body_keeps_its_status_line() {
        // A garbled 404 must not read as a 200: a client that re-reads a revoked grant
        // and trusts the status would see it present and revoke it twice.
        let (status, body) = damaged(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
        let (status, body) = damaged(StatusCode::OK, r#"{"id":"x","status":"ACTIVE"}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], br#"{"id":"x","sta"#);
        // Nothing to cut in a 204: the stand-in is what gets damaged, as a 200.
        let (status, body) = damaged(StatusCode::NO_CONTENT, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], &STAND_IN[..STAND_IN.len() / 2]);
    }
}
