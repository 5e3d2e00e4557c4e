//! The scrubber against hand-made events: every action, detectors inside strings, presets,
//! failure handling, and properties over arbitrary JSON.
//!
//! Where the exact output is the point (a preset's whole scrubbed event, a report, audit
//! findings) it is an `insta` snapshot in `tests/snapshots/`; the rules (what must be scrubbed,
//! that excerpts never carry the value) stay explicit asserts.

use event_filter::{Auditor, Policy, Scrubber};
use proptest::prelude::*;
use serde_json::{Value, json};

fn policy(toml: &str) -> Policy {
    Policy::from_toml(toml, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn python_like_event() -> Value {
    json!({
        "event_id": "0123456789abcdef0123456789abcdef",
        "level": "error",
        "message": "login failed for jane.doe@example.com from 203.0.113.7",
        "exception": {"values": [{
            "type": "ValueError",
            "value": "bad password",
            "stacktrace": {"frames": [
                {"function": "login", "vars": {"username": "jdoe", "password": "hunter2", "attempt": 3}},
                {"function": "check", "vars": {"Password": "not a frame-local match", "token": "abc"}}
            ]}
        }]},
        "request": {
            "url": "https://user:pw@shop.example.com/checkout?token=abc123&page=2#frag",
            "query_string": "token=abc123&page=2",
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Cookie": "sessionid=s3ss10n; theme=dark"},
            "cookies": {"sessionid": "s3ss10n", "theme": "dark"}
        },
        "user": {"email": "jane.doe@example.com", "id": "42"},
        "extra": {"card": "4111 1111 1111 1111", "n": 7}
    })
}

#[test]
fn fillmore_preset_scrubs_frame_locals_only() {
    let mut event = python_like_event();
    let report = Scrubber::new(Policy::preset("fillmore").expect("preset")).scrub(&mut event);
    let vars = &event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"];
    assert_eq!(vars["username"], "[Scrubbed]");
    assert_eq!(vars["password"], "[Scrubbed]");
    assert_eq!(vars["attempt"], 3);
    assert_eq!(
        event["user"]["email"], "jane.doe@example.com",
        "not Fillmore's business"
    );
    insta::assert_json_snapshot!(json!({"event": event, "report": report}));
}

#[test]
fn python_sdk_preset_matches_keys_case_insensitively() {
    let mut event = python_like_event();
    Scrubber::new(Policy::preset("python-sdk").expect("preset")).scrub(&mut event);
    assert_eq!(event["request"]["headers"]["Authorization"], "[Filtered]");
    assert_eq!(event["request"]["headers"]["Cookie"], "[Filtered]");
    let vars = &event["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"];
    assert_eq!(vars["Password"], "[Filtered]");
    assert_eq!(vars["token"], "[Filtered]");
    insta::assert_json_snapshot!(event);
}

#[test]
fn detectors_replace_only_what_they_find() {
    let mut event = python_like_event();
    let report = Scrubber::new(policy(
        "[[rule]]\ndetectors = [\"email\", \"ipv4\"]\naction = \"mask\"\n",
    ))
    .scrub(&mut event);
    assert_eq!(
        event["message"],
        "login failed for [Filtered] from [Filtered]"
    );
    assert_eq!(event["user"]["email"], "[Filtered]");
    // Each change names its detector.
    insta::assert_json_snapshot!(report);
    assert!(
        report
            .changes
            .iter()
            .all(|c| !c.excerpt.to_string().contains("jane.doe@example.com")),
        "excerpts are redacted"
    );
}

#[test]
fn meta_remarks_record_each_change_where_sentry_looks_for_them() {
    let scrubber = Scrubber::new(policy(
        r#"
        meta_remarks = true
        [[rule]]
        name = "frame passwords"
        path = "**.password"
        action = "remove"
        [[rule]]
        name = "emails"
        detectors = ["email"]
        action = "hash"
        key = "k"
        "#,
    ));
    let mut event = python_like_event();
    event["_meta"] = json!({"extra": {"x": {"": {"len": 9}}}});
    let report = scrubber.scrub(&mut event);
    assert!(!report.changes.is_empty());
    let meta = &event["_meta"];
    assert_eq!(
        meta["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]["password"][""]["rem"],
        json!([["frame passwords", "x"]])
    );
    assert_eq!(meta["message"][""]["rem"], json!([["emails", "p"]]));
    // What the SDK already recorded is kept, and the `**.password` rule left `_meta` alone.
    assert_eq!(meta["extra"]["x"][""]["len"], 9);
    insta::assert_json_snapshot!(meta);
    // Scrubbing again changes nothing, remarks included.
    let once = event.clone();
    let again = scrubber.scrub(&mut event);
    assert!(again.changes.is_empty(), "{again:?}");
    assert_eq!(event, once);

    // Off by default: no `_meta` appears.
    let mut plain = python_like_event();
    Scrubber::new(policy("[[rule]]\npath = \"message\"\naction = \"mask\"\n")).scrub(&mut plain);
    assert!(plain.get("_meta").is_none());
}

#[test]
fn remove_deletes_keys_and_array_elements() {
    let mut event = python_like_event();
    Scrubber::new(policy("[[rule]]\npath = \"exception.values.*.stacktrace.frames.*.vars\"\naction = \"remove\"\n\n[[rule]]\npath = \"request.cookies\"\naction = \"remove\"\n")).scrub(&mut event);
    let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    assert!(frames.iter().all(|f| f.get("vars").is_none()));
    assert_eq!(frames.len(), 2, "frames themselves stay");
    assert!(event["request"].get("cookies").is_none());
}

#[test]
fn hashing_keeps_equal_values_correlatable() {
    let mut event = python_like_event();
    Scrubber::new(policy("[[rule]]\npath = \"user.email\"\naction = \"hash\"\nkey = \"k1\"\n\n[[rule]]\ndetectors = [\"email\"]\naction = \"hash\"\nkey = \"k1\"\n")).scrub(&mut event);
    let hashed = event["user"]["email"].as_str().expect("string").to_string();
    assert!(hashed.starts_with("hmac-sha256:"), "{hashed}");
    assert!(
        event["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&hashed),
        "the same email hashes the same: {event}"
    );
}

#[test]
fn query_cookie_and_url_actions() {
    let mut event = python_like_event();
    Scrubber::new(Policy::preset("strict").expect("preset")).scrub(&mut event);
    let request = &event["request"];
    assert!(
        !request["query_string"]
            .as_str()
            .unwrap_or_default()
            .contains("abc123"),
        "{request}"
    );
    assert_eq!(
        request["query_string"], "token=[Filtered]&page=[Filtered]",
        "strict masks every value, keeps names"
    );
    let url = request["url"].as_str().unwrap_or_default();
    assert!(
        !url.contains("pw@") && !url.contains("abc123") && !url.contains("frag"),
        "{url}"
    );
    assert_ne!(request["cookies"]["sessionid"], "s3ss10n");
    assert_eq!(
        event["exception"]["values"][0]["type"], "ValueError",
        "exception types stay"
    );
    insta::assert_json_snapshot!(event);
}

#[test]
fn a_failing_rule_marks_the_value_and_keeps_the_event() {
    let mut event = python_like_event();
    let report = Scrubber::new(policy(
        "[[rule]]\nname = \"wrong type\"\npath = \"extra.n\"\naction = \"scrub_query\"\n\n[[rule]]\npath = \"extra.card\"\naction = \"mask\"\n",
    ))
    .scrub(&mut event);
    assert_eq!(event["extra"]["n"], event_filter::ERROR_MARKER);
    assert_eq!(report.diagnostics.len(), 1, "{report:?}");
    assert_eq!(report.diagnostics[0].rule, "wrong type");
    assert_eq!(
        event["extra"]["card"], "[Filtered]",
        "later rules still ran"
    );
    assert_eq!(event["level"], "error");
    insta::assert_json_snapshot!(report.diagnostics);
}

#[test]
fn auditor_reports_rules_detectors_and_allowlist_without_values() {
    let event = python_like_event();
    let auditor = Auditor::new(policy(
        "[[rule]]\npath = \"user.email\"\naction = \"mask\"\n\n[audit]\ndetectors = [\"credit_card\"]\nallow = [\"event_id\", \"level\", \"message\", \"exception.**\", \"request.**\", \"user.**\"]\n",
    ));
    let findings = auditor.audit(&event);
    // The rule on user.email, the credit card detector in extra.card, extra.n off the allowlist.
    insta::assert_json_snapshot!(findings);
    for f in &findings {
        assert!(
            !f.excerpt.contains("jane.doe") && !f.excerpt.contains("4111 1111"),
            "{f:?}"
        );
    }
    assert_eq!(event, python_like_event(), "auditing changes nothing");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            "[a-z ]{0,12}",
            "[a-z]{1,8}@[a-z]{1,8}\\.(com|org)",
            "(10|192|203)\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            Just("4111 1111 1111 1111".to_string()),
            Just("Bearer abcdefghijklmnop".to_string()),
            Just("AKIAABCDEFGHIJKLMNOP".to_string()),
            ".{0,20}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,8}",
                    Just("password".to_string()),
                    Just("headers".to_string()),
                    Just("Cookie".to_string())
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn strict_scrubbing_is_idempotent_and_leaves_no_detector_hit(event in arb_json()) {
        let scrubber = Scrubber::new(Policy::preset("strict").expect("preset"));
        let mut once = event.clone();
        let first = scrubber.scrub(&mut once);
        prop_assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
        let mut twice = once.clone();
        scrubber.scrub(&mut twice);
        prop_assert_eq!(&once, &twice);
        let auditor = Auditor::new(policy("[audit]\ndetectors = [\"all\"]\n"));
        let left = auditor.audit(&once);
        prop_assert!(left.is_empty(), "detector hits after scrubbing: {:?}", left);
    }

    #[test]
    fn unselected_paths_are_unchanged(event in arb_json()) {
        let mut scrubbed = event.clone();
        Scrubber::new(policy("[[rule]]\npath = \"zzz_never.**\"\naction = \"mask\"\n")).scrub(&mut scrubbed);
        prop_assert_eq!(scrubbed, event);
    }

    #[test]
    fn every_action_on_arbitrary_json_keeps_the_event(event in arb_json()) {
        for action in ["remove", "mask", "mask_keep\nkeep = 2", "hash\nkey = \"k\"", "scrub_query", "scrub_cookies", "strip_url", "replace\npattern = \"[0-9]\""] {
            let mut scrubbed = event.clone();
            let source = format!("[[rule]]\nname = \"r\"\npath = \"**\"\naction = \"{}", action.replacen('\n', "\"\n", 1) + if action.contains('\n') { "" } else { "\"" });
            let report = Scrubber::new(policy(&source)).scrub(&mut scrubbed);
            // The event survives: the root keeps its kind, and a rule that failed left its
            // marker exactly where its diagnostic says, not a hole or the original value.
            prop_assert_eq!(std::mem::discriminant(&scrubbed), std::mem::discriminant(&event));
            for diagnostic in &report.diagnostics {
                prop_assert_eq!(&diagnostic.rule, "r");
                let at: event_filter::path::PathSelector = diagnostic.path.parse().expect("diagnostic paths parse");
                let mut found = Vec::new();
                at.for_each_match_ref(&scrubbed, &mut |_, v| found.push(v.clone()));
                prop_assert_eq!(found, vec![Value::String(event_filter::ERROR_MARKER.into())], "{:?}", diagnostic);
            }
        }
    }
}
