//! The three listing parsers, table-driven: one `check` helper per parser, each
//! case a body and the grants (or the error) it must give.

use grantscope_connector_github::api::{self, Page};
use grantscope_connector_sdk::{Error, ErrorCode, GrantKind, PrincipalKind};
use serde_json::json;

use crate::{GrantView, assert_error, attrs, err, ok, settings, some, strings};

fn check_installations(body: &serde_json::Value, expected: &[GrantView]) -> Page {
    let page = ok(api::parse_installations(
        &settings(),
        body.to_string().as_bytes(),
    ));
    let got: Vec<GrantView> = page.grants.iter().map(GrantView::of).collect();
    assert_eq!(got, expected, "installations from {body}");
    page
}

fn check_credentials(body: &serde_json::Value, expected: &[GrantView]) -> Page {
    let page = ok(api::parse_credential_authorizations(
        body.to_string().as_bytes(),
    ));
    let got: Vec<GrantView> = page.grants.iter().map(GrantView::of).collect();
    assert_eq!(got, expected, "credential authorizations from {body}");
    page
}

fn check_pat_grants(body: &serde_json::Value, expected: &[GrantView]) -> Page {
    let page = ok(api::parse_pat_grants(body.to_string().as_bytes()));
    let got: Vec<GrantView> = page.grants.iter().map(GrantView::of).collect();
    assert_eq!(got, expected, "token grants from {body}");
    page
}

fn installation(
    id: u64,
    app_id: u64,
    slug: &str,
    scopes: &[&str],
    created: Option<&str>,
) -> GrantView {
    GrantView {
        id: format!("installation:{id}"),
        kind: GrantKind::Installation,
        app_id: app_id.to_string(),
        app_name: slug.to_owned(),
        principal_kind: PrincipalKind::Tenant,
        principal_id: "octo-org".to_owned(),
        scopes: strings(scopes),
        created_at: created.map(str::to_owned),
        last_used_at: None,
        expires_at: None,
        revocation: Some((
            "installation".to_owned(),
            format!(
                r#"{{"installation_id":{id},"html_url":"https://github.com/organizations/octo-org/settings/installations/{id}"}}"#
            ),
        )),
    }
}

#[test]
fn installations_map_per_readme() {
    // Empty page.
    check_installations(&json!({"total_count": 0, "installations": []}), &[]);

    // Minimal record: no account, no html_url, null events/permissions — the org
    // comes from the settings and the settings page is derived.
    let page = check_installations(
        &json!({"total_count": 1, "installations": [{
            "id": 7, "app_id": 99, "app_slug": "acme-ci",
            "permissions": null, "events": null, "created_at": "2020-01-02T03:04:05+01:00"
        }]}),
        &[installation(
            7,
            99,
            "acme-ci",
            &[],
            Some("2020-01-02T02:04:05Z"),
        )],
    );
    let a = attrs(&page.grants[0]);
    assert_eq!(a.get("events"), Some(&""));
    assert_eq!(a.get("repository_selection"), Some(&"unknown"));
    assert_eq!(a.get("suspended"), Some(&"false"));

    // Scopes are `{name}:{level}`, sorted; an unparsable date is dropped, not fatal.
    check_installations(
        &json!({"total_count": 2, "installations": [
            {"id": 1, "app_id": 10, "app_slug": "a", "account": {"login": "octo-org"},
             "permissions": {"members": "write", "administration": "read", "contents": "admin"},
             "created_at": "yesterday"},
            {"id": 2, "app_id": 20, "app_slug": "b", "account": {"login": "octo-org"},
             "permissions": {"issues": "read"}}
        ]}),
        &[
            installation(
                1,
                10,
                "a",
                &["administration:read", "contents:admin", "members:write"],
                None,
            ),
            installation(2, 20, "b", &["issues:read"], None),
        ],
    );
}

#[test]
fn suspended_installation_still_holds_its_grant() {
    let page = check_installations(
        &json!({"total_count": 1, "installations": [{
            "id": 5, "app_id": 6, "app_slug": "old-vendor", "client_id": "Iv23liABC",
            "account": {"login": "octo-org"}, "repository_selection": "all",
            "permissions": {"contents": "write"},
            "suspended_at": "2024-01-01T00:00:00Z", "suspended_by": {"login": "admin"}
        }]}),
        &[installation(5, 6, "old-vendor", &["contents:write"], None)],
    );
    let g = &page.grants[0];
    assert_eq!(attrs(g).get("suspended"), Some(&"true"));
    assert_eq!(attrs(g).get("client_id"), Some(&"Iv23liABC"));
    assert!(
        g.notes.iter().any(
            |n| n.contains("suspended since 2024-01-01T00:00:00Z") && n.contains("still holds")
        ),
        "{:?}",
        g.notes
    );
}

