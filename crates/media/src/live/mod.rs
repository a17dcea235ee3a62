// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live HLS and Low-Latency HLS, sans-IO: samples in, store operations out.
//!
//! [`LiveStream`] takes samples as they arrive (from the MPEG-TS demuxer fed by UDP, TCP or
//! stdin), with the wall-clock time of arrival passed in by the caller, and returns
//! [`Output`]s the IO layer performs in order: `Put` objects, `Delete` expired ones, and
//! `Updated` when a new playlist is out (to wake blocking playlist requests, which are decided
//! by [`check_blocking_request`]).
//!
//! Data path: cut ([`cut`]: segments on keyframes, LL-HLS parts at PART-TARGET) → mux
//! (`TsMuxer` / `Fmp4Muxer`) → window ([`window`]: MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE,
//! deletion times, RFC 8216bis 6.2.2) → playlist ([`crate::playlist`]).
//!
//! Objects, relative to the store:
//! - `master.m3u8`, written once the first segment is complete, again whenever the measured
//!   BANDWIDTH / AVERAGE-BANDWIDTH leave their tolerance (`live::bitrate`; unless
//!   [`LiveConfig::bandwidth`] is set) and after [`LiveStream::set_tracks`]
//!   — unless [`LiveConfig::write_master`] is off: several renditions of one presentation
//!   share a multivariant playlist that a [`RenditionGroup`] builds from their variants, and
//!   with LL-HLS each one's playlists carry EXT-X-RENDITION-REPORTs of the others;
//! - `{rendition}.m3u8`, the media playlist, after every segment (and every part with LL-HLS);
//! - `{rendition}_iframes.m3u8`, with video: the I-frame playlist (Apple 6.1), one entry per
//!   segment — its first keyframe — in the same window, rewritten when the window changes;
//!   `master.m3u8` lists it with EXT-X-I-FRAME-STREAM-INF;
//! - `{rendition}_{run}_init.mp4` (fMP4; `…_init{k}.mp4` after the k-th track change);
//! - `{rendition}_{run}_{msn:06}.m4s|.ts` segments, `{rendition}_{run}_{msn:06}.{part}.m4s` parts.
//!
//! With LL-HLS an fMP4 segment is `styp` followed by the `moof`+`mdat` fragments of its parts,
//! byte for byte: each sample is muxed once, the `mfhd` sequence numbers and `tfdt`s run on
//! across parts and segments, and a segment is exactly its parts (a CMAF segment of several
//! CMAF chunks, ISO/IEC 23000-19 §7.3.3). Parts are emitted whole when complete; the server
//! holds a request for the hinted part (EXT-X-PRELOAD-HINT, 6.2.6) until its `Put` arrives.
//!
//! EXT-X-TARGETDURATION is fixed for the whole stream (6.2.1) before its first playlist:
//! `ceil(segment_duration)`, or more when the input's keyframe interval, measured on the
//! first two keyframes while their samples are held (`live::probe`), is longer; a continued
//! playlist keeps its old target ([`LiveStream::recover`]). Segments are cut early when the
//! next keyframe is predicted too late (see `live::cut`); a later GOP longer than the target ends
//! its segment at the target, drops the input up to the next keyframe and starts a new
//! timeline there (EXT-X-DISCONTINUITY), logged (`tracing::warn!`) — never an EXTINF that
//! rounds above the target (4.4.3.1).

mod bitrate;
mod blocking;
mod cut;
#[cfg(test)]
mod ffmpeg_tests;
mod group;
pub mod pdt;
mod probe;
mod recover;
#[cfg(test)]
mod restart_tests;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing_tests;
mod variant;
mod window;

pub use blocking::{check_blocking_request, BlockDecision, PlaylistState};
pub use group::RenditionGroup;
pub use window::WindowKind;

use bytes::Bytes;

use crate::codec::codec_string;
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::ts::TsMuxer;
use crate::mux::SegmentMuxer as _;
use crate::package::Format;
use crate::playlist::ll::RenditionReport;
use crate::playlist::{IFrameVariant, Part, Variant};
use crate::sample::{Sample, TrackInfo};
use crate::{Error, Result};

use cut::Cutter;
use window::Window;

