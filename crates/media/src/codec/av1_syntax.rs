// SPDX-License-Identifier: MIT OR Apache-2.0
//! The parts of the AV1 uncompressed header (AV1 spec §5.9) whose length depends only on the
//! sequence header and the frame being read, not on the reference state: descriptors (§4.10),
//! frame size, tile_info, quantization, segmentation, loop filter, loop restoration, global
//! motion and film grain; and the tile group header with the tile sizes (§5.11.1).

use std::ops::Range;

use super::{
    Frame, SequenceHeader, TileLayout, INTER_FRAME, MAX_TILE_AREA, MAX_TILE_COLS, MAX_TILE_ROWS,
    MAX_TILE_WIDTH, PRIMARY_REF_NONE, SEG_FEATURE_BITS, SEG_FEATURE_MAX, SEG_FEATURE_SIGNED,
};
use crate::codec::bits::BitReader;

/// uvlc() (§4.10.3).
pub(super) fn uvlc(r: &mut BitReader, what: &str) -> Result<u32, String> {
    let mut zeros = 0u32;
    while !r.flag(what)? {
        zeros += 1;
    }
    if zeros >= 32 {
        return Ok(u32::MAX);
    }
    let v = r.bits(zeros, what)?;
    Ok(v.saturating_add((1u32 << zeros) - 1))
}

/// su(n) (§4.10.6).
pub(super) fn su(r: &mut BitReader, n: u32, what: &str) -> Result<i32, String> {
    let v = i64::from(r.bits(n, what)?);
    let sign = 1i64 << (n - 1);
    let v = if v & sign != 0 { v - 2 * sign } else { v };
    Ok(i32::try_from(v).unwrap_or(0))
}

/// ns(n) (§4.10.7): a value in 0..n.
pub(super) fn ns(r: &mut BitReader, n: u32, what: &str) -> Result<u32, String> {
    if n == 0 {
        return Err(format!("ns(0) for {what}"));
    }
    let w = 32 - n.leading_zeros(); // FloorLog2(n) + 1
    let m = u32::try_from((1u64 << w) - u64::from(n)).unwrap_or(u32::MAX);
    let v = r.bits(w - 1, what)?;
    if v < m {
        return Ok(v);
    }
    let extra = r.bit(what)?;
    Ok((v << 1).wrapping_sub(m).wrapping_add(extra))
}

/// superres_params() + compute_image_size() (§5.9.8, §5.9.9).
pub(super) fn superres_params(
    r: &mut BitReader,
    seq: &SequenceHeader,
    f: &mut Frame,
) -> Result<(), String> {
    let denom = if seq.enable_superres && r.flag("use_superres")? {
        r.bits(3, "coded_denom")? + 9
    } else {
        8
    };
    f.upscaled_width = f.frame_width;
    f.frame_width = (f.upscaled_width * 8 + denom / 2) / denom;
    f.mi_cols = 2 * ((f.frame_width + 7) >> 3);
    f.mi_rows = 2 * ((f.frame_height + 7) >> 3);
    Ok(())
}

/// render_size() (§5.9.6).
pub(super) fn render_size(r: &mut BitReader) -> Result<(), String> {
    if r.flag("render_and_frame_size_different")? {
        r.skip(32, "render_width_minus_1, render_height_minus_1")?;
    }
    Ok(())
}

pub(super) fn tile_log2(blk: u32, target: u32) -> u32 {
    let mut k = 0;
    while k < 31 && (u64::from(blk) << k) < u64::from(target) {
        k += 1;
    }
    k
}

