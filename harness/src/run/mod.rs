//! Running a scenario: the pipeline behind `harness run` and `harness demo`.
//!
//! Stages, each timed into the report: `generate` (crash-generator), `upload` (symbols to the
//! symbols server through Tecken's upload API), `submit` (each crash to the collector, whose
//! stored dump is what gets processed), `fetch symbols` (every module's symbols, once, into
//! the shared symbolizer), `process` (the real minidump-processor), `compare` (every frame
//! against ground truth, signatures), `real dumps` (the scenario's folder of real minidumps,
//! when it names one), `stackwalk` (the external minidump-stackwalk, when configured), `faults`
//! (each injected symbols fault with a fresh cache), `audit` (the sample component, then every
//! captured item against the policy), `report`. [`run_with`] reads as that list.

pub mod corpus;
pub mod faults;
pub mod outcome;
pub mod symbols_server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use event_filter::Auditor;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::SentryAudit;
use crate::collector::CollectorConfig;
use crate::diff;
use crate::processor::{InProcess, Stackwalk, to_json};
use crate::report::{Check, CrashOutcome, Mismatch, RunReport, SCHEMA_VERSION};
use crate::scenario::{Scenario, Service};
use crate::services::{self, RunningCollector, UPLOAD_TOKEN};
use corpus::GeneratedCrash;
use outcome::{Processed, crash_outcome, top_functions};
use symbols_server::SymbolsServer;

/// The in-process processor's name in reports.
pub const IN_PROCESS: &str = "minidump-processor";
/// The external stackwalker's name in reports.
pub const STACKWALK: &str = "minidump-stackwalk";

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
        let (sentry, sentry_url) = match &scenario.services.fake_sentry {
            Service::Builtin => {
                let s = services::start_sentry(any).await?;
                let url = s.url();
                (Some(s), Some(url))
            }
            Service::External(url) => (None, Some(url.clone())),
            Service::Disabled => (None, None),
        };
        let (symbols, symbols_url) = match &scenario.services.fake_symbols {
            Service::Builtin => {
                let s = services::start_symbols(any).await?;
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
    run.faults(&crashes).await?;
    run.audit().await?;
    Ok(run.finish(&crashes, &in_process_json, request_log))
}

/// One run in progress: what every stage reads (the scenario, the services, the settings) and
/// the report the stages add to.
struct Pipeline<'a> {
    scenario: &'a Scenario,
    options: &'a RunOptions,
    services: &'a RunServices,
    /// The symbols server, when the run has one.
    symbols: Option<SymbolsServer>,
    /// The symbols server's URL for the processors (none, or one).
    symbol_urls: Vec<String>,
    /// Each processor's symbol cache and scratch files; removed when the run ends.
    work: tempfile::TempDir,
    /// Socorro's symbol download timeout, for every processor.
    timeout: Duration,
    started: Instant,
    report: RunReport,
}

/// The crashes a run generated and what the collector stored of each, in the same order.
struct Crashes {
    generated: Vec<GeneratedCrash>,
    submitted: Vec<Submitted>,
}

impl<'a> Pipeline<'a> {
    /// Starts the clock and the report, and creates the work folder.
    fn new(
        scenario: &'a Scenario,
        options: &'a RunOptions,
        services: &'a RunServices,
    ) -> Result<Self, RunError> {
        let started = Instant::now();
        let report = RunReport {
            schema_version: SCHEMA_VERSION,
            scenario: scenario.name.clone(),
            started_at: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ..RunReport::default()
        };
        let work = tempfile::Builder::new()
            .prefix("harness-")
            .tempdir()
            .map_err(|e| RunError::Setup(format!("cannot create a work folder: {e}")))?;
        Ok(Self {
            scenario,
            options,
            services,
            symbols: services.symbols_url.as_deref().map(SymbolsServer::new),
            symbol_urls: services.symbols_url.iter().cloned().collect(),
            work,
            timeout: Duration::from_secs(scenario.processor.symbols_download_timeout_secs),
            started,
            report,
        })
    }

