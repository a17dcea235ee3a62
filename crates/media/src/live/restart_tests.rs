// SPDX-License-Identifier: MIT OR Apache-2.0
//! Whole-stream tests of restarts (recovery of an old playlist and its I-frame playlist), the
//! I-frame playlist following the window, and the segment summaries events are built from; the
//! synthetic input of [`super::tests`].

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::tests::{config, deletes, playlist, puts, t0, tracks, Source};
use super::*;

#[test]
fn recover_continues_sequences() {
    let mut a = LiveStream::new(config(Format::Fmp4, Some(0.5)), tracks()).expect("stream");
    let mut src = Source::new(0);
    let _ = src.feed(&mut a, 4.7, t0());
    let _ = a
        .discontinuity(t0() + Duration::from_secs(5))
        .expect("disc");
    let _ = Source::new(50).feed(&mut a, 16.5, t0() + Duration::from_secs(5));
    let old = playlist(&a);
    let old_seq: u64 = old
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("seq");
    let old_last = a.state().last_msn.expect("segments");

    let cfg = LiveConfig {
        run_id: "r2".into(),
        ..config(Format::Fmp4, Some(0.5))
    };
    let later = t0() + Duration::from_secs(60);
    let mut b = LiveStream::recover(cfg, tracks(), &old, later).expect("recover");
    assert_eq!(b.state().last_msn, Some(old_last));
    let recovered = playlist(&b);
    assert!(recovered.contains(&format!("#EXT-X-MEDIA-SEQUENCE:{old_seq}\n")));
    assert!(
        !recovered.contains("#EXT-X-PART:"),
        "old parts are not listed"
    );

    let out = Source::new(0).feed(&mut b, 2.5, later);
    let next = old_last + 1;
    assert_eq!(
        puts(&out)[..2],
        ["v_r2_init.mp4".to_owned(), format!("v_r2_{next:06}.0.m4s")]
    );
    let text = playlist(&b);
    assert!(
        text.contains(&format!(
            "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:01:00.000Z\n#EXT-X-MAP:URI=\"v_r2_init.mp4\"\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_r2_{next:06}.0.m4s\",INDEPENDENT=YES\n"
        )),
        "{text}"
    );
    assert!(text.contains("#EXT-X-MAP:URI=\"v_r1_init.mp4\"\n"));
    // Sequences only grow; old parts are deleted 6 s after recovery.
    let out = Source::new(0).feed(&mut b, 20.5, later);
    let gone = deletes(&out);
    assert!(gone
        .iter()
        .any(|n| n.starts_with("v_r1_") && n.contains(".m4s") && n.matches('.').count() == 2));
    let seq: u64 = playlist(&b)
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("seq");
    assert!(seq > old_seq);
    // Once every old segment has left and expired, the old init goes too.
    let out = b.poll(later + Duration::from_secs(600));
    assert!(deletes(&out).contains(&"v_r1_init.mp4"), "{out:?}");
    assert!(!playlist(&b).contains("v_r1_"));
}

