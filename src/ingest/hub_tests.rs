// SPDX-License-Identifier: MIT OR Apache-2.0
//! The hub without sockets: claims, refusals, takeover, release and reaping.

use std::sync::atomic::AtomicUsize;

use bytes::Bytes;

use super::*;
use crate::ingest::keys;

fn policy(keys: Keys, takeover: bool) -> Policy {
    Policy {
        app: None,
        keys,
        takeover,
        max_connections: 4,
        linger: Some(Duration::from_secs(10)),
        srt: Default::default(),
    }
}

/// A server hub whose factory records the names it made drivers for; the receivers stay
/// open while the returned vector lives.
/// The drivers a test factory made: (name, receiver of its events).
type Made = Arc<Mutex<Vec<(String, mpsc::Receiver<IngestEvent>)>>>;

fn server(keys: Keys, takeover: bool) -> (Arc<Hub>, Made) {
    let made = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&made);
    let factory: Factory = Box::new(move |name| {
        let (tx, rx) = mpsc::channel(16);
        sink.lock().expect("lock").push((name.to_owned(), rx));
        Ok(tx)
    });
    (Hub::server(policy(keys, takeover), factory, None), made)
}

fn data(n: u8) -> IngestEvent {
    IngestEvent::Data(Bytes::from(vec![n]))
}

#[test]
fn names_and_keys() {
    let secret = Keys::from_args(None, Some("s")).expect("keys");
    let good = format!("cam?key={}", keys::derive("s", "cam"));
    // (keys, published, Ok(name) or the start of the refusal after "refused: ")
    let cases: Vec<(Keys, String, Result<&str, &str>)> = vec![
        (Keys::Open, "cam".into(), Ok("cam")),
        (Keys::Open, "cam?key=x".into(), Ok("cam")),
        (Keys::Open, "".into(), Err("a stream name is")),
        (Keys::Open, "../x".into(), Err("a stream name is")),
        (Keys::Open, ".hidden".into(), Err("a stream name is")),
        (Keys::Open, "a".repeat(65), Err("a stream name is")),
        (secret.clone(), good.clone(), Ok("cam")),
        (secret.clone(), "cam".into(), Err("no stream key given")),
        (secret.clone(), "cam?key=00".into(), Err("wrong stream key")),
        (
            secret,
            good.replace("cam?", "cam2?"),
            Err("wrong stream key"),
        ),
    ];
    for (keys, published, want) in cases {
        let (hub, _made) = server(keys, false);
        match (hub.claim("live", &published), want) {
            (Ok(c), Ok(name)) => assert_eq!(c.name(), name, "{published}"),
            (Err(refused), Err(want)) => {
                let why = refused.why;
                assert!(
                    why.contains(&format!("refused: {want}")),
                    "{published}: {why}"
                );
                // The key never shows in the reason.
                if let (_, Some(k)) = keys::split_key(&published) {
                    assert!(k.len() < 4 || !why.contains(k), "{why}");
                }
            }
            (got, want) => panic!(
                "{published}: {:?}, wanted {want:?}",
                got.map(|c| c.name().to_owned())
            ),
        }
    }
}

#[tokio::test]
async fn second_publisher_refused_then_free_after_release() {
    let (hub, made) = server(Keys::Open, false);
    let first = hub.claim("live", "cam").expect("first");
    let why = hub.claim("live", "cam").err().expect("second refused");
    assert_eq!(why.kind, RefusedKind::Busy);
    let why = why.why;
    assert!(why.contains("another publisher has the stream"), "{why}");
    // Another name is another stream, with its own driver.
    let other = hub.claim("live", "news").expect("other name");
    assert_eq!(made.lock().expect("lock").len(), 2);
    first.send(data(1)).await.expect("send");
    drop(first);
    // Released: the next publisher gets the same stream (same driver: a reconnect
    // continues the playlist).
    let again = hub.claim("live", "cam").expect("after release");
    again.send(data(2)).await.expect("send");
    let mut made = made.lock().expect("lock");
    assert_eq!(made.len(), 2, "no new driver for a reconnect");
    let rx = &mut made.get_mut(0).expect("cam").1;
    assert_eq!(rx.try_recv().ok(), Some(data(1)));
    assert_eq!(rx.try_recv().ok(), Some(data(2)));
    drop(other);
}

