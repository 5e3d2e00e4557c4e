//! Request body decoding (`Content-Encoding` and legacy store bodies) with a hard output cap.
//!
//! SDKs compress what they send: the Python SDK uses brotli when it can and gzip otherwise,
//! `@sentry/node` gzips bodies over 32 KiB, and Relay also accepts `deflate` and `zstd`. A fake
//! server that fails on any of these drops events without telling anyone, so all of them are
//! decoded here, the way Relay does it.
//!
//! Every decoder runs as a stream and the output is capped while it is produced: a decompression
//! bomb (say a gigabyte of zeros gzipped to a megabyte) stops with [`DecodeError::TooLarge`] after
//! `limit` bytes, instead of first allocating the gigabyte. Chained encodings are decoded as one
//! pipeline of readers, so no intermediate stage is ever held in memory either.
//!
//! Streams are checked strictly (truncation and trailing bytes are errors), because a silently
//! shortened body would surface later as a confusing JSON or envelope error.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use crate::in_flight::{BudgetError, RequestCharge};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Bytes pulled from the decoder pipeline per read.
const CHUNK: usize = 16 * 1024;

/// The largest segment a body is decoded into (see [`read_capped`]).
const MAX_SEGMENT: usize = 4 << 20;

/// One `Content-Encoding` coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl ContentEncoding {
    /// The coding's name as it appears in a `Content-Encoding` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body could not be decoded. Each variant maps to one HTTP status (see the comments).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Answer 415.
    #[error("unsupported content encoding {0:?}")]
    Unsupported(String),
    /// Answer 415.
    #[error("more than {limit} content codings in Content-Encoding (--max-encodings)")]
    TooManyEncodings { limit: usize },
    /// Answer 413.
    #[error("body exceeds the limit of {limit} bytes after decompression")]
    TooLarge { limit: usize },
    /// Answer 400.
    #[error("invalid {encoding} data: {message}")]
    Corrupt {
        encoding: &'static str,
        message: String,
    },
    /// The in-flight memory budget has no room for the decoded body (413 or 503).
    #[error(transparent)]
    Budget(#[from] BudgetError),
}

/// Largest zstd window accepted: 2^24 bytes (16 MiB).
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// Parses a `Content-Encoding` header into the codings in the order they were applied (so they
/// must be undone last to first).
///
/// An empty coding and `UTF-8` are skipped, as Relay does, because sentry-ruby 5.x and
/// sentry-android 2.0 send `Content-Encoding: UTF-8`. A missing header means no coding at all.
pub fn parse_content_encoding(header: Option<&str>) -> Result<Vec<ContentEncoding>, DecodeError> {
    parse_content_encoding_limited(header, usize::MAX)
}

/// [`parse_content_encoding`], refusing a header with more than `max_codings` codings as soon
/// as it reaches the one past the limit (every decoder in a chain holds its own buffers and
/// state, so a chain of thousands costs memory and time before a byte is decoded).
pub fn parse_content_encoding_limited(
    header: Option<&str>,
    max_codings: usize,
) -> Result<Vec<ContentEncoding>, DecodeError> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let mut encodings = Vec::new();
    for token in header.split(',').map(str::trim) {
        let encoding = if token.is_empty() || token.eq_ignore_ascii_case("utf-8") {
            continue;
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            ContentEncoding::Gzip
        } else if token.eq_ignore_ascii_case("deflate") {
            ContentEncoding::Deflate
        } else if token.eq_ignore_ascii_case("br") {
            ContentEncoding::Brotli
        } else if token.eq_ignore_ascii_case("zstd") {
            ContentEncoding::Zstd
        } else if token.eq_ignore_ascii_case("identity") {
            ContentEncoding::Identity
        } else {
            return Err(DecodeError::Unsupported(token.to_owned()));
        };
        if encodings.len() >= max_codings {
            return Err(DecodeError::TooManyEncodings { limit: max_codings });
        }
        encodings.push(encoding);
    }
    Ok(encodings)
}

/// Undoes `encodings` (given in the order they were applied) and returns at most `limit` bytes.
///
/// An empty body decodes to an empty body whatever the encoding: there is nothing to decompress,
/// and the caller reports the empty body in its own terms.
pub fn decode_body(
    body: &[u8],
    encodings: &[ContentEncoding],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    decode_body_charged(body, encodings, limit, &RequestCharge::unlimited())
}

/// [`decode_body`], charging the output to `charge` as it grows, before it grows.
pub fn decode_body_charged(
    body: &[u8],
    encodings: &[ContentEncoding],
    limit: usize,
    charge: &RequestCharge,
) -> Result<Vec<u8>, DecodeError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    if encodings.iter().all(|&e| e == ContentEncoding::Identity) {
        // Nothing to undo: one copy of known size.
        if body.len() > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        charge.add(body.len())?;
        return Ok(body.to_vec());
    }
    let Decoder { reader, outermost } = decoder(body, encodings)?;
    read_capped(reader, limit, charge).map_err(|e| match e {
        CapError::TooLarge => DecodeError::TooLarge { limit },
        CapError::Budget(e) => DecodeError::Budget(e),
        CapError::Io(e) => corrupt_from_io(outermost, e),
    })
}

