// SPDX-License-Identifier: MIT OR Apache-2.0
//! `mp4a` sample entries (ISO/IEC 14496-14 §5.6, ISO/IEC 14496-12 §12.2.3) read from the raw
//! bytes with the tolerant [`esds`](super::esds) reader, so that esds variants other writers
//! produce (1-byte lengths, extra descriptors, no SLConfigDescriptor) package as ffmpeg reads
//! them.

use super::boxes::{be_u16, be_u32, BoxHeader};
use super::entry::{audio_children, find_child, Entry, EntryInfo};
use crate::error::{Error, Result};
use crate::sample::CodecConfig;

/// Decodes the `mp4a` entry `bytes` (complete box) of track `track_id`.
pub(super) fn parse_mp4a(track_id: u32, hdr: &BoxHeader, bytes: &[u8]) -> Result<Entry> {
    let bad = |msg: String| Error::BadCodecConfig {
        track: track_id,
        msg: format!("sample entry 'mp4a' at byte offset {}: {msg}", hdr.offset),
    };
    let h = usize::try_from(hdr.header_len).unwrap_or(8);
    // §12.2.3: reserved(6) data_reference_index(2) reserved(8) channelcount(16)
    // samplesize(16) pre_defined(16) reserved(16) samplerate(16.16).
    let channels = be_u16(bytes, h + 16).ok_or_else(|| bad("entry cut short".into()))?;
    let rate = be_u32(bytes, h + 24).ok_or_else(|| bad("entry cut short".into()))? >> 16;
    let esds = find_child(hdr, bytes, audio_children(hdr, bytes), b"esds")
        .ok_or_else(|| bad("no 'esds' box".into()))?;
    let es = super::esds::parse(esds).map_err(|e| bad(format!("esds: {e}")))?;
    let mut info = EntryInfo {
        config: CodecConfig::Mp3,
        width: 0,
        height: 0,
        sample_rate: rate,
        channels,
        nal: None,
    };
    // ISO/IEC 14496-1 §7.2.6.6.2 objectTypeIndication: 0x40 MPEG-4 Audio,
    // 0x66..=0x68 MPEG-2 AAC (Main/LC/SSR), 0x69/0x6B MPEG-2/MPEG-1 audio (MP3).
    info.config = match es.object_type {
        0x40 | 0x66..=0x68 => {
            let asc = es.dsi.filter(|d| !d.is_empty()).ok_or_else(|| {
                bad(
                    "esds has no DecoderSpecificInfo (AudioSpecificConfig): the AAC \
                     configuration is unknown, so no ADTS header or init segment can be written"
                        .into(),
                )
            })?;
            if let Ok(a) = crate::codec::aac::parse_asc(&asc) {
                // The sample entry's channelcount is often a fixed 2 (ffmpeg writes it
                // for mono too); the AudioSpecificConfig is authoritative.
                info.channels = a.channels;
                if info.sample_rate < 2 {
                    info.sample_rate = a.sample_rate;
                }
            }
            CodecConfig::Aac { asc: asc.into() }
        }
        0x69 | 0x6B => CodecConfig::Mp3,
        oti => {
            return Ok(Entry::Unsupported(format!(
                "mp4a (object type 0x{oti:02x})"
            )))
        }
    };
    Ok(Entry::Supported(info))
}
