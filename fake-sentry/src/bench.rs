//! Ingest benchmark: N keep-alive connections post a real Python SDK error envelope (gzip, as
//! sentry-sdk sends it without brotli) for T seconds; reports envelopes/s and latency
//! percentiles. Runs against in-process servers (memory and file SQLite) and, optionally, a
//! peer such as Kent at a URL, so the figures are comparable within one run.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::config::{Config, Limits, Storage};
use crate::ingest::{self, Endpoint, IngestRequest};
use crate::store::{NewEnvelope, Store};
use crate::testing::FakeSentry;

/// The wire body of a real `sentry-sdk` 2.75.0 error envelope (see `testdata/captures`).
pub const PYTHON_ERROR_ENVELOPE_GZ: &[u8] =
    include_bytes!("../testdata/captures/python-error-gzip.envelope.gz");

/// One measured target.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub label: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl BenchResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
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

/// Drives `base_url` with `connections` connections for `duration`.
pub async fn drive(
    label: &str,
    base_url: &str,
    connections: usize,
    duration: Duration,
) -> Result<BenchResult, BenchError> {
    let authority = authority(base_url)?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(connections);
    // Fail early, with a clear error, when nothing listens there.
    drop(
        tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| BenchError::Connect(authority.clone(), e))?,
    );
    for _ in 0..connections.max(1) {
        tasks.push(tokio::spawn(connection_loop(authority.clone(), deadline)));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((lat, err)) = task.await {
            latencies.extend(lat);
            errors += err;
        }
    }
    summarize(label, start.elapsed(), latencies, errors)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(authority: &str) -> std::io::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Posts the fixture back to back on one connection until `deadline`, reconnecting when the
/// server closes it (Werkzeug, which Kent runs on, closes after every response); a reconnect
/// counts in that request's latency, as it would for a real SDK.
async fn connection_loop(authority: String, deadline: Instant) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut sender: Option<Sender> = None;
    let body = Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ);
    while Instant::now() < deadline {
        let sent = Instant::now();
        let mut current = match sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => match connect(&authority).await {
                Ok(s) => s,
                Err(_) => return (latencies, errors + 1),
            },
        };
        if current.ready().await.is_err() {
            continue;
        }
        let request = Request::post("/api/1/envelope/")
            .header("host", &authority)
            .header("content-type", "application/x-sentry-envelope")
            .header("content-encoding", "gzip")
            .header("user-agent", "sentry.python/2.75.0")
            .header(
                "x-sentry-auth",
                "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0",
            )
            .body(Full::new(body.clone()));
        let Ok(request) = request else {
            return (latencies, errors + 1);
        };
        match current.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.into_body().collect().await;
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
                sender = Some(current);
            }
            Err(_) => errors += 1,
        }
    }
    (latencies, errors)
}

/// Starts an in-process server on `storage` and measures it.
pub async fn bench_in_process(
    label: &str,
    storage: Storage,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<BenchResult> {
    let config = Config {
        storage,
        // Keep everything the run sends: eviction is not what is being measured.
        max_items: usize::MAX >> 2,
        ..Config::ephemeral()
    };
    let server = FakeSentry::start_with(config).await?;
    let result = drive(label, &server.url(), connections, duration).await?;
    server.shutdown().await;
    Ok(result)
}

/// The fixture envelope as ingest turns it into a storage record.
fn fixture_envelope() -> anyhow::Result<NewEnvelope> {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-encoding", http::HeaderValue::from_static("gzip"));
    let request = IngestRequest {
        endpoint: Endpoint::Envelope,
        project_id: 1,
        headers,
        query: Default::default(),
        body: Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ),
        received_at_ms: crate::server::now_ms(),
    };
    Ok(ingest::ingest_envelope(&request, &Limits::default(), &[])?.envelope)
}

/// Measures the storage stage alone: `concurrency` tasks insert the fixture envelope directly,
/// without HTTP, decoding or parsing. Shows how much of the end-to-end cost is the single
/// writer.
pub async fn bench_storage(
    label: &str,
    storage: Storage,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<BenchResult> {
    let store = Store::open(&storage, usize::MAX >> 2, 16)?;
    let template = fixture_envelope()?;
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let store = store.clone();
            let template = template.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match store.insert(template.clone()).await {
                        Ok(_) => latencies.push(sent.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (lat, err) = task.await?;
        latencies.extend(lat);
        errors += err;
    }
    Ok(summarize(label, start.elapsed(), latencies, errors)?)
}

fn summarize(
    label: &str,
    elapsed: Duration,
    mut latencies: Vec<Duration>,
    errors: u64,
) -> Result<BenchResult, BenchError> {
    if latencies.is_empty() {
        return Err(BenchError::AllFailed(errors));
    }
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok(BenchResult {
        label: label.to_string(),
        requests: latencies.len() as u64,
        errors,
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    })
}

/// A table row.
pub fn format_row(result: &BenchResult) -> String {
    format!(
        "{:<28} {:>12.0} {:>10} {:>9.2} {:>9.2} {:>7}",
        result.label,
        result.per_second(),
        result.requests,
        result.p50.as_secs_f64() * 1e3,
        result.p99.as_secs_f64() * 1e3,
        result.errors
    )
}

pub fn header_row() -> String {
    format!(
        "{:<28} {:>12} {:>10} {:>9} {:>9} {:>7}",
        "target", "envelopes/s", "requests", "p50 ms", "p99 ms", "errors"
    )
}
