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
            self.read_chunk()?;
        }
    }
}
