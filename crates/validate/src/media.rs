// SPDX-License-Identifier: MIT OR Apache-2.0
//! Segment checks: every segment of a media playlist is fetched (its byte range, behind its
//! EXT-X-MAP) and demuxed with our own demuxers, then judged against the playlist — present
//! (RFC 8216bis 6.2.1), decodable (3.1), a keyframe first (4.4.2.1, Apple 7.4), real duration
//! vs EXTINF and TARGETDURATION (4.4.3.1, 4.4.4.1, Apple 8.1), timestamps continuous unless a
//! DISCONTINUITY says otherwise (4.4.4.3, Apple 7.2–7.3). What is measured on the way (codecs,
//! resolution, frame rate, bit rates) feeds the multivariant checks.

use std::collections::HashMap;

use media::{CodecConfig, TrackKind};

use crate::demux::{demux, other_format, Container, Demuxed, Other};
use crate::fetch::{Fetched, Fetcher};
use crate::playlist::{MapRef, MediaPlaylist, Segment};
use crate::report::{Location, Report};

/// What the segments of one rendition measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// RFC 6381 strings of the tracks found (first segment that decoded).
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub has_video: bool,
    /// (bits, EXTINF seconds) of each segment read, in playlist order.
    pub sizes: Vec<(f64, f64)>,
    /// The playlist's TARGETDURATION, for the peak's window.
    pub target: Option<f64>,
    pub segments: usize,
    pub container: Option<Container>,
}

impl Measured {
    /// Counts one segment of `len` bytes and `extinf` seconds into the bit rates.
    pub fn add_segment(&mut self, len: usize, extinf: f64) {
        self.sizes.push((len as f64 * 8.0, extinf));
        self.segments += 1;
    }

    /// Adds what a later batch of segments of the same rendition measured.
    pub fn absorb(&mut self, o: Measured) {
        if self.codecs.is_empty() {
            self.codecs = o.codecs;
            self.resolution = o.resolution;
            self.frame_rate = o.frame_rate;
        }
        self.has_video |= o.has_video;
        self.sizes.extend(o.sizes);
        self.target = self.target.or(o.target);
        self.segments += o.segments;
        self.container = self.container.or(o.container);
    }

    /// Peak segment bit rate (RFC 8216bis 4.4.6.2): the largest bit rate of any contiguous
    /// run of segments lasting between 0.5 and 1.5 target durations — so a short last segment
    /// does not count alone. Without a target duration, or when no run fits, per segment.
    pub fn peak_bps(&self) -> f64 {
        let t = self.target.unwrap_or(0.0);
        let mut best = 0.0f64;
        for i in 0..self.sizes.len() {
            let (mut bits, mut secs) = (0.0, 0.0);
            for &(b, s) in self.sizes.get(i..).unwrap_or_default() {
                bits += b;
                secs += s;
                if secs > 1.5 * t {
                    break;
                }
                if secs >= 0.5 * t && secs > 0.0 {
                    best = best.max(bits / secs);
                }
            }
        }
        if best > 0.0 {
            return best;
        }
        self.peak_single_bps()
    }

    /// The largest bit rate of a single segment (bits / EXTINF).
    pub fn peak_single_bps(&self) -> f64 {
        self.sizes
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(b, s)| b / s)
            .fold(0.0, f64::max)
    }

    /// All bits over all EXTINF, bits/s.
    pub fn average_bps(&self) -> f64 {
        let (bits, secs) = self
            .sizes
            .iter()
            .fold((0.0, 0.0), |(b, s), (sb, ss)| (b + sb, s + ss));
        if secs > 0.0 {
            bits / secs
        } else {
            0.0
        }
    }
}

/// An EXT-X-MAP resource: URI and byte range (offset, length).
pub(crate) type InitKey = (String, Option<(u64, u64)>);

/// A segment ready to demux.
struct Loaded {
    bytes: Vec<u8>,
    init: Option<Vec<u8>>,
    content_type: Option<String>,
}

/// End of the previous segment, per track, for the continuity check.
#[derive(Debug, Clone)]
struct Previous {
    msn: u64,
    container: Container,
    /// (track kind, end in seconds, typical sample duration in seconds) per track.
    ends: Vec<(TrackKind, f64, f64)>,
}

