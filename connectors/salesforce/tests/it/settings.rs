//! Settings validation and the manifest.

use grantscope_connector_salesforce::api::{self, Settings};
use grantscope_connector_sdk::{Capability, ErrorCode};

use crate::{assert_error, err, ok};

#[test]
fn instance_url_and_version_are_checked() {
    let s = ok(Settings::new(
        "acme",
        " https://acme.my.salesforce.com/ ",
        Some("v63.0"),
    ));
    assert_eq!(s.instance_url(), "https://acme.my.salesforce.com");
    assert_eq!(s.api_version(), "63.0");
    let s = ok(Settings::new("acme", "http://127.0.0.1:9/salesforce", None));
    assert_eq!(s.api_version(), api::DEFAULT_API_VERSION);
    assert_eq!(
        s.query_url("SELECT COUNT() FROM OauthToken"),
        "http://127.0.0.1:9/salesforce/services/data/v64.0/query?q=SELECT%20COUNT%28%29%20FROM%20OauthToken"
    );
    for bad in [
        "ftp://x",
        "https://",
        "https://u:p@acme.my.salesforce.com",
        "https://a?b",
    ] {
        let e = err(Settings::new("acme", bad, None));
        assert_error(&e, ErrorCode::Config, &["instance_url"]);
        assert!(!e.message.contains("u:p"), "{}", e.message);
    }
    for bad in ["58.0", "64.1", "x", "64"] {
        assert_error(
            &err(Settings::new(
                "acme",
                "https://acme.my.salesforce.com",
                Some(bad),
            )),
            ErrorCode::Config,
            &["api_version"],
        );
    }
}

#[test]
fn manifest_declares_hosts_and_least_privilege() {
    let m = api::manifest();
    assert_eq!(m.id, "salesforce");
    assert_eq!(
        m.hosts,
        [
            "login.salesforce.com",
            "test.salesforce.com",
            "*.my.salesforce.com"
        ]
    );
    assert_eq!(m.capabilities, [Capability::Enumerate, Capability::Revoke]);
    assert_eq!(m.credential_kinds, ["jwt-bearer"]);
    let revoke_only: Vec<&str> = m
        .permissions
        .iter()
        .filter(|p| p.revoke_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(revoke_only, ["Manage Connected Apps"]);
    assert!(
        m.settings
            .iter()
            .any(|s| s.name == "instance_url" && s.required)
    );
}

#[test]
fn soql_strings_are_escaped() {
    assert_eq!(api::soql_string("Bob's \\ BBQ"), r"'Bob\'s \\ BBQ'");
    assert_eq!(api::soql_string("a\nb"), r"'a\nb'");
    assert_eq!(
        api::token_query(Some("O'Hare")),
        "SELECT Id, AppName, AppMenuItemId, UserId, User.Username, User.IsActive, CreatedDate, \
         LastUsedDate, UseCount FROM OauthToken WHERE AppName = 'O\\'Hare' ORDER BY UserId"
    );
    assert_eq!(
        api::sf_time("2023-02-07T09:11:09.000-0700").as_deref(),
        Some("2023-02-07T16:11:09Z")
    );
    assert_eq!(
        api::sf_time("2023-02-07T16:11:09Z").as_deref(),
        Some("2023-02-07T16:11:09Z")
    );
    assert_eq!(api::sf_time("yesterday"), None);
}
