// SPDX-License-Identifier: MIT OR Apache-2.0
//! A filesystem [`Store`]: objects are files in one directory. Whole-object writes go through a
//! temp file + rename so readers never see a partial object (RFC 8216bis 6.2.1).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use media::store::Store;

pub struct FsStore {
    dir: PathBuf,
    open_append: Option<(String, File, u64)>,
}

impl FsStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FsStore {
            dir: dir.into(),
            open_append: None,
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
}

impl Store for FsStore {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let path = self.path(name)?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
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

fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    Ok(())
}
