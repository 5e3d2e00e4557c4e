//! What the `junit` crate promises: the document layout CI readers expect, counts that agree
//! with the cases, and well-formed XML whatever text the callers put in it.

use junit::{Case, Failure, Outcome, Report, Suite, parse};
use quick_xml::Reader;
use quick_xml::events::Event;

fn sample() -> Report {
    let mut slow = Case::passed("harness.crashes.minidump-stackwalk", "linux-1");
    slow.time = Some(1.2345);
    let mut failed = Case::failed(
        "harness.crashes.minidump-stackwalk",
        "linux-2",
        "1 mismatches with the ground truth",
        "crash_info.type\n  expected: SIGSEGV\n  actual:   SIGABRT",
    );
    if let Outcome::Failed(failure) = &mut failed.outcome {
        failure.kind = Some("AssertionError".into());
    }
    Report {
        name: Some("harness: demo".into()),
        time: Some(2.5),
        suites: vec![
            Suite {
                name: "crashes".into(),
                time: Some(1.2345),
                timestamp: Some("2025-01-01T00:00:00Z".into()),
                cases: vec![slow, failed],
            },
            Suite::new(
                "expectations",
                vec![Case {
                    classname: "harness.expectations".into(),
                    name: "symbols fetched once".into(),
                    time: None,
                    outcome: Outcome::Skipped(Some("no symbols server".into())),
                }],
            ),
        ],
    }
}

#[test]
fn a_report_is_testsuites_around_its_suites() {
    let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="harness: demo" tests="3" failures="1" errors="0" time="2.500">
  <testsuite name="crashes" tests="2" failures="1" errors="0" skipped="0" time="1.234" timestamp="2025-01-01T00:00:00Z">
    <testcase classname="harness.crashes.minidump-stackwalk" name="linux-1" time="1.234"/>
    <testcase classname="harness.crashes.minidump-stackwalk" name="linux-2">
      <failure message="1 mismatches with the ground truth" type="AssertionError">crash_info.type
  expected: SIGSEGV
  actual:   SIGABRT</failure>
    </testcase>
  </testsuite>
  <testsuite name="expectations" tests="1" failures="0" errors="0" skipped="1">
    <testcase classname="harness.expectations" name="symbols fetched once">
      <skipped message="no symbols server"/>
    </testcase>
  </testsuite>
</testsuites>
"#;
    assert_eq!(sample().to_xml(), expected);
}

#[test]
fn counts_come_from_the_cases() {
    let report = sample();
    assert_eq!(
        (report.tests(), report.failures(), report.skipped()),
        (3, 1, 1)
    );
    assert!(report.suites[0].cases[1].is_failure());
    assert!(!report.suites[1].cases[0].is_failure());
}

#[test]
fn a_report_parses_back_with_every_case() {
    let parsed = parse(&sample().to_xml()).unwrap();
    assert_eq!((parsed.tests, parsed.failures), (3, 1));
    let cases: Vec<(&str, &str, &str, bool)> = parsed
        .cases
        .iter()
        .map(|c| {
            (
                c.suite.as_str(),
                c.classname.as_str(),
                c.name.as_str(),
                c.failed,
            )
        })
        .collect();
    assert_eq!(
        cases,
        [
            (
                "crashes",
                "harness.crashes.minidump-stackwalk",
                "linux-1",
                false
            ),
            (
                "crashes",
                "harness.crashes.minidump-stackwalk",
                "linux-2",
                true
            ),
            (
                "expectations",
                "harness.expectations",
                "symbols fetched once",
                false
            ),
        ]
    );
}

#[test]
fn a_suite_alone_is_a_document_too() {
    let suite = Suite::new(
        "event-filter audit",
        vec![
            Case::passed("event-filter", "clean.json: event"),
            Case::failed(
                "event-filter",
                "leak.json: event",
                "1 findings",
                "extra.email",
            ),
        ],
    );
    let xml = suite.to_xml();
    assert_eq!(
        xml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="event-filter audit" tests="2" failures="1" errors="0" skipped="0">
  <testcase classname="event-filter" name="clean.json: event"/>
  <testcase classname="event-filter" name="leak.json: event">
    <failure message="1 findings">extra.email</failure>
  </testcase>
</testsuite>
"#
    );
    let parsed = parse(&xml).unwrap();
    assert_eq!((parsed.tests, parsed.failures), (2, 1));
    assert_eq!(parsed.cases[1].suite, "event-filter audit");

    let mut out = Vec::new();
    suite.write_to(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), xml);

    // Skipped cases are counted as in a report.
    let mut skipping = suite.clone();
    skipping.cases[0].outcome = Outcome::Skipped(None);
    assert!(
        skipping
            .to_xml()
            .contains(r#"tests="2" failures="1" errors="0" skipped="1">"#)
    );
    assert!(skipping.to_xml().contains("<skipped/>"));
}