/// tile_info() (§5.9.15).
pub(super) fn tile_info(
    r: &mut BitReader,
    seq: &SequenceHeader,
    f: &Frame,
) -> Result<TileLayout, String> {
    let (sb_cols, sb_rows, sb_shift) = if seq.use_128x128_superblock {
        ((f.mi_cols + 31) >> 5, (f.mi_rows + 31) >> 5, 5)
    } else {
        ((f.mi_cols + 15) >> 4, (f.mi_rows + 15) >> 4, 4)
    };
    let sb_size = sb_shift + 2;
    let max_tile_width_sb = MAX_TILE_WIDTH >> sb_size;
    let mut max_tile_area_sb = MAX_TILE_AREA >> (2 * sb_size);
    let min_log2_tile_cols = tile_log2(max_tile_width_sb, sb_cols);
    let max_log2_tile_cols = tile_log2(1, sb_cols.min(MAX_TILE_COLS));
    let max_log2_tile_rows = tile_log2(1, sb_rows.min(MAX_TILE_ROWS));
    let min_log2_tiles = min_log2_tile_cols.max(tile_log2(max_tile_area_sb, sb_rows * sb_cols));
    let (cols, rows, cols_log2, rows_log2);
    if r.flag("uniform_tile_spacing_flag")? {
        let mut c = min_log2_tile_cols;
        while c < max_log2_tile_cols && r.flag("increment_tile_cols_log2")? {
            c += 1;
        }
        let width_sb = (sb_cols + (1 << c) - 1) >> c;
        cols = sb_cols.div_ceil(width_sb.max(1));
        cols_log2 = c;
        let mut rl = min_log2_tiles.saturating_sub(c);
        while rl < max_log2_tile_rows && r.flag("increment_tile_rows_log2")? {
            rl += 1;
        }
        let height_sb = (sb_rows + (1 << rl) - 1) >> rl;
        rows = sb_rows.div_ceil(height_sb.max(1));
        rows_log2 = rl;
    } else {
        let (mut widest, mut start, mut i) = (0u32, 0u32, 0u32);
        while start < sb_cols {
            let max_width = (sb_cols - start).min(max_tile_width_sb);
            let size = ns(r, max_width, "width_in_sbs_minus_1")? + 1;
            widest = widest.max(size);
            start += size;
            i += 1;
        }
        cols = i;
        cols_log2 = tile_log2(1, cols);
        max_tile_area_sb = if min_log2_tiles > 0 {
            (sb_rows * sb_cols) >> (min_log2_tiles + 1)
        } else {
            sb_rows * sb_cols
        };
        let max_tile_height_sb = (max_tile_area_sb / widest.max(1)).max(1);
        let (mut start, mut i) = (0u32, 0u32);
        while start < sb_rows {
            let max_height = (sb_rows - start).min(max_tile_height_sb);
            start += ns(r, max_height, "height_in_sbs_minus_1")? + 1;
            i += 1;
        }
        rows = i;
        rows_log2 = tile_log2(1, rows);
    }
    if cols > MAX_TILE_COLS || rows > MAX_TILE_ROWS {
        return Err(format!("{cols}x{rows} tiles (at most 64x64, §5.9.15)"));
    }
    let mut size_bytes = 4;
    if cols_log2 > 0 || rows_log2 > 0 {
        r.skip((cols_log2 + rows_log2) as usize, "context_update_tile_id")?;
        size_bytes = r.bits(2, "tile_size_bytes_minus_1")? + 1;
    }
    Ok(TileLayout {
        cols,
        rows,
        cols_log2,
        rows_log2,
        size_bytes,
    })
}

pub(super) struct Quant {
    pub(super) base_q_idx: u32,
    /// DeltaQYDc, DeltaQUDc, DeltaQUAc, DeltaQVDc, DeltaQVAc all 0.
    pub(super) no_deltas: bool,
}

/// quantization_params() (§5.9.12).
pub(super) fn quantization_params(
    r: &mut BitReader,
    seq: &SequenceHeader,
) -> Result<Quant, String> {
    let base_q_idx = r.bits(8, "base_q_idx")?;
    let delta = |r: &mut BitReader| -> Result<i32, String> {
        if r.flag("delta_coded")? {
            su(r, 7, "delta_q")
        } else {
            Ok(0)
        }
    };
    let mut deltas = vec![delta(r)?];
    if seq.num_planes() > 1 {
        let diff_uv_delta = seq.separate_uv_delta_q && r.flag("diff_uv_delta")?;
        deltas.push(delta(r)?);
        deltas.push(delta(r)?);
        if diff_uv_delta {
            deltas.push(delta(r)?);
            deltas.push(delta(r)?);
        }
    }
    if r.flag("using_qmatrix")? {
        let n = if seq.separate_uv_delta_q { 12 } else { 8 };
        r.skip(n, "qm_y, qm_u, qm_v")?;
    }
    Ok(Quant {
        base_q_idx,
        no_deltas: deltas.iter().all(|&d| d == 0),
    })
}

