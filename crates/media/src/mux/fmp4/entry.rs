// SPDX-License-Identifier: MIT OR Apache-2.0
//! Sample entries (the `stsd` children) built from a track's [`CodecConfig`].
//!
//! Configuration records the muxer derives itself (avcC, hvcC, esds) are built as `mp4-atom`
//! structs. Records the input already carries as box payloads (av1C, vpcC, dac3, dec3, dOps)
//! are checked with `mp4-atom`'s parsers but written back byte for byte: re-encoding them
//! would drop what the parser does not model (e.g. the Dolby Atmos JOC extension after the
//! substreams of dec3, ETSI TS 102 366 Annex F.6).

use bytes::Bytes;
use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor, SLConfig};
use mp4_atom::{
    Ac3SpecificBox, Atom, Audio, Av1c, Avcc, AvccExt, BufMut, Dops, Ec3SpecificBox, Encode, Esds,
    FixedPoint, FourCC, HvcCArray, Hvcc, Visual, VpcC,
};

use crate::codec::{h265, nal};
use crate::error::{Error, Result};
use crate::sample::{CodecConfig, TrackInfo};

/// A sample entry ready to encode: everything that can fail on bad input has been checked.
#[derive(Debug, Clone)]
pub(super) struct SampleEntry {
    pub kind: FourCC,
    header: EntryHeader,
    configs: Vec<ConfigBox>,
}

#[derive(Debug, Clone)]
enum EntryHeader {
    Visual(Visual),
    Audio(Audio),
}

#[derive(Debug, Clone)]
enum ConfigBox {
    Avcc(Avcc),
    Hvcc(Hvcc),
    Esds(Esds),
    /// A box written as `size | kind | payload`, the payload copied from the input.
    Raw(FourCC, Bytes),
    /// A whole box, header included (`sinf`).
    Verbatim(Vec<u8>),
}

impl SampleEntry {
    pub fn encode(&self, buf: &mut Vec<u8>) -> mp4_atom::Result<()> {
        buf.encode_atom(self.kind, |b| {
            match &self.header {
                EntryHeader::Visual(v) => v.encode(b)?,
                EntryHeader::Audio(a) => a.encode(b)?,
            }
            for config in &self.configs {
                match config {
                    ConfigBox::Avcc(c) => c.encode(b)?,
                    ConfigBox::Hvcc(c) => c.encode(b)?,
                    ConfigBox::Esds(c) => c.encode(b)?,
                    ConfigBox::Raw(kind, payload) => b.encode_atom(*kind, |b| {
                        b.append_slice(payload);
                        Ok(())
                    })?,
                    ConfigBox::Verbatim(bytes) => b.append_slice(bytes),
                }
            }
            Ok(())
        })
    }
}

impl SampleEntry {
    /// Turns the entry into a protected one (ISO/IEC 14496-12 §8.12; ISO/IEC 23001-7 §4):
    /// `encv`/`enca` with `sinf(original format)` after the configuration boxes.
    pub fn protect(&mut self, sinf: impl FnOnce([u8; 4]) -> Vec<u8>) {
        let original = <[u8; 4]>::from(self.kind);
        self.kind = FourCC::new(match self.header {
            EntryHeader::Visual(_) => b"encv",
            EntryHeader::Audio(_) => b"enca",
        });
        self.configs.push(ConfigBox::Verbatim(sinf(original)));
    }
}

/// MPEG-4 objectTypeIndication values (ISO/IEC 14496-1 Table 5, mp4ra.org).
const OTI_AAC: u8 = 0x40;
const OTI_MP3: u8 = 0x6B;
/// streamType AudioStream (ISO/IEC 14496-1 Table 6).
const STREAM_TYPE_AUDIO: u8 = 0x05;