/// `body` decoded as a stream: what [`decode_body`] reads to the end, for a reader that needs
/// only the start of it (a stored body is decoded again to read one item back, and decoding
/// stops once that item's bytes are out).
pub struct Decoder<'a> {
    reader: Box<dyn Read + 'a>,
    /// The coding an error that names none is reported against.
    outermost: &'static str,
}

impl<'a> Decoder<'a> {
    /// A decoder of another kind than the content codings (the store's compact bodies), its
    /// errors reported against `name`.
    pub fn over(reader: Box<dyn Read + 'a>, name: &'static str) -> Self {
        Self {
            reader,
            outermost: name,
        }
    }

    /// Reads decoded bytes into `buf`, like [`Read::read`]: 0 at the end of the body.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, DecodeError> {
        loop {
            match self.reader.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other.map_err(|e| corrupt_from_io(self.outermost, e)),
            }
        }
    }
}

/// The pipeline of decoders that undoes `encodings` (in the order they were applied) over
/// `body`, one reader per coding, none of them holding a whole stage in memory.
pub fn decoder<'a>(
    body: impl BufRead + 'a,
    encodings: &[ContentEncoding],
) -> Result<Decoder<'a>, DecodeError> {
    let mut input = Stage::Buffered(Box::new(body));
    let mut outermost = "identity";
    for &encoding in encodings.iter().rev() {
        let name = encoding.as_str();
        let output: Box<dyn Read + 'a> = match encoding {
            ContentEncoding::Identity => continue,
            // flate2's `read` decoders put a zeroed 32 KiB buffer in front of their input; the
            // body needs none, and a decoder further down the chain gets std's (uninitialised)
            // one. That buffer was a fifth of the cost of decoding a typical SDK envelope.
            ContentEncoding::Gzip => Box::new(Tagged {
                inner: flate2::bufread::MultiGzDecoder::new(input.buffered()),
                encoding: name,
            }),
            ContentEncoding::Deflate => {
                Box::new(Inflate::new(input.reader()).map_err(|e| corrupt_from_io(name, e))?)
            }
            ContentEncoding::Brotli => Box::new(Unbrotli::new(input.reader())),
            ContentEncoding::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::new(input.reader())
                    .map_err(|e| corrupt_from_io(name, e))?;
                // zstd's default allows a 128 MiB window per stream; SDKs compress with far
                // smaller ones, and the cap bounds what a hostile frame can make us allocate.
                decoder
                    .window_log_max(ZSTD_WINDOW_LOG_MAX)
                    .map_err(|e| corrupt_from_io(name, e))?;
                Box::new(Tagged {
                    inner: decoder,
                    encoding: name,
                })
            }
        };
        input = Stage::Decoded(output);
        outermost = name;
    }
    Ok(Decoder {
        reader: input.reader(),
        outermost,
    })
}

/// What one decoder of the pipeline reads: the body, which is buffered already, or what the
/// decoder before it puts out.
enum Stage<'a> {
    Buffered(Box<dyn BufRead + 'a>),
    Decoded(Box<dyn Read + 'a>),
}

impl<'a> Stage<'a> {
    fn buffered(self) -> Box<dyn BufRead + 'a> {
        match self {
            Self::Buffered(body) => body,
            Self::Decoded(reader) => Box::new(BufReader::with_capacity(CHUNK, reader)),
        }
    }

    fn reader(self) -> Box<dyn Read + 'a> {
        match self {
            Self::Buffered(body) => body,
            Self::Decoded(reader) => reader,
        }
    }
}

/// Decodes a body posted to the legacy store endpoint by old raven clients: base64 of zlib of JSON,
/// zlib of JSON, or base64 of JSON. Relay tells these apart from plain JSON because they do not
/// start with `{`; so does this function. The output is capped at `limit` like [`decode_body`].
/// Ingest charges its copies (`decode_legacy_store_body_charged`); this is for tests and fuzzing.
#[cfg(any(test, feature = "fuzzing"))]
pub fn decode_legacy_store_body(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    decode_legacy_store_body_charged(body, limit, &RequestCharge::unlimited())
}

