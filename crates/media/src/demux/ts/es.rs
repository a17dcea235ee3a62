// SPDX-License-Identifier: MIT OR Apache-2.0
//! One elementary stream of the program: its PES reassembly, codec parser and sample output.

use std::collections::VecDeque;

use crate::sample::{Sample, TrackInfo};

use super::audio::{AudioEs, AudioFrame, AudioKind};
use super::output::{Queued, TrackOutput};
use super::packet::Continuity;
use super::pes::PesAssembler;
use super::psi::EsCodec;
use super::video::VideoEs;
use super::DiscontinuityCause;
use super::PTS_HZ;

#[derive(Debug, Clone)]
enum Parser {
    Video(VideoEs),
    Audio(AudioEs),
}

#[derive(Debug, Clone)]
pub(super) struct Es {
    pub pid: u16,
    pub codec: EsCodec,
    pub cc: Continuity,
    pub pes: PesAssembler,
    language: Option<String>,
    index: usize,
    parser: Parser,
    output: Option<TrackOutput>,
    /// Set once the codec configuration is known.
    pub info: Option<TrackInfo>,
    /// Index in the published track list.
    pub track: Option<usize>,
    /// No longer in the PMT.
    pub removed: bool,
    dropped_before_config: u64,
    dropped_untimed: u64,
}

impl Es {
    /// Heap bytes of its buffers: the PES being assembled, audio frames, the sample held.
    pub(super) fn heap_bytes(&self) -> usize {
        let parser = match &self.parser {
            Parser::Audio(a) => a.heap_bytes(),
            Parser::Video(_) => 0,
        };
        self.pes.heap_bytes() + parser + self.output.as_ref().map_or(0, TrackOutput::heap_bytes)
    }

    pub(super) fn new(index: usize, pid: u16, codec: EsCodec, language: Option<String>) -> Self {
        let parser = match codec {
            EsCodec::H264 => Parser::Video(VideoEs::new(false, pid)),
            EsCodec::Hevc => Parser::Video(VideoEs::new(true, pid)),
            EsCodec::AdtsAac => Parser::Audio(AudioEs::new(AudioKind::Adts, pid)),
            EsCodec::MpegAudio => Parser::Audio(AudioEs::new(AudioKind::Mpeg, pid)),
            EsCodec::Ac3Family => Parser::Audio(AudioEs::new(AudioKind::Ac3, pid)),
        };
        Es {
            pid,
            codec,
            cc: Continuity::default(),
            pes: PesAssembler::default(),
            language,
            index,
            parser,
            output: None,
            info: None,
            track: None,
            removed: false,
            dropped_before_config: 0,
            dropped_untimed: 0,
        }
    }

    /// The stream turned out unusable (e.g. MPEG audio layer II): don't wait for it.
    pub(super) fn rejected(&self) -> bool {
        matches!(&self.parser, Parser::Audio(a) if a.rejected().is_some())
    }

    /// Whether the stream still counts for `ready()`.
    pub(super) fn awaited(&self) -> bool {
        !self.removed && !self.rejected() && self.info.is_none()
    }

    /// Packets were lost: drop partial data.
    pub(super) fn on_loss(&mut self) {
        self.pes.drop_partial();
        if let Parser::Audio(a) = &mut self.parser {
            a.drop_buffer();
        }
    }

    /// The next sample starts a new timeline.
    pub(super) fn mark_break(&mut self, cause: DiscontinuityCause) {
        if let Some(out) = self.output.as_mut() {
            out.mark_break(cause);
        }
        if let Parser::Audio(a) = &mut self.parser {
            a.timeline_break();
        }
    }

