//! UI benchmark (`bench fake-sentry --ui`): fills a store with real Python SDK error envelopes,
//! then times server-side rendering of the pages (query and template, no HTTP) at that size;
//! and, on a server of its own, `GET /traces/{id}` of a 10,000-span trace end to end.

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

/// Spans (transactions included) of the benchmark's trace.
pub const TRACE_SPANS: usize = 10_000;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

/// The envelopes of one trace of [`TRACE_SPANS`] spans: a root transaction of project 1 and
/// nine transactions of projects 2 and 3 called from its spans, each with 999 spans nested as a
/// binary tree; an error and a log entry on some spans.
fn trace_envelopes() -> Vec<(u64, Vec<u8>)> {
    use serde_json::json;
    const PER: usize = TRACE_SPANS / 10;
    let span_id = |tx: usize, n: usize| format!("{:04x}{:012x}", tx + 1, n);
    let envelope = |header: serde_json::Value, item_type: &str, payload: serde_json::Value| {
        let payload = payload.to_string();
        let extra = if item_type == "log" {
            ",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.log+json\""
        } else {
            ""
        };
        format!(
            "{header}\n{{\"type\":\"{item_type}\",\"length\":{}{extra}}}\n{payload}\n",
            payload.len()
        )
        .into_bytes()
    };
    let mut out = Vec::new();
    for tx in 0..10 {
        let start = 1_700_000_000.0 + tx as f64 * 0.05;
        let spans: Vec<serde_json::Value> = (1..PER)
            .map(|n| {
                let s = start + n as f64 * 0.0004;
                json!({"span_id": span_id(tx, n), "parent_span_id": span_id(tx, n / 2),
                       "op": "db.query", "description": format!("SELECT * FROM t{n} WHERE id = %s"),
                       "start_timestamp": s, "timestamp": s + 0.000_123 * (1 + n % 7) as f64,
                       "status": "ok"})
            })
            .collect();
        let event_id = format!("{:032x}", tx + 1);
        let mut trace = json!({"trace_id": TRACE_ID, "span_id": span_id(tx, 0),
                               "op": "http.server", "status": "ok"});
        if tx > 0 {
            trace["parent_span_id"] = json!(span_id(0, tx * 50));
        }
        let project = if tx == 0 { 1 } else { 2 + (tx % 2) as u64 };
        let sdk = if tx == 0 {
            "sentry.javascript.node"
        } else {
            "sentry.python"
        };
        out.push((
            project,
            envelope(
                json!({"event_id": event_id, "trace": {"trace_id": TRACE_ID}}),
                "transaction",
                json!({"event_id": event_id, "type": "transaction", "transaction": format!("GET /work/{tx}"),
                       "start_timestamp": start, "timestamp": start + PER as f64 * 0.0004 + 0.01,
                       "sdk": {"name": sdk, "version": "1.0.0"}, "release": format!("svc{project}@1"),
                       "contexts": {"trace": trace}, "spans": spans}),
            ),
        ));
        let error_id = format!("{:032x}", 100 + tx);
        out.push((
            project,
            envelope(
                json!({"event_id": error_id, "trace": {"trace_id": TRACE_ID}}),
                "event",
                json!({"event_id": error_id, "level": "error", "timestamp": start + 0.1,
                       "exception": {"values": [{"type": "ValueError", "value": format!("boom {tx}")}]},
                       "contexts": {"trace": {"trace_id": TRACE_ID, "span_id": span_id(tx, 250)}}}),
            ),
        ));
        out.push((
            project,
            envelope(
                json!({}),
                "log",
                json!({"items": [{"timestamp": start + 0.2, "trace_id": TRACE_ID,
                                  "span_id": span_id(tx, 500), "level": "info",
                                  "body": format!("log line {tx}")}]}),
            ),
        ));
    }
    out
}

/// Times `GET /traces/{id}` of a [`TRACE_SPANS`]-span trace over HTTP, `runs` times, on a
/// fake-sentry of its own (in memory), and the same page rendered without HTTP.
pub async fn trace_page(runs: usize) -> anyhow::Result<Vec<PageTiming>> {
    use reqwest_012 as reqwest;
    let sentry = fake_sentry::testing::FakeSentry::start().await?;
    let base = sentry.url();
    let client = reqwest::Client::new();
    for (project, body) in trace_envelopes() {
        let reply = client
            .post(format!("{base}/api/{project}/envelope/"))
            .header(
                "x-sentry-auth",
                "Sentry sentry_key=public, sentry_version=7",
            )
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "ingest answered {}",
            reply.status()
        );
    }
    sentry
        .wait_for(Default::default(), 30)
        .await
        .map_err(|e| anyhow::anyhow!("the trace was not stored: {e:?}"))?;
    let url = format!("{base}/traces/{TRACE_ID}");
    let get = || async {
        let reply = client.get(&url).send().await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "{url} answered {}",
            reply.status()
        );
        Ok(reply.bytes().await?.len())
    };
    let bytes = get().await?;
    let rows = String::from_utf8_lossy(&client.get(&url).send().await?.bytes().await?)
        .matches("<li class=\"wf-row")
        .count();
    anyhow::ensure!(
        rows == TRACE_SPANS,
        "the page shows {rows} spans, not {TRACE_SPANS}"
    );
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        get().await?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let over_http = PageTiming {
        label: format!("trace, {TRACE_SPANS} spans (HTTP)"),
        runs,
        p50: pick(0.5),
        p99: pick(0.99),
        bytes,
    };
    let state = sentry.state().clone();
    let rendered = tokio::task::spawn_blocking(move || {
        time_runs(
            &format!("trace, {TRACE_SPANS} spans (render)"),
            runs,
            || {
                fake_sentry::ui::traces::render_trace(&state, TRACE_ID)?
                    .ok_or_else(|| anyhow::anyhow!("the trace is gone"))
            },
        )
    })
    .await??;
    Ok(vec![over_http, rendered])
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
