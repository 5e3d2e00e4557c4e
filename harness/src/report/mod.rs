//! The run report: one [`RunReport`] value, written four ways.
//!
//! The pipeline fills a [`RunReport`]; [`terminal`] prints its summary table, [`json`] writes it
//! as `report.json` (its field names are the stable schema, versioned by
//! [`SCHEMA_VERSION`]), [`junit`] writes `junit.xml` (one test case per crash and processor,
//! fake-sentry's processing of the crashes sent to it included, per fault scenario, per audited
//! item and per expectation) and [`html`] writes a
//! self-contained `report.html`. [`write_all`] also writes each [`ProcessedCrash`] as
//! `crashes/<crash>.json` (the in-process processor's, or minidump-stackwalk's in a run without
//! it) and `crashes/<crash>.stackwalk.json` (minidump-stackwalk's beside the in-process
//! processor's), in the shape Socorro's processor stores (siggen's `convert_to_crash_data`
//! reads each unchanged).

pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped whenever a field of the JSON report changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one run found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub scenario: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: f64,
    pub passed: bool,
    /// Wall time per pipeline stage, in the order they ran.
    pub stages: Vec<StageTiming>,
    pub symbols: SymbolTraffic,
    pub crashes: Vec<CrashOutcome>,
    pub faults: Vec<FaultOutcome>,
    pub audit: Vec<AuditOutcome>,
    pub expectations: Vec<Check>,
    /// Every crash as Socorro's processor keeps it, in the order processed: written to
    /// `crashes/<crash>.json` beside the reports, not part of `report.json`.
    #[serde(skip)]
    pub processed_crashes: Vec<ProcessedCrash>,
}

/// One crash as Socorro's processor keeps it (`v1/processed_crash/<id>`): the processor's
/// output in `json_dump`, the crash annotations under Socorro's processed names beside it, and
/// the signature (`signature`, `proto_signature`, siggen's notes in `processor_notes`) that the
/// crash's result in the report carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessedCrash {
    /// The crash's name, as in [`CrashOutcome::crash`].
    pub crash: String,
    /// The processor whose output is in `json_dump`: minidump-processor, or minidump-stackwalk.
    pub processor: String,
    /// Whether another processor's processed crash of the same crash is `<crash>.json` (the
    /// in-process processor's, when minidump-stackwalk ran beside it): this one is then
    /// written beside it as `<crash>.<processor>.json`, the processor named without its
    /// `minidump-` (`<crash>.stackwalk.json`).
    pub beside: bool,
    /// The processed crash.
    pub json: Value,
}

impl ProcessedCrash {
    /// Its `signature`.
    pub fn signature(&self) -> Option<&str> {
        self.json.get("signature").and_then(Value::as_str)
    }

    /// Its file's name in `crashes/`: `<crash>.json`, or `<crash>.stackwalk.json` for
    /// minidump-stackwalk's beside the in-process processor's (any path separator in the name
    /// becomes `_`).
    pub fn file_name(&self) -> String {
        let stem = self.crash.replace(['/', '\\'], "_");
        if self.beside {
            let processor = self.processor.trim_start_matches("minidump-");
            format!("{stem}.{}.json", processor.replace(['/', '\\', '.'], "_"))
        } else {
            format!("{stem}.json")
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    pub stage: String,
    pub millis: f64,
}

/// What the processors asked the symbols server for during the main corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolTraffic {
    pub requests: u64,
    pub bytes: u64,
    /// Distinct sym paths requested.
    pub modules: u64,
    /// The most requests any one sym path got (1 when every module was fetched once).
    pub max_requests_per_module: u64,
    pub per_module: Vec<ModuleFetch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleFetch {
    pub path: String,
    pub requests: u64,
    pub bytes: u64,
    /// Status of the last request.
    pub status: u16,
}

/// One crash through one processor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrashOutcome {
    /// `<crash name>/<processor>`, unique in the report.
    pub id: String,
    pub crash: String,
    pub processor: String,
    /// The collector's crash id (`bp-...`), when it went through a collector; for fake-sentry's
    /// results, the event id fake-sentry answered with.
    pub crash_id: Option<String>,
    pub os: Option<String>,
    /// The processor's status (`OK`, or the error name; for fake-sentry, also `still pending
    /// after N s` or `refused: <status> <body>`).
    pub status: String,
    /// The Socorro-style signature (for fake-sentry's results, the one fake-sentry computed).
    pub signature: Option<String>,
    /// siggen's notes on that signature, as the harness signed it (the last lines of the kept
    /// processed crash's `processor_notes`; empty for fake-sentry's results).
    #[serde(default)]
    pub signature_notes: Vec<String>,
    pub crash_reason: Option<String>,
    pub passed: bool,
    /// Differences from the ground truth (or from the expectation).
    pub mismatches: Vec<Mismatch>,
    /// The crashing thread as processed, frame by frame.
    pub frames: Vec<FrameRow>,
    pub millis: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRow {
    pub index: usize,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
    pub trust: String,
    pub inlines: Vec<String>,
    /// Whether any mismatch names this frame.
    pub mismatched: bool,
}

/// One injected symbols fault and whether its expected outcome held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultOutcome {
    pub name: String,
    pub description: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub millis: f64,
}

/// One expectation: what was expected, what was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

/// One item captured by fake-sentry, audited against the data policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOutcome {
    /// fake-sentry's item id.
    pub item_id: String,
    pub event_id: Option<String>,
    pub item_type: String,
    pub summary: String,
    pub passed: bool,
    pub findings: Vec<AuditFinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFinding {
    pub path: String,
    /// The rule or detector that matched.
    pub rule: String,
    pub kind: String,
    /// Redacted: never the value itself.
    pub excerpt: String,
}

impl RunReport {
    /// Recomputes `passed` from every part.
    pub fn settle(&mut self) {
        self.passed = self.crashes.iter().all(|c| c.passed)
            && self.faults.iter().all(|f| f.passed)
            && self.audit.iter().all(|a| a.passed)
            && self.expectations.iter().all(|e| e.passed);
    }

