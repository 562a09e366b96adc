//! The Slack API simulator.
//!
//! Served under `/slack` on the simulator (the tenant's base URL is the simulator URL
//! plus that prefix plus `/api`), speaking the Web API methods of
//! `testdata/providers/slack/API.md` with the shapes of its `examples/`: `admin.teams.list`,
//! `admin.apps.approved.list`, `admin.apps.restricted.list`, `admin.apps.requests.list`
//! (cursor pagination), `team.integrationLogs` (page/count pagination),
//! `admin.apps.uninstall` and `admin.apps.restrict`.
//!
//! Slack answers almost everything with HTTP 200 and `{"ok": false, "error": ...}`;
//! only rate limits (429 with `Retry-After`) and outages (5xx) use other statuses.
//! Each method has its documented rate-limit tier, enforced per method as a token
//! bucket (see [`Tier`]).

mod handlers;
mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rand::Rng;
use serde_json::json;

pub(crate) use model::Model;

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::provider::{ConfigEnv, Dialect, Keys, Provider, Tenants};

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// Run-time state: the model behind a lock, the auditor's token, the tier buckets.
pub(crate) struct Sim {
    model: Mutex<Model>,
    /// The org admin's user token (`xoxp-…`) the requests must carry.
    token: String,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

impl Sim {
    /// Serves `model`. The auditor's static token is random per run.
    pub(crate) fn new(model: Model, _keys: &Keys) -> Self {
        let mut rng = rand::rng();
        let token = format!(
            "xoxp-{}-{}-{}-{}",
            rng.random_range(1_000_000_000u64..9_999_999_999),
            rng.random_range(1_000_000_000u64..9_999_999_999),
            rng.random_range(1_000_000_000u64..9_999_999_999),
            crate::world::alphanumeric(&mut rng, 32).to_ascii_lowercase(),
        );
        Self {
            model: Mutex::new(model),
            token,
            buckets: Mutex::default(),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's config entry: the org admin's token as a static Bearer token.
    pub(crate) fn tenants(&self, env: &ConfigEnv<'_>) -> Tenants {
        let token_file = env.secret("slack-token", &self.token)?;
        let enterprise_id = self.model().enterprise.id.clone();
        Ok(vec![TenantEntry {
            name: model::TENANT.to_owned(),
            connector: "slack",
            host: env.host.clone(),
            settings: vec![
                ("enterprise_id", enterprise_id),
                (
                    "api_base",
                    format!("{}/api", env.provider_base(Provider::Slack)),
                ),
            ],
            credential: vec![
                ("kind", "static-token".to_owned()),
                ("token_file", token_file),
            ],
        }])
    }

    /// Takes one request from `method`'s tier bucket; `Err(seconds)` to wait when
    /// it is empty.
    fn spend(&self, method: &str) -> Result<(), u64> {
        let Some((name, tier)) = Tier::of(method) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = buckets.entry(name).or_insert(Bucket {
            tokens: f64::from(tier.burst()),
            at: now,
        });
        let per_second = f64::from(tier.per_minute()) / 60.0;
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second)
            .min(f64::from(tier.burst()));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds until one request is available again.
            let wait = ((1.0 - b.tokens) / per_second).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

/// A method's rate-limit tier (API.md §7). Slack counts per method, per workspace,
/// per app; the simulator keeps one bucket per method for the org token, the
/// conservative reading of "don't assume fan-out across workspaces buys quota".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    /// 1+ per minute, small bursts: `admin.apps.uninstall`.
    One,
    /// 20+ per minute: the `admin.apps` lists and writes, `team.integrationLogs`.
    Two,
    /// 50+ per minute: `admin.teams.list`.
    Three,
}

impl Tier {
    /// The method's canonical name and tier; `None` for methods the simulator does
    /// not limit.
    fn of(method: &str) -> Option<(&'static str, Tier)> {
        const METHODS: &[(&str, Tier)] = &[
            ("admin.apps.uninstall", Tier::One),
            ("admin.apps.approved.list", Tier::Two),
            ("admin.apps.restricted.list", Tier::Two),
            ("admin.apps.requests.list", Tier::Two),
            ("admin.apps.restrict", Tier::Two),
            ("team.integrationLogs", Tier::Two),
            ("admin.teams.list", Tier::Three),
        ];
        METHODS.iter().find(|(m, _)| *m == method).copied()
    }

    /// The sustained budget.
    fn per_minute(self) -> u32 {
        match self {
            Tier::One => 1,
            Tier::Two => 20,
            Tier::Three => 50,
        }
    }

    /// Requests available at once: a minute's budget, and for Tier 1 the "small
    /// burst" Slack allows (ten uninstalls back to back).
    fn burst(self) -> u32 {
        match self {
            Tier::One => 10,
            t => t.per_minute(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Slack's error answers: HTTP 200 with `ok: false`.
pub(crate) fn slack_error(code: &str) -> Response {
    body(json!({"ok": false, "error": code}))
}

/// A 200 JSON answer.
pub(crate) fn body(v: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// Slack's 429: `Retry-After` in seconds and `{"ok": false, "error": "ratelimited"}`.
fn ratelimited(seconds: u64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"ok": false, "error": "ratelimited"})),
    )
        .into_response();
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    r
}

struct SlackDialect;

impl Dialect for SlackDialect {
    fn throttled(&self, _kind: FaultKind) -> Response {
        ratelimited(1)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        // No Retry-After on a 503: the host would then retry a mutation that may
        // already have been applied.
        let code = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "fatal_error"
        } else {
            "internal_error"
        };
        (status, axum::Json(json!({"ok": false, "error": code}))).into_response()
    }
}

/// The Web API methods that change state: only they can fail after changing it.
fn is_mutation(method: &str) -> bool {
    matches!(
        method,
        "admin.apps.uninstall"
            | "admin.apps.restrict"
            | "admin.apps.approve"
            | "admin.apps.clearResolution"
    )
}

/// The method name of a `/api/{method}` path.
fn method_of(path: &str) -> &str {
    path.strip_prefix("/api/").unwrap_or_default()
}

/// Tier limits, fault injection, and Slack's headers.
async fn layer(State(sim): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let method = method_of(req.uri().path()).to_owned();
    let limited = sim.slack.as_ref().map(|s| s.spend(&method));
    let mut response = match limited {
        Some(Err(wait)) => {
            sim.stats.request();
            sim.stats.throttled();
            ratelimited(wait)
        }
        _ => crate::provider::inject(&sim, &SlackDialect, is_mutation(&method), req, next).await,
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    // Slack publishes its tiers only in its documentation; the simulator also states
    // each method's tier the standard way, so a client paces each method exactly. The
    // policy is named after the method: Slack counts each method on its own, and
    // answers naming one policy count against one quota.
    if let Some((name, tier)) = Tier::of(&method)
        && let Ok(v) = HeaderValue::from_str(&format!("\"{name}\";q={};w=60", tier.per_minute()))
    {
        h.insert(crate::quota::POLICY, v);
    }
    let id = format!("{:016x}", rand::rng().random::<u64>());
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-slack-req-id", v);
    }
    response
}

/// The routes, relative to `/slack`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/{method}", any(handlers::dispatch))
        .fallback(|| async { slack_error("unknown_method") })
        .layer(middleware::from_fn_with_state(shared, layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_match_the_reference() {
        assert_eq!(
            Tier::of("admin.apps.uninstall").map(|t| t.1),
            Some(Tier::One)
        );
        assert_eq!(
            Tier::of("team.integrationLogs").map(|t| t.1),
            Some(Tier::Two)
        );
        assert_eq!(Tier::of("admin.teams.list").map(|t| t.1), Some(Tier::Three));
        assert_eq!(Tier::of("auth.test"), None);
    }

    #[test]
    fn a_bucket_runs_dry_then_names_the_wait() {
        let w = crate::world::World::new(1, 10);
        let keys = Keys {
            public: jsonwebtoken::DecodingKey::from_secret(b"unused"),
        };
        let sim = Sim::new(Model::generate(&w), &keys);
        for _ in 0..Tier::One.burst() {
            assert_eq!(sim.spend("admin.apps.uninstall"), Ok(()));
        }
        let wait = sim.spend("admin.apps.uninstall");
        assert!(matches!(wait, Err(s) if (1..=60).contains(&s)), "{wait:?}");
        assert_eq!(sim.spend("auth.test"), Ok(()));
        assert!(sim.token.starts_with("xoxp-"));
    }
}
