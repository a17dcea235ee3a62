// SPDX-License-Identifier: MIT OR Apache-2.0
//! Multivariant ("master") playlists: EXT-X-STREAM-INF, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF
//! (RFC 8216bis §4.4.6).

use std::fmt::{self, Write as _};

use super::{fmt_duration, quoted};

/// Peak and average bit rate of a playlist's entries, `(bytes, EXTINF seconds)` each, for
/// BANDWIDTH and AVERAGE-BANDWIDTH (RFC 8216bis 4.4.6.2: BANDWIDTH is the peak segment bit rate,
/// AVERAGE-BANDWIDTH the average; Apple 9.13–9.15). Durations are taken as the playlist writes
/// them (milliseconds, [`fmt_duration`]) and rates are rounded up, so that a client recomputing
/// bits / EXTINF from the playlist never finds a segment above the declared peak. Entries whose
/// EXTINF is written as 0 carry no rate. The peak is at least the average.
pub fn measure_bandwidth(entries: impl IntoIterator<Item = (u64, f64)>) -> (u64, u64) {
    let rate = |bytes: u128, millis: u128| -> u64 {
        let bits_ms = bytes.saturating_mul(8000);
        u64::try_from(bits_ms.div_ceil(millis)).unwrap_or(u64::MAX)
    };
    let (mut peak, mut bytes, mut millis) = (0u64, 0u128, 0u128);
    for (size, secs) in entries {
        let ms = written_millis(secs);
        bytes = bytes.saturating_add(u128::from(size));
        millis = millis.saturating_add(u128::from(ms));
        if ms > 0 {
            peak = peak.max(rate(u128::from(size), u128::from(ms)));
        }
    }
    let average = if millis > 0 { rate(bytes, millis) } else { 0 };
    (peak.max(average), average)
}

/// Milliseconds of an EXTINF as written (RFC 8216bis 4.4.4.1), negative or NaN as 0.
fn written_millis(secs: f64) -> u64 {
    let written: f64 = fmt_duration(secs).parse().unwrap_or(0.0);
    let ms = (written * 1000.0).round();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

/// One EXT-X-STREAM-INF entry (RFC 8216bis 4.4.6.2).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    pub uri: String,
    /// Peak segment bit rate, bits/s (Apple 9.13: BANDWIDTH is the peak).
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    /// RFC 6381 codec strings, every codec of the variant including its audio group's (Apple 9.1).
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub audio_group: Option<String>,
}

/// One EXT-X-I-FRAME-STREAM-INF entry (RFC 8216bis 4.4.6.3): the I-frame playlist of a video
/// variant. FRAME-RATE, AUDIO and the other group attributes do not apply to it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IFrameVariant {
    pub uri: String,
    /// Peak bit rate of the I-frame entries: largest byte range × 8 / its EXTINF (Apple 9.13).
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    /// RFC 6381 string of the video codec only (Apple 9.1).
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
}

/// One EXT-X-MEDIA entry (RFC 8216bis 4.4.6.1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendition {
    pub media_type: &'static str,
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub uri: Option<String>,
    pub default: bool,
    pub autoselect: bool,
    /// FORCED (SUBTITLES only, RFC 8216bis 4.4.6.1.1).
    pub forced: Option<bool>,
    /// CHANNELS (AUDIO; Apple: MUST on every audio rendition).
    pub channels: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MasterPlaylist {
    pub independent_segments: bool,
    pub renditions: Vec<Rendition>,
    pub variants: Vec<Variant>,
}

/// `TAG:BANDWIDTH=…[,AVERAGE-BANDWIDTH=…][,CODECS="…"][,RESOLUTION=WxH]`, the attributes
/// EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF share (RFC 8216bis 4.4.6.2–4.4.6.3).
pub(crate) fn stream_attributes(
    out: &mut String,
    tag: &str,
    bandwidth: u64,
    average_bandwidth: Option<u64>,
    codecs: &[String],
    resolution: Option<(u32, u32)>,
) {
    let _ = write!(out, "{tag}:BANDWIDTH={bandwidth}");
    if let Some(avg) = average_bandwidth {
        let _ = write!(out, ",AVERAGE-BANDWIDTH={avg}");
    }
    if !codecs.is_empty() {
        let _ = write!(out, ",CODECS={}", quoted(&codecs.join(",")));
    }
    if let Some((w, h)) = resolution {
        let _ = write!(out, ",RESOLUTION={w}x{h}");
    }
}

impl MasterPlaylist {
    /// The playlist text with an EXT-X-I-FRAME-STREAM-INF line per entry of `i_frames` after
    /// the variants (Apple HLS authoring spec 6.1: every video variant has an I-frame playlist).
    /// `Display` writes the playlist without any.
    pub fn with_i_frames(&self, i_frames: &[IFrameVariant]) -> String {
        let mut out = self.render();
        write_i_frames(&mut out, i_frames);
        out
    }

