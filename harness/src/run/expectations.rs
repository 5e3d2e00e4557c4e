//! The scenario's `[expect]` section checked against a finished run.

use serde_json::Value;

use super::outcome::top_functions;
use crate::report::{Check, Mismatch, RunReport};
use crate::scenario::Scenario;

/// Adds a check per expectation to `report`, and marks a crash failed where one of its own
/// expectations does not hold. Without `ground_truth`, truth mismatches stay as information.
///
/// A crash's expectations are checked against the crash as kept in `crashes/<crash>.json`
/// (the in-process processor's, or the external stackwalker's in a run without it): its
/// `signature`, and its `json_dump`'s crash reason and frames.
pub(super) fn expectations(scenario: &Scenario, report: &mut RunReport, symbols_counted: bool) {
    let expect = &scenario.expect;
    if !expect.ground_truth {
        // Truth mismatches stay in the report as information; only failures to process and
        // disagreements between processors fail.
        for c in &mut report.crashes {
            c.passed = c.status == "OK" && !c.mismatches.iter().any(|m| m.path.starts_with("vs "));
        }
    }
    if let Some(max) = expect.max_symbol_requests_per_module {
        // Without a request log (a symbols server other than fake-symbols) nothing was
        // counted: the expectation cannot hold.
        report.expectations.push(Check {
            name: "symbol requests per sym file".into(),
            expected: format!("<= {max}"),
            actual: match symbols_counted {
                true => report.symbols.max_requests_per_module.to_string(),
                false => "not counted: the symbols server logged no requests".into(),
            },
            passed: symbols_counted && report.symbols.max_requests_per_module <= max,
        });
    }
    for wanted in &expect.crash {
        let Some(kept) = report
            .processed_crashes
            .iter()
            .find(|p| p.crash == wanted.crash)
        else {
            report.expectations.push(Check {
                name: format!("crash {}", wanted.crash),
                expected: "a processed crash".into(),
                actual: "no such crash, or it was not processed".into(),
                passed: false,
            });
            continue;
        };
        let processor = kept.processor.clone();
        let empty = Value::Null;
        let json = kept.json.get("json_dump").unwrap_or(&empty);
        let mut checks = Vec::new();
        if let Some(sig) = &wanted.signature {
            let actual = kept.signature().unwrap_or("null").to_string();
            checks.push(("signature", sig.clone(), actual));
        }
        if let Some(reason) = &wanted.crash_reason {
            let actual = json
                .pointer("/crash_info/type")
                .and_then(Value::as_str)
                .unwrap_or("null")
                .to_string();
            checks.push(("crash_reason", reason.clone(), actual));
        }
        if let Some(top) = &wanted.top_frames {
            let actual: Vec<String> = top_functions(json).into_iter().take(top.len()).collect();
            checks.push(("top_frames", top.join(" | "), actual.join(" | ")));
        }
        for (field, expected, actual) in checks {
            let passed = expected == actual;
            if !passed
                && let Some(outcome) = report
                    .crashes
                    .iter_mut()
                    .find(|c| c.crash == wanted.crash && c.processor == processor)
            {
                outcome.passed = false;
                outcome.mismatches.push(Mismatch {
                    path: format!("expect.{field}"),
                    expected: expected.clone(),
                    actual: actual.clone(),
                });
            }
            report.expectations.push(Check {
                name: format!("crash {} {field}", wanted.crash),
                expected,
                actual,
                passed,
            });
        }
    }
}
