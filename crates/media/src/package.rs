// SPDX-License-Identifier: MIT OR Apache-2.0
//! VOD packaging: demuxed samples → cut → packetize → playlists → store.
//!
//! Output layout (all names relative to the store):
//! - `master.m3u8` — the entry point (RFC 8216bis 4.4.6).
//! - `{rendition}.m3u8` — media playlist, PLAYLIST-TYPE:VOD, ENDLIST (Apple 8.6).
//! - `{rendition}_iframes.m3u8` — with video: the I-frame playlist (Apple 6.1, RFC 8216bis
//!   §4.4.3.6), one entry per keyframe of the video track, each a byte range of the segment (or
//!   single file) that holds it. TS: the keyframe's PES packets (from PAT/PMT on for the keyframe
//!   that opens a segment; EXT-X-MAP names a segment's PAT/PMT for the others). fMP4: a fragment
//!   starts at every keyframe, so each entry is `moof` + `mdat` header + the keyframe, with the
//!   media playlist's EXT-X-MAP.
//! - `{rendition}_{run}_init.mp4` + `{rendition}_{run}_{n:06}.m4s` (fMP4) or `…_{n:06}.ts`, `n`
//!   the media sequence number from 0 (as live names them);
//!   or, with `single_file`, `{rendition}_{run}.mp4|.ts` addressed with EXT-X-BYTERANGE.
//!
//! `run` is a per-packaging-run id chosen by the caller, so a repackaged stream never reuses a segment
//! URL with different bytes and an origin may mark segments immutable.

pub mod ladder;

use std::io;

use crate::codec::codec_string;
use crate::crypto::cbc::encrypted_len;
use crate::crypto::cbcs::Cbcs;
use crate::crypto::sample_aes::{self, SampleAes};
use crate::crypto::segment::WholeSegments;
use crate::crypto::{Encryption, Method};
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::ts::TsMuxer;
use crate::mux::{KeyframeRange, SegmentMuxer};
use crate::playlist::master::measure_bandwidth;
use crate::playlist::media::Map;
use crate::playlist::{
    ByteRange, IFramePlaylist, IFrameVariant, MasterPlaylist, MediaPlaylist, MediaSegment,
    PlaylistType, Variant,
};
use crate::sample::{CodecConfig, Demuxer, TrackInfo, TrackKind};
use crate::segmenter::{Segment, Segmenter};
use crate::store::Store;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Fmp4,
    Ts,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Fmp4 => "fmp4",
            Format::Ts => "ts",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PackageOptions {
    pub format: Format,
    /// Wanted segment duration in seconds (Apple 7.5 recommends 6).
    pub segment_duration: f64,
    /// One media file per rendition, segments addressed by byte range (RFC 8216bis 4.4.4.2).
    pub single_file: bool,
    /// Per-run id embedded in media object names.
    pub run_id: String,
    /// Allow HEVC in MPEG-TS, which Apple devices do not accept (Apple 1.5: HEVC MUST be fMP4).
    pub allow_hevc_ts: bool,
    /// Name of the (single, muxed) rendition.
    pub rendition: String,
    /// Most sample bytes held for one segment: a longer GOP is written in pieces of this size
    /// (the segment is still one object, cut at keyframes), so memory stays bounded whatever
    /// the input's keyframe interval. Default 32 MiB.
    pub max_buffered_bytes: usize,
    /// EXT-X-KEY encryption of the rendition ([`crate::crypto`]); `None`: clear.
    pub encryption: Option<Encryption>,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions {
            format: Format::Fmp4,
            segment_duration: 6.0,
            single_file: false,
            run_id: "0".into(),
            allow_hevc_ts: false,
            rendition: "stream".into(),
            max_buffered_bytes: 32 << 20,
            encryption: None,
        }
    }
}

/// Progress report: seconds of media packaged so far and the expected total (if known).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done_secs: f64,
    pub total_secs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackageSummary {
    pub segments: usize,
    pub duration: f64,
    pub target_duration: u64,
    pub average_bandwidth: u64,
    pub peak_bandwidth: u64,
    pub bytes: u64,
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    /// Segments longer than the wanted duration + 0.5 s because of the input's GOP (Apple 7.7).
    pub long_segments: Vec<(u64, f64)>,
    /// Entries of the I-frame playlist (0 without video).
    pub i_frames: usize,
}