/// Apple 6.1 / RFC 8216bis 4.4.3.6: with video, an I-frame playlist in the media playlist's
/// window — one entry per segment (its first keyframe), the same MEDIA-SEQUENCE,
/// DISCONTINUITY-SEQUENCE, EXTINFs and URIs, each range inside its segment and starting where
/// a decoder can (TS: a sync byte and the PAT; fMP4: a `moof`, after EXT-X-MAP) — listed in the
/// master playlist. Without video there is none.
#[test]
fn i_frame_playlist_follows_the_window() {
    for (format, part) in [
        (Format::Ts, None),
        (Format::Fmp4, None),
        (Format::Fmp4, Some(0.5)),
    ] {
        let tag = format!("{format:?} parts {part:?}");
        let mut s = LiveStream::new(config(format, part), tracks()).expect("stream");
        let mut out = Source::new(0).feed(&mut s, 16.5, t0());
        // New codec parameters: a discontinuity and, for fMP4, a new initialization section.
        out.extend(
            s.set_tracks(tracks(), t0() + Duration::from_secs(17))
                .expect("new tracks"),
        );
        out.extend(Source::new(900).feed(&mut s, 8.5, t0() + Duration::from_secs(18)));
        let mut objects: BTreeMap<String, Bytes> = BTreeMap::new();
        for o in out {
            if let Output::Put { name, bytes } = o {
                objects.insert(name, bytes);
            }
        }
        let text = |name: &str| String::from_utf8_lossy(&objects[name]).into_owned();
        let media = match m3u8_rs::parse_playlist_res(text("v.m3u8").as_bytes()) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("{tag}: {other:?}"),
        };
        let iframes_text = text("v_iframes.m3u8");
        let iframes = match m3u8_rs::parse_playlist_res(iframes_text.as_bytes()) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("{tag}: {other:?}"),
        };
        assert!(iframes.i_frames_only, "{tag}: {iframes_text}");
        assert!(!iframes.end_list, "{tag}: live");
        assert!(media.media_sequence > 0, "{tag}: the window slid");
        assert_eq!(iframes.media_sequence, media.media_sequence, "{tag}");
        assert_eq!(
            iframes.discontinuity_sequence, media.discontinuity_sequence,
            "{tag}"
        );
        assert_eq!(iframes.target_duration, media.target_duration, "{tag}");
        assert_eq!(iframes.segments.len(), media.segments.len(), "{tag}");
        for (i, m) in iframes.segments.iter().zip(&media.segments) {
            assert_eq!((&i.uri, i.duration), (&m.uri, m.duration), "{tag}");
            assert_eq!(i.discontinuity, m.discontinuity, "{tag}: {}", i.uri);
            let range = i.byte_range.as_ref().expect("EXT-X-BYTERANGE");
            let offset = range.offset.expect("explicit offset") as usize;
            let end = offset + range.length as usize;
            let seg = &objects[&i.uri];
            assert!(end <= seg.len() && range.length > 8, "{tag}: {}", i.uri);
            match format {
                Format::Ts => {
                    assert_eq!(offset, 0, "{tag}: opens with PAT/PMT");
                    assert_eq!(range.length % 188, 0, "{tag}: whole packets");
                    // The PAT (PID 0) first.
                    assert_eq!(&seg[..3], &[0x47, 0x40, 0x00], "{tag}");
                }
                Format::Fmp4 => {
                    assert_eq!(&seg[offset + 4..offset + 8], b"moof", "{tag}: {}", i.uri);
                }
            }
        }
        assert!(
            iframes_text.contains("#EXT-X-DISCONTINUITY\n"),
            "{tag}: the discontinuity is listed: {iframes_text}"
        );
        // EXT-X-MAP: the first init on top, the new one where it starts (with the discontinuity).
        // (Each entry: [DISCONTINUITY,] PROGRAM-DATE-TIME, [MAP,] EXTINF.)
        let lines: Vec<&str> = iframes_text.lines().collect();
        let map =
            iframes_text.contains("#EXT-X-MAP:URI=\"v_r1_init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:");
        let new_map = lines
            .iter()
            .position(|l| *l == "#EXT-X-MAP:URI=\"v_r1_init1.mp4\"")
            .is_some_and(|j| {
                lines[j - 2] == "#EXT-X-DISCONTINUITY"
                    && lines[j - 1].starts_with("#EXT-X-PROGRAM-DATE-TIME:")
                    && lines[j + 1].starts_with("#EXTINF:")
            });
        assert_eq!(map, format == Format::Fmp4, "{tag}: {iframes_text}");
        assert_eq!(new_map, format == Format::Fmp4, "{tag}: {iframes_text}");
        let master = text("master.m3u8");
        assert!(
            master.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=",)
                && master.contains(
                    ",CODECS=\"avc1.64000d\",RESOLUTION=320x240,URI=\"v_iframes.m3u8\"\n"
                ),
            "{tag}: {master}"
        );
        assert_eq!(
            s.i_frame_variant().map(|v| v.uri.as_str()),
            Some("v_iframes.m3u8")
        );
    }

    // Video, then audio only (a track change), then the end: the I-frame playlist goes on with
    // EXT-X-GAP entries for the audio-only segments, in step with the media playlist, and ends
    // with it; the new master has no I-frame stream.
    let mut s = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut out = Source::new(0).feed(&mut s, 6.5, t0());
    let switch = t0() + Duration::from_secs(7);
    out.extend(
        s.set_tracks(vec![tracks().remove(1)], switch)
            .expect("audio only"),
    );
    for i in 0..300i64 {
        let sample = Sample {
            track: 0,
            dts: 5_000_000 + i * 1024,
            cts_offset: 0,
            duration: 1024,
            keyframe: true,
            data: Bytes::from_static(&[0x21, 0x10, 0x04, 0x00]),
        };
        let at = switch + Duration::from_secs_f64(i as f64 * 1024.0 / 48_000.0);
        out.extend(s.push(sample, at).expect("push"));
    }
    out.extend(s.end(switch + Duration::from_secs(8)));
    let last = |name: &str| {
        out.iter().rev().find_map(|o| match o {
            Output::Put { name: n, bytes } if n == name => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        })
    };
    let iframes_text = last("v_iframes.m3u8").expect("I-frame playlist");
    let media_text = last("v.m3u8").expect("media playlist");
    let parse = |t: &str| match m3u8_rs::parse_playlist_res(t.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{other:?}\n{t}"),
    };
    let (media, iframes) = (parse(&media_text), parse(&iframes_text));
    assert!(iframes.end_list, "ends with the stream: {iframes_text}");
    assert_eq!(iframes.media_sequence, media.media_sequence);
    let uris = |p: &m3u8_rs::MediaPlaylist| -> Vec<String> {
        p.segments.iter().map(|s| s.uri.clone()).collect()
    };
    assert_eq!(uris(&iframes), uris(&media));
    let gaps = iframes_text.matches("#EXT-X-GAP\n").count();
    let ranges = iframes_text.matches("#EXT-X-BYTERANGE:").count();
    assert!(gaps >= 2 && ranges >= 2, "{iframes_text}");
    assert_eq!(gaps + ranges, media.segments.len(), "{iframes_text}");
    let master = last("master.m3u8").expect("master after the change");
    assert!(!master.contains("I-FRAME"), "{master}");
    assert!(s.i_frame_variant().is_none());

    // Audio only: no I-frame playlist, no EXT-X-I-FRAME-STREAM-INF.
    let audio = vec![tracks().remove(1)];
    let mut s = LiveStream::new(config(Format::Ts, None), audio).expect("stream");
    let mut out = Vec::new();
    for i in 0..400i64 {
        let sample = Sample {
            track: 0,
            dts: i * 1024,
            cts_offset: 0,
            duration: 1024,
            keyframe: true,
            data: Bytes::from_static(&[0x21, 0x10, 0x04, 0x00]),
        };
        let at = t0() + Duration::from_secs_f64(i as f64 * 1024.0 / 48_000.0);
        out.extend(s.push(sample, at).expect("push"));
    }
    let names = puts(&out);
    assert!(names.contains(&"master.m3u8") && names.contains(&"v.m3u8"));
    assert!(!names.contains(&"v_iframes.m3u8"), "{names:?}");
    assert!(s.i_frame_variant().is_none());
}

