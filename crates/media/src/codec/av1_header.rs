// SPDX-License-Identifier: MIT OR Apache-2.0
//! Where the tiles of an AV1 temporal unit are (AV1 Bitstream & Decoding Process Specification
//! v1.0.0 with Errata 1, "the AV1 spec" below), for Common Encryption (AV1-ISOBMFF v1.2.0 §7:
//! each tile's `decode_tile()` is a protected range, everything before it clear).
//!
//! A tile starts after the frame header and the tile group header, so finding it means parsing
//! the whole uncompressed header (§5.9.2) to its last bit: its length depends on the sequence
//! header (§5.5, from `av1C`'s configOBUs or in-band) and on the reference state left by the
//! frames before it in decode order (§7.20: each slot's frame type, order hint, frame size and
//! segmentation features), which [`Av1Parser`] keeps. Per sample (a temporal unit, §7.5):
//!
//! - OBUs (§5.3) are walked by their headers and `obu_size`; only OBU_FRAME (§5.10) and
//!   OBU_TILE_GROUP (§5.11.1) hold tiles. OBU_FRAME_HEADER starts a frame whose tile groups
//!   follow; a redundant or repeated frame header is a copy (§5.9.1) and is not parsed again.
//! - tile_info (§5.9.15) gives TileCols, TileRows and TileSizeBytes; the tile group header
//!   (§5.11.1) gives the group's first and last tile, each tile but the last is preceded by its
//!   `tile_size_minus_1` (le(TileSizeBytes)), the last runs to the end of the OBU.
//!
//! What decoding needs but the header's bit length does not (CDFs, loop filter deltas, global
//! motion references, film grain tables) is not kept. Anything the parser cannot follow —
//! truncation, a reference slot never filled, values out of the spec's range, large-scale tile
//! OBUs — is an error naming the byte offset, never a guess.

use super::bits::BitReader;

const NUM_REF_FRAMES: usize = 8;
const REFS_PER_FRAME: usize = 7;
const PRIMARY_REF_NONE: u32 = 7;
const SELECT: u32 = 2;
const KEY_FRAME: u32 = 0;
const INTER_FRAME: u32 = 1;
const INTRA_ONLY_FRAME: u32 = 2;
const SWITCH_FRAME: u32 = 3;
const MAX_TILE_WIDTH: u32 = 4096;
const MAX_TILE_AREA: u32 = 4096 * 2304;
const MAX_TILE_COLS: u32 = 64;
const MAX_TILE_ROWS: u32 = 64;
/// Segmentation feature bits, signedness (§5.9.14 Segmentation_Feature_Bits/_Signed).
const SEG_FEATURE_BITS: [u32; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
const SEG_FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
const SEG_FEATURE_MAX: [i32; 8] = [255, 63, 63, 63, 63, 7, 0, 0];

/// OBU types (§6.2.2, Table "obu_type").
pub const OBU_SEQUENCE_HEADER: u8 = 1;
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
pub const OBU_FRAME_HEADER: u8 = 3;
pub const OBU_TILE_GROUP: u8 = 4;
pub const OBU_FRAME: u8 = 6;
pub const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
pub const OBU_TILE_LIST: u8 = 8;

/// The sequence header fields the frame header's syntax depends on (§5.5).
/// What a reference slot keeps that a later frame header's length depends on (§7.20).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RefSlot {
    valid: bool,
    frame_type: u32,
    order_hint: u32,
    upscaled_width: u32,
    frame_height: u32,
    /// FeatureEnabled / FeatureData of segmentation (§5.9.14), for get_qindex().
    feature_enabled: [[bool; 8]; 8],
    feature_data: [[i32; 8]; 8],
}

/// The tile layout of the frame being decoded (§5.9.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileLayout {
    pub cols: u32,
    pub rows: u32,
    pub cols_log2: u32,
    pub rows_log2: u32,
    pub size_bytes: u32,
}

impl TileLayout {
    pub fn count(&self) -> u32 {
        self.cols * self.rows
    }
}

