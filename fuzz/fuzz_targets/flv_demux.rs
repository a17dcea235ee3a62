// SPDX-License-Identifier: MIT OR Apache-2.0
//! FLV demuxer on arbitrary bytes: as a file fed in uneven chunks, and as RTMP message payloads
//! (type, timestamp and body cut from the input). Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use media::demux::flv::FlvDemuxer;

fuzz_target!(|data: &[u8]| {
    // As an FLV byte stream (a valid header prefix is added half of the time so the fuzzer
    // reaches the tags quickly).
    let mut d = FlvDemuxer::with_max_tag(1 << 16);
    let chunk = 1 + data.first().copied().unwrap_or(0) as usize * 3;
    let header = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";
    let stream: Vec<u8> = if data.first().is_some_and(|b| b & 1 == 1) {
        header.iter().chain(data).copied().collect()
    } else {
        data.to_vec()
    };
    for part in stream.chunks(chunk) {
        let mut result = d.push(part);
        // A bad tag body: continue with the bytes after it (bounded: each call eats a tag).
        for _ in 0..64 {
            match result {
                Err(media::demux::flv::FlvError::Tag { .. }) => result = d.push(&[]),
                _ => break,
            }
        }
        drain(&mut d);
    }
    d.finish();
    drain(&mut d);

    // As RTMP messages: [type, ts(4), len(2), body...]*
    let mut d = FlvDemuxer::with_max_tag(1 << 16);
    let mut rest = data;
    while let [t, a, b, c, e, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (body, next) = tail.split_at(len);
        let tag_type = [8, 9, 18, 20][usize::from(t & 3)];
        let _ = d.push_message(tag_type, u32::from_be_bytes([*a, *b, *c, *e]), body);
        drain(&mut d);
        rest = next;
    }
    d.finish();
    drain(&mut d);
});

fn drain(d: &mut FlvDemuxer) {
    let _ = d.tracks().len();
    while let Some(s) = d.pop_sample() {
        assert!(s.track < d.tracks().len(), "sample of an unpublished track");
    }
    while d.pop_event().is_some() {}
}
