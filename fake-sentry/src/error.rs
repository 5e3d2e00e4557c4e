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

impl From<BudgetError> for IngestError {
    fn from(err: BudgetError) -> Self {
        match err {
            BudgetError::TooLarge { .. } => Self::TooLarge(err.to_string()),
            BudgetError::Busy { .. } => Self::Overloaded(err.to_string()),
        }
    }
}

impl From<DecodeError> for IngestError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::Unsupported(_) => Self::UnsupportedEncoding(err.to_string()),
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
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        crate::kent::json_response(status, &json!({"error": self.to_string()}))
    }
}
