// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live playlists, followed for N seconds (reloaded every half target duration, RFC 8216
//! 6.3.4): each snapshot must carry dates (Apple 8.4) that advance with EXTINF (RFC 8216bis
//! 4.4.4.6) and keep three target durations of segments (6.2.2); from one reload to the next
//! TARGETDURATION stays (6.2.1), MEDIA-SEQUENCE never goes back, segments leave only from the
//! front and never change, DISCONTINUITY-SEQUENCE counts the discontinuities that left (6.2.2),
//! an EVENT playlist only grows (4.4.3.5), and a new segment comes within 1.5 target durations
//! (6.2.1). New segments go through the segment checks as they appear.

use std::time::{Duration, Instant};

use crate::playlist::{MediaPlaylist, Segment};
use crate::report::{Location, Report};

const S_LIVE: &str = "RFC 8216bis 6.2.2";
const S_UPDATE: &str = "RFC 8216bis 6.2.1";
const S_PDT: &str = "RFC 8216bis 4.4.4.6";

/// Rules that one snapshot of a live playlist must meet. Date steps are judged for the
/// segments after `seen` only (the others were judged in an earlier snapshot).
pub fn snapshot_rules(pl: &MediaPlaylist, seen: Option<u64>, report: &mut Report) {
    if pl.end_list {
        return;
    }
    let uri = pl.uri.as_str();
    if let Some(s) = pl.segments.first().filter(|s| s.pdt_ms.is_none()) {
        // Apple 8.4: a date in every live playlist.
        report.must(
            "Apple 8.4",
            uri,
            Location::Line(s.line),
            "live playlist without EXT-X-PROGRAM-DATE-TIME",
        );
    }
    for w in pl.segments.windows(2) {
        let [a, b] = w else { continue };
        if seen.is_some_and(|m| b.msn <= m) {
            continue;
        }
        if let (Some(pa), Some(pb), false) = (a.pdt_ms, b.pdt_ms, b.discontinuity) {
            let step = (pb - pa) as f64 / 1000.0;
            if (step - a.duration).abs() > 0.05 {
                report.should(S_PDT, uri, Location::Line(b.line), format!("PROGRAM-DATE-TIME advances {step:.3} s from the previous segment, whose EXTINF is {:.3} s", a.duration));
            }
        }
    }
    let total: f64 = pl.segments.iter().map(|s| s.duration).sum();
    if let Some(t) = pl.target {
        if pl.media_sequence > 0 && pl.skipped == 0 && total < 3.0 * t as f64 - 0.001 {
            report.must(S_LIVE, uri, Location::Whole, format!("segments were removed but the playlist lasts {total:.3} s, under 3 × TARGETDURATION ({} s)", 3 * t));
        }
    }
}

/// Rules between two consecutive snapshots `prev` → `cur` of the same live playlist.
pub fn reload_rules(prev: &MediaPlaylist, cur: &MediaPlaylist, report: &mut Report) {
    let uri = cur.uri.as_str();
    if prev.target != cur.target {
        report.must(
            S_UPDATE,
            uri,
            Location::Whole,
            format!(
                "EXT-X-TARGETDURATION changed from {:?} to {:?} (it MUST NOT change)",
                prev.target, cur.target
            ),
        );
    }
    if cur.media_sequence < prev.media_sequence {
        report.must(
            S_LIVE,
            uri,
            Location::Whole,
            format!(
                "EXT-X-MEDIA-SEQUENCE went back from {} to {}",
                prev.media_sequence, cur.media_sequence
            ),
        );
        return;
    }
    if cur.playlist_type.as_deref() == Some("EVENT") && cur.media_sequence != prev.media_sequence {
        report.must(
            "RFC 8216bis 4.4.3.5",
            uri,
            Location::Whole,
            "an EVENT playlist removed segments",
        );
    }
    // Segments of `prev` still in the window must be unchanged; those gone must be the first.
    let mut disc_gone = 0;
    for p in &prev.segments {
        if p.msn < cur.media_sequence {
            disc_gone += u64::from(p.discontinuity);
            continue;
        }
        let Some(c) = cur.segments.iter().find(|c| c.msn == p.msn) else {
            if p.msn >= cur.media_sequence.saturating_add(cur.skipped) {
                report.must(
                    S_LIVE,
                    uri,
                    Location::Whole,
                    format!(
                        "segment {} ({}) vanished from the middle of the playlist",
                        p.msn, p.uri
                    ),
                );
            }
            continue;
        };
        if let Some(what) = changed(p, c) {
            report.must(
                S_LIVE,
                uri,
                Location::Line(c.line),
                format!("segment {} changed between reloads: {what}", p.msn),
            );
        }
    }
    if cur.skipped == 0 {
        let want = prev.discontinuity_sequence.saturating_add(disc_gone);
        if cur.discontinuity_sequence != want {
            report.must(S_LIVE, uri, Location::Whole, format!("EXT-X-DISCONTINUITY-SEQUENCE is {} but {} discontinuities left since it was {}: expected {want}", cur.discontinuity_sequence, disc_gone, prev.discontinuity_sequence));
        }
    }
    if prev.end_list && cur != prev {
        report.must(
            S_UPDATE,
            uri,
            Location::Whole,
            "the playlist changed after EXT-X-ENDLIST",
        );
    }
}

