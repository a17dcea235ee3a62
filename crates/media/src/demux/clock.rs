// SPDX-License-Identifier: MIT OR Apache-2.0
//! The timing rules shared by the demuxers that read timestamps from a stream (MPEG-TS, FLV):
//! unwrapping timestamps that wrap around, rescaling between clocks with integer arithmetic,
//! timeline breaks, and video durations learnt from the next sample's DTS.

use super::ts::DiscontinuityCause;
use crate::sample::Sample;

/// A jump forwards by more than this many seconds breaks the timeline.
const MAX_FORWARD_SECS: i64 = 10;

/// Unwraps `BITS`-bit timestamps (1 to 62 bits) into one continuous timeline: each value is
/// placed in the 2^BITS period that brings it closest to the previous one. One instance serves
/// all the tracks of a stream, so audio and video unwrap alike and stay aligned.
#[derive(Debug, Default, Clone)]
pub(super) struct Unwrapper<const BITS: u32> {
    last: Option<i64>,
}

impl<const BITS: u32> Unwrapper<BITS> {
    const WRAP: i64 = 1 << BITS;

    /// The place of `raw` (bits above the width are ignored) on the timeline.
    pub(super) fn unwrap(&mut self, raw: u64) -> i64 {
        const { assert!(BITS >= 1 && BITS <= 62) };
        let wrap = Self::WRAP;
        // Masked to at most 62 bits, so the cast is lossless.
        let raw = (raw & (wrap as u64 - 1)) as i64;
        let value = match self.last {
            None => raw,
            Some(last) => {
                let base = last.saturating_sub(last.rem_euclid(wrap));
                let here = base.saturating_add(raw);
                [here.saturating_sub(wrap), here, here.saturating_add(wrap)]
                    .into_iter()
                    .min_by_key(|v| v.abs_diff(last))
                    .unwrap_or(here)
            }
        };
        self.last = Some(value);
        value
    }
}

/// `ticks` of `from` Hz in `to` Hz, rounded to nearest (ties up), exact integer math.
pub(super) fn rescale(ticks: i64, from: u32, to: u32) -> i64 {
    if from == 0 {
        return ticks;
    }
    let scaled =
        (i128::from(ticks) * i128::from(to) + i128::from(from / 2)).div_euclid(i128::from(from));
    i64::try_from(scaled).unwrap_or(if scaled < 0 { i64::MIN } else { i64::MAX })
}

/// A DTS more than 10 s ahead of `last` breaks the timeline; so does any DTS that does not
/// increase (which covers jumps back: no container can represent going backwards).
pub(super) fn timestamp_jump(last: i64, dts: i64, timescale: u32) -> Option<DiscontinuityCause> {
    let delta = dts.saturating_sub(last);
    let bad = delta <= 0 || delta > MAX_FORWARD_SECS.saturating_mul(timescale.into());
    bad.then_some(DiscontinuityCause::TimestampJump)
}

/// The DTS of a track's samples one after the other: where its timeline breaks, and the
/// duration of a sample held back until the next one's DTS is known (video: a stream carries
/// no durations).
#[derive(Debug, Clone)]
pub(super) struct Spacing {
    timescale: u32,
    last_dts: Option<i64>,
    /// The last duration measured (or given): a held sample's when the next one starts a new
    /// timeline or never comes.
    pub(super) last_duration: u32,
}

impl Spacing {
    /// `default_duration`: until one is measured.
    pub(super) fn new(timescale: u32, default_duration: u32) -> Self {
        Spacing {
            timescale,
            last_dts: None,
            last_duration: default_duration,
        }
    }

    /// The track's timescale (ticks per second).
    pub(super) fn timescale(&self) -> u32 {
        self.timescale
    }

    /// The DTS of the track's last sample.
    pub(super) fn last_dts(&self) -> Option<i64> {
        self.last_dts
    }

