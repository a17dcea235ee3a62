// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`StoreSource`]: objects in object storage (S3 and S3-compatible servers, through the
//! `object_store` crate), so that several stateless origins can serve one tree of streams.
//!
//! What one origin asks of storage, per object:
//! - **Playlists** (`*.m3u8`) are fetched whole and kept for a short time-to-live
//!   ([`playlist_ttl`]: 1 s, for a live playlist at most half its target or part duration —
//!   never longer than the `max-age` the origin gives it), then revalidated with a
//!   conditional GET (`If-None-Match`; a 304 costs no body). Concurrent requests share one
//!   fetch.
//! - **Other objects** (segments, init segments, single files) are immutable under their
//!   keys (the packager never reuses a name): one HEAD learns their length and ETag, kept for
//!   [`META_TTL`] and shared by concurrent requests; the body is a [`Remote`] read with
//!   ranged GETs (`Range: bytes=a-b`, `If-Match` on the ETag so a replaced object is never
//!   mixed in). The hot-object cache ([`super::hot`]) sits in front: an object it admits is
//!   read whole by one GET however many requests miss it at once (request collapsing) and
//!   later ranges are slices of it; larger objects (and every object with the cache off) are
//!   streamed from storage with one ranged GET per response.
//! - A failure of storage other than "no such key" (refused connection, timeout, 5xx, denied
//!   credentials) is [`super::Unavailable`], which the origin answers with 503 and its short
//!   error `Cache-Control` — never 404, which a CDN would keep as "gone". So is "no such key"
//!   for an object a playlist fetched lately lists ([`listed`]). Requests and errors
//!   are counted for `/metrics` ([`StoreSource::render_metrics`]).

mod connect;
#[doc(hidden)]
pub mod counting;
mod listed;
mod settings;
mod ttl;

use std::fmt::Write as _;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::HeaderValue;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::{Listing, Object, ObjectBody, ObjectMeta, ObjectSource, Unavailable};
use crate::live::follow::{Fetch, Fetched};
use crate::path::ObjectPath;
use listed::Listed;
use ttl::TtlMap;

pub use connect::{s3_from_env, Role, StorageUrl};
pub use settings::{set_storage_settings, StorageSettings};

/// How long the length and ETag of an immutable object are used without asking storage.
pub const META_TTL: Duration = Duration::from_secs(60);
/// Longest time a playlist is used without asking storage.
const PLAYLIST_TTL: Duration = Duration::from_secs(1);
/// Most streams a listing returns, and how deep it looks for `master.m3u8`.
const LIST_MAX_STREAMS: usize = 1000;
const LIST_MAX_DEPTH: usize = 4;
/// Most playlists of one directory fetched to judge a "no such key" there.
const DIR_MAX_PLAYLISTS: usize = 32;

/// Serves the objects under a key prefix of an [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct StoreSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    metas: TtlMap<ObjectMeta>,
    playlists: TtlMap<Playlist>,
    /// What the playlists fetched lately list (a "no such key" for one of those is 503).
    listed: Listed,
    /// Per directory, whether its playlists read again after a "no such key" left storage
    /// unsure ([`StoreSource::recheck_listing`]): one re-read per directory at a time, kept
    /// for the playlists' own time-to-live.
    rechecks: TtlMap<bool>,
    stats: Arc<StorageStats>,
}

/// A playlist as fetched, with the storage ETag to revalidate it with.
#[derive(Debug, Clone)]
struct Playlist {
    meta: ObjectMeta,
    bytes: Bytes,
    e_tag: Option<String>,
}

/// Storage requests and failures of one source.
#[derive(Debug, Default)]
pub struct StorageStats {
    pub gets: AtomicU64,
    pub heads: AtomicU64,
    pub lists: AtomicU64,
    /// Conditional GETs answered "not modified".
    pub not_modified: AtomicU64,
    /// Failures other than "no such key" (each answered 503).
    pub errors: AtomicU64,
}

