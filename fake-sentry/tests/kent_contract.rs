//! Kent's API, byte for byte: `GET /api/eventlist/`, `GET /api/event/{id}` and
//! `POST /api/flush/` answer with the exact bytes Kent 2.2 (Flask `jsonify`: sorted keys, compact,
//! ASCII only, trailing newline) writes, so Kent consumers work unchanged, and without Kent's
//! defects: attachments resolve (Kent answers 500), every report of a Reporting API list gets its
//! own id (Kent gives them one), and Sentry event ids resolve too.

mod support;

use std::net::SocketAddr;

use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::http::{Reply, send};
use support::new_event_id;

async fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, &[], b"").await
}

async fn post(addr: SocketAddr, target: &str, content_type: &str, body: &[u8]) -> Reply {
    send(
        addr,
        "POST",
        target,
        &[("Content-Type", content_type)],
        body,
    )
    .await
}

/// GETs a Kent endpoint, checks it answers 200 `application/json`, returns the body text.
async fn kent_get(addr: SocketAddr, target: &str) -> String {
    let reply = get(addr, target).await;
    assert_eq!(reply.status, 200, "GET {target}: {}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "GET {target}"
    );
    reply.text()
}

/// Kent's ids are UUIDs written with dashes (`str(uuid.uuid4())`); consumers treat them as
/// opaque strings, so any lower-case hyphenated UUID fits.
fn assert_kent_uuid(id: &str) {
    let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?} is not a UUID: {e}"));
    assert_eq!(
        parsed.hyphenated().to_string(),
        id,
        "ids are lower-case hyphenated UUIDs"
    );
}

/// The ids `/api/eventlist/` lists, oldest first.
async fn listed_ids(addr: SocketAddr) -> Vec<String> {
    let text = kent_get(addr, "/api/eventlist/").await;
    let list: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("eventlist is not JSON ({e}): {text}"));
    list["events"]
        .as_array()
        .unwrap_or_else(|| panic!("eventlist without events: {text}"))
        .iter()
        .map(|e| {
            e["event_id"]
                .as_str()
                .unwrap_or_else(|| panic!("event without an id: {e}"))
                .to_string()
        })
        .collect()
}

