// SPDX-License-Identifier: MIT OR Apache-2.0
//! Several renditions of one live presentation: the multivariant playlist they share and
//! the EXT-X-RENDITION-REPORTs each one's playlists carry of the others, sans-IO.
//!
//! Each rendition is a [`LiveStream`] of its own (own input, own media playlist, segments,
//! crash recovery) with [`LiveConfig::write_master`] off. The caller records every rendition
//! after each publication ([`RenditionGroup::record_stream`]), writes the multivariant
//! playlist whenever [`RenditionGroup::master`] returns one, and before feeding a rendition
//! gives it [`RenditionGroup::reports_for`] — so a playlist reports the others as they
//! stand when it is produced (RFC 8216bis 4.4.5.4: "as up-to-date as the Playlist that
//! contains it"), in its delta updates too.
//!
//! Which variants the multivariant playlist lists:
//! - at start it waits until every rendition has completed a segment (its BANDWIDTH,
//!   FRAME-RATE are measured on it), at most `grace` after the first one did — a rendition
//!   whose input never comes does not keep the others off the air — then lists those known;
//! - a rendition whose stream ended (EXT-X-ENDLIST: its input is gone) is left out while
//!   others are still live, so new players do not pick a variant that is over; it is listed
//!   again once it has a segment of its new run. When every rendition has ended, all are
//!   listed (the presentation as it ended);
//! - it is rewritten whenever that list or a variant changes (new tracks), never otherwise.
//!
//! One EXT-X-TARGETDURATION for all (RFC 8216bis 6.2.4, Apple 8.2): the first rendition
//! whose target is final settles it ([`RenditionGroup::target`]); the others take it with
//! [`LiveStream::share_target`] instead of their own measurement of the keyframe interval.
//!
//! Reports (Appendix B.1: one per other Media Playlist of the multivariant playlist): each
//! listed rendition but the one whose playlist it is, in multivariant-playlist order. Before
//! the first multivariant playlist of this run (while an earlier run's may still be served
//! after a restart) every other rendition that has published and not ended.

use std::time::{Duration, SystemTime};

use super::LiveStream;
use crate::playlist::ll::RenditionReport;
use crate::playlist::{IFrameVariant, MasterPlaylist, Variant};

/// What the group knows of one rendition.
#[derive(Debug, Clone, Default, PartialEq)]
struct Member {
    variant: Option<Variant>,
    /// Its EXT-X-I-FRAME-STREAM-INF (with video).
    i_frames: Option<IFrameVariant>,
    report: Option<RenditionReport>,
    ended: bool,
}

/// The renditions of one presentation, in multivariant-playlist order. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct RenditionGroup {
    members: Vec<Member>,
    grace: Duration,
    /// When the first variant became known: the start of the grace period.
    first_variant: Option<SystemTime>,
    /// Members listed in the multivariant playlist last returned, and its variants.
    listed: Vec<usize>,
    written: Option<(Vec<Variant>, Vec<IFrameVariant>)>,
    /// The EXT-X-TARGETDURATION the first rendition to fix one settled on, for the others
    /// (RFC 8216bis 6.2.4, Apple 8.2: the same in every variant).
    target: Option<u64>,
}

impl RenditionGroup {
    /// A group of `count` renditions, indexed `0..count` in the order the multivariant
    /// playlist lists them. It waits up to `grace` after the first variant is known for the
    /// others before the first multivariant playlist.
    pub fn new(count: usize, grace: Duration) -> Self {
        RenditionGroup {
            members: vec![Member::default(); count],
            grace,
            first_variant: None,
            listed: Vec::new(),
            written: None,
            target: None,
        }
    }

    /// The EXT-X-TARGETDURATION settled on by the first rendition whose target became final,
    /// to hand to the others with [`LiveStream::share_target`] before feeding them (a
    /// continued playlist's counts: its target cannot change). `None` before.
    pub fn target(&self) -> Option<u64> {
        self.target
    }

