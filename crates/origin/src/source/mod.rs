// SPDX-License-Identifier: MIT OR Apache-2.0
//! Where the origin reads objects from: the [`ObjectSource`] trait and the objects it opens.
//!
//! The room below `http`: `fs` ([`FsSource`], files under a root; `beneath`, its Linux
//! `openat2` fast path), `live` ([`LiveSource`], any source plus the live playlists whose
//! requests may block; the playlists themselves are [`crate::live`]), `hot` (segments kept in
//! memory) and `zerocopy` (`sendfile` of those segments). It depends on [`crate::live`],
//! [`crate::path`] and `metrics`, never on `http`. A live in-memory source answers
//! with [`ObjectBody::Memory`].

#[cfg(target_os = "linux")]
mod beneath;
mod fs;
pub(crate) mod hot;
#[cfg(test)]
mod listing_tests;
mod live;
pub mod store;
#[cfg(target_os = "linux")]
pub(crate) mod zerocopy;

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::HeaderValue;
use bytes::Bytes;
use futures_util::stream;
use tokio::task::{spawn_blocking, JoinHandle};

use crate::path::ObjectPath;

pub use fs::FsSource;
pub use live::LiveSource;

/// Bytes per blocking read of a file body. Measured on a 6 MB segment (BENCHMARKS.md): 64 KiB
/// costs ~40% more CPU per response than 256 KiB (one blocking-pool round trip per chunk), 1 MiB
/// ~10% less but triples the memory of a busy connection (hyper queues a chunk ahead of the
/// socket while the next is read).
const CHUNK: usize = 256 * 1024;
/// Idle chunk buffers kept by [`ChunkPool`] (16 MiB with 256 KiB chunks).
const CHUNK_POOL_MAX: usize = 64;

/// A read-only store of objects addressed by [`ObjectPath`].
pub trait ObjectSource: Send + Sync + 'static {
    /// Opens an object. Anything that must not be served — missing, a directory, outside the
    /// root — is `io::ErrorKind::NotFound`.
    fn open(&self, path: &ObjectPath) -> impl Future<Output = io::Result<Object>> + Send;

    /// Names of the streams the index page offers (every `*/master.m3u8` and top-level
    /// `*.m3u8`), relative, `/`-separated, sorted.
    fn list_streams(&self) -> impl Future<Output = io::Result<Vec<String>>> + Send;

    /// [`Self::list_streams`] and, in the same walk, the files whose name `offer` accepts
    /// (relative, `/`-separated, sorted) outside the directories of HLS streams: a directory
    /// holding a `*.m3u8` and everything under it (only the root's own files for the root),
    /// so a packaged stream's init segments and segments are never offered. No files by
    /// default.
    fn list_offered(
        &self,
        offer: fn(&str) -> bool,
    ) -> impl Future<Output = io::Result<Listing>> + Send {
        let _ = offer;
        async move {
            Ok(Listing {
                streams: self.list_streams().await?,
                files: Vec::new(),
            })
        }
    }

    /// Whether opening `path` would package something now (a just-in-time playlist of a
    /// file not planned yet): the index lists such a stream without opening it. False by
    /// default.
    fn would_package(&self, path: &ObjectPath) -> impl Future<Output = bool> + Send {
        let _ = path;
        std::future::ready(false)
    }

    /// Live playlists whose requests may block (RFC 8216bis 6.2.5.2), see
    /// [`LiveSource`]. None by default.
    fn live(&self) -> Option<&crate::live::LivePlaylists> {
        None
    }

    /// Appends the source's own counters (Prometheus text) to `/metrics`. None by default.
    fn render_metrics(&self, _out: &mut String) {}
}

/// What [`ObjectSource::list_offered`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// As [`ObjectSource::list_streams`].
    pub streams: Vec<String>,
    /// The files offered.
    pub files: Vec<String>,
}

/// The backing store cannot answer now (object storage down, timing out, refusing): carried
/// inside an `io::Error`, answered 503 with the short error `Cache-Control` — never 404,
/// which a CDN would keep as "gone".
#[derive(Debug)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage unavailable: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Whether `e` is an [`Unavailable`].
pub fn is_unavailable(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Unavailable>())
}

