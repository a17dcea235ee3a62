// SPDX-License-Identifier: MIT OR Apache-2.0
//! Byte-level tests: streams built in the test, demuxed whole, split, damaged.

use super::*;
use crate::demux::ts::{looks_like_ts, DiscontinuityCause};
use crate::sample::CodecConfig;

const AUD: &[u8] = &[0x09, 0xF0];
const START: u64 = 10_000;
const FRAME: u64 = 3600; // 25 fps
const AAC_TICKS_90K: u64 = 1920; // 1024 samples at 48 kHz

/// H.264 + AAC: `frames` video frames (IDR every 10, PTS = DTS + one frame) and audio PES of
/// two ADTS frames, interleaved by time; video starts at `start`.
fn av_stream(frames: u64, start: u64, big_idr: bool) -> Vec<u8> {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x1B, VIDEO_PID, &[]), (0x0F, AUDIO_PID, &[])]);
    let mut audio_t = start;
    let mut audio_n = 0u8;
    for i in 0..frames {
        let dts = start + i * FRAME;
        let pic = if i % 10 == 0 {
            let mut p = idr(i as u8);
            if big_idr {
                p.resize(400, 0x55);
            }
            p
        } else {
            non_idr(i as u8)
        };
        let nals: Vec<&[u8]> = if i % 10 == 0 {
            vec![AUD, SPS, PPS, &pic]
        } else {
            vec![AUD, &pic]
        };
        m.video((dts + FRAME) % (1 << 33), Some(dts % (1 << 33)), &nals, 0);
        while audio_t <= dts {
            let mut payload = adts(10, audio_n);
            payload.extend(adts(12, audio_n.wrapping_add(1)));
            audio_n = audio_n.wrapping_add(2);
            m.audio(Some(audio_t % (1 << 33)), &payload);
            audio_t += 2 * AAC_TICKS_90K;
        }
    }
    m.out
}

fn packets(data: &[u8]) -> Vec<&[u8]> {
    data.chunks(188).collect()
}

fn pid_of(p: &[u8]) -> u16 {
    (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2])
}

#[test]
fn h264_and_aac_basic() {
    let run = demux(&av_stream(25, START, false));
    assert_eq!(run.tracks.len(), 2);
    let v = &run.tracks[0];
    assert_eq!(
        (v.id, v.timescale, v.width, v.height),
        (0x100, 90_000, 64, 48)
    );
    assert!(
        matches!(&v.config, CodecConfig::Avc { sps, pps, in_band: true }
        if sps[0].as_ref() == SPS && pps[0].as_ref() == PPS)
    );
    let a = &run.tracks[1];
    assert_eq!(
        (a.id, a.timescale, a.sample_rate, a.channels),
        (0x101, 48_000, 48_000, 2)
    );
    assert_eq!(
        a.config,
        CodecConfig::Aac {
            asc: vec![0x11, 0x90].into()
        }
    );

    let video = run.track(0);
    assert_eq!(video.len(), 25);
    for (i, s) in video.iter().enumerate() {
        let i = i as i64;
        assert_eq!(s.dts, START as i64 + i * FRAME as i64, "sample {i}");
        assert_eq!((s.cts_offset, s.duration), (FRAME as i32, FRAME as u32));
        assert_eq!(s.keyframe, i % 10 == 0);
        // length-prefixed, no AUD
        let nals = crate::codec::nal::length_prefixed_nals(&s.data, 4).expect("prefixed");
        assert!(nals.iter().all(|n| n[0] & 0x1F != 9));
        assert_eq!(nals.len(), if i % 10 == 0 { 3 } else { 1 });
    }
    let audio = run.track(1);
    assert_eq!(audio.len() % 2, 0);
    let first = (START as i64 * 48_000 + 45_000) / 90_000;
    for (k, s) in audio.iter().enumerate() {
        assert_eq!(s.dts, first + 1024 * k as i64);
        assert_eq!((s.duration, s.keyframe), (1024, true));
        assert_eq!(
            s.data.len(),
            if k % 2 == 0 { 10 } else { 12 },
            "raw AAC, no ADTS"
        );
    }
    assert!(run.events.is_empty(), "{:?}", run.events);
}

