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

impl RequestRecord {
    /// Bytes this record holds: its fixed size plus its strings and fault list.
    pub fn footprint(&self) -> u64 {
        (std::mem::size_of::<Self>()
            + self.method.len()
            + self.path.len()
            + self.query.as_ref().map_or(0, String::len)
            + self.faults.len() * std::mem::size_of::<usize>()) as u64
    }
}

struct Entries {
    next_id: u64,
    records: VecDeque<RequestRecord>,
    /// Sum of the records' footprints.
    bytes: u64,
}

/// A bounded in-memory log: at most `capacity` records and `max_bytes` bytes of them; the
/// oldest go first.
pub struct RequestLog {
    entries: Mutex<Entries>,
    capacity: usize,
    max_bytes: u64,
}

impl RequestLog {
    pub fn new(capacity: usize, max_bytes: u64) -> Self {
        Self {
            entries: Mutex::new(Entries {
                next_id: 0,
                records: VecDeque::new(),
                bytes: 0,
            }),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a response head and returns its id. A record larger than the byte cap on its
    /// own is kept with its path and query cut to fit, so the newest request always shows.
    pub fn start(&self, mut record: RequestRecord) -> u64 {
        let mut guard = self.lock();
        record.id = guard.next_id;
        guard.next_id += 1;
        let id = record.id;
        if record.footprint() > self.max_bytes {
            let room = self
                .max_bytes
                .saturating_sub(std::mem::size_of::<RequestRecord>() as u64 + 64)
                as usize;
            cut_to(&mut record.path, room / 2);
            if let Some(query) = record.query.as_mut() {
                cut_to(query, room / 2);
            }
            record.faults.truncate(4);
        }
        let size = record.footprint();
        while !guard.records.is_empty()
            && (guard.records.len() >= self.capacity
                || guard.bytes.saturating_add(size) > self.max_bytes)
        {
            if let Some(old) = guard.records.pop_front() {
                guard.bytes = guard.bytes.saturating_sub(old.footprint());
            }
        }
        guard.bytes += size;
        guard.records.push_back(record);
        id
    }

    /// Bytes held by the records.
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    fn finish(&self, id: u64, bytes: u64, total_ms: f64, complete: bool) {
        let mut guard = self.lock();
        if let Some(entry) = guard.records.iter_mut().rev().find(|e| e.id == id) {
            entry.bytes = bytes;
            entry.total_ms = Some(total_ms);
            entry.complete = complete;
        }
    }

    /// Everything logged, oldest first.
    pub fn list(&self) -> Vec<RequestRecord> {
        self.lock().records.iter().cloned().collect()
    }

    pub fn clear(&self) {
        let mut guard = self.lock();
        guard.records.clear();
        guard.bytes = 0;
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
        if let Some(entry) = guard.records.iter_mut().rev().find(|e| e.id == id) {
            f(entry);
        }
    }
}

/// Cuts `text` to at most `max` bytes on a char boundary, marking the cut with `…`.
fn cut_to(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: String) -> RequestRecord {
        RequestRecord {
            id: 0,
            method: "GET".into(),
            path,
            query: None,
            status: 200,
            bytes: 0,
            head_ms: 0.0,
            total_ms: None,
            complete: false,
            faults: vec![],
        }
    }

    #[test]
    fn the_log_is_capped_in_bytes_with_the_oldest_evicted() {
        let log = RequestLog::new(100_000, 1 << 20);
        for i in 0..1000 {
            log.start(record(format!("/{i}/{}", "x".repeat(16 << 10))));
        }
        assert!(log.bytes() <= 1 << 20, "{}", log.bytes());
        let kept = log.list();
        let held: u64 = kept.iter().map(RequestRecord::footprint).sum();
        assert_eq!(held, log.bytes());
        // The newest are kept, in order.
        assert!(kept.len() >= 60, "{}", kept.len());
        assert_eq!(kept.last().unwrap().id, 999);
        assert!(kept.windows(2).all(|w| w[0].id + 1 == w[1].id));
        log.clear();
        assert_eq!(log.bytes(), 0);
    }

    #[test]
    fn a_record_larger_than_the_cap_is_cut_to_fit() {
        let log = RequestLog::new(10, 4096);
        log.start(record(format!("/é{}", "y".repeat(100_000))));
        let kept = log.list();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].footprint() <= 4096);
        assert!(kept[0].path.ends_with('…'));
    }
}
