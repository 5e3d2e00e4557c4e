//! `harness`: the end-to-end runner of the Understudy suite, and its front door.
//!
//! A run ([`run`]) starts the fakes ([`services`]: fake-sentry, fake-symbols and the
//! Antenna-compatible [`collector`]), generates crashes with crash-generator, uploads their
//! symbols, submits the crashes, runs the real processor ([`processor`]: minidump-processor
//! in-process over HTTP, and optionally an external minidump-stackwalk with Socorro's flags),
//! checks every frame against ground truth, sends the crashes a scenario marks
//! `submit = [.., "sentry"]` to fake-sentry as sentry-native does and checks what fake-sentry's
//! own processing made of them (frames against ground truth, its signature against the
//! in-process one: the [`FAKE_SENTRY`] results), injects symbols faults, runs the sample
//! Sentry-instrumented [`component`] and audits everything fake-sentry captured, then writes
//! the [`report`] (terminal, JSON, JUnit XML, HTML, and every processed crash in the shape
//! Socorro's processor stores, with the signature the report gives, which siggen reads
//! unchanged).
//!
//! The public surface: at the crate root, [`run`] and [`run_with`] with their [`RunOptions`],
//! [`RunServices`] and [`RunError`] (with [`AuditError`], [`SymbolsServerError`] and
//! [`SentryNativeError`] that it wraps), the processor names results carry ([`IN_PROCESS`],
//! [`STACKWALK`], [`FAKE_SENTRY`]), the [`Scenario`] they run ([`demo_scenario`] is the
//! built-in one), the [`RunReport`] they return, and [`signature`] (Socorro-style signatures of
//! any processed-crash JSON). Public modules are the namespaces a user works in:
//! [`scenario`] (the scenario file, one type per section), [`report`] (the report and its four
//! renderers), [`collector`] (the collector, usable on its own), [`services`] (starting the
//! fakes), [`processor`] (the two processors), [`component`] (the sample program and the
//! secrets it leaks), [`diff`] (two processed crashes compared frame by frame, `harness diff`,
//! socc-pair style) and [`cli`] (the command line, which the `harness` binary and the suite's
//! multi-call `understudy` binary run; the demo is timed by the workspace's `bench` crate:
//! `bench harness`).
//!
//! Private: `run` (the pipeline, one function per stage), `audit` (fake-sentry's captures
//! against the policy) and `demo`.
//!
//! From a Rust test elsewhere:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let scenario = harness::Scenario::from_toml(
//!     r#"
//!     name = "smoke"
//!     [[corpus.generated]]
//!     profile = "linux"
//!     crashes = 5
//!     "#,
//!     std::path::Path::new("inline"),
//!     ".".into(),
//! )?;
//! let report = harness::run(&scenario, &Default::default()).await?;
//! assert!(report.passed, "{}", harness::report::terminal::render(&report));
//! # Ok(()) }
//! ```

mod audit;
pub mod cli;
pub mod collector;
pub mod component;
mod demo;
pub mod diff;
pub mod processor;
pub mod report;
mod run;
pub mod scenario;
pub mod services;

pub use audit::AuditError;
/// Socorro-style signatures live in their own crate, which fake-sentry shares.
pub use crash_signature::signature;
pub use demo::{DEMO_TOML, scenario as demo_scenario};
pub use report::RunReport;
pub use run::sentry_native::SentryNativeError;
pub use run::symbols_server::SymbolsServerError;
pub use run::{
    FAKE_SENTRY, IN_PROCESS, RunError, RunOptions, RunServices, STACKWALK, run, run_with,
};
pub use scenario::Scenario;
