//! Logs: every entry of every `log` item is stored as a row of its own, listed across envelopes
//! and services by `/api/logs/` (filters, cursor pages, text search), tailed live by
//! `/api/logs/stream/`, and evicted with its item. Hand-built envelopes from two services pin
//! the shapes down; a version 5 database (before log entries had rows) is migrated and its log
//! items backfilled.

mod support;

use std::path::PathBuf;

use std::process::Command;
use std::time::{Duration, Instant};

use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, Storage};
use futures::StreamExt;
use serde_json::{Value, json};
use support::envelopes::post;
use support::{
    fixture_db_copy, get_json, node_modules, python, repo_root, run_client, user_version,
};

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const U: &str = "1bf7651916cd43dd8448eb211c80319d";

/// An envelope of one `log` item holding `entries`, sent by SDK `sdk` (`name/version`).
fn log_envelope(sdk: (&str, &str), release: &str, environment: &str, entries: &[Value]) -> Vec<u8> {
    let header = json!({"sdk": {"name": sdk.0, "version": sdk.1},
        "trace": {"trace_id": T, "public_key": "public", "release": release,
                  "environment": environment}});
    let payload = json!({"items": entries}).to_string();
    format!(
        "{header}\n{}\n{payload}\n",
        json!({"type": "log", "length": payload.len(), "item_count": entries.len(),
               "content_type": "application/vnd.sentry.items.log+json"})
    )
    .into_bytes()
}

/// One log entry as the SDKs send it.
fn entry(ts: f64, level: &str, body: &str, trace_id: &str, attributes: Value) -> Value {
    let severity = match level {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" => 13,
        "error" => 17,
        _ => 21,
    };
    json!({"timestamp": ts, "trace_id": trace_id, "span_id": "b0e6f15b45c36b12",
           "level": level, "body": body, "severity_number": severity,
           "attributes": attributes})
}

/// Two services' logs: a Python backend (project 1, production) and a Node frontend
/// (project 2, staging).
async fn send_two_services(base: &str) {
    let python = [
        entry(
            1_700_000_000.125,
            "info",
            "order 17 accepted",
            T,
            json!({"service.name": {"value": "orders", "type": "string"},
                     "order.id": {"value": 17, "type": "integer"},
                     "sentry.release": {"value": "orders@1.0.0", "type": "string"}}),
        ),
        entry(
            1_700_000_001.5,
            "warn",
            "payment slow for order 17",
            T,
            json!({"service.name": {"value": "orders", "type": "string"},
                     "elapsed_ms": {"value": 2400.5, "type": "double"}}),
        ),
        entry(
            1_700_000_002.0,
            "error",
            "payment declined",
            U,
            json!({"service.name": {"value": "orders", "type": "string"},
                     "card": {"value": "visa-4242", "type": "string"}}),
        ),
    ];
    post(
        base,
        1,
        log_envelope(
            ("sentry.python", "2.75.0"),
            "orders@1.0.0",
            "production",
            &python,
        ),
    )
    .await;
    let node = [
        entry(
            1_700_000_000.5,
            "debug",
            "rendering checkout",
            T,
            json!({"route": {"value": "/checkout", "type": "string"}}),
        ),
        entry(
            1_700_000_003.25,
            "info",
            "checkout shown",
            T,
            json!({"sentry.environment": {"value": "staging", "type": "string"}}),
        ),
    ];
    post(
        base,
        2,
        log_envelope(
            ("sentry.javascript.node", "10.78.0"),
            "web@3.1.0",
            "staging",
            &node,
        ),
    )
    .await;
}

