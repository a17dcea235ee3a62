// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`TsFileDemuxer`]: the pull-based [`Demuxer`] over any reader, built on [`TsDemuxer`].

use std::io::{ErrorKind, Read};

use super::TsDemuxer;
use crate::sample::{Demuxer, Sample, TrackInfo};
use crate::{Error, Result};

/// Read size: 348 packets.
const CHUNK: usize = 188 * 348;

/// Reads a transport stream until its tracks are known, then streams samples. The track list
/// is fixed at `open`: streams that only appear later (a PMT change) are skipped with a warning.
#[derive(Debug)]
pub struct TsFileDemuxer<R: Read> {
    reader: R,
    demux: TsDemuxer,
    tracks: Vec<TrackInfo>,
    warned_late_track: bool,
    buf: Vec<u8>,
    offset: u64,
    eof: bool,
    /// Samples returned so far.
    yielded: u64,
    /// [`Self::with_checkpoints`]: input bytes between two checkpoints (0: none taken).
    checkpoint_every: u64,
    checkpoints: Vec<TsCheckpoint>,
}

/// The state of a [`TsFileDemuxer`] between two samples, to go on from there later
/// ([`TsFileDemuxer::resume`]): just-in-time packaging renders a segment of a TS file from
/// the last checkpoint before its first sample instead of demuxing the file from its start.
#[derive(Debug, Clone)]
pub struct TsCheckpoint {
    /// Input bytes read before it: where the reader given to `resume` must be.
    pub offset: u64,
    /// Samples returned before it.
    pub yielded: u64,
    demux: TsDemuxer,
    tracks: Vec<TrackInfo>,
    warned_late_track: bool,
}

impl TsCheckpoint {
    /// Heap bytes held, roughly (the demuxer's buffers and queued samples).
    pub fn heap_bytes(&self) -> usize {
        self.demux.heap_bytes() + self.tracks.len() * 256 + 256
    }
}

impl<R: Read> TsFileDemuxer<R> {
    /// Reads until the demuxer is ready (all streams configured, or the probe limit, or end of
    /// input). Errors if no PMT or no supported track is found.
    pub fn open(reader: R) -> Result<Self> {
        let mut this = TsFileDemuxer {
            reader,
            demux: TsDemuxer::new(),
            tracks: Vec::new(),
            warned_late_track: false,
            buf: vec![0; CHUNK],
            offset: 0,
            eof: false,
            yielded: 0,
            checkpoint_every: 0,
            checkpoints: Vec::new(),
        };
        while !this.demux.ready() && !this.eof {
            this.read_chunk()?;
        }
        if this.offset == 0 {
            return Err(Error::Empty);
        }
        if !this.demux.pmt_seen() {
            return Err(Error::ts(
                format!("no PAT/PMT found in {} bytes", this.offset),
                this.offset,
            ));
        }
        if this.demux.tracks().is_empty() {
            return Err(Error::NoTracks);
        }
        this.tracks = this.demux.tracks().to_vec();
        Ok(this)
    }

    /// Takes a [`TsCheckpoint`] now and then every `bytes` of input read
    /// ([`Self::take_checkpoints`]).
    pub fn with_checkpoints(mut self, bytes: u64) -> Self {
        self.checkpoint_every = bytes.max(1);
        self.checkpoint();
        self
    }

    /// The checkpoints taken so far, by input offset.
    pub fn take_checkpoints(&mut self) -> Vec<TsCheckpoint> {
        std::mem::take(&mut self.checkpoints)
    }

    /// Goes on from `checkpoint`, reading from `reader` (at `checkpoint.offset` of the input):
    /// the samples after the first `checkpoint.yielded`, as the demuxer it was taken from
    /// returned them.
    pub fn resume(reader: R, checkpoint: TsCheckpoint) -> Self {
        TsFileDemuxer {
            reader,
            demux: checkpoint.demux,
            tracks: checkpoint.tracks,
            warned_late_track: checkpoint.warned_late_track,
            buf: vec![0; CHUNK],
            offset: checkpoint.offset,
            eof: false,
            yielded: checkpoint.yielded,
            checkpoint_every: 0,
            checkpoints: Vec::new(),
        }
    }

    fn checkpoint(&mut self) {
        self.checkpoints.push(TsCheckpoint {
            offset: self.offset,
            yielded: self.yielded,
            demux: self.demux.clone(),
            tracks: self.tracks.clone(),
            warned_late_track: self.warned_late_track,
        });
    }

    /// The underlying push demuxer (for events such as discontinuities).
    pub fn demuxer_mut(&mut self) -> &mut TsDemuxer {
        &mut self.demux
    }

    fn read_chunk(&mut self) -> Result<()> {
        let n = loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::io(
                        format!("reading MPEG-TS input at byte offset {}", self.offset),
                        e,
                    ))
                }
            }
        };
        if n == 0 {
            self.eof = true;
            return self.demux.finish();
        }
        self.offset += n as u64;
        self.demux.push(self.buf.get(..n).unwrap_or(&[]))
    }
}

impl<R: Read> Demuxer for TsFileDemuxer<R> {
    fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    fn next_sample(&mut self) -> Result<Option<Sample>> {
        loop {
            while let Some(s) = self.demux.pop_sample() {
                if s.track < self.tracks.len() {
                    self.yielded += 1;
                    return Ok(Some(s));
                }
                if !self.warned_late_track {
                    self.warned_late_track = true;
                    tracing::warn!(
                        pid = self.demux.tracks().get(s.track).map(|t| t.id),
                        "MPEG-TS: stream appeared after the tracks were fixed; its samples are skipped"
                    );
                }
            }
            if self.eof {
                return Ok(None);
            }
            let last = self.checkpoints.last().map_or(0, |c| c.offset);
            if self.checkpoint_every > 0
                && self.offset >= last.saturating_add(self.checkpoint_every)
            {
                self.checkpoint();
            }
            self.read_chunk()?;
        }
    }
}
