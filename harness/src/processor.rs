//! The processors under test: the real `minidump-processor` in-process, and an external
//! `minidump-stackwalk` binary run the way Socorro's `MinidumpStackwalkRule` runs it.
//!
//! Both fetch symbols over HTTP from the symbols server (fake-symbols, or the user's own) and
//! keep them in one cache per run, so each module's symbols are fetched once per run whatever
//! the number of crashes. [`InProcess`] processes each dump with its own `Symbolizer` (so a
//! module's `loaded_symbols` describes that crash only, as a fresh minidump-stackwalk process
//! would report it) over one [`SharedSupplier`]: the HTTP supplier with its disk cache, plus a
//! memo of modules the server did not have, so a missing module is asked for once too.
//! [`InProcess::prefetch`] fills the cache up front so a run can time fetching and processing
//! apart. [`Stackwalk`] shares one `--symbols-cache` across its invocations.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use minidump::{Minidump, MinidumpModuleList, Module};
use minidump_processor::ProcessState;
use minidump_unwind::{
    FileError, FileKind, FrameSymbolizer, LocateSymbolsResult, SymbolError, SymbolSupplier,
    Symbolizer, http_symbol_supplier,
};
use serde_json::Value;
use tokio::process::Command;

/// A module's identity as a symbol supplier sees it.
type ModuleKey = (String, Option<String>, Option<String>, Option<String>);

fn module_key(module: &(dyn Module + Sync)) -> ModuleKey {
    (
        module.code_file().into_owned(),
        module.code_identifier().map(|c| c.to_string()),
        module.debug_file().map(|d| d.into_owned()),
        module.debug_identifier().map(|d| d.breakpad().to_string()),
    )
}

/// The HTTP supplier shared by every crash of a run: found symbols land in its disk cache,
/// and modules it could not find are remembered so they are not asked for again.
#[derive(Clone)]
pub struct SharedSupplier {
    http: Arc<dyn SymbolSupplier + Send + Sync>,
    missing: Arc<Mutex<HashSet<ModuleKey>>>,
}

impl SharedSupplier {
    /// Fetches from `symbol_urls` (tried in order) into a cache under `cache_dir`; each
    /// download may take at most `timeout`.
    pub fn new(symbol_urls: Vec<String>, cache_dir: &Path, timeout: Duration) -> Self {
        // The tmp dir must exist and share the cache's file system (the supplier renames).
        let _ = std::fs::create_dir_all(cache_dir.join("tmp"));
        let _ = std::fs::create_dir_all(cache_dir.join("cache"));
        let http = http_symbol_supplier(
            Vec::new(),
            symbol_urls,
            cache_dir.join("cache"),
            cache_dir.join("tmp"),
            timeout,
        );
        Self {
            http: Arc::new(http),
            missing: Arc::default(),
        }
    }

    fn is_missing(&self, key: &ModuleKey) -> bool {
        self.missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }
}

#[async_trait::async_trait]
impl SymbolSupplier for SharedSupplier {
    async fn locate_symbols(
        &self,
        module: &(dyn Module + Sync),
    ) -> Result<LocateSymbolsResult, SymbolError> {
        let key = module_key(module);
        if self.is_missing(&key) {
            return Err(SymbolError::NotFound);
        }
        let result = self.http.locate_symbols(module).await;
        if matches!(result, Err(SymbolError::NotFound)) {
            self.missing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
        result
    }

    async fn locate_file(
        &self,
        module: &(dyn Module + Sync),
        file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        self.http.locate_file(module, file_kind).await
    }
}

/// Processes dumps in this process over one [`SharedSupplier`].
pub struct InProcess {
    supplier: SharedSupplier,
}

/// A processing failure, named as minidump-stackwalk names it (`HeaderMismatch`, ...).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{name}: {detail}")]
pub struct ProcessFailure {
    /// What becomes `status` / `mdsw_status_string`.
    pub name: String,
    pub detail: String,
}

/// Swallows what `fill_symbol` reports: prefetching only wants the fetch to happen.
struct Discard(u64);

impl FrameSymbolizer for Discard {
    fn get_instruction(&self) -> u64 {
        self.0
    }
    fn set_function(&mut self, _: &str, _: u64, _: u32) {}
    fn set_source_file(&mut self, _: &str, _: u32, _: u64) {}
}

impl InProcess {
    /// A processor fetching from `symbol_urls` (tried in order) through a cache under
    /// `cache_dir`; each download may take at most `timeout`.
    pub fn new(symbol_urls: Vec<String>, cache_dir: &Path, timeout: Duration) -> Self {
        Self {
            supplier: SharedSupplier::new(symbol_urls, cache_dir, timeout),
        }
    }

    /// Fetches the symbols of every module in `dumps` (each once), `concurrency` at a time.
    /// Returns how many distinct modules were looked up. Unreadable dumps are skipped here;
    /// processing reports them.
    pub async fn prefetch(&self, dumps: &[&[u8]], concurrency: usize) -> usize {
        let mut seen = HashSet::new();
        let mut modules = Vec::new();
        for bytes in dumps {
            let Ok(dump) = Minidump::read(*bytes) else {
                continue;
            };
            let Ok(list) = dump.get_stream::<MinidumpModuleList>() else {
                continue;
            };
            for module in list.iter() {
                if seen.insert(module_key(module)) {
                    modules.push(module.clone());
                }
            }
        }
        let count = modules.len();
        let symbolizer = Symbolizer::new(self.supplier.clone());
        let symbolizer = &symbolizer;
        futures::stream::iter(modules)
            .for_each_concurrent(concurrency.max(1), |module| async move {
                let mut frame = Discard(module.base_address());
                // A module without symbols is an expected outcome; processing reports it.
                let _ = symbolizer.fill_symbol(&module, &mut frame).await;
            })
            .await;
        count
    }

    /// Processes one dump with a symbolizer of its own over the shared supplier.
    pub async fn process(&self, bytes: &[u8]) -> Result<ProcessState, ProcessFailure> {
        let dump = Minidump::read(bytes).map_err(|e| ProcessFailure {
            name: error_name(&format!("{e:?}")),
            detail: e.to_string(),
        })?;
        let symbolizer = Symbolizer::new(self.supplier.clone());
        minidump_processor::process_minidump(&dump, &symbolizer)
            .await
            .map_err(|e| ProcessFailure {
                name: error_name(&format!("{e:?}")),
                detail: e.to_string(),
            })
    }
}

/// The variant name of an error's `Debug` form (`HeaderMismatch`, `MissingThreadList`).
fn error_name(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        "UnknownError".into()
    } else {
        name
    }
}

/// A processed crash in minidump-stackwalk's JSON form.
pub fn to_json(state: &ProcessState) -> Value {
    let mut out = Vec::new();
    match state.print_json(&mut out, false) {
        Ok(()) => serde_json::from_slice(&out).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
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

    #[test]
    fn error_names_come_from_debug_forms() {
        assert_eq!(error_name("HeaderMismatch"), "HeaderMismatch");
        assert_eq!(error_name("MissingThreadList"), "MissingThreadList");
        assert_eq!(error_name("Io(Error)"), "Io");
        assert_eq!(error_name(""), "UnknownError");
    }
}
