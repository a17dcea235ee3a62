// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live playlists kept current in object storage by a packager elsewhere (`serve s3://…
//! [--follow http://PACKAGER]`): the origin learns of new parts and segments and only then
//! lists them, so a blocking reload (RFC 8216bis 6.2.5.2) is answered as soon as the
//! playlist in storage lists what it waits for — and storage has every object that playlist
//! lists (the packager stores objects before the playlist that lists them).
//!
//! One follow task per followed playlist (never one per request): it re-reads the playlist
//! object with a conditional GET (`If-None-Match`) when **poked** — the packager announced a
//! part or segment on its events channel ([`Follow::poke`]) — and, as a fallback, every half
//! part target (half target duration without parts). While the events channel is connected
//! ([`Follow::set_connected`]) the fallback is one target duration. A poke names the part or
//! segment announced: until the stored playlist lists it the task re-reads quickly (the
//! packager writes the playlist just after the event). Each new version goes into the
//! playlist's [`watch`] channel, waking the requests held on it (the machinery the in-process
//! packager uses). A playlist is followed from its first blocking request on, until it ends
//! or nobody asked for it for [`IDLE`]. Nothing here outlives a restart: all of it is read
//! again from storage.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use media::live::PlaylistState;
use tokio::sync::watch;
use tokio::time::Instant;

use super::text::{preload_hint, state_from_text};
use super::{Receiver, Snapshot};
use crate::path::ObjectPath;

/// A followed playlist nobody asked for in this long is no longer followed.
const IDLE: Duration = Duration::from_secs(30);
/// Most playlists followed at once.
const MAX_FOLLOWED: usize = 1024;
/// Re-reads after a poke until the playlist lists what was announced: first pause, and how
/// long to keep trying.
const POKE_RETRY: Duration = Duration::from_millis(20);
const POKE_PATIENCE: Duration = Duration::from_secs(2);

/// One read of a playlist object.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// Unchanged since the ETag given.
    NotModified,
    /// Its content and ETag.
    New { bytes: Bytes, e_tag: Option<String> },
}

/// Reads a playlist object (by object path), conditional on an ETag when one is given.
pub type Fetch = Arc<
    dyn Fn(String, Option<String>) -> Pin<Box<dyn Future<Output = io::Result<Fetched>> + Send>>
        + Send
        + Sync,
>;

/// What a poke announced: segment `msn`, or part `part` of segment `msn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub msn: u64,
    pub part: Option<u64>,
}

impl Want {
    /// Whether `state` lists it.
    fn listed_in(self, state: &PlaylistState) -> bool {
        if state.last_msn.is_some_and(|last| last >= self.msn) || state.ended {
            return true;
        }
        match self.part {
            Some(p) => {
                state.next_msn == self.msn && state.next_parts > p || state.next_msn > self.msn
            }
            None => false,
        }
    }
}

struct Entry {
    tx: watch::Sender<Arc<Snapshot>>,
    pokes: watch::Sender<Option<Want>>,
    dir: String,
    used: Instant,
}

/// The playlists of one storage source that are followed.
pub struct Follow {
    fetch: Fetch,
    entries: Mutex<HashMap<String, Entry>>,
    connected: AtomicBool,
    /// Playlist reads (conditional or not) and versions found, for tests and logs.
    reads: AtomicU64,
}

