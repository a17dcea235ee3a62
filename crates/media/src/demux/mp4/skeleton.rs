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

use super::entry::NalFormat;
use super::index::{MediaIndex, SampleRef};
use super::skeleton_buffers::SkeletonBuffers;
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

/// The first bytes of one NAL unit of a sample: its length prefix and header, or the stray
/// bytes after the last one (fewer than a length prefix).
#[derive(Debug, Clone, Copy)]
struct Head {
    /// Position in the sample.
    pos: u32,
    /// Bytes of `bytes` read (the length prefix and 2 header bytes, fewer at the end).
    len: u8,
    bytes: [u8; 6],
}

/// The NAL heads of a run of consecutive samples of an index, read ahead of planning by
/// [`NalWalks::read`] — for instance by several threads at once, each
/// with its own reader, in parts handed to planning in order ([`HeadParts`]) — so that
/// [`Mp4Demuxer::skeleton_from`] reads nothing.
#[derive(Debug, Clone, Default)]
pub struct NalHeads {
    /// Index of the first sample covered.
    start: usize,
    /// Per sample covered: where its heads start in `heads` (one more entry: the end).
    first: Vec<u32>,
    heads: Vec<Head>,
}

/// The NAL heads of all the samples of an index in consecutive parts, in order, as they are
/// read (a part not read yet is waited for).
pub type HeadParts = Box<dyn Iterator<Item = Result<NalHeads>>>;

/// What reads the NAL heads of an index's samples ahead of planning: it is given each part's
/// [`NalWalks`] as the index is made ([`Mp4Demuxer::index_walking`]), so its readers start
/// before the index is whole, and hands the heads back in parts, in order.
pub trait ReadAhead {
    /// Samples per part (the last part may have fewer).
    fn part_samples(&self) -> usize;
    /// The next part's walks, in order.
    fn walk(&mut self, walks: NalWalks) -> Result<()>;
    /// The heads of every part given, in order (a part not read yet is waited for).
    fn heads(self: Box<Self>) -> Result<HeadParts>;
}

/// A [`ReadAhead`] on the planning thread: it keeps each part's walks and, when planning asks
/// for the heads, reads every part with a reader of its own, made by `open` (the file the
/// index was made from).
pub struct ReadEachPart<F> {
    part: usize,
    open: F,
    walks: Vec<NalWalks>,
}

impl<F> ReadEachPart<F> {
    /// Parts of `part` samples.
    pub fn new(part: usize, open: F) -> Self {
        ReadEachPart {
            part,
            open,
            walks: Vec::new(),
        }
    }
}

impl<R: Read + Seek, F: FnMut() -> R> ReadAhead for ReadEachPart<F> {
    fn part_samples(&self) -> usize {
        self.part
    }

    fn walk(&mut self, walks: NalWalks) -> Result<()> {
        self.walks.push(walks);
        Ok(())
    }

    fn heads(mut self: Box<Self>) -> Result<HeadParts> {
        let parts = (self.walks.iter())
            .map(|w| w.read(&mut (self.open)()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(parts.into_iter().map(Ok)))
    }
}

impl NalHeads {
    /// Whether sample `i` is covered.
    pub fn covers(&self, i: usize) -> bool {
        i.checked_sub(self.start)
            .is_some_and(|k| k + 1 < self.first.len())
    }

    /// The heads of sample `i`, if covered.
    fn of(&self, i: usize) -> Option<&[Head]> {
        let k = i.checked_sub(self.start)?;
        let (&from, &to) = (self.first.get(k)?, self.first.get(k + 1)?);
        self.heads.get(from as usize..to as usize)
    }
}

/// What reading the NAL heads of a run of consecutive samples of an index takes, owned (for
/// a reader on another thread): where each sample is and, for the video samples with NAL
/// units, how they are framed.
#[derive(Debug, Clone)]
pub struct NalWalks {
    start: usize,
    samples: Vec<Walk>,
}

/// One sample of [`NalWalks`]: where it is, and how its NAL units are framed if they are
/// read (`None`: not a video sample with NAL units).
#[derive(Debug, Clone, Copy)]
struct Walk {
    offset: u64,
    size: u32,
    fmt: Option<NalFormat>,
}

impl NalWalks {
    /// The samples `samples` of `index`.
    pub fn new(index: &MediaIndex, samples: std::ops::Range<usize>) -> Result<Self> {
        let refs = index.samples().get(samples.clone()).ok_or_else(|| {
            Error::mp4(
                format!("no samples {}..{} in the index", samples.start, samples.end),
                0,
            )
        })?;
        Ok(Self::from_refs(samples.start, refs, index.nal_formats()))
    }

