// SPDX-License-Identifier: MIT OR Apache-2.0
//! Segment judgements on synthetic demux results: a run of segments (start, span, keyframe,
//! discontinuity) and the findings it must produce.

use super::*;
use crate::demux::TrackTimes;
use crate::playlist::parse_media;
use crate::report::Level;
use media::{CodecConfig, TrackInfo};

/// Expected findings: (level, section, location).
type Want = Vec<(Level, &'static str, Location)>;

fn video(container: Container, start: f64, span: f64, keyframe: bool) -> Demuxed {
    let info = TrackInfo {
        id: 1,
        config: CodecConfig::Avc {
            sps: vec![],
            pps: vec![],
            in_band: false,
        },
        timescale: 90_000,
        width: 320,
        height: 240,
        sample_rate: 0,
        channels: 0,
        language: None,
        duration: None,
    };
    let ticks = |s: f64| (s * 90_000.0).round() as i64;
    let times = TrackTimes {
        timescale: 90_000,
        first_dts: ticks(start),
        end_dts: ticks(start + span),
        min_pts: ticks(start),
        end_pts: ticks(start + span),
        samples: (span * 30.0) as u64,
        first_keyframe: keyframe,
        open_gop: false,
        typical_duration: 3000,
    };
    Demuxed {
        container,
        tracks: vec![info],
        times: vec![Some(times)],
    }
}

/// Runs the per-segment judgements over `segs` (start, span, keyframe) of playlist `text`.
fn judge(text: &str, segs: &[(f64, f64, bool)]) -> Vec<(Level, &'static str, Location)> {
    let mut r = Report::default();
    let pl = parse_media("p.m3u8", text, &mut r);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    let f = Fetcher::default();
    let mut c = SegmentChecker::new(&f);
    for (seg, &(start, span, key)) in pl.segments.iter().zip(segs) {
        let d = video(Container::Ts, start, span, key);
        c.check_start(&pl, seg, &d, pl.independent, &mut r);
        c.check_duration(&pl, seg, &d, &mut r);
        c.check_continuity(&pl.uri, seg, &d, &mut r);
    }
    r.findings
        .iter()
        .map(|f| (f.level, f.section, f.location))
        .collect()
}

#[test]
fn segment_cases() {
    use Level::*;
    use Location::*;
    let pl = |extra: &str| {
        format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:2.000,\na.ts\n{extra}#EXTINF:2.000,\nb.ts\n#EXT-X-ENDLIST\n")
    };
    type Segs = Vec<(f64, f64, bool)>;
    let cases: Vec<(&str, String, Segs, Want)> = vec![
        (
            "continuous",
            pl(""),
            vec![(10.0, 2.0, true), (12.0, 2.0, true)],
            vec![],
        ),
        (
            "no keyframe first",
            pl(""),
            vec![(10.0, 2.0, true), (12.0, 2.0, false)],
            vec![(Must, S_INDEPENDENT, Byte(0))],
        ),
        (
            "jumps back",
            pl(""),
            vec![(10.0, 2.0, true), (4.0, 2.0, true)],
            vec![(Should, "Apple 8.1", Line(7)), (Must, S_DISC, Line(8))],
        ),
        (
            "jumps back after DISCONTINUITY",
            pl("#EXT-X-DISCONTINUITY\n"),
            vec![(10.0, 2.0, true), (4.0, 2.0, true)],
            vec![],
        ),
        (
            "jumps forward",
            pl(""),
            vec![(10.0, 2.0, true), (15.0, 2.0, true)],
            vec![(Should, "Apple 8.1", Line(7)), (Must, S_DISC, Line(8))],
        ),
        (
            "one frame late is fine",
            pl(""),
            vec![(10.0, 2.0, true), (12.033, 2.0, true)],
            vec![],
        ),
        (
            "longer than target",
            pl(""),
            vec![(10.0, 2.0, true), (12.0, 2.6, true)],
            vec![(Must, S_TARGET, Line(8)), (Should, S_EXTINF, Line(7))],
        ),
        (
            "shorter than EXTINF",
            pl(""),
            vec![(10.0, 0.5, true), (10.5, 2.0, true)],
            vec![(Should, S_EXTINF, Line(5)), (Should, "Apple 8.1", Line(7))],
        ),
    ];
    for (name, text, segs, want) in cases {
        assert_eq!(judge(&text, &segs), want, "{name}");
    }
}

#[test]
fn ts_timestamps_wrap() {
    let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n";
    let period = (1u64 << 33) as f64 / 90_000.0;
    assert_eq!(
        judge(text, &[(period - 2.0, 2.0, true), (0.0, 2.0, true)]).len(),
        0
    );
}

/// HEVC open GOP (CRA + RASL first) breaks EXT-X-INDEPENDENT-SEGMENTS, and only that.
#[test]
fn open_gop_only_matters_when_independent() {
    for (independent, want) in [(true, 1), (false, 0)] {
        let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n";
        let mut r = Report::default();
        let pl = parse_media("p.m3u8", text, &mut r);
        let mut d = video(Container::Fmp4, 0.0, 2.0, true);
        if let Some(t) = d.times[0].as_mut() {
            t.open_gop = true;
        }
        let f = Fetcher::default();
        SegmentChecker::new(&f).check_start(&pl, &pl.segments[0], &d, independent, &mut r);
        assert_eq!(
            r.findings.len(),
            want,
            "independent {independent}: {:#?}",
            r.findings
        );
        assert!(r
            .findings
            .iter()
            .all(|f| f.section == S_INDEPENDENT && f.level == Level::Must));
    }
}

#[test]
fn segment_mime_types() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://h/a.ts\n";
    let mut r = Report::default();
    let pl = parse_media("http://h/p.m3u8", text, &mut r);
    let seg = &pl.segments[0];
    let cases = [
        (Container::Ts, Some("video/mp2t"), 0),
        (Container::Ts, Some("application/octet-stream"), 1),
        (Container::Fmp4, Some("video/iso.segment"), 0),
        (Container::Fmp4, Some("video/mp4; codecs=x"), 0),
        (Container::Fmp4, Some("video/mp2t"), 1),
        (Container::Fmp4, None, 0),
    ];
    for (container, ct, want) in cases {
        let mut r = Report::default();
        check_mime(seg, container, ct, &mut r);
        assert_eq!(r.findings.len(), want, "{container:?} {ct:?}");
        assert!(r
            .findings
            .iter()
            .all(|f| f.section == "Apple 10.4" && f.level == Level::Should));
    }
}

