// SPDX-License-Identifier: MIT OR Apache-2.0
//! HLS stream validator: the Linux counterpart of Apple's mediastreamvalidator.
//!
//! [`validate`] reads a multivariant or media playlist (file or HTTP), every rendition and
//! I-frame playlist it names, and the segments, and returns a [`Report`] of [`Finding`]s: each
//! a broken rule with its level (MUST / SHOULD), the section of RFC 8216bis or Apple's HLS
//! authoring specification, the resource and the line or byte. Families of checks, one module
//! each: playlist syntax ([`playlist`]), segments and media ([`media`], over [`demux`]),
//! multivariant vs bitstream ([`master`]), I-frame playlists ([`iframe`]).
//!
//! Never prints (`tracing` only); errors only when the entry playlist cannot be read at all.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod demux;
pub mod error;
pub mod fetch;
pub mod iframe;
pub mod lines;
pub mod master;
pub mod media;
pub mod playlist;
pub mod report;

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
    let got = fetcher.get(&entry, None).map_err(|msg| Error::Fetch {
        uri: entry.clone(),
        msg,
    })?;
    if !(200..300).contains(&got.status) {
        return Err(Error::Fetch {
            uri: entry,
            msg: format!("HTTP {}", got.status),
        });
    }
    let mut report = Report::default();
    let text = playlist_text(&entry, got.body, &mut report)?;
    report.playlists += 1;
    let v = Validator {
        fetcher,
        _opts: opts,
    };
    if m3u8_rs::is_master_playlist(text.as_bytes()) {
        master::check_master(
            &entry,
            &text,
            |uri, iframe, independent, report| v.rendition(uri, iframe, independent, report),
            &mut report,
        );
    } else {
        let pl = parse_checked(&entry, &text, &mut report);
        v.media(&pl, false, &mut report);
    }
    Ok(report)
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
    _opts: &'a Options,
}

impl Validator<'_> {
    /// Validates one rendition named by a multivariant playlist.
    fn rendition(
        &self,
        uri: &str,
        iframe: bool,
        independent: bool,
        report: &mut Report,
    ) -> Rendition {
        let got = match self.fetcher.get(uri, None) {
            Ok(g) if (200..300).contains(&g.status) => g,
            Ok(g) => {
                report.must(
                    "RFC 8216bis 6.2.1",
                    uri,
                    Location::Whole,
                    format!("HTTP {} for a listed playlist", g.status),
                );
                return Rendition::default();
            }
            Err(e) => {
                report.must(
                    "RFC 8216bis 6.2.1",
                    uri,
                    Location::Whole,
                    format!("listed playlist cannot be read: {e}"),
                );
                return Rendition::default();
            }
        };
        report.playlists += 1;
        let text = match playlist_text(uri, got.body, report) {
            Ok(t) => t,
            Err(e) => {
                report.must("RFC 8216bis 4.1", uri, Location::Whole, e.to_string());
                return Rendition::default();
            }
        };
        let pl = parse_checked(uri, &text, report);
        if iframe && !pl.i_frames_only {
            report.must(
                "RFC 8216bis 4.4.6.3",
                uri,
                Location::Whole,
                "named by EXT-X-I-FRAME-STREAM-INF but has no EXT-X-I-FRAMES-ONLY",
            );
        }
        Rendition {
            measured: self.media(&pl, independent, report),
            target: pl.target,
            ok: true,
        }
    }

    /// Validates a media playlist's segments (I-frame entries for an I-frame playlist).
    fn media(&self, pl: &MediaPlaylist, independent: bool, report: &mut Report) -> media::Measured {
        if pl.i_frames_only {
            iframe::check_iframes(&self.fetcher, pl, report)
        } else {
            media::check_segments(&self.fetcher, pl, independent, report)
        }
    }
}