/// Writes `testdata/db/<FIXTURE_NAME>.sqlite` with this build: the two services' logs through
/// the real ingest path into a file. `v5.sqlite` was written on the last commit of schema
/// version 5 (see `testdata/db/README.md`).
#[tokio::test]
#[ignore = "writes a fixture database; run by hand, see testdata/db/README.md"]
async fn write_log_fixture_database() {
    let out = PathBuf::from(std::env::var("FIXTURE_OUT").expect("FIXTURE_OUT: a directory"));
    let name = std::env::var("FIXTURE_NAME").expect("FIXTURE_NAME: e.g. v5");
    let dir = std::env::temp_dir().join(format!("fake-sentry-log-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("fixture.sqlite");
    let config = Config {
        storage: Storage::File(db.clone()),
        ..Config::ephemeral()
    };
    let sentry = FakeSentry::start_with(config).await.expect("start");
    send_two_services(&sentry.url()).await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");
    sentry.shutdown().await;
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(conn);
    std::fs::copy(&db, out.join(format!("{name}.sqlite"))).expect("copy the database");
    let _ = std::fs::remove_dir_all(&dir);
}

fn bodies(list: &Value) -> Vec<&str> {
    list["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("no logs in {list}"))
        .iter()
        .map(|l| l["body"].as_str().unwrap_or_default())
        .collect()
}

async fn logs(base: &str, query: &str) -> Value {
    get_json(&format!("{base}/api/logs/?{query}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_from_two_services_list_filter_and_page() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send_two_services(&base).await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");

    let all = logs(&base, "").await;
    assert_eq!(
        bodies(&all),
        [
            "checkout shown",
            "payment declined",
            "payment slow for order 17",
            "rendering checkout",
            "order 17 accepted"
        ],
        "newest first by the entry's own time"
    );
    let first = &all["logs"][4];
    assert_eq!(
        first["timestamp"], 1_700_000_000.125,
        "the time exactly as sent"
    );
    assert_eq!(first["time"], "2023-11-14T22:13:20.125Z");
    assert_eq!(first["level"], "info");
    assert_eq!(first["severity_number"], 9);
    assert_eq!(first["trace_id"], T);
    assert_eq!(first["span_id"], "b0e6f15b45c36b12");
    assert_eq!(first["project_id"], 1);
    assert_eq!(first["service"]["name"], "orders");
    assert_eq!(
        first["service"]["sdk"],
        json!({"name": "sentry.python", "version": "2.75.0"})
    );
    assert_eq!(first["service"]["release"], "orders@1.0.0");
    assert_eq!(first["environment"], "production");
    assert_eq!(
        first["attributes"]["order.id"],
        json!({"value": 17, "type": "integer"})
    );
    let item = get_json(&format!(
        "{base}/api/items/{}",
        first["item_id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(item["item"]["type"], "log");
    // Without a service.name attribute, the service is the SDK's.
    assert_eq!(all["logs"][0]["service"]["name"], "sentry.javascript.node");
    assert_eq!(all["logs"][0]["environment"], "staging");

    let cases = [
        ("level=info", vec!["checkout shown", "order 17 accepted"]),
        (
            "level=warning&level=error",
            vec!["payment declined", "payment slow for order 17"],
        ),
        (
            "level=debug,error",
            vec!["payment declined", "rendering checkout"],
        ),
        (
            "min_level=warn",
            vec!["payment declined", "payment slow for order 17"],
        ),
        ("min_level=warn&level=info", vec![]),
        (
            "service=orders",
            vec![
                "payment declined",
                "payment slow for order 17",
                "order 17 accepted",
            ],
        ),
        (
            "service=sentry.javascript.node",
            vec!["checkout shown", "rendering checkout"],
        ),
        (&format!("trace_id={U}"), vec!["payment declined"]),
        ("project=2", vec!["checkout shown", "rendering checkout"]),
        (
            "environment=production&level=info",
            vec!["order 17 accepted"],
        ),
        (
            "since=1700000001.5&until=1700000003",
            vec!["payment declined", "payment slow for order 17"],
        ),
        (
            "since=2023-11-14T22:13:22Z",
            vec!["checkout shown", "payment declined"],
        ),
        // Text in the body, in any case, and in attribute values (the trigram index).
        (
            "q=ORDER%2017",
            vec!["payment slow for order 17", "order 17 accepted"],
        ),
        ("q=visa-4242", vec!["payment declined"]),
        ("q=%2Fcheckout", vec!["rendering checkout"]),
        (
            "q=17&service=orders",
            vec!["payment slow for order 17", "order 17 accepted"],
        ),
        ("q=nowhere", vec![]),
    ];
    for (query, want) in cases {
        assert_eq!(bodies(&logs(&base, query).await), want, "{query}");
    }

    // Cursor pages: two at a time, in the same order as the whole list.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let page = logs(
            &base,
            &match &cursor {
                Some(c) => format!("limit=2&cursor={c}"),
                None => "limit=2".into(),
            },
        )
        .await;
        seen.extend(bodies(&page).into_iter().map(str::to_string));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, bodies(&all));

    for bad in [
        "min_level=loud",
        "trace_id=xyz",
        "since=yesterday",
        "cursor=abc",
        "project=x",
    ] {
        let reply = reqwest::get(format!("{base}/api/logs/?{bad}"))
            .await
            .expect("get");
        assert_eq!(reply.status(), 400, "{bad}");
        let body: Value = reply.json().await.expect("json");
        assert!(body.to_string().len() < 400, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_past_the_limit_are_counted_and_rows_go_with_their_item() {
    let config = Config {
        limits: fake_sentry::Limits {
            max_log_entries: 2,
            ..Default::default()
        },
        max_items: 2,
        ..Config::ephemeral()
    };
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let base = sentry.url();
    send_two_services(&base).await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");
    let all = logs(&base, "").await;
    assert_eq!(
        bodies(&all),
        [
            "checkout shown",
            "payment slow for order 17",
            "rendering checkout",
            "order 17 accepted"
        ]
    );
    assert_eq!(all["entries_dropped"], 1);

    // A third item evicts the first (max_items 2): its entries go, text and all.
    post(
        &base,
        3,
        log_envelope(
            ("sentry.go", "0.30.0"),
            "go@1",
            "production",
            &[entry(1_700_000_009.0, "info", "go says hi", T, json!({}))],
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = logs(&base, "").await;
        if bodies(&now) == ["go says hi", "checkout shown", "rendering checkout"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first item's entries stayed: {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bodies(&logs(&base, "q=order").await), Vec::<&str>::new());
    assert_eq!(
        bodies(&logs(&base, "service=orders").await),
        Vec::<&str>::new()
    );
}

async fn read_sse(response: reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&text) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled: {text}"))
            .expect("stream open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_tail_sends_new_entries_that_match() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let response = reqwest::get(format!("{base}/api/logs/stream/?min_level=warn"))
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    send_two_services(&base).await;
    let text = read_sse(response, |t| t.contains("payment declined")).await;
    assert!(text.contains("event: log"), "{text}");
    assert!(text.contains("payment slow for order 17"), "{text}");
    for below in ["order 17 accepted", "rendering checkout", "checkout shown"] {
        assert!(!text.contains(below), "{below} is below warn: {text}");
    }
    // Resuming after an entry sends only what follows it.
    let all = logs(&base, "").await;
    let oldest_id = all["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .min()
        .unwrap();
    let resumed = reqwest::Client::new()
        .get(format!("{base}/api/logs/stream/?service=orders"))
        .header("last-event-id", oldest_id.to_string())
        .send()
        .await
        .expect("stream");
    let text = read_sse(resumed, |t| t.contains("payment declined")).await;
    assert!(!text.contains("order 17 accepted"), "{text}");
    assert!(text.contains("payment slow"), "{text}");
    let bad = reqwest::get(format!("{base}/api/logs/stream/?level=info&trace_id=nope"))
        .await
        .expect("get");
    assert_eq!(bad.status(), 400);
}

/// A database written at schema version 5 (before log entries had rows of their own) migrates
/// in place, and its log items' entries are read back into rows.
#[tokio::test]
async fn a_version_5_database_gets_its_log_entries_backfilled() {
    let (dir, db) = fixture_db_copy("v5");
    assert_eq!(user_version(&db), 5);
    let config = Config {
        storage: Storage::File(db.clone()),
        ..Config::ephemeral()
    };
    let sentry = FakeSentry::start_with(config)
        .await
        .expect("start on the v5 file");
    assert_eq!(user_version(&db), 7, "migrated in place");
    let base = sentry.url();
    let all = logs(&base, "").await;
    assert_eq!(
        bodies(&all),
        [
            "checkout shown",
            "payment declined",
            "payment slow for order 17",
            "rendering checkout",
            "order 17 accepted"
        ]
    );
    assert_eq!(all["logs"][4]["service"]["name"], "orders");
    assert_eq!(all["logs"][4]["service"]["sdk"]["name"], "sentry.python");
    assert_eq!(bodies(&logs(&base, "q=visa").await), ["payment declined"]);
    sentry.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

const SCRIPT: &str = "<script>alert('log')</script>";

/// `text` as the pages escape it (askama's HTML escaping).
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The bodies of the `/logs` page's rows, top to bottom, unescaped.
fn page_bodies(html: &str) -> Vec<String> {
    html.split("<span class=\"body\">")
        .skip(1)
        .map(|s| {
            s.split("</span>")
                .next()
                .unwrap_or_default()
                .replace("&#60;", "<")
                .replace("&#62;", ">")
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&#38;", "&")
        })
        .collect()
}

/// A query of the `/logs` page, the form fields it sets, and the bodies it lists.
type PageCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

/// The `/logs` page's filter form.
fn form_of(html: &str) -> &str {
    let start = html.find("<form").expect("a form");
    let end = html[start..].find("</form>").expect("</form>") + start;
    &html[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_page_lists_filters_and_escapes() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send_two_services(&base).await;
    let hostile = [entry(
        1_700_000_005.0,
        "error\"><img src=x>",
        SCRIPT,
        T,
        json!({"<b>key</b>": {"value": SCRIPT, "type": "string"},
               "service.name": {"value": "\"><svg onload=alert(1)>", "type": "string"}}),
    )];
    post(
        &base,
        1,
        log_envelope(("sentry.python", "2.75.0"), "x", "production", &hostile),
    )
    .await;
    sentry
        .wait_for(Default::default(), 3)
        .await
        .expect("stored");

    let page = |query: &'static str| {
        let base = base.clone();
        async move {
            let reply = reqwest::get(format!("{base}/logs?{query}"))
                .await
                .expect("get");
            assert_eq!(reply.status(), 200, "{query}");
            reply.text().await.expect("text")
        }
    };
    let html = page("").await;
    for raw in [SCRIPT, "<b>key</b>", "<svg onload", "<img src=x>"] {
        assert!(!html.contains(raw), "{raw} unescaped");
    }
    assert!(
        html.contains("&#60;script&#62;alert("),
        "the body shows as text: {html}"
    );
    assert!(
        html.contains("&#60;b&#62;key&#60;/b&#62;"),
        "the attribute key shows as text"
    );
    assert!(
        html.contains(&format!("href=\"/traces/{T}\"")),
        "trace link"
    );
    assert!(html.contains("href=\"/items/"), "item link");
    assert!(html.contains("payment declined") && html.contains("checkout shown"));
    assert!(
        html.contains("data-stream=\"/api/logs/stream/?after="),
        "live tail"
    );

    let filtered = page("level=warn").await;
    assert!(filtered.contains("payment slow for order 17"));
    assert!(!filtered.contains("checkout shown") && !filtered.contains("payment declined"));
    assert!(filtered.contains("level=warn"), "the tail keeps the filter");

    // Every other filter of the form: the rows that match, the form showing the value back,
    // the live tail and the "Clear" link keeping it.
    let cases: [PageCase; 9] = [
        (
            "service=orders",
            &[("service", "orders")],
            &[
                "payment declined",
                "payment slow for order 17",
                "order 17 accepted",
            ],
        ),
        (
            "service=sentry.javascript.node",
            &[("service", "sentry.javascript.node")],
            &["checkout shown", "rendering checkout"],
        ),
        (
            "service=%22%3E%3Csvg%20onload%3Dalert(1)%3E",
            &[("service", "\"><svg onload=alert(1)>")],
            &[SCRIPT],
        ),
        (
            "trace_id=1BF7651916CD43DD8448EB211C80319D",
            &[("trace_id", "1BF7651916CD43DD8448EB211C80319D")],
            &["payment declined"],
        ),
        (
            "since=1700000001.5&until=1700000003",
            &[("since", "1700000001.5"), ("until", "1700000003")],
            &["payment declined", "payment slow for order 17"],
        ),
        (
            "since=2023-11-14T22:13:20.400Z&until=2023-11-14T22:13:23Z",
            &[
                ("since", "2023-11-14T22:13:20.400Z"),
                ("until", "2023-11-14T22:13:23Z"),
            ],
            &[
                "payment declined",
                "payment slow for order 17",
                "rendering checkout",
            ],
        ),
        (
            "q=ORDER%2017",
            &[("q", "ORDER 17")],
            &["payment slow for order 17", "order 17 accepted"],
        ),
        // Text in an attribute's value, not the body.
        ("q=visa-4242", &[("q", "visa-4242")], &["payment declined"]),
        (
            "q=17&service=orders&min_level=warn&until=1700000004",
            &[
                ("q", "17"),
                ("service", "orders"),
                ("min_level", "warn"),
                ("until", "1700000004"),
            ],
            &["payment slow for order 17"],
        ),
    ];
    for (query, fields, want) in cases {
        let html = page(query).await;
        assert_eq!(page_bodies(&html), want, "{query}");
        for (name, value) in fields {
            let form = form_of(&html);
            let control = form
                .split('<')
                .find(|tag| tag.contains(&format!(" name=\"{name}\"")))
                .unwrap_or_else(|| panic!("{query}: no control {name}: {form}"));
            let shown = if *name == "min_level" {
                let select = &form[form.find(control).expect("the select")..];
                let select = &select[..select.find("</select>").expect("</select>")];
                select.contains(&format!("<option selected>{value}</option>"))
            } else {
                control.contains(&format!(" value=\"{}\"", escaped(value)))
            };
            assert!(shown, "{query}: the form shows {name}={value}: {form}");
        }
        // The attribute as the browser reads it (`&` is escaped either way).
        let tail = html
            .split("data-stream=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{query}: no live tail"))
            .replace("&amp;", "&")
            .replace("&#38;", "&");
        for (name, _) in fields {
            assert!(
                tail.contains(&format!("&{name}=")),
                "{query}: the tail keeps {name}: {tail}"
            );
        }
        assert!(html.contains("<a class=\"button ghost\" href=\"/logs\">Clear</a>"));
        for raw in [SCRIPT, "<svg onload"] {
            assert!(!html.contains(raw), "{query}: {raw} unescaped");
        }
    }
    let none = page("q=nowhere&service=orders").await;
    assert!(page_bodies(&none).is_empty());
    assert!(none.contains("No log entries match these filters."));
    for bad in ["trace_id=xyz", "since=yesterday", "until=soon"] {
        let reply = reqwest::get(format!("{base}/logs?{bad}"))
            .await
            .expect("get");
        assert_eq!(reply.status(), 400, "{bad}");
    }
    let bad = reqwest::get(format!("{base}/logs?min_level=loud"))
        .await
        .expect("get");
    assert_eq!(bad.status(), 400);
    let nav = page("").await;
    assert!(nav.contains("<a href=\"/logs\">Logs</a>"));
}

/// The real SDKs' logs: Python `sentry_sdk.logger` (enable_logs=True) and `@sentry/node`'s
/// `Sentry.logger` (enableLogs: true), both in `/api/logs/` with levels, attributes and traces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_node_sdk_logs_arrive() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let clients = repo_root().join("fake-sentry/tests/clients");
    let mut py = Command::new(python());
    py.arg(clients.join("logs_python.py")).arg(sentry.dsn(1));
    let py_sent = tokio::task::spawn_blocking(move || run_client(py))
        .await
        .expect("python");
    let mut node = Command::new("node");
    node.arg(clients.join("logs_node.mjs"))
        .arg(sentry.dsn(2))
        .env("SENTRY_NODE_MODULES", node_modules());
    let node_sent = tokio::task::spawn_blocking(move || run_client(node))
        .await
        .expect("node");

    let deadline = Instant::now() + Duration::from_secs(15);
    let all = loop {
        let all = logs(&base, "").await;
        if all["logs"].as_array().is_some_and(|l| l.len() >= 4) {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "the SDKs' logs did not arrive: {all}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let find = |body: &str| -> Value {
        all["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["body"] == body)
            .unwrap_or_else(|| panic!("no {body:?} in {all}"))
            .clone()
    };
    let py_info = find("python order 42 placed");
    assert_eq!(py_info["level"], "info");
    assert_eq!(py_info["project_id"], 1);
    assert_eq!(py_info["trace_id"], py_sent["trace_id"]);
    assert!(
        py_info["service"]["sdk"]["name"]
            .as_str()
            .unwrap()
            .starts_with("sentry.python"),
        "{py_info}"
    );
    assert_eq!(
        py_info["attributes"]["sentry.message.parameter.order_id"]["value"], 42,
        "{py_info}"
    );
    assert_eq!(py_info["service"]["release"], "py-logs@1.0.0");
    let py_warn = find("python stock low");
    assert_eq!(py_warn["level"], "warn");

    let node_info = find("node cart 7 opened");
    assert_eq!(node_info["level"], "info");
    assert_eq!(node_info["project_id"], 2);
    assert_eq!(node_info["trace_id"], node_sent["trace_id"]);
    assert_eq!(
        node_info["service"]["sdk"]["name"],
        "sentry.javascript.node"
    );
    assert_eq!(node_info["attributes"]["cartId"]["value"], 7);
    assert_eq!(find("node payment failed")["level"], "error");

    let errors = logs(&base, "min_level=error").await;
    assert_eq!(bodies(&errors), ["node payment failed"]);
    let by_trace = logs(
        &base,
        &format!("trace_id={}", py_sent["trace_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(by_trace["logs"].as_array().unwrap().len(), 2, "{by_trace}");
}
