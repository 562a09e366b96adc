//! The Microsoft Entra (Microsoft Graph) API simulator.
//!
//! Served under `/microsoft-entra` on the simulator (the tenant's base URL is the simulator URL
//! plus that prefix), speaking the endpoints of `testdata/providers/microsoft-entra/API.md` with the
//! shapes of its `examples/`: the v2.0 token endpoint (`/{tenant-id}/oauth2/v2.0/token`), Graph
//! v1.0 under `/v1.0` and the beta sign-in activity report under `/beta`.

mod auth;
mod catalog;
mod handlers;
mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::DecodingKey;
use serde_json::json;

pub(crate) use model::Model;

use crate::Shared;
use crate::config::TenantEntry;
use crate::faults::FaultKind;
use crate::provider::{ConfigEnv, Dialect, Keys, Provider, Tenants};
use crate::world::Stamp;

/// Where the simulator mounts this provider.
const PREFIX: &str = "/microsoft-entra";

/// Run-time state: the model behind a lock, and what the auth endpoints check.
pub(crate) struct Sim {
    model: Mutex<Model>,
    /// The auditor app's client secret, made at start and written to the config's key
    /// directory; never logged.
    secret: String,
    key: DecodingKey,
    /// Live access tokens and their expiry (wall-clock seconds).
    tokens: Mutex<HashMap<String, i64>>,
}

impl Sim {
    /// Serves `model`, checking the auditor's credentials against `keys`.
    pub(crate) fn new(model: Model, keys: &Keys) -> Self {
        let mut rng = rand::rng();
        let secret = format!(
            "{}~{}",
            crate::world::alphanumeric(&mut rng, 3),
            crate::world::alphanumeric(&mut rng, 34)
        );
        Self {
            model: Mutex::new(model),
            secret,
            key: keys.public.clone(),
            tokens: Mutex::default(),
        }
    }

    /// The current state.
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        // Handlers never leave the model half-updated across a panic point.
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tokens(&self) -> MutexGuard<'_, HashMap<String, i64>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's config entry: the auditor app's client secret. The same app also
    /// accepts a certificate assertion (`private_key_file` + `certificate_thumbprint`,
    /// see `catalog::AUDITOR_CERT_THUMBPRINT`).
    pub(crate) fn tenants(&self, env: &ConfigEnv<'_>) -> Tenants {
        let (tenant_id, client_id) = {
            let m = self.model();
            (m.tenant_id.clone(), m.auditor_app_id.clone())
        };
        let base = env.provider_base(Provider::MicrosoftEntra);
        let secret_file = env.secret("microsoft-entra-client-secret", &self.secret)?;
        Ok(vec![TenantEntry {
            name: model::TENANT.to_owned(),
            connector: "microsoft-entra",
            host: env.host.clone(),
            settings: vec![
                ("tenant_id", tenant_id.clone()),
                ("graph_base", base.clone()),
            ],
            credential: vec![
                ("kind", "client-credentials".to_owned()),
                ("token_url", format!("{base}/{tenant_id}/oauth2/v2.0/token")),
                ("client_id", client_id),
                ("scope", auth::GRAPH_DEFAULT_SCOPE.to_owned()),
                ("client_secret_file", secret_file),
            ],
        }])
    }
}

/// The routes, relative to `/microsoft-entra`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    use handlers as h;
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(h::token))
        .route("/v1.0/servicePrincipals", get(h::list_service_principals))
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(h::get_service_principal).patch(h::update_service_principal),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            get(h::list_assigned_to),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo/{assignment}",
            axum::routing::delete(h::delete_assigned_to),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments",
            get(h::list_assignments),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments/{assignment}",
            axum::routing::delete(h::delete_assignment),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/oauth2PermissionGrants",
            get(h::list_client_grants),
        )
        .route("/v1.0/oauth2PermissionGrants", get(h::list_grants))
        .route(
            "/v1.0/oauth2PermissionGrants/{id}",
            axum::routing::delete(h::delete_grant),
        )
        .route("/v1.0/directoryObjects/getByIds", post(h::get_by_ids))
        .route(
            "/beta/reports/servicePrincipalSignInActivities",
            get(h::sign_in_activities),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
        .layer(middleware::from_fn_with_state(shared, layer))
}

async fn not_found() -> Response {
    GraphError::NoRoute.into_response()
}

async fn not_allowed() -> Response {
    GraphError::BadRequest("The HTTP method is not supported for this resource.".to_owned())
        .into_response()
}

/// Faults (rendered in Graph's dialect) and the headers every Graph response carries.
/// Deletes and updates are the mutations: only they can fail after changing state.
async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mutation = matches!(*req.method(), Method::DELETE | Method::PATCH);
    let mut response = crate::provider::inject(&shared, &Graph, mutation, req, next).await;
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    let id = request_id();
    set("request-id", id.clone());
    set("client-request-id", id);
    set(
        "x-ms-ags-diagnostic",
        r#"{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"003","RoleInstance":"AM2PEPF0000A1B2"}}"#.to_owned(),
    );
    set("x-ms-resource-unit", "1".to_owned());
    response
}

/// Graph's error dialect for injected faults (API.md §6).
struct Graph;

impl Dialect for Graph {
    fn throttled(&self, _kind: FaultKind) -> Response {
        // Graph throttles with 429 only; `Retry-After` is kept short for tests.
        let body = json!({"error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {"code": "429", "date": now_text(), "message": "Please retry after",
                "request-id": request_id(), "status": "429"},
        }});
        let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        h.insert(
            HeaderName::from_static("x-ms-throttle-information"),
            HeaderValue::from_static("ResourceUnitLimitExceeded"),
        );
        h.insert(
            HeaderName::from_static("x-ms-throttle-scope"),
            HeaderValue::from_static("Tenant_Application/ReadWrite"),
        );
        r
    }

    fn server_error(&self, status: StatusCode) -> Response {
        // No `Retry-After` on a 503: it would tell the client the request was not acted
        // on, and an injected fault may strike after a deletion committed.
        let (code, message) = match status.as_u16() {
            502 => ("BadGateway", "The server returned an invalid response."),
            503 => (
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            ),
            _ => ("UnknownError", "An internal server error occurred."),
        };
        graph_error(status, code, message)
    }
}

/// Graph's error answers.
#[derive(Debug)]
pub(crate) enum GraphError {
    /// No or unknown bearer token.
    Unauthenticated,
    /// An object that does not exist.
    NotFound(String),
    /// A path Graph does not serve.
    NoRoute,
    /// A request Graph refuses.
    BadRequest(String),
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            ),
            Self::NotFound(id) => graph_error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
            Self::NoRoute => graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment.",
            ),
            Self::BadRequest(m) => graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", &m),
        }
    }
}

/// `{"error": {"code", "message", "innerError": {...}}}`.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let id = request_id();
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"date": now_text(), "request-id": id, "client-request-id": id}}});
    (status, axum::Json(body)).into_response()
}

/// A random request id (GUID-shaped).
pub(crate) fn request_id() -> String {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_rng(&mut rand::rng());
    model::guid(&mut rng)
}

/// Wall-clock seconds (tokens live in real time, unlike the synthetic history).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The current time as Graph's `innerError.date` writes it.
pub(crate) fn now_text() -> String {
    Stamp::utc(unix_now())
        .rfc3339()
        .trim_end_matches('Z')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialect_throttles_with_a_short_retry_after() {
        let r = Graph.throttled(FaultKind::PrimaryRateLimit);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let r = Graph.server_error(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(RETRY_AFTER).is_none());
        assert_eq!(request_id().len(), 36);
    }
}
