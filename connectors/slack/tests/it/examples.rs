//! Every payload in `testdata/providers/slack/examples/`, parsed as it is.
//!
//! Each example is Slack's own documented body in a request/response envelope (see
//! `examples/SOURCES.md`). Every file goes through the `api` function that reads that
//! method's answer, with concrete values asserted; an unknown file fails the test so
//! a new example cannot go unread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{
    ErrorCode, GrantKind, PrincipalKind, RevocationStatus, RevocationTarget,
};
use grantscope_connector_slack::api::{
    self, CursorTask, Listing, LogTask, RevocationPlan, TeamRef, check, classify,
};
use serde::Deserialize;

use crate::{assert_error, attrs, err, ok, settings};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "_meta")]
    meta: Meta,
    request: Request,
    response: Reply,
}

#[derive(Deserialize)]
struct Meta {
    slack_method: String,
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
            body: self.body.to_string().into_bytes(),
        }
    }
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/slack/examples")
}

fn load() -> BTreeMap<String, Envelope> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir()).unwrap_or_else(|e| panic!("read examples: {e}"));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let env: Envelope = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            env.request.path.ends_with(&env.meta.slack_method),
            "{name}: path names the method"
        );
        out.insert(name, env);
    }
    out
}

fn team(id: &str) -> TeamRef {
    TeamRef {
        id: id.to_owned(),
        name: "Acme Corp".to_owned(),
        url: "https://acmecorp.slack.com/".to_owned(),
    }
}

