//! Helpers shared by the integration tests: an HTTP client for the API, a raw HTTP/1.1 client
//! ([`http`]), the real binary ([`binary`]), envelope builders, and the real SDK clients installed
//! by `scripts/setup-test-clients`.
#![allow(dead_code)]

pub mod binary;
pub mod envelopes;
pub mod http;
pub mod trace_envelopes;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate lives in the workspace")
        .to_path_buf()
}

/// A copy of the database `testdata/db/<name>.sqlite` in a fresh temporary folder, for a test
/// to open (and so migrate): the folder, to remove at the end, and the copy.
pub fn fixture_db_copy(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "fake-sentry-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join(format!("{name}.sqlite"));
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("testdata/db/{name}.sqlite"));
    std::fs::copy(&fixture, &db).unwrap_or_else(|e| panic!("copy {}: {e}", fixture.display()));
    (dir, db)
}

/// The schema version (`PRAGMA user_version`) of the database at `db`.
pub fn user_version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("user_version")
}

/// GETs `url` and parses JSON, asserting a 200.
pub async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "GET {url} answered {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// The one item whose Sentry event id is `event_id` and type is `item_type`, in full.
pub async fn item_by_event_id(base: &str, event_id: &str, item_type: &str) -> Value {
    let list = get_json(&format!(
        "{base}/api/items/?event_id={event_id}&type={item_type}"
    ))
    .await;
    let items = list["items"].as_array().expect("items array");
    assert_eq!(
        items.len(),
        1,
        "expected one {item_type} with event id {event_id}: {list}"
    );
    let id = items[0]["id"].as_str().expect("item id");
    get_json(&format!("{base}/api/items/{id}")).await
}

/// Runs a real SDK client script and parses the JSON it prints.
pub fn run_client(mut command: Command) -> Value {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON from {command:?}:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON from {command:?} ({e}): {line}"))
}

/// The Python interpreter of the test venv.
pub fn python() -> PathBuf {
    let python = repo_root().join(".clients/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-test-clients first",
        python.display()
    );
    python
}

/// `node` with `@sentry/node` installed beside it.
pub fn node_modules() -> PathBuf {
    let modules = repo_root().join(".clients/node/node_modules");
    assert!(
        modules.join("@sentry/node").exists(),
        "{} is missing: run scripts/setup-test-clients first",
        modules.display()
    );
    modules
}

/// The exception that was raised (the last of the chain) of an event payload.
pub fn raised_exception(payload: &Value) -> &Value {
    payload["exception"]["values"]
        .as_array()
        .and_then(|v| v.last())
        .unwrap_or_else(|| panic!("no exception in {payload}"))
}

/// A fresh Sentry event id (32 lower-case hex digits).
pub fn new_event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An envelope with one event item carrying `message`.
pub fn event_envelope(event_id: &str, message: &str) -> Vec<u8> {
    let payload = json!({"event_id": event_id, "message": message, "level": "error"}).to_string();
    format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        json!({"event_id": event_id}),
        payload.len()
    )
    .into_bytes()
}
