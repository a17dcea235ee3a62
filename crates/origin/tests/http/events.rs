// SPDX-License-Identifier: MIT OR Apache-2.0
//! `/api/events`: a real WebSocket client (tokio-tungstenite, which checks
//! `Sec-WebSocket-Accept`), raw HTTP/1.1 for long-poll and SSE, events published into the
//! server's own hub.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use origin::events::{Events, Payload, StreamKind};
use origin::ServeConfig;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::common::{Conn, Fixture, TestServer};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

fn added(events: &Events, stream: &str) -> u64 {
    let payload = Payload::StreamAdded {
        kind: StreamKind::Live,
        playlist: format!("{stream}/master.m3u8"),
    };
    events.publish(stream, "run1", payload)
}

fn segment(events: &Events, stream: &str, msn: u64) -> u64 {
    let payload = Payload::SegmentPublished {
        rendition: "720p".into(),
        msn,
        duration: 2.0,
        bytes: 1000,
        discontinuity: false,
        parts: None,
    };
    events.publish(stream, "run1", payload)
}

async fn connect(server: &TestServer, query: &str) -> Ws {
    let url = format!("ws://{}/api/events{query}", server.addr);
    match tokio::time::timeout(WAIT, connect_async(url.as_str())).await {
        Ok(Ok((ws, res))) => {
            assert_eq!(res.status(), 101);
            ws
        }
        Ok(Err(e)) => panic!("connect {url}: {e}"),
        Err(_) => panic!("connect {url}: timeout"),
    }
}

/// The next data message (pings are skipped), as JSON; `None` on close or end.
async fn next_json(ws: &mut Ws) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            _ => return None,
        }
    }
}

/// Reads until the close frame: its code and reason.
async fn close_code(ws: &mut Ws) -> Option<(u16, String)> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match tokio::time::timeout(WAIT, ws.next()).await.ok()? {
            Some(Ok(Message::Close(Some(f)))) => {
                return Some((f.code.into(), f.reason.to_string()))
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
    None
}

fn seqs(items: &[serde_json::Value]) -> Vec<u64> {
    items.iter().filter_map(|v| v["seq"].as_u64()).collect()
}

#[tokio::test]
async fn websocket_in_order_and_resume_loses_and_repeats_nothing() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let mut ws = connect(&server, "").await;
    let first = added(&events, "news");
    for msn in 0..3 {
        segment(&events, "news", msn);
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_json(&mut ws).await.expect("event"));
    }
    assert_eq!(seqs(&got), vec![first, first + 1, first + 2, first + 3]);
    assert_eq!(got[0]["type"], "stream.added");
    assert_eq!(got[0]["stream"], "news");
    assert_eq!(got[3]["data"]["msn"], 2);
    let resume_from = seqs(&got)[1];
    drop(ws);
    // Published while no one listens.
    for msn in 3..5 {
        segment(&events, "news", msn);
    }
    let mut ws = connect(&server, &format!("?since={resume_from}")).await;
    let mut resumed = Vec::new();
    for _ in 0..4 {
        resumed.push(next_json(&mut ws).await.expect("resumed event"));
    }
    let want: Vec<u64> = (resume_from + 1..=resume_from + 4).collect();
    assert_eq!(seqs(&resumed), want);
    assert_eq!(resumed[3]["data"]["msn"], 4);
}

#[tokio::test]
async fn websocket_filters_by_stream_and_type() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let mut ws = connect(&server, "?stream=b&stream=c&types=segment.published").await;
    added(&events, "b");
    segment(&events, "a", 0);
    let want_b = segment(&events, "b", 0);
    segment(&events, "x", 1);
    let want_c = segment(&events, "c", 7);
    let one = next_json(&mut ws).await.expect("first");
    let two = next_json(&mut ws).await.expect("second");
    assert_eq!(seqs(&[one.clone(), two.clone()]), vec![want_b, want_c]);
    assert_eq!(
        (one["stream"].as_str(), two["stream"].as_str()),
        (Some("b"), Some("c"))
    );
    assert_eq!(two["type"], "segment.published");
}

