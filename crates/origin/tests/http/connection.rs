// SPDX-License-Identifier: MIT OR Apache-2.0
//! Connection-level behaviour: keep-alive, HTTP/2 with prior knowledge, slowloris timeouts,
//! the connection limit and graceful shutdown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::common::*;

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let mut conn = Conn::open(server.addr).await;
    let a = conn.request("GET", "/seg10.ts", &[]).await;
    let b = conn
        .request("HEAD", "/live.m3u8", &[("accept-encoding", "gzip")])
        .await;
    let c = conn.request("GET", "/missing.ts", &[]).await;
    let d = conn
        .request("GET", "/seg10.ts", &[("range", "bytes=0-0")])
        .await;
    assert_eq!(
        (a.status, b.status, c.status, d.status),
        (200, 200, 404, 206)
    );
    assert_eq!(a.body, pattern_bytes(1880));
    assert_eq!(d.body, vec![pattern(0)]);
    assert!(a
        .header("connection")
        .is_none_or(|v| !v.eq_ignore_ascii_case("close")));
}

async fn h2_get(
    sender: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (hyper::http::response::Parts, Vec<u8>) {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://test{path}"));
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(Empty::<Bytes>::new()).expect("request");
    let res = sender.send_request(req).await.expect("h2 response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("h2 body").to_bytes().to_vec();
    (parts, body)
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);

    // Concurrent streams on one connection.
    let (mut s1, mut s2, mut s3) = (sender.clone(), sender.clone(), sender.clone());
    let (seg, big, pl) = tokio::join!(
        h2_get(
            &mut s1,
            Method::GET,
            "/seg10.ts",
            &[("range", "bytes=10-19")]
        ),
        h2_get(&mut s2, Method::GET, "/big.ts", &[]),
        h2_get(
            &mut s3,
            Method::GET,
            "/live.m3u8",
            &[("accept-encoding", "gzip")]
        ),
    );
    assert_eq!(seg.0.version, Version::HTTP_2);
    assert_eq!(seg.0.status, 206);
    assert_eq!(seg.1, (10..20).map(pattern).collect::<Vec<_>>());
    assert_eq!(big.0.status, 200);
    assert_eq!(big.1.len(), BIG_LEN);
    assert!(big.1 == pattern_bytes(BIG_LEN), "big body differs");
    assert_eq!(
        pl.0.headers.get("content-encoding").map(|v| v.as_bytes()),
        Some(b"gzip".as_slice())
    );
    assert_eq!(gunzip(&pl.1), LIVE_M3U8.as_bytes());

    let mut s4 = sender.clone();
    let (head, body) = h2_get(&mut s4, Method::HEAD, "/seg10.ts", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get("content-length").map(|v| v.as_bytes()),
        Some(b"1880".as_slice())
    );
    assert!(body.is_empty());
    let (missing, _) = h2_get(&mut s4, Method::GET, "/nope.ts", &[]).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn slow_or_silent_clients_are_disconnected() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.header_read_timeout_secs = 1;
    let server = TestServer::start(config).await;
    let limit = Duration::from_secs(4);

    let mut silent = Conn::open(server.addr).await;
    let mut partial_h1 = Conn::open(server.addr).await;
    partial_h1
        .send_raw(b"GET /seg10.ts HTTP/1.1\r\nHost: test\r\n")
        .await;
    let mut partial_h2 = Conn::open(server.addr).await;
    partial_h2.send_raw(b"PRI * HTTP/2.0\r\n").await;
    let mut idle = Conn::open(server.addr).await;
    assert_eq!(idle.request("GET", "/seg10.ts", &[]).await.status, 200);

    let start = Instant::now();
    let (a, b, c, d) = tokio::join!(
        silent.closed_within(limit),
        partial_h1.closed_within(limit),
        partial_h2.closed_within(limit),
        idle.closed_within(limit),
    );
    assert_eq!(
        (a, b, c, d),
        (true, true, true, true),
        "silent, partial h1 head, partial h2 preface, idle"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "closed too early: {:?}",
        start.elapsed()
    );

    // A prompt client is unaffected.
    assert_eq!(server.get("/seg10.ts", &[]).await.status, 200);
}

#[tokio::test]
async fn connection_limit_queues_extra_clients() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.max_connections = 2;
    let server = TestServer::start(config).await;
    let mut c1 = Conn::open(server.addr).await;
    let mut c2 = Conn::open(server.addr).await;
    assert_eq!(c1.request("GET", "/seg10.ts", &[]).await.status, 200);
    assert_eq!(c2.request("GET", "/seg10.ts", &[]).await.status, 200);

    // The third connection completes the TCP handshake (listen backlog) but is not served.
    let mut c3 = Conn::open(server.addr).await;
    c3.send("GET", "/seg10.ts", &[]).await;
    let early = tokio::time::timeout(Duration::from_millis(500), c3.read_head()).await;
    assert!(
        early.is_err(),
        "third connection served despite max_connections = 2"
    );

    drop(c1);
    let served = tokio::time::timeout(Duration::from_secs(3), c3.read_response("GET")).await;
    assert_eq!(
        served.ok().flatten().map(|r| r.status),
        Some(200),
        "third connection served after one closed"
    );
    assert_eq!(c2.request("GET", "/live.m3u8", &[]).await.status, 200);
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_responses() {
    let fx = Fixture::new();
    // Larger than loopback socket buffers, so the response is still being written at shutdown.
    let len = 48 * 1024 * 1024;
    fx.write("huge.ts", &vec![7u8; len]);
    let mut server = TestServer::start(fx.config()).await;
    let addr = server.addr;

    let mut idle = Conn::open(addr).await;
    assert_eq!(idle.request("GET", "/seg10.ts", &[]).await.status, 200);
    let mut busy = Conn::open(addr).await;
    busy.send("GET", "/huge.ts", &[]).await;
    let head = busy.read_head().await.expect("response head");
    assert_eq!(head.status, 200);

    server.signal_stop();
    // The idle keep-alive connection is closed promptly…
    assert!(
        idle.closed_within(Duration::from_secs(3)).await,
        "idle connection not closed"
    );
    // …new connections are refused once the listener is gone…
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "still accepting after shutdown");
    // …and the in-flight body arrives complete.
    let body = busy
        .read_body_bytes(len)
        .await
        .expect("complete body after shutdown began");
    assert!(body.iter().all(|&b| b == 7));
    assert!(server.stop().await.is_ok());
}

#[tokio::test]
async fn shutdown_timeout_drops_stalled_clients() {
    let fx = Fixture::new();
    fx.write("huge.ts", &vec![7u8; 48 * 1024 * 1024]);
    let mut config = fx.config();
    config.shutdown_timeout_secs = 1;
    let server = TestServer::start(config).await;
    let mut stalled = Conn::open(server.addr).await;
    stalled.send("GET", "/huge.ts", &[]).await;
    assert_eq!(stalled.read_head().await.map(|r| r.status), Some(200));
    // The client never reads the body.
    let start = Instant::now();
    assert!(server.stop().await.is_ok());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "stopped after {took:?}"
    );
    // Buffered bytes drain, then EOF: the connection was dropped.
    assert!(
        stalled.closed_within(Duration::from_secs(10)).await,
        "stalled connection still open"
    );
}
