//! How fast fake-sentry processes minidumps: a pass posts every dump of the corpus to a fresh
//! server and is timed from the first post until the wait API counts them all processed. The
//! first pass fills the symbol cache on disk (its time includes the downloads); the passes after
//! it start new servers over that cache, so they measure processing with a warm cache.

use std::time::{Duration, Instant};

use fake_symbols::testing::FakeSymbols;

use super::corpus::Corpus;
use super::server::{Launch, NativeServer};

/// What one pass measured.
#[derive(Debug, Clone)]
pub struct Pass {
    pub label: String,
    pub workers: usize,
    pub dumps: usize,
    /// From the first post until the last post was answered.
    pub posted: Duration,
    /// From the first post until every dump was processed.
    pub elapsed: Duration,
    /// Requests fake-symbols answered during the pass (downloads, and lookups of modules
    /// without symbols).
    pub symbol_requests: usize,
}

impl Pass {
    pub fn per_second(&self) -> f64 {
        self.dumps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Wall time per dump: the inverse of the throughput.
    pub fn wall_per_dump(&self) -> Duration {
        self.elapsed / self.dumps.max(1) as u32
    }

    /// Worker time per dump: what one dump costs a worker, all workers kept busy.
    pub fn worker_per_dump(&self) -> Duration {
        self.wall_per_dump() * self.workers as u32
    }
}

/// Posts the corpus to a fresh server with `workers` workers and times it until every dump is
/// processed.
pub async fn pass(
    label: &str,
    launch: &Launch,
    symbols: &FakeSymbols,
    corpus: &Corpus,
    workers: usize,
) -> anyhow::Result<Pass> {
    let server = NativeServer::start(launch, workers).await?;
    let requests_before = symbols.requests().len();
    let start = Instant::now();
    let timed = async {
        server.post_dumps(&corpus.forms).await?;
        let posted = start.elapsed();
        server
            .wait_processed(corpus.forms.len() as u64, timeout(corpus.forms.len()))
            .await?;
        anyhow::Ok(posted)
    }
    .await;
    let elapsed = start.elapsed();
    let symbol_requests = symbols.requests().len() - requests_before;
    server.stop().await?;
    Ok(Pass {
        label: label.to_string(),
        workers,
        dumps: corpus.forms.len(),
        posted: timed?,
        elapsed,
        symbol_requests,
    })
}

/// Generous: a dump takes tens of milliseconds.
fn timeout(dumps: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_secs(2) * dumps as u32
}

/// The table's heading.
pub fn header_row() -> String {
    format!(
        "{:<28} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>15} {:>12}",
        "pass",
        "workers",
        "dumps",
        "posted s",
        "seconds",
        "dumps/s",
        "ms/dump",
        "ms/dump/worker",
        "sym requests"
    )
}

pub fn format_row(pass: &Pass) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    format!(
        "{:<28} {:>7} {:>6} {:>8.2} {:>8.2} {:>8.1} {:>8} {:>15} {:>12}",
        pass.label,
        pass.workers,
        pass.dumps,
        pass.posted.as_secs_f64(),
        pass.elapsed.as_secs_f64(),
        pass.per_second(),
        ms(pass.wall_per_dump()),
        ms(pass.worker_per_dump()),
        pass.symbol_requests
    )
}
