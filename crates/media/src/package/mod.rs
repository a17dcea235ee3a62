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

pub mod jit;
pub mod jit_ladder;
#[cfg(test)]
mod jit_tests;
pub mod jit_ts;
pub mod ladder;
pub mod ladder_audio;
pub mod ladder_build;
pub mod ladder_text;
mod playlists;
mod render;

use std::io;

use crate::codec::codec_string;
use crate::crypto::sample_aes;
use crate::crypto::{Encryption, Method};
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::ts::TsMuxer;
use crate::playlist::IFrameVariant;
use crate::sample::{CodecConfig, Demuxer, TrackInfo, TrackKind};
use crate::segmenter::Segmenter;
use crate::store::Store;
use crate::{Error, Result};
use playlists::{write_master, write_playlists};
use render::{Joined, Mux, Observer, Writer};

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
    /// Whether this store only counts the bytes of media objects (a just-in-time plan): the
    /// TS muxer then counts its packets instead of writing them ([`Self::write_count`]).
    fn counts_only(&self) -> bool {
        false
    }
    /// Adds `n` bytes, counted and not written, to the object begun last; only for a store
    /// that [`Self::counts_only`].
    fn write_count(&mut self, n: u64) -> io::Result<()> {
        Err(io::Error::other(format!(
            "{n} bytes counted, not written, for a store that keeps bytes"
        )))
    }
    /// Appends `n` bytes, counted and not written, to object `name` (AES-128's I-frame file
    /// in a plan); returns where they start. Only for a store that [`Self::counts_only`].
    fn append_count(&mut self, name: &str, n: u64) -> io::Result<u64> {
        Err(io::Error::other(format!(
            "{name}: {n} bytes counted, not written, for a store that keeps bytes"
        )))
    }
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
    let session_keys = session_keys(opts, rendered.summary.segments);
    write_master(store, &rendered, &session_keys)?;
    Ok(rendered.summary)
}

/// The master's EXT-X-SESSION-KEY lines (RFC 8216bis 4.4.6.5: one per key, so players can
/// load them ahead) for renditions of at most `segments` segments encrypted as `opts` says.
pub fn session_keys(opts: &PackageOptions, segments: usize) -> Vec<String> {
    opts.encryption
        .as_ref()
        .map(|e| e.session_key_tags(segments as u64))
        .unwrap_or_default()
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
    render_rendition(demux, opts, cut_times, store, progress, None)
}

/// [`package_rendition`], telling `observer` of every piece before it is rendered.
fn render_rendition<'s>(
    demux: &mut dyn Demuxer,
    opts: &PackageOptions,
    cut_times: &[f64],
    store: &'s mut dyn StreamStore,
    progress: &mut dyn FnMut(Progress),
    observer: Option<Box<Observer<'s>>>,
) -> Result<Rendered> {
    let (plan, muxer) = Plan::new(demux.tracks(), opts)?;
    let mut writer = Writer::new(store, &plan, muxer, opts)?;
    writer.observer = observer;
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
            refuse_hevc(
                &tracks,
                "Apple devices require HEVC in fMP4 (HLS authoring spec 1.5); use --format fmp4 \
                 or force it with --allow-hevc-ts",
            )?;
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

/// Refuses `tracks` if one is HEVC, for MPEG-TS output (Apple HLS authoring spec 1.5), with
/// `why` (what the user can do instead).
pub(crate) fn refuse_hevc(tracks: &[TrackInfo], why: &'static str) -> Result<()> {
    match tracks
        .iter()
        .find(|t| matches!(t.config, CodecConfig::Hevc { .. }))
    {
        Some(t) => Err(Error::FormatMismatch {
            codec: format!("HEVC (track {})", t.id),
            format: "MPEG-TS",
            why,
        }),
        None => Ok(()),
    }
}
