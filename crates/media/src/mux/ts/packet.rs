// SPDX-License-Identifier: MIT OR Apache-2.0
//! The transport-packet layer of ISO/IEC 13818-1: 188-byte packets (§2.4.3.2), adaptation
//! fields carrying the PCR, the random-access flag and stuffing (§2.4.3.4/2.4.3.5), PES headers
//! with PTS/DTS (§2.4.3.6/2.4.3.7) and PSI sections split over packets (§2.4.4).
//!
//! Everything here appends straight into the caller's output `Vec`; nothing allocates per packet.

/// Size of one transport packet (§2.4.3.2).
pub const PACKET_SIZE: usize = 188;
/// sync_byte (§2.4.3.3).
pub const SYNC_BYTE: u8 = 0x47;
/// Bytes after the 4-byte packet header.
const BODY_SIZE: usize = PACKET_SIZE - 4;
/// PTS, DTS and PCR base are 33-bit counters of a 90 kHz clock (§2.4.3.5, §2.4.3.7).
pub const TIMESTAMP_MODULUS: i64 = 1 << 33;

// adaptation_field_control values (§2.4.3.3, table 2-5).
const AFC_PAYLOAD: u8 = 0b01;
const AFC_ADAPTATION: u8 = 0b10;
const AFC_BOTH: u8 = 0b11;
// adaptation field flag bits (§2.4.3.4).
const AF_RANDOM_ACCESS: u8 = 0x40;
const AF_PCR: u8 = 0x10;

/// Reduces an unwrapped 90 kHz time to the 33-bit field value.
pub fn wrap33(t: i64) -> u64 {
    t.rem_euclid(TIMESTAMP_MODULUS).unsigned_abs()
}

/// continuity_counter of one PID (§2.4.3.3): 4 bits, incremented for every packet with payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Continuity(u8);

impl Continuity {
    /// Counter for the next packet with payload; advances the state.
    fn take(&mut self) -> u8 {
        let c = self.0;
        self.0 = (self.0 + 1) & 0x0F;
        c
    }
    /// Counter of the latest packet with payload (packets without payload repeat it).
    fn current(self) -> u8 {
        self.0.wrapping_sub(1) & 0x0F
    }
    /// As [`Self::take`] `packets` times.
    fn advance(&mut self, packets: usize) {
        self.0 = ((usize::from(self.0) + packets) & 0x0F) as u8;
    }
}

/// What the adaptation field of a PES's first packet carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartFlags {
    /// random_access_indicator: the PES starts a random access point (§2.4.3.5).
    pub random_access: bool,
    /// PCR base (33 bits, 90 kHz); the 27 MHz extension is written as 0.
    pub pcr: Option<u64>,
}

fn push_header(out: &mut Vec<u8>, pid: u16, unit_start: bool, afc: u8, cc: u8) {
    let [pid_hi, pid_lo] = pid.to_be_bytes();
    out.extend_from_slice(&[
        SYNC_BYTE,
        (u8::from(unit_start) << 6) | (pid_hi & 0x1F),
        pid_lo,
        (afc << 4) | (cc & 0x0F),
    ]);
}

/// program_clock_reference_base (33 bits), 6 reserved bits, extension (9 bits, 0) (§2.4.3.4).
fn pcr_bytes(base: u64) -> [u8; 6] {
    let b = base & 0x1_FFFF_FFFF;
    [
        (b >> 25) as u8,
        (b >> 17) as u8,
        (b >> 9) as u8,
        (b >> 1) as u8,
        (((b & 1) as u8) << 7) | 0x7E,
        0x00,
    ]
}

/// Writes one complete PES packet (`pes` = header + payload) as transport packets on `pid`.
///
/// The first packet has payload_unit_start_indicator set and, if `start` asks for it, an
/// adaptation field with the random-access flag and/or PCR. The last packet is filled up with
/// adaptation-field stuffing (§2.4.3.5: stuffing in a PES-carrying packet goes in the adaptation
/// field, never 0xFF in the payload).
#[cfg(test)]
pub fn write_pes(out: &mut Vec<u8>, pid: u16, cc: &mut Continuity, pes: &[u8], start: StartFlags) {
    write_pes_parts(out, pid, cc, &[pes], start);
}

