// SPDX-License-Identifier: MIT OR Apache-2.0
//! Text tracks, read whole as subtitle cues:
//! - 3GPP timed text (`tx3g`, ffmpeg's mov_text; 3GPP TS 26.245 §5.17): each sample is a
//!   16-bit text length, the UTF-8 text, then style boxes (ignored).
//! - WebVTT in ISO BMFF (`wvtt`, ISO/IEC 14496-30 §7): each sample holds `vttc` boxes (one
//!   cue each: `iden` id, `sttg` settings, `payl` text) or a `vtte` (no cue); a cue that spans
//!   several samples is repeated in each and joined back here. The `vttC` configuration's
//!   STYLE/REGION blocks are kept.

use std::io::{Read, Seek};

use mp4_atom::Mdhd;

use super::boxes::{payload, BoxHeader, Children};
use super::moov::language;
use super::table::TableCursor;
use super::track::Track;
use super::Mp4Demuxer;
use crate::error::{Error, Result};
use crate::sample::{CodecConfig, TrackInfo};
use crate::subtitle::{Cue, SubtitleTrack, Subtitles};

/// How a text track's samples are coded.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TextFormat {
    Tx3g,
    /// `header_blocks`: the STYLE and REGION blocks of the `vttC` configuration.
    Wvtt {
        header_blocks: Vec<String>,
    },
}

impl TextFormat {
    /// The format of the sample entry `bytes` (complete box), if it is a text one we read.
    pub(super) fn of(hdr: &BoxHeader, bytes: &[u8]) -> Option<TextFormat> {
        match &hdr.kind {
            b"tx3g" => Some(TextFormat::Tx3g),
            b"wvtt" => {
                // ISO/IEC 14496-30 §7.5: PlainTextSampleEntry (SampleEntry's 8 bytes), then
                // WebVTTConfigurationBox `vttC` (the file header text) and `vlab`.
                let start = usize::try_from(hdr.header_len).ok()? + 8;
                let children = bytes.get(start..).unwrap_or_default();
                let config = Children::new(children, 0)
                    .map_while(Result::ok)
                    .find(|(h, _)| &h.kind == b"vttC")
                    .map(|(h, b)| String::from_utf8_lossy(payload(&h, b)).into_owned());
                let header_blocks = config
                    .and_then(|c| crate::subtitle::parse(&c).ok())
                    .map(|s| s.header_blocks)
                    .unwrap_or_default();
                Some(TextFormat::Wvtt { header_blocks })
            }
            _ => None,
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            TextFormat::Tx3g => "tx3g",
            TextFormat::Wvtt { .. } => "wvtt",
        }
    }
}

/// A text track: its sample table and how its samples are coded.
#[derive(Debug)]
pub(super) struct TextTrack {
    pub track: Track,
    pub format: TextFormat,
}

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

/// One cue of a `wvtt` sample, before its times are known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VttCue {
    id: Option<String>,
    settings: String,
    text: String,
}

/// The cues of a `wvtt` sample (ISO/IEC 14496-30 §7.4): one per `vttc` box; `vtte` and
/// `vtta` (comments) give none. A malformed box ends the sample's cues, never the track.
fn wvtt_cues(data: &[u8]) -> Vec<VttCue> {
    let text = |h: &BoxHeader, b: &[u8]| String::from_utf8_lossy(payload(h, b)).into_owned();
    let mut cues = Vec::new();
    for (h, b) in Children::new(data, 0).map_while(Result::ok) {
        if &h.kind != b"vttc" {
            continue;
        }
        let mut cue = VttCue {
            id: None,
            settings: String::new(),
            text: String::new(),
        };
        let body = payload(&h, b);
        for (ch, cb) in Children::new(body, 0).map_while(Result::ok) {
            match &ch.kind {
                b"iden" => cue.id = Some(text(&ch, cb)).filter(|i| !i.is_empty()),
                b"sttg" => cue.settings = text(&ch, cb).trim().to_owned(),
                b"payl" => cue.text = text(&ch, cb).trim_end_matches('\n').to_owned(),
                _ => {}
            }
        }
        if !cue.text.is_empty() {
            cues.push(cue);
        }
    }
    cues
}

/// Adds the cues of one sample lasting `start..end` (ms) to `cues`. A cue equal to one of
/// the previous sample's (`open`: their indexes) that ended at `start` is that cue going
/// on: its end moves instead of a second cue being added. Returns this sample's indexes.
fn add_sample_cues(
    cues: &mut Vec<Cue>,
    open: &[usize],
    got: Vec<VttCue>,
    start: u64,
    end: u64,
) -> Vec<usize> {
    let mut now = Vec::with_capacity(got.len());
    for c in got {
        let same = open.iter().copied().find(|&i| {
            cues.get(i).is_some_and(|p| {
                p.end == start && p.id == c.id && p.settings == c.settings && p.text == c.text
            })
        });
        match same.and_then(|i| cues.get_mut(i).map(|p| (i, p))) {
            Some((i, p)) => {
                p.end = end;
                now.push(i);
            }
            None => {
                now.push(cues.len());
                cues.push(Cue {
                    id: c.id,
                    start,
                    end,
                    settings: c.settings,
                    text: c.text,
                });
            }
        }
    }
    now
}

impl<R: Read + Seek> Mp4Demuxer<R> {
    /// Every text track as cues (milliseconds, the edit list applied).
    pub(super) fn read_text_tracks(&mut self) -> Result<Vec<SubtitleTrack>> {
        let mut out = Vec::new();
        for i in 0..self.text.len() {
            out.push(self.read_text_track(i)?);
        }
        Ok(out)
    }

