// SPDX-License-Identifier: MIT OR Apache-2.0
//! Video PES (ISO/IEC 13818-1 §2.14 AVC, §2.17 HEVC): one access unit per PES, as an Annex B
//! byte stream (ITU-T H.264 / H.265 Annex B) that starts with an access unit delimiter and, on
//! keyframes, repeats the parameter sets so that every segment decodes on its own
//! (Apple HLS authoring spec 7.4: segments start with an IDR that can be decoded).

use std::ops::Range;

use super::packet::{self, wrap33};
use super::{to_90k, Payload, Pes, Track, TsMuxer};
use crate::codec::nal;
use crate::sample::Sample;

/// Annex B start code with the leading zero_byte (H.264 B.1.1).
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Iterator over the NAL units of a sample in canonical form (4-byte big-endian lengths),
/// yielding `(byte offset of the length field, NAL)`.
struct LengthPrefixed<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LengthPrefixed<'a> {
    type Item = Result<(usize, &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let at = self.pos;
        let item = self
            .data
            .get(at..at.saturating_add(4))
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .ok_or_else(|| {
                format!(
                    "truncated NAL length field at byte offset {at} of {}",
                    self.data.len()
                )
            })
            .and_then(|len| {
                let len = u32::from_be_bytes(len) as usize;
                let end = at.saturating_add(4).saturating_add(len);
                self.data.get(at + 4..end).ok_or_else(|| {
                    format!(
                        "NAL length {len} at byte offset {at} runs past the sample end ({} bytes)",
                        self.data.len()
                    )
                })
            });
        match item {
            Ok(nal) => {
                self.pos = at + 4 + nal.len();
                Some(Ok((at, nal)))
            }
            Err(e) => {
                self.pos = self.data.len();
                Some(Err(e))
            }
        }
    }
}

fn nals(data: &[u8]) -> LengthPrefixed<'_> {
    LengthPrefixed { data, pos: 0 }
}

/// NAL unit type with the codec's header layout.
fn nal_type(hevc: bool, nal: &[u8]) -> Option<u8> {
    if hevc {
        nal::h265_nal_type(nal)
    } else {
        nal::h264_nal_type(nal)
    }
}

impl TsMuxer {
    /// Builds and writes the PES of one video sample; `dts` is its unwrapped 90 kHz DTS.
    /// Returns where the PES's packets lie in `out`.
    pub(super) fn write_video(
        &mut self,
        out: &mut Vec<u8>,
        t: usize,
        dts: i64,
        s: &Sample,
    ) -> Result<Range<usize>, String> {
        let Some(track) = self.tracks.get(t) else {
            return Err(format!("no track {t}"));
        };
        if matches!(track.payload, Payload::Mpeg4Visual { .. }) {
            return self.write_mpeg4_visual(out, t, dts, s);
        }
        let Payload::Video { hevc, param_sets } = &track.payload else {
            return Err("not a video track".into());
        };
        let hevc = *hevc;
        let pts = s
            .checked_pts()
            .and_then(|p| to_90k(p, track.timescale))
            .ok_or("PTS (DTS + composition offset) out of range")?;
        let (aud, sps, aud_type): (&[u8], u8, u8) = if hevc {
            (&nal::H265_AUD, nal::h265::NAL_SPS, nal::h265::NAL_AUD)
        } else {
            (&nal::H264_AUD, nal::h264::NAL_SPS, nal::h264::NAL_AUD)
        };

        // Empty NALs are dropped; an in-band AUD would duplicate ours.
        let dropped = |unit: &[u8]| unit.is_empty() || nal_type(hevc, unit) == Some(aud_type);

        // First pass: validate the framing, look for in-band parameter sets and measure the
        // NAL units kept, with their start codes.
        let mut in_band = false;
        let mut kept = 0usize;
        for item in nals(&s.data) {
            let (_, unit) = item?;
            in_band |= nal_type(hevc, unit) == Some(sps);
            if !dropped(unit) {
                kept += START_CODE.len() + unit.len();
            }
        }

        // PTS always, DTS only when it differs (ISO/IEC 13818-1 §2.4.3.7, PTS_DTS_flags).
        let dts_field = (dts != pts).then(|| wrap33(dts));
        let mut head = std::mem::take(&mut self.pes);
        packet::begin_pes(&mut head, track.stream_id, wrap33(pts), dts_field);
        // H.264 7.4.1.2.3 / H.265 7.4.2.4.4: AUD first, then parameter sets, then the rest.
        head.extend_from_slice(&START_CODE);
        head.extend_from_slice(aud);
        if s.keyframe && !in_band {
            head.extend_from_slice(param_sets);
        }
        if self.count_only {
            let start = self.emit(out, t, dts, s.keyframe, Pes::Length(head.len() + kept));
            self.pes = head;
            return Ok(start..self.position(out));
        }
        // The NAL units are packetized from the sample's buffer, not copied into a PES first.
        let mut parts: Vec<&[u8]> = Vec::with_capacity(16);
        parts.push(&head);
        for item in nals(&s.data) {
            let (_, unit) = item?;
            if dropped(unit) {
                continue;
            }
            parts.push(&START_CODE);
            parts.push(unit);
        }
        // Video PES keep PES_packet_length 0 (unbounded; allowed for video in TS, §2.4.3.7).
        let start = self.emit(out, t, dts, s.keyframe, Pes::Parts(&parts));
        drop(parts);
        self.pes = head;
        Ok(start..self.position(out))
    }
}

