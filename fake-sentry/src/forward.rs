//! Forwarding: fake-sentry as a scrubbing proxy in front of a real Sentry.
//!
//! With `--forward DSN`, every envelope fake-sentry captured is sent on to that DSN's envelope
//! endpoint after it is stored: with a data policy and `--scrub`, JSON items go out in their
//! scrubbed form, everything else as received. The client gets its answer from fake-sentry at
//! once, as from Relay; forwarding runs on a queue in the background, bounded both in envelopes
//! and in bytes (the bodies wait in memory, and one envelope may be hundreds of MiB), honours the
//! upstream's rate limits (`Retry-After`, `X-Sentry-Rate-Limits`) by dropping while they last, as
//! an SDK does, and records every outcome for `/api/forwarded/`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::config::{ForwardConfig, Upstream};
use crate::store::NewEnvelope;

/// Outcomes kept for the API.
const OUTCOME_LOG: usize = 1000;

/// What happened to one forwarded envelope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ForwardOutcome {
    /// fake-sentry's id of the envelope.
    pub envelope_id: i64,
    /// `sent`, `failed` (transport error or upstream non-2xx), `rate_limited` (dropped while a
    /// rate limit lasts) or `dropped` (queue full, in envelopes or in bytes).
    pub outcome: &'static str,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub bytes: usize,
    pub at: String,
}

struct Job {
    envelope_id: i64,
    body: Vec<u8>,
}

/// Why an envelope did not reach the upstream.
struct SendFailure {
    /// The upstream's status, when it answered.
    status: Option<u16>,
    /// How long a 429 asked to wait before the next envelope.
    pause: Option<Duration>,
    error: String,
}

/// Gives a job's bytes back to the queue's byte count when dropped.
struct QueuedBytes<'a>(&'a AtomicUsize, usize);

impl Drop for QueuedBytes<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::AcqRel);
    }
}

/// The forwarding queue and its record.
pub struct Forwarder {
    config: ForwardConfig,
    queue: mpsc::Sender<Job>,
    outcomes: Mutex<VecDeque<ForwardOutcome>>,
    /// Bytes of the envelopes queued or being sent.
    queued_bytes: AtomicUsize,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("upstream", &self.config.upstream.envelope_url)
            .finish_non_exhaustive()
    }
}

/// The envelope to send upstream: the captured header (its `dsn` pointing at the upstream) and
/// every item, JSON items in their scrubbed form when there is one.
pub fn upstream_envelope(envelope: &NewEnvelope, upstream: &Upstream) -> Vec<u8> {
    let mut header = envelope.header.clone().unwrap_or_default();
    if header.contains_key("dsn") {
        header.insert("dsn".into(), Value::from(upstream.dsn.as_str()));
    }
    let mut out = sentry_envelope::Envelope::new(header);
    for item in &envelope.items {
        let payload = item
            .audit
            .as_ref()
            .and_then(|a| a.scrubbed.clone())
            .unwrap_or_else(|| item.payload.clone());
        let mut forwarded = sentry_envelope::EnvelopeItem::new(item.item_type.as_str(), payload);
        forwarded.header = item.header.clone().unwrap_or_else(Map::new);
        out.items.push(forwarded);
    }
    out.to_bytes()
}

/// The most memory [`upstream_envelope`] takes for `envelope` at its peak, for a request to
/// charge before it makes it: each payload (or its scrubbed copy) copied into an envelope and
/// that envelope written out, twice what it carries. The headers' copies are each about as
/// long as their header line, whose tree ingest charged at 32 times that.
pub fn upstream_bytes(envelope: &NewEnvelope) -> usize {
    envelope
        .items
        .iter()
        .map(|item| {
            let payload = item
                .audit
                .as_ref()
                .and_then(|a| a.scrubbed.as_ref())
                .map_or(item.payload.len(), Vec::len);
            payload.saturating_add(sentry_envelope::ITEM_OVERHEAD)
        })
        .fold(0, usize::saturating_add)
        .saturating_mul(2)
}

