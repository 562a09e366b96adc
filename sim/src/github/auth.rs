//! The auditor app's credentials: verifying app JWTs and minting installation tokens.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Longest JWT lifetime GitHub accepts: `exp` at most 10 minutes after a back-dated `iat`.
const MAX_LIFETIME: i64 = 660;
/// How far `iat` may run ahead of our clock.
const MAX_CLOCK_AHEAD: i64 = 60;
/// Installation tokens live one hour.
pub(crate) const TOKEN_TTL: i64 = 3600;

/// Why a JWT was refused (all become the same 401; the reason goes to the log).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JwtRejection {
    /// Not a JWT, wrong algorithm, or a bad signature.
    Undecodable,
    /// `iss` is neither the app id nor the client id.
    WrongIssuer,
    /// `exp` or `iat` missing or not numbers.
    MissingTimes,
    /// `exp` is not in the future.
    Expired,
    /// `iat` is too far in the future.
    IssuedInFuture,
    /// `exp - iat` exceeds what GitHub allows.
    TooLong,
}

/// Verifies an app JWT: RS256 only, signed by the app key, then the claims.
pub(crate) fn verify_app_jwt(
    token: &str,
    key: &DecodingKey,
    issuers: &[&str],
    now: i64,
) -> Result<(), JwtRejection> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Claims are checked by hand below: GitHub accepts a numeric `iss`, and its time rules
    // (no leeway, bounded lifetime) differ from the library's defaults.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, key, &validation)
        .map_err(|_| JwtRejection::Undecodable)?;
    check_claims(&data.claims, issuers, now)
}

/// GitHub's claim rules, separated from the signature check so they can be unit-tested.
pub(crate) fn check_claims(claims: &Value, issuers: &[&str], now: i64) -> Result<(), JwtRejection> {
    let iss = match claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(JwtRejection::WrongIssuer),
    };
    if !issuers.contains(&iss.as_str()) {
        return Err(JwtRejection::WrongIssuer);
    }
    let time = |k: &str| claims.get(k).and_then(Value::as_i64);
    let (Some(iat), Some(exp)) = (time("iat"), time("exp")) else {
        return Err(JwtRejection::MissingTimes);
    };
    if exp <= now {
        return Err(JwtRejection::Expired);
    }
    if iat > now + MAX_CLOCK_AHEAD {
        return Err(JwtRejection::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME {
        return Err(JwtRejection::TooLong);
    }
    Ok(())
}

/// The bearer credential of a request: `Bearer x` or `token x` (GitHub accepts both).
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    (["bearer", "token"].contains(&scheme.to_ascii_lowercase().as_str()) && !rest.is_empty())
        .then_some(rest)
}

/// Whether a credential looks like a JWT (three base64url segments) rather than a token.
pub(crate) fn looks_like_jwt(credential: &str) -> bool {
    credential.split('.').count() == 3
}

/// A new installation token: `ghs_` + 36 alphanumerics.
pub(crate) fn new_installation_token() -> String {
    format!("ghs_{}", crate::world::alphanumeric(&mut rand::rng(), 36))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &[&str] = &["900001", "Iv23liabc"];

    #[test]
    fn claims_follow_github_rules() {
        let now = 1_000_000;
        let ok = json!({"iss": "900001", "iat": now - 60, "exp": now + 540});
        assert_eq!(check_claims(&ok, ISS, now), Ok(()));
        assert_eq!(
            check_claims(
                &json!({"iss": 900001, "iat": now, "exp": now + 600}),
                ISS,
                now
            ),
            Ok(())
        );
        assert_eq!(
            check_claims(
                &json!({"iss": "Iv23liabc", "iat": now, "exp": now + 1}),
                ISS,
                now
            ),
            Ok(())
        );
        let cases = [
            (
                json!({"iss": "1", "iat": now, "exp": now + 60}),
                JwtRejection::WrongIssuer,
            ),
            (
                json!({"iat": now, "exp": now + 60}),
                JwtRejection::WrongIssuer,
            ),
            (
                json!({"iss": "900001", "exp": now + 60}),
                JwtRejection::MissingTimes,
            ),
            (
                json!({"iss": "900001", "iat": now - 700, "exp": now}),
                JwtRejection::Expired,
            ),
            (
                json!({"iss": "900001", "iat": now + 61, "exp": now + 300}),
                JwtRejection::IssuedInFuture,
            ),
            (
                json!({"iss": "900001", "iat": now - 60, "exp": now + 601}),
                JwtRejection::TooLong,
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(check_claims(&claims, ISS, now), Err(want), "{claims}");
        }
    }

    #[test]
    fn bearer_accepts_both_schemes() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("token abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("ghs_x"));
        let t = new_installation_token();
        assert_eq!(t.len(), 40);
        assert!(t.starts_with("ghs_") && t[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
