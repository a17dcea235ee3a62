// SPDX-License-Identifier: MIT OR Apache-2.0
//! `kill -9` of `hlsorigin live` while an RTMP or SRT publisher is on (issue 10: "kill -9 of
//! hlsorigin → recovery as for UDP"): a restart on the same root and the same ingest address,
//! the publisher reconnects (a new ffmpeg, as OBS reconnects), and the playlist goes on: the
//! media sequence continues, the new run's first segment carries EXT-X-DISCONTINUITY, every
//! listed segment is served and decodes (ffprobe).

use std::path::Path;
use std::process::Stdio;

use super::harness::{encoder, get, wait_for, Live, Playlist, Proc};
use super::rtmp::assert_segments_decode;
use crate::common::out_dir;

/// The publisher of `kind` to the bound `ingest` URL.
fn publisher(kind: &str, ingest: &str) -> Proc {
    match kind {
        "rtmp" => encoder(ingest, &["-f", "flv"], None, Stdio::null()),
        _ => encoder(&format!("{ingest}&pkt_size=1316"), &[], None, Stdio::null()),
    }
}

/// The playlist once it is served.
fn served(base: &str, path: &str) -> Option<Playlist> {
    let r = get(base, path);
    (r.status == 200).then(|| Playlist::parse(&r.text()))
}

fn kill9_recovery(kind: &str, input: &str) {
    let root = out_dir(&format!("live-kill9-{kind}"));
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--segment-duration",
        "1",
        "--input-timeout",
        "60",
    ];
    let mut first = Live::start(&root, "cam", input, &args, Stdio::null());
    let ingest = first.ingest.clone();
    let base = first.base().to_owned();
    let playlist = "/cam/stream.m3u8";
    let mut pub1 = publisher(kind, &ingest);
    wait_for("a sliding window (MEDIA-SEQUENCE > 1)", 90, || {
        served(&base, playlist).filter(|p| p.media_sequence > 1)
    });
    first.proc.kill();
    pub1.kill();
    let path = root.join("cam").join("stream.m3u8");
    let before = Playlist::parse(&std::fs::read_to_string(&path).expect("playlist on disk"));

    // The same root and ingest address (the port is free again after the kill).
    let second = Live::start(&root, "cam", &ingest, &args, Stdio::null());
    assert_eq!(second.ingest, ingest, "the same ingest address");
    let base = second.base().to_owned();
    let _pub2 = publisher(kind, &ingest);
    let first_new = before.last_msn() + 1;
    let after = wait_for("three segments of the restarted run", 90, || {
        served(&base, playlist).filter(|p| p.last_msn() >= first_new + 2)
    });
    assert!(
        after.media_sequence >= before.media_sequence,
        "MEDIA-SEQUENCE went back from {} to {}:\n{}",
        before.media_sequence,
        after.media_sequence,
        after.text
    );
    let seg = after.segments.iter().find(|s| s.0 == first_new);
    let seg = seg.unwrap_or_else(|| panic!("segment {first_new} listed:\n{}", after.text));
    assert!(
        seg.2,
        "the new run starts with EXT-X-DISCONTINUITY:\n{}",
        after.text
    );
    assert!(
        after.segments.iter().any(|s| s.0 < first_new),
        "the old run's segments are still listed:\n{}",
        after.text
    );
    assert!(!after.ended, "{}", after.text);
    assert_segments_decode(Path::new("ffprobe"), &base, "cam", &after, &["h264", "aac"]);
}

#[test]
fn live_rtmp_kill9_restart_continues_the_playlist() {
    kill9_recovery("rtmp", "rtmp://127.0.0.1:0/live/cam");
}

#[test]
fn live_srt_kill9_restart_continues_the_playlist() {
    kill9_recovery("srt", "srt://127.0.0.1:0?streamid=cam");
}
