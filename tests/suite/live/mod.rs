// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live packaging and serving with real encoders and clients: ffmpeg `-re` feeds
//! `hlsorigin live` over UDP, TCP and stdin; raw HTTP/1.1 requests check blocking playlist
//! reload (RFC 8216bis 6.2.5); hls.js in headless Chromium plays the result. Assertions are
//! on progress (a segment that was not there is there now), never on exact times.

mod blocking;
pub(crate) mod harness;
mod iframes;
mod ingest_kill9;
mod ingest_players;
mod long_run;
mod open_gop;
mod renditions;
mod rtmp;
mod rtmp_av1;
mod rtmp_panic;
mod rtmp_server;
mod sessions;
mod srt;
mod srt_listener;
mod timing;
mod validate;

use std::process::Stdio;

use harness::{encoder, get, read_playlist, wait_for, Live, BROWSER};

use crate::common::out_dir;
use crate::common::server::{play, serve};

/// Plays `url` with hls.js for `seconds` (one browser at a time); panics with the report
/// when playback is not smooth.
fn play_hlsjs(url: &str, seconds: u32) {
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let report = play(url, "hlsjs", seconds, &["--start-timeout", "40"]);
    assert_eq!(report["ok"], true, "hls.js playback of {url}: {report}");
}

/// Plays `url` with Chromium's own HLS support (`<video src>`) for `seconds`.
fn play_native(url: &str, seconds: u32) {
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let report = play(url, "native", seconds, &["--start-timeout", "40"]);
    assert_eq!(report["ok"], true, "native playback of {url}: {report}");
}

/// `serve` answers `_HLS_msn` for a live playlist another process writes (ffmpeg's hls
/// muxer): the request is held until ffmpeg renames the next playlist into place (a notify
/// watch, no polling), then answered from the file.
#[test]
fn serve_blocks_until_ffmpeg_hls_muxer_writes_the_segment() {
    let root = out_dir("live-serve-ffmpeg");
    let dir = root.join("ff");
    std::fs::create_dir_all(&dir).expect("dir");
    let playlist = dir.join("index.m3u8");
    let segments = dir.join("seg%05d.ts");
    let hls = [
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_list_size",
        "5",
        "-hls_flags",
        "delete_segments",
        "-hls_segment_filename",
        segments.to_str().expect("utf-8 path"),
    ];
    let _ffmpeg = encoder(
        playlist.to_str().expect("utf-8 path"),
        &hls,
        Some(60),
        Stdio::null(),
    );
    let server = serve(&root, &[]);
    let before = wait_for("ffmpeg's first playlist", 30, || {
        read_playlist(&playlist, 1)
    });
    let next = before.last_msn() + 1;
    let r = get(&server.base, &format!("/ff/index.m3u8?_HLS_msn={next}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let after = harness::Playlist::parse(&r.text());
    assert!(
        after.has_msn(next),
        "held until segment {next} was written, got:\n{}",
        after.text
    );
    assert!(
        !before.has_msn(next),
        "segment {next} must not have existed before"
    );
    // Far beyond the live edge: 400 (RFC 8216bis 6.2.5.2), not a hold.
    let far = get(
        &server.base,
        &format!("/ff/index.m3u8?_HLS_msn={}", after.last_msn() + 10),
    );
    assert_eq!(far.status, 400, "{}", far.text());
    // A plain request is answered at once, as before.
    assert_eq!(get(&server.base, "/ff/index.m3u8").status, 200);
}

/// `kill -9` of the packager, then a restart on the same directory: the new run continues
/// the old playlist (MEDIA-SEQUENCE goes on, the gap is an EXT-X-DISCONTINUITY).
#[test]
fn live_restart_after_kill9_continues_media_sequence() {
    let root = out_dir("live-restart");
    let args = ["--segment-duration", "1", "--input-timeout", "60"];
    let mut first = Live::start(&root, "r", "udp://127.0.0.1:0", &args, Stdio::null());
    let input = first.ingest.clone();
    let _enc = encoder(&format!("{input}?pkt_size=1316"), &[], None, Stdio::null());
    let path = root.join("r").join("stream.m3u8");
    let before = wait_for("a sliding window (MEDIA-SEQUENCE > 1)", 60, || {
        read_playlist(&path, 1).filter(|p| p.media_sequence > 1)
    });
    first.proc.kill();
    let before = read_playlist(&path, 1).unwrap_or(before);
    let _second = Live::start(&root, "r", &input, &args, Stdio::null());
    // The I-frame playlist (Apple 6.1) goes on in step, checked as soon as the new run's first
    // segment is out (the old ones are still listed then): the same MEDIA-SEQUENCE and
    // segments, and keyframe ranges for the old run's (from its I-frame playlist; one finished
    // just before the kill may have none, hence "some").
    let first_new = before.last_msn() + 1;
    let iframes_path = root.join("r").join("stream_iframes.m3u8");
    let parse = |p: &std::path::Path| {
        let bytes = std::fs::read(p).ok()?;
        match m3u8_rs::parse_playlist_res(&bytes) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => Some(m),
            _ => None,
        }
    };
    wait_for(
        "the I-frame playlist in step, with the old run's ranges",
        60,
        || {
            let (media, iframes) = (parse(&path)?, parse(&iframes_path)?);
            let uris = |p: &m3u8_rs::MediaPlaylist| -> Vec<String> {
                p.segments.iter().map(|s| s.uri.clone()).collect()
            };
            let old_run_with_range = iframes.segments.iter().any(|s| {
                s.byte_range.is_some() && before.segments.iter().any(|(_, uri, _, _)| *uri == s.uri)
            });
            let new_listed = media.media_sequence + media.segments.len() as u64 > first_new;
            (new_listed
                && iframes.i_frames_only
                && iframes.media_sequence == media.media_sequence
                && uris(&iframes) == uris(&media)
                && old_run_with_range)
                .then_some(())
        },
    );
    let after = wait_for("the restarted run's segments", 60, || {
        read_playlist(&path, 1).filter(|p| p.last_msn() >= before.last_msn() + 3)
    });
    assert!(
        after.media_sequence >= before.media_sequence,
        "MEDIA-SEQUENCE went back from {} to {}:\n{}",
        before.media_sequence,
        after.media_sequence,
        after.text
    );
    let seg = after
        .segments
        .iter()
        .find(|s| s.0 == first_new)
        .unwrap_or_else(|| {
            panic!(
                "segment {first_new} listed after the restart:\n{}",
                after.text
            )
        });
    assert!(
        seg.2,
        "the first segment of the new run starts with EXT-X-DISCONTINUITY:\n{}",
        after.text
    );
    let run = |uri: &str| uri.split('_').nth(1).map(str::to_owned);
    if let Some(old) = before.segments.last() {
        assert_ne!(
            run(&old.1),
            run(&seg.1),
            "a new run id names the new segments"
        );
    }
    // Every listed object exists.
    for (_, uri, _, _) in &after.segments {
        assert!(
            root.join("r").join(uri).exists(),
            "{uri} listed but missing"
        );
    }
}