/// [`write_pes`] of the concatenation of `parts`, without concatenating them first: a video
/// PES is its header, then the sample's NAL units each behind a start code, packetized straight
/// from the sample's buffer.
pub fn write_pes_parts(
    out: &mut Vec<u8>,
    pid: u16,
    cc: &mut Continuity,
    parts: &[&[u8]],
    start: StartFlags,
) {
    let (flags, first_af) = first_adaptation(start);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    out.reserve(pes_packets(total, start) * PACKET_SIZE);

    let mut rest = total;
    let mut pieces = parts.iter();
    let mut piece: &[u8] = &[];
    let mut first = true;
    loop {
        let (flags, pcr, fixed) = if first {
            (flags, start.pcr, first_af)
        } else {
            (0, None, 0)
        };
        let room = BODY_SIZE - fixed;
        let take = rest.min(room);
        // Only the last packet can have room left over; it becomes stuffing.
        let af_len = fixed + (room - take);
        let afc = if af_len > 0 { AFC_BOTH } else { AFC_PAYLOAD };
        push_header(out, pid, first, afc, cc.take());
        if af_len > 0 {
            // adaptation_field_length counts the bytes after itself; a 1-byte field has no flags.
            out.push((af_len - 1) as u8);
            if af_len >= 2 {
                out.push(flags);
                let mut used = 2;
                if let Some(p) = pcr {
                    out.extend_from_slice(&pcr_bytes(p));
                    used += 6;
                }
                out.resize(out.len() + (af_len - used), 0xFF);
            }
        }
        // `take` bytes from the pieces, crossing into the next piece(s) as needed.
        let mut need = take;
        while need > 0 {
            if piece.is_empty() {
                match pieces.next() {
                    Some(p) => piece = p,
                    None => break, // unreachable: `total` counts every piece
                }
                continue;
            }
            let (now, later) = piece.split_at(need.min(piece.len()));
            out.extend_from_slice(now);
            need -= now.len();
            piece = later;
        }
        rest -= take;
        first = false;
        if rest == 0 {
            break;
        }
    }
}

/// The adaptation field flags of a PES's first packet, and its bytes before stuffing: length
/// byte + flags + PCR (§2.4.3.4).
fn first_adaptation(start: StartFlags) -> (u8, usize) {
    let mut flags = 0u8;
    if start.random_access {
        flags |= AF_RANDOM_ACCESS;
    }
    if start.pcr.is_some() {
        flags |= AF_PCR;
    }
    let bytes = match (flags, start.pcr) {
        (0, _) => 0,
        (_, Some(_)) => 8,
        (_, None) => 2,
    };
    (flags, bytes)
}

/// Transport packets [`write_pes_parts`] writes for a PES of `total` bytes: the first one's
/// adaptation field takes room, the last one is stuffed, an empty PES still takes one.
pub fn pes_packets(total: usize, start: StartFlags) -> usize {
    (total + first_adaptation(start).1)
        .div_ceil(BODY_SIZE)
        .max(1)
}

/// Counts the packets [`write_pes_parts`] would write for a PES of `total` bytes, without
/// writing them: advances `cc` as it would and returns the bytes.
pub fn count_pes(cc: &mut Continuity, total: usize, start: StartFlags) -> usize {
    let packets = pes_packets(total, start);
    cc.advance(packets);
    packets * PACKET_SIZE
}

/// Writes a packet that carries only an adaptation field with a PCR (§2.4.3.3: no payload, so
/// the continuity counter repeats the previous one).
pub fn write_pcr_only(out: &mut Vec<u8>, pid: u16, cc: Continuity, pcr: u64) {
    out.reserve(PACKET_SIZE);
    push_header(out, pid, false, AFC_ADAPTATION, cc.current());
    out.push((BODY_SIZE - 1) as u8);
    out.push(AF_PCR);
    out.extend_from_slice(&pcr_bytes(pcr));
    out.resize(out.len() + BODY_SIZE - 8, 0xFF);
}

/// Writes one PSI section (§2.4.4): pointer_field 0 in the first packet, the section split over
/// as many packets as needed, the rest of the last packet stuffed with 0xFF (§2.4.4.1).
pub fn write_section(out: &mut Vec<u8>, pid: u16, cc: &mut Continuity, section: &[u8]) {
    let packets = (section.len() + 1).div_ceil(BODY_SIZE).max(1);
    out.reserve(packets * PACKET_SIZE);
    let mut rest = section;
    let mut first = true;
    loop {
        let start = out.len();
        push_header(out, pid, first, AFC_PAYLOAD, cc.take());
        if first {
            out.push(0); // pointer_field: the section starts right after it
        }
        let room = PACKET_SIZE - (out.len() - start);
        let (now, later) = rest.split_at(rest.len().min(room));
        out.extend_from_slice(now);
        rest = later;
        out.resize(start + PACKET_SIZE, 0xFF);
        first = false;
        if rest.is_empty() {
            break;
        }
    }
}

