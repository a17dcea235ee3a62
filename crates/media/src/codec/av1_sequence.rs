// SPDX-License-Identifier: MIT OR Apache-2.0
//! The AV1 sequence header (AV1 spec §5.5): the fields the frame header's syntax and length
//! depend on, from `av1C`'s configOBUs or an in-band OBU_SEQUENCE_HEADER.

use super::syntax::uvlc;
use super::SELECT;
use crate::codec::bits::BitReader;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SequenceHeader {
    pub seq_profile: u32,
    pub(super) reduced_still_picture_header: bool,
    pub(super) decoder_model_info_present: bool,
    pub(super) equal_picture_interval: bool,
    pub(super) buffer_removal_time_length: u32,
    pub(super) frame_presentation_time_length: u32,
    /// Per operating point: operating_point_idc and decoder_model_present_for_this_op.
    pub(super) operating_points: Vec<(u32, bool)>,
    pub(super) frame_width_bits: u32,
    pub(super) frame_height_bits: u32,
    pub max_frame_width: u32,
    pub max_frame_height: u32,
    pub(super) frame_id_numbers_present: bool,
    pub(super) delta_frame_id_length: u32,
    pub(super) frame_id_length: u32,
    pub(super) use_128x128_superblock: bool,
    pub(super) enable_warped_motion: bool,
    pub(super) enable_order_hint: bool,
    pub(super) enable_ref_frame_mvs: bool,
    pub(super) seq_force_screen_content_tools: u32,
    pub(super) seq_force_integer_mv: u32,
    pub(super) order_hint_bits: u32,
    pub(super) enable_superres: bool,
    pub(super) enable_cdef: bool,
    pub(super) enable_restoration: bool,
    pub(super) mono_chrome: bool,
    pub(super) subsampling_x: bool,
    pub(super) subsampling_y: bool,
    pub(super) separate_uv_delta_q: bool,
    pub(super) film_grain_params_present: bool,
}

impl SequenceHeader {
    /// sequence_header_obu() (§5.5.1) from the OBU's payload.
    pub fn parse(payload: &[u8]) -> Result<SequenceHeader, String> {
        let r = &mut BitReader::new(payload);
        let mut s = SequenceHeader {
            seq_profile: r.bits(3, "seq_profile")?,
            ..SequenceHeader::default()
        };
        if s.seq_profile > 2 {
            return Err(format!("seq_profile {} (0-2 defined)", s.seq_profile));
        }
        r.skip(1, "still_picture")?;
        s.reduced_still_picture_header = r.flag("reduced_still_picture_header")?;
        if s.reduced_still_picture_header {
            r.skip(5, "seq_level_idx")?;
            s.operating_points.push((0, false));
        } else {
            let mut buffer_delay_length = 0;
            if r.flag("timing_info_present_flag")? {
                r.skip(64, "timing_info")?; // num_units_in_display_tick, time_scale
                s.equal_picture_interval = r.flag("equal_picture_interval")?;
                if s.equal_picture_interval {
                    uvlc(r, "num_ticks_per_picture_minus_1")?;
                }
                s.decoder_model_info_present = r.flag("decoder_model_info_present_flag")?;
                if s.decoder_model_info_present {
                    // decoder_model_info() (§5.5.4)
                    buffer_delay_length = r.bits(5, "buffer_delay_length_minus_1")? + 1;
                    r.skip(32, "num_units_in_decoding_tick")?;
                    s.buffer_removal_time_length =
                        r.bits(5, "buffer_removal_time_length_minus_1")? + 1;
                    s.frame_presentation_time_length =
                        r.bits(5, "frame_presentation_time_length_minus_1")? + 1;
                }
            }
            let initial_display_delay_present = r.flag("initial_display_delay_present_flag")?;
            let count = r.bits(5, "operating_points_cnt_minus_1")? + 1;
            for _ in 0..count {
                let idc = r.bits(12, "operating_point_idc")?;
                let level = r.bits(5, "seq_level_idx")?;
                if level > 7 {
                    r.skip(1, "seq_tier")?;
                }
                let mut model = false;
                if s.decoder_model_info_present {
                    model = r.flag("decoder_model_present_for_this_op")?;
                    if model {
                        // operating_parameters_info() (§5.5.5)
                        r.skip(
                            2 * buffer_delay_length as usize,
                            "decoder/encoder_buffer_delay",
                        )?;
                        r.skip(1, "low_delay_mode_flag")?;
                    }
                }
                if initial_display_delay_present && r.flag("initial_display_delay_present")? {
                    r.skip(4, "initial_display_delay_minus_1")?;
                }
                s.operating_points.push((idc, model));
            }
        }
        s.frame_width_bits = r.bits(4, "frame_width_bits_minus_1")? + 1;
        s.frame_height_bits = r.bits(4, "frame_height_bits_minus_1")? + 1;
        s.max_frame_width = r.bits(s.frame_width_bits, "max_frame_width_minus_1")? + 1;
        s.max_frame_height = r.bits(s.frame_height_bits, "max_frame_height_minus_1")? + 1;
        if !s.reduced_still_picture_header {
            s.frame_id_numbers_present = r.flag("frame_id_numbers_present_flag")?;
        }
        if s.frame_id_numbers_present {
            s.delta_frame_id_length = r.bits(4, "delta_frame_id_length_minus_2")? + 2;
            s.frame_id_length = r.bits(3, "additional_frame_id_length_minus_1")? + 1;
            s.frame_id_length += s.delta_frame_id_length;
        }
        s.use_128x128_superblock = r.flag("use_128x128_superblock")?;
        r.skip(2, "enable_filter_intra, enable_intra_edge_filter")?;
        s.seq_force_screen_content_tools = SELECT;
        s.seq_force_integer_mv = SELECT;
        if !s.reduced_still_picture_header {
            r.skip(2, "enable_interintra_compound, enable_masked_compound")?;
            s.enable_warped_motion = r.flag("enable_warped_motion")?;
            r.skip(1, "enable_dual_filter")?;
            s.enable_order_hint = r.flag("enable_order_hint")?;
            if s.enable_order_hint {
                r.skip(1, "enable_jnt_comp")?;
                s.enable_ref_frame_mvs = r.flag("enable_ref_frame_mvs")?;
            }
            if !r.flag("seq_choose_screen_content_tools")? {
                s.seq_force_screen_content_tools = r.bits(1, "seq_force_screen_content_tools")?;
            }
            if s.seq_force_screen_content_tools > 0 {
                if !r.flag("seq_choose_integer_mv")? {
                    s.seq_force_integer_mv = r.bits(1, "seq_force_integer_mv")?;
                }
            } else {
                s.seq_force_integer_mv = SELECT;
            }
            if s.enable_order_hint {
                s.order_hint_bits = r.bits(3, "order_hint_bits_minus_1")? + 1;
            }
        }
        s.enable_superres = r.flag("enable_superres")?;
        s.enable_cdef = r.flag("enable_cdef")?;
        s.enable_restoration = r.flag("enable_restoration")?;
        s.color_config(r)?;
        s.film_grain_params_present = r.flag("film_grain_params_present")?;
        Ok(s)
    }

