// SPDX-License-Identifier: MIT OR Apache-2.0
//! Multivariant playlists: the tags (RFC 8216bis 4.4.6.1–4.4.6.3), and what they announce
//! against what the renditions' segments measure — CODECS, RESOLUTION, FRAME-RATE (4.4.6.2,
//! Apple 9.1–9.15), BANDWIDTH / AVERAGE-BANDWIDTH (4.4.6.2; Apple 1.26: within 10 %), I-frame
//! playlists provided (Apple 6.1), one target duration across renditions (Apple 8.2).

use std::collections::HashMap;

use m3u8_rs::{AlternativeMediaType, MasterPlaylist, VariantStream};

use crate::fetch::resolve;
use crate::lines::{self, Item};
use crate::media::Measured;
use crate::report::{Location, Report};

const S_MEDIA: &str = "RFC 8216bis 4.4.6.1";
const S_STREAM_INF: &str = "RFC 8216bis 4.4.6.2";
const S_IFRAME_INF: &str = "RFC 8216bis 4.4.6.3";

/// What one rendition (media playlist) was found to be, as the master checks need it.
#[derive(Debug, Clone, Default)]
pub struct Rendition {
    pub measured: Measured,
    pub target: Option<u64>,
    /// The playlist could be read and parsed.
    pub ok: bool,
    /// No EXT-X-ENDLIST: not every segment exists yet.
    pub live: bool,
    /// EXT-X-SERVER-CONTROL attributes, sorted (`NAME=value,…`).
    pub server_control: Option<String>,
    /// EXT-X-PART-INF PART-TARGET.
    pub part_target: Option<f64>,
}

/// Validates the renditions a multivariant playlist names (each once) through `load`, then
/// checks the multivariant playlist against them.
pub fn check_master(
    uri: &str,
    text: &str,
    mut load: impl FnMut(&str, bool, bool, &mut Report) -> Rendition,
    report: &mut Report,
) {
    let master = match m3u8_rs::parse_master_playlist_res(text.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            report.must(
                "RFC 8216bis 4.1",
                uri,
                Location::Whole,
                format!("m3u8-rs cannot parse the multivariant playlist: {e:?}"),
            );
            return;
        }
    };
    let lines = tag_lines(text);
    check_media_tags(uri, &master, &lines, report);
    let independent = master.independent_segments;
    let mut done: HashMap<String, Rendition> = HashMap::new();
    let mut get = |u: &str, iframe: bool, report: &mut Report| -> Rendition {
        let abs = resolve(uri, u);
        done.entry(abs.clone())
            .or_insert_with(|| load(&abs, iframe, independent, report))
            .clone()
    };
    let mut groups: HashMap<String, Vec<(String, Rendition)>> = HashMap::new();
    for alt in &master.alternatives {
        if let (AlternativeMediaType::Audio, Some(u)) = (&alt.media_type, &alt.uri) {
            let r = get(u, false, report);
            groups
                .entry(alt.group_id.clone())
                .or_default()
                .push((resolve(uri, u), r));
        }
    }
    let (mut n_stream, mut n_iframe) = (0, 0);
    let mut seen: Vec<(String, Rendition)> = Vec::new();
    let mut any_video = false;
    for v in &master.variants {
        let line = if v.is_i_frame {
            n_iframe += 1;
            lines.iframe_inf.get(n_iframe - 1)
        } else {
            n_stream += 1;
            lines.stream_inf.get(n_stream - 1)
        };
        let at = Location::Line(line.copied().unwrap_or(0));
        if v.uri.is_empty() {
            report.must(
                S_STREAM_INF,
                uri,
                at,
                "EXT-X-STREAM-INF is not followed by a URI line",
            );
            continue;
        }
        let r = get(&v.uri, v.is_i_frame, report);
        if !r.ok {
            continue;
        }
        any_video |= r.measured.has_video;
        let audio = audio_group(uri, at, &master, v, &groups, report);
        report.subject(Some(v.uri.clone()));
        check_variant(uri, at, v, &r, &audio, report);
        report.subject(None);
        if !v.is_i_frame {
            seen.push((v.uri.clone(), r));
        }
    }
    check_across(uri, &seen, report);
    if any_video && n_iframe == 0 {
        report.must(
            "Apple 6.1",
            uri,
            Location::Whole,
            "video variants but no EXT-X-I-FRAME-STREAM-INF (I-frame playlists MUST be provided)",
        );
    }
}

