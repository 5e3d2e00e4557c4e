//! Reading an ingest request's body: up to the configured limit, charged to the in-flight
//! budget before it is kept.

use axum::body::Body;
use axum::body::HttpBody as _;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::config::Limits;
use crate::error::IngestError;
use crate::in_flight::RequestCharge;

/// Reads the body within `limits.max_request_body` and `limits.body_timeout`, charging what it
/// keeps to `charge` before keeping it.
pub(super) async fn read_body(
    body: Body,
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<Bytes, IngestError> {
    tokio::time::timeout(
        limits.body_timeout,
        read_limited(body, limits.max_request_body, charge),
    )
    .await
    .map_err(|_| {
        IngestError::Timeout(format!(
            "the request body did not arrive within {} s (--body-timeout)",
            limits.body_timeout.as_secs_f64()
        ))
    })?
}

/// Reads the body up to `limit` bytes, charging what it keeps to `charge` before keeping it;
/// `Err` when it is longer, the budget has no room, or the connection failed.
async fn read_limited(
    mut body: Body,
    limit: usize,
    charge: &RequestCharge,
) -> Result<Bytes, IngestError> {
    let too_large =
        || IngestError::TooLarge(format!("request body exceeds the limit of {limit} bytes"));
    // With a known length (Content-Length) the buffer is sized once; otherwise it doubles.
    let expected = body.size_hint().exact().map(|n| n as usize);
    if expected.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // A body that arrives in one frame (most SDK requests) is kept as it came, uncopied.
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    // What has been charged for the body so far: its whole length from the first frame on
    // when that is known, so that the buffer it is gathered in costs nothing more.
    let mut charged = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            let err = err.into_inner();
            match err.downcast_ref::<http_edge::BodyStalled>() {
                Some(stalled) => IngestError::Timeout(format!("{stalled} (--body-idle-timeout)")),
                None => IngestError::bad_request(format!("could not read the request body: {err}")),
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if data.is_empty() {
            continue;
        }
        let kept = first.as_ref().map_or(0, Bytes::len) + buffer.len();
        let needed = kept + data.len();
        if needed > limit {
            return Err(too_large());
        }
        if kept == 0 {
            charged = expected.unwrap_or(0).max(data.len());
            charge.add(charged)?;
            first = Some(data);
            continue;
        }
        if needed > buffer.capacity() {
            let capacity = expected
                .unwrap_or(0)
                .max(needed)
                .max(buffer.capacity().saturating_mul(2))
                .min(limit);
            if capacity > charged {
                charge.add(capacity - charged)?;
                charged = capacity;
            }
            buffer.reserve(capacity - buffer.len());
        }
        if let Some(first) = first.take() {
            buffer.extend_from_slice(&first);
        }
        buffer.extend_from_slice(&data);
    }
    Ok(match first {
        Some(only) => only,
        None => buffer.freeze(),
    })
}
