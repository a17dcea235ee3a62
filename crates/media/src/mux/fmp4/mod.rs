// SPDX-License-Identifier: MIT OR Apache-2.0
//! fMP4 / CMAF segments for HLS (RFC 8216bis §3.3; Apple HLS authoring spec §7–8;
//! ISO/IEC 14496-12 §8.8; CMAF ISO/IEC 23000-19 §7).
//!
//! - [`Fmp4Muxer::init_segment`](SegmentMuxer::init_segment): `ftyp` + `moov` with one `trak`
//!   per track and `mvex`/`trex` (the EXT-X-MAP resource), see [`init`].
//! - [`Fmp4Muxer::write_segment`](SegmentMuxer::write_segment): `styp`, then one `moof` + `mdat`
//!   holding every sample of the segment — or, with
//!   [`Fmp4Muxer::set_keyframe_fragments`], one `moof` + `mdat` per keyframe of the video track
//!   (CMAF ISO/IEC 23000-19 §7.3.2.2: a segment is one or more fragments), so that every
//!   keyframe is the first video sample of a fragment and an I-frame playlist can address it
//!   with one byte range (RFC 8216bis §4.4.3.6).
//! - [`Fmp4Muxer::write_fragment`]: a bare `moof` + `mdat` for any run of samples; a media
//!   segment is `styp` + one fragment, an LL-HLS part (RFC 8216bis §4.4.4.9) is one fragment,
//!   and a segment may equally be `styp` followed by the fragments of its parts.
//!
//! Timestamps are integer ticks of each track's own timescale. `tfdt` is the first sample's
//! dts, so it continues from the previous fragment whenever the input is continuous (Apple 7.3).
//! A track whose first dts is negative is shifted once, on its first fragment, by `-dts`, and
//! the shift is taken back out of every composition offset: presentation times stay those of
//! the input, so tracks stay in sync.

mod cenc;
mod entry;
mod fragment;
mod init;
#[cfg(test)]
mod keyframe_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod tests;

pub use fragment::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};

use std::ops::Range;

use bytes::Bytes;
use mp4_atom::{Encode, FourCC, Styp};

use crate::crypto::cbcs::{Protection, Splitter};
use crate::error::{Error, Result};
use crate::mux::{KeyframeRange, SegmentMuxer};
use crate::sample::{Sample, TrackInfo, TrackKind};
use crate::segmenter::Segment;
use fragment::TrackState;

/// fMP4 muxer for one rendition. Keeps the state that continues across fragments: the `mfhd`
/// sequence number and, per track, the timeline shift and next expected decode time.
#[derive(Debug, Clone)]
pub struct Fmp4Muxer {
    tracks: Vec<TrackInfo>,
    state: Vec<TrackState>,
    /// `Sample::track` → index into `state`; `None` for tracks of other renditions.
    slots: Vec<Option<usize>>,
    init: Bytes,
    styp: Vec<u8>,
    /// Next `mfhd` sequence_number; starts at 1 (ISO/IEC 14496-12 §8.8.5.3).
    sequence_number: u32,
    /// Position in `state` of the first video track, whose keyframes are reported.
    key_slot: Option<usize>,
    /// Start a new fragment at every keyframe of the video track inside a segment.
    keyframe_fragments: bool,
    /// Keyframes of the segment written last that start a fragment.
    keyframes: Vec<KeyframeRange>,
}

/// One piece of a segment written by [`Fmp4Muxer::write_segment_parts`]: boxes in the caller's
/// head buffer, or sample data borrowed from the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPart<'s> {
    /// This range of the head buffer (`styp`, `moof`, `mdat` header).
    Head(Range<usize>),
    /// Sample bytes, straight from the sample's buffer.
    Payload(&'s [u8]),
}

impl<'s> SegmentPart<'s> {
    /// The bytes of this piece; `head` is the buffer given to `write_segment_parts`.
    pub fn bytes<'a>(&'a self, head: &'a [u8]) -> &'a [u8]
    where
        's: 'a,
    {
        match self {
            SegmentPart::Head(r) => head.get(r.clone()).unwrap_or_default(),
            SegmentPart::Payload(p) => p,
        }
    }
}

impl Fmp4Muxer {
    /// A muxer writing every track of `tracks`; `Sample::track` indexes this list. Output
    /// track_IDs are 1, 2, … in list order. Fails on an empty list, a zero timescale or a
    /// codec configuration that cannot be written.
    pub fn new(tracks: Vec<TrackInfo>) -> Result<Self> {
        let all: Vec<usize> = (0..tracks.len()).collect();
        Self::with_selection(&tracks, &all)
    }

