// SPDX-License-Identifier: MIT OR Apache-2.0
//! A file read at a position kept here: each read is one positioned read (`pread`), and a
//! seek costs no system call. Planning reads a few bytes per video sample at scattered
//! offsets ([`media::demux::mp4::Mp4Demuxer::skeleton`]): a seek and a read each would be
//! twice the system calls.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, IoSliceMut, Read, Seek, SeekFrom};
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use media::demux::mp4::{HeadParts, NalHeads, NalWalks, ReadAhead};
use rustix::fs::{fadvise, fcntl_getfl, fcntl_setfl, Advice, OFlags};
use rustix::io::{preadv2, Errno, ReadWriteFlags};

/// Files with fewer samples have their NAL heads read by one thread (more would cost more
/// than they save).
const READ_AHEAD_MIN_SAMPLES: usize = 4096;
/// Most threads reading NAL heads at once.
const READ_AHEAD_MAX_THREADS: usize = 4;
/// Samples per part of the NAL heads read ahead: small enough that planning starts soon
/// after the reads, large enough that handing parts over costs nothing (46 parts for 10
/// minutes of 1080p30 with its audio).
const PART_SAMPLES: usize = 1024;
/// How many of the places it reads next a [`HintedFile`] asks the system to read ahead when
/// it finds the file is not in the page cache.
const HINT_AHEAD: usize = 256;
/// How many places past a read that took [`DISK_READ`] the page cache is probed, to tell a
/// read from the disk (the file is not cached there either) from one stalled on a busy machine,
/// beyond what the kernel's own read-ahead of the slow read brought in.
const PROBE_AHEAD: usize = HINT_AHEAD / 2;
/// Bytes read ahead at each place: the page holding a NAL head.
const HINT_BYTES: u64 = 4096;
/// A read that took this long waited for the disk: a cached page (even one whose read starts
/// the kernel's read-ahead of cached pages) is read in a few microseconds.
const DISK_READ: Duration = Duration::from_micros(40);

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

    /// Asks that reads through this file's description (shared by its clones) not update
    /// its access time (`O_NOATIME`): 3.6 % of a plan's CPU went to deciding whether to, over
    /// 18,000 small reads. Only the file's owner may; for others the reads update it as before.
    fn no_atime(&self) {
        if let Ok(flags) = fcntl_getfl(&self.file) {
            let _ = fcntl_setfl(&self.file, flags | OFlags::NOATIME);
        }
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

/// A reader of the NAL heads of every sample of an index of `file` ahead of planning
/// ([`media::demux::mp4::ReadAhead`]), for `samples` samples: planning a long file costs one
/// small `pread` per video NAL unit, 18,000 for 10 minutes at 30 fps, and those reads do not
/// depend on one another. A file of [`READ_AHEAD_MIN_SAMPLES`] samples or more is read in
/// parts of [`PART_SAMPLES`] by one thread per core, each with its own handle, taking every
/// n-th part as soon as the index has it (the index of the rest is made meanwhile), while
/// planning takes the parts in order as they come (the reads and planning overlap); a shorter
/// one (or on one core) is read at once on the planning thread. Each reader is a
/// [`HintedFile`], so a file that is not in the page cache has many disk reads in flight.
/// `None`: no handle or thread left to read with (planning reads as it goes).
pub(crate) fn read_nal_heads_ahead(file: &PosFile, samples: usize) -> Option<Box<dyn ReadAhead>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if samples < READ_AHEAD_MIN_SAMPLES {
        1
    } else {
        cores.min(READ_AHEAD_MAX_THREADS)
    };
    file.no_atime();
    if threads == 1 {
        // Out of descriptors: `None`.
        let file = file.try_clone().ok()?;
        return Some(Box::new(AtOnce { file, walks: None }));
    }
    let (tx, rx) = mpsc::channel();
    let mut shares = Vec::with_capacity(threads);
    for _ in 0..threads {
        // The readers started stop when their share's sender is dropped with `Readers`.
        let f = file.try_clone().ok()?;
        let (share, walks) = mpsc::channel();
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("hlsorigin-nal-heads".into())
            .spawn(move || read_share(f, &walks, &tx))
            .ok()?;
        shares.push(share);
    }
    Some(Box::new(Readers {
        shares,
        given: 0,
        rx,
    }))
}

