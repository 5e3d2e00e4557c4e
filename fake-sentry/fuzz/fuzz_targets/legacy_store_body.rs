//! Legacy store bodies (base64 / zlib / base64-of-zlib of JSON, as old raven clients send) on
//! arbitrary bytes: no panic, a success is a JSON object candidate (first non-blank byte `{`)
//! within the cap, and plain JSON passes through unchanged.
#![no_main]

use fake_sentry::fuzzing::{DecodeError, decode_legacy_store_body};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fn first_non_blank(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fuzz_target!(|data: &[u8]| {
    match decode_legacy_store_body(data, LIMIT) {
        Ok(json) => {
            assert!(json.len() <= LIMIT);
            assert_eq!(first_non_blank(&json), Some(b'{'));
            if first_non_blank(data) == Some(b'{') {
                assert_eq!(json, data, "a JSON body was changed");
            }
        }
        Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, LIMIT),
        Err(DecodeError::Corrupt { .. }) => {}
        Err(err) => panic!("legacy decoding answered {err:?}"),
    }
});
