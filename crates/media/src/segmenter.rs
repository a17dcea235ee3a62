// SPDX-License-Identifier: MIT OR Apache-2.0
//! The cut decision: where one segment ends and the next begins.
//!
//! A segment ends at the first random-access sample of the main track (video if any, else the
//! first audio track) whose decode time is at least the target duration after the segment's
//! start (Apple HLS authoring spec 7.4: every segment starts with an IDR; RFC 8216bis 4.4.3.1).
//! Segment durations are kept as integer ticks of the main track's timescale, so that the sum of
//! EXTINF equals the real duration with no float drift (Apple 8.1).
//!
//! HEVC open GOPs: a CRA picture is a random-access point, but its RASL pictures (which follow
//! it in decode order and precede it in presentation order) reference pictures before it and
//! are dropped by a decoder that starts at the CRA (H.265 8.1.3). A segment that starts there
//! does not decode on its own, which EXT-X-INDEPENDENT-SEGMENTS promises (RFC 8216bis 4.4.2.1).
//! So cuts are made at *clean* random-access points only: IDR, BLA, or a CRA whose leading
//! pictures (those that follow it in decode order before the first trailing one) include no
//! RASL. Whether a CRA is clean is known from the next main-track pictures, so a candidate CRA
//! and the samples after it are held until that is decided. A stream whose CRAs all have RASL
//! pictures (x265's default open GOP) may have no clean point after its first picture: once a
//! segment reaches twice the wanted duration without one, it is cut at the next CRA anyway —
//! never at a picture that is not random access — and [`Segmenter::open_gop_cut`] is set, so
//! that the playlists stop declaring independent segments.

use crate::codec::h265::{picture_kind, PictureKind};
use crate::sample::{CodecConfig, Sample, TrackInfo, TrackKind};

/// A cut segment: every sample between two cut points, all tracks, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// 0-based index within this run (the playlist adds its media sequence base).
    pub index: u64,
    /// Samples of all tracks, in decode order as they arrived.
    pub samples: Vec<Sample>,
    /// Decode time of the segment's first main-track sample, main timescale.
    pub start: i64,
    /// Duration in main-track ticks (from this cut to the next, or to the end of the last sample).
    pub duration: u64,
    /// Timescale of `start`/`duration` (the main track's).
    pub timescale: u32,
}

impl Segment {
    pub fn duration_secs(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale)
    }
    pub fn start_secs(&self) -> f64 {
        self.start as f64 / f64::from(self.timescale)
    }
    /// Samples of one track, in order.
    pub fn track_samples(&self, track: usize) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.track == track)
    }
    /// Payload bytes of all samples.
    pub fn payload_len(&self) -> usize {
        self.samples.iter().map(|s| s.data.len()).sum()
    }
}

/// Push samples in, get complete segments out.
#[derive(Debug)]
pub struct Segmenter {
    main: usize,
    main_is_video: bool,
    timescale: u32,
    target_ticks: i64,
    current: Option<Segment>,
    /// End (dts + duration) of the latest main-track sample of the current segment.
    current_end: i64,
    /// Payload bytes of the samples held for the current segment.
    current_bytes: usize,
    next_index: u64,
    /// Video samples dropped before the first keyframe.
    pub dropped_leading: u64,
    /// The main track is HEVC: CRA pictures are checked for RASL pictures before a cut.
    hevc: bool,
    /// A candidate cut at a CRA and the samples after it, held until the next main-track
    /// picture that is not RADL tells whether the CRA has RASL pictures.
    held: Vec<Sample>,
    /// Some segment starts at a CRA with RASL pictures (no clean point in twice the target):
    /// it does not decode on its own.
    pub open_gop_cut: bool,
    /// Cut times (main-track ticks, ascending) another rendition was cut at: a ladder's
    /// renditions are cut at the first random-access sample at or after each, so that their
    /// segments line up (Apple 7.4). Empty: cut by the target duration alone.
    cuts: Vec<i64>,
}

