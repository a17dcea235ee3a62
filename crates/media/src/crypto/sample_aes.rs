// SPDX-License-Identifier: MIT OR Apache-2.0
//! METHOD=SAMPLE-AES in MPEG-TS (RFC 8216bis 4.4.4.4), as Apple's "MPEG-2 Stream Encryption
//! Format for HTTP Live Streaming" defines it. The container stays clear; samples are
//! encrypted before they are muxed, AES-128-CBC with the IV of the key (written in EXT-X-KEY,
//! see [`super::Encryption::key_iv`]), the chain restarting at each NAL unit / audio frame:
//!
//! - **H.264** (Apple 2.2.1): only slice NAL units (types 1 and 5) longer than 48 bytes. The
//!   first 32 bytes (NAL header and 31 bytes) stay clear; then one 16-byte block is encrypted
//!   out of every ten (1 encrypted, 9 clear = 160 bytes), for as long as more than 16 bytes
//!   remain; the rest stays clear. Emulation prevention bytes are then inserted over the whole
//!   NAL unit, so the players' decryptors — which remove them before decrypting — get the
//!   encrypted NAL unit back.
//! - **AAC, AC-3, E-AC-3** (Apple 2.2.2–2.2.3): each frame (for AAC the raw frame after its
//!   ADTS header) has 16 clear bytes, then every whole 16-byte block encrypted, then the partial
//!   block (fewer than 16 bytes) clear.
//! - **PMT** (Apple 2.3): stream types 0xDB (H.264), 0xCF (ADTS AAC), 0xC1 (AC-3), 0xC2
//!   (E-AC-3); a private data indicator descriptor (`zavc`, `aacd`, `ac3d`, `ec3d`), and for
//!   audio a registration descriptor `apad` carrying the audio setup information (`zaac`,
//!   `zach`, `zacp`, `zac3`, `zec3`, priming 0, version 1, the codec configuration).

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use bytes::Bytes;

use super::Encryption;
use crate::codec::aac;
use crate::sample::{CodecConfig, TrackInfo};
use crate::segmenter::Segment;
use crate::{Error, Result};

type Encryptor = cbc::Encryptor<aes::Aes128>;

/// How the samples of one track are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// H.264 slice NAL units, 1:9 pattern after a 32-byte leader.
    Avc,
    /// Whole blocks after a 16-byte leader.
    Audio,
}

/// The SAMPLE-AES state of one rendition.
pub struct SampleAes {
    enc: Encryption,
    schemes: Vec<Scheme>,
    segment_keys: Vec<u64>,
    iframe_keys: Vec<u64>,
}

