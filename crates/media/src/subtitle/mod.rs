// SPDX-License-Identifier: MIT OR Apache-2.0
//! Subtitles: WebVTT and SRT files parsed into cues ([`parse`]), and cut into WebVTT segments on
//! the media segments' boundaries ([`segment`]) for `EXT-X-MEDIA TYPE=SUBTITLES` renditions
//! (RFC 8216 3.5, 4.4.6.1). Sans-IO: text in, text out.

mod parse;
mod segment;

pub use parse::{parse, parse_srt, parse_vtt};
pub use segment::{segment, timestamp};

/// One cue, times in milliseconds from the start of the presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub id: Option<String>,
    pub start: u64,
    pub end: u64,
    /// WebVTT cue settings after the timing ("align:start line:0"), empty if none.
    pub settings: String,
    /// Payload lines joined with `\n` (WebVTT cue text).
    pub text: String,
}

/// A parsed subtitle file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subtitles {
    /// WebVTT STYLE and REGION blocks, repeated at the head of every segment (W3C WebVTT 4.1:
    /// they must precede the first cue).
    pub header_blocks: Vec<String>,
    pub cues: Vec<Cue>,
}

/// A subtitle track found inside a media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleTrack {
    /// Track id in the input.
    pub id: u32,
    /// ISO 639-2 code from the container, if any.
    pub language: Option<String>,
    pub subtitles: Subtitles,
}

/// Why a subtitle file was refused: the line (1-based) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}
