//! The request log behind `/__requests__`: every request with method, path, status, bytes
//! sent and timing, so tests can assert exactly what a stackwalker asked for.
//!
//! An entry is recorded when the response head is ready (so a test that has its answer sees
//! the entry) and completed when the body has been sent or dropped.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http_body::Body as _;
use serde::Serialize;

/// One logged request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Sequence number, from 0.
    pub id: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// Body bytes sent so far (final once `complete`).
    pub bytes: u64,
    /// Milliseconds until the response head was ready.
    pub head_ms: f64,
    /// Milliseconds until the body was finished or dropped (None while still sending).
    pub total_ms: Option<f64>,
    /// Whether the whole body was sent (false when the client went away or a fault cut it).
    pub complete: bool,
    /// Indexes of the fault rules that fired.
    pub faults: Vec<usize>,
}

/// A bounded in-memory log.
pub struct RequestLog {
    entries: Mutex<(u64, VecDeque<RequestRecord>)>,
    capacity: usize,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new((0, VecDeque::new())),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, VecDeque<RequestRecord>)> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a response head and returns its id.
    pub fn start(&self, mut record: RequestRecord) -> u64 {
        let mut guard = self.lock();
        record.id = guard.0;
        guard.0 += 1;
        let id = record.id;
        if guard.1.len() == self.capacity {
            guard.1.pop_front();
        }
        guard.1.push_back(record);
        id
    }

    fn finish(&self, id: u64, bytes: u64, total_ms: f64, complete: bool) {
        let mut guard = self.lock();
        if let Some(entry) = guard.1.iter_mut().rev().find(|e| e.id == id) {
            entry.bytes = bytes;
            entry.total_ms = Some(total_ms);
            entry.complete = complete;
        }
    }

    /// Everything logged, oldest first.
    pub fn list(&self) -> Vec<RequestRecord> {
        self.lock().1.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.lock().1.clear();
    }

    /// Wraps `body` so the entry `id` is completed with its byte count when it ends; the
    /// size hint is kept, so a known length still goes out as `Content-Length`.
    pub fn track(self: &Arc<Self>, id: u64, started: Instant, body: Body) -> Body {
        Body::new(Tracked {
            inner: body,
            log: self.clone(),
            id,
            started,
            bytes: 0,
            complete: false,
        })
    }

    fn with_entry(&self, id: u64, f: impl FnOnce(&mut RequestRecord)) {
        let mut guard = self.lock();
        if let Some(entry) = guard.1.iter_mut().rev().find(|e| e.id == id) {
            f(entry);
        }
    }
}

/// A response body that reports what it sent to the log.
struct Tracked {
    inner: Body,
    log: Arc<RequestLog>,
    id: u64,
    started: Instant,
    bytes: u64,
    complete: bool,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                    let bytes = self.bytes;
                    self.log.with_entry(self.id, |e| e.bytes = bytes);
                }
            }
            Poll::Ready(None) => self.complete = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let total = self.started.elapsed().as_secs_f64() * 1000.0;
        // A body hyper never polled because it knew it was empty is complete too.
        let complete = self.complete || self.inner.is_end_stream();
        self.log.finish(self.id, self.bytes, total, complete);
    }
}
