// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time packaging: the *plan* of a rendition (its playlists, init segment, and for
//! every media segment the samples it holds and the muxer's state before it), and the
//! *render* of one segment from the bytes of its samples — the same output as [`package`]
//! (super::package) writes, byte for byte, with `run_id` as the names' version.
//!
//! The plan is made by running `package` itself over the file with a store that keeps the
//! playlists and the init segment and only measures the media segments, watching which samples
//! each piece of a segment gets ([`super::render`]'s observer); a segment is later rendered by
//! the same muxer code from a copy of the muxer taken before it. So the cuts, the tags, the
//! measured BANDWIDTH (RFC 8216bis 4.4.6.2: peak of the real segment sizes) and the segment
//! bytes cannot drift from `package`. The packager is fed *skeleton* samples
//! ([`Mp4Demuxer::skeleton`]): each sample's size from the sample tables, and of its payload
//! only what the sizes and cuts depend on — each video NAL unit's length and header (MPEG-TS:
//! AUDs, in-band parameter sets, start codes; fMP4: whether the NAL units are canonical;
//! HEVC: picture kinds) —, a few bytes per NAL unit instead of the media data. A codec whose
//! payload the packager reads otherwise ([`skeleton_codec`]) is planned from the real
//! samples, read once sequentially as `package` reads them.
//!
//! Encryption (`package --encrypt`) is planned the same way: the plan keeps, with the muxer's
//! state, the encryption's before each segment (cbcs: keys and each track's subsample
//! splitter; SAMPLE-AES: keys; AES-128: where the segment's I-frame entries start), and a
//! segment is encrypted as `package` encrypts it. cbcs and AES-128 keep every size but
//! padding and `senc`, so their plans encrypt nothing; SAMPLE-AES re-inserts emulation
//! prevention after encrypting, so its sizes depend on the ciphertext and its plan reads and
//! encrypts the samples. AES-128's I-frame file is rendered per range ([`iframes`]).
//!
//! Sans-IO: [`JitPlan::spans`] says which byte ranges of the file a segment needs,
//! [`JitPlan::render`] takes them.

use std::io::{self, Read, Seek};
use std::ops::Range;

use bytes::Bytes;

use super::ladder::Select;
use super::render::{Mux, SegmentCrypto};
use super::{
    render_rendition, session_keys, write_master, Format, PackageOptions, PackageSummary, Rendered,
    StreamStore,
};
use crate::crypto::cbc::encrypt_owned;
use crate::crypto::{sequence_iv, Method};
use crate::demux::mp4::{
    skeleton_codec, HeadParts, MediaIndex, Mp4Demuxer, NalHeads, ReadAhead, SkeletonBuffers,
};
use crate::sample::{CodecConfig, Demuxer, Sample, TrackInfo};
use crate::segmenter::Segment;
use crate::store::Store;
use crate::{Error, Result};

#[path = "jit_iframes.rs"]
mod iframes;

/// Bytes between two samples of a segment that are read rather than split into two reads.
const SPAN_GAP: u64 = 64 * 1024;

/// A rendition planned from a file's index.
#[derive(Debug, Clone)]
pub struct JitPlan {
    /// Playlists and the init segment, by name, as `package` writes them.
    pub(super) objects: Vec<(String, Bytes)>,
    segments: Vec<PlannedSegment>,
    /// AES-128: the I-frame file (each keyframe encrypted on its own), name and length.
    iframe_file: Option<(String, u64)>,
    pub summary: PackageSummary,
    /// A rendition of one track of the file (a ladder's, [`super::jit_ladder`]): the index
    /// position of each sample the packager got, in order; the pieces' sample ranges count
    /// these. `None`: every sample of the index, in order.
    positions: Option<Vec<u32>>,
}

#[derive(Debug, Clone)]
struct PlannedSegment {
    name: String,
    size: u64,
    /// The muxer's state before the segment's first piece.
    muxer: Mux,
    /// The sample encryption's state before it (SAMPLE-AES, cbcs).
    crypto: Option<SegmentCrypto>,
    pieces: Vec<PlannedPiece>,
}

/// One piece of a segment (one, unless the segment held more than `max_buffered_bytes`).
#[derive(Debug, Clone)]
struct PlannedPiece {
    /// Indexes into the [`MediaIndex`] samples.
    samples: Range<usize>,
    index: u64,
    start: i64,
    duration: u64,
    timescale: u32,
}

