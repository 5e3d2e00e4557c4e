//! Reading one Antenna crash submission under limits: a `multipart/form-data` (or
//! `multipart/mixed`) body, optionally gzipped as a whole (`Content-Encoding: gzip`), with the
//! annotations as `text/plain` fields or one `application/json` part (`extra`) and the dumps as
//! the other parts (Antenna's `breakpad_resource.py` rules and `Discarded=malformed_<reason>`
//! answers).
//!
//! Everything here is someone else's bytes. Every limit is a field of [`SubmissionLimits`] and
//! is checked while reading (the parser stops at the first part, header byte, name byte or
//! JSON nesting level past its limit; it never reads everything and counts afterwards), the
//! `extra` JSON is scanned for its depth, key count and string lengths before anything is
//! allocated for it and is never turned into a value tree, and errors carry numbers, never the
//! sender's bytes. [`parse_submission`] is a pure function of the headers and the body (the
//! fuzz target calls it).
//!
//! [`parse_submission_charged`] is the same parse charging what it keeps to a request's share
//! of the collector's in-flight budget ([`http_edge::RequestCharge`]) before it keeps it: the
//! gunzipped body as it grows, and each annotation and dump as it is copied out of the body.

use std::collections::BTreeMap;
use std::io::Read as _;

use http_edge::{BudgetError, RequestCharge};
use serde_json::value::RawValue;

/// Dump part names Antenna refuses (they collide with its storage keys).
const RESERVED_DUMP_NAMES: [&str; 3] = ["dump_names", "processed_crash", "raw_crash"];
/// RFC 2046 allows 70; anything much longer is not a client's boundary.
const MAX_BOUNDARY: usize = 200;
/// Bytes charged for each annotation or dump besides its name and value: the map entry and the
/// string headers it is kept in.
pub(crate) const ENTRY_OVERHEAD: usize = 64;
/// The first buffer gunzip output is gathered in; it doubles from there, charged as it grows.
const GUNZIP_FIRST_CAPACITY: usize = 64 * 1024;

/// nginx's `client_max_body_size 25m` in front of Antenna.
pub const DEFAULT_MAX_BODY: usize = 25 * 1024 * 1024;

/// Limits applied while reading a submission; each is a `harness up` flag.
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
    /// The collector's in-flight budget has no room for what parsing would keep (only from
    /// [`parse_submission_charged`]; the collector answers 413 or 503, not `malformed`).
    #[error(transparent)]
    Budget(#[from] BudgetError),
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
            SubmissionError::Budget(BudgetError::TooLarge { .. }) => "too_large",
            SubmissionError::Budget(BudgetError::Busy { .. }) => "overloaded",
        }
    }

    /// 413 for a body over a size limit (nginx's answer) or over the whole in-flight budget,
    /// 503 when the budget is in use by other submissions, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            SubmissionError::TooLarge { .. }
            | SubmissionError::DecompressedTooLarge { .. }
            | SubmissionError::Budget(BudgetError::TooLarge { .. }) => 413,
            SubmissionError::Budget(BudgetError::Busy { .. }) => 503,
            _ => 400,
        }
    }
}

/// Parses a submission given its `Content-Type` and `Content-Encoding` headers and its body
/// as received. Pure: no I/O, no clock; bounded by `limits` in time and memory (at most the
/// decompressed body plus one copy of its dumps).
pub fn parse_submission(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &SubmissionLimits,
) -> Result<ParsedSubmission, SubmissionError> {
    parse_submission_charged(
        content_type,
        content_encoding,
        body,
        limits,
        &RequestCharge::unlimited(),
    )
}

