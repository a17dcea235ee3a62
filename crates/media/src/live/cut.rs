// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live cut decisions: where segments and LL-HLS parts end, one sample at a time.
//!
//! Segments follow [`crate::segmenter::Segmenter`]'s rule — a segment ends at the first
//! random-access sample of the main track at least the wanted duration after its start
//! (Apple 7.4: segments start with an IDR) — plus one rule for live, where
//! EXT-X-TARGETDURATION is fixed before the first segment (RFC 8216bis 6.2.1): a segment is
//! also cut *early*, at a random-access sample short of the wanted duration, when waiting for the
//! next one (predicted one GOP later, the GOP being the last keyframe interval) would make it
//! round above the target duration (RFC 8216bis 4.4.3.1, 6.2.1). The target is chosen to
//! cover the input's keyframe interval (see [`super::probe`]); a later GOP longer than it
//! (an encoder reconfigured, a restart that keeps an old playlist's target) cannot be cut
//! on a keyframe in time: the segment then ends before the main-track sample that would make
//! it round above the target ([`Cut::Overrun`]), and the stream drops the input up to the
//! next keyframe and starts a new timeline there — an fMP4 or TS segment must start with a
//! keyframe under EXT-X-INDEPENDENT-SEGMENTS (Apple 7.4), and no EXTINF may round above
//! the target, so some media is lost rather than a rule broken.
//!
//! With aligned cuts (several renditions fed as separate inputs by one encoder ladder), the
//! wanted duration is not counted from the segment's start but laid on the input timeline as a
//! grid: a segment ends at the first random-access sample of each grid interval (the early
//! cut above still applies). The decision then depends only on the keyframe timestamps, which
//! the encoder's renditions share, so every rendition cuts at the same frames — even one
//! whose input started later — and its parts, counted from the segment start, line up too
//! (RFC 8216bis 6.2.4: matching content across variants).
//!
//! The segment logic is not delegated to `Segmenter` because live needs the early cut above
//! and the part cuts below on the same sample, and because the stream must not buffer a whole
//! segment twice (parts are muxed as they complete).
//!
//! HEVC open GOPs: a CRA followed by RASL pictures is not a clean start for a segment or an
//! independent part (its RASL pictures reference the previous GOP; see
//! [`crate::segmenter`]). Live decides on each sample as it arrives, with no lookahead, so
//! whether a stream's CRAs carry RASL pictures is learned from the pictures after each CRA
//! (encoders use one GOP structure throughout). Such CRAs stop being cut points once the
//! stream has shown clean points (IDR, BLA, CRA without RASL) close enough to keep segments
//! under the limit; until then, and in streams with none (x265's default open GOP), CRAs stay
//! cut points, and the first segment found to start on one with RASL pictures is warned about;
//! such segments are marked ([`Cutter::decodes_alone`]) and a media playlist declares
//! EXT-X-INDEPENDENT-SEGMENTS only while none is listed (the live master leaves the tag to the
//! media playlists for HEVC).
//!
//! Parts (RFC 8216bis 4.4.4.9): a part ends before the main-track sample that would make it
//! longer than PART-TARGET, and always at a segment cut. Part durations are measured from the
//! part's first main sample to the end of its last one, so a part is never longer than
//! PART-TARGET unless a single frame is. Cuts are decided when the next main sample arrives, so
//! the part named by EXT-X-PRELOAD-HINT is always the one that follows.

use crate::codec::h265::{picture_kind, PictureKind};
use crate::sample::{CodecConfig, Sample, TrackInfo, TrackKind};

