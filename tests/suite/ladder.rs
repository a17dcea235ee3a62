// SPDX-License-Identifier: MIT OR Apache-2.0
//! VOD ladders (issue 11): several inputs → variants, audio renditions, subtitle renditions.
//! Media is generated with ffmpeg (cached under target/); the master is parsed with m3u8-rs and
//! every media playlist is decoded by ffmpeg.

use std::path::{Path, PathBuf};
use std::process::Command;

use m3u8_rs::{AlternativeMediaType, ClosedCaptionGroupId, MasterPlaylist, MediaPlaylist};

use crate::common::server::{ladder_tracks_failures, serve};
use crate::common::{bin, out_dir, probe, run, work_dir};

static GENERATE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Generates `name` (12 s unless `secs`) with ffmpeg on first use: testsrc2 at `size`, 25 fps,
/// a keyframe every `gop` frames, and the audio inputs/maps of `extra`.
fn media(name: &str, size: &str, gop: u32, extra: &[&str]) -> PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let out = dir.join(name);
    let _guard = GENERATE.lock().unwrap_or_else(|e| e.into_inner());
    if out.exists() {
        return out;
    }
    let tmp = dir.join(format!(".tmp-{name}"));
    let gop = gop.to_string();
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25:duration=12"))
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=12",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:sample_rate=48000:duration=12",
        ])
        .args(extra)
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"])
        .args(["-t", "12", "-f", "mp4"])
        .arg(&tmp)
        .status()
        .expect("ffmpeg must be installed");
    assert!(status.success(), "ffmpeg failed generating {name}");
    std::fs::rename(&tmp, &out).expect("rename");
    out
}

/// Video + English AAC (the same audio in every rendition, as an encoder's ladder has).
pub(super) fn rendition(size: &str, bitrate: &str) -> PathBuf {
    media(
        &format!("ladder_{size}.mp4"),
        size,
        50,
        &[
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-b:v",
            bitrate,
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-metadata:s:a:0",
            "language=eng",
        ],
    )
}

fn ladder_inputs() -> Vec<PathBuf> {
    vec![
        rendition("1920x1080", "3000k"),
        rendition("1280x720", "1500k"),
        rendition("640x360", "400k"),
    ]
}

/// French audio only (no video): an `--audio` file.
pub(super) fn french() -> PathBuf {
    media(
        "ladder_fr.mp4",
        "64x64",
        50,
        &[
            "-map",
            "2:a",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-metadata:s:a:0",
            "language=fra",
        ],
    )
}

pub(super) fn package_ladder(
    inputs: &[PathBuf],
    out: &Path,
    args: &[&str],
) -> std::process::Output {
    let o = run(Command::new(bin())
        .arg("package")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .args(["--run-id", "test"])
        .args(args));
    assert!(
        o.status.success(),
        "package failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub(super) fn master(dir: &Path) -> MasterPlaylist {
    let text = std::fs::read_to_string(dir.join("master.m3u8")).expect("master");
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a master playlist: {other:?}\n{text}"),
    }
}

pub(super) fn media_playlist(path: &Path) -> MediaPlaylist {
    let text = std::fs::read_to_string(path).expect("media playlist");
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("not a media playlist: {other:?}\n{text}"),
    }
}

/// Peak bits/s over the segments of a media playlist, from the files' sizes and EXTINF.
fn peak_rate(dir: &Path, uri: &str) -> f64 {
    let p = media_playlist(&dir.join(uri));
    p.segments
        .iter()
        .map(|s| {
            let bytes = match &s.byte_range {
                Some(r) => r.length,
                None => std::fs::metadata(dir.join(&s.uri)).expect("segment").len(),
            };
            bytes as f64 * 8.0 / f64::from(s.duration)
        })
        .fold(0.0, f64::max)
}

fn durations(dir: &Path, uri: &str) -> Vec<f32> {
    media_playlist(&dir.join(uri))
        .segments
        .iter()
        .map(|s| s.duration)
        .collect()
}

/// ffmpeg decodes a media playlist without error and it lasts about 12 s.
fn assert_decodes(dir: &Path, uri: &str) {
    let path = dir.join(uri);
    let errors = probe::decode_errors(&path);
    assert!(errors.is_empty(), "{uri}: ffmpeg: {errors}");
    let d = probe::media_duration(&path);
    assert!((d - 12.0).abs() < 0.5, "{uri}: lasts {d} s");
}

