//! `harness`: the end-to-end runner of the Understudy suite, and its front door.
//!
//! A run ([`run::run`]) starts the fakes ([`services`]: fake-sentry, fake-symbols and the
//! Antenna-compatible [`collector`]), generates crashes with crash-generator, uploads their
//! symbols, submits the crashes, runs the real processor ([`processor`]: minidump-processor
//! in-process over HTTP, and optionally an external minidump-stackwalk with Socorro's flags),
//! checks every frame against ground truth, injects symbols faults, runs the sample
//! Sentry-instrumented [`component`] and [`audit`]s everything fake-sentry captured, then
//! writes the [`report`] (terminal, JSON, JUnit XML, HTML).
//!
//! What a run does is a [`scenario::Scenario`] (TOML); [`demo`] embeds the built-in one.
//! [`diff`] compares two processed crashes frame by frame (`harness diff`, socc-pair style);
//! [`signature`] computes Socorro-style signatures; [`cli`] is the command line (the demo is
//! timed by the workspace's `bench` crate: `bench harness`).
//!
//! From a Rust test elsewhere:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let scenario = harness::scenario::Scenario::from_toml(
//!     r#"
//!     name = "smoke"
//!     [[corpus.generated]]
//!     profile = "linux"
//!     crashes = 5
//!     "#,
//!     std::path::Path::new("inline"),
//!     ".".into(),
//! )?;
//! let report = harness::run::run(&scenario, &Default::default()).await?;
//! assert!(report.passed, "{}", harness::report::terminal::render(&report));
//! # Ok(()) }
//! ```

pub mod audit;
pub mod cli;
pub mod collector;
pub mod component;
pub mod demo;
pub mod diff;
pub mod processor;
pub mod report;
pub mod run;
pub mod scenario;
pub mod services;
pub mod signature;
