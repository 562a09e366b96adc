//! Revocation really removes state, is counted, and refuses malformed requests.

use serde_json::{Value, json};

use crate::common::{self, Harness};
use crate::common::{JsonRequest as _, JsonResponse as _};

fn calls(stats: &grantscope_sim::Stats, target: &str) -> Option<(u64, String)> {
    stats
        .revocations
        .iter()
        .find(|r| r.target == target)
        .map(|r| (r.calls, r.app_id.clone()))
}

async fn status_of(r: reqwest::Result<reqwest::Response>) -> u16 {
    r.expect("request sent").status().as_u16()
}

#[tokio::test]
async fn revoking_a_credential_removes_it_and_a_second_revoke_is_404() {
    let h = common::start(9, 60).await;
    let token = h.token("acme-corp").await;
    let creds = h
        .get_all("/orgs/acme-corp/credential-authorizations", &token)
        .await;
    let victim = creds
        .iter()
        .find(|c| c["credential_type"] == "OAuth app token")
        .expect("an OAuth token");
    let id = victim["credential_id"].as_u64().expect("id");
    let login = victim["login"].as_str().expect("login");
    let target = format!("github/acme-corp/credential-authorization:{id}");
    assert!(h.sim.truth().grants.iter().any(|g| g.id == target));

    let path = format!("/orgs/acme-corp/credential-authorizations/{id}");
    let r = h
        .http
        .delete(h.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.expect("body").is_empty());

    let mine = h
        .get_all(
            &format!("/orgs/acme-corp/credential-authorizations?login={login}"),
            &token,
        )
        .await;
    assert!(
        mine.iter().all(|c| c["credential_id"] != id),
        "gone from the listing"
    );
    assert!(
        h.sim.truth().grants.iter().all(|g| g.id != target),
        "gone from the truth"
    );

    let r = h
        .http
        .delete(h.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Not Found");
    assert_eq!(
        calls(&h.sim.stats(), &target),
        Some((2, "unidentified-oauth-app".to_owned()))
    );

    // Another org's token cannot revoke here, and is not counted.
    let labs = h.token("acme-labs").await;
    let other = creds
        .iter()
        .find(|c| c["credential_id"] != id)
        .expect("another credential");
    let other_id = other["credential_id"].as_u64().expect("id");
    let r = h
        .http
        .delete(h.url(&format!(
            "/orgs/acme-corp/credential-authorizations/{other_id}"
        )))
        .bearer_auth(&labs)
        .send()
        .await;
    assert_eq!(status_of(r).await, 403);
    assert_eq!(
        calls(
            &h.sim.stats(),
            &format!("github/acme-corp/credential-authorization:{other_id}")
        ),
        None
    );
    h.sim.shutdown().await;
}

async fn revoke_one(h: &Harness, token: &str, id: u64) -> u16 {
    let r = h
        .http
        .post(h.url(&format!("/orgs/acme-corp/personal-access-tokens/{id}")))
        .bearer_auth(token)
        .json(&json!({"action": "revoke"}))
        .send()
        .await;
    status_of(r).await
}

async fn revoke_many(h: &Harness, token: &str, body: &Value) -> u16 {
    let r = h
        .http
        .post(h.url("/orgs/acme-corp/personal-access-tokens"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await;
    status_of(r).await
}

#[tokio::test]
async fn fine_grained_grants_are_revoked_singly_and_in_bulk() {
    let h = common::start(9, 150).await;
    let token = h.token("acme-corp").await;
    let grants = h
        .get_all("/orgs/acme-corp/personal-access-tokens", &token)
        .await;
    let ids: Vec<u64> = grants
        .iter()
        .map(|g| g["id"].as_u64().expect("id"))
        .collect();
    assert!(ids.len() >= 4, "{}", ids.len());
    let target = |id: u64| format!("github/acme-corp/pat-grant:{id}");

    assert_eq!(revoke_one(&h, &token, ids[0]).await, 204);
    assert_eq!(revoke_one(&h, &token, ids[0]).await, 404);
    assert_eq!(
        revoke_many(
            &h,
            &token,
            &json!({"action": "revoke", "pat_ids": [ids[0], ids[1], ids[1], ids[2]]})
        )
        .await,
        202
    );

    let left: Vec<u64> = h
        .get_all("/orgs/acme-corp/personal-access-tokens", &token)
        .await
        .iter()
        .map(|g| g["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(left, ids[3..], "exactly the revoked grants are gone");
    let truth = h.sim.truth();
    for id in &ids[..3] {
        assert!(truth.grants.iter().all(|g| g.id != target(*id)));
    }
    assert!(truth.grants.iter().any(|g| g.id == target(ids[3])));
    let stats = h.sim.stats();
    assert_eq!(
        calls(&stats, &target(ids[0])),
        Some((3, "fine-grained-pat".to_owned()))
    );
    assert_eq!(
        calls(&stats, &target(ids[1])),
        Some((1, "fine-grained-pat".to_owned())),
        "a repeated id is one call"
    );
    assert_eq!(
        calls(&stats, &target(ids[2])),
        Some((1, "fine-grained-pat".to_owned()))
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_4xx_and_change_nothing() {
    let h = common::start(9, 60).await;
    let token = h.token("acme-corp").await;
    let before = h.sim.truth();
    let id = h
        .get_all("/orgs/acme-corp/personal-access-tokens", &token)
        .await[0]["id"]
        .as_u64()
        .expect("id");
    let many: Vec<u64> = (1..=101).collect();
    for (body, want) in [
        (json!({"action": "revoke", "pat_ids": []}), 422),
        (json!({"action": "revoke", "pat_ids": many}), 422),
        (json!({"action": "approve", "pat_ids": [id]}), 422),
        (json!({"action": "revoke", "pat_ids": ["x"]}), 422),
        (json!({"action": "revoke"}), 422),
        (json!([1, 2]), 422),
    ] {
        assert_eq!(revoke_many(&h, &token, &body).await, want, "{body}");
    }
    let post = |path: String, body: &'static str| {
        h.http
            .post(h.url(&path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        status_of(post(format!("/orgs/acme-corp/personal-access-tokens/{id}"), "{").await).await,
        400
    );
    assert_eq!(
        status_of(
            post(
                format!("/orgs/acme-corp/personal-access-tokens/{id}"),
                r#"{"action":"deny"}"#
            )
            .await
        )
        .await,
        422
    );
    assert_eq!(
        status_of(post(format!("/orgs/acme-corp/personal-access-tokens/{id}"), "").await).await,
        400
    );
    assert_eq!(
        status_of(
            post(
                "/orgs/acme-corp/personal-access-tokens/abc".into(),
                r#"{"action":"revoke"}"#
            )
            .await
        )
        .await,
        404
    );
    assert_eq!(
        status_of(
            post(
                "/orgs/acme-corp/personal-access-tokens".into(),
                "\u{0}\u{1}"
            )
            .await
        )
        .await,
        400
    );
    let del = |path: &str| h.http.delete(h.url(path)).bearer_auth(&token).send();
    assert_eq!(
        status_of(del("/orgs/acme-corp/credential-authorizations/-1").await).await,
        404
    );
    assert_eq!(
        status_of(del("/orgs/acme-corp/credential-authorizations/99999999999999999999999").await)
            .await,
        404
    );
    assert_eq!(
        status_of(del("/orgs/acme-corp/credential-authorizations/%FF%FE").await).await,
        404
    );
    let get = |path: &str| h.http.get(h.url(path)).bearer_auth(&token).send();
    let owners: String = (0..11).map(|i| format!("owner[]=u{i}&")).collect();
    assert_eq!(
        status_of(get(&format!("/orgs/acme-corp/personal-access-tokens?{owners}")).await).await,
        422
    );
    assert_eq!(
        status_of(get("/orgs/acme-corp/personal-access-tokens?token_id[]=abc").await).await,
        422
    );
    assert_eq!(
        status_of(get("/orgs/acme-corp/personal-access-tokens?direction=sideways").await).await,
        422
    );
    assert_eq!(
        status_of(get("/orgs/acme-corp/personal-access-tokens/abc/repositories").await).await,
        404
    );
    assert_eq!(
        status_of(get("/organizations/not-a-number/personal-access-tokens/1/repositories").await)
            .await,
        404
    );
    assert_eq!(
        status_of(get("/orgs/acme-corp/installations?page=%%%&per_page=%zz").await).await,
        200
    );
    assert_eq!(
        status_of(
            h.http
                .put(h.url("/orgs/acme-corp/installations"))
                .bearer_auth(&token)
                .send()
                .await
        )
        .await,
        404
    );
    assert_eq!(h.sim.truth(), before, "nothing was revoked");
    assert!(
        h.sim.stats().revocations.is_empty(),
        "rejected requests never reached the state"
    );
    h.sim.shutdown().await;
}
