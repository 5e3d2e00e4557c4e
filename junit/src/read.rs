//! Reading a JUnit document back, to check what the writers produced.

use quick_xml::Reader;
use quick_xml::events::Event;

/// A parsed JUnit document: its cases, and their counts.
#[derive(Debug, Default, PartialEq)]
pub struct ParsedJunit {
    pub tests: usize,
    pub failures: usize,
    pub cases: Vec<ParsedCase>,
}

/// One `<testcase>` of a parsed document.
#[derive(Debug, PartialEq)]
pub struct ParsedCase {
    /// The name of the enclosing `<testsuite>`.
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// Whether it holds a `<failure>` or an `<error>`.
    pub failed: bool,
}

/// Why a document is not valid JUnit.
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
/// the root's (`testsuites`, or a lone `testsuite`) `tests`/`failures` counts equal to the
/// cases found.
pub fn parse(xml: &str) -> Result<ParsedJunit, JunitError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut parsed = ParsedJunit::default();
    let mut declared: Option<(usize, usize)> = None;
    let mut seen_root = false;
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
            let is_root = !std::mem::replace(&mut seen_root, true);
            let element = start.name().as_ref().to_owned();
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
                    .ok_or_else(|| JunitError::Structure(format!("{element} has no {key}")))?
                    .parse()
                    .map_err(|_| JunitError::Structure(format!("{key} is not a number")))
            };
            match element.as_str() {
                "testsuites" => declared = Some((number("tests")?, number("failures")?)),
                "testsuite" => {
                    if is_root {
                        declared = Some((number("tests")?, number("failures")?));
                    }
                    suite = attr("name")?;
                }
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
