//! `crash-processing`: the real `minidump-processor` over symbol sources shared by every dump
//! of a process.
//!
//! How the parts fit:
//! - [`SymbolSources`] says where symbols come from: Tecken-compatible or plain Breakpad HTTP
//!   stores (tried in order), local directories in Breakpad's layout, and the disk cache that
//!   downloads land in, with its size cap.
//! - [`SharedSupplier`] is rust-minidump's HTTP supplier over those sources, plus a memo of the
//!   modules no source had, so each missing module is asked for once per process whatever the
//!   number of dumps. `cache` keeps the cache under its cap, least recently used first.
//! - [`Processor`] processes one dump at a time with a symbolizer of its own (so a module's
//!   `loaded_symbols` describes that dump only, as a fresh `minidump-stackwalk` would report it)
//!   within [`Limits`]: a wall-clock time limit and a budget of symbol-file bytes per dump,
//!   checked before each file is parsed; `yielding` gives the runtime a turn every few frames,
//!   so that the time limit holds while a walk runs from memory. [`to_json`] gives
//!   `minidump-stackwalk --json`'s form.
//!
//! The harness uses it to check crashes against their ground truth; fake-sentry uses it to turn
//! minidump uploads into native crash events.

mod cache;
mod process;
mod supplier;
mod yielding;

pub use process::{Limits, ProcessFailure, Processor, to_json};
pub use supplier::{SharedSupplier, SymbolSources};
