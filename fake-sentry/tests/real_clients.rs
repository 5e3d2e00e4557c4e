//! Real Sentry SDKs (Python sentry-sdk with and without brotli, @sentry/node) send to an
//! in-process fake-sentry over loopback; every assertion goes through the HTTP API.
//!
//! The clients are installed by `scripts/setup-test-clients` (CI runs it first).

mod support;

use std::process::Command;

use fake_sentry::ItemFilter;
use fake_sentry::testing::FakeSentry;
use serde_json::Value;
use support::{
    get_json, item_by_event_id, node_modules, python, raised_exception, repo_root, run_client,
};

/// Checks what one client run left in the server, per the four sends every script makes.
async fn assert_client_run(sentry: &FakeSentry, sent: &Value, sdk_name: &str, language: &str) {
    let base = sentry.url();
    let id = |key: &str| {
        sent[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing in {sent}"))
            .to_string()
    };

    // Wait for the last thing each script sends, so the rest has arrived too.
    for key in [
        "error_event_id",
        "message_event_id",
        "transaction_event_id",
        "attachment_event_id",
    ] {
        let filter = ItemFilter {
            event_id: Some(id(key)),
            ..Default::default()
        };
        sentry
            .wait_for(filter, 1)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }

    let error = item_by_event_id(&base, &id("error_event_id"), "event").await;
    assert_eq!(error["item"]["type"], "event");
    assert_eq!(error["item"]["sdk"]["name"], sdk_name);
    assert_eq!(error["item"]["level"], "error");
    let exception = raised_exception(&error["payload"]);
    let expected_type = if language == "python" {
        "ValueError"
    } else {
        "Error"
    };
    assert_eq!(exception["type"], expected_type);
    assert!(
        exception["value"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("{language} error")),
        "{exception}"
    );
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .expect("stack trace frames");
    let functions: Vec<&str> = frames
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert!(
        functions.iter().any(|f| f.contains("inner")),
        "no `inner` frame in {functions:?}"
    );
    assert!(
        functions.iter().any(|f| f.contains("outer")),
        "no `outer` frame in {functions:?}"
    );
    assert_eq!(
        error["item"]["summary"],
        format!(
            "{expected_type}: {}",
            exception["value"].as_str().unwrap_or_default()
        )
    );

    let message = item_by_event_id(&base, &id("message_event_id"), "event").await;
    assert!(
        message["item"]["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{language} message")),
        "{message}"
    );

    let transaction = item_by_event_id(&base, &id("transaction_event_id"), "transaction").await;
    assert_eq!(
        transaction["payload"]["transaction"],
        format!("{language}-transaction")
    );
    assert!(
        !transaction["payload"]["spans"]
            .as_array()
            .expect("spans")
            .is_empty()
    );
    assert_eq!(transaction["item"]["sdk"]["name"], sdk_name);

    let attachment = item_by_event_id(&base, &id("attachment_event_id"), "attachment").await;
    assert_eq!(
        attachment["item"]["filename"],
        format!("{language}-attachment.bin")
    );
    let raw_url = format!(
        "{base}{}",
        attachment["links"]["raw"].as_str().expect("raw link")
    );
    let raw = reqwest::get(&raw_url)
        .await
        .expect("raw download")
        .bytes()
        .await
        .expect("raw bytes");
    assert_eq!(&raw[..], b"attachment-bytes\x00\x01", "attachment bytes");

    let refusals = get_json(&format!("{base}/api/refusals/")).await;
    assert_eq!(refusals["total"], 0, "nothing may be refused: {refusals}");
}

async fn envelope_of(base: &str, item: &Value) -> Value {
    get_json(&format!(
        "{base}/api/envelopes/{}",
        item["item"]["envelope_id"]
    ))
    .await
}

async fn python_run(no_brotli: bool) {
    let sentry = FakeSentry::start().await.expect("start");
    let mut command = Command::new(python());
    command
        .arg(repo_root().join("fake-sentry/tests/clients/send_python.py"))
        .arg(sentry.dsn(1));
    if no_brotli {
        command.arg("--no-brotli");
    }
    let sent = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("client thread");
    assert_eq!(
        sent["brotli"], !no_brotli,
        "the client ran in the wrong mode: {sent}"
    );
    assert_client_run(&sentry, &sent, "sentry.python", "python").await;

    // The wire facts that broke Kent: brotli (or gzip) bodies, auth in X-Sentry-Auth.
    let error = item_by_event_id(
        &sentry.url(),
        sent["error_event_id"].as_str().unwrap_or_default(),
        "event",
    )
    .await;
    let envelope = envelope_of(&sentry.url(), &error).await;
    assert_eq!(
        envelope["content_encoding"],
        if no_brotli { "gzip" } else { "br" }
    );
    assert_eq!(envelope["content_type"], "application/x-sentry-envelope");
    assert_eq!(envelope["auth_source"], "x_sentry_auth");
    assert_eq!(envelope["public_key"], "public");
    // Every request header is kept for auditing.
    let headers = &envelope["http_headers"];
    assert!(
        headers["x-sentry-auth"]
            .as_str()
            .unwrap_or_default()
            .contains("sentry_key=public"),
        "{headers}"
    );
    assert_eq!(
        headers["content-encoding"],
        if no_brotli { "gzip" } else { "br" }
    );
    assert!(
        envelope["client"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sentry.python/"),
        "{envelope}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_with_brotli() {
    python_run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_without_brotli() {
    python_run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk() {
    let sentry = FakeSentry::start().await.expect("start");
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("fake-sentry/tests/clients/send_node.mjs"))
        .arg(sentry.dsn(1))
        .env("SENTRY_NODE_MODULES", node_modules());
    let sent = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("client thread");
    assert_client_run(&sentry, &sent, "sentry.javascript.node", "node").await;

    // @sentry/node: auth in the query string, no content type, items without `length`.
    let error = item_by_event_id(
        &sentry.url(),
        sent["error_event_id"].as_str().unwrap_or_default(),
        "event",
    )
    .await;
    assert!(
        error["header"].get("length").is_none(),
        "node sends JSON items without length: {}",
        error["header"]
    );
    let envelope = envelope_of(&sentry.url(), &error).await;
    assert_eq!(envelope["auth_source"], "query");
    assert_eq!(envelope["content_type"], Value::Null);
    assert_eq!(envelope["http_headers"]["transfer-encoding"], "chunked");
    assert!(
        envelope["client"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sentry.javascript.node/"),
        "{envelope}"
    );
    // Release health is on by default in @sentry/node: sessions arrive too.
    let sessions = get_json(&format!("{}/api/items/?type=session", sentry.url())).await;
    assert!(
        !sessions["items"].as_array().expect("items").is_empty(),
        "no sessions: {sessions}"
    );
}
