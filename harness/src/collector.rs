//! A minimal Antenna-compatible crash collector: `POST /submit` answers
//! `CrashID=bp-<crash id>\n` and keeps the dumps for the processor.
//!
//! Parsing is crash-generator's [`parse_submission`] (Antenna's multipart rules and
//! `Discarded=malformed_<reason>` answers, under [`SubmissionLimits`]); this module adds what a
//! collector does around it: reading the body under a size cap and a deadline, charging
//! everything a submission holds to one in-flight memory budget shared by all submissions
//! being received and parsed (`--collector-max-in-flight`: 503 with `Retry-After` past it, as
//! Relay answers when overloaded), Antenna-style crash ids (`uuid4` whose last seven hex digits are the throttle digit and the UTC date), the
//! raw-crash metadata Antenna adds, storage bounded by count and bytes (`store`) and,
//! optionally, Antenna's `v1/...` layout on disk, and a read API over what it stored
//! (`GET /api/crashes/`, `/api/crashes/{id}`, `/api/crashes/{id}/dumps/{name}`) so a harness
//! in another container processes exactly the bytes the collector received. Every crash is
//! accepted (Antenna's `ACCEPT_ALL` throttle rules); a `uuid` annotation needs a bearer token,
//! which this collector never has, so it is refused with 401 as Antenna does.

mod store;
mod submission;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use http_edge::{
    BrowserBoundary, BudgetError, ConnectionLimits, HostAllowlist, InFlightBudget, RequestCharge,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use store::{Full, StoredCrash};
pub use submission::{
    DEFAULT_MAX_BODY, ParsedSubmission, SubmissionError, SubmissionLimits, parse_submission,
    parse_submission_charged,
};

use store::Store;

/// Crashes kept in memory before the collector refuses new ones (507).
pub const DEFAULT_MAX_CRASHES: usize = 10_000;
/// Bytes of crashes kept in memory before the collector refuses new ones (507).
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024 * 1024;
/// Time to receive a whole submission body once its headers are in (408 after it).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// Bytes all submissions being received and parsed may hold together (503 past it): room for
/// two maximal submissions at the default limits (see [`min_in_flight`]), many small ones.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256 * 1024 * 1024;
/// The flag that sets the in-flight budget, named in every refusal it causes.
pub const IN_FLIGHT_KNOB: &str = "--collector-max-in-flight";
/// Bytes of bookkeeping one submission is allowed on top of its body's size in
/// [`min_in_flight`]: map entries, the collector's metadata in the raw crash.
const IN_FLIGHT_HEADROOM: usize = 1024 * 1024;

/// The least in-flight budget that lets one submission at `limits` through when nothing else
/// is in flight: its body, its gunzipped body, the annotations and dumps copied out of it and
/// the raw crash's JSON. Each of the last three is at most the size of what is parsed, so that
/// is three times the body limit, or the body limit plus three times the decompressed limit,
/// whichever is larger (plus `IN_FLIGHT_HEADROOM`, 1 MiB): 101 MiB at the default limits. (Annotations
/// whose JSON text is longer than their bytes, such as control characters escaped as `\u0001`,
/// are charged as they are and may need more: such a submission gets 413 if it can never fit.)
pub fn min_in_flight(limits: &SubmissionLimits) -> usize {
    let plain = limits.max_body.saturating_mul(3);
    let gzipped = limits
        .max_body
        .saturating_add(limits.max_decompressed.saturating_mul(3));
    plain.max(gzipped).saturating_add(IN_FLIGHT_HEADROOM)
}

/// A configuration the collector cannot serve by.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectorConfigError {
    #[error(
        "the in-flight budget of {budget} bytes ({IN_FLIGHT_KNOB}) is smaller than what one \
         submission may hold, {needed} bytes (three times --max-submission, or \
         --max-submission plus three times --collector-max-decompressed, whichever is larger, \
         plus 1 MiB): raise it or lower those"
    )]
    InFlightTooSmall { budget: usize, needed: usize },
}

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// What one submission may be (`limits.max_body` is the largest body, 413 above it).
    pub limits: SubmissionLimits,
    /// Crashes kept in memory.
    pub max_crashes: usize,
    /// Bytes kept in memory (dumps and raw crashes; see [`StoredCrash`]).
    pub max_bytes: usize,
    /// Time to receive a whole body once its headers are in.
    pub body_timeout: Duration,
    /// Bytes all submissions being received and parsed may hold together (see
    /// [`min_in_flight`] for the least that makes sense).
    pub max_in_flight: usize,
    /// Also write Antenna's `v1/raw_crash/<date>/<id>`, `v1/dump_names/<id>`, `v1/<dump>/<id>`.
    pub storage_dir: Option<PathBuf>,
    /// `Host` names the read API answers to besides IP literals, `localhost`, `*.localhost`
    /// and names without a dot (`collector` in compose); `*` turns the check off.
    pub allowed_hosts: Vec<String>,
    /// Connection cap, request-head deadline and header limits.
    pub connection: ConnectionLimits,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            limits: SubmissionLimits::default(),
            max_crashes: DEFAULT_MAX_CRASHES,
            max_bytes: DEFAULT_MAX_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            storage_dir: None,
            allowed_hosts: Vec::new(),
            connection: ConnectionLimits::default(),
        }
    }
}

