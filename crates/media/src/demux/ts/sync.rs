// SPDX-License-Identifier: MIT OR Apache-2.0
//! Packet synchronisation: find 188-byte packets in an unaligned byte stream.
//!
//! ISO/IEC 13818-1 §2.4.3.2: every transport packet starts with `sync_byte` 0x47. Lock is
//! acquired on three sync bytes one stride apart (188 bytes; 192 for M2TS/BDAV, whose 4-byte
//! TP_extra_header precedes each packet) and lost on the first missing sync byte, after which
//! the bytes up to the next lock are skipped as garbage.

/// Length of one transport packet (ISO/IEC 13818-1 §2.4.3.2).
pub(super) const PACKET_LEN: usize = 188;
/// `sync_byte`.
pub(super) const SYNC: u8 = 0x47;
/// M2TS (BDAV) stride: 4-byte TP_extra_header + packet.
const M2TS_STRIDE: usize = 192;
/// Input that never yields a lock within this many bytes is not a transport stream.
const MAX_GARBAGE_BEFORE_FIRST_SYNC: u64 = 1 << 20;

#[derive(Debug, Clone, Default)]
pub(super) struct Framer {
    /// Bytes not yet consumed; `buf[0]` is at stream offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Distance between sync bytes once locked (188 or 192).
    stride: Option<usize>,
    /// Bytes skipped since lock was lost (or since the start).
    skipped: u64,
    ever_locked: bool,
}

/// Why the framer stopped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FramerError {
    /// No lock within [`MAX_GARBAGE_BEFORE_FIRST_SYNC`] bytes from the start of the input.
    NotTs { skipped: u64 },
}

impl Framer {
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends `data` and hands every complete packet (188 bytes, starting with 0x47) to
    /// `on_packet` with its stream offset.
    pub(super) fn push(
        &mut self,
        data: &[u8],
        on_packet: impl FnMut(&[u8], u64),
    ) -> Result<(), FramerError> {
        self.buf.extend_from_slice(data);
        self.drain(false, on_packet)
    }

    /// Emits what is left at end of input: a last packet whose successor cannot be checked,
    /// and a warning for a truncated tail.
    pub(super) fn finish(&mut self, on_packet: impl FnMut(&[u8], u64)) -> Result<(), FramerError> {
        let result = self.drain(true, on_packet);
        if !self.buf.is_empty() {
            tracing::warn!(
                offset = self.base,
                bytes = self.buf.len(),
                "MPEG-TS: input ends with a truncated packet; ignored"
            );
            self.base += self.buf.len() as u64;
            self.buf.clear();
        }
        result
    }

    /// Stream offset of the next unconsumed byte.
    pub(super) fn offset(&self) -> u64 {
        self.base
    }

    fn drain(
        &mut self,
        at_end: bool,
        mut on_packet: impl FnMut(&[u8], u64),
    ) -> Result<(), FramerError> {
        let mut pos = 0usize;
        let mut result = Ok(());
        while let Some(rest) = self.buf.get(pos..) {
            if let Some(stride) = self.stride {
                if rest.len() < PACKET_LEN {
                    break;
                }
                if rest.first() != Some(&SYNC) {
                    tracing::warn!(
                        offset = self.base + pos as u64,
                        "MPEG-TS: sync byte 0x47 missing, resynchronising"
                    );
                    self.stride = None;
                    self.skipped = 0;
                    continue;
                }
                // The next packet's sync byte confirms this one (except at the very end).
                let confirmed = match rest.get(stride) {
                    Some(&b) => b == SYNC,
                    None if at_end => true,
                    None => break,
                };
                if confirmed {
                    on_packet(
                        rest.get(..PACKET_LEN).unwrap_or(&[]),
                        self.base + pos as u64,
                    );
                    pos += stride.min(rest.len());
                    continue;
                }
                // Is this packet real and followed by garbage, or garbage itself (a lock starts
                // inside it)? Find the next lock after its sync byte to decide.
                let after = rest.get(1..).unwrap_or(&[]);
                let (lock_at, next_stride) = match find_lock(after, at_end) {
                    Lock::Found { skip, stride } => (1 + skip, Some(stride)),
                    Lock::NeedMore { skip } if 1 + skip >= PACKET_LEN => (1 + skip, None),
                    Lock::NeedMore { .. } => break,
                };
                let offset = self.base + pos as u64;
                let garbage = match lock_at.checked_sub(PACKET_LEN) {
                    Some(after_packet) => {
                        on_packet(rest.get(..PACKET_LEN).unwrap_or(&[]), offset);
                        after_packet
                    }
                    None => lock_at,
                };
                match next_stride {
                    Some(_) => {
                        tracing::warn!(
                            offset,
                            skipped = garbage,
                            "MPEG-TS: skipped bytes that are not transport packets"
                        );
                        pos += lock_at;
                    }
                    None => {
                        tracing::warn!(
                            offset,
                            "MPEG-TS: sync lost after this packet, resynchronising"
                        );
                        pos += PACKET_LEN;
                    }
                }
                self.stride = next_stride;
                self.skipped = 0;
                continue;
            }
            match find_lock(rest, at_end) {
                Lock::Found { skip, stride } => {
                    self.skipped += skip as u64;
                    if self.skipped > 0 {
                        tracing::warn!(
                            offset = self.base + pos as u64,
                            skipped = self.skipped,
                            "MPEG-TS: skipped bytes that are not transport packets"
                        );
                    }
                    pos += skip;
                    self.stride = Some(stride);
                    self.ever_locked = true;
                    self.skipped = 0;
                }
                Lock::NeedMore { skip } => {
                    self.skipped += skip as u64;
                    pos += skip;
                    break;
                }
            }
        }
        let consumed = pos.min(self.buf.len());
        self.buf.drain(..consumed);
        self.base += consumed as u64;
        if !self.ever_locked && self.skipped > MAX_GARBAGE_BEFORE_FIRST_SYNC {
            result = Err(FramerError::NotTs {
                skipped: self.skipped,
            });
        }
        result
    }
}

