// SPDX-License-Identifier: MIT OR Apache-2.0
//! Hand-built tags: legacy AVC/AAC/MP3, Enhanced RTMP video and audio, metadata, track
//! changes, timestamp wrap-around, readiness, and errors.

use bytes::Bytes;

use super::*;
use crate::codec::hex;
use crate::sample::CodecConfig;

/// x264 High@4.0 SPS (1920x1080) and a PPS, from ffmpeg 5.1.
const SPS: &str = "67640028acd940780227e5c044000003000400000300c83c60c658";
const PPS: &str = "68ebe3cb22c0";
/// x265 Main 720p SPS.
const HEVC_SPS: &str =
    "42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003c10";
const AV1C: &str = "81054c000a0b0000002d4cffb3ccaf9404";

fn avcc(length_size: u8) -> Vec<u8> {
    let (sps, pps) = (hex(SPS), hex(PPS));
    let mut v = vec![1, sps[1], sps[2], sps[3], 0xFC | (length_size - 1), 0xE1];
    v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    v.extend_from_slice(&sps);
    v.push(1);
    v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    v.extend_from_slice(&pps);
    v
}

fn hvcc() -> Vec<u8> {
    let mut v = vec![
        1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xF0, 0, 0xFC, 0xFD, 0xF8, 0xF8, 0, 0,
        0x0F,
    ];
    v.push(3);
    for (t, nal) in [
        (32u8, vec![0x40, 0x01, 0x0C]),
        (33, hex(HEVC_SPS)),
        (34, vec![0x44, 0x01, 0xC1]),
    ] {
        v.push(0x80 | t);
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        v.extend_from_slice(&nal);
    }
    v
}

/// What `hvcc()` describes.
fn hevc_config() -> CodecConfig {
    CodecConfig::Hevc {
        vps: vec![Bytes::from_static(&[0x40, 0x01, 0x0C])],
        sps: vec![hex(HEVC_SPS).into()],
        pps: vec![Bytes::from_static(&[0x44, 0x01, 0xC1])],
        in_band: false,
    }
}

/// Legacy AVC video tag body.
fn avc(frame_type: u8, packet_type: u8, cts: i32, data: &[u8]) -> Vec<u8> {
    let mut v = vec![(frame_type << 4) | 7, packet_type];
    v.extend_from_slice(&cts.to_be_bytes()[1..]);
    v.extend_from_slice(data);
    v
}

/// Enhanced RTMP video tag body.
fn ex_video(frame_type: u8, packet_type: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80 | (frame_type << 4) | packet_type];
    v.extend_from_slice(fourcc);
    v.extend_from_slice(rest);
    v
}

fn ex_audio(packet_type: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    let mut v = vec![0x90 | packet_type];
    v.extend_from_slice(fourcc);
    v.extend_from_slice(rest);
    v
}

fn aac(packet_type: u8, data: &[u8]) -> Vec<u8> {
    [&[0xAF, packet_type][..], data].concat()
}

/// `len`-byte NAL units with 2-byte or 4-byte length prefixes.
fn nals(size: usize, units: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for u in units {
        v.extend_from_slice(&(u.len() as u32).to_be_bytes()[4 - size..]);
        v.extend_from_slice(u);
    }
    v
}

fn drain(d: &mut FlvDemuxer) -> (Vec<Sample>, Vec<FlvEvent>) {
    let mut samples = Vec::new();
    let mut events = Vec::new();
    while let Some(s) = d.pop_sample() {
        samples.push(s);
        while let Some(e) = d.pop_event() {
            events.push(e);
        }
    }
    while let Some(e) = d.pop_event() {
        events.push(e);
    }
    (samples, events)
}

fn feed(d: &mut FlvDemuxer, msgs: &[(u8, u32, Vec<u8>)]) {
    for (t, ts, body) in msgs {
        d.push_message(*t, *ts, body).unwrap();
    }
}

