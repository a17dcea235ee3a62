// SPDX-License-Identifier: MIT OR Apache-2.0
//! The window of a live media playlist (RFC 8216bis 6.2.2): which complete segments are listed,
//! EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE as segments leave, when a segment's
//! EXT-X-PART tags stop being listed, when removed objects may be deleted, and the rendering
//! of the full playlist or a Playlist Delta Update (6.2.5.1).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::playlist::ll::RenditionReport;
use crate::playlist::media::Map;
use crate::playlist::{
    ByteRange, IFrame, IFramePlaylist, LiveTags, MediaPlaylist, MediaSegment, OpenSegment, Part,
    PlaylistType, SegmentTags, ServerControl,
};

/// Which segments stay listed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowKind {
    /// The last `window` segments (no EXT-X-PLAYLIST-TYPE, 6.2.2).
    Sliding,
    /// Every segment (EXT-X-PLAYLIST-TYPE:EVENT, 6.2.1); nothing is ever deleted.
    Event,
    /// At least this many seconds (and at least `window` segments): a sliding window for DVR.
    Dvr(f64),
}

/// A complete segment in the window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub msn: u64,
    pub uri: String,
    /// Seconds (EXTINF).
    pub duration: f64,
    pub pdt: Option<String>,
    pub discontinuity: bool,
    /// URI of the initialization section (EXT-X-MAP) this segment needs.
    pub init: Option<String>,
    /// EXT-X-PART tags still listed.
    pub parts: Vec<Part>,
    /// Media time at the segment's end, seconds on the stream's own running clock.
    pub end: f64,
    pub size: u64,
    /// The segment's first keyframe, as a range of the segment (from its start, with PAT/PMT
    /// for TS; `moof` + `mdat` header + the keyframe for fMP4): its I-frame playlist entry.
    /// `None` without video, and for segments recovered from an earlier run.
    pub iframe: Option<ByteRange>,
    /// Decodes without the previous segment (false: an HEVC CRA with RASL pictures opens it).
    pub independent: bool,
}

impl Entry {
    fn start(&self) -> f64 {
        self.end - self.duration
    }
}

/// What the window needs besides its segments to render a playlist.
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderParams<'a> {
    pub target: u64,
    pub playlist_type: Option<PlaylistType>,
    pub server_control: Option<ServerControl>,
    pub part_target: Option<f64>,
    /// The segment in progress (LL-HLS); its `map` is filled in here.
    pub open: Option<OpenSegment>,
    pub preload_hint: Option<String>,
    pub ended: bool,
    /// Initialization section of the segment in progress / the next segment.
    pub current_init: Option<&'a str>,
    /// EXT-X-RENDITION-REPORT of the other renditions (RFC 8216bis 4.4.5.4), in full
    /// playlists and delta updates alike.
    pub rendition_reports: &'a [RenditionReport],
}

#[derive(Debug, Clone)]
pub(crate) struct Window {
    kind: WindowKind,
    max_segments: usize,
    target: u64,
    pub segments: VecDeque<Entry>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    /// (time from which it may be deleted, object name).
    deletions: Vec<(SystemTime, String)>,
    /// Longest playlist duration distributed so far, seconds (6.2.2 Availability Duration).
    longest_playlist: f64,
}

/// `now + secs`, saturating to `now + 1 h` for values `Duration` cannot hold.
fn after(now: SystemTime, secs: f64) -> SystemTime {
    let d = Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::from_secs(3600));
    now.checked_add(d).unwrap_or(now)
}

impl Window {
    pub(crate) fn new(kind: WindowKind, max_segments: usize, target: u64) -> Self {
        Window {
            kind,
            max_segments: max_segments.max(1),
            target,
            segments: VecDeque::new(),
            media_sequence: 0,
            discontinuity_sequence: 0,
            deletions: Vec::new(),
            longest_playlist: 0.0,
        }
    }