/// [`parse_submission`], charging to `charge` what it keeps before keeping it: the gunzipped
/// body as it grows, and each annotation, `extra` JSON part and dump before it is copied out
/// of the body. (The body itself is the caller's to charge.) Stops with
/// [`SubmissionError::Budget`] at the first charge the budget refuses.
pub fn parse_submission_charged(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &SubmissionLimits,
    charge: &RequestCharge,
) -> Result<ParsedSubmission, SubmissionError> {
    let boundary = boundary(content_type)?;
    if body.is_empty() {
        return Err(SubmissionError::NoContentLength);
    }
    if body.len() > limits.max_body {
        return Err(SubmissionError::TooLarge {
            limit: limits.max_body,
        });
    }
    let compressed = content_encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let inflated;
    let data = if compressed {
        inflated = gunzip(body, limits.max_decompressed, charge)?;
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
            });
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
            });
        }
        let part_type = part
            .content_type
            .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
            .unwrap_or_default();
        if part_type.starts_with("application/json") {
            // Its keys and decoded values are at most its text (escapes only shrink).
            charge.add(part.data.len())?;
            let found = parse_extra(part.data, limits)?;
            for (key, value) in found {
                annotations += 1;
                if annotations > limits.max_annotations {
                    return Err(SubmissionError::TooManyAnnotations {
                        limit: limits.max_annotations,
                    });
                }
                charge.add(ENTRY_OVERHEAD)?;
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
                });
            }
            if part.data.len() > limits.max_field_value {
                return Err(SubmissionError::FieldValueTooLong {
                    limit: limits.max_field_value,
                });
            }
            charge.add(name.len() + part.data.len() + ENTRY_OVERHEAD)?;
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
                });
            }
            // Replacement characters (3 bytes for each bad byte) are charged before keeping.
            charge.add(value.len().saturating_sub(part.data.len()))?;
            parsed.annotations.insert(name, value);
            has_fields = true;
        } else {
            dumps += 1;
            if dumps > limits.max_dumps {
                return Err(SubmissionError::TooManyDumps {
                    limit: limits.max_dumps,
                });
            }
            let name = sanitize_key_name(&name);
            // A dump with no usable name has no key to be stored under.
            if name.is_empty() || RESERVED_DUMP_NAMES.contains(&name.as_str()) {
                return Err(SubmissionError::InvalidDumpName(name));
            }
            charge.add(name.len() + part.data.len() + ENTRY_OVERHEAD)?;
            parsed.dumps.insert(name, part.data.to_vec());
        }
    }
    if has_json && has_fields {
        notes
            .push("includes annotations in both json-encoded extra and formdata parts".to_string());
    }
    if parsed.annotations.is_empty() {
        return Err(SubmissionError::NoAnnotations);
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
fn gunzip(body: &[u8], limit: usize, charge: &RequestCharge) -> Result<Vec<u8>, SubmissionError> {
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    let mut out: Vec<u8> = Vec::new();
    let mut charged: usize = 0;
    let mut piece = vec![0u8; 32 * 1024];
    loop {
        let n = match decoder.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(SubmissionError::BadGzip),
        };
        let needed = out.len() + n;
        if needed > limit {
            return Err(SubmissionError::DecompressedTooLarge { limit });
        }
        if needed > out.capacity() {
            let capacity = needed
                .max(charged.saturating_mul(2))
                .max(GUNZIP_FIRST_CAPACITY)
                .min(limit);
            charge.add(capacity - charged)?;
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

/// One part of a multipart body, borrowed from it.
struct Part<'a> {
    name: &'a [u8],
    file_name: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    data: &'a [u8],
}

/// The parts of a multipart body, one at a time, each checked against the limits as it is
/// found.
struct Parts<'a> {
    data: &'a [u8],
    /// `\r\n--boundary`: what ends a part.
    delimiter: Vec<u8>,
    limits: &'a SubmissionLimits,
    /// Just past a `--boundary`, or `None` once finished.
    at: Option<usize>,
    count: usize,
    started: bool,
}

impl<'a> Parts<'a> {
    fn new(data: &'a [u8], boundary: &[u8], limits: &'a SubmissionLimits) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary);
        Self {
            data,
            delimiter,
            limits,
            at: Some(0),
            count: 0,
            started: false,
        }
    }

    /// Moves just past the first `--boundary` (at the start, or after a preamble line).
    fn start(&mut self) -> Result<usize, SubmissionError> {
        let dash_boundary = &self.delimiter[2..];
        if self.data.starts_with(dash_boundary) {
            return Ok(dash_boundary.len());
        }
        memchr::memmem::find(self.data, &self.delimiter)
            .map(|i| i + self.delimiter.len())
            .ok_or(SubmissionError::InvalidPayloadStructure(
                "the boundary never occurs",
            ))
    }

    fn next_part(&mut self, mut at: usize) -> Result<Option<(Part<'a>, usize)>, SubmissionError> {
        let data = self.data;
        if data[at..].starts_with(b"--") {
            // The close delimiter; an epilogue may follow and is ignored.
            if self.count == 0 {
                return Err(SubmissionError::InvalidPayloadStructure("no parts"));
            }
            return Ok(None);
        }
        while matches!(data.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if !data[at..].starts_with(b"\r\n") {
            return Err(SubmissionError::InvalidPayloadStructure(
                "junk after a boundary",
            ));
        }
        at += 2;
        self.count += 1;
        if self.count > self.limits.max_parts {
            return Err(SubmissionError::TooManyParts {
                limit: self.limits.max_parts,
            });
        }
        // The header block ends at an empty line; look no further than the limit allows.
        let (headers, body_start) = if data[at..].starts_with(b"\r\n") {
            (&data[at..at], at + 2)
        } else {
            let window_end = data.len().min(at + self.limits.max_part_header + 4);
            match memchr::memmem::find(&data[at..window_end], b"\r\n\r\n") {
                Some(i) if i <= self.limits.max_part_header => (&data[at..at + i], at + i + 4),
                Some(_) => {
                    return Err(SubmissionError::PartHeaderTooLarge {
                        limit: self.limits.max_part_header,
                    });
                }
                None if window_end < data.len() => {
                    return Err(SubmissionError::PartHeaderTooLarge {
                        limit: self.limits.max_part_header,
                    });
                }
                None => {
                    return Err(SubmissionError::InvalidPayloadStructure(
                        "a part's headers never end",
                    ));
                }
            }
        };
        let end = memchr::memmem::find(&data[body_start..], &self.delimiter)
            .map(|i| body_start + i)
            .ok_or(SubmissionError::InvalidPayloadStructure(
                "a part is never closed",
            ))?;
        let mut part = Part {
            name: b"",
            file_name: None,
            content_type: None,
            data: &data[body_start..end],
        };
        for line in headers.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (key, value) = (trim(&line[..colon]), trim(&line[colon + 1..]));
            if key.eq_ignore_ascii_case(b"content-disposition") {
                for (param, value) in disposition_params(value) {
                    if param.eq_ignore_ascii_case(b"name") {
                        part.name = value;
                    } else if param.eq_ignore_ascii_case(b"filename") {
                        part.file_name = Some(value);
                    }
                }
            } else if key.eq_ignore_ascii_case(b"content-type") {
                part.content_type = Some(value);
            }
        }
        Ok(Some((part, end + self.delimiter.len())))
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = Result<Part<'a>, SubmissionError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at.take()?;
        let at = if self.started {
            at
        } else {
            self.started = true;
            match self.start() {
                Ok(at) => at,
                Err(e) => return Some(Err(e)),
            }
        };
        match self.next_part(at) {
            Ok(Some((part, next))) => {
                self.at = Some(next);
                Some(Ok(part))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// The `key=value` parameters of a `Content-Disposition` value (`form-data; name="a";
/// filename="b"`). Quoted values are returned without their quotes; a backslash escape is
/// kept as written (Antenna's clients never need one in a part name).
fn disposition_params(value: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut params = Vec::new();
    let mut at = match value.iter().position(|&b| b == b';') {
        Some(i) => i + 1,
        None => return params,
    };
    while at < value.len() {
        while matches!(value.get(at), Some(b' ' | b'\t' | b';')) {
            at += 1;
        }
        let key_start = at;
        while at < value.len() && !matches!(value[at], b'=' | b';') {
            at += 1;
        }
        let key = trim(&value[key_start..at]);
        if value.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while matches!(value.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        let found = if value.get(at) == Some(&b'"') {
            at += 1;
            let start = at;
            while at < value.len() && value[at] != b'"' {
                at += if value[at] == b'\\' { 2 } else { 1 };
            }
            let end = at.min(value.len());
            at = end + 1;
            &value[start..end]
        } else {
            let start = at;
            while at < value.len() && value[at] != b';' {
                at += 1;
            }
            trim(&value[start..at])
        };
        params.push((key, found));
    }
    params
}

/// The annotations of an `extra` JSON part: a flat object of strings (other values are kept
/// as their JSON text). Its shape is checked by a scan first, so the parse that follows only
/// ever sees a bounded number of keys and levels, and no value tree is built.
fn parse_extra(
    bytes: &[u8],
    limits: &SubmissionLimits,
) -> Result<Vec<(String, String)>, SubmissionError> {
    scan_json(bytes, limits)?;
    let text = std::str::from_utf8(bytes).map_err(|_| SubmissionError::InvalidJson)?;
    let first = text.trim_start().as_bytes().first();
    let object: BTreeMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(object) => object,
        Err(_) if first != Some(&b'{') && serde_json::from_str::<&RawValue>(text).is_ok() => {
            return Err(SubmissionError::InvalidJsonValue);
        }
        Err(_) => return Err(SubmissionError::InvalidJson),
    };
    let mut out = Vec::with_capacity(object.len());
    for (key, raw) in object {
        let raw = raw.get();
        let value = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).map_err(|_| SubmissionError::InvalidJson)?
        } else {
            raw.to_string()
        };
        if value.len() > limits.max_field_value {
            return Err(SubmissionError::FieldValueTooLong {
                limit: limits.max_field_value,
            });
        }
        out.push((key, value));
    }
    Ok(out)
}

/// One pass over JSON text counting nesting, top-level keys and string lengths, stopping at
/// the first that is past its limit. Malformed JSON passes (the parse reports it).
fn scan_json(bytes: &[u8], limits: &SubmissionLimits) -> Result<(), SubmissionError> {
    let mut depth = 0usize;
    let mut keys = 0usize;
    let mut top_is_object = false;
    let mut expect_key = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                let is_key = depth == 1 && expect_key;
                let limit = if is_key {
                    limits.max_field_name
                } else {
                    limits.max_field_value
                };
                let start = at + 1;
                at = start;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                    if at - start > limit {
                        return Err(if is_key {
                            SubmissionError::FieldNameTooLong { limit }
                        } else {
                            SubmissionError::FieldValueTooLong { limit }
                        });
                    }
                }
                if is_key {
                    expect_key = false;
                    keys += 1;
                    if keys > limits.max_annotations {
                        return Err(SubmissionError::TooManyAnnotations {
                            limit: limits.max_annotations,
                        });
                    }
                }
            }
            open @ (b'{' | b'[') => {
                depth += 1;
                if depth > limits.max_json_depth {
                    return Err(SubmissionError::JsonTooDeep {
                        limit: limits.max_json_depth,
                    });
                }
                if depth == 1 {
                    top_is_object = open == b'{';
                    expect_key = top_is_object;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = top_is_object,
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
#[path = "submission_tests.rs"]
mod tests;
