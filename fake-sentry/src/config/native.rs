//! The native crash pipeline's settings: where symbols come from and what one dump may cost.

use std::path::PathBuf;
use std::time::Duration;

pub use crash_processing::WorkerCommand;

/// Dumps processed at once by default: one core's worth, at the lowest priority.
pub const DEFAULT_MINIDUMP_WORKERS: usize = 1;
/// Wall-clock time one dump may take by default, symbol downloads included.
pub const DEFAULT_MINIDUMP_TIMEOUT: Duration = Duration::from_secs(60);
/// Symbol-file bytes one dump may load by default (a parsed file takes a few times its size).
pub const DEFAULT_MINIDUMP_MAX_SYMBOL_BYTES: u64 = 1 << 30;
/// Heap one dump's processing may take by default, in a worker process.
pub const DEFAULT_MINIDUMP_MAX_MEMORY: u64 = 512 << 20;
/// The symbol cache's default cap.
pub const DEFAULT_SYMBOLS_CACHE_MAX_BYTES: u64 = 2 << 30;
/// The longest one symbol download may take by default.
pub const DEFAULT_SYMBOLS_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long "no source has this module" is remembered by default.
pub const DEFAULT_FORGET_MISSING_AFTER: Duration = Duration::from_secs(60);

/// How minidumps are processed after they are stored (see `native`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeConfig {
    /// Dumps processed at once; 0 turns processing off (dumps stay pending).
    pub workers: usize,
    /// Wall-clock time one dump may take; past it the dump fails with `Timeout`.
    pub timeout: Duration,
    /// Symbol-file bytes one dump may load; a module whose file would pass it is processed
    /// without symbols.
    pub max_symbol_bytes: u64,
    /// Memory one dump's processing may take in its worker process (its `RLIMIT_DATA` above
    /// what it holds with the job, on Linux); past it the dump fails with `MemoryLimit`. 0: no
    /// limit. Applied only with `isolation`.
    pub max_memory: u64,
    /// Processes each dump in a worker process that this command starts (the `fake-sentry`
    /// binary's hidden `process-minidump` subcommand), killed at `timeout` and its memory
    /// capped at `max_memory`: hard limits. `None` processes in this process, where the time limit is
    /// cooperative (checked every few frames) and only `max_symbol_bytes` bounds memory. The
    /// command line sets it; a library user (`testing::FakeSentry`) opts in.
    pub isolation: Option<WorkerCommand>,
    /// Symbol stores queried over HTTP, in order (Tecken-compatible or plain Breakpad).
    pub symbol_urls: Vec<String>,
    /// Local directories in Breakpad's layout, looked in before the stores.
    pub symbol_dirs: Vec<PathBuf>,
    /// Where downloaded symbols are kept; `None`: beside the database file (`<db>-symbols`),
    /// or a temporary directory removed at exit when the store is in memory.
    pub symbols_cache: Option<PathBuf>,
    /// The symbol cache's cap; least recently used files go first.
    pub symbols_cache_max_bytes: u64,
    /// The longest one symbol download may take.
    pub download_timeout: Duration,
    /// How long a module no source had is remembered before the sources are asked again.
    pub forget_missing_after: Duration,
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_MINIDUMP_WORKERS,
            timeout: DEFAULT_MINIDUMP_TIMEOUT,
            max_symbol_bytes: DEFAULT_MINIDUMP_MAX_SYMBOL_BYTES,
            max_memory: DEFAULT_MINIDUMP_MAX_MEMORY,
            isolation: None,
            symbol_urls: Vec::new(),
            symbol_dirs: Vec::new(),
            symbols_cache: None,
            symbols_cache_max_bytes: DEFAULT_SYMBOLS_CACHE_MAX_BYTES,
            download_timeout: DEFAULT_SYMBOLS_DOWNLOAD_TIMEOUT,
            forget_missing_after: DEFAULT_FORGET_MISSING_AFTER,
        }
    }
}
