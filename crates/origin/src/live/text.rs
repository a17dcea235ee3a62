// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the origin reads out of a media playlist's text: the blocking-reload state of a
//! playlist written by another process, and the EXT-X-PRELOAD-HINT of a published one.

use bytes::Bytes;
use media::live::PlaylistState;

/// Value of attribute `name` in an attribute list (RFC 8216bis 4.2), unquoted.
fn attribute<'a>(list: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (v, tail) = quoted.split_once('"')?;
                (v, tail.strip_prefix(',').unwrap_or(tail))
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        if key.trim() == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// The blocking-reload state of a live media playlist (RFC 8216bis 4.4): its last segment
/// (EXT-X-MEDIA-SEQUENCE + segments − 1, counting EXT-X-SKIP'ped ones), its parts, whether
/// it has EXT-X-ENDLIST. `None` for anything that is not a media playlist with an
/// EXT-X-TARGETDURATION (multivariant playlists, garbage). `full` holds the text; no delta.
pub fn state_from_text(text: &[u8]) -> Option<PlaylistState> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim);
    if lines.next()? != "#EXTM3U" {
        return None;
    }
    let mut target = None;
    let mut media_sequence = 0u64;
    let mut part_target = None;
    let (mut segments, mut open_parts, mut last_parts) = (0u64, 0u64, 0u64);
    let mut ended = false;
    for line in lines {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = Some(v.parse::<u64>().ok()?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            media_sequence = v.parse().ok()?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART-INF:") {
            part_target = attribute(v, "PART-TARGET")
                .and_then(|p| p.parse::<f64>().ok())
                .filter(|p| p.is_finite() && *p > 0.0);
        } else if line.starts_with("#EXT-X-PART:") {
            open_parts = open_parts.saturating_add(1);
        } else if let Some(v) = line.strip_prefix("#EXT-X-SKIP:") {
            let n = attribute(v, "SKIPPED-SEGMENTS")?.parse::<u64>().ok()?;
            segments = segments.saturating_add(n);
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            segments = segments.saturating_add(1);
            last_parts = open_parts;
            open_parts = 0;
        }
    }
    let target_duration = target?;
    let next_msn = media_sequence.saturating_add(segments);
    Some(PlaylistState {
        last_msn: segments
            .checked_sub(1)
            .map(|k| media_sequence.saturating_add(k)),
        last_msn_parts: last_parts,
        next_msn,
        next_parts: open_parts,
        ended,
        target_duration,
        part_target,
        can_block_reload: true,
        can_skip: false,
        full: Bytes::copy_from_slice(text.as_bytes()),
        delta: None,
    })
}

/// URI of the `TYPE=PART` EXT-X-PRELOAD-HINT (RFC 8216bis 4.4.5.3), if relative.
pub(crate) fn preload_hint(playlist: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(playlist).ok()?;
    // The hint is at the end of the playlist.
    let line = text
        .lines()
        .rev()
        .take(8)
        .find_map(|l| l.trim().strip_prefix("#EXT-X-PRELOAD-HINT:"))?;
    if attribute(line, "TYPE")? != "PART" {
        return None;
    }
    let uri = attribute(line, "URI")?;
    let relative = !uri.is_empty()
        && !uri.contains("://")
        && !uri.starts_with('/')
        && !uri.contains(['?', '#']);
    relative.then(|| uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LL: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n\
#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:40\n\
#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:2.0,\ns43.m4s\n\
#EXT-X-PART:DURATION=0.5,URI=\"s44.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PART:DURATION=0.5,URI=\"s44.1.m4s\"\n#EXTINF:1.0,\ns44.m4s\n\
#EXT-X-PART:DURATION=0.5,URI=\"s45.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s45.1.m4s\"\n";

    #[test]
    fn ll_state() {
        let s = state_from_text(LL.as_bytes()).expect("media playlist");
        assert_eq!(s.last_msn, Some(44));
        assert_eq!(s.last_msn_parts, 2);
        assert_eq!(s.next_msn, 45);
        assert_eq!(s.next_parts, 1);
        assert_eq!(s.target_duration, 2);
        assert_eq!(s.part_target, Some(0.5));
        assert!(!s.ended && s.can_block_reload && !s.can_skip);
        assert_eq!(preload_hint(LL.as_bytes()).as_deref(), Some("s45.1.m4s"));
    }

    #[test]
    fn states_table() {
        // (text, (last_msn, next_msn, ended)); None = not a media playlist.
        type Want = Option<(Option<u64>, u64, bool)>;
        let cases: &[(&str, Want)] = &[
            ("", None),
            ("garbage", None),
            ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", None),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", None),
            ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", Some((None, 0, false))),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n",
                Some((None, 7, false)),
            ),
            (
                "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MEDIA-SEQUENCE:7\r\n#EXTINF:2,\r\na.ts\r\n#EXTINF:2,\r\nb.ts\r\n",
                Some((Some(8), 9, false)),
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n",
                Some((Some(0), 1, true)),
            ),
        ];
        for (text, want) in cases {
            let got = state_from_text(text.as_bytes()).map(|s| (s.last_msn, s.next_msn, s.ended));
            assert_eq!(got, *want, "{text:?}");
        }
    }

    #[test]
    fn hints() {
        let hint = |t: &str| preload_hint(format!("#EXTM3U\n{t}\n").as_bytes());
        assert_eq!(
            hint("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"a.m4s\"").as_deref(),
            Some("a.m4s")
        );
        assert_eq!(hint("#EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"i.mp4\""), None);
        assert_eq!(hint("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"/abs.m4s\""), None);
        assert_eq!(
            hint("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"http://x/a.m4s\""),
            None
        );
        assert_eq!(hint("#EXT-X-PRELOAD-HINT:TYPE=PART"), None);
        assert_eq!(hint("#EXTINF:2,\na.m4s"), None);
    }
}
