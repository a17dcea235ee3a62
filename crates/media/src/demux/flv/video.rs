// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV video tag bodies → configuration records and frames.
//!
//! Legacy (Adobe FLV spec v10.1 E.4.3.1 VIDEODATA / AVCVIDEOPACKET): byte 0 holds FrameType
//! (4 bits) and CodecID (4 bits); AVC (7) adds AVCPacketType and a signed 24-bit
//! CompositionTime in ms. Enhanced RTMP (veovera enhanced-rtmp v1/v2 "Enhanced Video",
//! ExVideoTagHeader): bit 7 of byte 0 is IsExHeader, bits 6-4 the frame type, bits 3-0 the
//! VideoPacketType, then a FourCC.

use bytes::Bytes;

use crate::codec::{h264, h265, nal};
use crate::sample::CodecConfig;

/// A video codec configuration with what the track description needs.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VideoConfig {
    pub config: CodecConfig,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    /// NAL length prefix size for H.264/HEVC frames (lengthSizeMinusOne + 1).
    pub length_size: Option<u8>,
}

/// What one video tag carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum VideoPacket {
    Config(VideoConfig),
    Frame {
        data: Bytes,
        /// Composition time offset in ms (PTS - DTS).
        cts_ms: i32,
        keyframe: bool,
    },
    /// End of sequence (AVC end of sequence, E-RTMP SequenceEnd).
    End,
    /// Nothing to do (command frames, E-RTMP metadata); the reason is for debug logs.
    Skip(&'static str),
}

/// Legacy FLV CodecID names (FLV spec E.4.3.1) for messages.
fn legacy_codec_name(id: u8) -> &'static str {
    match id {
        2 => "Sorenson H.263",
        3 => "Screen video",
        4 => "On2 VP6",
        5 => "On2 VP6 with alpha",
        6 => "Screen video v2",
        7 => "AVC",
        _ => "unknown",
    }
}

/// A signed 24-bit big-endian integer (SI24).
fn si24(b: &[u8]) -> Option<i32> {
    let &[x, y, z, ..] = b else {
        return None;
    };
    let v = (i32::from(x) << 16) | (i32::from(y) << 8) | i32::from(z);
    Some((v << 8) >> 8)
}

/// Parses one video tag body.
pub(super) fn parse(body: &[u8]) -> Result<VideoPacket, String> {
    let &b0 = body.first().ok_or("empty video tag")?;
    if b0 & 0x80 != 0 {
        return parse_enhanced(body);
    }
    let frame_type = b0 >> 4;
    let codec = b0 & 0x0F;
    if frame_type == 5 {
        return Ok(VideoPacket::Skip("video info/command frame"));
    }
    if codec != 7 {
        return Err(format!(
            "unsupported FLV video codec id {codec} ({}); only AVC (7) and Enhanced RTMP FourCCs are supported",
            legacy_codec_name(codec)
        ));
    }
    let (&packet_type, rest) = body
        .get(1..)
        .and_then(<[u8]>::split_first)
        .ok_or("AVC video tag without AVCPacketType")?;
    let cts = si24(rest).ok_or("AVC video tag without CompositionTime")?;
    let data = rest.get(3..).unwrap_or_default();
    match packet_type {
        0 => Ok(VideoPacket::Config(parse_avcc(data)?)),
        1 => Ok(VideoPacket::Frame {
            data: Bytes::copy_from_slice(data),
            cts_ms: cts,
            keyframe: frame_type == 1,
        }),
        2 => Ok(VideoPacket::End),
        t => Err(format!("AVCPacketType {t} is not 0, 1 or 2")),
    }
}

/// Enhanced RTMP ExVideoTagHeader + ExVideoTagBody (of track 0 when multitrack).
fn parse_enhanced(body: &[u8]) -> Result<VideoPacket, String> {
    let b0 = body.first().copied().unwrap_or(0);
    let frame_type = (b0 >> 4) & 0x07;
    let (packet_type, rest) = skip_mod_ex(b0 & 0x0F, body.get(1..).unwrap_or_default())?;
    if packet_type == 4 {
        // VideoPacketType.Metadata: AMF colorInfo; frame type is ignored.
        return Ok(VideoPacket::Skip("Enhanced RTMP video metadata"));
    }
    if frame_type == 5 {
        return Ok(VideoPacket::Skip("video command frame"));
    }
    if packet_type == 6 {
        return match super::multitrack::track0(rest, 6)? {
            Some((packet_type, fourcc, data)) => coded(frame_type, packet_type, fourcc, data),
            None => Ok(VideoPacket::Skip("multitrack video without track 0")),
        };
    }
    let fourcc: [u8; 4] = rest
        .get(..4)
        .and_then(|f| f.try_into().ok())
        .ok_or("Enhanced RTMP video tag without its FourCC")?;
    coded(
        frame_type,
        packet_type,
        fourcc,
        rest.get(4..).unwrap_or_default(),
    )
}

