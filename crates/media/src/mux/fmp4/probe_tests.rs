// SPDX-License-Identifier: MIT OR Apache-2.0
//! End-to-end checks against FFmpeg: real encoder output goes through the segmenter and this
//! muxer, and the concatenated init + segments must decode without a message and keep every
//! packet's timestamps and keyframe flags. Skipped when ffmpeg/ffprobe are not installed.
//!
//! Inputs are MP4 files FFmpeg writes; samples are read from them with ffprobe's packet table
//! (pos/size/pts/dts/flags) and the codec configuration from the moov via `mp4-atom`, so these
//! tests do not depend on the crate's own demuxer.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use mp4_atom::{Atom, Codec, Decode, Header, Moov};

use super::Fmp4Muxer;
use crate::mux::SegmentMuxer;
use crate::sample::{CodecConfig, Sample, TrackInfo};
use crate::segmenter::{Segment, Segmenter};

fn have_ffmpeg() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|tool| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("fmp4mux-tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(tool: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(tool).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{tool} {args:?} failed: {stderr}");
    (stdout, stderr)
}

/// Encodes `secs` seconds of test pattern and/or tone into `dir/src.mp4`.
fn make_source(dir: &Path, secs: &str, video: &[&str], audio: &[&str]) -> PathBuf {
    let path = dir.join("src.mp4");
    let mut args: Vec<&str> = vec!["-v", "error", "-y"];
    if !video.is_empty() {
        args.extend(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25"]);
    }
    if !audio.is_empty() {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    args.extend(["-t", secs, "-pix_fmt", "yuv420p"]);
    args.extend(video);
    args.extend(audio);
    let p = path.to_str().unwrap();
    args.push(p);
    run("ffmpeg", &args);
    path
}

#[derive(Debug, Clone, PartialEq)]
struct Packet {
    stream: usize,
    pts: i64,
    dts: i64,
    duration: i64,
    key: bool,
    pos: Option<usize>,
    size: usize,
}

fn packets(path: &Path) -> Vec<Packet> {
    let (out, _) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts,dts,duration,size,pos,flags",
            "-of",
            "compact=p=0",
            path.to_str().unwrap(),
        ],
    );
    // Lines look like `stream_index=0|pts=0|dts=-1024|…|flags=K_`; side data comes on lines
    // of its own and is skipped.
    out.lines()
        .filter(|l| l.starts_with("stream_index="))
        .map(|l| {
            let field = |key: &str| {
                l.split('|')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or_else(|| panic!("{l}: no {key}"))
            };
            let num = |key: &str| field(key).parse::<i64>().ok();
            Packet {
                stream: num("stream_index").unwrap() as usize,
                pts: num("pts").unwrap(),
                dts: num("dts").unwrap(),
                duration: num("duration").unwrap_or(0),
                size: num("size").unwrap() as usize,
                pos: num("pos").map(|p| p as usize),
                key: field("flags").contains('K'),
            }
        })
        .collect()
}

/// Body of an `mp4-atom` box as the payload our `CodecConfig` stores.
fn body<A: Atom>(a: &A) -> Bytes {
    let mut v = Vec::new();
    a.encode_body(&mut v).unwrap();
    Bytes::from(v)
}