/// B-frames: DTS from the tag timestamp, PTS = DTS + CompositionTime; 2-byte NAL lengths and
/// AUDs converted to the canonical form; durations from the next DTS.
#[test]
fn legacy_avc_with_b_frames() {
    let idr: &[u8] = &[0x65, 1, 2, 3];
    let aud: &[u8] = &[0x09, 0xF0];
    let b: &[u8] = &[0x01, 9];
    let mut d = FlvDemuxer::new();
    feed(
        &mut d,
        &[
            (9, 0, avc(1, 0, 0, &avcc(2))),
            (9, 0, avc(1, 1, 80, &nals(2, &[aud, idr]))),
            (9, 40, avc(2, 1, 120, &nals(2, &[b]))),
            (9, 80, avc(2, 1, -40, &nals(2, &[b]))),
            (9, 120, avc(2, 1, 0, &nals(2, &[b]))),
            (9, 120, avc(2, 2, 0, &[])),
        ],
    );
    assert!(d.ready());
    let (samples, events) = drain(&mut d);
    let got: Vec<_> = samples
        .iter()
        .map(|s| (s.dts, s.pts(), s.duration, s.keyframe))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 7200, 3600, true),
            (3600, 14_400, 3600, false),
            (7200, 3600, 3600, false),
            (10_800, 10_800, 3600, false),
        ]
    );
    assert_eq!(samples[0].data, Bytes::from(nals(4, &[idr])));
    let t = &d.tracks()[0];
    assert_eq!((t.timescale, t.width, t.height), (90_000, 1920, 1080));
    assert_eq!(
        t.config,
        CodecConfig::Avc {
            sps: vec![hex(SPS).into()],
            pps: vec![hex(PPS).into()],
            in_band: false
        }
    );
    assert_eq!(
        events,
        vec![
            FlvEvent::TrackChanged {
                track: 0,
                added: true
            },
            FlvEvent::SequenceEnd { track: 0 }
        ]
    );
}

/// AAC timestamps are rounded to ms; the sample times continue exactly by 1024.
#[test]
fn aac_audio_only() {
    let mut d = FlvDemuxer::new();
    let mut msgs = vec![(8, 0, aac(0, &[0x12, 0x10]))]; // AAC-LC 44.1 kHz stereo
    for (i, ms) in [0u32, 23, 46, 70, 93].into_iter().enumerate() {
        msgs.push((8, ms, aac(1, &[i as u8 + 1; 7])));
    }
    feed(&mut d, &msgs);
    let (samples, _) = drain(&mut d);
    let t = &d.tracks()[0];
    assert_eq!(
        (t.timescale, t.sample_rate, t.channels),
        (44_100, 44_100, 2)
    );
    let got: Vec<_> = samples
        .iter()
        .map(|s| (s.dts, s.duration, s.data[0]))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 1024, 1),
            (1024, 1024, 2),
            (2048, 1024, 3),
            (3072, 1024, 4),
            (4096, 1024, 5)
        ]
    );
}

/// MPEG-1 layer III, 128 kb/s, 44.1 kHz: 417-byte frames, two in one tag.
#[test]
fn mp3_frames_split_per_sample() {
    let mut frame = vec![0xFF, 0xFB, 0x90, 0x64];
    frame.resize(417, 0);
    let two = [&[0x2F][..], &frame, &frame].concat();
    let mut d = FlvDemuxer::new();
    feed(
        &mut d,
        &[(8, 0, two), (8, 52, [&[0x2F][..], &frame].concat())],
    );
    let (samples, _) = drain(&mut d);
    let got: Vec<_> = samples
        .iter()
        .map(|s| (s.dts, s.duration, s.data.len()))
        .collect();
    assert_eq!(
        got,
        vec![(0, 1152, 417), (1152, 1152, 417), (2304, 1152, 417)]
    );
    assert_eq!(d.tracks()[0].config, CodecConfig::Mp3);
}

