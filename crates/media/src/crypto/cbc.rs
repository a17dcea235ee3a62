// SPDX-License-Identifier: MIT OR Apache-2.0
//! AES-128-CBC with PKCS7 padding over a message that arrives in pieces: what METHOD=AES-128
//! does to a whole media segment (RFC 8216 5.2: "CBC is restarted on each segment boundary").
//! The block cipher and the chaining are RustCrypto's (`aes`, `cbc`); this keeps the partial
//! block between pieces and pads at the end.

use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockEncryptMut, KeyIvInit};

type Encryptor = cbc::Encryptor<aes::Aes128>;

const BLOCK: usize = 16;

/// One message being encrypted: [`update`](Self::update) with its pieces in order, then
/// [`finish`](Self::finish).
pub struct SegmentCipher {
    enc: Encryptor,
    /// Bytes of a block not yet complete (fewer than 16).
    tail: Vec<u8>,
}

impl SegmentCipher {
    pub fn new(key: &[u8; 16], iv: &[u8; 16]) -> Self {
        SegmentCipher {
            enc: Encryptor::new(key.into(), iv.into()),
            tail: Vec::with_capacity(BLOCK),
        }
    }

    /// Encrypts the complete blocks `data` (with what was left over) makes, appending them to
    /// `out`; keeps the rest for the next call.
    pub fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if !self.tail.is_empty() {
            let take = (BLOCK - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < BLOCK {
                return;
            }
            let start = out.len();
            out.extend_from_slice(&self.tail);
            self.tail.clear();
            self.encrypt_in_place(&mut out[start..]);
        }
        let whole = data.len() / BLOCK * BLOCK;
        let start = out.len();
        out.extend_from_slice(&data[..whole]);
        self.encrypt_in_place(&mut out[start..]);
        self.tail.extend_from_slice(&data[whole..]);
    }

    /// The last block: what is left plus PKCS7 padding (1 to 16 bytes of the pad length; a
    /// whole block of 16s when the message is a multiple of 16 bytes, RFC 5652 6.3).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let pad = BLOCK - self.tail.len();
        let start = out.len();
        out.extend_from_slice(&self.tail);
        out.resize(start + BLOCK, pad as u8);
        self.encrypt_in_place(&mut out[start..]);
    }

    /// Encrypts whole blocks in place: one call for all of them (per-block calls pay the
    /// cipher's backend dispatch each time; the chain itself is serial either way).
    fn encrypt_in_place(&mut self, blocks: &mut [u8]) {
        let (chunks, _partial) = InOutBuf::from(blocks).into_chunks();
        self.enc.encrypt_blocks_inout_mut(chunks);
    }
}

/// The size of `plain_len` bytes once encrypted: the next multiple of 16 above it.
pub fn encrypted_len(plain_len: u64) -> u64 {
    (plain_len / BLOCK as u64 + 1) * BLOCK as u64
}

/// A whole message at once, encrypted where it is: `data` padded (PKCS7) and returned.
pub fn encrypt_owned(key: &[u8; 16], iv: &[u8; 16], mut data: Vec<u8>) -> Vec<u8> {
    let pad = BLOCK - data.len() % BLOCK;
    data.resize(data.len() + pad, pad as u8);
    SegmentCipher::new(key, iv).encrypt_in_place(&mut data);
    data
}

/// A whole message at once.
pub fn encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + BLOCK);
    let mut c = SegmentCipher::new(key, iv);
    c.update(data, &mut out);
    c.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn arr(s: &str) -> [u8; 16] {
        hex(s).try_into().unwrap()
    }

    /// In place and in pieces give the same ciphertext, for every length around a block.
    #[test]
    fn owned_equals_pieces() {
        let (key, iv) = ([5u8; 16], [6u8; 16]);
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(
                encrypt_owned(&key, &iv, plain.clone()),
                encrypt(&key, &iv, &plain),
                "{len}"
            );
        }
    }

    /// NIST SP 800-38A F.2.1 CBC-AES128.Encrypt: the four blocks, then our PKCS7 block.
    #[test]
    fn nist_sp800_38a_cbc_aes128_vectors() {
        let key = arr("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = arr("000102030405060708090a0b0c0d0e0f");
        let plain = hex(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ));
        let want = hex(concat!(
            "7649abac8119b246cee98e9b12e9197d",
            "5086cb9b507219ee95db113a917678b2",
            "73bed6b8e3c1743b7116e69e22229516",
            "3ff1caa1681fac09120eca307586e1a7"
        ));
        // Whole, and in pieces of every size: the chaining must not depend on how it is fed.
        for piece in [1usize, 3, 15, 16, 17, 33, 64] {
            let mut out = Vec::new();
            let mut c = SegmentCipher::new(&key, &iv);
            for p in plain.chunks(piece) {
                c.update(p, &mut out);
            }
            assert_eq!(out, want, "pieces of {piece}");
            c.finish(&mut out);
            assert_eq!(out.len(), 80);
        }
    }

    #[test]
    fn pkcs7_padding_round_trips_with_an_independent_decryptor() {
        let key = [9u8; 16];
        let iv = [3u8; 16];
        // (plaintext length, encrypted length)
        for (len, want) in [
            (0, 16),
            (1, 16),
            (15, 16),
            (16, 32),
            (17, 32),
            (188 * 7, 1328),
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let mut ct = encrypt(&key, &iv, &plain);
            assert_eq!(ct.len(), want, "{len}");
            assert_eq!(encrypted_len(len as u64), want as u64);
            let dec = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
                .decrypt_padded_mut::<Pkcs7>(&mut ct)
                .unwrap();
            assert_eq!(dec, plain.as_slice(), "{len}");
        }
    }
}
