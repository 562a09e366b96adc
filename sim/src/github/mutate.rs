//! Changes to a running simulation, so tests can show that a rescan sees exactly what
//! changed at the provider (`POST /_sim/mutate`).
//!
//! Adds, removes and widens grants the way a real organisation drifts: a member
//! authorizes a new token for SSO, a token's authorization disappears, a vendor's app
//! asks for and is granted more permissions. Deterministic in the request's seed.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use super::catalog;
use super::model::{CredKind, Credential, GithubState};
use crate::world::{self, Stamp};

/// What to change.
#[derive(Debug, Deserialize)]
pub(crate) struct MutationRequest {
    /// Seed of the choices.
    #[serde(default)]
    pub seed: u64,
    /// New credential authorizations to add.
    #[serde(default)]
    pub add: usize,
    /// Credential authorizations to remove.
    #[serde(default)]
    pub remove: usize,
    /// Third-party installations to grant one more permission (or a higher level).
    #[serde(default)]
    pub widen: usize,
}

/// What changed, as normalized grant ids.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Mutation {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub widened: Vec<Widened>,
}

/// A grant whose scopes grew.
#[derive(Debug, Serialize)]
pub(crate) struct Widened {
    pub id: String,
    pub scopes_added: Vec<String>,
}

/// Most changes one request may ask for.
pub(crate) const MAX_CHANGES: usize = 10_000;

impl GithubState {
    /// Applies the mutation to the first org (the main tenant).
    pub(crate) fn mutate(&mut self, req: &MutationRequest) -> Mutation {
        let mut rng = world::rng_for(req.seed, "github-mutate");
        let mut out = Mutation::default();
        let epoch = self.epoch;
        let mut next_id = self
            .orgs
            .iter()
            .flat_map(|o| o.credentials.iter().map(|c| c.credential_id))
            .max()
            .unwrap_or(1_000_000)
            + 1;
        let Some(org) = self.orgs.first_mut() else {
            return out;
        };
        let login = org.login.clone();
        let id = |local: String| format!("github/{login}/{local}");

        for _ in 0..req.remove.min(org.credentials.len()) {
            let i = rng.random_range(0..org.credentials.len());
            let gone = org.credentials.remove(i);
            out.removed.push(id(format!(
                "credential-authorization:{}",
                gone.credential_id
            )));
        }

        let users: Vec<u32> = org.credentials.iter().map(|c| c.user).collect();
        for _ in 0..req.add {
            let user = users.choose(&mut rng).copied().unwrap_or(0);
            let mut scopes: Vec<&'static str> = catalog::OAUTH_SCOPES
                .choose_multiple(&mut rng, 2)
                .copied()
                .collect();
            scopes.sort_unstable();
            org.credentials.push(Credential {
                credential_id: next_id,
                user,
                kind: CredKind::Pat,
                authorized_at: Stamp::utc(epoch),
                accessed_at: None,
                authorized_credential_id: next_id + 50_000_000,
                expires_at: None,
                scopes,
                vendor: None,
            });
            out.added
                .push(id(format!("credential-authorization:{next_id}")));
            next_id += 1;
        }
        // Revocation finds credentials by binary search on the id.
        org.credentials.sort_by_key(|c| c.credential_id);

        let auditor = org.auditor_installation;
        let mut third_party: Vec<usize> = (0..org.installations.len())
            .filter(|&i| org.installations[i].id != auditor)
            .collect();
        for _ in 0..req.widen.min(third_party.len()) {
            let pick = rng.random_range(0..third_party.len());
            let inst = &mut org.installations[third_party.swap_remove(pick)];
            let held = &inst.app.permissions;
            // A permission the app lacks, or a higher level of one it holds.
            let candidate = catalog::APP_PERMISSIONS.iter().find_map(|(name, levels)| {
                let current = held.iter().find(|(n, _)| n == name).map(|(_, l)| *l);
                let top = levels.last().copied()?;
                match current {
                    None => Some((*name, levels[0])),
                    Some(l) if l != top => Some((*name, top)),
                    Some(_) => None,
                }
            });
            let Some((name, level)) = candidate else {
                continue;
            };
            inst.app.permissions.retain(|(n, _)| *n != name);
            inst.app.permissions.push((name, level));
            inst.app.permissions.sort_unstable();
            inst.updated = Stamp::utc(epoch);
            out.widened.push(Widened {
                id: id(format!("installation:{}", inst.id)),
                scopes_added: vec![format!("{name}:{level}")],
            });
        }
        out
    }
}
