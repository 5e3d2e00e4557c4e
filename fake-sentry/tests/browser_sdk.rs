//! The real `@sentry/browser` SDK in headless Chromium, from a page on a second origin: the
//! browser's CORS checks, the auth the SDK puts in the query string, and every item it sends,
//! read back through the HTTP API.
//!
//! `tests/browser/sentry_browser.mjs` bundles a page script with esbuild, serves it from its own
//! server on 127.0.0.1:0 and drives Debian's Chromium with playwright-core; it prints what the
//! page and the browser saw, and the assertions are here. The clients (Chromium, node, and
//! @sentry/browser, esbuild and playwright-core in `.clients/node`) come from
//! `scripts/setup-test-clients`; without them the test is skipped with a note, or fails when
//! every client is required (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, CI).

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::{get_json, item_by_event_id, raised_exception, repo_root, run_client};

/// The @sentry/browser release `scripts/setup-test-clients` pins (with @sentry/node's).
const SDK_VERSION: &str = "10.78.0";
const MARKER: &str = "understudy-marker-7f3c";

/// `.clients/node/node_modules` with the pinned @sentry/browser, esbuild and playwright-core,
/// and Chromium and node to run them; `None` after [`test_clients::skip_or_fail`] otherwise.
fn browser_clients(what: &str) -> Option<PathBuf> {
    let modules = repo_root().join(".clients/node/node_modules");
    let chromium = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    let sdk_version = std::fs::read_to_string(modules.join("@sentry/browser/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|package| package["version"].as_str().map(str::to_string));
    let why = if !chromium.exists() {
        format!("{} does not exist", chromium.display())
    } else if Command::new("node").arg("--version").output().is_err() {
        "node is not on PATH".to_string()
    } else if sdk_version.as_deref() != Some(SDK_VERSION) {
        format!(
            "{} has @sentry/browser {sdk_version:?}, not {SDK_VERSION}",
            modules.display()
        )
    } else if let Some(missing) = ["esbuild", "playwright-core"]
        .into_iter()
        .find(|name| !modules.join(name).join("package.json").exists())
    {
        format!("{missing} is not in {}", modules.display())
    } else {
        return Some(modules);
    };
    test_clients::skip_or_fail(what, &format!("{why}; run scripts/setup-test-clients"));
    None
}

/// Waits through `GET /api/wait/` until `count` items match `query`, and returns them.
async fn wait(base: &str, query: &str, count: usize) -> Vec<Value> {
    let answer = get_json(&format!(
        "{base}/api/wait/?{query}&count={count}&timeout=20"
    ))
    .await;
    assert_eq!(
        answer["satisfied"], true,
        "{count} items matching {query} did not arrive: {answer}"
    );
    answer["items"].as_array().expect("items").clone()
}

fn header<'a>(headers: &'a Value, name: &str) -> &'a str {
    headers[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} header in {headers}"))
}

