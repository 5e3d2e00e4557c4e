//! The `/logs` page in a real browser (Debian's headless Chromium through playwright-core, as
//! `tests/ui_browser.rs` runs it): every filter of the form (level, at least a level, service,
//! trace, since/until, text in a body or an attribute) typed in and applied; new entries arriving
//! live on a page filtered by several at once, the one that matches shown on top with the markup
//! in its body and attributes as text, the others left out; no dialogs or script errors. The
//! screenshot goes to a temporary directory, or to `docs/screenshots/logs.png` when
//! `FAKE_SENTRY_UPDATE_SCREENSHOTS=1`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::envelopes::post;
use support::{repo_root, run_client};

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const OTHER: &str = "2cf7651916cd43dd8448eb211c80319e";

fn log_envelope(sdk: &str, entries: Value) -> Vec<u8> {
    let count = entries.as_array().map_or(0, Vec::len);
    let payload = json!({"items": entries}).to_string();
    format!(
        "{}\n{}\n{payload}\n",
        json!({"sdk": {"name": sdk, "version": "1.0.0"}}),
        json!({"type": "log", "length": payload.len(), "item_count": count,
               "content_type": "application/vnd.sentry.items.log+json"})
    )
    .into_bytes()
}

fn string(value: &str) -> Value {
    json!({"value": value, "type": "string"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_page_filters_and_tails_live() {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: run scripts/setup-test-clients"
    );
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    // Two services (a service.name attribute each), two traces, one entry a second apart from
    // 2023-11-14T22:13:20Z on.
    let orders = json!([
        {"timestamp": 1_700_000_000.0, "level": "info", "body": "order 17 accepted", "trace_id": T,
         "attributes": {"service.name": string("orders"),
                        "order.id": {"value": 17, "type": "integer"}}},
        {"timestamp": 1_700_000_001.0, "level": "warn", "body": "payment slow <b>for</b> order 17",
         "trace_id": T, "attributes": {"service.name": string("orders"),
                                        "elapsed_ms": {"value": 2400, "type": "integer"},
                                        "<img src=x onerror=alert(1)>": string("<script>alert(1)</script>")}},
    ]);
    let web = json!([
        {"timestamp": 1_700_000_002.0, "level": "error", "body": "card declined", "trace_id": OTHER,
         "attributes": {"service.name": string("checkout-web"), "card": string("visa-4242")}},
        {"timestamp": 1_700_000_003.0, "level": "debug", "body": "rendering checkout",
         "trace_id": OTHER, "attributes": {"service.name": string("checkout-web")}},
    ]);
    post(&base, 1, log_envelope("sentry.python", orders)).await;
    post(&base, 1, log_envelope("sentry.javascript.node", web)).await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");

    let out = if std::env::var_os("FAKE_SENTRY_UPDATE_SCREENSHOTS").is_some() {
        repo_root().join("docs/screenshots")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
    };
    std::fs::create_dir_all(&out).expect("screenshot dir");
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("fake-sentry/tests/browser/logs.mjs"))
        .arg(&base)
        .arg(&out);
    let seen = tokio::task::spawn_blocking(move || run_client(command))
        .await
        .expect("scenario");
    let watch = &seen["watch"];
    assert_eq!(watch["dialogs"], json!([]), "{seen}");
    assert_eq!(watch["pageErrors"], json!([]), "{seen}");
    assert_eq!(watch["consoleErrors"], json!([]), "{seen}");
    assert_eq!(
        seen["all"],
        json!([
            "rendering checkout",
            "card declined",
            "payment slow <b>for</b> order 17",
            "order 17 accepted"
        ])
    );

    // Each control of the form, applied alone: the rows that match, and the query it made.
    let filters = &seen["filters"];
    for (name, query, want) in [
        (
            "level",
            json!({"level": "debug"}),
            json!(["rendering checkout"]),
        ),
        (
            "min_level",
            json!({"min_level": "warn"}),
            json!(["card declined", "payment slow <b>for</b> order 17"]),
        ),
        (
            "service",
            json!({"service": "checkout-web"}),
            json!(["rendering checkout", "card declined"]),
        ),
        (
            "trace",
            json!({"trace_id": T}),
            json!(["payment slow <b>for</b> order 17", "order 17 accepted"]),
        ),
        (
            "time",
            json!({"since": "2023-11-14T22:13:20.500Z", "until": "1700000002.5"}),
            json!(["card declined", "payment slow <b>for</b> order 17"]),
        ),
        (
            "text",
            json!({"q": "ORDER 17"}),
            json!(["payment slow <b>for</b> order 17", "order 17 accepted"]),
        ),
        (
            "attribute_text",
            json!({"q": "visa-4242"}),
            json!(["card declined"]),
        ),
    ] {
        assert_eq!(filters[name]["query"], query, "{name}: {seen:#}");
        assert_eq!(filters[name]["bodies"], want, "{name}: {seen:#}");
    }

    // The tailed page: at least warn, of service orders, in trace T.
    let tailed = &seen["tailed"];
    assert_eq!(
        tailed["query"],
        json!({"min_level": "warn", "service": "orders", "trace_id": T})
    );
    assert_eq!(
        tailed["bodies"],
        json!(["payment slow <b>for</b> order 17"])
    );
    let stream = seen["stream"].as_str().expect("the tail's URL");
    for part in ["min_level=warn", "service=orders", &format!("trace_id={T}")] {
        assert!(stream.contains(part), "the tail keeps {part}: {stream}");
    }
    // Of the five sent live, the two matching every filter arrive, newest on top.
    let hostile = &seen["hostile"];
    assert_eq!(
        seen["after"],
        json!([
            hostile["body"],
            "payment retried for order 17",
            "payment slow <b>for</b> order 17"
        ]),
        "{seen:#}"
    );
    // Its body, attribute key and value show as the text sent; nothing in them became an
    // element or ran.
    let row = &seen["live_row"];
    assert_eq!(row["body"], hostile["body"]);
    assert!(
        row["keys"].as_array().unwrap().contains(&hostile["key"]),
        "{row}"
    );
    assert!(
        row["values"]
            .as_array()
            .unwrap()
            .contains(&hostile["value"]),
        "{row}"
    );
    assert_eq!(
        seen["injected"],
        json!({"elements": [], "xss": null}),
        "{seen:#}"
    );
    assert_eq!(seen["trace_href"], format!("/traces/{T}"));
    assert_eq!(seen["same_document"], true, "{seen}");
    let shot = std::fs::read(seen["shot"].as_str().expect("shot")).expect("screenshot");
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000);
}
