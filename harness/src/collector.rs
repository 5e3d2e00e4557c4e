//! A minimal Antenna-compatible crash collector: `POST /submit` answers
//! `CrashID=bp-<crash id>\n` and keeps the dumps for the processor.
//!
//! Parsing is crash-generator's [`submission::parse_request`] (Antenna's multipart rules and
//! `Discarded=malformed_<reason>` answers); this module adds what a collector does around it:
//! Antenna-style crash ids (`uuid4` whose last seven hex digits are the throttle digit and the
//! UTC date), the raw-crash metadata Antenna adds, bounded in-memory storage and, optionally,
//! Antenna's `v1/...` storage layout on disk, and a read API over what it stored
//! (`GET /api/crashes/`, `/api/crashes/{id}`, `/api/crashes/{id}/dumps/{name}`) so a harness
//! in another container processes exactly the bytes the collector received. Every crash is accepted (Antenna's
//! `ACCEPT_ALL` throttle rules); a `uuid` annotation needs a bearer token, which this
//! collector never has, so it is refused with 401 as Antenna does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crash_generator::submission::{ParseLimits, SubmissionError, parse_request};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// nginx's `client_max_body_size 25m` in front of Antenna.
pub const DEFAULT_MAX_BODY: usize = 25 * 1024 * 1024;
/// Crashes kept in memory before the collector answers 500 (Antenna's storage failure).
pub const DEFAULT_MAX_CRASHES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Largest body accepted, compressed or not (413 above it).
    pub max_body: usize,
    /// Crashes kept in memory.
    pub max_crashes: usize,
    /// Also write Antenna's `v1/raw_crash/<date>/<id>`, `v1/dump_names/<id>`, `v1/<dump>/<id>`.
    pub storage_dir: Option<PathBuf>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_crashes: DEFAULT_MAX_CRASHES,
            storage_dir: None,
        }
    }
}

/// One accepted crash.
#[derive(Debug, Clone)]
pub struct StoredCrash {
    /// Without the `bp-` prefix.
    pub crash_id: String,
    /// Antenna's raw crash: annotations plus `uuid`, `submitted_timestamp`, `version`,
    /// `metadata`.
    pub raw_crash: Value,
    /// Dump name (`upload_file_minidump`, ...) to bytes.
    pub dumps: BTreeMap<String, Vec<u8>>,
}

pub struct CollectorState {
    config: CollectorConfig,
    crashes: Mutex<Vec<Arc<StoredCrash>>>,
}

