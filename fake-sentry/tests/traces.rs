//! Traces: every item records the trace it takes part in; `trace_id` filters items, waits and
//! streams; `/api/traces/` lists traces and `/api/traces/{id}` answers one as a tree across
//! services. Hand-built envelopes pin the shapes down; a real `@sentry/node` service calling a
//! real Python `sentry-sdk` service over loopback shows one distributed trace end to end.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, ItemFilter, Storage};
use futures::StreamExt;
use serde_json::{Value, json};
use support::envelopes::{envelope, post};
use support::{
    fixture_db_copy, get_json, node_modules, python, repo_root, run_client, user_version,
};

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const U: &str = "1bf7651916cd43dd8448eb211c80319d";
const OTHER: &str = "2cf7651916cd43dd8448eb211c80319e";

fn sdk(name: &str, version: &str) -> Value {
    json!({"name": name, "version": version})
}

/// Project 1 (a Node service): transaction "GET /" whose span a1 calls project 2.
fn frontend_transaction() -> Vec<u8> {
    envelope(
        json!({"event_id": "a0000000000000000000000000000001", "trace": {"trace_id": T}}),
        &[(
            "transaction",
            json!({
                "event_id": "a0000000000000000000000000000001", "type": "transaction",
                "transaction": "GET /", "start_timestamp": 100.0, "timestamp": 101.0,
                "release": "front@1", "environment": "test",
                "sdk": sdk("sentry.javascript.node", "10.78.0"),
                "contexts": {"trace": {"trace_id": T, "span_id": "a000000000000000",
                                       "op": "http.server", "status": "ok"}},
                "spans": [
                    {"span_id": "a100000000000000", "parent_span_id": "a000000000000000",
                     "trace_id": T, "op": "http.client", "description": "GET http://back/work",
                     "start_timestamp": 100.1, "timestamp": 100.6, "status": "ok"},
                    {"span_id": "a200000000000000", "parent_span_id": "a000000000000000",
                     "trace_id": T, "op": "db", "description": "SELECT 1",
                     "start_timestamp": 100.05, "timestamp": 100.08}
                ]
            }),
        )],
    )
}

/// Project 2 (a Python service): the called transaction, an error in its span, logs and a
/// profile.
fn backend_envelopes() -> Vec<Vec<u8>> {
    let python = || sdk("sentry.python", "2.75.0");
    vec![
        envelope(
            json!({"event_id": "b0000000000000000000000000000001", "trace": {"trace_id": T}}),
            &[(
                "transaction",
                json!({
                    "event_id": "b0000000000000000000000000000001", "type": "transaction",
                    "transaction": "GET /work", "start_timestamp": 100.2, "timestamp": 100.5,
                    "release": "back@2", "environment": "test", "sdk": python(),
                    "contexts": {"trace": {"trace_id": T, "span_id": "b000000000000000",
                                           "parent_span_id": "a100000000000000",
                                           "op": "http.server"}},
                    "spans": [{"span_id": "b100000000000000", "parent_span_id": "b000000000000000",
                               "trace_id": T, "op": "db.query", "description": "SELECT work",
                               "start_timestamp": 100.25, "timestamp": 100.3}]
                }),
            )],
        ),
        envelope(
            json!({"event_id": "b0000000000000000000000000000002", "trace": {"trace_id": T}}),
            &[(
                "event",
                json!({
                    "event_id": "b0000000000000000000000000000002", "level": "error",
                    "timestamp": 100.28, "release": "back@2", "sdk": python(),
                    "exception": {"values": [{"type": "ValueError", "value": "boom"}]},
                    "contexts": {"trace": {"trace_id": T, "span_id": "b100000000000000"}}
                }),
            )],
        ),
        envelope(
            json!({}),
            &[(
                "log",
                json!({"items": [
                    {"timestamp": 100.21, "trace_id": T, "span_id": "b000000000000000",
                     "level": "info", "body": "handling work"},
                    {"timestamp": 100.22, "trace_id": T, "level": "warn", "body": "no span"},
                    {"timestamp": 100.23, "trace_id": OTHER, "level": "info", "body": "elsewhere"}
                ]}),
            )],
        ),
        envelope(
            json!({"event_id": "b0000000000000000000000000000003", "trace": {"trace_id": T}}),
            &[(
                "profile",
                json!({
                    "event_id": "b0000000000000000000000000000003", "platform": "python",
                    "version": "1", "release": "back@2",
                    "transactions": [{"id": "b0000000000000000000000000000001",
                                      "trace_id": T, "name": "GET /work"}],
                    "profile": {"samples": [], "stacks": [], "frames": []}
                }),
            )],
        ),
    ]
}