/// Reads the heads of every sample, given as one part, when planning asks for them.
struct AtOnce {
    file: PosFile,
    walks: Option<NalWalks>,
}

impl ReadAhead for AtOnce {
    fn part_samples(&self) -> usize {
        usize::MAX
    }

    fn walk(&mut self, walks: NalWalks) -> media::Result<()> {
        self.walks = Some(walks);
        Ok(())
    }

    fn heads(self: Box<Self>) -> media::Result<HeadParts> {
        let Some(walks) = self.walks else {
            return Ok(Box::new(std::iter::empty()));
        };
        let heads = walks.read(&mut HintedFile::new(self.file, walks.offsets().collect()))?;
        Ok(Box::new(std::iter::once(Ok(heads))))
    }
}

/// The threads reading parts, each sent its share (part k to thread k mod n) as the index
/// has it.
struct Readers {
    shares: Vec<Sender<(usize, NalWalks)>>,
    /// Parts given so far.
    given: usize,
    rx: Receiver<(usize, Part)>,
}

impl ReadAhead for Readers {
    fn part_samples(&self) -> usize {
        PART_SAMPLES
    }

    fn walk(&mut self, walks: NalWalks) -> media::Result<()> {
        let k = self.given;
        self.given += 1;
        if let Some(share) = self.shares.get(k % self.shares.len()) {
            // A reader that ended (a part failed) drops the part; planning sees the failure.
            let _ = share.send((k, walks));
        }
        Ok(())
    }

    fn heads(self: Box<Self>) -> media::Result<HeadParts> {
        // No more parts: each reader ends after its last one.
        drop(self.shares);
        Ok(Box::new(InOrder {
            rx: self.rx,
            pending: BTreeMap::new(),
            next: 0,
            parts: self.given,
        }))
    }
}

/// Reads the parts sent on `share` (ascending) from `file` and sends each, numbered, until one
/// fails, no more come, or no one listens any more. Whatever is queued is taken before each
/// part, so that the places hinted to the system reach past the part being read.
fn read_share(file: PosFile, share: &Receiver<(usize, NalWalks)>, tx: &Sender<(usize, Part)>) {
    let mut reader = HintedFile::new(file, Vec::new());
    let mut queued: VecDeque<(usize, NalWalks)> = VecDeque::new();
    loop {
        let waited = if queued.is_empty() {
            let Ok(next) = share.recv() else {
                return;
            };
            Some(next)
        } else {
            None
        };
        for (k, walks) in waited.into_iter().chain(share.try_iter()) {
            reader.places.extend(walks.offsets());
            queued.push_back((k, walks));
        }
        let Some((k, walks)) = queued.pop_front() else {
            return;
        };
        let part = walks.read(&mut reader);
        let failed = part.is_err();
        if tx.send((k, part)).is_err() || failed {
            return;
        }
    }
}

type Part = media::Result<NalHeads>;

/// The parts read ahead, in order, whichever thread read them.
struct InOrder {
    rx: Receiver<(usize, Part)>,
    /// Parts received ahead of the next one.
    pending: BTreeMap<usize, Part>,
    next: usize,
    parts: usize,
}

impl Iterator for InOrder {
    type Item = Part;

    fn next(&mut self) -> Option<Part> {
        if self.next >= self.parts {
            return None;
        }
        loop {
            if let Some(part) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(part);
            }
            match self.rx.recv() {
                Ok((k, part)) => {
                    self.pending.insert(k, part);
                }
                Err(_) => {
                    // Every reader ended without this part: one panicked.
                    self.next = self.parts;
                    let lost = media::Error::mp4("a thread reading NAL heads failed", 0);
                    return Some(Err(lost));
                }
            }
        }
    }
}

