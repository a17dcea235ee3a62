// SPDX-License-Identifier: MIT OR Apache-2.0
//! Hub tests: sequence, ring and resync, filters, fan-out and back-pressure, long-poll.

use std::time::{Duration, UNIX_EPOCH};

use super::event::rfc3339_millis;
use super::*;

fn segment(msn: u64) -> Payload {
    Payload::SegmentPublished {
        rendition: "720p".into(),
        msn,
        duration: 2.002,
        bytes: 1000,
        discontinuity: false,
        parts: None,
    }
}

fn part(msn: u64) -> Payload {
    Payload::PartPublished {
        rendition: "720p".into(),
        msn,
        part: 0,
        duration: 0.2,
        independent: true,
    }
}

fn small(ring: usize, queue: usize) -> Events {
    Events::new(EventsConfig {
        ring,
        queue,
        max_subscribers: 10_000,
    })
}

/// Seqs of items; a resync is written as its seq negated.
fn seqs(items: &[Item]) -> Vec<i64> {
    items
        .iter()
        .map(|i| match i {
            Item::Resync(s) => -(*s as i64),
            Item::Event(e) => e.seq as i64,
        })
        .collect()
}

fn drain(sub: &mut Subscription) -> (Vec<i64>, Option<Ended>) {
    let mut items = Vec::new();
    loop {
        match sub.try_recv() {
            Some(Ok(item)) => items.push(item),
            Some(Err(ended)) => return (seqs(&items), Some(ended)),
            None => return (seqs(&items), None),
        }
    }
}

