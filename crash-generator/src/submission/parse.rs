//! Reading one submission under limits, following Antenna's `breakpad_resource.py` rules and
//! answering with its `Discarded=malformed_<reason>` reasons.
//!
//! Everything here is someone else's bytes. Every limit is a field of [`SubmissionLimits`] and
//! is checked while reading (the parser stops at the first part, header byte, name byte or
//! JSON nesting level past its limit; it never reads everything and counts afterwards), the
//! `extra` JSON is scanned for its depth, key count and string lengths before anything is
//! allocated for it and is never turned into a value tree ([`super::extra`]), and errors carry
//! numbers, never the sender's bytes. [`parse_request`] is a pure function of the headers and
//! the body (the fuzz targets call it).
//!
//! [`parse_request_charged`] is the same parse calling a caller's `charge` with each number of
//! bytes it is about to keep, before it keeps them: the gunzipped body as it grows, and each
//! annotation and dump as it is copied out of the body. A server passes its in-flight memory
//! budget there (the harness collector does); a refused charge stops the parse.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Read as _;

use super::extra::parse_extra;
use super::multipart::Parts;

/// Dump part names Antenna refuses (they collide with its storage keys).
const RESERVED_DUMP_NAMES: [&str; 3] = ["dump_names", "processed_crash", "raw_crash"];
/// RFC 2046 allows 70; anything much longer is not a client's boundary.
const MAX_BOUNDARY: usize = 200;
/// Bytes charged for each annotation or dump besides its name and value: the map entry and the
/// string headers it is kept in.
pub const ENTRY_OVERHEAD: usize = 64;
/// The first buffer gunzip output is gathered in; it doubles from there, charged as it grows.
const GUNZIP_FIRST_CAPACITY: usize = 64 * 1024;

/// nginx's `client_max_body_size 25m` in front of Antenna.
pub const DEFAULT_MAX_BODY: usize = 25 * 1024 * 1024;

/// Limits applied while reading a submission (the harness collector has a flag for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmissionLimits {
    /// Largest body as received, compressed or not (413 above it).
    pub max_body: usize,
    /// Largest body after gunzip (413 above it; a gzip bomb stops at this + 1 byte).
    pub max_decompressed: usize,
    /// Parts in the multipart body.
    pub max_parts: usize,
    /// Bytes of one part's header block.
    pub max_part_header: usize,
    /// Bytes of a field (part) name, and of a key in the `extra` JSON.
    pub max_field_name: usize,
    /// Bytes of one annotation value (a text part, or a value in the `extra` JSON).
    pub max_field_value: usize,
    /// Annotations (text fields plus `extra` JSON keys, duplicates included).
    pub max_annotations: usize,
    /// Dump parts.
    pub max_dumps: usize,
    /// Nesting of the `extra` JSON (the top object is level 1).
    pub max_json_depth: usize,
    /// `collector_notes` kept; the rest are summed up in one last note.
    pub max_notes: usize,
}

impl Default for SubmissionLimits {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_decompressed: DEFAULT_MAX_BODY,
            max_parts: 2048,
            max_part_header: 8 * 1024,
            max_field_name: 1024,
            max_field_value: 4 * 1024 * 1024,
            max_annotations: 2048,
            max_dumps: 32,
            max_json_depth: 32,
            max_notes: 16,
        }
    }
}

/// What a collector extracts from a submission.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedSubmission {
    pub annotations: BTreeMap<String, String>,
    /// Dump part name (sanitized as Antenna does) to bytes.
    pub dumps: BTreeMap<String, Vec<u8>>,
    /// `"json"` when annotations came as an `extra` JSON part, else `"multipart"`.
    pub payload: &'static str,
    pub payload_compressed: bool,
    /// Antenna's `collector_notes` for oddities it tolerates (at most `max_notes` + 1).
    pub notes: Vec<String>,
}

