//! `sentry-envelope`: Sentry envelope framing, written by hand instead of using `sentry-types`.
//!
//! The one place the suite parses and writes envelopes: `fake-sentry` ingests with it and
//! `event-filter` scrubs and audits envelope files with it.
//!
//! `sentry_types::protocol::envelope::Envelope::from_slice` rejects a whole envelope as soon as one
//! item has a type it does not know (`profile`, `feedback`, ...) or a payload it cannot type-check
//! (float timestamps from JavaScript), which real SDKs send all the time. A fake server must instead
//! keep everything it was sent. This crate therefore only does the framing: it splits the body into
//! an envelope header and items, keeps every payload byte-for-byte, and leaves payload decoding to
//! the caller, per item type.
//!
//! The wire variants it has to accept (see the protocol notes): the Python SDK puts a `length` on
//! every item; `@sentry/node` omits it on JSON items (they are newline framed) but sets it on
//! attachments, whose payloads may contain newlines and arbitrary bytes; the Rust SDK omits it on
//! `log` and `trace_metric` containers.
//!
//! One malformed item never fails the whole envelope: the problem is recorded on that item as a
//! `framing_error` and parsing carries on, so that a test sees both what was sent and what was
//! wrong with it.

use serde_json::{Map, Value};

mod json_depth;

pub use json_depth::{JsonTooDeep, SERDE_JSON_MAX_DEPTH, check_json_depth};

/// Header keys that the framing layer owns.
const TYPE_KEY: &str = "type";
const LENGTH_KEY: &str = "length";

/// A parsed envelope: its header line and every item, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    pub header: Map<String, Value>,
    pub items: Vec<EnvelopeItem>,
}

/// One item of an envelope. The payload is kept exactly as sent, whatever its type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvelopeItem {
    /// The parsed item header (empty if the header line was not a JSON object).
    pub header: Map<String, Value>,
    /// The header's `type` as a string; `""` if it is missing or not a string.
    pub item_type: String,
    /// The raw payload bytes.
    pub payload: Vec<u8>,
    /// Why this item is malformed, if it is. The item is kept either way.
    pub framing_error: Option<String>,
    /// Where the payload starts in the body it was parsed from (it runs for `payload.len()`
    /// bytes there), so that a caller keeping the body need not keep the payload as well;
    /// `None` for an item built in memory.
    pub payload_offset: Option<usize>,
    /// Whether `header` was parsed from the line that ends right before the payload: `false`
    /// for an item built in memory, and for one whose header line could not be read (which
    /// then holds that line as its payload).
    pub header_precedes_payload: bool,
}

/// Limits [`parse_with`] checks while framing a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Items in the envelope; parsing stops at the first one past it.
    pub max_items: usize,
    /// Bytes of the envelope header line.
    pub max_header_bytes: usize,
    /// Bytes of one item header line.
    pub max_item_header_bytes: usize,
    /// Levels of nesting in a header line (serde_json's 128 at most; see [`check_json_depth`]).
    pub max_json_depth: usize,
}

impl ParseLimits {
    /// No limits (but serde_json's nesting depth of 128 for each header line).
    pub const NONE: Self = Self {
        max_items: usize::MAX,
        max_header_bytes: usize::MAX,
        max_item_header_bytes: usize::MAX,
        max_json_depth: SERDE_JSON_MAX_DEPTH,
    };
}

/// Bytes of memory a JSON header line may take per byte once parsed into a `serde_json::Map`:
/// `[0,0,0,...]` makes a 32-byte `Value` of every two bytes, and a growing `Vec` may hold as
/// much again in spare capacity.
pub const HEADER_TREE_FACTOR: usize = 32;

/// Bytes of bookkeeping per item beyond its header and payload (the item itself, its type and
/// allocator overhead), as told to the accounting function of [`parse_with`].
pub const ITEM_OVERHEAD: usize = 256;

/// Why [`parse_with`] gave up on a body.
#[derive(Debug, thiserror::Error)]
pub enum ParseError<E> {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("envelope has more than {limit} items")]
    TooManyItems { limit: usize },
    /// The accounting function refused the memory an item needs.
    #[error("{0}")]
    Account(E),
}

/// Errors that make a whole body unusable as an envelope. Anything wrong with a single item is
/// reported on that item instead (see [`EnvelopeItem::framing_error`]).
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("empty envelope")]
    Empty,
    #[error("invalid envelope header: {0}")]
    InvalidHeader(String),
}

/// Parses an envelope body, with no limits but serde_json's nesting depth of 128 for each header
/// line. Bodies from outside should go through [`parse_with`] instead.
///
/// Fails only when the body is empty (or only whitespace) or when its first line is not a JSON
/// object; every other problem is recorded on the item it concerns.
pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    match parse_with(bytes, &ParseLimits::NONE, |_| {
        Ok::<(), std::convert::Infallible>(())
    }) {
        Ok(envelope) => Ok(envelope),
        Err(ParseError::Envelope(err)) => Err(err),
        // Neither can happen without limits or accounting; say so rather than panic.
        Err(other) => Err(EnvelopeError::InvalidHeader(other.to_string())),
    }
}

