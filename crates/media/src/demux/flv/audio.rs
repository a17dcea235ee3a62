// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV audio tag bodies → configurations and frames.
//!
//! Legacy (Adobe FLV spec v10.1 E.4.2.1 AUDIODATA / AACAUDIODATA): byte 0 holds SoundFormat (4
//! bits) and rate/size/type; AAC (format 10) adds AACPacketType (0 AudioSpecificConfig, 1 raw
//! frame); MP3 (formats 2 and 14) frames follow byte 0. Enhanced RTMP v2 ("Enhanced Audio",
//! ExAudioTagHeader): SoundFormat 9 is ExHeader, the low 4 bits are the AudioPacketType, then
//! a FourCC.

use bytes::Bytes;

use crate::codec::{aac, ac3, mp3};
use crate::sample::CodecConfig;

/// An audio codec configuration with what the track description needs.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AudioConfig {
    pub config: CodecConfig,
    pub sample_rate: u32,
    pub channels: u16,
    /// Duration of one frame in `sample_rate` ticks (Opus: per packet, from its TOC).
    pub samples_per_frame: u32,
}

/// Codecs whose frames describe themselves (no sequence header: the configuration comes
/// from the first frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framed {
    Mp3,
    Ac3,
    Eac3,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum AudioPacket {
    Config(AudioConfig),
    /// AAC or Opus: one access unit, for the configured track.
    Frame(Bytes),
    /// MP3 / AC-3 / E-AC-3: one or more sync frames.
    Framed(Framed, Bytes),
    End,
    Skip(&'static str),
}

fn legacy_format_name(f: u8) -> &'static str {
    match f {
        0 => "linear PCM, platform endian",
        1 => "ADPCM",
        3 => "linear PCM, little endian",
        4..=6 => "Nellymoser",
        7 => "G.711 A-law",
        8 => "G.711 mu-law",
        11 => "Speex",
        15 => "device-specific",
        _ => "reserved",
    }
}

/// Parses one audio tag body.
pub(super) fn parse(body: &[u8]) -> Result<AudioPacket, String> {
    let &b0 = body.first().ok_or("empty audio tag")?;
    let data = body.get(1..).unwrap_or_default();
    match b0 >> 4 {
        10 => {
            let (&packet_type, frame) = data.split_first().ok_or("AAC tag without AACPacketType")?;
            match packet_type {
                0 => Ok(AudioPacket::Config(aac_config(frame)?)),
                1 => Ok(AudioPacket::Frame(Bytes::copy_from_slice(frame))),
                t => Err(format!("AACPacketType {t} is not 0 or 1")),
            }
        }
        2 | 14 => Ok(AudioPacket::Framed(Framed::Mp3, Bytes::copy_from_slice(data))),
        9 => {
            let (packet_type, rest) = super::video::skip_mod_ex(b0 & 0x0F, data)?;
            parse_enhanced(packet_type, rest)
        }
        f => Err(format!(
            "unsupported FLV sound format {f} ({}); AAC, MP3 and Enhanced RTMP FourCCs are supported",
            legacy_format_name(f)
        )),
    }
}

/// Enhanced RTMP v2 ExAudioTagHeader + ExAudioTagBody (of track 0 when multitrack).
fn parse_enhanced(packet_type: u8, data: &[u8]) -> Result<AudioPacket, String> {
    if packet_type == 5 {
        return match super::multitrack::track0(data, 5)? {
            Some((packet_type, fourcc, payload)) => coded(packet_type, fourcc, payload),
            None => Ok(AudioPacket::Skip("multitrack audio without track 0")),
        };
    }
    match packet_type {
        2 => return Ok(AudioPacket::End),
        4 => return Ok(AudioPacket::Skip("Enhanced RTMP MultichannelConfig")),
        0 | 1 => {}
        t => return Err(format!("unknown Enhanced RTMP AudioPacketType {t}")),
    }
    let fourcc: [u8; 4] = data
        .get(..4)
        .and_then(|f| f.try_into().ok())
        .ok_or("Enhanced RTMP audio tag without its FourCC")?;
    coded(packet_type, fourcc, data.get(4..).unwrap_or_default())
}