/// A keyframe of a rendered segment: the range of its piece's PAT/PMT when it does not open
/// the piece (MPEG-TS), and its own range.
type KeyframeBytes = (Option<Range<u64>>, Range<u64>);

/// A byte range of the file that a segment needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

/// Indexes the MP4 `demux` and plans its rendition as `package` would with `opts` (single
/// rendition, no single file; encrypted with SAMPLE-AES or cbcs, or clear).
pub fn plan<R: Read + Seek>(
    demux: Mp4Demuxer<R>,
    opts: &PackageOptions,
) -> Result<(MediaIndex, JitPlan)> {
    plan_with(demux, opts, |_| None)
}

/// [`plan`], with the NAL heads of all the index's samples read ahead, in parts, by what
/// `read_ahead` starts (given the number of samples) when the plan is made of skeletons:
/// several readers of the file at once, for instance, each started on the first part it is
/// given while the index is still being made ([`Mp4Demuxer::index_walking`]), and planning
/// each part as soon as it is read. `None`: each is read as planning reaches it.
pub fn plan_with<R, F>(
    mut demux: Mp4Demuxer<R>,
    opts: &PackageOptions,
    read_ahead: F,
) -> Result<(MediaIndex, JitPlan)>
where
    R: Read + Seek,
    F: FnOnce(usize) -> Option<Box<dyn ReadAhead>>,
{
    check_options(opts)?;
    let mut ahead = if skeleton_plan(demux.tracks(), opts) {
        read_ahead(demux.sample_count())
    } else {
        None
    };
    let index = match ahead.as_mut() {
        Some(ahead) => {
            let part = ahead.part_samples();
            demux.index_walking(part, &mut |walks| ahead.walk(walks))?
        }
        None => demux.index()?,
    };
    let total = index.samples().len();
    let mut recorded = match Skeletons::new(&mut demux, &index, opts) {
        Some(mut skeletons) => {
            skeletons.parts = ahead.map(ReadAhead::heads).transpose()?;
            record(&mut skeletons, Some(total), None, opts, &[])?
        }
        None => record(&mut demux, Some(total), None, opts, &[])?,
    };
    recorded.add_master(opts)?;
    Ok((index, recorded.plan))
}

/// Just-in-time output writes no single file.
pub(super) fn check_options(opts: &PackageOptions) -> Result<()> {
    if opts.single_file {
        return Err(Error::Encryption(
            "just-in-time packaging writes no single file".into(),
        ));
    }
    Ok(())
}

/// One rendition run through `package_rendition` with a recording store.
pub(super) struct Recorded {
    pub rendered: Rendered,
    pub plan: JitPlan,
    /// With `keep`: the fingerprint of each input track the selection dropped (audio only,
    /// [`Select::fingerprint`]), by input track.
    pub fingerprints: Vec<Option<u64>>,
}

impl Recorded {
    /// The master of the single rendition recorded (with the EXT-X-SESSION-KEY tags of `opts`'
    /// encryption), among the plan's objects.
    pub(super) fn add_master(&mut self, opts: &PackageOptions) -> Result<()> {
        let mut store = Recorder::default();
        let keys = session_keys(opts, self.rendered.summary.segments);
        write_master(&mut store, &self.rendered, &keys)?;
        self.plan.objects.extend(store.objects);
        Ok(())
    }
}

