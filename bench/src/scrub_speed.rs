//! `bench event-filter`: how many events per second one core scrubs, for path rules on a
//! parsed event, for every built-in detector, and for the CLI's parse + scrub + serialise;
//! optionally Fillmore on the same event with the same rules, in the same run.
//!
//! Every pass scrubs an event that still holds its secrets: the parsed figures scrub fresh
//! copies of the parsed event, made in batches outside the timed part (scrubbing one event
//! again and again would, after the first pass, scan text that is already masked and find
//! nothing), and each figure reports how many values every pass changed.
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
    /// The fewest values one pass changed: a pass that changes nothing measured an event with
    /// nothing left to find.
    pub changes_per_event: usize,
}

/// Events per timed batch, and per batch of copies made before it.
const BATCH: usize = 200;

/// What [`rate`] measured.
struct Rate {
    per_second: f64,
    /// The fewest changes one call of the step reported.
    min_changes: usize,
}

/// Calls `step` on a fresh copy of `pristine` each time until `duration` of scrubbing has
/// passed: copies are made a batch at a time, outside the clock. Returns calls per second of
/// timed work.
fn rate(duration: Duration, pristine: &Value, mut step: impl FnMut(&mut Value) -> usize) -> Rate {
    let mut timed = Duration::ZERO;
    let mut count = 0u64;
    let mut min_changes = usize::MAX;
    let mut batch: Vec<Value> = Vec::with_capacity(BATCH);
    while timed < duration {
        batch.clear();
        batch.extend(std::iter::repeat_n(pristine, BATCH).cloned());
        let start = Instant::now();
        for event in &mut batch {
            min_changes = min_changes.min(step(event));
        }
        timed += start.elapsed();
        count += BATCH as u64;
    }
    Rate {
        per_second: count as f64 / timed.as_secs_f64(),
        min_changes,
    }
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
    let path_rate = rate(duration, &parsed, |event| {
        std::hint::black_box(paths.scrub(event)).changes.len()
    });
    let detector_rate = rate(duration, &parsed, |event| {
        std::hint::black_box(detectors.scrub(event)).changes.len()
    });
    // The CLI path parses the event itself, so every pass has a fresh one anyway.
    let bytes = EVENT.as_bytes();
    let cli_rate = rate(duration, &Value::Null, |_| {
        serde_json::from_slice::<Value>(bytes).map_or(0, |mut event| {
            let changes = paths.scrub(&mut event).changes.len();
            std::hint::black_box(serde_json::to_vec(&event).ok());
            changes
        })
    });
    Ok(vec![
        Figure {
            label: "7 path rules, parsed event",
            per_second: path_rate.per_second,
            changes_per_event: path_rate.min_changes,
        },
        Figure {
            label: "every built-in detector, parsed event",
            per_second: detector_rate.per_second,
            changes_per_event: detector_rate.min_changes,
        },
        Figure {
            label: "parse + 7 path rules + serialise (CLI)",
            per_second: cli_rate.per_second,
            changes_per_event: cli_rate.min_changes,
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
    println!("each pass scrubs an unscrubbed copy; making the copies is not timed");
    let figures = measure(duration)?;
    for figure in &figures {
        println!(
            "{:<42} {:>12.0} events/s, {} values changed per event",
            figure.label, figure.per_second, figure.changes_per_event
        );
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
