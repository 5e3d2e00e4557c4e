//! Where an item's payload is kept, and reading it back.
//!
//! Each payload is kept once (schema version 2, issue 19). A payload that is a byte range of
//! the decoded request body (an envelope's items, a minidump upload's file parts, a store or
//! security body kept as it came) is kept as its position in that body: `payload_at` and
//! `payload_size`, read back by decoding the envelope's stored body (`envelopes.raw`, as sent
//! or compact, see `compact.rs`) up to its end and no further (see `body.rs`). Any other payload (one ingest built or changed: a
//! rewritten store event, a minidump's event, the reports of a security list) is kept
//! compressed with zstd, as is every scrubbed copy. An envelope item's header is read back from the body line before
//! its payload, and an envelope's header from the body's first line (`envelopes.header_in_body`),
//! rather than kept as text as well.
//!
//! Rows written before (schema version 1) keep their payload decoded in `payload`, and their
//! header texts: a migrated database is not rewritten, its old rows are read as they always
//! were, and `layout` tells the two kinds apart.
//!
//! Everything is prepared (compressed, its position checked) on the requesting task by
//! [`PreparedItem::new`], so the single writer thread only binds values.

use std::cell::RefCell;
use std::io::Read;

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;

use super::body::{PartlyDecoded, unreadable};
use super::records::StoredBody;
use super::writer::json_text;
use super::zstd_context::{ThreadCompressor, compress_with};
use super::{BodyPosition, NewItem, StoreError};
use crate::decode::DecodeError;

/// zstd's level for payloads. On the Python SDK's 3,438-byte event level 1 gives 1,314 bytes in
/// 23 µs, level 3 1,278 bytes in 26 µs, level 6 1,250 in 42 µs, level 9 1,250 in 119 µs and
/// level 19 1,234 in 843 µs (`payload_compression_levels`, on the shared 2-core machine): past
/// 3 every level costs far more time than it saves bytes.
const ZSTD_LEVEL: i32 = 3;

/// `items.layout`: how an item row keeps its payload, its scrubbed copy and its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// `NULL`, a row of schema version 1: `payload` and `scrubbed` as they are, the header as
    /// text.
    AsIs,
    /// 1: `payload` and `scrubbed` compressed with zstd, the header as text.
    Compressed,
    /// 2: the payload at `payload_at` in the decoded body (`payload` empty), `scrubbed`
    /// compressed, the header as text.
    InBody,
    /// 3: as [`Layout::InBody`], and the header is the body line that ends right before the
    /// payload (`header` is `NULL`).
    InBodyAfterHeader,
}

impl Layout {
    pub(super) fn to_sql(self) -> Option<i64> {
        match self {
            Self::AsIs => None,
            Self::Compressed => Some(1),
            Self::InBody => Some(2),
            Self::InBodyAfterHeader => Some(3),
        }
    }

    fn from_sql(value: Option<i64>) -> rusqlite::Result<Self> {
        match value {
            None => Ok(Self::AsIs),
            Some(1) => Ok(Self::Compressed),
            Some(2) => Ok(Self::InBody),
            Some(3) => Ok(Self::InBodyAfterHeader),
            Some(other) => Err(rusqlite::Error::IntegralValueOutOfRange(0, other)),
        }
    }

    fn in_body(self) -> bool {
        matches!(self, Self::InBody | Self::InBodyAfterHeader)
    }
}

/// An item as the writer stores it: see the module doc.
#[derive(Debug)]
pub(super) struct PreparedItem {
    pub(super) layout: Layout,
    /// What goes into `payload`: the compressed payload, or nothing when it is in the body.
    pub(super) payload: Vec<u8>,
    pub(super) payload_size: i64,
    pub(super) payload_at: Option<i64>,
    /// The header's text, `None` when there is no header or it is read from the body.
    pub(super) header_text: Option<String>,
    /// The scrubbed copy, compressed.
    pub(super) scrubbed: Option<Vec<u8>>,
}

impl PreparedItem {
    /// Where `item`'s payload is kept in the body, when ingest says it is there and the claim
    /// holds (see [`PreparedItem::new`]); `None`: the payload is kept compressed.
    pub(super) fn position(item: &NewItem, decoded_size: usize) -> Option<&BodyPosition> {
        item.in_body.as_ref().filter(|p| {
            p.payload.len() == item.payload.len()
                && p.payload.end <= decoded_size
                && p.payload.end <= StoredBody::DECODE_LIMIT
        })
    }

