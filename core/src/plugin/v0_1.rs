//! Contract 0.1.0, kept loading after 0.2.0.
//!
//! A connector built against `grantscope:connector@0.1.0` imports and exports the
//! 0.1.0 interfaces; this module binds them and translates every value at the
//! boundary into the current contract's types, so the rest of the host knows one
//! contract. 0.2.0 only added fields (a manifest's quotas and consistency window,
//! an error's retry-after), so the translation is total in both directions: an old
//! connector gets the host's defaults for what it cannot say.

use super::bindings::grantscope::connector::{egress as egress_now, log as log_now};
use super::{HostState, wit};

/// The generated bindings of `wit/since_v0.1.0`.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::grantscope::connector::types as old;

impl old::Host for HostState {}

impl bindings::grantscope::connector::egress::Host for HostState {
    async fn send(
        &mut self,
        req: old::Request,
    ) -> wasmtime::Result<Result<old::Response, old::EgressError>> {
        let req = wit::Request {
            method: match req.method {
                old::Method::Get => wit::Method::Get,
                old::Method::Head => wit::Method::Head,
                old::Method::Post => wit::Method::Post,
                old::Method::Put => wit::Method::Put,
                old::Method::Patch => wit::Method::Patch,
                old::Method::Delete => wit::Method::Delete,
            },
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let answer = egress_now::Host::send(self, req).await?;
        Ok(match answer {
            Ok(r) => Ok(old::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                wit::EgressError::Denied(m) => old::EgressError::Denied(m),
                wit::EgressError::ForbiddenHeader(m) => old::EgressError::ForbiddenHeader(m),
                wit::EgressError::InvalidUrl(m) => old::EgressError::InvalidUrl(m),
                wit::EgressError::BudgetExhausted => old::EgressError::BudgetExhausted,
                wit::EgressError::TooLarge(n) => old::EgressError::TooLarge(n),
                wit::EgressError::Timeout => old::EgressError::Timeout,
                wit::EgressError::Connection(m) => old::EgressError::Connection(m),
                wit::EgressError::RateLimited => old::EgressError::RateLimited,
                wit::EgressError::Credential(m) => old::EgressError::Credential(m),
            }),
        })
    }
}

impl bindings::grantscope::connector::log::Host for HostState {
    async fn log(&mut self, level: old::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            old::Level::Trace => wit::Level::Trace,
            old::Level::Debug => wit::Level::Debug,
            old::Level::Info => wit::Level::Info,
            old::Level::Warn => wit::Level::Warn,
            old::Level::Error => wit::Level::Error,
        };
        log_now::Host::log(self, level, message).await
    }
}

/// A 0.1.0 manifest in today's terms: no declared quotas (the host's default rate
/// paces it) and no consistency window (the host's default re-read waits).
pub(super) fn manifest(m: old::PluginManifest) -> wit::PluginManifest {
    wit::PluginManifest {
        id: m.id,
        name: m.name,
        version: m.version,
        provider: m.provider,
        hosts: m.hosts,
        capabilities: m
            .capabilities
            .into_iter()
            .map(|c| match c {
                old::Capability::Enumerate => wit::Capability::Enumerate,
                old::Capability::Revoke => wit::Capability::Revoke,
            })
            .collect(),
        credential_kinds: m.credential_kinds,
        permissions: m
            .permissions
            .into_iter()
            .map(|p| wit::Permission {
                name: p.name,
                reason: p.reason,
                revoke_only: p.revoke_only,
            })
            .collect(),
        settings: m
            .settings
            .into_iter()
            .map(|s| wit::Setting {
                name: s.name,
                description: s.description,
                required: s.required,
            })
            .collect(),
        quotas: Vec::new(),
        consistency_window_ms: 0,
    }
}

pub(super) fn context(c: &wit::Context) -> old::Context {
    old::Context {
        tenant: c.tenant.clone(),
        settings: c.settings.clone(),
    }
}

pub(super) fn task_to(t: &wit::Task) -> old::Task {
    old::Task {
        kind: t.kind.clone(),
        payload: t.payload.clone(),
    }
}

