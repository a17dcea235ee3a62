// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live rules on tiny synthetic snapshots: one playlist, or a reload pair, and the findings.

use super::*;
use crate::playlist::parse_media;
use crate::report::Level;

type Want = Vec<(Level, &'static str)>;

/// A live playlist: TARGETDURATION `target`, MEDIA-SEQUENCE `msn`, DISCONTINUITY-SEQUENCE
/// `dsn`, then `segs` as (name, EXTINF, PDT seconds after 19:00:00, discontinuity before).
fn live(target: u64, msn: u64, dsn: u64, segs: &[(&str, f64, Option<f64>, bool)]) -> MediaPlaylist {
    let mut t = format!("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{msn}\n#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}\n");
    for (name, d, pdt, disc) in segs {
        if *disc {
            t.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(p) = pdt {
            let ms = (p * 1000.0).round() as i64;
            t.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:2026-12-05T19:00:{:02}.{:03}Z\n",
                ms / 1000,
                ms % 1000
            ));
        }
        t.push_str(&format!("#EXTINF:{d:.3},\n{name}\n"));
    }
    let mut r = Report::default();
    let pl = parse_media("live.m3u8", &t, &mut r);
    assert!(r.findings.is_empty(), "{t}\n{:#?}", r.findings);
    pl
}

fn got(r: &Report) -> Want {
    r.findings.iter().map(|f| (f.level, f.section)).collect()
}

#[test]
fn snapshot_cases() {
    use Level::*;
    let s = |n, d, p| (n, d, p, false);
    let cases: Vec<(&str, MediaPlaylist, Want)> = vec![
        (
            "clean",
            live(
                2,
                5,
                0,
                &[
                    s("a", 2.0, Some(0.0)),
                    s("b", 2.0, Some(2.0)),
                    s("c", 2.0, Some(4.0)),
                ],
            ),
            vec![],
        ),
        (
            "no date",
            live(
                2,
                5,
                0,
                &[s("a", 2.0, None), s("b", 2.0, None), s("c", 2.0, None)],
            ),
            vec![(Must, "Apple 8.4")],
        ),
        (
            "date step short",
            live(
                2,
                5,
                0,
                &[
                    s("a", 2.0, Some(0.0)),
                    s("b", 2.0, Some(1.765)),
                    s("c", 2.0, Some(3.765)),
                ],
            ),
            vec![(Should, S_PDT)],
        ),
        (
            "date jump at a discontinuity",
            live(
                2,
                5,
                0,
                &[
                    s("a", 2.0, Some(0.0)),
                    ("b", 2.0, Some(30.0), true),
                    s("c", 2.0, Some(32.0)),
                ],
            ),
            vec![],
        ),
        (
            "window too short",
            live(2, 5, 0, &[s("a", 2.0, Some(0.0)), s("b", 2.0, Some(2.0))]),
            vec![(Must, S_LIVE)],
        ),
        (
            "short window before anything left",
            live(2, 0, 0, &[s("a", 2.0, Some(0.0))]),
            vec![],
        ),
    ];
    for (name, pl, want) in cases {
        let mut r = Report::default();
        snapshot_rules(&pl, None, &mut r);
        assert_eq!(got(&r), want, "{name}");
    }
    // A date step already judged in an earlier snapshot is not judged again.
    let short = live(
        2,
        5,
        0,
        &[
            s("a", 2.0, Some(0.0)),
            s("b", 2.0, Some(1.765)),
            s("c", 2.0, Some(3.765)),
        ],
    );
    let mut r = Report::default();
    snapshot_rules(&short, Some(6), &mut r);
    assert_eq!(got(&r), vec![]);
}

#[test]
fn reload_cases() {
    use Level::*;
    let s = |n, p| (n, 2.0, Some(p), false);
    let before = live(
        2,
        10,
        3,
        &[("a", 2.0, Some(0.0), true), s("b", 2.0), s("c", 4.0)],
    );
    let cases: Vec<(&str, MediaPlaylist, Want)> = vec![
        (
            "slides by one, discontinuity leaves",
            live(2, 11, 4, &[s("b", 2.0), s("c", 4.0), s("d", 6.0)]),
            vec![],
        ),
        ("nothing new yet", before.clone(), vec![]),
        (
            "target changed",
            live(3, 11, 4, &[s("b", 2.0), s("c", 4.0), s("d", 6.0)]),
            vec![(Must, S_UPDATE)],
        ),
        (
            "sequence back",
            live(2, 9, 3, &[s("z", 0.0), s("a", 2.0)]),
            vec![(Must, S_LIVE)],
        ),
        (
            "discontinuity sequence kept",
            live(2, 11, 3, &[s("b", 2.0), s("c", 4.0), s("d", 6.0)]),
            vec![(Must, S_LIVE)],
        ),
        (
            "segment renamed",
            live(2, 11, 4, &[s("b", 2.0), s("x", 4.0), s("d", 6.0)]),
            vec![(Must, S_LIVE)],
        ),
        (
            "date moved",
            live(2, 11, 4, &[s("b", 2.5), s("c", 4.5), s("d", 6.5)]),
            vec![(Must, S_LIVE), (Must, S_LIVE)],
        ),
    ];
    for (name, cur, want) in cases {
        let mut r = Report::default();
        reload_rules(&before, &cur, &mut r);
        assert_eq!(got(&r), want, "{name}: {:#?}", r.findings);
    }
}

/// Replays snapshots, records what `follow` hands over.
struct Replay {
    snaps: std::vec::IntoIter<MediaPlaylist>,
    last: MediaPlaylist,
    fed: Vec<u64>,
    gone: Vec<u64>,
}

impl Follower for Replay {
    fn reload(&mut self, _: &mut Report) -> Option<MediaPlaylist> {
        Some(self.snaps.next().unwrap_or_else(|| self.last.clone()))
    }
    fn added(&mut self, _: &MediaPlaylist, new: &[Segment], _: &mut Report) {
        self.fed.extend(new.iter().map(|s| s.msn));
    }
    fn removed(&mut self, gone: &[Segment], _: &mut Report) {
        self.gone.extend(gone.iter().map(|s| s.msn));
    }
}

#[test]
fn follow_feeds_new_segments_once() {
    let s = |n, p| (n, 1.0, Some(p), false);
    let snaps = vec![
        live(1, 0, 0, &[s("a", 0.0), s("b", 1.0), s("c", 2.0)]),
        live(
            1,
            0,
            0,
            &[s("a", 0.0), s("b", 1.0), s("c", 2.0), s("d", 3.0)],
        ),
        live(
            1,
            1,
            0,
            &[s("b", 1.0), s("c", 2.0), s("d", 3.0), s("e", 4.0)],
        ),
    ];
    let mut replay = Replay {
        snaps: snaps
            .clone()
            .into_iter()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter(),
        last: snaps[2].clone(),
        fed: Vec::new(),
        gone: Vec::new(),
    };
    let mut r = Report::default();
    follow(snaps[0].clone(), 2, &mut replay, &mut r);
    assert_eq!(replay.fed, vec![0, 1, 2, 3, 4]);
    assert_eq!(replay.gone, vec![0]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}
