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

/// The three live outputs every test here covers: (name, format, part target).
const FORMATS: &[(&str, Format, Option<f64>)] = &[
    ("TS", Format::Ts, None),
    ("fMP4", Format::Fmp4, None),
    ("LL-HLS", Format::Fmp4, Some(0.5)),
];

fn millis(secs: f32) -> i64 {
    (f64::from(secs) * 1000.0).round() as i64
}

/// Within a run, PDT(n+1) - PDT(n) == EXTINF(n) to the millisecond (RFC 8216bis 4.4.4.6),
/// whatever the arrival jitter — the first segment's samples arriving 235 ms late included;
/// after a discontinuity PDT restarts from the wall clock. The I-frame playlist carries the
/// same PDT for each segment (Apple 8.4).
#[test]
fn pdt_steps_equal_extinf_in_media_and_i_frame_playlists() {
    for (name, format, part) in FORMATS {
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

/// The media playlist of a one-rendition stream (not the master or I-frame playlist).
fn is_media_playlist(name: &str) -> bool {
    name.ends_with(".m3u8") && !name.ends_with("_iframes.m3u8") && name != "master.m3u8"
}

/// Every media playlist the stream put, in order, read by m3u8-rs.
fn published(outputs: &[Output]) -> Vec<(String, m3u8_rs::MediaPlaylist)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Put { name, bytes } if is_media_playlist(name) => {
                Some((String::from_utf8_lossy(bytes).into_owned(), media(bytes)))
            }
            _ => None,
        })
        .collect()
}

/// RFC 8216bis 4.4.3.1 on every playlist put: each EXTINF rounded ≤ TARGETDURATION, and
/// the target never changes (6.2.1). Returns that target.
fn check_targets(name: &str, outputs: &[Output]) -> u64 {
    let all = published(outputs);
    let first = all
        .first()
        .unwrap_or_else(|| panic!("{name}: nothing published"));
    let target = first.1.target_duration;
    for (text, p) in &all {
        assert_eq!(p.target_duration, target, "{name}: target changed:\n{text}");
        for s in &p.segments {
            assert!(
                (s.duration.round() as u64) <= target,
                "{name}: EXTINF {} above TARGETDURATION {target}:\n{text}",
                s.duration
            );
        }
    }
    target
}

/// TARGETDURATION covers the segments produced: a keyframe interval longer than the
/// segment duration raises it before the first playlist (RFC 8216bis 4.4.3.1, 6.2.1), and the
/// LL-HLS values derived from it follow (CAN-SKIP-UNTIL = 6 × target).
#[test]
fn target_duration_covers_the_keyframe_interval() {
    // (name, format, part target, --segment-duration, GOP frames at 30 fps, target, EXTINF)
    type Case<'a> = (&'a str, Format, Option<f64>, f64, i64, u64, f32);
    let cases: &[Case] = &[
        (
            "LL-HLS -g 60, 1 s",
            Format::Fmp4,
            Some(0.5),
            1.0,
            60,
            2,
            2.0,
        ),
        ("TS -g 60, 1 s", Format::Ts, None, 1.0, 60, 2, 2.0),
        ("fMP4 -g 90, 2 s", Format::Fmp4, None, 2.0, 90, 3, 3.0),
        ("fMP4 -g 45, 1 s", Format::Fmp4, None, 1.0, 45, 2, 1.5),
        (
            "LL-HLS -g 30, 2 s: unchanged",
            Format::Fmp4,
            Some(0.5),
            2.0,
            30,
            2,
            2.0,
        ),
        (
            "TS -g 15, 1 s: unchanged",
            Format::Ts,
            None,
            1.0,
            15,
            1,
            1.0,
        ),
    ];
    for (name, format, part, seg, gop, want_target, want_extinf) in cases {
        let c = LiveConfig {
            segment_duration: *seg,
            window: 20,
            ..config(*format, *part)
        };
        let mut s = LiveStream::new(c, tracks()).expect("stream");
        let mut src = Source::new(10);
        src.gop = *gop;
        let mut out = src.feed(&mut s, 15.0, t0());
        let target = check_targets(name, &out);
        assert_eq!(target, *want_target, "{name}");
        assert_eq!(s.target_duration(), target, "{name}");
        let last = published(&out).pop().expect("a playlist").1;
        assert!(last.segments.len() >= 4, "{name}");
        for seg in &last.segments {
            assert!(
                (seg.duration - want_extinf).abs() < 1e-3,
                "{name}: {}",
                seg.duration
            );
        }
        if part.is_some() {
            let text = String::from_utf8_lossy(&s.state().full).into_owned();
            let skip = format!("CAN-SKIP-UNTIL={:.1}", 6.0 * target as f64);
            assert!(text.contains(&skip), "{name}: {skip}\n{text}");
        }
        out.extend(s.end(t0() + Duration::from_secs(16)));
        check_targets(name, &out);
        assert_eq!(s.overrun_segments(), 0, "{name}");
    }
}

