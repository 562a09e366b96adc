//! Settings validation and the URLs built from them.

use grantscope_connector_google_workspace::api::{self, Settings};
use grantscope_connector_sdk::{Context, ErrorCode};

use crate::{assert_error, err, ok};

#[test]
fn defaults_and_overrides() {
    let s = ok(Settings::new("t", Some(" "), None, Some("")));
    assert_eq!(s.api_base(), api::DEFAULT_API_BASE);
    assert!(s.users_url(None).contains("customer=my_customer"));
    let s = ok(Settings::new(
        "t",
        Some("C03az79cb"),
        Some("Example.COM"),
        Some("http://127.0.0.1:9/google-workspace/"),
    ));
    assert_eq!(s.api_base(), "http://127.0.0.1:9/google-workspace");
    // A domain narrows the walk to that domain, instead of the customer.
    assert_eq!(
        s.users_url(Some("a b")),
        "http://127.0.0.1:9/google-workspace/admin/directory/v1/users?domain=example.com&maxResults=500&projection=basic&pageToken=a%20b"
    );
    // Keys from responses are encoded into paths.
    assert_eq!(
        s.token_url("a@b.c", "x/y"),
        "http://127.0.0.1:9/google-workspace/admin/directory/v1/users/a%40b.c/tokens/x%2Fy"
    );
    assert!(s.asp_url("1", 7).ends_with("/users/1/asps/7"));
}

#[test]
fn bad_settings_are_config_errors() {
    let e = err(Settings::new("t", Some("my customer"), None, None));
    assert_error(&e, ErrorCode::Config, &["customer", "my_customer"]);
    let e = err(Settings::new("t", None, Some("not a domain"), None));
    assert_error(&e, ErrorCode::Config, &["domain"]);
    let e = err(Settings::new("t", None, None, Some("ftp://x")));
    assert_error(&e, ErrorCode::Config, &["api_base"]);
    let e = err(Settings::new("t", None, None, Some("https://user:pw@x")));
    assert_error(&e, ErrorCode::Config, &["redacted"]);
    assert!(!e.message.contains("pw"));
    let e = err(Settings::new("t", None, None, Some("https://x/?q")));
    assert_error(&e, ErrorCode::Config, &["api_base"]);
}

#[test]
fn settings_come_from_the_context() {
    let ctx = Context {
        tenant: "acme".to_owned(),
        settings: vec![("domain".to_owned(), "acme.example".to_owned())],
    };
    let s = ok(Settings::from_context(&ctx));
    assert!(s.users_url(None).contains("domain=acme.example"));
}

#[test]
fn manifest_declares_the_least_privilege_scopes() {
    let m = api::manifest();
    assert_eq!(m.id, "google-workspace");
    assert_eq!(m.provider, "google-workspace");
    assert_eq!(m.credential_kinds, ["jwt-bearer"]);
    let names: Vec<&str> = m.permissions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            api::SCOPE_USER_READONLY,
            api::SCOPE_USER_SECURITY,
            api::SCOPE_AUDIT
        ]
    );
    // Google has no read-only token scope: nothing can be left out of an audit.
    assert!(m.permissions.iter().all(|p| !p.revoke_only));
    let settings: Vec<&str> = m.settings.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(settings, ["customer", "domain", "api_base"]);
    assert!(m.settings.iter().all(|s| !s.required));
}
