//! Reading a stored request body back decoded only as far as a read needs: items kept as a
//! position in the body (see `payload.rs`) are read by decoding the body as sent up to their
//! end and no further, and the body is read from the database only as far as decoding needs,
//! so the first items of a large envelope cost little whatever follows.

use std::io::{BufRead, BufReader, Cursor};

use rusqlite::{Connection, MAIN_DB, OptionalExtension};

use super::compact::{self, BodyForm};
use super::records::{StoredBody, stored_body};
use crate::decode::{self, DecodeError};

/// The start of a stored body, decoded on demand and kept for the next read.
pub(super) struct PartlyDecoded<'a> {
    /// `None` once the body has been decoded to its end.
    stream: Option<decode::Decoder<'a>>,
    decoded: Vec<u8>,
}

/// Bodies up to this size are read whole with the query that finds them: opening a blob
/// handle costs more than reading a small body (a text search reads one per item), and what a
/// small body holds is soon read anyway.
const READ_WHOLE: i64 = 64 * 1024;

/// What errors in a compact body are reported against.
const COMPACT: &str = "compact body";

/// Bytes of a larger body read from the database at a time.
const BLOB_READ: usize = 64 * 1024;

/// Bytes decoded per step while looking for the end of the first line.
const LINE_STEP: usize = 4096;

impl<'a> PartlyDecoded<'a> {
    /// Over a body read whole.
    pub(super) fn new(body: &'a StoredBody) -> Result<Self, DecodeError> {
        let encoding = body.content_encoding.as_deref();
        Self::over(&body.bytes[..], body.bytes.is_empty(), body.form, encoding)
    }

    /// Over the body of envelope `id`, a large one read from the database as decoding goes
    /// (incremental blob I/O): reading the first item of a 50 MB envelope reads a few pages.
    pub(super) fn open(conn: &'a Connection, id: i64) -> rusqlite::Result<Option<Self>> {
        let found = conn
            .prepare_cached(
                "SELECT content_encoding, raw_form, LENGTH(raw),
                 CASE WHEN LENGTH(raw) <= ?2 THEN raw END FROM envelopes WHERE id = ?1",
            )?
            .query_row(rusqlite::params![id, READ_WHOLE], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    BodyForm::from_column(r.get(1)?)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            })
            .optional()?;
        let Some((encoding, form, len, whole)) = found else {
            return Ok(None);
        };
        let decoding = match whole {
            Some(bytes) => Self::over(Cursor::new(bytes), len == 0, form, encoding.as_deref()),
            None => {
                let blob = conn.blob_open(MAIN_DB, c"envelopes", c"raw", id, true)?;
                let blob = BufReader::with_capacity(BLOB_READ, blob);
                Self::over(blob, len == 0, form, encoding.as_deref())
            }
        };
        decoding.map(Some).map_err(unreadable)
    }

    fn over(
        body: impl BufRead + 'a,
        empty: bool,
        form: BodyForm,
        content_encoding: Option<&str>,
    ) -> Result<Self, DecodeError> {
        // An empty body is empty whatever its encoding (as ingest decodes it).
        let stream = match form {
            _ if empty => None,
            BodyForm::AsSent => Some(decode::decoder(
                body,
                &decode::parse_content_encoding(content_encoding)?,
            )?),
            // Written by an older version, which kept the body decoded.
            BodyForm::Decoded => Some(decode::decoder(body, &[])?),
            BodyForm::Compact => Some(decode::Decoder::over(
                compact::decoder(body).map_err(|err| DecodeError::Corrupt {
                    encoding: COMPACT,
                    message: err.to_string(),
                })?,
                COMPACT,
            )),
        };
        Ok(Self {
            stream,
            decoded: Vec::new(),
        })
    }

    /// The bytes `at..at + len` of the decoded body.
    pub(super) fn range(&mut self, at: usize, len: usize) -> Result<&[u8], DecodeError> {
        let end = at.saturating_add(len);
        self.decode_to(end)?;
        self.decoded
            .get(at..end)
            .ok_or_else(|| DecodeError::Corrupt {
                encoding: "stored body",
                message: format!(
                    "decodes to {} bytes, but a stored item lies at {at}..{end}",
                    self.decoded.len()
                ),
            })
    }

    /// The first line of the decoded body, without its newline.
    pub(super) fn first_line(&mut self) -> Result<&[u8], DecodeError> {
        let mut searched = 0;
        loop {
            if let Some(end) = self.decoded[searched..].iter().position(|&b| b == b'\n') {
                return Ok(&self.decoded[..searched + end]);
            }
            searched = self.decoded.len();
            if self.stream.is_none() {
                return Ok(&self.decoded);
            }
            self.decode_to(searched.saturating_add(LINE_STEP))?;
        }
    }

    /// The line that ends, with its newline, right before `at`; without the newline.
    pub(super) fn line_before(&mut self, at: usize) -> Result<&[u8], DecodeError> {
        let Some(end) = at.checked_sub(1) else {
            return Ok(&[]);
        };
        let before = self.range(0, end)?;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
        Ok(&before[start..])
    }

    /// Decodes until `end` bytes are out or the body ends, at most
    /// [`StoredBody::DECODE_LIMIT`].
    fn decode_to(&mut self, end: usize) -> Result<(), DecodeError> {
        let limit = StoredBody::DECODE_LIMIT;
        if end > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        // Zeroed once, read into, and cut back to what was read.
        let mut filled = self.decoded.len();
        if filled >= end {
            return Ok(());
        }
        self.decoded.resize(end, 0);
        let outcome = loop {
            let Some(stream) = &mut self.stream else {
                break Ok(());
            };
            if filled >= end {
                break Ok(());
            }
            match stream.read(&mut self.decoded[filled..end]) {
                Ok(0) => self.stream = None,
                Ok(n) => filled += n,
                Err(err) => break Err(err),
            }
        };
        self.decoded.truncate(filled);
        outcome
    }
}