impl SampleAes {
    /// Fails for a codec Apple's format has no encryption for (HEVC, MP3).
    pub fn new(enc: Encryption, tracks: &[TrackInfo]) -> Result<Self> {
        let schemes = tracks
            .iter()
            .map(|t| match &t.config {
                CodecConfig::Avc { .. } => Ok(Scheme::Avc),
                CodecConfig::Aac { .. } | CodecConfig::Ac3 { .. } | CodecConfig::Eac3 { .. } => {
                    Ok(Scheme::Audio)
                }
                other => Err(Error::Encryption(format!(
                    "track {}: SAMPLE-AES in MPEG-TS covers H.264, AAC, AC-3 and E-AC-3, not {}; \
                     use --encrypt aes-128, or --format fmp4 --encrypt cbcs",
                    t.id,
                    other.name()
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SampleAes {
            enc,
            schemes,
            segment_keys: Vec::new(),
            iframe_keys: Vec::new(),
        })
    }

    /// The keys and schemes without what was listed so far: enough to encrypt one segment
    /// again on its own (just-in-time packaging, `package::jit`).
    pub fn snapshot(&self) -> SampleAes {
        SampleAes {
            enc: self.enc.clone(),
            schemes: self.schemes.clone(),
            segment_keys: Vec::new(),
            iframe_keys: Vec::new(),
        }
    }

    /// Encrypts the samples of `piece` in place, with the key and IV of its segment; `first`:
    /// the piece that opens the segment.
    pub fn encrypt_piece(&mut self, piece: &mut Segment, first: bool) {
        let n = self.enc.key_index(piece.index);
        if first {
            self.segment_keys.push(n);
        }
        let key = self.enc.key(n);
        let iv = self.enc.key_iv(n);
        for s in &mut piece.samples {
            let data = match self.schemes.get(s.track) {
                Some(Scheme::Avc) => encrypt_avc_sample(&key, &iv, &s.data),
                Some(Scheme::Audio) => {
                    let mut d = s.data.to_vec();
                    encrypt_audio_frame(&key, &iv, &mut d);
                    d
                }
                None => continue,
            };
            s.data = Bytes::from(data);
        }
    }

    /// The segment listed last had `keyframes` I-frame entries.
    pub fn listed(&mut self, keyframes: usize) {
        let n = self.segment_keys.last().copied().unwrap_or(0);
        self.iframe_keys.extend(std::iter::repeat_n(n, keyframes));
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

/// Apple's audio_setup_information: the audio type and the codec configuration.
type AudioSetup = (&'static [u8; 4], Vec<u8>);

/// The PMT entry of `track` for SAMPLE-AES (Apple 2.3): its stream type and the descriptors
/// added to `descriptors`.
pub fn pmt_entry(track: &TrackInfo, stream_type: &mut u8, descriptors: &mut Vec<u8>) -> Result<()> {
    let (st, indicator, setup): (u8, &[u8; 4], Option<AudioSetup>) = match &track.config {
        CodecConfig::Avc { .. } => (0xDB, b"zavc", None),
        CodecConfig::Aac { asc } => {
            let kind: &[u8; 4] = match aac::parse_asc(asc).map(|a| a.object_type) {
                Ok(5) => b"zach",
                Ok(29) => b"zacp",
                _ => b"zaac",
            };
            (0xCF, b"aacd", Some((kind, asc.to_vec())))
        }
        CodecConfig::Ac3 { dac3 } => (0xC1, b"ac3d", Some((b"zac3", dac3.to_vec()))),
        CodecConfig::Eac3 { dec3 } => (0xC2, b"ec3d", Some((b"zec3", dec3.to_vec()))),
        // SampleAes::new refused the others before the muxer was built.
        _ => return Ok(()),
    };
    *stream_type = st;
    // private_data_indicator_descriptor (ISO/IEC 13818-1 2.6.29), tag 15.
    descriptors.extend_from_slice(&[0x0F, 4]);
    descriptors.extend_from_slice(indicator);
    if let Some((kind, data)) = setup {
        // registration_descriptor 'apad' + audio_setup_information (Apple 2.3.2).
        let len = u8::try_from(4 + 4 + 2 + 1 + 1 + data.len()).map_err(|_| {
            Error::Encryption(format!(
                "track {}: codec configuration of {} bytes does not fit the PMT",
                track.id,
                data.len()
            ))
        })?;
        descriptors.extend_from_slice(&[0x05, len]);
        descriptors.extend_from_slice(b"apad");
        descriptors.extend_from_slice(kind);
        descriptors.extend_from_slice(&[0, 0, 1, data.len() as u8]);
        descriptors.extend_from_slice(&data);
    }
    Ok(())
}

/// An H.264 sample (4-byte NAL lengths) with its slice NAL units encrypted. A sample whose
/// lengths do not add up is returned as it is (the muxer reports it).
fn encrypt_avc_sample(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64);
    let mut enc = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(len) = data
            .get(pos..pos + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        else {
            return data.to_vec();
        };
        let Some(nal) = data.get(pos + 4..pos + 4 + len) else {
            return data.to_vec();
        };
        let nal_type = nal.first().map(|b| b & 0x1F);
        if matches!(nal_type, Some(1 | 5)) && nal.len() > 48 {
            enc.clear();
            enc.extend_from_slice(nal);
            encrypt_nal_pattern(key, iv, &mut enc);
            // The length prefix, once the escaped unit's length is known.
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            escape_into(&enc, &mut out);
            let escaped = (out.len() - at - 4) as u32;
            if let Some(prefix) = out.get_mut(at..at + 4) {
                prefix.copy_from_slice(&escaped.to_be_bytes());
            }
        } else {
            out.extend_from_slice(&data[pos..pos + 4 + len]);
        }
        pos += 4 + len;
    }
    out
}

/// Apple 2.2.1: after the 32-byte leader, one block encrypted in every 160 bytes while more
/// than 16 bytes remain; CBC chains the encrypted blocks of the NAL unit.
fn encrypt_nal_pattern(key: &[u8; 16], iv: &[u8; 16], nal: &mut [u8]) {
    let mut c = Encryptor::new(key.into(), iv.into());
    let mut at = 32;
    while nal.len() - at > 16 {
        c.encrypt_block_mut((&mut nal[at..at + 16]).into());
        at += 160;
        if at >= nal.len() {
            break;
        }
    }
}

/// Apple 2.2.2: 16 clear bytes, then every whole block, CBC.
fn encrypt_audio_frame(key: &[u8; 16], iv: &[u8; 16], frame: &mut [u8]) {
    let mut c = Encryptor::new(key.into(), iv.into());
    if frame.len() < 32 {
        return;
    }
    let end = 16 + (frame.len() - 16) / 16 * 16;
    for block in frame[16..end].chunks_exact_mut(16) {
        c.encrypt_block_mut(block.into());
    }
}

/// H.264 7.4.1: an emulation_prevention_three_byte after every two zero bytes followed by a
/// byte ≤ 3.
#[cfg(test)]
fn insert_emulation_prevention(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len() + nal.len() / 128 + 1);
    escape_into(nal, &mut out);
    out
}

/// [`insert_emulation_prevention`] appending to `out`: the runs of non-zero bytes (most of a
/// slice) are found with `memchr` and copied whole; only zero bytes are looked at one by one.
fn escape_into(nal: &[u8], out: &mut Vec<u8>) {
    out.reserve(nal.len() + nal.len() / 128 + 1);
    let mut zeros = 0usize;
    let mut i = 0usize;
    while let Some(&b) = nal.get(i) {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        if b == 0 {
            out.push(0);
            zeros += 1;
            i += 1;
            continue;
        }
        // A run of non-zero bytes: none of them but the first can need a byte before it.
        let rest = nal.get(i..).unwrap_or_default();
        let run = memchr::memchr(0, rest).unwrap_or(rest.len());
        out.extend_from_slice(rest.get(..run).unwrap_or_default());
        zeros = 0;
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockDecryptMut;

    /// Which bytes the pattern encrypts, by NAL unit length: block start offsets.
    #[test]
    fn nal_pattern_blocks() {
        let cases: &[(usize, &[usize])] = &[
            (49, &[32]),
            (64, &[32]),
            (192, &[32]),
            (208, &[32]),
            (209, &[32, 192]),
            (400, &[32, 192, 352]),
            (368, &[32, 192]),
            (369, &[32, 192, 352]),
        ];
        let key = [5u8; 16];
        let iv = [9u8; 16];
        for (len, want) in cases {
            let plain: Vec<u8> = (0..*len).map(|i| (i % 251) as u8).collect();
            let mut nal = plain.clone();
            encrypt_nal_pattern(&key, &iv, &mut nal);
            let changed: Vec<usize> = (0..*len)
                .step_by(16)
                .filter(|&i| nal[i..(i + 16).min(*len)] != plain[i..(i + 16).min(*len)])
                .collect();
            // Blocks are 16-aligned from 0 (32 + 160k are multiples of 16).
            assert_eq!(changed, *want, "len {len}");
            // And decrypting those blocks, chained, gives the plaintext back.
            let mut d = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into());
            for &at in *want {
                d.decrypt_block_mut((&mut nal[at..at + 16]).into());
            }
            assert_eq!(nal, plain, "len {len}");
        }
    }

    #[test]
    fn audio_frame_blocks() {
        // (frame length, encrypted bytes [16, end))
        let cases = [(31, 16), (32, 32), (47, 32), (48, 48), (100, 96)];
        for (len, end) in cases {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut f = plain.clone();
            encrypt_audio_frame(&[1; 16], &[2; 16], &mut f);
            assert_eq!(f[..16], plain[..16], "{len}");
            assert_eq!(f[end..], plain[end..], "{len}");
            if end > 16 {
                assert_ne!(f[16..end], plain[16..end], "{len}");
            }
        }
    }

    /// The run-copying escape equals the byte-by-byte rule on inputs dense in zeros and
    /// small bytes (a xorshift stream, several byte distributions).
    #[test]
    fn escape_equals_the_byte_rule() {
        fn naive(nal: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut zeros = 0;
            for &b in nal {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                out.push(b);
                zeros = if b == 0 { zeros + 1 } else { 0 };
            }
            out
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for modulus in [2u64, 3, 5, 8, 256] {
            for len in [0usize, 1, 2, 3, 7, 64, 1000] {
                let input: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x % modulus) as u8
                    })
                    .collect();
                let mut got = vec![9u8];
                escape_into(&input, &mut got);
                assert_eq!(got[1..], naive(&input)[..], "mod {modulus} len {len}");
            }
        }
    }

    #[test]
    fn emulation_prevention() {
        let cases: &[(&[u8], &[u8])] = &[
            (&[1, 2, 3], &[1, 2, 3]),
            (&[0, 0, 0], &[0, 0, 3, 0]),
            (&[0, 0, 1, 0, 0, 2], &[0, 0, 3, 1, 0, 0, 3, 2]),
            (&[0, 0, 3], &[0, 0, 3, 3]),
            (&[0, 0, 4, 0, 0], &[0, 0, 4, 0, 0]),
            (&[0, 0, 0, 0], &[0, 0, 3, 0, 0]),
            (&[0, 0, 0, 0, 0], &[0, 0, 3, 0, 0, 3, 0]),
        ];
        for (input, want) in cases {
            assert_eq!(insert_emulation_prevention(input), *want, "{input:?}");
            // The players' side: removing them gives the input back.
            assert_eq!(crate::codec::nal::rbsp(want), *input, "{input:?}");
        }
    }

    #[test]
    fn avc_sample_keeps_other_nals_and_fixes_lengths() {
        let sps = [0x67u8, 1, 2, 3];
        // Zeros: the ciphertext and the clear bytes around it both need emulation prevention.
        let slice: Vec<u8> = std::iter::once(0x65).chain((0..300).map(|_| 0u8)).collect();
        let small: Vec<u8> = std::iter::once(0x41).chain(0..40u8).collect();
        let mut sample = Vec::new();
        for nal in [&sps[..], &slice, &small] {
            sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            sample.extend_from_slice(nal);
        }
        let out = encrypt_avc_sample(&[3; 16], &[4; 16], &sample);
        let nals = crate::codec::nal::length_prefixed_nals(&out, 4).unwrap();
        assert_eq!(nals.len(), 3);
        assert_eq!(nals[0], sps);
        assert_eq!(nals[2], small.as_slice(), "48 bytes or fewer stay clear");
        let unescaped = crate::codec::nal::rbsp(nals[1]);
        assert_eq!(unescaped.len(), slice.len());
        assert_eq!(unescaped[..32], slice[..32]);
        assert_ne!(unescaped[32..48], slice[32..48]);
        assert_eq!(unescaped[48..192], slice[48..192]);
        // No start code inside the escaped NAL unit.
        assert!(!nals[1]
            .windows(3)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
    }
}
