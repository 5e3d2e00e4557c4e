//! Minidump uploads: the multipart form crash reporters post, its `sentry` fields and files.

use std::ops::Range;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{
    IngestRequest, Ingested, authenticated, check_item_size, decoded_body, json_tree_bytes,
    new_envelope, parse_json_object, with_decoded,
};
use crate::config::Limits;
use crate::decode::{self, ContentEncoding};
use crate::error::IngestError;
use crate::in_flight::RequestCharge;
use crate::item::{self, EnvelopeContext};
use crate::store::{BodyPosition, NewItem};

use super::native_payload::AttachedEvent;

fn is_minidump(bytes: &[u8]) -> bool {
    bytes.starts_with(b"MDMP") || bytes.starts_with(b"PMDM")
}

/// A minidump part may itself be compressed (Relay accepts gzip and zstd containers).
fn unwrap_minidump(
    bytes: Vec<u8>,
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<Vec<u8>, IngestError> {
    let encoding = if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(ContentEncoding::Gzip)
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(ContentEncoding::Zstd)
    } else {
        None
    };
    let bytes = match encoding {
        Some(enc) => decode::decode_body_charged(&bytes, &[enc], limits.max_attachment, charge)?,
        None => bytes,
    };
    if !is_minidump(&bytes) {
        return Err(IngestError::BadRequest {
            detail: "invalid minidump".into(),
            causes: vec!["upload_file_minidump does not start with the MDMP signature".into()],
        });
    }
    Ok(bytes)
}

/// The keys of a bracket path (`[a][b]` of a field named `sentry[a][b]`), read up to
/// `max_depth`: `None` as soon as the path has more keys than that, so a name nesting 60,000
/// levels costs no more than one nesting `max_depth + 1`.
fn bracket_keys(path: &str, max_depth: usize) -> Option<Vec<&str>> {
    let mut keys = Vec::new();
    for key in path
        .split('[')
        .map(|k| k.trim_end_matches(']'))
        .filter(|k| !k.is_empty())
    {
        if keys.len() >= max_depth {
            return None;
        }
        keys.push(key);
    }
    Some(keys)
}

/// Sets `event[a][b]…` from a form field named `sentry[a][b]`, whose path has at most
/// `max_depth` keys; a deeper one is refused rather than built into a tree that serialising
/// (and dropping) would recurse through until the stack overflows.
fn set_bracket_path(
    event: &mut Map<String, Value>,
    path: &str,
    value: &str,
    max_depth: usize,
) -> Result<(), IngestError> {
    let keys = bracket_keys(path, max_depth).ok_or_else(|| IngestError::BadRequest {
        detail: "invalid minidump form".into(),
        causes: vec![format!(
            "a sentry[...] field name nests more than {max_depth} levels (--max-form-depth)"
        )],
    })?;
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    let mut current = event;
    for key in parents {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return Ok(());
        };
        current = next;
    }
    current.insert(last.to_string(), Value::String(value.to_string()));
    Ok(())
}

struct FormPart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

/// Finds the files of a multipart body in it, so that the store keeps each once (as its place
/// in the body). The reader does not say where a part lies, so each is looked for, from where
/// the last one found ends on: parts come in order, so the search never starts past the part
/// it looks for, and whatever range it finds holds exactly the part's bytes.
struct PartFinder {
    body: Bytes,
    from: usize,
}

impl PartFinder {
    fn find(&mut self, data: &[u8]) -> Option<Range<usize>> {
        let rest = self.body.get(self.from..)?;
        let start = self.from + memchr::memmem::find(rest, data)?;
        let range = start..start + data.len();
        self.from = range.end;
        Some(range)
    }
}

fn invalid_form(cause: String) -> IngestError {
    IngestError::BadRequest {
        detail: "invalid multipart body".into(),
        causes: vec![cause],
    }
}

