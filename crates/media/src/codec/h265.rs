// SPDX-License-Identifier: MIT OR Apache-2.0
//! HEVC sequence parameter set (ITU-T H.265 7.3.2.2.1) with profile_tier_level (7.3.3),
//! conformance window cropping and VUI timing (Annex E.2.1).

use super::bits::BitReader;
use super::nal;

pub use super::nal::h265::{NAL_AUD, NAL_PPS, NAL_SEI_PREFIX, NAL_SEI_SUFFIX, NAL_SPS, NAL_VPS};
pub use super::nal::h265_is_irap;

/// What the packager needs from an HEVC SPS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HevcSpsInfo {
    pub profile_space: u8,
    pub tier_flag: bool,
    pub profile_idc: u8,
    /// general_profile_compatibility_flag[0..32], flag j in bit 31 - j (bitstream order).
    pub compatibility_flags: u32,
    /// The 48 bits from general_progressive_source_flag to general_inbld_flag/reserved bit.
    pub constraint_flags: [u8; 6],
    pub level_idc: u8,
    /// Output size after the conformance window.
    pub width: u32,
    pub height: u32,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Pictures per second from vui_time_scale / vui_num_units_in_tick (halved for field
    /// sequences), if signalled.
    pub frame_rate: Option<f64>,
}

/// Upper bound on delta POCs per short-term RPS (sps_max_dec_pic_buffering ≤ 16, A.4.2).
const MAX_RPS_PICS: u32 = 16;

/// Parses an HEVC SPS NAL unit (2-byte NAL header included, emulation prevention not removed).
pub fn parse_sps(nal: &[u8]) -> Result<HevcSpsInfo, String> {
    let nal_type = nal::h265_nal_type(nal).ok_or_else(|| "empty SPS NAL unit".to_string())?;
    if nal_type != NAL_SPS {
        return Err(format!(
            "NAL unit type {nal_type} is not an SPS ({NAL_SPS})"
        ));
    }
    let payload = nal
        .get(2..)
        .ok_or_else(|| "SPS NAL unit shorter than its 2-byte header".to_string())?;
    let rbsp = nal::rbsp(payload);
    let mut r = BitReader::new(&rbsp);
    r.skip(4, "sps_video_parameter_set_id")?;
    let max_sub_layers_minus1 = r.u8(3, "sps_max_sub_layers_minus1")?;
    if max_sub_layers_minus1 > 6 {
        return Err(format!(
            "sps_max_sub_layers_minus1 {max_sub_layers_minus1} exceeds 6"
        ));
    }
    r.skip(1, "sps_temporal_id_nesting_flag")?;

    // profile_tier_level(1, sps_max_sub_layers_minus1) (7.3.3).
    let profile_space = r.u8(2, "general_profile_space")?;
    let tier_flag = r.flag("general_tier_flag")?;
    let profile_idc = r.u8(5, "general_profile_idc")?;
    let compatibility_flags = r.bits(32, "general_profile_compatibility_flags")?;
    let mut constraint_flags = [0u8; 6];
    for b in &mut constraint_flags {
        *b = r.u8(8, "general constraint flags")?;
    }
    let level_idc = r.u8(8, "general_level_idc")?;
    skip_sub_layers(&mut r, max_sub_layers_minus1)?;

    r.ue_max(15, "sps_seq_parameter_set_id")?;
    let chroma_format_idc = r.ue_max(3, "chroma_format_idc")?;
    let separate_colour_plane = chroma_format_idc == 3 && r.flag("separate_colour_plane_flag")?;
    let pic_width = r.ue("pic_width_in_luma_samples")?;
    let pic_height = r.ue("pic_height_in_luma_samples")?;
    if pic_width == 0 || pic_height == 0 {
        return Err(format!("picture size {pic_width}x{pic_height} is empty"));
    }
    let mut window = [0u32; 4]; // left, right, top, bottom
    if r.flag("conformance_window_flag")? {
        for (w, what) in window.iter_mut().zip([
            "conf_win_left_offset",
            "conf_win_right_offset",
            "conf_win_top_offset",
            "conf_win_bottom_offset",
        ]) {
            *w = r.ue(what)?;
        }
    }
    let bit_depth_luma = r.u8_ue(8, "bit_depth_luma_minus8")?;
    let bit_depth_chroma = r.u8_ue(8, "bit_depth_chroma_minus8")?;

    // Conformance cropping window in chroma sample units (7.4.3.2.1, Table 6-1).
    let (sub_w, sub_h) = match (chroma_format_idc, separate_colour_plane) {
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    };
    let cropped = |size: u32, unit: u64, a: u32, b: u32, what: &str| -> Result<u32, String> {
        let c = (u64::from(a) + u64::from(b)) * unit;
        u64::from(size)
            .checked_sub(c)
            .filter(|&v| v > 0)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                format!("conformance window of {c} samples removes the whole {what} {size}")
            })
    };
    let width = cropped(pic_width, sub_w, window[0], window[1], "width")?;
    let height = cropped(pic_height, sub_h, window[2], window[3], "height")?;

    // Everything below only serves to reach the VUI; a damaged tail loses the frame rate.
    let frame_rate = skip_to_vui(&mut r, max_sub_layers_minus1)
        .and_then(|present| {
            if present {
                vui_frame_rate(&mut r)
            } else {
                Ok(None)
            }
        })
        .ok()
        .flatten();

    Ok(HevcSpsInfo {
        profile_space,
        tier_flag,
        profile_idc,
        compatibility_flags,
        constraint_flags,
        level_idc,
        width,
        height,
        chroma_format_idc: u8::try_from(chroma_format_idc).unwrap_or(u8::MAX),
        bit_depth_luma,
        bit_depth_chroma,
        frame_rate,
    })
}