/// Live packaging settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// Segment container. LL-HLS parts need [`Format::Fmp4`]. Default fMP4.
    pub format: Format,
    /// Wanted segment duration, seconds; EXT-X-TARGETDURATION is its ceiling, or more when
    /// the input's keyframe interval is longer (see `live::probe`). Default 2.
    pub segment_duration: f64,
    /// Segments kept in a sliding window (Apple 8.11: at least 6). Default 6.
    pub window: usize,
    /// Sliding, event or DVR window. Default sliding.
    pub kind: WindowKind,
    /// LL-HLS part target duration, seconds (at least 0.2 s, at most the target duration).
    /// `None` (default): classic live HLS.
    pub part_duration: Option<f64>,
    /// Per-run id in object names, so a restarted stream never reuses a URL. Default "0".
    pub run_id: String,
    /// Rendition name: the media playlist is `{rendition}.m3u8`. Default "stream".
    pub rendition: String,
    /// Master playlist BANDWIDTH/AVERAGE-BANDWIDTH in bits/s, fixed; `None` (default):
    /// measured on the segments as they complete and revised when out of tolerance (see
    /// `live::bitrate`; a live stream's peak is not known in advance).
    pub bandwidth: Option<u64>,
    /// Allow HEVC in MPEG-TS, which Apple devices reject (Apple 1.5). Default false.
    pub allow_hevc_ts: bool,
    /// Write `master.m3u8` with this rendition as its only variant. Default true. False when
    /// several renditions share one multivariant playlist, which the caller writes from each
    /// one's [`LiveStream::variant`] (see [`RenditionGroup`]).
    pub write_master: bool,
    /// Cut segments at the first keyframe of each segment-duration interval of the input
    /// timeline instead of counting from the stream's first keyframe (see [`cut`]), so that
    /// the renditions of one encoder ladder, fed as separate inputs that started at different
    /// moments, still cut at the same frames (RFC 8216bis 6.2.4: matching content in every
    /// variant). Default false.
    pub aligned_cuts: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            format: Format::Fmp4,
            segment_duration: 2.0,
            window: 6,
            kind: WindowKind::Sliding,
            part_duration: None,
            run_id: "0".into(),
            rendition: "stream".into(),
            bandwidth: None,
            allow_hevc_ts: false,
            write_master: true,
            aligned_cuts: false,
        }
    }
}

/// A store operation for the IO layer, to be performed in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write an object atomically (init segment, segment, part, playlist).
    Put { name: String, bytes: Bytes },
    /// Remove an object whose availability time (RFC 8216bis 6.2.2) is over.
    Delete { name: String },
    /// LL-HLS: the next bytes of the part `name` while it is being written (a CMAF chunk:
    /// `moof`+`mdat` of the samples so far). The part's chunks, in order, are its bytes; its
    /// `Put` follows once it is complete. An origin can stream a request for the
    /// preload-hinted part from these (RFC 8216bis 6.2.6) instead of waiting for the `Put`.
    Chunk { name: String, bytes: Bytes },
    /// LL-HLS: the part `name` announced by `Chunk`s will not be completed (a muxer error
    /// or the end of the input cut it short); its bytes so far are not a part.
    Abandon { name: String },
    /// A new playlist is out (its `Put` came just before): the newest segment `msn` and, with
    /// LL-HLS, part. Wake blocking requests with [`LiveStream::state`].
    Updated { msn: u64, part: Option<u64> },
}

/// The muxer of the current track set.
#[derive(Debug)]
enum Muxer {
    Ts(TsMuxer),
    Fmp4(Fmp4Muxer),
}

impl Muxer {
    fn new(format: Format, tracks: &[TrackInfo]) -> Result<Self> {
        Ok(match format {
            Format::Ts => Muxer::Ts(TsMuxer::new(tracks.to_vec())?),
            Format::Fmp4 => Muxer::Fmp4(Fmp4Muxer::new(tracks.to_vec())?),
        })
    }

    fn extension(&self) -> &'static str {
        match self {
            Muxer::Ts(_) => "ts",
            Muxer::Fmp4(_) => "m4s",
        }
    }
}

/// The segment in progress.
#[derive(Debug)]
struct Building {
    msn: u64,
    pdt: String,
    discontinuity: bool,
    init: Option<String>,
    /// First main-track dts.
    start_dts: i64,
    /// Media time at its start, seconds on the stream's running clock.
    start_time: f64,
    /// Samples of the whole segment (classic) or of the current part's chunk in progress
    /// (LL-HLS).
    samples: Vec<Sample>,
    /// LL-HLS: the chunks of the current part written so far.
    part_bytes: Vec<u8>,
    /// LL-HLS: main-track ticks in the chunk in progress.
    chunk_ticks: i64,
    /// LL-HLS: `styp` and the fragments of the finished parts.
    bytes: Vec<u8>,
    parts: Vec<Part>,
    /// The current part starts with a random-access sample.
    part_independent: bool,
    main_frames: u64,
    /// The segment's first keyframe as a range of the segment (its I-frame entry).
    key: Option<crate::mux::KeyframeRange>,
}

