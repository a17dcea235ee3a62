// SPDX-License-Identifier: MIT OR Apache-2.0
//! Segment packetizers: MPEG-TS ([`ts`]) and fMP4/CMAF ([`fmp4`]).

pub mod fmp4;
pub mod ts;

use crate::segmenter::Segment;

/// Turns cut segments into container bytes. One muxer per rendition; it keeps the state that
/// must continue across segments (TS continuity counters, fMP4 sequence numbers).
pub trait SegmentMuxer {
    /// Initialization section (fMP4 `ftyp`+`moov`), or `None` for formats without one (TS).
    fn init_segment(&mut self) -> crate::Result<Option<bytes::Bytes>>;
    /// Appends the bytes of `segment` to `out`.
    fn write_segment(&mut self, segment: &Segment, out: &mut Vec<u8>) -> crate::Result<()>;
    /// File extension of media segments ("ts" or "m4s").
    fn segment_extension(&self) -> &'static str;
}