/// [`decode_legacy_store_body`], charging its copies to `charge` before making them.
pub fn decode_legacy_store_body_charged(
    body: &[u8],
    limit: usize,
    charge: &RequestCharge,
) -> Result<Vec<u8>, DecodeError> {
    // The copies below (the body without blanks, its base64 decoding) are each at most the
    // body's size.
    charge.add(body.len().saturating_mul(2))?;
    if starts_with_brace(body) {
        return within_limit(body.to_vec(), limit);
    }

    let mut failures = Vec::new();

    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match legacy_base64().decode(&compact) {
        Ok(decoded) if starts_with_brace(&decoded) => return within_limit(decoded, limit),
        Ok(decoded) => match inflate_capped(&decoded, limit, charge) {
            Ok(json) if starts_with_brace(&json) => return Ok(json),
            Ok(_) => failures.push("base64 then zlib does not give a JSON object".to_owned()),
            Err(e @ (DecodeError::TooLarge { .. } | DecodeError::Budget(_))) => return Err(e),
            Err(e) => failures.push(format!("base64 then zlib: {e}")),
        },
        Err(e) => failures.push(format!("not base64: {e}")),
    }

    match inflate_capped(body, limit, charge) {
        Ok(json) if starts_with_brace(&json) => return Ok(json),
        Ok(_) => failures.push("zlib does not give a JSON object".to_owned()),
        Err(e @ (DecodeError::TooLarge { .. } | DecodeError::Budget(_))) => return Err(e),
        Err(e) => failures.push(format!("not zlib: {e}")),
    }

    Err(DecodeError::Corrupt {
        encoding: "legacy store body",
        message: format!(
            "neither JSON, base64 nor zlib of JSON ({})",
            failures.join("; ")
        ),
    })
}

fn starts_with_brace(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn within_limit(bytes: Vec<u8>, limit: usize) -> Result<Vec<u8>, DecodeError> {
    if bytes.len() > limit {
        Err(DecodeError::TooLarge { limit })
    } else {
        Ok(bytes)
    }
}

/// Standard alphabet; raven clients differ on padding, so accept it present or absent.
fn legacy_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn inflate_capped(
    data: &[u8],
    limit: usize,
    charge: &RequestCharge,
) -> Result<Vec<u8>, DecodeError> {
    let reader = Inflate::new(data).map_err(|e| corrupt_from_io(DEFLATE, e))?;
    read_capped(reader, limit, charge).map_err(|e| match e {
        CapError::TooLarge => DecodeError::TooLarge { limit },
        CapError::Budget(e) => DecodeError::Budget(e),
        CapError::Io(e) => corrupt_from_io(DEFLATE, e),
    })
}

enum CapError {
    TooLarge,
    Budget(BudgetError),
    Io(io::Error),
}

/// Reads `reader` to the end, failing as soon as it yields more than `limit` bytes.
///
/// Decoded bytes go into segments that double in size up to [`MAX_SEGMENT`], and only a body
/// that ends within the limit is joined into one buffer. Growing one buffer instead held the
/// old and the new allocation at once at every step: a decompression bomb that reached the
/// 200 MiB cap held 328 MiB just before it was refused, and what the allocator kept of that
/// lifted the server's peak by as much again for the next request. Segments never exceed the
/// limit either, so a bomb costs at most the limit (plus one segment's read) and is dropped
/// without a copy. Bodies of one segment, most of them, are returned as they are.
fn read_capped(
    mut reader: impl Read,
    limit: usize,
    charge: &RequestCharge,
) -> Result<Vec<u8>, CapError> {
    let mut full: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    // Most bodies are a few KiB: start small and only grow for big ones.
    let first = (CHUNK / 4).min(limit.max(1));
    charge.add(first).map_err(CapError::Budget)?;
    let mut segment = vec![0u8; first];
    let mut filled = 0usize;
    loop {
        if filled == segment.len() {
            let next = (segment.len().saturating_mul(2))
                .min(MAX_SEGMENT)
                .min(limit.saturating_sub(total).max(1));
            charge.add(next).map_err(CapError::Budget)?;
            full.push(std::mem::replace(&mut segment, vec![0u8; next]));
            filled = 0;
        }
        let free = segment.get_mut(filled..).unwrap_or_default();
        let n = match reader.read(free) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CapError::Io(e)),
        };
        total = total.saturating_add(n);
        if total > limit {
            return Err(CapError::TooLarge);
        }
        filled += n;
    }
    segment.truncate(filled);
    if full.is_empty() {
        return Ok(segment);
    }
    // The join holds the body twice until the segments are dropped; the budget counts it once,
    // as it counted a growing buffer's final size once.
    let mut out = Vec::with_capacity(total);
    for part in full.iter().chain(std::iter::once(&segment)) {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// Marks an I/O error with the coding whose data it is about, so that a failure deep inside a
/// chain of decoders is reported against the right coding.
#[derive(Debug)]
struct CodingError {
    encoding: &'static str,
    message: String,
}

impl fmt::Display for CodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodingError {}

fn coding_error(encoding: &'static str, message: impl Into<String>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        CodingError {
            encoding,
            message: message.into(),
        },
    )
}

/// Leaves errors that already name their coding alone and tags the rest with `encoding`.
fn tag_error(encoding: &'static str, error: io::Error) -> io::Error {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<CodingError>())
    {
        error
    } else {
        coding_error(encoding, error.to_string())
    }
}

fn corrupt_from_io(fallback: &'static str, error: io::Error) -> DecodeError {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CodingError>())
    {
        Some(tagged) => DecodeError::Corrupt {
            encoding: tagged.encoding,
            message: tagged.message.clone(),
        },
        None => DecodeError::Corrupt {
            encoding: fallback,
            message: error.to_string(),
        },
    }
}