fn track_info(id: u32, trak: &mp4_atom::Trak) -> TrackInfo {
    let codec = &trak.mdia.minf.stbl.stsd.codecs[0];
    let ps = |h: &mp4_atom::Hvcc, t: u8| -> Vec<Bytes> {
        h.arrays
            .iter()
            .filter(|a| a.nal_unit_type == t)
            .flat_map(|a| a.nalus.iter().map(|n| Bytes::from(n.clone())))
            .collect()
    };
    let list = |v: &[Vec<u8>]| v.iter().map(|n| Bytes::from(n.clone())).collect();
    let config = match codec {
        Codec::Avc1(a) => CodecConfig::Avc {
            sps: list(&a.avcc.sequence_parameter_sets),
            pps: list(&a.avcc.picture_parameter_sets),
            in_band: false,
        },
        Codec::Hvc1(h) => CodecConfig::Hevc {
            vps: ps(&h.hvcc, 32),
            sps: ps(&h.hvcc, 33),
            pps: ps(&h.hvcc, 34),
            in_band: false,
        },
        Codec::Av01(a) => CodecConfig::Av1 {
            av1c: body(&a.av1c),
        },
        Codec::Vp09(v) => CodecConfig::Vp9 {
            vpcc: body(&v.vpcc),
        },
        Codec::Mp4a(m) => match m.esds.es_desc.dec_config.object_type_indication {
            0x40 => CodecConfig::Aac {
                asc: Bytes::from(m.esds.es_desc.dec_config.dec_specific.clone().unwrap().raw),
            },
            _ => CodecConfig::Mp3,
        },
        Codec::Ac3(a) => CodecConfig::Ac3 {
            dac3: body(&a.dac3),
        },
        Codec::Eac3(e) => CodecConfig::Eac3 {
            dec3: body(&e.dec3),
        },
        Codec::Opus(o) => CodecConfig::Opus {
            dops: body(&o.dops),
        },
        other => panic!("codec not covered by these tests: {other:?}"),
    };
    let (width, height) = codec
        .visual()
        .map_or((0, 0), |v| (u32::from(v.width), u32::from(v.height)));
    let (sample_rate, channels) = codec.audio().map_or((0, 0), |a| {
        (u32::from(a.sample_rate.integer()), a.channel_count)
    });
    TrackInfo {
        id,
        config,
        timescale: trak.mdia.mdhd.timescale,
        width,
        height,
        sample_rate,
        channels,
        language: None,
        duration: None,
    }
}

fn load(path: &Path) -> (Vec<TrackInfo>, Vec<Sample>) {
    let file = std::fs::read(path).unwrap();
    let mut buf = &file[..];
    let moov = loop {
        let mut peek = buf;
        let header = Header::decode(&mut peek).unwrap();
        let size = header.size.unwrap_or(peek.len()) + (buf.len() - peek.len());
        if header.kind == Moov::KIND {
            break Moov::decode(&mut buf).unwrap();
        }
        buf = &buf[size..];
    };
    let tracks: Vec<TrackInfo> = moov
        .trak
        .iter()
        .map(|t| track_info(t.tkhd.track_id, t))
        .collect();
    let samples = packets(path)
        .into_iter()
        .map(|p| {
            let pos = p.pos.expect("packet position");
            Sample {
                track: p.stream,
                dts: p.dts,
                cts_offset: i32::try_from(p.pts - p.dts).unwrap(),
                duration: u32::try_from(p.duration).unwrap(),
                keyframe: p.key,
                data: Bytes::copy_from_slice(&file[pos..pos + p.size]),
            }
        })
        .collect();
    (tracks, samples)
}