/// A complete segment of a live stream ([`LiveStream::segment_summary`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSummary {
    pub msn: u64,
    /// EXTINF, seconds.
    pub duration: f64,
    pub bytes: u64,
    /// EXT-X-DISCONTINUITY precedes it.
    pub discontinuity: bool,
    /// Its LL-HLS parts still listed (all of them near the live edge, where a new segment
    /// is); `None` without LL-HLS.
    pub parts: Option<u64>,
}

/// One live rendition being packaged. See the [module docs](self).
#[derive(Debug)]
pub struct LiveStream {
    config: LiveConfig,
    tracks: Vec<TrackInfo>,
    codecs: Vec<String>,
    /// EXT-X-TARGETDURATION, fixed for the stream (RFC 8216bis 6.2.1).
    target: u64,
    cutter: Cutter,
    muxer: Muxer,
    /// Current initialization section (fMP4): name and bytes, and whether it was put.
    init: Option<(String, Bytes)>,
    init_written: bool,
    /// Track changes so far (init segment names).
    generation: u32,
    window: Window,
    building: Option<Building>,
    /// The next segment starts with EXT-X-DISCONTINUITY.
    discontinuity_next: bool,
    /// Media time at the end of the last complete segment.
    media_end: f64,
    /// EXT-X-PROGRAM-DATE-TIME of new segments.
    pdt_clock: pdt::PdtClock,
    /// A new stream's samples, held until the keyframe interval fixes the target ([`probe`]).
    probe: Option<probe::Probe>,
    /// The target the other renditions of the presentation settled on, which this one takes
    /// instead of measuring its own (RFC 8216bis 6.2.4, Apple 8.2: one target across variants).
    shared_target: Option<u64>,
    /// Parts of the last complete segment (for the blocking part-index rollover).
    last_parts: u64,
    /// (dts, dts + duration) of the last main-track sample, for jump detection.
    last_main: Option<(i64, i64)>,
    ended: bool,
    master_written: bool,
    /// This rendition's EXT-X-STREAM-INF, measured on the segments of the track set.
    variant: Option<Variant>,
    /// Bit rates of the segments of the current track set, and of their I-frame entries.
    meter: bitrate::Meter,
    i_meter: bitrate::Meter,
    /// Its EXT-X-I-FRAME-STREAM-INF, with video.
    i_frame_variant: Option<IFrameVariant>,
    /// The I-frame playlist put last.
    iframes_written: Option<String>,
    /// EXT-X-RENDITION-REPORTs of the other renditions, written with LL-HLS.
    reports: Vec<RenditionReport>,
    /// Outputs produced before an error, returned by the next call.
    pending: Vec<Output>,
    state: PlaylistState,
    /// Samples pushed, for error messages.
    pushed: u64,
    /// Segments ended early because the keyframe interval outgrew the target.
    overruns: u64,
}

/// Checks a name used inside object names: non-empty, `[A-Za-z0-9._-]`, not starting with a dot.
fn check_name(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Playlist(format!(
            "{what} {value:?} must be non-empty, of letters, digits, '.', '_' or '-', and not start with '.'"
        )))
    }
}

/// Validates the configuration; returns the target duration.
fn check_config(c: &LiveConfig) -> Result<u64> {
    check_name("rendition", &c.rendition)?;
    check_name("run id", &c.run_id)?;
    let bad = |msg: String| Err(Error::Playlist(msg));
    if !(c.segment_duration.is_finite() && c.segment_duration > 0.0 && c.segment_duration <= 3600.0)
    {
        return bad(format!(
            "segment duration {} s must be in (0, 3600]",
            c.segment_duration
        ));
    }
    let target = c.segment_duration.ceil() as u64;
    if c.window == 0 {
        return bad("the live window needs at least one segment".into());
    }
    if c.window < 6 {
        tracing::warn!(
            window = c.window,
            "Apple HLS 8.11 asks for at least 6 segments in a live playlist"
        );
    }
    if let WindowKind::Dvr(secs) = c.kind {
        if !(secs.is_finite() && secs > 0.0) {
            return bad(format!("DVR window of {secs} s must be positive"));
        }
    }
    if let Some(p) = c.part_duration {
        if c.format != Format::Fmp4 {
            return bad("LL-HLS parts are produced for fMP4 segments only".into());
        }
        // HLS-RULES: parts below ~200 ms broke hls.js; a part cannot exceed its segment.
        if !(p.is_finite() && p >= 0.2 && p <= target as f64) {
            return bad(format!(
                "part duration {p} s must be between 0.2 s and the target duration ({target} s)"
            ));
        }
    }
    Ok(target)
}

