//! The hidden `process-minidump` subcommand: a worker process that the native pipeline starts
//! for each dump (`NativeConfig::isolation`), running `crash_processing::serve_worker` on its
//! stdin and stdout.
//!
//! Two variables make a worker misbehave, for the tests of what the parent does then; they are
//! read here only, so a server's own environment never changes how it processes:
//! - `FAKE_SENTRY_WORKER_TEST_HANG=FILE`: write this process's id to FILE, then sleep without
//!   end (a worker that never yields, to be killed at the time limit);
//! - `FAKE_SENTRY_WORKER_TEST_GARBAGE=1`: answer with bytes that are not a reply, and exit 0.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crash_processing::WorkerCommand;

/// The hidden subcommand's name.
pub(crate) const SUBCOMMAND: &str = "process-minidump";

/// The worker command that runs this executable's `process-minidump`: `current_exe()` with
/// `prefix` before the subcommand (`serve-fake-sentry` for bench's binary), seen as
/// `fake-sentry` in its `argv[0]` (so that the suite's multi-call binary runs fake-sentry).
pub(crate) fn this_executable(prefix: &[OsString]) -> std::io::Result<WorkerCommand> {
    let mut command = WorkerCommand::new(std::env::current_exe()?).arg0("fake-sentry");
    for arg in prefix {
        command = command.arg(arg.clone());
    }
    Ok(command.arg(SUBCOMMAND))
}

/// Runs one job from stdin to stdout.
pub(crate) fn main() -> ExitCode {
    if let Some(pid_file) = std::env::var_os("FAKE_SENTRY_WORKER_TEST_HANG") {
        let _ = std::fs::write(pid_file, std::process::id().to_string());
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if std::env::var_os("FAKE_SENTRY_WORKER_TEST_GARBAGE").is_some() {
        let mut out = std::io::stdout().lock();
        // More than a pipe holds: the parent must stop reading, and not wait on the writer.
        let _ = out.write_all(&vec![0xa5; 1 << 20]);
        let _ = out.flush();
        return ExitCode::SUCCESS;
    }
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    match crash_processing::serve_worker(&mut input, &mut output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "the minidump worker could not answer");
            ExitCode::FAILURE
        }
    }
}
