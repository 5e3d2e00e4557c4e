//! An in-process fake-symbols for Rust tests, in the spirit of wiremock: start it, hand its
//! URL to the code under test, set faults, and read back what was requested.

use std::net::SocketAddr;
use std::sync::Arc;

use server_handle::ServerHandle;

use crate::config::Config;
use crate::faults::{FaultSpec, FaultSpecError};
use crate::request_log::RequestRecord;
use crate::server::{AppState, Server, StartError};
use crate::store::SymbolStore;

/// A fake-symbols serving on an ephemeral loopback port until dropped.
pub struct FakeSymbols {
    server: ServerHandle,
    state: Arc<AppState>,
}

impl FakeSymbols {
    /// Starts a server on `127.0.0.1:0` with a temporary symbols directory.
    pub async fn start() -> Result<Self, StartError> {
        Self::start_with(Config::ephemeral()).await
    }

    /// Starts a server with `config`.
    pub async fn start_with(config: Config) -> Result<Self, StartError> {
        let server = Server::bind(config).await?;
        let addr = server.local_addr();
        let state = server.state();
        let server = ServerHandle::spawn(addr, |stop| server.run(stop));
        Ok(Self { server, state })
    }

    /// Upload v2 sessions still waiting for their bytes.
    pub fn sessions_pending(&self) -> usize {
        self.state.sessions.pending()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The base URL (`http://127.0.0.1:PORT`, or the configured `public_url`), for
    /// `--symbols-url`.
    pub fn url(&self) -> String {
        self.state.public_url.clone()
    }

    /// The symbol store, to seed symbols or inspect uploads.
    pub fn store(&self) -> &SymbolStore {
        &self.state.store
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests.list()
    }

    pub fn clear_requests(&self) {
        self.state.requests.clear();
    }

    /// Replaces the faults (counters restart).
    pub fn set_faults(&self, spec: FaultSpec) -> Result<(), FaultSpecError> {
        self.state.faults.set(spec)
    }

    /// Stops serving and waits for in-flight requests; dropping stops without waiting.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
