//! `fake-symbols`: a Tecken- and Eliot-compatible symbols server for tests, with fault
//! injection.
//!
//! Point rust-minidump's HTTP symbol supplier (`minidump-stackwalk --symbols-url`), Firefox's
//! `upload_symbols.py`, the `upload-symbols` CLI (upload v1 and v2) or a symbolication client
//! at it and they work unchanged; then make it fail the way a production symbols service fails.
//!
//! How the parts fit:
//! - [`store`] keeps symbol files on disk in the `<debug_file>/<DEBUG_ID>/<sym_file>` layout
//!   with a SQLite index of their headers ([`sym_header`]); [`keys`] holds Tecken's rules for
//!   valid keys.
//! - [`download`] answers Tecken's download API; [`sym_body`] turns a stored or
//!   [`synthetic`] sym file into a streamed body, through the rewrites of [`sym_rewrite`].
//! - [`upload`] answers Tecken's upload API: [`auth`] checks tokens, [`multipart_guard`]
//!   bounds a multipart body's framing before it is parsed, [`archive`] validates
//!   and extracts zips member by member, [`url_upload`] downloads `url=` uploads, and
//!   [`staging`] streams either body to disk with 64-bit size accounting. [`upload_v2`]
//!   answers upload v2 with per-file GCS resumable sessions that [`resumable`] receives.
//! - [`symbolicate`] answers Eliot's v4/v5 API with breakpad-symbols, one module at a time.
//! - [`faults`] decides which injected faults fire for a request; [`request_log`] records
//!   every request; [`admin`] exposes both (`/__fault__`, `/__requests__`).
//! - [`server`] wires it into one axum router; [`testing`] starts it in-process for tests (the
//!   workspace's `bench` crate measures it: `bench fake-symbols`).
//! - `cli` (feature `cli`, on by default) is the command line, which the `fake-symbols` binary
//!   and the suite's multi-call `understudy` binary run.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_symbols::testing::FakeSymbols;
//! let symbols = FakeSymbols::start().await?;
//! symbols.store().put(
//!     &fake_symbols::keys::SymbolKey::from_path("libfoo.so/ABCD0/libfoo.so.sym").unwrap(),
//!     false,
//!     b"MODULE Linux x86_64 ABCD0 libfoo.so\nFUNC 1000 10 0 foo\n",
//! )?;
//! // ... run the stackwalker with `--symbols-url symbols.url()` ...
//! let asked: Vec<String> = symbols.requests().into_iter().map(|r| r.path).collect();
//! # Ok(()) }
//! ```

pub mod admin;
pub mod archive;
pub mod auth;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod download;
pub mod error;
pub mod faults;
pub mod keys;
pub mod multipart_guard;
pub mod request_log;
pub mod resumable;
pub mod server;
pub mod staging;
pub mod store;
pub mod sym_body;
pub mod sym_header;
pub mod sym_rewrite;
pub mod symbolicate;
pub mod synthetic;
pub mod testing;
pub mod upload;
pub mod upload_v2;
pub mod url_upload;

pub use config::Config;
pub use faults::{FaultAction, FaultRule, FaultSpec};
pub use server::Server;
pub use store::SymbolStore;
