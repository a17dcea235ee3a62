// SPDX-License-Identifier: MIT OR Apache-2.0
//! Mapping files (`NAME.json`, README "Just-in-time packaging"): the files of a ladder — video
//! variants, audio files, subtitle files — with the descriptors `package --audio` and
//! `--subtitles` take (`lang`, `name`, `default`, `forced`). Paths are relative to the mapping
//! file's directory; absolute paths and `..` are refused, so a mapping file never names
//! anything outside the directory it is in (and so outside the root).
//!
//! ```json
//! { "videos": ["title_360p.mp4", "title_720p.mp4"],
//!   "audio": [{ "file": "title_fr.mp4", "lang": "fr", "name": "Français" }],
//!   "subtitles": [{ "file": "subs/en.vtt", "lang": "en", "default": true }] }
//! ```

use media::package::ladder_text::RenditionSpec;
use serde::Deserialize;

use crate::path::ObjectPath;

/// A mapping file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mapping {
    /// The inputs of `package IN...`: each a video variant.
    videos: Vec<String>,
    /// `--audio FILE,lang=L,name=N,default`.
    #[serde(default)]
    audio: Vec<AudioEntry>,
    /// `--subtitles FILE,lang=L,name=N,default,forced`.
    #[serde(default)]
    subtitles: Vec<SubtitleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudioEntry {
    file: String,
    lang: Option<String>,
    name: Option<String>,
    #[serde(default)]
    default: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubtitleEntry {
    file: String,
    lang: Option<String>,
    name: Option<String>,
    #[serde(default)]
    default: bool,
    #[serde(default)]
    forced: bool,
}

/// A mapping with its paths resolved: the distinct files, and what refers to which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub files: Vec<ObjectPath>,
    pub videos: Vec<usize>,
    pub audio: Vec<(usize, RenditionSpec)>,
    pub subtitles: Vec<(usize, RenditionSpec)>,
}

/// Parses mapping file `name`; the error is the one line its 422 carries (serde_json's,
/// with line and column).
pub(crate) fn parse(name: &str, json: &[u8]) -> Result<Mapping, String> {
    let mapping: Mapping = serde_json::from_slice(json).map_err(|e| {
        format!(
            "{name}: not a valid mapping file: {e} (expected {{\"videos\": [FILE, …], \
             \"audio\": [{{\"file\": …, \"lang\": …}}], \"subtitles\": […]}})"
        )
    })?;
    if mapping.videos.is_empty() {
        return Err(format!(
            "{name}: \"videos\" lists no file: a ladder needs at least one video file"
        ));
    }
    Ok(mapping)
}

/// Resolves the paths of `mapping` (mapping file `json`) against its directory.
pub(crate) fn resolve(mapping: &Mapping, json: &ObjectPath) -> Result<Resolved, String> {
    let dir: Vec<&str> = {
        let mut parts: Vec<&str> = json.segments().collect();
        parts.pop();
        parts
    };
    let mut r = Resolved {
        files: Vec::new(),
        videos: Vec::new(),
        audio: Vec::new(),
        subtitles: Vec::new(),
    };
    let add = |files: &mut Vec<ObjectPath>, given: &str| -> Result<usize, String> {
        let path =
            join(&dir, given).map_err(|why| format!("{}: {given:?}: {why}", json.as_str()))?;
        Ok(match files.iter().position(|f| *f == path) {
            Some(i) => i,
            None => {
                files.push(path);
                files.len() - 1
            }
        })
    };
    for v in &mapping.videos {
        let i = add(&mut r.files, v)?;
        r.videos.push(i);
    }
    for a in &mapping.audio {
        let i = add(&mut r.files, &a.file)?;
        r.audio.push((i, spec(&a.lang, &a.name, a.default, false)));
    }
    for s in &mapping.subtitles {
        let i = add(&mut r.files, &s.file)?;
        r.subtitles
            .push((i, spec(&s.lang, &s.name, s.default, s.forced)));
    }
    Ok(r)
}

/// For the `http` fuzz target ([`crate::fuzzing`]): parses `json` as mapping file `file` and
/// panics if a path it resolves to leaves `file`'s directory.
pub(crate) fn check_contained(file: &ObjectPath, json: &[u8]) {
    let Ok(resolved) = parse(file.as_str(), json).and_then(|m| resolve(&m, file)) else {
        return;
    };
    let dir = file.as_str().rsplit_once('/').map_or("", |(d, _)| d);
    for f in &resolved.files {
        let inside = dir.is_empty() || f.as_str().starts_with(&format!("{dir}/"));
        assert!(
            inside && !f.segments().any(|s| s == ".."),
            "{}: {} leaves the directory",
            file.as_str(),
            f.as_str()
        );
    }
}

