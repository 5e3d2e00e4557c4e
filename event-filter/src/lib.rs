//! `event-filter`: keeps forbidden data out of what a service sends to Sentry, and proves it.
//!
//! One declarative [`policy::Policy`] (TOML, or a built-in [`presets`] preset) drives both
//! halves:
//! - the [`scrub::Scrubber`] changes events before they leave (as the `sentry` crate's
//!   `before_send`, or over JSON files with the CLI) and reports every change;
//! - the [`audit::Auditor`] checks events without changing them and reports findings with
//!   redacted excerpts, for CI.
//!
//! The building blocks: [`path`] selects places in an event (`exception.values.*.stacktrace.
//! frames.*.vars.password`, `**` for any depth, HTTP headers compared case-insensitively),
//! [`action`] says what to do there (remove, mask, keyed hash, query-string and cookie
//! scrubbing, ...), and [`detect`] finds values anywhere (emails, IPs, card numbers, tokens,
//! keys) whatever key they sit under. [`shape`] snapshots and diffs event shapes, for the
//! "did this SDK upgrade change what we send?" check.
//!
//! ```
//! use event_filter::{policy::Policy, scrub::Scrubber};
//! let policy = Policy::from_toml(r#"
//!     [[rule]]
//!     path = "extra.password"
//!     action = "mask"
//! "#, "example").unwrap();
//! let mut event = serde_json::json!({"extra": {"password": "hunter2"}});
//! let report = Scrubber::new(policy).scrub(&mut event);
//! assert_eq!(event["extra"]["password"], "[Filtered]");
//! assert_eq!(report.changes.len(), 1);
//! ```

pub mod action;
pub mod audit;
pub mod detect;
pub mod document;
pub mod path;
pub mod policy;
pub mod presets;
pub mod relay;
pub mod scrub;
pub mod shape;

pub use audit::{Auditor, Finding};
pub use policy::{Policy, PolicyError};
pub use scrub::{ScrubReport, Scrubber};