/// Whether a held CRA is clean, once `next` (the next main-track picture) is known.
enum Leading {
    /// A RADL picture: still among the leading pictures, not decided yet.
    Undecided,
    /// A RASL picture: the CRA is not a clean random-access point.
    Rasl,
    /// Anything else: the leading pictures (if any) were all RADL.
    Clean,
}

impl Segmenter {
    /// `tracks` must be non-empty; `target_secs` is the wanted segment duration.
    pub fn new(tracks: &[TrackInfo], target_secs: f64) -> Self {
        let main = tracks
            .iter()
            .position(|t| t.kind() == TrackKind::Video)
            .unwrap_or(0);
        let timescale = tracks.get(main).map_or(90_000, |t| t.timescale.max(1));
        Segmenter {
            main,
            main_is_video: tracks
                .get(main)
                .is_some_and(|t| t.kind() == TrackKind::Video),
            timescale,
            target_ticks: (target_secs * f64::from(timescale)).round().max(1.0) as i64,
            current: None,
            current_end: 0,
            current_bytes: 0,
            next_index: 0,
            dropped_leading: 0,
            hevc: tracks
                .get(main)
                .is_some_and(|t| matches!(t.config, CodecConfig::Hevc { .. })),
            held: Vec::new(),
            open_gop_cut: false,
            cuts: Vec::new(),
        }
    }

    /// Cuts at the first random-access sample at or after each of `secs` (the segment starts
    /// of another rendition of the same title) instead of every target duration. Past the last
    /// one, twice the target: a rendition a little longer than the one it follows (audio ends a
    /// frame later) keeps its tail in the last segment, a much longer one is still segmented.
    pub fn set_cut_times(&mut self, secs: &[f64]) {
        let ts = f64::from(self.timescale);
        self.cuts = secs.iter().map(|s| (s * ts).round() as i64).collect();
    }

    /// Whether a random-access sample at `dts` ends the segment that started at `start`.
    fn cut_due(&self, start: i64, dts: i64) -> bool {
        let elapsed = dts.saturating_sub(start);
        let mut next = self.cuts.partition_point(|&c| c <= start);
        // The first cut is the other rendition's own start. A rendition that starts a little
        // before it (AAC priming, an edit list) keeps those samples in its first segment
        // instead of a segment of a few milliseconds, which would also inflate its peak rate
        // (BANDWIDTH, RFC 8216bis 4.4.6.2) and misalign its segments (Apple 7.4).
        if next == 0
            && self
                .cuts
                .first()
                .is_some_and(|&c| c - start < self.target_ticks / 2)
        {
            next = 1;
        }
        match self.cuts.get(next) {
            Some(&c) => dts >= c,
            None if self.cuts.is_empty() => elapsed >= self.target_ticks,
            None => elapsed >= self.target_ticks.saturating_mul(2),
        }
    }

    /// Index of the track whose keyframes decide the cuts.
    pub fn main_track(&self) -> usize {
        self.main
    }

    /// Starts the next segment's numbering at `index` (live restart).
    pub fn set_next_index(&mut self, index: u64) {
        self.next_index = index;
    }

    /// Feeds one sample; returns the previous segment when this sample (or a CRA held before
    /// it) starts a new one.
    pub fn push(&mut self, sample: Sample) -> Option<Segment> {
        if self.held.is_empty() {
            return self.push_now(sample);
        }
        if sample.track != self.main {
            self.held.push(sample);
            return None;
        }
        let done = match leading(&sample) {
            Leading::Undecided => {
                self.held.push(sample);
                return None;
            }
            Leading::Rasl => {
                // Not a clean point: the CRA and what followed stay in the current segment.
                for s in std::mem::take(&mut self.held) {
                    self.append(s);
                }
                None
            }
            Leading::Clean => {
                let mut held = std::mem::take(&mut self.held).into_iter();
                let cra = held.next().expect("a held CRA");
                let done = self.cut(cra);
                for s in held {
                    self.append(s);
                }
                Some(done)
            }
        };
        // The deciding picture is not itself a cut: it follows the CRA by a few leading
        // pictures, far less than a target duration.
        self.append(sample);
        done
    }

