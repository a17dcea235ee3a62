// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV file framing (Adobe FLV spec v10.1 E.2 header, E.3 body, E.4.1 tag header): the 9-byte
//! header, then PreviousTagSize0, then tags each followed by its PreviousTagSize. Push-based:
//! bytes may arrive in any chunking; only one tag is ever buffered.

/// Header flags (E.2): TypeFlagsAudio and TypeFlagsVideo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HeaderFlags {
    pub audio: bool,
    pub video: bool,
}

/// One complete tag cut out of the byte stream.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RawTag {
    pub tag_type: u8,
    pub filter: bool,
    pub timestamp: u32,
    pub body: Vec<u8>,
    /// Byte offset of the tag header in the file.
    pub offset: u64,
    /// The PreviousTagSize after it disagrees with 11 + DataSize.
    pub bad_prev_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FramingError {
    NotFlv(String),
    TooLarge { offset: u64, size: usize },
}

#[derive(Debug)]
enum State {
    Header,
    /// Skipping to DataOffset, then PreviousTagSize0.
    Preamble {
        skip: usize,
    },
    Tags,
    Failed(FramingError),
}

#[derive(Debug)]
pub(super) struct Framer {
    state: State,
    buf: Vec<u8>,
    /// Start of the unprocessed bytes in `buf` (consumed bytes are dropped at the next
    /// `extend`, so a large push is not shifted once per tag).
    start: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    max_tag: usize,
}

const TAG_HEADER: usize = 11;

fn be24(b: &[u8]) -> u32 {
    b.iter().take(3).fold(0, |a, &x| (a << 8) | u32::from(x))
}

impl Framer {
    pub(super) fn new(max_tag: usize) -> Self {
        Framer {
            state: State::Header,
            buf: Vec::new(),
            start: 0,
            offset: 0,
            max_tag,
        }
    }

    #[cfg(test)]
    /// Bytes consumed so far (the file offset of the first unprocessed byte).
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    #[cfg(test)]
    pub(super) fn buffered(&self) -> usize {
        self.pending().len()
    }

    pub(super) fn failed(&self) -> Option<&FramingError> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub(super) fn extend(&mut self, data: &[u8]) {
        if self.failed().is_none() {
            self.buf.drain(..self.start.min(self.buf.len()));
            self.start = 0;
            self.buf.extend_from_slice(data);
        }
    }

