//! Every served endpoint answers in the shape of GitHub's own documented example.

use serde_json::{Value, json};

use crate::common;
use crate::common::JsonRequest as _;

/// Objects whose keys are data (permission names), not schema: only value types count.
const DYNAMIC: &[&str] = &[
    "$.permissions",
    "$.installations[].permissions",
    "$.permissions.organization",
    "$.permissions.repository",
    "$[].permissions.organization",
    "$[].permissions.repository",
];

/// Compares key sets recursively and JSON types where both sides are non-null (`null` is
/// how the examples and the schema mark nullable fields).
fn same_shape(example: &Value, ours: &Value, path: &str, errors: &mut Vec<String>) {
    match (example, ours) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(e), Value::Object(o)) if DYNAMIC.contains(&path) => {
            let want = e.values().next();
            for (k, v) in o {
                if let Some(w) = want {
                    same_shape(w, v, &format!("{path}.{k}"), errors);
                }
            }
        }
        (Value::Object(e), Value::Object(o)) => {
            let mut ek: Vec<&String> = e.keys().collect();
            let mut ok: Vec<&String> = o.keys().collect();
            ek.sort();
            ok.sort();
            if ek != ok {
                let missing: Vec<_> = ek.iter().filter(|k| !o.contains_key(**k)).collect();
                let extra: Vec<_> = ok.iter().filter(|k| !e.contains_key(**k)).collect();
                errors.push(format!("{path}: missing {missing:?}, extra {extra:?}"));
            }
            for (k, ev) in e {
                if let Some(ov) = o.get(k) {
                    same_shape(ev, ov, &format!("{path}.{k}"), errors);
                }
            }
        }
        (Value::Array(e), Value::Array(o)) => {
            if let (Some(ef), Some(of)) = (e.first(), o.first()) {
                same_shape(ef, of, &format!("{path}[]"), errors);
            }
        }
        (e, o) => {
            let kind = |v: &Value| match v {
                Value::Bool(_) => "bool",
                Value::Number(n) if n.is_f64() => "float",
                Value::Number(_) => "integer",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                Value::Null => "null",
            };
            if kind(e) != kind(o) {
                errors.push(format!(
                    "{path}: example has {}, we serve {}",
                    kind(e),
                    kind(o)
                ));
            }
        }
    }
}

fn assert_shape(file: &str, example: &Value, ours: &Value) {
    let mut errors = Vec::new();
    same_shape(example, ours, "$", &mut errors);
    assert!(errors.is_empty(), "{file}: {errors:#?}\nours: {ours:#}");
}

/// Sends the example's request (with our ids) and checks status, headers and body shape.
async fn check(file: &str, resp: reqwest::Response) -> Value {
    let ex = common::example(file);
    let want_status = ex["response"]["status"].as_u64().expect("status");
    assert_eq!(u64::from(resp.status().as_u16()), want_status, "{file}");
    for name in ["content-type", "x-github-api-version-selected"] {
        if let Some(v) = ex["response"]["headers"][name].as_str() {
            assert_eq!(
                resp.headers().get(name).and_then(|h| h.to_str().ok()),
                Some(v),
                "{file}: {name}"
            );
        }
    }
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-github-request-id",
    ] {
        assert!(resp.headers().contains_key(name), "{file}: no {name}");
    }
    assert_eq!(resp.headers()["x-ratelimit-resource"], "core");
    let bytes = resp.bytes().await.expect("body");
    let body = &ex["response"]["body"];
    if body.is_null() {
        assert!(bytes.is_empty(), "{file}: expected an empty body");
        return Value::Null;
    }
    let ours: Value = serde_json::from_slice(&bytes).expect("JSON body");
    assert_shape(file, body, &ours);
    ours
}

/// Example files for endpoints the simulator does not serve (yet). Anything not listed
/// here must be checked below, so a new example forces a decision.
const NOT_SERVED: &[&str] = &[
    "apps-check-token.json",
    "apps-delete-authorization.json",
    "apps-delete-token.json",
    "orgs-get-audit-log.json",
    "orgs-list-webhooks.json",
    "orgs-revoke-all-credential-authorizations.json",
    "repos-list-deploy-keys.json",
];

