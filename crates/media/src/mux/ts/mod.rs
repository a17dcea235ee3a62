// SPDX-License-Identifier: MIT OR Apache-2.0
//! MPEG-TS media segments for HLS (RFC 8216bis §3.3; Apple HLS authoring spec 7.x;
//! ISO/IEC 13818-1).
//!
//! Layout of every segment: PAT, PMT, then the PES packets of the segment's samples interleaved
//! by decode time. The muxer keeps the state that must run on across segments (Apple 7.2/7.3):
//! continuity counters of every PID (PAT and PMT included) and the PCR, which never decreases.
//!
//! - PIDs: PMT 0x1000, first video 0x100, the other tracks 0x101, 0x102, … in track order.
//! - Timestamps: track ticks → 90 kHz in exact integer arithmetic, plus a constant 1.4 s
//!   ([`TIMESTAMP_OFFSET`], as ffmpeg) so that negative B-frame DTS stay positive, wrapped to 33
//!   bits. PCR = DTS − 0.7 s on the video PID (first audio PID without video), at least every
//!   100 ms (ISO/IEC 13818-1 §2.7.2).
//! - Video: AUD, parameter sets before every keyframe (unless in band), Annex B start codes
//!   (ISO/IEC 13818-1 §2.14 for AVC, §2.17 for HEVC). MPEG-4 Part 2 (stream_type 0x10): the
//!   samples as they are, the VOS/VOL headers before every keyframe that lacks them.
//! - Audio: AAC as ADTS (§2.4.2.3 stream_type 0x0F), MP3 as is, AC-3/E-AC-3 in private_stream_1
//!   with a registration descriptor (ATSC A/52 Annex A, as Apple's tools write it); a few
//!   consecutive frames share one PES.

mod audio;
mod packet;
mod psi;
mod video;

#[cfg(test)]
mod ffprobe_tests;
#[cfg(test)]
mod keyframe_tests;
#[cfg(test)]
mod tests;

use crate::codec::aac::{self, AudioSpecificConfig};
use crate::mux::{KeyframeRange, SegmentMuxer};
use crate::sample::{CodecConfig, TrackInfo, TrackKind};
use crate::segmenter::Segment;
use crate::{Error, Result};

use audio::AudioGroup;
use packet::{Continuity, StartFlags};
use psi::EsEntry;

/// PID of the program map table (ffmpeg's default).
pub const PMT_PID: u16 = 0x1000;
/// PID of the first video track; the other tracks follow from 0x101 on.
pub const VIDEO_PID: u16 = 0x100;
/// Added to every 90 kHz timestamp: 1.4 s, as ffmpeg, so that DTS before the first PTS
/// (B-frames, edit lists) stay non-negative.
pub const TIMESTAMP_OFFSET: i64 = 126_000;
/// PCR runs this far behind the DTS of the PES it is written with (ffmpeg's default mux delay,
/// 0.7 s), so every byte arrives before it has to be decoded.
pub const PCR_DELAY: i64 = 63_000;
/// Longest allowed interval between two PCRs (ISO/IEC 13818-1 §2.7.2: 0.1 s), in 90 kHz ticks.
const PCR_MAX_INTERVAL: i64 = 9_000;
/// A jump in time larger than this is a discontinuity in the input; it is not filled with
/// PCR-only packets.
const PCR_MAX_FILL: i64 = 10 * 90_000;

/// [`TsMuxer::write_segment_streaming`] hands its buffer out once it holds this much: well
/// inside a core's L2 cache, large enough that the per-write cost is negligible.
pub const SPILL_BYTES: usize = 128 * 1024;

/// Where [`TsMuxer::write_segment_streaming`] hands its pieces.
pub type Spill<'a> = dyn FnMut(&[u8]) -> Result<()> + 'a;

/// What a track's samples become in the stream.
#[derive(Debug, Clone)]
enum Payload {
    /// H.264 or HEVC; `param_sets` = the Annex B VPS/SPS/PPS from the codec configuration.
    Video { hevc: bool, param_sets: Vec<u8> },
    /// MPEG-4 Part 2 video (start-code delimited already); `dsi` = its VOS/VO/VOL headers.
    Mpeg4Visual { dsi: Vec<u8> },
    /// AAC raw access units, written with ADTS headers.
    Aac(AudioSpecificConfig),
    /// MP3, AC-3, E-AC-3: sync frames copied as they are.
    Frames,
}

