//! Every `bench` subcommand runs end to end at a tiny size and prints its figures. Nothing here
//! asserts a time: the figures are for people, the rows are the contract.

use std::process::Command;
use std::time::Duration;

fn bench(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "bench {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The row of `table` whose first column starts with `label`, split into columns.
fn row<'a>(table: &'a str, label: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} row in:\n{table}"));
    line[label.len()..].split_whitespace().collect()
}

#[test]
fn fake_sentry_measures_each_target_with_no_errors() {
    let out = bench(&[
        "fake-sentry",
        "--duration",
        "0.3",
        "--connections",
        "2",
        "--targets",
        "memory,ingest",
    ]);
    for label in ["fake-sentry (memory)", "ingest only (1 thread)"] {
        let columns = row(&out, label);
        let per_second: f64 = columns[0].parse().expect("envelopes/s");
        assert!(per_second > 0.0, "{label}: {out}");
        assert_eq!(columns.last(), Some(&"0"), "{label} had errors: {out}");
    }
}

#[test]
fn fake_sentry_measures_a_server_in_a_process_of_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bench(&[
        "fake-sentry",
        "--duration",
        "0.5",
        "--connections",
        "2",
        "--targets",
        "file",
        "--server-process",
        "--max-events",
        "100",
        "--dir",
        dir.path().to_str().expect("a UTF-8 path"),
    ]);
    let columns = row(&out, "fake-sentry (file, sync off)");
    let per_second: f64 = columns[0].parse().expect("envelopes/s");
    assert!(per_second > 0.0, "{out}");
    assert_eq!(columns.last(), Some(&"0"), "errors: {out}");
    // The server ran as the real command line, with the caps it was given.
    let log = std::fs::read_to_string(dir.path().join("bench-server.log")).expect("its log");
    assert!(!log.contains("panicked"), "{log}");
    let db = rusqlite::Connection::open(dir.path().join("bench.sqlite")).expect("its database");
    let items: i64 = db
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .expect("items");
    assert!(
        (1..=100).contains(&items),
        "kept {items} items of --max-events 100"
    );
}

/// A `bench fake-sentry` table cell in milliseconds (or a share, `99.5%`, as a fraction).
fn number(cell: &str) -> f64 {
    match cell.strip_suffix('%') {
        Some(percent) => percent.parse::<f64>().expect("a percentage") / 100.0,
        None => cell
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {cell:?}")),
    }
}

/// The columns of a `bench fake-sentry` row after the label, by heading.
struct IngestRow<'a>(Vec<&'a str>);

impl IngestRow<'_> {
    fn get(&self, heading: &str) -> &str {
        let index = [
            "envelopes/s",
            "of rate",
            "requests",
            "unsent",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "errors",
        ]
        .iter()
        .position(|h| *h == heading)
        .expect("a known heading");
        self.0[index]
    }

    fn ms(&self, heading: &str) -> f64 {
        number(self.get(heading))
    }
}

#[test]
fn fake_sentry_at_a_constant_rate_reports_the_achieved_rate_and_the_tail() {
    let out = bench(&[
        "fake-sentry",
        "--rate",
        "200",
        "--duration",
        "1",
        "--connections",
        "4",
        "--targets",
        "memory,http",
    ]);
    let header = out
        .lines()
        .find(|line| line.starts_with("target"))
        .expect("a header");
    for heading in ["of rate", "unsent", "p90 ms", "p99.9 ms", "max ms"] {
        assert!(header.contains(heading), "no {heading:?} in {header}");
    }
    assert!(out.contains("constant rate: 200 envelopes/s"), "{out}");
    for label in ["fake-sentry (memory)", "HTTP only (no ingest)"] {
        let columns = IngestRow(row(&out, label));
        let share = number(columns.get("of rate"));
        assert!(
            (0.9..=1.1).contains(&share),
            "{label}: {share} of 200/s\n{out}"
        );
        let requests: u64 = columns.get("requests").parse().unwrap();
        assert!(
            (180..=200).contains(&requests),
            "{label}: {requests}\n{out}"
        );
        assert_eq!(columns.get("errors"), "0", "{label}: {out}");
        let [p50, p90, p99, p999, max] =
            ["p50", "p90", "p99", "p99.9", "max"].map(|h| columns.ms(h));
        assert!(
            p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
            "{label}: {out}"
        );
    }
}

/// A stand-in for an ingest endpoint that stalls once, as a server does during a WAL
/// checkpoint: the `stall_at`th request, and every request that arrives while it waits, is
/// answered only `stall` after that request arrived. Every other request is answered at once.
mod stalling_server {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    struct Stall {
        seen: u64,
        until: Option<Instant>,
    }

