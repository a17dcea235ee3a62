// SPDX-License-Identifier: MIT OR Apache-2.0
//! Hand-built AV1 headers (the syntax of the AV1 spec written out bit by bit) for the branches
//! of the parser; real encoder output is checked by the integration test against Shaka
//! Packager (tests/suite/cbcs_codecs.rs).

use super::*;
use crate::codec::bits::BitWriter;
use crate::codec::hex;

/// Options of the hand-built sequence header.
#[derive(Clone, Copy)]
pub(crate) struct Seq {
    pub reduced: bool,
    pub order_hint_bits: u32,
    pub decoder_model: bool,
    pub frame_ids: bool,
    pub film_grain: bool,
    pub mono: bool,
}

pub(crate) const SEQ: Seq = Seq {
    reduced: false,
    order_hint_bits: 7,
    decoder_model: false,
    frame_ids: false,
    film_grain: false,
    mono: false,
};

/// sequence_header_obu() payload for a 640x360 stream (§5.5.1).
pub(crate) fn seq_header(o: Seq) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(3, 0).flag(false).flag(o.reduced); // seq_profile, still_picture, reduced
    if o.reduced {
        w.put(5, 8);
    } else {
        w.flag(o.decoder_model); // timing_info_present_flag
        if o.decoder_model {
            w.put(32, 1).put(32, 30).flag(true).put(1, 1); // equal_picture_interval, uvlc 0
            w.flag(true); // decoder_model_info_present_flag
            w.put(5, 9).put(32, 1).put(5, 4).put(5, 3); // delay 10, removal 5, presentation 4
        }
        w.flag(false).put(5, 0); // initial_display_delay_present, one operating point
        w.put(12, 0).put(5, 8).flag(false); // idc, level 4.0, tier
        if o.decoder_model {
            w.flag(true).put(10, 5).put(10, 6).flag(false); // operating_parameters_info
        }
    }
    w.put(4, 9).put(4, 8).put(10, 639).put(9, 359); // frame size bits and maxima
    if !o.reduced {
        w.flag(o.frame_ids);
        if o.frame_ids {
            w.put(4, 5).put(3, 2); // delta 7 bits, frame id 10 bits
        }
    }
    w.flag(false).flag(true).flag(true); // 64x64 sb, filter intra, intra edge
    if !o.reduced {
        w.flag(false).flag(false).flag(true).flag(false); // interintra, masked, warped, dual
        w.flag(o.order_hint_bits > 0);
        if o.order_hint_bits > 0 {
            w.flag(false).flag(false); // jnt_comp, ref_frame_mvs
        }
        w.flag(true).flag(true); // choose screen content tools, choose integer mv
        if o.order_hint_bits > 0 {
            w.put(3, u64::from(o.order_hint_bits - 1));
        }
    }
    w.flag(false).flag(true).flag(true); // superres, cdef, restoration
                                         // color_config: 8-bit, mono or 4:2:0, no description, limited range.
    w.flag(false).flag(o.mono).flag(false).flag(false);
    if !o.mono {
        w.put(2, 0).flag(false); // chroma_sample_position, separate_uv_delta_q
    }
    w.flag(o.film_grain);
    w.trailing();
    w.bytes()
}

/// How [`header_tail`] writes the end of a frame header.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tail {
    /// No reference_select / global motion.
    pub intra: bool,
    /// base_q_idx 0 without `y_dc_delta` makes the frame lossless.
    pub base_q_idx: u64,
    /// DeltaQYDc, coded when not 0 (7-bit two's complement).
    pub y_dc_delta: i8,
    pub film_grain: bool,
    /// disable_frame_end_update_cdf is read (not for a reduced still picture header).
    pub cdf_flag: bool,
    /// allow_warped_motion is read (an inter frame without error_resilient_mode).
    pub warped: bool,
}

