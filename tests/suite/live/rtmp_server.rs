// SPDX-License-Identifier: MIT OR Apache-2.0
//! RTMP server mode (issue 10): `hlsorigin live --rtmp-listen ADDR` with no `--name` takes any
//! number of publishers, `rtmp://HOST/APP/NAME` making stream NAME. Real publishers (ffmpeg
//! `-f flv`): two at once both play (ffprobe decodes their segments, hls.js plays one), a
//! reconnect continues the playlist after EXT-X-DISCONTINUITY, stream keys refuse a missing
//! or wrong key (counted in /metrics, the key in no log, path or playlist), a second
//! publisher of a stream is refused unless `--takeover`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::harness::{encoder, fetch, get, wait_for, Playlist, Proc};
use super::play_hlsjs;
use super::rtmp::assert_segments_decode;
use crate::common::{bin, out_dir};

/// A running `hlsorigin live --rtmp-listen 127.0.0.1:0 --listen 127.0.0.1:0` (and
/// `--srt-listen` when the arguments have it).
pub(super) struct RtmpServer {
    _proc: Proc,
    /// `127.0.0.1:PORT` of the RTMP listener.
    rtmp: String,
    /// `127.0.0.1:PORT` of the SRT listener, with `--srt-listen`.
    pub srt: Option<String>,
    /// `http://ADDR`.
    pub base: String,
    log: PathBuf,
}

