// SPDX-License-Identifier: MIT OR Apache-2.0
//! One segment through our own demuxers (crates/media): MPEG-TS, or fMP4 behind its EXT-X-MAP
//! init segment. What comes out is a per-track timing summary — first/last decode and
//! presentation times, keyframe at the start, frame count — plus the codec configuration.

use std::io::Cursor;

use media::codec::{codec_string, nal};
use media::demux::mp4::{looks_like_mp4, Mp4Demuxer, Mp4Options};
use media::demux::ts::{looks_like_ts, TsDemuxer};
use media::sample::Demuxer;
use media::{CodecConfig, Sample, TrackInfo, TrackKind};

/// Container of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Ts,
    Fmp4,
}

/// Timing of one track in one segment, in the track's timescale.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackTimes {
    pub timescale: u32,
    pub first_dts: i64,
    /// Last DTS + its duration.
    pub end_dts: i64,
    pub min_pts: i64,
    /// Largest PTS + duration.
    pub end_pts: i64,
    pub samples: u64,
    pub first_keyframe: bool,
    /// HEVC: the first picture is a CRA followed by RASL pictures (they reference the
    /// previous segment, so the segment is not independent).
    pub open_gop: bool,
    /// Median sample duration in ticks.
    pub typical_duration: u32,
}

impl TrackTimes {
    pub fn secs(&self, ticks: i64) -> f64 {
        ticks as f64 / f64::from(self.timescale.max(1))
    }

    /// Presentation span in seconds.
    pub fn span(&self) -> f64 {
        self.secs(self.end_pts.saturating_sub(self.min_pts))
    }
}

#[derive(Debug, Clone)]
pub struct Demuxed {
    pub container: Container,
    pub tracks: Vec<TrackInfo>,
    pub times: Vec<Option<TrackTimes>>,
}

impl Demuxed {
    /// RFC 6381 string of a track as CODECS should announce it. MPEG-TS always carries
    /// parameter sets in band; there the sample entry name is avc1/hvc1 by convention.
    pub fn codec(&self, info: &TrackInfo) -> Option<String> {
        let c = codec_string(&info.config).ok()?;
        Some(match self.container {
            Container::Ts => c
                .replacen("avc3.", "avc1.", 1)
                .replacen("hev1.", "hvc1.", 1),
            Container::Fmp4 => c,
        })
    }

    /// The track durations are judged by: the first video track, else the first track.
    pub fn main(&self) -> Option<(usize, &TrackTimes)> {
        let video = self
            .tracks
            .iter()
            .position(|t| t.kind() == TrackKind::Video);
        let i = video.unwrap_or(0);
        self.times.get(i)?.as_ref().map(|t| (i, t))
    }
}

/// Segment formats our demuxers do not take apart: WebVTT (RFC 8216bis 3.1.4) and packed
/// audio (3.1.3: ADTS AAC, AC-3, MP3 frames after an ID3 tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Other {
    /// Whether the header carries X-TIMESTAMP-MAP (Apple 5.3).
    WebVtt { timestamp_map: bool },
    /// Whether it opens with the ID3 tag holding its timestamp (3.1.3).
    PackedAudio { id3: bool },
}

pub fn other_format(seg: &[u8]) -> Option<Other> {
    let text = seg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(seg);
    if text.starts_with(b"WEBVTT") {
        let head = &text[..text.len().min(4096)];
        let timestamp_map = head.windows(16).any(|w| w == b"X-TIMESTAMP-MAP=");
        return Some(Other::WebVtt { timestamp_map });
    }
    if seg.starts_with(b"ID3") {
        return Some(Other::PackedAudio { id3: true });
    }
    match seg {
        // ADTS (ISO/IEC 13818-7), MPEG audio frame sync, AC-3 / E-AC-3 sync word.
        [0xFF, b, ..] if b & 0xF6 == 0xF0 || b & 0xE0 == 0xE0 => {
            Some(Other::PackedAudio { id3: false })
        }
        [0x0B, 0x77, ..] => Some(Other::PackedAudio { id3: false }),
        _ => None,
    }
}

/// Why a segment cannot be read: message and byte offset in the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemuxError {
    pub msg: String,
    pub offset: u64,
    /// The bytes are neither TS nor ISO-BMFF.
    pub unknown_format: bool,
}