/// One track's ExVideoTagBody after its FourCC.
fn coded(
    frame_type: u8,
    packet_type: u8,
    fourcc: [u8; 4],
    data: &[u8],
) -> Result<VideoPacket, String> {
    let nal_codec = matches!(&fourcc, b"avc1" | b"hvc1");
    if !matches!(&fourcc, b"avc1" | b"hvc1" | b"av01" | b"vp09") {
        return Err(format!(
            "unsupported Enhanced RTMP video FourCC '{}'",
            String::from_utf8_lossy(&fourcc)
        ));
    }
    match packet_type {
        0 => Ok(VideoPacket::Config(match &fourcc {
            b"avc1" => parse_avcc(data)?,
            b"hvc1" => parse_hvcc(data)?,
            b"av01" => av1_config(data)?,
            _ => vp9_config(data)?,
        })),
        // CodedFrames: SI24 composition time for avc1/hvc1 only.
        1 | 3 => {
            let (cts, data) = if packet_type == 1 && nal_codec {
                let cts = si24(data).ok_or("CodedFrames without CompositionTime")?;
                (cts, data.get(3..).unwrap_or_default())
            } else {
                (0, data)
            };
            Ok(VideoPacket::Frame {
                data: Bytes::copy_from_slice(data),
                cts_ms: cts,
                keyframe: frame_type == 1,
            })
        }
        2 => Ok(VideoPacket::End),
        5 => Err("Enhanced RTMP MPEG2TSSequenceStart is not supported".into()),
        t => Err(format!("unknown Enhanced RTMP VideoPacketType {t}")),
    }
}

/// PacketType ModEx (7): Enhanced RTMP v2 "ExVideoTagHeader" / "ExAudioTagHeader" loop. Each
/// modifier is modExDataSize (UI8 + 1, or UI16 + 1 after 0xFF), the data, then one byte with
/// the modExType (high 4 bits) and the next packet type (low 4 bits). The only modifier type
/// defined, TimestampOffsetNano, is below the millisecond and ignored here. Returns the real
/// packet type and the bytes after the modifiers.
pub(super) fn skip_mod_ex(mut packet_type: u8, mut rest: &[u8]) -> Result<(u8, &[u8]), String> {
    const MOD_EX: u8 = 7;
    while packet_type == MOD_EX {
        let (&size, after) = rest.split_first().ok_or("ModEx without its data size")?;
        let (size, after) = if size == 0xFF {
            let b = after.get(..2).ok_or("ModEx 16-bit data size cut off")?;
            (
                usize::from(u16::from_be_bytes([b[0], b[1]])) + 1,
                after.get(2..).unwrap_or_default(),
            )
        } else {
            (usize::from(size) + 1, after)
        };
        let next = after
            .get(size)
            .ok_or_else(|| format!("ModEx data of {size} bytes cut off"))?;
        packet_type = next & 0x0F;
        rest = after.get(size + 1..).unwrap_or_default();
    }
    Ok((packet_type, rest))
}

