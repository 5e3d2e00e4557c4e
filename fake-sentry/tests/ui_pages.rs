//! The web UI's HTML over a real socket, without a browser: every page answers with the right
//! status, the Content-Security-Policy and escaped payloads; each item type gets its view.
//!
//! What a page shows is an `insta` snapshot of its `<main>` element in `tests/snapshots/`, so a
//! change in a page is a diff to review. The rules (escaping, CSP, no inline script, status
//! codes) stay explicit asserts beside the snapshots.

mod support;

use fake_sentry::testing::FakeSentry;
use fake_sentry::ui::CONTENT_SECURITY_POLICY;
use serde_json::{Value, json};
use support::new_event_id;

struct Page {
    /// The path and query asked for, as the first line of the page's snapshot.
    path: String,
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
    let url = response.url();
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    Page {
        path,
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

/// The `<main>` element of a page: what the page says, without the head, the top bar and the
/// shortcut dialog that every page shares.
fn main_element(body: &str) -> &str {
    let start = body.find("<main id=\"main\">").expect("a <main> element");
    let end = body[start..].find("</main>").expect("</main>") + start;
    &body[start..end + "</main>".len()]
}

/// Snapshots of the pages of one server. Each volatile part of a page becomes a stable name:
/// the server's own address `[address]` (a DSN with another port would still differ), the ids
/// given to [`Snapshots::name`] their label (so a link still says which item it points to), any
/// other item id `[item-id]`, any event id `[event-id]`, and the times of today or yesterday
/// (when the items arrived, in RFC 3339 or the short form) `[received]`. Times from the test
/// events (1970, 2023) stay as they are.
struct Snapshots {
    settings: insta::Settings,
}

impl Snapshots {
    fn new(sentry: &FakeSentry) -> Self {
        let address = regex_literal(sentry.url().trim_start_matches("http://"));
        let mut settings = insta::Settings::clone_current();
        settings.set_omit_expression(true);
        settings.add_filter(&address, "[address]");
        Self { settings }
    }

    /// Shows `id` as `label` wherever it appears.
    fn name(mut self, id: &str, label: &str) -> Self {
        // Filters run in the order they were added: named ids before the catch-alls below.
        self.settings.add_filter(&regex_literal(id), label);
        self
    }

    /// Replaces what `regex` matches on every page of this test.
    fn filter(mut self, regex: &str, replacement: &str) -> Self {
        self.settings.add_filter(regex, replacement);
        self
    }

    fn assert(&self, name: &str, page: &Page) {
        let mut settings = self.settings.clone();
        settings.add_filter(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[item-id]",
        );
        settings.add_filter(r"\b[0-9a-f]{32}\b", "[event-id]");
        // An event id cut short by a `cell_chars` limit.
        settings.add_filter(r"\b[0-9a-f]{8,31}…", "[event-id]…");
        // Yesterday too: the test may have started before midnight UTC.
        let today = time::OffsetDateTime::now_utc().date();
        let yesterday = today.previous_day().expect("a day before today");
        settings.add_filter(
            &format!(
                r"({today}|{yesterday})[T ]\d{{2}}:\d{{2}}:\d{{2}}(\.\d+)?(Z|[+-]\d{{2}}:\d{{2}})?"
            ),
            "[received]",
        );
        // The client's headers as the fake shows them: reqwest asks for gzip only when another
        // crate in the build turns that feature on.
        settings.add_filter(r"\n<dt>accept-enc[^<]*</dt><dd>[^<]*</dd>", "");
        // Blank lines (the template's `{% if %}` lines) and trailing spaces dropped; indentation,
        // `<pre>` text included, kept.
        let text = format!(
            "GET {} -> {}\n\n{}",
            page.path,
            page.status,
            main_element(&page.body)
                .lines()
                .map(str::trim_end)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        );
        settings.bind(|| insta::assert_snapshot!(name, text));
    }
}

/// `text` as a regex that matches only itself.
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = !c.is_ascii_alphanumeric() && c != '-' && c != '_';
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
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
    // The DSN, the setup help and the empty-list note.
    Snapshots::new(&sentry).assert("empty_list", &page);
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

    let snapshots = Snapshots::new(&sentry);
    let page = get(&format!("{}/", sentry.url())).await;
    assert_html(&page);
    assert!(page.body.contains(ESCAPED), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));
    // Both rows, and a DSN per project.
    snapshots.assert("list_two_projects", &page);

    // Only project 2's row; the hostile environment is still offered as a filter suggestion,
    // escaped, and the live stream carries the filter (and not the empty fields).
    let filtered = get(&format!("{}/?project=2&level=&q=", sentry.url())).await;
    assert_eq!(filtered.status, 200);
    snapshots.assert("list_filtered_by_project", &filtered);

    // Only the hostile row: its payload holds the word.
    let searched = get(&format!("{}/?q=onerror", sentry.url())).await;
    assert_eq!(searched.status, 200);
    snapshots.assert("list_searched", &searched);

    let bad = get(&format!("{}/?project=abc", sentry.url())).await;
    assert_eq!(bad.status, 400);
    assert_html(&bad);
    snapshots.assert("list_bad_project", &bad);
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
    let snapshots = Snapshots::new(&sentry);
    // Messages 4 and 3, and a link to the older page.
    let first = get(&format!("{}/?limit=2", sentry.url())).await;
    snapshots.assert("list_first_page", &first);
    let older = first
        .body
        .split("href=\"/?")
        .filter_map(|s| s.split('"').next())
        .find(|q| q.contains("before="))
        .expect("an older link")
        .replace("&#38;", "&");
    // Messages 2 and 1, a link back to the first page, and no live updates.
    let second = get(&format!("{}/?{older}", sentry.url())).await;
    assert_eq!(second.status, 200);
    snapshots.assert("list_second_page", &second);
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
    let attachment = newest_id(&sentry).await;
    let snapshots = Snapshots::new(&sentry)
        .name(id, "[event-item]")
        .name(&attachment, "[attachment-item]");