/// Why a submission is refused. [`SubmissionError::reason`] gives the word after
/// `Discarded=malformed_`; the messages hold numbers and sanitized names, never input bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    #[error("no content type")]
    NoContentType,
    #[error("content type is not multipart/form-data or multipart/mixed")]
    WrongContentType,
    #[error("content type has no usable boundary")]
    NoBoundary,
    #[error("empty body")]
    NoContentLength,
    #[error("body exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("body exceeds the {limit}-byte limit once decompressed")]
    DecompressedTooLarge { limit: usize },
    #[error("body is not valid gzip")]
    BadGzip,
    #[error("extra part is not valid JSON")]
    InvalidJson,
    #[error("extra part is not a JSON object")]
    InvalidJsonValue,
    #[error("malformed multipart body: {0}")]
    InvalidPayloadStructure(&'static str),
    #[error("dump part name {0:?} is reserved or empty")]
    InvalidDumpName(String),
    #[error("submission has no annotations")]
    NoAnnotations,
    #[error("more than {limit} parts")]
    TooManyParts { limit: usize },
    #[error("a part's headers exceed {limit} bytes")]
    PartHeaderTooLarge { limit: usize },
    #[error("a field name exceeds {limit} bytes")]
    FieldNameTooLong { limit: usize },
    #[error("a field value exceeds {limit} bytes")]
    FieldValueTooLong { limit: usize },
    #[error("more than {limit} annotations")]
    TooManyAnnotations { limit: usize },
    #[error("more than {limit} dumps")]
    TooManyDumps { limit: usize },
    #[error("extra JSON nests deeper than {limit} levels")]
    JsonTooDeep { limit: usize },
}

impl SubmissionError {
    /// Antenna's reason (and ours for the limits Antenna does not have): the response body is
    /// `Discarded=malformed_<reason>`.
    pub fn reason(&self) -> &'static str {
        match self {
            SubmissionError::NoContentType => "no_content_type",
            SubmissionError::WrongContentType => "wrong_content_type",
            SubmissionError::NoBoundary => "no_boundary",
            SubmissionError::NoContentLength => "no_content_length",
            SubmissionError::TooLarge { .. } | SubmissionError::DecompressedTooLarge { .. } => {
                "too_large"
            }
            SubmissionError::BadGzip => "bad_gzip",
            SubmissionError::InvalidJson => "invalid_json",
            SubmissionError::InvalidJsonValue => "invalid_json_value",
            SubmissionError::InvalidPayloadStructure(_) => "invalid_payload_structure",
            SubmissionError::InvalidDumpName(_) => "invalid_dump_name",
            SubmissionError::NoAnnotations => "no_annotations",
            SubmissionError::TooManyParts { .. } => "too_many_parts",
            SubmissionError::PartHeaderTooLarge { .. } => "part_header_too_large",
            SubmissionError::FieldNameTooLong { .. } => "field_name_too_long",
            SubmissionError::FieldValueTooLong { .. } => "field_value_too_long",
            SubmissionError::TooManyAnnotations { .. } => "too_many_annotations",
            SubmissionError::TooManyDumps { .. } => "too_many_dumps",
            SubmissionError::JsonTooDeep { .. } => "json_too_deep",
        }
    }

    /// The HTTP status a collector answers with: 413 for a body over a size limit (nginx's
    /// answer), 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            SubmissionError::TooLarge { .. } | SubmissionError::DecompressedTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Why [`parse_request_charged`] stopped: the submission is refused, or the caller's `charge`
/// refused the bytes parsing was about to keep (with the caller's own error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargedError<E> {
    #[error(transparent)]
    Refused(#[from] SubmissionError),
    #[error("{0}")]
    Charge(E),
}

/// Parses an uncompressed submission body under the default limits.
pub fn parse(content_type: &str, body: &[u8]) -> Result<ParsedSubmission, SubmissionError> {
    parse_request(Some(content_type), None, body, &SubmissionLimits::default())
}

