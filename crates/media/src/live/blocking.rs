// SPDX-License-Identifier: MIT OR Apache-2.0
//! Delivery directives (RFC 8216bis 6.2.5) as pure decisions: the HTTP layer keeps the latest
//! [`PlaylistState`] (e.g. in a watch channel), asks [`check_blocking_request`] on each request
//! and again on each update while it holds the request, and answers with
//! [`PlaylistState::body`]. No HTTP here.

use std::time::Duration;

use bytes::Bytes;

/// A snapshot of the published media playlist, cheap to clone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaylistState {
    /// Media sequence number of the last complete segment, `None` before the first one.
    pub last_msn: Option<u64>,
    /// Number of parts of that segment (0 without LL-HLS), for the part-index rollover rule.
    pub last_msn_parts: u64,
    /// Media sequence number of the segment in progress (`last_msn + 1`, or the first MSN).
    pub next_msn: u64,
    /// Parts of the segment in progress listed so far.
    pub next_parts: u64,
    /// EXT-X-ENDLIST is present.
    pub ended: bool,
    pub target_duration: u64,
    /// PART-TARGET in seconds (LL-HLS).
    pub part_target: Option<f64>,
    /// CAN-BLOCK-RELOAD=YES is advertised.
    pub can_block_reload: bool,
    /// CAN-SKIP-UNTIL is advertised.
    pub can_skip: bool,
    /// The full playlist.
    pub full: Bytes,
    /// The Playlist Delta Update (6.2.5.1), when it would skip at least one segment.
    pub delta: Option<Bytes>,
}

/// What to do with a playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockDecision {
    /// Answer now with [`PlaylistState::body`].
    Ready,
    /// Hold the request until the next state; after [`PlaylistState::block_timeout`] answer
    /// 503 (RFC 8216bis 6.2.5.2 SHOULD).
    Wait,
    /// Answer 400 with this reason.
    BadRequest(&'static str),
}

impl PlaylistState {
    /// Whether the playlist already holds what `_HLS_msn=msn` (and `_HLS_part=part`) asks
    /// for (RFC 8216bis 6.2.5.2): segment `msn` or later complete; or part `part` of segment
    /// `msn` or a later part, where a part index past the last part of a complete segment
    /// means part 0 of the next segment.
    pub fn msn_part_available(&self, msn: u64, part: Option<u64>) -> bool {
        let complete = self.last_msn.is_some_and(|l| msn <= l);
        let Some(part) = part else {
            return complete;
        };
        match self.last_msn {
            Some(l) if msn < l => true,
            Some(l) if msn == l => {
                part < self.last_msn_parts || (self.next_msn > l && self.next_parts > 0)
            }
            _ => msn == self.next_msn && part < self.next_parts,
        }
    }

    /// The newest thing published: the last part (LL-HLS) or the last complete segment.
    pub fn newest(&self) -> (u64, Option<u64>) {
        if self.next_parts > 0 {
            return (self.next_msn, Some(self.next_parts - 1));
        }
        let msn = self.last_msn.unwrap_or(self.next_msn);
        (msn, self.last_msn_parts.checked_sub(1))
    }

    /// The response body: the delta update when `_HLS_skip=YES|v2` asks for it and one is
    /// offered (6.2.5.1), else the full playlist (also after ENDLIST, 6.2.5.1).
    pub fn body(&self, skip: Option<&str>) -> &Bytes {
        match (&self.delta, skip) {
            (Some(delta), Some("YES" | "v2")) if self.can_skip && !self.ended => delta,
            _ => &self.full,
        }
    }

    /// How long to hold a blocking request before answering 503: three target durations
    /// (RFC 8216bis 6.2.5.2).
    pub fn block_timeout(&self) -> Duration {
        Duration::from_secs(self.target_duration.saturating_mul(3))
    }

    /// Advance Part Limit (6.2.5.2): 3 / PART-TARGET parts when the target is below 1 s, else 3.
    fn advance_part_limit(&self) -> Option<u64> {
        let pt = self.part_target.filter(|p| p.is_finite() && *p > 0.0)?;
        Some(if pt < 1.0 {
            (3.0 / pt).floor() as u64
        } else {
            3
        })
    }
}

