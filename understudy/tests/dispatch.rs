//! The multi-call binary run as each tool, by symlink and by subcommand, over a real socket
//! where a tool serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_understudy");

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .output()
        .expect("run understudy")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A symlink named `name` to the binary, in a directory of its own.
fn symlink(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    (dir, link)
}

#[test]
fn each_tool_answers_as_itself_by_subcommand_and_by_symlink() {
    let version = env!("CARGO_PKG_VERSION");
    for tool in ["fake-sentry", "fake-symbols", "harness"] {
        let by_subcommand = run(BIN, &[tool, "--version"]);
        assert!(by_subcommand.status.success(), "{tool}: {by_subcommand:?}");
        assert_eq!(stdout(&by_subcommand), format!("{tool} {version}\n"));

        let (_dir, link) = symlink(tool);
        let by_symlink = run(&link, &["--version"]);
        assert!(by_symlink.status.success(), "{tool}: {by_symlink:?}");
        assert_eq!(stdout(&by_symlink), format!("{tool} {version}\n"));
    }
}

#[test]
fn a_tool_s_help_and_errors_name_the_tool() {
    let help = run(BIN, &["harness", "--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    assert!(text.contains("Usage: harness"), "{text}");
    for command in ["up", "run", "demo", "diff"] {
        assert!(text.contains(command), "no {command} in {text}");
    }
    let (_dir, link) = symlink("fake-sentry");
    let wrong = run(&link, &["--no-such-flag"]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("Usage: fake-sentry"), "{err}");
}

#[test]
fn no_tool_prints_the_usage() {
    let nothing = run(BIN, &[]);
    assert_eq!(nothing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&nothing.stderr);
    for tool in ["fake-sentry", "fake-symbols", "harness"] {
        assert!(err.contains(tool), "{err}");
    }
    let unknown = run(BIN, &["kent"]);
    assert_eq!(unknown.status.code(), Some(2));
    let help = run(BIN, &["--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("Usage: understudy <TOOL>"));
}

/// Reads the child's stdout until a line holds `http://`, and returns the address after it and
/// the rest of stdout, which must stay open: the tool prints more, and a closed pipe ends it.
fn announced_addr(
    child: &mut std::process::Child,
) -> (String, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .find_map(|line| line.ok().filter(|l| l.contains(" listening on http://")))
        .expect("the tool announces its address");
    let addr = line
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .trim_end_matches('/');
    (addr.to_string(), lines)
}

fn heartbeat(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /__lbheartbeat__ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn both_services_serve_through_the_one_binary() {
    for (tool, by_symlink) in [("fake-sentry", true), ("fake-symbols", false)] {
        let (_dir, link) = symlink(tool);
        let mut command = match by_symlink {
            true => Command::new(&link),
            false => {
                let mut command = Command::new(BIN);
                command.arg(tool);
                command
            }
        };
        let mut child = command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env_clear()
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        let (addr, _rest_of_stdout) = announced_addr(&mut child);
        let answer = heartbeat(&addr);
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{tool} after {:?}: {answer}",
            started.elapsed()
        );
    }
}

/// fake-sentry's minidump workers, run as the multi-call binary (`fake-sentry
/// process-minidump`, as the image runs them), are held to `--minidump-max-memory`: with mimalloc
/// as the allocator, whose arena must not count from the start. A dump whose symbol files take
/// several times 8 MiB to parse fails within 8 MiB (what the allocator has committed and not
/// used yet comes on top of a limit, so the dump must need more than that) and processes, with
/// its symbols, within 256 MiB.
#[tokio::test]
async fn fake_sentry_s_workers_are_held_to_their_memory_limit_in_the_multi_call_binary() {
    use crash_generator::{Crash, OsFlavor, Profile, Span};
    use crash_processing::{Limits, Processor, SymbolSources, WorkerCommand};
    const SMALL: u64 = 8 << 20;
    let crash = Crash::generate(
        &Profile {
            functions_per_module: Span(20_000, 20_000),
            ..Profile::for_os(OsFlavor::Linux)
        },
        7,
    );
    let symbols = tempfile::tempdir().expect("symbols dir");
    let mut sym_bytes = 0;
    for (path, bytes) in crash.sym_files() {
        let path = symbols.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a sym file's folder")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write a sym file");
        sym_bytes += bytes.len() as u64;
    }
    assert!(sym_bytes > 2 * SMALL, "only {sym_bytes} bytes of symbols");
    let cache = tempfile::tempdir().expect("cache dir");
    let sources = SymbolSources {
        dirs: vec![symbols.path().to_path_buf()],
        ..SymbolSources::http(Vec::new(), cache.path(), Duration::from_secs(1))
    };
    let processor = |max_memory: u64| {
        Processor::new(
            &sources,
            Limits {
                timeout: Some(Duration::from_secs(60)),
                max_memory: Some(max_memory),
                ..Limits::default()
            },
        )
        .isolated(
            WorkerCommand::new(BIN)
                .arg0("fake-sentry")
                .arg("process-minidump"),
        )
    };
    let failure = processor(SMALL)
        .process_to_json(crash.minidump_bytes())
        .await
        .expect_err("processing within 8 MiB");
    assert_eq!(failure.name, "MemoryLimit", "{failure}");
    let processed = processor(256 << 20)
        .process_to_json(crash.minidump_bytes())
        .await
        .expect("processing within 256 MiB");
    assert_eq!(processed["status"], "OK", "{processed}");
    let symbolicated = processed["crashing_thread"]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter(|frame| frame["function"].is_string())
        .count();
    assert!(symbolicated > 0, "no frame has a function: {processed}");
}