#[test]
fn hostile_installation_url_is_replaced() {
    let page = ok(api::parse_installations(
        &settings(),
        json!({"total_count": 1, "installations": [{
            "id": 3, "app_id": 4, "app_slug": "x",
            "html_url": "javascript:alert(1)"
        }]})
        .to_string()
        .as_bytes(),
    ));
    assert_eq!(
        attrs(&page.grants[0]).get("html_url"),
        Some(&"https://github.com/organizations/octo-org/settings/installations/3")
    );
}

fn credential(id: u64, kind: GrantKind, app: (&str, &str), scopes: &[&str]) -> GrantView {
    GrantView {
        id: format!("credential-authorization:{id}"),
        kind,
        app_id: app.0.to_owned(),
        app_name: app.1.to_owned(),
        principal_kind: PrincipalKind::User,
        principal_id: "mona".to_owned(),
        scopes: strings(scopes),
        created_at: None,
        last_used_at: None,
        expires_at: None,
        revocation: Some((
            "credential-authorization".to_owned(),
            format!(r#"{{"credential_id":{id},"login":"mona"}}"#),
        )),
    }
}

#[test]
fn credential_types_map_per_readme() {
    let record = |id: u64, t: &str, scopes: serde_json::Value| json!({"login": "mona", "credential_id": id, "credential_type": t, "scopes": scopes});
    check_credentials(&json!([]), &[]);
    let page = check_credentials(
        &json!([
            record(1, "personal access token", json!(["repo", "admin:org"])),
            // An SSH key has no scopes, whatever a response claims.
            record(2, "SSH key", json!(["repo"])),
            record(3, "OAuth app token", json!(["gist"])),
            record(4, "GitHub app token", json!(null)),
            // Spelling drift in case or spacing is tolerated.
            record(5, "Personal  Access Token", json!([])),
            // An unknown type is reported, not dropped.
            record(6, "quantum entanglement", json!(["repo"])),
        ]),
        &[
            credential(
                1,
                GrantKind::PersonalToken,
                ("personal-access-token", "Classic personal access token"),
                &["repo", "admin:org"],
            ),
            credential(2, GrantKind::ApiKey, ("ssh-key", "SSH key"), &[]),
            credential(
                3,
                GrantKind::Delegated,
                (
                    "unidentified-oauth-app",
                    "OAuth app (GitHub does not name it)",
                ),
                &["gist"],
            ),
            credential(
                4,
                GrantKind::Delegated,
                (
                    "unidentified-github-app",
                    "GitHub App user token (GitHub does not name the app)",
                ),
                &[],
            ),
            credential(
                5,
                GrantKind::PersonalToken,
                ("personal-access-token", "Classic personal access token"),
                &[],
            ),
            credential(
                6,
                GrantKind::ApiKey,
                (
                    "unrecognised-credential",
                    "SSO credential of a type this connector does not recognise",
                ),
                &["repo"],
            ),
        ],
    );
    assert_eq!(page.warnings.len(), 1, "{:?}", page.warnings);
    assert!(page.warnings[0].contains("quantum entanglement"));
    // Never accessed since authorization: said so.
    assert!(page.grants[0].notes.iter().any(|n| n.contains("no use")));
}

#[test]
fn credential_attributes_are_present_only_when_given() {
    let page = ok(api::parse_credential_authorizations(
        json!([{
            "login": "mona", "credential_id": 9, "credential_type": "personal access token",
            "token_last_eight": "deadbeef", "authorized_credential_id": null,
            "authorized_credential_note": "  ci token  ", "authorized_credential_title": "",
            "credential_accessed_at": "2024-02-03T04:05:06Z"
        }])
        .to_string()
        .as_bytes(),
    ));
    let a = attrs(&page.grants[0]);
    assert_eq!(a.get("authorized_credential_note"), Some(&"ci token"));
    assert!(!a.contains_key("authorized_credential_title"));
    assert!(!a.contains_key("authorized_credential_id"));
    assert!(!a.contains_key("fingerprint"));
    assert!(!a.contains_key("token_last_eight"));
    assert_eq!(
        page.grants[0].last_used_at.as_deref(),
        Some("2024-02-03T04:05:06Z")
    );
    assert!(page.grants[0].notes.is_empty());
}

fn pat(id: u64, scopes: &[&str]) -> GrantView {
    GrantView {
        id: format!("pat-grant:{id}"),
        kind: GrantKind::PersonalToken,
        app_id: "fine-grained-pat".to_owned(),
        app_name: "Fine-grained personal access token".to_owned(),
        principal_kind: PrincipalKind::User,
        principal_id: "mona".to_owned(),
        scopes: strings(scopes),
        created_at: some("2024-01-01T00:00:00Z"),
        last_used_at: None,
        expires_at: None,
        revocation: Some((
            "pat-grant".to_owned(),
            format!(r#"{{"pat_id":{id},"token_id":{}}}"#, id + 1000),
        )),
    }
}

#[test]
fn pat_grants_flatten_all_permission_groups() {
    let record = |id: u64, permissions: serde_json::Value, selection: &str| {
        json!({
            "id": id, "owner": {"login": "mona"}, "token_id": id + 1000,
            "repository_selection": selection, "permissions": permissions,
            "access_granted_at": "2024-01-01T00:00:00Z", "token_expires_at": null,
            "token_last_used_at": null
        })
    };
    check_pat_grants(&json!([]), &[]);
    let page = check_pat_grants(
        &json!([
            record(
                1,
                json!({"organization": {"members": "read"},
                       "repository": {"contents": "write", "actions": "read"},
                       "other": {"gists": "write"}}),
                "subset"
            ),
            record(
                2,
                json!({"organization": null, "repository": {"metadata": "read"}}),
                "none"
            ),
            record(3, json!(null), "all"),
        ]),
        &[
            pat(
                1,
                &[
                    "actions:read",
                    "contents:write",
                    "gists:write",
                    "members:read",
                ],
            ),
            pat(2, &["metadata:read"]),
            pat(3, &[]),
        ],
    );
    assert!(
        page.grants[0].notes.iter().any(|n| n.contains("subset")),
        "{:?}",
        page.grants[0].notes
    );
    assert!(page.grants[1].notes.is_empty());
}

#[test]
fn long_provider_strings_are_clipped() {
    let name = "n".repeat(10_000);
    let page = ok(api::parse_pat_grants(
        json!([{"id": 1, "owner": {"login": "mona"}, "token_id": 2, "token_name": name}])
            .to_string()
            .as_bytes(),
    ));
    let token_name = attrs(&page.grants[0])
        .get("token_name")
        .map(|s| s.chars().count());
    assert_eq!(token_name, Some(257), "256 characters and an ellipsis");
}

/// Bodies that must fail a page as `malformed` (the host retries those) rather
/// than yield a partial or wrong inventory.
#[test]
fn malformed_pages_are_errors() {
    type Parser = fn(&[u8]) -> Result<Page, Error>;
    let installations: Parser = |b| api::parse_installations(&settings(), b);
    let credentials: Parser = api::parse_credential_authorizations;
    let pats: Parser = api::parse_pat_grants;
    let cases: &[(&str, Parser, &[u8])] = &[
        ("garbage", installations, b"<html>502 Bad Gateway</html>"),
        ("empty", credentials, b""),
        ("truncated", pats, br#"[{"id": 1, "owner": {"login": "mo"#),
        ("array where an object is due", installations, b"[]"),
        ("object where an array is due", credentials, br#"{"installations": []}"#),
        ("missing id", installations, br#"{"installations": [{"app_id": 1, "app_slug": "a"}]}"#),
        ("blank slug", installations, br#"{"installations": [{"id": 1, "app_id": 1, "app_slug": " "}]}"#),
        ("string id", pats, br#"[{"id": "1", "owner": {"login": "m"}, "token_id": 2}]"#),
        ("negative id", credentials, br#"[{"login": "m", "credential_id": -1, "credential_type": "SSH key"}]"#),
        ("blank login", credentials, br#"[{"login": "", "credential_id": 1, "credential_type": "SSH key"}]"#),
        ("no owner", pats, br#"[{"id": 1, "token_id": 2}]"#),
        ("no token id", pats, br#"[{"id": 1, "owner": {"login": "m"}}]"#),
        ("non-string level", installations, br#"{"installations": [{"id": 1, "app_id": 1, "app_slug": "a", "permissions": {"x": 1}}]}"#),
    ];
    for (name, parse, body) in cases {
        let e = err(parse(body));
        assert_error(&e, ErrorCode::Malformed, &["github"]);
        assert!(
            e.message.len() < 400,
            "{name}: message too long: {}",
            e.message
        );
    }
}
