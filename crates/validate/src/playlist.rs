// SPDX-License-Identifier: MIT OR Apache-2.0
//! Media playlists: the model the other checks work on (segments with their line, byte range,
//! map, key, date, parts; the LL-HLS tags m3u8-rs 6 drops), built from the lines, and the
//! syntax rules found while building it (RFC 8216bis 4.1–4.4.5, version rules of RFC 8216 7).
//! m3u8-rs parses the same text as an independent check that the playlist is readable.

use crate::fetch::resolve;
use crate::lines::{self, Attr, Item};
use crate::report::{Location, Report};

/// A byte range resolved to its offset (RFC 8216bis 4.4.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub offset: u64,
    pub len: u64,
}

/// EXT-X-MAP in force for a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRef {
    pub uri: String,
    pub range: Option<Range>,
}

/// EXT-X-KEY in force for a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub method: String,
    pub uri: Option<String>,
    /// The IV attribute (absent: the media sequence number, RFC 8216bis 5.2).
    pub iv: Option<[u8; 16]>,
    pub line: usize,
}

/// EXT-X-PART (RFC 8216bis 4.4.4.9).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub uri: String,
    pub duration: f64,
    pub independent: bool,
    pub range: Option<Range>,
    pub gap: bool,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media sequence number.
    pub msn: u64,
    /// Discontinuity sequence number.
    pub dsn: u64,
    /// Resolved URI.
    pub uri: String,
    /// Line of the URI.
    pub line: usize,
    /// Line of its EXTINF.
    pub extinf_line: usize,
    pub duration: f64,
    pub range: Option<Range>,
    pub discontinuity: bool,
    /// EXT-X-PROGRAM-DATE-TIME in milliseconds since the epoch.
    pub pdt_ms: Option<i64>,
    pub map: Option<MapRef>,
    pub key: Option<Key>,
    pub gap: bool,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaPlaylist {
    pub uri: String,
    pub version: u64,
    pub target: Option<u64>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub end_list: bool,
    pub playlist_type: Option<String>,
    pub i_frames_only: bool,
    pub independent: bool,
    pub segments: Vec<Segment>,
    /// Parts of the segment still being produced (after the last URI line).
    pub pending_parts: Vec<Part>,
    /// PART-INF PART-TARGET.
    pub part_target: Option<f64>,
    pub server_control: Option<(usize, Vec<Attr>)>,
    pub preload_hints: Vec<(usize, Vec<Attr>)>,
    pub rendition_reports: Vec<(usize, Vec<Attr>)>,
    /// EXT-X-SKIP SKIPPED-SEGMENTS (a delta update).
    pub skipped: u64,
}

impl MediaPlaylist {
    /// Media sequence number of the last complete segment.
    pub fn last_msn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.msn)
    }
}

const S_EXTM3U: &str = "RFC 8216bis 4.4.1.1";
const S_TARGET: &str = "RFC 8216bis 4.4.3.1";
const S_EXTINF: &str = "RFC 8216bis 4.4.4.1";
const S_BYTERANGE: &str = "RFC 8216bis 4.4.4.2";
const S_KEY: &str = "RFC 8216bis 4.4.4.4";
const S_MAP: &str = "RFC 8216bis 4.4.4.5";
const S_PDT: &str = "RFC 8216bis 4.4.4.6";
const S_PART: &str = "RFC 8216bis 4.4.4.9";
const S_ATTRS: &str = "RFC 8216bis 4.2";
const S_ONCE: &str = "RFC 8216bis 4.4";
pub(crate) const S_VERSION: &str = "RFC 8216 7";

/// Builds the model of media playlist `uri` from `text`, reporting syntax findings.
pub fn parse_media(uri: &str, text: &str, report: &mut Report) -> MediaPlaylist {
    let mut b = Builder::new(uri);
    let lines = lines::scan(text);
    if lines.first().and_then(|l| l.tag()).map(|t| t.0) != Some("EXTM3U") {
        report.must(
            S_EXTM3U,
            uri,
            Location::Line(1),
            "the first line MUST be #EXTM3U",
        );
    }
    for line in &lines {
        match &line.item {
            Item::Tag { name, value } => b.tag(name, value.as_deref(), line.no, report),
            Item::Uri(u) => b.uri(u, line.no, report),
            Item::Comment | Item::Blank => {}
        }
    }
    b.finish(report)
}

