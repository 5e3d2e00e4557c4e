//! Tecken's upload API: `POST /upload/` (a multipart zip or `url=` upload-by-download) and
//! `POST /upload/auth_info/`.
//!
//! The zip is streamed to a staging temp file under the size limit, then checked and
//! extracted on a blocking thread. If the client disconnects, the handler future is dropped:
//! the temp file deletes itself and a drop guard sets the cancel flag, which stops any
//! extraction in progress (the 2022 Tecken incident left orphans that filled the disk).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::archive::{ArchiveOutcome, ArchiveRules, extract_archive_within};
use crate::auth;
use crate::config::{Permission, Token};
use crate::error::UploadError;
use crate::multipart_guard::{FramingGuard, FramingLimits};
use crate::server::AppState;
use crate::{staging, url_upload};

/// Upload ids, from 1.
pub(crate) static NEXT_UPLOAD_ID: AtomicU64 = AtomicU64::new(1);

/// Largest urlencoded form (`url=...&try=...`).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Bytes a multipart body may have beyond its file (boundaries, part headers, small fields).
const FORM_OVERHEAD: u64 = 1 << 20;

/// Sets the flag when dropped: the request was abandoned.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Authenticates, draining the body on refusal like Tecken (bug 1655944).
pub(crate) async fn authenticated(
    state: &AppState,
    request: Request,
) -> Result<(Token, Request), UploadError> {
    let result = auth::authenticate(&state.config.tokens, request.headers(), now_unix())
        .and_then(|t| auth::require_upload(t).map(|()| t.clone()));
    match result {
        Ok(token) => Ok((token, request)),
        Err(err) => {
            drain(request.into_body(), state.config.limits.max_upload_bytes).await;
            Err(err)
        }
    }
}

async fn drain(body: Body, limit: u64) {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > limit {
            break;
        }
    }
}

pub async fn upload(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if request.method() != Method::POST {
        return UploadError::MethodNotAllowed {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
        }
        .into_response();
    }
    let mut response = match handle_upload(&state, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Auth-Token"));
    response
}

async fn handle_upload(state: &Arc<AppState>, request: Request) -> Result<Response, UploadError> {
    let (token, request) = authenticated(state, request).await?;
    let limit = state.config.limits.max_upload_bytes;
    if request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > limit.saturating_add(FORM_OVERHEAD))
    {
        return Err(UploadError::TooLarge(limit));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let received = if content_type.starts_with("multipart/form-data") {
        receive_multipart(state, request, &content_type).await?
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|e| UploadError::BadForm(format!("could not read the form: {e}")))?;
        let form: Vec<(String, String)> = url_decode_form(&body);
        let try_field = form.iter().any(|(k, _)| k == "try");
        match form.into_iter().find(|(k, _)| k == "url").map(|(_, v)| v) {
            Some(url) => {
                let staged = url_upload::fetch(state, &url).await?;
                Received {
                    zip: staged.file,
                    size: staged.size,
                    filename: staged.filename,
                    try_field,
                    download_url: Some(url),
                }
            }
            None => return Err(UploadError::NoFile),
        }
    } else {
        return Err(UploadError::NoFile);
    };
    // A token lacking `upload_symbols` can only make try uploads.
    let try_symbols = received.try_field || token.permission == Permission::UploadTry;
    let created_at = OffsetDateTime::now_utc();
    let outcome = {
        let state = state.clone();
        let zip: PathBuf = received.zip.to_path_buf();
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || {
            let rules = ArchiveRules {
                disallowed_snippets: &state.config.disallowed_snippets,
                max_member_bytes: state.config.limits.max_member_bytes,
                max_members: state.config.limits.max_members,
            };
            let max_extracted = state.config.limits.max_extracted_bytes;
            extract_archive_within(
                &state.store,
                &zip,
                try_symbols,
                &rules,
                max_extracted,
                &cancel,
            )
        })
        .await
        .map_err(|e| UploadError::Internal(e.to_string()))??
    };
    drop(received.zip);
    tracing::info!(
        stored = outcome.stored.len(),
        skipped = outcome.skipped.len(),
        size = received.size,
        "upload"
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(upload_body(
            &token,
            &received.filename,
            received.size,
            try_symbols,
            received.download_url,
            &outcome,
            created_at,
        )),
    )
        .into_response())
}

/// A zip staged on disk.
struct Received {
    zip: tempfile::TempPath,
    size: u64,
    filename: String,
    try_field: bool,
    download_url: Option<String>,
}

