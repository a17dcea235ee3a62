// SPDX-License-Identifier: MIT OR Apache-2.0
//! AAC configuration: AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) including explicit SBR/PS
//! signalling (hierarchical AOT 5/29, 1.6.5.2) and the backward-compatible sync extension
//! (syncExtensionType 0x2b7 / 0x548), and ADTS headers (ISO/IEC 14496-3 1.A.2.2 / 1.A.3.2).

use bytes::Bytes;

use super::bits::BitReader;

/// PCM samples per AAC-LC access unit (960-sample frames are not supported by HLS players).
pub const AAC_FRAME_SAMPLES: u32 = 1024;

/// samplingFrequencyIndex → Hz (ISO/IEC 14496-3 Table 1.18); 13 and 14 are reserved.
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// What a decoder needs to know about an AAC stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// Base audio object type (2 = AAC-LC even when SBR/PS is signalled).
    pub object_type: u8,
    /// Core sampling rate in Hz.
    pub sample_rate: u32,
    /// Output channels: 2 for parametric stereo (coded as mono), otherwise from
    /// channelConfiguration (Table 1.19) or the program_config_element.
    pub channels: u16,
    /// SBR explicitly signalled (HE-AAC).
    pub sbr: bool,
    /// Parametric stereo explicitly signalled (HE-AAC v2).
    pub ps: bool,
    /// Sampling rate after SBR (equals `sample_rate` without SBR).
    pub output_sample_rate: u32,
}

/// GetAudioObjectType() (ISO/IEC 14496-3 1.6.2.1, Table 1.14): 5 bits, escape 31 → 32 + 6 bits.
fn read_aot(r: &mut BitReader, what: &str) -> Result<u8, String> {
    let aot = r.u8(5, what)?;
    if aot == 31 {
        Ok(32 + r.u8(6, what)?)
    } else {
        Ok(aot)
    }
}

/// samplingFrequencyIndex with its 24-bit escape (index 15).
fn read_sample_rate(r: &mut BitReader, what: &str) -> Result<u32, String> {
    let idx = r.u8(4, what)?;
    let rate = if idx == 15 {
        r.bits(24, what)?
    } else {
        SAMPLE_RATES
            .get(usize::from(idx))
            .copied()
            .ok_or_else(|| format!("{what} {idx} is reserved"))?
    };
    if rate == 0 {
        return Err(format!("{what} is 0 Hz"));
    }
    Ok(rate)
}

/// Channel count for channelConfiguration 1..=14 (ISO/IEC 14496-3 Table 1.19, amended);
/// `None` for 0 (PCE) and reserved values.
fn channels_for_config(cfg: u8) -> Option<u16> {
    match cfg {
        1..=6 => Some(u16::from(cfg)),
        7 | 12 | 14 => Some(8),
        11 => Some(7),
        13 => Some(24),
        _ => None,
    }
}

/// Object types that carry a GASpecificConfig (ISO/IEC 14496-3 1.6.2.1 switch).
fn is_ga(aot: u8) -> bool {
    matches!(aot, 1..=4 | 6 | 7 | 17 | 19..=23)
}

