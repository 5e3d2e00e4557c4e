//! `bench-search-index [--items 300000] [--runs 21] [--dir DIR]`: fake-sentry's text search at
//! scale. Fills a file-backed store with real Python SDK error events (each made distinct: a
//! vocabulary word, a unique item token, and a rare word in one item of 100,000), then prints
//! the fill rate, how fast the search index is built (during the fill, and again from scratch
//! with nothing else running), its size, and the p50 and p90 of searches through the index and
//! by scanning (the same store opened with the index off). A binary of its own, not a `bench`
//! target: it fills a database of gigabytes and times one thing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::sentry_ingest::{PYTHON_ERROR_ENVELOPE_GZ, gzip_envelope_request};
use bytes::Bytes;
use clap::Parser;
use fake_sentry::config::{Limits, Storage};
use fake_sentry::{
    ItemFilter, NewEnvelope, Order, Store, StoreOptions, count_items, ingest_envelope, list_items,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The fixture's exception value, replaced by each item's own words.
const MARKER: &str = "understudy-marker-7f3c";

/// Words of the vocabulary: each is in about one item of this many.
const VOCABULARY: u64 = 20_000;

/// One item of this many holds the rare word.
const RARE_EVERY: u64 = 100_000;

#[derive(Parser)]
#[command(about = "fake-sentry's text search at scale: fill, index, search")]
struct Args {
    /// Items stored.
    #[arg(long, default_value_t = 300_000)]
    items: u64,
    /// Timed runs per search through the index (scans get a fifth, at least 3).
    #[arg(long, default_value_t = 21)]
    runs: usize,
    /// Directory for the database (a temporary one when absent); it is removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the database in --dir afterwards.
    #[arg(long, requires = "dir")]
    keep: bool,
    /// Only time the searches, on the database a --keep run left in --dir.
    #[arg(long, requires = "keep")]
    no_fill: bool,
    /// Concurrent inserts while filling.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

fn word(n: u64) -> String {
    // A multiplicative hash spreads the words over the items.
    format!("vocab{:05}", n.wrapping_mul(0x9e37_79b9) % VOCABULARY)
}

/// What item `n` says instead of the fixture's marker.
fn words_of(n: u64) -> String {
    let rare = if n % RARE_EVERY == 7 {
        " zebracorn"
    } else {
        ""
    };
    format!("{} item-{n:07}{rare}", word(n))
}

fn item_envelope(template: &NewEnvelope, n: u64) -> NewEnvelope {
    let mut envelope = template.clone();
    let words = words_of(n);
    for item in &mut envelope.items {
        let payload = String::from_utf8_lossy(&item.payload).replace(MARKER, &words);
        item.payload = payload.into_bytes();
        item.meta.summary = item.meta.summary.replace(MARKER, &words);
    }
    envelope
}

fn template() -> anyhow::Result<NewEnvelope> {
    let request = gzip_envelope_request(Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ));
    Ok(ingest_envelope(&request, &Limits::default(), &[])?.envelope)
}

fn open(db: &Path, search_index_max_bytes: usize) -> anyhow::Result<Arc<Store>> {
    let options = StoreOptions {
        max_items: usize::MAX >> 2,
        search_index_max_bytes,
        ..StoreOptions::default()
    };
    Ok(Store::open_with(&Storage::File(db.into()), &options)?)
}

async fn fill(store: &Arc<Store>, items: u64, concurrency: usize) -> anyhow::Result<()> {
    let template = Arc::new(template()?);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (store, template, next) = (store.clone(), template.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= items {
                        return anyhow::Ok(());
                    }
                    store.insert(item_envelope(&template, n)).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).map_or(0, |m| m.len())
        })
        .sum()
}

fn search_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-search");
    name.into()
}

fn remove_search_file(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = search_file(db).into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// p50 and p90 of `runs` calls of `search`, and what the last one returned.
fn time(runs: usize, mut search: impl FnMut() -> anyhow::Result<u64>) -> anyhow::Result<String> {
    let mut found = search()?;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            found = search()?;
            Ok(start.elapsed())
        })
        .collect::<anyhow::Result<_>>()?;
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(format!(
        "{:>9.2} {:>9.2} {found:>8}",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.9).as_secs_f64() * 1e3
    ))
}

