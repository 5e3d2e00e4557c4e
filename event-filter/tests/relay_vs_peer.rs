//! The Relay config import against Relay's own PII engine: every config of
//! `testdata/relay/configs/` on every event, once through sentry-relay 0.10.1's
//! `pii_strip_event` (run by `tests/relay_peer.py`) and once through
//! `event_filter::relay::import` + `Scrubber`. Relay normalises an event's shapes before it
//! scrubs (`message` becomes `logentry.formatted`, header objects become sorted `[name, value]`
//! pairs, ...), so both outputs go through Relay with no rules (`pii_strip_event({}, ·)`) and
//! are compared without `_meta`. Every case must be equal, except the few listed in
//! [`INTENDED`], each with its reason.
//!
//! The events: the real SDK events of `testdata/events/`, the event and transaction items of
//! the wire captures of `fake-sentry/testdata/captures/` (decoded by the driver, as
//! `presets_vs_peers.rs` does) and the crafted events of `testdata/relay/events/`.
//! `testdata/relay/README.md` says what each config and each crafted event exercises.
//!
//! The driver runs in `$UNDERSTUDY_RELAY_PYTHON`, else the workspace's `.clients/venv` (made by
//! `scripts/setup-test-clients`), one process for the whole comparison. Without it the test is
//! skipped with a note on stderr, or fails when every client is required
//! (`test_clients::skip_or_fail`'s rule). `RELAY_VS_PEER_ONLY=<substring>` keeps the cases whose
//! config or event name contains it.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use event_filter::Scrubber;
use serde_json::{Value, json};
use support::real_events;

mod support;

/// Cases whose difference is intended: (config file stem, event name, reason). Prefer none;
/// each one must still differ, so a fixed case leaves the list.
const INTENDED: &[(&str, &str, &str)] = &[];

/// The value types of Relay's other payloads and of raw bytes, whose configs
/// (`sel-<type>.json`, make_configs.py's `NOT_IN_EVENTS`) select nothing in an event.
const NOT_IN_EVENTS: &[&str] = &[
    "sel-binary",
    "sel-attachments",
    "sel-minidump",
    "sel-heap-memory",
    "sel-stack-memory",
    "sel-replay",
    "sel-log",
    "sel-trace-metric",
];

/// Configs that are in the corpus to show Relay leaving events alone (make_configs.py's
/// `CHANGES_NOTHING`: these and [`NOT_IN_EVENTS`]); every other config must change at least
/// one event in Relay.
const RELAY_CHANGES_NOTHING: &[&str] = &["sel-boolean", "sel-bool", "sel-datetime", "sel-event"];

/// Difference lines shown per case, and characters per value.
const PATHS_SHOWN: usize = 4;
const VALUE_CHARS: usize = 60;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The driver: one Python process, one JSON request per line, one reply per line.
struct Relay {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Relay {
    fn start(python: &Path) -> Self {
        let mut child = Command::new(python)
            .arg(manifest_dir().join("tests/relay_peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/relay_peer.py");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("driver stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request and reads its reply. The driver reads the whole line before it
    /// answers, so writing first and reading after cannot block both sides.
    fn ask(&mut self, request: &Value) -> Value {
        let stdin = self.stdin.as_mut().expect("driver stdin");
        let mut line = request.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .expect("write to tests/relay_peer.py");
        let mut reply = String::new();
        self.stdout
            .read_line(&mut reply)
            .expect("read from tests/relay_peer.py");
        assert!(
            !reply.is_empty(),
            "tests/relay_peer.py ended without a reply (its stderr is above)"
        );
        let reply: Value = serde_json::from_str(&reply).expect("driver JSON");
        assert_eq!(
            reply["version"],
            test_clients::SENTRY_RELAY_VERSION,
            "sentry-relay version"
        );
        reply
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Closing stdin ends the driver's loop.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Every `*.json` under `dir` as (file stem, text), in name order.
fn json_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy().into();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (stem, text)
        })
        .collect();
    out.sort();
    out
}

/// Every event of the corpus as (name, event).
fn corpus_events(relay: &mut Relay) -> Vec<(String, Value)> {
    let mut events: Vec<(String, Value)> = real_events()
        .into_iter()
        .map(|(name, event)| (format!("events/{name}"), event))
        .collect();
    let reply = relay.ask(&json!({"captures": support::wire_captures()}));
    let captures = reply["captures"].as_array().expect("captures");
    // Events and transactions: 4 + 4 from Python, 4 from Node, plus the replayed copy.
    assert!(
        captures.len() >= 13,
        "only {} capture events",
        captures.len()
    );
    for capture in captures {
        let name = capture["name"].as_str().expect("capture name");
        events.push((format!("captures/{name}"), capture["event"].clone()));
    }
    let crafted = json_files(&manifest_dir().join("testdata/relay/events"));
    assert!(crafted.len() >= 9, "crafted events missing");
    for (name, text) in crafted {
        let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        events.push((format!("relay/events/{name}.json"), event));
    }
    events
}

/// What event-filter makes of one case, before normalisation.
enum Ours {
    Scrubbed(Value),
    ImportFailed(String),
}

/// One (config, event) pair, both ways, normalised.
struct Case {
    config: String,
    event: String,
    input: Value,
    relay: Value,
    ours: Result<Value, String>,
}

fn without_meta(mut value: Value) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.remove("_meta");
    }
    value
}

/// `value` as at most [`VALUE_CHARS`] characters of JSON.
fn short(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".into();
    };
    let text = value.to_string();
    if text.chars().count() <= VALUE_CHARS {
        text
    } else {
        let head: String = text.chars().take(VALUE_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// Every place where `relay` and `ours` differ, as `(path, relay's value, ours)`.
fn differences<'a>(
    relay: Option<&'a Value>,
    ours: Option<&'a Value>,
    at: &str,
    out: &mut Vec<(String, Option<&'a Value>, Option<&'a Value>)>,
) {
    match (relay, ours) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                differences(x.get(key), y.get(key), &path, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                differences(x.get(i), y.get(i), &format!("{at}.{i}"), out);
            }
        }
        _ if relay != ours => out.push((at.to_string(), relay, ours)),
        _ => {}
    }
}

