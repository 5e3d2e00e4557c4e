//! `bench`: Understudy's benchmarks (see the library docs). Parses the command line and calls
//! the measuring module; prints figures, asserts nothing about time.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bench::{
    crash_generation, demo_run, scratch, scrub_speed, sentry_db, sentry_ingest, sentry_logs,
    sentry_minidumps, sentry_suite, symbols_server,
};
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
    /// fake-sentry on a large database file, as its own process: fill rate, disk per
    /// envelope, search, stats and UI times, restart time and RSS under sustained load.
    FakeSentryDb(FakeSentryDbArgs),
    /// fake-sentry's log listing: `/logs` and `/api/logs/` times per filter over 100,000
    /// stored log entries, in memory and on a file.
    FakeSentryLogs(FakeSentryLogsArgs),
    /// fake-sentry's minidump processing, as its own process: dumps/s with a warm symbol
    /// cache, and ingest throughput with and without dumps being processed beside it.
    FakeSentryMinidumps(FakeSentryMinidumpsArgs),
    /// fake-symbols: download, upload and symbolication, with the server's peak RSS.
    FakeSymbols(FakeSymbolsArgs),
    /// crash-generator: crashes (minidump, syms, truth) generated per second on one core.
    CrashGenerator(CrashGeneratorArgs),
    /// harness: the demo corpus end to end, with each stage's share of the time.
    Harness(HarnessArgs),
    /// event-filter: scrubbing speed on one core (and Fillmore's, with `--fillmore-python`).
    EventFilter(EventFilterArgs),
    /// Run fake-sentry's command line, `fake-sentry ARGS...` (run by fake-sentry-db,
    /// fake-sentry-minidumps and fake-sentry --server-process).
    #[command(hide = true)]
    ServeFakeSentry {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
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
    /// Also drive each HTTP target and peer with Debian's wrk (`wrk -t1 -c{connections}
    /// -d{duration}s`, closed loop, one fixed body), in rows labelled "(wrk)".
    #[arg(long, conflicts_with = "rate")]
    wrk: bool,
    /// The wrk to run with --wrk.
    #[arg(long, default_value = "wrk")]
    wrk_path: PathBuf,
    /// Also measure a peer (e.g. Kent) at this base URL with the same load.
    #[arg(long)]
    peer: Option<String>,
    /// Start Kent from this `kent-server` (pip install kent==2.2.0) on a free port, measure
    /// it with the same load, and print each target's throughput over Kent's.
    #[arg(long)]
    kent: Option<PathBuf>,
    /// Seconds per peer (--peer, --kent) [default: --duration, at most 10].
    #[arg(long)]
    peer_duration: Option<f64>,
    /// Directory for the file-backed database (a temporary one when absent).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// How the file-backed targets sync to disk (as `--sync` of the server).
    #[arg(long, default_value = "off")]
    sync: SyncMode,
    /// The in-process server's --max-events (everything is kept when absent).
    #[arg(long)]
    max_events: Option<usize>,
    /// The in-process server's --max-db-size (no cap when absent).
    #[arg(long, value_parser = fake_sentry::config::parse_size)]
    max_db_size: Option<usize>,
    /// The in-process server's --search-index-max-bytes (its default when absent; 0 turns
    /// the index off).
    #[arg(long, value_parser = fake_sentry::config::parse_size)]
    search_index_max_bytes: Option<usize>,
    /// The server's --bodies: compact or as-sent (its default when absent).
    #[arg(long)]
    bodies: Option<fake_sentry::BodyStorage>,
    /// Run the whole-server targets (memory, file) as fake-sentry's real command line in a
    /// process of its own, as it is deployed, instead of in this one (where the server shares
    /// the process, allocator and runtime with the built-in client).
    #[arg(long)]
    server_process: bool,
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
            wrk: self.wrk.then_some(self.wrk_path),
            peer: self.peer,
            kent: self.kent,
            peer_duration: Duration::from_secs_f64(
                self.peer_duration
                    .unwrap_or(self.duration.min(PEER_SECONDS)),
            ),
            dir: self.dir,
            sync: self.sync,
            caps: sentry_ingest::ServerCaps {
                max_items: self.max_events,
                max_db_bytes: self.max_db_size.map(|b| b as u64),
                search_index_max_bytes: self.search_index_max_bytes,
                bodies: self.bodies,
            },
            server_process: self.server_process,
            targets,
            ui: self.ui,
            ui_items: self.ui_items,
            ui_runs: self.ui_runs,
        }
    }
}

