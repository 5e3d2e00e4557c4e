//! The HTTP service: one router with the ingest endpoints, Kent's API, the richer API and the
//! live streams, plus binding and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use http_edge::{BrowserBoundary, HostAllowlist};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api;
use crate::auth;
use crate::config::Config;
use crate::error::IngestError;
use crate::faults::{FaultDecision, FaultPlan};
use crate::forward::{self, Forwarder};
use crate::in_flight::{InFlightBudget, RequestCharge};
use crate::ingest::{self, Endpoint, IngestRequest, Ingested};
use crate::store::{NewRefusal, Store, StoreError};

/// Shared state of one running server.
pub struct AppState {
    pub config: Config,
    pub store: Arc<Store>,
    pub faults: FaultPlan,
    pub started: Instant,
    /// The address clients reach us at, for DSNs.
    pub public_addr: SocketAddr,
    /// The web UI's per-type counts, valid until the next commit.
    pub ui_counts: crate::ui::queries::CountsCache,
    /// The forwarding queue, with `--forward`.
    pub forwarder: Option<Arc<Forwarder>>,
    /// The memory budget of the requests being ingested (`--max-in-flight`).
    pub in_flight: InFlightBudget,
    /// Becomes true when the server begins to shut down, so that requests that would otherwise
    /// run on (event streams, long-poll waits) end and graceful shutdown can finish.
    closing: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: Config, public_addr: SocketAddr) -> Result<Arc<Self>, StoreError> {
        let store = Store::open_capped(
            &config.storage,
            config.max_items,
            config.max_refusals,
            config.max_refusal_bytes,
            config.max_wal_bytes,
            config.sync,
            config.max_memory_bytes,
        )?;
        Ok(Arc::new(Self {
            faults: FaultPlan::new(config.faults.clone()),
            forwarder: config.forward.clone().map(Forwarder::start),
            ui_counts: Default::default(),
            in_flight: InFlightBudget::new(config.limits.max_in_flight),
            store,
            config,
            started: Instant::now(),
            public_addr,
            closing: tokio::sync::watch::channel(false).0,
        }))
    }

    /// Resolves once the server has begun shutting down.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closing| *closing).await;
    }

    fn begin_shutdown(&self) {
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

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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
    let ingest = Router::new()
        .route("/api/{project}/envelope/", post(envelope))
        .route("/api/{project}/envelope", post(envelope))
        .route("/api/{project}/store/", post(store).get(store_get))
        .route("/api/{project}/store", post(store).get(store_get))
        .route("/api/{project}/security/", post(security))
        .route("/api/{project}/security", post(security))
        .route("/api/{project}/csp-report/", post(security))
        .route("/api/{project}/csp-report", post(security))
        .route("/api/{project}/minidump/", post(minidump))
        .route("/api/{project}/minidump", post(minidump))
        .layer(ingest_cors());
    let spotlight = Router::new()
        .route(
            "/stream",
            boundary
                .protect_method(get(api::spotlight_stream))
                .post(stream),
        )
        .layer(stream_cors(boundary.hosts().clone()));
    let service = ingest
        .merge(spotlight)
        // Bodies are read by the ingest handlers with the configured limit, so that an
        // oversized body is refused (and recorded) with a Sentry-style error.
        .layer(DefaultBodyLimit::disable())
        .merge(api::health_routes())
        .merge(boundary.protect(api::routes()))
        .with_state(state.clone())
        .merge(boundary.protect(crate::ui::router(state)));
    http_edge::harden(service)
}

async fn envelope(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Envelope, Some(project), request).await
}

async fn store(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Store, Some(project), request).await
}

async fn store_get(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Store, Some(project), request).await
}

async fn security(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Security, Some(project), request).await
}

async fn minidump(
    State(state): State<Arc<AppState>>,
    Path(project): Path<String>,
    request: Request,
) -> Response {
    handle(state, Endpoint::Minidump, Some(project), request).await
}

async fn stream(State(state): State<Arc<AppState>>, request: Request) -> Response {
    handle(state, Endpoint::Stream, None, request).await
}