#[tokio::test]
async fn every_served_endpoint_matches_its_documented_example() {
    let h = common::start(11, 300).await;
    let jwt = h.jwt();
    let mut checked = Vec::new();

    let r = h.get("/orgs/acme-corp/installation", Some(&jwt)).await;
    let inst = check("apps-get-org-installation.json", r).await;
    checked.push("apps-get-org-installation.json");

    let id = inst["id"].as_u64().expect("id");
    let r = h
        .http
        .post(h.url(&format!("/app/installations/{id}/access_tokens")))
        .bearer_auth(&jwt)
        .json(&json!({"repositories": ["web-app"], "permissions": {"members": "read"}}))
        .send()
        .await
        .expect("token");
    let token_body = check("apps-create-installation-access-token.json", r).await;
    checked.push("apps-create-installation-access-token.json");
    assert_eq!(token_body["repository_selection"], "selected");
    assert_eq!(token_body["permissions"], json!({"members": "read"}));
    let token = token_body["token"].as_str().expect("token").to_owned();

    let r = h
        .get("/orgs/acme-corp/installations?per_page=100", Some(&token))
        .await;
    check("orgs-list-app-installations.json", r).await;
    checked.push("orgs-list-app-installations.json");

    // Credential authorizations: every object against the example object of its type.
    let file = "orgs-list-saml-sso-authorizations.json";
    let ex = common::example(file);
    let creds = h
        .get_all(
            "/orgs/acme-corp/credential-authorizations?per_page=100",
            &token,
        )
        .await;
    let mut types_seen = std::collections::HashSet::new();
    for c in &creds {
        let t = c["credential_type"].as_str().expect("type");
        let e = ex["response"]["body"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["credential_type"] == t))
            .unwrap_or_else(|| panic!("no example for {t}"));
        assert_shape(file, e, c);
        types_seen.insert(t.to_owned());
    }
    assert_eq!(
        types_seen.len(),
        4,
        "all four credential types appear: {types_seen:?}"
    );
    let r = h
        .get("/orgs/acme-corp/credential-authorizations", Some(&token))
        .await;
    check(file, r).await;
    checked.push(file);

    let r = h
        .get(
            "/orgs/acme-corp/personal-access-tokens?per_page=100",
            Some(&token),
        )
        .await;
    let grants = check("orgs-list-pat-grants.json", r).await;
    checked.push("orgs-list-pat-grants.json");
    let r = h
        .get(
            "/orgs/acme-corp/personal-access-token-requests",
            Some(&token),
        )
        .await;
    let requests = check("orgs-list-pat-grant-requests.json", r).await;
    assert!(
        !requests.as_array().expect("array").is_empty(),
        "some pending requests exist"
    );
    checked.push("orgs-list-pat-grant-requests.json");

    // Follow a subset grant's repositories_url verbatim, as a connector would.
    let subset = grants
        .as_array()
        .and_then(|a| a.iter().find(|g| g["repository_selection"] == "subset"))
        .expect("a subset grant");
    let url = subset["repositories_url"].as_str().expect("url");
    assert!(
        url.starts_with(&h.sim.base_url()),
        "{url} leads back to the simulator"
    );
    let r = h
        .http
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("repos");
    let repos = check("orgs-list-pat-grant-repositories.json", r).await;
    assert!(!repos.as_array().expect("array").is_empty());
    checked.push("orgs-list-pat-grant-repositories.json");

    let r = h
        .http
        .delete(h.url("/orgs/acme-corp/credential-authorizations/999999"))
        .bearer_auth(&token)
        .send()
        .await;
    check("error-404-not-found.json", r.expect("delete")).await;
    checked.push("error-404-not-found.json");

    let cid = creds[0]["credential_id"].as_u64().expect("id");
    let r = h
        .http
        .delete(h.url(&format!("/orgs/acme-corp/credential-authorizations/{cid}")))
        .bearer_auth(&token)
        .send()
        .await;
    check(
        "orgs-remove-saml-sso-authorization.json",
        r.expect("delete"),
    )
    .await;
    checked.push("orgs-remove-saml-sso-authorization.json");

    let ids: Vec<u64> = grants
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|g| g["id"].as_u64())
        .collect();
    let r = h
        .http
        .post(h.url(&format!(
            "/orgs/acme-corp/personal-access-tokens/{}",
            ids[0]
        )))
        .bearer_auth(&token)
        .json(&json!({"action": "revoke"}))
        .send()
        .await;
    check(
        "orgs-update-pat-access-revoke-single.json",
        r.expect("revoke"),
    )
    .await;
    checked.push("orgs-update-pat-access-revoke-single.json");

    let r = h
        .http
        .post(h.url("/orgs/acme-corp/personal-access-tokens"))
        .bearer_auth(&token)
        .json(&json!({"action": "revoke", "pat_ids": [ids[1], ids[2]]}))
        .send()
        .await;
    let accepted = check("orgs-update-pat-accesses-revoke.json", r.expect("revoke")).await;
    assert_eq!(accepted, json!({}));
    checked.push("orgs-update-pat-accesses-revoke.json");

    let dir = common::github_shared().join("examples");
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") {
            assert!(
                checked.contains(&name.as_str()) || NOT_SERVED.contains(&name.as_str()),
                "{name}: decide whether the simulator serves it"
            );
        }
    }
    h.sim.shutdown().await;
}

#[test]
fn shape_comparison_catches_differences() {
    let ex = json!({"a": 1, "b": {"c": "x"}, "n": null, "l": [{"k": true}]});
    let mut e = Vec::new();
    same_shape(
        &ex,
        &json!({"a": 2, "b": {"c": "y"}, "n": 5, "l": [{"k": false}]}),
        "$",
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
    same_shape(
        &ex,
        &json!({"a": "1", "b": {"d": "y"}, "n": 5, "l": [{"k": 1}], "z": 0}),
        "$",
        &mut e,
    );
    assert_eq!(e.len(), 4, "{e:?}");
}
