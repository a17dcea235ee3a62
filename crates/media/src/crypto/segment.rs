// SPDX-License-Identifier: MIT OR Apache-2.0
//! METHOD=AES-128 applied while a rendition is written (RFC 8216bis 4.4.4.4, RFC 8216 5.2):
//! each media segment is encrypted as a whole as its pieces pass to the store (no second copy
//! of the segment), key by media sequence number, IV = media sequence number.
//!
//! **I-frame playlists.** An I-frame entry is a byte range inside a segment (RFC 8216bis
//! 4.4.3.6), but a range in the middle of a CBC-encrypted segment cannot be decrypted on its
//! own: its first block needs the ciphertext before it, and it carries no padding. So with
//! AES-128 every keyframe's range (TS: with the PAT/PMT in front when it has none, so no
//! EXT-X-MAP is needed; fMP4: `moof` + `mdat` header + keyframe, as without encryption) is
//! copied into one I-frame file and encrypted there as its own message — each entry of the
//! I-frame playlist is then a media segment in the RFC's sense, decrypted with the key of the
//! segment it came from and its own media sequence number as IV. This costs the keyframes'
//! bytes a second time on disk, and the plaintext of the piece being written in memory.

use std::io;

use super::cbc::{encrypt, SegmentCipher};
use super::{sequence_iv, Encryption};
use crate::mux::KeyframeRange;
use crate::package::StreamStore;
use crate::store::Store;

/// The AES-128 state of one rendition.
pub struct WholeSegments {
    enc: Encryption,
    cipher: Option<SegmentCipher>,
    /// Ciphertext on its way to the store (reused).
    out: Vec<u8>,
    /// Plaintext of the piece being written (only with video: keyframes are copied from it).
    plain: Option<Vec<u8>>,
    /// Key number of each media segment written, in order.
    segment_keys: Vec<u64>,
    /// Key number of each I-frame entry written, in order.
    iframe_keys: Vec<u64>,
}

impl WholeSegments {
    /// `with_video`: keep each piece's plaintext to copy its keyframes into the I-frame file.
    pub fn new(enc: Encryption, with_video: bool) -> Self {
        WholeSegments {
            enc,
            cipher: None,
            out: Vec::new(),
            plain: with_video.then(Vec::new),
            segment_keys: Vec::new(),
            iframe_keys: Vec::new(),
        }
    }

    /// Starts the segment with media sequence number `msn` (CBC restarts at each segment).
    pub fn begin_segment(&mut self, msn: u64) {
        let n = self.enc.key_index(msn);
        self.cipher = Some(SegmentCipher::new(&self.enc.key(n), &sequence_iv(msn)));
        self.segment_keys.push(n);
    }

    /// A store that encrypts what the muxer writes into the begun object; call once per piece.
    pub fn piece_store<'a>(&'a mut self, inner: &'a mut dyn StreamStore) -> CipherStore<'a> {
        if let Some(p) = &mut self.plain {
            p.clear();
        }
        CipherStore { inner, seg: self }
    }

    /// Writes the segment's last block (with its padding) into the begun object.
    pub fn finish_segment(&mut self, store: &mut dyn StreamStore) -> io::Result<()> {
        let cipher = self
            .cipher
            .take()
            .ok_or_else(|| io::Error::other("AES-128: segment finished before it began"))?;
        self.out.clear();
        cipher.finish(&mut self.out);
        store.write_parts(&[&self.out])
    }

    /// Copies the keyframes `keys` of the piece just written (offsets from the piece's start)
    /// into the I-frame file `name`, each encrypted on its own, and returns their ranges in
    /// that file. `psi_len`: MPEG-TS, where the piece's PAT/PMT end — put before a keyframe
    /// that does not start the piece.
    pub fn write_iframes(
        &mut self,
        keys: &[KeyframeRange],
        psi_len: Option<u64>,
        store: &mut dyn StreamStore,
        name: &str,
    ) -> io::Result<Vec<KeyframeRange>> {
        let Some(plain) = &self.plain else {
            return Ok(Vec::new());
        };
        let n = self.segment_keys.last().copied().unwrap_or(0);
        let key = self.enc.key(n);
        let mut ranges = Vec::with_capacity(keys.len());
        for k in keys {
            let slice = |from: u64, len: u64| {
                usize::try_from(from)
                    .ok()
                    .zip(usize::try_from(from.saturating_add(len)).ok())
                    .and_then(|(a, b)| plain.get(a..b))
                    .ok_or_else(|| io::Error::other("keyframe range outside the piece written"))
            };
            let mut bytes = Vec::with_capacity(k.length as usize + 400);
            if let Some(psi) = psi_len.filter(|_| k.offset != 0) {
                bytes.extend_from_slice(slice(0, psi)?);
            }
            bytes.extend_from_slice(slice(k.offset, k.length)?);
            // RFC 8216 5.2: each I-frame entry is its own media segment, its IV its sequence
            // number in the I-frame playlist (which starts at 0).
            let ct = encrypt(&key, &sequence_iv(self.iframe_keys.len() as u64), &bytes);
            let at = store.append(name, &ct)?;
            self.iframe_keys.push(n);
            ranges.push(KeyframeRange {
                offset: at,
                length: ct.len() as u64,
                ..*k
            });
        }
        Ok(ranges)
    }

    /// The media playlist `text` with its EXT-X-KEY tags.
    pub fn media_playlist(&self, text: &str) -> String {
        super::tagged(&self.enc, text, &self.segment_keys)
    }

    /// The I-frame playlist `text` with its EXT-X-KEY tags.
    pub fn iframe_playlist(&self, text: &str) -> String {
        super::tagged(&self.enc, text, &self.iframe_keys)
    }
}

/// A [`StreamStore`] that encrypts the object begun in `inner` on its way in.
pub struct CipherStore<'a> {
    inner: &'a mut dyn StreamStore,
    seg: &'a mut WholeSegments,
}

impl Store for CipherStore<'_> {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.inner.put(name, data)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.inner.append(name, data)
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.inner.delete(name)
    }
}

impl StreamStore for CipherStore<'_> {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        self.inner.begin(name)
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let seg = &mut *self.seg;
        let cipher = seg
            .cipher
            .as_mut()
            .ok_or_else(|| io::Error::other("AES-128: write before the segment began"))?;
        seg.out.clear();
        for part in parts {
            if let Some(p) = &mut seg.plain {
                p.extend_from_slice(part);
            }
            cipher.update(part, &mut seg.out);
        }
        self.inner.write_parts(&[&seg.out])
    }
    fn commit(&mut self) -> io::Result<()> {
        self.inner.commit()
    }
}
