// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time HLS from MP4 files (README "Just-in-time packaging"): `/PATH/FILE.mp4/…`
//! (fMP4/CMAF) and `/PATH/FILE.mp4/ts/…` (MPEG-TS) answer the objects `package` would write
//! for FILE — playlists, init segment, media segments — made on request from the file's index
//! and the byte ranges of the samples a segment holds ([`media::package::jit`]).
//!
//! [`JitSource`] is an [`ObjectSource`] over another: a path that names a file of the inner
//! source is served as it is; a JIT path whose MP4 exists is answered from the plan, as an
//! object in memory, so ranges, HEAD, validators and the per-object `Cache-Control` are the
//! file service's. Object names carry the file's version (a hash of its size and mtime), so a
//! replaced file gets new segment URLs and segments stay `immutable`; the same URL gives the
//! same bytes and ETag on every origin. A segment is rendered from bytes read between two
//! identity checks: a file that changed meanwhile answers 503 (short cache), never a torn
//! segment. With `--jit-encrypt` ([`protect`]) the objects are encrypted as `package
//! --encrypt` writes them, the keys served as `key_<n>.bin`, and AES-128's I-frame file is made
//! per byte range ([`iframes`]). Room: below `http`, above `source`.

mod cache;
mod iframes;
mod ladder;
mod listing;
pub(crate) mod mapping;
mod pread;
pub(crate) mod protect;
#[cfg(test)]
mod tests;
pub(crate) mod url;

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bytes::{Bytes, BytesMut};
use media::demux::mp4::{looks_like_mp4, MediaIndex, Mp4Demuxer, Mp4Options};
use media::demux::ts::looks_like_ts;
use media::package::jit::{plan_with, JitPlan, Span};
use media::package::jit_ts::{plan_ts, TsInputPlan};
use media::package::{Format, PackageOptions};
use sha2::{Digest, Sha256};
use tokio::task::spawn_blocking;

use crate::path::ObjectPath;
use crate::source::store::Remote;
use crate::source::{Object, ObjectBody, ObjectMeta, ObjectSource};
use cache::{IndexCache, Key};
pub use ladder::MAX_MAPPING_BYTES;
pub use listing::is_mapping_file;
use pread::PosFile;
pub use protect::JitProtection;
pub use url::offered;
use url::JitUrl;

/// Default `--jit-segment-duration`, seconds.
pub const DEFAULT_SEGMENT_DURATION: f64 = 6.0;
/// Default `--jit-index-cache-mib`.
pub const DEFAULT_INDEX_CACHE_MIB: u64 = 64;

/// A file that cannot be packaged (415, 422), or changed while being read (503): the status
/// and the one line the body carries.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Refusal {}

/// The [`Refusal`] inside `e`, if it is one.
pub fn refusal(e: &io::Error) -> Option<&Refusal> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
}

fn refused(status: u16, reason: String) -> Refusal {
    Refusal { status, reason }
}

/// A planned file: its index and plan, or why it has none.
pub(crate) type Planned = Result<Arc<Ready>, Refusal>;

pub(crate) enum Ready {
    /// One media file.
    File {
        index: MediaIndex,
        plan: Box<JitPlan>,
    },
    /// A mapping file's ladder.
    Ladder(ladder::LadderReady),
    /// One MPEG-TS file.
    Ts(Box<TsInputPlan>),
}

impl Ready {
    /// Heap bytes held, roughly (the index cache's cost of the entry).
    fn heap_bytes(&self) -> usize {
        match self {
            Ready::File { index, plan } => index.heap_bytes() + plan.heap_bytes(),
            Ready::Ladder(l) => l.heap_bytes(),
            Ready::Ts(t) => t.heap_bytes(),
        }
    }

    /// The plan of a single file (MP4 or TS).
    fn file_plan(&self) -> Option<&JitPlan> {
        match self {
            Ready::File { plan, .. } => Some(plan),
            Ready::Ts(t) => Some(t.plan()),
            Ready::Ladder(_) => None,
        }
    }
}

