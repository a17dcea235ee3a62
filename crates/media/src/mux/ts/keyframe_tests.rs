// SPDX-License-Identifier: MIT OR Apache-2.0
//! The keyframe byte ranges the TS muxer reports for I-frame playlists (RFC 8216bis §4.4.3.6):
//! whole packets, the keyframe's whole PES and nothing of the next, PAT/PMT included for the
//! keyframe that opens a segment, identical whether the segment is written whole or streamed.

use super::packet::tests::parse_packets;
use super::packet::PACKET_SIZE;
use super::*;
use crate::sample::Sample;
use bytes::Bytes;

fn avc() -> TrackInfo {
    TrackInfo {
        id: 1,
        config: CodecConfig::Avc {
            sps: vec![Bytes::from_static(&[0x67, 0x64, 0x00, 0x1F, 0xAC])],
            pps: vec![Bytes::from_static(&[0x68, 0xEB, 0xE3])],
            in_band: false,
        },
        timescale: 30_000,
        width: 320,
        height: 240,
        sample_rate: 0,
        channels: 0,
        language: None,
        duration: None,
    }
}

fn aac() -> TrackInfo {
    TrackInfo {
        id: 2,
        config: CodecConfig::Aac {
            asc: Bytes::from_static(&[0x11, 0x90]),
        },
        timescale: 48_000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        language: None,
        duration: None,
    }
}

/// One length-prefixed NAL of type `nal_header` followed by `len` bytes of `fill`.
fn frame(nal_header: u8, len: usize, fill: u8) -> Bytes {
    let mut v = ((len + 1) as u32).to_be_bytes().to_vec();
    v.push(nal_header);
    v.resize(v.len() + len, fill);
    v.into()
}

/// `frames` video frames at 29.97 fps from frame `first`, keyframes where `key(frame)`, audio
/// interleaved by decode time. Video runs 10 ms behind the audio, so the stream of a segment
/// opens with PAT, PMT, a PCR-only packet and audio before the keyframe. Video frames are
/// `size` bytes.
fn av_segment(
    index: u64,
    first: i64,
    frames: i64,
    size: usize,
    key: impl Fn(i64) -> bool,
) -> Segment {
    let mut samples = vec![];
    let mut a = ((first * 1001 * 48_000) as u64).div_ceil(30_000 * 1024) as i64;
    for f in first..first + frames {
        let dts = f * 1001 + 300;
        while a * 1024 * 30_000 <= dts * 48_000 {
            let data = Bytes::from(vec![0x21u8; 200]);
            samples.push(Sample {
                track: 1,
                dts: a * 1024,
                cts_offset: 0,
                duration: 1024,
                keyframe: true,
                data,
            });
            a += 1;
        }
        let k = key(f);
        let data = if k {
            frame(0x65, size, f as u8)
        } else {
            frame(0x41, size / 4, f as u8)
        };
        samples.push(Sample {
            track: 0,
            dts,
            cts_offset: 2002,
            duration: 1001,
            keyframe: k,
            data,
        });
    }
    // The segmenter puts the opening keyframe first.
    if let Some(i) = samples.iter().position(|s| s.track == 0) {
        let v = samples.remove(i);
        samples.insert(0, v);
    }
    Segment {
        index,
        start: first * 1001 + 300,
        duration: (frames * 1001) as u64,
        timescale: 30_000,
        samples,
    }
}

/// Checks every reported range against the packets of `ts`, the segment's bytes.
fn check_ranges(ts: &[u8], seg: &Segment, keys: &[KeyframeRange]) {
    let want: Vec<i64> = seg
        .samples
        .iter()
        .filter(|s| s.track == 0 && s.keyframe)
        .map(|s| s.dts)
        .collect();
    let got: Vec<i64> = keys.iter().map(|k| k.dts).collect();
    assert_eq!(got, want, "one range per keyframe, in decode order");
    let pkts = parse_packets(ts);
    for (i, k) in keys.iter().enumerate() {
        let (off, len) = (k.offset as usize, k.length as usize);
        assert_eq!(
            off % PACKET_SIZE,
            0,
            "range {i} starts at a packet boundary"
        );
        assert_eq!(len % PACKET_SIZE, 0, "range {i} ends at a packet boundary");
        assert!(off + len <= ts.len(), "range {i} inside the segment");
        let first = off / PACKET_SIZE;
        let end = (off + len) / PACKET_SIZE;
        let range = &pkts[first..end];
        if i == 0 {
            assert_eq!(
                off, 0,
                "the opening keyframe starts with the segment: {keys:?}"
            );
            assert_eq!(range[0].pid, psi::PAT_PID);
            assert_eq!(range[1].pid, PMT_PID);
        } else {
            assert_eq!(
                range[0].pid, VIDEO_PID,
                "range {i} starts with the video PES"
            );
            assert!(
                range[0].pusi && range[0].random_access,
                "range {i}: PES start"
            );
        }
        // The range ends with the last packet of the keyframe's PES.
        let last_start = range
            .iter()
            .rposition(|p| p.pid == VIDEO_PID && p.pusi)
            .expect("a video PES start in the range");
        let pes = &range[last_start..];
        assert!(pes[0].random_access, "range {i}: the keyframe's PES");
        assert!(
            pes.iter().all(|p| p.pid == VIDEO_PID),
            "range {i}: nothing after the PES"
        );
        if let Some(next) = pkts[end..].iter().find(|p| p.pid == VIDEO_PID) {
            assert!(next.pusi, "range {i}: the PES is whole");
        }
    }
}

