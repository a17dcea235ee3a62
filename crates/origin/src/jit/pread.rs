// SPDX-License-Identifier: MIT OR Apache-2.0
//! A file read at a position kept here: each read is one positioned read (`pread`), and a
//! seek costs no system call. Planning reads a few bytes per video sample at scattered
//! offsets ([`media::demux::mp4::Mp4Demuxer::skeleton`]): a seek and a read each would be
//! twice the system calls.

use std::fs::File;
use std::io::{self, IoSliceMut, Read, Seek, SeekFrom};
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;

use media::demux::mp4::{nal_head_offsets, read_nal_heads, MediaIndex, NalHeads};
use rustix::fs::{fadvise, Advice};
use rustix::io::{preadv2, Errno, ReadWriteFlags};

/// Files with fewer samples have their NAL heads read by one thread (more would cost more
/// than they save).
const READ_AHEAD_MIN_SAMPLES: usize = 4096;
/// Most threads reading NAL heads at once.
const READ_AHEAD_MAX_THREADS: usize = 4;
/// How many of the places it reads next a [`HintedFile`] asks the system to read ahead when
/// it finds the file is not in the page cache.
const HINT_AHEAD: usize = 256;
/// Bytes read ahead at each place: the page holding a NAL head.
const HINT_BYTES: u64 = 4096;

pub(crate) struct PosFile {
    file: File,
    pos: u64,
}

impl PosFile {
    pub(crate) fn new(file: File) -> Self {
        PosFile { file, pos: 0 }
    }

    /// Another handle on the same file, at its start.
    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        Ok(PosFile::new(self.file.try_clone()?))
    }

    pub(crate) fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.file.metadata()
    }

    /// The `len` bytes at `offset`, read straight into a new buffer (not zeroed first: a
    /// segment's sample bytes are megabytes); `UnexpectedEof` if the file is shorter.
    pub(crate) fn read_span(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let at = offset.saturating_add(out.len() as u64);
            // Reads into the spare capacity and extends `out` by what was read.
            match rustix::io::pread(&self.file, rustix::buffer::spare_capacity(&mut out), at) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The capacity may exceed `len`, and the read with it.
        out.truncate(len);
        Ok(out)
    }
}

/// The NAL heads of every sample of `index` (made from `file`), read before planning
/// ([`media::demux::mp4::read_nal_heads`]): planning a long file costs one small `pread` per
/// video NAL unit, 18,000 for 10 minutes at 30 fps, and those reads do not depend on one
/// another. A file of [`READ_AHEAD_MIN_SAMPLES`] samples or more is read by one thread per
/// core at once, each with its own handle; a shorter one (or on one core) on this thread. Each
/// reader is a [`HintedFile`], so a file that is not in the page cache has many disk reads in
/// flight. `None`: no handle left to read with (planning reads as it goes).
pub(crate) fn read_nal_heads_ahead(
    file: &PosFile,
    index: &MediaIndex,
) -> media::Result<Option<NalHeads>> {
    let n = index.samples().len();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if n < READ_AHEAD_MIN_SAMPLES {
        1
    } else {
        cores.min(READ_AHEAD_MAX_THREADS)
    };
    let mut readers = Vec::with_capacity(threads);
    for k in 0..threads {
        let run = n * k / threads..n * (k + 1) / threads;
        match file.try_clone() {
            Ok(f) => readers.push((
                HintedFile::new(f, nal_head_offsets(index, run.clone())),
                run,
            )),
            Err(_) => return Ok(None), // out of descriptors
        }
    }
    if let [(reader, run)] = readers.as_mut_slice() {
        return read_nal_heads(reader, index, run.clone()).map(Some);
    }
    let parts = std::thread::scope(|scope| {
        let runs: Vec<_> = readers
            .into_iter()
            .map(|(mut reader, run)| scope.spawn(move || read_nal_heads(&mut reader, index, run)))
            .collect();
        runs.into_iter()
            .map(|run| {
                run.join().unwrap_or_else(|_| {
                    Err(media::Error::mp4("a thread reading NAL heads failed", 0))
                })
            })
            .collect::<media::Result<Vec<_>>>()
    })?;
    NalHeads::join(parts).map(Some)
}

