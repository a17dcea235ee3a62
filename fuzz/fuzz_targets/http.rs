// SPDX-License-Identifier: MIT OR Apache-2.0
//! The origin's request parsers on fuzzed requests: the request path (percent-decoding, dot
//! segments, hidden files), the blocking-reload query (`_HLS_msn`, `_HLS_part`, `_HLS_skip`),
//! `Range` against a representation length (a satisfiable range must lie inside it),
//! `If-Match` / `If-None-Match` / `If-Modified-Since` / `If-Unmodified-Since` / `If-Range`,
//! `Accept-Encoding`, and the playlist classifier that picks Cache-Control. Must never panic.
#![no_main]
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const NAMES: [&[u8]; 8] = [
    b"range",
    b"if-match",
    b"if-none-match",
    b"if-modified-since",
    b"if-unmodified-since",
    b"if-range",
    b"accept-encoding",
    b"x-other",
];

fn run(mut u: Unstructured<'_>) -> Result<()> {
    let path: &str = u.arbitrary()?;
    let query: Option<&str> = u.arbitrary()?;
    let len: u64 = u.arbitrary()?;
    let n = u.int_in_range(0..=8)?;
    let mut headers = Vec::with_capacity(n);
    for _ in 0..n {
        let name = *u.choose(&NAMES)?;
        let value: &[u8] = u.arbitrary()?;
        headers.push((name, value));
    }
    let body = u.take_rest();
    origin::fuzzing::request(path, query, &headers, len, body);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(Unstructured::new(data));
});
