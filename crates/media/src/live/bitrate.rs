// SPDX-License-Identifier: MIT OR Apache-2.0
//! BANDWIDTH and AVERAGE-BANDWIDTH of a live variant (and of its I-frame stream), kept true to
//! what is served.
//!
//! RFC 8216bis 4.4.6.2: BANDWIDTH is the peak segment bit rate, AVERAGE-BANDWIDTH the average
//! segment bit rate of the variant; Apple 9.13–9.15 and 1.26: for live, the measured values
//! should be within 10 % of the declared ones. A live stream's rates are not known in advance,
//! so they are measured on every segment of the track set ([`Meter`]) and the multivariant
//! playlist is rewritten when the declared values leave that tolerance ([`revise`]): BANDWIDTH
//! is never below the measured peak and at most 10 % above it — set with 5 % headroom, so a
//! slowly rising peak does not rewrite it at every segment — and AVERAGE-BANDWIDTH within 5 %
//! of the measured average.
//!
//! The peak segment bit rate is, per RFC 8216bis 4.4.6.2, the largest bit rate of any
//! contiguous set of segments lasting between 0.5 and 1.5 target durations: a segment cut
//! short (discontinuity, end of input) does not count alone, but together with its
//! neighbours — its I-frame entry holds a whole keyframe in a fraction of the time, which
//! raises the rate of every set it belongs to. The meter keeps the recent segments that a
//! later set can still include (at most 1.5 target durations of them) and takes the largest
//! rate of the sets ending at each new segment, over the whole run.

use std::collections::VecDeque;

/// Headroom of a revised BANDWIDTH over the measured peak.
const HEADROOM: f64 = 1.05;
/// Apple 1.26: measured within 10 % of the declared BANDWIDTH.
const PEAK_TOLERANCE: f64 = 1.10;
/// A declared AVERAGE-BANDWIDTH is kept while within this fraction of the measured average
/// (half of Apple's 10 %).
const AVERAGE_TOLERANCE: f64 = 0.05;
/// Slack on the bounds of a set's duration: EXTINF values are on the millisecond grid, so the
/// durations a reader adds up differ from the measured ones by about that much. A set taken in
/// by the slack only raises the peak, and never above its largest single-segment rate.
const EDGE_SECS: f64 = 0.001;
/// Most recent segments kept (memory bound for pathological runs of tiny segments; real runs
/// need about 1.5 target durations / the shortest segment).
const MAX_RECENT: usize = 1024;

/// Bit rates of the segments of one track set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Meter {
    bytes: u64,
    secs: f64,
    /// Highest bit rate of a set of segments lasting 0.5–1.5 target durations (module docs).
    peak: u64,
    /// Highest bit rate of any segment (the peak while no set fits).
    peak_any: u64,
    /// (bytes, seconds) of the latest segments, as many as a set ending later may include.
    recent: VecDeque<(u64, f64)>,
}

