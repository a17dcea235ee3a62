// SPDX-License-Identifier: MIT OR Apache-2.0
//! EXT-X-KEY METHOD=AES-128 (RFC 8216bis 4.4.4.4): the whole segment is AES-128-CBC with
//! PKCS7 padding; the key file is 16 octets (5.1); without an IV attribute the IV is the
//! media sequence number as a 128-bit big-endian integer (5.2). Segments are decrypted here
//! so that the media checks see what a player sees.

use std::collections::HashMap;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};

use crate::fetch::Fetcher;
use crate::media::fetch_ok;
use crate::playlist::Key;
use crate::report::{Location, Report};

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Key files fetched so far (None: unusable, already reported).
#[derive(Debug, Default)]
pub struct Keys {
    cache: HashMap<String, Option<[u8; 16]>>,
}

impl Keys {
    /// The 16-byte key `key` names, fetched once.
    pub fn get(&mut self, f: &Fetcher, key: &Key, report: &mut Report) -> Option<[u8; 16]> {
        let uri = key.uri.as_deref()?;
        if let Some(k) = self.cache.get(uri) {
            return *k;
        }
        let got = fetch_ok(f, uri, None, report).and_then(|g| {
            let k = <[u8; 16]>::try_from(g.body.as_slice()).ok();
            if k.is_none() {
                let msg = format!(
                    "an AES-128 key file must be 16 octets, found {}",
                    g.body.len()
                );
                report.must("RFC 8216bis 5.1", uri, Location::Whole, msg);
            }
            k
        });
        self.cache.insert(uri.to_owned(), got);
        got
    }
}

/// The IV of the segment with media sequence number `msn` (RFC 8216bis 5.2).
pub fn iv(key: &Key, msn: u64) -> [u8; 16] {
    key.iv.unwrap_or_else(|| u128::from(msn).to_be_bytes())
}

/// AES-128-CBC decryption with PKCS7 padding; Err when the padding is wrong (wrong key or IV,
/// or a cut segment).
pub fn decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Result<Vec<u8>, String> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(format!(
            "{} bytes is not a whole number of 16-byte AES blocks",
            data.len()
        ));
    }
    let mut buf = data.to_vec();
    let n = Aes128CbcDec::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map_err(|_| "PKCS7 padding is wrong after decryption (wrong key or IV?)".to_string())?
        .len();
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    type Enc = cbc::Encryptor<aes::Aes128>;

    fn encrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
        let mut buf = data.to_vec();
        buf.resize(data.len() + 16, 0);
        Enc::new(key.into(), iv.into())
            .encrypt_padded_mut::<Pkcs7>(&mut buf, data.len())
            .expect("room for the padding")
            .to_vec()
    }

    #[test]
    fn round_trip_and_wrong_keys() {
        let key = [7u8; 16];
        let k = Key {
            method: "AES-128".into(),
            uri: None,
            iv: None,
            line: 1,
        };
        let iv5 = iv(&k, 5);
        assert_eq!(iv5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let enc = encrypt(&plain, &key, &iv5);
        assert_eq!(decrypt(&enc, &key, &iv5).as_deref(), Ok(plain.as_slice()));
        assert!(decrypt(&enc, &[8u8; 16], &iv5).is_err());
        assert!(decrypt(&enc[..enc.len() - 1], &key, &iv5).is_err());
        let with_iv = Key {
            iv: Some([1; 16]),
            ..k
        };
        assert_eq!(iv(&with_iv, 5), [1; 16]);
    }
}
