//! Ingest throughput with and without minidumps being processed beside it: the ingest bench's
//! closed loop (the Python SDK error envelope, `connections` keep-alive connections) drives a
//! fresh server for `duration`, (a) with no dump pending, and (b) with a backlog of dumps posted
//! just before, large enough to keep every worker busy for the whole window even at the rate
//! the workers reach alone. Whether it did is checked, not assumed: `minidumps_pending` at the
//! end of the window must be above 0, and the dumps processed during the window are counted.
//!
//! The rows alternate (a, b, a, b, ...), each on a server of its own with the same flags, so
//! that a drift of the shared machine does not land on one side.

use std::time::Duration;

use crate::sentry_ingest::{self, BenchResult, Load};

use super::corpus::Corpus;
use super::server::{Launch, NativeServer};
use super::threads::{self, MachineTimes, SchedTimes, ThreadTimes};

/// The backlog covers the window this many times over at the workers' rate alone. Beside the
/// closed loop they reach about half that rate (2026-12-07), so the backlog outlasts the window
/// even on a machine where they would not slow down at all.
pub const BACKLOG_MARGIN: f64 = 3.0;

/// One measured window.
#[derive(Debug, Clone)]
pub struct Window {
    pub result: BenchResult,
    /// The dumps beside it, in a (b) row.
    pub backlog: Option<Backlog>,
    pub cpu: WindowCpu,
}

/// Where the CPU went during a window.
#[derive(Debug, Clone)]
pub struct WindowCpu {
    /// By group of the server's threads (name and nice value), most CPU first.
    pub server: Vec<(threads::Group, SchedTimes)>,
    /// The bench's process: the load generator, mostly.
    pub client: SchedTimes,
    /// The whole machine, other processes included.
    pub machine: MachineTimes,
}

/// The dumps of a (b) window.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    /// Posted before the window.
    pub posted: usize,
    /// Not yet processed when the window began and when it ended.
    pub pending_at_start: u64,
    pub pending_at_end: u64,
    /// Processed during the window.
    pub processed: u64,
}

impl Backlog {
    /// Whether the workers had work for the whole window.
    pub fn busy_throughout(&self) -> bool {
        self.pending_at_end > 0
    }
}

/// What the windows of one worker count share.
#[derive(Debug, Clone, Copy)]
pub struct WindowSettings {
    pub workers: usize,
    pub connections: usize,
    pub duration: Duration,
    /// Dumps/s the workers reached with nothing else running (the warm passes).
    pub dumps_per_second: f64,
}

impl WindowSettings {
    /// Dumps posted before a (b) window.
    pub fn backlog(&self) -> usize {
        (self.dumps_per_second * self.duration.as_secs_f64() * BACKLOG_MARGIN).ceil() as usize
            + self.workers
    }
}

/// (a) Ingest alone.
pub async fn without_dumps(
    label: &str,
    launch: &Launch,
    settings: &WindowSettings,
) -> anyhow::Result<Window> {
    let server = NativeServer::start(launch, settings.workers).await?;
    let measured = drive(label, &server, settings).await;
    server.stop().await?;
    let (result, cpu) = measured?;
    Ok(Window {
        result,
        backlog: None,
        cpu,
    })
}

/// (b) Ingest beside a backlog of dumps, cycling through the corpus.
pub async fn beside_dumps(
    label: &str,
    launch: &Launch,
    corpus: &Corpus,
    settings: &WindowSettings,
) -> anyhow::Result<Window> {
    let server = NativeServer::start(launch, settings.workers).await?;
    let measured = async {
        let posted = settings.backlog();
        server
            .post_dumps(corpus.forms.iter().cycle().take(posted))
            .await?;
        let processed_before = server.processed().await?;
        let pending_at_start = server.pending().await?;
        let (result, cpu) = drive(label, &server, settings).await?;
        let processed = server.processed().await? - processed_before;
        let pending_at_end = server.pending().await?;
        anyhow::Ok(Window {
            result,
            backlog: Some(Backlog {
                posted,
                pending_at_start,
                pending_at_end,
                processed,
            }),
            cpu,
        })
    }
    .await;
    server.stop().await?;
    measured
}

/// Drives the ingest load for the window, reading the CPU time of both processes around it.
async fn drive(
    label: &str,
    server: &NativeServer,
    settings: &WindowSettings,
) -> anyhow::Result<(BenchResult, WindowCpu)> {
    let machine_before = MachineTimes::read()?;
    let (server_before, client_before) = (server.thread_times()?, ThreadTimes::read("self")?);
    let result = sentry_ingest::drive(
        label,
        server.url(),
        settings.connections,
        settings.duration,
        Load::Closed,
    )
    .await?;
    let (server_after, client_after) = (server.thread_times()?, ThreadTimes::read("self")?);
    let machine = MachineTimes::read()?.since(&machine_before);
    let cpu = WindowCpu {
        server: server_after.since(&server_before),
        client: threads::total(&client_after.since(&client_before)),
        machine,
    };
    Ok((result, cpu))
}

