//! The detail page of one item: a view that fits its type, then what every item has (envelope
//! and item headers, decode errors, the other items of its envelope with download links, the
//! pretty raw payload) and links to the previous and next item.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::event_view::{EventView, Section, event_view};
use super::item_views::{
    self, BinaryPreview, LogTable, Table, WaterfallView, binary_preview, header_rows,
};
use super::limits::UiLimits;
use super::list::Row;
use super::native_crash::{NativeCrash, NativeCrashView, NativeStatus, native_crash_view};
use super::text::short_time;
use super::{UiError, queries, render};
use crate::server::AppState;
use crate::store::{self, EnvelopeRecord, ItemRecord, ItemSummary};

/// What a detail page needs from the store.
pub struct DetailData {
    pub record: ItemRecord,
    pub envelope: Option<EnvelopeRecord>,
    pub siblings: Vec<ItemSummary>,
    pub older: Option<ItemSummary>,
    pub newer: Option<ItemSummary>,
    pub audit: store::ItemAuditRecord,
    /// The minidump the item is, or was sent with, and how far its processing has got.
    pub minidump: Option<store::MinidumpRecord>,
}

/// Loads item `id` (fake-sentry id or Sentry event id) and its surroundings.
pub fn load(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<DetailData>> {
    let Some(record) = store::get_item(conn, id)? else {
        return Ok(None);
    };
    let envelope = store::get_envelope(conn, record.summary.envelope_id)?;
    let siblings =
        queries::envelope_items(conn, record.summary.envelope_id, record.summary.project_id)?
            .into_iter()
            .filter(|s| s.id != record.summary.id)
            .collect();
    let (older, newer) = queries::neighbours(conn, record.summary.seq)?;
    let audit = store::get_item_audit(conn, &record.summary.id)?;
    let minidump = match record.summary.item_type.as_str() {
        "event" | "attachment" => {
            store::find_minidump(conn, &record.summary.id, store::MinidumpBodies::NativeEvent)?
        }
        _ => None,
    };
    Ok(Some(DetailData {
        minidump,
        audit,
        record,
        envelope,
        siblings,
        older,
        newer,
    }))
}

/// The envelope facts a detail page shows.
/// What the data policy said about the item (fake-sentry started with `--policy`/`--preset`).
pub(crate) struct AuditView {
    pub policy: String,
    /// (path, found by, redacted excerpt)
    pub findings: Vec<(String, String, String)>,
    /// The scrubbed payload, pretty, when `--scrub` changed it.
    pub scrubbed_json: Option<String>,
    /// (path, rule, action) of each scrub change.
    pub changes: Vec<(String, String, String)>,
    pub scrubbed: bool,
}

fn audit_view(l: &UiLimits, audit: store::ItemAuditRecord, policy: &str) -> Option<AuditView> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let findings = audit
        .findings?
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| {
                    let found_by = match text(f, "kind").as_str() {
                        "not_allowed" => "not on the allowlist".to_string(),
                        kind => format!("{kind} {}", text(f, "name")),
                    };
                    (text(f, "path"), found_by, text(f, "excerpt"))
                })
                .collect()
        })
        .unwrap_or_default();
    let changes = audit
        .scrub_report
        .as_ref()
        .and_then(|r| r.get("changes"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| (text(c, "path"), text(c, "rule"), text(c, "action")))
                .collect()
        })
        .unwrap_or_default();
    Some(AuditView {
        policy: policy.to_string(),
        findings,
        scrubbed_json: audit
            .scrubbed
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .map(|v| l.pretty_json(&v)),
        changes,
        scrubbed: audit.scrub_report.is_some(),
    })
}

pub(crate) struct EnvelopeFacts {
    pub id: i64,
    pub rows: Vec<(String, String)>,
    pub header: Vec<(String, String)>,
    pub http_headers: Vec<(String, String)>,
}

fn envelope_facts(l: &UiLimits, envelope: &EnvelopeRecord) -> EnvelopeFacts {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    EnvelopeFacts {
        id: envelope.id,
        rows: vec![
            ("endpoint".into(), envelope.endpoint.clone()),
            ("received".into(), envelope.received_at.clone()),
            ("project".into(), envelope.project_id.to_string()),
            ("auth from".into(), envelope.auth_source.clone()),
            ("public key".into(), opt(&envelope.public_key)),
            ("client".into(), opt(&envelope.client)),
            ("user agent".into(), opt(&envelope.user_agent)),
            ("content type".into(), opt(&envelope.content_type)),
            ("content encoding".into(), opt(&envelope.content_encoding)),
            (
                "size".into(),
                format!(
                    "{} bytes on the wire, {} decoded",
                    envelope.wire_size, envelope.size
                ),
            ),
        ],
        header: header_rows(l, envelope.header.as_ref()),
        http_headers: header_rows(l, envelope.http_headers.as_ref()),
    }
}

#[derive(Template)]
#[template(path = "detail.html")]
pub struct DetailPage {
    pub(crate) item: Row,
    pub(crate) title: String,
    pub(crate) event_id: String,
    pub(crate) filename: String,
    pub(crate) size: i64,
    pub(crate) decode_error: Option<String>,
    pub(crate) schema_note: Option<String>,
    pub(crate) event: Option<EventView>,
    pub(crate) waterfall: Option<WaterfallView>,
    pub(crate) logs: Option<LogTable>,
    pub(crate) tables: Vec<Table>,
    pub(crate) fields: Option<Section>,
    pub(crate) preview: Option<BinaryPreview>,
    /// A JSON payload over [`UiLimits::json_view_bytes`], shown as text instead of laid out.
    pub(crate) json_too_large: bool,
    pub(crate) raw_json: Option<String>,
    pub(crate) item_header: Vec<(String, String)>,
    pub(crate) envelope: Option<EnvelopeFacts>,
    pub(crate) siblings: Vec<Row>,
    pub(crate) older: Option<String>,
    pub(crate) newer: Option<String>,
    pub(crate) audit: Option<AuditView>,
    /// A native crash: the event sent with a minidump (or the minidump, when it came alone).
    pub(crate) native: Option<NativeCrashView>,
}

