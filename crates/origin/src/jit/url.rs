// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time URLs: `/PATH/FILE.mp4/NAME` (fMP4/CMAF) and `/PATH/FILE.mp4/ts/NAME`
//! (MPEG-TS), NAME being one of the objects `package` writes for a single rendition
//! (`master.m3u8`, `stream.m3u8`, `stream_iframes.m3u8`, `stream_VERSION_init.mp4`,
//! `stream_VERSION_000000.m4s|ts`, …). Which names exist is the plan's to say; this only splits
//! the path. `/PATH/NAME.json/…` is the same for a mapping file's ladder (`mapping`).

use media::package::Format;

use crate::path::ObjectPath;

/// File extensions (lower case) served just in time.
const MP4_EXTENSIONS: [&str; 4] = ["mp4", "m4v", "mov", "m4a"];
/// MPEG-TS files (lower case) served just in time, as `package FILE.ts` packages them.
const TS_EXTENSIONS: [&str; 1] = ["ts"];
/// What the objects `package` writes end in (playlists, init segments and single files,
/// segments, subtitle segments, keys): any other name under a file is not a JIT request, so it
/// is a plain 404 without the file being indexed (`/seg10.ts/x` under a TS segment).
const OBJECT_EXTENSIONS: [&str; 6] = ["m3u8", "mp4", "m4s", "ts", "vtt", "bin"];

/// A request for an object of a file packaged just in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JitUrl {
    /// The media file.
    pub file: ObjectPath,
    pub format: Format,
    /// The object's name in the rendition.
    pub name: String,
    /// `file` is a mapping file (`NAME.json`) describing a ladder, not a media file.
    pub mapping: bool,
}

/// The JIT request `path` stands for, if it has the form; the last MP4 component decides
/// (`a.mp4/b.mp4/master.m3u8` is `b.mp4`'s master).
pub(crate) fn parse(path: &ObjectPath) -> Option<JitUrl> {
    let parts: Vec<&str> = path.segments().collect();
    // Not the last component: that is the object's name (an init segment is `….mp4` too).
    let at = parts
        .get(..parts.len().saturating_sub(1))?
        .iter()
        .rposition(|p| is_mp4(p) || is_mapping(p))?;
    let mapping = parts.get(at).is_some_and(|p| is_mapping(p));
    let (format, name) = match parts.get(at + 1..)? {
        [name] => (Format::Fmp4, *name),
        ["ts", name] => (Format::Ts, *name),
        _ => return None,
    };
    let is_object = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && OBJECT_EXTENSIONS.contains(&ext));
    if !is_object {
        return None;
    }
    let file = path.leading(at + 1);
    Some(JitUrl {
        file,
        format,
        name: name.to_owned(),
        mapping,
    })
}

/// Whether a file named `name` may be served just in time: a media file `parse` accepts, or a
/// mapping file (which must still parse as one).
pub fn offered(name: &str) -> bool {
    is_mp4(name) || is_mapping(name)
}

/// A mapping file's name: `NAME.json` (README "Just-in-time packaging", mapping files).
pub(crate) fn is_mapping(part: &str) -> bool {
    part.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && ext.eq_ignore_ascii_case("json"))
}

fn is_mp4(part: &str) -> bool {
    part.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && MP4_EXTENSIONS
                .iter()
                .chain(&TS_EXTENSIONS)
                .any(|e| ext.eq_ignore_ascii_case(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jit_paths() {
        // (request path, Some((file, format, name)) or None)
        type Want<'a> = Option<(&'a str, Format, &'a str)>;
        // The mapping files' cases: (request path, mapping or not) for those that parse.
        let mappings = [
            ("/t/title.json/master.m3u8", true),
            ("/t/title.JSON/ts/video_0.m3u8", true),
            ("/a.mp4/master.m3u8", false),
            ("/x.json/a.mp4/master.m3u8", false),
            ("/a.mp4/x.json/master.m3u8", true),
        ];
        for (raw, mapping) in mappings {
            let path = ObjectPath::from_request_path(raw).expect(raw);
            assert_eq!(parse(&path).map(|u| u.mapping), Some(mapping), "{raw}");
        }
        let cases: &[(&str, Want)] = &[
            (
                "/a.mp4/master.m3u8",
                Some(("a.mp4", Format::Fmp4, "master.m3u8")),
            ),
            (
                "/v/b.MOV/ts/stream.m3u8",
                Some(("v/b.MOV", Format::Ts, "stream.m3u8")),
            ),
            (
                "/x/c.m4v/stream_0a1b2c3d_000003.m4s",
                Some(("x/c.m4v", Format::Fmp4, "stream_0a1b2c3d_000003.m4s")),
            ),
            (
                "/a.mp4/b.mp4/master.m3u8",
                Some(("a.mp4/b.mp4", Format::Fmp4, "master.m3u8")),
            ),
            (
                "/a.mp4/stream_0a1b2c3d_init.mp4",
                Some(("a.mp4", Format::Fmp4, "stream_0a1b2c3d_init.mp4")),
            ),
            ("/a.mp4", None),
            ("/a.mp4/ts/x/y.ts", None),
            ("/a.mp4/other/master.m3u8", None),
            ("/a/mp4/master.m3u8", None),
            ("/clip/master.m3u8", None),
            ("/a.mp4.bak/master.m3u8", None),
            (
                "/t/title.json/subs_0_0a1b2c3d_000000.vtt",
                Some(("t/title.json", Format::Fmp4, "subs_0_0a1b2c3d_000000.vtt")),
            ),
            ("/t/title.json", None),
            ("/t/x.json.bak/master.m3u8", None),
            ("/t/title.json/x/master.m3u8", None),
            // Names `package` never writes are not JIT requests (plain 404, no indexing).
            ("/seg10.ts/x", None),
            ("/a.mp4/stream.m3u8.bak", None),
        ];
        for (raw, want) in cases {
            let path = ObjectPath::from_request_path(raw).expect(raw);
            let got = parse(&path).map(|u| (u.file.as_str().to_owned(), u.format, u.name));
            let want = want.map(|(f, fmt, n)| (f.to_owned(), fmt, n.to_owned()));
            assert_eq!(got, want, "{raw}");
        }
    }
}