/// A stream that ends (or breaks) before its second keyframe fixes the target on what it
/// held: the one segment it has fits.
#[test]
fn target_duration_of_a_stream_shorter_than_its_keyframe_interval() {
    let c = LiveConfig {
        segment_duration: 1.0,
        ..config(Format::Ts, None)
    };
    let mut s = LiveStream::new(c, tracks()).expect("stream");
    let mut src = Source::new(10);
    src.gop = 300;
    let mut out = src.feed(&mut s, 3.4, t0());
    assert!(
        published(&out).is_empty(),
        "held until the interval is known"
    );
    out.extend(s.end(t0() + Duration::from_secs(4)));
    // 3.4 s rounds to 3; with the margin for encoder jitter (see `probe`) the target is 4.
    assert_eq!(check_targets("short", &out), 4);
    let last = published(&out).pop().expect("a playlist").1;
    assert_eq!(last.segments.len(), 1);
    assert!(last.end_list);
}

/// A later GOP longer than the target (the encoder changed its keyframe interval, or a
/// restart kept an old playlist's target): its segment ends before it rounds above the
/// target, the input up to the next keyframe is dropped and the next segment starts a new
/// timeline (EXT-X-DISCONTINUITY) — never an EXTINF above the target.
#[test]
fn later_longer_gop_ends_segments_at_the_target() {
    for (name, format, part) in FORMATS {
        let c = LiveConfig {
            segment_duration: 1.0,
            window: 30,
            ..config(*format, *part)
        };
        let mut s = LiveStream::new(c, tracks()).expect("stream");
        let mut src = Source::new(10);
        let mut out = src.feed(&mut s, 6.0, t0());
        // From second 6 on a keyframe every 3 s.
        src.gop = 90;
        out.extend(src.feed(&mut s, 18.0, t0()));
        out.extend(s.end(t0() + Duration::from_secs(20)));
        assert_eq!(check_targets(name, &out), 1, "{name}");
        let last = published(&out).pop().expect("a playlist").1;
        // Six 1 s segments, then per 3 s GOP one segment of 44 frames (1.467 s, ±1 ms on the
        // millisecond grid) after a discontinuity (the first long GOP follows the 1 s ones
        // without one).
        let durations: Vec<i64> = last.segments.iter().map(|s| millis(s.duration)).collect();
        assert_eq!(durations.len(), 10, "{name}: {durations:?}");
        assert_eq!(durations[..6], [1000; 6], "{name}: {durations:?}");
        assert!(
            durations[6..].iter().all(|d| (d - 1467).abs() <= 1),
            "{name}: {durations:?}"
        );
        let discontinuities: Vec<bool> = last.segments.iter().map(|s| s.discontinuity).collect();
        assert_eq!(discontinuities[..7], [false; 7], "{name}");
        assert_eq!(discontinuities[7..], [true; 3], "{name}");
        assert_eq!(s.overrun_segments(), 4, "{name}");
        // The I-frame playlist has a keyframe for every segment (each starts with one).
        let iframes = media(&store(&out)["v_iframes.m3u8"]);
        assert_eq!(iframes.segments.len(), last.segments.len(), "{name}");
        assert!(
            iframes.segments.iter().all(|e| e.byte_range.is_some()),
            "{name}"
        );
    }
}