/// A [`Store`] that also takes an object in pieces, so that a media segment never has to sit
/// whole in one buffer: [`begin`](Self::begin), any number of
/// [`write_parts`](Self::write_parts), then [`commit`](Self::commit), which makes the object
/// visible atomically as [`Store::put`] does. Beginning another object discards one that was
/// not committed.
///
/// Packaging a large file is bound by memory bandwidth, not by computation: writing segments
/// straight from the samples' buffers (fMP4) or from a small cache-resident buffer (TS) keeps
/// every payload byte from crossing main memory twice more than it must.
pub trait StreamStore: Store {
    fn begin(&mut self, name: &str) -> io::Result<()>;
    /// Appends `parts`, in order, to the object begun last.
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()>;
    fn commit(&mut self) -> io::Result<()>;
}

/// Any [`Store`] as a [`StreamStore`]: the pieces are joined in memory and `put` on commit.
struct Joined<'a> {
    store: &'a mut dyn Store,
    name: Option<String>,
    buf: Vec<u8>,
}

impl Store for Joined<'_> {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.store.put(name, data)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.store.append(name, data)
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.store.delete(name)
    }
}

impl StreamStore for Joined<'_> {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        self.name = Some(name.to_owned());
        self.buf.clear();
        Ok(())
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        Ok(())
    }
    fn commit(&mut self) -> io::Result<()> {
        let name = self
            .name
            .take()
            .ok_or_else(|| io::Error::other("commit without begin"))?;
        self.store.put(&name, &self.buf)
    }
}

/// The muxer of a run, by format: each has its own way of writing a segment without building
/// it whole in memory.
enum Mux {
    Fmp4(Fmp4Muxer),
    Ts(TsMuxer),
}

impl Mux {
    fn as_dyn(&mut self) -> &mut dyn SegmentMuxer {
        match self {
            Mux::Fmp4(m) => m,
            Mux::Ts(m) => m,
        }
    }

    /// Writes `piece` — a whole segment, or (`first` false) the next piece of one begun
    /// earlier — into the object `store` has begun; returns the bytes written. Keyframe
    /// offsets ([`SegmentMuxer::keyframes`]) count from the start of this piece.
    fn write_piece(
        &mut self,
        piece: &Segment,
        first: bool,
        name: &str,
        store: &mut dyn StreamStore,
        buf: &mut Vec<u8>,
    ) -> Result<u64> {
        let io_err = |e| Error::io(format!("writing {name}"), e);
        buf.clear();
        match self {
            Mux::Fmp4(m) => {
                // styp, moof and mdat headers in `buf`, the payload straight from the samples.
                let pieces = if first {
                    m.write_segment_parts(piece, buf)?
                } else {
                    m.write_continuation_parts(piece, buf)?
                };
                let parts: Vec<&[u8]> = pieces.iter().map(|p| p.bytes(buf)).collect();
                store.write_parts(&parts).map_err(io_err)?;
                Ok(parts.iter().map(|p| p.len() as u64).sum())
            }
            Mux::Ts(m) => {
                // Every piece starts with PAT and PMT: harmless mid-segment (ISO/IEC 13818-1
                // 2.4.4: PSI may repeat anywhere), and continuity counters go on.
                let mut size = 0u64;
                m.write_segment_streaming(piece, buf, &mut |chunk| {
                    size += chunk.len() as u64;
                    store.write_parts(&[chunk]).map_err(io_err)
                })?;
                Ok(size)
            }
        }
    }
}

/// The media object being written: one segment, possibly in several pieces.
struct OpenObject {
    uri: String,
    /// Where it starts in the single file (`--single-file`), else 0.
    offset: u64,
    size: u64,
    /// Keyframes so far, offsets from the start of the object.
    keys: Vec<KeyframeRange>,
}

/// Packages everything `demux` yields into `store`.
pub fn package(
    demux: &mut dyn Demuxer,
    opts: &PackageOptions,
    store: &mut dyn Store,
    progress: &mut dyn FnMut(Progress),
) -> Result<PackageSummary> {
    let mut joined = Joined {
        store,
        name: None,
        buf: Vec::new(),
    };
    package_streaming(demux, opts, &mut joined, progress)
}

