//! Credentials and access tokens.
//!
//! **Architecture invariant:** this module alone handles secret material. Secrets live
//! in [`Secret`], whose `Debug` and `Display` print `[redacted]`, so they cannot reach
//! a log line, an error message or the store by accident. Plugins never see them:
//! [`crate::egress`] asks for an `Authorization` value per request and attaches it on
//! the way out.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::egress::{HostRequest, Transport, TransportError};

/// A secret string. Never printed, never serialised.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret. Surrounding whitespace (a trailing newline in a file) is
    /// dropped.
    pub fn new(value: impl AsRef<str>) -> Self {
        Secret(Arc::from(value.as_ref().trim()))
    }

    /// The secret value, for the one place that must send it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret occurs in `haystack`.
    #[cfg(test)]
    fn occurs_in(&self, haystack: &[u8]) -> bool {
        let needle = self.0.as_bytes();
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How a tenant authenticates, as configured. Secrets already loaded.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A fixed token sent as `Authorization: {scheme} {token}`.
    StaticToken {
        /// The token.
        token: Secret,
        /// Authorization scheme, `Bearer` by default.
        scheme: String,
    },
    /// A GitHub App: an RS256 JWT signed with the app key is exchanged for an
    /// installation access token (one hour), cached and refreshed before expiry.
    GitHubApp {
        /// App id or client id (the JWT `iss`).
        app_id: String,
        /// PEM private key.
        private_key: Secret,
        /// Installation id; discovered from the org when not configured.
        installation_id: Option<u64>,
        /// API root, e.g. `https://api.github.com`.
        api_base: String,
        /// Organisation login, for installation discovery.
        org: String,
    },
}

impl Credential {
    /// The credential kind name used in configs and connector manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::StaticToken { .. } => "static-token",
            Credential::GitHubApp { .. } => "github-app",
        }
    }
}

/// Why no credential could be obtained. Messages never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The key could not be used to sign.
    #[error("the {kind} private key is not a valid RSA PEM key: {reason}")]
    BadKey {
        /// Credential kind.
        kind: &'static str,
        /// What the parser said (never the key).
        reason: String,
    },
    /// The token endpoint could not be reached.
    #[error("token request to {url} failed")]
    Transport {
        /// Endpoint.
        url: String,
        /// Cause.
        #[source]
        source: TransportError,
    },
    /// The token endpoint refused.
    #[error("token request to {url} was refused with HTTP {status}: {message}")]
    Refused {
        /// Endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// A token request failed moments ago; not repeated yet.
    #[error("no token (a request failed less than 10 s ago: {reason})")]
    Unavailable {
        /// The earlier failure.
        reason: String,
    },
    /// The token endpoint answered something unexpected.
    #[error("token response from {url} could not be parsed: {reason}")]
    Malformed {
        /// Endpoint.
        url: String,
        /// Parser message.
        reason: String,
    },
}

/// Issues `Authorization` header values for one tenant, caching short-lived tokens.
pub struct Authenticator {
    credential: Credential,
    cached: Mutex<Option<CachedToken>>,
    failed: Mutex<Option<(std::time::Instant, String)>>,
}

struct CachedToken {
    header: Secret,
    refresh_at: SystemTime,
}

/// Refresh this long before the provider's expiry, so a token never dies mid-request.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Attempts at obtaining a token before the call fails.
const TOKEN_ATTEMPTS: u32 = 3;

/// After a failed token request, later callers get the same failure for this long
/// instead of queueing behind the lock to repeat it: a dead token endpoint fails a
/// scan fast.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

impl Authenticator {
    /// An authenticator for `credential`.
    pub fn new(credential: Credential) -> Self {
        Authenticator {
            credential,
            cached: Mutex::new(None),
            failed: Mutex::new(None),
        }
    }

    /// The `Authorization` value to attach, obtaining a fresh token when needed.
    pub async fn authorization(&self, transport: &Transport) -> Result<Secret, AuthError> {
        match &self.credential {
            Credential::StaticToken { token, scheme } => {
                Ok(Secret::new(format!("{scheme} {}", token.expose())))
            }
            Credential::GitHubApp { .. } => {
                let mut cached = self.cached.lock().await;
                if let Some(c) = cached.as_ref()
                    && SystemTime::now() < c.refresh_at
                {
                    return Ok(c.header.clone());
                }
                let mut failed = self.failed.lock().await;
                if let Some((at, reason)) = failed.as_ref()
                    && at.elapsed() < FAILURE_MEMORY
                {
                    return Err(AuthError::Unavailable {
                        reason: reason.clone(),
                    });
                }
                match self.fetch_with_retries(transport).await {
                    Ok(fresh) => {
                        *failed = None;
                        let header = fresh.header.clone();
                        *cached = Some(fresh);
                        Ok(header)
                    }
                    Err(e) => {
                        *failed = Some((std::time::Instant::now(), crate::error_chain(&e)));
                        Err(e)
                    }
                }
            }
        }
    }