/// The renditions of `v`'s AUDIO group; a group that does not exist is a MUST of 4.4.6.2.
fn audio_group(
    uri: &str,
    at: Location,
    master: &MasterPlaylist,
    v: &VariantStream,
    groups: &HashMap<String, Vec<(String, Rendition)>>,
    report: &mut Report,
) -> Vec<Rendition> {
    let Some(g) = &v.audio else {
        return Vec::new();
    };
    let exists = master
        .alternatives
        .iter()
        .any(|a| &a.group_id == g && a.media_type == AlternativeMediaType::Audio);
    if !exists {
        report.must(
            S_STREAM_INF,
            uri,
            at,
            format!("AUDIO=\"{g}\" names no EXT-X-MEDIA TYPE=AUDIO group"),
        );
    }
    // A variant that is itself a member of its audio group does not add to itself.
    let own = resolve(uri, &v.uri);
    groups
        .get(g)
        .into_iter()
        .flatten()
        .filter(|(u, _)| *u != own)
        .map(|(_, r)| r.clone())
        .collect()
}

/// What the variants' media playlists must share: one target duration (Apple 8.2), the same
/// EXT-X-SERVER-CONTROL and PART-TARGET (RFC 8216bis 6.2.4) — else a player switching variants
/// meets other rules.
fn check_across(uri: &str, seen: &[(String, Rendition)], report: &mut Report) {
    let Some((u0, r0)) = seen.first() else { return };
    for (u, r) in seen.iter().skip(1) {
        if r.target != r0.target {
            let msg = format!(
                "{u} has TARGETDURATION {:?} but {u0} has {:?}: renditions should share one",
                r.target, r0.target
            );
            report.should("Apple 8.2", uri, Location::Whole, msg);
        }
        if r.server_control != r0.server_control {
            let msg = format!(
                "{u} has EXT-X-SERVER-CONTROL {:?} but {u0} has {:?}",
                r.server_control, r0.server_control
            );
            report.should("RFC 8216bis 6.2.4", uri, Location::Whole, msg);
        }
        if r.part_target != r0.part_target {
            let msg = format!(
                "{u} has PART-TARGET {:?} but {u0} has {:?}",
                r.part_target, r0.part_target
            );
            report.should("RFC 8216bis 6.2.4", uri, Location::Whole, msg);
        }
    }
}

/// The renditions (resolved URI, is an I-frame playlist) a multivariant playlist names, each
/// once, and its EXT-X-INDEPENDENT-SEGMENTS. Empty when it does not parse (check_master says so).
pub fn rendition_uris(uri: &str, text: &str) -> (Vec<(String, bool)>, bool) {
    let Ok(m) = m3u8_rs::parse_master_playlist_res(text.as_bytes()) else {
        return (Vec::new(), false);
    };
    let audio = m
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Audio)
        .filter_map(|a| a.uri.as_deref().map(|u| (u, false)));
    let variants = m
        .variants
        .iter()
        .filter(|v| !v.uri.is_empty())
        .map(|v| (v.uri.as_str(), v.is_i_frame));
    let mut out: Vec<(String, bool)> = Vec::new();
    for (u, iframe) in audio.chain(variants) {
        let abs = resolve(uri, u);
        if !out.iter().any(|(o, _)| *o == abs) {
            out.push((abs, iframe));
        }
    }
    (out, m.independent_segments)
}

/// Lines of the EXT-X-STREAM-INF, EXT-X-I-FRAME-STREAM-INF and EXT-X-MEDIA tags, in order.
#[derive(Debug, Default)]
struct TagLines {
    stream_inf: Vec<usize>,
    iframe_inf: Vec<usize>,
    media: Vec<usize>,
}

