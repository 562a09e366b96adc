//! Revocation: which call each action makes, and how GitHub's answer maps to a
//! result (README, "Revocation").

use grantscope_connector_github::api::{self, RevocationCall, RevocationPlan, Target};
use grantscope_connector_sdk::{ErrorCode, Method, RevocationStatus, RevocationTarget};

use crate::{assert_error, err, ok, response, settings};

fn target(grant_id: &str, action: &str, handle: &str) -> RevocationTarget {
    RevocationTarget {
        grant_id: grant_id.to_owned(),
        action: action.to_owned(),
        handle: handle.to_owned(),
    }
}

fn credential() -> RevocationTarget {
    target(
        "credential-authorization:161197",
        "credential-authorization",
        r#"{"credential_id":161197,"login":"octocat"}"#,
    )
}

fn pat() -> RevocationTarget {
    target(
        "pat-grant:25381",
        "pat-grant",
        r#"{"pat_id":25381,"token_id":98716}"#,
    )
}

fn installation(html_url: &str) -> RevocationTarget {
    target(
        "installation:25381",
        "installation",
        &format!(r#"{{"installation_id":25381,"html_url":"{html_url}"}}"#),
    )
}

fn call(t: &RevocationTarget) -> RevocationCall {
    match ok(api::plan_revocation(&settings(), t)) {
        RevocationPlan::Call(c) => c,
        RevocationPlan::Manual(m) => panic!("expected an API call for {}, got {m:?}", t.grant_id),
    }
}

#[test]
fn credential_authorization_is_a_delete() {
    let c = call(&credential());
    assert_eq!(c.method, Method::Delete);
    assert_eq!(
        c.url,
        "https://api.github.com/orgs/octo-org/credential-authorizations/161197"
    );
    assert!(c.body.is_none());
    assert!(!c.headers().iter().any(|(k, _)| *k == "content-type"));
    assert!(
        !c.headers()
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    );
}

#[test]
fn pat_grant_is_a_revoke_post() {
    let c = call(&pat());
    assert_eq!(c.method, Method::Post);
    assert_eq!(
        c.url,
        "https://api.github.com/orgs/octo-org/personal-access-tokens/25381"
    );
    assert_eq!(
        c.body.as_deref(),
        Some(br#"{"action":"revoke"}"#.as_slice())
    );
    assert!(c.headers().contains(&("content-type", "application/json")));
    assert!(
        !c.headers()
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    );
}

#[test]
fn installation_is_manual() {
    let url = "https://github.com/organizations/octo-org/settings/installations/25381";
    let RevocationPlan::Manual(m) = ok(api::plan_revocation(&settings(), &installation(url)))
    else {
        panic!("no API can uninstall a third-party app");
    };
    assert_eq!(m.status, RevocationStatus::ManualRequired);
    assert_eq!(
        m.manual_steps,
        vec![format!(
            "An organisation owner must uninstall the app at {url} (GitHub offers no API for \
             this outside GitHub Enterprise Cloud enterprise apps)."
        )]
    );
    assert!(m.detail.contains("25381"));

    // A handle whose URL is not safe to show falls back to the settings page.
    let RevocationPlan::Manual(m) = ok(api::plan_revocation(
        &settings(),
        &installation("javascript:alert(1)"),
    )) else {
        panic!("no API can uninstall a third-party app");
    };
    assert!(m.manual_steps[0].contains(url), "{:?}", m.manual_steps);
    assert!(!m.manual_steps[0].contains("javascript"));
}

/// (status, expected result: the status or the error code).
type Expected = Result<RevocationStatus, ErrorCode>;

fn check(t: &RevocationTarget, cases: &[(u16, Expected)]) {
    let c = call(t);
    for (status, expected) in cases {
        let got = c
            .outcome(&response(*status, &[], br#"{"message":"x"}"#))
            .map(|r| r.status)
            .map_err(|e| e.code);
        assert_eq!(&got, expected, "{} answered {status}", t.grant_id);
    }
}

#[test]
fn outcome_table() {
    use ErrorCode as E;
    use RevocationStatus as S;
    check(
        &credential(),
        &[
            (204, Ok(S::Revoked)),
            (404, Ok(S::AlreadyGone)),
            (401, Err(E::Unauthenticated)),
            (403, Err(E::Permission)),
            (429, Err(E::RateLimited)),
            (500, Err(E::Provider)),
            (422, Err(E::Provider)),
        ],
    );
    check(
        &pat(),
        &[
            (204, Ok(S::Revoked)),
            (202, Ok(S::Revoked)),
            (404, Ok(S::AlreadyGone)),
            (401, Err(E::Unauthenticated)),
            (403, Err(E::Permission)),
            (502, Err(E::Provider)),
            (422, Err(E::Provider)),
        ],
    );
}

#[test]
fn outcomes_say_what_stays_in_place() {
    let c = call(&credential());
    for status in [204, 404] {
        let r = ok(c.outcome(&response(status, &[], b"")));
        assert!(
            r.detail.contains("161197") && r.detail.contains("octocat"),
            "{}",
            r.detail
        );
        assert!(
            r.manual_steps.iter().any(|s| s.contains(
                "Removing the SSO authorization does not revoke the token itself; the user or \
                 the app owner must revoke it"
            )),
            "{:?}",
            r.manual_steps
        );
    }

    let p = call(&pat());
    let r = ok(p.outcome(&response(202, &[], b"{}")));
    assert!(r.detail.contains("asynchronously"), "{}", r.detail);
    for status in [202, 204, 404] {
        let r = ok(p.outcome(&response(status, &[], b"")));
        assert!(
            r.manual_steps
                .iter()
                .any(|s| s.contains("keeps working outside octo-org")),
            "{:?}",
            r.manual_steps
        );
    }

    let e = err(p.outcome(&response(
        403,
        &[(
            "x-accepted-github-permissions",
            "organization_personal_access_tokens=write",
        )],
        br#"{"message":"Resource not accessible by integration"}"#,
    )));
    assert_error(
        &e,
        ErrorCode::Permission,
        &[
            "revoking a fine-grained token grant",
            "organization_personal_access_tokens:write",
        ],
    );
}

#[test]
fn targets_are_checked() {
    // The host may pass the qualified grant id.
    let mut qualified = pat();
    qualified.grant_id = "github/acme/pat-grant:25381".to_owned();
    assert_eq!(
        ok(Target::parse(&qualified)),
        Target::PatGrant {
            pat_id: 25381,
            token_id: 98716
        }
    );

    let refused = [
        (
            "unknown action",
            target("pat-grant:1", "uninstall-everything", "{}"),
            "unknown action",
        ),
        (
            "bad handle",
            target("pat-grant:1", "pat-grant", "not json"),
            "bad handle",
        ),
        (
            "missing field",
            target("pat-grant:1", "pat-grant", r#"{"pat_id":1}"#),
            "bad handle",
        ),
        (
            "extra field",
            target(
                "pat-grant:1",
                "pat-grant",
                r#"{"pat_id":1,"token_id":2,"token":"ghp_x"}"#,
            ),
            "bad handle",
        ),
        (
            "handle for another grant",
            target("pat-grant:2", "pat-grant", r#"{"pat_id":1,"token_id":2}"#),
            "does not match",
        ),
        (
            "action for another kind of grant",
            target(
                "pat-grant:161197",
                "credential-authorization",
                r#"{"credential_id":161197,"login":"octocat"}"#,
            ),
            "does not match",
        ),
        (
            "blank login",
            target(
                "credential-authorization:1",
                "credential-authorization",
                r#"{"credential_id":1,"login":" "}"#,
            ),
            "no login",
        ),
    ];
    for (name, t, mentions) in refused {
        let e = err(api::plan_revocation(&settings(), &t));
        assert_eq!(e.code, ErrorCode::InvalidInput, "{name}: {}", e.message);
        assert!(e.message.contains(mentions), "{name}: {}", e.message);
    }
}

/// The targets enumeration emits are the ones revocation accepts.
#[test]
fn enumerated_targets_round_trip() {
    let pats = ok(api::parse_pat_grants(
        br#"[{"id": 25381, "owner": {"login": "octocat"}, "token_id": 98716}]"#,
    ));
    let creds = ok(api::parse_credential_authorizations(
        br#"[{"login": "octocat", "credential_id": 161197, "credential_type": "OAuth app token"}]"#,
    ));
    let installs = ok(api::parse_installations(
        &settings(),
        br#"{"installations": [{"id": 25381, "app_id": 1, "app_slug": "a"}]}"#,
    ));
    for g in pats
        .grants
        .iter()
        .chain(&creds.grants)
        .chain(&installs.grants)
    {
        let Some(t) = &g.revocation else {
            panic!("{} has no revocation target", g.id);
        };
        assert_eq!(t.grant_id, g.id);
        assert_eq!(ok(Target::parse(t)).grant_id(), g.id);
        ok(api::plan_revocation(&settings(), t));
    }
}