/// What to do with a sample, decided before it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Drop it: nothing may precede the first keyframe of a segment (Apple 7.4).
    Drop,
    /// Add it to the current part.
    Append,
    /// The current part, of `part` ticks, ends; the sample starts the next part of the same
    /// segment.
    NewPart { part: i64 },
    /// The current segment (if any) ends at `end` (main-track ticks), its last part lasting
    /// `part` ticks; the sample starts a new segment.
    NewSegment { end: Option<i64>, part: i64 },
    /// The sample, not a random-access one, would make the segment round above the target
    /// (RFC 8216bis 4.4.3.1): the segment must end before it ([`Cutter::close`]) and it is
    /// not added; nothing is until the next random-access sample. State is left as it was.
    Overrun,
}

/// Per-stream cut state, in main-track ticks.
#[derive(Debug, Clone)]
pub(crate) struct Cutter {
    main: usize,
    main_is_video: bool,
    timescale: u32,
    /// Wanted segment duration.
    nominal: i64,
    /// Cut on the grid of `nominal` on the input timeline (see the module docs).
    aligned: bool,
    /// Segments must stay shorter than this (target + 0.5 s) to round to ≤ target.
    limit: i64,
    /// Longest segment: target + 0.498 s (a millisecond below the limit, with room for the
    /// millisecond rounding of EXTINF).
    max_len: i64,
    part_target: Option<i64>,
    seg_start: Option<i64>,
    part_start: i64,
    /// End (dts + duration) of the latest main sample of the current part.
    part_end: i64,
    last_key: Option<i64>,
    gop: Option<i64>,
    /// HEVC open-GOP state (see the module docs); `None` for other codecs.
    hevc: Option<OpenGop>,
}

/// What the pictures after each HEVC CRA have shown so far.
#[derive(Debug, Clone, Default)]
struct OpenGop {
    /// Decode time of the CRA whose leading pictures are being looked at.
    pending_cra: Option<i64>,
    /// The last CRA classified had RASL pictures.
    cra_rasl: bool,
    /// Decode time of the last clean point, and the interval between the last two.
    last_clean: Option<i64>,
    clean_gap: Option<i64>,
    /// Some segment started on a CRA with RASL pictures (warned once).
    open_gop_cut: bool,
    /// Decode time of the last segment start found to be a CRA with RASL pictures.
    open_gop_start: Option<i64>,
}

impl Cutter {
    /// `nominal_secs` ≤ `target_secs`; `part_target_secs` for LL-HLS; `aligned` for grid cuts.
    pub(crate) fn new(
        tracks: &[TrackInfo],
        nominal_secs: f64,
        target_secs: u64,
        part_target_secs: Option<f64>,
        aligned: bool,
    ) -> Self {
        let main = tracks
            .iter()
            .position(|t| t.kind() == TrackKind::Video)
            .unwrap_or(0);
        let main_is_video = tracks
            .get(main)
            .is_some_and(|t| t.kind() == TrackKind::Video);
        let timescale = tracks.get(main).map_or(90_000, |t| t.timescale.max(1));
        let ticks = |secs: f64| (secs * f64::from(timescale)).round().max(1.0) as i64;
        Cutter {
            main,
            main_is_video,
            timescale,
            nominal: ticks(nominal_secs),
            aligned,
            limit: ticks(target_secs as f64 + 0.5),
            max_len: ticks(target_secs as f64 + 0.498),
            // Floor (with a little slack for binary fractions such as 0.3) so that a part of
            // `part_target` ticks is never longer than the PART-TARGET written.
            part_target: part_target_secs
                .map(|p| ((p * f64::from(timescale)) + 1e-6).floor().max(1.0) as i64),
            seg_start: None,
            part_start: 0,
            part_end: 0,
            last_key: None,
            gop: None,
            hevc: tracks
                .get(main)
                .filter(|t| matches!(t.config, CodecConfig::Hevc { .. }))
                .map(|_| OpenGop::default()),
        }
    }

    /// Whether a random-access picture of the main track may start a segment or an
    /// independent part: any but an HEVC CRA that this stream's CRAs show to have RASL
    /// pictures, while clean points come often enough to cut on them alone.
    fn clean_point(&self, s: &Sample) -> bool {
        let Some(h) = &self.hevc else {
            return true;
        };
        match picture_kind(&s.data) {
            PictureKind::Idr | PictureKind::Bla => true,
            PictureKind::Cra => !h.cra_rasl || h.clean_gap.is_none_or(|g| g >= self.limit),
            _ => false,
        }
    }