/// Parses an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
pub fn parse_asc(data: &[u8]) -> Result<AudioSpecificConfig, String> {
    let mut r = BitReader::new(data);
    let mut aot = read_aot(&mut r, "audioObjectType")?;
    if aot == 0 {
        return Err("audioObjectType 0 (null object) is invalid".into());
    }
    let sample_rate = read_sample_rate(&mut r, "samplingFrequencyIndex")?;
    let channel_config = r.u8(4, "channelConfiguration")?;
    let mut sbr = false;
    let mut ps = false;
    let mut output_sample_rate = sample_rate;
    // Explicit hierarchical signalling: AOT 5 (SBR) or 29 (PS) wraps the core object type.
    if aot == 5 || aot == 29 {
        sbr = true;
        ps = aot == 29;
        output_sample_rate = read_sample_rate(&mut r, "extensionSamplingFrequencyIndex")?;
        aot = read_aot(&mut r, "core audioObjectType")?;
        if aot == 22 {
            r.skip(4, "extensionChannelConfiguration")?;
        }
    }
    let mut channels = channels_for_config(channel_config);
    if is_ga(aot) {
        if let Some(pce_channels) = ga_specific_config(&mut r, aot, channel_config)? {
            channels = Some(pce_channels);
        }
        if matches!(aot, 17 | 19..=23) {
            r.skip(2, "epConfig")?;
        }
        // Backward-compatible signalling (1.6.5.2): optional trailing sync extension. A
        // malformed extension is ignored rather than failing the whole config.
        if !sbr && r.bits_left() >= 16 {
            if let Ok(ext) = sync_extension(&mut r) {
                if let Some(rate) = ext.sbr_rate {
                    sbr = true;
                    output_sample_rate = rate;
                }
                ps = ext.ps;
            }
        }
    }
    let mut channels = channels.ok_or_else(|| {
        format!("channelConfiguration {channel_config} is reserved or needs a program config")
    })?;
    if ps && channels == 1 {
        channels = 2;
    }
    Ok(AudioSpecificConfig {
        object_type: aot,
        sample_rate,
        channels,
        sbr,
        ps,
        output_sample_rate,
    })
}

/// GASpecificConfig (ISO/IEC 14496-3 4.4.1, Table 4.1). Returns the channel count from the
/// program_config_element when channelConfiguration is 0.
fn ga_specific_config(
    r: &mut BitReader,
    aot: u8,
    channel_config: u8,
) -> Result<Option<u16>, String> {
    r.skip(1, "frameLengthFlag")?;
    if r.flag("dependsOnCoreCoder")? {
        r.skip(14, "coreCoderDelay")?;
    }
    let extension_flag = r.flag("extensionFlag")?;
    let pce = if channel_config == 0 {
        Some(program_config_element(r)?)
    } else {
        None
    };
    if aot == 6 || aot == 20 {
        r.skip(3, "layerNr")?;
    }
    if extension_flag {
        if aot == 22 {
            r.skip(5 + 11, "numOfSubFrame/layer_length")?;
        }
        if matches!(aot, 17 | 19 | 20 | 23) {
            r.skip(3, "aacSection/Scalefactor/SpectralDataResilienceFlag")?;
        }
        r.skip(1, "extensionFlag3")?;
    }
    Ok(pce)
}

/// program_config_element (ISO/IEC 14496-3 4.4.1.1, Table 4.2): counts output channels.
fn program_config_element(r: &mut BitReader) -> Result<u16, String> {
    r.skip(
        4 + 2 + 4,
        "PCE element_instance_tag/object_type/sampling_frequency_index",
    )?;
    let front = r.bits(4, "num_front_channel_elements")?;
    let side = r.bits(4, "num_side_channel_elements")?;
    let back = r.bits(4, "num_back_channel_elements")?;
    let lfe = r.bits(2, "num_lfe_channel_elements")?;
    let assoc = r.bits(3, "num_assoc_data_elements")?;
    let cc = r.bits(4, "num_valid_cc_elements")?;
    for what in ["mono_mixdown", "stereo_mixdown"] {
        if r.flag(what)? {
            r.skip(4, what)?;
        }
    }
    if r.flag("matrix_mixdown_idx_present")? {
        r.skip(3, "matrix_mixdown_idx")?;
    }
    let mut channels = lfe;
    for _ in 0..(front + side + back) {
        let is_cpe = r.flag("is_cpe")?;
        r.skip(4, "element_tag_select")?;
        channels += if is_cpe { 2 } else { 1 };
    }
    r.skip(
        4 * (lfe + assoc) as usize,
        "lfe/assoc_data_element_tag_select",
    )?;
    r.skip(5 * cc as usize, "valid_cc_element")?;
    // byte_alignment() relative to the start of the AudioSpecificConfig.
    r.byte_align();
    let comment = r.bits(8, "comment_field_bytes")?;
    r.skip(8 * comment as usize, "comment_field_data")?;
    if channels == 0 {
        return Err("program_config_element declares no channels".into());
    }
    Ok(u16::try_from(channels).unwrap_or(u16::MAX))
}