/// Apple 1.5: HEVC MUST be fMP4; in TS it is a finding, in fMP4 none.
#[test]
fn hevc_only_in_fmp4() {
    let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:2.000,\na.m4s\n";
    let mut r = Report::default();
    let pl = parse_media("p.m3u8", text, &mut r);
    for (container, want) in [(Container::Ts, 1), (Container::Fmp4, 0)] {
        let mut d = video(container, 0.0, 2.0, true);
        d.tracks[0].config = CodecConfig::Hevc {
            vps: vec![],
            sps: vec![],
            pps: vec![],
            in_band: false,
        };
        let mut r = Report::default();
        let f = Fetcher::default();
        let bytes = vec![0x47u8; 188];
        SegmentChecker::new(&f).check_container(&pl, &pl.segments[0], &d, &bytes, &mut r);
        let hevc: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.section == "Apple 1.5")
            .collect();
        assert_eq!(hevc.len(), want, "{container:?}: {:#?}", r.findings);
    }
}

/// RFC 8216bis 4.4.6.2: the peak over runs of 0.5–1.5 target durations; a short last segment
/// does not count alone.
#[test]
fn peak_segment_bit_rate() {
    let m = |sizes: &[(f64, f64)], target: Option<f64>| Measured {
        sizes: sizes.to_vec(),
        target,
        ..Measured::default()
    };
    let cases = [
        (
            "steady",
            m(&[(200.0, 2.0), (200.0, 2.0)], Some(2.0)),
            100.0,
            100.0,
        ),
        (
            "one heavy",
            m(&[(200.0, 2.0), (600.0, 2.0)], Some(2.0)),
            300.0,
            200.0,
        ),
        (
            "tiny last segment",
            m(&[(200.0, 2.0), (200.0, 2.0), (50.0, 0.1)], Some(2.0)),
            250.0 / 2.1,
            450.0 / 4.1,
        ),
        (
            "short segments pair up",
            m(&[(100.0, 0.5), (300.0, 0.5), (100.0, 0.5)], Some(2.0)),
            400.0 / 1.0,
            500.0 / 1.5,
        ),
        (
            "no target: per segment",
            m(&[(200.0, 2.0), (50.0, 0.1)], None),
            500.0,
            250.0 / 2.1,
        ),
        ("empty", m(&[], Some(2.0)), 0.0, 0.0),
    ];
    for (name, m, peak, avg) in cases {
        assert!(
            (m.peak_bps() - peak).abs() < 1e-9,
            "{name}: peak {}",
            m.peak_bps()
        );
        assert!(
            (m.average_bps() - avg).abs() < 1e-9,
            "{name}: average {}",
            m.average_bps()
        );
    }
}