/// Parses a submission given its `Content-Type` and `Content-Encoding` headers and its body
/// as received. Pure: no I/O, no clock; bounded by `limits` in time and memory (at most the
/// decompressed body plus one copy of its dumps).
pub fn parse_request(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &SubmissionLimits,
) -> Result<ParsedSubmission, SubmissionError> {
    let uncharged = |_: usize| Ok::<(), Infallible>(());
    match parse_request_charged(content_type, content_encoding, body, limits, uncharged) {
        Ok(parsed) => Ok(parsed),
        Err(ChargedError::Refused(error)) => Err(error),
        Err(ChargedError::Charge(never)) => match never {},
    }
}

/// [`parse_request`], calling `charge` with what it keeps before keeping it: the gunzipped
/// body as it grows, and each annotation, `extra` JSON part and dump before it is copied out
/// of the body (each annotation and dump also counts [`ENTRY_OVERHEAD`]). The body itself is
/// the caller's to charge. Stops with [`ChargedError::Charge`] at the first charge refused.
pub fn parse_request_charged<E>(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &SubmissionLimits,
    mut charge: impl FnMut(usize) -> Result<(), E>,
) -> Result<ParsedSubmission, ChargedError<E>> {
    let mut charge = |bytes: usize| charge(bytes).map_err(ChargedError::Charge);
    let boundary = boundary(content_type)?;
    if body.is_empty() {
        return Err(SubmissionError::NoContentLength.into());
    }
    if body.len() > limits.max_body {
        return Err(SubmissionError::TooLarge {
            limit: limits.max_body,
        }
        .into());
    }
    let compressed = content_encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let inflated;
    let data = if compressed {
        inflated = gunzip(body, limits.max_decompressed, &mut charge)?;
        &inflated[..]
    } else {
        body
    };
    let mut parsed = ParsedSubmission {
        payload: "multipart",
        payload_compressed: compressed,
        ..ParsedSubmission::default()
    };
    let mut notes = Notes::new(limits.max_notes);
    let mut annotations = 0usize;
    let mut dumps = 0usize;
    let mut has_json = false;
    let mut has_fields = false;
    for part in Parts::new(data, boundary.as_bytes(), limits) {
        let part = part?;
        if part.name.len() > limits.max_field_name {
            return Err(SubmissionError::FieldNameTooLong {
                limit: limits.max_field_name,
            }
            .into());
        }
        let name = match std::str::from_utf8(part.name) {
            Ok(name) => name.to_string(),
            Err(_) => {
                notes.push("a field name is not utf-8".to_string());
                String::from_utf8_lossy(part.name).into_owned()
            }
        };
        // (A replacement character is 3 bytes: the decoded name is checked as well.)
        if name.len() > limits.max_field_name {
            return Err(SubmissionError::FieldNameTooLong {
                limit: limits.max_field_name,
            }
            .into());
        }
        let part_type = part
            .content_type
            .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
            .unwrap_or_default();
        if part_type.starts_with("application/json") {
            // Its keys and decoded values are at most its text (escapes only shrink).
            charge(part.data.len())?;
            let found = parse_extra(part.data, limits)?;
            for (key, value) in found {
                annotations += 1;
                if annotations > limits.max_annotations {
                    return Err(SubmissionError::TooManyAnnotations {
                        limit: limits.max_annotations,
                    }
                    .into());
                }
                charge(ENTRY_OVERHEAD)?;
                parsed.annotations.insert(key, value);
            }
            has_json = true;
            parsed.payload = "json";
        } else if part_type.starts_with("text/plain")
            || (part.file_name.is_none() && part_type.is_empty())
        {
            annotations += 1;
            if annotations > limits.max_annotations {
                return Err(SubmissionError::TooManyAnnotations {
                    limit: limits.max_annotations,
                }
                .into());
            }
            if part.data.len() > limits.max_field_value {
                return Err(SubmissionError::FieldValueTooLong {
                    limit: limits.max_field_value,
                }
                .into());
            }
            charge(name.len() + part.data.len() + ENTRY_OVERHEAD)?;
            let value = match std::str::from_utf8(part.data) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    notes.push(format!("{name} has non-utf-8 value"));
                    String::from_utf8_lossy(part.data).into_owned()
                }
            };
            if value.len() > limits.max_field_value {
                return Err(SubmissionError::FieldValueTooLong {
                    limit: limits.max_field_value,
                }
                .into());
            }
            // Replacement characters (3 bytes for each bad byte) are charged before keeping.
            charge(value.len().saturating_sub(part.data.len()))?;
            parsed.annotations.insert(name, value);
            has_fields = true;
        } else {
            dumps += 1;
            if dumps > limits.max_dumps {
                return Err(SubmissionError::TooManyDumps {
                    limit: limits.max_dumps,
                }
                .into());
            }
            let name = sanitize_key_name(&name);
            // A dump with no usable name has no key to be stored under.
            if name.is_empty() || RESERVED_DUMP_NAMES.contains(&name.as_str()) {
                return Err(SubmissionError::InvalidDumpName(name).into());
            }
            charge(name.len() + part.data.len() + ENTRY_OVERHEAD)?;
            parsed.dumps.insert(name, part.data.to_vec());
        }
    }
    if has_json && has_fields {
        notes
            .push("includes annotations in both json-encoded extra and formdata parts".to_string());
    }
    if parsed.annotations.is_empty() {
        return Err(SubmissionError::NoAnnotations.into());
    }
    parsed.notes = notes.finish();
    Ok(parsed)
}

