//! How background work yields to ingest: while envelopes keep arriving, the search indexer
//! (`store/search_index`) and the native crash pipeline (`native`) work in short pieces and
//! rest after each, so that each takes at most [`BUSY_SHARE`] of the time; once ingest has been
//! quiet for [`QUIET`] they run flat out and catch up.
//!
//! A nice value alone was not enough, on a two-core machine: a busy loop at nice 19 beside a
//! server flat out took it from about 30,100 to 21,500 envelopes/s, and one minidump worker at
//! nice 19 cost ingest 7-21% (`bench fake-sentry-minidumps`). For the indexer: at 19 it still took 22% of the throughput of a
//! file-backed server flat out (14,010 envelopes/s against 17,940 with the index off, 60 s,
//! `bench fake-sentry --wrk`) and put wrk's p99.9 at 80 ms (5 ms with the index off). The CPU
//! it leaves is not the only cost: the reads it asks of the store's reader thread (which runs
//! at the process's priority), its writes and its merges take memory bandwidth, page cache
//! and the disk from the writer. Items not indexed yet are scanned by a search, so answers
//! stay the same; only searches that run during a long burst of ingest are slower.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The share of the time background work takes while ingest is busy.
pub(crate) const BUSY_SHARE: f64 = 0.1;

/// How long after the last commit ingest counts as busy.
pub(crate) const QUIET: Duration = Duration::from_millis(250);

/// The longest one rest lasts, so that a dropped store ends the background work soon.
const MAX_REST: Duration = Duration::from_millis(200);

/// Watches the store's commit counter to tell whether ingest is busy.
#[derive(Debug)]
pub(crate) struct Pacing {
    commits: watch::Receiver<u64>,
    seen: u64,
    changed_at: Instant,
}

impl Pacing {
    pub(crate) fn new(commits: watch::Receiver<u64>) -> Self {
        let seen = *commits.borrow();
        Self {
            commits,
            seen,
            changed_at: Instant::now(),
        }
    }

    /// Whether the store has committed within the last [`QUIET`].
    pub(crate) fn ingest_busy(&mut self) -> bool {
        let now = *self.commits.borrow();
        if now != self.seen {
            self.seen = now;
            self.changed_at = Instant::now();
        }
        self.changed_at.elapsed() < QUIET
    }

    /// Called after `worked` of work on a thread of its own: while ingest is busy, rests so
    /// that the work takes [`BUSY_SHARE`] of the time.
    pub(crate) fn rest_after(&mut self, worked: Duration) {
        if self.ingest_busy() {
            std::thread::sleep(rest_for(worked));
        }
    }

    /// The rest that [`Pacing::rest_after`] would take after `worked`, if any: for tasks,
    /// which await it (and for several workers sharing one `Pacing`, which sleep unlocked).
    pub(crate) fn rest_for_work(&mut self, worked: Duration) -> Option<Duration> {
        self.ingest_busy().then(|| rest_for(worked))
    }
}

/// The rest that makes `worked` [`BUSY_SHARE`] of the time, at most [`MAX_REST`].
fn rest_for(worked: Duration) -> Duration {
    worked
        .mul_f64((1.0 - BUSY_SHARE) / BUSY_SHARE)
        .min(MAX_REST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_while_commits_arrive_and_quiet_after() {
        let (commits, receiver) = watch::channel(0u64);
        let mut pacing = Pacing::new(receiver);
        pacing.changed_at = Instant::now() - QUIET * 2;
        assert!(!pacing.ingest_busy(), "nothing committed since");
        commits.send_replace(1);
        assert!(pacing.ingest_busy(), "a commit just now");
        pacing.changed_at = Instant::now() - QUIET * 2;
        assert!(!pacing.ingest_busy(), "no commit for longer than QUIET");
    }

    #[test]
    fn rests_nine_times_the_work_at_most_max_rest() {
        assert_eq!(
            rest_for(Duration::from_millis(2)),
            Duration::from_millis(18)
        );
        assert_eq!(rest_for(Duration::from_secs(1)), MAX_REST);
    }
}
