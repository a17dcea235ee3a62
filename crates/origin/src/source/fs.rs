// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`FsSource`]: objects are files under a root directory.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use tokio::task::spawn_blocking;

use super::{Listing, Object, ObjectBody, ObjectMeta, ObjectSource};
use crate::path::{is_hidden, ObjectPath};

/// Directory depth searched for `master.m3u8` by [`FsSource`]'s stream listing.
const LIST_MAX_DEPTH: usize = 4;
/// Most streams a listing returns.
const LIST_MAX_STREAMS: usize = 1000;

/// Serves files under a root directory.
///
/// Every open resolves symlinks and refuses (as not found) anything whose real path is outside
/// the root or passes through a dot-directory, and anything that is not a regular file. On
/// Linux this is done on the calling task with `openat2(RESOLVE_BENEATH)` (see
/// `super::beneath`), elsewhere (and where that cannot decide) with `canonicalize` on the
/// blocking pool.
#[derive(Debug, Clone)]
pub struct FsSource {
    root: PathBuf,
    /// The root directory, open (Linux fast path); `None` where it could not be opened.
    #[cfg(target_os = "linux")]
    root_fd: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl FsSource {
    /// A source for `root`, which must be an existing directory.
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self {
            #[cfg(target_os = "linux")]
            root_fd: File::open(&root)
                .ok()
                .map(|dir| std::sync::Arc::new(dir.into())),
            root,
        })
    }

    /// A source for `root` as given, for when [`FsSource::new`] failed: every open fails
    /// until the directory exists.
    pub(crate) fn unchecked(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            #[cfg(target_os = "linux")]
            root_fd: None,
        }
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_blocking(root: &Path, path: &ObjectPath) -> io::Result<Object> {
        let mut joined = root.to_path_buf();
        joined.extend(path.segments());
        let real = std::fs::canonicalize(&joined)?;
        let inside = real.strip_prefix(root).map_err(|_| not_found())?;
        if is_hidden(inside) {
            return Err(not_found());
        }
        object(File::open(&real)?)
    }
}

fn object(file: File) -> io::Result<Object> {
    let md = file.metadata()?;
    if !md.is_file() {
        return Err(not_found());
    }
    let modified = md.modified().ok();
    let meta = ObjectMeta {
        len: md.len(),
        modified,
        etag: fs_etag(&md, modified),
    };
    Ok(Object {
        meta,
        body: ObjectBody::File(file),
    })
}

fn not_found() -> io::Error {
    io::ErrorKind::NotFound.into()
}

/// `"<device>-<inode>-<mtime ns>-<len>"` in hex: the file's identity, which changes whenever
/// the packager replaces (renames over) or rewrites the file, which it does atomically (RFC
/// 8216bis 6.2.1). The hot-object cache ([`super::hot`]) trusts its copy only while this is
/// unchanged.
fn fs_etag(md: &std::fs::Metadata, modified: Option<SystemTime>) -> HeaderValue {
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (md.dev(), md.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0u64, 0u64);
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let tag = format!("\"{dev:x}-{ino:x}-{nanos:x}-{:x}\"", md.len());
    // Only hex digits, '-' and quotes: always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\""))
}

impl ObjectSource for FsSource {
    async fn open(&self, path: &ObjectPath) -> io::Result<Object> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.root_fd {
            match super::beneath::open(fd, &self.root, path)? {
                super::beneath::Opened::File(file) => return object(file),
                super::beneath::Opened::NotFound => return Err(not_found()),
                super::beneath::Opened::Fallback => {}
            }
        }
        let root = self.root.clone();
        let path = path.clone();
        spawn_blocking(move || Self::open_blocking(&root, &path))
            .await
            .map_err(io::Error::other)?
    }

    async fn list_streams(&self) -> io::Result<Vec<String>> {
        Ok(self.walk(None).await?.streams)
    }

    async fn list_offered(&self, offer: fn(&str) -> bool) -> io::Result<Listing> {
        self.walk(Some(offer)).await
    }
}

impl FsSource {
    /// The streams under the root and the files `offer` accepts (on the blocking pool).
    async fn walk(&self, offer: Option<fn(&str) -> bool>) -> io::Result<Listing> {
        let root = self.root.clone();
        spawn_blocking(move || {
            let mut found = Listing::default();
            list_dir(&root, "", 0, offer, &mut found)?;
            found.streams.sort();
            found.files.sort();
            Ok(found)
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// Collects top-level `*.m3u8` and `master.m3u8` at any depth up to [`LIST_MAX_DEPTH`],
/// skipping dot entries and not following symlinks; and the files `offer` accepts in
/// directories without a playlist (below the root: nor under one).
fn list_dir(
    dir: &Path,
    prefix: &str,
    depth: usize,
    offer: Option<fn(&str) -> bool>,
    found: &mut Listing,
) -> io::Result<()> {
    let (mut offered, mut subdirs, mut has_playlist) = (Vec::new(), Vec::new(), false);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() && depth < LIST_MAX_DEPTH {
            subdirs.push((entry.path(), format!("{prefix}{name}/")));
        } else if file_type.is_file() && name.ends_with(".m3u8") {
            has_playlist = true;
            if (depth == 0 || name == "master.m3u8") && found.streams.len() < LIST_MAX_STREAMS {
                found.streams.push(format!("{prefix}{name}"));
            }
        } else if file_type.is_file() && offer.is_some_and(|accept| accept(&name)) {
            offered.push(format!("{prefix}{name}"));
        }
    }
    if !has_playlist {
        let room = LIST_MAX_STREAMS.saturating_sub(found.files.len());
        found.files.extend(offered.into_iter().take(room));
    }
    // Below the root, a stream's directory offers nothing under it either.
    let offer = offer.filter(|_| depth == 0 || !has_playlist);
    for (path, sub) in subdirs {
        let files_full = offer.is_none() || found.files.len() >= LIST_MAX_STREAMS;
        if found.streams.len() >= LIST_MAX_STREAMS && files_full {
            break;
        }
        // An unreadable subdirectory hides its streams, not everyone else's.
        let _ = list_dir(&path, &sub, depth.saturating_add(1), offer, found);
    }
    Ok(())
}
