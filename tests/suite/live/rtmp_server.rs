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

/// A running `hlsorigin live --rtmp-listen 127.0.0.1:0 --listen 127.0.0.1:0`.
struct RtmpServer {
    _proc: Proc,
    /// `127.0.0.1:PORT` of the RTMP listener.
    rtmp: String,
    /// `http://ADDR`.
    base: String,
    log: PathBuf,
}

impl RtmpServer {
    fn start(root: &Path, args: &[&str]) -> RtmpServer {
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
        let (mut rtmp, mut base) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while rtmp.is_none() || base.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("addresses printed within 30 s");
            if let Some(rest) = line.strip_prefix("ingest rtmp://") {
                rtmp = rest.split('/').next().map(str::to_owned);
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
            base: base.expect("base"),
            log,
        }
    }

    fn url(&self, name: &str) -> String {
        format!("rtmp://{}/live/{name}", self.rtmp)
    }

    /// The stream's media playlist once it lists `min` segments.
    fn segments(&self, name: &str, min: usize) -> Playlist {
        let path = format!("/{name}/stream.m3u8");
        wait_for(&format!("{min} segments of {name}"), 90, || {
            let r = get(&self.base, &path);
            (r.status == 200)
                .then(|| Playlist::parse(&r.text()))
                .filter(|p| p.segments.len() >= min)
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn metric(&self, name: &str) -> u64 {
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
fn key(name: &str, secret: &str) -> String {
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
