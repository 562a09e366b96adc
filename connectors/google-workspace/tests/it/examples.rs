//! Every file of `testdata/providers/google-workspace/examples/`, parsed as it is.
//!
//! The examples are request/response envelopes (see `examples/SOURCES.md`). Each one the
//! connector reads goes through the matching `api` function with concrete values asserted;
//! the rest are at least deserialised, so a broken or renamed file fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use grantscope_connector_google_workspace::api::{
    self, EventsTask, Probe, Work, decode_task, fold_events, parse_asps, parse_tokens,
    plan_revocation, read,
};
use grantscope_connector_sdk::http::Response;
use grantscope_connector_sdk::{
    ErrorCode, GrantKind, PrincipalKind, RevocationStatus, RevocationTarget, TargetState,
};
use serde::Deserialize;

use crate::{all_text, attr, noa, ok, settings};

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "_meta")]
    meta: Meta,
    request: Request,
    response: Reply,
}

#[derive(Deserialize)]
struct Meta {
    source: String,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    path: String,
    #[serde(default)]
    decoded_jwt_claims: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Reply {
    status: u16,
    body: serde_json::Value,
}

impl Reply {
    fn to_response(&self) -> Response {
        Response {
            status: self.status,
            headers: Vec::new(),
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/providers/google-workspace/examples")
}

fn load(name: &str) -> Envelope {
    let path = examples_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

const PDF_SYNC: &str = "418273650912-7kq2d9vbn3m5x8r1t4w6y0z2a4c6e8g0.apps.googleusercontent.com";
const EXPLORER: &str = "292824132082.apps.googleusercontent.com";

#[test]
fn every_example_is_covered() {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(examples_dir()).unwrap_or_else(|e| panic!("examples: {e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("examples: {e}"));
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let e = load(&name);
            assert!(!e.meta.source.is_empty(), "{name}");
            assert!(!e.request.method.is_empty() && e.request.path.starts_with('/'));
            names.insert(name);
        }
    }
    let covered: BTreeSet<String> = [
        "asps-list.json",
        "batch-tokens-list.json",
        "oauth-token-jwt-bearer.json",
        "reports-activities-token.json",
        "tokens-delete.json",
        "tokens-get.json",
        "tokens-list.json",
        "users-list.json",
        "users-signout.json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(names, covered, "a new example needs a test here");
}

#[test]
fn users_list_fans_out_per_user_and_follows_the_page_token() {
    let e = load("users-list.json");
    let work = Work::Users(api::UsersTask::default());
    assert_eq!(
        work.url(&settings()),
        "https://admin.googleapis.com/admin/directory/v1/users?customer=my_customer&maxResults=500&projection=basic"
    );
    let out = ok(read(&settings(), &work, &e.response.to_response()));
    assert!(out.grants.is_empty());
    let kinds: Vec<&str> = out.tasks.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "tokens", "asps", "tokens", "asps", "tokens", "asps", "users"
        ]
    );
    let Work::Tokens(first) = ok(decode_task(&out.tasks[0])) else {
        panic!("first task is a token listing");
    };
    assert_eq!(first, noa());
    let Work::Tokens(admin) = ok(decode_task(&out.tasks[2])) else {
        panic!("tokens");
    };
    assert!(admin.admin && !admin.delegated_admin);
    let Work::Users(next) = ok(decode_task(&out.tasks[6])) else {
        panic!("next users page");
    };
    assert_eq!(next.page, 2);
    let url = Work::Users(next).url(&settings());
    assert!(url.ends_with("&pageToken=Q0FFU0FCUXpZV00xTlRZMlpEQTNaR0UwWldKaFlXSTRNMlk1TkRneE5ESTROV1E0TlRCaE9HTmpNV0pq"), "{url}");
}

/// The audit-log task the token list of `tokens-list.json` leads to.
fn events_task() -> EventsTask {
    let e = load("tokens-list.json");
    let out = ok(read(
        &settings(),
        &Work::Tokens(noa()),
        &e.response.to_response(),
    ));
    assert!(out.grants.is_empty(), "grants wait for their times");
    assert_eq!(out.tasks.len(), 1);
    match ok(decode_task(&out.tasks[0])) {
        Work::Events(t) => t,
        other => panic!("expected the audit-log task, got {other:?}"),
    }
}

#[test]
fn token_list_becomes_an_audit_log_lookup() {
    let task = events_task();
    let clients: Vec<&str> = task.tokens.iter().map(|t| t.client_id.as_str()).collect();
    assert_eq!(clients.len(), 4);
    assert_eq!(clients[0], PDF_SYNC);
    let pdf = &task.tokens[0];
    assert_eq!(pdf.name, "PDF Docs Sync");
    // Sorted as text: `https://m…` < `https://w…` < `openid`.
    assert_eq!(
        pdf.scopes,
        [
            "https://mail.google.com/",
            "https://www.googleapis.com/auth/contacts.readonly",
            "https://www.googleapis.com/auth/drive",
            "https://www.googleapis.com/auth/userinfo.email",
            "openid",
        ]
    );
    assert!(task.tokens[3].native_app);
    assert_eq!(
        Work::Events(task).url(&settings()),
        "https://admin.googleapis.com/admin/reports/v1/activity/users/104729385610473829156/applications/token?maxResults=1000"
    );
}

#[test]
fn audit_log_dates_the_grants() {
    let mut task = events_task();
    let e = load("reports-activities-token.json");
    let next = ok(fold_events(
        &settings(),
        &mut task,
        &e.response.to_response().body,
    ));
    assert_eq!(next, None);
    assert_eq!(
        task.authorized.get(PDF_SYNC).map(String::as_str),
        Some("2026-06-01T08:03:17Z")
    );
    assert_eq!(
        task.used.get(PDF_SYNC).map(String::as_str),
        Some("2026-06-01T09:15:02Z")
    );
    // The revoke event is it-admin's, about another user's grant: not Noa's.
    assert!(!task.authorized.contains_key(EXPLORER));

    let work = Work::Events(events_task());
    let out = ok(read(&settings(), &work, &e.response.to_response()));
    assert!(out.tasks.is_empty() && out.inline.is_none());
    assert_eq!(out.grants.len(), 4);
    let g = &out.grants[0];
    assert_eq!(g.id, format!("token:104729385610473829156:{PDF_SYNC}"));
    assert_eq!(g.kind, GrantKind::Delegated);
    assert_eq!(g.app.id, PDF_SYNC);
    assert_eq!(g.app.name, "PDF Docs Sync");
    assert_eq!(
        attr(&g.app.attributes, "project_number"),
        Some("418273650912")
    );
    assert_eq!(g.principal.kind, PrincipalKind::User);
    assert_eq!(g.principal.id, "noa.friedman@example-corp.com");
    assert_eq!(g.created_at.as_deref(), Some("2026-06-01T08:03:17Z"));
    assert_eq!(g.last_used_at.as_deref(), Some("2026-06-01T09:15:02Z"));
    assert_eq!(g.expires_at, None);
    assert_eq!(attr(&g.attributes, "native_app"), Some("false"));
    assert_eq!(attr(&g.attributes, "anonymous"), Some("false"));
    assert_eq!(attr(&g.attributes, "usage_reported"), Some("true"));
    let r = g.revocation.as_ref().unwrap_or_else(|| panic!("revocable"));
    assert_eq!(r.action, "token");
    assert_eq!(
        r.handle,
        format!(r#"{{"user_key":"104729385610473829156","client_id":"{PDF_SYNC}"}}"#)
    );
    assert!(g.notes.iter().any(|n| n.contains("consent again")));

    // No events for the others: no times, and the record says why.
    let explorer = &out.grants[1];
    assert_eq!(explorer.app.id, EXPLORER);
    assert_eq!(
        (explorer.created_at.clone(), explorer.last_used_at.clone()),
        (None, None)
    );
    assert!(explorer.notes.iter().any(|n| n.contains("180 days")));
    assert_eq!(
        attr(&explorer.app.attributes, "google_first_party"),
        Some("true")
    );
    assert_eq!(attr(&explorer.attributes, "usage_reported"), Some("false"));
    assert!(
        out.grants[3]
            .attributes
            .contains(&("native_app".into(), "true".into()))
    );
    for g in &out.grants {
        for text in all_text(g) {
            assert!(!text.contains("ya29"), "{text}");
        }
    }
}

#[test]
fn token_get_and_delete_answer_probe_and_revoke() {
    let target = RevocationTarget {
        grant_id: format!("token:104729385610473829156:{PDF_SYNC}"),
        action: "token".to_owned(),
        handle: format!(r#"{{"user_key":"104729385610473829156","client_id":"{PDF_SYNC}"}}"#),
    };
    let get = load("tokens-get.json");
    let probe = ok(Probe::new(&settings(), &target));
    assert_eq!(
        probe.url,
        format!(
            "https://admin.googleapis.com/admin/directory/v1/users/104729385610473829156/tokens/{PDF_SYNC}"
        )
    );
    let present = || get.response.to_response();
    assert_eq!(ok(probe.read(&present())), TargetState::Present);
    // "Present" licenses a second revoke call, so a 200 must prove it: a body cut in
    // half, or one about another token, leaves the state unknown.
    let half = Response {
        body: present().body[..present().body.len() / 2].to_vec(),
        ..present()
    };
    let other = Response {
        body: String::from_utf8_lossy(&present().body)
            .replace(PDF_SYNC, "999-other.apps.googleusercontent.com")
            .into_bytes(),
        ..present()
    };
    for garbled in [half, other] {
        let e = probe
            .read(&garbled)
            .expect_err("a 200 that is not this token is no proof");
        assert_eq!(e.code, ErrorCode::Malformed, "{}", e.message);
    }
    let gone = Response {
        status: 404,
        ..present()
    };
    assert_eq!(ok(probe.read(&gone)), TargetState::Gone);

    let delete = load("tokens-delete.json");
    let call = ok(plan_revocation(&settings(), &target));
    assert!(call.url.ends_with(&delete.request.path), "{}", call.url);
    let r = ok(call.outcome(&delete.response.to_response()));
    assert_eq!(r.status, RevocationStatus::Revoked);
    assert!(r.manual_steps.iter().any(|s| s.contains("Blocked")));
}

#[test]
fn app_specific_passwords_are_api_keys() {
    let e = load("asps-list.json");
    let user = api::UserRef {
        id: "108877665544332211009".to_owned(),
        email: "raj.patel@example-corp.com".to_owned(),
        delegated_admin: true,
        ..api::UserRef::default()
    };
    let grants = ok(parse_asps(
        &settings(),
        &user,
        &e.response.to_response().body,
    ));
    assert_eq!(grants.len(), 2);
    let g = &grants[0];
    assert_eq!(g.id, "asp:108877665544332211009:7");
    assert_eq!(g.kind, GrantKind::ApiKey);
    assert_eq!(g.app.id, "app-specific-password");
    assert_eq!(g.principal.id, "raj.patel@example-corp.com");
    assert!(g.scopes.is_empty());
    assert_eq!(g.created_at.as_deref(), Some("2024-05-01T08:00:00Z"));
    assert_eq!(g.last_used_at.as_deref(), Some("2025-06-03T08:00:00Z"));
    assert_eq!(attr(&g.attributes, "asp_name"), Some("Thunderbird laptop"));
    assert_eq!(attr(&g.attributes, "user_is_delegated_admin"), Some("true"));
    let r = g.revocation.as_ref().unwrap_or_else(|| panic!("revocable"));
    assert_eq!(r.action, "asp");
    assert_eq!(
        r.handle,
        r#"{"user_key":"108877665544332211009","code_id":7}"#
    );
    // `lastTimeUsed: "0"` is never.
    assert_eq!(grants[1].last_used_at, None);
    assert!(grants[1].notes.iter().any(|n| n.contains("no use")));
}

#[test]
fn batch_parts_parse_as_token_lists() {
    let e = load("batch-tokens-list.json");
    let body = e.response.body.as_str().unwrap_or_default();
    let mut counts = Vec::new();
    for part in body
        .split("--batch_7f3c2a91e4d8")
        .filter(|p| p.contains("HTTP/1.1"))
    {
        let json = part
            .find("\r\n\r\n{")
            .and_then(|i| part.get(i + 4..))
            .and_then(|rest| rest.get(rest.find('{')?..=rest.rfind('}')?))
            .unwrap_or_else(|| panic!("no JSON in part {part}"));
        counts.push(ok(parse_tokens(&settings(), json.as_bytes())).len());
    }
    // User 2's token list has no `items` key at all: no grants.
    assert_eq!(counts, [1, 0, 1]);
}

#[test]
fn the_credential_scopes_are_the_manifest_permissions() {
    let e = load("oauth-token-jwt-bearer.json");
    let claims = e.request.decoded_jwt_claims.unwrap_or_default();
    let scope = claims["scope"].as_str().unwrap_or_default();
    let mut asked: Vec<&str> = scope.split(' ').collect();
    asked.sort_unstable();
    let manifest = api::manifest();
    let mut declared: Vec<&str> = manifest
        .permissions
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    declared.sort_unstable();
    assert_eq!(asked, declared);
    assert!(manifest.hosts.contains(&"oauth2.googleapis.com".to_owned()));
    assert_eq!(e.response.status, 200);
}

#[test]
fn sign_out_is_not_a_revocation() {
    // users.signOut ends sessions but leaves OAuth grants; the connector never calls it.
    let e = load("users-signout.json");
    assert_eq!(
        (e.request.method.as_str(), e.response.status),
        ("POST", 204)
    );
    assert!(e.response.body.is_null());
}
