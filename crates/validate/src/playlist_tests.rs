// SPDX-License-Identifier: MIT OR Apache-2.0
//! Table-driven syntax cases: a tiny playlist and the (level, section, line) findings it must
//! produce — nothing more, nothing less.

use super::*;
use crate::report::Level;

/// Expected findings: (level, section, location).
type Want = Vec<(Level, &'static str, Location)>;

const HEAD: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n";

fn findings(text: &str) -> Vec<(Level, &'static str, Location)> {
    let mut r = Report::default();
    parse_media("/x/p.m3u8", text, &mut r);
    r.findings
        .iter()
        .map(|f| (f.level, f.section, f.location))
        .collect()
}

#[test]
fn syntax_cases() {
    use Level::*;
    use Location::*;
    let cases: Vec<(&str, String, Want)> = vec![
        ("clean", format!("{HEAD}#EXTINF:2.000,\na.ts\n#EXT-X-ENDLIST\n"), vec![]),
        ("no EXTM3U", "#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n".into(), vec![(Must, S_EXTM3U, Line(1))]),
        ("no target", "#EXTM3U\n#EXTINF:2,\na.ts\n".into(), vec![(Must, S_TARGET, Whole)]),
        ("EXTINF above target", format!("{HEAD}#EXTINF:2.6,\na.ts\n"), vec![(Must, S_TARGET, Line(4))]),
        ("EXTINF rounds down to target", format!("{HEAD}#EXTINF:2.49,\na.ts\n"), vec![]),
        ("bad EXTINF", format!("{HEAD}#EXTINF:abc,\na.ts\n"), vec![(Must, S_EXTINF, Line(4)), (Must, S_EXTINF, Line(5))]),
        ("URI without EXTINF", format!("{HEAD}a.ts\n"), vec![(Must, S_EXTINF, Line(4))]),
        ("target twice", format!("{HEAD}#EXT-X-TARGETDURATION:2\n"), vec![(Must, S_ONCE, Line(4))]),
        ("float EXTINF at version 2", "#EXTM3U\n#EXT-X-VERSION:2\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.5,\na.ts\n".into(), vec![(Must, S_VERSION, Line(2))]),
        ("MAP at version 5", "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:2,\na.m4s\n".into(), vec![(Must, S_VERSION, Line(2))]),
        ("MAP at version 5 in an I-frame playlist", "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-I-FRAMES-ONLY\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@0\na.m4s\n".into(), vec![]),
        ("BYTERANGE at version 3", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@0\na.ts\n".into(), vec![(Must, S_VERSION, Line(2))]),
        ("BYTERANGE without offset first", format!("{HEAD}#EXTINF:2,\n#EXT-X-BYTERANGE:10\na.ts\n"), vec![(Must, S_BYTERANGE, Line(5))]),
        ("BYTERANGE continuing", format!("{HEAD}#EXTINF:2,\n#EXT-X-BYTERANGE:10@0\na.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:10\na.ts\n"), vec![]),
        ("KEY without URI", format!("{HEAD}#EXT-X-KEY:METHOD=AES-128\n#EXTINF:2,\na.ts\n"), vec![(Must, S_KEY, Line(4))]),
        ("KEY bad IV", format!("{HEAD}#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x12\n#EXTINF:2,\na.ts\n"), vec![(Must, S_KEY, Line(4))]),
        ("KEY NONE with URI", format!("{HEAD}#EXT-X-KEY:METHOD=NONE,URI=\"k\"\n#EXTINF:2,\na.ts\n"), vec![(Must, S_KEY, Line(4))]),
        ("KEY unknown method", format!("{HEAD}#EXT-X-KEY:METHOD=ROT13,URI=\"k\"\n#EXTINF:2,\na.ts\n"), vec![(Must, S_KEY, Line(4))]),
        ("bad date", format!("{HEAD}#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\na.ts\n"), vec![(Must, S_PDT, Line(4))]),
        ("bad attribute list", format!("{HEAD}#EXT-X-MAP:URI=\"i.mp4\n#EXTINF:2,\na.ts\n"), vec![(Must, S_ATTRS, Line(4))]),
        ("PART without DURATION", format!("{HEAD}#EXT-X-PART:URI=\"p.m4s\"\n"), vec![(Must, S_PART, Line(4))]),
        ("bad PLAYLIST-TYPE", format!("{HEAD}#EXT-X-PLAYLIST-TYPE:LIVE\n"), vec![(Must, "RFC 8216bis 4.4.3.5", Line(4))]),
        ("VOD without ENDLIST", format!("{HEAD}#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2,\na.ts\n"), vec![(Should, "Apple 8.6", Whole)]),
        ("master tag in media playlist", format!("{HEAD}#EXT-X-STREAM-INF:BANDWIDTH=1\n"), vec![(Must, "RFC 8216bis 4.1", Line(4))]),
    ];
    for (name, text, want) in cases {
        assert_eq!(findings(&text), want, "{name}:\n{text}");
    }
}

#[test]
fn model() {
    let text = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
        #EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-PART-INF:PART-TARGET=0.5\n\
        #EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-05T19:00:00.000Z\n\
        #EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-PART:DURATION=0.5,URI=\"b.0.m4s\",INDEPENDENT=YES\n\
        #EXTINF:2,\nb.m4s\n#EXT-X-PART:DURATION=0.5,URI=\"c.0.m4s\"\n\
        #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c.1.m4s\"\n#EXT-X-RENDITION-REPORT:URI=\"o.m3u8\",LAST-MSN=11\n";
    let mut r = Report::default();
    let pl = parse_media("http://h/s/p.m3u8", text, &mut r);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(pl.part_target, Some(0.5));
    let segs: Vec<_> = pl
        .segments
        .iter()
        .map(|s| (s.msn, s.dsn, s.uri.as_str(), s.discontinuity, s.parts.len()))
        .collect();
    assert_eq!(
        segs,
        vec![
            (10, 3, "http://h/s/a.m4s", false, 0),
            (11, 4, "http://h/s/b.m4s", true, 1)
        ]
    );
    assert_eq!(pl.segments[0].pdt_ms, Some(1_796_497_200_000));
    assert_eq!(
        pl.segments[1].map.as_ref().map(|m| m.uri.as_str()),
        Some("http://h/s/init.mp4")
    );
    assert_eq!(pl.pending_parts.len(), 1);
    assert_eq!(pl.preload_hints.len(), 1);
    assert_eq!(pl.rendition_reports.len(), 1);
}

#[test]
fn dates() {
    let cases = [
        ("1970-01-01T00:00:00Z", Some(0)),
        ("1970-01-01T00:00:01.5Z", Some(1500)),
        ("1970-01-01T01:00:00+01:00", Some(0)),
        ("1970-01-01T00:00:00-0030", Some(1_800_000)),
        ("2000-03-01T00:00:00.000Z", Some(951_868_800_000)),
        ("2026-12-05T19:00:00.000Z", Some(1_796_497_200_000)),
        ("2026-13-05T19:00:00Z", None),
        ("2026-12-05 19:00:00Z", None),
        ("2026-12-05T19:00:00", None),
        ("9223372036854775807-12-05T19:00:00Z", None),
        ("2026-12-05T19:00:00+9223372036854775807", None),
        ("2026-12-05T19:00:00+01:99", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_date_ms(s), want, "{s}");
    }
}

/// Never panic on input: a rich LL-HLS playlist and a multivariant playlist, mutated (bytes
/// replaced, lines cut and repeated) a few thousand times with a fixed seed, through every
/// check that reads playlist text.
#[test]
fn mutated_playlists_never_panic() {
    let media = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
        #EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=12\n\
        #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x000102030405060708090a0b0c0d0e0f\n\
        #EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"100@0\"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-05T19:00:00.000+01:00\n\
        #EXTINF:2.000,\n#EXT-X-BYTERANGE:1000@100\na.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-GAP\n\
        #EXT-X-PART:DURATION=0.2,URI=\"b.0.m4s\",INDEPENDENT=YES,BYTERANGE=\"10@0\"\n#EXTINF:2,\nb.m4s\n\
        #EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c.0.m4s\"\n\
        #EXT-X-RENDITION-REPORT:URI=\"o.m3u8\",LAST-MSN=11\n#EXT-X-ENDLIST\n";
    let master = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,URI=\"a.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1000,AVERAGE-BANDWIDTH=900,CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30,AUDIO=\"a\"\nv.m3u8\n\
        #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100,URI=\"i.m3u8\"\n";
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    const NOISE: &[u8] = b"#:=,\"@.-0129xYES\n\rEXT-X-";
    const TOKENS: &[&str] = &[
        "18446744073709551615",
        "18446744073709551615@18446744073709551615",
        "-1",
        "1e308",
        "NaN",
        "\n#EXT-X-DISCONTINUITY\n",
        "\n#EXTINF:2,\nz.ts\n",
        "9223372036854775807",
    ];
    for round in 0..8000 {
        let base = if round % 4 == 3 { master } else { media };
        let mut b = base.as_bytes().to_vec();
        for _ in 0..1 + rnd(6) {
            let at = rnd(b.len());
            match rnd(5) {
                0 => b[at] = NOISE[rnd(NOISE.len())],
                4 => {
                    let t = TOKENS[rnd(TOKENS.len())].as_bytes();
                    b.splice(at..at, t.iter().copied());
                }
                1 => b.truncate(at),
                2 => {
                    let end = (at + rnd(40)).min(b.len());
                    let piece = b[at..end].to_vec();
                    b.splice(at..at, piece);
                }
                _ => {
                    b.remove(at.min(b.len().saturating_sub(1)).min(b.len()));
                }
            }
            if b.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&b);
        let mut r = Report::default();
        let _ = m3u8_rs::is_master_playlist(&b);
        let pl = crate::parse_checked("http://h/p.m3u8", &text, &mut r);
        crate::llhls::tag_rules(&pl, &mut r);
        crate::live::snapshot_rules(&pl, None, &mut r);
        let first = parse_media("http://h/p.m3u8", media, &mut Report::default());
        crate::live::reload_rules(&first, &pl, &mut r);
        crate::master::check_master(
            "http://h/m.m3u8",
            &text,
            |_, _, _, _| crate::master::Rendition::default(),
            &mut r,
        );
    }
}

/// Numbers at the end of the u64 range (sequence numbers, byte offsets) saturate: findings,
/// never an overflow.
#[test]
fn numbers_at_the_end_of_the_range() {
    let max = u64::MAX;
    let text = format!(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{max}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{max}\n#EXT-X-SKIP:SKIPPED-SEGMENTS={max}\n\
         #EXT-X-DISCONTINUITY\n#EXTINF:2,\n#EXT-X-BYTERANGE:{max}@{max}\na.ts\n\
         #EXT-X-DISCONTINUITY\n#EXTINF:2,\n#EXT-X-BYTERANGE:{max}\na.ts\n\
         #EXT-X-PART:DURATION=1,URI=\"p\",BYTERANGE=\"{max}@{max}\"\n#EXT-X-PART:DURATION=1,URI=\"p\",BYTERANGE=\"{max}\"\n"
    );
    let mut r = Report::default();
    let pl = parse_media("http://h/p.m3u8", &text, &mut r);
    let msns: Vec<u64> = pl.segments.iter().map(|s| s.msn).collect();
    assert_eq!(msns, vec![max, max]);
    crate::live::snapshot_rules(&pl, Some(max), &mut r);
    crate::live::reload_rules(&pl, &pl, &mut r);
    crate::llhls::tag_rules(&pl, &mut r);
}
