//! Request, fault and revocation counters, readable while the simulator runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// A snapshot of what the simulator has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Provider API requests received (`/_sim/*` excluded), faulted ones included.
    pub requests: u64,
    /// Requests answered with a rate-limit error (injected or real).
    pub throttled: u64,
    /// Faults injected.
    pub faults: u64,
    /// One entry per revocation target ever addressed, sorted by target.
    pub revocations: Vec<RevocationStat>,
}

/// How often one revocation target was hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationStat {
    /// Provider id (`github`).
    pub provider: String,
    /// The normalized grant id the mutation addressed.
    pub target: String,
    /// The grant's `app.id`, or `unknown` when the target never existed.
    pub app_id: String,
    /// Mutation requests that reached the simulated state (after auth, and not stopped
    /// by a pre-state fault or throttle), including ones answered 404.
    pub calls: u64,
}

/// Thread-safe accumulator behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct StatsRecorder {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: u64,
    throttled: u64,
    faults: u64,
    revocations: BTreeMap<String, RevocationStat>,
}

impl StatsRecorder {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic elsewhere must not take the counters down with it.
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts one provider API request.
    pub(crate) fn request(&self) {
        self.with(|s| s.requests += 1);
    }

    /// Counts one injected fault; `throttle` when it was a rate-limit answer.
    pub(crate) fn fault(&self, throttle: bool) {
        self.with(|s| {
            s.faults += 1;
            s.throttled += u64::from(throttle);
        });
    }

    /// Counts a real (budget) rate-limit answer.
    pub(crate) fn throttled(&self) {
        self.with(|s| s.throttled += 1);
    }

    /// Counts one mutation that reached the state for `target`.
    pub(crate) fn revocation(&self, provider: &str, target: String, app_id: Option<&str>) {
        self.with(|s| {
            let entry = s
                .revocations
                .entry(target.clone())
                .or_insert_with(|| RevocationStat {
                    provider: provider.to_owned(),
                    target,
                    app_id: "unknown".to_owned(),
                    calls: 0,
                });
            if let Some(app_id) = app_id {
                app_id.clone_into(&mut entry.app_id);
            }
            entry.calls += 1;
        });
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> Stats {
        self.with(|s| Stats {
            requests: s.requests,
            throttled: s.throttled,
            faults: s.faults,
            revocations: s.revocations.values().cloned().collect(),
        })
    }
}
