//! HTTP errors. Every error that clients parse is JSON `{"error": "..."}` with Tecken's exact
//! text; Tecken's two plain-text download misses keep their text bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A JSON error answer.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Download API errors.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The path does not match Tecken's URL patterns: Django's JSON 404.
    #[error("Not Found")]
    BadPath { path: String },
    #[error("Symbol Not Found (and ignored)")]
    Ignored,
    #[error("Symbol Not Found")]
    NotFound,
    #[error("Method Not Allowed ({method}): {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("Internal Server Error")]
    Internal(String),
}

impl IntoResponse for DownloadError {
    fn into_response(self) -> Response {
        match &self {
            Self::BadPath { path } => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "Not Found", "path": path})),
            )
                .into_response(),
            Self::Ignored | Self::NotFound => (
                StatusCode::NOT_FOUND,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                self.to_string(),
            )
                .into_response(),
            Self::MethodNotAllowed { .. } => {
                let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, &self.to_string());
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
            Self::Internal(detail) => {
                tracing::error!(%detail, "download failed");
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

/// Upload API errors, with Tecken's messages.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("This requires an Auth-Token to authenticate the request")]
    NoToken,
    #[error("API Token not matched")]
    TokenNotMatched,
    #[error("API Token found but expired")]
    TokenExpired,
    #[error("API Token matched but user not active")]
    UserNotActive,
    #[error("Forbidden")]
    Forbidden,
    #[error("Must be multipart form data with at least one file")]
    NoFile,
    #[error("Unrecognized archive file extension \"{0}\"")]
    Extension(String),
    #[error("File is not a zip file")]
    NotAZip,
    #[error(
        "The zipfile buffer contains two files both called {name} and they have difference sizes ({first} != {second})"
    )]
    DuplicateSizes {
        name: String,
        first: u64,
        second: u64,
    },
    #[error("Content of archive file contains the snippet '{0}' which is not allowed")]
    Snippet(String),
    #[error(
        "Unrecognized file pattern. Should only be <module>/<hex>/<file> or <name>-symbols.txt and nothing else. (First unrecognized pattern was '{0}')"
    )]
    Pattern(String),
    #[error("Insecure URL")]
    InsecureUrl,
    #[error("Not an allowed domain ('{0}') to download from.")]
    Domain(String),
    #[error("Too many redirects trying to open {0}")]
    TooManyRedirects(String),
    #[error("{url} can't be found ({code})")]
    UrlNotFound { url: String, code: u16 },
    #[error("{url} errored ({code})")]
    UrlErrored { url: String, code: String },
    #[error("non-200 status code when retrieving {0}")]
    UrlNon200(String),
    #[error("upload is too large (limit {0} bytes)")]
    TooLarge(u64),
    #[error("zip archive has more than {0} members")]
    TooManyMembers(usize),
    #[error("zip archive extracts to more than {0} bytes")]
    ExtractedTooLarge(u64),
    #[error("{0}")]
    BadForm(String),
    #[error("Method Not Allowed ({method}): {path}")]
    MethodNotAllowed { method: String, path: String },
    /// Upload v2: more files than `UPLOAD_V2_MAX_FILES_PER_REQUEST`.
    #[error("too many files")]
    TooManyFiles,
    /// Upload v2: the body is not `{"files": [{"key", "size", "md5_hash"}, ...]}`.
    #[error("malformed JSON request body")]
    MalformedJson,
    /// Upload v2: more resumable sessions pending than the limit (retryable).
    #[error("too many pending upload sessions (limit {0}); finish or retry later")]
    TooManySessions(usize),
    /// Upload v2: the pending sessions would stage more bytes than the limit.
    #[error(
        "pending upload sessions would stage {wanted} bytes, over the limit of {limit} (--max-upload-session-bytes); finish or retry later"
    )]
    SessionBytes { wanted: u64, limit: u64 },
    #[error("Internal Server Error")]
    Internal(String),
}

impl UploadError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoToken
            | Self::TokenNotMatched
            | Self::TokenExpired
            | Self::UserNotActive
            | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::UrlErrored { .. } | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TooLarge(_) | Self::ExtractedTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManySessions(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::SessionBytes { .. } => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<std::io::Error> for UploadError {
    fn from(err: std::io::Error) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<crate::store::StoreError> for UploadError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "upload failed");
        }
        json_error(self.status(), &self.to_string())
    }
}

/// Errors of the GCS resumable-upload session URLs upload v2 hands out, in GCS's JSON error
/// shape `{"error": {"code": N, "message": "..."}}`.
#[derive(Debug, thiserror::Error)]
pub enum ResumableError {
    #[error("No such upload session.")]
    NoSession,
    #[error("Invalid Content-Range header: {0:?}")]
    BadContentRange(String),
    #[error(
        "Invalid request. According to the Content-Range header, the upload offset is {offset} byte(s), which exceeds already uploaded size of {received} byte(s)."
    )]
    Gap { offset: u64, received: u64 },
    #[error("The body does not have the {expected} byte(s) the Content-Range header announces.")]
    WrongLength { expected: u64 },
    #[error("The object size changed from {before} to {after} during the upload.")]
    TotalChanged { before: u64, after: u64 },
    #[error("The upload exceeds the limit of {0} bytes.")]
    TooLarge(u64),
    /// The finished object does not match what the upload v2 request declared (size and md5
    /// of the original content, after gunzip when `content_encoding` was gzip).
    #[error("The uploaded content ({got}) does not match the declared file ({declared}).")]
    Mismatch { declared: String, got: String },
    #[error("The content is not gzip-encoded as the upload asked: {0}")]
    NotGzip(String),
    #[error("Internal Server Error")]
    Internal(String),
}

impl ResumableError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoSession => StatusCode::NOT_FOUND,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<std::io::Error> for ResumableError {
    fn from(err: std::io::Error) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<crate::store::StoreError> for ResumableError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl IntoResponse for ResumableError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "resumable upload failed");
        }
        let status = self.status();
        (
            status,
            axum::Json(json!({"error": {"code": status.as_u16(), "message": self.to_string()}})),
        )
            .into_response()
    }
}

/// Symbolication API errors (Eliot answers falcon `HTTPBadRequest` with a title).
#[derive(Debug, thiserror::Error)]
pub enum SymbolicateError {
    #[error("{0}")]
    BadRequest(String),
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
}

impl IntoResponse for SymbolicateError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        };
        // Falcon's error body: {"title": ...}; Eliot clients read the title.
        (status, axum::Json(json!({ "title": self.to_string() }))).into_response()
    }
}

/// Admin API errors (`/__fault__`, `/__requests__`).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid fault spec: {0}")]
    Spec(String),
    #[error("the fault spec must be sent as Content-Type: application/json")]
    NotJson,
    #[error("the fault spec exceeds {0} bytes")]
    TooLarge(usize),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Spec(_) => StatusCode::BAD_REQUEST,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        };
        json_error(status, &self.to_string())
    }
}
