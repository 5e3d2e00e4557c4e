//! Memory under sustained load: `bench fake-sentry-db --sustain SECS` keeps sending new
//! distinct events to the full store (closed loop, or at `--sustain-rate`) and samples the
//! server's resident set size (`VmRSS` in `/proc/PID/status`) every `--rss-every` seconds.
//! The store is capped at the items it was filled with (`--max-events`), so from the first
//! new event on every insert also evicts the oldest: the steady state of a long-running
//! server, in which memory should stay flat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child_server::ChildServer;
use crate::sentry_ingest::{self as ingest_bench, Bodies, Load, Span};

use super::corpus::Corpus;

/// How the sustained run goes.
#[derive(Debug, Clone, Copy)]
pub struct Sustain {
    pub duration: Duration,
    /// Envelopes/s; flat out when absent.
    pub rate: Option<f64>,
    pub every: Duration,
    /// Samples before this are printed but not compared: the caches fill at first.
    pub warmup: Duration,
}

/// One RSS sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    pub bytes: u64,
}

/// Sends events `first..` to `url` for the sustained run, sampling `server`'s RSS, and prints
/// the samples as they come and then their spread after the warm-up.
pub async fn run(
    server: &ChildServer,
    url: &str,
    corpus: Arc<Corpus>,
    first: u64,
    connections: usize,
    sustain: Sustain,
) -> anyhow::Result<()> {
    let load = sustain.rate.map_or(Load::Closed, Load::Rate);
    let make = Arc::new(move |n: u64| corpus.body(first + n));
    let (url, duration) = (url.to_string(), sustain.duration);
    let mut drive = tokio::spawn(async move {
        let bodies = Bodies::Made(make);
        let span = Span::For(duration);
        ingest_bench::drive_bodies("sustained load", &url, connections, bodies, span, load).await
    });
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut take_sample = || -> anyhow::Result<()> {
        let sample = Sample {
            at: start.elapsed(),
            bytes: server.rss_bytes()?,
        };
        println!(
            "rss at {:>6.1}s: {:>8.1} MB",
            sample.at.as_secs_f64(),
            mb(sample.bytes)
        );
        samples.push(sample);
        Ok(())
    };
    let mut next = start;
    let result = loop {
        take_sample()?;
        next += sustain.every;
        // The next sample, unless the load ends first.
        tokio::select! {
            () = tokio::time::sleep_until(next.into()) => {}
            result = &mut drive => break result??,
        }
    };
    // And one once the load has ended.
    take_sample()?;
    println!("{}", ingest_bench::header_row());
    println!("{}", ingest_bench::format_row(&result));
    println!("{}", spread(&samples, sustain.warmup));
    Ok(())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The samples from the warm-up on against the first of them: min, max and max/first.
pub fn spread(samples: &[Sample], warmup: Duration) -> String {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warmup).collect();
    let (Some(first), Some(min), Some(max)) = (
        after.first(),
        after.iter().min_by_key(|s| s.bytes),
        after.iter().max_by_key(|s| s.bytes),
    ) else {
        return format!(
            "rss: no sample after the {:.1}s warm-up",
            warmup.as_secs_f64()
        );
    };
    let change = |s: &Sample| (s.bytes as f64 / first.bytes as f64 - 1.0) * 100.0;
    format!(
        "rss after the {:.1}s warm-up ({} samples): first {:.1} MB at {:.1}s, min {:.1} MB ({:+.1}%), \
         max {:.1} MB ({:+.1}%), last {:.1} MB ({:+.1}%)",
        warmup.as_secs_f64(),
        after.len(),
        mb(first.bytes),
        first.at.as_secs_f64(),
        mb(min.bytes),
        change(min),
        mb(max.bytes),
        change(max),
        mb(after[after.len() - 1].bytes),
        change(after[after.len() - 1]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_against_the_first_sample_after_the_warmup() {
        let samples: Vec<Sample> = [(0, 50), (10, 100), (20, 90), (30, 120), (40, 110)]
            .map(|(at, mb)| Sample {
                at: Duration::from_secs(at),
                bytes: mb * 1_000_000,
            })
            .to_vec();
        let line = spread(&samples, Duration::from_secs(10));
        assert!(
            line.contains("(4 samples): first 100.0 MB at 10.0s"),
            "{line}"
        );
        assert!(line.contains("min 90.0 MB (-10.0%)"), "{line}");
        assert!(line.contains("max 120.0 MB (+20.0%)"), "{line}");
        assert!(line.contains("last 110.0 MB (+10.0%)"), "{line}");
    }
}