    /// Media sequence number the next complete segment gets.
    pub(crate) fn next_msn(&self) -> u64 {
        self.media_sequence
            .saturating_add(self.segments.len() as u64)
    }

    /// Sum of the listed EXTINF durations.
    pub(crate) fn duration(&self) -> f64 {
        self.segments.iter().map(|e| e.duration).sum()
    }

    /// Media time at the end of the last complete segment.
    pub(crate) fn end(&self) -> Option<f64> {
        self.segments.back().map(|e| e.end)
    }

    /// Appends a complete segment, then removes old ones as the window kind allows (6.2.2).
    /// `current_init` is the initialization section still in use (not to be deleted).
    pub(crate) fn push(&mut self, entry: Entry, now: SystemTime, current_init: Option<&str>) {
        self.segments.push_back(entry);
        let floor = match self.kind {
            WindowKind::Event => return,
            WindowKind::Sliding => 0.0,
            WindowKind::Dvr(secs) => secs,
        }
        // 6.2.2: never shrink a live playlist below three target durations.
        .max(3.0 * self.target as f64);
        while self.segments.len() > self.max_segments {
            let first = self.segments.front().map_or(0.0, |e| e.duration);
            if self.duration() - first < floor {
                break;
            }
            self.remove_first(now, current_init);
        }
    }

    /// Removes the oldest segment (also used by recovery when the old segments cannot be kept).
    pub(crate) fn remove_first(&mut self, now: SystemTime, current_init: Option<&str>) {
        let Some(e) = self.segments.pop_front() else {
            return;
        };
        // 6.2.2: MEDIA-SEQUENCE grows by one per removed segment; DISCONTINUITY-SEQUENCE by one
        // per removed EXT-X-DISCONTINUITY tag, so that the remaining segments keep their numbers.
        self.media_sequence = self.media_sequence.saturating_add(1);
        if e.discontinuity {
            self.discontinuity_sequence = self.discontinuity_sequence.saturating_add(1);
        }
        // 6.2.2: a removed segment stays available for its Availability Duration (its own
        // duration plus that of the longest playlist that contained it) after removal.
        let at = after(now, e.duration + self.longest_playlist);
        self.schedule_parts(e.parts, now);
        if let Some(init) = e.init {
            let used = current_init == Some(init.as_str())
                || self
                    .segments
                    .iter()
                    .any(|s| s.init.as_deref() == Some(init.as_str()));
            if !used {
                self.deletions.push((at, init));
            }
        }
        self.deletions.push((at, e.uri));
    }

    /// Parts stay fetchable three target durations after their tags leave the playlist (6.2.2).
    fn schedule_parts(&mut self, parts: Vec<Part>, now: SystemTime) {
        let at = after(now, 3.0 * self.target as f64);
        self.deletions
            .extend(parts.into_iter().map(|p| (at, p.uri)));
    }

    /// Stops listing the parts of segments that ended more than three target durations before
    /// `live_edge` (RFC 8216bis 6.2.2: EXT-X-PART tags SHOULD be removed once further than
    /// that from the end of the playlist), oldest first.
    pub(crate) fn unlist_parts(&mut self, live_edge: f64, now: SystemTime) {
        let horizon = 3.0 * self.target as f64;
        let mut gone = Vec::new();
        for e in self.segments.iter_mut() {
            if !e.parts.is_empty() && live_edge - e.end > horizon {
                gone.append(&mut e.parts);
            }
        }
        self.schedule_parts(gone, now);
    }

    /// Deletes `name` from `at` on.
    pub(crate) fn schedule(&mut self, at: SystemTime, name: String) {
        self.deletions.push((at, name));
    }

    /// Three target durations from `now` (how long an unlisted part stays).
    pub(crate) fn part_grace(&self, now: SystemTime) -> SystemTime {
        after(now, 3.0 * self.target as f64)
    }