/// What differs between two listings of one media sequence number.
fn changed(p: &Segment, c: &Segment) -> Option<String> {
    if p.uri != c.uri {
        return Some(format!("URI {} → {}", p.uri, c.uri));
    }
    if (p.duration - c.duration).abs() > 0.0005 {
        return Some(format!("EXTINF {:.3} → {:.3}", p.duration, c.duration));
    }
    if p.discontinuity != c.discontinuity {
        return Some("EXT-X-DISCONTINUITY added or removed".into());
    }
    match (p.pdt_ms, c.pdt_ms) {
        (Some(a), Some(b)) if a != b => Some(format!("PROGRAM-DATE-TIME moved {} ms", b - a)),
        _ => None,
    }
}

/// What following a live playlist does with each reload.
pub trait Follower {
    /// The next snapshot (None when it cannot be read; the implementation reports why).
    fn reload(&mut self, report: &mut Report) -> Option<MediaPlaylist>;
    /// Segments a snapshot adds (the first snapshot's all of them).
    fn added(&mut self, cur: &MediaPlaylist, new: &[Segment], report: &mut Report);
    /// Segments that left the playlist since the previous snapshot.
    fn removed(&mut self, gone: &[Segment], report: &mut Report);
}

/// Follows a live playlist for `seconds`, reloading every half target duration.
pub fn follow(first: MediaPlaylist, seconds: u64, f: &mut impl Follower, report: &mut Report) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    snapshot_rules(&first, None, report);
    f.added(&first, &first.segments, report);
    let mut prev = first;
    let mut last_new = Instant::now();
    let mut late_reported = false;
    while Instant::now() < deadline && !prev.end_list {
        let target = prev.target.unwrap_or(2).max(1) as f64;
        let wait = Duration::from_secs_f64((target / 2.0).max(0.2));
        std::thread::sleep(wait.min(deadline.saturating_duration_since(Instant::now())));
        let Some(cur) = f.reload(report) else {
            continue;
        };
        snapshot_rules(&cur, prev.last_msn(), report);
        reload_rules(&prev, &cur, report);
        let seen = prev.last_msn();
        let added: Vec<Segment> = cur
            .segments
            .iter()
            .filter(|s| seen.is_none_or(|m| s.msn > m))
            .cloned()
            .collect();
        if added.is_empty() && !cur.end_list {
            // RFC 8216bis 6.2.1: a new segment within 1.5 target durations (plus our polling).
            let late = last_new.elapsed().as_secs_f64();
            if late > 1.5 * target + wait.as_secs_f64() + 0.5 && !late_reported {
                late_reported = true;
                let msg = format!("no new segment for {late:.1} s (TARGETDURATION {target})");
                report.should(S_UPDATE, &cur.uri, Location::Whole, msg);
            }
        } else {
            last_new = Instant::now();
        }
        let gone: Vec<Segment> = prev
            .segments
            .iter()
            .filter(|s| s.msn < cur.media_sequence)
            .cloned()
            .collect();
        if !gone.is_empty() {
            f.removed(&gone, report);
        }
        f.added(&cur, &added, report);
        prev = cur;
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
