//! `junit.xml`: the JUnit XML that CI systems (GitLab, Jenkins, GitHub reporters) display.
//!
//! Four suites: `crashes` (one case per crash and processor; fake-sentry's processing of the
//! crashes sent to it is the processor `fake-sentry`), `faults` (one per injected
//! symbols fault), `audit` (one per item fake-sentry captured) and `expectations`. A failing
//! case carries a `<failure>` whose text is the readable diff. The `junit` crate writes the
//! XML; this module only says what the cases are.

use super::RunReport;

pub use junit::{JunitError, ParsedCase, ParsedJunit, parse};

/// One case as the report sees it: timed in milliseconds, failed with `(message, text)`.
struct Case {
    classname: String,
    name: String,
    millis: f64,
    failure: Option<(String, String)>,
}

struct Suite {
    name: &'static str,
    cases: Vec<Case>,
}

pub fn render(report: &RunReport) -> String {
    let suites = suites(report)
        .into_iter()
        .map(|suite| junit::Suite {
            name: suite.name.into(),
            time: Some(suite.cases.iter().map(|c| c.millis).sum::<f64>() / 1000.0),
            timestamp: Some(report.started_at.clone()),
            cases: suite.cases.into_iter().map(junit_case).collect(),
        })
        .collect();
    junit::Report {
        name: Some(format!("harness: {}", report.scenario)),
        time: Some(report.duration_ms / 1000.0),
        suites,
    }
    .to_xml()
}

/// A failure is an `AssertionError` whose text is the readable diff.
fn junit_case(case: Case) -> junit::Case {
    junit::Case {
        classname: case.classname,
        name: case.name,
        time: Some(case.millis / 1000.0),
        outcome: match case.failure {
            None => junit::Outcome::Passed,
            Some((message, text)) => junit::Outcome::Failed(junit::Failure {
                message,
                kind: Some("AssertionError".into()),
                text,
            }),
        },
    }
}

fn suites(report: &RunReport) -> Vec<Suite> {
    let crashes = report
        .crashes
        .iter()
        .map(|c| Case {
            classname: format!("harness.crashes.{}", c.processor),
            name: c.crash.clone(),
            millis: c.millis,
            failure: (!c.passed).then(|| {
                let text = if c.mismatches.is_empty() {
                    format!("status {}", c.status)
                } else {
                    c.mismatches
                        .iter()
                        .map(|m| {
                            format!(
                                "{}\n  expected: {}\n  actual:   {}",
                                m.path, m.expected, m.actual
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                (
                    format!("{} mismatches with the ground truth", c.mismatches.len()),
                    text,
                )
            }),
        })
        .collect();
    let faults = report
        .faults
        .iter()
        .map(|f| Case {
            classname: "harness.faults".into(),
            name: f.name.clone(),
            millis: f.millis,
            failure: (!f.passed).then(|| {
                let failed: Vec<String> = f
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: expected {}, got {}", c.name, c.expected, c.actual))
                    .collect();
                (format!("{} checks failed", failed.len()), failed.join("\n"))
            }),
        })
        .collect();
    let audit = report
        .audit
        .iter()
        .map(|a| Case {
            classname: format!("harness.audit.{}", a.item_type),
            name: format!(
                "{} {}",
                a.item_type,
                a.event_id.as_deref().unwrap_or(&a.item_id)
            ),
            millis: 0.0,
            failure: (!a.passed).then(|| {
                let lines: Vec<String> = a
                    .findings
                    .iter()
                    .map(|f| format!("{}: {} {} ({})", f.path, f.kind, f.rule, f.excerpt))
                    .collect();
                (
                    format!("{} data-policy findings", a.findings.len()),
                    lines.join("\n"),
                )
            }),
        })
        .collect();
    let expectations = report
        .expectations
        .iter()
        .map(|e| Case {
            classname: "harness.expectations".into(),
            name: e.name.clone(),
            millis: 0.0,
            failure: (!e.passed).then(|| {
                (
                    format!("expected {}, got {}", e.expected, e.actual),
                    format!("expected: {}\nactual:   {}", e.expected, e.actual),
                )
            }),
        })
        .collect();
    vec![
        Suite {
            name: "crashes",
            cases: crashes,
        },
        Suite {
            name: "faults",
            cases: faults,
        },
        Suite {
            name: "audit",
            cases: audit,
        },
        Suite {
            name: "expectations",
            cases: expectations,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn lists_every_case_and_parses_back() {
        let report = sample::report();
        let xml = render(&report);
        let parsed = parse(&xml).unwrap();
        assert_eq!(parsed.tests, 2 + 1 + 1 + 1);
        assert_eq!(parsed.failures, 2);
        let names: Vec<(&str, &str, bool)> = parsed
            .cases
            .iter()
            .map(|c| (c.suite.as_str(), c.name.as_str(), c.failed))
            .collect();
        assert_eq!(
            names,
            [
                ("crashes", "linux-1", false),
                ("crashes", "linux-2", true),
                ("faults", "status-500", false),
                ("audit", "event ev1", true),
                ("expectations", "symbols fetched once per module", false),
            ]
        );
        // Markup in values is escaped, not interpreted.
        assert!(xml.contains("&lt;script&gt;"), "{xml}");
        assert!(
            xml.contains("name=\"harness: sample &lt;&amp;&gt;\""),
            "{xml}"
        );
    }
}