/// A parsed frame header: its length in bytes (with byte_alignment(), for OBU_FRAME) and,
/// unless it shows an existing frame, the tile layout its tile groups follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The uncompressed header's length in bits.
    pub bits: usize,
    pub bytes: usize,
    pub tiles: Option<TileLayout>,
}

/// The state of one AV1 track across its samples in decode order.
#[derive(Debug, Clone, Default)]
pub struct Av1Parser {
    seq: Option<SequenceHeader>,
    refs: [RefSlot; NUM_REF_FRAMES],
}

/// The current frame while its uncompressed header is read.
#[derive(Default)]
struct Frame {
    frame_type: u32,
    intra: bool,
    show_frame: bool,
    showable_frame: bool,
    error_resilient: bool,
    allow_screen_content_tools: bool,
    force_integer_mv: bool,
    frame_size_override: bool,
    order_hint: u32,
    primary_ref_frame: u32,
    refresh: u32,
    ref_frame_idx: [usize; REFS_PER_FRAME],
    frame_width: u32,
    frame_height: u32,
    upscaled_width: u32,
    mi_cols: u32,
    mi_rows: u32,
    allow_intrabc: bool,
    allow_high_precision_mv: bool,
    feature_enabled: [[bool; 8]; 8],
    feature_data: [[i32; 8]; 8],
}

impl Av1Parser {
    /// The sequence header in force, once one was seen.
    pub fn sequence_header(&self) -> Option<&SequenceHeader> {
        self.seq.as_ref()
    }

    /// An OBU_SEQUENCE_HEADER's payload replaces the one in force.
    pub fn set_sequence_header(&mut self, payload: &[u8]) -> Result<(), String> {
        self.seq = Some(SequenceHeader::parse(payload)?);
        Ok(())
    }

    /// frame_header_obu() / uncompressed_header() (§5.9.1, §5.9.2) from `payload`, the OBU's
    /// payload, for the OBU's `temporal_id`/`spatial_id`. Updates the reference slots as the
    /// reference frame update process will (§7.20), once the frame is decoded.
    pub fn frame_header(
        &mut self,
        payload: &[u8],
        temporal_id: u32,
        spatial_id: u32,
    ) -> Result<FrameHeader, String> {
        // Taken out while the header is read (the reference slots change under it), put back.
        let seq = self
            .seq
            .take()
            .ok_or("a frame header before any sequence header")?;
        let header = self.uncompressed_header(&seq, payload, temporal_id, spatial_id);
        self.seq = Some(seq);
        header
    }