    /// Keeps `item`'s payload as a position in the body when ingest says it is one there and
    /// the claim holds as far as it can be checked without decoding (its length is the
    /// payload's, it ends within the body), and compressed otherwise.
    pub(super) fn new(item: &NewItem, decoded_size: usize) -> Result<Self, StoreError> {
        let position = Self::position(item, decoded_size);
        let header_text = |item: &NewItem| json_text(&item.header);
        let (layout, payload, payload_at, header_text) = match position {
            Some(p) if p.header_line_before && p.payload.start > 0 && item.header.is_some() => (
                Layout::InBodyAfterHeader,
                Vec::new(),
                Some(p.payload.start),
                None,
            ),
            Some(p) => (
                Layout::InBody,
                Vec::new(),
                Some(p.payload.start),
                header_text(item),
            ),
            None => (
                Layout::Compressed,
                compress(&item.payload)?,
                None,
                header_text(item),
            ),
        };
        let scrubbed = item
            .audit
            .as_ref()
            .and_then(|a| a.scrubbed.as_deref())
            .map(compress)
            .transpose()?;
        Ok(Self {
            layout,
            payload,
            payload_size: i64::try_from(item.payload.len()).unwrap_or(i64::MAX),
            payload_at: payload_at.map(|at| i64::try_from(at).unwrap_or(i64::MAX)),
            header_text,
            scrubbed,
        })
    }
}

thread_local! {
    /// This thread's context: making one for each payload more than doubles the time (60 µs
    /// instead of 26 for that event).
    static COMPRESSOR: ThreadCompressor = const { RefCell::new(None) };
}

pub(super) fn compress(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    compress_with(
        &COMPRESSOR,
        || zstd::bulk::Compressor::new(ZSTD_LEVEL),
        data,
    )
}

/// Undoes [`compress`], expecting `size` bytes when the size is known.
pub(super) fn decompress(data: &[u8], size: Option<usize>) -> rusqlite::Result<Vec<u8>> {
    let limit = StoredBody::DECODE_LIMIT;
    let corrupt = |message: String| {
        unreadable(DecodeError::Corrupt {
            encoding: "stored zstd",
            message,
        })
    };
    match size {
        Some(size) if size > limit => Err(unreadable(DecodeError::TooLarge { limit })),
        Some(size) => {
            let out = zstd::bulk::decompress(data, size).map_err(|e| corrupt(e.to_string()))?;
            if out.len() != size {
                return Err(corrupt(format!("{} bytes, {size} expected", out.len())));
            }
            Ok(out)
        }
        None => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(data)
                .map_err(|e| corrupt(e.to_string()))?
                .take(limit as u64)
                .read_to_end(&mut out)
                .map_err(|e| corrupt(e.to_string()))?;
            Ok(out)
        }
    }
}

/// The columns [`StoredItem::from_row`] reads, in its order.
pub(super) const STORED_COLUMNS: &str =
    "layout, payload, payload_size, payload_at, header, envelope_id";

/// An item's payload and header as its row keeps them (see [`Layout`]).
pub(super) struct StoredItem {
    layout: Layout,
    payload: Vec<u8>,
    size: usize,
    at: usize,
    header: Option<String>,
    envelope_id: i64,
}

