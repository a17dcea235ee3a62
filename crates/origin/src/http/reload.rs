// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one door every playlist request goes through: `open_playlist`.
//!
//! It validates the LL-HLS delivery directives (RFC 8216bis 6.2.5) and, when the source knows
//! the playlist as live ([`crate::live`]), decides with `media::live::check_blocking_request`:
//! answer now, hold the request until media sequence number `_HLS_msn` (and part
//! `_HLS_part`) exists, 400 for impossible requests, 503 after three target durations
//! (6.2.5.2). Directives are ignored once `#EXT-X-ENDLIST` is present. The answer is always
//! the full playlist, or the Playlist Delta Update `_HLS_skip=YES|v2` asks for (6.2.5.1)
//! when the packager publishes one.
//!
//! Caching: a response to a blocking request is keyed (by a CDN that includes the query in
//! its cache key, as it must for LL-HLS) by the segment or part it waited for, and any later
//! answer to the same URL holds at least that much; it is therefore cacheable for
//! [`BLOCKING_MAX_AGE_TARGETS`] target durations (`public`), while the plain playlist URL
//! keeps the short live lifetime of `http::policy`.

use std::hash::{Hash, Hasher};
use std::io;

use axum::http::request::Parts;
use axum::http::HeaderValue;
use bytes::Bytes;
use media::live::{check_blocking_request, BlockDecision};
use tokio::time::Instant;

use crate::live::{Receiver, Snapshot};
use crate::path::ObjectPath;
use crate::source::{Object, ObjectBody, ObjectMeta, ObjectSource};

/// `max-age` of a blocking response, in target durations.
pub const BLOCKING_MAX_AGE_TARGETS: u64 = 3;

/// Delivery directives of a playlist request (RFC 8216bis 6.2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    /// `_HLS_msn`: the media sequence number the client waits for.
    pub msn: Option<u64>,
    /// `_HLS_part`: the part index within `msn` (only together with `msn`).
    pub part: Option<u64>,
    /// `_HLS_skip`: `YES` (skip segments) or `v2` (also skip date ranges) — a delta update.
    pub skip: Option<Skip>,
}

/// The `_HLS_skip` value (RFC 8216bis 6.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Yes,
    V2,
}

/// Why a playlist request failed.
#[derive(Debug)]
pub(crate) enum PlaylistError {
    /// Malformed or impossible directives: 400 (RFC 8216bis 6.2.5.2).
    BadDirectives(&'static str),
    /// Blocked for three target durations without the segment or part appearing: 503
    /// (6.2.5.2).
    Unavailable,
    /// The source failed (not found → 404, else 500).
    Io(io::Error),
}

impl Directives {
    /// Parses the directives out of a query string; other parameters are ignored.
    pub fn parse(query: Option<&str>) -> Result<Self, &'static str> {
        let mut d = Directives::default();
        let Some(query) = query else { return Ok(d) };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "_HLS_msn" => {
                    d.msn = Some(
                        value
                            .parse()
                            .map_err(|_| "_HLS_msn is not a decimal integer")?,
                    )
                }
                "_HLS_part" => {
                    d.part = Some(
                        value
                            .parse()
                            .map_err(|_| "_HLS_part is not a decimal integer")?,
                    )
                }
                "_HLS_skip" => {
                    d.skip = Some(match value {
                        "YES" => Skip::Yes,
                        "v2" => Skip::V2,
                        _ => return Err("_HLS_skip must be YES or v2"),
                    })
                }
                _ => {}
            }
        }
        // 6.2.5.2: "_HLS_part without _HLS_msn" is a 400.
        if d.part.is_some() && d.msn.is_none() {
            return Err("_HLS_part requires _HLS_msn");
        }
        Ok(d)
    }

    /// Whether the request asks to block until a segment or part exists.
    pub fn is_blocking(&self) -> bool {
        self.msn.is_some()
    }
}

/// An opened playlist and, for blocking responses, the `Cache-Control` to send instead of
/// the playlist's own.
#[derive(Debug)]
pub(crate) struct OpenedPlaylist {
    pub(crate) object: Object,
    pub(crate) cache_control: Option<HeaderValue>,
}

impl Skip {
    fn as_str(self) -> &'static str {
        match self {
            Skip::Yes => "YES",
            Skip::V2 => "v2",
        }
    }
}

/// A blocking reload its connection held before hyper saw it (`http/hold.rs`): when its wait
/// ends, which the handler keeps (its 503 comes no later than the held wait's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeldReload {
    deadline: Instant,
}