impl CollectorConfig {
    /// Refuses a configuration whose in-flight budget cannot hold one maximal submission
    /// (every submission near the limits would be refused with 413 even on an idle collector).
    pub fn check(&self) -> Result<(), CollectorConfigError> {
        let needed = min_in_flight(&self.limits);
        if self.max_in_flight < needed {
            return Err(CollectorConfigError::InFlightTooSmall {
                budget: self.max_in_flight,
                needed,
            });
        }
        Ok(())
    }
}

pub struct CollectorState {
    config: CollectorConfig,
    store: Store,
    in_flight: InFlightBudget,
}

impl CollectorState {
    pub fn new(config: CollectorConfig) -> Arc<Self> {
        Arc::new(Self {
            store: Store::new(config.max_crashes, config.max_bytes),
            in_flight: InFlightBudget::new(config.max_in_flight),
            config,
        })
    }

    /// The memory budget of the submissions being received and parsed.
    pub fn in_flight(&self) -> &InFlightBudget {
        &self.in_flight
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// A stored crash by id (with or without `bp-`).
    pub fn crash(&self, id: &str) -> Option<Arc<StoredCrash>> {
        self.store.find(id.strip_prefix("bp-").unwrap_or(id))
    }

    pub fn crash_ids(&self) -> Vec<String> {
        self.store
            .all()
            .iter()
            .map(|c| c.crash_id.clone())
            .collect()
    }

    /// Every stored crash, oldest first.
    pub fn crashes(&self) -> Vec<Arc<StoredCrash>> {
        self.store.all()
    }

    /// `(crashes, bytes)` held in memory, counting crashes still being written.
    pub fn usage(&self) -> (usize, usize) {
        self.store.usage()
    }
}

/// Why a submission was not stored; each answers as Antenna does where Antenna has an answer.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("malformed submission: {0}")]
    Malformed(SubmissionError),
    /// What the submission holds does not fit the in-flight budget: 503 with `Retry-After`
    /// while others use it (Relay's answer when overloaded), 413 if it could never fit.
    #[error("{0} ({IN_FLIGHT_KNOB})")]
    Budget(BudgetError),
    #[error("a uuid annotation needs a bearer token")]
    UnauthorizedUuid,
    /// 408, as nginx answers a body that does not arrive within `client_body_timeout`: the
    /// whole body took longer than `body_timeout`, or no byte came for the idle timeout.
    #[error("the body did not arrive in time ({0:?})")]
    BodyTimeout(Duration),
    /// The client went away or sent a broken body (no answer reaches it anyway).
    #[error("the body could not be read")]
    BodyAborted,
    /// 507: the count or byte cap is reached; nothing of the crash was written.
    #[error(transparent)]
    Full(#[from] Full),
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<BudgetError> for CollectorError {
    fn from(error: BudgetError) -> Self {
        CollectorError::Budget(error)
    }
}

impl IntoResponse for CollectorError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            CollectorError::Malformed(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                format!("Discarded=malformed_{}", e.reason()),
            ),
            CollectorError::UnauthorizedUuid => (
                StatusCode::UNAUTHORIZED,
                "Discarded=unauthorized_uuid".into(),
            ),
            CollectorError::BodyTimeout(_)
            | CollectorError::BodyAborted
            | CollectorError::Budget(_) => {
                let status = match &self {
                    CollectorError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
                    CollectorError::Budget(BudgetError::Busy { .. }) => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    CollectorError::Budget(BudgetError::TooLarge { .. }) => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                if let CollectorError::Budget(budget) = &self {
                    tracing::warn!(%budget, "collector refused a submission");
                }
                let mut response = (
                    status,
                    [(header::CONTENT_TYPE, "text/plain")],
                    format!("{self}\n"),
                )
                    .into_response();
                // The rest of the body may still be on its way: do not read it as a request.
                response.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                if let CollectorError::Budget(BudgetError::Busy { .. }) = &self {
                    // Room comes back as soon as the submissions in flight finish.
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                }
                return response;
            }
            CollectorError::Full(full) => {
                tracing::warn!(%full, "collector refused a crash");
                (StatusCode::INSUFFICIENT_STORAGE, format!("{full}\n"))
            }
            CollectorError::Storage(message) => {
                tracing::error!(%message, "collector storage failed");
                (StatusCode::INTERNAL_SERVER_ERROR, String::new())
            }
        };
        (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
    }
}

/// A read API request that names nothing stored: 404 with a JSON error.
#[derive(Debug, thiserror::Error)]
pub enum CrashLookupError {
    #[error("no crash with that id")]
    NoCrash,
    #[error("the crash has no dump by that name")]
    NoDump,
}

impl IntoResponse for CrashLookupError {
    fn into_response(self) -> Response {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": self.to_string()})),
        )
            .into_response()
    }
}

