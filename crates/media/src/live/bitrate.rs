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
//! Segments shorter than half the wanted duration (cut short by a discontinuity or the end of
//! the input) count for the average but not for the peak: a lone keyframe in a 40 ms segment
//! is no bit rate a player has to sustain.

/// Headroom of a revised BANDWIDTH over the measured peak.
const HEADROOM: f64 = 1.05;
/// Apple 1.26: measured within 10 % of the declared BANDWIDTH.
const PEAK_TOLERANCE: f64 = 1.10;
/// A declared AVERAGE-BANDWIDTH is kept while within this fraction of the measured average
/// (half of Apple's 10 %).
const AVERAGE_TOLERANCE: f64 = 0.05;

/// Bit rates of the segments of one track set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Meter {
    bytes: u64,
    secs: f64,
    /// Highest bit rate of a segment long enough to count (see the module docs).
    peak: u64,
    /// Highest bit rate of any segment (the peak while no segment counts).
    peak_any: u64,
}

impl Meter {
    /// Adds a segment (or an I-frame entry) of `bytes` lasting `secs`; `full` when it is long
    /// enough to count for the peak.
    pub(crate) fn add(&mut self, bytes: u64, secs: f64, full: bool) {
        if !(secs.is_finite() && secs > 0.0) {
            return;
        }
        let rate = bits_per_second(bytes, secs);
        self.bytes = self.bytes.saturating_add(bytes);
        self.secs += secs;
        self.peak_any = self.peak_any.max(rate);
        if full {
            self.peak = self.peak.max(rate);
        }
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

    /// Table: segments (kB, seconds, full) measured one after the other, with the declared
    /// values after each (a revision or the values kept).
    #[test]
    fn revisions_table() {
        // (name, segments, declared after the last)
        type Case<'a> = (&'a str, &'a [(u64, f64, bool)], (u64, u64));
        let cases: &[Case] = &[
            ("first segment", &[(250, 2.0, true)], (1_050_000, 1_000_000)),
            (
                "a peak 4 % up: within the headroom",
                &[(250, 2.0, true), (260, 2.0, true)],
                (1_050_000, 1_000_000),
            ),
            (
                "a peak 20 % up: revised with headroom",
                &[(250, 2.0, true), (300, 2.0, true)],
                (1_260_000, 1_100_000),
            ),
            (
                "the average drifts down: revised, BANDWIDTH kept",
                &[(250, 2.0, true), (150, 2.0, true), (150, 2.0, true)],
                (1_050_000, 733_333),
            ),
            (
                "a short last segment does not count for the peak",
                &[(250, 2.0, true), (10, 0.04, false)],
                (1_050_000, 1_000_000),
            ),
            (
                "only short segments: their peak",
                &[(20, 0.04, false)],
                (4_200_000, 4_000_000),
            ),
        ];
        for (name, segments, want) in cases {
            let mut meter = Meter::default();
            let mut declared = None;
            for (kb, secs, full) in *segments {
                meter.add(kb * 1000, *secs, *full);
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
