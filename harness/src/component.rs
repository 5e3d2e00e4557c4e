//! The sample Sentry-instrumented component: a small "checkout" service that reports its
//! errors with the real `sentry` crate, optionally through event-filter's scrubber as
//! `before_send`.
//!
//! It stands for the service a team ships. Told to [`Leak`] personal data or a credential,
//! it puts them where real services do (user context, an error message, a breadcrumb, a
//! logged request header), so the audit stage can prove it catches them and that the
//! scrubbing policy removes them. Each run uses its own client and hub: nothing global is
//! touched, so runs in one process do not see each other.

use std::sync::Arc;
use std::time::Duration;

use event_filter::{Policy, Scrubber};
use sentry::protocol::{Breadcrumb, Event, Level, User};
use sentry::{Hub, Scope};
use serde::{Deserialize, Serialize};

/// What the component lets slip into its error reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leak {
    /// Only order ids and amounts.
    #[default]
    Nothing,
    /// The customer's e-mail address (user context, message, breadcrumb).
    Email,
    /// A bearer token from the payment provider call.
    Token,
    /// Both.
    Both,
}

impl Leak {
    fn email(self) -> bool {
        matches!(self, Leak::Email | Leak::Both)
    }
    fn token(self) -> bool {
        matches!(self, Leak::Token | Leak::Both)
    }
}

/// The customer the component leaks, so tests can look for it.
pub const LEAKED_EMAIL: &str = "alice.customer@example.com";
/// The credential the component leaks.
pub const LEAKED_TOKEN: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    #[error("invalid DSN {dsn:?}: {message}")]
    Dsn { dsn: String, message: String },
    #[error("the sentry client did not deliver its events within {0:?}")]
    Flush(Duration),
}

/// What one run of the component did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentRun {
    /// Events handed to the sentry client (each reaches fake-sentry as one `event` item).
    pub events: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("payment declined for order {order}")]
struct PaymentDeclined {
    order: u32,
}

/// Runs the component: it handles `orders` orders, every third of which fails and is
/// reported, plus one warning message. Blocks until the client has delivered everything
/// (the `sentry` transport runs on its own thread).
pub fn run(
    dsn: &str,
    leak: Leak,
    scrub: Option<&Policy>,
    orders: u32,
) -> Result<ComponentRun, ComponentError> {
    let parsed: sentry::types::Dsn =
        dsn.parse()
            .map_err(|e: sentry::types::ParseDsnError| ComponentError::Dsn {
                dsn: dsn.to_string(),
                message: e.to_string(),
            })?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(parsed);
    options.release = Some("checkout@1.4.2".into());
    options.environment = Some("harness".into());
    options.server_name = Some("checkout-1".into());
    if let Some(policy) = scrub {
        let scrubber = Arc::new(Scrubber::new(policy.clone()));
        options.before_send = Some(Arc::new(scrubber.before_send()));
    }
    // `apply_defaults` adds the HTTP transport and the default integrations, as `sentry::init`
    // would, without installing a global hub.
    let client = Arc::new(sentry::Client::from(sentry::apply_defaults(options)));
    let hub = Hub::new(Some(client.clone()), Arc::new(Scope::default()));
    let mut events = 0;
    for order in 1..=orders {
        hub.add_breadcrumb(Breadcrumb {
            category: Some("checkout".into()),
            message: Some(if leak.email() {
                format!("charging {LEAKED_EMAIL} for order {order}")
            } else {
                format!("charging customer for order {order}")
            }),
            ..Breadcrumb::default()
        });
        if order % 3 != 0 {
            continue;
        }
        let error = PaymentDeclined { order };
        let mut event = sentry::event_from_error(&error);
        event.level = Level::Error;
        event.user = Some(User {
            id: Some(format!("customer-{order}")),
            email: leak.email().then(|| LEAKED_EMAIL.to_string()),
            ..User::default()
        });
        event.tags.insert("order".into(), order.to_string());
        event
            .extra
            .insert("amount_cents".into(), (order * 1250).into());
        if leak.token() {
            event.extra.insert(
                "provider_request".into(),
                format!("POST /v1/charges Authorization: Bearer {LEAKED_TOKEN}").into(),
            );
        }
        hub.capture_event(event);
        events += 1;
    }
    hub.capture_event(Event {
        message: Some(if leak.email() {
            format!("stock low; reserved by {LEAKED_EMAIL}")
        } else {
            "stock low".into()
        }),
        level: Level::Warning,
        ..Event::default()
    });
    events += 1;
    let timeout = Duration::from_secs(10);
    if !client.flush(Some(timeout)) {
        return Err(ComponentError::Flush(timeout));
    }
    Ok(ComponentRun { events })
}