#[derive(Debug, Clone)]
struct Track {
    /// Track id in the input, for messages.
    id: u32,
    pid: u16,
    stream_id: u8,
    timescale: u32,
    payload: Payload,
    cc: Continuity,
    /// Audio frames waiting to be written as one PES.
    group: AudioGroup,
}

/// An MPEG-TS [`SegmentMuxer`] for one rendition.
#[derive(Debug, Clone)]
pub struct TsMuxer {
    tracks: Vec<Track>,
    /// Index of the track whose PID carries the PCR.
    pcr_track: usize,
    /// Index of the first video track, whose keyframes [`SegmentMuxer::keyframes`] reports.
    key_track: Option<usize>,
    /// Keyframes of the segment written last.
    keyframes: Vec<KeyframeRange>,
    pat: Vec<u8>,
    pmt: Vec<u8>,
    pat_cc: Continuity,
    pmt_cc: Continuity,
    /// Latest PCR written, unwrapped 90 kHz.
    last_pcr: Option<i64>,
    /// The next PES of the current segment must carry (or be preceded by) a PCR.
    segment_needs_pcr: bool,
    /// Scratch: the PES being built (audio), or its head (video: header, AUD, parameter sets).
    pes: Vec<u8>,
    /// Scratch: (DTS in 90 kHz, sample index) of the segment, in writing order.
    order: Vec<(i64, usize)>,
    /// [`TsMuxer::count_segment`] is running: PES packets are counted in `counted` (bytes),
    /// not written.
    count_only: bool,
    counted: usize,
}

/// What [`TsMuxer::emit`] packetizes: the PES as the concatenation of parts, or, when the
/// muxer only counts ([`TsMuxer::count_segment`]), its length alone.
enum Pes<'a> {
    Parts(&'a [&'a [u8]]),
    Length(usize),
}

impl Pes<'_> {
    fn len(&self) -> usize {
        match self {
            Pes::Parts(parts) => parts.iter().map(|p| p.len()).sum(),
            Pes::Length(n) => *n,
        }
    }
}

/// Converts `t` ticks of `timescale` to 90 kHz, rounded to nearest with halves away from zero
/// (as ffmpeg's av_rescale), plus [`TIMESTAMP_OFFSET`]. Unwrapped; `None` on overflow.
pub fn to_90k(t: i64, timescale: u32) -> Option<i64> {
    // The usual case in 64 bits (a 128-bit division per sample showed in plans' profiles).
    let d = i64::from(timescale);
    if let Some(n) = t.checked_mul(90_000).filter(|&n| n >= 0 && d > 0) {
        if let Some(rounded) = n.checked_add(d / 2) {
            return (rounded / d).checked_add(TIMESTAMP_OFFSET);
        }
    }
    let d = i128::from(timescale);
    if d == 0 {
        return None;
    }
    let n = i128::from(t) * 90_000;
    let half = d / 2;
    let q = if n >= 0 {
        (n + half) / d
    } else {
        -((-n + half) / d)
    };
    i64::try_from(q).ok()?.checked_add(TIMESTAMP_OFFSET)
}

fn mismatch(config: &CodecConfig, why: &'static str) -> Error {
    Error::FormatMismatch {
        codec: config.name().to_owned(),
        format: "MPEG-TS",
        why,
    }
}

/// Annex B parameter sets (each after a 4-byte start code), in the order given.
fn annexb_param_sets<'a>(sets: impl IntoIterator<Item = &'a bytes::Bytes>) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in sets.into_iter().filter(|n| !n.is_empty()) {
        out.extend_from_slice(&video::START_CODE);
        out.extend_from_slice(nal);
    }
    out
}

/// ISO 639-2 code usable in a language descriptor: three ASCII letters, not "und".
fn language_code(lang: Option<&str>) -> Option<[u8; 3]> {
    let code: [u8; 3] = lang?.as_bytes().try_into().ok()?;
    (code.iter().all(u8::is_ascii_alphabetic) && !code.eq_ignore_ascii_case(b"und"))
        .then(|| code.map(|b| b.to_ascii_lowercase()))
}

/// Changes a track's PMT entry: its stream type and descriptors.
pub type EsHook = dyn Fn(&TrackInfo, &mut u8, &mut Vec<u8>) -> Result<()>;

