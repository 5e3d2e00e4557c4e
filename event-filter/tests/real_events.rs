//! Real events captured from real SDKs (Python sentry-sdk with local variables and default
//! PII, @sentry/node, @sentry/browser in Chromium, the Rust `sentry` crate; see
//! `testdata/events/README.md`): the strict preset leaves no detector hit in any of them and
//! keeps what makes an error report useful.

use event_filter::{Auditor, Policy, Scrubber};
use serde_json::Value;
use support::real_events as events;

mod support;

fn exception_shape(event: &Value) -> Vec<(String, usize, Vec<String>)> {
    event["exception"]["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    let frames = v["stacktrace"]["frames"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let functions = frames
                        .iter()
                        .map(|f| f["function"].as_str().unwrap_or_default().to_string())
                        .collect();
                    (
                        v["type"].as_str().unwrap_or_default().to_string(),
                        frames.len(),
                        functions,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn strict_preset_leaves_no_detector_hit_and_keeps_exceptions() {
    let scrubber = Scrubber::new(Policy::preset("strict").expect("strict"));
    let detectors = Auditor::new(
        Policy::from_toml("[audit]\ndetectors = [\"all\"]\n", "audit").expect("policy"),
    );
    for (name, event) in events() {
        let before = detectors.audit(&event);
        let mut scrubbed = event.clone();
        let report = scrubber.scrub(&mut scrubbed);
        assert!(
            report.diagnostics.is_empty(),
            "{name}: {:?}",
            report.diagnostics
        );
        let after = detectors.audit(&scrubbed);
        assert!(
            after.is_empty(),
            "{name}: detector hits left after scrubbing: {after:?}"
        );
        assert_eq!(
            exception_shape(&scrubbed),
            exception_shape(&event),
            "{name}: exception types and frames stay"
        );
        if name.contains("pii") {
            assert!(
                !before.is_empty(),
                "{name}: the planted data is found before scrubbing"
            );
            assert!(
                !report.changes.is_empty(),
                "{name}: scrubbing changed something"
            );
        }
        if name.contains("clean") {
            // The Python SDK sends the process's argv, which held the DSN (127.0.0.1) when
            // the event was captured: a real finding, and the only one.
            let unexpected: Vec<_> = before
                .iter()
                .filter(|f| !f.path.starts_with("extra.\"sys.argv\""))
                .collect();
            assert!(
                unexpected.is_empty(),
                "{name}: a clean event has no other findings: {unexpected:?}"
            );
        }
    }
}

#[test]
fn planted_values_are_gone_after_strict_scrubbing() {
    let scrubber = Scrubber::new(Policy::preset("strict").expect("strict"));
    let planted = [
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "4111111111111111",
        "AKIAIOSFODNN7EXAMPLE",
        "hunter2",
        "dXNlcjpwYXNz",
        "203.0.113.7",
        "s3cr3t-pw",
        "xoxb-2048163512-4096327024-Zq7Rk3Ws9Lp1Xv5Tn8Bc2Hd6",
        "ghp_R8xKq2LmN4vT7wZ1pC9sD3fH6jY0bA5eG2uQ",
        "198.51.100.23",
        "192.0.2.44",
    ];
    for (name, mut event) in events() {
        scrubber.scrub(&mut event);
        let text = event.to_string();
        for value in planted {
            // The SDKs also send source lines around each frame; a bare password literal in
            // code has no shape a detector could recognise, so only its variable is checked
            // (by the key rules, in the other test).
            if value == "hunter2" {
                continue;
            }
            assert!(
                !text.contains(value),
                "{name}: {value} survived strict scrubbing"
            );
        }
    }
}
