//! The native crash API: a minidump's processing state with the processor's JSON, and
//! reprocessing (see `crate::native`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::AppRef;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{self, MinidumpBodies, MinidumpRecord};

/// The minidump of item `id` (the dump itself, or the event sent with it).
async fn minidump_of(
    state: &Arc<AppState>,
    id: &str,
    bodies: MinidumpBodies,
) -> Result<MinidumpRecord, ApiError> {
    let lookup = id.to_string();
    state
        .store
        .read(move |conn| store::find_minidump(conn, &lookup, bodies))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Item {id} has no minidump")))
}

/// A minidump's state as the API shows it, with `processed` (the processor's JSON in
/// `minidump-stackwalk --json`'s schema, `null` until processed).
pub(super) fn processing_json(record: &MinidumpRecord, processed: Option<Value>) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or_else(|_| json!({}));
    value["processed"] = processed.unwrap_or(Value::Null);
    value["links"] = json!({
        "minidump": format!("/api/items/{}/raw", record.minidump_item_id),
        "reprocess": format!("/api/items/{}/reprocess", record.minidump_item_id),
    });
    value
}

/// `GET /api/items/{id}/processed`.
pub(super) async fn processed(
    State(state): AppRef,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut record = minidump_of(&state, &id, MinidumpBodies::All).await?;
    let processed = record.processed.take();
    Ok(axum::Json(processing_json(&record, processed)).into_response())
}

/// `POST /api/items/{id}/reprocess`: 202 with the new attempt; a form posted by the web UI's
/// button is sent back to the item's page instead (303).
pub(super) async fn reprocess(
    State(state): AppRef,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = minidump_of(&state, &id, MinidumpBodies::None).await?;
    let Some(pipeline) = &state.native else {
        return Err(ApiError::Conflict(
            "minidump processing is off (--minidump-workers 0)".into(),
        ));
    };
    let attempt = pipeline
        .reprocess(&state.store, record.seq)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Item {id} has no minidump")))?;
    let from_a_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if from_a_form {
        let page = record
            .event_item_id
            .as_deref()
            .unwrap_or(&record.minidump_item_id);
        return Ok(Redirect::to(&format!("/items/{page}")).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "status": "pending",
            "attempt": attempt,
            "minidump_item_id": record.minidump_item_id,
            "event_item_id": record.event_item_id,
        })),
    )
        .into_response())
}
