//! `bench fake-sentry`: runs the chosen [`Target`]s one after the other, with the built-in
//! client and optionally wrk, then the peers (a URL, and Kent started by the bench) with the
//! same load, printing one table row each and the throughput ratios (`file / memory`,
//! `file / kent`); or, with `ui`, the web UI's page timings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_sentry::config::SyncMode;

use crate::kent::Kent;
use crate::sentry_ingest::{
    self as ingest_bench, BenchResult, Generator, Load, RunSettings, Target,
};
use crate::sentry_ui;

/// What one `bench fake-sentry` run measures.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub connections: usize,
    pub duration: Duration,
    /// Closed loop, or a constant rate for the targets that drive HTTP and the peers.
    pub load: Load,
    /// Also drive the HTTP targets and the peers with this `wrk` (closed loop only).
    pub wrk: Option<PathBuf>,
    /// A peer measured with the same load, by base URL.
    pub peer: Option<String>,
    /// A `kent-server` to start and measure as a peer.
    pub kent: Option<PathBuf>,
    /// How long each peer is driven: Kent's few hundred envelopes/s settle within a second or
    /// two, and it keeps every event in a Python list, so its run can be shorter than the
    /// targets'. A throughput is a rate, so the ratio holds across the two durations.
    pub peer_duration: Duration,
    /// Where the file-backed databases go; a temporary directory, removed after, when absent.
    pub dir: Option<PathBuf>,
    pub sync: SyncMode,
    /// `--max-events` and `--max-db-size` of the in-process server.
    pub caps: ingest_bench::ServerCaps,
    /// Run the whole-server targets as fake-sentry's command line in a process of its own.
    pub server_process: bool,
    pub targets: Vec<Target>,
    /// Time the UI pages instead of ingest.
    pub ui: bool,
    pub ui_items: usize,
    pub ui_runs: usize,
}

/// Runs the suite, printing as it goes.
pub async fn run(options: &SuiteOptions) -> anyhow::Result<()> {
    let temp;
    let dir = match &options.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = std::env::temp_dir().join(format!("fake-sentry-bench-{}", std::process::id()));
            std::fs::create_dir_all(&temp)?;
            temp.clone()
        }
    };
    // The databases can reach gigabytes: a temporary directory goes, whatever the outcome.
    let result = match options.ui {
        true => run_ui(&dir, options).await,
        false => run_ingest(&dir, options).await,
    };
    if options.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn run_ingest(dir: &Path, options: &SuiteOptions) -> anyhow::Result<()> {
    print_preamble(options);
    println!("{}", ingest_bench::header_row());
    let mut generators = vec![Generator::Builtin(options.load)];
    generators.extend(options.wrk.clone().map(Generator::Wrk));
    let mut measured = Measured::default();
    for target in Target::ALL {
        if !options.targets.contains(&target) {
            continue;
        }
        // The storage and ingest targets call the server's code directly: no generator.
        let generators = match target.drives_http() {
            true => &generators[..],
            false => &generators[..1],
        };
        for generator in generators {
            let run = RunSettings {
                connections: options.connections,
                duration: options.duration,
                generator: generator.clone(),
                sync: options.sync,
                dir: dir.to_path_buf(),
                caps: options.caps,
                server_process: options.server_process,
            };
            let result = target.measure(&run).await?;
            println!("{}", ingest_bench::format_row(&result));
            measured.push(target.name(), generator, result);
        }
    }
    if let Some(peer) = &options.peer {
        measure_peer(
            options,
            "peer",
            peer,
            &format!("peer {peer}"),
            &generators,
            &mut measured,
        )
        .await?;
    }
    if let Some(kent_server) = &options.kent {
        let kent = Kent::start(kent_server).await?;
        let result = measure_peer(
            options,
            "kent",
            kent.url(),
            "kent",
            &generators,
            &mut measured,
        )
        .await;
        kent.stop().await?;
        result?;
    }
    // At a constant rate every target is sent the same; a ratio would be one of the schedule.
    if options.load == Load::Closed {
        for generator in &generators {
            let ratios = measured.ratios(generator);
            if !ratios.is_empty() {
                println!("ratios{}: {}", generator.suffix(), ratios.join(", "));
            }
        }
    }
    Ok(())
}

