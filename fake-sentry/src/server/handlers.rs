//! The ingest handler, one for every endpoint kind: read the request within the limits, hand
//! it to [`crate::ingest`], store what comes back and answer as Relay does; every refusal is
//! recorded before it is answered.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::body::read_body;
use super::capture_log::Capture;
use super::state::AppState;
use crate::auth;
use crate::error::IngestError;
use crate::faults::FaultDecision;
use crate::forward;
use crate::ingest::{self, Endpoint, IngestRequest, Ingested};
use crate::store::NewRefusal;
use crate::store::now_ms;

/// Runs one ingest request end to end: faults, body, parse, store, answer; every refusal is
/// recorded before it is answered. `project` is the path's `{project}`, `None` for `/stream`.
pub(super) async fn ingest(
    state: Arc<AppState>,
    endpoint: Endpoint,
    project: Option<String>,
    request: Request,
) -> Response {
    let received_at_ms = now_ms();
    let (parts, body) = request.into_parts();
    let project_id = match project.as_deref().map(str::parse::<u64>) {
        None => Some(0),
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => None,
    };
    // The body as sent, kept (a cheap reference) only to describe a refusal.
    let mut wire_body = Bytes::new();
    let result = async {
        let project_id = project_id.ok_or_else(|| {
            IngestError::bad_request(format!(
                "invalid project id {:?}: project ids are numeric",
                project.unwrap_or_default()
            ))
        })?;
        match state.faults.decide(project_id) {
            FaultDecision::Pass => {}
            FaultDecision::Delay(delay) => tokio::time::sleep(delay).await,
            FaultDecision::Fail(kind) => return Err(IngestError::Fault(kind)),
        }
        // Held until the request is answered: its envelope stays in memory until committed.
        let charge = state.in_flight.charge();
        let limits = &state.config.limits;
        let body = read_body(body, limits, &charge).await?;
        wire_body = body.clone();
        let req = IngestRequest {
            endpoint,
            project_id,
            headers: parts.headers.clone(),
            query: auth::parse_query_limited(
                parts.uri.query(),
                limits.max_query_pairs,
                limits.max_query,
            )?,
            body,
            received_at_ms,
            charge,
        };
        accept(&state, &parts.method, req).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(err) => refuse(&state, &parts, project_id, received_at_ms, &wire_body, err).await,
    }
}

/// Records a refused request for the refusals API and answers it.
async fn refuse(
    state: &AppState,
    parts: &http::request::Parts,
    project_id: Option<u64>,
    received_at_ms: i64,
    wire_body: &Bytes,
    err: IngestError,
) -> Response {
    let limits = &state.config.limits;
    let err = err.bounded(limits.max_error_causes, limits.max_error_cause);
    let prefix = state.config.refused_body_prefix;
    let refusal = refusal_record(parts, project_id, received_at_ms, (wire_body, prefix), &err);
    tracing::info!(status = refusal.status, reason = %refusal.reason, path = %refusal.path, "refused");
    if let Err(store_err) = state.store.refuse(refusal).await {
        tracing::error!(%store_err, "could not record a refusal");
    }
    err.into_response()
}

/// What the refusals API shows about a refused request.
fn refusal_record(
    parts: &http::request::Parts,
    project_id: Option<u64>,
    received_at_ms: i64,
    (body, prefix): (&Bytes, usize),
    err: &IngestError,
) -> NewRefusal {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // A query string past the default limits was refused; its refusal names no key.
    let defaults = crate::config::Limits::default();
    let query = auth::parse_query_limited(
        parts.uri.query(),
        defaults.max_query_pairs,
        defaults.max_query,
    )
    .unwrap_or_default();
    let auth = auth::extract(&parts.headers, &query, None);
    NewRefusal {
        received_at_ms,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        project_id,
        status: err.status().as_u16(),
        reason: match err {
            IngestError::BadRequest { detail, causes } if !causes.is_empty() => {
                format!("{detail}: {}", causes.join("; "))
            }
            other => other.to_string(),
        },
        client: auth.client,
        public_key: auth.public_key,
        content_type: header(header::CONTENT_TYPE),
        content_encoding: header(header::CONTENT_ENCODING),
        body_size: body.len(),
        body_prefix: body.slice(..body.len().min(prefix)).to_vec(),
    }
}

async fn accept(
    state: &AppState,
    method: &Method,
    req: IngestRequest,
) -> Result<Response, IngestError> {
    let limits = &state.config.limits;
    let keys = &state.config.required_keys;
    let ingested: Ingested = match (req.endpoint, method == Method::GET) {
        (Endpoint::Envelope | Endpoint::Stream, _) => ingest::ingest_envelope(&req, limits, keys)?,
        (Endpoint::Store, true) => ingest::ingest_store_get(&req, limits, keys)?,
        (Endpoint::Store, false) => ingest::ingest_store(&req, limits, keys)?,
        (Endpoint::Security, _) => ingest::ingest_security(&req, limits, keys)?,
        (Endpoint::Minidump, _) => ingest::ingest_minidump(&req, limits, keys).await?,
    };
    let mut ingested = ingested;
    if let Some(policy) = &state.config.policy {
        ingest::audit_items(policy, &mut ingested.envelope.items, &req.charge)?;
    }
    // What storing copies (its compressed forms) and the copy sent upstream are held until the
    // envelope is committed: charged before they are made, as every byte before them.
    req.charge
        .add(state.store.preparing_bytes(&ingested.envelope))?;
    let forward_body = match &state.forwarder {
        Some(forwarder) => {
            req.charge
                .add(forward::upstream_bytes(&ingested.envelope))?;
            Some(forward::upstream_envelope(
                &ingested.envelope,
                forwarder.upstream(),
            ))
        }
        None => None,
    };
    let summary = ingested
        .envelope
        .items
        .first()
        .map(|i| i.meta.summary.clone())
        .unwrap_or_default();
    let stored = state.store.insert(ingested.envelope).await?;
    if let (Some(forwarder), Some(body)) = (&state.forwarder, forward_body) {
        forwarder.submit(stored.envelope_id, body);
    }
    state.capture_log.record(Capture {
        endpoint: req.endpoint.as_str(),
        project: req.project_id,
        items: stored.item_ids.len(),
        summary: &summary,
    });
    Ok(respond(req.endpoint, method, ingested.event_id))
}

/// The success answer each endpoint gives in Relay (and Spotlight for `/stream`).
fn respond(endpoint: Endpoint, method: &Method, event_id: Option<String>) -> Response {
    if endpoint == Endpoint::Store && method == Method::GET {
        // The image-beacon form answers with a 1x1 transparent GIF.
        const PIXEL: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        return (
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"))],
            PIXEL,
        )
            .into_response();
    }
    match endpoint {
        Endpoint::Envelope | Endpoint::Store => {
            let body = match event_id {
                Some(id) => serde_json::json!({ "id": id }),
                None => serde_json::json!({}),
            };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Endpoint::Minidump => {
            let id = event_id
                .and_then(|id| uuid::Uuid::parse_str(&id).ok())
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_default();
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                id,
            )
                .into_response()
        }
        Endpoint::Security => StatusCode::OK.into_response(),
        Endpoint::Stream => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
            "",
        )
            .into_response(),
    }
}
