// SPDX-License-Identifier: MIT OR Apache-2.0
//! Serving objects under the root: method and path checks, playlist preparation (gzip,
//! cache lifetime) and one response builder for conditionals, ranges and headers.
//!
//! Playlists are read whole, classified ([`super::policy::classify_playlist`]) and gzipped
//! once per version (source ETag), by one request however many ask at once; the result is
//! kept in a small per-path cache, so a playlist request costs one `open`+`fstat` and no read
//! while the playlist is unchanged.
//! Playlists are gzip-encoded whenever `Accept-Encoding` allows (Apple HLS authoring spec
//! 10.1) and always carry `Vary: Accept-Encoding`; a request with `Range` gets the identity
//! encoding (ranges of a gzip stream are useless to players). Segments are never compressed.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, LAST_MODIFIED, RANGE, VARY,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use super::conditional::{
    accepts_gzip, evaluate, if_range_allows, parse_range, ByteRange, Precondition,
};
use super::events::EventsEdge;
use super::policy::{classify, classify_playlist, live_max_age, PlaylistClass};
use super::reload::{open_playlist, PlaylistError};
use crate::metrics::{Metrics, RouteKind};
use crate::path::{ObjectPath, PathError};
use crate::source::hot::HotCache;
use crate::source::{Object, ObjectBody, ObjectSource};

/// Header values derived once from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct PolicyHeaders {
    pub(crate) cors_origin: HeaderValue,
    pub(crate) cache_segment: HeaderValue,
    pub(crate) cache_error: HeaderValue,
    pub(crate) cache_other: HeaderValue,
}

/// Shared by every request of one server.
#[derive(Debug)]
pub(crate) struct AppState<S> {
    pub(crate) source: S,
    pub(crate) headers: PolicyHeaders,
    pub(crate) playlist_policy: PlaylistPolicy,
    pub(crate) playlists: PlaylistCache,
    pub(crate) hot: HotCache,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) index_html: Bytes,
    /// Parsed playlists behind the `/api/streams` entries.
    pub(crate) details: super::streams::DetailsCache,
    /// `/api/events` and the snapshot's `seq`; also holds the signed-URL policy.
    pub(crate) events: Arc<EventsEdge>,
    /// `--metrics-token`.
    pub(crate) metrics_token: Option<String>,
}

/// Playlists larger than this are streamed like any other file (no gzip, `no-cache`).
const MAX_PLAYLIST_BYTES: u64 = 16 * 1024 * 1024;
/// Entries in the prepared-playlist cache before it is emptied and refilled.
const PLAYLIST_CACHE_ENTRIES: usize = 4096;
/// How long a VOD (`#EXT-X-ENDLIST`) or multivariant playlist, once checked against the source,
/// is served from the prepared cache without asking the source again (never longer than its
/// `Cache-Control` max-age: every client and CDN may already keep it that long). Live
/// playlists are checked on every request. Like nginx's `open_file_cache_valid`, this spares
/// the per-request open + stat (+ path resolution) of the hottest objects of a VOD origin.
const PLAYLIST_REVALIDATE: Duration = Duration::from_secs(1);

/// A playlist version ready to send.
#[derive(Debug)]
pub(crate) struct PreparedPlaylist {
    source_etag: HeaderValue,
    identity: Bytes,
    gzip: Bytes,
    gzip_etag: HeaderValue,
    modified: Option<SystemTime>,
    last_modified: Option<HeaderValue>,
    cache_control: HeaderValue,
    /// How long this version may be served without asking the source (see
    /// [`PLAYLIST_REVALIDATE`]); `None` for live playlists.
    reuse_for: Option<Duration>,
    /// This version with a signed-URL token on its URIs, per token (`super::signed`).
    signed: super::signed::TokenBodies,
}

/// Prepared playlists by object path: the last few versions of each (a live playlist has a
/// full and a delta-update body per version, and requests for the previous version may still
/// be in flight), each with when the source last confirmed it.
///
/// A version is prepared (read, classified, gzipped) at most once, however many requests ask
/// for it at the same time: when a publication releases 1,000 parked blocking-reload requests
/// (RFC 8216bis 6.2.5.2) they all wait on the same [`Version`] and one of them compresses.
#[derive(Debug, Default)]
pub(crate) struct PlaylistCache {
    map: Mutex<HashMap<String, Vec<Confirmed>>>,
}

