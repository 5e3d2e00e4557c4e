//! fake-sentry with a data policy: findings per item, scrubbed copies, and forwarding scrubbed
//! envelopes to an upstream Sentry (a wiremock server standing in for sentry.io).

mod support;

use std::time::{Duration, Instant};

use event_filter::Policy;
use fake_sentry::testing::FakeSentry;
use fake_sentry::{Config, DataPolicy, ForwardConfig, ItemFilter};
use serde_json::{Value, json};
use support::binary::Binary;
use support::{get_json, new_event_id, repo_root};
use wiremock::matchers::{header_regex, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A real event the Python SDK sent with `send_default_pii=True` and local variables on.
fn python_pii_event() -> Value {
    let path = repo_root().join("event-filter/testdata/events/python-pii.json");
    serde_json::from_slice(&std::fs::read(&path).expect("read the captured event"))
        .expect("captured event is JSON")
}

fn envelope_of(event: &Value) -> Vec<u8> {
    let payload = event.to_string();
    format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        json!({"event_id": event["event_id"], "dsn": "http://public@127.0.0.1:1/1"}),
        payload.len()
    )
    .into_bytes()
}

async fn post_envelope(sentry: &FakeSentry, project: u64, body: Vec<u8>) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/{project}/envelope/", sentry.url()))
        .header(
            "x-sentry-auth",
            "Sentry sentry_key=public, sentry_version=7",
        )
        .body(body)
        .send()
        .await
        .expect("post envelope");
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

fn with_policy(scrub: bool) -> Config {
    Config {
        policy: Some(DataPolicy::new(
            Policy::preset("strict").expect("strict preset"),
            "preset:strict",
            scrub,
        )),
        ..Config::ephemeral()
    }
}

fn clean_event(event_id: &str) -> Value {
    json!({"event_id": event_id, "level": "info", "message": "nothing to see", "platform": "python"})
}

