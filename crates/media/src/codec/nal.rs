// SPDX-License-Identifier: MIT OR Apache-2.0
//! NAL unit framing shared by H.264 and HEVC: Annex B byte streams (ISO/IEC 14496-10 Annex B,
//! ITU-T H.265 Annex B), MP4 length-prefixed samples (ISO/IEC 14496-15 5.3.2 / 8.3.2), removal
//! of emulation-prevention bytes (ISO/IEC 14496-10 7.4.1, H.265 7.4.2) and NAL header fields.

/// H.264 access unit delimiter with primary_pic_type 7 (any slice type) (ISO/IEC 14496-10 7.3.2.4).
pub const H264_AUD: [u8; 2] = [0x09, 0xF0];
/// HEVC access unit delimiter: type 35, layer 0, tid 1, pic_type 2 (H.265 7.3.2.5).
pub const H265_AUD: [u8; 3] = [0x46, 0x01, 0x50];

/// H.264 nal_unit_type values (ISO/IEC 14496-10 Table 7-1).
pub mod h264 {
    pub const NAL_SLICE: u8 = 1;
    pub const NAL_IDR: u8 = 5;
    pub const NAL_SEI: u8 = 6;
    pub const NAL_SPS: u8 = 7;
    pub const NAL_PPS: u8 = 8;
    pub const NAL_AUD: u8 = 9;
}

/// HEVC nal_unit_type values (ITU-T H.265 Table 7-1).
pub mod h265 {
    pub const NAL_VPS: u8 = 32;
    pub const NAL_SPS: u8 = 33;
    pub const NAL_PPS: u8 = 34;
    pub const NAL_AUD: u8 = 35;
    pub const NAL_SEI_PREFIX: u8 = 39;
    pub const NAL_SEI_SUFFIX: u8 = 40;
}

/// HEVC IRAP pictures (BLA, IDR, CRA and reserved IRAP types): nal_unit_type 16..=23
/// (H.265 7.4.2.2).
pub fn h265_is_irap(t: u8) -> bool {
    (16..=23).contains(&t)
}

/// nal_unit_type of an H.264 NAL (low 5 bits of the 1-byte header).
pub fn h264_nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1F)
}

/// nal_unit_type of an HEVC NAL (bits 1..7 of the 2-byte header).
pub fn h265_nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3F)
}

/// Splits an Annex B byte stream into NAL units (without start codes). Bytes before the first
/// start code are ignored; trailing zero bytes (trailing_zero_8bits, the leading zero of a
/// 4-byte start code) are trimmed and empty NALs skipped.
pub fn annexb_nals(data: &[u8]) -> AnnexBIter<'_> {
    let pos = find_start_code(data, 0).map_or(data.len(), |p| p.saturating_add(3));
    AnnexBIter { data, pos }
}

/// Iterator returned by [`annexb_nals`].
#[derive(Debug, Clone)]
pub struct AnnexBIter<'a> {
    data: &'a [u8],
    /// Start of the next NAL payload (just after a start code).
    pos: usize,
}

impl<'a> Iterator for AnnexBIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.pos >= self.data.len() {
                return None;
            }
            let (end, next) = match find_start_code(self.data, self.pos) {
                Some(sc) => (sc, sc.saturating_add(3)),
                None => (self.data.len(), self.data.len()),
            };
            let nal = trim_trailing_zeros(self.data.get(self.pos..end).unwrap_or(&[]));
            self.pos = next;
            if !nal.is_empty() {
                return Some(nal);
            }
        }
    }
}

/// Index of the first byte of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(w) = data.get(i..i.checked_add(3)?) {
        match w {
            // Third byte > 1: no start code can begin at i, i+1 or i+2.
            [_, _, b] if *b > 1 => i += 3,
            [0, 0, 1] => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let keep = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    nal.get(..keep).unwrap_or(&[])
}

/// Splits an MP4 sample into its NAL units; `length_size` is 1, 2, 3 or 4 bytes
/// (lengthSizeMinusOne + 1, ISO/IEC 14496-15 5.3.2.1). Zero-length NALs are skipped.
pub fn length_prefixed_nals(data: &[u8], length_size: usize) -> Result<Vec<&[u8]>, String> {
    if !(1..=4).contains(&length_size) {
        return Err(format!("NAL length size {length_size} is not 1, 2, 3 or 4"));
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let field = data
            .get(pos..pos.saturating_add(length_size))
            .ok_or_else(|| {
                format!(
                    "truncated {length_size}-byte NAL length at byte offset {pos} ({} bytes left)",
                    data.len() - pos
                )
            })?;
        let len = field
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let start = pos + length_size;
        let nal = start
            .checked_add(len)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| {
                format!(
                    "NAL length {len} at byte offset {pos} exceeds the {} bytes left in the sample",
                    data.len() - start
                )
            })?;
        if !nal.is_empty() {
            out.push(nal);
        }
        pos = start + len;
    }
    Ok(out)
}

/// Appends `nal` with a 4-byte big-endian length prefix. NALs are far below 4 GiB in practice;
/// a larger one would get a saturated (wrong) length rather than a panic.
pub fn write_length_prefixed(nal: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
}