    fn read_text_track(&mut self, i: usize) -> Result<SubtitleTrack> {
        let Some(TextTrack { track: t, format }) = self.text.get(i) else {
            return Err(Error::NoTracks);
        };
        let mut cursor = TableCursor::new(&t.table);
        let ts = i128::from(t.info.timescale.max(1));
        let ms = |ticks: i64| -> u64 { u64::try_from(i128::from(ticks) * 1000 / ts).unwrap_or(0) };
        let mut cues: Vec<Cue> = Vec::new();
        let mut open = Vec::new();
        while let Some(raw) = t.table.get(cursor.next) {
            let start = cursor.dts.saturating_add(t.shift);
            let end = start.saturating_add(i64::from(raw.duration));
            let data = self
                .regions
                .sample(&mut self.reader, raw.offset, raw.size)
                .map_err(|e| {
                    let what = format!(
                        "reading text track {} at byte offset {}",
                        t.info.id, raw.offset
                    );
                    Error::io(what, e)
                })?;
            match format {
                TextFormat::Tx3g => {
                    if let Some(text) = sample_text(&data) {
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
                }
                TextFormat::Wvtt { .. } => {
                    let (s, e) = (ms(start), ms(end));
                    if cues.last().is_none_or(|c| s >= c.start) {
                        open = add_sample_cues(&mut cues, &open, wvtt_cues(&data), s, e);
                    }
                }
            }
            cursor.advance(&t.table, raw.duration);
        }
        let header_blocks = match format {
            TextFormat::Wvtt { header_blocks } => header_blocks.clone(),
            TextFormat::Tx3g => Vec::new(),
        };
        Ok(SubtitleTrack {
            id: t.info.id,
            language: t.info.language.clone(),
            subtitles: Subtitles {
                header_blocks,
                cues,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box: size, type, payload.
    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(body.len() + 8)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn vttc(id: Option<&str>, settings: Option<&str>, text: &str) -> Vec<u8> {
        let mut body = Vec::new();
        if let Some(id) = id {
            body.extend(bx(b"iden", id.as_bytes()));
        }
        if let Some(s) = settings {
            body.extend(bx(b"sttg", s.as_bytes()));
        }
        body.extend(bx(b"payl", text.as_bytes()));
        bx(b"vttc", &body)
    }

    fn cue(id: Option<&str>, settings: &str, text: &str) -> VttCue {
        VttCue {
            id: id.map(str::to_owned),
            settings: settings.to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn wvtt_samples() {
        let two = [
            vttc(Some("c1"), Some("align:start"), "Hello\n"),
            vttc(None, None, "<b>b</b>"),
        ]
        .concat();
        let cases: Vec<(&str, Vec<u8>, Vec<VttCue>)> = vec![
            ("empty cue box", bx(b"vtte", &[]), vec![]),
            ("one cue", vttc(None, None, "Hi"), vec![cue(None, "", "Hi")]),
            (
                "two cues, id and settings, trailing newline dropped",
                two,
                vec![
                    cue(Some("c1"), "align:start", "Hello"),
                    cue(None, "", "<b>b</b>"),
                ],
            ),
            (
                "comment box ignored",
                [bx(b"vtta", b"NOTE x"), vttc(None, None, "y")].concat(),
                vec![cue(None, "", "y")],
            ),
            (
                "no payload: no cue",
                bx(b"vttc", &bx(b"iden", b"x")),
                vec![],
            ),
            (
                "cut short: the cues before it",
                [vttc(None, None, "a"), vec![0, 0, 0, 99, b'v']].concat(),
                vec![cue(None, "", "a")],
            ),
            ("garbage", vec![0xff; 7], vec![]),
        ];
        for (name, data, want) in cases {
            assert_eq!(wvtt_cues(&data), want, "{name}");
        }
    }

    #[test]
    fn wvtt_entry_keeps_the_style_blocks_of_its_configuration() {
        let config = bx(b"vttC", b"WEBVTT\n\nSTYLE\n::cue { color: red }\n");
        let cases: Vec<(&str, Vec<u8>, Vec<String>)> = vec![
            (
                "style",
                config,
                vec!["STYLE\n::cue { color: red }".to_owned()],
            ),
            ("plain header", bx(b"vttC", b"WEBVTT"), vec![]),
            ("no vttC", vec![], vec![]),
        ];
        for (name, children, want) in cases {
            let entry = bx(b"wvtt", &[vec![0; 8], children].concat());
            let hdr = BoxHeader {
                kind: *b"wvtt",
                offset: 0,
                header_len: 8,
                size: entry.len() as u64,
            };
            let got = TextFormat::of(&hdr, &entry);
            assert_eq!(
                got,
                Some(TextFormat::Wvtt {
                    header_blocks: want
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn a_cue_repeated_in_consecutive_samples_is_one_cue() {
        let mut cues = Vec::new();
        // Samples: [0,1000) a; [1000,2000) a+b; [2000,3000) b; [3500,4000) a again (a gap).
        let open = add_sample_cues(&mut cues, &[], vec![cue(None, "", "a")], 0, 1000);
        let open = add_sample_cues(
            &mut cues,
            &open,
            vec![cue(None, "", "a"), cue(Some("b"), "", "b")],
            1000,
            2000,
        );
        let open = add_sample_cues(&mut cues, &open, vec![cue(Some("b"), "", "b")], 2000, 3000);
        add_sample_cues(&mut cues, &open, vec![cue(None, "", "a")], 3500, 4000);
        let got: Vec<(u64, u64, &str)> = cues
            .iter()
            .map(|c| (c.start, c.end, c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![(0, 2000, "a"), (1000, 3000, "b"), (3500, 4000, "a")]
        );
    }

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