struct SyncExtension {
    sbr_rate: Option<u32>,
    ps: bool,
}

/// Trailing syncExtensionType 0x2b7 block of 1.6.2.1 (backward-compatible SBR/PS signalling).
fn sync_extension(r: &mut BitReader) -> Result<SyncExtension, String> {
    let mut ext = SyncExtension {
        sbr_rate: None,
        ps: false,
    };
    if r.bits(11, "syncExtensionType")? != 0x2b7 {
        return Ok(ext);
    }
    let ext_aot = read_aot(r, "extensionAudioObjectType")?;
    if ext_aot == 5 {
        if r.flag("sbrPresentFlag")? {
            ext.sbr_rate = Some(read_sample_rate(r, "extensionSamplingFrequencyIndex")?);
            if r.bits_left() >= 12 && r.bits(11, "syncExtensionType")? == 0x548 {
                ext.ps = r.flag("psPresentFlag")?;
            }
        }
    } else if ext_aot == 22 && r.flag("sbrPresentFlag")? {
        ext.sbr_rate = Some(read_sample_rate(r, "extensionSamplingFrequencyIndex")?);
    }
    Ok(ext)
}

/// Fixed + variable ADTS header fields (ISO/IEC 14496-3 1.A.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// 7, or 9 with CRC (protection_absent = 0).
    pub header_len: usize,
    /// aac_frame_length: header + payload.
    pub frame_len: usize,
    /// profile_ObjectType + 1 (1 = Main, 2 = LC, 3 = SSR, 4 = LTP).
    pub object_type: u8,
    pub sample_rate: u32,
    pub sampling_index: u8,
    pub channel_config: u8,
}

/// Parses an ADTS header; `data` starts at the syncword. Frames carrying more than one raw
/// data block are rejected, since a sample must be exactly one access unit.
pub fn parse_adts(data: &[u8]) -> Result<AdtsHeader, String> {
    let h = data
        .get(..7)
        .ok_or_else(|| format!("ADTS header needs 7 bytes, have {}", data.len()))?;
    let mut r = BitReader::new(h);
    if r.bits(12, "syncword")? != 0xFFF {
        return Err(format!(
            "no ADTS syncword 0xFFF (first bytes {:02x} {:02x})",
            h.first().copied().unwrap_or(0),
            h.get(1).copied().unwrap_or(0)
        ));
    }
    r.skip(1, "ID")?;
    let layer = r.bits(2, "layer")?;
    if layer != 0 {
        return Err(format!("ADTS layer is {layer}, must be 0"));
    }
    let protection_absent = r.flag("protection_absent")?;
    let object_type = r.u8(2, "profile_ObjectType")? + 1;
    let sampling_index = r.u8(4, "sampling_frequency_index")?;
    let sample_rate = SAMPLE_RATES
        .get(usize::from(sampling_index))
        .copied()
        .ok_or_else(|| format!("ADTS sampling_frequency_index {sampling_index} is reserved"))?;
    r.skip(1, "private_bit")?;
    let channel_config = r.u8(3, "channel_configuration")?;
    r.skip(4, "original_copy/home/copyright bits")?;
    let frame_len = r.bits(13, "aac_frame_length")? as usize;
    r.skip(11, "adts_buffer_fullness")?;
    let raw_blocks = r.bits(2, "number_of_raw_data_blocks_in_frame")?;
    if raw_blocks != 0 {
        return Err(format!(
            "ADTS frame holds {} raw data blocks; only single-block frames are supported",
            raw_blocks + 1
        ));
    }
    let header_len = if protection_absent { 7 } else { 9 };
    if frame_len < header_len {
        return Err(format!(
            "ADTS aac_frame_length {frame_len} is shorter than its {header_len}-byte header"
        ));
    }
    Ok(AdtsHeader {
        header_len,
        frame_len,
        object_type,
        sample_rate,
        sampling_index,
        channel_config,
    })
}

