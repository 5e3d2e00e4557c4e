//! Tecken's download API: `GET|HEAD /{debug_file}/{debug_id}/{sym_file}` (and `/try/...`),
//! the storage URLs it redirects to in production, code-id redirects and syminfo.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::DownloadError;
use crate::faults::BodyFaults;
use crate::keys::SymbolKey;
use crate::server::AppState;
use crate::store::StoredFile;
use crate::sym_body::{SymSource, sym_body};

/// Tecken's `set_cors_headers` on download responses.
pub fn add_cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "accept,accept-encoding,authorization,content-type,dnt,origin,user-agent,x-csrftoken,x-requested-with",
        ),
    );
}

/// `Debug: true|1|yes` asks for `Debug-Time`.
fn wants_debug(headers: &HeaderMap) -> bool {
    headers
        .get("debug")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether the query string carries a `try` parameter (any value, even `try=0`).
fn query_has_try(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("try"))
    })
}

pub async fn download_regular(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    download(state, path.ok().map(|p| p.0), false, request.into_parts().0).await
}

pub async fn download_try(
    State(state): State<Arc<AppState>>,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    download(state, path.ok().map(|p| p.0), true, request.into_parts().0).await
}

async fn download(
    state: Arc<AppState>,
    parts: Option<(String, String, String)>,
    try_prefix: bool,
    request: Parts,
) -> Response {
    let started = Instant::now();
    let debug = wants_debug(&request.headers);
    let mut response = match lookup_and_answer(&state, parts, try_prefix, &request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    add_cors(response.headers_mut());
    if debug {
        let secs = started.elapsed().as_secs_f64();
        if let Ok(v) = HeaderValue::from_str(&format!("{secs:.6}")) {
            response.headers_mut().insert("debug-time", v);
        }
    }
    response
}

async fn lookup_and_answer(
    state: &AppState,
    parts: Option<(String, String, String)>,
    try_prefix: bool,
    request: &Parts,
) -> Result<Response, DownloadError> {
    let bad_path = || DownloadError::BadPath {
        path: request.uri.path().to_string(),
    };
    let (debug_file, debug_id, file_name) = parts.ok_or_else(bad_path)?;
    let key = SymbolKey::parse(&debug_file, &debug_id, &file_name).ok_or_else(bad_path)?;
    let method = &request.method;
    if method != Method::GET && method != Method::HEAD {
        return Err(DownloadError::MethodNotAllowed {
            method: method.to_string(),
            path: request.uri.path().to_string(),
        });
    }
    if key.is_ignored() {
        return Err(DownloadError::Ignored);
    }
    let include_try = try_prefix || query_has_try(request.uri.query());
    let faults = request
        .extensions
        .get::<BodyFaults>()
        .cloned()
        .unwrap_or_default();
    if let Some(size) = faults.synthetic_size {
        let source = SymSource::Synthetic {
            debug_file: key.debug_file.clone(),
            debug_id: key.debug_id.clone(),
            size,
        };
        if method == Method::HEAD {
            return Ok(StatusCode::OK.into_response());
        }
        return serve(source, faults, true, &request.headers).await;
    }
    let found = state
        .store
        .get(&key, include_try)
        .map_err(|e| DownloadError::Internal(e.to_string()))?;
    match found {
        // Tecken's "nonstandard convention": HEAD on a found file is 200, never 302.
        Some(_) if method == Method::HEAD => Ok(StatusCode::OK.into_response()),
        Some(file) if state.config.redirect_to_storage => Ok(redirect(&state.storage_url(&file))),
        Some(file) => {
            let is_sym = file.key.file_name.ends_with(".sym");
            serve(
                SymSource::File {
                    path: file.path.clone(),
                    size: file.size,
                },
                faults,
                is_sym,
                &request.headers,
            )
            .await
        }
        None if key.may_be_code_info() => {
            let by_code = state
                .store
                .find_by_code(&key.debug_file, &key.debug_id, include_try)
                .map_err(|e| DownloadError::Internal(e.to_string()))?;
            match by_code.and_then(|f| code_info_location(&f, &key, request.uri.query())) {
                Some(location) => Ok(redirect(&location)),
                None => Err(DownloadError::NotFound),
            }
        }
        None => Err(DownloadError::NotFound),
    }
}

/// `/[try/]<debug_filename>/<debug_id>/<requested file>[?query]`, as Tecken's code-info hit.
fn code_info_location(
    file: &StoredFile,
    requested: &SymbolKey,
    query: Option<&str>,
) -> Option<String> {
    let debug_file = file.header.debug_file.as_deref()?;
    let debug_id = file.header.debug_id.as_deref()?;
    let prefix = if file.try_symbols { "/try" } else { "" };
    let mut location = format!(
        "{prefix}/{}/{}/{}",
        encode_segment(debug_file),
        encode_segment(debug_id),
        encode_segment(&requested.file_name)
    );
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    Some(location)
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            DownloadError::Internal(format!("unencodable location {location:?}")).into_response()
        }
    }
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A 200 with the sym content, gzip-encoded when the client accepts it and it is a `.sym`.
async fn serve(
    source: SymSource,
    faults: BodyFaults,
    is_sym: bool,
    headers: &HeaderMap,
) -> Result<Response, DownloadError> {
    let gzip = is_sym && accepts_gzip(headers);
    let body = sym_body(source, faults, gzip)
        .await
        .map_err(|e| DownloadError::Internal(e.to_string()))?;
    let mut response = Response::new(body.body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if is_sym {
            "text/plain"
        } else {
            "application/octet-stream"
        }),
    );
    // Storage objects are written with `no-transform` (Tecken bug 1827506).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-transform"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some(len) = body.content_length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(response)
}

