//! The native crash pipeline: minidumps processed by the real `minidump-processor` after they
//! are stored, and turned into native crash events as Sentry shows them. While envelopes keep
//! arriving each worker rests after each dump so that dumps take a tenth of its time
//! (`crate::pacing`): a nice value alone cost ingest 7-21% on two cores.
//!
//! Ingest stores a minidump (a `/minidump/` upload, or an envelope attachment of type
//! `event.minidump`) with a `pending` row (`store/minidumps.rs`) and answers at once: it never
//! waits on a dump or on symbols. This pipeline runs on a runtime of its own, whose
//! `--minidump-workers` threads run at the lowest CPU priority: a dispatcher takes pending dumps
//! oldest first, as many as there are free workers, whenever the store says there is new work
//! (or a second has passed), and each dump is processed within `--minidump-timeout`, its
//! symbol budget and `--minidump-max-memory` (`crash-processing`'s `Limits`). The command line
//! processes each dump in a worker process of its own (`worker`: the binary's hidden
//! `process-minidump` subcommand, `NativeConfig::isolation`), killed at the time limit and
//! with its memory capped, so both limits are hard and a dump that crashes the processor takes
//! only its worker down; a worker thread here then waits on that process. A library user that
//! leaves `isolation` unset processes in this process, with a cooperative time limit and the
//! symbol budget as the only bound on memory. The outcome (the processor's JSON, the
//! native event built from it by `event`, the signature, or the processor's error) is written
//! through the store's writer; the event item's summary becomes the crash reason and signature.
//!
//! Symbols come from `--symbols-url` stores and `--symbols-dir` directories through one disk
//! cache shared by every dump (`--symbols-cache`, capped by `--symbols-cache-max-bytes`). A
//! module no source had is remembered for `forget_missing_after`; reprocessing forgets them all,
//! so that symbols uploaded since are found.
//!
//! The pipeline holds the store weakly and stops once the store is gone.

pub(crate) mod event;
#[cfg(feature = "cli")]
pub(crate) mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crash_processing::{Limits, Processor, SymbolSources};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use crate::config::{NativeConfig, Storage};
use crate::pacing::Pacing;
use crate::store::{self, PendingMinidump, ProcessingOutcome, Store, StoreError};

/// How often the idle dispatcher checks that the store is still there (and retries a failed
/// look for work).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The running pipeline of one store.
pub(crate) struct NativePipeline {
    processor: Processor,
    /// A temporary symbol cache, removed when the pipeline goes (in-memory stores).
    _temporary_cache: Option<tempfile::TempDir>,
}

