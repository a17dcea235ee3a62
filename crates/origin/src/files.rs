// SPDX-License-Identifier: MIT OR Apache-2.0
//! Serving objects under the root: method and path checks, playlist preparation (gzip,
//! cache lifetime) and one response builder for conditionals, ranges and headers.
//!
//! Playlists are read whole, classified ([`crate::policy::classify_playlist`]) and gzipped
//! once per version (source ETag); the result is kept in a small per-path cache, so a
//! playlist request costs one `open`+`fstat` and no read while the playlist is unchanged.
//! Playlists are gzip-encoded whenever `Accept-Encoding` allows (Apple HLS authoring spec
//! 10.1) and always carry `Vary: Accept-Encoding`; a request with `Range` gets the identity
//! encoding (ranges of a gzip stream are useless to players). Segments are never compressed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

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
use tokio::task::JoinHandle;

use crate::conditional::{
    accepts_gzip, evaluate, if_range_allows, parse_range, ByteRange, Precondition,
};
use crate::path::{ObjectPath, PathError};
use crate::policy::{classify, classify_playlist, live_max_age, PlaylistClass, RouteKind};
use crate::reload::{open_playlist, PlaylistError};
use crate::router::AppState;
use crate::source::{Object, ObjectBody, ObjectSource};

/// Playlists larger than this are streamed like any other file (no gzip, `no-cache`).
const MAX_PLAYLIST_BYTES: u64 = 16 * 1024 * 1024;
/// Entries in the prepared-playlist cache before it is emptied and refilled.
const PLAYLIST_CACHE_ENTRIES: usize = 4096;

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
}

/// Prepared playlists by object path; an entry is valid while the source ETag is unchanged.
#[derive(Debug, Default)]
pub(crate) struct PlaylistCache {
    map: Mutex<HashMap<String, Arc<PreparedPlaylist>>>,
}

impl PlaylistCache {
    fn get(&self, path: &ObjectPath, etag: &HeaderValue) -> Option<Arc<PreparedPlaylist>> {
        let map = self.map.lock().ok()?;
        map.get(path.as_str())
            .filter(|p| p.source_etag == etag)
            .cloned()
    }

    fn put(&self, path: &ObjectPath, prepared: Arc<PreparedPlaylist>) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= PLAYLIST_CACHE_ENTRIES && !map.contains_key(path.as_str()) {
                map.clear();
            }
            map.insert(path.as_str().to_owned(), prepared);
        }
    }
}

/// How playlists get their `Cache-Control`.
#[derive(Debug, Clone)]
pub(crate) struct PlaylistPolicy {
    pub(crate) vod: HeaderValue,
    pub(crate) live_max_age: Option<u32>,
}

impl PlaylistPolicy {
    fn cache_control(&self, text: &[u8]) -> HeaderValue {
        match classify_playlist(text) {
            PlaylistClass::Ended | PlaylistClass::Multivariant => self.vod.clone(),
            PlaylistClass::Live { target_duration } => {
                let n = live_max_age(target_duration, self.live_max_age);
                HeaderValue::from_str(&format!("public, max-age={n}"))
                    .unwrap_or(HeaderValue::from_static("no-cache"))
            }
        }
    }
}