/// One track's ExAudioTagBody after its FourCC.
fn coded(packet_type: u8, fourcc: [u8; 4], payload: &[u8]) -> Result<AudioPacket, String> {
    match packet_type {
        2 => return Ok(AudioPacket::End),
        4 => return Ok(AudioPacket::Skip("Enhanced RTMP MultichannelConfig")),
        0 | 1 => {}
        t => return Err(format!("unknown Enhanced RTMP AudioPacketType {t}")),
    }
    let start = packet_type == 0;
    match (&fourcc, start) {
        (b"mp4a", true) => Ok(AudioPacket::Config(aac_config(payload)?)),
        (b"Opus", true) if payload.starts_with(b"OpusTags") => {
            Ok(AudioPacket::Skip("Opus comment header"))
        }
        (b"Opus", true) => Ok(AudioPacket::Config(opus_config(payload)?)),
        (b"ac-3" | b"ec-3" | b".mp3", true) => Ok(AudioPacket::Skip(
            "sequence start of a self-describing codec",
        )),
        (b"mp4a" | b"Opus", false) => Ok(AudioPacket::Frame(Bytes::copy_from_slice(payload))),
        (b"ac-3", false) => Ok(AudioPacket::Framed(
            Framed::Ac3,
            Bytes::copy_from_slice(payload),
        )),
        (b"ec-3", false) => Ok(AudioPacket::Framed(
            Framed::Eac3,
            Bytes::copy_from_slice(payload),
        )),
        (b".mp3", false) => Ok(AudioPacket::Framed(
            Framed::Mp3,
            Bytes::copy_from_slice(payload),
        )),
        _ => Err(format!(
            "unsupported Enhanced RTMP audio FourCC '{}'",
            String::from_utf8_lossy(&fourcc)
        )),
    }
}

/// AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
fn aac_config(asc: &[u8]) -> Result<AudioConfig, String> {
    let info = aac::parse_asc(asc).map_err(|e| format!("AudioSpecificConfig: {e}"))?;
    Ok(AudioConfig {
        config: CodecConfig::Aac {
            asc: Bytes::copy_from_slice(asc),
        },
        sample_rate: info.sample_rate,
        channels: info.channels,
        samples_per_frame: aac::AAC_FRAME_SAMPLES,
    })
}

/// Opus identification header (RFC 7845 5.1, little-endian) → dOps payload (Encapsulation of
/// Opus in ISOBMFF 4.3.2, big-endian, Version 0).
pub(super) fn opus_config(head: &[u8]) -> Result<AudioConfig, String> {
    if !head.starts_with(b"OpusHead") || head.len() < 19 {
        return Err(format!(
            "Opus sequence start is not an OpusHead of at least 19 bytes ({} bytes)",
            head.len()
        ));
    }
    let b = |i: usize| head.get(i).copied().unwrap_or(0);
    let channels = b(9);
    let family = b(18);
    let mut dops = vec![0, channels];
    dops.extend_from_slice(&[b(11), b(10)]); // PreSkip
    dops.extend_from_slice(&[b(15), b(14), b(13), b(12)]); // InputSampleRate
    dops.extend_from_slice(&[b(17), b(16)]); // OutputGain
    dops.push(family);
    if family != 0 {
        let table = head
            .get(19..21 + usize::from(channels))
            .ok_or("OpusHead channel mapping table cut off")?;
        dops.extend_from_slice(table);
    }
    if channels == 0 {
        return Err("OpusHead has 0 channels".into());
    }
    Ok(AudioConfig {
        config: CodecConfig::Opus { dops: dops.into() },
        // RFC 7845 4: Opus always decodes at 48 kHz, whatever the input rate was.
        sample_rate: 48_000,
        channels: u16::from(channels),
        samples_per_frame: 960,
    })
}

