//! The stages of a run, one method each on [`Pipeline`]; [`run_with`](super::run_with) calls
//! them in order.

use std::time::{Duration, Instant};

use event_filter::Auditor;
use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::Value;
use time::OffsetDateTime;

use super::corpus::{self, GeneratedCrash};
use super::expectations::expectations;
use super::faults;
use super::outcome::{Processed, check_signature, crash_outcome};
use super::sentry_native::SentryNative;
use super::socorro::{self, Walked};
use super::submit::submit_to_collector;
use super::symbols_server::{self, SymbolsServer};
use super::{IN_PROCESS, RunError, RunOptions, RunServices, STACKWALK, Submitted, bar, ms};
use crate::audit::SentryAudit;
use crate::diff;
use crate::processor::{Processor, Stackwalk, to_json};
use crate::report::{Check, CrashOutcome, Mismatch, ProcessedCrash, RunReport, SCHEMA_VERSION};
use crate::scenario::Scenario;
use crate::services::UPLOAD_TOKEN;

/// One run in progress: what every stage reads (the scenario, the services, the settings) and
/// the report the stages add to.
pub(super) struct Pipeline<'a> {
    scenario: &'a Scenario,
    options: &'a RunOptions,
    services: &'a RunServices,
    /// The symbols server, when the run has one.
    symbols: Option<SymbolsServer>,
    /// The symbols server's URL for the processors (none, or one).
    symbol_urls: Vec<String>,
    /// Each processor's symbol cache and scratch files; removed when the run ends.
    work: tempfile::TempDir,
    /// The scenario's symbol download timeout, for every processor.
    timeout: Duration,
    started: Instant,
    report: RunReport,
}

/// The crashes a run generated and what the collector stored of each, in the same order.
pub(super) struct Crashes {
    pub(super) generated: Vec<GeneratedCrash>,
    pub(super) submitted: Vec<Submitted>,
}

