//! The edge over real sockets: slow and idle clients are cut off, the connection cap holds and
//! frees its slots, oversized heads are refused, the boundary and the safety headers apply, and
//! shutdown finishes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use http_edge::{BrowserBoundary, ConnectionLimits, HostAllowlist};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ConnectionLimits) -> Running {
    let boundary = BrowserBoundary::new(HostAllowlist::default().with_names(["sentry.internal"]));
    let ingest = Router::new().route("/ingest", post(|| async { "stored" }));
    let private = boundary.protect(
        Router::new()
            .route("/api/items", get(|| async { "[]" }))
            .route("/api/flush", post(|| async { "flushed" })),
    );
    let router = http_edge::harden(ingest.merge(private));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(http_edge::serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Sends `request` as written and reads until the server closes or `deadline` passes.
async fn exchange(addr: SocketAddr, request: &[u8], deadline: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(deadline, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn get_status(addr: SocketAddr, path: &str, extra: &str) -> String {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n");
    exchange(addr, request.as_bytes(), Duration::from_secs(10)).await
}

/// Polls until the connection is closed by the server; `Err` with what arrived at `deadline`.
async fn closed_within(stream: &mut TcpStream, deadline: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(deadline, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Ok(received),
        Err(_) => Err(received),
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected_at_the_deadline() {
    let server = start(ConnectionLimits {
        header_read_timeout: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /api/items HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // One more header line every 100 ms would keep a server without a head deadline waiting
    // for ever; this one closes the connection once 400 ms have passed.
    let mut closed = false;
    for n in 0..50 {
        if slow
            .write_all(format!("X-Slow-{n}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(100), slow.read(&mut byte)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling client was never disconnected");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The service itself answers on.
    assert!(
        get_status(server.addr, "/api/items", "")
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn idle_connections_are_closed_and_the_connection_cap_frees_its_slots() {
    let server = start(ConnectionLimits {
        max_connections: 4,
        header_read_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // All four slots are held by idle clients, so a fifth waits in the backlog, and is served
    // once the head deadline has closed the idle ones.
    let started = Instant::now();
    let answer = get_status(server.addr, "/api/items", "").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the cap did not hold: served after {:?}",
        started.elapsed()
    );
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(5)).await.is_ok());
    }
}

#[tokio::test]
async fn too_many_headers_or_too_long_a_head_is_refused_with_431() {
    let server = start(ConnectionLimits {
        max_headers: 20,
        max_head_bytes: 16 * 1024,
        ..Default::default()
    })
    .await;
    let many: String = (0..21).map(|n| format!("X-Many-{n}: 1\r\n")).collect();
    let answer = get_status(server.addr, "/api/items", &many).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let long = format!("X-Long: {}\r\n", "a".repeat(20 * 1024));
    let answer = get_status(server.addr, "/api/items", &long).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let few: String = (0..10).map(|n| format!("X-Few-{n}: 1\r\n")).collect();
    assert!(
        get_status(server.addr, "/api/items", &few)
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn private_routes_refuse_rebound_hosts_and_cross_site_writes_ingest_does_not() {
    let server = start(ConnectionLimits::default()).await;
    let send = |request: String| async move {
        exchange(server.addr, request.as_bytes(), Duration::from_secs(10)).await
    };
    let rebound = send(
        "GET /api/items HTTP/1.1\r\nHost: attacker.example:8000\r\nConnection: close\r\n\r\n"
            .into(),
    )
    .await;
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    assert!(rebound.contains("not allowed here"), "{rebound}");
    let listed = send(
        "GET /api/items HTTP/1.1\r\nHost: sentry.internal:8000\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    assert!(
        !listed
            .to_ascii_lowercase()
            .contains("access-control-allow-origin")
    );
    assert!(
        listed
            .to_ascii_lowercase()
            .contains("cross-origin-resource-policy: same-origin")
    );

    let cross_site_flush = send(
        "POST /api/flush HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nOrigin: https://evil.example\r\n\
         Sec-Fetch-Site: cross-site\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .into(),
    )
    .await;
    assert!(
        cross_site_flush.starts_with("HTTP/1.1 403"),
        "{cross_site_flush}"
    );
    let own_page_flush = send(
        "POST /api/flush HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nOrigin: http://127.0.0.1:8000\r\n\
         Sec-Fetch-Site: same-origin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .into(),
    )
    .await;
    assert!(
        own_page_flush.starts_with("HTTP/1.1 200"),
        "{own_page_flush}"
    );
    // Ingest is not behind the boundary: browser SDKs post from every origin and host name.
    let ingest = send(
        "POST /ingest HTTP/1.1\r\nHost: attacker.example\r\nOrigin: https://app.example\r\n\
         Sec-Fetch-Site: cross-site\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .into(),
    )
    .await;
    assert!(ingest.starts_with("HTTP/1.1 200"), "{ingest}");
    // Every answer, ingest included, is sandboxed and not sniffed.
    for answer in [&rebound, &listed, &ingest] {
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("content-security-policy: sandbox"),
            "{answer}"
        );
        assert!(
            lower.contains("x-content-type-options: nosniff"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes() {
    let mut server = start(ConnectionLimits::default()).await;
    assert!(
        get_status(server.addr, "/api/items", "")
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop.take().unwrap().send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(10), &mut server.task).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_at_the_idle_deadline_a_slow_one_does_not() {
    use axum::body::Bytes;
    let router = Router::new().route(
        "/upload",
        post(|body: Bytes| async move { format!("got {}", body.len()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = ConnectionLimits {
        body_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    tokio::spawn(http_edge::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));

    // 40 bytes, one every 100 ms: slower than the whole body would take at any real rate, but
    // never idle for 300 ms, so it is read whole.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..40 {
        slow.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = closed_within(&mut slow, Duration::from_secs(10))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("got 40"),
        "{answer}"
    );

    // Half a body, then nothing: the read fails once 300 ms pass, instead of waiting for ever.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stalled
        .write_all(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\nxxxxxxxxxxxxxxxxxxxx")
        .await
        .unwrap();
    let answer = closed_within(&mut stalled, Duration::from_secs(10))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