impl BitReader<'_> {
    /// `base + ue(v)` for small fields such as bit depths (value of ue ≤ 8).
    fn u8_ue(&mut self, base: u8, what: &str) -> Result<u8, String> {
        let v = self.ue_max(8, what)?;
        Ok(base + u8::try_from(v).unwrap_or(0))
    }
}

/// Sub-layer part of profile_tier_level (7.3.3).
fn skip_sub_layers(r: &mut BitReader, max_sub_layers_minus1: u8) -> Result<(), String> {
    let mut present = Vec::with_capacity(usize::from(max_sub_layers_minus1));
    for _ in 0..max_sub_layers_minus1 {
        let profile = r.flag("sub_layer_profile_present_flag")?;
        let level = r.flag("sub_layer_level_present_flag")?;
        present.push((profile, level));
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.skip(2, "reserved_zero_2bits")?;
        }
    }
    for (profile, level) in present {
        if profile {
            r.skip(88, "sub_layer profile")?;
        }
        if level {
            r.skip(8, "sub_layer_level_idc")?;
        }
    }
    Ok(())
}

/// From log2_max_pic_order_cnt_lsb_minus4 to vui_parameters_present_flag (7.3.2.2.1).
/// Returns that flag.
fn skip_to_vui(r: &mut BitReader, max_sub_layers_minus1: u8) -> Result<bool, String> {
    let log2_max_poc_lsb = r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")? + 4;
    let first = if r.flag("sps_sub_layer_ordering_info_present_flag")? {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        r.ue("sps_max_dec_pic_buffering_minus1")?;
        r.ue("sps_max_num_reorder_pics")?;
        r.ue("sps_max_latency_increase_plus1")?;
    }
    for what in [
        "log2_min_luma_coding_block_size_minus3",
        "log2_diff_max_min_luma_coding_block_size",
        "log2_min_luma_transform_block_size_minus2",
        "log2_diff_max_min_luma_transform_block_size",
        "max_transform_hierarchy_depth_inter",
        "max_transform_hierarchy_depth_intra",
    ] {
        r.ue(what)?;
    }
    if r.flag("scaling_list_enabled_flag")? && r.flag("sps_scaling_list_data_present_flag")? {
        skip_scaling_list_data(r)?;
    }
    r.skip(2, "amp_enabled_flag/sample_adaptive_offset_enabled_flag")?;
    if r.flag("pcm_enabled_flag")? {
        r.skip(8, "pcm_sample_bit_depth_luma/chroma_minus1")?;
        r.ue("log2_min_pcm_luma_coding_block_size_minus3")?;
        r.ue("log2_diff_max_min_pcm_luma_coding_block_size")?;
        r.skip(1, "pcm_loop_filter_disabled_flag")?;
    }
    let num_sets = r.ue_max(64, "num_short_term_ref_pic_sets")?;
    let mut sets: Vec<Vec<i64>> = Vec::new();
    for idx in 0..num_sets {
        let set = st_ref_pic_set(r, idx, &sets)?;
        sets.push(set);
    }
    if r.flag("long_term_ref_pics_present_flag")? {
        let n = r.ue_max(32, "num_long_term_ref_pics_sps")?;
        for _ in 0..n {
            r.skip(
                log2_max_poc_lsb as usize + 1,
                "lt_ref_pic_poc_lsb_sps/used_by_curr_pic_lt",
            )?;
        }
    }
    r.skip(
        2,
        "sps_temporal_mvp_enabled_flag/strong_intra_smoothing_enabled_flag",
    )?;
    r.flag("vui_parameters_present_flag")
}

