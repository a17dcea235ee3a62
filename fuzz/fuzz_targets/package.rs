// SPDX-License-Identifier: MIT OR Apache-2.0
//! The whole packaging path on fuzzed input: demux (MP4 or TS, sniffed) → cut → TS and fMP4 → playlists,
//! into memory. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::demux::mp4::{looks_like_mp4, Mp4Demuxer, Mp4Options};
use media::demux::ts::{looks_like_ts, TsFileDemuxer};
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
            ..Default::default()
        };
        let _ = package(demux.as_mut(), &opts, &mut MemStore::default(), &mut |_| {});
    }
});
