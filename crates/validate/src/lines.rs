// SPDX-License-Identifier: MIT OR Apache-2.0
//! The playlist as lines (RFC 8216bis 4.1): each a tag, a URI, a comment or blank, with its
//! 1-based number so every finding can point at a line; and the attribute-list syntax
//! (RFC 8216bis 4.2) for the tags m3u8-rs 6 does not know (LL-HLS).

/// One playlist line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `#EXT…` tag: name without the `#`, value after the first ':'.
    Tag {
        name: String,
        value: Option<String>,
    },
    Uri(String),
    Comment,
    Blank,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub no: usize,
    pub item: Item,
}

impl Line {
    pub fn tag(&self) -> Option<(&str, Option<&str>)> {
        match &self.item {
            Item::Tag { name, value } => Some((name, value.as_deref())),
            _ => None,
        }
    }
}

/// Splits playlist text into lines (LF or CRLF).
pub fn scan(text: &str) -> Vec<Line> {
    text.split('\n')
        .enumerate()
        .map(|(i, raw)| {
            let l = raw.strip_suffix('\r').unwrap_or(raw).trim_end();
            let item = if l.is_empty() {
                Item::Blank
            } else if let Some(tag) = l.strip_prefix("#EXT") {
                let full = format!("EXT{tag}");
                match full.split_once(':') {
                    Some((n, v)) => Item::Tag {
                        name: n.to_owned(),
                        value: Some(v.to_owned()),
                    },
                    None => Item::Tag {
                        name: full,
                        value: None,
                    },
                }
            } else if l.starts_with('#') {
                Item::Comment
            } else {
                Item::Uri(l.trim_start().to_owned())
            };
            Line { no: i + 1, item }
        })
        .collect()
}

/// One attribute of an attribute list; `quoted` for quoted-string values (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
    pub quoted: bool,
}

/// Parses an attribute list (RFC 8216bis 4.2): `NAME=value` pairs separated by commas, names
/// `[A-Z0-9-]`, values quoted strings (no comma splitting inside, no CR/LF/") or plain tokens.
pub fn attrs(s: &str) -> Result<Vec<Attr>, String> {
    let mut out: Vec<Attr> = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("attribute without '=' in {rest:?}"))?;
        let name = rest.get(..eq).unwrap_or("").trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("bad attribute name {name:?}"));
        }
        if out.iter().any(|a| a.name == name) {
            return Err(format!("attribute {name} appears twice"));
        }
        let after = rest.get(eq + 1..).unwrap_or("");
        let (value, quoted, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or_else(|| format!("unterminated quoted string for {name}"))?;
            (
                q.get(..end).unwrap_or(""),
                true,
                q.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (
                after.get(..end).unwrap_or("").trim(),
                false,
                after.get(end..).unwrap_or(""),
            )
        };
        out.push(Attr {
            name: name.to_owned(),
            value: value.to_owned(),
            quoted,
        });
        let tail = tail.trim_start();
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start(),
            None if tail.is_empty() => tail,
            None => return Err(format!("expected ',' after {name}, found {tail:?}")),
        };
    }
    Ok(out)
}

/// The value of attribute `name`.
pub fn get<'a>(list: &'a [Attr], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

/// `len[@offset]` (EXT-X-BYTERANGE, BYTERANGE=).
pub fn byte_range(s: &str) -> Result<(u64, Option<u64>), String> {
    let bad = || format!("bad byte range {s:?}");
    let (len, off) = match s.split_once('@') {
        Some((l, o)) => (l, Some(o.trim().parse::<u64>().map_err(|_| bad())?)),
        None => (s, None),
    };
    Ok((len.trim().parse::<u64>().map_err(|_| bad())?, off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_lines() {
        let l = scan("#EXTM3U\r\n#EXTINF:2.0,\nseg.ts\n\n# note\n#EXT-X-ENDLIST");
        let items: Vec<_> = l.iter().map(|l| (l.no, l.item.clone())).collect();
        let tag = |n: &str, v: Option<&str>| Item::Tag {
            name: n.into(),
            value: v.map(Into::into),
        };
        assert_eq!(
            items,
            vec![
                (1, tag("EXTM3U", None)),
                (2, tag("EXTINF", Some("2.0,"))),
                (3, Item::Uri("seg.ts".into())),
                (4, Item::Blank),
                (5, Item::Comment),
                (6, tag("EXT-X-ENDLIST", None)),
            ]
        );
    }

    #[test]
    fn attribute_lists() {
        let ok = [
            (
                r#"URI="a,b.mp4",BYTERANGE="10@0""#,
                vec![("URI", "a,b.mp4", true), ("BYTERANGE", "10@0", true)],
            ),
            (
                "DURATION=0.2,INDEPENDENT=YES",
                vec![("DURATION", "0.2", false), ("INDEPENDENT", "YES", false)],
            ),
            ("", vec![]),
        ];
        for (s, want) in ok {
            let got = attrs(s).unwrap();
            let got: Vec<_> = got
                .iter()
                .map(|a| (a.name.as_str(), a.value.as_str(), a.quoted))
                .collect();
            assert_eq!(got, want, "{s}");
        }
        for bad in ["URI", r#"URI="x"#, "a=1", "X=1,X=2", r#"URI="x"Y=1"#] {
            assert!(attrs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("100@20"), Ok((100, Some(20))));
        assert_eq!(byte_range("100"), Ok((100, None)));
        assert!(byte_range("x@1").is_err());
        assert!(byte_range("1@").is_err());
    }
}