impl TsMuxer {
    /// A muxer for `tracks`; `Sample::track` of the segments indexes this list.
    ///
    /// Fails with [`Error::FormatMismatch`] for codecs this muxer cannot put in MPEG-TS (AV1,
    /// VP9, Opus) or too many tracks, and [`Error::BadCodecConfig`] for unusable configurations.
    pub fn new(tracks: Vec<TrackInfo>) -> Result<Self> {
        Self::with_es_hook(tracks, &|_, _, _| Ok(()))
    }

    /// [`TsMuxer::new`], with `es` given each track's PMT stream type and descriptors to change
    /// (SAMPLE-AES: Apple's MPEG-2 Stream Encryption Format 2.3).
    pub fn with_es_hook(tracks: Vec<TrackInfo>, es: &EsHook) -> Result<Self> {
        if tracks.is_empty() {
            return Err(Error::NoTracks);
        }
        let first_video = tracks.iter().position(|t| t.kind() == TrackKind::Video);
        let mut next_pid = VIDEO_PID + 1;
        let mut video_ids = 0xE0u8..=0xEF; // video stream_id range (§2.4.3.7, table 2-22)
        let mut audio_ids = 0xC0u8..=0xDF; // MPEG audio stream_id range
        let mut out = Vec::with_capacity(tracks.len());
        let mut entries = Vec::with_capacity(tracks.len());
        for (i, t) in tracks.iter().enumerate() {
            let bad = |msg: String| Error::BadCodecConfig { track: t.id, msg };
            if t.timescale == 0 {
                return Err(bad("timescale is 0".into()));
            }
            let pid = if Some(i) == first_video {
                VIDEO_PID
            } else {
                let p = next_pid;
                next_pid += 1;
                p
            };
            let too_many = || mismatch(&t.config, "too many tracks of this kind for one program");
            let mut descriptors = Vec::new();
            let (stream_type, stream_id, payload) = match &t.config {
                CodecConfig::Avc { sps, pps, in_band } => {
                    if !in_band && (sps.is_empty() || pps.is_empty()) {
                        return Err(bad("avc1 configuration without SPS/PPS".into()));
                    }
                    let param_sets = annexb_param_sets(sps.iter().chain(pps));
                    let id = video_ids.next().ok_or_else(too_many)?;
                    // stream_type 0x1B: AVC video (§2.4.4.9, table 2-34).
                    (
                        0x1B,
                        id,
                        Payload::Video {
                            hevc: false,
                            param_sets,
                        },
                    )
                }
                CodecConfig::Hevc {
                    vps,
                    sps,
                    pps,
                    in_band,
                } => {
                    if !in_band && (vps.is_empty() || sps.is_empty() || pps.is_empty()) {
                        return Err(bad("hvc1 configuration without VPS/SPS/PPS".into()));
                    }
                    let param_sets = annexb_param_sets(vps.iter().chain(sps).chain(pps));
                    let id = video_ids.next().ok_or_else(too_many)?;
                    // stream_type 0x24: HEVC video (table 2-34).
                    (
                        0x24,
                        id,
                        Payload::Video {
                            hevc: true,
                            param_sets,
                        },
                    )
                }
                CodecConfig::Mpeg4Visual { dsi } => {
                    let id = video_ids.next().ok_or_else(too_many)?;
                    // stream_type 0x10: ISO/IEC 14496-2 Visual (table 2-34).
                    (0x10, id, Payload::Mpeg4Visual { dsi: dsi.to_vec() })
                }
                CodecConfig::Aac { asc } => {
                    let asc = aac::parse_asc(asc).map_err(|e| bad(format!("AAC: {e}")))?;
                    aac::adts_header(&asc, 0)
                        .map_err(|e| bad(format!("AAC cannot be written as ADTS: {e}")))?;
                    let id = audio_ids.next().ok_or_else(too_many)?;
                    // stream_type 0x0F: ISO/IEC 13818-7 audio with ADTS transport syntax.
                    (0x0F, id, Payload::Aac(asc))
                }
                CodecConfig::Mp3 => {
                    let id = audio_ids.next().ok_or_else(too_many)?;
                    // 0x03: ISO/IEC 11172-3 (MPEG-1, 32/44.1/48 kHz); 0x04: ISO/IEC 13818-3
                    // (MPEG-2/2.5 lower sampling rates).
                    let st = match t.sample_rate {
                        0 | 32_000 | 44_100 | 48_000 => 0x03,
                        _ => 0x04,
                    };
                    (st, id, Payload::Frames)
                }
                CodecConfig::Ac3 { .. } => {
                    // ATSC A/52 Annex A: stream_type 0x81, private_stream_1, 'AC-3' registration.
                    psi::registration_descriptor(b"AC-3", &mut descriptors);
                    (0x81, 0xBD, Payload::Frames)
                }
                CodecConfig::Eac3 { .. } => {
                    // ATSC A/52 Annex G: stream_type 0x87, 'EAC3' registration (as Apple writes).
                    psi::registration_descriptor(b"EAC3", &mut descriptors);
                    (0x87, 0xBD, Payload::Frames)
                }
                CodecConfig::Av1 { .. } => {
                    return Err(mismatch(&t.config, "HLS carries AV1 in fMP4 only"));
                }
                CodecConfig::Vp9 { .. } => {
                    return Err(mismatch(&t.config, "HLS carries VP9 in fMP4 only"));
                }
                CodecConfig::Opus { .. } => {
                    return Err(mismatch(&t.config, "HLS carries Opus in fMP4 only"));
                }
            };
            if t.kind() == TrackKind::Audio {
                if let Some(code) = language_code(t.language.as_deref()) {
                    psi::language_descriptor(&code, &mut descriptors);
                }
            }
            let mut stream_type = stream_type;
            es(t, &mut stream_type, &mut descriptors)?;
            entries.push(EsEntry {
                stream_type,
                pid,
                descriptors,
            });
            out.push(Track {
                id: t.id,
                pid,
                stream_id,
                timescale: t.timescale,
                payload,
                cc: Continuity::default(),
                group: AudioGroup::default(),
            });
        }
        let pcr_track = first_video.unwrap_or(0);
        let pcr_pid = out.get(pcr_track).map_or(VIDEO_PID, |t| t.pid);
        let pmt = psi::pmt_section(pcr_pid, &entries).map_err(|_| Error::FormatMismatch {
            codec: format!("{} tracks", tracks.len()),
            format: "MPEG-TS",
            why: "the program map table would exceed one section",
        })?;
        Ok(TsMuxer {
            tracks: out,
            pcr_track,
            key_track: first_video,
            keyframes: Vec::new(),
            pat: psi::pat_section(PMT_PID),
            pmt,
            pat_cc: Continuity::default(),
            pmt_cc: Continuity::default(),
            last_pcr: None,
            segment_needs_pcr: false,
            pes: Vec::new(),
            order: Vec::new(),
            count_only: false,
            counted: 0,
        })
    }

