//! How much disk a database takes.

use std::path::Path;

/// The database's files and their sizes in bytes: the main file, its WAL and shared-memory
/// index (each 0 when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUse {
    pub db: u64,
    pub wal: u64,
    pub shm: u64,
}

impl DiskUse {
    pub fn of(db: &Path) -> Self {
        let size = |suffix: &str| {
            std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len())
        };
        Self {
            db: size(""),
            wal: size("-wal"),
            shm: size("-shm"),
        }
    }

    /// What the data takes: the file and its WAL (the shared-memory index is a few pages of
    /// lookup table, rebuilt from the WAL).
    pub fn data(&self) -> u64 {
        self.db + self.wal
    }

    /// Removes the files.
    pub fn remove(db: &Path) {
        for file in fake_sentry::Store::files(db) {
            let _ = std::fs::remove_file(file);
        }
    }
}
