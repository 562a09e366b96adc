//! The service account's credentials: verifying the RS256 JWT bearer assertion (RFC 7523)
//! the way Google's token endpoint does for domain-wide delegation.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// The grant type of the JWT bearer flow.
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest assertion lifetime Google accepts (`exp - iat`).
const MAX_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`.
const MAX_CLOCK_AHEAD: i64 = 300;
/// Access tokens live an hour; Google answers `expires_in: 3599`.
pub(crate) const TOKEN_TTL: i64 = 3599;

/// Why the token endpoint refused an assertion, with Google's RFC 6749 error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Not a JWT, not RS256, wrong `kid`, or a bad signature.
    Signature,
    /// `iss` is not the service account.
    UnknownAccount,
    /// `aud` is not this token endpoint.
    Audience,
    /// `iat`/`exp` missing, expired, in the future or more than an hour apart.
    Times,
    /// `sub` is not a user of the customer.
    UnknownSubject,
    /// No `scope` claim.
    NoScope,
    /// A scope the admin console's domain-wide delegation does not allow.
    NotDelegated,
}

impl Rejection {
    /// (HTTP status, `error`, `error_description`) as Google's token endpoint answers.
    pub(crate) fn answer(&self) -> (u16, &'static str, &'static str) {
        match self {
            Rejection::Signature => (400, "invalid_grant", "Invalid JWT Signature."),
            Rejection::UnknownAccount => (400, "invalid_grant", "Invalid grant: account not found"),
            Rejection::Audience => (400, "invalid_grant", "Invalid JWT: Failed audience check."),
            Rejection::Times => (
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
                 timeframe. Check your iat and exp values in the JWT claim.",
            ),
            Rejection::UnknownSubject => (400, "invalid_grant", "Invalid email or User ID"),
            Rejection::NoScope => (400, "invalid_scope", "Empty or missing scope not allowed."),
            Rejection::NotDelegated => (
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client \
                 not authorized for any of the scopes requested.",
            ),
        }
    }
}

/// What a verified assertion asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// The impersonated user (`sub`), as written.
    pub subject: String,
    /// The requested scopes.
    pub scopes: Vec<String>,
}

/// The expected values of an assertion.
pub(crate) struct Expect<'a> {
    pub key: &'a DecodingKey,
    pub key_id: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
    /// The domain-wide delegation allowlist of the service account's client.
    pub delegated: &'a [&'a str],
    pub now: i64,
}

/// Verifies the signature (and `kid` when present), then the claims. The subject's
/// existence is the caller's to check.
pub(crate) fn verify(jwt: &str, expect: &Expect<'_>) -> Result<Assertion, Rejection> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| Rejection::Signature)?;
    if header.alg != Algorithm::RS256 || header.kid.as_deref().is_some_and(|k| k != expect.key_id) {
        return Err(Rejection::Signature);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    // The claims are checked by hand below, with Google's rules.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(jwt, expect.key, &validation)
        .map_err(|_| Rejection::Signature)?;
    check_claims(&data.claims, expect)
}

/// Google's claim rules, apart from the signature so they can be unit-tested.
pub(crate) fn check_claims(claims: &Value, expect: &Expect<'_>) -> Result<Assertion, Rejection> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(expect.issuer) {
        return Err(Rejection::UnknownAccount);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == expect.audience,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(expect.audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(Rejection::Audience);
    }
    let time = |k: &str| claims.get(k).and_then(Value::as_i64);
    let (Some(iat), Some(exp)) = (time("iat"), time("exp")) else {
        return Err(Rejection::Times);
    };
    if exp <= expect.now
        || iat > expect.now + MAX_CLOCK_AHEAD
        || exp <= iat
        || exp - iat > MAX_LIFETIME
    {
        return Err(Rejection::Times);
    }
    let subject = text("sub").map(str::trim).unwrap_or_default();
    if subject.is_empty() {
        // Without `sub` the service account acts as itself; it is no user of the
        // customer, so nothing it asks for here is delegated.
        return Err(Rejection::UnknownSubject);
    }
    let scopes: Vec<String> = text("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(Rejection::NoScope);
    }
    if scopes
        .iter()
        .any(|s| !expect.delegated.contains(&s.as_str()))
    {
        return Err(Rejection::NotDelegated);
    }
    Ok(Assertion {
        subject: subject.to_owned(),
        scopes,
    })
}

/// The bearer token of an `Authorization` header.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty()).then_some(rest)
}

/// A new access token: `ya29.c.` and 120 alphanumerics.
pub(crate) fn new_access_token() -> String {
    format!(
        "ya29.c.{}",
        crate::world::alphanumeric(&mut rand::rng(), 120)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALLOWED: &[&str] = &["a", "b", "c"];

    fn check(claims: &Value) -> Result<Assertion, Rejection> {
        let key = DecodingKey::from_secret(b"unused");
        let expect = Expect {
            key: &key,
            key_id: "k1",
            issuer: "sa@p.iam.gserviceaccount.com",
            audience: "http://x/token",
            delegated: ALLOWED,
            now: 1_000_000,
        };
        check_claims(claims, &expect)
    }

    #[test]
    fn claims_follow_google_rules() {
        let now = 1_000_000;
        let ok = json!({"iss": "sa@p.iam.gserviceaccount.com", "sub": "admin@x", "aud": "http://x/token",
            "scope": "a b", "iat": now, "exp": now + 180});
        assert_eq!(
            check(&ok),
            Ok(Assertion {
                subject: "admin@x".into(),
                scopes: vec!["a".into(), "b".into()]
            })
        );
        let with = |k: &str, v: Value| {
            let mut c = ok.clone();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = ok.clone();
            c.as_object_mut().map(|o| o.remove(k));
            c
        };
        let cases = [
            (with("iss", json!("other@p")), Rejection::UnknownAccount),
            (
                with("aud", json!("https://oauth2.googleapis.com/token")),
                Rejection::Audience,
            ),
            (with("exp", json!(now)), Rejection::Times),
            (with("exp", json!(now + 3601)), Rejection::Times),
            (with("iat", json!(now + 301)), Rejection::Times),
            (without("iat"), Rejection::Times),
            (without("sub"), Rejection::UnknownSubject),
            (without("scope"), Rejection::NoScope),
            (with("scope", json!("a d")), Rejection::NotDelegated),
        ];
        for (claims, want) in cases {
            assert_eq!(check(&claims), Err(want), "{claims}");
        }
    }

    #[test]
    fn bearer_needs_the_scheme() {
        assert_eq!(bearer("Bearer ya29.x"), Some("ya29.x"));
        assert_eq!(bearer("bearer  ya29.x "), Some("ya29.x"));
        assert_eq!(bearer("token ya29.x"), None);
        assert_eq!(bearer("Bearer "), None);
        assert!(new_access_token().starts_with("ya29.c."));
    }
}
