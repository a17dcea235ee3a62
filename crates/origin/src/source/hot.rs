// SPDX-License-Identifier: MIT OR Apache-2.0
//! The hot-object cache: media and init segments kept in memory, one [`Bytes`] shared by
//! every response that sends them.
//!
//! A live origin serves the same few newest segments to every player at once, and a VOD
//! origin's popular segments likewise; reading each response out of the page cache again
//! costs a copy (file → buffer) plus a blocking-pool round trip per 256 KiB chunk, which on a
//! 6 MB segment is most of the origin's CPU (BENCHMARKS.md §2). Segments are immutable (the
//! packager never reuses a name, and `Cache-Control` says `immutable`), so a copy in memory
//! stays right — but it is never trusted blindly: every request still opens the file and the
//! entry is used only while the file's identity (device, inode, length, modification time:
//! what the strong ETag is made of, [`super::FsSource`]) is unchanged. A replaced or
//! rewritten file is a miss and replaces the entry.
//!
//! - Bounded in bytes (`hot_cache_mib`, 0 disables); least recently used entries go first.
//!   Objects larger than a quarter of the bound are never cached (one object must not flush
//!   the rest); they are streamed from the file as before. Responses still being sent keep
//!   their `Bytes` alive after eviction, so memory can exceed the bound by what is in flight.
//! - A missing object is read once however many requests ask for it at the same time (they
//!   wait for the one read, as 1,000 players do when a new segment appears), never once per
//!   request.
//! - Ranges are served as slices of the cached bytes.
//! - Objects in object storage ([`super::store`]) are fetched whole by one GET on a miss; the
//!   entry is keyed by the storage ETag, as a file's is by its identity.
//! - On Linux the bytes are registered with the file they were read from, and the connection
//!   writer sends them from that file with `sendfile` ([`super::zerocopy`]).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{Object, ObjectBody};
use crate::metrics::{HotStats, Metrics};
use crate::path::ObjectPath;

/// The cache of one server.
#[derive(Debug)]
pub(crate) struct HotCache {
    max_bytes: u64,
    inner: Mutex<Lru>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct Lru {
    map: HashMap<String, Entry>,
    /// Keys by last use (a counter, strictly increasing): the first is evicted first.
    order: BTreeMap<u64, String>,
    clock: u64,
    bytes: u64,
}

#[derive(Debug)]
struct Entry {
    /// Identity of the file the bytes were (are being) read from: its strong ETag.
    etag: HeaderValue,
    len: u64,
    used: u64,
    bytes: Arc<OnceCell<Cached>>,
}

/// A cached object's bytes and, on Linux, their registration for `sendfile`
/// ([`super::zerocopy`]), dropped with the entry (eviction, replacement).
#[derive(Debug)]
struct Cached {
    bytes: Bytes,
    #[cfg(target_os = "linux")]
    _zerocopy: Option<super::zerocopy::Registration>,
}

impl Cached {
    /// Reads `object` whole (blocking).
    fn read(object: Object) -> io::Result<Self> {
        let Object { meta, body } = object;
        let (bytes, _file) = body.read_all_keeping_file(meta.len)?;
        Ok(Cached {
            #[cfg(target_os = "linux")]
            _zerocopy: _file.and_then(|file| {
                super::zerocopy::Registration::new(&bytes, file, meta.len, meta.modified)
            }),
            bytes,
        })
    }
}

impl Cached {
    /// Reads `object` whole: one GET for a storage object, a blocking read for a file.
    async fn fetch(object: Object) -> io::Result<Self> {
        if let ObjectBody::Remote(remote) = &object.body {
            return Ok(Cached {
                bytes: remote.read(0, object.meta.len).await?,
                #[cfg(target_os = "linux")]
                _zerocopy: None,
            });
        }
        tokio::task::spawn_blocking(move || Cached::read(object))
            .await
            .map_err(io::Error::other)?
    }
}

impl HotCache {
    /// A cache of at most `max_bytes` (0: disabled).
    pub(crate) fn new(max_bytes: u64, metrics: Arc<Metrics>) -> Self {
        HotCache {
            max_bytes,
            inner: Mutex::default(),
            metrics,
        }
    }

