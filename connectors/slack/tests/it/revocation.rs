//! Revocation plans, outcomes and probes.

use grantscope_connector_sdk::{ErrorCode, RevocationStatus, RevocationTarget, TargetState};
use grantscope_connector_slack::api::{self, Outcome, Probe, ProbeStep, RevocationPlan, Uninstall};
use serde_json::json;

use crate::{assert_error, err, json, ok, response, settings};

fn installation() -> RevocationTarget {
    RevocationTarget {
        grant_id: "slack/acme/installation:T1:A1".to_owned(),
        action: "installation".to_owned(),
        handle: r#"{"app_id":"A1","team_id":"T1"}"#.to_owned(),
    }
}

fn org_approval() -> RevocationTarget {
    RevocationTarget {
        grant_id: "org-approval:A1".to_owned(),
        action: "org-approval".to_owned(),
        handle: r#"{"app_id":"A1"}"#.to_owned(),
    }
}

fn plan(t: &RevocationTarget) -> Uninstall {
    match ok(api::plan_revocation(&settings(), t)) {
        RevocationPlan::Calls(p) => p,
        RevocationPlan::Manual(m) => panic!("calls expected, got {m:?}"),
    }
}

fn slack(body: &str) -> grantscope_connector_sdk::http::Response {
    response(200, &[], body.as_bytes())
}

const OK: &str = r#"{"ok":true}"#;

#[test]
fn an_installation_is_uninstalled_from_its_workspace_then_restricted() {
    let p = plan(&installation());
    let u = p.uninstall();
    assert_eq!(u.url, "https://slack.com/api/admin.apps.uninstall");
    assert_eq!(String::from_utf8_lossy(&u.body), "app_id=A1&team_ids=T1");
    let r = p.restrict();
    assert_eq!(r.url, "https://slack.com/api/admin.apps.restrict");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "app_id=A1&enterprise_id=E0AS553RN"
    );
    let done = ok(p.finish(p.uninstall_outcome(Ok(&slack(OK))), Some(Ok(&slack(OK)))));
    assert_eq!(done.status, RevocationStatus::Revoked);
    assert!(done.detail.contains("T1"));
    assert!(
        done.manual_steps
            .iter()
            .any(|s| s.contains("other workspaces stay"))
    );
    assert!(
        done.manual_steps
            .iter()
            .any(|s| s.contains("restricted org-wide"))
    );
    // `app_not_found`: nothing of the app was there.
    let gone = slack(r#"{"ok":false,"error":"app_not_found"}"#);
    let again = ok(p.finish(p.uninstall_outcome(Ok(&gone)), Some(Ok(&slack(OK)))));
    assert_eq!(again.status, RevocationStatus::AlreadyGone);
}

