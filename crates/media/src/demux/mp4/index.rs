// SPDX-License-Identifier: MIT OR Apache-2.0
//! The sample index of an MP4 file, for just-in-time packaging: every sample in the order
//! [`Demuxer::next_sample`](crate::sample::Demuxer::next_sample) yields them (tracks merged by
//! decode time), with where its bytes are — and, given those bytes, the [`Sample`] the demuxer
//! would have yielded (NAL units in canonical form, see `nal`). No payload is read here: the
//! caller reads the byte ranges it needs and hands them in (sans-IO).

use std::io::{Read, Seek};

use bytes::Bytes;

use super::entry::NalFormat;
use super::nal;
use super::skeleton::NalWalks;
use super::Mp4Demuxer;
use crate::error::{Error, Result};
use crate::sample::{Sample, TrackInfo};

/// One sample as the index describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRef {
    /// Index into [`MediaIndex::tracks`].
    pub track: u32,
    /// Decode time (edit list applied), the track's timescale.
    pub dts: i64,
    pub cts_offset: i32,
    pub duration: u32,
    pub keyframe: bool,
    /// Where the sample's bytes are in the file.
    pub offset: u64,
    pub size: u32,
}

/// Every sample of a file in demuxing order, and how to turn its bytes into a [`Sample`].
#[derive(Debug, Clone)]
pub struct MediaIndex {
    tracks: Vec<TrackInfo>,
    /// Per track: how its video samples frame NAL units (`None`: not video).
    nal: Vec<Option<NalFormat>>,
    samples: Vec<SampleRef>,
}

impl MediaIndex {
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    pub fn samples(&self) -> &[SampleRef] {
        &self.samples
    }

    /// Per track: how its video samples frame NAL units (`None`: not video).
    pub(super) fn nal_formats(&self) -> &[Option<NalFormat>] {
        &self.nal
    }

    /// Heap bytes held (for a cache's bound).
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<SampleRef>()
            + self.tracks.len() * 256
            + self.tracks.iter().map(config_bytes).sum::<usize>()
    }

    /// Sample `i` with its bytes `data` (the `size` bytes at `offset`), as the demuxer yields
    /// it: video NAL units rewritten to 4-byte lengths without access unit delimiters.
    pub fn sample(&self, i: usize, data: Bytes) -> Result<Sample> {
        // Not `ok_or`: that makes and drops an error for every sample of a plan.
        let Some(r) = self.samples.get(i) else {
            return Err(Error::NoTracks);
        };
        let track = r.track as usize;
        let data = match self.nal.get(track).copied().flatten() {
            Some(fmt) => nal::canonical(data, fmt).map_err(|msg| Error::BadSample {
                track: self.tracks.get(track).map_or(0, |t| t.id),
                sample: i as u64,
                dts: r.dts,
                msg: format!("{msg} (sample at byte offset {})", r.offset),
            })?,
            None => data,
        };
        self.canonical_sample(i, data)
    }

    /// Sample `i` with `data` as it is (already in canonical form).
    pub(super) fn canonical_sample(&self, i: usize, data: Bytes) -> Result<Sample> {
        let Some(r) = self.samples.get(i) else {
            return Err(Error::NoTracks);
        };
        let track = r.track as usize;
        Ok(Sample {
            track,
            dts: r.dts,
            cts_offset: r.cts_offset,
            duration: r.duration,
            keyframe: r.keyframe,
            data,
        })
    }
}

fn config_bytes(t: &TrackInfo) -> usize {
    format!("{:?}", t.config).len() / 2
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// The index of every sample not read yet, in the order [`Self::next_sample`] would yield
    /// them; reads nothing, and leaves the demuxer where it was.
    pub fn index(&mut self) -> Result<MediaIndex> {
        self.index_runs(usize::MAX, &mut |_, _| Ok(()))
    }

    /// How many samples [`Self::index`] holds.
    pub fn sample_count(&self) -> usize {
        self.tracks.iter().map(|t| t.table.len()).sum()
    }

    /// [`Self::index`], handing `on_part` what reading the NAL heads of each run of `part`
    /// samples takes ([`NalWalks`]; the last run may be shorter) as soon as the run is
    /// indexed: readers of the heads start while the rest is indexed.
    pub fn index_walking(
        &mut self,
        part: usize,
        on_part: &mut dyn FnMut(NalWalks) -> Result<()>,
    ) -> Result<MediaIndex> {
        let nal: Vec<Option<NalFormat>> = self.tracks.iter().map(|t| t.nal).collect();
        self.index_runs(part.max(1), &mut |start, refs| {
            on_part(NalWalks::from_refs(start, refs, &nal))
        })
    }

    /// [`Self::index`], handing `on_run` each run of `part` samples as it is indexed (and
    /// the shorter last one), with the index of its first sample.
    fn index_runs(
        &mut self,
        part: usize,
        on_run: &mut dyn FnMut(usize, &[SampleRef]) -> Result<()>,
    ) -> Result<MediaIndex> {
        let saved = self.cursors.clone();
        let mut samples = Vec::new();
        samples
            .try_reserve_exact(self.sample_count())
            .map_err(|_| Error::mp4("sample tables too large to index", 0))?;
        let walked = self.walk(&mut samples, part, on_run);
        self.cursors = saved;
        walked?;
        Ok(MediaIndex {
            tracks: self.infos.clone(),
            nal: self.tracks.iter().map(|t| t.nal).collect(),
            samples,
        })
    }

    /// Appends the samples to `out` in demuxing order, handing `on_part` each run of `part`
    /// (and the shorter last one) with the index of its first sample.
    fn walk(
        &mut self,
        out: &mut Vec<SampleRef>,
        part: usize,
        on_part: &mut dyn FnMut(usize, &[SampleRef]) -> Result<()>,
    ) -> Result<()> {
        let mut run_start = 0;
        while let Some(ti) = self.pick() {
            let (Some(track), Some(cursor)) = (self.tracks.get(ti), self.cursors.get_mut(ti))
            else {
                break;
            };
            let Some(raw) = track.table.get(cursor.next) else {
                break;
            };
            let dts = cursor
                .dts
                .checked_add(track.shift)
                .ok_or_else(|| Error::BadSample {
                    track: track.info.id,
                    sample: cursor.next as u64,
                    dts: cursor.dts,
                    msg: format!("decode time overflows with edit list shift {}", track.shift),
                })?;
            out.push(SampleRef {
                track: u32::try_from(ti).unwrap_or(u32::MAX),
                dts,
                cts_offset: raw.cts,
                duration: raw.duration,
                keyframe: raw.sync,
                offset: raw.offset,
                size: raw.size,
            });
            cursor.advance(&track.table, raw.duration);
            if out.len() - run_start == part {
                on_part(run_start, out.get(run_start..).unwrap_or_default())?;
                run_start = out.len();
            }
        }
        if out.len() > run_start {
            on_part(run_start, out.get(run_start..).unwrap_or_default())?;
        }
        Ok(())
    }
}
