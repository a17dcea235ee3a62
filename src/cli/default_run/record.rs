// SPDX-License-Identifier: MIT OR Apache-2.0
//! The source record `playlists/NAME/.hlsorigin-source`: which file of `media/` a stream was packaged
//! from (its file name, never a path, so a file found at start and one dropped in while running are
//! recorded alike), that file's size and mtime, and the hlsorigin version. An output whose record
//! matches its source is up to date; the records also keep stream names stable across restarts.

use std::path::Path;
use std::time::SystemTime;

/// Name of the record file (a dotfile: never served).
pub const STAMP: &str = ".hlsorigin-source";
/// First line of the current format.
const HEADER: &str = "hlsorigin-source 2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// File name inside the media directory.
    pub file: String,
    /// The media directory, canonical (empty when unknown, e.g. from the first format).
    pub media: String,
    pub size: u64,
    pub mtime_ns: u128,
    pub version: String,
}

impl SourceRecord {
    /// The record `file` in `media` would get now (`media` canonical).
    pub fn of(media: &Path, file: &str) -> std::io::Result<Self> {
        let m = std::fs::metadata(media.join(file))?;
        let mtime_ns = m
            .modified()?
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Ok(Self {
            file: file.to_owned(),
            media: media.to_string_lossy().into_owned(),
            size: m.len(),
            mtime_ns,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Same file content as far as size, mtime and packager version tell (wherever `media` is now).
    pub fn up_to_date(&self, now: &SourceRecord) -> bool {
        self.file == now.file
            && self.size == now.size
            && self.mtime_ns == now.mtime_ns
            && self.version == now.version
    }

    pub fn render(&self) -> String {
        // The file name is the last line: file names can't hold '\n' here (see `usable_name`).
        format!(
            "{HEADER}\nmedia {}\nsize {}\nmtime {}\nversion {}\nfile {}\n",
            self.media, self.size, self.mtime_ns, self.version, self.file
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        let Some(body) = text.strip_prefix(HEADER) else {
            return Self::parse_v1(text);
        };
        let mut rec = SourceRecord {
            file: String::new(),
            media: String::new(),
            size: 0,
            mtime_ns: 0,
            version: String::new(),
        };
        for line in body.lines().skip_while(|l| l.is_empty()) {
            let (key, value) = line.split_once(' ')?;
            match key {
                "media" => rec.media = value.to_owned(),
                "size" => rec.size = value.parse().ok()?,
                "mtime" => rec.mtime_ns = value.parse().ok()?,
                "version" => rec.version = value.to_owned(),
                "file" => rec.file = value.to_owned(),
                _ => {}
            }
        }
        (!rec.file.is_empty()).then_some(rec)
    }

    /// The first format, one line `PATH SIZE MTIME VERSION` (PATH relative or absolute): kept only to
    /// know which file owns the stream name; never up to date (version "1"), so it is re-packaged once.
    fn parse_v1(text: &str) -> Option<Self> {
        let mut parts = text.trim_end_matches('\n').rsplitn(4, ' ');
        let (_version, _mtime, _size) = (parts.next()?, parts.next()?, parts.next()?);
        let file = Path::new(parts.next()?).file_name()?.to_str()?.to_owned();
        Some(Self {
            file,
            media: String::new(),
            size: 0,
            mtime_ns: 0,
            version: "1".into(),
        })
    }

    pub fn read(dir: &Path) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(dir.join(STAMP)).ok()?)
    }
}

/// Every `(stream name, record)` under `playlists`, sorted by stream name.
pub fn records_in(playlists: &Path) -> Vec<(String, SourceRecord)> {
    let mut v: Vec<(String, SourceRecord)> = std::fs::read_dir(playlists)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    if name.starts_with('.') {
                        return None;
                    }
                    Some((name, SourceRecord::read(&e.path())?))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(file: &str) -> SourceRecord {
        SourceRecord {
            file: file.into(),
            media: "/srv/media".into(),
            size: 938760,
            mtime_ns: 1_764_000_000_123_456_789,
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn records_round_trip() {
        for file in ["sample.mp4", "a b.m4a", "ünï cödé.ts", "x y z .mov"] {
            let r = rec(file);
            assert_eq!(SourceRecord::parse(&r.render()), Some(r.clone()), "{file}");
        }
    }

    #[test]
    fn first_format_keeps_the_file_name_but_is_never_up_to_date() {
        let cases = [
            (
                "media/sample.mp4 938760 1764000000123456789 0.1.0\n",
                "sample.mp4",
            ),
            ("/home/u/media/a b.m4a 12 34 0.1.0\n", "a b.m4a"),
        ];
        for (text, file) in cases {
            let old = SourceRecord::parse(text).expect(text);
            assert_eq!(old.file, file);
            assert!(!old.up_to_date(&rec(file)), "{text}");
        }
        assert_eq!(SourceRecord::parse("garbage"), None);
    }

    #[test]
    fn up_to_date_ignores_where_the_media_directory_is() {
        let a = rec("sample.mp4");
        let moved = SourceRecord {
            media: "/elsewhere/media".into(),
            ..a.clone()
        };
        assert!(a.up_to_date(&moved));
        for changed in [
            SourceRecord {
                size: 1,
                ..a.clone()
            },
            SourceRecord {
                mtime_ns: 1,
                ..a.clone()
            },
            SourceRecord {
                version: "9".into(),
                ..a.clone()
            },
            SourceRecord {
                file: "other.mp4".into(),
                ..a.clone()
            },
        ] {
            assert!(!a.up_to_date(&changed), "{changed:?}");
        }
    }
}
