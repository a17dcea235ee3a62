// SPDX-License-Identifier: MIT OR Apache-2.0
//! Segmenter → TS / fMP4 muxers → playlists on fuzzed *samples*: tracks with real or fuzzed codec
//! configurations, and samples with arbitrary decode times (including both ends of the i64
//! range), composition offsets, durations, keyframe flags and payloads. Reaches the muxers far
//! more directly than going through a demuxer. Must never panic; TS output must be whole
//! 188-byte packets.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use media::package::{package, Format, PackageOptions};
use media::sample::Demuxer;
use media::store::MemStore;
use media::{CodecConfig, Sample, TrackInfo};

/// Samples per input, at most.
const MAX_SAMPLES: usize = 512;

// Configuration records from 64x64 ffmpeg encodes (x264, x265) and common audio setups.
const AVC_SPS: &[u8] = &[
    0x67, 0x4d, 0x40, 0x0a, 0xec, 0xa2, 0x13, 0x60, 0x22, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00,
    0x03, 0x00, 0x28, 0x1e, 0x24, 0x4b, 0x2c,
];
const AVC_PPS: &[u8] = &[0x68, 0xce, 0x0f, 0xc8];
const HEVC_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x1e, 0x95, 0x94, 0x09,
];
const HEVC_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x1e, 0xa0, 0x20, 0x81, 0x05, 0x96, 0x56, 0x54, 0xa4, 0xc2, 0xf0, 0x16, 0x80, 0x80, 0x00,
    0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x05, 0x04,
];
const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc0, 0x73, 0xc0, 0x89];
/// AAC-LC 48 kHz stereo.
const ASC: &[u8] = &[0x11, 0x90];
/// AC-3 48 kHz 2/0, 192 kbit/s.
const DAC3: &[u8] = &[0x10, 0x11, 0x40];
/// E-AC-3 48 kHz 2/0, 64 kbit/s, one independent substream.
const DEC3: &[u8] = &[0x02, 0x00, 0x20, 0x04, 0x00];
/// Opus stereo, 312 pre-skip, 48 kHz.
const DOPS: &[u8] = &[
    0x00, 0x02, 0x01, 0x38, 0x00, 0x00, 0xbb, 0x80, 0x00, 0x00, 0x00,
];
const AV1C: &[u8] = &[0x81, 0x08, 0x0c, 0x00];
const VPCC: &[u8] = &[
    0x01, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x80, 0x02, 0x02, 0x02, 0x00, 0x00,
];

struct VecDemuxer {
    tracks: Vec<TrackInfo>,
    samples: std::vec::IntoIter<Sample>,
}

impl Demuxer for VecDemuxer {
    fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }
    fn next_sample(&mut self) -> media::Result<Option<Sample>> {
        Ok(self.samples.next())
    }
}

/// A known-good record most of the time, fuzzed bytes otherwise.
fn record(u: &mut Unstructured<'_>, good: &'static [u8]) -> Result<Bytes> {
    Ok(if u.ratio(1, 8)? {
        let len = usize::from(u.int_in_range(0u8..=48)?);
        Bytes::copy_from_slice(u.bytes(len)?)
    } else {
        Bytes::from_static(good)
    })
}

fn config(u: &mut Unstructured<'_>) -> Result<CodecConfig> {
    Ok(match u.int_in_range(0u8..=8)? {
        0 => CodecConfig::Avc {
            sps: vec![record(u, AVC_SPS)?],
            pps: vec![record(u, AVC_PPS)?],
            in_band: u.arbitrary()?,
        },
        1 => CodecConfig::Hevc {
            vps: vec![record(u, HEVC_VPS)?],
            sps: vec![record(u, HEVC_SPS)?],
            pps: vec![record(u, HEVC_PPS)?],
            in_band: u.arbitrary()?,
        },
        2 => CodecConfig::Aac {
            asc: record(u, ASC)?,
        },
        3 => CodecConfig::Ac3 {
            dac3: record(u, DAC3)?,
        },
        4 => CodecConfig::Eac3 {
            dec3: record(u, DEC3)?,
        },
        5 => CodecConfig::Mp3,
        6 => CodecConfig::Opus {
            dops: record(u, DOPS)?,
        },
        7 => CodecConfig::Av1 {
            av1c: record(u, AV1C)?,
        },
        _ => CodecConfig::Vp9 {
            vpcc: record(u, VPCC)?,
        },
    })
}

