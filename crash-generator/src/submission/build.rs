//! Writing a submission ([`build`]) and sending it to a collector ([`post`]).

use std::collections::BTreeMap;
use std::io::Write;

use super::MINIDUMP_FIELD;
use crate::crash::Crash;

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
    /// The profile's `additional_minidumps` go along as copies of the crash's dump under their
    /// own part names (Socorro only reads their names).
    pub fn for_crash(crash: &Crash) -> Self {
        let dump = crash.minidump_bytes().to_vec();
        let mut dumps = vec![(MINIDUMP_FIELD.to_string(), dump.clone())];
        for name in &crash.profile.additional_minidumps {
            dumps.push((
                crate::socorro::additional_minidump_field(name),
                dump.clone(),
            ));
        }
        Submission {
            annotations: crash.profile.annotations.clone(),
            annotation_encoding: AnnotationEncoding::default(),
            dumps,
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
