//! Unit tests of the collector around the parser: ids, storage caps, the disk layout.

use super::*;
use crash_generator::submission::{Submission, build};
use crash_generator::{Crash, Profile};

fn submit(state: &CollectorState, seed: u64) -> Result<Arc<StoredCrash>, CollectorError> {
    let crash = Crash::generate(&Profile::default(), seed);
    let encoded = build(&Submission::for_crash(&crash), "b0undary");
    accept(
        state,
        Some(&encoded.content_type),
        encoded.content_encoding,
        Some("test"),
        &encoded.body,
        OffsetDateTime::now_utc(),
    )
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn crash_ids_follow_antenna() {
    let now = time::macros::datetime!(2026-11-26 04:00 UTC);
    let id = crash_id(uuid::Uuid::new_v4(), now);
    assert!(id.ends_with("0261126"), "{id}");
    assert!(is_crash_id(&id), "{id}");
    assert!(!is_crash_id("de1bb258-cbbf-4589-a673-34f800160918x"));
    assert!(!is_crash_id("de1bb258-cbbf-4589-a673-34f802260918"));
}

#[test]
fn accepts_a_generated_submission_and_refuses_junk() {
    let state = CollectorState::new(CollectorConfig::default());
    let crash = Crash::generate(&Profile::default(), 7);
    let stored = submit(&state, 7).unwrap();
    assert_eq!(stored.dumps["upload_file_minidump"], crash.minidump_bytes());
    assert_eq!(stored.raw_crash["version"], 2);
    assert!(state.crash(&format!("bp-{}", stored.crash_id)).is_some());
    let now = OffsetDateTime::now_utc();
    let err = accept(&state, Some("text/plain"), None, None, b"x", now).unwrap_err();
    let response = err.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn the_byte_cap_refuses_with_507_and_keeps_what_it_has() {
    let one = {
        let state = CollectorState::new(CollectorConfig::default());
        submit(&state, 1).unwrap();
        state.usage().1
    };
    // Room for two crashes by bytes, ten by count.
    let state = CollectorState::new(CollectorConfig {
        max_crashes: 10,
        max_bytes: one * 2 + one / 2,
        ..CollectorConfig::default()
    });
    let first = submit(&state, 1).unwrap();
    let second = submit(&state, 1).unwrap();
    let err = submit(&state, 1).unwrap_err();
    assert!(matches!(err, CollectorError::Full(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("2 crashes"), "{message}");
    assert_eq!(
        err.into_response().status(),
        StatusCode::INSUFFICIENT_STORAGE
    );
    assert_eq!(
        state.crash_ids(),
        [first.crash_id.clone(), second.crash_id.clone()]
    );
    // (Timestamps differ in length by a few bytes between crashes.)
    let (crashes, bytes) = state.usage();
    assert_eq!(crashes, 2);
    assert!(bytes.abs_diff(one * 2) < 64, "{bytes} vs {one}");
}

#[test]
fn the_count_cap_refuses_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let state = CollectorState::new(CollectorConfig {
        max_crashes: 1,
        storage_dir: Some(dir.path().to_path_buf()),
        ..CollectorConfig::default()
    });
    let first = submit(&state, 3).unwrap();
    let written = files(dir.path());
    assert_eq!(written.len(), 3, "{written:?}");
    assert!(written.iter().all(|f| f.ends_with(&first.crash_id)));
    let err = submit(&state, 4).unwrap_err();
    assert_eq!(
        err.into_response().status(),
        StatusCode::INSUFFICIENT_STORAGE
    );
    assert_eq!(files(dir.path()), written, "the refused crash left files");
}

#[test]
fn racing_submissions_never_pass_the_cap_nor_leave_files() {
    let dir = tempfile::tempdir().unwrap();
    let state = CollectorState::new(CollectorConfig {
        max_crashes: 5,
        storage_dir: Some(dir.path().to_path_buf()),
        ..CollectorConfig::default()
    });
    let accepted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|seed| {
                let state = &state;
                scope.spawn(move || submit(state, seed).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum()
    });
    assert_eq!(accepted, 5);
    assert_eq!(state.crash_ids().len(), 5);
    assert_eq!(files(dir.path()).len(), 5 * 3);
}

#[test]
fn a_failed_write_leaves_no_files_and_gives_its_place_back() {
    let dir = tempfile::tempdir().unwrap();
    // The raw crash (written last) cannot be written: a file stands where its folder goes.
    std::fs::create_dir_all(dir.path().join("v1")).unwrap();
    std::fs::write(dir.path().join("v1/raw_crash"), b"in the way").unwrap();
    let state = CollectorState::new(CollectorConfig {
        max_crashes: 1,
        storage_dir: Some(dir.path().to_path_buf()),
        ..CollectorConfig::default()
    });
    let err = submit(&state, 5).unwrap_err();
    assert!(matches!(err, CollectorError::Storage(_)), "{err}");
    assert_eq!(files(dir.path()), ["v1/raw_crash"]);
    assert_eq!(state.usage(), (0, 0));
    std::fs::remove_file(dir.path().join("v1/raw_crash")).unwrap();
    let stored = submit(&state, 5).unwrap();
    assert_eq!(state.crash_ids(), std::slice::from_ref(&stored.crash_id));
}

#[test]
fn accepting_charges_the_in_flight_budget_and_gives_it_back() {
    let state = CollectorState::new(CollectorConfig::default());
    submit(&state, 1).unwrap();
    assert_eq!(state.in_flight().in_use(), 0, "stored, and released");
    // Every byte of the budget held by other submissions: this one is told to retry.
    let others = state.in_flight().charge();
    others.add(DEFAULT_MAX_IN_FLIGHT).unwrap();
    let err = submit(&state, 2).unwrap_err();
    assert!(
        matches!(err, CollectorError::Budget(BudgetError::Busy { .. })),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("in use by other requests") && message.contains(IN_FLIGHT_KNOB),
        "{message}"
    );
    let response = err.into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        state.crash_ids().len(),
        1,
        "nothing kept of the refused one"
    );
    drop(others);
    submit(&state, 2).unwrap();
    assert_eq!(state.in_flight().in_use(), 0);
}

#[test]
fn a_submission_larger_than_the_whole_budget_is_413() {
    // (Not a configuration `harness up` accepts; the budget still holds.)
    let state = CollectorState::new(CollectorConfig {
        max_in_flight: 4096,
        ..CollectorConfig::default()
    });
    let err = submit(&state, 1).unwrap_err();
    assert!(
        matches!(err, CollectorError::Budget(BudgetError::TooLarge { .. })),
        "{err}"
    );
    assert_eq!(err.into_response().status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(state.in_flight().in_use(), 0);
}

#[test]
fn a_budget_too_small_for_one_submission_is_refused() {
    let config = CollectorConfig::default();
    config.check().unwrap();
    let needed = min_in_flight(&config.limits);
    // Gzipped at the defaults: the body, then the gunzipped body, its copies and the raw
    // crash's JSON, each at most the decompressed limit.
    assert_eq!(needed, 4 * DEFAULT_MAX_BODY + (1 << 20));
    assert!(DEFAULT_MAX_IN_FLIGHT >= needed);
    let small = CollectorConfig {
        max_in_flight: needed - 1,
        ..CollectorConfig::default()
    };
    let err = small.check().unwrap_err();
    assert_eq!(
        err,
        CollectorConfigError::InFlightTooSmall {
            budget: needed - 1,
            needed
        }
    );
    assert!(err.to_string().contains(IN_FLIGHT_KNOB), "{err}");
    // Without much decompression, three times the body (body, copies, raw crash).
    let plain = SubmissionLimits {
        max_decompressed: 1 << 20,
        ..SubmissionLimits::default()
    };
    assert_eq!(min_in_flight(&plain), 3 * DEFAULT_MAX_BODY + (1 << 20));
    // A larger decompression limit needs more.
    let gzip_heavy = CollectorConfig {
        limits: SubmissionLimits {
            max_decompressed: 100 << 20,
            ..SubmissionLimits::default()
        },
        ..CollectorConfig::default()
    };
    assert_eq!(
        min_in_flight(&gzip_heavy.limits),
        DEFAULT_MAX_BODY + 300 * (1 << 20) + (1 << 20)
    );
    assert!(gzip_heavy.check().is_err());
}
