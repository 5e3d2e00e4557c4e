//! `server-handle`: a server running inside a test's own process, on a real socket, until the
//! handle is dropped.
//!
//! Understudy's fakes are libraries as well as services: a Rust test starts
//! `fake_sentry::testing::FakeSentry` or `fake_symbols::testing::FakeSymbols`, hands its URL to
//! the code under test, and drops it at the end, as wiremock's `MockServer` is used. What the two
//! handles share lives here, once:
//!
//! - [`ServerHandle`] owns the serving task and the signal that stops it. [`ServerHandle::url`]
//!   is `http://ADDR`; [`ServerHandle::shutdown`] stops accepting and waits for the requests in
//!   flight; dropping the handle stops accepting without waiting, so a test that panics never
//!   leaves a server behind.
//! - [`ServerHandle::serve`] serves an axum [`Router`] through [`http_edge::serve`], the edge
//!   every service runs behind in production, so tests exercise the same connection limits.
//! - [`ServerHandle::spawn`] runs any serving future that takes a [`StopSignal`]: the fakes pass
//!   their own `Server::run`, which serves through `http_edge::serve` too and does its own work
//!   on shutdown (fake-sentry stops its long polls). Each fake keeps only what is its own: the
//!   DSN, faults, the request log, waits on what arrived.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use axum::{Router, routing::get};
//! use server_handle::ServerHandle;
//!
//! let router = Router::new().route("/health", get(|| async { "ok" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = ServerHandle::serve(listener, router, http_edge::ConnectionLimits::default())?;
//! // ... point the code under test at `server.url()` ...
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use http_edge::ConnectionLimits;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server serving on a socket in this process until shut down or dropped.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// Serves `router` on `listener` under `limits` through [`http_edge::serve`].
    pub fn serve(
        listener: TcpListener,
        router: Router,
        limits: ConnectionLimits,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        Ok(Self::spawn(addr, move |stop| {
            http_edge::serve(listener, router, limits, stop)
        }))
    }

    /// Spawns the future `serve` returns, for a server listening on `addr`. `serve` is given the
    /// [`StopSignal`] that [`Self::shutdown`] and drop fire; it should stop accepting when the
    /// signal resolves and return once its requests in flight are answered.
    pub fn spawn<S, F>(addr: SocketAddr, serve: S) -> Self
    where
        S: FnOnce(StopSignal) -> F,
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(StopSignal(stopped)));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and waits for the requests in flight to be answered.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for ServerHandle {
    /// Stops accepting; the requests in flight finish in the background.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resolves when the [`ServerHandle`] that gave it out is shut down or dropped.
#[derive(Debug)]
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A sent stop and a dropped sender mean the same: the handle is gone.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
