// SPDX-License-Identifier: MIT OR Apache-2.0
//! The state behind [`super::FlvDemuxer`]: one video and one audio slot, the ordered output
//! queue (samples, track changes, events), and the probe that decides `ready()`.

use std::collections::VecDeque;

use bytes::Bytes;

use super::amf::{self, Metadata};
use super::audio::{self, AudioConfig, AudioPacket};
use super::file::{HeaderFlags, RawTag};
use super::track::{ms_to_ticks, Timed, Timeline, Unwrapper, VIDEO_HZ};
use super::video::{self, VideoConfig, VideoPacket};
use super::{FlvError, FlvEvent, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO};
use crate::sample::{CodecConfig, Sample, TrackInfo};

/// Announced tracks that never configure stop delaying `ready()` after this much timestamp
/// progress (ms) ...
const PROBE_MS: i64 = 5_000;
/// ... or this much tag payload.
const PROBE_BYTES: usize = 32 << 20;
const PROBE_TAG_COST: usize = 256;
/// Unpolled events kept at most (the oldest are dropped).
const MAX_EVENTS: usize = 1024;

#[derive(Debug)]
enum Item {
    Sample(Timed),
    Track {
        index: usize,
        info: TrackInfo,
        added: bool,
    },
    Event(FlvEvent),
}

/// One of the two tracks an FLV stream can have.
#[derive(Debug, Default)]
struct Slot {
    info: Option<TrackInfo>,
    index: Option<usize>,
    timeline: Option<Timeline>,
    /// Video: NAL length size of H.264/HEVC frames, and whether HEVC.
    length_size: Option<u8>,
    hevc: bool,
    /// Audio: ticks per frame.
    samples_per_frame: u32,
    dropped: u64,
}

#[derive(Debug)]
pub(super) struct Stream {
    max_tag: usize,
    tags: u64,
    unwrap: Unwrapper,
    video: Slot,
    audio: Slot,
    expect_video: bool,
    expect_audio: bool,
    metadata: Option<Metadata>,
    queue: VecDeque<Item>,
    events: VecDeque<FlvEvent>,
    published: Vec<TrackInfo>,
    next_index: usize,
    popped: u64,
    ready: bool,
    probe_range: Option<(i64, i64)>,
    probe_bytes: usize,
}

type TagResult = Result<(), String>;

impl Stream {
    pub(super) fn new(max_tag: usize) -> Self {
        Stream {
            max_tag,
            tags: 0,
            unwrap: Unwrapper::default(),
            video: Slot::default(),
            audio: Slot::default(),
            expect_video: false,
            expect_audio: false,
            metadata: None,
            queue: VecDeque::new(),
            events: VecDeque::new(),
            published: Vec::new(),
            next_index: 0,
            popped: 0,
            ready: false,
            probe_range: None,
            probe_bytes: 0,
        }
    }

    pub(super) fn tag_count(&self) -> u64 {
        self.tags
    }

    pub(super) fn max_tag(&self) -> usize {
        self.max_tag
    }

    pub(super) fn tracks(&self) -> &[TrackInfo] {
        &self.published
    }

    pub(super) fn ready(&self) -> bool {
        self.ready
    }

    pub(super) fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    pub(super) fn set_header(&mut self, flags: HeaderFlags) {
        self.expect_audio |= flags.audio;
        self.expect_video |= flags.video;
    }

    pub(super) fn file_tag(&mut self, tag: RawTag) -> Result<(), FlvError> {
        if let Some(prev) = tag.bad_prev_size {
            tracing::warn!(
                offset = tag.offset,
                prev,
                size = tag.body.len(),
                "FLV: PreviousTagSize does not match the tag; continuing"
            );
        }
        if tag.filter {
            let index = self.tags;
            self.tags += 1;
            return Err(FlvError::Tag {
                tag: index,
                offset: Some(tag.offset),
                kind: kind_name(tag.tag_type),
                timestamp: tag.timestamp,
                msg: "encrypted (Filter bit set) tags are not supported".into(),
            });
        }
        self.tag(tag.tag_type, tag.timestamp, &tag.body, Some(tag.offset))
    }