/// Wraps a library decoder so its errors name its coding.
struct Tagged<R> {
    inner: R,
    encoding: &'static str,
}

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| tag_error(self.encoding, e))
    }
}

/// `deflate` decoder accepting both zlib-wrapped (RFC 1950, what most clients send despite the
/// name) and raw (RFC 1951) data, told apart by the zlib header check on the first two bytes.
///
/// Written on top of `flate2::Decompress` rather than `flate2::read::ZlibDecoder` because the
/// latter reports a truncated stream as a clean end of data and ignores trailing bytes.
struct Inflate<R> {
    inner: BufReader<io::Chain<io::Cursor<Vec<u8>>, R>>,
    state: flate2::Decompress,
    finished: bool,
}

const DEFLATE: &str = "deflate";

impl<R: Read> Inflate<R> {
    /// Reads the first two bytes to pick the format, then puts them back in front of the rest.
    fn new(mut inner: R) -> io::Result<Self> {
        let mut prefix = Vec::with_capacity(2);
        let mut byte = [0u8; 1];
        // The inner reader may be another decoder that hands out one byte at a time.
        while prefix.len() < 2 {
            match inner.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => prefix.extend_from_slice(&byte),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(tag_error(DEFLATE, e)),
            }
        }
        let zlib = matches!(*prefix, [cmf, flg] if is_zlib_header(cmf, flg));
        Ok(Self {
            inner: BufReader::with_capacity(CHUNK, io::Cursor::new(prefix).chain(inner)),
            state: flate2::Decompress::new(zlib),
            finished: false,
        })
    }
}

fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    (cmf & 0x0f) == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        let state = &mut self.state;
        loop {
            let input = self.inner.fill_buf().map_err(|e| tag_error(DEFLATE, e))?;
            if self.finished {
                return if input.is_empty() {
                    Ok(0)
                } else {
                    Err(coding_error(
                        DEFLATE,
                        "trailing bytes after the end of the stream",
                    ))
                };
            }
            let at_eof = input.is_empty();
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let status = state
                .decompress(input, dst, flate2::FlushDecompress::None)
                .map_err(|e| coding_error(DEFLATE, e.to_string()))?;
            let consumed = usize::try_from(state.total_in() - in_before).unwrap_or(usize::MAX);
            let produced = usize::try_from(state.total_out() - out_before).unwrap_or(usize::MAX);
            self.inner.consume(consumed);
            match status {
                flate2::Status::StreamEnd => {
                    self.finished = true;
                    if produced > 0 {
                        return Ok(produced);
                    }
                }
                flate2::Status::Ok | flate2::Status::BufError => {
                    if produced > 0 {
                        return Ok(produced);
                    }
                    if at_eof {
                        return Err(coding_error(DEFLATE, "stream ends before it is complete"));
                    }
                    if consumed == 0 {
                        return Err(coding_error(DEFLATE, "decoder made no progress"));
                    }
                }
            }
        }
    }
}

/// Brotli decoder on top of `BrotliDecompressStream`, because `brotli::Decompressor` does not
/// reliably report bytes after the end of the stream.
struct Unbrotli<R> {
    inner: BufReader<R>,
    state: brotli::BrotliState<
        brotli::enc::StandardAlloc,
        brotli::enc::StandardAlloc,
        brotli::enc::StandardAlloc,
    >,
    finished: bool,
    total_out: usize,
}

const BROTLI: &str = "br";

impl<R: Read> Unbrotli<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(CHUNK, inner),
            state: brotli::BrotliState::new(
                brotli::enc::StandardAlloc::default(),
                brotli::enc::StandardAlloc::default(),
                brotli::enc::StandardAlloc::default(),
            ),
            finished: false,
            total_out: 0,
        }
    }
}