    /// Objects whose deletion time has come, in deadline order.
    pub(crate) fn due(&mut self, now: SystemTime) -> Vec<String> {
        let (mut due, keep): (Vec<_>, Vec<_>) =
            self.deletions.drain(..).partition(|(at, _)| *at <= now);
        self.deletions = keep;
        due.sort();
        due.into_iter().map(|(_, name)| name).collect()
    }

    pub(crate) fn next_deadline(&self) -> Option<SystemTime> {
        self.deletions.iter().map(|(at, _)| *at).min()
    }

    /// Renders the playlist; with `skip`, a Playlist Delta Update (6.2.5.1), or `None` when
    /// there is nothing to skip (the full playlist is then the answer).
    pub(crate) fn render(&self, p: &RenderParams<'_>, skip: bool) -> Option<MediaPlaylist> {
        let skipped = if skip {
            let until = p.server_control.as_ref()?.can_skip_until?;
            let end = self.end()?;
            // 6.2.5.1: skip the segments further from the end of the last segment than the
            // Skip Boundary: those that start more than CAN-SKIP-UNTIL before it.
            let n = self
                .segments
                .iter()
                .take_while(|e| end - e.start() > until + 1e-6)
                .count();
            if n == 0 {
                return None;
            }
            n
        } else {
            0
        };
        let listed = self.with_maps(skipped, p.current_init);
        let mut segments = Vec::with_capacity(listed.entries.len());
        let mut tags = Vec::with_capacity(listed.entries.len());
        for (e, map) in listed.entries {
            segments.push(MediaSegment {
                uri: e.uri.clone(),
                duration: e.duration,
                byterange: None,
                discontinuity: e.discontinuity,
                program_date_time: e.pdt.clone(),
                size: e.size,
            });
            tags.push(SegmentTags {
                map,
                parts: e.parts.clone(),
            });
        }
        let open = p.open.clone().map(|mut o| {
            o.map = map_change(listed.last_init, p.current_init);
            o
        });
        let playlist = MediaPlaylist {
            target_duration: p.target,
            media_sequence: self.media_sequence,
            discontinuity_sequence: self.discontinuity_sequence,
            playlist_type: p.playlist_type,
            // RFC 8216bis 4.4.2.1: every segment of the playlist (the skipped ones too).
            independent_segments: self.segments.iter().all(|e| e.independent),
            map: listed.first_init.map(|uri| Map {
                uri: uri.to_owned(),
                byterange: None,
            }),
            segments,
            end_list: p.ended,
            live: LiveTags {
                server_control: p.server_control.clone(),
                part_target: p.part_target,
                skipped_segments: skipped as u64,
                segment_tags: tags,
                open_segment: open,
                preload_hint: p.preload_hint.clone(),
                rendition_reports: p.rendition_reports.to_vec(),
            },
        };
        Some(playlist)
    }

    /// The I-frame playlist of the window (RFC 8216bis 4.4.3.6; Apple 6.1 asks for one per
    /// video variant): one entry per listed segment, its first keyframe, with the segment's
    /// EXTINF, discontinuity and EXT-X-MAP — so its EXT-X-MEDIA-SEQUENCE and
    /// DISCONTINUITY-SEQUENCE are the media playlist's, whatever slides out or restarts. A
    /// segment without a keyframe range (recovered from a run whose I-frame playlist is gone,
    /// or audio only after a track change) is an EXT-X-GAP entry. `None` when no listed segment
    /// has a range, unless `always` (an I-frame playlist was written before and must go on).
    pub(crate) fn render_iframes(
        &self,
        p: &RenderParams<'_>,
        always: bool,
    ) -> Option<IFramePlaylist> {
        if !always && self.segments.iter().all(|e| e.iframe.is_none()) {
            return None;
        }
        let listed = self.with_maps(0, p.current_init);
        let first_init = listed.first_init;
        let entries = listed
            .entries
            .into_iter()
            .map(|(e, map)| IFrame {
                uri: e.uri.clone(),
                duration: e.duration,
                byterange: e.iframe,
                discontinuity: e.discontinuity,
                map,
                // Apple 8.4: every live playlist; the segment's own, so the two agree.
                program_date_time: e.pdt.clone(),
            })
            .collect();
        let mut playlist = IFramePlaylist::default();
        playlist.target_duration = p.target;
        playlist.media_sequence = self.media_sequence;
        playlist.discontinuity_sequence = self.discontinuity_sequence;
        playlist.playlist_type = p.playlist_type;
        playlist.end_list = p.ended;
        playlist.map = first_init.map(|uri| Map {
            uri: uri.to_owned(),
            byterange: None,
        });
        playlist.entries = entries;
        Some(playlist)
    }

