// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-track sample output: video durations from the next sample's DTS (one sample held back),
//! and timeline-break detection (timestamp jumps, signalled discontinuities, PMT changes).

use std::collections::VecDeque;

use super::DiscontinuityCause;
use crate::demux::clock::Spacing;
use crate::sample::Sample;

/// A finished sample waiting to be popped; `es` is the elementary stream index (mapped to a
/// track index when popped).
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub es: usize,
    pub sample: Sample,
    /// The sample is the first of its track on a new timeline.
    pub discontinuity: Option<DiscontinuityCause>,
}

#[derive(Debug, Clone)]
pub(super) struct TrackOutput {
    es: usize,
    pid: u16,
    /// Hold one sample back to learn its duration from the next DTS (video).
    hold: bool,
    pending: Option<Queued>,
    spacing: Spacing,
    break_pending: Option<DiscontinuityCause>,
}

impl TrackOutput {
    /// The bytes of the sample held back.
    pub(super) fn heap_bytes(&self) -> usize {
        self.pending.as_ref().map_or(0, |q| q.sample.data.len())
    }

    /// `default_duration` is used when no duration could be measured yet.
    pub(super) fn new(
        es: usize,
        pid: u16,
        timescale: u32,
        hold: bool,
        default_duration: u32,
    ) -> Self {
        TrackOutput {
            es,
            pid,
            hold,
            pending: None,
            spacing: Spacing::new(timescale, default_duration),
            break_pending: None,
        }
    }

    /// The next sample starts a new timeline (unless it is the track's first).
    pub(super) fn mark_break(&mut self, cause: DiscontinuityCause) {
        if self.break_pending.is_none() {
            self.break_pending = Some(cause);
        }
    }

    /// Queues a sample. For held tracks `sample.duration` is ignored and set from the next DTS.
    pub(super) fn push(&mut self, sample: Sample, queue: &mut VecDeque<Queued>) {
        let dts = sample.dts;
        let from = self.spacing.last_dts();
        let held = self.pending.as_mut().map(|q| &mut q.sample);
        let cause = self.spacing.next(dts, self.break_pending.take(), held);
        if cause == Some(DiscontinuityCause::TimestampJump) {
            tracing::warn!(
                pid = self.pid,
                from,
                to = dts,
                timescale = self.spacing.timescale(),
                "MPEG-TS: timestamp jump; starting a new timeline"
            );
        }
        queue.extend(self.pending.take());
        let queued = Queued {
            es: self.es,
            sample,
            discontinuity: cause,
        };
        if self.hold {
            self.pending = Some(queued);
        } else {
            self.spacing.last_duration = queued.sample.duration;
            queue.push_back(queued);
        }
    }

    /// Appends NAL data to the held sample (video PES without PTS: the access unit continues).
    /// Returns false when nothing is held.
    pub(super) fn extend_pending(&mut self, data: &[u8], keyframe: bool) -> bool {
        let Some(held) = self.pending.as_mut() else {
            return false;
        };
        let mut joined = Vec::with_capacity(held.sample.data.len() + data.len());
        joined.extend_from_slice(&held.sample.data);
        joined.extend_from_slice(data);
        held.sample.data = joined.into();
        held.sample.keyframe |= keyframe;
        true
    }

    /// Releases the held sample with the last measured duration (end of input, stream removed).
    pub(super) fn flush(&mut self, queue: &mut VecDeque<Queued>) {
        if let Some(mut held) = self.pending.take() {
            held.sample.duration = self.spacing.last_duration;
            queue.push_back(held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dts: i64, duration: u32) -> Sample {
        Sample {
            track: 0,
            dts,
            cts_offset: 0,
            duration,
            keyframe: false,
            data: bytes::Bytes::new(),
        }
    }

    fn drain(q: &mut VecDeque<Queued>) -> Vec<(i64, u32, Option<DiscontinuityCause>)> {
        q.drain(..)
            .map(|x| (x.sample.dts, x.sample.duration, x.discontinuity))
            .collect()
    }

    #[test]
    fn held_durations_and_jumps() {
        use DiscontinuityCause::*;
        let mut out = TrackOutput::new(3, 0x100, 90_000, true, 3000);
        let mut q = VecDeque::new();
        for dts in [0, 3600, 7200, 7200 + 10 * 90_000 + 1, 90_000, 93_000] {
            out.push(sample(dts, 0), &mut q);
        }
        out.mark_break(Signalled);
        out.push(sample(96_000, 0), &mut q);
        out.flush(&mut q);
        assert_eq!(
            drain(&mut q),
            vec![
                (0, 3600, None),
                (3600, 3600, None),
                (7200, 3600, None), // jump after: keeps the previous duration
                (907_201, 3600, Some(TimestampJump)),
                (90_000, 3000, Some(TimestampJump)),
                (93_000, 3000, None),
                (96_000, 3000, Some(Signalled)),
            ]
        );
    }

    #[test]
    fn unheld_audio_and_first_sample_has_no_break() {
        let mut out = TrackOutput::new(0, 0x101, 48_000, false, 1024);
        let mut q = VecDeque::new();
        out.mark_break(DiscontinuityCause::ProgramChange);
        out.push(sample(0, 1024), &mut q);
        out.push(sample(1024, 1024), &mut q);
        out.push(sample(1000, 1024), &mut q); // overlap: not representable
        assert_eq!(
            drain(&mut q),
            vec![
                (0, 1024, None),
                (1024, 1024, None),
                (1000, 1024, Some(DiscontinuityCause::TimestampJump))
            ]
        );
        assert!(!out.extend_pending(b"x", true));
    }
}
