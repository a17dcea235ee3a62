// SPDX-License-Identifier: MIT OR Apache-2.0
//! Ingest of [`LiveStream`]: samples → cuts → muxed parts and segments → published playlists,
//! plus discontinuities (encoder reconnects, timestamp jumps, track changes) and recovery from
//! muxer errors.

use std::time::SystemTime;

use bytes::Bytes;

use super::cut::Cut;
use super::pdt::extinf;
use super::probe::{target_for, Verdict};
use super::window::{Entry, RenderParams};
use super::{check_tracks, Building, LiveStream, Muxer, Output, PlaylistState, WindowKind};
use crate::codec::codec_string;
use crate::mux::{KeyframeRange, SegmentMuxer};
use crate::playlist::{ByteRange, OpenSegment, Part, PlaylistType, ServerControl};
use crate::sample::{Sample, TrackInfo};
use crate::segmenter::Segment;
use crate::{Error, Result};

fn segment_name(rendition: &str, run: &str, msn: u64, ext: &str) -> String {
    format!("{rendition}_{run}_{msn:06}.{ext}")
}

fn part_name(rendition: &str, run: &str, msn: u64, part: usize) -> String {
    format!("{rendition}_{run}_{msn:06}.{part}.m4s")
}

/// Name of the part `b` is writing now (LL-HLS).
fn open_part_name(config: &super::LiveConfig, b: &Building) -> String {
    part_name(&config.rendition, &config.run_id, b.msn, b.parts.len())
}

impl LiveStream {
    /// Feeds one sample that arrived at wall-clock `now`. Returns the store operations to
    /// perform, in order.
    ///
    /// On a muxer error the segment in progress is closed with the parts already published
    /// (or dropped, without LL-HLS), the next segment starts with EXT-X-DISCONTINUITY at the
    /// next keyframe, and the outputs produced meanwhile come with the next call.
    pub fn push(&mut self, sample: Sample, now: SystemTime) -> Result<Vec<Output>> {
        let index = self.pushed;
        self.pushed = self.pushed.saturating_add(1);
        if self.ended {
            return Err(Error::Playlist(format!(
                "{}: sample {index} pushed after the end of the stream",
                self.config.rendition
            )));
        }
        if sample.track >= self.tracks.len() {
            return Err(Error::BadSample {
                track: u32::try_from(sample.track).unwrap_or(u32::MAX),
                sample: index,
                dts: sample.dts,
                msg: format!(
                    "track index {} but the live stream has {} tracks",
                    sample.track,
                    self.tracks.len()
                ),
            });
        }
        let mut out = std::mem::take(&mut self.pending);
        let shared = self.shared_target.is_some();
        let batch = match self.probe.as_mut() {
            Some(probe) => {
                let random_access = self.cutter.random_access(&sample);
                match probe.hold(index, sample, random_access, now) {
                    // Another rendition's target: no need to measure.
                    Verdict::Wait if shared => self.end_probe(0.0),
                    Verdict::Wait => return Ok(out),
                    Verdict::Done(interval) => self.end_probe(interval),
                }
            }
            None => vec![(index, sample, now)],
        };
        if let Err(e) = self.ingest_all(batch, &mut out) {
            self.pending = out;
            return Err(e);
        }
        self.collect_deletions(now, &mut out);
        Ok(out)
    }

