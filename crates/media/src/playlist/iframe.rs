// SPDX-License-Identifier: MIT OR Apache-2.0
//! I-frame playlists (RFC 8216bis §4.4.3.6 EXT-X-I-FRAMES-ONLY): a media playlist (VOD, or
//! live with a window that follows the media playlist's) whose every entry is one keyframe, addressed by EXT-X-BYTERANGE inside a media segment, with the
//! time to the next keyframe as its EXTINF. Players use it for trick play and scrubbing
//! thumbnails; Apple HLS authoring spec §6.1 requires one per video variant.
//!
//! Entries are built from the muxers' [`KeyframeRange`]s by [`IFramePlaylist::push_segment`],
//! with every duration in exact ticks of the video track; EXTINF values are rounded so that
//! their running sum stays within half a millisecond of the real time (Apple 8.1), however
//! many keyframes there are.

use std::fmt::{self, Write as _};

use super::fmt_duration;
use super::ll::write_map;
use super::media::{write_head, ByteRange, Map, MediaSegment, PlaylistType};
use crate::mux::KeyframeRange;

/// One EXT-X-I-FRAMES-ONLY entry.
#[derive(Debug, Clone, PartialEq)]
pub struct IFrame {
    pub uri: String,
    /// Seconds until the next keyframe (the last one: until the end of the media).
    pub duration: f64,
    /// The keyframe in `uri`; `None` writes the entry as EXT-X-GAP (RFC 8216bis 4.4.4.7: live,
    /// a segment whose keyframe range is not known, so that the entries stay one per segment).
    pub byterange: Option<ByteRange>,
    /// EXT-X-DISCONTINUITY before this entry (live: a new timeline starts here).
    pub discontinuity: bool,
    /// EXT-X-MAP before this entry (live: the initialization section changes here, or, for
    /// MPEG-TS, the PAT/PMT of this entry's segment; RFC 8216bis §4.4.4.5).
    pub map: Option<Map>,
    /// EXT-X-PROGRAM-DATE-TIME of this entry (live: its segment's, Apple 8.4 asks for it in
    /// every live playlist; RFC 8216bis 4.4.4.6).
    pub program_date_time: Option<String>,
}

/// An I-frame playlist. [`IFramePlaylist::vod`] for a packaged file; live streams fill in the
/// sequence numbers and leave `playlist_type` and `end_list` as their media playlist has them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IFramePlaylist {
    pub target_duration: u64,
    /// EXT-X-MEDIA-SEQUENCE: the number of the first entry (RFC 8216bis 4.4.3.2).
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE (RFC 8216bis 4.4.3.3); written when not 0, and always in a
    /// live playlist.
    pub discontinuity_sequence: u64,
    pub playlist_type: Option<PlaylistType>,
    pub end_list: bool,
    /// The initialization section: fMP4 `ftyp`+`moov`, or for MPEG-TS the PAT/PMT of a segment
    /// when some entry does not start with its own (RFC 8216bis §4.4.3.6: every entry must be
    /// decodable on its own).
    pub map: Option<Map>,
    pub entries: Vec<IFrame>,
    /// Keyframe presentation times in ticks with the media object they came from, before
    /// rounding.
    pending: Vec<Pending>,
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    uri: String,
    /// Presentation time of the keyframe.
    start: i64,
    byterange: ByteRange,
}

impl IFramePlaylist {
    /// An empty VOD I-frame playlist: EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST.
    pub fn vod() -> Self {
        IFramePlaylist {
            playlist_type: Some(PlaylistType::Vod),
            end_list: true,
            ..Default::default()
        }
    }

    /// Adds the keyframes of one written segment: `keys` from the muxer, `segment_offset` where
    /// the segment starts in `uri` (non-zero in a single file). Each keyframe lasts until the
    /// next one pushed, the last until the end given to [`IFramePlaylist::finish`].
    pub fn push_segment(&mut self, uri: &str, segment_offset: u64, keys: &[KeyframeRange]) {
        for k in keys {
            self.pending.push(Pending {
                uri: uri.to_owned(),
                start: k.pts,
                byterange: ByteRange {
                    length: k.length,
                    offset: segment_offset.saturating_add(k.offset),
                },
            });
        }
    }

