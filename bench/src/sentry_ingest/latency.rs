//! How the ingest bench records latency and paces its load.
//!
//! Every latency goes into an HDR histogram ([`Latencies`]): microsecond resolution, three
//! significant digits, up to an hour, one per connection and merged at the end, so no sample is
//! dropped and the tail (p99.9, max) is as exact as the middle.
//!
//! A closed loop (each connection sends its next request when the last one is answered)
//! under-reports stalls: while the server is stalled, each connection has one request waiting
//! and sends nothing else, so a 300 ms stall is one slow sample per connection among tens of
//! thousands; the requests a real client would have sent during it are never sent, so never
//! measured (coordinated omission). [`Schedule`] is the cure wrk2 uses: in constant-rate mode
//! each connection's requests are due at fixed times, and a request that goes out late because
//! its connection was still waiting on the server counts its latency from when it was due. A
//! stall then shows in every request that should have been sent during it.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The largest latency told apart; longer ones are recorded as this.
const HIGHEST_MICROS: u64 = 3_600 * 1_000_000;

/// Latencies of one target, in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.max(1));
    }

    /// Adds `other`'s samples (another connection's) to these.
    pub fn merge(&mut self, other: &Latencies) {
        self.0
            .add(&other.0)
            .expect("histograms with the same bounds add");
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(&self) -> LatencySummary {
        let at = |quantile: f64| Duration::from_micros(self.0.value_at_quantile(quantile));
        LatencySummary {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: Duration::from_micros(self.0.max()),
        }
    }
}

/// The percentiles a table row shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

/// How the load generator paces each connection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Load {
    /// Back to back: the next request as soon as the last is answered (wrk, `ab`). Finds the
    /// throughput; under-reports stalls (see the module doc).
    #[default]
    Closed,
    /// This many envelopes per second across all connections, each connection on a fixed
    /// schedule, latency counted from each request's due time (wrk2's `-R`).
    Rate(f64),
}

/// When one connection's requests are due in constant-rate mode: connection `index` of `count`
/// sends every `count / rate` seconds, the connections staggered evenly across that interval,
/// for as long as the run lasts. Due times are computed from the start, never accumulated, so
/// they do not drift.
#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    deadline: Instant,
    /// Seconds from the start to this connection's first request.
    offset: f64,
    /// Seconds between two of this connection's requests.
    interval: f64,
    next: u64,
}

impl Schedule {
    pub fn new(start: Instant, deadline: Instant, rate: f64, index: usize, count: usize) -> Self {
        let count = count.max(1);
        let interval = count as f64 / rate;
        Self {
            start,
            deadline,
            offset: interval * index as f64 / count as f64,
            interval,
            next: 0,
        }
    }

    fn due(&self, n: u64) -> Instant {
        self.start + Duration::from_secs_f64(self.offset + self.interval * n as f64)
    }

    /// The next request's due time, or `None` once the next would be due after the run.
    pub fn next_due(&mut self) -> Option<Instant> {
        let due = self.due(self.next);
        (due < self.deadline).then(|| {
            self.next += 1;
            due
        })
    }

    /// The due times of every request still to come before the deadline, taken off the
    /// schedule.
    pub fn drain(&mut self) -> impl Iterator<Item = Instant> + '_ {
        std::iter::from_fn(|| self.next_due())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_spreads_the_rate_over_its_connections() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(1);
        // 100/s over 4 connections: each sends every 40 ms, the four 10 ms apart.
        let mut all: Vec<Duration> = (0..4)
            .flat_map(|index| {
                Schedule::new(start, deadline, 100.0, index, 4)
                    .drain()
                    .map(|due| due - start)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(all.len(), 100);
        all.sort();
        for (n, due) in all.iter().enumerate() {
            let expected = Duration::from_millis(10 * n as u64);
            assert!(
                due.abs_diff(expected) < Duration::from_micros(1),
                "{n}: {due:?}"
            );
        }
    }

    #[test]
    fn percentiles_come_from_every_sample() {
        let mut one = Latencies::default();
        let mut other = Latencies::default();
        // 999 fast samples and one slow one, split across two connections.
        for n in 0..999 {
            let target = if n % 2 == 0 { &mut one } else { &mut other };
            target.record(Duration::from_micros(1000));
        }
        other.record(Duration::from_millis(300));
        one.merge(&other);
        assert_eq!(one.len(), 1000);
        let summary = one.summary();
        assert!(summary.p999.abs_diff(Duration::from_millis(1)) < Duration::from_micros(2));
        assert!(summary.max.abs_diff(Duration::from_millis(300)) < Duration::from_micros(300));
        // Sub-microsecond and huge latencies still count.
        one.record(Duration::from_nanos(10));
        one.record(Duration::from_secs(7_200));
        assert_eq!(one.len(), 1002);
        assert!(one.summary().max >= Duration::from_secs(3_599));
    }
}