/// Two-byte AudioSpecificConfig equivalent to an ADTS header: audioObjectType(5),
/// samplingFrequencyIndex(4), channelConfiguration(4), GASpecificConfig flags all 0.
pub fn asc_from_adts(h: &AdtsHeader) -> Bytes {
    let v: u16 = (u16::from(h.object_type & 0x1F) << 11)
        | (u16::from(h.sampling_index & 0x0F) << 7)
        | (u16::from(h.channel_config & 0x0F) << 3);
    Bytes::copy_from_slice(&v.to_be_bytes())
}

/// Builds a 7-byte ADTS header (no CRC) for one raw access unit of `payload_len` bytes
/// (ISO/IEC 14496-3 1.A.2.2). HE-AAC is written with its core object type and rate (implicit
/// SBR signalling), as ADTS cannot express explicit SBR.
pub fn adts_header(asc: &AudioSpecificConfig, payload_len: usize) -> Result<[u8; 7], String> {
    if !(1..=4).contains(&asc.object_type) {
        return Err(format!(
            "audio object type {} cannot be carried in ADTS (profile is 2 bits)",
            asc.object_type
        ));
    }
    let sampling_index = SAMPLE_RATES
        .iter()
        .position(|&r| r == asc.sample_rate)
        .ok_or_else(|| format!("sample rate {} Hz has no ADTS index", asc.sample_rate))?;
    let channel_config: u64 = match asc.channels {
        2 if asc.ps => 1,
        1..=6 => u64::from(asc.channels),
        8 => 7,
        n => {
            return Err(format!(
                "{n} channels need a program config element, not supported in ADTS"
            ))
        }
    };
    let frame_len = payload_len
        .checked_add(7)
        .filter(|&l| l < (1 << 13))
        .ok_or_else(|| format!("AAC frame of {payload_len} bytes too long for ADTS"))?;
    // 56 bits, MSB first: syncword 0xFFF, ID 0 (MPEG-4), layer 00, protection_absent 1,
    // profile, sampling index, private 0, channel config, 4 zero bits, frame length,
    // buffer fullness 0x7FF (VBR), 0 extra raw data blocks.
    let v: u64 = (0xFFF << 44)
        | (1 << 40)
        | (u64::from(asc.object_type - 1) << 38)
        | ((sampling_index as u64) << 34)
        | (channel_config << 30)
        | ((frame_len as u64) << 13)
        | (0x7FF << 2);
    let b = v.to_be_bytes();
    Ok([b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asc(
        object_type: u8,
        sample_rate: u32,
        channels: u16,
        sbr: bool,
        ps: bool,
        output_sample_rate: u32,
    ) -> AudioSpecificConfig {
        AudioSpecificConfig {
            object_type,
            sample_rate,
            channels,
            sbr,
            ps,
            output_sample_rate,
        }
    }

    /// (name, ASC bytes, expected). Bytes assembled by hand from the 1.6.2.1 syntax; the LC
    /// ones match what ffmpeg writes into esds.
    fn asc_cases() -> Vec<(&'static str, Vec<u8>, AudioSpecificConfig)> {
        vec![
            (
                "LC 44.1k stereo",
                vec![0x12, 0x10],
                asc(2, 44100, 2, false, false, 44100),
            ),
            (
                "LC 48k stereo",
                vec![0x11, 0x90],
                asc(2, 48000, 2, false, false, 48000),
            ),
            (
                "LC 48k mono",
                vec![0x11, 0x88],
                asc(2, 48000, 1, false, false, 48000),
            ),
            (
                "LC 48k 5.1",
                vec![0x11, 0xB0],
                asc(2, 48000, 6, false, false, 48000),
            ),
            (
                "LC 48k 7.1",
                vec![0x11, 0xB8],
                asc(2, 48000, 8, false, false, 48000),
            ),
            // HE-AAC explicit hierarchical: AOT 5, core 24k, ext 48k, core AOT 2.
            (
                "HE-AAC explicit",
                vec![0x2B, 0x11, 0x88, 0x00],
                asc(2, 24000, 2, true, false, 48000),
            ),
            // HE-AACv2 explicit: AOT 29, 24k mono core → 48k stereo.
            (
                "HE-AACv2 explicit",
                vec![0xEB, 0x09, 0x88, 0x00],
                asc(2, 24000, 2, true, true, 48000),
            ),
            // Backward-compatible: LC 22.05k stereo, then 0x2b7, AOT 5, sbrPresentFlag 1,
            // extensionSamplingFrequencyIndex 4 (44.1k).
            (
                "HE-AAC sync ext",
                vec![0x13, 0x90, 0x56, 0xE5, 0xA0],
                asc(2, 22050, 2, true, false, 44100),
            ),
            // Same with a mono core, then 0x548 psPresentFlag 1.
            (
                "HE-AACv2 sync ext",
                vec![0x13, 0x88, 0x56, 0xE5, 0xA5, 0x48, 0x80],
                asc(2, 22050, 2, true, true, 44100),
            ),
            // Escape sampling rate: AOT 2, index 15, 24-bit rate 0x00AC44 (44100), stereo.
            (
                "explicit rate",
                vec![0x17, 0x80, 0x56, 0x22, 0x10],
                asc(2, 44100, 2, false, false, 44100),
            ),
            // Extended AOT 31 escape → 32 + 10 = 42 (USAC): no GASpecificConfig parsing.
            (
                "USAC",
                vec![0xF9, 0x46, 0x40],
                asc(42, 48000, 2, false, false, 48000),
            ),
        ]
    }

    #[test]
    fn parses_audio_specific_configs() {
        for (name, bytes, want) in asc_cases() {
            assert_eq!(parse_asc(&bytes), Ok(want), "{name}");
        }
    }

    #[test]
    fn parses_program_config_element() {
        // AOT 2, 48k, channelConfiguration 0, GASpecificConfig 000, then a PCE:
        // tag 0, object_type 1, sfi 3, front 2, side 0, back 1, lfe 1, assoc 0, cc 0,
        // no mixdowns, front: SCE tag 0, CPE tag 0; back: CPE tag 1; lfe tag 0;
        // align; comment 0 bytes. → 1 + 2 + 2 + 1 = 6 channels.
        let mut bits = String::new();
        bits += "00010"; // AOT 2
        bits += "0011"; // 48 kHz
        bits += "0000"; // channelConfiguration 0
        bits += "000"; // frameLength, dependsOnCoreCoder, extensionFlag
        bits += "0000"; // element_instance_tag
        bits += "01"; // object_type
        bits += "0011"; // sampling_frequency_index
        bits += "0010"; // front
        bits += "0000"; // side
        bits += "0001"; // back
        bits += "01"; // lfe
        bits += "000"; // assoc
        bits += "0000"; // cc
        bits += "000"; // mixdown flags
        bits += "00000"; // front SCE
        bits += "10000"; // front CPE
        bits += "10001"; // back CPE
        bits += "0000"; // lfe tag
        while !bits.len().is_multiple_of(8) {
            bits.push('0');
        }
        bits += "00000000"; // comment_field_bytes
        let bytes: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap())
            .collect();
        let got = parse_asc(&bytes).unwrap();
        assert_eq!(got.channels, 6);
        assert_eq!(got.sample_rate, 48000);
    }

    #[test]
    fn rejects_bad_configs() {
        for (name, bytes) in [
            ("empty", &[][..]),
            ("one byte", &[0x12]),
            ("AOT 0", &[0x01, 0x10]),
            ("reserved rate index 13", &[0x16, 0x90]),
            ("reserved channel config 8", &[0x12, 0x40]),
            ("zero explicit rate", &[0x17, 0x80, 0x00, 0x00, 0x10]),
        ] {
            assert!(parse_asc(bytes).is_err(), "{name}");
        }
    }

    #[test]
    fn adts_round_trip() {
        let cases = [
            asc(2, 48000, 2, false, false, 48000),
            asc(2, 44100, 1, false, false, 44100),
            asc(1, 96000, 6, false, false, 96000),
            asc(2, 8000, 8, false, false, 8000),
        ];
        for a in cases {
            let hdr = adts_header(&a, 300).unwrap();
            let mut frame = hdr.to_vec();
            frame.extend(std::iter::repeat_n(0u8, 300));
            let h = parse_adts(&frame).unwrap();
            assert_eq!(h.header_len, 7);
            assert_eq!(h.frame_len, 307);
            assert_eq!(h.object_type, a.object_type);
            assert_eq!(h.sample_rate, a.sample_rate);
            let back = parse_asc(&asc_from_adts(&h)).unwrap();
            assert_eq!(back, a, "{a:?}");
        }
    }

    #[test]
    fn adts_known_header_and_crc() {
        // ffmpeg -c:a aac -f adts, 48k stereo LC, frame 371 bytes.
        let hdr = [0xFF, 0xF1, 0x4C, 0x80, 0x2E, 0x7F, 0xFC];
        let h = parse_adts(&hdr).unwrap();
        assert_eq!(
            h,
            AdtsHeader {
                header_len: 7,
                frame_len: 371,
                object_type: 2,
                sample_rate: 48000,
                sampling_index: 3,
                channel_config: 2
            }
        );
        assert_eq!(&asc_from_adts(&h)[..], &[0x11, 0x90]);
        assert_eq!(
            adts_header(&parse_asc(&[0x11, 0x90]).unwrap(), 364).unwrap(),
            hdr
        );
        // protection_absent = 0 → 9-byte header.
        let crc = [0xFF, 0xF0, 0x4C, 0x80, 0x2E, 0x7F, 0xFC];
        assert_eq!(parse_adts(&crc).unwrap().header_len, 9);
    }

    #[test]
    fn adts_errors() {
        assert!(parse_adts(&[0xFF, 0xF1, 0x4C]).is_err());
        assert!(parse_adts(&[0xFF, 0xE1, 0x4C, 0x80, 0x2E, 0x7F, 0xFC]).is_err()); // sync
        assert!(parse_adts(&[0xFF, 0xF3, 0x4C, 0x80, 0x2E, 0x7F, 0xFC]).is_err()); // layer
        assert!(parse_adts(&[0xFF, 0xF1, 0x74, 0x80, 0x2E, 0x7F, 0xFC]).is_err()); // sfi 13
        assert!(parse_adts(&[0xFF, 0xF1, 0x4C, 0x80, 0x00, 0x9F, 0xFC]).is_err()); // len 4
        assert!(parse_adts(&[0xFF, 0xF1, 0x4C, 0x80, 0x2E, 0x7F, 0xFD]).is_err()); // 2 blocks
        let lc = asc(2, 48000, 2, false, false, 48000);
        assert!(adts_header(&lc, 8185).is_err());
        assert!(adts_header(&lc, 8184).is_ok());
        assert!(adts_header(&asc(5, 48000, 2, false, false, 48000), 10).is_err());
        assert!(adts_header(&asc(2, 47000, 2, false, false, 47000), 10).is_err());
        assert!(adts_header(&asc(2, 48000, 7, false, false, 48000), 10).is_err());
        // HE-AACv2: core mono in ADTS.
        let hdr = adts_header(&asc(2, 24000, 2, true, true, 48000), 10).unwrap();
        assert_eq!(parse_adts(&hdr).unwrap().channel_config, 1);
    }

    #[test]
    fn never_panics_on_prefixes_or_noise() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for (_, bytes, _) in asc_cases() {
            for n in 0..=bytes.len() {
                inputs.push(bytes[..n].to_vec());
            }
        }
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..64 {
            inputs.push(
                (0..len)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        (s >> 24) as u8
                    })
                    .collect(),
            );
        }
        for data in &inputs {
            let _ = parse_asc(data);
            if let Ok(h) = parse_adts(data) {
                let _ = parse_asc(&asc_from_adts(&h));
            }
            let mut adts = vec![0xFF, 0xF1];
            adts.extend_from_slice(data);
            let _ = parse_adts(&adts);
        }
    }
}
