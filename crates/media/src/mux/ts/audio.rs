// SPDX-License-Identifier: MIT OR Apache-2.0
//! Audio PES: AAC as ADTS frames (ISO/IEC 13818-1 §2.4.2.3 stream_type 0x0F, ISO/IEC 14496-3
//! 1.A.2), MP3 and AC-3/E-AC-3 sync frames as they are (ATSC A/52 Annex A). Consecutive frames
//! of a track share one PES carrying the PTS of the first (as ffmpeg does), which keeps the
//! per-PES overhead low; a group ends after [`MAX_FRAMES`] frames, [`MAX_PAYLOAD`] bytes,
//! [`MAX_SPAN`] of time, at a gap in the timestamps, or at the end of the segment.

use super::packet::{self, wrap33};
use super::{to_90k, Payload, Pes, TsMuxer};
use crate::codec::aac;
use crate::sample::Sample;

/// Most frames in one audio PES.
const MAX_FRAMES: u32 = 5;
/// Payload bytes after which a group is closed (ffmpeg's default pes_payload_size).
const MAX_PAYLOAD: usize = 2930;
/// Longest time from the first frame of a group to the last, in 90 kHz ticks (0.35 s, ffmpeg's
/// max_audio_delay).
const MAX_SPAN: i64 = 31_500;

/// Frames of one track waiting to be written as one PES.
#[derive(Debug, Default, Clone)]
pub(super) struct AudioGroup {
    /// Payload: ADTS frames or sync frames, back to back.
    data: Vec<u8>,
    frames: u32,
    /// Unwrapped 90 kHz DTS/PTS of the first frame.
    first_dts: i64,
    first_pts: i64,
    /// Where the next frame must start (track timescale) to join this group.
    next_dts: i64,
}

impl AudioGroup {
    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.frames = 0;
    }
    fn is_empty(&self) -> bool {
        self.frames == 0
    }
}

impl TsMuxer {
    /// Adds one audio sample to its track's group, writing the group first if this sample
    /// cannot join it. `dts` is the sample's unwrapped 90 kHz DTS.
    pub(super) fn push_audio(
        &mut self,
        out: &mut Vec<u8>,
        t: usize,
        dts: i64,
        s: &Sample,
    ) -> Result<(), String> {
        let Some(track) = self.tracks.get(t) else {
            return Err(format!("no track {t}"));
        };
        let pts = s
            .checked_pts()
            .and_then(|p| to_90k(p, track.timescale))
            .ok_or("PTS (DTS + composition offset) out of range")?;
        let header_len = if matches!(track.payload, Payload::Aac(_)) {
            7
        } else {
            0
        };
        let g = &track.group;
        let joins = !g.is_empty()
            && g.frames < MAX_FRAMES
            && s.dts == g.next_dts
            && g.data.len() + header_len + s.data.len() <= MAX_PAYLOAD
            && dts.saturating_sub(g.first_dts) < MAX_SPAN;
        if !g.is_empty() && !joins {
            self.flush_audio(out, t)?;
        }
        let Some(track) = self.tracks.get_mut(t) else {
            return Err(format!("no track {t}"));
        };
        let g = &mut track.group;
        if g.is_empty() {
            g.first_dts = dts;
            g.first_pts = pts;
        }
        if let Payload::Aac(asc) = &track.payload {
            let header = aac::adts_header(asc, s.data.len())?;
            g.data.extend_from_slice(&header);
        }
        g.data.extend_from_slice(&s.data);
        g.frames += 1;
        g.next_dts = s.dts.saturating_add(i64::from(s.duration));
        Ok(())
    }

    /// Writes track `t`'s pending group as one PES (nothing if it is empty).
    fn flush_audio(&mut self, out: &mut Vec<u8>, t: usize) -> Result<(), String> {
        let Some(track) = self.tracks.get_mut(t) else {
            return Err(format!("no track {t}"));
        };
        let g = &mut track.group;
        if g.is_empty() {
            return Ok(());
        }
        let (dts, pts) = (g.first_dts, g.first_pts);
        let dts_field = (dts != pts).then(|| wrap33(dts));
        packet::begin_pes(&mut self.pes, track.stream_id, wrap33(pts), dts_field);
        self.pes.extend_from_slice(&g.data);
        let frames = g.frames;
        g.clear();
        // Audio PES need a real PES_packet_length (0 is for video only, §2.4.3.7).
        packet::finish_pes(&mut self.pes).map_err(|len| {
            format!("audio PES of {frames} frame(s) is {len} bytes, over the 65535 a PES can hold")
        })?;
        // Every audio frame is a random access point.
        let pes = std::mem::take(&mut self.pes);
        self.emit(out, t, dts, true, Pes::Parts(&[&pes]));
        self.pes = pes;
        Ok(())
    }

    /// Writes every pending group, earliest first; `Err((track, msg))`.
    pub(super) fn flush_all_audio(&mut self, out: &mut Vec<u8>) -> Result<(), (usize, String)> {
        while let Some(t) = (0..self.tracks.len())
            .filter(|&t| self.tracks.get(t).is_some_and(|tr| !tr.group.is_empty()))
            .min_by_key(|&t| self.tracks.get(t).map_or(0, |tr| tr.group.first_dts))
        {
            self.flush_audio(out, t).map_err(|e| (t, e))?;
        }
        Ok(())
    }
}
