// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-track timing: FLV millisecond timestamps → the track's timescale (90 kHz for video, as
//! the MPEG-TS demuxer; the sample rate for audio), sample durations, and timeline breaks.
//!
//! Video samples are held back one tag to learn their duration from the next DTS. Audio
//! samples continue by their frame length; a timestamp within half a frame of that
//! continuation is taken as millisecond rounding, so sample times stay exact.

use crate::demux::clock::{rescale, Spacing};
use crate::sample::Sample;

use super::DiscontinuityCause;

/// Video timescale: the MPEG system clock, as the MPEG-TS demuxer uses.
pub(super) const VIDEO_HZ: u32 = 90_000;

/// `ms` milliseconds in `hz` ticks, rounded to nearest (ties up), exact integer math.
pub(super) fn ms_to_ticks(ms: i64, hz: u32) -> i64 {
    rescale(ms, 1000, hz)
}

/// Unwraps 32-bit millisecond timestamps (RTMP spec 5.3.1.1 / FLV spec E.4.1: they wrap
/// after about 49.7 days) into one continuous timeline shared by all tracks.
pub(super) type Unwrapper = crate::demux::clock::Unwrapper<32>;

/// A finished sample on its way out, with the break it starts, if any.
#[derive(Debug)]
pub(super) struct Timed {
    pub sample: Sample,
    pub discontinuity: Option<DiscontinuityCause>,
}

#[derive(Debug)]
pub(super) struct Timeline {
    /// Video: hold one sample back for its duration.
    hold: bool,
    held: Option<Timed>,
    spacing: Spacing,
    /// Audio: where the next frame continues.
    next_dts: Option<i64>,
}

impl Timeline {
    pub(super) fn new(timescale: u32, hold: bool, default_duration: u32) -> Self {
        Timeline {
            hold,
            held: None,
            spacing: Spacing::new(timescale, default_duration.max(1)),
            next_dts: None,
        }
    }

    /// Audio DTS for a frame stamped `ms`: the continuation of the previous frame when the
    /// timestamp is within half a frame of it (ms rounding), else the timestamp itself.
    pub(super) fn audio_dts(&self, ms: i64, frame: u32) -> i64 {
        let stamped = ms_to_ticks(ms, self.spacing.timescale());
        match self.next_dts {
            Some(next) if stamped.abs_diff(next) <= u64::from(frame / 2) => next,
            _ => stamped,
        }
    }

    /// Queues a sample (video: `sample.duration` is replaced by the measured one).
    pub(super) fn push(&mut self, mut sample: Sample, out: &mut Vec<Timed>) {
        let dts = sample.dts;
        let from = self.spacing.last_dts();
        let held = self.held.as_mut().map(|t| &mut t.sample);
        let cause = self.spacing.next(dts, None, held);
        if cause == Some(DiscontinuityCause::TimestampJump) {
            tracing::warn!(
                from,
                to = dts,
                timescale = self.spacing.timescale(),
                "FLV: timestamp jump; starting a new timeline"
            );
        }
        out.extend(self.held.take());
        if self.hold {
            self.held = Some(Timed {
                sample,
                discontinuity: cause,
            });
        } else {
            sample.duration = sample.duration.max(1);
            self.spacing.last_duration = sample.duration;
            self.next_dts = Some(dts.saturating_add(i64::from(sample.duration)));
            out.push(Timed {
                sample,
                discontinuity: cause,
            });
        }
    }

    /// Releases the held sample with the last measured duration.
    pub(super) fn flush(&mut self, out: &mut Vec<Timed>) {
        if let Some(mut held) = self.held.take() {
            held.sample.duration = self.spacing.last_duration;
            out.push(held);
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

    #[test]
    fn video_durations_and_breaks() {
        use DiscontinuityCause::TimestampJump;
        let mut t = Timeline::new(VIDEO_HZ, true, 3000);
        let mut out = Vec::new();
        for dts in [0, 3600, 7200, 7200 + 11 * 90_000, 100] {
            t.push(sample(dts, 0), &mut out);
        }
        t.flush(&mut out);
        let got: Vec<_> = out
            .iter()
            .map(|x| (x.sample.dts, x.sample.duration, x.discontinuity))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 3600, None),
                (3600, 3600, None),
                (7200, 3600, None),
                (997_200, 3600, Some(TimestampJump)),
                (100, 3600, Some(TimestampJump)),
            ]
        );
    }

    #[test]
    fn audio_continuation_absorbs_ms_rounding() {
        let mut t = Timeline::new(44_100, false, 1024);
        let mut out = Vec::new();
        // AAC at 44.1 kHz: 23.22 ms per frame, stamped 0, 23, 46, 70, 93 ms.
        for ms in [0, 23, 46, 70, 93] {
            let dts = t.audio_dts(ms, 1024);
            t.push(sample(dts, 1024), &mut out);
        }
        let dts: Vec<i64> = out.iter().map(|x| x.sample.dts).collect();
        assert_eq!(dts, vec![0, 1024, 2048, 3072, 4096]);
        // a real gap (100 ms later than expected) is followed
        assert_eq!(t.audio_dts(216, 1024), ms_to_ticks(216, 44_100));
    }
}
