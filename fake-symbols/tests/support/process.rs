//! A spawned `fake-symbols` process with its peak RSS, and raw HTTP exchanges over a socket,
//! for the hostile-input suite.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` and then `body` (each write may fail once the server answered early), and
/// returns the status line of the answer, or `None` when the connection closed without one,
/// within `deadline`.
pub async fn raw_exchange(
    addr: std::net::SocketAddr,
    head: String,
    body: Vec<Vec<u8>>,
    deadline: Duration,
) -> Option<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for piece in body {
            writer.write_all(&piece).await?;
        }
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(2).any(|w| w == b"\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    sender.abort();
    assert!(read.is_ok(), "no answer within {deadline:?}");
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().map(str::to_string)
}

/// A `fake-symbols` process on a free port, killed when dropped.
pub struct Spawned {
    pub url: String,
    child: Child,
    /// Kept open: the server prints more after its URL, and a closed pipe would fail it.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Spawned {
    pub fn start(token: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-symbols"))
            .args(["--port", "0", "--token", &format!("{token}:upload")])
            .arg("--symbols-dir")
            .arg(dir.path())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        let mut stdout = std::io::BufReader::new(stdout);
        stdout.read_line(&mut first).unwrap();
        let url = first.rsplit(' ').next().unwrap().trim().to_string();
        assert!(url.starts_with("http://"), "{first}");
        Self {
            child,
            url,
            _stdout: stdout,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    /// Peak resident set size so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