/// The storage URL of regular files, `/__storage__/v1/<key>`.
pub async fn storage_regular(
    State(state): State<Arc<AppState>>,
    Path(parts): Path<(String, String, String)>,
    request: Request,
) -> Response {
    storage(&state, parts, false, &request.into_parts().0).await
}

/// The storage URL of try files, `/__storage__/try/v1/<key>`.
pub async fn storage_try(
    State(state): State<Arc<AppState>>,
    Path(parts): Path<(String, String, String)>,
    request: Request,
) -> Response {
    storage(&state, parts, true, &request.into_parts().0).await
}

/// A storage GET: the object, gzip-encoded like Tecken's bucket objects.
async fn storage(
    state: &AppState,
    (debug_file, debug_id, file_name): (String, String, String),
    try_symbols: bool,
    request: &Parts,
) -> Response {
    let Some(key) = SymbolKey::parse(&debug_file, &debug_id, &file_name) else {
        return DownloadError::NotFound.into_response();
    };
    let faults = request
        .extensions
        .get::<BodyFaults>()
        .cloned()
        .unwrap_or_default();
    match state.store.get_exact(&key, try_symbols) {
        Ok(Some(file)) => {
            let is_sym = file.key.file_name.ends_with(".sym");
            let source = SymSource::File {
                path: file.path.clone(),
                size: file.size,
            };
            match serve(source, faults, is_sym, &request.headers).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
        Ok(None) => DownloadError::NotFound.into_response(),
        Err(e) => DownloadError::Internal(e.to_string()).into_response(),
    }
}

/// `GET /api/syminfo/{file}/{id}`.
pub async fn syminfo(
    State(state): State<Arc<AppState>>,
    Path((file, id)): Path<(String, String)>,
) -> Response {
    match state.store.find_module(&file, &id) {
        Ok(Some(found)) => {
            let debug_filename = found
                .header
                .debug_file
                .clone()
                .unwrap_or_else(|| found.key.debug_file.clone());
            let debug_id = found
                .header
                .debug_id
                .clone()
                .unwrap_or_else(|| found.key.debug_id.clone());
            let sym_name = match debug_filename.strip_suffix(".pdb") {
                Some(stem) => format!("{stem}.sym"),
                None => format!("{debug_filename}.sym"),
            };
            let url = format!(
                "{}{}/{}/{}/{}",
                state.public_url,
                if found.try_symbols { "/try" } else { "" },
                encode_segment(&debug_filename),
                encode_segment(&debug_id),
                encode_segment(&sym_name)
            );
            axum::Json(json!({
                "debug_id": debug_id,
                "debug_filename": debug_filename,
                "code_file": found.header.code_file,
                "code_id": found.header.code_id,
                "generator": found.header.generator,
                "url": url,
            }))
            .into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, "Code file / id Not Found").into_response(),
        Err(e) => DownloadError::Internal(e.to_string()).into_response(),
    }
}

/// Paths matching no route: Django's JSON 404.
pub async fn not_found(request: Request) -> Response {
    let mut response = DownloadError::BadPath {
        path: request.uri().path().to_string(),
    }
    .into_response();
    add_cors(response.headers_mut());
    response
}
