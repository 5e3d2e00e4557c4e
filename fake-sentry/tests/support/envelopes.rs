//! Hand-built envelopes of JSON items, and posting them to a running fake-sentry.

use serde_json::Value;

/// An envelope of `items` (each a type and a JSON payload), with `header` as its header. A
/// `log` item's header counts the entries of its payload's `items`.
pub fn envelope(header: Value, items: &[(&str, Value)]) -> Vec<u8> {
    let mut out = format!("{header}\n");
    for (item_type, payload) in items {
        let extra = if *item_type == "log" {
            format!(
                ",\"item_count\":{},\"content_type\":\"application/vnd.sentry.items.log+json\"",
                entries(payload)
            )
        } else {
            String::new()
        };
        let payload = payload.to_string();
        out.push_str(&format!(
            "{{\"type\":\"{item_type}\",\"length\":{}{extra}}}\n{payload}\n",
            payload.len()
        ));
    }
    out.into_bytes()
}

/// Posts `body` to project `project` of the server at `base`, asserting a 200.
pub async fn post(base: &str, project: u64, body: Vec<u8>) {
    let reply = reqwest::Client::new()
        .post(format!("{base}/api/{project}/envelope/"))
        .header(
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_version=7",
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(
        reply.status(),
        200,
        "{}",
        reply.text().await.unwrap_or_default()
    );
}

/// How many entries a `log` payload holds.
fn entries(payload: &Value) -> usize {
    payload["items"].as_array().map_or(0, Vec::len)
}
