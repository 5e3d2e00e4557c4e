//! `bench fake-sentry-db`: fake-sentry on a large database file, measured from outside, as a
//! user runs it (`fake-sentry --db FILE`, in a process of its own: see `sentry_db/server.rs`).
//!
//! 1. Fill: `--items` distinct events (`sentry_db/corpus.rs`) over HTTP, by the ingest bench's
//!    closed-loop client ([`crate::sentry_ingest::drive_bodies`]); prints the rate. A kept
//!    database (`--keep`) that already holds that many items is used as it is.
//! 2. Disk: the database file and its WAL, per stored envelope and as a multiple of the
//!    envelope's size on the wire.
//! 3. Reads: searches, the stats and the UI's list page, timed over HTTP
//!    (`sentry_db/queries.rs`).
//! 4. Restart: SIGTERM, then a new server on the same file, timed from its spawn to its first
//!    200 from `/api/stats/`, `--restarts` times.
//! 5. With `--sustain SECS`: new events for that long while the server's RSS is sampled
//!    (`sentry_db/rss.rs`).
//!
//! Like every bench, it prints figures and asserts none.

mod corpus;
mod disk;
mod queries;
mod rss;

pub use rss::Sustain;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest_012 as reqwest;

use crate::child_server::http_client;
use crate::sentry_ingest::{self as ingest_bench, Bodies, Load, Span};
use crate::sentry_process::{ServerCommand, Started};
use corpus::Corpus;
use disk::DiskUse;

/// What one `bench fake-sentry-db` run does.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Events stored before anything is timed.
    pub items: u64,
    /// Connections filling the store (and sending the sustained load).
    pub connections: usize,
    /// Where the database goes; a temporary directory when absent.
    pub dir: Option<PathBuf>,
    /// Leave the database (and the server's log) in `dir` at the end.
    pub keep: bool,
    /// A fake-sentry binary to measure instead of this binary's built-in one.
    pub server: Option<PathBuf>,
    /// More arguments for fake-sentry.
    pub server_args: Vec<String>,
    /// The server's `RUST_LOG`.
    pub server_log: String,
    /// Items the server keeps before evicting the oldest; `items` when absent.
    pub max_events: Option<u64>,
    /// Timed repetitions of each read.
    pub runs: usize,
    pub restarts: usize,
    pub sustain: Option<Sustain>,
}

/// The database's file name in the directory.
const DB_FILE: &str = "fake-sentry.sqlite";
const LOG_FILE: &str = "fake-sentry.log";

/// Runs the bench, printing as it goes.
pub async fn run(options: &DbOptions) -> anyhow::Result<()> {
    let scratch = crate::scratch::Scratch::new(options.dir.as_deref(), "fake-sentry-db-bench-")?;
    let dir = scratch.path().to_path_buf();
    let db = dir.join(DB_FILE);
    let command = ServerCommand {
        program: options.server.clone(),
        db: db.clone(),
        max_events: options.max_events.unwrap_or(options.items),
        args: options.server_args.clone(),
        log_filter: options.server_log.clone(),
        log: dir.join(LOG_FILE),
    };
    let result = measure(options, &command).await;
    if options.keep {
        println!("kept: {} (and {})", db.display(), command.log.display());
    } else {
        // The database can be gigabytes: it goes whatever the outcome (a temporary directory
        // goes with its handle; a given one keeps everything else in it).
        DiskUse::remove(&db);
        let _ = std::fs::remove_file(&command.log);
    }
    result
}

async fn measure(options: &DbOptions, command: &ServerCommand) -> anyhow::Result<()> {
    let client = http_client()?;
    let corpus = Arc::new(Corpus::new());
    let reused = DiskUse::of(&command.db).db > 0;
    let Started {
        server: mut running,
        mut url,
        listening_after,
        serving_after,
    } = command.start(&client).await?;
    println!(
        "fake-sentry --db {} --max-events {} ({}): listening after {:.2}s, serving after {:.2}s",
        command.db.display(),
        command.max_events,
        match &command.program {
            Some(program) => program.display().to_string(),
            None => "this binary's serve-fake-sentry".into(),
        },
        listening_after.as_secs_f64(),
        serving_after.as_secs_f64(),
    );
    let stored = stored_items(&client, &url).await?;
    match (reused, stored) {
        (false, _) => fill(options, &corpus, &url).await?,
        (true, stored) if stored == options.items => {
            println!("reusing the kept database: {stored} items")
        }
        (true, stored) => bail!(
            "{} holds {stored} items, not {}: delete it or choose another --db-dir",
            command.db.display(),
            options.items
        ),
    }
    let stored = stored_items(&client, &url).await?;
    println!("stored: {stored} items (/api/stats/)");
    print_disk(&command.db, stored, &corpus);
    wait_for_search_index(&client, &url).await?;

    println!(
        "\nreads over HTTP, {} runs each after one untimed (corpus: \"{}\" in ~1/8 of events, \"{}\" in {}, \"{}\" in ~1/7, \"{}\" in none)",
        options.runs,
        corpus::COMMON_WORD,
        corpus::RARE_WORD,
        corpus::rare_word_events(options.items),
        corpus::SUBSTRING,
        corpus::ABSENT_WORD
    );
    println!("{}", queries::header_row());
    for (label, path) in queries::reads() {
        let timing = queries::time_read(&client, &url, label, &path, options.runs).await?;
        println!("{}", queries::format_row(&timing));
    }

    if options.restarts > 0 {
        println!("\nrestart on {stored} items (SIGTERM, then a new server on the same file):");
    }
    for attempt in 1..=options.restarts {
        let stopped_in = running.terminate(Duration::from_secs(120)).await?;
        let started = command.start(&client).await?;
        println!(
            "restart {attempt}: exited {:.2}s after SIGTERM; new server listening after {:.2}s, \
             /api/stats/ 200 after {:.2}s",
            stopped_in.as_secs_f64(),
            started.listening_after.as_secs_f64(),
            started.serving_after.as_secs_f64()
        );
        (running, url) = (started.server, started.url);
    }
    if options.restarts > 0 {
        print_disk(&command.db, stored, &corpus);
    }

    if let Some(sustain) = options.sustain {
        println!(
            "\nsustaining for {:.0}s ({}), {} connections, new events, store capped at {} items; rss every {:.1}s",
            sustain.duration.as_secs_f64(),
            sustain
                .rate
                .map_or("closed loop".into(), |rate| format!("{rate} envelopes/s")),
            options.connections,
            command.max_events,
            sustain.every.as_secs_f64()
        );
        // Events after the ones stored, so every one is new.
        let first = options.items.max(stored);
        rss::run(
            &running,
            &url,
            corpus.clone(),
            first,
            options.connections,
            sustain,
        )
        .await?;
        print_disk(&command.db, stored_items(&client, &url).await?, &corpus);
    }
    running.terminate(Duration::from_secs(120)).await?;
    Ok(())
}

