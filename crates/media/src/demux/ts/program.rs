// SPDX-License-Identifier: MIT OR Apache-2.0
//! Packet routing for the first program: PAT → PMT → elementary streams (ISO/IEC 13818-1
//! §2.4.4), continuity checks, the probe that decides `ready()`, and the sample queue.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::sample::{Sample, TrackInfo};

use super::es::Es;
use super::output::Queued;
use super::packet::{self, CcVerdict, Continuity, Packet, NULL_PID};
use super::psi::{self, SectionAssembler, TABLE_PAT, TABLE_PMT};
use super::{pes, DiscontinuityCause, TsEvent};
use super::{Unwrapper, PTS_HZ};

/// Streams that never produce a configuration stop delaying `ready()` after this much
/// timestamp progress on the others (10 s of 90 kHz ticks)...
const PROBE_TICKS: i64 = 10 * PTS_HZ as i64;
/// ...or this much payload.
const PROBE_BYTES: usize = 64 << 20;

/// A PSI PID: section reassembly plus its continuity counter.
#[derive(Debug, Clone, Default)]
struct PsiPid {
    sections: SectionAssembler,
    cc: Continuity,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Program {
    pat: PsiPid,
    /// (program_number, PMT PID) of the first program in the PAT.
    program: Option<(u16, u16)>,
    pmt: PsiPid,
    last_pmt: Option<Vec<u8>>,
    pcr_pid: Option<u16>,
    /// Every elementary stream ever declared, in PMT order (removed ones stay, flagged).
    es: Vec<Es>,
    by_pid: HashMap<u16, usize>,
    tracks: Vec<TrackInfo>,
    unwrap: Unwrapper,
    probe_start: Option<i64>,
    probe_bytes: usize,
    probe_expired: bool,
    queue: VecDeque<Queued>,
    events: Events,
    popped: u64,
    ready: bool,
    finished: bool,
    warned: HashSet<(u16, u8)>,
}

/// Events waiting for the caller, at most this many: a caller that never polls (a file demuxer
/// used only for its samples) must not make memory grow with the input. When full, the oldest
/// event is dropped.
const MAX_PENDING_EVENTS: usize = 1024;

#[derive(Debug, Clone, Default)]
struct Events {
    queue: VecDeque<TsEvent>,
    dropped: u64,
}

impl Events {
    fn push(&mut self, event: TsEvent) {
        if self.queue.len() >= MAX_PENDING_EVENTS {
            self.queue.pop_front();
            if self.dropped == 0 {
                tracing::warn!(
                    "MPEG-TS: more than {MAX_PENDING_EVENTS} events not polled; dropping the oldest"
                );
            }
            self.dropped += 1;
        }
        self.queue.push_back(event);
    }

    fn pop(&mut self) -> Option<TsEvent> {
        self.queue.pop_front()
    }
}

impl Program {
    /// Heap bytes of its buffers and queued samples.
    pub(super) fn heap_bytes(&self) -> usize {
        let queued: usize = self.queue.iter().map(|q| q.sample.data.len()).sum();
        self.es.iter().map(Es::heap_bytes).sum::<usize>() + queued
    }

    pub(super) fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    pub(super) fn ready(&self) -> bool {
        self.ready
    }

    pub(super) fn pmt_seen(&self) -> bool {
        self.last_pmt.is_some()
    }

    pub(super) fn pop_event(&mut self) -> Option<TsEvent> {
        self.events.pop()
    }

    pub(super) fn pop_sample(&mut self) -> Option<Sample> {
        if !self.ready {
            return None;
        }
        while let Some(q) = self.queue.pop_front() {
            let Some(track) = self.es.get(q.es).and_then(|e| e.track) else {
                continue;
            };
            let mut sample = q.sample;
            sample.track = track;
            if let Some(cause) = q.discontinuity {
                self.events.push(TsEvent::Discontinuity {
                    track,
                    sample: self.popped,
                    cause,
                });
            }
            self.popped += 1;
            return Some(sample);
        }
        None
    }

