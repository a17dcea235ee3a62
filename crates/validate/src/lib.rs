// SPDX-License-Identifier: MIT OR Apache-2.0
//! HLS stream validator: the Linux counterpart of Apple's mediastreamvalidator.
//!
//! [`validate`] reads a multivariant or media playlist (file or HTTP), every rendition and
//! I-frame playlist it names, and the segments, and returns a [`Report`] of [`Finding`]s: each
//! a broken rule with its level (MUST / SHOULD), the section of RFC 8216bis or Apple's HLS
//! authoring specification, the resource and the line or byte. Families of checks, one module
//! each: playlist syntax ([`playlist`], [`lines`]), segments and media ([`media`] over
//! [`demux`], [`ts_cc`], [`key`] for AES-128), multivariant vs bitstream ([`master`]),
//! I-frame playlists ([`iframe`]), live follow ([`live`]), LL-HLS tags and server behaviour
//! ([`llhls`]). Resources are read by [`fetch`] from a directory or over HTTP(S).
//!
//! Never prints (`tracing` only); errors only when the entry playlist cannot be read at all.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod demux;
pub mod error;
pub mod fetch;
pub mod iframe;
pub mod key;
pub mod lines;
pub mod live;
pub mod llhls;
pub mod master;
pub mod media;
pub mod playlist;
pub mod report;
pub mod ts_cc;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

pub use error::{Error, Result};
pub use report::{Finding, Level, Location, Report};

use fetch::{is_url, Fetcher};
use master::Rendition;
use playlist::MediaPlaylist;

/// What to validate and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Follow a live playlist for this long (0: judge one snapshot).
    pub live_seconds: u64,
    /// Bound on each HTTP request.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            live_seconds: 0,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Validates the stream at `target`: an `http(s)://` URL or a file path of a playlist, or a
/// directory (its `master.m3u8`, else its only multivariant or media playlist).
pub fn validate(target: &str, opts: &Options) -> Result<Report> {
    let entry = entry_point(target)?;
    let fetcher = Fetcher::new(opts.timeout);
    let mut report = Report::default();
    let (text, cache_control) = read_playlist(&fetcher, &entry, &mut report)?;
    let v = Validator { fetcher, opts };
    if m3u8_rs::is_master_playlist(text.as_bytes()) {
        v.master(&entry, &text, &mut report);
    } else {
        let pl = parse_checked(&entry, &text, &mut report);
        check_cache(&pl, cache_control.as_deref(), &mut report);
        v.media(pl, false, &mut report);
    }
    Ok(report)
}

/// Reads playlist `uri`: its text (UTF-8, RFC 8216bis 4.1; identified as a playlist, 4) and
/// its Cache-Control. Err when it cannot be read or is no text.
fn read_playlist(
    fetcher: &Fetcher,
    uri: &str,
    report: &mut Report,
) -> Result<(String, Option<String>)> {
    let got = fetcher.get(uri, None).map_err(|msg| Error::Fetch {
        uri: uri.to_owned(),
        msg,
    })?;
    if !(200..300).contains(&got.status) {
        return Err(Error::Fetch {
            uri: uri.to_owned(),
            msg: format!("HTTP {}", got.status),
        });
    }
    report.playlists += 1;
    check_identity(uri, got.content_type.as_deref(), report);
    Ok((playlist_text(uri, got.body, report)?, got.cache_control))
}

/// The playlist a target names.
fn entry_point(target: &str) -> Result<String> {
    if is_url(target) || !Path::new(target).is_dir() {
        return Ok(target.to_owned());
    }
    let dir = Path::new(target);
    if dir.join("master.m3u8").is_file() {
        return Ok(dir.join("master.m3u8").to_string_lossy().into_owned());
    }
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Fetch {
            uri: target.to_owned(),
            msg: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "m3u8"))
        .collect();
    found.sort();
    let text = |p: &Path| std::fs::read(p).unwrap_or_default();
    let pick = found
        .iter()
        .find(|p| m3u8_rs::is_master_playlist(&text(p)))
        .or(found.first().filter(|_| found.len() == 1));
    pick.map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| Error::NotPlaylist {
            uri: target.to_owned(),
            msg: format!(
                "directory with {} .m3u8 files and no master.m3u8: name the playlist",
                found.len()
            ),
        })
}