impl TsMuxer {
    /// One MPEG-4 Part 2 sample (start-code delimited VOPs, ISO/IEC 14496-2 6.2) as one PES.
    /// A keyframe gets the VOS/VO/VOL headers in front unless it carries them, so every
    /// segment decodes on its own (ISO/IEC 13818-1 2.6.x: the decoder needs the VOL first).
    fn write_mpeg4_visual(
        &mut self,
        out: &mut Vec<u8>,
        t: usize,
        dts: i64,
        s: &Sample,
    ) -> Result<Range<usize>, String> {
        let Some(Track {
            payload: Payload::Mpeg4Visual { dsi },
            timescale,
            stream_id,
            ..
        }) = self.tracks.get(t)
        else {
            return Err("not an MPEG-4 Part 2 track".into());
        };
        let pts = s
            .checked_pts()
            .and_then(|p| to_90k(p, *timescale))
            .ok_or("PTS (DTS + composition offset) out of range")?;
        let dts_field = (dts != pts).then(|| wrap33(dts));
        let mut head = std::mem::take(&mut self.pes);
        packet::begin_pes(&mut head, *stream_id, wrap33(pts), dts_field);
        if s.keyframe && !starts_with_headers(&s.data) {
            head.extend_from_slice(dsi);
        }
        let parts: [&[u8]; 2] = [&head, &s.data];
        let start = self.emit(out, t, dts, s.keyframe, Pes::Parts(&parts));
        self.pes = head;
        Ok(start..self.position(out))
    }
}

/// Whether an MPEG-4 Part 2 sample starts with a VisualObjectSequence, VisualObject or
/// VideoObjectLayer start code (ISO/IEC 14496-2 Table 6-3: B0, B5, 20..=2F).
fn starts_with_headers(data: &[u8]) -> bool {
    match data {
        [0, 0, 1, code, ..] => matches!(code, 0xB0 | 0xB5 | 0x20..=0x2F),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_iteration_and_errors() {
        let data = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 0x41];
        let got: Vec<_> = nals(&data).collect();
        assert_eq!(
            got,
            vec![
                Ok((0, &[0x65, 0x88][..])),
                Ok((6, &[][..])),
                Ok((10, &[0x41][..]))
            ]
        );
        let bad = [0, 0, 0, 9, 1, 2];
        let got: Vec<_> = nals(&bad).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().unwrap_err().contains("byte offset 0"));
        let short = [0, 0, 0, 1, 0x41, 0, 0];
        let got: Vec<_> = nals(&short).collect();
        assert!(got[1]
            .as_ref()
            .unwrap_err()
            .contains("truncated NAL length field at byte offset 5"));
    }
}
