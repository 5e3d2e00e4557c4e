//! Background threads (the search indexer, the native crash pipeline) run at the lowest CPU
//! priority, on the time ingest leaves idle.

/// The nice value of background threads: the lowest priority.
const NICE: i32 = 19;

/// Lowers the calling thread's priority to [`NICE`]; `who` names it in the debug log when the
/// system refuses.
#[cfg(target_os = "linux")]
pub(crate) fn lower_this_thread(who: &str) {
    // On Linux each thread has its own nice value: setting it for this thread's id leaves the
    // writer and the readers as they are.
    let thread = rustix::thread::gettid();
    if let Err(err) = rustix::process::setpriority_process(Some(thread), NICE) {
        tracing::debug!(%err, "{who} keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_this_thread(_who: &str) {
    let _ = NICE;
}
