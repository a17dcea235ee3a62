// SPDX-License-Identifier: MIT OR Apache-2.0
//! Crash recovery: continue a live playlist written by an earlier run.
//!
//! The last media playlist we wrote is parsed (only the tags this crate writes; others are
//! skipped) so the new run keeps EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE growing
//! (RFC 8216bis 6.2.2: they never decrease), keeps the old segments listed until they slide
//! out, and marks the gap before its first segment with EXT-X-DISCONTINUITY (6.2.1).
//! EXT-X-TARGETDURATION of the old playlist is kept (6.2.1: it MUST NOT change). Parts of the
//! old run are no longer listed and are deleted three target durations later (6.2.2).

use std::time::SystemTime;

use super::window::Entry;
use super::{check_config, LiveConfig, LiveStream};
use crate::package::Format;
use crate::playlist::ByteRange;
use crate::sample::TrackInfo;
use crate::{Error, Result};

/// What recovery needs from an old media playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OldPlaylist {
    pub target: Option<u64>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub segments: Vec<OldSegment>,
    /// URIs of EXT-X-PART and EXT-X-PRELOAD-HINT tags.
    pub parts: Vec<String>,
    pub ended: bool,
    /// EXT-X-INDEPENDENT-SEGMENTS was declared (its segments keep that status).
    pub independent_segments: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OldSegment {
    pub uri: String,
    pub duration: f64,
    pub pdt: Option<String>,
    pub discontinuity: bool,
    /// EXT-X-MAP in effect.
    pub init: Option<String>,
    /// EXT-X-BYTERANGE (an I-frame playlist's entries have one).
    pub byterange: Option<ByteRange>,
}

/// Value of attribute `name` in an attribute list (RFC 8216bis 4.2), unquoted.
fn attribute(list: &str, name: &str) -> Option<String> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let (v, tail) = quoted.split_once('"')?;
            (v, tail.strip_prefix(',').unwrap_or(tail))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        if key.trim() == name {
            return Some(value.to_owned());
        }
        rest = next;
    }
    None
}

/// Parses a media playlist written by this crate.
pub(crate) fn parse(text: &str) -> Result<OldPlaylist> {
    let bad = |line: usize, msg: String| Error::Playlist(format!("line {line}: {msg}"));
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    match lines.next() {
        Some((_, "#EXTM3U")) => {}
        _ => return Err(bad(1, "not an M3U8 playlist (no #EXTM3U)".into())),
    }
    let mut p = OldPlaylist::default();
    let mut map: Option<String> = None;
    let (mut disc, mut pdt, mut extinf) = (false, None, None::<f64>);
    let mut byterange = None;
    for (n, line) in lines {
        if line.is_empty() {
            continue;
        }
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(n, format!("{v:?} is not a decimal integer")))
        };
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            p.target = Some(int(v)?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = int(v)?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            p.discontinuity_sequence = int(v)?;
        } else if line == "#EXT-X-DISCONTINUITY" {
            disc = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("#EXT-X-MAP:") {
            map = Some(attribute(v, "URI").ok_or_else(|| bad(n, "EXT-X-MAP without URI".into()))?);
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or_default();
            let d = d
                .parse::<f64>()
                .ok()
                .filter(|d| d.is_finite() && *d >= 0.0)
                .ok_or_else(|| bad(n, format!("bad EXTINF duration {d:?}")))?;
            extinf = Some(d);
        } else if let Some(v) = line
            .strip_prefix("#EXT-X-PART:")
            .or_else(|| line.strip_prefix("#EXT-X-PRELOAD-HINT:"))
        {
            p.parts.extend(attribute(v, "URI"));
        } else if let Some(v) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            // This crate writes `length@offset` (I-frame playlists); anything else is of no
            // use to recovery and is skipped, like other tags.
            byterange = v.split_once('@').and_then(|(length, offset)| {
                Some(ByteRange {
                    length: length.trim().parse().ok()?,
                    offset: offset.trim().parse().ok()?,
                })
            });
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
            p.independent_segments = true;
        } else if line.starts_with("#EXT-X-SKIP") {
            return Err(bad(
                n,
                "a delta update (EXT-X-SKIP) cannot be continued".into(),
            ));
        } else if line.starts_with('#') {
            // Other tags (VERSION, PLAYLIST-TYPE, SERVER-CONTROL, …) are rebuilt from the config.
        } else {
            let duration = extinf
                .take()
                .ok_or_else(|| bad(n, format!("segment {line:?} without EXTINF")))?;
            p.segments.push(OldSegment {
                uri: line.to_owned(),
                duration,
                pdt: pdt.take(),
                discontinuity: std::mem::take(&mut disc),
                init: map.clone(),
                byterange: byterange.take(),
            });
        }
    }
    Ok(p)
}