/// When a rate-limited upstream may be asked again: `Retry-After` seconds, or the longest
/// limit in `X-Sentry-Rate-Limits` (`SECS:CATEGORIES:SCOPE...`, comma-separated).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let from_limits = header("x-sentry-rate-limits").and_then(|limits| {
        limits
            .split(',')
            .filter_map(|limit| limit.trim().split(':').next()?.parse::<f64>().ok())
            .reduce(f64::max)
    });
    let secs = from_limits
        .or_else(|| header("retry-after").and_then(|v| v.trim().parse::<f64>().ok()))
        .unwrap_or(60.0);
    Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
}

impl Forwarder {
    /// Starts the background sender (needs a tokio runtime).
    pub fn start(config: ForwardConfig) -> std::sync::Arc<Self> {
        let (queue, jobs) = mpsc::channel(config.queue.max(1));
        let forwarder = std::sync::Arc::new(Self {
            config,
            queue,
            outcomes: Mutex::new(VecDeque::new()),
            queued_bytes: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        tokio::spawn(Self::run(std::sync::Arc::downgrade(&forwarder), jobs));
        forwarder
    }

    pub fn upstream(&self) -> &Upstream {
        &self.config.upstream
    }

    /// Queues an envelope; when the queue is full (in envelopes or in bytes) it is dropped and
    /// the drop recorded.
    pub fn submit(&self, envelope_id: i64, body: Vec<u8>) {
        let bytes = body.len();
        let limit = self.config.queue_bytes;
        let reserved =
            self.queued_bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    queued.checked_add(bytes).filter(|&total| total <= limit)
                });
        if let Err(queued) = reserved {
            let error = if bytes > limit {
                format!("envelope of {bytes} bytes is larger than the forwarding queue's {limit}")
            } else {
                format!("queue full: {queued} bytes waiting, limit {limit}")
            };
            self.record(envelope_id, "dropped", None, Some(error), bytes);
            return;
        }
        if self.queue.try_send(Job { envelope_id, body }).is_err() {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.record(
                envelope_id,
                "dropped",
                None,
                Some("queue full".into()),
                bytes,
            );
        }
    }