    /// One PES payload with unwrapped 90 kHz timestamps. Returns true when this made the
    /// codec configuration known.
    pub(super) fn handle(
        &mut self,
        payload: &[u8],
        pts: Option<i64>,
        dts: Option<i64>,
        queue: &mut VecDeque<Queued>,
    ) -> bool {
        let had_config = self.info.is_some();
        match &mut self.parser {
            Parser::Video(v) => {
                let au = v.access_unit(payload);
                self.init_output();
                let Some(out) = self.output.as_mut() else {
                    self.dropped_before_config += 1;
                    return false;
                };
                let Some(pts) = pts else {
                    // §2.4.3.7: a PES without PTS continues the access unit of the last one.
                    if !out.extend_pending(&au.data, au.keyframe) {
                        self.dropped_untimed += 1;
                    }
                    return !had_config && self.info.is_some();
                };
                let dts = dts.unwrap_or(pts);
                let cts_offset = i32::try_from(pts.saturating_sub(dts)).unwrap_or_else(|_| {
                    tracing::warn!(
                        pid = self.pid,
                        pts,
                        dts,
                        "MPEG-TS: PTS far from DTS; CTS offset set to 0"
                    );
                    0
                });
                let sample = Sample {
                    track: 0,
                    dts,
                    cts_offset,
                    duration: 0,
                    keyframe: au.keyframe,
                    data: au.data.into(),
                };
                out.push(sample, queue);
            }
            Parser::Audio(a) => {
                let mut frames = Vec::new();
                a.push_pes(payload, pts, &mut frames);
                self.init_output();
                self.push_audio(frames, queue);
            }
        }
        !had_config && self.info.is_some()
    }

    /// End of input (or the stream left the PMT): flush everything held.
    pub(super) fn finish(&mut self, queue: &mut VecDeque<Queued>) {
        if let Parser::Audio(a) = &mut self.parser {
            let mut frames = Vec::new();
            a.finish(&mut frames);
            self.push_audio(frames, queue);
        }
        if let Some(out) = self.output.as_mut() {
            out.flush(queue);
        }
        if self.dropped_before_config > 0 {
            tracing::warn!(
                pid = self.pid,
                count = self.dropped_before_config,
                "MPEG-TS: video access units before the first SPS/PPS were dropped"
            );
            self.dropped_before_config = 0;
        }
        if self.dropped_untimed > 0 {
            tracing::warn!(
                pid = self.pid,
                count = self.dropped_untimed,
                "MPEG-TS: video PES without PTS and no access unit to continue were dropped"
            );
            self.dropped_untimed = 0;
        }
    }

    fn push_audio(&mut self, frames: Vec<AudioFrame>, queue: &mut VecDeque<Queued>) {
        let Some(out) = self.output.as_mut() else {
            return;
        };
        for f in frames {
            let sample = Sample {
                track: 0,
                dts: f.dts,
                cts_offset: 0,
                duration: f.duration,
                keyframe: true,
                data: f.data.into(),
            };
            out.push(sample, queue);
        }
    }

    /// Creates the track description and output once the parser knows the configuration.
    fn init_output(&mut self) {
        if self.output.is_some() {
            return;
        }
        let (info, hold, default_duration) = match &self.parser {
            Parser::Video(v) => {
                let Some(c) = v.config() else {
                    return;
                };
                let info = TrackInfo {
                    id: u32::from(self.pid),
                    config: c.config.clone(),
                    timescale: PTS_HZ,
                    width: c.width,
                    height: c.height,
                    sample_rate: 0,
                    channels: 0,
                    language: self.language.clone(),
                    duration: None,
                };
                // Without VUI timing, assume 25 fps until a duration is measured.
                (info, true, c.frame_duration.unwrap_or(PTS_HZ / 25))
            }
            Parser::Audio(a) => {
                let Some(c) = a.config() else {
                    return;
                };
                let info = TrackInfo {
                    id: u32::from(self.pid),
                    config: c.config.clone(),
                    timescale: c.sample_rate,
                    width: 0,
                    height: 0,
                    sample_rate: c.sample_rate,
                    channels: c.channels,
                    language: self.language.clone(),
                    duration: None,
                };
                (info, false, c.samples_per_frame)
            }
        };
        self.output = Some(TrackOutput::new(
            self.index,
            self.pid,
            info.timescale,
            hold,
            default_duration,
        ));
        self.info = Some(info);
    }
}
