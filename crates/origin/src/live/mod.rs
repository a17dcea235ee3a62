// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live playlists the origin can hold requests for: blocking playlist reload (RFC 8216bis
//! 6.2.5.2), Playlist Delta Updates (6.2.5.1) and preload hints (6.2.6).
//!
//! Two kinds of live playlist, one mechanism: the latest state of each playlist sits in a
//! [`tokio::sync::watch`] channel, and every held request waits on `changed()` of its own
//! receiver — thousands of parked requests cost one waker each, no task and no polling.
//!
//! - **Published** by a packager in the same process ([`LivePlaylists::publisher`]): the
//!   packager sends every new [`PlaylistState`] (the `media::live` state, bodies included);
//!   playlist requests are answered from memory, delta updates included, and requests for
//!   the EXT-X-PRELOAD-HINT resource wait until it exists (`source::LiveSource`).
//! - **Written by another process** (ffmpeg's hls muxer, another packager) into the served
//!   root ([`LivePlaylists::watching`]): on the first blocking request for a playlist its
//!   directory is watched with `notify` (inotify on Linux, no polling loop); every change is
//!   re-read into a state, and the request is answered from the file once the state holds
//!   what it waits for.
//!
//! The blocking rules themselves are `media::live::check_blocking_request`, shared with the
//! packager; this crate depends on `media` (sans-IO, no runtime) for them rather than keep a
//! second copy of RFC 8216bis 6.2.5 that could drift.

mod files;
pub mod follow;
mod growing;
#[cfg(test)]
mod tests;
mod text;
pub mod upstream;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;
use bytes::Bytes;
use media::live::PlaylistState;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::Events;
use crate::path::ObjectPath;

pub(crate) use growing::GrowingPart;

pub use text::state_from_text;

/// Shortest hold of a blocked request, for playlists without a usable target duration.
const MIN_BLOCK: Duration = Duration::from_secs(1);

/// One version of a live playlist as the origin sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) state: PlaylistState,
    /// When this version came out (`Last-Modified` of in-memory answers).
    pub(crate) modified: Option<SystemTime>,
    /// Object path of the EXT-X-PRELOAD-HINT resource (6.2.6).
    pub(crate) hint: Option<String>,
    /// Answer from `state` (published in-process); else from the source (a watched file).
    pub(crate) in_memory: bool,
    /// Strong ETags of the full and the delta-update body of an in-memory answer, computed
    /// by the first request that sends each (not once per request).
    pub(crate) etags: [OnceLock<HeaderValue>; 2],
}

impl Snapshot {
    /// How long a request may be held: three target durations (6.2.5.2), at least 1 s.
    pub(crate) fn block_timeout(&self) -> Duration {
        self.state.block_timeout().max(MIN_BLOCK)
    }
}

pub(crate) type Receiver = watch::Receiver<Arc<Snapshot>>;

/// The live playlists of one server. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct LivePlaylists {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Published playlists by object path (`name/stream.m3u8`).
    published: RwLock<HashMap<String, Receiver>>,
    /// Playlists written by other processes under this root.
    files: Option<files::FileWatch>,
    /// Playlists a packager elsewhere keeps current in object storage.
    follow: Option<Arc<follow::Follow>>,
    /// LL-HLS parts being written by a packager in this process.
    growing: growing::Registry,
    /// The event hub of the server these playlists are served by: in-process packagers
    /// publish their events through it ([`LivePublisher::events`]).
    events: Events,
}

impl fmt::Debug for LivePlaylists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let published = self
            .inner
            .published
            .read()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        f.debug_struct("LivePlaylists")
            .field("published", &published)
            .field("watching_files", &self.inner.files.is_some())
            .finish()
    }
}

impl LivePlaylists {
    /// Only published playlists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Published playlists, plus live playlists written into `root` (canonical) by other
    /// processes, watched from their first blocking request on.
    pub fn watching(root: &Path) -> Self {
        LivePlaylists {
            inner: Arc::new(Inner {
                published: RwLock::default(),
                files: Some(files::FileWatch::new(root)),
                follow: None,
                growing: growing::Registry::default(),
                events: Events::default(),
            }),
        }
    }

    /// Published playlists, plus live playlists a packager elsewhere keeps current in object
    /// storage, read with `fetch` and followed from their first blocking request on
    /// ([`follow`]).
    pub fn following(fetch: follow::Fetch) -> Self {
        LivePlaylists {
            inner: Arc::new(Inner {
                published: RwLock::default(),
                files: None,
                follow: Some(Arc::new(follow::Follow::new(fetch))),
                growing: growing::Registry::default(),
                events: Events::default(),
            }),
        }
    }

    /// The followed storage playlists, when these playlists follow storage: poke them when
    /// the packager announces a part or segment.
    pub fn follow(&self) -> Option<&Arc<follow::Follow>> {
        self.inner.follow.as_ref()
    }

    /// A publisher for events only, for a packager whose objects go to storage: its
    /// playlists and parts are not served from memory (storage may not have the objects
    /// yet); origins read them from storage.
    pub fn events_only(&self) -> LivePublisher {
        let (tx, _) = watch::channel(Arc::new(Snapshot::default()));
        LivePublisher {
            tx,
            dir: String::new(),
            live: self.clone(),
            events_only: true,
        }
    }

