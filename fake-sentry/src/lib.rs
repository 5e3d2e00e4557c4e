//! `fake-sentry`: a fake Sentry server for tests and local development.
//!
//! Point any Sentry SDK's DSN at it (`http://public@127.0.0.1:8000/1`) and it keeps everything
//! the SDK sends, so tests can assert on it and developers can inspect it. It is a drop-in
//! replacement for Kent (same API shapes on the same paths) that also speaks what Kent does not:
//! brotli and zstd bodies, form-encoded envelopes, minidump uploads, Spotlight's `/stream`, CORS.
//!
//! How the parts fit:
//! - [`server`] builds the axum router and runs it; ingest handlers read the body under the
//!   configured [`config::Limits`], then hand it to [`ingest`].
//! - [`ingest`] turns each endpoint's body into one [`store::NewEnvelope`]: [`decode`] undoes
//!   the content encoding (with a cap, so bombs cost nothing), [`envelope`] frames envelopes
//!   the way real SDKs write them, [`auth`] finds the key and client, and [`item`] decodes each
//!   item and summarises it ([`prune`] parses only the fields a listing needs).
//! - [`store`] keeps envelopes and items in SQLite through one batching writer; a request is
//!   acknowledged only after its commit.
//! - [`api`] answers queries: Kent's exact shapes, a filterable item API, long-poll waits and
//!   Server-Sent Event streams. [`kent`] holds the Kent encodings.
//! - [`data_policy`] applies an `event-filter` policy to every JSON item as it arrives
//!   (findings, and scrubbed copies with `--scrub`); [`forward`] sends what was captured on to
//!   a real Sentry, scrubbed: fake-sentry as a scrubbing proxy.
//! - [`ui`] is the web UI at `/`: event list, detail pages, compare, flush and refusals,
//!   rendered with `askama` (the JSON index is at `/api/`).
//! - [`faults`] makes ingest answer 429/413/500/503 or slowly, for testing SDK back-off.
//! - [`testing`] starts an in-process server for Rust tests, in the spirit of wiremock.
//! - `cli` (feature `cli`, on by default) is the command line, which the `fake-sentry` binary
//!   and the suite's multi-call `understudy` binary run.
//! - `fuzzing` (feature `fuzzing`) exports the internal parsers the cargo-fuzz targets in
//!   `fuzz/` drive directly; only `fuzz/Cargo.toml` turns it on.
//!
//! Ingest throughput and latency, and the UI's page times, are measured by the workspace's
//! `bench` crate (`bench fake-sentry`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_sentry::testing::FakeSentry;
//! use fake_sentry::store::ItemFilter;
//! let sentry = FakeSentry::start().await?;
//! // ... run the code under test with `sentry.dsn(1)` ...
//! let events = sentry.wait_for(ItemFilter { item_type: Some("event".into()), ..Default::default() }, 1).await?;
//! assert_eq!(events.len(), 1);
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod data_policy;
pub mod decode;
pub mod error;
pub mod faults;
pub mod forward;
pub mod in_flight;
pub mod ingest;
pub mod item;
pub mod kent;
pub mod prune;
pub mod server;
pub mod store;
pub mod testing;
pub mod ui;

/// Envelope framing lives in its own crate so that `event-filter` reads envelopes the same way.
pub use sentry_envelope as envelope;

pub use config::{Config, Limits, Storage};
pub use server::{AppState, Server, router};

/// The internal parsers and entry points the cargo-fuzz targets in `fuzz/` call directly, so
/// that each can be fuzzed without a server around it. Built only with the `fuzzing` feature,
/// which `fuzz/Cargo.toml` turns on: these are not a supported interface.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::decode::{
        ContentEncoding, DecodeError, decode_body, decode_legacy_store_body, parse_content_encoding,
    };
    pub use crate::ingest::{
        fix_non_finite_json, ingest_minidump, ingest_security, ingest_store, ingest_store_get,
    };
    pub use crate::item::schema_note;
    pub use crate::store::format_ms;
}
