//! Settings validation and the manifest.

use grantscope_connector_microsoft_entra::api::{self, Settings, is_first_party_app, safe_id};
use grantscope_connector_sdk::{Context, ErrorCode};

use crate::{assert_error, err, ok};

fn context(settings: &[(&str, &str)]) -> Context {
    Context {
        tenant: "acme-entra".to_owned(),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn settings_default_to_graph_and_are_checked() {
    let s = ok(Settings::from_context(&context(&[(
        "tenant_id",
        " 9B1C7A2E-4F3D-4C55-8E21-0D6A3F7B9C10 ",
    )])));
    assert_eq!(s.graph_base(), "https://graph.microsoft.com");
    assert_eq!(s.tenant(), "acme-entra");
    assert_eq!(
        s.v1("oauth2PermissionGrants"),
        "https://graph.microsoft.com/v1.0/oauth2PermissionGrants"
    );
    let sim = ok(Settings::new(
        "t",
        "contoso.onmicrosoft.com",
        Some("http://127.0.0.1:8080/microsoft-entra/"),
    ));
    assert_eq!(
        sim.beta("reports/x"),
        "http://127.0.0.1:8080/microsoft-entra/beta/reports/x"
    );
    let missing = err(Settings::from_context(&context(&[])));
    assert_error(&missing, ErrorCode::Config, &["tenant_id"]);
    for bad in ["", "a/b", "tenant id", "x?y"] {
        let e = err(Settings::new("t", bad, None));
        assert_error(&e, ErrorCode::Config, &["tenant_id"]);
    }
    for bad in [
        "ftp://graph.microsoft.com",
        "https://user:pw@graph.microsoft.com",
        "https://graph.microsoft.com/?x=1",
        "graph.microsoft.com",
    ] {
        let e = err(Settings::new("t", "abc", Some(bad)));
        assert_error(&e, ErrorCode::Config, &["graph_base"]);
        assert!(!e.message.contains("pw@"), "{}", e.message);
    }
}

#[test]
fn the_manifest_declares_least_privilege() {
    let m = api::manifest();
    assert_eq!(m.id, "microsoft-entra");
    assert_eq!(m.provider, "microsoft-entra");
    assert_eq!(m.credential_kinds[0], "client-credentials");
    let read: Vec<&str> = m
        .permissions
        .iter()
        .filter(|p| !p.revoke_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        read,
        [
            "Application.Read.All",
            "Directory.Read.All",
            "AuditLog.Read.All"
        ]
    );
    let write: Vec<&str> = m
        .permissions
        .iter()
        .filter(|p| p.revoke_only)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        write,
        [
            "DelegatedPermissionGrant.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "Application.ReadWrite.All"
        ]
    );
    assert!(
        m.settings
            .iter()
            .any(|s| s.name == "tenant_id" && s.required)
    );
    assert!(
        m.settings
            .iter()
            .any(|s| s.name == "graph_base" && !s.required)
    );
}

#[test]
fn first_party_apps_come_from_the_list() {
    // Graph Command Line Tools: owned by neither Microsoft tenant, but listed.
    assert!(is_first_party_app("14d82eec-204b-4c2f-b7e8-296a70dab67e"));
    assert!(is_first_party_app(" DE8BC8B5-D9F9-48B1-A8AD-B748DA725064 "));
    // Entries whose source had stray whitespace are listed clean.
    assert!(is_first_party_app("08987058-cadc-4b81-b6e1-30de50dcbe96"));
    assert!(!is_first_party_app("b7e2c9d4-5a1f-4e3b-8c6d-2f9a0e1b4c73"));
    assert!(!is_first_party_app(""));
    assert!(!is_first_party_app(
        "# Microsoft first-party application ids"
    ));
}

#[test]
fn only_plain_ids_go_into_urls() {
    assert!(safe_id("3a8f5c21-7d4e-4b9a-a6c2-91e0f4d3b7a5"));
    assert!(safe_id("G5p_Xl08f06Kmxw9Xn-aG__AIOz2UgxChUYiz-f9zco"));
    for bad in ["", "../x", "a/b", "a?b", "a b", "a%2F", &"x".repeat(129)] {
        assert!(!safe_id(bad), "{bad}");
    }
}