/// Plans the rendition `package_rendition` makes of `demux` (all `total` samples of its
/// index, when it has one) cut at `cuts`: of every track, or with `keep`, of that track alone (as a ladder's
/// [`Select`] makes it).
pub(super) fn record(
    demux: &mut dyn Demuxer,
    total: Option<usize>,
    keep: Option<usize>,
    opts: &PackageOptions,
    cuts: &[f64],
) -> Result<Recorded> {
    let mut store = Recorder::default();
    let mut seen: Vec<Seen> = Vec::new();
    let observer = Box::new(
        |piece: &Segment, first: bool, mux: &Mux, crypto: Option<SegmentCrypto>| {
            let shell = piece.clone_shell();
            let state = first.then(|| (mux.clone(), crypto));
            seen.push((first, piece.samples.len(), shell, state));
        },
    );
    let n_tracks = demux.tracks().len();
    let mut counting = Counting {
        inner: demux,
        yielded: 0,
        keep,
        positions: Vec::new(),
    };
    let mut no_progress = |_: super::Progress| {};
    let (rendered, fingerprints) = match keep {
        None => {
            let r = render_rendition(
                &mut counting,
                opts,
                cuts,
                &mut store,
                &mut no_progress,
                Some(observer),
            )?;
            (r, Vec::new())
        }
        Some(track) => {
            let mut sel = Select::new(&mut counting, &[track]);
            let r = render_rendition(
                &mut sel,
                opts,
                cuts,
                &mut store,
                &mut no_progress,
                Some(observer),
            )?;
            (r, (0..n_tracks).map(|t| sel.fingerprint(t)).collect())
        }
    };
    let yielded = counting.yielded;
    if let Some(total) = total.filter(|&t| t != yielded) {
        return Err(Error::mp4(
            format!("the index lists {total} samples but {yielded} were read"),
            0,
        ));
    }
    let (kept, positions) = match keep {
        Some(_) => (counting.positions.len(), Some(counting.positions)),
        None => (yielded, None),
    };
    let segments = assemble(seen, store.sizes, kept)?;
    let plan = JitPlan {
        objects: store.objects,
        segments,
        iframe_file: store.appended.into_iter().next(),
        summary: rendered.summary.clone(),
        positions,
    };
    Ok(Recorded {
        rendered,
        plan,
        fingerprints,
    })
}

/// A piece the observer saw: whether it opens its segment, its sample count, its numbering and
/// timing, and (opening one) the muxer's and the encryption's state before it.
type Seen = (bool, usize, Segment, Option<(Mux, Option<SegmentCrypto>)>);

/// The segments from the pieces seen (in order) and the sizes of the objects written. The
/// samples dropped before the first keyframe are the first `yielded − kept` ones.
fn assemble(
    seen: Vec<Seen>,
    sizes: Vec<(String, u64)>,
    yielded: usize,
) -> Result<Vec<PlannedSegment>> {
    let kept: usize = seen.iter().map(|s| s.1).sum();
    let mut next = yielded.saturating_sub(kept);
    let mut sizes = sizes.into_iter();
    let mut segments: Vec<PlannedSegment> = Vec::new();
    for (first, n, shell, mux) in seen {
        let piece = PlannedPiece {
            samples: next..next + n,
            index: shell.index,
            start: shell.start,
            duration: shell.duration,
            timescale: shell.timescale,
        };
        next += n;
        match (first, mux, segments.last_mut()) {
            (true, Some((muxer, crypto)), _) => {
                let (name, size) = sizes
                    .next()
                    .ok_or_else(|| Error::mp4("a segment without its object", 0))?;
                segments.push(PlannedSegment {
                    name,
                    size,
                    muxer,
                    crypto,
                    pieces: vec![piece],
                });
            }
            (false, _, Some(last)) => last.pieces.push(piece),
            _ => return Err(Error::mp4("a segment piece without its segment", 0)),
        }
    }
    Ok(segments)
}

impl Segment {
    /// This segment's numbering and timing, without its samples.
    fn clone_shell(&self) -> Segment {
        Segment {
            index: self.index,
            samples: Vec::new(),
            start: self.start,
            duration: self.duration,
            timescale: self.timescale,
        }
    }
}

impl JitPlan {
    /// A playlist or the init segment, by name (`master.m3u8`, `stream.m3u8`, …).
    pub fn object(&self, name: &str) -> Option<&Bytes> {
        self.objects.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    /// The media segment named `name`, as an index for [`Self::spans`] and [`Self::render`].
    pub fn segment(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.name == name)
    }