/// The longest a peer is driven unless --peer-duration says otherwise (see
/// `SuiteOptions::peer_duration`).
const PEER_SECONDS: f64 = 10.0;

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a rate: expected envelopes/s above 0"
        )),
    }
}

#[derive(Args)]
struct FakeSentryLogsArgs {
    /// Log entries stored before anything is timed.
    #[arg(long, default_value_t = 100_000)]
    entries: usize,
    /// Timed requests per case and path (after 3 warm-up requests).
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// The stores measured, each filled afresh: memory, file (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "memory,file")]
    stores: Vec<sentry_logs::StoreKind>,
    /// Where the file store goes (a temporary directory, removed after, when absent).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct FakeSentryDbArgs {
    /// Events stored before anything is timed (each one distinct).
    #[arg(long, default_value_t = 1_000_000)]
    items: u64,
    /// Connections filling the store (closed loop) and sending the sustained load.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Directory for the database (a temporary one when absent). With --keep, a later run
    /// with the same --items reuses the database instead of filling it again.
    #[arg(long)]
    db_dir: Option<PathBuf>,
    /// Leave the database and the server's log in --db-dir.
    #[arg(long, requires = "db_dir")]
    keep: bool,
    /// Measure this fake-sentry binary instead of the one built into bench (the same
    /// sources as bench, run as `bench serve-fake-sentry`).
    #[arg(long)]
    server: Option<PathBuf>,
    /// One more argument for fake-sentry (repeat for several), e.g. --server-arg=--sync=normal.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// The server's RUST_LOG: warn, so that fake-sentry's info line per captured envelope is
    /// not part of what is measured (the in-process benches run at warn too).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// The server's --max-events [default: --items, so the fill evicts nothing and the
    /// sustained load evicts one item per new one].
    #[arg(long)]
    max_events: Option<u64>,
    /// Timed repetitions of each read.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Restarts timed.
    #[arg(long, default_value_t = 3)]
    restarts: usize,
    /// Then send new events for this many seconds, sampling the server's RSS.
    #[arg(long)]
    sustain: Option<f64>,
    /// The sustained load's rate in envelopes/s [default: closed loop, flat out].
    #[arg(long, value_parser = positive_rate)]
    sustain_rate: Option<f64>,
    /// Seconds between RSS samples.
    #[arg(long, default_value_t = 10.0)]
    rss_every: f64,
    /// Seconds of the sustained run before the sample the others are compared with
    /// [default: a quarter of --sustain, at most 60].
    #[arg(long)]
    rss_warmup: Option<f64>,
}

impl FakeSentryDbArgs {
    fn options(self) -> sentry_db::DbOptions {
        sentry_db::DbOptions {
            items: self.items,
            connections: self.connections,
            dir: self.db_dir,
            keep: self.keep,
            server: self.server,
            server_args: self.server_args,
            server_log: self.server_log,
            max_events: self.max_events,
            runs: self.runs,
            restarts: self.restarts,
            sustain: self.sustain.map(|seconds| sentry_db::Sustain {
                duration: Duration::from_secs_f64(seconds),
                rate: self.sustain_rate,
                every: Duration::from_secs_f64(self.rss_every.max(0.01)),
                warmup: Duration::from_secs_f64(
                    self.rss_warmup.unwrap_or((seconds / 4.0).min(60.0)),
                ),
            }),
        }
    }
}