/// Removes emulation_prevention_three_byte from `00 00 03` sequences
/// (ISO/IEC 14496-10 7.3.1 / 7.4.1, H.265 7.3.1.1).
pub fn rbsp(nal_payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal_payload.len());
    let mut zeros = 0usize;
    for &b in nal_payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        if b == 0 {
            zeros += 1;
        } else {
            zeros = 0;
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_splitting() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (&[], &[]),
            (&[0, 0, 1], &[]),
            (&[1, 2, 3], &[]),
            (&[0, 0, 0, 1, 0x67, 1, 2], &[&[0x67, 1, 2]]),
            (
                &[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3],
                &[&[0x67, 1], &[0x68, 2], &[0x65, 3]],
            ),
            // garbage before the first start code, empty NAL, trailing zeros
            (
                &[9, 9, 0, 0, 1, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 0],
                &[&[0x09, 0xF0]],
            ),
            // 00 00 02 is not a start code
            (&[0, 0, 1, 0x41, 0, 0, 2, 7], &[&[0x41, 0, 0, 2, 7]]),
        ];
        for (input, want) in cases {
            let got: Vec<&[u8]> = annexb_nals(input).collect();
            assert_eq!(&got, want, "input {input:02x?}");
        }
    }

    #[test]
    fn length_prefixed_round_trip() {
        let mut buf = Vec::new();
        write_length_prefixed(&[0x65, 1, 2, 3], &mut buf);
        write_length_prefixed(&[0x41], &mut buf);
        assert_eq!(buf, [0, 0, 0, 4, 0x65, 1, 2, 3, 0, 0, 0, 1, 0x41]);
        let nals = length_prefixed_nals(&buf, 4).unwrap();
        assert_eq!(nals, vec![&[0x65, 1, 2, 3][..], &[0x41][..]]);
        let two = [0, 2, 0x67, 0x42, 0, 0, 0, 1, 0x68];
        assert_eq!(
            length_prefixed_nals(&two, 2).unwrap(),
            vec![&[0x67, 0x42][..], &[0x68][..]]
        );
    }

    #[test]
    fn length_prefixed_errors_name_offset() {
        let e = length_prefixed_nals(&[0, 0, 0, 1, 0x65, 0, 0, 0, 9, 1], 4).unwrap_err();
        assert!(e.contains("byte offset 5"), "{e}");
        let e = length_prefixed_nals(&[0, 0, 0, 1, 0x65, 0, 0], 4).unwrap_err();
        assert!(e.contains("byte offset 5"), "{e}");
        assert!(length_prefixed_nals(&[0], 0).is_err());
        assert!(length_prefixed_nals(&[0], 5).is_err());
        assert_eq!(length_prefixed_nals(&[], 4).unwrap().len(), 0);
    }

    #[test]
    fn emulation_prevention_removed() {
        let cases: &[(&[u8], &[u8])] = &[
            (&[0, 0, 3, 1], &[0, 0, 1]),
            (&[0, 0, 3, 0, 0, 3], &[0, 0, 0, 0]),
            (&[0, 3, 0, 0, 3, 3], &[0, 3, 0, 0, 3]),
            (&[1, 2, 3], &[1, 2, 3]),
        ];
        for (input, want) in cases {
            assert_eq!(&rbsp(input), want, "input {input:02x?}");
        }
    }

    #[test]
    fn nal_types() {
        assert_eq!(h264_nal_type(&[0x67]), Some(h264::NAL_SPS));
        assert_eq!(h264_nal_type(&[0x65, 0]), Some(h264::NAL_IDR));
        assert_eq!(h264_nal_type(&H264_AUD), Some(h264::NAL_AUD));
        assert_eq!(h264_nal_type(&[]), None);
        assert_eq!(h265_nal_type(&[0x40, 0x01]), Some(h265::NAL_VPS));
        assert_eq!(h265_nal_type(&[0x42, 0x01]), Some(h265::NAL_SPS));
        assert_eq!(h265_nal_type(&[0x44, 0x01]), Some(h265::NAL_PPS));
        assert_eq!(h265_nal_type(&H265_AUD), Some(h265::NAL_AUD));
        assert_eq!(h265_nal_type(&[0x26, 0x01]), Some(19));
        assert!(h265_is_irap(19) && h265_is_irap(21) && h265_is_irap(16));
        assert!(!h265_is_irap(1) && !h265_is_irap(24) && !h265_is_irap(15));
    }

    #[test]
    fn random_input_never_panics() {
        let mut state = 0x1234_5678_9abc_def0u64;
        for len in 0..200usize {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // bias towards zeros and ones so start codes appear
                    let b = (state >> 32) as u8;
                    if b < 128 {
                        b % 2
                    } else {
                        b
                    }
                })
                .collect();
            let total: usize = annexb_nals(&data).map(<[u8]>::len).sum();
            assert!(total <= data.len());
            for ls in 0..6 {
                let _ = length_prefixed_nals(&data, ls);
            }
            assert!(rbsp(&data).len() <= data.len());
        }
    }
}
