//! The reads: listings, counts, lookups and what live streams poll for.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::body::{self, PartlyDecoded, unreadable};
use super::compact::BodyForm;
use super::event_index;
use super::filter::ItemFilter;
use super::http_headers;
use super::payload::{self, STORED_COLUMNS, StoredItem};
use super::records::{
    EnvelopeRecord, EnvelopeWithItems, ItemAuditRecord, ItemRecord, ItemSummary, RefusalRecord,
    SUMMARY_COLUMNS, StoredBody, format_ms, stored_body, summary_from_row,
};
use super::search_index::for_each_candidate;
use super::text_search::TextQuery;

/// Sort order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// Items matching `filter`, `limit` at most, in `order` of storage.
pub fn list_items(
    conn: &Connection,
    filter: &ItemFilter,
    order: Order,
    limit: usize,
) -> rusqlite::Result<Vec<ItemSummary>> {
    let Some(text) = filter.q.as_deref() else {
        let (clause, params) = filter
            .to_sql()
            .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
        let dir = match order {
            Order::Desc => "DESC",
            Order::Asc => "ASC",
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM items WHERE {clause} ORDER BY seq {dir} LIMIT {limit}"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), summary_from_row)?;
        return rows.collect();
    };
    let text = TextQuery::new(text);
    let mut items = Vec::new();
    if limit > 0 {
        for_each_candidate(conn, filter, &text, order, |item| {
            if text.matches(conn, &item)? {
                items.push(item);
            }
            Ok(items.len() < limit)
        })?;
    }
    Ok(items)
}

/// How many items match `filter`.
pub fn count_items(conn: &Connection, filter: &ItemFilter) -> rusqlite::Result<u64> {
    let Some(text) = filter.q.as_deref() else {
        let (clause, params) = filter
            .to_sql()
            .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
        let sql = format!("SELECT COUNT(*) FROM items WHERE {clause}");
        return conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(params), |r| r.get::<_, i64>(0))
            .map(|n| n as u64);
    };
    let text = TextQuery::new(text);
    let mut count = 0;
    for_each_candidate(conn, filter, &text, Order::Asc, |item| {
        if text.matches(conn, &item)? {
            count += 1;
        }
        Ok(true)
    })?;
    Ok(count)
}

/// The seq of the item `id` names: a fake-sentry item id, else a Sentry event id (its event
/// or transaction item first, then its newest item), as [`get_item`] finds it.
pub(super) fn item_seq(conn: &Connection, id: &str) -> rusqlite::Result<Option<i64>> {
    let by_event = event_index::sql_condition("?2");
    let sql = format!(
        "SELECT seq FROM items WHERE id = ?1
         UNION ALL
         SELECT * FROM (SELECT seq FROM items
           WHERE {by_event} ORDER BY item_type NOT IN ('event', 'transaction'), seq DESC LIMIT 1)
         LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![id, crate::item::normalize_event_id(id.to_string())],
            |row| row.get(0),
        )
        .optional()
}

/// Looks an item up by fake-sentry id or Sentry event id (the newest item with that event id,
/// preferring events and transactions over their attachments).
pub fn get_item(conn: &Connection, id: &str) -> rusqlite::Result<Option<ItemRecord>> {
    let by_event = event_index::sql_condition("?2");
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {STORED_COLUMNS}, is_json FROM items WHERE id = ?1
         UNION ALL
         SELECT * FROM (SELECT {SUMMARY_COLUMNS}, {STORED_COLUMNS}, is_json FROM items
           WHERE {by_event} ORDER BY item_type NOT IN ('event', 'transaction'), seq DESC LIMIT 1)
         LIMIT 1"
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_row(
            params![id, crate::item::normalize_event_id(id.to_string())],
            |row| {
                Ok((
                    summary_from_row(row)?,
                    StoredItem::from_row(row, 21)?,
                    row.get(27)?,
                ))
            },
        )
        .optional()?;
    let Some((summary, stored, is_json)) = found else {
        return Ok(None);
    };
    let (header, payload) = stored.read(conn)?;
    Ok(Some(ItemRecord {
        summary,
        header,
        payload,
        is_json,
    }))
}

/// The data-policy record of the item with fake-sentry id `id`.
pub fn get_item_audit(conn: &Connection, id: &str) -> rusqlite::Result<ItemAuditRecord> {
    conn.prepare_cached("SELECT findings, layout, scrubbed, scrub_report FROM items WHERE id = ?1")?
        .query_row([id], |row| {
            let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
            Ok(ItemAuditRecord {
                findings: json(row.get(0)?),
                scrubbed: payload::scrubbed(row.get(1)?, row.get(2)?)?,
                scrub_report: json(row.get(3)?),
            })
        })
        .optional()
        .map(Option::unwrap_or_default)
}

