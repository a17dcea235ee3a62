// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live and Low-Latency HLS tags of a media playlist (RFC 8216bis):
//! EXT-X-SERVER-CONTROL (4.4.3.8), EXT-X-PART-INF (4.4.3.7), EXT-X-PART (4.4.4.9), EXT-X-SKIP
//! (4.4.5.2), EXT-X-PRELOAD-HINT (4.4.5.3), EXT-X-RENDITION-REPORT (4.4.5.4), and EXT-X-MAP
//! changes between segments (4.4.4.5).
//!
//! [`LiveTags`] is a field of [`MediaPlaylist`](super::MediaPlaylist); its `Default` writes
//! nothing, so VOD playlists are unaffected. The media playlist writer calls the `write_*`
//! functions here at their places in the playlist.

use std::fmt::Write as _;

use super::media::Map;
use super::quoted;

/// EXT-X-SERVER-CONTROL (RFC 8216bis 4.4.3.8). Durations in seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerControl {
    /// CAN-BLOCK-RELOAD=YES: the server supports `_HLS_msn`/`_HLS_part` (6.2.5.2).
    pub can_block_reload: bool,
    /// CAN-SKIP-UNTIL: the Skip Boundary of delta updates; at least 6× target duration.
    pub can_skip_until: Option<f64>,
    /// HOLD-BACK: at least 3× target duration (the default when absent).
    pub hold_back: Option<f64>,
    /// PART-HOLD-BACK: at least 2× part target, SHOULD be 3× (Apple 14).
    pub part_hold_back: Option<f64>,
}

/// One EXT-X-PART (RFC 8216bis 4.4.4.9).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Part {
    pub uri: String,
    /// Seconds; at most PART-TARGET.
    pub duration: f64,
    /// INDEPENDENT=YES: the part starts with an independent frame.
    pub independent: bool,
}

/// Tags of one complete segment besides those of [`MediaSegment`](super::MediaSegment).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentTags {
    /// EXT-X-MAP written before this segment (the initialization section changes here).
    pub map: Option<Map>,
    /// Its parts, listed while the segment is near the live edge (6.2.2).
    pub parts: Vec<Part>,
}

/// The segment being produced: its parts so far, after the last complete segment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpenSegment {
    pub discontinuity: bool,
    pub program_date_time: Option<String>,
    pub map: Option<Map>,
    pub parts: Vec<Part>,
}

/// EXT-X-RENDITION-REPORT (RFC 8216bis 4.4.5.4): where another Rendition of the same
/// presentation stands, so a client switching to it can ask for its next part with a
/// blocking reload straight away instead of loading its playlist first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenditionReport {
    /// URI of that Rendition's Media Playlist, relative to the playlist carrying the report
    /// (4.4.5.4 MUST).
    pub uri: String,
    /// LAST-MSN: Media Sequence Number of its last Media Segment, or of its last Partial
    /// Segment when it has parts.
    pub last_msn: u64,
    /// LAST-PART: Part Index of its last Partial Segment of `last_msn`; REQUIRED when the
    /// Rendition has Partial Segments, absent otherwise.
    pub last_part: Option<u64>,
}

impl RenditionReport {
    fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "#EXT-X-RENDITION-REPORT:URI={},LAST-MSN={}",
            quoted(&self.uri),
            self.last_msn
        );
        if let Some(part) = self.last_part {
            let _ = write!(out, ",LAST-PART={part}");
        }
        out.push('\n');
    }
}

/// Live / LL-HLS additions to a media playlist. `Default` = none of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveTags {
    pub server_control: Option<ServerControl>,
    /// EXT-X-PART-INF:PART-TARGET, seconds.
    pub part_target: Option<f64>,
    /// EXT-X-SKIP:SKIPPED-SEGMENTS of a Playlist Delta Update (6.2.5.1). The skipped segments
    /// are not in `MediaPlaylist::segments`; `media_sequence` stays that of the first skipped one.
    pub skipped_segments: u64,
    /// Parallel to `MediaPlaylist::segments` (may be shorter: missing = no extra tags).
    pub segment_tags: Vec<SegmentTags>,
    /// Parts of the segment in progress, written after the last complete segment.
    pub open_segment: Option<OpenSegment>,
    /// EXT-X-PRELOAD-HINT:TYPE=PART,URI=… (4.4.5.3): the part being produced.
    pub preload_hint: Option<String>,
    /// EXT-X-RENDITION-REPORT per other Rendition of the multivariant playlist (4.4.5.4;
    /// Appendix B.1: one for each, except this playlist itself), written last.
    pub rendition_reports: Vec<RenditionReport>,
}