/// What `GET /api/crashes/` lists for one crash.
pub fn crash_summary(crash: &StoredCrash) -> Value {
    let dumps: serde_json::Map<String, Value> = crash
        .dumps
        .iter()
        .map(|(name, bytes)| (name.clone(), bytes.len().into()))
        .collect();
    json!({
        "crash_id": format!("bp-{}", crash.crash_id),
        "submitted_timestamp": crash.raw_crash.get("submitted_timestamp").cloned().unwrap_or(Value::Null),
        "product": crash.raw_crash.get("ProductName").cloned().unwrap_or(Value::Null),
        "version": crash.raw_crash.get("Version").cloned().unwrap_or(Value::Null),
        "dumps": dumps,
    })
}

/// The collector's routes: `POST /submit` (open to anyone, as Antenna's is), the read API
/// (behind the browser boundary: a `Host` allowlist against DNS rebinding and no CORS, so no
/// web page can read what was captured) and Dockerflow; every answer is hardened (`nosniff`,
/// `Content-Security-Policy: sandbox`).
pub fn router(state: Arc<CollectorState>) -> Router {
    let boundary =
        BrowserBoundary::new(HostAllowlist::default().with_names(&state.config.allowed_hosts));
    let read_api = Router::new()
        .route("/api/crashes/", get(list_crashes))
        .route("/api/crashes/{crash_id}", get(raw_crash))
        .route("/api/crashes/{crash_id}/dumps/{name}", get(dump));
    let open = Router::new()
        .route("/submit", post(submit))
        .route("/__heartbeat__", get(|| async { "{}" }))
        .route("/__lbheartbeat__", get(|| async { StatusCode::OK }))
        .route(
            "/__version__",
            get(|| async {
                axum::Json(json!({"source": "understudy", "version": env!("CARGO_PKG_VERSION"), "build": "harness-collector"}))
            }),
        );
    http_edge::harden(open.merge(boundary.protect(read_api))).with_state(state)
}

async fn list_crashes(State(state): State<Arc<CollectorState>>) -> axum::Json<Value> {
    let crashes: Vec<Value> = state.crashes().iter().map(|c| crash_summary(c)).collect();
    axum::Json(json!({"total": crashes.len(), "crashes": crashes}))
}