/// scaling_list_data() (7.3.4).
fn skip_scaling_list_data(r: &mut BitReader) -> Result<(), String> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.flag("scaling_list_pred_mode_flag")? {
                r.ue("scaling_list_pred_matrix_id_delta")?;
                continue;
            }
            let coefs = 64.min(1u32 << (4 + (size_id << 1)));
            if size_id > 1 {
                r.se("scaling_list_dc_coef_minus8")?;
            }
            for _ in 0..coefs {
                r.se("scaling_list_delta_coef")?;
            }
        }
    }
    Ok(())
}

/// st_ref_pic_set(stRpsIdx) (7.3.7) as it appears in the SPS. Returns the set's delta POCs
/// (7.4.8, equations 7-61 and 7-62) in S0-then-S1 order, needed to size a later
/// inter-predicted set.
fn st_ref_pic_set(r: &mut BitReader, idx: u32, previous: &[Vec<i64>]) -> Result<Vec<i64>, String> {
    if idx != 0 && r.flag("inter_ref_pic_set_prediction_flag")? {
        // In the SPS delta_idx_minus1 is absent: the reference is the previous set.
        let reference = previous
            .last()
            .ok_or_else(|| "inter-predicted RPS without a previous set".to_string())?;
        let negative = r.flag("delta_rps_sign")?;
        let abs = i64::from(r.ue_max(1 << 15, "abs_delta_rps_minus1")?) + 1;
        let delta_rps = if negative { -abs } else { abs };
        let mut out = Vec::new();
        // j runs over the reference's pictures, then j = NumDeltaPocs stands for deltaRps.
        for j in 0..=reference.len() {
            let used = r.flag("used_by_curr_pic_flag")?;
            let use_delta = used || r.flag("use_delta_flag")?;
            let d_poc = reference.get(j).map_or(delta_rps, |d| d + delta_rps);
            if use_delta && d_poc != 0 {
                out.push(d_poc);
            }
        }
        if out.len() > 2 * MAX_RPS_PICS as usize {
            return Err(format!("short-term RPS {idx} has {} pictures", out.len()));
        }
        // Equations 7-61/7-62 yield S0 in decreasing and S1 in increasing POC order; the
        // use_delta_flag indices of a later set refer to that S0-then-S1 order.
        let (mut s0, mut s1): (Vec<i64>, Vec<i64>) = out.into_iter().partition(|&d| d < 0);
        s0.sort_unstable_by(|a, b| b.cmp(a));
        s1.sort_unstable();
        s0.extend(s1);
        return Ok(s0);
    }
    let num_negative = r.ue_max(MAX_RPS_PICS, "num_negative_pics")?;
    let num_positive = r.ue_max(MAX_RPS_PICS, "num_positive_pics")?;
    let mut out = Vec::new();
    let mut poc = 0i64;
    for _ in 0..num_negative {
        poc -= i64::from(r.ue_max(1 << 15, "delta_poc_s0_minus1")?) + 1;
        r.skip(1, "used_by_curr_pic_s0_flag")?;
        out.push(poc);
    }
    poc = 0;
    for _ in 0..num_positive {
        poc += i64::from(r.ue_max(1 << 15, "delta_poc_s1_minus1")?) + 1;
        r.skip(1, "used_by_curr_pic_s1_flag")?;
        out.push(poc);
    }
    Ok(out)
}

