// SPDX-License-Identifier: MIT OR Apache-2.0
//! `/api/events` of a real `hlsorigin live --listen` fed by ffmpeg: a tokio-tungstenite
//! WebSocket client, SSE and long-poll over raw HTTP/1.1, and long-poll through nginx
//! configured without WebSocket upgrade headers (tests/cdn/nginx-hls.conf: it sends
//! `Connection: ""` and no `Upgrade`), the fallback a page uses when the socket fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::cdn::{Proxy, ProxyKind};
use super::live::harness::{encoder, get, read_response, send_request, Live};
use crate::common::server::{page_harness, page_live_harness, serve};
use crate::common::{fixtures, out_dir, package};

/// Generous: the encoder runs in real time on a shared 2-core machine.
const RUN_LIMIT: Duration = Duration::from_secs(90);

#[test]
fn live_run_events_over_websocket_sse_and_long_poll_through_nginx() {
    let root = out_dir("events-live");
    let mut ffmpeg = encoder("-", &[], Some(10), Stdio::piped());
    let stdout = ffmpeg.0.stdout.take().expect("ffmpeg stdout");
    let live = Live::start(
        &root,
        "ev",
        "-",
        &["--listen", "127.0.0.1:0"],
        Stdio::from(stdout),
    );
    let base = live.base().to_owned();
    let proxy = Proxy::start_in(ProxyKind::Nginx, &base, "events-nginx");
    let ws_base = base.replacen("http://", "ws://", 1);

    // While the run goes on: a WebSocket from the start of the ring, and the long-poll loop
    // of a client behind nginx.
    let ws_all = std::thread::spawn({
        let url = format!("{ws_base}/api/events?since=0");
        move || ws_until_ended(&url)
    });
    let polled = long_poll_until_ended(&proxy.base, "");
    let all = ws_all.join().expect("WebSocket thread");
    check_run_order(&all);
    assert_eq!(
        seqs(&polled),
        seqs(&all),
        "long-poll through nginx = WebSocket"
    );

    // Resume from the middle: nothing lost, nothing repeated.
    let mid = all[all.len() / 2]["seq"].as_u64().expect("seq");
    let resumed = ws_until_ended(&format!("{ws_base}/api/events?since={mid}"));
    let after: Vec<u64> = seqs(&all).into_iter().filter(|&s| s > mid).collect();
    assert_eq!(seqs(&resumed), after);

    // SSE with Last-Event-ID resumes the same way.
    let sse = sse_until_ended(&base, mid);
    assert_eq!(sse, after, "SSE ids after Last-Event-ID {mid}");

    // Filters.
    let segments = ws_until_count(
        &format!("{ws_base}/api/events?since=0&types=segment.published,stream.ended"),
        all.len(),
    );
    let want: Vec<u64> = all
        .iter()
        .filter(|e| e["type"] == "segment.published" || e["type"] == "stream.ended")
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs(&segments), want);
    let none = get(&base, "/api/events?since=0&stream=nope&timeout=1");
    assert_eq!((none.status, none.text()), (200, "[]".to_owned()));

    // The snapshot's seq is where the channel stands.
    let snapshot: Value = serde_json::from_slice(&get(&base, "/api/streams").body).expect("json");
    assert_eq!(
        snapshot["seq"].as_u64(),
        all.last().and_then(|e| e["seq"].as_u64())
    );
}

