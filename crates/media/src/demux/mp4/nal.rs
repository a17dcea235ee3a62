// SPDX-License-Identifier: MIT OR Apache-2.0
//! Video sample payloads → canonical form: NAL units with 4-byte big-endian length prefixes
//! (ISO/IEC 14496-15 §5.3.2 / §8.3.2 lengthSizeMinusOne), without access unit delimiters
//! (H.264 nal_unit_type 9, HEVC nal_unit_type 35).

use bytes::Bytes;

use super::entry::NalFormat;

use crate::codec::nal::{h264, h264_nal_type, h265, h265_nal_type, write_length_prefixed};

fn is_aud(nal: &[u8], hevc: bool) -> bool {
    if hevc {
        h265_nal_type(nal) == Some(h265::NAL_AUD)
    } else {
        h264_nal_type(nal) == Some(h264::NAL_AUD)
    }
}

fn read_len(data: &[u8], pos: usize, size: usize) -> Option<usize> {
    let b = data.get(pos..pos.checked_add(size)?)?;
    Some(b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
}

/// Converts one sample. Errors name the byte offset within the sample.
pub(super) fn canonical(data: Bytes, fmt: NalFormat) -> Result<Bytes, String> {
    let ls = usize::from(fmt.length_size);
    if !(1..=4).contains(&ls) {
        return Err(format!("invalid NAL length size {ls}"));
    }
    // First pass: validate, and see whether the sample is already canonical.
    let mut rewrite = ls != 4;
    let mut pos = 0usize;
    let mut nals = 0usize;
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        if rest.len() < ls {
            if rest.iter().all(|&b| b == 0) {
                rewrite = true; // trailing zero padding: dropped
                break;
            }
            return Err(format!(
                "{} stray bytes at byte {pos} of {}-byte sample (shorter than a NAL length)",
                rest.len(),
                data.len()
            ));
        }
        let len = read_len(&data, pos, ls).unwrap_or(0);
        let start = pos + ls;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| {
                format!(
                    "NAL length {len} at byte {pos} overruns the {}-byte sample",
                    data.len()
                )
            })?;
        let nal = data.get(start..end).unwrap_or(&[]);
        if len == 0 || is_aud(nal, fmt.hevc) {
            rewrite = true;
        }
        nals += 1;
        pos = end;
    }
    if !rewrite {
        return Ok(data);
    }
    let mut out = Vec::with_capacity(data.len() + nals * (4 - ls));
    let mut pos = 0usize;
    while let Some(len) = read_len(&data, pos, ls) {
        let start = pos + ls;
        let Some(nal) = start.checked_add(len).and_then(|end| data.get(start..end)) else {
            break;
        };
        if !nal.is_empty() && !is_aud(nal, fmt.hevc) {
            write_length_prefixed(nal, &mut out);
        }
        pos = start + len;
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVC4: NalFormat = NalFormat {
        hevc: false,
        length_size: 4,
    };

    #[test]
    fn conversions() {
        let hevc2 = NalFormat {
            hevc: true,
            length_size: 2,
        };
        let avc1 = NalFormat {
            hevc: false,
            length_size: 1,
        };
        type Want<'a> = Result<&'a [u8], ()>;
        let cases: &[(&[u8], NalFormat, Want)] = &[
            // already canonical: unchanged
            (
                &[0, 0, 0, 2, 0x65, 0xAA],
                AVC4,
                Ok(&[0, 0, 0, 2, 0x65, 0xAA]),
            ),
            // AUD dropped
            (
                &[0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 1, 0x65],
                AVC4,
                Ok(&[0, 0, 0, 1, 0x65]),
            ),
            // 2-byte lengths widened, HEVC AUD (type 35 → 0x46) dropped
            (
                &[0, 3, 0x46, 0x01, 0x50, 0, 2, 0x26, 0x01],
                hevc2,
                Ok(&[0, 0, 0, 2, 0x26, 0x01]),
            ),
            (
                &[1, 0x65, 0, 1, 0x41],
                avc1,
                Ok(&[0, 0, 0, 1, 0x65, 0, 0, 0, 1, 0x41]),
            ),
            // trailing zero padding dropped
            (&[0, 0, 0, 1, 0x65, 0, 0], AVC4, Ok(&[0, 0, 0, 1, 0x65])),
            // overrun
            (&[0, 0, 0, 9, 0x65], AVC4, Err(())),
            // stray non-zero tail
            (&[0, 0, 0, 1, 0x65, 1], AVC4, Err(())),
        ];
        for (input, fmt, want) in cases {
            let got = canonical(Bytes::copy_from_slice(input), *fmt);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g[..], *w, "{input:?}"),
                (Err(_), Err(())) => {}
                (g, w) => panic!("{input:?}: got {g:?}, want {w:?}"),
            }
        }
        assert!(canonical(
            Bytes::new(),
            NalFormat {
                hevc: false,
                length_size: 3
            }
        )
        .is_ok());
        assert!(canonical(
            Bytes::from_static(&[1]),
            NalFormat {
                hevc: false,
                length_size: 0
            }
        )
        .is_err());
    }
}
