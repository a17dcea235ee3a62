// SPDX-License-Identifier: MIT OR Apache-2.0
//! The live packager's uploads into object storage, off the driver's task.
//!
//! The driver hands each object to [`Uploader::put`] / [`Uploader::delete`] and goes on at
//! once: a bounded queue per stream feeds one worker task that performs the uploads **in
//! order**, so segments and parts are stored before the playlist that lists them.
//!
//! - A segment or part PUT that fails is retried with backoff (50 ms doubling, at most 1 s
//!   apart) until it is stored or its deadline passes ([`DEFAULT_DEADLINE`] after it was
//!   handed over). Then it is given up: logged, counted, and every playlist uploaded later
//!   that lists it marks it as a gap — `EXT-X-GAP` before its URI (RFC 8216bis 4.4.4.7),
//!   `GAP=YES` on its `EXT-X-PART` (4.4.4.9) — so a playlist in storage never lists a
//!   missing object as playable.
//! - A queue that is full (storage slower than the stream) never blocks the driver: a
//!   segment or part that does not fit is given up at once (a gap), a playlist that does not
//!   fit waits in a one-per-name overflow slot the worker uploads once the queue is drained
//!   (everything it lists is then stored or given up).
//! - A playlist PUT is retried the same way; one given up is logged and counted (the next
//!   version replaces it). Deletes are tried twice.
//! - An init segment (or key) is never given up: `EXT-X-MAP` and `EXT-X-KEY` have no gap
//!   marker (RFC 8216bis 4.4.4.4, 4.4.4.5) and every later segment needs it. One not stored
//!   by its deadline is held and tried again whenever the queue is drained (at least every
//!   second); a playlist naming a held object is not stored (it waits in the overflow slot)
//!   until the object is.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a segment or part may take to reach storage before it is given up (a gap).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3);
/// Objects waiting per stream before new segments and parts are given up at once.
pub const QUEUE: usize = 256;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Counters of the uploads of every stream of a packager (for `/metrics` and tests).
#[derive(Debug, Default)]
pub struct UploadStats {
    /// Objects stored (segments, parts, playlists).
    pub stored: AtomicU64,
    /// Failed PUTs that were tried again.
    pub retries: AtomicU64,
    /// Segments and parts given up (listed as gaps).
    pub gaps: AtomicU64,
    /// Playlist versions given up (a later version replaces them).
    pub playlists_failed: AtomicU64,
}

impl UploadStats {
    /// Appends the counters to a Prometheus text exposition.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let rows = [
            (
                "stored",
                "Live objects stored in object storage.",
                &self.stored,
            ),
            (
                "retries",
                "Live uploads tried again after a failure.",
                &self.retries,
            ),
            (
                "gaps",
                "Live segments and parts not stored in time, listed with EXT-X-GAP.",
                &self.gaps,
            ),
            (
                "playlists_failed",
                "Live playlist versions not stored (a later one replaces them).",
                &self.playlists_failed,
            ),
        ];
        for (name, help, n) in rows {
            let _ = writeln!(out, "# HELP hlsorigin_live_upload_{name}_total {help}");
            let _ = writeln!(out, "# TYPE hlsorigin_live_upload_{name}_total counter");
            let _ = writeln!(
                out,
                "hlsorigin_live_upload_{name}_total {}",
                n.load(Relaxed)
            );
        }
    }
}

enum Job {
    Media {
        name: String,
        data: Vec<u8>,
        since: Instant,
    },
    Playlist {
        name: String,
        data: Vec<u8>,
        version: u64,
    },
    Delete {
        name: String,
    },
}

#[derive(Default)]
struct Shared {
    /// Segments and parts given up: playlists list them as gaps.
    failed: Mutex<HashSet<String>>,
    /// Playlists that did not fit in the queue, the latest per name.
    overflow: Mutex<HashMap<String, Vec<u8>>>,
    /// The latest version handed over of each playlist: an older one still queued is
    /// skipped, and one being retried stops (the newer one lists more).
    versions: Mutex<HashMap<String, u64>>,
    /// Init segments and keys not stored yet (see the module's notes).
    held: Mutex<HashMap<String, PutPayload>>,
}