    /// The names of the playlists and the init segment.
    pub fn object_names(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|(n, _)| n.as_str())
    }

    /// The names of the media segments, in order.
    pub fn segment_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.name.as_str())
    }

    /// The size of media segment `seg` (what [`Self::render`] returns).
    pub fn segment_size(&self, seg: usize) -> Option<u64> {
        self.segments.get(seg).map(|s| s.size)
    }

    /// Heap bytes held, roughly (for a cache's bound).
    pub fn heap_bytes(&self) -> usize {
        let objects: usize = self.objects.iter().map(|(n, b)| n.len() + b.len()).sum();
        let per_segment = std::mem::size_of::<PlannedSegment>() + 2048;
        let positions = self.positions.as_ref().map_or(0, |p| p.capacity() * 4);
        objects + self.segments.len() * per_segment + positions
    }

    /// The index position of the `i`th sample the packager got.
    fn position(&self, i: usize) -> usize {
        match &self.positions {
            Some(p) => p.get(i).map_or(usize::MAX, |&x| x as usize),
            None => i,
        }
    }

    /// The byte ranges of the file that segment `seg` needs, in file order; samples less
    /// than [`SPAN_GAP`] apart share one range.
    pub fn spans(&self, index: &MediaIndex, seg: usize) -> Vec<Span> {
        let Some(s) = self.segments.get(seg) else {
            return Vec::new();
        };
        let mut ranges: Vec<(u64, u64)> = s
            .pieces
            .iter()
            .flat_map(|p| p.samples.clone())
            .filter_map(|i| index.samples().get(self.position(i)))
            .filter(|r| r.size > 0)
            .map(|r| (r.offset, r.offset.saturating_add(u64::from(r.size))))
            .collect();
        ranges.sort_unstable();
        let mut spans: Vec<Span> = Vec::new();
        for (start, end) in ranges {
            match spans.last_mut() {
                Some(last) if start <= last.offset + last.len + SPAN_GAP => {
                    let end = end.max(last.offset + last.len);
                    last.len = end - last.offset;
                }
                _ => spans.push(Span {
                    offset: start,
                    len: end - start,
                }),
            }
        }
        spans
    }

    /// Renders media segment `seg` from `read`, the bytes of each of [`Self::spans`] in order.
    pub fn render(
        &self,
        index: &MediaIndex,
        seg: usize,
        read: &[(Span, Bytes)],
    ) -> Result<Vec<u8>> {
        self.render_with(seg, &mut |i| self.read_sample(index, i, read))
    }

    /// The `i`th sample the packager got, from the bytes read.
    fn read_sample(&self, index: &MediaIndex, i: usize, read: &[(Span, Bytes)]) -> Result<Sample> {
        let mut s = sample(index, self.position(i), read)?;
        if self.positions.is_some() {
            // The selection's one track, renumbered as [`Select`] does.
            s.track = 0;
        }
        Ok(s)
    }

    /// The samples of media segment `seg`: their numbers in the order the packager got them.
    pub fn sample_range(&self, seg: usize) -> Option<Range<usize>> {
        let s = self.segments.get(seg)?;
        Some(s.pieces.first()?.samples.start..s.pieces.last()?.samples.end)
    }

    /// Renders media segment `seg`, `fetch` giving each of its samples by number
    /// ([`Self::sample_range`]), in order.
    pub fn render_with(
        &self,
        seg: usize,
        fetch: &mut dyn FnMut(usize) -> Result<Sample>,
    ) -> Result<Vec<u8>> {
        let s = self
            .segments
            .get(seg)
            .ok_or_else(|| Error::mp4(format!("no segment {seg}"), 0))?;
        let mut bytes = self.render_pieces(s, fetch, None)?;
        if let Some(SegmentCrypto::Aes(enc, _)) = &s.crypto {
            // RFC 8216 5.2: the whole segment, key by media sequence number, IV = that number.
            let msn = s.pieces.first().map_or(0, |p| p.index);
            bytes = encrypt_owned(&enc.key(enc.key_index(msn)), &sequence_iv(msn), bytes);
        }
        if bytes.len() as u64 != s.size {
            return Err(Error::mp4(
                format!(
                    "{}: rendered {} bytes, the plan measured {} (file changed?)",
                    s.name,
                    bytes.len(),
                    s.size
                ),
                0,
            ));
        }
        Ok(bytes)
    }

    /// The clear bytes of segment `s`; with `keys`, each keyframe's range in them, after the
    /// range of its piece's PAT/PMT when the keyframe does not open the piece (MPEG-TS).
    fn render_pieces(
        &self,
        s: &PlannedSegment,
        fetch: &mut dyn FnMut(usize) -> Result<Sample>,
        mut keys: Option<&mut Vec<KeyframeBytes>>,
    ) -> Result<Vec<u8>> {
        let mut muxer = s.muxer.clone();
        let mut crypto = s.crypto.clone();
        let mut out = Collect::default();
        let mut buf = Vec::new();
        for (i, p) in s.pieces.iter().enumerate() {
            let samples = p
                .samples
                .clone()
                .map(&mut *fetch)
                .collect::<Result<Vec<Sample>>>()?;
            let mut piece = Segment {
                index: p.index,
                samples,
                start: p.start,
                duration: p.duration,
                timescale: p.timescale,
            };
            let first = i == 0;
            if let Some(c) = &mut crypto {
                c.encrypt_piece(&mut piece, first)?;
            }
            if piece.samples.is_empty() && !first {
                continue;
            }
            let at = out.bytes.len() as u64;
            muxer.write_piece(&piece, first, &s.name, &mut out, &mut buf)?;
            if let Some(keys) = keys.as_deref_mut() {
                let psi = match &muxer {
                    Mux::Ts(m) => Some(m.psi_len()),
                    Mux::Fmp4(_) => None,
                };
                for k in muxer.as_dyn().keyframes() {
                    let start = at + k.offset;
                    let psi = psi.filter(|_| k.offset != 0).map(|len| at..at + len);
                    keys.push((psi, start..start + k.length));
                }
            }
        }
        Ok(out.bytes)
    }
}