/// The 3-rendition ladder (1080p/720p/360p, aligned GOPs, the same English audio in each) plus
/// a French `--audio` file, TS and fMP4.
#[test]
fn three_rendition_ladder_with_two_languages() {
    let inputs = ladder_inputs();
    let fr = french();
    for format in ["ts", "fmp4"] {
        let out = out_dir(&format!("ladder-{format}"));
        let audio = format!("{},lang=fr,name=Français", fr.display());
        let o = package_ladder(&inputs, &out, &["--format", format, "--audio", &audio]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("not aligned"), "{format}: {stderr}");
        let m = master(&out);
        check_variants(&out, &m, format);
        check_audio(&m, format);
        // The identical English audio of the three inputs is packaged once.
        assert!(out.join("audio_0.m3u8").exists() && out.join("audio_1.m3u8").exists());
        assert!(
            !out.join("audio_2.m3u8").exists(),
            "{format}: audio packaged once"
        );
        let video_uris: Vec<&str> = m
            .variants
            .iter()
            .filter(|v| !v.is_i_frame)
            .map(|v| v.uri.as_str())
            .collect();
        // Cuts aligned: the same EXTINF in every variant.
        let first = durations(&out, video_uris[0]);
        for uri in &video_uris {
            assert_eq!(durations(&out, uri), first, "{format}: {uri} aligned");
        }
        for uri in video_uris
            .iter()
            .chain(["audio_0.m3u8", "audio_1.m3u8"].iter())
        {
            assert_decodes(&out, uri);
        }
        let i_frames = m.variants.iter().filter(|v| v.is_i_frame).count();
        assert_eq!(
            i_frames, 3,
            "{format}: one I-frame playlist per video variant"
        );
        if format == "ts" {
            super::golden::check(
                "ladder-ts.master.m3u8",
                &std::fs::read_to_string(out.join("master.m3u8")).expect("master"),
            );
        }
    }
}

/// Variants: ordered by BANDWIDTH, which covers the video's peak plus the largest audio
/// rendition's; CODECS video + audio; RESOLUTION, FRAME-RATE, AUDIO, CLOSED-CAPTIONS=NONE.
fn check_variants(out: &Path, m: &MasterPlaylist, format: &str) {
    let variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(variants.len(), 3, "{format}");
    let sizes: Vec<u64> = variants
        .iter()
        .map(|v| v.resolution.expect("RESOLUTION").height)
        .collect();
    assert_eq!(
        sizes,
        vec![360, 720, 1080],
        "{format}: ordered by bandwidth"
    );
    assert!(variants
        .windows(2)
        .all(|w| w[0].bandwidth <= w[1].bandwidth));
    let audio_peak = ["audio_0.m3u8", "audio_1.m3u8"]
        .iter()
        .map(|u| peak_rate(out, u))
        .fold(0.0, f64::max);
    for v in &variants {
        let want = peak_rate(out, &v.uri) + audio_peak;
        let got = v.bandwidth as f64;
        assert!(
            got >= want * 0.999 && got <= want * 1.01,
            "{format} {}: BANDWIDTH {got}, video + largest audio {want}",
            v.uri
        );
        let codecs = v.codecs.as_deref().expect("CODECS");
        assert!(
            codecs.starts_with("avc1.") && codecs.ends_with(",mp4a.40.2"),
            "{codecs}"
        );
        assert_eq!(v.frame_rate, Some(25.0), "{format}");
        assert_eq!(v.audio.as_deref(), Some("audio-aac"), "{format}");
        assert_eq!(
            v.closed_captions,
            Some(ClosedCaptionGroupId::None),
            "{format}"
        );
        assert!(v.average_bandwidth.expect("AVERAGE-BANDWIDTH") <= v.bandwidth);
    }
}

/// Two audio renditions in one group: English from the inputs' mdhd, French from the option;
/// one DEFAULT, CHANNELS on each.
fn check_audio(m: &MasterPlaylist, format: &str) {
    let audio: Vec<_> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Audio)
        .collect();
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, bool, Option<&'a str>);
    let rows: Vec<Row> = audio
        .iter()
        .map(|a| {
            (
                a.group_id.as_str(),
                a.language.as_deref(),
                a.name.as_str(),
                a.default,
                a.channels.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("audio-aac", Some("en"), "English", true, Some("1")),
            ("audio-aac", Some("fr"), "Français", false, Some("1")),
        ],
        "{format}"
    );
    assert!(audio.iter().all(|a| a.autoselect));
}

