//! `http-edge`: the HTTP edge that every Understudy service shares.
//!
//! fake-sentry, fake-symbols and the harness's crash collector run on developers' machines next
//! to a web browser and inside shared CI networks, so every byte they receive is someone else's.
//! This crate holds the defences that do not depend on what a service does:
//!
//! - [`serve`] accepts connections under [`ConnectionLimits`]: a cap on open connections, a
//!   deadline for each request head (slowloris, idle keep-alive connections), a cap on header
//!   count and head size, a deadline between the pieces of a body, and graceful shutdown. It
//!   replaces `axum::serve`, which has no knobs.
//! - [`BrowserBoundary`] keeps a service's read and control routes out of reach of web pages:
//!   a [`HostAllowlist`] defeats DNS rebinding, state changes sent cross-site by a browser are
//!   refused, and no CORS header is ever added there. Ingest routes stay open to every origin,
//!   as Sentry's are, by not being wrapped.
//! - [`harden`] gives every response `X-Content-Type-Options: nosniff` and, unless the response
//!   chose its own, `Content-Security-Policy: sandbox`; [`attachment_headers`] is how raw
//!   payloads are served, so that nothing a client sent is ever rendered on a service's origin.
//! - [`InFlightBudget`] is the memory all requests being received and parsed may hold at once:
//!   each charges what it keeps as it keeps it, and gives it back when done.
//! - [`shutdown_signal`] resolves on Ctrl-C or SIGTERM, and [`run_to_exit`] runs a service's
//!   main future and gives its exit status; [`secret_eq`] compares tokens in
//!   constant time; [`ByteSize`] reads sizes with one documented meaning in every service.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use axum::{Router, routing::get};
//! use http_edge::{BrowserBoundary, ConnectionLimits, HostAllowlist};
//!
//! let boundary = BrowserBoundary::new(HostAllowlist::default());
//! let ingest = Router::new().route("/submit", axum::routing::post(|| async { "ok" }));
//! let private = boundary.protect(Router::new().route("/api/items", get(|| async { "[]" })));
//! let router = http_edge::harden(ingest.merge(private));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! http_edge::serve(listener, router, ConnectionLimits::default(), http_edge::shutdown_signal()).await
//! # }
//! ```

mod body;
mod boundary;
mod headers;
mod in_flight;
mod secret;
mod serve;
mod shutdown;
mod size;

pub use body::BodyStalled;
pub use boundary::{BrowserBoundary, HostAllowlist, Refusal};
pub use headers::{attachment_headers, harden};
pub use in_flight::{BudgetError, InFlightBudget, RequestCharge};
pub use secret::secret_eq;
pub use serve::{ConnectionLimits, serve};
pub use shutdown::{run_to_exit, shutdown_signal};
pub use size::{ByteSize, ByteSizeError};