impl Shared {
    fn superseded(&self, name: &str, version: u64) -> bool {
        lock(&self.versions).get(name).is_some_and(|v| *v > version)
    }
}

/// The uploads of one stream: the sending side of its queue.
pub struct Uploader {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    stats: Arc<UploadStats>,
}

/// Where the worker uploads: a store, a key prefix, a deadline.
pub struct Target {
    pub store: Arc<dyn ObjectStore>,
    /// `PREFIX/NAME` (objects go to `PREFIX/NAME/OBJECT`).
    pub prefix: String,
    pub deadline: Duration,
    pub stats: Arc<UploadStats>,
    /// A multivariant playlist waits until the media playlists it names are stored (they
    /// come through other queues: several renditions). Never for a stream's own queue, where
    /// they queue behind it.
    pub masters_wait: bool,
}

impl Uploader {
    /// Starts the worker on `rt`; it ends once this uploader is dropped and its queue is done.
    pub fn start(rt: &tokio::runtime::Handle, target: Target) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared::default());
        let stats = Arc::clone(&target.stats);
        let worker = rt.spawn(work(rx, Arc::clone(&shared), target));
        (Uploader { tx, shared, stats }, worker)
    }

    /// Queues `data` as object `name`; never waits.
    pub fn put(&self, name: &str, data: &[u8]) {
        if name.ends_with(".m3u8") {
            let version = {
                let mut versions = lock(&self.shared.versions);
                let v = versions.entry(name.to_owned()).or_default();
                *v += 1;
                *v
            };
            let job = Job::Playlist {
                name: name.to_owned(),
                data: data.to_vec(),
                version,
            };
            match self.tx.try_send(job) {
                Ok(()) => {
                    // A newer version is queued: an older one overflowing is superseded.
                    lock(&self.shared.overflow).remove(name);
                }
                Err(e) => {
                    if let Job::Playlist { name, data, .. } = e.into_inner() {
                        lock(&self.shared.overflow).insert(name, data);
                    }
                }
            }
            return;
        }
        let job = Job::Media {
            name: name.to_owned(),
            data: data.to_vec(),
            since: Instant::now(),
        };
        if self.tx.try_send(job).is_err() {
            give_up(&self.shared, &self.stats, name, "the upload queue is full");
        }
    }

    /// Queues the deletion of `name`; never waits (a full queue leaves the object behind).
    pub fn delete(&self, name: &str) {
        let job = Job::Delete {
            name: name.to_owned(),
        };
        if self.tx.try_send(job).is_err() {
            tracing::warn!(
                object = name,
                "upload queue full: expired object left in storage"
            );
        }
    }
}

/// The gaps of one stream's uploads, seeded by a restarted packager with those of the
/// playlist it continues (the media crate's recovery does not keep `EXT-X-GAP`): its old
/// segments and parts that were never stored stay listed as gaps.
#[derive(Clone)]
pub struct Gaps(Arc<Shared>);

impl Gaps {
    /// Lists `uris` as gaps in every playlist uploaded from now on.
    pub fn add(&self, uris: impl IntoIterator<Item = String>) {
        lock(&self.0.failed).extend(uris);
    }
}

impl Uploader {
    /// The gap list of this stream.
    pub fn gaps(&self) -> Gaps {
        Gaps(Arc::clone(&self.shared))
    }
}

/// The segments (`EXT-X-GAP`, RFC 8216bis 4.4.4.7) and parts (`GAP=YES`, 4.4.4.9) that
/// media playlist `text` lists as gaps.
pub fn gap_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut gap = false;
    for t in text.lines().map(str::trim) {
        if t == "#EXT-X-GAP" {
            gap = true;
        } else if let Some(attrs) = t.strip_prefix("#EXT-X-PART:") {
            let uri = attrs
                .split_once("URI=\"")
                .and_then(|(_, r)| r.split_once('"'))
                .map(|(u, _)| u);
            if let Some(uri) = uri.filter(|_| attrs.split(',').any(|a| a == "GAP=YES")) {
                out.push(uri.to_owned());
            }
        } else if !t.is_empty() && !t.starts_with('#') && std::mem::take(&mut gap) {
            out.push(t.to_owned());
        }
    }
    out
}

