// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bitstream helpers per codec: parameter-set parsing, framing conversions and RFC 6381
//! codec strings (RFC 6381 §3; ISO/IEC 14496-15 Annex E for avc1/hvc1; AV1-ISOBMFF §5;
//! VP9 codec ISOBMFF binding; ETSI TS 102 366 for ac-3/ec-3).

pub mod aac;
pub mod ac3;
pub mod av1;
mod bits;
pub mod h264;
pub mod h265;
pub mod mp3;
pub mod nal;
pub mod vp9;

use crate::sample::CodecConfig;

/// RFC 6381 `CODECS` string for one track, built from the bitstream configuration.
pub fn codec_string(config: &CodecConfig) -> crate::Result<String> {
    let _ = config;
    Err(crate::Error::Playlist(
        "codec strings not yet implemented".into(),
    ))
}
