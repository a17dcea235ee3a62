// SPDX-License-Identifier: MIT OR Apache-2.0
//! Several renditions of one LL-HLS stream: one ffmpeg encodes a two-rung ladder (640x360
//! and 320x180, aligned 1 s GOPs) as two transport streams to two UDP ports, and one
//! `hlsorigin live --input A --input B --ll-hls --listen` packages and serves both. Checked:
//! the multivariant playlist (read by m3u8-rs) lists both variants; each media playlist's
//! EXT-X-RENDITION-REPORT for the other is within one part of that rendition's own playlist
//! fetched right after (RFC 8216bis 4.4.5.4), in delta updates too; blocking reloads and
//! preload hints work on both; ffprobe reads both; hls.js plays the master; and after
//! `kill -9` and a restart both renditions continue their MEDIA-SEQUENCE.

use std::process::{Command, Stdio};

use super::harness::{
    encoder_command, fetch, get, read_playlist, spawn_encoder, wait_for, Live, Playlist, Proc,
    LIVE_CODECS,
};
use super::play_hlsjs;
use crate::common::out_dir;

/// The inputs: fixed ports of this test's range, so that the encoder (started once) feeds
/// the restarted packager too.
const INPUTS: [&str; 2] = ["udp://127.0.0.1:21410", "udp://127.0.0.1:21411"];
/// (size, video bit rate) of each rung.
const RUNGS: [(&str, &str); 2] = [("640x360", "800k"), ("320x180", "250k")];

/// `ffmpeg -re`: testsrc2 + sine, H.264 (keyframe every second, the same frames in every
/// rung) + AAC, one MPEG-TS output per rung.
fn ladder_encoder() -> Proc {
    let mut cmd = encoder_command("640x360");
    for ((size, rate), url) in RUNGS.iter().zip(INPUTS) {
        cmd.args(["-map", "0:v", "-map", "1:a", "-s", size, "-b:v", rate])
            .args(LIVE_CODECS)
            .args(["-f", "mpegts"])
            .arg(format!("{url}?pkt_size=1316"));
    }
    spawn_encoder(cmd, Stdio::null())
}

fn start(root: &std::path::Path) -> Live {
    let args = [
        "--input",
        INPUTS[1],
        "--listen",
        "127.0.0.1:0",
        "--ll-hls",
        "--part-duration",
        "0.5",
        "--window",
        "10",
        "--input-timeout",
        "60",
    ];
    Live::start(root, "tv", INPUTS[0], &args, Stdio::null())
}

/// (LAST-MSN, LAST-PART) of the rendition report for `uri` in `text`.
fn report(text: &str, uri: &str) -> Option<(u64, u64)> {
    let prefix = format!("#EXT-X-RENDITION-REPORT:URI=\"{uri}\",");
    let attrs = text.lines().find_map(|l| l.strip_prefix(&prefix))?;
    let value = |name: &str| {
        attrs
            .split(',')
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
    };
    Some((value("LAST-MSN=")?, value("LAST-PART=")?))
}

/// Every part a playlist lists, in order, as (msn, part index).
fn parts(p: &Playlist) -> Vec<(u64, u64)> {
    let mut all: Vec<(u64, u64)> = p
        .segments
        .iter()
        .flat_map(|(msn, _, _, n)| (0..*n as u64).map(move |i| (*msn, i)))
        .collect();
    let open = p.segments.last().map_or(p.media_sequence, |s| s.0 + 1);
    all.extend((0..p.open_parts.len() as u64).map(|i| (open, i)));
    all
}

/// The multivariant playlist's variant URIs, once it lists two (and, Apple 6.1, the I-frame
/// playlist of each).
fn two_variants(base: &str) -> Vec<String> {
    two_variants_of(base, "tv")
}

