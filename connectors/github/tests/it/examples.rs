//! Every payload in `testdata/providers/github/examples/`, parsed as it is.
//!
//! The examples are GitHub's own documented bodies in a request/response envelope
//! (see `examples/SOURCES.md`). Each one that the connector reads goes through the
//! matching `api` function, with concrete values asserted; the rest are at least
//! deserialised, so a broken or renamed file fails here rather than in a scan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use grantscope_connector_github::api::{
    self, Listing, PageTask, RevocationPlan, classify, github_message,
};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{
    ErrorCode, GrantKind, PrincipalKind, RevocationStatus, RevocationTarget,
};
use serde::Deserialize;

use crate::{GrantView, all_text, assert_error, attrs, ok, settings, some, strings};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "_meta")]
    meta: Meta,
    request: Request,
    response: Reply,
}

#[derive(Deserialize)]
struct Meta {
    operation_id: String,
    verbatim_body: bool,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    path: String,
}

#[derive(Deserialize)]
struct Reply {
    status: u16,
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    body: serde_json::Value,
}

impl Reply {
    fn to_response(&self) -> Response {
        Response {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            // A 204's `null` body is an empty body on the wire.
            body: if self.body.is_null() {
                Vec::new()
            } else {
                self.body.to_string().into_bytes()
            },
        }
    }
}

/// The documented examples, copied into the workspace (`testdata/providers/`).
fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/github/examples")
}

fn load_all() -> Vec<(String, Envelope)> {
    let dir = examples_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => panic!(
            "the GitHub examples folder {} is missing ({e}); these tests need the shared \
             provider examples checked out next to the workspace",
            dir.display()
        ),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json examples in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => panic!("cannot read {}: {e}", path.display()),
            };
            match serde_json::from_str::<Envelope>(&text) {
                Ok(env) => (name, env),
                Err(e) => panic!("{name} is not a valid example envelope: {e}"),
            }
        })
        .collect()
}

/// The numeric id at the end of a request path, e.g. `.../161197` → 161197.
fn path_id(path: &str) -> u64 {
    match path.rsplit('/').next().and_then(|s| s.parse().ok()) {
        Some(id) => id,
        None => panic!("no id at the end of {path}"),
    }
}

/// The first page's task for a listing on `octo-org`.
fn first_page(listing: Listing) -> PageTask {
    PageTask {
        url: listing.first_url(&settings()),
        page: 1,
    }
}

#[test]
fn every_example_parses_and_maps() {
    let mut seen = BTreeSet::new();
    for (name, env) in load_all() {
        let op = env.meta.operation_id.as_str();
        let resp = env.response.to_response();
        match op {
            "orgs/list-app-installations" => installations(&resp),
            "apps/get-org-installation" => single_installation(&env.response.body),
            "orgs/list-saml-sso-authorizations" => credential_authorizations(&resp),
            "orgs/list-pat-grants" => pat_grants(&resp),
            "orgs/remove-saml-sso-authorization" if env.response.status == 404 => {
                not_found_error(&resp, &env.request.path);
            }
            "orgs/remove-saml-sso-authorization" => {
                let outcome = credential_removal(&resp, path_id(&env.request.path));
                assert_eq!(outcome, RevocationStatus::Revoked, "{name}");
            }
            "orgs/update-pat-access" => {
                assert_eq!(env.request.method, "POST", "{name}");
                let outcome = pat_revocation(&resp, path_id(&env.request.path));
                assert_eq!(outcome, RevocationStatus::Revoked, "{name}");
            }
            // The bulk endpoint's 202 is the same "accepted, asynchronous" answer the
            // single revocation may give; it maps to `revoked`.
            "orgs/update-pat-accesses" => {
                assert_eq!(
                    pat_revocation(&resp, 1_296_269),
                    RevocationStatus::Revoked,
                    "{name}"
                );
            }
            // Pending requests are not grants (README): not parsed, but their shape
            // must still be what the grant parser would refuse to mistake for one.
            "orgs/list-pat-grant-requests" => {
                let items = env
                    .response
                    .body
                    .as_array()
                    .map(Vec::len)
                    .unwrap_or_default();
                assert_eq!(items, 1, "{name}");
                assert!(
                    env.response.body[0]["access_granted_at"].is_null(),
                    "{name}"
                );
                assert!(env.response.body[0]["created_at"].is_string(), "{name}");
            }
            // Minted by the host's auth module, never by the connector.
            "apps/create-installation-access-token" => {
                assert_eq!(env.response.status, 201, "{name}");
                assert!(env.response.body["expires_at"].is_string(), "{name}");
            }
            _ => {
                // Not used by the connector: deserialised above, and its status and
                // body must agree (no body exactly for 204).
                assert_eq!(
                    env.response.body.is_null(),
                    env.response.status == 204,
                    "{name}"
                );
            }
        }
        assert!(
            env.meta.verbatim_body || op == "orgs/remove-saml-sso-authorization",
            "{name}: only the 404 example may be non-verbatim"
        );
        seen.insert(op.to_owned());
    }
    for needed in [
        "orgs/list-app-installations",
        "apps/get-org-installation",
        "orgs/list-saml-sso-authorizations",
        "orgs/list-pat-grants",
        "orgs/remove-saml-sso-authorization",
        "orgs/update-pat-access",
    ] {
        assert!(
            seen.contains(needed),
            "no example for {needed}: the connector's parser for it went untested"
        );
    }
}

