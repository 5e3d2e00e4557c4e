//! The summary table printed at the end of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RunReport;

/// Renders the summary (no colours: it goes to logs as often as to terminals).
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\nscenario {}: {verdict} in {:.1} s",
        report.scenario,
        report.duration_ms / 1000.0
    );
    let total: f64 = report.stages.iter().map(|s| s.millis).sum();
    let _ = writeln!(out, "\n  {:<16} {:>10} {:>7}", "stage", "time", "share");
    for stage in &report.stages {
        let share = if total > 0.0 {
            100.0 * stage.millis / total
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {:<16} {:>8.0}ms {:>6.1}%",
            stage.stage, stage.millis, share
        );
    }
    let mut by_processor: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for crash in &report.crashes {
        let entry = by_processor.entry(crash.processor.as_str()).or_default();
        if crash.passed {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let _ = writeln!(
        out,
        "\n  {:<22} {:>7} {:>7}",
        "processor", "passed", "failed"
    );
    for (processor, (passed, failed)) in &by_processor {
        let _ = writeln!(out, "  {processor:<22} {passed:>7} {failed:>7}");
    }
    let s = &report.symbols;
    let _ = writeln!(
        out,
        "\n  symbols: {} requests for {} sym files, {:.1} KiB, at most {} request(s) per file",
        s.requests,
        s.modules,
        s.bytes as f64 / 1024.0,
        s.max_requests_per_module
    );
    if !report.faults.is_empty() {
        let _ = writeln!(out, "\n  {:<34} {:>6}", "fault scenario", "result");
        for fault in &report.faults {
            let _ = writeln!(out, "  {:<34} {:>6}", fault.name, pass(fault.passed));
        }
    }
    let findings: usize = report.audit.iter().map(|a| a.findings.len()).sum();
    let _ = writeln!(
        out,
        "\n  audit: {} items captured by fake-sentry, {} findings",
        report.audit.len(),
        findings
    );
    for e in &report.expectations {
        let _ = writeln!(
            out,
            "  expect {}: {} (expected {}, got {})",
            e.name,
            pass(e.passed),
            e.expected,
            e.actual
        );
    }
    let failures = report.failures();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nfailures ({}):", failures.len());
        for line in failures.iter().take(50) {
            let _ = writeln!(out, "  {line}");
        }
        if failures.len() > 50 {
            let _ = writeln!(
                out,
                "  ... and {} more (see the report)",
                failures.len() - 50
            );
        }
    }
    out
}

fn pass(ok: bool) -> &'static str {
    if ok { "pass" } else { "FAIL" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn summary_names_every_failure() {
        let text = render(&sample::report());
        assert!(text.contains("FAILED"), "{text}");
        assert!(
            text.contains("in-process                   1       1"),
            "{text}"
        );
        assert!(
            text.contains("crash linux-2/in-process: threads[0].frames[1].function: expected <script>alert(1)</script>, got bar"),
            "{text}"
        );
        assert!(
            text.contains("audit: event ev1 (event): user.email matched rule email"),
            "{text}"
        );
    }
}
