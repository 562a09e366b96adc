//! Request handlers: thin async shells around synchronous functions that hold the state
//! lock for the whole operation (never across an await) and return GitHub's error on
//! failure.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{self, FineGrained, Org, PROVIDER};
use super::page::PageReq;
use super::{
    ApiError, Ctx, P, auth, invalid, json_body, page_of, parse_id, render, token_org, unix_now,
};
use crate::Shared;
use crate::world::World;

type Reply = Result<Response, ApiError>;

fn reply(r: Reply) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn get_org_installation(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
) -> Response {
    reply((|| {
        sim.github.check_jwt(&ctx)?;
        let gh = sim.github.state();
        let org = gh
            .org_index(&org)
            .and_then(|i| gh.orgs.get(i))
            .ok_or(ApiError::NotFound)?;
        let inst = org
            .installations
            .iter()
            .find(|i| i.id == org.auditor_installation)
            .ok_or(ApiError::NotFound)?;
        Ok(axum::Json(render::installation(&ctx.base, org, inst, true)).into_response())
    })())
}

/// Optional body of `POST /app/installations/{id}/access_tokens`: narrows the token.
#[derive(Deserialize)]
struct TokenRequest {
    repositories: Option<Vec<String>>,
    repository_ids: Option<Vec<u64>>,
    permissions: Option<BTreeMap<String, String>>,
}

const LEVELS: [&str; 3] = ["read", "write", "admin"];

/// The requested permissions, each at most what the installation holds.
fn narrow(
    granted: &model::Permissions,
    wanted: &BTreeMap<String, String>,
) -> Result<model::Permissions, ApiError> {
    let rank = |l: &str| LEVELS.iter().position(|x| *x == l);
    wanted
        .iter()
        .map(|(name, level)| {
            let held = granted.iter().find(|(n, _)| n == name);
            match (held, rank(level)) {
                (Some((n, g)), Some(w)) if rank(g).is_some_and(|g| w <= g) => Ok((*n, LEVELS[w])),
                _ => Err(invalid(
                    "permissions",
                    "The permissions requested are not granted to this installation.",
                )),
            }
        })
        .collect()
}

/// The requested repositories of the org, by name or id.
fn pick_repos<'a>(org: &'a Org, req: &TokenRequest) -> Result<Vec<&'a model::Repo>, ApiError> {
    let names = req.repositories.as_deref().unwrap_or_default();
    let ids = req.repository_ids.as_deref().unwrap_or_default();
    if names.len() + ids.len() > 500 {
        return Err(invalid(
            "repositories",
            "Too many repositories; the maximum is 500.",
        ));
    }
    let missing = |what: &str| {
        invalid(
            "repositories",
            format!(
                "There is at least one repository that does not exist or is not accessible to the parent installation: {what}"
            ),
        )
    };
    let by_name = names.iter().map(|n| {
        org.repos
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| missing(n))
    });
    let by_id = ids.iter().map(|id| {
        org.repos
            .iter()
            .find(|r| r.id == *id)
            .ok_or_else(|| missing(&id.to_string()))
    });
    by_name.chain(by_id).collect()
}

pub(super) async fn create_token(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(id): P<String>,
    body: Bytes,
) -> Response {
    reply((|| {
        sim.github.check_jwt(&ctx)?;
        let id = parse_id(&id)?;
        let request: Option<TokenRequest> = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(json_body(&body)?)
        };
        let mut gh = sim.github.state();
        let org_index = gh
            .orgs
            .iter()
            .position(|o| o.auditor_installation == id)
            .ok_or(ApiError::NotFound)?;
        let org = &gh.orgs[org_index];
        let (permissions, repos) = match &request {
            None => (gh.auditor.permissions.clone(), Vec::new()),
            Some(req) => {
                let permissions = match &req.permissions {
                    Some(wanted) => narrow(&gh.auditor.permissions, wanted)?,
                    None => gh.auditor.permissions.clone(),
                };
                (permissions, pick_repos(org, req)?)
            }
        };
        let now = unix_now();
        let token = auth::new_installation_token();
        let mut body = json!({
            "token": token,
            "expires_at": crate::world::Stamp::utc(now + auth::TOKEN_TTL).wire(),
            "permissions": render::permissions(&permissions),
            "repository_selection": if repos.is_empty() { "all" } else { "selected" },
        });
        if !repos.is_empty() {
            body["repositories"] = repos
                .iter()
                .map(|r| render::repository(&ctx.base, org, r))
                .collect();
        }
        // Forget tokens that expired over an hour ago, so long runs do not grow forever.
        gh.tokens.retain(|_, t| t.expires_at + 3600 > now);
        let issued = model::IssuedToken {
            org: org_index,
            installation_id: id,
            expires_at: now + auth::TOKEN_TTL,
        };
        gh.tokens.insert(token, issued);
        Ok((StatusCode::CREATED, axum::Json(body)).into_response())
    })())
}