/// segmentation_params() (§5.9.14): whether segmentation is enabled; the features in `f`.
pub(super) fn segmentation_params(r: &mut BitReader, f: &mut Frame) -> Result<bool, String> {
    if !r.flag("segmentation_enabled")? {
        return Ok(false);
    }
    let update_data = if f.primary_ref_frame == PRIMARY_REF_NONE {
        true
    } else {
        if r.flag("segmentation_update_map")? {
            r.skip(1, "segmentation_temporal_update")?;
        }
        r.flag("segmentation_update_data")?
    };
    if update_data {
        for seg in 0..8 {
            for j in 0..8 {
                let enabled = r.flag("feature_enabled")?;
                let mut value = 0;
                if enabled {
                    let bits = SEG_FEATURE_BITS[j];
                    let max = SEG_FEATURE_MAX[j];
                    value = if SEG_FEATURE_SIGNED[j] {
                        su(r, 1 + bits, "feature_value")?.clamp(-max, max)
                    } else {
                        (r.bits(bits, "feature_value")? as i32).clamp(0, max)
                    };
                }
                f.feature_enabled[seg][j] = enabled;
                f.feature_data[seg][j] = value;
            }
        }
    }
    Ok(true)
}

/// loop_filter_params() (§5.9.11).
pub(super) fn loop_filter_params(
    r: &mut BitReader,
    seq: &SequenceHeader,
    off: bool,
) -> Result<(), String> {
    if off {
        return Ok(());
    }
    let l0 = r.bits(6, "loop_filter_level[0]")?;
    let l1 = r.bits(6, "loop_filter_level[1]")?;
    if seq.num_planes() > 1 && (l0 != 0 || l1 != 0) {
        r.skip(12, "loop_filter_level[2..4]")?;
    }
    r.skip(3, "loop_filter_sharpness")?;
    if r.flag("loop_filter_delta_enabled")? && r.flag("loop_filter_delta_update")? {
        for _ in 0..10 {
            // 8 ref deltas, 2 mode deltas
            if r.flag("update_delta")? {
                r.skip(7, "loop_filter_delta")?;
            }
        }
    }
    Ok(())
}

/// lr_params() (§5.9.20).
pub(super) fn lr_params(r: &mut BitReader, seq: &SequenceHeader, off: bool) -> Result<(), String> {
    if off || !seq.enable_restoration {
        return Ok(());
    }
    let (mut uses_lr, mut uses_chroma_lr) = (false, false);
    for plane in 0..seq.num_planes() {
        if r.bits(2, "lr_type")? != 0 {
            uses_lr = true;
            uses_chroma_lr |= plane > 0;
        }
    }
    if uses_lr {
        if seq.use_128x128_superblock {
            r.skip(1, "lr_unit_shift")?;
        } else if r.flag("lr_unit_shift")? {
            r.skip(1, "lr_unit_extra_shift")?;
        }
        if seq.subsampling_x && seq.subsampling_y && uses_chroma_lr {
            r.skip(1, "lr_uv_shift")?;
        }
    }
    Ok(())
}

/// global_motion_params() (§5.9.24): the bits read do not depend on the reference's
/// parameters (decode_signed_subexp_with_ref only maps the value read, §5.9.26-28).
pub(super) fn global_motion_params(
    r: &mut BitReader,
    allow_high_precision_mv: bool,
) -> Result<(), String> {
    const IDENTITY: u8 = 0;
    const TRANSLATION: u8 = 1;
    const ROTZOOM: u8 = 2;
    const AFFINE: u8 = 3;
    for _ in 1..=7 {
        let kind = if !r.flag("is_global")? {
            IDENTITY
        } else if r.flag("is_rot_zoom")? {
            ROTZOOM
        } else if r.flag("is_translation")? {
            TRANSLATION
        } else {
            AFFINE
        };
        let mut params: Vec<usize> = Vec::new();
        if kind >= ROTZOOM {
            params.extend([2, 3]);
            if kind == AFFINE {
                params.extend([4, 5]);
            }
        }
        if kind >= TRANSLATION {
            params.extend([0, 1]);
        }
        for idx in params {
            // read_global_param(): absBits
            let abs_bits = if idx < 2 {
                if kind == TRANSLATION {
                    9 - u32::from(!allow_high_precision_mv)
                } else {
                    12
                }
            } else {
                12
            };
            let mx = 1u32 << abs_bits;
            decode_subexp(r, 2 * mx + 1)?;
        }
    }
    Ok(())
}

/// decode_subexp(numSyms) (§5.9.28).
pub(super) fn decode_subexp(r: &mut BitReader, num_syms: u32) -> Result<u32, String> {
    let (mut i, mut mk, k) = (0u32, 0u32, 3u32);
    loop {
        let b2 = if i > 0 { k + i - 1 } else { k };
        let a = 1u32 << b2;
        if num_syms <= mk + 3 * a {
            return Ok(ns(r, num_syms - mk, "subexp_final_bits")? + mk);
        }
        if r.flag("subexp_more_bits")? {
            i += 1;
            mk += a;
        } else {
            return Ok(r.bits(b2, "subexp_bits")? + mk);
        }
    }
}

