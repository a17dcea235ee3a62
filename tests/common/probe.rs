// SPDX-License-Identifier: MIT OR Apache-2.0
//! Independent checks with ffprobe/ffmpeg: never our own demuxer.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Packet {
    pub stream: u64,
    pub kind: String,
    pub pts: f64,
    pub dts: f64,
    pub duration: f64,
    pub key: bool,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub index: u64,
    pub kind: String,
    pub codec: String,
    pub width: u64,
    pub height: u64,
}

fn ffprobe_json(path: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe must be installed");
    assert!(
        out.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key)
        .and_then(|x| x.as_str().and_then(|s| s.parse().ok()).or(x.as_f64()))
        .unwrap_or(f64::NAN)
}

pub fn streams(path: &Path) -> Vec<Stream> {
    let v = ffprobe_json(path, &["-show_streams"]);
    v["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| Stream {
                    index: s["index"].as_u64().unwrap_or(0),
                    kind: s["codec_type"].as_str().unwrap_or("").to_owned(),
                    codec: s["codec_name"].as_str().unwrap_or("").to_owned(),
                    width: s["width"].as_u64().unwrap_or(0),
                    height: s["height"].as_u64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Packets in file order. A packet without a duration (ffprobe leaves Opus in fMP4 without one) gets
/// the distance to the next packet of its stream, or its predecessor's duration for the last one.
pub fn packets(path: &Path) -> Vec<Packet> {
    let mut pk = raw_packets(path);
    for i in 0..pk.len() {
        if pk[i].duration.is_finite() {
            continue;
        }
        let s = pk[i].stream;
        let next = pk[i + 1..]
            .iter()
            .find(|p| p.stream == s)
            .map(|p| p.dts - pk[i].dts);
        let prev = pk[..i]
            .iter()
            .rev()
            .find(|p| p.stream == s)
            .map(|p| pk[i].dts - p.dts);
        pk[i].duration = next.or(prev).unwrap_or(0.0);
    }
    pk
}

fn raw_packets(path: &Path) -> Vec<Packet> {
    let streams = streams(path);
    let v = ffprobe_json(
        path,
        &[
            "-show_entries",
            "packet=stream_index,pts_time,dts_time,duration_time,flags,size",
        ],
    );
    v["packets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let stream = p["stream_index"].as_u64().unwrap_or(0);
                    Packet {
                        stream,
                        kind: streams
                            .iter()
                            .find(|s| s.index == stream)
                            .map(|s| s.kind.clone())
                            .unwrap_or_default(),
                        pts: num(p, "pts_time"),
                        dts: num(p, "dts_time"),
                        duration: num(p, "duration_time"),
                        key: p["flags"].as_str().unwrap_or("").contains('K'),
                        size: num(p, "size") as u64,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes every frame; returns ffmpeg's error output (empty = clean decode).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed");
    let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && err.is_empty() {
        err = format!("ffmpeg exited with {}", out.status);
    }
    err
}

/// Duration of the video stream (or of the first stream) per ffprobe.
pub fn media_duration(path: &Path) -> f64 {
    let pk = packets(path);
    let video = pk.iter().any(|p| p.kind == "video");
    let sel: Vec<&Packet> = pk
        .iter()
        .filter(|p| {
            if video {
                p.kind == "video"
            } else {
                p.stream == 0
            }
        })
        .collect();
    let start = sel.iter().map(|p| p.pts).fold(f64::INFINITY, f64::min);
    let end = sel
        .iter()
        .map(|p| p.pts + p.duration)
        .fold(f64::NEG_INFINITY, f64::max);
    end - start
}

/// One decoded frame per ffprobe `-show_frames`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: String,
    pub key: bool,
    pub pict_type: String,
    /// pts_time, or best_effort_timestamp_time when the frame has no pts.
    pub pts: f64,
}

/// Decodes every frame of `path` (ffprobe `-show_frames`). Errors on stderr are not fatal: a
/// byte range cut out of a stream may end inside a box or PES (the frames before that decode).
pub fn frames(path: &Path) -> Vec<Frame> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg("frame=media_type,key_frame,pict_type,pts_time,best_effort_timestamp_time")
        .arg(path)
        .output()
        .expect("ffprobe must be installed");
    assert!(
        out.status.success(),
        "ffprobe -show_frames {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    v["frames"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let pts = num(f, "pts_time");
                    Frame {
                        kind: f["media_type"].as_str().unwrap_or("").to_owned(),
                        key: f["key_frame"].as_u64() == Some(1),
                        pict_type: f["pict_type"].as_str().unwrap_or("").to_owned(),
                        pts: if pts.is_finite() {
                            pts
                        } else {
                            num(f, "best_effort_timestamp_time")
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `bytes` (e.g. an I-frame entry after its EXT-X-MAP) to `file` and decodes it: the
/// video frames it holds.
pub fn video_frames_of(file: &Path, bytes: &[u8]) -> Vec<Frame> {
    std::fs::write(file, bytes).expect("write the bytes to probe");
    frames(file)
        .into_iter()
        .filter(|f| f.kind == "video")
        .collect()
}

/// Presentation times of the video keyframes of `path`, in presentation order (ffprobe packets).
pub fn video_keyframe_times(path: &Path) -> Vec<f64> {
    let mut t: Vec<f64> = packets(path)
        .iter()
        .filter(|p| p.kind == "video" && p.key)
        .map(|p| p.pts)
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

/// Decoded video frames and video packets of `path` (ffprobe `-count_frames -count_packets` on
/// the first video stream): fewer frames than packets means pictures that could not be decoded
/// from this file alone (e.g. RASL pictures of an HEVC CRA that opens it).
pub fn video_frame_and_packet_counts(path: &Path) -> (u64, u64) {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_frames,nb_read_packets",
        ],
    );
    let s = &v["streams"][0];
    let count = |key: &str| num(s, key);
    (
        count("nb_read_frames") as u64,
        count("nb_read_packets") as u64,
    )
}
