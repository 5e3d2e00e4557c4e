//! Spotlight mode: real SDKs configured with `spotlight=` post to fake-sentry's `/stream`, as
//! to Spotlight's sidecar; `GET /stream` replays them in the sidecar's format; and the real
//! Spotlight UI (@spotlightjs/spotlight's built UI, unchanged) shows what fake-sentry captured.
//!
//! The SDK scripts are `tests/clients/spotlight_python.py` (sentry-sdk) and
//! `tests/clients/spotlight_node.mjs` (@sentry/node); the UI scenario is
//! `tests/browser/spotlight_ui.mjs` (playwright-core driving Debian's Chromium). The clients
//! come from `scripts/setup-test-clients`; without them a test is skipped with a note, or fails
//! when every client is required (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, CI).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fake_sentry::ItemFilter;
use fake_sentry::testing::FakeSentry;
use futures::StreamExt as _;
use serde_json::{Value, json};
use support::{get_json, raised_exception, repo_root, run_client};

const MARKER: &str = "understudy-marker-7f3c";
/// The releases `scripts/setup-test-clients` pins.
const NODE_SDK_VERSION: &str = "10.78.0";
const SPOTLIGHT_VERSION: &str = "4.11.8";
/// The transactions the SDK scripts send in Spotlight mode, each with its child span.
const TRANSACTIONS: [(&str, &str); 2] = [
    (
        "python-spotlight-transaction",
        "python-spotlight-child-span",
    ),
    ("node-spotlight-transaction", "node-spotlight-child-span"),
];

/// The version in `modules/{package}/package.json`, if installed.
fn installed_version(modules: &std::path::Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(modules.join(package).join("package.json")).ok()?;
    let package: Value = serde_json::from_str(&text).ok()?;
    package["version"].as_str().map(str::to_string)
}

/// `.clients/node/node_modules` with `package` at `version`, and node to run it; `None` after
/// [`test_clients::skip_or_fail`] otherwise.
#[track_caller]
fn node_modules_with(what: &str, packages: &[(&str, &str)]) -> Option<PathBuf> {
    let modules = repo_root().join(".clients/node/node_modules");
    let why = if Command::new("node").arg("--version").output().is_err() {
        "node is not on PATH".to_string()
    } else if let Some((package, version, found)) = packages.iter().find_map(|(p, v)| {
        let found = installed_version(&modules, p);
        (found.as_deref() != Some(v)).then_some((p, v, found))
    }) {
        format!(
            "{} has {package} {found:?}, not {version}",
            modules.display()
        )
    } else {
        return Some(modules);
    };
    test_clients::skip_or_fail(what, &format!("{why}; run scripts/setup-test-clients"));
    None
}

/// What the UI scenario needs besides the SDKs: Chromium and playwright-core.
#[track_caller]
fn browser(what: &str) -> Option<()> {
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    if chromium.exists() {
        return Some(());
    }
    test_clients::skip_or_fail(
        what,
        &format!(
            "{} does not exist; run scripts/setup-test-clients",
            chromium.display()
        ),
    );
    None
}

/// Runs `command` (an SDK script) off the async runtime and returns what it printed.
async fn run(command: Command) -> Value {
    tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("client thread")
}

/// The stored items (full records) whose event id is `event_id`.
async fn items_with_event_id(base: &str, event_id: &str) -> Vec<Value> {
    let list = get_json(&format!("{base}/api/items/?event_id={event_id}")).await;
    let mut items = Vec::new();
    for summary in list["items"].as_array().expect("items") {
        let id = summary["id"].as_str().expect("item id");
        items.push(get_json(&format!("{base}/api/items/{id}")).await);
    }
    items
}

async fn envelope_of(base: &str, item: &Value) -> Value {
    get_json(&format!(
        "{base}/api/envelopes/{}",
        item["item"]["envelope_id"]
    ))
    .await
}

/// Waits for `count` items with `event_id`.
async fn wait_for_event(sentry: &FakeSentry, event_id: &str, count: usize) {
    let filter = ItemFilter {
        event_id: Some(event_id.to_string()),
        ..Default::default()
    };
    sentry
        .wait_for_within(filter, count, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{count} item(s) with event id {event_id}: {e}"));
}

/// The event ids a script printed.
fn ids(sent: &Value) -> (String, String) {
    let id = |key: &str| {
        sent[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing in {sent}"))
            .to_string()
    };
    (id("error_event_id"), id("transaction_event_id"))
}

/// One parsed SSE event of `GET /stream`.
#[derive(Debug)]
struct SseEvent {
    name: String,
    id: String,
    data: String,
}

/// Reads `GET {base}/stream{query}` until an event whose data contains each of `needles` has
/// arrived (20 s deadline), and returns every event read.
async fn read_stream(base: &str, query: &str, needles: &[&str]) -> Vec<SseEvent> {
    let response = reqwest::get(format!("{base}/stream{query}"))
        .await
        .expect("GET /stream");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = parse_sse(&text);
        if needles
            .iter()
            .all(|n| events.iter().any(|e| e.data.contains(n)))
        {
            return events;
        }
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!(
                "/stream{query} ended or timed out before {needles:?} ({:?}); got:\n{text}",
                other.map(|o| o.is_some())
            ),
        }
    }
}