/// RFC 8216bis 4: a playlist is identified by its path (`.m3u8`, `.m3u`) or its HTTP
/// Content-Type; Apple 10.4: served as `application/vnd.apple.mpegurl`.
fn check_identity(uri: &str, content_type: Option<&str>, report: &mut Report) {
    if !is_url(uri) {
        return;
    }
    let ct = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let typed = ct == "application/vnd.apple.mpegurl" || ct == "audio/mpegurl";
    let path = uri
        .split(['?', '#'])
        .next()
        .unwrap_or(uri)
        .to_ascii_lowercase();
    let named = path.ends_with(".m3u8") || path.ends_with(".m3u");
    if !named && !typed {
        report.must("RFC 8216bis 4", uri, Location::Whole, format!("neither the path ends in .m3u8/.m3u nor is the Content-Type a playlist type ({ct:?})"));
    } else if ct != "application/vnd.apple.mpegurl" {
        report.should(
            "Apple 10.4",
            uri,
            Location::Whole,
            format!("playlist served as {ct:?}, not application/vnd.apple.mpegurl"),
        );
    }
}

/// A live playlist cached longer than half its target duration freezes players: clients
/// reload after ½ target duration when nothing changed (RFC 8216 6.3.4), so the server SHOULD
/// say so in its caching headers (RFC 8216bis 6.2.2).
fn check_cache(pl: &MediaPlaylist, cache_control: Option<&str>, report: &mut Report) {
    let (Some(cc), Some(target), false) = (cache_control, pl.target, pl.end_list) else {
        return;
    };
    let max_age = cc.split(',').find_map(|d| {
        let (k, v) = d.trim().split_once('=')?;
        (k.eq_ignore_ascii_case("max-age") || k.eq_ignore_ascii_case("s-maxage"))
            .then(|| v.trim().parse::<u64>().ok())?
    });
    if let Some(age) = max_age.filter(|&a| a as f64 > target as f64 / 2.0) {
        report.should("RFC 8216bis 6.2.2", &pl.uri, Location::Whole, format!("live playlist cacheable for {age} s (Cache-Control: {cc}), more than half its target duration {target} s"));
    }
}

/// Playlist bytes as text (RFC 8216bis 4.1: UTF-8, no BOM).
fn playlist_text(uri: &str, body: Vec<u8>, report: &mut Report) -> Result<String> {
    let text = String::from_utf8(body).map_err(|e| Error::NotPlaylist {
        uri: uri.to_owned(),
        msg: format!("not UTF-8 ({e})"),
    })?;
    if let Some(t) = text.strip_prefix('\u{feff}') {
        report.must(
            "RFC 8216bis 4.1",
            uri,
            Location::Line(1),
            "playlist starts with a byte order mark",
        );
        return Ok(t.to_owned());
    }
    Ok(text)
}

/// Our model of a media playlist, cross-checked with m3u8-rs as an independent parser.
fn parse_checked(uri: &str, text: &str, report: &mut Report) -> MediaPlaylist {
    let pl = playlist::parse_media(uri, text, report);
    match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
        Err(e) => report.must(
            "RFC 8216bis 4.1",
            uri,
            Location::Whole,
            format!("m3u8-rs cannot parse the media playlist: {e:?}"),
        ),
        Ok(m) if m.segments.len() != pl.segments.len() => report.must(
            "RFC 8216bis 4.1",
            uri,
            Location::Whole,
            format!(
                "m3u8-rs reads {} segments where {} URI lines follow an EXTINF",
                m.segments.len(),
                pl.segments.len()
            ),
        ),
        Ok(_) => {}
    }
    pl
}

struct Validator<'a> {
    fetcher: Fetcher,
    opts: &'a Options,
}