    fn render(&self) -> String {
        let mut out = head(self.independent_segments, &self.renditions);
        for v in &self.variants {
            stream_attributes(
                &mut out,
                "#EXT-X-STREAM-INF",
                v.bandwidth,
                v.average_bandwidth,
                &v.codecs,
                v.resolution,
            );
            if let Some(fr) = v.frame_rate {
                let _ = write!(out, ",FRAME-RATE={fr:.3}");
            }
            if let Some(g) = &v.audio_group {
                let _ = write!(out, ",AUDIO={}", quoted(g));
            }
            out.push('\n');
            out.push_str(&v.uri);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for MasterPlaylist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// The start of a multivariant playlist: header, EXT-X-INDEPENDENT-SEGMENTS when it holds,
/// then one EXT-X-MEDIA line per rendition.
pub(super) fn head(independent_segments: bool, renditions: &[Rendition]) -> String {
    let mut out = String::from("#EXTM3U\n");
    // Version 6 covers every attribute written here (RFC 8216bis §8).
    out.push_str("#EXT-X-VERSION:6\n");
    if independent_segments {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for r in renditions {
        write_media(&mut out, r);
    }
    out
}

/// One EXT-X-I-FRAME-STREAM-INF line per entry (RFC 8216bis 4.4.6.3).
pub(super) fn write_i_frames(out: &mut String, i_frames: &[IFrameVariant]) {
    for v in i_frames {
        // Apple 9.1–9.4: CODECS and RESOLUTION on every EXT-X-I-FRAME-STREAM-INF.
        stream_attributes(
            out,
            "#EXT-X-I-FRAME-STREAM-INF",
            v.bandwidth,
            v.average_bandwidth,
            &v.codecs,
            v.resolution,
        );
        let _ = writeln!(out, ",URI={}", quoted(&v.uri));
    }
}

/// One EXT-X-MEDIA tag line (RFC 8216bis 4.4.6.1).
pub(super) fn write_media(out: &mut String, r: &Rendition) {
    let _ = write!(
        out,
        "#EXT-X-MEDIA:TYPE={},GROUP-ID={},NAME={}",
        r.media_type,
        quoted(&r.group_id),
        quoted(&r.name)
    );
    if let Some(lang) = &r.language {
        let _ = write!(out, ",LANGUAGE={}", quoted(lang));
    }
    let _ = write!(
        out,
        ",DEFAULT={},AUTOSELECT={}",
        yes_no(r.default),
        yes_no(r.autoselect)
    );
    if let Some(forced) = r.forced {
        let _ = write!(out, ",FORCED={}", yes_no(forced));
    }
    if let Some(ch) = r.channels {
        let _ = write!(out, ",CHANNELS=\"{ch}\"");
    }
    if let Some(uri) = &r.uri {
        let _ = write!(out, ",URI={}", quoted(uri));
    }
    out.push('\n');
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "YES"
    } else {
        "NO"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table: (bytes, EXTINF seconds) rows → (BANDWIDTH, AVERAGE-BANDWIDTH).
    #[test]
    fn bandwidth_from_written_extinf_rounded_up() {
        type Case = (&'static str, &'static [(u64, f64)], (u64, u64));
        let cases: &[Case] = &[
            (
                "exact",
                &[(250_000, 2.0), (125_000, 2.0)],
                (1_000_000, 750_000),
            ),
            // 2.002002 s (60 frames at 29.97) is written 2.002: 8 000 000 / 2.002 = 3 996 003.996…
            (
                "29.97 fps, rounded up",
                &[(1_000_000, 2.002_002)],
                (3_996_004, 3_996_004),
            ),
            // 8 bits over 6 ms = 1333.3 bit/s → 1334, not the nearest 1333.
            ("up, not nearest", &[(1, 0.006)], (1334, 1334)),
            (
                "zero EXTINF: no peak of its own",
                &[(100, 0.0001), (100, 1.0)],
                (1600, 1600),
            ),
            ("nothing", &[], (0, 0)),
        ];
        for (name, rows, want) in cases {
            assert_eq!(measure_bandwidth(rows.iter().copied()), *want, "{name}");
        }
    }

    #[test]
    fn writes_variant_with_all_attributes() {
        let p = MasterPlaylist {
            independent_segments: true,
            renditions: vec![],
            variants: vec![Variant {
                uri: "video.m3u8".into(),
                bandwidth: 2_500_000,
                average_bandwidth: Some(2_000_000),
                codecs: vec!["avc1.64001f".into(), "mp4a.40.2".into()],
                resolution: Some((1280, 720)),
                frame_rate: Some(29.97),
                audio_group: None,
            }],
        };
        assert_eq!(
            p.to_string(),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",\
RESOLUTION=1280x720,FRAME-RATE=29.970\nvideo.m3u8\n"
        );
    }

    #[test]
    fn writes_i_frame_stream_inf_after_the_variants() {
        let p = MasterPlaylist {
            independent_segments: true,
            renditions: vec![],
            variants: vec![Variant {
                uri: "video.m3u8".into(),
                bandwidth: 900_000,
                codecs: vec!["avc1.64000d".into(), "mp4a.40.2".into()],
                ..Default::default()
            }],
        };
        let cases = [
            (
                IFrameVariant {
                    uri: "video_iframes.m3u8".into(),
                    bandwidth: 180_000,
                    average_bandwidth: Some(90_000),
                    codecs: vec!["avc1.64000d".into()],
                    resolution: Some((320, 240)),
                },
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=180000,AVERAGE-BANDWIDTH=90000,\
CODECS=\"avc1.64000d\",RESOLUTION=320x240,URI=\"video_iframes.m3u8\"\n",
            ),
            (
                IFrameVariant {
                    uri: "i.m3u8".into(),
                    bandwidth: 1,
                    ..Default::default()
                },
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\n",
            ),
        ];
        for (iframe, line) in cases {
            let text = p.with_i_frames(std::slice::from_ref(&iframe));
            assert_eq!(text, format!("{p}{line}"), "{iframe:?}");
        }
        assert_eq!(p.with_i_frames(&[]), p.to_string());
    }
}