    /// Bytes of the PAT and PMT packets that open every segment: the initialization section
    /// of a segment (EXT-X-MAP of an I-frame playlist, RFC 8216bis §4.4.3.6).
    pub fn psi_len(&self) -> u64 {
        let packets = |section: &[u8]| (section.len() + 1).div_ceil(packet::PACKET_SIZE - 4).max(1);
        ((packets(&self.pat) + packets(&self.pmt)) * packet::PACKET_SIZE) as u64
    }

    /// Writes one PES (`pes`; counted, not written, while the muxer only counts) on track `t`,
    /// preceded by whatever the PCR schedule needs. `dts` is the unwrapped 90 kHz DTS of the
    /// PES. Returns where in `out` the PES's first packet starts (after any PCR-only packets).
    fn emit(
        &mut self,
        out: &mut Vec<u8>,
        t: usize,
        dts: i64,
        random_access: bool,
        pes: Pes<'_>,
    ) -> usize {
        let clock = dts.saturating_sub(PCR_DELAY);
        let (pcr_pid, pcr_cc) = self
            .tracks
            .get(self.pcr_track)
            .map_or((VIDEO_PID, Continuity::default()), |p| (p.pid, p.cc));
        // PCR at least every 100 ms (ISO/IEC 13818-1 §2.7.2): if time moved on further since
        // the last PCR, step the clock forward with PCR-only packets.
        if let Some(mut last) = self.last_pcr {
            let gap = clock.saturating_sub(last);
            if gap > PCR_MAX_INTERVAL && gap <= PCR_MAX_FILL {
                while clock.saturating_sub(last) > PCR_MAX_INTERVAL {
                    last = last.saturating_add(PCR_MAX_INTERVAL);
                    packet::write_pcr_only(out, pcr_pid, pcr_cc, packet::wrap33(last));
                }
                self.last_pcr = Some(last);
            }
        }
        let on_pcr_pid = t == self.pcr_track;
        let mut pcr = None;
        if on_pcr_pid || self.segment_needs_pcr {
            // Never decreasing, even when the input's interleaving is off.
            let value = self.last_pcr.map_or(clock, |l| l.max(clock));
            self.last_pcr = Some(value);
            if on_pcr_pid {
                pcr = Some(packet::wrap33(value));
            } else {
                // Each segment carries a PCR before its first PES, so it decodes on its own.
                packet::write_pcr_only(out, pcr_pid, pcr_cc, packet::wrap33(value));
            }
            self.segment_needs_pcr = false;
        }
        let pes_start = self.position(out);
        if let Some(track) = self.tracks.get_mut(t) {
            let start = StartFlags { random_access, pcr };
            match pes {
                Pes::Parts(parts) if !self.count_only => {
                    packet::write_pes_parts(out, track.pid, &mut track.cc, parts, start);
                }
                _ => self.counted += packet::count_pes(&mut track.cc, pes.len(), start),
            }
        }
        pes_start
    }

