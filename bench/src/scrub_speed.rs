//! `bench event-filter`: how many events per second one core scrubs, for path rules on a
//! parsed event, for every built-in detector, and for the CLI's parse + scrub + serialise;
//! optionally Fillmore on the same event with the same rules, in the same run.
//!
//! The event is a real Python SDK error event
//! (`event-filter/testdata/events/python-pii-unscrubbed.json`) and the path rules are
//! `event-filter/testdata/bench/seven-rules.toml`; `event-filter/testdata/bench/fillmore_bench.py`
//! runs the same rules in Fillmore.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use event_filter::{Policy, PolicyError, Scrubber};
use serde_json::Value;

/// The benchmark event, as the Python SDK sent it.
pub const EVENT: &str =
    include_str!("../../event-filter/testdata/events/python-pii-unscrubbed.json");
/// The 7-rule policy the comparison with Fillmore uses.
pub const SEVEN_RULES: &str = include_str!("../../event-filter/testdata/bench/seven-rules.toml");
/// Fillmore's side of the comparison, relative to this crate's manifest directory.
const FILLMORE_BENCH: &str = "../event-filter/testdata/bench/fillmore_bench.py";

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    pub label: &'static str,
    pub per_second: f64,
}

/// Calls `step` in batches until `duration` has passed; returns calls per second.
fn rate(duration: Duration, mut step: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        for _ in 0..200 {
            step();
        }
        count += 200;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the benchmark's own policy does not parse: {0}")]
    Policy(#[from] PolicyError),
    #[error("the benchmark event does not parse: {0}")]
    Event(#[from] serde_json::Error),
}

/// Runs the three measurements, `duration` each, on the calling thread.
pub fn measure(duration: Duration) -> Result<Vec<Figure>, BenchError> {
    let paths = Scrubber::new(Policy::from_toml(SEVEN_RULES, "seven-rules.toml")?);
    let detectors = Scrubber::new(Policy::from_toml(
        "[[rule]]\ndetectors = [\"all\"]\naction = \"mask\"\n",
        "all-detectors",
    )?);
    let parsed: Value = serde_json::from_str(EVENT)?;
    // Like Fillmore's benchmark, the same parsed event is scrubbed again and again: every
    // pass walks every rule's paths; values already masked are masked again.
    let mut event = parsed.clone();
    let path_rate = rate(duration, || {
        std::hint::black_box(paths.scrub(&mut event));
    });
    let mut event = parsed.clone();
    let detector_rate = rate(duration, || {
        std::hint::black_box(detectors.scrub(&mut event));
    });
    let bytes = EVENT.as_bytes();
    let cli_rate = rate(duration, || {
        if let Ok(mut event) = serde_json::from_slice::<Value>(bytes) {
            paths.scrub(&mut event);
            std::hint::black_box(serde_json::to_vec(&event).ok());
        }
    });
    Ok(vec![
        Figure {
            label: "7 path rules, parsed event",
            per_second: path_rate,
        },
        Figure {
            label: "every built-in detector, parsed event",
            per_second: detector_rate,
        },
        Figure {
            label: "parse + 7 path rules + serialise (CLI)",
            per_second: cli_rate,
        },
    ])
}

/// Measures for `seconds` per figure and prints one row each; with `fillmore_python` (a Python
/// with `fillmore` installed), also runs `fillmore_bench.py` and prints the ratio.
pub fn run(seconds: f64, fillmore_python: Option<&Path>) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(seconds);
    println!(
        "event: {} bytes of a real sentry-sdk 2.75.0 error event; {seconds:.1}s per figure, one core",
        EVENT.len()
    );
    let figures = measure(duration)?;
    for figure in &figures {
        println!("{:<42} {:>12.0} events/s", figure.label, figure.per_second);
    }
    if let Some(python) = fillmore_python {
        let fillmore = fillmore_rate(python, seconds)?;
        println!(
            "{:<42} {:>12.0} events/s",
            "Fillmore 2.2, same 7 rules, parsed event", fillmore
        );
        if let Some(paths) = figures.first() {
            println!(
                "ratio, 7 path rules: {:.1}x Fillmore",
                paths.per_second / fillmore.max(1e-9)
            );
        }
    }
    Ok(())
}

/// Runs `fillmore_bench.py` on the benchmark event for `seconds`; returns its events/s.
fn fillmore_rate(python: &Path, seconds: f64) -> anyhow::Result<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILLMORE_BENCH);
    let event =
        std::env::temp_dir().join(format!("event-filter-bench-{}.json", std::process::id()));
    std::fs::write(&event, EVENT)?;
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(&event)
        .arg(seconds.to_string())
        .output()
        .with_context(|| format!("cannot run {}", python.display()));
    let _ = std::fs::remove_file(&event);
    let output = output?;
    if !output.status.success() {
        bail!(
            "fillmore_bench.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("fillmore_bench.py output")
}
