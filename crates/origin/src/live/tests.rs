// SPDX-License-Identifier: MIT OR Apache-2.0
//! The live source end to end over real TCP: a published playlist (held requests released
//! by a publication, 400, 503, delta, preload hint) and a playlist another process writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use media::live::PlaylistState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{state_from_text, LivePlaylists};
use crate::source::{FsSource, LiveSource};
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

async fn get(addr: std::net::SocketAddr, path: &str) -> Resp {
    request(addr, path, "").await
}

/// A GET with `extra` header lines (each ending in CRLF).
async fn request(addr: std::net::SocketAddr, path: &str, extra: &str) -> Resp {
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

fn spawn_get(addr: std::net::SocketAddr, path: &str) -> JoinHandle<Resp> {
    let path = path.to_owned();
    tokio::spawn(async move { get(addr, &path).await })
}

fn temp_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("origin-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("s")).expect("root");
    dir
}

async fn start(root: &Path, live: LivePlaylists) -> std::net::SocketAddr {
    let config = ServeConfig {
        root: root.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServeConfig::default()
    };
    let source = FsSource::new(root).expect("source");
    let server = Server::bind_with_source(&config, LiveSource::new(source, live))
        .await
        .expect("bind");
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// Segments ..=`last` complete (with 2 parts each), `open` parts of the next, 1 s parts,
/// target 1 s.
fn state(last: u64, open: u64, hint: Option<&str>) -> PlaylistState {
    let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{last}\n#EXTINF:1.0,\nseg{last}.m4s\n");
    for p in 0..open {
        text.push_str(&format!(
            "#EXT-X-PART:DURATION=0.5,URI=\"seg{}.{p}.m4s\"\n",
            last + 1
        ));
    }
    if let Some(h) = hint {
        text.push_str(&format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{h}\"\n"));
    }
    PlaylistState {
        last_msn: Some(last),
        last_msn_parts: 2,
        next_msn: last + 1,
        next_parts: open,
        ended: false,
        target_duration: 1,
        part_target: Some(0.5),
        can_block_reload: true,
        can_skip: true,
        full: Bytes::from(text),
        delta: Some(Bytes::from_static(
            b"#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n",
        )),
    }
}

async fn pending(task: &JoinHandle<Resp>) -> bool {
    tokio::time::sleep(Duration::from_millis(150)).await;
    !task.is_finished()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_playlist_blocks_and_answers_from_memory() {
    let root = temp_root("published");
    let live = LivePlaylists::new();
    let publisher = live.publisher("s/stream.m3u8");
    let addr = start(&root, live).await;
    // Nothing published yet: the source answers (404, no file).
    assert_eq!(get(addr, "/s/stream.m3u8").await.status, 404);
    publisher.publish(state(5, 1, Some("seg6.1.m4s")));

    let plain = get(addr, "/s/stream.m3u8").await;
    assert_eq!(plain.status, 200);
    assert!(plain.body.starts_with(b"#EXTM3U\n#EXT-X-TARGETDURATION:1"));
    let delta = get(addr, "/s/stream.m3u8?_HLS_skip=YES").await;
    assert!(
        delta.body.ends_with(b"SKIPPED-SEGMENTS=1\n"),
        "{:?}",
        delta.body
    );

    for (query, status) in [
        ("_HLS_msn=5", 200),
        ("_HLS_msn=6&_HLS_part=0", 200),
        ("_HLS_msn=5&_HLS_part=2", 200), // rollover: part 0 of 6 exists
        ("_HLS_msn=8", 400),
        ("_HLS_part=1", 400),
        ("_HLS_msn=6&_HLS_part=9", 400), // beyond the Advance Part Limit (3 / 0.5 = 6)
    ] {
        let r = get(addr, &format!("/s/stream.m3u8?{query}")).await;
        assert_eq!(r.status, status, "{query}");
    }

    // Held until the publication that satisfies them; one publication releases all.
    let seg = spawn_get(addr, "/s/stream.m3u8?_HLS_msn=6");
    let part = spawn_get(addr, "/s/stream.m3u8?_HLS_msn=6&_HLS_part=1");
    let hinted = spawn_get(addr, "/s/seg6.1.m4s");
    assert!(pending(&seg).await && pending(&part).await && pending(&hinted).await);
    std::fs::write(root.join("s/seg6.1.m4s"), b"part-bytes").expect("write part");
    publisher.publish(state(5, 2, Some("seg6.2.m4s")));
    let r = part.await.expect("join");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("seg6.1.m4s"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=3"));
    let h = hinted.await.expect("join");
    assert_eq!((h.status, h.body.as_slice()), (200, &b"part-bytes"[..]));
    assert!(pending(&seg).await, "segment 6 is not complete yet");
    publisher.publish(state(6, 0, Some("seg7.0.m4s")));
    let r = seg.await.expect("join");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("seg6.m4s"));

    // Nothing comes: 503 after 3 target durations.
    let started = tokio::time::Instant::now();
    let r = get(addr, "/s/stream.m3u8?_HLS_msn=7").await;
    assert_eq!(r.status, 503);
    assert!(started.elapsed() >= Duration::from_secs(2));

    // Ended: directives are ignored.
    let mut ended = state(6, 0, None);
    ended.ended = true;
    publisher.publish(ended);
    assert_eq!(get(addr, "/s/stream.m3u8?_HLS_msn=9").await.status, 200);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_file_releases_held_requests() {
    let root = temp_root("watched");
    let playlist = |last: u64, end: bool| {
        let mut t = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            last.saturating_sub(1)
        );
        for m in last.saturating_sub(1)..=last {
            t.push_str(&format!("#EXTINF:2.0,\nseg{m}.ts\n"));
        }
        if end {
            t.push_str("#EXT-X-ENDLIST\n");
        }
        t
    };
    // Writers replace playlists by renaming (RFC 8216bis 6.2.1).
    let write = |text: String| {
        let tmp = root.join("s/.index.m3u8.tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, root.join("s/index.m3u8")).expect("rename");
    };
    write(playlist(3, false));
    let root_canon = std::fs::canonicalize(&root).expect("canonical");
    let live = LivePlaylists::watching(&root_canon);
    let addr = start(&root, live.clone()).await;
    let rereads = || live.inner.files.as_ref().map_or(0, |f| f.rereads());

    let held = spawn_get(addr, "/s/index.m3u8?_HLS_msn=4");
    assert!(pending(&held).await);
    // While nothing changes the held request costs nothing: the watcher's own reads of the
    // playlist (open/close events) do not make it read again (that was a busy loop).
    let before = rereads();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        rereads() - before <= 1,
        "{} re-reads of an unchanged playlist in 1 s",
        rereads() - before
    );
    write(playlist(4, false));
    let r = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("released by the write")
        .expect("join");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("seg4.ts"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=6"));

    // A second round on the same playlist, then the end of the stream.
    let held = spawn_get(addr, "/s/index.m3u8?_HLS_msn=5");
    assert!(pending(&held).await);
    write(playlist(4, true));
    let r = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("released by ENDLIST")
        .expect("join");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).ends_with("#EXT-X-ENDLIST\n"));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_file_preload_hint_is_held() {
    let root = temp_root("hint");
    let write = |hint: u64| {
        let text = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.5\n\
#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2.0,\nseg3.m4s\n#EXT-X-PART:DURATION=0.5,URI=\"seg4.0.m4s\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg4.{hint}.m4s\"\n"
        );
        let tmp = root.join("s/.index.m3u8.tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, root.join("s/index.m3u8")).expect("rename");
    };
    write(1);
    let root_canon = std::fs::canonicalize(&root).expect("canonical");
    let addr = start(&root, LivePlaylists::watching(&root_canon)).await;
    // An LL-HLS client keeps a blocking playlist request parked…
    let playlist = spawn_get(addr, "/s/index.m3u8?_HLS_msn=4&_HLS_part=1");
    assert!(pending(&playlist).await);
    // …and asks for the hinted part, which does not exist yet.
    let part = spawn_get(addr, "/s/seg4.1.m4s");
    assert!(pending(&part).await);
    std::fs::write(root.join("s/seg4.1.m4s"), b"chunk").expect("part");
    write(2);
    let r = tokio::time::timeout(Duration::from_secs(5), part)
        .await
        .expect("released")
        .expect("join");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"chunk"[..]));
    let _ = std::fs::remove_dir_all(&root);
}

