//! Ingest benchmark: N keep-alive connections post a real Python SDK error envelope (gzip, as
//! sentry-sdk sends it without brotli) for T seconds; reports envelopes/s and latency
//! percentiles (p50 to max, from an HDR histogram of every request). Runs against in-process
//! servers (memory and file SQLite) and, optionally, a peer such as Kent at a URL, so the
//! figures are comparable within one run.
//!
//! Each connection sends back to back ([`Load::Closed`], for throughput) or on a fixed
//! schedule ([`Load::Rate`], for latency under a given load, counted from each request's due
//! time so that a stall cannot hide: see `sentry_ingest/latency.rs`).
//!
//! The load comes from this crate's client or from Debian's wrk ([`Generator`], [`wrk`]). The
//! client posts the fixture with [`DISTINCT_EVENTS`] event ids, or a body made per request
//! ([`Bodies::Made`]) for a run whose every envelope must differ, for a time or for a number
//! of requests ([`Span`]).

mod latency;
mod response;
mod targets;
pub mod wrk;

pub use latency::{Latencies, LatencySummary, Load, Schedule};
pub use targets::{
    HttpStage, RunSettings, ServerCaps, Target, bench_http_stage, bench_in_process, bench_ingest,
    bench_storage,
};

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use fake_sentry::{Endpoint, IngestRequest};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use response::read_response;

/// The wire body of a real `sentry-sdk` 2.75.0 error envelope (see `testdata/captures`).
pub const PYTHON_ERROR_ENVELOPE_GZ: &[u8] =
    include_bytes!("../../fake-sentry/testdata/captures/python-error-gzip.envelope.gz");

/// A gzipped envelope `body` posted to project 1, as the ingest stage takes it (no HTTP): the
/// benches that store envelopes without a server start from it.
pub fn gzip_envelope_request(body: Bytes) -> IngestRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-encoding", http::HeaderValue::from_static("gzip"));
    IngestRequest {
        charge: fake_sentry::RequestCharge::unlimited(),
        endpoint: Endpoint::Envelope,
        project_id: 1,
        headers,
        query: Default::default(),
        body,
        received_at_ms: fake_sentry::now_ms(),
    }
}

/// One measured target.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub label: String,
    /// Requests answered with a 200.
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency: LatencySummary,
    /// The constant rate asked for, and how it went; `None` for a closed loop.
    pub rate: Option<RateOutcome>,
}

/// How a constant-rate run kept to its schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOutcome {
    /// Envelopes per second asked for.
    pub target: f64,
    /// Requests due before the end that were never sent, their connection still waiting on the
    /// server when the run ended. Each is in the latencies with the time it had waited by then
    /// (a lower bound), so a stall at the very end shows too.
    pub unsent: u64,
}

impl BenchResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Achieved envelopes/s as a share of the constant rate asked for.
    pub fn share_of_rate(&self) -> Option<f64> {
        self.rate.map(|rate| self.per_second() / rate.target)
    }
}

/// What one connection (or storage task) measured.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) latencies: Latencies,
    /// Successes; in constant-rate mode `latencies` also holds the unsent requests.
    pub(crate) answered: u64,
    pub(crate) errors: u64,
    pub(crate) unsent: u64,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: Tally) {
        self.latencies.merge(&other.latencies);
        self.answered += other.answered;
        self.errors += other.errors;
        self.unsent += other.unsent;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid URL {0:?}: expected http://host:port")]
    Url(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("every request failed ({0} errors); is the target a Sentry ingest server?")]
    AllFailed(u64),
}

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> Result<String, BenchError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| BenchError::Url(url.into()))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(BenchError::Url(url.into()));
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// Drives `base_url` with `connections` connections for `duration`, paced by `load`, posting
/// the fixture with [`DISTINCT_EVENTS`] event ids.
pub async fn drive(
    label: &str,
    base_url: &str,
    connections: usize,
    duration: Duration,
    load: Load,
) -> Result<BenchResult, BenchError> {
    let span = Span::For(duration);
    drive_bodies(label, base_url, connections, Bodies::Fixture, span, load).await
}

/// Which client sends a target's load.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// This crate's client ([`drive`]), paced by a [`Load`].
    Builtin(Load),
    /// Debian's `wrk` at this path ([`wrk::drive`]): a closed loop posting one fixed body.
    Wrk(PathBuf),
}

