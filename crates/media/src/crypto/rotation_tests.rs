// SPDX-License-Identifier: MIT OR Apache-2.0
use bytes::Bytes;

use super::*;
use crate::crypto::cbcs::{clearkey_pssh, Cbcs, Layout};
use crate::crypto::Method;
use crate::mux::fmp4::Fmp4Muxer;
use crate::mux::SegmentMuxer;
use crate::playlist::ByteRange;
use crate::sample::{CodecConfig, TrackInfo};

const MASTER: [u8; 16] = [0x3c; 16];

fn enc(rotation: Option<u32>) -> Encryption {
    Encryption {
        method: Method::Cbcs,
        key: MASTER,
        rotation,
        key_uri: None,
    }
}

fn aac() -> TrackInfo {
    TrackInfo {
        id: 1,
        config: CodecConfig::Aac {
            asc: Bytes::from_static(&[0x11, 0x90]),
        },
        timescale: 48_000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        language: None,
        duration: None,
    }
}

fn cbcs(rotation: Option<u32>) -> Cbcs {
    Cbcs::new(enc(rotation), &[aac()]).unwrap()
}

/// Where each key period starts: the media sequence numbers at which `next_period` asks for a
/// new init segment, segments 0..10 in order.
#[test]
fn periods_start_where_the_key_changes() {
    type Case = (Option<u32>, &'static [(u64, u64)]);
    let cases: &[Case] = &[
        (None, &[]),
        (
            Some(1),
            &[
                (1, 1),
                (2, 2),
                (3, 3),
                (4, 4),
                (5, 5),
                (6, 6),
                (7, 7),
                (8, 8),
                (9, 9),
            ],
        ),
        (Some(2), &[(2, 1), (4, 2), (6, 3), (8, 4)]),
        (Some(3), &[(3, 1), (6, 2), (9, 3)]),
        (Some(20), &[]),
    ];
    for (rotation, want) in cases {
        let mut c = cbcs(*rotation);
        let got: Vec<(u64, u64)> = (0..10)
            .filter_map(|msn| c.next_period(msn).map(|(n, _)| (msn, n)))
            .collect();
        assert_eq!(got, *want, "rotation {rotation:?}");
    }
}

#[test]
fn each_period_has_its_own_kid_and_iv() {
    let c = cbcs(Some(2));
    let e = enc(Some(2));
    let periods: Vec<_> = (0..16).map(|n| c.protection_of(n)).collect();
    for (n, p) in periods.iter().enumerate() {
        let n = n as u64;
        // The documented derivation: KID = AES(key n, 0xEE…), IV = AES(key n, 0xFF…).
        assert_eq!(p.kid, e.kid(n), "{n}");
        assert_eq!(p.iv, e.key_iv(n), "{n}");
        assert_eq!(p.layouts, [Layout::Whole]);
        for other in &periods[..n as usize] {
            assert_ne!(p.kid, other.kid, "KID {n} repeats");
            assert_ne!(p.iv, other.iv, "IV {n} repeats");
        }
        assert_ne!(p.kid, e.key(n), "the KID is not the key");
    }
    assert_eq!(c.protection(), periods[0]);
    // Without rotation every period is key 0's.
    let single = cbcs(None);
    assert_eq!(single.protection_of(5), single.protection_of(0));
}

/// The init segment the muxer writes for period n announces that period's KID and IV in `tenc`
/// and `pssh`, and nothing of another period.
#[test]
fn period_init_segments_carry_their_kid() {
    let c = cbcs(Some(2));
    let mut m = Fmp4Muxer::new(vec![aac()]).unwrap();
    let find =
        |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).filter(|w| *w == needle).count();
    for n in 0..4u64 {
        let p = c.protection_of(n);
        m.protect(p.clone()).unwrap();
        let init = m.init_segment().unwrap().unwrap();
        let tenc = init.windows(4).position(|w| w == b"tenc").expect("tenc");
        // tenc v1: fullbox header, reserved, pattern, isProtected, IV size 0, KID, 16, IV.
        assert_eq!(init[tenc + 12..tenc + 28], p.kid, "period {n}: tenc KID");
        assert_eq!(init[tenc + 28], 16);
        assert_eq!(init[tenc + 29..tenc + 45], p.iv, "period {n}: tenc IV");
        assert_eq!(find(&init, &clearkey_pssh(&p.kid)), 1, "period {n}: pssh");
        for other in (0..4).filter(|&o| o != n) {
            assert_eq!(
                find(&init, &c.protection_of(other).kid),
                0,
                "{n}: KID {other}"
            );
        }
    }
}