fn run_cases(relay: &mut Relay, events: &[(String, Value)], only: Option<&str>) -> Vec<Case> {
    let configs = json_files(&manifest_dir().join("testdata/relay/configs"));
    assert!(configs.len() >= 90, "configs missing");
    run_configs(relay, &configs, events, only)
}

/// [`run_cases`] for the given configs, as (file stem, text).
fn run_configs(
    relay: &mut Relay,
    configs: &[(String, String)],
    events: &[(String, Value)],
    only: Option<&str>,
) -> Vec<Case> {
    let mut pending = Vec::new();
    for (name, text) in configs {
        let config: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let scrubber = event_filter::relay::import(text, &format!("{name}.json"))
            .map(|import| Scrubber::new(import.policy))
            .map_err(|e| e.to_string());
        for (event_name, event) in events {
            if only.is_some_and(|o| !name.contains(o) && !event_name.contains(o)) {
                continue;
            }
            let ours = match &scrubber {
                Ok(scrubber) => {
                    let mut scrubbed = event.clone();
                    scrubber.scrub(&mut scrubbed);
                    Ours::Scrubbed(without_meta(scrubbed))
                }
                Err(e) => Ours::ImportFailed(e.clone()),
            };
            pending.push((
                name.clone(),
                config.clone(),
                event_name.clone(),
                event,
                ours,
            ));
        }
    }
    // One request: Relay on every case; then the inputs, Relay's outputs and ours through
    // Relay's normalisation. Relay's outputs are normalised by a second request, since they
    // come out of the first.
    let request = json!({
        "cases": pending.iter().map(|(_, config, _, event, _)| json!({"config": config, "event": event})).collect::<Vec<_>>(),
        "normalize": pending.iter().flat_map(|(_, _, _, event, ours)| {
            let ours = match ours { Ours::Scrubbed(v) => v.clone(), Ours::ImportFailed(_) => json!({}) };
            [(*event).clone(), ours]
        }).collect::<Vec<_>>(),
    });
    let reply = relay.ask(&request);
    let relayed: Vec<Value> = reply["cases"].as_array().expect("cases").clone();
    let normalized = reply["normalize"].as_array().expect("normalize");
    assert_eq!(relayed.len(), pending.len());
    let again = relay.ask(&json!({
        "normalize": relayed.iter().map(|v| without_meta(v.clone())).collect::<Vec<_>>(),
    }));
    let relay_normalized = again["normalize"].as_array().expect("normalize");
    pending
        .into_iter()
        .enumerate()
        .map(|(i, (config, _, event, _, ours))| {
            let relay_out = &relayed[i];
            let relay = match relay_out.get("error") {
                Some(e) if relay_out.as_object().is_some_and(|m| m.len() == 1) => {
                    json!({"relay error": e})
                }
                _ => without_meta(relay_normalized[i].clone()),
            };
            let ours = match ours {
                Ours::Scrubbed(_) => Ok(without_meta(normalized[2 * i + 1].clone())),
                Ours::ImportFailed(e) => Err(e),
            };
            Case {
                config,
                event,
                input: without_meta(normalized[2 * i].clone()),
                relay,
                ours,
            }
        })
        .collect()
}