/// Checks segments one by one, carrying the state that spans them (live follow feeds it the
/// new segments of each reload).
pub struct SegmentChecker<'a> {
    fetcher: &'a Fetcher,
    inits: HashMap<InitKey, Option<Vec<u8>>>,
    keys: crate::key::Keys,
    /// Last continuity counter per PID of the previous TS segment, and its media sequence number.
    counters: Option<(u64, HashMap<u16, u8>)>,
    prev: Option<Previous>,
    /// Start of the first segment of the current discontinuity domain, and the EXTINF sum since.
    drift: Option<(f64, f64)>,
    drift_reported: bool,
    pub measured: Measured,
}

const S_PRESENT: &str = "RFC 8216bis 6.2.1";
const S_FORMAT: &str = "RFC 8216bis 3.1";
const S_TS: &str = "RFC 8216bis 3.1.1";
const S_MAP: &str = "RFC 8216bis 4.4.4.5";
const S_TARGET: &str = "RFC 8216bis 4.4.3.1";
const S_EXTINF: &str = "RFC 8216bis 4.4.4.1";
const S_DISC: &str = "RFC 8216bis 4.4.4.3";
const S_INDEPENDENT: &str = "RFC 8216bis 4.4.2.1";

impl<'a> SegmentChecker<'a> {
    pub fn new(fetcher: &'a Fetcher) -> Self {
        SegmentChecker {
            fetcher,
            inits: HashMap::new(),
            keys: crate::key::Keys::default(),
            counters: None,
            prev: None,
            drift: None,
            drift_reported: false,
            measured: Measured::default(),
        }
    }

    /// Fetches and demuxes the init segment of `map` (once per map).
    fn init(&mut self, map: &MapRef, report: &mut Report) -> Option<Vec<u8>> {
        let key = (map.uri.clone(), map.range.map(|r| (r.offset, r.len)));
        if let Some(done) = self.inits.get(&key) {
            return done.clone();
        }
        let got = fetch_ok(self.fetcher, &map.uri, key.1, report).map(|g| g.body);
        self.inits.insert(key, got.clone());
        got
    }

    /// Checks one segment of `pl`; `independent` is EXT-X-INDEPENDENT-SEGMENTS from the media
    /// or the multivariant playlist.
    pub fn check(
        &mut self,
        pl: &MediaPlaylist,
        seg: &Segment,
        independent: bool,
        report: &mut Report,
    ) {
        self.measured.target = pl.target.map(|t| t as f64);
        let Some(d) = self.load(seg, report) else {
            // Nothing to compare the next segment with.
            self.prev = None;
            return;
        };
        let Loaded {
            bytes,
            init,
            content_type,
        } = d;
        let d = match demux(&bytes, init.as_deref(), false) {
            Ok(d) => d,
            Err(e) => {
                let section = if e.unknown_format {
                    S_FORMAT
                } else if looks_ts(&bytes) {
                    S_TS
                } else {
                    "RFC 8216bis 3.1.2"
                };
                let msg = format!("segment cannot be decoded: {}", e.msg);
                report.must(section, &seg.uri, Location::Byte(e.offset), msg);
                self.prev = None;
                return;
            }
        };
        self.check_container(pl, seg, &d, &bytes, report);
        if d.container == Container::Ts {
            self.check_counters(seg, &bytes, report);
        }
        check_mime(seg, d.container, content_type.as_deref(), report);
        self.check_start(pl, seg, &d, independent, report);
        self.check_duration(pl, seg, &d, report);
        self.check_continuity(&pl.uri, seg, &d, report);
        self.learn(&d);
    }

