//! One dump through the real `minidump-processor`, within a time limit and a symbol budget.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use minidump::{Minidump, MinidumpModuleList, Module};
use minidump_processor::ProcessState;
use minidump_unwind::{
    FileError, FileKind, FrameSymbolizer, LocateSymbolsResult, SymbolError, SymbolSupplier,
    Symbolizer,
};
use serde_json::Value;

use crate::supplier::{SharedSupplier, SymbolSources, module_key};
use crate::worker::{WorkerCommand, parent};
use crate::yielding::Yielding;

/// What one dump may cost. The default sets no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Wall-clock time for the whole dump, symbol downloads included; `None`: no limit. Checked
    /// while downloads are awaited and every few frames of the walk (see `yielding`).
    pub timeout: Option<Duration>,
    /// The symbol files one dump may load, in bytes on disk (a parsed file takes a few times
    /// that in memory); a module whose file would pass it is processed without symbols. A file
    /// in a symbol directory or the cache is measured before it is parsed, a download right
    /// after. `None`: no budget.
    pub max_symbol_bytes: Option<u64>,
    /// The memory processing one dump may take, in bytes; past it the dump fails with
    /// `MemoryLimit`. Applied only in a worker process ([`Processor::isolated`]) on Linux, as
    /// the process's `RLIMIT_DATA` above what it holds before processing (so it counts what
    /// the allocator commits, in steps of a few MiB); `None`: no limit.
    pub max_memory: Option<u64>,
}

/// A processing failure, named as minidump-stackwalk names it (`HeaderMismatch`, ...), or
/// `Timeout` when the time limit passed; in a worker process also `MemoryLimit` (the memory
/// limit), `WorkerCrashed` (it died otherwise) or `WorkerFailed` (it could not be started, or
/// its reply could not be read).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{name}: {detail}")]
pub struct ProcessFailure {
    /// What becomes `status` / `mdsw_status_string`.
    pub name: String,
    pub detail: String,
}

/// Processes dumps over one [`SharedSupplier`], each within [`Limits`], in this process or
/// each in a worker process of its own ([`Processor::isolated`]).
#[derive(Clone)]
pub struct Processor {
    supplier: SharedSupplier,
    limits: Limits,
    sources: Arc<SymbolSources>,
    worker: Option<Arc<WorkerCommand>>,
}

/// The most processed JSON the parent reads from a worker (a dump of thousands of threads
/// makes tens of megabytes).
const MAX_WORKER_REPLY: u64 = 256 << 20;

/// Swallows what `fill_symbol` reports: prefetching only wants the fetch to happen.
struct Discard(u64);

impl FrameSymbolizer for Discard {
    fn get_instruction(&self) -> u64 {
        self.0
    }
    fn set_function(&mut self, _: &str, _: u64, _: u32) {}
    fn set_source_file(&mut self, _: &str, _: u32, _: u64) {}
}

/// The shared supplier seen through one dump's symbol budget.
struct Budgeted {
    shared: SharedSupplier,
    /// Where a module's file may already lie on disk: the symbol directories, then the cache.
    local_dirs: Vec<PathBuf>,
    remaining: Mutex<u64>,
}

impl Budgeted {
    /// Takes `size` bytes from the budget, or says why the module goes without symbols.
    fn charge(&self, module: &(dyn Module + Sync), size: u64) -> Result<(), SymbolError> {
        let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
        if size > *remaining {
            tracing::debug!(
                module = %module.code_file(),
                size,
                remaining = *remaining,
                "symbol file over the dump's budget"
            );
            return Err(SymbolError::LoadError(std::io::Error::other(format!(
                "the symbol file ({size} bytes) is over what is left of the dump's symbol \
                 budget ({} bytes)",
                *remaining
            ))));
        }
        *remaining -= size;
        Ok(())
    }

    /// The size of `module`'s `.sym` file where it lies on disk, if it does.
    fn size_on_disk(&self, module: &(dyn Module + Sync)) -> Option<u64> {
        let lookup = breakpad_symbols::breakpad_sym_lookup(module)?;
        self.local_dirs
            .iter()
            .filter_map(|dir| std::fs::metadata(dir.join(&lookup.cache_rel)).ok())
            .find(|meta| meta.is_file())
            .map(|meta| meta.len())
    }
}

#[async_trait::async_trait]
impl SymbolSupplier for Budgeted {
    async fn locate_symbols(
        &self,
        module: &(dyn Module + Sync),
    ) -> Result<LocateSymbolsResult, SymbolError> {
        // A file already on disk is measured before it is parsed. One that has to be downloaded
        // is measured once it is in the cache: the HTTP supplier downloads and parses in one
        // step, and fetching it separately first would change what the processor reports for
        // a file that does not parse (a cached file that fails is "corrupt", a download that
        // fails is "missing", as minidump-stackwalk reports it).
        if let Some(size) = self.size_on_disk(module) {
            self.charge(module, size)?;
            return self.shared.locate_symbols(module).await;
        }
        let found = self.shared.locate_symbols(module).await?;
        if let Some(size) = self.size_on_disk(module) {
            self.charge(module, size)?;
        }
        Ok(found)
    }

    async fn locate_file(
        &self,
        module: &(dyn Module + Sync),
        file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        self.shared.locate_file(module, file_kind).await
    }
}

impl Processor {
    /// A processor over `sources`, each dump within `limits`.
    pub fn new(sources: &SymbolSources, limits: Limits) -> Self {
        Self {
            supplier: SharedSupplier::new(sources),
            limits,
            sources: Arc::new(sources.clone()),
            worker: None,
        }
    }