/// Antenna's `sanitize_key_name`: keep `[A-Za-z0-9_]`, at most 30 characters.
pub fn sanitize_key_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect()
}

/// The boundary of a multipart `Content-Type`, or why there is none.
fn boundary(content_type: Option<&str>) -> Result<String, SubmissionError> {
    let content_type = content_type.ok_or(SubmissionError::NoContentType)?;
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data")
        && !mime.eq_ignore_ascii_case("multipart/mixed")
    {
        return Err(SubmissionError::WrongContentType);
    }
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() || value.len() > MAX_BOUNDARY {
            return Err(SubmissionError::NoBoundary);
        }
        return Ok(value.to_string());
    }
    Err(SubmissionError::NoBoundary)
}

/// Gunzips the first member of `body`, stopping one byte past `limit`. The output buffer is
/// charged to `charge` each time it grows, before it grows (doubling, never past `limit`).
fn gunzip<E>(
    body: &[u8],
    limit: usize,
    charge: &mut impl FnMut(usize) -> Result<(), ChargedError<E>>,
) -> Result<Vec<u8>, ChargedError<E>> {
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    let mut out: Vec<u8> = Vec::new();
    let mut charged: usize = 0;
    let mut piece = vec![0u8; 32 * 1024];
    loop {
        let n = match decoder.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(SubmissionError::BadGzip.into()),
        };
        let needed = out.len() + n;
        if needed > limit {
            return Err(SubmissionError::DecompressedTooLarge { limit }.into());
        }
        if needed > out.capacity() {
            let capacity = needed
                .max(charged.saturating_mul(2))
                .max(GUNZIP_FIRST_CAPACITY)
                .min(limit);
            charge(capacity - charged)?;
            charged = capacity;
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&piece[..n]);
    }
    Ok(out)
}

/// At most `max` notes, then one saying how many more there were.
struct Notes {
    max: usize,
    kept: Vec<String>,
    dropped: usize,
}

impl Notes {
    fn new(max: usize) -> Self {
        Self {
            max,
            kept: Vec::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, note: String) {
        if self.kept.len() < self.max {
            self.kept.push(note);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!("and {} more notes", self.dropped));
        }
        self.kept
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
