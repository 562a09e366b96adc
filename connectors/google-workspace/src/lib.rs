//! grantscope connector for Google Workspace domains.
//!
//! Enumerates every user's OAuth grants (Directory API `tokens`) and app-specific
//! passwords (`asps`), dates them from the token audit log (Reports API), and revokes
//! them with `tokens.delete` / `asps.delete`. `README.md` holds the mapping from Google
//! objects to grants.
//!
//! This file is the WIT glue only: it reads settings, sends the requests [`api`] builds
//! through the host's egress, and hands the answers back to [`api`]. All provider logic
//! is in [`api`], free of I/O and tested natively.

#![deny(missing_docs)]

pub mod api;

use grantscope_connector_sdk::http;
use grantscope_connector_sdk::{
    Context, Error, ErrorCode, Guest, Level, Manifest, Revocation, RevocationTarget, Step,
    TargetState, Task, log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct GoogleWorkspace;

const ACCEPT: [(&str, &str); 1] = [("accept", "application/json")];

impl Guest for GoogleWorkspace {
    fn manifest() -> Manifest {
        api::manifest()
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        api::Settings::from_context(&ctx)?;
        Ok(api::start_tasks())
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let settings = api::Settings::from_context(&ctx)?;
        let mut work = api::decode_task(&task)?;
        let mut step = Step {
            grants: Vec::new(),
            tasks: Vec::new(),
        };
        // Work too large for a task payload continues here; each round is one page, and
        // the page bound in `api` keeps the loop finite.
        for _ in 0..=api::MAX_EVENT_PAGES {
            let resp = http::get(&work.url(&settings), &ACCEPT)?;
            let out = api::read(&settings, &work, &resp)?;
            for line in &out.warnings {
                log(Level::Warn, line);
            }
            step.grants.extend(out.grants);
            step.tasks.extend(out.tasks);
            match out.inline {
                Some(next) => work = next,
                None => return Ok(step),
            }
        }
        Err(Error::new(
            ErrorCode::Malformed,
            format!("task `{}` did not finish within its page bound", task.kind),
        ))
    }

    fn revoke(ctx: Context, target: RevocationTarget) -> Result<Revocation, Error> {
        let settings = api::Settings::from_context(&ctx)?;
        let call = api::plan_revocation(&settings, &target)?;
        let resp = http::send(call.method, &call.url, &ACCEPT, None)?;
        call.outcome(&resp)
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = api::Settings::from_context(&ctx)?;
        let probe = api::Probe::new(&settings, &target)?;
        let resp = http::get(&probe.url, &ACCEPT)?;
        probe.read(&resp)
    }
}

// Only wasm builds export the component (see the GitHub connector).
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(GoogleWorkspace);