/// An hvc1 ManyTracks CodedFrames message: a 2-byte track 1, then track 0 with `track0`.
fn multitrack_track1_then_0(track0: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80 | 0x10 | 6, 0x11];
    v.extend_from_slice(b"hvc1");
    v.extend_from_slice(&[1, 0, 0, 2, 0xEE, 0xEE]);
    v.push(0);
    v.extend_from_slice(&(track0.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(track0);
    v
}

/// Enhanced RTMP: hvc1 CodedFrames carry a CompositionTime, CodedFramesX do not; av01 and
/// vp09 CodedFrames never do.
#[test]
fn enhanced_video_table() {
    let frame: &[u8] = &[0x26, 0x01, 0xAF];
    // (name, sequence start, coded frame, sample data, config, CTS offset)
    type Case = (&'static str, Vec<u8>, Vec<u8>, Vec<u8>, CodecConfig, i32);
    let cases: Vec<Case> = vec![
        (
            "hvc1 CodedFrames",
            ex_video(1, 0, b"hvc1", &hvcc()),
            ex_video(
                1,
                1,
                b"hvc1",
                &[&[0, 0, 40][..], &nals(4, &[frame])].concat(),
            ),
            nals(4, &[frame]),
            hevc_config(),
            3600,
        ),
        (
            "hvc1 CodedFramesX",
            ex_video(1, 0, b"hvc1", &hvcc()),
            ex_video(1, 3, b"hvc1", &nals(4, &[frame])),
            nals(4, &[frame]),
            hevc_config(),
            0,
        ),
        (
            "avc1 CodedFrames",
            ex_video(1, 0, b"avc1", &avcc(4)),
            ex_video(
                1,
                1,
                b"avc1",
                &[&[0xFF, 0xFF, 0xD8][..], &nals(4, &[&[0x65, 7]])].concat(),
            ),
            nals(4, &[&[0x65, 7]]),
            CodecConfig::Avc {
                sps: vec![hex(SPS).into()],
                pps: vec![hex(PPS).into()],
                in_band: false,
            },
            -3600,
        ),
        (
            "hvc1 CodedFrames behind two ModEx (TimestampOffsetNano)",
            ex_video(1, 0, b"hvc1", &hvcc()),
            [
                &[0x80 | 0x10 | 7, 2, 0, 0x01, 0xF4, 0x07][..],
                &[0xFF, 0, 2, 0, 0x01, 0xF4, 0x01],
                b"hvc1",
                &[0, 0, 40],
                &nals(4, &[frame]),
            ]
            .concat(),
            nals(4, &[frame]),
            hevc_config(),
            3600,
        ),
        (
            "hvc1 multitrack (ManyTracks): track 0 is used",
            ex_video(1, 0, b"hvc1", &hvcc()),
            multitrack_track1_then_0(&[&[0, 0, 40][..], &nals(4, &[frame])].concat()),
            nals(4, &[frame]),
            hevc_config(),
            3600,
        ),
        (
            "av01 CodedFrames",
            ex_video(1, 0, b"av01", &hex(AV1C)),
            ex_video(1, 1, b"av01", &[0x12, 0x00, 0x0A, 0x0B]),
            vec![0x12, 0x00, 0x0A, 0x0B],
            CodecConfig::Av1 {
                av1c: hex(AV1C).into(),
            },
            0,
        ),
        (
            "vp09 bare record",
            ex_video(1, 0, b"vp09", &hex("021fa20202020000")),
            ex_video(1, 1, b"vp09", &[0x82, 0x49, 0x83]),
            vec![0x82, 0x49, 0x83],
            CodecConfig::Vp9 {
                vpcc: hex("01000000021fa20202020000").into(),
            },
            0,
        ),
    ];
    for (name, start, coded, data, config, cts) in cases {
        let mut d = FlvDemuxer::new();
        feed(
            &mut d,
            &[
                (9, 1000, start),
                (9, 1000, coded),
                (9, 1040, ex_video(2, 2, b"hvc1", &[])),
            ],
        );
        let (samples, _) = drain(&mut d);
        assert_eq!(samples.len(), 1, "{name}");
        let s = &samples[0];
        assert_eq!(
            (s.dts, s.cts_offset, s.keyframe),
            (90_000, cts, true),
            "{name}"
        );
        assert_eq!(s.data, Bytes::from(data), "{name}");
        assert_eq!(d.tracks()[0].config, config, "{name}");
        crate::codec::codec_string(&config).unwrap();
    }
}

/// Enhanced RTMP v2 audio: Opus (OpusHead → dOps, durations from the TOC) and mp4a.
#[test]
fn enhanced_audio_opus_and_mp4a() {
    let mut head = b"OpusHead".to_vec();
    head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]);
    let mut d = FlvDemuxer::new();
    feed(
        &mut d,
        &[
            (8, 0, ex_audio(0, b"Opus", &head)),
            (8, 0, ex_audio(0, b"Opus", b"OpusTags\0\0\0\0")),
            (8, 0, ex_audio(1, b"Opus", &[0xFC, 1, 2])), // 20 ms
            (8, 20, ex_audio(1, b"Opus", &[0xF8 | 3, 3])), // 3 x 20 ms
            (8, 80, ex_audio(1, b"Opus", &[0xFC, 1, 2])),
        ],
    );
    let (samples, _) = drain(&mut d);
    let got: Vec<_> = samples.iter().map(|s| (s.dts, s.duration)).collect();
    assert_eq!(got, vec![(0, 960), (960, 2880), (3840, 960)]);
    assert_eq!(
        d.tracks()[0].config,
        CodecConfig::Opus {
            dops: hex("000201380000bb80000000").into()
        }
    );
    let mut d = FlvDemuxer::new();
    feed(
        &mut d,
        &[
            (8, 0, ex_audio(0, b"mp4a", &[0x11, 0x90])),
            (8, 0, ex_audio(1, b"mp4a", &[1, 2, 3])),
        ],
    );
    let (samples, _) = drain(&mut d);
    assert_eq!(samples.len(), 1);
    assert_eq!(d.tracks()[0].sample_rate, 48_000);
}