impl RtmpServer {
    pub fn start(root: &Path, args: &[&str]) -> RtmpServer {
        std::fs::create_dir_all(root).expect("root");
        let log = root.with_extension("log");
        let mut child = Command::new(bin())
            .args([
                "live",
                "--rtmp-listen",
                "127.0.0.1:0",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--root")
            .arg(root)
            .args(args)
            .env("RUST_LOG", "info,origin::access=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn hlsorigin live --rtmp-listen");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut rtmp, mut base, mut srt) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while rtmp.is_none() || base.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("addresses printed within 30 s");
            if let Some(rest) = line.strip_prefix("ingest rtmp://") {
                rtmp = rest.split('/').next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("ingest srt://") {
                srt = rest.split('?').next().map(str::to_owned);
            } else if let Some(pos) = line.find("http://").filter(|_| line.starts_with("serving")) {
                base = line
                    .get(pos..)
                    .and_then(|s| s.split_whitespace().next())
                    .map(|s| s.trim_end_matches('/').to_owned());
            }
        }
        RtmpServer {
            _proc: Proc(child),
            rtmp: rtmp.expect("rtmp"),
            srt,
            base: base.expect("base"),
            log,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("rtmp://{}/live/{name}", self.rtmp)
    }

    /// The stream's media playlist once it lists `min` segments.
    pub fn segments(&self, name: &str, min: usize) -> Playlist {
        let path = format!("/{name}/stream.m3u8");
        wait_for(&format!("{min} segments of {name}"), 90, || {
            let r = get(&self.base, &path);
            (r.status == 200)
                .then(|| Playlist::parse(&r.text()))
                .filter(|p| p.segments.len() >= min)
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn metric(&self, name: &str) -> u64 {
        let text = get(&self.base, "/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    }
}

const FLV: [&str; 2] = ["-f", "flv"];

/// A publisher that must be refused: ffmpeg exits with an error.
fn assert_refused(url: &str) {
    let mut p = encoder(url, &FLV, Some(5), Stdio::null());
    let status = wait_for("the refused publisher exits", 30, || {
        p.0.try_wait().ok().flatten()
    });
    assert!(!status.success(), "{url} is refused");
}

#[test]
fn rtmp_server_two_publishers_at_once_both_play_and_reconnect_continues() {
    let root = out_dir("rtmp-server-two");
    let server = RtmpServer::start(&root, &["--input-timeout", "60"]);
    let mut a = encoder(&server.url("a"), &FLV, None, Stdio::null());
    let _b = encoder(&server.url("b"), &FLV, None, Stdio::null());
    let pa = server.segments("a", 3);
    let pb = server.segments("b", 3);
    for (name, p) in [("a", &pa), ("b", &pb)] {
        let master = get(&server.base, &format!("/{name}/master.m3u8")).text();
        assert!(master.contains("CODECS=\"avc1."), "{name}: {master}");
        assert_segments_decode(
            Path::new("ffprobe"),
            &server.base,
            name,
            p,
            &["h264", "aac"],
        );
    }
    let streams = get(&server.base, "/api/streams").text();
    assert!(
        streams.contains("\"a/master.m3u8\"") && streams.contains("\"b/master.m3u8\""),
        "{streams}"
    );
    assert_eq!(server.metric("hlsorigin_ingest_publishers"), 2);
    // a's publisher killed and restarted: the same playlist goes on after a discontinuity,
    // b is not disturbed.
    a.kill();
    std::thread::sleep(Duration::from_millis(500));
    let _a = encoder(&server.url("a"), &FLV, None, Stdio::null());
    let after = wait_for("segments of a's new publisher", 90, || {
        let p = fetch(&server.base, "/a/stream.m3u8");
        let disc = p.segments.iter().position(|s| s.2)?;
        (p.segments.len() >= disc + 2).then_some(p)
    });
    let first_new = after.segments.iter().find(|s| s.2).map(|s| s.0);
    assert!(first_new > Some(pa.last_msn()), "{}", after.text);
    assert!(!after.ended);
    let b_msn = fetch(&server.base, "/b/stream.m3u8").last_msn();
    assert!(b_msn > pb.last_msn(), "b went on");
    play_hlsjs(&format!("{}/b/master.m3u8", server.base), 20);
}

/// The stream key of `name` under `secret`, as `hlsorigin key` prints it.
pub(super) fn key(name: &str, secret: &str) -> String {
    let out = Command::new(bin())
        .args(["key", name, "--publish-secret", secret])
        .output()
        .expect("hlsorigin key");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn rtmp_server_stream_keys_refuse_missing_and_wrong_keys() {
    let root = out_dir("rtmp-server-keys");
    let secret = "test-secret-1";
    let server = RtmpServer::start(&root, &["--publish-secret", secret]);
    let good = key("cam", secret);
    assert_eq!(good.len(), 64, "{good}");
    let wrong = key("other", secret);
    assert_refused(&server.url("cam"));
    assert_refused(&format!("{}?key={wrong}", server.url("cam")));
    assert_eq!(server.metric("hlsorigin_ingest_refused_key_total"), 2);
    let _p = encoder(
        &format!("{}?key={good}", server.url("cam")),
        &FLV,
        None,
        Stdio::null(),
    );
    let p = server.segments("cam", 2);
    assert_segments_decode(
        Path::new("ffprobe"),
        &server.base,
        "cam",
        &p,
        &["h264", "aac"],
    );
    assert_eq!(server.metric("hlsorigin_ingest_publishes_total"), 1);
    let log = server.log();
    assert!(
        log.contains("publish to live/cam refused: no stream key given"),
        "{log}"
    );
    assert!(
        log.contains("publish to live/cam refused: wrong stream key"),
        "{log}"
    );
    // The keys are nowhere: not in the log, the playlists, the file names, the events.
    let master = get(&server.base, "/cam/master.m3u8").text();
    let events = get(&server.base, "/api/events?since=0").text();
    assert!(events.contains("\"stream.added\""), "{events}");
    let files: Vec<String> = std::fs::read_dir(root.join("cam"))
        .expect("cam dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for k in [&good, &wrong] {
        for (what, text) in [
            ("log", &log),
            ("playlist", &p.text),
            ("master", &master),
            ("events", &events),
        ] {
            assert!(!text.contains(k.as_str()), "key in the {what}: {text}");
        }
        assert!(files.iter().all(|f| !f.contains(k.as_str())), "{files:?}");
    }
}

#[test]
fn rtmp_server_second_publisher_refused_unless_takeover() {
    let root = out_dir("rtmp-server-busy");
    let server = RtmpServer::start(&root, &[]);
    let _first = encoder(&server.url("cam"), &FLV, None, Stdio::null());
    let before = server.segments("cam", 2);
    assert_refused(&server.url("cam"));
    assert!(
        server.log().contains("another publisher has the stream"),
        "{}",
        server.log()
    );
    assert_eq!(server.metric("hlsorigin_ingest_refused_total"), 1);
    let msn = before.last_msn();
    wait_for("cam goes on after the refusal", 30, || {
        (fetch(&server.base, "/cam/stream.m3u8").last_msn() > msn).then_some(())
    });
    drop(server);

    let root = out_dir("rtmp-server-takeover");
    let server = RtmpServer::start(&root, &["--takeover"]);
    let mut first = encoder(&server.url("cam"), &FLV, None, Stdio::null());
    let before = server.segments("cam", 2);
    let _second = encoder(&server.url("cam"), &FLV, None, Stdio::null());
    // The first publisher is cut off (ffmpeg fails), the second continues the playlist.
    let status = wait_for("the first publisher is cut off", 60, || {
        first.0.try_wait().ok().flatten()
    });
    assert!(!status.success());
    let after = wait_for("segments of the second publisher", 90, || {
        let p = fetch(&server.base, "/cam/stream.m3u8");
        let disc = p.segments.iter().rposition(|s| s.2)?;
        (p.segments.len() >= disc + 2).then_some(p)
    });
    assert!(after.last_msn() > before.last_msn(), "{}", after.text);
    assert_segments_decode(
        Path::new("ffprobe"),
        &server.base,
        "cam",
        &after,
        &["h264", "aac"],
    );
    assert!(server.log().contains("taken over"), "{}", server.log());
}

/// Bad input (issue 10): a flood of connections beyond `--max-publishers` is closed at once
/// and counted while the publishing stream goes on; garbage instead of a handshake is closed;
/// a publisher that stops sending (SIGSTOP: the connection stays open) ends the playlist with
/// EXT-X-ENDLIST after the input timeout, as for UDP.
#[test]
fn rtmp_server_flood_garbage_and_stalled_publisher() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    let root = out_dir("rtmp-server-bad");
    let server = RtmpServer::start(&root, &["--max-publishers", "4", "--input-timeout", "3"]);
    let publisher = encoder(&server.url("cam"), &FLV, None, Stdio::null());
    let before = server.segments("cam", 2);
    // Garbage instead of the handshake: closed (end of file) without an answer.
    let mut garbage = TcpStream::connect(&server.rtmp).expect("connect");
    garbage
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    garbage.write_all(&[0x16; 1600]).expect("write");
    let mut buf = [0u8; 16];
    assert_eq!(garbage.read(&mut buf).ok(), Some(0), "closed after garbage");
    // Its slot is freed as its task ends, just after the close.
    std::thread::sleep(Duration::from_millis(500));
    // The publisher holds one slot: 3 idle connections fit, the other 7 are closed at once.
    let flood: Vec<TcpStream> = (0..10)
        .map(|_| {
            let s = TcpStream::connect(&server.rtmp).expect("connect");
            // Refused ones read end of file at once; the 3 taken ones time out (3 s in all,
            // within the 10 s they may take to handshake).
            s.set_read_timeout(Some(Duration::from_secs(1)))
                .expect("timeout");
            s
        })
        .collect();
    let closed = flood
        .into_iter()
        .map(|mut s| matches!(s.read(&mut buf), Ok(0)))
        .filter(|c| *c)
        .count();
    assert_eq!(
        closed, 7,
        "connections beyond --max-publishers closed at once"
    );
    // The 7 and the garbage connection (bad input is counted as refused).
    assert_eq!(server.metric("hlsorigin_ingest_refused_total"), 8);
    let msn = before.last_msn();
    wait_for("cam goes on during the flood", 30, || {
        (fetch(&server.base, "/cam/stream.m3u8").last_msn() > msn).then_some(())
    });
    // The publisher stops sending, its connection open: EXT-X-ENDLIST after 3 s.
    let pid = publisher.0.id().to_string();
    let stop = Command::new("kill").args(["-STOP", &pid]).status();
    assert!(stop.is_ok_and(|s| s.success()));
    let ended = wait_for("EXT-X-ENDLIST after the input timeout", 30, || {
        Some(fetch(&server.base, "/cam/stream.m3u8")).filter(|p| p.ended)
    });
    assert!(ended.last_msn() >= msn);
    let events = get(&server.base, "/api/events?since=0&stream=cam").text();
    assert!(events.contains("\"stream.ended\""), "{events}");
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    drop(publisher);
}
