// SPDX-License-Identifier: MIT OR Apache-2.0
use aes::cipher::{BlockEncrypt, KeyInit};

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The pattern of §10.4.2 spelled out block by block with the bare AES block cipher (no `cbc`
/// crate): C_i = AES(P_i xor C_prev) for the encrypted blocks, the skipped ones untouched and
/// not part of the chain.
fn reference(key: &[u8; 16], iv: &[u8; 16], crypt: usize, skip: usize, data: &[u8]) -> Vec<u8> {
    let aes = aes::Aes128::new(key.into());
    let mut prev = *iv;
    let mut out = data.to_vec();
    let blocks = data.len() / 16;
    for b in 0..blocks {
        let encrypted = if crypt == 0 && skip == 0 {
            true
        } else {
            b % (crypt + skip) < crypt
        };
        if !encrypted {
            continue;
        }
        let mut block = [0u8; 16];
        for (i, x) in block.iter_mut().enumerate() {
            *x = data[b * 16 + i] ^ prev[i];
        }
        let mut ga = block.into();
        aes.encrypt_block(&mut ga);
        prev = ga.into();
        out[b * 16..b * 16 + 16].copy_from_slice(&prev);
    }
    out
}

#[test]
fn pattern_encryption_matches_a_block_by_block_reference() {
    let key: [u8; 16] = hex("0123456789abcdef0123456789abcdef").try_into().unwrap();
    let iv: [u8; 16] = hex("0f0e0d0c0b0a09080706050403020100").try_into().unwrap();
    for len in [0usize, 15, 16, 17, 159, 160, 161, 176, 177, 335, 3200, 4434] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        for (crypt, skip) in [(1u8, 9u8), (0, 0), (2, 8), (1, 0), (0, 5), (3, 7), (9, 1)] {
            let mut got = plain.clone();
            encrypt_range(&key, &iv, (crypt, skip), &mut got);
            let want = reference(&key, &iv, crypt.into(), skip.into(), &plain);
            assert_eq!(got, want, "len {len} pattern {crypt}:{skip}");
            // The trailing partial block is always clear.
            assert_eq!(got[len / 16 * 16..], plain[len / 16 * 16..]);
        }
    }
}

/// A length-prefixed NAL unit of `len` bytes whose first byte is `header`.
fn nal(header: u8, len: usize) -> Vec<u8> {
    let mut v = (len as u32).to_be_bytes().to_vec();
    v.push(header);
    v.extend((1..len).map(|i| i as u8));
    v
}

fn sub(clear: u16, protected: u32) -> Subsample {
    Subsample { clear, protected }
}