/// Timestamps across the 32-bit wrap stay continuous (49.7 days of RTMP).
#[test]
fn timestamps_unwrap_across_32_bits() {
    let mut d = FlvDemuxer::new();
    let start = u32::MAX - 40;
    let mut msgs = vec![(9, start, avc(1, 0, 0, &avcc(4)))];
    for k in 0..4u32 {
        let ts = start.wrapping_add(k * 40);
        msgs.push((
            9,
            ts,
            avc(if k == 0 { 1 } else { 2 }, 1, 0, &nals(4, &[&[0x65, 1]])),
        ));
    }
    feed(&mut d, &msgs);
    d.finish();
    let (samples, events) = drain(&mut d);
    let base = i64::from(start) * 90;
    let dts: Vec<i64> = samples.iter().map(|s| s.dts - base).collect();
    assert_eq!(dts, vec![0, 3600, 7200, 10_800]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, FlvEvent::Discontinuity { .. })),
        "{events:?}"
    );
}

/// A sequence header arriving after other tags adds a track; a changed one replaces it, and
/// `tracks()` changes exactly when the first sample after it is popped.
#[test]
fn late_track_and_changed_sequence_header() {
    let mut d = FlvDemuxer::new();
    let key = |ts: u32| (9u8, ts, avc(1, 1, 0, &nals(4, &[&[0x65, ts as u8]])));
    feed(&mut d, &[(9, 0, avc(1, 0, 0, &avcc(4))), key(0), key(40)]);
    assert!(d.ready(), "video only so far: nothing else announced");
    let (first, _) = drain(&mut d);
    assert_eq!((first.len(), d.tracks().len()), (1, 1));
    // audio starts late
    feed(
        &mut d,
        &[
            (8, 60, aac(0, &[0x11, 0x90])),
            (8, 60, aac(1, &[7; 4])),
            key(80),
        ],
    );
    let mut seen = Vec::new();
    while let Some(s) = d.pop_sample() {
        seen.push((s.track, d.tracks().len()));
        while d.pop_event().is_some() {}
    }
    // the audio sample completes before the held video frame at 40 ms
    assert_eq!(seen, vec![(1, 2), (0, 2)]);
    // the video sequence header changes (new SPS: Main@3.1)
    let mut other = avcc(4);
    let sps2 = hex("674d401feca06c1ef37808800001f480007530078c18cb");
    other.truncate(6);
    other.extend_from_slice(&(sps2.len() as u16).to_be_bytes());
    other.extend_from_slice(&sps2);
    other.extend_from_slice(&[1, 0, 2, 0x68, 0xCE]);
    feed(
        &mut d,
        &[
            (9, 100, avc(1, 0, 0, &avcc(4))),
            (9, 120, avc(1, 0, 0, &other)),
            key(120),
            key(160),
        ],
    );
    let mut log = Vec::new();
    while let Some(s) = d.pop_sample() {
        log.push((s.dts / 90, d.tracks()[0].width));
        while let Some(e) = d.pop_event() {
            if let FlvEvent::TrackChanged { track, added } = e {
                log.push((-1, track as u32 + u32::from(added) * 10));
            }
        }
    }
    // 80 ms was held under the old config; resending the same header changed nothing
    assert_eq!(log, vec![(80, 1920), (-1, 0), (120, 854)]);
}

