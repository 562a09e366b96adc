//! The Microsoft identity platform's v2.0 token endpoint (client-credentials flow) and
//! checking the access tokens it mints.
//!
//! Shapes from `examples/oauth-token-client-credentials.json` and API.md §2; the assertion
//! rules from RFC 7523 §3 as Entra applies them (certificate credentials: `x5t` names the
//! certificate, `aud` is the token endpoint, `iss` = `sub` = the client id, a `jti`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::http::QueryParams;

/// The scope the auditor must ask for.
pub(crate) const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
/// `client_assertion_type` for a certificate credential.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Access tokens live one hour, as Entra's do.
pub(crate) const TOKEN_TTL: i64 = 3599;
/// Clock skew Entra tolerates on `nbf`/`exp`.
const SKEW: i64 = 300;
/// Longest assertion lifetime accepted.
const MAX_ASSERTION_LIFETIME: i64 = 3600;

/// What the token endpoint checks a request against.
pub(crate) struct Expected<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub secret: &'a str,
    pub key: &'a DecodingKey,
    /// Base64url of the registered certificate's SHA-1 thumbprint.
    pub x5t: &'a str,
    /// Token endpoint URLs accepted as the assertion's `aud`.
    pub audiences: &'a [String],
    pub now: i64,
}

/// An OAuth error from the token endpoint (AADSTS code and text).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub text: &'static str,
}