/// The part of every frame header after the frame size (from disable_frame_end_update_cdf),
/// for a 640x360 frame split into 2x2 tiles with 2-byte tile sizes.
pub(crate) fn header_tail(w: &mut BitWriter, t: Tail) {
    if t.cdf_flag {
        w.flag(false); // disable_frame_end_update_cdf
    }
    // tile_info: uniform, cols log2 1, rows log2 1, context_update_tile_id, 2-byte sizes.
    w.flag(true).flag(true).flag(false).flag(true).flag(false);
    w.put(2, 0).put(2, 1);
    w.put(8, t.base_q_idx);
    if t.y_dc_delta != 0 {
        w.flag(true).put(7, u64::from(t.y_dc_delta as u8 & 0x7F));
    } else {
        w.flag(false);
    }
    w.flag(false).flag(false).flag(false); // U dc and ac deltas, no qm
    w.flag(false); // segmentation_enabled
    if t.base_q_idx > 0 {
        w.flag(false); // delta_q_present
    }
    if t.base_q_idx > 0 || t.y_dc_delta != 0 {
        // loop filter levels 10/10 then 2 chroma, sharpness, deltas with one update
        w.put(6, 10).put(6, 10).put(12, 0).put(3, 0);
        w.flag(true).flag(true);
        w.flag(true).put(7, 0x7F);
        for _ in 0..9 {
            w.flag(false);
        }
        w.put(2, 0).put(2, 1).put(24, 0xABCDEF); // cdef: 2 strengths of 12 bits
        w.put(2, 1).put(2, 0).put(2, 0).put(1, 1).put(1, 0); // lr: luma only, shift 1+extra
        w.flag(true); // tx_mode_select
    } else {
        // CodedLossless: no loop filter, cdef, tx mode; AllLossless: no lr.
    }
    if !t.intra {
        w.flag(false); // reference_select (no skip mode)
    }
    if t.warped {
        w.flag(false); // allow_warped_motion
    }
    w.flag(false); // reduced_tx_set
    if !t.intra {
        // global motion: LAST translation, GOLDEN rot-zoom, the rest identity.
        w.flag(true).flag(false).flag(true); // is_global, !rot_zoom, translation
        w.flag(false).put(3, 3).flag(false).put(3, 0); // subexp: more_bits 0, 3 bits
        w.flag(true).flag(true); // is_global, rot_zoom
        for _ in 0..4 {
            w.flag(false).put(3, 5);
        }
        for _ in 0..5 {
            w.flag(false);
        }
    }
    if t.film_grain {
        w.flag(false); // apply_grain
    }
}

/// A shown key frame's uncompressed header (§5.9.2) with [`header_tail`].
pub(crate) fn key_frame(o: Seq, base_q_idx: u64) -> Vec<u8> {
    key_frame_with(o, base_q_idx, 0).0
}

/// [`key_frame`] with DeltaQYDc `y_dc_delta`; and the header's length in bits.
pub(crate) fn key_frame_with(o: Seq, base_q_idx: u64, y_dc_delta: i8) -> (Vec<u8>, usize) {
    let mut w = BitWriter::default();
    if !o.reduced {
        w.flag(false).put(2, 0).flag(true); // show_existing_frame, KEY_FRAME, show_frame
    }
    w.flag(false).flag(false); // disable_cdf_update, allow_screen_content_tools
    if o.frame_ids {
        w.put(10, 1);
    }
    if !o.reduced {
        w.flag(false).put(o.order_hint_bits, 0); // frame_size_override_flag, order_hint
    }
    if o.decoder_model {
        w.flag(false); // buffer_removal_time_present_flag
    }
    w.flag(false); // render_and_frame_size_different
    let tail = Tail {
        intra: true,
        base_q_idx,
        y_dc_delta,
        film_grain: o.film_grain,
        cdf_flag: !o.reduced,
        warped: false,
    };
    header_tail(&mut w, tail);
    let bits = w.bit_len();
    (w.align().bytes(), bits)
}

/// An inter frame: references by short signaling (LAST = slot 0, GOLDEN = slot 1), order hint
/// `hint`, refreshing slot `refresh`, frame size from a reference (found_ref on the first).
pub(crate) fn inter_frame(o: Seq, hint: u64, refresh: u64) -> Vec<u8> {
    inter_frame_with(o, hint, refresh, false).0
}

/// [`inter_frame`], with `error_resilient` mode: then every slot's order hint (all 0, as a key
/// frame left them) and the frame size are written, primary_ref_frame, use_ref_frame_mvs and
/// allow_warped_motion are not. And the header's length in bits.
pub(crate) fn inter_frame_with(
    o: Seq,
    hint: u64,
    refresh: u64,
    error_resilient: bool,
) -> (Vec<u8>, usize) {
    let mut w = BitWriter::default();
    w.flag(false).put(2, 1).flag(true); // INTER_FRAME, shown
    w.flag(error_resilient); // error_resilient_mode
    w.flag(false).flag(false); // disable_cdf_update, allow_screen_content_tools
    w.flag(true).put(o.order_hint_bits, hint); // frame_size_override_flag, order_hint
    if !error_resilient {
        w.put(3, 0); // primary_ref_frame: LAST
    }
    w.put(8, refresh);
    if error_resilient {
        for _ in 0..8 {
            w.put(o.order_hint_bits, 0); // ref_order_hint
        }
    }
    w.flag(true).put(3, 0).put(3, 1); // frame_refs_short_signaling, last 0, gold 1
    if error_resilient {
        w.put(10, 639).put(9, 359).flag(false); // frame_size(), render_size()
    } else {
        w.flag(true); // found_ref (frame_size_with_refs), then superres (disabled)
    }
    w.flag(true); // allow_high_precision_mv
    w.flag(true); // is_filter_switchable
    w.flag(false); // is_motion_mode_switchable
    let tail = Tail {
        base_q_idx: 100,
        film_grain: o.film_grain,
        cdf_flag: true,
        warped: !error_resilient,
        ..Tail::default()
    };
    header_tail(&mut w, tail);
    let bits = w.bit_len();
    (w.align().bytes(), bits)
}

