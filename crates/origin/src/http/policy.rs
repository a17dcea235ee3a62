// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-object policy: content type (Apple HLS authoring spec 10.4), route kind for metrics,
//! and `Cache-Control`.
//!
//! | object                                              | `Cache-Control`                                   |
//! |-----------------------------------------------------|---------------------------------------------------|
//! | segment / init: `.ts .m4s .aac .ac3 .ec3 .mp3 .vtt`, `.mp4 .m4a .m4v` | `cache_segment` (default `public, max-age=31536000, immutable`) |
//! | playlist with `#EXT-X-ENDLIST` (VOD, finished EVENT) | `cache_vod_playlist` (default `public, max-age=60`) |
//! | multivariant playlist (`#EXT-X-STREAM-INF`/`#EXT-X-MEDIA`, no `#EXTINF`) | `cache_vod_playlist` |
//! | live media playlist                                  | `public, max-age=N`, N = min(`cache_live_playlist_max_age`, ⌊TARGETDURATION / 2⌋); N = 1 when the playlist has no target duration |
//! | other files (`.html .js .css .json`, images, …)      | `cache_other` (default `public, max-age=60`)      |
//! | `/`, `/api/streams`                                  | `no-cache`                                        |
//! | `/favicon.ico` (embedded)                            | `public, max-age=86400`                           |
//! | `/_hlsorigin/hls.js-V/…` (embedded hls.js)           | `public, max-age=31536000, immutable`             |
//! | `/healthz`, `/metrics`                               | `no-store`                                        |
//! | any 4xx / 5xx                                        | `cache_error` (default `public, max-age=1`)       |
//! | refusals sent with `no-store` (signed-URL 403, `/api/events` errors, `/metrics` 401) | `no-store`, kept |
//!
//! Live playlists: a client reloads an unchanged playlist no sooner than half the target
//! duration (RFC 8216 6.3.4), so a cache lifetime of at most that long never hides a new
//! segment from a client longer than the client itself would wait; longer lifetimes froze
//! players behind CDNs (hls.js#1045, ExoPlayer#9364). WebVTT segments are media segments
//! (RFC 8216bis 3.5) and are named uniquely like the others, hence immutable.

use crate::metrics::RouteKind;

/// Content type and kind of a file under the root, from its extension (case-insensitive).
pub(crate) fn classify(ext: Option<&str>) -> (&'static str, RouteKind) {
    const TABLE: &[(&str, &str, RouteKind)] = &[
        ("m3u8", "application/vnd.apple.mpegurl", RouteKind::Playlist),
        ("ts", "video/mp2t", RouteKind::Segment),
        ("m4s", "video/iso.segment", RouteKind::Segment),
        ("aac", "audio/aac", RouteKind::Segment),
        ("ac3", "audio/ac3", RouteKind::Segment),
        ("ec3", "audio/eac3", RouteKind::Segment),
        ("mp3", "audio/mpeg", RouteKind::Segment),
        ("vtt", "text/vtt", RouteKind::Segment),
        ("webvtt", "text/vtt", RouteKind::Segment),
        ("mp4", "video/mp4", RouteKind::Init),
        ("m4v", "video/mp4", RouteKind::Init),
        ("m4a", "audio/mp4", RouteKind::Init),
        ("html", "text/html; charset=utf-8", RouteKind::Page),
        ("htm", "text/html; charset=utf-8", RouteKind::Page),
        ("js", "text/javascript; charset=utf-8", RouteKind::Other),
        ("mjs", "text/javascript; charset=utf-8", RouteKind::Other),
        ("css", "text/css; charset=utf-8", RouteKind::Other),
        ("json", "application/json", RouteKind::Other),
        ("txt", "text/plain; charset=utf-8", RouteKind::Other),
        ("png", "image/png", RouteKind::Other),
        ("jpg", "image/jpeg", RouteKind::Other),
        ("jpeg", "image/jpeg", RouteKind::Other),
        ("webp", "image/webp", RouteKind::Other),
        ("svg", "image/svg+xml", RouteKind::Other),
    ];
    const DEFAULT: (&str, RouteKind) = ("application/octet-stream", RouteKind::Other);
    let Some(ext) = ext else { return DEFAULT };
    TABLE
        .iter()
        .find(|(e, _, _)| e.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT, |&(_, mime, kind)| (mime, kind))
}

/// The route kind of any request path (for metrics and logs).
pub(crate) fn route_kind(path: &str) -> RouteKind {
    match path {
        "/" | "/api/streams" | "/favicon.ico" => RouteKind::Page,
        p if p.starts_with("/_hlsorigin/") => RouteKind::Page,
        "/healthz" | "/metrics" => RouteKind::Other,
        _ => {
            let name = path.rsplit('/').next().unwrap_or("");
            let ext = name.rsplit_once('.').map(|(_, ext)| ext);
            classify(ext).1
        }
    }
}

