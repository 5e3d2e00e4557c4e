//! The processors under test: the real `minidump-processor` in-process, and an external
//! `minidump-stackwalk` binary run the way Socorro's `MinidumpStackwalkRule` runs it.
//!
//! Both fetch symbols over HTTP from the symbols server (fake-symbols, or the user's own) and
//! keep them in one cache per run, so each module's symbols are fetched once per run whatever
//! the number of crashes. The in-process one is the `crash-processing` crate's [`Processor`]
//! (shared with fake-sentry), re-exported here; [`Processor::prefetch`] fills the cache up front
//! so a run can time fetching and processing apart. [`Stackwalk`] shares one `--symbols-cache`
//! across its invocations.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crash_processing::{Limits, ProcessFailure, Processor, SymbolSources, to_json};
use serde_json::Value;
use tokio::process::Command;

/// The in-process processor of a run: symbols from `symbol_urls` (tried in order) through a
/// cache under `cache_dir`, each download within `download_timeout`, no other limit.
pub fn in_process(
    symbol_urls: Vec<String>,
    cache_dir: &Path,
    download_timeout: Duration,
) -> Processor {
    let sources = SymbolSources::http(symbol_urls, cache_dir, download_timeout);
    Processor::new(&sources, Limits::default())
}

/// An external `minidump-stackwalk`, run with Socorro's flags.
#[derive(Debug, Clone)]
pub struct Stackwalk {
    pub binary: PathBuf,
    pub symbol_urls: Vec<String>,
    /// Shared by every invocation of a run: symbols are fetched once per module.
    pub work_dir: PathBuf,
    /// `--symbols-download-timeout-secs`.
    pub download_timeout: Duration,
    /// Socorro's `kill_timeout`: the process is killed after this.
    pub kill_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StackwalkError {
    #[error("cannot run {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("cannot write the stackwalker's input: {0}")]
    Io(#[from] std::io::Error),
    #[error("killed after {0:?} (Socorro's kill timeout)")]
    Timeout(Duration),
}

/// What one stackwalker run produced, as Socorro records it.
#[derive(Debug, Clone)]
pub struct StackwalkOutput {
    /// `json_dump`: the parsed output, or `{}` when it was not JSON.
    pub json: Value,
    pub return_code: i32,
    /// `mdsw_status_string`.
    pub status: String,
}

impl Stackwalk {
    /// `minidump-stackwalk --version`, to check the binary before a run.
    pub async fn version(&self) -> Result<String, StackwalkError> {
        let out = Command::new(&self.binary)
            .arg("--version")
            .output()
            .await
            .map_err(|source| StackwalkError::Spawn {
                binary: self.binary.display().to_string(),
                source,
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs the stackwalker over `dump` with the raw crash annotations `raw_crash`.
    pub async fn process(
        &self,
        name: &str,
        dump: &[u8],
        raw_crash: &Value,
    ) -> Result<StackwalkOutput, StackwalkError> {
        let dir = self.work_dir.join("runs").join(name);
        tokio::fs::create_dir_all(&dir).await?;
        let cache = self.work_dir.join("cache");
        let tmp = self.work_dir.join("tmp");
        tokio::fs::create_dir_all(&cache).await?;
        tokio::fs::create_dir_all(&tmp).await?;
        let dump_path = dir.join("upload_file_minidump");
        let raw_path = dir.join("raw_crash.json");
        let output_path = dir.join("output.json");
        let log_path = dir.join("stackwalk.log");
        tokio::fs::write(&dump_path, dump).await?;
        tokio::fs::write(&raw_path, serde_json::to_vec(raw_crash).unwrap_or_default()).await?;
        if dump.is_empty() {
            // Socorro short-circuits empty dumps without running the stackwalker.
            return Ok(StackwalkOutput {
                json: Value::Object(Default::default()),
                return_code: 0,
                status: "EmptyMinidump".into(),
            });
        }
        let mut command = Command::new(&self.binary);
        command
            .arg(format!("--evil-json={}", raw_path.display()))
            .arg(format!("--symbols-cache={}", cache.display()))
            .arg(format!("--symbols-tmp={}", tmp.display()))
            .arg("--no-color")
            .arg(format!("--output-file={}", output_path.display()))
            .arg(format!("--log-file={}", log_path.display()))
            .arg(format!(
                "--symbols-download-timeout-secs={}",
                self.download_timeout.as_secs().max(1)
            ));
        for url in &self.symbol_urls {
            command.arg(format!("--symbols-url={url}"));
        }
        command
            .arg("--json")
            .arg("--verbose=error")
            .arg(&dump_path)
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = command.spawn().map_err(|source| StackwalkError::Spawn {
            binary: self.binary.display().to_string(),
            source,
        })?;
        let status = tokio::time::timeout(self.kill_timeout, child.wait_with_output())
            .await
            .map_err(|_| StackwalkError::Timeout(self.kill_timeout))??
            .status;
        let return_code = status.code().unwrap_or(-9);
        let json: Value = tokio::fs::read(&output_path)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        let log = tokio::fs::read_to_string(&log_path)
            .await
            .unwrap_or_default();
        let status = status_string(&json, &log);
        Ok(StackwalkOutput {
            json,
            return_code,
            status,
        })
    }
}

/// Socorro's `mdsw_status_string`: `json.status`, overridden by the word after `ERROR` at the
/// start of the log.
pub fn status_string(json: &Value, log: &str) -> String {
    if let Some(rest) = log.trim_start().strip_prefix("ERROR")
        && let Some(word) = rest.split_whitespace().next()
    {
        return word.to_string();
    }
    json.get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown error")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_log_or_json() {
        let json = serde_json::json!({"status": "OK"});
        assert_eq!(status_string(&json, ""), "OK");
        assert_eq!(
            status_string(&json, "ERROR HeaderMismatch - Error reading dump: ..."),
            "HeaderMismatch"
        );
        assert_eq!(status_string(&Value::Null, ""), "unknown error");
    }
}