impl StoreSource {
    /// Objects under `prefix` (`a/b`, or empty for the whole store).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        StoreSource {
            inner: Arc::new(Inner {
                store,
                prefix: prefix.trim_matches('/').to_owned(),
                metas: TtlMap::default(),
                playlists: TtlMap::default(),
                listed: Listed::default(),
                rechecks: TtlMap::default(),
                stats: Arc::default(),
            }),
        }
    }

    /// A source for `url` with an S3 client from the AWS environment ([`s3_from_env`]).
    pub fn from_url(url: &StorageUrl) -> io::Result<Self> {
        Ok(Self::new(s3_from_env(url, Role::Serve)?, &url.prefix))
    }

    /// The counters of this source.
    pub fn stats(&self) -> &StorageStats {
        &self.inner.stats
    }

    fn key(&self, path: &ObjectPath) -> Path {
        self.key_str(path.as_str())
    }

    /// A storage failure as the origin reports it (counted unless it is "no such key").
    fn error(&self, e: object_store::Error) -> io::Error {
        error(&self.inner.stats, e)
    }

    /// A storage failure for the media object at `path`: as [`Self::error`], except that
    /// "no such key" for an object a playlist fetched lately lists is storage not ready (a
    /// restarting SeaweedFS answers 404 for stored objects for a moment): 503, counted.
    fn media_error(&self, path: &str, e: object_store::Error) -> io::Error {
        match e {
            object_store::Error::NotFound { .. } if self.inner.listed.contains(path) => {
                self.not_ready(path, &e, "a playlist lists it")
            }
            other => self.error(other),
        }
    }

    /// Storage said "no such key" for the object at `path`, which no playlist this origin
    /// fetched lately lists. When this origin serves a playlist of its directory, it may hold
    /// an older version than the player that asks (which got a newer one from another origin,
    /// or from a CDN): those playlists are fetched again first, so that [`Self::media_error`]
    /// judges with the current listing. When it serves none yet (a fresh origin), the
    /// playlists stored in the directory are listed and fetched. A playlist that cannot be
    /// fetched again — storage failing, or answering 404 for a playlist it had a moment ago (a
    /// restarting SeaweedFS answers 404 for everything for a moment; a deleted stream looks
    /// the same) — makes it `true`: storage cannot confirm that the object is gone (503, not
    /// 404).
    ///
    /// A directory's playlists are read again at most once per their own time-to-live
    /// ([`playlist_ttl`], at most [`PLAYLIST_TTL`]), however many such requests come (a client
    /// asking for random names costs storage no more than a player following the stream);
    /// concurrent requests share the one re-read.
    async fn recheck_listing(&self, path: &str) -> bool {
        if self.inner.listed.contains(path) {
            return false;
        }
        let dir = listed::parent(path);
        let (this, owned) = (self.clone(), dir.to_owned());
        let unsure = self
            .inner
            .rechecks
            .get(dir, |_| async move {
                Ok(this.reread_playlists_in(&owned).await)
            })
            .await;
        unsure.unwrap_or(true)
    }

    /// Fetches the playlists of `dir` this origin serves again: whether one could not be, and
    /// the shortest time-to-live among them.
    ///
    /// An origin that fetched no playlist of `dir` yet (just started, or never asked for this
    /// stream's playlists) lists `dir` in storage for its playlists and fetches those: a
    /// listing that fails leaves storage unsure (503); an empty one means no stream there (the
    /// 404 stands).
    async fn reread_playlists_in(&self, dir: &str) -> (bool, Duration) {
        let mut playlists = self.inner.listed.playlists_in(dir);
        if playlists.is_empty() {
            match self.playlists_stored_in(dir).await {
                Ok(found) => playlists = found,
                Err(e) => {
                    tracing::debug!(dir, error = %e, "directory not listed");
                    return (true, PLAYLIST_TTL);
                }
            }
        }
        let mut unsure = false;
        let mut ttl = PLAYLIST_TTL;
        for playlist in playlists {
            let key = self.key_str(&playlist);
            match self.fetch_playlist(&key, playlist.clone(), None).await {
                Ok((_, t)) => ttl = ttl.min(t),
                Err(e) => {
                    tracing::debug!(playlist, error = %e, "playlist not fetched again");
                    unsure = true;
                }
            }
        }
        (unsure, ttl)
    }

    /// The object paths of the playlists (`*.m3u8`) stored directly in `dir`, at most
    /// [`DIR_MAX_PLAYLISTS`] of them: one delimited LIST.
    async fn playlists_stored_in(&self, dir: &str) -> io::Result<Vec<String>> {
        let key = self.key_str(dir);
        self.inner.stats.lists.fetch_add(1, Relaxed);
        let listing = self
            .inner
            .store
            .list_with_delimiter(Some(&key))
            .await
            .map_err(|e| self.error(e))?;
        Ok(listing
            .objects
            .iter()
            .filter_map(|m| self.object_path(&m.location))
            .filter(|rel| rel.ends_with(".m3u8"))
            .take(DIR_MAX_PLAYLISTS)
            .map(str::to_owned)
            .collect())
    }

    /// "No such key" for `path` taken as storage not ready: 503, counted.
    fn not_ready(&self, path: &str, e: &object_store::Error, why: &str) -> io::Error {
        self.inner.stats.errors.fetch_add(1, Relaxed);
        tracing::warn!(path, error = %e, "storage has no object: {why}");
        io::Error::other(Unavailable(format!(
            "{path}: storage says no such key, {why}"
        )))
    }

    /// The object path of storage key `key` (the inverse of [`Self::key_str`]); `None` for a
    /// key outside the prefix.
    fn object_path<'k>(&self, key: &'k Path) -> Option<&'k str> {
        let key = key.as_ref();
        match self.inner.prefix.as_str() {
            "" => Some(key),
            prefix => key.strip_prefix(prefix)?.strip_prefix('/'),
        }
    }

    fn key_str(&self, path: &str) -> Path {
        if self.inner.prefix.is_empty() {
            Path::from(path)
        } else {
            Path::from(format!("{}/{path}", self.inner.prefix))
        }
    }

    async fn open_playlist(&self, path: &ObjectPath) -> io::Result<Object> {
        let key = self.key(path);
        let path_str = path.as_str().to_owned();
        let this = self.clone();
        let playlist = self
            .inner
            .playlists
            .get(path.as_str(), |previous| async move {
                this.fetch_playlist(&key, path_str, previous).await
            })
            .await?;
        Ok(Object {
            meta: playlist.meta,
            body: ObjectBody::Memory(playlist.bytes),
        })
    }

    /// One GET of a playlist, conditional on the ETag of `previous` when there is one.
    async fn fetch_playlist(
        &self,
        key: &Path,
        path: String,
        previous: Option<Playlist>,
    ) -> io::Result<(Playlist, Duration)> {
        let stats = &self.inner.stats;
        let opts = GetOptions {
            if_none_match: previous.as_ref().and_then(|p| p.e_tag.clone()),
            ..Default::default()
        };
        stats.gets.fetch_add(1, Relaxed);
        match self.inner.store.get_opts(key, opts).await {
            Err(object_store::Error::NotModified { .. }) => {
                stats.not_modified.fetch_add(1, Relaxed);
                let p = previous.ok_or_else(|| io::Error::other("304 without a request for it"))?;
                self.inner.listed.touch(&path);
                let ttl = playlist_ttl(&p.bytes);
                Ok((p, ttl))
            }
            Err(e) => Err(self.error(e)),
            Ok(got) => {
                let store_meta = got.meta.clone();
                let bytes = got.bytes().await.map_err(|e| self.error(e))?;
                let meta = object_meta(&store_meta, bytes.len() as u64);
                let ttl = playlist_ttl(&bytes);
                self.inner.listed.record(&path, &bytes);
                let p = Playlist {
                    meta,
                    bytes,
                    e_tag: store_meta.e_tag,
                };
                Ok((p, ttl))
            }
        }
    }

    async fn open_media(&self, path: &ObjectPath) -> io::Result<Object> {
        let key = self.key(path);
        let this = self.clone();
        let head_key = key.clone();
        let head_path = path.as_str().to_owned();
        let meta = self
            .inner
            .metas
            .get(path.as_str(), |_| async move {
                this.inner.stats.heads.fetch_add(1, Relaxed);
                let m = match this.inner.store.head(&head_key).await {
                    Ok(m) => m,
                    Err(e @ object_store::Error::NotFound { .. }) => {
                        if this.recheck_listing(&head_path).await {
                            return Err(this.not_ready(&head_path, &e, "its playlist vanished"));
                        }
                        return Err(this.media_error(&head_path, e));
                    }
                    Err(e) => return Err(this.media_error(&head_path, e)),
                };
                Ok((object_meta(&m, m.size), META_TTL))
            })
            .await?;
        let body = ObjectBody::Remote(Remote {
            store: Arc::clone(&self.inner.store),
            key,
            etag: meta.etag.clone(),
            stats: Arc::clone(&self.inner.stats),
            listed: self.inner.listed.contains(path.as_str()),
        });
        Ok(Object { meta, body })
    }

    /// How [`crate::LivePlaylists::following`] reads this source's live playlists: one GET
    /// of the object at an object path, conditional on the ETag given (`If-None-Match`).
    pub fn playlist_fetch(&self) -> Fetch {
        let this = self.clone();
        Arc::new(move |path: String, e_tag: Option<String>| {
            let this = this.clone();
            Box::pin(async move { this.fetch_conditional(&path, e_tag).await })
        })
    }

    async fn fetch_conditional(&self, path: &str, e_tag: Option<String>) -> io::Result<Fetched> {
        let stats = &self.inner.stats;
        let key = self.key_str(path);
        let opts = GetOptions {
            if_none_match: e_tag,
            ..Default::default()
        };
        stats.gets.fetch_add(1, Relaxed);
        match self.inner.store.get_opts(&key, opts).await {
            Err(object_store::Error::NotModified { .. }) => {
                stats.not_modified.fetch_add(1, Relaxed);
                self.inner.listed.touch(path);
                Ok(Fetched::NotModified)
            }
            Err(e) => Err(self.error(e)),
            Ok(got) => {
                let e_tag = got.meta.e_tag.clone();
                let bytes = got.bytes().await.map_err(|e| self.error(e))?;
                self.inner.listed.record(path, &bytes);
                Ok(Fetched::New { bytes, e_tag })
            }
        }
    }

    /// Appends this source's counters to a Prometheus text exposition.
    pub fn render_metrics(&self, out: &mut String) {
        let s = &self.inner.stats;
        let _ = (|| -> std::fmt::Result {
            writeln!(
                out,
                "# HELP hlsorigin_storage_requests_total Object storage requests by operation."
            )?;
            writeln!(out, "# TYPE hlsorigin_storage_requests_total counter")?;
            for (op, n) in [("get", &s.gets), ("head", &s.heads), ("list", &s.lists)] {
                let n = n.load(Relaxed);
                writeln!(out, "hlsorigin_storage_requests_total{{op=\"{op}\"}} {n}")?;
            }
            writeln!(
                out,
                "# HELP hlsorigin_storage_not_modified_total Conditional GETs answered 304."
            )?;
            writeln!(out, "# TYPE hlsorigin_storage_not_modified_total counter")?;
            let n = s.not_modified.load(Relaxed);
            writeln!(out, "hlsorigin_storage_not_modified_total {n}")?;
            writeln!(
                out,
                "# HELP hlsorigin_storage_errors_total Object storage failures (answered 503)."
            )?;
            writeln!(out, "# TYPE hlsorigin_storage_errors_total counter")?;
            writeln!(
                out,
                "hlsorigin_storage_errors_total {}",
                s.errors.load(Relaxed)
            )
        })();
    }
}