    /// Turns the pushed keyframes into entries, in seconds of `timescale`. RFC 8216bis 4.4.3.6:
    /// an I-frame's duration is the time to the next I-frame in presentation order, so entries
    /// are measured on presentation times (with reordering, the decode-time gaps between
    /// keyframes differ from them); the last lasts until `end`, the end of the media in
    /// presentation time. Each EXTINF is the difference of the millisecond-rounded times since
    /// the first keyframe, so the sum of all equals the rounded total (no drift from rounding
    /// each one on its own).
    pub fn finish(&mut self, timescale: u32, end: i64) {
        let Some(first) = self.pending.first().map(|p| p.start) else {
            return;
        };
        let ms = |t: i64| -> i128 {
            let d = i128::from(timescale.max(1));
            let n = (i128::from(t) - i128::from(first)) * 1000;
            // Round half up (div_euclid: also for a time before `first`, from bad input).
            (n + d / 2).div_euclid(d)
        };
        let pending = std::mem::take(&mut self.pending);
        let ends: Vec<i64> = pending
            .iter()
            .skip(1)
            .map(|p| p.start)
            .chain([end])
            .collect();
        for (p, next) in pending.into_iter().zip(ends) {
            // Non-increasing times (bad input) give 0, never a negative EXTINF.
            let millis = (ms(next) - ms(p.start)).max(0);
            self.entries.push(IFrame {
                uri: p.uri,
                duration: millis as f64 / 1000.0,
                byterange: Some(p.byterange),
                discontinuity: false,
                map: None,
                program_date_time: None,
            });
        }
    }

    /// Lowest protocol version for the tags used: EXT-X-I-FRAMES-ONLY needs 4, EXT-X-MAP in an
    /// I-frame playlist 5 (RFC 8216bis §8).
    pub fn version(&self) -> u8 {
        if self.map.is_some() || self.entries.iter().any(|e| e.map.is_some()) {
            5
        } else {
            4
        }
    }

    /// Total of EXTINF values.
    pub fn duration(&self) -> f64 {
        self.entries.iter().map(|e| e.duration).sum()
    }

    /// The entries as media segments (for [`super::MediaPlaylist::target_for`]).
    pub fn as_segments(&self) -> Vec<MediaSegment> {
        self.entries
            .iter()
            .map(|e| MediaSegment {
                uri: e.uri.clone(),
                duration: e.duration,
                byterange: e.byterange,
                discontinuity: e.discontinuity,
                program_date_time: e.program_date_time.clone(),
                size: e.byterange.map_or(0, |b| b.length),
            })
            .collect()
    }
}

