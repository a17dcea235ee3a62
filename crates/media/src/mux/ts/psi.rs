// SPDX-License-Identifier: MIT OR Apache-2.0
//! Program-specific information (ISO/IEC 13818-1 §2.4.4): the program association table (PAT),
//! the program map table (PMT) and the CRC_32 that ends every section (Annex A).

/// PID of the PAT (§2.4.4.3, table 2-3).
pub const PAT_PID: u16 = 0x0000;
/// The one program this muxer writes (program_number 1, as ffmpeg and Apple's tools do).
pub const PROGRAM_NUMBER: u16 = 1;
const TRANSPORT_STREAM_ID: u16 = 1;
/// Largest section_length of a PAT/PMT (§2.4.4.3/2.4.4.8: "shall not exceed 1021").
const MAX_SECTION_LENGTH: usize = 1021;

/// CRC-32 of MPEG-2 systems (Annex A): polynomial 0x04C11DB7, initial value 0xFFFFFFFF, MSB
/// first, no reflection and no final XOR. Over a whole section including its CRC it gives 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xFFFF_FFFF, |crc, &b| {
        let idx = usize::from((crc >> 24) as u8 ^ b);
        (crc << 8) ^ CRC_TABLE.get(idx).copied().unwrap_or(0)
    })
}

static CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// One elementary stream entry of the PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsEntry {
    pub stream_type: u8,
    pub pid: u16,
    /// Raw descriptors for the ES_info loop.
    pub descriptors: Vec<u8>,
}

/// registration_descriptor (§2.6.8): tag 5, format_identifier.
pub fn registration_descriptor(format_identifier: &[u8; 4], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x05, 4]);
    out.extend_from_slice(format_identifier);
}

/// ISO_639_language_descriptor (§2.6.18): tag 0x0A, one language, audio_type 0 (undefined).
pub fn language_descriptor(code: &[u8; 3], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x0A, 4]);
    out.extend_from_slice(code);
    out.push(0);
}

/// Writes the long-form section header (§2.4.4.1) for `body_len` bytes after it plus the CRC,
/// then `body`, then the CRC_32. `Err` if the section is too long.
fn long_section(table_id: u8, id_ext: u16, body: &[u8]) -> Result<Vec<u8>, usize> {
    // section_length counts from after itself: id_ext(2) version(1) numbers(2) body CRC(4).
    let section_length = 5 + body.len() + 4;
    if section_length > MAX_SECTION_LENGTH {
        return Err(section_length);
    }
    let mut s = Vec::with_capacity(3 + section_length);
    let [len_hi, len_lo] = (section_length as u16).to_be_bytes();
    // section_syntax_indicator 1, '0', reserved '11', 12-bit section_length.
    s.extend_from_slice(&[table_id, 0xB0 | (len_hi & 0x0F), len_lo]);
    s.extend_from_slice(&id_ext.to_be_bytes());
    // reserved '11', version_number 0, current_next_indicator 1; section 0 of last 0.
    s.extend_from_slice(&[0xC1, 0x00, 0x00]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    Ok(s)
}

/// program_association_section (§2.4.4.3) with program 1 → `pmt_pid`.
pub fn pat_section(pmt_pid: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(4);
    body.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    body.extend_from_slice(&(0xE000 | (pmt_pid & 0x1FFF)).to_be_bytes());
    // A 4-byte body always fits.
    long_section(0x00, TRANSPORT_STREAM_ID, &body).unwrap_or_default()
}

/// TS_program_map_section (§2.4.4.8) of program 1; `Err(section_length)` if it is too long.
pub fn pmt_section(pcr_pid: u16, streams: &[EsEntry]) -> Result<Vec<u8>, usize> {
    let mut body = Vec::new();
    // reserved '111' + PCR_PID; reserved '1111' + program_info_length 0.
    body.extend_from_slice(&(0xE000 | (pcr_pid & 0x1FFF)).to_be_bytes());
    body.extend_from_slice(&[0xF0, 0x00]);
    for es in streams {
        let info_len = u16::try_from(es.descriptors.len())
            .ok()
            .filter(|&l| l < 0x400)
            .ok_or(MAX_SECTION_LENGTH + 1)?;
        body.push(es.stream_type);
        body.extend_from_slice(&(0xE000 | (es.pid & 0x1FFF)).to_be_bytes());
        body.extend_from_slice(&(0xF000 | info_len).to_be_bytes());
        body.extend_from_slice(&es.descriptors);
    }
    long_section(0x02, PROGRAM_NUMBER, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        // CRC-32/MPEG-2 catalogue check value.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        assert_eq!(crc32_mpeg2(b""), 0xFFFF_FFFF);
    }

    #[test]
    fn pat_bytes() {
        let pat = pat_section(0x1000);
        // The PAT every ffmpeg-made stream carries (same ids, program 1 → PMT PID 0x1000).
        assert_eq!(
            pat,
            [
                0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1,
                0x04, 0xB2
            ]
        );
        assert_eq!(crc32_mpeg2(&pat), 0, "CRC over the whole section is 0");
    }

    #[test]
    fn pmt_layout_and_crc() {
        let mut ac3 = vec![];
        registration_descriptor(b"AC-3", &mut ac3);
        language_descriptor(b"eng", &mut ac3);
        let streams = [
            EsEntry {
                stream_type: 0x1B,
                pid: 0x100,
                descriptors: vec![],
            },
            EsEntry {
                stream_type: 0x81,
                pid: 0x101,
                descriptors: ac3.clone(),
            },
        ];
        let pmt = pmt_section(0x100, &streams).unwrap();
        assert_eq!(crc32_mpeg2(&pmt), 0);
        let section_length = usize::from(u16::from_be_bytes([pmt[1], pmt[2]]) & 0x0FFF);
        assert_eq!(section_length + 3, pmt.len());
        assert_eq!(pmt[0], 0x02);
        assert_eq!(&pmt[3..5], &[0x00, 0x01], "program_number");
        assert_eq!(
            u16::from_be_bytes([pmt[8], pmt[9]]) & 0x1FFF,
            0x100,
            "PCR_PID"
        );
        assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
        assert_eq!(&pmt[17..22], &[0x81, 0xE1, 0x01, 0xF0, 12]);
        assert_eq!(&pmt[22..34], &ac3[..]);
        assert_eq!(&ac3[..6], &[0x05, 4, b'A', b'C', b'-', b'3']);
    }

    #[test]
    fn pmt_too_long_is_refused() {
        let many: Vec<EsEntry> = (0..100)
            .map(|i| EsEntry {
                stream_type: 0x0F,
                pid: 0x101 + i,
                descriptors: vec![0; 6],
            })
            .collect();
        assert!(pmt_section(0x101, &many).is_err());
    }
}
