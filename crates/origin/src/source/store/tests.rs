// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`StoreSource`] behind a real origin over TCP, on a [`CountingStore`]: objects, ranges,
//! listing, request collapsing, playlist revalidation and outages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::counting::CountingStore;
use super::{playlist_ttl, StoreSource};
use crate::{ServeConfig, Server};

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

async fn request(addr: SocketAddr, path: &str, extra: &str) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(raw.get(..split).unwrap_or_default()).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    Resp {
        status,
        head,
        body: raw.get(split + 4..).unwrap_or_default().to_vec(),
    }
}

const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nr1/stream.m3u8\n";
const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg.ts\n#EXT-X-ENDLIST\n";

fn segment() -> Vec<u8> {
    (0..10_000u32).map(|i| (i % 251) as u8).collect()
}

/// A store holding one packaged stream under `vod/clip/`, and an origin serving `vod`.
async fn start(hot_cache_mib: u64) -> (Arc<CountingStore>, SocketAddr) {
    let store = Arc::new(CountingStore::default());
    let put = |key: &str, data: Vec<u8>| {
        let store = Arc::clone(&store);
        let key = Path::from(key);
        async move { store.put(&key, PutPayload::from(data)).await.expect("put") }
    };
    put("vod/clip/r1/seg.ts", segment()).await;
    put("vod/clip/r1/stream.m3u8", MEDIA.into()).await;
    put("vod/clip/master.m3u8", MASTER.into()).await;
    put("vod/clip/.hlsorigin/runs/r1", b"started 0\n".to_vec()).await;
    put("vod/top.m3u8", MEDIA.into()).await;
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        hot_cache_mib,
        ..ServeConfig::default()
    };
    let source = StoreSource::new(Arc::clone(&store) as Arc<dyn ObjectStore>, "vod");
    let server = Server::bind_with_source(&config, source)
        .await
        .expect("bind");
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    (store, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_ranges_and_listing() {
    let (store, addr) = start(0).await;
    let get = |p: &'static str, extra: &'static str| request(addr, p, extra);
    let master = get("/clip/master.m3u8", "").await;
    assert_eq!(master.status, 200);
    assert_eq!(master.body, MASTER.as_bytes());
    assert_eq!(
        master.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let media = get("/clip/r1/stream.m3u8", "").await;
    assert_eq!(media.body, MEDIA.as_bytes());

    // Hot cache off: each segment response is one ranged GET of what it sends.
    let data = segment();
    let whole = get("/clip/r1/seg.ts", "").await;
    assert_eq!((whole.status, &whole.body[..]), (200, &data[..]));
    let part = get("/clip/r1/seg.ts", "Range: bytes=100-199\r\n").await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(part.body, &data[100..200]);
    let tail = get("/clip/r1/seg.ts", "Range: bytes=-10\r\n").await;
    assert_eq!(tail.body, &data[9990..]);
    let log = store.log();
    for want in [
        "get vod/clip/r1/seg.ts 0-10000",
        "get vod/clip/r1/seg.ts 100-200",
        "get vod/clip/r1/seg.ts 9990-10000",
    ] {
        assert!(log.iter().any(|l| l == want), "{want} not in {log:?}");
    }
    assert_eq!(store.count("head vod/clip/r1/seg.ts"), 1, "metadata kept");

    // Missing keys and dot-names are 404; the listing finds the streams only.
    assert_eq!(get("/clip/r1/nope.ts", "").await.status, 404);
    assert_eq!(get("/clip/.hlsorigin/runs/r1", "").await.status, 404);
    let list = get("/api/streams", "").await;
    let json: serde_json::Value = serde_json::from_slice(&list.body).expect("json");
    assert_eq!(
        json["streams"],
        serde_json::json!(["clip/master.m3u8", "top.m3u8"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_cost_one_get() {
    let (store, addr) = start(64).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let range = if i % 2 == 0 {
                    ""
                } else {
                    "Range: bytes=0-99\r\n"
                };
                request(addr, "/clip/r1/seg.ts", range).await
            })
        })
        .collect();
    let data = segment();
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            200 => assert_eq!(r.body, data),
            206 => assert_eq!(r.body, &data[..100]),
            s => panic!("status {s}"),
        }
    }
    assert_eq!(
        store.count("get vod/clip/r1/seg.ts"),
        1,
        "{:?}",
        store.log()
    );
    assert_eq!(
        store.count("head vod/clip/r1/seg.ts"),
        1,
        "{:?}",
        store.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_are_kept_briefly_then_revalidated() {
    let (store, addr) = start(64).await;
    for _ in 0..20 {
        assert_eq!(request(addr, "/clip/master.m3u8", "").await.status, 200);
    }
    assert_eq!(store.count("get vod/clip/master.m3u8"), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = request(addr, "/clip/master.m3u8", "").await;
    assert_eq!(again.body, MASTER.as_bytes());
    assert_eq!(store.count("get vod/clip/master.m3u8"), 2);
    let metrics = request(addr, "/metrics", "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("hlsorigin_storage_not_modified_total 1"),
        "{text}"
    );

    // A new version is seen once the kept copy is older than its time-to-live.
    let new = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000\nr2/stream.m3u8\n";
    store
        .put(&Path::from("vod/clip/master.m3u8"), PutPayload::from(new))
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        request(addr, "/clip/master.m3u8", "").await.body,
        new.as_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_503_never_404() {
    let (store, addr) = start(64).await;
    store.set_down(true);
    for path in [
        "/clip/master.m3u8",
        "/clip/r1/stream.m3u8",
        "/clip/r1/seg.ts",
    ] {
        let r = request(addr, path, "").await;
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=1"),
            "{path}"
        );
    }
    let metrics = request(addr, "/metrics", "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("hlsorigin_storage_errors_total 3"), "{text}");
    assert!(
        text.contains("hlsorigin_http_requests_total{kind=\"segment\",status=\"503\"} 1"),
        "{text}"
    );
    // Back up: served at once (errors were not kept).
    store.set_down(false);
    assert_eq!(request(addr, "/clip/r1/seg.ts", "").await.status, 200);
    assert_eq!(request(addr, "/clip/master.m3u8", "").await.status, 200);
}

/// Storage answering "no such key" for an object a playlist the origin fetched lists (a
/// restarting SeaweedFS does for a moment) is storage not ready: 503 with the short
/// Cache-Control, counted as a storage error. A name no playlist lists stays 404, and so
/// does one the playlist no longer lists (collected).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_object_storage_says_is_missing_is_503() {
    let (store, addr) = start(64).await;
    assert_eq!(request(addr, "/clip/r1/stream.m3u8", "").await.status, 200);
    // Its length known (HEAD through the origin) before storage lost it: the GET is 503 too.
    let head = "HEAD /clip/r1/seg.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    store
        .delete(&Path::from("vod/clip/r1/seg.ts"))
        .await
        .expect("delete");
    let cases = [("/clip/r1/seg.ts", 503), ("/clip/r1/other.ts", 404)];
    for (path, want) in cases {
        let r = request(addr, path, "").await;
        assert_eq!(r.status, want, "{path}");
        if want == 503 {
            assert_eq!(r.header("cache-control"), Some("public, max-age=1"));
        }
    }
    let metrics = request(addr, "/metrics", "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("hlsorigin_storage_errors_total 1"), "{text}");
    // The playlist no longer lists it (its run was collected): a true 404.
    let gone = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nnew.ts\n#EXT-X-ENDLIST\n";
    let key = Path::from("vod/clip/r1/stream.m3u8");
    store.put(&key, PutPayload::from(gone)).await.expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        request(addr, "/clip/r1/stream.m3u8", "").await.body,
        gone.as_bytes()
    );
    assert_eq!(request(addr, "/clip/r1/seg.ts", "").await.status, 404);
}

/// An origin holding an older version of a playlist than the player that asks (it got the
/// newer one from another origin behind the same CDN) reads the playlist again when storage
/// says "no such key" for an object it does not know: listed there → 503; listed nowhere →
/// 404; the playlist itself gone from storage too (a restarting SeaweedFS answers 404 for
/// everything for a moment) → 503; a directory with no playlist this origin serves → 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_a_newer_playlist_lists_is_503_on_an_origin_holding_an_older_one() {
    let (store, addr) = start(64).await;
    assert_eq!(request(addr, "/clip/r1/stream.m3u8", "").await.status, 200);
    let key = Path::from("vod/clip/r1/stream.m3u8");
    let newer = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg.ts\n#EXTINF:6,\nnext.ts\n";
    store.put(&key, PutPayload::from(newer)).await.expect("put");
    let cases = [("/clip/r1/next.ts", 503), ("/clip/r1/never.ts", 404)];
    for (path, want) in cases {
        assert_eq!(request(addr, path, "").await.status, want, "{path}");
    }
    store.delete(&key).await.expect("delete");
    // The directory's playlists are read again once per their time-to-live (1 s here).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cases = [("/clip/r1/later.ts", 503), ("/clip/r2/x.ts", 404)];
    for (path, want) in cases {
        assert_eq!(request(addr, path, "").await.status, want, "{path}");
    }
}

/// A fresh origin (no playlist of the directory fetched yet: just restarted, behind a CDN
/// that holds the playlists) lists the directory for its playlists when storage says "no such
/// key": an object a stored playlist lists → 503; a name none lists, or a directory with no
/// playlist → 404; the listing failing → 503. One LIST and one playlist GET per directory and
/// time-to-live, however many names are asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_origin_lists_the_directory_before_answering_404() {
    let (store, addr) = start(64).await;
    store
        .delete(&Path::from("vod/clip/r1/seg.ts"))
        .await
        .expect("delete");
    let cases = [
        ("/clip/r1/seg.ts", 503),
        ("/clip/r1/other.ts", 404),
        ("/clip/r1/seg.ts", 503),
        ("/clip/none/x.ts", 404),
    ];
    for (path, want) in cases {
        let r = request(addr, path, "").await;
        assert_eq!(r.status, want, "{path}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=1"),
            "{path}"
        );
    }
    assert_eq!(store.count("list/ vod/clip/r1"), 1, "{:?}", store.log());
    assert_eq!(
        store.count("get vod/clip/r1/stream.m3u8"),
        1,
        "{:?}",
        store.log()
    );
    store.fail_matching(Some("list/"));
    assert_eq!(request(addr, "/clip/r2/seg.ts", "").await.status, 503);
}

