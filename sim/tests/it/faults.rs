//! Injected faults: every kind shows up, mutations may fail after committing, and state
//! stays consistent whatever happens.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Seen {
    Secondary,
    Primary,
    Status(u16),
    Reset,
    Slow,
    Malformed,
    Ok,
}

/// Classifies one request's outcome the way a client experiences it.
async fn classify(req: reqwest::RequestBuilder) -> Seen {
    let started = Instant::now();
    let Ok(resp) = req.send().await else {
        return Seen::Reset;
    };
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let remaining = header("x-ratelimit-remaining");
    let retry_after = header("retry-after");
    let Ok(bytes) = resp.bytes().await else {
        return Seen::Reset;
    };
    let parsed = serde_json::from_slice::<Value>(&bytes);
    match status {
        429 => {
            assert_eq!(retry_after.as_deref(), Some("1"));
            let msg = parsed.expect("429 body")["message"]
                .as_str()
                .expect("message")
                .to_owned();
            assert!(
                msg.starts_with("You have exceeded a secondary rate limit"),
                "{msg}"
            );
            Seen::Secondary
        }
        403 => {
            assert_eq!(remaining.as_deref(), Some("0"));
            let msg = parsed.expect("403 body")["message"]
                .as_str()
                .expect("message")
                .to_owned();
            assert!(msg.starts_with("API rate limit exceeded for "), "{msg}");
            Seen::Primary
        }
        500 | 502 | 503 => {
            assert!(parsed.expect("basic-error body")["message"].is_string());
            Seen::Status(status)
        }
        204 if bytes.is_empty() && started.elapsed() >= Duration::from_millis(990) => Seen::Slow,
        204 if bytes.is_empty() => Seen::Ok,
        _ if parsed.is_err() => {
            assert_eq!(status, 200, "a malformed body comes with a 200");
            Seen::Malformed
        }
        _ if started.elapsed() >= Duration::from_millis(990) => Seen::Slow,
        _ => Seen::Ok,
    }
}

#[tokio::test]
async fn faults_at_full_rate_produce_every_kind_and_keep_state_consistent() {
    let h = common::start(13, 80).await;
    let token = h.token("acme-corp").await;
    let creds = h
        .get_all(
            "/orgs/acme-corp/credential-authorizations?per_page=100",
            &token,
        )
        .await;
    let before = h.sim.stats();
    h.sim.set_faults(1.0);

    let want: HashSet<Seen> = [
        Seen::Secondary,
        Seen::Primary,
        Seen::Status(500),
        Seen::Status(502),
        Seen::Status(503),
        Seen::Reset,
        Seen::Slow,
        Seen::Malformed,
    ]
    .into();
    let mut seen = HashSet::new();
    let mut sent = 0u64;
    let mut throttled = 0u64;
    for _ in 0..40 {
        let batch = (0..16).map(|_| {
            classify(
                h.http
                    .get(h.url("/orgs/acme-corp/installations"))
                    .bearer_auth(&token),
            )
        });
        for s in futures_util::future::join_all(batch).await {
            sent += 1;
            throttled += u64::from(matches!(s, Seen::Secondary | Seen::Primary));
            assert_ne!(s, Seen::Ok, "at rate 1 every request is faulted");
            seen.insert(s);
        }
        if want.is_subset(&seen) {
            break;
        }
    }
    assert!(
        want.is_subset(&seen),
        "missing {:?}",
        want.difference(&seen).collect::<Vec<_>>()
    );

    // Token endpoints are faulted too: the host must retry them.
    let jwt = h.jwt();
    let r = classify(
        h.http
            .get(h.url("/orgs/acme-corp/installation"))
            .bearer_auth(&jwt),
    )
    .await;
    sent += 1;
    assert_ne!(r, Seen::Ok);
    throttled += u64::from(matches!(r, Seen::Secondary | Seen::Primary));

    // One DELETE per credential under faults; whatever the client saw, a credential is
    // gone exactly when its request reached the state.
    let victims: Vec<u64> = creds
        .iter()
        .take(24)
        .map(|c| c["credential_id"].as_u64().expect("id"))
        .collect();
    let deletes = victims.iter().map(|id| {
        classify(
            h.http
                .delete(h.url(&format!("/orgs/acme-corp/credential-authorizations/{id}")))
                .bearer_auth(&token),
        )
    });
    for s in futures_util::future::join_all(deletes).await {
        sent += 1;
        throttled += u64::from(matches!(s, Seen::Secondary | Seen::Primary));
    }

    h.sim.set_faults(0.0);
    let stats = h.sim.stats();
    assert_eq!(stats.requests - before.requests, sent);
    assert_eq!(
        stats.faults - before.faults,
        sent,
        "every request was faulted"
    );
    assert_eq!(stats.throttled - before.throttled, throttled);
    let listed: HashSet<u64> = h
        .get_all(
            "/orgs/acme-corp/credential-authorizations?per_page=100",
            &token,
        )
        .await
        .iter()
        .map(|c| c["credential_id"].as_u64().expect("id"))
        .collect();
    let truth = h.sim.truth();
    let mut removed = 0;
    for id in &victims {
        let target = format!("github/acme-corp/credential-authorization:{id}");
        let calls = stats
            .revocations
            .iter()
            .find(|r| r.target == target)
            .map_or(0, |r| r.calls);
        assert!(calls <= 1);
        let present = listed.contains(id);
        assert_eq!(
            present,
            calls == 0,
            "{target}: present={present} calls={calls}"
        );
        assert_eq!(
            truth.grants.iter().any(|g| g.id == target),
            present,
            "{target}"
        );
        removed += usize::from(!present);
    }
    assert_eq!(listed.len() + removed, creds.len(), "nothing else changed");
    h.sim.shutdown().await;
}
