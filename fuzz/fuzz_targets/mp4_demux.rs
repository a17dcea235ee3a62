// SPDX-License-Identifier: MIT OR Apache-2.0
//! MP4 demuxer on arbitrary bytes: open, then read every sample. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::demux::mp4::{Mp4Demuxer, Mp4Options};
use media::sample::Demuxer;

fuzz_target!(|data: &[u8]| {
    for allow_truncated in [false, true] {
        let cursor = std::io::Cursor::new(data);
        if let Ok(mut d) =
            Mp4Demuxer::open(cursor, data.len() as u64, Mp4Options { allow_truncated })
        {
            let mut n = 0;
            while let Ok(Some(_)) = d.next_sample() {
                n += 1;
                if n > 100_000 {
                    break;
                }
            }
        }
    }
});
