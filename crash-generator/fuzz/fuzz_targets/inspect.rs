//! `describe_minidump` (what `crash-generator inspect FILE` prints) on arbitrary bytes: it never
//! panics, whatever the streams claim; a dump that opens gives a summary naming its size.
#![no_main]

use crash_generator::describe_minidump as describe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(summary) = describe(data) {
        assert!(summary.starts_with(&format!("minidump: {} bytes", data.len())));
    }
});
