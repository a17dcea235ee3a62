// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live restart on a damaged or foreign playlist: `LiveStream::recover` on fuzzed text (the
//! last media playlist an earlier run left on disk), then `recover_i_frames` on a second fuzzed
//! text (its I-frame playlist), then the stream goes on — a few segments pushed, deletions
//! polled far ahead. The input is split at the first NUL byte into the two texts; the first
//! byte of it picks the format and LL-HLS. Must never panic.
#![no_main]
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::live::{LiveConfig, LiveStream};
use media::package::Format;
use media::{CodecConfig, Sample, TrackInfo};

const AVC_SPS: &[u8] = &[
    0x67, 0x4d, 0x40, 0x0a, 0xec, 0xa2, 0x13, 0x60, 0x22, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00,
    0x03, 0x00, 0x28, 0x1e, 0x24, 0x4b, 0x2c,
];
const AVC_PPS: &[u8] = &[0x68, 0xce, 0x0f, 0xc8];

fn video() -> TrackInfo {
    TrackInfo {
        id: 256,
        config: CodecConfig::Avc {
            sps: vec![Bytes::from_static(AVC_SPS)],
            pps: vec![Bytes::from_static(AVC_PPS)],
            in_band: false,
        },
        timescale: 90_000,
        width: 64,
        height: 64,
        sample_rate: 0,
        channels: 0,
        language: None,
        duration: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (media_text, iframes_text) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let config = LiveConfig {
        format: if mode & 1 == 0 { Format::Ts } else { Format::Fmp4 },
        part_duration: (mode & 3 == 3).then_some(0.5),
        run_id: "f".into(),
        rendition: "v".into(),
        ..Default::default()
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let text = String::from_utf8_lossy(media_text);
    let Ok(mut stream) = LiveStream::recover(config, vec![video()], &text, now) else {
        return;
    };
    let _ = stream.recover_i_frames(&String::from_utf8_lossy(iframes_text));
    let _ = stream.render_playlist(false);
    let _ = stream.render_playlist(true);
    // Three 2 s segments at 30 fps, a keyframe every second.
    for i in 0..190i64 {
        let key = i % 30 == 0;
        let sample = Sample {
            track: 0,
            dts: i * 3000,
            cts_offset: 0,
            duration: 3000,
            keyframe: key,
            data: Bytes::from(vec![0, 0, 0, 2, if key { 0x65 } else { 0x41 }, 0x88]),
        };
        let at = now + Duration::from_millis(i as u64 * 33);
        if stream.push(sample, at).is_err() {
            return;
        }
    }
    let _ = stream.poll(now + Duration::from_secs(3600));
    let _ = stream.end(now + Duration::from_secs(3601));
});
