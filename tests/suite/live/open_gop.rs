// SPDX-License-Identifier: MIT OR Apache-2.0
//! HEVC with open GOPs from x265 (a CRA with RASL pictures every 2 s, no IDR after the first):
//! live can only cut on those CRAs, and such a segment does not decode without the previous one,
//! so neither the media playlist nor the master may declare EXT-X-INDEPENDENT-SEGMENTS
//! (RFC 8216bis 4.4.2.1; issue 14, item 7). ffprobe confirms the premise on the segments.

use std::path::Path;
use std::process::{Command, Stdio};

use super::harness::{encoder_command, spawn_encoder, wait_for, Live};
use crate::common::{out_dir, probe};

/// `init` + `segment` as one file, so ffprobe reads the segment as a player would after a seek.
fn joined(dir: &Path, init: &str, segment: &str) -> std::path::PathBuf {
    let mut bytes = std::fs::read(dir.join(init)).expect("init segment");
    bytes.extend(std::fs::read(dir.join(segment)).expect("segment"));
    let out = dir.join(format!("joined-{segment}.mp4"));
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn live_hevc_open_gop_segments_are_not_declared_independent() {
    let root = out_dir("live-open-gop");
    let mut cmd = encoder_command("320x240");
    cmd.args([
        "-map",
        "0:v",
        "-t",
        "14",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
    ])
    .args([
        "-x265-params",
        "open-gop=1:keyint=60:min-keyint=60:scenecut=0:log-level=error",
    ])
    .args(["-pix_fmt", "yuv420p", "-f", "mpegts", "-"]);
    let mut ffmpeg = spawn_encoder(cmd, Stdio::piped());
    let stdout = ffmpeg.0.stdout.take().expect("ffmpeg stdout");
    let _live = Live::start(
        &root,
        "hevc",
        "-",
        &[
            "--format",
            "fmp4",
            "--segment-duration",
            "2",
            "--window",
            "10",
        ],
        Stdio::from(stdout),
    );
    let dir = root.join("hevc");
    let text = wait_for("EXT-X-ENDLIST after stdin's end", 90, || {
        std::fs::read_to_string(dir.join("stream.m3u8"))
            .ok()
            .filter(|t| t.contains("#EXT-X-ENDLIST"))
    });
    let media = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("stream.m3u8: {other:?}"),
    };
    assert!(media.segments.len() >= 4, "{text}");
    let init = media.segments[0]
        .map
        .as_ref()
        .expect("EXT-X-MAP")
        .uri
        .clone();
    // The premise: some segment after the first loses pictures when decoded on its own.
    let open = media.segments[1..]
        .iter()
        .filter(|s| {
            let (frames, packets) =
                probe::video_frame_and_packet_counts(&joined(&dir, &init, &s.uri));
            frames < packets
        })
        .count();
    assert!(
        open > 0,
        "x265 open GOP: a segment starts on a CRA with RASL pictures"
    );
    assert!(!media.independent_segments, "media playlist:\n{text}");
    let master = std::fs::read_to_string(dir.join("master.m3u8")).expect("master");
    assert!(
        !master.contains("#EXT-X-INDEPENDENT-SEGMENTS"),
        "master:\n{master}"
    );
    // ffprobe still decodes the stream as a whole without error.
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(dir.join("stream.m3u8"))
        .args(["-f", "null", "-"])
        .status()
        .expect("ffmpeg");
    assert!(st.success());
}
