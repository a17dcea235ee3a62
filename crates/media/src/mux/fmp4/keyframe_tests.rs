// SPDX-License-Identifier: MIT OR Apache-2.0
//! Keyframe fragments for I-frame playlists (RFC 8216bis §4.4.3.6): with
//! `set_keyframe_fragments`, every keyframe of the video track opens a `moof` + `mdat`, and the
//! reported range is that `moof`, the `mdat` header and the keyframe's bytes.

use super::tests::{aac_track, av_samples, avc_track, boxes, segment};
use super::*;
use mp4_atom::{Decode, Moof};

/// `frames` frames of A/V from frame `first` with video keyframes where `key(frame)`.
fn keyed(first: i64, frames: i64, key: impl Fn(i64) -> bool) -> Vec<Sample> {
    let mut samples = av_samples(first, frames);
    for (frame, s) in (first..).zip(samples.iter_mut().filter(|s| s.track == 0)) {
        s.keyframe = key(frame);
    }
    samples
}

fn keyframes_of(samples: &[Sample]) -> Vec<&Sample> {
    samples
        .iter()
        .filter(|s| s.track == 0 && s.keyframe)
        .collect()
}

/// Checks `data` (one segment) against the reported ranges: one fragment per keyframe, each
/// range = moof + mdat header + the keyframe, at the moof's offset.
fn check(data: &[u8], samples: &[Sample], keys: &[KeyframeRange], first_seq: u32) {
    let want = keyframes_of(samples);
    assert_eq!(keys.len(), want.len(), "one range per keyframe");
    let b = boxes(data);
    assert_eq!(&b[0].0, b"styp");
    let moofs: Vec<_> = b.iter().filter(|(k, ..)| k == b"moof").collect();
    assert_eq!(moofs.len(), want.len(), "one fragment per keyframe");
    for (i, ((k, s), (_, moof_start, moof_size))) in keys.iter().zip(&want).zip(moofs).enumerate() {
        assert_eq!(k.dts, s.dts, "range {i}");
        assert_eq!(
            k.offset as usize, *moof_start,
            "range {i} starts at its moof"
        );
        let range = &data[*moof_start..*moof_start + k.length as usize];
        assert_eq!(&range[4..8], b"moof");
        assert_eq!(&range[*moof_size + 4..*moof_size + 8], b"mdat");
        assert!(range.ends_with(&s.data), "range {i} ends with the keyframe");
        let mut moof_bytes = &range[..*moof_size];
        let moof = Moof::decode(&mut moof_bytes).expect("moof decodes");
        assert_eq!(moof.mfhd.sequence_number, first_seq + i as u32);
        let video = &moof.traf[0];
        let entries: Vec<_> = video.trun[0].samples.iter().collect();
        assert_eq!(entries[0].flags, Some(SYNC_SAMPLE_FLAGS), "range {i}");
        // The keyframe is the video traf's first sample: data_offset + its size = the range.
        let offset = video.trun[0].data_offset.unwrap() as u64;
        assert_eq!(offset + s.data.len() as u64, k.length, "range {i}");
    }
}

#[test]
fn a_fragment_per_keyframe() {
    // Table: keyframe pattern over 24 frames (segment 0 = frames 0–11, segment 1 = 12–23).
    type Case = (&'static str, fn(i64) -> bool);
    let cases: &[Case] = &[
        ("GOP of 4", |f| f % 4 == 0),
        ("irregular", |f| [0, 1, 5, 12, 13, 22].contains(&f)),
        ("one per segment", |f| f % 12 == 0),
        ("all intra", |_| true),
    ];
    for (name, key) in cases {
        let mut whole = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
        let mut parts = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
        whole.set_keyframe_fragments(true);
        parts.set_keyframe_fragments(true);
        for (index, first) in [(0u64, 0i64), (1, 12)] {
            let samples = keyed(first, 12, key);
            let seg = segment(index, samples.clone());
            let seq = whole.next_sequence_number();
            let mut out = vec![0xEE; 5];
            whole.write_segment(&seg, &mut out).unwrap();
            check(&out[5..], &samples, whole.keyframes(), seq);

            let mut head = vec![1, 2];
            let pieces = parts.write_segment_parts(&seg, &mut head).unwrap();
            let got: Vec<u8> = pieces
                .iter()
                .flat_map(|p| p.bytes(&head).to_vec())
                .collect();
            assert_eq!(got, out[5..], "{name}: parts = write_segment");
            assert_eq!(parts.keyframes(), whole.keyframes(), "{name}");
            assert_eq!(parts.next_sequence_number(), whole.next_sequence_number());
        }
    }
}

#[test]
fn off_by_default_one_fragment_and_its_keyframe() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let samples = keyed(0, 12, |f| f % 4 == 0);
    let mut out = vec![];
    mux.write_segment(&segment(0, samples.clone()), &mut out)
        .unwrap();
    let moofs = boxes(&out).iter().filter(|(k, ..)| k == b"moof").count();
    assert_eq!(moofs, 1);
    assert_eq!(
        mux.keyframes().len(),
        1,
        "only the fragment-opening keyframe"
    );
    assert_eq!(mux.keyframes()[0].dts, samples[0].dts);

    let mut audio = Fmp4Muxer::new(vec![aac_track()]).unwrap();
    audio.set_keyframe_fragments(true);
    let a: Vec<Sample> = samples
        .iter()
        .filter(|s| s.track == 1)
        .map(|s| Sample {
            track: 0,
            ..s.clone()
        })
        .collect();
    audio
        .write_segment(&segment(0, a), &mut Vec::new())
        .unwrap();
    assert!(audio.keyframes().is_empty(), "no video, no keyframes");
}

#[test]
fn an_error_in_a_later_fragment_undoes_the_whole_segment() {
    let mut mux = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    let mut twin = Fmp4Muxer::new(vec![avc_track(), aac_track()]).unwrap();
    mux.set_keyframe_fragments(true);
    twin.set_keyframe_fragments(true);
    let good = segment(0, keyed(0, 12, |f| f % 4 == 0));
    mux.write_segment(&good, &mut Vec::new()).unwrap();
    twin.write_segment(&good, &mut Vec::new()).unwrap();

    // Decode time going backwards inside the third fragment (frames 20–23).
    let mut bad = keyed(12, 12, |f| f % 4 == 0);
    let last_video = bad.iter().rposition(|s| s.track == 0).unwrap();
    bad[last_video].dts = 0;
    let bad = segment(1, bad);
    let mut out = vec![7];
    assert!(mux.write_segment(&bad, &mut out).is_err());
    assert_eq!(out, [7]);
    let mut head = vec![8];
    assert!(mux.write_segment_parts(&bad, &mut head).is_err());
    assert_eq!(head, [8]);
    assert!(mux.keyframes().is_empty());

    // The state is as before: the next segment comes out as from the twin.
    let next = segment(1, keyed(12, 12, |f| f % 4 == 0));
    let (mut a, mut b) = (vec![], vec![]);
    mux.write_segment(&next, &mut a).unwrap();
    twin.write_segment(&next, &mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(mux.keyframes(), twin.keyframes());
}