/// A version and when the source last confirmed it.
type Confirmed = (Arc<Version>, Instant);

/// One version (source ETag) of one playlist, prepared on first use.
#[derive(Debug)]
pub(crate) struct Version {
    source_etag: HeaderValue,
    prepared: tokio::sync::OnceCell<Arc<PreparedPlaylist>>,
}

impl Version {
    /// The prepared playlist, made from `object` by the first caller (the others wait for it
    /// and drop their `object`); a failed preparation leaves the next caller to try again.
    async fn prepare(
        &self,
        object: Object,
        policy: &PlaylistPolicy,
        metrics: &Metrics,
    ) -> io::Result<Arc<PreparedPlaylist>> {
        let prepared = self.prepared.get_or_try_init(|| async {
            let policy = policy.clone();
            let p = tokio::task::spawn_blocking(move || prepare(object, &policy))
                .await
                .map_err(io::Error::other)??;
            metrics.gzip_compressed();
            Ok::<_, io::Error>(Arc::new(p))
        });
        prepared.await.map(Arc::clone)
    }
}

/// Versions kept per playlist path: full and delta bodies of the current and the previous
/// version.
const VERSIONS_PER_PATH: usize = 4;

impl PlaylistCache {
    /// The version of `path` whose source ETag is `etag`, created if new; it counts as
    /// confirmed now.
    fn version(&self, path: &ObjectPath, etag: &HeaderValue) -> Arc<Version> {
        let fresh = || {
            Arc::new(Version {
                source_etag: etag.clone(),
                prepared: tokio::sync::OnceCell::new(),
            })
        };
        let Ok(mut map) = self.map.lock() else {
            return fresh();
        };
        if map.len() >= PLAYLIST_CACHE_ENTRIES && !map.contains_key(path.as_str()) {
            map.clear();
        }
        let versions = map.entry(path.as_str().to_owned()).or_default();
        let found = versions.iter().position(|(v, _)| v.source_etag == etag);
        let version = match found {
            Some(i) => versions.remove(i).0,
            None => fresh(),
        };
        versions.insert(0, (Arc::clone(&version), Instant::now()));
        versions.truncate(VERSIONS_PER_PATH);
        version
    }

    /// The prepared version of `path` last confirmed by the source, if it may be served
    /// without asking the source again.
    fn recent(&self, path: &ObjectPath) -> Option<Arc<PreparedPlaylist>> {
        let map = self.map.lock().ok()?;
        let (version, confirmed) = map.get(path.as_str())?.first()?;
        let prepared = version.prepared.get()?;
        let window = prepared.reuse_for?;
        (confirmed.elapsed() < window).then(|| Arc::clone(prepared))
    }
}

/// How playlists get their `Cache-Control`.
#[derive(Debug, Clone)]
pub(crate) struct PlaylistPolicy {
    pub(crate) vod: HeaderValue,
    pub(crate) live_max_age: Option<u32>,
}

impl PlaylistPolicy {
    #[cfg(test)]
    fn cache_control(&self, text: &[u8]) -> HeaderValue {
        self.cache_control_for(classify_playlist(text))
    }

    fn cache_control_for(&self, class: PlaylistClass) -> HeaderValue {
        match class {
            PlaylistClass::Ended | PlaylistClass::Multivariant => self.vod.clone(),
            PlaylistClass::Live { target_duration } => {
                let n = live_max_age(target_duration, self.live_max_age);
                HeaderValue::from_str(&format!("public, max-age={n}"))
                    .unwrap_or(HeaderValue::from_static("no-cache"))
            }
        }
    }
}