struct Builder {
    pl: MediaPlaylist,
    uri: String,
    extinf: Option<(f64, usize)>,
    range: Option<(u64, Option<u64>, usize)>,
    discontinuity: bool,
    pdt: Option<i64>,
    gap: bool,
    map: Option<MapRef>,
    key: Option<Key>,
    parts: Vec<Part>,
    /// End of the previous byte range per URI (offset-less ranges continue it).
    next_offset: Option<(String, u64)>,
    part_next_offset: Option<(String, u64)>,
    seen: Vec<String>,
    needs_version: (u64, usize, &'static str),
    version_line: usize,
    dsn: u64,
}

impl Builder {
    fn new(uri: &str) -> Self {
        Builder {
            pl: MediaPlaylist {
                uri: uri.to_owned(),
                version: 1,
                ..Default::default()
            },
            uri: uri.to_owned(),
            extinf: None,
            range: None,
            discontinuity: false,
            pdt: None,
            gap: false,
            map: None,
            key: None,
            parts: Vec::new(),
            next_offset: None,
            part_next_offset: None,
            seen: Vec::new(),
            needs_version: (1, 0, ""),
            version_line: 0,
            dsn: 0,
        }
    }

    /// Records that a feature at `line` needs protocol version `v` (RFC 8216 7).
    fn need(&mut self, v: u64, line: usize, what: &'static str) {
        if v > self.needs_version.0 {
            self.needs_version = (v, line, what);
        }
    }

    /// Tags that MUST NOT appear more than once (RFC 8216bis 4.4.1.2, 4.4.3.x).
    fn once(&mut self, name: &str, line: usize, report: &mut Report) {
        if self.seen.iter().any(|s| s == name) {
            report.must(
                S_ONCE,
                &self.uri,
                Location::Line(line),
                format!("#{name} appears more than once"),
            );
        } else {
            self.seen.push(name.to_owned());
        }
    }

    fn number(&self, name: &str, v: Option<&str>, line: usize, report: &mut Report) -> Option<u64> {
        let n = v.and_then(|v| v.trim().parse::<u64>().ok());
        if n.is_none() {
            report.must(
                S_ONCE,
                &self.uri,
                Location::Line(line),
                format!("#{name} needs a decimal-integer value, found {v:?}"),
            );
        }
        n
    }

    fn attrs(
        &self,
        name: &str,
        v: Option<&str>,
        line: usize,
        report: &mut Report,
    ) -> Option<Vec<Attr>> {
        match lines::attrs(v.unwrap_or("")) {
            Ok(a) => Some(a),
            Err(e) => {
                report.must(
                    S_ATTRS,
                    &self.uri,
                    Location::Line(line),
                    format!("#{name}: {e}"),
                );
                None
            }
        }
    }

    fn tag(&mut self, name: &str, v: Option<&str>, line: usize, report: &mut Report) {
        if !self.header_tag(name, v, line, report) && !self.segment_tag(name, v, line, report) {
            self.ll_tag(name, v, line, report);
        }
    }

