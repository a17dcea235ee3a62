// SPDX-License-Identifier: MIT OR Apache-2.0
//! Real files made by ffmpeg into /tmp/mp4demux, compared sample by sample with ffprobe.
//! Each test returns early (skips) when ffmpeg/ffprobe are not installed.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

use super::super::{Mp4Demuxer, Mp4Options};
use crate::error::Error;
use crate::sample::{CodecConfig, Demuxer, Sample, TrackInfo, TrackKind};

const DIR: &str = "/tmp/mp4demux";

fn have_tools() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|t| {
        Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn has_encoder(name: &str) -> bool {
    static LIST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        Command::new("ffmpeg")
            .args(["-hide_banner", "-encoders"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    })
    .split_whitespace()
    .any(|w| w == name)
}

const VIDEO: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=160x120:rate=25:duration=2",
];
const AUDIO: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000:duration=2",
];

/// Makes (or reuses) `/tmp/mp4demux/<name>` with `ffmpeg <inputs> <args>`; `None` when the
/// tools are missing.
fn fixture(name: &str, inputs: &[&[&str]], args: &[&str]) -> Option<PathBuf> {
    if !have_tools() {
        return None;
    }
    // Skip when an encoder asked for is not built into this ffmpeg.
    let encoders = args
        .windows(2)
        .filter(|w| w[0].starts_with("-c:"))
        .map(|w| w[1]);
    if encoders.clone().any(|e| e != "copy" && !has_encoder(e)) {
        return None;
    }
    std::fs::create_dir_all(DIR).ok()?;
    let path = PathBuf::from(DIR).join(name);
    if path.exists() {
        return Some(path);
    }
    let tmp = PathBuf::from(DIR).join(format!(
        "{}.{}.{:?}.tmp",
        name,
        std::process::id(),
        std::thread::current().id()
    ));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]);
    for i in inputs {
        cmd.args(*i);
    }
    cmd.args(args);
    // The extension of `name` picks the muxer.
    let ext = name.rsplit('.').next().unwrap_or("mp4");
    cmd.args(["-f", if ext == "mov" { "mov" } else { "mp4" }]);
    cmd.arg(&tmp);
    let out = cmd.output().ok()?;
    assert!(
        out.status.success(),
        "ffmpeg failed for {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &path).ok()?;
    Some(path)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkt {
    dts: i64,
    pts: i64,
    duration: u32,
    key: bool,
    size: usize,
}

/// ffprobe's packets per stream index (edit lists applied, as ffmpeg's mov demuxer does).
fn probe(path: &PathBuf) -> BTreeMap<usize, Vec<Pkt>> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts,dts,duration,size,flags",
            "-of",
            "compact=p=0",
        ])
        .arg(path)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut map: BTreeMap<usize, Vec<Pkt>> = BTreeMap::new();
    for line in out.lines() {
        let kv: BTreeMap<&str, &str> = line.split('|').filter_map(|f| f.split_once('=')).collect();
        if !kv.contains_key("stream_index") {
            continue;
        }
        let num = |k: &str| {
            kv.get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(i64::MIN)
        };
        let p = Pkt {
            dts: num("dts"),
            pts: num("pts"),
            duration: u32::try_from(num("duration")).unwrap_or(u32::MAX),
            key: kv.get("flags").is_some_and(|f| f.starts_with('K')),
            size: usize::try_from(num("size")).unwrap_or(usize::MAX),
        };
        map.entry(usize::try_from(num("stream_index")).unwrap_or(usize::MAX))
            .or_default()
            .push(p);
    }
    map
}

/// ffprobe's `duration_ts` of each stream.
fn probe_stream_durations(path: &PathBuf) -> Vec<u64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=duration_ts",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

