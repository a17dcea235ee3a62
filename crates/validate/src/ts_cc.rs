// SPDX-License-Identifier: MIT OR Apache-2.0
//! MPEG-TS continuity counters (ISO/IEC 13818-1 2.4.3.3): within a segment each PID's counter
//! goes up by one per packet with payload (a repeated packet keeps it; a discontinuity_indicator
//! resets the expectation); across segments it runs on from the previous segment (Apple 7.2),
//! so a player appending segments sees one transport stream.

use std::collections::HashMap;

/// Counters of one segment: per PID the first (counter, discontinuity_indicator) and the last
/// counter; and the jumps inside it as (PID, byte offset, expected, found).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub first: HashMap<u16, (u8, bool)>,
    pub last: HashMap<u16, u8>,
    pub jumps: Vec<(u16, u64, u8, u8)>,
}

/// Scans the 188-byte packets of a segment.
pub fn scan(seg: &[u8]) -> Counters {
    let mut c = Counters::default();
    for (i, p) in seg.chunks_exact(188).enumerate() {
        let [0x47, b1, b2, b3, rest @ ..] = p else {
            continue;
        };
        let pid = u16::from(b1 & 0x1F) << 8 | u16::from(*b2);
        let afc = (b3 >> 4) & 3;
        // Null packets and packets without payload do not count (2.4.3.3).
        if pid == 0x1FFF || afc & 1 == 0 {
            continue;
        }
        let cc = b3 & 0x0F;
        let disc = afc & 2 != 0
            && rest.first().is_some_and(|&len| len > 0)
            && rest.get(1).is_some_and(|f| f & 0x80 != 0);
        if let Some(&l) = c.last.get(&pid) {
            let want = (l + 1) & 0x0F;
            if !disc && cc != want && cc != l {
                c.jumps.push((pid, (i * 188) as u64, want, cc));
            }
        }
        c.first.entry(pid).or_insert((cc, disc));
        c.last.insert(pid, cc);
    }
    c
}

/// PIDs whose counter does not run on from `prev_last` (the previous segment's last counters)
/// into `next`: (PID, expected, found).
pub fn across(prev_last: &HashMap<u16, u8>, next: &Counters) -> Vec<(u16, u8, u8)> {
    let mut out: Vec<(u16, u8, u8)> = next
        .first
        .iter()
        .filter_map(|(pid, &(cc, disc))| {
            let want = (prev_last.get(pid)? + 1) & 0x0F;
            (!disc && cc != want).then_some((*pid, want, cc))
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet of `pid` with counter `cc`; `payload` false: adaptation field only;
    /// `disc`: discontinuity_indicator set.
    fn pkt(pid: u16, cc: u8, payload: bool, disc: bool) -> Vec<u8> {
        let afc: u8 = if payload {
            if disc {
                3
            } else {
                1
            }
        } else {
            2
        };
        let mut p = vec![0x47, (pid >> 8) as u8, pid as u8, afc << 4 | cc];
        if afc & 2 != 0 {
            p.extend_from_slice(&[1, if disc { 0x80 } else { 0 }]);
        }
        p.resize(188, 0xFF);
        p
    }

    fn seg(pkts: &[(u16, u8, bool, bool)]) -> Vec<u8> {
        pkts.iter()
            .flat_map(|&(pid, cc, pl, d)| pkt(pid, cc, pl, d))
            .collect()
    }

    #[test]
    fn within_a_segment() {
        type Packets = Vec<(u16, u8, bool, bool)>;
        type Jumps = Vec<(u16, u64, u8, u8)>;
        let cases: Vec<(&str, Packets, Jumps)> = vec![
            (
                "runs on, wraps",
                vec![
                    (256, 14, true, false),
                    (256, 15, true, false),
                    (256, 0, true, false),
                ],
                vec![],
            ),
            (
                "lost packet",
                vec![(256, 3, true, false), (256, 5, true, false)],
                vec![(256, 188, 4, 5)],
            ),
            (
                "repeated packet",
                vec![
                    (256, 3, true, false),
                    (256, 3, true, false),
                    (256, 4, true, false),
                ],
                vec![],
            ),
            (
                "no payload keeps it",
                vec![
                    (256, 3, true, false),
                    (256, 3, false, false),
                    (256, 4, true, false),
                ],
                vec![],
            ),
            (
                "discontinuity indicator",
                vec![(256, 3, true, false), (256, 9, true, true)],
                vec![],
            ),
            (
                "PIDs apart",
                vec![
                    (256, 3, true, false),
                    (257, 9, true, false),
                    (256, 4, true, false),
                ],
                vec![],
            ),
        ];
        for (name, pkts, want) in cases {
            assert_eq!(scan(&seg(&pkts)).jumps, want, "{name}");
        }
    }

    #[test]
    fn across_segments() {
        let a = scan(&seg(&[(0, 4, true, false), (256, 7, true, false)]));
        let cases = [
            (
                "runs on",
                seg(&[(0, 5, true, false), (256, 8, true, false)]),
                vec![],
            ),
            (
                "restarts",
                seg(&[(0, 0, true, false), (256, 8, true, false)]),
                vec![(0, 5, 0)],
            ),
            ("restart announced", seg(&[(0, 0, true, true)]), vec![]),
            ("new PID", seg(&[(300, 0, true, false)]), vec![]),
        ];
        for (name, next, want) in cases {
            assert_eq!(across(&a.last, &scan(&next)), want, "{name}");
        }
    }
}