/// What is known about an object without reading it.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    /// Length in bytes.
    pub len: u64,
    /// Last modification time, sent as `Last-Modified`.
    pub modified: Option<SystemTime>,
    /// Strong entity tag, quoted (`"…"`), unique per content version (RFC 9110 8.8.3).
    pub etag: HeaderValue,
}

/// How to get at an object's bytes.
#[derive(Debug)]
pub enum ObjectBody {
    /// Already in memory.
    Memory(Bytes),
    /// An open file, read in `CHUNK`s on the blocking pool.
    File(File),
    /// An object in object storage, read with ranged GETs ([`store`]).
    Remote(store::Remote),
    /// Made on request, one byte range at a time (a just-in-time AES-128 I-frame file, whose
    /// entries are rendered from the segments the range covers).
    Ranged(std::sync::Arc<dyn RangedObject>),
}

/// An object whose bytes are made per byte range, on the blocking pool.
pub trait RangedObject: Send + Sync + fmt::Debug {
    /// Bytes `start .. start + len` (blocking).
    fn read_range(&self, start: u64, len: u64) -> io::Result<Bytes>;
}

/// An opened object.
#[derive(Debug)]
pub struct Object {
    pub meta: ObjectMeta,
    pub body: ObjectBody,
}

impl ObjectBody {
    /// A response body of `len` bytes starting at `start`. Files are read in [`CHUNK`]
    /// pieces on the blocking pool into recycled buffers ([`ChunkPool`]); the next piece is
    /// read while the previous one is being written to the socket. A file shorter than `start
    /// + len` ends the body with an error, never short.
    pub(crate) fn into_body(self, start: u64, len: u64) -> Body {
        match self {
            ObjectBody::Memory(bytes) => Body::from(slice(&bytes, start, len)),
            ObjectBody::Remote(remote) => remote.into_body(start, len),
            ObjectBody::Ranged(r) => Body::from_stream(stream::once(async move {
                spawn_blocking(move || r.read_range(start, len))
                    .await
                    .map_err(io::Error::other)?
            })),
            ObjectBody::File(file) => {
                let first = (len > 0).then(|| spawn_read(file, start, len));
                Body::from_stream(stream::unfold(first, |pending| async move {
                    let (file, next_pos, remaining, result) = match pending?.await {
                        Ok(done) => done,
                        Err(join) => return Some((Err(io::Error::other(join)), None)),
                    };
                    match result {
                        Ok(chunk) => {
                            let next =
                                (remaining > 0).then(|| spawn_read(file, next_pos, remaining));
                            Some((Ok(chunk), next))
                        }
                        Err(e) => Some((Err(e), None)),
                    }
                }))
            }
        }
    }

    /// Whether the bytes are made per range ([`ObjectBody::Ranged`]): never read whole to be
    /// cached.
    pub(crate) fn is_ranged(&self) -> bool {
        matches!(self, ObjectBody::Ranged(_))
    }

    /// Reads the whole object (`len` bytes) — blocking; call on the blocking pool.
    pub(crate) fn read_all_blocking(self, len: u64) -> io::Result<Bytes> {
        self.read_all_keeping_file(len).map(|(bytes, _)| bytes)
    }

    /// [`ObjectBody::read_all_blocking`], giving back the file the bytes were read from.
    pub(crate) fn read_all_keeping_file(self, len: u64) -> io::Result<(Bytes, Option<File>)> {
        match self {
            ObjectBody::Memory(bytes) => Ok((slice(&bytes, 0, len), None)),
            ObjectBody::Ranged(r) => Ok((r.read_range(0, len)?, None)),
            // On the blocking pool, where the runtime's handle may block on a future.
            ObjectBody::Remote(remote) => {
                let read = remote.read(0, len);
                Ok((tokio::runtime::Handle::current().block_on(read)?, None))
            }
            ObjectBody::File(file) => {
                let n = usize::try_from(len).map_err(io::Error::other)?;
                let mut buf = vec![0u8; n];
                read_exact_at(&file, &mut buf, 0)?;
                Ok((Bytes::from(buf), Some(file)))
            }
        }
    }
}

