// SPDX-License-Identifier: MIT OR Apache-2.0
//! VP9 codecs parameter string from the `vpcC` box (VP Codec ISO Media File Format Binding
//! v1.0, 2.2 VPCodecConfigurationBox and 3 "Codecs Parameter String").

/// `vp09.PP.LL.DD`: two-digit profile, level and bit depth. `vpcc` is the whole box payload:
/// version(8) flags(24) profile(8) level(8) bitDepth(4) … — bitDepth sits in the top four
/// bits of byte 6 in both version 1 and the older version 0 layout.
pub fn codec_string(vpcc: &[u8]) -> Result<String, String> {
    let (&[version, _, _, _, profile, level, depth_byte], _) = vpcc
        .split_first_chunk::<7>()
        .ok_or_else(|| format!("vpcC needs at least 7 bytes, have {}", vpcc.len()))?;
    if version > 1 {
        return Err(format!("vpcC version {version} is not supported"));
    }
    if profile > 3 {
        return Err(format!("VP9 profile {profile} does not exist"));
    }
    let bit_depth = depth_byte >> 4;
    if !matches!(bit_depth, 8 | 10 | 12) {
        return Err(format!("VP9 bit depth {bit_depth} is not 8, 10 or 12"));
    }
    Ok(format!("vp09.{profile:02}.{level:02}.{bit_depth:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::hex;

    #[test]
    fn codec_strings() {
        let cases = [
            // libvpx-vp9 via ffmpeg 5.1
            ("010000000014820202020000", "vp09.00.20.08"),
            ("01000000021fa20202020000", "vp09.02.31.10"),
            ("010000000114860202020000", "vp09.01.20.08"),
            // version 0 layout: bitDepth(4) colorSpace(4)
            ("000000000329c0", "vp09.03.41.12"),
        ];
        for (vpcc, want) in cases {
            assert_eq!(codec_string(&hex(vpcc)).as_deref(), Ok(want), "{vpcc}");
        }
    }

    #[test]
    fn rejects_bad_boxes_without_panicking() {
        assert!(codec_string(&[]).is_err());
        assert!(codec_string(&hex("010000000014")).is_err());
        assert!(codec_string(&hex("020000000014820202020000")).is_err());
        assert!(codec_string(&hex("010000000414820202020000")).is_err());
        assert!(codec_string(&hex("010000000014920202020000")).is_err());
        for b in 0..=255u8 {
            let _ = codec_string(&[0, 0, 0, 0, b & 3, b, b]);
        }
    }
}
