//! The Rust `sentry` crate (default reqwest transport) sends to an in-process fake-sentry.
//!
//! Its own test binary: `sentry::init` installs process-wide state (the hub, a panic hook).

mod support;

use std::time::Duration;

use fake_sentry::ItemFilter;
use fake_sentry::testing::{FakeSentry, of_type};
use support::{get_json, item_by_event_id, raised_exception};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sentry_crate() {
    let sentry = FakeSentry::start().await.expect("start");
    let dsn = sentry.dsn(1);
    let ids = tokio::task::spawn_blocking(move || {
        let guard = sentry::init(
            sentry::ClientOptions::new()
                .dsn(&dsn)
                .release("understudy-test@1.0.0")
                .environment("test")
                .traces_sample_rate(1.0)
                .attach_stacktrace(true),
        );
        // An error with a stack trace: a panic caught by the panic integration.
        let panicked = std::panic::catch_unwind(|| {
            fn outer() {
                inner()
            }
            fn inner() {
                panic!("rust error understudy-marker");
            }
            outer()
        });
        assert!(panicked.is_err());
        let error_id = sentry::last_event_id().expect("the panic was captured");
        let message_id =
            sentry::capture_message("rust message understudy-marker", sentry::Level::Warning);
        let transaction =
            sentry::start_transaction(sentry::TransactionContext::new("rust-transaction", "test"));
        transaction.start_child("db", "select 1").finish();
        transaction.finish();
        let attachment_id = sentry::with_scope(
            |scope| {
                scope.add_attachment(sentry::protocol::Attachment {
                    buffer: b"attachment-bytes\x00\x01".to_vec(),
                    filename: "rust-attachment.bin".into(),
                    ..Default::default()
                })
            },
            || sentry::capture_message("rust message with attachment", sentry::Level::Info),
        );
        assert!(
            guard.flush(Some(Duration::from_secs(10))),
            "the sentry client could not flush"
        );
        drop(guard);
        (error_id, message_id, attachment_id)
    })
    .await
    .expect("client thread");
    let (error_id, message_id, attachment_id) = ids;
    let simple = |u: sentry::types::Uuid| u.simple().to_string();
    let base = sentry.url();

    let error = item_by_event_id(&base, &simple(error_id), "event").await;
    assert_eq!(error["item"]["sdk"]["name"], "sentry.rust");
    let exception = raised_exception(&error["payload"]);
    assert_eq!(exception["type"], "panic");
    assert_eq!(exception["value"], "rust error understudy-marker");
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .expect("frames");
    assert!(
        frames
            .iter()
            .any(|f| f["function"].as_str().unwrap_or_default().contains("inner")),
        "no inner frame: {frames:?}"
    );

    let message = item_by_event_id(&base, &simple(message_id), "event").await;
    assert_eq!(message["item"]["level"], "warning");
    assert_eq!(message["item"]["summary"], "rust message understudy-marker");

    let transactions = sentry
        .wait_for(of_type("transaction"), 1)
        .await
        .expect("transaction");
    assert_eq!(
        transactions[0].summary,
        "transaction: rust-transaction (1 spans)"
    );
    assert_eq!(
        transactions[0].sdk.as_ref().map(|s| s.name.as_str()),
        Some("sentry.rust")
    );

    let attachment = item_by_event_id(&base, &simple(attachment_id), "attachment").await;
    assert_eq!(attachment["item"]["filename"], "rust-attachment.bin");

    // The Rust transport sends no content type, no compression, auth in X-Sentry-Auth.
    let envelope = get_json(&format!(
        "{base}/api/envelopes/{}",
        error["item"]["envelope_id"]
    ))
    .await;
    assert_eq!(envelope["auth_source"], "x_sentry_auth");
    assert_eq!(envelope["content_encoding"], serde_json::Value::Null);
    assert!(
        envelope["client"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sentry.rust/"),
        "{envelope}"
    );
    let all = sentry.items(ItemFilter::default()).await.expect("items");
    assert!(
        all.iter().all(|i| i.decode_error.is_none()),
        "decode errors: {all:?}"
    );
}