fn fail(status: StatusCode, error: &'static str, code: u32, text: &'static str) -> TokenError {
    TokenError {
        status,
        error,
        code,
        text,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let trace = super::request_id();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace} Correlation ID: {} Timestamp: {}",
                self.code, self.text, super::request_id(), super::now_text()),
            "error_codes": [self.code],
            "timestamp": super::now_text(),
            "trace_id": trace,
            "correlation_id": super::request_id(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Checks a token request (form body) for `tenant` (the path segment).
pub(crate) fn check_request(
    tenant: &str,
    form: &QueryParams,
    want: &Expected<'_>,
) -> Result<(), TokenError> {
    if !tenant.eq_ignore_ascii_case(want.tenant_id) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
        ));
    }
    if form.get("grant_type") != Some("client_credentials") {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    let client_id = form.get("client_id").unwrap_or_default();
    if !client_id.eq_ignore_ascii_case(want.client_id) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant.",
        ));
    }
    if form.get("scope") != Some(GRAPH_DEFAULT_SCOPE) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        ));
    }
    match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(secret), None) => {
            if secret == want.secret {
                Ok(())
            } else {
                Err(fail(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                ))
            }
        }
        (None, Some(assertion)) => {
            if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    "Invalid client_assertion_type.",
                ));
            }
            check_assertion(assertion, want)
        }
        _ => Err(fail(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

fn bad_assertion(text: &'static str) -> TokenError {
    fail(StatusCode::UNAUTHORIZED, "invalid_client", 700027, text)
}

fn check_assertion(token: &str, want: &Expected<'_>) -> Result<(), TokenError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| bad_assertion("Client assertion failed signature validation."))?;
    if header.x5t.as_deref() != Some(want.x5t) {
        return Err(bad_assertion(
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        ));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    // Claims are checked by hand below, with Entra's rules.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, want.key, &validation)
        .map_err(|_| bad_assertion("Client assertion failed signature validation."))?
        .claims;
    check_claims(&claims, want)
}

/// Entra's claim rules for a client assertion, apart from the signature.
pub(crate) fn check_claims(claims: &Value, want: &Expected<'_>) -> Result<(), TokenError> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    if !text("iss").eq_ignore_ascii_case(want.client_id)
        || !text("sub").eq_ignore_ascii_case(want.client_id)
    {
        return Err(bad_assertion(
            "The issuer and subject of the client assertion must both be the client id.",
        ));
    }
    if !want.audiences.iter().any(|a| a == text("aud")) {
        return Err(bad_assertion(
            "The audience claim of the client assertion must be the token endpoint.",
        ));
    }
    if text("jti").is_empty() {
        return Err(bad_assertion(
            "The client assertion must contain a jti claim.",
        ));
    }
    let time = |k: &str| claims.get(k).and_then(Value::as_i64);
    let Some(exp) = time("exp") else {
        return Err(bad_assertion("The client assertion has no exp claim."));
    };
    let start = time("nbf").or_else(|| time("iat")).unwrap_or(exp);
    if exp + SKEW <= want.now {
        return Err(bad_assertion("The client assertion has expired."));
    }
    if start > want.now + SKEW {
        return Err(bad_assertion("The client assertion is not yet valid."));
    }
    if exp - start > MAX_ASSERTION_LIFETIME {
        return Err(bad_assertion("The client assertion is valid for too long."));
    }
    Ok(())
}

/// `x5t` for a hex thumbprint.
pub(crate) fn x5t_of(thumbprint_hex: &str) -> String {
    URL_SAFE_NO_PAD.encode(hex::decode(thumbprint_hex).unwrap_or_default())
}

/// A new opaque access token (Entra's are JWTs; nothing here reads them).
pub(crate) fn new_access_token() -> String {
    format!(
        "eyJ0eXAiOiJKV1Qi.{}",
        crate::world::alphanumeric(&mut rand::rng(), 64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected<'a>(key: &'a DecodingKey, audiences: &'a [String]) -> Expected<'a> {
        Expected {
            tenant_id: "t-1",
            client_id: "c-1",
            secret: "s3cret",
            key,
            x5t: "abc",
            audiences,
            now: 1_000_000,
        }
    }

    #[test]
    fn secrets_and_requests_are_checked() {
        let key = DecodingKey::from_secret(b"unused");
        let auds = ["http://x/t-1/oauth2/v2.0/token".to_owned()];
        let want = expected(&key, &auds);
        let form = |s: &str| QueryParams::parse(s);
        let ok = "grant_type=client_credentials&client_id=c-1&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_secret=s3cret";
        assert_eq!(check_request("t-1", &form(ok), &want), Ok(()));
        let code = |tenant: &str, body: &str| {
            check_request(tenant, &form(body), &want)
                .err()
                .map(|e| e.code)
        };
        assert_eq!(code("t-2", ok), Some(90002));
        assert_eq!(code("t-1", &ok.replace("s3cret", "nope")), Some(7000215));
        assert_eq!(code("t-1", &ok.replace("c-1", "c-2")), Some(700016));
        assert_eq!(
            code("t-1", &ok.replace(".default", "User.Read")),
            Some(1002012)
        );
        assert_eq!(
            code("t-1", &ok.replace("client_credentials", "password")),
            Some(70003)
        );
        assert_eq!(
            code("t-1", &ok.replace("&client_secret=s3cret", "")),
            Some(7000218)
        );
    }

    #[test]
    fn assertion_claims_follow_entra_rules() {
        let key = DecodingKey::from_secret(b"unused");
        let auds = ["http://x/t-1/oauth2/v2.0/token".to_owned()];
        let want = expected(&key, &auds);
        let now = want.now;
        let good = json!({"iss": "c-1", "sub": "c-1", "aud": auds[0], "jti": "j",
            "iat": now, "nbf": now, "exp": now + 300});
        assert_eq!(check_claims(&good, &want), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            check_claims(&c, &want).is_err()
        };
        assert!(with("iss", json!("c-2")));
        assert!(with("sub", json!("other")));
        assert!(with("aud", json!("https://elsewhere/token")));
        assert!(with("jti", json!("")));
        assert!(with("exp", json!(now - 400)));
        assert!(with("nbf", json!(now + 400)));
        assert!(with("exp", json!(now + 4000)));
        assert_eq!(
            x5t_of("84E05C1D98BCE3A5421D225B140B36E86A3D5534"),
            "hOBcHZi846VCHSJbFAs26Go9VTQ"
        );
    }
}