    fn uncompressed_header(
        &mut self,
        seq: &SequenceHeader,
        payload: &[u8],
        temporal_id: u32,
        spatial_id: u32,
    ) -> Result<FrameHeader, String> {
        let r = &mut BitReader::new(payload);
        let mut f = Frame::default();
        let all_frames = (1u32 << NUM_REF_FRAMES) - 1;
        if seq.reduced_still_picture_header {
            f.frame_type = KEY_FRAME;
            f.intra = true;
            f.show_frame = true;
        } else {
            if r.flag("show_existing_frame")? {
                return self.show_existing_frame(r, seq);
            }
            frame_kind(r, seq, &mut f)?;
        }
        if f.frame_type == KEY_FRAME && f.show_frame {
            for slot in &mut self.refs {
                slot.valid = false;
                slot.order_hint = 0;
            }
        }
        let disable_cdf_update = r.flag("disable_cdf_update")?;
        f.allow_screen_content_tools = if seq.seq_force_screen_content_tools == SELECT {
            r.flag("allow_screen_content_tools")?
        } else {
            seq.seq_force_screen_content_tools == 1
        };
        if f.allow_screen_content_tools {
            f.force_integer_mv = if seq.seq_force_integer_mv == SELECT {
                r.flag("force_integer_mv")?
            } else {
                seq.seq_force_integer_mv == 1
            };
        }
        if f.intra {
            f.force_integer_mv = true;
        }
        if seq.frame_id_numbers_present {
            r.skip(seq.frame_id_length as usize, "current_frame_id")?;
        }
        f.frame_size_override = if f.frame_type == SWITCH_FRAME {
            true
        } else if seq.reduced_still_picture_header {
            false
        } else {
            r.flag("frame_size_override_flag")?
        };
        f.order_hint = r.bits(seq.order_hint_bits, "order_hint")?;
        f.primary_ref_frame = if f.intra || f.error_resilient {
            PRIMARY_REF_NONE
        } else {
            r.bits(3, "primary_ref_frame")?
        };
        if seq.decoder_model_info_present && r.flag("buffer_removal_time_present_flag")? {
            buffer_removal_times(r, seq, temporal_id, spatial_id)?;
        }
        f.refresh = if f.frame_type == SWITCH_FRAME || (f.frame_type == KEY_FRAME && f.show_frame) {
            all_frames
        } else {
            r.bits(8, "refresh_frame_flags")?
        };
        if f.frame_type == INTRA_ONLY_FRAME && f.refresh == all_frames {
            return Err("an intra-only frame refreshing every slot (§5.9.2)".into());
        }
        if (!f.intra || f.refresh != all_frames) && f.error_resilient && seq.enable_order_hint {
            self.ref_order_hints(r, seq)?;
        }
        if f.intra {
            self.frame_size(r, seq, &mut f)?;
            render_size(r)?;
            if f.allow_screen_content_tools && f.upscaled_width == f.frame_width {
                f.allow_intrabc = r.flag("allow_intrabc")?;
            }
        } else {
            self.inter_refs(r, seq, &mut f)?;
        }
        self.rest(r, seq, &mut f, disable_cdf_update)
    }

    /// The rest of a frame header with show_existing_frame set (§5.9.2): the frame shown, and
    /// for a key frame the frame loading process (§7.21) that refreshes every slot.
    fn show_existing_frame(
        &mut self,
        r: &mut BitReader<'_>,
        seq: &SequenceHeader,
    ) -> Result<FrameHeader, String> {
        let idx = r.bits(3, "frame_to_show_map_idx")? as usize;
        if seq.decoder_model_info_present && !seq.equal_picture_interval {
            r.skip(
                seq.frame_presentation_time_length as usize,
                "frame_presentation_time",
            )?;
        }
        if seq.frame_id_numbers_present {
            r.skip(seq.frame_id_length as usize, "display_frame_id")?;
        }
        let slot = self.slot(idx)?;
        if slot.frame_type == KEY_FRAME {
            // The frame loading process (§7.21), then refresh_frame_flags = allFrames.
            self.refs = [slot; NUM_REF_FRAMES];
        }
        let bits = r.position();
        r.byte_align();
        Ok(FrameHeader {
            bits,
            bytes: r.position() / 8,
            tiles: None,
        })
    }

    /// ref_order_hint[] of an error-resilient frame (§5.9.2): a slot whose hint differs is one
    /// the decoder does not have any more (§7.20): invalid.
    fn ref_order_hints(
        &mut self,
        r: &mut BitReader<'_>,
        seq: &SequenceHeader,
    ) -> Result<(), String> {
        for slot in &mut self.refs {
            let hint = r.bits(seq.order_hint_bits, "ref_order_hint")?;
            if hint != slot.order_hint {
                slot.valid = false;
                slot.order_hint = hint;
            }
        }
        Ok(())
    }

    fn slot(&self, idx: usize) -> Result<RefSlot, String> {
        match self.refs.get(idx) {
            Some(s) if s.valid => Ok(*s),
            _ => Err(format!(
                "reference slot {idx} holds no frame (the track does not start with a key \
                 frame, or a frame before was not seen)"
            )),
        }
    }

