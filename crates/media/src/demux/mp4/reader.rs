// SPDX-License-Identifier: MIT OR Apache-2.0
//! Payload reads. Each track reads whole runs of contiguous samples (a chunk, or a track
//! fragment's data) with one large read and hands out its samples as slices of that buffer.
//!
//! A single shared read buffer would be refilled every time the decode-order merge switches
//! between tracks whose chunks lie far apart (high-bitrate video chunks of several MiB with
//! the audio chunk after them), reading the same bytes many times over; per-track runs read
//! every byte once, and the reader only seeks when the next run does not start where the
//! previous read ended.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;

use super::table::SampleTable;

/// Largest run read at once (a larger single sample is read whole).
const RUN_CAP: u64 = 4 << 20;

/// The underlying reader and its position when known.
pub(super) struct Positioned<R> {
    inner: R,
    pos: Option<u64>,
}

impl<R: Read + Seek> Positioned<R> {
    pub fn new(inner: R) -> Self {
        Positioned { inner, pos: None }
    }

    fn read_at(&mut self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let n = usize::try_from(len).map_err(|_| std::io::Error::other("read too large"))?;
        if self.pos != Some(offset) {
            self.pos = None;
            self.inner.seek(SeekFrom::Start(offset))?;
        }
        self.pos = None;
        // `read_to_end` into reserved capacity: no zero-filling of a buffer that the read
        // overwrites anyway (a measurable share of packaging time for multi-MiB runs).
        let mut buf = Vec::new();
        buf.try_reserve_exact(n)
            .map_err(|_| std::io::Error::other("cannot allocate the read buffer"))?;
        (&mut self.inner).take(len).read_to_end(&mut buf)?;
        if buf.len() != n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.pos = offset.checked_add(len);
        Ok(buf)
    }
}

/// Samples `first..end` of a track, read in one go starting at file offset `offset`.
#[derive(Debug, Default)]
pub(super) struct Run {
    first: usize,
    end: usize,
    offset: u64,
    data: Bytes,
}

impl Run {
    /// The bytes of sample `index` (offset `offset`, `size` bytes), reading its run first
    /// when this buffer does not hold it.
    pub fn sample<R: Read + Seek>(
        &mut self,
        reader: &mut Positioned<R>,
        table: &SampleTable,
        index: usize,
        offset: u64,
        size: u32,
    ) -> std::io::Result<Bytes> {
        if !(self.first..self.end).contains(&index) {
            self.fill(reader, table, index, offset, size)?;
        }
        let start = offset
            .checked_sub(self.offset)
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(usize::MAX);
        let end = start.saturating_add(size as usize);
        if end > self.data.len() {
            return Err(std::io::Error::other("sample outside its read run"));
        }
        Ok(self.data.slice(start..end))
    }

    fn fill<R: Read + Seek>(
        &mut self,
        reader: &mut Positioned<R>,
        table: &SampleTable,
        index: usize,
        offset: u64,
        size: u32,
    ) -> std::io::Result<()> {
        // Drop the old buffer first (slices handed out keep their part alive).
        *self = Run::default();
        let mut len = u64::from(size);
        let mut end = index + 1;
        while let Some(next) = table.get(end) {
            let contiguous = offset.checked_add(len) == Some(next.offset);
            let grown = len.saturating_add(u64::from(next.size));
            if !contiguous || grown > RUN_CAP {
                break;
            }
            len = grown;
            end += 1;
        }
        let data = reader.read_at(offset, len)?;
        *self = Run {
            first: index,
            end,
            offset,
            data: Bytes::from(data),
        };
        Ok(())
    }
}