    /// Records rendition `index` from its stream: call it after each publication (and
    /// after a stream starts or recovers). Unknown indexes are ignored.
    pub fn record_stream(&mut self, index: usize, stream: &LiveStream, now: SystemTime) {
        self.record(
            index,
            stream.variant().cloned(),
            stream.rendition_report(),
            stream.state().ended,
            now,
        );
        if let Some(m) = self.members.get_mut(index) {
            m.i_frames = stream.i_frame_variant().cloned();
        }
        if stream.target_is_final() && index < self.members.len() {
            self.settle_target(stream.target_duration());
        }
    }

    /// Records the target a rendition fixed; the first one recorded stays.
    pub fn settle_target(&mut self, target: u64) {
        self.target.get_or_insert(target);
    }

    /// Records rendition `index`: its variant (`None` before its first segment), its latest
    /// report (`None` before its first playlist), whether its playlist has EXT-X-ENDLIST.
    pub fn record(
        &mut self,
        index: usize,
        variant: Option<Variant>,
        report: Option<RenditionReport>,
        ended: bool,
        now: SystemTime,
    ) {
        let Some(m) = self.members.get_mut(index) else {
            return;
        };
        if variant.is_some() && self.first_variant.is_none() {
            self.first_variant = Some(now);
        }
        *m = Member {
            variant,
            i_frames: m.i_frames.take(),
            report,
            ended,
        };
    }

    /// The EXT-X-RENDITION-REPORTs for rendition `index`'s playlists: every other rendition
    /// listed in the multivariant playlist that has published one (4.4.5.4, Appendix B.1);
    /// before the first multivariant playlist, every other one published and not ended.
    pub fn reports_for(&self, index: usize) -> Vec<RenditionReport> {
        let report = |i: usize| self.members.get(i)?.report.clone();
        if self.written.is_none() {
            return (0..self.members.len())
                .filter(|&i| i != index && self.members.get(i).is_some_and(|m| !m.ended))
                .filter_map(report)
                .collect();
        }
        self.listed
            .iter()
            .filter(|&&i| i != index)
            .filter_map(|&i| report(i))
            .collect()
    }

    /// The multivariant playlist to write now, when it differs from the last one returned
    /// (see the module docs for what it lists); `None` when nothing is to be written.
    pub fn master(&mut self, now: SystemTime) -> Option<String> {
        let listed = self.wanted(now)?;
        let variants: Vec<Variant> = listed
            .iter()
            .filter_map(|&i| self.members.get(i)?.variant.clone())
            .collect();
        // Apple 6.1: the I-frame playlist of every listed video rendition.
        let i_frames: Vec<IFrameVariant> = listed
            .iter()
            .filter_map(|&i| self.members.get(i)?.i_frames.clone())
            .collect();
        let wanted = (variants, i_frames);
        if self.written.as_ref() == Some(&wanted) {
            self.listed = listed;
            return None;
        }
        let text = MasterPlaylist {
            independent_segments: super::variant::master_independent(&wanted.0),
            renditions: vec![],
            variants: wanted.0.clone(),
        }
        .with_i_frames(&wanted.1);
        self.listed = listed;
        self.written = Some(wanted);
        Some(text)
    }

