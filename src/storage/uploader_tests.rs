// SPDX-License-Identifier: MIT OR Apache-2.0
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::ObjectStoreExt;
use origin::source::store::counting::CountingStore;

use super::*;

fn start(
    store: &Arc<CountingStore>,
    deadline: Duration,
) -> (Uploader, JoinHandle<()>, Arc<UploadStats>) {
    start_with(store, deadline, false)
}

fn start_with(
    store: &Arc<CountingStore>,
    deadline: Duration,
    masters_wait: bool,
) -> (Uploader, JoinHandle<()>, Arc<UploadStats>) {
    let stats = Arc::new(UploadStats::default());
    let target = Target {
        store: Arc::clone(store) as Arc<dyn ObjectStore>,
        prefix: "live/ev".into(),
        deadline,
        stats: Arc::clone(&stats),
        masters_wait,
    };
    let (up, worker) = Uploader::start(&tokio::runtime::Handle::current(), target);
    (up, worker, stats)
}

async fn text(store: &CountingStore, name: &str) -> String {
    let got = store
        .get(&Path::from(format!("live/ev/{name}")))
        .await
        .expect(name);
    String::from_utf8(got.bytes().await.expect("body").to_vec()).expect("utf-8")
}

fn playlist(segments: &[&str], parts: &[&str]) -> String {
    let mut p = String::from("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n");
    for s in segments {
        p.push_str(&format!("#EXTINF:2.000,\n{s}\n"));
    }
    for u in parts {
        p.push_str(&format!("#EXT-X-PART:DURATION=0.5,URI=\"{u}\"\n"));
    }
    p
}

