// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time packaging of MPEG-TS input files: the plan is made as [`super::jit`] makes an
//! MP4's, by running `package` over the file with a recording store — here over the whole
//! file, read once, as `package FILE.ts` reads it (a transport stream has no sample table:
//! a sample's bytes are spread over 188-byte packets). While it reads, the demuxer takes a
//! [`TsCheckpoint`] every [`CHECKPOINT_BYTES`]; the plan keeps, for every segment, the last
//! one before the segment's first sample. A segment is rendered by going on from its
//! checkpoint: at most [`CHECKPOINT_BYTES`] more than the segment's own packets are read and
//! demuxed, and the samples come out exactly as the scan yielded them.
//!
//! Sans-IO: the caller hands [`TsInputPlan::render`] a reader positioned at
//! [`TsInputPlan::start_offset`].

use std::io::Read;

use super::jit::{check_options, record, JitPlan};
use super::PackageOptions;
use crate::demux::ts::{TsCheckpoint, TsFileDemuxer};
use crate::sample::{Demuxer, Sample};
use crate::{Error, Result};

#[cfg(test)]
#[path = "jit_ts_tests.rs"]
mod tests;

/// Input bytes between two checkpoints taken while planning.
pub const CHECKPOINT_BYTES: u64 = 2 << 20;

/// A TS file's rendition planned: the plan, and where each segment's demuxing starts.
#[derive(Debug, Clone)]
pub struct TsInputPlan {
    plan: JitPlan,
    /// Per segment, the checkpoint its rendering goes on from.
    starts: Vec<TsCheckpoint>,
    /// Heap bytes of the checkpoints, roughly.
    starts_bytes: usize,
}

/// Demuxes the TS file `reader` and plans its rendition as `package` would with `opts`
/// (single rendition, clear, no single file).
pub fn plan_ts<R: Read>(reader: R, opts: &PackageOptions) -> Result<TsInputPlan> {
    plan_ts_every(reader, opts, CHECKPOINT_BYTES)
}

/// [`plan_ts`] with a checkpoint every `checkpoint_bytes` of input.
pub fn plan_ts_every<R: Read>(
    reader: R,
    opts: &PackageOptions,
    checkpoint_bytes: u64,
) -> Result<TsInputPlan> {
    check_options(opts)?;
    let mut demux = TsFileDemuxer::open(reader)?.with_checkpoints(checkpoint_bytes);
    let mut recorded = record(&mut demux, None, None, opts, &[])?;
    recorded.add_master(opts)?;
    let checkpoints = demux.take_checkpoints();
    let plan = recorded.plan;
    let segments = plan.segment_names().count();
    let mut starts = Vec::with_capacity(segments);
    for seg in 0..segments {
        let first = plan.sample_range(seg).map_or(0, |r| r.start) as u64;
        let at = checkpoints.partition_point(|c| c.yielded <= first);
        let cp = at
            .checked_sub(1)
            .and_then(|i| checkpoints.get(i))
            .ok_or_else(|| Error::ts(format!("no checkpoint before segment {seg}"), 0))?;
        starts.push(cp.clone());
    }
    let starts_bytes = starts.iter().map(TsCheckpoint::heap_bytes).sum();
    Ok(TsInputPlan {
        plan,
        starts,
        starts_bytes,
    })
}

impl TsInputPlan {
    /// The plan: playlists, init segment and segment names, as for an MP4.
    pub fn plan(&self) -> &JitPlan {
        &self.plan
    }

    /// Where the reader given to [`Self::render`] for segment `seg` must be.
    pub fn start_offset(&self, seg: usize) -> Option<u64> {
        self.starts.get(seg).map(|c| c.offset)
    }

    /// Heap bytes held, roughly (for a cache's bound).
    pub fn heap_bytes(&self) -> usize {
        self.plan.heap_bytes() + self.starts_bytes
    }

    /// Renders media segment `seg`, demuxing from `reader` (at [`Self::start_offset`]).
    pub fn render<R: Read>(&self, seg: usize, reader: R) -> Result<Vec<u8>> {
        let (range, samples) = self.samples(seg, reader)?;
        self.plan
            .render_with(seg, &mut fetch(seg, range.start, samples))
    }

    /// The AES-128 I-frame entries of segment `seg` ([`JitPlan::render_iframes`]), demuxing
    /// from `reader` (at [`Self::start_offset`]).
    pub fn render_iframes<R: Read>(&self, seg: usize, reader: R) -> Result<(u64, Vec<u8>)> {
        let (range, samples) = self.samples(seg, reader)?;
        self.plan
            .render_iframes(seg, &mut fetch(seg, range.start, samples))
    }

    /// The samples of segment `seg` (their numbers, and themselves), demuxed from `reader`.
    fn samples<R: Read>(
        &self,
        seg: usize,
        reader: R,
    ) -> Result<(std::ops::Range<usize>, Vec<Sample>)> {
        let (Some(cp), Some(range)) = (self.starts.get(seg), self.plan.sample_range(seg)) else {
            return Err(Error::ts(format!("no segment {seg}"), 0));
        };
        let mut demux = TsFileDemuxer::resume(reader, cp.clone());
        let missing = |n: usize| Error::ts(format!("the input ended before sample {n}"), 0);
        let mut at = usize::try_from(cp.yielded).unwrap_or(usize::MAX);
        while at < range.start {
            demux.next_sample()?.ok_or_else(|| missing(at))?;
            at += 1;
        }
        let mut samples: Vec<Sample> = Vec::with_capacity(range.len());
        while samples.len() < range.len() {
            let n = range.start + samples.len();
            samples.push(demux.next_sample()?.ok_or_else(|| missing(n))?);
        }
        Ok((range, samples))
    }
}

/// Sample `i` of segment `seg`, whose samples from number `first` on are `samples`.
fn fetch(seg: usize, first: usize, samples: Vec<Sample>) -> impl FnMut(usize) -> Result<Sample> {
    move |i| {
        i.checked_sub(first)
            .and_then(|k| samples.get(k).cloned())
            .ok_or_else(|| Error::ts(format!("sample {i} outside segment {seg}"), 0))
    }
}
