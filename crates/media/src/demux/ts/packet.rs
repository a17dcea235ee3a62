// SPDX-License-Identifier: MIT OR Apache-2.0
//! Transport packet header and adaptation field (ISO/IEC 13818-1 §2.4.3.2–§2.4.3.5), and
//! continuity counter checking (§2.4.3.3).

/// The null packet PID (§2.4.3.3, Table 2-3).
pub(super) const NULL_PID: u16 = 0x1FFF;

/// One parsed 188-byte transport packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Packet<'a> {
    pub pid: u16,
    /// payload_unit_start_indicator.
    pub pusi: bool,
    /// transport_scrambling_control != 0.
    pub scrambled: bool,
    /// adaptation_field_control has the payload bit.
    pub has_payload: bool,
    pub cc: u8,
    /// Adaptation field discontinuity_indicator (§2.4.3.5).
    pub discontinuity: bool,
    /// Adaptation field random_access_indicator.
    pub random_access: bool,
    /// program_clock_reference_base (90 kHz, 33 bits), if present.
    pub pcr: Option<u64>,
    pub payload: &'a [u8],
}

/// Parses a packet that starts with the sync byte. Errors describe why it is unusable.
pub(super) fn parse(pkt: &[u8]) -> Result<Packet<'_>, String> {
    let Some(&[_sync, b1, b2, b3]) = pkt.first_chunk::<4>() else {
        return Err(format!("packet of {} bytes is too short", pkt.len()));
    };
    if b1 & 0x80 != 0 {
        return Err("transport_error_indicator set".into());
    }
    let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
    let afc = (b3 >> 4) & 0x3;
    let mut packet = Packet {
        pid,
        pusi: b1 & 0x40 != 0,
        scrambled: b3 & 0xC0 != 0,
        has_payload: afc & 0x1 != 0,
        cc: b3 & 0x0F,
        discontinuity: false,
        random_access: false,
        pcr: None,
        payload: &[],
    };
    let mut payload_start = 4usize;
    match afc {
        0 => return Err(format!("PID {pid}: reserved adaptation_field_control 00")),
        2 | 3 => {
            let af_len = usize::from(*pkt.get(4).ok_or("missing adaptation_field_length")?);
            // §2.4.3.5: 0..=182 with payload, 183 without.
            let max = if afc == 2 { 183 } else { 182 };
            if af_len > max {
                return Err(format!(
                    "PID {pid}: adaptation_field_length {af_len} exceeds {max}"
                ));
            }
            let af = pkt
                .get(5..5 + af_len)
                .ok_or_else(|| format!("PID {pid}: adaptation field runs past the packet"))?;
            parse_adaptation_field(af, &mut packet);
            payload_start = 5 + af_len;
        }
        _ => {}
    }
    if packet.has_payload {
        packet.payload = pkt.get(payload_start..).unwrap_or(&[]);
    }
    Ok(packet)
}

/// §2.4.3.4/§2.4.3.5: flags byte, then PCR (33-bit base, 6 reserved bits, 9-bit extension).
fn parse_adaptation_field(af: &[u8], packet: &mut Packet<'_>) {
    let Some(&flags) = af.first() else {
        return; // a single stuffing byte
    };
    packet.discontinuity = flags & 0x80 != 0;
    packet.random_access = flags & 0x40 != 0;
    if flags & 0x10 != 0 {
        if let Some(&[_, p0, p1, p2, p3, p4, _]) = af.first_chunk::<7>() {
            let base = (u64::from(p0) << 25)
                | (u64::from(p1) << 17)
                | (u64::from(p2) << 9)
                | (u64::from(p3) << 1)
                | (u64::from(p4) >> 7);
            packet.pcr = Some(base);
        }
    }
}

