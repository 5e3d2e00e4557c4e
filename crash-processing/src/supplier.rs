//! Where symbols come from, and the supplier every dump of a process shares.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minidump::Module;
use minidump_unwind::{
    FileError, FileKind, LocateSymbolsResult, SymbolError, SymbolSupplier, http_symbol_supplier,
};

use crate::cache;

/// How often at most the cache is measured against its cap: a walk of the cache's files.
const CAP_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a processor finds symbols.
#[derive(Debug, Clone)]
pub struct SymbolSources {
    /// Symbol stores queried over HTTP in order (`{url}/{debug_file}/{debug_id}/{file}.sym`, and
    /// Tecken's code-file/code-id lookup): fake-symbols, a real Tecken, a static file server.
    pub urls: Vec<String>,
    /// Local directories in Breakpad's layout, looked in before the stores.
    pub dirs: Vec<PathBuf>,
    /// Downloads land here (in `cache/`, through `tmp/` on the same file system).
    pub cache_dir: PathBuf,
    /// The cache's cap in bytes; `None` keeps everything.
    pub cache_max_bytes: Option<u64>,
    /// The longest one download may take.
    pub download_timeout: Duration,
    /// How long "no source has this module" is remembered before the sources are asked again;
    /// `None` remembers it for the supplier's life.
    pub forget_missing_after: Option<Duration>,
}

impl SymbolSources {
    /// Only HTTP stores, with an uncapped cache under `cache_dir`.
    pub fn http(urls: Vec<String>, cache_dir: &Path, download_timeout: Duration) -> Self {
        Self {
            urls,
            dirs: Vec::new(),
            cache_dir: cache_dir.to_path_buf(),
            cache_max_bytes: None,
            download_timeout,
            forget_missing_after: None,
        }
    }
}

/// A module's identity as a symbol supplier sees it.
pub(crate) type ModuleKey = (String, Option<String>, Option<String>, Option<String>);

pub(crate) fn module_key(module: &(dyn Module + Sync)) -> ModuleKey {
    (
        module.code_file().into_owned(),
        module.code_identifier().map(|c| c.to_string()),
        module.debug_file().map(|d| d.into_owned()),
        module.debug_identifier().map(|d| d.breakpad().to_string()),
    )
}

type DynSupplier = Arc<dyn SymbolSupplier + Send + Sync>;

/// The HTTP supplier and the modules it did not find since it was made.
struct Memo {
    http: DynSupplier,
    made: Instant,
    missing: HashSet<ModuleKey>,
    /// Counts the times the memo was made afresh, so that misses a worker process found before
    /// a reset are not brought back after it (see [`SharedSupplier::missing`]).
    generation: u64,
}

impl Memo {
    fn new(sources: &SymbolSources, generation: u64) -> Self {
        Self {
            http: http_supplier(sources),
            made: Instant::now(),
            missing: HashSet::new(),
            generation,
        }
    }
}

/// What a memo of missing modules held at one point: the modules and the memo's generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct MissingSnapshot {
    pub(crate) generation: u64,
    pub(crate) modules: Vec<ModuleKey>,
}

/// rust-minidump's HTTP supplier over [`SymbolSources`], shared by every dump of a process:
/// found symbols land in its disk cache, and modules no source had are remembered so they are
/// not asked for again, for `forget_missing_after` or until [`SharedSupplier::forget_missing`]
/// (for symbols uploaded since). Forgetting makes a new HTTP supplier, whose own memo of file
/// lookups would otherwise keep the miss.
#[derive(Clone)]
pub struct SharedSupplier {
    sources: Arc<SymbolSources>,
    memo: Arc<Mutex<Memo>>,
    cap_checked: Arc<Mutex<Option<Instant>>>,
}

fn http_supplier(sources: &SymbolSources) -> DynSupplier {
    let cache_files = sources.cache_dir.join("cache");
    let tmp = sources.cache_dir.join("tmp");
    // The tmp dir must exist and share the cache's file system (the supplier renames).
    let _ = std::fs::create_dir_all(&tmp);
    let _ = std::fs::create_dir_all(&cache_files);
    Arc::new(http_symbol_supplier(
        sources.dirs.clone(),
        sources.urls.clone(),
        cache_files,
        tmp,
        sources.download_timeout,
    ))
}

impl SharedSupplier {
    pub fn new(sources: &SymbolSources) -> Self {
        Self {
            memo: Arc::new(Mutex::new(Memo::new(sources, 0))),
            sources: Arc::new(sources.clone()),
            cap_checked: Arc::default(),
        }
    }