impl LiveTags {
    /// Lowest protocol version these tags need (RFC 8216bis §8): EXT-X-SKIP needs 9; the other
    /// LL-HLS tags need none beyond what the rest of the playlist needs; EXT-X-MAP needs 6.
    pub fn version(&self) -> u8 {
        if self.skipped_segments > 0 {
            9
        } else if self.segment_tags.iter().any(|t| t.map.is_some())
            || self.open_segment.as_ref().is_some_and(|o| o.map.is_some())
        {
            6
        } else {
            0
        }
    }

    /// EXT-X-SERVER-CONTROL and EXT-X-PART-INF (playlist header).
    pub(crate) fn write_header(&self, out: &mut String) {
        if let Some(sc) = &self.server_control {
            let mut attrs = Vec::with_capacity(4);
            if sc.can_block_reload {
                attrs.push("CAN-BLOCK-RELOAD=YES".to_owned());
            }
            if let Some(s) = sc.can_skip_until {
                attrs.push(format!("CAN-SKIP-UNTIL={}", fmt_decimal(s)));
            }
            if let Some(s) = sc.hold_back {
                attrs.push(format!("HOLD-BACK={}", fmt_decimal(s)));
            }
            if let Some(s) = sc.part_hold_back {
                attrs.push(format!("PART-HOLD-BACK={}", fmt_decimal(s)));
            }
            if !attrs.is_empty() {
                let _ = writeln!(out, "#EXT-X-SERVER-CONTROL:{}", attrs.join(","));
            }
        }
        if let Some(t) = self.part_target {
            let _ = writeln!(out, "#EXT-X-PART-INF:PART-TARGET={}", fmt_decimal(t));
        }
    }

    /// EXT-X-SKIP, in place of the skipped segments (4.4.5.2).
    pub(crate) fn write_skip(&self, out: &mut String) {
        if self.skipped_segments > 0 {
            let _ = writeln!(
                out,
                "#EXT-X-SKIP:SKIPPED-SEGMENTS={}",
                self.skipped_segments
            );
        }
    }

    /// EXT-X-MAP change and EXT-X-PART tags of segment `index`, before its EXTINF.
    pub(crate) fn write_segment(&self, index: usize, out: &mut String) {
        if let Some(tags) = self.segment_tags.get(index) {
            if let Some(map) = &tags.map {
                write_map(map, out);
            }
            write_parts(&tags.parts, out);
        }
    }

