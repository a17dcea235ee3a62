// SPDX-License-Identifier: MIT OR Apache-2.0
//! Linux fast path of [`super::FsSource::open`]: three system calls on the async
//! worker instead of a blocking-pool round trip around `canonicalize` (one `readlink` per path
//! component) + `open` + `fstat`.
//!
//! 1. `openat2(root_fd, path, O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC, RESOLVE_BENEATH)`: the
//!    kernel resolves the path, symlinks included, and refuses (`EXDEV`) any resolution that
//!    leaves the root — nothing outside the root is ever opened. `O_NONBLOCK` keeps a FIFO
//!    from blocking the open (it is then refused as not a regular file; reads of regular
//!    files ignore the flag).
//! 2. `readlink("/proc/self/fd/N")`: the real path, which must not pass through a dot-entry
//!    (the packager's temporary directories), exactly as with `canonicalize`.
//! 3. `fstat` (by the caller): only regular files are served.
//!
//! Whenever this path cannot decide — `openat2` missing (Linux < 5.6) or filtered (seccomp),
//! an absolute symlink (which `RESOLVE_BENEATH` rejects even when it points inside the root),
//! a missing file (the root directory may have been replaced), no `/proc` — the caller falls
//! back to the portable way, which gives the same answers.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::path::ObjectPath;

/// What the fast path found.
pub(crate) enum Opened {
    /// Opened; its real path is inside the root and not hidden.
    File(File),
    /// Must look absent (its real path passes through a dot-entry).
    NotFound,
    /// Undecided here: use the portable path.
    Fallback,
}

/// Opens `path` beneath the directory `root_fd` (whose canonical path is `root`).
pub(crate) fn open(root_fd: &OwnedFd, root: &Path, path: &ObjectPath) -> io::Result<Opened> {
    let rel: PathBuf = path.segments().collect();
    if rel.as_os_str().is_empty() {
        return Ok(Opened::NotFound);
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = match rustix::fs::openat2(root_fd, &rel, flags, Mode::empty(), ResolveFlags::BENEATH) {
        Ok(fd) => fd,
        // EXDEV: out of the root, or an absolute symlink; ENOSYS/EPERM: no openat2 here;
        // EAGAIN: the kernel asks to retry (RESOLVE_CACHED is not used, but be safe);
        // ENOENT/ENOTDIR: missing — or the root directory was replaced since it was opened
        // (the descriptor still names the old one), which the path-based way sees.
        Err(
            Errno::XDEV | Errno::NOSYS | Errno::PERM | Errno::AGAIN | Errno::NOENT | Errno::NOTDIR,
        ) => return Ok(Opened::Fallback),
        Err(e) => return Err(e.into()),
    };
    let file = File::from(fd);
    let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
        return Ok(Opened::Fallback);
    };
    match real.strip_prefix(root) {
        Ok(inside) if !crate::path::is_hidden(inside) => Ok(Opened::File(file)),
        Ok(_) => Ok(Opened::NotFound),
        // Resolved beneath the root's descriptor yet not under its path: the root was moved
        // or renamed since it was opened; let the portable path decide against the path.
        Err(_) => Ok(Opened::Fallback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FsSource, ObjectSource};
    use std::os::unix::fs::symlink;

    #[derive(Debug, PartialEq)]
    enum Want {
        File,
        NotFound,
        Fallback,
    }

    #[tokio::test]
    async fn agrees_with_the_portable_path() {
        let dir = std::env::temp_dir().join(format!("origin-beneath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join(".tmp")).unwrap();
        std::fs::write(root.join("a/seg.ts"), b"segment").unwrap();
        std::fs::write(root.join(".tmp/x.ts"), b"hidden").unwrap();
        std::fs::write(dir.join("secret.ts"), b"secret").unwrap();
        symlink("a/seg.ts", root.join("link-in.ts")).unwrap();
        symlink("../secret.ts", root.join("link-out.ts")).unwrap();
        symlink(root.join("a/seg.ts"), root.join("abs-in.ts")).unwrap();
        symlink(dir.join("secret.ts"), root.join("abs-out.ts")).unwrap();
        symlink(".tmp/x.ts", root.join("link-hidden.ts")).unwrap();
        symlink("..", root.join("updir")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo.ts"))
            .status()
            .is_ok_and(|s| s.success());
        let source = FsSource::new(&root).unwrap();
        let replaced = FsSource::new(&root).unwrap();
        let root = source.root().to_path_buf();
        let root_fd: OwnedFd = File::open(&root).unwrap().into();
        // (path, what the fast path says, what `open` serves: Some(bytes) or None = 404).
        let cases: &[(&str, Want, Option<&[u8]>)] = &[
            ("/a/seg.ts", Want::File, Some(b"segment")),
            ("/link-in.ts", Want::File, Some(b"segment")),
            ("/link-out.ts", Want::Fallback, None),
            ("/abs-in.ts", Want::Fallback, Some(b"segment")),
            ("/abs-out.ts", Want::Fallback, None),
            ("/link-hidden.ts", Want::NotFound, None),
            ("/updir/secret.ts", Want::Fallback, None),
            ("/a", Want::File, None), // a directory: refused by the caller's fstat
            ("/missing.ts", Want::Fallback, None),
            ("/a/seg.ts/x", Want::Fallback, None),
            ("/fifo.ts", Want::File, None), // opened without blocking, refused by fstat
        ];
        for (path, want, serves) in cases {
            if *path == "/fifo.ts" && !fifo {
                continue;
            }
            let p = ObjectPath::from_request_path(path).unwrap();
            let got = match open(&root_fd, &root, &p) {
                Ok(Opened::File(_)) => Want::File,
                Ok(Opened::NotFound) => Want::NotFound,
                Ok(Opened::Fallback) => Want::Fallback,
                Err(e) => panic!("{path}: {e}"),
            };
            // Kernels without openat2 (or with it filtered) fall back everywhere.
            assert!(got == *want || got == Want::Fallback, "{path}: {got:?}");
            let opened = tokio::time::timeout(std::time::Duration::from_secs(5), source.open(&p))
                .await
                .unwrap_or_else(|_| panic!("{path}: open blocked"));
            let body = match opened {
                Ok(o) => Some(o.body.read_all_blocking(o.meta.len).unwrap()),
                Err(e) => {
                    // Both answered 404 (`files::io_error`).
                    let absent = [io::ErrorKind::NotFound, io::ErrorKind::NotADirectory];
                    assert!(absent.contains(&e.kind()), "{path}: {e}");
                    None
                }
            };
            assert_eq!(body.as_deref(), *serves, "{path}");
        }
        // The root directory is replaced after the source opened it: the new one is served.
        let moved = dir.join("old-root");
        std::fs::rename(&root, &moved).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/seg.ts"), b"new").unwrap();
        let p = ObjectPath::from_request_path("/a/seg.ts").unwrap();
        let o = replaced.open(&p).await.unwrap();
        assert_eq!(&o.body.read_all_blocking(o.meta.len).unwrap()[..], b"new");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