#[test]
fn an_org_approval_is_uninstalled_everywhere() {
    let p = plan(&org_approval());
    assert_eq!(
        String::from_utf8_lossy(&p.uninstall().body),
        "app_id=A1&enterprise_id=E0AS553RN"
    );
    let done = ok(p.finish(p.uninstall_outcome(Ok(&slack(OK))), Some(Ok(&slack(OK)))));
    assert_eq!(done.status, RevocationStatus::Revoked);
    assert!(done.detail.contains("every workspace"));
    // The approval stays until the restriction replaces it: a failed restriction
    // is an error, so the host probes and retries.
    let failed = response(500, &[], br#"{"ok":false,"error":"fatal_error"}"#);
    let e = err(p.finish(p.uninstall_outcome(Ok(&slack(OK))), Some(Ok(&failed))));
    assert_error(&e, ErrorCode::Provider, &["approval remains"]);
}

#[test]
fn a_failed_restriction_after_an_uninstall_is_a_manual_step() {
    let p = plan(&installation());
    let failed = slack(r#"{"ok":false,"error":"no_permission"}"#);
    let done = ok(p.finish(p.uninstall_outcome(Ok(&slack(OK))), Some(Ok(&failed))));
    assert_eq!(done.status, RevocationStatus::Revoked);
    assert!(
        done.manual_steps
            .iter()
            .any(|s| s.contains("install it again")),
        "{:?}",
        done.manual_steps
    );
}

#[test]
fn definite_refusals_skip_the_restriction_and_ambiguity_keeps_it() {
    let p = plan(&installation());
    for (body, code, needle) in [
        (
            r#"{"ok":false,"error":"must_revoke_access"}"#,
            ErrorCode::Unsupported,
            "org-approval:A1",
        ),
        (
            r#"{"ok":false,"error":"can_not_uninstall"}"#,
            ErrorCode::Unsupported,
            "support",
        ),
        (
            r#"{"ok":false,"error":"missing_scope","needed":"admin.apps:write"}"#,
            ErrorCode::Permission,
            "admin.apps:write",
        ),
        (
            r#"{"ok":false,"error":"feature_not_enabled"}"#,
            ErrorCode::Unsupported,
            "Enterprise Grid",
        ),
    ] {
        let outcome = p.uninstall_outcome(Ok(&slack(body)));
        assert!(matches!(outcome, Outcome::Refused(_)), "{body}");
        assert!(!Uninstall::should_restrict(&outcome));
        let e = err(p.finish(outcome, None));
        assert_error(&e, code, &[needle]);
    }
    // A 502 (or a reset) may have acted: restrict anyway, and report the error so
    // the host probes before deciding.
    let bad = response(502, &[], b"bad gateway");
    let outcome = p.uninstall_outcome(Ok(&bad));
    assert!(matches!(outcome, Outcome::Ambiguous(_)));
    assert!(Uninstall::should_restrict(&outcome));
    let e = err(p.finish(outcome, Some(Ok(&slack(OK)))));
    assert_error(&e, ErrorCode::Provider, &["now restricted"]);
}

#[test]
fn a_legacy_integration_is_manual() {
    let t = RevocationTarget {
        grant_id: "service:T1:1234567890".to_owned(),
        action: "service".to_owned(),
        handle:
            r#"{"team_id":"T1","service_id":"1234567890","team_url":"https://acme.slack.com/"}"#
                .to_owned(),
    };
    let RevocationPlan::Manual(m) = ok(api::plan_revocation(&settings(), &t)) else {
        panic!("manual expected")
    };
    assert_eq!(m.status, RevocationStatus::ManualRequired);
    assert!(m.manual_steps[0].contains("https://acme.slack.com/apps/manage/custom-integrations"));
}

#[test]
fn mismatched_targets_are_refused() {
    for (grant_id, action, handle) in [
        (
            "installation:T1:A2",
            "installation",
            r#"{"app_id":"A1","team_id":"T1"}"#,
        ),
        ("installation:T1:A1", "installation", r#"{"app_id":"A1"}"#),
        (
            "org-approval:A1",
            "org-approval",
            r#"{"app_id":"A1","team_id":"T1"}"#,
        ),
        ("org-approval:A1", "org-approval", r#"{"app_id":"A1&x=1"}"#),
        ("org-approval:A1", "nuke", r#"{"app_id":"A1"}"#),
        ("org-approval:A1", "org-approval", "not json"),
    ] {
        let t = RevocationTarget {
            grant_id: grant_id.to_owned(),
            action: action.to_owned(),
            handle: handle.to_owned(),
        };
        let e = err(api::plan_revocation(&settings(), &t));
        assert_eq!(e.code, ErrorCode::InvalidInput, "{grant_id} {handle}");
    }
}

#[test]
fn probes_read_without_mutating() {
    let s = settings();
    // An org approval: the approved list, page by page.
    let p = ok(Probe::new(&s, &org_approval()));
    assert_eq!(
        p.first_url(),
        "https://slack.com/api/admin.apps.approved.list?enterprise_id=E0AS553RN&limit=1000"
    );
    let mut replay = p.start();
    let page = |ids: &[&str], cursor: &str| {
        let apps: Vec<_> = ids.iter().map(|i| json!({"app": {"id": i}})).collect();
        json(
            &json!({"ok": true, "approved_apps": apps, "response_metadata": {"next_cursor": cursor}}),
        )
    };
    let step = ok(p.read(&mut replay, 1, &page(&["A9"], "c2")));
    assert!(
        matches!(step, ProbeStep::Next(ref u) if u.ends_with("cursor=c2")),
        "{step:?}"
    );
    assert_eq!(
        ok(p.read(&mut replay, 2, &page(&["A1"], ""))),
        ProbeStep::Done(TargetState::Present)
    );
    assert_eq!(
        ok(p.read(&mut replay, 2, &page(&[], ""))),
        ProbeStep::Done(TargetState::Gone)
    );

    // An installation: its own log entries, replayed.
    let p = ok(Probe::new(&s, &installation()));
    assert_eq!(
        p.first_url(),
        "https://slack.com/api/team.integrationLogs?team_id=T1&app_id=A1&count=100&page=1"
    );
    let logs = |changes: &[(&str, i64)]| {
        let entries: Vec<_> = changes
            .iter()
            .map(|(c, d)| json!({"app_id": "A1", "change_type": c, "date": d.to_string(), "scope": "x"}))
            .collect();
        json(&json!({"ok": true, "logs": entries, "paging": {"page": 1, "pages": 1}}))
    };
    let mut replay = p.start();
    assert_eq!(
        ok(p.read(&mut replay, 1, &logs(&[("removed", 20), ("added", 10)]))),
        ProbeStep::Done(TargetState::Gone)
    );
    let mut replay = p.start();
    assert_eq!(
        ok(p.read(&mut replay, 1, &logs(&[("added", 30), ("removed", 20)]))),
        ProbeStep::Done(TargetState::Present)
    );
    let e = err(p.read(
        &mut p.start(),
        1,
        &response(200, &[], br#"{"ok":false,"error":"invalid_auth"}"#),
    ));
    assert_eq!(e.code, ErrorCode::Unauthenticated);
}