/// [`package`] into a store that takes objects in pieces (the fast path for files): open the
/// input and plan the rendition, write the init section, cut and write the segments, then the
/// playlists.
pub fn package_streaming(
    demux: &mut dyn Demuxer,
    opts: &PackageOptions,
    store: &mut dyn StreamStore,
    progress: &mut dyn FnMut(Progress),
) -> Result<PackageSummary> {
    let rendered = package_rendition(demux, opts, &[], store, progress)?;
    let session_keys = opts
        .encryption
        .as_ref()
        .map(|e| e.session_key_tags(rendered.summary.segments as u64))
        .unwrap_or_default();
    write_master(store, &rendered, &session_keys)?;
    Ok(rendered.summary)
}

/// One rendition written without its master playlist: what a master needs to list it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub summary: PackageSummary,
    /// `{rendition}.m3u8`.
    pub media_uri: String,
    /// The I-frame playlist's EXT-X-I-FRAME-STREAM-INF (with video).
    pub i_frames: Option<IFrameVariant>,
    pub independent_segments: bool,
    /// Start of each segment, seconds (the main track's decode time).
    pub segment_starts: Vec<f64>,
    /// EXTINF of each segment, seconds, as the media playlist lists them.
    pub segment_durations: Vec<f64>,
    /// Earliest presentation time of the main track, seconds.
    pub first_pts: Option<f64>,
}

/// [`package_streaming`] without the master playlist, cut at `cut_times` (seconds; the segment
/// starts of another rendition, see [`Segmenter::set_cut_times`]) when not empty.
pub fn package_rendition(
    demux: &mut dyn Demuxer,
    opts: &PackageOptions,
    cut_times: &[f64],
    store: &mut dyn StreamStore,
    progress: &mut dyn FnMut(Progress),
) -> Result<Rendered> {
    let (plan, muxer) = Plan::new(demux.tracks(), opts)?;
    let mut writer = Writer::new(store, &plan, muxer, opts)?;
    let cut = cut(demux, &plan, opts, cut_times, &mut writer, progress)?;
    write_playlists(writer, &plan, &cut, opts)
}

/// The rendition to write: its tracks, codec strings and object names.
struct Plan {
    tracks: Vec<TrackInfo>,
    codecs: Vec<String>,
    video_index: Option<usize>,
    /// Input duration in seconds, if the container says (for progress).
    total_secs: Option<f64>,
    /// `{rendition}_{run}`: the prefix of every media object.
    base: String,
    /// Media segment extension ("m4s" or "ts").
    ext: &'static str,
    /// The one media file with `--single-file`.
    single_name: String,
}

impl Plan {
    /// The plan, and the muxer for it.
    fn new(tracks: &[TrackInfo], opts: &PackageOptions) -> Result<(Self, Mux)> {
        let tracks = tracks.to_vec();
        if tracks.is_empty() {
            return Err(Error::NoTracks);
        }
        let codecs = tracks
            .iter()
            .map(|t| codec_string(&t.config))
            .collect::<Result<Vec<_>>>()?;
        if opts.format == Format::Ts && !opts.allow_hevc_ts {
            if let Some(t) = tracks
                .iter()
                .find(|t| matches!(t.config, CodecConfig::Hevc { .. }))
            {
                return Err(Error::FormatMismatch {
                    codec: format!("HEVC (track {})", t.id),
                    format: "MPEG-TS",
                    why:
                        "Apple devices require HEVC in fMP4 (HLS authoring spec 1.5); use --format \
                          fmp4 or force it with --allow-hevc-ts",
                });
            }
        }
        let video_index = tracks.iter().position(|t| t.kind() == TrackKind::Video);
        let mut muxer = match opts.format {
            Format::Fmp4 => {
                let mut m = Fmp4Muxer::new(tracks.clone())?;
                // Every keyframe starts a fragment, so the I-frame playlist lists all of them.
                m.set_keyframe_fragments(video_index.is_some());
                Mux::Fmp4(m)
            }
            Format::Ts => Mux::Ts(match &opts.encryption {
                Some(e) if e.method == Method::SampleAes => {
                    TsMuxer::with_es_hook(tracks.clone(), &sample_aes::pmt_entry)?
                }
                _ => TsMuxer::new(tracks.clone())?,
            }),
        };
        let total_secs = tracks
            .first()
            .and_then(|t| t.duration.map(|d| d as f64 / f64::from(t.timescale.max(1))));
        let ext = muxer.as_dyn().segment_extension();
        let base = format!("{}_{}", opts.rendition, opts.run_id);
        let single_name = format!(
            "{base}.{}",
            if opts.format == Format::Ts {
                "ts"
            } else {
                "mp4"
            }
        );
        let plan = Plan {
            tracks,
            codecs,
            video_index,
            total_secs,
            base,
            ext,
            single_name,
        };
        Ok((plan, muxer))
    }