#[test]
fn every_keyframe_is_reported_with_its_whole_pes() {
    // Table: keyframe pattern (a keyframe opens both segments, at frames 0 and 30), video frame
    // size (within one packet, or enough that the streamed writer spills).
    type Case = (&'static str, fn(i64) -> bool, usize);
    let cases: &[Case] = &[
        ("GOP of 15 frames", |f| f % 15 == 0, 3000),
        (
            "irregular GOPs",
            |f| [0, 1, 7, 29, 30, 31].contains(&f),
            500,
        ),
        ("only the opening keyframe", |f| f % 30 == 0, 3000),
        ("tiny frames in one packet", |f| f % 10 == 0, 20),
        ("frames that make the stream spill", |f| f % 15 == 0, 60_000),
    ];
    for (name, key, size) in cases {
        let mut whole = TsMuxer::new(vec![avc(), aac()]).unwrap();
        let mut streamed = TsMuxer::new(vec![avc(), aac()]).unwrap();
        let mut buf = Vec::new();
        for (index, first) in [(0u64, 0i64), (1, 30)] {
            let seg = av_segment(index, first, 30, *size, key);
            // Bytes already in the output before the segment do not shift the offsets.
            let mut out = vec![0xAA; 3];
            whole.write_segment(&seg, &mut out).unwrap();
            let ts = &out[3..];
            check_ranges(ts, &seg, whole.keyframes());

            let mut got = vec![];
            streamed
                .write_segment_streaming(&seg, &mut buf, &mut |chunk| {
                    got.extend_from_slice(chunk);
                    Ok(())
                })
                .unwrap();
            assert_eq!(got, ts, "{name}");
            assert_eq!(
                streamed.keyframes(),
                whole.keyframes(),
                "{name}: segment {index} streamed"
            );
        }
    }
}

#[test]
fn psi_len_is_the_opening_pat_and_pmt() {
    let mut m = TsMuxer::new(vec![avc(), aac()]).unwrap();
    let mut out = vec![];
    m.write_segment(&av_segment(0, 0, 5, 100, |f| f == 0), &mut out)
        .unwrap();
    assert_eq!(m.psi_len(), 2 * PACKET_SIZE as u64);
    let pkts = parse_packets(&out);
    assert_eq!((pkts[0].pid, pkts[1].pid), (psi::PAT_PID, PMT_PID));
    assert_ne!(pkts[2].pid, PMT_PID);
}

#[test]
fn no_keyframes_without_video_or_after_an_error() {
    let mut audio_only = TsMuxer::new(vec![aac()]).unwrap();
    let seg = Segment {
        index: 0,
        start: 0,
        duration: 1024,
        timescale: 48_000,
        samples: vec![Sample {
            track: 0,
            dts: 0,
            cts_offset: 0,
            duration: 1024,
            keyframe: true,
            data: Bytes::from_static(&[1, 2, 3]),
        }],
    };
    audio_only.write_segment(&seg, &mut Vec::new()).unwrap();
    assert!(audio_only.keyframes().is_empty());

    let mut m = TsMuxer::new(vec![avc(), aac()]).unwrap();
    m.write_segment(&av_segment(0, 0, 30, 100, |f| f % 10 == 0), &mut Vec::new())
        .unwrap();
    assert_eq!(m.keyframes().len(), 3);
    let mut bad = av_segment(1, 30, 30, 100, |f| f % 10 == 0);
    bad.samples[5].track = 9;
    assert!(m.write_segment(&bad, &mut Vec::new()).is_err());
    assert!(
        m.keyframes().is_empty(),
        "nothing reported for a failed write"
    );
}