#[test]
fn split_at_every_offset_and_byte_by_byte() {
    let data = av_stream(3, START, true);
    let reference = demux(&data);
    assert_eq!(reference.track(0).len(), 3);
    for k in 0..=data.len() {
        let run = demux_chunks([&data[..k], &data[k..]]);
        assert_eq!(run, reference, "split at {k}");
    }
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(demux_chunks(bytes), reference);
}

#[test]
fn garbage_between_packets_is_skipped() {
    let data = av_stream(12, START, true);
    let reference = demux(&data);
    let junk: [&[u8]; 5] = [
        &[0x47],
        &[1, 2, 0x47, 4, 5],
        &[0x47; 187],
        &[0x11; 189],
        &[
            0x47, 0, 0, 0x10, 0x47, 0x47, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
        ],
    ];
    let mut damaged = Vec::new();
    for (i, p) in packets(&data).into_iter().enumerate() {
        if i > 0 && i % 7 == 0 {
            damaged.extend_from_slice(junk[(i / 7) % junk.len()]);
        }
        damaged.extend_from_slice(p);
    }
    damaged.extend([0x47, 1, 2]); // truncated tail
    let run = demux(&damaged);
    assert_eq!(run.samples, reference.samples);
}

#[test]
fn lost_packet_drops_only_its_pes() {
    let data = av_stream(12, START, true);
    let reference = demux(&data);
    let pkts = packets(&data);
    // The second packet of the second IDR's PES (frame 10).
    let starts: Vec<usize> = (0..pkts.len())
        .filter(|&i| pid_of(pkts[i]) == VIDEO_PID && pkts[i][1] & 0x40 != 0)
        .collect();
    let lost = starts[10] + 1;
    assert_eq!(pid_of(pkts[lost]), VIDEO_PID);
    let damaged: Vec<u8> = pkts
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != lost)
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    let run = demux(&damaged);
    let video = run.track(0);
    assert_eq!(video.len(), 11);
    assert_eq!(
        video[9].duration,
        2 * FRAME as u32,
        "gap absorbed by the previous frame"
    );
    assert_eq!(video[10].dts, START as i64 + 11 * FRAME as i64);
    assert_eq!(run.track(1), reference.track(1));
    assert!(matches!(
        run.events[..],
        [TsEvent::PacketLoss { pid: VIDEO_PID, .. }]
    ));
}

#[test]
fn duplicate_packet_allowed_once() {
    let data = av_stream(12, START, true);
    let reference = demux(&data);
    let pkts = packets(&data);
    // The second packet of the second IDR's PES (frame 10).
    let dup = (0..pkts.len())
        .filter(|&i| pid_of(pkts[i]) == VIDEO_PID && pkts[i][1] & 0x40 != 0)
        .nth(10)
        .expect("frame 10")
        + 1;
    let mut once = Vec::new();
    let mut twice = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        once.extend_from_slice(p);
        twice.extend_from_slice(p);
        if i == dup {
            once.extend_from_slice(p);
            twice.extend_from_slice(p);
            twice.extend_from_slice(p);
        }
    }
    assert_eq!(demux(&once), reference);
    let run = demux(&twice);
    assert_eq!(
        run.track(0).len(),
        11,
        "third copy is a CC error: its PES is dropped"
    );
}

#[test]
fn corrupt_psi_is_ignored_until_a_good_copy() {
    let mut m = Mux::default();
    let mut bad_pat = pat_section(0);
    bad_pat[9] ^= 0xFF;
    m.section(0, &bad_pat);
    let mut bad_pmt = pmt_section(0, &[(0x0F, AUDIO_PID, &[])]);
    *bad_pmt.last_mut().expect("crc") ^= 1;
    m.pat();
    m.section(PMT_PID, &bad_pmt);
    m.audio(Some(0), &adts(5, 0)); // before any valid PMT: lost
    m.pmt(0, &[(0x0F, AUDIO_PID, &[])]);
    m.audio(Some(1920), &adts(5, 1));
    let run = demux(&m.out);
    assert_eq!(run.tracks.len(), 1);
    let audio = run.track(0);
    assert_eq!(audio.len(), 1);
    assert_eq!(audio[0].dts, 1024);
}

