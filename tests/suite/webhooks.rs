// SPDX-License-Identifier: MIT OR Apache-2.0
//! Webhooks of the real binary, received by a plain HTTP/1.1 receiver on a thread (std only,
//! nothing of ours in between): `live --listen --webhook` fed by ffmpeg (stream.added →
//! stream.live → segment.published… → stream.ended, signed), and `serve --webhook`
//! announcing a stream `hlsorigin package` writes into its root, then its removal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::live::harness::{encoder, Live};
use crate::common::{fixtures, out_dir, package, server::serve};

/// One POST received: its headers (lower-case names) and its body as JSON.
struct Post {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Post {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A receiver answering 204 to every POST; returns its URL and the posts as they come.
fn receiver() -> (String, mpsc::Receiver<Post>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                while let Some(post) = read_post(&mut reader) {
                    let ok = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
                    if reader.get_mut().write_all(ok).is_err() || tx.send(post).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

fn read_post(reader: &mut BufReader<std::net::TcpStream>) -> Option<Post> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST /hook ") {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")?
        .1
        .parse()
        .ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Post { headers, body })
}

/// Posts until one of type `until` (all of them, in arrival order).
fn posts_until(rx: &mpsc::Receiver<Post>, until: &str, secs: u64) -> Vec<Post> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let post = rx.recv_timeout(left).unwrap_or_else(|_| {
            let types: Vec<Value> = got
                .iter()
                .map(|p: &Post| p.json()["type"].clone())
                .collect();
            panic!("no {until} within {secs} s; got {types:?}")
        });
        let done = post.json()["type"] == until;
        got.push(post);
        if done {
            return got;
        }
    }
}

fn assert_signed(post: &Post, secret: &str) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(&post.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        post.header("x-hlsorigin-signature"),
        Some(&*format!("sha256={hex}"))
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.header("x-hlsorigin-event"),
        post.json()["type"].as_str()
    );
    assert!(post.header("x-hlsorigin-delivery").is_some());
}

#[test]
fn live_listen_posts_a_runs_events_in_order() {
    let (url, rx) = receiver();
    let root = out_dir("webhook-live");
    let mut ffmpeg = encoder("-", &[], Some(8), Stdio::piped());
    let stdout = ffmpeg.0.stdout.take().expect("ffmpeg stdout");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--webhook",
        &url,
        "--webhook-secret",
        "k3y",
    ];
    let _live = Live::start(&root, "cam", "-", &args, Stdio::from(stdout));
    let posts = posts_until(&rx, "stream.ended", 90);
    let events: Vec<Value> = posts.iter().map(Post::json).collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"stream.added"), "{types:?}");
    assert_eq!(types.get(1), Some(&"stream.live"), "{types:?}");
    assert_eq!(types.last(), Some(&"stream.ended"), "{types:?}");
    let segments = types.iter().filter(|t| **t == "segment.published").count();
    assert!(segments >= 3, "8 s of input in 2 s segments: {types:?}");
    assert!(types.iter().all(|t| *t != "part.published"), "{types:?}");
    for (post, event) in posts.iter().zip(&events) {
        assert_signed(post, "k3y");
        assert_eq!(event["stream"], "cam");
        assert_eq!(event["session"], events[0]["session"]);
    }
    // In order, each once.
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[test]
fn serve_announces_a_stream_packaged_into_its_root_and_its_removal() {
    let (url, rx) = receiver();
    let root = out_dir("webhook-serve");
    std::fs::create_dir_all(&root).expect("root");
    let _server = serve(&root, &["--webhook", &url, "--webhook-secret", "s"]);
    let input = fixtures::playback();
    let out = package(&input, &root.join("talk"), &[]);
    assert!(out.status.success(), "package: {out:?}");
    let posts = posts_until(&rx, "stream.added", 30);
    let added = posts.last().expect("a post");
    assert_signed(added, "s");
    let event = added.json();
    assert_eq!(event["stream"], "talk");
    assert_eq!(event["data"]["kind"], "vod");
    assert_eq!(event["data"]["playlist"], "talk/master.m3u8");
    assert!(event["session"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(posts.len(), 1, "only stream.added");

    std::fs::remove_dir_all(root.join("talk")).expect("remove the stream");
    let posts = posts_until(&rx, "stream.removed", 30);
    assert_eq!(posts.len(), 1);
    let removed = posts[0].json();
    assert_eq!(removed["stream"], "talk");
    assert_eq!(removed["session"], event["session"]);
}
