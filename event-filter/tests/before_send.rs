//! The scrubber as the `sentry` crate's `before_send`: what reaches a (fake) Sentry is the
//! scrubbed event, and the audit of what arrived is clean.

use std::sync::Arc;
use std::time::Duration;

use event_filter::{Auditor, Policy, Scrubber};
use fake_sentry::testing::{FakeSentry, of_type};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_send_scrubs_what_reaches_sentry() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let dsn = sentry.dsn(1);
    let scrubber = Arc::new(Scrubber::new(Policy::preset("strict").expect("preset")));
    tokio::task::spawn_blocking(move || {
        let guard = sentry::init(
            sentry::ClientOptions::new()
                .dsn(&dsn)
                .send_default_pii(true)
                .before_send(scrubber.before_send()),
        );
        sentry::configure_scope(|scope| {
            scope.set_user(Some(sentry::User {
                email: Some("jane.doe@example.com".into()),
                ..Default::default()
            }));
            scope.set_extra("aws", "AKIAABCDEFGHIJKLMNOP".into());
        });
        sentry::capture_message(
            "card 4111 1111 1111 1111 declined for jane.doe@example.com",
            sentry::Level::Error,
        );
        assert!(guard.flush(Some(Duration::from_secs(10))), "flush");
    })
    .await
    .expect("client thread");

    let events = sentry
        .wait_for(of_type("event"), 1)
        .await
        .expect("the event arrives");
    let record = sentry
        .item(&events[0].id)
        .await
        .expect("lookup")
        .expect("stored");
    let payload: serde_json::Value = serde_json::from_slice(&record.payload).expect("json");
    let text = payload.to_string();
    for secret in [
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "AKIAABCDEFGHIJKLMNOP",
    ] {
        assert!(!text.contains(secret), "{secret} reached Sentry: {text}");
    }
    assert!(
        payload["message"]
            .as_str()
            .unwrap_or_default()
            .contains("declined"),
        "the rest of the message stays: {payload}"
    );
    let auditor = Auditor::new(
        Policy::from_toml("[audit]\ndetectors = [\"all\"]\n", "audit").expect("policy"),
    );
    assert_eq!(
        auditor.audit(&payload),
        vec![],
        "no detector hit in what arrived"
    );
}
