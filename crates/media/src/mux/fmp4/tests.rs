// SPDX-License-Identifier: MIT OR Apache-2.0
//! Byte-level tests of the fMP4 muxer. The output is read back with `mp4-atom`'s decoders
//! (which this muxer does not use for fragments) and by walking box headers by hand.

use super::*;
use crate::sample::CodecConfig;
use mp4_atom::{Codec, Decode, Ftyp, Moof, Moov, Styp, TrunEntry};

/// x264 High profile SPS/PPS, 320x240 4:2:0 8-bit.
const AVC_SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
    0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60,
];
const AVC_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
/// x265 Main profile level 2 VPS/SPS/PPS, 320x240.
const HEVC_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x3c, 0x95, 0x98, 0x09,
];
const HEVC_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a, 0x02, 0x00,
    0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x32, 0x10,
];
const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
/// AAC-LC 48 kHz stereo.
const ASC: &[u8] = &[0x11, 0x90];

const V_TICKS: i64 = 3000; // 30 fps at 90 kHz
const A_TICKS: i64 = 1024; // AAC frame at 48 kHz

pub(super) fn avc_track() -> TrackInfo {
    TrackInfo {
        id: 101,
        config: CodecConfig::Avc {
            sps: vec![Bytes::from_static(AVC_SPS)],
            pps: vec![Bytes::from_static(AVC_PPS)],
            in_band: false,
        },
        timescale: 90_000,
        width: 320,
        height: 240,
        sample_rate: 0,
        channels: 0,
        language: None,
        duration: None,
    }
}

fn audio_track(config: CodecConfig) -> TrackInfo {
    TrackInfo {
        id: 102,
        config,
        timescale: 48_000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        language: Some("eng".into()),
        duration: None,
    }
}

pub(super) fn aac_track() -> TrackInfo {
    audio_track(CodecConfig::Aac {
        asc: Bytes::from_static(ASC),
    })
}

pub(super) fn sample(
    track: usize,
    dts: i64,
    cts_offset: i32,
    duration: i64,
    keyframe: bool,
) -> Sample {
    // Distinct, recognisable payloads: size and content derive from track and dts.
    let len = 5 + (dts.rem_euclid(97) as usize) + track * 3;
    let fill = (dts.rem_euclid(251) as u8) ^ (track as u8 * 0x55);
    Sample {
        track,
        dts,
        cts_offset,
        duration: duration as u32,
        keyframe,
        data: Bytes::from(vec![fill; len]),
    }
}

/// `frames` video frames from `first` (index in the stream) in a 1-keyframe-per-segment IBBP
/// pattern with audio interleaved by decode time. Video dts of frame i is i * V_TICKS - 2 frames
/// (B-frames behind an edit list), pts = i * V_TICKS... reordered: cts offsets 2, 4, 1, 1 frames.
pub(super) fn av_samples(first: i64, frames: i64) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut audio = (first * V_TICKS * 48_000 / 90_000 + A_TICKS - 1) / A_TICKS;
    for i in first..first + frames {
        let dts = i * V_TICKS - 2 * V_TICKS;
        let cts = match (i - first) % 4 {
            0 => 2,
            1 => 4,
            _ => 1,
        } * V_TICKS as i32;
        out.push(sample(0, dts, cts, V_TICKS, i == first));
        // Audio up to the end of this video frame (in seconds: (i+1)/30).
        while audio * A_TICKS * 90_000 < (i + 1) * V_TICKS * 48_000 {
            out.push(sample(1, audio * A_TICKS, 0, A_TICKS, false));
            audio += 1;
        }
    }
    out
}

pub(super) fn segment(index: u64, samples: Vec<Sample>) -> Segment {
    Segment {
        index,
        start: samples.first().map_or(0, |s| s.dts),
        duration: 0,
        timescale: 90_000,
        samples,
    }
}

/// Top-level boxes: (kind, start, size).
pub(super) fn boxes(data: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[pos + 4..pos + 8].try_into().unwrap();
        assert!(
            size >= 8 && pos + size <= data.len(),
            "box {kind:?} at {pos} size {size}"
        );
        out.push((kind, pos, size));
        pos += size;
    }
    assert_eq!(pos, data.len(), "boxes cover the whole buffer");
    out
}