#[test]
fn video_subsamples() {
    type Case = (&'static str, Layout, Vec<u8>, Vec<Subsample>);
    let cases: Vec<Case> = vec![
        (
            "SPS PPS IDR: parameter sets clear with the slice's leader",
            Layout::Avc,
            [nal(0x67, 20), nal(0x68, 4), nal(0x65, 100)].concat(),
            vec![sub(24 + 8 + 4 + 32, 68)],
        ),
        (
            "two slices: one subsample each",
            Layout::Avc,
            [nal(0x41, 60), nal(0x01, 300)].concat(),
            vec![sub(36, 28), sub(36, 268)],
        ),
        (
            "slice too short for a protected block, then SEI: all clear",
            Layout::Avc,
            [nal(0x41, 47), nal(0x06, 10)].concat(),
            vec![sub(51 + 14, 0)],
        ),
        (
            "slice of 48 bytes: exactly one block protected",
            Layout::Avc,
            nal(0x41, 48),
            vec![sub(36, 16)],
        ),
        (
            "HEVC: VPS clear, IDR_W_RADL (19) protected",
            Layout::Hevc,
            [nal(32 << 1, 24), nal(19 << 1, 200)].concat(),
            vec![sub(28 + 36, 168)],
        ),
        (
            "a NAL length overrunning the sample: the rest clear",
            Layout::Avc,
            [nal(0x65, 100), vec![0, 0, 1, 0, 0x65, 1, 2]].concat(),
            vec![sub(36, 68), sub(7, 0)],
        ),
    ];
    for (name, layout, data, want) in cases {
        let mut got = Vec::new();
        subsamples(layout, &data, &mut got);
        assert_eq!(got, want, "{name}");
        assert_cover(&got, data.len(), name);
    }
}

#[test]
fn long_clear_runs_split_at_65535() {
    let data = [nal(0x06, 70_000), nal(0x65, 64)].concat();
    let mut got = Vec::new();
    subsamples(Layout::Avc, &data, &mut got);
    assert_eq!(
        got,
        vec![sub(65535, 0), sub((70_004 - 65_535 + 36) as u16, 32)]
    );
}

#[test]
fn encrypting_keeps_the_layout_readable() {
    let key = [7u8; 16];
    let iv = [9u8; 16];
    let plain = [nal(0x67, 20), nal(0x65, 500), nal(0x01, 90)].concat();
    let mut data = plain.clone();
    let mut scratch = Vec::new();
    let cipher = Aes128Enc::new(&key.into());
    encrypt_sample(
        &mut splitter(Layout::Avc),
        &cipher,
        &iv,
        &mut data,
        &mut scratch,
    )
    .unwrap();
    assert_ne!(data, plain);
    let (mut before, mut after) = (Vec::new(), Vec::new());
    subsamples(Layout::Avc, &plain, &mut before);
    subsamples(Layout::Avc, &data, &mut after);
    assert_eq!(before, after);
    // Each protected range is the pattern from the constant IV (the chain restarts).
    let mut pos = 0;
    for s in before {
        let from = pos + usize::from(s.clear);
        let to = from + s.protected as usize;
        assert_eq!(data[pos..from], plain[pos..from]);
        assert_eq!(data[from..to], reference(&key, &iv, 1, 9, &plain[from..to]));
        pos = to;
    }
}

/// Shaka Packager 3.8 (`--protection_scheme cbcs --keys key_id=00112233445566778899aabbccddeeff
/// --iv 0f0e0d0c0b0a09080706050403020100`) writes these `tenc` and `pssh` boxes for an H.264
/// and an AAC track; ours must be the same bytes.
#[test]
fn boxes_match_shaka_packager() {
    let kid: [u8; 16] = hex("00112233445566778899aabbccddeeff").try_into().unwrap();
    let iv: [u8; 16] = hex("0f0e0d0c0b0a09080706050403020100").try_into().unwrap();
    let tenc = |pattern: &str| {
        hex(&format!(
            "0000003174656e630100000000{pattern}0100{}10{}",
            "00112233445566778899aabbccddeeff", "0f0e0d0c0b0a09080706050403020100"
        ))
    };
    let cases = [
        (*b"avc1", Layout::Avc, "19", "61766331"),
        (*b"mp4a", Layout::Whole, "00", "6d703461"),
    ];
    for (format, layout, pattern, frma) in cases {
        let got = sinf(format, layout, &kid, &iv);
        let want = [
            hex("0000006173696e66"),
            hex(&format!("0000000c66726d61{frma}")),
            hex("000000147363686d000000006362637300010000"),
            hex("0000003973636869"),
            tenc(pattern),
        ]
        .concat();
        assert_eq!(got, want, "{layout:?}");
    }
    let pssh = hex(
        "0000003470737368010000001077efecc0b24d02ace33c1e52e2fb4b00000001\
         00112233445566778899aabbccddeeff00000000",
    );
    assert_eq!(clearkey_pssh(&kid), pssh);
}

/// [`crate::crypto::chains`] encrypts many ranges side by side; each range must come out as if
/// it were encrypted alone (fewer and more ranges than lanes, empty and partial ones, patterns).
#[test]
fn chains_match_one_range_at_a_time() {
    use crate::crypto::chains::{encrypt_ranges, Range, LANES};
    let key = [0x3cu8; 16];
    let iv = [0xa5u8; 16];
    let cipher = Aes128Enc::new(&key.into());
    let plain: Vec<u8> = (0..40_000).map(|i| (i * 7 % 253) as u8).collect();
    // (start, len) of each range: disjoint, in any order, some shorter than a block.
    let lens = [
        0usize, 5, 16, 17, 160, 161, 1000, 3333, 48, 15, 4096, 176, 320, 7, 2000,
    ];
    for count in [1, LANES - 1, LANES, LANES + 1, lens.len()] {
        let mut ranges = Vec::new();
        let mut at = 3;
        for &len in lens.iter().take(count) {
            ranges.push(Range { start: at, len });
            at += len + 11;
        }
        ranges.reverse();
        for pattern in [(1u8, 9u8), (0, 0), (5, 5), (10, 0), (0, 3)] {
            let mut got = plain.clone();
            encrypt_ranges(&cipher, &iv, pattern, &mut got, &ranges);
            let mut want = plain.clone();
            for r in &ranges {
                encrypt_range(&key, &iv, pattern, &mut want[r.start..r.start + r.len]);
            }
            assert!(got == want, "{count} ranges, pattern {pattern:?}");
        }
    }
    // A range running past the buffer is clamped, not a panic.
    let mut short = plain[..100].to_vec();
    encrypt_ranges(
        &cipher,
        &iv,
        (0, 0),
        &mut short,
        &[Range { start: 90, len: 50 }],
    );
    assert_eq!(short, plain[..100]);
}

/// [`Cbcs::encrypt_piece`] encrypts a piece's samples as [`encrypt_sample`] does one at a time,
/// leaves samples of unprotected tracks alone, and works again on the next piece (its buffer
/// reused).
#[test]
fn pieces_encrypt_as_samples_one_at_a_time() {
    use crate::crypto::{Encryption, Method};
    use crate::sample::{CodecConfig, Sample, TrackInfo};
    use crate::segmenter::Segment;
    use bytes::Bytes;
    let enc = Encryption {
        method: Method::Cbcs,
        key: [0x42; 16],
        rotation: None,
        key_uri: None,
    };
    let track = |id, config| TrackInfo {
        id,
        config,
        timescale: 90_000,
        width: 0,
        height: 0,
        sample_rate: 0,
        channels: 0,
        language: None,
        duration: None,
    };
    let avc = CodecConfig::Avc {
        sps: vec![],
        pps: vec![],
        in_band: false,
    };
    let aac = CodecConfig::Aac {
        asc: Bytes::from_static(&[0x11, 0x90]),
    };
    let mut cbcs = Cbcs::new(enc.clone(), &[track(1, avc), track(2, aac)]).unwrap();
    let cipher = Aes128Enc::new(&enc.key(0).into());
    let iv = enc.key_iv(0);
    for index in 0..2u64 {
        let datas: Vec<(usize, Vec<u8>)> = (0..20)
            .map(|i| match i % 3 {
                0 => {
                    // Some large enough that a piece is encrypted in several batches.
                    let big = if i % 6 == 0 { 100_000 } else { 0 };
                    let idr = nal(0x65, 300 + i * 50 + big);
                    (0, [nal(0x67, 20), idr, nal(0x01, 90)].concat())
                }
                1 => (1, (0..200 + i).map(|b| b as u8).collect()),
                // A track the rendition does not protect.
                _ => (5, vec![i as u8; 77]),
            })
            .collect();
        let samples = datas
            .iter()
            .map(|(track, d)| Sample {
                track: *track,
                dts: 0,
                cts_offset: 0,
                duration: 1,
                keyframe: false,
                data: Bytes::from(d.clone()),
            })
            .collect();
        let mut piece = Segment {
            index,
            samples,
            start: 0,
            duration: 1,
            timescale: 1,
        };
        cbcs.encrypt_piece(&mut piece, true).unwrap();
        let mut scratch = Vec::new();
        let (mut avc, mut whole) = (splitter(Layout::Avc), splitter(Layout::Whole));
        for ((track, plain), s) in datas.iter().zip(&piece.samples) {
            let mut want = plain.clone();
            match track {
                0 => encrypt_sample(&mut avc, &cipher, &iv, &mut want, &mut scratch).unwrap(),
                1 => encrypt_sample(&mut whole, &cipher, &iv, &mut want, &mut scratch).unwrap(),
                _ => {}
            }
            assert_eq!(&s.data[..], &want[..], "piece {index} track {track}");
        }
    }
}

/// A splitter of a stateless `layout`.
fn splitter(layout: Layout) -> Splitter {
    let config = CodecConfig::Aac {
        asc: bytes::Bytes::new(),
    };
    Splitter::with_layout(layout, &config).unwrap()
}
