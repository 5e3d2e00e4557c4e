//! A symbol provider that lets the runtime in now and then, so that a time limit can end a
//! walk.
//!
//! Once a module's symbols are loaded, rust-minidump's symbolizer answers from memory: the
//! whole stack walk then runs without ever giving the runtime a turn, and a `tokio` timeout
//! around it is only looked at when it is over. A crafted dump (many threads, deep stacks to
//! scan) could hold a worker long past its limit that way. This wrapper yields every
//! [`YIELD_EVERY`] frames it is asked about, which costs nothing measurable and bounds how far
//! past its limit a walk can run to that many frames.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use minidump::Module;
use minidump_unwind::{
    FileError, FileKind, FillSymbolError, FrameSymbolizer, FrameWalker, PendingSymbolStats,
    SymbolProvider, SymbolStats,
};

/// Frames asked about between two yields.
pub(crate) const YIELD_EVERY: usize = 16;

pub(crate) struct Yielding<P> {
    inner: P,
    calls: AtomicUsize,
}

impl<P> Yielding<P> {
    pub(crate) fn new(inner: P) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
        }
    }

    async fn maybe_yield(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) % YIELD_EVERY == YIELD_EVERY - 1 {
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait::async_trait]
impl<P: SymbolProvider + Sync + Send> SymbolProvider for Yielding<P> {
    async fn fill_symbol(
        &self,
        module: &(dyn Module + Sync),
        frame: &mut (dyn FrameSymbolizer + Send),
    ) -> Result<(), FillSymbolError> {
        self.maybe_yield().await;
        self.inner.fill_symbol(module, frame).await
    }

    async fn walk_frame(
        &self,
        module: &(dyn Module + Sync),
        walker: &mut (dyn FrameWalker + Send),
    ) -> Option<()> {
        self.maybe_yield().await;
        self.inner.walk_frame(module, walker).await
    }

    async fn get_file_path(
        &self,
        module: &(dyn Module + Sync),
        file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        self.inner.get_file_path(module, file_kind).await
    }

    fn stats(&self) -> HashMap<String, SymbolStats> {
        self.inner.stats()
    }

    fn pending_stats(&self) -> PendingSymbolStats {
        self.inner.pending_stats()
    }
}
