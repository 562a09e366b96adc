//! grantscope connector for Slack Enterprise Grid organisations.
//!
//! Enumerates the apps approved for the whole organisation and the apps and legacy
//! integrations installed in each workspace (rebuilt from the integration logs), and
//! revokes an app by uninstalling it and restricting it org-wide. `README.md` holds the
//! mapping from Slack objects to grants.
//!
//! This file is the WIT glue only: it reads settings, sends the requests [`api`]
//! builds through the host's egress, and hands the answers back to [`api`].

#![deny(missing_docs)]

pub mod api;

use api::{Job, Probe, ProbeStep, RevocationPlan, Settings, Uninstall};
use grantscope_connector_sdk::http;
use grantscope_connector_sdk::{
    Context, Error, ErrorCode, Guest, Level, Manifest, Method, Revocation, RevocationTarget, Step,
    TargetState, Task, log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct Slack;

impl Guest for Slack {
    fn manifest() -> Manifest {
        api::manifest()
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        Settings::from_context(&ctx)?;
        Ok(api::start_tasks())
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let settings = Settings::from_context(&ctx)?;
        let page = match api::decode_task(&task)? {
            Job::Cursor(t) => {
                let resp = http::get(&t.url(&settings), &api::headers())?;
                api::read_cursor_page(&settings, &t, &resp)?
            }
            Job::Logs(t) => {
                let resp = http::get(&t.url(&settings), &api::headers())?;
                api::read_logs_page(&settings, &t, &resp)?
            }
        };
        for line in &page.info {
            log(Level::Info, line);
        }
        for line in &page.warnings {
            log(Level::Warn, line);
        }
        Ok(Step {
            grants: page.grants,
            tasks: page.tasks,
        })
    }

    fn revoke(ctx: Context, target: RevocationTarget) -> Result<Revocation, Error> {
        let settings = Settings::from_context(&ctx)?;
        let plan = match api::plan_revocation(&settings, &target)? {
            RevocationPlan::Manual(answer) => return Ok(answer),
            RevocationPlan::Calls(plan) => plan,
        };
        let post =
            |p: api::Post| http::send(Method::Post, &p.url, &api::form_headers(), Some(p.body));
        // Each call is sent once: a failed mutation is not repeated here; the host
        // probes the target and decides.
        let uninstalled = post(plan.uninstall());
        let outcome = plan.uninstall_outcome(uninstalled.as_ref().map_err(Clone::clone));
        let restricted = Uninstall::should_restrict(&outcome).then(|| post(plan.restrict()));
        plan.finish(
            outcome,
            restricted
                .as_ref()
                .map(|r| r.as_ref().map_err(Clone::clone)),
        )
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = Settings::from_context(&ctx)?;
        let probe = Probe::new(&settings, &target)?;
        let mut replay = probe.start();
        let mut url = probe.first_url();
        for page in 1..=api::MAX_PAGES {
            let resp = http::get(&url, &api::headers())?;
            match probe.read(&mut replay, page, &resp)? {
                ProbeStep::Done(state) => return Ok(state),
                ProbeStep::Next(next) => url = next,
            }
        }
        Err(Error::new(
            ErrorCode::Malformed,
            format!(
                "slack's listing for `{}` goes past {} pages; the target's state is unknown",
                target.grant_id,
                api::MAX_PAGES
            ),
        ))
    }
}

// Only wasm builds export the component (see the GitHub connector).
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(Slack);
