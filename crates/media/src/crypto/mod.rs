// SPDX-License-Identifier: MIT OR Apache-2.0
//! Content protection for packaged renditions (RFC 8216bis 4.4.4.4 EXT-X-KEY).
//!
//! - [`Method::Aes128`]: every media segment is AES-128-CBC with PKCS7 padding as a whole
//!   (RFC 8216 5.2), TS and fMP4; see [`segment`].
//! - [`Method::SampleAes`]: MPEG-TS with its H.264 and audio samples encrypted as Apple's
//!   "MPEG-2 Stream Encryption Format for HTTP Live Streaming" says; see [`sample_aes`].
//! - [`Method::Cbcs`]: fMP4 with Common Encryption `cbcs` (ISO/IEC 23001-7 §10.4), listed as
//!   METHOD=SAMPLE-AES; see [`cbcs`].
//!
//! The cipher is RustCrypto's `aes` + `cbc`; this module only chains calls to it. Keys: one
//! fixed key, or a key per `rotation` segments derived from a master key (see
//! [`Encryption::key`]).
//!
//! IVs: AES-128 writes none — without an IV attribute the IV of a segment is its media sequence
//! number as a 128-bit big-endian integer (RFC 8216 5.2), so each (key, IV) pair of a playlist
//! is used once. SAMPLE-AES writes one IV per key in its EXT-X-KEY ([`Encryption::key_iv`]):
//! every NAL unit and audio frame restarts the chain from it anyway, and a player that demuxes
//! across segment boundaries (ffmpeg emits a segment's last video frame once it reads the next
//! segment) then still decrypts that frame with the right IV.

pub mod cbc;
pub mod cbcs;
pub mod cbcs_av1;
pub mod cbcs_vp9;
pub mod chains;
pub mod playlist;
pub mod rotation;
pub mod sample_aes;
pub mod segment;

use aes::cipher::{BlockEncrypt, KeyInit};

/// The EXT-X-KEY METHOD applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Whole segments, AES-128-CBC + PKCS7 (RFC 8216bis 4.4.4.4, RFC 8216 5.2).
    Aes128,
    /// MPEG-TS, samples encrypted (Apple's MPEG-2 Stream Encryption Format).
    SampleAes,
    /// fMP4, Common Encryption `cbcs` (ISO/IEC 23001-7 §10.4); METHOD=SAMPLE-AES.
    Cbcs,
}

impl Method {
    /// The METHOD attribute value.
    pub fn tag_value(self) -> &'static str {
        match self {
            Method::Aes128 => "AES-128",
            // RFC 8216bis 4.4.4.4: fMP4 protected with cbcs is METHOD=SAMPLE-AES.
            Method::SampleAes | Method::Cbcs => "SAMPLE-AES",
        }
    }
}

/// How a rendition is encrypted: the method, its keys and where players fetch them.
#[derive(Clone, PartialEq, Eq)]
pub struct Encryption {
    pub method: Method,
    /// The key (no rotation), or the master key the rotating keys are derived from.
    pub key: [u8; 16],
    /// A new key every this many segments (`--key-rotation N`); `None`: one key throughout.
    pub rotation: Option<u32>,
    /// URI of key `n` in EXT-X-KEY: `{n}` in it is replaced by the key number; `None` gives
    /// `key_<n>.bin`, a file beside the playlists.
    pub key_uri: Option<String>,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material (logs, panics).
        f.debug_struct("Encryption")
            .field("method", &self.method)
            .field("rotation", &self.rotation)
            .field("key_uri", &self.key_uri)
            .finish_non_exhaustive()
    }
}

impl Encryption {
    /// The number of the key that encrypts the segment with media sequence number `msn`.
    pub fn key_index(&self, msn: u64) -> u64 {
        match self.rotation {
            Some(n) if n > 0 => msn / u64::from(n),
            _ => 0,
        }
    }

    /// Key number `n`. Without rotation, the key itself. With rotation, key `n` is the AES-128
    /// encryption of the block `n` (128-bit big-endian) under the master key: AES used as a
    /// pseudo-random function, so keys are distinct and knowing some reveals neither the master
    /// nor the others.
    pub fn key(&self, n: u64) -> [u8; 16] {
        if self.rotation.is_none() {
            return self.key;
        }
        let cipher = aes::Aes128::new(&self.key.into());
        let mut block = u128::from(n).to_be_bytes().into();
        cipher.encrypt_block(&mut block);
        block.into()
    }

    /// The IV written with key `n` (SAMPLE-AES): the block of all ones encrypted under that
    /// key — unpredictable without the key, and the same on every run with the same key.
    pub fn key_iv(&self, n: u64) -> [u8; 16] {
        let cipher = aes::Aes128::new(&self.key(n).into());
        let mut block = [0xFF; 16].into();
        cipher.encrypt_block(&mut block);
        block.into()
    }

    /// The key ID of key `n` (cbcs `tenc`/`pssh`): the block of all 0xEE encrypted under that
    /// key — stable for a given key, and revealing nothing about it.
    pub fn kid(&self, n: u64) -> [u8; 16] {
        let cipher = aes::Aes128::new(&self.key(n).into());
        let mut block = [0xEE; 16].into();
        cipher.encrypt_block(&mut block);
        block.into()
    }

    /// The URI players fetch key `n` from.
    pub fn key_uri(&self, n: u64) -> String {
        match &self.key_uri {
            Some(uri) => uri.replace("{n}", &n.to_string()),
            None => key_file_name(n),
        }
    }

