//! The web UI's HTML over a real socket, without a browser: every page answers with the right
//! status, the Content-Security-Policy and escaped payloads; each item type gets its view.

mod support;

use fake_sentry::testing::FakeSentry;
use fake_sentry::ui::CONTENT_SECURITY_POLICY;
use serde_json::{Value, json};
use support::new_event_id;

struct Page {
    status: u16,
    csp: Option<String>,
    content_type: String,
    body: String,
}

async fn get(url: &str) -> Page {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    page(response).await
}

async fn page(response: reqwest::Response) -> Page {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Page {
        status: response.status().as_u16(),
        csp: header("content-security-policy"),
        content_type: header("content-type").unwrap_or_default(),
        body: response.text().await.expect("body"),
    }
}

fn assert_html(page: &Page) {
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert_eq!(page.csp.as_deref(), Some(CONTENT_SECURITY_POLICY));
    // Nothing inline: the one script is the static file.
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
    assert!(
        page.body
            .contains("<script src=\"/static/app.js\" defer></script>")
    );
    assert!(!page.body.contains(" style=\""), "inline style on the page");
}

async fn post_items(sentry: &FakeSentry, project: u64, items: &[(Value, Vec<u8>)]) {
    let mut body = format!("{}\n", json!({"event_id": new_event_id()})).into_bytes();
    for (header, payload) in items {
        let mut header = header.clone();
        header["length"] = json!(payload.len());
        body.extend_from_slice(format!("{header}\n").as_bytes());
        body.extend_from_slice(payload);
        body.push(b'\n');
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/{project}/envelope/", sentry.url()))
        .header(
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_client=ui-test/1.0",
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
}

async fn post_event(sentry: &FakeSentry, project: u64, event: Value) {
    post_items(
        sentry,
        project,
        &[(json!({"type": "event"}), event.to_string().into_bytes())],
    )
    .await;
}

/// The id of the newest item.
async fn newest_id(sentry: &FakeSentry) -> String {
    let list = support::get_json(&format!("{}/api/items/?limit=1", sentry.url())).await;
    list["items"][0]["id"].as_str().expect("id").to_string()
}

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
/// How askama escapes [`HOSTILE`] (numeric character references).
const ESCAPED: &str =
    "&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=x onerror=alert(2)&#62;";

#[tokio::test]
async fn empty_list_page_shows_dsn_and_setup_help() {
    let sentry = FakeSentry::start().await.expect("start");
    let page = get(&format!("{}/", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    assert!(page.body.contains(&sentry.dsn(1)), "DSN shown");
    assert!(page.body.contains("Point your SDK here"));
    assert!(page.body.contains("Nothing captured yet"));
    // The JSON index moved to /api/.
    let index = support::get_json(&format!("{}/api/", sentry.url())).await;
    assert_eq!(index["service"], "fake-sentry");
}

#[tokio::test]
async fn list_escapes_payloads_and_filters() {
    let sentry = FakeSentry::start().await.expect("start");
    post_event(
        &sentry,
        1,
        json!({"message": HOSTILE, "level": "error", "environment": HOSTILE}),
    )
    .await;
    post_event(
        &sentry,
        2,
        json!({"message": "plain message", "level": "info"}),
    )
    .await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");

    let page = get(&format!("{}/", sentry.url())).await;
    assert_html(&page);
    assert!(page.body.contains(ESCAPED), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("plain message"));
    assert!(page.body.contains(&sentry.dsn(2)), "a DSN per project");

    let filtered = get(&format!("{}/?project=2&level=&q=", sentry.url())).await;
    assert_eq!(filtered.status, 200);
    assert!(filtered.body.contains("plain message"));
    // (The hostile environment is still offered as a filter suggestion, escaped.)
    assert!(!filtered.body.contains(&format!(">{ESCAPED}</a>")));
    // The live stream carries the filter (and not the empty fields).
    assert!(
        filtered
            .body
            .contains("data-stream=\"/api/items/stream/?project=2&#38;after="),
        "{}",
        filtered.body
    );

    let searched = get(&format!("{}/?q=onerror", sentry.url())).await;
    assert!(searched.body.contains(&format!(">{ESCAPED}</a>")));
    assert!(!searched.body.contains("plain message"));

    let bad = get(&format!("{}/?project=abc", sentry.url())).await;
    assert_eq!(bad.status, 400);
    assert_html(&bad);
    assert!(bad.body.contains("project must be a number"));
    let bad_time = get(&format!("{}/?since=yesterday", sentry.url())).await;
    assert_eq!(bad_time.status, 400);
}

#[tokio::test]
async fn list_pages_with_a_cursor() {
    let sentry = FakeSentry::start().await.expect("start");
    for n in 0..5 {
        post_event(
            &sentry,
            1,
            json!({"message": format!("message number {n}")}),
        )
        .await;
    }
    sentry
        .wait_for(Default::default(), 5)
        .await
        .expect("stored");
    let first = get(&format!("{}/?limit=2", sentry.url())).await;
    assert!(first.body.contains("message number 4") && first.body.contains("message number 3"));
    assert!(!first.body.contains("message number 2"));
    let older = first
        .body
        .split("href=\"/?")
        .filter_map(|s| s.split('"').next())
        .find(|q| q.contains("before="))
        .expect("an older link")
        .replace("&#38;", "&");
    let second = get(&format!("{}/?{older}", sentry.url())).await;
    assert!(second.body.contains("message number 2") && second.body.contains("message number 1"));
    assert!(!second.body.contains("message number 4"));
    assert!(
        second.body.contains("Newest"),
        "a link back to the first page"
    );
}

#[tokio::test]
async fn event_detail_shows_every_part_escaped() {
    let sentry = FakeSentry::start().await.expect("start");
    let event = json!({
        "event_id": new_event_id(), "level": "error", "platform": "python", "release": "r1",
        "exception": {"values": [
            {"type": "KeyError", "value": "cause"},
            {"type": "ValueError", "value": HOSTILE, "mechanism": {"type": "generic", "handled": false},
             "stacktrace": {"frames": [
                {"function": "main", "module": "app", "filename": "app.py", "lineno": 10, "in_app": true},
                {"function": "helper", "filename": "lib.py", "lineno": 20, "in_app": false,
                 "pre_context": ["a = 1"], "context_line": "raise ValueError(x)", "post_context": ["# end"],
                 "vars": {"x": HOSTILE}}
             ]}}
        ]},
        "threads": {"values": [{"id": 1, "name": "MainThread", "crashed": true}]},
        "breadcrumbs": {"values": [{"timestamp": 1.7e9, "category": "http", "message": HOSTILE}]},
        "tags": [["browser", HOSTILE]],
        "contexts": {"os": {"name": "Linux"}, "runtime": {"name": "CPython", "version": "3.11"}},
        "user": {"id": "42", "email": HOSTILE},
        "request": {"method": "POST", "url": "http://shop/checkout?x=1", "query_string": "a=1",
                    "headers": {"Cookie": "s=1"}, "cookies": "s=1; t=2"},
        "sdk": {"name": "sentry.python", "version": "2.75.0", "integrations": ["django"],
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}]},
        "extra": {"note": HOSTILE}
    });
    post_items(
        &sentry,
        1,
        &[
            (json!({"type": "event"}), event.to_string().into_bytes()),
            (
                json!({"type": "attachment", "filename": "<b>x</b>.bin"}),
                b"\x00\x01binary".to_vec(),
            ),
        ],
    )
    .await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");
    let list = support::get_json(&format!("{}/api/items/?type=event", sentry.url())).await;
    let id = list["items"][0]["id"].as_str().expect("id");

    let page = get(&format!("{}/items/{id}", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    let body = &page.body;
    assert!(!body.contains("<img src=x"), "unescaped payload");
    assert!(
        body.matches(ESCAPED).count() >= 6,
        "escaped everywhere: {body}"
    );
    for expected in [
        "ValueError",
        "KeyError",
        "unhandled",
        "<span class=\"fn\">helper</span>",
        "lib.py:20",
        "frame in-app",
        "raise ValueError(x)",
        "MainThread",
        "Breadcrumbs",
        "Context: runtime",
        "CPython",
        "http://shop/checkout?x=1",
        "pypi:sentry-sdk 2.75.0",
        "django",
        "&#60;b&#62;x&#60;/b&#62;.bin",
        "Item header",
        "Envelope header",
        "id=\"raw-json\"",
    ] {
        assert!(body.contains(expected), "missing {expected:?}");
    }
    // The attachment beside it has a download link.
    let attachment = newest_id(&sentry).await;
    assert!(body.contains(&format!("/api/items/{attachment}/raw")));
    let attachment_page = get(&format!("{}/items/{attachment}", sentry.url())).await;
    assert_eq!(attachment_page.status, 200);
    assert!(
        attachment_page
            .body
            .contains("00000000  00 01 62 69 6e 61 72 79")
    );

    let missing = get(&format!("{}/items/does-not-exist", sentry.url())).await;
    assert_eq!(missing.status, 404);
    assert_html(&missing);
}

#[tokio::test]
async fn other_item_types_have_their_views() {
    let sentry = FakeSentry::start().await.expect("start");
    let transaction = json!({"type": "transaction", "transaction": "GET /shop",
        "start_timestamp": 100.0, "timestamp": 101.0,
        "contexts": {"trace": {"span_id": "r", "trace_id": "t", "op": "http.server"}},
        "spans": [{"span_id": "a", "parent_span_id": "r", "op": "db.query", "description": HOSTILE,
                   "start_timestamp": 100.5, "timestamp": 100.75}]});
    let logs = json!({"items": [{"timestamp": 100.0, "level": "warn", "body": HOSTILE,
        "attributes": {"user": {"value": "u1", "type": "string"}}}]});
    let report = json!({"timestamp": 100.0, "discarded_events": [
        {"reason": "ratelimit_backoff", "category": "error", "quantity": 3}]});
    let check_in =
        json!({"check_in_id": "c1", "monitor_slug": "nightly", "status": "ok", "duration": 1.5});
    post_items(
        &sentry,
        1,
        &[
            (json!({"type": "transaction"}), transaction.to_string().into_bytes()),
            (json!({"type": "log", "item_count": 1, "content_type": "application/vnd.sentry.items.log+json"}), logs.to_string().into_bytes()),
            (json!({"type": "client_report"}), report.to_string().into_bytes()),
            (json!({"type": "check_in"}), check_in.to_string().into_bytes()),
            (json!({"type": "mystery"}), HOSTILE.as_bytes().to_vec()),
        ],
    )
    .await;
    let csp = json!({"csp-report": {"document-uri": "http://shop/", "violated-directive": "script-src",
        "blocked-uri": HOSTILE}});
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/1/security/?sentry_key=public",
            sentry.url()
        ))
        .header("content-type", "application/csp-report")
        .body(csp.to_string())
        .send()
        .await
        .expect("post csp");
    assert_eq!(response.status(), 200);
    let items = sentry
        .wait_for(Default::default(), 6)
        .await
        .expect("stored");
    let by_type = |t: &str| {
        items
            .iter()
            .find(|i| i.item_type == t)
            .unwrap_or_else(|| panic!("no {t}"))
            .id
            .clone()
    };
    let detail = |t: &str| {
        let url = format!("{}/items/{}", sentry.url(), by_type(t));
        async move { get(&url).await }
    };

    let tx = detail("transaction").await;
    assert_html(&tx);
    assert!(
        tx.body
            .contains("<rect x=\"50.000%\" y=\"2\" width=\"25.000%\""),
        "{}",
        tx.body
    );
    assert!(tx.body.contains("250.0 ms") && tx.body.contains(ESCAPED));
    let log = detail("log").await;
    assert!(log.body.contains("user=u1") && log.body.contains(ESCAPED));
    let report = detail("client_report").await;
    assert!(report.body.contains("ratelimit_backoff"));
    let check_in = detail("check_in").await;
    assert!(check_in.body.contains("nightly"));
    let unknown = detail("mystery").await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.body.contains(ESCAPED) && !unknown.body.contains("<img src=x"));
    let security = detail("security").await;
    assert!(security.body.contains("violated-directive") && security.body.contains("script-src"));
    assert!(security.body.contains(ESCAPED));
}

#[tokio::test]
async fn compare_shows_the_structural_difference() {
    let sentry = FakeSentry::start().await.expect("start");
    post_event(
        &sentry,
        1,
        json!({"message": "m", "tags": {"a": "1"}, "extra": {"gone": true}}),
    )
    .await;
    post_event(
        &sentry,
        1,
        json!({"message": "m", "tags": {"a": HOSTILE}, "user": {"id": 7}}),
    )
    .await;
    let items = sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");
    let (a, b) = (&items[0].id, &items[1].id);

    let page = get(&format!("{}/compare?a={a}&b={b}", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    assert!(
        page.body.contains("1 added")
            && page.body.contains("1 removed")
            && page.body.contains("1 changed"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<code>tags.a</code>") && page.body.contains(ESCAPED));
    // Two ticked rows from the list (newest first) compare older against newer.
    let picked = get(&format!("{}/compare?pick={b}&pick={a}", sentry.url())).await;
    assert!(picked.body.contains("1 added"), "{}", picked.body);
    let one = get(&format!("{}/compare?pick={a}", sentry.url())).await;
    assert_eq!(one.status, 400);
    let missing = get(&format!("{}/compare?a={a}&b=nope", sentry.url())).await;
    assert_eq!(missing.status, 404);
    let empty = get(&format!("{}/compare", sentry.url())).await;
    assert_eq!(empty.status, 200);
}

#[tokio::test]
async fn flush_needs_confirmation_and_the_same_origin() {
    let sentry = FakeSentry::start().await.expect("start");
    post_event(&sentry, 1, json!({"message": "one"})).await;
    post_event(&sentry, 2, json!({"message": "two"})).await;
    sentry
        .wait_for(Default::default(), 2)
        .await
        .expect("stored");

    let form = get(&format!("{}/flush", sentry.url())).await;
    assert_html(&form);
    assert!(form.body.contains("Project 2 only (1 items)"));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = format!("{}/flush", sentry.url());
    let form = |body: &'static str| {
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let unconfirmed = form("project=2").send().await.expect("post");
    assert_eq!(unconfirmed.status(), 400);
    let cross_site = form("project=2&confirm=yes")
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(cross_site.status(), 403);
    let stats = support::get_json(&format!("{}/api/stats/", sentry.url())).await;
    assert_eq!(stats["items"], 2, "refused flushes delete nothing");

    let flushed = form("project=2&confirm=yes")
        .header("origin", sentry.url())
        .send()
        .await
        .expect("post");
    assert_eq!(flushed.status(), 303);
    assert_eq!(flushed.headers()["location"], "/?flushed=1");
    let stats = support::get_json(&format!("{}/api/stats/", sentry.url())).await;
    assert_eq!(stats["items"], 1);
    let after = get(&format!("{}/?flushed=1", sentry.url())).await;
    assert!(after.body.contains("Flushed 1 items."));
}

#[tokio::test]
async fn refusals_page_lists_status_and_reason() {
    let sentry = FakeSentry::start().await.expect("start");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/1/envelope/?sentry_key=public",
            sentry.url()
        ))
        .body(format!(
            "{{\"event_id\":\"x\"}}\n{{\"type\":\"event\",\"length\":999}}\n{HOSTILE}"
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    let page = get(&format!("{}/refusals", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    assert!(page.body.contains("status-400"));
    assert!(
        page.body.contains("invalid event envelope"),
        "{}",
        page.body
    );
    assert!(page.body.contains(ESCAPED) && !page.body.contains("<img src=x"));
}

#[tokio::test]
async fn static_files_are_embedded() {
    let sentry = FakeSentry::start().await.expect("start");
    let js = get(&format!("{}/static/app.js", sentry.url())).await;
    assert_eq!(js.status, 200);
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(js.body.contains("EventSource"));
    assert!(
        !js.body.contains("innerHTML"),
        "the script never parses data as HTML"
    );
    let css = get(&format!("{}/static/app.css", sentry.url())).await;
    assert!(css.content_type.starts_with("text/css"));
    assert!(css.body.contains("prefers-color-scheme: dark"));
    let missing = get(&format!("{}/static/nope.js", sentry.url())).await;
    assert_eq!(missing.status, 404);
}

/// `--ui-limit` settings bound what the pages show, and nothing else: the raw link still has
/// every byte.
#[tokio::test]
async fn pages_show_what_the_ui_limits_allow() {
    let sentry = FakeSentry::start_with(fake_sentry::config::Config {
        ui: fake_sentry::ui::UiLimits {
            frames: 3,
            breadcrumbs: 2,
            cell_chars: 10,
            json_view_bytes: 2048,
            summary_chars: 8,
            page: 2,
            ..Default::default()
        },
        ..fake_sentry::config::Config::ephemeral()
    })
    .await
    .expect("start");
    let frames: Vec<Value> = (0..10)
        .map(|i| json!({"function": format!("frame_fn_{i}"), "filename": "app.py"}))
        .collect();
    post_event(
        &sentry,
        1,
        json!({"exception": {"values": [{"type": "Boom", "value": "a value far longer than ten",
                                         "stacktrace": {"frames": frames}}]},
               "breadcrumbs": {"values": [{"message": "crumb-a"}, {"message": "crumb-b"},
                                          {"message": "crumb-c"}]}}),
    )
    .await;
    for n in 0..2 {
        post_event(&sentry, 1, json!({"message": format!("filler {n}")})).await;
    }
    sentry
        .wait_for(Default::default(), 3)
        .await
        .expect("stored");
    let list = support::get_json(&format!("{}/api/items/?type=event", sentry.url())).await;
    let id = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["summary"].as_str().is_some_and(|s| s.starts_with("Boom")))
        .and_then(|i| i["id"].as_str())
        .expect("the exception event")
        .to_string();

    let detail = get(&format!("{}/items/{id}", sentry.url())).await;
    assert_eq!(detail.status, 200);
    // The newest three frames, then a note for the seven older ones.
    for shown in ["frame_fn_9", "frame_fn_8", "frame_fn_7"] {
        assert!(
            detail.body.contains(&format!(">{shown}<")),
            "{shown} missing"
        );
    }
    assert!(
        !detail.body.contains(">frame_fn_6<"),
        "a fourth frame shown"
    );
    assert!(detail.body.contains("7 older frames not shown"));
    assert!(
        detail.body.contains(">a value fa…<"),
        "the cell is cut at 10 characters"
    );
    // The two breadcrumbs nearest the event, and a note for the older one.
    assert!(detail.body.contains(">crumb-b<") && detail.body.contains(">crumb-c<"));
    assert!(!detail.body.contains(">crumb-a<"));
    assert!(detail.body.contains("1 older breadcrumbs not shown"));

    // Two rows per list page unless ?limit= asks for more; summaries cut at 8 characters.
    let list = get(&format!("{}/", sentry.url())).await;
    let linked: std::collections::BTreeSet<&str> = list
        .body
        .split("href=\"/items/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(linked.len(), 2, "{linked:?}");
    assert!(list.body.contains("filler 1") && list.body.contains("filler 0"));
    assert!(!list.body.contains("Boom"), "a third row on the first page");
    let list = get(&format!("{}/?limit=3", sentry.url())).await;
    assert!(list.body.contains("Boom: a …"), "{}", list.body);

    // A JSON attachment over json_view_bytes is shown as text, and cannot be compared.
    let document = format!(
        r#"{{"note": "{}", "tail": "json-tail-marker"}}"#,
        "n".repeat(3000)
    );
    post_items(
        &sentry,
        1,
        &[(
            json!({"type": "attachment", "content_type": "application/json", "filename": "big.json"}),
            document.into_bytes(),
        )],
    )
    .await;
    let attachment = newest_id(&sentry).await;
    let detail = get(&format!("{}/items/{attachment}", sentry.url())).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("id=\"json-too-large\""));
    assert!(detail.body.contains("json-tail-marker"), "shown as text");
    let compared = get(&format!("{}/compare?a={attachment}&b={id}", sentry.url())).await;
    assert_eq!(compared.status, 400);
    assert!(
        compared.body.contains("json_view_bytes=2048"),
        "{}",
        compared.body
    );

    // The raw payload is whole.
    let raw = reqwest::get(format!("{}/api/items/{id}/raw", sentry.url()))
        .await
        .expect("raw")
        .text()
        .await
        .expect("raw body");
    assert!(raw.contains("frame_fn_0") && raw.contains("a value far longer than ten"));
}
