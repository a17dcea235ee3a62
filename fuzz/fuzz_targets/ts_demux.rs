// SPDX-License-Identifier: MIT OR Apache-2.0
//! MPEG-TS demuxer on arbitrary bytes, fed in uneven chunks as a network would. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::demux::ts::TsDemuxer;

fuzz_target!(|data: &[u8]| {
    let mut d = TsDemuxer::new();
    let chunk = 1 + data.first().copied().unwrap_or(0) as usize * 3;
    for part in data.chunks(chunk) {
        if d.push(part).is_err() {
            return;
        }
        drain(&mut d);
    }
    let _ = d.finish();
    drain(&mut d);
});

fn drain(d: &mut TsDemuxer) {
    let _ = d.tracks().len();
    while d.pop_sample().is_some() {}
    while d.pop_event().is_some() {}
}