    /// The samples `refs` of an index, the first being sample `start`; `nal`: how each track
    /// frames NAL units (`None`: not video).
    pub(super) fn from_refs(start: usize, refs: &[SampleRef], nal: &[Option<NalFormat>]) -> Self {
        NalWalks {
            start,
            samples: refs
                .iter()
                .map(|r| Walk {
                    offset: r.offset,
                    size: r.size,
                    fmt: walked_format(nal, r),
                })
                .collect(),
        }
    }

    /// Where [`Self::read`] reads first for each sample it reads (the video samples with NAL
    /// units), in index order: what a reader of a file that is not in the page cache can ask
    /// the system to read ahead.
    pub fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.samples
            .iter()
            .filter(|w| w.fmt.is_some())
            .map(|w| w.offset)
    }

    /// Reads the NAL heads of the video samples from `reader` (the file the index was made
    /// from), a few bytes per NAL unit; other samples have none.
    pub fn read<R: Read + Seek>(&self, reader: &mut R) -> Result<NalHeads> {
        let mut out = NalHeads {
            start: self.start,
            first: Vec::with_capacity(self.samples.len() + 1),
            // One head per walked sample as a rule (one NAL unit each, or a few).
            heads: Vec::with_capacity(self.samples.iter().filter(|w| w.fmt.is_some()).count()),
        };
        out.first.push(0);
        for w in &self.samples {
            if let Some(fmt) = w.fmt {
                walk(reader, w.offset, w.size as usize, fmt, &mut out.heads)?;
            }
            let end = u32::try_from(out.heads.len())
                .map_err(|_| Error::mp4("too many NAL units to plan", w.offset))?;
            out.first.push(end);
        }
        Ok(out)
    }
}

/// The NAL format of sample `r` when its NAL heads are read: a video sample whose length
/// size [`MediaIndex::sample`] accepts.
fn walked_format(nal: &[Option<NalFormat>], r: &SampleRef) -> Option<NalFormat> {
    nal.get(r.track as usize)
        .copied()
        .flatten()
        .filter(|f| (1..=4).contains(&f.length_size))
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Sample `i` of `index` as [`MediaIndex::sample`] would make it from the real bytes, its
    /// payload zeros but for the NAL structure of video. `buffers`: for samples as long as
    /// the largest. `structure` false: a video sample already in canonical form (4-byte
    /// lengths, no AUD, no empty NAL unit) is returned as zeros too — for consumers that
    /// read nothing but its length (H.264 in fMP4).
    pub fn skeleton(
        &mut self,
        index: &MediaIndex,
        i: usize,
        buffers: &SkeletonBuffers,
        structure: bool,
    ) -> Result<Sample> {
        let mut heads = Vec::new();
        if let Some((r, fmt)) = video_sample(index, i)? {
            walk(
                self.reader.inner_mut(),
                r.offset,
                r.size as usize,
                fmt,
                &mut heads,
            )?;
        }
        skeleton_of(index, i, buffers, structure, &heads)
    }

    /// [`Self::skeleton`] from heads read ahead ([`NalWalks::read`]) covering sample `i`.
    pub fn skeleton_from(
        index: &MediaIndex,
        i: usize,
        buffers: &SkeletonBuffers,
        structure: bool,
        heads: &NalHeads,
    ) -> Result<Sample> {
        let of = heads
            .of(i)
            .ok_or_else(|| Error::mp4(format!("sample {i}: no NAL heads read ahead"), 0))?;
        skeleton_of(index, i, buffers, structure, of)
    }
}