    /// Serves on 127.0.0.1 until the runtime ends; returns its base URL.
    pub async fn start(stall_at: u64, stall: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Stall {
            seen: 0,
            until: None,
        }));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, state.clone(), stall_at, stall));
            }
        });
        url
    }

    async fn serve(
        mut socket: TcpStream,
        state: Arc<Mutex<Stall>>,
        stall_at: u64,
        stall: Duration,
    ) {
        let mut buffer = Vec::new();
        while let Some(length) = read_request(&mut socket, &mut buffer).await {
            buffer.drain(..length);
            let until = {
                let mut state = state.lock().unwrap();
                state.seen += 1;
                if state.seen == stall_at {
                    state.until = Some(Instant::now() + stall);
                }
                state.until.filter(|until| *until > Instant::now())
            };
            if let Some(until) = until {
                tokio::time::sleep_until(until.into()).await;
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                           content-length: 2\r\n\r\n{}";
            if socket.write_all(answer).await.is_err() {
                return;
            }
        }
    }

    /// Reads until `buffer` holds one whole request (head and `content-length` body); its
    /// length, or `None` once the client has gone.
    async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = request.parse(buffer) {
                let body: usize = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0);
                if buffer.len() >= head + body {
                    return Some(head + body);
                }
            }
            let mut chunk = [0; 16 * 1024];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
    }
}

/// The issue-19 gap: a server that stalls for 300 ms once. In a closed loop each connection
/// has one request waiting through the stall and sends nothing else, so the stall is two slow
/// samples among thousands and p99 stays fast; only max shows it. At a constant rate every
/// request due during the stall counts from when it was due, so p99 shows the stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constant_rate_counts_a_stall_against_every_request_it_held_back() {
    let stall = Duration::from_millis(300);
    let run = |peer: String, rate: Option<&'static str>| {
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "fake-sentry",
                "--duration",
                "1",
                "--connections",
                "2",
                "--targets",
                "http",
                "--peer",
                &peer,
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
            if let Some(rate) = rate {
                args.extend(["--rate".into(), rate.into()]);
            }
            let out = bench(&args.iter().map(String::as_str).collect::<Vec<_>>());
            eprintln!("{out}");
            let columns: Vec<String> = row(&out, &format!("peer {peer}"))
                .into_iter()
                .map(String::from)
                .collect();
            (out, columns)
        })
    };

    // The 50th request stalls the server: about a quarter of a second into the paced run.
    let paced = stalling_server::start(50, stall).await;
    let (out, columns) = run(paced, Some("200")).await.unwrap();
    let paced = IngestRow(columns.iter().map(String::as_str).collect());
    assert!(
        paced.ms("p99") >= 250.0,
        "the stall is missing from p99:\n{out}"
    );
    assert!(paced.ms("max") >= 290.0, "{out}");
    // The in-process control target, same load, no stall.
    assert!(IngestRow(row(&out, "HTTP only")).ms("p99") < 250.0, "{out}");
    assert_eq!(paced.get("errors"), "0", "{out}");
    // About 60 of the 200 requests were due during the stall.
    assert!(paced.ms("p90") >= 20.0, "{out}");

    let closed = stalling_server::start(50, stall).await;
    let (out, columns) = run(closed, None).await.unwrap();
    let closed = IngestRow(columns.iter().map(String::as_str).collect());
    assert!(closed.ms("max") >= 290.0, "{out}");
    let requests: f64 = number(closed.get("requests"));
    assert!(
        requests > 400.0,
        "too few requests to hide the stall: {out}"
    );
    assert!(closed.ms("p99") < 250.0, "{out}");
}

/// Checks that `label`'s row measured something and had no errors.
fn assert_measured(out: &str, label: &str) {
    let columns = IngestRow(row(out, label));
    assert!(number(columns.get("envelopes/s")) > 0.0, "{label}: {out}");
    assert_eq!(columns.get("errors"), "0", "{label} had errors: {out}");
}

/// `--wrk` drives the whole server with Debian's wrk too, in rows of their own, with the
/// file / memory ratio per generator. Skipped without wrk on PATH unless every client is
/// required (`scripts/setup-test-clients` installs wrk).
#[test]
fn fake_sentry_with_wrk_adds_a_wrk_row_per_http_target() {
    let Some(wrk) = test_clients::wrk("the wrk rows in bench's fake-sentry test") else {
        return;
    };
    let out = bench(&[
        "fake-sentry",
        "--wrk",
        "--wrk-path",
        wrk.to_str().expect("a UTF-8 path"),
        "--duration",
        "1",
        "--connections",
        "2",
        "--targets",
        "memory,file,ingest",
    ]);
    for label in [
        "fake-sentry (memory) (wrk)",
        "fake-sentry (file, sync off) (wrk)",
    ] {
        assert_measured(&out, label);
    }
    // The ingest target calls the server's code directly: no wrk row.
    assert!(!out.contains("ingest only (1 thread) (wrk)"), "{out}");
    for ratios in ["ratios: file / memory = ", "ratios (wrk): file / memory = "] {
        assert!(out.contains(ratios), "no {ratios:?} in:\n{out}");
    }
}

