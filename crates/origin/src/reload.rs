// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one door every playlist request goes through: `open_playlist`.
//!
//! Today it validates the LL-HLS delivery directives (RFC 8216bis 6.2.5) and opens the
//! playlist at once. Blocking playlist reload (6.2.5.2: hold the request until media
//! sequence number `_HLS_msn` — and part `_HLS_part` — exists, 503 after 3× target duration,
//! ignore the directives once `#EXT-X-ENDLIST` is present) belongs here, driven by a live
//! source that can report its last MSN/part; nothing else in the origin needs to change.

use std::io;

use crate::path::ObjectPath;
use crate::source::{Object, ObjectSource};

/// Delivery directives of a playlist request (RFC 8216bis 6.2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// `_HLS_msn`: the media sequence number the client waits for.
    pub msn: Option<u64>,
    /// `_HLS_part`: the part index within `msn` (only together with `msn`).
    pub part: Option<u64>,
    /// `_HLS_skip`: `YES` (skip segments) or `v2` (also skip date ranges) — a delta update.
    pub skip: Option<Skip>,
}

/// The `_HLS_skip` value (RFC 8216bis 6.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Yes,
    V2,
}

/// Why a playlist request failed.
#[derive(Debug)]
pub(crate) enum PlaylistError {
    /// Malformed directives: 400 (RFC 8216bis 6.2.5.2).
    BadDirectives(&'static str),
    /// The source failed (not found → 404, else 500).
    Io(io::Error),
}

impl Directives {
    /// Parses the directives out of a query string; other parameters are ignored.
    pub fn parse(query: Option<&str>) -> Result<Self, &'static str> {
        let mut d = Directives::default();
        let Some(query) = query else { return Ok(d) };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "_HLS_msn" => {
                    d.msn = Some(
                        value
                            .parse()
                            .map_err(|_| "_HLS_msn is not a decimal integer")?,
                    )
                }
                "_HLS_part" => {
                    d.part = Some(
                        value
                            .parse()
                            .map_err(|_| "_HLS_part is not a decimal integer")?,
                    )
                }
                "_HLS_skip" => {
                    d.skip = Some(match value {
                        "YES" => Skip::Yes,
                        "v2" => Skip::V2,
                        _ => return Err("_HLS_skip must be YES or v2"),
                    })
                }
                _ => {}
            }
        }
        // 6.2.5.2: "_HLS_part without _HLS_msn" is a 400.
        if d.part.is_some() && d.msn.is_none() {
            return Err("_HLS_part requires _HLS_msn");
        }
        Ok(d)
    }

    /// Whether the request asks to block until a segment or part exists.
    pub fn is_blocking(&self) -> bool {
        self.msn.is_some()
    }
}

/// Opens a playlist for a request with the given query string. The hook for blocking reload.
pub(crate) async fn open_playlist<S: ObjectSource>(
    source: &S,
    path: &ObjectPath,
    query: Option<&str>,
) -> Result<Object, PlaylistError> {
    let directives = Directives::parse(query).map_err(PlaylistError::BadDirectives)?;
    if directives.is_blocking() {
        // No source can report its media sequence yet: a filesystem playlist is answered as
        // it is now, which is what 6.2.5.2 asks for once the segment exists.
        tracing::trace!(
            path = path.as_str(),
            ?directives,
            "blocking reload not supported by source"
        );
    }
    source.open(path).await.map_err(PlaylistError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_table() {
        let d = |msn, part, skip| Ok(Directives { msn, part, skip });
        let cases: &[(Option<&str>, Result<Directives, &str>)] = &[
            (None, d(None, None, None)),
            (Some(""), d(None, None, None)),
            (Some("a=1&b"), d(None, None, None)),
            (Some("_HLS_msn=12"), d(Some(12), None, None)),
            (Some("_HLS_msn=12&_HLS_part=3"), d(Some(12), Some(3), None)),
            (
                Some("_HLS_msn=12&_HLS_skip=YES"),
                d(Some(12), None, Some(Skip::Yes)),
            ),
            (Some("_HLS_skip=v2"), d(None, None, Some(Skip::V2))),
            (Some("_HLS_part=3"), Err("_HLS_part requires _HLS_msn")),
            (Some("_HLS_msn=x"), Err("_HLS_msn is not a decimal integer")),
            (
                Some("_HLS_msn=-1"),
                Err("_HLS_msn is not a decimal integer"),
            ),
            (
                Some("_HLS_msn=1&_HLS_part="),
                Err("_HLS_part is not a decimal integer"),
            ),
            (Some("_HLS_skip=no"), Err("_HLS_skip must be YES or v2")),
        ];
        for (query, want) in cases {
            assert_eq!(Directives::parse(*query), *want, "{query:?}");
        }
    }
}
