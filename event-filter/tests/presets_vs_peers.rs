//! The `python-sdk` and `fillmore` presets against the real scrubbers they are named after:
//! sentry-sdk 2.75.0's `EventScrubber()` (defaults) and Fillmore 2.2.0's
//! `Scrubber(rules=SCRUB_RULES_DEFAULT)`, run by `tests/peer_scrubbers.py` on the same events.
//! The scrubbed events must be equal as JSON; the only normalisation is the driver's (sentry-sdk's
//! `AnnotatedValue`s become their values, and `_meta` remarks are not compared: the presets do
//! not turn on `meta_remarks`).
//!
//! The corpus: the real SDK events of `testdata/events/`, the wire captures of
//! `fake-sentry/testdata/captures/` (events and transactions, decoded by the driver), and
//! crafted events that put every denylisted key, in three spellings, in every place each peer
//! looks and in places they do not. Each intended difference (README "Presets") has a test of
//! its own below that shows the peer's output and event-filter's.
//!
//! The peers run in `$UNDERSTUDY_PEERS_PYTHON` (which then must have them), else the
//! workspace's `.clients/venv` (made by `scripts/setup-test-clients`). Without them the tests
//! are skipped with a note on stderr, or fail when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1` or `CI`): `test_clients::skip_or_fail`'s rule.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use event_filter::{Policy, Scrubber};
use serde_json::{Map, Value, json};
use support::real_events;

mod support;

/// The peers' versions, as `scripts/setup-test-clients` pins them.
const PEERS: [(&str, &str); 2] = [
    ("sentry-sdk", test_clients::SENTRY_SDK_VERSION),
    ("fillmore", test_clients::FILLMORE_VERSION),
];

/// sentry-sdk's DEFAULT_DENYLIST and DEFAULT_PII_DENYLIST, copied from its scrubber.py so that
/// a preset that drops a key fails here.
const SDK_DENYLIST: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "token",
    "session",
    "csrftoken",
    "sessionid",
    "x_csrftoken",
    "x_forwarded_for",
    "set_cookie",
    "cookie",
    "authorization",
    "proxy-authorization",
    "x_api_key",
    "aiohttp_session",
    "connect.sid",
    "csrf_token",
    "csrf",
    "_csrf",
    "_csrf_token",
    "PHPSESSID",
    "_session",
    "symfony",
    "user_session",
    "_xsrf",
    "XSRF-TOKEN",
    "x_real_ip",
    "ip_address",
    "remote_addr",
];

/// Keys near the denylisted ones that neither peer touches (they compare whole keys).
const NEAR_MISSES: &[&str] = &["passwords", "my_token", "token2", "user_name", "pass word"];

/// Where sentry-sdk's EventScrubber compares keys: the dicts at these paths (`[]` one element).
const SDK_PLACES: &[&str] = &[
    "request.headers",
    "request.cookies",
    "request.data",
    "request.data.[]",
    "request.data.[].[]",
    "request.data.[].[].[]",
    "extra",
    "user",
    "breadcrumbs.values.[].data",
    "stacktrace.frames.[].vars",
    "threads.values.[].stacktrace.frames.[].vars",
    "exception.values.[].stacktrace.frames.[].vars",
    "spans.[].data",
];

/// Where Fillmore's default rule compares keys.
const FILLMORE_PLACES: &[&str] = &["exception.values.[].stacktrace.frames.[].vars"];

/// Places neither peer looks at, though denylisted keys may sit there.
const UNWATCHED_PLACES: &[&str] = &[
    "tags",
    "contexts.app",
    "request.env",
    "request.query_string",
    "request.data.form",
    "extra.nested",
    "user.data",
    "breadcrumbs.[].data",
    "breadcrumbs.values.[]",
    "exception.values.[].mechanism.data",
    "exception.values.[].stacktrace.frames.[]",
    "exception.values.[].stacktrace.frames.[].vars.locals",
    "spans.[].tags",
    "modules",
];

/// An interpreter with both peers at their pinned versions, or `None` after
/// `test_clients::skip_or_fail`'s note. Looked up once, so a skip is noted once.
fn peers_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| test_clients::python_with_scrubber_peers("presets vs peers"))
        .clone()
}

/// One event through both peers.
struct PeerRun {
    name: String,
    input: Value,
    python_sdk: Value,
    fillmore: Value,
}

/// Runs the driver on `events` (name, event) and the wire `captures`.
fn run_peers(python: &Path, events: Vec<(String, Value)>, captures: &[PathBuf]) -> Vec<PeerRun> {
    let request = json!({
        "events": events.into_iter().map(|(name, event)| json!({"name": name, "event": event})).collect::<Vec<_>>(),
        "captures": captures,
    });
    let mut reply = support::run_script(python, "peer_scrubbers.py", &request);
    for (name, want) in PEERS {
        assert_eq!(reply["versions"][name], want, "{name} version");
    }
    let results = reply["results"].take();
    results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| PeerRun {
            name: r["name"].as_str().unwrap_or_default().to_string(),
            input: r["input"].clone(),
            python_sdk: r["python-sdk"].clone(),
            fillmore: r["fillmore"].clone(),
        })
        .collect()
}

