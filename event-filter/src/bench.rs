//! The scrubbing benchmark: how many events per second one core scrubs, for path rules on a
//! parsed event, for every built-in detector, and for the CLI's parse + scrub + serialise.
//!
//! The event is a real Python SDK error event (`testdata/events/python-pii-unscrubbed.json`)
//! and the path rules are `testdata/bench/seven-rules.toml`; `testdata/bench/fillmore_bench.py`
//! runs the same rules in Fillmore, so both can be measured in one run.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Policy, Scrubber};

/// The benchmark event, as the Python SDK sent it.
pub const EVENT: &str = include_str!("../testdata/events/python-pii-unscrubbed.json");
/// The 7-rule policy the comparison with Fillmore uses.
pub const SEVEN_RULES: &str = include_str!("../testdata/bench/seven-rules.toml");

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
    Policy(#[from] crate::PolicyError),
    #[error("the benchmark event does not parse: {0}")]
    Event(#[from] serde_json::Error),
}

/// Runs the three measurements, `duration` each, on the calling thread.
pub fn run(duration: Duration) -> Result<Vec<Figure>, BenchError> {
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
