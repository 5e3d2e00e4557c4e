//! `bench harness`: the demo corpus end to end, with crashes per second and each stage's
//! share of the time.

use std::fmt::Write as _;
use std::path::PathBuf;

use harness::{RunOptions, run};

/// Runs the demo once and describes its speed.
pub async fn run_bench(stackwalk: Option<PathBuf>) -> anyhow::Result<String> {
    let scenario = harness::demo_scenario();
    let report = run(
        &scenario,
        &RunOptions {
            progress: false,
            stackwalk,
        },
    )
    .await?;
    let crashes = report
        .crashes
        .iter()
        .filter(|c| c.processor == harness::IN_PROCESS)
        .count();
    let seconds = report.duration_ms / 1000.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "demo corpus: {crashes} crashes in {seconds:.2} s end to end = {:.1} crashes/s ({})",
        crashes as f64 / seconds,
        if report.passed {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        }
    );
    let total: f64 = report.stages.iter().map(|s| s.millis).sum();
    let _ = writeln!(out, "{:<16} {:>10} {:>7}", "stage", "ms", "share");
    for stage in &report.stages {
        let _ = writeln!(
            out,
            "{:<16} {:>10.1} {:>6.1}%",
            stage.stage,
            stage.millis,
            100.0 * stage.millis / total.max(f64::MIN_POSITIVE)
        );
    }
    let _ = writeln!(
        out,
        "symbols: {} requests for {} sym files ({:.1} KiB), at most {} per file",
        report.symbols.requests,
        report.symbols.modules,
        report.symbols.bytes as f64 / 1024.0,
        report.symbols.max_requests_per_module
    );
    Ok(out)
}
