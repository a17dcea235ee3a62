// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV demuxer (Adobe FLV spec v10.1 Annex E; Enhanced RTMP v1/v2, veovera/enhanced-rtmp),
//! push-based and sans-IO, for RTMP ingest. Not yet wired to a command.
//!
//! Two entry points feed the same state: [`FlvDemuxer::push`] takes an FLV byte stream (header,
//! PreviousTagSize, tags: files as `ffmpeg -f flv` writes them), and
//! [`FlvDemuxer::push_message`] takes one RTMP audio (8), video (9) or data (18) message
//! payload with its 32-bit millisecond timestamp — the same bytes as an FLV tag body.
//!
//! Modules: file framing (`file`), video and audio tag bodies (`video`, `audio`), AMF0 script
//! data (`amf`), Enhanced RTMP multitrack messages (`multitrack`: track 0 is used), timestamps
//! and durations (`track`), the per-stream state (`stream`).
//! Samples follow the canonical forms of [`crate::sample`]: video in 90 kHz ticks (as the
//! MPEG-TS demuxer), audio in sample-rate ticks. At most one video and one audio track.

mod amf;
mod audio;
mod file;
mod multitrack;
mod stream;
mod track;
mod video;

#[cfg(test)]
mod ffmpeg_tests;
#[cfg(test)]
mod tests;

pub use amf::{AmfValue, Metadata};

use crate::sample::{Sample, TrackInfo};

pub use super::ts::DiscontinuityCause;

/// Default limit on one tag body (FLV allows 16 MiB - 1).
pub const DEFAULT_MAX_TAG: usize = 8 << 20;

/// FLV tag types (FLV spec E.4.1) = RTMP message type ids (RTMP spec 7.1).
pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;

/// Why a tag or the stream was refused. The demuxer stays usable after [`FlvError::Tag`] (the
/// tag is dropped); the framing errors of [`FlvDemuxer::push`] are final.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlvError {
    #[error("FLV: not an FLV stream: {0}")]
    NotFlv(String),
    #[error(
        "FLV: tag {tag} at byte offset {offset}: {size}-byte body exceeds the {limit}-byte limit"
    )]
    TagTooLarge {
        tag: u64,
        offset: u64,
        size: usize,
        limit: usize,
    },
    #[error("FLV: tag {tag} ({kind}, timestamp {timestamp} ms{}): {msg}", at(*.offset))]
    Tag {
        /// 0-based count of tags/messages pushed.
        tag: u64,
        /// Byte offset in the FLV stream ([`FlvDemuxer::push`] only).
        offset: Option<u64>,
        kind: &'static str,
        timestamp: u32,
        msg: String,
    },
}

fn at(offset: Option<u64>) -> String {
    offset.map_or_else(String::new, |o| format!(", byte offset {o}"))
}

/// Something the caller may want to act on besides samples, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum FlvEvent {
    /// `track`'s timeline breaks before sample number `sample` (0-based count of samples
    /// returned by `pop_sample`). Queued when that sample is popped.
    Discontinuity {
        track: usize,
        sample: u64,
        cause: DiscontinuityCause,
    },
    /// A new or changed sequence header: from the next popped sample on, [`FlvDemuxer::tracks`]
    /// has `track` added or replaced (a live path starts a new initialization section).
    TrackChanged { track: usize, added: bool },
    /// End of sequence (AVC end of sequence, E-RTMP SequenceEnd) on `track`.
    SequenceEnd { track: usize },
    /// `onMetaData` arrived.
    Metadata(Metadata),
}

/// Push-based FLV / RTMP-message demuxer.
#[derive(Debug)]
pub struct FlvDemuxer {
    framer: file::Framer,
    stream: stream::Stream,
}

impl Default for FlvDemuxer {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvDemuxer {
    pub fn new() -> Self {
        Self::with_max_tag(DEFAULT_MAX_TAG)
    }

    /// A demuxer refusing tag bodies larger than `max_tag` bytes.
    pub fn with_max_tag(max_tag: usize) -> Self {
        FlvDemuxer {
            framer: file::Framer::new(max_tag),
            stream: stream::Stream::new(max_tag),
        }
    }

    /// Feeds FLV file bytes (any chunking). Complete tags are processed; a bad tag body is
    /// returned as [`FlvError::Tag`] after the tags before it (call `push(&[])` to go on with
    /// the bytes after it). A bad header or an oversized tag ends the stream: that error
    /// comes back from every later call.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FlvError> {
        self.framer.extend(data);
        match self.framer.header() {
            Ok(Some(flags)) => self.stream.set_header(flags),
            Ok(None) => {}
            Err(e) => return Err(self.framing_error(e)),
        }
        loop {
            match self.framer.next_tag() {
                Ok(Some(tag)) => self.stream.file_tag(tag)?,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.framing_error(e)),
            }
        }
    }

    /// One RTMP message payload: `tag_type` 8 (audio), 9 (video) or 18 (data, AMF0), the
    /// message's 32-bit millisecond timestamp (extended timestamps included; wrap-around is
    /// unwrapped) and its body. Other types are ignored. A bad body is an error; the demuxer
    /// stays usable.
    pub fn push_message(
        &mut self,
        tag_type: u8,
        timestamp: u32,
        body: &[u8],
    ) -> Result<(), FlvError> {
        self.stream.tag(tag_type, timestamp, body, None)
    }

    /// End of input: releases held samples and makes the demuxer ready with what it found.
    pub fn finish(&mut self) {
        self.stream.finish();
    }

    /// Tracks as indexed by `Sample::track`, as of the last popped sample. Empty until
    /// [`Self::ready`]. Grows when a track starts late; an entry is replaced when its sequence
    /// header changes ([`FlvEvent::TrackChanged`]).
    pub fn tracks(&self) -> &[TrackInfo] {
        self.stream.tracks()
    }

    /// True once every announced track (FLV header flags, `onMetaData` codec ids, tags seen)
    /// has its configuration, or 5 s of timestamps (or 32 MiB) went by, or after `finish`.
    pub fn ready(&self) -> bool {
        self.stream.ready()
    }

    /// Next sample (none before [`Self::ready`]).
    pub fn pop_sample(&mut self) -> Option<Sample> {
        self.stream.pop_sample()
    }

    /// Next event; poll after each [`Self::pop_sample`] when they matter.
    pub fn pop_event(&mut self) -> Option<FlvEvent> {
        self.stream.pop_event()
    }

    /// The last `onMetaData`, if any.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.stream.metadata()
    }

    fn framing_error(&self, e: file::FramingError) -> FlvError {
        match e {
            file::FramingError::NotFlv(msg) => FlvError::NotFlv(msg),
            file::FramingError::TooLarge { offset, size } => FlvError::TagTooLarge {
                tag: self.stream.tag_count(),
                offset,
                size,
                limit: self.stream.max_tag(),
            },
        }
    }
}

/// True if `head` starts with an FLV header ("FLV", version 1).
pub fn looks_like_flv(head: &[u8]) -> bool {
    head.starts_with(b"FLV\x01")
}