struct Parsed {
    moof_start: usize,
    moof: Moof,
    mdat_start: usize,
    mdat_size: usize,
}

fn parse_segment(data: &[u8], with_styp: bool) -> Parsed {
    let b = boxes(data);
    let kinds: Vec<&[u8; 4]> = b.iter().map(|(k, ..)| k).collect();
    let want: &[&[u8; 4]] = if with_styp {
        &[b"styp", b"moof", b"mdat"]
    } else {
        &[b"moof", b"mdat"]
    };
    assert_eq!(kinds, want);
    let (_, moof_start, moof_size) = b[b.len() - 2];
    let (_, mdat_start, mdat_size) = b[b.len() - 1];
    let mut moof_bytes = &data[moof_start..moof_start + moof_size];
    let moof = Moof::decode(&mut moof_bytes).expect("moof decodes");
    Parsed {
        moof_start,
        moof,
        mdat_start,
        mdat_size,
    }
}

fn entries(moof: &Moof, traf: usize) -> Vec<TrunEntry> {
    moof.traf[traf].trun[0].samples.iter().collect()
}

#[test]
fn init_segment_describes_tracks() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let init = mux.init_segment().unwrap().unwrap();
    let b = boxes(&init);
    assert_eq!(
        b.iter().map(|x| &x.0).collect::<Vec<_>>(),
        [b"ftyp", b"moov"]
    );

    let mut buf = &init[..];
    let ftyp = Ftyp::decode(&mut buf).unwrap();
    assert_eq!(ftyp.major_brand, FourCC::new(b"iso6"));
    assert!(
        !ftyp.compatible_brands.contains(&FourCC::new(b"cmfc")),
        "two tracks: not CMAF"
    );
    let moov = Moov::decode(&mut buf).unwrap();
    assert_eq!(moov.mvhd.timescale, 1000);
    assert_eq!(moov.mvhd.duration, 0);
    assert_eq!(moov.mvhd.next_track_id, 3);
    assert_eq!(moov.trak.len(), 2);

    let v = &moov.trak[0];
    assert_eq!(v.tkhd.track_id, 1);
    assert!(v.tkhd.enabled);
    assert_eq!(
        (v.tkhd.width.integer(), v.tkhd.height.integer()),
        (320, 240)
    );
    assert_eq!(v.mdia.mdhd.timescale, 90_000);
    assert_eq!(v.mdia.hdlr.handler, FourCC::new(b"vide"));
    assert!(v.mdia.minf.vmhd.is_some());
    let stbl = &v.mdia.minf.stbl;
    assert!(stbl.stts.entries.is_empty() && stbl.stsc.entries.is_empty());
    let Codec::Avc1(avc1) = &stbl.stsd.codecs[0] else {
        panic!("avc1 expected, got {:?}", stbl.stsd.codecs)
    };
    assert_eq!((avc1.visual.width, avc1.visual.height), (320, 240));
    let avcc = &avc1.avcc;
    assert_eq!(
        (
            avcc.avc_profile_indication,
            avcc.profile_compatibility,
            avcc.avc_level_indication
        ),
        (100, 0, 13)
    );
    assert_eq!(avcc.length_size, 4);
    assert_eq!(avcc.sequence_parameter_sets, vec![AVC_SPS.to_vec()]);
    assert_eq!(avcc.picture_parameter_sets, vec![AVC_PPS.to_vec()]);
    let ext = avcc
        .ext
        .as_ref()
        .expect("High profile carries the avcC extension");
    assert_eq!(
        (ext.chroma_format, ext.bit_depth_luma, ext.bit_depth_chroma),
        (1, 8, 8)
    );

    let a = &moov.trak[1];
    assert_eq!(a.tkhd.track_id, 2);
    assert_eq!(a.tkhd.volume.integer(), 1);
    assert_eq!(a.mdia.mdhd.timescale, 48_000);
    assert_eq!(a.mdia.mdhd.language, "eng");
    assert_eq!(a.mdia.hdlr.handler, FourCC::new(b"soun"));
    assert!(a.mdia.minf.smhd.is_some());
    let Codec::Mp4a(mp4a) = &a.mdia.minf.stbl.stsd.codecs[0] else {
        panic!("mp4a expected")
    };
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_eq!(mp4a.audio.sample_rate.integer(), 48_000);
    let dc = &mp4a.esds.es_desc.dec_config;
    assert_eq!((dc.object_type_indication, dc.stream_type), (0x40, 5));
    assert_eq!(dc.dec_specific.as_ref().unwrap().raw, ASC);

    let mvex = moov.mvex.as_ref().expect("mvex");
    let ids: Vec<u32> = mvex.trex.iter().map(|t| t.track_id).collect();
    assert_eq!(ids, [1, 2]);
    assert!(mvex
        .trex
        .iter()
        .all(|t| t.default_sample_description_index == 1));
}

