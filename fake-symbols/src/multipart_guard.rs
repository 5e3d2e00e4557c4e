//! Bounds on a multipart body's framing, checked on the byte stream before `multer` sees it.
//!
//! `multer` buffers the preamble (until the first `--boundary`), each boundary line and each
//! part's header block (until `\r\n\r\n`) whole before it yields anything, and it counts
//! neither the parts nor those bytes: a chunked body (no `Content-Length` to check first)
//! of one endless header line would grow its buffer without bound. [`FramingGuard`] follows
//! the same framing as `multer` (the same delimiters, in the same order), counts the bytes of
//! every buffered stretch and the parts, and fails the stream at limit + 1, so the parser never
//! holds more than the limit. Part data passes through uncounted (the caller bounds it).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use memchr::memmem;

/// The limits a multipart body's framing is held to (by [`Framing`], which `FramingGuard`
/// runs over an upload body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingLimits {
    /// Bytes of the preamble, of one boundary line, or of one part's header block.
    pub max_header_bytes: usize,
    /// Parts in the body.
    pub max_parts: usize,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("a multipart part header (or the preamble) exceeds {0} bytes")]
    HeaderTooLarge(usize),
    #[error("the multipart body has more than {0} parts")]
    TooManyParts(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first `--boundary` (buffered by multer).
    Preamble,
    /// The rest of a boundary line, up to its `\r\n` (buffered).
    BoundaryLine,
    /// A part's header block, up to `\r\n\r\n` (buffered).
    Headers,
    /// A part's data, up to `\r\n--boundary` (streamed).
    Data,
    /// After the closing `--boundary--`: multer reads no further.
    Epilogue,
}

/// Finds a pattern in a stream of chunks, across chunk edges.
#[derive(Debug)]
struct Finder {
    pattern: Vec<u8>,
    /// The last `pattern.len() - 1` bytes seen without a match.
    carry: Vec<u8>,
}

impl Finder {
    fn new(pattern: Vec<u8>) -> Self {
        Self {
            pattern,
            carry: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.carry.clear();
    }

    /// The offset in `chunk` just past the first match (which may start in earlier chunks).
    fn find_end(&mut self, chunk: &[u8]) -> Option<usize> {
        let p = self.pattern.len();
        if !self.carry.is_empty() {
            let take = chunk.len().min(p - 1);
            let mut joined = self.carry.clone();
            joined.extend_from_slice(&chunk[..take]);
            if let Some(at) = memmem::find(&joined, &self.pattern) {
                let end = at + p - self.carry.len();
                self.carry.clear();
                return Some(end);
            }
        }
        if let Some(at) = memmem::find(chunk, &self.pattern) {
            self.carry.clear();
            return Some(at + p);
        }
        // Keep the tail that could start a match.
        let keep = p - 1;
        if chunk.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            self.carry.extend_from_slice(chunk);
            let excess = self.carry.len().saturating_sub(keep);
            self.carry.drain(..excess);
        }
        None
    }
}

/// The framing state machine, fed chunk by chunk.
#[derive(Debug)]
pub struct Framing {
    limits: FramingLimits,
    stage: Stage,
    /// Bytes of the current buffered stretch so far.
    stretch: usize,
    parts: usize,
    /// The first two bytes of the current boundary line (`--` marks the closing one).
    line_start: Vec<u8>,
    first_boundary: Finder,
    crlf: Finder,
    crlf_crlf: Finder,
    delimiter: Finder,
}

impl Framing {
    pub fn new(boundary: &str, limits: FramingLimits) -> Self {
        Self {
            limits,
            stage: Stage::Preamble,
            stretch: 0,
            parts: 0,
            line_start: Vec::new(),
            first_boundary: Finder::new(format!("--{boundary}").into_bytes()),
            crlf: Finder::new(b"\r\n".to_vec()),
            crlf_crlf: Finder::new(b"\r\n\r\n".to_vec()),
            delimiter: Finder::new(format!("\r\n--{boundary}").into_bytes()),
        }
    }

