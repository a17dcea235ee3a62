// SPDX-License-Identifier: MIT OR Apache-2.0
//! EXT-X-TARGETDURATION from the input's keyframe interval, learnt before the first playlist.
//!
//! Segments start on keyframes (Apple 7.4), so a segment lasts at least one keyframe interval
//! whatever `--segment-duration` asks, and EXT-X-TARGETDURATION, which MUST NOT change
//! (RFC 8216bis 6.2.1) and which every EXTINF rounded MUST NOT exceed (4.4.3.1), has to cover
//! it. A new stream therefore holds its samples from the first keyframe until the next one
//! (or until the input ends, breaks or has sent [`MAX_PROBE_SECS`] without a second keyframe),
//! then fixes the target at [`target_for`] of what it measured and only then packages the
//! held samples. Publication starts one keyframe interval later; memory holds one interval,
//! as a classic live segment in progress does anyway.
//!
//! A later keyframe interval longer than the target is handled where segments are cut (see
//! [`super::cut`]: the segment ends at the target and the input up to the next keyframe is
//! dropped).

use std::time::SystemTime;

use crate::sample::Sample;

/// Longest wait for a second keyframe, seconds of media. Without one by then the target is
/// fixed on what was measured and the long-GOP rule of [`super::cut`] applies.
pub(crate) const MAX_PROBE_SECS: f64 = 20.0;

/// Margin below the rounding limit (target + 0.5 s) kept when choosing a target for a measured
/// keyframe interval, so that the jitter of an encoder's keyframe placement (a frame more,
/// NTSC rates) does not push segments over it.
const MARGIN_SECS: f64 = 0.25;

/// EXT-X-TARGETDURATION for a stream whose configured target is `configured` and whose
/// segments last at least `interval` seconds (the keyframe interval): the smallest whole
/// number ≥ `configured` that a segment of `interval` (+ the margin) still rounds to or below
/// (RFC 8216bis 4.4.3.1). The cutter cuts early for intervals that fit (see [`super::cut`]).
pub(crate) fn target_for(configured: u64, interval: f64) -> u64 {
    if !interval.is_finite() || interval <= 0.0 {
        return configured;
    }
    let needed = (interval - MARGIN_SECS).ceil().max(1.0);
    configured.max(needed.min(u32::MAX as f64) as u64)
}

/// Samples held while the keyframe interval is measured.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    main: usize,
    timescale: u32,
    /// Main-track gap beyond which timestamps count as a jump (the configured target).
    max_gap: i64,
    /// (push index, sample, arrival time), from the first random-access sample on.
    held: Vec<(u64, Sample, SystemTime)>,
    first_key: Option<i64>,
    /// (dts, dts + duration) of the latest main sample held.
    last_main: Option<(i64, i64)>,
}

/// What a held sample tells the probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Keep holding.
    Wait,
    /// Enough is known: the segments last at least this many seconds.
    Done(f64),
}

impl Probe {
    pub(crate) fn new(main: usize, timescale: u32, configured_target: u64) -> Self {
        Probe {
            main,
            timescale: timescale.max(1),
            max_gap: i64::try_from(configured_target)
                .unwrap_or(i64::MAX)
                .saturating_mul(i64::from(timescale.max(1))),
            held: Vec::new(),
            first_key: None,
            last_main: None,
        }
    }

    fn secs(&self, ticks: i64) -> f64 {
        ticks.max(0) as f64 / f64::from(self.timescale)
    }

    /// Seconds of main-track media held so far.
    fn held_secs(&self) -> f64 {
        match (self.first_key, self.last_main) {
            (Some(k), Some((_, end))) => self.secs(end.saturating_sub(k)),
            _ => 0.0,
        }
    }

    /// Holds `sample` (`random_access` as the cutter sees it) and says whether the keyframe
    /// interval is now known. Samples before the first random-access one are not held: the
    /// cutter would drop them (Apple 7.4).
    pub(crate) fn hold(
        &mut self,
        index: u64,
        sample: Sample,
        random_access: bool,
        now: SystemTime,
    ) -> Verdict {
        let is_main = sample.track == self.main;
        let Some(first) = self.first_key else {
            if random_access {
                self.first_key = Some(sample.dts);
                self.last_main = Some((sample.dts, sample.dts + i64::from(sample.duration)));
                self.held.push((index, sample, now));
            }
            return Verdict::Wait;
        };
        if is_main {
            if let Some((prev, prev_end)) = self.last_main {
                let jump = sample.dts <= prev || sample.dts.saturating_sub(prev_end) > self.max_gap;
                if jump {
                    // A new timeline: what came before is all there is to measure.
                    let held = self.held_secs();
                    self.held.push((index, sample, now));
                    return Verdict::Done(held);
                }
            }
            let end = sample.dts.saturating_add(i64::from(sample.duration));
            self.last_main = Some((sample.dts, end));
            if random_access {
                let interval = self.secs(sample.dts.saturating_sub(first));
                self.held.push((index, sample, now));
                return Verdict::Done(interval);
            }
        }
        self.held.push((index, sample, now));
        let held = self.held_secs();
        if held >= MAX_PROBE_SECS {
            return Verdict::Done(held);
        }
        Verdict::Wait
    }