/// A [`PosFile`] for reads at known places, in order, that keeps many disk reads in flight
/// when the file is not in the page cache. Each read first tries without waiting for the
/// disk (`preadv2` with `RWF_NOWAIT`: no extra system call while the file is cached); when
/// that would wait, the next [`HINT_AHEAD`] places are handed to the system to read ahead
/// (`posix_fadvise(POSIX_FADV_WILLNEED)`, which starts the reads and returns), then the read
/// waits for its own page. Read one after another, 18,000 scattered pages cost a disk round
/// trip each.
struct HintedFile {
    file: PosFile,
    /// The places to be read (ascending within a run of the index, as samples are stored).
    places: Vec<u64>,
    /// `places[..hinted]` were handed to the system.
    hinted: usize,
    /// `RWF_NOWAIT` is not supported here (old kernel, some filesystems): plain reads.
    plain: bool,
}

impl HintedFile {
    fn new(file: PosFile, places: Vec<u64>) -> Self {
        HintedFile {
            file,
            places,
            hinted: 0,
            plain: false,
        }
    }

    /// Asks the system to read ahead the pages of the next [`HINT_AHEAD`] places from `pos`
    /// that it was not asked for yet, unless more than half of them were (the reads still in
    /// flight are enough); contiguous pages go in one request.
    fn hint_from(&mut self, pos: u64) {
        let at = self.places.partition_point(|&p| p < pos);
        if self.hinted > at + HINT_AHEAD / 2 {
            return;
        }
        let from = at.max(self.hinted);
        let to = (at + HINT_AHEAD).min(self.places.len());
        let pages = self.places.get(from..to).unwrap_or_default().iter();
        let mut run: Option<(u64, u64)> = None;
        for &place in pages {
            let page = place - place % HINT_BYTES;
            run = match run {
                Some((start, end)) if page <= end => Some((start, end.max(page + HINT_BYTES))),
                Some(done) => {
                    self.advise(done);
                    Some((page, page + HINT_BYTES))
                }
                None => Some((page, page + HINT_BYTES)),
            };
        }
        if let Some(done) = run {
            self.advise(done);
        }
        self.hinted = self.hinted.max(to);
    }

    /// Whether the place after `pos` is not in the page cache either. A read without waiting
    /// also fails on a cached page that carries the kernel's read-ahead mark (it may not start
    /// read-ahead): on a cached file that is no reason to hint the next places (measured on
    /// the 10 min file: 15 such reads cost 3,814 `fadvise` calls).
    fn next_uncached(&self, pos: u64) -> bool {
        let at = self.places.partition_point(|&p| p <= pos);
        let Some(&next) = self.places.get(at) else {
            return false;
        };
        let mut probe = [0u8; 1];
        let flags = ReadWriteFlags::NOWAIT;
        let probed = preadv2(
            &self.file.file,
            &mut [IoSliceMut::new(&mut probe)],
            next,
            flags,
        );
        matches!(probed, Err(Errno::AGAIN))
    }

    fn advise(&self, (start, end): (u64, u64)) {
        // A hint: when it fails, the read still waits for its page.
        let _ = fadvise(
            &self.file.file,
            start,
            NonZeroU64::new(end - start),
            Advice::WillNeed,
        );
    }
}

impl Read for HintedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.file.pos;
        if !self.plain && !buf.is_empty() {
            let flags = ReadWriteFlags::NOWAIT;
            match preadv2(&self.file.file, &mut [IoSliceMut::new(buf)], pos, flags) {
                Ok(n) if n > 0 => {
                    self.file.pos += n as u64;
                    return Ok(n);
                }
                Ok(_) => {} // the end of the file, or nothing cached: a plain read says which
                Err(Errno::AGAIN) if self.next_uncached(pos) => self.hint_from(pos),
                Err(Errno::AGAIN) => {}
                Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => self.plain = true,
                Err(e) => return Err(e.into()),
            }
        }
        self.file.read(buf)
    }
}