/// After a restart the I-frame playlist goes on in step with the media playlist: given the
/// old I-frame playlist the old segments stay in it; without it, it starts after them,
/// numbered as its segments (RFC 8216bis 6.2.2: sequence numbers never go back).
#[test]
fn recover_continues_the_i_frame_playlist() {
    let last_put = |out: &[Output], name: &str| {
        out.iter().rev().find_map(|o| match o {
            Output::Put { name: n, bytes } if n == name => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        })
    };
    let media_of = |text: &str| match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{other:?}\n{text}"),
    };
    let mut a = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut out = Source::new(0).feed(&mut a, 10.5, t0());
    // A discontinuity in the old run, still listed at the restart.
    out.extend(
        a.discontinuity(t0() + Duration::from_secs(11))
            .expect("disc"),
    );
    out.extend(Source::new(500).feed(&mut a, 6.5, t0() + Duration::from_secs(11)));
    let old = playlist(&a);
    assert!(old.contains("#EXT-X-DISCONTINUITY\n"), "{old}");
    let old_iframes = last_put(&out, "v_iframes.m3u8").expect("an I-frame playlist");
    let old_last = a.state().last_msn.expect("segments");
    for with_old in [true, false] {
        let cfg = LiveConfig {
            run_id: "r2".into(),
            ..config(Format::Ts, None)
        };
        let later = t0() + Duration::from_secs(60);
        let mut b = LiveStream::recover(cfg, tracks(), &old, later).expect("recover");
        if with_old {
            b.recover_i_frames(&old_iframes)
                .expect("old I-frame playlist");
        }
        let out = Source::new(0).feed(&mut b, 2.5, later);
        let media = media_of(&playlist(&b));
        let iframes = media_of(&last_put(&out, "v_iframes.m3u8").expect("put after recovery"));
        let uris = |p: &m3u8_rs::MediaPlaylist| -> Vec<String> {
            p.segments.iter().map(|s| s.uri.clone()).collect()
        };
        let new = format!("v_r2_{:06}.ts", old_last + 1);
        // One entry per listed segment, old ones included: ranges from the old I-frame
        // playlist, or EXT-X-GAP without it.
        assert_eq!(iframes.media_sequence, media.media_sequence);
        assert_eq!(uris(&iframes), uris(&media));
        assert!(uris(&media).len() > 2 && uris(&media).contains(&new));
        for e in &iframes.segments {
            let old_run = e.uri.starts_with("v_r1_");
            assert_eq!(
                e.byte_range.is_some(),
                with_old || !old_run,
                "with the old I-frame playlist: {with_old}; {}",
                e.uri
            );
        }
        assert_eq!(iframes.discontinuity_sequence, media.discontinuity_sequence);
        let first_new = iframes.segments.iter().find(|s| s.uri == new).expect("new");
        assert!(first_new.discontinuity, "the restart is a discontinuity");
    }
}

