//! `fake-sentry`: a fake Sentry server for tests and local development.
//!
//! Point any Sentry SDK's DSN at it (`http://public@127.0.0.1:8000/1`) and it keeps everything
//! the SDK sends, so tests can assert on it and developers can inspect it. It is a drop-in
//! replacement for Kent (same API shapes on the same paths) that also speaks what Kent does not:
//! brotli and zstd bodies, form-encoded envelopes, minidump uploads, Spotlight's `/stream`, CORS.
//!
//! How the parts fit (every module is private unless listed under the public surface below):
//! - `server` builds the axum router and runs it; ingest handlers read the body under the
//!   configured [`Limits`], then hand it to `ingest`.
//! - `ingest` turns each endpoint's body into one [`NewEnvelope`]: `decode` undoes the content
//!   encoding (with a cap, so bombs cost nothing), [`sentry_envelope`] frames envelopes the way
//!   real SDKs write them, `auth` finds the key and client, and `item` decodes each item and
//!   summarises it (`prune` parses only the fields a listing needs).
//! - `store` keeps envelopes and items in SQLite through one batching writer; a request is
//!   acknowledged only after its commit.
//! - `api` answers queries: Kent's exact shapes, a filterable item API, long-poll waits and
//!   Server-Sent Event streams, and traces (`api/traces.rs`: the trace list and one trace as a
//!   tree across services). `kent` holds the Kent encodings; `error` has the typed errors
//!   of ingest and of the API, each with one status and one body shape.
//! - `data_policy` applies an `event-filter` policy to every JSON item as it arrives
//!   (findings, and scrubbed copies with `--scrub`); `forward` sends what was captured on to
//!   a real Sentry, scrubbed: fake-sentry as a scrubbing proxy.
//! - [`ui`] is the web UI at `/`: event list, detail pages, compare, flush and refusals,
//!   rendered with `askama` (the JSON index is at `/api/`).
//! - `native` processes minidumps after they are stored, on threads of its own, with the real
//!   `minidump-processor` (`crash-processing`) and turns each into a native crash event
//!   (`native::event`), signed by `crash-signature`; `store` keeps where each stands.
//! - `faults` makes ingest answer 429/413/500/503 or slowly, for testing SDK back-off;
//!   `in_flight` is the memory budget shared by the requests being ingested.
//! - [`testing`] starts an in-process server for Rust tests, in the spirit of wiremock.
//! - `cli` (feature `cli`, on by default) is the command line, which the `fake-sentry` binary
//!   and the suite's multi-call `understudy` binary run.
//!
//! The public surface, at the root:
//! - Run a server: [`Server`] (bind, then run until a shutdown future resolves), [`router`]
//!   over an [`AppState`], and [`now_ms`], the clock ingest stamps requests with.
//! - Configure it: [`Config`] and what its fields hold: [`Limits`], [`Storage`], [`SyncMode`],
//!   [`UiLimits`], [`FaultRule`] (with [`FaultKind`]), [`DataPolicy`], [`ForwardConfig`]
//!   (with [`Upstream`]), and the errors of parsing them from text.
//! - Read what it captured: [`ItemFilter`] selects items, read back as [`ItemSummary`],
//!   [`ItemRecord`], [`EnvelopeRecord`], [`ItemAuditRecord`] and [`RefusalRecord`]; the
//!   query API answers [`ApiError`]s. Traces: [`list_traces`] (with a [`TraceFilter`]) reads
//!   [`TraceSummary`]s from the trace index the writer keeps, [`trace_tree`] answers one trace
//!   as the tree `GET /api/traces/{id}` shows; ingest records each item's [`TraceLink`]s.
//! - The ingest stage and the store without HTTP, as the `bench` crate drives them:
//!   [`ingest_envelope`] turns an [`IngestRequest`] into an [`Ingested`] [`NewEnvelope`] (or
//!   an [`IngestError`]), which [`Store::insert`] commits; [`describe`] is how ingest
//!   summarises one item into its [`ItemMeta`]. Every type a public field or signature holds
//!   is nameable from here.
//!
//! Public modules, each a namespace of its own:
//! - [`testing`]: the test handle, [`testing::FakeSentry`], and its helpers.
//! - [`config`]: every setting with its documented default (`DEFAULT_*`), and the parsers the
//!   command line uses for them; the common ones are also at the root.
//! - [`ui`]: the web UI's Content-Security-Policy and limits, and its list and detail pages,
//!   which render without HTTP (the bench times them, a fuzzer renders detail pages).
//! - `cli` (feature `cli`): the command line, `cli::main`.
//! - `fuzzing` (feature `fuzzing`): the internal parsers the cargo-fuzz targets in `fuzz/`
//!   drive directly; not part of the supported surface.
//!
//! Ingest throughput and latency, and the UI's page times, are measured by the workspace's
//! `bench` crate (`bench fake-sentry`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_sentry::ItemFilter;
//! use fake_sentry::testing::FakeSentry;
//! let sentry = FakeSentry::start().await?;
//! // ... run the code under test with `sentry.dsn(1)` ...
//! let events = sentry.wait_for(ItemFilter { item_type: Some("event".into()), ..Default::default() }, 1).await?;
//! assert_eq!(events.len(), 1);
//! # Ok(()) }
//! ```

mod api;
mod auth;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
mod data_policy;
mod decode;
mod error;
mod faults;
mod forward;
mod in_flight;
mod ingest;
mod item;
mod kent;
mod native;
mod pacing;
mod prune;
mod server;
mod store;
pub mod testing;
mod thread_priority;
pub mod ui;

// Envelope framing lives in its own crate so that `event-filter` reads envelopes the same way.
use sentry_envelope as envelope;

// Running a server.
pub use server::{AppState, Server, router};
pub use store::now_ms;
// Configuring it: `Config` and the types its fields hold, with their parse errors.
pub use config::{BadDsn, ForwardConfig, Upstream};
pub use config::{Config, Limits, Storage, SyncMode, UiLimits};
pub use data_policy::DataPolicy;
pub use faults::{FaultKind, FaultParseError, FaultRule};
pub use store::BodyStorage;
// Reading what it captured.
pub use error::ApiError;
pub use store::{
    BadTime, EnvelopeRecord, ItemAuditRecord, ItemFilter, ItemRecord, ItemSummary, MinidumpRecord,
    Order, ProcessingStatus, RefusalRecord, SdkInfo, count_items, list_items,
};
// Traces: the list, and one trace as a tree.
pub use api::{TreeLimits, trace_tree};
pub use item::TraceLink;
pub use store::{TraceCounts, TraceFilter, TraceRoot, TraceService, TraceSummary, list_traces};
// The ingest stage and the store without HTTP.
pub use auth::{Auth, AuthSource};
pub use data_policy::ItemAudit;
pub use error::IngestError;
pub use in_flight::RequestCharge;
pub use ingest::{Endpoint, IngestRequest, Ingested, ingest_envelope};
pub use item::{EnvelopeContext, ItemMeta, describe};
pub use store::{
    BodyPosition, EvictionStats, MAX_REFUSAL_FIELD, NewEnvelope, NewItem, NewRefusal, Store,
    StoreError, StoreOptions, Stored,
};

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