/// A [`PosFile`] for reads at known places, in order, that keeps many disk reads in flight
/// when the file is not in the page cache. Each read is a plain `pread`, timed: one that took
/// [`DISK_READ`] or longer may have waited for the disk, and if the place [`PROBE_AHEAD`]
/// places on is not cached either (a read of it with `RWF_NOWAIT` would wait), the next
/// [`HINT_AHEAD`] places are handed to the system to read ahead
/// (`posix_fadvise(POSIX_FADV_WILLNEED)`, which starts the reads and returns). Read one after
/// another, 18,000 scattered pages cost a disk round trip each. A cached file costs one
/// system call per read (a `preadv2` with `RWF_NOWAIT` first, as before, cost 12 % more per
/// read than `pread` on this VM: 0.96 against 0.84 µs), and a read stalled on a busy machine
/// costs one probe, no hints.
struct HintedFile {
    file: PosFile,
    /// The places to be read (ascending within a run of the index, as samples are stored).
    places: Vec<u64>,
    /// `places[..hinted]` were handed to the system.
    hinted: usize,
}

impl HintedFile {
    fn new(file: PosFile, places: Vec<u64>) -> Self {
        HintedFile {
            file,
            places,
            hinted: 0,
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

    /// Whether the place [`PROBE_AHEAD`] places after `pos` (or the last one) is in the page
    /// cache: a one-byte read that does not wait for the disk. Where that cannot be asked
    /// (old kernel, some filesystems), no. Past the last place, yes: nothing is left to hint.
    fn cached_ahead(&self, pos: u64) -> bool {
        let at = self.places.partition_point(|&p| p <= pos);
        let Some(&place) = self
            .places
            .get(at + PROBE_AHEAD)
            .or_else(|| self.places.get(at..).and_then(<[u64]>::last))
        else {
            return true;
        };
        let mut probe = [0u8; 1];
        let nowait = ReadWriteFlags::NOWAIT;
        matches!(
            preadv2(
                &self.file.file,
                &mut [IoSliceMut::new(&mut probe)],
                place,
                nowait
            ),
            Ok(1)
        )
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
        let started = Instant::now();
        let n = self.file.read(buf)?;
        if started.elapsed() >= DISK_READ && !self.cached_ahead(pos) {
            self.hint_from(pos);
        }
        Ok(n)
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
    /// right at every place, and the reader handed the places ahead to the system once a read
    /// waited for the disk (when a read of a page that is not cached takes as long here: a
    /// disk that answers within [`DISK_READ`] needs no hints); a cached one is read right
    /// without hints, even when a read is slow. On a filesystem whose pages cannot be dropped
    /// (tmpfs) only the bytes are checked.
    #[test]
    fn hinted_reads_give_the_bytes_cached_or_not() {
        let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
        let path = dir.join(format!("hlsorigin-hinted-{}", std::process::id()));
        let pages = 600u64;
        // One page more than the places: read first, to time a read from the disk.
        let data: Vec<u8> = (0..(pages + 1) * HINT_BYTES)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let places: Vec<u64> = (0..pages).map(|p| p * HINT_BYTES + 100).collect();
        // Cached first: a read the busy machine stalls probes the places ahead, finds them
        // cached (the file as written carries no read-ahead marks, which would fail the
        // probe), and hints nothing.
        for drop_cache in [false, true] {
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
            let started = Instant::now();
            file.read_at(&mut probe, pages * HINT_BYTES).unwrap();
            let slow_disk = cold && started.elapsed() >= DISK_READ;
            let mut reader = HintedFile::new(PosFile::new(file), places.clone());
            for &place in &places {
                let mut six = [0u8; 6];
                reader.seek(SeekFrom::Start(place)).unwrap();
                reader.read_exact(&mut six).unwrap();
                let at = place as usize;
                assert_eq!(&six, &data[at..at + 6], "at {place}");
            }
            if !cold {
                assert_eq!(
                    reader.hinted, 0,
                    "drop_cache {drop_cache}: cached, no hints"
                );
            }
            if slow_disk {
                assert!(reader.hinted >= HINT_AHEAD.min(places.len()));
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// A file long enough to be read ahead by several threads (64×64 at 60 fps with AAC, 75 s:
    /// 4,500 video and 3,230 audio samples); `None` without ffmpeg.
    fn long_mp4() -> Option<std::path::PathBuf> {
        let dir = format!("hlsorigin-ahead-{}", std::process::id());
        let args = [
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x64:rate=60:duration=75",
            ]
            .as_slice(),
            &["-f", "lavfi", "-i", "sine=frequency=440:duration=75"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-g", "120"],
            &["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"],
        ];
        crate::jit::tests::ffmpeg(&dir, "long.mp4", &args.concat())
    }

    fn demuxer(path: &std::path::Path) -> media::demux::mp4::Mp4Demuxer<File> {
        let len = std::fs::metadata(path).unwrap().len();
        let opts = media::demux::mp4::Mp4Options::default();
        media::demux::mp4::Mp4Demuxer::open(File::open(path).unwrap(), len, opts).unwrap()
    }

    /// The heads of `index`'s samples read ahead from `file`, part by part as planning takes
    /// them, given the parts as [`media::demux::mp4::Mp4Demuxer::index_walking`] does.
    fn ahead(file: &PosFile, index: &media::demux::mp4::MediaIndex) -> Vec<Part> {
        let n = index.samples().len();
        let mut reader = read_nal_heads_ahead(file, n).expect("read ahead");
        let part = reader.part_samples().min(n).max(1);
        for start in (0..n).step_by(part) {
            let walks = NalWalks::new(index, start..(start + part).min(n)).unwrap();
            reader.walk(walks).unwrap();
        }
        reader.heads().unwrap().collect()
    }

    /// The parts read ahead on several threads come in order and cover every sample once; a
    /// plan made from them (planning as they come) equals one that reads as it goes, for TS
    /// and fMP4; a part that cannot be read (the file cut short) fails the plan.
    #[test]
    fn heads_read_ahead_in_parts_plan_as_reading_as_it_goes() {
        use media::package::jit::{plan, plan_with};
        use media::package::{Format, PackageOptions};
        let Some(path) = long_mp4() else {
            return;
        };
        let index = demuxer(&path).index().unwrap();
        let n = index.samples().len();
        assert!(
            n >= READ_AHEAD_MIN_SAMPLES,
            "{n} samples: read by one thread"
        );
        let pos = PosFile::new(File::open(&path).unwrap());
        let parts: Vec<NalHeads> = ahead(&pos, &index)
            .into_iter()
            .collect::<media::Result<_>>()
            .unwrap();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores > 1 {
            assert_eq!(parts.len(), n.div_ceil(PART_SAMPLES));
        }
        for i in 0..n {
            let covering = parts.iter().filter(|p| p.covers(i)).count();
            assert_eq!(covering, 1, "sample {i}");
        }
        for format in [Format::Ts, Format::Fmp4] {
            let opts = PackageOptions {
                format,
                segment_duration: 4.0,
                run_id: "v".into(),
                ..Default::default()
            };
            let (_, want) = plan(demuxer(&path), &opts).unwrap();
            let (_, got) =
                plan_with(demuxer(&path), &opts, |n| read_nal_heads_ahead(&pos, n)).unwrap();
            let names: Vec<_> = want.object_names().collect();
            assert!(names.contains(&"master.m3u8"), "{names:?}");
            for name in names {
                assert_eq!(got.object(name), want.object(name), "{format:?} {name}");
            }
            let segments = want.segment_names().count();
            assert!(segments >= 18, "{format:?}: {segments} segments");
            for seg in 0..segments {
                let size = |p: &media::package::jit::JitPlan| p.segment_size(seg);
                assert_eq!(size(&got), size(&want), "{format:?} segment {seg}");
            }
        }
        // Cut short before the last sample: the part holding it fails, and the plan with it.
        let last = index.samples().iter().map(|s| s.offset).max().unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(last)
            .unwrap();
        let cut = PosFile::new(File::open(&path).unwrap());
        let got = ahead(&cut, &index);
        assert!(got.iter().any(Result::is_err), "a part fails");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
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
