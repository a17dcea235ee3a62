// SPDX-License-Identifier: MIT OR Apache-2.0
//! Byte-level tests of the whole muxer.

use super::packet::tests::{parse_packets, read_timestamp, Pkt};
use super::packet::PACKET_SIZE;
use super::psi::crc32_mpeg2;
use super::*;
use crate::sample::Sample;
use bytes::Bytes;
use std::collections::HashMap;

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3];

fn track(id: u32, config: CodecConfig, timescale: u32) -> TrackInfo {
    TrackInfo {
        id,
        config,
        timescale,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        language: None,
        duration: None,
    }
}

fn avc() -> TrackInfo {
    let config = CodecConfig::Avc {
        sps: vec![Bytes::from_static(SPS)],
        pps: vec![Bytes::from_static(PPS)],
        in_band: false,
    };
    track(1, config, 30_000)
}

fn aac() -> TrackInfo {
    // AAC-LC, 48 kHz, stereo.
    track(
        2,
        CodecConfig::Aac {
            asc: Bytes::from_static(&[0x11, 0x90]),
        },
        48_000,
    )
}

/// Length-prefixed sample data from NAL payloads.
fn lp(nals: &[&[u8]]) -> Bytes {
    let mut v = vec![];
    for n in nals {
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    v.into()
}

fn sample(track: usize, dts: i64, cts: i32, duration: u32, keyframe: bool, data: Bytes) -> Sample {
    Sample {
        track,
        dts,
        cts_offset: cts,
        duration,
        keyframe,
        data,
    }
}

fn segment(index: u64, samples: Vec<Sample>) -> Segment {
    let start = samples.first().map_or(0, |s| s.dts);
    Segment {
        index,
        samples,
        start,
        duration: 0,
        timescale: 30_000,
    }
}

/// Video at 30000/1001 fps (IPB pattern with cts offsets) plus AAC 48 kHz, `secs` seconds from
/// `t0` seconds; the keyframe is big enough to span many packets.
fn av_segment(index: u64, t0: i64, frames: i64) -> Segment {
    let mut samples = vec![];
    let big = vec![0x55u8; 3000];
    for f in 0..frames {
        let dts = (t0 * 30 + f) * 1001 - 2002;
        let key = f == 0;
        let data = if key {
            lp(&[&[0x65, 0x88], &big])
        } else {
            lp(&[&[0x41, 0x9A, f as u8]])
        };
        samples.push(sample(0, dts, 2002, 1001, key, data));
    }
    let first = t0 * 48_000;
    let end = first + frames * 1001 * 48_000 / 30_000;
    let mut a = first;
    while a < end {
        samples.push(sample(1, a, 0, 1024, true, Bytes::from(vec![0x21u8; 300])));
        a += 1024;
    }
    segment(index, samples)
}

/// Reassembled PES packets: (pid, bytes, first packet of the PES).
fn pes_units(pkts: &[Pkt]) -> Vec<(u16, Vec<u8>, Pkt)> {
    let mut open: HashMap<u16, usize> = HashMap::new();
    let mut units: Vec<(u16, Vec<u8>, Pkt)> = vec![];
    for p in pkts
        .iter()
        .filter(|p| p.has_payload && p.pid != 0 && p.pid != PMT_PID)
    {
        if p.pusi {
            open.insert(p.pid, units.len());
            units.push((p.pid, p.payload.clone(), p.clone()));
        } else {
            let i = open[&p.pid];
            units[i].1.extend_from_slice(&p.payload);
        }
    }
    units
}

/// (PTS, DTS) of a PES.
fn pes_times(pes: &[u8]) -> (u64, Option<u64>) {
    assert_eq!(&pes[..3], &[0, 0, 1]);
    match pes[7] >> 6 {
        0b10 => (read_timestamp(&pes[9..14], 0b0010), None),
        0b11 => (
            read_timestamp(&pes[9..14], 0b0011),
            Some(read_timestamp(&pes[14..19], 0b0001)),
        ),
        f => panic!("PTS_DTS_flags {f:#b}"),
    }
}

fn pes_payload(pes: &[u8]) -> &[u8] {
    &pes[9 + usize::from(pes[8])..]
}

fn mux(tracks: Vec<TrackInfo>, segments: &[Segment]) -> Vec<Vec<u8>> {
    let mut m = TsMuxer::new(tracks).unwrap();
    assert_eq!(m.init_segment().unwrap(), None);
    assert_eq!(m.segment_extension(), "ts");
    segments
        .iter()
        .map(|s| {
            let mut out = vec![];
            m.write_segment(s, &mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn timestamp_conversion_table() {
    let m = TIMESTAMP_OFFSET;
    let cases: &[(i64, u32, Option<i64>)] = &[
        (0, 90_000, Some(m)),
        (1, 30, Some(m + 3000)),
        (1001, 30_000, Some(m + 3003)),
        (-2002, 30_000, Some(m - 6006)),
        (1024, 44_100, Some(m + 2090)), // 2089.796 → 2090
        (1, 180_000, Some(m + 1)),      // 0.5 rounds away from zero
        (-1, 180_000, Some(m - 1)),
        (3, 180_000, Some(m + 2)), // 1.5 → 2
        (-126_000, 90_000, Some(0)),
        (i64::MAX, 1, None),
        (i64::MIN, 1, None),
        (5, 0, None),
        // 27 hours at 48 kHz: exact, no float.
        (48_000 * 97_200 + 1, 48_000, Some(90_000 * 97_200 + 2 + m)),
        // Where t · 90,000 fits 64 bits but adding half the timescale would not.
        (i64::MAX / 90_000, 1 << 31, Some(4_294_967_296 + m)),
        // Where it does not: 128 bits.
        (
            i64::MAX / 90_000 + 1,
            90_000,
            Some(i64::MAX / 90_000 + 1 + m),
        ),
    ];
    for &(t, ts, want) in cases {
        assert_eq!(to_90k(t, ts), want, "{t} @ {ts}");
    }
    // Wrap to 33 bits: continuous input just past 2^33 ticks and negative DTS before the offset.
    let wrap_cases: &[(i64, u32, u64)] = &[
        ((1 << 33) - TIMESTAMP_OFFSET, 90_000, 0),
        ((1 << 33) - TIMESTAMP_OFFSET + 7, 90_000, 7),
        (-TIMESTAMP_OFFSET - 1, 90_000, (1 << 33) - 1),
    ];
    for &(t, ts, want) in wrap_cases {
        assert_eq!(packet::wrap33(to_90k(t, ts).unwrap()), want, "{t} @ {ts}");
    }
}

#[test]
fn packets_segments_and_continuity() {
    let segs = [av_segment(0, 0, 60), av_segment(1, 2, 60)];
    let outs = mux(vec![avc(), aac()], &segs);
    let mut last_cc: HashMap<u16, u8> = HashMap::new();
    for out in &outs {
        assert_eq!(out.len() % PACKET_SIZE, 0);
        let pkts = parse_packets(out);
        assert_eq!((pkts[0].pid, pkts[0].pusi), (0, true), "PAT first");
        assert_eq!((pkts[1].pid, pkts[1].pusi), (PMT_PID, true), "PMT second");
        for p in &pkts {
            let want = match last_cc.get(&p.pid) {
                None => p.cc,
                Some(&c) if p.has_payload => (c + 1) & 0x0F,
                Some(&c) => c,
            };
            assert_eq!(p.cc, want, "continuity on PID {:#x}", p.pid);
            last_cc.insert(p.pid, p.cc);
        }
    }
    assert_eq!(last_cc.len(), 4, "PAT, PMT, video, audio PIDs");
    // PAT/PMT counters continue: segment 2 uses 1.
    assert_eq!(parse_packets(&outs[1])[0].cc, 1);
    assert_eq!(parse_packets(&outs[1])[1].cc, 1);
}

#[test]
fn pat_and_pmt_sections() {
    let mut lang = aac();
    lang.language = Some("ENG".into());
    let outs = mux(vec![avc(), lang], &[av_segment(0, 0, 3)]);
    let pkts = parse_packets(&outs[0]);
    for p in &pkts[..2] {
        let section = &p.payload[1..];
        let len = 3 + usize::from(u16::from_be_bytes([section[1], section[2]]) & 0x0FFF);
        assert_eq!(crc32_mpeg2(&section[..len]), 0, "CRC on PID {:#x}", p.pid);
        assert!(section[len..].iter().all(|&b| b == 0xFF));
    }
    let pmt = &pkts[1].payload[1..];
    assert_eq!(
        u16::from_be_bytes([pmt[8], pmt[9]]) & 0x1FFF,
        VIDEO_PID,
        "PCR on video"
    );
    assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
    assert_eq!(
        &pmt[17..28],
        &[0x0F, 0xE1, 0x01, 0xF0, 6, 0x0A, 4, b'e', b'n', b'g', 0]
    );
}

/// Stream types and descriptors per codec (ISO/IEC 13818-1 table 2-34; ATSC A/52).
#[test]
fn stream_types() {
    let mp3 = |rate| TrackInfo {
        sample_rate: rate,
        ..track(3, CodecConfig::Mp3, rate)
    };
    let hevc = CodecConfig::Hevc {
        vps: vec![Bytes::from_static(&[0x40, 1])],
        sps: vec![Bytes::from_static(&[0x42, 1])],
        pps: vec![Bytes::from_static(&[0x44, 1])],
        in_band: false,
    };
    let cases: Vec<(TrackInfo, u8, &[u8])> = vec![
        (avc(), 0x1B, &[]),
        (track(1, hevc, 90_000), 0x24, &[]),
        (
            track(2, CodecConfig::Mpeg4Visual { dsi: Bytes::new() }, 90_000),
            0x10,
            &[],
        ),
        (aac(), 0x0F, &[]),
        (mp3(44_100), 0x03, &[]),
        (mp3(22_050), 0x04, &[]),
        (
            track(4, CodecConfig::Ac3 { dac3: Bytes::new() }, 48_000),
            0x81,
            b"\x05\x04AC-3",
        ),
        (
            track(5, CodecConfig::Eac3 { dec3: Bytes::new() }, 48_000),
            0x87,
            b"\x05\x04EAC3",
        ),
    ];
    for (t, stream_type, desc) in cases {
        let name = t.config.name();
        let m = TsMuxer::new(vec![t]).unwrap();
        let pmt = &m.pmt;
        assert_eq!(pmt[12], stream_type, "{name}");
        assert_eq!(usize::from(pmt[16]), desc.len(), "{name}");
        assert_eq!(&pmt[17..17 + desc.len()], desc, "{name}");
        assert_eq!(crc32_mpeg2(pmt), 0);
    }
}

#[test]
fn codecs_ts_cannot_carry() {
    let configs = [
        CodecConfig::Av1 { av1c: Bytes::new() },
        CodecConfig::Vp9 { vpcc: Bytes::new() },
        CodecConfig::Opus { dops: Bytes::new() },
    ];
    for c in configs {
        let err = TsMuxer::new(vec![avc(), track(9, c, 48_000)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::FormatMismatch {
                    format: "MPEG-TS",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(matches!(TsMuxer::new(vec![]), Err(Error::NoTracks)));
    let no_sps = CodecConfig::Avc {
        sps: vec![],
        pps: vec![],
        in_band: false,
    };
    assert!(matches!(
        TsMuxer::new(vec![track(7, no_sps, 90_000)]),
        Err(Error::BadCodecConfig { track: 7, .. })
    ));
    let pce = CodecConfig::Aac {
        asc: Bytes::from_static(&[0x11, 0x80, 0, 0, 0, 0]),
    };
    assert!(TsMuxer::new(vec![track(8, pce, 48_000)]).is_err());
}

#[test]
fn video_pes_contents() {
    let inband_sps: &[u8] = &[0x67, 0x4D, 0x00];
    let samples = vec![
        sample(0, 0, 2002, 1001, true, lp(&[&[0x06, 0x05], &[0x65, 0x88]])),
        sample(0, 1001, 0, 1001, false, lp(&[&[0x09, 0xF0], &[0x41, 0x9A]])),
        sample(
            0,
            2002,
            0,
            1001,
            true,
            lp(&[inband_sps, PPS, &[0x65, 0x77]]),
        ),
    ];
    let outs = mux(vec![avc()], &[segment(0, samples)]);
    let pkts = parse_packets(&outs[0]);
    let units = pes_units(&pkts);
    assert_eq!(units.len(), 3);
    let sc = |n: &[u8]| [&[0u8, 0, 0, 1][..], n].concat();
    let expect = [
        [
            sc(&[0x09, 0xF0]),
            sc(SPS),
            sc(PPS),
            sc(&[0x06, 0x05]),
            sc(&[0x65, 0x88]),
        ]
        .concat(),
        [sc(&[0x09, 0xF0]), sc(&[0x41, 0x9A])].concat(), // in-band AUD dropped, no SPS
        [
            sc(&[0x09, 0xF0]),
            sc(inband_sps),
            sc(PPS),
            sc(&[0x65, 0x77]),
        ]
        .concat(),
    ];
    let m = TIMESTAMP_OFFSET as u64;
    let times = [(m + 6006, Some(m)), (m + 3003, None), (m + 6006, None)];
    for (i, (pid, pes, first)) in units.iter().enumerate() {
        assert_eq!(*pid, VIDEO_PID);
        assert_eq!(pes[3], 0xE0);
        assert_eq!(&pes[4..6], &[0, 0], "unbounded video PES");
        assert_eq!(pes[6] & 0x04, 0x04, "data_alignment_indicator");
        assert_eq!(pes_times(pes), times[i], "PES {i}");
        assert_eq!(pes_payload(pes), &expect[i][..], "PES {i}");
        assert_eq!(first.random_access, i != 1);
        assert_eq!(
            first.pcr,
            Some(times[i].1.unwrap_or(times[i].0) - PCR_DELAY as u64)
        );
    }
}

#[test]
fn hevc_aud_and_parameter_sets() {
    let hevc = CodecConfig::Hevc {
        vps: vec![Bytes::from_static(&[0x40, 0x01, 0xAA])],
        sps: vec![Bytes::from_static(&[0x42, 0x01, 0xBB])],
        pps: vec![Bytes::from_static(&[0x44, 0x01, 0xCC])],
        in_band: false,
    };
    let s = sample(0, 0, 0, 3000, true, lp(&[&[0x26, 0x01, 0xDD]]));
    let outs = mux(vec![track(1, hevc, 90_000)], &[segment(0, vec![s])]);
    let units = pes_units(&parse_packets(&outs[0]));
    let want: &[u8] = &[
        0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 0, 1, 0x40, 0x01, 0xAA, 0, 0, 0, 1, 0x42, 0x01, 0xBB,
        0, 0, 0, 1, 0x44, 0x01, 0xCC, 0, 0, 0, 1, 0x26, 0x01, 0xDD,
    ];
    assert_eq!(pes_payload(&units[0].1), want);
}

#[test]
fn audio_frames_grouped_as_adts() {
    // 12 contiguous AAC frames, then one after a gap: PES of 5, 5, 2 and 1 frames.
    let mut samples: Vec<Sample> = (0..12)
        .map(|i| sample(0, i * 1024, 0, 1024, true, Bytes::from(vec![i as u8; 100])))
        .collect();
    samples.push(sample(
        0,
        20 * 1024,
        0,
        1024,
        true,
        Bytes::from(vec![0xEE; 100]),
    ));
    let outs = mux(vec![aac()], &[segment(0, samples)]);
    let pkts = parse_packets(&outs[0]);
    let units = pes_units(&pkts);
    let counts: Vec<usize> = units
        .iter()
        .map(|u| pes_payload(&u.1).len() / 107)
        .collect();
    assert_eq!(counts, [5, 5, 2, 1]);
    let starts = [(0i64, 0u8), (5, 5), (10, 10), (20, 0xEE)];
    for ((pid, pes, first), (start, byte)) in units.iter().zip(starts) {
        assert_eq!(*pid, VIDEO_PID + 1);
        assert_eq!(pes[3], 0xC0);
        let len = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
        assert_eq!(
            len + 6,
            pes.len(),
            "PES_packet_length, no stuffing in the payload"
        );
        let want_pts = to_90k(start * 1024, 48_000).unwrap() as u64;
        assert_eq!(pes_times(pes), (want_pts, None));
        let payload = pes_payload(pes);
        assert_eq!(
            &payload[..2],
            &[0xFF, 0xF1],
            "ADTS syncword, MPEG-4, no CRC"
        );
        let frame_len = (usize::from(payload[3] & 3) << 11)
            | (usize::from(payload[4]) << 3)
            | usize::from(payload[5] >> 5);
        assert_eq!(frame_len, 107);
        assert_eq!(payload[7], byte);
        assert!(first.random_access);
        assert!(first.pcr.is_some(), "audio-only: PCR on the audio PID");
    }
}

#[test]
fn ac3_in_private_stream_1() {
    let t = track(4, CodecConfig::Ac3 { dac3: Bytes::new() }, 48_000);
    let frame = Bytes::from([&[0x0B, 0x77][..], &[0x10; 766]].concat());
    let samples = (0..3)
        .map(|i| sample(0, i * 1536, 0, 1536, true, frame.clone()))
        .collect();
    let outs = mux(vec![t], &[segment(0, samples)]);
    let units = pes_units(&parse_packets(&outs[0]));
    assert_eq!(units.len(), 1, "three 768-byte frames fit one PES");
    assert_eq!(units[0].1[3], 0xBD);
    assert_eq!(
        pes_payload(&units[0].1),
        [&frame[..], &frame, &frame].concat()
    );
}

/// PCR: on the PCR PID, never decreasing, at most 100 ms apart, never after the DTS of the PES
/// it comes with — also for 1 fps video and audio-only streams.
#[test]
fn pcr_schedule() {
    let slow: Vec<Sample> = (0..4)
        .map(|i| sample(0, i * 30_000, 0, 30_000, i == 0, lp(&[&[0x65, 1]])))
        .collect();
    let audio_only: Vec<Sample> = (0..100)
        .map(|i| sample(0, i * 1024, 0, 1024, true, Bytes::from_static(&[1; 20])))
        .collect();
    let cases = [
        (
            "A/V",
            vec![avc(), aac()],
            vec![av_segment(0, 0, 60), av_segment(1, 2, 60)],
        ),
        ("1 fps", vec![avc()], vec![segment(0, slow)]),
        ("audio only", vec![aac()], vec![segment(0, audio_only)]),
    ];
    for (name, tracks, segs) in cases {
        let pcr_pid = if tracks[0].kind() == TrackKind::Video {
            VIDEO_PID
        } else {
            0x101
        };
        let outs = mux(tracks, &segs);
        let mut last: Option<u64> = None;
        for out in &outs {
            let pkts = parse_packets(out);
            let first_media = pkts
                .iter()
                .position(|p| p.pid != 0 && p.pid != PMT_PID)
                .unwrap();
            assert!(
                pkts[first_media].pcr.is_some(),
                "{name}: segment opens with a PCR"
            );
            for p in &pkts {
                let Some(pcr) = p.pcr else { continue };
                assert_eq!(p.pid, pcr_pid, "{name}");
                if let Some(l) = last {
                    assert!(pcr >= l, "{name}: PCR {pcr} after {l}");
                    assert!(pcr - l <= 9_000, "{name}: PCR gap {} ticks", pcr - l);
                }
                last = Some(pcr);
            }
            for (_, pes, first) in pes_units(&pkts) {
                if let Some(pcr) = first.pcr {
                    let (pts, dts) = pes_times(&pes);
                    assert!(pcr <= dts.unwrap_or(pts), "{name}: PCR after DTS");
                }
            }
        }
    }
}

#[test]
fn a_bad_sample_leaves_output_and_state_untouched() {
    let mut m = TsMuxer::new(vec![avc(), aac()]).unwrap();
    let mut out = vec![];
    m.write_segment(&av_segment(0, 0, 10), &mut out).unwrap();
    let len = out.len();
    let mut bad = av_segment(1, 1, 10);
    bad.samples[3].data = Bytes::from_static(&[0, 0, 0, 50, 0x41]);
    let err = m.write_segment(&bad, &mut out).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("sample 3") && msg.contains("byte offset 0"),
        "{msg}"
    );
    assert_eq!(out.len(), len);
    let mut wrong_track = av_segment(1, 1, 10);
    wrong_track.samples[1].track = 7;
    assert!(m
        .write_segment(&wrong_track, &mut out)
        .unwrap_err()
        .to_string()
        .contains("track index 7"));
    assert_eq!(out.len(), len);
    // The next good segment continues the counters as if the bad ones never happened.
    m.write_segment(&av_segment(1, 1, 10), &mut out).unwrap();
    let mut last_cc: HashMap<u16, u8> = HashMap::new();
    for p in parse_packets(&out) {
        if let Some(&c) = last_cc.get(&p.pid) {
            assert_eq!(p.cc, if p.has_payload { (c + 1) & 0x0F } else { c });
        }
        last_cc.insert(p.pid, p.cc);
    }
}

/// Fuzz regression (mux target): a sample near DTS i64::MAX with a positive composition
/// offset overflowed `Sample::pts`. Video and audio samples whose DTS + offset leaves i64 are
/// now reported as bad samples.
#[test]
fn pts_overflow_is_an_error() {
    let idr = lp(&[&[0x65, 0x88]]);
    let cases = [
        (
            "video",
            avc(),
            sample(0, i64::MAX - 10_000_000, i32::MAX, 1, true, idr),
        ),
        (
            "audio",
            aac(),
            sample(
                0,
                i64::MIN + 1,
                -3000,
                1024,
                true,
                Bytes::from_static(&[0x21; 8]),
            ),
        ),
    ];
    for (name, mut t, s) in cases {
        // At 90 kHz the DTS itself is in range; only DTS + offset is not.
        t.timescale = 90_000;
        let mut m = TsMuxer::new(vec![t]).unwrap();
        let mut out = vec![];
        let err = m.write_segment(&segment(0, vec![s]), &mut out).unwrap_err();
        assert!(err.to_string().contains("PTS"), "{name}: {err}");
        assert!(out.is_empty(), "{name}");
    }
}

#[test]
fn streaming_equals_write_segment() {
    // Big keyframes so that one segment spills several times.
    let big_segment = |index: u64, t0: i64| {
        let mut seg = av_segment(index, t0, 30);
        for s in seg.samples.iter_mut().filter(|s| s.track == 0) {
            s.data = lp(&[&[0x41, 0x9A], &vec![s.dts as u8; 20_000]]);
        }
        seg
    };
    let mut whole = TsMuxer::new(vec![avc(), aac()]).unwrap();
    let mut streamed = TsMuxer::new(vec![avc(), aac()]).unwrap();
    let mut buf = Vec::new();
    for i in 0..2u64 {
        let seg = big_segment(i, i as i64);
        let mut want = vec![];
        whole.write_segment(&seg, &mut want).unwrap();
        let mut got = vec![];
        let mut pieces = 0;
        streamed
            .write_segment_streaming(&seg, &mut buf, &mut |chunk| {
                assert_eq!(chunk.len() % PACKET_SIZE, 0, "whole packets per piece");
                pieces += 1;
                got.extend_from_slice(chunk);
                Ok(())
            })
            .unwrap();
        assert!(pieces > 2, "{pieces} pieces");
        assert_eq!(got, want, "segment {i}");
    }

    // A failing sink: the error comes back and the muxer state is as before.
    let seg = big_segment(2, 2);
    let err = streamed
        .write_segment_streaming(&seg, &mut buf, &mut |_| Err(Error::NoTracks))
        .unwrap_err();
    assert!(matches!(err, Error::NoTracks), "{err}");
    let mut want = vec![];
    whole.write_segment(&seg, &mut want).unwrap();
    let mut got = vec![];
    streamed
        .write_segment_streaming(&seg, &mut buf, &mut |chunk| {
            got.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
    assert_eq!(got, want, "continues as if the failed write never happened");
}

/// Counting a segment gives the length writing it gives, the same keyframe ranges (I-frame
/// playlist), and leaves the muxer where writing leaves it: the next segment written after a
/// counted one is the bytes written after a written one. H.264 with out-of-band and in-band
/// parameter sets, an AUD in the sample, PCR-only packets (a gap in the DTS).
#[test]
fn counting_a_segment_equals_writing_it() {
    let with_aud_and_sps = |index: u64, t0: i64| {
        let mut seg = av_segment(index, t0, 20);
        for s in seg
            .samples
            .iter_mut()
            .filter(|s| s.track == 0 && s.keyframe)
        {
            s.data = lp(&[
                &[0x09, 0xF0],
                &[0x67, 0x42, 0x00],
                &[0x68, 0xCE],
                &[],
                &[0x65; 900],
            ]);
        }
        seg
    };
    let gap = |index: u64, t0: i64| {
        let mut seg = av_segment(index, t0, 12);
        for s in seg.samples.iter_mut().filter(|s| s.track == 0).skip(6) {
            s.dts += 90_000; // a second without video: PCR-only packets on the video PID
        }
        seg
    };
    type Make = fn(u64, i64) -> Segment;
    let cases: [(&str, Make); 3] = [
        ("plain", |i, t| av_segment(i, t, 30)),
        ("aud, in-band sps, empty nal", with_aud_and_sps),
        ("pcr gap", gap),
    ];
    for (name, make) in cases {
        let mut written = TsMuxer::new(vec![avc(), aac()]).unwrap();
        let mut counted = TsMuxer::new(vec![avc(), aac()]).unwrap();
        let mut buf = Vec::new();
        for i in 0..3u64 {
            let seg = make(i, 2 * i as i64);
            let mut want = vec![];
            written.write_segment(&seg, &mut want).unwrap();
            let got = counted.count_segment(&seg, &mut buf).unwrap();
            assert_eq!(got, want.len() as u64, "{name}: segment {i}");
            assert_eq!(
                format!("{:?}", counted.keyframes()),
                format!("{:?}", written.keyframes()),
                "{name}: segment {i}"
            );
        }
        let seg = make(3, 6);
        let (mut a, mut b) = (vec![], vec![]);
        written.write_segment(&seg, &mut a).unwrap();
        counted.write_segment(&seg, &mut b).unwrap();
        assert_eq!(a, b, "{name}: the segment after counted ones");
    }
}