    /// Parts begun so far (for the tests).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// Follows the framing through `chunk`; an error as soon as a limit is passed.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), FramingError> {
        while !chunk.is_empty() {
            let finder = match self.stage {
                Stage::Epilogue => return Ok(()),
                Stage::Preamble => &mut self.first_boundary,
                Stage::BoundaryLine => &mut self.crlf,
                Stage::Headers => &mut self.crlf_crlf,
                Stage::Data => &mut self.delimiter,
            };
            let found = finder.find_end(chunk);
            let used = found.unwrap_or(chunk.len());
            if self.stage == Stage::BoundaryLine && self.line_start.len() < 2 {
                let want = (2 - self.line_start.len()).min(used);
                self.line_start.extend_from_slice(&chunk[..want]);
            }
            if self.stage != Stage::Data {
                self.stretch = self.stretch.saturating_add(used);
                if self.stretch > self.limits.max_header_bytes {
                    return Err(FramingError::HeaderTooLarge(self.limits.max_header_bytes));
                }
            }
            chunk = &chunk[used..];
            if found.is_some() {
                self.advance()?;
            }
        }
        Ok(())
    }

    fn advance(&mut self) -> Result<(), FramingError> {
        self.stretch = 0;
        self.stage = match self.stage {
            Stage::Preamble | Stage::Data => {
                self.line_start.clear();
                self.crlf.reset();
                Stage::BoundaryLine
            }
            Stage::BoundaryLine => {
                if self.line_start.starts_with(b"--") {
                    Stage::Epilogue
                } else {
                    self.parts += 1;
                    if self.parts > self.limits.max_parts {
                        return Err(FramingError::TooManyParts(self.limits.max_parts));
                    }
                    self.crlf_crlf.reset();
                    Stage::Headers
                }
            }
            Stage::Headers => {
                self.delimiter.reset();
                Stage::Data
            }
            Stage::Epilogue => Stage::Epilogue,
        };
        Ok(())
    }
}

/// A body stream that fails (with a [`FramingError`]) once the framing passes its limits.
pub struct FramingGuard<S> {
    inner: S,
    framing: Framing,
    failed: bool,
}

impl<S> FramingGuard<S> {
    pub fn new(inner: S, boundary: &str, limits: FramingLimits) -> Self {
        Self {
            inner,
            framing: Framing::new(boundary, limits),
            failed: false,
        }
    }
}

impl<S, E> Stream for FramingGuard<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.framing.feed(&chunk) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(err) => {
                    self.failed = true;
                    Poll::Ready(Some(Err(Box::new(err))))
                }
            },
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FramingLimits = FramingLimits {
        max_header_bytes: 200,
        max_parts: 3,
    };

    fn body(parts: usize, data: &str) -> Vec<u8> {
        let mut out = b"preamble\r\n".to_vec();
        for i in 0..parts {
            out.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\n{data}\r\n")
                    .as_bytes(),
            );
        }
        out.extend_from_slice(b"--XyZ--\r\nepilogue");
        out
    }

    /// Feeds `bytes` in pieces of `step`.
    fn feed(bytes: &[u8], step: usize, limits: FramingLimits) -> Result<usize, FramingError> {
        let mut framing = Framing::new("XyZ", limits);
        for piece in bytes.chunks(step) {
            framing.feed(piece)?;
        }
        Ok(framing.parts())
    }

    #[test]
    fn parts_are_counted_whatever_the_chunking() {
        let data = "x".repeat(5000) + "\r\n--XyY";
        for step in [1, 2, 3, 7, 64, 100_000] {
            assert_eq!(feed(&body(3, &data), step, LIMITS), Ok(3), "step {step}");
            assert_eq!(
                feed(&body(4, &data), step, LIMITS),
                Err(FramingError::TooManyParts(3)),
                "step {step}"
            );
        }
    }

    #[test]
    fn long_headers_and_preambles_stop_at_the_limit() {
        let long_header = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\ndata\r\n--XyZ--",
            "n".repeat(300)
        );
        for step in [1, 5, 1000] {
            assert_eq!(
                feed(long_header.as_bytes(), step, LIMITS),
                Err(FramingError::HeaderTooLarge(200))
            );
            let preamble = "p".repeat(300) + "\r\n--XyZ--";
            assert_eq!(
                feed(preamble.as_bytes(), step, LIMITS),
                Err(FramingError::HeaderTooLarge(200))
            );
            // An endless boundary line.
            let line = format!("--XyZ{}", " ".repeat(300));
            assert_eq!(
                feed(line.as_bytes(), step, LIMITS),
                Err(FramingError::HeaderTooLarge(200))
            );
        }
    }

    #[test]
    fn data_and_epilogue_are_not_counted() {
        let data = "d".repeat(100_000);
        let mut bytes = body(1, &data);
        bytes.extend_from_slice("e".repeat(100_000).as_bytes());
        assert_eq!(feed(&bytes, 4096, LIMITS), Ok(1));
    }
}
