// SPDX-License-Identifier: MIT OR Apache-2.0
//! Test media generated with ffmpeg (lavfi testsrc2 + sine) on first use and cached under target/.
//! Nothing large is committed; every file here is a few hundred KB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::work_dir;

static LOCK: Mutex<()> = Mutex::new(());

/// One generated input: file name and the ffmpeg arguments after the lavfi sources.
pub struct Fixture {
    pub name: &'static str,
    /// Arguments placed after `-f lavfi -i testsrc2… -f lavfi -i sine…` (audio input is 1:a).
    pub args: Vec<&'static str>,
    pub video: bool,
    pub audio: bool,
    /// Can be packaged as MPEG-TS (AV1/VP9/Opus cannot; HEVC only with --allow-hevc-ts).
    pub ts_ok: bool,
    /// Duration of generated media in seconds.
    pub secs: u32,
}

const H264: &[&str] = &[
    "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "2", "-pix_fmt", "yuv420p",
];
const X265: &[&str] = &[
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-x265-params",
    "keyint=30:min-keyint=30:log-level=error",
    "-pix_fmt",
    "yuv420p",
];
const AAC: &[&str] = &["-c:a", "aac", "-b:a", "96k"];
const AV: &[&str] = &["-map", "0:v", "-map", "1:a"];

fn fx(
    name: &'static str,
    parts: &[&[&'static str]],
    video: bool,
    audio: bool,
    ts_ok: bool,
) -> Fixture {
    let args = parts.iter().flat_map(|p| p.iter().copied()).collect();
    Fixture {
        name,
        args,
        video,
        audio,
        ts_ok,
        secs: 5,
    }
}

/// The codec/container matrix of the packager issue.
pub fn valid() -> Vec<Fixture> {
    vec![
        fx(
            "h264_aac.mp4",
            &[AV, H264, AAC, &["-movflags", "+faststart"]],
            true,
            true,
            true,
        ),
        fx("h264_aac_moovlast.mov", &[AV, H264, AAC], true, true, true),
        fx(
            "h264_aac_frag.mp4",
            &[
                AV,
                H264,
                AAC,
                &["-movflags", "frag_keyframe+empty_moov+default_base_moof"],
            ],
            true,
            true,
            true,
        ),
        fx(
            "h264_aac_frag_nodbm.mp4",
            &[AV, H264, AAC, &["-movflags", "frag_keyframe+empty_moov"]],
            true,
            true,
            true,
        ),
        fx(
            "avc3_aac.mp4",
            &[AV, H264, &["-tag:v", "avc3"], AAC],
            true,
            true,
            true,
        ),
        fx(
            "hevc_aac.mp4",
            &[AV, X265, &["-tag:v", "hvc1"], AAC],
            true,
            true,
            false,
        ),
        fx(
            "hev1_ac3.mp4",
            &[AV, X265, &["-tag:v", "hev1", "-c:a", "ac3", "-b:a", "128k"]],
            true,
            true,
            false,
        ),
        fx(
            "h264_eac3.mp4",
            &[AV, H264, &["-c:a", "eac3", "-b:a", "128k"]],
            true,
            true,
            true,
        ),
        fx(
            "h264_mp3.mp4",
            &[AV, H264, &["-c:a", "libmp3lame", "-b:a", "128k"]],
            true,
            true,
            true,
        ),
        fx(
            "av1_opus.mp4",
            &[
                AV,
                &[
                    "-c:v",
                    "libsvtav1",
                    "-preset",
                    "12",
                    "-g",
                    "30",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "64k",
                ],
            ],
            true,
            true,
            false,
        ),
        fx(
            "vp9_opus.mp4",
            &[
                AV,
                &[
                    "-c:v",
                    "libvpx-vp9",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-g",
                    "30",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    "64k",
                ],
            ],
            true,
            true,
            false,
        ),
        fx("aac_only.m4a", &[&["-map", "1:a"], AAC], false, true, true),
        fx(
            "video_only.mp4",
            &[&["-map", "0:v"], H264],
            true,
            false,
            true,
        ),
        fx(
            "h264_aac_2997_irregular.mp4",
            &[
                AV,
                &[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-r",
                    "30000/1001",
                    "-x264-params",
                    "keyint=300:min-keyint=300:scenecut=0",
                    "-force_key_frames",
                    "0,0.7,2.9,3.3,4.4",
                    "-pix_fmt",
                    "yuv420p",
                ],
                AAC,
            ],
            true,
            true,
            true,
        ),
        fx("h264_aac.ts", &[AV, H264, AAC], true, true, true),
        fx(
            "hevc_ac3.ts",
            &[AV, X265, &["-c:a", "ac3", "-b:a", "128k"]],
            true,
            true,
            false,
        ),
        fx(
            "mp3_only.ts",
            &[&["-map", "1:a", "-c:a", "libmp3lame", "-b:a", "128k"]],
            false,
            true,
            true,
        ),
    ]
}

/// Path of a generated fixture, generating it on first use.
pub fn path(fx: &Fixture) -> PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let out = dir.join(fx.name);
    if out.exists() {
        return out;
    }
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if out.exists() {
        return out;
    }
    let secs = fx.secs.to_string();
    let tmp = dir.join(format!(".tmp-{}", fx.name));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate=30:duration={secs}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={secs}"
        ))
        .args(&fx.args)
        .args(["-t", &secs])
        .args(format_of(fx.name))
        .arg(&tmp)
        .status()
        .expect("ffmpeg must be installed (see README: the test command installs it)");
    assert!(status.success(), "ffmpeg failed generating {}", fx.name);
    std::fs::rename(&tmp, &out).expect("rename fixture");
    out
}

fn format_of(name: &str) -> Vec<&'static str> {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match ext {
        "ts" => vec!["-f", "mpegts"],
        "mov" => vec!["-f", "mov"],
        _ => vec!["-f", "mp4"],
    }
}

pub fn by_name(name: &str) -> PathBuf {
    let fx = valid()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    path(&fx)
}

/// A 12 s H.264 + AAC file for playback tests (long enough to watch several segments).
pub fn playback() -> PathBuf {
    let mut f = fx(
        "playback_h264_aac.mp4",
        &[
            AV,
            &[
                "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p",
            ],
            AAC,
        ],
        true,
        true,
        true,
    );
    f.secs = 12;
    path(&f)
}
