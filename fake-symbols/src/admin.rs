//! Control endpoints: `/__fault__` (the fault spec), `/__requests__` (the request log) and
//! Dockerflow's `/__heartbeat__`, `/__lbheartbeat__`, `/__version__`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::AdminError;
use crate::faults::FaultSpec;
use crate::server::AppState;

/// The control endpoints (`/__fault__`, `/__requests__`): read and change what the server
/// does and saw, so the server puts them behind its browser boundary.
pub fn control_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/__fault__",
            get(get_faults)
                .put(set_faults)
                .post(set_faults)
                .delete(clear_faults),
        )
        .route("/__requests__", get(list_requests).delete(clear_requests))
}

/// Dockerflow's health endpoints, open to every caller as load balancers need.
pub fn health_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__heartbeat__", get(heartbeat))
        .route("/__lbheartbeat__", get(|| async { StatusCode::OK }))
        .route("/__version__", get(version))
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.faults.spec()).into_response()
}

/// Whether a request body is declared as JSON (`application/json` or `application/*+json`).
/// The CORS-simple types (`text/plain`, forms) and a missing type are refused: a web page can
/// send those cross-site without a preflight, JSON it cannot.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Replaces the fault spec (JSON body) and resets the rule counters.
async fn set_faults(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, AdminError> {
    if !is_json_content_type(request.headers()) {
        return Err(AdminError::NotJson);
    }
    let limit = state.config.limits.max_admin_body;
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| AdminError::TooLarge(limit))?;
    let spec: FaultSpec =
        serde_json::from_slice(&body).map_err(|e| AdminError::Spec(e.to_string()))?;
    state
        .faults
        .set(spec)
        .map_err(|e| AdminError::Spec(e.to_string()))?;
    Ok(axum::Json(state.faults.spec()).into_response())
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> Response {
    let _ = state.faults.set(FaultSpec::default());
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(json!({ "requests": state.requests.list() })).into_response()
}

async fn clear_requests(State(state): State<Arc<AppState>>) -> Response {
    state.requests.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn heartbeat(State(state): State<Arc<AppState>>) -> Response {
    match state.store.count() {
        Ok(_) => axum::Json(json!({"status": "ok", "checks": {}, "details": {}})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"status": "error", "checks": {"store": "error"}, "details": {"store": e.to_string()}})),
        )
            .into_response(),
    }
}

async fn version() -> Response {
    axum::Json(json!({
        "source": "https://example.invalid/understudy",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": "",
        "build": "fake-symbols",
    }))
    .into_response()
}