/// One 5-byte PTS or DTS field (§2.4.3.7): 4-bit prefix, 33 bits split 3/15/15 by marker bits.
fn timestamp_bytes(prefix: u8, t: u64) -> [u8; 5] {
    [
        (prefix << 4) | ((t >> 29) & 0x0E) as u8 | 1,
        (t >> 22) as u8,
        ((t >> 14) & 0xFE) as u8 | 1,
        (t >> 7) as u8,
        ((t << 1) & 0xFE) as u8 | 1,
    ]
}

/// Starts a PES packet in `buf` (cleared first): start code, stream_id, a zero
/// PES_packet_length (see [`finish_pes`]), data_alignment_indicator and PTS (+ DTS when given)
/// (§2.4.3.6).
pub fn begin_pes(buf: &mut Vec<u8>, stream_id: u8, pts: u64, dts: Option<u64>) {
    buf.clear();
    buf.extend_from_slice(&[0x00, 0x00, 0x01, stream_id, 0x00, 0x00]);
    // '10', scrambling 00, priority 0, data_alignment_indicator 1, copyright 0, original 0.
    buf.push(0x84);
    match dts {
        Some(d) => {
            buf.extend_from_slice(&[0xC0, 10]);
            buf.extend_from_slice(&timestamp_bytes(0b0011, pts));
            buf.extend_from_slice(&timestamp_bytes(0b0001, d));
        }
        None => {
            buf.extend_from_slice(&[0x80, 5]);
            buf.extend_from_slice(&timestamp_bytes(0b0010, pts));
        }
    }
}