    fn video(&self) -> Option<&TrackInfo> {
        self.video_index.and_then(|i| self.tracks.get(i))
    }
}

/// Writes the media objects as segments are cut, and lists them in the media and I-frame
/// playlists.
struct Writer<'s> {
    store: &'s mut dyn StreamStore,
    muxer: Mux,
    has_video: bool,
    single_file: bool,
    base: String,
    ext: &'static str,
    single_name: String,
    playlist: MediaPlaylist,
    iframes: IFramePlaylist,
    /// TS: whether some I-frame entry lacks its own PAT/PMT, and where the first segment's are.
    ts_needs_map: bool,
    first_segment: Option<(String, u64)>,
    open: Option<OpenObject>,
    /// --single-file: one piece's bytes before they are appended (reused).
    single_buf: Vec<u8>,
    buf: Vec<u8>,
    /// METHOD=AES-128: the segments' cipher, and the I-frame file's name.
    aes: Option<(WholeSegments, String)>,
    /// METHOD=SAMPLE-AES.
    sample_aes: Option<SampleAes>,
    /// METHOD=SAMPLE-AES in fMP4: CENC cbcs.
    cbcs: Option<Cbcs>,
}

impl<'s> Writer<'s> {
    /// A writer for `plan`'s rendition; writes its initialization section (fMP4).
    fn new(
        store: &'s mut dyn StreamStore,
        plan: &Plan,
        mut muxer: Mux,
        opts: &PackageOptions,
    ) -> Result<Self> {
        let mut playlist = MediaPlaylist {
            playlist_type: Some(PlaylistType::Vod),
            independent_segments: true,
            end_list: true,
            ..Default::default()
        };
        let cbcs = cbcs(opts, plan, &mut muxer)?;
        if let Some(init) = muxer.as_dyn().init_segment()? {
            playlist.map = Some(if opts.single_file {
                let offset = append(store, &plan.single_name, &init)?;
                Map {
                    uri: plan.single_name.clone(),
                    byterange: Some(ByteRange {
                        length: init.len() as u64,
                        offset,
                    }),
                }
            } else {
                let name = format!("{}_init.mp4", plan.base);
                put(store, &name, &init)?;
                Map {
                    uri: name,
                    byterange: None,
                }
            });
        }
        Ok(Writer {
            store,
            muxer,
            has_video: plan.video_index.is_some(),
            single_file: opts.single_file,
            base: plan.base.clone(),
            ext: plan.ext,
            single_name: plan.single_name.clone(),
            playlist,
            iframes: IFramePlaylist::vod(),
            ts_needs_map: false,
            first_segment: None,
            open: None,
            single_buf: Vec::new(),
            buf: Vec::new(),
            aes: aes_128(opts, plan)?,
            sample_aes: sample_aes(opts, plan)?,
            cbcs,
        })
    }

