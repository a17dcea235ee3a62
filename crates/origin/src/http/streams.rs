// SPDX-License-Identifier: MIT OR Apache-2.0
//! The details of `/api/streams` entries: kind, state, duration and renditions, read from the
//! playlists and kept per playlist version (source ETag: device, inode, mtime, length), so a
//! request opens each playlist but reads and parses only the ones that changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use serde_json::{json, Value};

use crate::path::ObjectPath;
use crate::source::ObjectSource;

/// Playlists larger than this are not read for details.
const MAX_BYTES: u64 = 1 << 20;
/// Parsed playlists kept before the cache is emptied and refilled.
const MAX_ENTRIES: usize = 4096;

/// What one playlist says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    /// A multivariant playlist: its variants (RFC 8216bis 4.4.6.2 EXT-X-STREAM-INF).
    Multivariant(Vec<Variant>),
    /// A media playlist.
    Media {
        /// RFC 8216bis 4.4.3.5 EXT-X-PLAYLIST-TYPE (`VOD`, `EVENT`), if any.
        playlist_type: Option<String>,
        /// RFC 8216bis 4.4.3.4 EXT-X-ENDLIST.
        ended: bool,
        /// Sum of the EXTINF durations listed (RFC 8216bis 4.4.4.1), seconds.
        duration: f64,
        /// The media sequence number of the last segment listed (RFC 8216bis 4.4.3.2
        /// EXT-X-MEDIA-SEQUENCE plus the segments before it), if any is listed.
        last_msn: Option<u64>,
        /// EXT-X-PART tags listed after the last segment (RFC 8216bis 4.4.4.9): parts of
        /// the segment being written (LL-HLS).
        parts: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variant {
    pub(crate) uri: String,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) resolution: Option<String>,
    pub(crate) codecs: Option<String>,
}

/// Parsed playlists by path, with the source ETag they were parsed from.
#[derive(Debug, Default)]
pub(crate) struct DetailsCache {
    map: Mutex<HashMap<String, (HeaderValue, Arc<Parsed>)>>,
}

impl DetailsCache {
    /// `{"playlist", "name", "kind", "state", "duration", "renditions"}` of the stream whose
    /// playlist is `playlist`; only `playlist` and `name` when it cannot be read, and `kind`
    /// and `state` (a VOD) when it would be packaged just in time by reading it.
    pub(crate) async fn entry<S: ObjectSource>(&self, source: &S, playlist: &str) -> Value {
        let name = playlist
            .strip_suffix("/master.m3u8")
            .or_else(|| playlist.strip_suffix(".m3u8"))
            .unwrap_or(playlist);
        let mut entry = json!({ "playlist": playlist, "name": name });
        if let Ok(path) = ObjectPath::from_request_path(&format!("/{playlist}")) {
            if source.would_package(&path).await {
                // Made on request (just in time): a VOD stream whose details come once
                // someone has asked for it, so that listing a library plans none of it.
                entry["kind"] = json!("vod");
                entry["state"] = json!("ended");
                return entry;
            }
        }
        let Some(top) = self.parsed(source, playlist).await else {
            return entry;
        };
        let (media, renditions) = match &*top {
            Parsed::Multivariant(variants) => {
                let dir = playlist.rsplit_once('/').map_or("", |(d, _)| d);
                let first = variants.first().filter(|v| !v.uri.contains("://"));
                let media = match first {
                    Some(v) if dir.is_empty() => Some(v.uri.clone()),
                    Some(v) => Some(format!("{dir}/{}", v.uri)),
                    None => None,
                };
                let media = match media {
                    Some(p) => self.parsed(source, &p).await,
                    None => None,
                };
                (media, variants.iter().map(rendition).collect())
            }
            Parsed::Media { .. } => (Some(top), Vec::new()),
        };
        if let Some(Parsed::Media {
            playlist_type,
            ended,
            duration,
            last_msn,
            parts,
        }) = media.as_deref()
        {
            let kind = match playlist_type.as_deref() {
                Some("VOD") => "vod",
                Some("EVENT") => "event",
                _ => "live",
            };
            entry["kind"] = json!(kind);
            entry["state"] = json!(if *ended { "ended" } else { "live" });
            entry["duration"] = json!(duration);
            if !*ended {
                // Where a live stream stands: its last segment and the parts after it.
                entry["msn"] = json!(last_msn);
                entry["part"] = json!(parts);
            }
        }
        entry["renditions"] = Value::Array(renditions);
        entry
    }

