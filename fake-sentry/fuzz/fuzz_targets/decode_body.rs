//! `Content-Encoding` parsing and body decoding on arbitrary bytes. Input: the header value on
//! the first line, the body after it. Invariants: no panic, and the decoded output never exceeds
//! the limit (bombs stop with `TooLarge` at the cap).
#![no_main]

use fake_sentry::fuzzing::{DecodeError, decode_body, parse_content_encoding};
use libfuzzer_sys::fuzz_target;

/// Small, so that a decompression bomb is found cheaply.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (&data[..newline], &data[newline + 1..]),
        None => (&data[..0], data),
    };
    let header = String::from_utf8_lossy(header);
    let encodings = match parse_content_encoding(Some(&header)) {
        Ok(encodings) => encodings,
        // An unknown coding, or more codings than the limit: a refusal, which is the point.
        Err(_) => return,
    };
    assert!(encodings.len() <= header.split(',').count());
    match decode_body(body, &encodings, LIMIT) {
        Ok(decoded) => {
            assert!(
                decoded.len() <= LIMIT,
                "decoded {} bytes past the cap",
                decoded.len()
            );
            if encodings.iter().all(|e| e.as_str() == "identity") {
                assert_eq!(decoded, body, "identity changed the body");
            }
        }
        Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, LIMIT),
        Err(DecodeError::Corrupt { .. }) => {}
        // Nothing is charged (no budget) and the codings were parsed already.
        Err(err) => panic!("decode_body answered {err:?}"),
    }
});