impl LiveStream {
    /// Keeps the old segments in the I-frame playlist after [`LiveStream::recover`]: `text`
    /// is the last `{rendition}_iframes.m3u8` the earlier run wrote. Its entries are matched
    /// to the recovered segments by URI; without it (or for a segment it does not list) the
    /// I-frame playlist starts after that segment, numbered as before (its entries carry their
    /// segments' sequence numbers).
    pub fn recover_i_frames(&mut self, text: &str) -> Result<()> {
        let old = parse(text)?;
        for seg in old.segments {
            let Some(range) = seg.byterange else {
                continue;
            };
            if let Some(e) = self.window.segments.iter_mut().find(|e| e.uri == seg.uri) {
                e.iframe = Some(range);
            }
        }
        Ok(())
    }

    /// Continues the live playlist `playlist` (the text of the last `{rendition}.m3u8` an
    /// earlier run wrote) with a new run: use a new `run_id` so no URL is reused.
    ///
    /// The old segments stay listed until they slide out (and are then deleted as usual); the
    /// first new segment carries EXT-X-DISCONTINUITY. If the old segments used fMP4 and this
    /// run writes MPEG-TS they cannot share a playlist (an EXT-X-MAP cannot be cancelled): they
    /// are removed at once, with MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE advanced as usual.
    pub fn recover(
        config: LiveConfig,
        tracks: Vec<TrackInfo>,
        playlist: &str,
        now: SystemTime,
    ) -> Result<Self> {
        let wanted = check_config(&config)?;
        let old = parse(playlist)?;
        let target = match old.target {
            Some(t) if t > 0 => t,
            _ => {
                return Err(Error::Playlist(
                    "no EXT-X-TARGETDURATION to continue".into(),
                ))
            }
        };
        if target != wanted {
            tracing::warn!(
                old = target,
                configured = wanted,
                "keeping the old EXT-X-TARGETDURATION (RFC 8216bis 6.2.1: it must not change)"
            );
        }
        if config.part_duration.is_some_and(|p| p > target as f64) {
            return Err(Error::Playlist(format!(
                "part duration above the continued target duration of {target} s"
            )));
        }
        if old.ended {
            tracing::warn!("continuing a playlist that had EXT-X-ENDLIST");
        }
        let mut s = Self::with_target(config, tracks, target)?;
        s.window.media_sequence = old.media_sequence;
        s.window.discontinuity_sequence = old.discontinuity_sequence;
        let mut end = 0.0;
        for (i, seg) in old.segments.iter().enumerate() {
            end += seg.duration;
            s.window.segments.push_back(Entry {
                msn: old.media_sequence.saturating_add(i as u64),
                uri: seg.uri.clone(),
                duration: seg.duration,
                pdt: seg.pdt.clone(),
                discontinuity: seg.discontinuity,
                init: seg.init.clone(),
                parts: Vec::new(),
                end,
                size: 0,
                // From the old I-frame playlist, if any (`recover_i_frames`).
                iframe: None,
                // The old playlist's declaration.
                independent: old.independent_segments,
            });
        }
        s.media_end = end;
        if s.config.format == Format::Ts && old.segments.iter().any(|e| e.init.is_some()) {
            while !s.window.segments.is_empty() {
                s.window.remove_first(now, None);
            }
        }
        let grace = s.window.part_grace(now);
        for uri in old.parts {
            s.window.schedule(grace, uri);
        }
        s.discontinuity_next = s.window.next_msn() > 0;
        s.refresh_state();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        let list = r#"TYPE=PART,URI="a,b=c.m4s",DURATION=0.5"#;
        assert_eq!(attribute(list, "URI").as_deref(), Some("a,b=c.m4s"));
        assert_eq!(attribute(list, "TYPE").as_deref(), Some("PART"));
        assert_eq!(attribute(list, "DURATION").as_deref(), Some("0.5"));
        assert_eq!(attribute(list, "X"), None);
        assert_eq!(attribute(r#"URI="unterminated"#, "URI"), None);
    }

    #[test]
    fn parses_own_ll_playlist() {
        let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n\
#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5\n\
#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MAP:URI=\"v_a_init.mp4\"\n\
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:2.000,\nv_a_000040.m4s\n\
#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:09.000Z\n#EXT-X-MAP:URI=\"v_a_init1.mp4\"\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_a_000041.0.m4s\",INDEPENDENT=YES\n#EXTINF:1.500,\nv_a_000041.m4s\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_a_000042.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"v_a_000042.1.m4s\"\n";
        let p = parse(text).expect("parses");
        assert_eq!(p.target, Some(2));
        assert_eq!(p.media_sequence, 40);
        assert_eq!(p.discontinuity_sequence, 3);
        assert!(!p.ended);
        assert_eq!(
            p.segments,
            vec![
                OldSegment {
                    uri: "v_a_000040.m4s".into(),
                    duration: 2.0,
                    pdt: Some("2026-01-01T00:00:00.000Z".into()),
                    discontinuity: false,
                    init: Some("v_a_init.mp4".into()),
                    byterange: None,
                },
                OldSegment {
                    uri: "v_a_000041.m4s".into(),
                    duration: 1.5,
                    pdt: Some("2026-01-01T00:00:09.000Z".into()),
                    discontinuity: true,
                    init: Some("v_a_init1.mp4".into()),
                    byterange: None,
                },
            ]
        );
        assert_eq!(
            p.parts,
            ["v_a_000041.0.m4s", "v_a_000042.0.m4s", "v_a_000042.1.m4s"]
        );
    }

    /// `length@offset` ranges are read (an I-frame playlist's); other forms are skipped.
    #[test]
    fn reads_byte_ranges() {
        let text = "#EXTM3U\n#EXTINF:2.000,\n#EXT-X-BYTERANGE:1316@0\na.ts\n#EXTINF:2.000,\n\
#EXT-X-BYTERANGE:100\nb.ts\n#EXTINF:2.000,\n#EXT-X-BYTERANGE:1@x\nc.ts\n#EXTINF:2.000,\n\
#EXT-X-GAP\nd.ts\n";
        let p = parse(text).expect("parses");
        let ranges: Vec<_> = p.segments.iter().map(|s| s.byterange).collect();
        let r = |length, offset| Some(ByteRange { length, offset });
        assert_eq!(ranges, [r(1316, 0), None, None, None]);
    }

    #[test]
    fn rejects_what_it_cannot_continue() {
        let cases = [
            ("", "line 1: not an M3U8 playlist (no #EXTM3U)"),
            (
                "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n",
                "line 2: \"x\" is not a decimal integer",
            ),
            (
                "#EXTM3U\nseg.ts\n",
                "line 2: segment \"seg.ts\" without EXTINF",
            ),
            (
                "#EXTM3U\n#EXTINF:abc,\n",
                "line 2: bad EXTINF duration \"abc\"",
            ),
            (
                "#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n",
                "line 2: a delta update (EXT-X-SKIP) cannot be continued",
            ),
            (
                "#EXTM3U\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n",
                "line 2: EXT-X-MAP without URI",
            ),
        ];
        for (text, want) in cases {
            match parse(text) {
                Err(Error::Playlist(msg)) => assert_eq!(msg, want, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
