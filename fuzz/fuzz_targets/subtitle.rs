// SPDX-License-Identifier: MIT OR Apache-2.0
//! Subtitle files on fuzzed text: WebVTT/SRT parsing, then cutting the cues into WebVTT
//! segments on a few boundaries. Must never panic; every segment starts with the WebVTT header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::subtitle::{parse, segment};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(subs) = parse(text) {
        for w in subs.cues.windows(2) {
            assert!(w[0].start <= w[1].start, "cues in order");
        }
        for seg in segment(&subs, &[2.0, 2.0, 0.5], 126_000) {
            assert!(seg.starts_with("WEBVTT\n"));
        }
    }
});