/// Sample `i` and its NAL format, when it is a video sample with NAL structure.
fn video_sample(index: &MediaIndex, i: usize) -> Result<Option<(SampleRef, NalFormat)>> {
    let r = *index
        .samples()
        .get(i)
        .ok_or_else(|| Error::mp4(format!("no sample {i} in the index"), 0))?;
    Ok(walked_format(index.nal_formats(), &r).map(|f| (r, f)))
}

/// The skeleton of sample `i` from its NAL `heads` (none for a sample without NAL structure).
fn skeleton_of(
    index: &MediaIndex,
    i: usize,
    buffers: &SkeletonBuffers,
    structure: bool,
    heads: &[Head],
) -> Result<Sample> {
    let r = *index
        .samples()
        .get(i)
        .ok_or_else(|| Error::mp4(format!("no sample {i} in the index"), 0))?;
    let size = r.size as usize;
    let Some((_, fmt)) = video_sample(index, i)? else {
        // Not NAL-structured, or a length size [`MediaIndex::sample`] rejects with its error.
        return index.sample(i, buffers.zeros(size, r.offset)?);
    };
    if !structure && canonical(heads, size, fmt) {
        return index.canonical_sample(i, buffers.zeros(size, r.offset)?);
    }
    let writes = heads.iter().map(|h| {
        let n = usize::from(h.len);
        (h.pos as usize, h.bytes.get(..n).unwrap_or_default())
    });
    index.sample(i, buffers.written(size, writes))
}

/// Walks the NAL units of the `size`-byte sample at `offset` of `reader`, appending each one's
/// length prefix and header (and the stray bytes after the last one) to `out`.
fn walk<R: Read + Seek>(
    reader: &mut R,
    offset: u64,
    size: usize,
    fmt: NalFormat,
    out: &mut Vec<Head>,
) -> Result<()> {
    let ls = usize::from(fmt.length_size);
    let mut pos = 0usize;
    while pos < size {
        let want = (ls + 2).min(size - pos);
        let mut head = Head {
            pos: u32::try_from(pos).map_err(|_| Error::mp4("sample too large to plan", offset))?,
            len: want as u8, // at most 6
            bytes: [0; 6],
        };
        let got = head.bytes.get_mut(..want).unwrap_or_default();
        peek(reader, offset + pos as u64, got)?;
        out.push(head);
        if want < ls {
            return Ok(()); // stray or padding bytes: [`MediaIndex::sample`] decides
        }
        let len = length(&head, ls);
        // Past the end: the sample is malformed, and [`MediaIndex::sample`] says so.
        pos = pos.saturating_add(ls).saturating_add(len);
    }
    Ok(())
}

fn length(head: &Head, ls: usize) -> usize {
    head.bytes
        .get(..ls)
        .unwrap_or_default()
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
}

/// Whether the `size`-byte sample whose NAL `heads` these are is already canonical (4-byte
/// lengths, no AUD, no empty NAL unit, nothing after the last, the last one not past the end:
/// a sample [`MediaIndex::sample`] would refuse is not canonical, so that it is refused too).
fn canonical(heads: &[Head], size: usize, fmt: NalFormat) -> bool {
    let ls = usize::from(fmt.length_size);
    let end = heads.last().map_or(0, |h| {
        (h.pos as usize)
            .saturating_add(ls)
            .saturating_add(length(h, ls))
    });
    ls == 4
        && end == size
        && heads.iter().all(|h| {
            let unit = h.bytes.get(ls..usize::from(h.len)).unwrap_or_default();
            usize::from(h.len) >= ls && length(h, ls) != 0 && !is_aud(unit, fmt.hevc)
        })
}

/// Reads exactly `buf.len()` bytes at `offset`.
fn peek<R: Read + Seek>(reader: &mut R, offset: u64, buf: &mut [u8]) -> Result<()> {
    reader
        .seek(SeekFrom::Start(offset))
        .and_then(|_| reader.read_exact(buf))
        .map_err(|e| Error::io(format!("reading a NAL header at byte offset {offset}"), e))
}

fn is_aud(unit: &[u8], hevc: bool) -> bool {
    use crate::codec::nal::{h264, h264_nal_type, h265, h265_nal_type};
    if hevc {
        h265_nal_type(unit) == Some(h265::NAL_AUD)
    } else {
        h264_nal_type(unit) == Some(h264::NAL_AUD)
    }
}
