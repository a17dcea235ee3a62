// SPDX-License-Identifier: MIT OR Apache-2.0
//! MPEG-TS demuxer (ISO/IEC 13818-1), push-based and sans-IO: feed bytes as they arrive (file
//! chunks, UDP datagrams, TCP reads), pop samples and events.
//!
//! Layers, one module each: packet sync (`sync`: 0x47 every 188 bytes, resync after
//! garbage), packet header and continuity counters (`packet`), PSI sections and PAT/PMT
//! (`psi`), PES reassembly (`pes`), codec framing (`video`, `audio`), 33-bit timestamp
//! unwrapping (`Unwrapper`, by the rules of [`crate::demux::clock`]), sample durations and
//! timeline breaks (`output`); `program` ties them together for the first program of the PAT.
//! [`TsFileDemuxer`] adapts it to the pull-based [`crate::sample::Demuxer`].
//!
//! Corrupt input is never fatal: bad packets, CRC and continuity errors are logged with
//! `tracing::warn!` and skipped. Samples follow the canonical forms of [`crate::sample`].

mod audio;
mod es;
mod file;
pub(in crate::demux) mod output;
mod packet;
mod pes;
mod program;
mod psi;
mod sync;
mod video;

#[cfg(test)]
mod tests;

pub use file::{TsCheckpoint, TsFileDemuxer};

use crate::sample::{Sample, TrackInfo};
use crate::{Error, Result};

use crate::demux::clock::rescale;

/// MPEG system clock for PTS/DTS (ISO/IEC 13818-1 §2.4.3.7).
const PTS_HZ: u32 = 90_000;

/// PTS/DTS unwrapping: 33 bits, modulo 2^33 (about 26.5 hours).
type Unwrapper = crate::demux::clock::Unwrapper<33>;

/// Why a track's timeline broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscontinuityCause {
    /// The DTS jumped more than 10 s forwards, or did not increase (e.g. jumped back).
    TimestampJump,
    /// An adaptation field discontinuity_indicator (ISO/IEC 13818-1 §2.4.3.5).
    Signalled,
    /// The PMT (or the PAT's program) changed.
    ProgramChange,
}

/// Something the caller may want to act on besides samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsEvent {
    /// `track`'s timeline breaks before sample number `sample` (0-based count of samples
    /// returned by `pop_sample`, all tracks together). Queued when that sample is popped, so
    /// checking `pop_event` after each `pop_sample` finds it right after its sample.
    Discontinuity {
        track: usize,
        sample: u64,
        cause: DiscontinuityCause,
    },
    /// Packets of `pid` were lost (continuity counter error at byte `offset`); the partial PES
    /// was dropped. The timeline continues with a gap.
    PacketLoss { pid: u16, offset: u64 },
}

/// Push-based MPEG-TS demuxer for the first program of the stream.
#[derive(Debug, Clone, Default)]
pub struct TsDemuxer {
    framer: sync::Framer,
    program: program::Program,
}

impl TsDemuxer {
    /// Heap bytes held by its buffers, roughly (a checkpoint's cost).
    pub fn heap_bytes(&self) -> usize {
        self.framer.heap_bytes() + self.program.heap_bytes()
    }

    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds any number of bytes (not necessarily packet-aligned). Errors only when the input
    /// is not a transport stream at all (no packet sync in the first MiB); corrupt packets,
    /// continuity errors and garbage are logged and skipped, resyncing on 0x47.
    pub fn push(&mut self, data: &[u8]) -> Result<()> {
        let program = &mut self.program;
        self.framer
            .push(data, |packet, offset| program.packet(packet, offset))
            .map_err(|e| self.framer_error(e))
    }

    /// End of input: completes open PES packets, releases held samples, and makes the
    /// demuxer ready with whatever tracks were found.
    pub fn finish(&mut self) -> Result<()> {
        let program = &mut self.program;
        let result = self
            .framer
            .finish(|packet, offset| program.packet(packet, offset))
            .map_err(|e| self.framer_error(e));
        self.program.finish();
        result
    }

    /// Tracks published so far, as indexed by `Sample::track`. Empty until [`Self::ready`];
    /// then one per configured elementary stream in PMT order. Streams configured later (slow
    /// starters, PMT changes) are appended.
    pub fn tracks(&self) -> &[TrackInfo] {
        self.program.tracks()
    }

    /// True once the PMT was seen and every supported stream in it has a codec configuration
    /// (first SPS+PPS(+VPS) for video, first frame header for audio), or 10 s of timestamps
    /// (or 64 MiB) went by while probing, or [`Self::finish`] was called.
    pub fn ready(&self) -> bool {
        self.program.ready()
    }

    /// Whether a PMT of the first program has been seen.
    pub fn pmt_seen(&self) -> bool {
        self.program.pmt_seen()
    }

    /// Next completed sample (in order of completion; none before [`Self::ready`]).
    pub fn pop_sample(&mut self) -> Option<Sample> {
        self.program.pop_sample()
    }

    /// Next event (discontinuities, packet loss). Only the latest 1024 unpolled events are
    /// kept, so poll after each [`Self::pop_sample`] when they matter.
    pub fn pop_event(&mut self) -> Option<TsEvent> {
        self.program.pop_event()
    }

    fn framer_error(&self, e: sync::FramerError) -> Error {
        match e {
            sync::FramerError::NotTs { skipped } => Error::ts(
                format!("no transport packet sync (0x47 every 188 bytes) in the first {skipped} bytes: not an MPEG-TS stream"),
                self.framer.offset(),
            ),
        }
    }
}

/// True if `head` starts like a transport stream: sync bytes at 0, 188 and 376 (as far as
/// `head` reaches, at least one whole packet), or the same for 192-byte M2TS packets.
pub fn looks_like_ts(head: &[u8]) -> bool {
    let check = |first: usize, stride: usize| {
        head.len() >= first + sync::PACKET_LEN
            && (0..3)
                .map(|k| first + k * stride)
                .take_while(|&p| p < head.len())
                .all(|p| head.get(p) == Some(&sync::SYNC))
    };
    check(0, sync::PACKET_LEN) || check(4, 192)
}