impl fmt::Debug for Follow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follow")
            .field("connected", &self.connected.load(Relaxed))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Follow {
    pub(crate) fn new(fetch: Fetch) -> Self {
        Follow {
            fetch,
            entries: Mutex::default(),
            connected: AtomicBool::new(false),
            reads: AtomicU64::new(0),
        }
    }

    /// The watch of the playlist at `path`: a followed one, else (on a blocking request)
    /// one that starts being followed if it is a live media playlist in storage.
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        path: &ObjectPath,
        blocking: bool,
    ) -> Option<Receiver> {
        self.subscribe_at(path.as_str(), blocking).await
    }

    async fn subscribe_at(self: &Arc<Self>, path: &str, blocking: bool) -> Option<Receiver> {
        if let Some(rx) = self.followed(path) {
            return Some(rx);
        }
        if !blocking {
            return None;
        }
        self.reads.fetch_add(1, Relaxed);
        let Ok(Fetched::New { bytes, e_tag }) = (self.fetch)(path.to_owned(), None).await else {
            return None;
        };
        let dir = object_dir(path).to_owned();
        let snapshot = snapshot(&bytes, &dir).filter(|s| !s.state.ended)?;
        let mut entries = lock(&self.entries);
        if let Some(e) = entries.get_mut(path) {
            // Another request started following it meanwhile.
            e.used = Instant::now();
            return Some(e.tx.subscribe());
        }
        if entries.len() >= MAX_FOLLOWED {
            tracing::warn!(
                max = MAX_FOLLOWED,
                "too many followed playlists; answering without blocking"
            );
            return None;
        }
        let (tx, rx) = watch::channel(Arc::new(snapshot));
        let (pokes, pokes_rx) = watch::channel(None);
        entries.insert(
            path.to_owned(),
            Entry {
                tx: tx.clone(),
                pokes,
                dir: dir.clone(),
                used: Instant::now(),
            },
        );
        drop(entries);
        tracing::debug!(playlist = path, "following live playlist in storage");
        tokio::spawn(follow(
            Arc::clone(self),
            path.to_owned(),
            dir,
            e_tag,
            tx,
            pokes_rx,
        ));
        Some(rx)
    }

    fn followed(&self, path: &str) -> Option<Receiver> {
        let mut entries = lock(&self.entries);
        let e = entries.get_mut(path)?;
        e.used = Instant::now();
        Some(e.tx.subscribe())
    }

    /// The watch of a followed playlist whose preload hint is `path` (RFC 8216bis 6.2.6).
    pub(crate) fn hinting(&self, path: &ObjectPath) -> Option<Receiver> {
        let dir = object_dir(path.as_str());
        lock(&self.entries)
            .values()
            .filter(|e| e.dir == dir)
            .find(|e| e.tx.borrow().hint.as_deref() == Some(path.as_str()))
            .map(|e| e.tx.subscribe())
    }

    /// The watch of the live playlist whose preload hint is `path`, for a request for an
    /// object storage does not have yet (RFC 8216bis 6.2.6: a request for the hinted part is
    /// held until the part is available). A followed playlist hinting it answers at once.
    /// Otherwise `path` is taken for a part of this packager's naming
    /// (`RENDITION_RUN_MSN.PART.EXT`, beside its playlist `RENDITION.m3u8`) and that playlist
    /// is followed from now on, as a blocking reload would: the first request of a client may
    /// well be for the hinted part. When the version followed is behind the one the client
    /// read the hint from (another origin, a poll not yet due) — `path` is a later part of
    /// the same run, at most one segment on — the playlist is re-read now and the request
    /// waits (at most the blocking timeout) until it catches up. `None` for anything else.
    pub(crate) async fn hinted(self: &Arc<Self>, path: &ObjectPath) -> Option<Receiver> {
        if let Some(rx) = self.hinting(path) {
            return Some(rx);
        }
        let dir = object_dir(path.as_str());
        let file = path.as_str().get(dir.len()..)?;
        let part = PartName::parse(file)?;
        let playlist = format!("{dir}{}.m3u8", part.rendition);
        let mut rx = self.subscribe_at(&playlist, true).await?;
        let deadline = Instant::now() + rx.borrow().block_timeout();
        let mut poked = false;
        loop {
            let ahead = {
                let snap = rx.borrow_and_update();
                let hint = snap.hint.as_deref().and_then(|h| h.get(dir.len()..));
                part.ahead_of(hint.and_then(PartName::parse))
            };
            if !ahead {
                return Some(rx);
            }
            if !poked {
                if let Some(e) = lock(&self.entries).get(&playlist) {
                    e.pokes.send_replace(Some(part.want()));
                }
                poked = true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Some(rx),
            }
        }
    }

    /// The packager announced `want` for the playlist of rendition `rendition` of stream
    /// `stream`: every followed playlist whose path ends with `stream/rendition.m3u8` is
    /// re-read now (with `rendition` `None`, every playlist of the stream).
    pub fn poke(&self, stream: &str, rendition: Option<&str>, want: Option<Want>) {
        let entries = lock(&self.entries);
        for (path, e) in entries.iter() {
            if belongs(path, stream, rendition) {
                e.pokes.send_replace(want);
            }
        }
    }

    /// Every followed playlist is re-read now (events were lost).
    pub fn poke_all(&self) {
        for e in lock(&self.entries).values() {
            e.pokes.send_replace(None);
        }
    }

    /// Whether the packager's events channel is connected (the polling fallback slows down).
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Relaxed);
    }

    /// Playlist reads so far.
    #[cfg(test)]
    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Relaxed)
    }

    fn idle(&self, path: &str) -> bool {
        let mut entries = lock(&self.entries);
        let idle = entries
            .get(path)
            .is_none_or(|e| e.tx.receiver_count() == 0 && e.used.elapsed() > IDLE);
        if idle {
            entries.remove(path);
        }
        idle
    }

    fn forget(&self, path: &str) {
        lock(&self.entries).remove(path);
    }
}

/// A part of this packager's naming: `RENDITION_RUN_MSN.PART.EXT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartName<'a> {
    rendition: &'a str,
    run: &'a str,
    msn: u64,
    part: u64,
}

impl<'a> PartName<'a> {
    fn parse(file: &'a str) -> Option<Self> {
        let (stem, _ext) = file.rsplit_once('.')?;
        let (head, part) = stem.rsplit_once('.')?;
        let (head, msn) = head.rsplit_once('_')?;
        let (rendition, run) = head.rsplit_once('_')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if rendition.is_empty() || run.is_empty() || !digits(msn) || !digits(part) {
            return None;
        }
        Some(PartName {
            rendition,
            run,
            msn: msn.parse().ok()?,
            part: part.parse().ok()?,
        })
    }

