// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`ObjectSink`]: the packager's [`Store`] / [`StreamStore`] over object storage — the
//! object-store sibling of [`crate::fs_store::FsStore`].
//!
//! Every object of a run goes under `PREFIX/RUN/`; the order readers can rely on is made
//! here, whatever order the packager writes in: media and init segments (and single files)
//! are uploaded as they come, playlists are held back and uploaded by [`ObjectSink::finish`]
//! — media playlists first, then `PREFIX/master.m3u8`, rewritten to point into `RUN/` (the
//! commit point: a reader that sees the new master finds every object it names).

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use media::package::StreamStore;
use media::store::Store;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

/// The entry point's name, as the packager writes it.
pub const MASTER: &str = "master.m3u8";

pub struct ObjectSink {
    rt: Handle,
    store: Arc<dyn ObjectStore>,
    /// `PREFIX` (may be empty) and `RUN`.
    prefix: String,
    run: String,
    /// The object begun with [`StreamStore::begin`] and not yet committed.
    pending: Option<BufWriter>,
    /// The single file being appended to: its name, upload and length so far.
    appending: Option<(String, BufWriter, u64)>,
    /// Playlists held back until [`ObjectSink::finish`], in the order they were written.
    playlists: Vec<(String, Vec<u8>)>,
}

impl ObjectSink {
    /// A sink for run `run` under `prefix`; blocks on `rt` for each upload (call it from a
    /// thread outside the runtime).
    pub fn new(rt: Handle, store: Arc<dyn ObjectStore>, prefix: &str, run: &str) -> Self {
        ObjectSink {
            rt,
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            run: run.to_owned(),
            pending: None,
            appending: None,
            playlists: Vec::new(),
        }
    }

    /// The key of `name` under `PREFIX/` (with `run`: under `PREFIX/RUN/`).
    pub fn key(prefix: &str, run: Option<&str>, name: &str) -> Path {
        let mut key = String::new();
        for part in [Some(prefix), run, Some(name)].into_iter().flatten() {
            if !part.is_empty() {
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(part);
            }
        }
        Path::from(key)
    }

    fn run_key(&self, name: &str) -> io::Result<Path> {
        // Names come from the packager; never let one leave the run's prefix.
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad object name {name:?}"),
            ));
        }
        Ok(Self::key(&self.prefix, Some(&self.run), name))
    }

    fn upload(&self, key: &Path, data: Vec<u8>) -> io::Result<()> {
        let store = Arc::clone(&self.store);
        self.rt
            .block_on(async move { store.put(key, PutPayload::from(data)).await })
            .map(|_| ())
            .map_err(|e| io::Error::other(format!("uploading {key}: {e}")))
    }

    /// Completes the single file being appended to, if any.
    fn finish_append(&mut self) -> io::Result<()> {
        if let Some((name, mut writer, _)) = self.appending.take() {
            self.rt
                .block_on(writer.shutdown())
                .map_err(|e| io::Error::other(format!("uploading {name}: {e}")))?;
        }
        Ok(())
    }

    /// Uploads what is held back: media playlists, then the master pointing at this run.
    /// Without a master (nothing to commit) it fails.
    pub fn finish(&mut self) -> io::Result<()> {
        self.finish_append()?;
        let playlists = std::mem::take(&mut self.playlists);
        let mut master = None;
        for (name, data) in playlists {
            if name == MASTER {
                master = Some(data);
            } else {
                self.upload(&self.run_key(&name)?, data)?;
            }
        }
        let master = master.ok_or_else(|| io::Error::other("the packager wrote no master"))?;
        let text = String::from_utf8_lossy(&master);
        let key = Self::key(&self.prefix, None, MASTER);
        self.upload(&key, point_at_run(&text, &self.run).into_bytes())
    }
}

