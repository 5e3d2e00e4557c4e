//! Accepting connections under limits, so that slow or idle clients cannot hold a service.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::body::IdleDeadlineBody;

/// What one service allows each client connection.
///
/// Every service speaks HTTP/1.1 only, as Sentry's SDKs, Tecken's and Antenna's clients do over
/// plain HTTP; that keeps one head parser with these knobs in front of everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at once. At the cap the service stops accepting until one closes, and
    /// further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client has to send a whole request head, counted from when the service starts
    /// waiting for it: from the connection's start, and again after each response on a kept-alive
    /// connection. A client that trickles its headers (slowloris) or sits idle is disconnected.
    /// Bodies have their own deadlines in each service.
    pub header_read_timeout: Duration,
    /// Header lines in one request head; more is answered 431.
    pub max_headers: usize,
    /// Bytes buffered for one request head (hyper's read buffer, at least 8 KiB); a longer head
    /// is answered 431.
    pub max_head_bytes: usize,
    /// Longest a request body may go without a byte arriving; then reading it fails with
    /// [`crate::BodyStalled`]. A minimum rate that any live client meets, so that each
    /// service's own whole-body deadline (if it has one) can stay generous for large uploads.
    pub body_idle_timeout: Duration,
}

impl ConnectionLimits {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_MAX_HEADERS: usize = 100;
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
    pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
    /// hyper refuses a smaller read buffer.
    const MIN_HEAD_BYTES: usize = 8 * 1024;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            body_idle_timeout: Self::DEFAULT_BODY_IDLE_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers.max(1))
        .max_buf_size(limits.max_head_bytes.max(ConnectionLimits::MIN_HEAD_BYTES));
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning, as
                    // axum::serve does; the error is the machine's, not one client's.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            // Answers are small and written at once: Nagle would only hold them back.
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let service = {
            let router = router.clone();
            let idle = limits.body_idle_timeout;
            hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let request = request.map(|body| Body::new(IdleDeadlineBody::new(body, idle)));
                router.clone().oneshot(request)
            })
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                // Timed-out heads, resets and malformed requests: the client's problem.
                tracing::debug!(%remote, %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
