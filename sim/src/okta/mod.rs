//! The Okta API simulator.
//!
//! Served under `/okta` on the simulator (the tenant's base URL is the simulator URL
//! plus that prefix), speaking the endpoints of `shared/providers/okta/API.md` with the
//! shapes of its `examples/`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;

use crate::Shared;
use crate::provider::{ConfigEnv, Keys, Tenants};
use crate::truth::TruthGrant;
use crate::world::World;

/// The synthetic Okta tenants: a pure function of the world.
#[derive(Debug)]
pub(crate) struct Model {}

impl Model {
    /// Builds the tenants from the world (deterministic in seed and user count).
    pub(crate) fn generate(_world: &World) -> Self {
        Self {}
    }

    /// Appends the grants a perfect connector would report for the current state.
    pub(crate) fn truth(&self, _out: &mut Vec<TruthGrant>) {}
}

/// Run-time state: the model behind a lock, and what the auth endpoints check.
pub(crate) struct Sim {
    model: Mutex<Model>,
}

impl Sim {
    /// Serves `model`, checking the auditor's credentials against `keys`.
    pub(crate) fn new(model: Model, _keys: &Keys) -> Self {
        Self {
            model: Mutex::new(model),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenants' config entries.
    pub(crate) fn tenants(&self, _env: &ConfigEnv<'_>) -> Tenants {
        Ok(Vec::new())
    }
}

/// The routes, relative to `/okta`.
pub(crate) fn router(_shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
}