#[test]
fn relay_import_scrubs_as_relay_does() {
    let Some(python) = test_clients::python_with_relay("the Relay import vs Relay's PII engine")
    else {
        return;
    };
    let only = std::env::var("RELAY_VS_PEER_ONLY")
        .ok()
        .filter(|s| !s.is_empty());
    let mut relay = Relay::start(&python);
    let events = corpus_events(&mut relay);
    let cases = run_cases(&mut relay, &events, only.as_deref());
    assert!(!cases.is_empty(), "no case matches RELAY_VS_PEER_ONLY");

    // The yardstick measures something: each config changes some event in Relay.
    if only.is_none() {
        let mut changed: BTreeMap<&str, usize> = BTreeMap::new();
        for case in &cases {
            *changed.entry(&case.config).or_default() += usize::from(case.relay != case.input);
        }
        for (config, n) in &changed {
            let expected =
                !RELAY_CHANGES_NOTHING.contains(config) && !NOT_IN_EVENTS.contains(config);
            assert_eq!(
                *n > 0,
                expected,
                "{config}.json: Relay changed {n} events (make_configs.py checks this too)"
            );
        }
    }

    let mut report = Vec::new();
    let mut by_config: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut unexpected = 0;
    let mut intended_seen = Vec::new();
    for case in &cases {
        let counts = by_config.entry(&case.config).or_default();
        counts.1 += 1;
        let lines: Vec<String> = match &case.ours {
            Err(e) => vec![format!("  event-filter could not import the config: {e}")],
            Ok(ours) => {
                let mut diff = Vec::new();
                differences(Some(&case.relay), Some(ours), "", &mut diff);
                let shown = diff.iter().take(PATHS_SHOWN).map(|(path, r, o)| {
                    format!("  {path}: relay {} | ours {}", short(*r), short(*o))
                });
                let mut lines: Vec<String> = shown.collect();
                if diff.len() > PATHS_SHOWN {
                    lines.push(format!("  (and {} more paths)", diff.len() - PATHS_SHOWN));
                }
                lines
            }
        };
        if lines.is_empty() {
            continue;
        }
        let intended = INTENDED
            .iter()
            .find(|(c, e, _)| *c == case.config && *e == case.event);
        if let Some(entry) = intended {
            intended_seen.push(entry);
            continue;
        }
        counts.0 += 1;
        unexpected += 1;
        report.push(format!("{}.json × {}:", case.config, case.event));
        report.extend(lines);
    }
    if only.is_none() {
        for entry in INTENDED {
            assert!(
                intended_seen.contains(&entry),
                "{entry:?} is listed as an intended difference but no longer differs"
            );
        }
    }
    if unexpected > 0 {
        report.push(String::new());
        report.push("configs with differing events (differing / events):".into());
        for (config, (bad, all)) in &by_config {
            if *bad > 0 {
                report.push(format!("  {config}.json: {bad} / {all}"));
            }
        }
    }
    assert!(
        unexpected == 0,
        "{}\n{unexpected} of {} cases ({} configs × {} events) differ from Relay",
        report.join("\n"),
        cases.len(),
        by_config.len(),
        if by_config.is_empty() {
            0
        } else {
            cases.len() / by_config.len()
        },
    );
}

/// Selectors of the value types that only Relay's other payloads have (attachments, minidumps
/// and their memory, replays, logs, trace metrics) or raw bytes (`$binary`) select nothing in
/// an event passed to `pii_strip_event`, in Relay and in event-filter alike: neither side
/// changes any event of the corpus. (`relay_import_scrubs_as_relay_does` compares them too,
/// after normalisation; this holds each side to "nothing" on its own.)
#[test]
fn value_types_of_other_payloads_select_nothing_in_events() {
    let Some(python) =
        test_clients::python_with_relay("value types outside events vs Relay's PII engine")
    else {
        return;
    };
    let configs: Vec<(String, String)> = json_files(&manifest_dir().join("testdata/relay/configs"))
        .into_iter()
        .filter(|(name, _)| NOT_IN_EVENTS.contains(&name.as_str()))
        .collect();
    assert_eq!(configs.len(), NOT_IN_EVENTS.len(), "configs missing");
    let mut relay = Relay::start(&python);
    let events = corpus_events(&mut relay);
    let mut changed = Vec::new();
    for (name, text) in &configs {
        let import = event_filter::relay::import(text, &format!("{name}.json"))
            .unwrap_or_else(|e| panic!("{name}.json: {e}"));
        let scrubber = Scrubber::new(import.policy);
        for (event_name, event) in &events {
            let mut scrubbed = event.clone();
            let report = scrubber.scrub(&mut scrubbed);
            if !report.changes.is_empty() || scrubbed != *event {
                changed.push(format!("ours: {name}.json × {event_name}"));
            }
        }
    }
    for case in run_configs(&mut relay, &configs, &events, None) {
        if case.relay != case.input {
            changed.push(format!("Relay: {}.json × {}", case.config, case.event));
        }
    }
    assert!(changed.is_empty(), "changed:\n{}", changed.join("\n"));
}
