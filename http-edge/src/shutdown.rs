//! How the suite's service binaries start and stop: one runtime, one shutdown signal, one exit
//! status.

use std::fmt::Debug;
use std::future::Future;
use std::process::ExitCode;

/// Runs a service's main future on a new multi-threaded runtime and turns its outcome into the
/// exit status `main` returns: success, or the error printed as `fn main() -> Result` prints it
/// (`Error: {err:?}`) and status 1. fake-sentry's and fake-symbols' command lines end here.
pub fn run_to_exit<E: Debug>(service: impl Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:?}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what `docker stop` and compose send).
/// If a signal handler cannot be installed the other one still ends the wait; if neither can,
/// this never resolves and the process is stopped the hard way, as it would be without it.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_is_the_service_s_outcome() {
        assert_eq!(
            run_to_exit(async { Ok::<(), String>(()) }),
            ExitCode::SUCCESS
        );
        assert_eq!(
            run_to_exit(async { Err::<(), _>("cannot bind".to_string()) }),
            ExitCode::FAILURE
        );
        // The future really runs on the runtime (a timer needs one).
        let slept = run_to_exit(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok::<(), String>(())
        });
        assert_eq!(slept, ExitCode::SUCCESS);
    }
}
