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
    /// An RS256 JWT assertion exchanged for an access token (RFC 7523 §2.1): Google
    /// service accounts with domain-wide delegation, Salesforce's JWT bearer flow.
    JwtBearer {
        /// Token endpoint.
        token_url: String,
        /// The assertion's claims.
        assertion: Assertion,
        /// Space-separated scopes, sent as the `scope` claim (Google's convention).
        scope: Option<String>,
    },
    /// The client-credentials grant (RFC 6749 §4.4): Microsoft Entra apps, Okta
    /// service apps.
    ClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// OAuth client id.
        client_id: String,
        /// Space-separated scopes, sent as the `scope` parameter.
        scope: Option<String>,
        /// How the client proves itself.
        auth: ClientAuth,
    },
}

/// What an RS256 assertion says and how it is signed.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// `iss`.
    pub issuer: String,
    /// `sub`, when the flow names a subject (the admin a Google service account acts
    /// as, the Salesforce user).
    pub subject: Option<String>,
    /// `aud`.
    pub audience: String,
    /// PEM private key (PKCS#1 or PKCS#8).
    pub private_key: Secret,
    /// Header `kid`, when the provider picks the key by id (Okta).
    pub key_id: Option<String>,
    /// Header `x5t`: base64url of the certificate's SHA-1 thumbprint (Entra).
    pub x5t: Option<String>,
}

/// Client authentication at a token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `client_secret` in the form body.
    Secret(Secret),
    /// A signed client assertion (RFC 7523 §2.2, `private_key_jwt`); `iss` and `sub`
    /// are the client id.
    PrivateKeyJwt(Assertion),
}

impl Credential {
    /// The credential kind name used in configs and connector manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::StaticToken { .. } => "static-token",
            Credential::GitHubApp { .. } => "github-app",
            Credential::JwtBearer { .. } => "jwt-bearer",
            Credential::ClientCredentials { .. } => "client-credentials",
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
            Credential::GitHubApp { .. }
            | Credential::JwtBearer { .. }
            | Credential::ClientCredentials { .. } => {
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
        !matches!(self.credential, Credential::StaticToken { .. })
    }

    /// A truncated token response is worth another try (the transport already
    /// retried timeouts, resets and 5xx); a refusal is not.
    async fn fetch_with_retries(&self, transport: &Transport) -> Result<CachedToken, AuthError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let fetched = match &self.credential {
                Credential::JwtBearer {
                    token_url,
                    assertion,
                    scope,
                } => {
                    let jwt = sign_assertion(assertion, scope.as_deref(), None, SystemTime::now())?;
                    let form = [
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("assertion", jwt.expose()),
                    ];
                    oauth_token(transport, token_url, &form).await
                }
                Credential::ClientCredentials {
                    token_url,
                    client_id,
                    scope,
                    auth,
                } => {
                    let mut form = vec![
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id.as_str()),
                    ];
                    if let Some(scope) = scope {
                        form.push(("scope", scope));
                    }
                    let jwt;
                    match auth {
                        ClientAuth::Secret(secret) => form.push(("client_secret", secret.expose())),
                        ClientAuth::PrivateKeyJwt(assertion) => {
                            jwt = sign_assertion(
                                assertion,
                                None,
                                Some(random_jti()),
                                SystemTime::now(),
                            )?;
                            form.push((
                                "client_assertion_type",
                                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                            ));
                            form.push(("client_assertion", jwt.expose()));
                        }
                    }
                    oauth_token(transport, token_url, &form).await
                }
                _ => self.github_installation_token(transport).await,
            };
            match fetched {
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

/// Lifetime assumed when a token response has no `expires_in` (Salesforce sessions
/// last as long as the org's session timeout, which the response does not say); a
/// 401 before then fetches a new token anyway.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long a signed assertion is valid. Salesforce refuses more than three minutes.
const ASSERTION_LIFETIME: u64 = 180;

/// Signs an RS256 assertion. `scope` becomes a claim (Google's JWT bearer grant);
/// `jti` is set for client assertions, which providers may refuse to see twice.
fn sign_assertion(
    a: &Assertion,
    scope: Option<&str>,
    jti: Option<String>,
    now: SystemTime,
) -> Result<Secret, AuthError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<&'a str>,
        aud: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        jti: Option<String>,
        iat: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        nbf: Option<u64>,
        exp: u64,
    }
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let client_assertion = jti.is_some();
    let claims = Claims {
        iss: &a.issuer,
        sub: a.subject.as_deref(),
        aud: &a.audience,
        scope,
        jti,
        iat: now,
        nbf: client_assertion.then_some(now),
        exp: now
            + if client_assertion {
                300
            } else {
                ASSERTION_LIFETIME
            },
    };
    let bad_key = |e: jsonwebtoken::errors::Error| AuthError::BadKey {
        kind: if client_assertion {
            "client-credentials"
        } else {
            "jwt-bearer"
        },
        reason: e.to_string(),
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(a.private_key.expose().as_bytes())
        .map_err(bad_key)?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid.clone_from(&a.key_id);
    header.x5t.clone_from(&a.x5t);
    let token = jsonwebtoken::encode(&header, &claims, &key).map_err(bad_key)?;
    Ok(Secret::new(token))
}