    /// Forgets a cached token after the provider said 401, so the next request
    /// fetches a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
        *self.failed.lock().await = None;
    }

    /// True when a 401 can be cured by fetching a new token.
    pub fn refreshable(&self) -> bool {
        matches!(self.credential, Credential::GitHubApp { .. })
    }

    /// A truncated token response is worth another try (the transport already
    /// retried timeouts, resets and 5xx); a refusal is not.
    async fn fetch_with_retries(&self, transport: &Transport) -> Result<CachedToken, AuthError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.github_installation_token(transport).await {
                Err(e @ AuthError::Malformed { .. }) if attempt < TOKEN_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "retrying token request");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn github_installation_token(
        &self,
        transport: &Transport,
    ) -> Result<CachedToken, AuthError> {
        let Credential::GitHubApp {
            app_id,
            private_key,
            installation_id,
            api_base,
            org,
        } = &self.credential
        else {
            unreachable!("only called for GitHub App credentials")
        };
        let jwt = github_app_jwt(app_id, private_key, SystemTime::now())?;
        let bearer = Secret::new(format!("Bearer {}", jwt.expose()));
        let installation = match installation_id {
            Some(id) => *id,
            None => {
                let url = format!("{api_base}/orgs/{org}/installation");
                let body: InstallationRef =
                    github_call(transport, HostRequest::get(&url), &bearer, &url).await?;
                body.id
            }
        };
        let url = format!("{api_base}/app/installations/{installation}/access_tokens");
        let body: AccessToken = github_call(
            transport,
            HostRequest::post(&url, Vec::new()),
            &bearer,
            &url,
        )
        .await?;
        let expires = time::OffsetDateTime::parse(
            &body.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| AuthError::Malformed {
            url: url.clone(),
            reason: format!("expires_at: {e}"),
        })?;
        let expires = UNIX_EPOCH + Duration::from_secs(expires.unix_timestamp().max(0) as u64);
        let refresh_at = expires
            .checked_sub(REFRESH_MARGIN)
            .unwrap_or(UNIX_EPOCH)
            .max(SystemTime::now() + Duration::from_secs(30));
        Ok(CachedToken {
            header: Secret::new(format!("Bearer {}", body.token.expose())),
            refresh_at,
        })
    }
}

#[derive(Deserialize)]
struct InstallationRef {
    id: u64,
}

#[derive(Deserialize)]
struct AccessToken {
    token: SecretString,
    expires_at: String,
}

/// A secret as it arrives in a JSON body: deserialised straight into [`Secret`].
struct SecretString(Secret);

impl SecretString {
    fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretString(Secret::new(s)))
    }
}

