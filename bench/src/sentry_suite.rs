//! `bench fake-sentry`: runs the chosen [`Target`]s one after the other (and a peer with the
//! same load), printing one table row each and the ratio to the peer; or, with `ui`, the web
//! UI's page timings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_sentry::config::SyncMode;

use crate::sentry_ingest::{self as ingest_bench, Load, RunSettings, Target};
use crate::sentry_ui;

/// What one `bench fake-sentry` run measures.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub connections: usize,
    pub duration: Duration,
    /// Closed loop, or a constant rate for the targets that drive HTTP and the peer.
    pub load: Load,
    /// A peer (e.g. Kent) measured with the same load, by base URL.
    pub peer: Option<String>,
    /// Where the file-backed databases go; a temporary directory, removed after, when absent.
    pub dir: Option<PathBuf>,
    pub sync: SyncMode,
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
    println!("{}", ingest_bench::header_row());
    let run = RunSettings {
        connections: options.connections,
        duration: options.duration,
        load: options.load,
        sync: options.sync,
        dir: dir.to_path_buf(),
    };
    let mut measured = Vec::new();
    for target in Target::ALL {
        if options.targets.contains(&target) {
            let result = target.measure(&run).await?;
            println!("{}", ingest_bench::format_row(&result));
            measured.push((target, result));
        }
    }
    if let Some(peer) = &options.peer {
        let peer = ingest_bench::drive(
            &format!("peer {peer}"),
            peer,
            options.connections,
            options.duration,
            options.load,
        )
        .await?;
        println!("{}", ingest_bench::format_row(&peer));
        let ratios: Vec<String> = measured
            .iter()
            .filter(|(target, _)| matches!(target, Target::Memory | Target::File))
            .map(|(_, result)| {
                format!(
                    "{} {:.1}x",
                    result.label,
                    result.per_second() / peer.per_second().max(1e-9)
                )
            })
            .collect();
        // At a constant rate both sides send the same; the ratio is one of capacities.
        if !ratios.is_empty() && options.load == Load::Closed {
            println!("ratio vs peer: {}", ratios.join(", "));
        }
    }
    Ok(())
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
    Ok(())
}
