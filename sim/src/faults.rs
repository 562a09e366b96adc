//! Fault injection: which fault (if any) strikes a request, and when.
//!
//! Provider-neutral; each provider module renders the fault in its own dialect (GitHub's
//! bodies and headers live in `github`).

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

/// The faults a request can suffer. Real SaaS APIs produce each of these under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FaultKind {
    /// 429 with `retry-after`.
    SecondaryRateLimit,
    /// 403 with `remaining: 0`.
    PrimaryRateLimit,
    /// 500.
    ServerError,
    /// 502.
    BadGateway,
    /// 503.
    Unavailable,
    /// Headers, part of the body, then the connection drops.
    ConnectionReset,
    /// 1-2 s of latency, then a normal answer.
    Slow,
    /// 200 with a truncated JSON body.
    Malformed,
}

const ALL: [FaultKind; 8] = [
    FaultKind::SecondaryRateLimit,
    FaultKind::PrimaryRateLimit,
    FaultKind::ServerError,
    FaultKind::BadGateway,
    FaultKind::Unavailable,
    FaultKind::ConnectionReset,
    FaultKind::Slow,
    FaultKind::Malformed,
];

/// A fault chosen for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Whether the request is processed (state changed) before the fault strikes.
    /// Providers really do fail after committing a mutation; clients must cope.
    pub after_state: bool,
}

impl Fault {
    /// Whether the fault is a rate-limit answer (counted as throttled too).
    pub(crate) fn throttles(self) -> bool {
        matches!(
            self.kind,
            FaultKind::SecondaryRateLimit | FaultKind::PrimaryRateLimit
        )
    }
}

/// The run-time fault rate, shared by all requests.
#[derive(Debug)]
pub(crate) struct Faults {
    rate_bits: AtomicU64,
}

impl Faults {
    /// A fault source with the given rate (clamped to `[0, 1]`).
    pub(crate) fn new(rate: f64) -> Self {
        let f = Self {
            rate_bits: AtomicU64::new(0),
        };
        f.set(rate);
        f
    }

    /// Changes the rate; out-of-range values are clamped, NaN means 0.
    pub(crate) fn set(&self, rate: f64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.rate_bits.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The current rate.
    pub(crate) fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Ordering::Relaxed))
    }

    /// Rolls the dice for one request. Faults are deliberately not seeded: they model the
    /// network, and tests assert on invariants, not on a particular sequence.
    pub(crate) fn draw(&self, mutation: bool) -> Option<Fault> {
        draw_with(&mut rand::rng(), self.rate(), mutation)
    }
}

fn draw_with(rng: &mut impl Rng, rate: f64, mutation: bool) -> Option<Fault> {
    if rate <= 0.0 || !rng.random_bool(rate) {
        return None;
    }
    let kind = ALL[rng.random_range(0..ALL.len())];
    let after_state = match kind {
        // Half of the errors that can follow a commit strike after it, for mutations.
        FaultKind::ServerError
        | FaultKind::BadGateway
        | FaultKind::Unavailable
        | FaultKind::ConnectionReset => mutation && rng.random_bool(0.5),
        // A garbled body is a garbled *response*: the request was processed.
        FaultKind::Malformed => true,
        FaultKind::SecondaryRateLimit | FaultKind::PrimaryRateLimit | FaultKind::Slow => false,
    };
    Some(Fault { kind, after_state })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rate_is_clamped() {
        let f = Faults::new(3.0);
        assert!((f.rate() - 1.0).abs() < f64::EPSILON);
        f.set(f64::NAN);
        assert!(f.rate().abs() < f64::EPSILON);
        f.set(-1.0);
        assert!(f.draw(true).is_none());
    }

    #[test]
    fn every_kind_is_drawn_and_only_mutations_fail_after_state() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        let mut after_mutation = 0;
        for i in 0..4000 {
            let mutation = i % 2 == 0;
            let fault = draw_with(&mut rng, 1.0, mutation).expect("rate 1 always faults");
            seen.insert(fault.kind);
            if fault.after_state && fault.kind != FaultKind::Malformed {
                assert!(mutation, "{fault:?} after state on a read");
                after_mutation += 1;
            }
        }
        assert_eq!(seen.len(), ALL.len());
        assert!(after_mutation > 300, "{after_mutation}");
        assert!(draw_with(&mut rng, 0.0, true).is_none());
    }
}