/// The complete events (ended by a blank line) in `text`; comments and keep-alives skipped.
fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let Some((complete, _)) = text.rsplit_once("\n\n") else {
        return events;
    };
    for block in complete.split("\n\n") {
        let mut event = SseEvent {
            name: String::new(),
            id: String::new(),
            data: String::new(),
        };
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                event.name = value.trim().to_string();
            } else if let Some(value) = line.strip_prefix("id:") {
                event.id = value.trim().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                event
                    .data
                    .push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if !event.data.is_empty() {
            events.push(event);
        }
    }
    events
}

/// Checks the SSE replay of `GET /stream` (and `?base64=1&client=spotlight-ui`, as Spotlight's
/// UI asks for it): every envelope is `[header, [[item header, payload], ...]]` as JSON, as
/// Spotlight 4.11.8's sidecar sends it, with the error and the transaction of `sent` in it.
async fn assert_stream_replays(base: &str, sent: &Value, language: &str) {
    let (error_id, transaction_id) = ids(sent);
    for (query, name) in [
        ("", "application/x-sentry-envelope"),
        (
            "?base64=1&client=spotlight-ui",
            "application/x-sentry-envelope;base64",
        ),
    ] {
        let events = read_stream(base, query, &[&error_id, &transaction_id]).await;
        let envelope_with = |event_id: &str| -> (&SseEvent, Value) {
            let event = events
                .iter()
                .find(|e| e.data.contains(event_id))
                .expect("event");
            let data: Value = serde_json::from_str(&event.data)
                .unwrap_or_else(|e| panic!("/stream{query}: data is not JSON ({e}): {event:?}"));
            (event, data)
        };

        let (event, error) = envelope_with(&error_id);
        assert_eq!(event.name, name, "{event:?}");
        assert_eq!(error[0]["event_id"], error_id.as_str(), "{error}");
        // Spotlight's UI keys envelopes by this id; the sidecar's equals the SSE id.
        assert_eq!(
            error[0]["__spotlight_envelope_id"],
            event.id.as_str(),
            "{error}"
        );
        let items = error[1].as_array().expect("items");
        let (header, payload) = (&items[0][0], &items[0][1]);
        assert_eq!(header["type"], "event", "{error}");
        // The item's type is on its payload too, as the sidecar puts it (the UI reads it there).
        assert_eq!(payload["type"], "event", "{error}");
        let exception = raised_exception(payload);
        assert_eq!(
            exception["value"],
            format!("{language} spotlight error {MARKER}"),
            "{error}"
        );

        let (event, transaction) = envelope_with(&transaction_id);
        assert_eq!(event.name, name, "{event:?}");
        let payload = &transaction[1][0][1];
        assert_eq!(transaction[1][0][0]["type"], "transaction");
        assert_eq!(payload["type"], "transaction");
        assert_eq!(
            payload["transaction"],
            format!("{language}-spotlight-transaction")
        );
        assert!(
            payload["spans"]
                .as_array()
                .is_some_and(|spans| !spans.is_empty()),
            "{transaction}"
        );
    }
}

/// What fake-sentry recorded of one SDK run in Spotlight mode: the error and the transaction
/// through `/stream` (plus a copy through the envelope endpoint when the SDK had a DSN).
/// Returns the `/stream` envelope of the error, for the caller's wire checks.
async fn assert_spotlight_run(sentry: &FakeSentry, sent: &Value, with_dsn: bool) -> Value {
    let base = sentry.url();
    let copies = if with_dsn { 2 } else { 1 };
    let (error_id, transaction_id) = ids(sent);
    let mut stream_error = Value::Null;
    for (event_id, item_type) in [(&error_id, "event"), (&transaction_id, "transaction")] {
        wait_for_event(sentry, event_id, copies).await;
        let items = items_with_event_id(&base, event_id).await;
        let mut endpoints = Vec::new();
        for item in &items {
            assert_eq!(item["item"]["type"], item_type, "{item}");
            let envelope = envelope_of(&base, item).await;
            endpoints.push(envelope["endpoint"].as_str().expect("endpoint").to_string());
            if envelope["endpoint"] == "stream" {
                // Spotlight's transport: uncompressed, no auth, no project.
                assert_eq!(
                    envelope["content_type"], "application/x-sentry-envelope",
                    "{envelope}"
                );
                assert_eq!(envelope["content_encoding"], Value::Null, "{envelope}");
                assert_eq!(envelope["public_key"], Value::Null, "{envelope}");
                assert_eq!(envelope["project_id"], 0, "{envelope}");
                if item_type == "event" {
                    stream_error = envelope;
                }
            } else {
                assert_eq!(envelope["public_key"], "public", "{envelope}");
                assert_eq!(envelope["project_id"], 1, "{envelope}");
            }
        }
        endpoints.sort();
        let expected: Vec<&str> = if with_dsn {
            vec!["envelope", "stream"]
        } else {
            vec!["stream"]
        };
        assert_eq!(endpoints, expected, "{event_id}: {items:?}");
    }
    let refusals = get_json(&format!("{base}/api/refusals/")).await;
    assert_eq!(refusals["total"], 0, "nothing may be refused: {refusals}");
    stream_error
}

