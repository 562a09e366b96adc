//! Probe: re-reading a revocation target through the listing that would show it.

use grantscope_connector_github::api::{Probe, ProbeStep};
use grantscope_connector_sdk::{ErrorCode, RevocationTarget, TargetState};

use crate::{assert_error, err, ok, response, settings};

fn probe(grant_id: &str, action: &str, handle: &str) -> Probe {
    ok(Probe::new(
        &settings(),
        &RevocationTarget {
            grant_id: grant_id.to_owned(),
            action: action.to_owned(),
            handle: handle.to_owned(),
        },
    ))
}

fn credential() -> Probe {
    probe(
        "credential-authorization:161197",
        "credential-authorization",
        r#"{"credential_id":161197,"login":"octo cat&x"}"#,
    )
}

fn pat() -> Probe {
    probe(
        "pat-grant:25381",
        "pat-grant",
        r#"{"pat_id":25381,"token_id":98716}"#,
    )
}

fn installation() -> Probe {
    probe(
        "installation:25381",
        "installation",
        r#"{"installation_id":25381,"html_url":"https://github.com/organizations/octo-org/settings/installations/25381"}"#,
    )
}

#[test]
fn probe_urls() {
    assert_eq!(
        credential().first_url(),
        "https://api.github.com/orgs/octo-org/credential-authorizations?login=octo%20cat%26x&per_page=100"
    );
    assert_eq!(
        pat().first_url(),
        "https://api.github.com/orgs/octo-org/personal-access-tokens?token_id%5B%5D=98716&per_page=100"
    );
    assert_eq!(
        installation().first_url(),
        "https://api.github.com/orgs/octo-org/installations?per_page=100"
    );
}

/// (probe, status, Link header, body, expected step).
fn check(p: &Probe, cases: &[(u16, Option<&str>, &str, ProbeStep)]) {
    for (status, link, body, expected) in cases {
        let headers: Vec<(&str, &str)> = link.map(|l| ("link", l)).into_iter().collect();
        let got = ok(p.read(
            p.first_url(),
            1,
            &response(*status, &headers, body.as_bytes()),
        ));
        assert_eq!(&got, expected, "{status} {body}");
    }
}

const NEXT: &str = r#"<https://api.github.com/organizations/1/x?page=2>; rel="next""#;

#[test]
fn present_gone_or_next() {
    let next = ProbeStep::Next("https://api.github.com/organizations/1/x?page=2".to_owned());
    let present = ProbeStep::Done(TargetState::Present);
    let gone = ProbeStep::Done(TargetState::Gone);
    check(
        &credential(),
        &[
            (
                200,
                None,
                r#"[{"credential_id": 161197, "login": "x"}]"#,
                present.clone(),
            ),
            // Found on this page: the next one is not needed.
            (
                200,
                Some(NEXT),
                r#"[{"credential_id": 161197}]"#,
                present.clone(),
            ),
            (200, None, r#"[{"credential_id": 1}]"#, gone.clone()),
            (200, Some(NEXT), "[]", next.clone()),
            // No SAML SSO any more: no authorization can exist.
            (404, None, r#"{"message":"Not Found"}"#, gone.clone()),
        ],
    );
    check(
        &pat(),
        &[
            // `pat_id` is the grant's `id`, not the token's.
            (200, None, r#"[{"id": 98716}]"#, gone.clone()),
            (
                200,
                None,
                r#"[{"id": 25381, "token_id": 98716}]"#,
                present.clone(),
            ),
            (200, Some(NEXT), "[]", next.clone()),
        ],
    );
    check(
        &installation(),
        &[
            (
                200,
                None,
                r#"{"total_count": 1, "installations": [{"id": 25381}]}"#,
                present,
            ),
            (
                200,
                None,
                r#"{"total_count": 0, "installations": []}"#,
                gone,
            ),
            (200, Some(NEXT), r#"{"installations": [{"id": 1}]}"#, next),
        ],
    );
}

#[test]
fn probe_failures_are_errors() {
    let p = pat();
    let e = err(p.read(
        p.first_url(),
        1,
        &response(404, &[], br#"{"message":"Not Found"}"#),
    ));
    assert_error(
        &e,
        ErrorCode::Permission,
        &["organization_personal_access_tokens:read"],
    );
    let e = err(p.read(p.first_url(), 1, &response(200, &[], b"<html>")));
    assert_eq!(e.code, ErrorCode::Malformed);
    let i = installation();
    let e = err(i.read(
        i.first_url(),
        1,
        &response(
            200,
            &[("link", r#"<https://evil.example/x>; rel="next""#)],
            br#"{"installations": []}"#,
        ),
    ));
    assert_error(&e, ErrorCode::Malformed, &["refusing"]);
    let e = err(i.read(i.first_url(), 1, &response(401, &[], b"")));
    assert_eq!(e.code, ErrorCode::Unauthenticated);
}
