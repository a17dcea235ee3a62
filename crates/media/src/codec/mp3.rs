// SPDX-License-Identifier: MIT OR Apache-2.0
//! MPEG audio frame headers, layers I–III: MPEG-1 (ISO/IEC 11172-3 2.4.1.3 / 2.4.2.3),
//! MPEG-2 LSF (ISO/IEC 13818-3 2.4.2.3) and the non-standard MPEG-2.5 extension.

/// Facts from one 4-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Header {
    pub sample_rate: u32,
    pub channels: u16,
    /// Whole frame in bytes, header and padding included.
    pub frame_len: usize,
    pub samples_per_frame: u32,
    /// 1 = MPEG-1, 2 = MPEG-2, 25 = MPEG-2.5.
    pub mpeg_version: u8,
    /// 1, 2 or 3.
    pub layer: u8,
}

/// Bit rates in kbit/s by bitrate_index 1..=14 (11172-3 Table 3-B.2 / 13818-3 Table 2.4.2.3).
const MPEG1_L1: [u32; 14] = [
    32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
];
const MPEG1_L2: [u32; 14] = [
    32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
];
const MPEG1_L3: [u32; 14] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const MPEG2_L1: [u32; 14] = [
    32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
];
const MPEG2_L23: [u32; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// Parses the 4-byte header at the start of `data` (syncword 0xFFE, 11 bits).
pub fn parse_header(data: &[u8]) -> Result<Mp3Header, String> {
    let h = match data.get(..4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => {
            return Err(format!(
                "MPEG audio header needs 4 bytes, have {}",
                data.len()
            ))
        }
    };
    if h >> 21 != 0x7FF {
        return Err(format!("no MPEG audio sync (header {h:08x})"));
    }
    let mpeg_version = match (h >> 19) & 3 {
        0 => 25,
        2 => 2,
        3 => 1,
        _ => return Err("MPEG audio version bits 01 are reserved".into()),
    };
    let layer = match (h >> 17) & 3 {
        1 => 3,
        2 => 2,
        3 => 1,
        _ => return Err("MPEG audio layer bits 00 are reserved".into()),
    };
    let bitrate_index = (h >> 12) & 0xF;
    let table = match (mpeg_version, layer) {
        (1, 1) => &MPEG1_L1,
        (1, 2) => &MPEG1_L2,
        (1, _) => &MPEG1_L3,
        (_, 1) => &MPEG2_L1,
        _ => &MPEG2_L23,
    };
    let kbps = match bitrate_index {
        0 => return Err("free-format MPEG audio (bitrate_index 0) is not supported".into()),
        15 => return Err("MPEG audio bitrate_index 15 is invalid".into()),
        i => table.get(i as usize - 1).copied().unwrap_or(0),
    };
    let base_rate = match (h >> 10) & 3 {
        0 => 44100,
        1 => 48000,
        2 => 32000,
        _ => return Err("MPEG audio sampling_frequency 3 is reserved".into()),
    };
    let sample_rate = match mpeg_version {
        1 => base_rate,
        2 => base_rate / 2,
        _ => base_rate / 4,
    };
    let padding = (h >> 9) & 1;
    let channels = if (h >> 6) & 3 == 3 { 1 } else { 2 };
    let samples_per_frame = match (layer, mpeg_version) {
        (1, _) => 384,
        (2, _) | (3, 1) => 1152,
        _ => 576,
    };
    // Frame length (11172-3 2.4.3.1): layer I counts 4-byte slots, II/III single bytes.
    let bits = u64::from(kbps) * 1000;
    let frame_len = if layer == 1 {
        (bits * 12 / u64::from(sample_rate) + u64::from(padding)) * 4
    } else {
        bits * u64::from(samples_per_frame) / 8 / u64::from(sample_rate) + u64::from(padding)
    };
    Ok(Mp3Header {
        sample_rate,
        channels,
        frame_len: usize::try_from(frame_len).unwrap_or(usize::MAX),
        samples_per_frame,
        mpeg_version,
        layer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(version: u8, layer: u8, rate: u32, channels: u16, len: usize, spf: u32) -> Mp3Header {
        Mp3Header {
            sample_rate: rate,
            channels,
            frame_len: len,
            samples_per_frame: spf,
            mpeg_version: version,
            layer,
        }
    }

    #[test]
    fn parses_headers() {
        // The first four are libmp3lame / ffmpeg mp2 output (ffmpeg 5.1); the rest are built
        // from the tables.
        let cases: &[(&str, [u8; 4], Mp3Header)] = &[
            (
                "MPEG-1 L3 44.1k 128k stereo",
                [0xFF, 0xFB, 0x90, 0x64],
                h(1, 3, 44100, 2, 417, 1152),
            ),
            (
                "MPEG-1 L3 48k 320k",
                [0xFF, 0xFB, 0xE4, 0x64],
                h(1, 3, 48000, 2, 960, 1152),
            ),
            (
                "MPEG-2 L3 22.05k 32k mono",
                [0xFF, 0xF3, 0x40, 0xC4],
                h(2, 3, 22050, 1, 104, 576),
            ),
            (
                "MPEG-2.5 L3 8k 16k mono",
                [0xFF, 0xE3, 0x28, 0xC4],
                h(25, 3, 8000, 1, 144, 576),
            ),
            (
                "MPEG-1 L2 48k 192k",
                [0xFF, 0xFD, 0xA4, 0x04],
                h(1, 2, 48000, 2, 576, 1152),
            ),
            // padding adds one byte: 44.1k 128k padded
            (
                "MPEG-1 L3 padded",
                [0xFF, 0xFB, 0x92, 0x64],
                h(1, 3, 44100, 2, 418, 1152),
            ),
            // Layer I 44.1k 448k: (12 * 448000 / 44100) * 4 = 121 * 4
            (
                "MPEG-1 L1 448k",
                [0xFF, 0xFF, 0xE0, 0x00],
                h(1, 1, 44100, 2, 484, 384),
            ),
            // MPEG-2 Layer I 16k 256k mono: 12 * 256000 / 16000 * 4 = 768
            (
                "MPEG-2 L1 16k",
                [0xFF, 0xF7, 0xE8, 0xC0],
                h(2, 1, 16000, 1, 768, 384),
            ),
            // MPEG-2 Layer II 24k 160k: 1152 / 8 * 160000 / 24000 = 960
            (
                "MPEG-2 L2 24k",
                [0xFF, 0xF5, 0xE4, 0x00],
                h(2, 2, 24000, 2, 960, 1152),
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(parse_header(bytes).as_ref(), Ok(want), "{name}");
        }
    }

    #[test]
    fn rejects_bad_headers() {
        for (name, bytes) in [
            ("short", &[0xFF, 0xFB, 0x90][..]),
            ("no sync", &[0xFF, 0x1B, 0x90, 0x64]),
            ("reserved version", &[0xFF, 0xEB, 0x90, 0x64]),
            ("reserved layer", &[0xFF, 0xF9, 0x90, 0x64]),
            ("free format", &[0xFF, 0xFB, 0x00, 0x64]),
            ("bad bitrate", &[0xFF, 0xFB, 0xF0, 0x64]),
            ("reserved rate", &[0xFF, 0xFB, 0x9C, 0x64]),
        ] {
            assert!(parse_header(bytes).is_err(), "{name}");
        }
    }

    #[test]
    fn never_panics_on_any_header() {
        // Every syncword-bearing header: all 2^21 combinations of the low bits.
        for low in (0..(1u32 << 21)).step_by(7) {
            let v = (0x7FF << 21) | low;
            if let Ok(hd) = parse_header(&v.to_be_bytes()) {
                assert!(hd.frame_len > 0 && hd.frame_len < 8192, "{v:08x}");
            }
        }
        for n in 0..4 {
            let _ = parse_header(&[0xFF, 0xFB, 0x90, 0x64][..n]);
        }
    }
}