/// Samples (48 kHz) in one Opus packet from its TOC byte (RFC 6716 3.1); `None` if malformed.
pub(super) fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let &toc = packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples (RFC 6716 Table 2).
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config & 3)],
        12..=15 => [480, 960][usize::from(config & 1)],
        _ => [120, 240, 480, 960][usize::from(config & 3)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(packet.get(1)? & 0x3F),
    };
    let total = frame * count;
    // RFC 6716 3.2.5: at most 120 ms per packet.
    (count > 0 && total <= 5760).then_some(total)
}

/// Configuration of a self-describing codec from its first frame.
pub(super) fn framed_config(kind: Framed, data: &[u8]) -> Result<AudioConfig, String> {
    match kind {
        Framed::Mp3 => {
            let h = mp3::parse_header(data)?;
            if h.layer != 3 {
                return Err(format!(
                    "MPEG audio layer {} (only layer III is supported)",
                    h.layer
                ));
            }
            Ok(AudioConfig {
                config: CodecConfig::Mp3,
                sample_rate: h.sample_rate,
                channels: h.channels,
                samples_per_frame: h.samples_per_frame,
            })
        }
        Framed::Ac3 => {
            let i = ac3::parse_ac3_frame(data)?;
            Ok(AudioConfig {
                config: CodecConfig::Ac3 {
                    dac3: ac3::dac3_from_frame(data)?,
                },
                sample_rate: i.sample_rate,
                channels: i.channels,
                samples_per_frame: i.samples_per_frame,
            })
        }
        Framed::Eac3 => {
            let i = ac3::parse_eac3_frame(data)?;
            Ok(AudioConfig {
                config: CodecConfig::Eac3 {
                    dec3: ac3::dec3_from_frame(data)?,
                },
                sample_rate: i.sample_rate,
                channels: i.channels,
                samples_per_frame: i.samples_per_frame,
            })
        }
    }
}

/// Splits MP3 / AC-3 tag data into whole sync frames with their sample counts. E-AC-3 stays
/// one sample per tag (dependent substreams belong to the frame before them).
pub(super) fn split_frames(kind: Framed, data: &Bytes) -> Result<Vec<(Bytes, u32)>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or_default();
        let (len, samples) = match kind {
            Framed::Mp3 => {
                let h = mp3::parse_header(rest)?;
                (h.frame_len, h.samples_per_frame)
            }
            Framed::Ac3 => {
                let i = ac3::parse_ac3_frame(rest)?;
                (i.frame_len, i.samples_per_frame)
            }
            Framed::Eac3 => {
                let i = ac3::parse_eac3_frame(rest)?;
                (rest.len(), i.samples_per_frame)
            }
        };
        if len == 0 || len > rest.len() {
            return Err(format!(
                "sync frame of {len} bytes at byte {pos} but {} bytes left in the tag",
                rest.len()
            ));
        }
        out.push((data.slice(pos..pos + len), samples));
        pos += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_toc_durations() {
        let cases: [(&[u8], Option<u32>); 7] = [
            (&[0xFC], Some(960)),              // config 31 (CELT 20 ms), 1 frame
            (&[0xF8 | 1], Some(1920)),         // 2 frames
            (&[0x00], Some(480)),              // SILK 10 ms
            (&[0x1B, 0x03], None),             // 60 ms x 3 > 120 ms
            (&[0x03 | 0x80, 0x04], Some(480)), // CELT 2.5 ms x 4
            (&[0x03, 0x00], None),             // code 3 with 0 frames
            (&[], None),
        ];
        for (packet, want) in cases {
            assert_eq!(opus_packet_samples(packet), want, "{packet:02x?}");
        }
    }

    #[test]
    fn opus_head_to_dops() {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0xFE, 0xFF, 0]);
        let c = opus_config(&head).unwrap();
        assert_eq!(
            c.config,
            CodecConfig::Opus {
                dops: Bytes::from_static(&[0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0xFF, 0xFE, 0])
            }
        );
        assert_eq!((c.sample_rate, c.channels), (48_000, 2));
        assert!(opus_config(b"OpusHead").is_err());
        head[18] = 1; // mapping family 1 needs a table
        assert!(opus_config(&head).unwrap_err().contains("cut off"));
    }
}