/// One MP4 with two audio tracks (English, French): each is a rendition, LANGUAGE from mdhd.
#[test]
fn multi_audio_track_mp4() {
    let input = media(
        "ladder_two_languages.mp4",
        "320x240",
        50,
        &[
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "2:a",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
        ],
    );
    let out = out_dir("ladder-two-tracks");
    package_ladder(&[input], &out, &["--format", "fmp4"]);
    let m = master(&out);
    let langs: Vec<Option<&str>> = m
        .alternatives
        .iter()
        .map(|a| a.language.as_deref())
        .collect();
    assert_eq!(langs, vec![Some("en"), Some("fr")]);
    for uri in ["video_0.m3u8", "audio_0.m3u8", "audio_1.m3u8"] {
        assert_decodes(&out, uri);
    }
}

/// AAC and AC-3 audio go to two groups, and each video variant is listed once per group.
#[test]
fn one_group_per_audio_codec() {
    let ac3 = media(
        "ladder_ac3.mp4",
        "64x64",
        50,
        &["-map", "2:a", "-c:a", "ac3", "-b:a", "192k", "-ac", "2"],
    );
    let inputs = [rendition("640x360", "400k")];
    let out = out_dir("ladder-ac3");
    let audio = format!("{},lang=de", ac3.display());
    package_ladder(&inputs, &out, &["--format", "ts", "--audio", &audio]);
    let m = master(&out);
    let groups: Vec<(Option<&str>, Option<&str>)> = m
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| (v.audio.as_deref(), v.codecs.as_deref()))
        .collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    for (group, audio_codec) in [("audio-aac", ",mp4a.40.2"), ("audio-ac3", ",ac-3")] {
        assert!(
            groups.iter().any(|(g, c)| *g == Some(group)
                && c.is_some_and(|c| c.starts_with("avc1.") && c.ends_with(audio_codec))),
            "{group}: {groups:?}"
        );
    }
    let ac3_entry = m
        .alternatives
        .iter()
        .find(|a| a.group_id == "audio-ac3")
        .expect("AC-3 rendition");
    assert_eq!(
        (
            ac3_entry.language.as_deref(),
            ac3_entry.default,
            ac3_entry.channels.as_deref()
        ),
        (Some("de"), true, Some("2"))
    );
    assert_decodes(&out, "audio_1.m3u8");
}

/// Keyframes not aligned (GOP 50 vs 37): reported on stderr, still packaged, every playlist
/// decodes.
#[test]
fn misaligned_inputs_are_reported_and_packaged() {
    let odd = media(
        "ladder_gop37.mp4",
        "320x240",
        37,
        &["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "96k"],
    );
    let inputs = [rendition("640x360", "400k"), odd.clone()];
    let out = out_dir("ladder-misaligned");
    let o = package_ladder(&inputs, &out, &["--format", "fmp4"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("keyframes not aligned") && stderr.contains("ladder_gop37.mp4"),
        "{stderr}"
    );
    // The summary says so too (issue 11: "reported (stderr, summary)").
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("1 of 2 variants have keyframes not aligned"),
        "{stdout}"
    );
    for uri in ["video_0.m3u8", "video_1.m3u8", "audio_0.m3u8"] {
        assert_decodes(&out, uri);
    }
}

/// Bad ladders: an input without video, a bad descriptor; nothing is left in OUT.
#[test]
fn bad_ladders_are_refused() {
    let fr = french();
    let v = rendition("640x360", "400k");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![v.display().to_string(), fr.display().to_string()],
            "no video track",
        ),
        (
            vec![
                v.display().to_string(),
                "--audio".into(),
                format!("{},langue=fr", fr.display()),
            ],
            "unknown item",
        ),
        (
            vec![
                v.display().to_string(),
                "--audio".into(),
                v.display().to_string(),
                "--audio".into(),
                "/nonexistent.mp4".into(),
            ],
            "nonexistent",
        ),
        // An encrypted ladder checks the method against the format like a single rendition.
        (
            vec![
                v.display().to_string(),
                "--audio".into(),
                fr.display().to_string(),
                "--encrypt".into(),
                "cbcs".into(),
                "--format".into(),
                "ts".into(),
            ],
            "--format fmp4",
        ),
    ];
    for (args, want) in cases {
        let out = out_dir("ladder-bad");
        let o = run(Command::new(bin())
            .arg("package")
            .args(&args)
            .arg("-o")
            .arg(&out));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: nothing in OUT");
    }
}