/// Reads `count` parameter sets, each with a 16-bit length (ISO/IEC 14496-15 5.3.2.1.1 and
/// 8.3.2.1.2).
fn read_sets(data: &[u8], pos: &mut usize, count: usize, what: &str) -> Result<Vec<Bytes>, String> {
    let mut out = Vec::new();
    for i in 0..count {
        let len = data
            .get(*pos..*pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(|| format!("{what} {i}: length cut off at byte {pos}"))?;
        let set = data
            .get(*pos + 2..*pos + 2 + len)
            .ok_or_else(|| format!("{what} {i}: {len} bytes at byte {} cut off", *pos + 2))?;
        out.push(Bytes::copy_from_slice(set));
        *pos += 2 + len;
    }
    Ok(out)
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.2.1.1).
pub(super) fn parse_avcc(data: &[u8]) -> Result<VideoConfig, String> {
    let &[version, _, _, _, len_byte, sps_byte, ..] = data else {
        return Err(format!("avcC needs at least 6 bytes, have {}", data.len()));
    };
    if version != 1 {
        return Err(format!(
            "avcC configurationVersion is {version}, expected 1"
        ));
    }
    let mut pos = 6;
    let sps = read_sets(data, &mut pos, usize::from(sps_byte & 0x1F), "avcC SPS")?;
    let pps_count = data
        .get(pos)
        .copied()
        .ok_or("avcC ends before numOfPictureParameterSets")?;
    pos += 1;
    let pps = read_sets(data, &mut pos, usize::from(pps_count), "avcC PPS")?;
    let first = sps.first().ok_or("avcC has no SPS")?;
    if pps.is_empty() {
        return Err("avcC has no PPS".into());
    }
    let info = h264::parse_sps(first).map_err(|e| format!("avcC SPS: {e}"))?;
    Ok(VideoConfig {
        config: CodecConfig::Avc {
            sps,
            pps,
            in_band: false,
        },
        width: info.width,
        height: info.height,
        frame_rate: info.frame_rate,
        length_size: Some((len_byte & 3) + 1),
    })
}

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.2.1.2): 22 fixed bytes, then the
/// NAL unit arrays.
pub(super) fn parse_hvcc(data: &[u8]) -> Result<VideoConfig, String> {
    if data.len() < 23 {
        return Err(format!("hvcC needs at least 23 bytes, have {}", data.len()));
    }
    let length_size = (data.get(21).copied().unwrap_or(3) & 3) + 1;
    let arrays = data.get(22).copied().unwrap_or(0);
    let mut pos = 23;
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..arrays {
        let kind = data.get(pos).ok_or("hvcC array header cut off")? & 0x3F;
        let count = data
            .get(pos + 1..pos + 3)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or("hvcC array count cut off")?;
        pos += 3;
        let sets = read_sets(data, &mut pos, count, "hvcC NAL unit")?;
        // ISO/IEC 23008-2 Table 7-1: VPS 32, SPS 33, PPS 34 (SEI arrays are dropped).
        match kind {
            32 => vps.extend(sets),
            33 => sps.extend(sets),
            34 => pps.extend(sets),
            _ => {}
        }
    }
    let first = sps.first().ok_or("hvcC has no SPS")?;
    if vps.is_empty() || pps.is_empty() {
        return Err("hvcC lacks a VPS or a PPS".into());
    }
    let info = h265::parse_sps(first).map_err(|e| format!("hvcC SPS: {e}"))?;
    Ok(VideoConfig {
        config: CodecConfig::Hevc {
            vps,
            sps,
            pps,
            in_band: false,
        },
        width: info.width,
        height: info.height,
        frame_rate: info.frame_rate,
        length_size: Some(length_size),
    })
}

/// AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3), kept verbatim; the size comes from
/// `onMetaData` (the caller fills it in).
fn av1_config(data: &[u8]) -> Result<VideoConfig, String> {
    crate::codec::av1::codec_string(data).map_err(|e| format!("av1C: {e}"))?;
    Ok(VideoConfig {
        config: CodecConfig::Av1 {
            av1c: Bytes::copy_from_slice(data),
        },
        width: 0,
        height: 0,
        frame_rate: None,
        length_size: None,
    })
}

/// VPCodecConfigurationRecord (VP Codec ISO Media File Format Binding 2.3.3). FLV carries the
/// bare record (8 bytes + codec initialization data, as ffmpeg's flvenc writes it); the
/// pipeline wants the vpcC box payload, which starts with FullBox version 1 and flags 0.
fn vp9_config(data: &[u8]) -> Result<VideoConfig, String> {
    let vpcc = if data.len() >= 12 && data.starts_with(&[1, 0, 0, 0]) && data.len() != 8 {
        Bytes::copy_from_slice(data)
    } else {
        let mut v = vec![1, 0, 0, 0];
        v.extend_from_slice(data);
        Bytes::from(v)
    };
    crate::codec::vp9::codec_string(&vpcc).map_err(|e| format!("vpcC: {e}"))?;
    Ok(VideoConfig {
        config: CodecConfig::Vp9 { vpcc },
        width: 0,
        height: 0,
        frame_rate: None,
        length_size: None,
    })
}

/// Converts H.264/HEVC frame data with `length_size`-byte NAL lengths to the canonical form
/// (4-byte lengths, no access unit delimiters).
pub(super) fn canonical_nals(data: &[u8], length_size: u8, hevc: bool) -> Result<Bytes, String> {
    let units = nal::length_prefixed_nals(data, usize::from(length_size))?;
    let mut out = Vec::with_capacity(data.len() + 4 * units.len());
    for unit in units {
        let aud = if hevc {
            nal::h265_nal_type(unit) == Some(nal::h265::NAL_AUD)
        } else {
            nal::h264_nal_type(unit) == Some(nal::h264::NAL_AUD)
        };
        if !aud {
            nal::write_length_prefixed(unit, &mut out);
        }
    }
    Ok(out.into())
}