    /// Expected distance to the next cut point: the last keyframe interval, or for HEVC cut at
    /// clean points only, the interval between clean points.
    fn next_cut_gap(&self) -> Option<i64> {
        let clean_only = self.hevc.as_ref().filter(|h| h.cra_rasl);
        clean_only
            .and_then(|h| h.clean_gap)
            .filter(|&g| g < self.limit)
            .or(self.gop)
    }

    /// Whether the segment that started at `start_dts` decodes without the previous one: false
    /// once it is known to start on an HEVC CRA with RASL pictures (RFC 8216bis 4.4.2.1).
    pub(crate) fn decodes_alone(&self, start_dts: i64) -> bool {
        self.hevc
            .as_ref()
            .is_none_or(|h| h.open_gop_start != Some(start_dts))
    }

    /// Learns from main-track picture `s`.
    fn observe(&mut self, s: &Sample) {
        let seg_start = self.seg_start;
        let Some(h) = self.hevc.as_mut().filter(|_| s.track == self.main) else {
            return;
        };
        let kind = picture_kind(&s.data);
        let mut clean_at = None;
        if let Some(cra) = h.pending_cra {
            match kind {
                PictureKind::Radl => {}
                PictureKind::Rasl => {
                    h.pending_cra = None;
                    h.cra_rasl = true;
                    if seg_start == Some(cra) {
                        h.open_gop_start = Some(cra);
                        if !h.open_gop_cut {
                            h.open_gop_cut = true;
                            tracing::warn!(
                                dts = cra,
                                "HEVC open GOP: a segment starts on a CRA with RASL pictures, \
                                 which do not decode without the previous segment; the playlist \
                                 leaves out EXT-X-INDEPENDENT-SEGMENTS while it is listed"
                            );
                        }
                    }
                }
                _ => {
                    h.pending_cra = None;
                    h.cra_rasl = false;
                    clean_at = Some(cra);
                }
            }
        }
        match kind {
            PictureKind::Cra => h.pending_cra = Some(s.dts),
            PictureKind::Idr | PictureKind::Bla => clean_at = Some(s.dts),
            _ => {}
        }
        if let Some(t) = clean_at {
            if let Some(last) = h.last_clean.filter(|&l| t > l) {
                h.clean_gap = Some(t - last);
            }
            h.last_clean = Some(t);
        }
    }

    pub(crate) fn main_track(&self) -> usize {
        self.main
    }

    pub(crate) fn timescale(&self) -> u32 {
        self.timescale
    }

    /// Whether a segment is open.
    pub(crate) fn in_segment(&self) -> bool {
        self.seg_start.is_some()
    }

    /// Duration of the current part so far, main ticks.
    fn part_duration(&self) -> i64 {
        self.part_end.saturating_sub(self.part_start).max(0)
    }

    /// Whether `s` is a random-access sample of the main track that may start a segment or
    /// an independent part (HEVC: a clean one, see the module docs).
    pub(crate) fn random_access(&self, s: &Sample) -> bool {
        s.track == self.main && (!self.main_is_video || (s.keyframe && self.clean_point(s)))
    }

    /// Decides where `s` goes and updates the state as if it was added.
    pub(crate) fn decide(&mut self, s: &Sample) -> Cut {
        // Whether `s` is a cut point depends on what came before it only (as for callers
        // asking `random_access` first); what it shows about the last CRA and the interval
        // between clean points is known before the cut decision on it.
        let random_access = self.random_access(s);
        self.observe(s);
        self.decide_cut(s, random_access)
    }