/// Source → segmenter → muxer → `out.mp4` (init + segments), then checks it with FFmpeg.
/// `expect` lists per track (codec_name, width, height) as ffprobe names them.
fn round_trip(name: &str, src: &Path, expect: &[(&str, u32, u32)]) {
    let dir = src.parent().unwrap();
    let (tracks, samples) = load(src);
    let mut segmenter = Segmenter::new(&tracks, 1.0);
    let mut segments: Vec<Segment> = samples
        .into_iter()
        .filter_map(|s| segmenter.push(s))
        .collect();
    segments.extend(segmenter.finish());
    assert!(segments.len() >= 2, "{name}: {} segments", segments.len());

    let mut mux = Fmp4Muxer::new(tracks.clone()).unwrap();
    let mut out = mux.init_segment().unwrap().unwrap().to_vec();
    for seg in &segments {
        mux.write_segment(seg, &mut out).unwrap();
    }
    let out_path = dir.join("out.mp4");
    std::fs::write(&out_path, &out).unwrap();
    let out_str = out_path.to_str().unwrap();

    let (_, errors) = run(
        "ffmpeg",
        &["-v", "warning", "-i", out_str, "-f", "null", "-"],
    );
    assert_eq!(errors, "", "{name}: ffmpeg reports decoding problems");

    let (streams, _) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0:nk=1",
            out_str,
        ],
    );
    let streams: Vec<&str> = streams.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(streams.len(), expect.len(), "{name}: {streams:?}");
    for (line, (codec, w, h)) in streams.iter().zip(expect) {
        let want = if *w > 0 {
            format!("{codec},{w},{h}")
        } else {
            codec.to_string()
        };
        assert_eq!(line.trim_end_matches(','), want, "{name}: stream");
    }

    // Every sample that went into a segment comes back with its pts and keyframe flag.
    // FFmpeg's mov demuxer does not report signed composition offsets as is: it adds
    // `dts_shift` = the largest negated offset of the track to every pts (mov.c), so the
    // expected pts are the input's plus that constant.
    let got = packets(&out_path);
    for (t, track) in tracks.iter().enumerate() {
        let written: Vec<&Sample> = segments.iter().flat_map(|s| s.track_samples(t)).collect();
        let shift = written.first().map_or(0, |s| (-s.dts).max(0));
        let min_cts = written
            .iter()
            .map(|s| i64::from(s.cts_offset) - shift)
            .min()
            .unwrap_or(0);
        let ffmpeg_shift = (-min_cts).max(0);
        let want: Vec<(i64, bool)> = written
            .iter()
            .map(|s| {
                let key = s.keyframe || track.kind() == crate::TrackKind::Audio;
                (s.pts() + ffmpeg_shift, key)
            })
            .collect();
        let have: Vec<(i64, bool)> = got
            .iter()
            .filter(|p| p.stream == t)
            .map(|p| (p.pts, p.key))
            .collect();
        assert_eq!(have, want, "{name}: track {t} pts/keyframes");
    }
}

#[test]
fn ffmpeg_h264_aac() {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir("h264_aac");
    let src = make_source(
        &dir,
        "3",
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-bf",
            "2",
            "-g",
            "25",
            "-sc_threshold",
            "0",
        ],
        &["-c:a", "aac", "-b:a", "64k"],
    );
    round_trip("h264_aac", &src, &[("h264", 160, 120), ("aac", 0, 0)]);
}

#[test]
fn ffmpeg_hevc_opus() {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir("hevc_opus");
    let src = make_source(
        &dir,
        "3",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error:keyint=25:min-keyint=25:bframes=2:scenecut=0",
        ],
        &["-c:a", "libopus", "-b:a", "48k"],
    );
    round_trip("hevc_opus", &src, &[("hevc", 160, 120), ("opus", 0, 0)]);
}

#[test]
fn ffmpeg_av1_mp3() {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir("av1_mp3");
    let src = make_source(
        &dir,
        "2.5",
        &[
            "-c:v",
            "libaom-av1",
            "-cpu-used",
            "8",
            "-g",
            "25",
            "-b:v",
            "100k",
        ],
        &["-c:a", "libmp3lame", "-b:a", "64k"],
    );
    round_trip("av1_mp3", &src, &[("av1", 160, 120), ("mp3", 0, 0)]);
}

#[test]
fn ffmpeg_vp9_ac3() {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir("vp9_ac3");
    let src = make_source(
        &dir,
        "2.5",
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-g",
            "25",
        ],
        &["-c:a", "ac3", "-b:a", "96k"],
    );
    round_trip("vp9_ac3", &src, &[("vp9", 160, 120), ("ac3", 0, 0)]);
}

#[test]
fn ffmpeg_eac3_audio_only() {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir("eac3");
    let src = make_source(&dir, "3", &[], &["-c:a", "eac3", "-b:a", "96k"]);
    round_trip("eac3", &src, &[("eac3", 0, 0)]);
}
