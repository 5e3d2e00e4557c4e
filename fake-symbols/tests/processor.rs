//! The decisive test: the real `minidump-processor` 0.27.0 with its HTTP symbol supplier
//! symbolicates a minidump against fake-symbols, and under each fault the outcome is the one
//! documented for rust-minidump (module missing, not retried, not cached, timeout honoured).

mod support;

use std::time::{Duration, Instant};

use fake_symbols::testing::FakeSymbols;
use fake_symbols::{Config, synthetic};
use fake_symbols::{Corruption, CutAt, FaultAction, FaultRule, FaultSpec};
use support::*;

const TIMEOUT: Duration = Duration::from_secs(20);

async fn seeded() -> FakeSymbols {
    seeded_with(Config::ephemeral()).await
}

async fn seeded_with(config: Config) -> FakeSymbols {
    let symbols = FakeSymbols::start_with(config).await.unwrap();
    symbols
        .store()
        .put(&libfoo_key(), false, LIBFOO_SYM.as_bytes())
        .unwrap();
    symbols
}

fn rule(action: FaultAction) -> FaultRule {
    FaultRule {
        path: None,
        module: Some("libfoo.so".into()),
        first: None,
        share: None,
        action,
    }
}

fn only(action: FaultAction) -> FaultSpec {
    FaultSpec {
        seed: 1,
        rules: vec![rule(action)],
    }
}

fn symbolicated(outcome: &Outcome) {
    assert!(outcome.loaded, "{outcome:?}");
    assert!(!outcome.corrupt, "{outcome:?}");
    assert_eq!(
        outcome.function.as_deref(),
        Some("foo::crash_here"),
        "{outcome:?}"
    );
    assert_eq!(outcome.file.as_deref(), Some("/src/foo/crash.rs"));
    assert_eq!(outcome.line, Some(42));
    assert_eq!(outcome.inlines, ["foo::deep_inline", "foo::helper"]);
}

