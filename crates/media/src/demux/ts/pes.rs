// SPDX-License-Identifier: MIT OR Apache-2.0
//! PES packet reassembly and header parsing (ISO/IEC 13818-1 §2.4.3.6–§2.4.3.7).

/// A PES larger than this without completing is dropped (protects memory on broken input).
const MAX_PES: usize = 32 << 20;

/// Collects the packets of one PID into PES packets.
#[derive(Debug, Clone, Default)]
pub(super) struct PesAssembler {
    buf: Vec<u8>,
    /// Stream offset of the packet that started `buf`.
    start_offset: u64,
    active: bool,
}

/// A complete PES packet, still with its header.
#[derive(Debug, Clone)]
pub(super) struct RawPes {
    pub data: Vec<u8>,
    pub offset: u64,
}

impl PesAssembler {
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// A packet with payload_unit_start_indicator: returns the previous PES if one was open.
    pub(super) fn start(&mut self, payload: &[u8], offset: u64) -> Option<RawPes> {
        let previous = self.take();
        self.buf.extend_from_slice(payload);
        self.start_offset = offset;
        self.active = true;
        previous
    }

    /// A continuation packet; ignored while no PES is open (joined mid-stream or after loss).
    pub(super) fn append(&mut self, payload: &[u8]) {
        if !self.active {
            return;
        }
        if self.buf.len() + payload.len() > MAX_PES {
            tracing::warn!(
                offset = self.start_offset,
                "MPEG-TS: PES larger than {MAX_PES} bytes without an end; dropped"
            );
            self.drop_partial();
            return;
        }
        self.buf.extend_from_slice(payload);
    }

    /// True once a PES with a non-zero PES_packet_length has all its bytes.
    pub(super) fn is_complete(&self) -> bool {
        match declared_len(&self.buf) {
            Some(len) if self.active => self.buf.len() >= len,
            _ => false,
        }
    }

    /// The open PES, complete or not.
    pub(super) fn take(&mut self) -> Option<RawPes> {
        if !self.active {
            return None;
        }
        self.active = false;
        Some(RawPes {
            data: std::mem::take(&mut self.buf),
            offset: self.start_offset,
        })
    }

    /// Drops the open PES (after a continuity error).
    pub(super) fn drop_partial(&mut self) {
        self.buf.clear();
        self.active = false;
    }
}

/// Total PES length from PES_packet_length, None when 0 (unbounded, video only).
fn declared_len(buf: &[u8]) -> Option<usize> {
    let &[_, _, _, _, hi, lo] = buf.first_chunk::<6>()?;
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    (len != 0).then_some(6 + len)
}

/// A parsed PES packet.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Pes<'a> {
    pub stream_id: u8,
    /// 33-bit PTS/DTS as coded (90 kHz).
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub payload: &'a [u8],
    /// PES_packet_length promised more bytes than arrived.
    pub truncated: bool,
}

/// Parses the PES header (§2.4.3.6, Table 2-21).
pub(super) fn parse(data: &[u8]) -> Result<Pes<'_>, String> {
    let Some(&[p0, p1, p2, stream_id, _, _]) = data.first_chunk::<6>() else {
        return Err(format!("PES of {} bytes is too short", data.len()));
    };
    if [p0, p1, p2] != [0, 0, 1] {
        return Err(format!(
            "missing packet_start_code_prefix (found {p0:02x} {p1:02x} {p2:02x})"
        ));
    }
    let (end, truncated) = match declared_len(data) {
        Some(len) if len <= data.len() => (len, false),
        Some(_) => (data.len(), true),
        None => (data.len(), false),
    };
    let data = data.get(..end).unwrap_or(data);
    if !has_optional_header(stream_id) {
        return Ok(Pes {
            stream_id,
            pts: None,
            dts: None,
            payload: data.get(6..).unwrap_or(&[]),
            truncated,
        });
    }
    let Some(&[_, _, _, _, _, _, b6, b7, header_len]) = data.first_chunk::<9>() else {
        return Err(format!(
            "PES header of stream_id {stream_id:#04x} truncated"
        ));
    };
    if b6 & 0xC0 != 0x80 {
        return Err(format!(
            "PES header of stream_id {stream_id:#04x}: bad '10' marker"
        ));
    }
    let payload = data
        .get(9 + usize::from(header_len)..)
        .ok_or_else(|| format!("PES_header_data_length {header_len} runs past the PES"))?;
    let fields = data.get(9..).unwrap_or(&[]);
    let (pts, dts) = match b7 >> 6 {
        0b10 => (Some(timestamp(fields)?), None),
        0b11 => (
            Some(timestamp(fields)?),
            Some(timestamp(fields.get(5..).unwrap_or(&[]))?),
        ),
        0b01 => return Err("PTS_DTS_flags '01' is forbidden".into()),
        _ => (None, None),
    };
    if usize::from(header_len) < 5 * usize::from(pts.is_some()) + 5 * usize::from(dts.is_some()) {
        return Err(format!(
            "PES_header_data_length {header_len} too small for its PTS/DTS"
        ));
    }
    Ok(Pes {
        stream_id,
        pts,
        dts,
        payload,
        truncated,
    })
}