    /// A muxer writing only `selected` (indexes into `tracks`, the demuxer's full list that
    /// `Sample::track` refers to), e.g. one audio rendition out of a muxed input. Samples of
    /// other tracks are skipped.
    pub fn with_selection(tracks: &[TrackInfo], selected: &[usize]) -> Result<Self> {
        if selected.is_empty() {
            return Err(Error::NoTracks);
        }
        let mut slots = vec![None; tracks.len()];
        let mut out_tracks = Vec::with_capacity(selected.len());
        let mut state = Vec::with_capacity(selected.len());
        for (slot, &input) in selected.iter().enumerate() {
            let info = tracks.get(input).ok_or_else(|| {
                Error::mp4(
                    format!("selected track index {input} of {}", tracks.len()),
                    0,
                )
            })?;
            let entry = slots.get_mut(input).ok_or(Error::NoTracks)?;
            if entry.is_some() {
                return Err(Error::BadCodecConfig {
                    track: info.id,
                    msg: "selected twice for the same fMP4 rendition".into(),
                });
            }
            *entry = Some(slot);
            if info.timescale == 0 {
                return Err(Error::BadCodecConfig {
                    track: info.id,
                    msg: "timescale is 0".into(),
                });
            }
            let track_id = u32::try_from(slot + 1).map_err(|_| Error::NoTracks)?;
            let video = info.kind() == TrackKind::Video;
            state.push(TrackState::new(input, track_id, info.id, video));
            out_tracks.push(info.clone());
        }
        let init = build_init(&state, &out_tracks, None)?;
        let styp = styp_bytes(out_tracks.len() == 1)?;
        let key_slot = state.iter().position(|t| t.is_video);
        Ok(Fmp4Muxer {
            tracks: out_tracks,
            state,
            slots,
            init,
            styp,
            sequence_number: 1,
            key_slot,
            keyframe_fragments: false,
            keyframes: Vec::new(),
        })
    }

    /// Protects every track with Common Encryption `cbcs` (ISO/IEC 23001-7 §10.4): the init
    /// segment gets `encv`/`enca` + `sinf` and a ClearKey `pssh`, and each fragment's `traf`
    /// its `senc` (+ `saiz`/`saio` for subsamples). The samples given to the muxer must be
    /// encrypted already ([`crate::crypto::cbcs`]), with `protection.layouts` in this muxer's
    /// track order. The `senc` subsamples are found again here, from the clear headers of the
    /// encrypted samples, by a [`Splitter`] per track that sees every sample once in decode
    /// order as the encryptor's did (AV1's keeps reference state): called again for a new key
    /// period, it keeps the tracks' splitters.
    pub fn protect(&mut self, protection: Protection) -> Result<()> {
        if protection.layouts.len() != self.state.len() {
            return Err(Error::Encryption(format!(
                "cbcs: {} track layouts for {} tracks",
                protection.layouts.len(),
                self.state.len()
            )));
        }
        self.init = build_init(&self.state, &self.tracks, Some(&protection))?;
        let tracks = self
            .state
            .iter_mut()
            .zip(&protection.layouts)
            .zip(&self.tracks);
        for ((t, &layout), info) in tracks {
            // A new key period keeps the track's splitter: AV1's state carries over.
            if t.crypt.as_ref().is_some_and(|c| c.layout() == layout) {
                continue;
            }
            let splitter = Splitter::with_layout(layout, &info.config)
                .map_err(|e| Error::Encryption(format!("track {}: {e}", info.id)))?;
            t.crypt = Some(cenc::TrafCrypt::new(splitter));
        }
        Ok(())
    }

    /// With `on`, [`write_segment`](SegmentMuxer::write_segment) and
    /// [`write_segment_parts`](Self::write_segment_parts) start a new fragment at every keyframe
    /// of the (first) video track, not only at the segment's first sample. Each keyframe is then
    /// addressable as `moof` + `mdat` header + its own bytes — what an I-frame playlist needs
    /// (RFC 8216bis §4.4.3.6) — at the cost of a few hundred bytes
    /// of `moof` per extra keyframe. Off by default.
    pub fn set_keyframe_fragments(&mut self, on: bool) {
        self.keyframe_fragments = on;
    }