/// Continuity counter state of one PID (§2.4.3.3).
#[derive(Debug, Default, Clone)]
pub(super) struct Continuity {
    last: Option<u8>,
    duplicate_seen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CcVerdict {
    /// In sequence (or nothing to check).
    Ok,
    /// Same counter as the previous packet: the one duplicate the spec allows; skip it.
    Duplicate,
    /// Packets were lost (or duplicated more than once).
    Error { expected: u8 },
}

impl Continuity {
    /// §2.4.3.3: the counter increments with each packet carrying payload; packets without
    /// payload don't increment it; one duplicate is allowed; a discontinuity_indicator
    /// allows any value.
    pub(super) fn check(&mut self, cc: u8, has_payload: bool, discontinuity: bool) -> CcVerdict {
        if !has_payload {
            return CcVerdict::Ok;
        }
        let verdict = match self.last {
            _ if discontinuity => CcVerdict::Ok,
            None => CcVerdict::Ok,
            Some(last) if cc == last => {
                if self.duplicate_seen {
                    CcVerdict::Error {
                        expected: (last + 1) & 0x0F,
                    }
                } else {
                    self.duplicate_seen = true;
                    return CcVerdict::Duplicate;
                }
            }
            Some(last) if cc == (last + 1) & 0x0F => CcVerdict::Ok,
            Some(last) => CcVerdict::Error {
                expected: (last + 1) & 0x0F,
            },
        };
        self.last = Some(cc);
        self.duplicate_seen = false;
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: u16, pusi: bool, afc: u8, cc: u8) -> Vec<u8> {
        vec![
            0x47,
            (u8::from(pusi) << 6) | ((pid >> 8) as u8 & 0x1F),
            pid as u8,
            (afc << 4) | cc,
        ]
    }

    #[test]
    fn header_fields() {
        let mut p = header(0x1234 & 0x1FFF, true, 1, 7);
        p.resize(188, 0xAB);
        let pkt = parse(&p).expect("valid");
        assert_eq!(pkt.pid, 0x1234 & 0x1FFF);
        assert!(pkt.pusi && pkt.has_payload && !pkt.scrambled);
        assert_eq!(pkt.cc, 7);
        assert_eq!(pkt.payload.len(), 184);
    }

    #[test]
    fn adaptation_field_with_pcr() {
        let mut p = header(0x100, false, 3, 0);
        // length 7: flags (disc + RAI + PCR), PCR base = 0x1_2345_6789
        let base: u64 = 0x1_2345_6789;
        p.extend([7, 0xD0]);
        p.extend([
            (base >> 25) as u8,
            (base >> 17) as u8,
            (base >> 9) as u8,
            (base >> 1) as u8,
            ((base & 1) << 7) as u8 | 0x7E,
            0,
        ]);
        p.resize(188, 0);
        let pkt = parse(&p).expect("valid");
        assert!(pkt.discontinuity && pkt.random_access);
        assert_eq!(pkt.pcr, Some(base));
        assert_eq!(pkt.payload.len(), 188 - 12);
    }

    #[test]
    fn bad_packets() {
        let table: [(Vec<u8>, &str); 4] = [
            (
                {
                    let mut p = header(1, false, 1, 0);
                    p[1] |= 0x80;
                    p
                },
                "transport_error",
            ),
            (header(1, false, 0, 0), "reserved"),
            (
                {
                    let mut p = header(1, false, 3, 0);
                    p.push(183);
                    p
                },
                "exceeds",
            ),
            (
                {
                    let mut p = header(1, false, 2, 0);
                    p.push(100);
                    p
                },
                "past the packet",
            ),
        ];
        for (bytes, needle) in table {
            let err = parse(&bytes).expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn continuity_table() {
        use CcVerdict::*;
        // (cc, has_payload, discontinuity, expected verdict)
        let steps = [
            (5, true, false, Ok),
            (6, true, false, Ok),
            (6, false, false, Ok), // no payload: not counted
            (7, true, false, Ok),
            (7, true, false, Duplicate),
            (7, true, false, Error { expected: 8 }),
            (8, true, false, Ok),
            (10, true, false, Error { expected: 9 }),
            (3, true, true, Ok), // discontinuity_indicator
            (4, true, false, Ok),
            (15, true, false, Error { expected: 5 }),
            (0, true, false, Ok), // wrap
        ];
        let mut c = Continuity::default();
        for (i, (cc, payload, disc, want)) in steps.into_iter().enumerate() {
            assert_eq!(c.check(cc, payload, disc), want, "step {i}");
        }
    }
}