/// Rejects HEVC in MPEG-TS unless allowed (Apple HLS authoring spec 1.5).
fn check_tracks(c: &LiveConfig, tracks: &[TrackInfo]) -> Result<()> {
    if tracks.is_empty() {
        return Err(Error::NoTracks);
    }
    if c.format == Format::Ts && !c.allow_hevc_ts {
        crate::package::refuse_hevc(
            tracks,
            "Apple devices require HEVC in fMP4 (HLS authoring spec 1.5); use fMP4 or allow HEVC \
             in TS",
        )?;
    }
    Ok(())
}

impl LiveStream {
    /// A live stream of `tracks` (`Sample::track` indexes this list). Fails on an invalid
    /// configuration or tracks the chosen container cannot carry.
    pub fn new(config: LiveConfig, tracks: Vec<TrackInfo>) -> Result<Self> {
        let target = check_config(&config)?;
        let mut stream = Self::with_target(config, tracks, target)?;
        // The target is final once the keyframe interval is known (see `probe`).
        stream.probe = Some(probe::Probe::new(
            stream.cutter.main_track(),
            stream.cutter.timescale(),
            target,
        ));
        Ok(stream)
    }

    fn with_target(config: LiveConfig, tracks: Vec<TrackInfo>, target: u64) -> Result<Self> {
        check_tracks(&config, &tracks)?;
        let codecs = tracks
            .iter()
            .map(|t| codec_string(&t.config))
            .collect::<Result<Vec<_>>>()?;
        let muxer = Muxer::new(config.format, &tracks)?;
        let nominal = config.segment_duration.min(target as f64);
        let cutter = Cutter::new(
            &tracks,
            nominal,
            target,
            config.part_duration,
            config.aligned_cuts,
        );
        let window = Window::new(config.kind, config.window, target);
        let mut stream = LiveStream {
            codecs,
            target,
            cutter,
            muxer,
            init: None,
            init_written: false,
            generation: 0,
            window,
            building: None,
            discontinuity_next: false,
            media_end: 0.0,
            pdt_clock: pdt::PdtClock::default(),
            probe: None,
            shared_target: None,
            last_parts: 0,
            last_main: None,
            ended: false,
            master_written: false,
            variant: None,
            meter: bitrate::Meter::default(),
            i_meter: bitrate::Meter::default(),
            i_frame_variant: None,
            iframes_written: None,
            reports: Vec::new(),
            pending: Vec::new(),
            state: PlaylistState::default(),
            pushed: 0,
            overruns: 0,
            config,
            tracks,
        };
        stream.init = stream.make_init()?;
        Ok(stream)
    }

    /// EXT-X-TARGETDURATION of this stream: final once the first playlist is out (before, a
    /// new stream may still raise it for a long keyframe interval, see `live::probe`).
    pub fn target_duration(&self) -> u64 {
        self.target
    }

    /// Whether EXT-X-TARGETDURATION is final: false while a new stream is still learning its
    /// input's keyframe interval (see `live::probe`).
    pub fn target_is_final(&self) -> bool {
        self.probe.is_none()
    }

    /// The EXT-X-TARGETDURATION the other renditions of the presentation settled on (RFC
    /// 8216bis 6.2.4, Apple 8.2: every variant has the same): while this stream's target is
    /// not final, it takes this one at its next sample instead of measuring its own (a
    /// longer keyframe interval is then handled as in `live::cut`). `None` clears it.
    pub fn share_target(&mut self, target: Option<u64>) {
        self.shared_target = target.filter(|t| *t > 0);
    }

    /// Name of the media playlist object.
    pub fn playlist_name(&self) -> String {
        format!("{}.m3u8", self.config.rendition)
    }

    /// The latest published playlist state (for the HTTP layer's watch channel). Empty (no
    /// playlist bytes, `last_msn` and `next_parts` zero) until the first publication, except
    /// after [`LiveStream::recover`].
    pub fn state(&self) -> &PlaylistState {
        &self.state
    }

