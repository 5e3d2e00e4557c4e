//! A server the bench runs as a child process (Kent, or fake-sentry on a database file):
//! started with its stderr in a log file, polled until a URL answers 200, its resident memory
//! read from `/proc`, and stopped with SIGTERM as `docker stop` does. The process is killed
//! when the handle drops, so a failed bench leaves no server behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest_012 as reqwest;

use crate::parse_footprint;

/// How often [`ChildServer::wait_until_answers`] asks. Short, because the time it reports (a
/// restart's) is only as fine as this.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// A server running as a child process, killed on drop.
#[derive(Debug)]
pub struct ChildServer {
    name: String,
    child: tokio::process::Child,
    /// Where its stderr goes, shown when it fails.
    log: PathBuf,
    spawned: Instant,
}

impl ChildServer {
    /// Starts `command` (its stdin closed, its stderr appended to `log`, its stdout as the
    /// caller set it).
    pub fn spawn(
        name: &str,
        mut command: tokio::process::Command,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let spawned = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            spawned,
        })
    }

    /// When the process was started.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    pub fn stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .id()
            .with_context(|| format!("{} has exited", self.name))
    }

    /// Its resident set size now, in bytes (`VmRSS`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        Ok(parse_footprint::read_status_field(&status, "VmRSS")?)
    }

    /// Asks `url` until it answers 200, giving up after `timeout` or as soon as the process
    /// exits; returns the time since the process was started.
    pub async fn wait_until_answers(
        &mut self,
        client: &reqwest::Client,
        url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = client.get(url).timeout(timeout).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(self.spawned.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before {url} answered; its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{url} did not answer 200 within {timeout:?}; {}'s log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit, killing it after `grace`; returns
    /// how long it took to exit after the signal.
    pub async fn terminate(mut self, grace: Duration) -> anyhow::Result<Duration> {
        let pid = self.pid()?;
        let signalled = Instant::now();
        // `kill` rather than a signal call of our own: no unsafe code and no libc binding
        // for one signal.
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .context("cannot run kill")?;
        if !sent.success() {
            bail!("kill -TERM {pid} ({}) failed: {sent}", self.name);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                status?;
                Ok(signalled.elapsed())
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("{} did not exit within {grace:?} of SIGTERM", self.name)
            }
        }
    }

    /// The last lines of the log, for an error message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a server that cannot bind port 0 and
/// say which port it got (Kent). Another process could take it before the server binds it;
/// the caller retries on another port when the server exits.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// An HTTP client for polling and timing the servers: keep-alive, no proxy (a proxy set in
/// the environment must not sit between the bench and a loopback server), no decompression.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().no_gzip().build()?)
}