/// Answers a request for an object under the root (the router's fallback).
pub(crate) async fn serve_object<S: ObjectSource>(state: &AppState<S>, req: Request) -> Response {
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
        return serve_playlist(state, &path, &req, content_type, head).await;
    }
    let object = match state.source.open(&path).await {
        Ok(o) => o,
        Err(e) => return io_error(&path, &e),
    };
    let cache_control = match kind {
        RouteKind::Segment | RouteKind::Init => state.headers.cache_segment.clone(),
        _ => state.headers.cache_other.clone(),
    };
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
    req: &Parts,
    content_type: HeaderValue,
    head: bool,
) -> Response {
    let (object, blocking_cache_control) =
        match open_playlist(&state.source, path, req.uri.query()).await {
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
    let prepared = match state.playlists.get(path, &object.meta.etag) {
        Some(p) => p,
        None => {
            let policy = state.playlist_policy.clone();
            let prepared = tokio::task::spawn_blocking(move || prepare(object, &policy))
                .await
                .map_err(io::Error::other)
                .and_then(|r| r);
            match prepared {
                Ok(p) => {
                    let p = Arc::new(p);
                    state.playlists.put(path, Arc::clone(&p));
                    p
                }
                Err(e) => return io_error(path, &e),
            }
        }
    };
    let gzip = !req.headers.contains_key(RANGE) && accepts_gzip(&req.headers);
    let (etag, bytes) = if gzip {
        (prepared.gzip_etag.clone(), prepared.gzip.clone())
    } else {
        (prepared.source_etag.clone(), prepared.identity.clone())
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
    Ok(PreparedPlaylist {
        gzip_etag: variant_etag(&meta.etag, "-gz"),
        cache_control: policy.cache_control(&identity),
        source_etag: meta.etag,
        identity,
        gzip,
        modified: meta.modified,
        last_modified: meta.modified.and_then(http_date),
    })
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
        let body = match body {
            _ if head => Body::empty(),
            ObjectBody::File(file) => file_body(file, start, count),
            memory => memory.into_body(start, count),
        };
        with_headers(status, headers, body)
    }
}

/// Bytes per blocking read of a file body. Measured on a 6 MB segment (BENCHMARKS.md): 64 KiB
/// costs ~40% more CPU per response than 256 KiB (one blocking-pool round trip per chunk), 1 MiB
/// ~10% less but triples the memory of a busy connection (hyper queues a chunk ahead of the
/// socket while the next is read).
const FILE_CHUNK: u64 = 256 * 1024;

/// A response body of `len` bytes of `file` from `start`, read in [`FILE_CHUNK`] pieces on the
/// blocking pool; the next piece is read while the previous one is being sent. Same as
/// `ObjectBody::into_body` for files, minus the zero-filling of every chunk buffer before the
/// read overwrites it (~8% of the CPU time of serving a segment).
fn file_body(file: File, start: u64, len: u64) -> Body {
    let first = (len > 0).then(|| spawn_chunk(file, Some(start), len));
    Body::from_stream(futures_util::stream::unfold(first, |pending| async move {
        let (file, remaining, result) = match pending?.await {
            Ok(done) => done,
            Err(join) => return Some((Err(io::Error::other(join)), None)),
        };
        match result {
            Ok(chunk) => {
                let next = (remaining > 0).then(|| spawn_chunk(file, None, remaining));
                Some((Ok(chunk), next))
            }
            Err(e) => Some((Err(e), None)),
        }
    }))
}

type ChunkDone = (File, u64, io::Result<Bytes>);

/// Reads the next chunk (at `seek` first, if given); yields the file back with the byte count
/// still to read after this chunk.
fn spawn_chunk(mut file: File, seek: Option<u64>, remaining: u64) -> JoinHandle<ChunkDone> {
    tokio::task::spawn_blocking(move || {
        let n = remaining.min(FILE_CHUNK);
        let result = read_chunk(&mut file, seek, n);
        (file, remaining.saturating_sub(n), result)
    })
}

fn read_chunk(file: &mut File, seek: Option<u64>, n: u64) -> io::Result<Bytes> {
    if let Some(pos) = seek {
        file.seek(SeekFrom::Start(pos))?;
    }
    // Into reserved capacity: no zero-filling of a buffer the read overwrites anyway.
    let mut buf = Vec::with_capacity(usize::try_from(n).map_err(io::Error::other)?);
    file.take(n).read_to_end(&mut buf)?;
    if (buf.len() as u64) < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shorter than its length when opened",
        ));
    }
    Ok(Bytes::from(buf))
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A short text/plain response (errors, health).
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

/// 404 for everything that must look absent, 500 (logged) for real I/O failures.
fn io_error(path: &ObjectPath, e: &io::Error) -> Response {
    use io::ErrorKind::*;
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

    #[tokio::test]
    async fn file_bodies_are_the_requested_range() {
        use http_body_util::BodyExt;
        let path = std::env::temp_dir().join(format!("origin-file-body-{}", std::process::id()));
        let data: Vec<u8> = (0..FILE_CHUNK as usize * 2 + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let len = data.len() as u64;
        // (start, count): empty, inside one chunk, across chunk boundaries, the whole file.
        for (start, count) in [
            (0, 0),
            (5, 10),
            (100, FILE_CHUNK + 7),
            (0, len),
            (len - 1, 1),
        ] {
            let body = file_body(File::open(&path).unwrap(), start, count);
            let got = body.collect().await.unwrap().to_bytes();
            let (s, c) = (start as usize, count as usize);
            assert_eq!(&got[..], &data[s..s + c], "start {start} count {count}");
        }
        // The file shrank after it was opened: the body ends with an error, not short.
        let body = file_body(File::open(&path).unwrap(), 0, len + 10);
        assert!(body.collect().await.is_err());
        let _ = std::fs::remove_file(&path);
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
