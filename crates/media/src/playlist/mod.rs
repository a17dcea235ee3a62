// SPDX-License-Identifier: MIT OR Apache-2.0
//! Playlist model and writer (RFC 8216bis §4). One tag family per file:
//! [`media`] (media playlist + segment tags), [`master`] (multivariant playlist), [`ll`] (live and
//! Low-Latency HLS tags), [`iframe`] (I-frame playlists).
//!
//! Why our own writer: `m3u8-rs` 6 has no LL-HLS tags (EXT-X-PART, PRELOAD-HINT, SERVER-CONTROL, SKIP),
//! drops unknown tags after the last segment and never writes playlist-level unknown tags. One writer serves
//! VOD and live alike; `m3u8-rs` parses our output in tests as an independent check.

pub mod iframe;
pub mod ll;
pub mod master;
pub mod master_vod;
pub mod media;

pub use iframe::{IFrame, IFramePlaylist};
pub use ll::{LiveTags, OpenSegment, Part, SegmentTags, ServerControl};
pub use master::{IFrameVariant, MasterPlaylist, Rendition, Variant};
pub use media::{ByteRange, MediaPlaylist, MediaSegment, PlaylistType};

/// Formats a decimal-floating-point duration with millisecond precision (RFC 8216bis 4.4.4.1 EXTINF),
/// without trailing zeros beyond 3 decimals kept for alignment ("6.006", "2.000").
pub(crate) fn fmt_duration(secs: f64) -> String {
    format!("{secs:.3}")
}

/// Quotes an attribute value (RFC 8216bis 4.2: quoted-string has no CR, LF or double quote).
pub(crate) fn quoted(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect();
    format!("\"{clean}\"")
}
