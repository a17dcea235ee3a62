// SPDX-License-Identifier: MIT OR Apache-2.0
//! What live playlists say about time and rate, with ffmpeg pushing to `hlsorigin live` and
//! the playlists read by m3u8-rs: TARGETDURATION against a keyframe interval longer than
//! `--segment-duration` (RFC 8216bis 4.4.3.1, 6.2.1), PROGRAM-DATE-TIME steps equal to the
//! EXTINFs in the media and I-frame playlists (4.4.4.6, Apple 8.4), and BANDWIDTH /
//! AVERAGE-BANDWIDTH following a bit rate that rises (Apple 1.26, 9.13–9.15). Assertions are
//! on content; waits are generous.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use super::harness::{
    encoder_command, get, read_response, send_get, spawn_encoder, wait_for, Live, Proc, LIVE_CODECS,
};
use crate::common::out_dir;

/// ffmpeg `-re` to `url` with the live tests' codecs, a keyframe every `gop` frames, and the
/// video filter `vf` if any.
fn encoder_with(url: &str, gop: &str, vf: Option<&str>) -> Proc {
    let mut cmd = encoder_command("320x240");
    cmd.args(["-map", "0:v", "-map", "1:a"]);
    let mut codecs = LIVE_CODECS.to_vec();
    for w in 0..codecs.len() {
        if matches!(codecs[w], "-g" | "-keyint_min") {
            codecs[w + 1] = gop;
        }
    }
    cmd.args(codecs);
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    cmd.args(["-t", "50", "-f", "mpegts", url]);
    spawn_encoder(cmd, Stdio::null())
}

fn parse_media(bytes: &[u8]) -> Option<m3u8_rs::MediaPlaylist> {
    match m3u8_rs::parse_playlist_res(bytes) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => Some(m),
        _ => None,
    }
}

fn read_media(path: &Path) -> Option<m3u8_rs::MediaPlaylist> {
    parse_media(&std::fs::read(path).ok()?)
}

fn millis(secs: f32) -> i64 {
    (f64::from(secs) * 1000.0).round() as i64
}

/// RFC 8216bis 4.4.3.1 and 4.4.4.6: every EXTINF rounded ≤ TARGETDURATION; within a run
/// PDT(n+1) - PDT(n) == EXTINF(n) to the millisecond; the I-frame playlist `iframes` (same
/// window) carries each segment's PDT.
fn check_times(what: &str, m: &m3u8_rs::MediaPlaylist, iframes: &m3u8_rs::MediaPlaylist) {
    for s in &m.segments {
        assert!(
            s.duration.round() as u64 <= m.target_duration,
            "{what}: EXTINF {} of {} above TARGETDURATION {}",
            s.duration,
            s.uri,
            m.target_duration
        );
    }
    for (a, b) in m.segments.iter().zip(m.segments.iter().skip(1)) {
        let (pa, pb) = (
            a.program_date_time.expect("PDT on every live segment"),
            b.program_date_time.expect("PDT on every live segment"),
        );
        if !b.discontinuity {
            assert_eq!(
                (pb - pa).num_milliseconds(),
                millis(a.duration),
                "{what}: PDT step after {} equals its EXTINF",
                a.uri
            );
        }
    }
    for f in &iframes.segments {
        if let Some(s) = m.segments.iter().find(|s| s.uri == f.uri) {
            assert_eq!(
                f.program_date_time, s.program_date_time,
                "{what}: I-frame PDT of {}",
                f.uri
            );
            assert!(f.program_date_time.is_some(), "{what}: {}", f.uri);
        }
    }
}

