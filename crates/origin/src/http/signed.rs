// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signed URLs at the edge: the gate in front of the objects under the root, the token
//! added to the playlists it opens, `/metrics` behind `--metrics-token`, and which streams
//! the listings show. The token rules themselves are [`crate::signing`] (sans-IO).
//!
//! - A path under a protected prefix needs a `token` that verifies for it; anything else is
//!   403 with `Cache-Control: no-store` (never cached by a CDN) and the reason in the body,
//!   counted by reason in `/metrics`.
//! - A request with a valid token gets playlists whose URIs carry it
//!   ([`crate::signing::rewrite`]). The rewritten bodies (identity and gzip) are made once per
//!   playlist version and token and kept with the version ([`TokenBodies`]), so the
//!   gzip-once-per-version cache and LL-HLS blocking reloads work as without signing: a
//!   released blocking request rewrites the version it waited for, the ETag is the version's
//!   plus a digest of the token.
//! - The client address of address-bound tokens is the connection's peer ([`ClientAddr`]).

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::metrics::Metrics;
use crate::path::ObjectPath;
use crate::signing::{rewrite::rewrite_playlist, token_of, Denied, Policy, Token, Visibility};

/// The peer address of the connection a request came on (set by the accept loop).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// Tokens whose rewritten bodies one playlist version keeps; then it starts over.
const TOKENS_PER_VERSION: usize = 1024;
/// Bytes of rewritten bodies (identity + gzip) one playlist version keeps; then it starts
/// over (a per-viewer token on a large VOD playlist must not grow memory without bound).
const BYTES_PER_VERSION: usize = 4 << 20;

/// Unix seconds now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn client(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().map(|c| c.0.ip())
}

/// Checks a request for an object under the root: `Ok(Some(token))` when it carries a token
/// valid for its path (its playlists get rewritten), `Ok(None)` when it needs none, why it
/// is refused otherwise ([`denied`] answers it).
pub(crate) fn gate(policy: Option<&Policy>, req: &Request) -> Result<Option<String>, Denied> {
    let Some(policy) = policy else {
        return Ok(None);
    };
    // Paths that are refused anyway (400/404) are left to the file service.
    let Ok(path) = ObjectPath::from_request_path(req.uri().path()) else {
        return Ok(None);
    };
    // The request path as is when it is already the object path (no copy), else normalised.
    let raw = req.uri().path();
    let normalised;
    let path = if raw.strip_prefix('/') == Some(path.as_str()) {
        raw
    } else {
        normalised = format!("/{}", path.as_str());
        normalised.as_str()
    };
    let token = token_of(req.uri().query());
    let verified = token
        .as_deref()
        .map(|t| policy.signer.check(t, path, now(), client(req)));
    match (policy.protects(path), verified) {
        (_, Some(Ok(_))) => Ok(token.map(std::borrow::Cow::into_owned)),
        (false, _) => Ok(None),
        (true, None) => Err(Denied::Missing),
        (true, Some(Err(why))) => Err(why),
    }
}

