// SPDX-License-Identifier: MIT OR Apache-2.0
//! Sample entries (ISO/IEC 14496-12 §8.5.2) → [`CodecConfig`].
//!
//! Entries are decoded with `mp4-atom`; configuration boxes that the pipeline passes on verbatim
//! (av1C, vpcC, dac3, dec3, dOps) are taken byte-for-byte from the file, payload only (box minus
//! its header), so nothing is lost in a decode/re-encode round trip.

use bytes::Bytes;
use mp4_atom::{Codec, Decode};

use super::boxes::{be_u16, fourcc_str, payload, BoxHeader, Children, FourCc};
use crate::error::{Error, Result};
use crate::sample::CodecConfig;

/// How video samples frame their NAL units (ISO/IEC 14496-15 §5.3.2 / §8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NalFormat {
    pub hevc: bool,
    /// Bytes of each NAL length prefix (lengthSizeMinusOne + 1).
    pub length_size: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct EntryInfo {
    pub config: CodecConfig,
    pub width: u32,
    pub height: u32,
    pub sample_rate: u32,
    pub channels: u16,
    pub nal: Option<NalFormat>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Entry {
    Supported(EntryInfo),
    /// A codec this tool does not package, described for messages ("mp4v", "mp4a (OTI 0x20)").
    Unsupported(String),
}

/// Sample entry types whose decoding failure is an error rather than "unsupported".
const SUPPORTED: [&FourCc; 11] = [
    b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp09", b"mp4a", b".mp3", b"ac-3", b"ec-3",
    b"Opus",
];

/// Size of the VisualSampleEntry fields after the box header (§12.1.3).
const VISUAL_FIELDS: usize = 78;
/// Size of the AudioSampleEntry fields after the box header (§12.2.3), QuickTime version 0.
const AUDIO_FIELDS: usize = 28;

/// Decodes the sample entry `bytes` (complete box) of track `track_id`.
pub(super) fn parse_entry(track_id: u32, hdr: &BoxHeader, bytes: &[u8]) -> Result<Entry> {
    if &hdr.kind == b"mp4a" {
        return super::mp4a::parse_mp4a(track_id, hdr, bytes);
    }
    if &hdr.kind == b"mp4v" {
        return parse_mp4v(track_id, hdr, bytes);
    }
    let mut buf = bytes;
    let codec = match Codec::decode(&mut buf) {
        Ok(c) => c,
        Err(e) if SUPPORTED.contains(&&hdr.kind) => {
            return Err(Error::BadCodecConfig {
                track: track_id,
                msg: format!(
                    "sample entry '{}' at byte offset {}: {e}",
                    hdr.name(),
                    hdr.offset
                ),
            })
        }
        Err(_) => return Ok(Entry::Unsupported(hdr.name())),
    };
    let bad = |msg: String| Error::BadCodecConfig {
        track: track_id,
        msg: format!(
            "sample entry '{}' at byte offset {}: {msg}",
            hdr.name(),
            hdr.offset
        ),
    };
    let header_len = usize::try_from(hdr.header_len).unwrap_or(8);
    let visual_children = header_len + VISUAL_FIELDS;
    let raw_child = |kind: &FourCc, start: usize| -> Result<Bytes> {
        find_child(hdr, bytes, start, kind)
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| bad(format!("no '{}' box", fourcc_str(*kind))))
    };

    let mut info = EntryInfo {
        config: CodecConfig::Mp3,
        width: 0,
        height: 0,
        sample_rate: 0,
        channels: 0,
        nal: None,
    };
    if let Some(v) = codec.visual() {
        info.width = u32::from(v.width);
        info.height = u32::from(v.height);
    }
    if let Some(a) = codec.audio() {
        info.sample_rate = u32::from(a.sample_rate.integer());
        info.channels = a.channel_count;
    }
    info.config = match &codec {
        Codec::Avc1(_) | Codec::Avc3(_) => {
            let (avcc, in_band) = match &codec {
                Codec::Avc1(c) => (&c.avcc, false),
                Codec::Avc3(c) => (&c.avcc, true),
                _ => return Ok(Entry::Unsupported(hdr.name())),
            };
            info.nal = Some(NalFormat {
                hevc: false,
                length_size: avcc.length_size,
            });
            CodecConfig::Avc {
                sps: to_bytes(&avcc.sequence_parameter_sets),
                pps: to_bytes(&avcc.picture_parameter_sets),
                in_band,
            }
        }
        Codec::Hvc1(_) | Codec::Hev1(_) => {
            let (hvcc, in_band) = match &codec {
                Codec::Hvc1(c) => (&c.hvcc, false),
                Codec::Hev1(c) => (&c.hvcc, true),
                _ => return Ok(Entry::Unsupported(hdr.name())),
            };
            info.nal = Some(NalFormat {
                hevc: true,
                length_size: (hvcc.length_size_minus_one & 3) + 1,
            });
            let of_type = |t: u8| -> Vec<Bytes> {
                hvcc.arrays
                    .iter()
                    .filter(|a| a.nal_unit_type == t)
                    .flat_map(|a| a.nalus.iter().map(|n| Bytes::copy_from_slice(n)))
                    .collect()
            };
            // ISO/IEC 23008-2 Table 7-1: VPS 32, SPS 33, PPS 34.
            CodecConfig::Hevc {
                vps: of_type(32),
                sps: of_type(33),
                pps: of_type(34),
                in_band,
            }
        }
        Codec::Av01(_) => CodecConfig::Av1 {
            av1c: raw_child(b"av1C", visual_children)?,
        },
        Codec::Vp09(_) => CodecConfig::Vp9 {
            vpcc: raw_child(b"vpcC", visual_children)?,
        },
        Codec::Mp3(_) => CodecConfig::Mp3,
        Codec::Ac3(_) => CodecConfig::Ac3 {
            dac3: raw_child(b"dac3", audio_children(hdr, bytes))?,
        },
        Codec::Eac3(_) => CodecConfig::Eac3 {
            dec3: raw_child(b"dec3", audio_children(hdr, bytes))?,
        },
        Codec::Opus(_) => CodecConfig::Opus {
            dops: raw_child(b"dOps", audio_children(hdr, bytes))?,
        },
        _ => return Ok(Entry::Unsupported(hdr.name())),
    };
    Ok(Entry::Supported(info))
}

