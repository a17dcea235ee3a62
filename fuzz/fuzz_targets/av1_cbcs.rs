// SPDX-License-Identifier: MIT OR Apache-2.0
//! The AV1 cbcs tile finder (`crypto::cbcs_av1`, `codec::av1_header`) on arbitrary samples.
//! Must never panic, and what the packager relies on must hold: the subsamples of a sample
//! cover it exactly, and a second splitter fed the encrypted samples (the fMP4 muxer's, which
//! writes `senc` from the ciphertext) finds the same subsamples.
//!
//! Input: a little-endian u16 length and that many bytes of `av1C`, then samples, each a
//! little-endian u16 length and its bytes (the last one takes what is left).
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::crypto::cbcs::{encrypt_range, Subsample, VIDEO_PATTERN};
use media::crypto::cbcs_av1::Av1Splitter;

/// Samples followed from one input, at most.
const MAX_SAMPLES: usize = 64;

fn take<'a>(data: &mut &'a [u8]) -> &'a [u8] {
    let len = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => data.len(),
    };
    let rest = data.get(2..).unwrap_or_default();
    let (chunk, rest) = rest.split_at(len.min(rest.len()));
    *data = rest;
    chunk
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let av1c = take(&mut data);
    let (Ok(mut plain), Ok(mut cipher)) = (Av1Splitter::new(av1c), Av1Splitter::new(av1c)) else {
        return;
    };
    let key = [0x42u8; 16];
    let iv = [0x24u8; 16];
    for _ in 0..MAX_SAMPLES {
        if data.is_empty() {
            break;
        }
        let sample = take(&mut data);
        let mut subs: Vec<Subsample> = Vec::new();
        let Ok(()) = plain.subsamples(sample, &mut subs) else {
            // The packaging stops at the first sample it cannot parse.
            return;
        };
        let total: usize = subs
            .iter()
            .map(|s| usize::from(s.clear) + s.protected as usize)
            .sum();
        assert_eq!(total, sample.len(), "subsamples cover the sample");
        let mut enc = sample.to_vec();
        let mut pos = 0;
        for s in &subs {
            pos += usize::from(s.clear);
            let end = pos + s.protected as usize;
            encrypt_range(&key, &iv, VIDEO_PATTERN, &mut enc[pos..end]);
            pos = end;
        }
        let mut again = Vec::new();
        cipher
            .subsamples(&enc, &mut again)
            .expect("the encrypted sample parses as the clear one did");
        assert_eq!(again, subs, "the same subsamples from the ciphertext");
    }
});