/// Sends events `0..items` with the closed-loop client, printing the rate.
async fn fill(options: &DbOptions, corpus: &Arc<Corpus>, url: &str) -> anyhow::Result<()> {
    let progress = ProgressBar::new(options.items).with_style(
        ProgressStyle::with_template("filling {pos}/{len} {bar:40} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let wire = Arc::new(AtomicU64::new(0));
    let make = {
        let (corpus, progress, wire) = (corpus.clone(), progress.clone(), wire.clone());
        Arc::new(move |n: u64| {
            let body = corpus.body(n);
            wire.fetch_add(body.len() as u64, Ordering::Relaxed);
            progress.inc(1);
            body
        })
    };
    let result = ingest_bench::drive_bodies(
        "fill",
        url,
        options.connections,
        Bodies::Made(make),
        Span::Requests(options.items),
        Load::Closed,
    )
    .await?;
    progress.finish_and_clear();
    println!(
        "filled {} events in {:.1}s: {:.0} envelopes/s ({} connections, closed loop, {} errors; \
         mean wire size {:.0} bytes; the client gzips each envelope as it sends it)",
        result.requests,
        result.elapsed.as_secs_f64(),
        result.per_second(),
        options.connections,
        result.errors,
        wire.load(Ordering::Relaxed) as f64 / options.items.max(1) as f64
    );
    println!("{}", ingest_bench::header_row());
    println!("{}", ingest_bench::format_row(&result));
    Ok(())
}

/// Items the server holds, from `/api/stats/`.
async fn stats(client: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    Ok(client
        .get(format!("{url}/api/stats/"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn stored_items(client: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    stats(client, url).await?["items"]
        .as_u64()
        .context("no items count in /api/stats/")
}

/// How long the search index may take to catch up with the store before the bench gives up.
const INDEX_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(1800);

/// Waits until the search index covers every stored item (`/api/stats/`'s
/// `search_index.indexed_through` reaches `last_seq`), so that searches are timed through the
/// index, and prints how far behind it was and how long it took to catch up: it works a tenth
/// of the time while envelopes keep arriving, so after a fill it is behind.
async fn wait_for_search_index(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut behind_at_start = None;
    loop {
        let stats = stats(client, url).await?;
        let (Some(through), Some(last)) = (
            stats["search_index"]["indexed_through"].as_i64(),
            stats["last_seq"].as_i64(),
        ) else {
            println!("search index: none (in memory, or turned off)");
            return Ok(());
        };
        let behind = (last - through).max(0);
        let behind_at_start = *behind_at_start.get_or_insert(behind);
        if behind == 0 {
            println!(
                "search index: {behind_at_start} items behind after the fill, caught up in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if started.elapsed() > INDEX_CATCH_UP_TIMEOUT {
            bail!(
                "the search index is still {behind} items behind after {INDEX_CATCH_UP_TIMEOUT:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many of the corpus's envelopes the mean sizes are taken over.
const SIZE_SAMPLE: u64 = 1_000;

/// Prints the database's size, per stored envelope, and as a multiple of an envelope's size
/// on the wire (gzip) and uncompressed.
fn print_disk(db: &std::path::Path, stored: u64, corpus: &Corpus) {
    let disk = DiskUse::of(db);
    let (wire, raw) = (0..SIZE_SAMPLE).fold((0, 0), |(wire, raw), n| {
        (wire + corpus.body(n).len(), raw + corpus.envelope(n).len())
    });
    let (wire, raw) = (
        wire as f64 / SIZE_SAMPLE as f64,
        raw as f64 / SIZE_SAMPLE as f64,
    );
    let per_envelope = disk.data() as f64 / stored.max(1) as f64;
    println!(
        "disk: database {:.1} MB + WAL {:.1} MB (shm {:.1} MB) for {stored} items: \
         {per_envelope:.0} bytes per envelope, {:.2}x its wire size ({wire:.0} bytes gzip), \
         {:.2}x uncompressed ({raw:.0} bytes)",
        disk.db as f64 / 1e6,
        disk.wal as f64 / 1e6,
        disk.shm as f64 / 1e6,
        per_envelope / wire,
        per_envelope / raw
    );
}
