// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bitstream parsers (SPS, ASC, ADTS, AC-3, MP3, av1C, vpcC, NAL framing) and RFC 6381 codec
//! strings on arbitrary bytes. Must never panic.
//!
//! Each parser sees the whole input; Annex B input is also split into NAL units (each tried as
//! an H.264 and an HEVC SPS) and audio input is walked frame by frame from its sync words, as
//! the demuxers do.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::codec::{aac, ac3, av1, codec_string, h264, h265, mp3, nal, vp9};
use media::CodecConfig;

/// Frames followed from the start of the input, at most.
const MAX_FRAMES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let _ = h264::parse_sps(data);
    let _ = h265::parse_sps(data);
    if let Ok(asc) = aac::parse_asc(data) {
        let _ = aac::adts_header(&asc, data.len());
    }
    let _ = ac3::is_eac3(data);
    let _ = ac3::dac3_from_frame(data);
    let _ = ac3::dec3_from_frame(data);
    let _ = av1::codec_string(data);
    let _ = vp9::codec_string(data);
    let _ = nal::length_prefixed_nals(data, 4);
    let _ = nal::length_prefixed_nals(data, 2);
    let _ = nal::rbsp(data);
    for n in nal::annexb_nals(data).take(MAX_FRAMES) {
        let _ = nal::h264_nal_type(n);
        let _ = nal::h265_nal_type(n);
        let _ = h264::parse_sps(n);
        let _ = h265::parse_sps(n);
        let mut out = Vec::new();
        nal::write_length_prefixed(n, &mut out);
    }
    walk_frames(data);

    let b = Bytes::copy_from_slice(data);
    let one = vec![b.clone()];
    for config in [
        CodecConfig::Avc {
            sps: one.clone(),
            pps: vec![],
            in_band: false,
        },
        CodecConfig::Hevc {
            vps: vec![],
            sps: one.clone(),
            pps: vec![],
            in_band: true,
        },
        CodecConfig::Aac { asc: b.clone() },
        CodecConfig::Av1 { av1c: b.clone() },
        CodecConfig::Vp9 { vpcc: b.clone() },
        CodecConfig::Eac3 { dec3: b },
    ] {
        let _ = codec_string(&config);
    }
});

/// Follows ADTS / AC-3 / E-AC-3 / MP3 frames from offset 0 using each header's frame length.
fn walk_frames(data: &[u8]) {
    type Len = fn(&[u8]) -> Option<usize>;
    let parsers: [Len; 4] = [
        |d| {
            let h = aac::parse_adts(d).ok()?;
            let _ = aac::asc_from_adts(&h);
            Some(h.frame_len)
        },
        |d| ac3::parse_ac3_frame(d).ok().map(|i| i.frame_len),
        |d| ac3::parse_eac3_frame(d).ok().map(|i| i.frame_len),
        |d| mp3::parse_header(d).ok().map(|h| h.frame_len),
    ];
    for parse in parsers {
        let mut pos = 0usize;
        for _ in 0..MAX_FRAMES {
            let Some(rest) = data.get(pos..) else { break };
            match parse(rest) {
                Some(len) if len > 0 => pos = pos.saturating_add(len),
                _ => break,
            }
        }
    }
}
