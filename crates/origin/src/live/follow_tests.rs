// SPDX-License-Identifier: MIT OR Apache-2.0
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::*;
use crate::source::store::counting::CountingStore;
use crate::StoreSource;

/// An LL-HLS playlist of `segments` whole segments and `parts` parts of the next one.
fn playlist(target: u64, segments: u64, parts: u64) -> String {
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    );
    for s in 0..segments {
        p.push_str(&format!("#EXTINF:1.0,\ns_{s}.m4s\n"));
    }
    for i in 0..parts {
        p.push_str(&format!(
            "#EXT-X-PART:DURATION=0.2,URI=\"s_{segments}.{i}.m4s\"\n"
        ));
    }
    p.push_str(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s_{segments}.{parts}.m4s\"\n"
    ));
    p
}

struct Fixture {
    store: Arc<CountingStore>,
    follow: Arc<Follow>,
}

impl Fixture {
    async fn new() -> Self {
        let store = Arc::new(CountingStore::default());
        let source = StoreSource::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "live");
        let follow = Arc::new(Follow::new(source.playlist_fetch()));
        Fixture { store, follow }
    }

    async fn write(&self, text: &str) {
        let key = Path::from("live/ev/stream.m3u8");
        self.store
            .put(&key, PutPayload::from(text.as_bytes().to_vec()))
            .await
            .expect("put");
    }

    async fn subscribe(&self) -> Receiver {
        let path = ObjectPath::from_request_path("/ev/stream.m3u8").expect("path");
        self.follow.subscribe(&path, true).await.expect("followed")
    }
}

/// Waits (at most `limit`) until `rx` lists `want`; how long it took.
async fn until_listed(rx: &mut Receiver, want: Want, limit: Duration) -> Option<Duration> {
    let began = Instant::now();
    let check = async {
        loop {
            if want.listed_in(&rx.borrow_and_update().state) {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::time::timeout(limit, check).await.ok()?;
    Some(began.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poke_lists_the_announced_part_without_waiting_for_the_poll() {
    let f = Fixture::new().await;
    f.write(&playlist(30, 2, 1)).await;
    // Events connected: the fallback poll is a whole target duration (30 s) away.
    f.follow.set_connected(true);
    let mut rx = f.subscribe().await;
    let want = Want {
        msn: 2,
        part: Some(1),
    };
    assert!(!want.listed_in(&rx.borrow().state));
    // The event may come before the playlist is in storage: the follower reads again.
    f.follow.poke("ev", Some("stream"), Some(want));
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.write(&playlist(30, 2, 2)).await;
    let took = until_listed(&mut rx, want, Duration::from_secs(10)).await;
    assert!(took.is_some(), "released by the poke, not by the 30 s poll");
    assert!(rx.borrow().hint.as_deref() == Some("ev/s_2.2.m4s"));
    // Conditional GETs while it was not there yet.
    assert!(
        f.store.count("get live/ev/stream.m3u8") >= 3,
        "{:?}",
        f.store.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_events_it_polls_at_half_the_part_target() {
    let f = Fixture::new().await;
    f.write(&playlist(30, 1, 0)).await;
    let mut rx = f.subscribe().await;
    for parts in 1..=3 {
        f.write(&playlist(30, 1, parts)).await;
        let want = Want {
            msn: 1,
            part: Some(parts - 1),
        };
        let took = until_listed(&mut rx, want, Duration::from_secs(10)).await;
        assert!(took.is_some(), "part {parts} listed by polling alone");
    }
    // Polls are conditional: unchanged playlists cost a 304.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(f.follow.reads() >= 4);
    let gets = f.store.count("get live/ev/stream.m3u8");
    assert!(gets >= 4, "{gets}");
    // The pace: half the part target (0.1 s here), not the target duration (30 s) nor a busy
    // loop: about 20 reads in 2 s; generous bounds for a loaded machine.
    let before = f.follow.reads();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads = f.follow.reads() - before;
    assert!(
        (6..=40).contains(&reads),
        "{reads} polls in 2 s at a 0.1 s pace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_and_vod_playlists_are_not_followed() {
    let f = Fixture::new().await;
    f.write(&format!("{}#EXT-X-ENDLIST\n", playlist(2, 3, 0)))
        .await;
    let path = ObjectPath::from_request_path("/ev/stream.m3u8").expect("path");
    assert!(f.follow.subscribe(&path, true).await.is_none());
    // Not blocking, not followed yet: no read at all.
    let other = ObjectPath::from_request_path("/ev/other.m3u8").expect("path");
    assert!(f.follow.subscribe(&other, false).await.is_none());
    assert_eq!(f.follow.reads(), 1);
}

#[test]
fn pokes_find_their_playlists() {
    let cases = [
        ("ev/stream.m3u8", "ev", Some("stream"), true),
        ("ev/stream.m3u8", "ev", Some("720p"), false),
        ("ev/720p.m3u8", "ev", None, true),
        ("live/ev/stream.m3u8", "ev", Some("stream"), true),
        ("live/eve/stream.m3u8", "ev", Some("stream"), false),
        ("other/stream.m3u8", "ev", None, false),
    ];
    for (path, stream, rendition, want) in cases {
        assert_eq!(
            belongs(path, stream, rendition),
            want,
            "{path} {stream} {rendition:?}"
        );
    }
}

#[test]
fn what_a_state_lists() {
    let state = state_from_text(playlist(2, 3, 2).as_bytes()).expect("state");
    let cases = [
        (2, None, true),
        (3, None, false),
        (3, Some(0), true),
        (3, Some(1), true),
        (3, Some(2), false),
        (4, Some(0), false),
        (1, Some(5), true),
    ];
    for (msn, part, want) in cases {
        assert_eq!(Want { msn, part }.listed_in(&state), want, "{msn} {part:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_slows_down_while_storage_fails() {
    let f = Fixture::new().await;
    f.write(&playlist(2, 1, 0)).await;
    let _rx = f.subscribe().await;
    f.store.set_down(true);
    let before = f.follow.reads();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = f.follow.reads() - before;
    // Every 100 ms would be 30 reads in 3 s; doubling up to one target duration (2 s) is
    // far fewer.
    assert!(during <= 12, "{during} reads of a failing store in 3 s");
    // Back: found again within the slowest pace.
    f.store.set_down(false);
    f.write(&playlist(2, 1, 1)).await;
    let mut rx = f.subscribe().await;
    let want = Want {
        msn: 1,
        part: Some(0),
    };
    assert!(until_listed(&mut rx, want, Duration::from_secs(10))
        .await
        .is_some());
}