    /// One 188-byte packet at stream offset `offset`.
    pub(super) fn packet(&mut self, bytes: &[u8], offset: u64) {
        let pkt = match packet::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(offset, "MPEG-TS: {e}; packet skipped");
                return;
            }
        };
        if pkt.pid == NULL_PID {
            return;
        }
        if pkt.pid == 0 {
            self.psi_packet(true, &pkt, offset);
        } else if self.program.is_some_and(|(_, pid)| pid == pkt.pid) {
            self.psi_packet(false, &pkt, offset);
        } else if let Some(&i) = self.by_pid.get(&pkt.pid) {
            self.es_packet(i, &pkt, offset);
        }
        if pkt.discontinuity && Some(pkt.pid) == self.pcr_pid {
            // §2.4.3.5: a discontinuity on the PCR PID is a system time-base discontinuity:
            // the next PES of every stream of the program uses the new time base.
            for es in self.es.iter_mut().filter(|e| !e.removed) {
                es.mark_break(DiscontinuityCause::Signalled);
            }
        }
    }

    /// End of input: complete open PES packets, flush held samples, become ready.
    pub(super) fn finish(&mut self) {
        for i in 0..self.es.len() {
            let raw = match self.es.get_mut(i) {
                Some(es) if !es.removed => es.pes.take(),
                _ => continue,
            };
            if let Some(raw) = raw {
                self.process_pes(i, raw);
            }
            if let Some(es) = self.es.get_mut(i) {
                es.finish(&mut self.queue);
            }
        }
        self.finished = true;
        self.update_ready();
    }

    fn psi_packet(&mut self, is_pat: bool, pkt: &Packet<'_>, offset: u64) {
        let psi = if is_pat { &mut self.pat } else { &mut self.pmt };
        match psi.cc.check(pkt.cc, pkt.has_payload, pkt.discontinuity) {
            CcVerdict::Duplicate => return,
            CcVerdict::Error { expected } => {
                tracing::warn!(
                    offset,
                    pid = pkt.pid,
                    expected,
                    got = pkt.cc,
                    "MPEG-TS: continuity counter error on a PSI PID; partial section dropped"
                );
                psi.sections.reset();
            }
            CcVerdict::Ok => {}
        }
        if pkt.scrambled || !pkt.has_payload {
            return;
        }
        let mut sections = Vec::new();
        psi.sections.push(pkt.pusi, pkt.payload, &mut sections);
        for raw in sections {
            let section = match psi::parse_section(&raw) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(offset, pid = pkt.pid, "MPEG-TS: {e}; section ignored");
                    continue;
                }
            };
            if !section.current_next {
                continue;
            }
            match (is_pat, section.table_id) {
                (true, TABLE_PAT) => self.on_pat(section.body, offset),
                (false, TABLE_PMT) if self.program.is_some_and(|(n, _)| n == section.id) => {
                    self.on_pmt(&raw, section.body, offset)
                }
                _ => {}
            }
        }
    }

    fn on_pat(&mut self, body: &[u8], offset: u64) {
        let Some(program) = psi::first_program(body) else {
            if self.warned.insert((0, 0)) {
                tracing::warn!(offset, "MPEG-TS: PAT lists no program");
            }
            return;
        };
        if self.program == Some(program) {
            return;
        }
        if let Some((old_number, old_pid)) = self.program {
            tracing::warn!(
                offset,
                old_number,
                old_pid,
                new_number = program.0,
                new_pid = program.1,
                "MPEG-TS: PAT changed the first program; waiting for its PMT"
            );
        }
        self.program = Some(program);
        self.pmt = PsiPid::default();
        self.last_pmt = None;
    }

    fn on_pmt(&mut self, raw: &[u8], body: &[u8], offset: u64) {
        if self.last_pmt.as_deref() == Some(raw) {
            return;
        }
        let pmt = match psi::parse_pmt(body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(offset, "MPEG-TS: {e}; PMT ignored");
                return;
            }
        };
        let changed = self.es.iter().any(|e| !e.removed);
        if changed {
            tracing::warn!(
                offset,
                "MPEG-TS: PMT changed; tracks continue on a new timeline"
            );
        }
        let mut wanted = Vec::new();
        for stream in &pmt.streams {
            match psi::classify(stream) {
                Some(codec) => wanted.push((stream.pid, codec, psi::language(stream))),
                None => {
                    if self.warned.insert((stream.pid, stream.stream_type)) {
                        tracing::warn!(
                            pid = stream.pid,
                            stream_type = stream.stream_type,
                            "MPEG-TS: elementary stream of type {:#04x} ({}) ignored",
                            stream.stream_type,
                            psi::stream_type_name(stream.stream_type)
                        );
                    }
                }
            }
        }
        // Streams that left the PMT (or changed codec) end here.
        for es in self.es.iter_mut().filter(|e| !e.removed) {
            if !wanted
                .iter()
                .any(|(pid, codec, _)| *pid == es.pid && *codec == es.codec)
            {
                // The stream ends here: a partial PES is dropped, held samples are released.
                es.on_loss();
                es.finish(&mut self.queue);
                es.removed = true;
                self.by_pid.remove(&es.pid);
            } else {
                es.mark_break(DiscontinuityCause::ProgramChange);
            }
        }
        for (pid, codec, language) in wanted {
            if !self.by_pid.contains_key(&pid) {
                let index = self.es.len();
                self.es.push(Es::new(index, pid, codec, language));
                self.by_pid.insert(pid, index);
            }
        }
        self.pcr_pid = Some(pmt.pcr_pid);
        self.last_pmt = Some(raw.to_vec());
        self.update_ready();
    }

    fn es_packet(&mut self, i: usize, pkt: &Packet<'_>, offset: u64) {
        let Some(es) = self.es.get_mut(i) else {
            return;
        };
        if pkt.scrambled {
            if self.warned.insert((pkt.pid, 0xFF)) {
                tracing::warn!(offset, pid = pkt.pid, "MPEG-TS: scrambled packets skipped");
            }
            return;
        }
        match es.cc.check(pkt.cc, pkt.has_payload, pkt.discontinuity) {
            CcVerdict::Duplicate => return,
            CcVerdict::Error { expected } => {
                tracing::warn!(
                    offset,
                    pid = pkt.pid,
                    expected,
                    got = pkt.cc,
                    "MPEG-TS: continuity counter error (packets lost); partial PES dropped"
                );
                es.on_loss();
                self.events.push(TsEvent::PacketLoss {
                    pid: pkt.pid,
                    offset,
                });
            }
            CcVerdict::Ok => {}
        }
        let Some(es) = self.es.get_mut(i) else {
            return;
        };
        if pkt.pusi {
            if let Some(raw) = es.pes.take() {
                self.process_pes(i, raw);
            }
        }
        let Some(es) = self.es.get_mut(i) else {
            return;
        };
        if pkt.discontinuity && Some(pkt.pid) != self.pcr_pid {
            es.mark_break(DiscontinuityCause::Signalled);
        }
        if !pkt.has_payload {
            return;
        }
        if pkt.pusi {
            es.pes.start(pkt.payload, offset);
        } else {
            es.pes.append(pkt.payload);
        }
        if es.pes.is_complete() {
            if let Some(raw) = es.pes.take() {
                self.process_pes(i, raw);
            }
        }
    }

    fn process_pes(&mut self, i: usize, raw: pes::RawPes) {
        let Some(es) = self.es.get_mut(i) else {
            return;
        };
        let parsed = match pes::parse(&raw.data) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(
                    offset = raw.offset,
                    pid = es.pid,
                    "MPEG-TS: {e}; PES dropped"
                );
                return;
            }
        };
        if parsed.truncated {
            tracing::warn!(
                offset = raw.offset,
                pid = es.pid,
                "MPEG-TS: PES shorter than its PES_packet_length; using what arrived"
            );
        }
        // DTS first: PTS is then placed in the period closest to it.
        let dts = parsed.dts.map(|d| self.unwrap.unwrap(d));
        let pts = parsed.pts.map(|p| self.unwrap.unwrap(p));
        let configured = es.handle(parsed.payload, pts, dts, &mut self.queue);
        if self.ready {
            if configured {
                self.publish(i);
            }
            return;
        }
        self.probe_bytes = self.probe_bytes.saturating_add(raw.data.len());
        if let Some(t) = dts.or(pts) {
            let start = *self.probe_start.get_or_insert(t);
            self.probe_expired |= t.saturating_sub(start).abs() > PROBE_TICKS;
        }
        self.update_ready();
    }

    fn update_ready(&mut self) {
        if self.ready {
            return;
        }
        let all_known = self.pmt_seen() && !self.es.iter().any(Es::awaited);
        let probe_passed =
            self.pmt_seen() && (self.probe_expired || self.probe_bytes > PROBE_BYTES);
        if !(all_known || probe_passed || self.finished) {
            return;
        }
        self.ready = true;
        for i in 0..self.es.len() {
            match self.es.get(i) {
                Some(es) if es.info.is_some() => self.publish(i),
                Some(es) if es.awaited() => tracing::warn!(
                    pid = es.pid,
                    "MPEG-TS: no codec configuration found while probing; stream left out for now"
                ),
                _ => {}
            }
        }
    }

    /// Appends a configured stream to the track list.
    fn publish(&mut self, i: usize) {
        let Some(es) = self.es.get_mut(i) else {
            return;
        };
        if es.track.is_some() {
            return;
        }
        if let Some(info) = &es.info {
            es.track = Some(self.tracks.len());
            self.tracks.push(info.clone());
        }
    }
}