impl Validator<'_> {
    /// A multivariant playlist and its renditions. Live renditions are followed at the same
    /// time, one thread each, so that `--live-seconds` is the whole run's length.
    fn master(&self, uri: &str, text: &str, report: &mut Report) {
        if self.opts.live_seconds == 0 {
            let load = |u: &str, iframe, independent, r: &mut Report| {
                self.rendition(u, iframe, independent, r)
            };
            master::check_master(uri, text, load, report);
            return;
        }
        let (uris, independent) = master::rendition_uris(uri, text);
        let mut done: HashMap<String, (Rendition, Report)> = std::thread::scope(|s| {
            let jobs: Vec<_> = uris
                .into_iter()
                .map(|(u, iframe)| {
                    s.spawn(move || {
                        let mut r = Report::default();
                        let rendition = self.rendition(&u, iframe, independent, &mut r);
                        (u, (rendition, r))
                    })
                })
                .collect();
            jobs.into_iter().filter_map(|j| j.join().ok()).collect()
        });
        let load = |u: &str, iframe, independent, r: &mut Report| match done.remove(u) {
            Some((rendition, found)) => {
                r.absorb(found);
                rendition
            }
            None => self.rendition(u, iframe, independent, r),
        };
        let latest = self.reread_master(uri, report);
        master::check_master(uri, latest.as_deref().unwrap_or(text), load, report);
    }

    /// The multivariant playlist as it stands after following its renditions. A live one may
    /// be revised as segments arrive (RFC 8216bis 4.4.6.2: before all segments exist,
    /// BANDWIDTH is of a representative period; Apple 1.26: live within 10 % of what is
    /// measured): the segments measured up to now are judged against what is declared now,
    /// not against a copy read before they existed. `None` when it is no longer a
    /// multivariant playlist or cannot be read (reported); the first reading then stands.
    fn reread_master(&self, uri: &str, report: &mut Report) -> Option<String> {
        // The first reading reported its identity and encoding findings already.
        let mut again = Report::default();
        match read_playlist(&self.fetcher, uri, &mut again) {
            Ok((text, _)) if m3u8_rs::is_master_playlist(text.as_bytes()) => {
                report.playlists += 1;
                Some(text)
            }
            Ok(_) => {
                let msg = "no longer a multivariant playlist after following its renditions";
                report.must("RFC 8216bis 4.1", uri, Location::Whole, msg);
                None
            }
            Err(e) => {
                let section = match e {
                    Error::Fetch { .. } => "RFC 8216bis 6.2.1",
                    Error::NotPlaylist { .. } => "RFC 8216bis 4.1",
                };
                let msg = format!("read again after following its renditions: {e}");
                report.must(section, uri, Location::Whole, msg);
                None
            }
        }
    }

    /// Reads and parses a media playlist; a failure is a finding (RFC 8216bis 6.2.1).
    fn load_playlist(&self, uri: &str, report: &mut Report) -> Option<MediaPlaylist> {
        match read_playlist(&self.fetcher, uri, report) {
            Ok((text, cache_control)) => {
                let pl = parse_checked(uri, &text, report);
                check_cache(&pl, cache_control.as_deref(), report);
                Some(pl)
            }
            Err(e) => {
                let section = match e {
                    Error::Fetch { .. } => "RFC 8216bis 6.2.1",
                    Error::NotPlaylist { .. } => "RFC 8216bis 4.1",
                };
                report.must(section, uri, Location::Whole, e.to_string());
                None
            }
        }
    }

    /// Validates one rendition named by a multivariant playlist.
    fn rendition(
        &self,
        uri: &str,
        iframe: bool,
        independent: bool,
        report: &mut Report,
    ) -> Rendition {
        let Some(pl) = self.load_playlist(uri, report) else {
            return Rendition::default();
        };
        if iframe && !pl.i_frames_only {
            report.must(
                "RFC 8216bis 4.4.6.3",
                uri,
                Location::Whole,
                "named by EXT-X-I-FRAME-STREAM-INF but has no EXT-X-I-FRAMES-ONLY",
            );
        }
        let mut server_control: Option<Vec<String>> = pl.server_control.as_ref().map(|(_, a)| {
            a.iter()
                .map(|a| format!("{}={}", a.name, a.value))
                .collect()
        });
        if let Some(sc) = server_control.as_mut() {
            sc.sort();
        }
        let (target, live, part_target) = (pl.target, !pl.end_list, pl.part_target);
        Rendition {
            measured: self.media(pl, independent, report),
            target,
            ok: true,
            live,
            server_control: server_control.map(|sc| sc.join(",")),
            part_target,
        }
    }

    /// Validates a media playlist's segments (I-frame entries for an I-frame playlist);
    /// follows it when it is live and `--live-seconds` asks.
    fn media(&self, pl: MediaPlaylist, independent: bool, report: &mut Report) -> media::Measured {
        llhls::tag_rules(&pl, report);
        if !pl.end_list && is_url(&pl.uri) && llhls::can_block(&pl) {
            llhls::server_rules(&self.fetcher, &pl, report);
        }
        if !pl.end_list && self.opts.live_seconds > 0 {
            return self.follow(pl, independent, report);
        }
        live::snapshot_rules(&pl, None, report);
        if pl.i_frames_only {
            iframe::check_iframes(&self.fetcher, &pl, report)
        } else {
            for s in &pl.segments {
                llhls::check_parts(&self.fetcher, s, report);
            }
            media::check_segments(&self.fetcher, &pl, independent, report)
        }
    }

    fn follow(&self, pl: MediaPlaylist, independent: bool, report: &mut Report) -> media::Measured {
        let mut run = LiveRun {
            v: self,
            uri: pl.uri.clone(),
            iframes: pl.i_frames_only,
            independent,
            checker: media::SegmentChecker::new(&self.fetcher),
            iframe_measured: media::Measured::default(),
        };
        live::follow(pl, self.opts.live_seconds, &mut run, report);
        if run.iframes {
            run.iframe_measured
        } else {
            run.checker.measured
        }
    }
}