fn task_from(t: old::Task) -> wit::Task {
    wit::Task {
        kind: t.kind,
        payload: t.payload,
    }
}

pub(super) fn tasks(ts: Vec<old::Task>) -> Vec<wit::Task> {
    ts.into_iter().map(task_from).collect()
}

pub(super) fn target_to(t: &wit::RevocationTarget) -> old::RevocationTarget {
    old::RevocationTarget {
        grant_id: t.grant_id.clone(),
        action: t.action.clone(),
        handle: t.handle.clone(),
    }
}

fn target_from(t: old::RevocationTarget) -> wit::RevocationTarget {
    wit::RevocationTarget {
        grant_id: t.grant_id,
        action: t.action,
        handle: t.handle,
    }
}

pub(super) fn step(s: old::Step) -> wit::Step {
    wit::Step {
        grants: s.grants.into_iter().map(grant).collect(),
        tasks: tasks(s.tasks),
    }
}

fn grant(g: old::Grant) -> wit::Grant {
    wit::Grant {
        id: g.id,
        app: wit::App {
            id: g.app.id,
            name: g.app.name,
            publisher: g.app.publisher,
            attributes: g.app.attributes,
        },
        principal: wit::Principal {
            kind: match g.principal.kind {
                old::PrincipalKind::User => wit::PrincipalKind::User,
                old::PrincipalKind::Tenant => wit::PrincipalKind::Tenant,
                old::PrincipalKind::Service => wit::PrincipalKind::Service,
            },
            id: g.principal.id,
            display: g.principal.display,
        },
        kind: match g.kind {
            old::GrantKind::Delegated => wit::GrantKind::Delegated,
            old::GrantKind::AdminConsent => wit::GrantKind::AdminConsent,
            old::GrantKind::Application => wit::GrantKind::Application,
            old::GrantKind::Installation => wit::GrantKind::Installation,
            old::GrantKind::PersonalToken => wit::GrantKind::PersonalToken,
            old::GrantKind::ApiKey => wit::GrantKind::ApiKey,
        },
        scopes: g.scopes,
        created_at: g.created_at,
        last_used_at: g.last_used_at,
        expires_at: g.expires_at,
        revocation: g.revocation.map(target_from),
        attributes: g.attributes,
        notes: g.notes,
    }
}

pub(super) fn revocation(r: old::Revocation) -> wit::Revocation {
    wit::Revocation {
        status: match r.status {
            old::RevocationStatus::Revoked => wit::RevocationStatus::Revoked,
            old::RevocationStatus::AlreadyGone => wit::RevocationStatus::AlreadyGone,
            old::RevocationStatus::ManualRequired => wit::RevocationStatus::ManualRequired,
        },
        detail: r.detail,
        manual_steps: r.manual_steps,
    }
}

pub(super) fn target_state(s: old::TargetState) -> wit::TargetState {
    match s {
        old::TargetState::Present => wit::TargetState::Present,
        old::TargetState::Gone => wit::TargetState::Gone,
    }
}

/// A 0.1.0 error: it cannot carry a retry-after, so a rate limit it reports gets
/// the host's growing waits.
pub(super) fn error(e: old::Error) -> wit::Error {
    wit::Error {
        code: match e.code {
            old::ErrorCode::Config => wit::ErrorCode::Config,
            old::ErrorCode::Unauthenticated => wit::ErrorCode::Unauthenticated,
            old::ErrorCode::Permission => wit::ErrorCode::Permission,
            old::ErrorCode::Unsupported => wit::ErrorCode::Unsupported,
            old::ErrorCode::RateLimited => wit::ErrorCode::RateLimited,
            old::ErrorCode::Malformed => wit::ErrorCode::Malformed,
            old::ErrorCode::Provider => wit::ErrorCode::Provider,
            old::ErrorCode::Egress => wit::ErrorCode::Egress,
            old::ErrorCode::InvalidInput => wit::ErrorCode::InvalidInput,
        },
        message: e.message,
        retry_after_ms: None,
    }
}
