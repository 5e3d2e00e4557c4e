//! `bench fake-sentry-minidumps`: fake-sentry's native crash pipeline, measured from outside.
//!
//! 1. Processing throughput with a warm symbol cache (`processing`): crash-generator dumps
//!    of Linux, Windows and macOS programs (`corpus`), their symbol files served by an
//!    in-process fake-symbols, posted to fake-sentry's real command line in a process of its
//!    own (`--db :memory:` or a fresh file, `--symbols-url`, `--symbols-cache` on disk,
//!    `--minidump-workers W`); a first pass fills the cache, then each timed pass starts a
//!    fresh server over it and times from the first post until every dump is processed.
//! 2. Ingest beside processing (`beside_ingest`): the ingest bench's closed loop on a
//!    server with the same flags, with no dump pending and with a backlog that keeps the
//!    workers busy for the whole window, alternating, with the ratio of the two.
//!
//! How the parts fit: [`run`] calls the stages in order (`generate`, `serve_symbols`,
//! `time_processing`, `time_ingest_beside`); `server` starts a server and posts and waits on
//! dumps; `threads` reads from `/proc` where the CPU went during each ingest window.

mod beside_ingest;
mod corpus;
mod processing;
mod server;
mod threads;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_symbols::testing::FakeSymbols;

use crate::sentry_ingest;
use beside_ingest::{Window, WindowSettings};
use corpus::Corpus;
use processing::Pass;
use server::Launch;

/// Where the servers keep their store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// `--db :memory:`: one SQLite connection, shared by the writer and every read.
    Memory,
    /// `--db FILE` in the scratch directory (WAL, `--sync off`: the server's default), a
    /// fresh file per server: readers have connections of their own.
    File,
}

/// What one `bench fake-sentry-minidumps` run measures.
#[derive(Debug, Clone)]
pub struct MinidumpOptions {
    /// What the dumps look like: crash-generator's default profile unless a file says
    /// otherwise; its `os` is replaced by each flavour in turn.
    pub profile: crash_generator::Profile,
    /// Dumps per pass.
    pub dumps: usize,
    pub store: StoreKind,
    /// Programs per OS flavour the dumps are spread over.
    pub programs: usize,
    /// `--minidump-workers` values, each measured in turn.
    pub workers: Vec<usize>,
    /// Timed passes per worker count.
    pub runs: usize,
    /// Ingest load: connections and seconds per window.
    pub connections: usize,
    pub duration: Duration,
    /// (a, b) pairs of ingest windows per worker count; 0 skips them.
    pub rounds: usize,
    /// Scratch directory (the symbol cache and the servers' log); temporary when absent.
    pub dir: Option<PathBuf>,
    /// `--minidump-in-process`: dumps processed in the server, not a worker process each.
    pub in_process: bool,
}

/// Runs the benchmark, printing as it goes.
pub async fn run(options: &MinidumpOptions) -> anyhow::Result<()> {
    let scratch =
        crate::scratch::Scratch::new(options.dir.as_deref(), "fake-sentry-minidumps-bench-")?;
    let dir = scratch.path().to_path_buf();
    let corpus = generate(options);
    let symbols = serve_symbols(&corpus).await?;
    let launch = launch(&dir, options, &symbols)?;
    let rates = time_processing(options, &launch, &symbols, &corpus).await?;
    if options.rounds > 0 {
        time_ingest_beside(options, &launch, &corpus, &rates).await?;
    }
    symbols.shutdown().await;
    Ok(())
}

fn generate(options: &MinidumpOptions) -> Corpus {
    let began = Instant::now();
    let corpus = Corpus::generate(&options.profile, options.dumps, options.programs);
    println!(
        "corpus: {} crash-generator dumps ({} KB mean) of {} programs per OS ({}), generated in \
         {:.1} s; {} distinct sym files ({:.1} MB)",
        corpus.forms.len(),
        corpus.dump_bytes / corpus.forms.len().max(1) as u64 / 1024,
        options.programs,
        corpus::FLAVOURS.map(|os| os.as_str()).join(", "),
        began.elapsed().as_secs_f64(),
        corpus.sym_files.len(),
        corpus.sym_bytes() as f64 / 1e6,
    );
    corpus
}

/// An in-process fake-symbols holding every symbol file of the corpus.
async fn serve_symbols(corpus: &Corpus) -> anyhow::Result<FakeSymbols> {
    let symbols = FakeSymbols::start().await?;
    corpus.upload_symbols(&symbols)?;
    Ok(symbols)
}

