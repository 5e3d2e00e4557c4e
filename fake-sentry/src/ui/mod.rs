//! The web UI: HTML pages to inspect everything fake-sentry captured, rendered on the server
//! with `askama` and served by the binary itself (no build step, no CDN).
//!
//! How the parts fit:
//! - `router` mounts the pages and the embedded static files, and wraps every answer in
//!   `security_headers`: a Content-Security-Policy ([`CONTENT_SECURITY_POLICY`]) that allows
//!   scripts and styles only from this server, so a captured `<script>` that somehow escaped the
//!   templates still could not run.
//! - [`list`] is the home page (newest items, filters, search, cursor pages, live updates);
//!   [`detail`] shows one item, with `event_view` turning an event payload into exception
//!   chains, frames, breadcrumbs and the rest, and `item_views` doing the same for
//!   transactions, logs, client reports, sessions and anything else.
//! - `native_crash` lays out a native crash (a minidump and the event it was processed into):
//!   exception banner with processing status, signature and reprocess button, the crashing
//!   thread's frames with trust and symbol marks, the other threads, modules and system.
//! - [`traces`] lists the traces seen (`/traces`, live) and lays one out as a waterfall across
//!   services (`/traces/{id}`), from the same functions as the trace API.
//! - `compare` diffs two items with `event_filter::shape::diff_values`; `admin` holds the
//!   flush and refusals pages.
//! - `query_string` reads the listing pages' form fields and writes their cursor-page links.
//! - `queries` has the extra SQL the pages need; `text` shortens and formats values, and
//!   `limits` has the helpers that cut a value to how much any page shows (`--ui-limit`,
//!   [`UiLimits`], kept in [`crate::config`]).
//! - [`logs`] lists every log entry across items and services, and tails them live.
//! - `assets` embeds `static/` (CSS, JS) with `include_str!`.
//!
//! Public here: the policy every page is served with, the limits, [`UiError`], and the two
//! pages that render without HTTP, [`list`] ([`list::render_blocking`]) and [`detail`]
//! ([`detail::load`], then [`detail::DetailPage`]), which the bench times and a fuzzer renders.
//! The other modules are private.
//!
//! Every value a page shows came from an SDK and is attacker-controlled: templates never use
//! `|safe`, values are only ever placed in text or quoted attributes, and links are built from
//! ids fake-sentry generated itself.

mod admin;
mod assets;
mod compare;
pub mod detail;
mod event_view;
mod item_views;
mod limits;
pub mod list;
pub mod logs;
mod native_crash;
pub(crate) mod queries;
mod query_string;
mod text;
pub mod traces;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use limits::UiLimits;

use crate::server::AppState;
use crate::store::StoreError;

/// The policy every UI page is served with: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// All UI routes, with their state and security headers applied.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(list::page))
        .route("/items/{id}", get(detail::page))
        .route("/traces", get(traces::list_page))
        .route("/traces/{trace_id}", get(traces::trace_page))
        .route("/logs", get(logs::page))
        .route("/compare", get(compare::page))
        .route("/flush", get(admin::flush_form).post(admin::flush))
        .route("/refusals", get(admin::refusals))
        .route("/static/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Adds the CSP and the other headers that keep a page of hostile data inert.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Why a page could not be shown; rendered as an HTML error page with its status.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("storage error: {0}")]
    Storage(#[from] StoreError),
    #[error("could not render the page: {0}")]
    Render(#[from] askama::Error),
}

impl From<crate::store::BadTime> for UiError {
    fn from(err: crate::store::BadTime) -> Self {
        Self::BadRequest(err.to_string())
    }
}

impl UiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Storage(_) | Self::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "UI page failed");
        }
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").to_string(),
            message: self.to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}

/// Renders a page template into a response.
pub(crate) fn render(page: &impl Template) -> Result<Response, UiError> {
    Ok(Html(page.render()?).into_response())
}