/// Sample `i` of `index`, its bytes sliced out of the span that holds them.
fn sample(index: &MediaIndex, i: usize, read: &[(Span, Bytes)]) -> Result<Sample> {
    let r = index
        .samples()
        .get(i)
        .ok_or_else(|| Error::mp4(format!("no sample {i} in the index"), 0))?;
    let data = if r.size == 0 {
        Bytes::new()
    } else {
        let end = r.offset.saturating_add(u64::from(r.size));
        read.iter()
            .find(|(s, _)| s.offset <= r.offset && end <= s.offset + s.len)
            .and_then(|(s, b)| {
                let from = usize::try_from(r.offset - s.offset).ok()?;
                let to = usize::try_from(end - s.offset).ok()?;
                (to <= b.len()).then(|| b.slice(from..to))
            })
            .ok_or_else(|| {
                Error::mp4(
                    format!("sample {i} ({} bytes) not in the bytes read", r.size),
                    r.offset,
                )
            })?
    };
    index.sample(i, data)
}

/// The index's samples as skeletons ([`Mp4Demuxer::skeleton`]): what the packager needs of
/// them to cut and measure every segment, read a few bytes per NAL unit instead of the whole
/// media data.
struct Skeletons<'a, R: Read + Seek> {
    demux: &'a mut Mp4Demuxer<R>,
    index: &'a MediaIndex,
    next: usize,
    buffers: SkeletonBuffers,
    /// Whether the consumers read video NAL units (MPEG-TS, HEVC), not only their lengths.
    structure: bool,
    /// The NAL heads of every sample in parts, when read ahead.
    parts: Option<HeadParts>,
    /// The part of the heads read ahead that covers the next sample, when there is one.
    part: NalHeads,
}

/// Whether a plan of `tracks` with `opts` can be made of skeletons: no track's codec has
/// payload bytes the packager reads ([`skeleton_codec`]), and no SAMPLE-AES (re-inserted
/// emulation prevention makes a sample's size depend on its ciphertext).
fn skeleton_plan(tracks: &[TrackInfo], opts: &PackageOptions) -> bool {
    let method = opts.encryption.as_ref().map(|e| e.method);
    tracks.iter().all(|t| skeleton_codec(&t.config)) && method != Some(Method::SampleAes)
}

/// Largest sample planned from a skeleton (a larger one is read as `package` reads it).
const MAX_SKELETON_SAMPLE: u32 = 64 << 20;

impl<'a, R: Read + Seek> Skeletons<'a, R> {
    /// `None` when some track's codec has payload bytes the packager reads
    /// ([`skeleton_codec`]), or a sample is too large for the zero buffer.
    fn new(
        demux: &'a mut Mp4Demuxer<R>,
        index: &'a MediaIndex,
        opts: &PackageOptions,
    ) -> Option<Self> {
        if !skeleton_plan(index.tracks(), opts) {
            return None;
        }
        let method = opts.encryption.as_ref().map(|e| e.method);
        let largest = index.samples().iter().map(|s| s.size).max().unwrap_or(0);
        if largest > MAX_SKELETON_SAMPLE {
            return None;
        }
        let buffers = SkeletonBuffers::new(largest as usize)?;
        let hevc = index
            .tracks()
            .iter()
            .any(|t| matches!(t.config, CodecConfig::Hevc { .. }));
        Some(Skeletons {
            demux,
            index,
            next: 0,
            buffers,
            // cbcs: one subsample per NAL unit (`senc` sizes).
            structure: opts.format == Format::Ts || hevc || method == Some(Method::Cbcs),
            parts: None,
            part: NalHeads::default(),
        })
    }
}

