// SPDX-License-Identifier: MIT OR Apache-2.0
//! Low-Latency HLS: the tags m3u8-rs 6 does not know — EXT-X-PART-INF, EXT-X-PART,
//! EXT-X-SERVER-CONTROL, EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT (RFC 8216bis 4.4.3.7–8,
//! 4.4.4.9, 4.4.5.3–4) — and the server's behaviour: blocking playlist reload (6.2.5.2: held
//! until the asked segment or part exists, 400 beyond last + 2 or for `_HLS_part` alone),
//! delta updates (6.2.5.1) and preload hints fetchable (6.2.6).

use media::TrackKind;

use crate::demux::demux;
use crate::fetch::Fetcher;
use crate::lines::{self, Attr};
use crate::media::fetch_ok;
use crate::playlist::{parse_media, MediaPlaylist, Segment};
use crate::report::{Location, Report};

const S_PART_INF: &str = "RFC 8216bis 4.4.3.7";
const S_SERVER_CONTROL: &str = "RFC 8216bis 4.4.3.8";
const S_PART: &str = "RFC 8216bis 4.4.4.9";
const S_HINT: &str = "RFC 8216bis 4.4.5.3";
const S_REPORT: &str = "RFC 8216bis 4.4.5.4";
const S_BLOCKING: &str = "RFC 8216bis 6.2.5.2";
const S_DELTA: &str = "RFC 8216bis 6.2.5.1";

fn attr_f64(a: &[Attr], name: &str) -> Option<f64> {
    lines::get(a, name).and_then(|v| v.parse::<f64>().ok())
}

/// Tag rules of one snapshot.
pub fn tag_rules(pl: &MediaPlaylist, report: &mut Report) {
    let uri = pl.uri.as_str();
    let parts = pl
        .segments
        .iter()
        .flat_map(|s| &s.parts)
        .chain(&pl.pending_parts);
    let target = pl.target.map(|t| t as f64);
    match pl.part_target {
        None => {
            if let Some(p) = parts.clone().next() {
                report.must(
                    S_PART_INF,
                    uri,
                    Location::Line(p.line),
                    "EXT-X-PART without EXT-X-PART-INF",
                );
            }
        }
        Some(pt) => {
            for p in parts {
                // RFC 8216bis 4.4.3.7: PART-TARGET is the maximum part duration.
                if p.duration > pt + 0.0005 {
                    report.must(
                        S_PART_INF,
                        uri,
                        Location::Line(p.line),
                        format!(
                            "part {}: DURATION {:.3} exceeds PART-TARGET {pt:.3}",
                            p.uri.rsplit('/').next().unwrap_or(&p.uri),
                            p.duration
                        ),
                    );
                }
            }
        }
    }
    for s in &pl.segments {
        if let Some(first) = s.parts.first().filter(|p| !p.independent) {
            report.should(S_PART, uri, Location::Line(first.line), "the first part of a segment (which starts with a keyframe) should say INDEPENDENT=YES");
        }
    }
    server_control_rules(pl, target, report);
    let mut types: Vec<&str> = Vec::new();
    for (line, a) in &pl.preload_hints {
        let at = Location::Line(*line);
        match lines::get(a, "TYPE") {
            Some(t @ ("PART" | "MAP")) if types.contains(&t) => report.must(
                S_HINT,
                uri,
                at,
                format!("a second EXT-X-PRELOAD-HINT of TYPE={t}"),
            ),
            Some(t @ ("PART" | "MAP")) => types.push(t),
            t => report.must(
                S_HINT,
                uri,
                at,
                format!("TYPE must be PART or MAP, found {t:?}"),
            ),
        }
        if lines::get(a, "URI").is_none() {
            report.must(S_HINT, uri, at, "EXT-X-PRELOAD-HINT needs a URI");
        }
    }
    for (line, a) in &pl.rendition_reports {
        if lines::get(a, "URI").is_none() || lines::get(a, "LAST-MSN").is_none() {
            report.should(
                S_REPORT,
                uri,
                Location::Line(*line),
                "EXT-X-RENDITION-REPORT without URI or LAST-MSN",
            );
        }
    }
}