    fn push_now(&mut self, sample: Sample) -> Option<Segment> {
        let is_main = sample.track == self.main;
        let random_access = is_main && (sample.keyframe || !self.main_is_video);
        let Some(current) = self.current.as_ref() else {
            if random_access {
                self.open(sample);
            } else if is_main || self.main_is_video {
                // Nothing may precede the first IDR of a segment (Apple 7.4); audio that arrives
                // before the first video keyframe is dropped along with leading non-IDR frames.
                self.dropped_leading += 1;
            }
            return None;
        };
        let elapsed = sample.dts.saturating_sub(current.start);
        if random_access && self.cut_due(current.start, sample.dts) {
            if !self.hevc {
                return Some(self.cut(sample));
            }
            match picture_kind(&sample.data) {
                PictureKind::Idr | PictureKind::Bla => return Some(self.cut(sample)),
                PictureKind::Cra
                    if self.open_gop_cut || elapsed >= self.target_ticks.saturating_mul(2) =>
                {
                    // No clean point in twice the target: cut at the CRA whatever its leading
                    // pictures (see the module docs).
                    self.open_gop_cut = true;
                    return Some(self.cut(sample));
                }
                PictureKind::Cra => {
                    self.held.push(sample);
                    return None;
                }
                // A keyframe by the container's flag but no IRAP picture: not a cut point.
                _ => {}
            }
        }
        self.append(sample);
        None
    }

    /// Ends the current segment before `sample`, which opens the next.
    fn cut(&mut self, sample: Sample) -> Segment {
        let mut done = self.current.take().expect("current segment present");
        done.duration = sample.dts.saturating_sub(done.start).max(0) as u64;
        self.open(sample);
        // The next segment is about as long as this one: room for its samples at once, not
        // a dozen reallocations as it grows.
        if let Some(next) = self.current.as_mut() {
            next.samples
                .reserve(done.samples.len() + done.samples.len() / 8);
        }
        done
    }

    /// Adds `sample` to the current segment (dropped if none is open: it cannot start one).
    fn append(&mut self, sample: Sample) {
        let Some(current) = self.current.as_mut() else {
            self.dropped_leading += 1;
            return;
        };
        if sample.track == self.main {
            self.current_end = self
                .current_end
                .max(sample.dts.saturating_add(i64::from(sample.duration)));
        }
        self.current_bytes = self.current_bytes.saturating_add(sample.data.len());
        current.samples.push(sample);
    }

    /// The samples held for the segment in progress once they reach `max_bytes`, so that a
    /// long GOP (keyframes minutes apart) is written in pieces instead of held whole in memory.
    /// The piece has the segment's `index` and `start` (and `duration` 0: the segment's
    /// duration is known at the cut); the segment goes on, and its next piece or the segment
    /// itself (from [`Segmenter::push`] or [`Segmenter::finish`]) continues the same object.
    pub fn take_oversized(&mut self, max_bytes: usize) -> Option<Segment> {
        if self.current_bytes < max_bytes {
            return None;
        }
        let current = self.current.as_mut()?;
        self.current_bytes = 0;
        Some(Segment {
            index: current.index,
            samples: std::mem::take(&mut current.samples),
            start: current.start,
            duration: 0,
            timescale: current.timescale,
        })
    }

    /// Closes the last segment at end of input.
    pub fn finish(&mut self) -> Option<Segment> {
        // A CRA held at the very end stays in the last segment (a few samples at most).
        for s in std::mem::take(&mut self.held) {
            self.append(s);
        }
        let mut done = self.current.take()?;
        done.duration = self.current_end.saturating_sub(done.start).max(0) as u64;
        Some(done)
    }

    /// Whether any segment has been opened (a video keyframe or audio sample was seen).
    pub fn started(&self) -> bool {
        self.current.is_some() || self.next_index > 0
    }