    /// The same processor, with [`Processor::process_to_json`] processing each dump in a
    /// worker process that `command` starts (see the `worker` module): killed at the time
    /// limit, its memory capped at `max_memory`.
    pub fn isolated(mut self, command: WorkerCommand) -> Self {
        self.worker = Some(Arc::new(command));
        self
    }

    /// Processes one dump to `minidump-stackwalk --json`'s form: in a worker process when the
    /// processor is [`isolated`](Processor::isolated), else in this one (as
    /// [`Processor::process`] and [`to_json`] do).
    pub async fn process_to_json(&self, bytes: &[u8]) -> Result<Value, ProcessFailure> {
        let Some(command) = &self.worker else {
            return self.process(bytes).await.map(|state| to_json(&state));
        };
        let missing = self.supplier.missing();
        let job = parent::Job {
            sources: &self.sources,
            dump: bytes,
            timeout: self.limits.timeout,
            max_symbol_bytes: self.limits.max_symbol_bytes,
            max_memory: self.limits.max_memory,
            max_reply: MAX_WORKER_REPLY,
            missing: missing.modules,
        };
        let outcome = parent::run(command, job).await;
        self.supplier
            .merge_missing(missing.generation, outcome.missing);
        self.supplier.enforce_cache_cap();
        outcome.result
    }

    /// The supplier its dumps share.
    pub fn supplier(&self) -> &SharedSupplier {
        &self.supplier
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
        let result = match self.limits.timeout {
            Some(limit) => tokio::time::timeout(limit, self.process_unlimited(bytes))
                .await
                .unwrap_or_else(|_| {
                    Err(ProcessFailure {
                        name: "Timeout".into(),
                        detail: format!("processing took longer than {limit:?}"),
                    })
                }),
            None => self.process_unlimited(bytes).await,
        };
        self.supplier.enforce_cache_cap();
        result
    }

    async fn process_unlimited(&self, bytes: &[u8]) -> Result<ProcessState, ProcessFailure> {
        let dump = Minidump::read(bytes).map_err(|e| ProcessFailure {
            name: error_name(&format!("{e:?}")),
            detail: e.to_string(),
        })?;
        let outcome = match self.limits.max_symbol_bytes {
            Some(budget) => {
                let supplier = Budgeted {
                    shared: self.supplier.clone(),
                    local_dirs: self.supplier.local_dirs(),
                    remaining: Mutex::new(budget),
                };
                let symbolizer = Yielding::new(Symbolizer::new(supplier));
                minidump_processor::process_minidump(&dump, &symbolizer).await
            }
            None => {
                let symbolizer = Yielding::new(Symbolizer::new(self.supplier.clone()));
                minidump_processor::process_minidump(&dump, &symbolizer).await
            }
        };
        outcome.map_err(|e| ProcessFailure {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_come_from_debug_forms() {
        assert_eq!(error_name("HeaderMismatch"), "HeaderMismatch");
        assert_eq!(error_name("MissingThreadList"), "MissingThreadList");
        assert_eq!(error_name("Io(Error)"), "Io");
        assert_eq!(error_name(""), "UnknownError");
    }

    #[tokio::test]
    async fn a_dump_that_is_not_one_fails_with_the_processors_error_name() {
        let cache = tempfile::tempdir().unwrap();
        let sources = SymbolSources::http(Vec::new(), cache.path(), Duration::from_secs(1));
        let processor = Processor::new(&sources, Limits::default());
        let failure = processor.process(&[b'x'; 64]).await.unwrap_err();
        assert_eq!(failure.name, "HeaderMismatch", "{failure}");
    }

    /// A walk that never waits for the network still ends at its time limit: with symbols on
    /// disk, nothing but the yields gives the timeout a look before the walk is over.
    #[tokio::test]
    async fn the_time_limit_holds_while_a_walk_runs_from_memory() {
        use crash_generator::{Crash, OsFlavor, Profile, Span};
        // Many threads of deep stacks: a walk of thousands of frames, all from memory.
        let profile = Profile {
            threads: Span(300, 300),
            frames_per_thread: Span(40, 40),
            ..Profile::for_os(OsFlavor::Linux)
        };
        let crash = Crash::generate(&profile, 5);
        let symbols = tempfile::tempdir().unwrap();
        for (path, bytes) in crash.sym_files() {
            let file = symbols.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, bytes).unwrap();
        }
        let cache = tempfile::tempdir().unwrap();
        let mut sources = SymbolSources::http(Vec::new(), cache.path(), Duration::from_secs(1));
        sources.dirs = vec![symbols.path().to_path_buf()];
        let unlimited = Processor::new(&sources, Limits::default());
        let started = std::time::Instant::now();
        unlimited.process(crash.minidump_bytes()).await.unwrap();
        let took = started.elapsed();
        // The timer ticks every millisecond: the walk must outlast a few ticks.
        assert!(
            took > Duration::from_millis(20),
            "the walk took only {took:?}"
        );
        let limited = Processor::new(
            &sources,
            Limits {
                timeout: Some(Duration::from_millis(2)),
                max_symbol_bytes: Some(1 << 30),
                max_memory: None,
            },
        );
        let started = std::time::Instant::now();
        let Err(failure) = limited.process(crash.minidump_bytes()).await else {
            panic!("a {took:?} walk was not stopped by a 2 ms limit");
        };
        assert_eq!(failure.name, "Timeout", "{failure}");
        assert!(
            started.elapsed() < took,
            "stopped at {:?}",
            started.elapsed()
        );
    }
}
