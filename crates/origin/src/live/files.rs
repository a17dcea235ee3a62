// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live playlists written into the root by another process (ffmpeg's hls muxer, another
//! packager): watched with `notify` from the first blocking request on.
//!
//! The directory of a watched playlist is watched (not the file: writers replace playlists
//! by renaming a temporary file over them, RFC 8216bis 6.2.1, which a watch on the old file
//! would miss). `notify` delivers events on its own thread into a channel; one thread per
//! root re-reads the playlists the events name and sends their new state to the requests
//! waiting on them. A playlist nobody waits for any more is dropped from the watch on the
//! next event. A request for the EXT-X-PRELOAD-HINT of a watched playlist is held like a
//! published one's (while some request keeps the playlist watched, as LL-HLS clients do).
//!
//! The event handler only forwards into a channel: `notify` calls it on the thread that also
//! serves `watch()`/`unwatch()`, so it must never wait for the lock `subscribe` holds while
//! it adds a watch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::watch;

use super::text::{preload_hint, state_from_text};
use super::{Receiver, Snapshot};
use crate::path::ObjectPath;

type Events = mpsc::Receiver<notify::Result<Event>>;

/// Most playlists watched at once; requests for further ones are answered at once.
const MAX_WATCHED: usize = 1024;

/// Watched playlists of one root.
pub(crate) struct FileWatch {
    root: PathBuf,
    shared: Arc<Mutex<Watched>>,
}

struct Entry {
    tx: watch::Sender<Arc<Snapshot>>,
    /// The playlist's directory as an object path (`name/`), for its preload hint.
    dir: String,
}

#[derive(Default)]
struct Watched {
    /// Created on the first subscription.
    watcher: Option<RecommendedWatcher>,
    /// By `canonical directory / file name`, the form `notify` reports paths in.
    entries: HashMap<PathBuf, Entry>,
    /// Watched directories and how many entries each holds.
    dirs: HashMap<PathBuf, usize>,
    /// Playlists re-read after a change event.
    rereads: u64,
}

impl FileWatch {
    pub(crate) fn new(root: &Path) -> Self {
        FileWatch {
            root: root.to_path_buf(),
            shared: Arc::default(),
        }
    }

    /// Subscribes to the playlist at `path` if it is a live media playlist (no
    /// EXT-X-ENDLIST) inside the root.
    pub(crate) async fn subscribe(&self, path: &ObjectPath) -> Option<Receiver> {
        let mut file = self.root.clone();
        file.extend(path.segments());
        let root = self.root.clone();
        let shared = Arc::clone(&self.shared);
        let dir = object_dir(path.as_str()).to_owned();
        tokio::task::spawn_blocking(move || subscribe_blocking(&root, &file, dir, &shared))
            .await
            .ok()
            .flatten()
    }

    /// The watch of a watched playlist whose preload hint is `path` (RFC 8216bis 6.2.6).
    pub(crate) fn hinting(&self, path: &ObjectPath) -> Option<Receiver> {
        let dir = object_dir(path.as_str());
        let w = self.shared.lock().ok()?;
        w.entries
            .values()
            .filter(|e| e.dir == dir)
            .find(|e| e.tx.borrow().hint.as_deref() == Some(path.as_str()))
            .map(|e| e.tx.subscribe())
    }
}

#[cfg(test)]
impl FileWatch {
    /// Playlists re-read so far.
    pub(crate) fn rereads(&self) -> u64 {
        self.shared.lock().map_or(0, |w| w.rereads)
    }

    /// Receivers of every watched playlist: one per request held on it.
    pub(crate) fn receivers(&self) -> usize {
        self.shared.lock().map_or(0, |w| {
            w.entries.values().map(|e| e.tx.receiver_count()).sum()
        })
    }
}

/// `name/` of `name/file` (`""` at the root).
fn object_dir(path: &str) -> &str {
    path.rfind('/')
        .and_then(|i| path.get(..=i))
        .unwrap_or_default()
}

