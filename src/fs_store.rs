// SPDX-License-Identifier: MIT OR Apache-2.0
//! A filesystem [`Store`]: objects are files in one directory. Whole-object writes go through a
//! temp file + rename so readers never see a partial object (RFC 8216bis 6.2.1). Media segments
//! arrive in pieces ([`StreamStore`]) and are written with vectored writes straight from the
//! muxer's buffers, through the same temp file + rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use media::package::StreamStore;
use media::store::Store;

pub struct FsStore {
    dir: PathBuf,
    open_append: Option<(String, File, u64)>,
    /// The object being written piece by piece: (temp path, final path, file).
    pending: Option<(PathBuf, PathBuf, File)>,
}

impl FsStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FsStore {
            dir: dir.into(),
            open_append: None,
            pending: None,
        }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        // Object names are produced by the packager, but never let one escape the directory.
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad object name {name:?}"),
            ));
        }
        Ok(self.dir.join(name))
    }

    fn tmp_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}.tmp"))
    }

    /// Removes the temp file of an object begun but not committed.
    fn discard_pending(&mut self) {
        if let Some((tmp, _, file)) = self.pending.take() {
            drop(file);
            let _ = fs::remove_file(tmp);
        }
    }
}

impl Drop for FsStore {
    fn drop(&mut self) {
        self.discard_pending();
    }
}

impl Store for FsStore {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let path = self.path(name)?;
        let tmp = self.tmp_path(name);
        write_file(&tmp, data)?;
        fs::rename(&tmp, &path)
    }

    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        let path = self.path(name)?;
        if self.open_append.as_ref().map(|(n, _, _)| n.as_str()) != Some(name) {
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let len = file.metadata()?.len();
            self.open_append = Some((name.to_owned(), file, len));
        }
        let (_, file, len) = self.open_append.as_mut().expect("set above");
        file.write_all(data)?;
        let offset = *len;
        *len += data.len() as u64;
        Ok(offset)
    }

    fn delete(&mut self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path(name)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

impl StreamStore for FsStore {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        self.discard_pending();
        let path = self.path(name)?;
        let tmp = self.tmp_path(name);
        let file = File::create(&tmp)?;
        self.pending = Some((tmp, path, file));
        Ok(())
    }

    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let (_, _, file) = self
            .pending
            .as_mut()
            .ok_or_else(|| io::Error::other("write without begin"))?;
        write_all_vectored(file, parts)
    }

    fn commit(&mut self) -> io::Result<()> {
        let (tmp, path, file) = self
            .pending
            .take()
            .ok_or_else(|| io::Error::other("commit without begin"))?;
        drop(file);
        fs::rename(&tmp, &path)
    }
}

fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    Ok(())
}

/// `writev` until every part is written (`Write::write_all_vectored` is not stable yet).
fn write_all_vectored(file: &mut File, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| IoSlice::new(p))
        .collect();
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_become_one_object_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FsStore::new(dir.path());
        store.begin("a.ts").unwrap();
        // More parts than one writev takes (IOV_MAX is 1024 on Linux), some empty.
        let parts: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![i as u8; (i % 7) as usize])
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        store.write_parts(&refs).unwrap();
        store.write_parts(&[b"end"]).unwrap();
        assert!(!dir.path().join("a.ts").exists(), "invisible before commit");
        store.commit().unwrap();
        let mut want: Vec<u8> = parts.concat();
        want.extend_from_slice(b"end");
        assert_eq!(fs::read(dir.path().join("a.ts")).unwrap(), want);
        assert!(!dir.path().join(".a.ts.tmp").exists());

        // An object begun and never committed leaves nothing behind.
        store.begin("b.ts").unwrap();
        store.write_parts(&[b"partial"]).unwrap();
        store.begin("c.ts").unwrap();
        assert!(!dir.path().join(".b.ts.tmp").exists());
        drop(store);
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec!["a.ts"]);
        assert!(FsStore::new(dir.path()).begin("../x").is_err());
    }
}