    /// Ingests samples in order; on an error, what [`LiveStream::push`] documents (the
    /// samples after the failing one are lost).
    fn ingest_all(
        &mut self,
        batch: Vec<(u64, Sample, SystemTime)>,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        for (index, sample, now) in batch {
            if let Err(e) = self.ingest(sample, index, now, out) {
                self.abandon(now, out);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Ends the probe (see [`super::probe`]): fixes EXT-X-TARGETDURATION for segments of at
    /// least `interval` seconds, before anything is published, and returns the held samples.
    fn end_probe(&mut self, interval: f64) -> Vec<(u64, Sample, SystemTime)> {
        let Some(probe) = self.probe.take() else {
            return Vec::new();
        };
        let target = match self.shared_target {
            Some(shared) => shared,
            None => target_for(self.target, interval),
        };
        if target != self.target {
            // RFC 8216bis 4.4.3.1: every EXTINF rounded ≤ TARGETDURATION.
            tracing::warn!(
                rendition = %self.config.rendition,
                keyframe_interval = interval,
                segment_duration = self.config.segment_duration,
                target,
                shared = self.shared_target.is_some(),
                "the input's keyframe interval is longer than the segment duration: \
                 segments last one interval and EXT-X-TARGETDURATION is raised to cover it"
            );
            self.target = target;
            let nominal = self.config.segment_duration.min(target as f64);
            self.cutter = super::cut::Cutter::new(
                &self.tracks,
                nominal,
                target,
                self.config.part_duration,
                self.config.aligned_cuts,
            );
            // Nothing was published yet: the window is empty.
            self.window = super::window::Window::new(self.config.kind, self.config.window, target);
        }
        probe.into_held()
    }

    /// Ends the probe with what it holds (the input ends or breaks before a second keyframe)
    /// and ingests the held samples.
    fn flush_probe(&mut self, out: &mut Vec<Output>) -> Result<()> {
        let Some(interval) = self.probe.as_ref().map(|p| p.held_interval()) else {
            return Ok(());
        };
        let batch = self.end_probe(interval);
        self.ingest_all(batch, out)
    }

    /// The input breaks (encoder reconnect, timestamp jump): the segment in progress ends
    /// now, the next one starts with EXT-X-DISCONTINUITY (RFC 8216bis 6.2.1) on a keyframe,
    /// and the muxer starts afresh.
    pub fn discontinuity(&mut self, now: SystemTime) -> Result<Vec<Output>> {
        let mut out = std::mem::take(&mut self.pending);
        if self.ended {
            return Ok(out);
        }
        if let Err(e) = self.flush_probe(&mut out) {
            self.pending = out;
            return Err(e);
        }
        if let Err(e) = self.break_stream(now, &mut out) {
            self.abandon(now, &mut out);
            self.pending = out;
            return Err(e);
        }
        self.collect_deletions(now, &mut out);
        Ok(out)
    }

    /// The input's tracks changed (new codec parameters after a reconnect): a discontinuity,
    /// then a new initialization section (`…_init{k}.mp4`, written before the next segment
    /// with an EXT-X-MAP change) and a new master playlist after the next segment. Nothing
    /// changes when the new tracks are rejected.
    pub fn set_tracks(&mut self, tracks: Vec<TrackInfo>, now: SystemTime) -> Result<Vec<Output>> {
        check_tracks(&self.config, &tracks)?;
        let codecs = tracks
            .iter()
            .map(|t| codec_string(&t.config))
            .collect::<Result<Vec<_>>>()?;
        let muxer = Muxer::new(self.config.format, &tracks)?;
        let out = self.discontinuity(now)?;
        let nominal = self.config.segment_duration.min(self.target as f64);
        self.cutter = super::cut::Cutter::new(
            &tracks,
            nominal,
            self.target,
            self.config.part_duration,
            self.config.aligned_cuts,
        );
        self.tracks = tracks;
        self.codecs = codecs;
        self.muxer = muxer;
        self.generation = self.generation.saturating_add(1);
        self.init = self.make_init()?;
        self.init_written = false;
        self.master_written = false;
        Ok(out)
    }

    /// Ends the stream: closes the segment in progress and publishes the playlist with
    /// EXT-X-ENDLIST (RFC 8216bis 6.2.1). A last segment that cannot be muxed is left out
    /// (and logged). Later calls return nothing new.
    pub fn end(&mut self, now: SystemTime) -> Vec<Output> {
        let mut out = std::mem::take(&mut self.pending);
        if self.ended {
            return out;
        }
        if let Err(e) = self.flush_probe(&mut out) {
            tracing::warn!(
                rendition = %self.config.rendition,
                error = %e,
                "the first samples could not be packaged"
            );
        }
        if let Some((end, part)) = self.cutter.close() {
            if let Err(e) = self.finish_segment(end, part, now, &mut out) {
                tracing::warn!(
                    rendition = %self.config.rendition,
                    error = %e,
                    "the last segment could not be written; the playlist ends without it"
                );
                self.abandon(now, &mut out);
            }
        }
        self.ended = true;
        self.publish(now, &mut out);
        self.collect_deletions(now, &mut out);
        out
    }

    /// Deletions whose time has come (and outputs left over from an error). Call it at
    /// [`LiveStream::next_deadline`] when no samples arrive.
    pub fn poll(&mut self, now: SystemTime) -> Vec<Output> {
        let mut out = std::mem::take(&mut self.pending);
        self.collect_deletions(now, &mut out);
        out
    }

    fn ingest(
        &mut self,
        sample: Sample,
        index: u64,
        now: SystemTime,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        let is_main = sample.track == self.cutter.main_track();
        if is_main {
            let end = sample.dts.saturating_add(i64::from(sample.duration));
            if let Some((prev_dts, prev_end)) = self.last_main {
                let max_gap = i64::try_from(self.target)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(i64::from(self.cutter.timescale()));
                let jump = sample.dts <= prev_dts || sample.dts.saturating_sub(prev_end) > max_gap;
                if jump && self.cutter.in_segment() {
                    tracing::warn!(
                        rendition = %self.config.rendition,
                        sample = index,
                        dts = sample.dts,
                        previous = prev_dts,
                        "main track timestamps jumped; treating it as a discontinuity"
                    );
                    self.break_stream(now, out)?;
                }
            }
            self.last_main = Some((sample.dts, end));
        }
        let random_access = self.cutter.random_access(&sample);
        match self.cutter.decide(&sample) {
            Cut::Drop => return Ok(()),
            Cut::Append => {}
            Cut::NewPart { part } => {
                self.finish_part(part, out)?;
                if let Some(b) = self.building.as_mut() {
                    b.part_independent = random_access;
                }
                self.publish(now, out);
            }
            Cut::Overrun => {
                self.overrun(index, &sample, now, out)?;
                return Ok(());
            }
            Cut::NewSegment { end, part } => {
                if let Some(end) = end {
                    self.finish_segment(end, part, now, out)?;
                }
                self.open_segment(&sample, now, out);
                if end.is_some() {
                    self.publish(now, out);
                }
            }
        }
        let low_latency = self.low_latency();
        let min_chunk = self.min_chunk_ticks();
        let mut chunk_due = false;
        if let Some(b) = self.building.as_mut() {
            if is_main {
                b.main_frames = b.main_frames.saturating_add(1);
                b.chunk_ticks = b.chunk_ticks.saturating_add(i64::from(sample.duration));
                chunk_due = low_latency && b.chunk_ticks >= min_chunk;
            }
            b.samples.push(sample);
        }
        if chunk_due {
            self.flush_chunk(out)?;
        }
        Ok(())
    }

    /// Shortest CMAF chunk of an LL-HLS part, in main-track ticks: every video frame up to
    /// 40 fps is its own chunk; faster video and audio-only streams group a few frames, so
    /// the `moof` overhead stays small.
    fn min_chunk_ticks(&self) -> i64 {
        i64::from(self.cutter.timescale() / 40).max(1)
    }

    /// LL-HLS: muxes the samples of the part so far into one more chunk (`moof`+`mdat`,
    /// ISO/IEC 23000-19 CMAF chunk) and hands it out at once, so that a request for the
    /// preload-hinted part can be answered while the part is still being written
    /// (RFC 8216bis 6.2.6).
    fn flush_chunk(&mut self, out: &mut Vec<Output>) -> Result<()> {
        let (Some(b), Muxer::Fmp4(m)) = (self.building.as_mut(), &mut self.muxer) else {
            return Ok(());
        };
        b.chunk_ticks = 0;
        if b.samples.is_empty() {
            return Ok(());
        }
        let samples = std::mem::take(&mut b.samples);
        let len: usize = samples.iter().map(|s| s.data.len()).sum();
        let mut chunk = Vec::with_capacity(len.saturating_add(256));
        m.write_fragment(&samples, &mut chunk)?;
        if b.key.is_none() {
            // The segment's first keyframe (it opens the first chunk): its I-frame entry.
            let at = (b.bytes.len() + b.part_bytes.len()) as u64;
            b.key = m.keyframes().first().map(|k| KeyframeRange {
                offset: at.saturating_add(k.offset),
                ..*k
            });
        }
        b.part_bytes.extend_from_slice(&chunk);
        out.push(Output::Chunk {
            name: open_part_name(&self.config, b),
            bytes: Bytes::from(chunk),
        });
        Ok(())
    }

    fn open_segment(&mut self, first: &Sample, now: SystemTime, out: &mut Vec<Output>) {
        if !self.init_written {
            if let Some((name, bytes)) = &self.init {
                out.push(Output::Put {
                    name: name.clone(),
                    bytes: bytes.clone(),
                });
            }
            self.init_written = true;
        }
        let mut bytes = Vec::new();
        if let (Muxer::Fmp4(m), true) = (&self.muxer, self.low_latency()) {
            m.write_styp(&mut bytes);
        }
        let discontinuity = std::mem::take(&mut self.discontinuity_next);
        self.building = Some(Building {
            msn: self.window.next_msn(),
            // RFC 8216bis 4.4.4.6: the wall clock at ingest of the timeline's first sample,
            // then advancing with media time (see `PdtClock`).
            pdt: self.pdt_clock.segment(self.media_end, now, discontinuity),
            discontinuity,
            init: self.init.as_ref().map(|(name, _)| name.clone()),
            start_dts: first.dts,
            start_time: self.media_end,
            samples: Vec::new(),
            part_bytes: Vec::new(),
            chunk_ticks: 0,
            bytes,
            parts: Vec::new(),
            part_independent: true,
            main_frames: 0,
            key: None,
        });
    }

    /// Ends the current part (LL-HLS): its last chunk, then the whole part is put.
    fn finish_part(&mut self, ticks: i64, out: &mut Vec<Output>) -> Result<()> {
        if !self.low_latency() {
            return Ok(());
        }
        self.flush_chunk(out)?;
        let secs = ticks.max(0) as f64 / f64::from(self.cutter.timescale());
        let Some(b) = self.building.as_mut() else {
            return Ok(());
        };
        if b.part_bytes.is_empty() {
            return Ok(());
        }
        let frag = std::mem::take(&mut b.part_bytes);
        let name = open_part_name(&self.config, b);
        b.bytes.extend_from_slice(&frag);
        b.parts.push(Part {
            uri: name.clone(),
            duration: secs,
            independent: b.part_independent,
        });
        out.push(Output::Put {
            name,
            bytes: Bytes::from(frag),
        });
        Ok(())
    }

    /// Ends the segment in progress at `end_dts`: its last part, then the whole segment.
    fn finish_segment(
        &mut self,
        end_dts: i64,
        last_part: i64,
        now: SystemTime,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        self.finish_part(last_part, out)?;
        let Some(mut b) = self.building.take() else {
            return Ok(());
        };
        let timescale = self.cutter.timescale();
        let ticks = end_dts.saturating_sub(b.start_dts).max(0);
        let duration = ticks as f64 / f64::from(timescale);
        let bytes = if self.low_latency() {
            std::mem::take(&mut b.bytes)
        } else {
            let segment = Segment {
                index: b.msn,
                samples: std::mem::take(&mut b.samples),
                start: b.start_dts,
                duration: ticks as u64,
                timescale,
            };
            let len = segment.payload_len();
            let mut buf = Vec::with_capacity(len.saturating_add(len / 8));
            let muxer: &mut dyn SegmentMuxer = match &mut self.muxer {
                Muxer::Ts(m) => m,
                Muxer::Fmp4(m) => m,
            };
            muxer.write_segment(&segment, &mut buf)?;
            // The segment opens with a keyframe: the first one the muxer lists.
            b.key = muxer.keyframes().first().copied();
            buf
        };
        self.complete(b, duration, bytes, now, out);
        Ok(())
    }

    /// Puts a finished segment and adds it to the window (and writes the master playlist
    /// after the first one).
    fn complete(
        &mut self,
        b: Building,
        duration: f64,
        bytes: Vec<u8>,
        now: SystemTime,
        out: &mut Vec<Output>,
    ) {
        let name = segment_name(
            &self.config.rendition,
            &self.config.run_id,
            b.msn,
            self.muxer.extension(),
        );
        let size = bytes.len() as u64;
        out.push(Output::Put {
            name: name.clone(),
            bytes: Bytes::from(bytes),
        });
        // Within the segment (an abandoned LL-HLS segment ends before a part it had begun).
        let iframe = b
            .key
            .filter(|k| k.offset.saturating_add(k.length) <= size)
            .map(|k| ByteRange {
                length: k.length,
                offset: k.offset,
            });
        self.measure_segment(size, iframe.map(|r| r.length), duration, b.main_frames, out);
        self.last_parts = b.parts.len() as u64;
        let end = b.start_time + duration;
        let entry = Entry {
            msn: b.msn,
            uri: name,
            // On the millisecond grid of the PDTs, so that PDT(n+1) - PDT(n) == EXTINF(n).
            duration: extinf(b.start_time, end),
            pdt: Some(b.pdt),
            discontinuity: b.discontinuity,
            init: b.init,
            parts: b.parts,
            end,
            size,
            iframe,
            independent: self.cutter.decodes_alone(b.start_dts),
        };
        self.media_end = entry.end;
        let current_init = self.init.as_ref().map(|(n, _)| n.as_str());
        self.window.push(entry, now, current_init);
    }

    /// Closes the segment in progress (if any) and starts a new timeline.
    fn break_stream(&mut self, now: SystemTime, out: &mut Vec<Output>) -> Result<()> {
        if let Some((end, part)) = self.cutter.close() {
            self.finish_segment(end, part, now, out)?;
            self.publish(now, out);
        }
        self.discontinuity_next |= self.window.next_msn() > 0;
        self.muxer = Muxer::new(self.config.format, &self.tracks)?;
        self.last_main = None;
        Ok(())
    }

    /// A GOP longer than the target (see [`super::cut`]): the segment ends before `sample`
    /// (RFC 8216bis 4.4.3.1: its EXTINF rounds to the target at most), the input is dropped
    /// up to the next keyframe (a segment starts with one, Apple 7.4), and the segment that
    /// starts there carries EXT-X-DISCONTINUITY (its timestamps do not follow; its PDT is the
    /// wall clock again).
    fn overrun(
        &mut self,
        index: u64,
        sample: &Sample,
        now: SystemTime,
        out: &mut Vec<Output>,
    ) -> Result<()> {
        self.overruns = self.overruns.saturating_add(1);
        if self.overruns == 1 || self.overruns.is_multiple_of(100) {
            tracing::warn!(
                rendition = %self.config.rendition,
                sample = index,
                dts = sample.dts,
                target = self.target,
                count = self.overruns,
                "keyframe interval longer than EXT-X-TARGETDURATION: the segment ends at the \
                 target and the input is dropped until the next keyframe (a discontinuity)"
            );
        }
        self.break_stream(now, out)
    }

    /// After an error: keep what was published, restart on the next keyframe with a
    /// discontinuity and a fresh muxer.
    fn abandon(&mut self, now: SystemTime, out: &mut Vec<Output>) {
        let _ = self.cutter.close();
        self.last_main = None;
        self.discontinuity_next = true;
        match Muxer::new(self.config.format, &self.tracks) {
            Ok(m) => self.muxer = m,
            Err(e) => tracing::warn!(error = %e, "live muxer could not be re-created"),
        }
        let Some(mut b) = self.building.take() else {
            return;
        };
        if !b.part_bytes.is_empty() {
            out.push(Output::Abandon {
                name: open_part_name(&self.config, &b),
            });
        }
        if self.low_latency() && !b.parts.is_empty() {
            // Its parts are listed already: complete the segment with them.
            let duration = b.parts.iter().map(|p| p.duration).sum();
            let bytes = std::mem::take(&mut b.bytes);
            self.complete(b, duration, bytes, now, out);
            self.publish(now, out);
        }
    }

    fn collect_deletions(&mut self, now: SystemTime, out: &mut Vec<Output>) {
        out.extend(
            self.window
                .due(now)
                .into_iter()
                .map(|name| Output::Delete { name }),
        );
    }

    /// Renders, puts and announces the playlist.
    pub(super) fn publish(&mut self, now: SystemTime, out: &mut Vec<Output>) {
        let edge = self.media_end
            + self
                .building
                .as_ref()
                .map_or(0.0, |b| b.parts.iter().map(|p| p.duration).sum());
        self.window.unlist_parts(edge, now);
        self.refresh_state();
        if let Some(text) = self.render_iframes() {
            if self.iframes_written.as_deref() != Some(text.as_str()) {
                out.push(Output::Put {
                    name: self.i_frame_playlist_name(),
                    bytes: Bytes::from(text.clone()),
                });
                self.iframes_written = Some(text);
            }
        }
        out.push(Output::Put {
            name: self.playlist_name(),
            bytes: self.state.full.clone(),
        });
        let (msn, part) = self.state.newest();
        out.push(Output::Updated { msn, part });
    }

    /// Renders the full playlist (and delta update) into `self.state`.
    pub(super) fn refresh_state(&mut self) {
        let ll = self.low_latency();
        let next_msn = self.window.next_msn();
        let open_parts = self.building.as_ref().map_or(0, |b| b.parts.len());
        let params = self.render_params();
        let full = self.window.render(&params, false);
        let delta = if ll && !self.ended {
            self.window.render(&params, true)
        } else {
            None
        };
        if let Some(full) = &full {
            self.window.note_distributed(full);
        }
        let has_segments = !self.window.segments.is_empty() || self.window.media_sequence > 0;
        self.state = PlaylistState {
            last_msn: next_msn.checked_sub(1).filter(|_| has_segments),
            last_msn_parts: self.last_parts,
            next_msn,
            next_parts: open_parts as u64,
            ended: self.ended,
            target_duration: self.target,
            part_target: self.config.part_duration,
            can_block_reload: ll,
            can_skip: ll,
            full: Bytes::from(full.map(|p| p.to_string()).unwrap_or_default()),
            delta: delta.map(|p| Bytes::from(p.to_string())),
        };
    }

    /// The I-frame playlist of the window once a segment has a keyframe range, and from then
    /// on (see `Window::render_iframes`).
    fn render_iframes(&self) -> Option<String> {
        let params = self.render_params();
        let always = self.iframes_written.is_some();
        Some(self.window.render_iframes(&params, always)?.to_string())
    }

    /// What the window needs besides its segments to render this stream's playlists.
    fn render_params(&self) -> RenderParams<'_> {
        let ll = self.low_latency();
        let next_msn = self.window.next_msn();
        let open_parts = self.building.as_ref().map_or(0, |b| b.parts.len());
        RenderParams {
            target: self.target,
            playlist_type: (self.config.kind == WindowKind::Event).then_some(PlaylistType::Event),
            // RFC 8216bis 4.4.3.8: CAN-SKIP-UNTIL ≥ 6× target duration, PART-HOLD-BACK ≥ 2×
            // (Apple 14: 3×) part target; HOLD-BACK left at its default of 3× target.
            server_control: self.config.part_duration.map(|pt| ServerControl {
                can_block_reload: true,
                can_skip_until: Some(6.0 * self.target as f64),
                hold_back: None,
                part_hold_back: Some(3.0 * pt),
            }),
            part_target: self.config.part_duration,
            open: self
                .building
                .as_ref()
                .filter(|b| ll && !b.parts.is_empty())
                .map(|b| OpenSegment {
                    discontinuity: b.discontinuity,
                    program_date_time: Some(b.pdt.clone()),
                    map: None,
                    parts: b.parts.clone(),
                }),
            // RFC 8216bis 6.2.6: hint the part being produced.
            preload_hint: (ll && !self.ended).then(|| {
                part_name(
                    &self.config.rendition,
                    &self.config.run_id,
                    next_msn,
                    open_parts,
                )
            }),
            ended: self.ended,
            current_init: self.init.as_ref().map(|(n, _)| n.as_str()),
            // RFC 8216bis 4.4.5.4: reports serve blocking reloads, an LL-HLS feature.
            rendition_reports: if ll { &self.reports } else { &[] },
        }
    }
}