/// `--kent PATH` starts Kent on a free port, measures it with the same load and prints each
/// target's throughput over Kent's. Skipped without a kent-server (UNDERSTUDY_KENT, or
/// `.clients/kent`'s from `scripts/setup-test-clients`) unless every client is required.
#[test]
fn fake_sentry_measures_kent_started_by_the_bench() {
    let Some(kent) = test_clients::kent_server("the Kent row in bench's fake-sentry test") else {
        return;
    };
    let out = bench(&[
        "fake-sentry",
        "--kent",
        kent.to_str().expect("a UTF-8 path"),
        "--duration",
        "1",
        "--peer-duration",
        "1",
        "--connections",
        "2",
        "--targets",
        "memory,file",
    ]);
    assert_measured(&out, "kent");
    for ratio in ["file / memory = ", "file / kent = ", "memory / kent = "] {
        assert!(out.contains(ratio), "no {ratio:?} in:\n{out}");
    }
}

/// `fake-sentry-db` at a tiny size: fills the store, reports its disk use, times every read
/// (the corpus's rare word is in event 0 only, its absent word nowhere), restarts and samples
/// RSS under a short sustained load.
#[test]
fn fake_sentry_db_reports_every_figure() {
    let out = bench(&[
        "fake-sentry-db",
        "--items",
        "2000",
        "--runs",
        "2",
        "--restarts",
        "2",
        "--sustain",
        "1",
        "--rss-every",
        "0.2",
    ]);
    // "fill " rather than "fill": "filled 2000 events" starts with that too.
    assert_measured(&out, "fill ");
    assert!(out.contains("filled 2000 events"), "{out}");
    assert!(out.contains("stored: 2000 items"), "{out}");
    assert!(out.contains("bytes per envelope"), "{out}");
    let items = |label: &str| row(&out, label)[1].to_string();
    assert_eq!(items("search, common word"), "50", "{out}");
    assert_eq!(items("search, rare word"), "1", "{out}");
    assert_eq!(items("search, no match"), "0", "{out}");
    for label in ["stats", "UI list page /", "newest page"] {
        let columns = row(&out, label);
        let p50: f64 = columns[columns.len() - 3].parse().expect("p50 ms");
        assert!(p50 > 0.0, "{label}: {out}");
    }
    for figure in [
        "restart 1: exited",
        "restart 2: exited",
        "/api/stats/ 200 after",
    ] {
        assert!(out.contains(figure), "no {figure:?} in:\n{out}");
    }
    assert!(out.contains("rss at"), "{out}");
    assert!(out.contains("rss after the"), "{out}");
    assert_measured(&out, "sustained load");
}

/// `fake-sentry-minidumps` at a tiny size: a pass that fills the symbol cache and a warm one,
/// both processing every dump, then one (a, b) pair of ingest windows with the dumps beside
/// (b) counted and the ratio printed.
#[test]
fn fake_sentry_minidumps_reports_processing_and_ingest_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bench(&[
        "fake-sentry-minidumps",
        "--dumps",
        "9",
        "--runs",
        "1",
        "--rounds",
        "1",
        "--duration",
        "0.3",
        "--connections",
        "2",
        "--dir",
        dir.path().to_str().expect("a UTF-8 path"),
    ]);
    for label in ["cold cache (fills it)", "warm cache #1"] {
        let columns = row(&out, label);
        assert_eq!(columns[1], "9", "{label}: {out}");
        assert!(number(columns[4]) > 0.0, "{label} dumps/s: {out}");
    }
    // Every sym file is fetched once by the cold pass; the warm one downloads none.
    let warm = row(&out, "warm cache #1");
    let cold = row(&out, "cold cache (fills it)");
    assert!(number(warm[7]) < number(cold[7]), "{out}");
    assert_measured(&out, "(a) no dumps #1");
    assert_measured(&out, "(b) dumps processing #1");
    assert!(out.contains("dumps beside it:"), "{out}");
    assert!(
        out.contains("CPU in the window, seconds on a CPU (waiting for one): server"),
        "{out}"
    );
    assert!(out.contains("overall: (b) / (a) = "), "{out}");
    let log = std::fs::read_to_string(dir.path().join("fake-sentry.log")).expect("its log");
    assert!(!log.contains("panicked"), "{log}");
}