#[test]
fn timestamps_unwrap_across_33_bits() {
    let start = (1u64 << 33) - 5 * FRAME - 7;
    let run = demux(&av_stream(12, start, false));
    let video = run.track(0);
    assert_eq!(video.len(), 12);
    for (i, s) in video.iter().enumerate() {
        assert_eq!(s.dts, start as i64 + i as i64 * FRAME as i64);
    }
    let audio = run.track(1);
    assert!(audio.len() > 10);
    assert!(audio.windows(2).all(|w| w[1].dts - w[0].dts == 1024));
    assert!(audio.last().expect("audio").dts > (1i64 << 33) * 48_000 / 90_000);
    assert!(run.events.is_empty(), "{:?}", run.events);
}

#[test]
fn jumps_and_discontinuity_indicator_are_reported() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x1B, VIDEO_PID, &[])]);
    let key = idr(0);
    let pts = [
        0,
        3600,
        7200,
        7200 + 20 * 90_000,
        7200 + 20 * 90_000 + 3600,
        500,
    ];
    for (i, p) in pts.into_iter().enumerate() {
        let nals: [&[u8]; 3] = [SPS, PPS, &key];
        // the last frame goes back in time, announced by discontinuity_indicator
        m.video(p, None, &nals, if i == 5 { 0x80 } else { 0 });
    }
    let run = demux(&m.out);
    let v = run.track(0);
    let dts: Vec<i64> = v.iter().map(|s| s.dts).collect();
    assert_eq!(dts, vec![0, 3600, 7200, 1_807_200, 1_810_800, 500]);
    let durations: Vec<u32> = v.iter().map(|s| s.duration).collect();
    assert_eq!(durations, vec![3600; 6]);
    assert_eq!(
        run.events,
        vec![
            TsEvent::Discontinuity {
                track: 0,
                sample: 3,
                cause: DiscontinuityCause::TimestampJump
            },
            TsEvent::Discontinuity {
                track: 0,
                sample: 5,
                cause: DiscontinuityCause::Signalled
            },
        ]
    );
}

#[test]
fn audio_frames_span_pes_and_pts_jitter_is_absorbed() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x0F, AUDIO_PID, &[])]);
    let mut es = Vec::new();
    let mut starts = Vec::new();
    for k in 0..40u8 {
        starts.push(es.len());
        es.extend(adts(20 + usize::from(k % 7), k));
    }
    // PES of 50 bytes: PTS of the first frame starting inside, +-10 ticks of jitter; every
    // third PES carries no PTS at all.
    let base = 90_000u64;
    for (n, chunk_start) in (0..es.len()).step_by(50).enumerate() {
        let chunk = &es[chunk_start..(chunk_start + 50).min(es.len())];
        let first = starts.iter().position(|&s| s >= chunk_start);
        let pts = first.filter(|_| n % 3 != 1).map(|f| {
            base + f as u64 * AAC_TICKS_90K + [0, 5, 10][n.min(1) + n % 2] - 5 * n.min(1) as u64
        });
        m.audio(pts, chunk);
    }
    let run = demux(&m.out);
    let audio = run.track(0);
    assert_eq!(audio.len(), 40);
    for (k, s) in audio.iter().enumerate() {
        assert_eq!(s.dts, 48_000 + 1024 * k as i64, "frame {k}");
        assert_eq!(s.data.len(), 20 + k % 7);
        assert!(s.data.iter().all(|&b| b == k as u8));
    }
}

#[test]
fn audio_pts_gap_restarts_the_continuation() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x0F, AUDIO_PID, &[])]);
    m.audio(Some(0), &adts(4, 0));
    m.audio(Some(AAC_TICKS_90K), &adts(4, 1));
    m.audio(Some(5 * AAC_TICKS_90K), &adts(4, 2)); // three frames lost
    let run = demux(&m.out);
    let dts: Vec<i64> = run.track(0).iter().map(|s| s.dts).collect();
    assert_eq!(dts, vec![0, 1024, 5 * 1024]);
    assert!(run.events.is_empty());
}