/// Sample entry per codec: (config, expected entry fourcc, config box fourcc, payload that
/// must appear verbatim).
#[test]
fn sample_entry_per_codec() {
    let av1c: &[u8] = &[0x81, 0x04, 0x0c, 0x00];
    let vpcc: &[u8] = &[1, 0, 0, 0, 0, 10, 0x82, 1, 1, 1, 0, 0];
    let dac3: &[u8] = &[0x10, 0x3d, 0xc0];
    // One independent substream, then the Atmos JOC extension byte pair (TS 102 366 F.6).
    let dec3: &[u8] = &[0x06, 0x00, 0x20, 0x0f, 0x00, 0x01, 0x10];
    let dops: &[u8] = &[0, 2, 0x01, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0];
    let video = |config| TrackInfo {
        config,
        ..avc_track()
    };
    type Case = (TrackInfo, &'static [u8; 4], &'static [u8; 4], Vec<u8>);
    let cases: Vec<Case> = vec![
        (avc_track(), b"avc1", b"avcC", AVC_SPS.to_vec()),
        (
            video(CodecConfig::Avc {
                sps: vec![Bytes::from_static(AVC_SPS)],
                pps: vec![],
                in_band: true,
            }),
            b"avc3",
            b"avcC",
            AVC_SPS.to_vec(),
        ),
        (
            video(CodecConfig::Hevc {
                vps: vec![Bytes::from_static(HEVC_VPS)],
                sps: vec![Bytes::from_static(HEVC_SPS)],
                pps: vec![Bytes::from_static(HEVC_PPS)],
                in_band: false,
            }),
            b"hvc1",
            b"hvcC",
            HEVC_SPS.to_vec(),
        ),
        (
            video(CodecConfig::Av1 {
                av1c: Bytes::from_static(av1c),
            }),
            b"av01",
            b"av1C",
            av1c.to_vec(),
        ),
        (
            video(CodecConfig::Vp9 {
                vpcc: Bytes::from_static(vpcc),
            }),
            b"vp09",
            b"vpcC",
            vpcc.to_vec(),
        ),
        (aac_track(), b"mp4a", b"esds", ASC.to_vec()),
        (
            audio_track(CodecConfig::Mp3),
            b"mp4a",
            b"esds",
            vec![0x6B, 0x15],
        ),
        (
            audio_track(CodecConfig::Ac3 {
                dac3: Bytes::from_static(dac3),
            }),
            b"ac-3",
            b"dac3",
            dac3.to_vec(),
        ),
        (
            audio_track(CodecConfig::Eac3 {
                dec3: Bytes::from_static(dec3),
            }),
            b"ec-3",
            b"dec3",
            dec3.to_vec(),
        ),
        (
            audio_track(CodecConfig::Opus {
                dops: Bytes::from_static(dops),
            }),
            b"Opus",
            b"dOps",
            dops.to_vec(),
        ),
    ];
    for (track, entry, config_box, payload) in cases {
        let name = track.config.name();
        let mut mux = Fmp4Muxer::new(vec![track]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let init = mux.init_segment().unwrap().unwrap();
        let mut buf = &init[..];
        let ftyp = Ftyp::decode(&mut buf).unwrap();
        assert!(
            ftyp.compatible_brands.contains(&FourCC::new(b"cmfc")),
            "{name}: single track"
        );
        let moov = Moov::decode(&mut buf).unwrap_or_else(|e| panic!("{name}: moov: {e}"));
        let codecs = &moov.trak[0].mdia.minf.stbl.stsd.codecs;
        assert_eq!(codecs.len(), 1, "{name}");
        let find = |needle: &[u8]| init.windows(needle.len()).position(|w| w == needle);
        let at = find(entry).unwrap_or_else(|| panic!("{name}: no {entry:?}"));
        let cfg = find(config_box).unwrap_or_else(|| panic!("{name}: no {config_box:?}"));
        assert!(cfg > at, "{name}: config box inside the sample entry");
        assert!(
            find(&payload).is_some_and(|p| p > cfg),
            "{name}: payload verbatim"
        );
        if let Some(audio) = codecs[0].audio() {
            assert_eq!(
                (audio.channel_count, audio.sample_rate.integer()),
                (2, 48_000),
                "{name}"
            );
        }
    }
}

#[test]
fn hvcc_fields_come_from_the_sps() {
    let track = TrackInfo {
        config: CodecConfig::Hevc {
            vps: vec![Bytes::from_static(HEVC_VPS)],
            sps: vec![Bytes::from_static(HEVC_SPS)],
            pps: vec![Bytes::from_static(HEVC_PPS)],
            in_band: false,
        },
        ..avc_track()
    };
    let mut mux = Fmp4Muxer::new(vec![track]).unwrap();
    let init = mux.init_segment().unwrap().unwrap();
    let mut buf = &init[..];
    Ftyp::decode(&mut buf).unwrap();
    let moov = Moov::decode(&mut buf).unwrap();
    let Codec::Hvc1(hvc1) = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] else {
        panic!("hvc1 expected")
    };
    let h = &hvc1.hvcc;
    assert_eq!((h.general_profile_space, h.general_tier_flag), (0, false));
    assert_eq!((h.general_profile_idc, h.general_level_idc), (1, 60));
    assert_eq!(h.general_profile_compatibility_flags, [0x60, 0, 0, 0]);
    assert_eq!(h.general_constraint_indicator_flags, [0x90, 0, 0, 0, 0, 0]);
    assert_eq!(
        (
            h.chroma_format_idc,
            h.bit_depth_luma_minus8,
            h.bit_depth_chroma_minus8
        ),
        (1, 0, 0)
    );
    assert_eq!((h.num_temporal_layers, h.temporal_id_nested), (1, true));
    assert_eq!(h.length_size_minus_one, 3);
    let types: Vec<(u8, bool)> = h
        .arrays
        .iter()
        .map(|a| (a.nal_unit_type, a.completeness))
        .collect();
    assert_eq!(types, [(32, true), (33, true), (34, true)]);
}

