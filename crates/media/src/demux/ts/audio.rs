// SPDX-License-Identifier: MIT OR Apache-2.0
//! Audio elementary streams: splitting PES payloads into frames that may span PES packets, and
//! timing them. ADTS AAC (ISO/IEC 14496-3 1.A.2), MPEG audio layer III (ISO/IEC 11172-3 /
//! 13818-3), AC-3 and E-AC-3 (ETSI TS 102 366).
//!
//! Timing (ISO/IEC 13818-1 §2.4.3.7): a PES PTS applies to the first frame that starts in that
//! PES; following frames continue by `samples_per_frame`. A PTS within half a frame of that
//! continuation is taken as jitter and the continuation is kept, so sample times stay exact.

use std::collections::VecDeque;

use crate::codec::{aac, ac3, mp3};
use crate::sample::CodecConfig;

use super::{rescale, PTS_HZ};

/// Which framing the stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AudioKind {
    Adts,
    Mpeg,
    Ac3,
}

/// A track's audio parameters, from its first frame.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AudioConfig {
    pub config: CodecConfig,
    pub sample_rate: u32,
    pub channels: u16,
    pub samples_per_frame: u32,
}

/// One frame in canonical form (raw AAC, or a whole MP3 / (E-)AC-3 sync frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AudioFrame {
    /// In sample-rate ticks.
    pub dts: i64,
    pub duration: u32,
    pub data: Vec<u8>,
}

/// Header fields every framing provides.
struct Header {
    frame_len: usize,
    /// Bytes to strip (ADTS header); the rest of the frame is the sample.
    strip: usize,
    sample_rate: u32,
    samples_per_frame: u32,
    /// E-AC-3 dependent or additional substream: belongs to the preceding frame's sample.
    joins_previous: bool,
    eac3: bool,
}

#[derive(Debug, Clone)]
pub(super) struct AudioEs {
    kind: AudioKind,
    pid: u16,
    buf: Vec<u8>,
    /// Absolute position (bytes of payload ever buffered) of `buf[0]`.
    buf_pos: u64,
    /// (absolute payload position where a PES started, its PTS in 90 kHz).
    marks: VecDeque<(u64, i64)>,
    next_dts: Option<i64>,
    config: Option<AudioConfig>,
    /// Why the stream cannot be used (e.g. MPEG audio layer II).
    rejected: Option<String>,
    /// E-AC-3: the last frame, held until the next independent substream frame.
    held: Option<AudioFrame>,
    warned_sync: bool,
    warned_rate: bool,
    dropped_untimed: u64,
}

impl AudioEs {
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub(super) fn new(kind: AudioKind, pid: u16) -> Self {
        AudioEs {
            kind,
            pid,
            buf: Vec::new(),
            buf_pos: 0,
            marks: VecDeque::new(),
            next_dts: None,
            config: None,
            rejected: None,
            held: None,
            warned_sync: false,
            warned_rate: false,
            dropped_untimed: 0,
        }
    }

    pub(super) fn config(&self) -> Option<&AudioConfig> {
        self.config.as_ref()
    }

    pub(super) fn rejected(&self) -> Option<&str> {
        self.rejected.as_deref()
    }

    /// Packets were lost: the buffered partial frame is garbage now.
    pub(super) fn drop_buffer(&mut self) {
        self.buf_pos += self.buf.len() as u64;
        self.buf.clear();
        self.marks.clear();
    }

    /// A timeline break: the next PTS is taken as is.
    pub(super) fn timeline_break(&mut self) {
        self.next_dts = None;
    }

    /// Adds one PES payload; complete frames go to `out`.
    pub(super) fn push_pes(&mut self, payload: &[u8], pts: Option<i64>, out: &mut Vec<AudioFrame>) {
        if self.rejected.is_some() {
            return;
        }
        if let Some(pts) = pts {
            self.marks
                .push_back((self.buf_pos + self.buf.len() as u64, pts));
        }
        self.buf.extend_from_slice(payload);
        self.split(false, out);
    }

    /// End of input: frames still complete are emitted, a truncated tail is reported.
    pub(super) fn finish(&mut self, out: &mut Vec<AudioFrame>) {
        self.split(true, out);
        if !self.buf.is_empty() && self.rejected.is_none() {
            tracing::warn!(
                pid = self.pid,
                bytes = self.buf.len(),
                "MPEG-TS: audio stream ends inside a frame; tail dropped"
            );
        }
        self.drop_buffer();
        out.extend(self.held.take());
        if self.dropped_untimed > 0 {
            tracing::warn!(
                pid = self.pid,
                frames = self.dropped_untimed,
                "MPEG-TS: audio frames without any PTS before them were dropped"
            );
        }
    }

