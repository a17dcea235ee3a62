// SPDX-License-Identifier: MIT OR Apache-2.0
//! `live … --root s3://BUCKET/PREFIX`: the live packager writes its segments, parts and
//! playlists into object storage, `PREFIX/NAME/…`, under the names it gives them on disk
//! (segment and part names carry the run id, so they are immutable).
//!
//! The driver never waits for storage: each stream's objects go through an
//! [`Uploader`](super::uploader) — a bounded queue and a worker task that uploads in order
//! (segments and parts before the playlist that lists them), retries with backoff and lists
//! what could not be stored in time as `EXT-X-GAP`. A restarted packager continues the
//! playlist it finds in storage ([`LiveTarget::read_blocking`], the driver's recovery, as on
//! disk); its gaps stay gaps ([`Gaps`]). Not yet: live single files.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use media::store::Store;
use object_store::{ObjectStore, ObjectStoreExt};
use origin::source::store::{s3_from_env, Role};
use origin::StorageUrl;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

pub use super::uploader::{gap_uris, Gaps};
use super::uploader::{Target, UploadStats, Uploader, DEFAULT_DEADLINE};

/// Longest wait for storage when a packager starts and looks for a playlist to continue.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

/// Where one live stream goes in storage; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    rt: Handle,
    store: Arc<dyn ObjectStore>,
    /// `PREFIX/NAME`.
    prefix: String,
    deadline: Duration,
    stats: Arc<UploadStats>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl LiveTarget {
    /// `url` (already `…/NAME`) with an S3 client from the AWS environment; uploads run on
    /// `rt`.
    pub fn from_url(rt: Handle, url: &StorageUrl) -> io::Result<Self> {
        // Fail fast (one retry in the client): the uploader retries itself, within a deadline.
        let store = s3_from_env(url, Role::Serve)?;
        Ok(Self::new(rt, store, &url.prefix))
    }

    pub fn new(rt: Handle, store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        LiveTarget {
            rt,
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            deadline: DEFAULT_DEADLINE,
            stats: Arc::default(),
            workers: Arc::default(),
        }
    }

    /// The target of stream `name` under this one (`PREFIX/name`): the same client,
    /// counters and uploads to flush (server mode: one stream per publisher).
    pub fn join(&self, name: &str) -> Self {
        let prefix = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        };
        LiveTarget {
            prefix,
            ..self.clone()
        }
    }

    /// The upload counters of every stream of this target.
    pub fn stats(&self) -> Arc<UploadStats> {
        Arc::clone(&self.stats)
    }

    /// The object store client.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The text of this stream's object `name` (`PREFIX/NAME/name`) as stored, `None` when
    /// there is none. Blocks the calling thread for at most [`READ_LIMIT`] (the driver's task:
    /// its worker's other tasks move to another worker meanwhile, `block_in_place`).
    pub fn read_blocking(&self, name: &str) -> io::Result<Option<String>> {
        let key = super::sink::ObjectSink::key(&self.prefix, None, name);
        let store = Arc::clone(&self.store);
        let read = || {
            self.rt.block_on(async move {
                let get = async { store.get(&key).await?.bytes().await };
                match tokio::time::timeout(READ_LIMIT, get).await {
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{key}: no answer from storage"),
                    )),
                    Ok(Err(object_store::Error::NotFound { .. })) => Ok(None),
                    Ok(Err(e)) => Err(io::Error::other(e)),
                    Ok(Ok(bytes)) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
                }
            })
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => read(),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(read),
            Ok(_) => Err(io::Error::other(
                "reading from storage needs a multi-threaded runtime",
            )),
        }
    }

    /// The packager's [`Store`] for this stream (one upload queue and worker each).
    pub fn store(&self) -> LiveObjectStore {
        self.store_with(false)
    }

    /// The [`Store`] of the `master.m3u8` several renditions share: it waits until the media
    /// playlists it names (from the renditions' own queues) are stored.
    pub fn master_store(&self) -> LiveObjectStore {
        self.store_with(true)
    }

    fn store_with(&self, masters_wait: bool) -> LiveObjectStore {
        let (uploader, worker) = Uploader::start(
            &self.rt,
            Target {
                store: Arc::clone(&self.store),
                prefix: self.prefix.clone(),
                deadline: self.deadline,
                stats: Arc::clone(&self.stats),
                masters_wait,
            },
        );
        if let Ok(mut w) = self.workers.lock() {
            w.push(worker);
        }
        LiveObjectStore { uploader }
    }

    /// Waits (at most `limit`) for the uploads of every stream whose store was dropped.
    pub async fn flush(&self, limit: Duration) {
        let workers: Vec<JoinHandle<()>> = self
            .workers
            .lock()
            .map(|mut w| w.drain(..).collect())
            .unwrap_or_default();
        let all = futures_util::future::join_all(workers);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("live uploads still pending at exit");
        }
        let s = &self.stats;
        let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            stored = n(&s.stored),
            retries = n(&s.retries),
            gaps = n(&s.gaps),
            playlists_failed = n(&s.playlists_failed),
            "live uploads into object storage"
        );
    }
}

/// The live packager's [`Store`] over object storage: hands every object to the stream's
/// uploader and returns at once.
pub struct LiveObjectStore {
    uploader: Uploader,
}

impl std::fmt::Debug for LiveObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveObjectStore")
    }
}

fn check(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad object name {name:?}"),
        ));
    }
    Ok(())
}

impl LiveObjectStore {
    /// The gap list of this stream's uploads.
    pub fn gaps(&self) -> Gaps {
        self.uploader.gaps()
    }
}

impl Store for LiveObjectStore {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        check(name)?;
        self.uploader.put(name, data);
        Ok(())
    }

    fn append(&mut self, name: &str, _data: &[u8]) -> io::Result<u64> {
        Err(io::Error::other(format!(
            "{name}: live single files cannot be appended to in object storage"
        )))
    }

    fn delete(&mut self, name: &str) -> io::Result<()> {
        check(name)?;
        self.uploader.delete(name);
        Ok(())
    }
}