/// `fake-sentry-logs` at a tiny size, on both stores: the fill line, then a row per case and
/// path, each with its run count, three times and the page's size; the API's rows say the
/// filters found what the generated store holds (a trace of ten entries, no match for an absent
/// word, a full page unfiltered and on the second page).
#[test]
fn fake_sentry_logs_times_every_filter_on_both_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bench(&[
        "fake-sentry-logs",
        "--entries",
        "1000",
        "--runs",
        "2",
        "--dir",
        dir.path().to_str().expect("a UTF-8 path"),
    ]);
    assert!(
        out.starts_with("1000 log entries in envelopes of 50, 6 services; 2 requests per row"),
        "{out}"
    );
    let header = out.lines().nth(1).expect("a header row");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "store", "case", "path", "runs", "p50", "ms", "p90", "ms", "max", "ms", "rows", "bytes"
        ],
        "{out}"
    );
    let cases = [
        "no filter",
        "level=error",
        "level=error,warning",
        "min_level=warning",
        "service=payments",
        "trace_id",
        "q=rare word",
        "q=common word",
        "q=3 chars (ord)",
        "q=no match",
        "since/until (1 hour)",
        "service+level+window",
        "service+q",
        "min_level=error+q",
        "environment=staging",
        "2nd page, no filter",
        "2nd page, level=error,warning",
        "2nd page, q=common word",
    ];
    for store in ["memory", "file"] {
        assert!(
            out.contains(&format!("{store}: 1000 log entries stored in ")),
            "{store}: {out}"
        );
        for case in cases {
            for path in ["/logs", "/api/logs/"] {
                let label = format!("{store:<7} {case:<30} {path:<11}");
                let columns = row(&out, &label);
                assert_eq!(columns.len(), 6, "{label}: {out}");
                assert_eq!(columns[0], "2", "{label} runs: {out}");
                let ms: Vec<f64> = columns[1..4]
                    .iter()
                    .map(|c| c.parse().expect("milliseconds"))
                    .collect();
                assert!(
                    ms[0] > 0.0 && ms[0] <= ms[1] && ms[1] <= ms[2],
                    "{label}: p50 <= p90 <= max: {out}"
                );
                let bytes: u64 = columns[5].parse().expect("bytes");
                assert!(bytes > 0, "{label}: {out}");
                if path == "/logs" {
                    assert_eq!(columns[4], "-", "{label}: no row count for a page");
                }
            }
        }
        let rows = |case: &str| -> usize {
            row(&out, &format!("{store:<7} {case:<30} {:<11}", "/api/logs/"))[4]
                .parse()
                .expect("rows")
        };
        assert_eq!(rows("no filter"), 100, "a full API page: {out}");
        assert_eq!(rows("2nd page, no filter"), 100, "{out}");
        assert_eq!(rows("trace_id"), 10, "a trace holds ten entries: {out}");
        assert_eq!(rows("q=no match"), 0, "{out}");
        assert_eq!(
            rows("q=rare word"),
            0,
            "the rare word is past entry 1000: {out}"
        );
        for case in ["level=error", "service=payments", "q=common word"] {
            assert!((1..=100).contains(&rows(case)), "{case} finds some: {out}");
        }
    }
}

#[test]
fn fake_sentry_ui_times_every_page() {
    let out = bench(&["fake-sentry", "--ui", "--ui-items", "50", "--ui-runs", "2"]);
    assert!(out.contains("web UI: 50 stored"), "{out}");
    assert!(out.lines().count() >= 4, "{out}");
}

#[test]
fn fake_symbols_measures_download_upload_and_symbolication() {
    let out = bench(&[
        "fake-symbols",
        "--download",
        "2MB",
        "--upload",
        "2MB",
        "--symbolicate",
        "2MB",
    ]);
    for figure in [
        "download 2 MB:",
        "upload 2000",
        "parsed size",
        "symbolicate 4 frames",
    ] {
        assert!(out.contains(figure), "no {figure:?} in:\n{out}");
    }
    assert!(out.contains("server peak RSS"), "{out}");
}

#[test]
fn crash_generator_counts_what_it_generated() {
    let out = bench(&["crash-generator", "--count", "5", "--os", "windows"]);
    assert!(out.starts_with("5 crashes in "), "{out}");
}

/// Each figure has a rate, and each pass of it changed something: the scrubbers measure
/// events that still hold what they remove, not one event scrubbed again and again (after the
/// first pass of which the detectors would find nothing).
#[test]
fn event_filter_prints_every_figure_on_unscrubbed_events() {
    let out = bench(&["event-filter", "--seconds", "0.05"]);
    for label in [
        "7 path rules",
        "every built-in detector",
        "parse + 7 path rules + serialise",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} in {out}"));
        let (rate, changes) = line
            .split_once(" events/s, ")
            .unwrap_or_else(|| panic!("no events/s in {line:?}"));
        let rate: f64 = rate
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        assert!(rate > 0.0, "{line}");
        let changes: usize = changes
            .strip_suffix(" values changed per event")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no change count in {line:?}"));
        assert!(changes > 0, "a pass changed nothing: {line}");
    }
}
