// SPDX-License-Identifier: MIT OR Apache-2.0
//! Payload reads. The file is read a region at a time (1 MiB, or one sample if larger), and
//! every track whose samples lie in a region takes them as slices of it.
//!
//! Inputs interleave their tracks finely (ffmpeg writes audio and video a frame or so apart):
//! reading per track, or per run of one track's contiguous samples, meant one read system call
//! per sample — 36,000 for ten minutes of 1080p30 — and read more often than it copied. Inputs
//! that interleave coarsely (a video chunk of several MiB, then its audio) keep one region per
//! place the tracks read from: the few regions read last stay (least recently used goes
//! first), a new region stops where a held one begins, and a sample that begins at the end of
//! a held region takes those bytes from it, so no byte is read twice. A sample larger than a
//! region is read on its own and not kept. Region buffers are reused once no sample refers to
//! them, so they all have the same capacity. The reader only seeks when a read does not start
//! where the previous ended.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};

use bytes::{Bytes, BytesMut};

/// Bytes read at once (a larger sample is read whole).
const REGION: u64 = 1 << 20;
/// Regions held for tracks that read from different places.
const KEEP: usize = 4;

/// The underlying reader and its position when known.
pub(super) struct Positioned<R> {
    inner: R,
    pos: Option<u64>,
    len: u64,
}

impl<R: Read + Seek> Positioned<R> {
    /// `len`: the length of the input.
    pub fn new(inner: R, len: u64) -> Self {
        Positioned {
            inner,
            pos: None,
            len,
        }
    }

    /// The underlying reader; its position is forgotten (the caller may move it).
    pub fn inner_mut(&mut self) -> &mut R {
        self.pos = None;
        &mut self.inner
    }

    /// Fills `buf` with the `len` bytes at `offset`: `known`, the first of them already read,
    /// copied in; the rest read from the input.
    fn read_at(
        &mut self,
        offset: u64,
        len: u64,
        known: &[u8],
        buf: &mut BytesMut,
    ) -> std::io::Result<()> {
        let n = usize::try_from(len).map_err(|_| std::io::Error::other("read too large"))?;
        let skip = known.len().min(n);
        let from = offset.saturating_add(skip as u64);
        if self.pos != Some(from) {
            self.pos = None;
            self.inner.seek(SeekFrom::Start(from))?;
        }
        self.pos = None;
        if buf.capacity() < n {
            *buf = zeroed(n)?;
        }
        // Zero-fills only what a recycled buffer did not have already.
        buf.resize(n, 0);
        let (head, rest) = buf.split_at_mut(skip);
        head.copy_from_slice(known.get(..skip).unwrap_or_default());
        self.inner.read_exact(rest)?;
        self.pos = offset.checked_add(len);
        Ok(())
    }
}

/// A buffer of `n` zero bytes, allocated fallibly: a damaged index can name a sample of
/// gigabytes.
fn zeroed(n: usize) -> std::io::Result<BytesMut> {
    let mut fresh = Vec::new();
    fresh
        .try_reserve_exact(n)
        .map_err(|_| std::io::Error::other("cannot allocate the read buffer"))?;
    fresh.resize(n, 0);
    Ok(Bytes::from(fresh)
        .try_into_mut()
        .unwrap_or_else(|b| BytesMut::from(&b[..])))
}

/// `data` holds the file's bytes from `offset` on.
struct Region {
    offset: u64,
    data: Bytes,
}

impl Region {
    /// The bytes `offset..offset + size` if this region holds them all.
    fn get(&self, offset: u64, size: u32) -> Option<Bytes> {
        let start = usize::try_from(offset.checked_sub(self.offset)?).ok()?;
        let end = start.checked_add(size as usize)?;
        (end <= self.data.len()).then(|| self.data.slice(start..end))
    }
}

/// The regions read last, least recently used first.
#[derive(Default)]
pub(super) struct Regions {
    held: VecDeque<Region>,
    /// Buffers of regions no longer held, some still referenced by samples: each is read into
    /// again once the last sample of it is dropped (no allocation, no zero-filling).
    spare: VecDeque<Bytes>,
}