#[tokio::test]
async fn audited_items_carry_findings_that_the_api_filters_on() {
    let sentry = FakeSentry::start_with(with_policy(false))
        .await
        .expect("start");
    let leaky = python_pii_event();
    let clean_id = new_event_id();
    post_envelope(&sentry, 1, envelope_of(&leaky)).await;
    post_envelope(&sentry, 1, envelope_of(&clean_event(&clean_id))).await;
    sentry
        .wait_for(ItemFilter::default(), 2)
        .await
        .expect("both stored");

    let base = sentry.url();
    let list = get_json(&format!("{base}/api/items/?findings=true")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["event_id"], leaky["event_id"]);
    let count = items[0]["findings"].as_u64().unwrap();
    assert!(count > 0);

    let clean = get_json(&format!("{base}/api/items/?findings=false")).await;
    assert_eq!(clean["items"][0]["event_id"], clean_id.as_str(), "{clean}");
    assert_eq!(clean["items"][0]["findings"], 0);

    let detail = get_json(&format!(
        "{base}/api/items/{}",
        items[0]["id"].as_str().unwrap()
    ))
    .await;
    let audit = &detail["audit"];
    assert_eq!(audit["policy"], "preset:strict");
    assert_eq!(audit["scrubbed"], false);
    let findings = audit["findings"].as_array().unwrap();
    assert_eq!(findings.len() as u64, count);
    let paths: Vec<&str> = findings.iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(paths.contains(&"user.email"), "{paths:?}");
    // Findings show a redacted excerpt, never the value.
    let text = audit.to_string();
    assert!(!text.contains("jane.doe@example.com"), "{text}");

    let stats = get_json(&format!("{base}/api/stats/")).await;
    assert_eq!(stats["policy"]["origin"], "preset:strict");
    assert_eq!(stats["policy"]["items_with_findings"], 1);
    assert_eq!(stats["policy"]["findings"].as_u64(), Some(count));

    // Without --scrub there is no scrubbed copy to serve.
    let id = items[0]["id"].as_str().unwrap();
    let raw = reqwest::get(format!("{base}/api/items/{id}/raw?scrubbed=1"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    sentry.shutdown().await;
}

#[tokio::test]
async fn scrub_mode_keeps_the_original_and_a_scrubbed_copy() {
    let sentry = FakeSentry::start_with(with_policy(true))
        .await
        .expect("start");
    let leaky = python_pii_event();
    post_envelope(&sentry, 1, envelope_of(&leaky)).await;
    let stored = sentry
        .wait_for(ItemFilter::default(), 1)
        .await
        .expect("stored");
    let base = sentry.url();
    let id = &stored[0].id;

    let original = reqwest::get(format!("{base}/api/items/{id}/raw"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(original.contains("jane.doe@example.com"));
    let scrubbed = reqwest::get(format!("{base}/api/items/{id}/raw?scrubbed=1"))
        .await
        .unwrap();
    assert_eq!(scrubbed.status(), 200);
    let scrubbed: Value = scrubbed.json().await.unwrap();
    let scrubbed_text = scrubbed.to_string();
    assert!(!scrubbed_text.contains("jane.doe@example.com"));
    // The strict preset keeps what a developer needs to debug.
    assert_eq!(
        scrubbed["exception"]["values"][0]["type"],
        leaky["exception"]["values"][0]["type"]
    );

    let detail = get_json(&format!("{base}/api/items/{id}")).await;
    assert_eq!(detail["audit"]["scrubbed"], true);
    assert_eq!(detail["audit"]["scrubbed_payload"], scrubbed);
    let changes = detail["audit"]["scrub_report"]["changes"]
        .as_array()
        .unwrap();
    assert!(
        changes.iter().any(|c| c["path"] == "user.email"),
        "{changes:?}"
    );
    // The stored item itself is what was sent: the Kent view is unchanged.
    let kent = get_json(&format!("{base}/api/event/{id}")).await;
    assert_eq!(
        kent["payload"]["body"]["user"]["email"],
        "jane.doe@example.com"
    );
    sentry.shutdown().await;
}

async fn wait_for_outcomes(base: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let forwarded = get_json(&format!("{base}/api/forwarded/")).await;
        if forwarded["outcomes"]
            .as_array()
            .is_some_and(|o| o.len() >= n)
        {
            return forwarded;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} forwarding outcomes: {forwarded}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn forwarding_sends_scrubbed_envelopes_upstream() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/42/envelope/"))
        .and(header_regex("x-sentry-auth", "sentry_key=upstreamkey"))
        .and(header_regex(
            "content-type",
            "^application/x-sentry-envelope$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
        .expect(1)
        .mount(&upstream)
        .await;
    let dsn = format!("http://upstreamkey@{}/42", upstream.address());
    let sentry = FakeSentry::start_with(Config {
        forward: Some(ForwardConfig::new(dsn.parse().unwrap())),
        ..with_policy(true)
    })
    .await
    .expect("start");

    let leaky = python_pii_event();
    post_envelope(&sentry, 1, envelope_of(&leaky)).await;
    let forwarded = wait_for_outcomes(&sentry.url(), 1).await;
    assert_eq!(forwarded["sent"], 1, "{forwarded}");
    assert_eq!(forwarded["outcomes"][0]["outcome"], "sent");
    assert_eq!(forwarded["outcomes"][0]["status"], 200);

    let requests = upstream.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    let envelope = sentry_envelope::parse(body).expect("upstream got a valid envelope");
    assert!(envelope.framing_errors().is_empty());
    // The envelope's DSN names the upstream, not fake-sentry.
    assert_eq!(envelope.dsn(), Some(dsn.as_str()));
    let event: Value = serde_json::from_slice(&envelope.items[0].payload).unwrap();
    assert_eq!(event["event_id"], leaky["event_id"]);
    let text = String::from_utf8_lossy(body);
    assert!(
        !text.contains("jane.doe@example.com"),
        "email leaked upstream"
    );
    assert_eq!(
        event["exception"]["values"][0]["type"],
        leaky["exception"]["values"][0]["type"]
    );
    sentry.shutdown().await;
    upstream.verify().await;
}

#[tokio::test]
async fn upstream_failures_and_rate_limits_are_recorded_not_retried_into_a_storm() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "60")
                .set_body_string("slow down"),
        )
        .mount(&upstream)
        .await;
    let dsn = format!("http://k@{}/7", upstream.address());
    let sentry = FakeSentry::start_with(Config {
        forward: Some(ForwardConfig::new(dsn.parse().unwrap())),
        ..Config::ephemeral()
    })
    .await
    .expect("start");
    for _ in 0..3 {
        post_envelope(&sentry, 1, envelope_of(&clean_event(&new_event_id()))).await;
    }
    let forwarded = wait_for_outcomes(&sentry.url(), 3).await;
    let outcomes: Vec<&str> = forwarded["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failed", "rate_limited", "rate_limited"]);
    assert_eq!(forwarded["outcomes"][0]["status"], 429);
    assert!(
        forwarded["outcomes"][0]["error"]
            .as_str()
            .unwrap()
            .contains("slow down")
    );
    // Only the first reached the upstream; the rest waited out its Retry-After.
    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
    // Everything was still captured locally.
    assert_eq!(sentry.items(ItemFilter::default()).await.unwrap().len(), 3);
    sentry.shutdown().await;
}

/// The forwarding queue is bounded in bytes as well as in envelopes: an envelope that would
/// take it past its byte limit is dropped (and says why), one larger than the whole limit too,
/// and the bytes come back once an envelope has been sent.
#[tokio::test]
async fn the_forwarding_queue_is_bounded_in_bytes() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        // Holds each envelope in flight for a while, so that the next one finds it queued.
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&upstream)
        .await;
    let dsn = format!("http://k@{}/7", upstream.address());
    let sentry = FakeSentry::start_with(Config {
        forward: Some(ForwardConfig {
            queue_bytes: 64 * 1024,
            ..ForwardConfig::new(dsn.parse().unwrap())
        }),
        ..Config::ephemeral()
    })
    .await
    .expect("start");
    let padded = |kib: usize| {
        let mut event = clean_event(&new_event_id());
        event["extra"] = json!({"padding": "x".repeat(kib * 1024)});
        envelope_of(&event)
    };
    // Two of 40 KiB: whichever is forwarded first holds 40 KiB of the 64 until it is sent.
    post_envelope(&sentry, 1, padded(40)).await;
    post_envelope(&sentry, 1, padded(40)).await;
    // Larger than the whole limit.
    post_envelope(&sentry, 1, padded(100)).await;
    let forwarded = wait_for_outcomes(&sentry.url(), 3).await;
    let outcomes = forwarded["outcomes"].as_array().unwrap();
    let errors: Vec<&str> = outcomes
        .iter()
        .filter(|o| o["outcome"] == "dropped")
        .map(|o| o["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{forwarded}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("queue full: ") && e.contains("bytes waiting, limit 65536")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("larger than the forwarding queue's 65536")),
        "{errors:?}"
    );
    assert_eq!(forwarded["sent"], 1, "{forwarded}");
    assert_eq!(forwarded["queued_bytes"], 0);
    assert_eq!(forwarded["max_queued_bytes"], 65536);

    // With the queue empty again, the next 40 KiB envelope goes through.
    post_envelope(&sentry, 1, padded(40)).await;
    let forwarded = wait_for_outcomes(&sentry.url(), 4).await;
    assert_eq!(forwarded["sent"], 2, "{forwarded}");
    assert_eq!(upstream.received_requests().await.unwrap().len(), 2);
    // Everything was still captured locally.
    assert_eq!(sentry.items(ItemFilter::default()).await.unwrap().len(), 4);
    sentry.shutdown().await;
}

#[tokio::test]
async fn the_binary_takes_policy_scrub_and_forward_flags() {
    let dir = std::env::temp_dir().join(format!("fake-sentry-policy-{}", new_event_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\npath = \"user.email\"\naction = \"remove\"\n",
    )
    .unwrap();
    let server = Binary::start(["--policy".as_ref(), policy.as_os_str(), "--scrub".as_ref()]).await;
    let stats = get_json(&format!("http://{}/api/stats/", server.addr)).await;
    assert_eq!(stats["policy"]["origin"], policy.display().to_string());
    assert_eq!(stats["policy"]["scrub"], true);
    drop(server);

    // Misconfiguration is refused at start with a clear message.
    for (args, expected) in [
        (vec!["--scrub"], "--scrub needs --policy"),
        (vec!["--preset", "nope"], "nope"),
        (vec!["--forward", "sentry.io/1"], "invalid upstream DSN"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fake-sentry"))
            .args(["--port", "0"])
            .args(&args)
            .env_clear()
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_ui_shows_findings_and_the_scrubbed_version() {
    let sentry = FakeSentry::start_with(with_policy(true))
        .await
        .expect("start");
    let leaky = python_pii_event();
    post_envelope(&sentry, 1, envelope_of(&leaky)).await;
    post_envelope(&sentry, 1, envelope_of(&clean_event(&new_event_id()))).await;
    let stored = sentry
        .wait_for(ItemFilter::default(), 2)
        .await
        .expect("stored");
    let base = sentry.url();
    let leaky_id = &stored
        .iter()
        .find(|i| i.findings.is_some_and(|n| n > 0))
        .expect("an item with findings")
        .id;

    let page = reqwest::get(format!("{base}/items/{leaky_id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let section = page
        .split("id=\"data-policy\"")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("a data-policy section");
    assert!(section.contains("preset:strict"), "{section}");
    assert!(section.contains("<code>user.email</code>"), "{section}");
    assert!(section.contains(&format!("/api/items/{leaky_id}/raw?scrubbed=1")));
    // The findings table shows excerpts only; the scrubbed copy has no email either.
    assert!(!section.contains("jane.doe@example.com"), "{section}");

    let with = reqwest::get(format!("{base}/?findings=with"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(with.matches("class=\"badge warn findings\"").count(), 1);
    assert!(with.contains(&format!("/items/{leaky_id}")));
    let without = reqwest::get(format!("{base}/?findings=without"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!without.contains(&format!("/items/{leaky_id}\"")));
    let bad = reqwest::get(format!("{base}/?findings=maybe"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sentry.shutdown().await;
}

/// Forwarding is an outbound fetch (issue 17): an upstream that redirects is recorded as the
/// failure it is, and the redirect's target never receives the captured envelope; an error
/// answer of any size is read only as far as the outcome keeps.
#[tokio::test]
async fn forwarding_follows_no_redirect_and_reads_a_bounded_error() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/7/envelope/"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/api/7/envelope/", elsewhere.uri())),
        )
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/8/envelope/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("x".repeat(8 << 20)))
        .mount(&upstream)
        .await;
    for (project, expected) in [(7, 307), (8, 500)] {
        let dsn = format!("http://k@{}/{project}", upstream.address());
        let sentry = FakeSentry::start_with(Config {
            forward: Some(ForwardConfig::new(dsn.parse().unwrap())),
            ..Config::ephemeral()
        })
        .await
        .expect("start");
        post_envelope(&sentry, 1, envelope_of(&clean_event(&new_event_id()))).await;
        let forwarded = wait_for_outcomes(&sentry.url(), 1).await;
        let outcome = &forwarded["outcomes"][0];
        assert_eq!(outcome["outcome"], "failed", "{forwarded}");
        assert_eq!(outcome["status"], expected, "{forwarded}");
        assert!(
            outcome["error"].as_str().unwrap().len() <= 600,
            "{forwarded}"
        );
        sentry.shutdown().await;
    }
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the redirect was followed"
    );
}

/// The audit parses each JSON item into a value tree (issue 17: every byte a request holds is
/// budgeted): that tree is charged to `--max-in-flight` before it is built, so under a budget
/// too small for it the request is refused instead of the server allocating it unaccounted.
#[tokio::test]
async fn the_audit_of_a_large_item_is_charged_to_the_in_flight_budget() {
    let mut event = clean_event(&new_event_id());
    event["extra"] = json!({ "blob": "x".repeat(300 * 1024) });
    let body = envelope_of(&event);
    let small_budget = |policy: Option<DataPolicy>| {
        let mut config = Config {
            policy,
            ..Config::ephemeral()
        };
        config.limits.max_in_flight = 4 * 1024 * 1024;
        config
    };
    let post = |sentry: &FakeSentry| {
        reqwest::Client::new()
            .post(format!("{}/api/1/envelope/", sentry.url()))
            .body(body.clone())
            .send()
    };
    // Without a policy the 300 KiB event fits the 4 MiB budget.
    let plain = FakeSentry::start_with(small_budget(None))
        .await
        .expect("start");
    assert_eq!(post(&plain).await.expect("post").status(), 200);
    // Its audit tree (32 bytes a byte: about 10 MB) does not.
    let audited = FakeSentry::start_with(small_budget(with_policy(false).policy))
        .await
        .expect("start");
    let refused = post(&audited).await.expect("post");
    assert_eq!(refused.status(), 413, "{}", refused.text().await.unwrap());
    assert!(
        audited
            .items(ItemFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    // A small event is still audited under the same budget.
    post_envelope(&audited, 1, envelope_of(&python_pii_event())).await;
}