    /// Writes a piece of the current segment; `last`: the piece that completes it (then the
    /// segment's duration is known and it is listed). Returns the end of a completed segment,
    /// in seconds.
    fn emit(&mut self, mut piece: Segment, last: bool) -> Result<Option<f64>> {
        let first = self.open.is_none();
        if let Some(s) = &mut self.sample_aes {
            s.encrypt_piece(&mut piece, first);
        }
        if let Some(c) = &mut self.cbcs {
            c.encrypt_piece(&mut piece, first);
        }
        let object = self.open.get_or_insert_with(|| OpenObject {
            uri: if self.single_file {
                self.single_name.clone()
            } else {
                // Named by media sequence number (6 digits from 0), as live segments are
                // (RFC 8216bis 4.4.3.2: the first segment's number is EXT-X-MEDIA-SEQUENCE, 0).
                format!("{}_{:06}.{}", self.base, piece.index, self.ext)
            },
            offset: 0,
            size: 0,
            keys: Vec::new(),
        });
        let store = &mut *self.store;
        // The last piece of a segment written in pieces may be empty (the cut came right
        // after a piece was written).
        let size = if piece.samples.is_empty() && !first {
            0
        } else if let (true, Some(aes)) = (self.single_file, &mut self.aes) {
            let mux = (&mut self.muxer, &mut self.buf);
            let single = Some(&mut self.single_buf);
            let size = write_aes_piece(aes, mux, (&piece, first), object, store, single)?;
            object.size = object.size.saturating_add(size);
            return self.complete(last, &piece);
        } else if self.single_file {
            // The piece is put together in memory (at most --max-buffer-mib of samples), then
            // appended to the single file.
            let mut joined = Joined {
                store: &mut *store,
                name: None,
                buf: std::mem::take(&mut self.single_buf),
            };
            joined.buf.clear();
            let size = self.muxer.write_piece(
                &piece,
                first,
                &self.single_name,
                &mut joined,
                &mut self.buf,
            )?;
            let bytes = joined.buf;
            let at = append(store, &self.single_name, &bytes)?;
            if first {
                object.offset = at;
            }
            self.single_buf = bytes;
            size
        } else {
            if first {
                store
                    .begin(&object.uri)
                    .map_err(|e| Error::io(format!("writing {}", object.uri), e))?;
            }
            if let Some(aes) = &mut self.aes {
                let mux = (&mut self.muxer, &mut self.buf);
                let size = write_aes_piece(aes, mux, (&piece, first), object, store, None)?;
                object.size = object.size.saturating_add(size);
                return self.complete(last, &piece);
            }
            self.muxer
                .write_piece(&piece, first, &object.uri, store, &mut self.buf)?
        };
        if self.has_video && size > 0 {
            let before = object.size;
            object.keys.extend(
                self.muxer
                    .as_dyn()
                    .keyframes()
                    .iter()
                    .map(|k| KeyframeRange {
                        offset: k.offset.saturating_add(before),
                        ..*k
                    }),
            );
        }
        object.size = object.size.saturating_add(size);
        self.complete(last, &piece)
    }

    /// After the `last` piece of a segment, lists it.
    fn complete(&mut self, last: bool, piece: &Segment) -> Result<Option<f64>> {
        if !last {
            return Ok(None);
        }
        let Some(mut object) = self.open.take() else {
            return Ok(None);
        };
        if let Some((aes, _)) = &mut self.aes {
            // The last block, padded (RFC 8216 5.2: PKCS7).
            let io_err = |e| Error::io(format!("writing {}", object.uri), e);
            if self.single_file {
                let last = aes.last_block().map_err(io_err)?;
                self.store.append(&object.uri, last).map_err(io_err)?;
            } else {
                aes.finish_segment(&mut *self.store).map_err(io_err)?;
            }
            object.size = encrypted_len(object.size);
        }
        self.list(object, piece)
    }

    /// Closes the completed segment `object` (cut as `segment`) and lists it.
    fn list(&mut self, object: OpenObject, segment: &Segment) -> Result<Option<f64>> {
        if !self.single_file {
            self.store
                .commit()
                .map_err(|e| Error::io(format!("writing {}", object.uri), e))?;
        }
        let byterange = self.single_file.then_some(ByteRange {
            length: object.size,
            offset: object.offset,
        });
        if let Some(s) = &mut self.sample_aes {
            s.listed(object.keys.len());
        }
        if let Some(c) = &mut self.cbcs {
            c.listed(object.keys.len());
        }
        if let (true, Some((_, iframe_name))) = (self.has_video, &self.aes) {
            // AES-128: the keyframes were copied into the I-frame file, each with its PAT/PMT.
            self.iframes.push_segment(iframe_name, 0, &object.keys);
        } else if self.has_video {
            self.iframes
                .push_segment(&object.uri, object.offset, &object.keys);
            self.ts_needs_map |= object.keys.iter().any(|k| k.offset != 0);
            self.first_segment
                .get_or_insert_with(|| (object.uri.clone(), object.offset));
        }
        let duration = segment.duration_secs();
        self.playlist.segments.push(MediaSegment {
            uri: object.uri,
            duration,
            byterange,
            discontinuity: false,
            program_date_time: None,
            size: object.size,
        });
        Ok(Some(segment.start_secs() + duration))
    }
}

/// What the cut learned about the main track.
struct CutStats {
    main_frames: u64,
    /// End of the main track's presentation (max pts + duration), its timescale.
    main_end_pts: Option<i64>,
    /// Earliest presentation time of the main track, its timescale.
    main_first_pts: Option<i64>,
    /// Start of each completed segment, seconds.
    starts: Vec<f64>,
}