/// An [`ObjectSource`] that also packages MP4 files of `inner` just in time.
pub struct JitSource<S> {
    inner: S,
    segment_duration: f64,
    cache: Arc<IndexCache>,
    /// `--jit-encrypt`, and its digest for the ETags.
    protection: Option<(Arc<JitProtection>, String)>,
    /// Which JSON files listed are mapping files ([`listing::Verdicts`]).
    verdicts: listing::Verdicts,
}

impl<S: ObjectSource> JitSource<S> {
    /// `segment_duration` in seconds (as `package --segment-duration`); `cache_bytes` bounds
    /// the index cache.
    pub fn new(inner: S, segment_duration: f64, cache_bytes: u64) -> Self {
        JitSource {
            inner,
            segment_duration,
            cache: Arc::new(IndexCache::new(
                usize::try_from(cache_bytes).unwrap_or(usize::MAX),
            )),
            protection: None,
            verdicts: listing::Verdicts::default(),
        }
    }

    /// [`Self::new`] with the just-in-time settings of `config` (segment duration, index
    /// cache, encryption), or why they are unusable.
    pub fn from_config(inner: S, config: &crate::ServeConfig) -> Result<Self, String> {
        let jit = Self::new(
            inner,
            config.jit_segment_duration.0,
            config.jit_index_cache_mib.saturating_mul(1024 * 1024),
        );
        Ok(jit.with_protection(config.jit_protection()?))
    }

    /// Encrypts what it serves as `protection` says (`None`: clear).
    pub fn with_protection(mut self, protection: Option<JitProtection>) -> Self {
        self.protection = protection.map(|p| {
            let digest = p.fingerprint();
            (Arc::new(p), digest)
        });
        self
    }

    /// How the `format` output of the file at `path` is encrypted (`None`: clear); a refusal
    /// (404) for a format encryption does not cover.
    pub(super) fn encryption(
        &self,
        path: &ObjectPath,
        format: Format,
    ) -> io::Result<Option<media::crypto::Encryption>> {
        match &self.protection {
            None => Ok(None),
            Some((p, _)) => p
                .encryption(path.as_str(), format)
                .map(Some)
                .map_err(io::Error::other),
        }
    }

    /// What planning `url` at `version` (its file's, or its mapping's and files') takes: the
    /// plan's cache key, and the options `package` would be run with (the encryption the
    /// path gets included).
    pub(super) fn plan_inputs(
        &self,
        url: &JitUrl,
        version: String,
    ) -> io::Result<(Key, PackageOptions)> {
        let key = Key {
            file: url.file.as_str().to_owned(),
            ts: url.format == Format::Ts,
            version: version.clone(),
            duration_ms: (self.segment_duration * 1000.0).round() as u64,
        };
        let opts = PackageOptions {
            format: url.format,
            segment_duration: self.segment_duration,
            run_id: version,
            encryption: self.encryption(&url.file, url.format)?,
            ..Default::default()
        };
        Ok((key, opts))
    }

    /// Key object `name` of a plan whose master is `master`, when the origin serves keys.
    pub(super) fn key_object(
        &self,
        enc: Option<&media::crypto::Encryption>,
        name: &str,
        master: Option<&Bytes>,
    ) -> Option<Bytes> {
        let (p, _) = self.protection.as_ref()?;
        p.key_object(enc?, name, master?)
    }

    /// The ETag of object `name` of the plan `key` names (with the encryption's digest).
    pub(super) fn etag(&self, key: &Key, format: Format, name: &str) -> io::Result<HeaderValue> {
        etag(
            key,
            format,
            name,
            self.protection.as_ref().map(|(_, d)| d.as_str()),
        )
    }