/// Answers a request for an object under the root (the router's fallback); `token`: a
/// signed-URL token valid for it, added to the URIs of a playlist.
pub(crate) async fn serve_object<S: ObjectSource>(
    state: &AppState<S>,
    req: Request,
    token: Option<&str>,
) -> Response {
    // The body is not `Sync`; keep only the head across awaits.
    let (req, _body) = req.into_parts();
    let head = match req.method {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            return res;
        }
    };
    let path = match ObjectPath::from_request_path(req.uri.path()) {
        Ok(p) => p,
        Err(PathError::BadRequest) => return plain(StatusCode::BAD_REQUEST, "bad request path\n"),
        Err(PathError::Hidden) => return not_found(),
    };
    let (content_type, kind) = classify(path.extension());
    let content_type = HeaderValue::from_static(content_type);
    if kind == RouteKind::Playlist {
        return serve_playlist(state, &path, req, content_type, head, token).await;
    }
    // An LL-HLS part still being written is streamed as it grows (RFC 8216bis 6.2.6); a
    // range or HEAD waits for the stored object instead (`LiveSource::open`).
    if let (RouteKind::Segment, false, false, Some(live)) = (
        kind,
        head,
        req.headers.contains_key(RANGE),
        state.source.live(),
    ) {
        if let Some(part) = live.streaming_part(&path).await {
            return part.respond(content_type, state.headers.cache_segment.clone());
        }
    }
    let mut object = match state.source.open(&path).await {
        Ok(o) => o,
        Err(e) => return io_error(&path, &e),
    };
    let segment = matches!(kind, RouteKind::Segment | RouteKind::Init);
    let cache_control = if segment {
        state.headers.cache_segment.clone()
    } else {
        state.headers.cache_other.clone()
    };
    // Segments (immutable) come from the hot-object cache when their bytes will be sent.
    let sends_body = !head
        && evaluate(&req.headers, &object.meta.etag, object.meta.modified) == Precondition::Proceed;
    let cacheable = !object.body.is_ranged();
    if segment && sends_body && cacheable && state.hot.admits(object.meta.len) {
        let meta = object.meta.clone();
        match state.hot.get(&path, object).await {
            Ok(bytes) => {
                object = Object {
                    meta,
                    body: ObjectBody::Memory(bytes),
                }
            }
            Err(e) => return io_error(&path, &e),
        }
    }
    respond_object(object, content_type, cache_control, &req.headers, head)
}

fn respond_object(
    object: Object,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    let Object { meta, body } = object;
    let rep = Representation {
        etag: meta.etag,
        modified: meta.modified,
        last_modified: meta.modified.and_then(http_date),
        len: meta.len,
        content_type,
        cache_control,
        gzip: false,
        vary: false,
    };
    rep.respond(headers, head, body)
}

async fn serve_playlist<S: ObjectSource>(
    state: &AppState<S>,
    path: &ObjectPath,
    req: Parts,
    content_type: HeaderValue,
    head: bool,
    token: Option<&str>,
) -> Response {
    // A VOD or multivariant playlist confirmed less than PLAYLIST_REVALIDATE ago. Requests
    // with LL-HLS delivery directives always go through `open_playlist`; other query
    // parameters (a signed URL's `token`) do not change the playlist.
    let directives = super::reload::Directives::parse(req.uri.query());
    if directives.is_ok_and(|d| d == super::reload::Directives::default()) {
        if let Some(prepared) = state.playlists.recent(path) {
            return respond_prepared(&prepared, &req, content_type, head, None, token);
        }
    }
    let held = req.extensions.get::<super::reload::HeldReload>().copied();
    let req = if directives.is_ok_and(|d| d.is_blocking()) {
        super::reload::detached(req)
    } else {
        req
    };
    let req = &req;
    let (object, blocking_cache_control) =
        match open_playlist(&state.source, path, req.uri.query(), held).await {
            Ok(o) => (o.object, o.cache_control),
            Err(PlaylistError::BadDirectives(why)) => return plain(StatusCode::BAD_REQUEST, why),
            // RFC 8216bis 6.2.5.2: blocked for too long.
            Err(PlaylistError::Unavailable) => {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the requested segment or part is not available yet\n",
                )
            }
            Err(PlaylistError::Io(e)) => return io_error(path, &e),
        };
    if object.meta.len > MAX_PLAYLIST_BYTES {
        return respond_object(
            object,
            content_type,
            HeaderValue::from_static("no-cache"),
            &req.headers,
            head,
        );
    }
    let version = state.playlists.version(path, &object.meta.etag);
    let prepared = match version
        .prepare(object, &state.playlist_policy, &state.metrics)
        .await
    {
        Ok(p) => p,
        Err(e) => return io_error(path, &e),
    };
    respond_prepared(
        &prepared,
        req,
        content_type,
        head,
        blocking_cache_control,
        token,
    )
}