/// An unrelated trace of project 1, without errors.
fn other_trace() -> Vec<u8> {
    envelope(
        json!({"trace": {"trace_id": U}}),
        &[(
            "transaction",
            json!({
                "event_id": "c0000000000000000000000000000001", "type": "transaction",
                "transaction": "cron", "start_timestamp": 200.0, "timestamp": 200.25,
                "sdk": sdk("sentry.javascript.node", "10.78.0"),
                "contexts": {"trace": {"trace_id": U, "span_id": "c000000000000000", "op": "task"}},
                "spans": []
            }),
        )],
    )
}

async fn send_two_service_trace(base: &str) {
    post(base, 1, frontend_transaction()).await;
    for body in backend_envelopes() {
        post(base, 2, body).await;
    }
}

fn trace_ids(list: &Value) -> Vec<&str> {
    list["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["trace_id"].as_str().expect("trace_id"))
        .collect()
}

/// The member of `node[list]` whose `field` is `value`.
fn member<'a>(node: &'a Value, list: &str, field: &str, value: &str) -> &'a Value {
    node[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list:?} in {node}"))
        .iter()
        .find(|m| m[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value:?} in {list:?} of {node}"))
}

/// The summary of `trace_id` in a `/api/traces/` answer.
fn listed_trace<'a>(list: &'a Value, trace_id: &str) -> &'a Value {
    member(list, "traces", "trace_id", trace_id)
}

#[tokio::test]
async fn the_trace_list_summarises_each_trace_from_the_index() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send_two_service_trace(&base).await;
    post(&base, 1, other_trace()).await;

    // The log item names a third trace, which holds only that log entry.
    let list = get_json(&format!("{base}/api/traces/")).await;
    assert_eq!(trace_ids(&list), [U, T, OTHER], "newest first: {list}");
    assert_eq!(list["traces"][2]["root"], Value::Null);
    assert_eq!(list["traces"][2]["counts"]["logs"], 1);
    let t = &list["traces"][1];
    assert_eq!(t["root"]["name"], "GET /", "{t}");
    assert_eq!(t["root"]["op"], "http.server");
    assert_eq!(t["root"]["project_id"], 1);
    assert_eq!(t["root"]["event_id"], "a0000000000000000000000000000001");
    assert_eq!(t["start_timestamp"], 100.0);
    assert_eq!(t["end_timestamp"], 101.0);
    assert_eq!(t["duration_ms"], 1000.0);
    assert_eq!(
        t["counts"],
        json!({"transactions": 2, "spans": 3, "errors": 1, "logs": 2, "profiles": 1,
               "replays": 0, "items": 5})
    );
    let services: Vec<(u64, &str, &str)> = t["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["project_id"].as_u64().unwrap(),
                s["sdk"].as_str().unwrap_or(""),
                s["release"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        services.contains(&(1, "sentry.javascript.node", "front@1")),
        "{services:?}"
    );
    assert!(
        services.contains(&(2, "sentry.python", "back@2")),
        "{services:?}"
    );
    assert_eq!(list["traces"][0]["duration_ms"], 250.0);

    for (query, want) in [
        ("project=2", vec![T, OTHER]),
        ("sdk=sentry.python", vec![T]),
        ("release=front@1", vec![T]),
        ("has_errors=true", vec![T]),
        ("has_errors=false", vec![U, OTHER]),
        ("q=get%20/", vec![T]),
        ("q=CRON", vec![U]),
        // "GET /work" is a transaction of T, but not its root.
        ("q=work", vec![]),
        ("since=0", vec![U, T, OTHER]),
        ("until=0", vec![]),
    ] {
        let list = get_json(&format!("{base}/api/traces/?{query}")).await;
        assert_eq!(trace_ids(&list), want, "{query}: {list}");
    }

    // Paged by cursor.
    let first = get_json(&format!("{base}/api/traces/?limit=1")).await;
    assert_eq!(trace_ids(&first), [U]);
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    let second = get_json(&format!("{base}/api/traces/?limit=2&cursor={cursor}")).await;
    assert_eq!(trace_ids(&second), [T, OTHER]);
    assert_eq!(second["next_cursor"], Value::Null);

    let bad = reqwest::get(format!("{base}/api/traces/?since=yesterday"))
        .await
        .expect("get");
    assert_eq!(bad.status(), 400);
}