impl Store for ObjectSink {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let key = self.run_key(name)?;
        if name.ends_with(".m3u8") {
            self.playlists.retain(|(n, _)| n != name);
            self.playlists.push((name.to_owned(), data.to_vec()));
            return Ok(());
        }
        self.upload(&key, data.to_vec())
    }

    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        let key = self.run_key(name)?;
        if self.appending.as_ref().is_some_and(|(n, _, _)| n != name) {
            self.finish_append()?;
        }
        let store = Arc::clone(&self.store);
        let (_, writer, len) = self
            .appending
            .get_or_insert_with(|| (name.to_owned(), BufWriter::new(store, key), 0));
        self.rt
            .block_on(writer.put(Bytes::copy_from_slice(data)))
            .map_err(|e| io::Error::other(format!("uploading {name}: {e}")))?;
        let offset = *len;
        *len += data.len() as u64;
        Ok(offset)
    }

    fn delete(&mut self, name: &str) -> io::Result<()> {
        let key = self.run_key(name)?;
        self.playlists.retain(|(n, _)| n != name);
        let store = Arc::clone(&self.store);
        match self.rt.block_on(async move { store.delete(&key).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl StreamStore for ObjectSink {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        let key = self.run_key(name)?;
        if let Some(mut old) = self.pending.take() {
            let _ = self.rt.block_on(old.abort());
        }
        self.pending = Some(BufWriter::new(Arc::clone(&self.store), key));
        Ok(())
    }

    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let writer = self
            .pending
            .as_mut()
            .ok_or_else(|| io::Error::other("write without begin"))?;
        self.rt
            .block_on(async {
                for part in parts.iter().filter(|p| !p.is_empty()) {
                    writer.put(Bytes::copy_from_slice(part)).await?;
                }
                Ok::<_, object_store::Error>(())
            })
            .map_err(io::Error::other)
    }

    fn commit(&mut self) -> io::Result<()> {
        let mut writer = self
            .pending
            .take()
            .ok_or_else(|| io::Error::other("commit without begin"))?;
        self.rt.block_on(writer.shutdown())
    }
}

impl Drop for ObjectSink {
    fn drop(&mut self) {
        // An object begun and not committed: abort its multipart upload, if it started one.
        if let Some(mut w) = self.pending.take() {
            let _ = self.rt.block_on(w.abort());
        }
        if let Some((_, mut w, _)) = self.appending.take() {
            let _ = self.rt.block_on(w.abort());
        }
    }
}

/// The master playlist as stored at `PREFIX/master.m3u8`: every relative URI (URI lines and
/// `URI="…"` attributes, RFC 8216bis 4.4.6) prefixed with `RUN/`, so the one fixed entry point
/// names this run's playlists. Absolute URIs are left alone.
pub fn point_at_run(master: &str, run: &str) -> String {
    let relative = |uri: &str| !uri.contains("://") && !uri.starts_with('/');
    let mut out = String::with_capacity(master.len() + 64);
    for line in master.lines() {
        let t = line.trim();
        if t.is_empty() {
        } else if !t.starts_with('#') {
            if relative(t) {
                out.push_str(run);
                out.push('/');
            }
            out.push_str(t);
        } else if let Some((head, rest)) = t.split_once("URI=\"") {
            out.push_str(head);
            out.push_str("URI=\"");
            if relative(rest) {
                out.push_str(run);
                out.push('/');
            }
            out.push_str(rest);
        } else {
            out.push_str(t);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_point_at_their_run() {
        let master = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\nstream.m3u8\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"stream_iframes.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\nhttps://cdn/x.m3u8\n";
        let want = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\nr1/stream.m3u8\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"r1/stream_iframes.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\nhttps://cdn/x.m3u8\n";
        assert_eq!(point_at_run(master, "r1"), want);
        // An independent parser reads the result, URIs into the run.
        let parsed = m3u8_rs::parse_master_playlist_res(want.as_bytes()).expect("parses");
        assert_eq!(parsed.variants[0].uri, "r1/stream.m3u8");
        assert_eq!(parsed.variants[1].uri, "r1/stream_iframes.m3u8");
    }

    #[test]
    fn keys() {
        assert_eq!(ObjectSink::key("", Some("r"), "a.ts").as_ref(), "r/a.ts");
        assert_eq!(
            ObjectSink::key("v/c", None, "master.m3u8").as_ref(),
            "v/c/master.m3u8"
        );
        assert_eq!(ObjectSink::key("v", Some("r"), "a.ts").as_ref(), "v/r/a.ts");
    }
}
