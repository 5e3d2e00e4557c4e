//! zstd compression contexts kept per thread. The store compresses three kinds of data on the
//! requesting tasks (payloads ingest built, HTTP headers against their dictionary, bodies
//! against theirs, see `payload.rs`, `http_headers.rs` and `compact.rs`), each with a context of
//! its own per thread: making one per call more than doubles the cost of a small input, and
//! most of that is loading a dictionary.

use std::cell::RefCell;
use std::thread::LocalKey;

use zstd::bulk::Compressor;

use super::StoreError;

/// A thread's context for one kind of data, made on its first use.
pub(super) type ThreadCompressor = RefCell<Option<Compressor<'static>>>;

/// `data` compressed with this thread's context in `context`, made by `make` the first time.
pub(super) fn compress_with(
    context: &'static LocalKey<ThreadCompressor>,
    make: impl FnOnce() -> std::io::Result<Compressor<'static>>,
    data: &[u8],
) -> Result<Vec<u8>, StoreError> {
    context
        .with(|cell| {
            let mut cell = cell.borrow_mut();
            let compressor = match cell.as_mut() {
                Some(compressor) => compressor,
                None => cell.insert(make()?),
            };
            compressor.compress(data)
        })
        .map_err(StoreError::Compress)
}
