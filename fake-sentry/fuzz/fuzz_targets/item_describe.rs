//! Per-item decoding on arbitrary payloads: `item::describe` (summary and listing fields of any
//! item type), `item::schema_note` and `ingest::fix_non_finite_json` never panic, and fixing
//! leaves JSON that was already valid untouched. Input: the item type on the first line.
#![no_main]

use fake_sentry::fuzzing::{fix_non_finite_json, schema_note};
use fake_sentry::{EnvelopeContext, describe};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let (item_type, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (
            String::from_utf8_lossy(&data[..newline]),
            &data[newline + 1..],
        ),
        None => ("event".into(), data),
    };
    let _ = describe(&item_type, &Map::new(), payload, EnvelopeContext::default());
    let _ = schema_note(&item_type, payload);

    let fixed = fix_non_finite_json(payload);
    if serde_json::from_slice::<Value>(payload).is_ok() {
        assert_eq!(fixed, payload, "valid JSON was rewritten");
    }
});