/// Waits as a blocking reload of the live playlist `path` with `query` would (until its
/// directives are met or refused, or its time is up); `None` when `path` is not a live
/// playlist or `query` does not block.
pub(crate) async fn hold<S: ObjectSource>(
    source: &S,
    path: &ObjectPath,
    query: Option<&str>,
) -> Option<HeldReload> {
    let directives = Directives::parse(query)
        .ok()
        .filter(Directives::is_blocking)?;
    let mut rx = source.live()?.subscribe(path, true).await?;
    let deadline = Instant::now() + rx.borrow().block_timeout();
    // Met, refused or timed out: the handler finds out again, at once.
    let _ = wait(&mut rx, &directives, Some(deadline)).await;
    Some(HeldReload { deadline })
}

/// Opens a playlist for a request with the given query string, holding it while a blocking
/// reload waits (see the module docs); `held`: the request already waited (until its deadline
/// at most).
pub(crate) async fn open_playlist<S: ObjectSource>(
    source: &S,
    path: &ObjectPath,
    query: Option<&str>,
    held: Option<HeldReload>,
) -> Result<OpenedPlaylist, PlaylistError> {
    let directives = Directives::parse(query).map_err(PlaylistError::BadDirectives)?;
    let live = match source.live() {
        Some(live) => live.subscribe(path, directives.is_blocking()).await,
        None => None,
    };
    let Some(mut rx) = live else {
        let object = source.open(path).await.map_err(PlaylistError::Io)?;
        return Ok(OpenedPlaylist {
            object,
            cache_control: None,
        });
    };
    let snapshot = wait(&mut rx, &directives, held.map(|h| h.deadline)).await?;
    let state = &snapshot.state;
    let cache_control = (directives.is_blocking() && !state.ended && state.target_duration > 0)
        .then(|| blocking_cache_control(state.target_duration));
    let object = if snapshot.in_memory && !state.full.is_empty() {
        memory_object(&snapshot, directives.skip.map(Skip::as_str))
    } else {
        // Nothing published yet, or a file another process writes: the file is at least as
        // new as the state that released the request.
        source.open(path).await.map_err(PlaylistError::Io)?
    };
    Ok(OpenedPlaylist {
        object,
        cache_control,
    })
}

/// Holds the request until its directives are satisfied (6.2.5.2), at most until `deadline`
/// (by default the playlist's block timeout from the first wait).
async fn wait(
    rx: &mut Receiver,
    d: &Directives,
    deadline: Option<Instant>,
) -> Result<std::sync::Arc<Snapshot>, PlaylistError> {
    let skip = d.skip.map(Skip::as_str);
    let mut deadline = deadline;
    loop {
        let snapshot = std::sync::Arc::clone(&rx.borrow_and_update());
        // A playlist without EXT-X-PART-INF has no parts to wait for: `_HLS_part` is moot
        // and the request waits for the segment alone.
        let part = d.part.filter(|_| snapshot.state.part_target.is_some());
        match check_blocking_request(&snapshot.state, d.msn, part, skip) {
            BlockDecision::Ready => return Ok(snapshot),
            BlockDecision::BadRequest(why) => return Err(PlaylistError::BadDirectives(why)),
            BlockDecision::Wait => {}
        }
        let until = *deadline.get_or_insert_with(|| Instant::now() + snapshot.block_timeout());
        match tokio::time::timeout_at(until, rx.changed()).await {
            Ok(Ok(())) => {}
            // The packager is gone: what was published last is all there will be.
            Ok(Err(_)) => return Ok(snapshot),
            Err(_) => return Err(PlaylistError::Unavailable),
        }
    }
}

fn blocking_cache_control(target: u64) -> HeaderValue {
    let secs = target.saturating_mul(BLOCKING_MAX_AGE_TARGETS);
    HeaderValue::from_str(&format!("public, max-age={secs}"))
        .unwrap_or(HeaderValue::from_static("no-cache"))
}

/// A playlist answered from memory, with a strong ETag of its content (computed once per
/// body and snapshot).
fn memory_object(snapshot: &Snapshot, skip: Option<&str>) -> Object {
    let body = snapshot.state.body(skip);
    let which = usize::from(!std::ptr::eq(body, &snapshot.state.full));
    let etag = match snapshot.etags.get(which) {
        Some(cell) => cell.get_or_init(|| content_etag(body)).clone(),
        None => content_etag(body),
    };
    Object {
        meta: ObjectMeta {
            len: body.len() as u64,
            modified: snapshot.modified,
            etag,
        },
        body: ObjectBody::Memory(body.clone()),
    }
}

fn content_etag(body: &Bytes) -> HeaderValue {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    let tag = format!("\"m{:016x}-{:x}\"", h.finish(), body.len());
    // Hex digits, 'm', '-' and quotes: always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"m\""))
}

