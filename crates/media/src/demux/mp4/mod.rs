// SPDX-License-Identifier: MIT OR Apache-2.0
//! MP4 / QuickTime demuxer (ISO/IEC 14496-12, ISO/IEC 14496-14/-15, QTFF).
//!
//! Handles the index (`moov`) before or after the media data, and fragmented files (`moov`
//! with `mvex`, then `moof`/`mdat` pairs: CMAF with or without default-base-is-moof).
//!
//! [`Mp4Demuxer::open`] walks the top-level boxes by their headers only — the media data is
//! never loaded — decodes `moov` and every `moof`, and builds compact per-track sample tables
//! (about 20 bytes a sample). [`Demuxer::next_sample`] then merges the tracks by decode time
//! and reads payloads a file region at a time, shared by the tracks (see `reader`),
//! seeking only when a read does not follow the previous one.

mod boxes;
mod entry;
mod esds;
mod frag;
mod index;
mod moov;
mod mp4a;
mod nal;
mod reader;
mod skeleton;
mod skeleton_buffers;
mod stbl;
mod stsc;
mod table;
mod text;
mod track;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::io::{Read, Seek, SeekFrom};

use boxes::{decode_header, BoxHeader, RawHeader};
use reader::{Positioned, Regions};
use table::TableCursor;
use track::Track;

use crate::error::{Error, Result};
use crate::sample::{Demuxer, Sample, TrackInfo};
pub use index::{MediaIndex, SampleRef};
pub use skeleton::{skeleton_codec, HeadParts, NalHeads, NalWalks, ReadAhead, ReadEachPart};
pub use skeleton_buffers::SkeletonBuffers;

/// Demuxer options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mp4Options {
    /// Accept a file cut short (e.g. still being written or partially copied): each track ends
    /// before its first sample whose bytes lie beyond the end of the file, with a warning,
    /// instead of failing with [`Error::SampleOutOfRange`]. Default: false.
    pub allow_truncated: bool,
}

/// Largest moov/moof this demuxer loads into memory.
const MAX_INDEX_BOX: u64 = 1 << 30;

/// Demuxes an MP4/MOV file from any seekable reader.
pub struct Mp4Demuxer<R: Read + Seek> {
    reader: Positioned<R>,
    infos: Vec<TrackInfo>,
    tracks: Vec<Track>,
    cursors: Vec<TableCursor>,
    /// The file regions read last, shared by the tracks.
    regions: Regions,
    /// Drop (with a warning) video samples whose NAL lengths overrun them instead of failing.
    drop_bad_samples: bool,
    /// Samples dropped so far, per track index; reported once at the end.
    dropped: Vec<u64>,
    /// Timed text tracks (tx3g, wvtt), read on demand by [`Demuxer::subtitle_tracks`].
    text: Vec<text::TextTrack>,
}

impl<R: Read + Seek> std::fmt::Debug for Mp4Demuxer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Demuxer")
            .field("tracks", &self.infos)
            .finish_non_exhaustive()
    }
}

fn io_err(what: &str, offset: u64) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("reading {what} at byte offset {offset}"), e)
}