/// film_grain_params() (§5.9.30).
pub(super) fn film_grain_params(
    r: &mut BitReader,
    seq: &SequenceHeader,
    f: &Frame,
) -> Result<(), String> {
    if !seq.film_grain_params_present || (!f.show_frame && !f.showable_frame) {
        return Ok(());
    }
    if !r.flag("apply_grain")? {
        return Ok(());
    }
    r.skip(16, "grain_seed")?;
    let update_grain = f.frame_type != INTER_FRAME || r.flag("update_grain")?;
    if !update_grain {
        r.skip(3, "film_grain_params_ref_idx")?;
        return Ok(());
    }
    let num_y_points = r.bits(4, "num_y_points")?;
    r.skip(16 * num_y_points as usize, "point_y_value/scaling")?;
    let chroma_from_luma = !seq.mono_chrome && r.flag("chroma_scaling_from_luma")?;
    let (mut num_cb, mut num_cr) = (0, 0);
    if !(seq.mono_chrome
        || chroma_from_luma
        || (seq.subsampling_x && seq.subsampling_y && num_y_points == 0))
    {
        num_cb = r.bits(4, "num_cb_points")?;
        r.skip(16 * num_cb as usize, "point_cb_value/scaling")?;
        num_cr = r.bits(4, "num_cr_points")?;
        r.skip(16 * num_cr as usize, "point_cr_value/scaling")?;
    }
    r.skip(2, "grain_scaling_minus_8")?;
    let lag = r.bits(2, "ar_coeff_lag")? as usize;
    let num_pos_luma = 2 * lag * (lag + 1);
    let num_pos_chroma = if num_y_points > 0 {
        r.skip(8 * num_pos_luma, "ar_coeffs_y_plus_128")?;
        num_pos_luma + 1
    } else {
        num_pos_luma
    };
    if chroma_from_luma || num_cb > 0 {
        r.skip(8 * num_pos_chroma, "ar_coeffs_cb_plus_128")?;
    }
    if chroma_from_luma || num_cr > 0 {
        r.skip(8 * num_pos_chroma, "ar_coeffs_cr_plus_128")?;
    }
    r.skip(4, "ar_coeff_shift_minus_6, grain_scale_shift")?;
    if num_cb > 0 {
        r.skip(25, "cb_mult, cb_luma_mult, cb_offset")?;
    }
    if num_cr > 0 {
        r.skip(25, "cr_mult, cr_luma_mult, cr_offset")?;
    }
    r.skip(2, "overlap_flag, clip_to_restricted_range")?;
    Ok(())
}

/// The tiles of tile group `payload` (tile_group_obu(), §5.11.1) as byte ranges of it, and
/// whether it holds the frame's last tile. `next`: the tile the group must start with.
pub fn tile_group(
    payload: &[u8],
    layout: &TileLayout,
    next: u32,
    tiles: &mut Vec<Range<usize>>,
) -> Result<(bool, u32), String> {
    let r = &mut BitReader::new(payload);
    let num_tiles = layout.count();
    let (mut start, mut end) = (0, num_tiles.saturating_sub(1));
    if num_tiles > 1 && r.flag("tile_start_and_end_present_flag")? {
        let bits = layout.cols_log2 + layout.rows_log2;
        start = r.bits(bits, "tg_start")?;
        end = r.bits(bits, "tg_end")?;
    }
    if start != next || end < start || end >= num_tiles {
        return Err(format!(
            "tile group of tiles {start}..={end}, expected from tile {next} of {num_tiles}"
        ));
    }
    r.byte_align();
    let mut pos = r.position() / 8;
    let size_bytes = layout.size_bytes as usize;
    for tile in start..=end {
        let size = if tile == end {
            payload
                .len()
                .checked_sub(pos)
                .ok_or("tile group header past its OBU")?
        } else {
            let field = payload
                .get(pos..pos + size_bytes)
                .ok_or_else(|| format!("tile {tile}: tile_size_minus_1 past the OBU"))?;
            // le(TileSizeBytes) (§4.10.4)
            let v = field
                .iter()
                .rev()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            pos += size_bytes;
            v + 1
        };
        let stop = pos
            .checked_add(size)
            .filter(|&s| s <= payload.len())
            .ok_or_else(|| format!("tile {tile}: {size} bytes past the end of its OBU"))?;
        tiles.push(pos..stop);
        pos = stop;
    }
    Ok((end + 1 == num_tiles, end + 1))
}