fn installations(resp: &Response) {
    let page = ok(api::read_page(
        &settings(),
        Listing::Installations,
        &first_page(Listing::Installations),
        resp,
    ));
    assert!(page.next.is_none(), "the example has no Link header");
    assert!(page.warnings.is_empty());
    assert_eq!(page.grants.len(), 1);
    let g = &page.grants[0];
    assert_eq!(
        GrantView::of(g),
        GrantView {
            id: "installation:25381".to_owned(),
            kind: GrantKind::Installation,
            app_id: "2218".to_owned(),
            app_name: "github-actions".to_owned(),
            principal_kind: PrincipalKind::Tenant,
            principal_id: "octo-org".to_owned(),
            scopes: strings(&[
                "deployments:write",
                "metadata:read",
                "pull_requests:read",
                "statuses:read",
            ]),
            created_at: some("2017-05-16T15:47:09Z"),
            last_used_at: None,
            expires_at: None,
            revocation: Some((
                "installation".to_owned(),
                r#"{"installation_id":25381,"html_url":"https://github.com/organizations/octo-org/settings/installations/25381"}"#
                    .to_owned(),
            )),
        }
    );
    let a = attrs(g);
    assert_eq!(a.get("app_id"), Some(&"2218"));
    assert_eq!(a.get("app_slug"), Some(&"github-actions"));
    assert_eq!(a.get("repository_selection"), Some(&"selected"));
    assert_eq!(a.get("suspended"), Some(&"false"));
    assert_eq!(a.get("target_type"), Some(&"Organization"));
    assert_eq!(a.get("events"), Some(&"deployment,deployment_status"));
    assert_eq!(
        a.get("html_url"),
        Some(&"https://github.com/organizations/octo-org/settings/installations/25381")
    );
    assert!(!a.contains_key("client_id"), "the example has no client_id");
    assert_eq!(g.app.publisher, None);
    assert!(g.notes.iter().any(|n| n.contains("last used")));
    assert!(g.notes.iter().any(|n| n.contains("selected repositories")));
    assert!(!g.notes.iter().any(|n| n.contains("suspended")));
}

/// `GET /orgs/{org}/installation` returns one installation; wrapped in the list
/// shape it must map like any listed one.
fn single_installation(body: &serde_json::Value) {
    let wrapped = serde_json::json!({ "total_count": 1, "installations": [body] });
    let page = ok(api::parse_installations(
        &settings(),
        wrapped.to_string().as_bytes(),
    ));
    assert_eq!(page.grants.len(), 1);
    let g = &page.grants[0];
    assert_eq!(g.id, "installation:1");
    assert_eq!(g.app.id, "1");
    assert_eq!(g.app.name, "github-actions");
    assert_eq!(
        g.principal.id, "github",
        "the account login, not the configured org"
    );
    assert_eq!(
        g.scopes,
        strings(&["checks:write", "contents:read", "metadata:read"])
    );
    assert_eq!(g.created_at.as_deref(), Some("2018-02-09T20:51:14Z"));
    let a = attrs(g);
    assert_eq!(a.get("client_id"), Some(&"Iv1.ab1112223334445c"));
    assert_eq!(a.get("repository_selection"), Some(&"all"));
    assert_eq!(a.get("events"), Some(&"push,pull_request"));
    assert!(
        g.app
            .attributes
            .iter()
            .any(|(k, v)| k == "client_id" && v == "Iv1.ab1112223334445c")
    );
    assert!(!g.notes.iter().any(|n| n.contains("selected repositories")));
}