/// Reads the parts of a multipart body, checking while reading: the part count (stopping at
/// the one past `max_form_fields`), each part's headers (`max_part_header`) and each part's
/// data (`max_attachment` for files, `max_form_field` for other fields), chunk by chunk.
async fn read_multipart(
    body: Bytes,
    boundary: &str,
    limits: &Limits,
) -> Result<Vec<FormPart>, IngestError> {
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits.max_decompressed as u64)
            .per_field(limits.max_attachment as u64),
    );
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    let invalid = |err: multer::Error| invalid_form(err.to_string());
    while let Some(mut field) = multipart.next_field().await.map_err(invalid)? {
        if parts.len() >= limits.max_form_fields {
            return Err(IngestError::TooLarge(format!(
                "the multipart form has more than {} parts (--max-form-fields)",
                limits.max_form_fields
            )));
        }
        let header_bytes: usize = field
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > limits.max_part_header {
            return Err(IngestError::TooLarge(format!(
                "a multipart part has {header_bytes} bytes of headers, more than {} \
                 (--max-part-header)",
                limits.max_part_header
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let (limit, flag) = if filename.is_some() || name == "upload_file_minidump" {
            (limits.max_attachment, "--max-attachment")
        } else {
            (limits.max_form_field, "--max-form-field")
        };
        let mut first: Option<Bytes> = None;
        let mut gathered = bytes::BytesMut::new();
        let mut size = 0usize;
        while let Some(chunk) = field.chunk().await.map_err(invalid)? {
            size = size.saturating_add(chunk.len());
            if size > limit {
                return Err(IngestError::TooLarge(format!(
                    "the multipart field {:?} is larger than {limit} bytes ({flag})",
                    crate::error::truncate_text(name, 64)
                )));
            }
            match first.take() {
                None if gathered.is_empty() => first = Some(chunk),
                previous => {
                    if let Some(previous) = previous {
                        gathered.extend_from_slice(&previous);
                    }
                    gathered.extend_from_slice(&chunk);
                }
            }
        }
        let data = first.unwrap_or_else(|| gathered.freeze());
        parts.push(FormPart {
            name,
            filename,
            content_type,
            data,
        });
    }
    Ok(parts)
}

/// A file of the upload: name, content type, attachment type, bytes, and where they lie in the
/// decoded body when they are there as they are.
type Attachment = (
    String,
    Option<String>,
    &'static str,
    Vec<u8>,
    Option<Range<usize>>,
);

/// `POST /api/{project}/minidump/`: a multipart upload with `upload_file_minidump` and Sentry
/// event fields (`sentry` JSON or `sentry[...]` fields), or a raw minidump body. Other files
/// become attachments and other fields land in the event's `extra`, as in Relay.
pub async fn ingest_minidump(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let auth = authenticated(req, required_keys)?;
    let decoded = decoded_body(req, limits)?;
    let decoded_size = decoded.len();
    let media_type = req.media_type();
    let mut event = Map::new();
    let mut extra = Map::new();
    let mut attachments: Vec<Attachment> = Vec::new();
    let mut minidump = None;
    let mut attached_event = AttachedEvent::default();
    // The decoded form, for the store's compact form (see `with_decoded`).
    let mut kept_decoded = None;
    if media_type == "multipart/form-data" {
        let boundary = req
            .header(http::header::CONTENT_TYPE)
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| IngestError::bad_request("multipart body without a boundary"))?;
        // The multipart reader works on its own copy of the body, and the parts kept are
        // copied once more (`decoded_body` charged the body and one copy).
        req.charge.add(decoded_size.saturating_mul(2))?;
        let body = Bytes::from(decoded);
        kept_decoded = Some(body.clone());
        let parts = read_multipart(body.clone(), &boundary, limits).await?;
        let mut finder = PartFinder { body, from: 0 };
        // The event's fields as a tree: one map per level of a bracket path, besides their
        // values (which the copies above cover).
        req.charge.add(
            parts
                .len()
                .saturating_mul(limits.max_form_depth.saturating_add(1))
                .saturating_mul(128),
        )?;
        for part in parts {
            match (part.name.as_str(), &part.filename) {
                ("upload_file_minidump", _) => {
                    let name = part
                        .filename
                        .clone()
                        .unwrap_or_else(|| "minidump.dmp".into());
                    let dump = unwrap_minidump(part.data.to_vec(), limits, &req.charge)?;
                    // A dump that came compressed in its part is not in the body as it is.
                    let place = finder.find(&dump);
                    minidump = Some((name, dump, place));
                }
                ("sentry", None) => {
                    req.charge.add(json_tree_bytes(part.data.len()))?;
                    let fields =
                        parse_json_object(&part.data, "sentry form field", limits.max_json_depth)?;
                    event.extend(fields);
                }
                (name, None) if name.starts_with("sentry[") => {
                    set_bracket_path(
                        &mut event,
                        &name["sentry".len()..],
                        &String::from_utf8_lossy(&part.data),
                        limits.max_form_depth,
                    )?;
                }
                (name, _) if name.starts_with("__sentry-") => {
                    check_item_size(limits, "attachment", part.data.len())?;
                    // sentry-native's event and breadcrumbs: merged into the event below and
                    // kept as the attachments Relay makes of them.
                    let attachment_type = match attached_event.take(name, &part.data) {
                        Some(attachment_type) => {
                            req.charge.add(json_tree_bytes(part.data.len()))?;
                            attachment_type
                        }
                        None => "event.attachment",
                    };
                    attachments.push((
                        part.filename.clone().unwrap_or_else(|| name.to_string()),
                        part.content_type,
                        attachment_type,
                        part.data.to_vec(),
                        finder.find(&part.data),
                    ));
                }
                (_, Some(filename)) => {
                    check_item_size(limits, "attachment", part.data.len())?;
                    attachments.push((
                        filename.clone(),
                        part.content_type,
                        "event.attachment",
                        part.data.to_vec(),
                        finder.find(&part.data),
                    ));
                }
                (name, None) => {
                    extra.insert(
                        name.to_string(),
                        Value::String(String::from_utf8_lossy(&part.data).into_owned()),
                    );
                }
            }
        }
    } else {
        // The whole body, unless it came compressed.
        let place = is_minidump(&decoded).then_some(0..decoded.len());
        minidump = Some((
            "minidump.dmp".into(),
            unwrap_minidump(decoded, limits, &req.charge)?,
            place,
        ));
    }
    let (dump_name, dump, dump_place) = minidump.ok_or_else(|| IngestError::BadRequest {
        detail: "invalid minidump".into(),
        causes: vec!["missing upload_file_minidump".into()],
    })?;
    check_item_size(limits, "attachment", dump.len())?;
    let mut event = attached_event.merge(event, limits.max_json_depth);
    if !extra.is_empty() {
        let target = event
            .entry("extra")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = target {
            map.extend(extra);
        }
    }
    let event_id = match event.get("event_id").and_then(Value::as_str) {
        Some(id) => item::normalize_event_id(id.to_string()),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    event.insert("event_id".into(), json!(event_id));
    event.entry("platform").or_insert(json!("native"));
    event.entry("level").or_insert(json!("fatal"));
    let context = EnvelopeContext {
        header: None,
        client: auth.client.as_deref(),
    };
    let payload = serde_json::to_vec(&Value::Object(event)).unwrap_or_default();
    let mut meta = item::describe("event", &Map::new(), &payload, context);
    if meta.summary == "event" {
        meta.summary = format!("minidump {dump_name} ({} bytes)", dump.len());
    }
    let mut items = vec![NewItem {
        item_type: "event".into(),
        header: Some(
            json!({"type": "event"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        payload,
        in_body: None,
        meta,
        audit: None,
    }];
    attachments.insert(
        0,
        (
            dump_name,
            Some("application/x-dmp".into()),
            "event.minidump",
            dump,
            dump_place,
        ),
    );
    for (filename, content_type, attachment_type, data, place) in attachments {
        let mut header = Map::new();
        header.insert("type".into(), json!("attachment"));
        header.insert("filename".into(), json!(filename));
        header.insert("attachment_type".into(), json!(attachment_type));
        header.insert("length".into(), json!(data.len()));
        if let Some(ct) = content_type {
            header.insert("content_type".into(), json!(ct));
        }
        let mut meta = item::describe("attachment", &header, &data, context);
        meta.event_id = Some(event_id.clone());
        items.push(NewItem {
            item_type: "attachment".into(),
            header: Some(header),
            payload: data,
            in_body: place.map(|payload| BodyPosition {
                payload,
                header_line_before: false,
            }),
            meta,
            audit: None,
        });
    }
    Ok(Ingested {
        envelope: match kept_decoded {
            Some(decoded) => {
                with_decoded(new_envelope(req, auth, None, decoded_size, items), decoded)
            }
            None => new_envelope(req, auth, None, decoded_size, items),
        },
        event_id: Some(event_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_fields_build_nested_objects() {
        let mut event = Map::new();
        set_bracket_path(&mut event, "[tags][build]", "42", 2).unwrap();
        set_bracket_path(&mut event, "[release]", "1.0", 2).unwrap();
        assert_eq!(
            Value::Object(event),
            json!({"tags": {"build": "42"}, "release": "1.0"})
        );
    }

    #[test]
    fn bracket_paths_deeper_than_the_limit_are_refused_while_read() {
        let mut event = Map::new();
        assert!(set_bracket_path(&mut event, "[a][b][c]", "x", 2).is_err());
        assert!(event.is_empty(), "nothing of a refused path is built");
        assert_eq!(bracket_keys("[a][b]", 2), Some(vec!["a", "b"]));
        assert_eq!(bracket_keys(&"[a]".repeat(60_000), 32), None);
    }
}
