// SPDX-License-Identifier: MIT OR Apache-2.0
//! Library errors. Each variant carries the context a user needs to find the offending byte:
//! track, sample index, byte offset, timestamp.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("input is empty")]
    Empty,
    #[error("not a recognised container (MP4/MOV or MPEG-TS): first bytes {magic}")]
    UnknownContainer { magic: String },
    #[error("MP4: {msg} (byte offset {offset})")]
    Mp4 { msg: String, offset: u64 },
    #[error("MP4: no moov box found (file truncated before the index was written?)")]
    NoMoov,
    /// The file ends before this sample: truncated. `allow_truncated` (the CLI's
    /// `--allow-truncated`) packages the samples before it instead.
    #[error("MP4: track {track}: sample {sample} at byte offset {offset} (+{size} bytes) lies beyond end of file ({file_len} bytes): the file is truncated; --allow-truncated packages the complete samples")]
    SampleOutOfRange {
        track: u32,
        sample: u64,
        offset: u64,
        size: u32,
        file_len: u64,
    },
    #[error("MPEG-TS: {msg} (byte offset {offset})")]
    Ts { msg: String, offset: u64 },
    #[error("track {track}: unsupported codec {codec}")]
    UnsupportedCodec { track: u32, codec: String },
    #[error("track {track}: bad codec configuration: {msg}")]
    BadCodecConfig { track: u32, msg: String },
    #[error("no audio or video track this tool can package")]
    NoTracks,
    #[error("video track {track} has no keyframe: segments must start on one (Apple HLS 7.4)")]
    NoKeyframe { track: u32 },
    #[error("track {track}: sample {sample} (dts {dts}): {msg}")]
    BadSample {
        track: u32,
        sample: u64,
        dts: i64,
        msg: String,
    },
    #[error("{codec} cannot be carried in {format} segments: {why}")]
    FormatMismatch {
        codec: String,
        format: &'static str,
        why: &'static str,
    },
    #[error("playlist: {0}")]
    Playlist(String),
    #[error("encryption: {0}")]
    Encryption(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    pub fn mp4(msg: impl Into<String>, offset: u64) -> Self {
        Error::Mp4 {
            msg: msg.into(),
            offset,
        }
    }
    pub fn ts(msg: impl Into<String>, offset: u64) -> Self {
        Error::Ts {
            msg: msg.into(),
            offset,
        }
    }
}
