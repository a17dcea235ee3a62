// SPDX-License-Identifier: MIT OR Apache-2.0
//! A file read at a position kept here: each read is one positioned read (`pread`), and a
//! seek costs no system call. Planning reads a few bytes per video sample at scattered
//! offsets ([`media::demux::mp4::Mp4Demuxer::skeleton`]): a seek and a read each would be
//! twice the system calls.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use media::demux::mp4::{read_nal_heads, MediaIndex, NalHeads};

/// Files with fewer samples have their NAL heads read as planning goes (a thread would cost
/// more than it saves).
const READ_AHEAD_MIN_SAMPLES: usize = 4096;
/// Most threads reading NAL heads at once.
const READ_AHEAD_MAX_THREADS: usize = 4;

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
}

/// The NAL heads of every sample of `index` (made from `file`), read by one thread per core
/// at once, each with its own handle: planning a long file costs one small `pread` per video
/// NAL unit ([`media::demux::mp4::read_nal_heads`]), 18,000 for 10 minutes at 30 fps, and
/// those reads do not depend on one another. `None`: a short file, or one core.
pub(crate) fn read_nal_heads_in_parallel(
    file: &PosFile,
    index: &MediaIndex,
) -> media::Result<Option<NalHeads>> {
    let n = index.samples().len();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(READ_AHEAD_MAX_THREADS);
    if n < READ_AHEAD_MIN_SAMPLES || threads < 2 {
        return Ok(None);
    }
    let mut readers = Vec::with_capacity(threads);
    for _ in 0..threads {
        match file.try_clone() {
            Ok(f) => readers.push(f),
            Err(_) => return Ok(None), // out of descriptors: read as planning goes
        }
    }
    let parts = std::thread::scope(|scope| {
        let runs: Vec<_> = readers
            .into_iter()
            .enumerate()
            .map(|(k, mut reader)| {
                let run = n * k / threads..n * (k + 1) / threads;
                scope.spawn(move || read_nal_heads(&mut reader, index, run))
            })
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
}