fn two_variants_of(base: &str, name: &str) -> Vec<String> {
    let master = wait_for("a multivariant playlist with two variants", 60, || {
        let r = get(base, &format!("/{name}/master.m3u8"));
        match m3u8_rs::parse_playlist_res(&r.body) {
            Ok(m3u8_rs::Playlist::MasterPlaylist(m))
                if r.status == 200 && m.variants.iter().filter(|v| !v.is_i_frame).count() == 2 =>
            {
                Some(m)
            }
            _ => None,
        }
    });
    let (i_frames, variants): (Vec<_>, Vec<_>) =
        master.variants.into_iter().partition(|v| v.is_i_frame);
    let i_frame_uris: Vec<&str> = i_frames.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(
        i_frame_uris,
        ["stream_0_iframes.m3u8", "stream_1_iframes.m3u8"]
    );
    let mut sizes = Vec::new();
    for v in &variants {
        assert!(v.bandwidth > 0, "{v:?}");
        assert!(v.average_bandwidth.is_some_and(|b| b > 0), "{v:?}");
        let codecs = v.codecs.as_deref().unwrap_or_default();
        assert!(
            codecs.contains("avc") && codecs.contains("mp4a.40.2"),
            "{v:?}"
        );
        assert!(
            v.frame_rate.is_some_and(|f| (f - 30.0).abs() < 1.0),
            "{v:?}"
        );
        let res = v.resolution.expect("RESOLUTION");
        sizes.push(format!("{}x{}", res.width, res.height));
    }
    assert_eq!(sizes, RUNGS.map(|(s, _)| s), "variants in input order");
    let big = variants.first().map_or(0, |v| v.bandwidth);
    let small = variants.get(1).map_or(0, |v| v.bandwidth);
    assert!(
        big > small,
        "measured BANDWIDTH follows the rungs: {big} / {small}"
    );
    variants.iter().map(|v| v.uri.clone()).collect()
}

/// Waits for two segments in each of stream `name`'s two renditions `uris`, then checks their
/// reports of each other `rounds` times.
fn segments_then_reports(base: &str, name: &str, uris: &[String], rounds: usize) {
    for uri in uris {
        wait_for("two segments in each rendition", 60, || {
            let p = fetch(base, &format!("/{name}/{uri}"));
            (p.segments.len() >= 2).then_some(())
        });
    }
    for _ in 0..rounds {
        report_is_current(base, name, &uris[0], &uris[1]);
        report_is_current(base, name, &uris[1], &uris[0]);
    }
}

/// Fetches `x` of stream `name` right after it publishes its next part (a blocking reload),
/// then `y`: `x`'s report of `y` is `y`'s newest part or the one before.
fn report_is_current(base: &str, name: &str, x: &str, y: &str) {
    let now = fetch(base, &format!("/{name}/{x}"));
    let (msn, part) = (now.last_msn() + 1, now.open_parts.len());
    let r = get(
        base,
        &format!("/{name}/{x}?_HLS_msn={msn}&_HLS_part={part}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let reported = report(&text, y).unwrap_or_else(|| panic!("{x} reports {y}:\n{text}"));
    assert!(report(&text, x).is_none(), "{x} does not report itself");
    let other = fetch(base, &format!("/{name}/{y}"));
    let listed = parts(&other);
    let newest = listed.len().checked_sub(1).expect("parts listed");
    let at = listed
        .iter()
        .position(|p| *p == reported)
        .unwrap_or_else(|| panic!("{x} reports {reported:?}, not in {y}:\n{}", other.text));
    assert!(
        newest.saturating_sub(at) <= 1,
        "{x} reports {y} at {reported:?}, {y} is at {:?}:\n{text}\n{}",
        listed.get(newest),
        other.text
    );
}

/// ffprobe reads a rendition's live playlist without errors and finds its picture size.
fn ffprobe_reads(url: &str, size: &str) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width,height",
        ])
        .args(["-of", "csv=p=0", url])
        .output()
        .expect("ffprobe must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffprobe {url}: {stderr}"
    );
    let (w, h) = size.split_once('x').expect("WxH");
    assert!(
        stdout.contains(&format!("video,{w},{h}")),
        "ffprobe {url}: {stdout}"
    );
    assert!(stdout.contains("audio"), "ffprobe {url}: {stdout}");
}