    /// color_config() (§5.5.2): mono_chrome, subsampling and separate_uv_delta_q.
    fn color_config(&mut self, r: &mut BitReader) -> Result<(), String> {
        let high_bitdepth = r.flag("high_bitdepth")?;
        let mut bit_depth = if high_bitdepth { 10 } else { 8 };
        if self.seq_profile == 2 && high_bitdepth && r.flag("twelve_bit")? {
            bit_depth = 12;
        }
        if self.seq_profile != 1 {
            self.mono_chrome = r.flag("mono_chrome")?;
        }
        let (mut cp, mut tc, mut mc) = (2, 2, 2);
        if r.flag("color_description_present_flag")? {
            cp = r.bits(8, "color_primaries")?;
            tc = r.bits(8, "transfer_characteristics")?;
            mc = r.bits(8, "matrix_coefficients")?;
        }
        if self.mono_chrome {
            r.skip(1, "color_range")?;
            (self.subsampling_x, self.subsampling_y) = (true, true);
            return Ok(());
        }
        if cp == 1 && tc == 13 && mc == 0 {
            // CP_BT_709, TC_SRGB, MC_IDENTITY: 4:4:4, full range
            (self.subsampling_x, self.subsampling_y) = (false, false);
        } else {
            r.skip(1, "color_range")?;
            (self.subsampling_x, self.subsampling_y) = match self.seq_profile {
                0 => (true, true),
                1 => (false, false),
                _ if bit_depth == 12 => {
                    let x = r.flag("subsampling_x")?;
                    (x, x && r.flag("subsampling_y")?)
                }
                _ => (true, false),
            };
            if self.subsampling_x && self.subsampling_y {
                r.skip(2, "chroma_sample_position")?;
            }
        }
        self.separate_uv_delta_q = r.flag("separate_uv_delta_q")?;
        Ok(())
    }

    pub(super) fn num_planes(&self) -> usize {
        if self.mono_chrome {
            1
        } else {
            3
        }
    }

    /// get_relative_dist() (§7.12.3 order hint comparison).
    pub(super) fn relative_dist(&self, a: u32, b: u32) -> i32 {
        if !self.enable_order_hint || self.order_hint_bits == 0 {
            return 0;
        }
        let diff = a.wrapping_sub(b) as i32;
        let m = 1i32 << (self.order_hint_bits - 1);
        (diff & (m - 1)) - (diff & m)
    }
}
