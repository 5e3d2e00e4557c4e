//! Envelopes: `POST /api/{project}/envelope/` and Spotlight's `POST /stream`.

use serde_json::{Map, Value};

use super::{
    Endpoint, IngestRequest, Ingested, authorize, check_item_size, decoded_body, new_envelope,
    with_decoded,
};
use crate::auth;
use crate::config::Limits;
use crate::error::IngestError;
use crate::in_flight::RequestCharge;
use crate::item::{self, EnvelopeContext};
use crate::store::{BodyPosition, NewItem};

/// `POST /api/{project}/envelope/` and Spotlight's `POST /stream`. The content type is not
/// consulted: Relay treats text/plain, form-urlencoded and multipart bodies as envelopes too
/// (browsers use them to skip the CORS preflight).
pub fn ingest_envelope(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let raw = decoded_body(req, limits)?;
    let parsed = parse_envelope(&raw, limits, &req.charge)?;
    let auth = auth::extract(&req.headers, &req.query, parsed.dsn());
    authorize(&auth, required_keys)?;
    let framing = parsed.framing_errors();
    if !framing.is_empty() {
        return Err(IngestError::BadRequest {
            detail: "invalid event envelope".into(),
            causes: framing,
        });
    }
    let mut sessions = 0;
    for item in &parsed.items {
        check_item_size(limits, &item.item_type, item.payload.len())?;
        sessions += usize::from(item.item_type == "session");
    }
    if sessions > limits.max_sessions {
        return Err(IngestError::TooLarge(format!(
            "envelope has {sessions} sessions, more than the limit of {}",
            limits.max_sessions
        )));
    }
    let envelope_event_id = parsed
        .event_id()
        .map(|id| item::normalize_event_id(id.to_string()));
    let sentry_envelope::Envelope {
        header,
        items: parsed_items,
    } = parsed;
    let context = EnvelopeContext {
        header: Some(&header),
        client: auth.client.as_deref(),
    };
    let items: Vec<NewItem> = parsed_items
        .into_iter()
        .map(|it| NewItem {
            meta: item::describe_within(
                &it.item_type,
                &it.header,
                &it.payload,
                context,
                limits.max_json_depth,
                limits.max_log_entries,
            ),
            // Every item is a byte range of the body, kept once there.
            in_body: it.payload_offset.map(|at| BodyPosition {
                payload: at..at + it.payload.len(),
                header_line_before: it.header_precedes_payload,
            }),
            item_type: it.item_type,
            header: Some(it.header),
            payload: it.payload,
            audit: None,
        })
        .collect();
    let event_id = envelope_event_id.or_else(|| {
        items
            .iter()
            .find(|i| matches!(i.item_type.as_str(), "event" | "transaction"))
            .and_then(|i| i.meta.event_id.clone())
    });
    let decoded_size = raw.len();
    let mut envelope = with_decoded(
        new_envelope(req, auth, Some(header), decoded_size, items),
        raw,
    );
    envelope.header_is_first_line = true;
    if req.endpoint == Endpoint::Stream {
        envelope.project_id = stream_project(envelope.header.as_ref());
    }
    Ok(Ingested { envelope, event_id })
}

/// Frames an envelope within the limits, charging every item's header tree and bookkeeping to
/// the request as it goes: a body of a million tiny items stops at the first item past
/// `max_items_per_envelope` having charged no more than the items before it.
fn parse_envelope(
    raw: &[u8],
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<sentry_envelope::Envelope, IngestError> {
    let parse_limits = sentry_envelope::ParseLimits {
        max_items: limits.max_items_per_envelope,
        max_header_bytes: limits.max_envelope_header,
        max_item_header_bytes: limits.max_item_header,
        max_json_depth: limits.max_json_depth,
    };
    sentry_envelope::parse_with(raw, &parse_limits, |bytes| charge.add(bytes)).map_err(|err| {
        match err {
            sentry_envelope::ParseError::Envelope(err) => err.into(),
            // Framing stopped at the first item past the limit: how many follow is not known.
            sentry_envelope::ParseError::TooManyItems { limit } => IngestError::TooLarge(format!(
                "envelope has at least {} items, more than the limit of {limit} \
             (--max-items-per-envelope)",
                limit.saturating_add(1)
            )),
            sentry_envelope::ParseError::Account(budget) => budget.into(),
        }
    })
}

/// Spotlight ignores projects; keep the one named by the envelope's DSN when there is one.
fn stream_project(header: Option<&Map<String, Value>>) -> u64 {
    header
        .and_then(|h| h.get("dsn"))
        .and_then(Value::as_str)
        .and_then(|dsn| dsn.rsplit('/').find(|s| !s.is_empty()))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stream_project_comes_from_the_envelope_dsn() {
        let header = json!({"dsn": "http://k@localhost:8969/5"});
        assert_eq!(stream_project(header.as_object()), 5);
        assert_eq!(stream_project(None), 0);
    }
}
