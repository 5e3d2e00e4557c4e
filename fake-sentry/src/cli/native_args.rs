//! The native crash pipeline's flags (see `crate::native`).

use std::path::PathBuf;

use std::ffi::OsString;

use anyhow::Context;
use clap::Args;

use super::seconds;
use crate::config::{NativeConfig, WorkerCommand, parse_size};

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
    /// Memory one minidump's processing may take in its worker process (its data size above
    /// what it holds with the job, held by the kernel on Linux); past it the dump fails with
    /// MemoryLimit. 0: no limit.
    #[arg(long, env = "FAKE_SENTRY_MINIDUMP_MAX_MEMORY", value_parser = parse_size, default_value = "512MiB")]
    minidump_max_memory: usize,
    /// Process minidumps in this process instead of a worker process per dump: no process is
    /// started, but the time limit is only checked every few frames and the memory limit is
    /// not applied (a hostile dump can hold a worker thread and take the server's memory).
    #[arg(long, env = "FAKE_SENTRY_MINIDUMP_IN_PROCESS")]
    minidump_in_process: bool,
}

impl NativeArgs {
    pub(super) fn config(&self) -> anyhow::Result<NativeConfig> {
        Ok(NativeConfig {
            workers: self.minidump_workers,
            timeout: seconds("--minidump-timeout", self.minidump_timeout)?,
            max_symbol_bytes: self.minidump_max_symbol_bytes as u64,
            max_memory: self.minidump_max_memory as u64,
            // Set by `isolation`, which needs to know the executable.
            isolation: None,
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

impl NativeArgs {
    /// The worker command for each dump: this executable's `process-minidump`, run with
    /// `prefix` before it; `None` with `--minidump-in-process`.
    pub(super) fn isolation(&self, prefix: &[OsString]) -> anyhow::Result<Option<WorkerCommand>> {
        if self.minidump_in_process {
            return Ok(None);
        }
        crate::native::worker::this_executable(prefix)
            .map(Some)
            .context("cannot find this executable to run minidump workers")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::Cli;
    use crate::config::DEFAULT_MINIDUMP_MAX_MEMORY;

    fn native(args: &[&str]) -> super::NativeArgs {
        let cli = Cli::try_parse_from(["fake-sentry"].iter().chain(args)).expect("parses");
        cli.serve.native
    }

    #[test]
    fn dumps_go_to_a_worker_of_this_executable_unless_processed_in_process() {
        let isolation = native(&[]).isolation(&[]).expect("a worker command");
        let command = isolation.expect("isolated by default");
        assert_eq!(command.program(), std::env::current_exe().unwrap());
        let shown = format!("{command:?}");
        assert!(
            shown.contains("\"process-minidump\"") && shown.contains("\"fake-sentry\""),
            "{shown}"
        );
        let in_process = native(&["--minidump-in-process"]).isolation(&[]).unwrap();
        assert_eq!(in_process, None);
    }

    #[test]
    fn the_memory_limit_defaults_to_the_library_s_and_zero_turns_it_off() {
        let config = |args: &[&str]| native(args).config().expect("config").max_memory;
        assert_eq!(config(&[]), DEFAULT_MINIDUMP_MAX_MEMORY);
        assert_eq!(
            crate::config::NativeConfig::default().max_memory,
            DEFAULT_MINIDUMP_MAX_MEMORY
        );
        assert_eq!(config(&["--minidump-max-memory=64MiB"]), 64 << 20);
        assert_eq!(config(&["--minidump-max-memory=0"]), 0);
    }
}