fn error(stats: &StorageStats, e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        other => {
            stats.errors.fetch_add(1, Relaxed);
            tracing::warn!(error = %other, "object storage request failed");
            io::Error::other(Unavailable(other.to_string()))
        }
    }
}

/// How long a playlist may be used without asking storage: [`PLAYLIST_TTL`], and for a
/// live playlist (no `EXT-X-ENDLIST`, not a multivariant playlist) at most half its target
/// duration and half its part target (the origin's live `max-age` is at most half the
/// target, RFC 8216bis 6.2.1 has clients reload no sooner than that).
pub fn playlist_ttl(text: &[u8]) -> Duration {
    let text = String::from_utf8_lossy(text);
    if text.contains("#EXT-X-ENDLIST") || text.contains("#EXT-X-STREAM-INF") {
        return PLAYLIST_TTL;
    }
    let secs = |tag: &str| -> Option<f64> {
        let rest = text.split(tag).nth(1)?;
        let value: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        value.parse().ok()
    };
    let mut ttl = PLAYLIST_TTL;
    for tag in ["#EXT-X-TARGETDURATION:", "PART-TARGET="] {
        if let Some(s) = secs(tag).filter(|s| s.is_finite() && *s > 0.0) {
            ttl = ttl.min(Duration::from_secs_f64(s / 2.0));
        }
    }
    ttl
}

