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
    self, BinaryPreview, LogRow, Table, WaterfallView, binary_preview, header_rows,
};
use super::list::Row;
use super::text::{pretty_json, short_time};
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
    Ok(Some(DetailData {
        record,
        envelope,
        siblings,
        older,
        newer,
    }))
}

/// The envelope facts a detail page shows.
pub struct EnvelopeFacts {
    pub id: i64,
    pub rows: Vec<(String, String)>,
    pub header: Vec<(String, String)>,
    pub http_headers: Vec<(String, String)>,
}

fn envelope_facts(envelope: &EnvelopeRecord) -> EnvelopeFacts {
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
        header: header_rows(envelope.header.as_ref()),
        http_headers: header_rows(envelope.http_headers.as_ref()),
    }
}

#[derive(Template)]
#[template(path = "detail.html")]
pub struct DetailPage {
    pub item: Row,
    pub title: String,
    pub event_id: String,
    pub filename: String,
    pub size: i64,
    pub decode_error: Option<String>,
    pub schema_note: Option<String>,
    pub event: Option<EventView>,
    pub waterfall: Option<WaterfallView>,
    pub logs: Option<Vec<LogRow>>,
    pub tables: Vec<Table>,
    pub fields: Option<Section>,
    pub preview: Option<BinaryPreview>,
    pub raw_json: Option<String>,
    pub item_header: Vec<(String, String)>,
    pub envelope: Option<EnvelopeFacts>,
    pub siblings: Vec<Row>,
    pub older: Option<String>,
    pub newer: Option<String>,
}

impl DetailPage {
    pub fn new(data: DetailData) -> Self {
        let DetailData {
            record,
            envelope,
            siblings,
            older,
            newer,
        } = data;
        let summary = &record.summary;
        let item_type = summary.item_type.as_str();
        let payload: Option<Value> = if record.is_json {
            serde_json::from_slice(&record.payload).ok()
        } else {
            None
        };
        let mut page = Self {
            item: Row::new(summary),
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
            raw_json: payload.as_ref().map(pretty_json),
            item_header: header_rows(record.header.as_ref()),
            envelope: envelope.as_ref().map(envelope_facts),
            siblings: siblings.iter().map(Row::new).collect(),
            older: older.map(|i| i.id),
            newer: newer.map(|i| i.id),
        };
        let Some(payload) = payload else {
            page.preview = Some(binary_preview(&record.payload));
            return page;
        };
        let fields = |title: &str, value: &Value| {
            Some(Section {
                title: title.to_string(),
                rows: item_views::field_rows(value),
            })
        };
        match item_type {
            "event" => page.event = Some(event_view(&payload)),
            "transaction" => {
                page.waterfall = Some(item_views::waterfall(&payload));
                page.event = Some(event_view(&payload));
            }
            "feedback" => {
                page.fields = fields("Feedback", item_views::fields_of(item_type, &payload));
                page.event = Some(event_view(&payload));
            }
            "log" => page.logs = Some(item_views::log_rows(&payload)),
            "client_report" => page.tables = item_views::client_report_tables(&payload),
            "sessions" => {
                page.tables = item_views::session_aggregates(&payload)
                    .into_iter()
                    .collect();
                page.fields = fields("Attributes", payload.get("attrs").unwrap_or(&Value::Null));
            }
            "check_in" => {
                page.fields = Some(Section {
                    title: "Check-in".into(),
                    rows: item_views::check_in_rows(&payload),
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
    pub fn received(&self) -> String {
        short_time(&self.item.time_full)
    }
}

/// `GET /items/{id}`
pub async fn page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let lookup = id.clone();
    let data = state
        .store
        .read(move |conn| load(conn, &lookup))
        .await?
        .ok_or_else(|| UiError::NotFound(format!("no item {id:?}: it may have been flushed")))?;
    render(&DetailPage::new(data))
}
