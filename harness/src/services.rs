//! Starting the suite's services in one process: fake-sentry, fake-symbols and the
//! collector, on fixed or ephemeral loopback ports, each stoppable on its own.
//!
//! `harness up` uses this to serve all three until Ctrl-C; `harness run` uses it for the
//! services a scenario marks `builtin`, and takes URLs for the others. A built-in fake-sentry
//! fetches symbols for the minidumps it processes from the built-in fake-symbols.

use std::net::SocketAddr;
use std::sync::Arc;

use fake_sentry::testing::FakeSentry;
use fake_symbols::config::{Permission, Token};
use fake_symbols::testing::FakeSymbols;
use tokio::net::TcpListener;

use server_handle::ServerHandle;

use crate::collector::{self, CollectorConfig, CollectorState};

/// The `Auth-Token` the built-in fake-symbols accepts for uploads.
pub const UPLOAD_TOKEN: &str = "c0ffee0ddba11harness0upload0token";
// (Tecken reads anything after a `-` as a comment, so the token has none.)

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot start fake-sentry: {0}")]
    Sentry(String),
    #[error("cannot start fake-symbols: {0}")]
    Symbols(String),
    #[error("cannot start the collector on {addr}: {source}")]
    Collector {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The collector serving on a socket until dropped or shut down.
pub struct RunningCollector {
    server: ServerHandle,
    state: Arc<CollectorState>,
}

impl RunningCollector {
    pub async fn start(addr: SocketAddr, config: CollectorConfig) -> Result<Self, ServiceError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServiceError::Collector { addr, source })?;
        let limits = config.connection.clone();
        let state = CollectorState::new(config);
        let server = ServerHandle::serve(listener, collector::router(state.clone()), limits)
            .map_err(|source| ServiceError::Collector { addr, source })?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`; submissions go to `{url}/submit`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn state(&self) -> &Arc<CollectorState> {
        &self.state
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Where each built-in service listens (port 0 = ephemeral).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub host: std::net::IpAddr,
    pub sentry: u16,
    pub symbols: u16,
    pub collector: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            host: std::net::IpAddr::from([127, 0, 0, 1]),
            sentry: 0,
            symbols: 0,
            collector: 0,
        }
    }
}

/// Starts a built-in fake-sentry on `addr` that processes minidumps as `native` says (its
/// `symbol_urls` should name the run's symbols server, so that it can symbolicate).
pub async fn start_sentry(
    addr: SocketAddr,
    native: fake_sentry::config::NativeConfig,
) -> Result<FakeSentry, ServiceError> {
    let config = fake_sentry::config::Config {
        listen: addr,
        native,
        ..fake_sentry::config::Config::ephemeral()
    };
    FakeSentry::start_with(config)
        .await
        .map_err(|e| ServiceError::Sentry(e.to_string()))
}

/// Starts a built-in fake-symbols on `addr` that accepts [`UPLOAD_TOKEN`].
pub async fn start_symbols(addr: SocketAddr) -> Result<FakeSymbols, ServiceError> {
    let config = fake_symbols::Config {
        listen: addr,
        tokens: vec![Token {
            key: UPLOAD_TOKEN.to_string(),
            permission: Permission::Upload,
            email: "harness@example.com".to_string(),
            expires_at: None,
            active: true,
        }],
        ..fake_symbols::Config::ephemeral()
    };
    FakeSymbols::start_with(config)
        .await
        .map_err(|e| ServiceError::Symbols(e.to_string()))
}

/// One of the services `harness up` can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuiteService {
    FakeSentry,
    FakeSymbols,
    Collector,
}

impl SuiteService {
    pub const ALL: [SuiteService; 3] = [
        SuiteService::FakeSentry,
        SuiteService::FakeSymbols,
        SuiteService::Collector,
    ];
}

/// The services `harness up` runs: all three by default, or the chosen ones (a compose file
/// runs fake-sentry and fake-symbols as their own containers and only the collector here).
pub struct Suite {
    pub sentry: Option<FakeSentry>,
    pub symbols: Option<FakeSymbols>,
    pub collector: Option<RunningCollector>,
}

impl Suite {
    pub async fn start(
        ports: Ports,
        collector: CollectorConfig,
        services: &[SuiteService],
    ) -> Result<Self, ServiceError> {
        let at = |port| SocketAddr::new(ports.host, port);
        let wanted = |service| services.contains(&service);
        let symbols = match wanted(SuiteService::FakeSymbols) {
            true => Some(start_symbols(at(ports.symbols)).await?),
            false => None,
        };
        // fake-sentry symbolicates the minidumps it receives from the fake-symbols beside it.
        let native = fake_sentry::config::NativeConfig {
            symbol_urls: symbols.iter().map(FakeSymbols::url).collect(),
            ..Default::default()
        };
        let sentry = match wanted(SuiteService::FakeSentry) {
            true => Some(start_sentry(at(ports.sentry), native).await?),
            false => None,
        };
        let collector = match wanted(SuiteService::Collector) {
            true => Some(RunningCollector::start(at(ports.collector), collector).await?),
            false => None,
        };
        Ok(Self {
            sentry,
            symbols,
            collector,
        })
    }

    /// What `harness up` prints: each URL, the DSN and the upload token.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(sentry) = &self.sentry {
            text += &format!("fake-sentry   {}   (DSN {})\n", sentry.url(), sentry.dsn(1));
        }
        if let Some(symbols) = &self.symbols {
            text += &format!(
                "fake-symbols  {}   (--symbols-url; uploads: Auth-Token {UPLOAD_TOKEN})\n",
                symbols.url()
            );
        }
        if let Some(collector) = &self.collector {
            text += &format!(
                "collector     {}/submit   (Antenna-compatible; stored crashes at {}/api/crashes/)\n",
                collector.url(),
                collector.url()
            );
        }
        text
    }

    /// Stops every service and waits for in-flight requests.
    pub async fn shutdown(self) {
        if let Some(collector) = self.collector {
            collector.shutdown().await;
        }
        if let Some(symbols) = self.symbols {
            symbols.shutdown().await;
        }
        if let Some(sentry) = self.sentry {
            sentry.shutdown().await;
        }
    }
}
