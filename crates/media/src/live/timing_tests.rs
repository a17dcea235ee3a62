// SPDX-License-Identifier: MIT OR Apache-2.0
//! Whole-stream tests of what a live playlist says about time and rate: PROGRAM-DATE-TIME
//! steps, TARGETDURATION against the input's keyframe interval, and the BANDWIDTH of the
//! multivariant playlist. Playlists are read back with `m3u8-rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::tests::{config, t0, tracks, Source};
use super::*;

/// Every object put, latest bytes per name.
fn store(outputs: &[Output]) -> BTreeMap<String, Bytes> {
    let mut objects = BTreeMap::new();
    for o in outputs {
        if let Output::Put { name, bytes } = o {
            objects.insert(name.clone(), bytes.clone());
        }
    }
    objects
}

fn media(bytes: &[u8]) -> m3u8_rs::MediaPlaylist {
    match m3u8_rs::parse_playlist_res(bytes) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("not a media playlist: {other:?}"),
    }
}

fn millis(secs: f32) -> i64 {
    (f64::from(secs) * 1000.0).round() as i64
}

/// Within a run, PDT(n+1) - PDT(n) == EXTINF(n) to the millisecond (RFC 8216bis 4.4.4.6),
/// whatever the arrival jitter — the first segment's samples arriving 235 ms late included;
/// after a discontinuity PDT restarts from the wall clock. The I-frame playlist carries the
/// same PDT for each segment (Apple 8.4).
#[test]
fn pdt_steps_equal_extinf_in_media_and_i_frame_playlists() {
    // (name, format, part target)
    let cases: &[(&str, Format, Option<f64>)] = &[
        ("TS", Format::Ts, None),
        ("fMP4", Format::Fmp4, None),
        ("LL-HLS", Format::Fmp4, Some(0.5)),
    ];
    for (name, format, part) in cases {
        let c = LiveConfig {
            window: 20,
            ..config(*format, *part)
        };
        let mut s = LiveStream::new(c, tracks()).expect("stream");
        // The first second arrives 235 ms late (an encoder starting up), then with jitter.
        let jitter = |secs: f64| {
            let late = if secs < 1.0 { 0.235 } else { 0.0 };
            let wobble = ((secs * 7.0).sin() + 1.0) * 0.04;
            t0() + Duration::from_secs_f64(secs + late + wobble)
        };
        let mut out = Source::new(10).feed_with(&mut s, 9.0, jitter);
        out.extend(
            s.discontinuity(t0() + Duration::from_secs(30))
                .expect("break"),
        );
        let later = |secs: f64| t0() + Duration::from_secs_f64(40.0 + secs + 0.1 * secs.sin());
        out.extend(Source::new(500).feed_with(&mut s, 7.0, later));
        out.extend(s.end(t0() + Duration::from_secs(60)));
        let objects = store(&out);
        let m = media(&objects["v.m3u8"]);
        let i = media(&objects["v_iframes.m3u8"]);
        assert!(
            m.segments.len() >= 7,
            "{name}: {} segments",
            m.segments.len()
        );
        assert_eq!(m.segments.iter().filter(|s| s.discontinuity).count(), 1);
        let mut steps = 0;
        for (a, b) in m.segments.iter().zip(m.segments.iter().skip(1)) {
            let (pa, pb) = (
                a.program_date_time.expect("PDT on every segment"),
                b.program_date_time.expect("PDT on every segment"),
            );
            if b.discontinuity {
                assert!(
                    (pb - pa).num_milliseconds() > 10_000,
                    "{name}: new timeline"
                );
                continue;
            }
            assert_eq!(
                (pb - pa).num_milliseconds(),
                millis(a.duration),
                "{name}: PDT step after {} equals its EXTINF",
                a.uri
            );
            steps += 1;
        }
        assert!(steps >= 6, "{name}");
        // The I-frame playlist: one entry per segment, with the segment's PDT.
        assert_eq!(i.segments.len(), m.segments.len(), "{name}");
        for (f, seg) in i.segments.iter().zip(&m.segments) {
            assert_eq!(f.uri, seg.uri, "{name}");
            assert_eq!(
                f.program_date_time, seg.program_date_time,
                "{name}: {}",
                f.uri
            );
        }
    }
}