impl<R: Read> Read for Unbrotli<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.inner.fill_buf().map_err(|e| tag_error(BROTLI, e))?;
            if self.finished {
                return if input.is_empty() {
                    Ok(0)
                } else {
                    Err(coding_error(
                        BROTLI,
                        "trailing bytes after the end of the stream",
                    ))
                };
            }
            let at_eof = input.is_empty();
            let mut available_in = input.len();
            let mut input_offset = 0;
            let mut available_out = dst.len();
            let mut output_offset = 0;
            let result = brotli::BrotliDecompressStream(
                &mut available_in,
                &mut input_offset,
                input,
                &mut available_out,
                &mut output_offset,
                dst,
                &mut self.total_out,
                &mut self.state,
            );
            self.inner.consume(input_offset);
            match result {
                brotli::BrotliResult::ResultFailure => {
                    return Err(coding_error(BROTLI, "corrupt brotli stream"));
                }
                brotli::BrotliResult::ResultSuccess => {
                    self.finished = true;
                    if output_offset > 0 {
                        return Ok(output_offset);
                    }
                }
                brotli::BrotliResult::NeedsMoreOutput => {
                    if output_offset > 0 {
                        return Ok(output_offset);
                    }
                    return Err(coding_error(BROTLI, "decoder made no progress"));
                }
                brotli::BrotliResult::NeedsMoreInput => {
                    if output_offset > 0 {
                        return Ok(output_offset);
                    }
                    if at_eof {
                        return Err(coding_error(BROTLI, "stream ends before it is complete"));
                    }
                    if input_offset == 0 {
                        return Err(coding_error(BROTLI, "decoder made no progress"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    const MIB: usize = 1024 * 1024;

    fn sample_json() -> Vec<u8> {
        let mut json = b"{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"items\":[".to_vec();
        for i in 0..2000 {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(format!("{{\"n\":{i},\"s\":\"value {}\"}}", i * 7).as_bytes());
        }
        json.extend_from_slice(b"]}");
        json
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).expect("gzip write");
        encoder.finish().expect("gzip finish")
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("zlib write");
        encoder.finish().expect("zlib finish")
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("deflate write");
        encoder.finish().expect("deflate finish")
    }

    fn brotli_compress(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
            writer.write_all(data).expect("brotli write");
        }
        out
    }

    fn zstd_compress(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).expect("zstd")
    }

    fn encode(data: &[u8], encoding: ContentEncoding) -> Vec<u8> {
        match encoding {
            ContentEncoding::Identity => data.to_vec(),
            ContentEncoding::Gzip => gzip(data),
            ContentEncoding::Deflate => zlib(data),
            ContentEncoding::Brotli => brotli_compress(data),
            ContentEncoding::Zstd => zstd_compress(data),
        }
    }

    const ALL: [ContentEncoding; 5] = [
        ContentEncoding::Identity,
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Brotli,
        ContentEncoding::Zstd,
    ];

    fn decode_ok(body: &[u8], encodings: &[ContentEncoding], limit: usize) -> Vec<u8> {
        match decode_body(body, encodings, limit) {
            Ok(out) => out,
            Err(e) => panic!("decode failed for {encodings:?}: {e}"),
        }
    }

    fn assert_corrupt(result: Result<Vec<u8>, DecodeError>, want_encoding: &str) {
        match result {
            Err(DecodeError::Corrupt { encoding, message }) => {
                assert_eq!(encoding, want_encoding, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("expected Corrupt({want_encoding}), got {other:?}"),
        }
    }

    fn assert_too_large(result: Result<Vec<u8>, DecodeError>, want_limit: usize) {
        match result {
            Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, want_limit),
            other => panic!("expected TooLarge, got {:?}", other.map(|v| v.len())),
        }
    }

    #[test]
    fn parse_content_encoding_accepts_known_codings() {
        use ContentEncoding::*;
        let cases: &[(Option<&str>, &[ContentEncoding])] = &[
            (None, &[]),
            (Some(""), &[]),
            (Some("  "), &[]),
            (Some("gzip"), &[Gzip]),
            (Some("x-gzip"), &[Gzip]),
            (Some("GZIP"), &[Gzip]),
            (Some("deflate"), &[Deflate]),
            (Some("br"), &[Brotli]),
            (Some("Br"), &[Brotli]),
            (Some("zstd"), &[Zstd]),
            (Some("identity"), &[Identity]),
            (Some("UTF-8"), &[]),
            (Some("utf-8"), &[]),
            (Some("deflate, gzip"), &[Deflate, Gzip]),
            (Some(" gzip ,br,, UTF-8 , zstd"), &[Gzip, Brotli, Zstd]),
        ];
        for (header, want) in cases {
            match parse_content_encoding(*header) {
                Ok(got) => assert_eq!(&got, want, "{header:?}"),
                Err(e) => panic!("{header:?}: {e}"),
            }
        }
    }

    #[test]
    fn parse_content_encoding_rejects_unknown_codings() {
        for header in ["compress", "gzip, lzma", "utf8", "gzip;q=1"] {
            match parse_content_encoding(Some(header)) {
                Err(DecodeError::Unsupported(token)) => assert!(header.contains(&token)),
                other => panic!("{header}: expected Unsupported, got {other:?}"),
            }
        }
        let message = parse_content_encoding(Some("gzip, Compress")).map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("unsupported content encoding \"Compress\"".to_owned())
        );
    }

    #[test]
    fn every_encoding_round_trips() {
        let json = sample_json();
        for encoding in ALL {
            let body = encode(&json, encoding);
            assert_eq!(decode_ok(&body, &[encoding], MIB), json, "{encoding}");
            // Exactly at the limit is fine.
            assert_eq!(
                decode_ok(&body, &[encoding], json.len()),
                json,
                "{encoding}"
            );
            assert_too_large(
                decode_body(&body, &[encoding], json.len() - 1),
                json.len() - 1,
            );
        }
    }

    #[test]
    fn no_encoding_and_identity_pass_through_within_the_limit() {
        assert_eq!(decode_ok(b"{}", &[], 2), b"{}");
        assert_eq!(decode_ok(b"{}", &[ContentEncoding::Identity], 2), b"{}");
        assert_too_large(decode_body(b"{}", &[], 1), 1);
        assert_too_large(decode_body(b"{}", &[ContentEncoding::Identity], 1), 1);
    }

    #[test]
    fn empty_body_decodes_to_empty_for_every_encoding() {
        for encoding in ALL {
            assert_eq!(decode_ok(b"", &[encoding], 0), b"");
        }
    }

    #[test]
    fn chains_are_undone_last_to_first() {
        let json = sample_json();
        // "deflate, gzip": deflate was applied first, then gzip.
        let body = gzip(&zlib(&json));
        let encodings = match parse_content_encoding(Some("deflate, gzip")) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(decode_ok(&body, &encodings, MIB), json);
        // The reverse order is wrong and says which stage failed: gzip is undone first.
        assert_corrupt(
            decode_body(
                &body,
                &[ContentEncoding::Gzip, ContentEncoding::Deflate],
                MIB,
            ),
            "deflate",
        );

        let body = zstd_compress(&brotli_compress(&gzip(&json)));
        let chain = [
            ContentEncoding::Gzip,
            ContentEncoding::Identity,
            ContentEncoding::Brotli,
            ContentEncoding::Zstd,
        ];
        assert_eq!(decode_ok(&body, &chain, MIB), json);
        assert_too_large(decode_body(&body, &chain, 1000), 1000);
    }

    #[test]
    fn error_inside_a_chain_names_the_inner_coding() {
        // Valid gzip around corrupt brotli: the brotli stage is at fault.
        let body = gzip(b"definitely not brotli data, definitely not");
        assert_corrupt(
            decode_body(
                &body,
                &[ContentEncoding::Brotli, ContentEncoding::Gzip],
                MIB,
            ),
            "br",
        );
        // Corrupt outer gzip.
        assert_corrupt(
            decode_body(
                b"nope",
                &[ContentEncoding::Brotli, ContentEncoding::Gzip],
                MIB,
            ),
            "gzip",
        );
    }

    #[test]
    fn deflate_accepts_zlib_and_raw() {
        let json = sample_json();
        let zlib_body = zlib(&json);
        let raw_body = raw_deflate(&json);
        assert!(is_zlib_header(zlib_body[0], zlib_body[1]));
        assert!(!is_zlib_header(raw_body[0], raw_body[1]));
        assert_eq!(
            decode_ok(&zlib_body, &[ContentEncoding::Deflate], MIB),
            json
        );
        assert_eq!(decode_ok(&raw_body, &[ContentEncoding::Deflate], MIB), json);
        // Tiny streams too (a raw empty stream is only two bytes, a stored one is five).
        for data in [&b""[..], b"{", b"{}"] {
            assert_eq!(
                decode_ok(&zlib(data), &[ContentEncoding::Deflate], 10),
                data
            );
            assert_eq!(
                decode_ok(&raw_deflate(data), &[ContentEncoding::Deflate], 10),
                data
            );
        }
    }

    #[test]
    fn deflate_detection_works_when_bytes_arrive_one_at_a_time() {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((&byte, rest)), Some(slot)) => {
                        *slot = byte;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let json = sample_json();
        for body in [zlib(&json), raw_deflate(&json)] {
            let reader = match Inflate::new(OneByte(&body)) {
                Ok(reader) => reader,
                Err(e) => panic!("{e}"),
            };
            match read_capped(reader, MIB, &RequestCharge::unlimited()) {
                Ok(out) => assert_eq!(out, json),
                Err(CapError::TooLarge | CapError::Budget(_)) => panic!("too large"),
                Err(CapError::Io(e)) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn gzip_with_several_members_is_read_whole() {
        let mut body = gzip(b"{\"a\":");
        body.extend_from_slice(&gzip(b"1}"));
        assert_eq!(
            decode_ok(&body, &[ContentEncoding::Gzip], 100),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn zstd_with_several_frames_is_read_whole() {
        let mut body = zstd_compress(b"{\"a\":");
        body.extend_from_slice(&zstd_compress(b"1}"));
        assert_eq!(
            decode_ok(&body, &[ContentEncoding::Zstd], 100),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn corrupt_truncated_and_trailing_data_is_rejected() {
        let json = sample_json();
        for encoding in [
            ContentEncoding::Gzip,
            ContentEncoding::Deflate,
            ContentEncoding::Brotli,
            ContentEncoding::Zstd,
        ] {
            let name = encoding.as_str();
            let body = encode(&json, encoding);

            assert_corrupt(
                decode_body(b"this is not compressed", &[encoding], MIB),
                name,
            );
            assert_corrupt(decode_body(&json, &[encoding], MIB), name);

            for cut in [1, 2, body.len() / 2, body.len() - 1] {
                assert_corrupt(decode_body(&body[..cut], &[encoding], MIB), name);
            }

            let mut trailing = body.clone();
            trailing.extend_from_slice(b"garbage");
            assert_corrupt(decode_body(&trailing, &[encoding], MIB), name);

            let mut flipped = body.clone();
            let middle = flipped.len() / 2;
            flipped[middle] ^= 0xff;
            flipped[middle + 1] ^= 0x55;
            // Only gzip and zlib carry a checksum that guarantees a flipped byte is noticed.
            if matches!(encoding, ContentEncoding::Gzip | ContentEncoding::Deflate) {
                assert_corrupt(decode_body(&flipped, &[encoding], MIB), name);
            } else {
                let _ = decode_body(&flipped, &[encoding], MIB);
            }
        }
        // Raw deflate truncation as well.
        let raw = raw_deflate(&json);
        assert_corrupt(
            decode_body(&raw[..raw.len() / 2], &[ContentEncoding::Deflate], MIB),
            "deflate",
        );
    }

    /// Streams `total` zeros through `encoder` without ever holding them in memory.
    fn write_zeros(mut encoder: impl Write, total: usize) {
        let zeros = vec![0u8; MIB];
        let mut written = 0;
        while written < total {
            let n = MIB.min(total - written);
            encoder.write_all(&zeros[..n]).expect("compress zeros");
            written += n;
        }
    }

    fn bomb(encoding: ContentEncoding, total: usize) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            ContentEncoding::Identity => out = vec![0; total],
            ContentEncoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
                write_zeros(&mut e, total);
                e.finish().expect("gzip bomb");
            }
            ContentEncoding::Deflate => {
                let mut e = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::fast());
                write_zeros(&mut e, total);
                e.finish().expect("zlib bomb");
            }
            ContentEncoding::Brotli => {
                let mut e = brotli::CompressorWriter::new(&mut out, 64 * 1024, 1, 22);
                write_zeros(&mut e, total);
                e.flush().expect("brotli bomb");
                drop(e);
            }
            ContentEncoding::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(&mut out, 1).expect("zstd encoder");
                write_zeros(&mut e, total);
                e.finish().expect("zstd bomb");
            }
        }
        out
    }

    #[test]
    fn decompression_bombs_stop_at_the_limit_quickly() {
        for encoding in ALL {
            let body = bomb(encoding, 64 * MIB);
            if encoding != ContentEncoding::Identity {
                assert!(body.len() < MIB, "{encoding}: bomb is {} bytes", body.len());
                // Sanity: the bomb really holds 64 MiB.
                assert_eq!(decode_ok(&body, &[encoding], 64 * MIB).len(), 64 * MIB);
            }
            let started = Instant::now();
            assert_too_large(decode_body(&body, &[encoding], MIB), MIB);
            let elapsed = started.elapsed();
            assert!(
                elapsed < Duration::from_secs(2),
                "{encoding}: took {elapsed:?} to give up"
            );
        }
    }

    #[test]
    fn nested_bomb_stops_at_the_limit() {
        let inner = bomb(ContentEncoding::Gzip, 64 * MIB);
        let body = zstd_compress(&inner);
        let started = Instant::now();
        assert_too_large(
            decode_body(&body, &[ContentEncoding::Gzip, ContentEncoding::Zstd], MIB),
            MIB,
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn decoding_charges_its_output_before_it_grows() {
        use crate::in_flight::{BudgetError, InFlightBudget};
        let budget = InFlightBudget::new(MIB);
        let charge = budget.charge();
        let big = vec![b'x'; 2 * MIB];
        match decode_body_charged(&gzip(&big), &[ContentEncoding::Gzip], 4 * MIB, &charge) {
            Err(DecodeError::Budget(BudgetError::TooLarge { budget })) => assert_eq!(budget, MIB),
            other => panic!(
                "expected the budget to refuse, got {:?}",
                other.map(|v| v.len())
            ),
        }
        assert!(charge.bytes() <= MIB, "charged {}", charge.bytes());
        drop(charge);
        assert_eq!(budget.in_use(), 0);

        let charge = budget.charge();
        let small = vec![b'y'; 100_000];
        for encoding in [ContentEncoding::Gzip, ContentEncoding::Identity] {
            let out = decode_body_charged(&encode(&small, encoding), &[encoding], MIB, &charge)
                .expect("decodes");
            assert_eq!(out, small);
        }
        assert!(
            charge.bytes() >= 2 * small.len(),
            "charged {}",
            charge.bytes()
        );
    }

    #[test]
    fn output_allocation_stays_within_the_limit() {
        let limit = 3 * MIB / 2 + 17;
        let data = vec![b'x'; limit];
        let body = gzip(&data);
        match read_capped(
            flate2::read::GzDecoder::new(body.as_slice()),
            limit,
            &RequestCharge::unlimited(),
        ) {
            Ok(out) => {
                assert_eq!(out.len(), limit);
                assert!(out.capacity() <= limit, "capacity {}", out.capacity());
            }
            Err(_) => panic!("read_capped failed"),
        }
    }

    #[test]
    fn legacy_store_bodies() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let json = br#"{"message":"legacy raven event","extra":{"n":12345}}"#.to_vec();
        let limit = MIB;
        let legacy = |body: &[u8]| match decode_legacy_store_body(body, limit) {
            Ok(out) => out,
            Err(e) => panic!("legacy decode of {body:?} failed: {e}"),
        };

        // Plain JSON is returned unchanged, leading whitespace included.
        assert_eq!(legacy(&json), json);
        assert_eq!(legacy(b" \n\t{}"), b" \n\t{}");

        // base64 of zlib of JSON (raven-python), with and without padding and with line breaks.
        let b64_zlib = STANDARD.encode(zlib(&json));
        assert_eq!(legacy(b64_zlib.as_bytes()), json);
        assert_eq!(legacy(STANDARD_NO_PAD.encode(zlib(&json)).as_bytes()), json);
        let wrapped: Vec<u8> = b64_zlib
            .as_bytes()
            .chunks(76)
            .flat_map(|line| line.iter().copied().chain(*b"\r\n"))
            .collect();
        assert_eq!(legacy(&wrapped), json);

        // zlib of JSON.
        assert_eq!(legacy(&zlib(&json)), json);

        // base64 of JSON.
        assert_eq!(legacy(STANDARD.encode(&json).as_bytes()), json);
        assert_eq!(legacy(STANDARD_NO_PAD.encode(&json).as_bytes()), json);
    }

    #[test]
    fn legacy_store_body_garbage_and_limits() {
        use base64::engine::general_purpose::STANDARD;
        for garbage in [
            &b"garbage"[..],
            b"",
            b"   ",
            b"[1,2,3]",
            b"aGVsbG8=", // base64 of "hello"
            b"\x78\x9c\x00",
        ] {
            assert_corrupt(decode_legacy_store_body(garbage, MIB), "legacy store body");
        }
        // zlib of something that is not a JSON object.
        assert_corrupt(
            decode_legacy_store_body(&zlib(b"[1]"), MIB),
            "legacy store body",
        );

        let json = br#"{"message":"legacy"}"#;
        assert_too_large(decode_legacy_store_body(json, 5), 5);
        assert_too_large(
            decode_legacy_store_body(STANDARD.encode(json).as_bytes(), 5),
            5,
        );
        assert_too_large(decode_legacy_store_body(&zlib(json), 5), 5);
        assert_too_large(
            decode_legacy_store_body(STANDARD.encode(zlib(json)).as_bytes(), 5),
            5,
        );

        // A zlib bomb through the legacy path stops at the limit too.
        let mut bomb_json = b"{\"a\":\"".to_vec();
        bomb_json.extend(std::iter::repeat_n(b'a', 16 * MIB));
        let body = STANDARD.encode(zlib(&bomb_json));
        let started = Instant::now();
        assert_too_large(decode_legacy_store_body(body.as_bytes(), MIB), MIB);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn error_messages_read_well() {
        let e = decode_body(b"xx", &[ContentEncoding::Gzip], 10).map_err(|e| e.to_string());
        match e {
            Err(message) => assert!(message.starts_with("invalid gzip data: "), "{message}"),
            Ok(_) => panic!("expected an error"),
        }
        let e = DecodeError::TooLarge { limit: 10 }.to_string();
        assert_eq!(e, "body exceeds the limit of 10 bytes after decompression");
    }

    fn encoding_strategy() -> impl Strategy<Value = ContentEncoding> {
        prop::sample::select(ALL.to_vec())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            body in prop::collection::vec(any::<u8>(), 0..2048),
            encodings in prop::collection::vec(encoding_strategy(), 0..3),
            limit in 0usize..4096,
        ) {
            for encoding in ALL {
                let _ = decode_body(&body, &[encoding], limit);
            }
            let _ = decode_body(&body, &encodings, limit);
            let _ = decode_legacy_store_body(&body, limit);
        }

        #[test]
        fn valid_streams_with_a_prefix_of_magic_never_panic(
            tail in prop::collection::vec(any::<u8>(), 0..512),
            encoding in encoding_strategy(),
        ) {
            // Random bytes rarely get past a header check; start from a real header instead.
            let mut body = encode(b"{}", encoding);
            body.truncate(body.len().min(4));
            body.extend_from_slice(&tail);
            let _ = decode_body(&body, &[encoding], 4096);
        }

        #[test]
        fn round_trip_arbitrary_data(
            data in prop::collection::vec(any::<u8>(), 0..4096),
            encodings in prop::collection::vec(encoding_strategy(), 0..3),
        ) {
            let mut body = data.clone();
            for &encoding in &encodings {
                body = encode(&body, encoding);
            }
            let decoded = decode_body(&body, &encodings, data.len())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(decoded, data);
        }

        #[test]
        fn legacy_round_trip(message in ".*") {
            use base64::engine::general_purpose::STANDARD;
            let json = serde_json::to_vec(&serde_json::json!({"message": message}))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for body in [json.clone(), zlib(&json), STANDARD.encode(&json).into_bytes(), STANDARD.encode(zlib(&json)).into_bytes()] {
                let decoded = decode_legacy_store_body(&body, MIB)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&decoded, &json);
            }
        }
    }
}