    /// The sample ranges of a segment's fragments: one, or one per video keyframe.
    fn fragment_ranges(&self, samples: &[Sample]) -> Vec<Range<usize>> {
        let key_input = self
            .key_slot
            .filter(|_| self.keyframe_fragments)
            .and_then(|k| self.state.get(k))
            .map(|t| t.input);
        let mut ranges = Vec::new();
        let mut start = 0;
        for (i, s) in samples.iter().enumerate().skip(1) {
            if Some(s.track) == key_input && s.keyframe {
                ranges.push(start..i);
                start = i;
            }
        }
        ranges.push(start..samples.len());
        ranges
    }

    /// The tracks this muxer writes, in track_ID order (track_ID = position + 1).
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    /// The `mfhd` sequence_number the next fragment will carry.
    pub fn next_sequence_number(&self) -> u32 {
        self.sequence_number
    }

    /// Appends the segment type box that starts a media segment (ISO/IEC 14496-12 §8.16.2).
    pub fn write_styp(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.styp);
    }

    /// Appends one movie fragment (`moof` + `mdat`) holding `samples` — any run of samples in
    /// decode order per track, tracks interleaved as they come (a whole segment or an LL-HLS
    /// part). One `traf` per track that has samples, in track order; the `mdat` holds the
    /// tracks' data one after the other in the same order. Each sample's bytes are copied
    /// once. On error `out` is left as it was and no state changes.
    /// [`SegmentMuxer::keyframes`] then lists the fragment's keyframe, if it starts with one
    /// (offset from the start of the fragment).
    pub fn write_fragment(&mut self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        self.keyframes.clear();
        let result = self.write_fragment_with(samples, out, true);
        match result {
            Ok(key) => {
                self.record_keyframe(key, 0);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Like [`SegmentMuxer::write_segment`], but the sample bytes are not copied: appends
    /// `styp` and each fragment's `moof` and `mdat` header to `head` and returns the segment as
    /// pieces — ranges of `head` and slices of the samples' own buffers — in order. Written with
    /// one vectored write, the segment costs no user-space copy of the media data.
    /// On error `head` is left as it was and no state changes.
    pub fn write_segment_parts<'s>(
        &mut self,
        segment: &'s Segment,
        head: &mut Vec<u8>,
    ) -> Result<Vec<SegmentPart<'s>>> {
        self.write_pieces(segment, head, true)
    }

    /// [`Self::write_segment_parts`] for the next piece of a segment begun by an earlier call
    /// (a segment too large to hold in memory, see `Segmenter::take_oversized`): its fragments
    /// only, no `styp` (ISO/IEC 14496-12 §8.16.2: `styp` starts a segment). Keyframe offsets
    /// are counted from the start of this piece.
    pub fn write_continuation_parts<'s>(
        &mut self,
        segment: &'s Segment,
        head: &mut Vec<u8>,
    ) -> Result<Vec<SegmentPart<'s>>> {
        self.write_pieces(segment, head, false)
    }

    fn write_pieces<'s>(
        &mut self,
        segment: &'s Segment,
        head: &mut Vec<u8>,
        styp: bool,
    ) -> Result<Vec<SegmentPart<'s>>> {
        let start = head.len();
        let saved = (self.state.clone(), self.sequence_number);
        self.keyframes.clear();
        if styp {
            self.write_styp(head);
        }
        let ranges = self.fragment_ranges(&segment.samples);
        let mut parts = Vec::with_capacity(segment.samples.len() + ranges.len());
        let mut head_from = start;
        let mut pos = (head.len() - start) as u64;
        let mut result = Ok(());
        for range in ranges {
            let samples = segment.samples.get(range).unwrap_or_default();
            let before = head.len();
            match self.write_fragment_with(samples, head, false) {
                Ok(key) => {
                    self.record_keyframe(key, pos);
                    pos += (head.len() - before) as u64;
                    parts.push(SegmentPart::Head(head_from..head.len()));
                    head_from = head.len();
                    for p in fragment::payload(&self.state, samples) {
                        pos += p.len() as u64;
                        parts.push(SegmentPart::Payload(p));
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        match result {
            Ok(()) => Ok(parts),
            Err(e) => {
                head.truncate(start);
                (self.state, self.sequence_number) = saved;
                self.keyframes.clear();
                Err(e)
            }
        }
    }

    /// Notes a fragment written at segment offset `offset` that starts with a keyframe.
    fn record_keyframe(&mut self, key: Option<((i64, i64), u64)>, offset: u64) {
        if let Some(((dts, pts), length)) = key {
            self.keyframes.push(KeyframeRange {
                dts,
                pts,
                offset,
                length,
            });
        }
    }

    /// Writes the fragment's boxes, and its payload too when `with_payload`. When the fragment's
    /// first sample of the video track is a keyframe, returns its (dts, pts) and the bytes from the
    /// start of the `moof` to the end of that sample: the fragment's I-frame byte range.
    fn write_fragment_with(
        &mut self,
        samples: &[Sample],
        out: &mut Vec<u8>,
        with_payload: bool,
    ) -> Result<Option<((i64, i64), u64)>> {
        let plan = fragment::plan(&mut self.state, &self.slots, samples)?;
        if self.state.iter().all(|t| t.plan.count == 0) {
            return Err(Error::mp4(
                format!(
                    "fragment {}: none of the {} samples belongs to this rendition's tracks",
                    self.sequence_number,
                    samples.len()
                ),
                0,
            ));
        }
        let key = self
            .key_slot
            .and_then(|k| self.state.get(k))
            .filter(|t| t.plan.count > 0)
            .and_then(|t| {
                let first = samples.iter().find(|s| s.track == t.input)?;
                let offset = u64::try_from(t.plan.data_offset).ok()?;
                first.keyframe.then(|| {
                    let end = offset.saturating_add(first.data.len() as u64);
                    ((first.dts, first.pts()), end)
                })
            });
        if with_payload {
            fragment::write(&self.state, samples, &plan, self.sequence_number, out)?;
        } else {
            fragment::write_head(&self.state, samples, &plan, self.sequence_number, out)?;
        }
        self.sequence_number = self
            .sequence_number
            .checked_add(1)
            .ok_or_else(|| Error::mp4("mfhd sequence_number overflow", 0))?;
        for t in self.state.iter_mut().filter(|t| t.plan.count > 0) {
            let p = t.plan;
            t.shift = Some(p.shift);
            t.next_decode = i64::try_from(p.base)
                .ok()
                .and_then(|b| b.checked_add(p.last_dts.checked_sub(p.first_dts)?))
                .and_then(|b| b.checked_add(i64::from(p.last_duration)));
            t.written = t.written.saturating_add(u64::from(p.count));
        }
        Ok(key)
    }
}

/// The init segment of `tracks` (their states give the track_IDs).
fn build_init(
    state: &[TrackState],
    tracks: &[TrackInfo],
    protection: Option<&Protection>,
) -> Result<Bytes> {
    let init_tracks: Vec<init::InitTrack<'_>> = state
        .iter()
        .zip(tracks)
        .map(|(s, info)| init::InitTrack {
            track_id: s.track_id,
            info,
        })
        .collect();
    init::init_segment(&init_tracks, protection)
}

/// `styp` of a media segment: `msdh` (ISO/IEC 14496-12 §8.16.1 / DASH media segment), plus
/// `cmfs` (CMAF segment, ISO/IEC 23000-19 §7.2) for a single-track file. `msix` is not
/// claimed: it promises a `sidx`, which HLS does not need and this muxer does not write.
fn styp_bytes(single_track: bool) -> Result<Vec<u8>> {
    let mut compatible_brands = vec![FourCC::new(b"msdh")];
    if single_track {
        compatible_brands.push(FourCC::new(b"cmfs"));
    }
    let mut out = Vec::with_capacity(24);
    Styp {
        major_brand: FourCC::new(b"msdh"),
        minor_version: 0,
        compatible_brands,
    }
    .encode(&mut out)
    .map_err(|e| Error::mp4(format!("writing styp: {e}"), 0))?;
    Ok(out)
}

impl SegmentMuxer for Fmp4Muxer {
    fn init_segment(&mut self) -> Result<Option<Bytes>> {
        Ok(Some(self.init.clone()))
    }

    /// `styp` + one fragment with every sample of the segment (or one per keyframe, see
    /// [`Fmp4Muxer::set_keyframe_fragments`]). On error `out` and the state are as before.
    fn write_segment(&mut self, segment: &Segment, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let saved = (self.state.clone(), self.sequence_number);
        self.keyframes.clear();
        self.write_styp(out);
        let mut result = Ok(());
        for range in self.fragment_ranges(&segment.samples) {
            let samples = segment.samples.get(range).unwrap_or_default();
            let offset = (out.len() - start) as u64;
            match self.write_fragment_with(samples, out, true) {
                Ok(key) => self.record_keyframe(key, offset),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            out.truncate(start);
            (self.state, self.sequence_number) = saved;
            self.keyframes.clear();
        }
        result
    }

    fn segment_extension(&self) -> &'static str {
        "m4s"
    }

    fn keyframes(&self) -> &[KeyframeRange] {
        &self.keyframes
    }
}
