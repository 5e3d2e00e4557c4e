//! Writing the model as XML with quick-xml: two-space indentation, an XML declaration, a
//! final newline.

use std::borrow::Cow;
use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::{Case, Outcome, Report, Suite};

impl Report {
    /// The document as a string.
    pub fn to_xml(&self) -> String {
        to_string(|out| self.write_to(out))
    }

    /// Writes the document to `out`.
    pub fn write_to(&self, out: impl Write) -> io::Result<()> {
        let mut w = start(out)?;
        let mut root = BytesStart::new("testsuites");
        if let Some(name) = &self.name {
            root.push_attribute(("name", xml_chars(name).as_ref()));
        }
        root.push_attribute(("tests", self.tests().to_string().as_str()));
        root.push_attribute(("failures", self.failures().to_string().as_str()));
        root.push_attribute(("errors", "0"));
        if let Some(time) = self.time {
            root.push_attribute(("time", seconds(time).as_str()));
        }
        w.write_event(Event::Start(root))?;
        for suite in &self.suites {
            write_suite(&mut w, suite)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuites")))?;
        finish(w)
    }
}

impl Suite {
    /// This suite alone as a document, with `<testsuite>` as its root.
    pub fn to_xml(&self) -> String {
        to_string(|out| self.write_to(out))
    }

    /// Writes this suite alone as a document to `out`.
    pub fn write_to(&self, out: impl Write) -> io::Result<()> {
        let mut w = start(out)?;
        write_suite(&mut w, self)?;
        finish(w)
    }
}

fn to_string(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail, and everything written is valid UTF-8.
    let _ = write(&mut bytes);
    String::from_utf8(bytes).unwrap_or_default()
}

fn start<W: Write>(out: W) -> io::Result<Writer<W>> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(w)
}

fn finish<W: Write>(w: Writer<W>) -> io::Result<()> {
    let mut out = w.into_inner();
    out.write_all(b"\n")?;
    out.flush()
}

fn write_suite<W: Write>(w: &mut Writer<W>, suite: &Suite) -> io::Result<()> {
    let mut start = BytesStart::new("testsuite");
    start.push_attribute(("name", xml_chars(&suite.name).as_ref()));
    start.push_attribute(("tests", suite.tests().to_string().as_str()));
    start.push_attribute(("failures", suite.failures().to_string().as_str()));
    start.push_attribute(("errors", "0"));
    start.push_attribute(("skipped", suite.skipped().to_string().as_str()));
    if let Some(time) = suite.time {
        start.push_attribute(("time", seconds(time).as_str()));
    }
    if let Some(timestamp) = &suite.timestamp {
        start.push_attribute(("timestamp", xml_chars(timestamp).as_ref()));
    }
    w.write_event(Event::Start(start))?;
    for case in &suite.cases {
        write_case(w, case)?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuite")))
}

fn write_case<W: Write>(w: &mut Writer<W>, case: &Case) -> io::Result<()> {
    let mut start = BytesStart::new("testcase");
    start.push_attribute(("classname", xml_chars(&case.classname).as_ref()));
    start.push_attribute(("name", xml_chars(&case.name).as_ref()));
    if let Some(time) = case.time {
        start.push_attribute(("time", seconds(time).as_str()));
    }
    match &case.outcome {
        Outcome::Passed => return w.write_event(Event::Empty(start)),
        Outcome::Failed(failure) => {
            w.write_event(Event::Start(start))?;
            let mut element = BytesStart::new("failure");
            element.push_attribute(("message", xml_chars(&failure.message).as_ref()));
            if let Some(kind) = &failure.kind {
                element.push_attribute(("type", xml_chars(kind).as_ref()));
            }
            w.write_event(Event::Start(element))?;
            w.write_event(Event::Text(BytesText::new(&xml_chars(&failure.text))))?;
            w.write_event(Event::End(BytesEnd::new("failure")))?;
        }
        Outcome::Skipped(message) => {
            w.write_event(Event::Start(start))?;
            let mut element = BytesStart::new("skipped");
            if let Some(message) = message {
                element.push_attribute(("message", xml_chars(message).as_ref()));
            }
            w.write_event(Event::Empty(element))?;
        }
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// Seconds with millisecond precision, as JUnit readers expect.
fn seconds(seconds: f64) -> String {
    format!("{seconds:.3}")
}

/// `text` with every character XML 1.0 cannot carry, even escaped, replaced by U+FFFD: control
/// characters other than tab, newline and carriage return, and U+FFFE and U+FFFF. Markup is
/// left to quick-xml's escaping.
fn xml_chars(text: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    }
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars_replaces_only_what_xml_cannot_carry() {
        assert!(matches!(xml_chars("a\tb\nc\r<&>"), Cow::Borrowed(_)));
        assert_eq!(xml_chars("a\0b\u{1b}c\u{7f}"), "a\u{FFFD}b\u{FFFD}c\u{7f}");
        assert_eq!(
            xml_chars("\u{FFFE}\u{FFFF}\u{FFFD}"),
            "\u{FFFD}\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn seconds_have_three_decimals() {
        assert_eq!(seconds(1.23456), "1.235");
        assert_eq!(seconds(0.0), "0.000");
    }
}