    /// Whether this part comes after `hint` in the same run, at most one segment on: the
    /// hint a newer version of the playlist would carry.
    fn ahead_of(&self, hint: Option<PartName<'_>>) -> bool {
        hint.is_some_and(|h| {
            h.rendition == self.rendition
                && h.run == self.run
                && (self.msn, self.part) > (h.msn, h.part)
                && self.msn <= h.msn + 1
        })
    }

    fn want(&self) -> Want {
        Want {
            msn: self.msn,
            part: Some(self.part),
        }
    }
}

/// Whether object path `path` is the playlist `…stream/rendition.m3u8` (any rendition of
/// `stream` when `rendition` is `None`).
fn belongs(path: &str, stream: &str, rendition: Option<&str>) -> bool {
    let dir = object_dir(path).trim_end_matches('/');
    let in_stream = dir == stream || dir.ends_with(&format!("/{stream}"));
    let file = path.rsplit('/').next().unwrap_or(path);
    in_stream && rendition.is_none_or(|r| file.strip_suffix(".m3u8") == Some(r))
}

/// `name/` of `name/file` (`""` at the root).
fn object_dir(path: &str) -> &str {
    path.rfind('/')
        .and_then(|i| path.get(..=i))
        .unwrap_or_default()
}

fn snapshot(bytes: &[u8], dir: &str) -> Option<Snapshot> {
    if !bytes.ends_with(b"\n") {
        return None;
    }
    let mut state = state_from_text(bytes)?;
    state.can_block_reload = true;
    Some(Snapshot {
        hint: preload_hint(bytes).map(|uri| format!("{dir}{uri}")),
        state,
        modified: Some(SystemTime::now()),
        in_memory: true,
        etags: Default::default(),
    })
}

/// How long to wait between reads when nothing is announced.
fn fallback(state: &PlaylistState, connected: bool) -> Duration {
    let target = Duration::from_secs(state.target_duration.max(1));
    if connected {
        return target;
    }
    let half = state
        .part_target
        .map_or(target / 2, |p| Duration::from_secs_f64(p / 2.0));
    half.max(Duration::from_millis(50))
}

/// The follow task of one playlist.
async fn follow(
    follow: Arc<Follow>,
    path: String,
    dir: String,
    mut e_tag: Option<String>,
    tx: watch::Sender<Arc<Snapshot>>,
    mut pokes: watch::Receiver<Option<Want>>,
) {
    // Consecutive failed reads: the fallback poll slows down (doubling, at most one target
    // duration) while storage is failing, instead of hammering it.
    let mut failures = 0u32;
    loop {
        let wait = {
            let state = &tx.borrow().state;
            let slowest = Duration::from_secs(state.target_duration.max(1));
            let fast = fallback(state, follow.connected.load(Relaxed));
            (fast * 2u32.pow(failures.min(6))).min(slowest.max(fast))
        };
        let want = tokio::select! {
            changed = pokes.changed() => match changed {
                Ok(()) => *pokes.borrow_and_update(),
                Err(_) => return,
            },
            () = tokio::time::sleep(wait) => None,
        };
        if follow.idle(&path) {
            return;
        }
        let give_up = Instant::now() + POKE_PATIENCE;
        let mut pause = POKE_RETRY;
        loop {
            match read(&follow, &path, &dir, &mut e_tag).await {
                Ok(Some(new)) => {
                    tx.send_replace(Arc::new(new));
                    failures = 0;
                }
                Ok(None) => failures = 0,
                Err(()) => failures = failures.saturating_add(1),
            }
            let (ended, done) = {
                let state = &tx.borrow().state;
                (state.ended, want.is_none_or(|w| w.listed_in(state)))
            };
            if ended {
                // Nothing more will come: what is published stays with the held requests.
                follow.forget(&path);
                return;
            }
            if done || Instant::now() + pause > give_up {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

/// A new version of the playlist, if storage has one; `Err` when storage failed.
async fn read(
    follow: &Follow,
    path: &str,
    dir: &str,
    e_tag: &mut Option<String>,
) -> Result<Option<Snapshot>, ()> {
    follow.reads.fetch_add(1, Relaxed);
    match (follow.fetch)(path.to_owned(), e_tag.clone()).await {
        Ok(Fetched::NotModified) => Ok(None),
        Ok(Fetched::New { bytes, e_tag: tag }) => {
            let Some(s) = snapshot(&bytes, dir) else {
                return Ok(None);
            };
            *e_tag = tag;
            Ok(Some(s))
        }
        Err(e) => {
            tracing::debug!(playlist = path, error = %e, "cannot read followed playlist");
            Err(())
        }
    }
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "hinted_tests.rs"]
mod hinted_tests;
