//! fake-sentry as `bench fake-sentry-minidumps` runs it: its real command line in a process of
//! its own (`sentry_process`), the store in memory or in a fresh file, symbols from the bench's fake-symbols
//! through a symbol cache on disk that outlives the process, and `--minidump-workers` as asked.
//! Dumps are posted as Breakpad's form to `/api/1/minidump/`; progress is read from the wait
//! API (processed native events) and `/api/stats/` (`minidumps_pending`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use reqwest_012 as reqwest;
use serde_json::Value;

use crate::child_server::http_client;
use crate::sentry_process::{ServerCommand, Started};

use super::corpus::BOUNDARY;
use super::threads::ThreadTimes;

/// Dumps posted at once.
const POST_CONNECTIONS: usize = 4;

/// The longest one wait API call may block (fake-sentry caps it at 300 s).
const WAIT_STEP: Duration = Duration::from_secs(60);

/// How long a server process has to stop once asked.
const SERVER_GRACE: Duration = Duration::from_secs(30);

/// What every server of a run shares.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `--db`: `:memory:`, or a file each server starts afresh.
    pub db: PathBuf,
    /// fake-symbols' base URL, as `--symbols-url`.
    pub symbols_url: String,
    /// `--symbols-cache`: on disk, shared by every server of the run.
    pub symbols_cache: PathBuf,
    /// Where the servers' stderr goes.
    pub log: PathBuf,
    /// `--minidump-in-process`.
    pub in_process: bool,
}

/// One running server.
pub struct NativeServer {
    started: Started,
    client: reqwest::Client,
}

impl NativeServer {
    /// Starts fake-sentry with `workers` minidump workers.
    pub async fn start(launch: &Launch, workers: usize) -> anyhow::Result<NativeServer> {
        let mut args = vec![
            "--symbols-url".to_string(),
            launch.symbols_url.clone(),
            "--symbols-cache".to_string(),
            launch.symbols_cache.display().to_string(),
            "--minidump-workers".to_string(),
            workers.to_string(),
        ];
        if launch.in_process {
            args.push("--minidump-in-process".to_string());
        }
        if launch.db != Path::new(":memory:") {
            // A fresh database: one left by the server before would add its items to these.
            for file in fake_sentry::Store::files(&launch.db) {
                let _ = std::fs::remove_file(file);
            }
        }
        let command = ServerCommand {
            program: None,
            db: launch.db.clone(),
            // Everything a run sends is kept: eviction is not what is measured.
            max_events: u64::MAX >> 2,
            args,
            log_filter: "warn".into(),
            log: launch.log.clone(),
        };
        let client = http_client()?;
        let started = command.start(&client).await?;
        Ok(NativeServer { started, client })
    }

    pub fn url(&self) -> &str {
        &self.started.url
    }

    /// CPU time so far of each of its threads.
    pub fn thread_times(&self) -> anyhow::Result<ThreadTimes> {
        Ok(ThreadTimes::read(&self.started.server.pid()?.to_string())?)
    }

    /// Posts `forms` as minidump uploads, a few at once; every one must be answered 200.
    pub async fn post_dumps<'a>(
        &self,
        forms: impl IntoIterator<Item = &'a Vec<u8>>,
    ) -> anyhow::Result<()> {
        let url = format!("{}/api/1/minidump/", self.url());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        futures::stream::iter(forms)
            .map(|form| {
                let request = self
                    .client
                    .post(&url)
                    .header("content-type", &content_type)
                    .header(
                        "x-sentry-auth",
                        "Sentry sentry_key=public, sentry_version=7",
                    )
                    .body(form.clone());
                async move {
                    let response = request.send().await?;
                    match response.status() {
                        reqwest::StatusCode::OK => Ok(()),
                        status => bail!("a minidump post was answered {status}"),
                    }
                }
            })
            .buffer_unordered(POST_CONNECTIONS)
            .try_collect::<()>()
            .await
    }

    /// Native events whose dump has been processed so far.
    pub async fn processed(&self) -> anyhow::Result<u64> {
        Ok(self.wait_processed_within(1, Duration::ZERO).await?.1)
    }

    /// Dumps not yet processed (queued or being processed).
    pub async fn pending(&self) -> anyhow::Result<u64> {
        let stats: Value = self.get_json("/api/stats/").await?;
        stats["minidumps_pending"]
            .as_u64()
            .context("/api/stats/ has no minidumps_pending")
    }

    /// Waits until `count` dumps have been processed, failing after `timeout` or as soon as
    /// none is pending any more short of `count` (some failed to process).
    pub async fn wait_processed(&self, count: u64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (satisfied, processed) = self
                .wait_processed_within(count, left.min(WAIT_STEP))
                .await?;
            if satisfied {
                return Ok(());
            }
            if self.pending().await? == 0 {
                bail!("{processed} of {count} dumps processed and none pending: the rest failed");
            }
            if Instant::now() >= deadline {
                bail!("{processed} of {count} dumps processed within {timeout:?}");
            }
        }
    }

    /// One wait API call: whether `count` processed dumps were reached, and how many there are.
    async fn wait_processed_within(
        &self,
        count: u64,
        timeout: Duration,
    ) -> anyhow::Result<(bool, u64)> {
        let outcome = self
            .get_json(&format!(
                "/api/wait/?type=event&processing=processed&count={count}&timeout={}",
                timeout.as_secs_f64()
            ))
            .await?;
        let matched = outcome["count"]
            .as_u64()
            .context("the wait API gave no count")?;
        Ok((outcome["satisfied"] == true, matched))
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.url()))
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            bail!("GET {path} was answered {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// Stops the server (SIGTERM).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.started.server.terminate(SERVER_GRACE).await?;
        Ok(())
    }
}
