// SPDX-License-Identifier: MIT OR Apache-2.0
//! Zero-copy sending of cached segments on Linux: `sendfile` under hyper, without `unsafe`.
//!
//! hyper writes response bodies with `writev` from memory it owns, so every byte of a segment
//! is copied from user memory into the socket — on a 6 MB segment that copy is ~60 % of the
//! origin's CPU (BENCHMARKS.md §2), and what nginx avoids with `sendfile`. The hot-object
//! cache ([`super::hot`]) holds each segment's bytes in one buffer that it read from an open
//! file; it *registers* the buffer here together with that file. The connection's writer
//! (`http::server`) asks [`poll_write_vectored`] to write; when the slice hyper hands over
//! lies inside a registered buffer, the same bytes are sent from the file with `sendfile`
//! (page-cache pages go to the socket without a copy) instead of from memory.
//!
//! Why the bytes are the same: a buffer is registered only with the file (inode) it was read
//! from, and before every `sendfile` the file's length and modification time are checked
//! against those of the read (one `fstat`); if they differ (the file was rewritten in place,
//! which the packager never does: it renames new files over old ones, RFC 8216bis 6.2.1),
//! the slice is written from memory as usual. A registration keeps its buffer alive and is
//! removed before the buffer can be freed, so an address found here always belongs to that
//! buffer (two live allocations never overlap). Anything not found — headers, playlists,
//! evicted segments still being sent, HTTP/2 frames copied elsewhere — is written from memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

/// Most bytes one `sendfile` call is asked for (the socket takes what fits anyway).
const MAX_SEND: usize = 4 * 1024 * 1024;

/// Registered buffers by start address.
static REGISTRY: Mutex<BTreeMap<usize, Region>> = Mutex::new(BTreeMap::new());
/// Number of registered buffers: writers skip the lock while there are none.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);
/// `sendfile` calls that sent bytes (tests check the path is taken).
#[cfg(test)]
static SENT: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
struct Region {
    len: usize,
    file: Arc<File>,
    file_len: u64,
    modified: Option<SystemTime>,
}

/// A buffer registered with the file it was read from; unregistered on drop (before the
/// buffer it keeps alive can be freed).
#[derive(Debug)]
pub(crate) struct Registration {
    base: usize,
    _bytes: Bytes,
}