#[test]
fn bad_configs_are_rejected() {
    let avc = |sps: &[u8], pps: Vec<Bytes>| TrackInfo {
        config: CodecConfig::Avc {
            sps: vec![Bytes::copy_from_slice(sps)],
            pps,
            in_band: false,
        },
        ..avc_track()
    };
    let pps = || vec![Bytes::from_static(AVC_PPS)];
    let cases: Vec<(&str, TrackInfo)> = vec![
        ("SPS NAL of wrong type", avc(AVC_PPS, pps())),
        ("SPS too short", avc(&[0x67, 0x64], pps())),
        ("avc1 without PPS", avc(AVC_SPS, vec![])),
        (
            "empty ASC",
            audio_track(CodecConfig::Aac { asc: Bytes::new() }),
        ),
        (
            "dac3 of 2 bytes",
            audio_track(CodecConfig::Ac3 {
                dac3: Bytes::from_static(&[1, 2]),
            }),
        ),
        (
            "vpcC truncated",
            audio_track(CodecConfig::Vp9 {
                vpcc: Bytes::from_static(&[1, 0]),
            }),
        ),
        (
            "av1C bad marker",
            audio_track(CodecConfig::Av1 {
                av1c: Bytes::from_static(&[0, 0, 0, 0]),
            }),
        ),
        (
            "dOps bad version",
            audio_track(CodecConfig::Opus {
                dops: Bytes::from_static(&[1; 11]),
            }),
        ),
        (
            "hvc1 without VPS",
            TrackInfo {
                config: CodecConfig::Hevc {
                    vps: vec![],
                    sps: vec![Bytes::from_static(HEVC_SPS)],
                    pps: vec![Bytes::from_static(HEVC_PPS)],
                    in_band: false,
                },
                ..avc_track()
            },
        ),
        (
            "zero timescale",
            TrackInfo {
                timescale: 0,
                ..aac_track()
            },
        ),
        (
            "width over 16 bits",
            TrackInfo {
                width: 70_000,
                ..avc_track()
            },
        ),
    ];
    for (name, track) in cases {
        let err = Fmp4Muxer::new(vec![track]).expect_err(name);
        assert!(matches!(err, Error::BadCodecConfig { .. }), "{name}: {err}");
    }
    assert!(matches!(Fmp4Muxer::new(vec![]), Err(Error::NoTracks)));
}