/// The media segments (URIs) of `text` that m3u8-rs reads as gaps.
fn gaps(text: &str) -> Vec<String> {
    let Ok(m3u8_rs::Playlist::MediaPlaylist(m)) = m3u8_rs::parse_playlist_res(text.as_bytes())
    else {
        panic!("not a media playlist: {text}");
    };
    m.segments
        .iter()
        .filter(|s| s.unknown_tags.iter().any(|t| t.tag == "X-GAP"))
        .map(|s| s.uri.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_order_segments_before_their_playlist() {
    let store = Arc::new(CountingStore::default());
    let (up, worker, stats) = start(&store, DEFAULT_DEADLINE);
    up.put("s_0.m4s", b"seg0");
    up.put("s_1.0.m4s", b"part");
    up.put(
        "stream.m3u8",
        playlist(&["s_0.m4s"], &["s_1.0.m4s"]).as_bytes(),
    );
    up.delete("s_0.m4s");
    drop(up);
    worker.await.expect("worker");
    let log = store.log();
    assert_eq!(
        log,
        [
            "put live/ev/s_0.m4s",
            "put live/ev/s_1.0.m4s",
            "put live/ev/stream.m3u8",
            "delete live/ev/s_0.m4s"
        ]
    );
    assert_eq!(stats.stored.load(Relaxed), 3);
    assert_eq!(stats.gaps.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_put_is_retried_until_stored() {
    let store = Arc::new(CountingStore::default());
    store.set_down(true);
    let (up, worker, stats) = start(&store, Duration::from_secs(10));
    up.put("s_0.ts", b"seg0");
    up.put("stream.m3u8", playlist(&["s_0.ts"], &[]).as_bytes());
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.set_down(false);
    drop(up);
    worker.await.expect("worker");
    assert!(stats.retries.load(Relaxed) >= 2, "retried while down");
    assert_eq!(stats.gaps.load(Relaxed), 0);
    assert_eq!(text(&store, "s_0.ts").await, "seg0");
    assert!(gaps(&text(&store, "stream.m3u8").await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_not_stored_in_time_is_listed_as_a_gap() {
    let store = Arc::new(CountingStore::default());
    store.set_down(true);
    let (up, worker, stats) = start(&store, Duration::from_millis(200));
    up.put("s_0.m4s", b"seg0");
    up.put("s_1.0.m4s", b"part");
    while stats.gaps.load(Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.set_down(false);
    up.put("s_1.1.m4s", b"part");
    up.put(
        "stream.m3u8",
        playlist(&["s_0.m4s"], &["s_1.0.m4s", "s_1.1.m4s"]).as_bytes(),
    );
    up.put("s_1.m4s", b"seg1");
    // A later version still marks the old gap; the new segment is whole.
    up.put(
        "stream.m3u8",
        playlist(&["s_0.m4s", "s_1.m4s"], &[]).as_bytes(),
    );
    drop(up);
    worker.await.expect("worker");
    let stored = text(&store, "stream.m3u8").await;
    assert_eq!(gaps(&stored), ["s_0.m4s"], "{stored}");
    // Never listed as playable while missing.
    let missing = store.get(&Path::from("live/ev/s_0.m4s")).await;
    assert!(matches!(missing, Err(object_store::Error::NotFound { .. })));
    assert_eq!(text(&store, "s_1.m4s").await, "seg1");
    assert_eq!(stats.gaps.load(Relaxed), 2);
}

/// An init segment has no gap marker: one not stored in time is held, no playlist naming it
/// is stored until it is, and the worker stores both once storage answers (no new job needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_segment_is_never_a_gap_and_its_playlist_waits_for_it() {
    let store = Arc::new(CountingStore::default());
    store.set_down(true);
    let (up, worker, stats) = start(&store, Duration::from_millis(200));
    up.put("s_init.mp4", b"init");
    up.put("s_0.m4s", b"seg0");
    let with_map = playlist(&["s_0.m4s"], &[]).replace(
        "#EXT-X-MEDIA-SEQUENCE:0\n",
        "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"s_init.mp4\"\n",
    );
    up.put("stream.m3u8", with_map.as_bytes());
    while stats.gaps.load(Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    store.set_down(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.count("put live/ev/stream.m3u8") == 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", store.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = store.log();
    // The last try of the init segment (the one that stored it) comes before any of the playlist.
    let init = log.iter().rposition(|l| l == "put live/ev/s_init.mp4");
    let listed = log.iter().position(|l| l == "put live/ev/stream.m3u8");
    assert!(init < listed, "{log:?}");
    assert_eq!(text(&store, "s_init.mp4").await, "init");
    assert_eq!(gaps(&text(&store, "stream.m3u8").await), ["s_0.m4s"]);
    assert_eq!(stats.gaps.load(Relaxed), 1, "the init segment is no gap");
    drop(up);
    worker.await.expect("worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_never_waits_for_a_dead_store() {
    let store = Arc::new(CountingStore::default());
    store.set_down(true);
    let (up, worker, stats) = start(&store, Duration::from_secs(30));
    let began = std::time::Instant::now();
    for i in 0..2000 {
        up.put(&format!("s_{i}.ts"), &[0u8; 1024]);
        up.put(
            "stream.m3u8",
            playlist(&[&format!("s_{i}.ts")], &[]).as_bytes(),
        );
    }
    // Thousands of objects handed over while storage is down: no waiting (generous bound).
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert!(
        stats.gaps.load(Relaxed) >= 2000 - QUEUE as u64,
        "overflowing segments are gaps"
    );
    worker.abort();
}

#[test]
fn gaps_are_marked_in_playlists() {
    let failed: HashSet<String> = ["b.ts", "p2.m4s"].into_iter().map(String::from).collect();
    let cases = [
        ("#EXTINF:2,\na.ts\n", "#EXTINF:2,\na.ts\n"),
        ("#EXTINF:2,\nb.ts\n", "#EXTINF:2,\n#EXT-X-GAP\nb.ts\n"),
        (
            "#EXTINF:2,\n#EXT-X-GAP\nb.ts\n",
            "#EXTINF:2,\n#EXT-X-GAP\nb.ts\n",
        ),
        (
            "#EXT-X-PART:DURATION=0.5,URI=\"p2.m4s\"\n",
            "#EXT-X-PART:DURATION=0.5,URI=\"p2.m4s\",GAP=YES\n",
        ),
        (
            "#EXT-X-PART:DURATION=0.5,URI=\"p1.m4s\"\n",
            "#EXT-X-PART:DURATION=0.5,URI=\"p1.m4s\"\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(mark_gaps(input, &failed), want, "{input}");
    }
    assert_eq!(
        mark_gaps("#EXTINF:2,\nb.ts\n", &HashSet::new()),
        "#EXTINF:2,\nb.ts\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_does_not_hold_superseded_playlists() {
    let store = Arc::new(CountingStore::default());
    store.set_down(true);
    let (up, worker, stats) = start(&store, Duration::from_secs(1));
    let versions: Vec<String> = (0..20)
        .map(|i| playlist(&[&format!("s_{i}.ts")], &[]))
        .collect();
    for (i, v) in versions.iter().enumerate() {
        up.put(&format!("s_{i}.ts"), b"seg");
        up.put("stream.m3u8", v.as_bytes());
    }
    // Still down: one second per queued version would be 20 s; the superseded versions are
    // skipped and the segments past their deadline given up at once.
    let began = Instant::now();
    while stats.gaps.load(Relaxed) < 20 {
        assert!(
            began.elapsed() < Duration::from_secs(8),
            "the backlog drains while down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.set_down(false);
    drop(up);
    tokio::time::timeout(Duration::from_secs(8), worker)
        .await
        .expect("the backlog drains")
        .expect("worker");
    // The latest version, its segment (given up while storage was down) a gap.
    let stored = text(&store, "stream.m3u8").await;
    assert_eq!(gaps(&stored), ["s_19.ts"], "{stored}");
    assert_eq!(stored.replace("#EXT-X-GAP\n", ""), versions[19]);
    assert_eq!(stats.gaps.load(Relaxed), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multivariant_playlist_waits_for_the_playlists_it_names() {
    let store = Arc::new(CountingStore::default());
    let (renditions, r_worker, _) = start(&store, DEFAULT_DEADLINE);
    let (masters, m_worker, _) = start_with(&store, DEFAULT_DEADLINE, true);
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nstream_0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nstream_1.m3u8\n";
    masters.put("master.m3u8", master.as_bytes());
    renditions.put("stream_0.m3u8", playlist(&[], &[]).as_bytes());
    tokio::time::sleep(Duration::from_millis(200)).await;
    renditions.put("stream_1.m3u8", playlist(&[], &[]).as_bytes());
    drop((renditions, masters));
    r_worker.await.expect("worker");
    m_worker.await.expect("worker");
    let puts: Vec<String> = store
        .log()
        .into_iter()
        .filter(|l| l.starts_with("put"))
        .collect();
    assert_eq!(
        puts,
        [
            "put live/ev/stream_0.m3u8",
            "put live/ev/stream_1.m3u8",
            "put live/ev/master.m3u8"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_own_master_does_not_wait_for_what_queues_behind_it() {
    let store = Arc::new(CountingStore::default());
    let (up, worker, _) = start(&store, Duration::from_secs(10));
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nstream.m3u8\n";
    let began = Instant::now();
    up.put("master.m3u8", master.as_bytes());
    up.put("stream.m3u8", playlist(&[], &[]).as_bytes());
    drop(up);
    worker.await.expect("worker");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(store.count("put"), 2);
}

#[test]
fn gap_uris_of_a_stored_playlist() {
    let cases = [
        ("#EXTINF:2,\na.ts\n", vec![]),
        (
            "#EXTINF:2,\n#EXT-X-GAP\nb.ts\n#EXTINF:2,\nc.ts\n",
            vec!["b.ts"],
        ),
        ("#EXT-X-GAP\n#EXTINF:2,\nb.ts\n", vec!["b.ts"]),
        (
            "#EXT-X-PART:DURATION=0.5,URI=\"p2.m4s\",GAP=YES\n\
             #EXT-X-PART:DURATION=0.5,URI=\"p3.m4s\"\n",
            vec!["p2.m4s"],
        ),
        (
            "#EXT-X-PART:DURATION=0.5,GAP=YES,URI=\"p,4.m4s\"\n",
            vec!["p,4.m4s"],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(gap_uris(text), want, "{text}");
    }
}

/// A restarted packager continues a stored playlist whose old segment `b` was never stored:
/// the media crate's recovery does not keep EXT-X-GAP, the seeded gap list does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continued_playlist_keeps_its_gaps() {
    let store = Arc::new(CountingStore::default());
    let (up, worker, _) = start(&store, Duration::from_secs(3));
    let stored_before = mark_gaps(
        &playlist(&["a.m4s", "b.m4s"], &[]),
        &HashSet::from(["b.m4s".to_owned()]),
    );
    up.gaps().add(gap_uris(&stored_before));
    // The new run's first playlist, as the media crate writes it (no EXT-X-GAP).
    up.put("c.m4s", b"c");
    up.put(
        "v.m3u8",
        playlist(&["a.m4s", "b.m4s", "c.m4s"], &[]).as_bytes(),
    );
    drop(up);
    worker.await.expect("worker");
    assert_eq!(gaps(&text(&store, "v.m3u8").await), ["b.m4s"]);
}