/// Parses an envelope body within `limits`, checked while framing: the envelope header and each
/// item header are looked at only up to their limit plus one byte, and parsing stops at the
/// item after the last one allowed. `account` is told, before each item is kept, about how many
/// bytes of memory it will hold beyond its payload (its header as a JSON tree, see
/// [`HEADER_TREE_FACTOR`], and its bookkeeping), so that a caller can charge them to a budget
/// and stop a body of many tiny items early; its error ends parsing.
///
/// An over-long envelope header is [`EnvelopeError::InvalidHeader`]; an over-long item header
/// is that item's framing error (its line is kept as its payload, like a header that is not
/// JSON).
pub fn parse_with<E>(
    bytes: &[u8],
    limits: &ParseLimits,
    mut account: impl FnMut(usize) -> Result<(), E>,
) -> Result<Envelope, ParseError<E>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty.into());
    }

    let (header_line, mut pos) = match split_line_within(bytes, 0, limits.max_header_bytes) {
        Some(split) => split,
        None => {
            return Err(EnvelopeError::InvalidHeader(format!(
                "the envelope header is longer than {} bytes",
                limits.max_header_bytes
            ))
            .into());
        }
    };
    account(header_memory(header_line.len())).map_err(ParseError::Account)?;
    let header = parse_header_object(header_line, limits.max_json_depth)
        .map_err(|e| EnvelopeError::InvalidHeader(e.to_string()))?;

    let mut items = Vec::new();
    while pos < bytes.len() {
        let Some((line, after_line)) = split_line_within(bytes, pos, limits.max_item_header_bytes)
        else {
            // Without a header we cannot know how long the payload is: skip to the next line.
            let (line, after_line) = split_line(bytes, pos);
            let line_start = pos;
            pos = after_line;
            if items.len() >= limits.max_items {
                return Err(ParseError::TooManyItems {
                    limit: limits.max_items,
                });
            }
            account(ITEM_OVERHEAD).map_err(ParseError::Account)?;
            items.push(EnvelopeItem {
                header: Map::new(),
                item_type: String::new(),
                payload: line.to_vec(),
                framing_error: Some(format!(
                    "item header is longer than {} bytes",
                    limits.max_item_header_bytes
                )),
                payload_offset: Some(line_start),
                header_precedes_payload: false,
            });
            continue;
        };
        let line_start = pos;
        pos = after_line;

        // Blank lines between items (e.g. a trailing "\n\n", or "\r\n" line ends) carry no item.
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if items.len() >= limits.max_items {
            return Err(ParseError::TooManyItems {
                limit: limits.max_items,
            });
        }
        account(header_memory(line.len())).map_err(ParseError::Account)?;

        let header = match parse_header_object(line, limits.max_json_depth) {
            Ok(header) => header,
            Err(err) => {
                // Without a header we cannot know how long the payload is, so the best guess is
                // that this line stands alone; keeping its bytes lets the caller show them.
                items.push(EnvelopeItem {
                    header: Map::new(),
                    item_type: String::new(),
                    payload: line.to_vec(),
                    framing_error: Some(format!("item header is not a JSON object: {err}")),
                    payload_offset: Some(line_start),
                    header_precedes_payload: false,
                });
                continue;
            }
        };

        let item_type = header
            .get(TYPE_KEY)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();

        let mut framing_error = None;
        let declared_length = match header.get(LENGTH_KEY) {
            // An explicit null says as little as an absent key does.
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(length) => Some(length),
                None => {
                    framing_error = Some(format!(
                        "length {value} is not a non-negative integer; payload read up to the next newline"
                    ));
                    None
                }
            },
        };

        let payload_offset = Some(pos);
        // A header on the body's last line, without a newline, does not end right before its
        // (empty) payload.
        let header_precedes_payload = pos > 0 && bytes.get(pos - 1) == Some(&b'\n');
        let rest = bytes.get(pos..).unwrap_or_default();
        let payload = match declared_length {
            None => {
                let (payload, after_payload) = split_line(bytes, pos);
                pos = after_payload;
                payload.to_vec()
            }
            Some(length) => {
                let available = rest.len();
                let fits = usize::try_from(length)
                    .ok()
                    .filter(|&length| length <= available);
                match fits {
                    None => {
                        // Truncated envelope: nothing after this can be framed reliably.
                        items.push(EnvelopeItem {
                            header,
                            item_type,
                            payload: rest.to_vec(),
                            framing_error: Some(format!(
                                "declared length {length} but only {available} bytes remain"
                            )),
                            payload_offset,
                            header_precedes_payload,
                        });
                        break;
                    }
                    Some(length) => {
                        let (payload, after) = rest.split_at(length);
                        match after.first() {
                            None => pos = bytes.len(),
                            Some(b'\n') => pos += length + 1,
                            Some(_) => {
                                // The length is wrong; the most likely place for the next item to
                                // start is after the next newline.
                                framing_error = Some(format!(
                                    "payload of declared length {length} is not followed by a newline"
                                ));
                                pos = split_line(bytes, pos + length).1;
                            }
                        }
                        payload.to_vec()
                    }
                }
            }
        };

        items.push(EnvelopeItem {
            header,
            item_type,
            payload,
            framing_error,
            payload_offset,
            header_precedes_payload,
        });
    }

    Ok(Envelope { header, items })
}

