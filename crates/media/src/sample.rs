// SPDX-License-Identifier: MIT OR Apache-2.0
//! The types every stage of the pipeline shares: a track's description and its samples.
//!
//! Canonical in-memory forms, whatever the container they came from:
//! - H.264/HEVC samples are length-prefixed NAL units (4-byte big-endian lengths, as in MP4),
//!   without access unit delimiters. Parameter sets live in [`CodecConfig`].
//! - AAC samples are raw access units (no ADTS header); AC-3/E-AC-3/MP3 are whole sync frames;
//!   Opus/AV1/VP9 are as stored in MP4.

use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Video,
    Audio,
}

/// Codec and the configuration needed to write it into either container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    /// H.264. `in_band` is true for avc3 (parameter sets may also appear in samples).
    Avc {
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
        in_band: bool,
    },
    /// HEVC. `in_band` is true for hev1.
    Hevc {
        vps: Vec<Bytes>,
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
        in_band: bool,
    },
    /// AV1: the av1C box payload (configOBUs included).
    Av1 { av1c: Bytes },
    /// VP9: the vpcC box payload (version/flags included).
    Vp9 { vpcc: Bytes },
    /// AAC: AudioSpecificConfig (ISO 14496-3 1.6.2.1).
    Aac { asc: Bytes },
    /// AC-3: the dac3 box payload (3 bytes).
    Ac3 { dac3: Bytes },
    /// E-AC-3: the dec3 box payload.
    Eac3 { dec3: Bytes },
    /// MPEG-1/2 Layer III.
    Mp3,
    /// Opus: the dOps box payload.
    Opus { dops: Bytes },
    /// MPEG-4 Part 2 Visual (ISO/IEC 14496-2, `mp4v` object type 0x20): the
    /// DecoderSpecificInfo (VisualObjectSequence / VisualObject / VideoObjectLayer headers,
    /// start-code delimited; may be empty). HLS carries it in MPEG-TS only.
    Mpeg4Visual { dsi: Bytes },
}

impl CodecConfig {
    pub fn kind(&self) -> TrackKind {
        match self {
            CodecConfig::Avc { .. }
            | CodecConfig::Hevc { .. }
            | CodecConfig::Av1 { .. }
            | CodecConfig::Vp9 { .. }
            | CodecConfig::Mpeg4Visual { .. } => TrackKind::Video,
            _ => TrackKind::Audio,
        }
    }

    /// Short human name, used in messages.
    pub fn name(&self) -> &'static str {
        match self {
            CodecConfig::Avc { .. } => "H.264",
            CodecConfig::Hevc { .. } => "HEVC",
            CodecConfig::Av1 { .. } => "AV1",
            CodecConfig::Vp9 { .. } => "VP9",
            CodecConfig::Aac { .. } => "AAC",
            CodecConfig::Ac3 { .. } => "AC-3",
            CodecConfig::Eac3 { .. } => "E-AC-3",
            CodecConfig::Mp3 => "MP3",
            CodecConfig::Opus { .. } => "Opus",
            CodecConfig::Mpeg4Visual { .. } => "MPEG-4 Part 2 video",
        }
    }
}

/// One elementary stream as the packager sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    /// Track id in the input (MP4 track_ID or MPEG-TS PID).
    pub id: u32,
    pub config: CodecConfig,
    /// Ticks per second of `Sample::dts`/`duration`.
    pub timescale: u32,
    /// Video: coded picture size in pixels (after cropping).
    pub width: u32,
    pub height: u32,
    /// Audio: sample rate in Hz and channel count.
    pub sample_rate: u32,
    pub channels: u16,
    /// ISO-639-2/T language code if the input had one.
    pub language: Option<String>,
    /// Total duration in `timescale` ticks, if the container says.
    pub duration: Option<u64>,
}

impl TrackInfo {
    pub fn kind(&self) -> TrackKind {
        self.config.kind()
    }
}

/// One access unit (video frame or audio frame group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Index into the demuxer's track list (not the container's id).
    pub track: usize,
    /// Decode timestamp in the track's timescale. Continuous: no 33-bit wrap here.
    pub dts: i64,
    /// Presentation minus decode time, in the same timescale (may be negative).
    pub cts_offset: i32,
    /// Duration in the track's timescale.
    pub duration: u32,
    /// Random access point (IDR / sync sample).
    pub keyframe: bool,
    pub data: Bytes,
}

impl Sample {
    /// Presentation time, `dts + cts_offset`, saturating at the ends of the i64 range (use
    /// [`Sample::checked_pts`] where an out-of-range time must be an error).
    pub fn pts(&self) -> i64 {
        self.dts.saturating_add(i64::from(self.cts_offset))
    }

    /// Presentation time, or `None` if `dts + cts_offset` overflows i64.
    pub fn checked_pts(&self) -> Option<i64> {
        self.dts.checked_add(i64::from(self.cts_offset))
    }
}

/// What every demuxer offers the segmenter.
pub trait Demuxer {
    fn tracks(&self) -> &[TrackInfo];
    /// Next sample in (approximately) decode order across tracks; `None` at the end.
    fn next_sample(&mut self) -> crate::Result<Option<Sample>>;
    /// Subtitle tracks of the input (MP4 tx3g/mov_text), read whole; none by default. Call
    /// before reading samples.
    fn subtitle_tracks(&mut self) -> crate::Result<Vec<crate::subtitle::SubtitleTrack>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz regression (mux target): `dts + cts_offset` overflowed at the ends of the range.
    #[test]
    fn pts_at_the_ends_of_the_range() {
        let s = |dts: i64, cts_offset: i32| Sample {
            track: 0,
            dts,
            cts_offset,
            duration: 0,
            keyframe: true,
            data: Bytes::new(),
        };
        let cases = [
            (s(10, -3), 7, Some(7)),
            (s(i64::MAX - 1, 3000), i64::MAX, None),
            (s(i64::MIN + 1, -3000), i64::MIN, None),
        ];
        for (sample, pts, checked) in cases {
            assert_eq!(sample.pts(), pts, "{sample:?}");
            assert_eq!(sample.checked_pts(), checked, "{sample:?}");
        }
    }
}