/// Viewers, an estimate: two clients (address + User-Agent) that fetch a stream's playlists
/// and a segment count 2 in `/api/streams` and in a `stream.viewers` event; requests for
/// another stream do not count for it.
#[test]
fn two_clients_show_as_two_viewers_in_the_snapshot_and_a_stream_viewers_event() {
    let root = out_dir("events-viewers");
    let _ = std::fs::remove_dir_all(&root);
    package(&fixtures::playback(), &root.join("show"), &[]);
    package(&fixtures::playback(), &root.join("other"), &[]);
    let server = serve(&root, &[]);
    let base = &server.base;
    let fetch = |path: &str, agent: &str| {
        let headers = format!("User-Agent: {agent}\r\n");
        let res = read_response(send_request(base, path, &headers), Instant::now());
        assert_eq!(res.status, 200, "{path}");
        res
    };
    let master = fetch("/show/master.m3u8", "viewer-a").text();
    let media = master
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a variant")
        .to_owned();
    let playlist = fetch(&format!("/show/{media}"), "viewer-a").text();
    let segment = playlist
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a segment")
        .to_owned();
    let dir = media
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| format!("{d}/"));
    for agent in ["viewer-a", "viewer-b"] {
        fetch(&format!("/show/{dir}{segment}"), agent);
    }
    fetch("/other/master.m3u8", "viewer-c");

    let snapshot: Value = serde_json::from_slice(&get(base, "/api/streams").body).expect("json");
    let viewers = |name: &str| {
        snapshot["entries"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["name"] == name))
            .map(|e| e["viewers"].clone())
    };
    assert_eq!(viewers("show"), Some(2.into()), "{snapshot}");
    assert_eq!(viewers("other"), Some(1.into()), "{snapshot}");

    // The server reports changed counts every 5 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut since = 0;
    loop {
        assert!(Instant::now() < deadline, "no stream.viewers for show");
        let res = get(
            base,
            &format!("/api/events?since={since}&types=stream.viewers&stream=show&timeout=20"),
        );
        let batch: Vec<Value> = serde_json::from_slice(&res.body).expect("JSON array");
        // A report may fall between the two clients' fetches (then it says 1, and the
        // next one 2); the count is never above 2.
        let counts: Vec<&Value> = batch
            .iter()
            .filter(|e| e["stream"] == "show")
            .map(|e| &e["data"]["viewers"])
            .collect();
        assert!(counts.iter().all(|&c| *c == 1 || *c == 2), "{batch:?}");
        if counts.iter().any(|&c| *c == 2) {
            break;
        }
        since = batch
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(since);
    }
}

/// The page at `/` behind nginx without WebSocket upgrade headers: its WebSocket never opens, it
/// falls back to long polling and still shows a stream appear under the root (serve's root
/// watcher) and disappear, without a reload.
#[test]
fn page_behind_nginx_without_upgrade_falls_back_to_long_poll() {
    let root = out_dir("page-nginx-root");
    std::fs::create_dir_all(&root).expect("root");
    let packaged = out_dir("page-nginx-packaged");
    let args = ["--segment-duration", "2", "--quiet"];
    package(&fixtures::by_name("h264_aac.mp4"), &packaged, &args);
    let server = serve(&root, &[]);
    let proxy = Proxy::start_in(ProxyKind::Nginx, &server.base, "page-nginx");
    let report = page_harness(&[
        "--url",
        &format!("{}/", proxy.base),
        "--add-from",
        packaged.to_str().expect("UTF-8 path"),
        "--add-to",
        root.join("clip").to_str().expect("UTF-8 path"),
        "--stream",
        "clip",
    ]);
    assert_eq!(report["ok"], true, "page: {report}");
    assert_eq!(report["transport"], "long-poll", "{report}");
    assert!(
        report["channel"]["fallbacks"].as_u64() >= Some(1),
        "the WebSocket was tried first: {report}"
    );
    let text = report["entryText"].as_str().unwrap_or("");
    assert!(text.contains("clip/master.m3u8"), "{report}");
}

/// The page at `/` during a live run: the entry gets its LIVE badge, plays with hls.js showing
/// the rendition and the latency, and shows ENDED when the encoder stops, all without a reload.
#[test]
fn page_follows_a_live_run_badge_rendition_latency_end() {
    let root = out_dir("page-live");
    // Long enough that the stream is still live when a slow Chromium (a loaded CI machine)
    // opens the page: the page must see it go live before it ends.
    let mut ffmpeg = encoder("-", &[], Some(45), Stdio::piped());
    let stdout = ffmpeg.0.stdout.take().expect("ffmpeg stdout");
    let live = Live::start(
        &root,
        "cam",
        "-",
        &["--listen", "127.0.0.1:0"],
        Stdio::from(stdout),
    );
    let url = format!("{}/", live.base());
    let report = page_live_harness(&["--url", &url, "--stream", "cam", "--seconds", "4"]);
    assert_eq!(report["ok"], true, "page: {report}");
    assert_eq!(report["transport"], "websocket", "{report}");
    let live_text = report["liveText"].as_str().unwrap_or("");
    assert!(
        live_text.contains("LIVE") && live_text.contains("live"),
        "{report}"
    );
    // The encoder sends 320x240 (tests/suite/live/harness.rs).
    let player = &report["player"];
    assert_eq!(player["rendition"]["width"], 320, "{report}");
    assert_eq!(player["rendition"]["height"], 240, "{report}");
    let latency = player["latency"].as_f64().expect("latency");
    assert!(
        latency > 0.0 && latency < 30.0,
        "latency {latency} s: {report}"
    );
    assert!(
        player["shown"].as_str().unwrap_or("").contains("latency"),
        "{report}"
    );
    assert!(
        report["endedText"].as_str().unwrap_or("").contains("ENDED"),
        "{report}"
    );
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().filter_map(|e| e["seq"].as_u64()).collect()
}

