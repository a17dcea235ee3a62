// SPDX-License-Identifier: MIT OR Apache-2.0
//! The multivariant playlist of a VOD ladder: EXT-X-MEDIA audio and subtitle renditions,
//! EXT-X-STREAM-INF with AUDIO/SUBTITLES/CLOSED-CAPTIONS, EXT-X-I-FRAME-STREAM-INF
//! (RFC 8216bis 4.4.6). The single-rendition master stays in [`super::master`].

use std::fmt::Write as _;

use super::master::{head, stream_attributes, write_i_frames, IFrameVariant, Rendition};
use super::quoted;

/// One EXT-X-MEDIA entry (RFC 8216bis 4.4.6.1): the same as the single-rendition master's.
pub type MediaEntry = Rendition;

/// One EXT-X-STREAM-INF entry (RFC 8216bis 4.4.6.2).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamEntry {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: Vec<String>,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub audio_group: Option<String>,
    pub subtitles_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VodMaster {
    pub independent_segments: bool,
    pub media: Vec<MediaEntry>,
    pub variants: Vec<StreamEntry>,
    pub i_frames: Vec<IFrameVariant>,
}

impl VodMaster {
    pub fn render(&self) -> String {
        let mut out = head(self.independent_segments, &self.media);
        for v in &self.variants {
            stream_attributes(
                &mut out,
                "#EXT-X-STREAM-INF",
                v.bandwidth,
                Some(v.average_bandwidth),
                &v.codecs,
                v.resolution,
            );
            if let Some(fr) = v.frame_rate {
                let _ = write!(out, ",FRAME-RATE={fr:.3}");
            }
            if let Some(g) = &v.audio_group {
                let _ = write!(out, ",AUDIO={}", quoted(g));
            }
            if let Some(g) = &v.subtitles_group {
                let _ = write!(out, ",SUBTITLES={}", quoted(g));
            }
            // RFC 8216 4.3.4.2: CLOSED-CAPTIONS=NONE (on every variant) where the video carries
            // no captions, so that players do not look for CEA-608 in it.
            let _ = writeln!(out, ",CLOSED-CAPTIONS=NONE");
            out.push_str(&v.uri);
            out.push('\n');
        }
        write_i_frames(&mut out, &self.i_frames);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_media_variants_and_i_frames() {
        let m = VodMaster {
            independent_segments: true,
            media: vec![
                MediaEntry {
                    media_type: "AUDIO",
                    group_id: "audio-aac".into(),
                    name: "English".into(),
                    language: Some("en".into()),
                    default: true,
                    autoselect: true,
                    forced: None,
                    channels: Some(2),
                    uri: Some("audio_0.m3u8".into()),
                },
                MediaEntry {
                    media_type: "SUBTITLES",
                    group_id: "subs".into(),
                    name: "Français".into(),
                    language: Some("fr".into()),
                    default: false,
                    autoselect: true,
                    forced: Some(false),
                    channels: None,
                    uri: Some("subs_0.m3u8".into()),
                },
            ],
            variants: vec![StreamEntry {
                uri: "video_0.m3u8".into(),
                bandwidth: 900_000,
                average_bandwidth: 700_000,
                codecs: vec!["avc1.64001f".into(), "mp4a.40.2".into()],
                resolution: Some((1280, 720)),
                frame_rate: Some(25.0),
                audio_group: Some("audio-aac".into()),
                subtitles_group: Some("subs".into()),
            }],
            i_frames: vec![IFrameVariant {
                uri: "video_0_iframes.m3u8".into(),
                bandwidth: 100_000,
                average_bandwidth: Some(50_000),
                codecs: vec!["avc1.64001f".into()],
                resolution: Some((1280, 720)),
            }],
        };
        assert_eq!(
            m.render(),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-aac\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,\
AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio_0.m3u8\"\n\
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Français\",LANGUAGE=\"fr\",DEFAULT=NO,\
AUTOSELECT=YES,FORCED=NO,URI=\"subs_0.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,CODECS=\"avc1.64001f,mp4a.40.2\",\
RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO=\"audio-aac\",SUBTITLES=\"subs\",CLOSED-CAPTIONS=NONE\n\
video_0.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,AVERAGE-BANDWIDTH=50000,CODECS=\"avc1.64001f\",\
RESOLUTION=1280x720,URI=\"video_0_iframes.m3u8\"\n"
        );
    }
}
