//! The `event-filter` command: scrub and audit JSON events and envelopes, check policies.
//!
//! What the command prints (scrubbed events, reports in each format, policy errors, diffs) is
//! an `insta` snapshot in `tests/snapshots/`, with this run's temporary folder shown as `[tmp]`.
//! Exit codes and that no value leaks into a report stay explicit asserts.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn event_filter(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_event-filter"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run event-filter");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// This run's folder for input files.
fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("event-filter-cli-{}", std::process::id()))
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

/// Snapshot settings for this file: the temporary folder (its name holds the process id) as
/// `[tmp]`. Nothing else the command prints changes from run to run.
fn snapshots() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let dir = temp_dir().display().to_string();
    let literal: String = dir
        .chars()
        .flat_map(|c| {
            let escape = !c.is_ascii_alphanumeric() && c != '-' && c != '_';
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect();
    settings.add_filter(&literal, "[tmp]");
    settings
}

const EVENT: &str = r#"{"message": "mail jane.doe@example.com", "extra": {"password": "hunter2"}, "level": "error"}"#;

#[test]
fn scrub_reads_stdin_and_writes_the_scrubbed_event() {
    let out = event_filter(&["scrub", "--preset", "strict"], Some(EVENT.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scrubbed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON out");
    assert_eq!(scrubbed["extra"]["password"], "[Filtered]");
    assert_eq!(scrubbed["message"], "mail [Filtered]");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        !report.contains("hunter2"),
        "the report does not leak the value: {report}"
    );
    insta::assert_snapshot!("scrub_stdin_event", String::from_utf8_lossy(&out.stdout));
    // The report names each path.
    insta::assert_snapshot!("scrub_stdin_report", report);
}

#[test]
fn scrub_and_audit_whole_envelopes() {
    let envelope = b"{\"event_id\":\"0123456789abcdef0123456789abcdef\"}\n{\"type\":\"event\"}\n{\"message\":\"from jane.doe@example.com\"}\n{\"type\":\"attachment\",\"length\":3,\"filename\":\"a\"}\nabc\n";
    let file = temp_file("envelope.bin", envelope);
    let out = event_filter(
        &["scrub", "--preset", "strict", file.to_str().expect("path")],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("jane.doe@example.com"), "{text}");
    // The event scrubbed; the attachment passes through.
    snapshots().bind(|| insta::assert_snapshot!("scrub_envelope", text));
    let scrubbed = temp_file("scrubbed.bin", &out.stdout);
    let audit = event_filter(
        &[
            "audit",
            "--preset",
            "strict",
            scrubbed.to_str().expect("path"),
        ],
        None,
    );
    assert!(
        audit.status.success(),
        "the scrubbed envelope audits clean: {}",
        String::from_utf8_lossy(&audit.stdout)
    );
    let audit = event_filter(
        &["audit", "--preset", "strict", file.to_str().expect("path")],
        None,
    );
    assert_eq!(audit.status.code(), Some(1), "findings exit 1");
}

#[test]
fn audit_formats() {
    let file = temp_file("event.json", EVENT.as_bytes());
    let path = file.to_str().expect("path");
    let _settings = snapshots().bind_to_scope();
    let human = event_filter(&["audit", "--preset", "strict", path], None);
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(!text.contains("hunter2"), "{text}");
    insta::assert_snapshot!("audit_human", text);
    let json = event_filter(
        &["audit", "--preset", "strict", "--format", "json", path],
        None,
    );
    assert_eq!(json.status.code(), Some(1));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    insta::assert_json_snapshot!("audit_json", parsed);
    let junit = event_filter(
        &["audit", "--preset", "strict", "--format", "junit", path],
        None,
    );
    assert_eq!(junit.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(!xml.contains("hunter2"), "{xml}");
    insta::assert_snapshot!("audit_junit", xml);
    let clean = temp_file("clean.json", br#"{"message": "all fine", "level": "info"}"#);
    let ok = event_filter(
        &[
            "audit",
            "--preset",
            "strict",
            "--format",
            "junit",
            clean.to_str().expect("path"),
        ],
        None,
    );
    assert!(ok.status.success());
    insta::assert_snapshot!("audit_junit_clean", String::from_utf8_lossy(&ok.stdout));
}

#[test]
fn check_policy_reports_line_and_column() {
    let good = temp_file("good.toml", b"extends = \"strict\"\n");
    let out = event_filter(&["check-policy", good.to_str().expect("path")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = temp_file("bad.toml", b"[[rule]]\npath = \"a\"\naction = \"nuke\"\n");
    let out = event_filter(&["check-policy", bad.to_str().expect("path")], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // file:line:column: message
    snapshots().bind(|| insta::assert_snapshot!("check_policy_unknown_action", err));
}

#[test]
fn relay_pii_configs_are_policies_too() {
    let relay = temp_file(
        "relay.json",
        br#"{"rules": {"order": {"type": "pattern", "pattern": "ORD-[0-9]{6}",
                                "redaction": {"method": "replace", "text": "[order]"}}},
            "applications": {"$string": ["@email", "order"], "!extra.safe": ["@ip", "@nope"]}}"#,
    );
    let path = relay.to_str().expect("path");
    let out = event_filter(&["check-policy", path], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _settings = snapshots().bind_to_scope();
    // Two selectors, three rules, and a note for the rule that does not exist.
    insta::assert_snapshot!("check_policy_relay", String::from_utf8_lossy(&out.stdout));

    let event = br#"{"message": "ORD-123456 for bob@example.com"}"#;
    let out = event_filter(&["scrub", "--policy", path, "-"], Some(event));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scrubbed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON out");
    assert_eq!(scrubbed["message"], "[order] for [email]");

    let broken = temp_file(
        "broken.json",
        b"{\n  \"rules\": {\"r\": {\"type\": \"nope\"}},\n  \"applications\": {\"$string\": [\"r\"]}\n}",
    );
    let out = event_filter(&["check-policy", broken.to_str().expect("path")], None);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        "check_policy_relay_unknown_rule",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shape_snapshots_and_diffs_across_an_sdk_upgrade() {
    let old = temp_file("old.json", br#"{"event_id": "a", "level": "error", "contexts": {"runtime": {"name": "CPython"}}, "timestamp": 1}"#);
    let new = temp_file("new.json", br#"{"event_id": "b", "level": "error", "contexts": {"runtime": {"name": "CPython", "build": "3.12"}}, "timestamp": 2}"#);
    let (old, new) = (old.to_str().expect("path"), new.to_str().expect("path"));
    // Only volatile fields differ in these two: no difference.
    let same = temp_file("same.json", br#"{"event_id": "c", "level": "error", "contexts": {"runtime": {"name": "CPython"}}, "timestamp": 3}"#);
    let out = event_filter(&["diff", old, same.to_str().expect("path")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _settings = snapshots().bind_to_scope();
    // contexts.runtime.build is new; event_id and timestamp are volatile, not a difference.
    let out = event_filter(&["diff", old, new], None);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("diff_events", String::from_utf8_lossy(&out.stdout));

    let shape_old = event_filter(&["shape", old], None);
    let shape_new = event_filter(&["shape", new], None);
    assert!(shape_old.status.success());
    insta::assert_snapshot!("shape_old", String::from_utf8_lossy(&shape_old.stdout));
    let snapshot_old = temp_file("old.shape.json", &shape_old.stdout);
    let snapshot_new = temp_file("new.shape.json", &shape_new.stdout);
    let out = event_filter(
        &[
            "diff",
            snapshot_old.to_str().expect("path"),
            snapshot_new.to_str().expect("path"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("diff_shapes", String::from_utf8_lossy(&out.stdout));
}