/// The child of `node` whose description is `name`.
fn child<'a>(node: &'a Value, name: &str) -> &'a Value {
    member(node, "children", "description", name)
}

#[tokio::test]
async fn one_trace_is_one_tree_across_services() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send_two_service_trace(&base).await;

    let tree = get_json(&format!("{base}/api/traces/{}", T.to_uppercase())).await;
    assert_eq!(tree["trace_id"], T);
    assert_eq!(tree["truncated"], false);
    assert_eq!(tree["spans_total"], 5);
    let roots = tree["spans"].as_array().expect("spans");
    assert_eq!(roots.len(), 1, "one root: {tree}");
    let root = &roots[0];
    assert_eq!(root["kind"], "transaction");
    assert_eq!(root["description"], "GET /");
    assert_eq!(root["project_id"], 1);
    assert_eq!(root["duration_ms"], 1000.0);
    assert_eq!(root["service"]["sdk"], "sentry.javascript.node");
    // Children by start: the db span (100.05) before the call (100.1).
    let order: Vec<&str> = root["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["description"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["SELECT 1", "GET http://back/work"]);
    let call = child(root, "GET http://back/work");
    assert_eq!(call["duration_ms"], 500.0);
    let backend = child(call, "GET /work");
    assert_eq!(backend["kind"], "transaction");
    assert_eq!(backend["project_id"], 2);
    assert_eq!(backend["service"]["sdk"], "sentry.python");
    assert_eq!(backend["event_id"], "b0000000000000000000000000000001");
    assert_eq!(backend["duration_ms"], 300.0);
    let query = child(backend, "SELECT work");
    assert_eq!(query["duration_ms"], 50.0);
    assert_eq!(query["errors"][0]["title"], "ValueError: boom", "{query}");
    assert_eq!(query["errors"][0]["span_found"], true);
    // The log with a span is pinned to it; the one without, to the root transaction; the
    // other trace's entry is not here.
    assert_eq!(backend["logs"][0]["body"], "handling work", "{backend}");
    assert_eq!(root["logs"][0]["body"], "no span", "{root}");
    assert_eq!(root["logs"][0]["span_found"], false);
    assert_eq!(tree["logs_total"], 2);
    assert!(!tree.to_string().contains("elsewhere"));
    assert_eq!(tree["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(tree["summary"]["counts"]["errors"], 1);

    // The log item is found by both its traces.
    let other = get_json(&format!("{base}/api/items/?trace_id={OTHER}")).await;
    assert_eq!(other["items"].as_array().unwrap().len(), 1, "{other}");
    assert_eq!(other["items"][0]["type"], "log");
    let all = get_json(&format!("{base}/api/items/?trace_id={T}")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{all}");
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["trace_id"] == T)
    );

    let unknown = reqwest::get(format!("{base}/api/traces/{U}"))
        .await
        .expect("get");
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("not found"));
    for bad in ["xyz", "0af7651916cd43dd8448eb211c80319"] {
        let reply = reqwest::get(format!("{base}/api/traces/{bad}"))
            .await
            .expect("get");
        assert_eq!(reply.status(), 400, "{bad}");
        let body: Value = reply.json().await.expect("JSON error");
        assert!(
            body["error"].as_str().unwrap().contains("trace id"),
            "{body}"
        );
        let reply = reqwest::get(format!("{base}/api/items/?trace_id={bad}"))
            .await
            .expect("get");
        assert_eq!(reply.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn spans_past_the_limit_are_cut_but_not_the_duration() {
    let config = Config {
        max_trace_spans: 2,
        ..Config::default()
    };
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let base = sentry.url();
    send_two_service_trace(&base).await;
    let tree = get_json(&format!("{base}/api/traces/{T}")).await;
    assert_eq!(tree["truncated"], true);
    assert_eq!(tree["spans_returned"], 2);
    assert_eq!(tree["spans_total"], 5);
    assert_eq!(tree["summary"]["duration_ms"], 1000.0);
}

#[tokio::test]
async fn a_span_chain_deeper_than_the_tree_nests_is_detached_not_overflowed() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    // A chain of 2,000 spans, each the parent of the next, and a cycle of two.
    let mut spans: Vec<Value> = (1..2000u64)
        .map(|n| {
            json!({"span_id": format!("{n:016x}"), "parent_span_id": format!("{:016x}", n + 1),
                   "start_timestamp": 1.0, "timestamp": 2.0})
        })
        .collect();
    spans.push(json!({"span_id": "aaaaaaaaaaaaaaaa", "parent_span_id": "bbbbbbbbbbbbbbbb"}));
    spans.push(json!({"span_id": "bbbbbbbbbbbbbbbb", "parent_span_id": "aaaaaaaaaaaaaaaa"}));
    let body = envelope(
        json!({}),
        &[(
            "transaction",
            json!({"transaction": "deep", "start_timestamp": 1.0, "timestamp": 2.0,
                   "contexts": {"trace": {"trace_id": T, "span_id": format!("{:016x}", 2000)}},
                   "spans": spans}),
        )],
    );
    post(&base, 1, body).await;
    let tree = get_json(&format!("{base}/api/traces/{T}")).await;
    assert_eq!(tree["spans_returned"], 2002);
    let roots = tree["spans"].as_array().unwrap();
    assert!(roots.iter().any(|r| r["detached"] == true));
    assert!(roots.iter().any(|r| r["orphan"] == true));
}

/// Reads an SSE response until `done` says the text so far is enough, within 20 seconds.
async fn read_sse(response: reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&text) {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("the stream ended or stalled ({other:?}): {text}"),
        }
    }
    text
}

