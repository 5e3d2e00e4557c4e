//! Crash report submissions the way Antenna (Mozilla's collector) accepts them: one
//! `multipart/form-data` body with the annotations as `text/plain` fields or one `extra`
//! `application/json` part, the minidumps as `application/octet-stream` parts (the crashing
//! process's named `upload_file_minidump`), optionally gzipped as a whole with
//! `Content-Encoding: gzip`.
//!
//! [`build`] writes such a body; [`parse`] reads one following Antenna's rules
//! (`antenna/breakpad_resource.py`), so a fake collector can reuse it and reject what Antenna
//! rejects with the same `Discarded=malformed_<reason>` reasons.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::crash::Crash;

/// The dump part name Antenna and Socorro treat as the crashing process's minidump.
pub const MINIDUMP_FIELD: &str = "upload_file_minidump";
/// nginx in front of Antenna: `client_max_body_size 25m`.
pub const DEFAULT_MAX_BODY_SIZE: usize = 25 * 1024 * 1024;
/// Dump part names Antenna refuses (they collide with its storage keys).
const RESERVED_DUMP_NAMES: [&str; 3] = ["dump_names", "processed_crash", "raw_crash"];

/// How the annotations travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnotationEncoding {
    /// One `text/plain` form field per annotation (older Breakpad/Crashpad clients).
    #[default]
    FormFields,
    /// One `extra` part holding a JSON object (Firefox since 2020).
    ExtraJson,
}

/// What to submit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Submission {
    pub annotations: BTreeMap<String, String>,
    pub annotation_encoding: AnnotationEncoding,
    /// `(part name, bytes)`; the crashing process's dump is named [`MINIDUMP_FIELD`].
    pub dumps: Vec<(String, Vec<u8>)>,
    /// Gzip the whole body and send `Content-Encoding: gzip`.
    pub gzip: bool,
}

impl Submission {
    /// A submission of one crash: its profile's annotations and its minidump.
    pub fn for_crash(crash: &Crash) -> Self {
        Submission {
            annotations: crash.profile.annotations.clone(),
            annotation_encoding: AnnotationEncoding::default(),
            dumps: vec![(MINIDUMP_FIELD.to_string(), crash.minidump_bytes().to_vec())],
            gzip: false,
        }
    }
}

/// A built request body and the headers that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSubmission {
    pub content_type: String,
    /// `Some("gzip")` when the body is gzipped.
    pub content_encoding: Option<&'static str>,
    pub body: Vec<u8>,
}

/// Writes the multipart body with the given boundary (which must not occur in any part).
pub fn build(submission: &Submission, boundary: &str) -> EncodedSubmission {
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    match submission.annotation_encoding {
        AnnotationEncoding::FormFields => {
            for (key, value) in &submission.annotations {
                part(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\nContent-Type: text/plain; charset=utf-8\r\n",
                        quote(key)
                    ),
                    value.as_bytes(),
                );
            }
        }
        AnnotationEncoding::ExtraJson => {
            let json = serde_json::to_vec(&submission.annotations).expect("string map serializes");
            part(
                "Content-Disposition: form-data; name=\"extra\"; filename=\"extra.json\"\r\nContent-Type: application/json\r\n"
                    .to_string(),
                &json,
            );
        }
    }
    for (name, bytes) in &submission.dumps {
        part(
            format!(
                "Content-Disposition: form-data; name=\"{0}\"; filename=\"{0}.dmp\"\r\nContent-Type: application/octet-stream\r\n",
                quote(name)
            ),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let (body, content_encoding) = if submission.gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&body).expect("in-memory gzip");
        (encoder.finish().expect("in-memory gzip"), Some("gzip"))
    } else {
        (body, None)
    };
    EncodedSubmission {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        content_encoding,
        body,
    }
}

fn quote(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A boundary derived from the payload so builds stay deterministic.
pub fn boundary_for(seed: u64) -> String {
    format!("------------------------crashgen{seed:016x}")
}

/// What a collector extracts from a submission.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedSubmission {
    pub annotations: BTreeMap<String, String>,
    /// Dump part name (sanitized as Antenna does) -> bytes.
    pub dumps: BTreeMap<String, Vec<u8>>,
    /// `"json"` when annotations came as an `extra` JSON part, else `"multipart"`.
    pub payload: &'static str,
    pub payload_compressed: bool,
    /// Antenna's `collector_notes` for oddities it tolerates.
    pub notes: Vec<String>,
}

/// Why a submission is refused. [`SubmissionError::reason`] gives Antenna's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    #[error("no content type")]
    NoContentType,
    #[error("content type is not multipart/form-data or multipart/mixed")]
    WrongContentType,
    #[error("content type has no boundary")]
    NoBoundary,
    #[error("empty body")]
    NoContentLength,
    #[error("body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("body is not valid gzip")]
    BadGzip,
    #[error("extra part is not valid JSON")]
    InvalidJson,
    #[error("extra part is not a JSON object")]
    InvalidJsonValue,
    #[error("malformed multipart body: {0}")]
    InvalidPayloadStructure(String),
    #[error("dump part name {0:?} is reserved")]
    InvalidDumpName(String),
    #[error("submission has no annotations")]
    NoAnnotations,
}

