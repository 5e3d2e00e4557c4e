//! Tecken's upload API v2 (2026, used by the `upload-symbols` CLI when the token prefers it):
//! `POST /upload/v2/` with `{"files": [{"key", "size", "md5_hash"}, ...]}` answers, per file,
//! `upload` (with a GCS resumable session URL served by [`crate::resumable`]), `skip` (an
//! identical file is stored) or `error` (`invalid key`, `invalid MD5 hex digest`).
//!
//! `.sym` files get `content_encoding: "gzip"`: Tecken stores them gzip-encoded, so the client
//! compresses before uploading; the declared size and md5 are those of the original file.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::Permission;
use crate::error::UploadError;
use crate::keys::SymbolKey;
use crate::resumable::{OpenError, SessionTarget};
use crate::server::AppState;
use crate::store::{Fingerprint, SymbolStore};
use crate::upload::{NEXT_UPLOAD_ID, authenticated};

/// Request bytes allowed per file in the body (a key is at most a few hundred bytes).
const BODY_BYTES_PER_FILE: usize = 4096;

/// One file of the request.
#[derive(Debug, Clone, Deserialize)]
pub struct FileSpec {
    pub key: String,
    pub size: u64,
    pub md5_hash: String,
}

#[derive(Debug, Deserialize)]
struct UploadRequest {
    files: Vec<FileSpec>,
}

/// What to do with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Upload(SessionTarget),
    Skip,
    Error(&'static str),
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Tecken's per-file decision: the key first, then the md5, then whether an identical file
/// (same original size and md5) is stored already.
pub fn plan(
    store: &SymbolStore,
    spec: &FileSpec,
    try_symbols: bool,
) -> Result<Action, UploadError> {
    let Some(key) = SymbolKey::from_path(&spec.key) else {
        return Ok(Action::Error("invalid key"));
    };
    if !is_md5_hex(&spec.md5_hash) {
        return Ok(Action::Error("invalid MD5 hex digest"));
    }
    let declared = Fingerprint {
        size: spec.size,
        md5: spec.md5_hash.to_ascii_lowercase(),
    };
    if let Some(existing) = store.get_exact(&key, try_symbols)?
        && existing.size == declared.size
        && existing.md5 == declared.md5
    {
        return Ok(Action::Skip);
    }
    Ok(Action::Upload(SessionTarget {
        name: spec.key.clone(),
        gzip: key.file_name.ends_with(".sym"),
        key,
        try_symbols,
        declared,
    }))
}

/// `POST /upload/v2/`.
pub async fn upload_v2(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if request.method() != Method::POST {
        return UploadError::MethodNotAllowed {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
        }
        .into_response();
    }
    let mut response = match handle(&state, request).await {
        Ok(body) => (StatusCode::CREATED, axum::Json(body)).into_response(),
        Err(err) => err.into_response(),
    };
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Auth-Token"));
    response
}

async fn handle(state: &Arc<AppState>, request: Request) -> Result<Value, UploadError> {
    let (token, request) = authenticated(state, request).await?;
    let max_files = state.config.limits.max_upload_v2_files;
    let limit = max_files
        .saturating_add(1)
        .saturating_mul(BODY_BYTES_PER_FILE);
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| UploadError::TooLarge(limit as u64))?;
    let request: UploadRequest =
        serde_json::from_slice(&body).map_err(|_| UploadError::MalformedJson)?;
    if request.files.len() > max_files {
        return Err(UploadError::TooManyFiles);
    }
    let try_symbols = token.permission == Permission::UploadTry;
    let created_at = OffsetDateTime::now_utc().unix_timestamp();
    let plans = {
        let state = state.clone();
        let files = request.files.clone();
        tokio::task::spawn_blocking(move || {
            files
                .iter()
                .map(|spec| plan(&state.store, spec, try_symbols))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))??
    };
    let targets: Vec<SessionTarget> = plans
        .iter()
        .filter_map(|p| match p {
            Action::Upload(target) => Some(target.clone()),
            _ => None,
        })
        .collect();
    let mut sessions = state
        .sessions
        .open(targets)
        .map_err(|e| match e {
            OpenError::TooMany(limit) => UploadError::TooManySessions(limit),
            OpenError::TooManyBytes { wanted, limit } => {
                UploadError::SessionBytes { wanted, limit }
            }
        })?
        .into_iter();
    let files: Vec<Value> = request
        .files
        .iter()
        .zip(plans)
        .map(|(spec, plan)| {
            let action = match plan {
                Action::Upload(target) => json!({
                    "type": "upload",
                    "url": format!(
                        "{}/__storage__/upload/{}",
                        state.public_url,
                        sessions.next().unwrap_or_default()
                    ),
                    "content_encoding": if target.gzip { Some("gzip") } else { None },
                }),
                Action::Skip => json!({"type": "skip"}),
                Action::Error(msg) => json!({"type": "error", "msg": msg}),
            };
            json!({"key": spec.key, "action": action})
        })
        .collect();
    tracing::info!(files = files.len(), try_symbols, "upload v2");
    Ok(json!({
        "id": NEXT_UPLOAD_ID.fetch_add(1, Ordering::Relaxed),
        "created_at": created_at,
        "user": token.email,
        "try_symbols": try_symbols,
        "upload_protocol": "gcs-resumable",
        "files": files,
    }))
}