fn tag_lines(text: &str) -> TagLines {
    let mut t = TagLines::default();
    for l in lines::scan(text) {
        if let Item::Tag { name, .. } = &l.item {
            match name.as_str() {
                "EXT-X-STREAM-INF" => t.stream_inf.push(l.no),
                "EXT-X-I-FRAME-STREAM-INF" => t.iframe_inf.push(l.no),
                "EXT-X-MEDIA" => t.media.push(l.no),
                _ => {}
            }
        }
    }
    t
}

/// EXT-X-MEDIA rules (RFC 8216bis 4.4.6.1): unique NAME per group, at most one DEFAULT=YES,
/// AUTOSELECT=YES whenever DEFAULT=YES, FORCED only on SUBTITLES.
fn check_media_tags(uri: &str, m: &MasterPlaylist, lines: &TagLines, report: &mut Report) {
    for (i, a) in m.alternatives.iter().enumerate() {
        let at = Location::Line(lines.media.get(i).copied().unwrap_or(0));
        let same = |b: &&m3u8_rs::AlternativeMedia| {
            b.group_id == a.group_id && b.media_type == a.media_type
        };
        let earlier = m.alternatives.get(..i).unwrap_or_default();
        if earlier.iter().filter(same).any(|b| b.name == a.name) {
            report.must(
                S_MEDIA,
                uri,
                at,
                format!(
                    "NAME=\"{}\" appears twice in group \"{}\"",
                    a.name, a.group_id
                ),
            );
        }
        if a.default && earlier.iter().filter(same).any(|b| b.default) {
            report.must(
                S_MEDIA,
                uri,
                at,
                format!("a second DEFAULT=YES in group \"{}\"", a.group_id),
            );
        }
        if a.default && !a.autoselect {
            report.must(
                S_MEDIA,
                uri,
                at,
                format!("NAME=\"{}\": DEFAULT=YES requires AUTOSELECT=YES", a.name),
            );
        }
        if a.forced && a.media_type != AlternativeMediaType::Subtitles {
            report.must(
                S_MEDIA,
                uri,
                at,
                format!("NAME=\"{}\": FORCED is only for TYPE=SUBTITLES", a.name),
            );
        }
        if a.media_type == AlternativeMediaType::Audio && a.channels.is_none() {
            report.should(
                "Apple 9.x CHANNELS",
                uri,
                at,
                format!(
                    "NAME=\"{}\": EXT-X-MEDIA TYPE=AUDIO without CHANNELS",
                    a.name
                ),
            );
        }
    }
}

/// The codec part of an RFC 6381 string (`avc1`, `mp4a`, `hvc1`), the in-band and
/// out-of-band sample entries of one codec counted as one (avc1/avc3, hvc1/hev1).
fn family(c: &str) -> String {
    let f = c.split('.').next().unwrap_or("").to_ascii_lowercase();
    match f.as_str() {
        "avc3" => "avc1".into(),
        "hev1" => "hvc1".into(),
        _ => f,
    }
}

/// Whether two codec strings say the same. In MPEG-TS the sample entry name means nothing
/// (parameter sets are always in band), so there avc3 = avc1 and hev1 = hvc1.
fn same_codec(a: &str, b: &str, ts: bool) -> bool {
    let norm = |s: &str| {
        let s = s.to_ascii_lowercase();
        if ts {
            s.replacen("avc3.", "avc1.", 1)
                .replacen("hev1.", "hvc1.", 1)
        } else {
            s
        }
    };
    norm(a) == norm(b)
}

fn check_variant(
    uri: &str,
    at: Location,
    v: &VariantStream,
    r: &Rendition,
    audio: &[Rendition],
    report: &mut Report,
) {
    let own = &r.measured;
    let section = if v.is_i_frame {
        S_IFRAME_INF
    } else {
        S_STREAM_INF
    };
    let mut found: Vec<String> = own.codecs.clone();
    for a in audio {
        for c in &a.measured.codecs {
            if !found.contains(c) {
                found.push(c.clone());
            }
        }
    }
    let ts = own.container == Some(crate::demux::Container::Ts);
    check_codecs(uri, at, section, v.codecs.as_deref(), &found, ts, report);
    if own.has_video {
        check_picture(uri, at, section, v, own, report);
    }
    check_bandwidth(uri, at, section, v, r, audio, report);
}