fn pick<T: Copy>(
    u: &mut Unstructured<'_>,
    common: &[T],
    any: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<T> {
    let i = usize::from(u.arbitrary::<u8>()?);
    // Listed values first, then mostly the first one, rarely anything at all.
    match common
        .get(i)
        .or(if i < 200 { common.first() } else { None })
    {
        Some(&v) => Ok(v),
        None => any(u),
    }
}

fn track(u: &mut Unstructured<'_>, id: u32) -> Result<TrackInfo> {
    let config = config(u)?;
    let timescale = pick(u, &[90_000, 1000, 48_000, 1, 0, u32::MAX], |u| {
        u.arbitrary()
    })?;
    Ok(TrackInfo {
        id,
        config,
        timescale,
        width: pick(u, &[64, 0, u32::MAX], |u| u.arbitrary())?,
        height: pick(u, &[64, 0, u32::MAX], |u| u.arbitrary())?,
        sample_rate: pick(u, &[48_000, 0, u32::MAX], |u| u.arbitrary())?,
        channels: pick(u, &[2, 0, u16::MAX], |u| u.arbitrary())?,
        language: None,
        duration: u.arbitrary()?,
    })
}

/// Payload: for H.264/HEVC mostly length-prefixed NAL units (with a chosen type byte),
/// otherwise raw bytes.
fn payload(u: &mut Unstructured<'_>, config: &CodecConfig) -> Result<Bytes> {
    let nal_video = matches!(config, CodecConfig::Avc { .. } | CodecConfig::Hevc { .. });
    if nal_video && u.ratio(7, 8)? {
        let mut out = Vec::new();
        for _ in 0..u.int_in_range(0u8..=4)? {
            let len = usize::from(u.int_in_range(0u8..=64)?);
            let body = u.bytes(len)?;
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(body);
        }
        return Ok(out.into());
    }
    let len = usize::from(u.arbitrary::<u8>()?) * 4;
    let len = len.min(u.len());
    Ok(Bytes::copy_from_slice(u.bytes(len)?))
}

fn build(u: &mut Unstructured<'_>) -> Result<(PackageOptions, VecDemuxer)> {
    let flags: u8 = u.arbitrary()?;
    let segment_duration = pick(
        u,
        &[
            1.0,
            0.5,
            6.0,
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            1e-9,
            1e300,
        ],
        |u| u.arbitrary(),
    )?;
    let opts = PackageOptions {
        format: if flags & 1 == 0 {
            Format::Ts
        } else {
            Format::Fmp4
        },
        single_file: flags & 2 != 0,
        allow_hevc_ts: flags & 4 == 0,
        segment_duration,
        // Tiny piece limit: long segments are written in pieces.
        max_buffered_bytes: if flags & 8 == 0 { 32 << 20 } else { 1024 },
        ..Default::default()
    };
    let n = u.int_in_range(1u8..=3)?;
    let mut tracks = Vec::new();
    for i in 0..n {
        tracks.push(track(u, u32::from(i) + 1)?);
    }
    let mut next_dts = vec![0i64; tracks.len()];
    let mut samples = Vec::new();
    while !u.is_empty() && samples.len() < MAX_SAMPLES {
        let ti = usize::from(u.arbitrary::<u8>()?) % tracks.len();
        let Some(t) = tracks.get(ti) else { break };
        let prev = next_dts.get(ti).copied().unwrap_or(0);
        let duration: u32 = pick(u, &[3000, 1024, 1, 0, u32::MAX], |u| u.arbitrary())?;
        let dts = pick(
            u,
            &[prev, prev.wrapping_sub(1), i64::MIN, i64::MAX - 1],
            |u| u.arbitrary(),
        )?;
        let cts_offset = pick(u, &[0, 3000, -3000, i32::MIN, i32::MAX], |u| u.arbitrary())?;
        let keyframe = u.arbitrary()?;
        let data = payload(u, &t.config)?;
        if let Some(d) = next_dts.get_mut(ti) {
            *d = dts.wrapping_add(i64::from(duration));
        }
        samples.push(Sample {
            track: ti,
            dts,
            cts_offset,
            duration,
            keyframe,
            data,
        });
    }
    Ok((
        opts,
        VecDemuxer {
            tracks,
            samples: samples.into_iter(),
        },
    ))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((opts, mut demux)) = build(&mut u) else {
        return;
    };
    let mut store = MemStore::default();
    if package(&mut demux, &opts, &mut store, &mut |_| {}).is_ok() && opts.format == Format::Ts {
        for (name, bytes) in &store.objects {
            if name.ends_with(".ts") {
                assert_eq!(bytes.len() % 188, 0, "{name}: not whole TS packets");
                assert!(
                    bytes.chunks(188).all(|p| p.first() == Some(&0x47)),
                    "{name}: lost sync"
                );
            }
        }
    }
});