fn searches(store: &Store, label: &str, runs: usize, count: bool) -> anyhow::Result<()> {
    let queries = [
        ("word in every item", "ValueError".to_string(), false),
        (
            "substring in every item",
            "lueError: pyth".to_string(),
            false,
        ),
        ("vocabulary word", word(123), true),
        ("rare word", "zebracorn".to_string(), true),
        ("unique token", "item-0123456".to_string(), true),
        ("substring of 100 tokens", "tem-01234".to_string(), true),
        ("no match", "no-such-text-anywhere".to_string(), true),
    ];
    for (kind, q, countable) in queries {
        let filter = ItemFilter {
            q: Some(q.clone()),
            ..ItemFilter::default()
        };
        let listed = time(runs, || {
            let filter = filter.clone();
            let items = store.read_blocking(move |c| list_items(c, &filter, Order::Desc, 50))?;
            Ok(items.len() as u64)
        })?;
        println!("{label:<8} {kind:<26} {q:<22} list 50  {listed}");
        if count && countable {
            let counted = time(runs, || {
                let filter = filter.clone();
                Ok(store.read_blocking(move |c| count_items(c, &filter))?)
            })?;
            println!("{label:<8} {kind:<26} {q:<22} count    {counted}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().into());
    std::fs::create_dir_all(&dir).context("--dir")?;
    let db = dir.join("search-bench.sqlite");
    if args.no_fill {
        let store = open(&db, fake_sentry::config::DEFAULT_SEARCH_INDEX_MAX_BYTES)?;
        store.search_indexed().await?;
        let runs = args.runs;
        return tokio::task::spawn_blocking(move || searches(&store, "index", runs, true)).await?;
    }
    for file in Store::files(&db) {
        let _ = std::fs::remove_file(file);
    }
    let max_bytes = fake_sentry::config::DEFAULT_SEARCH_INDEX_MAX_BYTES;

    let store = open(&db, max_bytes)?;
    let start = Instant::now();
    fill(&store, args.items, args.concurrency).await?;
    let filled = start.elapsed();
    store.search_indexed().await?;
    let indexed = start.elapsed();
    println!(
        "filled {} items in {:.1} s ({:.0}/s) with the indexer running; index caught up {:.1} s later",
        args.items,
        filled.as_secs_f64(),
        args.items as f64 / filled.as_secs_f64(),
        (indexed - filled).as_secs_f64()
    );
    drop(store);

    // Built again with nothing else running: the indexer's own rate.
    remove_search_file(&db);
    let start = Instant::now();
    let store = open(&db, max_bytes)?;
    store.search_indexed().await?;
    let rebuilt = start.elapsed();
    println!(
        "index built from scratch in {:.1} s ({:.0} items/s)",
        rebuilt.as_secs_f64(),
        args.items as f64 / rebuilt.as_secs_f64()
    );
    // The last shard's merge runs once the watermark passes it; give it a moment.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (db_bytes, search_bytes) = (file_bytes(&db), file_bytes(&search_file(&db)));
    println!(
        "database {:.0} MB ({:.0} B/item), search file {:.0} MB ({:.0} B/item)",
        db_bytes as f64 / 1e6,
        db_bytes as f64 / args.items as f64,
        search_bytes as f64 / 1e6,
        search_bytes as f64 / args.items as f64
    );

    println!(
        "{:<8} {:<26} {:<22} {:<8} {:>9} {:>9} {:>8}",
        "", "search", "q", "", "p50 ms", "p90 ms", "found"
    );
    let runs = args.runs;
    let indexed_store = store.clone();
    tokio::task::spawn_blocking(move || searches(&indexed_store, "index", runs, true)).await??;
    let unindexed = open(&db, 0)?;
    let runs = (args.runs / 5).max(3);
    tokio::task::spawn_blocking(move || searches(&unindexed, "scan", runs, false)).await??;
    drop(store);
    if args.dir.is_some() && !args.keep {
        for file in Store::files(&db) {
            let _ = std::fs::remove_file(file);
        }
    }
    Ok(())
}