fn slice(bytes: &Bytes, start: u64, len: u64) -> Bytes {
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    bytes.slice(start..end)
}

type ReadDone = (File, u64, u64, io::Result<Bytes>);

/// Reads up to one chunk at `pos` on the blocking pool; yields the file back with the position
/// and byte count still to read after this chunk.
fn spawn_read(file: File, pos: u64, remaining: u64) -> JoinHandle<ReadDone> {
    spawn_blocking(move || {
        let n = remaining.min(CHUNK as u64);
        let result = read_chunk(&file, pos, n);
        (
            file,
            pos.saturating_add(n),
            remaining.saturating_sub(n),
            result,
        )
    })
}

fn read_chunk(file: &File, pos: u64, n: u64) -> io::Result<Bytes> {
    let mut chunk = Chunk {
        buf: ChunkPool::take(),
        len: usize::try_from(n).map_err(io::Error::other)?,
    };
    let slot = chunk
        .buf
        .get_mut(..chunk.len)
        .ok_or_else(|| io::Error::other("chunk larger than CHUNK"))?;
    read_exact_at(file, slot, pos).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "file shorter than its length when opened")
        } else {
            e
        }
    })?;
    Ok(Bytes::from_owner(chunk))
}

/// File body chunk buffers, recycled: a buffer hyper has sent goes back to the pool when its
/// `Bytes` is dropped. Recycled memory is already mapped (a fresh 256 KiB buffer is a new
/// mapping the kernel must fault in and zero) and already initialized (one `read` fills it, no
/// zero-filling first). At most [`CHUNK_POOL_MAX`] idle buffers are kept.
struct ChunkPool;

static CHUNK_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

impl ChunkPool {
    /// A buffer of [`CHUNK`] initialized bytes.
    fn take() -> Vec<u8> {
        CHUNK_POOL
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| vec![0; CHUNK])
    }

    fn give_back(buf: Vec<u8>) {
        if buf.len() != CHUNK {
            return;
        }
        if let Ok(mut pool) = CHUNK_POOL.lock() {
            if pool.len() < CHUNK_POOL_MAX {
                pool.push(buf);
            }
        }
    }
}

/// The first `len` bytes of a pooled buffer, as the owner of a [`Bytes`].
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        ChunkPool::give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_clamps() {
        let b = Bytes::from_static(b"0123456789");
        assert_eq!(slice(&b, 2, 3), Bytes::from_static(b"234"));
        assert_eq!(slice(&b, 8, 100), Bytes::from_static(b"89"));
        assert_eq!(slice(&b, 100, 1), Bytes::new());
        assert_eq!(slice(&b, u64::MAX, u64::MAX), Bytes::new());
    }

    #[tokio::test]
    async fn file_bodies_are_the_requested_range() {
        use http_body_util::BodyExt;
        let path = std::env::temp_dir().join(format!("origin-file-body-{}", std::process::id()));
        let data: Vec<u8> = (0..CHUNK * 2 + 1000).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let len = data.len() as u64;
        let chunk = CHUNK as u64;
        // (start, count): empty, inside one chunk, across chunk boundaries, the whole file.
        for (start, count) in [(0, 0), (5, 10), (100, chunk + 7), (0, len), (len - 1, 1)] {
            let body = ObjectBody::File(File::open(&path).unwrap()).into_body(start, count);
            let got = body.collect().await.unwrap().to_bytes();
            let (s, c) = (start as usize, count as usize);
            assert_eq!(&got[..], &data[s..s + c], "start {start} count {count}");
        }
        // The file shrank after it was opened: the body ends with an error, not short.
        let body = ObjectBody::File(File::open(&path).unwrap()).into_body(0, len + 10);
        assert!(body.collect().await.is_err());
        let _ = std::fs::remove_file(&path);
    }
}
