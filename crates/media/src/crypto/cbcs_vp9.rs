// SPDX-License-Identifier: MIT OR Apache-2.0
//! The cbcs subsamples of a VP9 sample (VP Codec ISO Media File Format Binding v1.1, "Common
//! Encryption" / "Sample Encryption"): subsample encryption, one subsample per frame; "the
//! uncompressed header MUST be unencrypted", and in a superframe the uncompressed header of
//! every frame and the superframe index stay clear.
//!
//! The uncompressed header is not parsed (its length depends on the reference frames' sizes,
//! which would need state across samples): each frame's first [`VP9_CLEAR_LEADER`] bytes stay
//! clear, the longest an uncompressed header can be, as Apple's SAMPLE-AES leaves a fixed 32
//! bytes of every H.264 slice clear. The bound, from the syntax of VP9 Bitstream Specification
//! v0.6 §6.2 in bits: frame marker, profile and reserved bit 5; show_existing_frame, frame_type,
//! show_frame, error_resilient_mode 4; the longest frame kind (a non-shown intra-only frame:
//! intra_only 1, reset_frame_context 2, sync code 24, color_config 8, refresh_frame_flags 8,
//! frame_size 32, render_size 33) 108; refresh_frame_context, frame_parallel_decoding_mode,
//! frame_context_idx 4; loop_filter_params with every delta 59; quantization_params 26;
//! segmentation_params with every tree probability and feature 271; tile_info 8;
//! header_size_in_bytes 16; trailing bits 7 — 508 bits, under 64 bytes. The compressed header
//! and tile data after it are the protected range (pattern 1:9, a trailing partial block
//! clear); a frame too short for a protected block stays clear.

use super::cbcs::Subsample;

/// Bytes at the start of each VP9 frame left clear: at least its uncompressed header.
pub const VP9_CLEAR_LEADER: usize = 64;
const BLOCK: usize = 16;

/// The frame sizes of a superframe (VP9 Bitstream Specification Annex B): the last byte is a
/// marker `0b110_ss_fff` (bytes per size minus 1, frames minus 1), repeated as the index's
/// first byte, the sizes little-endian in between. `None` when `data` is a single frame.
fn superframe(data: &[u8]) -> Option<(Vec<usize>, usize)> {
    let marker = *data.last()?;
    if marker & 0xE0 != 0xC0 {
        return None;
    }
    let frames = usize::from(marker & 0x7) + 1;
    let size_bytes = usize::from((marker >> 3) & 0x3) + 1;
    let index = 2 + size_bytes * frames;
    let start = data.len().checked_sub(index)?;
    if data[start] != marker {
        return None;
    }
    let sizes: Vec<usize> = data[start + 1..data.len() - 1]
        .chunks_exact(size_bytes)
        .map(|b| {
            b.iter()
                .rev()
                .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
        })
        .collect();
    let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s))?;
    (total == start).then_some((sizes, index))
}

/// The subsamples of VP9 sample `data`, appended to `out`: per frame, the clear leader then the
/// rest protected; the superframe index clear. Sizes that do not add up leave the sample clear.
pub fn subsamples(data: &[u8], out: &mut Vec<Subsample>) {
    let (frames, index) = superframe(data).unwrap_or_else(|| (vec![data.len()], 0));
    let mut clear = 0usize;
    for frame in frames {
        let protected = frame.saturating_sub(VP9_CLEAR_LEADER);
        if protected >= BLOCK {
            super::cbcs::push_clear_subsample(clear + VP9_CLEAR_LEADER, protected, out);
            clear = 0;
        } else {
            clear += frame;
        }
    }
    clear += index;
    if clear > 0 {
        super::cbcs::push_clear_subsample(clear, 0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(clear: u16, protected: u32) -> Subsample {
        Subsample { clear, protected }
    }

    /// A superframe of `sizes` frames with 2-byte sizes.
    fn superframe_of(sizes: &[usize]) -> Vec<u8> {
        let marker = 0xC0 | (1 << 3) | (sizes.len() as u8 - 1);
        let mut v: Vec<u8> = sizes.iter().flat_map(|&s| vec![0x82; s]).collect();
        v.push(marker);
        for &s in sizes {
            v.extend_from_slice(&(s as u16).to_le_bytes());
        }
        v.push(marker);
        v
    }

    #[test]
    fn frames_and_superframes() {
        let cases: Vec<(&str, Vec<u8>, Vec<Subsample>)> = vec![
            ("one frame", vec![0x82; 1000], vec![sub(64, 936)]),
            ("too short to protect", vec![0x82; 79], vec![sub(79, 0)]),
            ("exactly one block", vec![0x82; 80], vec![sub(64, 16)]),
            (
                "superframe: hidden altref + shown frame, index clear",
                superframe_of(&[3000, 500]),
                vec![sub(64, 2936), sub(64, 436), sub(6, 0)],
            ),
            (
                "superframe ending in a 1-byte show-existing frame",
                superframe_of(&[700, 1]),
                vec![sub(64, 636), sub(1 + 6, 0)],
            ),
            (
                // A last byte that looks like a marker but whose index does not match.
                "not a superframe",
                [vec![0x82; 200], vec![0xC1]].concat(),
                vec![sub(64, 137)],
            ),
        ];
        for (name, data, want) in cases {
            let mut got = Vec::new();
            subsamples(&data, &mut got);
            assert_eq!(got, want, "{name}");
            crate::crypto::cbcs::assert_cover(&got, data.len(), name);
        }
    }
}