/// Decides a playlist request carrying `_HLS_msn`, `_HLS_part` and `_HLS_skip` (already
/// parsed as integers by the caller; a non-integer value is itself a 400).
pub fn check_blocking_request(
    state: &PlaylistState,
    msn: Option<u64>,
    part: Option<u64>,
    skip: Option<&str>,
) -> BlockDecision {
    // 6.2.5.2: _HLS_msn and _HLS_part are ignored once the playlist has EXT-X-ENDLIST
    // (6.2.5.1: so is _HLS_skip).
    if state.ended {
        return BlockDecision::Ready;
    }
    if part.is_some() && msn.is_none() {
        // 6.2.5.2 MUST.
        return BlockDecision::BadRequest("_HLS_part without _HLS_msn");
    }
    if state.can_skip && skip.is_some_and(|s| s != "YES" && s != "v2") {
        // 6.2.5: the value of _HLS_skip is YES or v2.
        return BlockDecision::BadRequest("_HLS_skip must be YES or v2");
    }
    let Some(msn) = msn else {
        return BlockDecision::Ready;
    };
    if !state.can_block_reload {
        // Not advertised: the directive means nothing here; answer at once.
        return BlockDecision::Ready;
    }
    // 6.2.5.2 SHOULD: 400 when _HLS_msn is more than two past the last segment (last + 2 =
    // next_msn + 1), or _HLS_part beyond the last part by more than the Advance Part Limit.
    if msn > state.next_msn.saturating_add(1) {
        return BlockDecision::BadRequest("_HLS_msn more than two segments past the last one");
    }
    if let (Some(part), Some(limit)) = (part, state.advance_part_limit()) {
        // Parts past the last listed one: exact for the segment in progress, a lower bound
        // for the one after it. Complete segments roll over to the next (never too far).
        let ahead = if msn == state.next_msn {
            part.saturating_add(1).saturating_sub(state.next_parts)
        } else if msn > state.next_msn {
            part.saturating_add(1)
        } else {
            0
        };
        if ahead > limit {
            return BlockDecision::BadRequest("_HLS_part beyond the Advance Part Limit");
        }
    }
    if state.msn_part_available(msn, part) {
        BlockDecision::Ready
    } else {
        BlockDecision::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlockDecision::{BadRequest, Ready, Wait};

    /// Segments ..=11 complete, 11 has 4 parts; segment 12 in progress with 2 parts;
    /// PART-TARGET 0.5 s (Advance Part Limit 6).
    fn state() -> PlaylistState {
        PlaylistState {
            last_msn: Some(11),
            last_msn_parts: 4,
            next_msn: 12,
            next_parts: 2,
            ended: false,
            target_duration: 2,
            part_target: Some(0.5),
            can_block_reload: true,
            can_skip: true,
            full: Bytes::from_static(b"full"),
            delta: Some(Bytes::from_static(b"delta")),
        }
    }

    #[test]
    fn decisions_table() {
        let s = state();
        let no_parts_yet = PlaylistState {
            next_parts: 0,
            ..state()
        };
        let ended = PlaylistState {
            ended: true,
            ..state()
        };
        let not_ll = PlaylistState {
            can_block_reload: false,
            can_skip: false,
            part_target: None,
            ..state()
        };
        let fresh = PlaylistState {
            last_msn: None,
            last_msn_parts: 0,
            next_msn: 0,
            next_parts: 0,
            ..state()
        };
        type Case<'a> = (
            &'a str,
            &'a PlaylistState,
            Option<u64>,
            Option<u64>,
            Option<&'a str>,
            BlockDecision,
        );
        let cases: &[Case] = &[
            ("plain request", &s, None, None, None, Ready),
            ("skip only", &s, None, None, Some("YES"), Ready),
            ("skip v2", &s, None, None, Some("v2"), Ready),
            (
                "bad skip value",
                &s,
                None,
                None,
                Some("NO"),
                BadRequest("_HLS_skip must be YES or v2"),
            ),
            (
                "part without msn",
                &s,
                None,
                Some(0),
                None,
                BadRequest("_HLS_part without _HLS_msn"),
            ),
            ("complete segment", &s, Some(11), None, None, Ready),
            (
                "old segment, left the window",
                &s,
                Some(0),
                None,
                None,
                Ready,
            ),
            (
                "msn-only waits for the whole segment",
                &s,
                Some(12),
                None,
                None,
                Wait,
            ),
            ("msn = last + 2 waits", &s, Some(13), None, None, Wait),
            (
                "msn > last + 2",
                &s,
                Some(14),
                None,
                None,
                BadRequest("_HLS_msn more than two segments past the last one"),
            ),
            ("listed part", &s, Some(12), Some(1), None, Ready),
            ("next part", &s, Some(12), Some(2), None, Wait),
            (
                "part of complete segment",
                &s,
                Some(11),
                Some(3),
                None,
                Ready,
            ),
            (
                "rollover to part 0 of 12 (exists)",
                &s,
                Some(11),
                Some(4),
                None,
                Ready,
            ),
            (
                "rollover to part 0 of 12 (not yet)",
                &no_parts_yet,
                Some(11),
                Some(4),
                None,
                Wait,
            ),
            ("within part limit", &s, Some(12), Some(7), None, Wait),
            (
                "beyond part limit",
                &s,
                Some(12),
                Some(8),
                None,
                BadRequest("_HLS_part beyond the Advance Part Limit"),
            ),
            (
                "next segment, within limit",
                &s,
                Some(13),
                Some(5),
                None,
                Wait,
            ),
            (
                "next segment, beyond limit",
                &s,
                Some(13),
                Some(6),
                None,
                BadRequest("_HLS_part beyond the Advance Part Limit"),
            ),
            ("ENDLIST: msn ignored", &ended, Some(40), None, None, Ready),
            (
                "ENDLIST: part without msn ignored",
                &ended,
                None,
                Some(3),
                None,
                Ready,
            ),
            (
                "ENDLIST: skip ignored",
                &ended,
                None,
                None,
                Some("NO"),
                Ready,
            ),
            ("not advertised", &not_ll, Some(30), None, None, Ready),
            (
                "fresh stream: msn 0 waits",
                &fresh,
                Some(0),
                None,
                None,
                Wait,
            ),
            (
                "fresh stream: msn 1 waits",
                &fresh,
                Some(1),
                None,
                None,
                Wait,
            ),
            (
                "fresh stream: msn 2 too far",
                &fresh,
                Some(2),
                None,
                None,
                BadRequest("_HLS_msn more than two segments past the last one"),
            ),
        ];
        for (name, st, msn, part, skip, want) in cases {
            assert_eq!(
                check_blocking_request(st, *msn, *part, *skip),
                *want,
                "{name}"
            );
        }
    }

    #[test]
    fn advance_part_limit_follows_part_target() {
        let limit = |pt: Option<f64>| {
            PlaylistState {
                part_target: pt,
                ..state()
            }
            .advance_part_limit()
        };
        assert_eq!(limit(Some(0.2)), Some(15));
        assert_eq!(limit(Some(0.5)), Some(6));
        assert_eq!(limit(Some(1.0)), Some(3));
        assert_eq!(limit(Some(2.0)), Some(3));
        assert_eq!(limit(None), None);
        assert_eq!(limit(Some(0.0)), None);
    }

    #[test]
    fn body_newest_and_timeout() {
        let s = state();
        assert_eq!(s.body(None), "full");
        assert_eq!(s.body(Some("YES")), "delta");
        assert_eq!(s.body(Some("v2")), "delta");
        let ended = PlaylistState {
            ended: true,
            ..state()
        };
        assert_eq!(ended.body(Some("YES")), "full");
        assert_eq!(s.newest(), (12, Some(1)));
        let no_parts = PlaylistState {
            next_parts: 0,
            ..state()
        };
        assert_eq!(no_parts.newest(), (11, Some(3)));
        let classic = PlaylistState {
            last_msn_parts: 0,
            next_parts: 0,
            ..state()
        };
        assert_eq!(classic.newest(), (11, None));
        assert_eq!(s.block_timeout(), Duration::from_secs(6));
    }
}
