//! A connector built against `grantscope:connector@0.1.0`, as one published before
//! contract 0.2.0 would be. `start` plans one task; the task fetches the tenant's
//! `url` setting through the 0.1.0 egress import, logs through the 0.1.0 log import,
//! and reports one grant carrying the status it saw. `revoke` and `probe` answer
//! from the target's handle, and a task of kind `rate-limited` fails with a 0.1.0
//! error. The sandbox tests check the host translates all of it.

// Natively (for `cargo test --workspace`) nothing is exported, so nothing is used.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/since_v0.1.0",
        world: "connector",
    });
}

use bindings::exports::grantscope::connector::plugin::Guest;
use bindings::grantscope::connector::types::{
    App, Capability, Context, Error, ErrorCode, Grant, GrantKind, Level, Method, PluginManifest,
    Principal, PrincipalKind, Request, Revocation, RevocationStatus, RevocationTarget, Step,
    TargetState, Task,
};
use bindings::grantscope::connector::{egress, log};

struct Legacy;

// Export symbols only on wasm: their names break native linkers.
#[cfg(target_arch = "wasm32")]
bindings::export!(Legacy with_types_in bindings);

fn setting<'a>(ctx: &'a Context, name: &str) -> Option<&'a str> {
    ctx.settings
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Guest for Legacy {
    fn manifest() -> PluginManifest {
        PluginManifest {
            id: "legacy-v0-1".into(),
            name: "A connector built for contract 0.1.0".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider: "legacy-pv".into(),
            hosts: vec!["localhost".into()],
            capabilities: vec![Capability::Enumerate, Capability::Revoke],
            credential_kinds: vec!["static-token".into()],
            permissions: Vec::new(),
            settings: Vec::new(),
        }
    }

    fn start(_ctx: Context) -> Result<Vec<Task>, Error> {
        Ok(vec![Task {
            kind: "fetch".into(),
            payload: "0".into(),
        }])
    }

    fn run(ctx: Context, task: Task) -> Result<Step, Error> {
        if task.kind == "rate-limited" {
            return Err(Error {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
            });
        }
        let url = setting(&ctx, "url").unwrap_or("http://127.0.0.1:1/");
        let seen = match egress::send(&Request {
            method: Method::Get,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
        }) {
            Ok(r) => format!("status={}", r.status),
            Err(e) => format!("error={e:?}"),
        };
        log::log(Level::Info, &format!("legacy connector saw {seen}"));
        Ok(Step {
            grants: vec![Grant {
                id: "legacy:1".into(),
                app: App {
                    id: "legacy-app".into(),
                    name: "Legacy app".into(),
                    publisher: None,
                    attributes: Vec::new(),
                },
                principal: Principal {
                    kind: PrincipalKind::User,
                    id: "u1".into(),
                    display: None,
                },
                kind: GrantKind::Delegated,
                scopes: vec!["read".into()],
                created_at: None,
                last_used_at: None,
                expires_at: None,
                revocation: Some(RevocationTarget {
                    grant_id: "legacy:1".into(),
                    action: "delete".into(),
                    handle: "h1".into(),
                }),
                attributes: vec![("observed".into(), seen)],
                notes: Vec::new(),
            }],
            tasks: Vec::new(),
        })
    }

    fn revoke(_ctx: Context, target: RevocationTarget) -> Result<Revocation, Error> {
        Ok(Revocation {
            status: RevocationStatus::Revoked,
            detail: format!("revoked {}", target.handle),
            manual_steps: Vec::new(),
        })
    }

    fn probe(_ctx: Context, target: RevocationTarget) -> Result<TargetState, Error> {
        Ok(if target.handle == "gone" {
            TargetState::Gone
        } else {
            TargetState::Present
        })
    }
}