/// Returns the line starting at `start` like [`split_line`], or `None` when it is longer than
/// `max` bytes; only `max + 1` bytes are looked at to tell.
fn split_line_within(bytes: &[u8], start: usize, max: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(start..).unwrap_or_default();
    let window = rest.get(..max.saturating_add(1)).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\n') {
        Some(newline) => Some((rest.get(..newline).unwrap_or_default(), start + newline + 1)),
        None if window.len() == rest.len() && rest.len() <= max => Some((rest, bytes.len())),
        None => None,
    }
}

/// What a header line of `len` bytes may hold in memory once parsed, bookkeeping included.
fn header_memory(len: usize) -> usize {
    len.saturating_mul(HEADER_TREE_FACTOR)
        .saturating_add(ITEM_OVERHEAD)
}

/// Returns the line starting at `start` (without its `\n`; a `\r` stays in the line because the
/// protocol says it belongs to the payload) and the position just after the `\n`, or the end of
/// input if there is none.
fn split_line(bytes: &[u8], start: usize) -> (&[u8], usize) {
    let rest = bytes.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n') {
        Some(newline) => (rest.get(..newline).unwrap_or_default(), start + newline + 1),
        None => (rest, bytes.len()),
    }
}

#[derive(Debug, thiserror::Error)]
enum HeaderError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("expected a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error(transparent)]
    TooDeep(#[from] JsonTooDeep),
}

fn parse_header_object(line: &[u8], max_depth: usize) -> Result<Map<String, Value>, HeaderError> {
    check_json_depth(line, max_depth)?;
    match serde_json::from_slice::<Value>(line)? {
        Value::Object(map) => Ok(map),
        Value::Null => Err(HeaderError::NotAnObject("null")),
        Value::Bool(_) => Err(HeaderError::NotAnObject("a boolean")),
        Value::Number(_) => Err(HeaderError::NotAnObject("a number")),
        Value::String(_) => Err(HeaderError::NotAnObject("a string")),
        Value::Array(_) => Err(HeaderError::NotAnObject("an array")),
    }
}

/// Appends `map` as one line of compact JSON.
fn write_json_line(out: &mut Vec<u8>, map: &Map<String, Value>) {
    // Serialising a map with string keys into memory cannot fail (a `Value` holds no non-finite
    // floats), but an empty object is a better answer than a panic if that ever changes.
    match serde_json::to_vec(map) {
        Ok(json) => out.extend_from_slice(&json),
        Err(_) => out.extend_from_slice(b"{}"),
    }
    out.push(b'\n');
}

fn header_str<'a>(header: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    header.get(key).and_then(Value::as_str)
}

impl Envelope {
    /// An envelope with the given header and no items.
    pub fn new(header: Map<String, Value>) -> Self {
        Self {
            header,
            items: Vec::new(),
        }
    }

    /// Canonical serialisation: every item gets a `length` equal to its payload's, so any payload
    /// (newlines and binary bytes included) survives a round trip through [`parse`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload_bytes: usize = self.items.iter().map(|item| item.payload.len()).sum();
        let mut out = Vec::with_capacity(payload_bytes + 64 * (self.items.len() + 1));
        write_json_line(&mut out, &self.header);
        for item in &self.items {
            let mut header = item.header.clone();
            // The struct field wins over a stale header value; an empty `item_type` means the
            // header had no usable type, and whatever it had is kept as it was.
            if !item.item_type.is_empty() {
                header.insert(TYPE_KEY.to_owned(), Value::from(item.item_type.as_str()));
            }
            header.insert(LENGTH_KEY.to_owned(), Value::from(item.payload.len()));
            write_json_line(&mut out, &header);
            out.extend_from_slice(&item.payload);
            out.push(b'\n');
        }
        out
    }

    /// The envelope header's `event_id`, if it is a string.
    pub fn event_id(&self) -> Option<&str> {
        header_str(&self.header, "event_id")
    }

    /// The envelope header's `dsn`, if it is a string.
    pub fn dsn(&self) -> Option<&str> {
        header_str(&self.header, "dsn")
    }

    /// One line per malformed item, `"item N (type): reason"`, with `N` the item's index in
    /// [`Envelope::items`] (from 0).
    pub fn framing_errors(&self) -> Vec<String> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| {
                item.framing_error.as_ref().map(|reason| {
                    let item_type = if item.item_type.is_empty() {
                        "no type"
                    } else {
                        &item.item_type
                    };
                    format!("item {index} ({item_type}): {reason}")
                })
            })
            .collect()
    }
}

