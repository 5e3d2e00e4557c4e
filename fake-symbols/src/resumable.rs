//! The GCS resumable-upload sessions behind Tecken's upload v2: `POST /upload/v2/` hands out a
//! session URL per file ([`Sessions::open`]), and the client `PUT`s the file to it in chunks
//! (`/__storage__/upload/{session}`), as the `upload-symbols` CLI does against GCS.
//!
//! The protocol is GCS's: each chunk carries `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may
//! be `*` until the last chunk); an unfinished upload answers 308 with `Range: bytes=0-N` (no
//! `Range` before the first byte); `bytes */TOTAL` with an empty body asks for the status; the
//! chunk that completes the object answers 200 with the object's JSON (`name`, `size` as a
//! string, base64 `md5Hash`). A chunk that overlaps what is already stored is accepted from
//! where the stored bytes end, a chunk that leaves a gap is refused.
//!
//! A session expires a while after it was opened (`upload_session_ttl`, by default a week, as a
//! GCS session URI does): its staging file is deleted, its slot under `max_upload_sessions`
//! freed, and its URL answers 404 like an unknown session, so that clients that give up halfway
//! cannot hold disk and slots until a restart.
//!
//! Chunks stream into one staging file per session. A chunk cut short by a disconnect is
//! discarded (the next `PUT` truncates back to the last complete chunk), so `received` only
//! counts whole chunks. The completed object is checked against the size and md5 the v2
//! request declared (after gunzip when the session asked for gzip) and then stored like a zip
//! member, so downloads and skips see it.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use flate2::read::GzDecoder;
use serde_json::{Value, json};

use crate::archive::storage_key;
use crate::error::ResumableError;
use crate::keys::SymbolKey;
use crate::server::AppState;
use crate::staging;
use crate::store::{Fingerprint, PutOutcome, SymbolStore, copy_fingerprinted};

/// Completed sessions remembered, so a repeated final `PUT` still answers 200.
const COMPLETED_KEPT: usize = 4096;

/// What a session uploads, from the v2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTarget {
    /// The key as the client sent it (reported back in the object name).
    pub name: String,
    pub key: SymbolKey,
    pub try_symbols: bool,
    /// Size and lower-case md5 of the original content.
    pub declared: Fingerprint,
    /// The client must gzip the content (Tecken stores `.sym` files gzip-encoded).
    pub gzip: bool,
}

struct Session {
    target: SessionTarget,
    /// Bytes this session may stage: what its declared file can take on the wire.
    reserved: u64,
    /// Created by the first chunk.
    staged: Option<tempfile::TempPath>,
    /// Bytes of whole chunks stored so far.
    received: u64,
    /// The object size, once a chunk announced it.
    total: Option<u64>,
}

/// A session waiting for bytes, and when it expires.
struct PendingSession {
    expires: Instant,
    /// The session's [`Session::reserved`], kept outside its lock for the byte cap.
    reserved: u64,
    session: Arc<tokio::sync::Mutex<Session>>,
}

/// The bounds on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Sessions waiting for bytes.
    pub max_pending: usize,
    /// How long a session stays valid after it was opened.
    pub ttl: Duration,
    /// Bytes all pending sessions together may stage (their reservations).
    pub max_bytes: u64,
    /// Largest object (after gunzip) a session may store: `max_member_bytes`.
    pub max_object_bytes: u64,
}

/// Why no sessions were opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("too many pending upload sessions (limit {0})")]
    TooMany(usize),
    #[error("pending upload sessions would stage {wanted} bytes (limit {limit})")]
    TooManyBytes { wanted: u64, limit: u64 },
}

/// The most bytes a declared file may take on the wire: its size, or for gzip its size plus
/// what any deflate encoder adds to incompressible data (generously: an eighth and 4 KiB of
/// headers), never more than the object limit allows.
pub fn wire_bound(target: &SessionTarget, max_object_bytes: u64) -> u64 {
    let size = target.declared.size.min(max_object_bytes);
    if target.gzip {
        size.saturating_add(size / 8).saturating_add(4096)
    } else {
        size
    }
}

/// A new session id: 128 random bits (a v4 UUID's 122 and its fixed bits) in hex. The URL is
/// the capability to upload, as a GCS resumable session URI is, so it must not be guessable.
fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The open and recently completed sessions.
pub struct Sessions {
    pending: Mutex<HashMap<String, PendingSession>>,
    /// (session, object JSON), oldest first.
    completed: Mutex<VecDeque<(String, Value)>>,
    limits: SessionLimits,
}

