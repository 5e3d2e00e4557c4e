//! `event-filter`: keeps forbidden data out of what a service sends to Sentry, and proves it.
//!
//! One declarative [`Policy`] (TOML, a built-in [`presets`] preset, or a Relay PII config
//! through [`relay`]) drives both halves:
//! - the [`Scrubber`] changes events before they leave (as the `sentry` crate's
//!   `before_send`, or over JSON files with the CLI) and reports every change;
//! - the [`Auditor`] checks events without changing them and reports findings with
//!   redacted excerpts, for CI.
//!
//! The public surface: at the crate root, the [`Policy`] with its [`Rule`]s, [`AuditSettings`]
//! and [`PolicyError`]; the [`Scrubber`] and what one scrub reports ([`ScrubReport`],
//! [`Change`] with its redacted [`Excerpt`], [`Diagnostic`], and [`ERROR_MARKER`], what a
//! value becomes when its rule fails); the [`Auditor`] and its [`Finding`]s ([`FindingKind`]); and the [`Document`] the
//! CLI reads, a JSON event or a whole envelope ([`DocumentError`]).
//!
//! Public modules are namespaces of their own, each a vocabulary a user works in:
//! - [`path`]: the path language, which places in an event a rule, an allowlist or a diff
//!   names ([`path::PathSelector`], `exception.values.*.stacktrace.frames.*.vars.password`,
//!   `**` for any depth, HTTP headers compared case-insensitively) and the concrete places
//!   findings and changes report ([`path::JsonPath`]); with its grammar, limits and errors.
//! - [`action`]: what a rule does at a place (remove, mask, keyed hash, query-string and
//!   cookie scrubbing, ...), applicable to one value on its own, and the markers it writes.
//! - [`detect`]: the detectors that find values anywhere (emails, IPs, card numbers, tokens,
//!   keys) whatever key they sit under, usable on any text.
//! - [`shape`]: snapshots and diffs of event shapes and values, for the "did this SDK upgrade
//!   change what we send?" check; a job of its own next to scrubbing and auditing (fake-sentry's
//!   compare page uses it).
//! - [`presets`]: the built-in policies as data, by name.
//! - [`relay`]: Relay's PII configs and Sentry's legacy data-scrubbing settings, compiled into
//!   a [`Policy`] whose scrubbing follows Relay's own engine.
//!
//! How the parts fit (every other module is private): `policy` parses and validates the TOML
//! into rules of [`path`], [`action`] and [`detect`] parts, locating every error; `scrub` runs
//! the rules over an event in policy order; `audit` runs the scrubber on a copy and the
//! `[audit]` detectors and allowlist, and reports instead of changing; `excerpt` says what a
//! change or finding saw without revealing it; `document` visits each
//! JSON payload of an event or envelope. The binary (`main.rs`) is the `event-filter` command
//! over them; the scrubbing speed is measured by the workspace's `bench` crate
//! (`bench event-filter`).
//!
//! ```
//! use event_filter::{Policy, Scrubber};
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
mod audit;
pub mod detect;
mod document;
mod excerpt;
pub mod path;
mod policy;
pub mod presets;
pub mod relay;
mod scrub;
pub mod shape;

pub use audit::{Auditor, Finding, FindingKind};
pub use document::{Document, DocumentError};
pub use excerpt::Excerpt;
pub use policy::{AuditSettings, Policy, PolicyError, Rule};
pub use scrub::{Change, Diagnostic, ERROR_MARKER, ScrubReport, Scrubber};