/// Header flags and metadata announce tracks: not ready until both are configured, or 5 s.
#[test]
fn readiness_waits_for_announced_tracks() {
    let mut file = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    let mut tag = |t: u8, ts: u32, body: &[u8]| {
        file.push(t);
        file.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        file.extend_from_slice(&ts.to_be_bytes()[1..]);
        file.extend_from_slice(&[(ts >> 24) as u8, 0, 0, 0]);
        file.extend_from_slice(body);
        file.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    };
    tag(9, 0, &avc(1, 0, 0, &avcc(4)));
    for k in 0..200u32 {
        tag(9, k * 40, &avc(1, 1, 0, &nals(4, &[&[0x65, 0]])));
    }
    let mut d = FlvDemuxer::new();
    let at_4s = 13 + (11 + 4 + 6 + 18) + 101 * (11 + 4 + 5 + 6);
    d.push(&file[..at_4s]).unwrap();
    assert!(!d.ready(), "audio is announced by the header");
    assert!(d.pop_sample().is_none());
    d.push(&file[at_4s..]).unwrap();
    assert!(d.ready(), "5 s of video without audio");
    assert_eq!(d.tracks().len(), 1);
    let (samples, _) = drain(&mut d);
    assert_eq!(samples.len(), 199, "the last one is held for its duration");
}

/// Every bad tag is an error naming the tag, its timestamp and what is wrong; the demuxer
/// goes on with the next one.
#[test]
fn bad_tags_are_errors_with_context() {
    let cases: Vec<(u8, Vec<u8>, &str)> = vec![
        (9, vec![], "empty video tag"),
        (
            9,
            vec![0x12, 0],
            "unsupported FLV video codec id 2 (Sorenson H.263)",
        ),
        (9, vec![0x17, 0], "without CompositionTime"),
        (9, avc(1, 3, 0, &[]), "AVCPacketType 3"),
        (9, avc(1, 0, 0, &[1, 2]), "avcC needs at least 6 bytes"),
        (
            9,
            avc(1, 0, 0, &[1, 0x64, 0, 0x28, 0xFF, 0xE1, 0, 50]),
            "avcC SPS 0",
        ),
        (
            9,
            ex_video(1, 0, b"vp08", &[]),
            "unsupported Enhanced RTMP video FourCC 'vp08'",
        ),
        (9, vec![0x96, 0x06, b'h', b'v', b'c', b'1'], "nested"),
        (9, ex_video(1, 0, b"av01", &[0x80, 0, 0, 0]), "av1C"),
        (9, vec![0x97, 4, 1, 2], "ModEx data of 5 bytes cut off"),
        (9, vec![0x97, 0xFF, 1], "ModEx 16-bit data size cut off"),
        (
            8,
            vec![0x97, 0, 0, 0x13],
            "unknown Enhanced RTMP AudioPacketType 3",
        ),
        (8, vec![0x97, 0, 0, 0x11], "audio tag without its FourCC"),
        (
            9,
            ex_video(1, 0, b"hvc1", &[1; 10]),
            "hvcC needs at least 23 bytes",
        ),
        (8, vec![0x6F], "unsupported FLV sound format 6 (Nellymoser)"),
        (8, vec![0xAF, 0, 0xF8], "AudioSpecificConfig"),
        (8, vec![0x95, 0x15, b'O'], "nested"),
        (
            8,
            ex_audio(0, b"fLaC", &[]),
            "unsupported Enhanced RTMP audio FourCC 'fLaC'",
        ),
        (8, ex_audio(0, b"Opus", b"OpusHe"), "not an OpusHead"),
        (8, vec![0x2F, 0xFF, 0xFB, 0x90], "MPEG audio"),
        (18, vec![0x02, 0, 10], "AMF0"),
    ];
    for (t, body, want) in cases {
        let mut d = FlvDemuxer::new();
        d.push_message(9, 0, &avc(1, 0, 0, &avcc(4))).unwrap();
        let err = d.push_message(t, 1234, &body).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(want), "{text} / {want}");
        assert!(
            text.contains("tag 1 (") && text.contains("timestamp 1234 ms"),
            "{text}"
        );
        d.push_message(9, 1300, &avc(1, 1, 0, &nals(4, &[&[0x65]])))
            .unwrap();
        d.finish();
        assert_eq!(drain(&mut d).0.len(), 1, "{want}: usable after the error");
    }
    let mut d = FlvDemuxer::with_max_tag(100);
    let err = d.push_message(9, 7, &[0; 101]).unwrap_err().to_string();
    assert!(
        err.contains("101-byte body exceeds the 100-byte limit"),
        "{err}"
    );
}