    /// The segment's bytes in the clear, with its init segment: fetched (its byte range),
    /// counted into the bit rates, decrypted (AES-128). None when there is nothing to demux:
    /// a gap, SAMPLE-AES, a fetch or decryption that failed (reported), WebVTT or packed audio
    /// (judged here).
    fn load(&mut self, seg: &Segment, report: &mut Report) -> Option<Loaded> {
        if seg.gap {
            return None;
        }
        let aes = match &seg.key {
            None => None,
            Some(k) if k.method == "AES-128" => {
                let key = self.keys.get(self.fetcher, k, report)?;
                Some((key, crate::key::iv(k, seg.msn)))
            }
            // SAMPLE-AES: encrypted samples are not checked (the tag itself is).
            Some(_) => return None,
        };
        let init = match &seg.map {
            Some(m) => Some(self.init(m, report)?),
            None => None,
        };
        let range = seg.range.map(|r| (r.offset, r.len));
        let got = fetch_ok(self.fetcher, &seg.uri, range, report)?;
        report.segments += 1;
        if let Some(r) = seg.range.filter(|r| (got.body.len() as u64) < r.len) {
            let msg = format!(
                "byte range {}@{} reaches past the end of the resource ({} bytes read)",
                r.len,
                r.offset,
                got.body.len()
            );
            report.must(
                S_PRESENT,
                &seg.uri,
                Location::Byte(got.body.len() as u64),
                msg,
            );
        }
        self.measured.add_segment(got.body.len(), seg.duration);
        let bytes = match aes.map(|(key, iv)| crate::key::decrypt(&got.body, &key, &iv)) {
            None => got.body,
            Some(Ok(plain)) => plain,
            Some(Err(e)) => {
                let msg = format!("AES-128 segment cannot be decrypted: {e}");
                report.must("RFC 8216bis 4.4.4.4", &seg.uri, Location::Whole, msg);
                return None;
            }
        };
        if let Some(other) = other_format(&bytes) {
            check_other(seg, other, report);
            return None;
        }
        Some(Loaded {
            bytes,
            init,
            content_type: got.content_type,
        })
    }

    fn check_container(
        &mut self,
        pl: &MediaPlaylist,
        seg: &Segment,
        d: &Demuxed,
        bytes: &[u8],
        report: &mut Report,
    ) {
        match d.container {
            Container::Ts if !bytes.len().is_multiple_of(188) => {
                let whole = bytes.len() / 188 * 188;
                report.must(S_TS, &seg.uri, Location::Byte(whole as u64), format!("{} bytes is not a whole number of 188-byte transport packets: the last packet is cut", bytes.len()));
            }
            Container::Fmp4 if seg.map.is_none() => {
                report.must(
                    S_MAP,
                    &pl.uri,
                    Location::Line(seg.line),
                    format!("{}: fMP4 segment without EXT-X-MAP (Apple 8.20)", name(seg)),
                );
            }
            _ => {}
        }
        if d.tracks.is_empty() || d.times.iter().all(Option::is_none) {
            report.must(
                S_FORMAT,
                &seg.uri,
                Location::Whole,
                "segment holds no audio or video sample",
            );
        }
        let hevc = d
            .tracks
            .iter()
            .any(|t| matches!(t.config, CodecConfig::Hevc { .. }));
        if d.container == Container::Ts && hevc {
            report.must(
                "Apple 1.5",
                &seg.uri,
                Location::Whole,
                "HEVC in MPEG-TS: Apple devices need HEVC in fMP4",
            );
        }
    }

    fn check_start(
        &mut self,
        pl: &MediaPlaylist,
        seg: &Segment,
        d: &Demuxed,
        independent: bool,
        report: &mut Report,
    ) {
        if pl.i_frames_only {
            return;
        }
        for (info, t) in d.tracks.iter().zip(&d.times) {
            let Some(t) = t.as_ref().filter(|_| info.kind() == TrackKind::Video) else {
                continue;
            };
            // Apple 7.4: every video segment starts with an IDR; with
            // EXT-X-INDEPENDENT-SEGMENTS it is a MUST of RFC 8216bis 4.4.2.1.
            let (level_must, section) = if independent {
                (true, S_INDEPENDENT)
            } else {
                (false, "Apple 7.4")
            };
            let msg = if !t.first_keyframe {
                Some(format!(
                    "{} track {}: the first frame is not a keyframe",
                    info.config.name(),
                    info.id
                ))
            } else if t.open_gop && independent {
                // Without EXT-X-INDEPENDENT-SEGMENTS a CRA start is allowed: the RASL pictures
                // are skipped when playback starts there.
                Some(format!("{} track {}: opens with a CRA picture followed by RASL pictures that reference the previous segment (open GOP)", info.config.name(), info.id))
            } else {
                None
            };
            if let Some(msg) = msg {
                if level_must {
                    report.must(section, &seg.uri, Location::Byte(0), msg);
                } else {
                    report.should(section, &seg.uri, Location::Byte(0), msg);
                }
            }
        }
    }

