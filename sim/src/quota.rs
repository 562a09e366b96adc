//! The simulator's own quota: how fast one credential may call one provider.
//!
//! Real providers publish their limits and say how much is left in headers; the
//! simulator does the same so that a client paces itself at the simulator's speed
//! instead of a provider's documented (far lower) one, and is refused with a 429 when
//! it goes faster. Every answer without a policy of its own carries
//! `RateLimit-Policy: "sim";q=RATE;w=1` (draft-ietf-httpapi-ratelimit-headers); a
//! provider module that has finer limits (Slack's tiers) writes its own policy first.
//!
//! The quota counts per provider and per `Authorization` value, the way providers
//! count per app or per token: two tenants on one simulator each get the full rate.
//! It is a token bucket holding one second of requests, so a client that spaces its
//! requests at the rate is never refused, whatever the phase of its clock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Shared;
use crate::provider::Provider;

/// `RateLimit-Policy`, lowercase as `http` wants it.
pub(crate) const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`, what remains of the policy's window.
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Buckets keyed by provider and credential.
#[derive(Debug)]
pub(crate) struct Quota {
    rate: Option<NonZeroU32>,
    hasher: RandomState,
    buckets: Mutex<HashMap<(Provider, u64), Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The most buckets kept; past it the oldest state is dropped, which only ever
/// forgives a client (a fresh bucket is full).
const MAX_BUCKETS: usize = 4096;

impl Quota {
    /// A quota of `rate` requests per second per credential; `None` advertises and
    /// enforces nothing.
    pub(crate) fn new(rate: Option<NonZeroU32>) -> Quota {
        Quota {
            rate,
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request; `Err(seconds)` to wait when the bucket is empty.
    fn spend(&self, provider: Provider, credential: &[u8], now: Instant) -> Result<(), u64> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let per_second = f64::from(rate.get());
        let key = (provider, self.hasher.hash_one(credential));
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.clear();
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: per_second,
            at: now,
        });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second)
            .min(per_second);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }

    /// The advertised policy, when there is one.
    fn policy(&self) -> Option<HeaderValue> {
        let rate = self.rate?;
        HeaderValue::from_str(&format!("\"sim\";q={rate};w=1")).ok()
    }
}

/// The provider a path belongs to: the one whose prefix it starts with; GitHub,
/// which is served at the root, otherwise.
fn provider_of(path: &str) -> Provider {
    Provider::ALL
        .iter()
        .copied()
        .find(|p| {
            let prefix = p.prefix();
            !prefix.is_empty()
                && path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .unwrap_or(Provider::Github)
}

/// Enforces and advertises the quota around every provider route.
pub(crate) async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let provider = provider_of(path);
    let credential = req
        .headers()
        .get(AUTHORIZATION)
        .map_or(&b""[..], HeaderValue::as_bytes);
    let quota = &shared.quota;
    let policy = quota.policy();
    let spent = quota.spend(provider, credential, Instant::now());
    let mut response = match spent {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            shared.stats.request();
            shared.stats.throttled();
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                "the simulator's quota for this credential is spent; see RateLimit-Policy\n",
            )
                .into_response();
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(wait));
            if let Ok(v) = HeaderValue::from_str(&format!("\"sim\";r=0;t={wait}")) {
                r.headers_mut().insert(RATELIMIT, v);
            }
            r
        }
    };
    if let Some(policy) = policy
        && !response.headers().contains_key(POLICY)
    {
        response.headers_mut().insert(POLICY, policy);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_credential_gets_one_second_of_requests_then_waits() {
        let q = Quota::new(NonZeroU32::new(10));
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(q.spend(Provider::Okta, b"Bearer a", t0).is_ok());
        }
        assert_eq!(q.spend(Provider::Okta, b"Bearer a", t0), Err(1));
        // Another credential, another provider: their own buckets.
        assert!(q.spend(Provider::Okta, b"Bearer b", t0).is_ok());
        assert!(q.spend(Provider::Slack, b"Bearer a", t0).is_ok());
        // A client spaced at the rate is never refused.
        let mut t = t0 + Duration::from_millis(100);
        for _ in 0..100 {
            assert!(q.spend(Provider::Okta, b"Bearer a", t).is_ok());
            t += Duration::from_millis(100);
        }
    }

    #[test]
    fn no_rate_means_no_quota() {
        let q = Quota::new(None);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(q.spend(Provider::Github, b"", t0).is_ok());
        }
        assert!(q.policy().is_none());
    }

    #[test]
    fn paths_map_to_their_provider() {
        for p in Provider::ALL {
            if !p.prefix().is_empty() {
                assert_eq!(provider_of(&format!("{}/x", p.prefix())), p);
            }
        }
        assert_eq!(
            provider_of("/orgs/acme-corp/installation"),
            Provider::Github
        );
    }
}