/// The servers' shared flags: the symbol cache starts empty.
fn launch(dir: &Path, options: &MinidumpOptions, symbols: &FakeSymbols) -> anyhow::Result<Launch> {
    let symbols_cache = dir.join("symbols-cache");
    if symbols_cache.exists() {
        std::fs::remove_dir_all(&symbols_cache)?;
    }
    std::fs::create_dir_all(&symbols_cache)?;
    let log = dir.join("fake-sentry.log");
    let db = match options.store {
        StoreKind::Memory => PathBuf::from(":memory:"),
        StoreKind::File => dir.join("bench.sqlite"),
    };
    println!(
        "fake-sentry: its command line in a process of its own (bench serve-fake-sentry), \
         --db {}, --symbols-url (fake-symbols in the bench), --symbols-cache on disk, dumps \
         processed {}; its log: {}",
        db.display(),
        if options.in_process {
            "in the server (--minidump-in-process)"
        } else {
            "in a worker process each"
        },
        log.display()
    );
    Ok(Launch {
        db,
        symbols_url: symbols.url(),
        symbols_cache,
        log,
        in_process: options.in_process,
    })
}

/// Part 1: a pass that fills the cache, then `runs` timed passes per worker count. Returns the
/// best warm rate of each worker count, for the backlog of part 2.
async fn time_processing(
    options: &MinidumpOptions,
    launch: &Launch,
    symbols: &FakeSymbols,
    corpus: &Corpus,
) -> anyhow::Result<Vec<(usize, f64)>> {
    println!();
    println!(
        "1. minidumps processed per second, warm symbol cache (a fresh server per pass, timed \
         from the first post until the wait API counts every dump processed)"
    );
    println!("{}", processing::header_row());
    let first = options.workers.first().copied().unwrap_or(1);
    let warm_up = processing::pass("cold cache (fills it)", launch, symbols, corpus, first).await?;
    println!("{}", processing::format_row(&warm_up));
    let mut rates = Vec::new();
    for &workers in &options.workers {
        let mut passes: Vec<Pass> = Vec::new();
        for run in 1..=options.runs.max(1) {
            let label = format!("warm cache #{run}");
            let pass = processing::pass(&label, launch, symbols, corpus, workers).await?;
            println!("{}", processing::format_row(&pass));
            passes.push(pass);
        }
        let best = passes.iter().map(Pass::per_second).fold(0.0, f64::max);
        rates.push((workers, best));
    }
    Ok(rates)
}

/// Part 2: for each worker count, `rounds` pairs of ingest windows, without and beside dumps.
async fn time_ingest_beside(
    options: &MinidumpOptions,
    launch: &Launch,
    corpus: &Corpus,
    rates: &[(usize, f64)],
) -> anyhow::Result<()> {
    println!();
    println!(
        "2. ingest without (a) and beside (b) minidump processing: {} connections, closed loop, \
         {:.1} s per window, sentry-sdk 2.75.0 error envelope (gzip); a fresh server per row; \
         (b) posts a backlog of {}x the window at the warm rate first",
        options.connections,
        options.duration.as_secs_f64(),
        beside_ingest::BACKLOG_MARGIN,
    );
    for &(workers, dumps_per_second) in rates {
        let settings = WindowSettings {
            workers,
            connections: options.connections,
            duration: options.duration,
            dumps_per_second,
        };
        println!();
        println!("--minidump-workers {workers}");
        println!("{}", sentry_ingest::header_row());
        let mut windows: Vec<Window> = Vec::new();
        for round in 1..=options.rounds {
            let label = format!("(a) no dumps #{round}");
            let window = beside_ingest::without_dumps(&label, launch, &settings).await?;
            println!("{}", sentry_ingest::format_row(&window.result));
            for line in beside_ingest::cpu_lines(&window) {
                println!("{line}");
            }
            windows.push(window);
            let label = format!("(b) dumps processing #{round}");
            let window = beside_ingest::beside_dumps(&label, launch, corpus, &settings).await?;
            println!("{}", sentry_ingest::format_row(&window.result));
            if let Some(backlog) = &window.backlog {
                println!("{}", beside_ingest::backlog_line(backlog, options.duration));
            }
            for line in beside_ingest::cpu_lines(&window) {
                println!("{line}");
            }
            windows.push(window);
        }
        for line in beside_ingest::ratio_lines(&windows) {
            println!("{line}");
        }
    }
    Ok(())
}