    fn check_duration(
        &mut self,
        pl: &MediaPlaylist,
        seg: &Segment,
        d: &Demuxed,
        report: &mut Report,
    ) {
        let Some((_, t)) = d.main() else { return };
        if pl.i_frames_only {
            return;
        }
        let real = t.span();
        let frame = t.secs(i64::from(t.typical_duration));
        if let Some(target) = pl.target {
            // RFC 8216bis 4.4.3.1: the segment itself, not only its EXTINF, must fit.
            if real.round() > target as f64 && seg.duration.round() <= target as f64 {
                report.must(S_TARGET, &pl.uri, Location::Line(seg.line), format!("{}: the segment lasts {real:.3} s, which rounds above EXT-X-TARGETDURATION {target} (its EXTINF says {:.3})", name(seg), seg.duration));
            }
        }
        let tol = (2.0 * frame).max(0.05);
        if (real - seg.duration).abs() > tol {
            report.should(
                S_EXTINF,
                &pl.uri,
                Location::Line(seg.extinf_line),
                format!(
                    "{}: EXTINF {:.3} s but the media lasts {real:.3} s",
                    name(seg),
                    seg.duration
                ),
            );
        }
        // Apple 8.1: the EXTINF sum stays within one frame of the media timeline.
        let start = t.secs(t.min_pts);
        let (origin, sum) = match self.drift {
            Some(o)
                if !seg.discontinuity
                    && self
                        .prev
                        .as_ref()
                        .is_some_and(|p| p.msn.saturating_add(1) == seg.msn) =>
            {
                o
            }
            _ => (start, 0.0),
        };
        let mut drift = (origin + sum) - start;
        if d.container == Container::Ts {
            drift = unwrap_ts(drift);
        }
        if drift.abs() > frame + 0.001 && !self.drift_reported && sum > 0.0 {
            self.drift_reported = true;
            report.should("Apple 8.1", &pl.uri, Location::Line(seg.extinf_line), format!("{}: the EXTINF sum has drifted {drift:.3} s from the media timeline by this segment", name(seg)));
        }
        self.drift = Some((origin, sum + seg.duration));
    }

    fn check_continuity(&mut self, pl_uri: &str, seg: &Segment, d: &Demuxed, report: &mut Report) {
        let ends: Vec<(TrackKind, f64, f64)> = d
            .tracks
            .iter()
            .zip(&d.times)
            .filter_map(|(i, t)| {
                t.as_ref().map(|t| {
                    (
                        i.kind(),
                        t.secs(t.end_dts),
                        t.secs(i64::from(t.typical_duration)),
                    )
                })
            })
            .collect();
        let prev = self.prev.replace(Previous {
            msn: seg.msn,
            container: d.container,
            ends,
        });
        let Some(prev) = prev.filter(|p| p.msn.saturating_add(1) == seg.msn && !seg.discontinuity)
        else {
            return;
        };
        for (info, t) in d.tracks.iter().zip(&d.times) {
            let Some(t) = t else { continue };
            let Some(&(_, end, dur)) = prev.ends.iter().find(|e| e.0 == info.kind()) else {
                continue;
            };
            let mut gap = t.secs(t.first_dts) - end;
            if prev.container == Container::Ts && d.container == Container::Ts {
                gap = unwrap_ts(gap);
            }
            let tol = (2.0 * dur).max(0.05);
            if gap < -tol || gap > tol.max(0.5) {
                let dir = if gap < 0.0 { "back" } else { "forward" };
                report.must(S_DISC, pl_uri, Location::Line(seg.line), format!("{}: {} timestamps jump {dir} by {:.3} s from the previous segment without EXT-X-DISCONTINUITY", name(seg), info.config.name(), gap.abs()));
            }
        }
    }

    /// TS continuity counters inside the segment (ISO/IEC 13818-1 2.4.3.3) and from the
    /// previous segment on (Apple 7.2), unless a DISCONTINUITY separates them.
    fn check_counters(&mut self, seg: &Segment, bytes: &[u8], report: &mut Report) {
        let c = crate::ts_cc::scan(bytes);
        for (pid, offset, want, got) in c.jumps.iter().take(3) {
            let msg = format!(
                "PID {pid}: continuity counter {got} where {want} was due (a packet lost?)"
            );
            report.must(
                "ISO/IEC 13818-1 2.4.3.3",
                &seg.uri,
                Location::Byte(*offset),
                msg,
            );
        }
        let prev = self
            .counters
            .take()
            .filter(|(msn, _)| msn.saturating_add(1) == seg.msn && !seg.discontinuity);
        if let Some((_, last)) = prev {
            for (pid, want, got) in crate::ts_cc::across(&last, &c) {
                let msg = format!("PID {pid}: continuity counter starts at {got}, the previous segment left it due at {want}");
                report.should("Apple 7.2", &seg.uri, Location::Byte(0), msg);
            }
        }
        self.counters = Some((seg.msn, c.last));
    }