pub(super) async fn list_installations(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
) -> Response {
    reply((|| {
        let gh = sim.github.state();
        let org = &gh.orgs[token_org(&gh, &ctx, &org, false)?];
        let req = PageReq::from_query(&ctx.query);
        let (items, total) = page_of(&org.installations, None, false, req);
        let items: Vec<Value> = items
            .iter()
            .map(|i| render::installation(&ctx.base, org, i, false))
            .collect();
        let body = json!({ "total_count": total, "installations": items });
        Ok(ctx.paged(body, req, total))
    })())
}

pub(super) async fn list_credentials(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
) -> Response {
    reply((|| {
        let gh = sim.github.state();
        let org = &gh.orgs[token_org(&gh, &ctx, &org, false)?];
        let req = PageReq::from_query(&ctx.query);
        // An unknown login matches nobody (u32::MAX is never a person).
        let login = ctx
            .query
            .get("login")
            .map(|l| World::index_of(l).unwrap_or(u32::MAX));
        let keep = |c: &model::Credential| login.is_none_or(|l| c.user == l);
        let filter = login
            .is_some()
            .then_some(&keep as &dyn Fn(&model::Credential) -> bool);
        let (items, total) = page_of(&org.credentials, filter, false, req);
        let body: Vec<Value> = items
            .iter()
            .map(|c| render::credential(c, gh.seed))
            .collect();
        Ok(ctx.paged(body.into(), req, total))
    })())
}

pub(super) async fn delete_credential(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P((org, id)): P<(String, String)>,
) -> Response {
    reply((|| {
        let mut gh = sim.github.state();
        let index = token_org(&gh, &ctx, &org, false)?;
        let id = parse_id(&id)?;
        let org = &mut gh.orgs[index];
        let pos = org
            .credentials
            .binary_search_by_key(&id, |c| c.credential_id)
            .ok();
        let app_id = pos
            .and_then(|p| org.credentials.get(p))
            .map(|c| c.kind.truth_app().1);
        let target = format!("{PROVIDER}/{}/credential-authorization:{id}", org.login);
        sim.stats.revocation(PROVIDER, target, app_id);
        let pos = pos.ok_or(ApiError::NotFound)?;
        org.credentials.remove(pos);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

/// The grant and request lists share their filters: `owner[]` (≤ 10 logins),
/// `token_id[]` (≤ 50), `sort=created_at`, `direction` (default `desc`).
fn fine_grained_list(sim: &Shared, ctx: &Ctx, org: &str, requests: bool) -> Reply {
    let gh = sim.github.state();
    let org = &gh.orgs[token_org(&gh, ctx, org, false)?];
    let owners: HashSet<String> = ctx
        .query
        .all(&["owner[]", "owner"])
        .flat_map(|v| v.split(','))
        .map(str::to_ascii_lowercase)
        .collect();
    if owners.len() > 10 {
        return Err(invalid("owner", "No more than 10 owners may be given."));
    }
    let owner_ids: HashSet<u32> = owners.iter().filter_map(|o| World::index_of(o)).collect();
    let token_ids = ctx
        .query
        .all(&["token_id[]", "token_id"])
        .flat_map(|v| v.split(','))
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| invalid("token_id", format!("{v} is not a token id.")))
        })
        .collect::<Result<HashSet<u64>, ApiError>>()?;
    if token_ids.len() > 50 {
        return Err(invalid(
            "token_id",
            "No more than 50 token ids may be given.",
        ));
    }
    if ctx.query.get("sort").is_some_and(|s| s != "created_at") {
        return Err(invalid("sort", "sort must be created_at."));
    }
    let desc = match ctx.query.get("direction") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(invalid("direction", "direction must be asc or desc.")),
    };
    let keep = |g: &FineGrained| {
        (owners.is_empty() || owner_ids.contains(&g.user))
            && (token_ids.is_empty() || token_ids.contains(&g.token_id))
    };
    let filtered = !owners.is_empty() || !token_ids.is_empty();
    let filter = filtered.then_some(&keep as &dyn Fn(&FineGrained) -> bool);
    let req = PageReq::from_query(&ctx.query);
    let list = if requests {
        &org.pat_requests
    } else {
        &org.pat_grants
    };
    let (items, total) = page_of(list, filter, desc, req);
    let body: Vec<Value> = items
        .iter()
        .map(|g| render::fine_grained(&ctx.base, org, g, gh.epoch))
        .collect();
    Ok(ctx.paged(body.into(), req, total))
}