/// LL-HLS with `-g 60` at 30 fps and `--segment-duration 1`: segments last 2 s, so
/// TARGETDURATION is 2 from the first playlist on (never 1), CAN-SKIP-UNTIL is 12 s, and a
/// blocking reload for the segment after next is answered (it comes within 3 × target).
#[test]
fn ll_hls_keyframe_interval_longer_than_segment_duration() {
    let root = out_dir("live-long-gop");
    let args = [
        "--ll-hls",
        "--part-duration",
        "0.5",
        "--segment-duration",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--input-timeout",
        "60",
    ];
    let live = Live::start(&root, "g", "udp://127.0.0.1:0", &args, Stdio::null());
    let _enc = encoder_with(&format!("{}?pkt_size=1316", live.ingest), "60", None);
    let base = live.base();
    let path = root.join("g").join("stream.m3u8");
    // Every playlist seen on the way has the target 2 (RFC 8216bis 6.2.1: it never changes).
    let m = wait_for("four segments", 60, || {
        let m = read_media(&path)?;
        assert_eq!(m.target_duration, 2, "TARGETDURATION while starting");
        (m.segments.len() >= 4).then_some(m)
    });
    let text = get(base, "/g/stream.m3u8").text();
    assert!(text.contains("CAN-SKIP-UNTIL=12.0"), "{text}");
    for s in &m.segments {
        assert!((s.duration - 2.0).abs() < 0.05, "2 s segments:\n{text}");
    }
    // The segment after next: held about two segments (4 s < 3 × 2 s), then answered.
    let last = m.media_sequence + m.segments.len() as u64 - 1;
    let fresh = parse_media(get(base, "/g/stream.m3u8").body.as_slice()).expect("playlist");
    let last = last.max(fresh.media_sequence + fresh.segments.len() as u64 - 1);
    let sent = Instant::now();
    let r = read_response(
        send_get(base, &format!("/g/stream.m3u8?_HLS_msn={}", last + 2)),
        sent,
    );
    assert_eq!(
        r.status,
        200,
        "blocking reload for msn {}: {}",
        last + 2,
        r.text()
    );
    let held = parse_media(&r.body).expect("playlist");
    assert_eq!(held.target_duration, 2);
    let iframes = parse_media(&get(base, "/g/stream_iframes.m3u8").body).expect("I-frames");
    check_times("LL-HLS", &held, &iframes);
}

/// Classic MPEG-TS live, `-g 60` with `--segment-duration 1` (2 s segments: TARGETDURATION
/// 2), whose bit rate rises after 8 s (noise on the picture): master.m3u8 is rewritten so that
/// BANDWIDTH is at or above the measured peak segment bit rate and within 10 % of it,
/// AVERAGE-BANDWIDTH within 10 % of the average (Apple 1.26, 9.13–9.15); PDT steps equal the
/// EXTINFs, in the I-frame playlist too.
#[test]
fn bandwidth_follows_a_rising_bit_rate() {
    let root = out_dir("live-bandwidth");
    let args = [
        "--format",
        "ts",
        "--segment-duration",
        "1",
        "--event",
        "--input-timeout",
        "60",
    ];
    let live = Live::start(&root, "b", "udp://127.0.0.1:0", &args, Stdio::null());
    let noise = "noise=alls=40:allf=t:enable='gte(t,8)'";
    let _enc = encoder_with(&format!("{}?pkt_size=1316", live.ingest), "60", Some(noise));
    let dir = root.join("b");
    let first_master = wait_for("master.m3u8", 60, || {
        std::fs::read_to_string(dir.join("master.m3u8")).ok()
    });
    // A consistent snapshot (the playlist unchanged around the read of the master) once
    // 4 noisy segments are listed (`--event` keeps every segment, which the master measures).
    let (m, master) = wait_for("10 segments", 90, || {
        let before = std::fs::read(dir.join("stream.m3u8")).ok()?;
        let master = std::fs::read(dir.join("master.m3u8")).ok()?;
        let after = std::fs::read(dir.join("stream.m3u8")).ok()?;
        let m = parse_media(&after)?;
        (before == after && m.segments.len() >= 10).then_some((m, master))
    });
    assert_eq!(m.target_duration, 2, "2 s segments");
    assert_ne!(
        first_master,
        String::from_utf8_lossy(&master),
        "master.m3u8 rewritten as the bit rate rose"
    );
    let master = match m3u8_rs::parse_playlist_res(&master) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(p)) => p,
        other => panic!("master: {other:?}"),
    };
    let variant = master
        .variants
        .iter()
        .find(|v| !v.is_i_frame)
        .expect("variant");
    check_rates("TS", variant, measure(&dir, &m));
    let iframes = read_media(&dir.join("stream_iframes.m3u8")).expect("I-frame playlist");
    check_times("TS", &m, &iframes);
}

/// Measured (peak, average) bit rate of the segments `m` lists in `dir` (the peak over
/// segments of at least half a second).
fn measure(dir: &Path, m: &m3u8_rs::MediaPlaylist) -> (f64, f64) {
    let (mut peak, mut bits, mut secs) = (0.0f64, 0.0, 0.0);
    for s in &m.segments {
        let size = std::fs::metadata(dir.join(&s.uri)).expect("segment").len() as f64;
        let d = f64::from(s.duration);
        bits += size * 8.0;
        secs += d;
        if d >= 0.5 {
            peak = peak.max(size * 8.0 / d);
        }
    }
    (peak, bits / secs)
}

/// Apple 1.26, 9.13–9.15: BANDWIDTH at or above the measured peak and within 10 % of it,
/// AVERAGE-BANDWIDTH within 10 % of the measured average.
fn check_rates(what: &str, v: &m3u8_rs::VariantStream, (peak, average): (f64, f64)) {
    let bandwidth = v.bandwidth as f64;
    let avg = v.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
    assert!(
        bandwidth >= peak && bandwidth <= peak * 1.10,
        "{what}: BANDWIDTH {bandwidth} for a measured peak of {peak:.0}"
    );
    assert!(
        (avg - average).abs() <= average * 0.10,
        "{what}: AVERAGE-BANDWIDTH {avg} for a measured average of {average:.0}"
    );
}