    async fn open_jit(&self, url: JitUrl, file: Object) -> io::Result<Object> {
        if url.mapping {
            return self.open_mapping(url, file).await;
        }
        let (key, opts) = self.plan_inputs(&url, version(&file.meta))?;
        let encryption = opts.encryption.clone();
        let ready = self.planned(&key, &url.file, &file, opts).await?;
        let file_modified = file.meta.modified;
        let etag = self.etag(&key, url.format, &url.name)?;
        let Some(plan) = ready.file_plan() else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let master = plan.object("master.m3u8");
        if let Some((_, len)) = plan.iframe_file().filter(|(n, _)| *n == url.name) {
            let meta = ObjectMeta {
                len,
                modified: file_modified,
                etag,
            };
            let name = url.name.clone();
            return Ok(iframes::IframeFile::object(ready, None, file, meta, name));
        }
        let bytes = if let Some(b) = plan.object(&url.name) {
            b.clone()
        } else if let Some(k) = self.key_object(encryption.as_ref(), &url.name, master) {
            k
        } else if let Some(seg) = plan.segment(&url.name) {
            let ready = Arc::clone(&ready);
            let meta = file.meta.clone();
            let name = url.name.clone();
            self.render_blocking(&key, move || render(&ready, seg, file, &meta, &name))
                .await?
        } else {
            return Err(io::ErrorKind::NotFound.into());
        };
        Ok(Object {
            meta: ObjectMeta {
                len: bytes.len() as u64,
                modified: file_modified,
                etag,
            },
            body: ObjectBody::Memory(bytes),
        })
    }

    /// A segment rendered by `render` on the blocking pool; a file that changed meanwhile
    /// (503) also drops `key`'s plan, so the next request plans the new file.
    async fn render_blocking(
        &self,
        key: &Key,
        render: impl FnOnce() -> Result<Bytes, Refusal> + Send + 'static,
    ) -> io::Result<Bytes> {
        let rendered = spawn_blocking(render).await.map_err(io::Error::other)?;
        rendered.map_err(|r| {
            if r.status == 503 {
                self.cache.forget(key);
            }
            io::Error::other(r)
        })
    }

    /// The plan of `key`, made once (on the blocking pool) by the first request that needs it.
    async fn planned(
        &self,
        key: &Key,
        path: &ObjectPath,
        file: &Object,
        opts: PackageOptions,
    ) -> io::Result<Arc<Ready>> {
        let handle = reader(file)?;
        let meta = file.meta.clone();
        let name = path.as_str().to_owned();
        self.plan_cached(key, move || build(handle, &meta, &name, &opts))
            .await
    }

    /// The plan of `key`, made once by `make` (on the blocking pool) for the first request
    /// that needs it; its heap bytes counted in the index cache.
    async fn plan_cached(
        &self,
        key: &Key,
        make: impl FnOnce() -> Planned + Send + 'static,
    ) -> io::Result<Arc<Ready>> {
        let cell = self.cache.cell(key);
        let planned = cell
            .get_or_init(|| async move {
                spawn_blocking(make)
                    .await
                    .unwrap_or_else(|e| Err(refused(500, format!("planning failed: {e}"))))
            })
            .await
            .clone();
        match &planned {
            Ok(r) => self.cache.settled(key, r.heap_bytes()),
            Err(r) if r.status == 503 => self.cache.forget(key),
            Err(r) => self.cache.settled(key, r.reason.len() + 64),
        }
        planned.map_err(io::Error::other)
    }
}

/// The ETag of object `name` of the plan `key` names: the same URL gives the same ETag on
/// every origin configured alike (`protection`: the encryption's digest).
fn etag(
    key: &Key,
    format: Format,
    name: &str,
    protection: Option<&str>,
) -> io::Result<HeaderValue> {
    let enc = protection.map(|d| format!("-e{d}")).unwrap_or_default();
    let etag = format!(
        "\"jit-{}-{}-{}{enc}-{}\"",
        key.version,
        format.name(),
        key.duration_ms,
        name
    );
    HeaderValue::from_str(&etag).map_err(|_| io::Error::from(io::ErrorKind::NotFound))
}