/// Most buffers kept for reuse.
const SPARE: usize = 64;

impl Regions {
    /// The `size` bytes at file offset `offset`, reading a region first when none held has
    /// them.
    pub fn sample<R: Read + Seek>(
        &mut self,
        reader: &mut Positioned<R>,
        offset: u64,
        size: u32,
    ) -> std::io::Result<Bytes> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        if let Some(i) = self.held.iter().position(|r| r.get(offset, size).is_some()) {
            let region = self.held.remove(i).expect("index from position");
            let bytes = region.get(offset, size).expect("checked above");
            self.held.push_back(region);
            return Ok(bytes);
        }
        // The sample may begin at the end of a held region: those bytes are copied from it,
        // only the rest is read (no byte is read from the input twice).
        let known = self
            .held
            .iter()
            .find_map(|r| {
                let start = usize::try_from(offset.checked_sub(r.offset)?).ok()?;
                (start < r.data.len()).then(|| r.data.slice(start..))
            })
            .unwrap_or_default();
        let size64 = u64::from(size);
        if size64 > REGION {
            // Read on its own, neither held nor kept for reuse: only this sample is in it.
            let mut buf = BytesMut::new();
            reader.read_at(offset, size64, &known, &mut buf)?;
            return Ok(buf.freeze());
        }
        let to_end = reader.len.saturating_sub(offset);
        // Not into a region already held (its bytes would be read twice).
        let to_held = self
            .held
            .iter()
            .filter(|r| r.offset > offset)
            .map(|r| r.offset - offset)
            .min()
            .unwrap_or(u64::MAX);
        let len = REGION.min(to_end).min(to_held).max(size64);
        let mut buf = self.recycled()?;
        reader.read_at(offset, len, &known, &mut buf)?;
        let region = Region {
            offset,
            data: buf.freeze(),
        };
        let bytes = region
            .get(offset, size)
            .ok_or_else(|| std::io::Error::other("sample outside its read region"))?;
        if self.held.len() >= KEEP {
            if let Some(old) = self.held.pop_front() {
                if self.spare.len() >= SPARE {
                    self.spare.pop_front();
                }
                self.spare.push_back(old.data);
            }
        }
        self.held.push_back(region);
        Ok(bytes)
    }

    /// A region buffer (capacity [`REGION`]) that no sample uses any more, or a new one.
    fn recycled(&mut self) -> std::io::Result<BytesMut> {
        let free = self.spare.iter().position(Bytes::is_unique);
        if let Some(buf) = free
            .and_then(|i| self.spare.remove(i))
            .and_then(|b| b.try_into_mut().ok())
        {
            return Ok(buf);
        }
        zeroed(REGION as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Counts the bytes read through it.
    struct Counting {
        inner: Cursor<Vec<u8>>,
        read: u64,
        reads: u32,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            self.reads += 1;
            Ok(n)
        }
    }

    impl Seek for Counting {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(to)
        }
    }

    fn file(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn slices_match_the_file_and_no_byte_is_read_twice() {
        const M: u64 = 1 << 20;
        let data = file(12 * M as usize);
        // (offset, size) in the order a decode-time merge asks for them.
        let layouts: [(&str, Vec<(u64, u32)>); 5] = [
            // Fine interleave: video and audio frames alternate.
            (
                "fine",
                (0..300u64)
                    .flat_map(|i| [(i * 30_000, 29_000), (i * 30_000 + 29_000, 1_000)])
                    .collect(),
            ),
            // Coarse: 3 MiB of video, then that stretch's audio; the merge alternates.
            (
                "coarse",
                (0..3u64)
                    .flat_map(|c| {
                        (0..100u64).flat_map(move |i| {
                            [
                                (c * 4 * M + i * 30_000, 30_000),
                                (c * 4 * M + 3 * M + i * 9_000, 9_000),
                            ]
                        })
                    })
                    .collect(),
            ),
            // A sample larger than a region, and one at the very end.
            ("large", vec![(5, 3 * M as u32), (12 * M - 10, 10)]),
            // Frames larger than a region, each followed by 1 KB of audio: the audio's region
            // runs into the next frame, whose read takes those bytes from it.
            (
                "big frames",
                (0..7u64)
                    .flat_map(|i| {
                        let at = i * (1_500_000 + 1_000);
                        [(at, 1_500_000), (at + 1_500_000, 1_000)]
                    })
                    .collect(),
            ),
            // Frames of 700 KB: samples straddle region ends.
            (
                "straddling",
                (0..15u64)
                    .flat_map(|i| {
                        let at = i * 701_000;
                        [(at, 700_000), (at + 700_000, 1_000)]
                    })
                    .collect(),
            ),
        ];
        for (name, samples) in layouts {
            let mut reader = Positioned::new(
                Counting {
                    inner: Cursor::new(data.clone()),
                    read: 0,
                    reads: 0,
                },
                data.len() as u64,
            );
            let mut regions = Regions::default();
            let mut payload = 0u64;
            for &(offset, size) in &samples {
                let got = regions.sample(&mut reader, offset, size).unwrap();
                let want = &data[offset as usize..offset as usize + size as usize];
                assert!(got == want, "{name}: sample at {offset}");
                payload += u64::from(size);
            }
            // Nothing larger than a region is kept, and kept buffers are reused whole.
            for data in regions.held.iter().map(|r| &r.data).chain(&regions.spare) {
                assert!(
                    data.len() as u64 <= REGION,
                    "{name}: a buffer of {}",
                    data.len()
                );
            }
            let (read, reads) = (reader.inner.read, reader.inner.reads);
            assert!(
                read <= payload + REGION,
                "{name}: read {read} bytes for {payload} bytes of samples"
            );
            assert!(
                u64::from(reads) <= 2 * (payload / REGION + 2),
                "{name}: {reads} reads for {} samples",
                samples.len()
            );
        }
    }

    /// Buffers come back with the capacity of a region once no sample holds them.
    #[test]
    fn buffers_are_recycled_whole() {
        const M: u64 = 1 << 20;
        let data = file(6 * M as usize);
        let mut reader = Positioned::new(Cursor::new(data.clone()), data.len() as u64);
        let mut regions = Regions::default();
        for i in 0..4u64 {
            let got = regions.sample(&mut reader, i * M, 1000).unwrap();
            assert!(got == data[(i * M) as usize..(i * M) as usize + 1000]);
        }
        assert_eq!(regions.held.len(), KEEP);
        // A fifth region evicts the first, whose sample is gone: a sixth reads into it.
        let first = regions.held.front().map(|r| r.data.as_ptr()).unwrap();
        let _ = regions.sample(&mut reader, 4 * M, 10).unwrap();
        assert!(regions.held.iter().all(|r| r.data.as_ptr() != first));
        let got = regions.sample(&mut reader, 5 * M, 10).unwrap();
        assert!(got == data[(5 * M) as usize..(5 * M) as usize + 10]);
        let reused = regions.held.back().map(|r| r.data.as_ptr()).unwrap();
        assert_eq!(reused, first, "the evicted buffer is read into again");
        // A buffer still referenced by a sample is not, however many regions follow.
        let kept = regions.sample(&mut reader, 10, 10).unwrap();
        for round in 0..3u64 {
            for i in 1..6u64 {
                let at = i * M + 100 * round + 20;
                let got = regions.sample(&mut reader, at, 10).unwrap();
                assert!(got == data[at as usize..at as usize + 10]);
            }
        }
        assert!(kept == data[10..20], "the kept sample's bytes are intact");
        let buf = regions.recycled().unwrap();
        assert!(buf.capacity() >= REGION as usize, "{}", buf.capacity());
    }

    #[test]
    fn a_sample_past_the_end_is_an_error() {
        let data = file(1000);
        let mut reader = Positioned::new(Cursor::new(data), 1000);
        let mut regions = Regions::default();
        assert!(regions.sample(&mut reader, 990, 20).is_err());
        assert!(regions.sample(&mut reader, 990, 10).is_ok());
    }
}
