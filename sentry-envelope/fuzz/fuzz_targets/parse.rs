//! `sentry_envelope::parse` on arbitrary bytes: it never panics, fails only on an empty body or
//! a first line that is not a JSON object, and whatever it parsed survives the canonical
//! serialisation: `parse(to_bytes(e))` has the same header keys, item types and payloads, with no
//! framing errors left (every item now carries its exact `length`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentry_envelope::{EnvelopeError, parse};

fuzz_target!(|data: &[u8]| {
    let envelope = match parse(data) {
        Ok(envelope) => envelope,
        Err(EnvelopeError::Empty) => {
            assert!(
                data.iter().all(u8::is_ascii_whitespace),
                "Empty for a non-blank body"
            );
            return;
        }
        Err(EnvelopeError::InvalidHeader(_)) => {
            let first_line = data.split(|&b| b == b'\n').next().unwrap_or_default();
            assert!(
                !matches!(
                    serde_json::from_slice::<serde_json::Value>(first_line),
                    Ok(serde_json::Value::Object(_))
                ),
                "InvalidHeader for a first line that is a JSON object"
            );
            return;
        }
    };

    let malformed = envelope
        .items
        .iter()
        .filter(|item| item.framing_error.is_some())
        .count();
    assert_eq!(envelope.framing_errors().len(), malformed);
    let payload_bytes: usize = envelope.items.iter().map(|item| item.payload.len()).sum();
    assert!(
        payload_bytes <= data.len(),
        "payloads hold more bytes than the body"
    );

    let bytes = envelope.to_bytes();
    let again = match parse(&bytes) {
        Ok(again) => again,
        Err(err) => panic!("the canonical serialisation does not parse: {err}"),
    };
    assert_eq!(
        again.header.keys().collect::<Vec<_>>(),
        envelope.header.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        again.items.len(),
        envelope.items.len(),
        "item count changed"
    );
    for (before, after) in envelope.items.iter().zip(&again.items) {
        assert_eq!(after.item_type, before.item_type);
        assert_eq!(after.payload, before.payload);
        assert_eq!(after.framing_error, None);
        assert_eq!(after.length(), Some(before.payload.len() as u64));
    }
});