/// A copy of a request head that owns its bytes, for a request held a long time (a blocking
/// playlist reload, RFC 8216bis 6.2.5.2): the URI and header values hyper parses are views of
/// the connection's read buffer, which would otherwise stay allocated beside the one hyper
/// reserves for the next read (memory per parked request; BENCHMARKS.md 3.3). The extensions
/// are dropped (axum's `OriginalUri` is such a view too).
pub(crate) fn detached(req: Parts) -> Parts {
    let (mut owned, ()) = axum::http::Request::new(()).into_parts();
    owned.method = req.method;
    owned.version = req.version;
    owned.uri = axum::http::Uri::try_from(req.uri.to_string()).unwrap_or(req.uri);
    owned.headers = req
        .headers
        .iter()
        .map(|(name, value)| {
            // A value hyper took but `from_bytes` would not stays as it is (a view).
            let copy = HeaderValue::from_bytes(value.as_bytes()).map(|mut copy| {
                copy.set_sensitive(value.is_sensitive());
                copy
            });
            (name.clone(), copy.unwrap_or_else(|_| value.clone()))
        })
        .collect();
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_table() {
        let d = |msn, part, skip| Ok(Directives { msn, part, skip });
        let cases: &[(Option<&str>, Result<Directives, &str>)] = &[
            (None, d(None, None, None)),
            (Some(""), d(None, None, None)),
            (Some("a=1&b"), d(None, None, None)),
            (Some("_HLS_msn=12"), d(Some(12), None, None)),
            (Some("_HLS_msn=12&_HLS_part=3"), d(Some(12), Some(3), None)),
            (
                Some("_HLS_msn=12&_HLS_skip=YES"),
                d(Some(12), None, Some(Skip::Yes)),
            ),
            (Some("_HLS_skip=v2"), d(None, None, Some(Skip::V2))),
            (Some("_HLS_part=3"), Err("_HLS_part requires _HLS_msn")),
            (Some("_HLS_msn=x"), Err("_HLS_msn is not a decimal integer")),
            (
                Some("_HLS_msn=-1"),
                Err("_HLS_msn is not a decimal integer"),
            ),
            (
                Some("_HLS_msn=1&_HLS_part="),
                Err("_HLS_part is not a decimal integer"),
            ),
            (Some("_HLS_skip=no"), Err("_HLS_skip must be YES or v2")),
        ];
        for (query, want) in cases {
            assert_eq!(Directives::parse(*query), *want, "{query:?}");
        }
    }

    #[test]
    fn a_detached_head_owns_its_bytes_and_keeps_its_meaning() {
        // A head like hyper's: URI and values are views of one read buffer.
        const HEAD: &str =
            "/ll/stream.m3u8?_HLS_msn=5&_HLS_part=1&token=abc gzip, br \"v1\" secret";
        let buffer = Bytes::from_static(HEAD.as_bytes());
        let view = |text: &str| {
            let at = HEAD.find(text).expect("in the head");
            buffer.slice(at..at + text.len())
        };
        let mut req = axum::http::Request::builder()
            .method(axum::http::Method::GET)
            .version(axum::http::Version::HTTP_11)
            .body(())
            .expect("request")
            .into_parts()
            .0;
        let uri = view("/ll/stream.m3u8?_HLS_msn=5&_HLS_part=1&token=abc");
        req.uri = axum::http::Uri::from_maybe_shared(uri).expect("uri");
        let value = |text| HeaderValue::from_maybe_shared(view(text)).expect("value");
        req.headers.append("accept-encoding", value("gzip, br"));
        req.headers.append("if-none-match", value("\"v1\""));
        req.headers.append("x-many", value("gzip"));
        req.headers.append("x-many", value("br"));
        let mut secret = value("secret");
        secret.set_sensitive(true);
        req.headers.append("authorization", secret);
        req.extensions.insert(7u32);
        let want_headers = req.headers.clone();

        let owned = detached(req);
        assert_eq!(owned.method, axum::http::Method::GET);
        assert_eq!(owned.version, axum::http::Version::HTTP_11);
        assert_eq!(owned.uri.path(), "/ll/stream.m3u8");
        assert_eq!(owned.uri.query(), Some("_HLS_msn=5&_HLS_part=1&token=abc"));
        assert_eq!(owned.headers, want_headers);
        assert!(owned.headers["authorization"].is_sensitive());
        assert!(owned.extensions.get::<u32>().is_none());
        let inside = |p: *const u8| buffer.as_ptr_range().contains(&p);
        assert!(!inside(owned.uri.path().as_ptr()));
        for (name, v) in &owned.headers {
            assert!(
                !inside(v.as_bytes().as_ptr()),
                "{name} still a view of the buffer"
            );
        }
    }
}