    /// This rendition as a variant of a multivariant playlist (URI relative to it, BANDWIDTH
    /// measured on the segments of the current track set so far (see `live::bitrate`),
    /// FRAME-RATE on its first, CODECS, RESOLUTION; Apple 9.1–9.15). `None` before the
    /// first segment.
    pub fn variant(&self) -> Option<&Variant> {
        self.variant.as_ref()
    }

    /// This rendition's EXT-X-I-FRAME-STREAM-INF (Apple 6.1), with video: `None` without,
    /// and before the first segment.
    pub fn i_frame_variant(&self) -> Option<&IFrameVariant> {
        self.i_frame_variant.as_ref()
    }

    /// Name of the I-frame playlist object (written with video).
    pub fn i_frame_playlist_name(&self) -> String {
        format!("{}_iframes.m3u8", self.config.rendition)
    }

    /// Sets the EXT-X-RENDITION-REPORTs (RFC 8216bis 4.4.5.4) of the other renditions of
    /// the presentation, written into every playlist published from now on (LL-HLS only).
    /// Call it with their latest [`LiveStream::rendition_report`]s before pushing, so that
    /// each playlist reports them as they stand when it is produced.
    pub fn set_rendition_reports(&mut self, reports: Vec<RenditionReport>) {
        self.reports = reports;
    }

    /// This rendition's report for the other renditions' playlists, as of its latest
    /// published playlist: URI relative to the shared directory, LAST-MSN / LAST-PART of the
    /// newest part (or segment without parts). `None` before anything is published.
    pub fn rendition_report(&self) -> Option<RenditionReport> {
        let s = &self.state;
        if s.last_msn.is_none() && s.next_parts == 0 {
            return None;
        }
        let (last_msn, last_part) = s.newest();
        Some(RenditionReport {
            uri: self.playlist_name(),
            last_msn,
            last_part,
        })
    }

    /// Renders the current media playlist; with `skip`, the Playlist Delta Update when one is
    /// offered and would skip anything (RFC 8216bis 6.2.5.1), else the full playlist.
    pub fn render_playlist(&self, skip: bool) -> String {
        let full = || String::from_utf8_lossy(&self.state.full).into_owned();
        match (&self.state.delta, skip) {
            (Some(d), true) => String::from_utf8_lossy(d).into_owned(),
            _ => full(),
        }
    }

    /// A complete segment still in the window, as a `segment.published` event reports it.
    pub fn segment_summary(&self, msn: u64) -> Option<SegmentSummary> {
        let e = self.window.segments.iter().rev().find(|e| e.msn == msn)?;
        Some(SegmentSummary {
            msn,
            duration: e.duration,
            bytes: e.size,
            discontinuity: e.discontinuity,
            parts: self.config.part_duration.map(|_| e.parts.len() as u64),
        })
    }

    /// The LL-HLS parts (EXT-X-PART, RFC 8216bis 4.4.4.9) listed for segment `msn`: of the
    /// segment in progress, or of a complete one while they are still listed; empty
    /// otherwise and without LL-HLS.
    pub fn listed_parts(&self, msn: u64) -> &[Part] {
        if let Some(b) = self.building.as_ref().filter(|b| b.msn == msn) {
            return &b.parts;
        }
        self.window
            .segments
            .iter()
            .rev()
            .find(|e| e.msn == msn)
            .map_or(&[], |e| &e.parts)
    }

    /// When the next deletion falls due: call [`LiveStream::poll`] then, even without input.
    pub fn next_deadline(&self) -> Option<std::time::SystemTime> {
        self.window.next_deadline()
    }

    /// Segments ended before a keyframe because the input's keyframe interval outgrew
    /// EXT-X-TARGETDURATION (each followed by dropped input and a discontinuity; see
    /// `live::cut`).
    pub fn overrun_segments(&self) -> u64 {
        self.overruns
    }

    /// Name of the current track set's initialization section.
    fn init_name(&self) -> String {
        let base = format!("{}_{}_init", self.config.rendition, self.config.run_id);
        if self.generation == 0 {
            format!("{base}.mp4")
        } else {
            format!("{base}{}.mp4", self.generation)
        }
    }

    /// The initialization section of the current muxer (fMP4) and its name.
    fn make_init(&mut self) -> Result<Option<(String, Bytes)>> {
        let name = self.init_name();
        match &mut self.muxer {
            Muxer::Fmp4(m) => Ok(m.init_segment()?.map(|b| (name, b))),
            Muxer::Ts(_) => Ok(None),
        }
    }

    fn low_latency(&self) -> bool {
        self.config.part_duration.is_some()
    }
}