#[tokio::test]
async fn takeover_cuts_the_old_publisher_off() {
    let (hub, made) = server(Keys::Open, true);
    let old = hub.claim("live", "cam").expect("old");
    old.send(data(1)).await.expect("send");
    let new = hub.claim("live", "cam").expect("takeover");
    assert_eq!(old.send(data(2)).await, Err(Lost::Replaced));
    new.send(data(3)).await.expect("send");
    // The old claim going away does not free the stream the new one holds.
    drop(old);
    let third = hub.claim("live", "cam").expect("takeover again");
    assert_eq!(new.send(data(4)).await, Err(Lost::Replaced));
    third.send(data(5)).await.expect("send");
    let mut made = made.lock().expect("lock");
    let rx = &mut made.get_mut(0).expect("cam").1;
    let got: Vec<IngestEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, vec![data(1), data(3), data(5)]);
}

#[test]
fn idle_streams_are_reaped_after_the_linger_time() {
    let (hub, made) = server(Keys::Open, false);
    let cam = hub.claim("live", "cam").expect("cam");
    let news = hub.claim("live", "news").expect("news");
    drop(news);
    let now = Instant::now();
    assert!(hub.reap(now).is_empty(), "not yet");
    let later = now + Duration::from_secs(11);
    assert_eq!(hub.reap(later), vec!["news".to_owned()]);
    assert_eq!(hub.streams(), 1, "cam has its publisher");
    // news's driver lost its sender: its receiver sees the end.
    let mut made = made.lock().expect("lock");
    let rx = &mut made.get_mut(1).expect("news").1;
    assert!(matches!(
        rx.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected)
    ));
    drop(cam);
}

#[test]
fn single_mode_takes_its_one_stream() {
    let (tx, rx) = mpsc::channel(4);
    let hub = Hub::single(policy(Keys::Open, false), "cam", tx, None);
    assert!(hub.claim("live", "cam").is_ok());
    let why = hub.claim("live", "other").err().expect("other refused").why;
    assert!(why.contains("this input takes stream cam only"), "{why}");
    drop(rx);
    let why = hub.claim("live", "cam").err().expect("driver gone").why;
    assert!(why.contains("the stream has ended"), "{why}");
    assert!(hub
        .reap(Instant::now() + Duration::from_secs(99))
        .is_empty());
}

#[test]
fn a_failing_factory_refuses_and_leaves_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let factory: Factory = Box::new(move |name| {
        c.fetch_add(1, Ordering::Relaxed);
        anyhow::bail!("{name} is a VOD stream")
    });
    let hub = Hub::server(policy(Keys::Open, false), factory, None);
    let why = hub.claim("live", "clip").err().expect("refused").why;
    assert!(why.contains("clip is a VOD stream"), "{why}");
    assert_eq!(hub.streams(), 0);
    assert!(hub.claim("live", "clip").is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn close_ends_every_driver() {
    let (hub, made) = server(Keys::Open, false);
    let cam = hub.claim("live", "cam").expect("cam");
    let mut closing = hub.closing();
    hub.close().await;
    assert!(*closing.borrow_and_update());
    assert_eq!(cam.send(data(1)).await, Err(Lost::Replaced));
    let mut made = made.lock().expect("lock");
    let rx = &mut made.get_mut(0).expect("cam").1;
    assert_eq!(rx.try_recv().ok(), Some(IngestEvent::End));
    assert!(hub.claim("live", "new").is_err(), "no claims while closing");
}
