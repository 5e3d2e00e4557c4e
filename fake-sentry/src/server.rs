//! The HTTP service: one router with the ingest endpoints, Kent's API, the richer API and the
//! live streams, plus binding and graceful shutdown.
//!
//! How the parts fit:
//! - [`Server`] (here) binds the listener, opens the storage and serves until shut down.
//! - `state.rs` holds [`AppState`], what every handler shares, and how it is built.
//! - `routes.rs` builds the [`router`]: one function per kind of endpoint (ingest, Spotlight's
//!   `/stream`), each with its CORS policy, merged with [`crate::api`] and [`crate::ui`]; the
//!   ingest paths are generated with and without their trailing slash.
//! - `handlers.rs` is the one ingest handler every endpoint kind shares: faults, the body (read
//!   by `body.rs` within the limits), [`crate::ingest`], the data policy, storage and the answer
//!   each endpoint gives; refusals are recorded before they are answered.
//! - `capture_log.rs` is the console line a capture gets, held to a rate.

mod body;
mod capture_log;
mod handlers;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{Config, Storage};

pub use routes::router;
pub use state::AppState;

/// A bound, not yet serving server.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds the listener and opens the storage.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let storage = match &config.storage {
            Storage::File(path) => format!("the database {}", path.display()),
            Storage::Memory => "the database in memory".into(),
        };
        let state =
            AppState::new(config, addr).with_context(|| format!("cannot open {storage}"))?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.state.public_addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let signal = async move {
            shutdown.await;
            state.begin_shutdown();
        };
        tokio::spawn(capture_log::report_folded(Arc::downgrade(&self.state)));
        let limits = self.state.config.connection.clone();
        http_edge::serve(self.listener, router(self.state), limits, signal).await
    }
}
