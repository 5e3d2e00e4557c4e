//! What an SDK compresses (any chain of gzip, zlib `deflate`, brotli, zstd, identity) decodes
//! back to the same bytes, and one byte less of limit is `TooLarge`, never a shorter body.
#![no_main]

use std::io::Write;

use fake_sentry::fuzzing::{ContentEncoding, DecodeError, decode_body};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    codings: Vec<Coding>,
    payload: Vec<u8>,
}

fn encode(coding: &Coding, data: Vec<u8>) -> (ContentEncoding, Vec<u8>) {
    let written = |result: std::io::Result<Vec<u8>>| match result {
        Ok(bytes) => bytes,
        Err(err) => panic!("compressing into memory failed: {err}"),
    };
    match coding {
        Coding::Identity => (ContentEncoding::Identity, data),
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let bytes = written(encoder.write_all(&data).and_then(|()| encoder.finish()));
            (ContentEncoding::Gzip, bytes)
        }
        Coding::Deflate => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            let bytes = written(encoder.write_all(&data).and_then(|()| encoder.finish()));
            (ContentEncoding::Deflate, bytes)
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 1, 22);
                if let Err(err) = writer.write_all(&data) {
                    panic!("compressing into memory failed: {err}");
                }
            }
            (ContentEncoding::Brotli, out)
        }
        Coding::Zstd => (
            ContentEncoding::Zstd,
            written(zstd::encode_all(data.as_slice(), 1)),
        ),
    }
}

fuzz_target!(|input: Input| {
    // Real SDKs apply one coding; a few chained are enough to test the pipeline.
    let mut body = input.payload.clone();
    let mut encodings = Vec::new();
    for coding in input.codings.iter().take(3) {
        let (encoding, encoded) = encode(coding, body);
        encodings.push(encoding);
        body = encoded;
    }

    let limit = input.payload.len();
    match decode_body(&body, &encodings, limit) {
        Ok(decoded) => assert_eq!(decoded, input.payload),
        Err(err) => panic!("decoding {encodings:?} failed: {err}"),
    }
    if let Some(smaller) = limit.checked_sub(1) {
        match decode_body(&body, &encodings, smaller) {
            Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, smaller),
            other => panic!("one byte over the limit gave {other:?}"),
        }
    }
});