    fn decide_cut(&mut self, s: &Sample, random_access: bool) -> Cut {
        let is_main = s.track == self.main;
        let Some(seg_start) = self.seg_start else {
            if !random_access {
                return Cut::Drop;
            }
            self.open_segment(s);
            return Cut::NewSegment { end: None, part: 0 };
        };
        if !is_main {
            return Cut::Append;
        }
        let end = s.dts.saturating_add(i64::from(s.duration));
        if random_access {
            let elapsed = s.dts.saturating_sub(seg_start);
            let gop = self.last_key.map(|k| s.dts.saturating_sub(k));
            if gop.is_some_and(|g| g > 0) {
                self.gop = gop;
            }
            self.last_key = Some(s.dts);
            let predicted_too_long = self
                .next_cut_gap()
                .is_some_and(|g| elapsed.saturating_add(g) >= self.limit);
            let due = if self.aligned {
                // First keyframe of a new grid interval (`nominal` ≥ 1 tick).
                s.dts.div_euclid(self.nominal) != seg_start.div_euclid(self.nominal)
            } else {
                elapsed >= self.nominal
            };
            let overrun = end.saturating_sub(seg_start) > self.max_len;
            if due || (elapsed > 0 && (predicted_too_long || overrun)) {
                let part = self.part_duration();
                self.open_segment(s);
                return Cut::NewSegment {
                    end: Some(s.dts),
                    part,
                };
            }
        } else if end.saturating_sub(seg_start) > self.max_len {
            return Cut::Overrun;
        }
        if let Some(pt) = self.part_target {
            if s.dts > self.part_start && end.saturating_sub(self.part_start) > pt {
                let part = self.part_duration();
                self.part_start = s.dts;
                self.part_end = end;
                return Cut::NewPart { part };
            }
        }
        self.part_end = self.part_end.max(end);
        Cut::Append
    }

    /// Closes the open segment without a following sample (end of stream, discontinuity):
    /// returns its end (end of its last main sample) and its last part's duration, and
    /// forgets it.
    pub(crate) fn close(&mut self) -> Option<(i64, i64)> {
        self.seg_start.take()?;
        self.last_key = None;
        Some((self.part_end, self.part_duration()))
    }