    /// The references of an inter or switch frame: ref_frame_idx, frame size, MV precision,
    /// interpolation filter, motion modes (§5.9.2).
    fn inter_refs(
        &mut self,
        r: &mut BitReader,
        seq: &SequenceHeader,
        f: &mut Frame,
    ) -> Result<(), String> {
        let short_signaling = seq.enable_order_hint && r.flag("frame_refs_short_signaling")?;
        if short_signaling {
            let last = r.bits(3, "last_frame_idx")? as usize;
            let gold = r.bits(3, "gold_frame_idx")? as usize;
            f.ref_frame_idx = self.set_frame_refs(seq, f.order_hint, last, gold);
        }
        for i in 0..REFS_PER_FRAME {
            if !short_signaling {
                f.ref_frame_idx[i] = r.bits(3, "ref_frame_idx")? as usize;
            }
            if seq.frame_id_numbers_present {
                r.skip(seq.delta_frame_id_length as usize, "delta_frame_id_minus_1")?;
            }
        }
        for &idx in &f.ref_frame_idx {
            self.slot(idx)?;
        }
        if f.frame_size_override && !f.error_resilient {
            // frame_size_with_refs() (§5.9.7)
            let mut found = false;
            for i in 0..REFS_PER_FRAME {
                if r.flag("found_ref")? {
                    let slot = self.slot(f.ref_frame_idx[i])?;
                    f.upscaled_width = slot.upscaled_width;
                    f.frame_width = slot.upscaled_width;
                    f.frame_height = slot.frame_height;
                    found = true;
                    break;
                }
            }
            if found {
                superres_params(r, seq, f)?;
            } else {
                self.frame_size(r, seq, f)?;
                render_size(r)?;
            }
        } else {
            self.frame_size(r, seq, f)?;
            render_size(r)?;
        }
        f.allow_high_precision_mv = !f.force_integer_mv && r.flag("allow_high_precision_mv")?;
        if !r.flag("is_filter_switchable")? {
            r.skip(2, "interpolation_filter")?;
        }
        r.skip(1, "is_motion_mode_switchable")?;
        if !f.error_resilient && seq.enable_ref_frame_mvs {
            r.skip(1, "use_ref_frame_mvs")?;
        }
        Ok(())
    }

    /// set_frame_refs() (§7.8): the other references from LAST and GOLDEN by order hint.
    fn set_frame_refs(
        &self,
        seq: &SequenceHeader,
        order_hint: u32,
        last: usize,
        gold: usize,
    ) -> [usize; REFS_PER_FRAME] {
        let mut idx = [None::<usize>; REFS_PER_FRAME];
        idx[0] = Some(last);
        idx[3] = Some(gold); // GOLDEN_FRAME - LAST_FRAME
        let mut used = [false; NUM_REF_FRAMES];
        used[last & 7] = true;
        used[gold & 7] = true;
        let cur = 1i32 << seq.order_hint_bits.saturating_sub(1);
        let hints: Vec<i32> = self
            .refs
            .iter()
            .map(|s| cur + seq.relative_dist(s.order_hint, order_hint))
            .collect();
        // find_latest_backward / find_earliest_backward / find_latest_forward (§7.8)
        let find = |used: &[bool; 8], backward: bool, latest: bool| -> Option<usize> {
            let mut best: Option<(usize, i32)> = None;
            for (i, &h) in hints.iter().enumerate() {
                if used[i] || (h >= cur) != backward {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((_, b)) if latest => h >= b,
                    Some((_, b)) => h < b,
                };
                if better {
                    best = Some((i, h));
                }
            }
            best.map(|(i, _)| i)
        };
        for (slot, latest) in [(6, true), (4, false), (5, false)] {
            // ALTREF, BWDREF, ALTREF2
            if let Some(r) = find(&used, true, latest) {
                idx[slot] = Some(r);
                used[r] = true;
            }
        }
        for slot in [1, 2, 4, 5, 6] {
            // LAST2, LAST3, BWDREF, ALTREF2, ALTREF
            if idx[slot].is_none() {
                if let Some(r) = find(&used, false, true) {
                    idx[slot] = Some(r);
                    used[r] = true;
                }
            }
        }
        let mut earliest: Option<(usize, i32)> = None;
        for (i, &h) in hints.iter().enumerate() {
            if earliest.is_none_or(|(_, e)| h < e) {
                earliest = Some((i, h));
            }
        }
        let fallback = earliest.map_or(0, |(i, _)| i);
        idx.map(|i| i.unwrap_or(fallback))
    }

