// SPDX-License-Identifier: MIT OR Apache-2.0
//! Program Specific Information: section reassembly across packets, CRC_32, and the program
//! association / program map tables (ISO/IEC 13818-1 §2.4.4).

/// table_id of the program_association_section (§2.4.4.4, Table 2-31).
pub(super) const TABLE_PAT: u8 = 0x00;
/// table_id of the TS_program_map_section.
pub(super) const TABLE_PMT: u8 = 0x02;
/// Largest section: section_length is at most 4093 for private sections (§2.4.4.11).
const MAX_SECTION: usize = 3 + 4093;

/// CRC-32/MPEG-2 table (§2.4.4.12 / Annex A: polynomial 0x04C11DB7, MSB first, init all ones,
/// no final XOR); a section with its CRC_32 appended checks to 0.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

pub(super) fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xFFFF_FFFF, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)]
    })
}

/// Collects sections of one PID from packet payloads (§2.4.4.1–§2.4.4.2: pointer_field).
#[derive(Debug, Clone, Default)]
pub(super) struct SectionAssembler {
    buf: Vec<u8>,
    /// A section has started and is not complete yet.
    active: bool,
}

impl SectionAssembler {
    /// Feeds one packet payload; complete sections go to `out` (CRC not checked yet).
    pub(super) fn push(&mut self, pusi: bool, payload: &[u8], out: &mut Vec<Vec<u8>>) {
        if !pusi {
            if self.active {
                self.extend(payload, out);
            }
            return;
        }
        let Some((&pointer, rest)) = payload.split_first() else {
            self.reset();
            return;
        };
        let pointer = usize::from(pointer);
        let (Some(tail), Some(start)) = (rest.get(..pointer), rest.get(pointer..)) else {
            tracing::warn!(pointer, "MPEG-TS: PSI pointer_field points past the packet");
            self.reset();
            return;
        };
        if self.active {
            self.extend(tail, out);
            if self.active {
                tracing::warn!("MPEG-TS: PSI section cut short by a new section; dropped");
            }
        }
        self.reset();
        self.active = true;
        self.extend(start, out);
    }

    /// Drops a partial section (after a continuity error).
    pub(super) fn reset(&mut self) {
        self.buf.clear();
        self.active = false;
    }

    fn extend(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) {
        self.buf.extend_from_slice(data);
        loop {
            // 0xFF where a table_id would be: stuffing up to the end of the packet.
            if self.buf.first() == Some(&0xFF) {
                self.reset();
                return;
            }
            let Some(&[_, hi, lo]) = self.buf.first_chunk::<3>() else {
                return;
            };
            let total = 3 + ((usize::from(hi & 0x0F) << 8) | usize::from(lo));
            if total > MAX_SECTION {
                self.reset();
                return;
            }
            if self.buf.len() < total {
                return;
            }
            out.push(self.buf.drain(..total).collect());
            if self.buf.is_empty() {
                self.active = false;
                return;
            }
        }
    }
}

/// Header fields of a long-form section (§2.4.4.4 ff.) and its body between header and CRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section<'a> {
    pub table_id: u8,
    /// transport_stream_id (PAT) or program_number (PMT).
    pub id: u16,
    pub version: u8,
    pub current_next: bool,
    pub body: &'a [u8],
}

/// Checks syntax indicator, length and CRC_32 of a complete section.
pub(super) fn parse_section(section: &[u8]) -> Result<Section<'_>, String> {
    let Some(&[table_id, b1, _, id_hi, id_lo, b5, _, _]) = section.first_chunk::<8>() else {
        return Err(format!("section of {} bytes is too short", section.len()));
    };
    if b1 & 0x80 == 0 {
        return Err(format!(
            "table_id {table_id:#04x}: section_syntax_indicator is 0"
        ));
    }
    if section.len() < 12 {
        return Err(format!(
            "table_id {table_id:#04x}: section too short for CRC_32"
        ));
    }
    if crc32_mpeg2(section) != 0 {
        return Err(format!("table_id {table_id:#04x}: CRC_32 mismatch"));
    }
    Ok(Section {
        table_id,
        id: u16::from_be_bytes([id_hi, id_lo]),
        version: (b5 >> 1) & 0x1F,
        current_next: b5 & 0x01 != 0,
        body: section.get(8..section.len() - 4).unwrap_or(&[]),
    })
}

/// §2.4.4.3: the PMT PID of the first program (program_number 0 is the network PID).
pub(super) fn first_program(pat_body: &[u8]) -> Option<(u16, u16)> {
    pat_body.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([*e.first()?, *e.get(1)?]);
        let pid = u16::from_be_bytes([*e.get(2)? & 0x1F, *e.get(3)?]);
        (program != 0).then_some((program, pid))
    })
}

