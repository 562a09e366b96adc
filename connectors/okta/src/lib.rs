//! grantscope connector for Okta organisations.
//!
//! Enumerates the `okta.*` scope grants of OAuth apps, users' consent grants and
//! refresh tokens, and API service integrations, and revokes each of them (deactivating
//! the app too when the tenant says the vendor owns it). `README.md` holds the mapping
//! from Okta objects to grants.
//!
//! This file is the WIT glue only: it reads settings, sends the one request [`api`]
//! names per task through the host's egress, and hands the answer back to [`api`].

#![deny(missing_docs)]

pub mod api;

use api::Settings;
use grantscope_connector_sdk::http;
use grantscope_connector_sdk::{
    Context, Error, Guest, Level, Manifest, Revocation, RevocationTarget, Step, TargetState, Task,
    log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct Okta;

impl Guest for Okta {
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
        let resp = http::get(job.url(), &api::headers())?;
        let out = api::read(&settings, &job, &resp)?;
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
        let plan = api::plan_revocation(&settings, &target)?;
        // Deactivation first (Okta's recommended order): it is idempotent, and when it
        // fails nothing has been deleted yet.
        if let (Some(read), Some(call)) = (&plan.app_status, &plan.deactivate) {
            let app = http::get(&read.url, &api::headers())?;
            if plan.app_active(&app)? {
                let resp = http::send(call.method, &call.url, &api::headers(), None)?;
                plan.check_deactivation(&resp)?;
            }
        }
        let resp = http::send(plan.delete.method, &plan.delete.url, &api::headers(), None)?;
        plan.outcome(&resp)
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = Settings::from_context(&ctx)?;
        let probe = api::Probe::new(&settings, &target)?;
        let resp = http::get(&probe.url(), &api::headers())?;
        probe.read(&resp)
    }
}

// Only wasm builds export the component (see the GitHub connector).
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(Okta);
