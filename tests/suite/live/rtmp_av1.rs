// SPDX-License-Identifier: MIT OR Apache-2.0
//! Enhanced RTMP AV1 (issue 10): ffmpeg 8.1 publishes SVT-AV1 + AAC over RTMP (FourCC `av01`,
//! veovera/enhanced-rtmp v1). The output is fMP4 with `av01` in CODECS — the string checked
//! against what ffprobe reads from the sequence header (AV1-ISOBMFF Annex A: profile, level,
//! tier, bit depth) — every segment decodes (Debian's ffprobe, libdav1d), and hls.js plays it.

use std::path::Path;
use std::process::{Command, Stdio};

use super::harness::{get, spawn_encoder, wait_for, Live, Playlist};
use super::play_hlsjs;
use super::rtmp::{assert_segments_decode, ffmpeg8_dir, publish_url};
use crate::common::out_dir;

/// `av01.P.LLT.DD` (AV1-ISOBMFF Annex A "Codecs Parameter String") for the stream ffprobe
/// reads from `init`: the seq_profile, seq_level_idx[0] (tier M below level 4.0, where
/// seq_tier is absent) and bit depth.
fn expected_codecs(ffprobe: &Path, init: &[u8]) -> String {
    let tmp = std::env::temp_dir().join(format!("av1-init-{}.mp4", std::process::id()));
    std::fs::write(&tmp, init).expect("write init");
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=codec_name,profile,level,pix_fmt",
            "-of",
            "default=nw=1",
        ])
        .arg(&tmp)
        .output()
        .expect("ffprobe");
    let _ = std::fs::remove_file(&tmp);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("ffprobe {k}: {text}"))
            .to_owned()
    };
    assert_eq!(field("codec_name"), "av1", "{text}");
    let profile = match field("profile").as_str() {
        "Main" => 0,
        "High" => 1,
        "Professional" => 2,
        p => panic!("AV1 profile {p}"),
    };
    let level: u32 = field("level").parse().expect("level");
    assert!(level < 8, "a 320x240 stream is below level 4.0: {level}");
    let depth = if field("pix_fmt").contains("10") {
        10
    } else {
        8
    };
    format!("av01.{profile}.{level:02}M.{depth:02}")
}

#[test]
fn live_rtmp_enhanced_av1_is_av01_and_hlsjs_plays() {
    let dir = ffmpeg8_dir();
    // The static ffmpeg 8.1 build has no software AV1 decoder; Debian's has libdav1d.
    let ffprobe = Path::new("ffprobe");
    let root = out_dir("live-rtmp-av1");
    let live = Live::start(
        &root,
        "av1",
        "rtmp://127.0.0.1:0/live/av1",
        &["--listen", "127.0.0.1:0", "--input-timeout", "60"],
        Stdio::null(),
    );
    let base = live.base().to_owned();
    let mut cmd = Command::new(dir.join("ffmpeg-linux-x64"));
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-c:v", "libsvtav1", "-preset", "12", "-g", "30"])
        .args(["-svtav1-params", "scd=0:lookahead=0"])
        .args([
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv",
        ])
        .arg(publish_url(&live, "av1"));
    let _publisher = spawn_encoder(cmd, Stdio::null());
    let p = wait_for("three AV1 segments", 120, || {
        let r = get(&base, "/av1/stream.m3u8");
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 3)
    });
    let map = p
        .text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|r| r.split('"').next())
        .expect("EXT-X-MAP");
    let init = get(&base, &format!("/av1/{map}"));
    assert_eq!(init.status, 200);
    let want = expected_codecs(ffprobe, &init.body);
    let master = get(&base, "/av1/master.m3u8").text();
    assert!(
        master.contains(&format!("CODECS=\"{want},mp4a.40.2\"")),
        "want {want}: {master}"
    );
    assert_segments_decode(ffprobe, &base, "av1", &p, &["av1", "aac"]);
    play_hlsjs(&format!("{base}/av1/master.m3u8"), 20);
}