impl EnvelopeItem {
    /// An item of the given type whose header holds only that type.
    pub fn new(item_type: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        let item_type = item_type.into();
        let mut header = Map::new();
        header.insert(TYPE_KEY.to_owned(), Value::from(item_type.as_str()));
        Self {
            header,
            item_type,
            payload: payload.into(),
            framing_error: None,
            payload_offset: None,
            header_precedes_payload: false,
        }
    }

    /// The header's `length`, if it is a non-negative integer.
    pub fn length(&self) -> Option<u64> {
        self.header.get(LENGTH_KEY).and_then(Value::as_u64)
    }

    /// The header's `content_type`, if it is a string.
    pub fn content_type(&self) -> Option<&str> {
        header_str(&self.header, "content_type")
    }

    /// The header's `filename` (attachments), if it is a string.
    pub fn filename(&self) -> Option<&str> {
        header_str(&self.header, "filename")
    }

    /// Any string-valued header, e.g. `attachment_type`.
    pub fn header_str(&self, key: &str) -> Option<&str> {
        header_str(&self.header, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse_ok(bytes: &[u8]) -> Envelope {
        match parse(bytes) {
            Ok(envelope) => envelope,
            Err(err) => panic!("parse failed: {err}"),
        }
    }

    fn types(envelope: &Envelope) -> Vec<&str> {
        envelope
            .items
            .iter()
            .map(|item| item.item_type.as_str())
            .collect()
    }

    fn assert_no_framing_errors(envelope: &Envelope) {
        assert_eq!(envelope.framing_errors(), Vec::<String>::new());
    }

    #[test]
    fn python_style_every_item_has_a_length() {
        let event = br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"hi"}"#;
        let attachment = b"line one\nline two\n\x00\xff";
        let mut body = Vec::new();
        body.extend_from_slice(
            br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"2025-01-01T00:00:00.000000Z","trace":{"trace_id":"abc"}}"#,
        );
        body.push(b'\n');
        body.extend_from_slice(
            format!(
                r#"{{"type":"event","content_type":"application/json","length":{}}}"#,
                event.len()
            )
            .as_bytes(),
        );
        body.push(b'\n');
        body.extend_from_slice(event);
        body.push(b'\n');
        body.extend_from_slice(
            format!(
                r#"{{"type":"attachment","filename":"a.txt","content_type":"text/plain","length":{}}}"#,
                attachment.len()
            )
            .as_bytes(),
        );
        body.push(b'\n');
        body.extend_from_slice(attachment);
        body.push(b'\n');

        let envelope = parse_ok(&body);
        assert_no_framing_errors(&envelope);
        assert_eq!(
            envelope.event_id(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(envelope.dsn(), None);
        assert_eq!(types(&envelope), ["event", "attachment"]);
        let [event_item, attachment_item] = envelope.items.as_slice() else {
            panic!("expected two items");
        };
        assert_eq!(event_item.payload, event);
        assert_eq!(event_item.length(), Some(event.len() as u64));
        assert_eq!(event_item.content_type(), Some("application/json"));
        assert_eq!(attachment_item.payload, attachment);
        assert_eq!(attachment_item.filename(), Some("a.txt"));
        assert_eq!(attachment_item.content_type(), Some("text/plain"));
    }

    #[test]
    fn node_style_json_items_without_length_and_binary_attachment_with_length() {
        let attachment: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x01\nbinary\xfe";
        let mut body = Vec::new();
        body.extend_from_slice(
            br#"{"event_id":"abc","sent_at":"2025-01-01T00:00:00.000Z","sdk":{"name":"sentry.javascript.node","version":"10.78.0"}}"#,
        );
        body.extend_from_slice(b"\n{\"type\":\"session\"}\n{\"sid\":\"1\",\"init\":true}");
        body.extend_from_slice(b"\n{\"type\":\"event\"}\n{\"message\":\"boom\"}");
        body.extend_from_slice(
            format!(
                "\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"img.png\"}}\n",
                attachment.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(attachment);

        let envelope = parse_ok(&body);
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["session", "event", "attachment"]);
        assert_eq!(envelope.items[0].payload, br#"{"sid":"1","init":true}"#);
        assert_eq!(envelope.items[0].length(), None);
        assert_eq!(envelope.items[1].payload, br#"{"message":"boom"}"#);
        assert_eq!(envelope.items[2].payload, attachment);
        assert_eq!(envelope.items[2].filename(), Some("img.png"));
    }

    #[test]
    fn rust_style_log_container_without_length() {
        let logs = br#"{"items":[{"level":"info","body":"hello"}]}"#;
        let event = br#"{"message":"x"}"#;
        let mut body = Vec::new();
        body.extend_from_slice(b"{\"trace\":{\"trace_id\":\"t\"}}\n");
        body.extend_from_slice(
            format!("{{\"type\":\"event\",\"length\":{}}}\n", event.len()).as_bytes(),
        );
        body.extend_from_slice(event);
        body.extend_from_slice(b"\n{\"type\":\"log\",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.log+json\"}\n");
        body.extend_from_slice(logs);
        body.push(b'\n');

        let envelope = parse_ok(&body);
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["event", "log"]);
        assert_eq!(envelope.items[0].payload, event);
        assert_eq!(envelope.items[1].payload, logs);
        assert_eq!(
            envelope.items[1].content_type(),
            Some("application/vnd.sentry.items.log+json")
        );
        assert_eq!(envelope.items[1].header.get("item_count"), Some(&json!(1)));
    }

    #[test]
    fn empty_object_header_is_fine() {
        let envelope = parse_ok(b"{}\n{\"type\":\"event\"}\n{}\n");
        assert!(envelope.header.is_empty());
        assert_eq!(envelope.event_id(), None);
        assert_eq!(types(&envelope), ["event"]);
        assert_eq!(envelope.items[0].payload, b"{}");

        let header_only = parse_ok(b"{}");
        assert!(header_only.items.is_empty());
        let header_and_newline = parse_ok(b"{\"dsn\":\"https://k@h/1\"}\n");
        assert!(header_and_newline.items.is_empty());
        assert_eq!(header_and_newline.dsn(), Some("https://k@h/1"));
    }

    #[test]
    fn no_trailing_newline() {
        let envelope = parse_ok(b"{}\n{\"type\":\"event\",\"length\":2}\n{}");
        assert_no_framing_errors(&envelope);
        assert_eq!(envelope.items[0].payload, b"{}");

        let envelope = parse_ok(b"{}\n{\"type\":\"event\"}\n{\"a\":1}");
        assert_no_framing_errors(&envelope);
        assert_eq!(envelope.items[0].payload, b"{\"a\":1}");
    }

    #[test]
    fn trailing_and_separating_blank_lines_are_skipped() {
        let envelope = parse_ok(
            b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n\n\n{\"type\":\"session\"}\n{}\n\r\n  \n\n",
        );
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["event", "session"]);
    }

    #[test]
    fn an_empty_line_right_after_a_header_is_an_empty_payload_not_a_skipped_line() {
        let envelope = parse_ok(b"{}\n{\"type\":\"a\"}\n\n{\"type\":\"b\"}\nB\n");
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["a", "b"]);
        assert_eq!(envelope.items[0].payload, b"");
        assert_eq!(envelope.items[1].payload, b"B");
    }

    #[test]
    fn items_say_where_their_payload_and_header_lie_in_the_body() {
        let body = b"{}\n{\"type\":\"a\",\"length\":2}\nAA\n\n{\"type\":\"b\"}\nB\nnot json\n{\"type\":\"c\"}";
        let envelope = parse_ok(body);
        let places: Vec<(Option<usize>, bool)> = envelope
            .items
            .iter()
            .map(|i| (i.payload_offset, i.header_precedes_payload))
            .collect();
        assert_eq!(
            places,
            [
                (Some(27), true),
                (Some(44), true),
                // A line that is no header is its own payload.
                (Some(46), false),
                // The last line: its header ends the body, no newline before the payload.
                (Some(body.len()), false),
            ]
        );
        assert_eq!(EnvelopeItem::new("x", "y").payload_offset, None);
    }
    #[test]
    fn carriage_return_belongs_to_the_payload() {
        let envelope = parse_ok(
            b"{}\r\n{\"type\":\"event\"}\r\n{\"a\":1}\r\n{\"type\":\"x\",\"length\":3}\r\nab\r\n",
        );
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["event", "x"]);
        assert_eq!(envelope.items[0].payload, b"{\"a\":1}\r");
        assert_eq!(envelope.items[1].payload, b"ab\r");
    }

    #[test]
    fn zero_length_item_at_eof() {
        for body in [
            &b"{}\n{\"type\":\"attachment\",\"length\":0}"[..],
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n",
            b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n",
            b"{}\n{\"type\":\"attachment\"}",
            b"{}\n{\"type\":\"attachment\"}\n",
        ] {
            let envelope = parse_ok(body);
            assert_no_framing_errors(&envelope);
            assert_eq!(types(&envelope), ["attachment"], "{body:?}");
            assert_eq!(envelope.items[0].payload, b"");
        }
    }

    #[test]
    fn empty_and_whitespace_bodies_are_empty() {
        for body in [&b""[..], b" ", b"\n", b"\r\n\t \n"] {
            assert!(matches!(parse(body), Err(EnvelopeError::Empty)), "{body:?}");
        }
    }

    #[test]
    fn first_line_must_be_a_json_object() {
        for body in [
            &b"not json\n{\"type\":\"event\"}\n{}"[..],
            b"[1,2]\n",
            b"\"x\"",
            b"\n{}\n",
            b"{\"a\":1} trailing\n",
            b"{\"a\":",
        ] {
            match parse(body) {
                Err(EnvelopeError::InvalidHeader(message)) => assert!(!message.is_empty()),
                other => panic!("{body:?}: expected InvalidHeader, got {other:?}"),
            }
        }
        let err = parse(b"[]").map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("invalid envelope header: expected a JSON object, found an array".to_owned())
        );
    }

    #[test]
    fn item_header_not_json_is_kept_and_parsing_continues() {
        let envelope = parse_ok(b"{}\nthis is not json\n{\"type\":\"event\"}\n{}\n[1]\n");
        assert_eq!(envelope.items.len(), 3);
        let bad = &envelope.items[0];
        assert!(bad.header.is_empty());
        assert_eq!(bad.item_type, "");
        assert_eq!(bad.payload, b"this is not json");
        let reason = bad.framing_error.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("item header is not a JSON object: "),
            "{reason}"
        );
        assert_eq!(envelope.items[1].item_type, "event");
        assert_eq!(envelope.items[1].framing_error, None);
        assert_eq!(envelope.items[2].payload, b"[1]");
        assert_eq!(
            envelope.items[2].framing_error.as_deref(),
            Some("item header is not a JSON object: expected a JSON object, found an array")
        );
        let errors = envelope.framing_errors();
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].starts_with("item 0 (no type): item header is not a JSON object"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("item 2 (no type): "), "{errors:?}");
    }

    #[test]
    fn type_missing_or_not_a_string_gives_empty_item_type() {
        let envelope = parse_ok(b"{}\n{\"length\":1}\nA\n{\"type\":7}\nB\n");
        assert_no_framing_errors(&envelope);
        assert_eq!(types(&envelope), ["", ""]);
        assert_eq!(envelope.items[1].header.get("type"), Some(&json!(7)));
        // The header's odd type survives canonical serialisation untouched.
        let again = parse_ok(&envelope.to_bytes());
        assert_eq!(again.items[1].header.get("type"), Some(&json!(7)));
    }

    #[test]
    fn invalid_length_is_reported_and_ignored() {
        for length in ["-1", "1.5", "\"3\"", "true", "{}", "1e2"] {
            let body = format!(
                "{{}}\n{{\"type\":\"event\",\"length\":{length}}}\nabc\n{{\"type\":\"x\"}}\ny\n"
            );
            let envelope = parse_ok(body.as_bytes());
            assert_eq!(types(&envelope), ["event", "x"], "{length}");
            assert_eq!(envelope.items[0].payload, b"abc");
            assert_eq!(envelope.items[0].length(), None);
            let reason = envelope.items[0]
                .framing_error
                .as_deref()
                .unwrap_or_default();
            assert!(reason.contains("not a non-negative integer"), "{reason}");
            assert_eq!(envelope.items[1].framing_error, None);
        }
        // An explicit null is read as "no length" without complaint.
        let envelope = parse_ok(b"{}\n{\"type\":\"event\",\"length\":null}\nabc\n");
        assert_no_framing_errors(&envelope);
        assert_eq!(envelope.items[0].payload, b"abc");
    }

    #[test]
    fn truncated_payload_keeps_the_remaining_bytes() {
        let envelope =
            parse_ok(b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"attachment\",\"length\":10}\nabc");
        assert_eq!(types(&envelope), ["event", "attachment"]);
        assert_eq!(envelope.items[1].payload, b"abc");
        assert_eq!(
            envelope.items[1].framing_error.as_deref(),
            Some("declared length 10 but only 3 bytes remain")
        );
        assert_eq!(
            envelope.framing_errors(),
            ["item 1 (attachment): declared length 10 but only 3 bytes remain"]
        );

        // A length too large for memory is truncation too, not an overflow.
        let envelope = parse_ok(
            b"{}\n{\"type\":\"a\",\"length\":18446744073709551615}\nxyz\n{\"type\":\"b\"}\n",
        );
        assert_eq!(types(&envelope), ["a"]);
        assert_eq!(envelope.items[0].payload, b"xyz\n{\"type\":\"b\"}\n");
        assert_eq!(
            envelope.items[0].framing_error.as_deref(),
            Some("declared length 18446744073709551615 but only 17 bytes remain")
        );

        // Header at EOF with a positive length.
        let envelope = parse_ok(b"{}\n{\"type\":\"a\",\"length\":1}");
        assert_eq!(envelope.items[0].payload, b"");
        assert_eq!(
            envelope.items[0].framing_error.as_deref(),
            Some("declared length 1 but only 0 bytes remain")
        );
    }

    #[test]
    fn wrong_length_keeps_declared_bytes_and_resynchronises() {
        let envelope = parse_ok(
            b"{}\n{\"type\":\"event\",\"length\":3}\n{\"a\":1}\n{\"type\":\"session\"}\n{\"s\":1}\n",
        );
        assert_eq!(types(&envelope), ["event", "session"]);
        assert_eq!(envelope.items[0].payload, b"{\"a");
        assert_eq!(
            envelope.items[0].framing_error.as_deref(),
            Some("payload of declared length 3 is not followed by a newline")
        );
        assert_eq!(envelope.items[1].payload, b"{\"s\":1}");
        assert_eq!(envelope.items[1].framing_error, None);

        // Wrong length and no further newline: parsing simply ends.
        let envelope = parse_ok(b"{}\n{\"type\":\"event\",\"length\":1}\nabc");
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.items[0].payload, b"a");
        assert!(envelope.items[0].framing_error.is_some());
    }

    #[test]
    fn binary_payloads_survive() {
        let payload: Vec<u8> = (0..=255u8).chain([b'\n', b'\r', 0, b'\n']).collect();
        let mut body = b"{}\n".to_vec();
        body.extend_from_slice(
            format!(
                "{{\"type\":\"replay_recording\",\"length\":{}}}\n",
                payload.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(&payload);
        let envelope = parse_ok(&body);
        assert_no_framing_errors(&envelope);
        assert_eq!(envelope.items[0].payload, payload);
        assert_eq!(parse_ok(&envelope.to_bytes()), envelope);
    }

    #[test]
    fn to_bytes_is_canonical() {
        let mut header = Map::new();
        header.insert("event_id".into(), json!("e1"));
        let mut envelope = Envelope::new(header);
        envelope
            .items
            .push(EnvelopeItem::new("event", b"{}".to_vec()));
        let mut attachment = EnvelopeItem::new("attachment", b"a\nb".to_vec());
        attachment.header.insert("filename".into(), json!("f.txt"));
        attachment.header.insert("length".into(), json!(999));
        envelope.items.push(attachment);

        assert_eq!(
            envelope.to_bytes(),
            b"{\"event_id\":\"e1\"}\n{\"length\":2,\"type\":\"event\"}\n{}\n{\"filename\":\"f.txt\",\"length\":3,\"type\":\"attachment\"}\na\nb\n"
                .to_vec()
        );
        let parsed = parse_ok(&envelope.to_bytes());
        assert_eq!(parsed.items[1].length(), Some(3));
        assert_eq!(parsed.items[1].payload, b"a\nb");
    }

    #[test]
    fn item_type_field_wins_over_header_type_when_serialising() {
        let mut item = EnvelopeItem::new("event", b"{}".to_vec());
        item.item_type = "transaction".into();
        let envelope = Envelope {
            header: Map::new(),
            items: vec![item],
        };
        let parsed = parse_ok(&envelope.to_bytes());
        assert_eq!(types(&parsed), ["transaction"]);
    }

    #[test]
    fn deeply_nested_header_is_an_error_not_a_crash() {
        let mut line = "[".repeat(100_000);
        line.push('\n');
        assert!(matches!(
            parse(line.as_bytes()),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        let body = format!(
            "{{}}\n{}\n{{\"type\":\"event\"}}\n{{}}\n",
            "{\"a\":".repeat(50_000)
        );
        let envelope = parse_ok(body.as_bytes());
        assert_eq!(types(&envelope), ["", "event"]);
    }

    // ----- property tests -----

    fn item_type_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec![
                "event", "transaction", "attachment", "session", "sessions", "log",
                "trace_metric", "client_report", "profile", "profile_chunk", "feedback",
                "check_in", "replay_event", "replay_recording", "span",
            ])
            .prop_map(str::to_owned),
            1 => "[a-z_]{1,12}",
            1 => any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        ]
    }

    fn json_value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn extra_headers_strategy() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(
            any::<String>().prop_filter("reserved key", |k| k != TYPE_KEY && k != LENGTH_KEY),
            json_value_strategy(),
            0..4,
        )
        .prop_map(|m| m.into_iter().collect())
    }

    fn item_strategy() -> impl Strategy<Value = EnvelopeItem> {
        (
            item_type_strategy(),
            extra_headers_strategy(),
            prop::collection::vec(
                prop_oneof![3 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')],
                0..200,
            ),
        )
            .prop_map(|(item_type, extra, payload)| {
                let mut item = EnvelopeItem::new(item_type, payload);
                item.header.extend(extra);
                item
            })
    }

    fn envelope_strategy() -> impl Strategy<Value = Envelope> {
        (
            extra_headers_strategy(),
            prop::collection::vec(item_strategy(), 0..6),
        )
            .prop_map(|(header, items)| Envelope { header, items })
    }

    /// Writes items the way @sentry/node does: no `length`, payload terminated by a newline.
    fn newline_framed(envelope: &Envelope) -> Vec<u8> {
        let mut out = Vec::new();
        write_json_line(&mut out, &envelope.header);
        for item in &envelope.items {
            write_json_line(&mut out, &item.header);
            out.extend_from_slice(&item.payload);
            out.push(b'\n');
        }
        out
    }

    fn without_length(header: &Map<String, Value>) -> Map<String, Value> {
        let mut header = header.clone();
        header.remove(LENGTH_KEY);
        header
    }

    /// Every parsed item's payload is where its `payload_offset` says, and a header said to
    /// precede it is the line that ends right before it.
    fn positions_hold(bytes: &[u8], envelope: &Envelope) -> Result<(), TestCaseError> {
        for item in &envelope.items {
            let offset = item
                .payload_offset
                .ok_or_else(|| TestCaseError::fail("a parsed item without an offset"))?;
            prop_assert_eq!(
                &bytes[offset..offset + item.payload.len()],
                &item.payload[..]
            );
            if item.header_precedes_payload {
                prop_assert_eq!(bytes[offset - 1], b'\n');
                let line_start = bytes[..offset - 1]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |n| n + 1);
                let header = parse_header_object(&bytes[line_start..offset - 1], 128)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&header, &item.header);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn canonical_bytes_round_trip(envelope in envelope_strategy()) {
            let bytes = envelope.to_bytes();
            let parsed = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            positions_hold(&bytes, &parsed)?;
            prop_assert_eq!(&parsed.header, &envelope.header);
            prop_assert_eq!(parsed.items.len(), envelope.items.len());
            for (got, want) in parsed.items.iter().zip(&envelope.items) {
                prop_assert_eq!(&got.item_type, &want.item_type);
                prop_assert_eq!(without_length(&got.header), without_length(&want.header));
                prop_assert_eq!(got.length(), Some(want.payload.len() as u64));
                prop_assert_eq!(&got.payload, &want.payload);
                prop_assert_eq!(&got.framing_error, &None);
            }
            // Canonical form is a fixed point.
            prop_assert_eq!(parsed.to_bytes(), envelope.to_bytes());
        }

        #[test]
        fn newline_framed_items_round_trip(
            header in extra_headers_strategy(),
            items in prop::collection::vec(
                (item_type_strategy(), extra_headers_strategy(), prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..100)),
                0..6,
            ),
            trailing_newlines in 0usize..3,
        ) {
            let envelope = Envelope {
                header,
                items: items.into_iter().map(|(item_type, extra, payload)| {
                    let mut item = EnvelopeItem::new(item_type, payload);
                    item.header.extend(extra);
                    item
                }).collect(),
            };
            let mut bytes = newline_framed(&envelope);
            if envelope.items.last().is_some_and(|item| item.payload.is_empty()) {
                // An empty last payload needs its newline to be told apart from a blank line.
            } else {
                bytes.pop();
            }
            bytes.extend(std::iter::repeat_n(b'\n', trailing_newlines));
            let parsed = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            positions_hold(&bytes, &parsed)?;
            prop_assert_eq!(&parsed.header, &envelope.header);
            prop_assert_eq!(parsed.items.len(), envelope.items.len());
            for (got, want) in parsed.items.iter().zip(&envelope.items) {
                prop_assert_eq!(&got.item_type, &want.item_type);
                prop_assert_eq!(&got.header, &want.header);
                prop_assert_eq!(&got.payload, &want.payload);
                prop_assert_eq!(&got.framing_error, &None);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let _ = parse(&bytes);
            let mut prefixed = b"{}\n".to_vec();
            prefixed.extend_from_slice(&bytes);
            let envelope = parse(&prefixed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let _ = envelope.framing_errors();
            let _ = parse(&envelope.to_bytes());
        }

        #[test]
        fn line_soup_never_panics(lines in prop::collection::vec(prop_oneof![
            Just(b"{}".to_vec()),
            Just(b"{\"type\":\"event\"}".to_vec()),
            (0u64..40).prop_map(|n| format!("{{\"type\":\"attachment\",\"length\":{n}}}").into_bytes()),
            Just(b"{\"type\":\"x\",\"length\":-3}".to_vec()),
            Just(b"{\"type\":\"x\",\"length\":99999999999999999999}".to_vec()),
            prop::collection::vec(any::<u8>(), 0..30),
            Just(Vec::new()),
            Just(b"\r".to_vec()),
        ], 0..30)) {
            let bytes = lines.join(&b'\n');
            if let Ok(envelope) = parse(&bytes) {
                positions_hold(&bytes, &envelope)?;
                let _ = envelope.framing_errors();
                let again = parse(&envelope.to_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                // Canonical serialisation repairs every framing problem.
                prop_assert_eq!(again.framing_errors(), Vec::<String>::new());
                prop_assert_eq!(again.items.len(), envelope.items.len());
            }
        }

        #[test]
        fn mutated_and_truncated_envelopes_never_panic(
            envelope in envelope_strategy(),
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        ) {
            let bytes = envelope.to_bytes();
            let truncated = &bytes[..cut.index(bytes.len() + 1)];
            let _ = parse(truncated);
            let mut mutated = bytes.clone();
            for (at, value) in flips {
                let i = at.index(mutated.len());
                mutated[i] = value;
            }
            if let Ok(parsed) = parse(&mutated) {
                positions_hold(&mutated, &parsed)?;
            }
            if let Ok(parsed) = parse(truncated) {
                positions_hold(truncated, &parsed)?;
                let _ = parsed.to_bytes();
                let _ = parsed.framing_errors();
            }
        }
    }
}