/// One live playlist being followed.
struct LiveRun<'a> {
    v: &'a Validator<'a>,
    uri: String,
    iframes: bool,
    independent: bool,
    checker: media::SegmentChecker<'a>,
    iframe_measured: media::Measured,
}

impl live::Follower for LiveRun<'_> {
    fn reload(&mut self, report: &mut Report) -> Option<MediaPlaylist> {
        self.v.load_playlist(&self.uri, report)
    }

    fn added(&mut self, cur: &MediaPlaylist, new: &[playlist::Segment], report: &mut Report) {
        llhls::tag_rules(cur, report);
        if self.iframes {
            let batch = MediaPlaylist {
                segments: new.to_vec(),
                ..cur.clone()
            };
            let m = iframe::check_iframes(&self.v.fetcher, &batch, report);
            self.iframe_measured.absorb(m);
            return;
        }
        for s in new {
            self.checker
                .check(cur, s, self.independent || cur.independent, report);
            llhls::check_parts(&self.v.fetcher, s, report);
        }
    }

    /// RFC 8216bis 6.2.2: a segment removed from the playlist MUST stay available for its
    /// duration plus the playlist's; checked on the newest one gone, right after it left.
    fn removed(&mut self, gone: &[playlist::Segment], report: &mut Report) {
        let Some(s) = gone.last() else { return };
        let range = Some(s.range.map_or((0, 188), |r| (r.offset, r.len.min(188))));
        match self.v.fetcher.get(&s.uri, range) {
            Ok(g) if (200..300).contains(&g.status) => {}
            Ok(g) => report.must("RFC 8216bis 6.2.2", &s.uri, Location::Whole, format!("segment {} answered {} right after it left the playlist (removed segments must stay available)", s.msn, g.status)),
            Err(e) => report.must("RFC 8216bis 6.2.2", &s.uri, Location::Whole, format!("segment {} cannot be read right after it left the playlist: {e}", s.msn)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8216bis 6.2.2: the newest segment that left must still be there.
    #[test]
    fn removed_segments_stay_available() {
        use live::Follower;
        let dir = std::env::temp_dir().join(format!("validate-removed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.ts"), [0x47u8; 188]).unwrap();
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n";
        let mut r = Report::default();
        let pl = playlist::parse_media(&dir.join("p.m3u8").to_string_lossy(), text, &mut r);
        let opts = Options::default();
        let v = Validator {
            fetcher: Fetcher::default(),
            opts: &opts,
        };
        let mut run = LiveRun {
            v: &v,
            uri: pl.uri.clone(),
            iframes: false,
            independent: false,
            checker: media::SegmentChecker::new(&v.fetcher),
            iframe_measured: media::Measured::default(),
        };
        for (gone, want) in [(&pl.segments[..1], 0), (&pl.segments[..2], 1)] {
            let mut r = Report::default();
            run.removed(gone, &mut r);
            assert_eq!(r.findings.len(), want, "{:#?}", r.findings);
            assert!(r.findings.iter().all(|f| f.section == "RFC 8216bis 6.2.2"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A live multivariant playlist revised as segments arrive (BANDWIDTH raised for a heavier
    /// segment, written before the media playlist lists it) is judged as it stands after the
    /// follow, not as first read; one left stale is still found.
    #[test]
    fn live_master_is_judged_as_revised() {
        let master = |bw: u64| {
            format!("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH={bw},AVERAGE-BANDWIDTH={bw}\ns.m3u8\n")
        };
        let media = |segs: &[&str]| {
            let mut t = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n".to_owned();
            for s in segs {
                t += &format!("#EXTINF:1.000,\n{s}\n");
            }
            t
        };
        for (revised, want) in [(true, 0), (false, 1)] {
            let dir = std::env::temp_dir()
                .join(format!("validate-revised-{}-{revised}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            // 1 s segments of 188 and 1880 bytes: 1504 and 15040 bit/s.
            std::fs::write(dir.join("a.ts"), [0x47u8; 188]).unwrap();
            std::fs::write(dir.join("b.ts"), [0x47u8; 1880]).unwrap();
            std::fs::write(dir.join("master.m3u8"), master(1600)).unwrap();
            std::fs::write(dir.join("s.m3u8"), media(&["a.ts"])).unwrap();
            let d = dir.clone();
            let producer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                if revised {
                    std::fs::write(d.join("master.m3u8"), master(16_000)).unwrap();
                }
                std::fs::write(d.join("s.m3u8"), media(&["a.ts", "b.ts"])).unwrap();
            });
            let opts = Options {
                live_seconds: 2,
                ..Options::default()
            };
            let r = validate(&dir.join("master.m3u8").to_string_lossy(), &opts).unwrap();
            producer.join().unwrap();
            let bandwidth: Vec<_> = r
                .findings
                .iter()
                .filter(|f| f.message.contains("BANDWIDTH=") && f.message.contains("peak"))
                .collect();
            assert_eq!(bandwidth.len(), want, "revised {revised}: {bandwidth:#?}");
            // Progress: both segments were read.
            assert!(r.segments >= 2, "{} segments", r.segments);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn live_playlist_lifetime() {
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n";
        let vod = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n";
        let cases = [
            (live, Some("public, max-age=2"), 0),
            (live, Some("public, max-age=3"), 1),
            (live, Some("public, s-maxage=60"), 1),
            (live, Some("no-cache"), 0),
            (live, None, 0),
            (vod, Some("public, max-age=60"), 0),
        ];
        for (text, cc, want) in cases {
            let mut r = Report::default();
            let pl = playlist::parse_media("http://h/a.m3u8", text, &mut r);
            check_cache(&pl, cc, &mut r);
            assert_eq!(r.findings.len(), want, "{cc:?}: {:#?}", r.findings);
        }
    }

    #[test]
    fn playlist_identity() {
        let m = Some("MUST");
        let s = Some("SHOULD");
        let cases = [
            (
                "http://h/a.m3u8",
                Some("application/vnd.apple.mpegurl"),
                None,
            ),
            (
                "http://h/a.m3u8?_HLS_msn=3",
                Some("application/vnd.apple.mpegurl; charset=utf-8"),
                None,
            ),
            ("http://h/a.m3u8", Some("text/plain"), s),
            ("http://h/a.m3u8", None, s),
            ("http://h/live", Some("audio/mpegurl"), s),
            ("http://h/live", Some("text/plain"), m),
            ("/srv/a.txt", None, None),
        ];
        for (uri, ct, want) in cases {
            let mut r = Report::default();
            check_identity(uri, ct, &mut r);
            let got = r.findings.first().map(|f| f.level.to_string());
            assert_eq!(got.as_deref(), want, "{uri} {ct:?}");
            assert!(r.findings.len() <= 1);
        }
    }
}