impl Meter {
    /// Adds a segment (or an I-frame entry) of `bytes` lasting `secs`, in a playlist whose
    /// EXT-X-TARGETDURATION is `target` seconds.
    pub(crate) fn add(&mut self, bytes: u64, secs: f64, target: f64) {
        if !(secs.is_finite() && secs > 0.0) {
            return;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        self.secs += secs;
        self.peak_any = self.peak_any.max(bits_per_second(bytes, secs));
        self.recent.push_back((bytes, secs));
        let (low, high) = (0.5 * target - EDGE_SECS, 1.5 * target + EDGE_SECS);
        // RFC 8216bis 4.4.6.2: every set ending with this segment.
        let (mut set_bytes, mut set_secs) = (0u64, 0.0);
        for &(b, s) in self.recent.iter().rev() {
            set_bytes = set_bytes.saturating_add(b);
            set_secs += s;
            if set_secs > high {
                break;
            }
            if set_secs >= low {
                self.peak = self.peak.max(bits_per_second(set_bytes, set_secs));
            }
        }
        // A segment that a set ending later cannot include (the set would run past 1.5
        // target durations) is dropped.
        let mut kept: f64 = self.recent.iter().map(|r| r.1).sum();
        while let Some(&(_, s)) = self.recent.front() {
            if kept <= high && self.recent.len() <= MAX_RECENT {
                break;
            }
            kept -= s;
            self.recent.pop_front();
        }
    }

    /// Starts measuring a new track set: the rates start afresh, but the latest segments stay
    /// for the sets that run across the change (they are contiguous in the media playlist).
    pub(crate) fn restart(&mut self) {
        *self = Meter {
            recent: std::mem::take(&mut self.recent),
            ..Meter::default()
        };
    }

    /// Whether a segment was measured.
    pub(crate) fn is_empty(&self) -> bool {
        self.secs <= 0.0
    }

    fn peak(&self) -> u64 {
        if self.peak > 0 {
            self.peak
        } else {
            self.peak_any
        }
    }

    fn average(&self) -> u64 {
        bits_per_second(self.bytes, self.secs)
    }
}

fn bits_per_second(bytes: u64, secs: f64) -> u64 {
    if secs > 0.0 {
        (bytes as f64 * 8.0 / secs).round() as u64
    } else {
        0
    }
}

/// (BANDWIDTH, AVERAGE-BANDWIDTH) to declare given what is declared now (`None`: nothing yet)
/// and what `meter` measured; `None` when the declared values are still within tolerance
/// (see the module docs). The average never exceeds the peak.
pub(crate) fn revise(declared: Option<(u64, u64)>, meter: &Meter) -> Option<(u64, u64)> {
    if meter.is_empty() {
        return None;
    }
    let (peak, average) = (meter.peak() as f64, meter.average() as f64);
    let fresh_peak = (peak * HEADROOM).ceil() as u64;
    let Some((bandwidth, avg)) = declared else {
        return Some((fresh_peak, (average as u64).min(fresh_peak)));
    };
    let peak_ok = bandwidth as f64 >= peak && bandwidth as f64 <= peak * PEAK_TOLERANCE;
    let average_ok = (avg as f64 - average).abs() <= average * AVERAGE_TOLERANCE;
    if peak_ok && average_ok {
        return None;
    }
    let bandwidth = if peak_ok { bandwidth } else { fresh_peak };
    let avg = if average_ok { avg } else { average as u64 };
    Some((bandwidth, avg.min(bandwidth)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: f64 = 2.0;

    fn measure(segments: &[(u64, f64)]) -> Meter {
        let mut meter = Meter::default();
        for &(bytes, secs) in segments {
            meter.add(bytes, secs, TARGET);
        }
        meter
    }

    /// bit/s of `bytes` over `secs`, as the peak is rounded.
    fn rate(bytes: u64, secs: f64) -> u64 {
        (bytes as f64 * 8.0 / secs).round() as u64
    }

    /// RFC 8216bis 4.4.6.2: the peak is the largest rate of a contiguous set of segments
    /// lasting 0.5–1.5 target durations (here 1–3 s). Segments are (bytes, seconds).
    #[test]
    fn peak_table() {
        let full = (250_000, 2.0);
        let short = (50_000, 0.1);
        // (name, segments, peak)
        type Case<'a> = (&'a str, Vec<(u64, f64)>, u64);
        let cases: &[Case] = &[
            ("steady", vec![full; 3], rate(250_000, 2.0)),
            (
                "a short segment between full ones counts with either neighbour",
                vec![full, short, full],
                rate(300_000, 2.1),
            ),
            (
                "a short last segment counts with the one before",
                vec![full, full, short],
                rate(300_000, 2.1),
            ),
            (
                "short segments make up a set, none counts alone",
                vec![(100_000, 0.5), (300_000, 0.5), (100_000, 0.5)],
                rate(400_000, 1.0),
            ),
            (
                "a set longer than 1.5 target durations does not count",
                vec![(100_000, 2.0), (400_000, 2.0)],
                rate(400_000, 2.0),
            ),
            (
                "I-frame entries: a keyframe in a short segment raises its sets",
                vec![(12_000, 2.0), (12_000, 0.2), (12_000, 2.0)],
                rate(24_000, 2.2),
            ),
            (
                "a segment a rounding short of 0.5 target durations (EXTINF 1.000) counts",
                vec![(100_000, 2.0), (400_000, 0.9996)],
                rate(400_000, 0.9996),
            ),
            (
                "no set fits: the largest segment",
                vec![(20_000, 0.04)],
                rate(20_000, 0.04),
            ),
            ("empty", vec![], 0),
        ];
        for (name, segments, want) in cases {
            let meter = measure(segments);
            assert_eq!(meter.peak(), *want, "{name}");
            // A set's rate never exceeds its largest segment's.
            assert!(meter.peak() <= meter.peak_any, "{name}");
        }
    }

    /// A 24-hour run keeps a bounded list of recent segments, and the peak is over the run.
    #[test]
    fn long_runs_keep_little() {
        let mut meter = Meter::default();
        for i in 0..43_200u64 {
            // One short segment in the middle of the run; 2 s ones otherwise.
            let (bytes, secs) = if i == 20_000 {
                (50_000, 0.1)
            } else {
                (250_000, 2.0)
            };
            meter.add(bytes, secs, TARGET);
            assert!(
                meter.recent.len() <= 3,
                "{} kept at {i}",
                meter.recent.len()
            );
        }
        assert_eq!(meter.peak(), rate(300_000, 2.1));
        // Tiny segments: never more than MAX_RECENT.
        let mut meter = Meter::default();
        for _ in 0..5_000 {
            meter.add(1_000, 0.001, TARGET);
        }
        assert!(meter.recent.len() <= MAX_RECENT);
        assert_eq!(meter.peak(), rate(1_000, 0.001));
    }

    /// A new track set: its rates start afresh, but the short segment that ended the previous
    /// one is still contiguous with its first segment in the media playlist.
    #[test]
    fn restart_keeps_the_tail() {
        let mut meter = measure(&[(500_000, 2.0), (50_000, 0.1)]);
        meter.restart();
        meter.add(250_000, 2.0, TARGET);
        assert_eq!(meter.average(), rate(250_000, 2.0));
        assert_eq!(meter.peak(), rate(300_000, 2.1));
    }

    /// Table: segments (kB, seconds) measured one after the other, with the declared values
    /// after each (a revision or the values kept).
    #[test]
    fn revisions_table() {
        // (name, segments, declared after the last)
        type Case<'a> = (&'a str, &'a [(u64, f64)], (u64, u64));
        let cases: &[Case] = &[
            ("first segment", &[(250, 2.0)], (1_050_000, 1_000_000)),
            (
                "a peak 4 % up: within the headroom",
                &[(250, 2.0), (260, 2.0)],
                (1_050_000, 1_000_000),
            ),
            (
                "a peak 20 % up: revised with headroom",
                &[(250, 2.0), (300, 2.0)],
                (1_260_000, 1_100_000),
            ),
            (
                "the average drifts down: revised, BANDWIDTH kept",
                &[(250, 2.0), (150, 2.0), (150, 2.0)],
                (1_050_000, 733_333),
            ),
            (
                "a short last segment: its set with the one before is a new peak",
                &[(250, 2.0), (50, 0.1)],
                (1_200_000, 1_142_857),
            ),
            (
                "only short segments: their peak",
                &[(20, 0.04)],
                (4_200_000, 4_000_000),
            ),
        ];
        for (name, segments, want) in cases {
            let mut meter = Meter::default();
            let mut declared = None;
            for (kb, secs) in *segments {
                meter.add(kb * 1000, *secs, TARGET);
                if let Some(d) = revise(declared, &meter) {
                    declared = Some(d);
                }
            }
            assert_eq!(declared, Some(*want), "{name}");
            // Whatever was declared last is within Apple's 10 % of what was measured.
            let (bandwidth, avg) = declared.unwrap_or_default();
            let (peak, average) = (meter.peak() as f64, meter.average() as f64);
            assert!(
                bandwidth as f64 >= peak && bandwidth as f64 <= peak * 1.1,
                "{name}"
            );
            assert!((avg as f64 - average).abs() <= average * 0.1, "{name}");
        }
        assert_eq!(revise(None, &Meter::default()), None);
    }
}