impl Sessions {
    pub fn new(limits: SessionLimits) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            completed: Mutex::new(VecDeque::new()),
            limits,
        }
    }

    /// The pending sessions, without the expired ones. Dropping an expired session deletes its
    /// staging file, or, when a chunk is being written to it right now, does so once that
    /// chunk is done.
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingSession>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        pending.retain(|_, p| p.expires > now);
        pending
    }

    /// Opens one session per target, all or none: refused when they would pass the count or
    /// the byte limit.
    pub fn open(&self, targets: Vec<SessionTarget>) -> Result<Vec<String>, OpenError> {
        let mut pending = self.live();
        if pending.len().saturating_add(targets.len()) > self.limits.max_pending {
            return Err(OpenError::TooMany(self.limits.max_pending));
        }
        let reserved: u64 = pending
            .values()
            .fold(0u64, |sum, p| sum.saturating_add(p.reserved));
        let wanted = targets.iter().fold(reserved, |sum, t| {
            sum.saturating_add(wire_bound(t, self.limits.max_object_bytes))
        });
        if wanted > self.limits.max_bytes {
            return Err(OpenError::TooManyBytes {
                wanted,
                limit: self.limits.max_bytes,
            });
        }
        // A ttl too large for the clock never expires.
        let expires = Instant::now()
            .checked_add(self.limits.ttl)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        Ok(targets
            .into_iter()
            .map(|target| {
                let id = new_session_id();
                let reserved = wire_bound(&target, self.limits.max_object_bytes);
                let session = Session {
                    target,
                    reserved,
                    staged: None,
                    received: 0,
                    total: None,
                };
                let session = Arc::new(tokio::sync::Mutex::new(session));
                pending.insert(
                    id.clone(),
                    PendingSession {
                        expires,
                        reserved,
                        session,
                    },
                );
                id
            })
            .collect())
    }

    /// Sessions still waiting for bytes (expired ones do not count).
    pub fn pending(&self) -> usize {
        self.live().len()
    }

    /// A session that is neither finished nor expired.
    fn get(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Session>>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let expired = pending.get(id)?.expires <= Instant::now();
        if expired {
            pending.remove(id);
            return None;
        }
        pending.get(id).map(|p| p.session.clone())
    }

    fn completed_object(&self, id: &str) -> Option<Value> {
        let completed = self.completed.lock().unwrap_or_else(|p| p.into_inner());
        completed
            .iter()
            .find(|(done, _)| *done == id)
            .map(|(_, object)| object.clone())
    }

    /// Ends a session; a completed one is remembered with its object.
    fn close(&self, id: &str, object: Option<Value>) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(object) = object {
            let mut completed = self.completed.lock().unwrap_or_else(|p| p.into_inner());
            if completed.len() >= COMPLETED_KEPT {
                completed.pop_front();
            }
            completed.push_back((id.to_string(), object));
        }
    }
}

/// A parsed `Content-Range` request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// `FIRST-LAST` (inclusive), or `None` for `*` (a status query).
    pub range: Option<(u64, u64)>,
    /// The object size, or `None` for `*` (not known yet).
    pub total: Option<u64>,
}

/// Parses `bytes FIRST-LAST/TOTAL`, `bytes FIRST-LAST/*`, `bytes */TOTAL` or `bytes */*`.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let total = match total {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    let range = match range {
        "*" => None,
        r => {
            let (first, last) = r.split_once('-')?;
            let (first, last) = (first.parse::<u64>().ok()?, last.parse::<u64>().ok()?);
            if last < first || total.is_some_and(|t| last >= t) {
                return None;
            }
            Some((first, last))
        }
    };
    Some(ContentRange { range, total })
}

/// Drops the first `skip` bytes written (the part of a retried chunk already stored).
struct SkipFirst<W> {
    skip: u64,
    inner: W,
}

impl<W: Write> Write for SkipFirst<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let skipped = (self.skip.min(buf.len() as u64)) as usize;
        self.skip -= skipped as u64;
        self.inner.write_all(&buf[skipped..])?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `PUT /__storage__/upload/{session}`.