pub(super) async fn list_pat_grants(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
) -> Response {
    reply(fine_grained_list(&sim, &ctx, &org, false))
}

pub(super) async fn list_pat_requests(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
) -> Response {
    reply(fine_grained_list(&sim, &ctx, &org, true))
}

#[derive(Deserialize)]
struct RevokeOne {
    action: String,
}

#[derive(Deserialize)]
struct RevokeMany {
    action: String,
    pat_ids: Vec<u64>,
}

fn check_action(action: &str) -> Result<(), ApiError> {
    if action == "revoke" {
        Ok(())
    } else {
        Err(invalid("action", "action must be revoke."))
    }
}

/// Removes one fine-grained grant, counting the call; `true` if it existed.
fn revoke_grant(sim: &Shared, org: &mut Org, id: u64) -> bool {
    let target = format!("{PROVIDER}/{}/pat-grant:{id}", org.login);
    sim.stats
        .revocation(PROVIDER, target, Some("fine-grained-pat"));
    match org.pat_grants.binary_search_by_key(&id, |g| g.id) {
        Ok(p) => {
            org.pat_grants.remove(p);
            true
        }
        Err(_) => false,
    }
}

pub(super) async fn revoke_pat(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P((org, id)): P<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let mut gh = sim.github.state();
        let index = token_org(&gh, &ctx, &org, false)?;
        let id = parse_id(&id)?;
        check_action(&json_body::<RevokeOne>(&body)?.action)?;
        if revoke_grant(&sim, &mut gh.orgs[index], id) {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(ApiError::NotFound)
        }
    })())
}

pub(super) async fn revoke_pats(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P(org): P<String>,
    body: Bytes,
) -> Response {
    reply((|| {
        let mut gh = sim.github.state();
        let index = token_org(&gh, &ctx, &org, false)?;
        let req: RevokeMany = json_body(&body)?;
        check_action(&req.action)?;
        if req.pat_ids.is_empty() || req.pat_ids.len() > 100 {
            return Err(invalid(
                "pat_ids",
                "pat_ids must hold between 1 and 100 ids.",
            ));
        }
        // Bulk revocation removes what exists and ignores the rest (it is asynchronous on
        // GitHub); every distinct id counts as one call for its target.
        let mut seen = HashSet::new();
        for id in req.pat_ids.into_iter().filter(|id| seen.insert(*id)) {
            revoke_grant(&sim, &mut gh.orgs[index], id);
        }
        Ok((StatusCode::ACCEPTED, axum::Json(json!({}))).into_response())
    })())
}

/// Repositories of a grant (`requests = false`) or a pending request, addressed by org
/// login (`/orgs/...`) or numeric org id (`/organizations/...`, the form GitHub puts in
/// `repositories_url`).
pub(super) async fn repos(
    State(sim): State<Arc<Shared>>,
    ctx: Ctx,
    P((org, id)): P<(String, String)>,
    by_id: bool,
    requests: bool,
) -> Response {
    reply((|| {
        let gh = sim.github.state();
        let org = &gh.orgs[token_org(&gh, &ctx, &org, by_id)?];
        let id = parse_id(&id)?;
        let list = if requests {
            &org.pat_requests
        } else {
            &org.pat_grants
        };
        let pos = list
            .binary_search_by_key(&id, |g| g.id)
            .map_err(|_| ApiError::NotFound)?;
        let grant = list.get(pos).ok_or(ApiError::NotFound)?;
        let all = render::selected_repos(org, grant);
        let req = PageReq::from_query(&ctx.query);
        let (items, total) = page_of(&all, None, false, req);
        let body: Vec<Value> = items
            .iter()
            .map(|r| render::minimal_repo(&ctx.base, org, r))
            .collect();
        Ok(ctx.paged(body.into(), req, total))
    })())
}
