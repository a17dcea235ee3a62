// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`Listed`]: the objects that the playlists this origin fetched lately list, so that storage
//! answering "no such key" for one of them is taken as storage not being ready (a restarting
//! SeaweedFS answers 404 for stored objects for a moment), answered 503 — never 404, which a
//! CDN would keep as "gone". An object that no recent playlist lists (never listed, or of a
//! run that was collected and is no longer listed) stays a true 404.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the objects a playlist listed count as listed after it was last fetched (a live
/// playlist is fetched again at least every second while it is watched or followed; while
/// storage is down an origin may go on serving the playlist it holds, for up to a minute
/// here; as long as the length of an object is kept, [`super::META_TTL`]).
const LISTED_TTL: Duration = Duration::from_secs(60);
/// Playlists remembered before the map is emptied and refilled (a bound, not an LRU).
const MAX_PLAYLISTS: usize = 4096;

/// Per playlist (object path): when it was last fetched and the object paths it listed.
#[derive(Debug, Default)]
pub(super) struct Listed {
    map: Mutex<HashMap<String, (Instant, HashSet<String>)>>,
}

impl Listed {
    /// Records what the playlist at object path `playlist` lists now (replacing before).
    pub(super) fn record(&self, playlist: &str, text: &[u8]) {
        let objects = listed_objects(playlist, &String::from_utf8_lossy(text));
        self.touch_with(playlist, Some(objects));
    }

    /// The playlist at `playlist` was fetched again unchanged (304).
    pub(super) fn touch(&self, playlist: &str) {
        self.touch_with(playlist, None);
    }

    fn touch_with(&self, playlist: &str, objects: Option<HashSet<String>>) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_PLAYLISTS && !map.contains_key(playlist) {
            map.clear();
        }
        let now = Instant::now();
        match (map.get_mut(playlist), objects) {
            (Some(entry), None) => entry.0 = now,
            (_, Some(objects)) => {
                map.insert(playlist.to_owned(), (now, objects));
            }
            (None, None) => {}
        }
    }

    /// The playlists of directory `dir` fetched in the last [`LISTED_TTL`] (the streams of
    /// that directory this origin serves now).
    pub(super) fn playlists_in(&self, dir: &str) -> Vec<String> {
        let Ok(map) = self.map.lock() else {
            return Vec::new();
        };
        map.iter()
            .filter(|(p, (at, _))| at.elapsed() <= LISTED_TTL && parent(p) == dir)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Whether a playlist fetched in the last [`LISTED_TTL`] lists the object at `path`.
    pub(super) fn contains(&self, path: &str) -> bool {
        let Ok(map) = self.map.lock() else {
            return false;
        };
        map.values()
            .any(|(at, objects)| at.elapsed() <= LISTED_TTL && objects.contains(path))
    }
}

/// The object paths a media playlist at `playlist` lists: its segment URIs, `EXT-X-MAP` and
/// `EXT-X-PART` URIs (RFC 8216bis 4.4.4.5, 4.4.4.9), resolved against the playlist's
/// directory (RFC 8216bis 4.1: relative URIs). A preload hint is not listed: it may not be
/// stored yet, so storage rightly answers 404 for it. Absolute URLs and `..` are skipped.
fn listed_objects(playlist: &str, text: &str) -> HashSet<String> {
    let dir = parent(playlist);
    let mut found = HashSet::new();
    for line in text.lines().map(str::trim) {
        let uri = if line.starts_with("#EXT-X-MAP:") || line.starts_with("#EXT-X-PART:") {
            uri_attribute(line)
        } else if line.is_empty() || line.starts_with('#') {
            None
        } else {
            Some(line)
        };
        if let Some(path) = uri.and_then(|u| resolve(dir, u)) {
            found.insert(path);
        }
    }
    found
}

/// The directory of object path `path` (`""` at the top).
pub(super) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn uri_attribute(line: &str) -> Option<&str> {
    let rest = line.split("URI=\"").nth(1)?;
    rest.split('"').next()
}

fn resolve(dir: &str, uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next()?;
    if uri.is_empty() || uri.contains("://") || uri.split('/').any(|p| p == "..") {
        return None;
    }
    if let Some(abs) = uri.strip_prefix('/') {
        return Some(abs.to_owned());
    }
    Some(if dir.is_empty() {
        uri.to_owned()
    } else {
        format!("{dir}/{uri}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_objects_of_a_playlist() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PART:DURATION=0.2,URI=\"p/1.0.m4s\"\n\
                    #EXTINF:1,\nseg1.m4s?x=1\n#EXTINF:1,\n/other/abs.ts\n#EXTINF:1,\n../up.ts\n\
                    #EXTINF:1,\nhttps://cdn/x.ts\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p/1.1.m4s\"\n";
        let cases = [
            ("cam/r1/init.mp4", true),
            ("cam/r1/p/1.0.m4s", true),
            ("cam/r1/seg1.m4s", true),
            ("other/abs.ts", true),
            ("cam/up.ts", false),
            ("cam/r1/p/1.1.m4s", false),
            ("cam/r1/seg2.m4s", false),
        ];
        let listed = Listed::default();
        listed.record("cam/r1/stream.m3u8", text.as_bytes());
        for (path, want) in cases {
            assert_eq!(listed.contains(path), want, "{path}");
        }
        // A newer version that no longer lists them (collected): not listed any more.
        listed.record("cam/r1/stream.m3u8", b"#EXTM3U\n#EXTINF:1,\nseg9.m4s\n");
        assert!(!listed.contains("cam/r1/seg1.m4s"));
        assert!(listed.contains("cam/r1/seg9.m4s"));
    }
}
