//! `junit`: the JUnit XML that CI systems (GitLab, Jenkins, GitHub reporters) display, written
//! in one place for the whole suite.
//!
//! JUnit XML has no formal specification; this crate writes the common subset every CI reader
//! accepts, as popularised by Ant and Maven Surefire:
//!
//! ```text
//! <testsuites name tests failures errors time>       a Report
//!   <testsuite name tests failures errors skipped time timestamp>   a Suite
//!     <testcase classname name time/>                 a Case that passed
//!     <testcase classname name time>
//!       <failure message type>text</failure>          ... that failed
//!     </testcase>
//!     <testcase ...><skipped message/></testcase>     ... that was skipped
//! ```
//!
//! Optional attributes (`time`, `timestamp`, the failure's `type`, ...) are written only when
//! set. A single [`Suite`] can also be a document of its own ([`Suite::to_xml`]), with
//! `<testsuite>` as its root and the same attributes it has inside a [`Report`].
//!
//! # The parts
//! - The model: [`Report`], [`Suite`], [`Case`], [`Outcome`] and [`Failure`], plain data that
//!   callers build from their own results; counts (`tests`, `failures`, `skipped`) are derived
//!   from the cases, so they cannot disagree with them.
//! - Writing (`write`): [`Report::to_xml`] / [`Report::write_to`] and the same on [`Suite`].
//!   quick-xml escapes markup (`<`, `&`, `"`, `]]>`), and characters XML 1.0 cannot carry at all
//!   (control characters other than tab, newline and carriage return, `U+FFFE`, `U+FFFF`) are
//!   replaced with `U+FFFD`, so any text gives a well-formed document.
//! - Reading (`read`): [`parse`] checks a document (well formed, cases inside suites, declared
//!   counts equal to the cases found) and lists its cases, for tests of the writers' callers.
//!
//! ```
//! use junit::{Case, Report, Suite};
//!
//! let report = Report {
//!     name: Some("nightly".into()),
//!     time: Some(1.5),
//!     suites: vec![Suite::new(
//!         "audit",
//!         vec![
//!             Case::passed("audit.event", "event 1"),
//!             Case::failed("audit.event", "event 2", "1 finding", "extra.password [email]"),
//!         ],
//!     )],
//! };
//! let xml = report.to_xml();
//! assert!(xml.contains(r#"<failure message="1 finding">extra.password [email]</failure>"#));
//!
//! let parsed = junit::parse(&xml).unwrap();
//! assert_eq!((parsed.tests, parsed.failures), (2, 1));
//! ```

mod read;
mod write;

pub use read::{JunitError, ParsedCase, ParsedJunit, parse};

/// A whole JUnit document: a `<testsuites>` root around its suites.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The root's `name` (e.g. the scenario that ran).
    pub name: Option<String>,
    /// Total duration in seconds, the root's `time`.
    pub time: Option<f64>,
    pub suites: Vec<Suite>,
}

/// One `<testsuite>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    /// Duration in seconds.
    pub time: Option<f64>,
    /// When the suite started, ISO 8601 (written as given).
    pub timestamp: Option<String>,
    pub cases: Vec<Case>,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Dotted group the CI groups cases by (`harness.crashes.minidump-stackwalk`).
    pub classname: String,
    pub name: String,
    /// Duration in seconds.
    pub time: Option<f64>,
    pub outcome: Outcome,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// Skipped, with an optional reason.
    Skipped(Option<String>),
}

/// A `<failure>`: a one-line `message`, an optional `type`, and the full text (a readable
/// diff, a list of findings) as the element's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    /// The `type` attribute (`AssertionError`).
    pub kind: Option<String>,
    pub text: String,
}

impl Report {
    /// All cases of all suites.
    pub fn tests(&self) -> usize {
        self.suites.iter().map(Suite::tests).sum()
    }

    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.suites.iter().map(Suite::failures).sum()
    }

    /// Cases that were skipped.
    pub fn skipped(&self) -> usize {
        self.suites.iter().map(Suite::skipped).sum()
    }
}

impl Suite {
    /// A suite of `cases`, without time or timestamp.
    pub fn new(name: impl Into<String>, cases: Vec<Case>) -> Suite {
        Suite {
            name: name.into(),
            time: None,
            timestamp: None,
            cases,
        }
    }

    pub fn tests(&self) -> usize {
        self.cases.len()
    }

    pub fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| which(&c.outcome)).count()
    }
}

impl Case {
    /// A case that passed, without time.
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> Case {
        Case {
            classname: classname.into(),
            name: name.into(),
            time: None,
            outcome: Outcome::Passed,
        }
    }

    /// A case that failed with `message` and `text`, without time or failure type.
    pub fn failed(
        classname: impl Into<String>,
        name: impl Into<String>,
        message: impl Into<String>,
        text: impl Into<String>,
    ) -> Case {
        Case {
            classname: classname.into(),
            name: name.into(),
            time: None,
            outcome: Outcome::Failed(Failure {
                message: message.into(),
                kind: None,
                text: text.into(),
            }),
        }
    }

    /// Whether the case failed.
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}