impl NativePipeline {
    /// Starts the pipeline over `store`, or returns `None` when processing is off
    /// (`workers` 0).
    pub(crate) fn start(
        store: &Arc<Store>,
        storage: &Storage,
        config: &NativeConfig,
    ) -> Result<Option<Arc<Self>>, StoreError> {
        if config.workers == 0 {
            return Ok(None);
        }
        let (cache_dir, temporary_cache) = match (&config.symbols_cache, storage) {
            (Some(dir), _) => (dir.clone(), None),
            (None, Storage::File(db)) => (store::beside(db, "-symbols"), None),
            (None, Storage::Memory) => {
                let dir = tempfile::Builder::new()
                    .prefix("fake-sentry-symbols-")
                    .tempdir()
                    .map_err(|e| StoreError::Task(format!("cannot make a symbol cache: {e}")))?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let sources = SymbolSources {
            urls: config.symbol_urls.clone(),
            dirs: config.symbol_dirs.clone(),
            cache_dir,
            cache_max_bytes: Some(config.symbols_cache_max_bytes),
            download_timeout: config.download_timeout,
            forget_missing_after: Some(config.forget_missing_after),
        };
        let limits = Limits {
            timeout: Some(config.timeout),
            max_symbol_bytes: Some(config.max_symbol_bytes),
            max_memory: (config.max_memory > 0).then_some(config.max_memory),
        };
        let processor = match &config.isolation {
            Some(command) => Processor::new(&sources, limits).isolated(command.clone()),
            None => Processor::new(&sources, limits),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .max_blocking_threads(config.workers)
            .thread_name("fake-sentry-minidump")
            .on_thread_start(|| crate::thread_priority::lower_this_thread("a minidump worker"))
            .enable_all()
            .build()
            .map_err(|e| StoreError::Task(format!("cannot start the minidump workers: {e}")))?;
        let dispatcher = Dispatcher {
            store: Arc::downgrade(store),
            processor: processor.clone(),
            workers: Arc::new(Semaphore::new(config.workers)),
            busy: Arc::default(),
            done: Arc::new(Notify::new()),
            pacing: Arc::new(Mutex::new(Pacing::new(store.subscribe_envelope_commits()))),
        };
        std::thread::Builder::new()
            .name("fake-sentry-minidumps".into())
            .spawn(move || runtime.block_on(dispatcher.run()))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Some(Arc::new(Self {
            processor,
            _temporary_cache: temporary_cache,
        })))
    }

    /// Makes the minidump whose attachment is at `seq` pending again, forgetting which
    /// modules had no symbols. Returns the new attempt, or `None` when there is no such dump.
    pub(crate) async fn reprocess(
        &self,
        store: &Store,
        seq: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.processor.supplier().forget_missing();
        store.reprocess_minidump(seq).await
    }
}

struct Dispatcher {
    store: Weak<Store>,
    processor: Processor,
    /// One permit per worker.
    workers: Arc<Semaphore>,
    /// Dumps being processed, by attachment seq.
    busy: Arc<Mutex<HashSet<i64>>>,
    /// Told when a dump is done, so that the dispatcher takes the next.
    done: Arc<Notify>,
    /// Whether ingest is busy, shared by the workers (it remembers when envelopes last came).
    pacing: Arc<Mutex<Pacing>>,
}

impl Dispatcher {
    async fn run(self) {
        let Some(store) = self.store.upgrade() else {
            return;
        };
        let mut work = store.subscribe_minidump_work();
        drop(store);
        // Pending dumps are looked for at start (a restart's), when the store says there is new
        // work and when a worker is free again; the idle tick only checks that the store is
        // still there, or retries a look that failed.
        let mut due = true;
        loop {
            let Some(store) = self.store.upgrade() else {
                return;
            };
            if due {
                work.borrow_and_update();
                due = !self.dispatch(&store).await;
            }
            drop(store);
            tokio::select! {
                _ = work.changed() => due = true,
                () = self.done.notified() => due = true,
                () = tokio::time::sleep(IDLE_CHECK) => {}
            }
        }
    }

    /// Starts as many pending dumps as there are free workers. Returns false when the pending
    /// dumps could not be read.
    async fn dispatch(&self, store: &Arc<Store>) -> bool {
        let free = self.workers.available_permits();
        if free == 0 {
            return true;
        }
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let pending = match store
            .read(move |conn| store::pending(conn, free, &busy))
            .await
        {
            Ok(pending) => pending,
            Err(err) => {
                tracing::warn!(%err, "cannot read the minidumps to process");
                return false;
            }
        };
        for job in pending {
            let Ok(permit) = self.workers.clone().try_acquire_owned() else {
                break;
            };
            self.busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(job.seq);
            let (store, processor) = (store.clone(), self.processor.clone());
            let (busy, done) = (self.busy.clone(), self.done.clone());
            let pacing = self.pacing.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                if let Err(err) = process_one(&store, &processor, job).await {
                    tracing::warn!(%err, seq = job.seq, "minidump processing was not recorded");
                }
                drop(store);
                // While ingest is busy the worker rests, so that dumps take a tenth of its time.
                let rest = pacing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .rest_for_work(started.elapsed());
                if let Some(rest) = rest {
                    tokio::time::sleep(rest).await;
                }
                busy.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&job.seq);
                drop(permit);
                done.notify_one();
            });
        }
        true
    }
}

/// Processes one dump and records the outcome.
async fn process_one(
    store: &Arc<Store>,
    processor: &Processor,
    job: PendingMinidump,
) -> Result<(), StoreError> {
    let seq = job.seq;
    let Some(inputs) = store
        .read(move |conn| store::minidump_inputs(conn, seq))
        .await?
    else {
        // Evicted or flushed meanwhile: nothing to record.
        return Ok(());
    };
    let outcome = outcome_of(processor, &inputs.dump, inputs.client_event.as_deref()).await;
    store.record_minidump(job, outcome).await?;
    Ok(())
}

/// What processing `dump` gives, with `client_event` (the event item's payload) merged in.
pub(crate) async fn outcome_of(
    processor: &Processor,
    dump: &[u8],
    client_event: Option<&[u8]>,
) -> ProcessingOutcome {
    match processor.process_to_json(dump).await {
        Ok(processed) => {
            let signature = crash_signature::signature(&processed);
            let client: Option<Value> = client_event.and_then(|b| serde_json::from_slice(b).ok());
            let native_event = event::native_event(client.as_ref(), &processed);
            ProcessingOutcome::Processed {
                summary: event::summary(&processed, &signature),
                search_text: event::search_text(&processed, &signature),
                processed,
                native_event,
                signature,
            }
        }
        Err(failure) => ProcessingOutcome::Failed {
            error: failure.to_string(),
        },
    }
}