/// What a reader sees of the document: every attribute value, and the text of the failures,
/// decoded.
fn read_back(xml: &str) -> (Vec<String>, String) {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let (mut attributes, mut text) = (Vec::new(), String::new());
    let mut in_failure = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::End(e) => in_failure &= e.name().as_ref() != "failure",
            Event::Start(e) | Event::Empty(e) => {
                in_failure |= e.name().as_ref() == "failure";
                for a in e.attributes() {
                    let a = a.expect("well-formed attribute");
                    attributes.push(
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("decodable attribute")
                            .into_owned(),
                    );
                }
            }
            Event::Text(t) if in_failure => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_failure => {
                match r.resolve_char_ref().expect("valid reference") {
                    Some(c) => text.push(c),
                    None => text.push_str(
                        quick_xml::escape::resolve_predefined_entity(&r)
                            .expect("predefined entity"),
                    ),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (attributes, text)
}

#[test]
fn hostile_text_gives_well_formed_xml() {
    let hostile = "<script>&amp; ]]> \"quoted\" 'single' \0nul \u{1}soh \u{1b}[31mred \u{FFFE} end";
    let readable = "<script>&amp; ]]> \"quoted\" 'single' \u{FFFD}nul \u{FFFD}soh \u{FFFD}[31mred \u{FFFD} end";
    let report = Report {
        name: Some(hostile.into()),
        time: None,
        suites: vec![Suite {
            name: hostile.into(),
            time: None,
            timestamp: Some(hostile.into()),
            cases: vec![Case {
                classname: hostile.into(),
                name: hostile.into(),
                time: None,
                outcome: Outcome::Failed(Failure {
                    message: hostile.into(),
                    kind: Some(hostile.into()),
                    text: hostile.into(),
                }),
            }],
        }],
    };
    let xml = report.to_xml();
    // Nothing XML 1.0 forbids is left, and no markup got through unescaped.
    assert!(
        !xml.chars()
            .any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}'),
        "{xml:?}"
    );
    assert!(!xml.contains("<script") && !xml.contains("]]>"), "{xml}");
    let (attributes, text) = read_back(&xml);
    // Every hostile attribute (all but the counts) reads back as the sanitised text.
    let hostile_attributes: Vec<&String> =
        attributes.iter().filter(|a| a.contains("script")).collect();
    assert_eq!(hostile_attributes.len(), 7, "{attributes:?}");
    assert!(
        hostile_attributes.iter().all(|a| *a == readable),
        "{attributes:?}"
    );
    assert_eq!(text, readable);
    let parsed = parse(&xml).unwrap();
    assert_eq!(parsed.cases[0].name, readable);
    assert!(parsed.cases[0].failed);
}

#[test]
fn parse_rejects_broken_documents() {
    // Unclosed, with counts that do not match.
    assert!(parse(r#"<testsuites tests="1" failures="0"><testsuite name="a">"#).is_err());
    // A case outside any suite.
    assert!(
        parse(r#"<testsuites tests="1" failures="0"><testcase name="x"/></testsuites>"#).is_err()
    );
    // Declared counts that do not match the cases.
    assert!(
        parse(r#"<testsuites tests="2" failures="0"><testsuite name="a"><testcase name="x"/></testsuite></testsuites>"#)
            .is_err()
    );
    assert!(
        parse(r#"<testsuite name="a" tests="1" failures="1"><testcase name="x"/></testsuite>"#)
            .is_err()
    );
    // Mismatched end tags.
    assert!(parse(r#"<testsuites tests="0" failures="0"></testsuite>"#).is_err());
    // No root at all.
    assert!(parse("").is_err());
}