    /// The bytes not processed yet.
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.pending().len());
        self.start += n;
        self.offset += n as u64;
    }

    fn fail(&mut self, e: FramingError) -> FramingError {
        self.buf = Vec::new();
        self.start = 0;
        self.state = State::Failed(e.clone());
        e
    }

    /// The header flags once the header is read (`Ok(None)` while waiting for bytes).
    pub(super) fn header(&mut self) -> Result<Option<HeaderFlags>, FramingError> {
        if !matches!(self.state, State::Header) {
            return Ok(None);
        }
        let Some(head) = self.pending().get(..9) else {
            let so_far = self.pending().len().min(3);
            if self.pending().get(..so_far) != b"FLV".get(..so_far) {
                return Err(self.fail(FramingError::NotFlv(format!(
                    "first bytes {:02x?}, expected 'FLV'",
                    self.pending().get(..so_far).unwrap_or_default()
                ))));
            }
            return Ok(None);
        };
        if !head.starts_with(b"FLV") {
            return Err(self.fail(FramingError::NotFlv(format!(
                "first bytes {:02x?}, expected 'FLV'",
                &head[..3]
            ))));
        }
        let flags = head[4];
        let data_offset = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
        if !(9..=1 << 16).contains(&data_offset) {
            return Err(self.fail(FramingError::NotFlv(format!(
                "header DataOffset {data_offset} is not in 9..=65536"
            ))));
        }
        self.consume(9);
        // E.3: PreviousTagSize0 follows the header (after any header extension).
        self.state = State::Preamble {
            skip: data_offset as usize - 9 + 4,
        };
        Ok(Some(HeaderFlags {
            audio: flags & 0x04 != 0,
            video: flags & 0x01 != 0,
        }))
    }

    /// The next complete tag, `Ok(None)` when more bytes are needed.
    pub(super) fn next_tag(&mut self) -> Result<Option<RawTag>, FramingError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        if let State::Preamble { skip } = self.state {
            let n = skip.min(self.pending().len());
            self.consume(n);
            if n < skip {
                self.state = State::Preamble { skip: skip - n };
                return Ok(None);
            }
            self.state = State::Tags;
        }
        if !matches!(self.state, State::Tags) {
            return Ok(None);
        }
        // E.4.1: TagType (UI8) then DataSize (UI24): refuse an oversized tag before buffering it.
        let Some(size) = self.pending().get(1..4).map(|b| be24(b) as usize) else {
            return Ok(None);
        };
        if size > self.max_tag {
            let offset = self.offset;
            return Err(self.fail(FramingError::TooLarge { offset, size }));
        }
        let Some(h) = self.pending().get(..TAG_HEADER) else {
            return Ok(None);
        };
        let total = TAG_HEADER + size + 4;
        let Some(whole) = self.pending().get(..total) else {
            return Ok(None);
        };
        // E.4.1: Timestamp (UI24) + TimestampExtended (UI8, the upper 8 bits).
        let timestamp = (u32::from(h[7]) << 24) | be24(&h[4..7]);
        let prev = whole
            .get(total - 4..)
            .map_or(0, |b| b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)));
        let expected = u32::try_from(TAG_HEADER + size).unwrap_or(u32::MAX);
        let tag = RawTag {
            tag_type: h[0] & 0x1F,
            filter: h[0] & 0x20 != 0,
            timestamp,
            body: whole
                .get(TAG_HEADER..TAG_HEADER + size)
                .unwrap_or_default()
                .to_vec(),
            offset: self.offset,
            bad_prev_size: (prev != expected).then_some(prev),
        };
        self.consume(total);
        Ok(Some(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: u8, ts: u32, body: &[u8]) -> Vec<u8> {
        let mut t = vec![kind];
        t.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        t.extend_from_slice(&ts.to_be_bytes()[1..]);
        t.push((ts >> 24) as u8);
        t.extend_from_slice(&[0, 0, 0]);
        t.extend_from_slice(body);
        t.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        t
    }

    #[test]
    fn frames_tags_byte_by_byte() {
        let mut file = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        file.extend(tag(9, 0x0123_4567, b"abc"));
        file.extend(tag(8, 5, b""));
        let mut f = Framer::new(100);
        let mut flags = None;
        let mut tags = Vec::new();
        for b in &file {
            f.extend(&[*b]);
            flags = flags.or(f.header().unwrap());
            while let Some(t) = f.next_tag().unwrap() {
                tags.push((t.tag_type, t.timestamp, t.body, t.offset, t.bad_prev_size));
            }
        }
        assert_eq!(
            flags,
            Some(HeaderFlags {
                audio: true,
                video: true
            })
        );
        assert_eq!(
            tags,
            vec![
                (9, 0x0123_4567, b"abc".to_vec(), 13, None),
                (8, 5, vec![], 31, None)
            ]
        );
        assert_eq!(f.offset(), file.len() as u64);
    }

    #[test]
    fn errors_table() {
        let big = [
            b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00".as_slice(),
            &tag(9, 0, &[0; 200]),
        ]
        .concat();
        let cases: [(&[u8], &str); 4] = [
            (b"GIF89a", "NotFlv"),
            (b"FL", ""),
            (b"FLV\x01\x01\x00\x00\x00\x03", "NotFlv"),
            (&big, "TooLarge"),
        ];
        for (bytes, want) in cases {
            let mut f = Framer::new(100);
            f.extend(bytes);
            let got = f.header().and_then(|_| f.next_tag());
            let name = match &got {
                Err(FramingError::NotFlv(_)) => "NotFlv",
                Err(FramingError::TooLarge { offset, size }) => {
                    assert_eq!((*offset, *size), (13, 200));
                    "TooLarge"
                }
                Ok(_) => "",
            };
            assert_eq!(name, want, "{bytes:02x?}");
            if !want.is_empty() {
                // sticky, and nothing more is buffered
                f.extend(&[0; 50]);
                assert!(f.next_tag().is_err());
                assert_eq!(f.buffered(), 0);
            }
        }
    }
}