impl StoredItem {
    /// Reads [`STORED_COLUMNS`] from `row`, starting at column `first`.
    pub(super) fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        let layout = Layout::from_sql(row.get(first)?)?;
        let payload: Vec<u8> = row.get(first + 1)?;
        let size = match row.get::<_, Option<i64>>(first + 2)? {
            Some(size) => usize::try_from(size).unwrap_or(usize::MAX),
            None => payload.len(),
        };
        let at = row.get::<_, Option<i64>>(first + 3)?.unwrap_or(0);
        Ok(Self {
            layout,
            payload,
            size,
            at: usize::try_from(at).unwrap_or(usize::MAX),
            header: row.get(first + 4)?,
            envelope_id: row.get(first + 5)?,
        })
    }

    /// Whether reading this item decodes (part of) its envelope's body.
    pub(super) fn needs_body(&self) -> bool {
        self.layout.in_body()
    }

    /// The header and the payload, decoding as much of the envelope's body (read from `conn`)
    /// as they need.
    pub(super) fn read(self, conn: &Connection) -> rusqlite::Result<(Option<Value>, Vec<u8>)> {
        self.read_from(conn, true)
    }

    /// The payload alone, as [`StoredItem::read`] reads it.
    pub(super) fn read_payload(self, conn: &Connection) -> rusqlite::Result<Vec<u8>> {
        Ok(self.read_from(conn, false)?.1)
    }

    fn read_from(
        self,
        conn: &Connection,
        with_header: bool,
    ) -> rusqlite::Result<(Option<Value>, Vec<u8>)> {
        if !self.needs_body() {
            return self.read_with(None, with_header);
        }
        let mut body = PartlyDecoded::open(conn, self.envelope_id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        self.read_with(Some(&mut body), with_header)
    }

    /// [`StoredItem::read`] with the envelope's body at hand (`None` is fine when the item
    /// does not [need it](StoredItem::needs_body)).
    pub(super) fn read_with(
        self,
        body: Option<&mut PartlyDecoded<'_>>,
        with_header: bool,
    ) -> rusqlite::Result<(Option<Value>, Vec<u8>)> {
        let text_header = |text: Option<String>| {
            text.filter(|_| with_header)
                .and_then(|h| serde_json::from_str(&h).ok())
        };
        match (self.layout, body) {
            (Layout::AsIs, _) => Ok((text_header(self.header), self.payload)),
            (Layout::Compressed, _) => Ok((
                text_header(self.header),
                decompress(&self.payload, Some(self.size))?,
            )),
            (Layout::InBody, Some(body)) => Ok((
                text_header(self.header),
                body.range(self.at, self.size).map_err(unreadable)?.to_vec(),
            )),
            (Layout::InBodyAfterHeader, Some(body)) => {
                let payload = body.range(self.at, self.size).map_err(unreadable)?.to_vec();
                let header = if with_header {
                    header_of_line(body.line_before(self.at).map_err(unreadable)?)
                } else {
                    None
                };
                Ok((header, payload))
            }
            (Layout::InBody | Layout::InBodyAfterHeader, None) => {
                Err(unreadable(DecodeError::Corrupt {
                    encoding: "stored body",
                    message: "an item kept in its envelope's body read without it".into(),
                }))
            }
        }
    }
}

/// A header line of a body, as reads return headers.
fn header_of_line(line: &[u8]) -> Option<Value> {
    serde_json::from_slice(line).ok()
}

/// An envelope's header when it is the first line of its body (`envelopes.header_in_body`).
pub(super) fn header_in_body(body: &mut PartlyDecoded<'_>) -> rusqlite::Result<Option<Value>> {
    Ok(header_of_line(body.first_line().map_err(unreadable)?))
}

/// An item's scrubbed copy as `get_item_audit` reads it: `layout` and `scrubbed` of its row.
pub(super) fn scrubbed(
    layout: Option<i64>,
    stored: Option<Vec<u8>>,
) -> rusqlite::Result<Option<Vec<u8>>> {
    match (Layout::from_sql(layout)?, stored) {
        (_, None) => Ok(None),
        (Layout::AsIs, Some(bytes)) => Ok(Some(bytes)),
        (_, Some(compressed)) => decompress(&compressed, None).map(Some),
    }
}

/// [`item_payload`] for a reader with a limit: `None` also for a payload longer than
/// `max_bytes`, which its row tells without the payload being read or decoded, so that the
/// search indexer never holds a 100 MiB attachment only to learn that it is too long to index.
pub(super) fn item_payload_within(
    conn: &Connection,
    seq: i64,
    max_bytes: usize,
) -> rusqlite::Result<Option<Vec<u8>>> {
    // `length` of a blob reads its size from the record, not the blob itself.
    let size: Option<i64> = conn
        .prepare_cached("SELECT COALESCE(payload_size, length(payload)) FROM items WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    match size {
        Some(size) if usize::try_from(size).is_ok_and(|size| size <= max_bytes) => {
            item_payload(conn, seq)
        }
        _ => Ok(None),
    }
}

/// The payload of the item stored as `seq`, `None` when there is no such item: the seam text
/// search reads payloads through.
pub(super) fn item_payload(conn: &Connection, seq: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let stored = conn
        .prepare_cached(&format!(
            "SELECT {STORED_COLUMNS} FROM items WHERE seq = ?1"
        ))?
        .query_row([seq], |r| StoredItem::from_row(r, 0))
        .optional()?;
    stored.map(|item| item.read_payload(conn)).transpose()
}
