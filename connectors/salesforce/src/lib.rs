//! grantscope connector for Salesforce orgs.
//!
//! Enumerates an org's OAuth token approvals (`OauthToken`) and connected-app
//! pre-authorizations (`SetupEntityAccess`), joined to connected apps through
//! `AppMenuItem`, and revokes them: tokens through `/services/oauth2/revoke` with a
//! `DeleteToken` read just in time, pre-authorizations by deleting the row.
//! `README.md` holds the mapping from Salesforce objects to grants.
//!
//! This file is the WIT glue only: it reads settings, sends the requests [`api`]
//! builds through the host's egress, and hands the answers back to [`api`].

#![deny(missing_docs)]

pub mod api;

use api::{Directory, RevokeCall, Settings, Target, TaskKind};
use grantscope_connector_sdk::http;
use grantscope_connector_sdk::{
    Context, Error, Guest, Level, Manifest, Method, Revocation, RevocationTarget, Step,
    TargetState, Task, log,
};

/// The connector's implementation of the `grantscope:connector` contract.
pub struct Salesforce;

impl Guest for Salesforce {
    fn manifest() -> Manifest {
        api::manifest()
    }

    fn start(ctx: Context) -> Result<Vec<Task>, Error> {
        let settings = Settings::from_context(&ctx)?;
        Ok(api::start_tasks(&settings))
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        let settings = Settings::from_context(&ctx)?;
        let (kind, page) = api::decode_task(&settings, &task)?;
        // The directory normally travels in the task; a large org's is read here.
        let dir = match (&page.dir, kind.needs_directory()) {
            (Some(d), _) => d.clone(),
            (None, true) => directory(&settings)?,
            (None, false) => Directory::default(),
        };
        let resp = http::get(&page.url, &api::headers())?;
        let out = match kind {
            TaskKind::Apps | TaskKind::MenuItems => {
                api::read_directory_page(&settings, kind, &page, &resp)?
            }
            TaskKind::TokenCount => api::read_token_count(&settings, &page, &resp)?,
            TaskKind::TokenGroups => api::read_token_groups(&settings, &page, &resp)?,
            TaskKind::Tokens => api::read_tokens(&settings, &dir, &page, &resp)?,
            TaskKind::SetupEntityAccess => {
                api::read_setup_entity_access(&settings, &dir, &page, &resp)?
            }
        };
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
        let parsed = Target::parse(&target)?;
        match &parsed {
            Target::OauthToken(key) => {
                // The DeleteToken is read just in time and goes nowhere but the
                // revoke call's body (README, "Revocation").
                let url = parsed.delete_token_url(&settings).unwrap_or_default();
                let resp = http::get(&url, &api::headers())?;
                let tokens = api::read_delete_tokens(&settings, &resp)?;
                let mut calls: Vec<RevokeCall> = Vec::with_capacity(tokens.len());
                for token in &tokens {
                    let resp = http::send(
                        Method::Post,
                        &settings.revoke_url(),
                        &[("content-type", "application/x-www-form-urlencoded")],
                        Some(token.form_body()),
                    )?;
                    calls.push(api::read_revoke(&settings, &resp)?);
                }
                Ok(api::token_revocation(key, &ctx.tenant, &calls))
            }
            Target::SetupEntityAccess { id } => {
                let url = api::sea_delete_url(&settings, &parsed).unwrap_or_default();
                let resp = http::send(Method::Delete, &url, &api::headers(), None)?;
                api::read_sea_delete(&settings, id, &resp)
            }
        }
    }

    fn probe(ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        let settings = Settings::from_context(&ctx)?;
        let parsed = Target::parse(&target)?;
        let resp = http::get(&parsed.probe_url(&settings), &api::headers())?;
        api::read_probe(&settings, &parsed, &resp)
    }
}

/// Reads every page of the connected apps and their App Launcher items.
fn directory(settings: &Settings) -> Result<Directory, Error> {
    let mut dir = Directory::default();
    for soql in [api::SOQL_CONNECTED_APPS, api::SOQL_APP_MENU_ITEMS] {
        let mut url = settings.query_url(soql);
        for page in 1..=api::MAX_PAGES {
            let resp = http::get(&url, &api::headers())?;
            if resp.status != 200 {
                return Err(api::classify(settings, "listing connected apps", &resp));
            }
            let next = if soql == api::SOQL_CONNECTED_APPS {
                let q =
                    api::decode_page::<api::ConnectedApp>("ConnectedApplication page", &resp.body)?;
                let next = api::next_url(settings, "connected apps", &url, page, &q)?;
                dir.add_apps(q.records);
                next
            } else {
                let q = api::decode_page::<api::MenuItem>("AppMenuItem page", &resp.body)?;
                let next = api::next_url(settings, "App Launcher items", &url, page, &q)?;
                dir.add_menu_items(q.records);
                next
            };
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
    }
    Ok(dir)
}

// Only wasm builds export the component (see the GitHub connector).
#[cfg(target_arch = "wasm32")]
grantscope_connector_sdk::export_connector!(Salesforce);
