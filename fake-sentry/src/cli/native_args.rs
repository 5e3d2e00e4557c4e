//! The native crash pipeline's flags (see `crate::native`).

use std::path::PathBuf;

use clap::Args;

use super::seconds;
use crate::config::{NativeConfig, parse_size};

#[derive(Args, Clone)]
pub(super) struct NativeArgs {
    /// Symbol store to fetch Breakpad symbols from for minidumps (fake-symbols, a Tecken, or
    /// any static Breakpad layout); repeat (or separate with commas) for several, tried in order.
    #[arg(
        long = "symbols-url",
        env = "FAKE_SENTRY_SYMBOLS_URL",
        value_delimiter = ','
    )]
    symbols_url: Vec<String>,
    /// Local directory of Breakpad symbols (DEBUG_FILE/DEBUG_ID/FILE.sym), looked in before
    /// the stores; repeatable.
    #[arg(
        long = "symbols-dir",
        env = "FAKE_SENTRY_SYMBOLS_DIR",
        value_delimiter = ','
    )]
    symbols_dir: Vec<PathBuf>,
    /// Where downloaded symbols are cached, shared by every dump; beside --db as DB-symbols,
    /// or a temporary directory removed at exit when in memory.
    #[arg(long, env = "FAKE_SENTRY_SYMBOLS_CACHE")]
    symbols_cache: Option<PathBuf>,
    /// Most bytes the symbol cache keeps; the least recently used files go first.
    #[arg(long, env = "FAKE_SENTRY_SYMBOLS_CACHE_MAX_BYTES", value_parser = parse_size, default_value = "2GiB")]
    symbols_cache_max_bytes: usize,
    /// Seconds one symbol download may take.
    #[arg(long, env = "FAKE_SENTRY_SYMBOLS_DOWNLOAD_TIMEOUT", default_value_t = crate::config::DEFAULT_SYMBOLS_DOWNLOAD_TIMEOUT.as_secs_f64())]
    symbols_download_timeout: f64,
    /// Seconds a module no symbol source had is remembered before the sources are asked again
    /// (reprocessing a dump forgets them all).
    #[arg(long, env = "FAKE_SENTRY_SYMBOLS_FORGET_MISSING_AFTER", default_value_t = crate::config::DEFAULT_FORGET_MISSING_AFTER.as_secs_f64())]
    symbols_forget_missing_after: f64,
    /// Minidumps processed at once, at the lowest CPU priority, after they are stored; 0 turns
    /// processing off (dumps stay pending).
    #[arg(long, env = "FAKE_SENTRY_MINIDUMP_WORKERS", default_value_t = crate::config::DEFAULT_MINIDUMP_WORKERS)]
    minidump_workers: usize,
    /// Seconds one minidump may take to process, symbol downloads included; past it the dump
    /// fails with Timeout.
    #[arg(long, env = "FAKE_SENTRY_MINIDUMP_TIMEOUT", default_value_t = crate::config::DEFAULT_MINIDUMP_TIMEOUT.as_secs_f64())]
    minidump_timeout: f64,
    /// Symbol-file bytes one minidump may load (a parsed file takes a few times its size in
    /// memory); a module whose file would pass it is processed without symbols.
    #[arg(long, env = "FAKE_SENTRY_MINIDUMP_MAX_SYMBOL_BYTES", value_parser = parse_size, default_value = "1GiB")]
    minidump_max_symbol_bytes: usize,
}

impl NativeArgs {
    pub(super) fn config(&self) -> anyhow::Result<NativeConfig> {
        Ok(NativeConfig {
            workers: self.minidump_workers,
            timeout: seconds("--minidump-timeout", self.minidump_timeout)?,
            max_symbol_bytes: self.minidump_max_symbol_bytes as u64,
            symbol_urls: self
                .symbols_url
                .iter()
                .map(|url| url.trim().trim_end_matches('/').to_string())
                .filter(|url| !url.is_empty())
                .collect(),
            symbol_dirs: self.symbols_dir.clone(),
            symbols_cache: self.symbols_cache.clone(),
            symbols_cache_max_bytes: self.symbols_cache_max_bytes as u64,
            download_timeout: seconds("--symbols-download-timeout", self.symbols_download_timeout)?,
            forget_missing_after: seconds(
                "--symbols-forget-missing-after",
                self.symbols_forget_missing_after,
            )?,
        })
    }
}