/// Demuxes a segment; `init` is the EXT-X-MAP content for fMP4 (and TS I-frame ranges without
/// their own PAT/PMT). `partial` accepts samples cut off by the end (I-frame byte ranges).
pub fn demux(seg: &[u8], init: Option<&[u8]>, partial: bool) -> Result<Demuxed, DemuxError> {
    let err = |msg: String, offset: u64| DemuxError {
        msg,
        offset,
        unknown_format: false,
    };
    let init_is_ts = init.is_some_and(looks_like_ts);
    if looks_like_ts(seg) || (init_is_ts && seg.first() == Some(&0x47)) {
        let mut d = TsDemuxer::new();
        // A range that opens with its own PAT needs no EXT-X-MAP tables (pushing both would
        // repeat their continuity counters).
        let own_pat = seg.get(1..3).is_some_and(|p| p[0] & 0x1F == 0 && p[1] == 0);
        if let Some(i) = init.filter(|_| init_is_ts && !own_pat) {
            d.push(i).map_err(|e| err(e.to_string(), 0))?;
        }
        d.push(seg)
            .and_then(|_| d.finish())
            .map_err(|e| err(e.to_string(), 0))?;
        if !d.pmt_seen() {
            return Err(err(
                "no PAT/PMT: the segment cannot be decoded on its own".into(),
                0,
            ));
        }
        let mut samples = Vec::new();
        while let Some(s) = d.pop_sample() {
            samples.push(s);
        }
        let tracks = d.tracks().to_vec();
        return Ok(summarise(Container::Ts, tracks, &samples));
    }
    let init_len = init.map_or(0, |i| i.len() as u64);
    let mut bytes = init
        .filter(|_| !init_is_ts)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    bytes.extend_from_slice(seg);
    if !looks_like_mp4(&bytes) {
        let head: Vec<String> = seg.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(DemuxError {
            msg: format!(
                "neither MPEG-TS nor ISO-BMFF (first bytes {})",
                head.join(" ")
            ),
            offset: 0,
            unknown_format: true,
        });
    }
    let len = bytes.len() as u64;
    let opts = Mp4Options {
        allow_truncated: partial,
    };
    let at = |e: &media::Error| -> u64 {
        let off = match e {
            media::Error::Mp4 { offset, .. } => *offset,
            media::Error::SampleOutOfRange { offset, .. } => *offset,
            _ => init_len,
        };
        off.saturating_sub(init_len)
    };
    let mut d =
        Mp4Demuxer::open(Cursor::new(bytes), len, opts).map_err(|e| err(e.to_string(), at(&e)))?;
    let mut samples = Vec::new();
    while let Some(s) = d.next_sample().map_err(|e| err(e.to_string(), at(&e)))? {
        samples.push(s);
    }
    Ok(summarise(Container::Fmp4, d.tracks().to_vec(), &samples))
}

fn summarise(container: Container, tracks: Vec<TrackInfo>, samples: &[Sample]) -> Demuxed {
    let times = (0..tracks.len())
        .map(|i| {
            let of: Vec<&Sample> = samples.iter().filter(|s| s.track == i).collect();
            track_times(&tracks[i], &of)
        })
        .collect();
    Demuxed {
        container,
        tracks,
        times,
    }
}

fn track_times(info: &TrackInfo, s: &[&Sample]) -> Option<TrackTimes> {
    let first = s.first()?;
    let last = s.last()?;
    let mut durs: Vec<u32> = s.iter().map(|s| s.duration).collect();
    durs.sort_unstable();
    Some(TrackTimes {
        timescale: info.timescale,
        first_dts: first.dts,
        end_dts: last.dts.saturating_add(i64::from(last.duration)),
        min_pts: s.iter().map(|s| s.pts()).min().unwrap_or(0),
        end_pts: s
            .iter()
            .map(|s| s.pts().saturating_add(i64::from(s.duration)))
            .max()
            .unwrap_or(0),
        samples: s.len() as u64,
        first_keyframe: first.keyframe,
        open_gop: matches!(info.config, CodecConfig::Hevc { .. }) && hevc_open_gop(s),
        typical_duration: durs.get(durs.len() / 2).copied().unwrap_or(0),
    })
}

/// HEVC: first picture a CRA (nal type 21) and RASL pictures (8, 9) before the next IRAP
/// (H.265 8.1.3: RASL pictures associated with a CRA that starts decoding are not decodable).
fn hevc_open_gop(s: &[&Sample]) -> bool {
    let types = |smp: &Sample| -> Vec<u8> {
        nal::length_prefixed_nals(&smp.data, 4)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| nal::h265_nal_type(n))
            .collect()
    };
    let Some(first) = s.first() else { return false };
    if !types(first).contains(&21) {
        return false;
    }
    for smp in s.iter().skip(1) {
        let t = types(smp);
        if t.iter().any(|&t| nal::h265_is_irap(t)) {
            return false;
        }
        if t.iter().any(|&t| t == 8 || t == 9) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_formats() {
        let cases: [(&[u8], Option<Other>); 7] = [
            (
                b"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n",
                Some(Other::WebVtt {
                    timestamp_map: true,
                }),
            ),
            (
                b"\xef\xbb\xbfWEBVTT\n\n00:00.000 --> 00:01.000\nhi\n",
                Some(Other::WebVtt {
                    timestamp_map: false,
                }),
            ),
            (
                b"ID3\x04\x00\x00\x00\x00\x00\x3f",
                Some(Other::PackedAudio { id3: true }),
            ),
            (
                &[0xFF, 0xF1, 0x50, 0x80],
                Some(Other::PackedAudio { id3: false }),
            ),
            (&[0x0B, 0x77, 0x00], Some(Other::PackedAudio { id3: false })),
            (&[0x47, 0x40, 0x00, 0x10], None),
            (b"\x00\x00\x00\x18ftypiso6", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(other_format(bytes), want, "{bytes:02x?}");
        }
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;
    use bytes::Bytes;

    /// Timestamps at the end of the i64 range (a crafted tfdt) saturate instead of panicking.
    #[test]
    fn times_at_the_end_of_the_range() {
        let info = TrackInfo {
            id: 1,
            config: CodecConfig::Mp3,
            timescale: 1,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 2,
            language: None,
            duration: None,
        };
        let s = Sample {
            track: 0,
            dts: i64::MAX - 1,
            cts_offset: 0,
            duration: 1000,
            keyframe: true,
            data: Bytes::new(),
        };
        let t = track_times(&info, &[&s]).expect("one sample");
        assert_eq!(t.end_dts, i64::MAX);
        assert_eq!(t.end_pts, i64::MAX);
        assert!(t.span() >= 0.0);
    }
}