/// EXT-X-SERVER-CONTROL (RFC 8216bis 4.4.3.8): HOLD-BACK ≥ 3 × target duration,
/// PART-HOLD-BACK present with parts and ≥ 2 × PART-TARGET (Apple 14: SHOULD 3 ×),
/// CAN-SKIP-UNTIL ≥ 6 × target duration.
fn server_control_rules(pl: &MediaPlaylist, target: Option<f64>, report: &mut Report) {
    let uri = pl.uri.as_str();
    let Some((line, a)) = &pl.server_control else {
        if pl.part_target.is_some() {
            report.must(
                S_SERVER_CONTROL,
                uri,
                Location::Whole,
                "EXT-X-PART-INF without EXT-X-SERVER-CONTROL PART-HOLD-BACK",
            );
        }
        return;
    };
    let at = Location::Line(*line);
    if let (Some(hb), Some(t)) = (attr_f64(a, "HOLD-BACK"), target) {
        if hb < 3.0 * t {
            report.must(
                S_SERVER_CONTROL,
                uri,
                at,
                format!("HOLD-BACK {hb} is under 3 × TARGETDURATION {t}"),
            );
        }
    }
    match (attr_f64(a, "PART-HOLD-BACK"), pl.part_target) {
        (None, Some(_)) => report.must(
            S_SERVER_CONTROL,
            uri,
            at,
            "PART-HOLD-BACK is required with EXT-X-PART-INF",
        ),
        (Some(phb), Some(pt)) if phb < 2.0 * pt - 0.0005 => {
            report.must(
                S_SERVER_CONTROL,
                uri,
                at,
                format!("PART-HOLD-BACK {phb} is under 2 × PART-TARGET {pt}"),
            );
        }
        (Some(phb), Some(pt)) if phb < 3.0 * pt - 0.0005 => {
            report.should(
                "Apple 14",
                uri,
                at,
                format!("PART-HOLD-BACK {phb} is under 3 × PART-TARGET {pt}"),
            );
        }
        _ => {}
    }
    if let (Some(skip), Some(t)) = (attr_f64(a, "CAN-SKIP-UNTIL"), target) {
        if skip < 6.0 * t {
            report.must(
                S_SERVER_CONTROL,
                uri,
                at,
                format!("CAN-SKIP-UNTIL {skip} is under 6 × TARGETDURATION {t}"),
            );
        }
    }
}

/// The parts of one segment (RFC 8216bis 4.4.4.9): each fetchable and decodable behind the
/// segment's EXT-X-MAP, INDEPENDENT=YES only on a part that starts with a keyframe, and
/// lasting its DURATION.
pub fn check_parts(f: &Fetcher, seg: &Segment, report: &mut Report) {
    if seg.parts.is_empty() || seg.key.is_some() {
        return;
    }
    let init = match &seg.map {
        Some(m) => match fetch_ok(f, &m.uri, m.range.map(|r| (r.offset, r.len)), report) {
            Some(g) => Some(g.body),
            None => return,
        },
        None => None,
    };
    for p in seg.parts.iter().filter(|p| !p.gap) {
        let Some(got) = fetch_ok(f, &p.uri, p.range.map(|r| (r.offset, r.len)), report) else {
            continue;
        };
        report.segments += 1;
        let d = match demux(&got.body, init.as_deref(), false) {
            Ok(d) => d,
            Err(e) => {
                report.must(
                    S_PART,
                    &p.uri,
                    Location::Byte(e.offset),
                    format!("part cannot be decoded: {}", e.msg),
                );
                continue;
            }
        };
        let video = d
            .tracks
            .iter()
            .zip(&d.times)
            .find(|(i, t)| i.kind() == TrackKind::Video && t.is_some());
        if let Some((_, Some(t))) = video {
            if p.independent && !t.first_keyframe {
                report.must(
                    S_PART,
                    &p.uri,
                    Location::Byte(0),
                    "INDEPENDENT=YES but the part does not start with a keyframe",
                );
            }
        }
        if let Some((_, t)) = d.main() {
            let frame = t.secs(i64::from(t.typical_duration));
            if (t.span() - p.duration).abs() > (2.0 * frame).max(0.05) {
                report.should(
                    S_PART,
                    &p.uri,
                    Location::Byte(0),
                    format!(
                        "part DURATION {:.3} s but its media lasts {:.3} s",
                        p.duration,
                        t.span()
                    ),
                );
            }
        }
    }
}

fn with_query(uri: &str, q: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{q}")
}

/// Whether the server advertises blocking reload.
pub fn can_block(pl: &MediaPlaylist) -> bool {
    pl.server_control
        .as_ref()
        .is_some_and(|(_, a)| lines::get(a, "CAN-BLOCK-RELOAD") == Some("YES"))
}

