// SPDX-License-Identifier: MIT OR Apache-2.0
//! EXT-X-PROGRAM-DATE-TIME values: RFC 3339 date-time in UTC with milliseconds
//! (RFC 8216bis 4.4.4.6; Apple 8.4 wants one on every live segment).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (truncated to the millisecond). Times outside
/// years 0000–9999, which RFC 3339 cannot write, are clamped to that range.
pub fn format_rfc3339_millis(t: SystemTime) -> String {
    format_epoch_millis(epoch_millis(t))
}

/// Milliseconds since the Unix epoch, negative before it (rounded towards minus infinity, so
/// that 1 µs before the epoch is -1).
pub fn epoch_millis(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => {
            let d = e.duration();
            -((d.as_nanos() as i128 + 999_999) / 1_000_000)
        }
    }
}

/// Formats `millis` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, clamped to years 0000–9999.
pub fn format_epoch_millis(millis: i128) -> String {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in ms since the epoch.
    const MIN: i128 = -62_167_219_200_000;
    const MAX: i128 = 253_402_300_799_999;
    let millis = millis.clamp(MIN, MAX);
    let ms = millis.rem_euclid(1000);
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Media time in whole milliseconds (rounded). A live segment's EXTINF and the PDT of the
/// segments around it are differences of these values, so that within a run
/// PDT(n+1) - PDT(n) == EXTINF(n) to the millisecond and no rounding accumulates.
pub(crate) fn media_millis(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

/// EXTINF of a segment from media time `start` to `end` (seconds), on the millisecond grid of
/// [`media_millis`].
pub(crate) fn extinf(start: f64, end: f64) -> f64 {
    media_millis(end).saturating_sub(media_millis(start)) as f64 / 1000.0
}

/// EXT-X-PROGRAM-DATE-TIME of live segments: the wall clock when a timeline starts (the
/// first segment, and the first after each discontinuity), then advancing with media time
/// (RFC 8216bis 4.4.4.6: PDT maps the media timeline to dates; it may only jump at a
/// discontinuity). Taking the wall clock at every segment instead would make each step differ
/// from the EXTINF before it by the input's arrival jitter.
#[derive(Debug, Clone, Default)]
pub(crate) struct PdtClock {
    /// (wall-clock ms since the epoch, media ms) at the start of the current timeline.
    anchor: Option<(i128, i64)>,
}

impl PdtClock {
    /// PDT of a segment that starts at media time `start` (seconds on the stream's running
    /// clock) and opens at wall-clock `now`; `new_timeline` for the first segment after a
    /// discontinuity (ties media time to `now` afresh).
    pub(crate) fn segment(&mut self, start: f64, now: SystemTime, new_timeline: bool) -> String {
        let start_ms = media_millis(start);
        let (wall, media) = match self.anchor {
            Some(a) if !new_timeline => a,
            _ => {
                let a = (epoch_millis(now), start_ms);
                self.anchor = Some(a);
                a
            }
        };
        format_epoch_millis(wall + i128::from(start_ms.saturating_sub(media)))
    }
}

/// Proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_table() {
        let after = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        let before = |ms: u64| UNIX_EPOCH - Duration::from_millis(ms);
        let cases = [
            (UNIX_EPOCH, "1970-01-01T00:00:00.000Z"),
            (after(1), "1970-01-01T00:00:00.001Z"),
            (before(1), "1969-12-31T23:59:59.999Z"),
            // date -u -d @951782400 → Tue Feb 29 00:00:00 UTC 2000 (leap day, century rule)
            (after(951_782_400_000), "2000-02-29T00:00:00.000Z"),
            (after(1_795_564_800_123), "2026-11-25T00:00:00.123Z"),
            (after(1_709_251_199_999), "2024-02-29T23:59:59.999Z"),
            (after(4_102_444_800_000), "2100-01-01T00:00:00.000Z"),
            (after(u64::MAX / 2), "9999-12-31T23:59:59.999Z"),
        ];
        for (t, want) in cases {
            assert_eq!(format_rfc3339_millis(t), want);
        }
        // Sub-millisecond parts are truncated, not rounded.
        let t = UNIX_EPOCH + Duration::from_micros(1_999);
        assert_eq!(format_rfc3339_millis(t), "1970-01-01T00:00:00.001Z");
    }

    /// Table: segments (media start s, wall clock of arrival ms, new timeline) → PDT. Within a
    /// timeline PDT follows media time whatever the arrival jitter; a new timeline starts at
    /// its arrival time.
    #[test]
    fn pdt_follows_media_time_within_a_timeline() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        let cases: &[(f64, u64, bool, &str)] = &[
            // First segment: arrival at 10.000 s.
            (0.0, 10_000, false, "1970-01-01T00:00:10.000Z"),
            // Arrived 235 ms later than media time: PDT still 10 + 2.002.
            (2.002, 12_237, false, "1970-01-01T00:00:12.002Z"),
            (4.004, 13_900, false, "1970-01-01T00:00:14.004Z"),
            // 1/3 s steps: rounded media milliseconds, no drift.
            (4.004 + 1.0 / 3.0, 0, false, "1970-01-01T00:00:14.337Z"),
            // Discontinuity: the wall clock again.
            (6.0, 20_500, true, "1970-01-01T00:00:20.500Z"),
            (7.5, 20_000, false, "1970-01-01T00:00:22.000Z"),
        ];
        let mut clock = PdtClock::default();
        for (start, wall, new, want) in cases {
            assert_eq!(clock.segment(*start, at(*wall), *new), *want, "{start}");
        }
        // EXTINF on the same grid: the steps above equal the EXTINFs.
        assert_eq!(extinf(2.002, 4.004), 2.002);
        assert_eq!(extinf(4.004, 4.004 + 1.0 / 3.0), 0.333);
        assert_eq!(extinf(4.0 + 1.0 / 3.0, 4.0 + 2.0 / 3.0), 0.334);
    }
}
