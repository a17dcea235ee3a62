// SPDX-License-Identifier: MIT OR Apache-2.0
//! An input file reader that keeps the kernel reading ahead of it.
//!
//! Packaging a file that is not in the page cache (a fresh upload, a file larger than memory)
//! is bound by the disk. The kernel's own readahead is small and starts over whenever the
//! demuxer seeks between tracks, so each read waits for the disk while nothing is packaged.
//! `posix_fadvise(WILLNEED)` on a window ahead of the read position starts those disk reads
//! early and in the background: reading and packaging overlap, as in `cp`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes asked for ahead of the read position (refreshed when half of it is consumed).
const WINDOW: u64 = 32 << 20;

pub struct ReadAhead {
    file: File,
    pos: u64,
    /// The range already advised: `start..end`.
    start: u64,
    end: u64,
}

impl ReadAhead {
    pub fn new(file: File) -> Self {
        ReadAhead {
            file,
            pos: 0,
            start: 0,
            end: 0,
        }
    }

    fn advise(&mut self) {
        if !(self.start..=self.end).contains(&self.pos) {
            // A seek away from the advised range (the index at the end of the file, a jump
            // between tracks): start a new window here.
            (self.start, self.end) = (self.pos, self.pos);
        }
        if self.end.saturating_sub(self.pos) > WINDOW / 2 {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            let len = std::num::NonZeroU64::new(WINDOW);
            // Only a hint: a filesystem that ignores it just reads as before.
            let _ = rustix::fs::fadvise(&self.file, self.end, len, rustix::fs::Advice::WillNeed);
        }
        self.end = self.end.saturating_add(WINDOW);
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.advise();
        let n = self.file.read(buf)?;
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for ReadAhead {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_seeks_like_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.path().join("f"), &data).unwrap();
        let mut r = ReadAhead::new(File::open(dir.path().join("f")).unwrap());
        let mut buf = vec![0u8; 1000];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(buf, data[..1000]);
        assert_eq!(r.seek(SeekFrom::Start(90_000)).unwrap(), 90_000);
        r.read_exact(&mut buf).unwrap();
        assert_eq!(buf, data[90_000..91_000]);
        assert_eq!(r.seek(SeekFrom::Current(-2000)).unwrap(), 89_000);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[89_000..]);
        assert_eq!(r.stream_position().unwrap(), 100_000);
        assert!(
            (r.start..=r.end).contains(&r.pos),
            "window follows the seeks"
        );
    }
}
