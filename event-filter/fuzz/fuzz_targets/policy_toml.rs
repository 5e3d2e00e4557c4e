//! Policy TOML on arbitrary text: parsing never panics (errors carry the location), and a
//! policy that parses can scrub and audit a real captured event without panicking.
#![no_main]

use event_filter::{Auditor, Policy, Scrubber};
use libfuzzer_sys::fuzz_target;

const EVENT: &str = include_str!("../../testdata/events/python-pii.json");

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_toml(source, "fuzz.toml") else {
        return;
    };
    let event: serde_json::Value = serde_json::from_str(EVENT).expect("testdata event is JSON");
    let _ = Auditor::new(policy.clone()).audit(&event);
    let mut scrubbed = event;
    let report = Scrubber::new(policy).scrub(&mut scrubbed);
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("panicked"))
    );
});
