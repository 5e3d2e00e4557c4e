// Sends events with planted (fake) PII through the real `sentry` crate to the DSN given as the only
// argument; prints {"error_event_id", "message_event_id"}.
//
//   error event:   capture_error on an io::Error("payment failed for jane.doe@example.com"),
//                  with user (id/email/ip_address/username), extras holding an AWS access key and
//                  a sentence with an email, and a breadcrumb holding an IP and an email.
//   message event: capture_message("password reset requested by jane.doe@example.com") on a
//                  forked scope that adds one more extra with the AWS key.
fn main() {
    let dsn = std::env::args().nth(1).expect("usage: ef-rust-pii DSN");
    // ClientOptions is #[non_exhaustive] in 0.49: set fields on a default value.
    let mut options = sentry::ClientOptions::default();
    options.release = Some("pii-test@1".into());
    options.environment = Some("test".into());
    options.send_default_pii = true;
    let guard = sentry::init((dsn, options));
    assert!(guard.is_enabled(), "sentry client not enabled (bad DSN?)");

    sentry::configure_scope(|s| {
        s.set_user(Some(sentry::User {
            id: Some("42".into()),
            email: Some("jane.doe@example.com".into()),
            ip_address: Some("203.0.113.7".parse().unwrap()),
            username: Some("jdoe".into()),
            ..Default::default()
        }));
        s.set_extra("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE".into());
        s.set_extra("note", "contact jane.doe@example.com about the refund".into());
    });

    sentry::add_breadcrumb(sentry::Breadcrumb {
        category: Some("auth".into()),
        message: Some("login from 198.51.100.23 by jane.doe@example.com".into()),
        ..Default::default()
    });

    let err = std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "payment failed for jane.doe@example.com",
    );
    let error_id = sentry::capture_error(&err);

    let message_id = sentry::with_scope(
        |s| s.set_extra("aws_key", "AKIAIOSFODNN7EXAMPLE".into()),
        || {
            sentry::capture_message(
                "password reset requested by jane.doe@example.com",
                sentry::Level::Warning,
            )
        },
    );

    let flushed = guard.flush(Some(std::time::Duration::from_secs(10)));
    assert!(flushed, "flush timed out");
    println!(
        "{{\"error_event_id\":\"{}\",\"message_event_id\":\"{}\"}}",
        error_id.simple(),
        message_id.simple()
    );
}