/// An `mp4v` entry (ISO/IEC 14496-14 §5.6): a VisualSampleEntry with an `esds`. Object type
/// 0x20 (MPEG-4 Part 2 Visual, ISO/IEC 14496-1 §7.2.6.6.2) is packaged; MPEG-1/2 video in
/// `mp4v` (0x60..=0x65, 0x6A) is not.
fn parse_mp4v(track_id: u32, hdr: &BoxHeader, bytes: &[u8]) -> Result<Entry> {
    let bad = |msg: String| Error::BadCodecConfig {
        track: track_id,
        msg: format!("sample entry 'mp4v' at byte offset {}: {msg}", hdr.offset),
    };
    let h = usize::try_from(hdr.header_len).unwrap_or(8);
    // §12.1.3: reserved(6) data_reference_index(2) pre_defined/reserved(16) width(16) height(16).
    let width = be_u16(bytes, h + 24).ok_or_else(|| bad("entry cut short".into()))?;
    let height = be_u16(bytes, h + 26).ok_or_else(|| bad("entry cut short".into()))?;
    let esds = find_child(hdr, bytes, h + VISUAL_FIELDS, b"esds")
        .ok_or_else(|| bad("no 'esds' box".into()))?;
    let es = super::esds::parse(esds).map_err(|e| bad(format!("esds: {e}")))?;
    if es.object_type != 0x20 {
        return Ok(Entry::Unsupported(format!(
            "mp4v (object type 0x{:02x})",
            es.object_type
        )));
    }
    Ok(Entry::Supported(EntryInfo {
        config: CodecConfig::Mpeg4Visual {
            dsi: es.dsi.unwrap_or_default().into(),
        },
        width: u32::from(width),
        height: u32::from(height),
        sample_rate: 0,
        channels: 0,
        nal: None,
    }))
}

fn to_bytes(v: &[Vec<u8>]) -> Vec<Bytes> {
    v.iter().map(|n| Bytes::copy_from_slice(n)).collect()
}

/// Where the child boxes of an audio sample entry start: after the v0 fields, plus the
/// QuickTime sound description v1 (16 bytes) or v2 (36 bytes) extension (QTFF "Sound Sample
/// Description").
pub(super) fn audio_children(hdr: &BoxHeader, bytes: &[u8]) -> usize {
    let header_len = usize::try_from(hdr.header_len).unwrap_or(8);
    let base = header_len + AUDIO_FIELDS;
    match be_u16(bytes, header_len + 8) {
        Some(1) => base + 16,
        Some(2) => base + 36,
        _ => base,
    }
}

/// Payload of the first child box `kind` of a sample entry, looking inside a QuickTime `wave`.
pub(super) fn find_child<'a>(
    hdr: &BoxHeader,
    bytes: &'a [u8],
    start: usize,
    kind: &FourCc,
) -> Option<&'a [u8]> {
    let children = bytes.get(start..)?;
    let base = hdr.offset.saturating_add(start as u64);
    for child in Children::new(children, base) {
        let Ok((h, b)) = child else { return None };
        if &h.kind == kind {
            return Some(payload(&h, b));
        }
        if &h.kind == b"wave" {
            if let Some(p) = find_child(&h, b, usize::try_from(h.header_len).ok()?, kind) {
                return Some(p);
            }
        }
    }
    None
}
