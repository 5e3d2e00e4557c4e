//! The state every handler shares: configuration, storage, faults, forwarding, the in-flight
//! budget, and the signal that the server is shutting down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::faults::FaultPlan;
use crate::forward::Forwarder;
use crate::in_flight::InFlightBudget;
use crate::native::NativePipeline;
use crate::store::{Store, StoreError};

/// Shared state of one running server.
pub struct AppState {
    pub config: Config,
    pub store: Arc<Store>,
    pub(crate) faults: FaultPlan,
    pub(crate) started: Instant,
    /// The address clients reach us at, for DSNs.
    pub public_addr: SocketAddr,
    /// The web UI's per-type counts, valid until the next commit.
    pub(crate) ui_counts: crate::ui::queries::CountsCache,
    /// The forwarding queue, with `--forward`.
    pub(crate) forwarder: Option<Arc<Forwarder>>,
    /// The memory budget of the requests being ingested (`--max-in-flight`).
    pub(crate) in_flight: InFlightBudget,
    /// The native crash pipeline; `None` with `--minidump-workers 0`.
    pub(crate) native: Option<Arc<NativePipeline>>,
    /// Becomes true when the server begins to shut down, so that requests that would otherwise
    /// run on (event streams, long-poll waits) end and graceful shutdown can finish.
    closing: tokio::sync::watch::Sender<bool>,
    /// The console line each capture gets, held to a rate.
    pub(crate) capture_log: super::capture_log::CaptureLog,
}

impl AppState {
    pub fn new(config: Config, public_addr: SocketAddr) -> Result<Arc<Self>, StoreError> {
        let store = Store::open_with(&config.storage, &config.store_options())?;
        let native = NativePipeline::start(&store, &config.storage, &config.native)?;
        Ok(Arc::new(Self {
            native,
            faults: FaultPlan::new(config.faults.clone()),
            forwarder: config.forward.clone().map(Forwarder::start),
            ui_counts: Default::default(),
            in_flight: InFlightBudget::new(config.limits.max_in_flight),
            store,
            config,
            started: Instant::now(),
            public_addr,
            closing: tokio::sync::watch::channel(false).0,
            capture_log: Default::default(),
        }))
    }

    /// Resolves once the server has begun shutting down.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }

    pub(super) fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// The DSN of `project` on this server. Any key is accepted unless `--require-key` is set;
    /// Kent's convention is `public`.
    pub fn dsn(&self, project: u64) -> String {
        let key = self
            .config
            .required_keys
            .first()
            .map_or("public", String::as_str);
        match &self.config.public_url {
            Some(url) => url.dsn(key, project),
            None => dsn_for(self.public_addr, key, project),
        }
    }
}

/// `http://KEY@HOST:PORT/PROJECT`, with an unspecified bind address shown as loopback.
pub fn dsn_for(addr: SocketAddr, key: &str, project: u64) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{key}@{host}:{}/{project}", addr.port())
}
