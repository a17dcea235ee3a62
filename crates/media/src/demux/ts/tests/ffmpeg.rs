// SPDX-License-Identifier: MIT OR Apache-2.0
//! Files made by ffmpeg (into /tmp/tsdemux), checked against ffprobe. Each test returns early,
//! passing, when ffmpeg/ffprobe are not installed. Also the [`TsFileDemuxer`] contract.

use std::path::PathBuf;
use std::process::Command;

use crate::demux::ts::{TsEvent, TsFileDemuxer};
use crate::sample::{CodecConfig, Demuxer, Sample, TrackInfo, TrackKind};

const DIR: &str = "/tmp/tsdemux";
const WRAP: i64 = 1 << 33;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Generates `name` with ffmpeg `args` (inputs and codec options) unless it already exists.
fn fixture(name: &str, args: &[&str]) -> Option<PathBuf> {
    if !have("ffmpeg") || !have("ffprobe") {
        return None;
    }
    std::fs::create_dir_all(DIR).expect("create fixture dir");
    let path = PathBuf::from(DIR).join(name);
    if !path.exists() {
        let tmp = PathBuf::from(DIR).join(format!("{name}.{}.tmp", std::process::id()));
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .args(["-f", "mpegts"])
            .arg(&tmp)
            .status()
            .expect("run ffmpeg");
        assert!(status.success(), "ffmpeg failed for {name}");
        std::fs::rename(&tmp, &path).expect("rename fixture");
    }
    Some(path)
}

/// One stream as ffprobe sees it: codec name and packets as (dts, keyframe).
type ProbedStream = (String, Vec<(Option<i64>, bool)>);

fn probe(path: &PathBuf) -> Vec<ProbedStream> {
    let run = |entries: &str| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
            .arg(path)
            .output()
            .expect("run ffprobe");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let mut streams: Vec<ProbedStream> = Vec::new();
    for line in run("stream=index,codec_name").lines() {
        let mut f = line.split(',');
        let (Some(index), Some(codec)) = (f.next(), f.next()) else {
            continue;
        };
        if index.parse::<usize>() == Ok(streams.len()) {
            streams.push((codec.to_string(), Vec::new()));
        }
    }
    for line in run("packet=stream_index,dts,flags").lines() {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(index), Some(dts), Some(flags)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        let index: usize = index.parse().expect("stream index");
        streams[index]
            .1
            .push((dts.parse().ok(), flags.starts_with('K')));
    }
    streams
}

struct Demuxed {
    tracks: Vec<TrackInfo>,
    samples: Vec<Sample>,
    events: Vec<TsEvent>,
}

