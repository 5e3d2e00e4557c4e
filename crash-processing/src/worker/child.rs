//! The worker's side: one job read from stdin, processed by the same [`Processor`] as in
//! process, one reply written to stdout.

use std::io::{Read, Write};
use std::time::Duration;

use super::memory_limit;
use super::wire::{self, JobHeader, ReplyHeader, WireFailure};
use crate::process::{Limits, Processor};
use crate::supplier::SymbolSources;

/// Why a worker could not answer at all (its parent reports the exit status and stderr).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot read the job: {0}")]
    Job(String),
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write the reply: {0}")]
    Reply(std::io::Error),
}

/// Runs one job as a worker process: reads it from `input`, processes the dump on a
/// current-thread runtime with the process held to the job's memory limit, and writes the reply
/// to `output`.
///
/// The limit counts from what the process holds once it has the job and its runtime, so that
/// it bounds what processing takes (see `memory_limit`: the kernel holds it, on Linux). An
/// allocation past it fails, and Rust's allocation error handler aborts the process with
/// "memory allocation of N bytes failed" on stderr: the parent reports that as `MemoryLimit`.
pub fn serve(input: &mut impl Read, output: &mut impl Write) -> Result<(), WorkerError> {
    let header = wire::read_frame(input, wire::MAX_JOB_HEADER)
        .map_err(|e| WorkerError::Job(format!("its header: {e}")))?;
    let header: JobHeader =
        serde_json::from_slice(&header).map_err(|e| WorkerError::Job(e.to_string()))?;
    let dump = wire::read_frame(input, wire::MAX_DUMP)
        .map_err(|e| WorkerError::Job(format!("the dump: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(WorkerError::Runtime)?;
    let sources = SymbolSources {
        urls: header.urls,
        dirs: header.dirs,
        cache_dir: header.cache_dir,
        // The parent keeps the cache under its cap, once for all its workers.
        cache_max_bytes: None,
        download_timeout: Duration::from_millis(header.download_timeout_ms),
        forget_missing_after: None,
    };
    let limits = Limits {
        // The parent holds the time limit: it kills this process.
        timeout: None,
        max_symbol_bytes: header.max_symbol_bytes,
        max_memory: None,
    };
    let processor = Processor::new(&sources, limits);
    processor.supplier().assume_missing(header.missing);
    let held = header.max_memory.and_then(|max| {
        memory_limit::hold(max)
            .inspect_err(|e| tracing::warn!(%e, "processing without a memory limit"))
            .ok()
    });
    let processed = runtime.block_on(async {
        let state = processor.process(&dump).await?;
        let mut json = Vec::new();
        // What `to_json` parses: the parent parses the same bytes.
        state
            .print_json(&mut json, false)
            .map_err(|e| crate::ProcessFailure {
                name: "JsonError".into(),
                detail: e.to_string(),
            })?;
        Ok::<_, crate::ProcessFailure>(json)
    });
    if let Some(held) = held {
        held.release();
    }
    let (failure, body) = match processed {
        Ok(json) => (None, json),
        Err(failure) => (
            Some(WireFailure {
                name: failure.name,
                detail: failure.detail,
            }),
            Vec::new(),
        ),
    };
    let reply = ReplyHeader {
        failure,
        missing: processor.supplier().missing().modules,
    };
    let reply = serde_json::to_vec(&reply).map_err(|e| WorkerError::Reply(e.into()))?;
    wire::write_frame(output, &reply).map_err(WorkerError::Reply)?;
    wire::write_frame(output, &body).map_err(WorkerError::Reply)?;
    output.flush().map_err(WorkerError::Reply)
}