/// Cuts everything `demux` yields into segments and writes them.
fn cut(
    demux: &mut dyn Demuxer,
    plan: &Plan,
    opts: &PackageOptions,
    cut_times: &[f64],
    writer: &mut Writer<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<CutStats> {
    let mut segmenter = Segmenter::new(&plan.tracks, opts.segment_duration);
    segmenter.set_cut_times(cut_times);
    let main = segmenter.main_track();
    let mut stats = CutStats {
        main_frames: 0,
        main_end_pts: None,
        main_first_pts: None,
        starts: Vec::new(),
    };
    let mut report = |done: Option<f64>| {
        if let Some(done_secs) = done {
            progress(Progress {
                done_secs,
                total_secs: plan.total_secs,
            });
        }
    };
    while let Some(sample) = demux.next_sample()? {
        if sample.track == main {
            stats.main_frames += 1;
            // The last I-frame lasts until the end of the presentation (RFC 8216bis 4.4.3.6).
            let end = sample.pts().saturating_add(i64::from(sample.duration));
            stats.main_end_pts = Some(stats.main_end_pts.map_or(end, |e: i64| e.max(end)));
            let pts = sample.pts();
            stats.main_first_pts = Some(stats.main_first_pts.map_or(pts, |p: i64| p.min(pts)));
        }
        if let Some(done) = segmenter.push(sample) {
            stats.starts.push(done.start_secs());
            report(writer.emit(done, true)?);
        } else if let Some(piece) = segmenter.take_oversized(opts.max_buffered_bytes) {
            report(writer.emit(piece, false)?);
        }
    }
    if let Some(done) = segmenter.finish() {
        stats.starts.push(done.start_secs());
        report(writer.emit(done, true)?);
    }
    if writer.playlist.segments.is_empty() {
        return Err(match plan.video() {
            Some(v) => Error::NoKeyframe { track: v.id },
            None => Error::NoTracks,
        });
    }
    if segmenter.dropped_leading > 0 {
        tracing::warn!(
            dropped = segmenter.dropped_leading,
            "samples before the first video keyframe were dropped (segments must start with an IDR)"
        );
    }
    if segmenter.open_gop_cut {
        // RFC 8216bis 4.4.2.1: EXT-X-INDEPENDENT-SEGMENTS only if every segment decodes alone.
        tracing::warn!(
            "no clean random-access point (IDR, BLA, or CRA without RASL pictures) for twice the \
             segment duration: segments are cut at CRA pictures whose RASL pictures need the \
             previous segment, and EXT-X-INDEPENDENT-SEGMENTS is not declared; encode with closed \
             GOPs (x265: open-gop=0) for independent segments"
        );
        writer.playlist.independent_segments = false;
    }
    Ok(stats)
}

/// Writes the media, I-frame and master playlists once every segment is written.
fn write_playlists(
    mut writer: Writer<'_>,
    plan: &Plan,
    cut: &CutStats,
    opts: &PackageOptions,
) -> Result<Rendered> {
    let playlist = &mut writer.playlist;
    playlist.target_duration = MediaPlaylist::target_for(&playlist.segments);
    let duration = playlist.duration();
    let bytes: u64 = playlist.segments.iter().map(|s| s.size).sum();
    let (peak_bandwidth, average_bandwidth) =
        measure_bandwidth(playlist.segments.iter().map(|s| (s.size, s.duration)));
    let long_segments: Vec<(u64, f64)> = playlist
        .segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.duration > opts.segment_duration + 0.5)
        .map(|(i, s)| (i as u64, s.duration))
        .collect();
    for (i, d) in &long_segments {
        tracing::warn!(
            segment = i,
            duration = d,
            "segment exceeds the wanted duration by more than 0.5 s because of the input's GOP (Apple 7.7)"
        );
    }
    let video = plan.video();
    let frame_rate =
        video.and_then(|_| (duration > 0.0).then(|| cut.main_frames as f64 / duration));
    let resolution = video.map(|v| (v.width, v.height));
    let media_name = format!("{}.m3u8", opts.rendition);
    let mut text = playlist.to_string();
    if let Some((aes, _)) = &writer.aes {
        text = aes.media_playlist(&text);
    }
    if let Some(s) = &writer.sample_aes {
        text = s.media_playlist(&text);
    }
    if let Some(c) = &writer.cbcs {
        text = c.media_playlist(&text);
    }
    put(writer.store, &media_name, text.as_bytes())?;

    let i_frames = match video {
        Some(v) => Some(write_i_frames(&mut writer, plan, v, cut, opts)?),
        None => None,
    };
    let summary = PackageSummary {
        segments: writer.playlist.segments.len(),
        duration,
        target_duration: writer.playlist.target_duration,
        average_bandwidth,
        peak_bandwidth,
        bytes,
        codecs: plan.codecs.clone(),
        resolution,
        frame_rate,
        long_segments,
        i_frames: writer.iframes.entries.len(),
    };
    let timescale = plan
        .tracks
        .get(plan.video_index.unwrap_or(0))
        .map_or(1.0, |t| f64::from(t.timescale.max(1)));
    Ok(Rendered {
        summary,
        media_uri: media_name,
        i_frames,
        independent_segments: writer.playlist.independent_segments,
        segment_starts: cut.starts.clone(),
        segment_durations: writer
            .playlist
            .segments
            .iter()
            .map(|s| s.duration)
            .collect(),
        first_pts: cut.main_first_pts.map(|p| p as f64 / timescale),
    })
}