    fn split(&mut self, at_end: bool, out: &mut Vec<AudioFrame>) {
        let mut pos = 0usize;
        loop {
            let rest = self.buf.get(pos..).unwrap_or(&[]);
            let Some(skip) = find_sync(self.kind, rest) else {
                // Keep a last byte that may begin a sync word.
                pos += rest.len().saturating_sub(1);
                break;
            };
            if skip > 0 {
                self.warn_sync(format!("{skip} bytes without a frame sync word skipped"));
            }
            pos += skip;
            let rest = self.buf.get(pos..).unwrap_or(&[]);
            let header = match parse_header(self.kind, rest) {
                Ok(h) => h,
                // The header may just be incomplete: wait for more bytes.
                Err(_) if rest.len() < header_window(self.kind) && !at_end => break,
                Err(e) => {
                    self.warn_sync(e);
                    pos += 1;
                    continue;
                }
            };
            let Some(frame) = rest.get(..header.frame_len) else {
                break; // wait for the rest of the frame
            };
            let frame = frame.to_vec();
            if self.config.is_none() && !header.joins_previous {
                // E-AC-3: dependent substreams that follow count into dec3, so pass them too.
                let config = make_config(self.kind, &header, rest);
                self.set_config(config);
            }
            let frame_pos = self.buf_pos + pos as u64;
            pos += header.frame_len;
            self.frame(&header, frame, frame_pos, out);
        }
        let consumed = pos.min(self.buf.len());
        self.buf.drain(..consumed);
        self.buf_pos += consumed as u64;
    }

    fn frame(&mut self, h: &Header, frame: Vec<u8>, frame_pos: u64, out: &mut Vec<AudioFrame>) {
        // The PTS of the last PES that started at or before this frame.
        let mut pts = None;
        while self.marks.front().is_some_and(|&(p, _)| p <= frame_pos) {
            pts = self.marks.pop_front().map(|(_, t)| t);
        }
        if h.joins_previous {
            match self.held.as_mut() {
                Some(held) => held.data.extend_from_slice(&frame),
                None => self.warn_sync("E-AC-3 dependent substream without its independent frame"),
            }
            return;
        }
        let Some(config) = &self.config else {
            return;
        };
        let eac3 = matches!(config.config, CodecConfig::Eac3 { .. });
        if h.sample_rate != config.sample_rate || (self.kind == AudioKind::Ac3 && h.eac3 != eac3) {
            if !self.warned_rate {
                self.warned_rate = true;
                tracing::warn!(
                    pid = self.pid,
                    rate = h.sample_rate,
                    expected = config.sample_rate,
                    "MPEG-TS: audio frame with a different sample rate or codec; dropped"
                );
            }
            return;
        }
        let spf = i64::from(h.samples_per_frame);
        let dts = match (pts, self.next_dts) {
            (Some(pts), Some(next)) if pts_matches(pts, next, config.sample_rate, spf) => next,
            (Some(pts), _) => rescale(pts, PTS_HZ, config.sample_rate),
            (None, Some(next)) => next,
            (None, None) => {
                self.dropped_untimed += 1;
                return;
            }
        };
        self.next_dts = Some(dts.saturating_add(spf));
        let frame = AudioFrame {
            dts,
            duration: h.samples_per_frame,
            data: frame.get(h.strip..).unwrap_or(&[]).to_vec(),
        };
        if self.kind == AudioKind::Ac3 {
            out.extend(self.held.replace(frame));
        } else {
            out.push(frame);
        }
    }

    fn set_config(&mut self, config: Result<AudioConfig, ConfigError>) {
        match config {
            Ok(c) => self.config = Some(c),
            Err(ConfigError::Unsupported(e)) => {
                tracing::warn!(pid = self.pid, "MPEG-TS: {e}; stream ignored");
                self.rejected = Some(e);
            }
            Err(ConfigError::Bad(e)) => {
                self.warn_sync(format!("first frame unusable as configuration: {e}"));
            }
        }
    }

    fn warn_sync(&mut self, msg: impl std::fmt::Display) {
        if !self.warned_sync {
            self.warned_sync = true;
            tracing::warn!(
                pid = self.pid,
                "MPEG-TS: audio: {msg} (further such warnings suppressed)"
            );
        }
    }
}

/// |PTS - continuation| <= half a frame (compared in sample-rate ticks).
fn pts_matches(pts90: i64, next: i64, sample_rate: u32, spf: i64) -> bool {
    let pts = rescale(pts90, PTS_HZ, sample_rate);
    pts.abs_diff(next) <= (spf / 2).unsigned_abs()
}

/// A header that fails to parse with fewer bytes than this may just be incomplete. ADTS and
/// MPEG audio headers have fixed sizes; an (E-)AC-3 bsi lies within the smallest frame.
fn header_window(kind: AudioKind) -> usize {
    match kind {
        AudioKind::Adts => 7,
        AudioKind::Mpeg => 4,
        AudioKind::Ac3 => 128,
    }
}

