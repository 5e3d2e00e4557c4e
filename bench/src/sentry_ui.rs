//! UI benchmark (`bench fake-sentry --ui`): fills a store with real Python SDK error envelopes,
//! then times server-side rendering of the pages (query and template, no HTTP) at that size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};

use crate::sentry_ingest::PYTHON_ERROR_ENVELOPE_GZ;
use fake_sentry::config::{Config, Limits, Storage};
use fake_sentry::ui::detail::{DetailPage, load};
use fake_sentry::ui::list::{ListQuery, render_blocking};
use fake_sentry::{AppState, ingest_envelope};

/// Timings of one page.
#[derive(Debug, Clone)]
pub struct PageTiming {
    pub label: String,
    pub runs: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub bytes: usize,
}

/// Inserts `count` copies of the Python error envelope, `concurrency` at a time.
pub async fn fill(state: &Arc<AppState>, count: usize, concurrency: usize) -> anyhow::Result<()> {
    let request =
        crate::sentry_ingest::gzip_envelope_request(Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ));
    let template = ingest_envelope(&request, &Limits::default(), &[])?.envelope;
    let progress = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template("storing {pos}/{len} envelopes {bar:40} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (state, template, next, progress) = (
                state.clone(),
                template.clone(),
                next.clone(),
                progress.clone(),
            );
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    state.store.insert(template.clone()).await?;
                    progress.inc(1);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    progress.finish_and_clear();
    Ok(())
}

fn time_runs(
    label: &str,
    runs: usize,
    mut render: impl FnMut() -> anyhow::Result<String>,
) -> anyhow::Result<PageTiming> {
    // One warm-up run fills SQLite's statement cache and page cache, as any second visit has.
    let bytes = render()?.len();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            render().map(|_| start.elapsed())
        })
        .collect::<anyhow::Result<_>>()?;
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(PageTiming {
        label: label.to_string(),
        runs,
        p50: pick(0.5),
        p99: pick(0.99),
        bytes,
    })
}

/// Times the pages of a store holding `items` events (file storage under `dir`).
pub async fn run(
    dir: &std::path::Path,
    items: usize,
    runs: usize,
) -> anyhow::Result<Vec<PageTiming>> {
    let db = dir.join("ui-bench.sqlite");
    // A database left by an earlier run would add its items to this one's.
    for file in fake_sentry::Store::files(&db) {
        let _ = std::fs::remove_file(file);
    }
    let config = Config {
        storage: Storage::File(db),
        max_items: usize::MAX >> 2,
        ..Config::ephemeral()
    };
    let state = AppState::new(config, "127.0.0.1:8000".parse()?)?;
    fill(&state, items, 64).await?;
    let state_for_timing = state.clone();
    tokio::task::spawn_blocking(move || {
        let state = state_for_timing;
        let list = |query: ListQuery| {
            let state = state.clone();
            move || Ok(render_blocking(&state, query.clone())?)
        };
        let mid = (items / 2).to_string();
        let newest_id = state.store.read_blocking(|conn| {
            conn.query_row("SELECT id FROM items ORDER BY seq DESC LIMIT 1", [], |r| {
                r.get::<_, String>(0)
            })
        })?;
        let detail = || -> anyhow::Result<String> {
            let data = state
                .store
                .read_blocking(|conn| load(conn, &newest_id))?
                .ok_or_else(|| anyhow::anyhow!("the newest item is gone"))?;
            Ok(askama::Template::render(&DetailPage::new(
                data,
                "",
                &fake_sentry::ui::UiLimits::default(),
            ))?)
        };
        Ok(vec![
            time_runs("list, first page (50)", runs, list(ListQuery::default()))?,
            time_runs(
                "list, type=event",
                runs,
                list(ListQuery {
                    item_type: "event".into(),
                    ..Default::default()
                }),
            )?,
            time_runs(
                "list, page in the middle",
                runs,
                list(ListQuery {
                    before: mid,
                    ..Default::default()
                }),
            )?,
            time_runs(
                "list, 500 per page",
                runs.div_ceil(4),
                list(ListQuery {
                    limit: "500".into(),
                    ..Default::default()
                }),
            )?,
            time_runs("event detail page", runs, detail)?,
            // Text search reads every payload: the one page whose cost grows with the store.
            time_runs(
                "list, text search (no match)",
                runs.div_ceil(20).max(3),
                list(ListQuery {
                    q: "no-such-text-anywhere".into(),
                    ..Default::default()
                }),
            )?,
        ])
    })
    .await?
}

/// A table row.
pub fn format_row(timing: &PageTiming) -> String {
    format!(
        "{:<32} {:>6} {:>9.2} {:>9.2} {:>9}",
        timing.label,
        timing.runs,
        timing.p50.as_secs_f64() * 1e3,
        timing.p99.as_secs_f64() * 1e3,
        timing.bytes
    )
}

pub fn header_row() -> String {
    format!(
        "{:<32} {:>6} {:>9} {:>9} {:>9}",
        "page", "runs", "p50 ms", "p99 ms", "bytes"
    )
}
