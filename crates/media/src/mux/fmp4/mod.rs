// SPDX-License-Identifier: MIT OR Apache-2.0
//! fMP4 / CMAF segments for HLS (RFC 8216bis §3.3; Apple HLS authoring spec §7–8;
//! ISO/IEC 14496-12 §8.8; CMAF ISO/IEC 23000-19 §7).
//!
//! - [`Fmp4Muxer::init_segment`](SegmentMuxer::init_segment): `ftyp` + `moov` with one `trak`
//!   per track and `mvex`/`trex` (the EXT-X-MAP resource), see [`init`].
//! - [`Fmp4Muxer::write_segment`](SegmentMuxer::write_segment): `styp`, then one `moof` + `mdat`
//!   holding every sample of the segment.
//! - [`Fmp4Muxer::write_fragment`]: a bare `moof` + `mdat` for any run of samples; a media
//!   segment is `styp` + one fragment, an LL-HLS part (RFC 8216bis §4.4.4.9) is one fragment,
//!   and a segment may equally be `styp` followed by the fragments of its parts.
//!
//! Timestamps are integer ticks of each track's own timescale. `tfdt` is the first sample's
//! dts, so it continues from the previous fragment whenever the input is continuous (Apple 7.3).
//! A track whose first dts is negative is shifted once, on its first fragment, by `-dts`, and
//! the shift is taken back out of every composition offset: presentation times stay those of
//! the input, so tracks stay in sync.

mod entry;
mod fragment;
mod init;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod tests;

pub use fragment::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};

use bytes::Bytes;
use mp4_atom::{Encode, FourCC, Styp};

use crate::error::{Error, Result};
use crate::mux::SegmentMuxer;
use crate::sample::{Sample, TrackInfo, TrackKind};
use crate::segmenter::Segment;
use fragment::TrackState;

/// fMP4 muxer for one rendition. Keeps the state that continues across fragments: the `mfhd`
/// sequence number and, per track, the timeline shift and next expected decode time.
#[derive(Debug)]
pub struct Fmp4Muxer {
    tracks: Vec<TrackInfo>,
    state: Vec<TrackState>,
    /// `Sample::track` → index into `state`; `None` for tracks of other renditions.
    slots: Vec<Option<usize>>,
    init: Bytes,
    styp: Vec<u8>,
    /// Next `mfhd` sequence_number; starts at 1 (ISO/IEC 14496-12 §8.8.5.3).
    sequence_number: u32,
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
        let init_tracks: Vec<init::InitTrack<'_>> = state
            .iter()
            .zip(&out_tracks)
            .map(|(s, info)| init::InitTrack {
                track_id: s.track_id,
                info,
            })
            .collect();
        let init = init::init_segment(&init_tracks)?;
        let styp = styp_bytes(out_tracks.len() == 1)?;
        Ok(Fmp4Muxer {
            tracks: out_tracks,
            state,
            slots,
            init,
            styp,
            sequence_number: 1,
        })
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
    pub fn write_fragment(&mut self, samples: &[Sample], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let result = self.write_fragment_with(samples, out, true);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Like [`SegmentMuxer::write_segment`], but the sample bytes are not copied: appends
    /// `styp`, `moof` and the `mdat` header to `head` and returns the `mdat` payload as slices of
    /// the samples' own buffers, in order. The segment is `head` followed by every slice —
    /// written with one vectored write, it costs no user-space copy of the media data.
    /// On error `head` is left as it was and no state changes.
    pub fn write_segment_parts<'s>(
        &mut self,
        segment: &'s Segment,
        head: &mut Vec<u8>,
    ) -> Result<Vec<&'s [u8]>> {
        let start = head.len();
        self.write_styp(head);
        match self.write_fragment_with(&segment.samples, head, false) {
            Ok(()) => Ok(fragment::payload(&self.state, &segment.samples)),
            Err(e) => {
                head.truncate(start);
                Err(e)
            }
        }
    }

    /// Writes the fragment's boxes, and its payload too when `with_payload`.
    fn write_fragment_with(
        &mut self,
        samples: &[Sample],
        out: &mut Vec<u8>,
        with_payload: bool,
    ) -> Result<()> {
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
        Ok(())
    }
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

    /// `styp` + one fragment with every sample of the segment.
    fn write_segment(&mut self, segment: &Segment, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        self.write_styp(out);
        let result = self.write_fragment(&segment.samples, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn segment_extension(&self) -> &'static str {
        "m4s"
    }
}