/// Offset of the first possible sync word: ADTS 0xFFF with layer 00 (1.A.2.2.1), MPEG audio
/// 11-bit frame sync (ISO/IEC 11172-3 2.4.2.3), AC-3 syncword 0x0B77 (ETSI TS 102 366 5.4.1).
fn find_sync(kind: AudioKind, data: &[u8]) -> Option<usize> {
    data.windows(2).position(|w| match (kind, w) {
        (AudioKind::Adts, &[0xFF, b]) => b & 0xF6 == 0xF0,
        (AudioKind::Mpeg, &[0xFF, b]) => b & 0xE0 == 0xE0,
        (AudioKind::Ac3, &[0x0B, 0x77]) => true,
        _ => false,
    })
}

fn parse_header(kind: AudioKind, data: &[u8]) -> Result<Header, String> {
    match kind {
        AudioKind::Adts => {
            let h = aac::parse_adts(data)?;
            Ok(Header {
                frame_len: h.frame_len,
                strip: h.header_len,
                sample_rate: h.sample_rate,
                samples_per_frame: aac::AAC_FRAME_SAMPLES,
                joins_previous: false,
                eac3: false,
            })
        }
        AudioKind::Mpeg => {
            let h = mp3::parse_header(data)?;
            Ok(Header {
                frame_len: h.frame_len,
                strip: 0,
                sample_rate: h.sample_rate,
                samples_per_frame: h.samples_per_frame,
                joins_previous: false,
                eac3: false,
            })
        }
        AudioKind::Ac3 => {
            let eac3 = ac3::is_eac3(data);
            let info = if eac3 {
                ac3::parse_eac3_frame(data)?
            } else {
                ac3::parse_ac3_frame(data)?
            };
            // ETSI TS 102 366 E.1.2.1-2: strmtyp (2 bits) and substreamid (3 bits) follow the
            // syncword; dependent (strmtyp 1) and additional independent substreams belong to
            // the same access unit as substream 0.
            let b2 = data.get(2).copied().unwrap_or(0);
            let joins_previous = eac3 && (b2 >> 6 == 1 || (b2 >> 3) & 0x07 != 0);
            Ok(Header {
                frame_len: info.frame_len,
                strip: 0,
                sample_rate: info.sample_rate,
                samples_per_frame: info.samples_per_frame,
                joins_previous,
                eac3,
            })
        }
    }
    .and_then(|h: Header| {
        if h.frame_len <= h.strip || h.sample_rate == 0 || h.samples_per_frame == 0 {
            Err(format!("implausible frame header (length {})", h.frame_len))
        } else {
            Ok(h)
        }
    })
}

enum ConfigError {
    /// The stream is of a kind this demuxer does not carry.
    Unsupported(String),
    /// This frame is unusable; a later one may do.
    Bad(String),
}

impl From<String> for ConfigError {
    fn from(e: String) -> Self {
        ConfigError::Bad(e)
    }
}

/// Track configuration from the first frame.
fn make_config(kind: AudioKind, h: &Header, frame: &[u8]) -> Result<AudioConfig, ConfigError> {
    let (config, channels) = match kind {
        AudioKind::Adts => {
            let a = aac::parse_adts(frame)?;
            // ISO/IEC 14496-3 Table 1.19: channel configuration 7 is 7.1 (8 channels); 0 means
            // "defined in a PCE", reported as stereo.
            let channels = match a.channel_config {
                0 => 2,
                7 => 8,
                c => u16::from(c),
            };
            let asc = aac::asc_from_adts(&a);
            (CodecConfig::Aac { asc }, channels)
        }
        AudioKind::Mpeg => {
            let m = mp3::parse_header(frame)?;
            if m.layer != 3 {
                return Err(ConfigError::Unsupported(format!(
                    "MPEG audio layer {} is not supported (only layer III)",
                    m.layer
                )));
            }
            (CodecConfig::Mp3, m.channels)
        }
        AudioKind::Ac3 if h.eac3 => {
            let info = ac3::parse_eac3_frame(frame)?;
            let dec3 = ac3::dec3_from_frame(frame)?;
            (CodecConfig::Eac3 { dec3 }, info.channels)
        }
        AudioKind::Ac3 => {
            let info = ac3::parse_ac3_frame(frame)?;
            let dac3 = ac3::dac3_from_frame(frame)?;
            (CodecConfig::Ac3 { dac3 }, info.channels)
        }
    };
    Ok(AudioConfig {
        config,
        sample_rate: h.sample_rate,
        channels,
        samples_per_frame: h.samples_per_frame,
    })
}