    /// One tag / RTMP message body.
    pub(super) fn tag(
        &mut self,
        tag_type: u8,
        timestamp: u32,
        body: &[u8],
        offset: Option<u64>,
    ) -> Result<(), FlvError> {
        let index = self.tags;
        self.tags += 1;
        let result = if body.len() > self.max_tag {
            Err(format!(
                "{}-byte body exceeds the {}-byte limit",
                body.len(),
                self.max_tag
            ))
        } else {
            match tag_type {
                TAG_AUDIO | TAG_VIDEO => {
                    let ms = self.unwrap.unwrap(timestamp.into());
                    self.probe(ms, body.len());
                    if tag_type == TAG_VIDEO {
                        self.video_tag(ms, body)
                    } else {
                        self.audio_tag(ms, body)
                    }
                }
                TAG_SCRIPT => self.script_tag(body),
                other => {
                    tracing::debug!(tag_type = other, "FLV: tag type ignored");
                    Ok(())
                }
            }
        };
        self.update_ready();
        result.map_err(|msg| FlvError::Tag {
            tag: index,
            offset,
            kind: kind_name(tag_type),
            timestamp,
            msg,
        })
    }

    fn probe(&mut self, ms: i64, bytes: usize) {
        if self.ready {
            return;
        }
        let (lo, hi) = self.probe_range.get_or_insert((ms, ms));
        *lo = (*lo).min(ms);
        *hi = (*hi).max(ms);
        // Tiny tags count as PROBE_TAG_COST bytes: queued items cost memory beyond their body.
        self.probe_bytes = self.probe_bytes.saturating_add(bytes.max(PROBE_TAG_COST));
    }

    fn video_tag(&mut self, ms: i64, body: &[u8]) -> TagResult {
        self.expect_video = true;
        match video::parse(body)? {
            VideoPacket::Config(c) => self.video_config(c),
            VideoPacket::Frame {
                data,
                cts_ms,
                keyframe,
            } => self.video_frame(ms, data, cts_ms, keyframe),
            VideoPacket::End => self.sequence_end(true),
            VideoPacket::Skip(why) => {
                tracing::debug!(why, "FLV: video tag skipped");
                Ok(())
            }
        }
    }

    fn video_frame(&mut self, ms: i64, data: Bytes, cts_ms: i32, keyframe: bool) -> TagResult {
        let slot = &mut self.video;
        let (Some(index), Some(timeline)) = (slot.index, slot.timeline.as_mut()) else {
            if slot.dropped == 0 {
                tracing::warn!("FLV: video frames before the sequence header are dropped");
            }
            slot.dropped += 1;
            return Ok(());
        };
        let data = match slot.length_size {
            Some(size) => video::canonical_nals(&data, size, slot.hevc)?,
            None => data,
        };
        if data.is_empty() {
            return Ok(());
        }
        let sample = Sample {
            track: index,
            dts: ms_to_ticks(ms, VIDEO_HZ),
            // SI24 ms x 90 stays far inside i32.
            cts_offset: cts_ms.saturating_mul(90),
            duration: 0,
            keyframe,
            data,
        };
        let mut out = Vec::new();
        timeline.push(sample, &mut out);
        self.queue.extend(out.into_iter().map(Item::Sample));
        Ok(())
    }

    fn video_config(&mut self, c: VideoConfig) -> TagResult {
        let meta = self.metadata.as_ref();
        let from_meta = |v: Option<f64>| {
            v.filter(|x| x.is_finite() && *x >= 1.0 && *x <= 65_535.0)
                .map_or(0, |x| x as u32)
        };
        let (width, height) = if c.width == 0 {
            (
                from_meta(meta.and_then(|m| m.width)),
                from_meta(meta.and_then(|m| m.height)),
            )
        } else {
            (c.width, c.height)
        };
        let fps = c
            .frame_rate
            .or(meta.and_then(|m| m.framerate))
            .filter(|f| f.is_finite() && *f >= 1.0 && *f <= 1000.0);
        let info = TrackInfo {
            id: u32::from(TAG_VIDEO),
            config: c.config,
            timescale: VIDEO_HZ,
            width,
            height,
            sample_rate: 0,
            channels: 0,
            language: None,
            duration: None,
        };
        let default_duration =
            fps.map_or(VIDEO_HZ / 25, |f| (f64::from(VIDEO_HZ) / f).round() as u32);
        self.video.hevc = matches!(info.config, CodecConfig::Hevc { .. });
        self.video.length_size = c.length_size;
        self.configure(true, info, Timeline::new(VIDEO_HZ, true, default_duration));
        Ok(())
    }

