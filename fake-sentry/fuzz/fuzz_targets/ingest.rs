//! The ingest endpoints end to end on arbitrary bodies, without the HTTP server: envelope, store
//! (POST and GET), security reports (CSP and Reporting API) and minidump uploads (raw, gzip/zstd
//! containers, Breakpad multipart). Input: endpoint, `Content-Type` and `Content-Encoding`
//! choices in the first three bytes, then the body.
//!
//! Invariants: no panic; a refusal is a client error (4xx: bad input is never a 5xx), and an
//! accepted request is within the item count and decompression limits, with at least one item
//! unless it is a header-only envelope (sent to the envelope endpoint, or to store labelled as
//! an envelope); where ingest says an item lies in the decoded body (the store keeps only that
//! place), its payload is there, after its header line when it says so; and the body is stored
//! with an encoding that decodes it.
#![no_main]

use std::collections::HashMap;

use bytes::Bytes;
use fake_sentry::fuzzing::{
    decode_body, ingest_minidump, ingest_security, ingest_store, ingest_store_get,
    parse_content_encoding,
};
use fake_sentry::{Endpoint, IngestRequest, Limits, ingest_envelope};
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/x-sentry-envelope"),
    Some("application/json"),
    Some("text/plain;charset=UTF-8"),
    Some("application/x-www-form-urlencoded"),
    Some("application/csp-report"),
    Some("application/reports+json"),
    Some("multipart/form-data; boundary=fuzzboundary"),
    Some("multipart/form-data"),
    Some("application/octet-stream"),
];

const CONTENT_ENCODINGS: &[Option<&str>] = &[
    None,
    Some("gzip"),
    Some("deflate"),
    Some("br"),
    Some("zstd"),
    Some("UTF-8"),
    Some("gzip, br"),
    Some("compress"),
];

fn pick<'a>(choices: &[Option<&'a str>], byte: u8) -> Option<&'a str> {
    choices[usize::from(byte) % choices.len()]
}

/// Small limits, so that oversized input is found cheaply.
fn limits() -> Limits {
    Limits {
        max_request_body: 1 << 20,
        max_decompressed: 1 << 20,
        max_event_item: 64 << 10,
        max_attachment: 256 << 10,
        max_check_in: 16 << 10,
        max_client_report: 4 << 10,
        max_profile: 256 << 10,
        max_replay: 256 << 10,
        max_items_per_envelope: 100,
        max_sessions: 10,
        max_other_item: 64 << 10,
        // Below serde_json's own 128, so that the depth scan is fuzzed too.
        max_json_depth: 16,
        ..Limits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let [endpoint, content_type, content_encoding, body @ ..] = data else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-sentry-auth",
        HeaderValue::from_static(
            "Sentry sentry_version=7, sentry_key=public, sentry_client=fuzz/1",
        ),
    );
    if let Some(value) = pick(CONTENT_TYPES, *content_type) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
    }
    if let Some(value) = pick(CONTENT_ENCODINGS, *content_encoding) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(value));
    }
    let mut request = IngestRequest {
        endpoint: Endpoint::Envelope,
        project_id: 1,
        headers,
        query: HashMap::new(),
        body: Bytes::copy_from_slice(body),
        received_at_ms: 0,
        charge: Default::default(),
    };
    let limits = limits();
    let required = ["public".to_string()];

    // The store endpoint hands a body labelled as an envelope to envelope ingest, as Relay does.
    let envelope_path = endpoint % 5 == 0
        || (endpoint % 5 == 1
            && pick(CONTENT_TYPES, *content_type) == Some("application/x-sentry-envelope"));
    let outcome = match endpoint % 5 {
        0 => ingest_envelope(&request, &limits, &required),
        1 => {
            request.endpoint = Endpoint::Store;
            ingest_store(&request, &limits, &required)
        }
        2 => {
            request.endpoint = Endpoint::Store;
            let data = String::from_utf8_lossy(body).into_owned();
            request.query.insert("sentry_data".into(), data);
            request.body = Bytes::new();
            ingest_store_get(&request, &limits, &required)
        }
        3 => {
            request.endpoint = Endpoint::Security;
            ingest_security(&request, &limits, &required)
        }
        _ => {
            request.endpoint = Endpoint::Minidump;
            futures::executor::block_on(ingest_minidump(&request, &limits, &required))
        }
    };

    match outcome {
        Ok(ingested) => {
            let envelope = ingested.envelope;
            // An envelope of only a header line is accepted and kept as an envelope without
            // items, on the envelope endpoint and on store with an envelope content type (both
            // found by this target); the other endpoints always build at least one.
            assert!(
                !envelope.items.is_empty() || envelope_path,
                "an accepted request stored no item"
            );
            assert!(envelope.items.len() <= limits.max_items_per_envelope);
            assert!(envelope.decoded_size <= limits.max_decompressed);
            // What is stored must read back: the encoding it is kept with parses, and the body
            // kept decodes with it (a store GET once kept a header it never decoded).
            let encodings = parse_content_encoding(envelope.content_encoding.as_deref())
                .expect("an accepted request's stored encoding parses");
            let decoded = decode_body(&envelope.body, &encodings, limits.max_decompressed)
                .expect("an accepted request's stored body decodes");
            for item in &envelope.items {
                let Some(place) = &item.in_body else {
                    continue;
                };
                let range = place.payload.clone();
                assert_eq!(decoded.get(range.clone()), Some(&item.payload[..]));
                if place.header_line_before {
                    assert_eq!(decoded.get(range.start.wrapping_sub(1)), Some(&b'\n'));
                }
            }
        }
        Err(err) => {
            let status = err.status();
            assert!(
                status.is_client_error(),
                "bad input answered {status}: {err}"
            );
        }
    }
});