/// Collects the messages of `tracing` events (all are warnings in this module).
#[derive(Default, Clone)]
struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Msg(String);
        impl tracing::field::Visit for Msg {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={v:?} ", f.name()));
            }
        }
        let mut msg = Msg(String::new());
        event.record(&mut msg);
        if let Ok(mut all) = self.0.lock() {
            all.push(msg.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn demux_file(path: &PathBuf) -> Demuxed {
    let warnings = Warnings::default();
    let got = tracing::subscriber::with_default(warnings.clone(), || demux_file_inner(path));
    let all = warnings.0.lock().map(|w| w.clone()).unwrap_or_default();
    assert!(all.is_empty(), "clean input produced warnings: {all:?}");
    got
}

fn demux_file_inner(path: &PathBuf) -> Demuxed {
    let file = std::fs::File::open(path).expect("open fixture");
    let mut d = TsFileDemuxer::open(std::io::BufReader::new(file)).expect("open TS");
    let mut samples = Vec::new();
    let mut events = Vec::new();
    while let Some(s) = d.next_sample().expect("sample") {
        samples.push(s);
        while let Some(e) = d.demuxer_mut().pop_event() {
            events.push(e);
        }
    }
    Demuxed {
        tracks: d.tracks().to_vec(),
        samples,
        events,
    }
}

fn codec_name(c: &CodecConfig) -> &'static str {
    match c {
        CodecConfig::Avc { .. } => "h264",
        CodecConfig::Hevc { .. } => "hevc",
        CodecConfig::Aac { .. } => "aac",
        CodecConfig::Ac3 { .. } => "ac3",
        CodecConfig::Eac3 { .. } => "eac3",
        CodecConfig::Mp3 => "mp3",
        _ => "other",
    }
}

/// Compares everything against ffprobe: codecs, sample counts, video keyframes and DTS (modulo
/// 2^33, as ffprobe shows them rebased), continuous audio, monotonic video, no breaks.
fn check(path: &PathBuf) -> Demuxed {
    let got = demux_file(path);
    let want = probe(path);
    let names: Vec<&str> = got.tracks.iter().map(|t| codec_name(&t.config)).collect();
    let want_names: Vec<&str> = want.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, want_names);
    for (t, (track, (_, packets))) in got.tracks.iter().zip(&want).enumerate() {
        let samples: Vec<&Sample> = got.samples.iter().filter(|s| s.track == t).collect();
        assert_eq!(samples.len(), packets.len(), "track {t} sample count");
        match track.kind() {
            TrackKind::Video => {
                assert!(track.width > 0 && track.height > 0);
                for (i, (s, (dts, key))) in samples.iter().zip(packets).enumerate() {
                    assert_eq!(s.keyframe, *key, "track {t} sample {i} keyframe");
                    if let Some(dts) = dts {
                        assert_eq!(s.dts.rem_euclid(WRAP), dts.rem_euclid(WRAP), "sample {i}");
                    }
                }
                assert!(samples[0].keyframe);
                assert!(samples
                    .windows(2)
                    .all(|w| w[1].dts > w[0].dts && w[0].duration as i64 == w[1].dts - w[0].dts));
            }
            TrackKind::Audio => {
                assert_eq!(track.timescale, track.sample_rate);
                assert!(samples
                    .windows(2)
                    .all(|w| w[1].dts == w[0].dts + i64::from(w[0].duration)));
            }
        }
    }
    assert!(
        !got.events
            .iter()
            .any(|e| matches!(e, TsEvent::Discontinuity { .. })),
        "{:?}",
        got.events
    );
    got
}

/// Start time of a track's first sample in 90 kHz ticks.
fn start_90k(d: &Demuxed, t: usize) -> i64 {
    let s = d.samples.iter().find(|s| s.track == t).expect("a sample");
    s.dts * 90_000 / i64::from(d.tracks[t].timescale)
}

const VIDEO_IN: [&str; 4] = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25"];
const SINE_48K: [&str; 4] = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];

#[test]
fn ffmpeg_h264_aac() {
    let args = [
        &VIDEO_IN[..],
        &SINE_48K,
        &[
            "-t", "4", "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
        ],
        &["-c:a", "aac", "-b:a", "64k", "-ac", "2"],
    ]
    .concat();
    let Some(path) = fixture("h264_aac.ts", &args) else {
        return;
    };
    let d = check(&path);
    assert_eq!((d.tracks[0].width, d.tracks[0].height), (160, 120));
    assert_eq!((d.tracks[1].sample_rate, d.tracks[1].channels), (48_000, 2));
    assert!(
        (start_90k(&d, 0) - start_90k(&d, 1)).abs() < 90_000,
        "A/V aligned"
    );
}

#[test]
fn ffmpeg_hevc_ac3() {
    let args = [
        &VIDEO_IN[..],
        &SINE_48K,
        &[
            "-t",
            "2",
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error:keyint=25",
        ],
        &["-pix_fmt", "yuv420p", "-c:a", "ac3", "-b:a", "96k"],
    ]
    .concat();
    let Some(path) = fixture("hevc_ac3.ts", &args) else {
        return;
    };
    let d = check(&path);
    assert!(matches!(d.tracks[0].config, CodecConfig::Hevc { .. }));
    assert_eq!((d.tracks[0].width, d.tracks[0].height), (160, 120));
    assert!(d
        .samples
        .iter()
        .filter(|s| s.track == 1)
        .all(|s| s.duration == 1536));
}

#[test]
fn ffmpeg_mp3_audio_only() {
    let args = [
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "3",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "64k",
    ];
    let Some(path) = fixture("mp3.ts", &args) else {
        return;
    };
    let d = check(&path);
    assert_eq!(
        (d.tracks[0].sample_rate, d.tracks[0].timescale),
        (44_100, 44_100)
    );
    assert!(d
        .samples
        .iter()
        .all(|s| s.duration == 1152 && s.data.first() == Some(&0xFF)));
}