    /// Where the next byte goes: the end of `out`, after the bytes counted, not written.
    fn position(&self, out: &[u8]) -> usize {
        out.len() + self.counted
    }

    /// Runs `write` (one segment), and on error puts the muxer state (continuity counters,
    /// audio groups, PCR) back as before.
    fn guarded(&mut self, write: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let counters: Vec<Continuity> = self.tracks.iter().map(|t| t.cc).collect();
        let saved = (self.pat_cc, self.pmt_cc, self.last_pcr);
        let result = write(self);
        if result.is_err() {
            for (t, cc) in self.tracks.iter_mut().zip(counters) {
                t.cc = cc;
                t.group.clear();
            }
            (self.pat_cc, self.pmt_cc, self.last_pcr) = saved;
        }
        result
    }

    /// The bytes [`Self::write_segment_streaming`] would write for `segment`, with the same
    /// effect on the muxer (continuity counters, PCR, keyframes), without writing its PES
    /// packets: they are counted ([`packet::count_pes`]); only PAT, PMT and PCR-only packets
    /// go through `buf`. Planning just-in-time output measures segments this way
    /// (`package::jit`), where the payloads are skeletons whose bytes no one reads.
    pub fn count_segment(&mut self, segment: &Segment, buf: &mut Vec<u8>) -> Result<u64> {
        buf.clear();
        (self.count_only, self.counted) = (true, 0);
        let result = self.guarded(|m| m.write_segment_inner(segment, buf, 0, None));
        let bytes = self.position(buf) as u64;
        (self.count_only, self.counted) = (false, 0);
        buf.clear();
        result.map(|()| bytes)
    }

    /// Like [`SegmentMuxer::write_segment`], but the segment leaves in pieces: whenever `buf`
    /// holds [`SPILL_BYTES`] or more, its content is handed to `spill` and `buf` is cleared, and
    /// the rest goes out at the end. A small buffer that stays in the CPU cache between being
    /// filled and being written out costs far less memory bandwidth than a whole segment
    /// (several MiB) built in memory first.
    ///
    /// On error the muxer state is as before the call (as for `write_segment`), but pieces
    /// already handed to `spill` are out: the caller discards the object.
    pub fn write_segment_streaming(
        &mut self,
        segment: &Segment,
        buf: &mut Vec<u8>,
        spill: &mut Spill<'_>,
    ) -> Result<()> {
        buf.clear();
        let result = self.guarded(|m| {
            m.write_segment_inner(segment, buf, 0, Some(&mut *spill))
                .and_then(|()| if buf.is_empty() { Ok(()) } else { spill(buf) })
        });
        buf.clear();
        result
    }

    /// Writes `segment` after the `base` bytes already in `out`, handing `out` to `spill` (if
    /// any) whenever it is full, and records the keyframes of the segment.
    fn write_segment_inner(
        &mut self,
        segment: &Segment,
        out: &mut Vec<u8>,
        base: usize,
        mut spill: Option<&mut Spill<'_>>,
    ) -> Result<()> {
        self.keyframes.clear();
        let result = self.write_samples(segment, out, base, spill.take());
        if result.is_err() {
            self.keyframes.clear();
        }
        result
    }