/// Reads the body up to `limit` bytes, charging what it keeps to `charge` before keeping it;
/// `Err` when it is longer, the budget has no room, or the connection failed.
async fn read_body(
    mut body: Body,
    limit: usize,
    charge: &RequestCharge,
) -> Result<Bytes, IngestError> {
    let too_large =
        || IngestError::TooLarge(format!("request body exceeds the limit of {limit} bytes"));
    // With a known length (Content-Length) the buffer is sized once; otherwise it doubles.
    let expected = body.size_hint().exact().map(|n| n as usize);
    if expected.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // A body that arrives in one frame (most SDK requests) is kept as it came, uncopied.
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    // What has been charged for the body so far: its whole length from the first frame on
    // when that is known, so that the buffer it is gathered in costs nothing more.
    let mut charged = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            let err = err.into_inner();
            match err.downcast_ref::<http_edge::BodyStalled>() {
                Some(stalled) => IngestError::Timeout(format!("{stalled} (--body-idle-timeout)")),
                None => IngestError::bad_request(format!("could not read the request body: {err}")),
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if data.is_empty() {
            continue;
        }
        let kept = first.as_ref().map_or(0, Bytes::len) + buffer.len();
        let needed = kept + data.len();
        if needed > limit {
            return Err(too_large());
        }
        if kept == 0 {
            charged = expected.unwrap_or(0).max(data.len());
            charge.add(charged)?;
            first = Some(data);
            continue;
        }
        if needed > buffer.capacity() {
            let capacity = expected
                .unwrap_or(0)
                .max(needed)
                .max(buffer.capacity().saturating_mul(2))
                .min(limit);
            if capacity > charged {
                charge.add(capacity - charged)?;
                charged = capacity;
            }
            buffer.reserve(capacity - buffer.len());
        }
        if let Some(first) = first.take() {
            buffer.extend_from_slice(&first);
        }
        buffer.extend_from_slice(&data);
    }
    Ok(match first {
        Some(only) => only,
        None => buffer.freeze(),
    })
}

/// Runs one ingest request end to end: faults, body, parse, store, answer; every refusal is
/// recorded before it is answered.
async fn handle(
    state: Arc<AppState>,
    endpoint: Endpoint,
    project: Option<String>,
    request: Request,
) -> Response {
    let received_at_ms = now_ms();
    let (parts, body) = request.into_parts();
    let project_id = match project.as_deref().map(str::parse::<u64>) {
        None => Some(0),
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => None,
    };
    // The body as sent, kept (a cheap reference) only to describe a refusal.
    let mut wire_body = Bytes::new();
    let result = async {
        let project_id = project_id.ok_or_else(|| {
            IngestError::bad_request(format!(
                "invalid project id {:?}: project ids are numeric",
                project.unwrap_or_default()
            ))
        })?;
        match state.faults.decide(project_id) {
            FaultDecision::Pass => {}
            FaultDecision::Delay(delay) => tokio::time::sleep(delay).await,
            FaultDecision::Fail(kind) => return Err(IngestError::Fault(kind)),
        }
        // Held until the request is answered: its envelope stays in memory until committed.
        let charge = state.in_flight.charge();
        let limits = &state.config.limits;
        let body = tokio::time::timeout(
            limits.body_timeout,
            read_body(body, limits.max_request_body, &charge),
        )
        .await
        .map_err(|_| {
            IngestError::Timeout(format!(
                "the request body did not arrive within {} s (--body-timeout)",
                limits.body_timeout.as_secs_f64()
            ))
        })??;
        wire_body = body.clone();
        let req = IngestRequest {
            endpoint,
            project_id,
            headers: parts.headers.clone(),
            query: auth::parse_query_limited(
                parts.uri.query(),
                limits.max_query_pairs,
                limits.max_query,
            )?,
            body,
            received_at_ms,
            charge,
        };
        accept(&state, &parts.method, req).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(err) => {
            let limits = &state.config.limits;
            let err = err.bounded(limits.max_error_causes, limits.max_error_cause);
            let prefix = state.config.refused_body_prefix;
            let refusal = refusal_record(
                &parts,
                project_id,
                received_at_ms,
                (&wire_body, prefix),
                &err,
            );
            tracing::info!(status = refusal.status, reason = %refusal.reason, path = %refusal.path, "refused");
            if let Err(store_err) = state.store.refuse(refusal).await {
                tracing::error!(%store_err, "could not record a refusal");
            }
            err.into_response()
        }
    }
}