/// One elementary stream entry of a PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PmtStream {
    pub stream_type: u8,
    pub pid: u16,
    /// (descriptor_tag, descriptor body) pairs from the ES_info loop.
    pub descriptors: Vec<(u8, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pmt {
    pub pcr_pid: u16,
    pub streams: Vec<PmtStream>,
}

/// §2.4.4.8–§2.4.4.9: TS_program_map_section body.
pub(super) fn parse_pmt(body: &[u8]) -> Result<Pmt, String> {
    let Some(&[pcr_hi, pcr_lo, info_hi, info_lo]) = body.first_chunk::<4>() else {
        return Err("PMT body too short".into());
    };
    let pcr_pid = u16::from_be_bytes([pcr_hi & 0x1F, pcr_lo]);
    let info_len = (usize::from(info_hi & 0x0F) << 8) | usize::from(info_lo);
    let mut rest = body
        .get(4 + info_len..)
        .ok_or("PMT program_info_length runs past the section")?;
    let mut streams = Vec::new();
    while !rest.is_empty() {
        let Some(&[stream_type, pid_hi, pid_lo, es_hi, es_lo]) = rest.first_chunk::<5>() else {
            return Err("PMT ES entry truncated".into());
        };
        let pid = u16::from_be_bytes([pid_hi & 0x1F, pid_lo]);
        let es_len = (usize::from(es_hi & 0x0F) << 8) | usize::from(es_lo);
        let info = rest
            .get(5..5 + es_len)
            .ok_or_else(|| format!("PMT: ES_info_length of PID {pid} runs past the section"))?;
        streams.push(PmtStream {
            stream_type,
            pid,
            descriptors: descriptors(info),
        });
        rest = rest.get(5 + es_len..).unwrap_or(&[]);
    }
    Ok(Pmt { pcr_pid, streams })
}

/// §2.6: tag, length, body; a truncated last descriptor is ignored.
fn descriptors(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(&[tag, len]) = data.first_chunk::<2>() {
        let Some(body) = data.get(2..2 + usize::from(len)) else {
            break;
        };
        out.push((tag, body.to_vec()));
        data = data.get(2 + usize::from(len)..).unwrap_or(&[]);
    }
    out
}

/// Elementary stream codecs this demuxer handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EsCodec {
    H264,
    Hevc,
    /// AAC in ADTS (stream_type 0x0F).
    AdtsAac,
    /// MPEG-1/2 audio (only layer III is accepted once the first header is seen).
    MpegAudio,
    /// AC-3 or E-AC-3; which one is decided from the bitstream (bsid).
    Ac3Family,
}

/// Descriptor tags used below: registration (§2.6.8), ISO 639 language (§2.6.18), and the DVB
/// AC-3 / enhanced AC-3 descriptors (ETSI EN 300 468 Annex D).
const DESC_REGISTRATION: u8 = 0x05;
const DESC_LANGUAGE: u8 = 0x0A;
const DESC_DVB_AC3: u8 = 0x6A;
const DESC_DVB_EAC3: u8 = 0x7A;

/// stream_type → codec (§2.4.4.9 Table 2-34; 0x81/0x87 from ATSC A/52; 0x06 private data
/// identified by descriptors).
pub(super) fn classify(stream: &PmtStream) -> Option<EsCodec> {
    match stream.stream_type {
        0x1B => Some(EsCodec::H264),
        0x24 => Some(EsCodec::Hevc),
        0x0F => Some(EsCodec::AdtsAac),
        0x03 | 0x04 => Some(EsCodec::MpegAudio),
        0x81 | 0x87 => Some(EsCodec::Ac3Family),
        0x06 => stream
            .descriptors
            .iter()
            .any(|(tag, body)| match *tag {
                DESC_DVB_AC3 | DESC_DVB_EAC3 => true,
                DESC_REGISTRATION => matches!(body.get(..4), Some(b"AC-3" | b"EAC3")),
                _ => false,
            })
            .then_some(EsCodec::Ac3Family),
        _ => None,
    }
}

/// ISO_639_language_descriptor's first code, if any.
pub(super) fn language(stream: &PmtStream) -> Option<String> {
    stream.descriptors.iter().find_map(|(tag, body)| {
        let code = body.get(..3).filter(|_| *tag == DESC_LANGUAGE)?;
        let code = std::str::from_utf8(code).ok()?;
        (code.bytes().all(|b| b.is_ascii_alphabetic())).then(|| code.to_ascii_lowercase())
    })
}