    /// The input ends or breaks before a second keyframe: the segment lasts what was held.
    pub(crate) fn held_interval(&self) -> f64 {
        self.held_secs()
    }

    /// The held samples, in arrival order.
    pub(crate) fn into_held(self) -> Vec<(u64, Sample, SystemTime)> {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn target_for_table() {
        // (configured, interval s, target)
        let cases: &[(u64, f64, u64)] = &[
            (1, 2.0, 2),   // -g 60 at 30 fps, --segment-duration 1
            (1, 2.002, 2), // -g 60 at 29.97 fps rounds to 2
            (1, 2.3, 3),   // too close to 2.5 for encoder jitter
            (2, 1.0, 2),   // shorter GOPs: the configured target
            (2, 1.5, 2),   // cut early (see cut): stays 2
            (1, 0.5, 1),
            (2, 10.0, 10), // a 10 s GOP
            (6, 6.006, 6),
            (1, 0.0, 1), // nothing measured
            (3, f64::NAN, 3),
        ];
        for (configured, interval, want) in cases {
            assert_eq!(
                target_for(*configured, *interval),
                *want,
                "{configured} / {interval}"
            );
            // The rule it implements: a segment of one interval rounds to ≤ the target.
            if interval.is_finite() {
                assert!(interval.round() as u64 <= target_for(*configured, *interval));
            }
        }
    }

    fn frame(track: usize, dts: i64, key: bool) -> Sample {
        Sample {
            track,
            dts,
            cts_offset: 0,
            duration: 3000,
            keyframe: key,
            data: Bytes::from_static(b"x"),
        }
    }

    /// Table: main-track frames (dts in 1/30 s, keyframe) → verdict after the last one, and
    /// how many frames are held.
    #[test]
    fn probe_table() {
        type Case<'a> = (&'a str, &'a [(i64, bool)], Verdict, usize);
        let cases: &[Case] = &[
            (
                "waits for a keyframe",
                &[(0, false), (1, false)],
                Verdict::Wait,
                0,
            ),
            ("one GOP so far", &[(0, true), (1, false)], Verdict::Wait, 2),
            (
                "second keyframe: 2 s",
                &[(0, false), (1, true), (2, false), (61, true)],
                Verdict::Done(2.0),
                3,
            ),
            (
                "backward jump: 2 frames held",
                &[(10, true), (11, false), (3, false)],
                Verdict::Done(2.0 / 30.0),
                3,
            ),
            (
                "forward jump beyond the configured target",
                &[(10, true), (11, false), (200, false)],
                Verdict::Done(2.0 / 30.0),
                3,
            ),
        ];
        for (name, frames, want, held) in cases {
            let mut p = Probe::new(0, 90_000, 2);
            let mut verdict = Verdict::Wait;
            for (i, (f, key)) in frames.iter().enumerate() {
                verdict = p.hold(
                    i as u64,
                    frame(0, f * 3000, *key),
                    *key,
                    SystemTime::UNIX_EPOCH,
                );
            }
            match (verdict, want) {
                (Verdict::Done(a), Verdict::Done(b)) => {
                    assert!((a - b).abs() < 1e-9, "{name}: {a}")
                }
                (a, b) => assert_eq!(a, *b, "{name}"),
            }
            assert_eq!(p.into_held().len(), *held, "{name}");
        }
        // No second keyframe: done after MAX_PROBE_SECS.
        let mut p = Probe::new(0, 90_000, 2);
        let mut n = 0;
        while p.hold(
            n,
            frame(0, n as i64 * 3000, n == 0),
            n == 0,
            SystemTime::UNIX_EPOCH,
        ) == Verdict::Wait
        {
            n += 1;
        }
        assert_eq!(n as f64, MAX_PROBE_SECS * 30.0 - 1.0);
    }
}