#[test]
fn every_example_is_read() {
    let examples = load();
    assert!(examples.len() >= 12, "found {} examples", examples.len());
    let s = settings();
    for (name, env) in &examples {
        let resp = env.response.to_response();
        match env.meta.slack_method.as_str() {
            "admin.apps.approved.list" if env.response.body["ok"] == true => {
                let task = CursorTask {
                    listing: Listing::Approved,
                    team: None,
                    cursor: None,
                    page: 1,
                };
                let page = ok(api::read_cursor_page(&s, &task, &resp));
                assert_eq!(page.grants.len(), 1, "{name}");
                assert!(
                    page.tasks.is_empty(),
                    "{name}: empty cursor ends the listing"
                );
                let g = &page.grants[0];
                assert_eq!(g.id, "org-approval:A0W7UKG8E");
                assert_eq!(g.app.id, "A0W7UKG8E");
                assert_eq!(g.app.name, "My Test App");
                assert_eq!(g.kind, GrantKind::AdminConsent);
                assert_eq!(g.principal.kind, PrincipalKind::Tenant);
                assert_eq!(g.principal.id, "E0AS553RN");
                assert_eq!(g.scopes, ["bot"]);
                assert_eq!(g.created_at.as_deref(), Some("2019-11-21T00:38:27Z"));
                assert_eq!(g.last_used_at, None);
                let a = attrs(g);
                assert_eq!(a.get("bot_scopes"), Some(&"bot"));
                assert_eq!(a.get("sensitive_scopes"), Some(&"bot"));
                assert_eq!(a.get("last_resolved_by"), Some(&"W0G82F4FD"));
                assert_eq!(a.get("usage_reported"), Some(&"false"));
                let r = g.revocation.as_ref().unwrap_or_else(|| panic!("target"));
                assert_eq!(r.action, "org-approval");
                // Inside the same org, approvals from workspace listings are not grants.
                let team_task = CursorTask {
                    team: Some(team("T0M94LNUCR")),
                    ..task
                };
                let page = ok(api::read_cursor_page(&s, &team_task, &resp));
                assert!(page.grants.is_empty());
                assert!(page.info[0].contains("A0W7UKG8E"), "{:?}", page.info);
            }
            "admin.apps.approved.list" => {
                // error-invalid_auth.json: HTTP 200 with ok:false is an error.
                let f = check(&resp)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: not ok"));
                assert_eq!(f.code.as_deref(), Some("invalid_auth"));
                let e = classify(&f, "listing approved apps", "admin.apps:read");
                assert_error(&e, ErrorCode::Unauthenticated, &["invalid_auth", "xoxp-"]);
                let task = CursorTask {
                    listing: Listing::Approved,
                    team: None,
                    cursor: None,
                    page: 1,
                };
                let e = err(api::read_cursor_page(&s, &task, &resp));
                assert_eq!(e.code, ErrorCode::Unauthenticated, "{}", e.message);
            }
            "admin.apps.restricted.list" => {
                let task = CursorTask {
                    listing: Listing::Restricted,
                    team: None,
                    cursor: None,
                    page: 1,
                };
                let page = ok(api::read_cursor_page(&s, &task, &resp));
                assert!(page.grants.is_empty(), "restrictions are not grants");
                assert!(page.info[0].contains("A0FDLP8M2L"), "{:?}", page.info);
                assert!(page.info[0].contains("restricted"), "{:?}", page.info);
            }
            "admin.apps.requests.list" => {
                let task = CursorTask {
                    listing: Listing::Requests,
                    team: Some(team("T0M94LNUCR")),
                    cursor: None,
                    page: 1,
                };
                let page = ok(api::read_cursor_page(&s, &task, &resp));
                assert!(page.grants.is_empty(), "requests are not grants");
                let line = &page.info[0];
                for needle in ["Ar0XJGFLMLS", "A061BL8RQ0", "W08RA9G5HR", "T0M94LNUCR"] {
                    assert!(line.contains(needle), "{needle}: {line}");
                }
            }
            "admin.teams.list" => {
                let task = CursorTask {
                    listing: Listing::Teams,
                    team: None,
                    cursor: None,
                    page: 1,
                };
                let page = ok(api::read_cursor_page(&s, &task, &resp));
                let kinds: Vec<&str> = page.tasks.iter().map(|t| t.kind.as_str()).collect();
                assert_eq!(
                    kinds,
                    ["approved", "restricted", "requests", "integration-logs"]
                );
                for t in &page.tasks {
                    assert!(t.payload.contains("T1234"), "{}", t.payload);
                    assert!(api::decode_task(t).is_ok());
                }
                let url = match ok(api::decode_task(&page.tasks[3])) {
                    api::Job::Logs(l) => l.url(&s),
                    api::Job::Cursor(_) => panic!("a log task"),
                };
                assert_eq!(
                    url,
                    "https://slack.com/api/team.integrationLogs?team_id=T1234&count=100&page=1"
                );
            }
            "team.integrationLogs" => {
                let task = LogTask {
                    team: team("T0M94LNUCR"),
                    page: 1,
                    seen: 0,
                    state: BTreeMap::new(),
                };
                let page = ok(api::read_logs_page(&s, &task, &resp));
                assert!(page.tasks.is_empty(), "paging says one page");
                let ids: Vec<&str> = page.grants.iter().map(|g| g.id.as_str()).collect();
                assert_eq!(
                    ids,
                    [
                        "installation:T0M94LNUCR:2345678901",
                        "service:T0M94LNUCR:1234567890",
                        "service:T0M94LNUCR:3456789012",
                    ]
                );
                let app = &page.grants[0];
                assert_eq!(app.app.id, "2345678901");
                assert_eq!(app.app.name, "Johnny App");
                assert_eq!(app.kind, GrantKind::Installation);
                assert_eq!(app.principal.id, "T0M94LNUCR");
                assert_eq!(app.principal.display.as_deref(), Some("Acme Corp"));
                assert_eq!(app.scopes, ["channels:read", "chat:write:user"]);
                assert_eq!(app.created_at.as_deref(), Some("2014-02-12T00:00:01Z"));
                assert_eq!(attrs(app).get("installed_by"), Some(&"U2345BCDE"));
                // `service_id` is a number in one entry and a string in another.
                let calendar = &page.grants[1];
                assert_eq!(calendar.app.id, "service-1234567890");
                assert_eq!(calendar.app.name, "Google Calendar");
                assert_eq!(calendar.scopes, ["incoming-webhook"]);
                assert_eq!(attrs(calendar).get("disabled"), Some(&"false"));
                let airbrake = &page.grants[2];
                assert_eq!(airbrake.app.name, "Airbrake");
                assert_eq!(attrs(airbrake).get("disabled"), Some(&"true"));
                assert_eq!(
                    airbrake.revocation.as_ref().map(|r| r.action.as_str()),
                    Some("service")
                );
            }
            "admin.apps.uninstall" | "admin.apps.restrict" => {
                // Both writes answer `{"ok": true}`: an installation's revocation with
                // these answers is `revoked`.
                let target = RevocationTarget {
                    grant_id: "installation:T0M94LNUCR:A0FDLP8M2L".to_owned(),
                    action: "installation".to_owned(),
                    handle: r#"{"app_id":"A0FDLP8M2L","team_id":"T0M94LNUCR"}"#.to_owned(),
                };
                let RevocationPlan::Calls(plan) = ok(api::plan_revocation(&s, &target)) else {
                    panic!("an installation is revoked by calls");
                };
                let outcome = plan.uninstall_outcome(Ok(&resp));
                let done = ok(plan.finish(outcome, Some(Ok(&resp))));
                assert_eq!(done.status, RevocationStatus::Revoked, "{name}");
                assert_eq!(env.request.method, "POST");
            }
            "admin.apps.approve"
            | "admin.apps.clearResolution"
            | "apps.uninstall"
            | "auth.revoke" => {
                // Not called by the connector; their envelopes are the plain success.
                assert!(check(&resp).is_ok(), "{name}");
            }
            other => panic!("{name}: no test reads method `{other}`: add one"),
        }
    }
}