    /// The segments listed from index `from` on, each with the EXT-X-MAP to write before it
    /// (where the initialization section changes, 4.4.4.5); the media and I-frame playlists
    /// share this.
    fn with_maps<'a>(&'a self, from: usize, current_init: Option<&'a str>) -> Listed<'a> {
        let first_init = self
            .segments
            .get(from)
            .map_or(current_init, |e| e.init.as_deref());
        let mut last_init = first_init;
        let entries = self
            .segments
            .iter()
            .skip(from)
            .map(|e| {
                let map = map_change(last_init, e.init.as_deref());
                last_init = e.init.as_deref();
                (e, map)
            })
            .collect();
        Listed {
            first_init,
            entries,
            last_init,
        }
    }

    /// Records a distributed playlist's duration (for the Availability Duration, 6.2.2).
    pub(crate) fn note_distributed(&mut self, playlist: &MediaPlaylist) {
        let open = playlist
            .live
            .open_segment
            .as_ref()
            .map_or(0.0, |o| o.parts.iter().map(|p| p.duration).sum());
        self.longest_playlist = self.longest_playlist.max(playlist.duration() + open);
    }
}

/// Segments to list, from [`Window::with_maps`].
struct Listed<'a> {
    /// The initialization section of the first (the playlist-level EXT-X-MAP).
    first_init: Option<&'a str>,
    entries: Vec<(&'a Entry, Option<Map>)>,
    /// The initialization section in force after the last.
    last_init: Option<&'a str>,
}

