//! A built-in preset applied to arbitrary JSON events and envelopes, as the CLI and fake-sentry's
//! `--scrub` do. Input: the first byte picks the preset, the rest is the document.
//!
//! Invariants: no panic (the scrubber also catches one per rule, so a "rule panicked"
//! diagnostic fails too); a payload reported unchanged is unchanged (every change is reported);
//! the auditor agrees there is a finding wherever the scrubber changed something; and the
//! scrubbed document still parses as the same kind of document.
#![no_main]

use std::sync::OnceLock;

use event_filter::presets;
use event_filter::{Auditor, Document, Scrubber};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn presets() -> &'static [(Scrubber, Auditor)] {
    static PRESETS: OnceLock<Vec<(Scrubber, Auditor)>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        presets::NAMES
            .iter()
            .map(|name| match presets::load(name) {
                Some(Ok(policy)) => (Scrubber::new(policy.clone()), Auditor::new(policy)),
                _ => panic!("preset {name} does not load"),
            })
            .collect()
    })
}

/// The event without Sentry's `_meta` remarks, which the scrubber may rewrite on its own.
fn without_meta(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(map) = value.as_object_mut() {
        map.remove("_meta");
    }
    value
}

fuzz_target!(|data: &[u8]| {
    let [choice, document @ ..] = data else {
        return;
    };
    let (scrubber, auditor) = &presets()[usize::from(*choice) % presets().len()];
    let Ok(mut document) = Document::parse(document) else {
        return;
    };
    let was_event = matches!(document, Document::Event(_));
    document.for_each_payload(&mut |label, payload| {
        let before = payload.clone();
        let report = scrubber.scrub(payload);
        for diagnostic in &report.diagnostics {
            assert!(
                !diagnostic.message.contains("panicked"),
                "{label}: rule {} panicked",
                diagnostic.rule
            );
        }
        if report.changes.is_empty() {
            assert_eq!(
                without_meta(payload),
                without_meta(&before),
                "{label}: unreported change"
            );
        } else {
            assert!(
                !auditor.audit(&before).is_empty(),
                "{label}: scrubbed but no finding"
            );
        }
    });
    let bytes = document.to_bytes();
    match Document::parse(&bytes) {
        Ok(again) => assert_eq!(matches!(again, Document::Event(_)), was_event),
        Err(err) => panic!("the scrubbed document does not parse: {err}"),
    }
});
