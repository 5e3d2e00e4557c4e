//! `fake-symbols`: a Tecken- and Eliot-compatible symbols server for tests, with fault
//! injection.
//!
//! Point rust-minidump's HTTP symbol supplier (`minidump-stackwalk --symbols-url`), Firefox's
//! `upload_symbols.py`, the `upload-symbols` CLI (upload v1 and v2) or a symbolication client
//! at it and they work unchanged; then make it fail the way a production symbols service fails.
//!
//! The public surface is small and deliberate:
//! - [`testing::FakeSymbols`] starts the server in-process for a test, on its own port;
//!   [`Server`] binds and runs it for a binary. Both take a [`Config`].
//! - [`SymbolStore`] and [`SymbolKey`] seed or inspect the symbols on disk ([`StoredFile`],
//!   [`PutOutcome`], [`StoreError`]); [`RequestRecord`] is one logged request.
//! - [`FaultSpec`], [`FaultRule`] and [`FaultAction`] (with [`CutAt`] and [`Corruption`]) are
//!   the fault language; [`FaultPlan`] validates a spec under [`FaultLimits`] as the server does.
//!
//! Three modules are namespaces of their own: [`config`] (the configuration, tokens and limits,
//! with `parse_size` for size flags), [`synthetic`] (the generated sym files the `synthetic`
//! fault serves; their naming scheme is how a client checks what it got) and [`testing`].
//! `cli` (feature `cli`, on by default) is the command line, which the `fake-symbols` binary
//! and the suite's multi-call `understudy` binary run. `fuzzing` (feature `fuzzing`) exposes the
//! parsers of outside bytes to the fuzz targets and the property tests; it is not an API.
//!
//! How the parts fit (every other module is private):
//! - `store` keeps symbol files on disk in the `<debug_file>/<DEBUG_ID>/<sym_file>` layout
//!   with a SQLite index of their headers (`sym_header`); `keys` holds Tecken's rules for
//!   valid keys.
//! - `download` answers Tecken's download API; `sym_body` turns a stored or [`synthetic`] sym
//!   file into a streamed body, through the rewrites of `sym_rewrite`.
//! - `upload` answers Tecken's upload API: `auth` checks tokens, `multipart_guard` bounds a
//!   multipart body's framing before it is parsed, `archive` validates and extracts zips
//!   member by member, `url_upload` downloads `url=` uploads, and `staging` streams either
//!   body to disk with 64-bit size accounting. `upload_v2` answers upload v2 with per-file GCS
//!   resumable sessions that `resumable` receives.
//! - `symbolicate` answers Eliot's v4/v5 API with breakpad-symbols, one module at a time.
//! - `faults` decides which injected faults fire for a request; `request_log` records every
//!   request; `admin` exposes both (`/__fault__`, `/__requests__`). `error` holds the typed
//!   HTTP errors of each API.
//! - `server` wires it into one axum router; [`testing`] starts it in-process for tests (the
//!   workspace's `bench` crate measures it: `bench fake-symbols`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_symbols::testing::FakeSymbols;
//! let symbols = FakeSymbols::start().await?;
//! symbols.store().put(
//!     &fake_symbols::SymbolKey::from_path("libfoo.so/ABCD0/libfoo.so.sym").unwrap(),
//!     false,
//!     b"MODULE Linux x86_64 ABCD0 libfoo.so\nFUNC 1000 10 0 foo\n",
//! )?;
//! // ... run the stackwalker with `--symbols-url symbols.url()` ...
//! let asked: Vec<String> = symbols.requests().into_iter().map(|r| r.path).collect();
//! # Ok(()) }
//! ```

mod admin;
mod archive;
mod auth;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
mod download;
mod error;
mod faults;
mod keys;
mod multipart_guard;
mod request_log;
mod resumable;
mod server;
mod staging;
mod store;
mod sym_body;
mod sym_header;
mod sym_rewrite;
mod symbolicate;
pub mod synthetic;
pub mod testing;
mod upload;
mod upload_v2;
mod url_upload;

pub use config::Config;
pub use faults::{
    Corruption, CutAt, FaultAction, FaultLimits, FaultPlan, FaultRule, FaultSpec, FaultSpecError,
};
pub use keys::SymbolKey;
pub use request_log::RequestRecord;
pub use server::{Server, StartError};
pub use store::{PutOutcome, StoreError, StoredFile, SymbolStore};

/// The parsers of outside bytes, for the fuzz targets (`fuzz/`) and the property tests
/// (`tests/parsers_prop.rs`) to drive directly. Not an API: what is here follows the
/// internals and may change with them.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::archive::{ArchiveOutcome, ArchiveRules, declared_entries, extract_archive};
    pub use crate::faults::BodyFaults;
    pub use crate::keys::{is_hex, is_key_component};
    pub use crate::multipart_guard::{Framing, FramingError, FramingLimits};
    pub use crate::resumable::{ContentRange, parse_content_range};
    pub use crate::server::module_of_path;
    pub use crate::sym_body::SymSource;
    pub use crate::sym_header::SymHeader;
    pub use crate::sym_rewrite::{Corrupting, Truncating, split_name};
    pub use crate::upload_v2::{Action, FileSpec, plan};
}