    /// Playlist-level tags (RFC 8216bis 4.4.1–4.4.3); false when `name` is none of them.
    fn header_tag(
        &mut self,
        name: &str,
        v: Option<&str>,
        line: usize,
        report: &mut Report,
    ) -> bool {
        match name {
            "EXT-X-VERSION" => {
                self.once(name, line, report);
                self.version_line = line;
                if let Some(n) = self.number(name, v, line, report) {
                    self.pl.version = n;
                }
            }
            "EXT-X-TARGETDURATION" => {
                self.once(name, line, report);
                self.pl.target = self.number(name, v, line, report);
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                self.once(name, line, report);
                self.pl.media_sequence = self.number(name, v, line, report).unwrap_or(0);
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => {
                self.once(name, line, report);
                self.pl.discontinuity_sequence = self.number(name, v, line, report).unwrap_or(0);
                self.dsn = self.pl.discontinuity_sequence;
            }
            "EXT-X-PLAYLIST-TYPE" => {
                self.once(name, line, report);
                let t = v.unwrap_or("").trim();
                if t != "VOD" && t != "EVENT" {
                    report.must(
                        "RFC 8216bis 4.4.3.5",
                        &self.uri,
                        Location::Line(line),
                        format!("PLAYLIST-TYPE must be VOD or EVENT, found {t:?}"),
                    );
                }
                self.pl.playlist_type = Some(t.to_owned());
            }
            "EXT-X-ENDLIST" => self.pl.end_list = true,
            "EXT-X-I-FRAMES-ONLY" => {
                self.pl.i_frames_only = true;
                self.need(4, line, "EXT-X-I-FRAMES-ONLY");
            }
            "EXT-X-INDEPENDENT-SEGMENTS" => self.pl.independent = true,
            "EXT-X-STREAM-INF" | "EXT-X-I-FRAME-STREAM-INF" | "EXT-X-MEDIA" => {
                report.must("RFC 8216bis 4.1", &self.uri, Location::Line(line), format!("#{name} is a multivariant playlist tag; a playlist MUST NOT mix both kinds"));
            }
            _ => return false,
        }
        true
    }

    /// Media segment tags (RFC 8216bis 4.4.4); false when `name` is none of them.
    fn segment_tag(
        &mut self,
        name: &str,
        v: Option<&str>,
        line: usize,
        report: &mut Report,
    ) -> bool {
        match name {
            "EXTINF" => self.extinf(v, line, report),
            "EXT-X-BYTERANGE" => match lines::byte_range(v.unwrap_or("")) {
                Ok((len, off)) => {
                    self.range = Some((len, off, line));
                    self.need(4, line, "EXT-X-BYTERANGE");
                }
                Err(e) => report.must(S_BYTERANGE, &self.uri, Location::Line(line), e),
            },
            "EXT-X-DISCONTINUITY" => self.discontinuity = true,
            "EXT-X-GAP" => self.gap = true,
            "EXT-X-PROGRAM-DATE-TIME" => match parse_date_ms(v.unwrap_or("")) {
                Some(ms) => self.pdt = Some(ms),
                None => report.must(
                    S_PDT,
                    &self.uri,
                    Location::Line(line),
                    format!("malformed date-time {v:?} (ISO 8601 with time zone)"),
                ),
            },
            "EXT-X-MAP" => self.map_tag(v, line, report),
            "EXT-X-KEY" => self.key_tag(v, line, report),
            "EXT-X-PART" => self.part(v, line, report),
            _ => return false,
        }
        true
    }

    /// The LL-HLS tags m3u8-rs 6 does not know (RFC 8216bis 4.4.3.7–8, 4.4.5.2–4).
    fn ll_tag(&mut self, name: &str, v: Option<&str>, line: usize, report: &mut Report) {
        match name {
            "EXT-X-PART-INF" => {
                let a = self.attrs(name, v, line, report).unwrap_or_default();
                self.pl.part_target = lines::get(&a, "PART-TARGET").and_then(|t| t.parse().ok());
                if self.pl.part_target.is_none() {
                    report.must(
                        "RFC 8216bis 4.4.3.7",
                        &self.uri,
                        Location::Line(line),
                        "EXT-X-PART-INF needs PART-TARGET",
                    );
                }
            }
            "EXT-X-SERVER-CONTROL" => {
                self.once(name, line, report);
                let a = self.attrs(name, v, line, report).unwrap_or_default();
                self.pl.server_control = Some((line, a));
            }
            "EXT-X-PRELOAD-HINT" => {
                let a = self.attrs(name, v, line, report).unwrap_or_default();
                self.pl.preload_hints.push((line, a));
            }
            "EXT-X-RENDITION-REPORT" => {
                let a = self.attrs(name, v, line, report).unwrap_or_default();
                self.pl.rendition_reports.push((line, a));
            }
            "EXT-X-SKIP" => {
                let a = self.attrs(name, v, line, report).unwrap_or_default();
                self.pl.skipped = lines::get(&a, "SKIPPED-SEGMENTS")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            }
            _ => {}
        }
    }

    fn extinf(&mut self, v: Option<&str>, line: usize, report: &mut Report) {
        let dur_text = v.unwrap_or("").split(',').next().unwrap_or("").trim();
        match dur_text.parse::<f64>() {
            Ok(d) if d.is_finite() && d >= 0.0 => {
                if dur_text.contains('.') {
                    self.need(3, line, "a decimal-floating-point EXTINF");
                }
                self.extinf = Some((d, line));
            }
            _ => report.must(
                S_EXTINF,
                &self.uri,
                Location::Line(line),
                format!("EXTINF needs a duration, found {v:?}"),
            ),
        }
    }

    fn map_tag(&mut self, v: Option<&str>, line: usize, report: &mut Report) {
        let Some(a) = self.attrs("EXT-X-MAP", v, line, report) else {
            return;
        };
        let Some(u) = lines::get(&a, "URI") else {
            report.must(
                S_MAP,
                &self.uri,
                Location::Line(line),
                "EXT-X-MAP needs a URI",
            );
            return;
        };
        let range = match lines::get(&a, "BYTERANGE").map(lines::byte_range) {
            Some(Ok((len, off))) => Some(Range {
                offset: off.unwrap_or(0),
                len,
            }),
            Some(Err(e)) => {
                report.must(S_MAP, &self.uri, Location::Line(line), e);
                None
            }
            None => None,
        };
        // RFC 8216 7: EXT-X-MAP needs version 5 in I-frame playlists, 6 otherwise (checked at the end).
        self.need(5, line, "EXT-X-MAP");
        self.map = Some(MapRef {
            uri: resolve(&self.uri, u),
            range,
        });
    }

    fn key_tag(&mut self, v: Option<&str>, line: usize, report: &mut Report) {
        let Some(a) = self.attrs("EXT-X-KEY", v, line, report) else {
            return;
        };
        let at = Location::Line(line);
        let method = lines::get(&a, "METHOD").unwrap_or("").to_owned();
        let uri = lines::get(&a, "URI").map(|u| resolve(&self.uri, u));
        match method.as_str() {
            "NONE" if a.len() > 1 => report.must(
                S_KEY,
                &self.uri,
                at,
                "METHOD=NONE MUST NOT have other attributes",
            ),
            "NONE" => {}
            "AES-128" | "SAMPLE-AES" | "SAMPLE-AES-CTR" if uri.is_none() => {
                report.must(S_KEY, &self.uri, at, format!("METHOD={method} needs a URI"))
            }
            "AES-128" | "SAMPLE-AES" | "SAMPLE-AES-CTR" => {}
            m => report.must(
                S_KEY,
                &self.uri,
                at,
                format!("unknown METHOD {m:?} (NONE, AES-128, SAMPLE-AES)"),
            ),
        }
        let mut iv_bytes = None;
        if let Some(iv) = lines::get(&a, "IV") {
            let hex = iv.strip_prefix("0x").or_else(|| iv.strip_prefix("0X"));
            iv_bytes = hex.and_then(parse_iv);
            if iv_bytes.is_none() {
                report.must(
                    S_KEY,
                    &self.uri,
                    at,
                    format!("IV must be a 128-bit hexadecimal-sequence, found {iv:?}"),
                );
            }
            self.need(2, line, "the IV attribute");
        }
        if method == "SAMPLE-AES"
            || lines::get(&a, "KEYFORMAT").is_some()
            || lines::get(&a, "KEYFORMATVERSIONS").is_some()
        {
            self.need(5, line, "SAMPLE-AES or KEYFORMAT/KEYFORMATVERSIONS");
        }
        self.key = (method != "NONE").then_some(Key {
            method,
            uri,
            iv: iv_bytes,
            line,
        });
    }

    fn part(&mut self, v: Option<&str>, line: usize, report: &mut Report) {
        let Some(a) = self.attrs("EXT-X-PART", v, line, report) else {
            return;
        };
        let at = Location::Line(line);
        let (Some(u), Some(d)) = (
            lines::get(&a, "URI"),
            lines::get(&a, "DURATION").and_then(|d| d.parse::<f64>().ok()),
        ) else {
            report.must(S_PART, &self.uri, at, "EXT-X-PART needs URI and DURATION");
            return;
        };
        let uri = resolve(&self.uri, u);
        let range = match lines::get(&a, "BYTERANGE").map(lines::byte_range) {
            Some(Ok((len, off))) => {
                let prev = self
                    .part_next_offset
                    .as_ref()
                    .filter(|(p, _)| *p == uri)
                    .map(|(_, o)| *o);
                let offset = off.or(prev);
                if offset.is_none() {
                    report.must(
                        S_PART,
                        &self.uri,
                        at,
                        "BYTERANGE without offset must follow a part range of the same URI",
                    );
                }
                let r = Range {
                    offset: offset.unwrap_or(0),
                    len,
                };
                self.part_next_offset = Some((uri.clone(), r.offset.saturating_add(r.len)));
                Some(r)
            }
            Some(Err(e)) => {
                report.must(S_PART, &self.uri, at, e);
                None
            }
            None => None,
        };
        self.parts.push(Part {
            uri,
            duration: d,
            independent: lines::get(&a, "INDEPENDENT") == Some("YES"),
            range,
            gap: lines::get(&a, "GAP") == Some("YES"),
            line,
        });
    }

    fn uri(&mut self, written: &str, line: usize, report: &mut Report) {
        let uri = resolve(&self.uri, written);
        let Some((duration, extinf_line)) = self.extinf.take() else {
            report.must(
                S_EXTINF,
                &self.uri,
                Location::Line(line),
                format!("segment {written} has no EXTINF"),
            );
            return;
        };
        let range = self.range.take().map(|(len, off, rline)| {
            let prev = self
                .next_offset
                .as_ref()
                .filter(|(p, _)| *p == uri)
                .map(|(_, o)| *o);
            if off.is_none() && prev.is_none() {
                report.must(
                    S_BYTERANGE,
                    &self.uri,
                    Location::Line(rline),
                    "EXT-X-BYTERANGE without offset must follow a range of the same resource",
                );
            }
            Range {
                offset: off.or(prev).unwrap_or(0),
                len,
            }
        });
        self.next_offset = range.map(|r| (uri.clone(), r.offset.saturating_add(r.len)));
        if self.discontinuity {
            self.dsn = self.dsn.saturating_add(1);
        }
        let msn = self
            .pl
            .media_sequence
            .saturating_add(self.pl.skipped)
            .saturating_add(self.pl.segments.len() as u64);
        self.pl.segments.push(Segment {
            msn,
            dsn: self.dsn,
            uri,
            line,
            extinf_line,
            duration,
            range,
            discontinuity: std::mem::take(&mut self.discontinuity),
            pdt_ms: self.pdt.take(),
            map: self.map.clone(),
            key: self.key.clone(),
            gap: std::mem::take(&mut self.gap),
            parts: std::mem::take(&mut self.parts),
        });
    }

    fn finish(mut self, report: &mut Report) -> MediaPlaylist {
        let uri = self.uri.clone();
        let Some(target) = self.pl.target else {
            report.must(
                S_TARGET,
                &uri,
                Location::Whole,
                "EXT-X-TARGETDURATION is REQUIRED in a media playlist",
            );
            return self.finish_version(report);
        };
        for s in &self.pl.segments {
            // RFC 8216bis 4.4.3.1: EXTINF rounded to the nearest integer MUST be ≤ TARGETDURATION.
            if s.duration.round() > target as f64 {
                report.must(
                    S_TARGET,
                    &uri,
                    Location::Line(s.extinf_line),
                    format!(
                        "{}: EXTINF {:.3} s rounds above EXT-X-TARGETDURATION {target}",
                        s.uri.rsplit('/').next().unwrap_or(&s.uri),
                        s.duration
                    ),
                );
            }
        }
        if self.pl.playlist_type.as_deref() == Some("VOD") && !self.pl.end_list {
            report.should(
                "Apple 8.6",
                &uri,
                Location::Whole,
                "PLAYLIST-TYPE:VOD without EXT-X-ENDLIST",
            );
        }
        self.pl.pending_parts = std::mem::take(&mut self.parts);
        self.finish_version(report)
    }

    fn finish_version(mut self, report: &mut Report) -> MediaPlaylist {
        let (mut need, line, what) = self.needs_version;
        if what == "EXT-X-MAP" && !self.pl.i_frames_only {
            need = 6;
        }
        if self.pl.version < need {
            let at = Location::Line(if self.version_line > 0 {
                self.version_line
            } else {
                line
            });
            report.must(S_VERSION, &self.uri, at, format!("{what} (line {line}) needs EXT-X-VERSION {need} or higher, the playlist says {}", self.pl.version));
        }
        self.pl.uri = std::mem::take(&mut self.uri);
        self.pl
    }
}

/// 32 hexadecimal digits to 16 bytes.
fn parse_iv(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// ISO 8601 date-time with time zone (`2026-12-05T19:24:10.123Z`, `…+01:00`) to epoch ms.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let tz_pos = time.rfind(['Z', 'z', '+', '-'])?;
    let (clock, tz) = time.split_at(tz_pos);
    let offset_min = match tz {
        "Z" | "z" => 0,
        _ => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let t = tz.get(1..)?.replace(':', "");
            let h = t.get(..2)?.parse::<i64>().ok()?;
            let m = t
                .get(2..)
                .filter(|m| !m.is_empty())
                .map_or(Some(0), |m| m.parse::<i64>().ok())?;
            if h > 23 || !(0..=59).contains(&m) {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    let mut c = clock.split(':');
    let (h, mi, sec) = (
        c.next()?.parse::<i64>().ok()?,
        c.next()?.parse::<i64>().ok()?,
        c.next()?.parse::<f64>().ok()?,
    );
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || h > 23
        || mi > 59
        || !(0.0..61.0).contains(&sec)
    {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 - offset_min * 60;
    Some(secs * 1000 + (sec * 1000.0).round() as i64)
}

#[cfg(test)]
#[path = "playlist_tests.rs"]
mod tests;
