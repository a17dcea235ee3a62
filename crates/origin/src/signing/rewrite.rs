// SPDX-License-Identifier: MIT OR Apache-2.0
//! Adds a token to every URI of a playlist, because players resolve relative URIs against
//! the playlist's URL without its query string (RFC 3986 5.2.2): one signed multivariant URL
//! must carry the token to the media playlists, and those to the segments.
//!
//! Rewritten: URI lines (RFC 8216bis 4.1: media segments, variant streams, byte ranges of a
//! single file alike) and every `URI` attribute of a tag (`EXT-X-MAP`, `EXT-X-KEY`,
//! `EXT-X-SESSION-KEY`, `EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`, `EXT-X-PART`,
//! `EXT-X-PRELOAD-HINT`, `EXT-X-RENDITION-REPORT`, `EXT-X-SESSION-DATA`; RFC 8216bis 4.2
//! attribute lists, quoted strings kept whole). Not rewritten: URIs with a scheme or an
//! authority (`https://cdn/…`, `skd://…`, `data:…`: another server, or no request at all),
//! and URIs that already have a `token` parameter.

/// `text` with `token` added to its URIs; `None` when it is not UTF-8 (served unchanged).
pub fn rewrite_playlist(text: &[u8], token: &str) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        if body.starts_with('#') {
            rewrite_tag(body, token, &mut out);
        } else if body.trim().is_empty() {
            out.push_str(body);
        } else {
            out.push_str(&with_token(body, token));
        }
        out.push_str(eol);
    }
    Some(out)
}

fn split_eol(line: &str) -> (&str, &str) {
    let body = line.trim_end_matches(['\r', '\n']);
    (body, line.get(body.len()..).unwrap_or(""))
}

/// A tag line with its `URI` attributes rewritten; other lines (comments, tags without an
/// attribute list) copied.
fn rewrite_tag(line: &str, token: &str, out: &mut String) {
    let Some((tag, list)) = line.split_once(':') else {
        out.push_str(line);
        return;
    };
    if !tag.starts_with("#EXT") || !list.contains("URI=\"") {
        out.push_str(line);
        return;
    }
    out.push_str(tag);
    out.push(':');
    let mut rest = list;
    while !rest.is_empty() {
        // NAME=VALUE, VALUE quoted (may hold commas) or not.
        let Some((name, after)) = rest.split_once('=') else {
            out.push_str(rest);
            return;
        };
        out.push_str(name);
        out.push('=');
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (
                    after.get(..end + 2).unwrap_or(after),
                    q.get(end + 1..).unwrap_or(""),
                ),
                None => (after, ""),
            },
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (
                    after.get(..end).unwrap_or(after),
                    after.get(end..).unwrap_or(""),
                )
            }
        };
        let quoted_uri = name.trim() == "URI"
            && value.len() >= 2
            && value.starts_with('"')
            && value.ends_with('"');
        match value.get(1..value.len().saturating_sub(1)) {
            Some(uri) if quoted_uri => {
                out.push('"');
                out.push_str(&with_token(uri, token));
                out.push('"');
            }
            _ => out.push_str(value),
        }
        // The separator (`,`) if any.
        match next.strip_prefix(',') {
            Some(n) => {
                out.push(',');
                rest = n;
            }
            None => {
                out.push_str(next);
                return;
            }
        }
    }
}

/// `uri` with `token=TOKEN` added to its query (before any fragment), unless it has a scheme
/// or authority or already a token.
pub fn with_token<'a>(uri: &'a str, token: &str) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if has_scheme(uri) || uri.starts_with("//") {
        return Cow::Borrowed(uri);
    }
    let (before, fragment) = match uri.find('#') {
        Some(i) => (uri.get(..i).unwrap_or(uri), uri.get(i..).unwrap_or("")),
        None => (uri, ""),
    };
    let query = before.split_once('?').map(|(_, q)| q);
    if let Some(q) = query {
        if q.split('&')
            .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == super::PARAM)
        {
            return Cow::Borrowed(uri);
        }
    }
    let sep = match query {
        None => "?",
        Some("") => "",
        Some(_) => "&",
    };
    Cow::Owned(format!("{before}{sep}{}={token}{fragment}", super::PARAM))
}

/// RFC 3986 3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"` before any `/`, `?`, `#`.
fn has_scheme(uri: &str) -> bool {
    let Some(colon) = uri.find(':') else {
        return false;
    };
    let scheme = uri.get(..colon).unwrap_or("");
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}