fn lock<T: Default>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn give_up(shared: &Shared, stats: &UploadStats, name: &str, why: &str) {
    lock(&shared.failed).insert(name.to_owned());
    let n = stats.gaps.fetch_add(1, Relaxed) + 1;
    tracing::error!(
        object = name,
        reason = why,
        gaps = n,
        "live object not stored in time: listed as a gap"
    );
}

async fn work(mut rx: mpsc::Receiver<Job>, shared: Arc<Shared>, target: Target) {
    // Since when storage has been failing (None while it works): a segment or part already
    // past its deadline then is given up without waiting for one more failure, so a backlog
    // drains at once.
    let mut failing: Option<Instant> = None;
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Drained: every object queued so far is stored, given up or held.
                store_held(&shared, &target).await;
                upload_overflow(&shared, &target).await;
                let next = if lock(&shared.held).is_empty() {
                    rx.recv().await
                } else {
                    // Held objects are tried again at least every MAX_BACKOFF.
                    match tokio::time::timeout(MAX_BACKOFF, rx.recv()).await {
                        Ok(next) => next,
                        Err(_) => continue,
                    }
                };
                match next {
                    Some(job) => job,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        match job {
            Job::Media { name, data, since } if is_essential(&name) => {
                let payload = PutPayload::from(data);
                let until = since + target.deadline;
                if let Err(e) = upload(&target, &name, payload.clone(), until, || false).await {
                    failing.get_or_insert_with(Instant::now);
                    tracing::error!(
                        object = name,
                        error = e,
                        "init segment not stored in time: playlists naming it wait for it"
                    );
                    lock(&shared.held).insert(name, payload);
                }
            }
            Job::Media { name, data, since } => {
                let until = since + target.deadline;
                if failing.is_some() && Instant::now() >= until {
                    give_up(&shared, &target.stats, &name, "storage is failing");
                    continue;
                }
                match upload(&target, &name, data.into(), until, || false).await {
                    Ok(()) => failing = None,
                    Err(e) => {
                        failing.get_or_insert_with(Instant::now);
                        give_up(&shared, &target.stats, &name, &e);
                    }
                }
            }
            Job::Playlist {
                name,
                data,
                version,
            } => {
                if !shared.superseded(&name, version) {
                    playlist(&shared, &target, &name, &data, version).await;
                }
            }
            Job::Delete { name } => {
                lock(&shared.failed).remove(&name);
                lock(&shared.held).remove(&name);
                delete(&target, &name).await;
            }
        }
    }
    store_held(&shared, &target).await;
    upload_overflow(&shared, &target).await;
}

/// Init segments and keys: what `EXT-X-MAP` and `EXT-X-KEY` name.
fn is_essential(name: &str) -> bool {
    name.ends_with("init.mp4") || name.ends_with(".key")
}

/// Tries each held object once more (up to the deadline).
async fn store_held(shared: &Shared, target: &Target) {
    let held: Vec<(String, PutPayload)> = lock(&shared.held)
        .iter()
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    for (name, payload) in held {
        let until = Instant::now() + target.deadline;
        if upload(target, &name, payload, until, || false)
            .await
            .is_ok()
        {
            lock(&shared.held).remove(&name);
            tracing::info!(object = name, "held init segment stored");
        }
    }
}

async fn upload_overflow(shared: &Shared, target: &Target) {
    let pending: Vec<(String, Vec<u8>)> = lock(&shared.overflow).drain().collect();
    for (name, data) in pending {
        let version = lock(&shared.versions)
            .get(&name)
            .copied()
            .unwrap_or_default();
        playlist(shared, target, &name, &data, version).await;
    }
}

