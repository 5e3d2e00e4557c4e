//! Streaming an upload body (a multipart zip part or a `url=` download) into its staging file.
//!
//! Sizes are counted in 64 bits under a limit: in 2022 a 2,644,960,066-byte upload overflowed
//! Tecken's 32-bit size column, and a 32-bit counter here would wrap at 4 GiB and let an
//! oversized body through. Chunks go straight to the writer, so memory stays at one chunk.

use std::io::Write;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::UploadError;

/// Copies `body` into `out` and returns the byte count; [`UploadError::TooLarge`] as soon as
/// the count passes `limit` (nothing past the limit is written). `stream_error` turns a
/// failure of the body stream into the error the client gets.
pub async fn copy_body<S, E>(
    body: S,
    out: &mut impl Write,
    limit: u64,
    stream_error: impl Fn(E) -> UploadError,
) -> Result<u64, UploadError>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(&stream_error)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge(limit));
        }
        // Small synchronous writes to a buffered local file: cheaper than a thread hop.
        out.write_all(&chunk)?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// A body of exactly `size` bytes in 1 MiB chunks that all share one buffer, so GBs
    /// cost nothing to generate.
    fn body_of(size: u64) -> impl Stream<Item = Result<Bytes, String>> {
        let chunk = Bytes::from(vec![0x5a; MIB as usize]);
        let chunks = size / MIB;
        let tail = (size % MIB) as usize;
        futures::stream::iter(
            (0..chunks)
                .map(move |_| Ok(chunk.clone()))
                .chain((tail > 0).then(|| Ok(Bytes::from(vec![0x5a; tail])))),
        )
    }

    /// Counts what reaches the writer, independently of `copy_body`'s own counter.
    #[derive(Default)]
    struct CountingSink(u64);

    impl Write for CountingSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn bad_form(e: String) -> UploadError {
        UploadError::BadForm(e)
    }

    #[tokio::test]
    async fn sizes_past_2_pow_31_and_2_pow_32_are_exact() {
        for size in [
            2_644_960_066u64,            // the 2022 Tecken overflow
            (1 << 32) + (1 << 31) + 123, // past 4 GiB, odd tail
        ] {
            let mut sink = CountingSink::default();
            let counted = copy_body(body_of(size), &mut sink, 8 << 30, bad_form)
                .await
                .unwrap();
            assert_eq!((counted, sink.0), (size, size));
        }
    }

    #[tokio::test]
    async fn the_limit_holds_at_4_gib_without_wrapping() {
        let limit = 1u64 << 32;
        let mut sink = CountingSink::default();
        assert_eq!(
            copy_body(body_of(limit), &mut sink, limit, bad_form)
                .await
                .unwrap(),
            limit
        );
        let mut sink = CountingSink::default();
        let err = copy_body(body_of(limit + 1), &mut sink, limit, bad_form)
            .await
            .unwrap_err();
        assert!(
            matches!(err, UploadError::TooLarge(l) if l == limit),
            "{err}"
        );
        assert!(
            sink.0 <= limit,
            "wrote {} bytes past the limit",
            sink.0 - limit
        );
    }

    #[tokio::test]
    async fn a_failing_stream_is_the_caller_s_error() {
        let body = futures::stream::iter([
            Ok(Bytes::from_static(b"PK")),
            Err("connection reset".to_string()),
        ]);
        let mut sink = CountingSink::default();
        let err = copy_body(body, &mut sink, 1 << 20, bad_form)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, UploadError::BadForm(m) if m == "connection reset"),
            "{err}"
        );
        assert_eq!(sink.0, 2);
    }
}
