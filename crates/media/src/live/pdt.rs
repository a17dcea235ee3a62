// SPDX-License-Identifier: MIT OR Apache-2.0
//! EXT-X-PROGRAM-DATE-TIME values: RFC 3339 date-time in UTC with milliseconds
//! (RFC 8216bis 4.4.4.6; Apple 8.4 wants one on every live segment).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (truncated to the millisecond). Times outside
/// years 0000–9999, which RFC 3339 cannot write, are clamped to that range.
pub fn format_rfc3339_millis(t: SystemTime) -> String {
    // Milliseconds since the epoch, negative before it.
    let millis: i128 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => {
            let d = e.duration();
            // Round towards minus infinity so that 1 ms before the epoch is 23:59:59.999.
            -((d.as_nanos() as i128 + 999_999) / 1_000_000)
        }
    };
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
}