pub(super) fn sample_entry(t: &TrackInfo) -> Result<SampleEntry> {
    let bad = |msg: String| Error::BadCodecConfig { track: t.id, msg };
    let (kind, header, configs) = match &t.config {
        CodecConfig::Avc { sps, pps, in_band } => {
            let kind = if *in_band { b"avc3" } else { b"avc1" };
            (
                kind,
                visual(t)?,
                vec![ConfigBox::Avcc(avcc(sps, pps, *in_band).map_err(bad)?)],
            )
        }
        CodecConfig::Hevc {
            vps,
            sps,
            pps,
            in_band,
        } => {
            // Apple HLS authoring spec 1.10: hvc1 (parameter sets out of band) is what Apple
            // devices play; hev1 is written only when the input says they are in band.
            let kind = if *in_band { b"hev1" } else { b"hvc1" };
            let hvcc = hvcc(vps, sps, pps, *in_band).map_err(bad)?;
            (kind, visual(t)?, vec![ConfigBox::Hvcc(hvcc)])
        }
        CodecConfig::Av1 { av1c } => {
            // AV1 Codec ISO Media File Format Binding §2.3.
            check_payload::<Av1c>(av1c).map_err(bad)?;
            (b"av01", visual(t)?, vec![raw(b"av1C", av1c)])
        }
        CodecConfig::Vp9 { vpcc } => {
            // VP Codec ISO Media File Format Binding §2.2 (vpcC version 1, full box).
            check_payload::<VpcC>(vpcc).map_err(bad)?;
            (b"vp09", visual(t)?, vec![raw(b"vpcC", vpcc)])
        }
        CodecConfig::Mpeg4Visual { .. } => {
            return Err(Error::FormatMismatch {
                codec: t.config.name().to_owned(),
                format: "fMP4",
                why: "HLS carries MPEG-4 Part 2 video in MPEG-TS only (--format ts)",
            });
        }
        CodecConfig::Aac { asc } => {
            if asc.is_empty() {
                return Err(bad("empty AudioSpecificConfig".into()));
            }
            let esds = esds(OTI_AAC, Some(asc));
            (b"mp4a", audio(t, None), vec![ConfigBox::Esds(esds)])
        }
        CodecConfig::Mp3 => {
            // MP3 in MP4: mp4a with objectTypeIndication 0x6B (MPEG-1 audio), no
            // DecoderSpecificInfo (ISO/IEC 14496-3 does not define one for Layer III).
            let esds = esds(OTI_MP3, None);
            (b"mp4a", audio(t, None), vec![ConfigBox::Esds(esds)])
        }
        CodecConfig::Ac3 { dac3 } => {
            // ETSI TS 102 366 Annex F.4: the AC3SpecificBox body is exactly 3 bytes.
            if dac3.len() != 3 {
                return Err(bad(format!("dac3 is {} bytes, expected 3", dac3.len())));
            }
            check_payload::<Ac3SpecificBox>(dac3).map_err(bad)?;
            (b"ac-3", audio(t, None), vec![raw(b"dac3", dac3)])
        }
        CodecConfig::Eac3 { dec3 } => {
            // ETSI TS 102 366 Annex F.6.
            check_payload::<Ec3SpecificBox>(dec3).map_err(bad)?;
            (b"ec-3", audio(t, None), vec![raw(b"dec3", dec3)])
        }
        CodecConfig::Opus { dops } => {
            // Encapsulation of Opus in ISOBMFF §4.3.1: samplerate is 48000 whatever the
            // input rate; the real one travels in dOps.
            check_payload::<Dops>(dops).map_err(bad)?;
            (b"Opus", audio(t, Some(48_000)), vec![raw(b"dOps", dops)])
        }
    };
    Ok(SampleEntry {
        kind: FourCC::new(kind),
        header,
        configs,
    })
}

fn raw(kind: &[u8; 4], payload: &Bytes) -> ConfigBox {
    ConfigBox::Raw(FourCC::new(kind), payload.clone())
}

/// Parses a configuration box body with `mp4-atom` to reject garbage early; the parsed value
/// is dropped and the original bytes are written.
fn check_payload<A: Atom>(payload: &[u8]) -> std::result::Result<(), String> {
    let mut buf = payload;
    A::decode_body(&mut buf)
        .map(drop)
        .map_err(|e| format!("invalid {} payload ({} bytes): {e}", A::KIND, payload.len()))
}

/// VisualSampleEntry (ISO/IEC 14496-12 §12.1.3): coded size from the track.
fn visual(t: &TrackInfo) -> Result<EntryHeader> {
    let dim = |v: u32, what: &str| {
        u16::try_from(v).map_err(|_| Error::BadCodecConfig {
            track: t.id,
            msg: format!("{what} {v} does not fit the sample entry's 16 bits"),
        })
    };
    Ok(EntryHeader::Visual(Visual {
        data_reference_index: 1,
        width: dim(t.width, "width")?,
        height: dim(t.height, "height")?,
        ..Visual::default()
    }))
}

