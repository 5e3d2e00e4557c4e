//! The trace pages over a real socket, without a browser: `/traces` lists the traces with
//! their root, exact duration, services and counts, filters and pages them; `/traces/{id}` is
//! one waterfall across services with errors and logs pinned on their spans; item pages link to
//! their trace. Hostile names stay text everywhere.

mod support;

use fake_sentry::testing::FakeSentry;
use fake_sentry::ui::CONTENT_SECURITY_POLICY;
use serde_json::Value;
use support::envelopes::post;
use support::get_json;
use support::trace_envelopes::{TraceSpec, lone_transaction, send};

const T: &str = "0af7651916cd43dd8448eb211c80319c";
const U: &str = "1bf7651916cd43dd8448eb211c80319d";
const START: f64 = 1_700_000_000.0;

struct Page {
    status: u16,
    csp: Option<String>,
    body: String,
}

async fn get(url: &str) -> Page {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Page {
        status: response.status().as_u16(),
        csp,
        body: response.text().await.expect("body"),
    }
}

/// GETs a page that must answer 200 with the UI's policy and no script but the UI's own.
async fn html(url: &str) -> String {
    let page = get(url).await;
    assert_eq!(page.status, 200, "GET {url}: {}", page.body);
    assert_eq!(page.csp.as_deref(), Some(CONTENT_SECURITY_POLICY));
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
    assert!(!page.body.contains(" style=\""), "inline style on {url}");
    page.body
}

/// The `<main>` element of a page (the top bar has the UI's own logo `<img>`).
fn main_element(body: &str) -> &str {
    let start = body.find("<main id=\"main\">").expect("a <main> element");
    let end = body[start..].find("</main>").expect("</main>") + start;
    &body[start..end]
}

/// The `data-trace` ids of the list's rows, top to bottom.
fn listed(body: &str) -> Vec<String> {
    body.split("data-trace=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').expect("closing quote")].to_string())
        .collect()
}

/// The list row of trace `id`.
fn row<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("data-trace=\"{id}\""))
        .unwrap_or_else(|| panic!("no row for {id}"));
    let end = body[start..].find("</tr>").expect("</tr>") + start;
    &body[start..end]
}

/// The waterfall's rows: (depth, the row's HTML).
fn waterfall(body: &str) -> Vec<(usize, &str)> {
    body.split("<li class=\"wf-row")
        .skip(1)
        .map(|rest| {
            let depth = rest
                .split("data-depth=\"")
                .nth(1)
                .and_then(|d| d[..d.find('"')?].parse().ok())
                .expect("data-depth");
            // Up to the next row (a row's pins are a nested list).
            (depth, rest)
        })
        .collect()
}

fn description(row: &str) -> &str {
    let at = row.find("class=\"desc\"").expect("a description link");
    let text = &row[at..];
    let start = text.find('>').expect(">") + 1;
    let end = text.find("</a>").expect("</a>");
    &text[start..end]
}

async fn item_id(base: &str, trace: &str, item_type: &str) -> String {
    let list = get_json(&format!(
        "{base}/api/items/?trace_id={trace}&type={item_type}"
    ))
    .await;
    list["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {item_type} in {trace}: {list}"))
        .to_string()
}

