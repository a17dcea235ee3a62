// SPDX-License-Identifier: MIT OR Apache-2.0
//! The hot path: one movie fragment (`moof` + `mdat`) for a run of samples.
//!
//! Written by hand rather than through `mp4-atom`'s `Moof`/`Trun`/`Mdat` structs: those want a
//! `Vec<TrunEntry>` per run and an owned `Vec<u8>` mdat body, i.e. an allocation per fragment
//! per track plus a second copy of every payload byte. Here every size is computed up front
//! from one planning pass, so the boxes are written straight into the caller's buffer with no
//! size patching, and each sample's bytes are copied exactly once, into the `mdat` — or not at
//! all: [`write_head`] + [`payload`] let a caller write the sample buffers out directly
//! (vectored I/O) after the boxes.
//!
//! Layout (ISO/IEC 14496-12 §8.8; CMAF ISO/IEC 23000-19 §7.3.2.3):
//! ```text
//! moof
//!   mfhd                       sequence_number
//!   traf (one per track with samples, in track order)
//!     tfhd  flags 0x020000     default-base-is-moof, track_ID only
//!     tfdt  version 1          baseMediaDecodeTime (64-bit)
//!     trun  version 1 flags 0x000F01
//!           data_offset + per sample: duration, size, flags, signed composition offset
//! mdat                         track after track, in traf order
//! ```

use super::cenc::TrafCrypt;
use crate::error::{Error, Result};
use crate::sample::Sample;

