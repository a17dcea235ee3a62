// SPDX-License-Identifier: MIT OR Apache-2.0
//! Byte-fixture tests: files written by [`super::build`], demuxed and compared with what was
//! written, plus error paths and hostile inputs.

use std::io::Cursor;

use mp4_atom::ElstEntry;

use super::super::{looks_like_mp4, Mp4Demuxer, Mp4Options};
use super::build::*;
use crate::error::Error;
use crate::sample::{CodecConfig, Demuxer, Sample, TrackInfo};

type Got = (Vec<TrackInfo>, Vec<Sample>);

fn demux(bytes: &[u8], opts: Mp4Options) -> crate::Result<Got> {
    let mut d = Mp4Demuxer::open(Cursor::new(bytes.to_vec()), bytes.len() as u64, opts)?;
    let tracks = d.tracks().to_vec();
    let mut samples = Vec::new();
    while let Some(s) = d.next_sample()? {
        samples.push(s);
    }
    Ok((tracks, samples))
}

fn ok(bytes: &[u8]) -> Got {
    demux(bytes, Mp4Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// (dts, cts, duration, keyframe, data) of each sample of each track.
type Exp = Vec<(i64, i32, u32, bool, Vec<u8>)>;

/// What the demuxer should produce for `t`: decode times from the durations, shifted by
/// `shift`, with `gap` added once per fragment of `per` samples.
fn expected(t: &T, shift: i64, per: usize, gap: u64) -> Exp {
    let mut dts = shift;
    t.samples
        .iter()
        .enumerate()
        .map(|(j, s)| {
            if j > 0 && per > 0 && j % per == 0 {
                dts += gap as i64;
            }
            let e = (
                dts,
                s.cts,
                s.dur,
                s.sync || t.handler == *b"soun",
                s.data.clone(),
            );
            dts += i64::from(s.dur);
            e
        })
        .collect()
}

fn actual(got: &Got, track: usize) -> Exp {
    got.1
        .iter()
        .filter(|s| s.track == track)
        .map(|s| (s.dts, s.cts_offset, s.duration, s.keyframe, s.data.to_vec()))
        .collect()
}

fn assert_decode_order(got: &Got) {
    for w in got.1.windows(2) {
        let (ta, tb) = (&got.0[w[0].track], &got.0[w[1].track]);
        assert!(
            i128::from(w[0].dts) * i128::from(tb.timescale)
                <= i128::from(w[1].dts) * i128::from(ta.timescale),
            "{:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

/// 40 video frames at 25 fps with B-frame style composition offsets, GOP 12; 50 AAC frames.
fn av_tracks() -> Vec<T> {
    let v = (0..40)
        .map(|i| {
            let cts = match i % 3 {
                0 => 7200,
                1 => 10800,
                _ => 0,
            };
            vs(i, 3600, cts, i % 12 == 0)
        })
        .collect();
    let a = (0..50).map(|i| aus(i, 1024)).collect();
    vec![video(1, v), audio(2, a)]
}

#[test]
fn plain_layouts() {
    let tracks = av_tracks();
    for moov_first in [true, false] {
        for (co64, stz2) in [(false, false), (true, false), (false, true)] {
            for chunk in [1, 3, 7] {
                let l = Layout {
                    moov_first,
                    chunk,
                    co64,
                    stz2,
                };
                let got = ok(&plain(&tracks, l));
                assert_eq!(got.0.len(), 2, "{l:?}");
                for (i, t) in tracks.iter().enumerate() {
                    assert_eq!(actual(&got, i), expected(t, 0, 0, 0), "{l:?} track {i}");
                }
                assert_decode_order(&got);
                let v = &got.0[0];
                assert_eq!(
                    (v.id, v.timescale, v.width, v.height),
                    (1, 90_000, 320, 240)
                );
                assert_eq!(v.duration, Some(40 * 3600));
                assert_eq!(v.language.as_deref(), Some("eng"));
                assert_eq!(
                    v.config,
                    CodecConfig::Avc {
                        sps: vec![SPS.to_vec().into()],
                        pps: vec![PPS.to_vec().into()],
                        in_band: false
                    }
                );
                let a = &got.0[1];
                assert_eq!(
                    (a.sample_rate, a.channels, a.timescale),
                    (48_000, 2, 48_000)
                );
                assert_eq!(
                    a.config,
                    CodecConfig::Aac {
                        asc: vec![0x11, 0x90].into()
                    }
                );
            }
        }
    }
}

#[test]
fn fragmented_layouts() {
    let tracks = av_tracks();
    for base in [Base::Moof, Base::Explicit, Base::Implicit] {
        for split_truns in [false, true] {
            for inherit_audio in [false, true] {
                for gap in [0, 900] {
                    let f = Frag {
                        per: 10,
                        base,
                        split_truns,
                        inherit_audio,
                        gap,
                    };
                    let got = ok(&fragmented(&tracks, f));
                    for (i, t) in tracks.iter().enumerate() {
                        assert_eq!(actual(&got, i), expected(t, 0, 10, gap), "{f:?} track {i}");
                    }
                    assert_decode_order(&got);
                    // Fragmented: durations are summed from the samples.
                    assert_eq!(got.0[0].duration, Some(40 * 3600), "{f:?}");
                }
            }
        }
    }
}

#[test]
fn edit_lists_shift_decode_times() {
    let mut tracks = av_tracks();
    // Empty edit of 0.5 s (movie timescale 1000) then media from the first pts (7200).
    tracks[0].elst = vec![
        ElstEntry {
            segment_duration: 500,
            media_time: None,
            media_rate: 1i16.into(),
        },
        ElstEntry {
            segment_duration: 1600,
            media_time: Some(7200),
            media_rate: 1i16.into(),
        },
    ];
    tracks[1].elst = vec![ElstEntry {
        segment_duration: 2000,
        media_time: Some(1024),
        media_rate: 1i16.into(),
    }];
    let shifts = [45_000 - 7200, -1024];
    let check = |got: &Got| {
        for (i, t) in tracks.iter().enumerate() {
            assert_eq!(actual(got, i), expected(t, shifts[i], 10, 0), "track {i}");
        }
        assert_decode_order(got);
        let first_key = got
            .1
            .iter()
            .find(|s| s.track == 0 && s.keyframe)
            .map(Sample::pts);
        assert_eq!(first_key, Some(45_000));
    };
    check(&ok(&plain(&tracks, Layout::default())));
    let f = Frag {
        per: 10,
        base: Base::Moof,
        split_truns: false,
        inherit_audio: false,
        gap: 0,
    };
    check(&ok(&fragmented(&tracks, f)));
}

#[test]
fn nal_lengths_widened_and_auds_dropped() {
    let samples: Vec<S> = (0..4)
        .map(|i| S {
            // AUD, then a slice, with 2-byte lengths.
            data: vec![
                0,
                2,
                0x09,
                0xF0,
                0,
                3,
                if i == 0 { 0x65 } else { 0x41 },
                i,
                0xAB,
            ],
            dur: 3000,
            cts: 0,
            sync: i == 0,
        })
        .collect();
    let mut t = video(1, samples);
    t.entries = vec![avc1_entry(2)];
    let got = ok(&plain(&[t], Layout::default()));
    let data: Vec<Vec<u8>> = got.1.iter().map(|s| s.data.to_vec()).collect();
    assert_eq!(data[0], vec![0, 0, 0, 3, 0x65, 0, 0xAB]);
    assert_eq!(data[3], vec![0, 0, 0, 3, 0x41, 3, 0xAB]);
    let keys: Vec<bool> = got.1.iter().map(|s| s.keyframe).collect();
    assert_eq!(keys, vec![true, false, false, false]);
}

#[test]
fn bad_nal_length_is_a_sample_error() {
    let samples = vec![S {
        data: vec![0, 0, 0, 9, 0x65],
        dur: 1,
        cts: 0,
        sync: true,
    }];
    let bytes = plain(&[video(7, samples)], Layout::default());
    match demux(&bytes, Mp4Options::default()) {
        Err(Error::BadSample {
            track: 7,
            sample: 0,
            msg,
            ..
        }) => assert!(msg.contains("overruns"), "{msg}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn drop_bad_samples_skips_overrunning_nal_lengths() {
    let s = |data: Vec<u8>, sync| S {
        data,
        dur: 10,
        cts: 0,
        sync,
    };
    // (samples, (dts, data) of the samples kept with the flag)
    let good = vec![0, 0, 0, 1, 0x65];
    let bad = vec![0, 0, 0, 9, 0x41];
    type Kept = Vec<(i64, Vec<u8>)>;
    let cases: &[(Vec<S>, Kept)] = &[
        (
            vec![
                s(good.clone(), true),
                s(bad.clone(), false),
                s(good.clone(), false),
            ],
            vec![(0, good.clone()), (20, good.clone())],
        ),
        (vec![s(bad.clone(), true)], vec![]),
        (
            vec![s(good.clone(), true), s(good.clone(), false)],
            vec![(0, good.clone()), (10, good.clone())],
        ),
    ];
    for (samples, want) in cases {
        let bytes = plain(&[video(1, samples.clone())], Layout::default());
        let mut d = Mp4Demuxer::open(
            Cursor::new(bytes.clone()),
            bytes.len() as u64,
            Mp4Options::default(),
        )
        .map(|d| d.with_drop_bad_samples(true))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        while let Some(x) = d.next_sample().unwrap_or_else(|e| panic!("{e}")) {
            got.push((x.dts, x.data.to_vec()));
        }
        assert_eq!(&got, want);
    }
}

#[test]
fn several_sample_descriptions() {
    let mut tracks = av_tracks();
    // Chunks of 3: chunk 2 (samples 3..6) uses description 2.
    tracks[0].chunk_sdi = vec![1, 2, 1];
    tracks[0].entries = vec![avc1_entry(4), avc1_entry(4)];
    let l = Layout {
        chunk: 3,
        ..Default::default()
    };
    let got = ok(&plain(&tracks, l));
    assert_eq!(actual(&got, 0).len(), 40);

    tracks[0].entries = vec![avc1_entry(4), avc1_entry(2)];
    match demux(&plain(&tracks, l), Mp4Options::default()) {
        Err(Error::BadSample {
            track: 1,
            sample: 3,
            dts,
            ..
        }) => assert_eq!(dts, 3 * 3600),
        r => panic!("{r:?}"),
    }
    tracks[0].chunk_sdi = vec![1, 3];
    assert!(matches!(
        demux(&plain(&tracks, l), Mp4Options::default()),
        Err(Error::BadSample { sample: 3, .. })
    ));
}

fn text_track(id: u32) -> T {
    let mut t = audio(id, (0..3).map(|i| aus(i, 1000)).collect());
    t.handler = *b"text";
    t.entries = vec![bx(b"tx3g", &[&[0u8; 30]])];
    t
}

#[test]
fn unsupported_tracks_are_skipped() {
    let mut tracks = av_tracks();
    tracks.insert(0, text_track(9));
    let got = ok(&plain(&tracks, Layout::default()));
    let ids: Vec<u32> = got.0.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![1, 2]);
    assert!(got.1.iter().all(|s| s.track < 2));

    match demux(
        &plain(&[text_track(9)], Layout::default()),
        Mp4Options::default(),
    ) {
        Err(Error::UnsupportedCodec { track: 9, codec }) => assert_eq!(codec, "tx3g"),
        r => panic!("{r:?}"),
    }
    // MPEG-2 video in an `mp4v` entry (esds objectTypeIndication 0x61): not packaged.
    let dcd = [0x04, 13, 0x61, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let esds = [&[0u8, 0, 0, 0, 0x03, 18, 0, 1, 0][..], &dcd].concat();
    let mut mp4v = video(4, vec![vs(0, 1, 0, true)]);
    mp4v.entries = vec![bx(
        b"mp4v",
        &[&visual_fields(16, 16), &bx(b"esds", &[&esds])],
    )];
    match demux(&plain(&[mp4v], Layout::default()), Mp4Options::default()) {
        Err(Error::UnsupportedCodec { track: 4, codec }) => {
            assert_eq!(codec, "mp4v (object type 0x61)");
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(
        demux(&plain(&[], Layout::default()), Mp4Options::default()),
        Err(Error::NoTracks)
    ));
}

#[test]
fn container_level_errors() {
    assert!(matches!(
        demux(&[], Mp4Options::default()),
        Err(Error::Empty)
    ));
    assert!(matches!(
        demux(&ftyp(), Mp4Options::default()),
        Err(Error::NoMoov)
    ));
    let mdat_only = [ftyp(), bx(b"mdat", &[&[1, 2, 3]])].concat();
    assert!(matches!(
        demux(&mdat_only, Mp4Options::default()),
        Err(Error::NoMoov)
    ));
    // A box claiming more bytes than the file has.
    let mut bad = ftyp();
    bad.extend_from_slice(&[0, 0, 0x10, 0, b'f', b'r', b'e', b'e', 0]);
    assert!(matches!(
        demux(&bad, Mp4Options::default()),
        Err(Error::Mp4 { offset: 32, .. })
    ));
    // largesize smaller than its header.
    let mut bad = ftyp();
    bad.extend_from_slice(&[0, 0, 0, 1, b'm', b'o', b'o', b'v', 0, 0, 0, 0, 0, 0, 0, 8]);
    assert!(matches!(
        demux(&bad, Mp4Options::default()),
        Err(Error::Mp4 { offset: 32, .. })
    ));
    // Junk after a complete non-fragmented file is ignored.
    let mut tail = plain(
        &av_tracks(),
        Layout {
            moov_first: true,
            ..Default::default()
        },
    );
    tail.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3, 4, 5]);
    assert_eq!(ok(&tail).1.len(), 90);
    // moof before moov.
    let moof = [ftyp(), bx(b"moof", &[])].concat();
    assert!(matches!(
        demux(&moof, Mp4Options::default()),
        Err(Error::Mp4 { .. })
    ));
}

#[test]
fn truncated_mdat() {
    let tracks = av_tracks();
    let bytes = plain(
        &tracks,
        Layout {
            moov_first: true,
            ..Default::default()
        },
    );
    let cut = bytes.get(..bytes.len() - 100).unwrap_or_default();
    match demux(cut, Mp4Options::default()) {
        Err(Error::SampleOutOfRange {
            offset,
            size,
            file_len,
            ..
        }) => {
            assert_eq!(file_len, cut.len() as u64);
            assert!(offset + u64::from(size) > file_len);
        }
        r => panic!("{r:?}"),
    }
    let got = demux(
        cut,
        Mp4Options {
            allow_truncated: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let full = ok(&bytes);
    assert!(got.1.len() < full.1.len());
    // What is left is a prefix of each track.
    for i in 0..2 {
        let (a, b) = (actual(&got, i), actual(&full, i));
        assert_eq!(a, b.get(..a.len()).unwrap_or_default().to_vec());
    }
}

/// Every prefix and many corruptions of small files: errors, never panics or hangs.
#[test]
fn prefixes_and_corruptions_do_not_panic() {
    let tracks: Vec<T> = av_tracks()
        .into_iter()
        .map(|mut t| {
            t.samples.truncate(8);
            t
        })
        .collect();
    let frag = Frag {
        per: 3,
        base: Base::Implicit,
        split_truns: true,
        inherit_audio: true,
        gap: 0,
    };
    let files = [
        plain(
            &tracks,
            Layout {
                moov_first: true,
                ..Default::default()
            },
        ),
        plain(
            &tracks,
            Layout {
                co64: true,
                stz2: true,
                ..Default::default()
            },
        ),
        fragmented(&tracks, frag),
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for f in &files {
        for opts in [
            Mp4Options::default(),
            Mp4Options {
                allow_truncated: true,
            },
        ] {
            for len in 0..=f.len() {
                let _ = demux(f.get(..len).unwrap_or_default(), opts);
            }
        }
        for _ in 0..3000 {
            let mut g = f.clone();
            for _ in 0..1 + rand() % 4 {
                let at = (rand() as usize) % g.len();
                let v = match rand() % 4 {
                    0 => 0,
                    1 => 0xFF,
                    2 => 1,
                    _ => rand() as u8,
                };
                if let Some(b) = g.get_mut(at) {
                    *b = v;
                }
            }
            let _ = demux(
                &g,
                Mp4Options {
                    allow_truncated: rand() % 2 == 0,
                },
            );
        }
    }
    for n in [1usize, 7, 8, 16, 100, 4096] {
        let junk: Vec<u8> = (0..n).map(|_| rand() as u8).collect();
        assert!(demux(&junk, Mp4Options::default()).is_err());
    }
}

#[test]
fn hostile_sample_counts() {
    // stsz/stts/stsc claim 2^32-1 samples of 1 byte in one chunk: the table stops at the
    // end of the file.
    let mut t = audio(1, (0..64).map(|i| aus(i, 1)).collect());
    t.huge = Some(1);
    let bytes = plain(&[t], Layout::default());
    let r = demux(&bytes, Mp4Options::default());
    assert!(matches!(r, Err(Error::SampleOutOfRange { .. })), "{r:?}");
    let got = demux(
        &bytes,
        Mp4Options {
            allow_truncated: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(got.1.len() <= bytes.len(), "{}", got.1.len());
    // Size 0 in stsz announces a size list, which the box does not hold.
    let mut t = audio(1, vec![aus(0, 1)]);
    t.huge = Some(0);
    let r = demux(&plain(&[t], Layout::default()), Mp4Options::default());
    assert!(matches!(r, Err(Error::Mp4 { .. })), "{r:?}");

    // A trun with 2^32-1 inherited samples in a tiny file.
    let a = audio(2, (0..4).map(|i| aus(i, 1024)).collect());
    let f = Frag {
        per: 4,
        base: Base::Moof,
        split_truns: false,
        inherit_audio: true,
        gap: 0,
    };
    let mut bytes = fragmented(&[a], f);
    let at = find(&bytes, b"trun").unwrap_or(0);
    bytes.splice(at + 8..at + 12, u32::MAX.to_be_bytes());
    for opts in [
        Mp4Options::default(),
        Mp4Options {
            allow_truncated: true,
        },
    ] {
        let r = demux(&bytes, opts);
        assert!(r.is_err(), "{r:?}");
    }
}

fn find(hay: &[u8], needle: &[u8; 4]) -> Option<usize> {
    hay.windows(4).position(|w| w == needle).map(|p| p - 4)
}

#[test]
fn tables_stay_compact() {
    // 10 minutes of 30 fps video and 48 kHz AAC: 18000 + 28125 samples.
    let v: Vec<S> = (0..18_000)
        .map(|i| S {
            data: vec![0, 0, 0, 1, 0x41],
            dur: 3000,
            cts: if i % 2 == 0 { 3000 } else { 0 },
            sync: i % 60 == 0,
        })
        .collect();
    let a: Vec<S> = (0..28_125)
        .map(|_| S {
            data: vec![0x21],
            dur: 1024,
            cts: 0,
            sync: true,
        })
        .collect();
    let bytes = plain(&[video(1, v), audio(2, a)], Layout::default());
    let d = Mp4Demuxer::open(
        Cursor::new(&bytes),
        bytes.len() as u64,
        Mp4Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let heap: usize = d.tracks.iter().map(|t| t.table.heap_bytes()).sum();
    let samples = 18_000 + 28_125;
    assert!(heap <= samples * 24, "{heap} bytes for {samples} samples");
}

#[test]
fn sniffing() {
    let cases: &[(&[u8], bool)] = &[
        (b"\0\0\0\x20ftypisom", true),
        (b"\0\0\0\x08free", true),
        (b"\0\0\0\x01mdat", true),
        (b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x04", false),
        (b"\0\0\0\0moov", true),
        (b"\0\0\0\x18styp", true),
        (b"\0\0\0\x18moof", true),
        (b"\0\0\0\x08wide", true),
        (b"\0\0\0\x04ftyp", false),
        (b"\0\0\0\x20abcd", false),
        (b"\x47\x40\x00\x10\0\0\0\0", false),
        (b"\0\0\0\x20fty", false),
        (b"", false),
    ];
    for (head, want) in cases {
        assert_eq!(looks_like_mp4(head), *want, "{head:?}");
    }
}

#[test]
fn avc3_marks_in_band_parameter_sets() {
    let mut t = video(1, (0..3).map(|i| vs(i, 3000, 0, i == 0)).collect());
    let mut entry = avc1_entry(4);
    entry.splice(4..8, *b"avc3");
    t.entries = vec![entry];
    let got = ok(&plain(&[t], Layout::default()));
    assert!(matches!(
        got.0[0].config,
        CodecConfig::Avc { in_band: true, .. }
    ));
    assert_eq!(got.1.len(), 3);
}