/// Writes the test's subtitle files: English WebVTT (a cue spanning the 2 s boundary at 4 s,
/// nothing between 4.5 and 8 s) and French SRT.
fn subtitle_files() -> (PathBuf, PathBuf) {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let vtt = dir.join("ladder_en.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello\n\n\
00:00:03.000 --> 00:00:04.500\nAcross the boundary\n\n00:00:08.000 --> 00:00:11.000\nBye\n",
    )
    .expect("write vtt");
    let srt = dir.join("ladder_fr.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,500 --> 00:00:03,000\nBonjour & bienvenue\n\n2\n00:00:07,000 --> 00:00:10,000\nAu revoir\n",
    )
    .expect("write srt");
    (vtt, srt)
}

/// Cue start times (s) in a WebVTT segment, and its X-TIMESTAMP-MAP MPEGTS value.
fn vtt_cues(text: &str) -> (Vec<f64>, u64) {
    let mpegts = text
        .lines()
        .find_map(|l| l.strip_prefix("X-TIMESTAMP-MAP=MPEGTS:"))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .expect("X-TIMESTAMP-MAP");
    let starts = text
        .lines()
        .filter_map(|l| l.split_once(" --> "))
        .map(|(a, _)| {
            let p: Vec<f64> = a.split(':').map(|x| x.parse().expect("time")).collect();
            p[0] * 3600.0 + p[1] * 60.0 + p[2]
        })
        .collect();
    (starts, mpegts)
}

/// First presentation time of a media playlist's video, 90 kHz, per ffprobe.
fn first_pts_90k(playlist: &Path) -> u64 {
    let out = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=start_time",
        ])
        .args(["-of", "default=nw=1:nk=1"])
        .arg(playlist));
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("start_time: {text}"));
    (secs * 90_000.0).round() as u64
}

/// WebVTT and SRT subtitles: two SUBTITLES renditions (languages, DEFAULT, FORCED), segmented
/// on the video's boundaries with the same EXTINF, cues spanning a boundary repeated, an empty
/// segment where no cue falls, X-TIMESTAMP-MAP at the video's first PTS (TS: its 1.4 s offset);
/// ffmpeg reads every cue back.
#[test]
fn subtitles_from_webvtt_and_srt() {
    let (vtt, srt) = subtitle_files();
    let inputs = [rendition("640x360", "400k")];
    for format in ["ts", "fmp4"] {
        let out = out_dir(&format!("ladder-subs-{format}"));
        let en = format!("{},lang=en,default", vtt.display());
        let fr = format!("{},lang=fr,name=Français,forced", srt.display());
        let args = [
            "--format",
            format,
            "--segment-duration",
            "2",
            "--subtitles",
            &en,
            "--subtitles",
            &fr,
        ];
        package_ladder(&inputs, &out, &args);
        let m = master(&out);
        let subs: Vec<(Option<&str>, &str, bool, bool)> = m
            .alternatives
            .iter()
            .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
            .map(|a| (a.language.as_deref(), a.name.as_str(), a.default, a.forced))
            .collect();
        assert_eq!(
            subs,
            vec![
                (Some("en"), "English", true, false),
                (Some("fr"), "Français", false, true)
            ],
            "{format}"
        );
        assert!(m
            .variants
            .iter()
            .filter(|v| !v.is_i_frame)
            .all(|v| v.subtitles.as_deref() == Some("subs")));
        let video = durations(&out, "video_0.m3u8");
        assert_eq!(
            durations(&out, "subs_0.m3u8"),
            video,
            "{format}: same EXTINF"
        );
        assert_eq!(
            durations(&out, "subs_1.m3u8"),
            video,
            "{format}: same EXTINF"
        );
        // Cue time 0 is the first picture's presentation time. TS: as ffprobe reads the segments
        // (with the muxer's 1.4 s offset). fMP4 keeps the input's presentation times (signed
        // composition offsets, which ffmpeg's mov demuxer shifts on reading): the input's.
        let pts = if format == "ts" {
            first_pts_90k(&out.join("video_0.m3u8"))
        } else {
            first_pts_90k(&inputs[0])
        };
        let segs: Vec<(Vec<f64>, u64)> = media_playlist(&out.join("subs_0.m3u8"))
            .segments
            .iter()
            .map(|s| vtt_cues(&std::fs::read_to_string(out.join(&s.uri)).expect("vtt")))
            .collect();
        for (_, mpegts) in &segs {
            assert!(
                mpegts.abs_diff(pts) <= 9,
                "{format}: MPEGTS {mpegts}, video starts at {pts}"
            );
        }
        let starts: Vec<Vec<f64>> = segs.into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            starts,
            vec![
                vec![0.5],
                vec![3.0],
                vec![3.0],
                vec![],
                vec![8.0],
                vec![8.0]
            ],
            "{format}: cues per 2 s segment"
        );
        for uri in ["subs_0.m3u8", "subs_1.m3u8"] {
            let o = run(Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(out.join(uri))
                .args(["-f", "webvtt", "-"]));
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "{format} {uri}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let want = if uri == "subs_0.m3u8" {
                "Across the boundary"
            } else {
                "Bonjour & bienvenue"
            };
            assert!(text.contains(want), "{format} {uri}: {text}");
        }
    }
}