fn respond_prepared(
    prepared: &PreparedPlaylist,
    req: &Parts,
    content_type: HeaderValue,
    head: bool,
    blocking_cache_control: Option<HeaderValue>,
    token: Option<&str>,
) -> Response {
    let gzip = !req.headers.contains_key(RANGE) && accepts_gzip(&req.headers);
    let signed = token.and_then(|t| {
        prepared
            .signed
            .get(t, &prepared.identity, &prepared.source_etag, variant_etag)
    });
    let (etag, bytes) = match (&signed, gzip) {
        (Some(b), true) => (b.gzip_etag.clone(), b.gzip.clone()),
        (Some(b), false) => (b.etag.clone(), b.identity.clone()),
        (None, true) => (prepared.gzip_etag.clone(), prepared.gzip.clone()),
        (None, false) => (prepared.source_etag.clone(), prepared.identity.clone()),
    };
    let rep = Representation {
        etag,
        modified: prepared.modified,
        last_modified: prepared.last_modified.clone(),
        len: bytes.len() as u64,
        content_type,
        cache_control: blocking_cache_control.unwrap_or_else(|| prepared.cache_control.clone()),
        gzip,
        vary: true,
    };
    rep.respond(&req.headers, head, ObjectBody::Memory(bytes))
}

/// Reads, classifies and compresses one playlist version (blocking).
fn prepare(object: Object, policy: &PlaylistPolicy) -> io::Result<PreparedPlaylist> {
    let Object { meta, body } = object;
    let identity = body.read_all_blocking(meta.len)?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(identity.len() / 3 + 64),
        flate2::Compression::default(),
    );
    encoder.write_all(&identity)?;
    let gzip = Bytes::from(encoder.finish()?);
    let class = classify_playlist(&identity);
    let cache_control = policy.cache_control_for(class);
    let reuse_for = match class {
        PlaylistClass::Ended | PlaylistClass::Multivariant => reuse_window(&cache_control),
        PlaylistClass::Live { .. } => None,
    };
    Ok(PreparedPlaylist {
        gzip_etag: variant_etag(&meta.etag, "-gz"),
        cache_control,
        reuse_for,
        source_etag: meta.etag,
        identity,
        gzip,
        modified: meta.modified,
        last_modified: meta.modified.and_then(http_date),
        signed: Default::default(),
    })
}

/// [`PLAYLIST_REVALIDATE`], cut to the `max-age` of `cache_control`; `None` when that does
/// not allow caching at all (`no-cache`, `no-store`, `private`, no or zero `max-age`).
fn reuse_window(cache_control: &HeaderValue) -> Option<Duration> {
    let value = cache_control.to_str().ok()?.to_ascii_lowercase();
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        match directive {
            "no-cache" | "no-store" | "private" => return None,
            d => {
                if let Some(n) = d.strip_prefix("max-age=") {
                    max_age = n.trim_matches('"').parse::<u64>().ok();
                }
            }
        }
    }
    let secs = max_age.filter(|&n| n > 0)?;
    Some(PLAYLIST_REVALIDATE.min(Duration::from_secs(secs)))
}

/// The ETag of another encoding of the same content: `"x"` → `"x-gz"` (strong validators
/// must differ between representations, RFC 9110 8.8.3).
fn variant_etag(etag: &HeaderValue, suffix: &str) -> HeaderValue {
    let bytes = etag.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().saturating_add(suffix.len()));
    match bytes.strip_suffix(b"\"") {
        Some(open) => {
            out.extend_from_slice(open);
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'"');
        }
        None => {
            out.extend_from_slice(bytes);
            out.extend_from_slice(suffix.as_bytes());
        }
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| etag.clone())
}

fn http_date(t: SystemTime) -> Option<HeaderValue> {
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()
}

/// Everything about one representation that the response head needs.
struct Representation {
    etag: HeaderValue,
    modified: Option<SystemTime>,
    last_modified: Option<HeaderValue>,
    len: u64,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    gzip: bool,
    vary: bool,
}

