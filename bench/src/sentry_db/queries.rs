//! The reads `bench fake-sentry-db` times over HTTP on a full store: searches for a common
//! word, a rare one, part of a word and a word in no event, the newest page, the stats and the
//! web UI's list page. Each is asked once untimed (so SQLite's page cache and statement cache
//! hold what a second visit finds there), then `runs` times, one at a time, each answer read
//! to its end.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest_012 as reqwest;

use super::corpus::{ABSENT_WORD, COMMON_WORD, RARE_WORD, SUBSTRING};

/// Items per API page asked for, as the UI's default page is.
const PAGE: u32 = 50;

/// One timed read.
#[derive(Debug, Clone)]
pub struct QueryTiming {
    pub label: String,
    pub path: String,
    /// Items in the answer, for `/api/items/`.
    pub items: Option<usize>,
    pub bytes: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub max: Duration,
}

/// The reads, as (label, path).
pub fn reads() -> Vec<(&'static str, String)> {
    let search = |q: &str| format!("/api/items/?q={q}&limit={PAGE}");
    vec![
        ("newest page", format!("/api/items/?limit={PAGE}")),
        ("search, common word", search(COMMON_WORD)),
        ("search, rare word", search(RARE_WORD)),
        ("search, part of a word", search(SUBSTRING)),
        ("search, no match", search(ABSENT_WORD)),
        ("stats", "/api/stats/".into()),
        ("UI list page", "/".into()),
        ("UI list page, events", "/?type=event".into()),
    ]
}

/// Times `path` on `base_url`: one untimed request, then `runs` timed ones.
pub async fn time_read(
    client: &reqwest::Client,
    base_url: &str,
    label: &str,
    path: &str,
    runs: usize,
) -> anyhow::Result<QueryTiming> {
    let url = format!("{base_url}{path}");
    let (body, _) = get(client, &url).await?;
    let items = path
        .starts_with("/api/items/")
        .then(|| item_count(&body))
        .transpose()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        times.push(get(client, &url).await?.1);
    }
    times.sort();
    let at = |quantile: f64| times[((times.len() - 1) as f64 * quantile).round() as usize];
    Ok(QueryTiming {
        label: label.to_string(),
        path: path.to_string(),
        items,
        bytes: body.len(),
        p50: at(0.5),
        p90: at(0.9),
        max: times[times.len() - 1],
    })
}

async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<(bytes::Bytes, Duration)> {
    let start = Instant::now();
    let response = client.get(url).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let took = start.elapsed();
    if !status.is_success() {
        bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((body, took))
}

fn item_count(body: &[u8]) -> anyhow::Result<usize> {
    let answer: serde_json::Value = serde_json::from_slice(body)?;
    answer["items"]
        .as_array()
        .map(Vec::len)
        .context("no items array in the answer")
}

const COLUMNS: [(&str, usize); 5] = [
    ("items", 6),
    ("bytes", 8),
    ("p50 ms", 8),
    ("p90 ms", 8),
    ("max ms", 8),
];

/// Wide enough for the longest label and its path.
const LABEL_WIDTH: usize = 58;

fn row_of(label: &str, cells: [String; 5]) -> String {
    let mut row = format!("{label:<LABEL_WIDTH$}");
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        row.push_str(&format!(" {cell:>width$}"));
    }
    row
}

pub fn header_row() -> String {
    row_of("read", COLUMNS.map(|(heading, _)| heading.to_string()))
}

/// A row: `<label> <path>`, then the figures.
pub fn format_row(timing: &QueryTiming) -> String {
    let ms = |latency: Duration| format!("{:.2}", latency.as_secs_f64() * 1e3);
    row_of(
        &format!("{} {}", timing.label, timing.path),
        [
            timing.items.map_or("-".into(), |n| n.to_string()),
            timing.bytes.to_string(),
            ms(timing.p50),
            ms(timing.p90),
            ms(timing.max),
        ],
    )
}
