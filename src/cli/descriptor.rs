// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `--audio` / `--subtitles` descriptor: `FILE[,lang=L][,name=N][,default][,forced]`.
//!
//! Items are separated by single commas; a doubled comma is a literal comma, so any path can be
//! given (`my,,file.mp4` is `my,file.mp4`). `file=PATH` may also name the file explicitly, at
//! any position.

use std::path::PathBuf;

use anyhow::{bail, Result};
use media::package::ladder_text::RenditionSpec;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub path: PathBuf,
    pub lang: Option<String>,
    pub name: Option<String>,
    pub default: bool,
    pub forced: bool,
}

/// Splits at single commas; `,,` is a literal comma.
fn split(text: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ',' if chars.peek() == Some(&',') => {
                chars.next();
                items.last_mut().expect("one item").push(',');
            }
            ',' => items.push(String::new()),
            c => items.last_mut().expect("one item").push(c),
        }
    }
    items
}

impl Descriptor {
    /// What the descriptor says of its rendition besides the file.
    pub fn rendition_spec(&self) -> RenditionSpec {
        RenditionSpec {
            lang: self.lang.clone(),
            name: self.name.clone(),
            default: self.default,
            forced: self.forced,
        }
    }

    /// Parses a descriptor; `forced` is accepted only for subtitles.
    pub fn parse(text: &str, subtitles: bool) -> Result<Self> {
        let mut d = Descriptor::default();
        let mut path = None;
        for (i, item) in split(text).into_iter().enumerate() {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item.as_str(), None),
            };
            match (key, value) {
                ("file", Some(v)) => path = Some(v.to_owned()),
                ("lang", Some(v)) if !v.is_empty() => d.lang = Some(v.to_owned()),
                ("name", Some(v)) if !v.is_empty() => d.name = Some(v.to_owned()),
                ("default", None) => d.default = true,
                ("forced", None) if subtitles => d.forced = true,
                _ if i == 0 => path = Some(item.clone()),
                _ => bail!(
                    "unknown item {item:?}: expected lang=L, name=N, default{} or file=PATH \
                     (a comma in a value is written twice: ,,)",
                    if subtitles { ", forced" } else { "" }
                ),
            }
        }
        match path.filter(|p| !p.is_empty()) {
            Some(p) => d.path = PathBuf::from(p),
            None => bail!("no file named (FILE[,lang=L][,name=N][,default])"),
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_descriptors() {
        let d = |path: &str, lang: Option<&str>, name: Option<&str>, default, forced| Descriptor {
            path: path.into(),
            lang: lang.map(str::to_owned),
            name: name.map(str::to_owned),
            default,
            forced,
        };
        let cases = [
            ("a.mp4", false, d("a.mp4", None, None, false, false)),
            (
                "fr.mp4,lang=fr,name=Français,default",
                false,
                d("fr.mp4", Some("fr"), Some("Français"), true, false),
            ),
            (
                "my,,file.mp4,lang=de",
                false,
                d("my,file.mp4", Some("de"), None, false, false),
            ),
            (
                "lang=en,file=x,,y.vtt,forced",
                true,
                d("x,y.vtt", Some("en"), None, false, true),
            ),
            (
                "name=A,,B,file=s.srt",
                true,
                d("s.srt", None, Some("A,B"), false, false),
            ),
        ];
        for (text, subs, want) in cases {
            assert_eq!(Descriptor::parse(text, subs).expect(text), want, "{text}");
        }
    }

    #[test]
    fn refuses_bad_descriptors() {
        let cases = [
            ("a.mp4,forced", false, "unknown item \"forced\""),
            ("a.mp4,langue=fr", false, "unknown item"),
            ("", false, "no file"),
            ("lang=fr", false, "no file"),
        ];
        for (text, subs, want) in cases {
            let err = Descriptor::parse(text, subs).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
