// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--subtitles FILE[,…]`: reading the file (WebVTT or SRT, UTF-8); its WebVTT rendition is
//! written on the ladder's segment boundaries by `media::package::ladder_text`.

use anyhow::{bail, Context, Result};
use media::demux::mp4::Mp4Demuxer;
use media::package::ladder_text::SubtitleInput;

use media::subtitle;

use super::descriptor::Descriptor;

/// Reads and parses a subtitle file (WebVTT, SRT, or an MP4 holding a text track: a
/// packager's WebVTT-in-MP4 `wvtt` or `tx3g`); a refusal names the file, the line and why.
pub fn read(spec: Descriptor) -> Result<SubtitleInput> {
    let path = spec.path.display().to_string();
    let bytes = std::fs::read(&spec.path).with_context(|| format!("cannot read {path}"))?;
    if is_mp4(&bytes) {
        return read_mp4(spec, bytes);
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{path}: not UTF-8 text (byte {}): WebVTT and SRT files must be UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    let subs = subtitle::parse(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    Ok(SubtitleInput {
        spec: spec.rendition_spec(),
        subs,
    })
}

/// Whether `bytes` start like an ISO BMFF file (ISO/IEC 14496-12 §4.2: size, then a
/// top-level box type a file starts with).
fn is_mp4(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(4..8),
        Some(b"ftyp" | b"styp" | b"moov" | b"free" | b"wide" | b"mdat")
    )
}

/// The first text track of an MP4 file; its language unless the option gives one.
fn read_mp4(mut spec: Descriptor, bytes: Vec<u8>) -> Result<SubtitleInput> {
    let path = spec.path.display().to_string();
    let len = bytes.len() as u64;
    let mut tracks = Mp4Demuxer::text_tracks(std::io::Cursor::new(bytes), len)
        .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    if tracks.is_empty() {
        bail!("{path}: an MP4 file without a text track (tx3g or wvtt)");
    }
    if tracks.len() > 1 {
        tracing::warn!("{path}: {} text tracks; the first is used", tracks.len());
    }
    let track = tracks.remove(0);
    if spec.lang.is_none() {
        spec.lang = track.language;
    }
    Ok(SubtitleInput {
        spec: spec.rendition_spec(),
        subs: track.subtitles,
    })
}
