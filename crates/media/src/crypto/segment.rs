// SPDX-License-Identifier: MIT OR Apache-2.0
//! METHOD=AES-128 applied while a rendition is written (RFC 8216bis 4.4.4.4, RFC 8216 5.2):
//! each media segment is encrypted as a whole as its pieces pass to the store (no second copy
//! of the segment), key by media sequence number, IV = media sequence number. With
//! `--single-file` each segment's byte range is encrypted on its own in the one file (CBC
//! restarts at each media segment, and a byte range is one: RFC 8216 5.2).
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

use super::cbc::{encrypt, encrypted_len, SegmentCipher};
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
    /// Plaintext bytes of the current segment counted, not written (a just-in-time plan).
    counted: u64,
    /// Length of the I-frame file so far.
    iframe_len: u64,
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
            counted: 0,
            iframe_len: 0,
        }
    }

    /// The method, keys and key URIs.
    pub fn encryption(&self) -> &Encryption {
        &self.enc
    }

    /// The I-frame file so far: its entries and bytes (where the next segment's start).
    pub fn iframes_written(&self) -> (usize, u64) {
        (self.iframe_keys.len(), self.iframe_len)
    }

    /// Starts the segment with media sequence number `msn` (CBC restarts at each segment).
    pub fn begin_segment(&mut self, msn: u64) {
        let n = self.enc.key_index(msn);
        self.cipher = Some(SegmentCipher::new(&self.enc.key(n), &sequence_iv(msn)));
        self.segment_keys.push(n);
        self.counted = 0;
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
        if store.counts_only() {
            // A plan: the padding PKCS7 adds to what was counted.
            self.cipher = None;
            return store.write_count(encrypted_len(self.counted) - self.counted);
        }
        let last = self.last_block()?;
        store.write_parts(&[last])
    }

    /// The segment's last block, with its padding (`--single-file`: the caller appends it).
    pub fn last_block(&mut self) -> io::Result<&[u8]> {
        let cipher = self
            .cipher
            .take()
            .ok_or_else(|| io::Error::other("AES-128: segment finished before it began"))?;
        self.out.clear();
        cipher.finish(&mut self.out);
        Ok(&self.out)
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
        if store.counts_only() {
            return self.count_iframes(keys, psi_len, store, name, n);
        }
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
            self.iframe_len = at + ct.len() as u64;
            self.iframe_keys.push(n);
            ranges.push(KeyframeRange {
                offset: at,
                length: ct.len() as u64,
                ..*k
            });
        }
        Ok(ranges)
    }

    /// [`Self::write_iframes`] for a plan: the entries' places and sizes (PKCS7-padded
    /// plaintext), counted into `store`'s I-frame file `name`, nothing encrypted; `n`: the
    /// segment's key.
    fn count_iframes(
        &mut self,
        keys: &[KeyframeRange],
        psi_len: Option<u64>,
        store: &mut dyn StreamStore,
        name: &str,
        n: u64,
    ) -> io::Result<Vec<KeyframeRange>> {
        let mut ranges = Vec::with_capacity(keys.len());
        for k in keys {
            let psi = psi_len.filter(|_| k.offset != 0).unwrap_or(0);
            let length = encrypted_len(psi + k.length);
            let at = store.append_count(name, length)?;
            self.iframe_len = at + length;
            self.iframe_keys.push(n);
            ranges.push(KeyframeRange {
                offset: at,
                length,
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
        if self.inner.counts_only() {
            // A plan: AES-128 only pads, so the plaintext's length is all that counts.
            return self.write_count(parts.iter().map(|p| p.len() as u64).sum());
        }
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
    fn counts_only(&self) -> bool {
        self.inner.counts_only()
    }
    fn write_count(&mut self, n: u64) -> io::Result<()> {
        self.seg.counted += n;
        self.inner.write_count(n)
    }
    fn append_count(&mut self, name: &str, n: u64) -> io::Result<u64> {
        self.inner.append_count(name, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Method;
    use crate::store::MemStore;
    use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};

    /// [`MemStore`] taking objects in pieces, as the packager's stores do.
    #[derive(Default)]
    struct Pieces {
        mem: MemStore,
        open: Option<(String, Vec<u8>)>,
    }

    impl Store for Pieces {
        fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
            self.mem.put(name, data)
        }
        fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
            self.mem.append(name, data)
        }
        fn delete(&mut self, name: &str) -> io::Result<()> {
            self.mem.delete(name)
        }
    }

    impl StreamStore for Pieces {
        fn begin(&mut self, name: &str) -> io::Result<()> {
            self.open = Some((name.into(), Vec::new()));
            Ok(())
        }
        fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
            let (_, buf) = self.open.as_mut().expect("begun");
            parts.iter().for_each(|p| buf.extend_from_slice(p));
            Ok(())
        }
        fn commit(&mut self) -> io::Result<()> {
            let (name, buf) = self.open.take().expect("begun");
            self.mem.put(&name, &buf)
        }
    }

    fn decrypt(key: &[u8; 16], msn: u64, data: &[u8]) -> Vec<u8> {
        let mut buf = data.to_vec();
        cbc::Decryptor::<aes::Aes128>::new(key.into(), &sequence_iv(msn).into())
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .expect("padding")
            .to_vec()
    }

    #[test]
    fn segments_in_pieces_and_iframes_each_decrypt_alone() {
        let enc = Encryption {
            method: Method::Aes128,
            key: [0x11; 16],
            rotation: Some(2),
            key_uri: None,
        };
        let mut w = WholeSegments::new(enc.clone(), true);
        let mut store = Pieces::default();
        let psi: Vec<u8> = vec![0x47; 376];
        let mut iframe_ranges = Vec::new();
        for msn in 0..3u64 {
            // Each segment: two pieces (each starting with PAT/PMT, as the TS muxer writes
            // them), the keyframe of the second piece in its middle.
            let pieces: Vec<Vec<u8>> = (0..2u8)
                .map(|p| {
                    [
                        psi.clone(),
                        vec![msn as u8 * 16 + p; 1000 + usize::from(p) * 7],
                    ]
                    .concat()
                })
                .collect();
            store.begin(&format!("s{msn}")).unwrap();
            w.begin_segment(msn);
            for piece in &pieces {
                let mut cs = w.piece_store(&mut store);
                for part in piece.chunks(333) {
                    cs.write_parts(&[part]).unwrap();
                }
                let key = KeyframeRange {
                    dts: 0,
                    pts: 0,
                    offset: 500,
                    length: 188,
                };
                iframe_ranges.extend(
                    w.write_iframes(&[key], Some(376), &mut store, "if")
                        .unwrap(),
                );
            }
            w.finish_segment(&mut store).unwrap();
            store.commit().unwrap();
            let got = decrypt(
                &enc.key(msn / 2),
                msn,
                &store.mem.objects[&format!("s{msn}")],
            );
            assert_eq!(got, pieces.concat(), "segment {msn}");
        }
        let file = &store.mem.objects["if"];
        assert_eq!(iframe_ranges.len(), 6);
        for (i, r) in iframe_ranges.iter().enumerate() {
            let (msn, p) = (i as u64 / 2, i as u8 % 2);
            let bytes = &file[r.offset as usize..(r.offset + r.length) as usize];
            let got = decrypt(&enc.key(msn / 2), i as u64, bytes);
            let want = [psi.clone(), vec![msn as u8 * 16 + p; 188]].concat();
            assert_eq!(got, want, "I-frame entry {i}");
        }
        // One tag per key change, in both playlists.
        let media = "#EXTM3U\n#EXTINF:2,\na\n#EXTINF:2,\nb\n#EXTINF:2,\nc\n";
        let tagged = w.media_playlist(media);
        assert_eq!(tagged.matches("#EXT-X-KEY").count(), 2, "{tagged}");
        let iframes = "#EXTM3U\n".to_owned() + &"#EXTINF:1,\nif\n".repeat(6);
        let tagged = w.iframe_playlist(&iframes);
        assert_eq!(tagged.matches("key_0.bin").count(), 1, "{tagged}");
        assert_eq!(tagged.matches("key_1.bin").count(), 1, "{tagged}");
    }
}
