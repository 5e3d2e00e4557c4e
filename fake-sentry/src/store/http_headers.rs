//! The HTTP headers kept with each envelope (`envelopes.http_headers`), compressed with zstd
//! against a dictionary of the headers SDKs send.
//!
//! The headers of a request are a JSON object of some 200-300 bytes that differs from the
//! last request's in a port or a length: on their own they compress to little less (the Python
//! SDK's 285 bytes to 185 at level 3), against [`DICTIONARY`] (typical header sets of the
//! Python, Node, browser and native SDKs and of Crashpad, `http_headers.dict`) to 36.
//! A row written before version 3 of the format holds them as JSON text, and is read as such:
//! the storage class (TEXT or BLOB) says which.
//!
//! The dictionary is part of the file format: a row is read back with the one it was written
//! with, so it never changes without a new schema version.

use std::cell::RefCell;

use rusqlite::types::ValueRef;

use super::StoreError;
use super::body::unreadable;
use super::zstd_context::{ThreadCompressor, compress_with};
use crate::decode::DecodeError;

/// Header sets like those SDKs send, the most common last (zstd reaches the end of a
/// dictionary with the shortest offsets).
const DICTIONARY: &[u8] = include_bytes!("http_headers.dict");

const LEVEL: i32 = 3;

/// The largest headers a stored value may claim to hold (far above what the HTTP edge lets a
/// request bring), so that a damaged row cannot make a read allocate without bound.
const MAX_HEADERS_BYTES: usize = 1 << 20;

thread_local! {
    /// This thread's context, with the dictionary loaded: loading it is most of the cost of
    /// compressing a few hundred bytes.
    static COMPRESSOR: ThreadCompressor = const { RefCell::new(None) };
}

/// The headers' JSON as the row keeps it.
pub(super) fn pack(json: &str) -> Result<Vec<u8>, StoreError> {
    compress_with(
        &COMPRESSOR,
        || zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY),
        json.as_bytes(),
    )
}

/// The headers' JSON from the row's value: compressed (this version) or text (older rows).
pub(super) fn unpack(value: ValueRef<'_>) -> rusqlite::Result<Option<String>> {
    let corrupt = |message: String| {
        unreadable(DecodeError::Corrupt {
            encoding: "stored HTTP headers",
            message,
        })
    };
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Text(text) => Ok(Some(String::from_utf8_lossy(text).into_owned())),
        ValueRef::Blob(packed) => {
            let size = zstd::zstd_safe::get_frame_content_size(packed)
                .map_err(|_| corrupt("not a zstd frame".into()))?
                .ok_or_else(|| corrupt("no content size".into()))?;
            let size = usize::try_from(size)
                .ok()
                .filter(|&size| size <= MAX_HEADERS_BYTES)
                .ok_or_else(|| corrupt(format!("claims {size} bytes")))?;
            let json = zstd::bulk::Decompressor::with_dictionary(DICTIONARY)
                .and_then(|mut decompressor| decompressor.decompress(packed, size))
                .map_err(|err| corrupt(err.to_string()))?;
            String::from_utf8(json)
                .map(Some)
                .map_err(|err| corrupt(err.to_string()))
        }
        ValueRef::Integer(_) | ValueRef::Real(_) => Err(corrupt("a number".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTHON: &str = r#"{"accept-encoding":"identity","content-encoding":"gzip","content-length":"1312","content-type":"application/x-sentry-envelope","host":"127.0.0.1:35097","user-agent":"sentry.python/2.75.0","x-sentry-auth":"Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0"}"#;

    fn unpacked(packed: &[u8]) -> rusqlite::Result<Option<String>> {
        unpack(ValueRef::Blob(packed))
    }

    #[test]
    fn headers_come_back_as_they_went_in_and_take_a_fraction_of_the_space() {
        let packed = pack(PYTHON).unwrap();
        assert_eq!(unpacked(&packed).unwrap().as_deref(), Some(PYTHON));
        let alone = zstd::bulk::compress(PYTHON.as_bytes(), LEVEL)
            .unwrap()
            .len();
        assert!(packed.len() <= 64, "{} bytes", packed.len());
        assert!(
            packed.len() * 3 < alone,
            "{} against {alone} alone",
            packed.len()
        );
        for headers in ["{}", r#"{"x-other":"ünïcode ✓"}"#, &"x".repeat(100_000)] {
            assert_eq!(
                unpacked(&pack(headers).unwrap()).unwrap().as_deref(),
                Some(headers)
            );
        }
    }

    #[test]
    fn rows_of_older_versions_and_damaged_rows_read_as_text_or_fail() {
        assert_eq!(
            unpack(ValueRef::Text(PYTHON.as_bytes()))
                .unwrap()
                .as_deref(),
            Some(PYTHON)
        );
        assert_eq!(unpack(ValueRef::Null).unwrap(), None);
        let packed = pack(PYTHON).unwrap();
        for damaged in [
            &b"not zstd"[..],
            &packed[..packed.len() / 2],
            &[
                0x28, 0xb5, 0x2f, 0xfd, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
        ] {
            assert!(unpacked(damaged).is_err(), "{damaged:?}");
        }
        assert!(unpack(ValueRef::Integer(7)).is_err());
    }
}