/// Two renditions from one ffmpeg (two transport streams), the first one's bit rate rising
/// after 8 s: the shared master.m3u8 keeps each variant's numbers true to its own segments.
#[test]
fn rendition_bandwidths_follow_each_rendition() {
    const INPUTS: [&str; 2] = ["udp://127.0.0.1:21420", "udp://127.0.0.1:21421"];
    let root = out_dir("live-bandwidth-renditions");
    let args = [
        "--input",
        INPUTS[1],
        "--rendition-names",
        "hi,lo",
        "--format",
        "ts",
        "--segment-duration",
        "1",
        "--event",
        "--input-timeout",
        "60",
    ];
    let _live = Live::start(&root, "r", INPUTS[0], &args, Stdio::null());
    let mut cmd = encoder_command("320x240");
    let filters = ["noise=alls=40:allf=t:enable='gte(t,8)'", "null"];
    for (vf, url) in filters.iter().zip(INPUTS) {
        cmd.args(["-map", "0:v", "-map", "1:a", "-vf", vf])
            .args(LIVE_CODECS)
            .args(["-t", "50", "-f", "mpegts"])
            .arg(format!("{url}?pkt_size=1316"));
    }
    let _enc = spawn_encoder(cmd, Stdio::null());
    let dir = root.join("r");
    // A consistent snapshot: neither playlist changes around the read of the master.
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let (playlists, master) = wait_for("14 segments in each rendition", 90, || {
        let before = (read("hi.m3u8")?, read("lo.m3u8")?);
        let master = read("master.m3u8")?;
        let after = (read("hi.m3u8")?, read("lo.m3u8")?);
        let p = (parse_media(&after.0)?, parse_media(&after.1)?);
        let enough = p.0.segments.len() >= 14 && p.1.segments.len() >= 14;
        (before == after && enough).then_some((p, master))
    });
    let master = match m3u8_rs::parse_playlist_res(&master) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(p)) => p,
        other => panic!("master: {other:?}"),
    };
    for (name, m) in [("hi", &playlists.0), ("lo", &playlists.1)] {
        let uri = format!("{name}.m3u8");
        let v = master
            .variants
            .iter()
            .find(|v| !v.is_i_frame && v.uri == uri)
            .unwrap_or_else(|| panic!("{uri} listed"));
        check_rates(name, v, measure(&dir, m));
    }
}

/// A restart continues the old playlist with its TARGETDURATION (RFC 8216bis 6.2.1) even when
/// the new encoder's keyframe interval (2 s) is longer than it (1 s): its segments end at the
/// target (EXTINF rounds to 1 at most, 4.4.3.1) and the input up to the next keyframe is
/// dropped, each such cut a discontinuity.
#[test]
fn restart_keeps_the_target_of_the_continued_playlist() {
    let root = out_dir("live-restart-target");
    let args = ["--segment-duration", "1", "--input-timeout", "60"];
    let mut first = Live::start(&root, "k", "udp://127.0.0.1:0", &args, Stdio::null());
    let input = first.ingest.clone();
    let path = root.join("k").join("stream.m3u8");
    {
        let _enc = encoder_with(&format!("{input}?pkt_size=1316"), "30", None);
        wait_for("three 1 s segments", 60, || {
            read_media(&path).filter(|m| m.segments.len() >= 3)
        });
        first.proc.kill();
    }
    let before = read_media(&path).expect("old playlist");
    assert_eq!(before.target_duration, 1);
    let old_last = before.media_sequence + before.segments.len() as u64 - 1;
    let _second = Live::start(&root, "k", &input, &args, Stdio::null());
    let _enc = encoder_with(&format!("{input}?pkt_size=1316"), "60", None);
    let m = wait_for("four segments of the new run", 60, || {
        let m = read_media(&path)?;
        let last = m.media_sequence + m.segments.len() as u64 - 1;
        (last >= old_last + 4).then_some(m)
    });
    assert_eq!(
        m.target_duration, 1,
        "the continued playlist keeps its target"
    );
    let first_new = usize::try_from(old_last + 1 - m.media_sequence).expect("index");
    let new = m.segments.get(first_new..).expect("new segments");
    for s in new {
        assert!(
            s.duration.round() as u64 <= 1 && s.duration > 1.0,
            "{}: EXTINF {} (a 2 s GOP ended at the target)",
            s.uri,
            s.duration
        );
        assert!(
            s.discontinuity,
            "{}: a new timeline after dropped input",
            s.uri
        );
    }
}