/// vui_parameters() up to the timing info (E.2.1). HEVC ticks count pictures, so the rate is
/// time_scale / num_units_in_tick; with field_seq_flag pictures are fields (E.3.1).
fn vui_frame_rate(r: &mut BitReader) -> Result<Option<f64>, String> {
    if r.flag("aspect_ratio_info_present_flag")? && r.u8(8, "aspect_ratio_idc")? == 255 {
        r.skip(32, "sar_width/sar_height")?;
    }
    if r.flag("overscan_info_present_flag")? {
        r.skip(1, "overscan_appropriate_flag")?;
    }
    if r.flag("video_signal_type_present_flag")? {
        r.skip(4, "video_format/video_full_range_flag")?;
        if r.flag("colour_description_present_flag")? {
            r.skip(24, "colour_primaries/transfer/matrix")?;
        }
    }
    if r.flag("chroma_loc_info_present_flag")? {
        r.ue("chroma_sample_loc_type_top_field")?;
        r.ue("chroma_sample_loc_type_bottom_field")?;
    }
    r.skip(1, "neutral_chroma_indication_flag")?;
    let field_seq = r.flag("field_seq_flag")?;
    r.skip(1, "frame_field_info_present_flag")?;
    if r.flag("default_display_window_flag")? {
        for what in ["def_disp_win_left", "right", "top", "bottom"] {
            r.ue(what)?;
        }
    }
    if !r.flag("vui_timing_info_present_flag")? {
        return Ok(None);
    }
    let num_units_in_tick = r.bits(32, "vui_num_units_in_tick")?;
    let time_scale = r.bits(32, "vui_time_scale")?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return Ok(None);
    }
    let rate = f64::from(time_scale) / f64::from(num_units_in_tick);
    Ok(Some(if field_seq { rate / 2.0 } else { rate }))
}

/// What kind of picture an access unit holds, from its first VCL NAL unit (H.265 Table 7-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureKind {
    /// IDR_W_RADL / IDR_N_LP (19, 20): no leading picture depends on earlier ones.
    Idr,
    /// BLA_W_LP / BLA_W_RADL / BLA_N_LP (16–18): its RASL pictures are never output (8.1.3).
    Bla,
    /// CRA_NUT (21): its RASL pictures, if any, reference pictures before it.
    Cra,
    /// RASL_N / RASL_R (8, 9): leading, skipped when decoding starts at its IRAP (8.1.3).
    Rasl,
    /// RADL_N / RADL_R (6, 7): leading, decodable from its IRAP.
    Radl,
    /// TRAIL, TSA, STSA (0–5): follows its IRAP in presentation order.
    Trailing,
    /// Reserved types, or no VCL NAL unit found.
    Other,
}

