//! Sym content as a response body: a stored file or a synthetic one, passed through the
//! body faults (corruption, truncation, slow streaming) and gzip when the client accepts it.
//!
//! The plain case streams the file with a known length. Anything else runs a [`Read`] chain
//! on a blocking thread that hands bounded chunks to the response through a small channel,
//! so memory stays flat whatever the size, and the chain stops as soon as the client leaves.

use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzEncoder;
use futures::StreamExt;

use crate::faults::BodyFaults;
use crate::sym_rewrite::{Corrupting, Truncating};
use crate::synthetic::SyntheticSym;

/// Bytes per chunk handed to the response.
const CHUNK: usize = 256 * 1024;
/// Chunks buffered between the producing thread and the response.
const CHANNEL_CHUNKS: usize = 4;

/// Where sym content comes from.
#[derive(Debug, Clone)]
pub enum SymSource {
    File {
        path: PathBuf,
        size: u64,
    },
    Synthetic {
        debug_file: String,
        debug_id: String,
        size: u64,
    },
}

impl SymSource {
    /// Bytes of the unmodified content (for synthetic files: the target size).
    pub fn nominal_size(&self) -> u64 {
        match self {
            Self::File { size, .. } | Self::Synthetic { size, .. } => *size,
        }
    }

    /// The content with the corruption and truncation faults applied.
    pub fn open(&self, faults: &BodyFaults) -> io::Result<Box<dyn Read + Send>> {
        let raw: Box<dyn Read + Send> = match self {
            Self::File { path, .. } => Box::new(std::fs::File::open(path)?),
            Self::Synthetic {
                debug_file,
                debug_id,
                size,
            } => Box::new(SyntheticSym::new(debug_file, debug_id, *size)),
        };
        let mut reader: Box<dyn Read + Send> = if faults.corruptions.is_empty() {
            raw
        } else {
            Box::new(Corrupting::new(
                BufReader::with_capacity(CHUNK, raw),
                faults.corruptions.clone(),
            ))
        };
        if let Some((fraction, at, abort)) = faults.truncate {
            let limit = (self.nominal_size() as f64 * fraction) as u64;
            reader = Box::new(Truncating::new(reader, limit, at, abort));
        }
        Ok(reader)
    }
}

/// A response body plus the `Content-Length` to announce (None: chunked).
pub struct SymBody {
    pub body: Body,
    pub content_length: Option<u64>,
}

/// Builds the body for `source` under `faults`, gzip-encoded when `gzip`.
pub async fn sym_body(source: SymSource, faults: BodyFaults, gzip: bool) -> io::Result<SymBody> {
    let plain = faults.corruptions.is_empty() && faults.truncate.is_none();
    let (body, content_length) = match (&source, plain && !gzip) {
        (SymSource::File { path, size }, true) => {
            let file = tokio::fs::File::open(path).await?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK);
            (throttled(stream, faults.bytes_per_sec), Some(*size))
        }
        _ => {
            let reader = source.open(&faults)?;
            // A truncation that drops the connection keeps the full length promised, as a
            // server that dies mid-body does.
            let lying_length = match (&source, faults.truncate) {
                (SymSource::File { size, .. }, Some((_, _, true)))
                    if !gzip && faults.corruptions.is_empty() =>
                {
                    Some(*size)
                }
                _ => None,
            };
            let reader: Box<dyn Read + Send> = if gzip {
                Box::new(GzEncoder::new(reader, Compression::fast()))
            } else {
                reader
            };
            (throttled(pump(reader), faults.bytes_per_sec), lying_length)
        }
    };
    Ok(SymBody {
        body,
        content_length,
    })
}

/// Runs `reader` on a blocking thread, yielding its bytes in chunks.
fn pump(mut reader: Box<dyn Read + Send>) -> impl futures::Stream<Item = io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill whole chunks: small reads from line adapters would make tiny frames.
            let result = loop {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(filled),
                    Ok(n) => {
                        filled += n;
                        if filled == buf.len() {
                            break Ok(filled);
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => break Err(err),
                }
            };
            match result {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // the client went away
                    }
                }
                Err(err) => {
                    if filled > 0 {
                        buf.truncate(filled);
                        let _ = tx.blocking_send(Ok(Bytes::from(buf)));
                    }
                    let _ = tx.blocking_send(Err(err));
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Paces a stream to `bytes_per_sec` (unpaced when `None`).
fn throttled<S>(stream: S, bytes_per_sec: Option<u64>) -> Body
where
    S: futures::Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    let Some(rate) = bytes_per_sec else {
        return Body::from_stream(stream);
    };
    let piece = (rate / 20).max(1) as usize;
    let start = Instant::now();
    let paced = stream
        .flat_map(move |chunk| {
            let pieces: Vec<io::Result<Bytes>> = match chunk {
                Ok(data) => (0..data.len())
                    .step_by(piece)
                    .map(|at| Ok(data.slice(at..(at + piece).min(data.len()))))
                    .collect(),
                Err(err) => vec![Err(err)],
            };
            futures::stream::iter(pieces)
        })
        .scan(0u64, move |sent, item| {
            let due = start + Duration::from_secs_f64(*sent as f64 / rate as f64);
            if let Ok(data) = &item {
                *sent += data.len() as u64;
            }
            async move {
                tokio::time::sleep_until(due.into()).await;
                Some(item)
            }
        });
    Body::from_stream(paced)
}
