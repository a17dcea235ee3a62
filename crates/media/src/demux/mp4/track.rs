// SPDX-License-Identifier: MIT OR Apache-2.0
//! One demuxed track: its description, its sample table and the checks every sample passes
//! on its way into the table (sample description, bytes inside the file, memory budget).

use super::entry::NalFormat;
use super::table::{RawSample, SampleTable};
use crate::error::{Error, Result};
use crate::sample::{TrackInfo, TrackKind};

/// Where a track's samples stopped because the file ends before their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Truncation {
    pub sample: u64,
    pub offset: u64,
    pub size: u32,
}

#[derive(Debug)]
pub(super) struct Track {
    pub info: TrackInfo,
    pub nal: Option<NalFormat>,
    pub table: SampleTable,
    /// Added to every raw decode time: the edit list's effect (ISO/IEC 14496-12 §8.6.6).
    pub shift: i64,
    /// Per sample description index − 1: true when that entry is byte-identical to the first
    /// (only the first entry's configuration is used).
    pub same_entry: Vec<bool>,
    pub truncated: Option<Truncation>,
    /// Sum of max(size, 1) over the samples: bounded by the file length so that a hostile
    /// table cannot make us allocate more than the input could describe.
    cost: u64,
    /// Duration from mdhd (0 or all-ones = unknown).
    pub mdhd_duration: u64,
}

impl Track {
    pub fn new(info: TrackInfo, nal: Option<NalFormat>, same_entry: Vec<bool>) -> Self {
        Track {
            info,
            nal,
            table: SampleTable::default(),
            shift: 0,
            same_entry,
            truncated: None,
            cost: 0,
            mdhd_duration: 0,
        }
    }

    /// Whether more samples are accepted (false after the file ended inside one).
    pub fn open(&self) -> bool {
        self.truncated.is_none()
    }

    /// Appends one sample that uses sample description `sdi` (1-based).
    ///
    /// A sample whose bytes end past `file_len` closes the track (the caller decides later
    /// whether that is an error); returns `Ok(false)` once the track accepts no more samples.
    pub fn push(&mut self, mut s: RawSample, sdi: u32, file_len: u64) -> Result<bool> {
        if !self.open() {
            return Ok(false);
        }
        let index = self.table.len() as u64;
        if sdi != 1 {
            let same = usize::try_from(sdi)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| self.same_entry.get(i))
                .copied()
                .unwrap_or(false);
            if !same {
                let msg = if sdi == 0 || sdi as usize > self.same_entry.len() {
                    format!(
                        "refers to sample description {sdi}, but stsd has {} entries",
                        self.same_entry.len()
                    )
                } else {
                    format!(
                        "switches to sample description {sdi} (sample at byte offset {}), \
                         whose codec configuration (parameter sets, dimensions or audio \
                         format) differs from description 1; only one configuration per \
                         track is supported: split the file at this sample",
                        s.offset
                    )
                };
                return Err(Error::BadSample {
                    track: self.info.id,
                    sample: index,
                    dts: self.table.next_dts().saturating_add(self.shift),
                    msg,
                });
            }
        }
        let end = s.offset.checked_add(u64::from(s.size));
        if end.is_none_or(|e| e > file_len) {
            self.truncated = Some(Truncation {
                sample: index,
                offset: s.offset,
                size: s.size,
            });
            return Ok(false);
        }
        self.cost = self.cost.saturating_add(u64::from(s.size.max(1)));
        if self.cost > file_len {
            return Err(Error::mp4(
                format!(
                    "track {}: sample tables describe more data ({} samples so far) than the \
                     file holds",
                    self.info.id, index
                ),
                s.offset,
            ));
        }
        if self.info.kind() == TrackKind::Audio {
            s.sync = true;
        }
        if !self.table.push(s) {
            return Err(Error::mp4(
                format!("track {}: more than 2^32 samples", self.info.id),
                s.offset,
            ));
        }
        Ok(true)
    }
}
