//! A minimal HTTP/1.1 client over `tokio::net::TcpStream`: one request per connection
//! (`Connection: close`), the body written while the answer is read. Raw sockets let a test send
//! bodies as broken as it needs, and a server that answers before reading the whole body is fine.

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
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
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

/// Sends `request` (head and body, exactly as given: invalid UTF-8 and all) on a new
/// connection and returns the answer, or `None` when the connection ends without a complete
/// one (a server may refuse a malformed head by closing).
pub async fn send_raw(addr: SocketAddr, request: &[u8]) -> Option<Reply> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let (mut reader, mut writer) = stream.split();
        let write = async {
            writer.write_all(request).await?;
            writer.flush().await
        };
        let read = async {
            let mut buf = Vec::new();
            let _ = reader.read_to_end(&mut buf).await;
            buf
        };
        let (_, buf) = tokio::join!(write, read);
        parse(&buf)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("raw request: no answer within {REQUEST_TIMEOUT:?}"))
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
    let body = if get("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
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

/// GETs `target` and parses JSON, asserting a 200.
pub async fn get_json(addr: SocketAddr, target: &str) -> Value {
    let reply = send(addr, "GET", target, &[], b"").await;
    assert_eq!(reply.status, 200, "GET {target}: {}", reply.text());
    reply.json()
}

/// Items stored for one Sentry event id.
pub async fn items_with_event_id(addr: SocketAddr, event_id: &str) -> Vec<Value> {
    let list = get_json(addr, &format!("/api/items/?event_id={event_id}")).await;
    list["items"].as_array().cloned().unwrap_or_default()
}