/// The origin's view of a storage object: its length, modification time and a strong,
/// quoted ETag (the storage ETag, which every origin serving the bucket sees alike).
fn object_meta(m: &object_store::ObjectMeta, len: u64) -> ObjectMeta {
    let modified: SystemTime = m.last_modified.into();
    let tag = match m.e_tag.as_deref() {
        Some(t) if t.starts_with('"') && t.ends_with('"') && t.len() >= 2 => t.to_owned(),
        Some(t) => format!("\"{}\"", t.trim_matches('"')),
        None => {
            let nanos = modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("\"{nanos:x}-{len:x}\"")
        }
    };
    ObjectMeta {
        len,
        modified: Some(modified),
        etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\"")),
    }
}

impl ObjectSource for StoreSource {
    async fn open(&self, path: &ObjectPath) -> io::Result<Object> {
        if path.extension() == Some("m3u8") {
            self.open_playlist(path).await
        } else {
            self.open_media(path).await
        }
    }

    async fn list_streams(&self) -> io::Result<Vec<String>> {
        Ok(self.walk(None).await?.streams)
    }

    async fn list_offered(&self, offer: fn(&str) -> bool) -> io::Result<Listing> {
        self.walk(Some(offer)).await
    }

    fn render_metrics(&self, out: &mut String) {
        StoreSource::render_metrics(self, out);
    }
}

