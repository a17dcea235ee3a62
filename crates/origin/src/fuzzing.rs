// SPDX-License-Identifier: MIT OR Apache-2.0
//! Entry points for the `http` fuzz target (`fuzz/fuzz_targets/http.rs`): every parser of
//! request data (the just-in-time URL parser too), and the playlist classifier that picks a Cache-Control. Not an API: hidden
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
        // Just-in-time URLs: the file is a leading part of the path, the name its last segment.
        if let Some(u) = crate::jit::url::parse(&p) {
            assert!(
                p.as_str().starts_with(u.file.as_str()),
                "{path}: file {:?}",
                u.file
            );
            assert_eq!(p.segments().last(), Some(u.name.as_str()), "{path}");
            if u.mapping {
                // A mapping file (`NAME.json`, `body` as its text): whatever it says, every
                // file it resolves to is inside the mapping file's directory.
                crate::jit::mapping::check_contained(&u.file, body);
            }
        }
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

/// Entry point of the `signed` fuzz target: the signed-URL token parser and verifier on a
/// fuzzed `token` for a request of `path`, and the playlist rewriting on `playlist`. Panics
/// only if an invariant breaks: a token the signer made for a prefix must verify for every
/// path under it, and rewriting keeps the number of lines.
pub fn signed(token: &str, path: &str, client: Option<std::net::IpAddr>, playlist: &[u8]) {
    use crate::signing::{directory_prefix, rewrite::rewrite_playlist, token_of, Signer, Token};
    let signer = Signer::new(&["fuzz-secret", "old"]).unwrap_or_else(|| unreachable!());
    let now = 1_800_000_000;
    let _ = Token::parse(token).map(|t| t.covers(path));
    let _ = signer.verify(token, path, now, client);
    let _ = token_of(Some(token));
    if path.starts_with('/') {
        let prefix = directory_prefix(path);
        if let Some(made) = signer.sign(&prefix, now, client) {
            assert!(
                signer.verify(&made, path, now, client).is_ok(),
                "{made} does not verify for {path}"
            );
        }
    }
    // Rewriting only ever sees tokens that verified (base64url, digits and dots).
    if let Some(text) = rewrite_playlist(playlist, "1800000000.Lw.c2ln") {
        let before = std::str::from_utf8(playlist).map_or(0, |t| t.split('\n').count());
        assert_eq!(
            text.split('\n').count(),
            before,
            "rewriting changed the lines"
        );
    }
}
