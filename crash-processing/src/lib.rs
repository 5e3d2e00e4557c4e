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
//! - Those limits are cooperative: code that never yields is never stopped, and the symbol
//!   budget bounds only what symbol files take. [`Processor::isolated`] makes them hard: each
//!   dump is processed in a worker process ([`WorkerCommand`], running [`serve_worker`]) that
//!   is killed at the time limit and whose memory the kernel caps ([`Limits::max_memory`]);
//!   [`Processor::process_to_json`] gives the same JSON either way. The `worker` module
//!   describes the protocol.
//!
//! The harness uses it to check crashes against their ground truth; fake-sentry uses it to turn
//! minidump uploads into native crash events.

mod cache;
mod process;
mod supplier;
mod worker;
mod yielding;

pub use process::{Limits, ProcessFailure, Processor, to_json};
pub use supplier::{SharedSupplier, SymbolSources};
pub use worker::{WorkerCommand, WorkerError, serve as serve_worker};
