//! Debian's `wrk` (4.1) as a second load generator, so that a figure does not rest on this
//! crate's client alone: `wrk -t1 -c{connections} -d{seconds}s` posts what the built-in client
//! posts (the same headers, the same gzip fixture) through a Lua script written to a temporary
//! file, and the script's `done` hook prints one machine-readable line with the figures, which
//! become an ordinary [`BenchResult`] row.
//!
//! How it differs from the built-in client, and why both exist:
//!
//! - wrk is a closed loop: each connection sends its next request when the last is answered,
//!   so a stall holds back the requests it would have sent and shows as one slow request per
//!   connection (coordinated omission). Its percentiles say what a busy client saw, not what
//!   a client sending at a given rate would; that is the built-in client's `--rate` mode.
//! - wrk posts one fixed body, so every request carries the same event id (the built-in
//!   client cycles through [`super::DISTINCT_EVENTS`] ids). fake-sentry stores every
//!   duplicate as an item of its own, so the stored rows are the same work; only an index
//!   keyed by event id would see the difference.
//! - wrk's `-d` has whole seconds: a duration is rounded up to the next second (at least 1).
//! - Errors are wrk's socket errors (connect, read, write, timeout) and its status errors,
//!   which count responses with a status above 399; a success is any other response. The
//!   built-in client counts only a 200 as a success; fake-sentry's envelope endpoint answers
//!   200 or an error status, so the two agree there.
//! - The latencies are wrk's own histogram (microseconds), which includes the error responses.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use super::{BenchError, BenchResult, LatencySummary, PYTHON_ERROR_ENVELOPE_GZ, authority};

/// The marker that starts the line the script's `done` hook prints.
const RESULT_MARKER: &str = "understudy-wrk-result";

/// How long wrk waits for one response before counting a timeout (its default, 2 s, would
/// drop a longer stall from the latencies altogether).
const RESPONSE_TIMEOUT: &str = "60s";

/// Runs `wrk` against `base_url`'s envelope endpoint with `connections` connections for
/// `duration` (rounded up to whole seconds).
pub async fn drive(
    wrk: &Path,
    label: &str,
    base_url: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<BenchResult> {
    // The same check the built-in client makes, so a bad URL fails the same way.
    authority(base_url)?;
    let url = format!("{}/api/1/envelope/", base_url.trim_end_matches('/'));
    let mut script = tempfile::Builder::new()
        .prefix("understudy-wrk-")
        .suffix(".lua")
        .tempfile()?;
    script.write_all(lua_script(PYTHON_ERROR_ENVELOPE_GZ).as_bytes())?;
    script.flush()?;
    let seconds = duration.as_secs_f64().ceil().max(1.0) as u64;
    let output = tokio::process::Command::new(wrk)
        .arg("-t1")
        .arg(format!("-c{}", connections.max(1)))
        .arg(format!("-d{seconds}s"))
        .args(["--timeout", RESPONSE_TIMEOUT, "-s"])
        .arg(script.path())
        .arg(&url)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| {
            format!(
                "cannot run {} (Debian: apt-get install wrk; or give its path with --wrk-path)",
                wrk.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{} exited with {}:\n{stdout}{}",
            wrk.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let figures = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_MARKER))
        .with_context(|| format!("wrk printed no {RESULT_MARKER} line:\n{stdout}"))?;
    WrkFigures::parse(figures)?.into_result(label)
}

/// What the script's `done` hook prints, in wrk's units (microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WrkFigures {
    duration_us: u64,
    /// Every complete response, whatever its status.
    requests: u64,
    /// Socket errors: connect, read, write and timeout.
    socket_errors: u64,
    /// Responses with a status above 399.
    status_errors: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
}

