// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Common Encryption boxes of a protected track's `traf` (ISO/IEC 23001-7 §7; CMAF
//! ISO/IEC 23000-19 §8.2.2): `saiz` + `saio` locating the sample auxiliary information, which
//! is the `senc` box's per-sample data (§7.2). Under cbcs with a constant IV a sample's
//! auxiliary information is only its subsample list (video); whole-sample audio has none, and
//! then only an `senc` with the sample count is written, without `saiz`/`saio` (as Shaka
//! Packager 3.8 writes it: there is no auxiliary data to locate).
//!
//! ```text
//! traf
//!   tfhd tfdt trun
//!   saiz  version 0, flags 0   default_sample_info_size (0: one size per sample), sample_count
//!   saio  version 0, flags 0   entry_count 1, offset from the moof (default-base-is-moof)
//!   senc  version 0, flags 2   sample_count, per sample: subsample_count, {clear u16, protected u32}
//! ```

use super::fragment::{box_header, put_u32};
use crate::crypto::cbcs::{Layout, Splitter, Subsample};

/// senc flag: UseSubSampleEncryption (§7.2.1).
const SENC_SUBSAMPLES: u32 = 0x2;
const SENC_HEADER: u64 = 16;
const SAIO_SIZE: u64 = 20;
const SAIZ_HEADER: u64 = 17;

/// One protected track's auxiliary information for the fragment being written.
#[derive(Debug, Clone)]
pub(super) struct TrafCrypt {
    /// The track's subsample split, fed each sample once in decode order (AV1 keeps state).
    splitter: Splitter,
    /// `senc` per-sample data of the fragment's samples, in order.
    entries: Vec<u8>,
    /// Size of each sample's entry.
    sizes: Vec<u8>,
    scratch: Vec<Subsample>,
}

impl TrafCrypt {
    pub fn new(splitter: Splitter) -> Self {
        TrafCrypt {
            splitter,
            entries: Vec::new(),
            sizes: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn with_subsamples(&self) -> bool {
        self.layout() != Layout::Whole
    }

    pub fn layout(&self) -> Layout {
        self.splitter.layout()
    }

    /// Starts a new fragment.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.sizes.clear();
    }

    /// Adds the next sample of the track (its bytes as they go into the mdat: the layout only
    /// reads what stays clear). Fails for an AV1 sample whose headers cannot be parsed.
    pub fn add_sample(&mut self, data: &[u8]) -> Result<(), String> {
        if !self.with_subsamples() {
            return Ok(());
        }
        self.scratch.clear();
        self.splitter.split(data, &mut self.scratch)?;
        let start = self.entries.len();
        // `subsamples` keeps a sample to a few dozen entries (saiz sizes are 8 bits); a sample
        // that still has too many makes `sizes_fit` false and the fragment is refused.
        let count = u16::try_from(self.scratch.len()).unwrap_or(u16::MAX);
        self.entries.extend_from_slice(&count.to_be_bytes());
        for s in self.scratch.iter().take(usize::from(count)) {
            self.entries.extend_from_slice(&s.clear.to_be_bytes());
            self.entries.extend_from_slice(&s.protected.to_be_bytes());
        }
        let size = self.entries.len() - start;
        self.sizes.push(u8::try_from(size).unwrap_or(0));
        Ok(())
    }

    /// Whether every sample's entry fits `saiz`'s 8-bit size field.
    pub fn sizes_fit(&self) -> bool {
        !self.with_subsamples() || self.sizes.iter().all(|&s| s != 0)
    }

    fn uniform_size(&self) -> Option<u8> {
        let first = *self.sizes.first()?;
        self.sizes.iter().all(|&s| s == first).then_some(first)
    }

    /// Bytes the boxes add to the `traf`.
    pub fn size(&self) -> u64 {
        let senc = SENC_HEADER + self.entries.len() as u64;
        if !self.with_subsamples() {
            return senc;
        }
        let saiz = SAIZ_HEADER
            + if self.uniform_size().is_some() {
                0
            } else {
                self.sizes.len() as u64
            };
        saiz + SAIO_SIZE + senc
    }

    /// Writes `saiz`, `saio`, `senc` for `count` samples; `moof_start`: where the `moof` begins
    /// in `out` (saio offsets count from it, tfhd default-base-is-moof).
    pub fn write(&self, count: u32, moof_start: usize, out: &mut Vec<u8>) {
        if self.with_subsamples() {
            let uniform = self.uniform_size();
            let saiz = SAIZ_HEADER + uniform.map_or(self.sizes.len() as u64, |_| 0);
            box_header(out, saiz as u32, b"saiz");
            put_u32(out, 0); // version 0, flags 0: no aux_info_type
            out.push(uniform.unwrap_or(0)); // default_sample_info_size
            put_u32(out, count);
            if uniform.is_none() {
                out.extend_from_slice(&self.sizes);
            }
            // The senc data starts after this saio and the senc header.
            let data = (out.len() - moof_start) as u64 + SAIO_SIZE + SENC_HEADER;
            box_header(out, SAIO_SIZE as u32, b"saio");
            put_u32(out, 0); // version 0 (32-bit offsets), flags 0
            put_u32(out, 1); // entry_count: one run of aux data for the whole traf
            put_u32(out, data as u32); // below the moof size, which fits 32 bits
        }
        let flags = if self.with_subsamples() {
            SENC_SUBSAMPLES
        } else {
            0
        };
        box_header(
            out,
            (SENC_HEADER + self.entries.len() as u64) as u32,
            b"senc",
        );
        put_u32(out, flags); // version 0
        put_u32(out, count);
        out.extend_from_slice(&self.entries);
    }
}
