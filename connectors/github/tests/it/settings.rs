//! Settings validation, the scan's first tasks, request headers and the manifest.

use grantscope_connector_github::api::{self, PageTask, Settings};
use grantscope_connector_sdk::{Capability, ErrorCode};

use crate::{assert_error, context, err, ok, settings_for};

#[test]
fn api_base_is_validated() {
    // (api_base setting, the root every URL is built on).
    let accepted: &[(Option<&str>, &str)] = &[
        (None, "https://api.github.com"),
        (Some(""), "https://api.github.com"),
        (Some("   "), "https://api.github.com"),
        (Some("https://api.github.com/"), "https://api.github.com"),
        (
            Some(" https://api.acme.ghe.com// "),
            "https://api.acme.ghe.com",
        ),
        (
            Some("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/api/v3",
        ),
        (Some("http://127.0.0.1:8080"), "http://127.0.0.1:8080"),
        (Some("HTTPS://API.GITHUB.COM"), "HTTPS://API.GITHUB.COM"),
    ];
    for (base, root) in accepted {
        assert_eq!(
            settings_for("octo-org", *base).api_base(),
            *root,
            "{base:?}"
        );
    }

    let refused = [
        "api.github.com",
        "ftp://api.github.com",
        "https://",
        "https:///orgs",
        "https://user:secret@api.github.com",
        "https://api.github.com/?x=1",
        "https://api.github.com/#frag",
        "https://api.git hub.com",
        "https://:443",
        "javascript:alert(1)",
    ];
    for base in refused {
        let e = err(Settings::new("acme", "octo-org", Some(base)));
        assert_error(&e, ErrorCode::Config, &["acme", "api_base"]);
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}

#[test]
fn org_is_required_and_validated() {
    let e = err(Settings::from_context(&context(&[])));
    assert_error(&e, ErrorCode::Config, &["acme", "org"]);
    let e = err(Settings::from_context(&context(&[("org", "  ")])));
    assert_error(&e, ErrorCode::Config, &["org"]);
    for bad in [
        "octo/org",
        "octo org",
        "octo?org",
        "octo#org",
        "octo%2Forg",
        "a\nb",
    ] {
        let e = err(Settings::new("acme", bad, None));
        assert_error(&e, ErrorCode::Config, &["org"]);
    }
    let s = ok(Settings::from_context(&context(&[
        ("org", " octo-org "),
        ("api_base", "https://api.github.com/"),
    ])));
    assert_eq!(s.org(), "octo-org");
    assert_eq!(s.api_base(), "https://api.github.com");
}

#[test]
fn start_plans_three_listings() {
    let s = settings_for("Octo.Org_1", None);
    let tasks = api::start_tasks(&s);
    let got: Vec<(String, PageTask)> = tasks
        .iter()
        .map(|t| match serde_json::from_str(&t.payload) {
            Ok(p) => (t.kind.clone(), p),
            Err(e) => panic!("bad payload {}: {e}", t.payload),
        })
        .collect();
    let page = |url: &str| PageTask {
        url: url.to_owned(),
        page: 1,
    };
    assert_eq!(
        got,
        vec![
            (
                "installations".to_owned(),
                page("https://api.github.com/orgs/Octo.Org_1/installations?per_page=100")
            ),
            (
                "credential-authorizations".to_owned(),
                page(
                    "https://api.github.com/orgs/Octo.Org_1/credential-authorizations?per_page=100"
                )
            ),
            (
                "pat-grants".to_owned(),
                page("https://api.github.com/orgs/Octo.Org_1/personal-access-tokens?per_page=100")
            ),
        ]
    );
    // Every first task passes the check `run` makes before fetching.
    for t in &tasks {
        ok(api::decode_task(&s, t));
    }
}

#[test]
fn headers_pin_the_api_and_never_authenticate() {
    let h = api::headers();
    assert!(h.contains(&("accept", "application/vnd.github+json")));
    assert!(h.contains(&("x-github-api-version", "2022-11-28")));
    assert!(h.contains(&(
        "user-agent",
        concat!("grantscope-connector-github/", env!("CARGO_PKG_VERSION"))
    )));
    assert!(
        !h.iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    );
}

#[test]
fn manifest_declares_least_privilege() {
    let m = api::manifest();
    assert_eq!(m.id, "github");
    assert_eq!(m.provider, "github");
    assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
    assert!(!m.name.is_empty());
    assert_eq!(m.hosts, vec!["api.github.com".to_owned()]);
    assert_eq!(
        m.capabilities,
        vec![Capability::Enumerate, Capability::Revoke]
    );
    assert_eq!(
        m.credential_kinds,
        vec!["github-app".to_owned(), "static-token".to_owned()]
    );
    let perms: Vec<(&str, bool)> = m
        .permissions
        .iter()
        .map(|p| (p.name.as_str(), p.revoke_only))
        .collect();
    assert_eq!(
        perms,
        vec![
            ("organization_administration:read", false),
            ("organization_personal_access_tokens:read", false),
            ("metadata:read", false),
            ("organization_administration:write", true),
            ("organization_personal_access_tokens:write", true),
        ]
    );
    assert!(m.permissions.iter().all(|p| !p.reason.is_empty()));
    let settings: Vec<(&str, bool)> = m
        .settings
        .iter()
        .map(|s| (s.name.as_str(), s.required))
        .collect();
    assert_eq!(settings, vec![("org", true), ("api_base", false)]);
}
