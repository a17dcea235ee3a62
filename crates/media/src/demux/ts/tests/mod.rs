// SPDX-License-Identifier: MIT OR Apache-2.0
//! Test helpers: transport streams built byte by byte, and a driver that demuxes them.

mod ffmpeg;
mod streams;

use super::pes::tests::pes;
use super::psi::tests::section;
use super::psi::{TABLE_PAT, TABLE_PMT};
use super::{TsDemuxer, TsEvent};
use crate::sample::{Sample, TrackInfo};

pub(crate) const PMT_PID: u16 = 0x1000;
pub(crate) const VIDEO_PID: u16 = 0x100;
pub(crate) const AUDIO_PID: u16 = 0x101;

/// 64x48 H.264 SPS (x264, VUI timing 25 fps) and its PPS.
pub(crate) const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0a, 0xac, 0xd9, 0x44, 0x7b, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
    0x00, 0x03, 0x03, 0x20, 0xf1, 0x22, 0x59, 0x60,
];
pub(crate) const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

/// Builds packets with per-PID continuity counters.
#[derive(Default)]
pub(crate) struct Mux {
    cc: std::collections::HashMap<u16, u8>,
    pub out: Vec<u8>,
}

impl Mux {
    /// One packet; `payload` must fit (≤ 184 bytes minus adaptation field).
    pub(crate) fn packet(&mut self, pid: u16, pusi: bool, flags: u8, payload: &[u8]) {
        let cc = self.cc.entry(pid).or_insert(0);
        let this_cc = *cc;
        *cc = (*cc + 1) & 0x0F;
        let mut p = vec![
            0x47,
            (u8::from(pusi) << 6) | ((pid >> 8) as u8 & 0x1F),
            pid as u8,
            0,
        ];
        let room = 184 - payload.len();
        if room == 0 && flags == 0 {
            p[3] = 0x10 | this_cc;
        } else {
            // adaptation field: length byte + flags + stuffing
            assert!(
                flags == 0 || room >= 2,
                "no room for adaptation field flags"
            );
            let af_len = room - 1;
            p[3] = 0x30 | this_cc;
            p.push(af_len as u8);
            if af_len > 0 {
                p.push(flags);
                p.extend(std::iter::repeat_n(0xFF, af_len - 1));
            }
        }
        p.extend_from_slice(&payload[..payload.len().min(188 - p.len())]);
        assert_eq!(p.len(), 188, "payload too large for one packet");
        self.out.extend(p);
    }

    /// A PES (or section with pointer field) split over packets; `flags` go in the first
    /// packet's adaptation field (0x80 discontinuity, 0x40 random access).
    pub(crate) fn unit(&mut self, pid: u16, data: &[u8], flags: u8) {
        let mut rest = data;
        let mut first = true;
        while first || !rest.is_empty() {
            let f = if first { flags } else { 0 };
            let max = if f != 0 { 182 } else { 184 };
            let n = rest.len().min(max);
            self.packet(pid, first, f, &rest[..n]);
            rest = &rest[n..];
            first = false;
        }
    }

    pub(crate) fn section(&mut self, pid: u16, section: &[u8]) {
        let mut data = vec![0u8];
        data.extend_from_slice(section);
        self.unit(pid, &data, 0);
    }

    pub(crate) fn pat(&mut self) {
        self.section(0, &pat_section(0));
    }

    /// PMT with the given (stream_type, pid, descriptors) entries; PCR on the first.
    pub(crate) fn pmt(&mut self, version: u8, streams: &[(u8, u16, &[u8])]) {
        self.section(PMT_PID, &pmt_section(version, streams));
    }

    pub(crate) fn video(&mut self, pts: u64, dts: Option<u64>, nals: &[&[u8]], flags: u8) {
        let mut es = Vec::new();
        for n in nals {
            es.extend([0, 0, 0, 1]);
            es.extend_from_slice(n);
        }
        self.unit(VIDEO_PID, &pes(0xE0, Some(pts), dts, &es, false), flags);
    }

    pub(crate) fn audio(&mut self, pts: Option<u64>, payload: &[u8]) {
        self.unit(AUDIO_PID, &pes(0xC0, pts, None, payload, true), 0);
    }
}

pub(crate) fn pat_section(version: u8) -> Vec<u8> {
    let body = [0, 1, 0xE0 | (PMT_PID >> 8) as u8, PMT_PID as u8];
    section(TABLE_PAT, 1, version, &body)
}

pub(crate) fn pmt_section(version: u8, streams: &[(u8, u16, &[u8])]) -> Vec<u8> {
    let pcr = streams.first().map_or(0x1FFF, |s| s.1);
    let mut body = vec![0xE0 | (pcr >> 8) as u8, pcr as u8, 0xF0, 0];
    for (st, pid, desc) in streams {
        body.extend([
            *st,
            0xE0 | (pid >> 8) as u8,
            *pid as u8,
            0xF0,
            desc.len() as u8,
        ]);
        body.extend_from_slice(desc);
    }
    section(TABLE_PMT, 1, version, &body)
}

/// An ADTS frame (AAC LC, 48 kHz, stereo) with `payload_len` payload bytes of `fill`.
pub(crate) fn adts(payload_len: usize, fill: u8) -> Vec<u8> {
    let len = payload_len + 7;
    let mut f = vec![
        0xFF,
        0xF1,
        (1 << 6) | (3 << 2), // LC, 48 kHz
        (2 << 6) | ((len >> 11) as u8 & 0x03),
        (len >> 3) as u8,
        ((len as u8 & 0x07) << 5) | 0x1F,
        0xFC,
    ];
    f.extend(std::iter::repeat_n(fill, payload_len));
    f
}

/// Fake slice NALs: IDR (type 5) and non-IDR (type 1) with a tag byte.
pub(crate) fn idr(tag: u8) -> Vec<u8> {
    vec![0x65, 0x88, tag, 0x11]
}
pub(crate) fn non_idr(tag: u8) -> Vec<u8> {
    vec![0x41, 0x9a, tag, 0x22]
}

/// Everything a demux run produced.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Run {
    pub tracks: Vec<TrackInfo>,
    pub samples: Vec<Sample>,
    pub events: Vec<TsEvent>,
}

/// Pushes `chunks` in order, finishes, collects everything.
pub(crate) fn demux_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Run {
    let mut d = TsDemuxer::new();
    let mut run = Run::default();
    for c in chunks {
        d.push(c).expect("push");
        drain(&mut d, &mut run);
    }
    d.finish().expect("finish");
    drain(&mut d, &mut run);
    run.tracks = d.tracks().to_vec();
    run
}

pub(crate) fn demux(data: &[u8]) -> Run {
    demux_chunks([data])
}

fn drain(d: &mut TsDemuxer, run: &mut Run) {
    while let Some(s) = d.pop_sample() {
        run.samples.push(s);
        while let Some(e) = d.pop_event() {
            run.events.push(e);
        }
    }
    while let Some(e) = d.pop_event() {
        run.events.push(e);
    }
}

impl Run {
    pub(crate) fn track(&self, t: usize) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.track == t).collect()
    }
}