    pub fn stage_millis(&self, stage: &str) -> f64 {
        self.stages
            .iter()
            .filter(|s| s.stage == stage)
            .map(|s| s.millis)
            .sum()
    }

    pub fn add_stage(&mut self, stage: &str, millis: f64) {
        match self.stages.iter_mut().find(|s| s.stage == stage) {
            Some(existing) => existing.millis += millis,
            None => self.stages.push(StageTiming {
                stage: stage.to_string(),
                millis,
            }),
        }
    }

    /// Every failure, one line each, for the end of the terminal output.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.crashes.iter().filter(|c| !c.passed) {
            for m in &c.mismatches {
                out.push(format!(
                    "crash {}: {}: expected {}, got {}",
                    c.id, m.path, m.expected, m.actual
                ));
            }
            if c.mismatches.is_empty() {
                out.push(format!("crash {}: status {}", c.id, c.status));
            }
        }
        for f in self.faults.iter().filter(|f| !f.passed) {
            for check in f.checks.iter().filter(|c| !c.passed) {
                out.push(format!(
                    "fault {}: {}: expected {}, got {}",
                    f.name, check.name, check.expected, check.actual
                ));
            }
        }
        for a in self.audit.iter().filter(|a| !a.passed) {
            for finding in &a.findings {
                out.push(format!(
                    "audit: event {} ({}): {} matched rule {} ({})",
                    a.event_id.as_deref().unwrap_or(&a.item_id),
                    a.item_type,
                    finding.path,
                    finding.rule,
                    finding.excerpt
                ));
            }
        }
        for e in self.expectations.iter().filter(|e| !e.passed) {
            out.push(format!(
                "expectation {}: expected {}, got {}",
                e.name, e.expected, e.actual
            ));
        }
        out
    }
}

/// Where [`write_all`] put the reports.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    pub json: PathBuf,
    pub junit: PathBuf,
    pub html: PathBuf,
    /// The folder of processed crashes, one `<crash>.json` each.
    pub crashes: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render the HTML report: {0}")]
    Html(#[from] askama::Error),
    #[error("cannot encode the JSON report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes `report.json`, `junit.xml`, `report.html` and the processed crashes
/// (`crashes/<crash>.json` and `crashes/<crash>.stackwalk.json`, pretty JSON) into `dir` (created if missing). Each file is written
/// to a temporary name and renamed, so a reader never sees half a report; the processed
/// crashes first, and then any other `*.json` in `crashes/` (a previous run's) is removed, so
/// the folder holds this run's crashes only.
pub fn write_all(report: &RunReport, dir: &Path) -> Result<ReportPaths, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let paths = ReportPaths {
        json: dir.join("report.json"),
        junit: dir.join("junit.xml"),
        html: dir.join("report.html"),
        crashes: dir.join("crashes"),
    };
    write_processed_crashes(&report.processed_crashes, &paths.crashes)?;
    write_atomically(&paths.json, json::render(report)?.as_bytes())?;
    write_atomically(&paths.junit, junit::render(report).as_bytes())?;
    write_atomically(&paths.html, html::render(report)?.as_bytes())?;
    Ok(paths)
}