/// The server's LL-HLS behaviour, asked over HTTP of a live playlist that advertises
/// CAN-BLOCK-RELOAD=YES (RFC 8216bis 6.2.5).
pub fn server_rules(f: &Fetcher, pl: &MediaPlaylist, report: &mut Report) {
    let Some(last) = pl.last_msn() else { return };
    let uri = pl.uri.as_str();
    blocking_next(f, pl, last, report);
    // 400 for an MSN beyond last + 2 (once more if the playlist moved on meanwhile).
    let beyond = |r: &mut Report| -> Option<u16> {
        let fresh = fetch_playlist(f, uri, r)?.last_msn().unwrap_or(last);
        f.get(
            &with_query(uri, &format!("_HLS_msn={}", fresh.saturating_add(3))),
            None,
        )
        .ok()
        .map(|g| g.status)
    };
    let mut tmp = Report::default();
    let status = beyond(&mut tmp)
        .filter(|&s| s != 400)
        .and_then(|_| beyond(&mut tmp));
    if let Some(s) = status.filter(|&s| s != 400) {
        report.must(
            S_BLOCKING,
            uri,
            Location::Whole,
            format!("_HLS_msn beyond the last segment + 2 answered {s}, not 400"),
        );
    }
    match f.get(&with_query(uri, "_HLS_part=0"), None) {
        Ok(g) if g.status != 400 => report.must(
            S_BLOCKING,
            uri,
            Location::Whole,
            format!("_HLS_part without _HLS_msn answered {}, not 400", g.status),
        ),
        _ => {}
    }
    preload_hint(f, pl, report);
    delta_update(f, pl, report);
}

fn fetch_playlist(f: &Fetcher, uri: &str, report: &mut Report) -> Option<MediaPlaylist> {
    let got = f.get(uri, None).ok().filter(|g| g.status == 200)?;
    let text = String::from_utf8(got.body).ok()?;
    Some(parse_media(uri, &text, report))
}

/// Asks for the next part (or the next segment) and checks the answer holds it.
fn blocking_next(f: &Fetcher, pl: &MediaPlaylist, last: u64, report: &mut Report) {
    let uri = pl.uri.as_str();
    let (q, what) = if pl.part_target.is_some() {
        let n = pl.pending_parts.len();
        (
            format!("_HLS_msn={}&_HLS_part={n}", last.saturating_add(1)),
            format!("part {n} of segment {}", last.saturating_add(1)),
        )
    } else {
        (
            format!("_HLS_msn={}", last.saturating_add(1)),
            format!("segment {}", last.saturating_add(1)),
        )
    };
    let asked = with_query(uri, &q);
    let got = match f.get(&asked, None) {
        Ok(g) => g,
        Err(e) => {
            report.must(
                S_BLOCKING,
                &asked,
                Location::Whole,
                format!("blocking reload failed: {e}"),
            );
            return;
        }
    };
    if got.status != 200 {
        report.must(
            S_BLOCKING,
            &asked,
            Location::Whole,
            format!("blocking reload for {what} answered {}", got.status),
        );
        return;
    }
    let mut ignore = Report::default();
    let text = String::from_utf8_lossy(&got.body);
    let cur = parse_media(uri, &text, &mut ignore);
    let has_segment = cur.last_msn().is_some_and(|m| m > last);
    let n = pl.pending_parts.len();
    let has_part = has_segment || (cur.last_msn() == Some(last) && cur.pending_parts.len() > n);
    let ok = if pl.part_target.is_some() {
        has_part
    } else {
        has_segment
    };
    if !ok {
        report.must(
            S_BLOCKING,
            &asked,
            Location::Whole,
            format!(
                "answered after {:.0} ms without {what}: the request must be held until it exists",
                got.elapsed.as_secs_f64() * 1000.0
            ),
        );
    }
    if cur.skipped > 0 {
        report.must(
            S_BLOCKING,
            &asked,
            Location::Whole,
            "a delta update (EXT-X-SKIP) answered a request without _HLS_skip",
        );
    }
}

/// RFC 8216bis 6.2.6: the hinted resource is fetchable (the server holds it until it exists).
fn preload_hint(f: &Fetcher, pl: &MediaPlaylist, report: &mut Report) {
    for (line, a) in &pl.preload_hints {
        let Some(u) = lines::get(a, "URI") else {
            continue;
        };
        let abs = crate::fetch::resolve(&pl.uri, u);
        let start = lines::get(a, "BYTERANGE-START").and_then(|v| v.parse::<u64>().ok());
        let len = lines::get(a, "BYTERANGE-LENGTH").and_then(|v| v.parse::<u64>().ok());
        let range = start.map(|s| (s, len.unwrap_or(u64::MAX - s)));
        match f.get(&abs, range) {
            Ok(g) if (200..300).contains(&g.status) && !g.body.is_empty() => {}
            Ok(g) => report.should(
                "RFC 8216bis 6.2.6",
                &pl.uri,
                Location::Line(*line),
                format!(
                    "preload hint {u} answered {} with {} bytes",
                    g.status,
                    g.body.len()
                ),
            ),
            Err(e) => report.should(
                "RFC 8216bis 6.2.6",
                &pl.uri,
                Location::Line(*line),
                format!("preload hint {u} cannot be fetched: {e}"),
            ),
        }
    }
}