#[test]
fn segment_boxes_add_up_and_data_offsets_point_at_payload() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let samples = av_samples(0, 8);
    let mut out = vec![0xEE; 3]; // pre-existing bytes must be kept
    mux.write_segment(&segment(0, samples.clone()), &mut out)
        .unwrap();
    assert_eq!(&out[..3], &[0xEE; 3]);
    let data = &out[3..];
    let p = parse_segment(data, true);
    let mut styp_buf = data;
    let styp = Styp::decode(&mut styp_buf).unwrap();
    assert_eq!(styp.major_brand, FourCC::new(b"msdh"));

    assert_eq!(p.moof.mfhd.sequence_number, 1);
    assert_eq!(p.moof.traf.len(), 2);
    let mut expected_payload = Vec::new();
    for (i, traf) in p.moof.traf.iter().enumerate() {
        assert_eq!(traf.tfhd.track_id, i as u32 + 1);
        assert!(traf.tfhd.default_base_is_moof);
        assert_eq!(traf.trun.len(), 1);
        let track: Vec<&Sample> = samples.iter().filter(|s| s.track == i).collect();
        let e = entries(&p.moof, i);
        assert_eq!(e.len(), track.len());
        // data_offset is relative to the moof and lands on this track's first byte.
        let offset = traf.trun[0].data_offset.unwrap() as usize;
        let at = p.moof_start + offset;
        assert_eq!(at, p.mdat_start + 8 + expected_payload.len(), "track {i}");
        let mut pos = at;
        for (s, e) in track.iter().zip(&e) {
            assert_eq!(e.size, Some(s.data.len() as u32));
            assert_eq!(&data[pos..pos + s.data.len()], &s.data[..]);
            pos += s.data.len();
            expected_payload.extend_from_slice(&s.data);
        }
    }
    assert_eq!(
        &data[p.mdat_start + 8..p.mdat_start + p.mdat_size],
        &expected_payload[..]
    );
    assert_eq!(
        p.mdat_size,
        8 + samples.iter().map(|s| s.data.len()).sum::<usize>()
    );
}

#[test]
fn sample_flags_durations_and_composition_offsets() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let mut samples = av_samples(0, 8);
    // A wrong duration field inside the run is ignored: durations follow the dts.
    samples[2].duration = 7;
    let mut out = Vec::new();
    mux.write_fragment(&samples, &mut out).unwrap();
    let p = parse_segment(&out, false);
    for (i, traf) in p.moof.traf.iter().enumerate() {
        let track: Vec<&Sample> = samples.iter().filter(|s| s.track == i).collect();
        let shift = -track[0].dts.min(0);
        assert_eq!(
            traf.tfdt.as_ref().unwrap().base_media_decode_time as i64,
            track[0].dts + shift
        );
        for (k, (s, e)) in track.iter().zip(entries(&p.moof, i)).enumerate() {
            let want_duration = track
                .get(k + 1)
                .map_or(s.duration as i64, |n| n.dts - s.dts);
            assert_eq!(
                e.duration,
                Some(want_duration as u32),
                "track {i} sample {k}"
            );
            let want_flags = if i == 1 || s.keyframe {
                SYNC_SAMPLE_FLAGS
            } else {
                NON_SYNC_SAMPLE_FLAGS
            };
            assert_eq!(e.flags, Some(want_flags), "track {i} sample {k}");
            assert_eq!(
                e.cts,
                Some(i64::from(s.cts_offset) - shift),
                "track {i} sample {k}"
            );
        }
    }
    assert_eq!(entries(&p.moof, 0)[0].flags, Some(0x0200_0000));
    assert_eq!(entries(&p.moof, 0)[1].flags, Some(0x0101_0000));
}