fn print_preamble(options: &SuiteOptions) {
    println!(
        "{} connections, {:.1}s per target, payload: sentry-sdk 2.75.0 error envelope, gzip ({} bytes), {} distinct event ids",
        options.connections,
        options.duration.as_secs_f64(),
        ingest_bench::PYTHON_ERROR_ENVELOPE_GZ.len(),
        ingest_bench::DISTINCT_EVENTS
    );
    match options.load {
        Load::Closed => println!(
            "closed loop: each connection sends its next request when the last is answered \
             (for throughput; a stall is one slow request per connection, use --rate for latency)"
        ),
        Load::Rate(rate) => println!(
            "constant rate: {rate} envelopes/s over {} connections (HTTP targets and the peer; \
             storage and ingest targets run flat out), latency from each request's due time",
            options.connections
        ),
    }
    if let Some(wrk) = &options.wrk {
        println!(
            "(wrk) rows: {} -t1 -c{} -d{}s, closed loop, one fixed body (one event id); \
             errors are socket errors and statuses above 399",
            wrk.display(),
            options.connections,
            options.duration.as_secs_f64().ceil().max(1.0)
        );
    }
    if options.peer.is_some() || options.kent.is_some() {
        println!(
            "peers: {:.1}s each (--peer-duration)",
            options.peer_duration.as_secs_f64()
        );
    }
}

/// Drives a peer at `url` with every generator, as the targets were.
async fn measure_peer(
    options: &SuiteOptions,
    name: &'static str,
    url: &str,
    label: &str,
    generators: &[Generator],
    measured: &mut Measured,
) -> anyhow::Result<()> {
    for generator in generators {
        let label = format!("{label}{}", generator.suffix());
        let result = generator
            .drive(&label, url, options.connections, options.peer_duration)
            .await?;
        println!("{}", ingest_bench::format_row(&result));
        measured.push(name, generator, result);
    }
    Ok(())
}

/// Every row of a run, by target or peer name and generator, for the ratios.
#[derive(Default)]
struct Measured(Vec<(&'static str, Generator, BenchResult)>);

impl Measured {
    fn push(&mut self, name: &'static str, generator: &Generator, result: BenchResult) {
        self.0.push((name, generator.clone(), result));
    }

    fn per_second(&self, name: &str, generator: &Generator) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, g, _)| *n == name && g == generator)
            .map(|(_, _, result)| result.per_second())
    }

    /// `file / memory` as a percentage, and each whole-server target over each peer, among
    /// the rows `generator` drove.
    fn ratios(&self, generator: &Generator) -> Vec<String> {
        let rate = |name| self.per_second(name, generator);
        let mut ratios = Vec::new();
        if let (Some(file), Some(memory)) = (rate("file"), rate("memory")) {
            ratios.push(format!("file / memory = {:.1}%", file / memory * 100.0));
        }
        for peer in ["peer", "kent"] {
            let Some(peer_rate) = rate(peer) else {
                continue;
            };
            for target in ["file", "memory"] {
                if let Some(target_rate) = rate(target) {
                    let ratio = target_rate / peer_rate.max(1e-9);
                    ratios.push(format!("{target} / {peer} = {ratio:.1}x"));
                }
            }
        }
        ratios
    }
}

async fn run_ui(dir: &Path, options: &SuiteOptions) -> anyhow::Result<()> {
    println!(
        "web UI: {} stored sentry-sdk 2.75.0 error events (file, WAL); query + template, no HTTP",
        options.ui_items
    );
    let timings = sentry_ui::run(dir, options.ui_items, options.ui_runs).await?;
    println!("{}", sentry_ui::header_row());
    for timing in &timings {
        println!("{}", sentry_ui::format_row(timing));
    }
    let runs = options.ui_runs.div_ceil(10).max(5);
    for timing in sentry_ui::trace_page(runs).await? {
        println!("{}", sentry_ui::format_row(&timing));
    }
    Ok(())
}