fn python_command(sentry: &FakeSentry, python: PathBuf, with_dsn: bool) -> Command {
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("fake-sentry/tests/clients/spotlight_python.py"))
        .arg(format!("{}/stream", sentry.url()));
    if with_dsn {
        command.arg("--dsn").arg(sentry.dsn(1));
    }
    command
}

fn node_command(sentry: &FakeSentry, modules: &std::path::Path, with_dsn: bool) -> Command {
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("fake-sentry/tests/clients/spotlight_node.mjs"))
        .arg(format!("{}/stream", sentry.url()))
        .env("SENTRY_NODE_MODULES", modules);
    if with_dsn {
        command.arg("--dsn").arg(sentry.dsn(1));
    }
    command
}

async fn python_spotlight(with_dsn: bool) {
    let Some(python) =
        test_clients::python_with_scrubber_peers("the Python SDK's Spotlight mode in spotlight.rs")
    else {
        return;
    };
    let sentry = FakeSentry::start().await.expect("start");
    let sent = run(python_command(&sentry, python, with_dsn)).await;
    assert_eq!(sent["transport"], with_dsn, "{sent}");
    let envelope = assert_spotlight_run(&sentry, &sent, with_dsn).await;
    // sentry-python's Spotlight client: urllib3, Content-Length, no compression.
    let headers = &envelope["http_headers"];
    assert!(
        headers["user-agent"]
            .as_str()
            .unwrap_or_default()
            .starts_with("python-urllib3/"),
        "{headers}"
    );
    assert!(headers.get("content-length").is_some(), "{headers}");
    assert!(headers.get("x-sentry-auth").is_none(), "{headers}");
    assert_stream_replays(&sentry.url(), &sent, "python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_spotlight_without_dsn() {
    python_spotlight(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_spotlight_with_dsn() {
    python_spotlight(true).await;
}

async fn node_spotlight(with_dsn: bool) {
    let Some(modules) = node_modules_with(
        "@sentry/node's Spotlight mode in spotlight.rs",
        &[("@sentry/node", NODE_SDK_VERSION)],
    ) else {
        return;
    };
    let sentry = FakeSentry::start().await.expect("start");
    let sent = run(node_command(&sentry, &modules, with_dsn)).await;
    let envelope = assert_spotlight_run(&sentry, &sent, with_dsn).await;
    // @sentry/node's Spotlight integration: node:http, chunked, the content type set.
    let headers = &envelope["http_headers"];
    assert_eq!(headers["transfer-encoding"], "chunked", "{headers}");
    assert!(headers.get("x-sentry-auth").is_none(), "{headers}");
    assert_stream_replays(&sentry.url(), &sent, "node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_spotlight_without_dsn() {
    node_spotlight(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_spotlight_with_dsn() {
    node_spotlight(true).await;
}

/// The real Spotlight UI, served as its sidecar serves it but told fake-sentry's port, lists
/// the errors real SDKs sent to fake-sentry in Spotlight mode on its Errors tab, and their
/// transactions on its Traces tab, each opening as its trace's waterfall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spotlight_ui_shows_what_fake_sentry_captured() {
    let what = "the Spotlight UI test in spotlight.rs";
    let Some(python) = test_clients::python_with_scrubber_peers(what) else {
        return;
    };
    let Some(modules) = node_modules_with(
        what,
        &[
            ("@sentry/node", NODE_SDK_VERSION),
            ("@spotlightjs/spotlight", SPOTLIGHT_VERSION),
            ("playwright-core", "1.65.1"),
        ],
    ) else {
        return;
    };
    if browser(what).is_none() {
        return;
    }
    let sentry = FakeSentry::start().await.expect("start");
    let python_sent = run(python_command(&sentry, python, false)).await;
    let node_sent = run(node_command(&sentry, &modules, false)).await;
    for sent in [&python_sent, &node_sent] {
        assert_spotlight_run(&sentry, sent, false).await;
    }

    let texts = [
        format!("python spotlight error {MARKER}"),
        format!("node spotlight error {MARKER}"),
    ];
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("fake-sentry/tests/browser/spotlight_ui.mjs"))
        .arg(sentry.url())
        .args(&texts)
        .arg("--traces")
        .args(TRANSACTIONS.iter().flat_map(|(name, child)| [name, child]))
        .env("SENTRY_NODE_MODULES", &modules);
    let seen = run(command).await;

    // Both errors are listed.
    for text in &texts {
        assert_eq!(seen["found"][text], true, "{text} not shown: {seen:#}");
    }
    // Both transactions are listed on the Traces tab as the root of their trace, and open as
    // their trace (the id fake-sentry recorded for them) with the child span in the waterfall.
    for ((name, child), sent) in TRANSACTIONS.iter().zip([&python_sent, &node_sent]) {
        let trace = &seen["traces"][name];
        assert_eq!(
            trace["listed"], true,
            "{name} not on the Traces tab: {seen:#}"
        );
        let (_, transaction_id) = ids(sent);
        let stored = get_json(&format!(
            "{}/api/items/?event_id={transaction_id}",
            sentry.url()
        ))
        .await;
        let trace_id = stored["items"][0]["trace_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no trace id for {name}: {stored}"));
        let opened = trace["opened_url"].as_str().unwrap_or_default();
        assert!(
            opened.contains(&format!("/telemetry/traces/{trace_id}")),
            "{name} opened {opened:?}, not trace {trace_id}: {trace:#}"
        );
        assert_eq!(
            trace["child_shown"], true,
            "{child} not in {name}'s waterfall: {trace:#}"
        );
    }

    // The UI read fake-sentry's /stream, as it reads its sidecar's, from its own origin.
    let streams = seen["stream_requests"].as_array().expect("stream requests");
    assert!(!streams.is_empty(), "{seen:#}");
    for request in streams {
        assert_eq!(request["status"], 200, "{request}");
        let url = reqwest::Url::parse(request["url"].as_str().expect("url")).expect("url");
        assert_eq!(url.host_str(), Some("localhost"), "{request}");
        assert_eq!(
            url.query(),
            Some("base64=1&client=spotlight-ui"),
            "{request}"
        );
        let headers = &request["response_headers"];
        assert_eq!(headers["content-type"], "text/event-stream", "{request}");
        let ui_origin = seen["ui_url"]
            .as_str()
            .expect("ui url")
            .trim_end_matches('/');
        assert_eq!(
            headers["access-control-allow-origin"], ui_origin,
            "{request}"
        );
    }
    assert_eq!(seen["watch"]["pageErrors"], json!([]), "{seen:#}");
    assert_eq!(seen["watch"]["dialogs"], json!([]), "{seen:#}");
}

/// Items as Spotlight 4.11.8's sidecar gives them to its UI: a raw item's bytes as text for a
/// textual content type and as base64 otherwise (even when they are valid UTF-8), and the item's
/// type on a JSON payload that has none (a log container), which the UI sorts by.
#[tokio::test]
async fn stream_items_are_shaped_as_spotlight_sends_them() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let logs = r#"{"items":[{"timestamp":1.0,"level":"info","body":"a log line"}]}"#;
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n\
         {{\"type\":\"attachment\",\"length\":10,\"filename\":\"a.txt\",\"content_type\":\"text/plain\"}}\n\
         hello text\n\
         {{\"type\":\"attachment\",\"length\":5,\"filename\":\"b.bin\",\"content_type\":\"application/octet-stream\"}}\n\
         hello\n\
         {{\"type\":\"log\",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.log+json\"}}\n\
         {logs}\n",
        id = "a".repeat(32)
    );
    let answer = reqwest::Client::new()
        .post(format!("{base}/stream"))
        .header("content-type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await
        .expect("POST /stream");
    assert_eq!(answer.status(), 200);
    let events = read_stream(&base, "?base64=1", &["a log line"]).await;
    let data: Value = serde_json::from_str(&events[0].data).expect("JSON");
    let items = data[1].as_array().expect("items");
    assert_eq!(items[0][1], json!({"data": "hello text"}), "{data}");
    assert_eq!(items[1][1], json!({"data": "aGVsbG8="}), "{data}");
    assert_eq!(items[2][1]["type"], "log", "{data}");
    assert_eq!(items[2][1]["items"][0]["body"], "a log line", "{data}");
}