    /// When [`RenditionGroup::master`] has something to write without any new record (the
    /// end of the grace period), if ever.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        if self.written.is_some() {
            return None;
        }
        let first = self.first_variant?;
        Some(first.checked_add(self.grace).unwrap_or(first))
    }

    /// Members the multivariant playlist should list now; `None` while it waits.
    fn wanted(&self, now: SystemTime) -> Option<Vec<usize>> {
        let known: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members.get(i).is_some_and(|m| m.variant.is_some()))
            .collect();
        if known.is_empty() {
            return None;
        }
        if self.written.is_none() && known.len() < self.members.len() {
            let over = self.next_deadline().is_some_and(|d| now >= d);
            if !over {
                return None;
            }
        }
        let live: Vec<usize> = known
            .iter()
            .copied()
            .filter(|&i| self.members.get(i).is_some_and(|m| !m.ended))
            .collect();
        Some(if live.is_empty() { known } else { live })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::tests::{config, t0, tracks, Source};
    use crate::live::{LiveConfig, Output};
    use crate::package::Format;

    fn variant(uri: &str, bandwidth: u64) -> Variant {
        Variant {
            uri: uri.into(),
            bandwidth,
            average_bandwidth: Some(bandwidth),
            codecs: vec!["avc1.64000d".into(), "mp4a.40.2".into()],
            resolution: Some((320, 240)),
            frame_rate: Some(30.0),
            audio_group: None,
        }
    }

    fn report(uri: &str, msn: u64, part: u64) -> RenditionReport {
        RenditionReport {
            uri: uri.into(),
            last_msn: msn,
            last_part: Some(part),
        }
    }

    fn at(ms: u64) -> SystemTime {
        t0() + Duration::from_millis(ms)
    }

    /// URIs and BANDWIDTHs of a multivariant playlist's EXT-X-STREAM-INFs, read by m3u8-rs.
    fn variants_of(text: &str) -> Vec<(String, u64)> {
        match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m
                .variants
                .iter()
                .filter(|v| !v.is_i_frame)
                .map(|v| (v.uri.clone(), v.bandwidth))
                .collect(),
            other => panic!("not a multivariant playlist: {other:?}\n{text}"),
        }
    }

    /// One step of a group scenario: record a member (or only ask), then what `master`
    /// returns (variant URIs) and the reports of member 0.
    struct Step<'a> {
        at_ms: u64,
        record: Option<(usize, Option<u64>, Option<u64>, bool)>,
        master: Option<&'a [&'a str]>,
        reports_of_0: &'a [&'a str],
    }

    fn step<'a>(
        at_ms: u64,
        record: Option<(usize, Option<u64>, Option<u64>, bool)>,
        master: Option<&'a [&'a str]>,
        reports_of_0: &'a [&'a str],
    ) -> Step<'a> {
        Step {
            at_ms,
            record,
            master,
            reports_of_0,
        }
    }

    /// Table of scenarios over three renditions a, b, c (grace 5 s). A record is (member,
    /// variant bandwidth, report msn, ended).
    #[test]
    fn master_and_reports_follow_the_renditions() {
        let names = ["a.m3u8", "b.m3u8", "c.m3u8"];
        let scenarios: &[(&str, Vec<Step>)] = &[
            (
                "waits for every variant, then lists all in order",
                vec![
                    step(0, Some((1, Some(2000), Some(0), false)), None, &["b.m3u8"]),
                    step(
                        300,
                        Some((0, Some(1000), Some(0), false)),
                        None,
                        &["b.m3u8"],
                    ),
                    step(
                        400,
                        Some((2, None, Some(1), false)),
                        None,
                        &["b.m3u8", "c.m3u8"],
                    ),
                    step(
                        500,
                        Some((2, Some(500), Some(0), false)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                    // Nothing changed: nothing to write.
                    step(
                        600,
                        Some((1, Some(2000), Some(1), false)),
                        None,
                        &["b.m3u8", "c.m3u8"],
                    ),
                ],
            ),
            (
                "a rendition without input is not waited for beyond the grace period",
                vec![
                    step(0, Some((0, Some(1000), Some(0), false)), None, &[]),
                    step(10, Some((2, Some(500), Some(0), false)), None, &["c.m3u8"]),
                    // b's input is there but has not completed a segment; then it ends.
                    step(
                        20,
                        Some((1, None, Some(0), false)),
                        None,
                        &["b.m3u8", "c.m3u8"],
                    ),
                    step(30, Some((1, None, Some(0), true)), None, &["c.m3u8"]),
                    step(4999, None, None, &["c.m3u8"]),
                    step(5000, None, Some(&["a.m3u8", "c.m3u8"]), &["c.m3u8"]),
                    // It comes after all: listed from then on.
                    step(
                        9000,
                        Some((1, Some(2000), Some(0), false)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                ],
            ),
            (
                "an ended rendition leaves while others are live, all are listed once all ended",
                vec![
                    step(0, Some((0, Some(1000), Some(5), false)), None, &[]),
                    step(1, Some((1, Some(2000), Some(5), false)), None, &["b.m3u8"]),
                    step(
                        2,
                        Some((2, Some(500), Some(5), false)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                    step(
                        3,
                        Some((1, Some(2000), Some(6), true)),
                        Some(&["a.m3u8", "c.m3u8"]),
                        &["c.m3u8"],
                    ),
                    step(
                        4,
                        Some((2, Some(500), Some(6), true)),
                        Some(&["a.m3u8"]),
                        &[],
                    ),
                    step(
                        5,
                        Some((0, Some(1000), Some(6), true)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                ],
            ),
            (
                "an ended rendition that comes back is listed again after its first segment",
                vec![
                    step(0, Some((0, Some(1000), Some(5), false)), None, &[]),
                    step(0, Some((1, Some(2000), Some(5), false)), None, &["b.m3u8"]),
                    step(
                        0,
                        Some((2, Some(500), Some(5), false)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                    step(
                        1,
                        Some((2, Some(500), Some(6), true)),
                        Some(&["a.m3u8", "b.m3u8"]),
                        &["b.m3u8"],
                    ),
                    // Its new run recovered the playlist: a report, no variant yet.
                    step(2, Some((2, None, Some(6), false)), None, &["b.m3u8"]),
                    step(
                        3,
                        Some((2, Some(600), Some(7), false)),
                        Some(&names),
                        &["b.m3u8", "c.m3u8"],
                    ),
                ],
            ),
            (
                "a new variant (track change) rewrites it; unpublished renditions are not reported",
                vec![
                    step(0, Some((0, Some(1000), None, false)), None, &[]),
                    step(0, Some((1, Some(2000), None, false)), None, &[]),
                    step(0, Some((2, Some(500), None, false)), Some(&names), &[]),
                    step(
                        1,
                        Some((1, Some(2500), Some(3), false)),
                        Some(&names),
                        &["b.m3u8"],
                    ),
                ],
            ),
        ];
        for (name, steps) in scenarios {
            let mut g = RenditionGroup::new(3, Duration::from_secs(5));
            for (n, s) in steps.iter().enumerate() {
                if let Some((i, bw, msn, ended)) = s.record {
                    let uri = names[i];
                    g.record(
                        i,
                        bw.map(|b| variant(uri, b)),
                        msn.map(|m| report(uri, m, 0)),
                        ended,
                        at(s.at_ms),
                    );
                }
                let got = g.master(at(s.at_ms));
                let uris = got.as_deref().map(variants_of);
                let want = s.master.map(|w| w.to_vec());
                assert_eq!(
                    uris.as_ref()
                        .map(|v| v.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>()),
                    want,
                    "{name}, step {n}"
                );
                let reports: Vec<String> = g.reports_for(0).into_iter().map(|r| r.uri).collect();
                assert_eq!(reports, s.reports_of_0, "{name}, step {n}: reports of a");
            }
        }
    }

    #[test]
    fn grace_deadline_and_bandwidth() {
        let mut g = RenditionGroup::new(2, Duration::from_secs(5));
        assert_eq!(g.next_deadline(), None);
        g.record(1, None, Some(report("b.m3u8", 0, 0)), false, at(0));
        assert_eq!(g.next_deadline(), None, "no variant yet");
        g.record(0, Some(variant("a.m3u8", 1234)), None, false, at(700));
        assert_eq!(g.next_deadline(), Some(at(5700)));
        let text = g.master(at(5700)).expect("grace over");
        assert_eq!(variants_of(&text), [("a.m3u8".to_owned(), 1234)]);
        assert_eq!(g.next_deadline(), None);
        // Out-of-range indexes are ignored.
        g.record(7, Some(variant("x.m3u8", 1)), None, false, at(5800));
        assert_eq!(g.master(at(5800)), None);
        assert!(g.reports_for(7).is_empty());
    }

    fn ll_rendition(name: &str) -> LiveConfig {
        LiveConfig {
            rendition: name.into(),
            write_master: false,
            aligned_cuts: true,
            ..config(Format::Fmp4, Some(0.5))
        }
    }

    /// The playlist of the last `Put` of `name` in `out`.
    fn last_put(out: &[Output], name: &str) -> Option<String> {
        out.iter().rev().find_map(|o| match o {
            Output::Put { name: n, bytes } if n == name => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        })
    }

    /// Two LL-HLS renditions fed in turn, as the driver does: no stream writes the
    /// multivariant playlist, each playlist (full and delta) reports the other as it stood
    /// when the playlist was produced, and the group's playlist lists both.
    #[test]
    fn streams_report_each_other() {
        let mut a = LiveStream::new(ll_rendition("a"), tracks()).expect("a");
        let mut b = LiveStream::new(ll_rendition("b"), tracks()).expect("b");
        let (mut sa, mut sb) = (Source::new(0), Source::new(0));
        let mut g = RenditionGroup::new(2, Duration::from_secs(10));
        let mut master = None;
        let mut checked = 0;
        for step in 1..=60u32 {
            let until = f64::from(step) * 0.25;
            // b runs ahead of a by a quarter second; its report must be as of a's publication.
            b.set_rendition_reports(g.reports_for(1));
            let out_b = sb.feed(&mut b, until + 0.25, t0());
            g.record_stream(1, &b, t0());
            a.set_rendition_reports(g.reports_for(0));
            let out_a = sa.feed(&mut a, until, t0());
            g.record_stream(0, &a, t0());
            master = g.master(t0()).or(master);
            for out in [&out_a, &out_b] {
                assert!(
                    last_put(out, "master.m3u8").is_none(),
                    "no stream writes it"
                );
            }
            let (Some(text), Some(want)) = (last_put(&out_a, "a.m3u8"), b.rendition_report())
            else {
                continue;
            };
            let line = format!(
                "#EXT-X-RENDITION-REPORT:URI=\"b.m3u8\",LAST-MSN={},LAST-PART={}\n",
                want.last_msn,
                want.last_part.expect("b has parts")
            );
            assert!(text.ends_with(&line), "a reports b as it is:\n{text}");
            assert!(!text.contains("URI=\"a.m3u8\""), "not itself");
            let delta = a.render_playlist(true);
            assert!(delta.ends_with(&line), "delta too:\n{delta}");
            checked += 1;
        }
        assert!(checked > 20, "reports checked {checked} times");
        let master = master.expect("a multivariant playlist");
        assert_eq!(
            variants_of(&master)
                .into_iter()
                .map(|(u, _)| u)
                .collect::<Vec<_>>(),
            ["a.m3u8", "b.m3u8"]
        );
        // Apple 6.1: each video rendition's I-frame playlist, after the variants.
        let i_frames: Vec<&str> = master
            .lines()
            .filter(|l| l.starts_with("#EXT-X-I-FRAME-STREAM-INF:"))
            .collect();
        assert_eq!(i_frames.len(), 2, "{master}");
        assert!(i_frames[0].ends_with("URI=\"a_iframes.m3u8\""), "{master}");
        assert!(i_frames[1].ends_with("URI=\"b_iframes.m3u8\""), "{master}");
        // b's playlist reports a; aligned cuts: both have the same segments.
        let text_b = b.render_playlist(false);
        assert!(text_b.contains("#EXT-X-RENDITION-REPORT:URI=\"a.m3u8\",LAST-MSN="));
        let extinf = |t: &str| {
            t.lines()
                .filter(|l| l.starts_with("#EXTINF"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let (ea, eb) = (extinf(&a.render_playlist(false)), extinf(&text_b));
        assert!(eb.starts_with(&ea), "{ea:?} / {eb:?}");
    }

    /// Without LL-HLS the reports are not written (they serve blocking reloads).
    #[test]
    fn classic_live_has_no_reports() {
        let cfg = LiveConfig {
            rendition: "a".into(),
            write_master: false,
            ..config(Format::Fmp4, None)
        };
        let mut a = LiveStream::new(cfg, tracks()).expect("a");
        a.set_rendition_reports(vec![report("b.m3u8", 3, 1)]);
        let out = Source::new(0).feed(&mut a, 5.0, t0());
        let text = last_put(&out, "a.m3u8").expect("a playlist");
        assert!(!text.contains("RENDITION-REPORT"), "{text}");
        assert!(a.variant().is_some());
        assert!(last_put(&out, "master.m3u8").is_none());
    }
}