/// The comma-separated list of a header, lower-cased.
fn header_list(headers: &Value, name: &str) -> BTreeSet<String> {
    header(headers, name)
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sdk_sends_from_a_second_origin() {
    let Some(modules) = browser_clients("the @sentry/browser test in tests/browser_sdk.rs") else {
        return;
    };
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("fake-sentry/tests/browser/sentry_browser.mjs"))
        .arg(sentry.dsn(1))
        .arg(MARKER)
        .env("SENTRY_NODE_MODULES", &modules);
    let seen = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("scenario thread");
    let page = &seen["page"];
    let origin = seen["page_origin"].as_str().expect("page origin");
    assert_ne!(origin, base, "the page must be on a second origin");

    // The page ran to the end: the SDK reported every event sent and answered, and flushed.
    assert_eq!(page["errors"], json!([]), "{seen}");
    assert_eq!(page["flushed"], true, "{seen}");
    let watch = &seen["watch"];
    assert_eq!(watch["dialogs"], json!([]), "{seen}");
    assert_eq!(watch["consoleErrors"], json!([]), "{seen}");
    // The one uncaught error is the page's own, thrown on purpose.
    assert_eq!(
        watch["pageErrors"],
        json!([format!("Error: browser uncaught {MARKER}")]),
        "{seen}"
    );
    for sent in page["sent"].as_array().expect("sent") {
        assert_eq!(sent["status"], 200, "the SDK saw a failed send: {seen}");
    }

    // CORS as Chromium needs it. Every request the page made to fake-sentry carried the page's
    // Origin and was answered, with an Access-Control-Allow-Origin that lets the page read it.
    let requests = seen["sentry_requests"].as_array().expect("requests");
    let mut sdk_requests = 0;
    for request in requests {
        assert!(request.get("failure").is_none(), "blocked: {request}");
        assert_eq!(request["status"], 200, "{request}");
        assert_eq!(header(&request["request_headers"], "origin"), origin);
        let allowed = header(&request["response_headers"], "access-control-allow-origin");
        assert!(allowed == "*" || allowed == origin, "{request}");
        let url = reqwest::Url::parse(request["url"].as_str().expect("url")).expect("url");
        assert_eq!(request["method"], "POST", "{request}");
        assert_eq!(url.path(), "/api/1/envelope/", "{request}");
        if url.query().is_none() {
            continue; // the page's hand-made post, below
        }
        // The SDK: auth in the query string, a CORS-safelisted content type (no preflight).
        sdk_requests += 1;
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |key: &str| {
            let values: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(values.len(), 1, "{key} in {url}");
            values[0].to_string()
        };
        assert_eq!(get("sentry_key"), "public");
        assert_eq!(get("sentry_version"), "7");
        assert_eq!(
            get("sentry_client"),
            format!("sentry.javascript.browser/{SDK_VERSION}")
        );
        assert_eq!(
            header(&request["request_headers"], "content-type"),
            "text/plain;charset=UTF-8"
        );
        assert!(
            request["request_headers"].get("x-sentry-auth").is_none(),
            "{request}"
        );
    }
    assert!(sdk_requests >= 4, "the SDK sent too little: {seen}");
    assert_eq!(requests.len(), sdk_requests + 1, "{seen}");

    // The one preflight is for the hand-made post (content type and X-Sentry-Auth are not
    // safelisted): the SDK's own requests need none. fake-sentry allowed it for the page.
    let preflights = seen["preflights"].as_array().expect("preflights");
    assert_eq!(preflights.len(), 1, "{seen}");
    let preflight = &preflights[0];
    assert!(preflight.get("failure").is_none(), "{preflight}");
    assert_eq!(preflight["method"], "OPTIONS");
    assert!(
        preflight["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/api/1/envelope/"),
        "{preflight}"
    );
    let status = preflight["status"].as_u64().expect("preflight status");
    assert!((200..300).contains(&status), "{preflight}");
    let asked = &preflight["request_headers"];
    assert_eq!(header(asked, "origin"), origin);
    assert_eq!(header(asked, "access-control-request-method"), "POST");
    let answered = &preflight["response_headers"];
    let allowed = header(answered, "access-control-allow-origin");
    assert!(allowed == "*" || allowed == origin, "{preflight}");
    assert!(
        header_list(answered, "access-control-allow-methods").contains("post"),
        "{preflight}"
    );
    let allowed_headers = header_list(answered, "access-control-allow-headers");
    for wanted in header_list(asked, "access-control-request-headers") {
        assert!(allowed_headers.contains(&wanted), "{wanted}: {preflight}");
    }
    let preflighted = &page["preflighted"];
    assert_eq!(preflighted["status"], 200, "{seen}");
    let preflighted_id = preflighted["event_id"].as_str().expect("event id");
    wait(&base, &format!("event_id={preflighted_id}"), 1).await;
    let item = item_by_event_id(&base, preflighted_id, "event").await;
    assert_eq!(item["envelope"]["auth_source"], "x_sentry_auth");
    assert_eq!(
        item["payload"]["message"],
        format!("browser preflighted {MARKER}")
    );

    // What the SDK sent, read back through the API.
    let event_id = |key: &str| page[key].as_str().expect(key).to_string();
    let sent_id = |predicate: &dyn Fn(&Value) -> bool| {
        let found: Vec<&Value> = page["sent"]
            .as_array()
            .expect("sent")
            .iter()
            .filter(|s| predicate(s))
            .collect();
        assert_eq!(found.len(), 1, "{seen}");
        found[0]["event_id"].as_str().expect("event id").to_string()
    };
    let error_id = event_id("error_event_id");
    let message_id = event_id("message_event_id");
    let uncaught_id =
        sent_id(&|s| s["value"].as_str() == Some(&format!("browser uncaught {MARKER}")));
    let pageload_id = sent_id(&|s| s["type"] == "transaction" && s["op"] == "pageload");
    for id in [&error_id, &message_id, &uncaught_id, &pageload_id] {
        wait(&base, &format!("event_id={id}"), 1).await;
    }

    // The caught error: its exception and the stack trace through inner() and outer().
    let error = item_by_event_id(&base, &error_id, "event").await;
    let envelope = &error["envelope"];
    assert_eq!(envelope["auth_source"], "query");
    assert_eq!(envelope["public_key"], "public");
    assert_eq!(
        envelope["client"],
        format!("sentry.javascript.browser/{SDK_VERSION}")
    );
    assert_eq!(envelope["content_type"], "text/plain;charset=UTF-8");
    assert_eq!(envelope["http_headers"]["origin"], origin);
    assert_eq!(error["item"]["sdk"]["name"], "sentry.javascript.browser");
    assert_eq!(error["item"]["sdk"]["version"], SDK_VERSION);
    assert_eq!(error["item"]["platform"], "javascript");
    assert_eq!(error["item"]["level"], "error");
    assert_eq!(
        error["item"]["summary"],
        format!("Error: browser error {MARKER}")
    );
    let payload = &error["payload"];
    let exception = raised_exception(payload);
    assert_eq!(exception["type"], "Error");
    assert_eq!(exception["value"], format!("browser error {MARKER}"));
    assert_eq!(exception["mechanism"]["handled"], true);
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    let functions: Vec<&str> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap_or_default())
        .collect();
    // Innermost last, as Sentry orders frames.
    assert!(
        functions.ends_with(&["outer", "inner"]),
        "frames: {functions:?}"
    );
    for frame in frames {
        assert_eq!(frame["filename"], format!("{origin}/bundle.js"), "{frame}");
        assert!(frame["lineno"].as_u64().unwrap_or(0) > 0, "{frame}");
    }
    assert_eq!(payload["request"]["url"], format!("{origin}/"));
    let trace_id = payload["contexts"]["trace"]["trace_id"]
        .as_str()
        .expect("the error carries the pageload's trace")
        .to_string();

    let message = item_by_event_id(&base, &message_id, "event").await;
    assert_eq!(
        message["payload"]["message"],
        format!("browser message {MARKER}")
    );
    assert_eq!(message["payload"]["level"], "info");
    assert_eq!(message["envelope"]["auth_source"], "query");

    // The uncaught error, through the SDK's wrapping of setTimeout.
    let uncaught = item_by_event_id(&base, &uncaught_id, "event").await;
    let exception = raised_exception(&uncaught["payload"]);
    assert_eq!(exception["value"], format!("browser uncaught {MARKER}"));
    assert_eq!(exception["mechanism"]["handled"], false, "{exception}");
    assert!(
        exception["mechanism"]["type"]
            .as_str()
            .unwrap_or_default()
            .starts_with("auto.browser."),
        "{exception}"
    );

    // The pageload transaction: its spans include the page's own, the fetch, and the browser's
    // navigation timings, and the fetch carried the same trace to the page's server.
    let transaction = item_by_event_id(&base, &pageload_id, "transaction").await;
    assert_eq!(transaction["envelope"]["auth_source"], "query");
    let payload = &transaction["payload"];
    assert_eq!(payload["type"], "transaction");
    assert_eq!(payload["transaction"], "/");
    assert_eq!(payload["contexts"]["trace"]["op"], "pageload");
    assert_eq!(payload["contexts"]["trace"]["trace_id"], trace_id.as_str());
    let spans = payload["spans"].as_array().expect("spans");
    let span = |op: &str, description: &str| {
        spans
            .iter()
            .find(|s| s["op"] == op && s["description"] == description)
            .unwrap_or_else(|| panic!("no {op} span {description:?} in {payload}"))
    };
    // The browser SDK has no async context: every span is a child of the root
    // (`parentSpanIsAlwaysRootSpan`), the fetch in load-widget's callback too.
    let root = &payload["contexts"]["trace"]["span_id"];
    assert!(root.is_string(), "{payload}");
    assert_eq!(span("ui.widget", "load-widget")["parent_span_id"], *root);
    assert_eq!(
        span("http.client", "GET /data.json")["parent_span_id"],
        *root
    );
    assert!(
        spans.iter().any(|s| s["op"]
            .as_str()
            .is_some_and(|op| op.starts_with("browser."))),
        "no navigation-timing spans: {payload}"
    );
    for span in spans {
        assert_eq!(span["trace_id"], trace_id.as_str(), "{span}");
    }
    let sentry_trace = header(&seen["data_request_headers"], "sentry-trace");
    assert!(
        sentry_trace.starts_with(&format!("{trace_id}-")),
        "{sentry_trace}"
    );

    // Release health: the session started at init, and crashed with the uncaught error.
    let sessions = get_json(&format!("{base}/api/items/?type=session&order=asc")).await;
    let sessions = sessions["items"].as_array().expect("items");
    assert!(!sessions.is_empty(), "no session");
    let mut statuses = Vec::new();
    for summary in sessions {
        let session = get_json(&format!(
            "{base}/api/items/{}",
            summary["id"].as_str().unwrap()
        ))
        .await;
        assert_eq!(session["envelope"]["auth_source"], "query");
        assert_eq!(session["payload"]["attrs"]["release"], "browser-test@1");
        statuses.push(
            session["payload"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("ok"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("crashed"),
        "{statuses:?}"
    );

    // Everything stored came from the page (the SDK's items, and the one hand-made event), and
    // nothing was refused.
    let all = get_json(&format!("{base}/api/items/?limit=1000")).await;
    let all = all["items"].as_array().expect("items");
    let types: BTreeSet<&str> = all.iter().filter_map(|i| i["type"].as_str()).collect();
    // A client report (outcomes of dropped events) may come when the page is hidden; none
    // is expected, as nothing was dropped, but it would not be a fault.
    let expected = BTreeSet::from(["event", "session", "transaction"]);
    assert!(
        types.is_superset(&expected) && types.difference(&expected).all(|t| *t == "client_report"),
        "{types:?}: {all:?}"
    );
    let events = all.iter().filter(|i| i["type"] == "event").count();
    assert_eq!(
        events, 4,
        "error, message, uncaught error, hand-made: {all:?}"
    );
    let refusals = get_json(&format!("{base}/api/refusals/")).await;
    assert_eq!(refusals["total"], 0, "{refusals}");
}