/// Antenna's raw crash (annotations plus what the collector added).
async fn raw_crash(
    State(state): State<Arc<CollectorState>>,
    Path(crash_id): Path<String>,
) -> Result<axum::Json<Value>, CrashLookupError> {
    let crash = state.crash(&crash_id).ok_or(CrashLookupError::NoCrash)?;
    Ok(axum::Json(crash.raw_crash.clone()))
}

/// One dump's bytes, exactly as submitted (`upload_file_minidump`, ...), as a download
/// (`application/octet-stream`, `Content-Disposition: attachment`, `nosniff`).
async fn dump(
    State(state): State<Arc<CollectorState>>,
    Path((crash_id, name)): Path<(String, String)>,
) -> Result<Response, CrashLookupError> {
    let crash = state.crash(&crash_id).ok_or(CrashLookupError::NoCrash)?;
    let bytes = crash
        .dumps
        .get(&name)
        .cloned()
        .ok_or(CrashLookupError::NoDump)?;
    let file_name = format!("{}-{name}.dmp", crash.crash_id);
    Ok((http_edge::attachment_headers(&file_name), bytes).into_response())
}

async fn submit(
    State(state): State<Arc<CollectorState>>,
    request: Request,
) -> Result<Response, CollectorError> {
    let (parts, body) = request.into_parts();
    // Everything this submission holds is charged here until it is stored or refused.
    let charge = state.in_flight.charge();
    let body = read_body(body, &parts.headers, &state.config, &charge).await?;
    let headers = parts.headers;
    let now = OffsetDateTime::now_utc();
    // Parsing (gunzip, multipart) and the disk writes block: keep them off the reactor.
    let crash = tokio::task::spawn_blocking(move || {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        accept_charged(
            &state,
            text(header::CONTENT_TYPE),
            text(header::CONTENT_ENCODING),
            text(header::USER_AGENT),
            &body,
            now,
            &charge,
        )
    })
    .await
    .map_err(|e| CollectorError::Storage(format!("the submission task failed: {e}")))??;
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        format!("CrashID=bp-{}\n", crash.crash_id),
    )
        .into_response())
}

/// Reads a whole body, refusing it as soon as it is known to be over `limits.max_body` (from
/// `Content-Length`, or one byte past the limit as it arrives) or once `body_timeout` has
/// passed. The buffer is charged to `charge` before it grows: the declared length with the
/// first piece of body, or doubling when none was declared.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    config: &CollectorConfig,
    charge: &RequestCharge,
) -> Result<Bytes, CollectorError> {
    let limit = config.limits.max_body;
    let too_large = || CollectorError::Malformed(SubmissionError::TooLarge { limit });
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // At most `limit` (checked above), so it fits a usize.
    let declared = declared.map_or(0, |n| n as usize);
    let read = async {
        let mut buffer: Vec<u8> = Vec::new();
        let mut charged: usize = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match stalled(&e) {
                Some(idle) => CollectorError::BodyTimeout(idle),
                None => CollectorError::BodyAborted,
            })?;
            let needed = buffer.len() + chunk.len();
            if needed > limit {
                return Err(too_large());
            }
            if needed > buffer.capacity() {
                let capacity = needed
                    .max(declared)
                    .max(charged.saturating_mul(2))
                    .min(limit);
                charge.add(capacity - charged)?;
                charged = capacity;
                buffer.reserve_exact(capacity - buffer.len());
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buffer))
    };
    tokio::time::timeout(config.body_timeout, read)
        .await
        .map_err(|_| CollectorError::BodyTimeout(config.body_timeout))?
}

/// How long the body went without a byte, if that is why reading it failed (http-edge's
/// body idle timeout).
fn stalled(error: &axum::Error) -> Option<Duration> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(stalled) = e.downcast_ref::<http_edge::BodyStalled>() {
            return Some(stalled.0);
        }
        source = e.source();
    }
    None
}