/// The CPU lines printed under each row: the server's threads and the bench, and what the
/// rest of the machine took (on a shared machine, the other processes are the noise).
pub fn cpu_lines(window: &Window) -> [String; 2] {
    let cpu = &window.cpu;
    let seconds = |d: Duration| d.as_secs_f64();
    [
        format!(
            "  CPU in the window, seconds on a CPU (waiting for one): server {}; bench (load \
             generator) {:.2} ({:.2})",
            threads::format_groups(&cpu.server),
            seconds(cpu.client.on_cpu),
            seconds(cpu.client.waiting)
        ),
        format!(
            "  machine: {:.2} of {:.2} core-seconds busy, {:.2} of them other processes' (steal \
             {:.2})",
            seconds(cpu.machine.busy),
            seconds(cpu.machine.all),
            seconds(window.others()),
            seconds(cpu.machine.steal)
        ),
    ]
}

/// The backlog line printed under a (b) row.
pub fn backlog_line(backlog: &Backlog, duration: Duration) -> String {
    format!(
        "  dumps beside it: {} posted before, pending {} at the start and {} at the end ({}), \
         {} processed in the window ({:.1}/s)",
        backlog.posted,
        backlog.pending_at_start,
        backlog.pending_at_end,
        match backlog.busy_throughout() {
            true => "busy throughout",
            false => "RAN DRY: the row does not measure a busy pipeline",
        },
        backlog.processed,
        backlog.processed as f64 / duration.as_secs_f64().max(1e-9)
    )
}

/// A window is noisy when other processes of the machine took more than this share of its
/// core-seconds: on a shared machine they, not the dumps, may have made the difference.
const NOISY_SHARE: f64 = 0.05;

impl Window {
    /// Core-seconds other processes took during the window.
    pub fn others(&self) -> Duration {
        let ours = threads::total(&self.cpu.server).on_cpu + self.cpu.client.on_cpu;
        self.cpu.machine.busy.saturating_sub(ours)
    }

    pub fn noisy(&self) -> bool {
        self.others().as_secs_f64() > NOISY_SHARE * self.cpu.machine.all.as_secs_f64()
    }
}

/// (b) over (a), round by round and overall (and over the rounds no other process disturbed,
/// when some were): throughput and p99, and whether the target (within 10%) was met.
pub fn ratio_lines(windows: &[Window]) -> Vec<String> {
    let (alone, beside): (Vec<&Window>, Vec<&Window>) =
        windows.iter().partition(|w| w.backlog.is_none());
    let rounds: Vec<(&Window, &Window)> = alone.into_iter().zip(beside).collect();
    let mut lines = Vec::new();
    for (round, (a, b)) in rounds.iter().enumerate() {
        let noise = match a.noisy() || b.noisy() {
            true => format!(
                " (noisy: other processes took {:.2} and {:.2} core-s)",
                a.others().as_secs_f64(),
                b.others().as_secs_f64()
            ),
            false => String::new(),
        };
        lines.push(format!(
            "round {}: (b) / (a) = {:.3} envelopes/s, p99 {:.2} ms -> {:.2} ms{noise}",
            round + 1,
            b.result.per_second() / a.result.per_second().max(1e-9),
            a.result.latency.p99.as_secs_f64() * 1e3,
            b.result.latency.p99.as_secs_f64() * 1e3,
        ));
    }
    let quiet: Vec<(&Window, &Window)> = rounds
        .iter()
        .copied()
        .filter(|(a, b)| !a.noisy() && !b.noisy())
        .collect();
    lines.push(overall_line("overall", &rounds));
    if quiet.len() != rounds.len() {
        lines.push(overall_line("quiet rounds only", &quiet));
    }
    lines
}

/// Mean (b) over mean (a) across `rounds`.
fn overall_line(label: &str, rounds: &[(&Window, &Window)]) -> String {
    if rounds.is_empty() {
        return format!("{label}: no round");
    }
    let mean = |side: fn(&(&Window, &Window)) -> f64| {
        rounds.iter().map(side).sum::<f64>() / rounds.len() as f64
    };
    let (alone, beside) = (
        mean(|(a, _)| a.result.per_second()),
        mean(|(_, b)| b.result.per_second()),
    );
    let ratio = beside / alone.max(1e-9);
    format!(
        "{label}: (b) / (a) = {ratio:.3} ({beside:.0} / {alone:.0} envelopes/s, {} rounds); \
         target >= 0.90: {}",
        rounds.len(),
        match ratio >= 0.90 {
            true => "met",
            false => "NOT met",
        }
    )
}