pub fn get_envelope(conn: &Connection, id: i64) -> rusqlite::Result<Option<EnvelopeRecord>> {
    let record = conn
        .prepare_cached(
            "SELECT id, project_id, endpoint, received_at, auth_source, public_key, client, user_agent,
             content_type, content_encoding, header, COALESCE(decoded_size, LENGTH(raw)), wire_size,
             http_headers, header_in_body, raw_form FROM envelopes WHERE id = ?1",
        )?
        .query_row([id], |row| {
            let header: Option<String> = row.get(10)?;
            let header_in_body: bool = row.get(14)?;
            Ok((EnvelopeRecord {
                id: row.get(0)?,
                project_id: row.get::<_, i64>(1)? as u64,
                endpoint: row.get(2)?,
                received_at: format_ms(row.get(3)?),
                auth_source: row.get(4)?,
                public_key: row.get(5)?,
                client: row.get(6)?,
                user_agent: row.get(7)?,
                content_type: row.get(8)?,
                content_encoding: row.get(9)?,
                header: header.and_then(|h| serde_json::from_str(&h).ok()),
                size: row.get(11)?,
                wire_size: row.get(12)?,
                kept_as_sent: BodyForm::from_column(row.get(15)?)?
                    .keeps_as_sent(row.get_ref(9)?.as_str_or_null()?),
                http_headers: http_headers::unpack(row.get_ref(13)?)?
                    .and_then(|h| serde_json::from_str(&h).ok()),
                item_ids: Vec::new(),
            }, header_in_body))
        })
        .optional()?;
    let Some((mut record, header_in_body)) = record else {
        return Ok(None);
    };
    if header_in_body && let Some(mut body) = PartlyDecoded::open(conn, id)? {
        record.header = payload::header_in_body(&mut body)?;
    }
    let mut stmt =
        conn.prepare_cached("SELECT id FROM items WHERE envelope_id = ?1 ORDER BY idx")?;
    record.item_ids = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(record))
}

pub fn get_envelope_raw(conn: &Connection, id: i64) -> rusqlite::Result<Option<StoredBody>> {
    body::load(conn, id)
}

/// Items in the order Kent lists them: oldest first.
pub fn kent_list(conn: &Connection) -> rusqlite::Result<Vec<(String, u64, String)>> {
    let mut stmt = conn.prepare_cached("SELECT id, project_id, summary FROM items ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })?;
    rows.collect()
}

pub fn list_refusals(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<RefusalRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, received_at, method, path, project_id, status, reason, client, public_key,
         content_type, content_encoding, body_size, body_prefix FROM refusals ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        let prefix: Vec<u8> = r.get(12)?;
        Ok(RefusalRecord {
            id: r.get(0)?,
            received_at: format_ms(r.get(1)?),
            method: r.get(2)?,
            path: r.get(3)?,
            project_id: r.get::<_, Option<i64>>(4)?.map(|p| p as u64),
            status: r.get(5)?,
            reason: r.get(6)?,
            client: r.get(7)?,
            public_key: r.get(8)?,
            content_type: r.get(9)?,
            content_encoding: r.get(10)?,
            body_size: r.get(11)?,
            body_prefix: String::from_utf8_lossy(&prefix).into_owned(),
        })
    })?;
    rows.collect()
}

/// Refusal counts: total and per status.
pub fn refusal_counts(conn: &Connection) -> rusqlite::Result<(u64, Vec<(u16, u64)>)> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM refusals", [], |r| r.get(0))?;
    let mut stmt = conn
        .prepare_cached("SELECT status, COUNT(*) FROM refusals GROUP BY status ORDER BY status")?;
    let by_status = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((total as u64, by_status))
}

/// Envelopes stored after `after` (oldest first), `limit` at most.
pub fn envelopes_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EnvelopeWithItems>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, header, raw, content_type, content_encoding, raw_form, header_in_body
         FROM envelopes WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut envelopes: Vec<(EnvelopeWithItems, bool)> = stmt
        .query_map(params![after, limit as i64], |r| {
            let header: Option<String> = r.get(1)?;
            let envelope = EnvelopeWithItems {
                id: r.get(0)?,
                header: header.and_then(|h| serde_json::from_str(&h).ok()),
                body: stored_body(r, 2)?,
                items: Vec::new(),
            };
            Ok((envelope, r.get(6)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut items = conn.prepare_cached(&format!(
        "SELECT {STORED_COLUMNS}, is_json FROM items WHERE envelope_id = ?1 ORDER BY idx"
    ))?;
    for (envelope, header_in_body) in &mut envelopes {
        let stored: Vec<(StoredItem, bool)> = items
            .query_map([envelope.id], |r| {
                Ok((StoredItem::from_row(r, 0)?, r.get(6)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        // One decoder per envelope, as far as its items (or its header) need.
        let mut body = if *header_in_body || stored.iter().any(|(s, _)| s.needs_body()) {
            Some(PartlyDecoded::new(&envelope.body).map_err(unreadable)?)
        } else {
            None
        };
        if *header_in_body && let Some(body) = &mut body {
            envelope.header = payload::header_in_body(body)?;
        }
        let mut read = Vec::with_capacity(stored.len());
        for (item, is_json) in stored {
            let (header, payload) = item.read_with(body.as_mut(), true)?;
            read.push((header, payload, is_json));
        }
        drop(body);
        envelope.items = read;
    }
    Ok(envelopes
        .into_iter()
        .map(|(envelope, _)| envelope)
        .collect())
}

/// The newest envelope id, 0 when there is none.
pub fn last_envelope_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM envelopes", [], |r| {
        r.get(0)
    })
}

/// The newest item sequence number, 0 when there is none.
pub fn last_item_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM items", [], |r| r.get(0))
}