    fn audio_tag(&mut self, ms: i64, body: &[u8]) -> TagResult {
        self.expect_audio = true;
        match audio::parse(body)? {
            AudioPacket::Config(c) => {
                self.audio_config(c);
                Ok(())
            }
            AudioPacket::Frame(data) => {
                let opus = matches!(
                    self.audio.info.as_ref().map(|i| &i.config),
                    Some(CodecConfig::Opus { .. })
                );
                let samples = if opus {
                    audio::opus_packet_samples(&data).ok_or("Opus packet with a bad TOC")?
                } else {
                    self.audio.samples_per_frame
                };
                self.audio_frames(ms, vec![(data, samples)]);
                Ok(())
            }
            AudioPacket::Framed(kind, data) => {
                let c = audio::framed_config(kind, &data)?;
                let same = self.audio.info.as_ref().is_some_and(|i| {
                    i.config == c.config
                        && i.sample_rate == c.sample_rate
                        && i.channels == c.channels
                });
                if !same {
                    self.audio_config(c);
                }
                let frames = audio::split_frames(kind, &data)?;
                self.audio_frames(ms, frames);
                Ok(())
            }
            AudioPacket::End => self.sequence_end(false),
            AudioPacket::Skip(why) => {
                tracing::debug!(why, "FLV: audio tag skipped");
                Ok(())
            }
        }
    }

    fn audio_frames(&mut self, ms: i64, frames: Vec<(Bytes, u32)>) {
        let slot = &mut self.audio;
        let (Some(index), Some(timeline)) = (slot.index, slot.timeline.as_mut()) else {
            if slot.dropped == 0 {
                tracing::warn!("FLV: audio frames before the sequence header are dropped");
            }
            slot.dropped += 1;
            return;
        };
        let mut out = Vec::new();
        let mut next = None;
        for (data, samples) in frames {
            if data.is_empty() {
                continue;
            }
            let dts = next.unwrap_or_else(|| timeline.audio_dts(ms, samples));
            next = Some(dts.saturating_add(i64::from(samples)));
            let sample = Sample {
                track: index,
                dts,
                cts_offset: 0,
                duration: samples,
                keyframe: true,
                data,
            };
            timeline.push(sample, &mut out);
        }
        self.queue.extend(out.into_iter().map(Item::Sample));
    }

    fn audio_config(&mut self, c: AudioConfig) {
        let info = TrackInfo {
            id: u32::from(TAG_AUDIO),
            config: c.config,
            timescale: c.sample_rate,
            width: 0,
            height: 0,
            sample_rate: c.sample_rate,
            channels: c.channels,
            language: None,
            duration: None,
        };
        self.audio.samples_per_frame = c.samples_per_frame;
        let timeline = Timeline::new(c.sample_rate, false, c.samples_per_frame);
        self.configure(false, info, timeline);
    }

    /// A (new) sequence header. Resent identical headers change nothing.
    fn configure(&mut self, video: bool, info: TrackInfo, timeline: Timeline) {
        let slot = if video {
            &mut self.video
        } else {
            &mut self.audio
        };
        if slot.info.as_ref() == Some(&info) {
            return;
        }
        let mut out = Vec::new();
        if let Some(old) = slot.timeline.as_mut() {
            old.flush(&mut out);
        }
        let (index, added) = match slot.index {
            Some(i) => (i, false),
            None => {
                let i = self.next_index;
                self.next_index += 1;
                (i, true)
            }
        };
        if !added {
            tracing::info!(
                track = index,
                codec = info.config.name(),
                "FLV: sequence header changed"
            );
        }
        slot.index = Some(index);
        slot.info = Some(info.clone());
        slot.timeline = Some(timeline);
        self.queue.extend(out.into_iter().map(Item::Sample));
        self.queue.push_back(Item::Track { index, info, added });
    }

    fn sequence_end(&mut self, video: bool) -> TagResult {
        let slot = if video {
            &mut self.video
        } else {
            &mut self.audio
        };
        let (Some(index), Some(timeline)) = (slot.index, slot.timeline.as_mut()) else {
            return Ok(());
        };
        let mut out = Vec::new();
        timeline.flush(&mut out);
        self.queue.extend(out.into_iter().map(Item::Sample));
        self.queue
            .push_back(Item::Event(FlvEvent::SequenceEnd { track: index }));
        Ok(())
    }

    fn script_tag(&mut self, body: &[u8]) -> TagResult {
        let Some(meta) = amf::parse_script(body)? else {
            return Ok(());
        };
        self.expect_video |= meta.announces_video();
        self.expect_audio |= meta.announces_audio();
        self.metadata = Some(meta.clone());
        if !self.ready {
            // Before ready nothing is popped: keep only the latest, so a publisher sending
            // metadata and no media cannot grow the queue.
            self.queue
                .retain(|i| !matches!(i, Item::Event(FlvEvent::Metadata(_))));
        }
        self.queue.push_back(Item::Event(FlvEvent::Metadata(meta)));
        Ok(())
    }