/// Kent's eventlist body for `(id, project, summary)` rows, with `summary` already written as
/// Kent writes it (JSON string contents, ASCII-escaped).
fn eventlist_text(rows: &[(&str, u64, &str)]) -> String {
    let events: Vec<String> = rows
        .iter()
        .map(|(id, project, summary)| {
            format!(r#"{{"event_id":"{id}","project_id":{project},"summary":"{summary}"}}"#)
        })
        .collect();
    format!("{{\"events\":[{}]}}\n", events.join(","))
}

#[tokio::test]
async fn kent_shapes_are_byte_exact() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();

    // 1. A store event with non-ASCII text (one BMP character, one outside the BMP).
    let store_id = new_event_id();
    let store_body = format!(
        r#"{{"platform":"python","message":"store: grüße 😀","level":"error","event_id":"{store_id}"}}"#
    );
    let reply = post(
        addr,
        "/api/1/store/",
        "application/json",
        store_body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "store: {}", reply.text());

    // 2. An envelope with an event, a text attachment and a binary attachment.
    let envelope_id = new_event_id();
    let envelope_header = format!(
        r#"{{"sdk":{{"version":"0.49.5","name":"sentry.rust"}},"event_id":"{envelope_id}"}}"#
    );
    let event = format!(
        r#"{{"level":"error","exception":{{"values":[{{"value":"bad value","type":"ValueError"}}]}},"event_id":"{envelope_id}"}}"#
    );
    let text_attachment = b"hello\nworld";
    let binary_attachment = [0x00u8, 0x9f, 0x92, 0x96, 0xff];
    let mut envelope = format!(
        "{envelope_header}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
    .into_bytes();
    envelope.extend_from_slice(
        format!(
            "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"notes.txt\",\"content_type\":\"text/plain\"}}\n",
            text_attachment.len()
        )
        .as_bytes(),
    );
    envelope.extend_from_slice(text_attachment);
    envelope.extend_from_slice(
        format!(
            "\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"blob.bin\",\"content_type\":\"application/octet-stream\"}}\n",
            binary_attachment.len()
        )
        .as_bytes(),
    );
    envelope.extend_from_slice(&binary_attachment);
    envelope.push(b'\n');
    let reply = post(
        addr,
        "/api/1/envelope/",
        "application/x-sentry-envelope",
        &envelope,
    )
    .await;
    assert_eq!(reply.status, 200, "envelope: {}", reply.text());

    // 3. A legacy CSP report.
    let csp = json!({"csp-report": {
        "document-uri": "https://example.com/page",
        "violated-directive": "script-src",
        "blocked-uri": "https://evil.example/x.js",
    }});
    let reply = post(
        addr,
        "/api/1/security/",
        "application/csp-report",
        csp.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "csp report: {}", reply.text());

    // 4. A Reporting API list of two reports.
    let reports = json!([
        {"type": "csp-violation", "age": 10, "url": "https://example.com/a", "user_agent": "UA/1",
         "body": {"documentURL": "https://example.com/a", "effectiveDirective": "img-src", "blockedURL": "https://evil.example/a.png"}},
        {"type": "csp-violation", "age": 20, "url": "https://example.com/b", "user_agent": "UA/1",
         "body": {"documentURL": "https://example.com/b", "effectiveDirective": "style-src", "blockedURL": "https://evil.example/b.css"}},
    ]);
    let reply = post(
        addr,
        "/api/1/security/",
        "application/reports+json",
        reports.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "reporting api list: {}", reply.text());

    // The list: oldest first, one entry per item, exact bytes.
    let ids = listed_ids(addr).await;
    assert_eq!(
        ids.len(),
        7,
        "store 1 + envelope 3 + csp 1 + reports 2: {ids:?}"
    );
    for id in &ids {
        assert_kent_uuid(id);
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "every item has its own id: {ids:?}"
    );
    let expected = eventlist_text(&[
        (&ids[0], 1, r"store: gr\u00fc\u00dfe \ud83d\ude00"),
        (&ids[1], 1, "ValueError: bad value"),
        (&ids[2], 1, "attachment notes.txt (11 bytes)"),
        (&ids[3], 1, "attachment blob.bin (5 bytes)"),
        (&ids[4], 1, "csp-report: script-src"),
        (&ids[5], 1, "csp-report: img-src"),
        (&ids[6], 1, "csp-report: style-src"),
    ]);
    assert_eq!(kent_get(addr, "/api/eventlist/").await, expected);

    // The store event: nulls for the headers, the body as posted, keys sorted, ASCII only.
    let expected = format!(
        concat!(
            r#"{{"event_id":"{id}","payload":{{"body":{{"event_id":"{sid}","level":"error","#,
            r#""message":"store: gr\u00fc\u00dfe \ud83d\ude00","platform":"python"}},"#,
            r#""envelope_header":null,"header":null}},"project_id":1}}"#,
            "\n"
        ),
        id = ids[0],
        sid = store_id
    );
    assert_eq!(
        kent_get(addr, &format!("/api/event/{}", ids[0])).await,
        expected
    );

    // The envelope's event: envelope header and item header objects, `header.type` = event.
    let env_header = format!(
        r#"{{"event_id":"{envelope_id}","sdk":{{"name":"sentry.rust","version":"0.49.5"}}}}"#
    );
    let expected = format!(
        concat!(
            r#"{{"event_id":"{id}","payload":{{"body":{{"event_id":"{eid}","exception":{{"values":[{{"type":"ValueError","value":"bad value"}}]}},"level":"error"}},"#,
            r#""envelope_header":{env},"header":{{"length":{len},"type":"event"}}}},"project_id":1}}"#,
            "\n"
        ),
        id = ids[1],
        eid = envelope_id,
        env = env_header,
        len = event.len()
    );
    let text = kent_get(addr, &format!("/api/event/{}", ids[1])).await;
    assert_eq!(text, expected);
    let parsed: Value = serde_json::from_str(&text).expect("event JSON");
    assert_eq!(
        parsed["payload"]["header"]["type"],
        json!("event"),
        "what Kent consumers read"
    );

    // Attachments answer 200 (Kent: 500) with the bytes described as text or base64.
    let expected = format!(
        concat!(
            r#"{{"event_id":"{id}","payload":{{"body":{{"content_type":"text/plain","data":"hello\nworld","encoding":"utf-8","filename":"notes.txt","size":11}},"#,
            r#""envelope_header":{env},"header":{{"content_type":"text/plain","filename":"notes.txt","length":11,"type":"attachment"}}}},"project_id":1}}"#,
            "\n"
        ),
        id = ids[2],
        env = env_header
    );
    assert_eq!(
        kent_get(addr, &format!("/api/event/{}", ids[2])).await,
        expected
    );
    let expected = format!(
        concat!(
            r#"{{"event_id":"{id}","payload":{{"body":{{"content_type":"application/octet-stream","data":"AJ+Slv8=","encoding":"base64","filename":"blob.bin","size":5}},"#,
            r#""envelope_header":{env},"header":{{"content_type":"application/octet-stream","filename":"blob.bin","length":5,"type":"attachment"}}}},"project_id":1}}"#,
            "\n"
        ),
        id = ids[3],
        env = env_header
    );
    assert_eq!(
        kent_get(addr, &format!("/api/event/{}", ids[3])).await,
        expected
    );

    // Security reports: the legacy one and both list reports resolve, each to its own report.
    let posted = [csp.clone(), reports[0].clone(), reports[1].clone()];
    for (id, report) in ids[4..].iter().zip(posted) {
        let text = kent_get(addr, &format!("/api/event/{id}")).await;
        let parsed: Value = serde_json::from_str(&text).expect("event JSON");
        assert_eq!(parsed["event_id"], json!(id));
        assert_eq!(parsed["project_id"], json!(1));
        assert_eq!(parsed["payload"]["body"], report, "report {id}");
        assert_eq!(parsed["payload"]["envelope_header"], Value::Null);
        assert_eq!(parsed["payload"]["header"]["type"], json!("security"));
    }

    // Sentry event ids resolve too (Kent: only its own ids), with or without dashes; an event
    // is preferred over the attachments that share its id.
    assert_eq!(
        kent_get(addr, &format!("/api/event/{store_id}")).await,
        kent_get(addr, &format!("/api/event/{}", ids[0])).await
    );
    let dashed = uuid::Uuid::parse_str(&envelope_id)
        .expect("uuid")
        .hyphenated()
        .to_string()
        .to_ascii_uppercase();
    for lookup in [envelope_id.clone(), dashed] {
        let text = kent_get(addr, &format!("/api/event/{lookup}")).await;
        let parsed: Value = serde_json::from_str(&text).expect("event JSON");
        assert_eq!(
            parsed["event_id"],
            json!(ids[1]),
            "lookup by Sentry event id {lookup}"
        );
        assert_eq!(parsed["payload"]["header"]["type"], json!("event"));
    }

    // Flush: exact answer, then nothing is left.
    let reply = send(addr, "POST", "/api/flush/", &[], b"").await;
    assert_eq!(reply.status, 200, "flush: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), "{\"success\":true}\n");
    assert_eq!(kent_get(addr, "/api/eventlist/").await, "{\"events\":[]}\n");
    for id in &ids {
        assert_eq!(
            get(addr, &format!("/api/event/{id}")).await.status,
            404,
            "{id} survived the flush"
        );
    }
}

#[tokio::test]
async fn unknown_event_is_404_with_kents_body() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let reply = get(sentry.addr(), "/api/event/nope").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), "{\"error\":\"Event nope not found\"}\n");
}

