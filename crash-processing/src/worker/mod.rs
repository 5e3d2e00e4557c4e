//! Processing in a worker process, so that a dump's limits are hard: the parent kills a worker
//! at the time limit, and the kernel caps the worker's memory, whatever the code processing it
//! does.
//!
//! The parent ([`crate::Processor::isolated`]) spawns [`WorkerCommand`] (an executable that
//! runs [`serve`], e.g. `fake-sentry process-minidump`) once per dump. The job goes on the
//! worker's stdin: the symbol sources, the dump's limits, the modules the parent already knows
//! are missing (so that the memo of missing modules outlives each worker) and the dump. The
//! reply comes on its stdout: the processor's JSON as [`crate::to_json`] gives it in process,
//! or a [`crate::ProcessFailure`], and the modules found missing. Both are length-prefixed
//! frames that the reader caps (`wire`). The worker processes with the same [`Processor`] as
//! in process, so the results are the same.
//!
//! How a worker can end, as the parent reports it:
//! - a reply: the processed JSON, or the processor's own failure;
//! - past the time limit: killed, reaped, `Timeout`;
//! - an allocation over its memory limit (`RLIMIT_DATA`, see `memory_limit`): it aborts with
//!   Rust's "memory allocation of N bytes failed", `MemoryLimit`;
//! - anything else (a crash, a reply that is not one): `WorkerCrashed` or `WorkerFailed`, with
//!   the exit status and the end of its stderr, bounded.
//!
//! Symbols downloaded by a worker land in the shared disk cache; the parent trims the cache
//! to its cap after each dump (a file removed while a worker reads it stays readable, and one
//! removed before it is opened is downloaded again).
//!
//! [`Processor`]: crate::Processor

mod child;
mod memory_limit;
pub(crate) mod parent;
mod wire;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use child::{WorkerError, serve};

/// How a worker process is started: a program, its arguments, and variables set for it only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    program: PathBuf,
    arg0: Option<OsString>,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// Runs `program` (whose command line must call [`serve`]).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            arg0: None,
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The name the worker sees as its `argv[0]` (Unix), for a multi-call binary that picks its
    /// tool by the name it was run as.
    pub fn arg0(mut self, name: impl Into<OsString>) -> Self {
        self.arg0 = Some(name.into());
        self
    }

    /// Sets an environment variable for the worker only.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    fn to_tokio(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        #[cfg(unix)]
        if let Some(arg0) = &self.arg0 {
            command.arg0(arg0);
        }
        command.args(&self.args).envs(self.envs.iter().cloned());
        command
    }
}
