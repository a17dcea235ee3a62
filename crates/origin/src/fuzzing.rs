// SPDX-License-Identifier: MIT OR Apache-2.0
//! Entry points for the `http` fuzz target (`fuzz/fuzz_targets/http.rs`): every parser of
//! request data, and the playlist classifier that picks a Cache-Control. Not an API: hidden
//! from the docs, and free to change with the parsers.

use std::time::{Duration, SystemTime};

use axum::http::header::RANGE;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::http::conditional::{accepts_gzip, evaluate, if_range_allows, parse_range, ByteRange};
use crate::http::policy::classify_playlist;
use crate::http::reload::Directives;
use crate::path::ObjectPath;

/// Runs the parsers on one fuzzed request — `path` (percent-encoded, as on the request line),
/// `query`, `headers`, for a representation of `len` bytes — and `body` as a playlist. Panics
/// only if a parser breaks an invariant: a satisfiable range outside `0..len`.
pub fn request(path: &str, query: Option<&str>, headers: &[(&[u8], &[u8])], len: u64, body: &[u8]) {
    if let Ok(p) = ObjectPath::from_request_path(path) {
        let _ = (p.extension(), p.segments().count());
    }
    let _ = Directives::parse(query).map(|d| d.is_blocking());
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    if let Some(value) = map.get(RANGE) {
        if let ByteRange::Partial { start, end } = parse_range(value.as_bytes(), len) {
            assert!(
                start <= end && end < len,
                "range {start}-{end} of {len} bytes"
            );
        }
    }
    let etag = HeaderValue::from_static("\"5f3c-1a\"");
    let modified = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(1_800_000_000));
    let _ = evaluate(&map, &etag, modified);
    let _ = if_range_allows(&map, &etag, modified);
    let _ = accepts_gzip(&map);
    let _ = classify_playlist(body);
}