#[tokio::test]
async fn waits_and_streams_filter_by_trace() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let stream = reqwest::get(format!("{base}/api/items/stream/?trace_id={T}"))
        .await
        .expect("stream");
    let wait = tokio::spawn({
        let base = base.clone();
        async move {
            get_json(&format!(
                "{base}/api/wait/?trace_id={T}&counts=transaction:2,event:1&timeout=20"
            ))
            .await
        }
    });
    post(&base, 1, other_trace()).await;
    send_two_service_trace(&base).await;
    let outcome = wait.await.expect("wait task");
    assert_eq!(outcome["satisfied"], true, "{outcome}");
    assert_eq!(outcome["counts"], json!({"event": 1, "transaction": 2}));
    assert_eq!(outcome["items"].as_array().unwrap().len(), 3);

    // The library handle waits the same way.
    let filter = ItemFilter {
        trace_id: Some(T.into()),
        ..ItemFilter::default()
    };
    let items = sentry
        .wait_for_counts(filter, &[("log", 1), ("profile", 1)])
        .await
        .expect("wait_for_counts");
    assert_eq!(items.len(), 2);

    let text = read_sse(stream, |t| t.matches("event: item").count() >= 5).await;
    assert!(!text.contains(U), "the other trace is filtered out: {text}");
    assert!(text.contains("GET /work"), "{text}");

    let not_yet = get_json(&format!(
        "{base}/api/wait/?trace_id={U}&counts=transaction:1,event:1&timeout=0.2"
    ))
    .await;
    assert_eq!(not_yet["satisfied"], false);
    assert_eq!(not_yet["counts"], json!({"event": 0, "transaction": 1}));
}

