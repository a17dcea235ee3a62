// SPDX-License-Identifier: MIT OR Apache-2.0
//! Classic live HLS over TCP (encoder killed and restarted: EXT-X-DISCONTINUITY, a valid
//! playlist, 503 for a request the dead encoder cannot satisfy) and over stdin (EOF ends the
//! playlist), both played by hls.js.

use std::process::Stdio;
use std::time::Duration;

use super::harness::{encoder, fetch, get, wait_for, Live, Playlist};
use super::iframes::assert_i_frames_decode;
use super::{play_hlsjs, play_native};
use crate::common::out_dir;

const PLAYLIST: &str = "/tcp/stream.m3u8";

/// Every object the playlist lists is served.
fn assert_listed_objects_served(base: &str, dir: &str, p: &Playlist) {
    for (msn, uri, _, _) in &p.segments {
        let r = get(base, &format!("/{dir}/{uri}"));
        assert_eq!(r.status, 200, "segment {msn} {uri}");
    }
}

#[test]
fn live_tcp_encoder_restart_is_a_discontinuity_and_hlsjs_plays() {
    let root = out_dir("live-tcp");
    let live = Live::start(
        &root,
        "tcp",
        "tcp://127.0.0.1:0",
        &[
            "--listen",
            "127.0.0.1:0",
            "--format",
            "ts",
            "--input-timeout",
            "60",
        ],
        Stdio::null(),
    );
    let base = live.base().to_owned();
    let mut enc = encoder(&live.ingest, &[], None, Stdio::null());
    let before = wait_for("three segments", 60, || {
        let r = get(&base, PLAYLIST);
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 3)
    });
    // Apple 6.1: the I-frame playlist, TS.
    assert_i_frames_decode(&base, "tcp", false, 3);
    enc.kill();
    // The closed connection ends the segment in progress; after that the dead encoder
    // produces nothing: a request two segments ahead is held for 3 target durations, then
    // answered 503 (RFC 8216bis 6.2.5.2).
    std::thread::sleep(Duration::from_millis(500));
    let closed = fetch(&base, PLAYLIST);
    let r = get(
        &base,
        &format!("{PLAYLIST}?_HLS_msn={}", closed.last_msn() + 2),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.took >= Duration::from_secs(4),
        "held about 3 × 2 s before the 503, took {:?}",
        r.took
    );

    let _enc = encoder(&live.ingest, &[], None, Stdio::null());
    let after = wait_for("segments of the reconnected encoder", 60, || {
        let p = fetch(&base, PLAYLIST);
        let disc = p.segments.iter().position(|s| s.2)?;
        (p.segments.len() >= disc + 3).then_some(p)
    });
    assert!(
        after.media_sequence >= before.media_sequence,
        "MEDIA-SEQUENCE never decreases"
    );
    assert!(!after.ended);
    assert_listed_objects_served(&base, "tcp", &after);

    // Classic live, 30 s each: hls.js, then Chromium's native HLS.
    play_hlsjs(&format!("{base}/tcp/master.m3u8"), 30);
    play_native(&format!("{base}/tcp/master.m3u8"), 30);
}

#[test]
fn live_stdin_plays_then_ends_with_endlist() {
    let root = out_dir("live-stdin");
    let mut ffmpeg = encoder("-", &[], Some(22), Stdio::piped());
    let stdout = ffmpeg.0.stdout.take().expect("ffmpeg stdout");
    let live = Live::start(
        &root,
        "stdin",
        "-",
        &["--listen", "127.0.0.1:0"],
        Stdio::from(stdout),
    );
    let base = live.base().to_owned();
    let path = "/stdin/stream.m3u8";
    wait_for("the first fMP4 playlist", 60, || {
        (get(&base, path).status == 200).then_some(())
    });
    play_hlsjs(&format!("{base}/stdin/master.m3u8"), 12);
    let ended = wait_for("EXT-X-ENDLIST after stdin's end", 60, || {
        Some(fetch(&base, path)).filter(|p| p.ended)
    });
    assert!(
        ended.last_msn() >= 8,
        "22 s of input in 2 s segments: {}",
        ended.text
    );
    assert_listed_objects_served(&base, "stdin", &ended);
    // Apple 6.1: the I-frame playlist, fMP4, ended with the stream.
    assert_i_frames_decode(&base, "stdin", true, 3);
    // The server keeps serving after the input ended; directives are ignored now.
    let r = get(&base, &format!("{path}?_HLS_msn={}", ended.last_msn() + 2));
    assert_eq!(r.status, 200);
}