impl Generator {
    /// Drives `base_url` with `connections` connections for `duration`.
    pub async fn drive(
        &self,
        label: &str,
        base_url: &str,
        connections: usize,
        duration: Duration,
    ) -> anyhow::Result<BenchResult> {
        match self {
            Generator::Builtin(load) => {
                Ok(drive(label, base_url, connections, duration, *load).await?)
            }
            Generator::Wrk(wrk) => wrk::drive(wrk, label, base_url, connections, duration).await,
        }
    }

    /// What a row's label ends with, to tell the generators' rows apart.
    pub fn suffix(&self) -> &'static str {
        match self {
            Generator::Builtin(_) => "",
            Generator::Wrk(_) => " (wrk)",
        }
    }
}

/// What a run posts.
#[derive(Clone)]
pub enum Bodies {
    /// The fixture with [`DISTINCT_EVENTS`] event ids, in turn, each built into a whole
    /// request before the clock starts, so that sending one costs the client only the write.
    Fixture,
    /// Request `n` (counted from 0 across the run's connections) posts `make(n)`, built as it
    /// is sent: for a run whose every envelope must differ, such as filling a store with
    /// distinct events. The client pays for building each one.
    Made(Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>),
}

/// How long a run lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    For(Duration),
    /// Until this many requests have been sent (at a constant rate, for as long as the
    /// schedule takes to send them).
    Requests(u64),
}

/// The requests of one run, by number.
enum Source {
    Prebuilt(Arc<[Vec<u8>]>),
    Made {
        authority: String,
        make: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
    },
}

impl Source {
    fn request(&self, n: u64) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Source::Prebuilt(requests) => (&requests[(n % requests.len() as u64) as usize]).into(),
            Source::Made { authority, make } => request_bytes(authority, &make(n)).into(),
        }
    }
}