impl StoreSource {
    /// The streams under the prefix and the files `offer` accepts, in one listing.
    async fn walk(&self, offer: Option<fn(&str) -> bool>) -> io::Result<Listing> {
        let prefix =
            (!self.inner.prefix.is_empty()).then(|| Path::from(self.inner.prefix.as_str()));
        self.inner.stats.lists.fetch_add(1, Relaxed);
        let mut listing = self.inner.store.list(prefix.as_ref());
        let mut found = Listing::default();
        let mut offered = Offered::default();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.error(e))?;
            let Some(rel) = self.object_path(&meta.location) else {
                continue;
            };
            if found.streams.len() < LIST_MAX_STREAMS && is_stream(rel) {
                found.streams.push(rel.to_owned());
            }
            if let Some(accept) = offer {
                offered.see(rel, accept);
            }
            if offer.is_none() && found.streams.len() >= LIST_MAX_STREAMS {
                break;
            }
        }
        found.streams.sort();
        found.files = offered.files();
        Ok(found)
    }
}

/// Most candidate files a listing keeps before those under playlists are dropped (a bucket's
/// segments of packaged `.ts` streams are candidates until then).
const OFFERED_MAX_SEEN: usize = 100_000;

/// The files a listing offers ([`ObjectSource::list_offered`]), and the directories holding a
/// playlist that hide them.
#[derive(Debug, Default)]
struct Offered {
    files: Vec<String>,
    playlist_dirs: std::collections::HashSet<String>,
}

