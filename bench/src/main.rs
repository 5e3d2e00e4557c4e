//! `bench`: Understudy's benchmarks (see the library docs). Parses the command line and calls
//! the measuring module; prints figures, asserts nothing about time.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use bench::{crash_generation, demo_run, scrub_speed, sentry_ingest, sentry_suite, symbols_server};
use clap::{Args, Parser, Subcommand};
use fake_sentry::config::SyncMode;
use fake_symbols::config::{Config, Token, parse_size};

/// mimalloc, as the services run with (the exact heap count of a parsed module is taken by
/// `bench-parse-footprint`, a binary of its own, so no bench here pays for counting).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bench",
    version,
    about = "Understudy's benchmarks: figures, never pass/fail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// fake-sentry: ingest throughput and latency over loopback (or the web UI with --ui).
    FakeSentry(FakeSentryArgs),
    /// fake-symbols: download, upload and symbolication, with the server's peak RSS.
    FakeSymbols(FakeSymbolsArgs),
    /// crash-generator: crashes (minidump, syms, truth) generated per second on one core.
    CrashGenerator(CrashGeneratorArgs),
    /// harness: the demo corpus end to end, with each stage's share of the time.
    Harness(HarnessArgs),
    /// event-filter: scrubbing speed on one core (and Fillmore's, with `--fillmore-python`).
    EventFilter(EventFilterArgs),
    /// Serve fake-symbols on 127.0.0.1:0 and print its URL (run by fake-symbols).
    #[command(hide = true)]
    ServeFakeSymbols {
        #[arg(long)]
        symbols_dir: PathBuf,
        /// A token with the upload permission.
        #[arg(long)]
        token: String,
        #[arg(long, value_parser = parse_size)]
        max_upload: Option<u64>,
    },
}

#[derive(Args)]
struct FakeSentryArgs {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds per target.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Send at this constant rate (envelopes/s across all connections, as wrk2's -R) and count
    /// each request's latency from when it was due, so that a stall shows in every request it
    /// held back. Without it each connection sends back to back (closed loop, for throughput).
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Also measure a peer (e.g. Kent) at this base URL with the same load.
    #[arg(long)]
    peer: Option<String>,
    /// Directory for the file-backed database (a temporary one when absent).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// How the file-backed targets sync to disk (as `--sync` of the server).
    #[arg(long, default_value = "off")]
    sync: SyncMode,
    /// What to measure, comma-separated: memory, file (the whole server), http (the HTTP
    /// stack alone, answering without ingest), http-ingest (HTTP and ingest, no storage),
    /// storage-memory, storage-file (the SQLite writer alone), ingest (decoding alone, one
    /// thread).
    #[arg(long, value_delimiter = ',', default_value = "memory,file")]
    targets: Vec<sentry_ingest::Target>,
    /// Also measure the storage stage alone (no HTTP, no parsing): adds storage-memory and
    /// storage-file to the targets.
    #[arg(long)]
    storage_only: bool,
    /// Also measure the ingest stage alone (decoding, parsing, describing; one thread, no
    /// HTTP, no storage): adds ingest to the targets.
    #[arg(long)]
    ingest_only: bool,
    /// Measure the web UI instead: page rendering with `--ui-items` stored events.
    #[arg(long)]
    ui: bool,
    /// Events stored before the UI pages are timed.
    #[arg(long, default_value_t = 100_000)]
    ui_items: usize,
    /// Renders per UI page.
    #[arg(long, default_value_t = 200)]
    ui_runs: usize,
}

impl FakeSentryArgs {
    fn options(self) -> sentry_suite::SuiteOptions {
        let mut targets = self.targets;
        if self.storage_only {
            targets.extend([
                sentry_ingest::Target::StorageMemory,
                sentry_ingest::Target::StorageFile,
            ]);
        }
        if self.ingest_only {
            targets.push(sentry_ingest::Target::Ingest);
        }
        sentry_suite::SuiteOptions {
            connections: self.connections,
            duration: Duration::from_secs_f64(self.duration),
            load: self
                .rate
                .map_or(sentry_ingest::Load::Closed, sentry_ingest::Load::Rate),
            peer: self.peer,
            dir: self.dir,
            sync: self.sync,
            targets,
            ui: self.ui,
            ui_items: self.ui_items,
            ui_runs: self.ui_runs,
        }
    }
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a rate: expected envelopes/s above 0"
        )),
    }
}

#[derive(Args)]
struct FakeSymbolsArgs {
    /// Size of the downloaded sym file (0 skips the download bench).
    #[arg(long, value_parser = parse_size, default_value = "700MB")]
    download: u64,
    /// Size of the uploaded zip (0 skips the upload bench).
    #[arg(long, value_parser = parse_size, default_value = "1GB")]
    upload: u64,
    /// Size of the synthetic module symbolicated (0 skips the symbolication bench).
    #[arg(long, value_parser = parse_size, default_value = "700MB")]
    symbolicate: u64,
    /// Scratch directory (a temporary one when absent).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct CrashGeneratorArgs {
    /// OS flavour: linux, windows, mac or windows-x86.
    #[arg(long)]
    os: Option<crash_generator::OsFlavor>,
    /// A TOML profile file (defaults apply to missing keys).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Crashes to generate.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
}

#[derive(Args)]
struct HarnessArgs {
    /// Also run this minidump-stackwalk on every crash.
    #[arg(long, env = "MINIDUMP_STACKWALK")]
    stackwalk: Option<PathBuf>,
}

#[derive(Args)]
struct EventFilterArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// A Python with `fillmore` installed: also run
    /// event-filter/testdata/bench/fillmore_bench.py.
    #[arg(long)]
    fillmore_python: Option<PathBuf>,
}

/// Serves fake-symbols for the fake-symbols bench, which measures this process from outside.
async fn serve_fake_symbols(
    symbols_dir: PathBuf,
    token: String,
    max_upload: Option<u64>,
) -> anyhow::Result<()> {
    let mut config = Config::ephemeral();
    config.symbols_dir = Some(symbols_dir);
    config.tokens =
        vec![Token::parse_flag(&format!("{token}:upload")).map_err(anyhow::Error::msg)?];
    if let Some(max_upload) = max_upload {
        config.limits.max_upload_bytes = max_upload;
    }
    let server = fake_symbols::Server::bind(config)
        .await
        .context("cannot start fake-symbols")?;
    println!("fake-symbols listening on {}", server.url());
    server.run(http_edge::shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A per-request log line would dominate what is measured.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::FakeSentry(args) => sentry_suite::run(&args.options()).await,
        Command::FakeSymbols(args) => {
            symbols_server::run(symbols_server::BenchOptions {
                download_bytes: args.download,
                upload_bytes: args.upload,
                symbolicate_bytes: args.symbolicate,
                dir: args.dir,
            })
            .await
        }
        Command::CrashGenerator(args) => {
            let mut profile = match &args.profile {
                Some(path) => crash_generator::Profile::load(path)?,
                None => crash_generator::Profile::default(),
            };
            if let Some(os) = args.os {
                profile.os = os;
            }
            println!("{}", crash_generation::run(&profile, args.count));
            Ok(())
        }
        Command::Harness(args) => {
            println!("{}", demo_run::run_bench(args.stackwalk).await?);
            Ok(())
        }
        Command::EventFilter(args) => {
            scrub_speed::run(args.seconds, args.fillmore_python.as_deref())
        }
        Command::ServeFakeSymbols {
            symbols_dir,
            token,
            max_upload,
        } => serve_fake_symbols(symbols_dir, token, max_upload).await,
    }
}