/// BANDWIDTH and AVERAGE-BANDWIDTH against the variant's segments plus the largest rendition
/// of its audio group. Under-declared against the peak of RFC 8216bis 4.4.6.2: MUST (SHOULD
/// while live); over-declared (Apple 1.26, VOD): only beyond every reading of the peak, per
/// run of segments or per segment, so that producers measuring either way pass.
fn check_bandwidth(
    uri: &str,
    at: Location,
    section: &'static str,
    v: &VariantStream,
    r: &Rendition,
    audio: &[Rendition],
    report: &mut Report,
) {
    let own = &r.measured;
    let most = |f: fn(&Measured) -> f64| audio.iter().map(|a| f(&a.measured)).fold(0.0, f64::max);
    let peak = own.peak_bps() + most(Measured::peak_bps);
    let peak_single = own.peak_single_bps() + most(Measured::peak_single_bps);
    let avg = own.average_bps() + most(Measured::average_bps);
    let declared = v.bandwidth as f64;
    if peak > declared * 1.1 {
        let msg = format!(
            "BANDWIDTH={} but the segments peak at {peak:.0} bit/s",
            v.bandwidth
        );
        if r.live {
            report.should(section, uri, at, msg);
        } else {
            report.must(section, uri, at, msg);
        }
    } else if declared > peak.max(peak_single) * 1.1 && peak > 0.0 && !r.live {
        // A live window is a sample of the stream: only exceeding BANDWIDTH counts there.
        let msg = format!(
            "BANDWIDTH={} is more than 10 % above the measured peak {:.0} bit/s",
            v.bandwidth,
            peak.max(peak_single)
        );
        report.should("Apple 1.26", uri, at, msg);
    }
    match v.average_bandwidth {
        Some(a) if ((a as f64) - avg).abs() > 0.1 * avg && avg > 0.0 && !r.live => {
            report.should("Apple 1.26", uri, at, format!("AVERAGE-BANDWIDTH={a} but the segments average {avg:.0} bit/s (more than 10 % apart)"));
        }
        Some(_) => {}
        None => report.should("Apple 9.13–9.15", uri, at, "no AVERAGE-BANDWIDTH"),
    }
}

fn check_codecs(
    uri: &str,
    at: Location,
    section: &'static str,
    declared: Option<&str>,
    found: &[String],
    ts: bool,
    report: &mut Report,
) {
    let Some(declared) = declared else {
        report.should(
            section,
            uri,
            at,
            format!(
                "no CODECS attribute (the bitstream has {})",
                found.join(",")
            ),
        );
        return;
    };
    let listed: Vec<&str> = declared
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    for f in found {
        match listed.iter().find(|d| family(d) == family(f)) {
            None => report.must(
                section,
                uri,
                at,
                format!("CODECS=\"{declared}\" does not list {f}, found in the segments"),
            ),
            Some(d) if !same_codec(d, f, ts) => {
                report.should(
                    section,
                    uri,
                    at,
                    format!("CODECS lists {d} but the bitstream says {f}"),
                );
            }
            Some(_) => {}
        }
    }
    // Nothing demuxed (every segment SAMPLE-AES, or none fetched): nothing to hold CODECS
    // against.
    if found.is_empty() {
        return;
    }
    for d in &listed {
        if !found.iter().any(|f| family(f) == family(d)) {
            report.must(
                section,
                uri,
                at,
                format!("CODECS lists {d} but no segment of the variant carries it"),
            );
        }
    }
}

