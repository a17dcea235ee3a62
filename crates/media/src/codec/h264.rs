// SPDX-License-Identifier: MIT OR Apache-2.0
//! H.264 sequence parameter set (ISO/IEC 14496-10 7.3.2.1.1) and the VUI timing fields
//! (Annex E.1.1) needed for codec strings, resolution and frame rate.

use super::bits::BitReader;
use super::nal;

pub use super::nal::h264::{NAL_AUD, NAL_IDR, NAL_PPS, NAL_SEI, NAL_SLICE, NAL_SPS};

/// What the packager needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    /// constraint_set0_flag..constraint_set5_flag + reserved_zero_2bits, as one byte.
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// Displayed size: coded size minus the frame cropping window.
    pub width: u32,
    pub height: u32,
    /// time_scale / (2 * num_units_in_tick) from the VUI, if signalled.
    pub frame_rate: Option<f64>,
}

/// Profiles whose SPS carries chroma format, bit depth and scaling matrices (7.3.2.1.1).
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Parses an SPS NAL unit (1-byte NAL header included, emulation prevention not yet removed).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, String> {
    let (&header, payload) = nal
        .split_first()
        .ok_or_else(|| "empty SPS NAL unit".to_string())?;
    let nal_type = header & 0x1F;
    if nal_type != NAL_SPS {
        return Err(format!(
            "NAL unit type {nal_type} is not an SPS ({NAL_SPS})"
        ));
    }
    let rbsp = nal::rbsp(payload);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.u8(8, "profile_idc")?;
    let constraint_flags = r.u8(8, "constraint_set flags")?;
    let level_idc = r.u8(8, "level_idc")?;
    r.ue_max(31, "seq_parameter_set_id")?;

    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if has_chroma_info(profile_idc) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag("separate_colour_plane_flag")?;
        }
        r.ue_max(6, "bit_depth_luma_minus8")?;
        r.ue_max(6, "bit_depth_chroma_minus8")?;
        r.skip(1, "qpprime_y_zero_transform_bypass_flag")?;
        if r.flag("seq_scaling_matrix_present_flag")? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag("seq_scaling_list_present_flag")? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    r.ue_max(12, "log2_max_frame_num_minus4")?;
    match r.ue_max(2, "pic_order_cnt_type")? {
        0 => {
            r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
        }
        1 => {
            r.skip(1, "delta_pic_order_always_zero_flag")?;
            r.se("offset_for_non_ref_pic")?;
            r.se("offset_for_top_to_bottom_field")?;
            let n = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
            for _ in 0..n {
                r.se("offset_for_ref_frame")?;
            }
        }
        _ => {}
    }
    r.ue("max_num_ref_frames")?;
    r.skip(1, "gaps_in_frame_num_value_allowed_flag")?;
    let width_mbs = u64::from(r.ue("pic_width_in_mbs_minus1")?) + 1;
    let height_map_units = u64::from(r.ue("pic_height_in_map_units_minus1")?) + 1;
    let frame_mbs_only = r.flag("frame_mbs_only_flag")?;
    if !frame_mbs_only {
        r.skip(1, "mb_adaptive_frame_field_flag")?;
    }
    r.skip(1, "direct_8x8_inference_flag")?;
    let mut crop = [0u64; 4]; // left, right, top, bottom
    if r.flag("frame_cropping_flag")? {
        for (c, what) in crop.iter_mut().zip([
            "frame_crop_left_offset",
            "frame_crop_right_offset",
            "frame_crop_top_offset",
            "frame_crop_bottom_offset",
        ]) {
            *c = u64::from(r.ue(what)?);
        }
    }

    // Frame size and cropping units (7.4.2.1.1, equations 7-13..7-20, Table 6-1).
    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let (crop_x, crop_y) = if separate_colour_plane || chroma_format_idc == 0 {
        (1, field_factor)
    } else {
        let (sub_w, sub_h) = match chroma_format_idc {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        (sub_w, sub_h * field_factor)
    };
    let coded_w = width_mbs * 16;
    let coded_h = height_map_units * 16 * field_factor;
    let cropped = |size: u64, unit: u64, a: u64, b: u64, what: &str| -> Result<u32, String> {
        let c = (a + b) * unit;
        let v = size.checked_sub(c).filter(|&v| v > 0).ok_or_else(|| {
            format!("frame cropping of {c} pixels removes the whole {what} {size}")
        })?;
        u32::try_from(v).map_err(|_| format!("{what} {v} out of range"))
    };
    let width = cropped(coded_w, crop_x, crop[0], crop[1], "width")?;
    let height = cropped(coded_h, crop_y, crop[2], crop[3], "height")?;

    // A damaged or truncated VUI only loses the frame rate.
    let frame_rate = if r.flag("vui_parameters_present_flag").unwrap_or(false) {
        vui_frame_rate(&mut r).ok().flatten()
    } else {
        None
    };
    Ok(SpsInfo {
        profile_idc,
        constraint_flags,
        level_idc,
        width,
        height,
        frame_rate,
    })
}