#[test]
fn times_are_rfc3339_utc_with_milliseconds() {
    // Expected values from Python's datetime (an independent implementation).
    let cases = [
        (0u64, "1970-01-01T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_796_493_600_123, "2026-12-05T18:00:00.123Z"),
        (1_709_251_199_500, "2024-02-29T23:59:59.500Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
    ];
    for (ms, want) in cases {
        let t = UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rfc3339_millis(t), want, "{ms} ms");
    }
}

#[test]
fn events_have_one_json_shape_and_a_gapless_sequence() {
    let hub = Events::default();
    let session = session_id();
    let payloads = [
        (
            "news",
            Payload::StreamAdded {
                kind: StreamKind::Live,
                playlist: "news/master.m3u8".into(),
            },
            "stream.added",
            serde_json::json!({"kind": "live", "playlist": "news/master.m3u8"}),
        ),
        (
            "news",
            segment(7),
            "segment.published",
            serde_json::json!({"rendition": "720p", "msn": 7, "duration": 2.002, "bytes": 1000,
                "discontinuity": false, "parts": null}),
        ),
        (
            "news",
            Payload::StreamEnded {
                reason: EndReason::InputLost,
            },
            "stream.ended",
            serde_json::json!({"reason": "input_lost"}),
        ),
        (
            "talk",
            Payload::PackageFailed {
                file: "talk.mp4".into(),
                error: "no video track".into(),
            },
            "package.failed",
            serde_json::json!({"file": "talk.mp4", "error": "no video track"}),
        ),
    ];
    let mut sub = hub.subscribe(None, Filter::default()).unwrap();
    for (i, (stream, payload, ty, data)) in payloads.into_iter().enumerate() {
        let seq = hub.publish(stream, &session, payload);
        assert_eq!(seq, i as u64 + 1);
        let Some(Ok(Item::Event(e))) = sub.try_recv() else {
            panic!("event {seq} not delivered");
        };
        let v: serde_json::Value = serde_json::from_str(e.json()).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(
            keys.len(),
            6,
            "exactly seq,time,type,stream,session,data: {v}"
        );
        assert_eq!(v["seq"], seq);
        assert_eq!(v["type"], ty);
        assert_eq!(v["stream"], stream);
        assert_eq!(v["session"], session.as_str());
        assert_eq!(v["data"], data);
        assert_eq!(v["time"].as_str().unwrap(), rfc3339_millis(e.time));
    }
    assert_eq!(hub.last_seq(), 4);
    assert_ne!(session_id(), session, "run ids are distinct");
}

#[test]
fn seq_grows_by_one_across_publishers_on_many_threads() {
    let hub = Events::default();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let hub = hub.clone();
            std::thread::spawn(move || {
                (0..500)
                    .map(|i| hub.publish(&format!("s{t}"), "r", segment(i)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=2000).collect::<Vec<_>>());
    // The ring holds them in seq order.
    let items = hub.read(1996, &Filter::default(), usize::MAX).unwrap();
    assert_eq!(seqs(&items), vec![1997, 1998, 1999, 2000]);
}

#[test]
fn since_resumes_from_the_ring_or_says_resync() {
    // Ring of 4 after 10 events: 7..=10 are held.
    let ten = || {
        let hub = small(4, 16);
        for msn in 0..10 {
            hub.publish("news", "r", segment(msn));
        }
        hub
    };
    let cases: [(u64, Result<Vec<i64>, EventsError>); 7] = [
        (10, Ok(vec![])),
        (9, Ok(vec![10])),
        (6, Ok(vec![7, 8, 9, 10])),
        (5, Ok(vec![-6, 7, 8, 9, 10])),
        (0, Ok(vec![-6, 7, 8, 9, 10])),
        (
            11,
            Err(EventsError::SinceInFuture {
                since: 11,
                latest: 10,
            }),
        ),
        (
            u64::MAX,
            Err(EventsError::SinceInFuture {
                since: u64::MAX,
                latest: 10,
            }),
        ),
    ];
    for (since, want) in cases {
        let hub = ten();
        let got = hub
            .read(since, &Filter::default(), usize::MAX)
            .map(|i| seqs(&i));
        assert_eq!(got, want, "read since={since}");
        // A subscription gets the same backlog, then what comes next.
        match (hub.subscribe(Some(since), Filter::default()), &want) {
            (Ok(mut sub), Ok(want)) => {
                assert_eq!(
                    drain(&mut sub),
                    (want.clone(), None),
                    "subscribe since={since}"
                );
                hub.publish("news", "r", segment(99));
                assert_eq!(drain(&mut sub), (vec![11], None), "then new, since={since}");
            }
            (Err(e), Err(want)) => assert_eq!(&e, want),
            (got, want) => panic!("since={since}: {got:?} vs {want:?}"),
        }
    }
    // The resync message itself.
    assert_eq!(resync_json(6), r#"{"type":"resync","seq":6}"#);
    // Before any event, since=0 is "from the start", anything else is in the future.
    let empty = small(4, 16);
    assert!(empty.read(0, &Filter::default(), 9).unwrap().is_empty());
    assert!(empty.read(1, &Filter::default(), 9).is_err());
}

#[test]
fn filters_by_stream_and_type_and_part_published_only_on_request() {
    let hub = Events::default();
    hub.publish("a", "r", segment(0)); // 1
    hub.publish("b", "r", segment(0)); // 2
    hub.publish("a", "r", part(1)); // 3
    hub.publish(
        "a",
        "r",
        Payload::StreamEnded {
            reason: EndReason::Endlist,
        },
    ); // 4
    hub.publish("c", "r", Payload::StreamRemoved); // 5
    let cases: [(&[&str], Option<&str>, Vec<i64>); 8] = [
        (&[], None, vec![1, 2, 4, 5]),
        (&["a"], None, vec![1, 4]),
        (&["a", "c"], None, vec![1, 4, 5]),
        (&[], Some("part.published"), vec![3]),
        (&["a"], Some("segment.published,part.published"), vec![1, 3]),
        (&[], Some(" stream.ended , stream.removed,"), vec![4, 5]),
        (&["b"], Some("stream.ended"), vec![]),
        (&["nope"], None, vec![]),
    ];
    for (streams, types, want) in cases {
        let filter = Filter::parse(streams.iter().copied(), types).unwrap();
        let got = seqs(&hub.read(0, &filter, usize::MAX).unwrap());
        assert_eq!(got, want, "streams {streams:?} types {types:?}");
        let mut sub = hub.subscribe(Some(0), filter).unwrap();
        assert_eq!(
            drain(&mut sub).0,
            want,
            "subscription {streams:?} {types:?}"
        );
    }
    let errors: [(Option<&str>, EventsError); 3] = [
        (
            Some("segment.published,bogus,stream.live,Stream.Ended"),
            EventsError::UnknownTypes(vec!["bogus".into(), "Stream.Ended".into()]),
        ),
        (Some(""), EventsError::NoTypes),
        (Some(" , "), EventsError::NoTypes),
    ];
    for (types, want) in errors {
        assert_eq!(Filter::parse([], types), Err(want.clone()), "{types:?}");
    }
    assert_eq!(
        EventsError::UnknownTypes(vec!["bogus".into(), "x".into()]).to_string(),
        "unknown event types: bogus, x"
    );
    for t in EventType::ALL {
        assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
    }
}

#[test]
fn a_slow_subscriber_is_dropped_the_others_continue_and_the_publisher_never_waits() {
    let hub = small(1000, 4);
    let mut slow = hub.subscribe(None, Filter::default()).unwrap();
    let mut fast = hub.subscribe(None, Filter::default()).unwrap();
    let mut fast_got = Vec::new();
    for msn in 0..100 {
        hub.publish("news", "r", segment(msn));
        fast_got.extend(drain(&mut fast).0);
    }
    assert_eq!(fast_got, (1..=100).collect::<Vec<_>>());
    // The slow one gets what was queued, then learns it was dropped and where it was.
    assert_eq!(
        drain(&mut slow),
        (vec![1, 2, 3, 4], Some(Ended::Lagged { last_seq: 4 }))
    );
    assert_eq!(hub.subscriber_count(), 1);
    // It resumes with since and loses nothing, repeats nothing.
    let mut resumed = hub.subscribe(Some(4), Filter::default()).unwrap();
    assert_eq!(drain(&mut resumed).0, (5..=100).collect::<Vec<_>>());

    // Publishing with a full subscriber that never reads: every publish returns at once
    // (the bound is generous: 10,000 publishes take milliseconds).
    let _stuck = hub.subscribe(None, Filter::default()).unwrap();
    let start = std::time::Instant::now();
    for msn in 0..10_000 {
        hub.publish("news", "r", segment(msn));
    }
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(hub.last_seq(), 10_100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_each_receive_the_event() {
    let hub = Events::default();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let mut sub = hub.subscribe(None, Filter::default()).unwrap();
            tokio::spawn(async move { sub.recv().await })
        })
        .collect();
    assert_eq!(hub.subscriber_count(), 1000);
    let seq = hub.publish("news", "r", segment(1));
    for task in tasks {
        let item = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("every subscriber is woken")
            .unwrap()
            .unwrap();
        assert_eq!(item.seq(), seq);
        assert!(item.json().contains("\"segment.published\""));
    }
}

#[tokio::test]
async fn long_poll_answers_at_once_waits_for_a_match_or_times_out() {
    let hub = small(64, 16);
    hub.publish("a", "r", segment(0)); // 1
    let all = Filter::default();
    // Something after since: at once.
    let got = hub.wait(0, &all, Duration::from_secs(30)).await.unwrap();
    assert_eq!(seqs(&got), vec![1]);
    // Nothing yet: empty after the timeout.
    let got = hub.wait(1, &all, Duration::from_millis(50)).await.unwrap();
    assert!(got.is_empty());
    // Since in the future: an error, not a wait.
    assert!(hub.wait(5, &all, Duration::from_secs(30)).await.is_err());
    // Held until a matching event: non-matching ones (stream a) do not release it.
    let only_b = Filter::streams(["b"]);
    let waiter = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.wait(1, &only_b, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    hub.publish("a", "r", segment(1)); // 2
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiter.is_finished(),
        "a non-matching event released the poll"
    );
    hub.publish("b", "r", segment(0)); // 3
    let got = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seqs(&got), vec![3]);
}

/// Counts wake-ups of a future polled by hand.
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_held_long_poll_is_woken_only_by_events_of_its_types() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let ended = || Payload::StreamEnded {
        reason: EndReason::Endlist,
    };
    // (types filter, event published, woken)
    let cases: [(Option<&str>, Payload, bool); 8] = [
        (Some("stream.ended"), segment(0), false),
        (Some("stream.ended"), part(0), false),
        (Some("stream.ended"), ended(), true),
        (None, part(0), false),
        (None, segment(0), true),
        (Some("segment.published,part.published"), part(0), true),
        (Some("segment.published,part.published"), ended(), false),
        (
            Some("stream.live,stream.ended,part.published"),
            part(0),
            true,
        ),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    for (types, payload, want) in cases {
        let hub = small(64, 16);
        let filter = Filter::parse([], types).unwrap();
        let counter = std::sync::Arc::new(CountingWaker(Default::default()));
        let waker = std::task::Waker::from(std::sync::Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut wait = Box::pin(hub.wait(0, &filter, Duration::from_secs(60)));
        assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Pending));
        let kind = payload.event_type();
        hub.publish("s", "r", payload);
        let woken = counter.0.load(std::sync::atomic::Ordering::SeqCst) > 0;
        assert_eq!(woken, want, "types {types:?}, {kind}");
    }
}

#[tokio::test]
async fn closing_ends_subscriptions_and_the_subscriber_limit_holds() {
    let hub = Events::new(EventsConfig {
        ring: 8,
        queue: 8,
        max_subscribers: 2,
    });
    let mut a = hub.subscribe(None, Filter::default()).unwrap();
    let b = hub.subscribe(None, Filter::default()).unwrap();
    assert_eq!(
        hub.subscribe(None, Filter::default()).unwrap_err(),
        EventsError::TooManySubscribers(2)
    );
    drop(b);
    let _c = hub.subscribe(None, Filter::default()).unwrap();
    hub.publish("a", "r", segment(0));
    hub.close_subscribers();
    assert_eq!(a.recv().await.unwrap().seq(), 1, "queued events come first");
    assert_eq!(a.recv().await.unwrap_err(), Ended::Closed);
}

#[test]
fn a_servers_hub_takes_more_subscribers_than_the_default_edge_limit() {
    // `--events-max-subscribers` above 10,000 must not hit a second, hidden limit in the hub.
    let hub = Events::default();
    let subs: Vec<_> = (0..10_050)
        .map(|_| hub.subscribe(None, Filter::default()).expect("subscribe"))
        .collect();
    assert_eq!(hub.subscriber_count(), subs.len());
}
