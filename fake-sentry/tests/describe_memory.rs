//! Describing a large JSON item (a profile, a JSON attachment, an unknown type) reads the few
//! fields the listing needs without building a `serde_json::Value` of the whole payload: such
//! items may be 50-100 MiB, and a value tree takes about ten times its text in memory, outside
//! what the in-flight budget charges. Counted by a global allocator (bytes allocated during the
//! call, freed or not), not timed. One test per binary: other tests' threads would be counted.

use std::alloc::System;

use cap::Cap;
use fake_sentry::{EnvelopeContext, describe};
use serde_json::{Map, Value, json};

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

/// A JSON document of about `mib` MiB: an object with the listing fields first, then `bulk`.
fn profile(mib: usize) -> Vec<u8> {
    let sample = r#"{"stack_id":7,"thread_id":"1","elapsed_since_start_ns":"123456789"},"#;
    let count = mib * 1024 * 1024 / sample.len();
    let mut doc = Vec::with_capacity(count * sample.len() + 512);
    doc.extend_from_slice(
        br#"{"event_id":"0123456789abcdef0123456789abcdef","platform":"python","release":"app@2","environment":"prod","timestamp":"2026-11-26T00:00:00Z","profile":{"samples":["#,
    );
    for _ in 0..count {
        doc.extend_from_slice(sample.as_bytes());
    }
    doc.pop();
    doc.extend_from_slice(br#"]}}"#);
    doc
}

#[test]
fn large_json_items_are_described_without_a_value_tree() {
    let document = profile(40);
    let mut array = b"[".to_vec();
    array.extend_from_slice(&document);
    array.extend_from_slice(b",1]");
    let envelope_header: Map<String, Value> =
        serde_json::from_value(json!({"event_id": "fedcba9876543210fedcba9876543210"})).unwrap();
    let json_attachment: Map<String, Value> =
        serde_json::from_value(json!({"content_type": "application/json", "filename": "a.json"}))
            .unwrap();
    let context = EnvelopeContext {
        header: Some(&envelope_header),
        client: None,
    };
    let cases: [(&str, &Map<String, Value>, &[u8]); 4] = [
        ("profile", &Map::new(), &document),
        ("profile_chunk", &Map::new(), &array),
        ("attachment", &json_attachment, &document),
        ("some_future_type", &Map::new(), &document),
    ];
    for (item_type, header, payload) in cases {
        let before = HEAP.total_allocated();
        let meta = describe(item_type, header, payload, context);
        let allocated = HEAP.total_allocated() - before;
        assert!(
            allocated < 256 * 1024,
            "describing a {} MiB {item_type} allocated {allocated} bytes",
            payload.len() >> 20
        );
        assert!(meta.is_json, "{item_type}");
        assert_eq!(meta.decode_error, None, "{item_type}");
        match (item_type, payload.first()) {
            // An attachment's content is the application's: nothing is read from it.
            ("attachment", _) => {
                assert_eq!(meta.platform, None);
                assert_eq!(
                    meta.event_id.as_deref(),
                    Some("fedcba9876543210fedcba9876543210")
                );
            }
            (_, Some(b'[')) => assert_eq!(meta.platform, None),
            _ => {
                assert_eq!(
                    (meta.platform.as_deref(), meta.release.as_deref()),
                    (Some("python"), Some("app@2"))
                );
                assert_eq!(
                    meta.event_id.as_deref(),
                    Some("0123456789abcdef0123456789abcdef")
                );
                assert_eq!(meta.environment.as_deref(), Some("prod"));
            }
        }
    }
    // Still checked as JSON: one bad byte at the end is a decode error.
    let mut broken = document.clone();
    broken.push(b',');
    let meta = describe("profile", &Map::new(), &broken, context);
    assert!(!meta.is_json);
    assert!(
        meta.decode_error
            .is_some_and(|e| e.contains("invalid JSON"))
    );
}
