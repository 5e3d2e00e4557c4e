//! Envelopes built from arbitrary item types and payloads (newlines and binary bytes included)
//! come back from `parse(to_bytes())` exactly: same types, same payloads, no framing errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentry_envelope::{Envelope, EnvelopeItem, parse};
use serde_json::{Map, Value};

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    event_id: Option<String>,
    items: Vec<(String, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mut header = Map::new();
    if let Some(id) = &input.event_id {
        header.insert("event_id".into(), Value::from(id.as_str()));
    }
    let mut envelope = Envelope::new(header);
    envelope.items = input
        .items
        .iter()
        .map(|(item_type, payload)| EnvelopeItem::new(item_type.as_str(), payload.as_slice()))
        .collect();

    let parsed = match parse(&envelope.to_bytes()) {
        Ok(parsed) => parsed,
        Err(err) => panic!("a serialised envelope does not parse: {err}"),
    };
    assert_eq!(parsed.header, envelope.header);
    assert_eq!(parsed.event_id(), input.event_id.as_deref());
    assert_eq!(parsed.items.len(), envelope.items.len());
    for (built, read) in envelope.items.iter().zip(&parsed.items) {
        assert_eq!(read.item_type, built.item_type);
        assert_eq!(read.payload, built.payload);
        assert_eq!(read.framing_error, None);
    }
});