/// A subtitle file that is not WebVTT/SRT, or with cues out of order or a malformed timestamp:
/// the file, line and reason; nothing in OUT.
#[test]
fn bad_subtitles_are_refused_with_file_and_line() {
    let v = rendition("640x360", "400k");
    let dir = work_dir().join("media");
    let cases = [
        ("bad_plain.vtt", "just text\n", "line 1: neither WebVTT"),
        (
            "bad_order.srt",
            "1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:01,000 --> 00:00:02,000\nb\n",
            "line 6: cue starts at 1000 ms, before the previous cue",
        ),
        (
            "bad_time.vtt",
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.5\nx\n",
            "line 3: malformed timestamp \"00:00:02.5\"",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        let out = out_dir("ladder-bad-subs");
        let o = run(Command::new(bin())
            .arg("package")
            .arg(&v)
            .arg("--subtitles")
            .arg(&path)
            .arg("-o")
            .arg(&out));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(want),
            "{name}: {stderr}"
        );
        assert!(!out.exists(), "{name}: nothing in OUT");
    }
}

/// hls.js and Shaka Player play the ladder (TS and fMP4) in Chromium: 2 audio and 2 text tracks
/// with the right languages, audio and subtitles switched while playing (cues show up as
/// TextTrack cues), and a variant of another height selected (tests/e2e/tracks.mjs).
#[test]
fn players_switch_audio_subtitles_and_variants() {
    let (vtt, srt) = subtitle_files();
    let inputs = ladder_inputs();
    let fr = format!("{},lang=fr", french().display());
    let en_subs = format!("{},lang=en,default", vtt.display());
    let fr_subs = format!("{},lang=fr", srt.display());
    let root = out_dir("ladder-players");
    std::fs::create_dir_all(&root).expect("root");
    for format in ["ts", "fmp4"] {
        let args = [
            "--format",
            format,
            "--segment-duration",
            "2",
            "--audio",
            &fr,
            "--subtitles",
            &en_subs,
            "--subtitles",
            &fr_subs,
        ];
        package_ladder(&inputs, &root.join(format), &args);
    }
    let server = serve(&root, &[]);
    let urls = ["ts", "fmp4"].map(|f| format!("{}/{f}/master.m3u8", server.base));
    let failures = ladder_tracks_failures(&urls);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An MP4 with a mov_text (tx3g) subtitle track: one input, and its text track becomes a
/// SUBTITLES rendition with the track's language; ffmpeg reads the cues back.
#[test]
fn mov_text_track_becomes_a_subtitle_rendition() {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let srt = dir.join("ladder_movtext.srt");
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:03,000\nPrimera\n\n2\n00:00:05,000 --> 00:00:08,000\nSegunda & última\n",
    )
    .expect("srt");
    let input = media(
        "ladder_movtext.mp4",
        "320x240",
        50,
        &[
            "-f",
            "srt",
            "-i",
            srt.to_str().expect("utf-8 path"),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "3:s",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-c:s",
            "mov_text",
            "-metadata:s:s:0",
            "language=spa",
        ],
    );
    let out = out_dir("ladder-movtext");
    package_ladder(
        &[input],
        &out,
        &["--format", "ts", "--segment-duration", "2"],
    );
    let m = master(&out);
    let subs: Vec<(Option<&str>, &str)> = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
        .map(|a| (a.language.as_deref(), a.name.as_str()))
        .collect();
    assert_eq!(subs, vec![(Some("es"), "Spanish")]);
    assert_eq!(
        durations(&out, "subs_0.m3u8"),
        durations(&out, "video_0.m3u8")
    );
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(out.join("subs_0.m3u8"))
        .args(["-f", "webvtt", "-"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("00:01.000 --> 00:03.000\nPrimera") && text.contains("Segunda & última"),
        "{text}"
    );
    assert_decodes(&out, "video_0.m3u8");
}