const PLAYLIST: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n\
    #EXT-X-MAP:URI=\"s_init.mp4\"\n#EXTINF:2.000,\na.m4s\n#EXTINF:2.000,\nb.m4s\n\
    #EXTINF:2.000,\nc.m4s\n#EXTINF:2.000,\nd.m4s\n#EXTINF:1.500,\ne.m4s\n#EXT-X-ENDLIST\n";

/// At each change of key: the period's EXT-X-MAP, then its EXT-X-KEY, before the entry.
#[test]
fn playlists_change_map_and_key_together() {
    let e = enc(Some(2));
    let iv = |n: u64| -> String { e.key_iv(n).iter().map(|b| format!("{b:02x}")).collect() };
    let key = |n: u64| {
        format!(
            "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"key_{n}.bin\",IV=0x{},KEYFORMAT=\"identity\"\n",
            iv(n)
        )
    };
    let maps = vec![
        (
            1,
            Map {
                uri: "s_init_1.mp4".into(),
                byterange: None,
            },
        ),
        (
            2,
            Map {
                uri: "s.mp4".into(),
                byterange: Some(ByteRange {
                    length: 700,
                    offset: 9000,
                }),
            },
        ),
    ];
    let got = tagged(&e, &maps, PLAYLIST, &[0, 0, 1, 1, 2]);
    let want = format!(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"s_init.mp4\"\n{}\
         #EXTINF:2.000,\na.m4s\n#EXTINF:2.000,\nb.m4s\n#EXT-X-MAP:URI=\"s_init_1.mp4\"\n{}\
         #EXTINF:2.000,\nc.m4s\n#EXTINF:2.000,\nd.m4s\n\
         #EXT-X-MAP:URI=\"s.mp4\",BYTERANGE=\"700@9000\"\n{}#EXTINF:1.500,\ne.m4s\n\
         #EXT-X-ENDLIST\n",
        key(0),
        key(1),
        key(2)
    );
    assert_eq!(got, want);
    // Without period maps (no rotation): one key tag after the header's EXT-X-MAP.
    let single = tagged(&enc(None), &[], PLAYLIST, &[0; 5]);
    assert_eq!(single.matches("#EXT-X-KEY").count(), 1);
    assert_eq!(single.matches("#EXT-X-MAP").count(), 1);
    assert!(single.find("#EXT-X-MAP") < single.find("#EXT-X-KEY"));
}

#[test]
fn init_names() {
    let cases = [
        ("stream", 0, "stream_init.mp4"),
        ("stream", 1, "stream_init_1.mp4"),
        ("video_2", 12, "video_2_init_12.mp4"),
    ];
    for (base, n, want) in cases {
        assert_eq!(init_name(base, n), want);
    }
}

/// The writer's side: a period's map is used for that period's changes only, in the media and
/// the I-frame playlist alike.
#[test]
fn cbcs_state_lists_period_maps() {
    let mut c = cbcs(Some(1));
    let map = |n: u64| Map {
        uri: init_name("s", n),
        byterange: None,
    };
    for msn in 0..3u64 {
        if let Some((n, _)) = c.next_period(msn) {
            c.period_map(n, map(n));
        }
        let mut piece = crate::segmenter::Segment {
            index: msn,
            samples: Vec::new(),
            start: 0,
            duration: 2,
            timescale: 1,
        };
        c.encrypt_piece(&mut piece, true).unwrap();
        c.listed(2);
    }
    let media = c.media_playlist(PLAYLIST);
    let maps: Vec<&str> = media
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MAP"))
        .collect();
    assert_eq!(
        maps,
        [
            "#EXT-X-MAP:URI=\"s_init.mp4\"",
            "#EXT-X-MAP:URI=\"s_init_1.mp4\"",
            "#EXT-X-MAP:URI=\"s_init_2.mp4\""
        ]
    );
    assert_eq!(media.matches("#EXT-X-KEY").count(), 3);
    // I-frame entries: two per segment, the maps where segments 1 and 2 start (entries 2, 4).
    let iframes = c.iframe_playlist(PLAYLIST);
    let lines: Vec<&str> = iframes.lines().collect();
    let at = |s: &str| lines.iter().position(|l| *l == s).unwrap();
    assert!(at("#EXT-X-MAP:URI=\"s_init_1.mp4\"") < at("c.m4s"));
    assert!(at("#EXT-X-MAP:URI=\"s_init_1.mp4\"") > at("b.m4s"));
    assert!(at("#EXT-X-MAP:URI=\"s_init_2.mp4\"") > at("d.m4s"));
}