/// Parses, checks and stores one submission (the handler's logic, callable directly), with
/// the body and everything made from it charged to the collector's in-flight budget.
///
/// The crash's place (count and bytes) is reserved before anything is written; it is listed
/// only once every file is on disk.
pub fn accept(
    state: &CollectorState,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    user_agent: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Arc<StoredCrash>, CollectorError> {
    let charge = state.in_flight.charge();
    charge.add(body.len())?;
    accept_charged(
        state,
        content_type,
        content_encoding,
        user_agent,
        body,
        now,
        &charge,
    )
}

/// [`accept`] for a body already charged to `charge`: what parsing keeps and the raw crash's
/// JSON are charged to it too, before they are made.
fn accept_charged(
    state: &CollectorState,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    user_agent: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
    charge: &RequestCharge,
) -> Result<Arc<StoredCrash>, CollectorError> {
    let parsed = parse_submission_charged(
        content_type,
        content_encoding,
        body,
        &state.config.limits,
        charge,
    )?;
    if parsed.annotations.contains_key("uuid") {
        return Err(CollectorError::UnauthorizedUuid);
    }
    let crash_id = crash_id(uuid::Uuid::new_v4(), now);
    let checksums: BTreeMap<String, String> = parsed
        .dumps
        .iter()
        .map(|(name, bytes)| (name.clone(), hex::encode(Sha256::digest(bytes))))
        .collect();
    let user_agent: String = user_agent.unwrap_or("").chars().take(1024).collect();
    let ParsedSubmission {
        annotations,
        dumps,
        payload,
        payload_compressed,
        notes,
    } = parsed;
    let mut raw: serde_json::Map<String, Value> = annotations
        .into_iter()
        .filter(|(k, _)| {
            // Antenna removes these before storing.
            !matches!(
                k.as_str(),
                "Email" | "TelemetryClientId" | "TelemetryServerURL" | "TelemetrySessionId"
            )
        })
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let timestamp = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    raw.insert("uuid".into(), crash_id.clone().into());
    raw.insert("submitted_timestamp".into(), timestamp.into());
    raw.insert("version".into(), 2.into());
    raw.insert(
        "metadata".into(),
        json!({
            "payload": payload,
            "payload_compressed": if payload_compressed { "1" } else { "0" },
            "payload_size": body.len(),
            "collector_notes": notes,
            "dump_checksums": checksums,
            "user_agent": user_agent,
            "throttle_rule": "accept_everything",
        }),
    );
    let crash = Arc::new(StoredCrash {
        crash_id,
        raw_crash: Value::Object(raw),
        dumps,
    });
    // Its length first (counted, not kept), so that the copy is charged before it is made.
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, &crash.raw_crash).unwrap_or_default();
    charge.add(counter.0)?;
    let raw_json = serde_json::to_vec(&crash.raw_crash).unwrap_or_default();
    let reservation = state.store.reserve(store::charge(&crash, &raw_json))?;
    if let Some(dir) = &state.config.storage_dir {
        store::write_antenna_layout(dir, &crash, &raw_json, now)
            .map_err(|e| CollectorError::Storage(e.to_string()))?;
    }
    reservation.commit(crash.clone());
    Ok(crash)
}

/// An `io::Write` that only counts what is written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Antenna's `create_crash_id`: a uuid4 whose last seven hex digits become the throttle
/// digit (0 = accept) and `YYMMDD`.
pub fn crash_id(uuid: uuid::Uuid, now: OffsetDateTime) -> String {
    let text = uuid.hyphenated().to_string();
    let date = format!(
        "{:02}{:02}{:02}",
        now.year() % 100,
        u8::from(now.month()),
        now.day()
    );
    format!("{}0{date}", &text[..text.len() - 7])
}

/// Whether `id` is a valid Antenna crash id (Antenna's regex and throttle digit check).
pub fn is_crash_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let groups = [8, 4, 4, 4, 12];
    let mut at = 0;
    for (i, len) in groups.iter().enumerate() {
        let Some(group) = bytes.get(at..at + len) else {
            return false;
        };
        let ok = if i == 4 {
            group[..6]
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && group[6..].iter().all(u8::is_ascii_digit)
                // The throttle digit is the seventh character from the end.
                && matches!(group[5], b'0' | b'1')
        } else {
            group.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !ok {
            return false;
        }
        at += len;
        if i < 4 {
            if bytes.get(at) != Some(&b'-') {
                return false;
            }
            at += 1;
        }
    }
    at == bytes.len()
}

#[cfg(test)]
mod tests;