fn credential_authorizations(resp: &Response) {
    let page = ok(api::read_page(
        &settings(),
        Listing::CredentialAuthorizations,
        &first_page(Listing::CredentialAuthorizations),
        resp,
    ));
    assert!(page.next.is_none());
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    let views: Vec<GrantView> = page.grants.iter().map(GrantView::of).collect();
    let cred = |id: u64,
                kind: GrantKind,
                app: (&str, &str),
                login: &str,
                scopes: &[&str],
                times: (&str, &str, Option<&str>)| GrantView {
        id: format!("credential-authorization:{id}"),
        kind,
        app_id: app.0.to_owned(),
        app_name: app.1.to_owned(),
        principal_kind: PrincipalKind::User,
        principal_id: login.to_owned(),
        scopes: strings(scopes),
        created_at: some(times.0),
        last_used_at: some(times.1),
        expires_at: times.2.map(str::to_owned),
        revocation: Some((
            "credential-authorization".to_owned(),
            format!(r#"{{"credential_id":{id},"login":"{login}"}}"#),
        )),
    };
    let pat = ("personal-access-token", "Classic personal access token");
    assert_eq!(
        views,
        vec![
            cred(
                161_195,
                GrantKind::PersonalToken,
                pat,
                "octocat",
                &["user", "repo"],
                (
                    "2011-01-26T19:06:43Z",
                    "2011-01-26T19:06:43Z",
                    Some("2011-02-25T19:06:43Z")
                ),
            ),
            cred(
                161_196,
                GrantKind::PersonalToken,
                pat,
                "hubot",
                &["repo"],
                (
                    "2019-03-29T19:06:43Z",
                    "2019-04-15T19:06:43Z",
                    Some("2019-04-28T19:06:43Z")
                ),
            ),
            cred(
                161_197,
                GrantKind::Delegated,
                (
                    "unidentified-oauth-app",
                    "OAuth app (GitHub does not name it)"
                ),
                "octocat",
                &["repo", "read:org"],
                (
                    "2023-05-15T19:06:43Z",
                    "2023-05-16T19:06:43Z",
                    Some("2023-06-14T19:06:43Z")
                ),
            ),
            cred(
                161_198,
                GrantKind::Delegated,
                (
                    "unidentified-github-app",
                    "GitHub App user token (GitHub does not name the app)",
                ),
                "hubot",
                &[],
                (
                    "2023-05-15T19:06:43Z",
                    "2023-05-16T19:06:43Z",
                    Some("2023-06-14T19:06:43Z")
                ),
            ),
            cred(
                161_199,
                GrantKind::ApiKey,
                ("ssh-key", "SSH key"),
                "octocat",
                &[],
                ("2023-05-15T19:06:43Z", "2023-05-16T19:06:43Z", None),
            ),
        ]
    );

    let ssh = attrs(&page.grants[4]);
    assert_eq!(ssh.get("credential_type"), Some(&"SSH key"));
    assert_eq!(ssh.get("credential_id"), Some(&"161199"));
    assert_eq!(ssh.get("authorized_credential_id"), Some(&"12345682"));
    assert_eq!(ssh.get("fingerprint"), Some(&"jklmnop12345678"));
    assert_eq!(ssh.get("authorized_credential_title"), Some(&"my ssh key"));
    assert!(!ssh.contains_key("authorized_credential_note"));

    // Unnamed apps are said to be unnamed.
    assert!(
        page.grants[2]
            .notes
            .iter()
            .any(|n| n.contains("does not name the OAuth app"))
    );
    assert!(
        page.grants[3]
            .notes
            .iter()
            .any(|n| n.contains("does not name the GitHub App"))
    );
    assert!(
        page.grants[0].notes.is_empty(),
        "{:?}",
        page.grants[0].notes
    );

    // No token material, not even the last eight characters GitHub offers.
    for g in &page.grants {
        assert!(!attrs(g).contains_key("token_last_eight"));
        for text in all_text(g) {
            for fragment in ["71c3fc11", "Ae178B4a", "9f2c4d1e", "3b7a0c52"] {
                assert!(
                    !text.contains(fragment),
                    "{} carries token material in `{text}`",
                    g.id
                );
            }
        }
    }
}

fn pat_grants(resp: &Response) {
    let page = ok(api::read_page(
        &settings(),
        Listing::PatGrants,
        &first_page(Listing::PatGrants),
        resp,
    ));
    assert!(page.next.is_none());
    assert_eq!(page.grants.len(), 1);
    let g = &page.grants[0];
    assert_eq!(
        GrantView::of(g),
        GrantView {
            id: "pat-grant:25381".to_owned(),
            kind: GrantKind::PersonalToken,
            app_id: "fine-grained-pat".to_owned(),
            app_name: "Fine-grained personal access token".to_owned(),
            principal_kind: PrincipalKind::User,
            principal_id: "octocat".to_owned(),
            scopes: strings(&["members:read", "metadata:read"]),
            created_at: some("2023-05-16T15:47:09Z"),
            last_used_at: None,
            expires_at: some("2023-11-16T15:47:09Z"),
            revocation: Some((
                "pat-grant".to_owned(),
                r#"{"pat_id":25381,"token_id":98716}"#.to_owned(),
            )),
        }
    );
    let a = attrs(g);
    assert_eq!(a.get("pat_id"), Some(&"25381"));
    assert_eq!(a.get("token_id"), Some(&"98716"));
    assert_eq!(a.get("token_name"), Some(&"Some Token"));
    assert_eq!(a.get("token_expired"), Some(&"false"));
    assert_eq!(a.get("repository_selection"), Some(&"all"));
    assert_eq!(
        a.get("repositories_url"),
        Some(
            &"https://api.github.com/organizations/652551/personal-access-tokens/25381/repositories"
        )
    );
    assert!(
        g.notes.is_empty(),
        "an `all` grant has nothing to add: {:?}",
        g.notes
    );
}

fn not_found_error(resp: &Response, path: &str) {
    assert_eq!(github_message(&resp.body).as_deref(), Some("Not Found"));
    // As the answer to the removal it documents: already gone, not an error.
    assert_eq!(
        credential_removal(resp, path_id(path)),
        RevocationStatus::AlreadyGone
    );
    // As the answer to a listing: a permission problem naming what is needed.
    let e = classify(
        &settings(),
        api::Operation::List(Listing::Installations),
        resp,
    );
    assert_error(
        &e,
        ErrorCode::Permission,
        &["404", "Not Found", "organization_administration:read"],
    );
}

fn credential_removal(resp: &Response, credential_id: u64) -> RevocationStatus {
    let target = RevocationTarget {
        grant_id: format!("credential-authorization:{credential_id}"),
        action: "credential-authorization".to_owned(),
        handle: format!(r#"{{"credential_id":{credential_id},"login":"octocat"}}"#),
    };
    match ok(api::plan_revocation(&settings(), &target)) {
        RevocationPlan::Call(call) => ok(call.outcome(resp)).status,
        RevocationPlan::Manual(m) => panic!("an SSO authorization is removable by API: {m:?}"),
    }
}

fn pat_revocation(resp: &Response, pat_id: u64) -> RevocationStatus {
    let target = RevocationTarget {
        grant_id: format!("pat-grant:{pat_id}"),
        action: "pat-grant".to_owned(),
        handle: format!(r#"{{"pat_id":{pat_id},"token_id":98716}}"#),
    };
    match ok(api::plan_revocation(&settings(), &target)) {
        RevocationPlan::Call(call) => ok(call.outcome(resp)).status,
        RevocationPlan::Manual(m) => panic!("a token grant is revocable by API: {m:?}"),
    }
}