    /// frame_size() + superres_params() + compute_image_size() (§5.9.5, §5.9.8, §5.9.9).
    fn frame_size(
        &self,
        r: &mut BitReader,
        seq: &SequenceHeader,
        f: &mut Frame,
    ) -> Result<(), String> {
        if f.frame_size_override {
            f.frame_width = r.bits(seq.frame_width_bits, "frame_width_minus_1")? + 1;
            f.frame_height = r.bits(seq.frame_height_bits, "frame_height_minus_1")? + 1;
        } else {
            f.frame_width = seq.max_frame_width;
            f.frame_height = seq.max_frame_height;
        }
        f.upscaled_width = f.frame_width;
        superres_params(r, seq, f)
    }

    /// From tile_info() to the end of the uncompressed header, then the reference update.
    fn rest(
        &mut self,
        r: &mut BitReader,
        seq: &SequenceHeader,
        f: &mut Frame,
        disable_cdf_update: bool,
    ) -> Result<FrameHeader, String> {
        if !(seq.reduced_still_picture_header || disable_cdf_update) {
            r.skip(1, "disable_frame_end_update_cdf")?;
        }
        // load_previous() (§7.20 inverse): segmentation features from the primary reference.
        if f.primary_ref_frame != PRIMARY_REF_NONE {
            let idx = *f
                .ref_frame_idx
                .get(f.primary_ref_frame as usize)
                .ok_or("primary_ref_frame out of range")?;
            let slot = self.slot(idx)?;
            f.feature_enabled = slot.feature_enabled;
            f.feature_data = slot.feature_data;
        }
        let tiles = tile_info(r, seq, f)?;
        let q = quantization_params(r, seq)?;
        let segmentation = segmentation_params(r, f)?;
        // delta_q_params, delta_lf_params (§5.9.17, §5.9.18)
        if q.base_q_idx > 0 && r.flag("delta_q_present")? {
            r.skip(2, "delta_q_res")?;
            if !f.allow_intrabc && r.flag("delta_lf_present")? {
                r.skip(3, "delta_lf_res, delta_lf_multi")?;
            }
        }
        // CodedLossless (§5.9.2 after delta_lf_params): every segment's qindex 0 without deltas.
        let coded_lossless = (0..8).all(|seg| {
            let mut qindex = q.base_q_idx as i32;
            if segmentation && f.feature_enabled[seg][0] {
                qindex = (qindex + f.feature_data[seg][0]).clamp(0, 255);
            }
            qindex == 0 && q.no_deltas
        });
        let all_lossless = coded_lossless && f.frame_width == f.upscaled_width;
        loop_filter_params(r, seq, coded_lossless || f.allow_intrabc)?;
        // cdef_params (§5.9.19)
        if !(coded_lossless || f.allow_intrabc || !seq.enable_cdef) {
            r.skip(2, "cdef_damping_minus_3")?;
            let bits = r.bits(2, "cdef_bits")?;
            let per = if seq.num_planes() > 1 { 12 } else { 6 };
            r.skip(per << bits, "cdef strengths")?;
        }
        lr_params(r, seq, all_lossless || f.allow_intrabc)?;
        if !coded_lossless {
            r.skip(1, "tx_mode_select")?;
        }
        let reference_select = !f.intra && r.flag("reference_select")?;
        if self.skip_mode_allowed(seq, f, reference_select) {
            r.skip(1, "skip_mode_present")?;
        }
        if !(f.intra || f.error_resilient || !seq.enable_warped_motion) {
            r.skip(1, "allow_warped_motion")?;
        }
        r.skip(1, "reduced_tx_set")?;
        if !f.intra {
            global_motion_params(r, f.allow_high_precision_mv)?;
        }
        film_grain_params(r, seq, f)?;
        let bits = r.position();
        r.byte_align();
        if !segmentation {
            f.feature_enabled = [[false; 8]; 8];
            f.feature_data = [[0; 8]; 8];
        }
        let current = RefSlot {
            valid: true,
            frame_type: f.frame_type,
            order_hint: f.order_hint,
            upscaled_width: f.upscaled_width,
            frame_height: f.frame_height,
            feature_enabled: f.feature_enabled,
            feature_data: f.feature_data,
        };
        for (i, slot) in self.refs.iter_mut().enumerate() {
            if (f.refresh >> i) & 1 == 1 {
                *slot = current;
            }
        }
        Ok(FrameHeader {
            bits,
            bytes: r.position() / 8,
            tiles: Some(tiles),
        })
    }