#[tokio::test]
async fn websocket_close_codes_for_client_frames() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    // Client text is ignored: the socket keeps delivering.
    let mut ws = connect(&server, "").await;
    ws.send(Message::text("hello")).await.expect("send text");
    let seq = added(&events, "s");
    assert_eq!(
        next_json(&mut ws).await.map(|v| v["seq"].clone()),
        Some(seq.into())
    );
    // A message of the largest accepted size spans several reads of the server's small read
    // buffer: still ignored, the socket still delivers.
    ws.send(Message::text("y".repeat(4096)))
        .await
        .expect("send 4 KiB text");
    let seq = added(&events, "s");
    assert_eq!(
        next_json(&mut ws).await.map(|v| v["seq"].clone()),
        Some(seq.into())
    );
    ws.send(Message::binary(vec![1, 2, 3]))
        .await
        .expect("send binary");
    assert_eq!(close_code(&mut ws).await.map(|c| c.0), Some(1003));

    let mut ws = connect(&server, "").await;
    ws.send(Message::text("x".repeat(100_000)))
        .await
        .expect("send big");
    assert_eq!(close_code(&mut ws).await.map(|c| c.0), Some(1009));
}

#[tokio::test]
async fn websocket_lagging_subscriber_closed_with_1013_and_resumes() {
    let fx = Fixture::new();
    // The sockets on the test runtime (one thread): the socket's task cannot run while this
    // loop publishes, so the subscriber's queue overflows.
    let config = ServeConfig {
        events_threads: Some(0),
        ..fx.config()
    };
    let (server, events) = TestServer::start_with_events(config).await;
    let mut ws = connect(&server, "").await;
    let mut last = 0;
    for msn in 0..2000 {
        last = segment(&events, "s", msn);
    }
    let mut got = Vec::new();
    let (code, reason) = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("frame") {
            Some(Ok(Message::Text(t))) => got.push(serde_json::from_str(t.as_str()).expect("json")),
            Some(Ok(Message::Close(Some(f)))) => break (u16::from(f.code), f.reason.to_string()),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, 1013);
    let got = seqs(&got);
    let resume = *got.last().expect("some events before the close");
    assert!(reason.ends_with(&format!("since={resume}")), "{reason}");
    assert_eq!(got, (1..=resume).collect::<Vec<_>>(), "in order, none lost");
    let mut ws = connect(&server, &format!("?since={resume}")).await;
    let next = next_json(&mut ws).await.expect("resumed");
    assert_eq!(next["seq"].as_u64(), Some(resume + 1));
    assert!(resume < last);
}

#[tokio::test]
async fn websocket_closed_when_pongs_stop_kept_while_they_come() {
    let fx = Fixture::new();
    let config = ServeConfig {
        events_ping_interval_secs: 1,
        ..fx.config()
    };
    let (server, events) = TestServer::start_with_events(config).await;
    let mut silent = connect(&server, "").await;
    let mut live = connect(&server, "").await;
    // `live` reads (tungstenite answers each ping with a pong while reading); `silent`
    // does not read, so it never answers.
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(msg)) = live.next().await {
            match msg {
                Message::Ping(_) => pings += 1,
                Message::Text(t) if pings >= 4 => return (pings, t.to_string()),
                Message::Close(f) => panic!("responsive client closed: {f:?}"),
                _ => {}
            }
        }
        panic!("responsive client ended after {pings} pings");
    });
    tokio::time::sleep(Duration::from_millis(4500)).await;
    segment(&events, "s", 0);
    let (pings, text) = tokio::time::timeout(WAIT, reader)
        .await
        .expect("reader")
        .expect("join");
    assert!(
        pings >= 4 && text.contains("segment.published"),
        "{pings} {text}"
    );
    let (code, reason) = close_code(&mut silent).await.expect("close frame");
    assert_eq!(code, 1008, "{reason}");
}

