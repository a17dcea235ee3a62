// SPDX-License-Identifier: MIT OR Apache-2.0
//! 3GPP timed text (`tx3g`, ffmpeg's mov_text; 3GPP TS 26.245 §5.17): each sample is a 16-bit
//! text length, the UTF-8 text, then style boxes (ignored). Read whole as subtitle cues.

use std::io::{Read, Seek};

use mp4_atom::Mdhd;

use super::moov::language;
use super::table::TableCursor;
use super::Mp4Demuxer;
use crate::error::{Error, Result};
use crate::sample::{CodecConfig, TrackInfo};
use crate::subtitle::{Cue, SubtitleTrack, Subtitles};

/// The description of a text track. A track's sample table needs a [`TrackInfo`]; text tracks
/// are never muxed, so the codec configuration is a stand-in that nothing reads.
pub(super) fn info(id: u32, mdhd: &Mdhd) -> TrackInfo {
    TrackInfo {
        id,
        config: CodecConfig::Mp3,
        timescale: mdhd.timescale,
        width: 0,
        height: 0,
        sample_rate: 0,
        channels: 0,
        language: language(&mdhd.language),
        duration: None,
    }
}

/// The text of a tx3g sample, WebVTT-escaped; `None` for an empty sample (a gap).
fn sample_text(data: &[u8]) -> Option<String> {
    let len = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
    let bytes = data.get(2..2 + len).or_else(|| data.get(2..))?;
    if bytes.is_empty() {
        return None;
    }
    // 3GPP TS 26.245 5.16: UTF-8, or UTF-16 with a byte order mark (not supported: lossy).
    let text = String::from_utf8_lossy(bytes);
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", "\n");
    Some(text.trim_end_matches('\n').to_owned()).filter(|t| !t.is_empty())
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Every tx3g track as cues (milliseconds, the edit list applied).
    pub(super) fn read_text_tracks(&mut self) -> Result<Vec<SubtitleTrack>> {
        let mut out = Vec::new();
        for t in &self.text {
            let mut cursor = TableCursor::new(&t.table);
            let ts = i128::from(t.info.timescale.max(1));
            let ms =
                |ticks: i64| -> u64 { u64::try_from(i128::from(ticks) * 1000 / ts).unwrap_or(0) };
            let mut cues: Vec<Cue> = Vec::new();
            while let Some(raw) = t.table.get(cursor.next) {
                let start = cursor.dts.saturating_add(t.shift);
                let data = self
                    .regions
                    .sample(&mut self.reader, raw.offset, raw.size)
                    .map_err(|e| {
                        Error::io(
                            format!(
                                "reading text track {} at byte offset {}",
                                t.info.id, raw.offset
                            ),
                            e,
                        )
                    })?;
                if let Some(text) = sample_text(&data) {
                    let end = start.saturating_add(i64::from(raw.duration));
                    if cues.last().is_none_or(|c| ms(start) >= c.start) {
                        cues.push(Cue {
                            id: None,
                            start: ms(start),
                            end: ms(end),
                            settings: String::new(),
                            text,
                        });
                    }
                }
                cursor.advance(&t.table, raw.duration);
            }
            out.push(SubtitleTrack {
                id: t.info.id,
                language: t.info.language.clone(),
                subtitles: Subtitles {
                    header_blocks: Vec::new(),
                    cues,
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::sample_text;

    #[test]
    fn tx3g_samples() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"\x00\x05Hello", Some("Hello")),
            (b"\x00\x00", None),
            (
                b"\x00\x07a<b>&c\n\x00\x00\x00\x0cstyl",
                Some("a&lt;b&gt;&amp;c"),
            ),
            (b"\x00", None),
            (b"\x00\x09short", Some("short")),
        ];
        for (data, want) in cases {
            assert_eq!(sample_text(data).as_deref(), *want, "{data:?}");
        }
    }
}