/// Human name of a stream_type, for the "ignored" warning.
pub(super) fn stream_type_name(stream_type: u8) -> &'static str {
    match stream_type {
        0x01 => "MPEG-1 video",
        0x02 => "MPEG-2 video",
        0x06 => "private data (PES)",
        0x11 => "AAC LATM",
        0x15 => "metadata (PES)",
        0x86 => "SCTE-35",
        0x10 => "MPEG-4 visual",
        0x1C => "MPEG-4 audio (raw)",
        0x2D | 0x2E => "MPEG-H 3D audio",
        0x33 => "VVC",
        0x42 => "AVS2",
        0x80 => "LPCM / DigiCipher II video",
        0x82 | 0x85 | 0x8A => "DTS",
        0x83 => "Dolby TrueHD",
        0x90 => "PGS subtitles",
        _ => "unknown",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Builds a long-form section with correct length and CRC_32.
    pub(crate) fn section(table_id: u8, id: u16, version: u8, body: &[u8]) -> Vec<u8> {
        let len = 5 + body.len() + 4;
        let mut s = vec![table_id, 0xB0 | (len >> 8) as u8, len as u8];
        s.extend(id.to_be_bytes());
        s.extend([0xC1 | (version << 1), 0, 0]);
        s.extend_from_slice(body);
        let crc = crc32_mpeg2(&s);
        s.extend(crc.to_be_bytes());
        s
    }

    #[test]
    fn crc_check_value() {
        // CRC-32/MPEG-2 check value of "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn pat_roundtrip() {
        let body = [0, 0, 0xE0, 0x10, 0, 1, 0xF0, 0x00];
        let s = section(TABLE_PAT, 1, 3, &body);
        let parsed = parse_section(&s).expect("valid");
        assert_eq!((parsed.table_id, parsed.id, parsed.version), (0, 1, 3));
        assert!(parsed.current_next);
        assert_eq!(first_program(parsed.body), Some((1, 0x1000)));
    }

    #[test]
    fn corrupt_sections() {
        let good = section(TABLE_PAT, 1, 0, &[0, 1, 0xF0, 0]);
        let mut bad_crc = good.clone();
        bad_crc[9] ^= 1;
        let mut no_syntax = good.clone();
        no_syntax[1] &= 0x7F;
        let table: [(&[u8], &str); 3] = [
            (&bad_crc, "CRC"),
            (&no_syntax, "section_syntax_indicator"),
            (&good[..5], "too short"),
        ];
        for (bytes, needle) in table {
            let err = parse_section(bytes).expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn pmt_streams_and_descriptors() {
        let mut body = vec![0xE1, 0x00, 0xF0, 0x00];
        body.extend([0x1B, 0xE1, 0x00, 0xF0, 0x00]);
        body.extend([0x06, 0xE1, 0x01, 0xF0, 0x09, 0x6A, 0x01, 0x00, 0x0A, 0x04]);
        body.extend(b"eng\0");
        body.extend([0x06, 0xE1, 0x02, 0xF0, 0x00]);
        let pmt = parse_pmt(&body).expect("valid");
        assert_eq!(pmt.pcr_pid, 0x100);
        let codecs: Vec<_> = pmt.streams.iter().map(classify).collect();
        assert_eq!(
            codecs,
            vec![Some(EsCodec::H264), Some(EsCodec::Ac3Family), None]
        );
        assert_eq!(language(&pmt.streams[1]).as_deref(), Some("eng"));
        assert!(parse_pmt(&[0xE1, 0, 0xF0, 0x10]).is_err());
        assert!(parse_pmt(&[0xE1, 0, 0xF0, 0, 0x1B, 0xE1]).is_err());
    }

    #[test]
    fn assembler_spans_packets_and_stuffing() {
        let s1 = section(TABLE_PMT, 1, 0, &[0u8; 300]);
        let s2 = section(TABLE_PMT, 2, 0, &[1u8; 10]);
        let mut stream = s1.clone();
        stream.extend(&s2);
        let mut asm = SectionAssembler::default();
        let mut out = Vec::new();
        // first payload: pointer 0 + first 183 bytes
        let mut p1 = vec![0u8];
        p1.extend(&stream[..183]);
        asm.push(true, &p1, &mut out);
        assert!(out.is_empty());
        let mut p2 = stream[183..].to_vec();
        p2.extend([0xFF; 20]);
        asm.push(false, &p2, &mut out);
        assert_eq!(out, vec![s1.clone(), s2.clone()]);
        // pointer_field: tail of a section, then a new one.
        out.clear();
        let mut p3 = vec![0u8];
        p3.extend(&s1[..100]);
        asm.push(true, &p3, &mut out);
        let mut p4 = vec![(s1.len() - 100) as u8];
        p4.extend(&s1[100..]);
        p4.extend(&s2);
        p4.push(0xFF);
        asm.push(true, &p4, &mut out);
        assert_eq!(out, vec![s1, s2]);
        // continuation without a start is ignored
        out.clear();
        asm.push(false, &[1, 2, 3], &mut out);
        asm.push(true, &[200, 1, 2], &mut out);
        assert!(out.is_empty());
    }
}