impl DetailPage {
    /// `policy` names the data policy fake-sentry runs with, for the audit section; `limits`
    /// bound what is shown.
    pub fn new(data: DetailData, policy: &str, limits: &UiLimits) -> Self {
        let l = limits;
        let DetailData {
            minidump,
            audit,
            record,
            envelope,
            siblings,
            older,
            newer,
        } = data;
        let summary = &record.summary;
        let item_type = summary.item_type.as_str();
        // A value tree takes about ten times the JSON text in memory, so past the limit the
        // payload is shown as text, like a binary one.
        let json_too_large = record.is_json && record.payload.len() > l.json_view_bytes;
        let payload: Option<Value> = if record.is_json && !json_too_large {
            serde_json::from_slice(&record.payload).ok()
        } else {
            None
        };
        let mut page = Self {
            item: Row::new(l, summary),
            title: if summary.summary.is_empty() {
                format!("{item_type} item")
            } else {
                summary.summary.clone()
            },
            event_id: summary.event_id.clone().unwrap_or_default(),
            filename: summary.filename.clone().unwrap_or_default(),
            size: summary.size,
            decode_error: summary.decode_error.clone(),
            schema_note: crate::item::schema_note(item_type, &record.payload),
            event: None,
            waterfall: None,
            logs: None,
            tables: Vec::new(),
            fields: None,
            preview: None,
            json_too_large,
            raw_json: payload.as_ref().map(|v| l.pretty_json(v)),
            item_header: header_rows(l, record.header.as_ref()),
            envelope: envelope.as_ref().map(|e| envelope_facts(l, e)),
            siblings: siblings.iter().map(|s| Row::new(l, s)).collect(),
            older: older.map(|i| i.id),
            newer: newer.map(|i| i.id),
            audit: audit_view(l, audit, policy),
            native: None,
        };
        page.native = minidump
            .as_ref()
            .filter(|m| match m.event_item_id.as_deref() {
                Some(event_item) => event_item == summary.id,
                None => m.minidump_item_id == summary.id,
            })
            .map(|m| native_view(l, m, payload.as_ref()));
        let Some(payload) = payload else {
            page.preview = Some(binary_preview(l, &record.payload));
            return page;
        };
        let fields = |title: &str, value: &Value| {
            Some(Section {
                title: title.to_string(),
                rows: item_views::field_rows(l, value),
            })
        };
        match item_type {
            "event" => page.event = Some(event_view(l, &payload)),
            "transaction" => {
                page.waterfall = Some(item_views::waterfall(l, &payload));
                page.event = Some(event_view(l, &payload));
            }
            "feedback" => {
                page.fields = fields("Feedback", item_views::fields_of(item_type, &payload));
                page.event = Some(event_view(l, &payload));
            }
            "log" => page.logs = Some(item_views::log_rows(l, &payload)),
            "client_report" => page.tables = item_views::client_report_tables(l, &payload),
            "sessions" => {
                page.tables = item_views::session_aggregates(l, &payload)
                    .into_iter()
                    .collect();
                page.fields = fields("Attributes", payload.get("attrs").unwrap_or(&Value::Null));
            }
            "check_in" => {
                page.fields = Some(Section {
                    title: "Check-in".into(),
                    rows: item_views::check_in_rows(l, &payload),
                })
            }
            "security" | "raw_security" => {
                page.fields = fields("Report", item_views::fields_of(item_type, &payload))
            }
            "session" => page.fields = fields("Session", &payload),
            "user_report" => page.fields = fields("User report", &payload),
            _ => page.fields = fields("Fields", &payload),
        }
        page
    }

    /// When the item was received, for the heading.
    pub(crate) fn received(&self) -> String {
        short_time(&self.item.time_full)
    }
}

/// The native crash view of `minidump`: its processed event once there is one, else what the
/// client sent (`payload`, the event item's).
fn native_view(
    l: &UiLimits,
    minidump: &store::MinidumpRecord,
    payload: Option<&Value>,
) -> NativeCrashView {
    let status = match (&minidump.status, &minidump.error) {
        (store::ProcessingStatus::Pending, _) => NativeStatus::Pending,
        (store::ProcessingStatus::Processed, _) => NativeStatus::Processed,
        (store::ProcessingStatus::Failed, error) => NativeStatus::Failed {
            error: error.as_deref().unwrap_or("processing failed"),
        },
    };
    let empty = Value::Object(Default::default());
    let event = minidump
        .native_event
        .as_ref()
        .or(payload.filter(|_| minidump.event_item_id.is_some()))
        .unwrap_or(&empty);
    native_crash_view(
        l,
        &NativeCrash {
            event,
            status,
            signature: minidump.signature.as_deref(),
            minidump_item_id: &minidump.minidump_item_id,
            minidump_filename: minidump.filename.as_deref().unwrap_or("minidump.dmp"),
            minidump_size: u64::try_from(minidump.size).unwrap_or(0),
        },
    )
}

/// `GET /items/{id}`
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let lookup = id.clone();
    let data = state
        .store
        .read(move |conn| load(conn, &lookup))
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no item {id:?}: it may have been flushed")))?;
    let policy = state
        .config
        .policy
        .as_ref()
        .map_or("", |p| p.origin.as_str());
    render(&DetailPage::new(data, policy, &state.config.ui))
}
