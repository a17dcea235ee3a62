// SPDX-License-Identifier: MIT OR Apache-2.0
//! A ladder planned just in time against the renditions packaged the way the CLI's ladder
//! packages them (`package_rendition` over a `Select` of one track, cut at the first
//! variant's segment starts): every playlist and init segment held, every segment rendered
//! from its file's byte ranges, equal byte for byte. Inputs made by ffmpeg (skipped without
//! it, as in `jit_tests`).

use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;

use super::super::ladder::Select;
use super::super::ladder_text::{RenditionSpec, SubtitleInput};
use super::super::render::Joined;
use super::super::{package_rendition, Format, PackageOptions, Rendered};
use super::{plan_ladder, LadderInputs, LadderPlan};
use crate::demux::mp4::{MediaIndex, Mp4Demuxer, Mp4Options};
use crate::sample::{Demuxer, TrackKind};
use crate::store::MemStore;

/// A 6 s MP4 made by ffmpeg: testsrc at `size` (keyframe every second) and 440 Hz AAC, or
/// (`size` empty) 660 Hz AAC alone.
fn input(name: &str, size: &str) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("hlsorigin-jit-ladder-tests");
    std::fs::create_dir_all(&dir).ok()?;
    // One file per call: tests run in parallel, and two of them make the same inputs.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{name}-{}-{call}.mp4", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-y", "-v", "error"]);
    if size.is_empty() {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=660:duration=6"]);
    } else {
        cmd.args(["-f", "lavfi", "-i"])
            .arg(format!("testsrc=size={size}:rate=25:duration=6"))
            .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=6"])
            .args(["-c:v", "libx264", "-g", "25", "-keyint_min", "25"])
            .args(["-sc_threshold", "0", "-pix_fmt", "yuv420p"]);
    }
    cmd.args(["-c:a", "aac", "-b:a", "64k"]).arg(&path);
    let out = cmd.output().ok()?;
    out.status.success().then_some(path)
}

fn open(path: &PathBuf) -> crate::Result<Mp4Demuxer<File>> {
    let f = File::open(path).map_err(|e| crate::Error::io("open", e))?;
    let len = f.metadata().map_err(|e| crate::Error::io("stat", e))?.len();
    Mp4Demuxer::open(f, len, Mp4Options::default())
}

/// Packages track `kind` of `path` as rendition `name`, as the CLI's ladder does.
fn package_track(
    path: &PathBuf,
    kind: TrackKind,
    name: &str,
    opts: &PackageOptions,
    cuts: &[f64],
    store: &mut MemStore,
) -> Rendered {
    let mut demux = open(path).unwrap();
    let track = demux
        .tracks()
        .iter()
        .position(|t| t.kind() == kind)
        .unwrap();
    let mut sel = Select::new(&mut demux, &[track]);
    let o = PackageOptions {
        rendition: name.into(),
        ..opts.clone()
    };
    let mut joined = Joined {
        store,
        name: None,
        buf: Vec::new(),
    };
    package_rendition(&mut sel, &o, cuts, &mut joined, &mut |_| {}).unwrap()
}

/// Object `name` of the plan: held, or rendered from the bytes of `paths`.
fn jit_object(
    plan: &LadderPlan,
    indexes: &[Option<MediaIndex>],
    paths: &[PathBuf],
    name: &str,
) -> Option<Vec<u8>> {
    if let Some(b) = plan.object(name) {
        return Some(b.to_vec());
    }
    if let Some((r, len)) = plan.iframe_file(name) {
        // AES-128: the I-frame file, from each segment's entries.
        let p = plan.rendition(r)?;
        let file = plan.file(r)?;
        let bytes = std::fs::read(&paths[file]).unwrap();
        let index = indexes[file].as_ref()?;
        let mut out = Vec::new();
        for seg in p.iframe_segments(0..len) {
            let read = read_spans(&bytes, plan.spans(index, r, seg));
            let (at, entries) = p.render_iframes_read(index, seg, &read).unwrap();
            assert_eq!(at, out.len() as u64, "{name}");
            out.extend(entries);
        }
        return Some(out);
    }
    let (r, seg) = plan.segment(name)?;
    let file = plan.file(r)?;
    let bytes = std::fs::read(&paths[file]).unwrap();
    let index = indexes[file].as_ref()?;
    let read = read_spans(&bytes, plan.spans(index, r, seg));
    Some(plan.render(index, r, seg, &read).unwrap())
}

/// The bytes of `spans` of a file's `bytes`.
fn read_spans(
    bytes: &[u8],
    spans: Vec<crate::package::jit::Span>,
) -> Vec<(crate::package::jit::Span, Bytes)> {
    spans
        .into_iter()
        .map(|s| {
            let (a, b) = (s.offset as usize, (s.offset + s.len) as usize);
            (s, Bytes::copy_from_slice(&bytes[a..b]))
        })
        .collect()
}