    /// The event hub of the server that serves these playlists ([`crate::Server::events`]).
    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    /// Registers the playlist at object path `playlist` (e.g. `news/stream.m3u8`, relative to
    /// the root, `/`-separated) and returns the handle its packager publishes through.
    /// Until the first publication requests are answered from the source as usual.
    pub fn publisher(&self, playlist: &str) -> LivePublisher {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
        if let Ok(mut map) = self.inner.published.write() {
            map.insert(playlist.to_owned(), rx);
        }
        let dir = playlist
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| format!("{d}/"));
        LivePublisher {
            tx,
            dir,
            live: self.clone(),
            events_only: false,
        }
    }

    /// The watch of the live playlist at `path`: a published one, else (when `watch_files`)
    /// a file written by another process that is a live media playlist.
    pub(crate) async fn subscribe(&self, path: &ObjectPath, watch_files: bool) -> Option<Receiver> {
        if let Some(rx) = self
            .inner
            .published
            .read()
            .ok()
            .and_then(|m| m.get(path.as_str()).cloned())
        {
            return Some(rx);
        }
        if let Some(follow) = &self.inner.follow {
            return follow.subscribe(path, watch_files).await;
        }
        match (&self.inner.files, watch_files) {
            (Some(files), true) => files.subscribe(path).await,
            _ => None,
        }
    }

    /// The watch of a published playlist in the same directory as `path` — the one whose
    /// preload hint names it if there is one (several renditions share a directory) —
    /// else of a watched playlist whose hint is `path`, else of the followed storage
    /// playlist that hints it ([`follow::Follow::hinted`]).
    pub(crate) async fn sibling(&self, path: &ObjectPath) -> Option<Receiver> {
        if let Some(rx) = self
            .published_sibling(path)
            .or_else(|| self.inner.files.as_ref()?.hinting(path))
        {
            return Some(rx);
        }
        self.inner.follow.as_ref()?.hinted(path).await
    }

    fn published_sibling(&self, path: &ObjectPath) -> Option<Receiver> {
        let dir = path.as_str().rsplit_once('/').map_or("", |(d, _)| d);
        let map = self.inner.published.read().ok()?;
        let mut same_dir = map
            .iter()
            .filter(|(p, _)| p.rsplit_once('/').map_or("", |(d, _)| d) == dir)
            .map(|(_, rx)| rx);
        let first = same_dir.next()?;
        std::iter::once(first)
            .chain(same_dir)
            .find(|rx| rx.borrow().hint.as_deref() == Some(path.as_str()))
            .unwrap_or(first)
            .clone()
            .into()
    }

    /// The LL-HLS part at `path` while a packager in this process is still writing it
    /// (RFC 8216bis 6.2.6): at once if it has started; if it is the preload-hinted part of a
    /// published playlist and has not started yet, once it starts (held for up to the
    /// playlist's blocking timeout). `None` once the part is complete — it is a stored object
    /// then — and for anything else.
    pub(crate) async fn streaming_part(&self, path: &ObjectPath) -> Option<Arc<GrowingPart>> {
        let mut started = self.inner.growing.subscribe();
        if let Some(part) = self.inner.growing.get(path.as_str()) {
            return Some(part);
        }
        let mut rx = self.published_sibling(path)?;
        let deadline = Instant::now() + rx.borrow().block_timeout();
        loop {
            if rx.borrow_and_update().hint.as_deref() != Some(path.as_str()) {
                // Not (or no longer) the hinted part.
                return self.inner.growing.get(path.as_str());
            }
            tokio::select! {
                changed = started.changed() => {
                    changed.ok()?;
                    if let Some(part) = self.inner.growing.get(path.as_str()) {
                        return Some(part);
                    }
                }
                changed = rx.changed() => changed.ok()?,
                () = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }
}

/// The sending side of a published live playlist.
#[derive(Debug)]
pub struct LivePublisher {
    tx: watch::Sender<Arc<Snapshot>>,
    /// Directory of the playlist (`name/`), to resolve its relative URIs.
    dir: String,
    live: LivePlaylists,
    /// Only events go out ([`LivePlaylists::events_only`]).
    events_only: bool,
}

impl LivePublisher {
    /// The event hub of the server that serves this playlist: the packager's events go there.
    pub fn events(&self) -> &Events {
        self.live.events()
    }

    /// The next CMAF chunk of the LL-HLS part `name` (relative to the playlist) that is being
    /// written: requests for the part are streamed from these until [`Self::part_stored`].
    pub fn part_chunk(&self, name: &str, bytes: Bytes) {
        if self.events_only {
            return;
        }
        self.live
            .inner
            .growing
            .chunk(&format!("{}{name}", self.dir), bytes);
    }

    /// The object `name` is in the store: if it was a part being streamed, its streams end
    /// complete and new requests read the stored object.
    pub fn part_stored(&self, name: &str) {
        if self.events_only {
            return;
        }
        self.live
            .inner
            .growing
            .finish(&format!("{}{name}", self.dir), false);
    }

    /// The part `name` will not be completed: its streams are cut short.
    pub fn part_abandoned(&self, name: &str) {
        if self.events_only {
            return;
        }
        self.live
            .inner
            .growing
            .finish(&format!("{}{name}", self.dir), true);
    }

    /// Publishes a new version: wakes every request held for it. Call it once the objects
    /// the playlist lists are in the store.
    ///
    /// The origin honours `_HLS_msn` on every live playlist, advertised or not: holding a
    /// request until the segment exists is never worse than answering without it.
    pub fn publish(&self, mut state: PlaylistState) {
        if self.events_only {
            return;
        }
        state.can_block_reload = true;
        let hint = text::preload_hint(&state.full).map(|uri| format!("{}{uri}", self.dir));
        self.tx.send_replace(Arc::new(Snapshot {
            state,
            modified: Some(SystemTime::now()),
            hint,
            in_memory: true,
            etags: Default::default(),
        }));
    }
}