#[derive(Args)]
struct FakeSentryMinidumpsArgs {
    /// crash-generator dumps per pass (Linux, Windows and macOS in turn).
    #[arg(long, default_value_t = 3000)]
    dumps: usize,
    /// The servers' store: memory (`--db :memory:`) or file (a fresh `--db FILE` per server,
    /// in --dir).
    #[arg(long, default_value = "memory")]
    store: sentry_minidumps::StoreKind,
    /// Programs per OS the dumps are spread over, so that modules repeat across dumps.
    #[arg(long, default_value_t = 3)]
    programs: usize,
    /// A crash-generator TOML profile for the dumps (its `os` is replaced by Linux, Windows
    /// and macOS in turn) [default: crash-generator's default profile].
    #[arg(long)]
    profile: Option<PathBuf>,
    /// The server's --minidump-workers (by default the server's own default),
    /// comma-separated for several, each measured in turn.
    #[arg(long, value_delimiter = ',',
          default_values_t = [fake_sentry::config::DEFAULT_MINIDUMP_WORKERS],
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    workers: Vec<usize>,
    /// Timed passes per worker count, each on a fresh server over the warm cache.
    #[arg(long, default_value_t = 2)]
    runs: usize,
    /// Concurrent keep-alive connections of the ingest load.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds per ingest window.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Pairs of ingest windows (without, then beside dumps) per worker count; 0 skips them.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Scratch directory for the symbol cache and the server's log (a temporary one when
    /// absent).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Process the dumps in the server's process (--minidump-in-process) instead of a worker
    /// process per dump.
    #[arg(long)]
    in_process: bool,
}

impl FakeSentryMinidumpsArgs {
    fn options(self) -> anyhow::Result<sentry_minidumps::MinidumpOptions> {
        Ok(sentry_minidumps::MinidumpOptions {
            profile: match &self.profile {
                Some(path) => crash_generator::Profile::load(path)?,
                None => crash_generator::Profile::default(),
            },
            dumps: self.dumps.max(1),
            store: self.store,
            programs: self.programs.max(1),
            workers: self.workers,
            runs: self.runs,
            connections: self.connections,
            duration: Duration::from_secs_f64(self.duration),
            rounds: self.rounds,
            dir: self.dir,
            in_process: self.in_process,
        })
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

fn main() -> anyhow::Result<ExitCode> {
    let command = Cli::parse().command;
    // fake-sentry's command line sets up its own logging and runtime, so it runs before this
    // binary has either.
    if let Command::ServeFakeSentry { args } = command {
        let argv = std::iter::once(OsString::from("fake-sentry")).chain(args);
        // Its minidump workers are this binary run the same way.
        let host = fake_sentry::cli::Host {
            prefix: vec!["serve-fake-sentry".into()],
        };
        return Ok(fake_sentry::cli::main_with(argv, host));
    }
    // A per-request log line would dominate what is measured.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(command))?;
    Ok(ExitCode::SUCCESS)
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::FakeSentry(args) => sentry_suite::run(&args.options()).await,
        Command::FakeSentryDb(args) => sentry_db::run(&args.options()).await,
        Command::FakeSentryLogs(args) => {
            let scratch = scratch::Scratch::new(args.dir.as_deref(), "fake-sentry-logs-bench")?;
            let options = sentry_logs::LogsOptions {
                entries: args.entries.max(1),
                runs: args.runs.max(1),
                stores: args.stores,
            };
            sentry_logs::run(scratch.path(), &options).await.map(drop)
        }
        Command::FakeSentryMinidumps(args) => sentry_minidumps::run(&args.options()?).await,
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
        Command::ServeFakeSentry { .. } => unreachable!("served before the runtime started"),
        Command::ServeFakeSymbols {
            symbols_dir,
            token,
            max_upload,
        } => serve_fake_symbols(symbols_dir, token, max_upload).await,
    }
}