#[test]
fn ladder_plan_equals_packaged_renditions() {
    let (Some(v0), Some(v1), Some(fr)) = (
        input("v0", "160x120"),
        input("v1", "320x240"),
        input("fr", ""),
    ) else {
        return;
    };
    let paths = vec![v0, v1, fr];
    let files: Vec<(String, u64)> = paths
        .iter()
        .map(|p| (p.display().to_string(), std::fs::metadata(p).unwrap().len()))
        .collect();
    use crate::crypto::{Encryption, Method};
    let enc = |method, rotation| {
        Some(Encryption {
            method,
            key: [9; 16],
            rotation,
            key_uri: None,
        })
    };
    // Clear, and encrypted as the ladder's renditions are (the same keys in every rendition).
    for (format, encryption) in [
        (Format::Fmp4, None),
        (Format::Ts, None),
        (Format::Fmp4, enc(Method::Cbcs, Some(1))),
        (Format::Ts, enc(Method::SampleAes, None)),
        (Format::Ts, enc(Method::Aes128, Some(1))),
        (Format::Fmp4, enc(Method::Aes128, None)),
    ] {
        let encrypted = encryption.is_some();
        let opts = PackageOptions {
            format,
            segment_duration: 2.0,
            run_id: "t".into(),
            encryption,
            ..Default::default()
        };
        let vtt = "WEBVTT\n\n00:00:00.500 --> 00:00:02.500\nHello\n";
        let french = RenditionSpec {
            lang: Some("fr".into()),
            ..RenditionSpec::default()
        };
        let inputs = LadderInputs {
            files: &files,
            videos: &[0, 1],
            audio: &[(2, french)],
            subtitles: vec![SubtitleInput {
                subs: crate::subtitle::parse(vtt).unwrap(),
                spec: RenditionSpec::default(),
            }],
        };
        let (indexes, plan) = plan_ladder(inputs, &opts, &mut |n| open(&paths[n])).unwrap();

        let mut want = MemStore::default();
        let r0 = package_track(
            &paths[0],
            TrackKind::Video,
            "video_0",
            &opts,
            &[],
            &mut want,
        );
        let cuts = r0.segment_starts.clone();
        package_track(
            &paths[1],
            TrackKind::Video,
            "video_1",
            &opts,
            &cuts,
            &mut want,
        );
        // The inputs' English audio is the same in both: one rendition, from the smaller file.
        package_track(
            &paths[0],
            TrackKind::Audio,
            "audio_0",
            &opts,
            &cuts,
            &mut want,
        );
        package_track(
            &paths[2],
            TrackKind::Audio,
            "audio_1",
            &opts,
            &cuts,
            &mut want,
        );
        let mut names = plan.names();
        names.sort();
        assert!(!names.iter().any(|n| n.starts_with("audio_2")), "{names:?}");
        assert!(names.iter().any(|n| n.ends_with(".vtt")), "{names:?}");
        for (name, data) in &want.objects {
            let got = jit_object(&plan, &indexes, &paths, name);
            assert!(got.as_ref() == Some(data), "{format:?}: {name} differs");
        }
        let master = String::from_utf8(plan.object("master.m3u8").unwrap().to_vec()).unwrap();
        for tag in [
            "LANGUAGE=\"fr\"",
            "TYPE=SUBTITLES",
            "video_1.m3u8",
            "audio_0.m3u8",
        ] {
            assert!(master.contains(tag), "{format:?}: {tag} in\n{master}");
        }
        assert_eq!(
            master.contains("#EXT-X-SESSION-KEY:METHOD="),
            encrypted,
            "{format:?}: {master}"
        );
    }
}

/// A video file without video, or an audio file without audio, is refused naming it.
#[test]
fn ladder_refusals_name_the_file() {
    let (Some(v0), Some(fr)) = (input("v0", "160x120"), input("fr", "")) else {
        return;
    };
    let paths = [v0, fr];
    let files: Vec<(String, u64)> = vec![("v0.mp4".into(), 1), ("fr.mp4".into(), 1)];
    let opts = PackageOptions::default();
    // (videos, audio files, the refusal)
    let cases: &[(&[usize], &[usize], &str)] = &[
        (&[0, 1], &[], "fr.mp4: no video track"),
        (&[], &[1], "a ladder needs at least one video file"),
    ];
    for (videos, audio, want) in cases {
        let audio: Vec<(usize, RenditionSpec)> = audio
            .iter()
            .map(|&a| (a, RenditionSpec::default()))
            .collect();
        let inputs = LadderInputs {
            files: &files,
            videos,
            audio: &audio,
            subtitles: Vec::new(),
        };
        let err = plan_ladder(inputs, &opts, &mut |n| open(&paths[n])).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
}