    fn open(&mut self, sample: Sample) {
        self.current_end = sample.dts.saturating_add(i64::from(sample.duration));
        self.current_bytes = sample.data.len();
        let segment = Segment {
            index: self.next_index,
            start: sample.dts,
            duration: 0,
            timescale: self.timescale,
            samples: vec![sample],
        };
        self.next_index += 1;
        self.current = Some(segment);
    }
}

/// What the next main-track picture after a held CRA says about the CRA's leading pictures
/// (H.265 7.4.3.2: every leading picture precedes every trailing picture in decode order).
fn leading(next: &Sample) -> Leading {
    match picture_kind(&next.data) {
        PictureKind::Radl => Leading::Undecided,
        PictureKind::Rasl => Leading::Rasl,
        _ => Leading::Clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::CodecConfig;
    use bytes::Bytes;

    fn video() -> TrackInfo {
        TrackInfo {
            id: 1,
            config: CodecConfig::Avc {
                sps: vec![],
                pps: vec![],
                in_band: false,
            },
            timescale: 30,
            width: 0,
            height: 0,
            sample_rate: 0,
            channels: 0,
            language: None,
            duration: None,
        }
    }

    fn frame(dts: i64, key: bool) -> Sample {
        Sample {
            track: 0,
            dts,
            cts_offset: 0,
            duration: 1,
            keyframe: key,
            data: Bytes::from_static(b"x"),
        }
    }

    /// A GOP larger than the byte limit comes out in pieces: every sample once, in order; the
    /// pieces carry the segment's index and start; the completing segment has the full duration.
    #[test]
    fn oversized_segments_come_in_pieces() {
        let mut seg = Segmenter::new(&[video()], 1.0);
        // (index, start, samples, duration, whether it completes the segment)
        let row = |s: &Segment, last: bool| (s.index, s.start, s.samples.len(), s.duration, last);
        let mut got = Vec::new();
        for dts in 0..100 {
            // Keyframes at 0 and 70 only; each frame is 1 byte, limit 25 bytes.
            if let Some(done) = seg.push(frame(dts, dts == 0 || dts == 70)) {
                got.push(row(&done, true));
            } else if let Some(piece) = seg.take_oversized(25) {
                got.push(row(&piece, false));
            }
        }
        let done = seg.finish().expect("last");
        got.push(row(&done, true));
        let want = vec![
            (0, 0, 25, 0, false),
            (0, 0, 25, 0, false),
            (0, 0, 20, 70, true),
            (1, 70, 25, 0, false),
            (1, 70, 5, 30, true),
        ];
        assert_eq!(got, want);
        assert!(
            seg.take_oversized(1).is_none(),
            "nothing held after the end"
        );
    }

    /// Table (30 fps, keyframe every 10 frames, target 1 s): cut times given in seconds →
    /// segment starts (frames). A ladder's renditions are cut where the first one was: at the
    /// first keyframe at or after each time; past the last time, every two target durations.
    #[test]
    fn cut_times_decide_the_cuts() {
        let cases: &[(&str, &[f64], &[i64])] = &[
            ("no cut times: every 30 frames", &[], &[0, 30, 60, 90]),
            ("aligned times", &[0.0, 1.0, 2.0, 3.0], &[0, 30, 60, 90]),
            (
                "between keyframes: the next one",
                &[0.0, 0.5, 1.5],
                &[0, 20, 50],
            ),
            (
                "shorter than the target",
                &[0.0, 0.3, 0.6],
                &[0, 10, 20, 80],
            ),
            (
                "starts a little before the first time: no tiny first segment",
                &[0.2, 1.0, 2.0],
                &[0, 30, 60],
            ),
            (
                "starts well before the first time: cut there",
                &[0.6, 1.0, 2.0],
                &[0, 20, 30, 60],
            ),
            (
                "a little longer: tail kept",
                &[0.0, 1.0, 2.0, 2.9],
                &[0, 30, 60, 90],
            ),
        ];
        for (name, times, want) in cases {
            let mut seg = Segmenter::new(&[video()], 1.0);
            seg.set_cut_times(times);
            let mut starts = Vec::new();
            for dts in 0..100 {
                if let Some(done) = seg.push(frame(dts, dts % 10 == 0)) {
                    starts.push(done.start);
                }
            }
            starts.push(seg.finish().expect("last").start);
            assert_eq!(&starts, want, "{name}");
        }
    }

    fn hevc() -> TrackInfo {
        TrackInfo {
            config: CodecConfig::Hevc {
                vps: vec![],
                sps: vec![],
                pps: vec![],
                in_band: false,
            },
            ..video()
        }
    }

    /// An HEVC picture of NAL type `t` (length-prefixed, as samples hold them).
    fn picture(track: usize, dts: i64, t: u8) -> Sample {
        let mut data = 3u32.to_be_bytes().to_vec();
        data.extend_from_slice(&[t << 1, 1, 0xAF]);
        Sample {
            track,
            keyframe: (16..=23).contains(&t),
            data: Bytes::from(data),
            ..frame(dts, false)
        }
    }

    /// Table (HEVC, 30 fps, target 1 s = 30 frames): NAL type of each frame → segment lengths
    /// (frames), whether some cut is not clean, and that every segment starts on IDR/BLA or on
    /// a CRA without RASL pictures unless the fallback cut it.
    #[test]
    fn hevc_cuts_only_at_clean_random_access_points() {
        const IDR: u8 = 19;
        const CRA: u8 = 21;
        const BLA: u8 = 16;
        const RASL: u8 = 8;
        const RADL: u8 = 6;
        const TRAIL: u8 = 1;
        // Frame `i` of `n`: an IRAP every `gop` frames (IDR every `idr` frames, else `irap`),
        // followed by `lead` leading pictures.
        let stream = |gop: i64, idr: i64, irap: u8, lead: &'static [u8]| {
            move |i: i64| -> u8 {
                let at = (i % gop) as usize;
                match (at, i % idr) {
                    (0, 0) => IDR,
                    (0, _) => irap,
                    // Leading pictures after an IRAP other than an IDR.
                    (at, since_idr) if since_idr >= gop && at <= lead.len() => lead[at - 1],
                    _ => TRAIL,
                }
            }
        };
        type Case = (
            &'static str,
            Box<dyn Fn(i64) -> u8>,
            i64,
            &'static [u64],
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "IDR every 30",
                Box::new(stream(30, 30, CRA, &[])),
                120,
                &[30, 30, 30, 30],
                false,
            ),
            (
                "CRA with RASL every 15, IDR every 45 frames: cut at IDRs only",
                Box::new(stream(15, 45, CRA, &[RASL, RASL])),
                180,
                &[45, 45, 45, 45],
                false,
            ),
            (
                "CRA without leading pictures is clean",
                Box::new(stream(30, 1000, CRA, &[])),
                90,
                &[30, 30, 30],
                false,
            ),
            (
                "CRA with RADL only is clean",
                Box::new(stream(30, 1000, CRA, &[RADL, RADL])),
                90,
                &[30, 30, 30],
                false,
            ),
            (
                "RADL then RASL is not clean",
                Box::new(stream(30, 1000, CRA, &[RADL, RASL])),
                120,
                &[60, 30, 30],
                true,
            ),
            (
                "BLA is clean whatever follows",
                Box::new(stream(30, 1000, BLA, &[RASL])),
                90,
                &[30, 30, 30],
                false,
            ),
            (
                "open GOP throughout: no clean point in 2 targets, then every CRA",
                Box::new(stream(30, 1000, CRA, &[RASL, RASL, RASL])),
                150,
                &[60, 30, 30, 30],
                true,
            ),
        ];
        for (name, kind, n, want, open_gop) in cases {
            let mut seg = Segmenter::new(&[hevc(), video()], 1.0);
            let mut out = vec![];
            let mut pushed = vec![];
            for i in 0..n {
                // Audio (track 1) after every picture: it must follow the held pictures.
                for s in [
                    picture(0, i, kind(i)),
                    Sample {
                        track: 1,
                        ..frame(i, true)
                    },
                ] {
                    pushed.push((s.track, s.dts));
                    out.extend(seg.push(s));
                }
            }
            out.extend(seg.finish());
            let got: Vec<u64> = out.iter().map(|s| s.duration).collect();
            assert_eq!(got, want, "{name}");
            assert_eq!(seg.open_gop_cut, open_gop, "{name}");
            let all: Vec<(usize, i64)> = out
                .iter()
                .flat_map(|s| s.samples.iter().map(|x| (x.track, x.dts)))
                .collect();
            assert_eq!(all, pushed, "{name}: every sample once, in order");
            for s in &out {
                let first = &s.samples[0];
                let next = s.samples.iter().find(|x| x.track == 0 && x.dts > first.dts);
                let clean = match picture_kind(&first.data) {
                    PictureKind::Idr | PictureKind::Bla => true,
                    PictureKind::Cra => {
                        next.is_none_or(|x| picture_kind(&x.data) != PictureKind::Rasl)
                    }
                    _ => false,
                };
                assert!(
                    first.keyframe,
                    "{name}: segment {} opens on an IRAP",
                    s.index
                );
                assert!(
                    clean || open_gop,
                    "{name}: segment {} opens on a clean point",
                    s.index
                );
            }
        }
    }

    /// Table: keyframe positions (in frames at 30 fps) → expected segment lengths (frames).
    #[test]
    fn cuts_at_first_keyframe_at_or_after_target() {
        let cases: &[(&str, &[i64], i64, &[u64])] = &[
            (
                "regular 2s GOP",
                &[0, 60, 120, 180, 240],
                300,
                &[60, 60, 60, 60, 60],
            ),
            (
                "irregular GOP",
                &[0, 45, 70, 130, 200],
                260,
                &[70, 60, 70, 60],
            ),
            ("single GOP", &[0], 100, &[100]),
            ("leading non-key dropped", &[10, 80], 120, &[70, 40]),
        ];
        for (name, keys, total, want) in cases {
            let mut seg = Segmenter::new(&[video()], 2.0);
            let mut got = vec![];
            for dts in 0..*total {
                if let Some(s) = seg.push(frame(dts, keys.contains(&dts))) {
                    got.push(s.duration);
                }
            }
            got.extend(seg.finish().map(|s| s.duration));
            assert_eq!(&got, want, "case {name}");
            let sum: u64 = got.iter().sum();
            assert_eq!(
                sum as i64,
                total - keys[0],
                "case {name}: durations sum to the span"
            );
        }
    }

    /// Fuzz regression (package target): a fragmented MP4 whose tfdt is near i64::MAX gave a
    /// keyframe at dts i64::MAX − 16, and `dts + duration` overflowed. Decode times at either
    /// end of the i64 range must saturate, not panic.
    #[test]
    fn extreme_decode_times_saturate() {
        let mut seg = Segmenter::new(&[video()], 1.0);
        let mut out = vec![];
        let mut last = frame(i64::MAX - 16, true);
        last.duration = 1000;
        for s in [
            frame(i64::MIN, true),
            frame(i64::MIN + 1, false),
            frame(0, true),
            frame(i64::MAX - 100, true),
            last,
        ] {
            out.extend(seg.push(s));
        }
        out.extend(seg.finish());
        let durations: Vec<u64> = out.iter().map(|s| s.duration).collect();
        assert_eq!(
            durations,
            vec![i64::MAX as u64, i64::MAX as u64 - 100, 84, 16]
        );
    }

    #[test]
    fn every_segment_starts_with_keyframe() {
        let mut seg = Segmenter::new(&[video()], 1.0);
        let mut out = vec![];
        for dts in 0..200 {
            out.extend(seg.push(frame(dts, dts % 17 == 3)));
        }
        out.extend(seg.finish());
        assert!(out.len() > 5);
        for s in &out {
            assert!(
                s.samples[0].keyframe,
                "segment {} starts on a keyframe",
                s.index
            );
        }
    }
}