/// Writes the master playlist of a single (muxed) rendition, with `session_keys`
/// (EXT-X-SESSION-KEY lines) for encrypted output.
fn write_master(store: &mut dyn StreamStore, r: &Rendered, session_keys: &[String]) -> Result<()> {
    let s = &r.summary;
    // Apple 9.1–9.15: CODECS, RESOLUTION, FRAME-RATE, measured BANDWIDTH and AVERAGE-BANDWIDTH.
    let master = MasterPlaylist {
        independent_segments: r.independent_segments,
        renditions: vec![],
        variants: vec![Variant {
            uri: r.media_uri.clone(),
            bandwidth: s.peak_bandwidth,
            average_bandwidth: Some(s.average_bandwidth),
            codecs: s.codecs.clone(),
            resolution: s.resolution,
            frame_rate: s.frame_rate,
            audio_group: None,
        }],
    };
    let i_frames: Vec<IFrameVariant> = r.i_frames.iter().cloned().collect();
    let text = crate::crypto::playlist::insert_session_keys(
        &master.with_i_frames(&i_frames),
        session_keys,
    );
    put(store, "master.m3u8", text.as_bytes())
}

/// Writes the I-frame playlist of video track `v`; returns its EXT-X-I-FRAME-STREAM-INF.
fn write_i_frames(
    writer: &mut Writer<'_>,
    plan: &Plan,
    v: &TrackInfo,
    cut: &CutStats,
    opts: &PackageOptions,
) -> Result<IFrameVariant> {
    let iframes = &mut writer.iframes;
    iframes.finish(v.timescale, cut.main_end_pts.unwrap_or(0));
    iframes.map = match &writer.muxer {
        Mux::Fmp4(_) => writer.playlist.map.clone(),
        // RFC 8216bis §4.4.3.6: an entry without PAT/PMT needs them from EXT-X-MAP; every
        // segment starts with the same two tables.
        Mux::Ts(m) => writer
            .first_segment
            .clone()
            .filter(|_| writer.ts_needs_map)
            .map(|(uri, offset)| Map {
                uri,
                byterange: Some(ByteRange {
                    length: m.psi_len(),
                    offset,
                }),
            }),
    };
    // EXTINF rounded ≤ TARGETDURATION (RFC 8216bis 4.4.3.1); a keyframe interval never
    // exceeds its segment, but the I-frame EXTINFs are rounded to the millisecond.
    let entries = iframes.as_segments();
    iframes.target_duration = writer
        .playlist
        .target_duration
        .max(MediaPlaylist::target_for(&entries));
    let name = format!("{}_iframes.m3u8", opts.rendition);
    let mut text = iframes.to_string();
    if let Some((aes, _)) = &writer.aes {
        text = aes.iframe_playlist(&text);
    }
    if let Some(s) = &writer.sample_aes {
        text = s.iframe_playlist(&text);
    }
    if let Some(c) = &writer.cbcs {
        text = c.iframe_playlist(&text);
    }
    put(writer.store, &name, text.as_bytes())?;
    // Apple 9.13–9.15 for I-frame streams: peak and average over the I-frame byte ranges.
    let (peak, average) = measure_bandwidth(entries.iter().map(|e| (e.size, e.duration)));
    Ok(IFrameVariant {
        uri: name,
        bandwidth: peak,
        average_bandwidth: Some(average),
        codecs: plan
            .video_index
            .and_then(|vi| plan.codecs.get(vi))
            .cloned()
            .into_iter()
            .collect(),
        resolution: Some((v.width, v.height)),
    })
}