/// §2.4.3.7: stream_ids without the optional PES header.
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF
    )
}

/// §2.4.3.7: 33-bit timestamp in 5 bytes with marker bits (markers are not enforced; some
/// muxers get them wrong).
fn timestamp(b: &[u8]) -> Result<u64, String> {
    let Some(&[b0, b1, b2, b3, b4]) = b.first_chunk::<5>() else {
        return Err("PES header truncated inside PTS/DTS".into());
    };
    Ok((u64::from(b0 >> 1 & 0x07) << 30)
        | (u64::from(b1) << 22)
        | (u64::from(b2 >> 1) << 15)
        | (u64::from(b3) << 7)
        | u64::from(b4 >> 1))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Encodes a timestamp with prefix bits `prefix` (0b0010 PTS only, 0b0011/0b0001 PTS/DTS).
    pub(crate) fn encode_ts(prefix: u8, ts: u64) -> [u8; 5] {
        [
            (prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1,
            (ts >> 22) as u8,
            (((ts >> 15) as u8) << 1) | 1,
            (ts >> 7) as u8,
            ((ts as u8) << 1) | 1,
        ]
    }

    /// A PES packet with optional PTS/DTS; `bounded` sets PES_packet_length.
    pub(crate) fn pes(
        stream_id: u8,
        pts: Option<u64>,
        dts: Option<u64>,
        payload: &[u8],
        bounded: bool,
    ) -> Vec<u8> {
        let mut fields = Vec::new();
        let flags = match (pts, dts) {
            (Some(p), Some(d)) => {
                fields.extend(encode_ts(0b0011, p));
                fields.extend(encode_ts(0b0001, d));
                0xC0
            }
            (Some(p), None) => {
                fields.extend(encode_ts(0b0010, p));
                0x80
            }
            _ => 0,
        };
        let len = 3 + fields.len() + payload.len();
        let len = if bounded { len as u16 } else { 0 };
        let mut out = vec![0, 0, 1, stream_id];
        out.extend(len.to_be_bytes());
        out.extend([0x80, flags, fields.len() as u8]);
        out.extend(fields);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn pts_dts_roundtrip() {
        for ts in [0u64, 1, 90_000, (1 << 33) - 1, 0x1_5555_5555, 0xAAAA_AAAA] {
            let p = pes(0xE0, Some(ts), Some(ts ^ 0x1234), b"xyz", false);
            let parsed = parse(&p).expect("valid");
            assert_eq!(parsed.pts, Some(ts));
            assert_eq!(parsed.dts, Some(ts ^ 0x1234));
            assert_eq!(parsed.payload, b"xyz");
        }
        let p = pes(0xC0, Some(42), None, b"a", true);
        let parsed = parse(&p).expect("valid");
        assert_eq!(
            (parsed.pts, parsed.dts, parsed.truncated),
            (Some(42), None, false)
        );
    }

    #[test]
    fn bad_headers() {
        let mut no_prefix = pes(0xE0, Some(1), None, b"", false);
        no_prefix[2] = 2;
        let mut forbidden = pes(0xE0, Some(1), None, b"", false);
        forbidden[7] = 0x40;
        let mut short_hdr = pes(0xE0, Some(1), None, b"", false);
        short_hdr[8] = 2;
        let table: [(&[u8], &str); 4] = [
            (&no_prefix, "packet_start_code_prefix"),
            (&forbidden, "forbidden"),
            (&short_hdr, "too small"),
            (&[0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 20], "runs past"),
        ];
        for (bytes, needle) in table {
            let err = parse(bytes).expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn assembler_bounded_and_unbounded() {
        let bounded = pes(0xC0, Some(1), None, &[7u8; 300], true);
        let mut asm = PesAssembler::default();
        assert!(asm.start(&bounded[..184], 0).is_none());
        assert!(!asm.is_complete());
        asm.append(&bounded[184..]);
        assert!(asm.is_complete());
        let raw = asm.take().expect("open");
        assert_eq!(raw.data, bounded);
        // truncated bounded PES is flagged
        let parsed = parse(&bounded[..200]).expect("valid");
        assert!(parsed.truncated);
        // unbounded: ends at the next start
        let video = pes(0xE0, Some(1), None, &[1u8; 50], false);
        asm.start(&video, 188);
        assert!(!asm.is_complete());
        let prev = asm.start(&video, 376).expect("previous");
        assert_eq!((prev.data, prev.offset), (video.clone(), 188));
        asm.drop_partial();
        asm.append(b"ignored");
        assert!(asm.take().is_none());
    }
}