#[tokio::test]
async fn a_version_4_database_is_migrated_and_its_rows_belong_to_no_trace() {
    let (dir, db) = fixture_db_copy("v4");
    assert_eq!(user_version(&db), 4);
    let config = Config {
        storage: Storage::File(db.clone()),
        ..Config::default()
    };
    let sentry = FakeSentry::start_with(config).await.expect("start on v4");
    assert_eq!(user_version(&db), 7, "migrated in place");
    let base = sentry.url();
    let old = get_json(&format!("{base}/api/items/")).await;
    assert_eq!(old["items"].as_array().unwrap().len(), 9);
    assert!(
        old["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("trace_id").is_none()),
        "old rows are not backfilled: {old}"
    );
    assert_eq!(
        trace_ids(&get_json(&format!("{base}/api/traces/")).await).len(),
        0
    );
    send_two_service_trace(&base).await;
    assert_eq!(
        trace_ids(&get_json(&format!("{base}/api/traces/")).await),
        [T, OTHER]
    );
    sentry.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_node_service_calling_a_python_service_is_one_trace() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let clients = repo_root().join("fake-sentry/tests/clients");

    let mut service = Command::new(python())
        .arg(clients.join("trace_python_service.py"))
        .arg(sentry.dsn(2))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python service");
    let mut stdout = std::io::BufReader::new(service.stdout.take().expect("stdout"));
    let port_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("read the port");
        (line, stdout)
    });
    let (line, mut stdout) = tokio::time::timeout(Duration::from_secs(60), port_line)
        .await
        .expect("the Python service started in time")
        .expect("reader");
    let port: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("no port from the Python service ({e}): {line:?}"));
    let url = format!("http://127.0.0.1:{}/work", port["port"]);

    let mut caller = Command::new("node");
    caller
        .arg(clients.join("trace_node_caller.mjs"))
        .arg(sentry.dsn(1))
        .arg(&url)
        .env("SENTRY_NODE_MODULES", node_modules());
    let sent = tokio::task::spawn_blocking(move || run_client(caller))
        .await
        .expect("node caller");
    let served = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
        let status = service.wait().expect("wait for the Python service");
        let mut stderr = String::new();
        if let Some(mut err) = service.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
        }
        assert!(
            status.success(),
            "the Python service failed: {rest}\n{stderr}"
        );
        rest
    })
    .await
    .expect("python service");
    let served: Value = serde_json::from_str(
        served
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line"),
    )
    .expect("JSON");

    let trace_id = sent["trace_id"].as_str().expect("trace id").to_string();
    assert_eq!(
        served["trace_id"], trace_id,
        "the trace continued: {served}"
    );
    assert!(
        served["sentry_trace"]
            .as_str()
            .is_some_and(|h| h.starts_with(&trace_id)),
        "{served}"
    );

    // Everything of the trace, waited for by trace id.
    let filter = ItemFilter {
        trace_id: Some(trace_id.clone()),
        ..ItemFilter::default()
    };
    sentry
        .wait_for_counts(filter, &[("transaction", 2), ("event", 1), ("log", 1)])
        .await
        .expect("both transactions, the error and the logs");
    let deadline = Instant::now() + Duration::from_secs(20);
    let tree = loop {
        let tree = get_json(&format!("{base}/api/traces/{trace_id}")).await;
        if tree["logs_total"].as_u64() >= Some(2) || Instant::now() > deadline {
            break tree;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let roots = tree["spans"].as_array().expect("spans");
    assert_eq!(roots.len(), 1, "one tree: {tree:#}");
    let root = &roots[0];
    assert_eq!(root["description"], "call python", "{root:#}");
    assert_eq!(root["service"]["sdk"], "sentry.javascript.node");

    // The Python transaction hangs under the Node span that made the request.
    let parent = served["parent_span_id"].as_str().expect("parent span id");
    let mut stack = vec![root];
    let mut http_span = None;
    while let Some(node) = stack.pop() {
        if node["span_id"] == parent {
            http_span = Some(node);
        }
        stack.extend(node["children"].as_array().into_iter().flatten());
    }
    let http_span = http_span.unwrap_or_else(|| panic!("no span {parent} in {tree:#}"));
    assert_eq!(http_span["service"]["sdk"], "sentry.javascript.node");
    assert!(
        http_span["op"].as_str().unwrap_or("").starts_with("http"),
        "{http_span:#}"
    );
    let python_tx = http_span["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "transaction")
        .unwrap_or_else(|| panic!("no transaction under {http_span:#}"));
    assert_eq!(python_tx["description"], "GET /work");
    assert_eq!(python_tx["service"]["sdk"], "sentry.python");
    assert_eq!(python_tx["project_id"], 2);
    assert_eq!(python_tx["span_id"], served["transaction_span_id"]);
    let errors = python_tx["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{python_tx:#}");
    assert_eq!(errors[0]["event_id"], served["error_event_id"]);
    assert_eq!(errors[0]["title"], "ValueError: python service failed");
    let logs = python_tx["logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l["body"] == "python service handling /work"),
        "{python_tx:#}"
    );
    let query = python_tx["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["description"] == "SELECT work")
        .unwrap_or_else(|| panic!("no query span in {python_tx:#}"));
    assert_eq!(query["logs"][0]["body"], "python service inside the query");

    let list = get_json(&format!("{base}/api/traces/")).await;
    let summary = listed_trace(&list, &trace_id);
    assert_eq!(summary["root"]["name"], "call python");
    assert_eq!(summary["counts"]["transactions"], 2);
    assert_eq!(summary["counts"]["errors"], 1);
    assert_eq!(summary["counts"]["logs"], 2);
    assert!(summary["services"].as_array().unwrap().len() >= 2);

    // The trace page shows the same tree: the Python transaction's row right under the Node
    // request span's row, one level deeper, with the error and both logs pinned in it.
    let page = reqwest::get(format!("{base}/traces/{trace_id}"))
        .await
        .expect("trace page")
        .text()
        .await
        .expect("page text");
    let row_of = |span_id: &str| {
        let at = page
            .find(&format!("data-span=\"{span_id}\""))
            .unwrap_or_else(|| panic!("no row for span {span_id}"));
        let start = page[..at].rfind("<li").expect("row start");
        let depth = page[start..at]
            .split("data-depth=\"")
            .nth(1)
            .and_then(|d| d.split('"').next())
            .and_then(|d| d.parse::<usize>().ok())
            .expect("row depth");
        (start, depth)
    };
    let (http_at, http_depth) = row_of(parent);
    let python_span = served["transaction_span_id"].as_str().expect("span id");
    let (python_at, python_depth) = row_of(python_span);
    assert!(
        http_at < python_at,
        "the Python row follows the Node span's"
    );
    assert_eq!(python_depth, http_depth + 1, "nested one level under it");
    for text in [
        "call python",
        "GET /work",
        "ValueError: python service failed",
        "python service handling /work",
        "python service inside the query",
        "sentry.javascript.node",
        "sentry.python",
    ] {
        assert!(page.contains(text), "the trace page shows {text:?}");
    }
}

/// A replay segment as `@sentry/browser` 10.78.0's replay integration sends it
/// (`sendReplayRequest` in @sentry/replay): an envelope headed by the replay id and the SDK
/// (the dynamic sampling context is deleted before the header is made, so the header names no
/// trace), holding a `replay_event` item without a length (`contexts.trace` from the scope's
/// propagation context, `trace_ids` of the transactions seen in the segment) and a
/// `replay_recording` item: a `{"segment_id":N}` line, then the rrweb events.
fn browser_replay(replay_id: &str, trace: &str, trace_ids: &[&str]) -> Vec<u8> {
    let sdk = json!({"name": "sentry.javascript.browser", "version": "10.78.0",
                     "integrations": ["Replay", "BrowserTracing"],
                     "packages": [{"name": "npm:@sentry/browser", "version": "10.78.0"}]});
    let header = json!({"event_id": replay_id, "sent_at": "2023-11-14T22:13:21.000Z",
                        "sdk": {"name": "sentry.javascript.browser", "version": "10.78.0"}});
    let event = json!({
        "type": "replay_event", "replay_start_timestamp": 100.0, "timestamp": 101.5,
        "error_ids": [], "trace_ids": trace_ids, "segment_names": [],
        "urls": ["http://localhost:3000/checkout"], "replay_id": replay_id, "segment_id": 0,
        "replay_type": "session", "event_id": replay_id, "environment": "test",
        "release": "front@1", "platform": "javascript", "sdk": sdk,
        "request": {"url": "http://localhost:3000/checkout",
                    "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}},
        "contexts": {"trace": {"trace_id": trace, "span_id": "a000000000000000"},
                     "replay": {"replay_id": replay_id}},
        "breadcrumbs": []
    });
    let rrweb = json!([
        {"type": 4, "data": {"href": "http://localhost:3000/checkout", "width": 1280, "height": 720},
         "timestamp": 100_000},
        {"type": 2, "data": {"node": {"type": 0, "childNodes": [], "id": 1},
                             "initialOffset": {"left": 0, "top": 0}}, "timestamp": 100_001}
    ]);
    let recording = format!("{}\n{rrweb}", json!({"segment_id": 0}));
    format!(
        "{header}\n{}\n{event}\n{}\n{recording}\n",
        json!({"type": "replay_event"}),
        json!({"type": "replay_recording", "length": recording.len()})
    )
    .into_bytes()
}

/// A replay is linked to every trace it names: the one in its `contexts.trace` and those in its
/// `trace_ids`. The API lists it under `replays` and counts it; the trace page links to it.
#[tokio::test]
async fn a_browser_replay_is_linked_to_its_traces() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send_two_service_trace(&base).await;
    post(&base, 1, other_trace()).await;
    let replay_id = "e0000000000000000000000000000001";
    post(&base, 1, browser_replay(replay_id, T, &[T, U])).await;
    sentry
        .wait_for_counts(ItemFilter::default(), &[("replay_event", 1)])
        .await
        .expect("the replay is stored");

    let mut replay_item = String::new();
    for trace in [T, U] {
        let tree = get_json(&format!("{base}/api/traces/{trace}")).await;
        let replays = tree["replays"].as_array().expect("replays");
        assert_eq!(replays.len(), 1, "{trace}: {tree:#}");
        assert_eq!(replays[0]["type"], "replay_event");
        assert_eq!(replays[0]["event_id"], replay_id);
        assert_eq!(replays[0]["project_id"], 1);
        assert_eq!(tree["summary"]["counts"]["replays"], 1, "{tree:#}");
        // Not a span, an error or a log: the waterfall is what it was.
        assert!(!tree["spans"].to_string().contains(replay_id), "{tree:#}");
        replay_item = replays[0]["item_id"].as_str().expect("item id").to_string();
    }
    // The recording's envelope names no trace: it goes with its replay event, not on its own.
    let recordings = get_json(&format!("{base}/api/items/?type=replay_recording")).await;
    assert_eq!(recordings["items"].as_array().unwrap().len(), 1);
    let in_trace = get_json(&format!("{base}/api/items/?trace_id={T}&type=replay_event")).await;
    assert_eq!(
        in_trace["items"][0]["id"],
        replay_item.as_str(),
        "{in_trace}"
    );
    let list = get_json(&format!("{base}/api/traces/")).await;
    let counts = |trace: &str| &listed_trace(&list, trace)["counts"];
    assert_eq!(counts(T)["replays"], 1, "{list}");
    assert_eq!(counts(U)["replays"], 1, "{list}");
    assert_eq!(counts(OTHER)["replays"], 0, "{list}");

    let page = reqwest::get(format!("{base}/traces/{T}"))
        .await
        .expect("trace page")
        .text()
        .await
        .expect("page text");
    let related = page
        .split("<section class=\"card\" id=\"related\">")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_else(|| panic!("no related items on the trace page: {page}"));
    assert!(
        related.contains(&format!(
            "<span class=\"type\">replay</span> <a href=\"/items/{replay_item}\">replay_event of project 1</a>"
        )),
        "{related}"
    );
    let detail = reqwest::get(format!("{base}/items/{replay_item}"))
        .await
        .expect("replay page");
    assert_eq!(detail.status(), 200);
    let detail = detail.text().await.expect("text");
    assert!(detail.contains(replay_id), "the replay's page shows it");
    assert!(
        detail.contains(&format!("href=\"/traces/{T}\"")),
        "the replay links back to its trace"
    );
}
