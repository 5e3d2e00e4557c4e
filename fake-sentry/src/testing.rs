//! An in-process fake-sentry for Rust tests: start it, hand its DSN to the code under test, and
//! wait for what arrives, without sleeping.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_sentry::testing::FakeSentry;
//! let sentry = FakeSentry::start().await?;
//! let dsn = sentry.dsn(1);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use server_handle::ServerHandle;

use crate::api::{WaitOutcome, wait_for_items, wait_for_types};
use crate::config::Config;
use crate::error::ApiError;
use crate::server::{AppState, Server};
use crate::store::{self, ItemFilter, ItemRecord, ItemSummary, Order, RefusalRecord};

/// How long [`FakeSentry::wait_for`] waits before giving up.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TestingError {
    #[error("could not start fake-sentry: {0}")]
    Start(#[from] anyhow::Error),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("timed out after {waited:?} with {found} of {wanted} matching items")]
    Timeout {
        waited: Duration,
        found: u64,
        wanted: usize,
    },
}

/// A fake-sentry serving on an ephemeral loopback port until dropped.
pub struct FakeSentry {
    server: ServerHandle,
    state: Arc<AppState>,
}

impl FakeSentry {
    /// Starts a server in memory on `127.0.0.1:0`.
    pub async fn start() -> Result<Self, TestingError> {
        Self::start_with(Config::ephemeral()).await
    }

    /// Starts a server with `config`.
    pub async fn start_with(config: Config) -> Result<Self, TestingError> {
        let server = Server::bind(config).await?;
        let addr = server.local_addr();
        let state = server.state();
        let server = ServerHandle::spawn(addr, |stop| server.run(stop));
        Ok(Self { server, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The DSN for `project`.
    pub fn dsn(&self, project: u64) -> String {
        self.state.dsn(project)
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Waits until `count` items match `filter` (at most [`DEFAULT_WAIT`]) and returns them,
    /// oldest first.
    pub async fn wait_for(
        &self,
        filter: ItemFilter,
        count: usize,
    ) -> Result<Vec<ItemSummary>, TestingError> {
        self.wait_for_within(filter, count, DEFAULT_WAIT).await
    }

    /// Like [`Self::wait_for`] with an explicit timeout.
    pub async fn wait_for_within(
        &self,
        filter: ItemFilter,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ItemSummary>, TestingError> {
        let WaitOutcome {
            satisfied,
            count: found,
            items,
            ..
        } = wait_for_items(&self.state, filter, count, timeout).await?;
        if satisfied {
            Ok(items)
        } else {
            Err(TestingError::Timeout {
                waited: timeout,
                found,
                wanted: count,
            })
        }
    }

    /// Waits until, for each `(type, n)` of `wants`, `n` items of that type match `filter`
    /// (its own type ignored), at most [`DEFAULT_WAIT`]; returns the items of those types,
    /// oldest first. "Two transactions and an error in trace X":
    /// `wait_for_counts(ItemFilter { trace_id: Some(x), ..Default::default() }, &[("transaction", 2), ("event", 1)])`.
    pub async fn wait_for_counts(
        &self,
        filter: ItemFilter,
        wants: &[(&str, usize)],
    ) -> Result<Vec<ItemSummary>, TestingError> {
        let wanted = wants.iter().map(|(_, n)| n).sum();
        let wants = wants.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        let WaitOutcome {
            satisfied,
            count: found,
            items,
            ..
        } = wait_for_types(&self.state, filter, wants, DEFAULT_WAIT).await?;
        if satisfied {
            Ok(items)
        } else {
            Err(TestingError::Timeout {
                waited: DEFAULT_WAIT,
                found,
                wanted,
            })
        }
    }

    /// Every item matching `filter`, oldest first.
    pub async fn items(&self, filter: ItemFilter) -> Result<Vec<ItemSummary>, TestingError> {
        let items = self
            .state
            .store
            .read(move |conn| store::list_items(conn, &filter, Order::Asc, usize::MAX >> 1))
            .await
            .map_err(ApiError::from)?;
        Ok(items)
    }

    /// One item by fake-sentry id or Sentry event id.
    pub async fn item(&self, id: &str) -> Result<Option<ItemRecord>, TestingError> {
        let id = id.to_string();
        let record = self
            .state
            .store
            .read(move |conn| store::get_item(conn, &id))
            .await
            .map_err(ApiError::from)?;
        Ok(record)
    }

    /// Refused requests, newest first.
    pub async fn refusals(&self) -> Result<Vec<RefusalRecord>, TestingError> {
        let list = self
            .state
            .store
            .read(|conn| store::list_refusals(conn, 10_000))
            .await
            .map_err(ApiError::from)?;
        Ok(list)
    }

    /// Stops serving and waits for in-flight requests; dropping stops without waiting.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Shorthand for a filter on one item type.
pub fn of_type(item_type: &str) -> ItemFilter {
    ItemFilter {
        item_type: Some(item_type.to_string()),
        ..ItemFilter::default()
    }
}
