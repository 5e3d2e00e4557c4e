//! Antenna-style crash submissions (`submission::parse_request`: multipart, optionally gzipped)
//! on arbitrary bytes. Input: the first byte picks the `Content-Type` and whether the body is
//! declared gzip; the rest is the body. Invariants: no panic; refusals are 400 or 413 (413 only
//! for a body over the limit, or over the decompressed limit once gunzipped); an accepted
//! submission has annotations, and its dump names are sanitised the way Antenna does and never
//! reserved.
#![no_main]

use crash_generator::submission::{
    SubmissionError, SubmissionLimits, parse_request, sanitize_key_name,
};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("multipart/form-data; boundary=fuzzboundary"),
    Some("multipart/mixed; boundary=\"fuzzboundary\""),
    Some("multipart/form-data"),
    Some("application/json"),
    None,
];

fn limits() -> SubmissionLimits {
    SubmissionLimits {
        max_body: 256 * 1024,
        max_decompressed: 256 * 1024,
        ..SubmissionLimits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let [choice, body @ ..] = data else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(choice & 0x7f) % CONTENT_TYPES.len()];
    let content_encoding = (choice & 0x80 != 0).then_some("gzip");
    let limits = limits();
    match parse_request(content_type, content_encoding, body, &limits) {
        Ok(parsed) => {
            assert!(!parsed.annotations.is_empty());
            for name in parsed.dumps.keys() {
                assert_eq!(&sanitize_key_name(name), name, "dump name not sanitised");
                assert!(!["dump_names", "processed_crash", "raw_crash"].contains(&name.as_str()));
            }
        }
        Err(err @ SubmissionError::TooLarge { .. }) => {
            assert_eq!(err.status(), 413);
            assert!(body.len() > limits.max_body);
        }
        Err(err @ SubmissionError::DecompressedTooLarge { .. }) => {
            assert_eq!(err.status(), 413);
            assert!(content_encoding.is_some());
        }
        Err(err) => assert_eq!(err.status(), 400, "{err}"),
    }
});