/// 128 random bits, hex: a `jti` no provider has seen before.
fn random_jti() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// `application/x-www-form-urlencoded` (WHATWG): unreserved bytes as they are, space
/// as `+`, everything else percent-encoded.
fn form_encode(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [k, v].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for b in part.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                        out.push(char::from(b));
                    }
                    b' ' => out.push('+'),
                    _ => out.push_str(&format!("%{b:02X}")),
                }
            }
        }
    }
    out.into_bytes()
}

/// POSTs a token request and reads an RFC 6749 §5.1 answer (or §5.2 error).
async fn oauth_token(
    transport: &Transport,
    token_url: &str,
    form: &[(&str, &str)],
) -> Result<CachedToken, AuthError> {
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: SecretString,
        token_type: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct TokenError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let mut req = HostRequest::post(token_url, form_encode(form));
    req.headers.push((
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    ));
    req.headers
        .push(("accept".to_owned(), "application/json".to_owned()));
    // Minting a token twice is harmless: retry ambiguous failures like a read.
    req.retry_unsafe = true;
    let resp = transport
        .send(req, None)
        .await
        .map_err(|source| AuthError::Transport {
            url: token_url.to_owned(),
            source,
        })?;
    if !(200..300).contains(&resp.status) {
        let message = serde_json::from_slice::<TokenError>(&resp.body)
            .ok()
            .map(|e| {
                let code = e.error.unwrap_or_else(|| "error".to_owned());
                match e.error_description {
                    Some(d) => format!("{code}: {}", clip(&d, 200)),
                    None => code,
                }
            })
            .unwrap_or_else(|| "no error body".to_owned());
        return Err(AuthError::Refused {
            url: token_url.to_owned(),
            status: resp.status,
            message,
        });
    }
    let body: TokenResponse =
        serde_json::from_slice(&resp.body).map_err(|e| AuthError::Malformed {
            url: token_url.to_owned(),
            reason: e.to_string(),
        })?;
    // Providers send `expires_in` as a number (RFC 6749) or, in older Microsoft
    // endpoints, as a string.
    let lifetime = match &body.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    let scheme = match body.token_type.as_deref() {
        // Bearer is the only type grantscope can use; N_A (Google) and absent mean it too.
        Some(t) if t.eq_ignore_ascii_case("dpop") => {
            return Err(AuthError::Malformed {
                url: token_url.to_owned(),
                reason: "the token is DPoP-bound; disable DPoP for the auditor's service app"
                    .to_owned(),
            });
        }
        _ => "Bearer",
    };
    let now = SystemTime::now();
    let refresh_at = (now + lifetime)
        .checked_sub(REFRESH_MARGIN)
        .unwrap_or(now)
        .max(now + Duration::from_secs(30));
    Ok(CachedToken {
        header: Secret::new(format!("{scheme} {}", body.access_token.expose())),
        refresh_at,
    })
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
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
    fn form_bodies_are_percent_encoded() {
        let body = form_encode(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("scope", "a b/c+d"),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&body),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=a+b%2Fc%2Bd"
        );
    }

    fn test_key() -> (Secret, jsonwebtoken::DecodingKey) {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
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
        (Secret::new(pem.as_str()), decoding)
    }

    /// A token endpoint that records each form body it receives and answers with a
    /// numbered token valid for an hour.
    async fn form_endpoint() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(move |body: String| {
                let log = Arc::clone(&log);
                async move {
                    let mut log = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    log.push(body);
                    axum::Json(serde_json::json!({
                        "access_token": format!("at-{}", log.len()),
                        "token_type": "Bearer",
                        "expires_in": 3599,
                    }))
                }
            }),
        );
        (crate::test_support::serve(app).await, seen)
    }

    fn transport_for(addr: std::net::SocketAddr) -> Transport {
        let policy = crate::egress::Policy::for_tenant("t", "x", &[], &[addr.to_string()], true)
            .unwrap_or_else(|e| panic!("{e}"));
        Transport::new(policy, &crate::config::Limits::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Decodes the form body's `key` parameter (only what these tests send).
    fn form_value(body: &str, key: &str) -> Option<String> {
        body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == key).then(|| {
                let v = v.replace('+', " ");
                let mut out = Vec::new();
                let mut bytes = v.bytes();
                while let Some(b) = bytes.next() {
                    if b == b'%' {
                        let hi = bytes.next().unwrap_or(b'0');
                        let lo = bytes.next().unwrap_or(b'0');
                        let hex = [hi, lo];
                        let s = std::str::from_utf8(&hex).unwrap_or("00");
                        out.push(u8::from_str_radix(s, 16).unwrap_or(0));
                    } else {
                        out.push(b);
                    }
                }
                String::from_utf8_lossy(&out).into_owned()
            })
        })
    }

    #[tokio::test]
    async fn jwt_bearer_sends_a_signed_assertion_with_the_scopes() {
        let (key, decoding) = test_key();
        let (addr, seen) = form_endpoint().await;
        let token_url = format!("http://{addr}/token");
        let auth = Authenticator::new(Credential::JwtBearer {
            token_url: token_url.clone(),
            assertion: Assertion {
                issuer: "auditor@project.iam.gserviceaccount.com".into(),
                subject: Some("admin@example.com".into()),
                audience: token_url.clone(),
                private_key: key,
                key_id: Some("k1".into()),
                x5t: None,
            },
            scope: Some("https://www.googleapis.com/auth/admin.directory.user.readonly".into()),
        });
        let header = auth
            .authorization(&transport_for(addr))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.expose(), "Bearer at-1");
        let body = seen.lock().map(|v| v[0].clone()).unwrap_or_default();
        assert_eq!(
            form_value(&body, "grant_type").as_deref(),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        let jwt = form_value(&body, "assertion").unwrap_or_default();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[&token_url]);
        v.set_issuer(&["auditor@project.iam.gserviceaccount.com"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &v)
            .unwrap_or_else(|e| panic!("assertion does not verify: {e}"));
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        assert_eq!(data.claims["sub"], "admin@example.com");
        assert_eq!(
            data.claims["scope"],
            "https://www.googleapis.com/auth/admin.directory.user.readonly"
        );
        let lifetime =
            data.claims["exp"].as_u64().unwrap_or(0) - data.claims["iat"].as_u64().unwrap_or(0);
        assert!(
            lifetime <= 180,
            "Salesforce refuses assertions over 3 minutes"
        );
        // Cached: no second request.
        let again = auth.authorization(&transport_for(addr)).await;
        assert!(again.is_ok());
        assert_eq!(seen.lock().map(|v| v.len()).unwrap_or(0), 1);
    }

    #[tokio::test]
    async fn client_credentials_with_a_secret_or_a_private_key() {
        let (addr, seen) = form_endpoint().await;
        let token_url = format!("http://{addr}/token");
        let with_secret = Authenticator::new(Credential::ClientCredentials {
            token_url: token_url.clone(),
            client_id: "client-1".into(),
            scope: Some("https://graph.microsoft.com/.default".into()),
            auth: ClientAuth::Secret(Secret::new("s3cr3t~value")),
        });
        let header = with_secret
            .authorization(&transport_for(addr))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.expose(), "Bearer at-1");
        let body = seen.lock().map(|v| v[0].clone()).unwrap_or_default();
        assert_eq!(
            form_value(&body, "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(form_value(&body, "client_id").as_deref(), Some("client-1"));
        assert_eq!(
            form_value(&body, "client_secret").as_deref(),
            Some("s3cr3t~value")
        );
        assert_eq!(
            form_value(&body, "scope").as_deref(),
            Some("https://graph.microsoft.com/.default")
        );

        let (key, decoding) = test_key();
        let with_key = Authenticator::new(Credential::ClientCredentials {
            token_url: token_url.clone(),
            client_id: "client-2".into(),
            scope: None,
            auth: ClientAuth::PrivateKeyJwt(Assertion {
                issuer: "client-2".into(),
                subject: Some("client-2".into()),
                audience: token_url.clone(),
                private_key: key,
                key_id: None,
                x5t: Some("hOBcHZi846VCHSJbFAs26Go9VTQ".into()),
            }),
        });
        let header = with_key
            .authorization(&transport_for(addr))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.expose(), "Bearer at-2");
        let body = seen.lock().map(|v| v[1].clone()).unwrap_or_default();
        assert_eq!(form_value(&body, "client_secret"), None);
        assert_eq!(
            form_value(&body, "client_assertion_type").as_deref(),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        let jwt = form_value(&body, "client_assertion").unwrap_or_default();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[&token_url]);
        v.set_issuer(&["client-2"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &v)
            .unwrap_or_else(|e| panic!("client assertion does not verify: {e}"));
        assert_eq!(data.claims["sub"], "client-2");
        assert_eq!(
            data.header.x5t.as_deref(),
            Some("hOBcHZi846VCHSJbFAs26Go9VTQ")
        );
        assert_eq!(data.claims["jti"].as_str().map(str::len), Some(32));
    }

    #[tokio::test]
    async fn a_refused_token_request_names_the_provider_error_not_the_secret() {
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(serde_json::json!({
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                    })),
                )
            }),
        );
        let addr = crate::test_support::serve(app).await;
        let auth = Authenticator::new(Credential::ClientCredentials {
            token_url: format!("http://{addr}/token"),
            client_id: "c".into(),
            scope: None,
            auth: ClientAuth::Secret(Secret::new("do-not-print-me")),
        });
        let err = auth
            .authorization(&transport_for(addr))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("HTTP 401") && err.contains("invalid_client"),
            "{err}"
        );
        assert!(!err.contains("do-not-print-me"), "{err}");
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