/// A restart continues the old playlist with its TARGETDURATION (RFC 8216bis 6.2.1), even
/// when the input's keyframe interval would ask for more: the long-GOP rule keeps every
/// EXTINF within it.
#[test]
fn recovered_playlist_keeps_its_target() {
    let old = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n\
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T23:59:00.000Z\n#EXTINF:1.000,\nv_r0_000007.ts\n";
    let c = LiveConfig {
        segment_duration: 1.0,
        run_id: "r1".into(),
        ..config(Format::Ts, None)
    };
    let mut s = LiveStream::recover(c, tracks(), old, t0()).expect("recover");
    let mut src = Source::new(10);
    src.gop = 60;
    let mut out = src.feed(&mut s, 9.0, t0());
    out.extend(s.end(t0() + Duration::from_secs(10)));
    assert_eq!(check_targets("recovered", &out), 1);
    assert!(s.overrun_segments() >= 3);
    let last = published(&out).pop().expect("a playlist").1;
    assert_eq!(
        last.segments.first().map(|s| s.uri.as_str()),
        Some("v_r0_000007.ts")
    );
}

fn master(bytes: &[u8]) -> m3u8_rs::MasterPlaylist {
    match m3u8_rs::parse_playlist_res(bytes) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a multivariant playlist: {other:?}"),
    }
}

/// (peak, average) bit rate of rendition `prefix`'s segments as put, measured here from their
/// sizes and the EXTINFs of the playlists: the peak over segments of at least `min_secs`.
fn measured(outputs: &[Output], playlist: &str, min_secs: f32) -> (f64, f64) {
    let mut durations = BTreeMap::new();
    for o in outputs {
        if let Output::Put { name, bytes } = o {
            if name == playlist {
                for s in media(bytes).segments {
                    durations.insert(s.uri, s.duration);
                }
            }
        }
    }
    let objects = store(outputs);
    let (mut peak, mut bits, mut secs) = (0.0f64, 0.0, 0.0);
    for (uri, d) in &durations {
        let size = objects[uri].len() as f64;
        bits += size * 8.0;
        secs += f64::from(*d);
        if *d >= min_secs {
            peak = peak.max(size * 8.0 / f64::from(*d));
        }
    }
    (peak, bits / secs)
}

/// Checks a variant's BANDWIDTH and AVERAGE-BANDWIDTH against measured (peak, average):
/// never below the peak, within Apple's 10 % (Apple 1.26, 9.13–9.15).
fn check_rates(name: &str, v: &m3u8_rs::VariantStream, (peak, average): (f64, f64)) {
    let bandwidth = v.bandwidth as f64;
    let avg = v.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
    assert!(
        bandwidth >= peak && bandwidth <= peak * 1.10,
        "{name}: BANDWIDTH {bandwidth} for a measured peak of {peak:.0}"
    );
    assert!(
        (avg - average).abs() <= average * 0.10,
        "{name}: AVERAGE-BANDWIDTH {avg} for a measured average of {average:.0}"
    );
}

/// The bit rate triples after 10 s: master.m3u8 is rewritten so that BANDWIDTH stays at or
/// above the measured peak and within 10 % of it, AVERAGE-BANDWIDTH within 10 % of the
/// average (Apple 1.26, 9.13–9.15); the I-frame stream's numbers follow its entries.
#[test]
fn bandwidth_follows_the_measured_rates() {
    for (name, format, part) in FORMATS {
        let c = LiveConfig {
            window: 30,
            ..config(*format, *part)
        };
        let mut s = LiveStream::new(c, tracks()).expect("stream");
        let mut src = Source::new(10);
        src.pad = 300;
        let mut out = src.feed(&mut s, 10.0, t0());
        src.pad = 1200;
        out.extend(src.feed(&mut s, 40.0, t0()));
        let masters = out
            .iter()
            .filter(|o| matches!(o, Output::Put { name, .. } if name == "master.m3u8"))
            .count();
        assert!(masters >= 2, "{name}: master.m3u8 rewritten ({masters})");
        let m = master(&store(&out)["master.m3u8"]);
        let variant = m.variants.iter().find(|v| !v.is_i_frame).expect("variant");
        check_rates(name, variant, measured(&out, "v.m3u8", 1.0));
        // The I-frame entries: keyframe bytes over segment durations.
        let i = media(&store(&out)["v_iframes.m3u8"]);
        let (mut peak, mut bits, mut secs) = (0.0f64, 0.0, 0.0);
        for e in &i.segments {
            let len = e.byte_range.as_ref().expect("range").length as f64;
            peak = peak.max(len * 8.0 / f64::from(e.duration));
            bits += len * 8.0;
            secs += f64::from(e.duration);
        }
        let iv = m
            .variants
            .iter()
            .find(|v| v.is_i_frame)
            .expect("I-frame variant");
        check_rates(name, iv, (peak, bits / secs));
    }
}