impl CollectorState {
    pub fn new(config: CollectorConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            crashes: Mutex::new(Vec::new()),
        })
    }

    /// A stored crash by id (with or without `bp-`).
    pub fn crash(&self, id: &str) -> Option<Arc<StoredCrash>> {
        let id = id.strip_prefix("bp-").unwrap_or(id);
        self.lock().iter().find(|c| c.crash_id == id).cloned()
    }

    pub fn crash_ids(&self) -> Vec<String> {
        self.lock().iter().map(|c| c.crash_id.clone()).collect()
    }

    /// Every stored crash, oldest first.
    pub fn crashes(&self) -> Vec<Arc<StoredCrash>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<StoredCrash>>> {
        // A poisoned lock only means another request panicked mid-push; the list is intact.
        self.crashes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a submission was not stored; each answers as Antenna does.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("malformed submission: {0}")]
    Malformed(#[from] SubmissionError),
    #[error("a uuid annotation needs a bearer token")]
    UnauthorizedUuid,
    #[error("storage failed: {0}")]
    Storage(String),
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
    #[error("no crash {0}")]
    NoCrash(String),
    #[error("crash {crash_id} has no dump {name}")]
    NoDump { crash_id: String, name: String },
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

/// The collector's routes: `POST /submit`, the read API and Dockerflow.
pub fn router(state: Arc<CollectorState>) -> Router {
    let limit = state.config.max_body;
    Router::new()
        .route("/submit", post(submit))
        .route("/api/crashes/", get(list_crashes))
        .route("/api/crashes/{crash_id}", get(raw_crash))
        .route("/api/crashes/{crash_id}/dumps/{name}", get(dump))
        .route("/__heartbeat__", get(|| async { "{}" }))
        .route("/__lbheartbeat__", get(|| async { StatusCode::OK }))
        .route(
            "/__version__",
            get(|| async {
                axum::Json(json!({"source": "understudy", "version": env!("CARGO_PKG_VERSION"), "build": "harness-collector"}))
            }),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
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
    let crash = state
        .crash(&crash_id)
        .ok_or(CrashLookupError::NoCrash(crash_id))?;
    Ok(axum::Json(crash.raw_crash.clone()))
}

/// One dump's bytes, exactly as submitted (`upload_file_minidump`, ...).
async fn dump(
    State(state): State<Arc<CollectorState>>,
    Path((crash_id, name)): Path<(String, String)>,
) -> Result<Response, CrashLookupError> {
    let crash = state
        .crash(&crash_id)
        .ok_or_else(|| CrashLookupError::NoCrash(crash_id.clone()))?;
    let bytes = crash
        .dumps
        .get(&name)
        .cloned()
        .ok_or(CrashLookupError::NoDump { crash_id, name })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

async fn submit(
    State(state): State<Arc<CollectorState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, CollectorError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let crash = accept(
        &state,
        text(header::CONTENT_TYPE),
        text(header::CONTENT_ENCODING),
        text(header::USER_AGENT),
        &body,
        OffsetDateTime::now_utc(),
    )?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        format!("CrashID=bp-{}\n", crash.crash_id),
    )
        .into_response())
}

/// Parses, checks and stores one submission (the handler's logic, callable directly).
pub fn accept(
    state: &CollectorState,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    user_agent: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Arc<StoredCrash>, CollectorError> {
    let limits = ParseLimits {
        max_body_size: state.config.max_body,
    };
    let parsed = parse_request(content_type, content_encoding, body, limits)?;
    if parsed.annotations.contains_key("uuid") {
        return Err(CollectorError::UnauthorizedUuid);
    }
    let crash_id = crash_id(uuid::Uuid::new_v4(), now);
    let checksums: BTreeMap<&String, String> = parsed
        .dumps
        .iter()
        .map(|(name, bytes)| (name, hex::encode(Sha256::digest(bytes))))
        .collect();
    let mut raw: serde_json::Map<String, Value> = parsed
        .annotations
        .iter()
        .filter(|(k, _)| {
            // Antenna removes these before storing.
            !matches!(
                k.as_str(),
                "Email" | "TelemetryClientId" | "TelemetryServerURL" | "TelemetrySessionId"
            )
        })
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
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
            "payload": parsed.payload,
            "payload_compressed": if parsed.payload_compressed { "1" } else { "0" },
            "payload_size": body.len(),
            "collector_notes": parsed.notes,
            "dump_checksums": checksums,
            "user_agent": user_agent.unwrap_or(""),
            "throttle_rule": "accept_everything",
        }),
    );
    let crash = Arc::new(StoredCrash {
        crash_id,
        raw_crash: Value::Object(raw),
        dumps: parsed.dumps,
    });
    if let Some(dir) = &state.config.storage_dir {
        write_antenna_layout(dir, &crash, now)
            .map_err(|e| CollectorError::Storage(e.to_string()))?;
    }
    let mut crashes = state.lock();
    if crashes.len() >= state.config.max_crashes {
        return Err(CollectorError::Storage(format!(
            "{} crashes stored, the limit",
            crashes.len()
        )));
    }
    crashes.push(crash.clone());
    Ok(crash)
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

fn write_antenna_layout(
    dir: &std::path::Path,
    crash: &StoredCrash,
    now: OffsetDateTime,
) -> std::io::Result<()> {
    let id = &crash.crash_id;
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let write = |rel: PathBuf, bytes: &[u8]| -> std::io::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    };
    for (name, bytes) in &crash.dumps {
        let key = if name == "upload_file_minidump" {
            "dump"
        } else {
            name.as_str()
        };
        write(PathBuf::from(format!("v1/{key}/{id}")), bytes)?;
    }
    let names: Vec<&String> = crash.dumps.keys().collect();
    write(
        PathBuf::from(format!("v1/dump_names/{id}")),
        serde_json::to_string(&names).unwrap_or_default().as_bytes(),
    )?;
    // Written last: its presence means the crash is complete.
    write(
        PathBuf::from(format!("v1/raw_crash/{date}/{id}")),
        serde_json::to_string(&crash.raw_crash)
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crash_generator::submission::{Submission, build};
    use crash_generator::{Crash, Profile};

    #[test]
    fn crash_ids_follow_antenna() {
        let now = time::macros::datetime!(2026-11-26 04:00 UTC);
        let id = crash_id(uuid::Uuid::new_v4(), now);
        assert!(id.ends_with("0261126"), "{id}");
        assert!(is_crash_id(&id), "{id}");
        assert!(!is_crash_id("de1bb258-cbbf-4589-a673-34f800160918x"));
        assert!(!is_crash_id("de1bb258-cbbf-4589-a673-34f802260918"));
    }

    #[test]
    fn accepts_a_generated_submission_and_refuses_junk() {
        let state = CollectorState::new(CollectorConfig::default());
        let crash = Crash::generate(&Profile::default(), 7);
        let encoded = build(&Submission::for_crash(&crash), "b0undary");
        let now = OffsetDateTime::now_utc();
        let stored = accept(
            &state,
            Some(&encoded.content_type),
            encoded.content_encoding,
            Some("test"),
            &encoded.body,
            now,
        )
        .unwrap();
        assert_eq!(stored.dumps["upload_file_minidump"], crash.minidump_bytes());
        assert_eq!(stored.raw_crash["version"], 2);
        assert!(state.crash(&format!("bp-{}", stored.crash_id)).is_some());
        let err = accept(&state, Some("text/plain"), None, None, b"x", now).unwrap_err();
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
