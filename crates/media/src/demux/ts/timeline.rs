// SPDX-License-Identifier: MIT OR Apache-2.0
//! Timestamps: 33-bit PTS/DTS unwrapping (ISO/IEC 13818-1 §2.4.3.7: 90 kHz, modulo 2^33) and
//! rescaling to a track's timescale with integer arithmetic.

/// PTS/DTS period: 2^33 ticks of 90 kHz (about 26.5 hours).
pub(super) const WRAP: i64 = 1 << 33;
/// MPEG system clock for PTS/DTS.
pub(super) const PTS_HZ: u32 = 90_000;

/// Unwraps 33-bit timestamps into a continuous timeline. One instance serves the whole
/// program, so audio and video unwrap alike and stay aligned: each value is placed in the
/// 2^33 period that brings it closest to the previous value seen on any stream.
#[derive(Debug, Default, Clone)]
pub(super) struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    pub(super) fn unwrap(&mut self, raw: u64) -> i64 {
        // Masked to 33 bits, so the cast is lossless.
        let raw = (raw & (WRAP as u64 - 1)) as i64;
        let value = match self.last {
            None => raw,
            Some(last) => {
                let base = last.saturating_sub(last.rem_euclid(WRAP));
                let here = base.saturating_add(raw);
                [here.saturating_sub(WRAP), here, here.saturating_add(WRAP)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_across_the_wrap_and_back() {
        let mut u = Unwrapper::default();
        let near = WRAP as u64 - 45_000;
        assert_eq!(u.unwrap(near), WRAP - 45_000);
        assert_eq!(u.unwrap(10_000), WRAP + 10_000);
        // a slightly older value of another stream still before the wrap
        assert_eq!(u.unwrap(near + 3_000), WRAP - 42_000);
        assert_eq!(u.unwrap(100_000), WRAP + 100_000);
        // several wraps in a row
        let mut t = 0u64;
        let mut u = Unwrapper::default();
        let mut expect = 0i64;
        for _ in 0..10 {
            t = (t + (1 << 31)) % (1 << 33);
            expect += 1 << 31;
            assert_eq!(u.unwrap(t), expect);
        }
    }

    #[test]
    fn unwrap_keeps_backward_jumps_small() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(900_000), 900_000);
        assert_eq!(u.unwrap(0), 0);
        // a high 33-bit value right after 0 is a wrap backwards, not 26 hours forwards
        assert_eq!(u.unwrap(WRAP as u64 - 1), -1);
        // bits above 33 are ignored
        assert_eq!(u.unwrap((1 << 40) | 5), 5);
    }

    #[test]
    fn rescale_table() {
        let table = [
            (90_000i64, 90_000u32, 48_000u32, 48_000i64),
            (1_920, 90_000, 48_000, 1_024),
            (1_919, 90_000, 48_000, 1_023), // 1023.47
            (-1_920, 90_000, 44_100, -941), // -940.8
            (WRAP * 3, 90_000, 44_100, 12_627_203_850),
            (7, 0, 48_000, 7),
        ];
        for (ticks, from, to, want) in table {
            assert_eq!(rescale(ticks, from, to), want, "{ticks} {from}->{to}");
        }
    }
}