impl fmt::Display for IFramePlaylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(160 + self.entries.len() * 64);
        write_head(
            &mut out,
            self.version(),
            self.target_duration,
            self.media_sequence,
            self.discontinuity_sequence,
            self.playlist_type,
        );
        out.push_str("#EXT-X-I-FRAMES-ONLY\n");
        if let Some(map) = &self.map {
            write_map(map, &mut out);
        }
        for e in &self.entries {
            if e.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(pdt) = &e.program_date_time {
                let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{pdt}");
            }
            if let Some(map) = &e.map {
                write_map(map, &mut out);
            }
            let _ = writeln!(out, "#EXTINF:{},", fmt_duration(e.duration));
            // Always with an explicit offset (RFC 8216bis §4.4.4.2): entries are not contiguous.
            match &e.byterange {
                Some(range) => {
                    let _ = writeln!(out, "#EXT-X-BYTERANGE:{range}");
                }
                None => out.push_str("#EXT-X-GAP\n"),
            }
            out.push_str(&e.uri);
            out.push('\n');
        }
        if self.end_list {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keyframe without reordering (pts = dts).
    fn key(dts: i64, offset: u64, length: u64) -> KeyframeRange {
        KeyframeRange {
            dts,
            pts: dts,
            offset,
            length,
        }
    }

    /// Table: keyframes per segment (dts, pts, offset, length) + end of the media (pts) →
    /// (EXTINF, range) rows.
    #[test]
    fn durations_run_to_the_next_keyframe_and_offsets_add_up() {
        type Seg = (&'static str, u64, &'static [(i64, i64, u64, u64)]);
        type Case = (
            &'static str,
            u32,
            &'static [Seg],
            i64,
            &'static [(f64, u64, u64)],
        );
        let cases: &[Case] = &[
            (
                "two keyframes per segment, 90 kHz",
                90_000,
                &[
                    ("a.ts", 0, &[(0, 0, 0, 1000), (90_000, 90_000, 5000, 800)]),
                    ("b.ts", 0, &[(180_000, 180_000, 0, 900)]),
                ],
                225_000,
                &[(1.0, 1000, 0), (1.0, 800, 5000), (0.5, 900, 0)],
            ),
            (
                "single file: segment offsets are added",
                30,
                &[
                    ("s.mp4", 700, &[(0, 0, 24, 100), (45, 45, 400, 50)]),
                    ("s.mp4", 2000, &[(60, 60, 24, 70)]),
                ],
                61,
                &[(1.5, 100, 724), (0.5, 50, 1100), (0.033, 70, 2024)],
            ),
            (
                // x265 open GOP at 30 fps, timescale 15360: the IDR is shown 2 frames after
                // its decode time, the CRA 3 (it has leading pictures). Keyframes 1 s apart in
                // presentation are 0.967 s apart in decode order; EXTINF follows presentation.
                "reordered keyframes: presentation times, not decode times",
                15_360,
                &[
                    ("h.m4s", 0, &[(-1024, 0, 0, 10)]),
                    ("h.m4s", 0, &[(13_824, 15_360, 0, 20)]),
                ],
                30_720,
                &[(1.0, 10, 0), (1.0, 20, 0)],
            ),
            (
                "non-increasing times give zero, never negative",
                1000,
                &[("x.m4s", 0, &[(10, 10, 0, 1), (5, 5, 9, 1)])],
                20,
                &[(0.0, 1, 0), (0.015, 1, 9)],
            ),
        ];
        for (name, timescale, segs, end, want) in cases {
            let mut p = IFramePlaylist::default();
            for (uri, off, keys) in segs.iter() {
                let keys: Vec<_> = keys
                    .iter()
                    .map(|&(dts, pts, offset, length)| KeyframeRange {
                        dts,
                        pts,
                        offset,
                        length,
                    })
                    .collect();
                p.push_segment(uri, *off, &keys);
            }
            p.finish(*timescale, *end);
            let got: Vec<(f64, u64, u64)> = p
                .entries
                .iter()
                .map(|e| {
                    let r = e.byterange.expect("VOD entries have ranges");
                    (e.duration, r.length, r.offset)
                })
                .collect();
            assert_eq!(&got, want, "{name}");
        }
    }

    /// 29.97 fps, a keyframe every 15 frames (0.5005 s): rounding each EXTINF on its own would
    /// drift by 0.5 ms per entry; the running rounding keeps the sum within 0.5 ms.
    #[test]
    fn sum_of_extinf_does_not_drift() {
        let mut p = IFramePlaylist::default();
        let step = 15 * 1001; // ticks of 30000
        let n = 2000;
        let keys: Vec<_> = (0..n).map(|i| key(i * step, 0, 1)).collect();
        p.push_segment("a.ts", 0, &keys);
        p.finish(30_000, n * step);
        let real = (n * step) as f64 / 30_000.0;
        let written: f64 = p
            .entries
            .iter()
            .map(|e| fmt_duration(e.duration).parse::<f64>().unwrap())
            .sum();
        assert!(
            (written - real).abs() <= 0.0005 + 1e-9,
            "{written} vs {real}"
        );
    }

    #[test]
    fn writes_i_frame_playlist() {
        let mut p = IFramePlaylist {
            target_duration: 2,
            ..IFramePlaylist::vod()
        };
        p.push_segment("v_000000.ts", 0, &[key(0, 0, 1316), key(90_000, 9588, 752)]);
        p.finish(90_000, 180_000);
        let want = "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n#EXTINF:1.000,\n#EXT-X-BYTERANGE:1316@0\nv_000000.ts\n\
#EXTINF:1.000,\n#EXT-X-BYTERANGE:752@9588\nv_000000.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(p.to_string(), want);

        p.map = Some(Map {
            uri: "v_000000.ts".into(),
            byterange: Some(ByteRange {
                length: 376,
                offset: 0,
            }),
        });
        let text = p.to_string();
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:5\n"), "{text}");
        assert!(
            text.contains(
                "#EXT-X-I-FRAMES-ONLY\n#EXT-X-MAP:URI=\"v_000000.ts\",BYTERANGE=\"376@0\"\n#EXTINF"
            ),
            "{text}"
        );
        assert!((p.duration() - 2.0).abs() < 1e-9);
        assert_eq!(p.as_segments().len(), 2);
    }

    #[test]
    fn empty_playlist_is_well_formed() {
        let mut p = IFramePlaylist::vod();
        p.finish(90_000, 0);
        assert!(p.entries.is_empty());
        assert!(p
            .to_string()
            .ends_with("#EXT-X-I-FRAMES-ONLY\n#EXT-X-ENDLIST\n"));
    }
}
