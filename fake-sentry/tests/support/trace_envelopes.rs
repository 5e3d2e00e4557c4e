//! A hand-built distributed trace for the UI tests: a front-end service (project 1, Node SDK)
//! whose span calls a back-end service (project 2, Python SDK), with an error and a log entry
//! pinned to back-end spans, a log entry without a span, and a profile. Every name is a field,
//! so the same trace can carry hostile text.

use serde_json::json;

use super::envelopes::{envelope, post};

/// The names and times of one trace.
#[derive(Debug, Clone)]
pub struct TraceSpec {
    pub trace_id: String,
    /// Seconds since the Unix epoch the trace starts at.
    pub start: f64,
    pub root: String,
    pub root_op: String,
    pub call: String,
    pub backend: String,
    pub query: String,
    pub error_type: String,
    pub error_value: String,
    pub log: String,
    pub unpinned_log: String,
    pub front_sdk: String,
    pub front_release: String,
    pub back_sdk: String,
    pub back_release: String,
    pub environment: String,
}

impl TraceSpec {
    pub fn new(trace_id: &str, start: f64) -> Self {
        Self {
            trace_id: trace_id.to_string(),
            start,
            root: "GET /checkout".into(),
            root_op: "http.server".into(),
            call: "POST http://payments/charge".into(),
            backend: "POST /charge".into(),
            query: "SELECT * FROM cards WHERE id = %s".into(),
            error_type: "CardDeclined".into(),
            error_value: "card 4242 declined".into(),
            log: "charging card".into(),
            unpinned_log: "retrying without a span".into(),
            front_sdk: "sentry.javascript.node".into(),
            front_release: "shop@2.3.1".into(),
            back_sdk: "sentry.python".into(),
            back_release: "payments@1.4.0".into(),
            environment: "production".into(),
        }
    }

    /// Span id `n` of this trace (16 hex digits from the trace id).
    pub fn span(&self, n: u8) -> String {
        format!("{}{n:02x}", &self.trace_id[..14])
    }

    /// Event id `n` of this trace.
    pub fn event(&self, n: u8) -> String {
        format!("{n:02x}{}", &self.trace_id[2..])
    }

    /// The envelopes, each with the project it goes to: the front end's transaction, then the
    /// back end's transaction, error, logs and profile.
    pub fn envelopes(&self) -> Vec<(u64, Vec<u8>)> {
        let t = self.trace_id.as_str();
        let b = self.start;
        let front_sdk = json!({"name": self.front_sdk, "version": "10.78.0"});
        let back_sdk = json!({"name": self.back_sdk, "version": "2.75.0"});
        let front = envelope(
            json!({"event_id": self.event(1), "trace": {"trace_id": t}}),
            &[(
                "transaction",
                json!({
                    "event_id": self.event(1), "type": "transaction",
                    "transaction": self.root, "start_timestamp": b, "timestamp": b + 1.234567,
                    "release": self.front_release, "environment": self.environment,
                    "sdk": front_sdk,
                    "contexts": {"trace": {"trace_id": t, "span_id": self.span(1),
                                           "op": self.root_op, "status": "ok"}},
                    "spans": [
                        {"span_id": self.span(2), "parent_span_id": self.span(1), "trace_id": t,
                         "op": "http.client", "description": self.call,
                         "start_timestamp": b + 0.1, "timestamp": b + 0.9, "status": "ok"},
                        {"span_id": self.span(3), "parent_span_id": self.span(1), "trace_id": t,
                         "op": "db", "description": "SELECT 1",
                         "start_timestamp": b + 0.05, "timestamp": b + 0.08},
                        {"span_id": self.span(4), "parent_span_id": self.span(1), "trace_id": t,
                         "op": "cache.get", "description": "session",
                         "start_timestamp": b + 0.01, "timestamp": b + 0.010001}
                    ]
                }),
            )],
        );
        let backend = envelope(
            json!({"event_id": self.event(2), "trace": {"trace_id": t}}),
            &[(
                "transaction",
                json!({
                    "event_id": self.event(2), "type": "transaction",
                    "transaction": self.backend, "start_timestamp": b + 0.2,
                    "timestamp": b + 0.85, "release": self.back_release,
                    "environment": self.environment, "sdk": back_sdk,
                    "contexts": {"trace": {"trace_id": t, "span_id": self.span(5),
                                           "parent_span_id": self.span(2),
                                           "op": "http.server", "status": "internal_error"}},
                    "spans": [{"span_id": self.span(6), "parent_span_id": self.span(5),
                               "trace_id": t, "op": "db.query", "description": self.query,
                               "start_timestamp": b + 0.25, "timestamp": b + 0.3}]
                }),
            )],
        );
        let error = envelope(
            json!({"event_id": self.event(3), "trace": {"trace_id": t}}),
            &[(
                "event",
                json!({
                    "event_id": self.event(3), "level": "error", "timestamp": b + 0.28,
                    "release": self.back_release, "environment": self.environment,
                    "sdk": back_sdk,
                    "exception": {"values": [{"type": self.error_type, "value": self.error_value}]},
                    "contexts": {"trace": {"trace_id": t, "span_id": self.span(6)}}
                }),
            )],
        );
        let logs = envelope(
            json!({}),
            &[(
                "log",
                json!({"items": [
                    {"timestamp": b + 0.21, "trace_id": t, "span_id": self.span(5),
                     "level": "info", "body": self.log},
                    {"timestamp": b + 0.22, "trace_id": t, "level": "warn",
                     "body": self.unpinned_log}
                ]}),
            )],
        );
        let profile = envelope(
            json!({"event_id": self.event(4), "trace": {"trace_id": t}}),
            &[(
                "profile",
                json!({
                    "event_id": self.event(4), "platform": "python", "version": "1",
                    "release": self.back_release,
                    "transactions": [{"id": self.event(2), "trace_id": t, "name": self.backend}],
                    "profile": {"samples": [], "stacks": [], "frames": []}
                }),
            )],
        );
        vec![
            (1, front),
            (2, backend),
            (2, error),
            (2, logs),
            (2, profile),
        ]
    }
}

/// A one-transaction trace of project 1 without errors.
pub fn lone_transaction(trace_id: &str, name: &str, op: &str, start: f64, secs: f64) -> Vec<u8> {
    let event_id = format!("ee{}", &trace_id[2..]);
    envelope(
        json!({"event_id": event_id, "trace": {"trace_id": trace_id}}),
        &[(
            "transaction",
            json!({
                "event_id": event_id, "type": "transaction", "transaction": name,
                "start_timestamp": start, "timestamp": start + secs,
                "release": "worker@0.9.0", "environment": "staging",
                "sdk": {"name": "sentry.python", "version": "2.75.0"},
                "contexts": {"trace": {"trace_id": trace_id, "span_id": format!("{}01", &trace_id[..14]),
                                       "op": op, "status": "ok"}},
                "spans": []
            }),
        )],
    )
}

/// Sends every envelope of `spec`.
pub async fn send(base: &str, spec: &TraceSpec) {
    for (project, body) in spec.envelopes() {
        post(base, project, body).await;
    }
}
