//! grantscope connector for GitHub organisations.
//!
//! Enumerates an organisation's GitHub App installations, SAML SSO credential
//! authorizations and approved fine-grained personal access tokens, and revokes
//! what GitHub lets an organisation revoke. `README.md` holds the mapping from
//! GitHub objects to grants.
//!
//! This file is the WIT glue only: it reads settings, sends the requests [`api`]
//! builds through the host's egress, and hands the answers back to [`api`]. All
//! provider logic is in [`api`], free of I/O and tested natively.

#![deny(missing_docs)]

pub mod api;

use api::{Probe, ProbeStep, RevocationPlan, Settings};
use grantscope_connector_sdk::http;
use grantscope_connector_sdk::{
    Context, Error, ErrorCode, Guest, Level, Manifest, Revocation, RevocationTarget, Step,
    TargetState, Task, log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct GitHub;

impl Guest for GitHub {
    fn manifest() -> Manifest {
        api::manifest()
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        let settings = Settings::from_context(&ctx)?;
        Ok(api::start_tasks(&settings))
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let settings = Settings::from_context(&ctx)?;
        let (listing, page) = api::decode_task(&settings, &task)?;
        let resp = http::get(&page.url, &api::headers())?;
        let out = api::read_page(&settings, listing, &page, &resp)?;
        for line in &out.warnings {
            log(Level::Warn, line);
        }
        Ok(Step {
            grants: out.grants,
            tasks: out.next.into_iter().collect(),
        })
    }

    fn revoke(ctx: Context, target: RevocationTarget) -> Result<Revocation, Error> {
        let settings = Settings::from_context(&ctx)?;
        match api::plan_revocation(&settings, &target)? {
            RevocationPlan::Manual(answer) => Ok(answer),
            RevocationPlan::Call(call) => {
                let resp = http::send(call.method, &call.url, &call.headers(), call.body.clone())?;
                call.outcome(&resp)
            }
        }
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = Settings::from_context(&ctx)?;
        let probe = Probe::new(&settings, &target)?;
        let mut url = probe.first_url().to_owned();
        // The host's per-call egress budget ends a long walk first; the bound here
        // only keeps the loop finite whatever the host does.
        for page in 1..=api::MAX_PAGES {
            let resp = http::get(&url, &api::headers())?;
            match probe.read(&url, page, &resp)? {
                ProbeStep::Done(state) => return Ok(state),
                ProbeStep::Next(next) => url = next,
            }
        }
        Err(Error::new(
            ErrorCode::Malformed,
            format!(
                "github's listing for `{}` goes past {} pages; the target's state is unknown",
                target.grant_id,
                api::MAX_PAGES
            ),
        ))
    }
}

// Only wasm builds export the component: its symbol names (`…/plugin@0.1.0#run`) are
// not valid in a native linker's version script, and native builds exist for tests.
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(GitHub);