impl WrkFigures {
    /// Parses ` key=value key=value ...` (the line after its marker).
    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut figures = WrkFigures::default();
        for pair in text.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("not key=value: {pair:?} in {text:?}"))?;
            // Lua formats every number with %.0f, so each is a whole number.
            let value: u64 = value
                .parse()
                .with_context(|| format!("not a count: {pair:?} in {text:?}"))?;
            let field = match key {
                "duration_us" => &mut figures.duration_us,
                "requests" => &mut figures.requests,
                "socket_errors" => &mut figures.socket_errors,
                "status_errors" => &mut figures.status_errors,
                "p50_us" => &mut figures.p50,
                "p90_us" => &mut figures.p90,
                "p99_us" => &mut figures.p99,
                "p999_us" => &mut figures.p999,
                "max_us" => &mut figures.max,
                _ => continue,
            };
            *field = value;
        }
        if figures.duration_us == 0 {
            bail!("wrk reported no duration: {text:?}");
        }
        Ok(figures)
    }

    fn into_result(self, label: &str) -> anyhow::Result<BenchResult> {
        let answered = self.requests.saturating_sub(self.status_errors);
        let errors = self.socket_errors + self.status_errors;
        if answered == 0 {
            return Err(BenchError::AllFailed(errors).into());
        }
        Ok(BenchResult {
            label: label.to_string(),
            requests: answered,
            errors,
            elapsed: Duration::from_micros(self.duration_us),
            latency: LatencySummary {
                p50: Duration::from_micros(self.p50),
                p90: Duration::from_micros(self.p90),
                p99: Duration::from_micros(self.p99),
                p999: Duration::from_micros(self.p999),
                max: Duration::from_micros(self.max),
            },
            rate: None,
        })
    }
}

/// The script wrk runs: the request (the built-in client's headers; wrk adds Host and
/// Content-Length) and a `done` hook that prints the figures on one line. wrk's `--latency`
/// text has only p50, p75, p90 and p99, and rounds them for reading.
fn lua_script(body: &[u8]) -> String {
    format!(
        r#"-- Written by `bench fake-sentry --wrk`: posts a sentry-sdk error envelope.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-sentry-envelope"
wrk.headers["Content-Encoding"] = "gzip"
wrk.headers["User-Agent"] = "sentry.python/2.75.0"
wrk.headers["X-Sentry-Auth"] = "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0"
wrk.headers["Accept-Encoding"] = "identity"
wrk.body = "{body}"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "{RESULT_MARKER} duration_us=%.0f requests=%.0f socket_errors=%.0f status_errors=%.0f " ..
    "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
    summary.duration, summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"#,
        body = lua_string(body)
    )
}

/// `bytes` as the inside of a double-quoted Lua string: printable ASCII as itself, everything
/// else (and `"` and `\`) as a three-digit decimal escape, which LuaJIT reads back byte for
/// byte whatever follows it.
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        match byte {
            0x20..=0x7e if byte != b'"' && byte != b'\\' => out.push(byte as char),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\{byte:03}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_line_becomes_a_row() {
        let figures = WrkFigures::parse(
            " duration_us=2000000 requests=1000 socket_errors=1 status_errors=10 \
             p50_us=500 p90_us=900 p99_us=1500 p999_us=4000 max_us=9000",
        )
        .unwrap();
        let result = figures.into_result("file (wrk)").unwrap();
        assert_eq!((result.requests, result.errors), (990, 11));
        assert_eq!(result.per_second(), 495.0);
        assert_eq!(result.latency.p999, Duration::from_micros(4000));
        assert_eq!(result.latency.max, Duration::from_millis(9));
    }

    #[test]
    fn only_errors_is_a_failure() {
        let figures =
            WrkFigures::parse(" duration_us=1000000 requests=5 socket_errors=0 status_errors=5")
                .unwrap();
        assert!(figures.into_result("x").is_err());
    }

    #[test]
    fn lua_strings_escape_every_byte_that_is_not_plain() {
        assert_eq!(
            lua_string(b"a\"b\\c\x1f\x8b\n1"),
            "a\\034b\\092c\\031\\139\\0101"
        );
    }
}
