//! Ingest benchmark: N keep-alive connections post a real Python SDK error envelope (gzip, as
//! sentry-sdk sends it without brotli) for T seconds; reports envelopes/s and latency
//! percentiles. Runs against in-process servers (memory and file SQLite) and, optionally, a
//! peer such as Kent at a URL, so the figures are comparable within one run.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::config::{Config, Storage};
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
    for _ in 0..connections.max(1) {
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| BenchError::Connect(authority.clone(), e))?;
        stream.set_nodelay(true).ok();
        let authority = authority.clone();
        tasks.push(tokio::spawn(async move {
            connection_loop(stream, authority, deadline).await
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((lat, err)) = task.await {
            latencies.extend(lat);
            errors += err;
        }
    }
    let elapsed = start.elapsed();
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

async fn connection_loop(
    stream: tokio::net::TcpStream,
    authority: String,
    deadline: Instant,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return (latencies, 1);
    };
    tokio::spawn(conn);
    let body = Bytes::from_static(PYTHON_ERROR_ENVELOPE_GZ);
    while Instant::now() < deadline {
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
        let sent = Instant::now();
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.into_body().collect().await;
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
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
