// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bitstream parsers (SPS, ASC, ADTS, AC-3, MP3, av1C, vpcC) on arbitrary bytes. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::codec::{aac, ac3, av1, h264, h265, mp3, nal, vp9};

fuzz_target!(|data: &[u8]| {
    let _ = h264::parse_sps(data);
    let _ = h265::parse_sps(data);
    let _ = aac::parse_asc(data);
    if let Ok(h) = aac::parse_adts(data) {
        let _ = aac::asc_from_adts(&h);
    }
    let _ = ac3::parse_ac3_frame(data);
    let _ = ac3::parse_eac3_frame(data);
    let _ = ac3::dac3_from_frame(data);
    let _ = ac3::dec3_from_frame(data);
    let _ = mp3::parse_header(data);
    let _ = av1::codec_string(data);
    let _ = vp9::codec_string(data);
    let _ = nal::annexb_nals(data).count();
    let _ = nal::length_prefixed_nals(data, 4);
    let _ = nal::rbsp(data);
});