fn subscribe_blocking(
    root: &Path,
    file: &Path,
    dir_path: String,
    shared: &Arc<Mutex<Watched>>,
) -> Option<Receiver> {
    // Same containment rule as the file source: the real path must stay inside the root.
    let real = std::fs::canonicalize(file).ok()?;
    if !real.starts_with(root) || !real.is_file() {
        return None;
    }
    let dir = std::fs::canonicalize(file.parent()?).ok()?;
    let key = dir.join(file.file_name()?);
    let mut w = shared.lock().ok()?;
    if let Some(e) = w.entries.get(&key) {
        return Some(e.tx.subscribe());
    }
    if w.entries.len() >= MAX_WATCHED {
        prune(&mut w);
        if w.entries.len() >= MAX_WATCHED {
            tracing::warn!(
                max = MAX_WATCHED,
                "too many watched playlists; answering without blocking"
            );
            return None;
        }
    }
    if w.watcher.is_none() {
        w.watcher = Some(start_watcher(Arc::downgrade(shared))?);
    }
    if !w.dirs.contains_key(&dir) {
        let watcher = w.watcher.as_mut()?;
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch playlist directory");
            return None;
        }
        w.dirs.insert(dir.clone(), 0);
    }
    // Read after the watch is in place, so no change between the two is missed.
    let snapshot = read(&key, &dir_path).filter(|s| !s.state.ended);
    let Some(snapshot) = snapshot else {
        release_dir(&mut w, &dir);
        return None;
    };
    if let Some(n) = w.dirs.get_mut(&dir) {
        *n = n.saturating_add(1);
    }
    let (tx, rx) = watch::channel(Arc::new(snapshot));
    w.entries.insert(key, Entry { tx, dir: dir_path });
    Some(rx)
}

/// Stops watching `dir` when no entry needs it.
fn release_dir(w: &mut Watched, dir: &Path) {
    if w.dirs.get(dir).is_some_and(|n| *n == 0) {
        w.dirs.remove(dir);
        if let Some(watcher) = w.watcher.as_mut() {
            let _ = watcher.unwatch(dir);
        }
    }
}

fn start_watcher(shared: Weak<Mutex<Watched>>) -> Option<RecommendedWatcher> {
    let (tx, rx) = mpsc::channel();
    let watcher = match notify::recommended_watcher(tx) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch playlists; blocking reload answers at once");
            return None;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("playlist-watch".into())
        .spawn(move || dispatch(&rx, &shared));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the playlist watch thread");
        return None;
    }
    Some(watcher)
}

/// Runs until the watcher (and with it the event sender) is dropped.
fn dispatch(events: &Events, shared: &Weak<Mutex<Watched>>) {
    while let Ok(event) = events.recv() {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "playlist watch error");
                continue;
            }
        };
        // Only changes matter. notify also reports opens and reads (inotify IN_OPEN /
        // IN_CLOSE_NOWRITE) — including our own re-read below, which would otherwise trigger
        // the next re-read: a busy loop for as long as a request is held.
        if is_access_only(&event.kind) {
            continue;
        }
        let Ok(mut w) = shared.lock() else {
            return;
        };
        for path in &event.paths {
            let Some(entry) = w.entries.get(path) else {
                continue;
            };
            if entry.tx.receiver_count() == 0 {
                continue;
            }
            w.rereads = w.rereads.saturating_add(1);
            let Some(entry) = w.entries.get(path) else {
                continue;
            };
            if let Some(new) = read(path, &entry.dir) {
                entry.tx.send_if_modified(|cur| {
                    let changed = cur.state.full != new.state.full;
                    if changed {
                        *cur = Arc::new(new);
                    }
                    changed
                });
            }
        }
        prune(&mut w);
    }
}

/// An event that changes nothing: an open, a read, a close without writing.
fn is_access_only(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        notify::EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        notify::EventKind::Access(_) => true,
        _ => false,
    }
}

/// Drops the playlists nobody waits for.
fn prune(w: &mut Watched) {
    let idle: Vec<PathBuf> = w
        .entries
        .iter()
        .filter(|(_, e)| e.tx.receiver_count() == 0)
        .map(|(k, _)| k.clone())
        .collect();
    for key in idle {
        w.entries.remove(&key);
        if let Some(dir) = key.parent() {
            if let Some(n) = w.dirs.get_mut(dir) {
                *n = n.saturating_sub(1);
            }
            release_dir(w, dir);
        }
    }
}

/// The playlist's current state; `None` while it is not a complete media playlist (missing,
/// being written in place: a complete playlist ends with a line break).
fn read(path: &Path, dir: &str) -> Option<Snapshot> {
    let bytes = std::fs::read(path).ok()?;
    if !bytes.ends_with(b"\n") {
        return None;
    }
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .or_else(|| Some(SystemTime::now()));
    Some(Snapshot {
        hint: preload_hint(&bytes).map(|uri| format!("{dir}{uri}")),
        state: state_from_text(&bytes)?,
        modified,
        in_memory: false,
        etags: Default::default(),
    })
}