async fn playlist(shared: &Shared, target: &Target, name: &str, data: &[u8], version: u64) {
    let text = String::from_utf8_lossy(data);
    if lock(&shared.held).keys().any(|h| text.contains(h.as_str())) {
        // It names an init segment storage does not have yet: it waits in the overflow slot
        // (never a playlist whose EXT-X-MAP is missing) until the drained queue's next try of
        // the held objects succeeds. A newer version queued meanwhile replaces it.
        if !shared.superseded(name, version) {
            lock(&shared.overflow).insert(name.to_owned(), data.to_vec());
        }
        return;
    }
    let text = {
        let failed = lock(&shared.failed);
        mark_gaps(&String::from_utf8_lossy(data), &failed)
    };
    let until = Instant::now() + target.deadline;
    let superseded = || shared.superseded(name, version);
    if target.masters_wait && text.contains("#EXT-X-STREAM-INF:") {
        // A multivariant playlist (several renditions) comes from its own queue: it waits
        // until the media playlists it names are stored (at most the deadline).
        wait_for_variants(target, &text, until, &superseded).await;
    }
    if let Err(e) = upload(target, name, text.into_bytes().into(), until, superseded).await {
        let n = target.stats.playlists_failed.fetch_add(1, Relaxed) + 1;
        tracing::error!(object = name, error = %e, count = n, "live playlist not stored");
    }
}

/// Waits until every relative URI of multivariant playlist `text` is in storage, `until`
/// passes or `stop()` says so.
async fn wait_for_variants(target: &Target, text: &str, until: Instant, stop: &impl Fn() -> bool) {
    let uris: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("://"))
        .collect();
    for uri in uris {
        let key = key(target, uri);
        while target.store.head(&key).await.is_err() {
            if Instant::now() + FIRST_BACKOFF >= until || stop() {
                tracing::warn!(
                    playlist = uri,
                    "multivariant playlist stored before a playlist it names"
                );
                return;
            }
            tokio::time::sleep(FIRST_BACKOFF).await;
        }
    }
}

fn key(target: &Target, name: &str) -> Path {
    super::sink::ObjectSink::key(&target.prefix, None, name)
}

/// PUTs until stored, `until` passes or `stop()` says so, with backoff between tries.
async fn upload(
    target: &Target,
    name: &str,
    payload: PutPayload,
    until: Instant,
    stop: impl Fn() -> bool,
) -> Result<(), String> {
    let key = key(target, name);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let put = target.store.put(&key, payload.clone());
        let error = match tokio::time::timeout_at(until, put).await {
            Ok(Ok(_)) => {
                target.stats.stored.fetch_add(1, Relaxed);
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if Instant::now() + backoff >= until || stop() {
            return Err(error);
        }
        target.stats.retries.fetch_add(1, Relaxed);
        tracing::debug!(object = name, error, "live upload failed; trying again");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn delete(target: &Target, name: &str) {
    let key = key(target, name);
    for attempt in 0..2 {
        match target.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => return,
            Err(e) if attempt == 1 => {
                tracing::warn!(object = name, error = %e, "cannot delete expired live object");
            }
            Err(_) => tokio::time::sleep(FIRST_BACKOFF).await,
        }
    }
}

/// `playlist` with every segment and part in `failed` marked as a gap: `EXT-X-GAP` before a
/// segment's URI (RFC 8216bis 4.4.4.7), `GAP=YES` on an `EXT-X-PART` (4.4.4.9).
pub fn mark_gaps(playlist: &str, failed: &HashSet<String>) -> String {
    if failed.is_empty() {
        return playlist.to_owned();
    }
    let mut out = String::with_capacity(playlist.len() + 64);
    let mut gap_tagged = false;
    for line in playlist.lines() {
        let t = line.trim();
        if t == "#EXT-X-GAP" {
            gap_tagged = true;
        }
        if let Some(attrs) = t.strip_prefix("#EXT-X-PART:") {
            let uri = attrs
                .split_once("URI=\"")
                .and_then(|(_, r)| r.split_once('"'))
                .map(|(u, _)| u);
            out.push_str(t);
            if uri.is_some_and(|u| failed.contains(u)) && !attrs.contains("GAP=YES") {
                out.push_str(",GAP=YES");
            }
        } else if !t.is_empty() && !t.starts_with('#') {
            if failed.contains(t) && !gap_tagged {
                out.push_str("#EXT-X-GAP\n");
            }
            out.push_str(t);
            gap_tagged = false;
        } else {
            out.push_str(t);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "uploader_tests.rs"]
mod tests;