/// `sample_flags` of a random access point: sample_depends_on = 2 (does not depend on others),
/// sample_is_non_sync_sample = 0 (ISO/IEC 14496-12 §8.8.3.1).
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_flags` of a non-sync sample: sample_depends_on = 1, sample_is_non_sync_sample = 1.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// tfhd flags: default-base-is-moof (ISO/IEC 14496-12 §8.8.7.1), required by CMAF §7.5.16.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// trun flags: data-offset-present | sample-duration-present | sample-size-present |
/// sample-flags-present | sample-composition-time-offsets-present (§8.8.8.1).
const TRUN_FLAGS: u32 = 0x00_0F01;

const MFHD_SIZE: u64 = 16;
const TFHD_SIZE: u64 = 16;
const TFDT_V1_SIZE: u64 = 20;
const TRUN_HEADER_SIZE: u64 = 20;
const TRUN_ENTRY_SIZE: u64 = 16;
const BOX_HEADER: u64 = 8;

/// What the muxer knows about one output track across fragments.
#[derive(Debug, Clone)]
pub(super) struct TrackState {
    /// Index of the track in the demuxer's list (`Sample::track`).
    pub input: usize,
    /// track_ID written in tkhd/tfhd/trex (1-based position in the muxer).
    pub track_id: u32,
    /// Track id of the input, for error messages.
    pub input_id: u32,
    pub is_video: bool,
    /// Added to every decode time so the first one is not negative; fixed on the track's
    /// first fragment.
    pub shift: Option<i64>,
    /// Decode time (shifted) the next fragment is expected to start at.
    pub next_decode: Option<i64>,
    /// Samples written so far (indexes in error messages).
    pub written: u64,
    /// Per-fragment scratch, filled by [`plan`].
    pub plan: TrackPlan,
    /// cbcs: the track's `saiz`/`saio`/`senc` of the fragment, filled by [`plan`].
    pub crypt: Option<TrafCrypt>,
}

/// One track's share of the fragment being written.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TrackPlan {
    pub count: u32,
    pub bytes: u64,
    pub first_dts: i64,
    pub last_dts: i64,
    pub last_duration: u32,
    pub shift: i64,
    /// tfdt: `first_dts + shift`.
    pub base: u64,
    /// Offset of this track's first payload byte from the start of the moof.
    pub data_offset: i32,
}

impl TrackState {
    pub fn new(input: usize, track_id: u32, input_id: u32, is_video: bool) -> Self {
        TrackState {
            input,
            track_id,
            input_id,
            is_video,
            shift: None,
            next_decode: None,
            written: 0,
            plan: TrackPlan::default(),
            crypt: None,
        }
    }

    /// Bytes of the `traf` as planned.
    fn traf_size(&self) -> u64 {
        BOX_HEADER
            + TFHD_SIZE
            + TFDT_V1_SIZE
            + TRUN_HEADER_SIZE
            + TRUN_ENTRY_SIZE * u64::from(self.plan.count)
            + self.crypt.as_ref().map_or(0, TrafCrypt::size)
    }

    fn bad_sample(&self, index: u32, dts: i64, msg: impl Into<String>) -> Error {
        Error::BadSample {
            track: self.input_id,
            sample: self.written.saturating_add(u64::from(index)),
            dts,
            msg: msg.into(),
        }
    }
}

/// Sizes of the fragment about to be written.
#[derive(Debug, Clone, Copy)]
pub(super) struct FragmentPlan {
    pub moof_size: u32,
    pub mdat_header: u64,
    pub payload: u64,
}

impl FragmentPlan {
    pub fn total(&self) -> u64 {
        u64::from(self.moof_size)
            .saturating_add(self.mdat_header)
            .saturating_add(self.payload)
    }
}

/// Maps `Sample::track` to an output slot: `Some(slot)`, `None` for tracks this muxer skips.
pub(super) type SlotMap = [Option<usize>];

/// Pass 1: counts samples and bytes per track, checks decode order and fixes each track's
/// timeline shift. Nothing is written and no muxer state is committed.
pub(super) fn plan(
    tracks: &mut [TrackState],
    slots: &SlotMap,
    samples: &[Sample],
) -> Result<FragmentPlan> {
    for t in tracks.iter_mut() {
        t.plan = TrackPlan::default();
        if let Some(c) = &mut t.crypt {
            c.clear();
        }
    }
    for s in samples {
        let Some(slot) = slot_of(slots, s)? else {
            continue;
        };
        let Some(t) = tracks.get_mut(slot) else {
            continue;
        };
        let index = t.plan.count;
        if u32::try_from(s.data.len()).is_err() {
            return Err(t.bad_sample(index, s.dts, "sample larger than 4 GiB"));
        }
        if index > 0 && s.dts < t.plan.last_dts {
            let msg = format!(
                "decode time goes backwards (previous sample dts {})",
                t.plan.last_dts
            );
            return Err(t.bad_sample(index, s.dts, msg));
        }
        if index == 0 {
            t.plan.first_dts = s.dts;
        }
        t.plan.count = index
            .checked_add(1)
            .ok_or_else(|| t.bad_sample(index, s.dts, "more than 2^32 samples in a fragment"))?;
        t.plan.last_dts = s.dts;
        t.plan.last_duration = s.duration;
        t.plan.bytes = t.plan.bytes.saturating_add(s.data.len() as u64);
        if let Some(c) = &mut t.crypt {
            if let Err(e) = c.add_sample(&s.data) {
                return Err(t.bad_sample(index, s.dts, format!("cbcs subsamples: {e}")));
            }
            if !c.sizes_fit() {
                let msg = "too many NAL units or tiles for one cbcs senc entry (saiz sizes are \
                           8 bits)";
                return Err(t.bad_sample(index, s.dts, msg));
            }
        }
    }

    let mut moof: u64 = BOX_HEADER + MFHD_SIZE;
    let mut payload: u64 = 0;
    for t in tracks.iter_mut().filter(|t| t.plan.count > 0) {
        // A negative first decode time (B-frames behind an edit list) cannot be written in
        // tfdt, which is unsigned: shift the decode timeline of this track once, on its first
        // fragment, and take the shift back out of every composition offset so presentation
        // times stay equal to the input's (A/V sync is kept).
        let shift = t
            .shift
            .unwrap_or_else(|| t.plan.first_dts.saturating_neg().max(0));
        t.plan.shift = shift;
        let base = t.plan.first_dts.checked_add(shift).unwrap_or(-1);
        t.plan.base = u64::try_from(base).map_err(|_| {
            let msg = format!(
                "decode time lies before the track's first sample (timeline shift {shift})"
            );
            t.bad_sample(0, t.plan.first_dts, msg)
        })?;
        // Apple HLS authoring spec 7.3: tfdt continues from the previous segment. The sample
        // dts is the truth and is written as is; a mismatch means the input has a gap or an
        // overlap, which is worth a warning.
        if let Some(expected) = t.next_decode.filter(|&e| e != base) {
            tracing::warn!(
                track = t.input_id,
                expected,
                got = base,
                "fMP4: decode time jumps by {} ticks between fragments",
                i128::from(base) - i128::from(expected)
            );
        }
        moof += t.traf_size();
        payload = payload.saturating_add(t.plan.bytes);
    }
    let moof_size = u32::try_from(moof).map_err(|_| {
        Error::mp4(
            format!("moof of {moof} bytes does not fit a 32-bit size"),
            0,
        )
    })?;
    // ISO/IEC 14496-12 §4.2: a box over 4 GiB uses size = 1 and a 64-bit largesize.
    let mdat_header = if payload.saturating_add(BOX_HEADER) > u64::from(u32::MAX) {
        16
    } else {
        BOX_HEADER
    };
    let mut offset = u64::from(moof_size) + mdat_header;
    for t in tracks.iter_mut().filter(|t| t.plan.count > 0) {
        t.plan.data_offset = i32::try_from(offset).map_err(|_| {
            Error::mp4(
                format!(
                    "track {}: data offset {offset} exceeds trun's 32-bit field",
                    t.input_id
                ),
                0,
            )
        })?;
        offset = offset.saturating_add(t.plan.bytes);
    }
    Ok(FragmentPlan {
        moof_size,
        mdat_header,
        payload,
    })
}

/// Pass 2 and 3: writes `moof` then `mdat` as planned. On error the caller truncates `out`.
pub(super) fn write(
    tracks: &[TrackState],
    samples: &[Sample],
    plan: &FragmentPlan,
    sequence_number: u32,
    out: &mut Vec<u8>,
) -> Result<()> {
    let total = plan.total();
    usize::try_from(total)
        .ok()
        .and_then(|n| out.try_reserve(n).ok())
        .ok_or_else(|| Error::mp4(format!("cannot allocate a {total}-byte fragment"), 0))?;
    write_head(tracks, samples, plan, sequence_number, out)?;
    for part in payload(tracks, samples) {
        out.extend_from_slice(part);
    }
    Ok(())
}

/// The `mdat` payload in the order [`write_head`] describes it: the samples of each track with
/// samples, track after track in traf order.
pub(super) fn payload<'s>(tracks: &[TrackState], samples: &'s [Sample]) -> Vec<&'s [u8]> {
    let mut parts = Vec::with_capacity(samples.len());
    for t in tracks.iter().filter(|t| t.plan.count > 0) {
        parts.extend(
            samples
                .iter()
                .filter(|s| s.track == t.input)
                .map(|s| &s.data[..]),
        );
    }
    parts
}

/// Pass 2: writes `moof` and the `mdat` header as planned; the payload ([`payload`]) follows.
/// On error the caller truncates `out`.
pub(super) fn write_head(
    tracks: &[TrackState],
    samples: &[Sample],
    plan: &FragmentPlan,
    sequence_number: u32,
    out: &mut Vec<u8>,
) -> Result<()> {
    let moof_start = out.len();
    box_header(out, plan.moof_size, b"moof");
    box_header(out, MFHD_SIZE as u32, b"mfhd");
    put_u32(out, 0); // version 0, flags 0
    put_u32(out, sequence_number);

    for t in tracks.iter().filter(|t| t.plan.count > 0) {
        let p = &t.plan;
        let trun_size = TRUN_HEADER_SIZE + TRUN_ENTRY_SIZE * u64::from(p.count);
        let traf_size = t.traf_size();
        // Both fit: they are parts of the moof, whose size was checked by `plan`.
        box_header(out, traf_size as u32, b"traf");

        box_header(out, TFHD_SIZE as u32, b"tfhd");
        put_u32(out, TFHD_DEFAULT_BASE_IS_MOOF);
        put_u32(out, t.track_id);

        box_header(out, TFDT_V1_SIZE as u32, b"tfdt");
        put_u32(out, 1 << 24); // version 1
        put_u64(out, p.base);

        box_header(out, trun_size as u32, b"trun");
        put_u32(out, (1 << 24) | TRUN_FLAGS); // version 1: signed composition offsets
        put_u32(out, p.count);
        put_u32(out, p.data_offset as u32);

        let mut index = 0u32;
        let mut run = samples.iter().filter(|s| s.track == t.input).peekable();
        while let Some(s) = run.next() {
            // Durations come from the decode times of consecutive samples, so the written
            // timeline reproduces the input's dts exactly (no accumulated rounding, hls.js#2545);
            // the last sample of the run uses its own duration.
            let duration = match run.peek() {
                Some(next) => next
                    .dts
                    .checked_sub(s.dts)
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(|| {
                        let msg = format!("next sample dts {} too far away", next.dts);
                        t.bad_sample(index, s.dts, msg)
                    })?,
                None => s.duration,
            };
            let cts = i64::from(s.cts_offset)
                .checked_sub(p.shift)
                .and_then(|c| i32::try_from(c).ok())
                .ok_or_else(|| {
                    let msg = format!(
                        "composition offset {} minus timeline shift {} does not fit 32 bits",
                        s.cts_offset, p.shift
                    );
                    t.bad_sample(index, s.dts, msg)
                })?;
            let flags = if s.keyframe || !t.is_video {
                SYNC_SAMPLE_FLAGS
            } else {
                NON_SYNC_SAMPLE_FLAGS
            };
            put_u32(out, duration);
            put_u32(out, s.data.len() as u32); // checked by `plan`
            put_u32(out, flags);
            out.extend_from_slice(&cts.to_be_bytes());
            index = index.saturating_add(1);
        }
        if let Some(c) = &t.crypt {
            c.write(p.count, moof_start, out);
        }
    }

    let mdat_size = plan.mdat_header.saturating_add(plan.payload);
    if plan.mdat_header == 16 {
        box_header(out, 1, b"mdat");
        put_u64(out, mdat_size);
    } else {
        box_header(out, mdat_size as u32, b"mdat");
    }
    Ok(())
}

/// Looks up the slot of a sample's track; samples of tracks outside the table are a caller bug.
fn slot_of(slots: &SlotMap, s: &Sample) -> Result<Option<usize>> {
    match slots.get(s.track) {
        Some(slot) => Ok(*slot),
        None => Err(Error::BadSample {
            track: u32::try_from(s.track).unwrap_or(u32::MAX),
            sample: 0,
            dts: s.dts,
            msg: format!(
                "sample names track index {} but the muxer knows {} tracks",
                s.track,
                slots.len()
            ),
        }),
    }
}

pub(super) fn box_header(out: &mut Vec<u8>, size: u32, kind: &[u8; 4]) {
    put_u32(out, size);
    out.extend_from_slice(kind);
}

pub(super) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}