/// OBU `kind` with a size field around `payload`.
pub(crate) fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind << 3 | 0x02];
    let mut n = payload.len();
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A tile group of `tiles` (sizes): `range` the tile numbers when not the whole frame.
pub(crate) fn tile_group_bytes(range: Option<(u64, u64)>, tiles: &[usize]) -> Vec<u8> {
    let mut w = BitWriter::default();
    match range {
        Some((a, b)) => w.flag(true).put(2, a).put(2, b),
        None => w.flag(false),
    };
    let mut out = w.align().bytes();
    for (i, &t) in tiles.iter().enumerate() {
        if i + 1 < tiles.len() {
            out.extend_from_slice(&((t - 1) as u16).to_le_bytes());
        }
        out.extend(std::iter::repeat_n(0xA5, t));
    }
    out
}

fn parser(o: Seq) -> Av1Parser {
    let mut p = Av1Parser::default();
    p.set_sequence_header(&seq_header(o)).unwrap();
    p
}

#[test]
fn sequence_headers() {
    // libaom via ffmpeg 5.1: av1C configOBUs = one sequence header OBU (type 1, size 10).
    let av1c = hex("81000c000a0b000000043cffbcdaf90040");
    let s = SequenceHeader::parse(&av1c[6..]).unwrap();
    assert_eq!(s.seq_profile, 0);
    assert!(s.enable_order_hint && s.order_hint_bits == 7);
    let cases = [
        ("plain", SEQ),
        (
            "reduced still picture",
            Seq {
                reduced: true,
                order_hint_bits: 0,
                ..SEQ
            },
        ),
        (
            "decoder model, frame ids, grain, mono",
            Seq {
                decoder_model: true,
                frame_ids: true,
                film_grain: true,
                mono: true,
                ..SEQ
            },
        ),
    ];
    for (name, o) in cases {
        let s = SequenceHeader::parse(&seq_header(o)).unwrap();
        assert_eq!(
            (s.max_frame_width, s.max_frame_height),
            (640, 360),
            "{name}"
        );
        assert_eq!(s.reduced_still_picture_header, o.reduced, "{name}");
        assert_eq!(s.order_hint_bits, o.order_hint_bits, "{name}");
        assert_eq!(s.decoder_model_info_present, o.decoder_model, "{name}");
        assert_eq!(
            s.frame_id_length,
            if o.frame_ids { 10 } else { 0 },
            "{name}"
        );
        assert_eq!(s.num_planes(), if o.mono { 1 } else { 3 }, "{name}");
        assert_eq!(s.film_grain_params_present, o.film_grain, "{name}");
    }
}

#[test]
fn key_frame_headers_end_where_the_tile_group_begins() {
    let layout = TileLayout {
        cols: 2,
        rows: 2,
        cols_log2: 1,
        rows_log2: 1,
        size_bytes: 2,
    };
    let cases = [
        ("plain", SEQ, 100),
        ("lossless (no loop filter, cdef, lr, tx mode)", SEQ, 0),
        ("base_q_idx 0 with a DC delta: not lossless", SEQ, -1),
        (
            "reduced still picture",
            Seq {
                reduced: true,
                order_hint_bits: 0,
                ..SEQ
            },
            100,
        ),
        (
            "decoder model, frame ids, film grain",
            Seq {
                decoder_model: true,
                frame_ids: true,
                film_grain: true,
                ..SEQ
            },
            100,
        ),
    ];
    for (name, o, q) in cases {
        let (header, bits) = match q {
            -1 => key_frame_with(o, 0, -3),
            q => key_frame_with(o, q as u64, 0),
        };
        let mut p = parser(o);
        let h = p.frame_header(&header, 0, 0).unwrap();
        assert_eq!(h.bits, bits, "{name}: header length in bits");
        assert_eq!(h.bytes, header.len(), "{name}: header length");
        assert_eq!(h.tiles, Some(layout), "{name}");
        // A byte less: an error, not a shorter header.
        assert!(
            p.clone()
                .frame_header(&header[..header.len() - 1], 0, 0)
                .is_err(),
            "{name}"
        );
    }
}