#[test]
fn segment_summaries_and_listed_parts_match_the_playlist_and_the_objects() {
    // (format, LL-HLS part target, a discontinuity after 3 s)
    let cases = [
        (Format::Ts, None, false),
        (Format::Ts, None, true),
        (Format::Fmp4, Some(0.3), false),
        (Format::Fmp4, Some(0.3), true),
    ];
    for (format, part, disc) in cases {
        let mut s = LiveStream::new(config(format, part), tracks()).expect("stream");
        let mut src = Source::new(0);
        let mut out = src.feed(&mut s, 3.5, t0());
        if disc {
            // A new encoder session (timestamps jump) after a cut.
            out.extend(
                s.discontinuity(t0() + Duration::from_secs(4))
                    .expect("disc"),
            );
            out.extend(Source::new(100).feed(&mut s, 5.5, t0() + Duration::from_secs(4)));
        } else {
            out.extend(src.feed(&mut s, 9.5, t0()));
        }
        let sizes: BTreeMap<&str, usize> = out
            .iter()
            .filter_map(|o| match o {
                Output::Put { name, bytes } => Some((name.as_str(), bytes.len())),
                _ => None,
            })
            .collect();
        let text = playlist(&s);
        let media = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("not a media playlist: {other:?}\n{text}"),
        };
        // EXT-X-PART tags before each segment URI (its parts, RFC 8216bis 4.4.4.9).
        let mut part_tags: BTreeMap<&str, usize> = BTreeMap::new();
        let mut n = 0;
        for l in text.lines() {
            if l.starts_with("#EXT-X-PART:") {
                n += 1;
            } else if !l.starts_with('#') && !l.is_empty() {
                part_tags.insert(l, std::mem::take(&mut n));
            }
        }
        let label = format!("{format:?} part {part:?} disc {disc}");
        assert!(media.segments.len() >= 4, "{label}: {text}");
        for (i, seg) in media.segments.iter().enumerate() {
            let msn = media.media_sequence + i as u64;
            let sum = s
                .segment_summary(msn)
                .expect("a listed segment has a summary");
            assert_eq!(sum.msn, msn);
            assert!(
                (sum.duration - f64::from(seg.duration)).abs() < 1e-3,
                "{label} {msn}"
            );
            assert_eq!(sum.bytes as usize, sizes[seg.uri.as_str()], "{label} {msn}");
            assert_eq!(sum.discontinuity, seg.discontinuity, "{label} {msn}");
            let listed = part_tags[seg.uri.as_str()];
            let parts = s.listed_parts(msn);
            assert_eq!(parts.len(), listed, "{label} {msn}");
            assert_eq!(sum.parts, part.map(|_| parts.len() as u64), "{label} {msn}");
        }
        assert_eq!(
            media.segments.iter().any(|s| s.discontinuity),
            disc,
            "{label}"
        );
        // The segment in progress: no summary; its parts are those listed after the last
        // segment, as many as the state says.
        let state = s.state();
        assert!(s.segment_summary(state.next_msn).is_none());
        assert_eq!(
            s.listed_parts(state.next_msn).len() as u64,
            state.next_parts
        );
        assert_eq!(
            part.is_some(),
            state.next_parts > 0 || state.last_msn_parts > 0
        );
    }
}
