// SPDX-License-Identifier: MIT OR Apache-2.0
//! Box headers (ISO/IEC 14496-12 §4.2): `size`, `type`, optional 64-bit `largesize`, and
//! `size == 0` meaning "extends to the end of the enclosing container / file".
//!
//! Containers (moov, trak, mdia, minf, stbl, mvex, moof, traf, edts) are walked here on byte
//! slices so that an unparseable box we do not need (udta, meta, …) cannot fail the whole file;
//! the leaf boxes we do need are decoded with `mp4-atom`.

use crate::error::{Error, Result};

pub(super) type FourCc = [u8; 4];

/// A box located in the file: `offset` is the absolute position of its first header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BoxHeader {
    pub kind: FourCc,
    pub offset: u64,
    /// 8, or 16 with a `largesize`.
    pub header_len: u64,
    /// Total size including the header.
    pub size: u64,
}

impl BoxHeader {
    pub fn name(&self) -> String {
        fourcc_str(self.kind)
    }

    /// Absolute offset of the first payload byte.
    pub fn payload_offset(&self) -> u64 {
        self.offset.saturating_add(self.header_len)
    }
}

/// Printable form of a four-character code (non-printable bytes escaped).
pub(super) fn fourcc_str(kind: FourCc) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// Outcome of decoding a header from the first bytes of a box.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RawHeader {
    /// `size` is `None` when the box extends to the end of its container (size field 0).
    Ok {
        kind: FourCc,
        header_len: u64,
        size: Option<u64>,
    },
    /// Fewer bytes than the header needs.
    Short,
    /// A size smaller than the header itself.
    Invalid { kind: FourCc, size: u64 },
}

/// Decodes a box header from `head` (at least 8 bytes, 16 when `size == 1`).
pub(super) fn decode_header(head: &[u8]) -> RawHeader {
    let (Some(size), Some(kind)) = (be_u32(head, 0), head.get(4..8)) else {
        return RawHeader::Short;
    };
    let mut k = [0u8; 4];
    k.copy_from_slice(kind);
    match size {
        0 => RawHeader::Ok {
            kind: k,
            header_len: 8,
            size: None,
        },
        1 => match be_u64(head, 8) {
            None => RawHeader::Short,
            Some(large) if large < 16 => RawHeader::Invalid {
                kind: k,
                size: large,
            },
            Some(large) => RawHeader::Ok {
                kind: k,
                header_len: 16,
                size: Some(large),
            },
        },
        s if s < 8 => RawHeader::Invalid {
            kind: k,
            size: u64::from(s),
        },
        s => RawHeader::Ok {
            kind: k,
            header_len: 8,
            size: Some(u64::from(s)),
        },
    }
}

pub(super) fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub(super) fn be_u64(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

pub(super) fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Iterator over the child boxes inside a container payload held in memory.
///
/// Yields each child's header and its complete bytes (header included). A remainder shorter
/// than a box header is treated as padding (QuickTime writes a 4-byte zero terminator).
pub(super) struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    /// Absolute file offset of `data[0]`.
    base: u64,
}

impl<'a> Children<'a> {
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Children { data, pos: 0, base }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<(BoxHeader, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.pos..)?;
        if rest.len() < 8 {
            return None;
        }
        let offset = self.base.saturating_add(self.pos as u64);
        let remaining = rest.len() as u64;
        let (kind, header_len, size) = match decode_header(rest) {
            RawHeader::Ok {
                kind,
                header_len,
                size,
            } => (kind, header_len, size.unwrap_or(remaining)),
            RawHeader::Short => {
                self.pos = self.data.len();
                return Some(Err(Error::mp4("box header cut short", offset)));
            }
            RawHeader::Invalid { kind, size } => {
                self.pos = self.data.len();
                return Some(Err(Error::mp4(
                    format!("box '{}' has invalid size {size}", fourcc_str(kind)),
                    offset,
                )));
            }
        };
        if size > remaining {
            self.pos = self.data.len();
            return Some(Err(Error::mp4(
                format!(
                    "box '{}' of {size} bytes overruns its container ({remaining} bytes left)",
                    fourcc_str(kind)
                ),
                offset,
            )));
        }
        // size <= remaining <= usize::MAX here.
        let len = usize::try_from(size).unwrap_or(rest.len());
        let bytes = rest.get(..len).unwrap_or(rest);
        self.pos = self.pos.saturating_add(len);
        Some(Ok((
            BoxHeader {
                kind,
                offset,
                header_len,
                size,
            },
            bytes,
        )))
    }
}

/// The payload (bytes after the header) of a box whose complete bytes are `bytes`.
pub(super) fn payload<'a>(hdr: &BoxHeader, bytes: &'a [u8]) -> &'a [u8] {
    let skip = usize::try_from(hdr.header_len).unwrap_or(usize::MAX);
    bytes.get(skip..).unwrap_or(&[])
}

/// Decodes a complete leaf box with `mp4-atom`, mapping its error to one naming the box offset.
pub(super) fn decode_atom<T: mp4_atom::Decode>(hdr: &BoxHeader, bytes: &[u8]) -> Result<T> {
    let mut buf = bytes;
    T::decode(&mut buf)
        .map_err(|e| Error::mp4(format!("cannot decode '{}': {e}", hdr.name()), hdr.offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let cases: &[(&[u8], RawHeader)] = &[
            (
                b"\0\0\0\x10free",
                RawHeader::Ok {
                    kind: *b"free",
                    header_len: 8,
                    size: Some(16),
                },
            ),
            (
                b"\0\0\0\0mdat",
                RawHeader::Ok {
                    kind: *b"mdat",
                    header_len: 8,
                    size: None,
                },
            ),
            (
                b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x20",
                RawHeader::Ok {
                    kind: *b"mdat",
                    header_len: 16,
                    size: Some(32),
                },
            ),
            (b"\0\0\0\x01mdat\0\0\0\0", RawHeader::Short),
            (
                b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x08",
                RawHeader::Invalid {
                    kind: *b"mdat",
                    size: 8,
                },
            ),
            (
                b"\0\0\0\x04free",
                RawHeader::Invalid {
                    kind: *b"free",
                    size: 4,
                },
            ),
            (b"\0\0\0", RawHeader::Short),
        ];
        for (bytes, want) in cases {
            assert_eq!(&decode_header(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn children_walk_and_errors() {
        let mut data = Vec::new();
        data.extend_from_slice(b"\0\0\0\x0aabcd\x01\x02");
        data.extend_from_slice(b"\0\0\0\x08efgh");
        data.extend_from_slice(b"\0\0\0\0"); // QuickTime terminator: padding
        let kids: Vec<_> = Children::new(&data, 100)
            .collect::<Result<_>>()
            .unwrap_or_default();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].0.kind, *b"abcd");
        assert_eq!(kids[0].0.offset, 100);
        assert_eq!(payload(&kids[0].0, kids[0].1), &[1, 2]);
        assert_eq!(kids[1].0.offset, 110);

        let bad = b"\0\0\0\x20abcd\x01\x02";
        let err = Children::new(bad, 7).next();
        assert!(
            matches!(err, Some(Err(Error::Mp4 { offset: 7, .. }))),
            "{err:?}"
        );
        assert_eq!(fourcc_str(*b"a\0b "), "a\\x00b ");
    }
}