/// Streams the first file part (whose field name must end in `.zip`) to a staging file.
async fn receive_multipart(
    state: &AppState,
    request: Request,
    content_type: &str,
) -> Result<Received, UploadError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| UploadError::BadForm(format!("bad multipart form: {e}")))?;
    let limits = &state.config.limits;
    let limit = limits.max_upload_bytes;
    // The framing (preamble, part headers, part count) is bounded before multer buffers it,
    // and the whole body to the limit plus room for the framing, as a `Content-Length` is.
    let guarded = FramingGuard::new(
        request.into_body().into_data_stream(),
        &boundary,
        FramingLimits {
            max_header_bytes: limits.max_part_header_bytes,
            max_parts: limits.max_form_parts,
        },
    );
    let whole_body = limit.saturating_add(FORM_OVERHEAD);
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(whole_body));
    let mut multipart = multer::Multipart::with_constraints(guarded, boundary, constraints);
    let form_error = move |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } => UploadError::TooLarge(limit),
        multer::Error::StreamReadFailed(inner) => {
            UploadError::BadForm(format!("bad multipart form: {inner}"))
        }
        e => UploadError::BadForm(format!("bad multipart form: {e}")),
    };
    let mut try_field = false;
    let mut received: Option<Received> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if field.file_name().is_none() {
            if name == "try" {
                try_field = true;
            }
            continue;
        }
        if received.is_some() {
            continue; // Tecken handles the first file only
        }
        if !name.to_ascii_lowercase().ends_with(".zip") {
            let extension = name
                .rfind('.')
                .map_or("", |i| &name[i..])
                .to_ascii_lowercase();
            return Err(UploadError::Extension(extension));
        }
        let staged = tempfile::NamedTempFile::new_in(state.store.staging_dir())?;
        let (file, path) = staged.into_parts();
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
        let size = staging::copy_body(&mut field, &mut writer, limit, form_error).await?;
        writer.flush()?;
        received = Some(Received {
            zip: path,
            size,
            filename: name,
            try_field: false,
            download_url: None,
        });
    }
    let mut received = received.ok_or(UploadError::NoFile)?;
    received.try_field = try_field;
    Ok(received)
}

fn url_decode_form(body: &[u8]) -> Vec<(String, String)> {
    url_upload::parse_form(body)
}

/// Tecken's `_serialize_upload`, wrapped in `{"upload": ...}`.
fn upload_body(
    token: &Token,
    filename: &str,
    size: u64,
    try_symbols: bool,
    download_url: Option<String>,
    outcome: &ArchiveOutcome,
    created_at: OffsetDateTime,
) -> serde_json::Value {
    let completed_at = OffsetDateTime::now_utc();
    json!({
        "upload": {
            "id": NEXT_UPLOAD_ID.fetch_add(1, Ordering::Relaxed),
            "size": size,
            "filename": filename,
            "bucket": "fake-symbols",
            "download_url": download_url,
            "try_symbols": try_symbols,
            "redirect_urls": [],
            "completed_at": completed_at.format(&Rfc3339).ok(),
            "created_at": created_at.format(&Rfc3339).ok(),
            "user": token.email,
            "skipped_keys": outcome.skipped,
            "ignored_keys": outcome.ignored,
        }
    })
}

/// `POST /upload/auth_info/`.
pub async fn auth_info(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if request.method() != Method::POST {
        return UploadError::MethodNotAllowed {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
        }
        .into_response();
    }
    match authenticated(&state, request).await {
        Ok((token, _)) => {
            let user_id = state
                .config
                .tokens
                .iter()
                .position(|t| t.key == token.key)
                .map_or(0, |i| i + 1);
            axum::Json(json!({
                "email": token.email,
                "user_id": user_id,
                "try_symbols": token.permission == Permission::UploadTry,
                "token_expires_at": token.expires_at.unwrap_or_else(|| now_unix() + 365 * 86_400),
                "upload_api_version": state.config.upload_api_version,
            }))
            .into_response()
        }
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_record_keeps_sizes_past_32_bits_exact() {
        let token = Token::parse_flag("abc:upload:dev@example.com").unwrap();
        let outcome = ArchiveOutcome {
            stored: vec![],
            skipped: vec!["v1/libxul.so/ABCD0/libxul.so.sym".into()],
            ignored: vec![],
        };
        for size in [2_644_960_066u64, (1 << 32) + 1, u64::MAX] {
            let body = upload_body(
                &token,
                "symbols.zip",
                size,
                false,
                None,
                &outcome,
                OffsetDateTime::now_utc(),
            );
            assert_eq!(body["upload"]["size"].as_u64(), Some(size));
            // And on the wire: the number is written out in full.
            assert!(body.to_string().contains(&format!("\"size\":{size}")));
        }
    }
}