/// The version of a file in its objects' names: a hash of its size and modification time,
/// the same on every origin that holds the same file.
fn version(meta: &ObjectMeta) -> String {
    let mtime = meta
        .modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{}:{mtime}", meta.len).as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A reader of the file's bytes.
enum Reader {
    File(PosFile),
    Memory(Cursor<Bytes>),
    /// Object storage: ranged GETs (each pinned to the opened version by its ETag), a
    /// [`REMOTE_CHUNK`] at a time.
    Remote(RemoteReader),
}

/// Bytes one ranged GET of object storage fetches ahead.
const REMOTE_CHUNK: u64 = 1 << 20;

/// Blocking `Read + Seek` over a [`Remote`] object (used on the blocking pool).
struct RemoteReader {
    remote: Remote,
    runtime: tokio::runtime::Handle,
    len: u64,
    pos: u64,
    /// The bytes fetched last, and where they start.
    buf: Bytes,
    buf_at: u64,
}

impl Read for RemoteReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let inside = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !inside {
            let want = REMOTE_CHUNK.max(out.len() as u64).min(self.len - self.pos);
            self.buf = self.runtime.block_on(self.remote.read(self.pos, want))?;
            self.buf_at = self.pos;
        }
        let from = usize::try_from(self.pos - self.buf_at).unwrap_or(usize::MAX);
        let avail = self.buf.get(from..).unwrap_or_default();
        let n = avail.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = to.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::File(f) => f.read(buf),
            Reader::Memory(c) => c.read(buf),
            Reader::Remote(r) => r.read(buf),
        }
    }
}

impl Seek for Reader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Reader::File(f) => f.seek(pos),
            Reader::Memory(c) => c.seek(pos),
            Reader::Remote(r) => r.seek(pos),
        }
    }
}

impl Reader {
    /// The `len` bytes at `offset`: from a file straight into a new buffer (not zeroed
    /// first), from memory as a slice; `UnexpectedEof` if the object is shorter.
    fn read_span(&mut self, offset: u64, len: usize) -> io::Result<Bytes> {
        match self {
            Reader::File(f) => f.read_span(offset, len).map(Bytes::from),
            Reader::Memory(c) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let range = start..start.saturating_add(len);
                let whole = c.get_ref();
                match whole.get(range.clone()) {
                    Some(_) => Ok(whole.slice(range)),
                    None => Err(io::ErrorKind::UnexpectedEof.into()),
                }
            }
            Reader::Remote(_) => {
                let mut buf = BytesMut::zeroed(len);
                self.seek(SeekFrom::Start(offset))?;
                self.read_exact(&mut buf)?;
                Ok(buf.freeze())
            }
        }
    }

    /// Another handle on the same file (for identity checks while this one is in use).
    fn duplicate(&self) -> io::Result<Reader> {
        Ok(match self {
            Reader::File(f) => Reader::File(f.try_clone()?),
            Reader::Memory(c) => Reader::Memory(Cursor::new(c.get_ref().clone())),
            Reader::Remote(r) => Reader::Remote(RemoteReader {
                remote: r.remote.clone(),
                runtime: r.runtime.clone(),
                len: r.len,
                pos: 0,
                buf: Bytes::new(),
                buf_at: 0,
            }),
        })
    }

    /// Length and modification time now (for a file), to compare with what was opened.
    fn identity(&self) -> io::Result<Option<(u64, Option<SystemTime>)>> {
        match self {
            Reader::File(f) => {
                let md = f.metadata()?;
                Ok(Some((md.len(), md.modified().ok())))
            }
            // Every GET carries If-Match with the opened ETag: another version fails the read.
            Reader::Memory(_) | Reader::Remote(_) => Ok(None),
        }
    }
}