impl Seek for HintedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl Read for PosFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PosFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.file.metadata()?.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = to.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads after seeks from the start, the current position and the end.
    #[test]
    fn reads_where_it_was_moved() {
        let path = std::env::temp_dir().join(format!("hlsorigin-pread-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let mut f = PosFile::new(File::open(&path).unwrap());
        let mut two = [0u8; 2];
        let cases: &[(SeekFrom, u64, &[u8; 2])] = &[
            (SeekFrom::Start(3), 3, b"34"),
            (SeekFrom::Current(1), 6, b"67"),
            (SeekFrom::End(-2), 8, b"89"),
        ];
        for (from, at, want) in cases {
            assert_eq!(f.seek(*from).unwrap(), *at);
            f.read_exact(&mut two).unwrap();
            assert_eq!(&two, *want);
        }
        assert_eq!(f.read(&mut two).unwrap(), 0);
        std::fs::remove_file(&path).unwrap();
    }

    /// A file out of the page cache (dropped with `POSIX_FADV_DONTNEED` after `fsync`) is read
    /// right at every place, and the reader handed the places ahead to the system; a cached
    /// one is read right without hints. On a filesystem whose pages cannot be dropped (tmpfs)
    /// only the bytes are checked.
    #[test]
    fn hinted_reads_give_the_bytes_cached_or_not() {
        let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
        let path = dir.join(format!("hlsorigin-hinted-{}", std::process::id()));
        let pages = 600u64;
        let data: Vec<u8> = (0..pages * HINT_BYTES).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let places: Vec<u64> = (0..pages).map(|p| p * HINT_BYTES + 100).collect();
        for drop_cache in [true, false] {
            let file = File::open(&path).unwrap();
            file.sync_all().unwrap();
            if drop_cache {
                fadvise(&file, 0, None, Advice::DontNeed).unwrap();
            }
            let mut probe = [0u8; 1];
            let nowait = ReadWriteFlags::NOWAIT;
            let cold = matches!(
                preadv2(&file, &mut [IoSliceMut::new(&mut probe)], 100, nowait),
                Err(Errno::AGAIN)
            );
            let mut reader = HintedFile::new(PosFile::new(file), places.clone());
            for &place in &places {
                let mut six = [0u8; 6];
                reader.seek(SeekFrom::Start(place)).unwrap();
                reader.read_exact(&mut six).unwrap();
                let at = place as usize;
                assert_eq!(&six, &data[at..at + 6], "at {place}");
            }
            assert_eq!(reader.hinted > 0, cold, "drop_cache {drop_cache}");
            if cold {
                assert!(reader.hinted >= HINT_AHEAD.min(places.len()));
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// A span is its bytes, whatever its length; past the end is `UnexpectedEof`.
    #[test]
    fn reads_spans_whole_or_says_the_file_is_short() {
        let path = std::env::temp_dir().join(format!("hlsorigin-span-{}", std::process::id()));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = PosFile::new(File::open(&path).unwrap());
        // (offset, length, whole)
        let cases = [
            (0u64, 0usize, true),
            (0, 1, true),
            (7, 100, true),
            (1000, 250_000, true),
            (0, 300_000, true),
            (299_999, 1, true),
            (299_999, 2, false),
            (300_000, 1, false),
            (400_000, 10, false),
        ];
        for (offset, len, whole) in cases {
            let got = f.read_span(offset, len);
            let case = format!("{len} bytes at {offset}");
            if whole {
                let at = offset as usize;
                assert_eq!(got.unwrap(), &data[at..at + len], "{case}");
            } else {
                let err = got.expect_err(&case);
                assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{case}");
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
