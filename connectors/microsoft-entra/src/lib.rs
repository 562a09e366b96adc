//! grantscope connector for Microsoft Entra ID tenants (Microsoft Graph).
//!
//! Enumerates the delegated permission grants (user and admin consent) and application
//! permissions (app role assignments) held by third-party apps, and revokes them.
//! `README.md` holds the mapping from Entra objects to grants.
//!
//! This file is the WIT glue only: it reads settings and hands [`api`] a [`Transport`]
//! that sends through the host's egress. All provider logic is in [`api`], free of
//! I/O and tested natively.

#![deny(missing_docs)]

pub mod api;

use api::{Settings, Transport};
use grantscope_connector_sdk::http::{self, Response};
use grantscope_connector_sdk::{
    Context, Error, Guest, Level, Manifest, Method, Revocation, RevocationTarget, Step,
    TargetState, Task, log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct MicrosoftEntra;

/// Requests through the host's egress.
struct Egress;

impl Transport for Egress {
    fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, Error> {
        http::send(method, url, headers, body)
    }
}

impl Guest for MicrosoftEntra {
    fn manifest() -> Manifest {
        api::manifest()
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        let settings = Settings::from_context(&ctx)?;
        Ok(api::start_tasks(&settings))
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let settings = Settings::from_context(&ctx)?;
        let job = api::decode_task(&settings, &task)?;
        let out = api::run(&settings, &job, &mut Egress)?;
        for line in &out.warnings {
            log(Level::Warn, line);
        }
        Ok(Step {
            grants: out.grants,
            tasks: out.tasks,
        })
    }

    fn revoke(ctx: Context, target: RevocationTarget) -> Result<Revocation, Error> {
        let settings = Settings::from_context(&ctx)?;
        api::revoke(&settings, &target, &mut Egress)
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = Settings::from_context(&ctx)?;
        api::probe(&settings, &target, &mut Egress)
    }
}

// Only wasm builds export the component: its symbol names are not valid in a native
// linker's version script, and native builds exist for tests.
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(MicrosoftEntra);