/// Replays the written timeline: decode time = tfdt + preceding durations, presentation time
/// = decode time + composition offset, per track, across all fragments.
fn presentation_times(fragments: &[Vec<u8>], with_styp: bool) -> Vec<Vec<(i64, i64)>> {
    let mut per_track: Vec<Vec<(i64, i64)>> = vec![Vec::new(), Vec::new()];
    for f in fragments {
        let p = parse_segment(f, with_styp);
        for traf in &p.moof.traf {
            let t = traf.tfhd.track_id as usize - 1;
            let mut dt = traf.tfdt.as_ref().unwrap().base_media_decode_time as i64;
            for e in traf.trun[0].samples.iter() {
                per_track[t].push((dt, dt + e.cts.unwrap()));
                dt += i64::from(e.duration.unwrap());
            }
        }
    }
    per_track
}

#[test]
fn tfdt_continues_and_negative_dts_shift_keeps_pts() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let all: Vec<Sample> = (0..3).flat_map(|k| av_samples(k * 8, 8)).collect();
    assert!(all[0].dts < 0, "fixture starts with a negative dts");
    let mut fragments = Vec::new();
    for k in 0..3u64 {
        let seg: Vec<Sample> = av_samples(k as i64 * 8, 8);
        let mut out = Vec::new();
        mux.write_segment(&segment(k, seg), &mut out).unwrap();
        let p = parse_segment(&out, true);
        assert_eq!(p.moof.mfhd.sequence_number, k as u32 + 1);
        fragments.push(out);
    }
    assert_eq!(mux.next_sequence_number(), 4);
    let times = presentation_times(&fragments, true);
    for (t, times) in times.iter().enumerate() {
        let input: Vec<&Sample> = all.iter().filter(|s| s.track == t).collect();
        assert_eq!(times.len(), input.len());
        let shift = -input[0].dts.min(0);
        for (k, (s, &(dt, pt))) in input.iter().zip(times).enumerate() {
            assert_eq!(
                dt,
                s.dts + shift,
                "track {t} sample {k}: decode time continuous"
            );
            assert_eq!(pt, s.pts(), "track {t} sample {k}: presentation time kept");
        }
    }
    // Video was shifted by two frames, audio not at all: tfdt of the first fragment is 0 for
    // both and the first video frame is presented at 0, in sync with the audio.
    assert_eq!(times[0][0], (0, 0));
    assert_eq!(times[1][0], (0, 0));
}

#[test]
fn parts_are_fragments_with_increasing_sequence_numbers() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let samples = av_samples(0, 8);
    let (a, b) = samples.split_at(9);
    let mut seg = Vec::new();
    mux.write_styp(&mut seg);
    let start_a = seg.len();
    mux.write_fragment(a, &mut seg).unwrap();
    let start_b = seg.len();
    mux.write_fragment(b, &mut seg).unwrap();
    let pa = parse_segment(&seg[start_a..start_b], false);
    let pb = parse_segment(&seg[start_b..], false);
    assert_eq!(
        (pa.moof.mfhd.sequence_number, pb.moof.mfhd.sequence_number),
        (1, 2)
    );
    let times = presentation_times(
        &[seg[start_a..start_b].to_vec(), seg[start_b..].to_vec()],
        false,
    );
    for (t, times) in times.iter().enumerate() {
        let input: Vec<&Sample> = samples.iter().filter(|s| s.track == t).collect();
        let pts: Vec<i64> = times.iter().map(|x| x.1).collect();
        assert_eq!(
            pts,
            input.iter().map(|s| s.pts()).collect::<Vec<_>>(),
            "track {t}"
        );
    }
}