impl Registration {
    /// Registers `bytes`, the whole content of `file` whose metadata at the read was
    /// (`file_len`, `modified`). `None` for an empty buffer or one already registered.
    pub(crate) fn new(
        bytes: &Bytes,
        file: File,
        file_len: u64,
        modified: Option<SystemTime>,
    ) -> Option<Self> {
        let base = bytes.as_ptr() as usize;
        if bytes.is_empty() || u64::try_from(bytes.len()).ok() != Some(file_len) {
            return None;
        }
        let mut map = REGISTRY.lock().ok()?;
        if map.contains_key(&base) {
            return None;
        }
        map.insert(
            base,
            Region {
                len: bytes.len(),
                file: Arc::new(file),
                file_len,
                modified,
            },
        );
        REGISTERED.fetch_add(1, Relaxed);
        Some(Registration {
            base,
            _bytes: bytes.clone(),
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = REGISTRY.lock() {
            if map.remove(&self.base).is_some() {
                REGISTERED.fetch_sub(1, Relaxed);
            }
        }
    }
}

/// The registered region containing all of `buf`, with `buf`'s offset in it.
fn lookup(map: &BTreeMap<usize, Region>, buf: &[u8]) -> Option<(Region, u64)> {
    let addr = buf.as_ptr() as usize;
    let (base, region) = map.range(..=addr).next_back()?;
    let offset = addr.checked_sub(*base)?;
    let end = offset.checked_add(buf.len())?;
    (end <= region.len && !buf.is_empty())
        .then(|| Some((region.clone(), u64::try_from(offset).ok()?)))
        .flatten()
}

/// Writes `bufs` to `stream` like `poll_write_vectored`: a leading slice of a registered
/// buffer is sent from its file with `sendfile`, anything else from memory (up to the first
/// registered slice).
pub(crate) fn poll_write_vectored(
    stream: &mut TcpStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    if REGISTERED.load(Relaxed) == 0 {
        return Pin::new(stream).poll_write_vectored(cx, bufs);
    }
    let (first_registered, region) = match REGISTRY.lock() {
        Ok(map) => bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| Some((i, lookup(&map, b)?)))
            .map_or((bufs.len(), None), |(i, r)| (i, Some(r))),
        Err(_) => (bufs.len(), None),
    };
    match (first_registered, region, bufs.first()) {
        (0, Some((region, offset)), Some(buf)) => send_file(stream, cx, buf, &region, offset),
        (n, _, _) => Pin::new(stream).poll_write_vectored(cx, bufs.get(..n).unwrap_or(bufs)),
    }
}

fn send_file(
    stream: &mut TcpStream,
    cx: &mut Context<'_>,
    buf: &[u8],
    region: &Region,
    offset: u64,
) -> Poll<io::Result<usize>> {
    let count = buf.len().min(MAX_SEND);
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            let md = region.file.metadata()?;
            if md.len() != region.file_len || md.modified().ok() != region.modified {
                return Ok(None);
            }
            let mut pos = offset;
            let n = rustix::fs::sendfile(&*stream, &*region.file, Some(&mut pos), count)?;
            Ok(Some(n))
        });
        match sent {
            // The file changed since it was read, or ended early: the bytes in memory are
            // the ones this response promised.
            Ok(None) | Ok(Some(0)) => return Pin::new(stream).poll_write(cx, buf),
            Ok(Some(n)) => {
                #[cfg(test)]
                SENT.fetch_add(1, Relaxed);
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes `parts` through [`poll_write_vectored`] and returns what the peer received.
    async fn through_socket(parts: Vec<Bytes>) -> Vec<u8> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut queue: Vec<Bytes> = parts;
        while !queue.is_empty() {
            let slices: Vec<IoSlice<'_>> = queue.iter().map(|b| IoSlice::new(b)).collect();
            let mut n = std::future::poll_fn(|cx| poll_write_vectored(&mut stream, cx, &slices))
                .await
                .unwrap();
            drop(slices);
            while n > 0 {
                let first = &mut queue[0];
                let k = n.min(first.len());
                let _ = first.split_to(k);
                n -= k;
                if first.is_empty() {
                    queue.remove(0);
                }
            }
            while queue.first().is_some_and(Bytes::is_empty) {
                queue.remove(0);
            }
        }
        stream.shutdown().await.unwrap();
        drop(stream);
        reader.await.unwrap()
    }

    #[tokio::test]
    async fn registered_slices_go_out_from_the_file_and_equal_the_bytes() {
        let path = std::env::temp_dir().join(format!("origin-zerocopy-{}", std::process::id()));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let bytes = Bytes::from(data.clone());
        let file = File::open(&path).unwrap();
        let md = file.metadata().unwrap();
        let reg = Registration::new(&bytes, file, md.len(), md.modified().ok()).unwrap();
        // Headers from elsewhere, then a range of the registered buffer.
        let head = Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n");
        let sent = SENT.load(Relaxed);
        let got = through_socket(vec![head.clone(), bytes.slice(10..2_900_000)]).await;
        assert!(SENT.load(Relaxed) > sent, "sent with sendfile");
        assert_eq!(&got[..head.len()], &head[..]);
        assert_eq!(&got[head.len()..], &data[10..2_900_000]);

        // The file changes in place (new length): the slices go out from memory, unchanged.
        std::fs::write(&path, b"changed").unwrap();
        let got = through_socket(vec![bytes.slice(5..1_000_005)]).await;
        assert_eq!(got, &data[5..1_000_005]);
        drop(reg);
        assert!(REGISTRY
            .lock()
            .unwrap()
            .get(&(bytes.as_ptr() as usize))
            .is_none());
        let _ = std::fs::remove_file(&path);
    }
}
