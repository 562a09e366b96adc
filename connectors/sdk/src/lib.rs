//! Guest-side helpers for grantscope connectors.
//!
//! A connector is a `cdylib` built for `wasm32-wasip2` that implements
//! [`Guest`](bindings::exports::grantscope::connector::plugin::Guest) and calls
//! [`export_connector!`]. This crate generates the bindings for the
//! `grantscope:connector@0.2.0` contract once, so every connector shares them, and adds
//! what every connector needs: HTTP through the host's egress, JSON decoding with
//! errors that say what went wrong, RFC 5988 `Link` pagination, timestamp
//! normalisation and settings lookup.
//!
//! Keep provider logic free of I/O (bytes in, grants and tasks out) so it can be
//! unit-tested natively against the provider's documented examples; only the thin
//! glue calls [`http`].

#![deny(missing_docs)]

/// Bindings generated from `wit/since_v0.2.0`.
#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.2.0",
        world: "connector",
        pub_export_macro: true,
        export_macro_name: "export_connector",
        default_bindings_module: "grantscope_connector_sdk::bindings",
    });
}

pub mod http;
pub mod time;

/// Exports a type implementing [`Guest`] as the connector: `export_connector!(MyConnector);`.
pub use bindings::export_connector;

pub use bindings::exports::grantscope::connector::plugin::Guest;
pub use bindings::grantscope::connector::types::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Level, Method, Permission,
    PluginManifest as Manifest, Principal, PrincipalKind, Quota, Revocation, RevocationStatus,
    RevocationTarget, Setting, Step, TargetState, Task,
};

impl Error {
    /// Builds an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A rate limit the provider stated only in its body (Google's 403
    /// `userRateLimitExceeded`, GitHub's secondary limit): the host pauses the tenant
    /// for `retry_after` and runs the call again, within its retry budget.
    pub fn rate_limited(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Error {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after_ms: Some(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl Quota {
    /// A quota of `requests` per `window_secs`, without bursts, for the requests whose
    /// path matches one of `paths` (none: every request no other quota claims), as
    /// documented at `source`.
    pub fn new(name: &str, requests: u32, window_secs: u32, paths: &[&str], source: &str) -> Self {
        Quota {
            name: name.to_owned(),
            requests,
            window_secs,
            burst: 1,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            source: source.to_owned(),
        }
    }

    /// The same quota, letting `burst` requests through back to back.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }
}

// No `Display` impl here: wit-bindgen already generates `Display` and
// `std::error::Error` for `error`, because the contract uses it as a `result` error
// type; a second impl does not compile.

impl Context {
    /// The value of a setting, if configured.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required setting, or a `config` error naming it.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        match self.setting(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(Error::new(
                ErrorCode::Config,
                format!(
                    "tenant `{}` has no `{name}` setting: add it under [tenant.settings]",
                    self.tenant
                ),
            )),
        }
    }
}

impl Task {
    /// Builds a task whose payload is `payload` serialised as JSON.
    pub fn json(kind: &str, payload: &impl serde::Serialize) -> Self {
        Task {
            kind: kind.to_owned(),
            // Serialising plain data structures cannot fail.
            payload: serde_json::to_string(payload).unwrap_or_default(),
        }
    }

    /// Decodes the task's JSON payload.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.payload).map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("task `{}` has a bad payload: {e}", self.kind),
            )
        })
    }
}

/// `s` cut to `max` characters (with `…` when cut): provider strings copied into
/// grants and messages are bounded, since the host refuses a whole grant over its field
/// caps and one odd name must not hide it.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

impl RevocationTarget {
    /// An `invalid-input` error naming this target: its grant id and action, clipped,
    /// followed by `why`. Every connector refuses a target it cannot decode this way.
    pub fn invalid(&self, why: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "revocation target `{}` ({}) {why}",
                clip(&self.grant_id, 120),
                clip(&self.action, 40)
            ),
        )
    }

    /// The error for a handle that does not decode.
    pub fn bad_handle(&self, e: &serde_json::Error) -> Error {
        self.invalid(format_args!(
            "has a bad handle: {}",
            clip(&e.to_string(), 120)
        ))
    }
}

/// Logs one line through the host.
pub fn log(level: Level, message: &str) {
    bindings::grantscope::connector::log::log(level, message);
}

/// Decodes a JSON body, naming `what` in the error so the operator knows which
/// response was malformed.
pub fn decode_json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::new(ErrorCode::Malformed, format!("could not parse {what}: {e}")))
}
