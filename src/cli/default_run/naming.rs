// SPDX-License-Identifier: MIT OR Apache-2.0
//! Stream names: `media/My Clip.mp4` is served as `My_Clip/master.m3u8`. Two sources that map to one
//! name (`clip.mp4` + `clip.ts`, `a b.m4a` + `a_b.mp4`) get distinct names: the first source to claim a
//! name keeps it (files found at start claim in file-name order), a later one gets `NAME-EXT`, then
//! `NAME-EXT-2`, `NAME-EXT-3`, …. Who owns which name is read back from the source records at start, so
//! names stay stable across restarts.

use std::collections::BTreeMap;
use std::path::Path;

/// A name handed out by [`Names::assign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub name: String,
    /// Set when the plain name was taken: `(plain name, file that owns it)`.
    pub clash: Option<(String, String)>,
}

/// Which source file (name inside `media/`) owns which stream name.
#[derive(Debug, Default)]
pub struct Names {
    by_file: BTreeMap<String, String>,
}

impl Names {
    /// Records that `file` owns `name` (from a source record), unless either is already taken.
    pub fn claim(&mut self, name: &str, file: &str) -> bool {
        if self.by_file.contains_key(file) || self.owner(name).is_some() {
            return false;
        }
        self.by_file.insert(file.to_owned(), name.to_owned());
        true
    }

    pub fn get(&self, file: &str) -> Option<&str> {
        self.by_file.get(file).map(String::as_str)
    }

    /// The stream name of `file`: the one it has, else the first free candidate.
    pub fn assign(&mut self, file: &str) -> Assigned {
        if let Some(name) = self.get(file) {
            return Assigned {
                name: name.to_owned(),
                clash: None,
            };
        }
        let plain = stream_name(Path::new(file));
        let name = candidates(file)
            .find(|c| self.owner(c).is_none())
            .expect("candidates never run out");
        let clash = (name != plain).then(|| {
            let owner = self.owner(&plain).unwrap_or_default().to_owned();
            (plain, owner)
        });
        self.by_file.insert(file.to_owned(), name.clone());
        Assigned { name, clash }
    }

    /// Forgets `file`; returns the name it had.
    pub fn release(&mut self, file: &str) -> Option<String> {
        self.by_file.remove(file)
    }

    /// The file owning `name`. Case-insensitive: `Clip` and `clip` are one directory on macOS and Windows.
    fn owner(&self, name: &str) -> Option<&str> {
        self.by_file
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| f.as_str())
    }
}

/// The names `file` may get, in order of preference.
fn candidates(file: &str) -> impl Iterator<Item = String> {
    let path = Path::new(file);
    let plain = stream_name(path);
    let ext = path
        .extension()
        .map(|e| sanitize(&e.to_string_lossy().to_ascii_lowercase()))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "2".into());
    let with_ext = format!("{plain}-{ext}");
    [plain, with_ext.clone()]
        .into_iter()
        .chain((2u64..).map(move |n| format!("{with_ext}-{n}")))
}

/// URL-safe stream name from a file name: `My Clip.mp4` → `My_Clip`.
pub fn stream_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stream");
    let name = sanitize(stem);
    let name = name.trim_start_matches(['_', '.']).to_owned();
    if name.is_empty() {
        "stream".into()
    } else {
        name
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_url_safe() {
        let cases = [
            ("media/sample.mp4", "sample"),
            ("media/My Clip (1).mov", "My_Clip__1_"),
            ("media/..evil.ts", "evil"),
            ("media/é.mp4", "stream"),
        ];
        for (path, want) in cases {
            assert_eq!(stream_name(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn clashing_sources_get_distinct_names() {
        // (files in the order they are assigned, the names they get)
        let cases: &[(&[&str], &[&str])] = &[
            (&["clip.mp4", "clip.ts"], &["clip", "clip-ts"]),
            (&["clip.ts", "clip.mp4"], &["clip", "clip-mp4"]),
            (&["a b.m4a", "a_b.mp4"], &["a_b", "a_b-mp4"]),
            (&["Clip.mp4", "clip.MOV"], &["Clip", "clip-mov"]),
            (
                &["x.mp4", "x-mp4.mov", "x.MP4", "x-mp4.MOV"],
                &["x", "x-mp4", "x-mp4-2", "x-mp4-mov"],
            ),
            (
                &["é.mp4", "ü.mp4", "ö.ts"],
                &["stream", "stream-mp4", "stream-ts"],
            ),
        ];
        for (files, want) in cases {
            let mut names = Names::default();
            let got: Vec<String> = files.iter().map(|f| names.assign(f).name).collect();
            assert_eq!(&got, want, "{files:?}");
            // Asking again gives the same names.
            let again: Vec<String> = files.iter().map(|f| names.assign(f).name).collect();
            assert_eq!(&again, want, "{files:?} again");
        }
    }

    #[test]
    fn a_clash_names_the_owner() {
        let mut names = Names::default();
        assert_eq!(names.assign("clip.mp4").clash, None);
        let second = names.assign("clip.ts");
        assert_eq!(
            second.clash,
            Some(("clip".to_owned(), "clip.mp4".to_owned()))
        );
    }

    #[test]
    fn claimed_names_survive_a_restart_whatever_the_order() {
        // Before the restart clip.ts came first and got "clip"; clip.mp4 got "clip-mp4".
        let mut names = Names::default();
        assert!(names.claim("clip", "clip.ts"));
        assert!(names.claim("clip-mp4", "clip.mp4"));
        assert!(!names.claim("clip", "other.mp4"), "a name has one owner");
        assert_eq!(names.assign("clip.mp4").name, "clip-mp4");
        assert_eq!(names.assign("clip.ts").name, "clip");
        // A released name is free again.
        assert_eq!(names.release("clip.ts").as_deref(), Some("clip"));
        assert_eq!(names.assign("clip.mov").name, "clip");
    }
}
