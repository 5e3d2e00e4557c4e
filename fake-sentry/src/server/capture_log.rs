//! The console line each capture gets, held to a rate so that a load test does not flood the
//! console (or a container's log file) with a line per request.
//!
//! Up to [`LINES_PER_SECOND`] captures a second are logged one by one, as a developer sending a
//! few events wants to see them. Past that, the rest of the second's captures are counted, and
//! one line gives the count when the second is over: at the next capture, or from the task that
//! [`report_folded`] runs, so that the end of a burst is reported too. Formatting and writing a
//! line per envelope cost a flat-out server about 4% of its CPU (`perf`, `--db`, 16
//! connections), and 25 MB of log for 100,000 envelopes.

use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use super::AppState;

/// Captures a second logged one by one.
pub(crate) const LINES_PER_SECOND: u32 = 20;

/// The length of one window of [`LINES_PER_SECOND`].
const WINDOW: Duration = Duration::from_secs(1);

/// One capture, as its line shows it.
pub(crate) struct Capture<'a> {
    pub endpoint: &'a str,
    pub project: u64,
    pub items: usize,
    pub summary: &'a str,
}

/// Captures that were counted instead of logged, since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Folded {
    since: Instant,
    envelopes: u64,
    items: u64,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    logged: u32,
    folded: Option<Folded>,
}

/// What to do with one capture.
#[derive(Debug, PartialEq, Eq)]
struct Decision {
    /// A count of earlier captures to report first.
    report: Option<Folded>,
    /// Whether this capture gets its own line.
    log: bool,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self {
            start: now,
            logged: 0,
            folded: None,
        }
    }

    /// Ends the window once it is over, giving back what it folded.
    fn roll(&mut self, now: Instant) -> Option<Folded> {
        if now.duration_since(self.start) < WINDOW {
            return None;
        }
        let folded = self.folded.take();
        *self = Self::new(now);
        folded
    }

    fn admit(&mut self, now: Instant, items: usize) -> Decision {
        let report = self.roll(now);
        let log = self.logged < LINES_PER_SECOND;
        if log {
            self.logged += 1;
        } else {
            let folded = self.folded.get_or_insert(Folded {
                since: now,
                envelopes: 0,
                items: 0,
            });
            folded.envelopes += 1;
            folded.items += items as u64;
        }
        Decision { report, log }
    }
}

/// The capture lines of one server.
#[derive(Debug)]
pub(crate) struct CaptureLog {
    window: Mutex<Window>,
}

impl Default for CaptureLog {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window::new(Instant::now())),
        }
    }
}

impl CaptureLog {
    /// Logs `capture`, or counts it when this second has had its lines.
    pub(crate) fn record(&self, capture: Capture<'_>) {
        let decision = self
            .window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(Instant::now(), capture.items);
        if let Some(folded) = decision.report {
            report(folded);
        }
        if decision.log {
            tracing::info!(
                endpoint = capture.endpoint,
                project = capture.project,
                items = capture.items,
                summary = capture.summary,
                "captured"
            );
        }
    }

    /// Reports what a window that is over folded, when no capture came to do it.
    fn report_if_over(&self) {
        let folded = self
            .window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .roll(Instant::now());
        if let Some(folded) = folded {
            report(folded);
        }
    }
}

fn report(folded: Folded) {
    let Folded {
        envelopes, items, ..
    } = folded;
    tracing::info!(
        "captured {envelopes} more envelopes ({items} items) in {:.1} s, counted rather than \
         logged one by one past {LINES_PER_SECOND} a second",
        folded.since.elapsed().as_secs_f64()
    );
}

/// Reports counted captures once their second is over, until the server has gone.
pub(crate) async fn report_folded(state: Weak<AppState>) {
    let mut tick = tokio::time::interval(WINDOW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        state.capture_log.report_if_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_logs_its_first_lines_and_counts_the_rest() {
        let start = Instant::now();
        let mut window = Window::new(start);
        for n in 0..LINES_PER_SECOND {
            let at = start + Duration::from_millis(n as u64);
            assert_eq!(
                window.admit(at, 1),
                Decision {
                    report: None,
                    log: true
                }
            );
        }
        let first_folded = start + Duration::from_millis(500);
        for n in 0..30 {
            let at = first_folded + Duration::from_millis(n);
            assert!(!window.admit(at, 2).log);
        }
        let next = window.admit(start + WINDOW, 1);
        assert_eq!(
            next,
            Decision {
                report: Some(Folded {
                    since: first_folded,
                    envelopes: 30,
                    items: 60
                }),
                log: true
            }
        );
    }

    #[test]
    fn a_quiet_second_reports_nothing_and_an_idle_window_is_reported_once() {
        let start = Instant::now();
        let mut window = Window::new(start);
        assert!(window.admit(start, 1).log);
        assert_eq!(window.roll(start + WINDOW), None);
        for n in 0..=LINES_PER_SECOND {
            window.admit(start + WINDOW + Duration::from_millis(n as u64), 1);
        }
        let later = start + 2 * WINDOW + Duration::from_millis(100);
        assert_eq!(window.roll(later).map(|f| f.envelopes), Some(1));
        assert_eq!(window.roll(later + WINDOW), None);
    }
}
