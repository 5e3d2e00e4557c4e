//! The minidump endpoint's multipart form on arbitrary bodies: `upload_file_minidump`, the
//! `sentry` JSON field, `sentry[a][b]…` bracket fields, other fields and files. The input is the
//! body of a `multipart/form-data; boundary=fuzzboundary` request (the seeds are readable forms;
//! `minidump_form.dict` gives the mutator the form's tokens, and `minidump_form.options` raises
//! `-max_len` to 1 MiB so a bracket path can be hundreds of thousands of levels deep).
//!
//! Nesting is checked on the stored event rather than left to a stack overflow: without a
//! sanitizer, libFuzzer cannot catch an overflow (the process dies with SIGSEGV and no
//! reproducer is saved). So ingest runs on a thread with a stack far larger than any input can
//! need, and the event it stores must be at most `MAX_EVENT_DEPTH` deep. Unbounded bracket
//! paths (60,000 levels overflowed a server worker) fail that with a reproducer.
//!
//! Invariants: no panic; a refusal is a client error (4xx); an accepted form stores an event (a
//! JSON object no deeper than `MAX_EVENT_DEPTH`, with an event id) followed by the minidump
//! attachment, which starts with the minidump signature.
#![no_main]

use std::collections::HashMap;

use bytes::Bytes;
use fake_sentry::fuzzing::ingest_minidump;
use fake_sentry::{Endpoint, IngestRequest, Limits};
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

/// Far more than ingest needs for any input up to `-max_len` (only the pages used are touched).
const STACK: usize = 512 * 1024 * 1024;

/// Deepest event a form may produce: a `sentry` JSON field is parsed with serde_json's limit of
/// 128 levels and bracket paths have their own, smaller, limit (`--max-form-depth`); twice the
/// former leaves room for either without tying the target to a default.
const MAX_EVENT_DEPTH: usize = 256;

/// Nesting depth of a JSON text, without parsing it into a tree (which would recurse).
fn json_depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Small size limits, so that oversized parts are found cheaply; everything else (nesting,
/// counts) at the server's defaults.
fn limits() -> Limits {
    Limits {
        max_request_body: 2 << 20,
        max_decompressed: 2 << 20,
        max_event_item: 1 << 20,
        max_attachment: 1 << 20,
        ..Limits::default()
    }
}

fn check(body: &[u8]) {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=fuzzboundary"),
    );
    let request = IngestRequest {
        endpoint: Endpoint::Minidump,
        project_id: 1,
        headers,
        query: HashMap::from([("sentry_key".to_string(), "public".to_string())]),
        body: Bytes::copy_from_slice(body),
        received_at_ms: 0,
        charge: Default::default(),
    };
    let limits = limits();
    let outcome = futures::executor::block_on(ingest_minidump(&request, &limits, &[]));
    let ingested = match outcome {
        Ok(ingested) => ingested,
        Err(err) => {
            let status = err.status();
            assert!(
                status.is_client_error(),
                "bad input answered {status}: {err}"
            );
            return;
        }
    };
    let items = &ingested.envelope.items;
    assert!(
        items.len() >= 2,
        "an accepted form stored {} items",
        items.len()
    );
    assert_eq!(items[0].item_type, "event");
    let event = &items[0].payload;
    assert!(
        event.starts_with(b"{") && event.ends_with(b"}"),
        "the event is not a JSON object"
    );
    let depth = json_depth(event);
    assert!(
        depth <= MAX_EVENT_DEPTH,
        "the stored event is {depth} levels deep"
    );
    // A `sentry[event_id]` field is kept as sent (lower-cased), whatever it holds.
    assert!(ingested.event_id.is_some(), "no event id");
    assert_eq!(items[1].item_type, "attachment");
    let dump = &items[1].payload;
    assert!(dump.starts_with(b"MDMP") || dump.starts_with(b"PMDM"));
    assert!(dump.len() <= limits.max_attachment);
}

fuzz_target!(|data: &[u8]| {
    let worker = std::thread::Builder::new().stack_size(STACK);
    std::thread::scope(|scope| {
        let handle = match worker.spawn_scoped(scope, || check(data)) {
            Ok(handle) => handle,
            Err(err) => panic!("could not start the ingest thread: {err}"),
        };
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    });
});