enum Lock {
    /// Lock at `skip` with this stride.
    Found { skip: usize, stride: usize },
    /// No lock yet; the first `skip` bytes can be discarded.
    NeedMore { skip: usize },
}

/// Looks for a sync byte followed by two more one stride apart. At the end of input, a
/// candidate is accepted if every sync position that still lies inside `buf` holds 0x47.
fn find_lock(buf: &[u8], at_end: bool) -> Lock {
    let mut start = 0usize;
    while let Some(found) = buf
        .get(start..)
        .and_then(|b| b.iter().position(|&x| x == SYNC))
    {
        let p = start + found;
        let mut undecided = false;
        for stride in [PACKET_LEN, M2TS_STRIDE] {
            match (buf.get(p + stride), buf.get(p + 2 * stride)) {
                (Some(&SYNC), Some(&SYNC)) => return Lock::Found { skip: p, stride },
                (Some(&SYNC), None) | (None, None) => undecided = true,
                _ => {}
            }
        }
        if undecided {
            if !at_end {
                return Lock::NeedMore { skip: p };
            }
            if buf.len() - p >= PACKET_LEN {
                let stride_ok = |s: usize| buf.get(p + s).is_none_or(|&b| b == SYNC);
                if stride_ok(PACKET_LEN) {
                    return Lock::Found {
                        skip: p,
                        stride: PACKET_LEN,
                    };
                }
            }
        }
        start = p + 1;
    }
    // No candidate at all: everything is garbage except a possible sync-less tail.
    Lock::NeedMore { skip: buf.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(tag: u8) -> Vec<u8> {
        let mut p = vec![tag; PACKET_LEN];
        p[0] = SYNC;
        p
    }

    fn collect(framer: &mut Framer, data: &[u8], out: &mut Vec<(u8, u64)>) {
        framer
            .push(data, |p, off| out.push((p[1], off)))
            .expect("no error");
    }

    #[test]
    fn aligned_packets_after_garbage() {
        let mut data = vec![1, 2, 3, SYNC, 9];
        for tag in 1..=4 {
            data.extend(packet(tag));
        }
        let mut f = Framer::default();
        let mut out = Vec::new();
        collect(&mut f, &data, &mut out);
        f.finish(|p, off| out.push((p[1], off))).expect("ok");
        assert_eq!(out, vec![(1, 5), (2, 193), (3, 381), (4, 569)]);
    }

    #[test]
    fn resync_after_corrupt_packet() {
        let mut data = Vec::new();
        for tag in 1..=3 {
            data.extend(packet(tag));
        }
        data.extend([0u8; 100]); // a lost half packet
        for tag in 4..=7 {
            data.extend(packet(tag));
        }
        let mut f = Framer::default();
        let mut out = Vec::new();
        collect(&mut f, &data, &mut out);
        f.finish(|p, off| out.push((p[1], off))).expect("ok");
        let tags: Vec<u8> = out.iter().map(|x| x.0).collect();
        assert_eq!(tags, vec![1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn m2ts_stride() {
        let mut data = Vec::new();
        for tag in 1..=4 {
            data.extend([0, 0, 0, tag]);
            data.extend(packet(tag));
        }
        let mut f = Framer::default();
        let mut out = Vec::new();
        collect(&mut f, &data, &mut out);
        f.finish(|p, off| out.push((p[1], off))).expect("ok");
        assert_eq!(out, vec![(1, 4), (2, 196), (3, 388), (4, 580)]);
    }

    #[test]
    fn byte_by_byte_push() {
        let mut data = Vec::new();
        for tag in 1..=5 {
            data.extend(packet(tag));
        }
        let mut f = Framer::default();
        let mut out = Vec::new();
        for b in &data {
            collect(&mut f, std::slice::from_ref(b), &mut out);
        }
        f.finish(|p, off| out.push((p[1], off))).expect("ok");
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn not_ts_after_a_megabyte_of_garbage() {
        let mut f = Framer::default();
        let junk = vec![0u8; 64 * 1024];
        let mut err = None;
        for _ in 0..20 {
            if let Err(e) = f.push(&junk, |_, _| {}) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(FramerError::NotTs { .. })));
    }

    #[test]
    fn lone_packet_at_end_is_accepted() {
        let mut f = Framer::default();
        let mut out = Vec::new();
        collect(&mut f, &packet(7), &mut out);
        assert!(out.is_empty());
        f.finish(|p, off| out.push((p[1], off))).expect("ok");
        assert_eq!(out, vec![(7, 0)]);
    }
}
