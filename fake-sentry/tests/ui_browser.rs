//! The web UI in a real browser: each test starts fake-sentry on an ephemeral port, sends events
//! (with the real Python SDK, recorded real envelopes, or hand-made hostile ones), then runs one
//! scenario script from `tests/browser/` that drives Debian's headless Chromium through
//! playwright-core and prints what it saw; the assertions are here.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`), sentry-sdk and playwright-core, all from
//! `scripts/setup-test-clients`. Screenshots go to a temporary directory, or to
//! `docs/screenshots/` when `FAKE_SENTRY_UPDATE_SCREENSHOTS=1`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::{new_event_id, python, repo_root, run_client};

/// One browser at a time: the CI machine has two cores.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-test-clients (it installs Debian's chromium, or says how)",
        path.display()
    );
    path
}

fn playwright_installed() {
    let module = repo_root().join(".clients/node/node_modules/playwright-core");
    assert!(
        module.exists(),
        "{} is missing: run scripts/setup-test-clients first",
        module.display()
    );
}

/// Runs `tests/browser/<name>.mjs` with `args` and returns the JSON it printed.
async fn scenario(name: &str, args: &[&str]) -> Value {
    chromium();
    playwright_installed();
    let _one_at_a_time = BROWSER.lock().await;
    let mut command = Command::new("node");
    command
        .arg(repo_root().join(format!("fake-sentry/tests/browser/{name}.mjs")))
        .args(args);
    let result = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("scenario thread");
    let watch = &result["watch"];
    assert_eq!(watch["dialogs"], json!([]), "a dialog opened: {result}");
    assert_eq!(watch["pageErrors"], json!([]), "script errors: {result}");
    assert_eq!(
        watch["consoleErrors"],
        json!([]),
        "console errors (CSP violations are reported there): {result}"
    );
    result
}

/// An envelope with one event item.
fn envelope(event: &Value) -> Vec<u8> {
    let payload = event.to_string();
    format!(
        "{}\n{}\n{payload}\n",
        json!({"event_id": event["event_id"]}),
        json!({"type": "event", "length": payload.len()})
    )
    .into_bytes()
}

