//! Durability and retention: an envelope acknowledged with a 200 survives `kill -9` of the real
//! binary (the answer comes only after the SQLite commit), nothing unacknowledged appears, and
//! `max_items` keeps exactly the newest items.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_sentry::Config;
use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// A minimal HTTP/1.1 client over `tokio::net::TcpStream`: one request per connection
/// (`Connection: close`), the body written while the answer is read.
mod http {
    use std::net::SocketAddr;
    use std::time::Duration;

    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Longest any single request may take.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!(
                    "answer (status {}) is not JSON ({e}): {:?}",
                    self.status,
                    self.text()
                )
            })
        }
    }

    /// Sends one request and returns the answer; panics (with the request named) on I/O
    /// failure or after [`REQUEST_TIMEOUT`].
    pub async fn send(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        tokio::time::timeout(
            REQUEST_TIMEOUT,
            exchange(addr, method, target, headers, body),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no answer within {REQUEST_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
    }

    async fn exchange(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if !body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let (mut reader, mut writer) = stream.split();
        // A server may answer (413, 401, …) and close before it has read the whole body; the
        // write then fails, which is fine as long as the answer arrived.
        let write = async {
            writer.write_all(head.as_bytes()).await?;
            writer.write_all(body).await?;
            writer.flush().await
        };
        let read = async {
            let mut buf = Vec::new();
            let result = reader.read_to_end(&mut buf).await;
            (buf, result)
        };
        let (written, (buf, read_result)) = tokio::join!(write, read);
        match parse(&buf) {
            Some(reply) => Ok(reply),
            None => Err(format!(
                "incomplete answer ({} bytes: {:?}); write: {written:?}; read: {read_result:?}",
                buf.len(),
                String::from_utf8_lossy(&buf[..buf.len().min(500)])
            )),
        }
    }

    /// Parses a complete response; `None` if it is cut short.
    fn parse(buf: &[u8]) -> Option<Reply> {
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&buf[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &buf[end + 4..];
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let body = if get("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            dechunk(rest)?
        } else if let Some(len) = get("content-length") {
            rest.get(..len.parse::<usize>().ok()?)?.to_vec()
        } else {
            rest.to_vec()
        };
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                return Some(body);
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    }
}

use http::{Reply, send};

/// How long the binary may take to print its address.
const STARTUP: Duration = Duration::from_secs(30);

fn new_event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An envelope with one event item.
fn event_envelope(event_id: &str, message: &str) -> Vec<u8> {
    let payload = json!({"event_id": event_id, "message": message, "level": "error"}).to_string();
    format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        json!({"event_id": event_id}),
        payload.len()
    )
    .into_bytes()
}

async fn post_envelope(addr: SocketAddr, project: u64, body: &[u8]) -> Reply {
    let target = format!("/api/{project}/envelope/");
    send(
        addr,
        "POST",
        &target,
        &[("Content-Type", "application/x-sentry-envelope")],
        body,
    )
    .await
}

async fn get_json(addr: SocketAddr, target: &str) -> Value {
    let reply = send(addr, "GET", target, &[], b"").await;
    assert_eq!(reply.status, 200, "GET {target}: {}", reply.text());
    reply.json()
}

async fn items_with_event_id(addr: SocketAddr, event_id: &str) -> Vec<Value> {
    let list = get_json(addr, &format!("/api/items/?event_id={event_id}")).await;
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Event ids of every stored item, oldest first (at most 1000).
async fn stored_event_ids(addr: SocketAddr) -> Vec<String> {
    let list = get_json(addr, "/api/items/?order=asc&limit=1000").await;
    assert_eq!(
        list["next_cursor"],
        Value::Null,
        "more than one page stored"
    );
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items list without items: {list}"))
        .iter()
        .map(|i| i["event_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A directory under the system temp dir, removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "fake-sentry-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `fake-sentry` binary, serving on an ephemeral port.
struct Binary {
    child: Child,
    addr: SocketAddr,
    /// Everything it wrote to stderr so far, for failure messages.
    stderr: Arc<Mutex<String>>,
}

impl Binary {
    async fn start(db: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-sentry"))
            .args(["--host", "127.0.0.1", "--port", "0", "--db"])
            .arg(db)
            // Only the flags count: no FAKE_SENTRY_* from the environment running the tests.
            .env_clear()
            .env("RUST_LOG", "fake_sentry=warn")
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

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// SIGKILL (on Unix): no flush, no graceful shutdown.
    async fn kill_9(mut self) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_envelopes_survive_kill_9() {
    const TASKS: usize = 10;
    const PER_TASK: usize = 30;
    let dir = TempDir::new("durability");
    let db = dir.path().join("x.sqlite");

    let first = Binary::start(&db).await;
    let addr = first.addr;
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut refused = Vec::new();
                for n in 0..PER_TASK {
                    let id = new_event_id();
                    let reply = post_envelope(
                        addr,
                        1 + (task % 3) as u64,
                        &event_envelope(&id, &format!("task {task} envelope {n}")),
                    )
                    .await;
                    if reply.status == 200 {
                        assert_eq!(reply.header("content-type"), Some("application/json"));
                        assert_eq!(reply.json(), json!({"id": id}), "answer names the event");
                        acknowledged.push(id);
                    } else {
                        refused.push((reply.status, reply.text()));
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for sender in senders {
        let (acked, failed) = sender.await.expect("sender task");
        acknowledged.extend(acked);
        refused.extend(failed);
    }
    // Killed at once after the last 200: whatever was acknowledged must already be on disk.
    let stderr = first.stderr();
    first.kill_9().await;
    assert!(
        refused.is_empty(),
        "a healthy server refused envelopes: {refused:?}; stderr: {stderr}"
    );
    assert_eq!(acknowledged.len(), TASKS * PER_TASK);

    let second = Binary::start(&db).await;
    let addr = second.addr;
    for id in &acknowledged {
        let items = items_with_event_id(addr, id).await;
        assert_eq!(
            items.len(),
            1,
            "acknowledged event {id} lost after kill -9; stderr: {}",
            second.stderr()
        );
        assert_eq!(items[0]["type"], json!("event"));
    }
    let mut stored = stored_event_ids(addr).await;
    let mut expected = acknowledged.clone();
    stored.sort();
    expected.sort();
    assert_eq!(
        stored, expected,
        "exactly the acknowledged events are stored"
    );
    let stats = get_json(addr, "/api/stats/").await;
    assert_eq!(stats["items"], json!(acknowledged.len()), "{stats}");

    // The reopened database takes new writes, and a long-poll wait sees them.
    let id = new_event_id();
    let reply = post_envelope(addr, 1, &event_envelope(&id, "after the restart")).await;
    assert_eq!(reply.status, 200, "after restart: {}", reply.text());
    let waited = get_json(addr, &format!("/api/wait/?event_id={id}&timeout=10")).await;
    assert_eq!(waited["satisfied"], json!(true), "{waited}");
    assert_eq!(
        get_json(addr, "/api/stats/").await["items"],
        json!(acknowledged.len() + 1)
    );
    second.kill_9().await;
}

#[tokio::test]
async fn max_items_keeps_exactly_the_newest() {
    const KEEP: usize = 50;
    const SENT: usize = 80;
    let sentry = FakeSentry::start_with(Config {
        max_items: KEEP,
        ..Config::ephemeral()
    })
    .await
    .expect("start fake-sentry");
    let addr = sentry.addr();
    let mut ids = Vec::new();
    for n in 0..SENT {
        let id = new_event_id();
        let reply = post_envelope(addr, 1, &event_envelope(&id, &format!("envelope {n}"))).await;
        assert_eq!(reply.status, 200, "envelope {n}: {}", reply.text());
        ids.push(id);
    }
    let newest = &ids[SENT - KEEP..];
    assert_eq!(
        stored_event_ids(addr).await,
        newest,
        "the newest {KEEP}, oldest first"
    );
    assert_eq!(get_json(addr, "/api/stats/").await["items"], json!(KEEP));
    for evicted in [&ids[0], &ids[SENT - KEEP - 1]] {
        assert!(
            items_with_event_id(addr, evicted).await.is_empty(),
            "{evicted} should be evicted"
        );
        let reply = send(addr, "GET", &format!("/api/event/{evicted}"), &[], b"").await;
        assert_eq!(reply.status, 404, "{evicted} still resolves");
    }
    for kept in [&ids[SENT - KEEP], &ids[SENT - 1]] {
        assert_eq!(
            items_with_event_id(addr, kept).await.len(),
            1,
            "{kept} should be kept"
        );
    }
    let list = get_json(addr, "/api/eventlist/").await;
    assert_eq!(
        list["events"].as_array().map(Vec::len),
        Some(KEEP),
        "Kent's list agrees"
    );
}
