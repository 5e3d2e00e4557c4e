//! The `/logs` page in a real browser (Debian's headless Chromium through playwright-core, as
//! `tests/ui_browser.rs` runs it): filtering with the form, a new entry arriving live, no
//! dialogs or script errors. The screenshot goes to a temporary directory, or to
//! `docs/screenshots/logs.png` when `FAKE_SENTRY_UPDATE_SCREENSHOTS=1`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::{repo_root, run_client};

fn log_envelope(sdk: &str, entries: Value) -> Vec<u8> {
    let payload = json!({"items": entries}).to_string();
    format!(
        "{}\n{}\n{payload}\n",
        json!({"sdk": {"name": sdk, "version": "1.0.0"}}),
        json!({"type": "log", "length": payload.len(), "item_count": 2,
               "content_type": "application/vnd.sentry.items.log+json"})
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_page_filters_and_tails_live() {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: run scripts/setup-test-clients"
    );
    let sentry = FakeSentry::start().await.expect("start");
    let t = "0af7651916cd43dd8448eb211c80319c";
    let entries = json!([
        {"timestamp": 1_700_000_000.0, "level": "info", "body": "order 17 accepted", "trace_id": t,
         "attributes": {"order.id": {"value": 17, "type": "integer"}}},
        {"timestamp": 1_700_000_001.0, "level": "warn", "body": "payment slow <b>for</b> order 17",
         "trace_id": t, "attributes": {"elapsed_ms": {"value": 2400, "type": "integer"},
                                        "<img src=x onerror=alert(1)>": {"value": "<script>alert(1)</script>", "type": "string"}}},
    ]);
    let reply = reqwest::Client::new()
        .post(format!("{}/api/1/envelope/", sentry.url()))
        .header(
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_version=7",
        )
        .body(log_envelope("sentry.python", entries))
        .send()
        .await
        .expect("post");
    assert_eq!(reply.status(), 200);
    sentry
        .wait_for(Default::default(), 1)
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
        .arg(sentry.url())
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
        json!(["payment slow <b>for</b> order 17", "order 17 accepted"])
    );
    assert_eq!(
        seen["filtered"],
        json!(["payment slow <b>for</b> order 17"])
    );
    assert_eq!(
        seen["after"],
        json!(["live error arrives", "payment slow <b>for</b> order 17"]),
        "the new error on top, the info left out"
    );
    assert!(
        seen["url"]
            .as_str()
            .unwrap_or_default()
            .contains("min_level=warn"),
        "{seen}"
    );
    assert_eq!(seen["trace_href"], format!("/traces/{t}"));
    assert_eq!(seen["same_document"], true, "{seen}");
    let shot = std::fs::read(seen["shot"].as_str().expect("shot")).expect("screenshot");
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000);
    let _: Value = seen;
}