    pub(super) fn finish(&mut self) {
        for video in [true, false] {
            let slot = if video {
                &mut self.video
            } else {
                &mut self.audio
            };
            let mut out = Vec::new();
            if let Some(t) = slot.timeline.as_mut() {
                t.flush(&mut out);
            }
            self.queue.extend(out.into_iter().map(Item::Sample));
        }
        self.become_ready();
    }

    fn update_ready(&mut self) {
        if self.ready {
            return;
        }
        let (v, a) = (self.video.info.is_some(), self.audio.info.is_some());
        let all = match (v, a) {
            (true, true) => true,
            (true, false) => !self.expect_audio,
            (false, true) => !self.expect_video,
            (false, false) => false,
        };
        let probed = (v || a)
            && (self.probe_range.is_some_and(|(lo, hi)| hi - lo > PROBE_MS)
                || self.probe_bytes > PROBE_BYTES);
        if all || probed {
            self.become_ready();
        }
    }

    /// The tracks configured by now form the initial track list (so a sequence header that
    /// comes a few tags after the first frames does not change the tracks right away).
    fn become_ready(&mut self) {
        if self.ready {
            return;
        }
        self.ready = true;
        let mut rest = VecDeque::with_capacity(self.queue.len());
        for item in self.queue.drain(..) {
            match item {
                Item::Track {
                    index,
                    info,
                    added: true,
                } if index == self.published.len() => {
                    self.published.push(info);
                    self.events.push_back(FlvEvent::TrackChanged {
                        track: index,
                        added: true,
                    });
                }
                other => rest.push_back(other),
            }
        }
        self.queue = rest;
    }

    fn push_event(&mut self, event: FlvEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Applies queued track changes and events up to the next sample.
    fn advance(&mut self) -> Option<Timed> {
        if !self.ready {
            return None;
        }
        while let Some(item) = self.queue.pop_front() {
            match item {
                Item::Sample(s) => return Some(s),
                Item::Track { index, info, added } => {
                    match self.published.get_mut(index) {
                        Some(slot) => *slot = info,
                        None => self.published.push(info),
                    }
                    self.push_event(FlvEvent::TrackChanged {
                        track: index,
                        added,
                    });
                }
                Item::Event(e) => self.push_event(e),
            }
        }
        None
    }

    pub(super) fn pop_sample(&mut self) -> Option<Sample> {
        let timed = self.advance()?;
        if let Some(cause) = timed.discontinuity {
            self.push_event(FlvEvent::Discontinuity {
                track: timed.sample.track,
                sample: self.popped,
                cause,
            });
        }
        self.popped += 1;
        Some(timed.sample)
    }

    pub(super) fn pop_event(&mut self) -> Option<FlvEvent> {
        if self.events.is_empty()
            && self
                .queue
                .front()
                .is_some_and(|i| !matches!(i, Item::Sample(_)))
        {
            if let Some(s) = self.advance() {
                self.queue.push_front(Item::Sample(s));
            }
        }
        self.events.pop_front()
    }
}

fn kind_name(tag_type: u8) -> &'static str {
    match tag_type {
        TAG_AUDIO => "audio",
        TAG_VIDEO => "video",
        TAG_SCRIPT => "script data",
        _ => "unknown tag type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing is popped before ready, so what waits must stay bounded: repeated metadata is
    /// kept once, and tiny tags count towards the probe budget.
    #[test]
    fn queue_before_ready_is_bounded() {
        let mut s = Stream::new(1 << 20);
        let mut meta = vec![0x02, 0, 10];
        meta.extend_from_slice(b"onMetaData");
        meta.extend_from_slice(&[0x03, 0, 0, 9]);
        for _ in 0..1000 {
            s.tag(TAG_SCRIPT, 0, &meta, None).unwrap();
        }
        assert!(!s.ready());
        assert_eq!(s.queue.len(), 1);
        // AAC configured, video announced but never configured, timestamps stuck at 0
        s.set_header(HeaderFlags {
            audio: true,
            video: true,
        });
        s.tag(TAG_AUDIO, 0, &[0xAF, 0, 0x12, 0x10], None).unwrap();
        let mut n = 0;
        while !s.ready() {
            s.tag(TAG_AUDIO, 0, &[0xAF, 1, 1], None).unwrap();
            n += 1;
        }
        assert_eq!(n, PROBE_BYTES / PROBE_TAG_COST);
    }
}