async fn post(sentry: &FakeSentry, project: u64, body: Vec<u8>, content_encoding: Option<&str>) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/{project}/envelope/", sentry.url()))
        .header("content-type", "application/x-sentry-envelope")
        .header(
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_version=7, sentry_client=ui-test/1.0",
        );
    if let Some(encoding) = content_encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.body(body).send().await.expect("post envelope");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_event_shows_exception_and_frames() {
    let sentry = FakeSentry::start().await.expect("start");
    let mut command = Command::new(python());
    command
        .arg(repo_root().join("fake-sentry/tests/clients/send_python.py"))
        .arg(sentry.dsn(1));
    let sent = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("client thread");
    let event_id = sent["error_event_id"].as_str().expect("event id");
    // What the SDK sent, from the API: the page must show exactly these frames.
    let item = support::item_by_event_id(&sentry.url(), event_id, "event").await;
    let exception = support::raised_exception(&item["payload"]);
    let sent_functions: Vec<String> = exception["stacktrace"]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .rev()
        .map(|f| f["function"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        sent_functions.contains(&"inner".to_string()),
        "{sent_functions:?}"
    );

    let seen = scenario("python_event", &[&sentry.url(), "python error"]).await;
    assert!(
        strings(&seen["summaries"])
            .iter()
            .any(|s| s.starts_with("ValueError: python error understudy-marker")),
        "{seen}"
    );
    assert!(
        seen["url"].as_str().unwrap_or_default().contains("/items/"),
        "{seen}"
    );
    let shown = &seen["exceptions"][0];
    assert_eq!(shown["type"], "ValueError", "{seen}");
    assert_eq!(shown["value"], "python error understudy-marker-7f3c");
    assert_eq!(strings(&shown["functions"]), sent_functions);
    // The SDK marks the test's own frames in-app; those are emphasised.
    assert!(
        strings(&shown["in_app"]).contains(&"inner".to_string()),
        "{seen}"
    );
}

/// Payloads that run script if a page ever parses them as HTML.
const SCRIPT: &str = "<script>window.__xss='script'</script>";
const IMG: &str = "<img src=x onerror=\"window.__xss='img'\">";
const SVG: &str = "\"'><svg onload=\"window.__xss='svg'\">";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_payloads_render_as_text_and_run_nothing() {
    let sentry = FakeSentry::start().await.expect("start");
    let event_id = new_event_id();
    let event = json!({
        "event_id": event_id,
        "level": "error",
        "platform": "python",
        "message": format!("{SCRIPT} {IMG}"),
        "tags": {"payload": IMG, SVG: SCRIPT},
        "breadcrumbs": {"values": [
            {"timestamp": 1.7e9, "category": SVG, "message": IMG, "level": "error"}
        ]},
        "exception": {"values": [{
            "type": SCRIPT,
            "value": IMG,
            "stacktrace": {"frames": [{
                "function": SVG, "filename": IMG, "lineno": 1, "in_app": true,
                "context_line": SCRIPT,
                "vars": {"html": SCRIPT, "attr": SVG}
            }]}
        }]},
        "user": {"username": IMG},
        "request": {"url": format!("javascript:window.__xss='url'//{IMG}"), "headers": {"X": SCRIPT}}
    });
    post(&sentry, 1, envelope(&event), None).await;
    let items = sentry
        .wait_for(Default::default(), 1)
        .await
        .expect("stored");

    let seen = scenario("xss", &[&sentry.url(), &items[0].id]).await;
    assert_eq!(seen["list_executed"], Value::Null, "{seen}");
    assert_eq!(seen["detail_executed"], Value::Null, "{seen}");
    assert_eq!(seen["injected_elements"], 0, "{seen}");
    assert_eq!(
        strings(&seen["scripts"]),
        ["/static/app.js"],
        "only the UI's own script is on the page"
    );
    // The payloads are there, as text.
    assert_eq!(
        strings(&seen["list_summaries"]),
        [format!("{SCRIPT}: {IMG}")]
    );
    assert_eq!(seen["title"], format!("{SCRIPT}: {IMG}"));
    assert_eq!(seen["message"], format!("{SCRIPT} {IMG}"));
    assert!(
        seen["tags"]
            .as_array()
            .expect("tags")
            .contains(&json!([SVG, SCRIPT])),
        "{seen}"
    );
    assert_eq!(strings(&seen["breadcrumbs"]), [IMG]);
    assert!(
        strings(&seen["vars"]).contains(&SCRIPT.to_string()),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_event_appears_without_reload_and_waits_while_paused() {
    let sentry = FakeSentry::start().await.expect("start");
    post(
        &sentry,
        1,
        envelope(&json!({"event_id": new_event_id(), "message": "already here"})),
        None,
    )
    .await;
    sentry
        .wait_for(Default::default(), 1)
        .await
        .expect("stored");

    let seen = scenario("live", &[&sentry.url()]).await;
    assert_eq!(strings(&seen["before"]), ["already here"]);
    assert_eq!(
        strings(&seen["after_first"]),
        ["live arrival one", "already here"]
    );
    assert_eq!(
        strings(&seen["while_paused"]),
        ["live arrival one", "already here"],
        "a paused list must not change"
    );
    assert_eq!(seen["paused_status"], "paused: 1 new");
    assert_eq!(
        strings(&seen["after_resume"]),
        ["live arrival two", "live arrival one", "already here"]
    );
    assert_eq!(seen["total"], "3");
    assert_eq!(seen["same_document"], true, "the page reloaded: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_search_narrow_the_list() {
    let sentry = FakeSentry::start().await.expect("start");
    let events = [
        (1, "error", "production", "checkout failed"),
        (1, "warning", "staging", "cache miss"),
        (1, "error", "staging", "payment declined"),
        (2, "info", "production", "project two hello"),
    ];
    for (project, level, environment, message) in events {
        let event = json!({"event_id": new_event_id(), "level": level,
            "environment": environment, "message": message, "release": "shop@1.0"});
        post(&sentry, project, envelope(&event), None).await;
    }
    let tx_id = new_event_id();
    let transaction = json!({"event_id": tx_id, "type": "transaction",
        "transaction": "GET /checkout", "start_timestamp": 1.7e9, "timestamp": 1.7e9 + 0.25,
        "environment": "production", "contexts": {"trace": {"trace_id": "a".repeat(32), "span_id": "b".repeat(16), "op": "http.server"}},
        "spans": []});
    let payload = transaction.to_string();
    post(
        &sentry,
        1,
        format!(
            "{}\n{}\n{payload}\n",
            json!({"event_id": tx_id}),
            json!({"type": "transaction", "length": payload.len()})
        )
        .into_bytes(),
        None,
    )
    .await;
    sentry
        .wait_for(Default::default(), 5)
        .await
        .expect("stored");

    // How the list summarises that transaction.
    const TX: &str = "transaction: GET /checkout (0 spans)";
    let seen = scenario("filters", &[&sentry.url()]).await;
    assert_eq!(
        strings(&seen["all"]),
        [
            TX,
            "project two hello",
            "payment declined",
            "cache miss",
            "checkout failed"
        ]
    );
    assert_eq!(strings(&seen["search"]), [TX, "checkout failed"]);
    assert_eq!(
        strings(&seen["level"]),
        ["payment declined", "checkout failed"]
    );
    assert_eq!(
        strings(&seen["level_and_environment"]),
        ["payment declined"]
    );
    let url = seen["level_and_environment_url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        url.contains("level=error") && url.contains("environment=staging"),
        "{url}"
    );
    assert_eq!(strings(&seen["project"]), ["project two hello"]);
    assert_eq!(strings(&seen["type_chip"]), [TX]);
    assert_eq!(strings(&seen["first_page"]), [TX, "project two hello"]);
    assert_eq!(
        strings(&seen["second_page"]),
        ["payment declined", "cache miss"]
    );
}

/// Where screenshots go: `docs/screenshots/` with `FAKE_SENTRY_UPDATE_SCREENSHOTS=1`, else a
/// scratch directory.
fn screenshot_dir() -> PathBuf {
    let out = if std::env::var_os("FAKE_SENTRY_UPDATE_SCREENSHOTS").is_some() {
        repo_root().join("docs/screenshots")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
    };
    std::fs::create_dir_all(&out).expect("screenshot dir");
    out
}

fn screenshot_path(name: &str) -> PathBuf {
    screenshot_dir().join(name)
}

/// The recorded sentry-sdk 2.75.0 error envelope (gzip), as the SDK sent it.
const PYTHON_ERROR_GZ: &[u8] = include_bytes!("../testdata/captures/python-error-gzip.envelope.gz");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_list_and_detail() {
    let sentry = FakeSentry::start().await.expect("start");
    let samples = [
        (
            "warning",
            "production",
            "Slow query on /api/orders took 2.4 s",
        ),
        ("info", "staging", "User signed up"),
        (
            "error",
            "production",
            "ConnectionResetError: [Errno 104] Connection reset by peer",
        ),
    ];
    for (level, environment, message) in samples {
        let event = json!({"event_id": new_event_id(), "level": level, "environment": environment,
            "message": message, "release": "shop@2.3.1", "platform": "python",
            "sdk": {"name": "sentry.python.django", "version": "2.75.0"}});
        post(&sentry, 1, envelope(&event), None).await;
    }
    post(&sentry, 1, PYTHON_ERROR_GZ.to_vec(), Some("gzip")).await;
    let items = sentry
        .wait_for(Default::default(), 4)
        .await
        .expect("stored");
    let detail = &items[3].id;

    let out = screenshot_dir();
    let seen = scenario(
        "screenshots",
        &[&sentry.url(), detail, out.to_str().expect("utf-8 path")],
    )
    .await;
    let shots = strings(&seen["shots"]);
    assert_eq!(shots.len(), 4, "{seen}");
    for shot in shots {
        let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{shot} is not a PNG"
        );
        assert!(bytes.len() > 10_000, "{shot} is suspiciously small");
    }
}

/// A crash-generator minidump processed against fake-symbols (one module's symbols withheld):
/// the page shows what the processor found, frame by frame, and reprocesses on request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_crash_page_shows_the_processed_crash_and_reprocesses() {
    use crash_generator::{Crash, OsFlavor, Profile};
    let symbols = fake_symbols::testing::FakeSymbols::start()
        .await
        .expect("start fake-symbols");
    let crash = Crash::generate(&Profile::for_os(OsFlavor::Windows), 77);
    let files = crash.sym_files();
    // Every module's symbols but the last's, so that some frame or module lacks them.
    for (path, bytes) in &files[..files.len() - 1] {
        let key = fake_symbols::SymbolKey::from_path(path).expect("symbol path");
        symbols
            .store()
            .put(&key, false, bytes)
            .expect("store symbols");
    }
    let mut config = fake_sentry::Config::ephemeral();
    config.native.symbol_urls = vec![symbols.url()];
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let boundary = "native-ui-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"sentry[release]\"\r\n\r\nnative@1\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"crash.dmp\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(crash.minidump_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/api/1/minidump/?sentry_key=public",
            sentry.url()
        ))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert!(reply.status().is_success());
    let event_id = reply.text().await.expect("id").trim().replace('-', "");
    let filter = fake_sentry::ItemFilter {
        item_type: Some("event".into()),
        processing: Some("processed".into()),
        ..Default::default()
    };
    sentry
        .wait_for_within(filter, 1, std::time::Duration::from_secs(60))
        .await
        .expect("processed");
    let processed =
        support::get_json(&format!("{}/api/items/{event_id}/processed", sentry.url())).await;
    let frames = processed["processed"]["crashing_thread"]["frames"]
        .as_array()
        .expect("frames");
    // What the page must list, newest first: each frame's inlines, then the frame.
    let expected: Vec<String> = frames
        .iter()
        .flat_map(|f| {
            let inlines = f["inlines"].as_array().cloned().unwrap_or_default();
            let mut names: Vec<String> = inlines
                .iter()
                .map(|i| i["function"].as_str().unwrap_or_default().to_string())
                .collect();
            names.push(match f["function"].as_str() {
                Some(function) => function.to_string(),
                None => format!(
                    "{}@{}",
                    f["module"].as_str().unwrap_or("?"),
                    f["module_offset"].as_str().unwrap_or("?")
                ),
            });
            names
        })
        .collect();
    let event_item = support::item_by_event_id(&sentry.url(), &event_id, "event").await;
    let item_id = event_item["item"]["id"]
        .as_str()
        .expect("item id")
        .to_string();
    let shot = screenshot_path("native-crash.png");
    let seen = scenario(
        "native_crash",
        &[&sentry.url(), &item_id, shot.to_str().expect("path")],
    )
    .await;
    let reason = processed["processed"]["crash_info"]["type"]
        .as_str()
        .unwrap();
    assert_eq!(seen["type"], reason, "{seen}");
    assert_eq!(seen["status"], "processed", "{seen}");
    assert_eq!(seen["signature"], processed["signature"], "{seen}");
    let shown: Vec<String> = strings(&seen["functions"]);
    assert_eq!(shown.len(), expected.len(), "{seen}");
    for (shown, expected) in shown.iter().zip(&expected) {
        assert!(
            shown.contains(expected.as_str()),
            "{shown} is not {expected}: {seen}"
        );
    }
    assert_eq!(strings(&seen["trusts"])[0], "context", "{seen}");
    let threads = seen["threads"].as_array().expect("threads");
    assert_eq!(
        threads.len(),
        processed["processed"]["threads"].as_array().unwrap().len(),
        "{seen}"
    );
    assert_eq!(
        threads.iter().filter(|t| t["open"] == true).count(),
        1,
        "only the crashed thread is open: {seen}"
    );
    let modules = seen["modules"].as_array().expect("modules");
    assert!(!modules.is_empty(), "{seen}");
    assert!(
        modules.iter().any(|m| m.to_string().contains("missing")),
        "the withheld module is marked: {seen}"
    );
    assert!(
        seen["download"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/raw"),
        "{seen}"
    );
    assert!(
        seen["after_reprocess"]["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/items/{item_id}")),
        "{seen}"
    );
    let again =
        support::get_json(&format!("{}/api/items/{event_id}/processed", sentry.url())).await;
    assert_eq!(again["attempt"], 2, "{again}");
}

/// The trace pages: a two-service trace arrives live on `/traces`, opens as one waterfall with
/// its error and log pinned, links to its items and back; screenshots of both pages; a trace of
/// script payloads arrives live and opens, and nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_arrive_live_and_open_as_one_waterfall() {
    use support::envelopes::post as post_envelope;
    use support::trace_envelopes::{TraceSpec, lone_transaction};
    const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const H: &str = "5cf92f3577b34da6a3ce929d0e0e4737";
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    // A fixed start: durations are shown exactly as the floats sent give them, so the expected
    // text must not depend on when the test runs.
    let now = 1_700_000_000.0;
    for (id, name, op, ago, secs) in [
        (
            "6af92f3577b34da6a3ce929d0e0e4738",
            "nightly cleanup",
            "task",
            900.0,
            4.2,
        ),
        (
            "7af92f3577b34da6a3ce929d0e0e4739",
            "GET /health",
            "http.server",
            300.0,
            0.0123,
        ),
    ] {
        post_envelope(&base, 1, lone_transaction(id, name, op, now - ago, secs)).await;
    }
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");

    let mut hostile = TraceSpec::new(H, now - 5.0);
    hostile.root = format!("{SCRIPT}</td></tr></table>");
    hostile.root_op = SVG.into();
    hostile.call = IMG.into();
    hostile.backend = format!("</li></ol>{SCRIPT}");
    hostile.query = SVG.into();
    hostile.error_type = SCRIPT.into();
    hostile.error_value = IMG.into();
    hostile.log = IMG.into();
    hostile.unpinned_log = SVG.into();
    hostile.front_sdk = SVG.into();
    hostile.back_release = IMG.into();
    let bodies = |spec: &TraceSpec| -> Vec<Value> {
        spec.envelopes()
            .into_iter()
            .map(|(project, body)| json!([project, String::from_utf8(body).expect("text")]))
            .collect()
    };
    let spec = json!({
        "trace_id": T,
        "hostile_id": H,
        "live": bodies(&TraceSpec::new(T, now - 60.0)),
        "hostile": bodies(&hostile),
    });
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-traces-envelopes.json");
    std::fs::write(&file, spec.to_string()).expect("write envelopes");
    let out = screenshot_dir();

    let seen = scenario(
        "traces",
        &[
            &base,
            file.to_str().expect("utf-8 path"),
            out.to_str().expect("utf-8 path"),
        ],
    )
    .await;

    // Live: the new trace on top, without a reload.
    assert_eq!(
        strings(&seen["before"]),
        [
            "7af92f3577b34da6a3ce929d0e0e4739",
            "6af92f3577b34da6a3ce929d0e0e4738"
        ],
        "{seen}"
    );
    assert_eq!(strings(&seen["after_live"])[0], T, "{seen}");
    assert_eq!(seen["after_live"].as_array().map(Vec::len), Some(3));
    assert_eq!(seen["fresh"], true, "{seen}");
    assert_eq!(seen["same_document"], true, "the page reloaded: {seen}");
    assert_eq!(seen["live_row"]["name"], "GET /checkout");
    assert_eq!(seen["live_row"]["duration"], "1,234.567 ms");
    let services = strings(&seen["live_row"]["services"]);
    assert!(
        services.contains(&"project 2 · sentry.python · payments@1.4.0".to_string()),
        "{services:?}"
    );

    // The waterfall, opened from the list.
    assert!(
        seen["waterfall_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/traces/{T}")),
        "{seen}"
    );
    let rows = seen["rows"].as_array().expect("rows");
    let shape: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["depth"].as_u64().unwrap_or(99),
                r["description"].as_str().unwrap_or_default(),
                r["duration"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0, "GET /checkout", "1,234.567 ms"),
            (1, "session", "0.001 ms"),
            (1, "SELECT 1", "30.000 ms"),
            (1, "POST http://payments/charge", "800.000 ms"),
            (2, "POST /charge", "650.000 ms"),
            (3, "SELECT * FROM cards WHERE id = %s", "50.000 ms"),
        ],
        "{seen}"
    );
    // Each row's parent is the row above it at one depth less.
    for (at, row) in rows.iter().enumerate().skip(1) {
        let depth = row["depth"].as_u64().unwrap();
        let parent = rows[..at]
            .iter()
            .rev()
            .find(|r| r["depth"].as_u64() == Some(depth - 1))
            .expect("a parent row");
        assert_eq!(row["parent"], parent["span"], "{row}");
    }
    // Bars where the times say: the root across the axis, the call from 100 ms for 800 ms.
    let bar = |at: usize| -> (f64, f64) {
        let b = &rows[at]["bar"];
        (b[0].as_f64().unwrap(), b[1].as_f64().unwrap())
    };
    let near = |a: f64, b: f64| (a - b).abs() < 0.005;
    assert!(near(bar(0).0, 0.0) && near(bar(0).1, 1.0), "{:?}", bar(0));
    assert!(
        near(bar(3).0, 0.081) && near(bar(3).1, 0.648),
        "{:?}",
        bar(3)
    );
    assert!(bar(1).1 > 0.0, "the tiny span is visible");
    // A colour per service.
    assert_eq!(rows[0]["colour"], rows[3]["colour"]);
    assert_ne!(rows[0]["colour"], rows[4]["colour"], "{seen}");
    assert_eq!(rows[4]["colour"], rows[5]["colour"]);
    // The error on the query span, the log on the back end's transaction, the spanless log on
    // the root: markers on the bars and lines under the rows, linked to their items.
    assert_eq!(rows[5]["error_marks"], 1, "{seen}");
    assert_eq!(
        rows[5]["pins"][0]["text"],
        "CardDeclined: card 4242 declined"
    );
    assert_eq!(rows[5]["pins"][0]["at"], "+280.000 ms");
    assert_eq!(rows[4]["log_marks"], 1, "{seen}");
    assert_eq!(rows[4]["pins"][0]["text"], "charging card");
    assert_eq!(rows[0]["log_marks"], 1);
    assert_eq!(rows[0]["pins"][0]["text"], "retrying without a span");
    let error_href = rows[5]["pins"][0]["href"].as_str().expect("a link");
    assert_eq!(
        seen["marker"], error_href,
        "the marker links to the error too"
    );
    assert!(
        seen["error_page"]["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(error_href),
        "{seen}"
    );
    assert_eq!(
        seen["error_page"]["title"],
        "CardDeclined: card 4242 declined"
    );
    assert!(
        seen["back_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/traces/{T}")),
        "{seen}"
    );

    // Script payloads: text on the live list and on the waterfall; nothing ran.
    let list = &seen["hostile_list"];
    assert_eq!(list["executed"], Value::Null, "{seen}");
    assert_eq!(list["injected"], 0, "{seen}");
    assert_eq!(list["name"], format!("{SCRIPT}</td></tr></table>"));
    let trace = &seen["hostile_trace"];
    assert_eq!(trace["executed"], Value::Null, "{seen}");
    assert_eq!(trace["injected"], 0, "{seen}");
    assert_eq!(strings(&trace["scripts"]), ["/static/app.js"]);
    assert_eq!(trace["title"], format!("{SCRIPT}</td></tr></table>"));
    let descriptions = strings(&trace["descriptions"]);
    assert!(descriptions.contains(&IMG.to_string()), "{descriptions:?}");
    assert!(descriptions.contains(&SVG.to_string()), "{descriptions:?}");
    assert!(
        strings(&trace["pins"]).contains(&format!("{SCRIPT}: {IMG}")),
        "{seen}"
    );

    let shots = strings(&seen["shots"]);
    assert_eq!(shots.len(), 4, "{seen}");
    for shot in shots {
        let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{shot} is not a PNG"
        );
        assert!(bytes.len() > 10_000, "{shot} is suspiciously small");
    }
}