fn put(store: &mut dyn StreamStore, name: &str, data: &[u8]) -> Result<()> {
    store
        .put(name, data)
        .map_err(|e| Error::io(format!("writing {name}"), e))
}

fn append(store: &mut dyn StreamStore, name: &str, data: &[u8]) -> Result<u64> {
    store
        .append(name, data)
        .map_err(|e| Error::io(format!("writing {name}"), e))
}

/// METHOD=AES-128: writes `piece` (`first`: the one that opens its segment) through the cipher
/// into the object begun for `object` — or, `--single-file`, into `single` (reused) and appended
/// to the one file —, and copies its keyframes into the I-frame file (see
/// [`crate::crypto::segment`]). Returns the plaintext bytes written.
fn write_aes_piece(
    (aes, iframe_name): &mut (WholeSegments, String),
    (muxer, buf): (&mut Mux, &mut Vec<u8>),
    (piece, first): (&Segment, bool),
    object: &mut OpenObject,
    store: &mut dyn StreamStore,
    single: Option<&mut Vec<u8>>,
) -> Result<u64> {
    if first {
        aes.begin_segment(piece.index);
    }
    let uri = &object.uri;
    let size = match single {
        None => muxer.write_piece(piece, first, uri, &mut aes.piece_store(store), buf)?,
        Some(single) => {
            let mut joined = Joined {
                store: &mut *store,
                name: None,
                buf: std::mem::take(single),
            };
            joined.buf.clear();
            let size =
                muxer.write_piece(piece, first, uri, &mut aes.piece_store(&mut joined), buf)?;
            *single = joined.buf;
            let at = append(store, uri, single)?;
            if first {
                object.offset = at;
            }
            size
        }
    };
    let psi = match muxer {
        Mux::Ts(m) => Some(m.psi_len()),
        Mux::Fmp4(_) => None,
    };
    let ranges = aes
        .write_iframes(muxer.as_dyn().keyframes(), psi, store, iframe_name)
        .map_err(|e| Error::io(format!("writing {iframe_name}"), e))?;
    object.keys.extend(ranges);
    Ok(size)
}

/// The AES-128 state of a run with `--encrypt aes-128` (RFC 8216bis 4.4.4.4), and the name of
/// its I-frame file (see [`crate::crypto::segment`]).
fn aes_128(opts: &PackageOptions, plan: &Plan) -> Result<Option<(WholeSegments, String)>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::Aes128)
    else {
        return Ok(None);
    };
    let name = format!("{}_iframes.{}", plan.base, plan.ext);
    Ok(Some((
        WholeSegments::new(enc.clone(), plan.video_index.is_some()),
        name,
    )))
}

/// The SAMPLE-AES state of a run with `--encrypt sample-aes` (MPEG-TS only: in fMP4, SAMPLE-AES
/// is CENC `cbcs`, RFC 8216bis 4.4.4.4).
fn sample_aes(opts: &PackageOptions, plan: &Plan) -> Result<Option<SampleAes>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::SampleAes)
    else {
        return Ok(None);
    };
    if opts.format != Format::Ts {
        return Err(Error::Encryption(
            "--encrypt sample-aes is the MPEG-TS format (Apple's MPEG-2 Stream Encryption); \
             for fMP4 use --encrypt cbcs, or add --format ts"
                .into(),
        ));
    }
    Ok(Some(SampleAes::new(enc.clone(), &plan.tracks)?))
}

/// The cbcs state of a run with `--encrypt cbcs` (fMP4 only, ISO/IEC 23001-7 §10.4); protects
/// the fMP4 muxer (its init segment and fragments).
fn cbcs(opts: &PackageOptions, plan: &Plan, muxer: &mut Mux) -> Result<Option<Cbcs>> {
    let Some(enc) = opts
        .encryption
        .as_ref()
        .filter(|e| e.method == Method::Cbcs)
    else {
        return Ok(None);
    };
    let Mux::Fmp4(m) = muxer else {
        return Err(Error::Encryption(
            "--encrypt cbcs is Common Encryption for fMP4; add --format fmp4, or use \
             --encrypt sample-aes (or aes-128) for MPEG-TS"
                .into(),
        ));
    };
    let c = Cbcs::new(enc.clone(), &plan.tracks)?;
    m.protect(c.protection())?;
    Ok(Some(c))
}
