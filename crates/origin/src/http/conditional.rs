// SPDX-License-Identifier: MIT OR Apache-2.0
//! Conditional requests (RFC 9110 13), byte ranges (RFC 9110 14) and content-coding
//! negotiation (RFC 9110 12.5.3), as pure functions of request headers.
//!
//! Multi-range requests (`bytes=0-1,5-6`) are answered with the whole representation (200):
//! RFC 9110 14.2 lets a server ignore `Range`, HLS clients never send more than one range, and
//! `multipart/byteranges` would only add an untested code path.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header::{
    ACCEPT_ENCODING, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};
use axum::http::{HeaderMap, HeaderValue};

/// Outcome of evaluating preconditions (RFC 9110 13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the representation (possibly a range of it).
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The byte range to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// No (usable) `Range` header: the whole representation, 200.
    Full,
    /// `start..=end`, 206.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Seconds since the epoch, the precision of HTTP dates.
pub(crate) fn unix_secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

fn header_date_secs(value: &HeaderValue) -> Option<u64> {
    let s = value.to_str().ok()?;
    unix_secs(httpdate::parse_http_date(s.trim()).ok()?)
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
/// order of RFC 9110 13.2.2 for a GET or HEAD of an existing representation.
pub(crate) fn evaluate(
    headers: &HeaderMap,
    etag: &HeaderValue,
    modified: Option<SystemTime>,
) -> Precondition {
    let modified = modified.and_then(unix_secs);
    // 13.1.1: If-Match uses the strong comparison.
    if headers.contains_key(IF_MATCH) {
        if !any_tag_matches(headers, IF_MATCH, etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(since) = headers.get(IF_UNMODIFIED_SINCE).and_then(header_date_secs) {
        // 13.1.4
        if modified.is_none_or(|m| m > since) {
            return Precondition::Failed;
        }
    }
    // 13.1.2: If-None-Match uses the weak comparison; for GET/HEAD a match is 304.
    if headers.contains_key(IF_NONE_MATCH) {
        if any_tag_matches(headers, IF_NONE_MATCH, etag, false) {
            return Precondition::NotModified;
        }
    } else if let (Some(since), Some(m)) = (
        headers.get(IF_MODIFIED_SINCE).and_then(header_date_secs),
        modified,
    ) {
        // 13.1.3
        if m <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether `If-Range` (absent, or matching) lets `Range` apply (RFC 9110 13.1.5): an entity
/// tag must match strongly, a date must equal `Last-Modified` exactly.
pub(crate) fn if_range_allows(
    headers: &HeaderMap,
    etag: &HeaderValue,
    modified: Option<SystemTime>,
) -> bool {
    let Some(value) = headers.get(IF_RANGE) else {
        return true;
    };
    let bytes = value.as_bytes();
    if bytes.first() == Some(&b'"') || bytes.starts_with(b"W/") {
        return bytes == etag.as_bytes();
    }
    match (header_date_secs(value), modified.and_then(unix_secs)) {
        (Some(date), Some(m)) => date == m,
        _ => false,
    }
}

/// Whether any entity tag listed in the `name` header fields matches `etag` (`*` matches any).
fn any_tag_matches(
    headers: &HeaderMap,
    name: axum::http::HeaderName,
    etag: &HeaderValue,
    strong: bool,
) -> bool {
    let ours = etag.as_bytes();
    let ours_weak = ours.starts_with(b"W/");
    let ours_opaque = ours.strip_prefix(b"W/").unwrap_or(ours);
    headers.get_all(name).iter().any(|value| {
        let mut rest = value.as_bytes();
        loop {
            rest = trim_list_separators(rest);
            if rest.is_empty() {
                return false;
            }
            if rest.first() == Some(&b'*') {
                return true;
            }
            let (weak, after) = match rest.strip_prefix(b"W/") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            // opaque-tag = DQUOTE *etagc DQUOTE
            if after.first() != Some(&b'"') {
                return false;
            }
            let Some(close) = after.iter().skip(1).position(|&b| b == b'"') else {
                return false;
            };
            let Some((opaque, tail)) = after.split_at_checked(close.saturating_add(2)) else {
                return false;
            };
            if opaque == ours_opaque && (!strong || (!weak && !ours_weak)) {
                return true;
            }
            rest = tail;
        }
    })
}

fn trim_list_separators(mut s: &[u8]) -> &[u8] {
    while let Some((&first, rest)) = s.split_first() {
        if first == b',' || first == b' ' || first == b'\t' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Interprets a `Range` header for a representation of `len` bytes (RFC 9110 14.1.2, 14.2).
/// Anything syntactically invalid, a unit other than `bytes`, or several ranges → `Full`.
pub(crate) fn parse_range(value: &[u8], len: u64) -> ByteRange {
    let Ok(text) = std::str::from_utf8(value) else {
        return ByteRange::Full;
    };
    let Some((unit, set)) = text.split_once('=') else {
        return ByteRange::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return ByteRange::Full;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return ByteRange::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // suffix-range = "-" suffix-length
        let Some(suffix) = parse_digits(last) else {
            return ByteRange::Full;
        };
        if suffix == 0 || len == 0 {
            return ByteRange::Unsatisfiable;
        }
        return ByteRange::Partial {
            start: len.saturating_sub(suffix),
            end: len.saturating_sub(1),
        };
    }
    let Some(start) = parse_digits(first) else {
        return ByteRange::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match parse_digits(last) {
            Some(end) if end >= start => Some(end),
            _ => return ByteRange::Full,
        }
    };
    if start >= len {
        return ByteRange::Unsatisfiable;
    }
    let last_byte = len.saturating_sub(1);
    ByteRange::Partial {
        start,
        end: end.map_or(last_byte, |e| e.min(last_byte)),
    }
}

/// A non-empty run of ASCII digits; values beyond `u64` saturate (they are past any length).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        b.is_ascii_digit()
            .then(|| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    })
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 12.5.3): `gzip`, `x-gzip` or `*` with a
/// non-zero weight, and gzip not explicitly refused with `q=0`.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip: Option<bool> = None;
    let mut star = false;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(!q_zero || gzip == Some(true));
            } else if coding == "*" {
                star = !q_zero;
            }
        }
    }
    gzip.unwrap_or(star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append(*k, v);
            }
        }
        h
    }

    const MTIME: u64 = 1_700_000_000; // Tue, 14 Nov 2023 22:13:20 GMT

    #[test]
    fn preconditions() {
        use Precondition::*;
        let etag = HeaderValue::from_static("\"abc\"");
        let mtime = Some(UNIX_EPOCH + Duration::from_millis(MTIME * 1000 + 500));
        let cases: &[(&[(&str, &str)], Precondition)] = &[
            (&[], Proceed),
            (&[("if-none-match", "\"abc\"")], NotModified),
            (&[("if-none-match", "W/\"abc\"")], NotModified),
            (&[("if-none-match", "\"x\", \"abc\"")], NotModified),
            (
                &[("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")],
                NotModified,
            ),
            (&[("if-none-match", "*")], NotModified),
            (&[("if-none-match", "\"x\"")], Proceed),
            (&[("if-none-match", "garbage")], Proceed),
            (
                &[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
                NotModified,
            ),
            (
                &[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
                Proceed,
            ),
            (&[("if-modified-since", "yesterday")], Proceed),
            // If-None-Match wins over If-Modified-Since (13.1.3).
            (
                &[
                    ("if-none-match", "\"x\""),
                    ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
                ],
                Proceed,
            ),
            (&[("if-match", "\"abc\"")], Proceed),
            (&[("if-match", "*")], Proceed),
            (&[("if-match", "\"x\"")], Failed),
            (&[("if-match", "W/\"abc\"")], Failed),
            (
                &[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
                Proceed,
            ),
            (
                &[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
                Failed,
            ),
            (
                &[("if-match", "\"abc\""), ("if-none-match", "\"abc\"")],
                NotModified,
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(evaluate(&headers(pairs), &etag, mtime), *want, "{pairs:?}");
        }
    }

    #[test]
    fn if_range() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mtime = Some(UNIX_EPOCH + Duration::from_secs(MTIME));
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("if-range", "\"abc\"")], true),
            (&[("if-range", "\"old\"")], false),
            (&[("if-range", "W/\"abc\"")], false),
            (&[("if-range", "Tue, 14 Nov 2023 22:13:20 GMT")], true),
            (&[("if-range", "Tue, 14 Nov 2023 22:13:21 GMT")], false),
            (&[("if-range", "nonsense")], false),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                if_range_allows(&headers(pairs), &etag, mtime),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn ranges() {
        use ByteRange::*;
        let cases: &[(&str, u64, ByteRange)] = &[
            ("bytes=0-0", 10, Partial { start: 0, end: 0 }),
            ("bytes=2-5", 10, Partial { start: 2, end: 5 }),
            ("bytes=2-", 10, Partial { start: 2, end: 9 }),
            ("bytes=5-100", 10, Partial { start: 5, end: 9 }),
            ("bytes=-3", 10, Partial { start: 7, end: 9 }),
            ("bytes=-30", 10, Partial { start: 0, end: 9 }),
            ("BYTES = 1-2", 10, Partial { start: 1, end: 2 }),
            ("bytes=1-2,", 10, Partial { start: 1, end: 2 }),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Unsatisfiable),
            ("bytes=5-2", 10, Full),
            ("bytes=a-b", 10, Full),
            ("bytes=-", 10, Full),
            ("bytes=+1-2", 10, Full),
            ("bytes=0-1,3-4", 10, Full),
            ("items=0-1", 10, Full),
            ("bytes 0-1", 10, Full),
            ("bytes=99999999999999999999-", 10, Unsatisfiable),
            (
                "bytes=0-99999999999999999999",
                10,
                Partial { start: 0, end: 9 },
            ),
            (
                "bytes=-99999999999999999999",
                10,
                Partial { start: 0, end: 9 },
            ),
        ];
        for (value, len, want) in cases {
            assert_eq!(
                parse_range(value.as_bytes(), *len),
                *want,
                "{value} len {len}"
            );
        }
    }

    #[test]
    fn gzip_negotiation() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["gzip"], true),
            (&["gzip, deflate, br"], true),
            (&["br;q=1.0, gzip;q=0.8"], true),
            (&["GZIP"], true),
            (&["x-gzip"], true),
            (&["*"], true),
            (&["gzip;q=0"], false),
            (&["*, gzip;q=0"], false),
            (&["*;q=0"], false),
            (&["identity"], false),
            (&["br", "gzip"], true),
        ];
        for (values, want) in cases {
            let pairs: Vec<(&'static str, &str)> =
                values.iter().map(|v| ("accept-encoding", *v)).collect();
            assert_eq!(accepts_gzip(&headers(&pairs)), *want, "{values:?}");
        }
    }
}
