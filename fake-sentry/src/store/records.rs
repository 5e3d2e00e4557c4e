//! What reads return: items, envelopes, refusals and stored bodies, how they are read from a
//! row, and the time stamps they carry.

use serde::Serialize;
use serde_json::Value;

use super::compact::BodyForm;

/// One item as the list API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemSummary {
    /// fake-sentry's id of the item (a UUID, as Kent's `event_id`).
    pub id: String,
    /// Storage order; use as a cursor.
    pub seq: i64,
    pub envelope_id: i64,
    pub project_id: u64,
    #[serde(rename = "type")]
    pub item_type: String,
    /// The Sentry event id, when the item has one.
    pub event_id: Option<String>,
    pub level: Option<String>,
    pub platform: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub sdk: Option<SdkInfo>,
    pub summary: String,
    /// Event time from the payload (RFC 3339).
    pub timestamp: Option<String>,
    pub received_at: String,
    pub size: i64,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub decode_error: Option<String>,
    /// How many data-policy findings the item has; `None` when it was not audited (no policy,
    /// or not a JSON item).
    pub findings: Option<u64>,
    /// The trace the item belongs to (its own, else its envelope's); absent when it names
    /// none, and for items stored before fake-sentry recorded traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SdkInfo {
    pub name: String,
    pub version: Option<String>,
}

/// Milliseconds since the Unix epoch: the clock requests, refusals and outcomes are stamped
/// with (see `format_ms`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats epoch milliseconds as RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    format_secs(ms as f64 / 1000.0)
}

pub(super) fn format_secs(secs: f64) -> String {
    use time::format_description::well_known::Rfc3339;
    let nanos = (secs * 1e9) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos % 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(super) const SUMMARY_COLUMNS: &str =
    "seq, id, envelope_id, project_id, item_type, event_id, level, platform, release,
    environment, sdk_name, sdk_version, summary, timestamp, received_at,
    COALESCE(payload_size, LENGTH(payload)), filename,
    content_type, decode_error, finding_count, trace_id";

pub(super) fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemSummary> {
    let sdk_name: Option<String> = row.get(10)?;
    let timestamp: Option<f64> = row.get(13)?;
    Ok(ItemSummary {
        seq: row.get(0)?,
        id: row.get(1)?,
        envelope_id: row.get(2)?,
        project_id: row.get::<_, i64>(3)? as u64,
        item_type: row.get(4)?,
        event_id: row.get(5)?,
        level: row.get(6)?,
        platform: row.get(7)?,
        release: row.get(8)?,
        environment: row.get(9)?,
        sdk: sdk_name.map(|name| SdkInfo {
            name,
            version: row.get(11).ok().flatten(),
        }),
        summary: row.get(12)?,
        timestamp: timestamp.map(format_secs),
        received_at: format_ms(row.get(14)?),
        size: row.get(15)?,
        filename: row.get(16)?,
        content_type: row.get(17)?,
        decode_error: row.get(18)?,
        findings: row.get::<_, Option<i64>>(19)?.map(|n| n as u64),
        trace_id: row.get(20)?,
    })
}

/// One item with everything about it.
#[derive(Debug, Clone)]
pub struct ItemRecord {
    pub summary: ItemSummary,
    pub header: Option<Value>,
    pub payload: Vec<u8>,
    pub is_json: bool,
}

/// What the data policy recorded for one item.
#[derive(Debug, Clone, Default)]
pub struct ItemAuditRecord {
    /// The findings (a JSON array); `None` when the item was not audited.
    pub findings: Option<Value>,
    /// The scrubbed payload when scrubbing changed it.
    pub scrubbed: Option<Vec<u8>>,
    /// What scrubbing did (`{"changes": [...], "diagnostics": [...]}`); `None` when the item
    /// was not scrubbed.
    pub scrub_report: Option<Value>,
}

/// One stored envelope.
#[derive(Debug, Clone, Serialize)]
pub struct EnvelopeRecord {
    pub id: i64,
    pub project_id: u64,
    pub endpoint: String,
    pub received_at: String,
    pub auth_source: String,
    pub public_key: Option<String>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub header: Option<Value>,
    pub size: i64,
    pub wire_size: i64,
    /// Whether `/api/envelopes/{id}/raw?as_sent` has the body byte for byte: always with
    /// `--bodies as-sent`, and with `compact` for a body sent without a content encoding or
    /// that the compact form would not have made smaller.
    pub kept_as_sent: bool,
    /// The HTTP request headers as sent.
    pub http_headers: Option<Value>,
    pub item_ids: Vec<String>,
}

/// A stored request body and how to read it.
#[derive(Debug, Clone)]
pub struct StoredBody {
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was sent with.
    #[allow(dead_code, reason = "stored with the body; nothing reads it yet")]
    pub content_type: Option<String>,
    /// The `Content-Encoding` it was sent with.
    pub content_encoding: Option<String>,
    /// What `bytes` are: the body as sent (still encoded), decoded, or compact.
    pub form: BodyForm,
}

impl StoredBody {
    /// Bodies were within the decompression limit when they were accepted, so decoding one
    /// again is bounded by that; this cap only guards against a database edited by hand.
    pub const DECODE_LIMIT: usize = 1 << 30;

    /// The body after undoing its content encoding (at most `limit` bytes).
    pub fn decoded(self, limit: usize) -> Result<Vec<u8>, crate::decode::DecodeError> {
        match self.form {
            BodyForm::Decoded => Ok(self.bytes),
            BodyForm::Compact => super::compact::decompress(&self.bytes, limit),
            BodyForm::AsSent => {
                let encodings =
                    crate::decode::parse_content_encoding(self.content_encoding.as_deref())?;
                if encodings.is_empty() {
                    return Ok(self.bytes);
                }
                crate::decode::decode_body(&self.bytes, &encodings, limit)
            }
        }
    }

    /// The body exactly as it was sent, unless it was encoded and is kept in another form
    /// (see `store/compact.rs`).
    pub fn into_as_sent(self) -> Option<Vec<u8>> {
        match self.form {
            BodyForm::AsSent => Some(self.bytes),
            form if form.keeps_as_sent(self.content_encoding.as_deref()) => {
                self.decoded(Self::DECODE_LIMIT).ok()
            }
            _ => None,
        }
    }
}

pub(super) fn stored_body(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<StoredBody> {
    Ok(StoredBody {
        bytes: row.get(first)?,
        content_type: row.get(first + 1)?,
        content_encoding: row.get(first + 2)?,
        form: BodyForm::from_column(row.get(first + 3)?)?,
    })
}

/// One refused request as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalRecord {
    pub id: i64,
    pub received_at: String,
    pub method: String,
    pub path: String,
    pub project_id: Option<u64>,
    pub status: u16,
    pub reason: String,
    pub client: Option<String>,
    pub public_key: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body_size: i64,
    /// The start of the body as sent (lossy UTF-8).
    pub body_prefix: String,
}

/// An envelope with its items, as live streams send it.
#[derive(Debug, Clone)]
pub struct EnvelopeWithItems {
    pub id: i64,
    pub header: Option<Value>,
    pub body: StoredBody,
    /// Item header, payload, and whether the payload is JSON.
    pub items: Vec<(Option<Value>, Vec<u8>, bool)>,
}
