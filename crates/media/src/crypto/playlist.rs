// SPDX-License-Identifier: MIT OR Apache-2.0
//! EXT-X-KEY in written playlists (RFC 8216bis 4.4.4.4): a key tag applies to every media
//! segment after it until the next one, so a playlist carries one tag where the key starts and
//! one at each change (`--key-rotation`). The tags are added to the playlist text as rendered by
//! [`crate::playlist`], before the entry (its EXTINF) where each key starts; the header tags —
//! EXT-X-MAP among them — stay before the first key, so an fMP4 initialization section is not
//! encrypted (4.4.4.5: only a Media Initialization Section after an EXT-X-KEY is).

use std::fmt::Write as _;

/// `text` with each `(entry, tag)` line inserted before the `entry`-th EXTINF (0-based), and
/// EXT-X-VERSION raised to `min_version` if lower. `tags` in entry order.
pub fn insert_key_tags(text: &str, tags: &[(usize, String)], min_version: u8) -> String {
    let mut out =
        String::with_capacity(text.len() + tags.iter().map(|t| t.1.len() + 1).sum::<usize>());
    let mut entry = 0usize;
    let mut next = tags.iter().peekable();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
            let v: u8 = v.trim().parse().unwrap_or(0);
            let _ = writeln!(out, "#EXT-X-VERSION:{}", v.max(min_version));
            continue;
        }
        if line.starts_with("#EXTINF:") {
            while let Some((_, tag)) = next.next_if(|(at, _)| *at <= entry) {
                out.push_str(tag);
                out.push('\n');
            }
            entry += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Multivariant playlist `text` with the `tags` (EXT-X-SESSION-KEY lines) before its first
/// EXT-X-MEDIA, EXT-X-STREAM-INF or EXT-X-I-FRAME-STREAM-INF line, after the header tags.
pub fn insert_session_keys(text: &str, tags: &[String]) -> String {
    let mut out =
        String::with_capacity(text.len() + tags.iter().map(|t| t.len() + 1).sum::<usize>());
    let mut pending = tags.iter();
    let flush = |out: &mut String, pending: &mut std::slice::Iter<'_, String>| {
        for t in pending.by_ref() {
            out.push_str(t);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if [
            "#EXT-X-MEDIA:",
            "#EXT-X-STREAM-INF:",
            "#EXT-X-I-FRAME-STREAM-INF:",
        ]
        .iter()
        .any(|p| line.starts_with(p))
        {
            flush(&mut out, &mut pending);
        }
        out.push_str(line);
        out.push('\n');
    }
    flush(&mut out, &mut pending);
    out
}

/// The entries where the key changes, with the key number, from each entry's key number.
pub fn key_changes(keys: impl IntoIterator<Item = u64>) -> Vec<(usize, u64)> {
    let mut last = None;
    let mut changes = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        if last != Some(k) {
            changes.push((i, k));
            last = Some(k);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYLIST: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.m4s\n\
        #EXTINF:1.5,\nc.m4s\n#EXT-X-ENDLIST\n";

    #[test]
    fn tags_go_before_their_entries() {
        type Case<'a> = (&'a [(usize, &'a str)], u8, &'a str);
        let cases: &[Case] = &[
            (&[(0, "K0")], 1, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\nK0\n#EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.m4s\n#EXTINF:1.5,\nc.m4s\n#EXT-X-ENDLIST\n"),
            (&[(0, "K0"), (2, "K1")], 7, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\nK0\n#EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nb.m4s\nK1\n#EXTINF:1.5,\nc.m4s\n#EXT-X-ENDLIST\n"),
            (&[], 1, PLAYLIST),
        ];
        for (tags, v, want) in cases {
            let tags: Vec<(usize, String)> =
                tags.iter().map(|(i, t)| (*i, t.to_string())).collect();
            assert_eq!(insert_key_tags(PLAYLIST, &tags, *v), *want, "{tags:?}");
        }
    }

    #[test]
    fn session_keys_go_after_the_header() {
        let tags = vec!["S0".to_string(), "S1".to_string()];
        let cases = [
            (
                "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\n",
                "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\nS0\nS1\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\n",
            ),
            (
                "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
                "#EXTM3U\nS0\nS1\n#EXT-X-MEDIA:TYPE=AUDIO\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
            ),
            ("#EXTM3U\n", "#EXTM3U\nS0\nS1\n"),
        ];
        for (text, want) in cases {
            assert_eq!(insert_session_keys(text, &tags), want);
        }
        assert_eq!(insert_session_keys(cases[0].0, &[]), cases[0].0);
    }

    #[test]
    fn changes() {
        type Case<'a> = (&'a [u64], &'a [(usize, u64)]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[0, 0, 0], &[(0, 0)]),
            (&[0, 0, 1, 1, 2], &[(0, 0), (2, 1), (4, 2)]),
            (&[3], &[(0, 3)]),
        ];
        for (keys, want) in cases {
            assert_eq!(key_changes(keys.iter().copied()), *want, "{keys:?}");
        }
    }
}