/// A client asking for many names no playlist lists, at once and one after another, costs
/// storage one re-read of the directory's playlist per its time-to-live, not one per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_names_reread_a_directorys_playlists_once_per_time_to_live() {
    let (store, addr) = start(64).await;
    assert_eq!(request(addr, "/clip/r1/stream.m3u8", "").await.status, 200);
    let playlist_gets = || store.count("get vod/clip/r1/stream.m3u8");
    let before = playlist_gets();
    let burst: Vec<_> = (0..20)
        .map(|i| tokio::spawn(async move { request(addr, &format!("/clip/r1/x{i}.ts"), "").await }))
        .collect();
    for r in burst {
        assert_eq!(r.await.expect("task").status, 404);
    }
    for i in 0..20 {
        assert_eq!(
            request(addr, &format!("/clip/r1/y{i}.ts"), "").await.status,
            404
        );
    }
    assert_eq!(playlist_gets() - before, 1, "{:?}", store.log());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(request(addr, "/clip/r1/z.ts", "").await.status, 404);
    assert_eq!(playlist_gets() - before, 2, "{:?}", store.log());
}

#[test]
fn playlist_time_to_live() {
    let cases: &[(&str, u64)] = &[
        (MASTER, 1000),
        (MEDIA, 1000),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n", 1000),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.ts\n", 500),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=0.5\n",
            250,
        ),
    ];
    for (text, ms) in cases {
        assert_eq!(
            playlist_ttl(text.as_bytes()),
            Duration::from_millis(*ms),
            "{text:?}"
        );
    }
}
