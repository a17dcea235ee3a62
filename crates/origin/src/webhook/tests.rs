// SPDX-License-Identifier: MIT OR Apache-2.0
//! Webhooks against a local receiver (axum): signature recomputed with the `hmac` crate,
//! order per stream, retry after a 500, give-up, and no loss when the hub drops a lagging
//! webhook.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;
use crate::events::{EndReason, EventsConfig, Payload};

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Got {
    seq: u64,
    stream: String,
    event_type: String,
    delivery: String,
    signature: Option<String>,
    content_type: String,
    body: Bytes,
    /// What the receiver answered.
    accepted: bool,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    /// Seqs whose first delivery is answered 500.
    fail_once: Mutex<HashSet<u64>>,
    /// Streams whose every delivery is answered 500.
    fail_always: HashSet<String>,
}

async fn receive(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let seq = json["seq"].as_u64().unwrap_or(0);
    let stream = json["stream"].as_str().unwrap_or("").to_owned();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let accepted = !rx.fail_always.contains(&stream)
        && !rx
            .fail_once
            .lock()
            .map(|mut f| f.remove(&seq))
            .unwrap_or(false);
    let got = Got {
        seq,
        stream,
        event_type: header("x-hlsorigin-event").unwrap_or_default(),
        delivery: header("x-hlsorigin-delivery").unwrap_or_default(),
        signature: header("x-hlsorigin-signature"),
        content_type: header("content-type").unwrap_or_default(),
        body,
        accepted,
    };
    if let Ok(mut g) = rx.got.lock() {
        g.push(got);
    }
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

async fn start_receiver(rx: Arc<Receiver>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(rx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn hooks(addr: SocketAddr, secret: Option<&str>, retry: Retry) -> Webhooks {
    let config = ServeConfig {
        webhooks: vec![format!("http://{addr}/hook")],
        webhook_secret: secret.map(str::to_owned),
        ..ServeConfig::default()
    };
    let mut hooks = Webhooks::from_config(&config).unwrap();
    hooks.retry = retry;
    hooks
}

fn quick_retry() -> Retry {
    Retry {
        first: Duration::from_millis(600),
        max: Duration::from_millis(600),
        give_up_after: Duration::from_secs(30),
        attempt_timeout: Duration::from_secs(5),
    }
}

fn segment(msn: u64) -> Payload {
    Payload::SegmentPublished {
        rendition: "v".into(),
        msn,
        duration: 2.0,
        bytes: 1000,
        discontinuity: false,
        parts: None,
    }
}

/// Waits (generously) until `done` holds for what the receiver got.
async fn wait_for(rx: &Receiver, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
    for _ in 0..300 {
        let got = rx.got.lock().unwrap().clone();
        if done(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: receiver got {:#?}", rx.got.lock().unwrap());
}

fn accepted_seqs(got: &[Got], stream: &str) -> Vec<u64> {
    got.iter()
        .filter(|g| g.accepted && g.stream == stream)
        .map(|g| g.seq)
        .collect()
}

#[tokio::test]
async fn signed_posts_arrive_with_their_headers() {
    let rx = Arc::new(Receiver::default());
    let addr = start_receiver(Arc::clone(&rx)).await;
    let events = Events::default();
    let metrics = Arc::new(Metrics::default());
    let running = hooks(addr, Some("s3cret"), quick_retry()).start(&events, 0, &metrics);
    events.publish("news", "run1", segment(0));
    events.publish(
        "news",
        "run1",
        Payload::StreamEnded {
            reason: EndReason::Endlist,
        },
    );
    let got = wait_for(&rx, "two events", |g| g.len() == 2).await;
    for g in &got {
        // The signature, recomputed here from the body as received.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&g.body);
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(g.signature.as_deref(), Some(&*format!("sha256={want}")));
        assert_eq!(g.content_type, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(json["type"].as_str(), Some(&*g.event_type));
        assert_eq!(json["session"], "run1");
    }
    assert_eq!(got[0].event_type, "segment.published");
    assert_eq!(got[1].event_type, "stream.ended");
    assert_ne!(got[0].delivery, got[1].delivery);
    assert_eq!(metrics.webhook.delivered.load(Relaxed), 2);
    events.close_subscribers();
    running.finish(Duration::from_secs(5)).await;
}

/// A 500 for event a2: it comes again, a3 only after it; stream b is not held.
#[tokio::test]
async fn a_failed_event_holds_its_stream_only() {
    let rx = Arc::new(Receiver::default());
    let addr = start_receiver(Arc::clone(&rx)).await;
    let events = Events::default();
    let metrics = Arc::new(Metrics::default());
    let running = hooks(addr, None, quick_retry()).start(&events, 0, &metrics);
    let a1 = events.publish("a", "r", segment(1));
    wait_for(&rx, "a1", |g| g.len() == 1).await;
    // The next seq is a2's.
    rx.fail_once.lock().unwrap().insert(a1 + 1);
    let a2 = events.publish("a", "r", segment(2));
    let a3 = events.publish("a", "r", segment(3));
    let b1 = events.publish("b", "r", segment(1));
    let b2 = events.publish("b", "r", segment(2));
    let got = wait_for(&rx, "all accepted", |g| {
        g.iter().filter(|g| g.accepted).count() == 5
    })
    .await;
    assert_eq!(accepted_seqs(&got, "a"), [a1, a2, a3]);
    assert_eq!(accepted_seqs(&got, "b"), [b1, b2]);
    let pos = |seq, accepted| {
        got.iter()
            .position(|g| g.seq == seq && g.accepted == accepted)
            .unwrap()
    };
    // a2 was refused, then sent again with the same delivery id and accepted; a3 came
    // only after that; b went on while a2 waited for its retry.
    let (refused, retried) = (pos(a2, false), pos(a2, true));
    assert!(refused < retried && retried < pos(a3, true), "{got:#?}");
    assert_eq!(got[refused].delivery, got[retried].delivery);
    assert!(pos(b2, true) < retried, "{got:#?}");
    assert_eq!(metrics.webhook.retries.load(Relaxed), 1);
    events.close_subscribers();
    running.finish(Duration::from_secs(5)).await;
}

/// A stream whose receiver always fails: each event is given up after its retry time (counted)
/// and the stream's later events are not held for longer.
#[tokio::test]
async fn events_that_keep_failing_are_given_up_and_counted() {
    let rx = Arc::new(Receiver {
        fail_always: HashSet::from(["bad".to_owned()]),
        ..Receiver::default()
    });
    let addr = start_receiver(Arc::clone(&rx)).await;
    let events = Events::default();
    let metrics = Arc::new(Metrics::default());
    let retry = Retry {
        first: Duration::from_millis(100),
        max: Duration::from_millis(200),
        give_up_after: Duration::from_millis(1500),
        attempt_timeout: Duration::from_secs(5),
    };
    let running = hooks(addr, None, retry).start(&events, 0, &metrics);
    events.publish("bad", "r", segment(1));
    events.publish("bad", "r", segment(2));
    let good = events.publish("good", "r", segment(1));
    wait_for(&rx, "good accepted", |g| accepted_seqs(g, "good") == [good]).await;
    for _ in 0..200 {
        if metrics.webhook.given_up.load(Relaxed) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.webhook.given_up.load(Relaxed), 2);
    let got = rx.got.lock().unwrap().clone();
    let attempts = got.iter().filter(|g| g.stream == "bad").count();
    assert!(attempts >= 4, "{attempts} attempts for two failing events");
    assert!(metrics
        .render()
        .contains("hlsorigin_webhook_given_up_total 2\n"));
    events.close_subscribers();
    running.finish(Duration::from_secs(5)).await;
}

/// The hub drops a webhook whose queue overflows; it resubscribes with `since` and every
/// event still arrives, once, in order.
#[tokio::test(flavor = "current_thread")]
async fn a_dropped_webhook_resumes_without_loss() {
    let rx = Arc::new(Receiver::default());
    let addr = start_receiver(Arc::clone(&rx)).await;
    let events = Events::new(EventsConfig {
        ring: 100,
        queue: 2,
        max_subscribers: 10,
    });
    let metrics = Arc::new(Metrics::default());
    let running = hooks(addr, None, quick_retry()).start(&events, 0, &metrics);
    // Let the dispatcher subscribe.
    while events.subscriber_count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // One thread: the dispatcher cannot run between these, so its queue of 2 overflows.
    let seqs: Vec<u64> = (0..10)
        .map(|i| events.publish("s", "r", segment(i)))
        .collect();
    let got = wait_for(&rx, "ten events", |g| g.len() >= 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 10, "no repeats");
    assert_eq!(accepted_seqs(&got, "s"), seqs);
    assert_eq!(metrics.webhook.resyncs.load(Relaxed), 0);
    events.close_subscribers();
    running.finish(Duration::from_secs(5)).await;
}

#[test]
fn bad_configurations_are_named() {
    let cases = [
        (vec!["ftp://x/"], None, "ftp://x/"),
        (vec!["/relative"], None, "/relative"),
        (vec!["http://h/"], Some("stream.added,nope"), "nope"),
    ];
    for (urls, types, named) in cases {
        let config = ServeConfig {
            webhooks: urls.into_iter().map(str::to_owned).collect(),
            webhook_types: types.map(str::to_owned),
            ..ServeConfig::default()
        };
        let err = Webhooks::from_config(&config).unwrap_err().to_string();
        assert!(err.contains(named), "{err}");
    }
}

/// An `https://` webhook speaks TLS: the receiver's first bytes are a TLS handshake record
/// (RFC 8446 5.1: content type 22, legacy version 3.x).
#[cfg(feature = "tls")]
#[tokio::test]
async fn https_webhooks_speak_tls() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServeConfig {
        webhooks: vec![format!("https://{addr}/hook")],
        ..ServeConfig::default()
    };
    let mut hooks = Webhooks::from_config(&config).unwrap();
    hooks.retry.give_up_after = Duration::from_secs(2);
    let events = Events::default();
    let running = hooks.start(&events, 0, &Arc::new(Metrics::default()));
    events.publish("s", "r", segment(0));
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("a connection")
        .unwrap();
    let mut head = [0u8; 2];
    conn.read_exact(&mut head).await.unwrap();
    assert_eq!(head, [0x16, 0x03]);
    events.close_subscribers();
    running.finish(Duration::from_secs(5)).await;
}