fn scrubbed(preset: &str, event: &Value) -> Value {
    let mut event = event.clone();
    let report = Scrubber::new(Policy::preset(preset).expect("preset")).scrub(&mut event);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    event
}

/// Every place where `a` and `b` differ, as `path: a != b`.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => differences(v, w, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}: {v} != (missing)")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    out.push(format!("{at}.{k}: (missing) != {w}"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                differences(v, w, &format!("{at}.{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} != {b}")),
        _ => {}
    }
}

/// Asserts that each preset's output equals its peer's on every event of `runs`.
fn assert_presets_match(runs: &[PeerRun]) {
    let mut failures = Vec::new();
    for run in runs {
        for (preset, peer) in [("python-sdk", &run.python_sdk), ("fillmore", &run.fillmore)] {
            let ours = scrubbed(preset, &run.input);
            let mut diff = Vec::new();
            differences(&ours, peer, "", &mut diff);
            if !diff.is_empty() {
                failures.push(format!(
                    "{} with {preset} (event-filter != peer):\n  {}",
                    run.name,
                    diff.join("\n  ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A value at a dotted `place`, where `[]` is an array of one element.
fn nest(place: &str, leaf: Value) -> Value {
    place.rsplit('.').fold(leaf, |inner, step| match step {
        "[]" => json!([inner]),
        key => json!({ key: inner }),
    })
}

/// A key in uppercase, and with every `k`/`K` as the Kelvin sign (which Python lowercases to
/// `k`), when the key has one.
fn spellings(key: &str) -> Vec<String> {
    let mut out = vec![key.to_string(), key.to_uppercase()];
    if key.contains(['k', 'K']) {
        out.push(key.replace(['k', 'K'], "\u{212A}"));
    }
    out
}

/// A dict with every key of `keys` in every spelling, one value kind after another (string,
/// number, boolean, object, array), the near misses, and one denylisted key a level down.
fn laden_dict(keys: &[&str]) -> Value {
    let kinds = [
        json!("s3cr3t"),
        json!(42),
        json!(true),
        json!({"inner": "s3cr3t"}),
        json!(["s3cr3t"]),
    ];
    let mut map = Map::new();
    for (n, key) in keys.iter().flat_map(|k| spellings(k)).enumerate() {
        map.insert(key, kinds[n % kinds.len()].clone());
    }
    for key in NEAR_MISSES {
        map.insert((*key).to_string(), json!("kept"));
    }
    // Fillmore's other key, not the SDK's: its value may survive the SDK.
    map.insert("username".into(), json!("jdoe"));
    map.insert("Username".into(), json!("jdoe"));
    map.insert(
        "deeper".into(),
        json!({"password": "kept below the top level"}),
    );
    Value::Object(map)
}

/// Crafted events: every key of both denylists in every place of `places`, one event per place.
fn crafted(places: &[&str]) -> Vec<(String, Value)> {
    places
        .iter()
        .map(|place| {
            let mut event = nest(place, laden_dict(SDK_DENYLIST));
            event["event_id"] = json!("0123456789abcdef0123456789abcdef");
            (format!("crafted {place}"), event)
        })
        .collect()
}

fn run(f: impl FnOnce(&Path)) {
    if let Some(python) = peers_python() {
        f(&python);
    }
}

#[test]
fn presets_equal_their_peers_on_real_sdk_events() {
    run(|python| {
        let runs = run_peers(python, real_events(), &support::wire_captures());
        // Events and transactions (spans) from the captures, besides the eight events.
        assert!(runs.len() >= 8 + 13, "only {} events", runs.len());
        assert!(runs.iter().any(|r| r.input["type"] == "transaction"));
        // The real events carry denylisted keys the peers scrub: the comparison is not empty.
        let sdk_changed = runs.iter().filter(|r| r.python_sdk != r.input).count();
        assert!(
            sdk_changed >= 4,
            "sentry-sdk changed only {sdk_changed} events"
        );
        assert_presets_match(&runs);
    });
}

#[test]
fn presets_equal_their_peers_where_they_look() {
    run(|python| {
        // Fillmore's place is one of the SDK's.
        assert!(FILLMORE_PLACES.iter().all(|p| SDK_PLACES.contains(p)));
        let runs = run_peers(python, crafted(SDK_PLACES), &[]);
        for run in &runs {
            // Every place is one the SDK scrubs, so a driver that did nothing fails here.
            assert_ne!(
                run.python_sdk, run.input,
                "{}: sentry-sdk scrubbed nothing",
                run.name
            );
            // Every key, in every spelling, is masked somewhere.
            let text = run.python_sdk.to_string();
            assert!(
                !text.contains("s3cr3t"),
                "{}: sentry-sdk left {text}",
                run.name
            );
        }
        let fillmore = runs
            .iter()
            .find(|r| r.name.ends_with(FILLMORE_PLACES[0]))
            .expect("the frame vars event");
        let vars = &fillmore.fillmore["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"];
        assert_eq!(vars["password"], "[Scrubbed]");
        assert_eq!(vars["username"], "[Scrubbed]");
        assert_eq!(
            vars["Username"],
            fillmore.input["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["Username"],
            "Fillmore's keys are case-sensitive"
        );
        assert_presets_match(&runs);
    });
}

#[test]
fn presets_equal_their_peers_where_they_do_not_look() {
    run(|python| {
        let runs = run_peers(python, crafted(UNWATCHED_PLACES), &[]);
        for run in &runs {
            assert_eq!(
                run.python_sdk, run.input,
                "{}: sentry-sdk looks there",
                run.name
            );
            assert_eq!(
                run.fillmore, run.input,
                "{}: Fillmore looks there",
                run.name
            );
        }
        assert_presets_match(&runs);
    });
}

/// Intended: a denylisted key holding `null` stays `null`. Both peers write their mask over
/// it; event-filter's actions leave null alone (there is nothing to hide), as Relay does.
#[test]
fn null_under_a_denylisted_key_stays_null() {
    run(|python| {
        let event = json!({
            "extra": {"password": null},
            "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"password": null}}]}}]},
        });
        let runs = run_peers(python, vec![("null".into(), event.clone())], &[]);
        let peer = &runs[0];
        assert_eq!(peer.python_sdk["extra"]["password"], "[Filtered]");
        let frame = "/exception/values/0/stacktrace/frames/0/vars/password";
        assert_eq!(peer.fillmore.pointer(frame), Some(&json!("[Scrubbed]")));
        assert_eq!(scrubbed("python-sdk", &event), event);
        assert_eq!(scrubbed("fillmore", &event), event);
    });
}

/// Intended: `[name, value]` pair lists (Sentry's other form of headers, cookies and maps)
/// are matched by name, so event-filter masks the value; both peers only look into dicts.
#[test]
fn pair_lists_are_scrubbed_by_name() {
    run(|python| {
        let event = json!({
            "request": {"headers": [["Authorization", "Basic dXNlcjpwYXNz"], ["Accept", "*/*"]]},
            "exception": {"values": [{"stacktrace": {"frames": [{"vars": [["password", "hunter2"]]}]}}]},
        });
        let runs = run_peers(python, vec![("pairs".into(), event.clone())], &[]);
        assert_eq!(runs[0].python_sdk, event, "sentry-sdk skips pair lists");
        assert_eq!(runs[0].fillmore, event, "Fillmore skips pair lists");
        let ours = scrubbed("python-sdk", &event);
        assert_eq!(
            ours["request"]["headers"],
            json!([["Authorization", "[Filtered]"], ["Accept", "*/*"]])
        );
        let frame = "/exception/values/0/stacktrace/frames/0/vars/0/1";
        assert_eq!(ours.pointer(frame), Some(&json!("[Filtered]")));
        assert_eq!(
            scrubbed("fillmore", &event).pointer(frame),
            Some(&json!("[Scrubbed]"))
        );
    });
}

/// Intended: when one exception's `frames` is not an array, Fillmore's rule raises and stops
/// its walk, leaving the later exceptions' locals; event-filter skips the malformed branch and
/// scrubs the rest.
#[test]
fn a_malformed_branch_does_not_stop_the_fillmore_preset() {
    run(|python| {
        let event = json!({"exception": {"values": [
            {"stacktrace": {"frames": {"0": {"vars": {"password": "a"}}}}},
            {"stacktrace": {"frames": [{"vars": {"password": "b"}}]}},
        ]}});
        let runs = run_peers(python, vec![("malformed".into(), event.clone())], &[]);
        assert_eq!(runs[0].fillmore, event, "Fillmore gave up on the rule");
        let ours = scrubbed("fillmore", &event);
        let second = "/exception/values/1/stacktrace/frames/0/vars/password";
        assert_eq!(ours.pointer(second), Some(&json!("[Scrubbed]")));
        let first = "/exception/values/0/stacktrace/frames/0/vars/password";
        assert_eq!(
            ours.pointer(first),
            Some(&json!("a")),
            "not an array: `[]` skips it"
        );
    });
}

/// Intended limit: the SDK searches lists in `request.data` for dicts through any number of
/// nested lists; the preset names three levels, which covers any JSON body seen in practice.
#[test]
fn request_data_lists_are_searched_three_levels_deep() {
    run(|python| {
        let deep = nest("request.data.[].[].[].[]", json!({"password": "p"}));
        let runs = run_peers(python, vec![("deep".into(), deep.clone())], &[]);
        let at = "/request/data/0/0/0/0/password";
        assert_eq!(runs[0].python_sdk.pointer(at), Some(&json!("[Filtered]")));
        assert_eq!(scrubbed("python-sdk", &deep).pointer(at), Some(&json!("p")));
    });
}