async fn github_call<T: serde::de::DeserializeOwned>(
    transport: &Transport,
    mut req: HostRequest,
    bearer: &Secret,
    url: &str,
) -> Result<T, AuthError> {
    req.headers.push((
        "accept".to_owned(),
        "application/vnd.github+json".to_owned(),
    ));
    req.headers
        .push(("x-github-api-version".to_owned(), "2022-11-28".to_owned()));
    // Creating an access token has no side effect worth protecting: retrying it
    // after an ambiguous failure only mints another short-lived token.
    req.retry_unsafe = true;
    let resp = transport
        .send(req, Some(bearer))
        .await
        .map_err(|source| AuthError::Transport {
            url: url.to_owned(),
            source,
        })?;
    if !(200..300).contains(&resp.status) {
        #[derive(Deserialize)]
        struct Basic {
            message: Option<String>,
        }
        let message = serde_json::from_slice::<Basic>(&resp.body)
            .ok()
            .and_then(|b| b.message)
            .unwrap_or_else(|| "no message".to_owned());
        return Err(AuthError::Refused {
            url: url.to_owned(),
            status: resp.status,
            message,
        });
    }
    serde_json::from_slice(&resp.body).map_err(|e| AuthError::Malformed {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// Builds the RS256 JWT a GitHub App presents: `iat` 60 s in the past for clock
/// skew, `exp` nine minutes ahead (GitHub allows at most ten).
pub fn github_app_jwt(app_id: &str, key: &Secret, now: SystemTime) -> Result<Secret, AuthError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iat: u64,
        exp: u64,
        iss: &'a str,
    }
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let claims = Claims {
        iat: now.saturating_sub(60),
        exp: now + 9 * 60,
        iss: app_id,
    };
    let bad_key = |e: jsonwebtoken::errors::Error| AuthError::BadKey {
        kind: "github-app",
        reason: e.to_string(),
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.expose().as_bytes()).map_err(bad_key)?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(bad_key)?;
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghs_supersecret\n");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let c = Credential::StaticToken {
            token: s.clone(),
            scheme: "Bearer".into(),
        };
        assert!(!format!("{c:?}").contains("supersecret"));
        assert!(s.occurs_in(b"xx ghs_supersecret yy"));
        assert!(!s.occurs_in(b"ghs_super"));
    }

    /// A GitHub token endpoint on loopback that verifies the app JWT and counts
    /// the tokens it mints; each token expires `ttl` seconds after issue.
    async fn token_endpoint(
        ttl: i64,
    ) -> (
        std::net::SocketAddr,
        Arc<std::sync::atomic::AtomicU32>,
        Secret,
    ) {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        use std::sync::atomic::{AtomicU32, Ordering};
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .unwrap_or_else(|e| panic!("keygen: {e}"));
        let pem = key
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap_or_else(|e| panic!("pem: {e}"));
        let public = key
            .to_public_key()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap_or_else(|e| panic!("pem: {e}"));
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes())
            .unwrap_or_else(|e| panic!("decoding key: {e}"));
        let minted = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&minted);
        let app = axum::Router::new()
            .route(
                "/orgs/acme/installation",
                axum::routing::get(|| async { axum::Json(serde_json::json!({ "id": 42 })) }),
            )
            .route(
                "/app/installations/42/access_tokens",
                axum::routing::post(move |headers: axum::http::HeaderMap| {
                    let counter = Arc::clone(&counter);
                    let decoding = decoding.clone();
                    async move {
                        let jwt = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("Bearer "))
                            .unwrap_or_default()
                            .to_owned();
                        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                        v.set_required_spec_claims(&["exp", "iat", "iss"]);
                        if jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &v).is_err() {
                            return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"message": "bad jwt"})));
                        }
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(ttl);
                        let expires = expires
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default();
                        (
                            axum::http::StatusCode::CREATED,
                            axum::Json(serde_json::json!({ "token": format!("ghs_token{n}"), "expires_at": expires })),
                        )
                    }
                }),
            );
        let addr = crate::test_support::serve(app).await;
        (addr, minted, Secret::new(pem.as_str()))
    }

    fn github_app(addr: std::net::SocketAddr, key: Secret) -> (Authenticator, Transport) {
        let host = addr.to_string();
        let policy = crate::egress::Policy::for_tenant("t", "github", &[], &[host], true)
            .unwrap_or_else(|e| panic!("{e}"));
        let transport = Transport::new(policy, &crate::config::Limits::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let auth = Authenticator::new(Credential::GitHubApp {
            app_id: "900001".into(),
            private_key: key,
            installation_id: None,
            api_base: format!("http://{addr}"),
            org: "acme".into(),
        });
        (auth, transport)
    }

    #[tokio::test]
    async fn installation_tokens_are_cached_until_near_expiry() {
        use std::sync::atomic::Ordering;
        let (addr, minted, key) = token_endpoint(3600).await;
        let (auth, transport) = github_app(addr, key);
        let first = auth
            .authorization(&transport)
            .await
            .map_err(|e| e.to_string());
        let second = auth
            .authorization(&transport)
            .await
            .map_err(|e| e.to_string());
        assert_eq!(
            first.as_ref().map(|s| s.expose().to_owned()),
            Ok("Bearer ghs_token1".to_owned())
        );
        assert_eq!(
            second.map(|s| s.expose().to_owned()),
            Ok("Bearer ghs_token1".to_owned())
        );
        assert_eq!(
            minted.load(Ordering::SeqCst),
            1,
            "a fresh token must be reused"
        );
        auth.invalidate().await;
        let third = auth
            .authorization(&transport)
            .await
            .map_err(|e| e.to_string());
        assert_eq!(
            third.map(|s| s.expose().to_owned()),
            Ok("Bearer ghs_token2".to_owned())
        );
    }

    #[tokio::test]
    async fn tokens_close_to_expiry_are_renewed() {
        use std::sync::atomic::Ordering;
        // A token issued already inside the 5-minute margin is renewed after the
        // 30 s floor that keeps a short-lived token from causing a renewal per request.
        let (addr, minted, key) = token_endpoint(240).await;
        let (auth, transport) = github_app(addr, key);
        let _ = auth.authorization(&transport).await;
        let refresh_at = auth.cached.lock().await.as_ref().map(|c| c.refresh_at);
        let now = SystemTime::now();
        let refresh_at = refresh_at.unwrap_or(UNIX_EPOCH);
        assert!(
            refresh_at > now && refresh_at <= now + Duration::from_secs(31),
            "a token inside the margin is renewed within 30 s"
        );
        assert_eq!(minted.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn bad_key_error_does_not_echo_the_key() {
        let key =
            Secret::new("-----BEGIN RSA PRIVATE KEY-----\nnotakey\n-----END RSA PRIVATE KEY-----");
        let err = github_app_jwt("1", &key, SystemTime::now())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a valid RSA PEM key"), "{err}");
        assert!(!err.contains("notakey"), "{err}");
    }
}
