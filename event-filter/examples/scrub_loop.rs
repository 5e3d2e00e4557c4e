//! Scrubs the benchmark's event N times with every detector on, for counting instructions
//! per event under callgrind, which wall-clock figures on a shared machine cannot give:
//! `valgrind --tool=callgrind target/release/examples/scrub_loop 1` and `... 201`; the
//! difference over 200 is the cost of one event without the one-off rule compilation.
//! `strict` as the second argument uses the strict preset instead of the bench's policy;
//! `seven` the benchmark's 7 path rules (the comparison with Fillmore); `copy` scrubs
//! nothing. Like the bench, each round scrubs a fresh copy of the parsed event, so the
//! detectors always have secrets to find; subtract a `copy` run's per-event cost for the
//! scrubbing alone.

use event_filter::{Policy, Scrubber};

const EVENT: &str = include_str!("../testdata/events/python-pii-unscrubbed.json");
const SEVEN_RULES: &str = include_str!("../testdata/bench/seven-rules.toml");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().as_deref().unwrap_or("1").parse()?;
    let policy = match args.next().as_deref() {
        Some("strict") => Policy::preset("strict")?,
        Some("copy") => Policy::from_toml("", "nothing")?,
        Some("seven") => Policy::from_toml(SEVEN_RULES, "seven-rules.toml")?,
        _ => Policy::from_toml(
            "[[rule]]\ndetectors = [\"all\"]\naction = \"mask\"\n",
            "all-detectors",
        )?,
    };
    let scrubber = Scrubber::new(policy);
    let pristine: serde_json::Value = serde_json::from_str(EVENT)?;
    for _ in 0..rounds {
        let mut event = pristine.clone();
        std::hint::black_box(scrubber.scrub(&mut event));
    }
    Ok(())
}