#[tokio::test]
async fn kent_routes_redirect_and_methods() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    let reply = get(addr, "/api/eventlist").await;
    assert_eq!(
        reply.status,
        308,
        "eventlist without the slash: {}",
        reply.text()
    );
    assert_eq!(reply.header("location"), Some("/api/eventlist/"));
    let reply = get(addr, "/api/flush/").await;
    assert_eq!(
        reply.status,
        405,
        "flush is POST only (Kent 0.3+): {}",
        reply.text()
    );
    assert_eq!(
        kent_get(addr, "/api/eventlist/").await,
        "{\"events\":[]}\n",
        "a GET flush must not flush"
    );
}

#[tokio::test]
async fn flush_by_project_removes_only_that_project() {
    let sentry = FakeSentry::start().await.expect("start fake-sentry");
    let addr = sentry.addr();
    for (project, message) in [
        (1, "one"),
        (2, "two"),
        (3, "three"),
        (2, "two again"),
        (1, "one again"),
    ] {
        let event_id = new_event_id();
        let body = json!({"event_id": event_id, "message": message}).to_string();
        let reply = post(
            addr,
            &format!("/api/{project}/store/"),
            "application/json",
            body.as_bytes(),
        )
        .await;
        assert_eq!(
            reply.status,
            200,
            "store to project {project}: {}",
            reply.text()
        );
        assert_eq!(
            reply.json(),
            json!({"id": event_id}),
            "store answers like Relay"
        );
    }
    let before = listed_ids(addr).await;
    assert_eq!(before.len(), 5);

    let reply = send(addr, "POST", "/api/flush/?project=2", &[], b"").await;
    assert_eq!(reply.status, 200, "flush project 2: {}", reply.text());
    assert_eq!(reply.text(), "{\"success\":true}\n");

    let expected = eventlist_text(&[
        (&before[0], 1, "one"),
        (&before[2], 3, "three"),
        (&before[4], 1, "one again"),
    ]);
    assert_eq!(kent_get(addr, "/api/eventlist/").await, expected);
    for gone in [&before[1], &before[3]] {
        let reply = get(addr, &format!("/api/event/{gone}")).await;
        assert_eq!(
            reply.status, 404,
            "project 2 item {gone} survived its flush"
        );
    }
}