#[tokio::test]
async fn trace_list_shows_filters_and_pages_traces() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send(&base, &TraceSpec::new(T, START)).await;
    post(
        &base,
        1,
        lone_transaction(U, "nightly cleanup", "task", START + 60.0, 0.25),
    )
    .await;

    let body = html(&format!("{base}/traces")).await;
    assert_eq!(listed(&body), [U, T], "newest first");
    assert!(body.contains("<a href=\"/traces\">Traces</a>"), "nav link");
    let t = row(&body, T);
    assert!(
        t.contains("<span class=\"root-name\">GET /checkout</span>"),
        "{t}"
    );
    assert!(t.contains("http.server"), "{t}");
    assert!(t.contains("<td class=\"dur\">1,234.567 ms</td>"), "{t}");
    assert!(
        t.contains("project 1 · sentry.javascript.node · shop@2.3.1"),
        "{t}"
    );
    assert!(
        t.contains("project 2 · sentry.python · payments@1.4.0"),
        "{t}"
    );
    assert!(t.contains("<td class=\"num spans\">4</td>"), "{t}");
    assert!(
        t.contains("<span class=\"badge unhandled\">1</span>"),
        "{t}"
    );
    assert!(t.contains("<td class=\"num logs\">2</td>"), "{t}");
    assert!(t.contains("2023-11-14 22:13:20"), "start time: {t}");
    assert!(t.contains(&format!("href=\"/traces/{T}\"")), "{t}");
    let u = row(&body, U);
    assert!(u.contains("<td class=\"dur\">250.000 ms</td>"), "{u}");
    assert!(u.contains("<td class=\"num errors\">0</td>"), "{u}");
    // Live on the first page: the stream starts after the newest item.
    assert!(body.contains("id=\"trace-live\""), "{body}");
    assert!(body.contains("data-stream=\"/api/items/stream/?after="));

    for (query, want) in [
        ("sdk=sentry.javascript.node", vec![T]),
        ("sdk=sentry.python", vec![U, T]),
        ("release=payments%401.4.0", vec![T]),
        ("environment=staging", vec![U]),
        ("project=2", vec![T]),
        ("q=checkout", vec![T]),
        ("q=CLEANUP", vec![U]),
        ("errors=with", vec![T]),
        ("errors=without", vec![U]),
        ("since=0", vec![U, T]),
        ("until=0", vec![]),
        ("project=&sdk=&q=&errors=", vec![U, T]),
    ] {
        let body = html(&format!("{base}/traces?{query}")).await;
        assert_eq!(listed(&body), want, "{query}");
        if want.is_empty() {
            assert!(body.contains("No traces match these filters."), "{query}");
        }
    }
    // The form keeps what was asked.
    let body = html(&format!("{base}/traces?q=checkout&errors=with")).await;
    assert!(body.contains("name=\"q\" value=\"checkout\""));
    assert!(body.contains("<option value=\"with\" selected>"));

    // Pages by cursor, keeping the filters; live updates only on the first.
    let first = html(&format!("{base}/traces?limit=1&since=0")).await;
    assert_eq!(listed(&first), [U]);
    let older = first
        .split("id=\"older\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("an older link")
        .replace("&#38;", "&");
    assert!(
        older.contains("since=0") && older.contains("before="),
        "{older}"
    );
    let second = html(&format!("{base}{older}")).await;
    assert_eq!(listed(&second), [T], "{older}");
    assert!(!second.contains("id=\"older\""));
    assert!(!second.contains("id=\"trace-live\""));
    assert!(second.contains("« Newest"));

    for bad in ["errors=maybe", "project=x", "since=yesterday", "limit=-1"] {
        let page = get(&format!("{base}/traces?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

#[tokio::test]
async fn empty_trace_list_says_how_to_get_one() {
    let sentry = FakeSentry::start().await.expect("start");
    let body = html(&format!("{}/traces", sentry.url())).await;
    assert!(listed(&body).is_empty());
    assert!(body.contains("No traces yet."), "{body}");
}

#[tokio::test]
async fn one_waterfall_nests_every_service_with_pinned_errors_and_logs() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send(&base, &TraceSpec::new(T, START)).await;
    let error_id = item_id(&base, T, "event").await;
    let log_id = item_id(&base, T, "log").await;
    let profile_id = item_id(&base, T, "profile").await;

    let body = html(&format!("{base}/traces/{}", T.to_uppercase())).await;
    let rows = waterfall(&body);
    let shape: Vec<(usize, &str)> = rows.iter().map(|(d, r)| (*d, description(r))).collect();
    assert_eq!(
        shape,
        [
            (0, "GET /checkout"),
            (1, "session"),
            (1, "SELECT 1"),
            (1, "POST http://payments/charge"),
            (2, "POST /charge"),
            (3, "SELECT * FROM cards WHERE id = %s"),
        ],
        "nested by parent span, children by start"
    );
    let durations: Vec<&str> = rows
        .iter()
        .map(|(_, r)| {
            let at = r.find("<span class=\"wf-dur\">").expect("duration") + 21;
            r[at..].split(" ms").next().expect("ms")
        })
        .collect();
    assert_eq!(
        durations,
        [
            "1,234.567",
            "0.001",
            "30.000",
            "800.000",
            "650.000",
            "50.000"
        ],
        "exact, the tiny span not rounded away"
    );
    // Bars by exact start and duration: the root spans the axis; the call starts at
    // 100 ms of 1,234.567 ms.
    assert!(rows[0].1.contains("x=\"0.0000%\""), "{}", rows[0].1);
    assert!(rows[0].1.contains("width=\"100.0000%\""), "{}", rows[0].1);
    assert!(rows[3].1.contains("x=\"8.1000%\""), "{}", rows[3].1);
    assert!(rows[3].1.contains("width=\"64.80"), "{}", rows[3].1);
    // The tiny span keeps a visible sliver.
    assert!(rows[1].1.contains("width=\"0.1500%\""), "{}", rows[1].1);
    // A colour per service: the front end's rows one, the back end's another.
    let colour = |r: &str| r.split("data-service=\"").nth(1).unwrap()[..1].to_string();
    assert_eq!(colour(rows[3].1), colour(rows[0].1));
    assert_ne!(colour(rows[4].1), colour(rows[0].1));
    assert_eq!(colour(rows[5].1), colour(rows[4].1));
    assert!(body.contains("project 2 · sentry.python · payments@1.4.0"));
    // Status per row.
    assert!(
        rows[4].1.contains("badge status-bad\">internal_error"),
        "{}",
        rows[4].1
    );

    // The error on the query span: a marker at its time and a line under the row, linked.
    let query = rows[5].1;
    assert!(
        query.contains(&format!(
            "<a href=\"/items/{error_id}\"><rect class=\"mark mark-error\""
        )),
        "{query}"
    );
    assert!(query.contains("+280.000 ms"), "{query}");
    assert!(
        query.contains(&format!(
            "<a href=\"/items/{error_id}\">CardDeclined: card 4242 declined</a>"
        )),
        "{query}"
    );
    // The log with a span on the back end's transaction; the one without, on the root.
    let backend = &rows[4].1[..rows[4]
        .1
        .find("<li class=\"wf-row")
        .unwrap_or(rows[4].1.len())];
    assert!(backend.contains("mark mark-log"), "{backend}");
    assert!(
        backend.contains(&format!("<a href=\"/items/{log_id}\">charging card</a>")),
        "{backend}"
    );
    assert!(
        rows[0].1.contains("retrying without a span"),
        "{}",
        rows[0].1
    );
    assert!(rows[0].1.contains("(its span was not seen)"));
    // The profile is linked; links to the items of the trace and its JSON.
    assert!(body.contains(&format!(
        "<a href=\"/items/{profile_id}\">profile of project 2</a>"
    )));
    assert!(body.contains(&format!("href=\"/?trace_id={T}\"")));
    assert!(body.contains(&format!("href=\"/api/traces/{T}\"")));
    assert!(body.contains("<dd id=\"trace-duration\">1,234.567 ms</dd>"));
    assert!(!body.contains("id=\"truncated\""));

    let unknown = get(&format!("{base}/traces/{U}")).await;
    assert_eq!(unknown.status, 404);
    for bad in ["xyz", "0af7651916cd43dd8448eb211c80319", "%3Cscript%3E"] {
        let page = get(&format!("{base}/traces/{bad}")).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(!page.body.contains("<script>"), "{}", page.body);
    }
}

#[tokio::test]
async fn truncated_and_orphaned_traces_say_so() {
    let config = fake_sentry::Config {
        max_trace_spans: 3,
        ..fake_sentry::Config::default()
    };
    let sentry = FakeSentry::start_with(config).await.expect("start");
    let base = sentry.url();
    // Only the back end's part: its transaction names a parent span nobody sent.
    let spec = TraceSpec::new(T, START);
    for (project, body) in spec.envelopes().into_iter().skip(1) {
        post(&base, project, body).await;
    }
    let body = html(&format!("{base}/traces/{T}")).await;
    assert!(
        body.contains("1 span names a parent that was not seen"),
        "{body}"
    );
    assert!(body.contains("<span class=\"badge warn\">orphan</span>"));
    assert!(!body.contains("id=\"truncated\""));

    send(&base, &spec).await;
    let body = html(&format!("{base}/traces/{T}")).await;
    assert!(
        body.contains("Truncated: showing 3 of 8 spans"),
        "{}",
        body.split("<main").nth(1).unwrap_or_default()
    );
    assert_eq!(waterfall(&body).len(), 3);
}

#[tokio::test]
async fn items_link_to_their_trace_and_the_list_filters_by_it() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    send(&base, &TraceSpec::new(T, START)).await;
    post(&base, 1, lone_transaction(U, "other", "task", START, 0.1)).await;
    let error_id = item_id(&base, T, "event").await;
    let detail = html(&format!("{base}/items/{error_id}")).await;
    assert!(
        detail.contains(&format!(
            "<a id=\"trace-link\" href=\"/traces/{T}\"><code>{T}</code></a>"
        )),
        "{detail}"
    );
    let tx_id = item_id(&base, T, "transaction").await;
    assert!(
        html(&format!("{base}/items/{tx_id}"))
            .await
            .contains("id=\"trace-link\"")
    );

    let list = html(&format!("{base}/?trace_id={T}")).await;
    assert!(
        list.contains(&format!("name=\"trace_id\" value=\"{T}\"")),
        "a visible control"
    );
    assert!(list.contains("id=\"trace-filter\""), "a chip");
    assert!(list.contains(&format!("href=\"/traces/{T}\"")));
    let rows = list.matches("<tr data-href=").count();
    assert_eq!(rows, 5, "the trace's five items, not the other trace's");
    let all = html(&format!("{base}/")).await;
    assert!(all.contains("name=\"trace_id\" value=\"\""));
    assert!(!all.contains("id=\"trace-filter\""));
}

/// Text that runs script if a page ever parses it as HTML.
const HOSTILE: [&str; 4] = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "\"'><svg onload=\"window.__xss='svg'\">",
    "</li></ol></td></tr></table><iframe src=javascript:alert(1)>",
];

#[tokio::test]
async fn hostile_names_are_text_on_both_pages() {
    let sentry = FakeSentry::start().await.expect("start");
    let base = sentry.url();
    let mut spec = TraceSpec::new(T, START);
    let [script, img, svg, close] = HOSTILE.map(str::to_string);
    spec.root = format!("{script}{close}");
    spec.root_op = svg.clone();
    spec.call = img.clone();
    spec.backend = close.clone();
    spec.query = script.clone();
    spec.error_type = svg.clone();
    spec.error_value = img.clone();
    spec.log = close.clone();
    spec.unpinned_log = script.clone();
    spec.front_sdk = svg.clone();
    spec.front_release = close.clone();
    spec.back_release = img.clone();
    spec.environment = script.clone();
    send(&base, &spec).await;

    for url in [
        format!("{base}/traces"),
        format!("{base}/traces/{T}"),
        format!("{base}/traces?q=%3Cscript%3E&sdk=%22%3E%3Csvg"),
    ] {
        let page = html(&url).await;
        let body = main_element(&page);
        for hostile in HOSTILE {
            assert!(!body.contains(hostile), "{url} has {hostile} unescaped");
        }
        for tag in ["<img", "<svg onload", "<iframe", "onerror=\"", "</table><"] {
            assert!(!body.contains(tag), "{url} has {tag}");
        }
    }
    let list = html(&format!("{base}/traces")).await;
    assert!(
        list.contains("&#60;script&#62;window.__xss=&#39;script&#39;&#60;/script&#62;"),
        "{}",
        main_element(&list)
    );
    let page = html(&format!("{base}/traces/{T}")).await;
    assert!(page.contains("&#60;img src=x onerror=&#34;window.__xss=&#39;img&#39;&#34;&#62;"));
    assert!(page.contains("&#34;&#39;&#62;&#60;svg onload="));
    // The search box keeps the hostile query as an attribute value.
    let searched = html(&format!("{base}/traces?q=%22%3E%3Csvg%20onload%3D1%3E")).await;
    assert!(
        searched.contains("value=\"&#34;&#62;&#60;svg onload=1&#62;\""),
        "{searched}"
    );
    let _: Value = get_json(&format!("{base}/api/traces/{T}")).await;
}
