//! The forms a request body is kept in (`envelopes.raw_form`), and the compact one: the decoded
//! body compressed with zstd against a dictionary of what SDKs send.
//!
//! A body as sent is most often gzip or brotli, which is near its smallest on its own but not
//! next to what SDKs repeat in every request. zstd against [`DICTIONARY`] finds those repeats:
//! the Python SDK's gzip error envelope (1,314 bytes as sent, 3,745 decoded) keeps 564 bytes.
//! So by default (`--bodies compact`) a body is kept compact when that is smaller than it was
//! as sent; the bytes as sent are then gone when they were encoded (an identity body is its
//! decoded form, so nothing is lost), and `--bodies as-sent` keeps them whatever they cost.
//!
//! The dictionary is part of the file format, like `http_headers.dict`: a compact body is read
//! back with the dictionary it was written with, so it never changes without a new schema
//! version. `scripts/build-body-dictionary` builds it from the repository's SDK captures and
//! says how.

use std::cell::RefCell;
use std::io::{BufRead, Read};
use std::sync::LazyLock;

use zstd::dict::{DecoderDictionary, EncoderDictionary};

use super::StoreError;
use super::zstd_context::{ThreadCompressor, compress_with};
use crate::decode::DecodeError;

/// Real SDK requests one after another (see `scripts/build-body-dictionary`).
const DICTIONARY: &[u8] = include_bytes!("body.dict");

/// zstd's default level: at 3 against the dictionary the Python envelope compresses at some
/// 600 MB/s (6 µs), so it costs ingest little; level 9 saves another 60 bytes at a third the
/// speed.
const LEVEL: i32 = 3;

/// What `envelopes.raw_form` says `raw` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm {
    /// The decoded body: every row written before schema version 2.
    Decoded,
    /// The body exactly as sent; `content_encoding` says how to decode it.
    AsSent,
    /// The decoded body compressed against [`DICTIONARY`] (schema version 7 on).
    Compact,
}

impl BodyForm {
    pub(super) fn column_value(self) -> i64 {
        match self {
            Self::Decoded => 0,
            Self::AsSent => 1,
            Self::Compact => 2,
        }
    }

    /// Whether a body kept in this form, sent with `content_encoding`, can be given back
    /// byte for byte: as sent, or decoded when sending it encoded nothing.
    pub(super) fn keeps_as_sent(self, content_encoding: Option<&str>) -> bool {
        self == Self::AsSent
            || crate::decode::parse_content_encoding(content_encoding).is_ok_and(|encodings| {
                encodings
                    .iter()
                    .all(|&e| e == crate::decode::ContentEncoding::Identity)
            })
    }

    pub(super) fn from_column(value: i64) -> rusqlite::Result<Self> {
        match value {
            0 => Ok(Self::Decoded),
            1 => Ok(Self::AsSent),
            2 => Ok(Self::Compact),
            other => Err(rusqlite::Error::IntegralValueOutOfRange(0, other)),
        }
    }
}

/// Which form the store keeps bodies in (`--bodies`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyStorage {
    /// Compact when that is smaller than the body as sent, as sent otherwise.
    #[default]
    Compact,
    /// Always as sent, byte for byte.
    AsSent,
}

impl BodyStorage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compact => "compact",
            Self::AsSent => "as-sent",
        }
    }
}

impl std::str::FromStr for BodyStorage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "compact" => Ok(Self::Compact),
            "as-sent" => Ok(Self::AsSent),
            other => Err(format!("expected compact or as-sent, got {other:?}")),
        }
    }
}

static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY, LEVEL));

static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY));

thread_local! {
    /// This thread's context, over the prepared dictionary.
    static COMPRESSOR: ThreadCompressor = const { RefCell::new(None) };
}

/// `decoded` in the compact form.
pub(super) fn compress(decoded: &[u8]) -> Result<Vec<u8>, StoreError> {
    compress_with(
        &COMPRESSOR,
        || zstd::bulk::Compressor::with_prepared_dictionary(&ENCODER),
        decoded,
    )
}

/// The decoded body out of a compact one, as a stream: readers stop once they have what they
/// need, and a damaged row is an error of the read, never an allocation it names.
pub(super) fn decoder<'a>(
    compact: impl BufRead + 'a,
) -> std::io::Result<Box<dyn std::io::Read + 'a>> {
    Ok(Box::new(
        zstd::stream::read::Decoder::with_prepared_dictionary(compact, &DECODER)?,
    ))
}

/// A compact body decoded whole, at most `limit` bytes of it.
pub(super) fn decompress(compact: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let corrupt = |err: std::io::Error| DecodeError::Corrupt {
        encoding: "compact body",
        message: err.to_string(),
    };
    let mut decoded = Vec::new();
    decoder(compact)
        .map_err(corrupt)?
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(corrupt)?;
    if decoded.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(compact: &[u8]) -> Vec<u8> {
        super::decompress(compact, usize::MAX >> 1).unwrap()
    }

    #[test]
    fn bodies_come_back_byte_for_byte() {
        for body in [
            &b""[..],
            b"{}",
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{}",
            &[0u8, 255, 7, 7, 7, 1][..],
        ] {
            assert_eq!(decompress(&compress(body).unwrap()), body);
        }
        let large: Vec<u8> = (0..300_000u32).map(|n| (n * 7 % 251) as u8).collect();
        assert_eq!(decompress(&compress(&large).unwrap()), large);
    }

    /// What the dictionary is for: an SDK envelope it was not built from compresses to well
    /// under its gzip form.
    #[test]
    fn an_sdk_envelope_keeps_less_than_its_gzip_form() {
        let wire = include_bytes!("../../testdata/captures/python-error-gzip.envelope.gz");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&wire[..])
            .read_to_end(&mut decoded)
            .unwrap();
        let compact = compress(&decoded).unwrap();
        assert!(
            compact.len() * 2 < wire.len(),
            "{} bytes compact, {} as sent",
            compact.len(),
            wire.len()
        );
        assert_eq!(decompress(&compact), decoded);
    }

    #[test]
    fn a_damaged_body_is_an_error_of_the_read() {
        let mut compact = compress(&[b'x'; 5000]).unwrap();
        let mid = compact.len() / 2;
        compact.truncate(mid);
        let mut out = Vec::new();
        assert!(
            decoder(&compact[..])
                .and_then(|mut d| d.read_to_end(&mut out))
                .is_err()
        );
        assert!(
            decoder(&b"not zstd at all"[..])
                .and_then(|mut d| d.read_to_end(&mut out))
                .is_err()
        );
    }

    #[test]
    fn decoding_stops_at_its_limit() {
        let compact = compress(&[b'x'; 5000]).unwrap();
        assert_eq!(super::decompress(&compact, 5000).unwrap().len(), 5000);
        let err = super::decompress(&compact, 4999).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooLarge { limit: 4999 }),
            "{err}"
        );
    }

    /// The dictionary is what its script builds from the repository's captures, so that it
    /// can be rebuilt and reviewed (and a change to it shows up here, with the schema version
    /// it needs).
    #[test]
    fn the_dictionary_is_what_its_script_builds() {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/build-body-dictionary"
        );
        let out = std::process::Command::new("python3")
            .args([script, "--check"])
            .output()
            .expect("python3 runs scripts/build-body-dictionary");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn form_values_are_the_columns() {
        for form in [BodyForm::Decoded, BodyForm::AsSent, BodyForm::Compact] {
            assert_eq!(BodyForm::from_column(form.column_value()).unwrap(), form);
        }
        assert!(BodyForm::from_column(3).is_err());
    }
}
