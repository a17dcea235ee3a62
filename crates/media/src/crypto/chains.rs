// SPDX-License-Identifier: MIT OR Apache-2.0
//! Many cbcs protected ranges of one buffer encrypted side by side (ISO/IEC 23001-7 §10.4.2).
//!
//! CBC encryption is serial within a chain (each block needs the previous ciphertext), and AES
//! with AES-NI is latency-bound on one chain: ~10 rounds of 4 cycles per block while the unit
//! could start a new round every cycle. But every protected range of a cbcs sample starts its
//! own chain from the constant IV (§9.6, §10.4.1), so the ranges of a whole piece (every video
//! slice, every audio frame) are independent chains. This module keeps [`LANES`] chains in
//! flight: each step takes the next block of every chain, XORs it with that chain's previous
//! ciphertext and encrypts the lot with one call to RustCrypto's `aes` multi-block ECB (which
//! pipelines them through AES-NI), then writes them back. The result is exactly CBC per range;
//! `cbcs_tests::chains_match_one_range_at_a_time` checks it against `cbc`.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::BlockEncrypt;
use aes::Aes128Enc;

const BLOCK: usize = 16;
/// Chains encrypted at once: the `aes` AES-NI backend processes 8 blocks in parallel.
pub const LANES: usize = 8;

/// A protected range of the buffer: `start..start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: usize,
    pub len: usize,
}

/// One chain in flight.
#[derive(Clone, Copy)]
struct Chain {
    /// The next block to encrypt.
    pos: usize,
    /// End of the range's last complete block.
    end: usize,
    /// Encrypted blocks left in the current run of `crypt`.
    run_left: usize,
    prev: [u8; BLOCK],
}

/// The pattern as block counts: (blocks encrypted per run, blocks skipped after it); `None`
/// when nothing is encrypted (crypt 0 with a skip). crypt 0 and skip 0 means every block.
fn runs((crypt, skip): (u8, u8)) -> Option<(usize, usize)> {
    match (crypt, skip) {
        (0, 0) => Some((usize::MAX, 0)),
        (0, _) => None,
        (c, s) => Some((usize::from(c), usize::from(s))),
    }
}

/// Encrypts every range of `data` listed in `ranges` (each clamped to `data`) with cbcs
/// pattern `pattern`, each range one CBC chain from `iv`; trailing partial blocks stay clear.
pub fn encrypt_ranges(
    cipher: &Aes128Enc,
    iv: &[u8; 16],
    pattern: (u8, u8),
    data: &mut [u8],
    ranges: &[Range],
) {
    let Some((crypt, skip)) = runs(pattern) else {
        return;
    };
    let size = data.len();
    let mut pending = ranges.iter().filter_map(|r| {
        let end = r.start.checked_add(r.len)?.min(size);
        let whole = end.checked_sub(r.start)? / BLOCK * BLOCK;
        (whole > 0).then_some(Chain {
            pos: r.start,
            end: r.start + whole,
            run_left: crypt,
            prev: *iv,
        })
    });
    let mut lanes: [Option<Chain>; LANES] = [None; LANES];
    let mut blocks = [GenericArray::default(); LANES];
    loop {
        let mut n = 0;
        for lane in lanes.iter_mut() {
            if lane.is_none() {
                *lane = pending.next();
            }
            if let Some(c) = lane {
                let plain = &data[c.pos..c.pos + BLOCK];
                for ((b, p), v) in blocks[n].iter_mut().zip(plain).zip(&c.prev) {
                    *b = p ^ v;
                }
                n += 1;
            }
        }
        if n == 0 {
            return;
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        let mut k = 0;
        for lane in lanes.iter_mut() {
            let Some(c) = lane else { continue };
            let out = &blocks[k];
            k += 1;
            data[c.pos..c.pos + BLOCK].copy_from_slice(out);
            c.prev.copy_from_slice(out);
            c.pos += BLOCK;
            c.run_left -= 1;
            if c.run_left == 0 {
                c.pos = c.pos.saturating_add(skip * BLOCK);
                c.run_left = crypt;
            }
            if c.pos.saturating_add(BLOCK) > c.end {
                *lane = None;
            }
        }
    }
}