    fn open_segment(&mut self, s: &Sample) {
        self.seg_start = Some(s.dts);
        self.part_start = s.dts;
        self.part_end = s.dts.saturating_add(i64::from(s.duration));
        self.last_key = Some(s.dts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::CodecConfig;
    use bytes::Bytes;

    fn track(config: CodecConfig, timescale: u32) -> TrackInfo {
        TrackInfo {
            id: 1,
            config,
            timescale,
            width: 0,
            height: 0,
            sample_rate: 0,
            channels: 0,
            language: None,
            duration: None,
        }
    }

    fn video() -> TrackInfo {
        track(
            CodecConfig::Avc {
                sps: vec![],
                pps: vec![],
                in_band: false,
            },
            90_000,
        )
    }

    fn frame(track: usize, dts: i64, duration: u32, key: bool) -> Sample {
        Sample {
            track,
            dts,
            cts_offset: 0,
            duration,
            keyframe: key,
            data: Bytes::from_static(b"x"),
        }
    }

    /// Runs 30 fps video with keyframes every `gop` frames; returns segment durations (frames),
    /// the parts of each segment as (frames, starts with keyframe), and the overruns.
    fn run(
        frames: i64,
        gop: i64,
        seg: f64,
        target: u64,
        part: Option<f64>,
    ) -> (Vec<i64>, Vec<(i64, bool)>, usize) {
        let mut c = Cutter::new(&[video()], seg, target, part, false);
        let mut segments = vec![];
        let mut start = None;
        let mut parts = vec![];
        let mut overruns = 0;
        let mut part_len = 0;
        let mut part_key = false;
        for i in 0..frames {
            let key = i % gop == 0;
            match c.decide(&frame(0, i * 3000, 3000, key)) {
                Cut::Drop => continue,
                Cut::Append => part_len += 1,
                Cut::NewPart { part } => {
                    assert_eq!(part, part_len * 3000, "reported part duration");
                    parts.push((part_len, part_key));
                    (part_len, part_key) = (1, key);
                }
                Cut::NewSegment { part, .. } => {
                    assert_eq!(part, part_len * 3000, "reported last part duration");
                    segments.extend(start.map(|s| i - s));
                    start = Some(i);
                    if part_len > 0 {
                        parts.push((part_len, part_key));
                    }
                    (part_len, part_key) = (1, key);
                }
                Cut::Overrun => {
                    // The stream closes the segment; the next keyframe opens one.
                    let (end, part) = c.close().expect("a segment was open");
                    assert_eq!(part, part_len * 3000);
                    segments.extend(start.take().map(|s| end / 3000 - s));
                    parts.push((part_len, part_key));
                    (part_len, part_key) = (0, false);
                    overruns += 1;
                }
            }
        }
        if let Some((end, part)) = c.close() {
            assert_eq!(part, part_len * 3000);
            segments.extend(start.map(|s| end / 3000 - s));
            parts.push((part_len, part_key));
        }
        (segments, parts, overruns)
    }

    /// HEVC at 30 fps, an IDR every 60 frames and a CRA with two RASL pictures every 15, 1.5 s
    /// wanted, target 2 s: until two clean points show their interval, CRAs are cut points
    /// (the first cut, at 45, is one); from then on segments are cut at the IDRs only (early at
    /// 60 so that none rounds above the target), and only parts that start on an IDR are
    /// independent. Before this rule every due CRA was a cut: 45 frames each.
    #[test]
    fn hevc_open_gop_cuts_at_clean_points_once_known() {
        let hevc = track(
            CodecConfig::Hevc {
                vps: vec![],
                sps: vec![],
                pps: vec![],
                in_band: false,
            },
            90_000,
        );
        let kind = |i: i64| -> u8 {
            match (i % 60, i % 15) {
                (0, _) => 19,         // IDR_W_RADL
                (_, 0) => 21,         // CRA
                (_, 1) | (_, 2) => 8, // RASL_N
                _ => 1,               // TRAIL_R
            }
        };
        let mut c = Cutter::new(&[hevc], 1.5, 2, Some(0.5), false);
        let (mut cuts, mut too_long, mut independent) = (vec![], 0, vec![]);
        for i in 0..300 {
            let t = kind(i);
            let mut data = 3u32.to_be_bytes().to_vec();
            data.extend_from_slice(&[t << 1, 1, 0xAF]);
            let s = Sample {
                data: Bytes::from(data),
                ..frame(0, i * 3000, 3000, t == 19 || t == 21)
            };
            let random_access = c.random_access(&s);
            match c.decide(&s) {
                Cut::NewSegment { .. } => {
                    cuts.push(i);
                    independent.push((i, random_access));
                }
                Cut::Overrun => too_long += 1,
                Cut::NewPart { .. } => independent.push((i, random_access)),
                _ => {}
            }
        }
        assert_eq!(cuts, [0, 45, 60, 120, 180, 240], "cut frames");
        assert_eq!(too_long, 0, "no segment above the target");
        for (i, yes) in independent.into_iter().filter(|&(i, _)| i > 60) {
            assert_eq!(
                yes,
                kind(i) == 19,
                "part at frame {i}: INDEPENDENT iff an IDR"
            );
        }
    }

    /// Table: GOP (frames at 30 fps), wanted duration, target → segment lengths (frames).
    #[test]
    fn segment_cuts() {
        // (name, frames, GOP, wanted s, target s, segment frames, overruns)
        type Case<'a> = (&'a str, i64, i64, f64, u64, &'a [i64], usize);
        let cases: &[Case] = &[
            (
                "GOP divides duration",
                240,
                30,
                2.0,
                2,
                &[60, 60, 60, 60],
                0,
            ),
            ("GOP 1.5 s cut early", 180, 45, 2.0, 2, &[45, 45, 45, 45], 0),
            (
                "GOP 2.4 s fits below 2.5",
                216,
                72,
                2.0,
                2,
                &[72, 72, 72],
                0,
            ),
            // Ends before the frame that would make 2.5 s (frame 74 ends at 2.5 s); frames up to
            // the next keyframe are dropped.
            ("GOP 3 s too long", 270, 90, 2.0, 2, &[74, 74, 74], 3),
            ("GOP 2 s, target 1", 120, 60, 1.0, 1, &[44, 44], 2),
            ("GOP 2 s, target 2", 120, 60, 1.0, 2, &[60, 60], 0),
            (
                "fractional wanted 1.5, target 2",
                180,
                15,
                1.5,
                2,
                &[45, 45, 45, 45],
                0,
            ),
        ];
        for (name, frames, gop, seg, target, want, want_long) in cases {
            let (got, _, overruns) = run(*frames, *gop, *seg, *target, None);
            assert_eq!(&got, want, "{name}");
            assert_eq!(overruns, *want_long, "{name}: overruns");
            for frames in got {
                // RFC 8216bis 4.4.3.1, on the millisecond EXTINF.
                let ms = (frames as f64 * 1000.0 / 30.0).round();
                assert!((ms / 1000.0).round() as u64 <= *target, "{name}: {frames}");
            }
        }
    }

    /// Parts never exceed PART-TARGET, end at segment cuts, INDEPENDENT where they start on a
    /// keyframe (RFC 8216bis 4.4.4.9).
    #[test]
    fn part_cuts() {
        // (GOP frames, part target) → part lengths in frames.
        type Case<'a> = (i64, f64, &'a [(i64, bool)]);
        let cases: &[Case] = &[
            // 0.2 s = 6 frames exactly.
            (
                30,
                0.2,
                &[(6, true), (6, false), (6, false), (6, false), (6, false)],
            ),
            // 0.25 s: 7 frames (0.233 s) fit, 8 do not; the segment cut ends the last one.
            (
                30,
                0.25,
                &[(7, true), (7, false), (7, false), (7, false), (2, false)],
            ),
            // 1/3 s written as 0.33334: 10 frames.
            (30, 0.33334, &[(10, true), (10, false), (10, false)]),
            // 0.3 s = 9 frames (no float floor error): 30 = 9+9+9+3.
            (30, 0.3, &[(9, true), (9, false), (9, false), (3, false)]),
        ];
        for (gop, pt, want) in cases {
            let (_, parts, _) = run(60, *gop, 1.0, 1, Some(*pt));
            // Both segments of 30 frames cut the same way.
            let mut both = want.to_vec();
            both.extend_from_slice(want);
            assert_eq!(parts, both, "GOP {gop}, part target {pt}");
            for (frames, _) in &parts {
                assert!(*frames as f64 / 30.0 <= pt + 1e-9);
            }
        }
    }

    /// Frames (30 fps, keyframe every `gop` frames of the input timeline, which starts at
    /// `origin` ticks) at which a cutter that sees the input from frame `first` on ends
    /// segments.
    fn cut_frames(
        first: i64,
        origin: i64,
        gop: i64,
        seg: f64,
        target: u64,
        aligned: bool,
    ) -> Vec<i64> {
        let mut c = Cutter::new(&[video()], seg, target, Some(0.5), aligned);
        (first..first + 600)
            .filter(|i| {
                let s = frame(0, origin + i * 3000, 3000, i % gop == 0);
                matches!(c.decide(&s), Cut::NewSegment { end: Some(_), .. })
            })
            .collect()
    }

    /// Aligned cuts: renditions whose inputs start at different frames cut at the same
    /// frames from their first common cut on — the first keyframe of each interval of the
    /// wanted duration on the input timeline — while the early cut still keeps segments
    /// within the target (RFC 8216bis 6.2.4, 4.4.3.1). Unaligned cutters started apart stay
    /// apart.
    #[test]
    fn aligned_cuts_match_across_start_points() {
        // (name, GOP frames, wanted s, target s, timeline origin ticks, late start frames)
        type Case<'a> = (&'a str, i64, f64, u64, i64, &'a [i64]);
        let cases: &[Case] = &[
            (
                "GOP 1 s, 2 s segments",
                30,
                2.0,
                2,
                0,
                &[1, 30, 31, 45, 59, 60, 95],
            ),
            (
                "ffmpeg's 1.4 s start offset",
                30,
                2.0,
                2,
                126_000,
                &[30, 44, 61],
            ),
            ("GOP 1.5 s cut early", 45, 2.0, 2, 0, &[1, 45, 46, 100]),
            (
                "GOP 0.5 s, 1 s segments",
                15,
                1.0,
                1,
                90_000,
                &[7, 15, 16, 29],
            ),
            ("wanted 1.5 s", 15, 1.5, 2, 0, &[3, 15, 40]),
        ];
        for (name, gop, seg, target, origin, starts) in cases {
            let reference = cut_frames(0, *origin, *gop, *seg, *target, true);
            assert!(reference.len() > 5, "{name}: {reference:?}");
            for w in reference.windows(2) {
                let secs = (w[1] - w[0]) as f64 / 30.0;
                assert!(secs.round() as u64 <= *target, "{name}: {secs} s segment");
            }
            for first in *starts {
                let mut late = cut_frames(*first, *origin, *gop, *seg, *target, true);
                late.retain(|f| *f < 600); // the reference ran frames 0..600
                let common = late.first().copied().expect("a cut");
                let tail: Vec<i64> = reference.iter().copied().filter(|f| *f >= common).collect();
                assert_eq!(late, tail, "{name}: started at frame {first}");
            }
        }
        // Without alignment a start one GOP later shifts every cut by that GOP.
        let a = cut_frames(0, 0, 30, 2.0, 2, false);
        let b = cut_frames(30, 0, 30, 2.0, 2, false);
        assert!(b.iter().all(|f| !a.contains(f)), "{a:?} / {b:?}");
    }

    #[test]
    fn drops_until_keyframe_and_audio_follows() {
        let mut c = Cutter::new(
            &[
                video(),
                track(
                    CodecConfig::Aac {
                        asc: Bytes::from_static(&[0x11, 0x90]),
                    },
                    48_000,
                ),
            ],
            2.0,
            2,
            None,
            false,
        );
        assert_eq!(c.decide(&frame(1, 0, 1024, true)), Cut::Drop);
        assert_eq!(c.decide(&frame(0, 0, 3000, false)), Cut::Drop);
        assert!(matches!(
            c.decide(&frame(0, 3000, 3000, true)),
            Cut::NewSegment { end: None, .. }
        ));
        assert_eq!(c.decide(&frame(1, 1024, 1024, true)), Cut::Append);
        assert!(c.in_segment());
        assert_eq!(c.close(), Some((6000, 3000)));
        assert!(!c.in_segment());
    }

    #[test]
    fn audio_only_cuts_on_any_frame() {
        let aac = track(
            CodecConfig::Aac {
                asc: Bytes::from_static(&[0x11, 0x90]),
            },
            48_000,
        );
        let mut c = Cutter::new(&[aac], 1.0, 1, None, false);
        let mut cuts = 0;
        for i in 0..100 {
            if let Cut::NewSegment { end: Some(e), .. } = c.decide(&frame(0, i * 1024, 1024, false))
            {
                cuts += 1;
                assert_eq!(e % 1024, 0);
            }
        }
        // 100 frames of 21.3 ms = 2.13 s: cuts at 48 128 and 96 256.
        assert_eq!(cuts, 2);
        assert_eq!(c.main_track(), 0);
        assert_eq!(c.timescale(), 48_000);
    }
}
