//! `junit.xml`: the JUnit XML that CI systems (GitLab, Jenkins, GitHub reporters) display.
//!
//! Four suites: `crashes` (one case per crash and processor), `faults` (one per injected
//! symbols fault), `audit` (one per item fake-sentry captured) and `expectations`. A failing
//! case carries a `<failure>` whose text is the readable diff.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::RunReport;

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
    let suites = suites(report);
    let mut writer = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    // Writing into a Vec cannot fail; the results are ignored for that reason only.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.failure.is_some())
        .count();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", format!("harness: {}", report.scenario).as_str()));
    root.push_attribute(("tests", total.to_string().as_str()));
    root.push_attribute(("failures", failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute(("time", seconds(report.duration_ms).as_str()));
    let _ = writer.write_event(Event::Start(root));
    for suite in &suites {
        let failures = suite.cases.iter().filter(|c| c.failure.is_some()).count();
        let time: f64 = suite.cases.iter().map(|c| c.millis).sum();
        let mut start = BytesStart::new("testsuite");
        start.push_attribute(("name", suite.name));
        start.push_attribute(("tests", suite.cases.len().to_string().as_str()));
        start.push_attribute(("failures", failures.to_string().as_str()));
        start.push_attribute(("errors", "0"));
        start.push_attribute(("skipped", "0"));
        start.push_attribute(("time", seconds(time).as_str()));
        start.push_attribute(("timestamp", report.started_at.as_str()));
        let _ = writer.write_event(Event::Start(start));
        for case in &suite.cases {
            let mut start = BytesStart::new("testcase");
            start.push_attribute(("classname", case.classname.as_str()));
            start.push_attribute(("name", case.name.as_str()));
            start.push_attribute(("time", seconds(case.millis).as_str()));
            match &case.failure {
                None => {
                    let _ = writer.write_event(Event::Empty(start));
                }
                Some((message, text)) => {
                    let _ = writer.write_event(Event::Start(start));
                    let mut failure = BytesStart::new("failure");
                    failure.push_attribute(("message", message.as_str()));
                    failure.push_attribute(("type", "AssertionError"));
                    let _ = writer.write_event(Event::Start(failure));
                    let _ = writer.write_event(Event::Text(BytesText::new(text)));
                    let _ = writer.write_event(Event::End(BytesEnd::new("failure")));
                    let _ = writer.write_event(Event::End(BytesEnd::new("testcase")));
                }
            }
        }
        let _ = writer.write_event(Event::End(BytesEnd::new("testsuite")));
    }
    let _ = writer.write_event(Event::End(BytesEnd::new("testsuites")));
    let mut text = String::from_utf8(writer.into_inner().into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

fn seconds(millis: f64) -> String {
    format!("{:.3}", millis / 1000.0)
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

/// A parsed JUnit document: `(suite, classname, name, failed)` per case. Used by the tests
/// (ours and callers') to check that the XML is well formed and lists every case.
#[derive(Debug, Default, PartialEq)]
pub struct ParsedJunit {
    pub tests: usize,
    pub failures: usize,
    pub cases: Vec<ParsedCase>,
}

#[derive(Debug, PartialEq)]
pub struct ParsedCase {
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub failed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("malformed XML: {0}")]
    Xml(#[from] quick_xml::Error),
    #[error("malformed attribute: {0}")]
    Attribute(#[from] quick_xml::events::attributes::AttrError),
    #[error("{0}")]
    Structure(String),
}

/// Parses and checks a JUnit document: well-formed, `testcase` only inside `testsuite`, and
/// the root's `tests`/`failures` counts equal to the cases found.
pub fn parse(xml: &str) -> Result<ParsedJunit, JunitError> {
    use quick_xml::Reader;
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut parsed = ParsedJunit::default();
    let mut declared: Option<(usize, usize)> = None;
    let mut suite: Option<String> = None;
    let mut open_case: Option<usize> = None;
    loop {
        let event = reader.read_event()?;
        let (start, empty) = match &event {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            _ => (None, false),
        };
        if let Some(start) = start {
            let attr = |key: &str| -> Result<Option<String>, JunitError> {
                for a in start.attributes() {
                    let a = a?;
                    if a.key.as_ref() == key {
                        let decoded = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(JunitError::Xml)?;
                        return Ok(Some(decoded.into_owned()));
                    }
                }
                Ok(None)
            };
            let number = |key: &str| -> Result<usize, JunitError> {
                attr(key)?
                    .ok_or_else(|| JunitError::Structure(format!("testsuites has no {key}")))?
                    .parse()
                    .map_err(|_| JunitError::Structure(format!("{key} is not a number")))
            };
            match start.name().as_ref() {
                "testsuites" => declared = Some((number("tests")?, number("failures")?)),
                "testsuite" => suite = attr("name")?,
                "testcase" => {
                    let Some(suite_name) = suite.clone() else {
                        return Err(JunitError::Structure("testcase outside a testsuite".into()));
                    };
                    parsed.cases.push(ParsedCase {
                        suite: suite_name,
                        classname: attr("classname")?.unwrap_or_default(),
                        name: attr("name")?
                            .ok_or_else(|| JunitError::Structure("testcase without name".into()))?,
                        failed: false,
                    });
                    if !empty {
                        open_case = Some(parsed.cases.len() - 1);
                    }
                }
                "failure" | "error" => {
                    let index = open_case.ok_or_else(|| {
                        JunitError::Structure("failure outside a testcase".into())
                    })?;
                    parsed.cases[index].failed = true;
                }
                _ => {}
            }
        }
        match event {
            Event::End(end) if end.name().as_ref() == "testcase" => open_case = None,
            Event::End(end) if end.name().as_ref() == "testsuite" => suite = None,
            Event::Eof => break,
            _ => {}
        }
    }
    parsed.tests = parsed.cases.len();
    parsed.failures = parsed.cases.iter().filter(|c| c.failed).count();
    match declared {
        None => Err(JunitError::Structure("no testsuites element".into())),
        Some((tests, failures)) if (tests, failures) != (parsed.tests, parsed.failures) => {
            Err(JunitError::Structure(format!(
                "declares {tests} tests / {failures} failures, contains {} / {}",
                parsed.tests, parsed.failures
            )))
        }
        Some(_) => Ok(parsed),
    }
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

    #[test]
    fn parse_rejects_broken_documents() {
        assert!(parse("<testsuites tests=\"1\" failures=\"0\"><testsuite name=\"a\">").is_err());
        assert!(
            parse("<testsuites tests=\"1\" failures=\"0\"><testcase name=\"x\"/></testsuites>")
                .is_err()
        );
        assert!(
            parse("<testsuites tests=\"2\" failures=\"0\"><testsuite name=\"a\"><testcase name=\"x\"/></testsuite></testsuites>")
                .is_err()
        );
    }
}
