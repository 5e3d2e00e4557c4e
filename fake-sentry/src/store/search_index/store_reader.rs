//! The indexer's reads of the store, on a thread of their own at the process's priority.
//!
//! A read holds a snapshot of the database, and while any reader holds one the writer's
//! checkpoints cannot rewind the WAL, which then grows by what ingest writes meanwhile (30 MB/s
//! at 5,000 events/s). The indexer runs at the lowest CPU priority, and under load a thread at
//! nice 19 can wait a hundred milliseconds and more for the CPU at any point, a snapshot open
//! or not: reading on its own thread it grew the WAL of `tests/durability.rs` to 2-5 MB where
//! the limit allows 1 MiB. So the indexer asks this thread, which runs each read at once and
//! briefly (a few dozen items per snapshot), and hands back what it copied.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

type Read = Box<dyn FnOnce(&rusqlite::Result<Connection>) + Send>;

/// A read-only connection to the store's database on a thread of its own; it ends with the
/// last handle.
pub(in crate::store) struct StoreReader {
    reads: mpsc::Sender<Read>,
}

impl StoreReader {
    /// Starts the thread. It must be started before its caller lowers its own priority: a
    /// thread starts with its creator's.
    pub(in crate::store) fn spawn(db: &Path) -> std::io::Result<Self> {
        let db = db.to_path_buf();
        let (reads, requests) = mpsc::channel::<Read>();
        std::thread::Builder::new()
            .name("fake-sentry-search-read".into())
            .spawn(move || {
                let conn = open(&db);
                for read in requests {
                    read(&conn);
                }
            })?;
        Ok(Self { reads })
    }

    /// Runs `read` on the reader's connection and returns what it returns.
    pub(super) fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let (answer, answered) = mpsc::sync_channel(1);
        let request: Read = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => read(conn),
                Err(err) => Err(copy_error(err)),
            };
            let _ = answer.send(result);
        });
        let gone = || {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                Some("the search index's reader has stopped".into()),
            )
        };
        self.reads.send(request).map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }
}

fn open(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "mmap_size", crate::store::READER_MMAP_BYTES)?;
    Ok(conn)
}

/// The error the connection failed to open with, for each read asked of it.
fn copy_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(other.to_string()),
        ),
    }
}