/// Decodes a chunked body; `None` when the terminating zero-size chunk is missing (the
/// response was cut short).
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line]).ok()?.trim(), 16).ok()?;
        raw = &raw[line + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// Reads from `s` until `raw` contains `needle` (panics after 5 s).
async fn read_until(s: &mut TcpStream, raw: &mut Vec<u8>, needle: &[u8]) {
    let found = |raw: &Vec<u8>| raw.windows(needle.len()).any(|w| w == needle);
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !found(raw) {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before {needle:?}");
            raw.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{:?} not received", String::from_utf8_lossy(needle)));
}

/// A keep-alive GET (so an unknown length is sent chunked, as to every browser), read until
/// the terminating chunk or until the server closes the connection: (head, raw body).
fn spawn_keepalive_get(addr: std::net::SocketAddr, path: &str) -> JoinHandle<(String, Vec<u8>)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while !raw.ends_with(b"\r\n0\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        (head, raw[split..].to_vec())
    })
}

/// RFC 8216bis 6.2.6: the preload-hinted part is held until it starts, then its bytes are
/// sent as the packager writes them (chunked), and the response ends when the part is
/// complete; a part the packager abandons is cut short; a complete part is a stored object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hinted_part_is_streamed_while_it_is_written() {
    let root = temp_root("streamed");
    let live = LivePlaylists::new();
    let publisher = live.publisher("s/stream.m3u8");
    let addr = start(&root, live).await;
    publisher.publish(state(5, 1, Some("seg6.1.m4s")));

    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /s/seg6.1.m4s HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
    assert!(early.is_err(), "held until the part starts");

    publisher.part_chunk("seg6.1.m4s", Bytes::from_static(b"moof-mdat-1|"));
    read_until(&mut s, &mut raw, b"moof-mdat-1|").await;
    let head = String::from_utf8_lossy(&raw).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("content-type: video/iso.segment"), "{head}");
    assert!(!head.contains("\ncontent-length:"), "{head}");

    // A second player joining mid-part gets the part from its first byte.
    let late = spawn_keepalive_get(addr, "/s/seg6.1.m4s");
    publisher.part_chunk("seg6.1.m4s", Bytes::from_static(b"moof-mdat-2|"));
    read_until(&mut s, &mut raw, b"moof-mdat-2|").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!late.is_finished(), "still streaming");

    std::fs::write(root.join("s/seg6.1.m4s"), b"moof-mdat-1|moof-mdat-2|").expect("store");
    publisher.part_stored("seg6.1.m4s");
    read_until(&mut s, &mut raw, b"\r\n0\r\n\r\n").await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert_eq!(
        dechunk(&raw[split..]).as_deref(),
        Some(&b"moof-mdat-1|moof-mdat-2|"[..]),
        "the part, complete"
    );
    let (_, late) = late.await.expect("join");
    assert_eq!(
        dechunk(&late).as_deref(),
        Some(&b"moof-mdat-1|moof-mdat-2|"[..])
    );

    // Complete: now a stored object with a length and a validator.
    let stored = get(addr, "/s/seg6.1.m4s").await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.header("content-length"), Some("24"));
    assert!(stored.header("etag").is_some());

    // Abandoned mid-way: the response is cut short (no terminating chunk).
    publisher.publish(state(5, 2, Some("seg6.2.m4s")));
    let cut = spawn_keepalive_get(addr, "/s/seg6.2.m4s");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!cut.is_finished());
    publisher.part_chunk("seg6.2.m4s", Bytes::from_static(b"half"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    publisher.part_abandoned("seg6.2.m4s");
    let (head, body) = cut.await.expect("join");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.windows(4).any(|w| w == b"half"), "{body:?}");
    assert!(dechunk(&body).is_none(), "cut short: {body:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Several renditions published in one directory: a request for one rendition's hinted
/// part waits on that rendition (not on whichever playlist of the directory comes first),
/// and the others' publications do not release it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hinted_part_of_one_rendition_among_several() {
    let root = temp_root("renditions");
    let live = LivePlaylists::new();
    let publishers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|r| live.publisher(&format!("s/{r}.m3u8")))
        .collect();
    let addr = start(&root, live).await;
    for (r, p) in ["a", "b", "c"].iter().zip(&publishers) {
        p.publish(state(5, 1, Some(&format!("{r}6.1.m4s"))));
    }
    for r in ["a", "b", "c"] {
        let hinted = spawn_get(addr, &format!("/s/{r}6.1.m4s"));
        assert!(pending(&hinted).await, "{r}: held");
        for (other, p) in ["a", "b", "c"].iter().zip(&publishers) {
            if *other != r {
                p.publish(state(5, 1, Some(&format!("{other}6.1.m4s"))));
            }
        }
        assert!(
            pending(&hinted).await,
            "{r}: the other renditions do not release it"
        );
        std::fs::write(root.join(format!("s/{r}6.1.m4s")), r).expect("write part");
        let index = ["a", "b", "c"].iter().position(|x| *x == r).unwrap_or(0);
        if let Some(p) = publishers.get(index) {
            p.publish(state(5, 2, Some(&format!("{r}6.2.m4s"))));
        }
        let resp = tokio::time::timeout(Duration::from_secs(5), hinted)
            .await
            .expect("released by its rendition")
            .expect("join");
        assert_eq!((resp.status, resp.body.as_slice()), (200, r.as_bytes()));
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A live playlist of 40 segments up to `last`, target 4 s (held requests wait up to 12 s).
fn long_target_playlist(last: u64) -> String {
    let first = last.saturating_sub(39);
    let mut t = format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
    for n in first..=last {
        t.push_str(&format!("#EXTINF:4.0,\nsegment-with-a-long-name-{n}.ts\n"));
    }
    t
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .expect("metric present")
}

/// 1,000 parked blocking requests that accept gzip, released by one new version (published
/// in-process, or written by another process): every one gets the new version gzipped, and
/// it was compressed once (`hlsorigin_gzip_compressions_total`), not once per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_requests_share_one_compression() {
    const HELD: usize = 1000;
    for watched in [false, true] {
        let root = temp_root(if watched {
            "gzip-watched"
        } else {
            "gzip-published"
        });
        let file = root.join("s/stream.m3u8");
        let write = |text: String| {
            let tmp = root.join("s/.stream.m3u8.tmp");
            std::fs::write(&tmp, text).expect("write");
            std::fs::rename(&tmp, &file).expect("rename");
        };
        let root_canon = std::fs::canonicalize(&root).expect("canonical");
        let live = if watched {
            write(long_target_playlist(100));
            LivePlaylists::watching(&root_canon)
        } else {
            LivePlaylists::new()
        };
        let publisher = (!watched).then(|| live.publisher("s/stream.m3u8"));
        let publish = |text: String| match &publisher {
            Some(p) => p.publish(state_from_text(text.as_bytes()).expect("state")),
            None => write(text),
        };
        let receivers = |live: &LivePlaylists| match &publisher {
            Some(p) => p.tx.receiver_count(),
            None => live.inner.files.as_ref().map_or(0, |f| f.receivers()),
        };
        let addr = start(&root, live.clone()).await;
        publish(long_target_playlist(100));

        let held: Vec<_> = (0..HELD)
            .map(|_| {
                tokio::spawn(async move {
                    request(
                        addr,
                        "/s/stream.m3u8?_HLS_msn=101",
                        "Accept-Encoding: gzip\r\n",
                    )
                    .await
                })
            })
            .collect();
        // Every request is parked on the playlist (the publisher's map holds one more).
        let parked = tokio::time::timeout(Duration::from_secs(8), async {
            while receivers(&live) < HELD {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(parked.is_ok(), "parked: {} of {HELD}", receivers(&live));
        assert!(held.iter().all(|t| !t.is_finished()));
        let before = metric(
            &String::from_utf8_lossy(&get(addr, "/metrics").await.body),
            "hlsorigin_gzip_compressions_total",
        );

        let next = long_target_playlist(101);
        publish(next.clone());
        for task in held {
            let r = tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("released")
                .expect("join");
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-encoding"), Some("gzip"));
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(r.body.as_slice()),
                &mut text,
            )
            .expect("gunzip");
            assert_eq!(text, next);
        }
        let after = metric(
            &String::from_utf8_lossy(&get(addr, "/metrics").await.body),
            "hlsorigin_gzip_compressions_total",
        );
        assert_eq!(after - before, 1, "watched: {watched}");
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// The server and the in-process packagers of its live playlists publish into one hub; a
/// server over a plain source has a hub of its own.
#[tokio::test]
async fn the_server_and_its_live_publishers_share_one_event_hub() {
    use crate::events::{Filter, Payload};
    let root = temp_root("events");
    let config = ServeConfig {
        root: root.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServeConfig::default()
    };
    let live = LivePlaylists::new();
    let publisher = live.publisher("s/v.m3u8");
    let source = FsSource::new(&root).expect("source");
    let server = Server::bind_with_source(&config, LiveSource::new(source, live))
        .await
        .expect("bind");
    let mut sub = server
        .events()
        .subscribe(None, Filter::default())
        .expect("subscribe");
    let seq = publisher
        .events()
        .publish("s", "run", Payload::StreamRemoved);
    assert_eq!(sub.try_recv().expect("delivered").expect("item").seq(), seq);

    let plain = Server::bind_with_source(&config, FsSource::new(&root).expect("source"))
        .await
        .expect("bind");
    plain.events().publish("s", "run", Payload::StreamRemoved);
    assert!(sub.try_recv().is_none(), "another server's hub");
    let _ = std::fs::remove_dir_all(&root);
}
