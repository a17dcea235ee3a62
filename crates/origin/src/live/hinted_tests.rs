// SPDX-License-Identifier: MIT OR Apache-2.0
//! A request for the preload-hinted part (RFC 8216bis 6.2.6) that reaches an origin following
//! storage before any blocking reload of its playlist, or while the version it follows is
//! behind the one the client read: held until the part is stored, then served — never 404.
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::*;
use crate::live::LivePlaylists;
use crate::source::store::counting::CountingStore;
use crate::source::{LiveSource, ObjectBody, ObjectSource};
use crate::StoreSource;

/// An LL-HLS playlist of rendition `v`, run `r1`: `segments` whole segments, `parts` parts of
/// the next one, and the hint for the part after them.
fn playlist(segments: u64, parts: u64) -> String {
    let mut p = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:30\n\
         #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for s in 0..segments {
        p.push_str(&format!("#EXTINF:1.0,\nv_r1_{s:06}.m4s\n"));
    }
    for i in 0..parts {
        p.push_str(&format!(
            "#EXT-X-PART:DURATION=0.2,URI=\"v_r1_{segments:06}.{i}.m4s\"\n"
        ));
    }
    p.push_str(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"v_r1_{segments:06}.{parts}.m4s\"\n"
    ));
    p
}

struct Fixture {
    store: Arc<CountingStore>,
    live: LivePlaylists,
    source: LiveSource<StoreSource>,
}

impl Fixture {
    fn new() -> Self {
        let store = Arc::new(CountingStore::default());
        let inner = StoreSource::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "live");
        let live = LivePlaylists::following(inner.playlist_fetch());
        let source = LiveSource::new(inner, live.clone());
        Fixture {
            store,
            live,
            source,
        }
    }

    async fn put(&self, name: &str, bytes: &[u8]) {
        let key = Path::from(format!("live/ev/{name}"));
        self.store
            .put(&key, PutPayload::from(bytes.to_vec()))
            .await
            .expect("put");
    }

    /// The packager's order: the part, then the playlist that lists it.
    async fn store_part(&self, segments: u64, parts: u64) {
        let part = parts - 1;
        let name = format!("v_r1_{segments:06}.{part}.m4s");
        self.put(&name, name.as_bytes()).await;
        self.put("v.m3u8", playlist(segments, parts).as_bytes())
            .await;
    }

    /// Opens `ev/NAME` in a task: the body, or the error kind.
    fn open(&self, name: &str) -> tokio::task::JoinHandle<Result<Vec<u8>, io::ErrorKind>> {
        let source = self.source.clone();
        let path = ObjectPath::from_request_path(&format!("/ev/{name}")).expect("path");
        tokio::spawn(async move {
            let obj = source.open(&path).await.map_err(|e| e.kind())?;
            match obj.body {
                ObjectBody::Memory(b) => Ok(b.to_vec()),
                ObjectBody::Remote(r) => r
                    .read(0, obj.meta.len)
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| e.kind()),
                ObjectBody::File(_) | ObjectBody::Ranged(_) => Err(io::ErrorKind::Unsupported),
            }
        })
    }
}

async fn settle(task: &tokio::task::JoinHandle<Result<Vec<u8>, io::ErrorKind>>) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "answered before the part was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hinted_part_as_first_request_is_held_then_served() {
    let f = Fixture::new();
    f.store_part(2, 1).await;
    // No blocking reload first: the client's very first request is the hinted part.
    let name = "v_r1_000002.1.m4s";
    let task = f.open(name);
    settle(&task).await;
    f.store_part(2, 2).await;
    let got = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("released once stored")
        .expect("join");
    assert_eq!(got.as_deref(), Ok(name.as_bytes()), "served, not 404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_hinted_after_the_followed_version_waits_for_it_to_catch_up() {
    let f = Fixture::new();
    f.store_part(2, 1).await;
    let path = ObjectPath::from_request_path("/ev/v.m3u8").expect("path");
    let follow = f.live.follow().expect("following");
    let rx = follow.subscribe(&path, true).await.expect("followed");
    // Events connected: the next poll is a whole target duration (30 s) away, so the
    // followed version stays behind the newer one a client read (from another origin).
    follow.set_connected(true);
    f.store_part(2, 2).await;
    assert_eq!(rx.borrow().hint.as_deref(), Some("ev/v_r1_000002.1.m4s"));
    let task = f.open("v_r1_000002.2.m4s");
    settle(&task).await;
    f.store_part(2, 3).await;
    let got = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("released well before the 30 s poll")
        .expect("join");
    assert_eq!(got.as_deref(), Ok(&b"v_r1_000002.2.m4s"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_missing_objects_are_404_at_once() {
    let f = Fixture::new();
    f.store_part(2, 1).await;
    let cases = [
        // Not the next parts: listed already (gone), or further ahead than a segment.
        "v_r1_000000.0.m4s",
        "v_r1_000004.0.m4s",
        // Another run, another rendition (no playlist), not a part name.
        "v_r0_000002.1.m4s",
        "w_r1_000002.1.m4s",
        "v_r1_000002.m4s",
        "init.mp4",
    ];
    for name in cases {
        let task = f.open(name);
        let got = tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap_or_else(|_| panic!("{name}: held"))
            .expect("join");
        assert_eq!(got, Err(io::ErrorKind::NotFound), "{name}");
    }
}

#[test]
fn part_names() {
    let cases = [
        ("v_r1_000002.1.m4s", Some(("v", "r1", 2, 1))),
        (
            "720p_high_ab12_000010.3.m4s",
            Some(("720p_high", "ab12", 10, 3)),
        ),
        ("v_r1_000002.m4s", None),
        ("v_000002.1.m4s", None),
        ("v_r1_00x002.1.m4s", None),
        ("_r1_000002.1.m4s", None),
        ("stream.m3u8", None),
    ];
    for (file, want) in cases {
        let got = PartName::parse(file).map(|p| (p.rendition, p.run, p.msn, p.part));
        assert_eq!(got, want, "{file}");
    }
}
