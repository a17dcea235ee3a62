// SPDX-License-Identifier: MIT OR Apache-2.0
//! Request path → object name, refusing anything that could leave the root.
//!
//! The path is percent-decoded exactly once (RFC 3986 2.4), so `%252e%252e` stays the
//! literal name `%2e%2e` (a file that does not exist) rather than becoming `..`. After
//! decoding, every segment must be non-empty, must not start with `.` (this refuses `.`,
//! `..`, dotfiles and the packager's `.tmp…` working directories) and must not contain `\`,
//! NUL or other control characters. Symlinks are checked by the source when it opens the
//! object (see [`crate::source::FsSource`]).

use std::path::{Component, Path};

use percent_encoding::percent_decode_str;

/// A validated, decoded, relative object name such as `live/video_00012.m4s`.
///
/// Segments are separated by `/`; none is empty, starts with `.`, or contains `\`, NUL or a
/// control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath(String);

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Malformed or hostile (`..`, `\`, NUL, bad UTF-8): answer 400.
    BadRequest,
    /// A well-formed path to something never served (dotfiles, directories): answer 404.
    Hidden,
}

impl ObjectPath {
    /// Validates the path component of a request URI (still percent-encoded, starting
    /// with `/`, without the query).
    pub fn from_request_path(raw: &str) -> Result<Self, PathError> {
        let rest = raw.strip_prefix('/').ok_or(PathError::BadRequest)?;
        let decoded = percent_decode_str(rest)
            .decode_utf8()
            .map_err(|_| PathError::BadRequest)?;
        if decoded.is_empty() || decoded.ends_with('/') {
            // The root or a directory: no listings.
            return Err(PathError::Hidden);
        }
        let mut hidden = false;
        for segment in decoded.split('/') {
            if segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.chars().any(|c| c == '\\' || c.is_control())
            {
                return Err(PathError::BadRequest);
            }
            if segment.starts_with('.') {
                hidden = true;
            }
        }
        if hidden {
            return Err(PathError::Hidden);
        }
        Ok(Self(decoded.into_owned()))
    }

    /// The name, `/`-separated, without a leading `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The extension of the last segment as written (`"m3u8"`), if any.
    pub fn extension(&self) -> Option<&str> {
        let name = self.0.rsplit('/').next()?;
        let (stem, ext) = name.rsplit_once('.')?;
        if stem.is_empty() {
            None
        } else {
            Some(ext)
        }
    }

    /// The segments, for joining onto a filesystem root one at a time.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The path of the first `n` segments (at least one), still a valid object path.
    pub(crate) fn leading(&self, n: usize) -> ObjectPath {
        ObjectPath(
            self.0
                .split('/')
                .take(n.max(1))
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// Whether a path relative to the root passes through a dot-entry (or is not plain names).
pub(crate) fn is_hidden(inside: &Path) -> bool {
    inside.components().any(|c| match c {
        Component::Normal(name) => name.as_encoded_bytes().first() == Some(&b'.'),
        _ => true,
    })
}

/// The object of an open file (one `fstat`), if it is a regular file.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use PathError::{BadRequest as Bad, Hidden};
        let cases: &[(&str, Result<&str, PathError>)] = &[
            ("/a/master.m3u8", Ok("a/master.m3u8")),
            ("/seg%20one.ts", Ok("seg one.ts")),
            ("/%252e%252e/x", Ok("%2e%2e/x")),
            ("/caf%C3%A9.ts", Ok("café.ts")),
            ("/", Err(Hidden)),
            ("/dir/", Err(Hidden)),
            ("/.tmp123/seg.ts", Err(Hidden)),
            ("/a/.hidden", Err(Hidden)),
            ("/%2ehidden", Err(Hidden)),
            ("/../etc/passwd", Err(Bad)),
            ("/a/../../etc/passwd", Err(Bad)),
            ("/%2e%2e/etc/passwd", Err(Bad)),
            ("/%2E%2E%2Fetc%2Fpasswd", Err(Bad)),
            ("/a/./b", Err(Bad)),
            ("/a\\..\\b", Err(Bad)),
            ("/a%5c..%5cb", Err(Bad)),
            ("/a%00.ts", Err(Bad)),
            ("/a%0a.ts", Err(Bad)),
            ("//etc/passwd", Err(Bad)),
            ("/a//b", Err(Bad)),
            ("/%ff.ts", Err(Bad)),
            ("relative", Err(Bad)),
        ];
        for (raw, want) in cases {
            let got = ObjectPath::from_request_path(raw);
            assert_eq!(
                got.as_ref().map(ObjectPath::as_str),
                want.as_ref().map(|s| *s),
                "{raw}"
            );
        }
    }

    #[test]
    fn extension() {
        let ext = |p: &str| {
            ObjectPath::from_request_path(p)
                .ok()
                .and_then(|p| p.extension().map(str::to_owned))
        };
        assert_eq!(ext("/a/b.m3u8").as_deref(), Some("m3u8"));
        assert_eq!(ext("/a.b/c").as_deref(), None);
        assert_eq!(ext("/x.tar.gz").as_deref(), Some("gz"));
    }
}