/// scaling_list() (7.3.2.1.1.1): only advances the reader.
fn skip_scaling_list(r: &mut BitReader, size: usize) -> Result<(), String> {
    let mut last: i32 = 8;
    let mut next: i32 = 8;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se("delta_scale")?;
            if !(-128..=127).contains(&delta) {
                return Err(format!("delta_scale {delta} outside -128..127"));
            }
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// vui_parameters() up to timing_info (Annex E.1.1); frame rate per E.2.1.
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
    if !r.flag("timing_info_present_flag")? {
        return Ok(None);
    }
    let num_units_in_tick = r.bits(32, "num_units_in_tick")?;
    let time_scale = r.bits(32, "time_scale")?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return Ok(None);
    }
    Ok(Some(
        f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;
    use crate::codec::hex;

    /// SPS NAL units written by libx264 (ffmpeg 5.1, one frame of `testsrc`), with the values
    /// `ffprobe -show_streams` reported for them.
    /// (profile_idc, constraint flags, level_idc, width, height, frame rate)
    type Expected = (u8, u8, u8, u32, u32, Option<f64>);

    const FIXTURES: &[(&str, &str, Expected)] = &[
        (
            "high 4.0 1080p25",
            "67640028acd940780227e5c044000003000400000300c83c60c658",
            (100, 0x00, 40, 1920, 1080, Some(25.0)),
        ),
        (
            "constrained baseline 3.0 320x240@30",
            "6742c01ed90141fb0110000003001000000303c0f162e480",
            (66, 0xC0, 30, 320, 240, Some(30.0)),
        ),
        (
            "main 3.1 854x480@29.97",
            "674d401feca06c1ef37808800001f480007530078c18cb",
            (77, 0x40, 31, 854, 480, Some(30000.0 / 1001.0)),
        ),
        (
            "high10 3.1 640x360@50",
            "676e001fa6cd940a02ff970110000003001000000640f1831960",
            (110, 0x00, 31, 640, 360, Some(50.0)),
        ),
        (
            "high 4:2:2 3.2 720p60",
            "677a0020bcd9405005bb0110000003001000000780f1831960",
            (122, 0x00, 32, 1280, 720, Some(60.0)),
        ),
        (
            "high 4:4:4 1.3 352x288@24",
            "67f4000d919b282c12d808800000030080000018078a14cb",
            (244, 0x00, 13, 352, 288, Some(24.0)),
        ),
        (
            "high 3.0 576i25 (field coding)",
            "6764001eacd940b424d8088000000300800000190f8a14cb",
            (100, 0x00, 30, 720, 576, Some(25.0)),
        ),
    ];

    #[test]
    fn parses_x264_fixtures() {
        for (name, sps, (profile, constraints, level, w, h, fps)) in FIXTURES {
            let got = parse_sps(&hex(sps)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = SpsInfo {
                profile_idc: *profile,
                constraint_flags: *constraints,
                level_idc: *level,
                width: *w,
                height: *h,
                frame_rate: None,
            };
            assert_eq!(
                SpsInfo {
                    frame_rate: None,
                    ..got
                },
                want,
                "{name}"
            );
            match (got.frame_rate, fps) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{name}: {a} != {b}"),
                (a, b) => assert_eq!(a, *b, "{name}"),
            }
        }
    }

    /// Synthetic High 4:2:2 SPS exercising scaling lists, POC type 1, field coding and cropping.
    fn synthetic_sps(chroma_format_idc: u32, frame_mbs_only: bool) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.put(8, 122).put(8, 0).put(8, 41).ue(0);
        w.ue(chroma_format_idc);
        if chroma_format_idc == 3 {
            w.flag(false);
        }
        w.ue(2).ue(2).flag(false);
        w.flag(true); // seq_scaling_matrix_present_flag
        let lists = if chroma_format_idc == 3 { 12 } else { 8 };
        for i in 0..lists {
            let present = i % 3 != 1;
            w.flag(present);
            if present {
                let size = if i < 6 { 16 } else { 64 };
                if i == 0 {
                    w.se(-8); // nextScale 0 → useDefaultScalingMatrixFlag, list ends
                } else {
                    for j in 0..size {
                        w.se(if j % 2 == 0 { 5 } else { -3 });
                    }
                }
            }
        }
        w.ue(4)
            .ue(1)
            .flag(false)
            .se(-2)
            .se(3)
            .ue(3)
            .se(1)
            .se(-1)
            .se(7);
        w.ue(4)
            .flag(false)
            .ue(119)
            .ue(if frame_mbs_only { 67 } else { 33 });
        w.flag(frame_mbs_only);
        if !frame_mbs_only {
            w.flag(true);
        }
        w.flag(true);
        w.flag(true).ue(2).ue(6).ue(1).ue(4); // cropping
        w.flag(true); // vui
        w.flag(true).put(8, 255).put(16, 4).put(16, 3);
        w.flag(false)
            .flag(true)
            .put(3, 5)
            .flag(false)
            .flag(true)
            .put(24, 0x010101);
        w.flag(true).ue(1).ue(1);
        w.flag(true).put(32, 1001).put(32, 120000).flag(true);
        // no HRD, no pic_struct, no bitstream_restriction
        w.flag(false).flag(false).flag(false).flag(false);
        w.trailing();
        w.nal(&[0x67])
    }

    #[test]
    fn synthetic_sps_matches_h264_reader() {
        for (chroma, frames) in [(2, true), (2, false), (1, false), (3, true), (0, false)] {
            let nal = synthetic_sps(chroma, frames);
            let got = parse_sps(&nal).unwrap_or_else(|e| panic!("{chroma} {frames}: {e}"));
            let rbsp = nal::rbsp(&nal[1..]);
            let reference = h264_reader::nal::sps::SeqParameterSet::from_bits(
                h264_reader::rbsp::BitReader::new(&rbsp[..]),
            )
            .unwrap();
            let (rw, rh) = reference.pixel_dimensions().unwrap();
            assert_eq!((got.width, got.height), (rw, rh), "{chroma} {frames}");
            assert_eq!(got.frame_rate, Some(120000.0 / 2002.0));
            assert_eq!((got.profile_idc, got.level_idc), (122, 41));
        }
        // 4:2:2 progressive: 1920 - 2*(2+6) = 1904; 68*16 - 1*(1+4) = 1083.
        let got = parse_sps(&synthetic_sps(2, true)).unwrap();
        assert_eq!((got.width, got.height), (1904, 1083));
    }

    #[test]
    fn rejects_bad_sps() {
        let good = hex(FIXTURES[0].1);
        assert!(parse_sps(&[]).is_err());
        assert!(parse_sps(&[0x68, 0x64, 0, 0x28])
            .unwrap_err()
            .contains("not an SPS"));
        // Cropping larger than the picture.
        let mut w = BitWriter::default();
        w.put(8, 66)
            .put(8, 0)
            .put(8, 30)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(1)
            .flag(false);
        w.ue(0)
            .ue(0)
            .flag(true)
            .flag(true)
            .flag(true)
            .ue(0)
            .ue(9)
            .ue(0)
            .ue(0);
        w.flag(false).trailing();
        let e = parse_sps(&w.nal(&[0x67])).unwrap_err();
        assert!(e.contains("cropping"), "{e}");
        // Truncated before the picture size.
        assert!(parse_sps(&good[..6]).is_err());
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let mut inputs: Vec<Vec<u8>> = FIXTURES.iter().map(|f| hex(f.1)).collect();
        inputs.push(synthetic_sps(3, false));
        let mut s = 0x0123_4567_89AB_CDEFu64;
        for len in 0..80 {
            let mut v = vec![0x67];
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
            // Flip each bit of the first bytes too.
            for i in 0..data.len().min(12) * 8 {
                let mut d = data.clone();
                d[i / 8] ^= 0x80 >> (i % 8);
                let _ = parse_sps(&d);
            }
        }
    }
}
