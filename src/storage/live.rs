// SPDX-License-Identifier: MIT OR Apache-2.0
//! `live … --root s3://BUCKET/PREFIX` (first slice): the live packager writes its segments,
//! parts and playlists straight into object storage, `PREFIX/NAME/…`, under the names it
//! gives them on disk (segment and part names carry the run id, so they are immutable).
//!
//! Each object is uploaded before the packager goes on (segments and parts before the
//! playlist that lists them), from the driver thread. A failed upload is logged and counted
//! by the driver like a failed file write, and the stream goes on — so during an outage a
//! later playlist may list a segment whose upload failed. Not yet: `EXT-X-GAP` for those,
//! retries in the background, continuing an old playlist after a restart (a restart starts
//! afresh), several renditions, and `--listen` (serve the prefix with `hlsorigin serve
//! s3://…`).

use std::io;
use std::sync::Arc;

use media::store::Store;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use origin::source::store::{s3_from_env, Role};
use origin::StorageUrl;
use tokio::runtime::Handle;

use super::sink::ObjectSink;

/// Where one live stream goes in storage; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    rt: Handle,
    store: Arc<dyn ObjectStore>,
    /// `PREFIX/NAME`.
    prefix: String,
}

impl LiveTarget {
    /// `url` (already `…/NAME`) with an S3 client from the AWS environment; uploads run on
    /// `rt` (the driver threads block on them, outside the runtime).
    pub fn from_url(rt: Handle, url: &StorageUrl) -> io::Result<Self> {
        // Fail fast (one retry): a live packager must not wait a minute on one object.
        let store = s3_from_env(url, Role::Serve)?;
        Ok(Self::new(rt, store, &url.prefix))
    }

    pub fn new(rt: Handle, store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        LiveTarget {
            rt,
            store,
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// The packager's [`Store`] for this stream.
    pub fn store(&self) -> LiveObjectStore {
        LiveObjectStore {
            target: self.clone(),
        }
    }
}

/// The live packager's [`Store`] over object storage.
#[derive(Debug)]
pub struct LiveObjectStore {
    target: LiveTarget,
}

impl LiveObjectStore {
    fn key(&self, name: &str) -> io::Result<object_store::path::Path> {
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad object name {name:?}"),
            ));
        }
        Ok(ObjectSink::key(&self.target.prefix, None, name))
    }
}

impl Store for LiveObjectStore {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let key = self.key(name)?;
        let store = Arc::clone(&self.target.store);
        let payload = PutPayload::from(data.to_vec());
        self.target
            .rt
            .block_on(async move { store.put(&key, payload).await })
            .map(|_| ())
            .map_err(|e| io::Error::other(format!("uploading {name}: {e}")))
    }

    fn append(&mut self, name: &str, _data: &[u8]) -> io::Result<u64> {
        Err(io::Error::other(format!(
            "{name}: live single files cannot be appended to in object storage"
        )))
    }

    fn delete(&mut self, name: &str) -> io::Result<()> {
        let key = self.key(name)?;
        let store = Arc::clone(&self.target.store);
        match self
            .target
            .rt
            .block_on(async move { store.delete(&key).await })
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io::Error::other(format!("deleting {name}: {e}"))),
        }
    }
}