/// The 403 for `why`, counted.
pub(crate) fn denied(metrics: &Metrics, why: Denied) -> Response {
    metrics.signed_denied(why);
    let mut res = Response::new(Body::from(why.reason()));
    *res.status_mut() = StatusCode::FORBIDDEN;
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// What the listings (`/api/streams`, `/api/events`) may show this request: every stream
/// without signing; else unprotected ones and those its token (current, genuine, any path)
/// opens.
pub(crate) fn visibility(policy: Option<&Policy>, req: &Request) -> Option<Visibility> {
    let policy = policy?;
    let grant: Option<Token> = token_of(req.uri().query())
        .and_then(|t| policy.signer.authentic(&t, client(req)).ok())
        .filter(|t| now() <= t.expires.saturating_add(crate::signing::SKEW_SECS));
    Some(policy.visibility(grant.as_ref()))
}

/// `/metrics` with `--metrics-token`: `Authorization: Bearer TOKEN` or `?token=TOKEN`.
pub(crate) fn metrics_allowed(want: &str, req: &Request) -> bool {
    let bearer = bearer(req.headers());
    let query = token_of(req.uri().query());
    let ok = [bearer.as_deref(), query.as_deref()]
        .into_iter()
        .flatten()
        .any(|given| constant_time_eq(given.as_bytes(), want.as_bytes()));
    ok
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Compares without an early exit on the first differing byte (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A playlist version rewritten for one token.
#[derive(Debug)]
pub(crate) struct Bodies {
    pub(crate) identity: Bytes,
    pub(crate) gzip: Bytes,
    pub(crate) etag: HeaderValue,
    pub(crate) gzip_etag: HeaderValue,
}

/// The rewritten bodies of one playlist version, by token, and their bytes. Every signed
/// request of the version reads it and only a new token writes, hence the read-write lock.
#[derive(Debug, Default)]
pub(crate) struct TokenBodies {
    /// Keys are tokens that verified (nobody without a secret can choose colliding ones): the
    /// fast unkeyed hash is safe.
    map: RwLock<(rustc_hash::FxHashMap<String, Arc<Bodies>>, usize)>,
}

impl TokenBodies {
    /// `identity` (the version's text, ETag `etag`) with `token` on its URIs, made on first
    /// use; `None` when the playlist is not UTF-8 (then it is served as it is).
    pub(crate) fn get(
        &self,
        token: &str,
        identity: &[u8],
        etag: &HeaderValue,
        variant_etag: fn(&HeaderValue, &str) -> HeaderValue,
    ) -> Option<Arc<Bodies>> {
        let held = self.map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = held.0.get(token) {
            return Some(Arc::clone(b));
        }
        drop(held);
        let text = rewrite_playlist(identity, token)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        token.hash(&mut h);
        let suffix = format!("-t{:016x}", h.finish());
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(text.len() / 3 + 64),
            flate2::Compression::default(),
        );
        encoder.write_all(text.as_bytes()).ok()?;
        let bodies = Arc::new(Bodies {
            gzip: Bytes::from(encoder.finish().ok()?),
            identity: Bytes::from(text),
            etag: variant_etag(etag, &suffix),
            gzip_etag: variant_etag(etag, &format!("{suffix}-gz")),
        });
        let size = bodies.identity.len() + bodies.gzip.len();
        let mut guard = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let (map, bytes) = &mut *guard;
        if map.len() >= TOKENS_PER_VERSION || bytes.saturating_add(size) > BYTES_PER_VERSION {
            map.clear();
            *bytes = 0;
        }
        map.insert(token.to_owned(), Arc::clone(&bodies));
        *bytes = bytes.saturating_add(size);
        Some(bodies)
    }
}

/// Counter of refused requests by reason, for [`Metrics`].
#[derive(Debug, Default)]
pub(crate) struct SignedStats {
    pub(crate) denied: [std::sync::atomic::AtomicU64; Denied::ALL.len()],
}

impl SignedStats {
    pub(crate) fn add(&self, why: Denied) {
        if let Some(c) = self.denied.get(why as usize) {
            c.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etag(e: &HeaderValue, suffix: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("{}{suffix}", e.to_str().unwrap())).unwrap()
    }

    #[test]
    fn token_bodies_are_shared_and_bounded() {
        let bodies = TokenBodies::default();
        let text = b"#EXTM3U\n#EXTINF:2,\ns.ts\n";
        let e = HeaderValue::from_static("v1");
        let a = bodies.get("A", text, &e, etag).unwrap();
        assert_eq!(&a.identity[..], b"#EXTM3U\n#EXTINF:2,\ns.ts?token=A\n");
        assert!(Arc::ptr_eq(&a, &bodies.get("A", text, &e, etag).unwrap()));
        let b = bodies.get("B", text, &e, etag).unwrap();
        assert_ne!(a.etag, b.etag);
        assert_ne!(b.etag, b.gzip_etag);
        // Past the token bound the map starts over: A is made again.
        for n in 0..TOKENS_PER_VERSION {
            bodies.get(&n.to_string(), text, &e, etag).unwrap();
        }
        assert!(!Arc::ptr_eq(&a, &bodies.get("A", text, &e, etag).unwrap()));
        let held = bodies.map.read().unwrap();
        assert!(held.0.len() <= TOKENS_PER_VERSION && held.1 <= BYTES_PER_VERSION);
        drop(held);
        assert!(
            bodies.get("A", b"\xff", &e, etag).is_some(),
            "cached under A"
        );
        assert!(bodies.get("C", b"\xff", &e, etag).is_none(), "not UTF-8");
    }

    #[test]
    fn metrics_token_sources() {
        let req = |auth: Option<&str>, uri: &str| {
            let mut b = axum::http::Request::builder().uri(uri);
            if let Some(a) = auth {
                b = b.header(AUTHORIZATION, a);
            }
            b.body(Body::empty()).unwrap()
        };
        let cases = [
            (None, "/metrics", false),
            (Some("Bearer k3y"), "/metrics", true),
            (Some("bearer  k3y "), "/metrics", true),
            (Some("Bearer k3"), "/metrics", false),
            (Some("Basic k3y"), "/metrics", false),
            (None, "/metrics?token=k3y", true),
            (None, "/metrics?token=k3yy", false),
            (Some("Bearer no"), "/metrics?token=k3y", true),
        ];
        for (auth, uri, want) in cases {
            assert_eq!(
                metrics_allowed("k3y", &req(auth, uri)),
                want,
                "{auth:?} {uri}"
            );
        }
    }
}