fn read_body<R: Read + Seek>(reader: &mut R, hdr: &BoxHeader) -> Result<Vec<u8>> {
    let len = hdr.size.saturating_sub(hdr.header_len);
    if len > MAX_INDEX_BOX {
        return Err(Error::mp4(
            format!(
                "'{}' box of {len} bytes is larger than this demuxer loads",
                hdr.name()
            ),
            hdr.offset,
        ));
    }
    let start = hdr.payload_offset();
    let mut body = vec![0u8; usize::try_from(len).unwrap_or(0)];
    let what = hdr.name();
    reader
        .seek(SeekFrom::Start(start))
        .and_then(|_| reader.read_exact(&mut body))
        .map_err(io_err(&what, hdr.offset))?;
    Ok(body)
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Scans top-level boxes (no mdat payload read), decodes moov (and every moof's traf/trun
    /// headers for fragmented files), builds compact per-track sample tables. `file_len` =
    /// total input length.
    pub fn open(reader: R, file_len: u64, opts: Mp4Options) -> Result<Self> {
        Self::open_with(reader, file_len, opts, false)
    }

    /// The text tracks (tx3g/mov_text, wvtt) of a file that may hold nothing else, such as
    /// a packager's WebVTT-in-MP4 output: each read whole as cues.
    pub fn text_tracks(reader: R, file_len: u64) -> Result<Vec<crate::subtitle::SubtitleTrack>> {
        Self::open_with(reader, file_len, Mp4Options::default(), true)?.read_text_tracks()
    }

    /// [`Mp4Demuxer::open`]; `text_only`: a file whose only tracks are text is accepted.
    fn open_with(mut reader: R, file_len: u64, opts: Mp4Options, text_only: bool) -> Result<Self> {
        if file_len == 0 {
            return Err(Error::Empty);
        }
        let mut movie: Option<moov::Movie> = None;
        let mut pos = 0u64;
        while pos < file_len {
            let remaining = file_len - pos;
            if remaining < 8 {
                tracing::warn!("ignoring {remaining} trailing bytes at byte offset {pos}");
                break;
            }
            let mut head = [0u8; 16];
            let n = usize::try_from(remaining.min(16)).unwrap_or(16);
            let head = head.get_mut(..n).unwrap_or(&mut []);
            reader
                .seek(SeekFrom::Start(pos))
                .and_then(|_| reader.read_exact(head))
                .map_err(io_err("box header", pos))?;
            // After a complete non-fragmented index, nothing later is needed (sample ranges
            // are checked on their own): a damaged trailing box is only worth a warning.
            let index_complete = movie.as_ref().is_some_and(|m| !m.fragmented);
            let stop = |msg: String| -> Result<()> {
                if opts.allow_truncated || index_complete {
                    tracing::warn!("{msg} at byte offset {pos}; ignoring the rest of the file");
                    Ok(())
                } else {
                    Err(Error::mp4(msg, pos))
                }
            };
            let hdr = match decode_header(head) {
                RawHeader::Ok {
                    kind,
                    header_len,
                    size,
                } => BoxHeader {
                    kind,
                    offset: pos,
                    header_len,
                    size: size.unwrap_or(remaining),
                },
                RawHeader::Short => {
                    stop("box header cut short by the end of the file".into())?;
                    break;
                }
                RawHeader::Invalid { kind, size } => {
                    let name = boxes::fourcc_str(kind);
                    stop(format!("top-level box '{name}' has invalid size {size}"))?;
                    break;
                }
            };
            if hdr.size > remaining {
                let msg = format!(
                    "'{}' box of {} bytes extends beyond the end of the file ({file_len} bytes)",
                    hdr.name(),
                    hdr.size
                );
                match &hdr.kind {
                    // Truncated media data: the samples past the end are reported (or cut)
                    // by the sample range check below.
                    b"mdat" => tracing::warn!("{msg}: file truncated?"),
                    b"moov" => return Err(Error::mp4(msg, pos)),
                    _ => stop(msg)?,
                }
                break;
            }
            match &hdr.kind {
                b"moov" if movie.is_some() => {
                    tracing::warn!("ignoring second moov box at byte offset {pos}");
                }
                b"moov" => {
                    let body = read_body(&mut reader, &hdr)?;
                    movie = Some(moov::parse_moov(&body, hdr.payload_offset(), file_len)?);
                }
                b"moof" => {
                    let Some(m) = movie.as_mut() else {
                        return Err(Error::mp4("moof box before the moov box", pos));
                    };
                    let body = read_body(&mut reader, &hdr)?;
                    frag::parse_moof(m, &hdr, &body, file_len)?;
                }
                _ => {}
            }
            pos = pos.saturating_add(hdr.size);
        }
        let movie = movie.ok_or(Error::NoMoov)?;
        if text_only && movie.tracks.is_empty() && movie.text.is_empty() {
            return Err(Error::NoTracks);
        }
        Self::finish(reader, movie, file_len, opts, text_only)
    }

    fn finish(
        reader: R,
        movie: moov::Movie,
        file_len: u64,
        opts: Mp4Options,
        text_only: bool,
    ) -> Result<Self> {
        let mut tracks = movie.tracks;
        let text = movie.text;
        if tracks.is_empty() && !text_only {
            return Err(match movie.skipped.first() {
                Some((track, codec)) => Error::UnsupportedCodec {
                    track: *track,
                    codec: codec.clone(),
                },
                None => Error::NoTracks,
            });
        }
        for t in &mut tracks {
            if let Some(cut) = t.truncated {
                if !opts.allow_truncated {
                    return Err(Error::SampleOutOfRange {
                        track: t.info.id,
                        sample: cut.sample,
                        offset: cut.offset,
                        size: cut.size,
                        file_len,
                    });
                }
                tracing::warn!(
                    track = t.info.id,
                    "track {}: file ends inside sample {} (byte offset {}, {} bytes); \
                     the track stops before it",
                    t.info.id,
                    cut.sample,
                    cut.offset,
                    cut.size
                );
            }
            let d = t.mdhd_duration;
            let unknown = d == 0 || d == u64::from(u32::MAX) || d == u64::MAX;
            t.info.duration = if unknown || movie.fragmented || t.truncated.is_some() {
                Some(t.table.total_duration()).filter(|&d| d > 0)
            } else {
                Some(d)
            };
            t.table.shrink_to_fit();
        }
        let cursors = tracks.iter().map(|t| TableCursor::new(&t.table)).collect();
        Ok(Mp4Demuxer {
            reader: Positioned::new(reader, file_len),
            infos: tracks.iter().map(|t| t.info.clone()).collect(),
            regions: Regions::default(),
            drop_bad_samples: false,
            dropped: vec![0; tracks.len()],
            tracks,
            cursors,
            text,
        })
    }

    /// With `yes`, a video sample whose NAL unit lengths (ISO/IEC 14496-15 §5.3.2) overrun
    /// it is dropped with a warning (and counted in a last warning) instead of failing with
    /// [`Error::BadSample`]. The CLI's `--drop-bad-samples`.
    pub fn with_drop_bad_samples(mut self, yes: bool) -> Self {
        self.drop_bad_samples = yes;
        self
    }

    /// One warning per track that lost samples, when the last sample has been read.
    fn report_dropped(&mut self) {
        for (t, n) in self.tracks.iter().zip(self.dropped.iter_mut()) {
            if *n > 0 {
                tracing::warn!(
                    track = t.info.id,
                    "track {}: {n} sample(s) dropped (--drop-bad-samples)",
                    t.info.id
                );
                *n = 0;
            }
        }
    }

    /// Index of the track whose next sample has the smallest decode time (ties: lowest file
    /// offset, to keep reads sequential).
    fn pick(&self) -> Option<usize> {
        let mut best: Option<(usize, i128, u32, u64)> = None;
        for (i, (t, c)) in self.tracks.iter().zip(&self.cursors).enumerate() {
            let Some(offset) = t.table.offset(c.next) else {
                continue;
            };
            let dts = i128::from(c.dts) + i128::from(t.shift);
            let ts = t.info.timescale;
            let better = match best {
                None => true,
                Some((_, bd, bts, bo)) => {
                    // dts/ts < bd/bts  ⇔  dts·bts < bd·ts (timescales are positive).
                    match (dts * i128::from(bts)).cmp(&(bd * i128::from(ts))) {
                        Ordering::Less => true,
                        Ordering::Equal => offset < bo,
                        Ordering::Greater => false,
                    }
                }
            };
            if better {
                best = Some((i, dts, ts, offset));
            }
        }
        best.map(|b| b.0)
    }
}

impl<R: Read + Seek> Demuxer for Mp4Demuxer<R> {
    fn tracks(&self) -> &[TrackInfo] {
        &self.infos
    }

    fn subtitle_tracks(&mut self) -> Result<Vec<crate::subtitle::SubtitleTrack>> {
        self.read_text_tracks()
    }

    fn next_sample(&mut self) -> Result<Option<Sample>> {
        loop {
            let Some(ti) = self.pick() else {
                self.report_dropped();
                return Ok(None);
            };
            if let Some(s) = self.read_sample(ti)? {
                return Ok(Some(s));
            }
        }
    }
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Reads the next sample of track `ti` and moves past it; `None` when it was dropped.
    fn read_sample(&mut self, ti: usize) -> Result<Option<Sample>> {
        let (Some(track), Some(cursor)) = (self.tracks.get(ti), self.cursors.get(ti)) else {
            return Ok(None);
        };
        let index = cursor.next;
        let Some(raw) = track.table.get(index) else {
            return Ok(None);
        };
        let id = track.info.id;
        let nal = track.nal;
        let dts = cursor
            .dts
            .checked_add(track.shift)
            .ok_or_else(|| Error::BadSample {
                track: id,
                sample: index as u64,
                dts: cursor.dts,
                msg: format!("decode time overflows with edit list shift {}", track.shift),
            })?;
        let data = self
            .regions
            .sample(&mut self.reader, raw.offset, raw.size)
            .map_err(|e| {
                Error::io(
                    format!(
                        "reading track {id} sample {index} ({} bytes at byte offset {})",
                        raw.size, raw.offset
                    ),
                    e,
                )
            })?;
        let data = match nal.map(|fmt| nal::canonical(data.clone(), fmt)) {
            Some(Ok(d)) => Some(d),
            Some(Err(msg)) if self.drop_bad_samples => {
                tracing::warn!(
                    track = id,
                    "track {id}: sample {index} (dts {dts}, byte offset {}): {msg}; dropped",
                    raw.offset
                );
                if let Some(n) = self.dropped.get_mut(ti) {
                    *n += 1;
                }
                None
            }
            Some(Err(msg)) => {
                return Err(Error::BadSample {
                    track: id,
                    sample: index as u64,
                    dts,
                    msg: format!(
                        "{msg} (sample at byte offset {}); --drop-bad-samples drops such \
                         samples with a warning",
                        raw.offset
                    ),
                })
            }
            None => Some(data),
        };
        if let (Some(t), Some(c)) = (self.tracks.get(ti), self.cursors.get_mut(ti)) {
            c.advance(&t.table, raw.duration);
        }
        Ok(data.map(|data| Sample {
            track: ti,
            dts,
            cts_offset: raw.cts,
            duration: raw.duration,
            keyframe: raw.sync,
            data,
        }))
    }
}

/// Whether `head` (the first bytes of an input) starts with an MP4/QuickTime top-level box:
/// ftyp, moov, mdat, free, wide, styp or moof with a plausible size.
pub fn looks_like_mp4(head: &[u8]) -> bool {
    const KINDS: [&[u8; 4]; 7] = [
        b"ftyp", b"moov", b"mdat", b"free", b"wide", b"styp", b"moof",
    ];
    let kind_ok = |k: &[u8; 4]| KINDS.contains(&k);
    match decode_header(head) {
        RawHeader::Ok { kind, .. } => kind_ok(&kind),
        // `size == 1` with the 64-bit size not in `head` yet.
        RawHeader::Short => {
            head.len() >= 8
                && boxes::be_u32(head, 0) == Some(1)
                && head
                    .get(4..8)
                    .and_then(|k| <[u8; 4]>::try_from(k).ok())
                    .is_some_and(|k| kind_ok(&k))
        }
        RawHeader::Invalid { .. } => false,
    }
}