fn check_picture(
    uri: &str,
    at: Location,
    section: &'static str,
    v: &VariantStream,
    own: &Measured,
    report: &mut Report,
) {
    match (&v.resolution, own.resolution) {
        (None, _) => report.should(
            section,
            uri,
            at,
            "video variant without RESOLUTION (Apple 9.2)",
        ),
        (Some(r), Some((w, h))) if (r.width, r.height) != (u64::from(w), u64::from(h)) => {
            report.should(
                section,
                uri,
                at,
                format!(
                    "RESOLUTION={}x{} but the video is {w}x{h}",
                    r.width, r.height
                ),
            );
        }
        _ => {}
    }
    if v.is_i_frame {
        return;
    }
    match (v.frame_rate, own.frame_rate) {
        (None, _) => report.should(
            "Apple 9.13–9.15",
            uri,
            at,
            "video variant without FRAME-RATE",
        ),
        (Some(d), Some(m)) if (d - m).abs() > 0.01 * m + 0.002 => {
            report.should(
                section,
                uri,
                at,
                format!("FRAME-RATE={d:.3} but the video runs at {m:.3} fps"),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(codecs: &[&str], peak: f64, avg: f64) -> Measured {
        Measured {
            codecs: codecs.iter().map(|c| c.to_string()).collect(),
            resolution: Some((320, 240)),
            frame_rate: Some(30.0),
            has_video: true,
            // A 2 s segment at the peak, then 8 s that bring the average down.
            sizes: vec![(peak * 2.0, 2.0), (avg * 10.0 - peak * 2.0, 8.0)],
            target: Some(2.0),
            segments: 2,
            container: None,
        }
    }

    /// One variant line against measured media: which (level, section) findings come out.
    #[test]
    fn variant_against_measured() {
        let inf = |attrs: &str| {
            format!("#EXTM3U\n#EXT-X-STREAM-INF:{attrs}\nv.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1000,AVERAGE-BANDWIDTH=1000,CODECS=\"avc1.64000d\",RESOLUTION=320x240,URI=\"i.m3u8\"\n")
        };
        let ok = r#"BANDWIDTH=1000000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.64000d,mp4a.40.2",RESOLUTION=320x240,FRAME-RATE=30.000"#;
        type Want = Vec<(crate::Level, &'static str)>;
        let cases: Vec<(&str, String, Want)> = vec![
            ("clean", inf(ok), vec![]),
            (
                "wrong codec",
                inf(&ok.replace("avc1.64000d", "hvc1.1.6.L93.90")),
                vec![(crate::Level::Must, S_STREAM_INF); 2],
            ),
            (
                "level differs",
                inf(&ok.replace("avc1.64000d", "avc1.64001f")),
                vec![(crate::Level::Should, S_STREAM_INF)],
            ),
            (
                "peak above",
                inf(&ok.replace("BANDWIDTH=1000000", "BANDWIDTH=500000")),
                vec![(crate::Level::Must, S_STREAM_INF)],
            ),
            (
                "peak above, live",
                inf(&ok.replace("BANDWIDTH=1000000", "BANDWIDTH=500000")),
                vec![(crate::Level::Should, S_STREAM_INF)],
            ),
            (
                "average off, live",
                inf(&ok.replace("AVERAGE-BANDWIDTH=800000", "AVERAGE-BANDWIDTH=400000")),
                vec![],
            ),
            (
                "peak far below",
                inf(&ok.replace("BANDWIDTH=1000000", "BANDWIDTH=2000000")),
                vec![(crate::Level::Should, "Apple 1.26")],
            ),
            (
                "average off",
                inf(&ok.replace("AVERAGE-BANDWIDTH=800000", "AVERAGE-BANDWIDTH=400000")),
                vec![(crate::Level::Should, "Apple 1.26")],
            ),
            (
                "resolution",
                inf(&ok.replace("320x240", "640x480")),
                vec![(crate::Level::Should, S_STREAM_INF)],
            ),
            (
                "frame rate",
                inf(&ok.replace("30.000", "25.000")),
                vec![(crate::Level::Should, S_STREAM_INF)],
            ),
        ];
        for (name, text, want) in cases {
            let mut r = Report::default();
            check_master(
                "m.m3u8",
                &text,
                |u, iframe, _, _| Rendition {
                    measured: if iframe {
                        measured(&["avc1.64000d"], 1000.0, 1000.0)
                    } else {
                        assert!(u.ends_with("v.m3u8"));
                        measured(&["avc1.64000d", "mp4a.40.2"], 1_000_000.0, 800_000.0)
                    },
                    target: Some(2),
                    ok: true,
                    live: name.contains("live"),
                    server_control: None,
                    part_target: None,
                },
                &mut r,
            );
            let got: Vec<_> = r.findings.iter().map(|f| (f.level, f.section)).collect();
            assert_eq!(got, want, "{name}: {:#?}", r.findings);
        }
    }

    #[test]
    fn media_tag_rules() {
        let text = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,CHANNELS=\"2\"\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\"\n";
        let m = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        let mut r = Report::default();
        check_media_tags("m.m3u8", &m, &tag_lines(text), &mut r);
        let got: Vec<_> = r
            .findings
            .iter()
            .map(|f| (f.location, f.message.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Location::Line(2),
                    "NAME=\"en\": DEFAULT=YES requires AUTOSELECT=YES".to_string()
                ),
                (
                    Location::Line(3),
                    "NAME=\"en\" appears twice in group \"a\"".to_string()
                ),
                (
                    Location::Line(3),
                    "a second DEFAULT=YES in group \"a\"".to_string()
                ),
            ]
        );
    }

    #[test]
    fn renditions_share_their_rules() {
        let r = |target, sc: Option<&str>, pt| Rendition {
            target: Some(target),
            ok: true,
            server_control: sc.map(str::to_owned),
            part_target: pt,
            ..Rendition::default()
        };
        let base = r(
            2,
            Some("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6"),
            Some(0.2),
        );
        let cases = [
            (
                "same",
                r(
                    2,
                    Some("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6"),
                    Some(0.2),
                ),
                vec![],
            ),
            (
                "target",
                r(
                    4,
                    Some("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6"),
                    Some(0.2),
                ),
                vec!["Apple 8.2"],
            ),
            (
                "server control",
                r(2, Some("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1"), Some(0.2)),
                vec!["RFC 8216bis 6.2.4"],
            ),
            (
                "part target",
                r(
                    2,
                    Some("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6"),
                    Some(0.3),
                ),
                vec!["RFC 8216bis 6.2.4"],
            ),
        ];
        for (name, other, want) in cases {
            let mut rep = Report::default();
            check_across(
                "m.m3u8",
                &[("a.m3u8".into(), base.clone()), ("b.m3u8".into(), other)],
                &mut rep,
            );
            let got: Vec<_> = rep.findings.iter().map(|f| f.section).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    /// BANDWIDTH adds the largest rendition of the variant's audio group, except the variant
    /// itself when it is a member.
    #[test]
    fn bandwidth_with_an_audio_group() {
        let text = |v_bw: u64| {
            format!(
                "#EXTM3U\n\
                #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n\
                #EXT-X-STREAM-INF:BANDWIDTH=100000,AVERAGE-BANDWIDTH=100000,CODECS=\"mp4a.40.2\",AUDIO=\"a\"\n\
                a.m3u8\n\
                #EXT-X-STREAM-INF:BANDWIDTH={v_bw},AVERAGE-BANDWIDTH={v_bw},CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30.000,AUDIO=\"a\"\n\
                v.m3u8\n\
                #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1000,AVERAGE-BANDWIDTH=1000,CODECS=\"avc1.64000d\",RESOLUTION=320x240,URI=\"i.m3u8\"\n"
            )
        };
        for (v_bw, want) in [
            (500_000, vec![]),
            (
                400_000,
                vec![
                    (crate::Level::Must, S_STREAM_INF),
                    (crate::Level::Should, "Apple 1.26"),
                ],
            ),
        ] {
            let mut r = Report::default();
            let load = |u: &str, iframe: bool, _: bool, _: &mut Report| {
                let (codecs, rate): (&[&str], f64) = if iframe {
                    (&["avc1.64000d"], 1000.0)
                } else if u.ends_with("a.m3u8") {
                    (&["mp4a.40.2"], 100_000.0)
                } else {
                    (&["avc1.64000d"], 400_000.0)
                };
                let mut m = measured(codecs, rate, rate);
                m.has_video = !u.ends_with("a.m3u8");
                Rendition {
                    measured: m,
                    target: Some(2),
                    ok: true,
                    ..Rendition::default()
                }
            };
            check_master("m.m3u8", &text(v_bw), load, &mut r);
            let got: Vec<_> = r.findings.iter().map(|f| (f.level, f.section)).collect();
            assert_eq!(got, want, "{v_bw}: {:#?}", r.findings);
        }
    }
}