impl<R: Read + Seek> Demuxer for Skeletons<'_, R> {
    fn tracks(&self) -> &[TrackInfo] {
        self.index.tracks()
    }
    fn next_sample(&mut self) -> Result<Option<Sample>> {
        if self.next >= self.index.samples().len() {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let Some(parts) = self.parts.as_mut() else {
            return self
                .demux
                .skeleton(self.index, i, &self.buffers, self.structure)
                .map(Some);
        };
        while !self.part.covers(i) {
            self.part = parts
                .next()
                .ok_or_else(|| Error::mp4(format!("sample {i}: no NAL heads read ahead"), 0))??;
        }
        let part = &self.part;
        Mp4Demuxer::<R>::skeleton_from(self.index, i, &self.buffers, self.structure, part).map(Some)
    }
}

/// Counts the samples the packager reads, and with `keep`, records the index position of
/// each sample of that track.
struct Counting<'d> {
    inner: &'d mut dyn Demuxer,
    yielded: usize,
    keep: Option<usize>,
    positions: Vec<u32>,
}

impl Demuxer for Counting<'_> {
    fn tracks(&self) -> &[TrackInfo] {
        self.inner.tracks()
    }
    fn next_sample(&mut self) -> Result<Option<Sample>> {
        let s = self.inner.next_sample()?;
        if let Some(sample) = &s {
            if self.keep == Some(sample.track) {
                let at = u32::try_from(self.yielded)
                    .map_err(|_| Error::mp4("too many samples to plan", 0))?;
                self.positions.push(at);
            }
            self.yielded += 1;
        }
        Ok(s)
    }
}

/// Keeps the small objects (playlists, init segment) and the size of the media segments.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) objects: Vec<(String, Bytes)>,
    sizes: Vec<(String, u64)>,
    open: Option<(String, u64)>,
    /// Objects appended to by counts (AES-128's I-frame file), and their lengths.
    appended: Vec<(String, u64)>,
}

impl Store for Recorder {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.objects.retain(|(n, _)| n != name);
        self.objects
            .push((name.to_owned(), Bytes::copy_from_slice(data)));
        Ok(())
    }
    fn append(&mut self, name: &str, _data: &[u8]) -> io::Result<u64> {
        Err(io::Error::other(format!("{name}: no appends in a plan")))
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.objects.retain(|(n, _)| n != name);
        Ok(())
    }
}

impl StreamStore for Recorder {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        self.open = Some((name.to_owned(), 0));
        Ok(())
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        self.write_count(parts.iter().map(|p| p.len() as u64).sum())
    }
    fn commit(&mut self) -> io::Result<()> {
        let open = self
            .open
            .take()
            .ok_or_else(|| io::Error::other("commit without begin"))?;
        self.sizes.push(open);
        Ok(())
    }
    fn counts_only(&self) -> bool {
        true
    }
    fn write_count(&mut self, n: u64) -> io::Result<()> {
        if let Some((_, size)) = &mut self.open {
            *size += n;
        }
        Ok(())
    }
    fn append_count(&mut self, name: &str, n: u64) -> io::Result<u64> {
        let i = match self.appended.iter().position(|(a, _)| a == name) {
            Some(i) => i,
            None => {
                self.appended.push((name.to_owned(), 0));
                self.appended.len() - 1
            }
        };
        let len = &mut self.appended[i].1;
        let at = *len;
        *len += n;
        Ok(at)
    }
}

/// One rendered segment, in memory.
#[derive(Default)]
struct Collect {
    bytes: Vec<u8>,
}

impl Store for Collect {
    fn put(&mut self, _name: &str, data: &[u8]) -> io::Result<()> {
        self.bytes = data.to_vec();
        Ok(())
    }
    fn append(&mut self, _name: &str, data: &[u8]) -> io::Result<u64> {
        let at = self.bytes.len() as u64;
        self.bytes.extend_from_slice(data);
        Ok(at)
    }
    fn delete(&mut self, _name: &str) -> io::Result<()> {
        self.bytes.clear();
        Ok(())
    }
}

impl StreamStore for Collect {
    fn begin(&mut self, _name: &str) -> io::Result<()> {
        Ok(())
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for p in parts {
            self.bytes.extend_from_slice(p);
        }
        Ok(())
    }
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
}