    /// `generate`: the scenario's synthetic crashes, each with its dump, sym files and ground
    /// truth (crash-generator, on a blocking thread).
    async fn generate(&mut self) -> Result<Vec<GeneratedCrash>, RunError> {
        let t = Instant::now();
        let total: u64 = self
            .scenario
            .corpus
            .generated
            .iter()
            .map(|g| u64::from(g.crashes))
            .sum();
        let progress = bar(self.options, total, "generate");
        let generated = {
            let scenario = self.scenario.clone();
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || corpus::generate(&scenario, &progress))
                .await
                .map_err(|e| RunError::Setup(format!("generation panicked: {e}")))?
                .map_err(RunError::Setup)?
        };
        progress.finish_and_clear();
        self.report.add_stage("generate", ms(t));
        Ok(generated)
    }

    /// `upload`: every generated sym file to the symbols server through Tecken's upload API,
    /// then a clean request log so that only the processors' downloads are counted.
    ///
    /// Returns whether the server keeps a request log (fake-symbols, built in or a container,
    /// does; another symbols server may not).
    async fn upload(&mut self, generated: &[GeneratedCrash]) -> Result<bool, RunError> {
        let Some(server) = &self.symbols else {
            return Ok(false);
        };
        if !generated.is_empty() {
            let t = Instant::now();
            let token = self
                .scenario
                .services
                .symbols_upload_token
                .clone()
                .unwrap_or_else(|| UPLOAD_TOKEN.to_string());
            server.upload(&corpus::sym_files(generated), &token).await?;
            self.report.add_stage("upload", ms(t));
        }
        Ok(server.try_clear_requests().await?)
    }

    /// `submit`: each crash to the collector, keeping the dump and annotations it stored; without
    /// a collector, the generated ones (and no time recorded).
    async fn submit(&mut self, generated: &[GeneratedCrash]) -> Result<Vec<Submitted>, RunError> {
        let t = Instant::now();
        let submitted = submit_to_collector(generated, self.services, self.options).await?;
        if self.services.collector_url.is_some() {
            self.report.add_stage("submit", ms(t));
        }
        Ok(submitted)
    }

    /// `fetch symbols`, `process` and `compare`, when the scenario uses the in-process
    /// processor: every module's symbols once into the shared symbolizer, every submitted dump
    /// through minidump-processor, every result against its ground truth; then the symbols
    /// server's traffic when it logged requests.
    ///
    /// Returns each crash's processed JSON by index (all `None` without the in-process
    /// processor).
    async fn process(
        &mut self,
        crashes: &Crashes,
        request_log: bool,
    ) -> Result<Vec<Option<Value>>, RunError> {
        let Crashes {
            generated,
            submitted,
        } = crashes;
        let mut in_process_json: Vec<Option<Value>> = vec![None; submitted.len()];
        let settings = &self.scenario.processor;
        if !settings.in_process {
            return Ok(in_process_json);
        }
        let processor = InProcess::new(
            self.symbol_urls.clone(),
            &self.work.path().join("in-process"),
            self.timeout,
        );
        // fetch symbols
        let t = Instant::now();
        let dumps: Vec<&[u8]> = submitted.iter().map(|s| s.dump.as_slice()).collect();
        processor.prefetch(&dumps, settings.concurrency).await;
        self.report.add_stage("fetch symbols", ms(t));
        // process
        let t = Instant::now();
        let progress = bar(self.options, submitted.len() as u64, "process");
        let results = process_all(&processor, submitted, settings.concurrency, &progress).await;
        progress.finish_and_clear();
        self.report.add_stage("process", ms(t));
        // compare
        let t = Instant::now();
        for (i, (processed, millis)) in results.into_iter().enumerate() {
            let s = &submitted[i];
            let truth = generated.get(i).map(|g| &g.truth);
            let outcome = crash_outcome(
                &s.name,
                IN_PROCESS,
                s.crash_id.clone(),
                &processed,
                truth,
                millis,
            );
            if let Processed::Json(json) = processed {
                in_process_json[i] = Some(json);
            }
            self.report.crashes.push(outcome);
        }
        self.report.add_stage("compare", ms(t));
        if let Some(server) = &self.symbols
            && request_log
        {
            self.report.symbols = symbols_server::traffic(&server.downloads().await?);
        }
        Ok(in_process_json)
    }

    /// `real dumps`: the scenario's folder of real minidumps, when it names one, through the
    /// in-process processor with a cache of their own (no ground truth to compare with).
    async fn real_dumps(&mut self) -> Result<(), RunError> {
        let Some(dir) = self.scenario.dumps_dir() else {
            return Ok(());
        };
        let t = Instant::now();
        let processor = InProcess::new(
            self.symbol_urls.clone(),
            &self.work.path().join("real"),
            self.timeout,
        );
        for (name, path) in corpus::real_dumps(&dir).map_err(RunError::Setup)? {
            let started = Instant::now();
            let processed = match std::fs::read(&path) {
                Ok(bytes) => match processor.process(&bytes).await {
                    Ok(state) => Processed::Json(to_json(&state)),
                    Err(e) => Processed::Failed(e.name),
                },
                Err(e) => Processed::Failed(format!("Unreadable: {e}")),
            };
            self.report.crashes.push(crash_outcome(
                &name,
                IN_PROCESS,
                None,
                &processed,
                None,
                ms(started),
            ));
        }
        self.report.add_stage("real dumps", ms(t));
        Ok(())
    }

    /// `stackwalk`: every submitted dump through the external minidump-stackwalk, run as
    /// Socorro runs it, when the options or the scenario name one. Each result is compared with
    /// its ground truth and, when the scenario expects the processors to agree, with the
    /// in-process JSON.
    async fn stackwalk(
        &mut self,
        crashes: &Crashes,
        in_process_json: &[Option<Value>],
    ) -> Result<(), RunError> {
        let scenario = self.scenario;
        let Some(binary) = self
            .options
            .stackwalk
            .clone()
            .or_else(|| scenario.stackwalk())
        else {
            return Ok(());
        };
        let Crashes {
            generated,
            submitted,
        } = crashes;
        let t = Instant::now();
        let walker = Stackwalk {
            binary,
            symbol_urls: self.symbol_urls.clone(),
            work_dir: self.work.path().join("stackwalk"),
            download_timeout: self.timeout,
            kill_timeout: Duration::from_secs(scenario.processor.kill_timeout_secs),
        };
        walker.version().await?;
        let progress = bar(self.options, submitted.len() as u64, "stackwalk");
        let outcomes: Vec<CrashOutcome> = futures::stream::iter(submitted.iter().enumerate())
            .map(|(i, s)| {
                let walker = &walker;
                let progress = &progress;
                let truth = generated.get(i).map(|g| &g.truth);
                let reference = in_process_json[i].as_ref();
                let expect_agree = scenario.expect.processors_agree;
                async move {
                    let started = Instant::now();
                    let processed = match walker.process(&s.name, &s.dump, &s.raw_crash).await {
                        Ok(out) if out.status == "OK" => Processed::Json(out.json),
                        Ok(out) => Processed::Failed(out.status),
                        Err(e) => Processed::Failed(e.to_string()),
                    };
                    let mut outcome = crash_outcome(
                        &s.name,
                        STACKWALK,
                        s.crash_id.clone(),
                        &processed,
                        truth,
                        ms(started),
                    );
                    if let (true, Some(reference), Processed::Json(json)) =
                        (expect_agree, reference, &processed)
                    {
                        let differences = diff::compare(reference, json);
                        for d in differences.differences {
                            outcome.mismatches.push(Mismatch {
                                path: format!("vs {IN_PROCESS}: {}", d.path),
                                expected: d.left,
                                actual: d.right,
                            });
                            outcome.passed = false;
                        }
                    }
                    progress.inc(1);
                    outcome
                }
            })
            .buffered(2)
            .collect()
            .await;
        progress.finish_and_clear();
        self.report.crashes.extend(outcomes);
        self.report.add_stage("stackwalk", ms(t));
        Ok(())
    }

    /// `faults`: each symbols-server fault the scenario injects, with a fresh cache, against the
    /// submitted dumps.
    async fn faults(&mut self, crashes: &Crashes) -> Result<(), RunError> {
        if self.scenario.faults.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let server = self
            .symbols
            .as_ref()
            .ok_or_else(|| RunError::Setup("faults need a symbols server".into()))?;
        for (i, fault) in self.scenario.faults.iter().enumerate() {
            let outcome = faults::run_fault(
                fault,
                server,
                &crashes.submitted,
                &crashes.generated,
                &self.work.path().join(format!("fault-{i}")),
                self.timeout,
                self.scenario.processor.concurrency,
            )
            .await?;
            self.report.faults.push(outcome);
        }
        self.report.add_stage("faults", ms(t));
        Ok(())
    }

    /// `audit`: when the scenario asks for one, runs the sample component against fake-sentry
    /// (if configured) and waits for its events, then checks every item fake-sentry captured for
    /// the project against the policy.
    async fn audit(&mut self) -> Result<(), RunError> {
        let Some(audit) = &self.scenario.audit else {
            return Ok(());
        };
        let t = Instant::now();
        let policy = self.scenario.policy(audit).map_err(RunError::Setup)?;
        let url = self
            .services
            .sentry_url
            .clone()
            .ok_or_else(|| RunError::Setup("audit needs fake-sentry".into()))?;
        let mut checker = SentryAudit::new(&url, audit.project);
        if let Some(component) = &audit.component {
            // Audit what this run's component sends, not what a long-lived fake-sentry
            // already held.
            checker.skip_existing().await?;
            let dsn = self
                .services
                .dsn(component.project)
                .ok_or_else(|| RunError::Setup("no DSN for fake-sentry".into()))?;
            let scrub = component.scrub.then(|| policy.clone());
            let (leak, orders) = (component.leak, component.orders);
            let run = tokio::task::spawn_blocking(move || {
                crate::component::run(&dsn, leak, scrub.as_ref(), orders)
            })
            .await
            .map_err(|e| RunError::Setup(format!("the component panicked: {e}")))??;
            checker
                .wait_for(run.events, Duration::from_secs(audit.wait_secs))
                .await?;
        }
        self.report.audit = checker.audit(&Auditor::new(policy)).await?;
        self.report.add_stage("audit", ms(t));
        Ok(())
    }

    /// `report`: the scenario's expectations checked against what the stages found, the total
    /// time (and its limit), and the verdict.
    fn finish(
        mut self,
        crashes: &Crashes,
        in_process_json: &[Option<Value>],
        request_log: bool,
    ) -> RunReport {
        let scenario = self.scenario;
        expectations(
            scenario,
            &mut self.report,
            in_process_json,
            &crashes.submitted,
            request_log,
        );
        let report = &mut self.report;
        report.duration_ms = ms(self.started);
        if let Some(max) = scenario.expect.max_seconds {
            let seconds = report.duration_ms / 1000.0;
            report.expectations.push(Check {
                name: "run time (s)".into(),
                expected: format!("<= {max}"),
                actual: format!("{seconds:.1}"),
                passed: seconds <= max,
            });
        }
        report.settle();
        self.report
    }
}