impl SubmissionError {
    /// Antenna's reason: the response body is `Discarded=malformed_<reason>`.
    pub fn reason(&self) -> &'static str {
        match self {
            SubmissionError::NoContentType => "no_content_type",
            SubmissionError::WrongContentType => "wrong_content_type",
            SubmissionError::NoBoundary => "no_boundary",
            SubmissionError::NoContentLength => "no_content_length",
            SubmissionError::TooLarge { .. } => "too_large",
            SubmissionError::BadGzip => "bad_gzip",
            SubmissionError::InvalidJson => "invalid_json",
            SubmissionError::InvalidJsonValue => "invalid_json_value",
            SubmissionError::InvalidPayloadStructure(_) => "invalid_payload_structure",
            SubmissionError::InvalidDumpName(_) => "invalid_dump_name",
            SubmissionError::NoAnnotations => "no_annotations",
        }
    }

    /// The HTTP status a collector answers with: 413 for an oversized body (nginx), else 400.
    pub fn status(&self) -> u16 {
        match self {
            SubmissionError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted body, before and after gunzip.
    pub max_body_size: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }
}

/// Parses an uncompressed submission body.
pub fn parse(content_type: &str, body: &[u8]) -> Result<ParsedSubmission, SubmissionError> {
    parse_request(Some(content_type), None, body, ParseLimits::default())
}

/// Parses a submission given its `Content-Type` and `Content-Encoding` headers.
pub fn parse_request(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: ParseLimits,
) -> Result<ParsedSubmission, SubmissionError> {
    let content_type = content_type.ok_or(SubmissionError::NoContentType)?;
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "multipart/form-data" && mime != "multipart/mixed" {
        return Err(SubmissionError::WrongContentType);
    }
    let boundary = multer::parse_boundary(content_type).map_err(|_| SubmissionError::NoBoundary)?;
    if body.is_empty() {
        return Err(SubmissionError::NoContentLength);
    }
    if body.len() > limits.max_body_size {
        return Err(SubmissionError::TooLarge {
            size: body.len(),
            limit: limits.max_body_size,
        });
    }
    let compressed = content_encoding.is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    let body = if compressed {
        let mut out = Vec::new();
        // Read one byte past the limit to detect an oversized payload without buffering it all.
        flate2::read::GzDecoder::new(body)
            .take(limits.max_body_size as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| SubmissionError::BadGzip)?;
        if out.len() > limits.max_body_size {
            return Err(SubmissionError::TooLarge {
                size: out.len(),
                limit: limits.max_body_size,
            });
        }
        out
    } else {
        body.to_vec()
    };
    let parts = futures::executor::block_on(read_parts(body, boundary))?;

    let mut parsed = ParsedSubmission {
        payload: "multipart",
        payload_compressed: compressed,
        ..ParsedSubmission::default()
    };
    let mut has_json = false;
    let mut has_fields = false;
    for part in parts {
        let part_type = part
            .content_type
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        if part_type.starts_with("application/json") {
            let value: serde_json::Value =
                serde_json::from_slice(&part.data).map_err(|_| SubmissionError::InvalidJson)?;
            let object = value.as_object().ok_or(SubmissionError::InvalidJsonValue)?;
            for (key, value) in object {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parsed.annotations.insert(key.clone(), text);
            }
            has_json = true;
            parsed.payload = "json";
        } else if part_type.starts_with("text/plain")
            || (part.file_name.is_none() && part_type.is_empty())
        {
            let value = match String::from_utf8(part.data) {
                Ok(text) => text,
                Err(e) => {
                    parsed
                        .notes
                        .push(format!("{} has non-utf-8 value", part.name));
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                }
            };
            parsed.annotations.insert(part.name, value);
            has_fields = true;
        } else {
            let name = sanitize_key_name(&part.name);
            if RESERVED_DUMP_NAMES.contains(&name.as_str()) {
                return Err(SubmissionError::InvalidDumpName(name));
            }
            parsed.dumps.insert(name, part.data);
        }
    }
    if has_json && has_fields {
        parsed
            .notes
            .push("includes annotations in both json-encoded extra and formdata parts".to_string());
    }
    if parsed.annotations.is_empty() {
        return Err(SubmissionError::NoAnnotations);
    }
    Ok(parsed)
}

/// Antenna's `sanitize_key_name`: keep `[A-Za-z0-9_]`, at most 30 characters.
pub fn sanitize_key_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect()
}

struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

async fn read_parts(body: Vec<u8>, boundary: String) -> Result<Vec<Part>, SubmissionError> {
    let stream = futures::stream::once(async move {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body))
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| SubmissionError::InvalidPayloadStructure(e.to_string()))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field
            .bytes()
            .await
            .map_err(|e| SubmissionError::InvalidPayloadStructure(e.to_string()))?
            .to_vec();
        parts.push(Part {
            name,
            file_name,
            content_type,
            data,
        });
    }
    if parts.is_empty() {
        return Err(SubmissionError::InvalidPayloadStructure(
            "no parts".to_string(),
        ));
    }
    Ok(parts)
}

/// A collector's answer to a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorResponse {
    pub status: u16,
    pub body: String,
}

impl CollectorResponse {
    /// The crash id from an accepting `CrashID=bp-<id>` body.
    pub fn crash_id(&self) -> Option<&str> {
        self.body.trim_end().strip_prefix("CrashID=bp-")
    }
}

/// POSTs a built submission to a collector's submit URL.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    submission: &EncodedSubmission,
) -> Result<CollectorResponse, reqwest::Error> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, &submission.content_type)
        .body(submission.body.clone());
    if let Some(encoding) = submission.content_encoding {
        request = request.header(reqwest::header::CONTENT_ENCODING, encoding);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.text().await?;
    Ok(CollectorResponse { status, body })
}