fn spec(
    lang: &Option<String>,
    name: &Option<String>,
    default: bool,
    forced: bool,
) -> RenditionSpec {
    let some = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    RenditionSpec {
        lang: some(lang),
        name: some(name),
        default,
        forced,
    }
}

/// `given` (relative, `/`-separated) under directory `dir`, or why it is refused.
fn join(dir: &[&str], given: &str) -> Result<ObjectPath, &'static str> {
    if given.is_empty() {
        return Err("an empty path");
    }
    if given.starts_with('/') || given.contains('\\') || given.contains(':') {
        return Err(
            "absolute paths are refused: paths are relative to the mapping file's \
                    directory",
        );
    }
    let mut parts: Vec<&str> = dir.to_vec();
    for seg in given.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(
                    "\"..\" is refused: files must be in the mapping file's directory \
                            or under it",
                )
            }
            s if s.starts_with('.') => return Err("hidden files (\".NAME\") are never served"),
            s => parts.push(s),
        }
    }
    // The path as a request path: `%` escaped so that it is not decoded.
    let raw = format!("/{}", parts.join("/").replace('%', "%25"));
    ObjectPath::from_request_path(&raw).map_err(|_| "not a valid path")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_path(p: &str) -> ObjectPath {
        ObjectPath::from_request_path(p).unwrap()
    }

    #[test]
    fn resolves_relative_paths() {
        let m = parse(
            "t/title.json",
            br#"{"videos": ["a.mp4", "./sub/b.mp4"],
                "audio": [{"file": "a.mp4"}, {"file": "fr.m4a", "lang": "fr", "name": "F", "default": true}],
                "subtitles": [{"file": "s 100%.vtt", "lang": "", "forced": true}]}"#,
        )
        .unwrap();
        let r = resolve(&m, &json_path("/t/title.json")).unwrap();
        check_contained(
            &json_path("/t/title.json"),
            br#"{"videos": ["a/./b/c.mp4"]}"#,
        );
        let files: Vec<&str> = r.files.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            files,
            ["t/a.mp4", "t/sub/b.mp4", "t/fr.m4a", "t/s 100%.vtt"]
        );
        assert_eq!(r.videos, [0, 1]);
        let fr = RenditionSpec {
            lang: Some("fr".into()),
            name: Some("F".into()),
            default: true,
            forced: false,
        };
        assert_eq!(r.audio, [(0, RenditionSpec::default()), (2, fr)]);
        let forced = RenditionSpec {
            forced: true,
            ..RenditionSpec::default()
        };
        assert_eq!(r.subtitles, [(3, forced)]);
    }

    /// (mapping file, what the refusal must say)
    #[test]
    fn refusals() {
        let cases = [
            ("{\"videos\": [\"../x.mp4\"]}", "\"..\" is refused"),
            ("{\"videos\": [\"a/../../x.mp4\"]}", "\"..\" is refused"),
            (
                "{\"videos\": [\"/etc/x.mp4\"]}",
                "absolute paths are refused",
            ),
            (
                "{\"videos\": [\"C:\\\\x.mp4\"]}",
                "absolute paths are refused",
            ),
            ("{\"videos\": [\".hidden.mp4\"]}", "hidden files"),
            ("{\"videos\": [\"\"]}", "an empty path"),
            ("{\"videos\": []}", "lists no file"),
            (
                "{\"videos\": [\"a.mp4\"],\n \"audio\": [{\"file\": 3}]}",
                "line 2 column",
            ),
            (
                "{\"videos\": [\"a.mp4\"], \"extra\": 1}",
                "unknown field `extra`",
            ),
            (
                "{\"videos\": [\"a.mp4\"], \"audio\": [{\"file\": \"f.m4a\", \"forced\": true}]}",
                "unknown field `forced`",
            ),
            ("{\"videos\": [\"a.mp4\"]", "EOF while parsing"),
        ];
        for (text, want) in cases {
            let got = parse("t/x.json", text.as_bytes())
                .and_then(|m| resolve(&m, &json_path("/t/x.json")).map(|_| ()));
            let err = got.expect_err(text);
            assert!(err.contains(want), "{text}: {err}");
            assert!(err.starts_with("t/x.json"), "{text}: {err}");
        }
    }
}
