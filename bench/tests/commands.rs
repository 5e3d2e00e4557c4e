//! Every `bench` subcommand runs end to end at a tiny size and prints its figures. Nothing here
//! asserts a time: the figures are for people, the rows are the contract.

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "bench {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The row of `table` whose first column starts with `label`, split into columns.
fn row<'a>(table: &'a str, label: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} row in:\n{table}"));
    line[label.len()..].split_whitespace().collect()
}

#[test]
fn fake_sentry_measures_each_target_with_no_errors() {
    let out = bench(&[
        "fake-sentry",
        "--duration",
        "0.3",
        "--connections",
        "2",
        "--targets",
        "memory,ingest",
    ]);
    for label in ["fake-sentry (memory)", "ingest only (1 thread)"] {
        let columns = row(&out, label);
        let per_second: f64 = columns[0].parse().expect("envelopes/s");
        assert!(per_second > 0.0, "{label}: {out}");
        assert_eq!(columns.last(), Some(&"0"), "{label} had errors: {out}");
    }
}

#[test]
fn fake_sentry_ui_times_every_page() {
    let out = bench(&["fake-sentry", "--ui", "--ui-items", "50", "--ui-runs", "2"]);
    assert!(out.contains("web UI: 50 stored"), "{out}");
    assert!(out.lines().count() >= 4, "{out}");
}

#[test]
fn fake_symbols_measures_download_upload_and_symbolication() {
    let out = bench(&[
        "fake-symbols",
        "--download",
        "2MB",
        "--upload",
        "2MB",
        "--symbolicate",
        "2MB",
    ]);
    for figure in [
        "download 2 MB:",
        "upload 2000",
        "parsed size",
        "symbolicate 4 frames",
    ] {
        assert!(out.contains(figure), "no {figure:?} in:\n{out}");
    }
    assert!(out.contains("server peak RSS"), "{out}");
}

#[test]
fn crash_generator_counts_what_it_generated() {
    let out = bench(&["crash-generator", "--count", "5", "--os", "windows"]);
    assert!(out.starts_with("5 crashes in "), "{out}");
}

#[test]
fn event_filter_prints_every_figure() {
    let out = bench(&["event-filter", "--seconds", "0.05"]);
    for label in [
        "7 path rules",
        "every built-in detector",
        "parse + 7 path rules + serialise",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} in {out}"));
        let rate: f64 = line
            .split_whitespace()
            .rev()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        assert!(rate > 0.0, "{line}");
    }
}
