//! fake-sentry in a process of its own, as `bench fake-sentry-db` and `bench fake-sentry
//! --server-process` measure it: the real command line, serving on a port of 127.0.0.1 that it
//! picks itself (`--port 0`) and prints.
//!
//! By default the process is this binary's hidden `serve-fake-sentry`, which runs
//! `fake_sentry::cli::main` as the `fake-sentry` binary and the suite's `understudy` binary do:
//! the same command line, allocator and storage code, built with the bench from the same
//! sources, so a fresh `cargo build --release -p bench` never measures a stale server binary.
//! `--server PATH` measures another build instead (a `fake-sentry` or `understudy fake-sentry`
//! binary, e.g. main's against a branch's).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest_012 as reqwest;
use tokio::io::AsyncBufReadExt;

use crate::child_server::ChildServer;

/// How long a start may take before the bench gives up (a restart on a large store included).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// A fake-sentry binary; this binary's `serve-fake-sentry` when absent.
    pub program: Option<PathBuf>,
    /// Its `--db`: a file, or `:memory:`.
    pub db: PathBuf,
    pub max_events: u64,
    /// More arguments for fake-sentry.
    pub args: Vec<String>,
    /// The server's `RUST_LOG`.
    pub log_filter: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

/// A started server and how long it took.
#[derive(Debug)]
pub struct Started {
    pub server: ChildServer,
    pub url: String,
    /// From the spawn to its "listening on" line.
    pub listening_after: Duration,
    /// From the spawn to the first 200 from `/api/stats/`.
    pub serving_after: Duration,
}

impl ServerCommand {
    /// Starts the server and waits until `/api/stats/` answers 200.
    pub async fn start(&self, client: &reqwest::Client) -> anyhow::Result<Started> {
        let mut command = match &self.program {
            Some(program) => tokio::process::Command::new(program),
            None => {
                let mut command = tokio::process::Command::new(this_binary()?);
                command.arg("serve-fake-sentry");
                command
            }
        };
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--db"])
            .arg(&self.db)
            .args(["--max-events", &self.max_events.to_string()])
            .args(&self.args)
            .env("RUST_LOG", &self.log_filter)
            .stdout(Stdio::piped());
        let mut server = ChildServer::spawn("fake-sentry", command, &self.log)?;
        let stdout = server.stdout().context("no stdout")?;
        let url = match tokio::time::timeout(START_TIMEOUT, listening_url(stdout)).await {
            Ok(Ok(url)) => url,
            Ok(Err(err)) => bail!("{err:#}; its log: {}", self.log.display()),
            Err(_) => bail!(
                "fake-sentry printed no URL within {START_TIMEOUT:?}; its log: {}",
                self.log.display()
            ),
        };
        let listening_after = server.spawned().elapsed();
        let serving_after = server
            .wait_until_answers(client, &format!("{url}/api/stats/"), START_TIMEOUT)
            .await?;
        Ok(Started {
            server,
            url,
            listening_after,
            serving_after,
        })
    }
}

/// This binary, to run again as the server. Linux's `/proc/self/exe` is the very file this
/// process runs even once a rebuild has replaced it at its path (as a build in the same target
/// directory does during a long run), where the path would start the new build, or nothing.
fn this_binary() -> std::io::Result<PathBuf> {
    let proc_exe = Path::new("/proc/self/exe");
    match proc_exe.exists() {
        true => Ok(proc_exe.to_path_buf()),
        false => std::env::current_exe(),
    }
}

/// Reads stdout until fake-sentry's `... listening on http://ADDR` line, then keeps reading it
/// in the background: the server prints more, and a closed pipe would fail its writes.
async fn listening_url(stdout: tokio::process::ChildStdout) -> anyhow::Result<String> {
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .filter(|_| line.contains("listening on"))
        {
            let url = url.trim_end_matches('/').to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(url);
        }
    }
    bail!("fake-sentry exited before printing where it listens")
}
