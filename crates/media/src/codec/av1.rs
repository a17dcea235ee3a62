// SPDX-License-Identifier: MIT OR Apache-2.0
//! AV1 codecs parameter string from the AV1CodecConfigurationRecord (AV1 Codec ISO Media File
//! Format Binding v1.2.0, 2.3.3 `av1C` syntax and 5 "Codecs Parameter String").

/// `av01.P.LLT.DD` (the optional colour fields are omitted, which the binding allows):
/// seq_profile, two-digit seq_level_idx_0, tier `M`/`H` from seq_tier_0, two-digit bit depth.
pub fn codec_string(av1c: &[u8]) -> Result<String, String> {
    let &[b0, b1, b2, _, ..] = av1c else {
        return Err(format!("av1C needs at least 4 bytes, have {}", av1c.len()));
    };
    // marker(1) = 1, version(7) = 1
    if b0 != 0x81 {
        return Err(format!(
            "av1C marker/version byte is {b0:#04x}, expected 0x81 (marker 1, version 1)"
        ));
    }
    let seq_profile = b1 >> 5;
    let seq_level_idx_0 = b1 & 0x1F;
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let high_bitdepth = b2 & 0x40 != 0;
    let twelve_bit = b2 & 0x20 != 0;
    // BitDepth per AV1 5.5.2 color_config(): twelve_bit only applies with high_bitdepth.
    let bit_depth = match (high_bitdepth, twelve_bit) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    Ok(format!(
        "av01.{seq_profile}.{seq_level_idx_0:02}{tier}.{bit_depth:02}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::hex;

    #[test]
    fn codec_strings() {
        let cases = [
            // libaom via ffmpeg 5.1 (configOBUs included)
            ("81000c000a0b000000043cffbcdaf90040", "av01.0.00M.08"),
            ("81054c000a0b0000002d4cffb3ccaf9404", "av01.0.05M.10"),
            ("812000000a0a200000043cffbcdaf902", "av01.1.00M.08"),
            // hand-built: profile 2, level 13 (5.1), high tier, 12-bit; profile 0 level 8 10-bit
            ("814de000", "av01.2.13H.12"),
            ("81084c00", "av01.0.08M.10"),
        ];
        for (av1c, want) in cases {
            assert_eq!(codec_string(&hex(av1c)).as_deref(), Ok(want), "{av1c}");
        }
    }

    #[test]
    fn rejects_bad_records_without_panicking() {
        assert!(codec_string(&[]).is_err());
        assert!(codec_string(&[0x81, 0, 0x0c]).is_err());
        assert!(codec_string(&[0x01, 0, 0x0c, 0]).is_err());
        assert!(codec_string(&[0x82, 0, 0x0c, 0]).is_err());
        for b in 0..=255u8 {
            let _ = codec_string(&[b, b, b, b]);
        }
    }
}