#[test]
fn errors_leave_output_and_state_untouched() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let mut samples = av_samples(0, 8);
    // The third video frame goes backwards in decode time.
    let third_video = samples
        .iter()
        .position(|s| s.track == 0 && s.dts == 0)
        .unwrap();
    samples[third_video].dts = -100_000;
    let mut out = vec![1, 2, 3];
    let err = mux
        .write_segment(&segment(0, samples), &mut out)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadSample {
                track: 101,
                sample: 2,
                dts: -100_000,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(mux.next_sequence_number(), 1);

    let mut stray = av_samples(0, 2);
    stray[1].track = 7;
    let err = mux.write_fragment(&stray, &mut out).unwrap_err();
    assert!(matches!(err, Error::BadSample { .. }), "{err}");
    assert!(mux.write_fragment(&[], &mut out).is_err(), "empty fragment");
    assert_eq!(out, [1, 2, 3]);

    mux.write_segment(&segment(0, av_samples(0, 8)), &mut out)
        .unwrap();
    let p = parse_segment(&out[3..], true);
    assert_eq!(p.moof.mfhd.sequence_number, 1);

    // A later fragment may not start before the track's (shifted) origin.
    let mut early = av_samples(8, 4);
    for s in early.iter_mut().filter(|s| s.track == 0) {
        s.dts -= 1_000_000;
    }
    let err = mux.write_fragment(&early, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::BadSample { track: 101, .. }), "{err}");
}

#[test]
fn selection_writes_one_rendition() {
    let tracks = [avc_track(), aac_track()];
    let mut mux = Fmp4Muxer::with_selection(&tracks, &[1]).unwrap();
    assert_eq!(mux.tracks().len(), 1);
    assert_eq!(mux.segment_extension(), "m4s");
    let init = mux.init_segment().unwrap().unwrap();
    let mut buf = &init[..];
    Ftyp::decode(&mut buf).unwrap();
    let moov = Moov::decode(&mut buf).unwrap();
    assert_eq!(moov.trak.len(), 1);
    assert_eq!(moov.trak[0].tkhd.track_id, 1);
    assert_eq!(moov.trak[0].mdia.hdlr.handler, FourCC::new(b"soun"));

    let samples = av_samples(0, 8);
    let mut out = Vec::new();
    mux.write_segment(&segment(0, samples.clone()), &mut out)
        .unwrap();
    let mut styp_buf = &out[..];
    let styp = Styp::decode(&mut styp_buf).unwrap();
    assert!(styp.compatible_brands.contains(&FourCC::new(b"cmfs")));
    let p = parse_segment(&out, true);
    assert_eq!(p.moof.traf.len(), 1);
    assert_eq!(p.moof.traf[0].tfhd.track_id, 1);
    let audio_bytes: usize = samples
        .iter()
        .filter(|s| s.track == 1)
        .map(|s| s.data.len())
        .sum();
    assert_eq!(p.mdat_size, 8 + audio_bytes);

    assert!(
        Fmp4Muxer::with_selection(&tracks, &[1, 1]).is_err(),
        "duplicate"
    );
    assert!(
        Fmp4Muxer::with_selection(&tracks, &[2]).is_err(),
        "out of range"
    );
    assert!(Fmp4Muxer::with_selection(&tracks, &[]).is_err(), "empty");
}

#[test]
fn segment_parts_equal_write_segment() {
    // Same input through both entry points, two segments each (state carries over).
    let mut whole = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let mut parts = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    for (i, first) in [(0u64, 0i64), (1, 8)] {
        let seg = segment(i, av_samples(first, 8));
        let mut want = vec![9];
        whole.write_segment(&seg, &mut want).unwrap();
        let mut head = vec![9];
        let pieces = parts.write_segment_parts(&seg, &mut head).unwrap();
        assert_eq!(
            pieces.len(),
            seg.samples.len() + 1,
            "one head, then the samples"
        );
        let mut got = vec![9];
        for p in &pieces {
            got.extend_from_slice(p.bytes(&head));
        }
        assert_eq!(got, want, "segment {i}");
    }
    assert_eq!(parts.next_sequence_number(), whole.next_sequence_number());

    // Errors leave the head buffer and the state as they were.
    let mut bad = av_samples(16, 8);
    bad[2].dts = -1;
    let mut head = vec![7];
    assert!(parts
        .write_segment_parts(&segment(2, bad), &mut head)
        .is_err());
    assert_eq!(head, [7]);
    assert_eq!(parts.next_sequence_number(), 3);
}
