// SPDX-License-Identifier: MIT OR Apache-2.0
//! What validation finds: one [`Finding`] per broken rule, with its level (MUST / SHOULD), the
//! spec section, the resource and where in it.

use std::fmt;

use serde::Serialize;

/// How binding the broken rule is: RFC 2119 MUST (the stream is invalid) or SHOULD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// Where in the resource the finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "at")]
pub enum Location {
    /// The resource as a whole (an HTTP response, a missing file).
    Whole,
    /// A playlist line, 1-based.
    Line(usize),
    /// A byte offset in a segment (from the start of the segment's byte range).
    Byte(u64),
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    /// The rule's section, e.g. `RFC 8216bis 4.4.3.1` or `Apple 7.4`.
    pub section: &'static str,
    /// The playlist or segment the finding is about, as resolved (path or URL).
    pub uri: String,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.location {
            Location::Whole => String::new(),
            Location::Line(n) => format!(":{n}"),
            Location::Byte(b) => format!("@{b}"),
        };
        write!(
            f,
            "{} [{}] {}{at}: {}",
            self.level, self.section, self.uri, self.message
        )
    }
}

/// Everything one validation run found, in the order found, plus what was looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Playlists read (each reload of a live playlist counts).
    pub playlists: usize,
    /// Segments (and parts, I-frame ranges) fetched and demuxed.
    pub segments: usize,
    /// Put before each message while set (the variant a multivariant finding is about).
    #[serde(skip)]
    subject: Option<String>,
}

impl Report {
    /// Whether any MUST rule is broken.
    pub fn has_must(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Must)
    }

    /// Whether a finding of `level` cites `section` (tests and callers that look for one rule).
    pub fn has(&self, level: Level, section: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.level == level && f.section == section)
    }

    pub(crate) fn push(
        &mut self,
        level: Level,
        section: &'static str,
        uri: &str,
        location: Location,
        message: impl Into<String>,
    ) {
        let message = match &self.subject {
            Some(s) => format!("{s}: {}", message.into()),
            None => message.into(),
        };
        tracing::debug!(%level, section, uri, "{message}");
        self.add(Finding {
            level,
            section,
            uri: uri.to_owned(),
            location,
            message,
        });
    }

    /// Adds a finding unless the same one is there already, wherever (a live playlist reloaded
    /// many times repeats its findings, at other lines as the window slides; messages name the
    /// segment they are about).
    fn add(&mut self, f: Finding) {
        let same = |g: &Finding| {
            g.level == f.level && g.section == f.section && g.uri == f.uri && g.message == f.message
        };
        if !self.findings.iter().any(same) {
            self.findings.push(f);
        }
    }

    /// Names what the next findings are about (None: stop naming it).
    pub(crate) fn subject(&mut self, s: Option<String>) {
        self.subject = s;
    }

    /// Takes in the findings and counts of a report made apart (one rendition's thread).
    pub(crate) fn absorb(&mut self, other: Report) {
        for f in other.findings {
            self.add(f);
        }
        self.playlists += other.playlists;
        self.segments += other.segments;
    }

    pub(crate) fn must(
        &mut self,
        section: &'static str,
        uri: &str,
        at: Location,
        msg: impl Into<String>,
    ) {
        self.push(Level::Must, section, uri, at, msg);
    }

    pub(crate) fn should(
        &mut self,
        section: &'static str,
        uri: &str,
        at: Location,
        msg: impl Into<String>,
    ) {
        self.push(Level::Should, section, uri, at, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_finding() {
        let cases = [
            (
                Location::Line(7),
                "MUST [RFC 8216bis 4.4.3.1] a.m3u8:7: too long",
            ),
            (
                Location::Byte(188),
                "MUST [RFC 8216bis 4.4.3.1] a.m3u8@188: too long",
            ),
            (
                Location::Whole,
                "MUST [RFC 8216bis 4.4.3.1] a.m3u8: too long",
            ),
        ];
        for (at, want) in cases {
            let mut r = Report::default();
            r.must("RFC 8216bis 4.4.3.1", "a.m3u8", at, "too long");
            assert_eq!(r.findings[0].to_string(), want);
            assert!(r.has_must());
            assert!(r.has(Level::Must, "RFC 8216bis 4.4.3.1"));
            assert!(!r.has(Level::Should, "RFC 8216bis 4.4.3.1"));
        }
    }

    /// A live playlist reloaded repeats a finding at other lines: one finding. A subject set
    /// for a variant keeps two variants' equal messages apart.
    #[test]
    fn repeated_findings_once_subjects_apart() {
        let mut r = Report::default();
        r.must("S", "p.m3u8", Location::Line(9), "a.ts: too long");
        r.must("S", "p.m3u8", Location::Line(6), "a.ts: too long");
        r.must("S", "p.m3u8", Location::Line(9), "b.ts: too long");
        for v in ["v1.m3u8", "v2.m3u8"] {
            r.subject(Some(v.into()));
            r.should("S", "m.m3u8", Location::Line(3), "no AVERAGE-BANDWIDTH");
            r.subject(None);
        }
        let got: Vec<_> = r.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            got,
            vec![
                "a.ts: too long",
                "b.ts: too long",
                "v1.m3u8: no AVERAGE-BANDWIDTH",
                "v2.m3u8: no AVERAGE-BANDWIDTH"
            ]
        );
    }
}