/// RFC 8216bis 6.2.5.1: with CAN-SKIP-UNTIL, `_HLS_skip=YES` answers a delta update whose
/// segments after the EXT-X-SKIP are those of the full playlist.
fn delta_update(f: &Fetcher, pl: &MediaPlaylist, report: &mut Report) {
    let Some((_, a)) = &pl.server_control else {
        return;
    };
    if lines::get(a, "CAN-SKIP-UNTIL").is_none() {
        return;
    }
    let asked = with_query(&pl.uri, "_HLS_skip=YES");
    let mut ignore = Report::default();
    let Some(delta) = fetch_playlist(f, &asked, &mut ignore) else {
        report.must(
            S_DELTA,
            &asked,
            Location::Whole,
            "no playlist for _HLS_skip=YES",
        );
        return;
    };
    let Some(full) = fetch_playlist(f, &pl.uri, &mut ignore) else {
        return;
    };
    for d in &delta.segments {
        if let Some(s) = full.segments.iter().find(|s| s.msn == d.msn) {
            if s.uri != d.uri {
                report.must(
                    S_DELTA,
                    &asked,
                    Location::Line(d.line),
                    format!(
                        "segment {} is {} in the delta update but {} in the full playlist",
                        d.msn, d.uri, s.uri
                    ),
                );
            }
        }
    }
    if delta.media_sequence != full.media_sequence && delta.last_msn() == full.last_msn() {
        report.must(
            S_DELTA,
            &asked,
            Location::Whole,
            "the delta update and the full playlist disagree on EXT-X-MEDIA-SEQUENCE",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Level;

    #[test]
    fn tag_cases() {
        use Level::*;
        let head = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n";
        let sc = "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,HOLD-BACK=6,CAN-SKIP-UNTIL=12\n";
        let inf = "#EXT-X-PART-INF:PART-TARGET=0.2\n";
        let seg = "#EXT-X-PART:DURATION=0.2,URI=\"a.0.m4s\",INDEPENDENT=YES\n#EXTINF:0.2,\na.m4s\n";
        type Want = Vec<(Level, &'static str)>;
        let cases: Vec<(&str, String, Want)> = vec![
            ("clean", format!("{head}{sc}{inf}{seg}#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"b.0.m4s\"\n"), vec![]),
            ("part without PART-INF", format!("{head}{seg}"), vec![(Must, S_PART_INF)]),
            ("part too long", format!("{head}{sc}{inf}{}", seg.replace("DURATION=0.2", "DURATION=0.3")), vec![(Must, S_PART_INF)]),
            ("first part not independent", format!("{head}{sc}{inf}{}", seg.replace(",INDEPENDENT=YES", "")), vec![(Should, S_PART)]),
            ("no SERVER-CONTROL", format!("{head}{inf}{seg}"), vec![(Must, S_SERVER_CONTROL)]),
            ("PART-HOLD-BACK small", format!("{head}{}{inf}{seg}", sc.replace("0.6", "0.3")), vec![(Must, S_SERVER_CONTROL)]),
            ("PART-HOLD-BACK under 3x", format!("{head}{}{inf}{seg}", sc.replace("0.6", "0.5")), vec![(Should, "Apple 14")]),
            ("HOLD-BACK small", format!("{head}{}{inf}{seg}", sc.replace("HOLD-BACK=6", "HOLD-BACK=5")), vec![(Must, S_SERVER_CONTROL)]),
            ("CAN-SKIP-UNTIL small", format!("{head}{}{inf}{seg}", sc.replace("=12", "=11")), vec![(Must, S_SERVER_CONTROL)]),
            ("two part hints", format!("{head}{sc}{inf}{seg}#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"b\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c\"\n"), vec![(Must, S_HINT)]),
            ("bad hint type", format!("{head}{sc}{inf}{seg}#EXT-X-PRELOAD-HINT:TYPE=SEGMENT,URI=\"b\"\n"), vec![(Must, S_HINT)]),
            ("report without LAST-MSN", format!("{head}{sc}{inf}{seg}#EXT-X-RENDITION-REPORT:URI=\"o.m3u8\"\n"), vec![(Should, S_REPORT)]),
        ];
        for (name, text, want) in cases {
            let mut r = Report::default();
            let pl = parse_media("l.m3u8", &text, &mut r);
            assert!(r.findings.is_empty(), "{name}: {:#?}", r.findings);
            tag_rules(&pl, &mut r);
            let got: Vec<_> = r.findings.iter().map(|f| (f.level, f.section)).collect();
            assert_eq!(got, want, "{name}: {:#?}", r.findings);
        }
    }

    #[test]
    fn queries() {
        assert_eq!(
            with_query("http://h/a.m3u8", "_HLS_msn=3"),
            "http://h/a.m3u8?_HLS_msn=3"
        );
        assert_eq!(
            with_query("http://h/a.m3u8?t=1", "_HLS_msn=3"),
            "http://h/a.m3u8?t=1&_HLS_msn=3"
        );
    }
}