    /// Whether an object of `len` bytes may be cached.
    pub(crate) fn admits(&self, len: u64) -> bool {
        self.max_bytes > 0 && len <= self.max_bytes / 4
    }

    /// The bytes of `object` (just opened at `path`): from memory while the cached copy has
    /// the object's ETag, else read from its body once (concurrent callers share the read)
    /// and kept. Call only when [`HotCache::admits`] the object's length.
    pub(crate) async fn get(&self, path: &ObjectPath, object: Object) -> io::Result<Bytes> {
        let cell = self.slot(path, &object.meta.etag, object.meta.len);
        if let Some(cached) = cell.get() {
            self.stats().hits.fetch_add(1, Relaxed);
            return Ok(cached.bytes.clone());
        }
        let mut read_here = false;
        let read = cell
            .get_or_try_init(|| {
                read_here = true;
                Cached::fetch(object)
            })
            .await
            .map(|cached| cached.bytes.clone());
        let counter = if read_here {
            &self.stats().misses
        } else {
            &self.stats().hits
        };
        counter.fetch_add(1, Relaxed);
        if read.is_err() {
            self.forget(path, &cell);
        }
        read
    }

    fn stats(&self) -> &HotStats {
        &self.metrics.hot
    }

    /// The entry for `path` with identity `etag` (made, and room made for it, if new).
    fn slot(&self, path: &ObjectPath, etag: &HeaderValue, len: u64) -> Arc<OnceCell<Cached>> {
        let Ok(mut lru) = self.inner.lock() else {
            return Arc::default();
        };
        let lru = &mut *lru;
        lru.clock = lru.clock.saturating_add(1);
        let now = lru.clock;
        if let Some(entry) = lru.map.get_mut(path.as_str()) {
            if entry.etag == etag {
                lru.order.remove(&entry.used);
                entry.used = now;
                lru.order.insert(now, path.as_str().to_owned());
                return Arc::clone(&entry.bytes);
            }
        }
        // New, or the file changed: the old bytes must never be served again.
        lru.remove(path.as_str());
        while lru.bytes.saturating_add(len) > self.max_bytes {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(old) = lru.map.remove(&oldest) {
                lru.bytes = lru.bytes.saturating_sub(old.len);
            }
        }
        let bytes = Arc::new(OnceCell::new());
        lru.map.insert(
            path.as_str().to_owned(),
            Entry {
                etag: etag.clone(),
                len,
                used: now,
                bytes: Arc::clone(&bytes),
            },
        );
        lru.order.insert(now, path.as_str().to_owned());
        lru.bytes = lru.bytes.saturating_add(len);
        self.stats().bytes.store(lru.bytes, Relaxed);
        bytes
    }