fn open(path: &PathBuf, opts: Mp4Options) -> crate::Result<Mp4Demuxer<File>> {
    let f = File::open(path).map_err(|e| Error::io("open", e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", e))?.len();
    Mp4Demuxer::open(f, len, opts)
}

fn drain<D: Demuxer>(d: &mut D) -> crate::Result<Vec<Sample>> {
    let mut v = Vec::new();
    while let Some(s) = d.next_sample()? {
        v.push(s);
    }
    Ok(v)
}

/// Demuxes `path` and checks every track against ffprobe: sample count, dts, pts, duration,
/// keyframe flag and size; decode-time order across tracks; the sum of durations equal to the
/// track duration; with `edited` (the file has an edit list), the first video keyframe at pts 0.
/// Returns the track list.
fn check_edited(path: &PathBuf, edited: bool) -> Vec<TrackInfo> {
    let mut d = open(path, Mp4Options::default()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let tracks = d.tracks().to_vec();
    let samples = drain(&mut d).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    // Merged in decode-time order.
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (ta, tb) = (&tracks[a.track], &tracks[b.track]);
        assert!(
            i128::from(a.dts) * i128::from(tb.timescale)
                <= i128::from(b.dts) * i128::from(ta.timescale),
            "{path:?}: out of order {a:?} then {b:?}"
        );
    }
    let probed = probe(path);
    assert_eq!(probed.len(), tracks.len(), "{path:?}: stream count");
    for (i, t) in tracks.iter().enumerate() {
        let mine: Vec<Pkt> = samples
            .iter()
            .filter(|s| s.track == i)
            .map(|s| Pkt {
                dts: s.dts,
                pts: s.pts(),
                duration: s.duration,
                key: s.keyframe,
                size: s.data.len(),
            })
            .collect();
        let theirs = probed.get(&i).cloned().unwrap_or_default();
        assert_eq!(mine.len(), theirs.len(), "{path:?} track {i}: sample count");
        for (n, (m, p)) in mine.iter().zip(&theirs).enumerate() {
            let mut p = p.clone();
            // ffprobe prints duration=N/A for ffmpeg's fragmented priming sample, and for the
            // last sample of a fragmented track it substitutes its own guess for the trun's
            // value; the stream duration is checked below instead.
            if p.duration == u32::MAX || n + 1 == theirs.len() {
                p.duration = m.duration;
            }
            assert_eq!(m, &p, "{path:?} track {i} sample {n}");
        }
        let total: u64 = mine.iter().map(|p| u64::from(p.duration)).sum();
        assert_eq!(t.duration, Some(total), "{path:?} track {i}: duration");
        if !edited {
            // (With an edit list ffprobe reports the edited duration instead.)
            assert_eq!(
                probe_stream_durations(path).get(i).copied(),
                Some(total),
                "{path:?} track {i}: ffprobe stream duration"
            );
        }
        if t.kind() == TrackKind::Video {
            let first_key = mine.iter().find(|p| p.key).map(|p| p.pts);
            if edited {
                assert_eq!(first_key, Some(0), "{path:?} track {i}: first keyframe pts");
            }
            assert!(t.width > 0 && t.height > 0);
        } else {
            assert!(mine.iter().all(|p| p.key));
            assert!(t.sample_rate > 0 && t.channels > 0, "{t:?}");
        }
    }
    tracks
}

fn check(path: &PathBuf) -> Vec<TrackInfo> {
    check_edited(path, true)
}

/// ffmpeg writes no edit list in empty_moov fragmented files.
fn check_fragmented(path: &PathBuf) -> Vec<TrackInfo> {
    check_edited(path, false)
}

fn av(name: &str, args: &[&str]) -> Option<PathBuf> {
    fixture(name, &[VIDEO, AUDIO], args)
}

const H264_AAC: &[&str] = &["-c:v", "libx264", "-bf", "2", "-g", "25", "-c:a", "aac"];

fn with(base: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(extra).copied().collect()
}

fn assert_h264_aac(tracks: &[TrackInfo]) {
    assert_eq!(tracks.len(), 2);
    match &tracks[0].config {
        CodecConfig::Avc { sps, pps, in_band } => {
            assert_eq!((sps.len(), pps.len(), *in_band), (1, 1, false));
            assert_eq!(sps[0].first().map(|b| b & 0x1F), Some(7));
        }
        c => panic!("{c:?}"),
    }
    assert_eq!((tracks[0].width, tracks[0].height), (160, 120));
    assert_eq!(tracks[0].id, 1);
    match &tracks[1].config {
        // AAC LC, 48 kHz (index 3), mono: 0x11 0x88.
        CodecConfig::Aac { asc } => assert_eq!(&asc[..2], &[0x11, 0x88]),
        c => panic!("{c:?}"),
    }
    assert_eq!((tracks[1].sample_rate, tracks[1].channels), (48_000, 1));
    assert_eq!(tracks[1].timescale, 48_000);
}

#[test]
fn h264_aac_moov_first() {
    let Some(p) = av(
        "h264_aac_faststart.mp4",
        &with(H264_AAC, &["-movflags", "+faststart"]),
    ) else {
        return;
    };
    assert_h264_aac(&check(&p));
}

#[test]
fn h264_aac_moov_last() {
    let Some(p) = av("h264_aac_moovlast.mp4", H264_AAC) else {
        return;
    };
    assert_h264_aac(&check(&p));
}

#[test]
fn h264_aac_quicktime_mov() {
    let Some(p) = av("h264_aac.mov", H264_AAC) else {
        return;
    };
    assert_h264_aac(&check(&p));
}

#[test]
fn fragmented_cmaf() {
    let args = with(
        H264_AAC,
        &["-movflags", "frag_keyframe+empty_moov+default_base_moof"],
    );
    let Some(p) = av("frag_cmaf.mp4", &args) else {
        return;
    };
    assert_h264_aac(&check_fragmented(&p));
}

#[test]
fn fragmented_explicit_base_offsets() {
    let Some(p) = av(
        "frag_plain.mp4",
        &with(H264_AAC, &["-movflags", "frag_keyframe+empty_moov"]),
    ) else {
        return;
    };
    assert_h264_aac(&check_fragmented(&p));
}

#[test]
fn fragmented_with_samples_in_moov() {
    // Without empty_moov the first fragment's samples sit in moov's tables.
    let Some(p) = av(
        "frag_moovsamples.mp4",
        &with(H264_AAC, &["-movflags", "frag_keyframe"]),
    ) else {
        return;
    };
    assert_h264_aac(&check_fragmented(&p));
}

#[test]
fn hevc_hvc1() {
    if !have_tools() || !has_encoder("libx265") {
        return;
    }
    let Some(p) = fixture(
        "hevc.mp4",
        &[VIDEO],
        &[
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=none:bframes=2",
            "-tag:v",
            "hvc1",
        ],
    ) else {
        return;
    };
    let t = check(&p);
    match &t[0].config {
        CodecConfig::Hevc {
            vps,
            sps,
            pps,
            in_band,
        } => assert_eq!(
            (vps.len(), sps.len(), pps.len(), *in_band),
            (1, 1, 1, false)
        ),
        c => panic!("{c:?}"),
    }
}

#[test]
fn aac_only() {
    let Some(p) = fixture("aac_only.mp4", &[AUDIO], &["-c:a", "aac"]) else {
        return;
    };
    let t = check(&p);
    assert_eq!(t.len(), 1);
    assert!(matches!(t[0].config, CodecConfig::Aac { .. }));
}

#[test]
fn av1() {
    if !have_tools() {
        return;
    }
    let enc: &[&str] = if has_encoder("libsvtav1") {
        &["-c:v", "libsvtav1", "-preset", "12"]
    } else if has_encoder("libaom-av1") {
        &["-c:v", "libaom-av1", "-cpu-used", "8"]
    } else {
        return;
    };
    let Some(p) = fixture("av1.mp4", &[VIDEO], enc) else {
        return;
    };
    let t = check(&p);
    match &t[0].config {
        // av1C: marker/version byte 0x81 (AV1-ISOBMFF §2.3.3).
        CodecConfig::Av1 { av1c } => assert_eq!(av1c.first(), Some(&0x81)),
        c => panic!("{c:?}"),
    }
}

#[test]
fn vp9() {
    if !have_tools() || !has_encoder("libvpx-vp9") {
        return;
    }
    let Some(p) = fixture(
        "vp9.mp4",
        &[VIDEO],
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ],
    ) else {
        return;
    };
    let t = check(&p);
    match &t[0].config {
        // vpcC version 1, flags 0, then profile 0.
        CodecConfig::Vp9 { vpcc } => assert_eq!(&vpcc[..5], &[1, 0, 0, 0, 0]),
        c => panic!("{c:?}"),
    }
}

fn audio_codec(name: &str, args: &[&str]) -> Option<(Vec<TrackInfo>, PathBuf)> {
    let p = fixture(name, &[AUDIO], args)?;
    Some((check(&p), p))
}

#[test]
fn opus() {
    let Some((t, _)) = audio_codec("opus.mp4", &["-c:a", "libopus"]) else {
        return;
    };
    match &t[0].config {
        // dOps: Version 0, OutputChannelCount 1.
        CodecConfig::Opus { dops } => assert_eq!(&dops[..2], &[0, 1]),
        c => panic!("{c:?}"),
    }
}

#[test]
fn ac3() {
    let Some((t, _)) = audio_codec("ac3.mp4", &["-c:a", "ac3"]) else {
        return;
    };
    match &t[0].config {
        CodecConfig::Ac3 { dac3 } => assert_eq!(dac3.len(), 3),
        c => panic!("{c:?}"),
    }
}

#[test]
fn eac3() {
    let Some((t, _)) = audio_codec("eac3.mp4", &["-c:a", "eac3"]) else {
        return;
    };
    match &t[0].config {
        CodecConfig::Eac3 { dec3 } => assert!(dec3.len() >= 5, "{dec3:?}"),
        c => panic!("{c:?}"),
    }
}

#[test]
fn mp3() {
    if !have_tools() || !has_encoder("libmp3lame") {
        return;
    }
    let Some((t, _)) = audio_codec("mp3.mp4", &["-c:a", "libmp3lame"]) else {
        return;
    };
    assert_eq!(t[0].config, CodecConfig::Mp3);
}

#[test]
fn mpeg4_part2_video_is_read_and_mpeg2_in_mp4v_is_not() {
    let Some(p) = fixture("mpeg4.mp4", &[VIDEO], &["-c:v", "mpeg4"]) else {
        return;
    };
    let d = open(&p, Mp4Options::default()).expect("mp4v object type 0x20");
    let t = &d.tracks()[0];
    let CodecConfig::Mpeg4Visual { dsi } = &t.config else {
        panic!("{:?}", t.config);
    };
    // ffmpeg's encoder: a VisualObjectSequence header first (ISO/IEC 14496-2 6.2.2).
    assert_eq!(dsi.get(..4), Some(&[0, 0, 1, 0xB0][..]), "{dsi:02x?}");
    assert!(t.width > 0 && t.height > 0);
    let Some(p) = fixture("mpeg2.mp4", &[VIDEO], &["-c:v", "mpeg2video"]) else {
        return;
    };
    match open(&p, Mp4Options::default()) {
        Err(Error::UnsupportedCodec { track: 1, codec }) => {
            assert_eq!(codec, "mp4v (object type 0x61)");
        }
        r => panic!("{r:?}"),
    }
}

/// Copies the first `len` bytes of `src` to `/tmp/mp4demux/<name>`.
fn truncated_copy(src: &PathBuf, name: &str, len: usize) -> Option<PathBuf> {
    let bytes = std::fs::read(src).ok()?;
    let dst = PathBuf::from(DIR).join(format!("{name}.{:?}", std::thread::current().id()));
    std::fs::write(&dst, bytes.get(..len)?).ok()?;
    Some(dst)
}

#[test]
fn truncated_mid_mdat() {
    let Some(p) = av(
        "h264_aac_faststart.mp4",
        &with(H264_AAC, &["-movflags", "+faststart"]),
    ) else {
        return;
    };
    let full = std::fs::metadata(&p).map(|m| m.len() as usize).unwrap_or(0);
    let Some(cut) = truncated_copy(&p, "cut_mdat", full * 2 / 3) else {
        return;
    };
    match open(&cut, Mp4Options::default()) {
        Err(Error::SampleOutOfRange {
            offset,
            size,
            file_len,
            ..
        }) => {
            assert!(offset + u64::from(size) > file_len)
        }
        r => panic!("{r:?}"),
    }
    let mut d = open(
        &cut,
        Mp4Options {
            allow_truncated: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = drain(&mut d).unwrap_or_else(|e| panic!("{e}"));
    let all = probe(&p).values().map(Vec::len).sum::<usize>();
    assert!(!got.is_empty() && got.len() < all, "{} of {all}", got.len());
    let _ = std::fs::remove_file(cut);
}

#[test]
fn truncated_before_moov() {
    let Some(p) = av("h264_aac_moovlast.mp4", H264_AAC) else {
        return;
    };
    let full = std::fs::metadata(&p).map(|m| m.len() as usize).unwrap_or(0);
    let Some(cut) = truncated_copy(&p, "cut_nomoov", full / 2) else {
        return;
    };
    assert!(matches!(
        open(&cut, Mp4Options::default()),
        Err(Error::NoMoov)
    ));
    assert!(matches!(
        open(
            &cut,
            Mp4Options {
                allow_truncated: true
            }
        ),
        Err(Error::NoMoov)
    ));
    let _ = std::fs::remove_file(cut);
}

#[test]
fn truncated_fragmented() {
    let Some(p) = av(
        "frag_cmaf.mp4",
        &with(
            H264_AAC,
            &["-movflags", "frag_keyframe+empty_moov+default_base_moof"],
        ),
    ) else {
        return;
    };
    let full = std::fs::metadata(&p).map(|m| m.len() as usize).unwrap_or(0);
    // Every cut point in the second half: an error or a clean shorter stream, never a panic.
    let bytes = std::fs::read(&p).unwrap_or_default();
    for len in (full / 2..full).step_by(997) {
        let Some(b) = bytes.get(..len) else { continue };
        let cur = std::io::Cursor::new(b.to_vec());
        let r = Mp4Demuxer::open(
            cur,
            len as u64,
            Mp4Options {
                allow_truncated: true,
            },
        );
        let mut d = r.unwrap_or_else(|e| panic!("cut at {len}: {e}"));
        let n = drain(&mut d)
            .unwrap_or_else(|e| panic!("cut at {len}: {e}"))
            .len();
        assert!(n > 0, "cut at {len}");
    }
}

/// Every prefix of a small real file: an error or samples, never a panic.
#[test]
fn every_prefix_no_panic() {
    let Some(p) = fixture(
        "tiny.mp4",
        &[&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x64:rate=10:duration=0.3",
        ]],
        &["-c:v", "libx264", "-movflags", "+faststart"],
    ) else {
        return;
    };
    let bytes = std::fs::read(&p).unwrap_or_default();
    for opts in [
        Mp4Options::default(),
        Mp4Options {
            allow_truncated: true,
        },
    ] {
        for len in 0..bytes.len() {
            let b = bytes.get(..len).unwrap_or_default().to_vec();
            if let Ok(mut d) = Mp4Demuxer::open(std::io::Cursor::new(b), len as u64, opts) {
                let _ = drain(&mut d);
            }
        }
    }
}

/// Random byte corruptions inside the index boxes (moov, moof) of real files of every codec:
/// errors or samples, never a panic.
#[test]
fn corrupted_real_indexes_do_not_panic() {
    let mut files = vec![
        av("h264_aac.mov", H264_AAC),
        av(
            "frag_cmaf.mp4",
            &with(
                H264_AAC,
                &["-movflags", "frag_keyframe+empty_moov+default_base_moof"],
            ),
        ),
        fixture("opus.mp4", &[AUDIO], &["-c:a", "libopus"]),
        fixture("ac3.mp4", &[AUDIO], &["-c:a", "ac3"]),
        fixture("eac3.mp4", &[AUDIO], &["-c:a", "eac3"]),
    ];
    if have_tools() && has_encoder("libx265") {
        files.push(fixture(
            "hevc.mp4",
            &[VIDEO],
            &[
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=none:bframes=2",
                "-tag:v",
                "hvc1",
            ],
        ));
    }
    if have_tools() && has_encoder("libvpx-vp9") {
        files.push(fixture(
            "vp9.mp4",
            &[VIDEO],
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
        ));
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for path in files.into_iter().flatten() {
        let bytes = std::fs::read(&path).unwrap_or_default();
        // Byte ranges of the top-level moov and moof boxes.
        let mut ranges = Vec::new();
        let mut pos = 0usize;
        while let Some(h) = bytes.get(pos..pos + 8) {
            let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if size < 8 {
                break;
            }
            if &h[4..8] == b"moov" || &h[4..8] == b"moof" {
                ranges.push(pos..pos + size);
            }
            pos += size;
        }
        assert!(!ranges.is_empty(), "{path:?}");
        for i in 0..400 {
            let mut g = bytes.clone();
            let r = &ranges[i % ranges.len()];
            for _ in 0..1 + rand() % 3 {
                let at = r.start + (rand() as usize) % r.len();
                if let Some(b) = g.get_mut(at) {
                    *b = match rand() % 3 {
                        0 => 0,
                        1 => 0xFF,
                        _ => rand() as u8,
                    };
                }
            }
            let len = g.len() as u64;
            if let Ok(mut d) = Mp4Demuxer::open(std::io::Cursor::new(g), len, Mp4Options::default())
            {
                let _ = drain(&mut d);
            }
        }
    }
}
