// SPDX-License-Identifier: MIT OR Apache-2.0
//! A ladder's subtitle renditions: one WebVTT segment per media segment of the reference
//! variant (same EXTINF, RFC 8216 3.5) and a media playlist per rendition (`subs_{k}.m3u8`).
//! Written by `package` (the CLI's `--subtitles`) and by just-in-time ladders
//! ([`super::jit_ladder`]) alike, so both give the same bytes.

use super::ladder::{language_tag, SubtitleOut};
use super::{Format, PackageOptions, Rendered};
use crate::mux::ts::TIMESTAMP_OFFSET;
use crate::playlist::{MediaPlaylist, MediaSegment, PlaylistType};
use crate::store::Store;
use crate::subtitle::{self, Subtitles};
use crate::{Error, Result};

/// What an `--audio` or `--subtitles` descriptor (or a mapping file's entry) says of a
/// rendition besides its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenditionSpec {
    pub lang: Option<String>,
    pub name: Option<String>,
    pub default: bool,
    /// Subtitles only (RFC 8216bis 4.4.6.1 FORCED).
    pub forced: bool,
}

/// One subtitle rendition to write: its cues and descriptor.
#[derive(Debug, Clone)]
pub struct SubtitleInput {
    pub subs: Subtitles,
    pub spec: RenditionSpec,
}

/// Writes every subtitle rendition as `subs_{k}.m3u8` + one `.vtt` per segment of
/// `reference` (the first video variant), with the same EXTINF.
pub fn write_subtitles(
    inputs: Vec<SubtitleInput>,
    reference: &Rendered,
    opts: &PackageOptions,
    store: &mut dyn Store,
) -> Result<Vec<SubtitleOut>> {
    // RFC 8216 3.5: cue time 0 is the presentation's start, the reference's first picture.
    // MPEG-TS segments carry timestamps shifted by TIMESTAMP_OFFSET (as ffmpeg's); fMP4's are the
    // input's own.
    let shift = match opts.format {
        Format::Ts => TIMESTAMP_OFFSET,
        Format::Fmp4 => 0,
    };
    let first = (reference.first_pts.unwrap_or(0.0) * 90_000.0).round() as i64;
    let mpegts = u64::try_from(first.saturating_add(shift)).unwrap_or(0);
    let mut out = Vec::new();
    for (k, input) in inputs.into_iter().enumerate() {
        let segments = subtitle::segment(&input.subs, &reference.segment_durations, mpegts);
        let mut playlist = MediaPlaylist {
            playlist_type: Some(PlaylistType::Vod),
            end_list: true,
            ..Default::default()
        };
        for (i, (text, duration)) in segments
            .iter()
            .zip(&reference.segment_durations)
            .enumerate()
        {
            let uri = format!("subs_{k}_{}_{i:06}.vtt", opts.run_id);
            put(store, &uri, text.as_bytes())?;
            playlist.segments.push(MediaSegment {
                uri,
                duration: *duration,
                byterange: None,
                discontinuity: false,
                program_date_time: None,
                size: text.len() as u64,
            });
        }
        playlist.target_duration = MediaPlaylist::target_for(&playlist.segments);
        let uri = format!("subs_{k}.m3u8");
        put(store, &uri, playlist.to_string().as_bytes())?;
        let spec = input.spec;
        out.push(SubtitleOut {
            uri,
            name: spec.name,
            language: spec.lang.and_then(|l| language_tag(&l)),
            default: spec.default,
            forced: spec.forced,
        });
    }
    Ok(out)
}

fn put(store: &mut dyn Store, name: &str, data: &[u8]) -> Result<()> {
    store
        .put(name, data)
        .map_err(|e| Error::io(format!("writing {name}"), e))
}