#[test]
fn inter_frames_follow_the_reference_state() {
    let mut p = parser(SEQ);
    // Before any key frame the references are missing: an error, not a guess.
    let inter = inter_frame(SEQ, 1, 0x01);
    let err = p.clone().frame_header(&inter, 0, 0).unwrap_err();
    assert!(err.contains("reference slot"), "{err}");
    p.frame_header(&key_frame(SEQ, 100), 0, 0).unwrap();
    let h = p.frame_header(&inter, 0, 0).unwrap();
    assert_eq!(h.bits, inter_frame_with(SEQ, 1, 0x01, false).1);
    assert_eq!(h.bytes, inter.len());
    assert_eq!(h.tiles.map(|t| t.count()), Some(4));
    assert_eq!(p.refs[0].order_hint, 1);
    assert_eq!(p.refs[1].order_hint, 0);
    // frame_size_with_refs took the reference's size.
    assert_eq!(
        (p.refs[0].upscaled_width, p.refs[0].frame_height),
        (640, 360)
    );
    // An error-resilient inter frame after a key frame (its slots' order hints all 0).
    let mut p = parser(SEQ);
    p.frame_header(&key_frame(SEQ, 100), 0, 0).unwrap();
    let (resilient, bits) = inter_frame_with(SEQ, 1, 0x02, true);
    let h = p.frame_header(&resilient, 0, 0).unwrap();
    assert_eq!(h.bits, bits, "error-resilient inter frame");
    assert_eq!(h.bytes, resilient.len(), "error-resilient inter frame");
    assert_eq!(p.refs[1].order_hint, 1);
}

#[test]
fn show_existing_frame() {
    let mut p = parser(SEQ);
    p.frame_header(&key_frame(SEQ, 100), 0, 0).unwrap();
    // show_existing_frame 1, frame_to_show_map_idx 3
    let h = p.frame_header(&[0b1011_0000], 0, 0).unwrap();
    assert_eq!(
        h,
        FrameHeader {
            bits: 4,
            bytes: 1,
            tiles: None
        }
    );
}

#[test]
fn set_frame_refs_picks_by_order_hint() {
    let mut p = parser(SEQ);
    for (i, hint) in [10u32, 12, 14, 16, 18, 20, 8, 9].into_iter().enumerate() {
        p.refs[i] = RefSlot {
            valid: true,
            order_hint: hint,
            ..RefSlot::default()
        };
    }
    let seq = p.seq.clone().unwrap();
    // Current 15: LAST slot 2 (14), GOLDEN slot 0 (10). Backward: 16, 18, 20 (slots 3-5).
    // ALTREF latest backward (20: slot 5), BWDREF earliest backward (16: slot 3), ALTREF2 the
    // next earliest (18: slot 4); LAST2, LAST3 the latest forward left (12: slot 1, 9: slot 7).
    let got = p.set_frame_refs(&seq, 15, 2, 0);
    assert_eq!(got, [2, 1, 7, 0, 3, 4, 5]);
}

#[test]
fn tile_groups() {
    let layout = TileLayout {
        cols: 2,
        rows: 2,
        cols_log2: 1,
        rows_log2: 1,
        size_bytes: 2,
    };
    let mut tiles = Vec::new();
    let whole = tile_group_bytes(None, &[20, 30, 5, 40]);
    assert_eq!(tile_group(&whole, &layout, 0, &mut tiles), Ok((true, 4)));
    assert_eq!(tiles, [3..23, 25..55, 57..62, 62..102]);
    tiles.clear();
    let first = tile_group_bytes(Some((0, 1)), &[20, 30]);
    assert_eq!(tile_group(&first, &layout, 0, &mut tiles), Ok((false, 2)));
    assert_eq!(tiles, [3..23, 23..53]);
    let second = tile_group_bytes(Some((2, 3)), &[7, 9]);
    assert!(
        tile_group(&second, &layout, 0, &mut tiles).is_err(),
        "out of order"
    );
    // A tile size past the end of the OBU.
    let mut bad = whole.clone();
    bad[1] = 0xFF;
    assert!(tile_group(&bad, &layout, 0, &mut tiles).is_err());
}

#[test]
fn truncated_and_garbage_input_is_an_error_not_a_panic() {
    let header = key_frame(SEQ, 100);
    let seq = seq_header(SEQ);
    for n in 0..header.len() {
        assert!(parser(SEQ).frame_header(&header[..n], 0, 0).is_err(), "{n}");
    }
    for n in 0..seq.len().saturating_sub(1) {
        assert!(SequenceHeader::parse(&seq[..n]).is_err(), "{n}");
    }
    // Pseudo-random bytes through every entry point.
    let mut x: u32 = 0x1234_5678;
    for len in 0..200 {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = SequenceHeader::parse(&data);
        let mut p = parser(SEQ);
        let _ = p.frame_header(&data, 0, 0);
        let _ = p.frame_header(&data, 7, 3);
        let layout = TileLayout {
            cols: 8,
            rows: 8,
            cols_log2: 3,
            rows_log2: 3,
            size_bytes: 4,
        };
        let _ = tile_group(&data, &layout, 0, &mut Vec::new());
    }
}
