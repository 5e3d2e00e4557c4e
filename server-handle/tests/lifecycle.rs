//! A `ServerHandle` over a real loopback socket: it answers a real client at its URL, stops
//! accepting when dropped or shut down, and lets the requests in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http_edge::ConnectionLimits;
use server_handle::ServerHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// How long anything here may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

async fn serve(router: Router) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ServerHandle::serve(listener, router, ConnectionLimits::default()).unwrap()
}

/// Polls until a connection to `addr` is refused; panics at [`DEADLINE`].
async fn refused_within_deadline(addr: SocketAddr) {
    tokio::time::timeout(DEADLINE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{addr} still accepts connections after {DEADLINE:?}"));
}

#[tokio::test]
async fn answers_a_real_client_at_its_url() {
    let server = serve(Router::new().route("/hello", get(|| async { "hi" }))).await;
    assert!(server.addr().ip().is_loopback());
    assert_ne!(server.addr().port(), 0);
    assert_eq!(server.url(), format!("http://{}", server.addr()));

    let response = reqwest::get(format!("{}/hello", server.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hi");
}

#[tokio::test]
async fn dropping_the_handle_stops_accepting() {
    let server = serve(Router::new().route("/", get(|| async { "up" }))).await;
    let addr = server.addr();
    assert!(TcpStream::connect(addr).await.is_ok());

    drop(server);

    refused_within_deadline(addr).await;
}

#[tokio::test]
async fn shutdown_stops_accepting_and_waits_for_requests_in_flight() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let router = Router::new().route(
        "/slow",
        get({
            let (entered, release) = (entered.clone(), release.clone());
            move || async move {
                entered.notify_one();
                release.notified().await;
                "finished"
            }
        }),
    );
    let server = serve(router).await;
    let addr = server.addr();
    let request = tokio::spawn(reqwest::get(format!("{}/slow", server.url())));
    tokio::time::timeout(DEADLINE, entered.notified())
        .await
        .expect("the request reaches its handler");

    let shutdown = tokio::spawn(server.shutdown());
    refused_within_deadline(addr).await;
    // The handler is still held, so shutdown cannot have finished waiting for it.
    assert!(!shutdown.is_finished());

    release.notify_one();
    let response = tokio::time::timeout(DEADLINE, request)
        .await
        .expect("the request in flight is answered")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    tokio::time::timeout(DEADLINE, shutdown)
        .await
        .expect("shutdown returns once the request is answered")
        .unwrap();
}

#[tokio::test]
async fn a_spawned_server_sees_the_stop_signal_on_drop_and_on_shutdown() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 9));
    for shut_down in [false, true] {
        let (stopped, saw_stop) = oneshot::channel();
        let server = ServerHandle::spawn(addr, move |stop| async move {
            stop.await;
            let _ = stopped.send(());
            Ok(())
        });
        assert_eq!(server.addr(), addr);
        if shut_down {
            // Returns only after the serving future has: the signal has been seen.
            server.shutdown().await;
        } else {
            drop(server);
        }
        tokio::time::timeout(DEADLINE, saw_stop)
            .await
            .expect("the serving future sees the stop signal")
            .unwrap();
    }
}