    /// Drops the entry of `path` if it is still `cell` (a read that failed).
    fn forget(&self, path: &ObjectPath, cell: &Arc<OnceCell<Cached>>) {
        if let Ok(mut lru) = self.inner.lock() {
            if lru
                .map
                .get(path.as_str())
                .is_some_and(|e| Arc::ptr_eq(&e.bytes, cell))
            {
                lru.remove(path.as_str());
                self.stats().bytes.store(lru.bytes, Relaxed);
            }
        }
    }
}

impl Lru {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.map.remove(key) {
            self.order.remove(&old.used);
            self.bytes = self.bytes.saturating_sub(old.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ObjectMeta;

    fn object(etag: &str, data: &'static [u8]) -> Object {
        Object {
            meta: ObjectMeta {
                len: data.len() as u64,
                modified: None,
                etag: HeaderValue::from_str(etag).unwrap(),
            },
            body: ObjectBody::Memory(Bytes::from_static(data)),
        }
    }

    fn path(p: &str) -> ObjectPath {
        ObjectPath::from_request_path(p).unwrap()
    }

    #[tokio::test]
    async fn identity_byte_bound_and_lru() {
        let metrics = Arc::new(Metrics::default());
        let cache = HotCache::new(40, Arc::clone(&metrics));
        assert!(
            cache.admits(10) && !cache.admits(11),
            "a quarter of the bound"
        );
        type Step = (
            &'static str,
            &'static str,
            &'static [u8],
            &'static [u8],
            [u64; 3],
        );
        // One request each: (path, ETag, what the file would read, what is served,
        // [hits, misses, bytes held] after it).
        #[rustfmt::skip]
        let steps: &[Step] = &[
            ("/a.ts", "1", b"aaaaaaaaaa", b"aaaaaaaaaa", [0, 1, 10]),
            // Same identity: the cached bytes, whatever the (stale) file would read.
            ("/a.ts", "1", b"XXXXXXXXXX", b"aaaaaaaaaa", [1, 1, 10]),
            // New identity: read again, the old copy is gone.
            ("/a.ts", "2", b"bbbbbbbbbb", b"bbbbbbbbbb", [1, 2, 10]),
            ("/a.ts", "1", b"cccccccccc", b"cccccccccc", [1, 3, 10]),
            // Four 10-byte objects fill the 40 bytes.
            ("/b.ts", "x", b"bbbbbbbbbb", b"bbbbbbbbbb", [1, 4, 20]),
            ("/c.ts", "x", b"cccccccccc", b"cccccccccc", [1, 5, 30]),
            ("/d.ts", "x", b"dddddddddd", b"dddddddddd", [1, 6, 40]),
            // Using a leaves b least recently used: e evicts it, and so on.
            ("/a.ts", "1", b"zzzzzzzzzz", b"cccccccccc", [2, 6, 40]),
            ("/e.ts", "x", b"eeeeeeeeee", b"eeeeeeeeee", [2, 7, 40]),
            ("/c.ts", "x", b"zzzzzzzzzz", b"cccccccccc", [3, 7, 40]),
            ("/b.ts", "x", b"BBBBBBBBBB", b"BBBBBBBBBB", [3, 8, 40]),
            ("/d.ts", "x", b"DDDDDDDDDD", b"DDDDDDDDDD", [3, 9, 40]),
            ("/c.ts", "x", b"zzzzzzzzzz", b"cccccccccc", [4, 9, 40]),
        ];
        for (i, &(p, etag, file, served, counts)) in steps.iter().enumerate() {
            let got = cache
                .get(&path(p), object(&format!("\"{etag}\""), file))
                .await;
            assert_eq!(&got.unwrap()[..], served, "step {i}");
            let h = &metrics.hot;
            let now = [&h.hits, &h.misses, &h.bytes].map(|c| c.load(Relaxed));
            assert_eq!(now, counts, "step {i}");
        }
    }

    #[tokio::test]
    async fn failed_reads_are_not_kept() {
        let cache = HotCache::new(1 << 20, Arc::default());
        let a = path("/a.ts");
        let mut short = object("\"1\"", b"abc");
        short.meta.len = 100; // the file shrank: the read fails
        let file = std::env::temp_dir().join(format!("origin-hot-{}", std::process::id()));
        std::fs::write(&file, b"abc").unwrap();
        short.body = ObjectBody::File(std::fs::File::open(&file).unwrap());
        assert!(cache.get(&a, short).await.is_err());
        let _ = std::fs::remove_file(&file);
        let good = cache.get(&a, object("\"1\"", b"abc")).await.unwrap();
        assert_eq!(&good[..], b"abc");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_read_once() {
        let metrics = Arc::new(Metrics::default());
        let cache = Arc::new(HotCache::new(1 << 20, Arc::clone(&metrics)));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(
                    async move { cache.get(&path("/a.ts"), object("\"1\"", b"abc")).await },
                )
            })
            .collect();
        for t in tasks {
            assert_eq!(&t.await.unwrap().unwrap()[..], b"abc");
        }
        assert_eq!(metrics.hot.misses.load(Relaxed), 1);
        assert_eq!(metrics.hot.hits.load(Relaxed), 99);
    }
}