fn missing(outcome: &Outcome) {
    assert!(!outcome.loaded, "{outcome:?}");
    assert!(!outcome.corrupt, "{outcome:?}");
    assert_eq!(outcome.function, None, "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_symbolicates_with_gzip_and_the_request_is_logged() {
    let symbols = seeded().await;
    let cache = tempfile::tempdir().unwrap();
    let outcome = process(&symbols.url(), cache.path(), TIMEOUT).await;
    symbolicated(&outcome);
    let requests = symbols.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, libfoo_path());
    assert_eq!(
        request.query.as_deref(),
        Some(format!("code_file=libfoo.so&code_id={CODE_ID}").as_str())
    );
    assert_eq!(request.status, 200);
    // The processor asks for gzip, so fewer bytes than the file went over the wire.
    assert!(
        request.bytes > 0 && request.bytes < LIBFOO_SYM.len() as u64,
        "{request:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_means_missing_not_retried_and_not_cached() {
    let symbols = seeded().await;
    for code in [404u16, 429, 500, 502, 503, 504] {
        let cache = tempfile::tempdir().unwrap();
        symbols.clear_requests();
        symbols
            .set_faults(only(FaultAction::Status {
                code,
                retry_after_secs: (code == 429).then_some(5),
            }))
            .unwrap();
        missing(&process(&symbols.url(), cache.path(), TIMEOUT).await);
        let requests = symbols.requests();
        assert_eq!(requests.len(), 1, "retried on {code}: {requests:?}");
        assert_eq!(requests[0].status, code);
        // Nothing was cached: the next run (faults gone) downloads again and succeeds.
        symbols.set_faults(FaultSpec::default()).unwrap();
        symbolicated(&process(&symbols.url(), cache.path(), TIMEOUT).await);
        assert_eq!(symbols.requests().len(), 2, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_k_fails_then_the_same_module_loads() {
    let symbols = seeded().await;
    let mut fault = rule(FaultAction::Status {
        code: 503,
        retry_after_secs: Some(1),
    });
    fault.first = Some(2);
    symbols
        .set_faults(FaultSpec {
            seed: 0,
            rules: vec![fault],
        })
        .unwrap();
    for expect_loaded in [false, false, true] {
        let cache = tempfile::tempdir().unwrap();
        let outcome = process(&symbols.url(), cache.path(), TIMEOUT).await;
        assert_eq!(outcome.loaded, expect_loaded, "{outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_slow_streams_beyond_the_timeout_mean_missing() {
    let symbols = seeded().await;
    let timeout = Duration::from_millis(700);
    for action in [
        FaultAction::Latency { millis: 3000 },
        FaultAction::SlowStream { bytes_per_sec: 50 },
    ] {
        symbols.set_faults(only(action.clone())).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let started = Instant::now();
        missing(&process(&symbols.url(), cache.path(), timeout).await);
        let took = started.elapsed();
        assert!(
            took >= timeout && took < Duration::from_millis(2500),
            "{action:?} took {took:?}"
        );
    }
    // A slow stream within the timeout still loads.
    symbols
        .set_faults(only(FaultAction::SlowStream {
            bytes_per_sec: 20_000,
        }))
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    symbolicated(&process(&symbols.url(), cache.path(), TIMEOUT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_mid_line_is_missing_at_a_line_boundary_is_silently_partial() {
    let symbols = seeded().await;
    for abort in [true, false] {
        symbols
            .set_faults(only(FaultAction::Truncate {
                fraction: 0.6,
                at: CutAt::MidLine,
                abort,
            }))
            .unwrap();
        let cache = tempfile::tempdir().unwrap();
        missing(&process(&symbols.url(), cache.path(), TIMEOUT).await);
    }
    // Cut after the FUNC's first line records: loads, but the deepest inline lost its line.
    let cut = LIBFOO_SYM.find("100c 8 99 2").unwrap() as f64 / LIBFOO_SYM.len() as f64;
    symbols
        .set_faults(only(FaultAction::Truncate {
            fraction: cut,
            at: CutAt::LineBoundary,
            abort: false,
        }))
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let outcome = process(&symbols.url(), cache.path(), TIMEOUT).await;
    assert!(outcome.loaded, "{outcome:?}");
    assert_eq!(outcome.function.as_deref(), Some("foo::crash_here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruptions_have_the_documented_outcomes() {
    let symbols = seeded().await;
    let run = |corruption| {
        let symbols = &symbols;
        async move {
            symbols
                .set_faults(only(FaultAction::Corrupt { corruption }))
                .unwrap();
            let cache = tempfile::tempdir().unwrap();
            process(&symbols.url(), cache.path(), TIMEOUT).await
        }
    };
    // The parser rejects the whole file; over HTTP that is "not found".
    missing(&run(Corruption::InlineOriginNoName).await);
    missing(&run(Corruption::NameSplitByNewline).await);
    // A blank name parses: the inline frame is named "".
    let blank = run(Corruption::InlineOriginBlankName).await;
    assert!(blank.loaded);
    assert_eq!(blank.inlines, ["", ""]);
    // The MODULE id is not checked over HTTP.
    symbolicated(&run(Corruption::WrongModuleId).await);
    // A line record before its FUNC does not change this frame.
    let shifted = run(Corruption::LineBeforeFunc).await;
    assert!(shifted.loaded);
    assert_eq!(shifted.function.as_deref(), Some("foo::crash_here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_module_is_generated_for_any_id() {
    let symbols = FakeSymbols::start().await.unwrap();
    symbols
        .set_faults(only(FaultAction::Synthetic { size: 3 << 20 }))
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let outcome = process(&symbols.url(), cache.path(), TIMEOUT).await;
    assert!(outcome.loaded, "{outcome:?}");
    assert_eq!(outcome.function, Some(synthetic::function_name(0)));
    let request = &symbols.requests()[0];
    assert!(request.bytes > 100_000, "gzip of 3 MB: {request:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_redirect_mode_is_followed() {
    let mut config = Config::ephemeral();
    config.redirect_to_storage = true;
    let symbols = seeded_with(config).await;
    let cache = tempfile::tempdir().unwrap();
    symbolicated(&process(&symbols.url(), cache.path(), TIMEOUT).await);
    let seen: Vec<(String, u16)> = symbols
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (libfoo_path(), 302),
            (format!("/__storage__/v1{}", libfoo_path()), 200)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_without_debug_id_is_found_through_the_code_id_redirect() {
    let symbols = FakeSymbols::start().await.unwrap();
    let key =
        fake_symbols::SymbolKey::parse("kernel32.pdb", KERNEL32_DEBUG_ID, "kernel32.sym").unwrap();
    symbols
        .store()
        .put(&key, false, KERNEL32_SYM.as_bytes())
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let function = process_frame0(&kernel32_minidump(), &symbols.url(), cache.path()).await;
    assert_eq!(function.as_deref(), Some("BaseThreadInitThunk"));
    let seen: Vec<(String, u16)> = symbols
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (
                format!("/kernel32.dll/{KERNEL32_CODE_ID}/kernel32.sym"),
                302
            ),
            (
                format!("/kernel32.pdb/{KERNEL32_DEBUG_ID}/kernel32.sym"),
                200
            )
        ]
    );
}
