// SPDX-License-Identifier: MIT OR Apache-2.0
//! LL-HLS parts that are still being written, served while they grow.
//!
//! RFC 8216bis 6.2.6: a server that advertises an EXT-X-PRELOAD-HINT holds a request for
//! the hinted resource until it can answer it, and "SHOULD" send the resource's bytes as they
//! become available. The packager in this process hands out every CMAF chunk (`moof`+`mdat`)
//! of the part in progress (`media::live::Output::Chunk`); they land here, and a request for
//! that part gets a chunked (`Transfer-Encoding: chunked`) response that sends the chunks so
//! far at once, then each new one as it arrives, and ends when the part is complete. So a
//! player holding the preload-hinted part receives the first frame of the part as soon as it
//! is muxed, not a part duration later.
//!
//! Each part is one [`tokio::sync::watch`] channel: a thousand players streaming the same
//! part cost a thousand wakers, no task each. Once the part is complete (its file is in the
//! store) it leaves the registry and is served as a file, with length, ETag and ranges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use tokio::sync::watch;

/// A streamed part response gives up when no chunk came for this long (a stalled packager
/// never completes nor abandons the part); the client sees a cut response and retries.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// How far a part in progress is.
#[derive(Debug, Default)]
struct Progress {
    chunks: Vec<Bytes>,
    /// Complete: no more chunks.
    done: bool,
    /// Will never be complete: the response must be cut short.
    abandoned: bool,
}

/// One part in progress.
#[derive(Debug)]
pub(crate) struct GrowingPart {
    progress: watch::Sender<Progress>,
}

/// The parts in progress of one server, by object path.
#[derive(Debug)]
pub(crate) struct Registry {
    parts: Mutex<HashMap<String, Arc<GrowingPart>>>,
    /// Bumped whenever a part starts, for requests waiting for the hinted part to start.
    started: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            parts: Mutex::default(),
            started: watch::channel(0).0,
        }
    }
}

impl Registry {
    pub(crate) fn get(&self, path: &str) -> Option<Arc<GrowingPart>> {
        self.parts.lock().ok()?.get(path).cloned()
    }

    /// Wakes when a part starts (check with [`Registry::get`] after subscribing).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.started.subscribe()
    }

    /// Appends a chunk to the part at `path`, starting it if needed.
    pub(crate) fn chunk(&self, path: &str, bytes: Bytes) {
        let Ok(mut parts) = self.parts.lock() else {
            return;
        };
        match parts.get(path) {
            Some(part) => part.progress.send_modify(|p| p.chunks.push(bytes)),
            None => {
                let progress = Progress {
                    chunks: vec![bytes],
                    ..Progress::default()
                };
                let part = GrowingPart {
                    progress: watch::channel(progress).0,
                };
                parts.insert(path.to_owned(), Arc::new(part));
                drop(parts);
                self.started.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// The part at `path` is complete (and in the store): streams end, new requests read
    /// the stored object.
    pub(crate) fn finish(&self, path: &str, abandoned: bool) {
        let part = self.parts.lock().ok().and_then(|mut m| m.remove(path));
        if let Some(part) = part {
            part.progress.send_modify(|p| {
                p.done = !abandoned;
                p.abandoned = abandoned;
            });
        }
    }
}

impl GrowingPart {
    /// A `200` whose body is the part's chunks so far, then each new one, ending when the
    /// part is complete (chunked transfer coding: the length is not known yet). No ETag or
    /// Last-Modified: the stored object, once complete, has those.
    pub(crate) fn respond(
        &self,
        content_type: HeaderValue,
        cache_control: HeaderValue,
    ) -> Response {
        let rx = self.progress.subscribe();
        let body = Body::from_stream(stream::unfold(Some((rx, 0usize)), |state| async move {
            let (mut rx, next) = state?;
            loop {
                let (chunk, done, abandoned) = {
                    let p = rx.borrow_and_update();
                    (p.chunks.get(next).cloned(), p.done, p.abandoned)
                };
                if let Some(chunk) = chunk {
                    return Some((Ok(chunk), Some((rx, next + 1))));
                }
                if done {
                    return None;
                }
                let cut = if abandoned {
                    Some("the part was abandoned by the packager")
                } else {
                    match tokio::time::timeout(IDLE_LIMIT, rx.changed()).await {
                        Ok(Ok(())) => None,
                        Ok(Err(_)) => Some("the packager went away"),
                        Err(_) => Some("no chunk of the part for 30 s"),
                    }
                };
                if let Some(why) = cut {
                    // An error ends the response early: the client sees it cut short.
                    return Some((Err(std::io::Error::other(why)), None));
                }
            }
        }));
        let mut res = Response::new(body);
        *res.status_mut() = StatusCode::OK;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(CACHE_CONTROL, cache_control);
        res
    }
}