/// AudioSampleEntry (ISO/IEC 14496-12 §12.2.3). samplerate is 16.16 fixed point: a rate above
/// 65535 Hz cannot be expressed and is written as 0 (decoders take it from the codec config).
fn audio(t: &TrackInfo, force_rate: Option<u32>) -> EntryHeader {
    let rate = force_rate.unwrap_or(if t.sample_rate > 0 {
        t.sample_rate
    } else {
        t.timescale
    });
    EntryHeader::Audio(Audio {
        data_reference_index: 1,
        channel_count: if t.channels > 0 { t.channels } else { 2 },
        sample_size: 16,
        sample_rate: FixedPoint::new(u16::try_from(rate).unwrap_or(0), 0),
    })
}

/// ES_Descriptor for mp4a (ISO/IEC 14496-14 §3.1.2; ISO/IEC 14496-1 §7.2.6.5). ES_ID is 0 in
/// MP4 files; bitrates are unknown up front and left 0.
fn esds(object_type: u8, dsi: Option<&Bytes>) -> Esds {
    Esds {
        es_desc: EsDescriptor {
            es_id: 0,
            depends_on_es_id: None,
            url: None,
            ocr_es_id: None,
            stream_priority: 0,
            dec_config: DecoderConfig {
                object_type_indication: object_type,
                stream_type: STREAM_TYPE_AUDIO,
                up_stream: 0,
                buffer_size_db: Default::default(),
                max_bitrate: 0,
                avg_bitrate: 0,
                dec_specific: dsi.map(|asc| DecoderSpecific {
                    profile: 0,
                    freq_index: 0,
                    chan_conf: 0,
                    raw: asc.to_vec(),
                }),
            },
            sl_config: SLConfig {},
        },
    }
}

/// Checks a parameter-set list fits the record's count and 16-bit length fields.
fn check_nals(
    what: &str,
    nals: &[Bytes],
    max_count: usize,
) -> std::result::Result<Vec<Vec<u8>>, String> {
    if nals.len() > max_count {
        return Err(format!(
            "{} {what} NAL units, at most {max_count} fit",
            nals.len()
        ));
    }
    nals.iter()
        .enumerate()
        .map(|(i, n)| {
            if n.is_empty() || n.len() > usize::from(u16::MAX) {
                Err(format!(
                    "{what} #{i} is {} bytes (1..=65535 allowed)",
                    n.len()
                ))
            } else {
                Ok(n.to_vec())
            }
        })
        .collect()
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1).
fn avcc(sps: &[Bytes], pps: &[Bytes], in_band: bool) -> std::result::Result<Avcc, String> {
    let first = sps
        .first()
        .ok_or("no SPS: avcC needs one for its profile and level")?;
    if nal::h264_nal_type(first) != Some(nal::h264::NAL_SPS) {
        return Err(format!(
            "first SPS has NAL type {:?}, expected 7",
            nal::h264_nal_type(first)
        ));
    }
    if pps.is_empty() && !in_band {
        return Err("no PPS: avc1 carries its parameter sets out of band".into());
    }
    let (Some(&profile), Some(&compat), Some(&level)) = (first.get(1), first.get(2), first.get(3))
    else {
        return Err(format!(
            "SPS is {} bytes, too short for profile/level",
            first.len()
        ));
    };
    // §5.3.3.1.2: the chroma/bit-depth extension is present for these profiles.
    let ext = if matches!(profile, 100 | 110 | 122 | 144) {
        let (chroma_format, bit_depth_luma, bit_depth_chroma) = avc_chroma(first)?;
        Some(AvccExt {
            chroma_format,
            bit_depth_luma,
            bit_depth_chroma,
            sequence_parameter_sets_ext: Vec::new(),
        })
    } else {
        None
    };
    Ok(Avcc {
        configuration_version: 1,
        avc_profile_indication: profile,
        profile_compatibility: compat,
        avc_level_indication: level,
        length_size: 4,
        sequence_parameter_sets: check_nals("SPS", sps, 31)?,
        picture_parameter_sets: check_nals("PPS", pps, 255)?,
        ext,
    })
}

