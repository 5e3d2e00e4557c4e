//! Running a scenario: the pipeline behind `harness run` and `harness demo`.
//!
//! Stages, each timed into the report: `generate` (crash-generator), `upload` (symbols to the
//! symbols server through Tecken's upload API), `submit` (each crash to the collector, whose
//! stored dump is what gets processed), `fetch symbols` (every module's symbols, once, into
//! the shared symbolizer), `process` (the real minidump-processor), `compare` (every frame
//! against ground truth, signatures), `real dumps` (the scenario's folder of real minidumps,
//! when it names one), `stackwalk` (the external minidump-stackwalk, when configured),
//! `sentry-native` (the crashes of entries with `submit = [.., "sentry"]` sent to fake-sentry as
//! sentry-native sends them, its processing awaited and checked), `faults` (each injected
//! symbols fault with a fresh cache), `audit` (the sample component, then every captured item
//! against the policy), `report`. [`run_with`] reads as that list.
//!
//! Each crash a processor of the run made something of is also kept as Socorro's processor
//! would keep it (`socorro`): the report's `crashes/<crash>.json`, whose signature is the one
//! the report gives and checks.

pub mod corpus;
mod expectations;
pub mod faults;
pub mod outcome;
pub mod sentry_native;
mod socorro;
mod stages;
mod submit;
pub mod symbols_server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::collector::CollectorConfig;
use crate::report::RunReport;
use crate::scenario::{Scenario, Service};
use crate::services::{self, RunningCollector};
use stages::{Crashes, Pipeline};

/// The in-process processor's name in reports.
pub const IN_PROCESS: &str = "minidump-processor";
/// The external stackwalker's name in reports.
pub const STACKWALK: &str = "minidump-stackwalk";
pub use sentry_native::FAKE_SENTRY;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show progress bars (off in tests and when stderr is not a terminal).
    pub progress: bool,
    /// Overrides the scenario's external stackwalker.
    pub stackwalk: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Services(#[from] services::ServiceError),
    #[error(transparent)]
    Symbols(#[from] symbols_server::SymbolsServerError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Component(#[from] crate::component::ComponentError),
    #[error(transparent)]
    Stackwalk(#[from] crate::processor::StackwalkError),
    #[error(transparent)]
    SentryNative(#[from] sentry_native::SentryNativeError),
    #[error("{0}")]
    Setup(String),
}

/// The services a run uses: built-in ones it started, or the user's URLs.
pub struct RunServices {
    pub sentry: Option<fake_sentry::testing::FakeSentry>,
    pub sentry_url: Option<String>,
    pub symbols: Option<fake_symbols::testing::FakeSymbols>,
    pub symbols_url: Option<String>,
    pub collector: Option<RunningCollector>,
    pub collector_url: Option<String>,
}

impl RunServices {
    pub async fn start(scenario: &Scenario) -> Result<Self, RunError> {
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let (symbols, symbols_url) = match &scenario.services.fake_symbols {
            Service::Builtin => {
                let s = services::start_symbols(any).await?;
                let url = s.url();
                (Some(s), Some(url))
            }
            Service::External(url) => (None, Some(url.clone())),
            Service::Disabled => (None, None),
        };
        let (sentry, sentry_url) = match &scenario.services.fake_sentry {
            Service::Builtin => {
                let s =
                    services::start_sentry(any, sentry_processing(scenario, &symbols_url)).await?;
                let url = s.url();
                (Some(s), Some(url))
            }
            Service::External(url) => (None, Some(url.clone())),
            Service::Disabled => (None, None),
        };
        let (collector, collector_url) = match &scenario.services.collector {
            Service::Builtin => {
                let c = RunningCollector::start(any, CollectorConfig::default()).await?;
                let url = c.url();
                (Some(c), Some(url))
            }
            Service::External(url) => (None, Some(url.clone())),
            Service::Disabled => (None, None),
        };
        Ok(Self {
            sentry,
            sentry_url,
            symbols,
            symbols_url,
            collector,
            collector_url,
        })
    }

    /// The DSN for `project` on the run's fake-sentry.
    pub fn dsn(&self, project: u64) -> Option<String> {
        if let Some(s) = &self.sentry {
            return Some(s.dsn(project));
        }
        let url = self.sentry_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        Some(format!("{scheme}://public@{rest}/{project}"))
    }

    pub async fn shutdown(self) {
        if let Some(c) = self.collector {
            c.shutdown().await;
        }
        if let Some(s) = self.symbols {
            s.shutdown().await;
        }
        if let Some(s) = self.sentry {
            s.shutdown().await;
        }
    }
}

/// How a built-in fake-sentry processes minidumps: symbols from the run's symbols server,
/// with the scenario's download timeout, on as many workers as the processor's concurrency
/// (at most one per core: they run at the lowest priority, and the run waits for them).
fn sentry_processing(
    scenario: &Scenario,
    symbols_url: &Option<String>,
) -> fake_sentry::config::NativeConfig {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    fake_sentry::config::NativeConfig {
        symbol_urls: symbols_url.iter().cloned().collect(),
        workers: scenario.processor.concurrency.min(cores),
        download_timeout: Duration::from_secs(scenario.processor.symbols_download_timeout_secs),
        ..Default::default()
    }
}

fn bar(options: &RunOptions, len: u64, what: &str) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A crash ready for processing: its dump as the collector stored it.
pub(crate) struct Submitted {
    pub(crate) name: String,
    pub(crate) crash_id: Option<String>,
    pub(crate) dump: Vec<u8>,
    pub(crate) raw_crash: Value,
}

/// Runs `scenario` with services it starts itself, and stops them afterwards.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport, RunError> {
    let services = RunServices::start(scenario).await?;
    let result = run_with(scenario, options, &services).await;
    services.shutdown().await;
    result
}

/// Runs `scenario` against already running services (what `--keep-running` uses).
///
/// One line per stage, in the order they run (the module doc names the timings each records);
/// a stage the scenario does not ask for does nothing and records no time.
pub async fn run_with(
    scenario: &Scenario,
    options: &RunOptions,
    services: &RunServices,
) -> Result<RunReport, RunError> {
    let mut run = Pipeline::new(scenario, options, services)?;
    let generated = run.generate().await?;
    let request_log = run.upload(&generated).await?;
    let submitted = run.submit(&generated).await?;
    let crashes = Crashes {
        generated,
        submitted,
    };
    let in_process_json = run.process(&crashes, request_log).await?;
    run.real_dumps().await?;
    run.stackwalk(&crashes, &in_process_json).await?;
    run.sentry_native(&crashes, &in_process_json).await?;
    run.faults(&crashes).await?;
    run.audit().await?;
    Ok(run.finish(request_log))
}
