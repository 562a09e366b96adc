//! grantscope: audit, score and revoke third-party OAuth grants across SaaS tenants.
//!
//! Data flows one way: [`config`] → [`auth`] (credentials → access tokens) →
//! [`egress`] (the only door to the network) → [`plugin`] (the wasmtime host) →
//! [`scan`] (the scheduler) → [`model`] / [`store`]; [`cli`] sits on top and alone
//! prints; [`audit`] checks and exports the hash-chained log in the store;
//! [`vendor`] maps apps to vendors and [`revoke`] plans, executes and verifies
//! revocation runs through the journal in [`store`]; [`files`] writes the files a
//! user names (reports, exports, the registry) without following planted links;
//! [`text`] makes third-party text safe for a terminal. See ARCHITECTURE.md for the
//! invariants each module keeps.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod egress;
pub mod enforce;
pub mod files;
pub mod identity;
pub mod model;
pub mod pace;
pub mod plugin;
pub mod report;
pub mod revoke;
pub mod scan;
pub mod score;
pub mod store;
pub mod text;
pub mod vendor;

// The benchmarks' synthetic estate (`benches/support/synth.rs`) names the crate by its
// public name; unit tests include it too, to compare scorers over the same grants.
#[cfg(test)]
extern crate self as grantscope;

#[cfg(test)]
mod test_support;

/// An error and its causes on one line (`a: b: c`), for messages that cross a
/// boundary where the chain would otherwise be lost.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// "1 grant", "2 grants": a count with its noun (or verb) in agreement, for any
/// count type.
pub(crate) fn plural<N: Copy + std::fmt::Display + PartialEq + From<u8>>(
    n: N,
    one: &str,
    many: &str,
) -> String {
    let word = if n == N::from(1) { one } else { many };
    format!("{n} {word}")
}

/// The first-party connector ids, which are also their provider ids. Reserved: a
/// third-party plugin may declare neither as its id nor as its provider, or its grants
/// would map to those providers' vendors and join their offboarding plans.
pub const FIRST_PARTY: &[&str] = &[
    "github",
    "google-workspace",
    "microsoft-entra",
    "slack",
    "okta",
    "salesforce",
];

/// First-party connectors compiled into this binary by `build.rs`.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

    /// The embedded connector with this id.
    pub fn get(id: &str) -> Option<&'static [u8]> {
        EMBEDDED.iter().find(|(i, _)| *i == id).map(|(_, b)| *b)
    }
}
