//! The harness collector's submission handling on arbitrary submissions: `parse_submission`
//! (Antenna's multipart and JSON rules under `SubmissionLimits`), then `collector::accept`
//! (the raw crash, crash id, bounded store and Antenna's on-disk layout), as `POST /submit`
//! runs them once the body is read. Input: the first byte picks the `Content-Type`, whether the
//! body is declared gzip (bit 7) and whether the crash is also written to disk (bit 6); the rest
//! is the body.
//!
//! Invariants: no panic; a refusal is 400, 401 or 413 (never a 5xx: a fresh collector has room
//! and its disk works); what parses stays within every limit, with sanitised, non-empty dump
//! names; an accepted crash has an Antenna crash id, is stored under it, records the body
//! size, drops the fields Antenna drops, and on disk is exactly its dump files, `dump_names`
//! and the raw crash.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use axum_core::response::IntoResponse;
use harness::collector::{
    CollectorConfig, CollectorState, SubmissionLimits, accept, is_crash_id, parse_submission,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::OffsetDateTime;

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("multipart/form-data; boundary=fuzzboundary"),
    Some("multipart/mixed; boundary=\"fuzzboundary\""),
    Some("multipart/form-data"),
    Some("application/json"),
    None,
];

/// Small, so that every limit is reached cheaply.
fn limits() -> SubmissionLimits {
    SubmissionLimits {
        max_body: 256 * 1024,
        max_decompressed: 512 * 1024,
        max_parts: 64,
        max_part_header: 1024,
        max_field_name: 128,
        max_field_value: 64 * 1024,
        max_annotations: 32,
        max_dumps: 4,
        ..SubmissionLimits::default()
    }
}

/// Regular files under `dir`, recursively.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => files(&entry.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    let [choice, body @ ..] = data else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(choice & 0x3f) % CONTENT_TYPES.len()];
    let content_encoding = (choice & 0x80 != 0).then_some("gzip");
    let limits = limits();

    match parse_submission(content_type, content_encoding, body, &limits) {
        Ok(parsed) => {
            assert!(parsed.annotations.len() <= limits.max_annotations);
            assert!(parsed.dumps.len() <= limits.max_dumps);
            for (name, value) in &parsed.annotations {
                assert!(
                    name.len() <= limits.max_field_name,
                    "annotation name {name:?}"
                );
                assert!(value.len() <= limits.max_field_value);
            }
            for name in parsed.dumps.keys() {
                assert!(
                    !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "dump name {name:?} is not sanitised"
                );
            }
        }
        Err(err) => assert!(matches!(err.status(), 400 | 413), "{err}"),
    }

    let storage =
        (choice & 0x40 != 0).then(|| tempfile::tempdir().expect("a temporary storage directory"));
    let state = CollectorState::new(CollectorConfig {
        limits,
        storage_dir: storage.as_ref().map(|dir| dir.path().to_path_buf()),
        ..CollectorConfig::default()
    });
    let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("a valid time");
    let crash = match accept(
        &state,
        content_type,
        content_encoding,
        Some("fuzz/1"),
        body,
        now,
    ) {
        Ok(crash) => crash,
        Err(err) => {
            let text = err.to_string();
            let status = err.into_response().status().as_u16();
            assert!(
                matches!(status, 400 | 401 | 413),
                "a bad submission answered {status}: {text}"
            );
            return;
        }
    };
    assert!(is_crash_id(&crash.crash_id), "{:?}", crash.crash_id);
    assert!(state.crash(&format!("bp-{}", crash.crash_id)).is_some());
    let raw = &crash.raw_crash;
    assert_eq!(raw["uuid"], Value::from(crash.crash_id.clone()));
    assert_eq!(raw["metadata"]["payload_size"], Value::from(body.len()));
    for dropped in [
        "Email",
        "TelemetryClientId",
        "TelemetryServerURL",
        "TelemetrySessionId",
    ] {
        assert!(raw.get(dropped).is_none(), "{dropped} was kept");
    }
    if let Some(dir) = &storage {
        // `upload_file_minidump` is stored as `dump`, so a part named `dump` shares its file,
        // as in Antenna.
        let keys: BTreeSet<&str> = crash
            .dumps
            .keys()
            .map(|n| {
                if n == "upload_file_minidump" {
                    "dump"
                } else {
                    n.as_str()
                }
            })
            .collect();
        assert_eq!(
            files(dir.path()),
            keys.len() + 2,
            "unexpected files on disk"
        );
        let raw_path = dir
            .path()
            .join("v1/raw_crash/20260921")
            .join(&crash.crash_id);
        assert!(raw_path.is_file(), "{raw_path:?} missing");
    }
});