    /// skip_mode_params() (§5.9.22): whether skip_mode_present is read.
    fn skip_mode_allowed(&self, seq: &SequenceHeader, f: &Frame, reference_select: bool) -> bool {
        if f.intra || !reference_select || !seq.enable_order_hint {
            return false;
        }
        let hint = |i: usize| self.refs[f.ref_frame_idx[i] & 7].order_hint;
        let (mut forward, mut backward) = (None::<u32>, None::<u32>);
        for i in 0..REFS_PER_FRAME {
            let h = hint(i);
            let d = seq.relative_dist(h, f.order_hint);
            if d < 0 {
                if forward.is_none_or(|fh| seq.relative_dist(h, fh) > 0) {
                    forward = Some(h);
                }
            } else if d > 0 && backward.is_none_or(|bh| seq.relative_dist(h, bh) < 0) {
                backward = Some(h);
            }
        }
        let Some(forward) = forward else {
            return false;
        };
        if backward.is_some() {
            return true;
        }
        (0..REFS_PER_FRAME).any(|i| seq.relative_dist(hint(i), forward) < 0)
    }
}

#[path = "av1_sequence.rs"]
mod sequence;
#[path = "av1_syntax.rs"]
mod syntax;
pub use sequence::SequenceHeader;
pub use syntax::tile_group;
use syntax::*;

/// frame_type, show_frame, showable_frame and error_resilient_mode (§5.9.2).
fn frame_kind(r: &mut BitReader<'_>, seq: &SequenceHeader, f: &mut Frame) -> Result<(), String> {
    f.frame_type = r.bits(2, "frame_type")?;
    f.intra = f.frame_type == INTRA_ONLY_FRAME || f.frame_type == KEY_FRAME;
    f.show_frame = r.flag("show_frame")?;
    if f.show_frame && seq.decoder_model_info_present && !seq.equal_picture_interval {
        r.skip(
            seq.frame_presentation_time_length as usize,
            "frame_presentation_time",
        )?;
    }
    f.showable_frame = if f.show_frame {
        f.frame_type != KEY_FRAME
    } else {
        r.flag("showable_frame")?
    };
    f.error_resilient =
        if f.frame_type == SWITCH_FRAME || (f.frame_type == KEY_FRAME && f.show_frame) {
            true
        } else {
            r.flag("error_resilient_mode")?
        };
    Ok(())
}

/// buffer_removal_time of each operating point with a decoder model that decodes this
/// frame's layers (§5.9.2).
fn buffer_removal_times(
    r: &mut BitReader<'_>,
    seq: &SequenceHeader,
    temporal_id: u32,
    spatial_id: u32,
) -> Result<(), String> {
    for &(idc, model) in &seq.operating_points {
        if !model {
            continue;
        }
        let in_temporal = (idc >> temporal_id) & 1 == 1;
        let in_spatial = (idc >> (spatial_id + 8)) & 1 == 1;
        if idc == 0 || (in_temporal && in_spatial) {
            r.skip(
                seq.buffer_removal_time_length as usize,
                "buffer_removal_time",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "av1_header_tests.rs"]
pub(crate) mod tests;