/// Each generated crash through the collector's `/submit`, and what the collector stored of it:
/// the built-in collector's in memory, another's through its read API, else the generated bytes.
async fn submit_to_collector(
    generated: &[GeneratedCrash],
    services: &RunServices,
    options: &RunOptions,
) -> Result<Vec<Submitted>, RunError> {
    use crash_generator::submission::{Submission, boundary_for, build};
    let Some(url) = services.collector_url.as_deref() else {
        return Ok(generated
            .iter()
            .map(|g| Submitted {
                name: g.name.clone(),
                crash_id: None,
                dump: g.crash.minidump_bytes().to_vec(),
                raw_crash: serde_json::to_value(&g.crash.profile.annotations).unwrap_or_default(),
            })
            .collect());
    };
    let client = reqwest::Client::new();
    let submit_url = format!("{url}/submit");
    let progress = bar(options, generated.len() as u64, "submit");
    let mut out = Vec::with_capacity(generated.len());
    for g in generated {
        let submission = Submission::for_crash(&g.crash);
        let encoded = build(&submission, &boundary_for(g.crash.seed));
        let mut request = client
            .post(&submit_url)
            .header(reqwest::header::CONTENT_TYPE, &encoded.content_type)
            .body(encoded.body);
        if let Some(encoding) = encoded.content_encoding {
            request = request.header(reqwest::header::CONTENT_ENCODING, encoding);
        }
        let response = request
            .send()
            .await
            .map_err(|e| RunError::Setup(format!("collector {submit_url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let crash_id = body
            .trim_end()
            .strip_prefix("CrashID=bp-")
            .map(str::to_string)
            .ok_or_else(|| {
                RunError::Setup(format!(
                    "collector refused crash {}: {status} {body}",
                    g.name
                ))
            })?;
        // Process what the collector stored: the submission round trip is part of what is
        // tested. The built-in one is read in memory, another harness collector (a container)
        // through its read API; a collector without one (Antenna) leaves the generated bytes.
        let stored = match &services.collector {
            Some(c) => c.state().crash(&crash_id).map(|stored| {
                (
                    stored
                        .dumps
                        .get("upload_file_minidump")
                        .cloned()
                        .unwrap_or_default(),
                    stored.raw_crash.clone(),
                )
            }),
            None => fetch_stored_crash(&client, url, &crash_id).await?,
        };
        let (dump, raw_crash) = stored.unwrap_or_else(|| {
            (
                g.crash.minidump_bytes().to_vec(),
                serde_json::to_value(&submission.annotations).unwrap_or_default(),
            )
        });
        out.push(Submitted {
            name: g.name.clone(),
            crash_id: Some(format!("bp-{crash_id}")),
            dump,
            raw_crash,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(out)
}

/// A crash as an external collector stored it, through the harness collector's read API
/// (`/api/crashes/{id}`, `/api/crashes/{id}/dumps/upload_file_minidump`); `None` when the
/// collector has no such API (it answers 404 or 405, as Antenna does).
async fn fetch_stored_crash(
    client: &reqwest::Client,
    collector_url: &str,
    crash_id: &str,
) -> Result<Option<(Vec<u8>, Value)>, RunError> {
    let base = format!("{collector_url}/api/crashes/bp-{crash_id}");
    let fetch = |url: String| async move {
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| RunError::Setup(format!("collector {url}: {e}")))?;
        let status = response.status();
        if matches!(status.as_u16(), 404 | 405) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(RunError::Setup(format!("collector {url}: {status}")));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RunError::Setup(format!("collector {url}: {e}")))?;
        Ok(Some(bytes.to_vec()))
    };
    let Some(raw) = fetch(base.clone()).await? else {
        tracing::warn!(
            crash_id,
            "the collector has no read API; processing the generated dump"
        );
        return Ok(None);
    };
    let raw_crash: Value = serde_json::from_slice(&raw)
        .map_err(|e| RunError::Setup(format!("collector {base}: not JSON: {e}")))?;
    let dump = fetch(format!("{base}/dumps/upload_file_minidump"))
        .await?
        .ok_or_else(|| RunError::Setup(format!("collector {base}: the minidump is missing")))?;
    Ok(Some((dump, raw_crash)))
}

async fn process_all(
    processor: &InProcess,
    submitted: &[Submitted],
    concurrency: usize,
    progress: &ProgressBar,
) -> Vec<(Processed, f64)> {
    futures::stream::iter(submitted)
        .map(|s| async move {
            let started = Instant::now();
            let processed = match processor.process(&s.dump).await {
                Ok(state) => Processed::Json(to_json(&state)),
                Err(e) => Processed::Failed(e.name),
            };
            progress.inc(1);
            (processed, ms(started))
        })
        .buffered(concurrency)
        .collect()
        .await
}

fn expectations(
    scenario: &Scenario,
    report: &mut RunReport,
    in_process_json: &[Option<Value>],
    submitted: &[Submitted],
    symbols_counted: bool,
) {
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
        let index = submitted.iter().position(|s| s.name == wanted.crash);
        let json = index
            .and_then(|i| in_process_json.get(i))
            .and_then(Option::as_ref);
        let Some(json) = json else {
            report.expectations.push(Check {
                name: format!("crash {}", wanted.crash),
                expected: "processed by minidump-processor".into(),
                actual: "no such crash, or it was not processed".into(),
                passed: false,
            });
            continue;
        };
        let mut checks = Vec::new();
        if let Some(sig) = &wanted.signature {
            checks.push(("signature", sig.clone(), crate::signature::signature(json)));
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
                    .find(|c| c.crash == wanted.crash && c.processor == IN_PROCESS)
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
