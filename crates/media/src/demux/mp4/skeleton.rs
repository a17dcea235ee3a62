// SPDX-License-Identifier: MIT OR Apache-2.0
//! Skeleton samples, for planning just-in-time packaging without reading the media data
//! (`package::jit`): a sample of the index with its payload replaced by zeros, except the
//! bytes that decide what the packager does with it — for video, each NAL unit's length
//! prefix and its first two bytes (the NAL header: ISO/IEC 14496-15 §5.3.2 / §8.3.2,
//! H.264 7.3.1, H.265 7.3.1.2), and the few stray bytes after the last one. Everything
//! downstream of the demuxer (canonical NAL form, the segmenter's HEVC picture kinds, the
//! fMP4 and MPEG-TS muxers' sizes: AUDs, in-band parameter sets, start codes, PES and packet
//! counts) reads no other payload byte of the codecs [`skeleton_codec`] accepts, so a plan
//! made of skeletons has the same cuts and sizes as one made of the real samples.
//!
//! A file's video samples are read a few bytes per NAL unit; audio samples and, with
//! `structure` false, canonical video samples are slices of one shared zero buffer.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;

use super::entry::NalFormat;
use super::index::MediaIndex;
use super::Mp4Demuxer;
use crate::error::{Error, Result};
use crate::sample::{CodecConfig, Sample};

/// Whether every payload byte of `config` other than the NAL structure is opaque to the
/// packager (sizes only).
pub fn skeleton_codec(config: &CodecConfig) -> bool {
    matches!(
        config,
        CodecConfig::Avc { .. }
            | CodecConfig::Hevc { .. }
            | CodecConfig::Aac { .. }
            | CodecConfig::Ac3 { .. }
            | CodecConfig::Eac3 { .. }
            | CodecConfig::Mp3
    )
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Sample `i` of `index` as [`MediaIndex::sample`] would make it from the real bytes, its
    /// payload zeros but for the NAL structure of video. `zeros`: at least as long as the
    /// largest sample. `structure` false: a video sample already in canonical form (4-byte
    /// lengths, no AUD, no empty NAL unit) is returned as zeros too — for consumers that
    /// read nothing but its length (H.264 in fMP4).
    pub fn skeleton(
        &mut self,
        index: &MediaIndex,
        i: usize,
        zeros: &Bytes,
        structure: bool,
    ) -> Result<Sample> {
        let r = *index
            .samples()
            .get(i)
            .ok_or_else(|| Error::mp4(format!("no sample {i} in the index"), 0))?;
        let size = r.size as usize;
        let Some(fmt) = index.nal_format(r.track as usize) else {
            return index.sample(i, slice(zeros, size, r.offset)?);
        };
        let ls = usize::from(fmt.length_size);
        if !(1..=4).contains(&ls) {
            return index.sample(i, slice(zeros, size, r.offset)?); // its error
        }
        if !structure && self.nal_walk(r.offset, size, fmt, None)? {
            return index.canonical_sample(i, slice(zeros, size, r.offset)?);
        }
        let mut skel = vec![0u8; size];
        self.nal_walk(r.offset, size, fmt, Some(&mut skel))?;
        index.sample(i, Bytes::from(skel))
    }

    /// Walks the NAL units of the `size`-byte sample at `offset`, reading each one's length
    /// prefix and header (into `skel` at their place, if given); whether the sample is
    /// already canonical (4-byte lengths, no AUD, no empty NAL unit, nothing after the last).
    fn nal_walk(
        &mut self,
        offset: u64,
        size: usize,
        fmt: NalFormat,
        mut skel: Option<&mut [u8]>,
    ) -> Result<bool> {
        let ls = usize::from(fmt.length_size);
        let mut canonical = ls == 4;
        let mut pos = 0usize;
        while pos < size {
            let want = (ls + 2).min(size - pos);
            let mut head = [0u8; 6];
            let got = head.get_mut(..want).unwrap_or_default();
            self.peek(offset + pos as u64, got)?;
            if let Some(dst) = skel.as_deref_mut().and_then(|s| s.get_mut(pos..pos + want)) {
                dst.copy_from_slice(got);
            }
            if want < ls {
                return Ok(false); // stray or padding bytes: [`MediaIndex::sample`] decides
            }
            let len = got
                .get(..ls)
                .unwrap_or_default()
                .iter()
                .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
            let unit = got.get(ls..).unwrap_or_default();
            if len == 0 || is_aud(unit, fmt.hevc) {
                canonical = false;
            }
            // Past the end: the sample is malformed, and [`MediaIndex::sample`] says so.
            pos = pos.saturating_add(ls).saturating_add(len);
        }
        Ok(canonical)
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    fn peek(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.reader
            .inner_mut()
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.reader.inner_mut().read_exact(buf))
            .map_err(|e| Error::io(format!("reading a NAL header at byte offset {offset}"), e))
    }
}

fn is_aud(unit: &[u8], hevc: bool) -> bool {
    use crate::codec::nal::{h264, h264_nal_type, h265, h265_nal_type};
    if hevc {
        h265_nal_type(unit) == Some(h265::NAL_AUD)
    } else {
        h264_nal_type(unit) == Some(h264::NAL_AUD)
    }
}

fn slice(zeros: &Bytes, size: usize, offset: u64) -> Result<Bytes> {
    if size > zeros.len() {
        return Err(Error::mp4(
            format!("sample of {size} bytes larger than the skeleton buffer"),
            offset,
        ));
    }
    Ok(zeros.slice(..size))
}