#[test]
fn live_two_renditions_report_each_other_and_hlsjs_plays() {
    let root = out_dir("live-renditions");
    let mut live = start(&root);
    let base = live.base().to_owned();
    let _enc = ladder_encoder();
    let uris = two_variants(&base);
    assert_eq!(uris, ["stream_0.m3u8", "stream_1.m3u8"]);
    // Reports, both ways, a few times.
    segments_then_reports(&base, "tv", &uris, 3);

    // Blocking reload and the preload-hinted part on each rendition.
    for uri in &uris {
        let now = fetch(&base, &format!("/tv/{uri}"));
        let next = now.last_msn() + 1;
        let r = get(&base, &format!("/tv/{uri}?_HLS_msn={next}"));
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let got = Playlist::parse(&r.text());
        assert!(got.has_msn(next), "{uri}: held until {next}:\n{}", got.text);
        let hint = fetch(&base, &format!("/tv/{uri}"))
            .hint
            .expect("preload hint");
        let part = get(&base, &format!("/tv/{hint}"));
        assert_eq!(part.status, 200, "{uri}: GET hinted {hint}");
        assert_eq!(part.body.get(4..8), Some(&b"moof"[..]), "a CMAF chunk");
    }

    for (uri, (size, _)) in uris.iter().zip(RUNGS) {
        ffprobe_reads(&format!("{base}/tv/{uri}"), size);
    }

    play_hlsjs(&format!("{base}/tv/master.m3u8"), 20);

    // A delta update (the window of 10 segments is past CAN-SKIP-UNTIL now) reports too.
    let delta = wait_for("a Playlist Delta Update", 60, || {
        let r = get(&base, "/tv/stream_0.m3u8?_HLS_skip=YES");
        (r.status == 200 && r.text().contains("#EXT-X-SKIP:")).then(|| r.text())
    });
    assert!(report(&delta, "stream_1.m3u8").is_some(), "{delta}");

    // kill -9, restart: each rendition continues its own playlist.
    live.proc.kill();
    let dir = root.join("tv");
    let before: Vec<Playlist> = uris
        .iter()
        .map(|u| read_playlist(&dir.join(u), 1).expect("playlist on disk"))
        .collect();
    let live = start(&root);
    for (uri, old) in uris.iter().zip(&before) {
        let after = wait_for("the restarted run's segments", 60, || {
            read_playlist(&dir.join(uri), 1).filter(|p| p.last_msn() >= old.last_msn() + 2)
        });
        assert!(
            after.media_sequence >= old.media_sequence,
            "{uri}:\n{}",
            after.text
        );
        let first_new = after
            .segments
            .iter()
            .find(|s| s.0 == old.last_msn() + 1)
            .unwrap_or_else(|| panic!("{uri}: segment after the restart:\n{}", after.text));
        assert!(
            first_new.2,
            "{uri}: DISCONTINUITY after the restart:\n{}",
            after.text
        );
    }
    assert_eq!(two_variants(live.base()), uris);
}

/// The same two-rung ladder published over RTMP (issue 10: renditions work for RTMP inputs as
/// for UDP): one ffmpeg publishes each rung to its own `--input rtmp://…` of one `live`; the
/// master lists both variants (measured bandwidths, sizes in input order), each media
/// playlist reports the other, ffprobe reads both and hls.js plays the master.
#[test]
fn live_two_rtmp_renditions_report_each_other_and_hlsjs_plays() {
    const RTMP: [&str; 2] = [
        "rtmp://127.0.0.1:21412/live/hi",
        "rtmp://127.0.0.1:21413/live/lo",
    ];
    let root = out_dir("live-renditions-rtmp");
    let args = [
        "--input",
        RTMP[1],
        "--listen",
        "127.0.0.1:0",
        "--ll-hls",
        "--part-duration",
        "0.5",
        "--input-timeout",
        "60",
    ];
    let live = Live::start(&root, "studio", RTMP[0], &args, Stdio::null());
    let base = live.base().to_owned();
    let mut cmd = encoder_command("640x360");
    for ((size, rate), url) in RUNGS.iter().zip(RTMP) {
        cmd.args(["-map", "0:v", "-map", "1:a", "-s", size, "-b:v", rate])
            .args(LIVE_CODECS)
            .args(["-f", "flv", url]);
    }
    let _enc = spawn_encoder(cmd, Stdio::null());
    let uris = two_variants_of(&base, "studio");
    assert_eq!(uris, ["stream_0.m3u8", "stream_1.m3u8"]);
    segments_then_reports(&base, "studio", &uris, 2);
    for (uri, (size, _)) in uris.iter().zip(RUNGS) {
        ffprobe_reads(&format!("{base}/studio/{uri}"), size);
    }
    play_hlsjs(&format!("{base}/studio/master.m3u8"), 15);
}