    fn record(
        &self,
        envelope_id: i64,
        outcome: &'static str,
        status: Option<u16>,
        error: Option<String>,
        bytes: usize,
    ) {
        let counter = match outcome {
            "sent" => &self.sent,
            "failed" => &self.failed,
            _ => &self.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(error) = &error {
            tracing::warn!(envelope_id, outcome, status, %error, "forwarding");
        }
        let mut outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        if outcomes.len() == OUTCOME_LOG {
            outcomes.pop_front();
        }
        outcomes.push_back(ForwardOutcome {
            envelope_id,
            outcome,
            status,
            error,
            bytes,
            at: crate::store::format_ms(crate::store::now_ms()),
        });
    }

    /// The most recent outcomes, oldest first.
    pub fn outcomes(&self) -> Vec<ForwardOutcome> {
        let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        outcomes.iter().cloned().collect()
    }

    pub fn stats_json(&self) -> Value {
        json!({
            "upstream": self.config.upstream.envelope_url,
            "sent": self.sent.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "queued_bytes": self.queued_bytes.load(Ordering::Relaxed),
            "max_queued_bytes": self.config.queue_bytes,
        })
    }

    /// Posts one envelope upstream; its status when it answered 2xx.
    async fn send(&self, client: &reqwest::Client, body: Vec<u8>) -> Result<u16, SendFailure> {
        let upstream = &self.config.upstream;
        let auth = format!(
            "Sentry sentry_version=7, sentry_key={}, sentry_client=fake-sentry-forwarder/{}",
            upstream.public_key,
            env!("CARGO_PKG_VERSION")
        );
        let response = client
            .post(&upstream.envelope_url)
            .header("content-type", "application/x-sentry-envelope")
            .header("x-sentry-auth", auth)
            .timeout(self.config.timeout)
            .body(body)
            .send()
            .await
            .map_err(|err| SendFailure {
                status: None,
                pause: None,
                error: err.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let pause = (status == reqwest::StatusCode::TOO_MANY_REQUESTS)
            .then(|| retry_after(response.headers()));
        let text = error_text(response).await;
        let error = format!("upstream answered {status}: {}", text.trim());
        Err(SendFailure {
            status: Some(status.as_u16()),
            pause,
            error: error.chars().take(500).collect(),
        })
    }

    async fn run(forwarder: std::sync::Weak<Self>, mut jobs: mpsc::Receiver<Job>) {
        let client = match reqwest::Client::builder()
            .user_agent(concat!("fake-sentry-forwarder/", env!("CARGO_PKG_VERSION")))
            // An envelope endpoint that redirects is misconfigured (SDKs do not follow
            // redirects either), and following one would send captured data to wherever it
            // points: the redirect is recorded as the failure it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(%err, "could not build the forwarding HTTP client");
                return;
            }
        };
        let mut limited_until: Option<Instant> = None;
        while let Some(job) = jobs.recv().await {
            let Some(this) = forwarder.upgrade() else {
                return;
            };
            let bytes = job.body.len();
            // The body counts until it is sent or given up on.
            let queued = QueuedBytes(&this.queued_bytes, bytes);
            let (outcome, status, error) =
                if limited_until.is_some_and(|until| Instant::now() < until) {
                    (
                        "rate_limited",
                        None,
                        Some("upstream rate limit in force".to_string()),
                    )
                } else {
                    let sent = this.send(&client, job.body).await;
                    match sent {
                        Ok(status) => ("sent", Some(status), None),
                        Err(failure) => {
                            if let Some(pause) = failure.pause {
                                limited_until = Some(Instant::now() + pause);
                            }
                            ("failed", failure.status, Some(failure.error))
                        }
                    }
                };
            // Released before the outcome shows, so that whoever sees it sees the bytes back.
            drop(queued);
            this.record(job.envelope_id, outcome, status, error, bytes);
        }
    }
}

/// The start of an upstream's error answer, read no further than the outcome keeps of it: an
/// upstream may answer with any amount.
async fn error_text(mut response: reqwest::Response) -> String {
    const KEPT: usize = 2048;
    let mut text = Vec::new();
    while text.len() < KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = KEPT - text.len();
                text.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_become_envelope_urls() {
        let up: Upstream = "https://abc@o1.ingest.sentry.io/42".parse().unwrap();
        assert_eq!(up.public_key, "abc");
        assert_eq!(
            up.envelope_url,
            "https://o1.ingest.sentry.io/api/42/envelope/"
        );
        let up: Upstream = "http://k:secret@127.0.0.1:9000/sentry/7/".parse().unwrap();
        assert_eq!(up.public_key, "k");
        assert_eq!(
            up.envelope_url,
            "http://127.0.0.1:9000/sentry/api/7/envelope/"
        );
    }

    #[test]
    fn bad_dsns_say_why() {
        for (dsn, why) in [
            ("o1.ingest.sentry.io/42", "no scheme"),
            ("ftp://k@h/1", "http or https"),
            ("https://h/1", "no public key"),
            ("https://k@h", "no project id"),
            ("https://k@h/abc", "numeric"),
        ] {
            let err = dsn.parse::<Upstream>().unwrap_err();
            assert!(err.to_string().contains(why), "{dsn}: {err}");
        }
    }

    #[test]
    fn rate_limit_headers_set_the_pause() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Duration::from_secs(7));
        headers.insert(
            "x-sentry-rate-limits",
            "60:error:organization, 2::key".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Duration::from_secs(60));
    }
}
