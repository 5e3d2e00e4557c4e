//! The parent's side: one worker process per dump, held to the time limit by a kill, and
//! whatever it does (exit, abort, garbage) turned into a result or a bounded `ProcessFailure`.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::WorkerCommand;
use super::wire::{self, FrameError, JobHeader, ReplyHeader};
use crate::process::ProcessFailure;
use crate::supplier::{ModuleKey, SymbolSources};

/// The bytes of a worker's stderr kept for its failure (the end: an abort's message is last).
const STDERR_KEPT: usize = 2048;

/// What Rust's allocation error handler prints before it aborts.
const ALLOCATION_FAILED: &str = "memory allocation of ";

/// One dump's job, as the parent knows it.
pub(crate) struct Job<'a> {
    pub(crate) sources: &'a SymbolSources,
    pub(crate) dump: &'a [u8],
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_symbol_bytes: Option<u64>,
    pub(crate) max_memory: Option<u64>,
    pub(crate) max_reply: u64,
    pub(crate) missing: Vec<ModuleKey>,
}

/// What a worker gave: the processed JSON or why not, and the modules it found missing.
pub(crate) struct Outcome {
    pub(crate) result: Result<Value, ProcessFailure>,
    pub(crate) missing: Vec<ModuleKey>,
}

fn failure(name: &str, detail: String) -> Outcome {
    Outcome {
        result: Err(ProcessFailure {
            name: name.into(),
            detail,
        }),
        missing: Vec::new(),
    }
}

/// Runs `job` in a worker process made by `command`. The worker is killed (and reaped) at the
/// time limit, and when this future is dropped.
pub(crate) async fn run(command: &WorkerCommand, job: Job<'_>) -> Outcome {
    let header = JobHeader {
        urls: job.sources.urls.clone(),
        dirs: job.sources.dirs.clone(),
        cache_dir: job.sources.cache_dir.clone(),
        download_timeout_ms: u64::try_from(job.sources.download_timeout.as_millis())
            .unwrap_or(u64::MAX),
        max_symbol_bytes: job.max_symbol_bytes,
        max_memory: job.max_memory,
        missing: job.missing,
    };
    let header = match serde_json::to_vec(&header) {
        Ok(header) => header,
        Err(e) => return failure("WorkerFailed", format!("cannot encode the job: {e}")),
    };
    let mut command_line = command.to_tokio();
    if job.max_memory.is_some() {
        // mimalloc, the allocator of the suite's binaries, commits a 1 GiB arena as it starts
        // unless told otherwise; all of it would count against the worker's RLIMIT_DATA from
        // the start, and nothing allocated inside it would ever reach the limit.
        command_line.env("MIMALLOC_ARENA_EAGER_COMMIT", "0");
    }
    let mut child = match command_line
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return failure(
                "WorkerFailed",
                format!(
                    "cannot start the worker {}: {e}",
                    command.program().display()
                ),
            );
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return failure("WorkerFailed", "the worker's pipes were not made".into());
    };
    let max_reply = job.max_reply;
    // Read to its end on a task of its own, so that the worker never blocks on a full stderr
    // pipe, whatever happens to the reply.
    let stderr = tokio::spawn(tail(stderr));
    let exchange = async {
        let send = async {
            // A worker that dies before it has read the job closes the pipe: its exit status
            // says why, so a write error says nothing more.
            let _ = wire::write_frame_async(&mut stdin, &header).await;
            let _ = wire::write_frame_async(&mut stdin, job.dump).await;
            drop(stdin);
        };
        let receive = async {
            let header = wire::read_frame_async(&mut stdout, wire::MAX_REPLY_HEADER).await?;
            let body = wire::read_frame_async(&mut stdout, max_reply).await?;
            Ok::<_, FrameError>((header, body))
        };
        let ((), reply) = tokio::join!(send, receive);
        if let Err(FrameError::TooLong { .. }) = &reply {
            // Nothing more is read: a worker still writing would wait on the pipe for ever.
            let _ = child.start_kill();
        }
        // The reply is read: what is left is the exit, or a worker that will not go.
        let status = child.wait().await;
        (reply, status)
    };
    let finished = match job.timeout {
        Some(limit) => tokio::time::timeout(limit, exchange).await.ok(),
        None => Some(exchange.await),
    };
    let Some((reply, status)) = finished else {
        let limit = job.timeout.unwrap_or_default();
        // `exchange` is gone, and with it its borrow of the child: kill it and reap it, so
        // that no process is left behind, nor a zombie.
        if let Err(e) = child.kill().await {
            tracing::warn!(%e, "cannot kill a minidump worker past its time limit");
        }
        return failure("Timeout", format!("processing took longer than {limit:?}"));
    };
    // The worker has exited: its stderr ends now.
    let stderr = stderr.await.unwrap_or_default();
    if let Err(e @ FrameError::TooLong { .. }) = &reply {
        // Killed for it: the exit status says nothing of the worker.
        return failure(
            "WorkerFailed",
            format!("the worker's reply could not be read: {e}"),
        );
    }
    match status {
        Ok(status) if status.success() => match reply {
            Ok((header, body)) => decode(&header, &body),
            Err(e) => failure(
                "WorkerFailed",
                format!(
                    "the worker's reply could not be read: {e}{}",
                    stderr_note(&stderr)
                ),
            ),
        },
        Ok(status) if stderr.contains(ALLOCATION_FAILED) => failure(
            "MemoryLimit",
            match job.max_memory {
                Some(max) => format!("processing needed more than {max} bytes"),
                // Not ours: the machine or a limit of the worker's environment ran out.
                None => format!("the worker ran out of memory ({})", describe(status)),
            },
        ),
        Ok(status) => failure(
            "WorkerCrashed",
            format!("the worker {}{}", describe(status), stderr_note(&stderr)),
        ),
        Err(e) => failure("WorkerFailed", format!("cannot wait for the worker: {e}")),
    }
}

/// The reply of a worker that exited successfully.
fn decode(header: &[u8], body: &[u8]) -> Outcome {
    let header: ReplyHeader = match serde_json::from_slice(header) {
        Ok(header) => header,
        Err(e) => {
            return failure(
                "WorkerFailed",
                format!("the worker's reply is not a reply: {e}"),
            );
        }
    };
    let result = match header.failure {
        Some(failure) => Err(ProcessFailure {
            name: failure.name,
            detail: failure.detail,
        }),
        None => serde_json::from_slice(body).map_err(|e| ProcessFailure {
            name: "WorkerFailed".into(),
            detail: format!("the worker's processed JSON does not parse: {e}"),
        }),
    };
    Outcome {
        result,
        missing: header.missing,
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended: {status}"),
    }
}

fn stderr_note(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; its stderr ended: {stderr}")
    }
}

/// Reads `stderr` to its end, keeping its last [`STDERR_KEPT`] bytes.
async fn tail(mut stderr: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        match stderr.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stderr_tail_keeps_the_end_only() {
        let long = format!("{}the end", "x".repeat(10_000));
        let kept = tail(long.as_bytes()).await;
        assert_eq!(kept.len(), STDERR_KEPT);
        assert!(kept.ends_with("the end"));
    }

    #[test]
    fn a_reply_that_is_not_one_is_a_bounded_failure() {
        let outcome = decode(&[0xff; 100_000], b"");
        let failure = outcome.result.unwrap_err();
        assert_eq!(failure.name, "WorkerFailed");
        assert!(failure.detail.len() < 200, "{failure}");
    }
}