/// Each processed crash into `dir` as `<crash>.json`; then every other `*.json` there is
/// removed.
fn write_processed_crashes(crashes: &[ProcessedCrash], dir: &Path) -> Result<(), ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = std::collections::HashSet::new();
    for crash in crashes {
        let name = crash.file_name();
        let mut text = serde_json::to_vec_pretty(&crash.json)?;
        text.push(b'\n');
        write_atomically(&dir.join(&name), &text)?;
        written.insert(std::ffi::OsString::from(name));
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let stale = path.extension().is_some_and(|e| e == "json")
            && path.file_name().is_some_and(|n| !written.contains(n));
        if stale {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension("tmp");
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    /// A small report with one of everything, one failing crash and one audit finding.
    pub fn report() -> RunReport {
        let mut report = RunReport {
            schema_version: SCHEMA_VERSION,
            scenario: "sample <&>".into(),
            started_at: "2026-11-26T04:00:00Z".into(),
            duration_ms: 1234.5,
            stages: vec![
                StageTiming {
                    stage: "generate".into(),
                    millis: 100.0,
                },
                StageTiming {
                    stage: "process".into(),
                    millis: 300.0,
                },
            ],
            symbols: SymbolTraffic {
                requests: 2,
                bytes: 2048,
                modules: 2,
                max_requests_per_module: 1,
                per_module: vec![ModuleFetch {
                    path: "/libfoo.so/ABC0/libfoo.so.sym".into(),
                    requests: 1,
                    bytes: 2048,
                    status: 200,
                }],
            },
            crashes: vec![
                CrashOutcome {
                    id: "linux-1/in-process".into(),
                    crash: "linux-1".into(),
                    processor: "in-process".into(),
                    status: "OK".into(),
                    signature: Some("foo | bar".into()),
                    passed: true,
                    frames: vec![FrameRow {
                        index: 0,
                        function: Some("foo".into()),
                        trust: "context".into(),
                        ..FrameRow::default()
                    }],
                    ..CrashOutcome::default()
                },
                CrashOutcome {
                    id: "linux-2/in-process".into(),
                    crash: "linux-2".into(),
                    processor: "in-process".into(),
                    status: "OK".into(),
                    passed: false,
                    mismatches: vec![Mismatch {
                        path: "threads[0].frames[1].function".into(),
                        expected: "<script>alert(1)</script>".into(),
                        actual: "bar".into(),
                    }],
                    frames: vec![FrameRow {
                        index: 1,
                        function: Some("bar".into()),
                        trust: "cfi".into(),
                        mismatched: true,
                        ..FrameRow::default()
                    }],
                    ..CrashOutcome::default()
                },
            ],
            faults: vec![FaultOutcome {
                name: "status-500".into(),
                description: "every download fails".into(),
                passed: true,
                checks: vec![Check {
                    name: "missing modules".into(),
                    expected: "all".into(),
                    actual: "all".into(),
                    passed: true,
                }],
                millis: 10.0,
            }],
            audit: vec![AuditOutcome {
                item_id: "item-1".into(),
                event_id: Some("ev1".into()),
                item_type: "event".into(),
                summary: "Error: boom".into(),
                passed: false,
                findings: vec![AuditFinding {
                    path: "user.email".into(),
                    rule: "email".into(),
                    kind: "detector".into(),
                    excerpt: "al…(17)".into(),
                }],
            }],
            expectations: vec![Check {
                name: "symbols fetched once per module".into(),
                expected: "<= 1".into(),
                actual: "1".into(),
                passed: true,
            }],
            passed: false,
            processed_crashes: vec![
                ProcessedCrash {
                    crash: "linux-1".into(),
                    processor: "minidump-processor".into(),
                    beside: false,
                    json: serde_json::json!({"json_dump": {"status": "OK"}, "signature": "foo | bar"}),
                },
                ProcessedCrash {
                    crash: "linux-1".into(),
                    processor: "minidump-stackwalk".into(),
                    beside: true,
                    json: serde_json::json!({"json_dump": {"status": "OK"}, "signature": "foo"}),
                },
            ],
        };
        report.settle();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processed_crashes_are_written_one_file_each_replacing_a_previous_runs() {
        let dir = tempfile::tempdir().unwrap();
        let crashes = dir.path().join("crashes");
        std::fs::create_dir_all(&crashes).unwrap();
        std::fs::write(crashes.join("linux-0.json"), "{}").unwrap();
        std::fs::write(crashes.join("notes.txt"), "mine").unwrap();
        let report = sample::report();
        let paths = write_all(&report, dir.path()).unwrap();
        assert_eq!(paths.crashes, crashes);
        let mut names: Vec<String> = std::fs::read_dir(&crashes)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // minidump-stackwalk's processed crash of linux-1 beside the in-process processor's.
        assert_eq!(
            names,
            ["linux-1.json", "linux-1.stackwalk.json", "notes.txt"]
        );
        for (file, kept) in ["linux-1.json", "linux-1.stackwalk.json"]
            .iter()
            .zip(&report.processed_crashes)
        {
            let written: Value =
                serde_json::from_slice(&std::fs::read(crashes.join(file)).unwrap()).unwrap();
            assert_eq!(written, kept.json, "{file}");
        }
        assert_eq!(report.processed_crashes[0].signature(), Some("foo | bar"));
        assert_eq!(report.processed_crashes[1].signature(), Some("foo"));
    }

    #[test]
    fn a_crash_name_never_leaves_the_crashes_folder() {
        let crash = ProcessedCrash {
            crash: "../a\\b".into(),
            ..ProcessedCrash::default()
        };
        assert_eq!(crash.file_name(), ".._a_b.json");
        let beside = ProcessedCrash {
            processor: "minidump-stackwalk".into(),
            beside: true,
            ..crash
        };
        assert_eq!(beside.file_name(), ".._a_b.stackwalk.json");
    }
}
