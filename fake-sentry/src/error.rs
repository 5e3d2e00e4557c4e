//! HTTP errors: one type per side of the service, each with one status and one body shape.
//!
//! Ingest errors answer like Relay (`{"detail": …, "causes": […]}`, which SDKs log); API errors
//! answer like Kent (`{"error": …}`), which existing Kent consumers parse.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::decode::DecodeError;
use crate::envelope::EnvelopeError;
use crate::faults::{FaultKind, rate_limits_header};
use crate::in_flight::BudgetError;
use crate::store::{BadTime, StoreError};

/// Why an ingest request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{detail}")]
    BadRequest { detail: String, causes: Vec<String> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error("injected fault: {0}")]
    Fault(FaultKind),
    #[error("storage unavailable: {0}")]
    Storage(#[from] StoreError),
    /// The in-flight memory budget has no room for this request right now.
    #[error("{0}")]
    Overloaded(String),
    /// The body did not arrive within the body timeout.
    #[error("{0}")]
    Timeout(String),
}

impl IngestError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            causes: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Fault(kind) => match kind {
                FaultKind::RateLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
                FaultKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                FaultKind::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                FaultKind::Unavailable | FaultKind::Delay { .. } => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::Storage(_) | Self::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

impl IngestError {
    /// The error with at most `max_causes` causes (the rest summed up as "and N more") and every
    /// text cut to `max_len` bytes, so that its answer, its log line and its stored refusal stay
    /// small whatever the request held (a body of many bad items, a long header echoed back).
    pub fn bounded(self, max_causes: usize, max_len: usize) -> Self {
        let cut = |text: String| truncate_text(text, max_len);
        match self {
            Self::BadRequest { detail, causes } => Self::BadRequest {
                detail: cut(detail),
                causes: bound_causes(causes, max_causes, max_len),
            },
            Self::Unauthorized(text) => Self::Unauthorized(cut(text)),
            Self::TooLarge(text) => Self::TooLarge(cut(text)),
            Self::UnsupportedEncoding(text) => Self::UnsupportedEncoding(cut(text)),
            Self::Overloaded(text) => Self::Overloaded(cut(text)),
            Self::Timeout(text) => Self::Timeout(cut(text)),
            other @ (Self::Fault(_) | Self::Storage(_)) => other,
        }
    }
}

/// The first `max_causes` causes, each cut to `max_len` bytes, then "and N more" for the rest.
pub fn bound_causes(causes: Vec<String>, max_causes: usize, max_len: usize) -> Vec<String> {
    let total = causes.len();
    let mut kept: Vec<String> = causes
        .into_iter()
        .take(max_causes)
        .map(|cause| truncate_text(cause, max_len))
        .collect();
    if total > kept.len() {
        kept.push(format!("and {} more", total - kept.len()));
    }
    kept
}

/// `text` cut to at most `max_len` bytes (on a character boundary), saying how long it was.
pub fn truncate_text(mut text: String, max_len: usize) -> String {
    if text.len() <= max_len {
        return text;
    }
    let total = text.len();
    let mut end = max_len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("... ({total} bytes in all)"));
    text
}

impl From<crate::auth::QueryError> for IngestError {
    fn from(err: crate::auth::QueryError) -> Self {
        Self::BadRequest {
            detail: "invalid query string".into(),
            causes: vec![err.to_string()],
        }
    }
}

impl From<BudgetError> for IngestError {
    fn from(err: BudgetError) -> Self {
        let text = format!("{err} ({})", crate::in_flight::KNOB);
        match err {
            BudgetError::TooLarge { .. } => Self::TooLarge(text),
            BudgetError::Busy { .. } => Self::Overloaded(text),
        }
    }
}

impl From<DecodeError> for IngestError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::Unsupported(_) | DecodeError::TooManyEncodings { .. } => {
                Self::UnsupportedEncoding(err.to_string())
            }
            DecodeError::TooLarge { .. } => Self::TooLarge(err.to_string()),
            DecodeError::Budget(budget) => budget.into(),
            DecodeError::Corrupt { .. } => Self::BadRequest {
                detail: "invalid body compression".into(),
                causes: vec![err.to_string()],
            },
        }
    }
}

impl From<EnvelopeError> for IngestError {
    fn from(err: EnvelopeError) -> Self {
        Self::BadRequest {
            detail: "invalid event envelope".into(),
            causes: vec![err.to_string()],
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (detail, causes) = match &self {
            Self::BadRequest { detail, causes } => (detail.clone(), causes.clone()),
            other => (other.to_string(), Vec::new()),
        };
        let mut response =
            (status, Json(json!({"detail": detail, "causes": causes}))).into_response();
        if let Self::Fault(FaultKind::RateLimit {
            retry_after_secs,
            categories,
        }) = &self
        {
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
            if let Ok(v) = HeaderValue::from_str(&rate_limits_header(*retry_after_secs, categories))
            {
                headers.insert("x-sentry-rate-limits", v);
            }
        }
        if let Self::Overloaded(_) = &self {
            // Room comes back as soon as requests in flight finish.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Ok(v) = HeaderValue::from_str(&detail.replace(['\r', '\n'], " ")) {
            response.headers_mut().insert("x-sentry-error", v);
        }
        response
    }
}

/// An error of the query API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    /// The request cannot be done in the server's configuration.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Storage(#[from] StoreError),
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl From<BadTime> for ApiError {
    fn from(err: BadTime) -> Self {
        Self::BadRequest(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        crate::kent::json_response(status, &json!({"error": self.to_string()}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_errors_keep_the_first_causes_and_count_the_rest() {
        let causes: Vec<String> = (0..100).map(|i| format!("cause {i}")).collect();
        let err = IngestError::BadRequest {
            detail: "x".repeat(5000),
            causes,
        }
        .bounded(3, 100);
        let IngestError::BadRequest { detail, causes } = err else {
            panic!("not a bad request");
        };
        assert!(detail.starts_with(&"x".repeat(100)));
        assert!(detail.ends_with("... (5000 bytes in all)"), "{detail}");
        assert_eq!(causes, ["cause 0", "cause 1", "cause 2", "and 97 more"]);
        // Few causes stay as they are.
        assert_eq!(bound_causes(vec!["a".into()], 3, 10), ["a"]);
        // Cuts fall on character boundaries.
        assert_eq!(truncate_text("ééé".into(), 3), "é... (6 bytes in all)");
    }
}