    /// The memo, made afresh first when `forget_missing_after` has passed.
    fn current_memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(after) = self.sources.forget_missing_after
            && memo.made.elapsed() >= after
        {
            *memo = Memo::new(&self.sources, memo.generation + 1);
        }
        memo
    }

    /// The supplier to ask, or `None` when `key` is known to be missing.
    fn supplier_for(&self, key: &ModuleKey) -> Option<DynSupplier> {
        let memo = self.current_memo();
        (!memo.missing.contains(key)).then(|| memo.http.clone())
    }

    /// The modules known to be missing now, for a worker process to start from.
    pub(crate) fn missing(&self) -> MissingSnapshot {
        let memo = self.current_memo();
        MissingSnapshot {
            generation: memo.generation,
            modules: memo.missing.iter().cloned().collect(),
        }
    }

    /// Remembers the modules a worker process found missing, unless the memo was made afresh
    /// since the worker was given `generation`'s: a reprocess after an upload must ask again.
    pub(crate) fn merge_missing(&self, generation: u64, modules: Vec<ModuleKey>) {
        let mut memo = self.current_memo();
        if memo.generation == generation {
            memo.missing.extend(modules);
        }
    }

    /// Starts the memo from `modules` (a worker process, from its parent's memo).
    pub(crate) fn assume_missing(&self, modules: Vec<ModuleKey>) {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        memo.missing.extend(modules);
    }

    fn remember_missing(&self, key: ModuleKey) {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        memo.missing.insert(key);
    }

    /// Forgets which modules were missing, so that the next dumps ask the sources again: for
    /// reprocessing after symbols were uploaded.
    pub fn forget_missing(&self) {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        *memo = Memo::new(&self.sources, memo.generation + 1);
    }

    /// Where `.sym` files may already lie on disk, in the order they are looked in: the
    /// symbol directories, then the cache (both in Breakpad's layout).
    pub(crate) fn local_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.sources.dirs.clone();
        dirs.push(self.sources.cache_dir.join("cache"));
        dirs
    }

    /// Trims the cache to its cap, at most once a second. Returns the bytes removed.
    pub fn enforce_cache_cap(&self) -> u64 {
        let Some(max) = self.sources.cache_max_bytes else {
            return 0;
        };
        {
            let mut checked = self.cap_checked.lock().unwrap_or_else(|e| e.into_inner());
            if checked.is_some_and(|at| at.elapsed() < CAP_CHECK_EVERY) {
                return 0;
            }
            *checked = Some(Instant::now());
        }
        let removed = cache::enforce_cap(&self.sources.cache_dir.join("cache"), max);
        if removed > 0 {
            tracing::debug!(removed, max, "symbol cache trimmed to its cap");
        }
        removed
    }
}

#[async_trait::async_trait]
impl SymbolSupplier for SharedSupplier {
    async fn locate_symbols(
        &self,
        module: &(dyn Module + Sync),
    ) -> Result<LocateSymbolsResult, SymbolError> {
        let key = module_key(module);
        let http = self.supplier_for(&key).ok_or(SymbolError::NotFound)?;
        let result = http.locate_symbols(module).await;
        if matches!(result, Err(SymbolError::NotFound)) {
            self.remember_missing(key);
        }
        result
    }

    async fn locate_file(
        &self,
        module: &(dyn Module + Sync),
        file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        let http = self
            .supplier_for(&module_key(module))
            .ok_or(FileError::NotFound)?;
        http.locate_file(module, file_kind).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_a_worker_found_before_a_reset_are_not_brought_back() {
        let cache = tempfile::tempdir().unwrap();
        let sources = SymbolSources::http(Vec::new(), cache.path(), Duration::from_secs(1));
        let supplier = SharedSupplier::new(&sources);
        let key: ModuleKey = ("a.so".into(), None, None, None);
        let given = supplier.missing();
        supplier.merge_missing(given.generation, vec![key.clone()]);
        assert_eq!(supplier.missing().modules, std::slice::from_ref(&key));
        // A worker given the memo before a reprocess forgot it answers after.
        let stale = supplier.missing();
        supplier.forget_missing();
        supplier.merge_missing(stale.generation, vec![key.clone()]);
        assert_eq!(supplier.missing().modules, []);
        let fresh = supplier.missing();
        supplier.merge_missing(fresh.generation, vec![key.clone()]);
        assert_eq!(supplier.missing().modules, [key]);
    }
}