pub async fn put_chunk(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ResumableError> {
    let content_range = match request.headers().get(header::CONTENT_RANGE) {
        Some(value) => {
            let text = value.to_str().unwrap_or_default();
            Some(
                parse_content_range(text)
                    .ok_or_else(|| ResumableError::BadContentRange(text.to_string()))?,
            )
        }
        None => None,
    };
    if let Some(object) = state.sessions.completed_object(&id) {
        return Ok((StatusCode::OK, axum::Json(object)).into_response());
    }
    let session = state.sessions.get(&id).ok_or(ResumableError::NoSession)?;
    // One request at a time per session; a dropped request releases it.
    let mut session = session.lock().await;
    // No header: the whole object in one request.
    let content_range = content_range.unwrap_or(ContentRange {
        range: Some((0, u64::MAX)),
        total: None,
    });
    if let (Some(before), Some(after)) = (session.total, content_range.total)
        && before != after
    {
        return Err(ResumableError::TotalChanged { before, after });
    }
    // What this session may stage: its declared file's size on the wire (which is also within
    // the object limit), so the sessions together stay within what they reserved.
    let object_limit = state.config.limits.max_member_bytes;
    let limit = session.reserved;
    if let Some(total) = content_range.total {
        if total > limit {
            return Err(ResumableError::TooLarge(limit));
        }
        session.total = Some(total);
    }
    if let Some((first, last)) = content_range.range {
        if first > session.received {
            return Err(ResumableError::Gap {
                offset: first,
                received: session.received,
            });
        }
        if last != u64::MAX && last >= limit {
            return Err(ResumableError::TooLarge(limit));
        }
        let got = if last == u64::MAX {
            let got = receive_chunk(&state.store, &mut session, (first, limit, false), request)
                .await?
                .ok_or(ResumableError::TooLarge(limit))?;
            session.total = Some(got);
            got
        } else {
            let expected = last - first + 1;
            match receive_chunk(&state.store, &mut session, (first, expected, true), request)
                .await?
            {
                Some(got) if got == expected => got,
                _ => return Err(ResumableError::WrongLength { expected }),
            }
        };
        session.received = session.received.max(first + got);
    }
    if session.total == Some(session.received) {
        let session_state = Session {
            target: session.target.clone(),
            reserved: session.reserved,
            staged: session.staged.take(),
            received: session.received,
            total: session.total,
        };
        let store = state.clone();
        let finished =
            tokio::task::spawn_blocking(move || finish(&store.store, session_state, object_limit))
                .await
                .map_err(|e| ResumableError::Internal(e.to_string()))?;
        return match finished {
            Ok(object) => {
                state.sessions.close(&id, Some(object.clone()));
                Ok((StatusCode::OK, axum::Json(object)).into_response())
            }
            Err(err) => {
                state.sessions.close(&id, None);
                Err(err)
            }
        };
    }
    Ok(incomplete(session.received))
}

/// 308 with the stored range (none before the first byte).
fn incomplete(received: u64) -> Response {
    let mut headers = HeaderMap::new();
    if received > 0
        && let Ok(range) = HeaderValue::from_str(&format!("bytes=0-{}", received - 1))
    {
        headers.insert(header::RANGE, range);
    }
    (StatusCode::PERMANENT_REDIRECT, headers).into_response()
}

/// Streams one chunk's body into the session file from `first`, skipping what is stored
/// already. Returns the body's length, or `None` when it passes `max` (nothing past `max` is
/// read). When `exact`, a body shorter than `max` is refused whole too: the file is cut back
/// to the chunks stored before.
async fn receive_chunk(
    store: &SymbolStore,
    session: &mut Session,
    (first, max, exact): (u64, u64, bool),
    request: Request,
) -> Result<Option<u64>, ResumableError> {
    if session.staged.is_none() {
        let staged = tempfile::NamedTempFile::new_in(store.staging_dir())?;
        session.staged = Some(staged.into_temp_path());
    }
    let Some(path) = session.staged.as_ref() else {
        return Err(ResumableError::Internal("no staging file".into()));
    };
    let mut file = OpenOptions::new().write(true).open(path)?;
    // Drop the tail of a chunk that a disconnect cut short.
    file.set_len(session.received)?;
    file.seek(SeekFrom::Start(session.received))?;
    let mut out = SkipFirst {
        skip: session.received - first,
        inner: io::BufWriter::with_capacity(1 << 20, file),
    };
    let body = request.into_body().into_data_stream();
    let copied = staging::copy_body(body, &mut out, max, |e| {
        crate::error::UploadError::BadForm(e.to_string())
    })
    .await;
    out.flush()?;
    match copied {
        Ok(got) if !exact || got == max => Ok(Some(got)),
        Ok(got) => {
            out.inner.get_ref().set_len(session.received)?;
            Ok(Some(got))
        }
        Err(crate::error::UploadError::TooLarge(_)) => {
            out.inner.get_ref().set_len(session.received)?;
            Ok(None)
        }
        // The body broke off (the client went away). `received` still counts whole chunks
        // only; the next `PUT` cuts the partial one off, as when the future is dropped.
        Err(_) => Err(ResumableError::WrongLength { expected: max }),
    }
}

/// Checks the finished object against the declared file and stores it; the object JSON.
fn finish(store: &SymbolStore, session: Session, limit: u64) -> Result<Value, ResumableError> {
    let target = &session.target;
    let staged = match session.staged {
        Some(staged) => staged,
        // An empty object: no chunk ever carried a byte.
        None => tempfile::NamedTempFile::new_in(store.staging_dir())?.into_temp_path(),
    };
    let raw = copy_fingerprinted(std::fs::File::open(&staged)?, io::sink())?;
    let (content, fp) = if target.gzip {
        let mut decoded = tempfile::NamedTempFile::new_in(store.staging_dir())?;
        let reader = GzDecoder::new(io::BufReader::new(std::fs::File::open(&staged)?));
        let fp = copy_fingerprinted(reader.take(limit + 1), decoded.as_file_mut())
            .map_err(|e| ResumableError::NotGzip(e.to_string()))?;
        if fp.size > limit {
            return Err(ResumableError::TooLarge(limit));
        }
        (decoded.into_temp_path(), fp)
    } else {
        (staged, raw.clone())
    };
    if fp != target.declared {
        return Err(ResumableError::Mismatch {
            declared: format!(
                "{} bytes, md5 {}",
                target.declared.size, target.declared.md5
            ),
            got: format!("{} bytes, md5 {}", fp.size, fp.md5),
        });
    }
    let outcome = store.put_file(&target.key, target.try_symbols, &content, &fp)?;
    tracing::info!(key = %target.key, ?outcome, "resumable upload finished");
    let md5 = hex::decode(&raw.md5).map_err(|e| ResumableError::Internal(e.to_string()))?;
    let mut object = json!({
        "kind": "storage#object",
        "name": storage_key(&target.name, target.try_symbols),
        "bucket": "fake-symbols",
        "size": raw.size.to_string(),
        "md5Hash": base64::engine::general_purpose::STANDARD.encode(md5),
        "contentType": if target.key.file_name.ends_with(".sym") { "text/plain" } else { "application/octet-stream" },
        "metadata": {"original_size": fp.size.to_string(), "original_md5_hash": fp.md5},
    });
    if target.gzip {
        object["contentEncoding"] = json!("gzip");
    }
    if outcome == PutOutcome::Skipped {
        tracing::debug!(key = %target.key, "identical file already stored");
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_as_gcs_clients_send_them() {
        let cr = |s| parse_content_range(s);
        assert_eq!(
            cr("bytes 0-99/200"),
            Some(ContentRange {
                range: Some((0, 99)),
                total: Some(200)
            })
        );
        assert_eq!(
            cr("bytes 100-199/*"),
            Some(ContentRange {
                range: Some((100, 199)),
                total: None
            })
        );
        assert_eq!(
            cr("bytes */200"),
            Some(ContentRange {
                range: None,
                total: Some(200)
            })
        );
        assert_eq!(
            cr("bytes */*"),
            Some(ContentRange {
                range: None,
                total: None
            })
        );
        // Past 4 GiB.
        assert_eq!(
            cr("bytes 4294967296-6442450943/6442450944").and_then(|c| c.total),
            Some(6_442_450_944)
        );
        for bad in [
            "0-99/200",
            "bytes 99-0/200",
            "bytes 0-200/200",
            "bytes 0-x/200",
            "bytes 0-99",
            "items 0-99/200",
        ] {
            assert_eq!(cr(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_skip_first_writer_drops_the_stored_prefix() {
        let mut out = SkipFirst {
            skip: 5,
            inner: Vec::new(),
        };
        out.write_all(b"abc").unwrap();
        out.write_all(b"defgh").unwrap();
        assert_eq!(out.inner, b"fgh");
    }
}
