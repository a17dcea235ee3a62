// SPDX-License-Identifier: MIT OR Apache-2.0
//! AES-128's I-frame file, just in time: with METHOD=AES-128 every keyframe is copied out of
//! its segment and encrypted on its own into one file (`crate::crypto::segment`). The plan
//! knows where each segment's entries start in it (the encryption's state before the
//! segment); a byte range of the file is rendered from the segments whose entries it covers,
//! each rendered clear, its keyframes cut out and encrypted as `package` encrypts them.

use std::ops::Range;

use bytes::Bytes;

use super::{JitPlan, PlannedSegment, SegmentCrypto, Span};
use crate::crypto::cbc::encrypt;
use crate::crypto::sequence_iv;
use crate::demux::mp4::MediaIndex;
use crate::sample::Sample;
use crate::{Error, Result};

impl JitPlan {
    /// The AES-128 I-frame file (`stream_VERSION_iframes.ts|m4s`): its name and length.
    pub fn iframe_file(&self) -> Option<(&str, u64)> {
        self.iframe_file.as_ref().map(|(n, l)| (n.as_str(), *l))
    }

    /// Where segment `seg`'s entries are in the I-frame file: their first number, and their
    /// byte range.
    fn iframe_extent(&self, seg: usize) -> Option<(usize, Range<u64>)> {
        let at = |s: &PlannedSegment| match &s.crypto {
            Some(SegmentCrypto::Aes(_, at)) => Some(*at),
            _ => None,
        };
        let (first, start) = at(self.segments.get(seg)?)?;
        let end = match self.segments.get(seg + 1) {
            Some(next) => at(next)?.1,
            None => self.iframe_file()?.1,
        };
        Some((first, start..end))
    }

    /// The segments whose I-frame entries overlap bytes `range` of the I-frame file, in order.
    pub fn iframe_segments(&self, range: Range<u64>) -> Vec<usize> {
        (0..self.segments.len())
            .filter(|&seg| {
                self.iframe_extent(seg).is_some_and(|(_, r)| {
                    r.start < r.end && r.start < range.end && range.start < r.end
                })
            })
            .collect()
    }

    /// The I-frame entries of segment `seg` (AES-128, [`crate::crypto::segment`]): each
    /// keyframe of the clear segment — MPEG-TS: after its piece's PAT/PMT when it does not
    /// open the piece — encrypted on its own, IV = its number in the I-frame playlist; returns
    /// where they start in the I-frame file, and their bytes. `fetch` as [`Self::render_with`].
    pub fn render_iframes(
        &self,
        seg: usize,
        fetch: &mut dyn FnMut(usize) -> Result<Sample>,
    ) -> Result<(u64, Vec<u8>)> {
        let s = self
            .segments
            .get(seg)
            .ok_or_else(|| Error::mp4(format!("no segment {seg}"), 0))?;
        let (Some(SegmentCrypto::Aes(enc, _)), Some((first, extent))) =
            (&s.crypto, self.iframe_extent(seg))
        else {
            return Err(Error::mp4(
                format!("{}: no AES-128 I-frame entries", s.name),
                0,
            ));
        };
        let mut keys = Vec::new();
        let clear = self.render_pieces(s, fetch, Some(&mut keys))?;
        let msn = s.pieces.first().map_or(0, |p| p.index);
        let key = enc.key(enc.key_index(msn));
        let mut out = Vec::with_capacity(usize::try_from(extent.end - extent.start).unwrap_or(0));
        for (j, (psi, range)) in keys.into_iter().enumerate() {
            let part = |r: Range<u64>| {
                usize::try_from(r.start)
                    .ok()
                    .zip(usize::try_from(r.end).ok())
                    .and_then(|(a, b)| clear.get(a..b))
                    .ok_or_else(|| Error::mp4(format!("{}: keyframe outside it", s.name), 0))
            };
            let mut plain = Vec::new();
            if let Some(psi) = psi {
                plain.extend_from_slice(part(psi)?);
            }
            plain.extend_from_slice(part(range)?);
            out.extend(encrypt(&key, &sequence_iv((first + j) as u64), &plain));
        }
        if out.len() as u64 != extent.end - extent.start {
            return Err(Error::mp4(
                format!(
                    "{}: rendered {} bytes of I-frame entries, the plan measured {} (file changed?)",
                    s.name,
                    out.len(),
                    extent.end - extent.start
                ),
                0,
            ));
        }
        Ok((extent.start, out))
    }

    /// [`Self::render_iframes`] from `read`, the bytes of each of [`Self::spans`] of `seg`.
    pub fn render_iframes_read(
        &self,
        index: &MediaIndex,
        seg: usize,
        read: &[(Span, Bytes)],
    ) -> Result<(u64, Vec<u8>)> {
        self.render_iframes(seg, &mut |i| self.read_sample(index, i, read))
    }
}
