// SPDX-License-Identifier: MIT OR Apache-2.0
//! The whole packaging path on fuzzed input: demux (MP4 or TS, sniffed) → cut → TS and fMP4 → playlists,
//! into memory. Must never panic. For MP4 input, just-in-time packaging is checked against it
//! (differential): the plan succeeds exactly when `package` does, and every object it holds or
//! renders equals `package`'s — planned as planning goes and from NAL heads read ahead in two
//! runs (as the origin reads them on two threads). Encrypted too, by the input's length: clear,
//! cbcs (fMP4) / SAMPLE-AES (TS), AES-128 with its I-frame file, AES-128 with key rotation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::crypto::{Encryption, Method};
use media::demux::mp4::{looks_like_mp4, Mp4Demuxer, Mp4Options, ReadAhead, ReadEachPart};
use media::demux::ts::{looks_like_ts, TsFileDemuxer};
use media::package::jit::{plan, plan_with, Span};
use media::package::{package, Format, PackageOptions};
use media::sample::Demuxer;
use media::store::MemStore;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Ts, Format::Fmp4] {
        let mut demux: Box<dyn Demuxer> = if looks_like_mp4(data) {
            match Mp4Demuxer::open(
                std::io::Cursor::new(data),
                data.len() as u64,
                Mp4Options {
                    allow_truncated: true,
                },
            ) {
                Ok(d) => Box::new(d),
                Err(_) => return,
            }
        } else if looks_like_ts(data) {
            match TsFileDemuxer::open(data) {
                Ok(d) => Box::new(d),
                Err(_) => return,
            }
        } else {
            return;
        };
        // Single-file (byte-range) output for inputs whose last byte is odd.
        let single_file = data.last().is_some_and(|b| b & 1 == 1);
        let opts = PackageOptions {
            format,
            segment_duration: 1.0,
            single_file,
            allow_hevc_ts: true,
            encryption: encryption(data.len(), format),
            ..Default::default()
        };
        let mut store = MemStore::default();
        let packaged = package(demux.as_mut(), &opts, &mut store, &mut |_| {});
        if looks_like_mp4(data) && !single_file {
            jit_equals(data, &opts, packaged.is_ok(), &store);
        }
    }
});

/// The encryption of an input of `len` bytes packaged as `format`.
fn encryption(len: usize, format: Format) -> Option<Encryption> {
    let (method, rotation) = match len % 4 {
        1 if format == Format::Ts => (Method::SampleAes, None),
        1 => (Method::Cbcs, Some(1)),
        2 => (Method::Aes128, None),
        3 => (Method::Aes128, Some(2)),
        _ => return None,
    };
    Some(Encryption {
        method,
        key: [0x42; 16],
        rotation,
        key_uri: None,
    })
}

/// The JIT plan of `data` succeeds exactly when `package` did, and gives the same objects.
fn jit_equals(data: &[u8], opts: &PackageOptions, packaged: bool, store: &MemStore) {
    for read_ahead in [false, true] {
        let options = Mp4Options {
            allow_truncated: true,
        };
        let Ok(demux) = Mp4Demuxer::open(std::io::Cursor::new(data), data.len() as u64, options)
        else {
            return;
        };
        let planned = if read_ahead {
            // The heads in two runs, each read with a reader of its own.
            plan_with(demux, opts, |n| {
                let data: std::sync::Arc<[u8]> = data.into();
                let open = move || std::io::Cursor::new(std::sync::Arc::clone(&data));
                Some(Box::new(ReadEachPart::new(n.div_ceil(2).max(1), open)) as Box<dyn ReadAhead>)
            })
        } else {
            plan(demux, opts)
        };
        assert_eq!(planned.is_ok(), packaged, "plan and package disagree");
        let Ok((index, plan)) = planned else { return };
        let read = |seg: usize| -> Vec<(Span, bytes::Bytes)> {
            plan.spans(&index, seg)
                .into_iter()
                .map(|s| {
                    let bytes = data
                        .get(s.offset as usize..(s.offset + s.len) as usize)
                        .unwrap_or_default();
                    (s, bytes::Bytes::copy_from_slice(bytes))
                })
                .collect()
        };
        for (name, want) in &store.objects {
            let iframes = plan.iframe_file().filter(|(n, _)| n == name);
            let got = match (plan.segment(name), iframes) {
                (Some(seg), _) => plan
                    .render(&index, seg, &read(seg))
                    .expect("render a planned segment"),
                (None, Some((_, len))) => {
                    // AES-128's I-frame file, from each segment's entries.
                    let mut file = Vec::new();
                    for seg in plan.iframe_segments(0..len) {
                        let (at, entries) = plan
                            .render_iframes_read(&index, seg, &read(seg))
                            .expect("render planned I-frame entries");
                        assert_eq!(at, file.len() as u64, "I-frame entries in order");
                        file.extend(entries);
                    }
                    file
                }
                (None, None) => plan.object(name).expect("object in the plan").to_vec(),
            };
            assert!(
                got == *want,
                "{name} differs from package's (read ahead: {read_ahead})"
            );
        }
    }
}