impl<'a> Pipeline<'a> {
    /// Starts the clock and the report, and creates the work folder.
    pub(super) fn new(
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
    pub(super) async fn generate(&mut self) -> Result<Vec<GeneratedCrash>, RunError> {
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
    pub(super) async fn upload(&mut self, generated: &[GeneratedCrash]) -> Result<bool, RunError> {
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

    /// `submit`: each crash its corpus entry sends to the collector, keeping the dump and
    /// annotations the collector stored; for the others, the generated ones (and without any
    /// sent, no time recorded).
    pub(super) async fn submit(
        &mut self,
        generated: &[GeneratedCrash],
    ) -> Result<Vec<Submitted>, RunError> {
        let t = Instant::now();
        let submitted = submit_to_collector(generated, self.services, self.options).await?;
        if self.services.collector_url.is_some()
            && generated.iter().any(|g| g.destinations.collector)
        {
            self.report.add_stage("submit", ms(t));
        }
        Ok(submitted)
    }

    /// `fetch symbols`, `process` and `compare`, when the scenario uses the in-process
    /// processor: every module's symbols once into the shared symbolizer, every submitted dump
    /// through minidump-processor, every result against its ground truth and kept as Socorro
    /// keeps a processed crash (with the signature the result carries); then the symbols
    /// server's traffic when it logged requests.
    ///
    /// Returns each crash's processed JSON by index (all `None` without the in-process
    /// processor).
    pub(super) async fn process(
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
        let processor = crate::processor::in_process(
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
            let mut outcome = crash_outcome(
                &s.name,
                IN_PROCESS,
                s.crash_id.clone(),
                &processed,
                truth,
                millis,
            );
            self.keep(
                &mut outcome,
                &s.raw_crash,
                Walked::in_process(&s.dump, &processed),
            );
            check_signature(&mut outcome, truth);
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
    /// in-process processor with a cache of their own (no ground truth to compare with), each
    /// kept as a processed crash without annotations.
    pub(super) async fn real_dumps(&mut self) -> Result<(), RunError> {
        let Some(dir) = self.scenario.dumps_dir() else {
            return Ok(());
        };
        let t = Instant::now();
        let processor = crate::processor::in_process(
            self.symbol_urls.clone(),
            &self.work.path().join("real"),
            self.timeout,
        );
        for (name, path) in corpus::real_dumps(&dir).map_err(RunError::Setup)? {
            let started = Instant::now();
            let (processed, dump) = match std::fs::read(&path) {
                Ok(bytes) => match processor.process(&bytes).await {
                    Ok(state) => (Processed::Json(to_json(&state)), Some(bytes)),
                    Err(e) => (Processed::Failed(e.name), Some(bytes)),
                },
                Err(e) => (Processed::Failed(format!("Unreadable: {e}")), None),
            };
            let mut outcome = crash_outcome(&name, IN_PROCESS, None, &processed, None, ms(started));
            if let Some(dump) = dump {
                let walked = Walked::in_process(&dump, &processed);
                self.keep(&mut outcome, &Value::Null, walked);
            }
            self.report.crashes.push(outcome);
        }
        self.report.add_stage("real dumps", ms(t));
        Ok(())
    }

    /// `stackwalk`: every submitted dump through the external minidump-stackwalk, run as
    /// Socorro runs it, when the options or the scenario name one. Each result is compared with
    /// its ground truth and, when the scenario expects the processors to agree, with the
    /// in-process JSON; its signature is that of the crash as Socorro keeps it with this output,
    /// kept as `crashes/<crash>.json` in a run without the in-process processor and as
    /// `crashes/<crash>.stackwalk.json` beside the in-process processor's otherwise.
    pub(super) async fn stackwalk(
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
        let version = walker.version().await?;
        let progress = bar(self.options, submitted.len() as u64, "stackwalk");
        let outcomes: Vec<_> = futures::stream::iter(submitted.iter().enumerate())
            .map(|(i, s)| {
                let walker = &walker;
                let version = version.as_str();
                let progress = &progress;
                let truth = generated.get(i).map(|g| &g.truth);
                let reference = in_process_json[i].as_ref();
                let expect_agree = scenario.expect.processors_agree;
                async move {
                    let started = Instant::now();
                    let (processed, kept) =
                        match walker.process(&s.name, &s.dump, &s.raw_crash).await {
                            Ok(out) => {
                                let walked = Walked::stackwalk(&s.dump, &out, version);
                                let kept = socorro::processed_crash(&s.raw_crash, walked);
                                let processed = match out.status == "OK" {
                                    true => Processed::Json(out.json),
                                    false => Processed::Failed(out.status),
                                };
                                (processed, Some(kept))
                            }
                            Err(e) => (Processed::Failed(e.to_string()), None),
                        };
                    let mut outcome = crash_outcome(
                        &s.name,
                        STACKWALK,
                        s.crash_id.clone(),
                        &processed,
                        truth,
                        ms(started),
                    );
                    if let Some(kept) = &kept {
                        outcome.signature = signature_of(&kept.json);
                        outcome.signature_notes = kept.signature_notes.clone();
                    }
                    check_signature(&mut outcome, truth);
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
                    (outcome, kept)
                }
            })
            .buffered(2)
            .collect()
            .await;
        progress.finish_and_clear();
        for ((outcome, kept), s) in outcomes.into_iter().zip(submitted) {
            // Every processed crash reaches `crashes/`: `<crash>.json` is the in-process
            // processor's when it ran, and this one is written beside it then.
            if let Some(kept) = kept {
                self.report.processed_crashes.push(ProcessedCrash {
                    crash: s.name.clone(),
                    processor: STACKWALK.into(),
                    beside: scenario.processor.in_process,
                    json: kept.json,
                });
            }
            self.report.crashes.push(outcome);
        }
        self.report.add_stage("stackwalk", ms(t));
        Ok(())
    }

    /// `sentry-native`: the crashes whose entries submit them to fake-sentry, sent as
    /// sentry-native sends them; once fake-sentry has processed them, each result against its
    /// ground truth and its signature against the in-process processor's. Before `faults`, so
    /// that fake-sentry's symbol downloads never meet an injected fault, and after the main
    /// corpus' request log was read.
    pub(super) async fn sentry_native(
        &mut self,
        crashes: &Crashes,
        in_process_json: &[Option<Value>],
    ) -> Result<(), RunError> {
        if !self.scenario.submits_to_sentry() {
            return Ok(());
        }
        let t = Instant::now();
        let settings = self.scenario.sentry_native_settings();
        let (url, dsn) = self
            .services
            .sentry_url
            .as_deref()
            .zip(self.services.dsn(settings.project))
            .ok_or_else(|| RunError::Setup("submit = [\"sentry\"] needs fake-sentry".into()))?;
        let sentry = SentryNative::new(url, &dsn, &settings)?;
        let progress = bar(self.options, 0, "fake-sentry");
        let outcomes = sentry
            .check(&crashes.generated, in_process_json, &progress)
            .await?;
        progress.finish_and_clear();
        self.report.crashes.extend(outcomes);
        self.report.add_stage("sentry-native", ms(t));
        Ok(())
    }

    /// `faults`: each symbols-server fault the scenario injects, with a fresh cache, against the
    /// submitted dumps.
    pub(super) async fn faults(&mut self, crashes: &Crashes) -> Result<(), RunError> {
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
    pub(super) async fn audit(&mut self) -> Result<(), RunError> {
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
    pub(super) fn finish(mut self, request_log: bool) -> RunReport {
        let scenario = self.scenario;
        expectations(scenario, &mut self.report, request_log);
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

impl Pipeline<'_> {
    /// Keeps the crash of `outcome` as Socorro's processor would from its raw crash and
    /// `walked`, for the report's `crashes/`; the outcome carries its signature and siggen's
    /// notes on it.
    fn keep(&mut self, outcome: &mut CrashOutcome, raw_crash: &Value, walked: Walked) {
        let kept = socorro::processed_crash(raw_crash, walked);
        outcome.signature = signature_of(&kept.json);
        outcome.signature_notes = kept.signature_notes;
        self.report.processed_crashes.push(ProcessedCrash {
            crash: outcome.crash.clone(),
            processor: outcome.processor.clone(),
            beside: false,
            json: kept.json,
        });
    }
}

/// A processed crash's `signature`.
fn signature_of(processed: &Value) -> Option<String> {
    processed
        .get("signature")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Every submitted dump through the in-process processor, `concurrency` at a time, in order,
/// each with its processing time in milliseconds.
async fn process_all(
    processor: &Processor,
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