/// Several renditions: each one's variant in the shared multivariant playlist follows its
/// own measured rates; the group rewrites the playlist when one changes.
#[test]
fn group_bandwidth_follows_each_rendition() {
    let make = |name: &str| {
        let c = LiveConfig {
            window: 30,
            rendition: name.into(),
            write_master: false,
            aligned_cuts: true,
            ..config(Format::Fmp4, Some(0.5))
        };
        LiveStream::new(c, tracks()).expect("stream")
    };
    let mut streams = [make("hi"), make("lo")];
    let mut sources = [Source::new(10), Source::new(10)];
    sources[0].pad = 2000;
    sources[1].pad = 200;
    let mut group = RenditionGroup::new(2, Duration::from_secs(5));
    let mut outs = [vec![], vec![]];
    let mut masters = vec![];
    for second in 1..=30u32 {
        if second == 10 {
            // The low rendition's rate rises fourfold; the high one's halves.
            sources[0].pad = 1000;
            sources[1].pad = 800;
        }
        for (k, (stream, src)) in streams.iter_mut().zip(sources.iter_mut()).enumerate() {
            outs[k].extend(src.feed(stream, f64::from(second), t0()));
            group.record_stream(k, stream, t0() + Duration::from_secs(second.into()));
        }
        masters.extend(group.master(t0() + Duration::from_secs(second.into())));
    }
    assert!(
        masters.len() >= 3,
        "rewritten as rates change: {}",
        masters.len()
    );
    let m = master(masters.last().expect("a master").as_bytes());
    for (k, name) in ["hi", "lo"].iter().enumerate() {
        let uri = format!("{name}.m3u8");
        let v = m.variants.iter().find(|v| v.uri == uri).expect("listed");
        check_rates(name, v, measured(&outs[k], &uri, 1.0));
    }
}

/// The renditions of a presentation settle on one TARGETDURATION (RFC 8216bis 6.2.4, Apple
/// 8.2): "lo", whose keyframe interval is 2 s (a lost keyframe, another encoder setting), takes
/// the 1 s that "hi" settled on instead of its own 2 s — its segments then end at the target
/// (EXTINF ≤ 1.5) — and without the shared target the two would differ.
#[test]
fn renditions_share_one_target() {
    let make = |name: &str| {
        let c = LiveConfig {
            segment_duration: 1.0,
            rendition: name.into(),
            write_master: false,
            ..config(Format::Fmp4, Some(0.5))
        };
        LiveStream::new(c, tracks()).expect("stream")
    };
    // (share the group's target, lo's target)
    for (share, want_lo) in [(true, 1), (false, 2)] {
        let mut group = RenditionGroup::new(2, Duration::from_secs(5));
        let mut hi = make("hi");
        let _ = Source::new(10).feed(&mut hi, 3.0, t0());
        group.record_stream(0, &hi, t0());
        assert_eq!(group.target(), Some(1));
        let mut lo = make("lo");
        if share {
            lo.share_target(group.target());
        }
        let mut src = Source::new(10);
        src.gop = 60;
        let out = src.feed(&mut lo, 12.0, t0());
        assert_eq!(check_targets("lo", &out), want_lo, "shared: {share}");
        assert_eq!(lo.overrun_segments() > 0, share, "shared: {share}");
        group.record_stream(1, &lo, t0());
        assert_eq!(group.target(), Some(1), "the first one settled stays");
    }
}