#[test]
fn ready_waits_for_configs_then_probe_limit() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(
        0,
        &[
            (0x1B, VIDEO_PID, &[]),
            (0x0F, AUDIO_PID, &[]),
            (0x02, 0x102, &[]),
        ],
    );
    let mut d = TsDemuxer::new();
    d.push(&m.out).expect("push");
    assert!(!d.ready());
    // Audio only: the video stream never starts.
    let mut t = 0u64;
    while t <= 11 * 90_000 {
        let mut m2 = Mux::default();
        m2.cc.insert(AUDIO_PID, ((t / AAC_TICKS_90K) & 0xF) as u8);
        m2.audio(Some(t), &adts(4, 0));
        d.push(&m2.out).expect("push");
        if t < 10 * 90_000 {
            assert!(!d.ready(), "ready too early at {t}");
            assert!(d.tracks().is_empty() && d.pop_sample().is_none());
        }
        t += AAC_TICKS_90K;
    }
    assert!(d.ready() && d.pmt_seen());
    assert_eq!(d.tracks().len(), 1);
    assert_eq!(d.tracks()[0].id, u32::from(AUDIO_PID));
    let mut n = 0;
    while let Some(s) = d.pop_sample() {
        assert_eq!((s.track, s.dts), (0, n * 1024));
        n += 1;
    }
    assert!(n > 500);
}

#[test]
fn pes_without_pts_continues_the_access_unit() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x1B, VIDEO_PID, &[])]);
    m.video(0, None, &[SPS, PPS, &idr(1)], 0);
    let mut cont = vec![0, 0, 0, 1];
    cont.extend(idr(2));
    m.unit(VIDEO_PID, &pes(0xE0, None, None, &cont, false), 0);
    m.video(3600, None, &[&non_idr(3)], 0);
    let run = demux(&m.out);
    let v = run.track(0);
    assert_eq!(v.len(), 2);
    let nals = crate::codec::nal::length_prefixed_nals(&v[0].data, 4).expect("nals");
    assert_eq!(nals.len(), 4);
    assert_eq!(nals[3], idr(2).as_slice());
}

#[test]
fn pmt_change_breaks_timelines_and_adds_tracks() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x0F, AUDIO_PID, &[])]);
    m.audio(Some(0), &adts(4, 0));
    m.audio(Some(AAC_TICKS_90K), &adts(4, 1));
    m.pmt(1, &[(0x0F, AUDIO_PID, &[]), (0x1B, VIDEO_PID, &[])]);
    m.audio(Some(2 * AAC_TICKS_90K), &adts(4, 2));
    m.video(0, None, &[SPS, PPS, &idr(1)], 0);
    m.audio(Some(3 * AAC_TICKS_90K), &adts(4, 3));
    let run = demux(&m.out);
    assert_eq!(run.tracks.len(), 2);
    assert_eq!(run.tracks[1].id, u32::from(VIDEO_PID));
    assert_eq!(run.track(0).len(), 4);
    assert_eq!(run.track(1).len(), 1);
    assert_eq!(
        run.events,
        vec![TsEvent::Discontinuity {
            track: 0,
            sample: 2,
            cause: DiscontinuityCause::ProgramChange
        }]
    );
}

#[test]
fn unsupported_streams_do_not_block() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(
        0,
        &[
            (0x02, 0x1FF, &[]),
            (0x0F, AUDIO_PID, &[]),
            (0x06, 0x1FE, &[0x59, 0]),
        ],
    );
    m.audio(Some(0), &adts(4, 0));
    // A null packet: the last packet is only taken once the next sync byte confirms it.
    m.packet(0x1FFF, false, 0, &[0xFF; 184]);
    let mut d = TsDemuxer::new();
    d.push(&m.out).expect("push");
    assert!(d.ready());
    assert_eq!(d.tracks().len(), 1);
}

#[test]
fn mpeg_audio_layer_2_is_ignored_without_blocking() {
    let mut m = Mux::default();
    m.pat();
    m.pmt(0, &[(0x03, 0x102, &[]), (0x0F, AUDIO_PID, &[])]);
    // MPEG-1 layer II, 128 kbit/s, 44.1 kHz, mono: 417-byte frames.
    let mut mp2 = vec![0xFF, 0xFD, 0x80, 0xC0];
    mp2.resize(417, 0x55);
    m.unit(0x102, &pes(0xC0, Some(0), None, &mp2, true), 0);
    m.audio(Some(0), &adts(4, 0));
    m.packet(0x1FFF, false, 0, &[0xFF; 184]);
    let mut d = TsDemuxer::new();
    d.push(&m.out).expect("push");
    assert!(d.ready());
    assert_eq!(d.tracks().len(), 1);
    assert_eq!(d.tracks()[0].id, u32::from(AUDIO_PID));
}

