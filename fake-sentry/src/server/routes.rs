//! HTTP routing: which path reaches which handler, and the CORS policy of each kind of
//! endpoint. One function per kind (ingest, Spotlight's stream); [`router`] puts them together
//! with the API and the web UI.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{Method, header};
use axum::routing::{MethodRouter, get, post};
use http_edge::{BrowserBoundary, HostAllowlist};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::handlers;
use super::state::AppState;
use crate::api;
use crate::config::Config;
use crate::ingest::Endpoint;

/// The ingest endpoints under `/api/{project}/`, by path segment.
const PROJECT_ENDPOINTS: [(&str, Endpoint); 5] = [
    ("envelope", Endpoint::Envelope),
    ("store", Endpoint::Store),
    ("security", Endpoint::Security),
    ("csp-report", Endpoint::Security),
    ("minidump", Endpoint::Minidump),
];

/// The headers browser SDKs send with ingest requests (Relay's CORS list).
const SDK_HEADERS: [&str; 13] = [
    "x-sentry-auth",
    "x-requested-with",
    "x-forwarded-for",
    "origin",
    "referer",
    "accept",
    "content-type",
    "authentication",
    "authorization",
    "content-encoding",
    "transfer-encoding",
    "sentry-trace",
    "baggage",
];

/// The Host names the read and control routes answer to.
pub fn allowed_hosts(config: &Config) -> HostAllowlist {
    let hosts = HostAllowlist::default().with_names(&config.allowed_hosts);
    match &config.public_url {
        Some(url) => hosts.with_url_host(&format!("{}://{}", url.scheme, url.rest)),
        None => hosts,
    }
}

/// The whole service. Ingest routes are open to every origin and host name, as Sentry's are;
/// the API, the web UI and the reading side of `/stream` are behind the browser boundary
/// (docs/security.md); every answer is hardened.
pub fn router(state: Arc<AppState>) -> Router {
    let boundary = BrowserBoundary::new(allowed_hosts(&state.config));
    let service = ingest_routes()
        .merge(spotlight_routes(&boundary))
        // Bodies are read by the ingest handlers with the configured limit, so that an
        // oversized body is refused (and recorded) with a Sentry-style error.
        .layer(DefaultBodyLimit::disable())
        .merge(api::health_routes())
        .merge(boundary.protect(api::routes()))
        .with_state(state.clone())
        .merge(boundary.protect(crate::ui::router(state)));
    http_edge::harden(service)
}

/// Sentry's ingest endpoints, `/api/{project}/NAME/` with and without the trailing slash, open
/// to every origin.
fn ingest_routes() -> Router<Arc<AppState>> {
    PROJECT_ENDPOINTS
        .into_iter()
        .fold(Router::new(), |router, (name, endpoint)| {
            with_and_without_slash(
                router,
                &format!("/api/{{project}}/{name}"),
                project_endpoint(endpoint),
            )
        })
        .layer(ingest_cors())
}

/// Spotlight's `/stream`: posting to it is ingest, reading it replays everything captured.
fn spotlight_routes(boundary: &BrowserBoundary) -> Router<Arc<AppState>> {
    let ingest = |State(state): State<Arc<AppState>>, request: Request| {
        handlers::ingest(state, Endpoint::Stream, None, request)
    };
    Router::new()
        .route(
            "/stream",
            boundary
                .protect_method(get(api::spotlight_stream))
                .post(ingest),
        )
        .layer(stream_cors(boundary.hosts().clone()))
}

/// The methods of one `/api/{project}/…/` endpoint of kind `endpoint`, all to the one ingest
/// handler.
fn project_endpoint(endpoint: Endpoint) -> MethodRouter<Arc<AppState>> {
    let ingest =
        move |State(state): State<Arc<AppState>>, Path(project): Path<String>, request: Request| {
            handlers::ingest(state, endpoint, Some(project), request)
        };
    match endpoint {
        // The image-beacon form: a GET with the event in the query string.
        Endpoint::Store => post(ingest).get(ingest),
        _ => post(ingest),
    }
}

/// Routes `{path}/` and `{path}` to the same methods: SDKs write the slash, Relay answers both.
fn with_and_without_slash<S>(router: Router<S>, path: &str, methods: MethodRouter<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .route(&format!("{path}/"), methods.clone())
        .route(path, methods)
}

/// Relay's CORS policy for ingest: any origin, the SDK headers, the rate-limit headers exposed.
/// Only ingest routes get it: nothing else may be read cross-origin.
fn ingest_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(SDK_HEADERS.map(header::HeaderName::from_static))
        .expose_headers(
            ["x-sentry-error", "x-sentry-rate-limits", "retry-after"]
                .map(header::HeaderName::from_static),
        )
        .max_age(std::time::Duration::from_secs(3600))
}

/// Spotlight's `/stream`: any origin may post to it, as to any ingest route, but only local
/// pages (Spotlight's overlay in the app being developed) may read its replay of everything
/// captured, as Spotlight's own sidecar allows.
fn stream_cors(hosts: HostAllowlist) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            let reads = parts.method == Method::GET
                || parts
                    .headers
                    .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                    .is_some_and(|method| method == "GET");
            !reads
                || origin
                    .to_str()
                    .is_ok_and(|origin| hosts.allows_origin(origin))
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(SDK_HEADERS.map(header::HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt as _;

    use super::*;

    async fn status(router: &Router, method: Method, path: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1")
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn every_ingest_path_answers_with_and_without_its_slash() {
        let state = AppState::new(Config::ephemeral(), "127.0.0.1:0".parse().unwrap()).unwrap();
        let router = router(state);
        for (name, endpoint) in PROJECT_ENDPOINTS {
            for path in [format!("/api/1/{name}/"), format!("/api/1/{name}")] {
                let posted = status(&router, Method::POST, &path).await;
                assert!(
                    ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&posted),
                    "POST {path}: {posted}"
                );
                let got = status(&router, Method::GET, &path).await;
                // Only `/store/` takes a GET, the image-beacon form.
                assert_eq!(
                    got == StatusCode::METHOD_NOT_ALLOWED,
                    endpoint != Endpoint::Store,
                    "GET {path}: {got}"
                );
            }
        }
        assert_eq!(
            status(&router, Method::POST, "/api/1/unknown/").await,
            StatusCode::NOT_FOUND
        );
    }
}
