// SPDX-License-Identifier: MIT OR Apache-2.0
//! Segment packetizers: MPEG-TS ([`ts`]) and fMP4/CMAF ([`fmp4`]).

pub mod fmp4;
pub mod ts;

use crate::segmenter::Segment;

/// Where one keyframe of a rendition's video track lies in the segment written last: what an
/// I-frame playlist entry addresses with EXT-X-BYTERANGE (RFC 8216bis §4.4.3.6, §4.4.4.2).
///
/// Which keyframes a muxer reports, and what the range holds, is the muxer's: every keyframe
/// of the first video track for TS (the packets of its PES, from PAT/PMT on for the one that
/// opens the segment), the keyframes that start a fragment for fMP4 (`moof` + `mdat` header +
/// the sample; see [`fmp4::Fmp4Muxer::set_keyframe_fragments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeRange {
    /// Decode time of the keyframe, in its track's timescale (as [`crate::sample::Sample::dts`]).
    pub dts: i64,
    /// Presentation time of the keyframe, same timescale: what an I-frame entry's EXTINF is
    /// measured on (RFC 8216bis 4.4.3.6).
    pub pts: i64,
    /// First byte of the range, counted from the start of the segment.
    pub offset: u64,
    /// Length of the range in bytes.
    pub length: u64,
}

/// Turns cut segments into container bytes. One muxer per rendition; it keeps the state that
/// must continue across segments (TS continuity counters, fMP4 sequence numbers).
pub trait SegmentMuxer {
    /// Initialization section (fMP4 `ftyp`+`moov`), or `None` for formats without one (TS).
    fn init_segment(&mut self) -> crate::Result<Option<bytes::Bytes>>;
    /// Appends the bytes of `segment` to `out`.
    fn write_segment(&mut self, segment: &Segment, out: &mut Vec<u8>) -> crate::Result<()>;
    /// File extension of media segments ("ts" or "m4s").
    fn segment_extension(&self) -> &'static str;
    /// The keyframes of the segment written last, in decode order (empty without video, and
    /// after a failed write).
    fn keyframes(&self) -> &[KeyframeRange];
}
