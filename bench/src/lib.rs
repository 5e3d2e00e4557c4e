//! Understudy's benchmarks, kept out of the libraries they measure.
//!
//! Each module measures one crate from the outside, through the API a user of that crate has,
//! and returns or prints figures; none of them asserts a time. The `bench` binary (`main.rs`)
//! is the command line over them, on mimalloc as the services run; `bench-parse-footprint`
//! (`src/bin/`) is the one binary whose allocator counts heap bytes:
//!
//! - [`sentry_ingest`]: fake-sentry's ingest throughput and latency over loopback, against
//!   in-process servers (memory and file SQLite) and optionally a peer such as Kent, in one
//!   run; [`sentry_ui`] times the web UI's pages over a large store; [`sentry_suite`] runs the
//!   chosen targets as one table (`bench fake-sentry`), driven by the built-in client and
//!   optionally Debian's wrk ([`sentry_ingest::wrk`]), with [`kent`] started as a peer.
//! - [`sentry_db`]: fake-sentry on a large database file in a process of its own: fill rate,
//!   disk per envelope, search and page times, restart time and RSS under sustained load
//!   (`bench fake-sentry-db`). [`sentry_process`] starts fake-sentry's real command line in a
//!   process of its own (also for `bench fake-sentry --server-process`), and [`child_server`]
//!   runs it (and Kent) as a child process.
//! - [`sentry_logs`]: fake-sentry's `/logs` page and `/api/logs/` per filter over 100,000
//!   stored log entries, in memory and on a file (`bench fake-sentry-logs`).
//! - [`sentry_minidumps`]: fake-sentry's native crash pipeline in a process of its own:
//!   crash-generator dumps processed per second with a warm symbol cache, and ingest throughput
//!   with and without dumps being processed beside it (`bench fake-sentry-minidumps`).
//! - [`symbols_server`]: fake-symbols' download, upload and symbolication with the server's
//!   peak RSS, the server running as this binary in a process of its own; [`parse_footprint`]
//!   gives the parsed size of a module, measured by `bench-parse-footprint`'s counting
//!   allocator (`bench fake-symbols`).
//! - [`crash_generation`]: crashes generated per second on one core (`bench crash-generator`).
//! - [`scrub_speed`]: event-filter's scrubbing rate on one core, for path rules, every
//!   built-in detector and the CLI's parse + scrub + serialise, optionally against Fillmore in
//!   the same run (`bench event-filter`).
//! - [`demo_run`]: the harness's demo corpus end to end, with each stage's share of the time
//!   (`bench harness`).
//! - [`scratch`]: the working directory a bench runs in (`--dir`, or a temporary one).
//!
//! Dated figures live in `docs/benchmarks.md`.

pub mod child_server;
pub mod crash_generation;
pub mod demo_run;
pub mod kent;
pub mod parse_footprint;
pub mod scratch;
pub mod scrub_speed;
pub mod sentry_db;
pub mod sentry_ingest;
pub mod sentry_logs;
pub mod sentry_minidumps;
pub mod sentry_process;
pub mod sentry_suite;
pub mod sentry_ui;
pub mod symbols_server;