/// chroma_format_idc and bit depths of a High-profile SPS (ITU-T H.264 §7.3.2.1.1).
fn avc_chroma(sps_nal: &[u8]) -> std::result::Result<(u8, u8, u8), String> {
    let rbsp = nal::rbsp(sps_nal.get(1..).unwrap_or_default());
    let mut r = BitReader::new(rbsp.get(3..).unwrap_or_default());
    let err = |what: &str| format!("SPS truncated before {what}");
    r.ue().ok_or_else(|| err("seq_parameter_set_id"))?;
    let chroma = r.ue().ok_or_else(|| err("chroma_format_idc"))?;
    if chroma == 3 {
        r.bit().ok_or_else(|| err("separate_colour_plane_flag"))?;
    }
    let luma = r.ue().ok_or_else(|| err("bit_depth_luma_minus8"))?;
    let chroma_depth = r.ue().ok_or_else(|| err("bit_depth_chroma_minus8"))?;
    if chroma > 3 || luma > 6 || chroma_depth > 6 {
        return Err(format!(
            "SPS has chroma_format_idc {chroma}, bit depths {}/{}: out of range",
            u64::from(luma) + 8,
            u64::from(chroma_depth) + 8
        ));
    }
    // All three checked small above.
    Ok((chroma as u8, luma as u8 + 8, chroma_depth as u8 + 8))
}

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1), general_* fields from the
/// first SPS's profile_tier_level.
fn hvcc(
    vps: &[Bytes],
    sps: &[Bytes],
    pps: &[Bytes],
    in_band: bool,
) -> std::result::Result<Hvcc, String> {
    let first = sps
        .first()
        .ok_or("no SPS: hvcC needs one for its profile, tier and level")?;
    if !in_band && (vps.is_empty() || pps.is_empty()) {
        return Err("hvc1 needs VPS, SPS and PPS out of band; one is missing".into());
    }
    let info = h265::parse_sps(first).map_err(|e| format!("SPS: {e}"))?;
    // First payload byte after the 2-byte NAL header: sps_video_parameter_set_id (4),
    // sps_max_sub_layers_minus1 (3), sps_temporal_id_nesting_flag (1) (H.265 §7.3.2.2.1).
    let b = *first.get(2).ok_or("SPS too short")?;
    let mut arrays = Vec::with_capacity(3);
    for (nal_unit_type, list, what) in [
        (nal::h265::NAL_VPS, vps, "VPS"),
        (nal::h265::NAL_SPS, sps, "SPS"),
        (nal::h265::NAL_PPS, pps, "PPS"),
    ] {
        if !list.is_empty() {
            arrays.push(HvcCArray {
                // §8.3.3.1.2: 1 for hvc1 (all parameter sets of this type are here).
                completeness: !in_band,
                nal_unit_type,
                nalus: check_nals(what, list, usize::from(u16::MAX))?,
            });
        }
    }
    Ok(Hvcc {
        configuration_version: 1,
        general_profile_space: info.profile_space,
        general_tier_flag: info.tier_flag,
        general_profile_idc: info.profile_idc,
        general_profile_compatibility_flags: info.compatibility_flags.to_be_bytes(),
        general_constraint_indicator_flags: info.constraint_flags,
        general_level_idc: info.level_idc,
        min_spatial_segmentation_idc: 0,
        parallelism_type: 0,
        chroma_format_idc: info.chroma_format_idc,
        bit_depth_luma_minus8: info.bit_depth_luma.saturating_sub(8),
        bit_depth_chroma_minus8: info.bit_depth_chroma.saturating_sub(8),
        avg_frame_rate: 0,
        constant_frame_rate: 0,
        num_temporal_layers: ((b >> 1) & 0x07) + 1,
        temporal_id_nested: b & 1 == 1,
        length_size_minus_one: 3,
        arrays,
    })
}

/// Just enough of an Exp-Golomb reader for the avcC extension fields (H.264 §9.1).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let mut value: u64 = 1;
        for _ in 0..zeros {
            value = (value << 1) | u64::from(self.bit()?);
        }
        u32::try_from(value - 1).ok()
    }
}