#[test]
fn ffmpeg_eac3_dvb_descriptor() {
    // system_b: stream_type 0x06 with the DVB enhanced AC-3 descriptor.
    let args = [
        &SINE_48K[..],
        &[
            "-t",
            "3",
            "-ac",
            "6",
            "-c:a",
            "eac3",
            "-b:a",
            "192k",
            "-mpegts_flags",
            "system_b",
        ],
    ]
    .concat();
    let Some(path) = fixture("eac3.ts", &args) else {
        return;
    };
    let d = check(&path);
    assert!(matches!(d.tracks[0].config, CodecConfig::Eac3 { .. }));
    assert_eq!(d.tracks[0].channels, 6);
}

#[test]
fn ffmpeg_timestamps_across_the_33_bit_wrap() {
    let args = [
        &VIDEO_IN[..],
        &SINE_48K,
        &[
            "-t", "3", "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
        ],
        &[
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-output_ts_offset",
            "95443",
            "-muxdelay",
            "0",
        ],
    ]
    .concat();
    let Some(path) = fixture("wrap.ts", &args) else {
        return;
    };
    let d = check(&path);
    let video: Vec<i64> = d
        .samples
        .iter()
        .filter(|s| s.track == 0)
        .map(|s| s.dts)
        .collect();
    assert!(
        video[0] < WRAP && *video.last().expect("video") > WRAP,
        "crosses the wrap"
    );
    assert!(
        (start_90k(&d, 0) - start_90k(&d, 1)).abs() < 90_000,
        "A/V aligned"
    );
}

#[test]
fn ffmpeg_file_prefixes_and_chunking_never_panic() {
    let Some(path) = fixture(
        "mp3.ts",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "3",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
        ],
    ) else {
        return;
    };
    let data = std::fs::read(&path).expect("read");
    let whole = super::demux(&data);
    // Odd chunk sizes give the same result as one push.
    for chunk in [1usize, 7, 188, 1000] {
        assert_eq!(
            super::demux_chunks(data.chunks(chunk).collect::<Vec<_>>()),
            whole
        );
    }
    for k in (0..data.len()).step_by(97) {
        let _ = super::demux(&data[..k]);
    }
    // The warning collector used by `check` does see warnings (here: a truncated tail).
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), || super::demux(&data[..data.len() - 100]));
    assert!(!warnings.0.lock().expect("lock").is_empty());
}

#[test]
fn file_demuxer_errors() {
    use crate::Error;
    let open = |data: Vec<u8>| TsFileDemuxer::open(std::io::Cursor::new(data)).err();
    assert!(matches!(open(Vec::new()), Some(Error::Empty)));
    assert!(
        matches!(open(vec![0x47; 188 * 4]), Some(Error::Ts { .. })),
        "no PAT/PMT"
    );
    let mut m = super::Mux::default();
    m.pat();
    m.pmt(0, &[(0x02, 0x100, &[])]);
    assert!(matches!(open(m.out), Some(Error::NoTracks)));
    assert!(
        matches!(open(vec![0u8; 3 << 20]), Some(Error::Ts { .. })),
        "not TS"
    );
}

#[test]
fn file_demuxer_keeps_the_tracks_of_open() {
    use super::{adts, idr, Mux, AUDIO_PID, PPS, SPS, VIDEO_PID};
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x0F, AUDIO_PID, &[])]);
    for k in 0..3u8 {
        m.audio(Some(u64::from(k) * 1920), &adts(4, k));
    }
    m.pmt(1, &[(0x0F, AUDIO_PID, &[]), (0x1B, VIDEO_PID, &[])]);
    m.video(0, None, &[SPS, PPS, &idr(1)], 0);
    m.audio(Some(3 * 1920), &adts(4, 3));
    let mut d = TsFileDemuxer::open(std::io::Cursor::new(m.out)).expect("open");
    assert_eq!(d.tracks().len(), 1);
    let mut n = 0;
    while let Some(s) = d.next_sample().expect("sample") {
        assert_eq!(s.track, 0);
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(
        d.demuxer_mut().tracks().len(),
        2,
        "the push demuxer did see the video"
    );
}