#[tokio::test]
async fn websocket_going_away_on_shutdown() {
    let fx = Fixture::new();
    let (server, _events) = TestServer::start_with_events(fx.config()).await;
    let mut ws = connect(&server, "").await;
    let closing = tokio::spawn(async move { close_code(&mut ws).await });
    // Reply to the close so the shutdown is not left waiting.
    server.stop().await.expect("stop");
    let code = tokio::time::timeout(WAIT, closing)
        .await
        .expect("close")
        .expect("join");
    assert_eq!(code.map(|c| c.0), Some(u16::from(CloseCode::Away)));
}

#[tokio::test]
async fn websocket_origin_checked() {
    let fx = Fixture::new();
    let config = ServeConfig {
        events_allowed_origins: vec!["https://ok.example".into()],
        ..fx.config()
    };
    let (server, _events) = TestServer::start_with_events(config).await;
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for (origin, status) in [("https://evil.example", 403), ("https://ok.example", 101)] {
        let mut conn = Conn::open(server.addr).await;
        let mut headers = upgrade.to_vec();
        headers.push(("Origin", origin));
        conn.send("GET", "/api/events", &headers).await;
        let head = conn.read_head().await.expect("head");
        assert_eq!(head.status, status, "{origin}");
        if status == 101 {
            // RFC 6455 4.2.2's worked example.
            let accept = head.header("sec-websocket-accept");
            assert_eq!(accept.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        }
    }
}

#[tokio::test]
async fn bad_requests_are_400_with_the_reason() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    added(&events, "s");
    let upgrade_no_key = [("Upgrade", "websocket"), ("Connection", "Upgrade")];
    let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let old_version = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "8"),
        key,
    ];
    let no_connection_upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "close"),
        ("Sec-WebSocket-Version", "13"),
        key,
    ];
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(&str, Headers, &str)] = &[
        ("/api/events?types=stream.live,bogus", &[], "bogus"),
        ("/api/events?since=99", &[], "after the latest event"),
        ("/api/events?since=abc", &[], "since"),
        ("/api/events?timeout=600", &[], "timeout"),
        (
            "/api/events?since=99",
            &[("Accept", "text/event-stream")],
            "after the latest",
        ),
        ("/api/events?types=nope", &upgrade_no_key, "nope"),
        ("/api/events", &upgrade_no_key, ""),
        ("/api/events", &old_version, ""),
        ("/api/events", &no_connection_upgrade, ""),
        (
            "/api/events",
            &[("Accept", "text/event-stream"), ("Last-Event-ID", "x")],
            "Last-Event-ID",
        ),
    ];
    for (path, headers, reason) in cases {
        let res = server.get(path, headers).await;
        assert_eq!(res.status, 400, "{path} {headers:?}: {}", res.text());
        assert!(res.text().contains(reason), "{path}: {}", res.text());
    }
}