    /// The number of keys used by `segments` segments (media sequence numbers from 0).
    pub fn keys_used(&self, segments: u64) -> u64 {
        if segments == 0 {
            0
        } else {
            self.key_index(segments - 1) + 1
        }
    }

    /// EXT-X-KEY for key `n` (RFC 8216bis 4.4.4.4). No IV attribute: the media sequence number
    /// is the IV (RFC 8216 5.2). KEYFORMAT "identity" (the default) is written out for
    /// SAMPLE-AES, as Apple's examples and players expect it there, with the key's IV.
    pub fn key_tag(&self, n: u64) -> String {
        let keyformat = match self.method {
            Method::Aes128 => String::new(),
            // cbcs: the IV is tenc's constant IV; written here too, as Shaka Packager does.
            Method::SampleAes | Method::Cbcs => {
                let iv: String = self.key_iv(n).iter().map(|b| format!("{b:02x}")).collect();
                format!(",IV=0x{iv},KEYFORMAT=\"identity\"")
            }
        };
        format!(
            "#EXT-X-KEY:METHOD={},URI=\"{}\"{keyformat}",
            self.method.tag_value(),
            self.key_uri(n)
        )
    }

    /// EXT-X-SESSION-KEY lines for a multivariant playlist whose renditions use the keys of
    /// `segments` segments (RFC 8216bis 4.4.6.5: the same attributes as their EXT-X-KEY tags,
    /// one per distinct key; Apple recommends it so players can load keys ahead).
    pub fn session_key_tags(&self, segments: u64) -> Vec<String> {
        (0..self.keys_used(segments))
            .map(|n| {
                self.key_tag(n)
                    .replacen("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:", 1)
            })
            .collect()
    }

    /// The lowest EXT-X-VERSION for the key tags: SAMPLE-AES and KEYFORMAT need 5 (RFC 8216bis
    /// 8).
    pub fn min_version(&self) -> u8 {
        match self.method {
            Method::Aes128 => 1,
            Method::SampleAes | Method::Cbcs => 5,
        }
    }
}

/// Playlist `text` with the EXT-X-KEY tags of `keys`, the key number of each entry.
fn tagged(enc: &Encryption, text: &str, keys: &[u64]) -> String {
    let tags: Vec<(usize, String)> = playlist::key_changes(keys.iter().copied())
        .into_iter()
        .map(|(i, n)| (i, enc.key_tag(n)))
        .collect();
    playlist::insert_key_tags(text, &tags, enc.min_version())
}

/// `key_<n>.bin`: the name of key `n` when it is written beside the playlists.
pub fn key_file_name(n: u64) -> String {
    format!("key_{n}.bin")
}

/// The IV of the object with media sequence number `msn` (RFC 8216 5.2).
pub fn sequence_iv(msn: u64) -> [u8; 16] {
    u128::from(msn).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(rotation: Option<u32>, key_uri: Option<&str>) -> Encryption {
        Encryption {
            method: Method::Aes128,
            key: [0x2b; 16],
            rotation,
            key_uri: key_uri.map(str::to_owned),
        }
    }

    #[test]
    fn key_schedule() {
        // (rotation, msn, key number)
        let cases = [
            (None, 0, 0),
            (None, 1000, 0),
            (Some(1), 0, 0),
            (Some(1), 7, 7),
            (Some(3), 2, 0),
            (Some(3), 3, 1),
            (Some(3), 8, 2),
        ];
        for (rot, msn, want) in cases {
            assert_eq!(enc(rot, None).key_index(msn), want, "{rot:?} {msn}");
        }
        let cases = [(None, 0, 0), (None, 5, 1), (Some(2), 5, 3), (Some(2), 4, 2)];
        for (rot, segments, want) in cases {
            assert_eq!(
                enc(rot, None).keys_used(segments),
                want,
                "{rot:?} {segments}"
            );
        }
    }

    #[test]
    fn rotating_keys_are_distinct_and_not_the_master() {
        let e = enc(Some(2), None);
        let keys: Vec<_> = (0..64).map(|n| e.key(n)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len());
        assert!(!keys.contains(&e.key));
        assert_eq!(enc(None, None).key(5), [0x2b; 16]);
    }

    #[test]
    fn key_tags() {
        let cases = [
            (None, 0, "#EXT-X-KEY:METHOD=AES-128,URI=\"key_0.bin\""),
            (
                Some("https://k/{n}"),
                3,
                "#EXT-X-KEY:METHOD=AES-128,URI=\"https://k/3\"",
            ),
            (Some("/k"), 3, "#EXT-X-KEY:METHOD=AES-128,URI=\"/k\""),
        ];
        for (uri, n, want) in cases {
            assert_eq!(enc(Some(1), uri).key_tag(n), want);
        }
    }

    #[test]
    fn session_keys() {
        let cases: [(Option<u32>, u64, &[&str]); 3] = [
            (None, 0, &[]),
            (
                None,
                7,
                &["#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key_0.bin\""],
            ),
            (
                Some(3),
                7,
                &[
                    "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key_0.bin\"",
                    "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key_1.bin\"",
                    "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key_2.bin\"",
                ],
            ),
        ];
        for (rot, segments, want) in cases {
            assert_eq!(enc(rot, None).session_key_tags(segments), want, "{rot:?}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let s = format!("{:?}", enc(None, None));
        assert!(!s.contains("43"), "{s}");
    }
}
