//! Relay PII configs (JSON) imported as policies on arbitrary text: importing never panics, and
//! an imported policy can scrub and audit a real captured event without panicking.
#![no_main]

use event_filter::relay::import;
use event_filter::{Auditor, Scrubber};
use libfuzzer_sys::fuzz_target;

const EVENT: &str = include_str!("../../testdata/events/python-pii.json");

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imported) = import(source, "fuzz.json") else {
        return;
    };
    let event: serde_json::Value = serde_json::from_str(EVENT).expect("testdata event is JSON");
    let _ = Auditor::new(imported.policy.clone()).audit(&event);
    let mut scrubbed = event;
    let report = Scrubber::new(imported.policy).scrub(&mut scrubbed);
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("panicked"))
    );
});
