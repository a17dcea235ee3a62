// SPDX-License-Identifier: MIT OR Apache-2.0
use super::*;
use crate::codec::av1_header::tests::{
    inter_frame, key_frame, obu, seq_header, tile_group_bytes, SEQ,
};
use crate::codec::av1_header::{OBU_FRAME, OBU_FRAME_HEADER, OBU_TILE_GROUP};

/// A name, samples in decode order and the subsamples of each.
type Case = (&'static str, Vec<Vec<u8>>, Vec<Vec<Subsample>>);

fn sub(clear: u16, protected: u32) -> Subsample {
    Subsample { clear, protected }
}

/// av1C with the hand-built sequence header as its configOBUs.
fn av1c() -> Vec<u8> {
    [vec![0x81, 0x08, 0x0c, 0x00], obu(1, &seq_header(SEQ))].concat()
}

fn frame_obu(header: &[u8], tiles: &[usize]) -> Vec<u8> {
    obu(
        OBU_FRAME,
        &[header, &tile_group_bytes(None, tiles)].concat(),
    )
}

#[test]
fn one_subsample_per_tile() {
    let key = key_frame(SEQ, 100);
    let inter = inter_frame(SEQ, 1, 0x01);
    let metadata = obu(5, &[1, 2, 3, 4]);
    let seq = obu(1, &seq_header(SEQ));
    let big = 70_000;
    // An OBU_FRAME of 4 tiles: [header, frame header, tile group header, size 0] tile 0
    // [size 1] tile 1 [size 2] tile 2, tile 3 (the last tile has no size field).
    let key_frame_obu = frame_obu(&key, &[100, 200, 5, 300]);
    let inter_frame_obu = frame_obu(&inter, &[40, 50, 60, 70]);
    let lead = |o: &[u8], tiles: usize| o.len() - tiles - 2 * 2;
    let cases: Vec<Case> = vec![
        (
            "sequence header + key frame, then an inter frame with metadata",
            vec![
                [seq.clone(), key_frame_obu.clone()].concat(),
                [metadata.clone(), inter_frame_obu.clone()].concat(),
            ],
            vec![
                vec![
                    sub((seq.len() + lead(&key_frame_obu, 605)) as u16, 100),
                    sub(2, 200),
                    sub(2, 5),
                    sub(0, 300),
                ],
                vec![
                    sub((metadata.len() + lead(&inter_frame_obu, 220)) as u16, 40),
                    sub(2, 50),
                    sub(2, 60),
                    sub(0, 70),
                ],
            ],
        ),
        (
            "frame header OBU then two tile group OBUs, a trailing padding OBU clear",
            vec![[
                obu(OBU_FRAME_HEADER, &key),
                obu(OBU_TILE_GROUP, &tile_group_bytes(Some((0, 1)), &[30, 40])),
                obu(OBU_TILE_GROUP, &tile_group_bytes(Some((2, 3)), &[50, 60])),
                obu(15, &[0; 9]),
            ]
            .concat()],
            vec![vec![
                sub((2 + key.len() + 2 + 1 + 2) as u16, 30),
                sub(0, 40),
                sub(2 + 1 + 2, 50),
                sub(0, 60),
                sub(11, 0),
            ]],
        ),
        (
            "a tile after more than 65535 clear bytes",
            vec![[obu(5, &vec![0; big]), frame_obu(&key, &[16, 16, 16, 16])].concat()],
            vec![{
                let clear = big + 4 + 2 + key.len() + 3;
                vec![
                    sub(u16::MAX, 0),
                    sub((clear - 65535) as u16, 16),
                    sub(2, 16),
                    sub(2, 16),
                    sub(0, 16),
                ]
            }],
        ),
    ];
    for (name, samples, want) in cases {
        let mut s = Av1Splitter::new(&av1c()).unwrap();
        for (i, (data, want)) in samples.iter().zip(&want).enumerate() {
            let mut got = Vec::new();
            s.subsamples(data, &mut got).unwrap();
            assert_eq!(&got, want, "{name}: sample {i}");
            crate::crypto::cbcs::assert_cover(&got, data.len(), &format!("{name}: sample {i}"));
        }
    }
}

#[test]
fn samples_it_cannot_follow_are_errors() {
    let key = key_frame(SEQ, 100);
    let frame = frame_obu(&key, &[10, 10, 10, 10]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "an inter frame before any key frame",
            frame_obu(&inter_frame(SEQ, 1, 1), &[10, 10, 10, 10]),
            "reference slot",
        ),
        (
            "a tile group without its frame header",
            obu(OBU_TILE_GROUP, &tile_group_bytes(None, &[10, 10, 10, 10])),
            "without a frame header",
        ),
        (
            "a frame whose last tile group is missing",
            [
                obu(OBU_FRAME_HEADER, &key),
                obu(OBU_TILE_GROUP, &tile_group_bytes(Some((0, 1)), &[30, 40])),
            ]
            .concat(),
            "ends after tile 2",
        ),
        (
            "obu_size past the end",
            frame[..frame.len() - 1].to_vec(),
            "byte 0",
        ),
        ("forbidden bit", vec![0x80, 0], "obu_forbidden_bit"),
        ("tile list", obu(8, &[0; 4]), "OBU_TILE_LIST"),
    ];
    for (name, data, want) in cases {
        let mut s = Av1Splitter::new(&av1c()).unwrap();
        let err = s.subsamples(&data, &mut Vec::new()).unwrap_err();
        assert!(err.contains(want), "{name}: {err}");
    }
    // Without a sequence header in av1C or in the sample.
    let mut s = Av1Splitter::new(&[0x81, 0, 0x0c, 0]).unwrap();
    let err = s.subsamples(&frame, &mut Vec::new()).unwrap_err();
    assert!(err.contains("before any sequence header"), "{err}");
    assert!(Av1Splitter::new(&[0x81, 0, 0x0c, 0, 0x0A, 0x05, 1]).is_err());
}

#[test]
fn truncated_and_garbage_samples_do_not_panic() {
    let sample = [
        obu(1, &seq_header(SEQ)),
        frame_obu(&key_frame(SEQ, 100), &[9; 4]),
    ]
    .concat();
    for n in 0..sample.len() {
        let mut s = Av1Splitter::new(&av1c()).unwrap();
        let _ = s.subsamples(&sample[..n], &mut Vec::new());
    }
    let mut x: u32 = 0x9E37_79B9;
    let mut s = Av1Splitter::new(&av1c()).unwrap();
    s.subsamples(&sample, &mut Vec::new()).unwrap();
    for len in 0..300 {
        let mut data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        // Mostly well-formed OBU headers, so the parsers behind them are reached.
        if let Some(b) = data.first_mut() {
            *b = (*b & 0x7A) | 0x02;
        }
        let mut out = Vec::new();
        if s.clone().subsamples(&data, &mut out).is_ok() {
            let total: usize = out
                .iter()
                .map(|s| usize::from(s.clear) + s.protected as usize)
                .sum();
            assert_eq!(total, data.len());
        }
    }
}