/// stream.added → stream.live → segment.published… → stream.ended, one session, seqs rising.
fn check_run_order(events: &[Value]) {
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.len() >= 5, "{types:?}");
    assert_eq!(&types[..2], ["stream.added", "stream.live"], "{types:?}");
    assert_eq!(types.last(), Some(&"stream.ended"), "{types:?}");
    let middle = &types[2..types.len() - 1];
    assert!(
        middle.len() >= 3,
        "10 s of input in 2 s segments: {types:?}"
    );
    assert!(
        middle.iter().all(|t| *t == "segment.published"),
        "{types:?}"
    );
    let s = seqs(events);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    let session = &events[0]["session"];
    assert!(events
        .iter()
        .all(|e| e["session"] == *session && e["stream"] == "ev"));
    let msns: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "segment.published")
        .filter_map(|e| e["data"]["msn"].as_u64())
        .collect();
    assert!(msns.windows(2).all(|w| w[1] == w[0] + 1), "{msns:?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn ws_until_ended(url: &str) -> Vec<Value> {
    ws_collect(url, |events| {
        events.last().is_some_and(|e| e["type"] == "stream.ended")
    })
}

fn ws_until_count(url: &str, max: usize) -> Vec<Value> {
    ws_collect(url, |events| {
        events.len() >= max || events.last().is_some_and(|e| e["type"] == "stream.ended")
    })
}

/// Text frames as JSON until `done` holds (pings are answered by the client library).
fn ws_collect(url: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    runtime().block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("WebSocket {url}: {e}"));
        let mut events = Vec::new();
        while !done(&events) {
            let msg = tokio::time::timeout(RUN_LIMIT, ws.next()).await;
            match msg {
                Ok(Some(Ok(Message::Text(t)))) => {
                    events.push(serde_json::from_str(t.as_str()).expect("event JSON"));
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                other => panic!("{url}: {other:?} after {events:?}"),
            }
        }
        events
    })
}

/// A long-polling client: `since` from the last event it got, until `stream.ended`.
fn long_poll_until_ended(base: &str, query: &str) -> Vec<Value> {
    let deadline = Instant::now() + RUN_LIMIT;
    let mut events: Vec<Value> = Vec::new();
    let mut since = 0;
    while events.last().is_none_or(|e| e["type"] != "stream.ended") {
        assert!(Instant::now() < deadline, "no stream.ended: {events:?}");
        let res = get(
            base,
            &format!("/api/events?since={since}&timeout=20{query}"),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
        let batch: Vec<Value> = serde_json::from_slice(&res.body).expect("JSON array");
        if let Some(last) = batch.last().and_then(|e| e["seq"].as_u64()) {
            since = last;
        }
        events.extend(batch);
    }
    events
}

/// SSE `id:`s from `Last-Event-ID: last_id` until the `stream.ended` block.
fn sse_until_ended(base: &str, last_id: u64) -> Vec<u64> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(RUN_LIMIT)).expect("timeout");
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\
         Last-Event-ID: {last_id}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    while !text.contains("event: stream.ended\n") {
        let n = s.read(&mut buf).expect("read SSE");
        assert!(n > 0, "SSE ended early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // Chunk-size lines are not `id:` lines; every block's id is on its own line.
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}