impl Offered {
    fn see(&mut self, rel: &str, accept: fn(&str) -> bool) {
        let parts: Vec<&str> = rel.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
            return;
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        if name.ends_with(".m3u8") {
            self.playlist_dirs.insert(dir.to_owned());
        } else if parts.len() <= LIST_MAX_DEPTH + 1
            && self.files.len() < OFFERED_MAX_SEEN
            && accept(name)
        {
            self.files.push(rel.to_owned());
        }
    }

    /// The files seen, less those in a directory with a playlist or under one (but the root).
    fn files(self) -> Vec<String> {
        let Offered {
            files,
            playlist_dirs,
        } = self;
        // The file's directory (the root too), or one of its ancestors below the root.
        let hidden = |file: &str| {
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            playlist_dirs.contains(dir)
                || dir
                    .match_indices('/')
                    .any(|(i, _)| playlist_dirs.contains(&dir[..i]))
        };
        let mut files: Vec<String> = files.into_iter().filter(|f| !hidden(f)).collect();
        files.sort();
        files.truncate(LIST_MAX_STREAMS);
        files
    }
}

/// A top-level `*.m3u8`, or a `master.m3u8` at most [`LIST_MAX_DEPTH`] directories down,
/// through no dot-names.
fn is_stream(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
        return false;
    }
    let depth = parts.len().saturating_sub(1);
    let name = parts.last().copied().unwrap_or_default();
    (depth == 0 && name.ends_with(".m3u8"))
        || (1..=LIST_MAX_DEPTH).contains(&depth) && name == "master.m3u8"
}

/// The bytes of one storage object, read with (ranged) GETs when they are needed.
#[derive(Debug, Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    key: Path,
    /// The ETag the object was opened with: a GET of another version fails.
    etag: HeaderValue,
    stats: Arc<StorageStats>,
    /// A playlist fetched lately lists it: "no such key" is storage not ready (503).
    listed: bool,
}

impl Remote {
    fn options(&self, range: Range<u64>) -> GetOptions {
        GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: self.etag.to_str().ok().map(str::to_owned),
            ..Default::default()
        }
    }

    /// A failed GET as the origin reports it (see [`StoreSource::media_error`]).
    fn error(&self, e: object_store::Error) -> io::Error {
        match e {
            object_store::Error::NotFound { .. } if self.listed => {
                self.stats.errors.fetch_add(1, Relaxed);
                tracing::warn!(key = %self.key, error = %e, "storage has no object a playlist lists");
                io::Error::other(Unavailable(format!(
                    "{}: listed, storage says no such key",
                    self.key
                )))
            }
            other => error(&self.stats, other),
        }
    }

    /// `len` bytes from `start`, in one ranged GET.
    pub(crate) async fn read(&self, start: u64, len: u64) -> io::Result<Bytes> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let end = start.saturating_add(len);
        self.stats.gets.fetch_add(1, Relaxed);
        let got = self
            .store
            .get_opts(&self.key, self.options(start..end))
            .await
            .map_err(|e| self.error(e))?;
        let bytes = got.bytes().await.map_err(|e| self.error(e))?;
        if bytes.len() as u64 != len {
            return Err(io::Error::other(Unavailable(format!(
                "{}: {} bytes from storage, {len} expected",
                self.key,
                bytes.len()
            ))));
        }
        Ok(bytes)
    }

    /// A response body of `len` bytes from `start`, streamed from one ranged GET that starts
    /// when the body is first polled.
    pub(crate) fn into_body(self, start: u64, len: u64) -> Body {
        if len == 0 {
            return Body::empty();
        }
        let end = start.saturating_add(len);
        let opened = async move {
            self.stats.gets.fetch_add(1, Relaxed);
            let stats = Arc::clone(&self.stats);
            let got = self
                .store
                .get_opts(&self.key, self.options(start..end))
                .await
                .map_err(|e| error(&self.stats, e))?;
            Ok::<_, io::Error>(got.into_stream().map_err(move |e| error(&stats, e)))
        };
        Body::from_stream(futures_util::stream::once(opened).try_flatten())
    }
}

#[cfg(test)]
mod tests;