/// Sets PES_packet_length from the bytes in `buf`; `Err(len)` if they do not fit its 16 bits.
/// Video PES may leave it 0 ("unbounded", allowed in transport streams only, §2.4.3.7).
pub fn finish_pes(buf: &mut [u8]) -> Result<(), usize> {
    let len = buf.len().saturating_sub(6);
    let field = u16::try_from(len).map_err(|_| len)?;
    if let Some(slot) = buf.get_mut(4..6) {
        slot.copy_from_slice(&field.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Counting a PES gives the bytes and the continuity counter that writing it gives, for
    /// sizes around packet boundaries and every kind of first adaptation field.
    #[test]
    fn counting_equals_writing() {
        let starts = [
            StartFlags::default(),
            StartFlags {
                random_access: true,
                pcr: None,
            },
            StartFlags {
                random_access: false,
                pcr: Some(12_345),
            },
            StartFlags {
                random_access: true,
                pcr: Some(1 << 32),
            },
        ];
        let totals = [
            0, 1, 175, 176, 177, 181, 182, 183, 184, 185, 359, 360, 367, 368, 369,
        ];
        let sizes = totals.into_iter().chain([5_000, 65_536, 100_003]);
        for total in sizes {
            for start in starts {
                for from in [0u8, 7, 15] {
                    let payload = vec![0xAB; total];
                    let (mut written_cc, mut counted_cc) = (Continuity(from), Continuity(from));
                    let mut out = Vec::new();
                    write_pes_parts(&mut out, 0x100, &mut written_cc, &[&payload], start);
                    let counted = count_pes(&mut counted_cc, total, start);
                    assert_eq!(counted, out.len(), "{total} bytes, {start:?}");
                    assert_eq!(
                        counted_cc, written_cc,
                        "{total} bytes, {start:?}, cc {from}"
                    );
                }
            }
        }
    }

    /// Parsed view of one transport packet, for assertions.
    #[derive(Debug, Default, Clone)]
    pub struct Pkt {
        pub pid: u16,
        pub pusi: bool,
        pub cc: u8,
        pub has_payload: bool,
        pub af_len: Option<usize>,
        pub random_access: bool,
        pub pcr: Option<u64>,
        pub payload: Vec<u8>,
    }

    pub fn parse_packets(ts: &[u8]) -> Vec<Pkt> {
        assert_eq!(ts.len() % PACKET_SIZE, 0, "whole packets");
        ts.chunks(PACKET_SIZE)
            .map(|p| {
                assert_eq!(p[0], SYNC_BYTE);
                let afc = (p[3] >> 4) & 3;
                let mut k = Pkt {
                    pid: u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]),
                    pusi: p[1] & 0x40 != 0,
                    cc: p[3] & 0x0F,
                    has_payload: afc & 1 != 0,
                    ..Pkt::default()
                };
                let mut pos = 4;
                if afc & 2 != 0 {
                    let len = usize::from(p[4]);
                    k.af_len = Some(len);
                    if len > 0 {
                        let f = p[5];
                        k.random_access = f & AF_RANDOM_ACCESS != 0;
                        if f & AF_PCR != 0 {
                            let b = &p[6..12];
                            let base = (u64::from(b[0]) << 25)
                                | (u64::from(b[1]) << 17)
                                | (u64::from(b[2]) << 9)
                                | (u64::from(b[3]) << 1)
                                | u64::from(b[4] >> 7);
                            k.pcr = Some(base);
                        }
                        // Everything after the fixed fields must be 0xFF stuffing.
                        let fixed = if f & AF_PCR != 0 { 7 } else { 1 };
                        assert!(p[5 + fixed..5 + len].iter().all(|&b| b == 0xFF));
                    }
                    pos += 1 + len;
                }
                assert!(pos <= PACKET_SIZE);
                if k.has_payload {
                    k.payload = p[pos..].to_vec();
                } else {
                    assert_eq!(pos, PACKET_SIZE, "adaptation-only packet fills 188 bytes");
                }
                k
            })
            .collect()
    }

    /// Decodes a 5-byte PTS/DTS field, checking its prefix and marker bits.
    pub fn read_timestamp(b: &[u8], prefix: u8) -> u64 {
        assert_eq!(b[0] >> 4, prefix);
        assert_eq!(b[0] & 1 & b[2] & b[4] & 1, 1, "marker bits");
        (u64::from(b[0] & 0x0E) << 29)
            | (u64::from(b[1]) << 22)
            | (u64::from(b[2] >> 1) << 15)
            | (u64::from(b[3]) << 7)
            | u64::from(b[4] >> 1)
    }

    #[test]
    fn pes_sizes_pack_and_stuff_exactly() {
        // (PES bytes, random access, pcr) → expected packet count.
        let cases: &[(usize, bool, bool, usize)] = &[
            (1, false, false, 1),
            (183, false, false, 1), // 1 byte of stuffing: adaptation_field_length 0
            (184, false, false, 1),
            (185, false, false, 2),
            (368, false, false, 2),
            (176, true, true, 1),
            (177, true, true, 2),
            (182, true, false, 1),
            (183, true, false, 2),
            (5000, true, true, 28),
        ];
        for &(len, ra, pcr, want) in cases {
            let pes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = vec![];
            let mut cc = Continuity::default();
            let start = StartFlags {
                random_access: ra,
                pcr: pcr.then_some(0x1_2345_6789),
            };
            write_pes(&mut out, 0x100, &mut cc, &pes, start);
            let pkts = parse_packets(&out);
            assert_eq!(pkts.len(), want, "len {len}");
            let joined: Vec<u8> = pkts.iter().flat_map(|p| p.payload.clone()).collect();
            assert_eq!(joined, pes, "payload round trip, len {len}");
            assert!(pkts[0].pusi && pkts.iter().skip(1).all(|p| !p.pusi));
            assert_eq!(pkts[0].random_access, ra);
            assert_eq!(pkts[0].pcr, pcr.then_some(0x1_2345_6789));
            for (i, p) in pkts.iter().enumerate() {
                assert_eq!(usize::from(p.cc), i % 16);
                assert!(p.has_payload);
            }
            assert_eq!(cc, Continuity((want % 16) as u8));
        }
    }

    #[test]
    fn pieces_packetize_like_their_concatenation() {
        let pes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        // Piece boundaries inside, at and across packet bodies; empty pieces; one piece.
        let splits: &[&[usize]] = &[
            &[],
            &[1],
            &[4, 4, 4],
            &[0, 176, 0, 184, 1],
            &[183, 184, 185, 368, 4000],
            &[4999],
        ];
        for cuts in splits {
            let mut parts: Vec<&[u8]> = vec![];
            let mut rest = &pes[..];
            for &c in *cuts {
                let (a, b) = rest.split_at(c.min(rest.len()));
                parts.push(a);
                rest = b;
            }
            parts.push(rest);
            for pcr in [None, Some(42)] {
                let start = StartFlags {
                    random_access: true,
                    pcr,
                };
                let (mut want, mut got) = (vec![], vec![]);
                let (mut cc1, mut cc2) = (Continuity(3), Continuity(3));
                write_pes(&mut want, 0x100, &mut cc1, &pes, start);
                write_pes_parts(&mut got, 0x100, &mut cc2, &parts, start);
                assert_eq!(got, want, "cuts {cuts:?}");
                assert_eq!(cc1, cc2);
            }
        }
    }

    #[test]
    fn single_stuffing_byte_uses_zero_length_adaptation_field() {
        let mut out = vec![];
        write_pes(
            &mut out,
            0x101,
            &mut Continuity::default(),
            &[7; 183],
            StartFlags::default(),
        );
        assert_eq!(out.len(), PACKET_SIZE);
        assert_eq!(out[3] >> 4, AFC_BOTH);
        assert_eq!(out[4], 0, "adaptation_field_length 0");
        assert_eq!(out[5], 7, "payload follows immediately");
    }

    #[test]
    fn pcr_only_packet_repeats_counter() {
        let mut cc = Continuity::default();
        let mut out = vec![];
        write_pes(&mut out, 0x100, &mut cc, &[1; 10], StartFlags::default());
        write_pcr_only(&mut out, 0x100, cc, (1 << 33) - 1);
        let pkts = parse_packets(&out);
        assert_eq!(pkts.len(), 2);
        assert!(!pkts[1].has_payload);
        assert_eq!(pkts[1].cc, pkts[0].cc);
        assert_eq!(pkts[1].pcr, Some((1 << 33) - 1));
        assert_eq!(pkts[1].af_len, Some(183));
    }

    #[test]
    fn timestamps_encode_all_33_bits() {
        for t in [
            0u64,
            1,
            126_000,
            0x1_0000_0000,
            (1 << 33) - 1,
            0x1_5555_5555,
        ] {
            let mut buf = vec![];
            begin_pes(&mut buf, 0xE0, t, Some(t ^ 0xAAAA));
            assert_eq!(&buf[..4], &[0, 0, 1, 0xE0]);
            assert_eq!(buf[7], 0xC0);
            assert_eq!(buf[8], 10);
            assert_eq!(read_timestamp(&buf[9..14], 0b0011), t);
            assert_eq!(read_timestamp(&buf[14..19], 0b0001), t ^ 0xAAAA);
            begin_pes(&mut buf, 0xC0, t, None);
            assert_eq!((buf[7], buf[8], buf.len()), (0x80, 5, 14));
            assert_eq!(read_timestamp(&buf[9..14], 0b0010), t);
        }
    }

    #[test]
    fn pes_length_field() {
        let mut buf = vec![];
        begin_pes(&mut buf, 0xC0, 0, None);
        buf.extend_from_slice(&[0; 100]);
        assert_eq!(finish_pes(&mut buf), Ok(()));
        assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), 108);
        buf.resize(6 + 65_536, 0);
        assert_eq!(finish_pes(&mut buf), Err(65_536));
    }

    #[test]
    fn sections_span_packets_with_ff_fill() {
        for len in [1usize, 183, 184, 400] {
            let section: Vec<u8> = (0..len).map(|i| i as u8 | 1).collect();
            let mut cc = Continuity(14);
            let mut out = vec![];
            write_section(&mut out, 0x1000, &mut cc, &section);
            let pkts = parse_packets(&out);
            assert_eq!(pkts.len(), (len + 1).div_ceil(184));
            assert_eq!(pkts[0].payload[0], 0, "pointer_field");
            let joined: Vec<u8> = pkts.iter().flat_map(|p| p.payload.clone()).collect();
            assert_eq!(&joined[1..=len], &section[..]);
            assert!(joined[len + 1..].iter().all(|&b| b == 0xFF));
            assert_eq!(pkts[0].cc, 14);
            if pkts.len() > 1 {
                assert_eq!(pkts[1].cc, 15);
            }
        }
    }

    #[test]
    fn wrap33_handles_negative_and_overflow() {
        assert_eq!(wrap33(0), 0);
        assert_eq!(wrap33(-1), (1 << 33) - 1);
        assert_eq!(wrap33(1 << 33), 0);
        assert_eq!(wrap33((1 << 33) + 5), 5);
    }
}
