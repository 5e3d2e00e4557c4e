//! A worker's memory limit, held by the kernel: the soft `RLIMIT_DATA` of the worker process,
//! set to what its data mappings hold once it has its job plus the job's `max_memory`. Every
//! heap allocation that needs more from the kernel then fails, whoever asks (Rust code, or the C
//! code of a decompressor), and Rust's allocation error handler aborts with "memory allocation
//! of N bytes failed", which the parent reports as `MemoryLimit`.
//!
//! Counting in the global allocator instead (`cap::Cap`) put two contended atomic operations on
//! every allocation of the server too, since a worker is the server's own executable: about a
//! tenth of its ingest throughput.
//!
//! The limit follows the allocator's commits, not each allocation: mimalloc commits memory in
//! steps of a few MiB, so a limit holds within a few MiB, and what it has committed but not
//! handed out when the limit is set comes on top of it (a small dump processed without symbols
//! can fit in that alone). The parent starts workers with
//! mimalloc's arena committed on demand (`MIMALLOC_ARENA_EAGER_COMMIT=0`, see `parent`):
//! otherwise its 1 GiB arena counts as data from the start, and no allocation inside it would
//! ever reach the limit.

/// Why a limit could not be set; the worker then processes without one and says so.
#[derive(Debug, thiserror::Error)]
pub(super) enum LimitError {
    #[error("cannot read this process's data size from /proc/self/status: {0}")]
    Status(String),
    #[error("cannot read or set RLIMIT_DATA: {0}")]
    Rlimit(String),
    #[cfg(not(target_os = "linux"))]
    #[error("memory limits are applied on Linux only")]
    Unsupported,
}

/// A limit in force; [`Held::release`] gives the previous one back.
#[derive(Debug)]
pub(super) struct Held {
    #[cfg(target_os = "linux")]
    previous: (u64, u64),
}

/// Holds this process to `max` bytes of data mappings above what it has now.
#[cfg(target_os = "linux")]
pub(super) fn hold(max: u64) -> Result<Held, LimitError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| LimitError::Status(e.to_string()))?;
    let now = data_bytes(&status).ok_or_else(|| LimitError::Status("no VmData line".into()))?;
    let previous =
        getrlimit(Resource::RLIMIT_DATA).map_err(|e| LimitError::Rlimit(e.to_string()))?;
    let (soft, hard) = previous;
    let limit = now.saturating_add(max).min(soft).min(hard);
    setrlimit(Resource::RLIMIT_DATA, limit, hard).map_err(|e| LimitError::Rlimit(e.to_string()))?;
    Ok(Held { previous })
}

/// Holds nothing: only Linux counts every data mapping against `RLIMIT_DATA`.
#[cfg(not(target_os = "linux"))]
pub(super) fn hold(_max: u64) -> Result<Held, LimitError> {
    Err(LimitError::Unsupported)
}

impl Held {
    /// Puts the limit back as it was, so that the reply can be written whatever it takes.
    pub(super) fn release(self) {
        #[cfg(target_os = "linux")]
        {
            use nix::sys::resource::{Resource, setrlimit};
            let (soft, hard) = self.previous;
            if let Err(e) = setrlimit(Resource::RLIMIT_DATA, soft, hard) {
                tracing::warn!(%e, "cannot lift the worker's memory limit");
            }
        }
    }
}

/// `VmData` of a `/proc/PID/status` text, in bytes.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn data_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmData:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let kib: u64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then(|| kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_size_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmData:\t  1234 kB\nVmStk:\t 132 kB\n";
        assert_eq!(data_bytes(status), Some(1234 * 1024));
        assert_eq!(data_bytes("VmData:\t 12 MB\n"), None);
        assert_eq!(data_bytes("VmRSS:\t 12 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_held_limit_is_in_force_until_released() {
        use nix::sys::resource::{Resource, getrlimit};
        let before = getrlimit(Resource::RLIMIT_DATA).expect("getrlimit");
        // Far above what the other tests of this process take meanwhile.
        let held = hold(16 << 30).expect("hold");
        let (soft, hard) = getrlimit(Resource::RLIMIT_DATA).expect("getrlimit");
        assert_eq!(hard, before.1);
        assert!(soft <= before.0, "{soft} against {before:?}");
        if before.0 == nix::sys::resource::RLIM_INFINITY {
            assert!(soft > 16 << 30 && soft < 32 << 30, "{soft}");
        }
        held.release();
        assert_eq!(getrlimit(Resource::RLIMIT_DATA).expect("getrlimit"), before);
    }
}
