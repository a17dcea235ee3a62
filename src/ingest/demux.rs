// SPDX-License-Identifier: MIT OR Apache-2.0
//! The live driver's demuxer: MPEG-TS bytes (UDP, TCP, stdin) or RTMP message payloads (FLV
//! tag bodies), behind one interface. The kind follows the input: the first RTMP message
//! switches a fresh driver to FLV, TS bytes switch it back.

use media::demux::flv::{FlvDemuxer, FlvError, FlvEvent};
use media::demux::ts::{DiscontinuityCause, TsDemuxer, TsEvent};
use media::sample::{Sample, TrackInfo};

/// What the driver acts on besides samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemuxEvent {
    /// The timeline of `track` breaks before the sample just popped.
    Discontinuity {
        track: usize,
        cause: DiscontinuityCause,
    },
    /// MPEG-TS packets were lost.
    PacketLoss { pid: u16, offset: u64 },
    /// Nothing for the driver (track changes show in `tracks()`, metadata, end of sequence).
    Other,
}

#[derive(Debug)]
pub enum LiveDemux {
    // Boxed: the two differ much in size.
    Ts(Box<TsDemuxer>),
    Flv(Box<FlvDemuxer>),
}

impl Default for LiveDemux {
    fn default() -> Self {
        LiveDemux::Ts(Box::default())
    }
}

impl LiveDemux {
    /// A fresh demuxer of the same kind (a new session).
    pub fn renew(&self) -> Self {
        match self {
            LiveDemux::Ts(_) => LiveDemux::Ts(Box::default()),
            LiveDemux::Flv(_) => LiveDemux::Flv(Box::default()),
        }
    }

    /// Feeds transport stream bytes (a FLV demuxer is replaced: the input changed kind).
    pub fn push_ts(&mut self, data: &[u8]) -> media::Result<()> {
        match self {
            LiveDemux::Ts(d) => d.push(data),
            LiveDemux::Flv(_) => {
                let mut d = Box::<TsDemuxer>::default();
                let result = d.push(data);
                *self = LiveDemux::Ts(d);
                result
            }
        }
    }

    /// Feeds one RTMP message payload (a TS demuxer is replaced: the input changed kind).
    pub fn push_message(
        &mut self,
        tag_type: u8,
        timestamp: u32,
        body: &[u8],
    ) -> Result<(), FlvError> {
        match self {
            LiveDemux::Flv(d) => d.push_message(tag_type, timestamp, body),
            LiveDemux::Ts(_) => {
                let mut d = Box::<FlvDemuxer>::default();
                let result = d.push_message(tag_type, timestamp, body);
                *self = LiveDemux::Flv(d);
                result
            }
        }
    }

    /// End of the session's input: held samples are released.
    pub fn finish(&mut self) {
        match self {
            LiveDemux::Ts(d) => {
                if let Err(e) = d.finish() {
                    tracing::debug!(error = %e, "demuxer finish");
                }
            }
            LiveDemux::Flv(d) => d.finish(),
        }
    }

    pub fn tracks(&self) -> &[TrackInfo] {
        match self {
            LiveDemux::Ts(d) => d.tracks(),
            LiveDemux::Flv(d) => d.tracks(),
        }
    }

    pub fn pop_sample(&mut self) -> Option<Sample> {
        match self {
            LiveDemux::Ts(d) => d.pop_sample(),
            LiveDemux::Flv(d) => d.pop_sample(),
        }
    }

    pub fn pop_event(&mut self) -> Option<DemuxEvent> {
        Some(match self {
            LiveDemux::Ts(d) => match d.pop_event()? {
                TsEvent::Discontinuity { track, cause, .. } => {
                    DemuxEvent::Discontinuity { track, cause }
                }
                TsEvent::PacketLoss { pid, offset } => DemuxEvent::PacketLoss { pid, offset },
            },
            LiveDemux::Flv(d) => match d.pop_event()? {
                FlvEvent::Discontinuity { track, cause, .. } => {
                    DemuxEvent::Discontinuity { track, cause }
                }
                _ => DemuxEvent::Other,
            },
        })
    }
}
