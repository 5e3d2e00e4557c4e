//! The web UI's detail page (`/items/{id}`) for an arbitrary stored item: the record is built
//! the way ingest describes an item (`item::describe`), then `ui::detail::DetailPage` lays it
//! out and askama renders it, with the default `--ui-limit` bounds.
//!
//! Input: a flags byte, the item type up to the first newline, then the payload. Flag bit 0
//! also feeds the payload to the data-policy section (as findings, scrub report and scrubbed
//! copy); bit 1 also uses it as the item and envelope headers (when it is a JSON object); bit 2
//! makes the item an event sent with a minidump, whose processed native event is the payload
//! (when it is JSON) and whose processing failed with the payload as its error when bit 3 is set;
//! bit 4 says the envelope's body is kept as sent.
//!
//! Invariants: no panic; rendering succeeds; and the page holds exactly one `<script` (the
//! template's own `app.js` tag, any case): whatever the payload says is escaped.
#![no_main]

use askama::Template;
use fake_sentry::fuzzing::format_ms;
use fake_sentry::ui::UiLimits;
use fake_sentry::ui::detail::{DetailData, DetailPage};
use fake_sentry::{
    EnvelopeContext, EnvelopeRecord, ItemAuditRecord, ItemRecord, ItemSummary, MinidumpRecord,
    ProcessingStatus, SdkInfo, describe,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn summary(item_type: &str, payload: &[u8], header: &Map<String, Value>) -> (ItemSummary, bool) {
    let meta = describe(item_type, header, payload, EnvelopeContext::default());
    let text = |key: &str| header.get(key).and_then(Value::as_str).map(str::to_string);
    let summary = ItemSummary {
        id: "0190f2d4-0000-7000-8000-000000000001".into(),
        seq: 2,
        envelope_id: 1,
        project_id: 1,
        item_type: item_type.to_string(),
        event_id: meta.event_id,
        level: meta.level,
        platform: meta.platform,
        release: meta.release,
        environment: meta.environment,
        sdk: meta.sdk_name.map(|name| SdkInfo {
            name,
            version: meta.sdk_version,
        }),
        summary: meta.summary,
        timestamp: meta.timestamp.map(|t| format_ms((t * 1000.0) as i64)),
        received_at: format_ms(1_700_000_000_000),
        size: payload.len() as i64,
        filename: text("filename"),
        content_type: text("content_type"),
        decode_error: meta.decode_error,
        findings: None,
        trace_id: meta.traces.first().map(|t| t.trace_id.clone()),
    };
    (summary, meta.is_json)
}

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else {
        return;
    };
    let (item_type, payload) = match rest.iter().position(|&b| b == b'\n') {
        Some(newline) => (
            String::from_utf8_lossy(&rest[..newline]),
            &rest[newline + 1..],
        ),
        None => ("event".into(), rest),
    };
    let as_json = || serde_json::from_slice::<Value>(payload).ok();
    let header = match (flags & 2 != 0).then(as_json).flatten() {
        Some(Value::Object(map)) => map,
        _ => json!({"type": item_type, "length": payload.len()})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let (summary, is_json) = summary(&item_type, payload, &header);
    let audit = if flags & 1 != 0 {
        ItemAuditRecord {
            findings: as_json(),
            scrubbed: Some(payload.to_vec()),
            scrub_report: as_json(),
        }
    } else {
        ItemAuditRecord::default()
    };
    let envelope = EnvelopeRecord {
        id: 1,
        project_id: 1,
        endpoint: "envelope".into(),
        received_at: summary.received_at.clone(),
        auth_source: "header".into(),
        public_key: Some("public".into()),
        client: summary.sdk.as_ref().map(|s| s.name.clone()),
        user_agent: Some("fuzz/1".into()),
        content_type: summary.content_type.clone(),
        content_encoding: None,
        header: Some(Value::Object(header.clone())),
        size: payload.len() as i64,
        wire_size: payload.len() as i64,
        kept_as_sent: flags & 16 != 0,
        http_headers: Some(json!({"user-agent": "fuzz/1"})),
        item_ids: vec![summary.id.clone()],
    };
    let minidump = (flags & 4 != 0).then(|| {
        let failed = flags & 8 != 0;
        let text = String::from_utf8_lossy(payload).into_owned();
        MinidumpRecord {
            minidump_item_id: "0190f2d4-0000-7000-8000-000000000002".into(),
            event_item_id: Some(summary.id.clone()),
            status: if failed {
                ProcessingStatus::Failed
            } else {
                ProcessingStatus::Processed
            },
            error: failed.then(|| text.clone()),
            signature: (!failed).then(|| text.clone()),
            attempt: 1,
            processed_at: Some(summary.received_at.clone()),
            filename: Some(text),
            size: payload.len() as i64,
            seq: 3,
            processed: None,
            native_event: if failed { None } else { as_json() },
        }
    });
    let mut sibling = summary.clone();
    sibling.id = "0190f2d4-0000-7000-8000-000000000002".into();
    sibling.seq = 3;
    let data = DetailData {
        record: ItemRecord {
            summary,
            header: Some(Value::Object(header)),
            payload: payload.to_vec(),
            is_json,
        },
        envelope: Some(envelope),
        siblings: vec![sibling.clone()],
        older: None,
        newer: Some(sibling),
        audit,
        minidump,
    };
    let page = DetailPage::new(data, "fuzz-policy.toml", &UiLimits::default());
    let html = match page.render() {
        Ok(html) => html,
        Err(err) => panic!("the detail page does not render: {err}"),
    };
    let scripts = html.to_ascii_lowercase().matches("<script").count();
    assert_eq!(scripts, 1, "the page has {scripts} <script tags");
});