/// The picture kind of an access unit in the canonical form (4-byte length-prefixed NAL units,
/// see [`crate::sample`]). Never fails: a malformed unit gives [`PictureKind::Other`].
pub fn picture_kind(access_unit: &[u8]) -> PictureKind {
    let mut rest = access_unit;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let Some((unit, after)) = tail.split_at_checked(len) else {
            break;
        };
        rest = after;
        let Some(t) = nal::h265_nal_type(unit) else {
            continue;
        };
        if t >= 32 {
            continue; // Not VCL (parameter sets, SEI, AUD…).
        }
        return match t {
            0..=5 => PictureKind::Trailing,
            6 | 7 => PictureKind::Radl,
            8 | 9 => PictureKind::Rasl,
            16..=18 => PictureKind::Bla,
            19 | 20 => PictureKind::Idr,
            21 => PictureKind::Cra,
            _ => PictureKind::Other,
        };
    }
    PictureKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table: NAL units (type, length-prefixed as in a sample) → picture kind.
    #[test]
    fn picture_kind_from_first_vcl_unit() {
        let au = |types: &[u8]| -> Vec<u8> {
            let mut out = Vec::new();
            for &t in types {
                out.extend_from_slice(&3u32.to_be_bytes());
                out.extend_from_slice(&[t << 1, 1, 0xAF]);
            }
            out
        };
        let cases: &[(&[u8], PictureKind)] = &[
            (&[35, 32, 33, 34, 39, 19], PictureKind::Idr),
            (&[20], PictureKind::Idr),
            (&[32, 33, 34, 21], PictureKind::Cra),
            (&[16], PictureKind::Bla),
            (&[18], PictureKind::Bla),
            (&[8], PictureKind::Rasl),
            (&[9, 40], PictureKind::Rasl),
            (&[7], PictureKind::Radl),
            (&[0], PictureKind::Trailing),
            (&[5], PictureKind::Trailing),
            (&[22], PictureKind::Other),
            (&[32, 33, 34], PictureKind::Other),
            (&[], PictureKind::Other),
        ];
        for (types, want) in cases {
            assert_eq!(picture_kind(&au(types)), *want, "{types:?}");
        }
        // Truncated length: no panic, nothing found.
        assert_eq!(picture_kind(&[0, 0, 0, 9, 42, 1]), PictureKind::Other);
        assert_eq!(picture_kind(&[0, 0]), PictureKind::Other);
    }
    use crate::codec::bits::BitWriter;
    use crate::codec::hex;

    /// (profile_idc, tier, level, width, height, chroma, luma bits, chroma bits, fps)
    type Expected = (u8, bool, u8, u32, u32, u8, u8, u8, f64);

    /// SPS NAL units written by libx265 via ffmpeg 5.1 (one `testsrc` frame each), with the
    /// values `ffprobe -show_streams` reports.
    const FIXTURES: &[(&str, &str, Expected)] = &[
        (
            "main 3.1 720p30",
            "42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003c10",
            (1, false, 93, 1280, 720, 1, 8, 8, 30.0),
        ),
        (
            "main 4.0 1080p25",
            "420101016000000300900000030000030078a003c08010e596566924caf0168080000003008000000c84",
            (1, false, 120, 1920, 1080, 1, 8, 8, 25.0),
        ),
        (
            "main10 3.0 854x480@29.97",
            "42010102200000030090000003000003005aa006b201e1d6d96566924caf01680800001f480003a98040",
            (2, false, 90, 854, 480, 1, 10, 10, 30000.0 / 1001.0),
        ),
        (
            "rext 4:4:4 2.0 352x288@24",
            "4201010408000003009e0800000300003c9001610090b2cacd24995e02d0100000030010000003018080",
            (4, false, 60, 352, 288, 3, 8, 8, 24.0),
        ),
        (
            "rext 4:2:2 10-bit 3.1 720p24",
            "4201010408000003009d0800000300005db00280802d1365959a4932bc05a02000000300200000030301",
            (4, false, 93, 1280, 720, 2, 10, 10, 24.0),
        ),
        (
            "main 3.0 360p60, 2 temporal sub-layers",
            "42010201600000030090000003000003005a0000a005020169659598acd24995e02d010000030001000003003c08",
            (1, false, 90, 640, 360, 1, 8, 8, 60.0),
        ),
        (
            "main high tier 5.1 1080p50",
            "420101216000000300900000030000030099a003c08010e596566924caf0168080000003008000001904",
            (1, true, 153, 1920, 1080, 1, 8, 8, 50.0),
        ),
    ];

    #[test]
    fn parses_x265_fixtures() {
        for (name, sps, want) in FIXTURES {
            let got = parse_sps(&hex(sps)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (profile, tier, level, w, h, chroma, bl, bc, fps) = *want;
            assert_eq!(
                (
                    got.profile_idc,
                    got.tier_flag,
                    got.level_idc,
                    got.width,
                    got.height
                ),
                (profile, tier, level, w, h),
                "{name}"
            );
            assert_eq!(
                (
                    got.chroma_format_idc,
                    got.bit_depth_luma,
                    got.bit_depth_chroma
                ),
                (chroma, bl, bc),
                "{name}"
            );
            let rate = got
                .frame_rate
                .unwrap_or_else(|| panic!("{name}: no frame rate"));
            assert!((rate - fps).abs() < 1e-9, "{name}: {rate} != {fps}");
            assert_eq!(got.profile_space, 0, "{name}");
        }
        // Main: compatibility flags 1 and 2, progressive + frame-only constraint bits.
        let main = parse_sps(&hex(FIXTURES[0].1)).unwrap();
        assert_eq!(main.compatibility_flags, 0x6000_0000);
        assert_eq!(main.constraint_flags, [0x90, 0, 0, 0, 0, 0]);
        // RExt 4:4:4 8-bit: max_12bit..max_8bit, max_422/420 chroma = 0 etc.
        let rext = parse_sps(&hex(FIXTURES[3].1)).unwrap();
        assert_eq!(rext.compatibility_flags, 0x0800_0000);
        assert_eq!(rext.constraint_flags, [0x9E, 0x08, 0, 0, 0, 0]);
    }

    /// Synthetic SPS: sub-layer profile/level info, scaling lists, PCM, inter-predicted RPS,
    /// long-term refs, conformance window and a VUI with a default display window.
    fn synthetic_sps(field_seq: bool) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.put(4, 0).put(3, 2).flag(true);
        w.put(2, 0)
            .flag(true)
            .put(5, 2)
            .put(32, 0x2000_0000)
            .put(48, 0x8000_0000_0000);
        w.put(8, 123);
        w.flag(true).flag(false).flag(false).flag(true); // sub-layer 0: profile; 1: level
        for _ in 2..8 {
            w.put(2, 0);
        }
        w.put(88, 0).put(8, 90);
        w.ue(0).ue(1).ue(1000).ue(600);
        w.flag(true).ue(4).ue(8).ue(2).ue(6); // conformance window
        w.ue(2).ue(2).ue(4);
        w.flag(true);
        for _ in 0..3 {
            w.ue(4).ue(2).ue(0);
        }
        w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1);
        w.flag(true).flag(true); // scaling_list_enabled, data present
        for size_id in 0..4 {
            let step = if size_id == 3 { 3 } else { 1 };
            for matrix in (0..6).step_by(step) {
                let explicit = (size_id + matrix) % 2 == 0;
                w.flag(explicit);
                if !explicit {
                    w.ue(0);
                    continue;
                }
                if size_id > 1 {
                    w.se(4);
                }
                let coefs = 64.min(1 << (4 + (size_id << 1)));
                for i in 0..coefs {
                    w.se(if i % 2 == 0 { 1 } else { -1 });
                }
            }
        }
        w.flag(true).flag(false);
        w.flag(true).put(8, 0x77).ue(0).ue(1).flag(false); // PCM
        let flags = |w: &mut BitWriter, fs: &[bool]| {
            for &f in fs {
                w.flag(f);
            }
        };
        w.ue(4);
        // RPS 0: num_negative 2, num_positive 1: -1 (used), -4 (used), +1 (unused).
        w.ue(2).ue(1).ue(0);
        flags(&mut w, &[true]);
        w.ue(2);
        flags(&mut w, &[true]);
        w.ue(0);
        flags(&mut w, &[false]);
        // RPS 1 from 0, deltaRps = -1: -2, -5, (0 dropped), -1 → S0 = -1 -2 -5.
        flags(&mut w, &[true, true]);
        w.ue(0);
        flags(&mut w, &[true, false, true, true, true]);
        // RPS 2 from 1, deltaRps = +1, keep S0[0] (→ 0, dropped) and deltaRps: one picture.
        // An unsorted S0 would also keep -2 + 1 = -1 and misalign RPS 3.
        flags(&mut w, &[true, false]);
        w.ue(0);
        flags(&mut w, &[true, false, false, false, false, true]);
        // RPS 3 from 2: two flags.
        flags(&mut w, &[true, false]);
        w.ue(0);
        flags(&mut w, &[true, true]);
        w.flag(true).ue(2); // long-term refs, 8-bit lsb + used flag
        w.put(9, 0).put(9, 0x1FF);
        w.flag(true).flag(true);
        w.flag(true); // vui
        w.flag(true).put(8, 1).flag(true).flag(false);
        w.flag(true).put(4, 0b1010).flag(true).put(24, 0x010101);
        w.flag(true).ue(0).ue(2);
        w.flag(false).flag(field_seq).flag(field_seq);
        w.flag(true).ue(1).ue(2).ue(3).ue(4);
        w.flag(true).put(32, 1001).put(32, 60000).flag(false);
        w.flag(false).flag(false).trailing();
        w.nal(&[0x42, 0x01])
    }

    #[test]
    fn parses_synthetic_sps() {
        let got = parse_sps(&synthetic_sps(false)).unwrap();
        let want = HevcSpsInfo {
            profile_space: 0,
            tier_flag: true,
            profile_idc: 2,
            compatibility_flags: 0x2000_0000,
            constraint_flags: [0x80, 0, 0, 0, 0, 0],
            level_idc: 123,
            // 4:2:0: 1000 - 2*(4+8), 600 - 2*(2+6)
            width: 976,
            height: 584,
            chroma_format_idc: 1,
            bit_depth_luma: 10,
            bit_depth_chroma: 10,
            frame_rate: Some(60000.0 / 1001.0),
        };
        assert_eq!(got, want);
        let fields = parse_sps(&synthetic_sps(true)).unwrap();
        assert_eq!(fields.frame_rate, Some(30000.0 / 1001.0));
    }

    #[test]
    fn rejects_bad_sps() {
        assert!(parse_sps(&[]).is_err());
        assert!(parse_sps(&[0x42]).is_err());
        assert!(parse_sps(&[0x40, 0x01, 0x0c])
            .unwrap_err()
            .contains("not an SPS"));
        let good = hex(FIXTURES[0].1);
        assert!(parse_sps(&good[..20]).is_err());
        // Conformance window wider than the picture.
        let mut w = BitWriter::default();
        w.put(4, 0)
            .put(3, 0)
            .flag(true)
            .put(96, 0)
            .ue(0)
            .ue(1)
            .ue(64)
            .ue(64);
        w.flag(true).ue(16).ue(16).ue(0).ue(0).ue(0).ue(0);
        let e = parse_sps(&w.nal(&[0x42, 0x01])).unwrap_err();
        assert!(e.contains("conformance window"), "{e}");
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let mut inputs: Vec<Vec<u8>> = FIXTURES.iter().map(|f| hex(f.1)).collect();
        inputs.push(synthetic_sps(true));
        let mut s = 0xDEAD_BEEF_0BAD_F00Du64;
        for len in 0..80 {
            let mut v = vec![0x42, 0x01];
            v.extend((0..len).map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 16) as u8
            }));
            inputs.push(v);
        }
        for data in &inputs {
            for n in 0..=data.len() {
                let _ = parse_sps(&data[..n]);
            }
            for i in 16..data.len().min(40) * 8 {
                let mut d = data.clone();
                d[i / 8] ^= 0x80 >> (i % 8);
                let _ = parse_sps(&d);
            }
        }
    }
}
