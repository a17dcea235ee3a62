// SPDX-License-Identifier: MIT OR Apache-2.0
//! Media playlists: EXTM3U header tags, EXTINF / BYTERANGE / MAP / DISCONTINUITY / PROGRAM-DATE-TIME
//! segment tags and EXT-X-ENDLIST (RFC 8216bis §4.4.2–4.4.4).

use std::fmt::{self, Write as _};

use super::fmt_duration;
use super::ll::{write_map, LiveTags};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistType {
    Vod,
    Event,
}

/// `length@offset` (RFC 8216bis 4.4.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub length: u64,
    pub offset: u64,
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.length, self.offset)
    }
}

/// EXT-X-MAP (RFC 8216bis 4.4.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    pub uri: String,
    pub byterange: Option<ByteRange>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaSegment {
    pub uri: String,
    /// Seconds (EXTINF).
    pub duration: f64,
    pub byterange: Option<ByteRange>,
    /// EXT-X-DISCONTINUITY before this segment.
    pub discontinuity: bool,
    /// EXT-X-PROGRAM-DATE-TIME, already formatted as RFC 3339 with milliseconds.
    pub program_date_time: Option<String>,
    /// Size in bytes (not written; used for BANDWIDTH measurement).
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPlaylist {
    pub target_duration: u64,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub playlist_type: Option<PlaylistType>,
    pub independent_segments: bool,
    pub map: Option<Map>,
    pub segments: Vec<MediaSegment>,
    pub end_list: bool,
    /// Live / LL-HLS tags (RFC 8216bis 4.4.3.7–8, 4.4.4.9, 4.4.5.2–3); `Default` writes none.
    pub live: LiveTags,
}

impl MediaPlaylist {
    /// Lowest protocol version compatible with the features used (RFC 8216bis §8; RFC 8216 §7).
    pub fn version(&self) -> u8 {
        let live = self.live.version();
        if live > 6 {
            live
        } else if self.map.is_some() || live == 6 {
            // EXT-X-MAP in a playlist without EXT-X-I-FRAMES-ONLY needs version 6.
            6
        } else if self.segments.iter().any(|s| s.byterange.is_some()) {
            4
        } else {
            // Decimal-floating-point EXTINF needs version 3.
            3
        }
    }

    /// EXT-X-TARGETDURATION: the maximum EXTINF rounded to the nearest integer (RFC 8216bis 4.4.3.1).
    pub fn target_for(segments: &[MediaSegment]) -> u64 {
        segments
            .iter()
            .map(|s| s.duration.round() as u64)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// Total of EXTINF values.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }
}

impl fmt::Display for MediaPlaylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(64 + self.segments.len() * 48);
        write_head(
            &mut out,
            self.version(),
            self.target_duration,
            self.media_sequence,
            self.discontinuity_sequence,
            self.playlist_type,
        );
        if self.independent_segments {
            out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        self.live.write_header(&mut out);
        if let Some(map) = &self.map {
            write_map(map, &mut out);
        }
        self.live.write_skip(&mut out);
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(pdt) = &seg.program_date_time {
                let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{pdt}");
            }
            self.live.write_segment(i, &mut out);
            let _ = writeln!(out, "#EXTINF:{},", fmt_duration(seg.duration));
            if let Some(br) = seg.byterange {
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{br}");
            }
            out.push_str(&seg.uri);
            out.push('\n');
        }
        self.live.write_trailer(&mut out);
        if self.end_list {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        f.write_str(&out)
    }
}

/// The tags that open a media playlist (an I-frame playlist too): EXTM3U, VERSION,
/// TARGETDURATION, MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE and PLAYLIST-TYPE (RFC 8216bis
/// 4.4.3.1–4.4.3.5).
pub(super) fn write_head(
    out: &mut String,
    version: u8,
    target_duration: u64,
    media_sequence: u64,
    discontinuity_sequence: u64,
    playlist_type: Option<PlaylistType>,
) {
    out.push_str("#EXTM3U\n");
    let _ = writeln!(out, "#EXT-X-VERSION:{version}");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target_duration}");
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{media_sequence}");
    // A live or event stream can always meet a discontinuity (encoder restart), so it carries the
    // tag from the start (Apple HLS authoring spec 8.13–8.17); a VOD playlist only when non-zero.
    if discontinuity_sequence > 0 || playlist_type != Some(PlaylistType::Vod) {
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}"
        );
    }
    match playlist_type {
        Some(PlaylistType::Vod) => out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
        Some(PlaylistType::Event) => out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(uri: &str, d: f64) -> MediaSegment {
        MediaSegment {
            uri: uri.into(),
            duration: d,
            byterange: None,
            discontinuity: false,
            program_date_time: None,
            size: 0,
        }
    }

    #[test]
    fn target_duration_rounds_to_nearest() {
        let cases: &[(&[f64], u64)] = &[
            (&[6.0, 6.006, 4.2], 6),
            (&[6.5, 2.0], 7),
            (&[6.49], 6),
            (&[0.2], 1),
            (&[], 1),
        ];
        for (durs, want) in cases {
            let segs: Vec<_> = durs.iter().map(|d| seg("a", *d)).collect();
            assert_eq!(MediaPlaylist::target_for(&segs), *want, "{durs:?}");
        }
    }

    #[test]
    fn version_follows_features() {
        let mut p = MediaPlaylist {
            segments: vec![seg("a.ts", 1.0)],
            ..Default::default()
        };
        assert_eq!(p.version(), 3);
        p.segments[0].byterange = Some(ByteRange {
            length: 10,
            offset: 0,
        });
        assert_eq!(p.version(), 4);
        p.map = Some(Map {
            uri: "init.mp4".into(),
            byterange: None,
        });
        assert_eq!(p.version(), 6);
    }

    #[test]
    fn discontinuity_sequence_always_in_live_and_event_playlists() {
        let cases = [
            (Some(PlaylistType::Vod), 0, false),
            (Some(PlaylistType::Vod), 2, true),
            (Some(PlaylistType::Event), 0, true),
            (None, 0, true),
        ];
        for (kind, seq, want) in cases {
            let p = MediaPlaylist {
                playlist_type: kind,
                discontinuity_sequence: seq,
                ..Default::default()
            };
            let text = p.to_string();
            assert_eq!(
                text.contains(&format!("#EXT-X-DISCONTINUITY-SEQUENCE:{seq}\n")),
                want,
                "{kind:?} {seq}: {text}"
            );
        }
    }

    #[test]
    fn writes_vod_playlist() {
        let p = MediaPlaylist {
            target_duration: 6,
            playlist_type: Some(PlaylistType::Vod),
            independent_segments: true,
            map: Some(Map {
                uri: "init.mp4".into(),
                byterange: Some(ByteRange {
                    length: 700,
                    offset: 0,
                }),
            }),
            segments: vec![
                MediaSegment {
                    byterange: Some(ByteRange {
                        length: 1000,
                        offset: 700,
                    }),
                    ..seg("v.mp4", 6.006)
                },
                MediaSegment {
                    discontinuity: true,
                    program_date_time: Some("2026-11-25T00:00:00.000Z".into()),
                    ..seg("b.m4s", 2.5)
                },
            ],
            end_list: true,
            ..Default::default()
        };
        let want = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"700@0\"\n\
#EXTINF:6.006,\n#EXT-X-BYTERANGE:1000@700\nv.mp4\n#EXT-X-DISCONTINUITY\n\
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:00.000Z\n#EXTINF:2.500,\nb.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(p.to_string(), want);
    }
}