    /// The parsed playlist at `path`, from the cache while its ETag is unchanged.
    async fn parsed<S: ObjectSource>(&self, source: &S, path: &str) -> Option<Arc<Parsed>> {
        let object_path = ObjectPath::from_request_path(&format!("/{path}")).ok()?;
        let object = source.open(&object_path).await.ok()?;
        let etag = object.meta.etag.clone();
        if let Ok(map) = self.map.lock() {
            if let Some((tag, parsed)) = map.get(path) {
                if *tag == etag {
                    return Some(Arc::clone(parsed));
                }
            }
        }
        let len = object.meta.len;
        if len > MAX_BYTES {
            return None;
        }
        let body = object.body;
        let bytes = tokio::task::spawn_blocking(move || body.read_all_blocking(len))
            .await
            .ok()?
            .ok()?;
        let parsed = Arc::new(parse(std::str::from_utf8(&bytes).ok()?));
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(path.to_owned(), (etag, Arc::clone(&parsed)));
        }
        Some(parsed)
    }
}

fn rendition(v: &Variant) -> Value {
    json!({ "bandwidth": v.bandwidth, "resolution": v.resolution, "codecs": v.codecs })
}

/// Parses what the entry needs from a playlist's text.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut variants = Vec::new();
    let mut pending: Option<Variant> = None;
    let (mut playlist_type, mut ended, mut duration) = (None, false, 0.0);
    let (mut sequence, mut segments, mut parts) = (0u64, 0u64, 0u64);
    for line in text.lines().map(str::trim) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            let a = attributes(attrs);
            pending = Some(Variant {
                uri: String::new(),
                bandwidth: a.get("BANDWIDTH").and_then(|b| b.parse().ok()),
                resolution: a.get("RESOLUTION").cloned(),
                codecs: a.get("CODECS").cloned(),
            });
        } else if let Some(t) = line.strip_prefix("#EXT-X-PLAYLIST-TYPE:") {
            playlist_type = Some(t.trim().to_owned());
        } else if let Some(n) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = n.trim().parse().unwrap_or(0);
        } else if line.starts_with("#EXT-X-PART:") {
            parts += 1;
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs = d.split(',').next().unwrap_or("").trim();
            duration += secs.parse::<f64>().unwrap_or(0.0);
        } else if !line.is_empty() && !line.starts_with('#') {
            // RFC 8216bis 4.4.6.2: the URI line follows EXT-X-STREAM-INF.
            if let Some(mut v) = pending.take() {
                v.uri = line.to_owned();
                variants.push(v);
            } else {
                // A media segment's URI: the parts listed so far belong to it.
                segments += 1;
                parts = 0;
            }
        }
    }
    if variants.is_empty() {
        Parsed::Media {
            playlist_type,
            ended,
            duration,
            last_msn: segments.checked_sub(1).map(|n| sequence.saturating_add(n)),
            parts,
        }
    } else {
        Parsed::Multivariant(variants)
    }
}

/// An attribute list (RFC 8216bis 4.2): `NAME=value` pairs, commas inside quoted strings kept.
fn attributes(list: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = list;
    while let Some((name, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            let next = quoted.get(end + 1..).unwrap_or("");
            (quoted.get(..end).unwrap_or(""), next)
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (
                after.get(..end).unwrap_or(""),
                after.get(end..).unwrap_or(""),
            )
        };
        out.insert(name.trim().to_owned(), value.to_owned());
        rest = next.strip_prefix(',').unwrap_or(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multivariant_and_media_playlists() {
        let master = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720\n\
            v720/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=96000,CODECS=\"mp4a.40.2\"\na/index.m3u8\n";
        let v = |uri: &str, bw, res: Option<&str>, codecs: &str| Variant {
            uri: uri.into(),
            bandwidth: Some(bw),
            resolution: res.map(Into::into),
            codecs: Some(codecs.into()),
        };
        assert_eq!(
            parse(master),
            Parsed::Multivariant(vec![
                v(
                    "v720/index.m3u8",
                    2_500_000,
                    Some("1280x720"),
                    "avc1.64001f,mp4a.40.2"
                ),
                v("a/index.m3u8", 96_000, None, "mp4a.40.2"),
            ])
        );
        // (text, playlist type, ended, duration, last msn, parts after it)
        let cases = [
            ("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.0,\na.ts\n#EXTINF:1.5,\nb.ts\n#EXT-X-ENDLIST\n", Some("VOD"), true, 3.5, Some(1), 0),
            ("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2,\na.ts\n", Some("EVENT"), false, 2.0, Some(0), 0),
            ("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:4.0,title\na.ts\n#EXTINF:4.0,\nb.ts\n", None, false, 8.0, Some(41), 0),
            ("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-PART:DURATION=0.5,URI=\"p0\"\n#EXTINF:1.0,\na.ts\n\
              #EXT-X-PART:DURATION=0.5,URI=\"p1\"\n#EXT-X-PART:DURATION=0.5,URI=\"p2\"\n\
              #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p3\"\n", None, false, 1.0, Some(7), 2),
            ("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n", None, false, 0.0, None, 0),
        ];
        for (text, pt, ended, duration, last_msn, parts) in cases {
            assert_eq!(
                parse(text),
                Parsed::Media {
                    playlist_type: pt.map(Into::into),
                    ended,
                    duration,
                    last_msn,
                    parts,
                },
                "{text}"
            );
        }
    }
}
