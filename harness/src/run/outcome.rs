//! Turning one processor result into a [`CrashOutcome`]: the ground-truth comparison and the
//! crashing thread's frames for the report. The signature is the caller's: the one of the crash
//! as Socorro keeps it (`socorro`), or fake-sentry's own.

use crash_generator::GroundTruth;
use serde_json::Value;

use crate::report::{CrashOutcome, FrameRow, Mismatch};

/// What a processor produced for one crash: its JSON, or the error name.
pub enum Processed {
    Json(Value),
    Failed(String),
}

/// Builds the outcome, without a signature; `truth` is `None` for real dumps, which pass when
/// processed.
pub fn crash_outcome(
    crash: &str,
    processor: &str,
    crash_id: Option<String>,
    processed: &Processed,
    truth: Option<&GroundTruth>,
    millis: f64,
) -> CrashOutcome {
    let (status, json) = match processed {
        Processed::Json(json) => (
            json.get("status")
                .and_then(Value::as_str)
                .unwrap_or("OK")
                .to_string(),
            Some(json),
        ),
        Processed::Failed(name) => (name.clone(), None),
    };
    let mismatches: Vec<Mismatch> = match (truth, processed) {
        (Some(truth), Processed::Json(json)) => truth.compare_json(json),
        (Some(truth), Processed::Failed(name)) => truth.compare_error(name),
        (None, _) => Vec::new(),
    }
    .into_iter()
    .map(|m| Mismatch {
        path: m.path,
        expected: m.expected,
        actual: m.actual,
    })
    .collect();
    let passed = match truth {
        Some(_) => mismatches.is_empty(),
        None => status == "OK",
    };
    let crashing = json.and_then(|j| {
        j.pointer("/crash_info/crashing_thread")
            .and_then(Value::as_u64)
    });
    let frames = match (json, crashing) {
        (Some(json), Some(index)) => frame_rows(json, index as usize, &mismatches),
        _ => Vec::new(),
    };
    CrashOutcome {
        id: format!("{crash}/{processor}"),
        crash: crash.to_string(),
        processor: processor.to_string(),
        crash_id,
        os: json.and_then(|j| {
            j.pointer("/system_info/os")
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        status,
        signature: None,
        signature_notes: Vec::new(),
        crash_reason: json.and_then(|j| {
            j.pointer("/crash_info/type")
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        passed,
        mismatches,
        frames,
        millis,
    }
}

/// Holds `outcome`'s signature (Socorro's, from the processed crash the harness kept) to the one
/// the truth says Socorro gives, when the crash's profile asked for it (`socorro_signature`).
pub fn check_signature(outcome: &mut CrashOutcome, truth: Option<&GroundTruth>) {
    let Some(expected) = truth.and_then(|t| t.socorro.as_ref()) else {
        return;
    };
    if outcome.signature.as_deref() != Some(expected.signature.as_str()) {
        outcome.mismatches.push(Mismatch {
            path: "signature".into(),
            expected: expected.signature.clone(),
            actual: outcome.signature.clone().unwrap_or_default(),
        });
        outcome.passed = false;
    }
}

fn frame_rows(json: &Value, thread: usize, mismatches: &[Mismatch]) -> Vec<FrameRow> {
    let frames = json
        .pointer(&format!("/threads/{thread}/frames"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    frames
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
            let prefix = format!("threads[{thread}].frames[{index}]");
            FrameRow {
                index,
                function: text("function"),
                file: text("file"),
                line: f.get("line").and_then(Value::as_u64).map(|l| l as u32),
                module: text("module"),
                trust: text("trust").unwrap_or_default(),
                inlines: f
                    .get("inlines")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| {
                        i.get("function")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect(),
                mismatched: mismatches.iter().any(|m| {
                    m.path == prefix
                        || m.path.starts_with(&format!("{prefix}."))
                        || m.path.starts_with(&format!("{prefix}["))
                }),
            }
        })
        .collect()
}

/// The crashing thread's top function names (`??` where there is none).
pub fn top_functions(json: &Value) -> Vec<String> {
    let Some(index) = json
        .pointer("/crash_info/crashing_thread")
        .and_then(Value::as_u64)
    else {
        return Vec::new();
    };
    json.pointer(&format!("/threads/{index}/frames"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            f.get("function")
                .and_then(Value::as_str)
                .unwrap_or("??")
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crash_generator::socorro::SocorroSignature;

    #[test]
    fn a_signature_other_than_the_truths_fails_the_crash() {
        let mut truth = GroundTruth::unprocessable("MissingThreadList");
        let processed = Processed::Failed("MissingThreadList".into());
        let mut outcome = crash_outcome("c", "p", None, &processed, Some(&truth), 0.0);
        outcome.signature = Some("EMPTY: no frame data available; MissingThreadList".into());
        check_signature(&mut outcome, Some(&truth));
        assert!(
            outcome.passed,
            "no signature in the truth: nothing to hold to"
        );

        truth.socorro = Some(SocorroSignature {
            signature: "EMPTY: no frame data available; OK".into(),
            proto_signature: None,
            notes: Vec::new(),
        });
        check_signature(&mut outcome, Some(&truth));
        assert!(!outcome.passed);
        assert_eq!(outcome.mismatches[0].path, "signature");
        assert_eq!(
            outcome.mismatches[0].expected,
            "EMPTY: no frame data available; OK"
        );
    }
}