fn reader(object: &Object) -> io::Result<Reader> {
    match &object.body {
        ObjectBody::File(f) => Ok(Reader::File(PosFile::new(f.try_clone()?))),
        ObjectBody::Memory(b) => Ok(Reader::Memory(Cursor::new(b.clone()))),
        ObjectBody::Remote(r) => Ok(Reader::Remote(RemoteReader {
            remote: r.clone(),
            runtime: tokio::runtime::Handle::try_current().map_err(io::Error::other)?,
            len: object.meta.len,
            pos: 0,
            buf: Bytes::new(),
            buf_at: 0,
        })),
        // Only just-in-time output is made per range; nothing is packaged from it.
        ObjectBody::Ranged(_) => Err(io::ErrorKind::Unsupported.into()),
    }
}

/// Whether the file behind `reader` is still the one `meta` describes.
fn unchanged(reader: &Reader, meta: &ObjectMeta) -> bool {
    match reader.identity() {
        Ok(Some((len, modified))) => len == meta.len && modified == meta.modified,
        Ok(None) => true,
        Err(_) => false,
    }
}

fn changed(name: &str) -> Refusal {
    refused(
        503,
        format!("{name}: the file changed while it was being read; try again"),
    )
}

/// Indexes and plans the file (blocking): 415 if it is not an MP4, 422 with the packager's
/// error if it cannot be packaged.
fn build(mut reader: Reader, meta: &ObjectMeta, name: &str, opts: &PackageOptions) -> Planned {
    let probe = reader
        .duplicate()
        .map_err(|e| refused(500, format!("{name}: {e}")))?;
    // 564 bytes: three TS packets (as `package` probes its input).
    let mut head = [0u8; 564];
    let n = usize::try_from(meta.len.min(564)).unwrap_or(564);
    let head = head.get_mut(..n).unwrap_or_default();
    reader
        .read_exact(head)
        .map_err(|e| refused(422, format!("{name}: {e}")))?;
    let started = std::time::Instant::now();
    if !looks_like_mp4(head) && looks_like_ts(head) {
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| refused(422, format!("{name}: {e}")))?;
        let plan = plan_ts(reader, opts).map_err(|e| refused(422, format!("{name}: {e}")))?;
        if !unchanged(&probe, meta) {
            return Err(changed(name));
        }
        tracing::info!(
            file = name,
            format = opts.format.name(),
            segments = plan.plan().segment_names().count(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "planned an MPEG-TS file for just-in-time packaging"
        );
        return Ok(Arc::new(Ready::Ts(Box::new(plan))));
    }
    if !looks_like_mp4(head) {
        return Err(refused(
            415,
            format!(
                "{name}: neither an MP4 nor an MPEG-TS file (just-in-time packaging reads MP4, \
                 MOV and TS files)"
            ),
        ));
    }
    let demux = Mp4Demuxer::open(reader, meta.len, Mp4Options::default())
        .map_err(|e| refused(422, format!("{name}: {e}")))?;
    let read_ahead = |samples| match &probe {
        Reader::File(f) => pread::read_nal_heads_ahead(f, samples),
        _ => None,
    };
    let (index, plan) =
        plan_with(demux, opts, read_ahead).map_err(|e| refused(422, format!("{name}: {e}")))?;
    if !unchanged(&probe, meta) {
        return Err(changed(name));
    }
    tracing::info!(
        file = name,
        format = opts.format.name(),
        segments = plan.segment_names().count(),
        samples = index.samples().len(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "planned for just-in-time packaging"
    );
    Ok(Arc::new(Ready::File {
        index,
        plan: Box::new(plan),
    }))
}

/// Renders segment `seg` from its byte ranges, read between two identity checks.
fn render(
    ready: &Ready,
    seg: usize,
    file: Object,
    meta: &ObjectMeta,
    name: &str,
) -> Result<Bytes, Refusal> {
    let (index, plan) = match ready {
        Ready::File { index, plan } => (index, plan),
        Ready::Ts(t) => {
            let render = |t: &TsInputPlan, r: &mut Reader| t.render(seg, r);
            return render_ts(t, seg, &file, meta, name, render).map(Bytes::from);
        }
        Ready::Ladder(_) => return Err(refused(500, format!("{name}: not a file's plan"))),
    };
    let read = read_spans(&file, meta, name, plan.spans(index, seg))?;
    plan.render(index, seg, &read)
        .map(Bytes::from)
        .map_err(|_| changed(name))
}

/// Renders segment `seg` of a TS file with `render` (the segment itself, or AES-128's I-frame
/// entries of it), demuxed from its checkpoint between two identity checks.
fn render_ts<T>(
    plan: &TsInputPlan,
    seg: usize,
    file: &Object,
    meta: &ObjectMeta,
    name: &str,
    render: impl FnOnce(&TsInputPlan, &mut Reader) -> media::Result<T>,
) -> Result<T, Refusal> {
    let mut reader = reader(file).map_err(|e| refused(500, e.to_string()))?;
    let probe = reader
        .duplicate()
        .map_err(|e| refused(500, format!("{name}: {e}")))?;
    if !unchanged(&probe, meta) {
        return Err(changed(name));
    }
    let at = plan
        .start_offset(seg)
        .ok_or_else(|| refused(500, format!("{name}: no segment {seg}")))?;
    reader
        .seek(SeekFrom::Start(at))
        .map_err(|_| changed(name))?;
    let out = render(plan, &mut reader).map_err(|_| changed(name))?;
    if !unchanged(&probe, meta) {
        return Err(changed(name));
    }
    Ok(out)
}

/// The bytes of `spans` of `file`, read between two identity checks (503 if it changed).
fn read_spans(
    file: &Object,
    meta: &ObjectMeta,
    name: &str,
    spans: Vec<Span>,
) -> Result<Vec<(Span, Bytes)>, Refusal> {
    let mut reader = reader(file).map_err(|e| refused(500, e.to_string()))?;
    if !unchanged(&reader, meta) {
        return Err(changed(name));
    }
    let mut read: Vec<(Span, Bytes)> = Vec::with_capacity(spans.len());
    for span in spans {
        let bytes = reader
            .read_span(span.offset, usize::try_from(span.len).unwrap_or(0))
            .map_err(|_| changed(name))?;
        read.push((span, bytes));
    }
    if !unchanged(&reader, meta) {
        return Err(changed(name));
    }
    Ok(read)
}

impl<S: ObjectSource> ObjectSource for JitSource<S> {
    async fn open(&self, path: &ObjectPath) -> io::Result<Object> {
        if let Some(url) = url::parse(path) {
            if let Ok(file) = self.inner.open(&url.file).await {
                return self.open_jit(url, file).await;
            }
        }
        self.inner.open(path).await
    }

    async fn list_streams(&self) -> io::Result<Vec<String>> {
        listing::list_streams(&self.inner, &self.verdicts).await
    }

    async fn would_package(&self, path: &ObjectPath) -> bool {
        url::parse(path)
            .is_some_and(|u| !self.cache.has_plan(u.file.as_str(), u.format == Format::Ts))
    }

    fn live(&self) -> Option<&crate::live::LivePlaylists> {
        self.inner.live()
    }

    fn render_metrics(&self, out: &mut String) {
        self.inner.render_metrics(out);
        let (bytes, entries) = self.cache.usage();
        out.push_str(&format!(
            "# HELP hlsorigin_jit_index_cache_bytes Heap bytes of the just-in-time index cache.\n\
             # TYPE hlsorigin_jit_index_cache_bytes gauge\nhlsorigin_jit_index_cache_bytes {bytes}\n\
             # HELP hlsorigin_jit_index_cache_entries Files planned in the just-in-time index cache.\n\
             # TYPE hlsorigin_jit_index_cache_entries gauge\nhlsorigin_jit_index_cache_entries {entries}\n"
        ));
    }
}