impl Representation {
    /// Evaluates preconditions and `Range`, then builds the response; `head` leaves the body
    /// out but keeps `Content-Length` as for GET.
    fn respond(self, req: &HeaderMap, head: bool, body: ObjectBody) -> Response {
        let mut headers = HeaderMap::with_capacity(12);
        headers.insert(ETAG, self.etag.clone());
        if let Some(lm) = self.last_modified {
            headers.insert(LAST_MODIFIED, lm);
        }
        headers.insert(CACHE_CONTROL, self.cache_control);
        if self.vary {
            headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        match evaluate(req, &self.etag, self.modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty())
            }
            Precondition::Failed => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                return with_headers(StatusCode::PRECONDITION_FAILED, headers, Body::empty());
            }
        }
        if self.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        } else {
            headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        let range = match req.get(RANGE) {
            Some(value) if !self.gzip && if_range_allows(req, &self.etag, self.modified) => {
                parse_range(value.as_bytes(), self.len)
            }
            _ => ByteRange::Full,
        };
        let (status, start, count) = match range {
            ByteRange::Full => (StatusCode::OK, 0, self.len),
            ByteRange::Partial { start, end } => {
                let count = end.saturating_sub(start).saturating_add(1);
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", self.len)) {
                    headers.insert(CONTENT_RANGE, v);
                }
                (StatusCode::PARTIAL_CONTENT, start, count)
            }
            ByteRange::Unsatisfiable => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", self.len)) {
                    headers.insert(CONTENT_RANGE, v);
                }
                headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                return with_headers(StatusCode::RANGE_NOT_SATISFIABLE, headers, Body::empty());
            }
        };
        headers.insert(CONTENT_TYPE, self.content_type);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(count));
        let body = if head {
            Body::empty()
        } else {
            body.into_body(start, count)
        };
        with_headers(status, headers, body)
    }
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A short text/plain response (errors, health).
/// A 200 response of `body` with a fixed Content-Type and Cache-Control (the built-in pages,
/// the stream list, metrics, the embedded assets).
pub(crate) fn typed(
    body: impl Into<Body>,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut res = Response::new(body.into());
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    res
}

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// 404 for everything that must look absent, 503 when storage is unavailable, 500 (logged)
/// for real I/O failures.
fn io_error(path: &ObjectPath, e: &io::Error) -> Response {
    use io::ErrorKind::*;
    if let Some(r) = crate::jit::refusal(e) {
        // Just-in-time packaging: 415/422 with the packager's error line, 503 for a file
        // that changed while being read.
        let mut res = plain(StatusCode::INTERNAL_SERVER_ERROR, "");
        *res.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        *res.body_mut() = Body::from(format!("{}\n", r.reason));
        return res;
    }
    if crate::source::is_unavailable(e) {
        // Object storage is down or slow: retry soon, never a cacheable "gone".
        return plain(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n");
    }
    match e.kind() {
        NotFound | NotADirectory | IsADirectory | InvalidFilename | InvalidInput
        | PermissionDenied => not_found(),
        _ => {
            tracing::warn!(path = path.as_str(), error = %e, "cannot read object");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_etags() {
        let v = |s: &'static str| variant_etag(&HeaderValue::from_static(s), "-gz");
        assert_eq!(v("\"abc\""), "\"abc-gz\"");
        assert_eq!(v("W/\"abc\""), "W/\"abc-gz\"");
        assert_eq!(v("abc"), "abc-gz");
    }

    fn prepared(etag: &'static str, reuse_for: Option<Duration>) -> Arc<PreparedPlaylist> {
        Arc::new(PreparedPlaylist {
            source_etag: HeaderValue::from_static(etag),
            identity: Bytes::new(),
            gzip: Bytes::new(),
            gzip_etag: HeaderValue::from_static("\"g\""),
            modified: None,
            last_modified: None,
            cache_control: HeaderValue::from_static("public, max-age=60"),
            reuse_for,
            signed: Default::default(),
        })
    }

    #[test]
    fn recent_playlists_skip_the_source_only_within_their_window() {
        let cache = PlaylistCache::default();
        let vod = ObjectPath::from_request_path("/a/vod.m3u8").unwrap();
        let live = ObjectPath::from_request_path("/a/live.m3u8").unwrap();
        let v1 = HeaderValue::from_static("\"v1\"");
        let put = |path: &ObjectPath, p: Arc<PreparedPlaylist>| {
            let version = cache.version(path, &p.source_etag);
            version.prepared.set(p).unwrap();
        };
        assert!(cache.recent(&vod).is_none(), "nothing prepared yet");
        put(&vod, prepared("\"v1\"", Some(Duration::from_millis(200))));
        put(&live, prepared("\"l1\"", None));
        assert!(cache.recent(&vod).is_some());
        assert!(
            cache.recent(&live).is_none(),
            "live playlists always ask the source"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.recent(&vod).is_none(), "window over");
        // The source confirms the same version: the window starts again.
        assert!(cache.version(&vod, &v1).prepared.initialized());
        assert!(cache.recent(&vod).is_some());
        // A new version is not the prepared old one, and it is what the source confirmed
        // last: nothing is served without asking until it is prepared.
        let v2 = cache.version(&vod, &HeaderValue::from_static("\"v2\""));
        assert!(!v2.prepared.initialized());
        assert!(cache.recent(&vod).is_none());
    }

    #[test]
    fn versions_per_path_are_bounded_and_shared() {
        let cache = PlaylistCache::default();
        let path = ObjectPath::from_request_path("/a/live.m3u8").unwrap();
        let etag = |n: usize| HeaderValue::from_str(&format!("\"e{n}\"")).unwrap();
        let first = cache.version(&path, &etag(0));
        assert!(Arc::ptr_eq(&first, &cache.version(&path, &etag(0))));
        for n in 1..=VERSIONS_PER_PATH {
            let _ = cache.version(&path, &etag(n));
        }
        // e0 was pushed out by VERSIONS_PER_PATH newer versions: a fresh slot now.
        assert!(!Arc::ptr_eq(&first, &cache.version(&path, &etag(0))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_prepare_a_version_once() {
        let cache = Arc::new(PlaylistCache::default());
        let metrics = Arc::new(Metrics::default());
        let policy = PlaylistPolicy {
            vod: HeaderValue::from_static("public, max-age=60"),
            live_max_age: None,
        };
        let path = ObjectPath::from_request_path("/a/live.m3u8").unwrap();
        let text = Bytes::from_static(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n");
        let etag = HeaderValue::from_static("\"x\"");
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (cache, metrics, policy, path, etag) = (
                    Arc::clone(&cache),
                    Arc::clone(&metrics),
                    policy.clone(),
                    path.clone(),
                    etag.clone(),
                );
                let object = Object {
                    meta: crate::source::ObjectMeta {
                        len: text.len() as u64,
                        modified: None,
                        etag: etag.clone(),
                    },
                    body: ObjectBody::Memory(text.clone()),
                };
                tokio::spawn(async move {
                    let version = cache.version(&path, &etag);
                    version.prepare(object, &policy, &metrics).await.unwrap()
                })
            })
            .collect();
        for t in tasks {
            let p = t.await.unwrap();
            assert_eq!(p.identity, text);
        }
        assert_eq!(metrics.gzip_compressions(), 1);
    }

    #[test]
    fn reuse_windows() {
        let w = |s: &'static str| reuse_window(&HeaderValue::from_static(s));
        let cases: &[(&str, Option<Duration>)] = &[
            ("public, max-age=60", Some(PLAYLIST_REVALIDATE)),
            ("max-age=60, immutable", Some(PLAYLIST_REVALIDATE)),
            ("Public, Max-Age=0", None),
            ("public, max-age=60, no-cache", None),
            ("no-store", None),
            ("private, max-age=60", None),
            ("public", None),
            ("max-age=x", None),
        ];
        for (value, want) in cases {
            assert_eq!(w(value), *want, "{value}");
        }
    }

    #[test]
    fn playlist_cache_control() {
        let policy = PlaylistPolicy {
            vod: HeaderValue::from_static("public, max-age=60"),
            live_max_age: None,
        };
        let cases: &[(&str, &str)] = &[
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n",
                "public, max-age=3",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n",
                "public, max-age=60",
            ),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
                "public, max-age=60",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(policy.cache_control(text.as_bytes()), *want, "{text:?}");
        }
    }
}