/// EXT-X-MAP to write before a segment whose initialization section differs from the previous.
fn map_change(prev: Option<&str>, this: Option<&str>) -> Option<Map> {
    match this {
        Some(uri) if prev != Some(uri) => Some(Map {
            uri: uri.to_owned(),
            byterange: None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msn: u64, duration: f64, end: f64, disc: bool) -> Entry {
        Entry {
            msn,
            uri: format!("s{msn}.ts"),
            duration,
            pdt: None,
            discontinuity: disc,
            init: None,
            parts: vec![],
            end,
            size: 0,
            iframe: None,
            independent: true,
        }
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// RFC 8216bis 4.4.2.1: EXT-X-INDEPENDENT-SEGMENTS only while every listed segment decodes
    /// alone — from the push of one that does not (an HEVC CRA with RASL pictures) until it
    /// leaves the window.
    #[test]
    fn independence_declared_only_while_every_listed_segment_decodes_alone() {
        let mut w = Window::new(WindowKind::Sliding, 3, 2);
        let params = RenderParams {
            target: 2,
            ..Default::default()
        };
        let mut declared = vec![];
        for i in 0..7u64 {
            let e = Entry {
                independent: i != 2,
                ..entry(i, 2.0, 2.0 * (i + 1) as f64, false)
            };
            w.push(e, t(2 * (i + 1)), None);
            let full = w.render(&params, false).expect("full playlist");
            declared.push(full.independent_segments);
        }
        assert_eq!(declared, [true, true, false, false, false, true, true]);
    }

    /// Sliding window of 6 × 2 s: MEDIA-SEQUENCE after each push, and deletions exactly at
    /// removal + segment duration + longest playlist duration (6.2.2).
    #[test]
    fn sliding_window_media_sequence_and_deletion_timing() {
        let mut w = Window::new(WindowKind::Sliding, 6, 2);
        let params = RenderParams {
            target: 2,
            ..Default::default()
        };
        let mut seqs = vec![];
        for i in 0..10u64 {
            let now = t(2 * (i + 1));
            w.push(entry(i, 2.0, 2.0 * (i + 1) as f64, false), now, None);
            let full = w.render(&params, false).expect("full playlist");
            w.note_distributed(&full);
            seqs.push(w.media_sequence);
            assert!(w.segments.len() <= 6);
        }
        assert_eq!(seqs, [0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(w.next_msn(), 10);
        // s0 left at t=14 when the longest playlist was 12 s: deletable at 14 + 2 + 12 = 28.
        assert_eq!(w.due(t(27)), Vec::<String>::new());
        assert_eq!(w.due(t(28)), ["s0.ts"]);
        // s1..s3 left at 16, 18, 20 (the longest playlist stayed 12 s).
        assert_eq!(w.due(t(31)), ["s1.ts"]);
        assert_eq!(w.next_deadline(), Some(t(32)));
        assert_eq!(w.due(t(100)), ["s2.ts", "s3.ts"]);
        assert_eq!(w.next_deadline(), None);
    }

    /// Table: window kind, segment durations → media sequence at the end, segments listed.
    #[test]
    fn window_kinds() {
        // (name, kind, window, target, durations, media sequence, listed)
        type Case<'a> = (&'a str, WindowKind, usize, u64, &'a [f64], u64, usize);
        let cases: &[Case] = &[
            ("sliding", WindowKind::Sliding, 6, 2, &[2.0; 9], 3, 6),
            ("event keeps all", WindowKind::Event, 6, 2, &[2.0; 9], 0, 9),
            ("dvr 10 s", WindowKind::Dvr(10.0), 3, 2, &[2.0; 9], 4, 5),
            (
                "dvr below count",
                WindowKind::Dvr(2.0),
                6,
                2,
                &[2.0; 9],
                3,
                6,
            ),
            // Three 1 s segments would be below 3 × target (2 s): one more is kept.
            (
                "3x target floor",
                WindowKind::Sliding,
                3,
                2,
                &[1.0; 9],
                3,
                6,
            ),
        ];
        for (name, kind, max, target, durs, want_seq, want_len) in cases {
            let mut w = Window::new(*kind, *max, *target);
            let mut end = 0.0;
            for (i, d) in durs.iter().enumerate() {
                end += d;
                w.push(entry(i as u64, *d, end, false), t(0), None);
            }
            assert_eq!(w.media_sequence, *want_seq, "{name}");
            assert_eq!(w.segments.len(), *want_len, "{name}");
            assert!(w.duration() >= 3.0 * *target as f64, "{name}");
        }
    }

    /// DISCONTINUITY-SEQUENCE grows when a segment carrying EXT-X-DISCONTINUITY leaves.
    #[test]
    fn discontinuity_sequence_counting() {
        let disc = [
            false, true, false, true, true, false, false, false, false, false,
        ];
        // After pushing segment i (window 3): discontinuity sequence.
        let want = [0, 0, 0, 0, 1, 1, 2, 3, 3, 3];
        let mut w = Window::new(WindowKind::Sliding, 3, 1);
        for (i, d) in disc.iter().enumerate() {
            w.push(entry(i as u64, 1.0, i as f64 + 1.0, *d), t(0), None);
            assert_eq!(w.discontinuity_sequence, want[i], "after segment {i}");
            // Invariant: sequence number of the first listed segment = removed tags.
            let removed = disc[..w.media_sequence as usize]
                .iter()
                .filter(|d| **d)
                .count() as u64;
            assert_eq!(w.discontinuity_sequence, removed);
        }
    }

    #[test]
    fn parts_unlisted_after_three_target_durations_then_deleted() {
        let mut w = Window::new(WindowKind::Sliding, 6, 1);
        let mut e = entry(0, 1.0, 1.0, false);
        e.parts = vec![
            Part {
                uri: "p0".into(),
                duration: 0.5,
                independent: true,
            },
            Part {
                uri: "p1".into(),
                duration: 0.5,
                independent: false,
            },
        ];
        w.push(e, t(1), None);
        w.unlist_parts(4.0, t(4));
        assert_eq!(
            w.segments[0].parts.len(),
            2,
            "exactly 3 target durations: kept"
        );
        w.unlist_parts(4.5, t(5));
        assert!(w.segments[0].parts.is_empty());
        assert!(w.due(t(7)).is_empty());
        assert_eq!(w.due(t(8)), ["p0", "p1"]);
    }

    /// Delta update: segments starting more than CAN-SKIP-UNTIL before the end are skipped;
    /// the MAP is that of the first listed segment; version 9.
    #[test]
    fn delta_skip_counting() {
        // (segments of 2 s, CAN-SKIP-UNTIL) → skipped.
        let cases: &[(usize, f64, Option<u64>)] = &[
            (10, 12.0, Some(4)),
            (6, 12.0, None),
            (7, 12.0, Some(1)),
            (20, 12.0, Some(14)),
        ];
        for (n, until, want) in cases {
            let mut w = Window::new(WindowKind::Event, 6, 2);
            for i in 0..*n {
                let mut e = entry(i as u64, 2.0, 2.0 * (i + 1) as f64, false);
                e.init = Some(if i < 1 { "a.mp4" } else { "b.mp4" }.into());
                w.push(e, t(0), Some("b.mp4"));
            }
            let params = RenderParams {
                target: 2,
                server_control: Some(ServerControl {
                    can_block_reload: true,
                    can_skip_until: Some(*until),
                    ..Default::default()
                }),
                current_init: Some("b.mp4"),
                ..Default::default()
            };
            let delta = w.render(&params, true);
            assert_eq!(
                delta.as_ref().map(|p| p.live.skipped_segments),
                *want,
                "{n}"
            );
            if let Some(d) = delta {
                assert_eq!(d.segments.len() + d.live.skipped_segments as usize, *n);
                assert_eq!(d.media_sequence, 0);
                assert_eq!(d.version(), 9);
                assert_eq!(d.map.as_ref().map(|m| m.uri.as_str()), Some("b.mp4"));
                assert!(d.live.segment_tags.iter().all(|t| t.map.is_none()));
            }
            let full = w.render(&params, false).expect("full playlist");
            assert_eq!(full.segments.len(), *n);
            assert_eq!(full.map.as_ref().map(|m| m.uri.as_str()), Some("a.mp4"));
            assert_eq!(
                full.live
                    .segment_tags
                    .get(1)
                    .and_then(|t| t.map.as_ref())
                    .map(|m| m.uri.as_str()),
                Some("b.mp4")
            );
        }
    }

    #[test]
    fn init_deleted_with_its_last_segment() {
        let mut w = Window::new(WindowKind::Sliding, 1, 1);
        let mut a = entry(0, 3.0, 3.0, false);
        a.init = Some("a.mp4".into());
        let mut b = entry(1, 3.0, 6.0, true);
        b.init = Some("b.mp4".into());
        let mut c = entry(2, 3.0, 9.0, false);
        c.init = Some("b.mp4".into());
        w.push(a, t(0), Some("a.mp4"));
        w.push(b, t(0), Some("b.mp4"));
        w.push(c, t(0), Some("b.mp4"));
        let mut gone = w.due(t(100));
        gone.sort();
        assert_eq!(gone, ["a.mp4", "s0.ts", "s1.ts"]);
        assert_eq!(w.discontinuity_sequence, 1);
    }
}