/// Kent's event endpoint re-serialises a JSON payload from a value tree, which takes about ten
/// times the text: a payload over `--ui-limit json_view_bytes` is given as text instead (as the
/// detail page shows it), so reading a 100 MiB JSON attachment does not cost a gigabyte.
#[tokio::test]
async fn large_json_payloads_are_given_as_text_not_re_serialised() {
    let sentry = FakeSentry::start_with(fake_sentry::config::Config {
        ui: fake_sentry::ui::UiLimits {
            json_view_bytes: 1024,
            ..Default::default()
        },
        ..fake_sentry::config::Config::ephemeral()
    })
    .await
    .expect("start");
    let addr = sentry.addr();
    let small = r#"{"b":1,"a":[true]}"#;
    let large = format!(r#"{{"blob":"{}"}}"#, "x".repeat(4096));
    let envelope = format!(
        "{{}}\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"small.json\",\"content_type\":\"application/json\"}}\n{small}\n\
         {{\"type\":\"attachment\",\"length\":{},\"filename\":\"large.json\",\"content_type\":\"application/json\"}}\n{large}\n",
        small.len(),
        large.len()
    );
    let reply = post(
        addr,
        "/api/1/envelope/",
        "application/x-sentry-envelope",
        envelope.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let ids = listed_ids(addr).await;
    assert_eq!(ids.len(), 2);
    let mut bodies = Vec::new();
    for id in &ids {
        let text = kent_get(addr, &format!("/api/event/{id}")).await;
        let event: Value = serde_json::from_str(&text).expect("event JSON");
        bodies.push(event["payload"]["body"].clone());
    }
    assert_eq!(
        bodies[0],
        json!({"a": [true], "b": 1}),
        "laid out, keys sorted"
    );
    assert_eq!(bodies[1]["encoding"], "utf-8");
    assert_eq!(bodies[1]["data"], large.as_str(), "every byte, as text");
    assert_eq!(bodies[1]["size"], large.len());
}
