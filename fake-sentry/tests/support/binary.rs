//! The real `fake-sentry` binary, spawned on an ephemeral port.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the binary may take to print its address.
const STARTUP: Duration = Duration::from_secs(30);

/// The `fake-sentry` binary, serving on an ephemeral port.
pub struct Binary {
    child: Child,
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far, for failure messages.
    stderr: Arc<Mutex<String>>,
}

impl Binary {
    /// Spawns the binary with `--host 127.0.0.1 --port 0` and then `args`, and waits for the
    /// banner that names its address.
    pub async fn start<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_exe(env!("CARGO_BIN_EXE_fake-sentry"), args).await
    }

    /// [`Binary::start`] with another build of fake-sentry (to show that a test fails on an
    /// older one).
    pub async fn start_exe<I, S>(exe: impl AsRef<OsStr>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::spawn(exe.as_ref(), args, "fake_sentry=warn").await
    }

    /// [`Binary::start`] logging what `log_filter` (a `RUST_LOG` value) lets through to its
    /// stderr, instead of warnings only.
    pub async fn start_logging<I, S>(log_filter: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::spawn(env!("CARGO_BIN_EXE_fake-sentry").as_ref(), args, log_filter).await
    }

    async fn spawn<I, S>(exe: &OsStr, args: I, log_filter: &str) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(exe)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            // Only the flags count: no FAKE_SENTRY_* from the environment running the tests.
            .env_clear()
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the fake-sentry binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let banner = tokio::time::timeout(STARTUP, async {
            while let Some(line) = lines.next_line().await.expect("read the binary's stdout") {
                if line.contains(" listening on http://") {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let banner = match banner {
            Ok(Some(line)) => line,
            other => panic!(
                "fake-sentry did not print its address ({}); stderr: {}",
                if other.is_err() {
                    "timed out"
                } else {
                    "stdout closed"
                },
                stderr.lock().unwrap_or_else(|e| e.into_inner())
            ),
        };
        // Keep draining stdout so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = banner
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {banner:?}"));
        Self {
            child,
            addr,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's peak resident set size so far in bytes (`VmHWM` of `/proc/PID/status`);
    /// `None` where there is no such file (not Linux) or the process is gone.
    pub fn peak_rss(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    /// SIGKILL (on Unix): no flush, no graceful shutdown.
    pub async fn kill_9(mut self) {
        self.child.kill().await.expect("kill the binary");
        let status = self.child.wait().await.expect("reap the binary");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(
                status.signal(),
                Some(9),
                "the binary was still running and died of SIGKILL: {status}"
            );
        }
        #[cfg(not(unix))]
        assert!(!status.success(), "killed, not exited: {status}");
    }
}