/// Drives `base_url` with `connections` connections posting `bodies` for `span`, paced by
/// `load`.
pub async fn drive_bodies(
    label: &str,
    base_url: &str,
    connections: usize,
    bodies: Bodies,
    span: Span,
    load: Load,
) -> Result<BenchResult, BenchError> {
    let authority = authority(base_url)?;
    let connections = connections.max(1);
    let source = Arc::new(match bodies {
        Bodies::Fixture => Source::Prebuilt(
            fixture_pool()
                .iter()
                .map(|body| request_bytes(&authority, body))
                .collect(),
        ),
        Bodies::Made(make) => Source::Made {
            authority: authority.clone(),
            make,
        },
    });
    // Fail early, with a clear error, when nothing listens there.
    drop(
        tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| BenchError::Connect(authority.clone(), e))?,
    );
    // The clock starts once the requests are built and the target answers.
    let start = Instant::now();
    let (deadline, limit) = match (span, load) {
        (Span::For(duration), _) => (Some(start + duration), None),
        (Span::Requests(count), Load::Closed) => (None, Some(count)),
        (Span::Requests(count), Load::Rate(rate)) => (
            Some(start + Duration::from_secs_f64(count as f64 / rate)),
            Some(count),
        ),
    };
    let tasks: Vec<_> = (0..connections)
        .map(|index| {
            let pacing = match (load, deadline) {
                (Load::Rate(rate), Some(deadline)) => {
                    Some(Schedule::new(start, deadline, rate, index, connections))
                }
                _ => None,
            };
            tokio::spawn(connection_loop(
                authority.clone(),
                source.clone(),
                (index as u64, connections as u64),
                (deadline, limit),
                pacing,
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        if let Ok(connection) = task.await {
            tally.merge(connection);
        }
    }
    summarize(label, start.elapsed(), tally, load)
}

/// How many distinct event ids the load cycles through. Real SDKs send a new id with every
/// event; a fixture whose id never changes would flatter whatever is keyed by event id (a
/// SQLite index on them once put each insert on a random page and cost the file-backed
/// storage a fifth of its throughput, which one repeated id hid).
pub const DISTINCT_EVENTS: usize = 4096;

/// The fixture's wire body `count` times, each with an event id of its own (in the envelope
/// header and in the event, where the SDK puts it) and gzipped again. Deterministic, so every
/// run sends the same bytes.
pub fn fixture_bodies(count: usize) -> Vec<Vec<u8>> {
    use std::io::{Read, Write};
    let mut envelope = Vec::new();
    flate2::read::GzDecoder::new(PYTHON_ERROR_ENVELOPE_GZ)
        .read_to_end(&mut envelope)
        .expect("the fixture is valid gzip");
    let text = String::from_utf8(envelope).expect("the fixture is UTF-8");
    (0..count)
        .map(|n| {
            // Same length as the original, so the item's `length` header stays right.
            let id = event_id(n);
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(text.replace(FIXTURE_EVENT_ID, &id).as_bytes())
                .and_then(|()| encoder.finish())
                .expect("gzip into memory")
        })
        .collect()
}

/// The `n`th of the load's event ids: 32 hex digits in no particular order (as SDKs' random
/// UUIDs are), so consecutive requests land at scattered places of whatever is keyed by
/// event id rather than sweeping it in order. SplitMix64's finalizer is a bijection, so `n` below 2^64 never
/// repeat an id.
pub(crate) fn event_id(n: usize) -> String {
    let mut z = (n as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("{z:016x}{:016x}", n as u64 + 1)
}

/// [`fixture_bodies`] of [`DISTINCT_EVENTS`], built once per process.
fn fixture_pool() -> &'static [Vec<u8>] {
    static POOL: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| fixture_bodies(DISTINCT_EVENTS))
}

/// The event id the captured fixture carries.
const FIXTURE_EVENT_ID: &str = "dd52e5d2fcb7424ead216d7d659c8280";

/// The request every connection sends, built once: what sentry-sdk sends (its headers, the
/// gzip fixture as body) over HTTP/1.1 keep-alive.
fn request_bytes(authority: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\n\
         host: {authority}\r\n\
         content-type: application/x-sentry-envelope\r\n\
         content-encoding: gzip\r\n\
         user-agent: sentry.python/2.75.0\r\n\
         x-sentry-auth: Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0\r\n\
         accept-encoding: identity\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

async fn connect(authority: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Posts the run's requests (request `first`, then every `stride`th, so that connections
/// never send the same event id at once) on one connection until `deadline`, or until the next
/// would be request `limit` or later: back to back, or each when `schedule` says it is due.
/// Reconnects when the server closes the connection (Werkzeug, which Kent runs on, closes
/// after every response); a reconnect counts in that request's latency, as it would for a
/// real SDK. Only a 200 counts as a success.
///
/// A request's latency runs from its send to the end of its answer, except on a schedule when
/// the request went out late because this connection was still waiting on the server: then it
/// runs from when the request was due (wrk2's correction for coordinated omission). A request
/// that goes out late only because the timer woke late (tokio's has millisecond granularity)
/// counts from its send: that lateness is the load generator's, not the server's.
///
/// The client is a plain socket writing a prebuilt request and parsing the answer's head with
/// `httparse`: the load generator shares the cores with the server, so the less it costs, the
/// more of the machine measures the server.
async fn connection_loop(
    authority: String,
    source: Arc<Source>,
    (first, stride): (u64, u64),
    (deadline, limit): (Option<Instant>, Option<u64>),
    mut schedule: Option<Schedule>,
) -> Tally {
    let mut tally = Tally::default();
    let mut open: Option<(TcpStream, BytesMut)> = None;
    let mut next = first;
    loop {
        if limit.is_some_and(|limit| next >= limit) {
            break;
        }
        let now = Instant::now();
        let sent = match &mut schedule {
            None if deadline.is_none_or(|deadline| now < deadline) => now,
            None => break,
            Some(schedule) => match schedule.next_due() {
                None => break,
                Some(due) if deadline.is_some_and(|deadline| now >= deadline) => {
                    // The run ended with requests still due: this connection was held up.
                    for due in std::iter::once(due).chain(schedule.drain()) {
                        tally.latencies.record(now - due);
                        tally.unsent += 1;
                    }
                    break;
                }
                Some(due) if now >= due => due,
                Some(due) => {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                }
            },
        };
        let request = source.request(next);
        next += stride;
        let (mut stream, mut buffer) = match open.take() {
            Some(connection) => connection,
            None => match connect(&authority).await {
                Ok(stream) => (stream, BytesMut::with_capacity(4096)),
                Err(_) => {
                    tally.errors += 1;
                    return tally;
                }
            },
        };
        let answer = async {
            stream.write_all(&request).await?;
            read_response(&mut stream, &mut buffer).await
        }
        .await;
        match answer {
            Ok(response) => {
                if response.status == 200 {
                    tally.latencies.record(sent.elapsed());
                    tally.answered += 1;
                } else {
                    tally.errors += 1;
                }
                if response.keep_alive {
                    open = Some((stream, buffer));
                }
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

pub(crate) fn summarize(
    label: &str,
    elapsed: Duration,
    tally: Tally,
    load: Load,
) -> Result<BenchResult, BenchError> {
    if tally.answered == 0 {
        return Err(BenchError::AllFailed(tally.errors));
    }
    Ok(BenchResult {
        label: label.to_string(),
        requests: tally.answered,
        errors: tally.errors,
        elapsed,
        latency: tally.latencies.summary(),
        rate: match load {
            Load::Closed => None,
            Load::Rate(target) => Some(RateOutcome {
                target,
                unsent: tally.unsent,
            }),
        },
    })
}

/// The table's columns after the label: (heading, width).
const COLUMNS: [(&str, usize); 10] = [
    ("envelopes/s", 11),
    ("of rate", 7),
    ("requests", 9),
    ("unsent", 7),
    ("p50 ms", 8),
    ("p90 ms", 8),
    ("p99 ms", 8),
    ("p99.9 ms", 8),
    ("max ms", 8),
    ("errors", 6),
];

/// Width of the label column; longer labels (a peer's URL) push their row to the right.
const LABEL_WIDTH: usize = 34;

fn row_of(label: &str, cells: [String; 10]) -> String {
    let mut row = format!("{label:<LABEL_WIDTH$}");
    for (cell, (_, width)) in cells.iter().zip(COLUMNS) {
        row.push_str(&format!(" {cell:>width$}"));
    }
    row
}

/// A table row. `of rate` (achieved envelopes/s as a share of `--rate`) and `unsent` are `-`
/// for a closed loop.
pub fn format_row(result: &BenchResult) -> String {
    let ms = |latency: Duration| format!("{:.2}", latency.as_secs_f64() * 1e3);
    let latency = &result.latency;
    row_of(
        &result.label,
        [
            format!("{:.0}", result.per_second()),
            result
                .share_of_rate()
                .map_or("-".into(), |share| format!("{:.1}%", share * 100.0)),
            result.requests.to_string(),
            result
                .rate
                .map_or("-".into(), |rate| rate.unsent.to_string()),
            ms(latency.p50),
            ms(latency.p90),
            ms(latency.p99),
            ms(latency.p999),
            ms(latency.max),
            result.errors.to_string(),
        ],
    )
}

pub fn header_row() -> String {
    row_of("target", COLUMNS.map(|(heading, _)| heading.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use fake_sentry::config::Limits;
    use fake_sentry::{IngestRequest, ingest_envelope};
    use targets::fixture_request;

    /// Each body is the fixture with an event id of its own that ingest reads back, and the
    /// item still parses (its length header still matches).
    #[test]
    fn fixture_bodies_differ_only_in_their_event_ids() {
        let bodies = fixture_bodies(3);
        let mut ids = Vec::new();
        for body in &bodies {
            let request = IngestRequest {
                body: Bytes::from(body.clone()),
                ..fixture_request()
            };
            let ingested =
                ingest_envelope(&request, &Limits::default(), &[]).expect("the body ingests");
            let item = &ingested.envelope.items[0];
            assert_eq!(item.meta.decode_error, None);
            assert_eq!(item.meta.event_id, ingested.event_id);
            assert_eq!(
                item.meta.summary,
                "ValueError: python error understudy-marker-7f3c"
            );
            ids.push(ingested.event_id.expect("an event id"));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "distinct ids: {ids:?}");
        assert!(!ids.contains(&FIXTURE_EVENT_ID.to_string()));
    }

    /// The load's event ids are distinct and not in sorted order, as random UUIDs would be:
    /// ids sorted like the requests that carry them would sweep the event id index in order.
    #[test]
    fn event_ids_are_distinct_and_scattered() {
        let ids: Vec<String> = (0..DISTINCT_EVENTS).map(event_id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), DISTINCT_EVENTS);
        assert!(ids.iter().all(|id| id.len() == 32));
        let in_order = ids.windows(2).filter(|w| w[0] < w[1]).count();
        let share = in_order as f64 / (DISTINCT_EVENTS - 1) as f64;
        assert!((0.4..0.6).contains(&share), "{share} of neighbours ascend");
    }
}