#[test]
fn not_a_transport_stream() {
    let mut d = TsDemuxer::new();
    let zeros = vec![0u8; 1 << 16];
    let err = (0..40).find_map(|_| d.push(&zeros).err()).expect("error");
    assert!(err.to_string().contains("not an MPEG-TS"), "{err}");
}

#[test]
fn looks_like_ts_table() {
    let ts = av_stream(3, START, false);
    let mut m2ts = Vec::new();
    for p in packets(&ts) {
        m2ts.extend([0, 0, 0, 0]);
        m2ts.extend_from_slice(p);
    }
    let table: [(&[u8], bool); 6] = [
        (&ts, true),
        (&ts[..188], true),
        (&ts[..100], false),
        (&ts[1..], false),
        (&m2ts, true),
        (b"\0\0\0\x20ftypisom", false),
    ];
    for (i, (head, want)) in table.into_iter().enumerate() {
        assert_eq!(looks_like_ts(head), want, "case {i}");
    }
}

/// xorshift64*: deterministic pseudo-random bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn random_input_never_panics() {
    for seed in 1..4u64 {
        let data = noise(seed, 100_000);
        let _ = demux_chunks(data.chunks(997).collect::<Vec<_>>());
    }
    // Valid sync bytes and PIDs of a real program, random everything else: reaches the PES,
    // ADTS and NAL parsers with garbage.
    let mut header = Mux::default();
    header.pat();
    header.pmt(
        0,
        &[
            (0x1B, VIDEO_PID, &[]),
            (0x0F, AUDIO_PID, &[]),
            (0x81, 0x102, &[]),
            (0x03, 0x103, &[]),
        ],
    );
    for seed in 1..6u64 {
        let mut data = header.out.clone();
        let body = noise(seed, 188 * 600);
        for (i, p) in body.chunks(188).enumerate() {
            let pid = [VIDEO_PID, AUDIO_PID, 0x102, 0x103, 0, PMT_PID][i % 6];
            let mut p = p.to_vec();
            p[0] = 0x47;
            p[1] = (p[1] & 0x40) | (pid >> 8) as u8;
            p[2] = pid as u8;
            if i % 5 == 0 {
                // a plausible PES start
                p[1] |= 0x40;
                p[3] = 0x10 | (p[3] & 0x0F);
                p[4..10].copy_from_slice(&[0, 0, 1, 0xE0, 0, 0]);
                p[10] = 0x80;
                p[11] = 0xC0;
                p[12] = 10;
            }
            data.extend(p);
        }
        let _ = demux(&data);
    }
}

#[test]
fn every_prefix_never_panics() {
    let data = av_stream(4, START, true);
    for k in 0..data.len() {
        let run = demux(&data[..k]);
        assert!(run.track(0).len() <= 4);
    }
}

/// Regression (found by review during fuzzing, not by the fuzzer): every continuity error
/// queued a `PacketLoss` event, and a caller that never polls events (`TsFileDemuxer` as used
/// by `package`) made memory grow with the input. Only the latest 1024 are kept.
#[test]
fn unpolled_events_are_bounded() {
    let mut data = av_stream(10, START, false);
    let damaged_at = data.len() as u64;
    const DAMAGED: u64 = 5000;
    for i in 0..DAMAGED {
        // Payload-only video packets whose counter skips one each time: every one is a loss.
        let mut p = vec![
            0x47,
            (VIDEO_PID >> 8) as u8,
            VIDEO_PID as u8,
            0x10 | ((2 * i) & 0x0F) as u8,
        ];
        p.resize(188, 0xAB);
        data.extend(p);
    }
    let mut d = TsDemuxer::new();
    d.push(&data).unwrap();
    d.finish().unwrap();
    let mut events = vec![];
    while let Some(e) = d.pop_event() {
        events.push(e);
    }
    assert_eq!(events.len(), 1024);
    assert_eq!(
        events.last(),
        Some(&TsEvent::PacketLoss {
            pid: VIDEO_PID,
            offset: damaged_at + (DAMAGED - 1) * 188
        })
    );
    assert!(d.pop_sample().is_some(), "samples still delivered");
}