/// File framing errors are final and name the byte offset.
#[test]
fn file_errors() {
    let mut d = FlvDemuxer::new();
    let err = d.push(b"\x47\x40\x00\x10").unwrap_err();
    assert!(matches!(err, FlvError::NotFlv(_)), "{err}");
    assert_eq!(d.push(b"FLV"), Err(err));
    let mut d = FlvDemuxer::with_max_tag(1000);
    let mut file = b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    file.extend_from_slice(&[9, 0, 0x10, 0x00]);
    let err = d.push(&file).unwrap_err().to_string();
    assert_eq!(
        err,
        "FLV: tag 0 at byte offset 13: 4096-byte body exceeds the 1000-byte limit"
    );
    // a bad body inside a file: the error, then the following tags
    let mut d = FlvDemuxer::new();
    let mut file = b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    for body in [
        avc(1, 0, 0, &avcc(4)),
        vec![0x12],
        avc(1, 1, 0, &nals(4, &[&[0x65]])),
    ] {
        file.push(9);
        file.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        file.extend_from_slice(&[0, 0, 5, 0, 0, 0, 0]);
        file.extend_from_slice(&body);
        file.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    let err = d.push(&file).unwrap_err().to_string();
    assert!(
        err.contains("tag 1 (video, timestamp 5 ms, byte offset 77)"),
        "{err}"
    );
    d.push(&[]).unwrap();
    d.finish();
    assert_eq!(drain(&mut d).0.len(), 1);
}

/// `@setDataFrame onMetaData` sets the size of AV1 tracks (av1C has none) and is reported.
#[test]
fn metadata_event_and_av1_size() {
    let mut meta = vec![0x02, 0, 13];
    meta.extend_from_slice(b"@setDataFrame");
    meta.extend_from_slice(&[0x02, 0, 10]);
    meta.extend_from_slice(b"onMetaData");
    meta.extend_from_slice(&[0x08, 0, 0, 0, 2]);
    for (k, v) in [("width", 640.0f64), ("height", 360.0)] {
        meta.extend_from_slice(&(k.len() as u16).to_be_bytes());
        meta.extend_from_slice(k.as_bytes());
        meta.push(0);
        meta.extend_from_slice(&v.to_be_bytes());
    }
    meta.extend_from_slice(&[0, 0, 9]);
    let mut d = FlvDemuxer::new();
    feed(
        &mut d,
        &[
            (18, 0, meta),
            (9, 0, ex_video(1, 0, b"av01", &hex(AV1C))),
            (9, 0, ex_video(1, 1, b"av01", &[0x12, 0])),
        ],
    );
    d.finish();
    let (_, events) = drain(&mut d);
    assert_eq!((d.tracks()[0].width, d.tracks()[0].height), (640, 360));
    assert_eq!(d.metadata().and_then(|m| m.width), Some(640.0));
    assert!(matches!(
        events.first(),
        Some(FlvEvent::TrackChanged { .. })
    ));
    assert!(events
        .iter()
        .any(|e| matches!(e, FlvEvent::Metadata(m) if m.height == Some(360.0))));
}

/// A whole file in one push is processed in linear time (the buffer is not shifted per tag):
/// 200 000 tags of 20 bytes.
#[test]
fn one_big_push_is_linear() {
    let mut file = b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    let mut tag = |ts: u32, body: &[u8]| {
        file.push(8);
        file.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        file.extend_from_slice(&ts.to_be_bytes()[1..]);
        file.extend_from_slice(&[(ts >> 24) as u8, 0, 0, 0]);
        file.extend_from_slice(body);
        file.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    };
    tag(0, &aac(0, &[0x11, 0x90]));
    let n = 200_000u32;
    for k in 0..n {
        tag(k * 64 / 3, &aac(1, &[0x21; 5]));
    }
    let mut d = FlvDemuxer::new();
    d.push(&file).unwrap();
    d.finish();
    let (samples, events) = drain(&mut d);
    assert_eq!(samples.len(), n as usize);
    assert!(!events
        .iter()
        .any(|e| matches!(e, FlvEvent::Discontinuity { .. })));
    assert!(super::looks_like_flv(&file) && !super::looks_like_flv(b"FLV\x02"));
}
