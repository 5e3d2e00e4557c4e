//! What the collector keeps: crashes in memory, capped by count and by bytes, and optionally
//! Antenna's `v1/...` layout on disk.
//!
//! A crash first reserves its place (one crash and its bytes) under the lock, so two
//! submissions racing for the last place cannot both get it; only then is anything written to
//! disk, and only once every file is written is the crash listed and acknowledged. A full
//! collector refuses new crashes (it never evicts: what it acknowledged stays readable), and a
//! failed disk write leaves no files of the crash behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use time::OffsetDateTime;

/// One accepted crash.
#[derive(Debug, Clone)]
pub struct StoredCrash {
    /// Without the `bp-` prefix.
    pub crash_id: String,
    /// Antenna's raw crash: annotations plus `uuid`, `submitted_timestamp`, `version`,
    /// `metadata`.
    pub raw_crash: Value,
    /// Dump name (`upload_file_minidump`, ...) to bytes.
    pub dumps: BTreeMap<String, Vec<u8>>,
}

/// Why a crash has no place: the numbers, for a clear refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the collector is full: {crashes} crashes and {bytes} bytes held, this one needs {needed} \
     bytes (limits: {max_crashes} crashes, {max_bytes} bytes)"
)]
pub struct Full {
    pub crashes: usize,
    pub bytes: usize,
    pub needed: usize,
    pub max_crashes: usize,
    pub max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    crashes: Vec<Arc<StoredCrash>>,
    /// Bytes charged for the listed crashes.
    bytes: usize,
    /// Places and bytes promised to crashes still being written.
    reserved_crashes: usize,
    reserved_bytes: usize,
}

/// The crashes in memory, bounded by count and bytes.
pub(crate) struct Store {
    max_crashes: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl Store {
    pub(crate) fn new(max_crashes: usize, max_bytes: usize) -> Self {
        Self {
            max_crashes,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked; the counts are kept consistent
        // by each critical section, which never panics halfway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Promises a place for one crash charged `bytes`, or says why there is none.
    pub(crate) fn reserve(&self, bytes: usize) -> Result<Reservation<'_>, Full> {
        let mut inner = self.lock();
        let crashes = inner.crashes.len() + inner.reserved_crashes;
        let held = inner.bytes + inner.reserved_bytes;
        if crashes >= self.max_crashes || held.saturating_add(bytes) > self.max_bytes {
            return Err(Full {
                crashes,
                bytes: held,
                needed: bytes,
                max_crashes: self.max_crashes,
                max_bytes: self.max_bytes,
            });
        }
        inner.reserved_crashes += 1;
        inner.reserved_bytes += bytes;
        Ok(Reservation {
            store: self,
            bytes,
            open: true,
        })
    }

    pub(crate) fn find(&self, id: &str) -> Option<Arc<StoredCrash>> {
        self.lock()
            .crashes
            .iter()
            .find(|c| c.crash_id == id)
            .cloned()
    }

    pub(crate) fn all(&self) -> Vec<Arc<StoredCrash>> {
        self.lock().crashes.clone()
    }

    /// `(crashes, bytes)` held, reservations included.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (
            inner.crashes.len() + inner.reserved_crashes,
            inner.bytes + inner.reserved_bytes,
        )
    }
}

/// A promised place; dropped without [`Reservation::commit`], it is given back.
pub(crate) struct Reservation<'a> {
    store: &'a Store,
    bytes: usize,
    open: bool,
}

impl Reservation<'_> {
    /// Lists the crash in the place it was promised.
    pub(crate) fn commit(mut self, crash: Arc<StoredCrash>) {
        let mut inner = self.store.lock();
        inner.reserved_crashes -= 1;
        inner.reserved_bytes -= self.bytes;
        inner.bytes += self.bytes;
        inner.crashes.push(crash);
        self.open = false;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.open {
            let mut inner = self.store.lock();
            inner.reserved_crashes -= 1;
            inner.reserved_bytes -= self.bytes;
        }
    }
}

/// What a crash is charged in memory: its dumps and names, and its raw crash (counted twice
/// its JSON size for the value tree it is kept as).
pub(crate) fn charge(crash: &StoredCrash, raw_json: &[u8]) -> usize {
    let dumps: usize = crash.dumps.iter().map(|(k, v)| k.len() + v.len()).sum();
    dumps + 2 * raw_json.len() + 256
}

/// Writes Antenna's `v1/<dump>/<id>`, `v1/dump_names/<id>` and, last (its presence means the
/// crash is complete), `v1/raw_crash/<date>/<id>`. Each file goes through a `.partial`
/// name; on any failure every file of this crash is removed again.
pub(crate) fn write_antenna_layout(
    dir: &Path,
    crash: &StoredCrash,
    raw_json: &[u8],
    now: OffsetDateTime,
) -> std::io::Result<()> {
    let mut written = Vec::new();
    let result = write_files(dir, crash, raw_json, now, &mut written);
    if result.is_err() {
        for path in written {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("partial"));
        }
    }
    result
}

fn write_files(
    dir: &Path,
    crash: &StoredCrash,
    raw_json: &[u8],
    now: OffsetDateTime,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let id = &crash.crash_id;
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let mut write = |rel: String, bytes: &[u8]| -> std::io::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        written.push(path.clone());
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    };
    for (name, bytes) in &crash.dumps {
        let key = if name == "upload_file_minidump" {
            "dump"
        } else {
            name.as_str()
        };
        write(format!("v1/{key}/{id}"), bytes)?;
    }
    let names: Vec<&String> = crash.dumps.keys().collect();
    write(
        format!("v1/dump_names/{id}"),
        serde_json::to_string(&names).unwrap_or_default().as_bytes(),
    )?;
    write(format!("v1/raw_crash/{date}/{id}"), raw_json)
}
