// SPDX-License-Identifier: MIT OR Apache-2.0
//! RTMP/SRT server mode into object storage: `hlsorigin live --rtmp-listen ADDR --srt-listen
//! ADDR --root s3://BUCKET/PREFIX --listen ADDR`, many publishers (Debian ffmpeg: one over
//! RTMP, one over SRT), each stream NAME under `PREFIX/NAME/` in SeaweedFS, and a separate
//! origin `serve s3://BUCKET/PREFIX --follow http://PACKAGER` serving `/NAME/master.m3u8`,
//! which ffprobe reads (video and audio, frames decoded).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::seaweed::{hlsorigin, serve_with, Origin, Seaweed, BUCKET};
use crate::suite::live::harness::{encoder, Proc};

/// `live --rtmp-listen … --srt-listen … --root s3://BUCKET/PREFIX --listen …`: the RTMP and
/// SRT `host:port` and the origin's `http://ADDR`.
fn server(weed: &Seaweed, prefix: &str) -> (Proc, String, String, String) {
    let mut child = hlsorigin(weed)
        .args(["live", "--rtmp-listen", "127.0.0.1:0", "--srt-listen"])
        .args(["127.0.0.1:0", "--listen", "127.0.0.1:0", "--root"])
        .arg(format!("s3://{BUCKET}/{prefix}"))
        .args(["--segment-duration", "1", "--input-timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hlsorigin live --rtmp-listen");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut rtmp, mut srt, mut base) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while rtmp.is_none() || srt.is_none() || base.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("addresses printed");
        if let Some(rest) = line.strip_prefix("ingest rtmp://") {
            rtmp = rest.split('/').next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("ingest srt://") {
            srt = rest.split('?').next().map(str::to_owned);
        } else if line.starts_with("serving ") {
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|u| u.trim_end_matches('/').to_owned());
        }
    }
    let (rtmp, srt, base) = (rtmp.expect("rtmp"), srt.expect("srt"), base.expect("base"));
    (proc, rtmp, srt, base)
}

/// Waits until `origin` serves `/NAME/stream.m3u8` listing at least `min` segments.
fn wait_segments(origin: &Origin, name: &str, min: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, _, body) = origin.get(&format!("/{name}/stream.m3u8"));
        if status == 200 {
            if let Ok(m3u8_rs::Playlist::MediaPlaylist(m)) = m3u8_rs::parse_playlist_res(&body) {
                if m.segments.len() >= min {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// ffprobe reads `url` (a live master playlist): its stream types, and frames decoded.
fn probe(url: &str) -> (Vec<String>, usize) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rw_timeout",
            "20000000",
            "-read_intervals",
            "%+3",
        ])
        .args(["-show_entries", "stream=codec_type:frame=media_type"])
        .args(["-of", "csv=p=0"])
        .arg(url)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .collect();
    let frames = lines.iter().filter(|l| *l == "video").count();
    let mut kinds: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    kinds.sort();
    kinds.dedup();
    (kinds, frames)
}

#[test]
fn rtmp_and_srt_server_mode_into_storage_served_by_a_following_origin() {
    let weed = Seaweed::start("ingest-server");
    let (_live, rtmp, srt, base) = server(&weed, "srv");
    let _a = encoder(
        &format!("rtmp://{rtmp}/live/a"),
        &["-f", "flv"],
        Some(300),
        Stdio::null(),
    );
    let _b = encoder(
        &format!("srt://{srt}?streamid=b&pkt_size=1316"),
        &[],
        Some(300),
        Stdio::null(),
    );
    let origin = serve_with(
        &weed,
        &format!("s3://{BUCKET}/srv"),
        &["--follow", base.as_str()],
    );
    for name in ["a", "b"] {
        wait_segments(&origin, name, 3);
        let (kinds, frames) = probe(&format!("{}/{name}/master.m3u8", origin.base));
        assert!(
            kinds.contains(&"video".to_owned()) && kinds.contains(&"audio".to_owned()),
            "{name}: {kinds:?}"
        );
        assert!(
            frames >= 30,
            "{name}: {frames} video frames decoded through the origin"
        );
        // Each stream under its own prefix in storage.
        let keys = weed.keys(&format!("srv/{name}/"));
        assert!(keys.iter().any(|k| k.ends_with("/master.m3u8")), "{keys:?}");
        assert!(keys.iter().any(|k| k.ends_with(".m4s")), "{keys:?}");
        eprintln!("{name}: {kinds:?}, {frames} video frames through the following origin");
    }
}
