//! grantscope connector for Slack Enterprise Grid organisations.

#![deny(missing_docs)]

use grantscope_connector_sdk::{
    Capability, Context, Error, ErrorCode, Guest, Manifest, Revocation, RevocationTarget, Step,
    TargetState, Task,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct Slack;

fn unsupported() -> Error {
    Error::new(
        ErrorCode::Unsupported,
        "the Slack connector is not written yet",
    )
}

impl Guest for Slack {
    fn manifest() -> Manifest {
        Manifest {
            id: "slack".to_owned(),
            name: "Slack Enterprise Grid organisations".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            provider: "slack".to_owned(),
            hosts: vec!["slack.com".to_owned()],
            capabilities: vec![Capability::Enumerate],
            credential_kinds: vec!["static-token".to_owned()],
            permissions: Vec::new(),
            settings: Vec::new(),
        }
    }

    fn start(_ctx: Context) -> Result<Vec<Task>, Error> {
        Err(unsupported())
    }

    fn run(_ctx: Context, _task: Task) -> Result<Step, Error> {
        Err(unsupported())
    }

    fn revoke(_ctx: Context, _target: RevocationTarget) -> Result<Revocation, Error> {
        Err(unsupported())
    }

    fn probe(_ctx: Context, _target: RevocationTarget) -> Result<TargetState, Error> {
        Err(unsupported())
    }
}

// Only wasm builds export the component (see the GitHub connector).
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(Slack);