/// What a playlist's text says about its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlaylistClass {
    /// `#EXT-X-ENDLIST`: will not change (RFC 8216bis 4.4.3.4).
    Ended,
    /// Multivariant playlist: written once per stream.
    Multivariant,
    /// Live media playlist with its `#EXT-X-TARGETDURATION` in seconds, if it has one.
    Live { target_duration: Option<u64> },
}

/// Classifies a playlist by its tags (RFC 8216bis 4.4).
pub(crate) fn classify_playlist(text: &[u8]) -> PlaylistClass {
    let mut target_duration = None;
    let mut media = false;
    let mut multivariant = false;
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"#EXT-X-ENDLIST" {
            return PlaylistClass::Ended;
        } else if let Some(value) = line.strip_prefix(b"#EXT-X-TARGETDURATION:") {
            media = true;
            // decimal-integer (4.2)
            target_duration = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        } else if line.starts_with(b"#EXTINF:") {
            media = true;
        } else if line.starts_with(b"#EXT-X-STREAM-INF:")
            || line.starts_with(b"#EXT-X-MEDIA:")
            || line.starts_with(b"#EXT-X-I-FRAME-STREAM-INF:")
        {
            multivariant = true;
        }
    }
    if multivariant && !media {
        PlaylistClass::Multivariant
    } else {
        PlaylistClass::Live { target_duration }
    }
}

/// `max-age` of a live media playlist: at most half its target duration (RFC 8216 6.3.4).
pub(crate) fn live_max_age(target_duration: Option<u64>, configured: Option<u32>) -> u64 {
    match (target_duration, configured) {
        (Some(td), Some(c)) => (td / 2).min(u64::from(c)),
        (Some(td), None) => td / 2,
        (None, Some(c)) => u64::from(c).min(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let cases: &[(Option<&str>, &str, RouteKind)] = &[
            (
                Some("m3u8"),
                "application/vnd.apple.mpegurl",
                RouteKind::Playlist,
            ),
            (
                Some("M3U8"),
                "application/vnd.apple.mpegurl",
                RouteKind::Playlist,
            ),
            (Some("ts"), "video/mp2t", RouteKind::Segment),
            (Some("m4s"), "video/iso.segment", RouteKind::Segment),
            (Some("mp4"), "video/mp4", RouteKind::Init),
            (Some("m4a"), "audio/mp4", RouteKind::Init),
            (Some("aac"), "audio/aac", RouteKind::Segment),
            (Some("vtt"), "text/vtt", RouteKind::Segment),
            (Some("html"), "text/html; charset=utf-8", RouteKind::Page),
            (Some("json"), "application/json", RouteKind::Other),
            (Some("bin"), "application/octet-stream", RouteKind::Other),
            (None, "application/octet-stream", RouteKind::Other),
        ];
        for (ext, mime, kind) in cases {
            assert_eq!(classify(*ext), (*mime, *kind), "{ext:?}");
        }
    }

    #[test]
    fn route_kinds() {
        assert_eq!(route_kind("/"), RouteKind::Page);
        assert_eq!(route_kind("/metrics"), RouteKind::Other);
        assert_eq!(route_kind("/a/b.m3u8"), RouteKind::Playlist);
        assert_eq!(route_kind("/a.b/seg"), RouteKind::Other);
        assert_eq!(route_kind("/x/init.mp4"), RouteKind::Init);
    }

    #[test]
    fn playlist_classes() {
        use PlaylistClass::*;
        let cases: &[(&str, PlaylistClass)] = &[
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n",
                Ended,
            ),
            (
                "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXTINF:6,\r\na.ts\r\n#EXT-X-ENDLIST\r\n",
                Ended,
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n",
                Live {
                    target_duration: Some(4),
                },
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:x\n",
                Live {
                    target_duration: None,
                },
            ),
            (
                "#EXTM3U\n#EXTINF:4,\na.ts\n",
                Live {
                    target_duration: None,
                },
            ),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
                Multivariant,
            ),
            (
                "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
                Multivariant,
            ),
            (
                "",
                Live {
                    target_duration: None,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(classify_playlist(text.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn live_max_ages() {
        let cases: &[(Option<u64>, Option<u32>, u64)] = &[
            (Some(6), None, 3),
            (Some(5), None, 2),
            (Some(1), None, 0),
            (Some(6), Some(1), 1),
            (Some(6), Some(100), 3),
            (None, None, 1),
            (None, Some(0), 0),
        ];
        for (td, cfg, want) in cases {
            assert_eq!(live_max_age(*td, *cfg), *want, "{td:?} {cfg:?}");
        }
    }
}