    fn write_samples(
        &mut self,
        segment: &Segment,
        out: &mut Vec<u8>,
        base: usize,
        mut spill: Option<&mut Spill<'_>>,
    ) -> Result<()> {
        // Writing order: by DTS (90 kHz), ties in arrival order (Apple 7.2: interleaved A/V).
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        for (i, s) in segment.samples.iter().enumerate() {
            let track = self.tracks.get(s.track).ok_or_else(|| Error::BadSample {
                track: u32::try_from(s.track).unwrap_or(u32::MAX),
                sample: i as u64,
                dts: s.dts,
                msg: format!(
                    "segment {}: sample of track index {} but the TS muxer has {} tracks",
                    segment.index,
                    s.track,
                    self.tracks.len()
                ),
            })?;
            let dts = to_90k(s.dts, track.timescale).ok_or_else(|| Error::BadSample {
                track: track.id,
                sample: i as u64,
                dts: s.dts,
                msg: format!("segment {}: DTS out of the 90 kHz range", segment.index),
            })?;
            order.push((dts, i));
        }
        order.sort_unstable();

        // Every segment starts with PAT and PMT (RFC 8216bis §3.3; Apple 7.3).
        packet::write_section(out, psi::PAT_PID, &mut self.pat_cc, &self.pat);
        packet::write_section(out, PMT_PID, &mut self.pmt_cc, &self.pmt);
        self.segment_needs_pcr = true;

        // Segment offset of `out[0]`: bytes handed to `spill` so far, minus what `out` held
        // before the segment.
        let mut origin = -(base as i128);
        let mut key_track_written = false;
        let mut result = Ok(());
        for &(dts, i) in &order {
            let Some(s) = segment.samples.get(i) else {
                continue;
            };
            let t = s.track;
            let is_video = matches!(
                self.tracks.get(t).map(|tr| &tr.payload),
                Some(Payload::Video { .. } | Payload::Mpeg4Visual { .. })
            );
            result = if is_video {
                self.write_video(out, t, dts, s).map(|pes| {
                    if Some(t) == self.key_track {
                        if s.keyframe {
                            // An I-frame playlist entry (RFC 8216bis §4.4.3.6): the whole PES, from
                            // its first packet to the end of its last; for the keyframe that opens
                            // the segment, from PAT/PMT on, so it decodes on its own.
                            let end = origin + pes.end as i128;
                            let start = if key_track_written {
                                origin + pes.start as i128
                            } else {
                                0
                            };
                            self.keyframes.push(KeyframeRange {
                                dts: s.dts,
                                pts: s.pts(),
                                offset: u64::try_from(start).unwrap_or(0),
                                length: u64::try_from(end - start).unwrap_or(0),
                            });
                        }
                        key_track_written = true;
                    }
                })
            } else {
                self.push_audio(out, t, dts, s)
            }
            .map_err(|msg| {
                let id = self.tracks.get(t).map_or(0, |tr| tr.id);
                Error::BadSample {
                    track: id,
                    sample: i as u64,
                    dts: s.dts,
                    msg: format!("segment {}: {msg}", segment.index),
                }
            });
            if result.is_err() {
                break;
            }
            if let Some(spill) = spill.as_mut().filter(|_| out.len() >= SPILL_BYTES) {
                result = spill(out);
                origin += out.len() as i128;
                out.clear();
                if result.is_err() {
                    break;
                }
            }
        }
        self.order = order;
        result?;
        self.flush_all_audio(out)
            .map_err(|(t, msg)| Error::BadSample {
                track: self.tracks.get(t).map_or(0, |tr| tr.id),
                sample: segment.samples.len() as u64,
                dts: segment.start,
                msg: format!("segment {}: {msg}", segment.index),
            })
    }
}

impl SegmentMuxer for TsMuxer {
    fn init_segment(&mut self) -> Result<Option<bytes::Bytes>> {
        Ok(None)
    }

    /// Appends the segment. On error nothing is appended and the muxer state (continuity
    /// counters, PCR) is as before the call.
    fn write_segment(&mut self, segment: &Segment, out: &mut Vec<u8>) -> Result<()> {
        let start_len = out.len();
        let result = self.guarded(|m| m.write_segment_inner(segment, out, start_len, None));
        if result.is_err() {
            out.truncate(start_len);
        }
        result
    }

    fn segment_extension(&self) -> &'static str {
        "ts"
    }

    fn keyframes(&self) -> &[KeyframeRange] {
        &self.keyframes
    }
}