    /// The open segment's tags and parts, then the preload hint and the rendition reports
    /// (after the last segment).
    pub(crate) fn write_trailer(&self, out: &mut String) {
        if let Some(open) = &self.open_segment {
            if open.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(pdt) = &open.program_date_time {
                let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{pdt}");
            }
            if let Some(map) = &open.map {
                write_map(map, out);
            }
            write_parts(&open.parts, out);
        }
        if let Some(uri) = &self.preload_hint {
            let _ = writeln!(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI={}", quoted(uri));
        }
        for report in &self.rendition_reports {
            report.write(out);
        }
    }
}

/// EXT-X-MAP (RFC 8216bis 4.4.4.5).
pub(crate) fn write_map(map: &Map, out: &mut String) {
    let _ = write!(out, "#EXT-X-MAP:URI={}", quoted(&map.uri));
    if let Some(br) = map.byterange {
        let _ = write!(out, ",BYTERANGE=\"{br}\"");
    }
    out.push('\n');
}

fn write_parts(parts: &[Part], out: &mut String) {
    for p in parts {
        let _ = write!(
            out,
            "#EXT-X-PART:DURATION={},URI={}",
            fmt_decimal(p.duration),
            quoted(&p.uri)
        );
        if p.independent {
            out.push_str(",INDEPENDENT=YES");
        }
        out.push('\n');
    }
}

/// A decimal-floating-point attribute value (RFC 8216bis 4.2) with up to 5 decimals and no
/// trailing zeros beyond the first ("0.2", "0.33333", "12.0"). Rounding is monotonic, so a part
/// no longer than PART-TARGET is never written longer than it. Non-finite values write "0.0".
pub fn fmt_decimal(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    let mut s = format!("{secs:.5}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playlist::{MediaPlaylist, MediaSegment};

    #[test]
    fn decimals() {
        let cases = [
            (0.2, "0.2"),
            (1.0 / 3.0, "0.33333"),
            (12.0, "12.0"),
            (0.6, "0.6"),
            (1.000004, "1.0"),
            (f64::NAN, "0.0"),
            (-1.0, "0.0"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_decimal(v), want, "{v}");
        }
    }

    fn seg(uri: &str, d: f64, pdt: &str) -> MediaSegment {
        MediaSegment {
            uri: uri.into(),
            duration: d,
            byterange: None,
            discontinuity: false,
            program_date_time: Some(pdt.into()),
            size: 0,
        }
    }

    fn part(uri: &str, d: f64, independent: bool) -> Part {
        Part {
            uri: uri.into(),
            duration: d,
            independent,
        }
    }

    fn ll_playlist() -> MediaPlaylist {
        MediaPlaylist {
            target_duration: 2,
            media_sequence: 10,
            independent_segments: true,
            map: Some(Map {
                uri: "v_init.mp4".into(),
                byterange: None,
            }),
            segments: vec![
                seg("v_10.m4s", 2.0, "2026-01-01T00:00:00.000Z"),
                seg("v_11.m4s", 2.0, "2026-01-01T00:00:02.000Z"),
            ],
            live: LiveTags {
                server_control: Some(ServerControl {
                    can_block_reload: true,
                    can_skip_until: Some(12.0),
                    hold_back: None,
                    part_hold_back: Some(1.5),
                }),
                part_target: Some(0.5),
                segment_tags: vec![
                    SegmentTags::default(),
                    SegmentTags {
                        map: None,
                        parts: vec![
                            part("v_11.0.m4s", 0.5, true),
                            part("v_11.1.m4s", 0.5, false),
                            part("v_11.2.m4s", 0.5, false),
                            part("v_11.3.m4s", 0.5, false),
                        ],
                    },
                ],
                open_segment: Some(OpenSegment {
                    discontinuity: false,
                    program_date_time: Some("2026-01-01T00:00:04.000Z".into()),
                    map: None,
                    parts: vec![part("v_12.0.m4s", 0.5, true)],
                }),
                preload_hint: Some("v_12.1.m4s".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Golden LL-HLS playlist: header tags, parts before their segment's EXTINF, open segment,
    /// preload hint (RFC 8216bis 4.4.3.7, 4.4.3.8, 4.4.4.9, 4.4.5.3).
    #[test]
    fn writes_ll_playlist() {
        let want = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n\
#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5\n\
#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MAP:URI=\"v_init.mp4\"\n\
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:2.000,\nv_10.m4s\n\
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_11.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_11.1.m4s\"\n#EXT-X-PART:DURATION=0.5,URI=\"v_11.2.m4s\"\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_11.3.m4s\"\n#EXTINF:2.000,\nv_11.m4s\n\
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_12.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"v_12.1.m4s\"\n";
        assert_eq!(ll_playlist().to_string(), want);
    }

    /// A delta update: EXT-X-SKIP replaces the first segment, version 9 (4.4.5.2, §8).
    #[test]
    fn writes_skip_with_version_9() {
        let mut p = ll_playlist();
        p.segments.remove(0);
        p.live.segment_tags.remove(0);
        p.live.skipped_segments = 1;
        let text = p.to_string();
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n"), "{text}");
        assert!(
            text.contains(
                "#EXT-X-MAP:URI=\"v_init.mp4\"\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n\
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n"
            ),
            "{text}"
        );
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n"));
    }

    fn report(uri: &str, last_msn: u64, last_part: Option<u64>) -> RenditionReport {
        RenditionReport {
            uri: uri.into(),
            last_msn,
            last_part,
        }
    }

    /// EXT-X-RENDITION-REPORT lines (RFC 8216bis 4.4.5.4): URI quoted, LAST-MSN always,
    /// LAST-PART only when the rendition has parts; one line per report, in order.
    #[test]
    fn writes_rendition_reports() {
        let cases: &[(&[RenditionReport], &str)] = &[
            (&[], ""),
            (
                &[report("b.m3u8", 12, Some(3))],
                "#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN=12,LAST-PART=3\n",
            ),
            (
                &[report("b.m3u8", 12, Some(0))],
                "#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN=12,LAST-PART=0\n",
            ),
            (
                // No parts (a recovered playlist before its first part): no LAST-PART.
                &[report("b.m3u8", 7, None)],
                "#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN=7\n",
            ),
            (
                &[
                    report("lo.m3u8", 0, Some(0)),
                    report("hi.m3u8", u64::MAX, Some(99)),
                ],
                "#EXT-X-RENDITION-REPORT:URI=\"lo.m3u8\",LAST-MSN=0,LAST-PART=0\n\
#EXT-X-RENDITION-REPORT:URI=\"hi.m3u8\",LAST-MSN=18446744073709551615,LAST-PART=99\n",
            ),
            (
                // quoted-string cannot hold '"', CR or LF (4.2): dropped, never a broken line.
                &[report("a\"b\nc.m3u8", 1, Some(1))],
                "#EXT-X-RENDITION-REPORT:URI=\"abc.m3u8\",LAST-MSN=1,LAST-PART=1\n",
            ),
        ];
        for (reports, want) in cases {
            let tags = LiveTags {
                rendition_reports: reports.to_vec(),
                ..Default::default()
            };
            let mut out = String::new();
            tags.write_trailer(&mut out);
            assert_eq!(out, *want, "{reports:?}");
            // Reports need no protocol version of their own (RFC 8216bis §8).
            assert_eq!(tags.version(), 0);
        }
    }

    /// The reports close the playlist: after the preload hint, in a delta update too (its
    /// tail is never skipped), and before EXT-X-ENDLIST.
    #[test]
    fn rendition_reports_follow_the_hint() {
        let reports = vec![report("b.m3u8", 12, Some(0)), report("c.m3u8", 11, Some(3))];
        let tail = "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"v_12.1.m4s\"\n\
#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN=12,LAST-PART=0\n\
#EXT-X-RENDITION-REPORT:URI=\"c.m3u8\",LAST-MSN=11,LAST-PART=3\n";
        let mut full = ll_playlist();
        full.live.rendition_reports = reports.clone();
        let mut delta = full.clone();
        delta.segments.remove(0);
        delta.live.segment_tags.remove(0);
        delta.live.skipped_segments = 1;
        for p in [full, delta] {
            let text = p.to_string();
            assert!(text.ends_with(tail), "{text}");
        }
        let mut ended = ll_playlist();
        ended.live.preload_hint = None;
        ended.live.rendition_reports = reports;
        ended.end_list = true;
        let text = ended.to_string();
        assert!(
            text.ends_with("LAST-MSN=11,LAST-PART=3\n#EXT-X-ENDLIST\n"),
            "{text}"
        );
    }

    /// A MAP change before a segment and before the open segment, with its discontinuity.
    #[test]
    fn writes_map_changes_and_open_discontinuity() {
        let mut p = ll_playlist();
        p.map = None;
        p.live.server_control = None;
        p.live.part_target = None;
        p.live.segment_tags = vec![SegmentTags {
            map: Some(Map {
                uri: "a.mp4".into(),
                byterange: None,
            }),
            parts: vec![],
        }];
        p.live.open_segment = Some(OpenSegment {
            discontinuity: true,
            program_date_time: None,
            map: Some(Map {
                uri: "b.mp4".into(),
                byterange: None,
            }),
            parts: vec![],
        });
        p.live.preload_hint = None;
        let text = p.to_string();
        assert!(text.contains("#EXT-X-VERSION:6\n"), "{text}");
        assert!(text.contains(
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXT-X-MAP:URI=\"a.mp4\"\n#EXTINF:2.000,\nv_10.m4s\n"
        ));
        assert!(text.ends_with("v_11.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"b.mp4\"\n"));
    }
}
