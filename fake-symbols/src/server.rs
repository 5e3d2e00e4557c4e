//! The HTTP service: one router for downloads, uploads, symbolication, dockerflow and the
//! admin endpoints, a layer that applies faults and logs every request, and binding with
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post, put};

use crate::admin;
use crate::config::Config;
use crate::download;
use crate::faults::{FaultPlan, FaultSpecError};
use crate::request_log::{RequestLog, RequestRecord};
use crate::store::{StoreError, StoredFile, SymbolStore};
use crate::symbolicate;
use crate::{resumable, upload, upload_v2};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create a temporary symbols directory: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid fault spec: {0}")]
    Faults(#[from] FaultSpecError),
}

/// Shared state of one running server.
pub struct AppState {
    pub config: Config,
    pub store: SymbolStore,
    pub faults: FaultPlan,
    pub requests: Arc<RequestLog>,
    /// Base URL for redirects and download URLs, without a trailing slash.
    pub public_url: String,
    pub symbolizer: symbolicate::ModuleCache,
    /// Upload v2's resumable sessions.
    pub sessions: resumable::Sessions,
    /// Keeps a temporary symbols directory alive as long as the server.
    _temp_dir: Option<tempfile::TempDir>,
}

impl AppState {
    pub fn new(config: Config, bound: SocketAddr) -> Result<Arc<Self>, StartError> {
        let (root, temp_dir) = match &config.symbols_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("fake-symbols-")
                    .tempdir()
                    .map_err(StartError::TempDir)?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let store = SymbolStore::open(root)?;
        let faults = FaultPlan::new(config.faults.clone(), config.limits.fault_limits())?;
        let public_url = config
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{bound}"));
        Ok(Arc::new(Self {
            requests: Arc::new(RequestLog::new(
                config.limits.request_log_capacity,
                config.limits.request_log_bytes,
            )),
            symbolizer: symbolicate::ModuleCache::new(config.limits.symbol_cache_bytes),
            sessions: resumable::Sessions::new(resumable::SessionLimits {
                max_pending: config.limits.max_upload_sessions,
                ttl: config.limits.upload_session_ttl,
                max_bytes: config.limits.max_upload_session_bytes,
                max_object_bytes: config.limits.max_member_bytes,
            }),
            store,
            faults,
            public_url,
            config,
            _temp_dir: temp_dir,
        }))
    }

    /// The browser boundary of the control endpoints: the configured host names plus the
    /// public URL's host (and always IP literals and loopback names).
    pub fn boundary(&self) -> http_edge::BrowserBoundary {
        let hosts = http_edge::HostAllowlist::default()
            .with_names(&self.config.allowed_hosts)
            .with_url_host(&self.public_url);
        http_edge::BrowserBoundary::new(hosts)
    }

    /// Where a found file redirects to in storage-redirect mode.
    pub fn storage_url(&self, file: &StoredFile) -> String {
        let prefix = if file.try_symbols { "try/v1" } else { "v1" };
        format!(
            "{}/__storage__/{prefix}/{}/{}/{}",
            self.public_url,
            download::encode_segment(&file.key.debug_file),
            download::encode_segment(&file.key.debug_id),
            download::encode_segment(&file.key.file_name)
        )
    }
}

/// Paths that are never faulted (the admin and health endpoints).
fn is_control_path(path: &str) -> bool {
    path.starts_with("/__fault__")
        || path.starts_with("/__requests__")
        || matches!(path, "/__heartbeat__" | "/__lbheartbeat__" | "/__version__")
}

/// The debug file a download or storage path is about.
pub fn module_of_path(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.first() == Some(&"__storage__") {
        segments.remove(0);
        if segments.first() == Some(&"try") {
            segments.remove(0);
        }
        if segments.first() != Some(&"v1") {
            return None;
        }
        segments.remove(0);
    } else if segments.first() == Some(&"try") {
        segments.remove(0);
    }
    (segments.len() == 3).then(|| percent_decode(segments[0]))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Applies the faults that fire for a request, then logs it (except the log's own reads).
async fn faults_and_log(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let decision = if is_control_path(&path) {
        Default::default()
    } else {
        state.faults.decide(&path, module_of_path(&path).as_deref())
    };
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let response = match decision.status {
        Some((code, retry_after)) => fault_response(code, retry_after),
        None => {
            request.extensions_mut().insert(decision.body.clone());
            next.run(request).await
        }
    };
    if path.starts_with("/__requests__") {
        return response;
    }
    let id = state.requests.start(RequestRecord {
        id: 0,
        method,
        path,
        query,
        status: response.status().as_u16(),
        bytes: 0,
        head_ms: started.elapsed().as_secs_f64() * 1000.0,
        total_ms: None,
        complete: false,
        faults: decision.fired,
    });
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, state.requests.track(id, started, body))
}

/// An injected status answer, shaped like the infrastructure in front of Tecken answers.
fn fault_response(code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = crate::error::json_error(
        status,
        status.canonical_reason().unwrap_or("injected fault"),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The whole service.
pub fn router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route(
            "/{debug_file}/{debug_id}/{file_name}",
            any(download::download_regular),
        )
        .route(
            "/try/{debug_file}/{debug_id}/{file_name}",
            any(download::download_try),
        )
        .route(
            "/__storage__/v1/{debug_file}/{debug_id}/{file_name}",
            get(download::storage_regular),
        )
        .route(
            "/__storage__/try/v1/{debug_file}/{debug_id}/{file_name}",
            get(download::storage_try),
        )
        .route("/api/syminfo/{file}/{id}", get(download::syminfo))
        .route("/upload/", any(upload::upload))
        .route("/upload/auth_info/", any(upload::auth_info))
        .route("/upload/v2/", any(upload_v2::upload_v2))
        .route("/__storage__/upload/{session}", put(resumable::put_chunk))
        .route("/symbolicate/v4", post(symbolicate::v4))
        .route("/symbolicate/v5", post(symbolicate::v5))
        .merge(admin::health_routes())
        .merge(state.boundary().protect(admin::control_routes()))
        .fallback(download::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults_and_log,
        ))
        .with_state(state);
    http_edge::harden(router)
}

/// A bound, not yet serving server.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds the listener and opens the store.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = AppState::new(config, addr)?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn url(&self) -> String {
        self.state.public_url.clone()
    }

    pub(crate) fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits = self.state.config.connection.clone();
        http_edge::serve(self.listener, router(self.state), limits, shutdown).await
    }
}
