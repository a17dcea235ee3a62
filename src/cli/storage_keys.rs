// SPDX-License-Identifier: MIT OR Apache-2.0
//! The key files of `package --encrypt … -o s3://…`: the rules of a local `package`
//! (`crate::cli::encrypt`), applied to a bucket.
//!
//! - No `--key-uri`: EXT-X-KEY names `key_<n>.bin` relatively, so each key is uploaded beside
//!   the run's playlists (`PREFIX/RUN/key_<n>.bin`, with the segments, before any playlist)
//!   and served by the origin, exactly as a local output serves it from OUTDIR. Whoever can
//!   read the playlists can read the key; it is deleted with its run.
//! - `--key-uri` and a generated key: the key is never uploaded (a bucket may be read
//!   without the origin); it is written to a local file, mode 0600, in the current
//!   directory (`hlsorigin_key_<RUN>_<n>.bin`) for you to install on your key server.
//! - `--key-uri` and a given key (`--key`, `--key-file`): nothing is written anywhere.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use media::crypto::key_file_name;
use media::store::Store;

use super::encrypt::{write_private, Keys};

/// Where one key file went.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyFile {
    /// An object of the run: its name beside the run's playlists.
    Stored(String),
    /// A local file (never uploaded).
    Local(PathBuf),
}

/// Writes the key files of run `run`, which wrote `segments` segments: uploaded through
/// `sink` or written into `local_dir` (see the module documentation).
pub fn write(
    keys: &Keys,
    sink: &mut dyn Store,
    local_dir: &Path,
    run: &str,
    segments: usize,
) -> Result<Vec<KeyFile>> {
    let enc = &keys.encryption;
    let mut files = Vec::new();
    for n in 0..enc.keys_used(segments as u64) {
        match (&enc.key_uri, keys.generated) {
            (None, _) => {
                let name = key_file_name(n);
                sink.put(&name, &enc.key(n))
                    .with_context(|| format!("uploading {name}"))?;
                files.push(KeyFile::Stored(name));
            }
            (Some(_), true) => {
                let path = local_dir.join(local_name(run, &n.to_string()));
                write_private(&path, &enc.key(n))?;
                files.push(KeyFile::Local(path));
            }
            (Some(_), false) => {}
        }
    }
    Ok(files)
}

/// Deletes the local key files of run `run` in `local_dir` (a run that failed and was not
/// committed: its keys protect nothing).
pub fn remove_local(local_dir: &Path, run: &str) {
    let prefix = local_name(run, "");
    let Ok(entries) = std::fs::read_dir(local_dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `hlsorigin_key_<RUN>_<n>.bin` (with `n` empty: the common start of a run's names).
fn local_name(run: &str, n: &str) -> String {
    if n.is_empty() {
        format!("hlsorigin_key_{run}_")
    } else {
        format!("hlsorigin_key_{run}_{n}.bin")
    }
}

/// One line per key file for the user: the object's `s3://` URL, or the local path.
pub fn describe(url: &origin::StorageUrl, run: &str, files: &[KeyFile]) -> Vec<String> {
    files
        .iter()
        .map(|f| match f {
            KeyFile::Stored(name) => format!("{url}/{run}/{name}"),
            KeyFile::Local(path) => path.display().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::crypto::{Encryption, Method};
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Mem(BTreeMap<String, Vec<u8>>);

    impl Store for Mem {
        fn put(&mut self, name: &str, data: &[u8]) -> std::io::Result<()> {
            self.0.insert(name.to_owned(), data.to_vec());
            Ok(())
        }
        fn append(&mut self, _: &str, _: &[u8]) -> std::io::Result<u64> {
            unreachable!("keys are put whole")
        }
        fn delete(&mut self, name: &str) -> std::io::Result<()> {
            self.0.remove(name);
            Ok(())
        }
    }

    /// Key URI, generated, rotation, objects uploaded, local files written.
    type Case = (Option<&'static str>, bool, Option<u32>, usize, usize);

    #[test]
    fn where_keys_go() {
        let dir = std::env::temp_dir().join(format!("hlsorigin-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let cases: &[Case] = &[
            (None, true, None, 1, 0),
            (None, false, None, 1, 0),
            (None, true, Some(2), 3, 0),
            (Some("https://keys/k"), false, None, 0, 0),
            (Some("https://keys/k"), true, None, 0, 1),
            (Some("https://keys/{n}"), true, Some(2), 0, 3),
        ];
        for (i, &(uri, generated, rotation, stored, local)) in cases.iter().enumerate() {
            let keys = Keys {
                encryption: Encryption {
                    method: Method::Aes128,
                    key: [7; 16],
                    rotation,
                    key_uri: uri.map(str::to_owned),
                },
                generated,
            };
            let mut sink = Mem::default();
            let run = format!("r{i}");
            let files = write(&keys, &mut sink, &dir, &run, 5).expect("write");
            let want = format!("case {i}: {files:?}");
            assert_eq!(sink.0.len(), stored, "{want}");
            let locals: Vec<_> = files
                .iter()
                .filter_map(|f| match f {
                    KeyFile::Local(p) => Some(p),
                    KeyFile::Stored(_) => None,
                })
                .collect();
            assert_eq!(locals.len(), local, "{want}");
            for (n, p) in locals.iter().enumerate() {
                assert_eq!(
                    std::fs::read(p).expect("key"),
                    keys.encryption.key(n as u64)
                );
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(p).expect("meta").permissions().mode();
                    assert_eq!(mode & 0o777, 0o600, "{want}");
                }
            }
            if stored > 0 {
                assert_eq!(sink.0["key_0.bin"], keys.encryption.key(0).to_vec());
            }
        }
        remove_local(&dir, "r5");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
        assert_eq!(left.len(), 1, "only r4's key is left: {left:?}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
