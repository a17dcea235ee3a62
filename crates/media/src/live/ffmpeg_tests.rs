// SPDX-License-Identifier: MIT OR Apache-2.0
//! End to end against ffmpeg: ffmpeg encodes an H.264 + AAC MPEG-TS, our TS demuxer reads it,
//! [`LiveStream`] packages it as a live run (classic MPEG-TS, and LL-HLS fMP4), the outputs
//! are applied to `/tmp/live/<case>/`, and `ffmpeg -v error` must read the final playlist
//! without a complaint. Skipped when ffmpeg is missing.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::tests::{config, t0};
use super::*;
use crate::demux::ts::TsFileDemuxer;
use crate::sample::Demuxer;

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn source(dir: &Path) -> Option<std::path::PathBuf> {
    let path = dir.join("input.ts");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-keyint_min",
            "30",
            "-sc_threshold",
            "0",
            "-bf",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "mpegts",
        ])
        .arg(&path)
        .output()
        .ok()?;
    out.status.success().then_some(path)
}

/// Packages `input` live; returns the playlist path once ended.
fn run(input: &Path, dir: &Path, cfg: LiveConfig) -> std::path::PathBuf {
    let file = fs::File::open(input).expect("input");
    let mut demux = TsFileDemuxer::open(std::io::BufReader::new(file)).expect("demux");
    let mut stream = LiveStream::new(cfg, demux.tracks().to_vec()).expect("stream");
    let main = 0;
    let timescale = f64::from(demux.tracks()[main].timescale);
    let mut first: Option<i64> = None;
    let mut outputs = vec![];
    let mut last_now = t0();
    while let Some(sample) = demux.next_sample().expect("sample") {
        let base = *first.get_or_insert(sample.dts);
        let secs = (sample.dts - base).max(0) as f64 / timescale.max(1.0);
        let now = t0() + Duration::from_secs_f64(if sample.track == main { secs } else { 0.0 });
        last_now = last_now.max(now);
        outputs.extend(stream.push(sample, last_now).expect("push"));
    }
    outputs.extend(stream.end(last_now));
    for o in outputs {
        match o {
            Output::Put { name, bytes } => fs::write(dir.join(&name), &bytes).expect("write"),
            Output::Delete { name } => {
                let _ = fs::remove_file(dir.join(name));
            }
            Output::Updated { .. } | Output::Chunk { .. } | Output::Abandon { .. } => {}
        }
    }
    dir.join(stream.playlist_name())
}

#[test]
fn ffmpeg_reads_live_runs() {
    if !have_ffmpeg() {
        return;
    }
    let root = Path::new("/tmp/live");
    let _ = fs::create_dir_all(root);
    let Some(input) = source(root) else {
        return; // no libx264 / aac encoder in this ffmpeg build
    };
    let cases = [
        ("ts", config(Format::Ts, None)),
        ("llhls", config(Format::Fmp4, Some(0.5))),
    ];
    for (name, cfg) in cases {
        let dir = root.join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let playlist = run(&input, &dir, cfg);
        let text = fs::read_to_string(&playlist).expect("playlist");
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{name}: {text}");
        assert!(dir.join("master.m3u8").exists());
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&playlist)
            .args(["-f", "null", "-"])
            .output()
            .expect("ffmpeg");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "{name}: {stderr}\n{text}"
        );
        // Every listed URI exists (deleted objects are no longer listed).
        for uri in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            assert!(dir.join(uri).exists(), "{name}: {uri} listed but missing");
        }
    }
}