/// What the refusals API shows about a refused request.
fn refusal_record(
    parts: &http::request::Parts,
    project_id: Option<u64>,
    received_at_ms: i64,
    (body, prefix): (&Bytes, usize),
    err: &IngestError,
) -> NewRefusal {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // A query string past the default limits was refused; its refusal names no key.
    let defaults = crate::config::Limits::default();
    let query = auth::parse_query_limited(
        parts.uri.query(),
        defaults.max_query_pairs,
        defaults.max_query,
    )
    .unwrap_or_default();
    let auth = auth::extract(&parts.headers, &query, None);
    NewRefusal {
        received_at_ms,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        project_id,
        status: err.status().as_u16(),
        reason: match err {
            IngestError::BadRequest { detail, causes } if !causes.is_empty() => {
                format!("{detail}: {}", causes.join("; "))
            }
            other => other.to_string(),
        },
        client: auth.client,
        public_key: auth.public_key,
        content_type: header(header::CONTENT_TYPE),
        content_encoding: header(header::CONTENT_ENCODING),
        body_size: body.len(),
        body_prefix: body.slice(..body.len().min(prefix)).to_vec(),
    }
}

async fn accept(
    state: &AppState,
    method: &Method,
    req: IngestRequest,
) -> Result<Response, IngestError> {
    let limits = &state.config.limits;
    let keys = &state.config.required_keys;
    let ingested: Ingested = match (req.endpoint, method == Method::GET) {
        (Endpoint::Envelope | Endpoint::Stream, _) => ingest::ingest_envelope(&req, limits, keys)?,
        (Endpoint::Store, true) => ingest::ingest_store_get(&req, limits, keys)?,
        (Endpoint::Store, false) => ingest::ingest_store(&req, limits, keys)?,
        (Endpoint::Security, _) => ingest::ingest_security(&req, limits, keys)?,
        (Endpoint::Minidump, _) => ingest::ingest_minidump(&req, limits, keys).await?,
    };
    let mut ingested = ingested;
    if let Some(policy) = &state.config.policy {
        // The audit builds value trees of up to 100 MiB items: charged before they are built.
        req.charge
            .add(policy.audit_memory(&ingested.envelope.items))?;
        policy.check_items(&mut ingested.envelope.items);
    }
    let forward_body = state
        .forwarder
        .as_ref()
        .map(|f| forward::upstream_envelope(&ingested.envelope, f.upstream()));
    let summary = ingested
        .envelope
        .items
        .first()
        .map(|i| i.meta.summary.clone())
        .unwrap_or_default();
    let stored = state.store.insert(ingested.envelope).await?;
    if let (Some(forwarder), Some(body)) = (&state.forwarder, forward_body) {
        forwarder.submit(stored.envelope_id, body);
    }
    tracing::info!(
        endpoint = req.endpoint.as_str(),
        project = req.project_id,
        items = stored.item_ids.len(),
        %summary,
        "captured"
    );
    Ok(respond(req.endpoint, method, ingested.event_id))
}

/// The success answer each endpoint gives in Relay (and Spotlight for `/stream`).
fn respond(endpoint: Endpoint, method: &Method, event_id: Option<String>) -> Response {
    if endpoint == Endpoint::Store && method == Method::GET {
        // The image-beacon form answers with a 1x1 transparent GIF.
        const PIXEL: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        return (
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"))],
            PIXEL,
        )
            .into_response();
    }
    match endpoint {
        Endpoint::Envelope | Endpoint::Store => {
            let body = match event_id {
                Some(id) => serde_json::json!({ "id": id }),
                None => serde_json::json!({}),
            };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Endpoint::Minidump => {
            let id = event_id
                .and_then(|id| uuid::Uuid::parse_str(&id).ok())
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_default();
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                id,
            )
                .into_response()
        }
        Endpoint::Security => StatusCode::OK.into_response(),
        Endpoint::Stream => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
            "",
        )
            .into_response(),
    }
}

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
        let state = AppState::new(config, addr)?;
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
        let limits = self.state.config.connection.clone();
        http_edge::serve(self.listener, router(self.state), limits, signal).await
    }
}