#[tokio::test]
async fn long_poll_holds_then_answers_json_array() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let base = added(&events, "s");
    // Nothing after `base`: empty array after the timeout.
    let start = Instant::now();
    let res = server
        .get(&format!("/api/events?since={base}&timeout=1"), &[])
        .await;
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(res.status, 200);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(res.text(), "[]");
    // A held request answers as soon as a matching event is published.
    let addr = server.addr;
    let path = format!("/api/events?since={base}&timeout=30&types=segment.published");
    let held = tokio::spawn(async move { crate::common::request(addr, "GET", &path, &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    added(&events, "other");
    let seg = segment(&events, "s", 0);
    let res = tokio::time::timeout(WAIT, held)
        .await
        .expect("answered")
        .expect("join");
    let items: Vec<serde_json::Value> = serde_json::from_slice(&res.body).expect("json");
    assert_eq!(seqs(&items), vec![seg]);
    // Events already there are answered at once.
    let res = server.get(&format!("/api/events?since={base}"), &[]).await;
    let items: Vec<serde_json::Value> = serde_json::from_slice(&res.body).expect("json");
    assert_eq!(seqs(&items), vec![base + 1, seg]);
}

/// The origin's open connections, from `/metrics` (this scrape's own included).
async fn open_connections(server: &TestServer) -> u64 {
    let text = server.get("/metrics", &[]).await.text();
    let line = text
        .lines()
        .find(|l| l.starts_with("hlsorigin_open_connections "))
        .expect("open connections gauge");
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number")
}

/// Requests served one at a time on a keep-alive connection (the connection holds no hyper
/// state between them, `http/cycle.rs`): pipelined requests answer in order, a long-poll
/// between them is held until its event and the connection goes on, a request with a body
/// (served by hyper for the rest of the connection) keeps it too, `Connection: close` ends
/// it; and a client that goes away during a held long-poll frees its connection.
#[tokio::test]
async fn long_polls_held_between_requests_on_one_connection() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let base = added(&events, "s");
    let mut conn = Conn::open(server.addr).await;
    let poll = format!("/api/events?since={base}&timeout=30&types=segment.published");
    let pipelined = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\
         GET {poll} HTTP/1.1\r\nHost: t\r\n\r\n\
         GET /seg10.ts HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\n"
    );
    conn.send_raw(pipelined.as_bytes()).await;
    let health = conn.read_response("GET").await.expect("healthz");
    assert_eq!(health.status, 200);
    // Held: nothing more arrives until a matching event.
    let early = tokio::time::timeout(Duration::from_millis(500), conn.read_head()).await;
    assert!(early.is_err(), "the long-poll answered before its event");
    let seg = segment(&events, "s", 1);
    let res = tokio::time::timeout(WAIT, conn.read_response("GET"))
        .await
        .expect("answered")
        .expect("response");
    assert_eq!(res.status, 200);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&res.body).expect("json");
    assert_eq!(seqs(&items), vec![seg]);
    let range = conn.read_response("GET").await.expect("range");
    assert_eq!(range.status, 206);
    assert!(range
        .header("connection")
        .is_none_or(|v| !v.eq_ignore_ascii_case("close")));
    // A body: hyper frames it (405: no route takes POST) and the connection goes on.
    conn.send_raw(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab")
        .await;
    assert_eq!(conn.read_response("POST").await.expect("post").status, 405);
    conn.send("GET", "/healthz", &[("Connection", "close")])
        .await;
    let last = conn.read_response("GET").await.expect("last");
    assert_eq!(last.header("connection").as_deref(), Some("close"));
    assert!(
        conn.read_head().await.is_none(),
        "closed after Connection: close"
    );
    drop(conn);

    let before = open_connections(&server).await;
    let mut gone = Conn::open(server.addr).await;
    gone.send("GET", &poll, &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(open_connections(&server).await, before + 1);
    drop(gone);
    let deadline = Instant::now() + WAIT;
    while open_connections(&server).await > before {
        assert!(
            Instant::now() < deadline,
            "a held long-poll outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads SSE body bytes until `pred` holds for what was read (chunked framing included).
async fn read_until(conn: &mut Conn, pred: impl Fn(&str) -> bool) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    let mut buf = vec![0; 16 * 1024];
    let deadline = Instant::now() + WAIT;
    while !pred(&text) {
        assert!(Instant::now() < deadline, "timed out; got {text:?}");
        match tokio::time::timeout(WAIT, conn.stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    text
}

#[tokio::test]
async fn sse_blocks_and_last_event_id_resume() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let first = added(&events, "s");
    let mut conn = Conn::open(server.addr).await;
    let since = first.to_string();
    conn.send(
        "GET",
        "/api/events",
        &[("Accept", "text/event-stream"), ("Last-Event-ID", &since)],
    )
    .await;
    let head = conn.read_head().await.expect("head");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(head.header("cache-control").as_deref(), Some("no-store"));
    let seg = segment(&events, "s", 4);
    let want = format!("id: {seg}\nevent: segment.published\ndata: {{\"seq\":{seg},");
    let text = read_until(&mut conn, |t| t.contains(&want)).await;
    assert!(text.contains(&want), "{text}");
    assert!(
        !text.contains(&format!("id: {first}\n")),
        "resumed after Last-Event-ID: {text}"
    );
}

#[tokio::test]
async fn snapshot_carries_seq_and_metrics_count() {
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    added(&events, "a");
    let seq = added(&events, "b");
    let res = server.get("/api/streams", &[]).await;
    let body: serde_json::Value = serde_json::from_slice(&res.body).expect("json");
    assert_eq!(body["seq"].as_u64(), Some(seq));
    assert!(body["streams"].as_array().is_some_and(|s| !s.is_empty()));
    let mut ws = connect(&server, &format!("?since={seq}")).await;
    let next = segment(&events, "a", 0);
    assert_eq!(
        next_json(&mut ws).await.map(|v| v["seq"].clone()),
        Some(next.into())
    );
    // The socket's thread counts the event after its write returns, which may be after the
    // client read it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let metrics = loop {
        let metrics = server.get("/metrics", &[]).await.text();
        if metrics.contains("hlsorigin_events_sent_total 1\n")
            || tokio::time::Instant::now() > deadline
        {
            break metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        metrics.contains("hlsorigin_events_subscribers 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hlsorigin_events_sent_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_websocket_subscribers_each_get_the_segment() {
    const N: usize = 1000;
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let mut sockets = Vec::with_capacity(N);
    for _ in 0..N {
        sockets.push(connect(&server, "?types=segment.published").await);
    }
    let seq = segment(&events, "s", 42);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { next_json(&mut ws).await }))
        .collect();
    let mut received = 0;
    for r in readers {
        let v = r.await.expect("join").expect("event");
        assert_eq!(
            (v["seq"].as_u64(), v["data"]["msn"].as_u64()),
            (Some(seq), Some(42))
        );
        received += 1;
    }
    assert_eq!(received, N);
}

#[tokio::test]
async fn subscriber_limit_is_1013_or_503_and_frees_on_close() {
    let fx = Fixture::new();
    let config = ServeConfig {
        events_max_subscribers: 2,
        ..fx.config()
    };
    let (server, events) = TestServer::start_with_events(config).await;
    let one = connect(&server, "").await;
    let mut two = connect(&server, "").await;
    let mut three = connect(&server, "").await;
    let (code, reason) = close_code(&mut three).await.expect("close frame");
    assert_eq!(code, 1013, "{reason}");
    let sse = server
        .get("/api/events", &[("Accept", "text/event-stream")])
        .await;
    assert_eq!(sse.status, 503, "{}", sse.text());
    // The ones admitted still work; a closed one frees its place.
    let seq = added(&events, "s");
    assert_eq!(
        next_json(&mut two).await.map(|v| v["seq"].clone()),
        Some(seq.into())
    );
    drop(one);
    let deadline = Instant::now() + WAIT;
    loop {
        let metrics = server.get("/metrics", &[]).await.text();
        if metrics.contains("hlsorigin_events_subscribers 1\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut four = connect(&server, "").await;
    let seq = added(&events, "s");
    assert_eq!(
        next_json(&mut four).await.map(|v| v["seq"].clone()),
        Some(seq.into())
    );
}

/// HTTP/2 (prior knowledge) has no Upgrade: `/api/events` long-polls there.
#[tokio::test]
async fn long_poll_over_http2() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let fx = Fixture::new();
    let (server, events) = TestServer::start_with_events(fx.config()).await;
    let seq = added(&events, "s");
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get("http://test/api/events?since=0&timeout=1")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let res = sender.send_request(req).await.expect("h2 response");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("json");
    assert_eq!(seqs(&items), vec![seq]);
}