/// The body of envelope `id` as stored.
pub(super) fn load(conn: &Connection, id: i64) -> rusqlite::Result<Option<StoredBody>> {
    conn.prepare_cached(
        "SELECT raw, content_type, content_encoding, raw_form FROM envelopes WHERE id = ?1",
    )?
    .query_row([id], |r| stored_body(r, 0))
    .optional()
}

/// A body that cannot be decoded again (a database edited by hand), as the error of the read
/// that needed it.
pub(super) fn unreadable(err: DecodeError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzipped(data: &[u8]) -> StoredBody {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        StoredBody {
            bytes: e.finish().unwrap(),
            content_type: None,
            content_encoding: Some("gzip".into()),
            form: BodyForm::AsSent,
        }
    }

    #[test]
    fn reads_ranges_and_the_first_line_decoding_no_further_than_needed() {
        let mut data = b"{\"event_id\":\"x\"}\n".to_vec();
        data.extend((0..200_000u32).map(|n| (n % 251) as u8));
        let body = gzipped(&data);
        let mut partly = PartlyDecoded::new(&body).unwrap();
        assert_eq!(partly.first_line().unwrap(), b"{\"event_id\":\"x\"}");
        assert!(partly.decoded.len() < 20_000, "{}", partly.decoded.len());
        assert_eq!(partly.range(100, 50).unwrap(), &data[100..150]);
        assert!(partly.decoded.len() < 20_000);
        assert_eq!(partly.range(150_000, 10).unwrap(), &data[150_000..150_010]);
        assert_eq!(partly.range(0, data.len()).unwrap(), &data[..]);
        let err = partly.range(data.len() - 1, 2).unwrap_err();
        assert!(err.to_string().contains("a stored item lies at"), "{err}");
    }

    #[test]
    fn plain_and_empty_bodies_and_lines_without_a_newline() {
        let plain = StoredBody {
            bytes: b"{\"a\":1}".to_vec(),
            content_type: None,
            content_encoding: None,
            form: BodyForm::AsSent,
        };
        let mut partly = PartlyDecoded::new(&plain).unwrap();
        assert_eq!(partly.first_line().unwrap(), b"{\"a\":1}");
        assert_eq!(partly.range(1, 3).unwrap(), b"\"a\"");
        let empty = StoredBody {
            bytes: Vec::new(),
            ..gzipped(b"")
        };
        let mut partly = PartlyDecoded::new(&empty).unwrap();
        assert_eq!(partly.range(0, 0).unwrap(), b"");
        assert_eq!(partly.first_line().unwrap(), b"");
    }
}
