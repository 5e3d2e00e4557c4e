//! The worker's wire format on its stdin and stdout: frames of a little-endian `u64` length and
//! that many bytes, read with a cap so that neither side takes in more than it expects.
//!
//! A job is two frames, a [`JobHeader`] as JSON and the dump's bytes; a reply is two frames, a
//! [`ReplyHeader`] as JSON and the processor's JSON (empty when processing failed). The dump
//! and the processed JSON go as bytes of their own so that neither is escaped into a string.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::supplier::ModuleKey;

/// The largest job header a worker reads (the missing modules are most of it).
pub(crate) const MAX_JOB_HEADER: u64 = 64 << 20;
/// The largest dump a worker reads.
pub(crate) const MAX_DUMP: u64 = 4 << 30;
/// The largest reply header the parent reads.
pub(crate) const MAX_REPLY_HEADER: u64 = 64 << 20;

/// What a worker is asked to do, besides the dump itself.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JobHeader {
    pub(crate) urls: Vec<String>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) download_timeout_ms: u64,
    pub(crate) max_symbol_bytes: Option<u64>,
    /// The heap processing may take on top of what the worker holds once it has the job.
    pub(crate) max_memory: Option<u64>,
    /// Modules the parent knows no source has, so that the worker does not ask again.
    pub(crate) missing: Vec<ModuleKey>,
}

/// What a worker answers, besides the processed JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ReplyHeader {
    /// `None` when processing succeeded and the processed JSON follows.
    pub(crate) failure: Option<WireFailure>,
    /// Every module the worker knows no source has, the job's included.
    pub(crate) missing: Vec<ModuleKey>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireFailure {
    pub(crate) name: String,
    pub(crate) detail: String,
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("it ended early: {0}")]
    Io(#[from] std::io::Error),
    #[error("a frame of {len} bytes is over the {max}-byte cap")]
    TooLong { len: u64, max: u64 },
}

pub(crate) fn write_frame(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

pub(crate) fn read_frame(input: &mut impl Read, max: u64) -> Result<Vec<u8>, FrameError> {
    let mut len = [0; 8];
    input.read_exact(&mut len)?;
    let len = checked_len(len, max)?;
    let mut bytes = Vec::new();
    input.take(len).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(bytes)
}

pub(crate) async fn write_frame_async(
    out: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes()).await?;
    out.write_all(bytes).await
}

pub(crate) async fn read_frame_async(
    input: &mut (impl AsyncRead + Unpin),
    max: u64,
) -> Result<Vec<u8>, FrameError> {
    let mut len = [0; 8];
    input.read_exact(&mut len).await?;
    let len = checked_len(len, max)?;
    let mut bytes = Vec::new();
    // `take` grows the buffer as bytes arrive: a length the sender did not back with bytes
    // costs nothing up front.
    input.take(len).read_to_end(&mut bytes).await?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(bytes)
}

fn checked_len(len: [u8; 8], max: u64) -> Result<u64, FrameError> {
    let len = u64::from_le_bytes(len);
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_length_over_the_cap_is_refused() {
        let mut out = Vec::new();
        write_frame(&mut out, b"hello").unwrap();
        write_frame(&mut out, b"").unwrap();
        let mut input = out.as_slice();
        assert_eq!(read_frame(&mut input, 5).unwrap(), b"hello");
        assert_eq!(read_frame(&mut input, 5).unwrap(), b"");
        assert!(matches!(read_frame(&mut input, 5), Err(FrameError::Io(_))));
        let mut out = Vec::new();
        write_frame(&mut out, b"hello").unwrap();
        let err = read_frame(&mut out.as_slice(), 4).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLong { len: 5, max: 4 }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_an_error_not_a_short_frame() {
        let mut out = Vec::new();
        write_frame(&mut out, b"hello").unwrap();
        out.truncate(10);
        let err = read_frame_async(&mut out.as_slice(), 64).await.unwrap_err();
        assert!(matches!(err, FrameError::Io(_)), "{err}");
        let mut out = Vec::new();
        write_frame_async(&mut out, b"hi").await.unwrap();
        assert_eq!(
            read_frame_async(&mut out.as_slice(), 2).await.unwrap(),
            b"hi"
        );
    }
}