    let page = get(&format!("{}/items/{id}", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    let body = &page.body;
    assert!(!body.contains("<img src=x"), "unescaped payload");
    assert!(
        body.matches(ESCAPED).count() >= 6,
        "escaped everywhere: {body}"
    );
    // Exceptions with their frames, threads, breadcrumbs, contexts, request, SDK, the item and
    // envelope headers, the raw JSON, and a download link for the attachment beside it.
    snapshots.assert("detail_event", &page);

    // The attachment's hex dump.
    let attachment_page = get(&format!("{}/items/{attachment}", sentry.url())).await;
    assert_eq!(attachment_page.status, 200);
    snapshots.assert("detail_binary_attachment", &attachment_page);

    let missing = get(&format!("{}/items/does-not-exist", sentry.url())).await;
    assert_eq!(missing.status, 404);
    assert_html(&missing);
    snapshots.assert("detail_missing", &missing);
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

    let snapshots = items
        .iter()
        .fold(Snapshots::new(&sentry), |snapshots, item| {
            snapshots.name(&item.id, &format!("[{}-item]", item.item_type))
        });
    // Each view, and the hostile text escaped in it. The transaction's span starts half way
    // through it and lasts a quarter of it (250 ms).
    for (item_type, snapshot) in [
        ("transaction", "detail_transaction"),
        ("log", "detail_log"),
        ("client_report", "detail_client_report"),
        ("check_in", "detail_check_in"),
        ("mystery", "detail_unknown_type"),
        ("security", "detail_security_report"),
    ] {
        let page = detail(item_type).await;
        assert_eq!(page.status, 200, "{item_type}");
        assert_html(&page);
        assert!(!page.body.contains("<img src=x"), "{item_type} unescaped");
        if item_type != "client_report" && item_type != "check_in" {
            assert!(page.body.contains(ESCAPED), "{item_type} escaped");
        }
        snapshots.assert(snapshot, &page);
    }
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

    let snapshots = Snapshots::new(&sentry)
        .name(a, "[older]")
        .name(b, "[newer]");

    // One added (user), one removed (extra), one changed (tags.a, escaped).
    let page = get(&format!("{}/compare?a={a}&b={b}", sentry.url())).await;
    assert_eq!(page.status, 200);
    assert_html(&page);
    assert!(page.body.contains(ESCAPED) && !page.body.contains("<img src=x"));
    snapshots.assert("compare", &page);
    // Two ticked rows from the list (newest first) compare older against newer.
    let picked = get(&format!("{}/compare?pick={b}&pick={a}", sentry.url())).await;
    assert_eq!(picked.status, 200);
    assert_eq!(main_element(&picked.body), main_element(&page.body));
    let one = get(&format!("{}/compare?pick={a}", sentry.url())).await;
    assert_eq!(one.status, 400);
    snapshots.assert("compare_one_picked", &one);
    let missing = get(&format!("{}/compare?a={a}&b=nope", sentry.url())).await;
    assert_eq!(missing.status, 404);
    let empty = get(&format!("{}/compare", sentry.url())).await;
    assert_eq!(empty.status, 200);
    snapshots.assert("compare_form", &empty);
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

    // Everything, or one project with its count.
    let form = get(&format!("{}/flush", sentry.url())).await;
    assert_html(&form);
    Snapshots::new(&sentry).assert("flush_form", &form);

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
    assert!(page.body.contains(ESCAPED) && !page.body.contains("<img src=x"));
    // The status, the reason and the start of the body.
    Snapshots::new(&sentry).assert("refusals", &page);
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

    let snapshots = Snapshots::new(&sentry).name(&id, "[boom-item]");

    // The newest three frames, then a note for the seven older ones; the exception value cut at
    // 10 characters; the two breadcrumbs nearest the event, and a note for the older one.
    let detail = get(&format!("{}/items/{id}", sentry.url())).await;
    assert_eq!(detail.status, 200);
    snapshots.assert("limited_detail", &detail);

    // Two rows per list page unless ?limit= asks for more; summaries cut at 8 characters.
    let list = get(&format!("{}/", sentry.url())).await;
    let linked: std::collections::BTreeSet<&str> = list
        .body
        .split("href=\"/items/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(linked.len(), 2, "{linked:?}");
    snapshots.assert("limited_list", &list);
    let list = get(&format!("{}/?limit=3", sentry.url())).await;
    snapshots.assert("limited_list_asking_for_three", &list);

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
    let snapshots = snapshots
        .name(&attachment, "[big-json-item]")
        // Whole: the text view does not cut the note.
        .filter(r"\bn{3000}\b", "[3000 times n]");
    let detail = get(&format!("{}/items/{attachment}", sentry.url())).await;
    assert_eq!(detail.status, 200);
    snapshots.assert("limited_big_json_attachment", &detail);
    let compared = get(&format!("{}/compare?a={attachment}&b={id}", sentry.url())).await;
    assert_eq!(compared.status, 400);
    snapshots.assert("limited_compare_refused", &compared);

    // The raw payload is whole.
    let raw = reqwest::get(format!("{}/api/items/{id}/raw", sentry.url()))
        .await
        .expect("raw")
        .text()
        .await
        .expect("raw body");
    assert!(raw.contains("frame_fn_0") && raw.contains("a value far longer than ten"));
}