    /// The next sample is at `dts`: the break it starts — `signalled` by the stream, or a
    /// [`timestamp_jump`]; none for the track's first sample — and `held`, the sample before it
    /// if held back, gets its duration: up to `dts`, or the last one measured across a break.
    pub(super) fn next(
        &mut self,
        dts: i64,
        signalled: Option<DiscontinuityCause>,
        held: Option<&mut Sample>,
    ) -> Option<DiscontinuityCause> {
        let cause = self
            .last_dts
            .and_then(|last| signalled.or_else(|| timestamp_jump(last, dts, self.timescale)));
        if let Some(held) = held {
            if cause.is_none() {
                let delta = dts.saturating_sub(held.dts);
                self.last_duration = u32::try_from(delta).unwrap_or(self.last_duration);
            }
            held.duration = self.last_duration;
        }
        self.last_dts = Some(dts);
        cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_tables() {
        let (w32, w33) = (1i64 << 32, 1i64 << 33);
        let near = w33 as u64 - 45_000;
        let max = u64::from(u32::MAX);
        let cases: [(u32, &[u64], &[i64]); 6] = [
            (32, &[0, 40, 80], &[0, 40, 80]),
            (
                32,
                &[max - 20, 5, max - 10, 30],
                &[w32 - 21, w32 + 5, w32 - 11, w32 + 30],
            ),
            // a small step back stays a step back, not 49 days forward
            (32, &[100, 90, max], &[100, 90, -1]),
            // a slightly older value of another stream still before the wrap
            (
                33,
                &[near, 10_000, near + 3_000, 100_000],
                &[w33 - 45_000, w33 + 10_000, w33 - 42_000, w33 + 100_000],
            ),
            // a high value right after 0 is a wrap backwards, not 26 hours forwards; bits
            // above the width are ignored
            (
                33,
                &[900_000, 0, w33 as u64 - 1, (1 << 40) | 5],
                &[900_000, 0, -1, 5],
            ),
            // several wraps in a row
            (
                33,
                &[1 << 31, 1 << 32, 3 << 31, 0, 1 << 31],
                &[1 << 31, 1 << 32, 3 << 31, 1 << 33, 5 << 31],
            ),
        ];
        for (bits, raw, want) in cases {
            let (mut u32, mut u33) = (Unwrapper::<32>::default(), Unwrapper::<33>::default());
            let got: Vec<i64> = raw
                .iter()
                .map(|&r| {
                    if bits == 32 {
                        u32.unwrap(r)
                    } else {
                        u33.unwrap(r)
                    }
                })
                .collect();
            assert_eq!(got, want, "{bits} bits: {raw:?}");
        }
    }

    #[test]
    fn rescale_table() {
        let wrap = 1i64 << 33;
        let table = [
            (90_000i64, 90_000u32, 48_000u32, 48_000i64),
            (1_920, 90_000, 48_000, 1_024),
            (1_919, 90_000, 48_000, 1_023), // 1023.47
            (-1_920, 90_000, 44_100, -941), // -940.8
            (wrap * 3, 90_000, 44_100, 12_627_203_850),
            (7, 0, 48_000, 7),
            // milliseconds (FLV)
            (40, 1000, 90_000, 3600),
            (23, 1000, 44_100, 1014), // 1014.3
            (-1, 1000, 48_000, -48),
            (1 << 32, 1000, 90_000, (1 << 32) * 90),
        ];
        for (ticks, from, to, want) in table {
            assert_eq!(rescale(ticks, from, to), want, "{ticks} {from}->{to}");
        }
    }

    #[test]
    fn spacing_measures_held_durations_and_finds_breaks() {
        use DiscontinuityCause::{Signalled, TimestampJump};
        let sample = |dts| Sample {
            track: 0,
            dts,
            cts_offset: 0,
            duration: 0,
            keyframe: false,
            data: bytes::Bytes::new(),
        };
        let mut s = Spacing::new(90_000, 3000);
        // The track's first sample starts no break, even a signalled one.
        assert_eq!(s.next(0, Some(Signalled), None), None);
        // (dts, signalled, the break it starts, the duration of the sample held before it)
        let steps = [
            (3600, None, None, 3600),
            (7200, Some(Signalled), Some(Signalled), 3600),
            (7200 + 10 * 90_000 + 1, None, Some(TimestampJump), 3600),
            (900_000, None, Some(TimestampJump), 3600),
            (903_000, None, None, 3000),
        ];
        let mut held = sample(0);
        for (dts, signalled, cause, duration) in steps {
            assert_eq!(s.next(dts, signalled, Some(&mut held)), cause, "at {dts}");
            assert_eq!(held.duration, duration, "held before {dts}");
            assert_eq!(s.last_dts(), Some(dts));
            held = sample(dts);
        }
    }
}