    /// Codecs, resolution and frame rate from the first segment that decoded.
    fn learn(&mut self, d: &Demuxed) {
        let m = &mut self.measured;
        m.container = Some(d.container);
        if !m.codecs.is_empty() {
            return;
        }
        for (info, t) in d.tracks.iter().zip(&d.times) {
            if let Some(c) = d.codec(info) {
                m.codecs.push(c);
            }
            if info.kind() == TrackKind::Video {
                m.has_video = true;
                m.resolution = m.resolution.or(Some((info.width, info.height)));
                if let Some(t) = t.as_ref().filter(|t| t.typical_duration > 0) {
                    m.frame_rate = m
                        .frame_rate
                        .or(Some(f64::from(t.timescale) / f64::from(t.typical_duration)));
                }
            }
        }
    }
}

/// Apple 10.4: TS segments served as video/mp2t, fMP4 ones as video/iso.segment (or
/// video/mp4, audio/mp4). Only over HTTP, when the server names a type at all.
fn check_mime(
    seg: &Segment,
    container: Container,
    content_type: Option<&str>,
    report: &mut Report,
) {
    let Some(ct) = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) else {
        return;
    };
    let ok = match container {
        Container::Ts => ct == "video/mp2t",
        Container::Fmp4 => ["video/iso.segment", "video/mp4", "audio/mp4"].contains(&ct.as_str()),
    };
    if !ok {
        report.should(
            "Apple 10.4",
            &seg.uri,
            Location::Whole,
            format!("{container:?} segment served as {ct:?}"),
        );
    }
}

/// WebVTT and packed audio segments: what can be said without demuxing them.
fn check_other(seg: &Segment, other: Other, report: &mut Report) {
    match other {
        Other::WebVtt {
            timestamp_map: false,
        } => report.should(
            "Apple 5.3",
            &seg.uri,
            Location::Byte(0),
            "WebVTT segment without X-TIMESTAMP-MAP (players then assume 0)",
        ),
        Other::PackedAudio { id3: false } => report.must(
            "RFC 8216bis 3.1.3",
            &seg.uri,
            Location::Byte(0),
            "packed audio segment without the ID3 PRIV timestamp at its start",
        ),
        _ => {}
    }
}

/// A difference of MPEG-TS times brought into (-period/2, period/2]: PTS/DTS count modulo
/// 2^33 ticks of 90 kHz (ISO/IEC 13818-1 2.4.3.7), so each segment demuxed on its own may
/// be a period apart from the previous one.
fn unwrap_ts(diff: f64) -> f64 {
    let period = (1u64 << 33) as f64 / 90_000.0;
    diff - period * (diff / period).round()
}

/// The segment's last path component, for messages about a playlist line.
pub fn name(seg: &Segment) -> &str {
    seg.uri.rsplit('/').next().unwrap_or(&seg.uri)
}

fn looks_ts(b: &[u8]) -> bool {
    b.first() == Some(&0x47)
}

/// Fetches `uri`; a failure or non-2xx status is a MUST finding (RFC 8216bis 6.2.1: what a
/// playlist lists must be available).
pub fn fetch_ok(
    f: &Fetcher,
    uri: &str,
    range: Option<(u64, u64)>,
    report: &mut Report,
) -> Option<Fetched> {
    match f.get(uri, range) {
        Ok(r) if (200..300).contains(&r.status) => Some(r),
        Ok(r) => {
            report.must(
                S_PRESENT,
                uri,
                Location::Whole,
                format!("HTTP {} for a listed resource", r.status),
            );
            None
        }
        Err(e) => {
            report.must(
                S_PRESENT,
                uri,
                Location::Whole,
                format!("listed resource cannot be read: {e}"),
            );
            None
        }
    }
}

/// Checks every segment of a VOD (or one snapshot of a live) media playlist.
pub fn check_segments(
    f: &Fetcher,
    pl: &MediaPlaylist,
    independent: bool,
    report: &mut Report,
) -> Measured {
    let mut c = SegmentChecker::new(f);
    for seg in &pl.segments {
        c.check(pl, seg, independent || pl.independent, report);
    }
    c.measured
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
