//! The auditor's authentication: app JWTs, installation tokens, and what is refused.

use serde_json::{Value, json};

use crate::common::{self, now};
use crate::common::{JsonRequest as _, JsonResponse as _};

fn jwt_error() -> Value {
    json!({"message": "A JSON web token could not be decoded", "documentation_url": "https://docs.github.com/rest"})
}

fn bad_credentials() -> Value {
    json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
}

async fn body(resp: reqwest::Response) -> Value {
    resp.json().await.expect("JSON body")
}

#[tokio::test]
async fn jwt_flow_issues_a_working_installation_token() {
    let h = common::start(3, 20).await;
    // iss may be the numeric app id or the client id; both orgs have the auditor installed.
    let inst = body(h.get("/orgs/acme-labs/installation", Some(&h.jwt())).await).await;
    assert_eq!(inst["app_id"], 900_001);
    assert_eq!(inst["app_slug"], "grantscope-auditor");
    let client_id = inst["client_id"].as_str().expect("client id");
    assert!(
        client_id.starts_with("Iv23li") && client_id.len() == 20,
        "{client_id}"
    );
    let t = now();
    let by_client_id = h.jwt_with(&json!({"iss": client_id, "iat": t - 60, "exp": t + 540}));
    let resp = h
        .get("/orgs/acme-corp/installation", Some(&by_client_id))
        .await;
    assert_eq!(resp.status(), 200);
    let id = body(resp).await["id"].as_u64().expect("id");

    let resp = h
        .http
        .post(h.url(&format!("/app/installations/{id}/access_tokens")))
        .bearer_auth(&by_client_id)
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 201);
    let tok = body(resp).await;
    let token = tok["token"].as_str().expect("token");
    assert!(token.starts_with("ghs_") && token.len() == 40);
    assert_eq!(tok["repository_selection"], "all");
    assert!(tok.get("repositories").is_none());
    let expires = time::OffsetDateTime::parse(
        tok["expires_at"].as_str().expect("expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
    .unix_timestamp();
    assert!((expires - (t + 3600)).abs() < 30, "token lives one hour");
    assert_eq!(
        tok["permissions"]["organization_personal_access_tokens"],
        "write"
    );

    let resp = h.get("/orgs/acme-corp/installations", Some(token)).await;
    assert_eq!(resp.status(), 200);
    // `token x` is accepted too.
    let resp = h
        .http
        .get(h.url("/orgs/acme-corp/installations"))
        .header("authorization", format!("token {token}"))
        .send()
        .await;
    assert_eq!(resp.expect("get").status(), 200);

    // A token request for an installation that is not the auditor's is a 404, and
    // asking for more than the installation holds is a 422.
    let r = h
        .http
        .post(h.url("/app/installations/1/access_tokens"))
        .bearer_auth(h.jwt())
        .send()
        .await;
    assert_eq!(r.expect("post").status(), 404);
    let r = h
        .http
        .post(h.url(&format!("/app/installations/{id}/access_tokens")))
        .bearer_auth(h.jwt())
        .json(&json!({"permissions": {"contents": "write"}}))
        .send()
        .await;
    assert_eq!(r.expect("post").status(), 422);
    let r = h
        .http
        .post(h.url(&format!("/app/installations/{id}/access_tokens")))
        .bearer_auth(h.jwt())
        .body("{not json")
        .send()
        .await;
    assert_eq!(r.expect("post").status(), 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn bad_jwts_get_401() {
    let h = common::start(3, 5).await;
    let t = now();
    let other_key = tokio::task::spawn_blocking(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let k = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("key");
        k.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("pem")
            .to_string()
    })
    .await
    .expect("keygen");
    let other = jsonwebtoken::EncodingKey::from_rsa_pem(other_key.as_bytes()).expect("key");
    let good = json!({"iss": "900001", "iat": t - 60, "exp": t + 540});
    let signed_elsewhere = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &good,
        &other,
    )
    .expect("sign");
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"secret"),
    )
    .expect("sign");
    // Flip a character in the middle of the signature (the last one may be padding bits).
    let mut tampered: Vec<char> = h.jwt().chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let cases = [
        ("bad signature", signed_elsewhere),
        ("tampered", tampered),
        ("HS256", hs256),
        (
            "expired",
            h.jwt_with(&json!({"iss": "900001", "iat": t - 700, "exp": t - 100})),
        ),
        (
            "wrong iss",
            h.jwt_with(&json!({"iss": "123", "iat": t - 60, "exp": t + 540})),
        ),
        (
            "too long",
            h.jwt_with(&json!({"iss": "900001", "iat": t - 60, "exp": t + 3600})),
        ),
        (
            "from the future",
            h.jwt_with(&json!({"iss": "900001", "iat": t + 300, "exp": t + 600})),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (why, jwt) in cases {
        let r = h.get("/orgs/acme-corp/installation", Some(&jwt)).await;
        assert_eq!(r.status(), 401, "{why}");
        assert_eq!(body(r).await, jwt_error(), "{why}");
        let r = h
            .http
            .post(h.url("/app/installations/1/access_tokens"))
            .bearer_auth(&jwt)
            .send()
            .await;
        assert_eq!(r.expect("post").status(), 401, "{why}");
    }
    let r = h.get("/orgs/acme-corp/installation", None).await;
    assert_eq!(r.status(), 401);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn org_endpoints_require_that_orgs_installation_token() {
    let h = common::start(3, 5).await;
    let corp = h.token("acme-corp").await;
    let labs = h.token("acme-labs").await;
    let paths = [
        "/orgs/acme-corp/installations",
        "/orgs/acme-corp/credential-authorizations",
        "/orgs/acme-corp/personal-access-tokens",
        "/orgs/acme-corp/personal-access-token-requests",
    ];
    for path in paths {
        for auth in [
            None,
            Some(h.jwt()),
            Some("ghs_notarealtoken000000000000000000000000".to_owned()),
        ] {
            let r = h.get(path, auth.as_deref()).await;
            assert_eq!(r.status(), 401, "{path} {auth:?}");
            assert_eq!(body(r).await, bad_credentials());
        }
        let r = h.get(path, Some(&labs)).await;
        assert_eq!(r.status(), 403, "{path}");
        let want = json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"});
        assert_eq!(body(r).await, want);
        assert_eq!(h.get(path, Some(&corp)).await.status(), 200, "{path}");
    }
    let r = h.get("/orgs/no-such-org/installations", Some(&corp)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(body(r).await["message"], "Not Found");
    let r = h
        .get("/orgs/no-such-org/installation", Some(&h.jwt()))
        .await;
    assert_eq!(r.status(), 404);
    // Revocation needs the token too.
    let r = h
        .http
        .delete(h.url("/orgs/acme-corp/credential-authorizations/1"))
        .send()
        .await;
    assert_eq!(r.expect("delete").status(), 401);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let h = common::start(3, 5).await;
    let token = h.token("acme-corp").await;
    let mut used = Vec::new();
    for (path, auth, status) in [
        ("/orgs/acme-corp/installations", Some(token.as_str()), 200),
        ("/orgs/acme-corp/installations", Some(token.as_str()), 200),
        ("/orgs/acme-corp/installations", None, 401),
        ("/nope", None, 404),
    ] {
        let r = h.get(path, auth).await;
        assert_eq!(r.status(), status);
        let hd = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(hd("x-ratelimit-limit"), "15000");
        assert_eq!(hd("x-ratelimit-resource"), "core");
        assert_eq!(hd("x-github-api-version-selected"), "2022-11-28");
        assert_eq!(hd("content-type"), "application/json; charset=utf-8");
        let remaining: u64 = hd("x-ratelimit-remaining").parse().expect("number");
        let u: u64 = hd("x-ratelimit-used").parse().expect("number");
        assert_eq!(remaining + u, 15_000);
        let reset: i64 = hd("x-ratelimit-reset").parse().expect("number");
        assert!(reset > now() && reset <= now() + 3600);
        assert!(!hd("x-github-request-id").is_empty());
        if auth.is_some() {
            used.push(u);
        }
    }
    assert_eq!(
        used[1],
        used[0] + 1,
        "the token's budget is spent per request"
    );
    h.sim.shutdown().await;
}
